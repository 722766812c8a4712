/**
 * Physical memory of the virtual SoC.
 *
 * RAM is a set of regions (from the board's /memory nodes). Storage is sparse: nothing is
 * allocated until a frame is written, and reads of never-written memory return zero.
 * Backing store is kept in 2 MiB chunks of 32-bit words so that a page table (up to 64 KiB,
 * or a concatenated stage-2 PGD of up to 1 MiB, always naturally aligned) lies inside one
 * typed array: hot paths fetch the chunk once and index it, with no allocation and no
 * float round-trip of 64-bit values (a descriptor is the pair lo = words[i], hi = words[i+1]).
 *
 * Accounting is by 4 KiB frame (`framesTouched`), which is what the architecture sees.
 */

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;
export const CHUNK_SHIFT = 21;
export const CHUNK_SIZE = 2 ** CHUNK_SHIFT;
/** Words (u32) per chunk. */
export const CHUNK_WORDS = CHUNK_SIZE / 4;
/** Largest physical address width the model supports (52 bits, as LPA). */
export const MAX_PA_BITS = 52;

export interface MemRegion {
  readonly base: number;
  readonly size: number;
}

/** An access to an address that no RAM region and no device decodes, or a misaligned one. */
export class BusError extends Error {
  override readonly name = 'BusError';
  constructor(
    readonly addr: number,
    readonly size: number,
    readonly write: boolean,
    readonly reason: string,
  ) {
    super(`bus error: ${write ? 'write' : 'read'} of ${size} byte(s) at ${showAddr(addr)}: ${reason}`);
  }
}

const ZERO_CHUNK = new Uint32Array(CHUNK_WORDS);
/** 2^-21: a multiply by it is exact (and far cheaper than a division). */
const INV_CHUNK = 1 / CHUNK_SIZE;
/** Entries of the chunk lookup cache (direct-mapped by chunk number). */
const CHUNK_CACHE = 8;
const INV_PAGE = 1 / PAGE_SIZE;

/**
 * True unless `pa` is an integer multiple of `align` (4 or 8): the exact low bits of an
 * integer below 2^53 come from `& (align - 1)`, so no float remainder (a library call) is
 * needed; a fractional address stays misaligned, as with `%`.
 */
/** An address as the bus error shows it: hex when it is one, as given otherwise (-4, 4096n, NaN). */
function showAddr(addr: unknown): string {
  if (typeof addr === 'number' && Number.isSafeInteger(addr) && addr >= 0) return '0x' + addr.toString(16);
  return typeof addr === 'bigint' ? `${addr}n` : String(addr);
}

function misaligned(pa: number, align: number): boolean {
  return typeof pa !== 'number' || (pa & (align - 1)) !== 0 || (pa !== Math.floor(pa) && !Number.isNaN(pa));
}

/** Why `misaligned` refused `pa` (off the hot path). */
function alignReason(pa: unknown, bits: number): string {
  return typeof pa === 'number' ? `misaligned ${bits}-bit access` : `not a physical address (a ${typeof pa}; addresses are numbers)`;
}

function hex(n: number): string {
  return '0x' + n.toString(16);
}

export class PhysMem {
  readonly regions: readonly MemRegion[];
  private readonly chunks = new Map<number, Uint32Array>();
  private readonly touched = new Set<number>();
  /**
   * A small direct-mapped cache of chunk number -> backing words, in front of the Map: table
   * walks and DMA touch a handful of chunks over and over. Only chunks that exist are cached
   * (never the shared zero chunk), and chunks are never dropped, so it needs no invalidation.
   */
  private readonly cacheKey = new Float64Array(CHUNK_CACHE).fill(-1);
  private readonly cacheArr: Uint32Array[] = new Array<Uint32Array>(CHUNK_CACHE).fill(ZERO_CHUNK);

