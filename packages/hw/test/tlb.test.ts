import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Tlb, tlbSizeShift } from '../src/models/tlb.js';

const K4 = 12;
const M2 = 21;
const G1 = 30;

describe('Tlb basics', () => {
  it('hits inside the cached block, misses outside it, and counts both', () => {
    const tlb = new Tlb({ capacity: 16 });
    const c = tlb.context(3, 7);
    expect(tlb.context(3, 7)).toBe(c);
    expect(tlb.lookup(c, 0x1234_5000)).toBe(-1);
    const e = tlb.insert(c, 0x1234_5678, K4, 0x8_0000_0678, 0x3f, 5, 0x9999_9000);
    expect(tlb.lookup(c, 0x1234_5000)).toBe(e);
    expect(tlb.output(e, 0x1234_5fff)).toBe(0x8_0000_0fff);
    expect(tlb.outputParts(e, 0, 0x1234_5abc)).toBe(0x8_0000_0abc);
    expect([tlb.perms(e), tlb.attr(e), tlb.aux(e), tlb.shift(e), tlb.base(e), tlb.outputBase(e), tlb.entryContext(e)]).toEqual([
      0x3f, 5, 0x9999_9000, K4, 0x1234_5000, 0x8_0000_0000, c,
    ]);
    expect(tlb.lookup(c, 0x1234_6000)).toBe(-1);
    expect(tlb.lookup(c, 0x1234_4fff)).toBe(-1);
    // Another context never sees it.
    const d = tlb.context(3, 8);
    expect(tlb.lookup(d, 0x1234_5000)).toBe(-1);
    expect(tlb.counters()).toEqual({ hits: 1, misses: 4, inserts: 1, evictions: 0, flushes: 0, invalidated: 0, entries: 1 });
    tlb.resetCounters();
    expect(tlb.counters()).toMatchObject({ hits: 0, misses: 0, entries: 1 });
  });

  it('holds blocks of several sizes per context and addresses above 2^32', () => {
    const tlb = new Tlb();
    const c = tlb.context(0, 0);
    const va = 2 ** 39 + 3 * 2 ** 30;
    tlb.insert(c, va + 0x1234_5678, G1, 0x40_0000_0000 + 0x1234_5678, 1);
    tlb.insert(c, 2 ** 47 + 0x20_0000 + 0x10, M2, 0x8000_0010, 2);
    tlb.insert(c, 2 ** 47 + 0x40_3000, K4, 0xc000_3000, 4);
    const hit = (a: number): [number, number] => {
      const e = tlb.lookup(c, a);
      return e < 0 ? [-1, -1] : [tlb.output(e, a), tlb.perms(e)];
    };
    expect(hit(va)).toEqual([0x40_0000_0000, 1]);
    expect(hit(va + 2 ** 30 - 1)).toEqual([0x40_0000_0000 + 2 ** 30 - 1, 1]);
    expect(hit(va + 2 ** 30)).toEqual([-1, -1]);
    expect(hit(2 ** 47 + 0x3f_ffff)).toEqual([0x801f_ffff, 2]);
    expect(hit(2 ** 47 + 0x40_3abc)).toEqual([0xc000_3abc, 4]);
    expect(hit(2 ** 47 + 0x40_4000)).toEqual([-1, -1]);
    expect(tlb.contextSize(c)).toBe(3);
  });

  it('works on u32 halves for inputs a number cannot hold exactly (TTBR1 addresses)', () => {
    const tlb = new Tlb();
    const c = tlb.context(1, 2);
    // 0xffff_ffff_ffe0_1000, a 4 KiB page, and the 2 MiB block 0xffff_8000_0020_0000.
    tlb.insertParts(c, 0xffff_ffff, 0xffe0_1234, K4, 0x5000_0234, 9);
    tlb.insertParts(c, 0xffff_8000, 0x0030_0000, M2, 0x6010_0000, 8);
    const e = tlb.lookupParts(c, 0xffff_ffff, 0xffe0_1fff);
    expect(e).toBeGreaterThanOrEqual(0);
    expect(tlb.outputParts(e, 0xffff_ffff, 0xffe0_1fff)).toBe(0x5000_0fff);
    expect(tlb.lookupParts(c, 0xffff_ffff, 0xffe0_2000)).toBe(-1);
    expect(tlb.lookupParts(c, 0x7fff_ffff, 0xffe0_1000)).toBe(-1);
    const b = tlb.lookupParts(c, 0xffff_8000, 0x0020_0008);
    expect(tlb.outputParts(b, 0xffff_8000, 0x0020_0008)).toBe(0x6000_0008);
    expect(tlb.shift(b)).toBe(M2);
  });

  it('replaces an entry for the same block in place', () => {
    const tlb = new Tlb({ capacity: 2 });
    const c = tlb.context(0, 1);
    const e1 = tlb.insert(c, 0x5000, K4, 0x9000, 1);
    const e2 = tlb.insert(c, 0x5800, K4, 0xa800, 3);
    expect(e2).toBe(e1);
    expect(tlb.size).toBe(1);
    expect(tlb.output(tlb.lookup(c, 0x5000), 0x5004)).toBe(0xa004);
    expect(tlb.perms(e1)).toBe(3);
  });

  it('rejects bad arguments and changes nothing', () => {
    expect(() => new Tlb({ capacity: 0 })).toThrow(RangeError);
    expect(() => new Tlb({ capacity: 1.5 })).toThrow(RangeError);
    expect(() => new Tlb({ eviction: 'lru' as never })).toThrow(/eviction/);
    const tlb = new Tlb();
    expect(() => tlb.context(-1, 0)).toThrow(RangeError);
    expect(() => tlb.context(0, 0.5)).toThrow(RangeError);
    const c = tlb.context(0, 0);
    expect(() => tlb.insert(c + 1, 0, K4, 0, 0)).toThrow(/context/);
    expect(() => tlb.insert(c, 0, 11, 0, 0)).toThrow(/shift/);
    expect(() => tlb.insert(c, 0, 43, 0, 0)).toThrow(/shift/);
    expect(() => tlb.insert(c, -4096, K4, 0, 0)).toThrow(/input address/);
    expect(() => tlb.insertBlock(c, 0, 3 * 4096, 0, 0)).toThrow(/power of two/);
    expect(tlb.size).toBe(0);
    expect(tlb.counters().inserts).toBe(0);
  });

  it('tlbSizeShift accepts powers of two from 4 KiB to 4 TiB', () => {
    expect([4096, 65536, 2 ** 21, 2 ** 31, 2 ** 32, 2 ** 42].map(tlbSizeShift)).toEqual([12, 16, 21, 31, 32, 42]);
    expect([0, 2048, 4097, 2 ** 43, 3 * 2 ** 32, 0.5].map(tlbSizeShift)).toEqual([-1, -1, -1, -1, -1, -1]);
  });
});

