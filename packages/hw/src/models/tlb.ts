/**
 * A hashed, fully associative TLB of leaf translations keyed by a translation context and an
 * input page or block, and (below) the walk cache built on it. The models' own TLBs are
 * `SetTlb` (./set-tlb.ts), the set-associative form with the same interface whose fill is a
 * few int32 stores; this one keeps per-context entry lists and an `aux` payload, which the walk
 * cache uses.
 *
 * A *context* is a pair of non-negative integers (`group`, `tag`) the model chooses: for the
 * SMMUv3 (VMID slot, ASID slot); for an SMMUv2 context bank (VMID or bank, ASID); for a Mali
 * address space (0, AS slot); for the Adreno TTBR0 switch (context bank, ASID). `context()`
 * turns the pair into a small stable integer handle once (typically when the model decodes a
 * configuration), and the hot path works on handles only.
 *
 * Entries live in preallocated typed arrays (they grow by doubling up to `capacity`, never on
 * a lookup) and are found through an open-addressing hash index with linear probing and
 * backward-shift deletion (no tombstones). A lookup returns an entry index (or −1) and the
 * model reads the fields it needs through `output`, `perms`, ...: nothing is allocated per
 * lookup, no closure or object is created per hit, and addresses go through integer halves or
 * exact float arithmetic (a PA is at most 52 bits; descriptors never pass through here).
 *
 * An entry covers an aligned block of 2^shift bytes of input (shift 12..42: a 4 KiB page up to
 * a 4 TiB block) and records the output address of the block's start plus three model-defined
 * payload fields: `perms` (an int32, usually a PERM_* mask), `attr` (an int32) and `aux` (a
 * number, e.g. the IPA of a nested entry). Per context the TLB keeps the set of block sizes in
 * use, so a lookup probes once per size present (once, when the context only holds pages).
 *
 * Entries are removed only by the invalidate* calls and by capacity eviction, so a model that
 * receives no invalidation keeps returning the old translation, as hardware does.
 */

const NIL = -1;
import { PhysMem } from '../mem.js';
import { CUR_BITS, CUR_DESC_HI, CUR_DESC_LO, CUR_LEVEL, CUR_RANGE, CUR_TABLE, CUR_TBLHI, lpaeCursorSpanShift, lpaeFastLeaf, lpaeLeafPermTable, type LpaeWalkConfig } from '../walk/lpae.js';
import type { WalkAccess } from '../walk/types.js';
import { TlbContextIds } from './tlb-contexts.js';

const TWO32 = 4294967296;
const INV_TWO32 = 1 / TWO32;
const MIN_SHIFT = 12;
const MAX_SHIFT = 42;
const INITIAL_ENTRIES = 256;

/** Default capacity (entries). */
export const TLB_DEFAULT_CAPACITY = 16384;

/**
 * What an insert into a full TLB does. `flush`: empty the whole TLB first (counted in
 * `flushes`); deterministic and simple, stale entries of other contexts vanish together.
 * `round-robin`: replace one entry, the victim pointer cycling through the entry slots, as
 * many hardware TLBs do.
 */
export type TlbEviction = 'flush' | 'round-robin';

export interface TlbOptions {
  /** Maximum number of entries (default TLB_DEFAULT_CAPACITY). */
  readonly capacity?: number;
  readonly eviction?: TlbEviction;
}

/** Counters of a TLB (all cumulative except `entries`). */
export interface TlbCounters {
  hits: number;
  misses: number;
  inserts: number;
  /** Entries dropped to make room (round-robin) or by a full-TLB flush. */
  evictions: number;
  /** Times a full TLB was emptied before an insert (eviction 'flush'). */
  flushes: number;
  /** Entries removed by invalidate* calls. */
  invalidated: number;
  entries: number;
}

/** log2 of a power-of-two block size from 2^12 to 2^42 (e.g. `WalkResult.size`); −1 otherwise. */
export function tlbSizeShift(size: number): number {
  let s: number;
  if (size < TWO32) {
    const v = size >>> 0;
    if (v !== size || (v & (v - 1)) !== 0) return -1;
    s = 31 - Math.clz32(v);
  } else {
    const h = size / TWO32;
    const v = h >>> 0;
    if (v !== h || (v & (v - 1)) !== 0) return -1;
    s = 63 - Math.clz32(v);
  }
  return s >= MIN_SHIFT && s <= MAX_SHIFT ? s : -1;
}

/** Hash of (context, size, block number as u32 halves). */
function hashKey(ctx: number, shift: number, bLo: number, bHi: number): number {
  let h = Math.imul(bLo ^ Math.imul(bHi, 0x27d4eb2f), 0x9e3779b1);
  h ^= Math.imul((ctx << 6) | shift, 0x85ebca6b);
  h ^= h >>> 15;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 13);
}

export class Tlb {
  readonly capacity: number;
  readonly eviction: TlbEviction;

  /** Lookups that found an entry / found none. */
  hits = 0;
  misses = 0;
  inserts = 0;
  evictions = 0;
  flushes = 0;
  invalidated = 0;

  private count = 0;
  /** Allocated length of the entry arrays (≤ capacity). */
  private room = 0;
  /** Next never-used entry slot; below it, free slots are on the free list. */
  private fresh = 0;
  private freeHead = NIL;
  private victim = 0;

  // ---- entries (index = entry id) ----
  private eCtx = new Int32Array(0); // NIL when free
  private eShift = new Int32Array(0);
  /** Block number (input >> shift) as u32 halves (stored as int32). */
  private eBLo = new Int32Array(0);
  private eBHi = new Int32Array(0);
  /** Input address of the block start (a number; exact below 2^53). */
  private eBase = new Float64Array(0);
  /** Output address of the block start. */
  private eOa = new Float64Array(0);
  private ePerms = new Int32Array(0);
  private eAttr = new Int32Array(0);
  private eAux = new Float64Array(0);
  /** Home slot in the hash index; doubles as the free-list link while free. */
  private eHome = new Int32Array(0);
  /** Per-context doubly linked list of entries. */
  private eNext = new Int32Array(0);
  private ePrev = new Int32Array(0);