  constructor(regions: readonly MemRegion[]) {
    const sorted = [...regions].sort((a, b) => a.base - b.base);
    for (const r of sorted) {
      if (!Number.isSafeInteger(r.base) || !Number.isSafeInteger(r.size) || r.base < 0 || r.size <= 0)
        throw new RangeError(`bad RAM region base=${r.base} size=${r.size}`);
      if (r.base % PAGE_SIZE || r.size % PAGE_SIZE)
        throw new RangeError(`RAM region ${hex(r.base)}+${hex(r.size)} is not 4 KiB aligned`);
      if (r.base + r.size > 2 ** MAX_PA_BITS)
        throw new RangeError(`RAM region ${hex(r.base)}+${hex(r.size)} exceeds ${MAX_PA_BITS}-bit PA space`);
    }
    for (let i = 1; i < sorted.length; i++)
      if (sorted[i]!.base < sorted[i - 1]!.base + sorted[i - 1]!.size)
        throw new RangeError(`RAM regions overlap at ${hex(sorted[i]!.base)}`);
    this.regions = sorted.map((r) => ({ base: r.base, size: r.size }));
  }

  /** True when [pa, pa+len) lies inside one RAM region. */
  contains(pa: number, len = 1): boolean {
    for (const r of this.regions) if (pa >= r.base && pa + len <= r.base + r.size) return true;
    return false;
  }

  /**
   * `contains` of the address given as 32-bit halves (int32 or u32 bit patterns), for hot
   * callers: int32 arguments cross a call V8 does not inline without a heap number.
   */
  containsParts(hi: number, lo: number, len = 1): boolean {
    const pa = (hi >>> 0) * 4294967296 + (lo >>> 0);
    for (const r of this.regions) if (pa >= r.base && pa + len <= r.base + r.size) return true;
    return false;
  }

  private lastBase = 0;
  private lastEnd = 0;

  /** Throws BusError unless [pa, pa+len) is RAM; remembers the last region hit (fast path). */
  private check(pa: number, len: number, write: boolean): void {
    if (pa >= this.lastBase && pa + len <= this.lastEnd) return;
    if (!Number.isSafeInteger(pa) || pa < 0) throw new BusError(pa, len, write, 'not a physical address');
    if (!this.findRegion(pa, len)) throw new BusError(pa, len, write, 'outside RAM');
  }

  /** True when `pa` is RAM (the last region hit, or any region: then remembered). */
  private inRam(pa: number): boolean {
    return (pa >= this.lastBase && pa + 1 <= this.lastEnd) || this.findRegion(pa);
  }

  /** True when [pa, pa+len) is RAM, remembering the region (`pa` a non-negative integer or not). */
  private findRegion(pa: number, len = 1): boolean {
    if (!Number.isSafeInteger(pa) || pa < 0) return false;
    for (const r of this.regions)
      if (pa >= r.base && pa + len <= r.base + r.size) {
        this.lastBase = r.base;
        this.lastEnd = r.base + r.size;
        return true;
      }
    return false;
  }

  /**
   * The backing words of the 2 MiB chunk holding `pa`, created (zeroed) on first use.
   * Index of the word at `pa` is `wordIndex(pa)`. Throws BusError outside RAM.
   * Writers through the returned array must call `touch` for frames they dirty when
   * accounting matters (page-table code allocates its frames, which touches them).
   */
  chunk(pa: number): Uint32Array {
    this.check(pa, 1, true);
    const key = Math.floor(pa * INV_CHUNK);
    const slot = key & (CHUNK_CACHE - 1);
    if (this.cacheKey[slot] === key) return this.cacheArr[slot]!;
    let c = this.chunks.get(key);
    if (c === undefined) {
      c = new Uint32Array(CHUNK_WORDS);
      this.chunks.set(key, c);
    }
    this.cacheKey[slot] = key;
    this.cacheArr[slot] = c;
    return c;
  }

  /** Like `chunk` but never allocates: a shared all-zero array stands in for untouched memory. */
  peekChunk(pa: number): Uint32Array {
    this.check(pa, 1, false);
    const key = Math.floor(pa * INV_CHUNK);
    const slot = key & (CHUNK_CACHE - 1);
    if (this.cacheKey[slot] === key) return this.cacheArr[slot]!;
    const c = this.chunks.get(key);
    if (c === undefined) return ZERO_CHUNK;
    this.cacheKey[slot] = key;
    this.cacheArr[slot] = c;
    return c;
  }

