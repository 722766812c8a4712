/**
 * Small helpers for numbers wider than 32 bits (page-size bitmaps, addresses up to 52 bits).
 * JavaScript's bit operators work on 32 bits only, so wide values are split into halves.
 * None of these is used per page on a hot path except `lo32`/`hi32`.
 */

export const TWO_32 = 4294967296;
export const TWO_52 = 2 ** 52;
export const TWO_64 = 2 ** 64;

/** Low 32 bits of a non-negative integer below 2^53 (ToUint32 is exact modulo 2^32). */
export function lo32(x: number): number {
  return x >>> 0;
}

/** Bits 63:32 of a non-negative integer below 2^53. */
export function hi32(x: number): number {
  return Math.floor(x / TWO_32);
}

/** True when bit `b` (0..52) of the non-negative integer `x` is set. */
export function testBit(x: number, b: number): boolean {
  return Math.floor(x / 2 ** b) % 2 === 1;
}

/** x AND y for non-negative integers below 2^53. */
export function and53(x: number, y: number): number {
  return ((hi32(x) & hi32(y)) >>> 0) * TWO_32 + ((lo32(x) & lo32(y)) >>> 0);
}

/** Index of the lowest set bit (like the kernel's __ffs), or -1 for 0. */
export function ffs53(x: number): number {
  for (let b = 0; b <= 52; b++) if (testBit(x, b)) return b;
  return -1;
}

/** Index of the highest set bit (like __fls), or -1 for 0. */
export function fls53(x: number): number {
  for (let b = 52; b >= 0; b--) if (testBit(x, b)) return b;
  return -1;
}

/** Non-negative integer below 2^53 (the values this model takes as sizes, bitmaps and addresses). */
export function isU53(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

export function hex(x: number | bigint): string {
  return x < 0 ? '-0x' + (-x).toString(16) : '0x' + x.toString(16);
}
