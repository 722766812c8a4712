import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SetTlb } from '../src/models/set-tlb.js';

const K4 = 12;
const M2 = 21;
const G1 = 30;

describe('SetTlb basics', () => {
  it('hits inside the cached block, misses outside it, and counts both', () => {
    const tlb = new SetTlb({ capacity: 64 });
    expect([tlb.capacity, tlb.ways, tlb.sets]).toEqual([64, 4, 16]);
    const c = tlb.context(3, 7);
    expect(tlb.context(3, 7)).toBe(c);
    expect(tlb.lookup(c, 0x1234_5000)).toBe(-1);
    const e = tlb.insert(c, 0x1234_5678, K4, 0x8_0000_0678, 0x3f, 5);
    expect(tlb.lookup(c, 0x1234_5000)).toBe(e);
    expect(tlb.output(e, 0x1234_5fff)).toBe(0x8_0000_0fff);
    expect(tlb.outputParts(e, 0, 0x1234_5abc)).toBe(0x8_0000_0abc);
    const halves = new Int32Array(2);
    tlb.outputHalves(e, 0, 0x1234_5abc, halves);
    expect([halves[0], halves[1]! >>> 0]).toEqual([8, 0xabc]);
    expect([tlb.perms(e), tlb.attr(e), tlb.shift(e), tlb.base(e), tlb.outputBase(e), tlb.entryContext(e)]).toEqual([0x3f, 5, K4, 0x1234_5000, 0x8_0000_0000, c]);
    expect(tlb.lookup(c, 0x1234_6000)).toBe(-1);
    expect(tlb.lookup(c, 0x1234_4fff)).toBe(-1);
    const d = tlb.context(3, 8);
    expect(tlb.lookup(d, 0x1234_5000)).toBe(-1);
    expect(tlb.counters()).toEqual({ hits: 1, misses: 4, inserts: 1, evictions: 0, flushes: 0, invalidated: 0, entries: 1 });
    tlb.resetCounters();
    expect(tlb.counters()).toMatchObject({ hits: 0, misses: 0, entries: 1 });
  });

  it('gives exact outputs through blocks of 4 KiB to 1 TiB, below and above 2^32 bytes', () => {
    const tlb = new SetTlb({ capacity: 64, ways: 4 });
    const ctx = tlb.context(0, 0);
    for (const shift of [12, 21, 30, 31, 32, 34, 40]) {
      const size = 2 ** shift;
      const base = 2 ** 44 + 5 * size; // block-aligned input, above 2^32
      const oa = 2 ** 47 + 3 * size;
      const e = tlb.insert(ctx, base, shift, oa, 7, 0);
      for (const off of [0, 1, 0xabc, size / 2 + 0x123, size - 1]) {
        const va = base + off;
        const [hi, lo] = [Math.floor(va / 2 ** 32), va % 2 ** 32 | 0];
        expect([tlb.outputParts(e, hi, lo), tlb.outputFlat(e, hi, lo)]).toEqual([oa + off, oa + off]);
      }
      tlb.invalidateAll();
    }
  });

  it('rejects bad options, contexts and block sizes', () => {
    expect(() => new SetTlb({ capacity: 0 })).toThrow(RangeError);
    expect(() => new SetTlb({ ways: 3 })).toThrow(RangeError);
    expect(() => new SetTlb({ ways: 32 })).toThrow(RangeError);
    expect(() => new SetTlb({ eviction: 'lru' as never })).toThrow(RangeError);
    const tlb = new SetTlb({ capacity: 8 });
    const c = tlb.context(0, 0);
    expect(() => tlb.insertHalves(c + 1, 0, 0, K4, 0, 0, 0, 0)).toThrow(/unknown context/);
    expect(() => tlb.insertHalves(c, 0, 0, 11, 0, 0, 0, 0)).toThrow(/block shift/);
    expect(() => tlb.insertHalves(c, 0, 0, 43, 0, 0, 0, 0)).toThrow(/block shift/);
    expect(() => tlb.insert(c, -1, K4, 0, 0)).toThrow(RangeError);
    expect(() => tlb.context(-1, 0)).toThrow(RangeError);
    expect(tlb.size).toBe(0);
  });

  it('sizes its sets from the capacity (a small TLB is one fully associative set)', () => {
    expect([new SetTlb({ capacity: 2 }).sets, new SetTlb({ capacity: 2 }).ways]).toEqual([1, 2]);
    expect([new SetTlb({ capacity: 3 }).sets, new SetTlb({ capacity: 3 }).ways]).toEqual([1, 3]);
    const t = new SetTlb({ capacity: 1000, ways: 8 });
    expect([t.sets, t.ways, t.capacity]).toEqual([64, 8, 512]);
    expect(new SetTlb().capacity).toBe(16384);
  });

  it('drops a 2 MiB, 1 GiB or 16 GiB entry on an invalidation of any address inside it', () => {
    for (const shift of [M2, G1, 34]) {
      const tlb = new SetTlb({ capacity: 256 });
      const c = tlb.context(1, 1);
      const other = tlb.context(1, 2);
      const base = 2 ** 40 + 3 * 2 ** shift;
      tlb.insert(c, base + 0x1234, shift, 2 ** 45 + 0x1234, 1);
      tlb.insert(other, base, shift, 2 ** 45, 1);
      tlb.insert(c, base + 2 ** shift, K4, 0x1000, 1); // the next block: stays
      expect(tlb.output(tlb.lookup(c, base + 2 ** shift - 1), base + 2 ** shift - 1)).toBe(2 ** 45 + 2 ** shift - 1);
      const inside = base + 2 ** shift - 2 ** 13;
      tlb.invalidateContext(c, inside, inside + 4096);
      expect(tlb.lookup(c, base)).toBe(-1);
      expect(tlb.lookup(c, base + 2 ** shift)).toBeGreaterThanOrEqual(0);
      expect(tlb.lookup(other, base)).toBeGreaterThanOrEqual(0);
      expect(tlb.counters()).toMatchObject({ invalidated: 1, entries: 2 });
    }
  });

  it('invalidates a whole context without touching the others, and refills it afterwards', () => {
    const tlb = new SetTlb({ capacity: 64 });
    const a = tlb.context(1, 1);
    const b = tlb.context(1, 2);
    for (let p = 0; p < 20; p++) {
      tlb.insert(a, p * 4096, K4, 0x10_0000 + p * 4096, 1);
      tlb.insert(b, p * 4096, K4, 0x20_0000 + p * 4096, 1);
    }
    expect([tlb.size, tlb.contextSize(a), tlb.contextSize(b)]).toEqual([40, 20, 20]);
    tlb.invalidateTag(1, 1);
    expect([tlb.size, tlb.contextSize(a), tlb.contextSize(b)]).toEqual([20, 0, 20]);
    for (let p = 0; p < 20; p++) {
      expect(tlb.lookup(a, p * 4096)).toBe(-1);
      expect(tlb.output(tlb.lookup(b, p * 4096), p * 4096)).toBe(0x20_0000 + p * 4096);
    }
    // The dead entries' ways are reused: 20 fills of `a` fit without evicting `b`.
    for (let p = 0; p < 20; p++) tlb.insert(a, p * 4096, K4, 0x30_0000 + p * 4096, 1);
    expect(tlb.counters()).toMatchObject({ evictions: 0, entries: 40, invalidated: 20 });
    for (let p = 0; p < 20; p++) expect(tlb.output(tlb.lookup(a, p * 4096), p * 4096)).toBe(0x30_0000 + p * 4096);
  });

  it('holds a contiguous range of `capacity` pages of one context without an eviction', () => {
    for (const [capacity, ways] of [[16384, 4], [65536, 4], [4096, 2], [1024, 16]] as const) {
      const tlb = new SetTlb({ capacity, ways });
      const c = tlb.context(2, 5);
      const start = 2 ** 39 + 7 * 4096; // not aligned to the set count
      for (let p = 0; p < capacity; p++) tlb.insertHalves(c, 0x80, (7 + p) * 4096, K4, 0x10, p * 4096, 3, 0);
      expect(tlb.counters()).toMatchObject({ evictions: 0, flushes: 0, entries: capacity });
      expect(tlb.lookup(c, start)).toBeGreaterThanOrEqual(0);
      expect(tlb.lookup(c, start + (capacity - 1) * 4096)).toBeGreaterThanOrEqual(0);
    }
  });

  it('empties a full set on the next fill into it (flush) or replaces one way (round-robin)', () => {
    const flush = new SetTlb({ capacity: 2 });
    const c = flush.context(0, 0);
    flush.insert(c, 0x1000, K4, 0x1000, 1);
    flush.insert(c, 0x2000, K4, 0x2000, 1);
    flush.insert(c, 0x3000, K4, 0x3000, 1);
    expect(flush.counters()).toMatchObject({ evictions: 2, flushes: 1, entries: 1 });
    expect(flush.lookup(c, 0x1000)).toBe(-1);
    const rr = new SetTlb({ capacity: 2, eviction: 'round-robin' });
    const d = rr.context(0, 0);
    for (const a of [0x1000, 0x2000, 0x3000, 0x4000]) rr.insert(d, a, K4, a, 1);
    expect(rr.counters()).toMatchObject({ evictions: 2, flushes: 0, entries: 2 });
    expect([rr.lookup(d, 0x1000), rr.lookup(d, 0x2000)]).toEqual([-1, -1]);
    expect(rr.lookup(d, 0x3000)).toBeGreaterThanOrEqual(0);
    expect(rr.lookup(d, 0x4000)).toBeGreaterThanOrEqual(0);
  });

  it('replaces an entry for the same block in place, wherever it sits in its set', () => {
    const tlb = new SetTlb({ capacity: 4 });
    const c = tlb.context(0, 0);
    for (const a of [0x1000, 0x2000, 0x3000]) tlb.insert(c, a, K4, a, 1);
    tlb.invalidateContext(c, 0x1000, 0x2000); // frees way 0: the fast fill must still find 0x3000
    tlb.insert(c, 0x3000, K4, 0x9000, 7);
    expect(tlb.size).toBe(2);
    const e = tlb.lookup(c, 0x3000);
    expect([tlb.output(e, 0x3000), tlb.perms(e)]).toEqual([0x9000, 7]);
    tlb.invalidateContext(c, 0x3000, 0x3001);
    expect(tlb.lookup(c, 0x3000)).toBe(-1);
  });
});