  // ---- hash index ----
  private index = new Int32Array(0);
  private indexMask = 0;

  // ---- contexts ----
  private readonly ids = new TlbContextIds();
  /** Contexts created (the valid handles are 0 .. nCtx − 1). */
  private nCtx = 0;
  /** Per context: bit (shift − 12) set when an entry of that size exists. */
  private ctxShifts = new Int32Array(8);
  /** Per context: number of entries of each size (32 counters per context). */
  private ctxSizeCount = new Int32Array(8 * 32);
  private ctxCount = new Int32Array(8);
  private ctxHead = new Int32Array(8).fill(NIL);

  constructor(opts: TlbOptions = {}) {
    const cap = opts.capacity ?? TLB_DEFAULT_CAPACITY;
    if (!Number.isInteger(cap) || cap < 1 || cap > 2 ** 24) throw new RangeError(`TLB: bad capacity ${cap}`);
    const ev = opts.eviction ?? 'flush';
    if (ev !== 'flush' && ev !== 'round-robin') throw new RangeError(`TLB: unknown eviction policy ${String(ev)}`);
    this.capacity = cap;
    this.eviction = ev;
    this.grow(Math.min(cap, INITIAL_ENTRIES));
  }

  /** Number of entries held. */
  get size(): number {
    return this.count;
  }

  /** A snapshot of the counters. */
  counters(): TlbCounters {
    return { hits: this.hits, misses: this.misses, inserts: this.inserts, evictions: this.evictions, flushes: this.flushes, invalidated: this.invalidated, entries: this.count };
  }

  /** Zeroes the cumulative counters (entries stay). */
  resetCounters(): void {
    this.hits = this.misses = this.inserts = this.evictions = this.flushes = this.invalidated = 0;
  }

  // =========================================================================================
  // Contexts

  /**
   * The handle of context (`group`, `tag`), created on first use and stable for the life of
   * the TLB (handles are never reused). Not for the per-access path: call it when a
   * configuration is decoded and keep the handle.
   */
  context(group: number, tag: number): number {
    const id = this.ids.intern(group, tag);
    if (id === this.nCtx) {
      if (id >= this.ctxShifts.length) {
        const n = this.ctxShifts.length * 2;
        const grow = (a: Int32Array, len: number, fill = 0): Int32Array<ArrayBuffer> => {
          const b = new Int32Array(len).fill(fill);
          b.set(a);
          return b;
        };
        this.ctxShifts = grow(this.ctxShifts, n);
        this.ctxSizeCount = grow(this.ctxSizeCount, n * 32);
        this.ctxCount = grow(this.ctxCount, n);
        this.ctxHead = grow(this.ctxHead, n, NIL);
      }
      this.nCtx = id + 1;
    }
    return id;
  }

  /** The handle of (`group`, `tag`) if it was ever created, else −1 (creates nothing). */
  findContext(group: number, tag: number): number {
    return this.ids.find(group, tag);
  }

  /** Group and tag of a handle. */
  contextGroup(ctx: number): number {
    return this.ids.group(ctx);
  }

  contextTag(ctx: number): number {
    return this.ids.tag(ctx);
  }

  /** log2 of the smallest block size context `ctx` holds entries of, or −1 when it holds none. */
  smallestShift(ctx: number): number {
    const m = this.ctxShifts[ctx]!;
    return m === 0 ? NIL : 43 - Math.clz32(m & -m);
  }

  /** Entries held for a context. */
  contextSize(ctx: number): number {
    return ctx >= 0 && ctx < this.nCtx ? this.ctxCount[ctx]! : 0;
  }

  // =========================================================================================
  // The hot path

  /**
   * The entry translating input address `addr` (a number below 2^53) in context `ctx`, or −1.
   * Counts a hit or a miss. Allocation-free.
   */
  lookup(ctx: number, addr: number): number {
    return this.lookupParts(ctx, (addr / TWO32) >>> 0, addr >>> 0);
  }

  /** `lookup` for a 64-bit input address given as u32 (or int32) halves. */
  lookupParts(ctx: number, hi: number, lo: number): number {
    let m = this.ctxShifts[ctx]!;
    while (m !== 0) {
      const bit = m & -m;
      m ^= bit;
      const shift = 43 - Math.clz32(bit);
      let bLo: number;
      let bHi: number;
      if (shift < 32) {
        bLo = (lo >>> shift) | (hi << (32 - shift));
        bHi = hi >>> shift;
      } else {
        bLo = hi >>> (shift - 32);
        bHi = 0;
      }
      bLo |= 0;
      bHi |= 0;
      const index = this.index;
      const mask = this.indexMask;
      let i = hashKey(ctx, shift, bLo, bHi) & mask;
      for (;;) {
        const e = index[i]!;
        if (e < 0) break;
        if (this.eBLo[e] === bLo && this.eCtx[e] === ctx && this.eShift[e] === shift && this.eBHi[e] === bHi) {
          this.hits++;
          return e;
        }
        i = (i + 1) & mask;
      }
    }
    this.misses++;
    return NIL;
  }

  /**
   * The entry caching exactly the 2^shift block holding `addr` in `ctx`, or −1; unlike
   * `lookup` it ignores other block sizes and counts nothing (for tests and model checks).
   */
  peek(ctx: number, addr: number, shift: number): number {
    if (!(ctx >= 0 && ctx < this.nCtx) || !(shift >= MIN_SHIFT && shift <= MAX_SHIFT)) return NIL;
    const b = Math.floor(addr / 2 ** shift);
    const bHi = Math.floor(b / TWO32);
    return this.find(ctx, shift, (b - bHi * TWO32) | 0, bHi | 0);
  }

  /** Output address of input `addr` (a number below 2^53) through entry `e`. */
  output(e: number, addr: number): number {
    return this.eOa[e]! + (addr - this.eBase[e]!);
  }

  /** Output address of the input given as u32 halves through entry `e` (exact for any input). */
  outputParts(e: number, hi: number, lo: number): number {
    const s = this.eShift[e]!;
    const off = s < 32 ? (lo & ((1 << s) - 1)) >>> 0 : (hi & ((1 << (s - 32)) - 1)) * TWO32 + (lo >>> 0);
    return this.eOa[e]! + off;
  }