describe('Tlb invalidation', () => {
  function filled(): { tlb: Tlb; a: number; b: number; s2: number; other: number } {
    const tlb = new Tlb();
    const a = tlb.context(5, 1); // VMID 5, ASID 1
    const b = tlb.context(5, 2); // VMID 5, ASID 2
    const s2 = tlb.context(5, 0x10000); // VMID 5, stage 2 only
    const other = tlb.context(6, 1); // VMID 6, ASID 1
    for (const c of [a, b, s2, other]) {
      for (let p = 0; p < 8; p++) tlb.insert(c, 0x10_0000 + p * 4096, K4, 0x8000_0000 + c * 2 ** 24 + p * 4096, 1);
      tlb.insert(c, 0x4000_0000, M2, 0x9000_0000 + c * 2 ** 24, 1);
    }
    return { tlb, a, b, s2, other };
  }
  const has = (tlb: Tlb, c: number, va: number): boolean => tlb.lookup(c, va) >= 0;

  it('by context and range: only overlapping blocks go, whatever their size', () => {
    const { tlb, a, b } = filled();
    tlb.invalidateTag(5, 1, 0x10_1000, 0x10_3000); // pages 1 and 2
    expect([0, 1, 2, 3].map((p) => has(tlb, a, 0x10_0000 + p * 4096))).toEqual([true, false, false, true]);
    expect(has(tlb, b, 0x10_1000)).toBe(true);
    // One byte inside the 2 MiB block drops the block.
    tlb.invalidateContext(a, 0x4010_0000, 0x4010_0001);
    expect(has(tlb, a, 0x4000_0000)).toBe(false);
    expect(has(tlb, b, 0x4000_0000)).toBe(true);
    expect(tlb.counters().invalidated).toBe(3);
    // A range covering more blocks than the context holds takes the list walk: same result.
    tlb.invalidateContext(a, 0, 2 ** 40);
    expect(tlb.contextSize(a)).toBe(0);
    expect(tlb.size).toBe(27);
  });

  it('by context, by group, by rule and all', () => {
    const { tlb, a, b, s2, other } = filled();
    tlb.invalidateTag(5, 2);
    expect(tlb.contextSize(b)).toBe(0);
    expect(tlb.contextSize(a)).toBe(9);
    tlb.invalidateTag(7, 7); // unknown context: nothing
    tlb.invalidateWhere((g, t) => g === 5 && t !== 0x10000);
    expect([a, b, s2, other].map((c) => tlb.contextSize(c))).toEqual([0, 0, 9, 9]);
    tlb.invalidateGroup(5, 0x10_0000, 0x10_2000);
    expect(tlb.contextSize(s2)).toBe(7);
    tlb.invalidateGroup(5);
    expect(tlb.contextSize(s2)).toBe(0);
    expect(tlb.contextSize(other)).toBe(9);
    tlb.invalidateAll();
    expect(tlb.size).toBe(0);
    expect(has(tlb, other, 0x10_0000)).toBe(false);
    // Still usable after being emptied.
    tlb.insert(other, 0x10_0000, K4, 0x1000, 1);
    expect(has(tlb, other, 0x10_0fff)).toBe(true);
    expect(tlb.counters().invalidated).toBe(36);
  });
});