/** A plain reference TLB: a list of entries. */
interface RefEntry {
  ctx: number;
  shift: number;
  base: number;
  oa: number;
  perms: number;
  attr: number;
}

type Op =
  | { op: 'insert'; ctx: number; page: number; shift: number; pa: number; perms: number; attr: number }
  | { op: 'lookup'; ctx: number; page: number; off: number }
  | { op: 'invCtx'; ctx: number; page: number; pages: number }
  | { op: 'invWhole'; ctx: number }
  | { op: 'invGroup'; group: number }
  | { op: 'invWhere'; tag: number; page: number; pages: number }
  | { op: 'invAll' };

describe('SetTlb lookups against a scan of every way', () => {
  // A lookup stops at the first record of its set holding the block and context, live or not
  // ("live first": fills take the first free or dead way, so a dead or freed copy never
  // precedes the live entry). Checked here against `peek`, which scans every way of the set:
  // on a dense pool of pages in small TLBs (full sets, entries in every way, evictions, dead
  // entries of wholly invalidated contexts, freed ones of range invalidations), every lookup
  // returns the entry of the smallest block size that holds the input, as the scan finds it,
  // and counts a hit or a miss.
  const opArb = fc.oneof(
    { weight: 20, arbitrary: fc.record({ op: fc.constant('insert' as const), ctx: fc.nat(3), page: fc.nat(31), big: fc.boolean(), perms: fc.nat(63) }) },
    { weight: 20, arbitrary: fc.record({ op: fc.constant('lookup' as const), ctx: fc.nat(3), page: fc.nat(31) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('invCtx' as const), ctx: fc.nat(3), page: fc.nat(31), pages: fc.integer({ min: 1, max: 8 }) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('invWhole' as const), ctx: fc.nat(3) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('invAll' as const) }) },
  );
  for (const eviction of ['flush', 'round-robin'] as const) {
    it(`finds what a scan of the ways finds (${eviction})`, () => {
      let wide = 0;
      fc.assert(
        fc.property(fc.array(opArb, { minLength: 100, maxLength: 200 }), fc.constantFrom(4, 8, 16, 32, 64), fc.constantFrom(2, 4, 8), (ops, capacity, ways) => {
          const tlb = new SetTlb({ capacity, ways, eviction });
          const ids = [0, 1, 2, 3].map((t) => tlb.context(t >> 1, t & 1));
          const BASE = 2 ** 40 - 2 ** 17; // the pool crosses 2^40
          for (const o of ops) {
            if (o.op === 'insert') {
              const shift = o.big ? 16 : 12;
              const va = BASE + o.page * 4096;
              tlb.insertHalves(ids[o.ctx]!, Math.floor(va / 2 ** 32), va % 2 ** 32 | 0, shift, 1, o.page << 12, o.perms, 0);
            } else if (o.op === 'lookup') {
              const va = BASE + o.page * 4096 + 0x10;
              let want = -1;
              for (const shift of [12, 16]) {
                want = tlb.peek(ids[o.ctx]!, va, shift);
                if (want >= 0) break;
              }
              const { hits, misses } = tlb.counters();
              const e = tlb.lookupParts(ids[o.ctx]!, Math.floor(va / 2 ** 32), va % 2 ** 32 | 0);
              expect(e).toBe(want);
              expect(tlb.counters()).toMatchObject(e >= 0 ? { hits: hits + 1, misses } : { hits, misses: misses + 1 });
              if (e >= 0 && e % tlb.ways !== 0) wide++;
            } else if (o.op === 'invCtx') {
              tlb.invalidateContext(ids[o.ctx]!, BASE + o.page * 4096, BASE + (o.page + o.pages) * 4096);
            } else if (o.op === 'invWhole') {
              tlb.invalidateContext(ids[o.ctx]!);
            } else {
              tlb.invalidateAll();
            }
          }
        }),
        { numRuns: 300 },
      );
      expect(wide).toBeGreaterThan(1000); // hits in a way other than the set's first
    });
  }
});