  /**
   * `peekChunk` of the address given as 32-bit halves (int32 or u32 bit patterns), for hot
   * callers: a double argument of a call V8 does not inline is a heap number per call, int32
   * halves are not.
   */
  peekChunkParts(hi: number, lo: number): Uint32Array {
    // `peekChunk` written out, so that the address never crosses a call as a double: this
    // wrapper used to call `peekChunk`, and where V8 inlined the wrapper but not that call
    // the address became a heap number per call (the SMMUv2 short-descriptor miss: 16 or
    // 32 B per walk in some processes). The common case (the last RAM region, a cached
    // chunk) first; the rest as halves.
    const pa = (hi >>> 0) * 4294967296 + (lo >>> 0);
    if (pa >= this.lastBase && pa + 1 <= this.lastEnd) {
      const key = Math.floor(pa * INV_CHUNK);
      const slot = key & (CHUNK_CACHE - 1);
      if (this.cacheKey[slot] === key) return this.cacheArr[slot]!;
    }
    return this.peekChunkPartsSlow(hi, lo);
  }

  /**
   * `peekChunkParts` beyond the last region's cached chunks: `peekChunk` (its region check
   * and chunk lookup) on halves, with no call that takes the address as a double except the
   * BusError it throws.
   */
  private peekChunkPartsSlow(hi: number, lo: number): Uint32Array {
    const pa = (hi >>> 0) * 4294967296 + (lo >>> 0); // a safe non-negative integer
    if (!(pa >= this.lastBase && pa + 1 <= this.lastEnd)) {
      let found = false;
      for (const r of this.regions)
        if (pa >= r.base && pa + 1 <= r.base + r.size) {
          this.lastBase = r.base;
          this.lastEnd = r.base + r.size;
          found = true;
          break;
        }
      if (!found) throw new BusError(pa, 1, false, 'outside RAM');
    }
    const key = Math.floor(pa * INV_CHUNK);
    const slot = key & (CHUNK_CACHE - 1);
    if (this.cacheKey[slot] === key) return this.cacheArr[slot]!;
    const c = this.chunks.get(key);
    if (c === undefined) return ZERO_CHUNK;
    this.cacheKey[slot] = key;
    this.cacheArr[slot] = c;
    return c;
  }

  /**
   * Like `peekChunk`, but returns null instead of throwing when `pa` is not RAM (for hot
   * paths that treat a bus error as "take the slow path").
   */
  tryPeekChunk(pa: number): Uint32Array | null {
    if (!this.inRam(pa)) return null;
    const key = Math.floor(pa * INV_CHUNK);
    const slot = key & (CHUNK_CACHE - 1);
    if (this.cacheKey[slot] === key) return this.cacheArr[slot]!;
    const c = this.chunks.get(key);
    if (c === undefined) return ZERO_CHUNK;
    this.cacheKey[slot] = key;
    this.cacheArr[slot] = c;
    return c;
  }

  /**
   * The backing words of the chunk holding `pa` when that chunk has been written, else null
   * (outside RAM, or never written: a later write would create a new array). Never allocates.
   * Chunks are never dropped, so a caller may keep the array as long as it likes.
   */
  backedChunk(pa: number): Uint32Array | null {
    const c = this.tryPeekChunk(pa);
    return c === ZERO_CHUNK ? null : c;
  }

  /**
   * Word index of `pa` inside its chunk. For an address (a non-negative integer below 2^53)
   * `>>> 0` keeps its low 32 bits exactly, so this needs no float remainder (a library call).
   */
  static wordIndex(pa: number): number {
    return ((pa >>> 0) & (CHUNK_SIZE - 1)) >>> 2;
  }

  /** Marks the 4 KiB frames of [pa, pa+len) as used (for `framesTouched`). */
  touch(pa: number, len = PAGE_SIZE): void {
    const first = Math.floor(pa * INV_PAGE);
    const last = Math.floor((pa + len - 1) * INV_PAGE);
    for (let f = first; f <= last; f++) this.touched.add(f);
  }

  private lastFrame = -1;