describe('Tlb capacity', () => {
  it("'flush' empties a full TLB before inserting", () => {
    const tlb = new Tlb({ capacity: 3 });
    const c = tlb.context(0, 0);
    for (let p = 0; p < 3; p++) tlb.insert(c, p * 4096, K4, p * 4096, 1);
    expect(tlb.size).toBe(3);
    tlb.insert(c, 3 * 4096, K4, 3 * 4096, 1);
    expect(tlb.size).toBe(1);
    expect(tlb.counters()).toMatchObject({ flushes: 1, evictions: 3 });
    expect(tlb.lookup(c, 0)).toBe(-1);
    expect(tlb.lookup(c, 3 * 4096)).toBeGreaterThanOrEqual(0);
  });

  it("'round-robin' replaces one entry at a time, cycling through the slots", () => {
    const tlb = new Tlb({ capacity: 3, eviction: 'round-robin' });
    const c = tlb.context(0, 0);
    for (let p = 0; p < 3; p++) tlb.insert(c, p * 4096, K4, p * 4096, 1);
    tlb.insert(c, 3 * 4096, K4, 3 * 4096, 1);
    expect(tlb.size).toBe(3);
    expect([0, 1, 2, 3].map((p) => tlb.lookup(c, p * 4096) >= 0)).toEqual([false, true, true, true]);
    tlb.insert(c, 4 * 4096, K4, 4 * 4096, 1);
    expect([0, 1, 2, 3, 4].map((p) => tlb.lookup(c, p * 4096) >= 0)).toEqual([false, false, true, true, true]);
    expect(tlb.counters()).toMatchObject({ flushes: 0, evictions: 2, entries: 3 });
  });

  it('grows its arrays past the initial size without losing entries', () => {
    const tlb = new Tlb({ capacity: 5000 });
    const cs = [tlb.context(1, 1), tlb.context(1, 2)];
    for (let p = 0; p < 2000; p++) for (const c of cs) tlb.insert(c, 2 ** 36 + p * 4096, K4, c * 2 ** 32 + p * 4096, 1);
    expect(tlb.size).toBe(4000);
    for (let p = 0; p < 2000; p += 37) for (const c of cs) expect(tlb.output(tlb.lookup(c, 2 ** 36 + p * 4096 + 1), 2 ** 36 + p * 4096 + 1)).toBe(c * 2 ** 32 + p * 4096 + 1);
  });
});

/** A plain reference TLB: a list of entries. */
interface RefEntry {
  ctx: number;
  shift: number;
  base: number;
  oa: number;
  perms: number;
}

type Op =
  | { op: 'insert'; ctx: number; page: number; shift: number; pa: number; perms: number }
  | { op: 'lookup'; ctx: number; page: number; off: number }
  | { op: 'invCtx'; ctx: number; page: number; pages: number }
  | { op: 'invGroup'; group: number }
  | { op: 'invAll' };