describe('SetTlb against a reference model', () => {
  const GROUPS = 2;
  const TAGS = 3;
  // Neighbouring pages (ranges and blocks overlap; set conflicts) and scattered ones.
  const pageArb = fc.oneof(fc.nat(2047), fc.nat(2 ** 26 - 1));
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    { weight: 6, arbitrary: fc.record({ op: fc.constant('insert' as const), ctx: fc.nat(GROUPS * TAGS - 1), page: pageArb, shift: fc.constantFrom(12, 12, 12, 14, 16, 21, 30, 34), pa: fc.nat(2 ** 28), perms: fc.nat(63), attr: fc.integer({ min: -8, max: 2 ** 31 - 1 }) }) },
    { weight: 6, arbitrary: fc.record({ op: fc.constant('lookup' as const), ctx: fc.nat(GROUPS * TAGS - 1), page: pageArb, off: fc.nat(4095) }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('invCtx' as const), ctx: fc.nat(GROUPS * TAGS - 1), page: pageArb, pages: fc.oneof(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3000 }), fc.integer({ min: 1, max: 2 ** 26 })) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('invWhole' as const), ctx: fc.nat(GROUPS * TAGS - 1) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('invGroup' as const), group: fc.nat(GROUPS - 1) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('invWhere' as const), tag: fc.nat(TAGS - 1), page: pageArb, pages: fc.integer({ min: 1, max: 600 }) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('invAll' as const) }) },
  );

  for (const eviction of ['flush', 'round-robin'] as const) {
    it(`agrees on every lookup, evicting only within a full set (${eviction}; inputs around 2^40)`, () => {
      fc.assert(
        fc.property(
          fc.array(opArb, { maxLength: 300 }),
          fc.integer({ min: 1, max: 600 }),
          fc.constantFrom(1, 2, 4, 16),
          fc.constantFrom(2, 3, 2 ** 30),
          (ops, capacity, ways, stampLimit) => {
            const tlb = new SetTlb({ capacity, ways, eviction, stampLimit });
            const ids: number[] = [];
            for (let g = 0; g < GROUPS; g++) for (let t = 0; t < TAGS; t++) ids.push(tlb.context(g, t));
            let ref: RefEntry[] = [];
            const BASE = 2 ** 40 - 2 ** 22; // pages cross 2^40
            const present = (r: RefEntry): boolean => tlb.peek(ids[r.ctx]!, r.base, r.shift) >= 0;
            for (const o of ops) {
              if (o.op === 'insert') {
                const va = BASE + o.page * 4096;
                const size = 2 ** o.shift;
                const base = Math.floor(va / size) * size;
                const pa = o.pa * 4096 + (va - base); // the block's output start is not aligned
                const existing = ref.find((r) => r.ctx === o.ctx && r.shift === o.shift && r.base === base);
                const { evictions, flushes } = tlb.counters();
                const e = tlb.insert(ids[o.ctx]!, va, o.shift, pa, o.perms, o.attr);
                const entry = { ctx: o.ctx, shift: o.shift, base, oa: pa - (va - base), perms: o.perms, attr: o.attr };
                if (existing) {
                  Object.assign(existing, entry);
                  expect(tlb.counters()).toMatchObject({ evictions, flushes });
                } else {
                  // Evictions happen only when the new entry's set was full, and only there.
                  const dropped = tlb.evictions - evictions;
                  const before = ref.length;
                  ref = ref.filter(present);
                  expect(before - ref.length).toBe(dropped);
                  if (dropped > 0) {
                    expect(dropped).toBe(eviction === 'flush' ? tlb.ways : 1);
                    expect(tlb.flushes - flushes).toBe(eviction === 'flush' ? 1 : 0);
                  }
                  ref.push(entry);
                }
                expect(tlb.peek(ids[o.ctx]!, va, o.shift)).toBe(e);
              } else if (o.op === 'lookup') {
                const va = BASE + o.page * 4096 + o.off;
                const hits = ref.filter((r) => r.ctx === o.ctx && va >= r.base && va < r.base + 2 ** r.shift).sort((x, y) => x.shift - y.shift);
                const e = tlb.lookup(ids[o.ctx]!, va);
                if (hits.length === 0) expect(e).toBe(-1);
                else {
                  expect(e).toBeGreaterThanOrEqual(0);
                  const h = hits[0]!;
                  expect([tlb.output(e, va), tlb.outputParts(e, Math.floor(va / 2 ** 32), va % 2 ** 32), tlb.perms(e), tlb.attr(e), tlb.shift(e), tlb.base(e)]).toEqual([
                    h.oa + (va - h.base), h.oa + (va - h.base), h.perms, h.attr, h.shift, h.base,
                  ]);
                }
              } else if (o.op === 'invCtx' || o.op === 'invWhere') {
                const start = BASE + o.page * 4096;
                const end = start + o.pages * 4096;
                const hit = (r: RefEntry): boolean => r.base < end && r.base + 2 ** r.shift > start;
                if (o.op === 'invCtx') {
                  tlb.invalidateContext(ids[o.ctx]!, start, end);
                  ref = ref.filter((r) => !(r.ctx === o.ctx && hit(r)));
                } else {
                  tlb.invalidateWhere((_g, t) => t === o.tag, start, end);
                  ref = ref.filter((r) => !(r.ctx % TAGS === o.tag && hit(r)));
                }
              } else if (o.op === 'invWhole') {
                tlb.invalidateContext(ids[o.ctx]!);
                ref = ref.filter((r) => r.ctx !== o.ctx);
              } else if (o.op === 'invGroup') {
                tlb.invalidateGroup(o.group);
                ref = ref.filter((r) => Math.floor(r.ctx / TAGS) !== o.group);
              } else {
                tlb.invalidateAll();
                ref = [];
              }
              expect(tlb.size).toBe(ref.length);
              expect(tlb.size).toBeLessThanOrEqual(tlb.capacity);
              for (const r of ref) {
                const e = tlb.peek(ids[r.ctx]!, r.base, r.shift);
                expect(e).toBeGreaterThanOrEqual(0);
                expect(tlb.output(e, r.base)).toBe(r.oa);
              }
              for (let c = 0; c < ids.length; c++) expect(tlb.contextSize(ids[c]!)).toBe(ref.filter((r) => r.ctx === c).length);
            }
          },
        ),
        { numRuns: 150 },
      );
    });
  }

  // The entry count and `inserts` are derived (from the contexts' counts, evictions,
  // invalidations and in-place replacements) rather than counted per fill: every counter must
  // read what counting each operation gives, through resets of the counters.
  it('counts every operation as a reference counting each one does (resets included)', () => {
    let replacedSeen = 0;
    let evictedSeen = 0;
    // Fills of few blocks, so that some replace a live entry of the same block in place.
    const denseInsert: fc.Arbitrary<Op> = fc.record({ op: fc.constant('insert' as const), ctx: fc.nat(GROUPS * TAGS - 1), page: fc.nat(63), shift: fc.constantFrom(12, 12, 14, 21), pa: fc.nat(2 ** 28), perms: fc.nat(63), attr: fc.constant(0) });
    fc.assert(
      fc.property(
        fc.array(fc.oneof({ weight: 25, arbitrary: opArb }, { weight: 10, arbitrary: denseInsert }, { weight: 1, arbitrary: fc.constant(null) }), { minLength: 100, maxLength: 300 }),
        fc.integer({ min: 1, max: 64 }),
        fc.constantFrom(1, 2, 4),
        fc.constantFrom('flush' as const, 'round-robin' as const),
        (ops, capacity, ways, eviction) => {
          const tlb = new SetTlb({ capacity, ways, eviction, stampLimit: 3 });
          const ids: number[] = [];
          for (let g = 0; g < GROUPS; g++) for (let t = 0; t < TAGS; t++) ids.push(tlb.context(g, t));
          let ref: RefEntry[] = [];
          const n = { hits: 0, misses: 0, inserts: 0, evictions: 0, flushes: 0, invalidated: 0 };
          const BASE = 2 ** 40 - 2 ** 22;
          const present = (r: RefEntry): boolean => tlb.peek(ids[r.ctx]!, r.base, r.shift) >= 0;
          const drop = (keep: (r: RefEntry) => boolean): void => {
            const before = ref.length;
            ref = ref.filter(keep);
            n.invalidated += before - ref.length;
          };
          for (const o of ops) {
            if (o === null) {
              tlb.resetCounters();
              n.hits = n.misses = n.inserts = n.evictions = n.flushes = n.invalidated = 0;
            } else if (o.op === 'insert') {
              const va = BASE + o.page * 4096;
              const size = 2 ** o.shift;
              const base = Math.floor(va / size) * size;
              const pa = o.pa * 4096 + (va - base);
              const existing = ref.find((r) => r.ctx === o.ctx && r.shift === o.shift && r.base === base);
              tlb.insert(ids[o.ctx]!, va, o.shift, pa, o.perms, o.attr);
              n.inserts++;
              if (existing) replacedSeen++;
              else {
                const before = ref.length;
                ref = ref.filter(present);
                const dropped = before - ref.length;
                n.evictions += dropped;
                if (dropped > 0 && eviction === 'flush') n.flushes++;
                if (dropped > 0) evictedSeen++;
                ref.push({ ctx: o.ctx, shift: o.shift, base, oa: 0, perms: o.perms, attr: o.attr });
              }
            } else if (o.op === 'lookup') {
              const va = BASE + o.page * 4096 + o.off;
              const found = ref.some((r) => r.ctx === o.ctx && va >= r.base && va < r.base + 2 ** r.shift);
              tlb.lookup(ids[o.ctx]!, va);
              if (found) n.hits++;
              else n.misses++;
            } else if (o.op === 'invCtx' || o.op === 'invWhere') {
              const start = BASE + o.page * 4096;
              const end = start + o.pages * 4096;
              const hit = (r: RefEntry): boolean => r.base < end && r.base + 2 ** r.shift > start;
              if (o.op === 'invCtx') {
                tlb.invalidateContext(ids[o.ctx]!, start, end);
                drop((r) => !(r.ctx === o.ctx && hit(r)));
              } else {
                tlb.invalidateWhere((_g, t) => t === o.tag, start, end);
                drop((r) => !(r.ctx % TAGS === o.tag && hit(r)));
              }
            } else if (o.op === 'invWhole') {
              tlb.invalidateContext(ids[o.ctx]!);
              drop((r) => r.ctx !== o.ctx);
            } else if (o.op === 'invGroup') {
              tlb.invalidateGroup(o.group);
              drop((r) => Math.floor(r.ctx / TAGS) !== o.group);
            } else {
              tlb.invalidateAll();
              drop(() => false);
            }
            expect(tlb.counters()).toEqual({ ...n, entries: ref.length });
            expect([tlb.size, tlb.inserts, tlb.hits, tlb.misses]).toEqual([ref.length, n.inserts, n.hits, n.misses]);
          }
        },
      ),
      { numRuns: 150 },
    );
    expect(replacedSeen).toBeGreaterThan(100);
    expect(evictedSeen).toBeGreaterThan(100);
  });

  it('agrees exactly (no eviction) when the sets are large enough', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 400 }), fc.constantFrom(2, 5, 2 ** 30), (ops, stampLimit) => {
        const tlb = new SetTlb({ capacity: 16384, ways: 16, stampLimit });
        const ids: number[] = [];
        for (let g = 0; g < GROUPS; g++) for (let t = 0; t < TAGS; t++) ids.push(tlb.context(g, t));
        let ref: RefEntry[] = [];
        const BASE = 2 ** 36;
        for (const o of ops) {
          if (o.op === 'insert') {
            const va = BASE + o.page * 4096;
            const size = 2 ** o.shift;
            const base = Math.floor(va / size) * size;
            const pa = o.pa * 4096 + (va - base);
            ref = ref.filter((r) => !(r.ctx === o.ctx && r.shift === o.shift && r.base === base));
            ref.push({ ctx: o.ctx, shift: o.shift, base, oa: pa - (va - base), perms: o.perms, attr: o.attr });
            tlb.insert(ids[o.ctx]!, va, o.shift, pa, o.perms, o.attr);
          } else if (o.op === 'lookup') {
            const va = BASE + o.page * 4096 + o.off;
            const h = ref.filter((r) => r.ctx === o.ctx && va >= r.base && va < r.base + 2 ** r.shift).sort((x, y) => x.shift - y.shift)[0];
            const e = tlb.lookup(ids[o.ctx]!, va);
            expect(e < 0 ? null : [tlb.output(e, va), tlb.perms(e), tlb.attr(e)]).toEqual(h ? [h.oa + (va - h.base), h.perms, h.attr] : null);
          } else if (o.op === 'invCtx') {
            const start = BASE + o.page * 4096;
            const end = start + o.pages * 4096;
            tlb.invalidateContext(ids[o.ctx]!, start, end);
            ref = ref.filter((r) => !(r.ctx === o.ctx && r.base < end && r.base + 2 ** r.shift > start));
          } else if (o.op === 'invWhole' || o.op === 'invWhere') {
            const ctx = o.op === 'invWhole' ? o.ctx : o.tag;
            tlb.invalidateContext(ids[ctx]!);
            ref = ref.filter((r) => r.ctx !== ctx);
          } else if (o.op === 'invGroup') {
            tlb.invalidateGroup(o.group);
            ref = ref.filter((r) => Math.floor(r.ctx / TAGS) !== o.group);
          } else {
            tlb.invalidateAll();
            ref = [];
          }
          expect(tlb.size).toBe(ref.length);
        }
        expect(tlb.evictions).toBe(0);
      }),
      { numRuns: 100 },
    );
  });
});

