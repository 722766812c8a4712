import { EINVAL, ENODEV } from '../errno.js';
import { iommuIsPagingDomain, type IommuDomain, type IommuIotlbGather, type IommuMappedOut } from './types.js';

/*
 * Address arithmetic on plain numbers: IOVAs, PAs and page-size bitmaps go up to 2^52, so the
 * bit tricks below split values into 32-bit halves or use division instead of `&`/`>>`.
 */

const TWO32 = 2 ** 32;

/** Index of the highest set bit of a positive integer < 2^53 (fls - 1). */
export function highestBit(x: number): number {
  const hi = Math.floor(x / TWO32);
  return hi > 0 ? 63 - Math.clz32(hi) : 31 - Math.clz32(x >>> 0);
}

/** Index of the lowest set bit of a positive integer < 2^53 (__ffs); 64 for 0. */
export function lowestBit(x: number): number {
  const lo = x % TWO32;
  if (lo !== 0) return 31 - Math.clz32(lo & -lo);
  const hi = Math.floor(x / TWO32);
  return hi === 0 ? 64 : 63 - Math.clz32(hi & -hi);
}

/** x with only bits 0..n kept (x & GENMASK(n, 0)). */
function keepLowBits(x: number, n: number): number {
  return n >= 52 ? x : x % 2 ** (n + 1);
}

/** The smallest page size in `bitmap`, or 0 for an empty bitmap. */
export function iommuMinPageSize(bitmap: number): number {
  return bitmap > 0 ? 2 ** lowestBit(bitmap) : 0;
}

/** Result of iommuPgsize (reuse one object per call site). */
export interface IommuPgsizeOut {
  pgsize: number;
  count: number;
}

/**
 * iommu_pgsize: the largest page size in `bitmap` that fits `size` and the alignment of both
 * `iova` and `paddr`, and how many pages of it to map in one go: all that fit, unless the
 * addresses can reach the alignment of the next larger size and at least one page of that
 * size fits after it, in which case only the pages up to that boundary. -EINVAL (in `pgsize`)
 * when no size fits.
 */
export function iommuPgsize(bitmap: number, iova: number, paddr: number, size: number, out: IommuPgsizeOut): IommuPgsizeOut {
  let sizes = keepLowBits(bitmap, highestBit(size));
  const mergeLow = Math.min(lowestBit(iova), lowestBit(paddr));
  if (mergeLow < 64) sizes = keepLowBits(sizes, mergeLow);
  if (sizes <= 0) {
    out.pgsize = -EINVAL;
    out.count = 0;
    return out;
  }
  const idx = highestBit(sizes);
  const pgsize = 2 ** idx;
  out.pgsize = pgsize;
  let span = size;
  const larger = bitmap - keepLowBits(bitmap, idx);
  if (larger > 0) {
    const next = 2 ** lowestBit(larger);
    if (iova % next === paddr % next) {
      const toBoundary = next - (iova % next);
      if (toBoundary + next <= size) span = toBoundary;
    }
  }
  out.count = Math.floor(span / pgsize);
  return out;
}

/** iommu_iotlb_gather_init: an empty gather. */
export function iommuIotlbGatherInit(): IommuIotlbGather {
  return { start: Number.MAX_SAFE_INTEGER, end: 0, pgsize: 0, queued: false };
}

/** True when the gather holds nothing. */
export function iommuIotlbGatherEmpty(g: IommuIotlbGather): boolean {
  return g.start > g.end;
}

/** iommu_iotlb_gather_add_range: widens the gathered range to cover [iova, iova + size). */
export function iommuIotlbGatherAddRange(g: IommuIotlbGather, iova: number, size: number): void {
  const end = iova + size - 1;
  if (iova < g.start) g.start = iova;
  if (end > g.end) g.end = end;
}

/**
 * iommu_iotlb_gather_add_page: like AddRange, but first syncs (through `domain`'s iotlbSync)
 * and restarts the gather when the page size changes or the page is not adjacent to it, so
 * one sync never invalidates a huge range for two distant pages.
 */
export function iommuIotlbGatherAddPage(domain: IommuDomain, g: IommuIotlbGather, iova: number, size: number): void {
  const empty = iommuIotlbGatherEmpty(g);
  const disjoint = !empty && (iova + size < g.start || iova > g.end + 1);
  if (!empty && (g.pgsize !== size || disjoint)) iommuIotlbSync(domain, g);
  g.pgsize = size;
  iommuIotlbGatherAddRange(g, iova, size);
}

/** Bytes a domain's map/unmap calls must be aligned to, or a negative errno. */
function mapGranule(domain: IommuDomain): number {
  if (!domain || !domain.ops || !iommuIsPagingDomain(domain.type)) return -EINVAL;
  if (!(domain.pgsizeBitmap > 0)) return -ENODEV;
  return iommuMinPageSize(domain.pgsizeBitmap);
}

