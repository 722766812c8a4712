import { EINVAL, iommuIotlbGatherInit, iommuPgsize, type IommuPgsizeOut } from '@gki/kernel';
import type { IommuIotlbGather } from '@gki/kernel';
import { ioPgtableOpsInfo } from './alloc.js';
import type { IoPgtableOps, MappedOut } from './types.js';

/**
 * Range helpers over one page table, doing what the kernel's iommu_map / iommu_unmap do with a
 * domain's io_pgtable_ops: split [iova, iova + size) into runs of the largest page size that
 * fits the length and the alignment of both addresses (iommu_pgsize, from `@gki/kernel`), and
 * call mapPages / unmapPages once per run, looping on what each call actually did (a format
 * maps at most to the end of one table per call).
 */

export interface RangeOptions {
  /**
   * The page sizes to use. Default: the table's own bitmap (the cfg its format completed, from
   * `ops.cfg` or the io-pgtable core's record of the table).
   */
  readonly pgsizeBitmap?: number;
}

export interface UnmapRangeOptions extends RangeOptions {
  /** Where the format gathers invalidations (tlbAddPage). Default: a fresh gather per call. */
  readonly gather?: IommuIotlbGather | null;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'object' || typeof v === 'function') return typeof v;
  return `${typeof v} ${String(v)}`;
}

function checkOps(fn: string, ops: unknown): asserts ops is IoPgtableOps {
  const o = ops as Partial<IoPgtableOps> | null;
  if (o === null || typeof o !== 'object' || typeof o.mapPages !== 'function' || typeof o.unmapPages !== 'function')
    throw new TypeError(`${fn}: ops must be io_pgtable_ops (an object with mapPages and unmapPages; got ${describe(ops)})`);
}

function checkNumber(fn: string, name: string, v: unknown): void {
  if (typeof v !== 'number') throw new TypeError(`${fn}: ${name} must be a number (got ${describe(v)})`);
}

/** The bitmap to split with, or throws TypeError when there is none to be found. */
function bitmapOf(fn: string, ops: IoPgtableOps, opts: RangeOptions | undefined): number {
  if (opts !== undefined && (opts === null || typeof opts !== 'object')) throw new TypeError(`${fn}: options must be an object (got ${describe(opts)})`);
  const given = opts?.pgsizeBitmap;
  if (given !== undefined) {
    checkNumber(fn, 'options.pgsizeBitmap', given);
    return given;
  }
  const own = (ops as { cfg?: { pgsizeBitmap?: unknown } }).cfg?.pgsizeBitmap;
  if (typeof own === 'number') return own;
  const info = ioPgtableOpsInfo(ops);
  if (info) return info.cfg.pgsizeBitmap;
  throw new TypeError(`${fn}: these ops carry no cfg; pass options.pgsizeBitmap`);
}

/** A non-negative integer below 2^53 that is a multiple of `min` (a power of two). */
function addrOk(x: number, min: number): boolean {
  return Number.isSafeInteger(x) && x >= 0 && x % min === 0;
}

/**
 * Maps [iova, iova + size) to [paddr, paddr + size) with `prot` (IOMMU_* flags), as iommu_map
 * does: 0, or a negative errno after unmapping whatever this call had mapped (the table is
 * left as it was). -EINVAL for a size of 0, addresses or size that are not non-negative
 * integers aligned to the smallest page size, a range past 2^53, or an empty bitmap; the
 * format's errno otherwise (-EEXIST over an existing mapping, -ERANGE beyond ias/oas,
 * -ENOMEM). TypeError for arguments of the wrong type.
 */
export function mapRange(ops: IoPgtableOps, iova: number, paddr: number, size: number, prot: number, opts?: RangeOptions): number {
  const fn = 'mapRange';
  checkOps(fn, ops);
  checkNumber(fn, 'iova', iova);
  checkNumber(fn, 'paddr', paddr);
  checkNumber(fn, 'size', size);
  checkNumber(fn, 'prot', prot);
  const bitmap = bitmapOf(fn, ops, opts);
  if (!(Number.isSafeInteger(bitmap) && bitmap > 0) || !Number.isInteger(prot)) return -EINVAL;
  const min = 2 ** lowestSetBit(bitmap);
  if (!addrOk(iova, min) || !addrOk(paddr, min) || !addrOk(size, min) || size === 0) return -EINVAL;
  if (!Number.isSafeInteger(iova + size) || !Number.isSafeInteger(paddr + size)) return -EINVAL;
  const out: IommuPgsizeOut = { pgsize: 0, count: 0 };
  const mapped: MappedOut = { mapped: 0 };
  let done = 0;
  let ret = 0;
  while (done < size) {
    iommuPgsize(bitmap, iova + done, paddr + done, size - done, out);
    if (out.pgsize <= 0) {
      ret = -EINVAL;
      break;
    }
    mapped.mapped = 0;
    ret = ops.mapPages(iova + done, paddr + done, out.pgsize, out.count, prot, mapped);
    done += mapped.mapped;
    if (ret < 0) break;
    if (mapped.mapped <= 0) {
      ret = -EINVAL; // a format making no progress without an error would loop forever
      break;
    }
  }
  if (ret < 0) {
    if (done > 0) unmapLoop(ops, bitmap, iova, done, iommuIotlbGatherInit());
    return ret;
  }
  return 0;
}

/**
 * Unmaps [iova, iova + size) as iommu_unmap does: runs of the largest page size that fits,
 * stopping at the first run the format cannot unmap (a hole, part of a larger block). Returns
 * the bytes unmapped (0 for a rejected call: misaligned, wrong range, nothing mapped at iova).
 * The format reports each removed leaf through cfg.tlb.tlbAddPage with `opts.gather` (or a
 * fresh gather); syncing the TLB afterwards is the caller's job, as iommu_iotlb_sync is.
 * TypeError for arguments of the wrong type.
 */
export function unmapRange(ops: IoPgtableOps, iova: number, size: number, opts?: UnmapRangeOptions): number {
  const fn = 'unmapRange';
  checkOps(fn, ops);
  checkNumber(fn, 'iova', iova);
  checkNumber(fn, 'size', size);
  const bitmap = bitmapOf(fn, ops, opts);
  const g = opts?.gather;
  if (g !== undefined && g !== null && typeof g !== 'object') throw new TypeError(`${fn}: options.gather must be an iotlb gather or null (got ${describe(g)})`);
  if (!(Number.isSafeInteger(bitmap) && bitmap > 0)) return 0;
  const min = 2 ** lowestSetBit(bitmap);
  if (!addrOk(iova, min) || !addrOk(size, min) || !Number.isSafeInteger(iova + size)) return 0;
  return unmapLoop(ops, bitmap, iova, size, g === undefined ? iommuIotlbGatherInit() : g);
}

function unmapLoop(ops: IoPgtableOps, bitmap: number, iova: number, size: number, gather: IommuIotlbGather | null): number {
  const out: IommuPgsizeOut = { pgsize: 0, count: 0 };
  let done = 0;
  while (done < size) {
    iommuPgsize(bitmap, iova + done, iova + done, size - done, out);
    if (out.pgsize <= 0) break;
    const n = ops.unmapPages(iova + done, out.pgsize, out.count, gather);
    if (!(n > 0)) break; // 0 or the kernel's (size_t)-errno for a hole
    done += n;
  }
  return done;
}

/** Index of the lowest set bit of a positive integer below 2^53. */
function lowestSetBit(x: number): number {
  let i = 0;
  let v = x;
  while (v % 2 === 0) {
    v /= 2;
    i++;
  }
  return i;
}