/**
 * Twin TLBs get the same fills and invalidations over random sequences; every lookup is
 * `probe` (then `lookupParts` when it declines with −2, having counted nothing) in one and
 * `lookupParts` in the other: same entries, same counters. `sizes[c]` are the block sizes
 * context c is filled with; `onLookup` sees each lookup's context, result and whether the probe
 * declined (for the callers' coverage counts and extra checks).
 */
function twinLookups(
  sizes: readonly (readonly number[])[],
  probe: (t: SetTlb, ctx: number, hi: number, lo: number) => number,
  onLookup: (a: SetTlb, b: SetTlb, c: number, e: number, declined: boolean, hi: number, lo: number) => void,
): void {
  const opArb = fc.oneof(
    { weight: 8, arbitrary: fc.record({ op: fc.constant('insert' as const), ctx: fc.nat(3), page: fc.nat(255), k: fc.nat(3), perms: fc.nat(63) }) },
    { weight: 12, arbitrary: fc.record({ op: fc.constant('lookup' as const), ctx: fc.nat(3), page: fc.nat(255), off: fc.nat(4095) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('invCtx' as const), ctx: fc.nat(3), page: fc.nat(255), pages: fc.integer({ min: 1, max: 64 }) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('invWhole' as const), ctx: fc.nat(3) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('invAll' as const) }) },
  );
  fc.assert(
    fc.property(fc.array(opArb, { minLength: 50, maxLength: 300 }), fc.constantFrom(16, 64, 1024), fc.constantFrom(1, 2, 4), (ops, capacity, ways) => {
      const [a, b] = [new SetTlb({ capacity, ways }), new SetTlb({ capacity, ways })];
      const ids = [0, 1, 2, 3].map((t) => a.context(t, 0));
      for (let t = 0; t < 4; t++) expect(b.context(t, 0)).toBe(ids[t]);
      const BASE = 2 ** 40 - 2 ** 23; // inputs cross 2^40
      for (const o of ops) {
        if (o.op === 'insert') {
          const sz = sizes[o.ctx]!;
          const shift = sz[o.k % sz.length]!;
          const va = BASE + o.page * 4096;
          const hi = Math.floor(va / 2 ** 32);
          for (const t of [a, b]) t.insertHalves(ids[o.ctx]!, hi, va % 2 ** 32 | 0, shift, 3, o.page << 12, o.perms, 0);
        } else if (o.op === 'lookup') {
          const va = BASE + o.page * 4096 + o.off;
          const hi = Math.floor(va / 2 ** 32);
          const lo = va % 2 ** 32 | 0;
          const before = a.counters();
          let e = probe(a, ids[o.ctx]!, hi, lo);
          const declined = e === -2;
          if (declined) {
            expect(a.counters()).toEqual(before);
            e = a.lookupParts(ids[o.ctx]!, hi, lo);
          }
          expect(e).toBe(b.lookupParts(ids[o.ctx]!, hi, lo));
          expect(a.counters()).toEqual(b.counters());
          onLookup(a, b, o.ctx, e, declined, hi, lo);
        } else if (o.op === 'invCtx') {
          for (const t of [a, b]) t.invalidateContext(ids[o.ctx]!, BASE + o.page * 4096, BASE + (o.page + o.pages) * 4096);
        } else if (o.op === 'invWhole') {
          for (const t of [a, b]) t.invalidateContext(ids[o.ctx]!);
        } else {
          for (const t of [a, b]) t.invalidateAll();
        }
      }
    }),
    { numRuns: 200 },
  );
}

