import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PhysMem } from '../src/mem.js';
import { WalkCache } from '../src/models/tlb.js';
import {
  createLpaeCursor,
  CUR_DESC_HI,
  CUR_DESC_LO,
  CUR_LEVEL,
  CUR_RANGE,
  CUR_TABLE,
  CUR_TBLHI,
  FAST_DESC_LO,
  FAST_OA_HI,
  FAST_OA_LO,
  FAST_PERMS,
  FAST_SHIFT,
  FAST_SLOTS,
  lpaeCursorResume,
  lpaeCursorSpanShift,
  lpaeFastLeaf,
  lpaeS1Config,
  lpaeS2Config,
  walkLpaeFast,
  walkLpaeParts,
  type LpaeWalkConfig,
} from '../src/walk/lpae.js';
import { createWalkResult, type WalkAccess, type WalkResult } from '../src/walk/types.js';

const RAM = 0x4000_0000;
const TWO32 = 2 ** 32;

describe('WalkCache', () => {
  it('finds the deepest cached table of an input, keeps its fields and backing words, and drops entries by range', () => {
    const wc = new WalkCache({ capacity: 64 });
    const c = wc.context(0, 5);
    const words = new Uint32Array(8);
    // A level-2 table covering 1 GiB and a level-3 table covering 2 MiB inside it.
    const l2 = wc.insertParts(c, 0x80, 0x4000_0000, 30, 0x1, 0x2000_0000, 2, 0, 12, 0x1800_0000, 7);
    const l3 = wc.insertParts(c, 0x80, 0x4020_0000, 21, 0x0, 0x4123_4000, 3, 1, 16, 0, 9, 0xc123_4003, 0x8000_0000, words);
    expect(wc.lookupParts(c, 0x80, 0x4020_1234)).toBe(l3);
    expect([wc.table(l3), wc.level(l3), wc.range(l3), wc.tag(l3), wc.tableHi(l3), wc.shift(l3), wc.base(l3), wc.words(l3), wc.descLo(l3), wc.descHi(l3), wc.granuleShift(l3)]).toEqual([0x4123_4000, 3, 1, 9, 0, 21, 0x80 * TWO32 + 0x4020_0000, words, 0xc123_4003, 0x8000_0000, 16]);
    expect(wc.lookupParts(c, 0x80, 0x4060_0000)).toBe(l2);
    expect([wc.table(l2), wc.level(l2), wc.range(l2), wc.tag(l2), wc.tableHi(l2), wc.words(l2), wc.granuleShift(l2)]).toEqual([TWO32 + 0x2000_0000, 2, 0, 7, 0x1800_0000, null, 12]);
    // The remembered entry never hides a deeper one.
    expect(wc.lookupParts(c, 0x80, 0x4020_0008)).toBe(l3);
    expect(wc.lookupParts(c, 0x80, 0x4070_0000)).toBe(l2);
    expect(wc.lookupParts(c, 0x80, 0x4020_0010)).toBe(l3);
    expect(wc.lookupParts(wc.context(0, 6), 0x80, 0x4020_0010)).toBe(-1);
    // Dropping an address inside the level-3 block drops both tables on its walk.
    wc.invalidateTag(0, 5, 0x80 * TWO32 + 0x4020_0000, 0x80 * TWO32 + 0x4020_1000);
    expect(wc.lookupParts(c, 0x80, 0x4020_1234)).toBe(-1);
    expect(wc.lookupParts(c, 0x80, 0x4060_0000)).toBe(-1);
    expect(wc.size).toBe(0);
    expect(() => wc.insertParts(c, 0, 0, 21, 0, 0, 4, 0, 12, 0, 0)).toThrow(RangeError);
  });

  it('remembers the last entries of two contexts (stage 1 and stage 2 of a nested walk) without ever answering differently from a full lookup', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({ op: fc.constant('insert' as const), ctx: fc.nat(2), block: fc.nat(15), deep: fc.boolean() }),
            fc.record({ op: fc.constant('lookup' as const), ctx: fc.nat(2), page: fc.nat(16 * 512 - 1) }),
            fc.record({ op: fc.constant('inv' as const), ctx: fc.nat(2), block: fc.nat(15) }),
          ),
          { maxLength: 60 },
        ),
        fc.integer({ min: 2, max: 12 }),
        (ops, capacity) => {
          const wc = new WalkCache({ capacity });
          // The reference: a second cache with the same entries, asked without its remembered
          // entries every time.
          const ref = new WalkCache({ capacity });
          const ctxs = [0, 1, 2].map((t) => wc.context(1, t));
          const rctxs = [0, 1, 2].map((t) => ref.context(1, t));
          const span = (deep: boolean) => (deep ? 21 : 30);
          for (const o of ops) {
            if (o.op === 'insert') {
              // 2 MiB blocks 0..15 and the 1 GiB block 0 that holds them all.
              const lo = o.deep ? o.block * 0x20_0000 : 0;
              wc.insertParts(ctxs[o.ctx]!, 0, lo, span(o.deep), 0, 0x1000 * (o.block + 1), o.deep ? 3 : 2, 0, 12, 0, 1);
              ref.insertParts(rctxs[o.ctx]!, 0, lo, span(o.deep), 0, 0x1000 * (o.block + 1), o.deep ? 3 : 2, 0, 12, 0, 1);
            } else if (o.op === 'inv') {
              wc.invalidateContext(ctxs[o.ctx]!, o.block * 0x20_0000, o.block * 0x20_0000 + 1);
              ref.invalidateContext(rctxs[o.ctx]!, o.block * 0x20_0000, o.block * 0x20_0000 + 1);
            } else {
              const e = wc.lookupParts(ctxs[o.ctx]!, 0, o.page * 0x1000);
              // The reference forgets what it remembered before every lookup: a full lookup.
              (ref as unknown as { forget(): void }).forget();
              const r = ref.lookupParts(rctxs[o.ctx]!, 0, o.page * 0x1000);
              expect(e < 0).toBe(r < 0);
              if (e >= 0) expect([wc.table(e), wc.level(e), wc.shift(e)]).toEqual([ref.table(r), ref.level(r), ref.shift(r)]);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('rejects bad entries', () => {
    const wc = new WalkCache({ capacity: 64 });
    const c = wc.context(0, 5);
    expect(() => wc.insertParts(c, 0, 0, 21, 0, 0, 3, 0, 12, 0, 2 ** 26)).toThrow(RangeError);
    expect(() => wc.insertParts(c, 0, 0, 21, 0, 0, 3, 0, 13, 0, 0)).toThrow(RangeError);
  });
});

// ---------------------------------------------------------------------------------------------
// The fast walk and the cursor against the full walker, on random 4-level tables.

const R: WalkAccess = { write: false, exec: false, priv: false };
const ACCESSES: WalkAccess[] = [R, { write: true, exec: false, priv: false }, { write: false, exec: true, priv: true }, { write: true, exec: false, priv: true }];

/** Random descriptors (valid or not, tables, blocks, pages, odd attributes) in a few table pages. */
function randomTables(seed: number, stage: 1 | 2): { mem: PhysMem; cfg: LpaeWalkConfig } {
  const mem = new PhysMem([{ base: RAM, size: 8 << 20 }]);
  let x = seed >>> 0 || 1;
  const rnd = (): number => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  const pages = 8;
  const table = (i: number) => RAM + i * 4096;
  for (let p = 0; p < pages; p++) {
    for (let s = 0; s < 512; s++) {
      const r = rnd();
      const kind = r & 7;
      let lo = 0;
      let hi = 0;
      if (kind < 3) {
        lo = (table(1 + (rnd() % (pages - 1))) | 3) >>> 0; // table descriptor (or page at level 3)
        hi = rnd() & 0xf800_0000; // APTable/XNTable/PXNTable/NSTable
        if ((rnd() & 15) === 0) hi |= 0x100; // next table beyond the OA size
      } else if (kind < 6) {
        lo = ((rnd() & 0xffff_f000) | (rnd() & 0xffc) | (kind === 5 ? 1 : 3)) >>> 0;
        hi = rnd() & ((rnd() & 7) === 0 ? 0xffff_ffff : 0x0070_000f);
        if ((rnd() & 3) !== 0) lo |= 0x400; // AF mostly set
      } // else invalid
      mem.write64parts(table(p) + s * 8, lo, hi);
    }
  }
  mem.write64parts(RAM + 0x7f_f000, 0, 0); // back some memory beyond the tables
  const cfg =
    stage === 1
      ? lpaeS1Config({ ttbr0: table(0), t0sz: 16, ips: 2, mair: 0xff04n, ha: (seed & 1) === 0, hd: (seed & 2) === 0 })
      : lpaeS2Config({ vttbr: table(0), t0sz: 25, sl0: 1, ps: 2, ha: (seed & 1) === 0, hd: (seed & 2) === 0 });
  return { mem, cfg };
}

function snapshot(r: WalkResult): unknown {
  return { ...r };
}

describe('walkLpaeFast and the walk cursor', () => {
  it('the fast walk reports exactly what the full walker reports, or hands over at a table from which the full walker gives the exact result', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 }), fc.constantFrom(1 as const, 2 as const), fc.array(fc.tuple(fc.nat(0xffff), fc.nat(), fc.nat(3)), { minLength: 20, maxLength: 20 }), (seed, stage, inputs) => {
        const ref = randomTables(seed, stage);
        const fast = randomTables(seed, stage);
        const out = createWalkResult();
        const out2 = createWalkResult();
        const cur = createLpaeCursor();
        const cur2 = createLpaeCursor();
        const res = new Int32Array(FAST_SLOTS);
        for (const [hiBits, lo, a] of inputs) {
          const hi = stage === 1 ? hiBits & 0x7fff : hiBits & 0x7f;
          const access = ACCESSES[a]!;
          const ok = walkLpaeParts(ref.mem, ref.cfg, hi, lo, access, out);
          cur[CUR_LEVEL] = -1;
          if (walkLpaeFast(fast.mem, fast.cfg, hi, lo, access, cur, res)) {
            expect(ok).toBe(true);
            expect(out.updated).toBe(false);
            expect((res[FAST_OA_HI]! >>> 0) * TWO32 + (res[FAST_OA_LO]! >>> 0)).toBe(out.oa);
            expect(2 ** res[FAST_SHIFT]!).toBe(out.size);
            expect(res[FAST_PERMS]).toBe(out.perms);
            // The leaf's low word: the descriptor the full walk ended at (nG for stage 1).
            expect(res[FAST_DESC_LO]! >>> 0).toBe(Number(ref.mem.read64(out.descAddr) & 0xffff_ffffn));
            if (stage === 1) expect((res[FAST_DESC_LO]! & 0x800) !== 0).toBe(out.nG);
            // The cursor is left where the full walker leaves its own: the leaf's table, its
            // level, range, table controls and the descriptor that led to it (what a walk
            // cache stores).
            cur2[CUR_LEVEL] = -1;
            walkLpaeParts(ref.mem, ref.cfg, hi, lo, access, out2, undefined, cur2);
            expect([...cur]).toEqual([...cur2]);
          } else {
            // Resuming the full walk at the cursor gives every field of a full walk, and the
            // same hardware update of the leaf.
            const ok2 = walkLpaeParts(fast.mem, fast.cfg, hi, lo, access, out2, undefined, cur);
            expect(ok2).toBe(ok);
            expect(snapshot(out2)).toEqual(snapshot(out));
          }
          if (out.descAddr >= 0 && out.fault !== 'external') expect(fast.mem.read64(out.descAddr)).toBe(ref.mem.read64(out.descAddr));
        }
      }),
      { numRuns: 150 },
    );
  });

  it('a walk resumed from the table a cursor recorded (as a walk cache does), by the fast step or the full walker, equals a full walk', () => {
    let descended = 0;
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 }), fc.array(fc.tuple(fc.nat(0x7fff), fc.nat(), fc.nat(), fc.nat(3)), { minLength: 20, maxLength: 20 }), (seed, inputs) => {
        // Two identical memories: walks resume in one and run in full in the other.
        const a = randomTables(seed, 1);
        const b = randomTables(seed, 1);
        const cfg = a.cfg;
        const out = createWalkResult();
        const out2 = createWalkResult();
        const cur = createLpaeCursor();
        const cur2 = createLpaeCursor();
        const cur3 = createLpaeCursor();
        const res = new Int32Array(FAST_SLOTS);
        for (const [hi, lo, bitsSeed, acc] of inputs) {
          const access = ACCESSES[acc]!;
          cur[CUR_LEVEL] = -1;
          walkLpaeParts(a.mem, cfg, hi, lo, R, out, undefined, cur);
          walkLpaeParts(b.mem, b.cfg, hi, lo, R, out);
          const level = cur[CUR_LEVEL]!;
          if (level <= cfg.ranges[0]!.startLevel) continue;
          // Another input in the block the recorded table covers (the span is at most 2^39).
          const span = lpaeCursorSpanShift(cfg, cur);
          const hi2 = span > 32 ? (hi & ~((1 << (span - 32)) - 1)) | (bitsSeed & ((1 << (span - 32)) - 1)) : hi;
          const lo2 = span >= 32 ? bitsSeed >>> 0 : ((lo & ~((1 << span) - 1)) | (bitsSeed & ((1 << span) - 1))) >>> 0;
          const ok = walkLpaeParts(b.mem, b.cfg, hi2, lo2, access, out);
          lpaeCursorResume(cfg, cur2, cur[CUR_RANGE]!, cur[CUR_TABLE]!, level, cur[CUR_TBLHI]!, cur[CUR_DESC_LO]!, cur[CUR_DESC_HI]!);
          const words = a.mem.backedChunk(cur[CUR_TABLE]!);
          if (words !== null && lpaeFastLeaf(cfg, cfg.ranges[cur[CUR_RANGE]!]!.granuleShift, level, words, PhysMem.wordIndex(cur[CUR_TABLE]!), cur[CUR_TBLHI]!, hi2, lo2, access, res)) {
            expect(ok).toBe(true);
            expect(out.updated).toBe(false);
            expect((res[FAST_OA_HI]! >>> 0) * TWO32 + (res[FAST_OA_LO]! >>> 0)).toBe(out.oa);
            expect(2 ** res[FAST_SHIFT]!).toBe(out.size);
            expect(res[FAST_PERMS]).toBe(out.perms);
            expect(res[FAST_DESC_LO]! >>> 0).toBe(Number(b.mem.read64(out.descAddr) & 0xffff_ffffn));
            expect((res[FAST_DESC_LO]! & 0x800) !== 0).toBe(out.nG);
          } else {
            expect(walkLpaeParts(a.mem, cfg, hi2, lo2, access, out2, undefined, cur2)).toBe(ok);
            expect(snapshot(out2)).toEqual(snapshot(out));
          }
          if (out.descAddr >= 0 && out.fault !== 'external') expect(a.mem.read64(out.descAddr)).toBe(b.mem.read64(out.descAddr));
          // The fast walk resumed at the recorded table (it may go down further tables): on
          // success the same output and the cursor a full walk from the top leaves; otherwise
          // the full walker resumed at its cursor gives the full walk's outcome.
          // (Walked again: any hardware update was made by the walks above, in both memories.)
          lpaeCursorResume(cfg, cur2, cur[CUR_RANGE]!, cur[CUR_TABLE]!, level, cur[CUR_TBLHI]!, cur[CUR_DESC_LO]!, cur[CUR_DESC_HI]!);
          cur3[CUR_LEVEL] = -1;
          const ok3 = walkLpaeParts(b.mem, b.cfg, hi2, lo2, access, out, undefined, cur3);
          if (walkLpaeFast(a.mem, cfg, hi2, lo2, access, cur2, res)) {
            expect(ok3).toBe(true);
            expect((res[FAST_OA_HI]! >>> 0) * TWO32 + (res[FAST_OA_LO]! >>> 0)).toBe(out.oa);
            expect([...cur2]).toEqual([...cur3]);
            if (cur2[CUR_LEVEL]! > level) descended++;
          } else {
            expect(walkLpaeParts(a.mem, cfg, hi2, lo2, access, out2, undefined, cur2)).toBe(ok3);
            expect(snapshot(out2)).toEqual(snapshot(out));
          }
        }
      }),
      // A fixed seed: the coverage count below depends on the generated tables, and a random
      // seed made it fail by chance (once in a full run).
      { numRuns: 150, seed: 0x3e5d },
    );
    // Resumed fast walks that went down another table were among them.
    expect(descended).toBeGreaterThan(0);
  });
});

