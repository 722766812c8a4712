import { EEXIST, EINVAL, ENOMEM } from '../errno.js';

/** One allocated IOVA range, in granule-sized page frame numbers (both ends inclusive). */
export interface IovaRange {
  readonly pfnLo: number;
  readonly pfnHi: number;
}

/** The smallest power of two >= n (n >= 1, exact up to 2^52). */
function roundUpPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/**
 * An IOVA space allocator in the spirit of the kernel's iova.c, without the red-black tree:
 * the allocated ranges live in one array sorted by start pfn (binary search for lookups;
 * insertion and removal shift the array, which is cheap at the sizes a DMA domain holds).
 *
 * `allocIova` searches top-down from the limit for the highest free run, and with
 * `sizeAligned` places the run at a multiple of its size rounded up to a power of two, as
 * alloc_iova(..., size_aligned = true) does. Page frame 0 (and everything below `startPfn`)
 * is never handed out, so a DMA address of 0 never appears.
 */
export class IovaDomain {
  /** Sorted by pfnLo, non-overlapping. */
  private readonly ranges: IovaRange[] = [];
  private allocs = 0;
  private failures = 0;

  constructor(
    /** Bytes per IOVA page frame: a power of two (the domain's smallest page size). */
    readonly granule: number,
    /** The lowest pfn that may be allocated (at least 1). */
    readonly startPfn: number,
  ) {
    if (!Number.isSafeInteger(granule) || granule < 1 || roundUpPow2(granule) !== granule)
      throw new RangeError(`IOVA granule ${granule} is not a power of two`);
    if (!Number.isSafeInteger(startPfn) || startPfn < 1) throw new RangeError(`IOVA start pfn ${startPfn} must be >= 1`);
  }

  /** iova_shift as a power: bytes -> pfn is floor(bytes / granule). */
  pfnOf(addr: number): number {
    return Math.floor(addr / this.granule);
  }

  /** iova_offset: the byte offset of `addr` inside its granule. */
  offsetOf(addr: number): number {
    return addr % this.granule;
  }

  /** iova_align: `size` rounded up to the granule. */
  align(size: number): number {
    return Math.ceil(size / this.granule) * this.granule;
  }

  /** Index of the first range whose pfnLo is > pfn. */
  private upperBound(pfn: number): number {
    let lo = 0;
    let hi = this.ranges.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ranges[mid]!.pfnLo <= pfn) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * alloc_iova: `size` pfns at or below `limitPfn` (inclusive). Returns the first pfn of the
   * run, or -ENOMEM when nothing fits (nothing changes then), -EINVAL for a bad size/limit.
   */
  allocIova(size: number, limitPfn: number, sizeAligned: boolean): number {
    if (!Number.isSafeInteger(size) || size < 1 || !Number.isSafeInteger(limitPfn)) return -EINVAL;
    const align = sizeAligned ? roundUpPow2(size) : 1;
    // `high` is one past the highest pfn still available in the gap being examined
    let high = limitPfn + 1;
    let i = this.upperBound(limitPfn) - 1;
    for (;;) {
      const gapLo = i >= 0 ? this.ranges[i]!.pfnHi + 1 : this.startPfn;
      const floorLo = Math.max(gapLo, this.startPfn);
      if (high - size >= floorLo) {
        const cand = Math.floor((high - size) / align) * align;
        if (cand >= floorLo) {
          this.ranges.splice(i + 1, 0, { pfnLo: cand, pfnHi: cand + size - 1 });
          this.allocs++;
          return cand;
        }
      }
      if (i < 0) break;
      high = Math.min(high, this.ranges[i]!.pfnLo);
      if (high <= this.startPfn) break;
      i--;
    }
    this.failures++;
    return -ENOMEM;
  }

  /** reserve_iova: marks [pfnLo, pfnHi] as used. -EEXIST when it overlaps an allocation, -EINVAL for a bad range. */
  reserveIova(pfnLo: number, pfnHi: number): number {
    if (!Number.isSafeInteger(pfnLo) || !Number.isSafeInteger(pfnHi) || pfnLo < 0 || pfnHi < pfnLo) return -EINVAL;
    const i = this.upperBound(pfnHi);
    if (i > 0 && this.ranges[i - 1]!.pfnHi >= pfnLo) return -EEXIST;
    this.ranges.splice(i, 0, { pfnLo, pfnHi });
    return 0;
  }

  /** find_iova: the allocated range containing `pfn`, if any. */
  findIova(pfn: number): IovaRange | undefined {
    const i = this.upperBound(pfn) - 1;
    const r = i >= 0 ? this.ranges[i] : undefined;
    return r && r.pfnHi >= pfn ? r : undefined;
  }

  /**
   * free_iova: releases the range that starts at `pfnLo` and is `size` pfns long.
   * -EINVAL (nothing freed) when no allocation starts there or its size differs.
   */
  freeIova(pfnLo: number, size: number): number {
    const i = this.upperBound(pfnLo) - 1;
    const r = i >= 0 ? this.ranges[i] : undefined;
    if (!r || r.pfnLo !== pfnLo || r.pfnHi - r.pfnLo + 1 !== size) return -EINVAL;
    this.ranges.splice(i, 1);
    return 0;
  }

  /** Allocated ranges in address order (plain copies). */
  list(): IovaRange[] {
    return this.ranges.map((r) => ({ pfnLo: r.pfnLo, pfnHi: r.pfnHi }));
  }

  get count(): number {
    return this.ranges.length;
  }

  stats(): { ranges: number; allocs: number; failures: number } {
    return { ranges: this.ranges.length, allocs: this.allocs, failures: this.failures };
  }
}