  /**
   * `outputParts` as int32 halves in `res[0]` (high) and `res[1]` (low), for callers that go
   * on with halves: a double result of a call V8 does not inline is a heap number per call.
   */
  outputHalves(e: number, hi: number, lo: number, res: Int32Array): void {
    const pa = this.outputParts(e, hi, lo);
    const pHi = Math.floor(pa * INV_TWO32);
    res[0] = pHi;
    res[1] = (pa - pHi * TWO32) | 0;
  }

  /** The entry's `perms` payload. */
  perms(e: number): number {
    return this.ePerms[e]!;
  }

  /** The entry's `attr` payload. */
  attr(e: number): number {
    return this.eAttr[e]!;
  }

  /** The entry's `aux` payload. */
  aux(e: number): number {
    return this.eAux[e]!;
  }

  /** log2 of the entry's block size. */
  shift(e: number): number {
    return this.eShift[e]!;
  }

  /** Input address of the entry's block start (exact below 2^53). */
  base(e: number): number {
    return this.eBase[e]!;
  }

  /** Output address of the entry's block start. */
  outputBase(e: number): number {
    return this.eOa[e]!;
  }

  /** The context handle of an entry. */
  entryContext(e: number): number {
    return this.eCtx[e]!;
  }

  // =========================================================================================
  // Filling

  /**
   * Caches the translation of the 2^shift-byte block holding input `addr` (a number below 2^53)
   * in context `ctx`: `pa` is the output address of `addr` itself. An entry for the same block
   * is replaced in place. `aux` must be an integer of magnitude below 2^53 (an address). Returns the entry index. Allocation-free once the arrays reached
   * the size the working set needs.
   */
  insert(ctx: number, addr: number, shift: number, pa: number, perms: number, attr = 0, aux = 0): number {
    if (!(addr >= 0 && addr < 2 ** 53)) throw new RangeError(`TLB: input address ${addr} is not a number below 2^53`);
    const aHi = Math.floor(addr * INV_TWO32);
    return this.insertParts(ctx, aHi, (addr - aHi * TWO32) | 0, shift, pa, perms, attr, aux);
  }

  /** `insert` for an input address given as u32 (or int32) halves. */
  insertParts(ctx: number, hi: number, lo: number, shift: number, pa: number, perms: number, attr = 0, aux = 0): number {
    // Small enough to inline: the numbers (PA, aux) go on as int32 halves, so the call below
    // boxes nothing.
    const pHi = Math.floor(pa * INV_TWO32);
    const xHi = Math.floor(aux * INV_TWO32);
    return this.insertHalves(ctx, hi | 0, lo | 0, shift, pHi | 0, (pa - pHi * TWO32) | 0, perms, attr, xHi | 0, (aux - xHi * TWO32) | 0);
  }

  /**
   * `insert` with every address as 32-bit halves (int32 or u32 bit patterns): the input, the
   * output of the input address itself, and `aux`. For hot callers that already hold halves:
   * nothing is boxed whether or not V8 inlines the call.
   */
  insertHalves(ctx: number, hi: number, lo: number, shift: number, paHi: number, paLo: number, perms: number, attr: number, auxHi: number, auxLo: number): number {
    if (!(ctx >= 0 && ctx < this.nCtx && (ctx | 0) === ctx)) throw new RangeError(`TLB: unknown context ${ctx}`);
    if (!(shift >= MIN_SHIFT && shift <= MAX_SHIFT && (shift | 0) === shift)) throw new RangeError(`TLB: block shift ${shift} outside ${MIN_SHIFT}..${MAX_SHIFT}`);
    hi >>>= 0;
    lo >>>= 0;
    let bLo: number;
    let bHi: number;
    let off: number;
    if (shift < 32) {
      bLo = (lo >>> shift) | (hi << (32 - shift));
      bHi = hi >>> shift;
      off = (lo & ((1 << shift) - 1)) >>> 0;
    } else {
      bLo = hi >>> (shift - 32);
      bHi = 0;
      off = (hi & ((1 << (shift - 32)) - 1)) * TWO32 + lo;
    }
    bLo |= 0;
    bHi |= 0;
    const oa = paHi * TWO32 + (paLo >>> 0) - off;
    const aux = auxHi * TWO32 + (auxLo >>> 0);
    const base = hi * TWO32 + lo - off;
    this.inserts++;
    // One probe finds either the entry for this key (replaced in place) or the free slot the
    // new entry takes (linear probing: the first empty slot from the home slot).
    let index = this.index;
    let mask = this.indexMask;
    let home = hashKey(ctx, shift, bLo, bHi) & mask;
    let i = home;
    for (;;) {
      const f = index[i]!;
      if (f < 0) break;
      if (this.eBLo[f] === bLo && this.eCtx[f] === ctx && this.eShift[f] === shift && this.eBHi[f] === bHi) {
        this.setPayload(f, base, oa, perms, attr, aux);
        return f;
      }
      i = (i + 1) & mask;
    }
    if (this.count >= this.capacity) {
      if (this.eviction === 'flush') {
        this.evictions += this.count;
        this.flushes++;
        this.clear();
      } else {
        this.evictOne();
      }
      i = -1; // the index changed: probe again below
    }
    const e = this.allocEntry();
    this.eCtx[e] = ctx;
    this.eShift[e] = shift;
    this.eBLo[e] = bLo;
    this.eBHi[e] = bHi;
    this.setPayload(e, base, oa, perms, attr, aux);
    // Hash index (allocEntry may have grown it: then probe again too).
    if (i < 0 || index !== this.index) {
      index = this.index;
      mask = this.indexMask;
      home = hashKey(ctx, shift, bLo, bHi) & mask;
      i = home;
      while (index[i]! >= 0) i = (i + 1) & mask;
    }
    this.eHome[e] = home;
    index[i] = e;
    // Context list and size bookkeeping.
    const head = this.ctxHead[ctx]!;
    this.eNext[e] = head;
    this.ePrev[e] = NIL;
    if (head >= 0) this.ePrev[head] = e;
    this.ctxHead[ctx] = e;
    this.ctxCount[ctx]!++;
    if (this.ctxSizeCount[ctx * 32 + shift - MIN_SHIFT]!++ === 0) this.ctxShifts[ctx]! |= 1 << (shift - MIN_SHIFT);
    this.count++;
    return e;
  }

