/**
 * A TLB built the way hardware builds one: a fixed number of sets of a few ways each, held in
 * one flat Int32Array, where a lookup computes the set from the input block and compares the
 * tags of its ways, and a fill writes a handful of int32 slots of one way of that set. There is
 * no hash index, no per-context list and no object per entry; nothing is allocated after
 * construction.
 *
 * It has the interface of `Tlb` (./tlb.ts) that the models use (contexts, `lookupParts`,
 * `outputParts`/`outputHalves`, `perms`/`attr`, `insertHalves`, the invalidate* calls and the
 * counters; no `aux` payload: no model reads one back), and the same meaning with one
 * difference, which the architecture allows (a TLB may drop an entry at any time): an entry can be evicted when its *set* is full, not
 * only when the whole TLB is. Entries otherwise stay until an invalidation removes them, so a
 * driver that forgets one keeps seeing the old translation.
 *
 * Geometry. `capacity` entries (at most; default 16384) in `ways`-way sets (default 4; a power
 * of two from 1 to 16): sets = the largest power of two with sets × ways ≤ capacity (a TLB of
 * `ways` entries or fewer is one fully associative set). The block of 2^shift bytes numbered b
 * in a context goes to set (b_lo + start(context, shift, b_hi)) mod sets: the low bits of the
 * block number index the set as in hardware, so any contiguous range of n blocks of one
 * context and size puts at most ⌈n / sets⌉ entries in a set (a range of up to `capacity`
 * pages never conflicts with itself), and contexts and block sizes start at different sets.
 *
 * Eviction, when a fill finds every way of its set holding a live entry: `flush` empties the
 * set (counted in `flushes`; a TLB of one set behaves exactly like `Tlb`'s full flush),
 * `round-robin` replaces one way, the set's victim pointer cycling through its ways.
 *
 * Invalidation. Each context has a *stamp* that its entries carry; a lookup only matches an
 * entry with its context's current stamp. Invalidating a whole context (TLBI by ASID or VMID,
 * an address-space update) gives the context a new stamp: O(1), whatever the table size, and
 * its old entries are dead (their ways are free for fills). A range invalidation probes, for
 * each block size the context has held since its last whole invalidation, every block of that
 * size overlapping the range (so a 2 MiB or 1 GiB entry goes with a TLBI of any address inside
 * it); when that would take more probes than scanning the table, it scans the table instead.
 *
 * Live first. A fill takes the first free or dead way of its set (or replaces the block's live
 * entry in place), and entries never move, so in a set a live entry of a block in a context
 * comes before every other record still holding that block and context (a dead one, left by a
 * whole-context invalidation, or a freed one): a lookup stops at the first record holding the
 * block and context, live or not.
 *
 * An entry is eight int32 in one record (two per cache line): the input block number (low
 * word; high word and block size), the context's stamp and handle, the output address of the
 * block start as two halves, `perms` and `attr`. No 64-bit value passes through a float on a
 * lookup or a fill; `outputParts` forms the output as an exact number.
 */

import type { LpaeWalkConfig } from '../walk/lpae.js';
import type { TlbCounters, TlbEviction, WalkLeaf } from './tlb.js';
import { TlbContextIds } from './tlb-contexts.js';

const NIL = -1;
const TWO32 = 4294967296;
const INV_TWO32 = 1 / TWO32;
const MIN_SHIFT = 12;
const MAX_SHIFT = 42;

/**
 * Record of one way (eight int32, at 8 × entry): R_BLO the input block number's low word,
 * R_KEY its high word << 6 | the block shift, R_STAMP the context's stamp when filled (−1:
 * free), R_CTX the context handle, R_OAHI/R_OALO the output of the block start, R_PERMS,
 * R_ATTR. (The hot paths spell these offsets as literals: module constants cost bytecode.)
 */
const R_BLO = 0;
const R_KEY = 1;
const R_STAMP = 2;
const R_CTX = 3;
const R_OAHI = 4;
const R_OALO = 5;
const R_PERMS = 6;
const R_ATTR = 7;
const R_STRIDE = 8;

/** 2^s for s = 0..63 (a table: `2 ** s` with a variable s is a call to pow). */
const POW2 = new Float64Array(64).map((_, s) => 2 ** s);

/** Default number of entries. */
export const SET_TLB_DEFAULT_CAPACITY = 16384;
/** Default associativity. */
export const SET_TLB_DEFAULT_WAYS = 4;