describe('Tlb against a reference model', () => {
  const GROUPS = 2;
  const TAGS = 3;
  // Neighbouring pages (ranges and blocks overlap) and scattered ones (hash collisions).
  const pageArb = fc.oneof(fc.nat(2047), fc.nat(2 ** 26 - 1));
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    { weight: 5, arbitrary: fc.record({ op: fc.constant('insert' as const), ctx: fc.nat(GROUPS * TAGS - 1), page: pageArb, shift: fc.constantFrom(12, 12, 12, 14, 16, 21), pa: fc.nat(2 ** 20), perms: fc.nat(63) }) },
    { weight: 5, arbitrary: fc.record({ op: fc.constant('lookup' as const), ctx: fc.nat(GROUPS * TAGS - 1), page: pageArb, off: fc.nat(4095) }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('invCtx' as const), ctx: fc.nat(GROUPS * TAGS - 1), page: pageArb, pages: fc.oneof(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3000 })) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('invGroup' as const), group: fc.nat(GROUPS - 1) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('invAll' as const) }) },
  );

  for (const eviction of ['flush', 'round-robin'] as const) {
    it(`agrees on every lookup (${eviction}; inputs around 2^40)`, () => {
      fc.assert(
        fc.property(fc.array(opArb, { maxLength: 300 }), fc.integer({ min: 3, max: 600 }), (ops, capacity) => {
          const tlb = new Tlb({ capacity, eviction });
          const ids: number[] = [];
          for (let g = 0; g < GROUPS; g++) for (let t = 0; t < TAGS; t++) ids.push(tlb.context(g, t));
          let ref: RefEntry[] = [];
          const BASE = 2 ** 40 - 2 ** 22; // pages cross 2^40
          for (const o of ops) {
            if (o.op === 'insert') {
              const va = BASE + o.page * 4096;
              const size = 2 ** o.shift;
              const base = Math.floor(va / size) * size;
              const pa = o.pa * 4096 + (va - base);
              const existing = ref.find((r) => r.ctx === o.ctx && r.shift === o.shift && r.base === base);
              if (!existing && ref.length >= capacity) {
                if (eviction === 'flush') ref = [];
                else {
                  // Round-robin victims are not predicted by the model: mirror whatever went.
                  tlb.insert(ids[o.ctx]!, va, o.shift, pa, o.perms);
                  const before = ref.length;
                  ref = ref.filter((r) => tlb.peek(ids[r.ctx]!, r.base, r.shift) >= 0);
                  expect(ref.length).toBe(before - 1); // exactly one victim
                  ref.push({ ctx: o.ctx, shift: o.shift, base, oa: pa - (va - base), perms: o.perms });
                  expect(tlb.peek(ids[o.ctx]!, va, o.shift)).toBeGreaterThanOrEqual(0);
                  continue;
                }
              }
              tlb.insert(ids[o.ctx]!, va, o.shift, pa, o.perms);
              if (existing) {
                existing.oa = pa - (va - base);
                existing.perms = o.perms;
              } else ref.push({ ctx: o.ctx, shift: o.shift, base, oa: pa - (va - base), perms: o.perms });
            } else if (o.op === 'lookup') {
              const va = BASE + o.page * 4096 + o.off;
              const hits = ref.filter((r) => r.ctx === o.ctx && va >= r.base && va < r.base + 2 ** r.shift).sort((x, y) => x.shift - y.shift);
              const e = tlb.lookup(ids[o.ctx]!, va);
              if (hits.length === 0) expect(e).toBe(-1);
              else {
                expect(e).toBeGreaterThanOrEqual(0);
                expect([tlb.output(e, va), tlb.perms(e)]).toEqual([hits[0]!.oa + (va - hits[0]!.base), hits[0]!.perms]);
              }
            } else if (o.op === 'invCtx') {
              const start = BASE + o.page * 4096;
              const end = start + o.pages * 4096;
              tlb.invalidateContext(ids[o.ctx]!, start, end);
              ref = ref.filter((r) => !(r.ctx === o.ctx && r.base < end && r.base + 2 ** r.shift > start));
            } else if (o.op === 'invGroup') {
              tlb.invalidateGroup(o.group);
              ref = ref.filter((r) => Math.floor(r.ctx / TAGS) !== o.group);
            } else {
              tlb.invalidateAll();
              ref = [];
            }
            expect(tlb.size).toBe(ref.length);
            // Every entry the model holds is still reachable through the hash index.
            for (const r of ref) {
              const e = tlb.peek(ids[r.ctx]!, r.base, r.shift);
              expect(e).toBeGreaterThanOrEqual(0);
              expect(tlb.output(e, r.base)).toBe(r.oa);
            }
            for (let c = 0; c < ids.length; c++) expect(tlb.contextSize(ids[c]!)).toBe(ref.filter((r) => r.ctx === c).length);
          }
        }),
        { numRuns: 150 },
      );
    });
  }
});