  /**
   * `insert` from a successful walk: the block size is `size` (a power of two, e.g.
   * `WalkResult.size`) and `pa` the walk's output for `addr`.
   */
  insertBlock(ctx: number, addr: number, size: number, pa: number, perms: number, attr = 0, aux = 0): number {
    const shift = tlbSizeShift(size);
    if (shift < 0) throw new RangeError(`TLB: block size ${size} is not a power of two from 4 KiB to 4 TiB`);
    return this.insert(ctx, addr, shift, pa, perms, attr, aux);
  }

  private setPayload(e: number, base: number, oa: number, perms: number, attr: number, aux: number): void {
    this.eBase[e] = base;
    this.eOa[e] = oa;
    this.ePerms[e] = perms;
    this.eAttr[e] = attr;
    this.eAux[e] = aux;
  }

  /** Entry with exactly this key, or −1 (counts nothing). */
  private find(ctx: number, shift: number, bLo: number, bHi: number): number {
    const index = this.index;
    const mask = this.indexMask;
    let i = hashKey(ctx, shift, bLo, bHi) & mask;
    for (;;) {
      const e = index[i]!;
      if (e < 0) return NIL;
      if (this.eBLo[e] === bLo && this.eCtx[e] === ctx && this.eShift[e] === shift && this.eBHi[e] === bHi) return e;
      i = (i + 1) & mask;
    }
  }

  private allocEntry(): number {
    if (this.freeHead >= 0) {
      const e = this.freeHead;
      this.freeHead = this.eHome[e]!;
      return e;
    }
    if (this.fresh >= this.room) this.grow(Math.min(this.capacity, this.room * 2));
    return this.fresh++;
  }

  private evictOne(): void {
    // Full: every slot below `fresh` (= capacity) holds an entry.
    const e = this.victim;
    this.victim = e + 1 >= this.fresh ? 0 : e + 1;
    this.remove(e);
    this.evictions++;
  }

  /** Reallocates the entry arrays for `n` entries and rebuilds the hash index. */
  private grow(n: number): void {
    const i32 = (a: Int32Array): Int32Array<ArrayBuffer> => {
      const b = new Int32Array(n);
      b.set(a);
      return b;
    };
    const f64 = (a: Float64Array): Float64Array<ArrayBuffer> => {
      const b = new Float64Array(n);
      b.set(a);
      return b;
    };
    const ctx = new Int32Array(n).fill(NIL);
    ctx.set(this.eCtx);
    this.eCtx = ctx;
    this.eShift = i32(this.eShift);
    this.eBLo = i32(this.eBLo);
    this.eBHi = i32(this.eBHi);
    this.eBase = f64(this.eBase);
    this.eOa = f64(this.eOa);
    this.ePerms = i32(this.ePerms);
    this.eAttr = i32(this.eAttr);
    this.eAux = f64(this.eAux);
    this.eHome = i32(this.eHome);
    this.eNext = i32(this.eNext);
    this.ePrev = i32(this.ePrev);
    this.room = n;
    // Index at most half full.
    let slots = 2;
    while (slots < 2 * n) slots *= 2;
    this.index = new Int32Array(slots).fill(NIL);
    this.indexMask = slots - 1;
    for (let e = 0; e < this.fresh; e++) {
      const c = this.eCtx[e]!;
      if (c < 0) continue;
      let i = hashKey(c, this.eShift[e]!, this.eBLo[e]!, this.eBHi[e]!) & this.indexMask;
      this.eHome[e] = i;
      while (this.index[i]! >= 0) i = (i + 1) & this.indexMask;
      this.index[i] = e;
    }
  }

  // =========================================================================================
  // Removal