export interface SetTlbOptions {
  /** Most entries held (default SET_TLB_DEFAULT_CAPACITY); the TLB holds sets × ways ≤ this. */
  readonly capacity?: number;
  /** Ways per set, a power of two 1..16 (default SET_TLB_DEFAULT_WAYS; fewer when capacity is smaller). */
  readonly ways?: number;
  /** What a fill into a full set does (default `flush`: empty that set). */
  readonly eviction?: TlbEviction;
  /**
   * Stamps are renumbered (one pass over the table) when the next one would reach this
   * (default 2^30). Only tests set it, to exercise the renumbering.
   */
  readonly stampLimit?: number;
}

/** The per-context part of the set index (context, block size, high half of the block number). */
/**
 * The set a context's block size starts at (added to the block number): Fibonacci hashing of
 * (context, shift, high half of the block number), the top `32 − o` bits of the product. For
 * the small consecutive handles contexts get, the starts are spread evenly over the sets (the
 * golden-ratio sequence), so the runs of several contexts' working sets overlap as little as
 * they can.
 */
function mix(ctx: number, shift: number, bHi: number, o: number): number {
  return Math.imul(((ctx << 6) + shift) ^ Math.imul(bHi, 0x27d4eb2f), 0x9e3779b9) >>> o;
}

export class SetTlb {
  /** Entries held at most (sets × ways). */
  readonly capacity: number;
  readonly ways: number;
  readonly sets: number;
  readonly eviction: TlbEviction;

  hits = 0;
  misses = 0;
  evictions = 0;
  flushes = 0;
  invalidated = 0;

  // The entry count and `inserts` are not counted on the fills: the count is the sum of the
  // contexts' counts (which fills keep anyway), and every insert either adds an entry or
  // replaces one of the same block in place (`replaced`), while entries leave only through
  // `evictions` and `invalidated`; so inserts = entries + evictions + invalidated + replaced,
  // less that sum at the last `resetCounters` (`insertBase`). Two read-modify-writes fewer
  // per fill (measured ~0.8 ns each on the SMMUv3's steady miss).
  /** Inserts that replaced a live entry of the same block in place (see `inserts`). */
  private replaced = 0;
  private insertBase = 0;
  private readonly wayBits: number;
  private readonly setMask: number;
  /** 32 − log2(sets): `mix` keeps the top bits of its product. */
  private readonly offShift: number;
  private readonly stampLimit: number;
  private nextStamp = 0;
  /** Per set: next way to replace (round-robin). */
  private readonly victim: Uint8Array;
  /** The ways, R_STRIDE int32 each, set after set. */
  private readonly rec: Int32Array;

  // ---- contexts ----
  private readonly ids = new TlbContextIds();
  private nCtx = 0;
  /**
   * Per context, 4 int32 at 4 × ctx: its stamp; a mask with bit (shift − 12) set when an entry
   * of that size was filled since the context was last wholly invalidated (a superset of the
   * sizes it holds: lookups probe those); the number of entries it holds.
   */
  private ci = new Int32Array(32);

  constructor(opts: SetTlbOptions = {}) {
    const cap = opts.capacity ?? SET_TLB_DEFAULT_CAPACITY;
    if (!Number.isInteger(cap) || cap < 1 || cap > 2 ** 24) throw new RangeError(`TLB: bad capacity ${cap}`);
    const w = opts.ways ?? SET_TLB_DEFAULT_WAYS;
    if (!Number.isInteger(w) || w < 1 || w > 16 || (w & (w - 1)) !== 0) throw new RangeError(`TLB: ways ${w} is not a power of two from 1 to 16`);
    const ev = opts.eviction ?? 'flush';
    if (ev !== 'flush' && ev !== 'round-robin') throw new RangeError(`TLB: unknown eviction policy ${String(ev)}`);
    const limit = opts.stampLimit ?? 2 ** 30;
    if (!Number.isInteger(limit) || limit < 2 || limit > 2 ** 30) throw new RangeError(`TLB: bad stamp limit ${limit}`);
    let ways: number;
    let sets: number;
    if (cap <= w) {
      ways = cap; // one fully associative set (any number of ways)
      sets = 1;
    } else {
      ways = w;
      sets = 1;
      while (sets * 2 * ways <= cap) sets *= 2;
    }
    this.ways = ways;
    this.sets = sets;
    this.capacity = sets * ways;
    this.eviction = ev;
    this.stampLimit = limit;
    this.setMask = sets - 1;
    this.offShift = 32 - (31 - Math.clz32(sets)); // 32 for one set: `>>> 32` shifts by 0, the mask clears it
    // Ways are addressed as set * wayStride + way; a non-power-of-two way count (only with one
    // set) still works since the set index is then 0.
    this.wayBits = ways === 1 ? 0 : 32 - Math.clz32(ways - 1);
    const slots = sets << this.wayBits;
    this.rec = new Int32Array(slots * R_STRIDE);
    for (let e = 0; e < slots; e++) this.rec[e * R_STRIDE + R_STAMP] = NIL;
    this.victim = new Uint8Array(sets);
  }

