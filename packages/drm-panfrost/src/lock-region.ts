import { AS_LOCK_REGION_MIN_SIZE_LOG2 } from './regs.js';

const TWO32 = 2 ** 32;

/** The two 32-bit words written to AS_LOCKADDR_LO / _HI. */
export interface LockRegion {
  lo: number;
  hi: number;
  /** log2(region size) - 1, the value in the low bits. */
  width: number;
}

/** Marker for "the whole 64-bit space" (the kernel passes ~0ULL as the size). */
export const LOCK_ALL = -1;

function fls32(x: number): number {
  return x === 0 ? 0 : 32 - Math.clz32(x);
}

/**
 * The LOCKADDR value for [iova, iova + size), the rule the kernel uses since late 2021: the
 * smallest naturally aligned power-of-two block that covers the whole range, at least 32 KiB.
 * Its width is the highest bit where the first and the last byte's addresses differ (at
 * least 15), minus one; the start is the range start with the bits below the width cleared,
 * and the width goes into those low bits. `size` LOCK_ALL stands for ~0 (everything from
 * `iova`); a zero size means "no lock" and returns null. Computed on 32-bit halves: no
 * address passes through a 64-bit float.
 */
export function lockRegionEncode(iova: number, size: number): LockRegion | null {
  if (size === 0) return null;
  const startHi = Math.floor(iova / TWO32) >>> 0;
  const startLo = (iova % TWO32) >>> 0;
  let lastHi: number;
  let lastLo: number;
  if (size === LOCK_ALL) {
    // iova + ~0 - 1 wraps to iova - 2 in 64 bits
    const lo = startLo - 2;
    lastLo = lo >>> 0;
    lastHi = (startHi - (lo < 0 ? 1 : 0)) >>> 0;
  } else {
    const last = iova + size - 1;
    lastHi = Math.floor(last / TWO32) >>> 0;
    lastLo = (last % TWO32) >>> 0;
  }
  const xHi = (startHi ^ lastHi) >>> 0;
  const xLo = (startLo ^ lastLo) >>> 0;
  const fls = xHi !== 0 ? 32 + fls32(xHi) : fls32(xLo);
  const width = Math.max(fls, AS_LOCK_REGION_MIN_SIZE_LOG2) - 1;
  let lo: number;
  let hi: number;
  if (width >= 32) {
    lo = 0;
    hi = (startHi & (0xffffffff << (width - 32))) >>> 0;
  } else {
    lo = (startLo & (0xffffffff << width)) >>> 0;
    hi = startHi;
  }
  return { lo: (lo | width) >>> 0, hi, width };
}

/**
 * The rule of the 5.10-era kernel the seed series targeted, for comparison: size rounded up
 * to pages, width = 10 + fls(pages), plus one when the page count is not a power of two, and
 * the start only page aligned. It can leave the end of the range outside the lock and go
 * below the 32 KiB Bifrost minimum; the driver does not use it.
 */
export function lockRegionEncode510(iova: number, size: number): LockRegion | null {
  if (size === 0) return null;
  const pages = Math.ceil(size / 4096);
  let width = 10 + fls32(pages >>> 0);
  if (pages & (pages - 1)) width++;
  const startHi = Math.floor(iova / TWO32) >>> 0;
  const startLo = ((iova % TWO32) & 0xfffff000) >>> 0;
  return { lo: (startLo | width) >>> 0, hi: startHi, width };
}