describe('SetTlb.lookupOne against lookupParts', () => {
  // `lookupOne` probes a context holding exactly one block size below 4 GiB and returns −2,
  // counting nothing, for any other context. Contexts 0–2 are filled with one size each
  // (4 KiB, 16 KiB, 2 MiB), context 3 with several (up to 16 GiB).
  it('returns what lookupParts returns, or −2 having counted nothing', () => {
    const seen = { probed: 0, hits: 0, declined: 0, big: 0 };
    twinLookups([[12], [14], [21], [12, 16, 21, 34]], (t, c, hi, lo) => t.lookupOne(c, hi, lo), (a, b, c, e, declined, hi, lo) => {
      if (declined) {
        seen.declined++;
        if (c === 3) seen.big++;
      } else {
        seen.probed++;
        if (e >= 0) seen.hits++;
      }
      if (e >= 0) expect(a.outputFlat(e, hi, lo)).toBe(b.outputParts(e, hi, lo));
    });
    // Probed (hits and misses) and declined (several sizes, or nothing held) many times.
    expect(seen.probed).toBeGreaterThan(2000);
    expect(seen.hits).toBeGreaterThan(600);
    expect(seen.declined).toBeGreaterThan(2000);
    expect(seen.big).toBeGreaterThan(700);
  });
});

describe('SetTlb.lookupSmall against lookupParts', () => {
  // `lookupSmall` probes a context holding any number of block sizes, all below 4 GiB (the
  // Mali MMU's pages beside blocks), and returns −2, counting nothing, for a context holding a
  // size of 4 GiB or more, or none. Contexts of one size, of two (4 KiB and 2 MiB), of three,
  // and one holding a 16 GiB size beside smaller ones.
  it('returns what lookupParts returns, or −2 having counted nothing', () => {
    const seen = { probed: 0, multiHits: 0, declined: 0, big: 0 };
    twinLookups([[12], [12, 21], [14, 16, 21], [12, 16, 21, 34]], (t, c, hi, lo) => t.lookupSmall(c, hi, lo), (_a, _b, c, e, declined) => {
      if (declined) {
        seen.declined++;
        if (c === 3) seen.big++;
      } else {
        seen.probed++;
        if (e >= 0 && (c === 1 || c === 2)) seen.multiHits++;
      }
    });
    expect(seen.probed).toBeGreaterThan(2000);
    expect(seen.multiHits).toBeGreaterThan(300);
    expect(seen.declined).toBeGreaterThan(500);
    expect(seen.big).toBeGreaterThan(300);
  });
});