  /** Removes entry `e` from the index, its context list and the counters. */
  private remove(e: number): void {
    const index = this.index;
    const mask = this.indexMask;
    // Find its index slot, then close the gap (backward-shift deletion).
    let i = this.eHome[e]!;
    while (index[i] !== e) i = (i + 1) & mask;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const f = index[j]!;
      if (f < 0) break;
      const k = this.eHome[f]!;
      // f may move back to i unless its home lies cyclically in (i, j].
      if (i <= j ? i < k && k <= j : i < k || k <= j) continue;
      index[i] = f;
      i = j;
    }
    index[i] = NIL;
    const ctx = this.eCtx[e]!;
    const shift = this.eShift[e]!;
    const next = this.eNext[e]!;
    const prev = this.ePrev[e]!;
    if (prev >= 0) this.eNext[prev] = next;
    else this.ctxHead[ctx] = next;
    if (next >= 0) this.ePrev[next] = prev;
    this.ctxCount[ctx]!--;
    if (--this.ctxSizeCount[ctx * 32 + shift - MIN_SHIFT]! === 0) this.ctxShifts[ctx]! &= ~(1 << (shift - MIN_SHIFT));
    this.eCtx[e] = NIL;
    this.eHome[e] = this.freeHead;
    this.freeHead = e;
    this.count--;
  }

  /** Empties the TLB without counting invalidations. */
  private clear(): void {
    if (this.fresh === 0) return;
    this.index.fill(NIL);
    this.eCtx.fill(NIL, 0, this.fresh);
    this.fresh = 0;
    this.freeHead = NIL;
    this.victim = 0;
    this.count = 0;
    this.ctxShifts.fill(0);
    this.ctxSizeCount.fill(0);
    this.ctxCount.fill(0);
    this.ctxHead.fill(NIL);
  }

  /** Removes every entry (TLBI ALL, TLBIALLNSNH, a full flush). */
  invalidateAll(): void {
    this.invalidated += this.count;
    this.clear();
  }

  /**
   * Removes the entries of context handle `ctx` whose input block overlaps [start, end)
   * (default: all of them). Small ranges are probed block by block, large ones walk the
   * context's entry list, so the cost is bounded by the smaller of the two.
   */
  invalidateContext(ctx: number, start = 0, end = Infinity): void {
    if (!(ctx >= 0 && ctx < this.nCtx)) return;
    const n = this.ctxCount[ctx]!;
    if (n === 0 || !(end > start)) return;
    if (start <= 0 && end === Infinity) {
      for (let e = this.ctxHead[ctx]!; e >= 0; ) {
        const next = this.eNext[e]!;
        this.remove(e);
        e = next;
      }
      this.invalidated += n;
      return;
    }
    // Probes needed: blocks of each size present that overlap the range.
    let probes = 0;
    for (let m = this.ctxShifts[ctx]!; m !== 0 && probes <= n; ) {
      const bit = m & -m;
      m ^= bit;
      const size = 2 ** (43 - Math.clz32(bit));
      probes += Math.ceil(end / size) - Math.floor(start / size);
    }
    const before = this.count;
    if (probes <= n) {
      for (let m = this.ctxShifts[ctx]!; m !== 0; ) {
        const bit = m & -m;
        m ^= bit;
        const shift = 43 - Math.clz32(bit);
        const size = 2 ** shift;
        const last = Math.ceil(end / size);
        for (let b = Math.floor(Math.max(0, start) / size); b < last; b++) {
          const bHi = Math.floor(b / TWO32);
          const e = this.find(ctx, shift, (b - bHi * TWO32) | 0, bHi | 0);
          if (e >= 0) this.remove(e);
        }
      }
    } else {
      for (let e = this.ctxHead[ctx]!; e >= 0; ) {
        const next = this.eNext[e]!;
        const base = this.eBase[e]!;
        if (base < end && base + 2 ** this.eShift[e]! > start) this.remove(e);
        e = next;
      }
    }
    this.invalidated += before - this.count;
  }

  /** Removes the entries of context (`group`, `tag`) overlapping [start, end) (TLBIASID, TLBIVA, ...). */
  invalidateTag(group: number, tag: number, start = 0, end = Infinity): void {
    const ctx = this.findContext(group, tag);
    if (ctx >= 0) this.invalidateContext(ctx, start, end);
  }

  /** Removes the entries of every context of `group` overlapping [start, end) (TLBIVMID, ...). */
  invalidateGroup(group: number, start = 0, end = Infinity): void {
    for (const ctx of this.ids.ofGroup(group)) this.invalidateContext(ctx, start, end);
  }

  /**
   * Removes the entries overlapping [start, end) of every context for which `match(group, tag)`
   * is true (for the invalidations that select contexts by a rule, e.g. "every ASID of this
   * VMID but the stage-2-only one"). Called once per context holding entries.
   */
  invalidateWhere(match: (group: number, tag: number) => boolean, start = 0, end = Infinity): void {
    const n = this.nCtx;
    for (let ctx = 0; ctx < n && this.count > 0; ctx++) {
      if (this.ctxCount[ctx]! > 0 && match(this.ids.group(ctx), this.ids.tag(ctx))) this.invalidateContext(ctx, start, end);
    }
  }
}

/** Default capacity of a WalkCache (entries). */
export const WALK_CACHE_DEFAULT_CAPACITY = 4096;
/** Config tags of walk-cache entries are below this. */
export const WALK_CACHE_TAGS = 2 ** 26;

/**
 * A walk cache, the companion of `Tlb` on the translation fast path: where a TLB caches leaf
 * translations, a walk cache caches the table a walk reaches, so that a TLB miss in the same
 * region reads one descriptor instead of walking every level (hardware caches table
 * descriptors the same way, and the architecture lets it).
 *
 * An entry is keyed like a TLB entry by a context handle (`context(group, tag)`, the same
 * pairs the model's TLB uses) and an aligned input block: the block of inputs for which a walk
 * reaches the cached table (2 MiB for a level-3 table of the 4 KiB granule, 1 GiB for a
 * level-2 one, ...). It holds the table's address (PA, or IPA when table addresses go through
 * a nested stage), its level, the table range it belongs to (TTBR0/TTBR1), the table controls
 * collected from the descriptors above it (APTable, XNTable, PXNTable, NSTable, as the stage-1
 * walker's `tblHi`) and a config tag the model chooses (e.g. an id of the decoded translation
 * controls): an entry is only used by a walk under the same tag. Resuming a walk from an entry
 * gives exactly what a full walk gives as long as the tables above it did not change.
 *
 * A lookup returns the entry of the smallest block (the deepest table) holding the input.
 * The last entry found is remembered, so a run of misses in one block costs one compare.
 * Entries go only through the invalidate* calls (and capacity eviction): a driver that frees
 * or replaces a table and invalidates only leaf entries keeps walking the old table, as on
 * hardware. Allocation-free on lookups and (once grown) inserts.
 */
/**
 * The walk cache's remembered table decoded for `SetTlb.fillLeaf`, the common TLB miss in one
 * step: everything that step needs about the table and the config, as plain int32 fields, so
 * that it reads the input's leaf descriptor and fills the TLB without a call. Owned by a
 * `WalkCache` (`wc.leaf`), which primes it (`primeLeaf`) and disarms it (`wctx` = −1) whenever
 * its remembered entry (slot 0) changes: it is armed only while it stands for that entry, so
 * `fillLeaf` succeeds exactly when `WalkCache.fastLeaf` would (same leaf, same answer, same
 * counters).
 */