  /** Number of entries held (the sum of the contexts' counts). */
  get size(): number {
    const ci = this.ci;
    let n = 0;
    for (let c = 4 * this.nCtx - 2; c > 0; c -= 4) n += ci[c]!;
    return n;
  }

  /** Fills since the last `resetCounters` (derived: see `replaced`). */
  get inserts(): number {
    return this.size + this.evictions + this.invalidated + this.replaced - this.insertBase;
  }

  counters(): TlbCounters {
    return { hits: this.hits, misses: this.misses, inserts: this.inserts, evictions: this.evictions, flushes: this.flushes, invalidated: this.invalidated, entries: this.size };
  }

  resetCounters(): void {
    this.hits = this.misses = this.evictions = this.flushes = this.invalidated = this.replaced = 0;
    this.insertBase = this.size;
  }

  // =========================================================================================
  // Contexts (as Tlb)

  /** The handle of context (`group`, `tag`), created on first use; see `Tlb.context`. */
  context(group: number, tag: number): number {
    const id = this.ids.intern(group, tag);
    if (id === this.nCtx) {
      if (4 * id >= this.ci.length) {
        const b = new Int32Array(this.ci.length * 2);
        b.set(this.ci);
        this.ci = b;
      }
      this.ci[4 * id] = this.newStamp();
      this.nCtx = id + 1;
    }
    return id;
  }

  findContext(group: number, tag: number): number {
    return this.ids.find(group, tag);
  }

  contextGroup(ctx: number): number {
    return this.ids.group(ctx);
  }

  contextTag(ctx: number): number {
    return this.ids.tag(ctx);
  }

  /** Entries held for a context. */
  contextSize(ctx: number): number {
    return ctx >= 0 && ctx < this.nCtx ? this.ci[4 * ctx + 2]! : 0;
  }

  // =========================================================================================
  // The hot path

  /** The entry translating input `addr` (a number below 2^53) in `ctx`, or −1; counts a hit or miss. */
  lookup(ctx: number, addr: number): number {
    return this.lookupParts(ctx, (addr / TWO32) >>> 0, addr >>> 0);
  }