describe('WalkCache.fastLeaf', () => {
  type Op =
    | { op: 'fill'; i: number; tag: number }
    | { op: 'leaf'; i: number; page: number; n: number; acc: number; tag: number }
    | { op: 'inv'; i: number }
    | { op: 'write'; i: number; page: number; v: number };

  /**
   * A regular tree over the first GiB: level-2 slots 0..7 point at level-3 tables of pages
   * (random AP/UXN/PXN/nG or S2AP/XN bits, a few invalid or with AF clear), slot 8 is a 2 MiB
   * block. Tables: root (level 0, stage 1 only), level 1, level 2, then the eight level-3 ones.
   */
  function tree(seed: number, stage: 1 | 2): { mem: PhysMem; cfg: LpaeWalkConfig; l3: (i: number) => number } {
    const mem = new PhysMem([{ base: RAM, size: 8 << 20 }]);
    let x = seed >>> 0 || 1;
    const rnd = (): number => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return x >>> 0;
    };
    const t = (n: number) => RAM + n * 4096;
    let n = 0;
    const root = t(n);
    if (stage === 1) mem.write64parts(t(n++), (t(n) | 3) >>> 0, 0);
    mem.write64parts(t(n++), (t(n) | 3) >>> 0, 0); // level 1 -> level 2
    const l2 = t(n++);
    const l3 = (i: number) => t(n + i);
    for (let i = 0; i < 8; i++) {
      mem.write64parts(l2 + i * 8, (l3(i) | 3) >>> 0, 0);
      for (let p = 0; p < 512; p++) {
        const r = rnd();
        const kind = r & 15;
        const lo = kind === 0 ? 0 : ((0x100_0000 + ((i * 512 + p) << 12)) | (r & 0x9c0) | (kind === 1 ? 0 : 0x400) | 3) >>> 0;
        mem.write64parts(l3(i) + p * 8, lo, (r >>> 8) & 0x0060_0000);
      }
    }
    mem.write64parts(l2 + 8 * 8, (0x20_0000 * 9 + 0x401 + 0xc0) >>> 0, 0); // 2 MiB block, AF, AP/S2AP bits
    const cfg = stage === 1 ? lpaeS1Config({ ttbr0: root, t0sz: 16, ips: 2, mair: 0xff04n }) : lpaeS2Config({ vttbr: root, t0sz: 25, sl0: 1, ps: 2 });
    return { mem, cfg, l3 };
  }

  it('answers exactly as lookupParts and lpaeFastLeaf on the entry found, counts as they do, and never uses an entry that was replaced or dropped', () => {
    let fast = 0;
    let refused = 0;
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      { weight: 3, arbitrary: fc.record({ op: fc.constant('fill' as const), i: fc.nat(8), tag: fc.nat(1) }) },
      { weight: 8, arbitrary: fc.record({ op: fc.constant('leaf' as const), i: fc.nat(8), page: fc.nat(511), n: fc.integer({ min: 1, max: 8 }), acc: fc.nat(3), tag: fc.nat(1) }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('inv' as const), i: fc.nat(8) }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('write' as const), i: fc.nat(7), page: fc.nat(511), v: fc.nat() }) },
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 }), fc.constantFrom(1 as const, 2 as const), fc.array(opArb, { minLength: 20, maxLength: 80 }), fc.integer({ min: 2, max: 12 }), (seed, stage, ops, capacity) => {
        const { mem, cfg, l3 } = tree(seed, stage);
        // `a` is used the way the models used it before fastLeaf (lookupParts, then the step on
        // the entry found); `b` as they use it now: fastLeaf first, and only when that fails
        // the old way (which the models then follow with the walk).
        const a = new WalkCache({ capacity });
        const b = new WalkCache({ capacity });
        const ca = a.context(0, 1);
        const cb = b.context(0, 1);
        const out = createWalkResult();
        const cur = createLpaeCursor();
        const resA = new Int32Array(FAST_SLOTS);
        const resB = new Int32Array(FAST_SLOTS);
        for (const o of ops) {
          const base = o.i * 0x20_0000;
          if (o.op === 'fill') {
            // A full walk from the top; the table it reached goes into both caches under `tag`.
            cur[CUR_LEVEL] = -1;
            walkLpaeParts(mem, cfg, 0, base, R, out, undefined, cur);
            a.fillFromCursor(ca, 0, base, o.tag, cfg, cur, -1, mem);
            b.fillFromCursor(cb, 0, base, o.tag, cfg, cur, -1, mem);
          } else if (o.op === 'inv') {
            a.invalidateContext(ca, base, base + 1);
            b.invalidateContext(cb, base, base + 1);
          } else if (o.op === 'write') {
            // A descriptor rewritten behind the caches' back (they read live words).
            mem.write64parts(l3(o.i) + o.page * 8, o.v >>> 0, 0);
          } else {
            // A run of pages, as a device sweeping a buffer asks for them.
            for (let k = 0; k < o.n; k++) {
            const lo = base + ((o.page + k) & 511) * 0x1000 + 0x18;
            const access = ACCESSES[o.acc]!;
            const e = a.lookupParts(ca, 0, lo);
            const words = e >= 0 ? a.words(e) : null;
            const okA = words !== null && a.tag(e) === o.tag && lpaeFastLeaf(cfg, a.granuleShift(e), a.level(e), words, PhysMem.wordIndex(a.table(e)), a.tableHi(e), 0, lo, access, resA);
            let okB = b.fastLeaf(cb, o.tag, cfg, 0, lo, access, resB);
            if (okB) fast++;
            else {
              const eb = b.lookupParts(cb, 0, lo);
              const wb = eb >= 0 ? b.words(eb) : null;
              okB = wb !== null && b.tag(eb) === o.tag && lpaeFastLeaf(cfg, b.granuleShift(eb), b.level(eb), wb, PhysMem.wordIndex(b.table(eb)), b.tableHi(eb), 0, lo, access, resB);
            }
            expect(okB).toBe(okA);
            if (okA) expect([...resB]).toEqual([...resA]);
            else if (e >= 0) refused++;
            expect(b.counters()).toEqual(a.counters());
            }
          }
        }
      }),
      { numRuns: 300 },
    );
    // Both outcomes were exercised: leaves served by fastLeaf, and cached tables that could not
    // serve the input (another tag, not a leaf, a refused access).
    expect(fast).toBeGreaterThan(100);
    expect(refused).toBeGreaterThan(100);
  });
});