export class WalkLeaf {
  /** Walk-cache context of the remembered entry; −1: disarmed. */
  wctx = NIL;
  /** Config tag of the entry and the config it was decoded for. */
  tag = -1;
  cfg: LpaeWalkConfig | null = null;
  /** The input block the table covers: 2^span bytes (span < 32), block number as int32 halves. */
  span = 21;
  bLo = 0;
  bHi = 0;
  /** The table's backing words and the index of its first word. */
  words: Uint32Array = new Uint32Array(0);
  wb = 0;
  /** log2 of a leaf's block at this level (< 32) and the index mask (entries per table − 1). */
  shift = 12;
  idxMask = 511;
  /** A descriptor is a usable leaf when (lo & leafMask) === leafVal (type, and AF where it exists). */
  leafMask = 0;
  leafVal = 1;
  /** Limit on the output's high word (`cfg.oaHiLimit`). */
  oaHiLimit = 0;
  /** The `attr` of the TLB entries the step fills (Mali: the leaf's level; else 0). */
  attr = 0;
  /** Permissions by `lpaeLeafPermIndex(lo, hi)` (see `lpaeLeafPermTable`). */
  readonly perms = new Int32Array(16);
  /** The config and table controls `perms` was built for (null: not built). */
  permCfg: LpaeWalkConfig | null = null;
  permTblHi = 0;
  /** Walk-cache hits the step counted (`WalkCache.counters` adds them). */
  hits = 0;
}

export class WalkCache {
  private readonly t: Tlb;
  // Two remembered entries (mE = −1: none) and their keys, most recent in slot 0: a nested
  // translation alternates between a stage-1 and a stage-2 context.
  private readonly mCtx = new Int32Array([NIL, NIL]);
  private readonly mShift = new Int32Array(2);
  private readonly mBLo = new Int32Array(2);
  private readonly mBHi = new Int32Array(2);
  private readonly mE = new Int32Array([NIL, NIL]);
  /** Per entry: the backing words of its table, when the owner gave them (else null). */
  private eWords: (Uint32Array | null)[] = [];
  /** Per entry: the table descriptor that led to its table (low, high words). */
  private eDesc = new Int32Array(64);
  /**
   * The fields `fastLeaf` needs of remembered entry `leafE` (−1: none), decoded once: the
   * table's backing words and the index of its first word, its level, granule shift, table
   * controls and config tag. Reset whenever an entry may have changed (insert, invalidation).
   */
  private leafE = NIL;
  private leafWords: Uint32Array | null = null;
  private leafWb = 0;
  private leafLevel = 0;
  private leafG = 12;
  private leafTblHi = 0;
  private leafTag = -1;
  /** The remembered entry decoded for `SetTlb.fillLeaf` (armed by `primeLeaf`). */
  readonly leaf = new WalkLeaf();

  constructor(opts: TlbOptions = {}) {
    this.t = new Tlb({ capacity: opts.capacity ?? WALK_CACHE_DEFAULT_CAPACITY, eviction: opts.eviction ?? 'flush' });
  }

  get capacity(): number {
    return this.t.capacity;
  }

  /** Number of entries held. */
  get size(): number {
    return this.t.size;
  }

  /** Counters (hits, misses, inserts, evictions, invalidated, entries), as for a Tlb. */
  counters(): TlbCounters {
    const c = this.t.counters();
    c.hits += this.leaf.hits;
    return c;
  }

  resetCounters(): void {
    this.t.resetCounters();
    this.leaf.hits = 0;
  }

  /** The handle of context (`group`, `tag`); see `Tlb.context`. */
  context(group: number, tag: number): number {
    return this.t.context(group, tag);
  }

  findContext(group: number, tag: number): number {
    return this.t.findContext(group, tag);
  }

  /** Entries held for a context. */
  contextSize(ctx: number): number {
    return this.t.contextSize(ctx);
  }

  /** True when remembered slot `m` holds the block of input (`hi`, `lo`) in `ctx`. */
  private memoHolds(m: number, ctx: number, hi: number, lo: number): boolean {
    if (this.mCtx[m] !== ctx) return false;
    const shift = this.mShift[m]!;
    if (shift < 32) return (((lo >>> shift) | (hi << (32 - shift))) | 0) === this.mBLo[m] && ((hi >>> shift) | 0) === this.mBHi[m];
    return ((hi >>> (shift - 32)) | 0) === this.mBLo[m] && this.mBHi[m] === 0;
  }

  /**
   * The entry of the deepest cached table on the walk of the input (u32 or int32 halves) in
   * `ctx`, or −1. Counts a hit or a miss. Allocation-free.
   */
  lookupParts(ctx: number, hi: number, lo: number): number {
    if (this.memoHolds(0, ctx, hi, lo)) {
      this.t.hits++;
      return this.mE[0]!;
    }
    if (this.memoHolds(1, ctx, hi, lo)) {
      this.t.hits++;
      const e = this.mE[1]!;
      this.swapMemo();
      return e;
    }
    const e = this.t.lookupParts(ctx, hi, lo);
    if (e >= 0) this.remember(ctx, e, hi, lo);
    return e;
  }

  /**
   * The common TLB miss in one step: when the remembered entry of the last lookup holds the
   * input (u32 or int32 halves) in `ctx`, was cached under config tag `tag` with its table's
   * words, and the descriptor for the input there is a leaf the access may use
   * (`lpaeFastLeaf`), fills `res` as `lpaeFastLeaf` does, counts a hit and returns true.
   * Otherwise returns false and counts nothing: the caller goes on with `lookupParts` and the
   * full walk, exactly as without this step.
   */
  fastLeaf(ctx: number, tag: number, cfg: LpaeWalkConfig, hi: number, lo: number, access: WalkAccess, res: Int32Array): boolean {
    if (!this.memoHolds(0, ctx, hi, lo)) return false;
    const e = this.mE[0]!;
    if (e !== this.leafE) this.decodeLeaf(e);
    const words = this.leafWords;
    if (words === null || this.leafTag !== tag || !lpaeFastLeaf(cfg, this.leafG, this.leafLevel, words, this.leafWb, this.leafTblHi, hi, lo, access, res)) return false;
    this.t.hits++;
    return true;
  }

