import { ENOMEM } from '../errno.js';
import type { Kernel } from '../kernel.js';

const PAGE_SIZE = 0x1000;

/** Largest block taken from the page allocator for a GEM object's memory: 2 MiB (order 9). */
export const DRM_GEM_MAX_BLOCK_ORDER = 9;

/** A naturally aligned block of 2^order pages from the page allocator. */
export interface DrmGemBlock {
  readonly pa: number;
  readonly order: number;
}

/** A physically contiguous run of an object's memory (one scatterlist entry after merging). */
export interface DrmGemPageRun {
  pa: number;
  len: number;
}

/**
 * drm_gem_get_pages, as the model backs objects: `bytes` (a page multiple) from the page
 * allocator in naturally aligned blocks of at most 2 MiB, the largest that fit first, falling
 * back to smaller blocks when a large one is not free (the stand-in for shmem pages, single
 * pages that the scatterlist merges when they happen to be contiguous). -ENOMEM with nothing
 * kept on failure.
 */
export function drmGemAllocBlocks(kernel: Kernel, bytes: number): DrmGemBlock[] | number {
  const blocks: DrmGemBlock[] = [];
  let left = bytes / PAGE_SIZE;
  while (left > 0) {
    let order = Math.min(DRM_GEM_MAX_BLOCK_ORDER, 31 - Math.clz32(left));
    let pa = kernel.pages.allocPages(order);
    while (pa < 0 && order > 0) pa = kernel.pages.allocPages(--order);
    if (pa < 0) {
      drmGemFreeBlocks(kernel, blocks);
      return -ENOMEM;
    }
    blocks.push({ pa, order });
    left -= 1 << order;
  }
  return blocks;
}

/** drm_gem_put_pages: gives the blocks back. */
export function drmGemFreeBlocks(kernel: Kernel, blocks: readonly DrmGemBlock[]): void {
  for (const b of blocks) kernel.pages.freePages(b.pa, b.order);
}

/** drm_prime_pages_to_sg: physically adjacent blocks merge into one run. */
export function drmGemBlocksToRuns(blocks: readonly DrmGemBlock[]): DrmGemPageRun[] {
  const runs: DrmGemPageRun[] = [];
  for (const b of blocks) {
    const len = PAGE_SIZE << b.order;
    const last = runs[runs.length - 1];
    if (last && last.pa + last.len === b.pa) last.len += len;
    else runs.push({ pa: b.pa, len });
  }
  return runs;
}

/** The physical address of byte `off` of the memory the runs describe, or -1 beyond it. */
export function drmGemRunsPhys(runs: readonly DrmGemPageRun[], off: number): number {
  let base = 0;
  for (const r of runs) {
    if (off < base + r.len) return r.pa + (off - base);
    base += r.len;
  }
  return -1;
}

/*
 * CPU access to an object through the kernel's linear map (what a process's mmap of the
 * object reaches), page by page. The caller has checked the range lies inside the object.
 */

/** Reads `len` bytes from byte `off`. */
export function drmGemRunsRead(kernel: Kernel, runs: readonly DrmGemPageRun[], off: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  let done = 0;
  while (done < len) {
    const pa = drmGemRunsPhys(runs, off + done);
    const n = Math.min(len - done, PAGE_SIZE - (pa % PAGE_SIZE));
    out.set(kernel.mem.readBytes(pa, n), done);
    done += n;
  }
  return out;
}

/** Writes `data` at byte `off`. */
export function drmGemRunsWrite(kernel: Kernel, runs: readonly DrmGemPageRun[], off: number, data: Uint8Array): void {
  let done = 0;
  while (done < data.length) {
    const pa = drmGemRunsPhys(runs, off + done);
    const n = Math.min(data.length - done, PAGE_SIZE - (pa % PAGE_SIZE));
    kernel.mem.writeBytes(pa, data.subarray(done, done + n));
    done += n;
  }
}

/** Fills [off, off + len) with the 32-bit `pattern` (off and len multiples of 4). */
export function drmGemRunsFill32(kernel: Kernel, runs: readonly DrmGemPageRun[], off: number, len: number, pattern: number): void {
  const mem = kernel.mem;
  const v = pattern >>> 0;
  let base = 0;
  for (const r of runs) {
    const from = Math.max(off, base);
    const to = Math.min(off + len, base + r.len);
    for (let o = from; o < to; o += 4) mem.write32(r.pa + (o - base), v);
    base += r.len;
  }
}