  /** Records frame `f` as written; the last one is remembered, so rewrites of it cost nothing. */
  private touchFrame(f: number): void {
    if (f === this.lastFrame) return;
    this.touched.add(f);
    this.lastFrame = f;
  }

  /** Number of distinct 4 KiB frames ever written. */
  framesTouched(): number {
    return this.touched.size;
  }

  read32(pa: number): number {
    if (misaligned(pa, 4)) throw new BusError(pa, 4, false, alignReason(pa, 32));
    return this.peekChunk(pa)[PhysMem.wordIndex(pa)]!;
  }

  write32(pa: number, v: number): void {
    if (misaligned(pa, 4)) throw new BusError(pa, 4, true, alignReason(pa, 32));
    this.chunk(pa)[PhysMem.wordIndex(pa)] = v >>> 0;
    this.touchFrame(Math.floor(pa * INV_PAGE));
  }

  /** Low and high halves of the 64-bit little-endian word at `pa` (8-byte aligned). */
  read64lo(pa: number): number {
    if (misaligned(pa, 8)) throw new BusError(pa, 8, false, alignReason(pa, 64));
    return this.peekChunk(pa)[PhysMem.wordIndex(pa)]!;
  }

  read64hi(pa: number): number {
    if (misaligned(pa, 8)) throw new BusError(pa, 8, false, alignReason(pa, 64));
    return this.peekChunk(pa)[PhysMem.wordIndex(pa) + 1]!;
  }

  write64parts(pa: number, lo: number, hi: number): void {
    if (misaligned(pa, 8)) throw new BusError(pa, 8, true, alignReason(pa, 64));
    const c = this.chunk(pa);
    const i = PhysMem.wordIndex(pa);
    c[i] = lo >>> 0;
    c[i + 1] = hi >>> 0;
    this.touchFrame(Math.floor(pa * INV_PAGE));
  }

  /** Convenience (not for hot paths): the 64-bit word at `pa` as a bigint. */
  read64(pa: number): bigint {
    return (BigInt(this.read64hi(pa)) << 32n) | BigInt(this.read64lo(pa));
  }

  write64(pa: number, v: bigint): void {
    if (typeof v !== 'bigint') throw new TypeError(`write64: the value must be a bigint (got ${typeof v}); write64parts(pa, lo, hi) takes two 32-bit halves`);
    this.write64parts(pa, Number(v & 0xffffffffn), Number((v >> 32n) & 0xffffffffn));
  }

  readBytes(pa: number, len: number): Uint8Array {
    if (!Number.isSafeInteger(len) || len < 0) throw new RangeError(`readBytes: bad length ${String(len)}`);
    this.check(pa, Math.max(len, 1), false);
    const out = new Uint8Array(len);
    for (let i = 0; i < len; i++) {
      const a = pa + i;
      const w = this.peekChunk(a)[PhysMem.wordIndex(a)]!;
      out[i] = (w >>> ((a & 3) * 8)) & 0xff;
    }
    return out;
  }

  writeBytes(pa: number, data: Uint8Array): void {
    this.check(pa, Math.max(data.length, 1), true);
    for (let i = 0; i < data.length; i++) {
      const a = pa + i;
      const c = this.chunk(a);
      const wi = PhysMem.wordIndex(a);
      const sh = (a & 3) * 8;
      c[wi] = ((c[wi]! & ~(0xff << sh)) | (data[i]! << sh)) >>> 0;
    }
    if (data.length) this.touch(pa, data.length);
  }

  /** Zeroes [pa, pa+len); `pa` and `len` must be multiples of 4. */
  zero(pa: number, len: number): void {
    if (pa % 4 || len % 4) throw new BusError(pa, len, true, 'zero() needs 4-byte alignment');
    this.check(pa, len, true);
    let a = pa;
    const end = pa + len;
    while (a < end) {
      const key = Math.floor(a / CHUNK_SIZE);
      const chunkEnd = Math.min(end, (key + 1) * CHUNK_SIZE);
      const c = this.chunks.get(key);
      if (c !== undefined) c.fill(0, PhysMem.wordIndex(a), PhysMem.wordIndex(a) + (chunkEnd - a) / 4);
      a = chunkEnd;
    }
  }
}