  /**
   * Arms `leaf` for `SetTlb.fillLeaf` with the remembered entry (slot 0), when it holds the
   * input (halves) in `ctx`, was cached under `tag` with its table's words, and `cfg` is one
   * the step handles: a VMSAv8-64 stage 1 or 2 config with the fast walk (leaves as
   * `lpaeFastLeaf` takes them) or a Mali config (leaves as the Mali model takes them: type
   * 0b01 at levels 1-3, no access flag, `attr` the level), the table below the start level
   * and covering less than 4 GiB. Otherwise leaves it disarmed. Counts nothing.
   */
  primeLeaf(ctx: number, tag: number, cfg: LpaeWalkConfig, hi: number, lo: number): void {
    const m = this.leaf;
    m.wctx = NIL;
    if (!this.memoHolds(0, ctx, hi, lo)) return;
    const e = this.mE[0]!;
    const words = this.eWords[e]!;
    // The entry's fields decoded here from one read (`tag`, `level`, `granuleShift`): this runs
    // once per table, unoptimized for many tables, where every call costs.
    const attr = this.t.attr(e);
    if (words === null || attr >>> 5 !== tag) return;
    const mali = cfg.regime === 'mali';
    if (!(mali ? cfg.oaBits >= 32 && !cfg.identity && cfg.configError === null : cfg.fastWalk)) return;
    const level = attr & 3;
    const g = 12 + (((attr >>> 3) & 3) << 1);
    const bpl = g - 3;
    const shift = g + bpl * (3 - level);
    const span = this.mShift[0]!;
    if (level < 1 || span !== shift + bpl || span >= 32) return;
    if (mali) {
      if (g !== 12) return;
      m.leafMask = 3;
      m.leafVal = 1;
      m.attr = level;
    } else {
      // lpaeFastLeaf: a page at level 3, a block where the granule allows one; AF set.
      if (level !== 3 && !(g === 12 ? level === 1 || level === 2 : level === 2)) return;
      m.leafMask = 0x403;
      m.leafVal = level === 3 ? 0x403 : 0x401;
      m.attr = 0;
    }
    // The permission table depends only on the config and the table controls above the table:
    // rebuilt only when they differ from the last prime's (every level-3 table of a
    // translation regime normally shares them; the rebuild is 16 permission decodes, and
    // primes are rare enough that V8 runs them unoptimized for many samples of a bench).
    const tblHi = this.t.perms(e);
    if (m.permCfg !== cfg || m.permTblHi !== tblHi) {
      lpaeLeafPermTable(cfg, tblHi, m.perms);
      m.permCfg = cfg;
      m.permTblHi = tblHi;
    }
    m.tag = tag;
    m.cfg = cfg;
    m.span = span;
    m.bLo = this.mBLo[0]!;
    m.bHi = this.mBHi[0]!;
    m.words = words;
    m.wb = PhysMem.wordIndex(this.t.aux(e));
    m.shift = shift;
    m.idxMask = (1 << bpl) - 1;
    m.oaHiLimit = cfg.oaHiLimit;
    m.wctx = ctx;
  }

  private decodeLeaf(e: number): void {
    this.leafE = e;
    this.leafWords = this.eWords[e]!;
    this.leafWb = PhysMem.wordIndex(this.table(e));
    this.leafLevel = this.level(e);
    this.leafG = this.granuleShift(e);
    this.leafTblHi = this.tableHi(e);
    this.leafTag = this.tag(e);
  }

  private swapMemo(): void {
    this.leaf.wctx = NIL;
    const a = this.mCtx, b = this.mShift, c = this.mBLo, d = this.mBHi, e = this.mE;
    let x = a[0]!; a[0] = a[1]!; a[1] = x;
    x = b[0]!; b[0] = b[1]!; b[1] = x;
    x = c[0]!; c[0] = c[1]!; c[1] = x;
    x = d[0]!; d[0] = d[1]!; d[1] = x;
    x = e[0]!; e[0] = e[1]!; e[1] = x;
  }

  /**
   * Remembers `e` (found or made for the input (`hi`, `lo`)) in slot 0, moving slot 0 to slot
   * 1 — but only when no smaller block of its context can hold any input of its block: then
   * it is what a lookup of any input in the block returns. A remembered entry of the same
   * context is dropped (it may no longer be the deepest one).
   */
  private remember(ctx: number, e: number, hi: number, lo: number): void {
    this.leaf.wctx = NIL;
    const t = this.t;
    const shift = t.shift(e);
    if (this.mCtx[1] === ctx) {
      this.mCtx[1] = NIL;
      this.mE[1] = NIL;
    }
    if (this.mCtx[0] !== ctx) this.swapMemo(); // keep the other context's entry in slot 1
    if (shift !== t.smallestShift(ctx)) {
      this.mCtx[0] = NIL;
      this.mE[0] = NIL;
      return;
    }
    this.mCtx[0] = ctx;
    this.mShift[0] = shift;
    if (shift < 32) {
      this.mBLo[0] = ((lo >>> shift) | (hi << (32 - shift))) | 0;
      this.mBHi[0] = (hi >>> shift) | 0;
    } else {
      this.mBLo[0] = (hi >>> (shift - 32)) | 0;
      this.mBHi[0] = 0;
    }
    this.mE[0] = e;
  }

  private forget(): void {
    this.leaf.wctx = NIL;
    this.mCtx.fill(NIL);
    this.mE.fill(NIL);
    this.leafE = NIL;
  }

  /** Address of the entry's table. */
  table(e: number): number {
    return this.t.aux(e);
  }

  /** The backing words of the entry's table as given to `insertParts` (null if none were). */
  words(e: number): Uint32Array | null {
    return this.eWords[e]!;
  }

  /** Low word of the table descriptor that led to the entry's table (u32). */
  descLo(e: number): number {
    return this.eDesc[2 * e]! >>> 0;
  }

  /** High word of that descriptor (u32). */
  descHi(e: number): number {
    return this.eDesc[2 * e + 1]! >>> 0;
  }

  /** Level of the entry's table. */
  level(e: number): number {
    return this.t.attr(e) & 3;
  }

  /** Table range of the entry (0 = TTBR0/VTTBR, 1 = TTBR1). */
  range(e: number): number {
    return (this.t.attr(e) >>> 2) & 1;
  }

  /** Granule shift (12, 14 or 16) of the entry's table. */
  granuleShift(e: number): number {
    return 12 + (((this.t.attr(e) >>> 3) & 3) << 1);
  }