  /** `lookup` for a 64-bit input given as u32 (or int32) halves. Allocation-free. */
  lookupParts(ctx: number, hi: number, lo: number): number {
    let m = this.ci[4 * ctx + 1]!;
    const stamp = this.ci[4 * ctx]!;
    const rec = this.rec;
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
        bLo = (hi >>> (shift - 32)) | 0;
        bHi = 0;
      }
      const key = (bHi << 6) | shift;
      let r = (((bLo + mix(ctx, shift, bHi, this.offShift)) & this.setMask) << this.wayBits) << 3;
      for (let w = this.ways; w > 0; w--, r += 8) {
        if (rec[r] === bLo && rec[r + 1] === key) {
          if (rec[r + 2] === stamp) {
            this.hits++;
            return r >> 3;
          }
          // This block of this context, dead or freed: no way after it holds the block live
          // (see "Live first" above), so the probe of this size stops (a miss after a TLBI
          // usually finds the page's own dead entry in the set's first way).
          if (rec[r + 3] === ctx) break;
        }
      }
    }
    this.misses++;
    return NIL;
  }

  /**
   * `lookupParts` for a context holding exactly one block size below 4 GiB (the common case:
   * 4 KiB pages only): the same probe, the same answer and counts. For any other context
   * (several sizes, a size of 4 GiB or more, none) it returns −2 having counted nothing, and
   * the caller uses `lookupParts`. Written for few bytes of bytecode (`mix` written out), so
   * that V8 inlines it with a model's hot translation path into the model's callers (see
   * `SmmuV3.translateParts`).
   */
  lookupOne(ctx: number, hi: number, lo: number): number {
    const ci = this.ci;
    const m = ci[4 * ctx + 1]!;
    // Not exactly one size bit, or a size of 4 GiB or more (bit 20 up), or none.
    if ((m & (m - 1)) !== 0 || (m - 1) >>> 0 >= 0xfffff) return -2;
    const shift = 43 - Math.clz32(m);
    const bLo = (lo >>> shift) | (hi << (32 - shift));
    const bHi = hi >>> shift;
    const key = (bHi << 6) | shift;
    const stamp = ci[4 * ctx]!;
    const rec = this.rec;
    let r = (((bLo + (Math.imul(((ctx << 6) + shift) ^ Math.imul(bHi, 0x27d4eb2f), 0x9e3779b9) >>> this.offShift)) & this.setMask) << this.wayBits) << 3; // `mix` written out
    for (let w = this.ways; w > 0; w--, r += 8) {
      if (rec[r] === bLo && rec[r + 1] === key) {
        if (rec[r + 2] === stamp) {
          this.hits++;
          return r >> 3;
        }
        if (rec[r + 3] === ctx) break; // as in `lookupParts` ("Live first")
      }
    }
    this.misses++;
    return NIL;
  }

  /**
   * `lookupOne` for a context holding any number of block sizes, all below 4 GiB (the Mali
   * MMU's 4 KiB pages beside 2 MiB blocks): the same probes as `lookupParts`, smallest size
   * first, the same answer and counts. For a context holding a size of 4 GiB or more, or none,
   * it returns −2 having counted nothing (the caller uses `lookupParts`). Written for few bytes
   * of bytecode, for the same reason as `lookupOne` (see `MaliMmu.translateParts`).
   */
  lookupSmall(ctx: number, hi: number, lo: number): number {
    const ci = this.ci;
    let m = ci[4 * ctx + 1]!;
    // None, or a size of 4 GiB or more (bit 20 up).
    if ((m - 1) >>> 0 >= 0xfffff) return -2;
    const stamp = ci[4 * ctx]!;
    const rec = this.rec;
    do {
      const bit = m & -m;
      m ^= bit;
      const shift = 43 - Math.clz32(bit);
      const bLo = (lo >>> shift) | (hi << (32 - shift));
      const bHi = hi >>> shift;
      const key = (bHi << 6) | shift;
      let r = (((bLo + (Math.imul(((ctx << 6) + shift) ^ Math.imul(bHi, 0x27d4eb2f), 0x9e3779b9) >>> this.offShift)) & this.setMask) << this.wayBits) << 3; // `mix` written out
      for (let w = this.ways; w > 0; w--, r += 8) {
        if (rec[r] === bLo && rec[r + 1] === key) {
          if (rec[r + 2] === stamp) {
            this.hits++;
            return r >> 3;
          }
          if (rec[r + 3] === ctx) break; // as in `lookupParts` ("Live first")
        }
      }
    } while (m !== 0);
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
    return this.outputBase(e) + (addr - this.base(e));
  }

  /** Output address of the input given as halves through entry `e` (exact). */
  outputParts(e: number, hi: number, lo: number): number {
    const r = e << 3;
    const rec = this.rec;
    const s = rec[r + 1]! & 63;
    if (s < 32) return rec[r + 4]! * TWO32 + ((rec[r + 5]! >>> 0) + ((lo & ((1 << s) - 1)) >>> 0));
    return (rec[r + 4]! + (hi & ((1 << (s - 32)) - 1))) * TWO32 + ((rec[r + 5]! >>> 0) + (lo >>> 0));
  }

  /**
   * `outputParts` as one expression for every block size: fewer bytes of bytecode (103
   * against 145, for a path V8 must inline under a budget: `SmmuV3.translateParts`), a few
   * more operations (the Mali MMU's hits were ~0.3 ns slower with it, so they keep
   * `outputParts`).
   */
  outputFlat(e: number, hi: number, lo: number): number {
    const r = e << 3;
    const rec = this.rec;
    const s = rec[r + 1]! & 63;
    // Shift counts are taken mod 32, so k is the offset mask in lo below 2^32-byte blocks and
    // in hi from there (where all of lo is offset): b is 0, or −1 from 2^32 bytes.
    const k = (1 << s) - 1;
    const b = -(s >> 5);
    return (rec[r + 4]! + (hi & k & b)) * 4294967296 + ((rec[r + 5]! >>> 0) + ((lo & (k | b)) >>> 0));
  }

  /** `outputParts` as int32 halves in `res[0]` (high) and `res[1]` (low). */
  outputHalves(e: number, hi: number, lo: number, res: Int32Array): void {
    const r = e * R_STRIDE;
    const rec = this.rec;
    const s = rec[r + R_KEY]! & 63;
    // The block's output start need not be aligned to 2^s: add the offset with the carry.
    const oLo = rec[r + R_OALO]! >>> 0;
    if (s < 32) {
      const sum = oLo + ((lo & ((1 << s) - 1)) >>> 0);
      res[0] = rec[r + R_OAHI]! + (sum >= TWO32 ? 1 : 0);
      res[1] = sum | 0;
    } else {
      const sum = oLo + (lo >>> 0);
      res[0] = rec[r + R_OAHI]! + (hi & ((1 << (s - 32)) - 1)) + (sum >= TWO32 ? 1 : 0);
      res[1] = sum | 0;
    }
  }

  perms(e: number): number {
    return this.rec[(e << 3) + 6]!;
  }

  attr(e: number): number {
    return this.rec[e * R_STRIDE + R_ATTR]!;
  }

  /** log2 of the entry's block size. */
  shift(e: number): number {
    return this.rec[e * R_STRIDE + R_KEY]! & 63;
  }

  /** Input address of the entry's block start (exact below 2^53). */
  base(e: number): number {
    const r = e * R_STRIDE;
    const k = this.rec[r + R_KEY]!;
    return ((k >>> 6) * TWO32 + (this.rec[r + R_BLO]! >>> 0)) * POW2[k & 63]!;
  }

  /** Output address of the entry's block start. */
  outputBase(e: number): number {
    const r = e * R_STRIDE;
    return this.rec[r + R_OAHI]! * TWO32 + (this.rec[r + R_OALO]! >>> 0);
  }

  /** The context handle of an entry. */
  entryContext(e: number): number {
    return this.rec[e * R_STRIDE + R_CTX]!;
  }

  // =========================================================================================
  // Filling

  /** See `Tlb.insert`: caches the 2^shift block holding `addr`, `pa` being the output of `addr`. */
  insert(ctx: number, addr: number, shift: number, pa: number, perms: number, attr = 0): number {
    if (!(addr >= 0 && addr < 2 ** 53)) throw new RangeError(`TLB: input address ${addr} is not a number below 2^53`);
    const aHi = Math.floor(addr * INV_TWO32);
    return this.insertParts(ctx, aHi, (addr - aHi * TWO32) | 0, shift, pa, perms, attr);
  }

  /** `insert` for an input address given as halves. */
  insertParts(ctx: number, hi: number, lo: number, shift: number, pa: number, perms: number, attr = 0): number {
    const pHi = Math.floor(pa * INV_TWO32);
    return this.insertHalves(ctx, hi | 0, lo | 0, shift, pHi | 0, (pa - pHi * TWO32) | 0, perms, attr);
  }

  /**
   * `insert` with the input and the output of the input address itself as 32-bit halves.
   * An entry for the same block is replaced in place. Returns the entry.
   *
   * Kept small enough for V8 to inline into a model's miss path: the common fill (a block
   * below 4 GiB whose set has way 0 free or dead and no other way holding the same block) is
   * eight int32 stores into one record here; anything else goes to `insertSlow`, which does
   * the same in general (same-block replacement, any free way, eviction).
   */
  insertHalves(ctx: number, hi: number, lo: number, shift: number, paHi: number, paLo: number, perms: number, attr: number): number {
    if (ctx >= 0 && ctx < this.nCtx && shift >= 12 && shift < 32) {
      const bLo = (lo >>> shift) | (hi << (32 - shift));
      const bHi = hi >>> shift;
      const first = ((bLo + mix(ctx, shift, bHi, this.offShift)) & this.setMask) << this.wayBits;
      const rec = this.rec;
      const r = first << 3;
      const s0 = rec[r + 2]!;
      const ci = this.ci;
      const c = 4 * ctx;
      const stamp = ci[c]!;
      const key = (bHi << 6) | shift;
      if ((s0 < 0 || s0 !== ci[4 * rec[r + 3]!]) && !this.holdsBeyond0(r, bLo, key, stamp)) {
        const off = lo & ((1 << shift) - 1); // < 2^31
        rec[r] = bLo;
        rec[r + 1] = key;
        rec[r + 2] = stamp;
        rec[r + 3] = ctx;
        // Output of the block start: pa − off, with the borrow.
        rec[r + 4] = paHi - ((paLo >>> 0) < off ? 1 : 0);
        rec[r + 5] = paLo - off;
        rec[r + 6] = perms;
        rec[r + 7] = attr;
        ci[c + 1]! |= 1 << (shift - 12);
        ci[c + 2]!++;
        return first;
      }
    }
    return this.insertSlow(ctx, hi, lo, shift, paHi, paLo, perms, attr);
  }

  /**
   * The common TLB miss in one step, for a model whose lookup of the input (u32 or int32
   * halves) missed: when walk-cache leaf `m` is armed for walk-cache context `wctx`,
   * config tag `tag` and config `cfg` and its table covers the input, reads the input's
   * descriptor there; when that is a leaf (`m.leafMask`/`m.leafVal`) whose output is in range
   * and whose permissions (`m.perms`) include every bit of `need` (see `permBit`), counts a
   * walk-cache hit (`m.hits`), fills the TLB with the leaf's block in context `ctxNg` when the
   * descriptor's bit 11 (nG) is set, else `ctxG` (the same handle for models without global
   * entries), with `attr` `m.attr`, and returns the entry (`outputParts` gives the output).
   * Otherwise returns −1 having changed and counted nothing: the caller then goes on with its
   * general miss path, which finds the same answer (`WalkCache.fastLeaf`, the walker).
   *
   * `missed`: the caller's `lookupParts` of this same input in `ctxNg` and `ctxG` has just
   * missed, with nothing filled since. Then no way holds a block of the input in either
   * context (the lookup compared every way of the block's set for every size the context may
   * hold), and the fill skips the same-block check; pass false otherwise.
   *
   * One function with no call on its common path (fields read once, offsets literal, the set
   * index computed in place) so that V8 compiles the miss as one unit; a fill that does not
   * find way 0 of its set free or dead, or finds the block in another way, goes to
   * `insertSlow` as `insertHalves` does.
   */
  fillLeaf(ctxNg: number, ctxG: number, wctx: number, tag: number, cfg: LpaeWalkConfig, hi: number, lo: number, need: number, m: WalkLeaf, missed: boolean): number {
    if (m.wctx !== wctx || m.tag !== tag || m.cfg !== cfg) return NIL;
    const sp = m.span;
    if (((lo >>> sp) | (hi << (32 - sp))) !== m.bLo || (hi >>> sp) !== m.bHi) return NIL;
    const s = m.shift;
    const wi = m.wb + (((lo >>> s) & m.idxMask) << 1);
    const words = m.words;
    const dlo = words[wi]! | 0;
    const dhi = words[wi + 1]! | 0;
    if ((dlo & m.leafMask) !== m.leafVal) return NIL;
    const oaHi = dhi & 0xffff;
    if (oaHi >= m.oaHiLimit) return NIL;
    const perms = m.perms[((dlo >>> 6) & 3) | ((dhi >>> 19) & 12)]!;
    if ((perms & need) !== need) return NIL;
    m.hits++;
    const ctx = (dlo & 0x800) === 0 ? ctxG : ctxNg;
    const oaLo = dlo & ~((1 << s) - 1); // the output of the block start (the leaf's address bits)
    // The TLB entry: block number, set (as in `insertHalves`, `mix` written out).
    const bLo = (lo >>> s) | (hi << (32 - s));
    const bHi = hi >>> s;
    const key = (bHi << 6) | s;
    const first = ((bLo + (Math.imul(((ctx << 6) + s) ^ Math.imul(bHi, 0x27d4eb2f), 0x9e3779b9) >>> this.offShift)) & this.setMask) << this.wayBits;
    const rec = this.rec;
    const ci = this.ci;
    const c = ctx << 2;
    const r = first << 3;
    const s0 = rec[r + 2]!;
    if (ctx >= 0 && ctx < this.nCtx && (s0 < 0 || s0 !== ci[rec[r + 3]! << 2])) {
      const stamp = ci[c]!;
      let w = this.ways - 1;
      // Another way holding the block would be replaced in place (insertSlow); none can when
      // the caller's lookup of this input just missed (`missed`).
      if (!missed) {
        for (let q = r + 8; w > 0; w--, q += 8) if (rec[q] === bLo && rec[q + 1] === key && rec[q + 2] === stamp) break;
      } else w = 0;
      if (w === 0) {
        rec[r] = bLo;
        rec[r + 1] = key;
        rec[r + 2] = stamp;
        rec[r + 3] = ctx;
        rec[r + 4] = oaHi;
        rec[r + 5] = oaLo;
        rec[r + 6] = perms;
        rec[r + 7] = m.attr;
        ci[c + 1]! |= 1 << (s - 12);
        ci[c + 2]!++;
        return first;
      }
    }
    return this.insertSlow(ctx, hi, lo, s, oaHi, oaLo | (lo & ((1 << s) - 1)), perms, m.attr);
  }

  /** True when a way after the first of the set at record offset `r` holds block `bLo`/`key` under `stamp`. */
  private holdsBeyond0(r: number, bLo: number, key: number, stamp: number): boolean {
    const rec = this.rec;
    for (let w = this.ways - 1; w > 0; w--) {
      r += 8;
      if (rec[r] === bLo && rec[r + 1] === key && rec[r + 2] === stamp) return true;
    }
    return false;
  }

  /** `insertHalves` in general. */
  private insertSlow(ctx: number, hi: number, lo: number, shift: number, paHi: number, paLo: number, perms: number, attr: number): number {
    if (!(ctx >= 0 && ctx < this.nCtx && (ctx | 0) === ctx && shift >= MIN_SHIFT && shift <= MAX_SHIFT && (shift | 0) === shift)) this.badFill(ctx, shift);
    let bLo: number;
    let bHi: number;
    let oaHi: number;
    let oaLo: number;
    if (shift < 32) {
      bLo = (lo >>> shift) | (hi << (32 - shift));
      bHi = hi >>> shift;
      const off = (lo & ((1 << shift) - 1)) >>> 0;
      const pl = paLo >>> 0;
      oaLo = (pl - off) | 0;
      oaHi = (paHi - (pl < off ? 1 : 0)) | 0;
    } else {
      bLo = (hi >>> (shift - 32)) | 0;
      bHi = 0;
      oaHi = (paHi - (hi & ((1 << (shift - 32)) - 1)) - ((paLo >>> 0) < (lo >>> 0) ? 1 : 0)) | 0;
      oaLo = (paLo - lo) | 0;
    }
    const key = (bHi << 6) | shift;
    const stamp = this.ci[4 * ctx]!;
    const set = (bLo + mix(ctx, shift, bHi, this.offShift)) & this.setMask;
    const rec = this.rec;
    const first = set << this.wayBits;
    let e = NIL;
    for (let w = 0; w < this.ways; w++) {
      const r = (first + w) * R_STRIDE;
      const s = rec[r + R_STAMP]!;
      if (s === stamp) {
        if (rec[r + R_BLO] === bLo && rec[r + R_KEY] === key) {
          rec[r + R_OAHI] = oaHi;
          rec[r + R_OALO] = oaLo;
          rec[r + R_PERMS] = perms;
          rec[r + R_ATTR] = attr;
          this.replaced++;
          return first + w;
        }
      } else if (e < 0 && (s < 0 || s !== this.ci[4 * rec[r + R_CTX]!])) {
        e = first + w; // free, or dead (its context was wholly invalidated since)
      }
    }
    if (e < 0) e = this.evict(set, first);
    const r = e * R_STRIDE;
    rec[r + R_BLO] = bLo;
    rec[r + R_KEY] = key;
    rec[r + R_STAMP] = stamp;
    rec[r + R_CTX] = ctx;
    rec[r + R_OAHI] = oaHi;
    rec[r + R_OALO] = oaLo;
    rec[r + R_PERMS] = perms;
    rec[r + R_ATTR] = attr;
    this.ci[4 * ctx + 1]! |= 1 << (shift - MIN_SHIFT);
    this.ci[4 * ctx + 2]!++;
    return e;
  }

  private badFill(ctx: number, shift: number): never {
    if (!(ctx >= 0 && ctx < this.nCtx && (ctx | 0) === ctx)) throw new RangeError(`TLB: unknown context ${ctx}`);
    throw new RangeError(`TLB: block shift ${shift} outside ${MIN_SHIFT}..${MAX_SHIFT}`);
  }

  /** Every way of `set` (first way `first`) holds a live entry: makes room, returns the way to fill. */
  private evict(set: number, first: number): number {
    if (this.eviction === 'flush') {
      for (let w = 0; w < this.ways; w++) this.drop(first + w);
      this.evictions += this.ways;
      this.flushes++;
      return first;
    }
    const w = this.victim[set]!;
    this.victim[set] = w + 1 >= this.ways ? 0 : w + 1;
    this.drop(first + w);
    this.evictions++;
    return first + w;
  }

  /** Frees live entry `e` (counts nothing but the entry counts). */
  private drop(e: number): void {
    const r = e * R_STRIDE;
    this.rec[r + R_STAMP] = NIL;
    this.ci[4 * this.rec[r + R_CTX]! + 2]!--;
  }

  /** Entry with exactly this key in `ctx` (live), or −1. */
  private find(ctx: number, shift: number, bLo: number, bHi: number): number {
    const key = (bHi << 6) | shift;
    const stamp = this.ci[4 * ctx]!;
    const first = ((bLo + mix(ctx, shift, bHi, this.offShift)) & this.setMask) << this.wayBits;
    bLo |= 0;
    for (let w = 0; w < this.ways; w++) {
      const r = (first + w) * R_STRIDE;
      if (this.rec[r + R_BLO] === bLo && this.rec[r + R_KEY] === key && this.rec[r + R_STAMP] === stamp) return first + w;
    }
    return NIL;
  }

  /** Drops the live entries of `ctx` for block (`bLo`, `bHi`) of size 2^shift (a range invalidation's probe). */
  private dropBlock(ctx: number, shift: number, bLo: number, bHi: number): void {
    const key = (bHi << 6) | shift;
    const stamp = this.ci[4 * ctx]!;
    const rec = this.rec;
    let r = (((bLo + mix(ctx, shift, bHi, this.offShift)) & this.setMask) << this.wayBits) << 3;
    for (let w = this.ways; w > 0; w--, r += 8) {
      if (rec[r] === bLo && rec[r + 1] === key && rec[r + 2] === stamp) {
        rec[r + 2] = NIL;
        this.ci[4 * ctx + 2]!--;
      }
    }
  }

  private newStamp(): number {
    if (this.nextStamp >= this.stampLimit) this.renumber();
    return this.nextStamp++;
  }

  /**
   * Gives every context a small stamp again (its index) and rewrites its live entries' stamps;
   * dead entries become free. One pass over the table, once per `stampLimit` new stamps.
   */
  private renumber(): void {
    const rec = this.rec;
    for (let r = 0; r < rec.length; r += R_STRIDE) {
      const s = rec[r + R_STAMP]!;
      if (s < 0) continue;
      const c = rec[r + R_CTX]!;
      rec[r + R_STAMP] = s === this.ci[4 * c] ? c : NIL;
    }
    for (let c = 0; c < this.nCtx; c++) this.ci[4 * c] = c;
    this.nextStamp = this.nCtx;
  }

  // =========================================================================================
  // Invalidation

  /** Removes every entry. */
  invalidateAll(): void {
    for (let c = 0; c < this.nCtx; c++) if (this.ci[4 * c + 2]! > 0 || this.ci[4 * c + 1]! !== 0) this.dropContext(c);
  }

  /** Makes every entry of `ctx` dead at once (a new stamp) and counts them invalidated. */
  private dropContext(ctx: number): void {
    const n = this.ci[4 * ctx + 2]!;
    this.invalidated += n;
    this.ci[4 * ctx + 2] = 0;
    this.ci[4 * ctx + 1] = 0;
    this.ci[4 * ctx] = this.newStamp();
  }

  /**
   * Removes the entries of `ctx` whose input block overlaps [start, end) (default: all). A
   * whole context is O(1); a range probes each block of each size the context may hold that
   * overlaps it, or scans the table when that is fewer steps (either stops once the context
   * holds nothing).
   */
  invalidateContext(ctx: number, start = 0, end = Infinity): void {
    if (!(ctx >= 0 && ctx < this.nCtx) || !(end > start)) return;
    if (this.ci[4 * ctx + 2] === 0) {
      this.ci[4 * ctx + 1] = 0; // nothing held: no size needs probing
      return;
    }
    if (start <= 0 && end === Infinity) {
      this.dropContext(ctx);
      return;
    }
    const limit = this.capacity / this.ways;
    let probes = 0;
    for (let m = this.ci[4 * ctx + 1]!; m !== 0 && probes <= limit; ) {
      const bit = m & -m;
      m ^= bit;
      const size = POW2[43 - Math.clz32(bit)]!;
      probes += Math.ceil(end / size) - Math.floor(Math.max(0, start) / size);
    }
    const before = this.ci[4 * ctx + 2]!; // only this context's entries go
    if (probes <= limit) {
      for (let m = this.ci[4 * ctx + 1]!; m !== 0; ) {
        const bit = m & -m;
        m ^= bit;
        const shift = 43 - Math.clz32(bit);
        const size = POW2[shift]!;
        const b0 = Math.floor(Math.max(0, start) / size);
        let n = Math.ceil(end / size) - b0;
        // Block numbers as int32 halves, stepped with the carry (no float per probe).
        let bHi = Math.floor(b0 / TWO32);
        let bLo = (b0 - bHi * TWO32) | 0;
        bHi |= 0;
        for (; n > 0 && this.ci[4 * ctx + 2]! > 0; n--) {
          this.dropBlock(ctx, shift, bLo, bHi);
          bLo = (bLo + 1) | 0;
          if (bLo === 0) bHi++;
        }
      }
    } else {
      const stamp = this.ci[4 * ctx]!;
      const rec = this.rec;
      const n = rec.length / R_STRIDE;
      const ci = this.ci;
      for (let e = 0; e < n && ci[4 * ctx + 2]! > 0; e++) {
        if (rec[e * R_STRIDE + R_STAMP] !== stamp) continue;
        const base = this.base(e);
        if (base < end && base + POW2[rec[e * R_STRIDE + R_KEY]! & 63]! > start) this.drop(e);
      }
    }
    this.invalidated += before - this.ci[4 * ctx + 2]!;
    if (this.ci[4 * ctx + 2] === 0) this.ci[4 * ctx + 1] = 0;
  }

  /** Removes the entries of context (`group`, `tag`) overlapping [start, end). */
  invalidateTag(group: number, tag: number, start = 0, end = Infinity): void {
    const ctx = this.findContext(group, tag);
    if (ctx >= 0) this.invalidateContext(ctx, start, end);
  }

  /** Removes the entries of every context of `group` overlapping [start, end). */
  invalidateGroup(group: number, start = 0, end = Infinity): void {
    for (const ctx of this.ids.ofGroup(group)) this.invalidateContext(ctx, start, end);
  }

  /** Removes the entries overlapping [start, end) of every context `match(group, tag)` selects. */
  invalidateWhere(match: (group: number, tag: number) => boolean, start = 0, end = Infinity): void {
    for (let ctx = 0; ctx < this.nCtx; ctx++) {
      if (this.ci[4 * ctx + 2]! > 0 && match(this.ids.group(ctx), this.ids.tag(ctx))) this.invalidateContext(ctx, start, end);
    }
  }
}