function isAddr(x: number): boolean {
  return Number.isSafeInteger(x) && x >= 0;
}

/**
 * Unmaps [iova, iova + size) in page-size runs, feeding `gather`; bytes unmapped (stops at
 * the first run the driver cannot unmap).
 */
function unmapRange(domain: IommuDomain, iova: number, size: number, gather: IommuIotlbGather): number {
  const out: IommuPgsizeOut = { pgsize: 0, count: 0 };
  let done = 0;
  while (done < size) {
    iommuPgsize(domain.pgsizeBitmap, iova + done, iova + done, size - done, out);
    if (out.pgsize <= 0) break;
    const n = domain.ops.unmapPages(domain, iova + done, out.pgsize, out.count, gather);
    if (!(n > 0)) break;
    done += n;
  }
  return done;
}

/**
 * iommu_map: maps [iova, iova + size) to [paddr, paddr + size) with `prot`, in the largest
 * page sizes the domain allows (see iommuPgsize), one mapPages call per run of equal pages.
 * 0, or -EINVAL for an identity/blocked domain, addresses or size not aligned to the
 * smallest page size, or a range past 2^53; -ENODEV when the domain has no page sizes; the
 * driver's error otherwise, after unmapping (and syncing) whatever this call had mapped.
 */
export function iommuMap(domain: IommuDomain, iova: number, paddr: number, size: number, prot: number): number {
  const gran = mapGranule(domain);
  if (gran < 0) return gran;
  if (!isAddr(iova) || !isAddr(paddr) || !isAddr(size) || !Number.isInteger(prot)) return -EINVAL;
  if (!Number.isSafeInteger(iova + size) || !Number.isSafeInteger(paddr + size)) return -EINVAL;
  if (iova % gran !== 0 || paddr % gran !== 0 || size % gran !== 0) return -EINVAL;
  const out: IommuPgsizeOut = { pgsize: 0, count: 0 };
  const mapped: IommuMappedOut = { mapped: 0 };
  let done = 0;
  let ret = 0;
  while (done < size) {
    iommuPgsize(domain.pgsizeBitmap, iova + done, paddr + done, size - done, out);
    if (out.pgsize <= 0) {
      ret = out.pgsize;
      break;
    }
    mapped.mapped = 0;
    ret = domain.ops.mapPages(domain, iova + done, paddr + done, out.pgsize, out.count, prot, mapped);
    done += mapped.mapped;
    if (ret < 0) break;
    if (mapped.mapped <= 0) {
      ret = -EINVAL; // a driver making no progress without an error would loop forever
      break;
    }
  }
  if (ret < 0) {
    if (done > 0) {
      const g = iommuIotlbGatherInit();
      unmapRange(domain, iova, done, g);
      iommuIotlbSync(domain, g);
    }
    return ret;
  }
  return 0;
}

/**
 * iommu_unmap: unmaps [iova, iova + size) in page-size runs, collecting the invalidations in
 * one iotlb gather and syncing it once at the end. Returns the bytes unmapped: 0 for a
 * rejected call (misaligned, non-paging domain) or when nothing was mapped at `iova`.
 */
export function iommuUnmap(domain: IommuDomain, iova: number, size: number): number {
  const g = iommuIotlbGatherInit();
  const n = iommuUnmapFast(domain, iova, size, g);
  iommuIotlbSync(domain, g);
  return n;
}

/** iommu_unmap_fast: like iommuUnmap but leaves the sync of `gather` to the caller. */
export function iommuUnmapFast(domain: IommuDomain, iova: number, size: number, gather: IommuIotlbGather): number {
  const gran = mapGranule(domain);
  if (gran < 0) return 0;
  if (!isAddr(iova) || !isAddr(size) || !Number.isSafeInteger(iova + size)) return 0;
  if (iova % gran !== 0 || size % gran !== 0) return 0;
  return unmapRange(domain, iova, size, gather);
}

/** iommu_iotlb_sync: the driver invalidates what `gather` holds, then the gather is emptied. */
export function iommuIotlbSync(domain: IommuDomain, gather: IommuIotlbGather): void {
  domain.ops.iotlbSync?.(domain, gather);
  gather.start = Number.MAX_SAFE_INTEGER;
  gather.end = 0;
  gather.pgsize = 0;
  gather.queued = false;
}

/** iommu_flush_iotlb_all. */
export function iommuFlushIotlbAll(domain: IommuDomain): void {
  domain.ops.flushIotlbAll?.(domain);
}

/**
 * iommu_iova_to_phys: identity domains translate to themselves, paging domains ask the
 * driver; 0 when there is no translation.
 */
export function iommuIovaToPhys(domain: IommuDomain, iova: number): number {
  if (!domain || !domain.ops) return 0;
  if (domain.type === 'identity') return iova;
  if (!iommuIsPagingDomain(domain.type) || !isAddr(iova)) return 0;
  return domain.ops.iovaToPhys(domain, iova);
}