  /** Config tag of the entry. */
  /**
   * Prepares cursor `cur` for a walk of `cfg` whose walk-cache lookup gave entry `e` (−1: none):
   * when `e` holds a table found under `tag`, the walk resumes there and that table's level is
   * returned; otherwise the walk starts at the top and −1 is returned.
   */
  resumeCursor(e: number, tag: number, cfg: LpaeWalkConfig, cur: Float64Array): number {
    cur[CUR_LEVEL] = -1;
    if (e < 0 || this.tag(e) !== tag) return -1;
    const level = this.level(e);
    // What lpaeCursorResume does, written here: as arguments of a call V8 does not inline, the
    // table address and the descriptor words (above 2^31) would be heap numbers per walk.
    const range = this.range(e);
    cur[CUR_RANGE] = range;
    cur[CUR_LEVEL] = level;
    cur[CUR_BITS] = cfg.ranges[range]!.granuleShift - 3;
    cur[CUR_TABLE] = this.table(e);
    cur[CUR_TBLHI] = this.tableHi(e);
    cur[CUR_DESC_LO] = this.descLo(e);
    cur[CUR_DESC_HI] = this.descHi(e);
    return level;
  }

  /**
   * After a walk of `cfg` with cursor `cur` that began at level `from` (what `resumeCursor`
   * returned): caches the last table the walk reached for the input block keyed `kHi:kLo`, when
   * that table is below where the walk began and below the start level. Tables covering more
   * than 2^42 are not cached. `mem` gives the table's backing words (`words(e)`); null when the
   * table address is not a PA (an IPA of a nested stage-1 walk): the entry then has none.
   */
  fillFromCursor(ctx: number, kHi: number, kLo: number, tag: number, cfg: LpaeWalkConfig, cur: Float64Array, from: number, mem: PhysMem | null): void {
    const level = cur[CUR_LEVEL]!;
    const range = cur[CUR_RANGE]!;
    if (!(level > from && level > cfg.ranges[range]!.startLevel)) return;
    const span = lpaeCursorSpanShift(cfg, cur);
    if (span > 42) return;
    const t = cur[CUR_TABLE]!;
    const tHi = Math.floor(t / TWO32);
    this.insertParts(ctx, kHi, kLo, span, tHi, (t - tHi * TWO32) | 0, level, range, cfg.ranges[range]!.granuleShift, cur[CUR_TBLHI]!, tag, cur[CUR_DESC_LO]!, cur[CUR_DESC_HI]!, mem === null ? null : mem.backedChunk(t));
  }

  tag(e: number): number {
    return this.t.attr(e) >>> 5;
  }

  /** Table controls collected above the entry's table (the stage-1 walker's descriptor bits 63:32, OR-ed). */
  tableHi(e: number): number {
    return this.t.perms(e);
  }

  /** log2 of the input block the entry covers. */
  shift(e: number): number {
    return this.t.shift(e);
  }

  /** Input address of the start of the entry's block. */
  base(e: number): number {
    return this.t.base(e);
  }

  /**
   * Caches the table a walk of input (`hi`, `lo`) reached: it covers the aligned 2^`shift`
   * block holding the input; its address is given as u32 halves; `level` 0..3, `range` 0..1,
   * `granuleShift` 12, 14 or 16, `tag` 0..2^26 − 1 (config tag); `descLo`/`descHi` the table descriptor that led to the
   * table; `words` optionally the table's backing words (e.g. `PhysMem.backedChunk`), handed
   * back by `words(e)`. Replaces an entry for the same block. Returns the entry.
   */
  insertParts(ctx: number, hi: number, lo: number, shift: number, tableHi32: number, tableLo32: number, level: number, range: number, granuleShift: number, tblHi: number, tag: number, descLo = 0, descHi = 0, words: Uint32Array | null = null): number {
    const g = granuleShift === 12 ? 0 : granuleShift === 14 ? 1 : granuleShift === 16 ? 2 : -1;
    if (!(level >= 0 && level <= 3 && (range === 0 || range === 1) && g >= 0 && tag >= 0 && tag < WALK_CACHE_TAGS && (tag | 0) === tag)) {
      throw new RangeError(`walk cache: bad level ${level}, range ${range}, granule shift ${granuleShift} or tag ${tag}`);
    }
    const evictions = this.t.evictions;
    const e = this.t.insertHalves(ctx, hi, lo, shift, 0, 0, tblHi | 0, (tag << 5) | (g << 3) | (range << 2) | level, tableHi32 | 0, tableLo32 | 0);
    if (this.t.evictions !== evictions) this.forget(); // a full cache dropped entries
    if (e === this.leafE) this.leafE = NIL; // replaced in place
    const ew = this.eWords;
    while (ew.length <= e) ew.push(null);
    ew[e] = words;
    if (2 * e + 1 >= this.eDesc.length) {
      const d = new Int32Array(Math.max(this.eDesc.length * 2, 2 * e + 2));
      d.set(this.eDesc);
      this.eDesc = d;
    }
    this.eDesc[2 * e] = descLo | 0;
    this.eDesc[2 * e + 1] = descHi | 0;
    this.remember(ctx, e, hi, lo);
    return e;
  }

  /** Removes every entry. */
  invalidateAll(): void {
    this.forget();
    this.t.invalidateAll();
  }

  /** Removes the entries of context handle `ctx` whose block overlaps [start, end) (default all). */
  invalidateContext(ctx: number, start = 0, end = Infinity): void {
    this.forget();
    this.t.invalidateContext(ctx, start, end);
  }

  /** Removes the entries of context (`group`, `tag`) overlapping [start, end). */
  invalidateTag(group: number, tag: number, start = 0, end = Infinity): void {
    this.forget();
    this.t.invalidateTag(group, tag, start, end);
  }

  /** Removes the entries of every context of `group` overlapping [start, end). */
  invalidateGroup(group: number, start = 0, end = Infinity): void {
    this.forget();
    this.t.invalidateGroup(group, start, end);
  }

  /** Removes the entries overlapping [start, end) of every context `match(group, tag)` selects. */
  invalidateWhere(match: (group: number, tag: number) => boolean, start = 0, end = Infinity): void {
    this.forget();
    this.t.invalidateWhere(match, start, end);
  }
}
