import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IovaDomain } from '@gki/kernel';

/*
 * The one-frame entry points the DMA API's one-page path uses (allocOne / freeOne) against
 * allocIova(1, limit, true) / freeIova(pfn, 1) on a second allocator: the same answers and the
 * same ranges after every step, whatever mix of churn (free of the newest allocation, then the
 * same request), other sizes and limits, stray frees and reservations.
 */
type Op =
  | { k: 'one'; limit: number }
  | { k: 'alloc'; size: number; limit: number }
  | { k: 'free'; pick: number; newest: boolean }
  | { k: 'freeRun'; pick: number; newest: boolean }
  | { k: 'reserve'; lo: number; len: number };

describe('IovaDomain one-frame entry points', () => {
  it('answer as allocIova(1, limit, true) and freeIova(pfn, 1) do', () => {
    const op: fc.Arbitrary<Op> = fc.oneof(
      { weight: 6, arbitrary: fc.record({ k: fc.constant('one' as const), limit: fc.constantFrom(63, 63, 63, 40, 20) }) },
      { weight: 3, arbitrary: fc.record({ k: fc.constant('alloc' as const), size: fc.integer({ min: 1, max: 5 }), limit: fc.oneof(fc.constantFrom(63, 40, 20), fc.integer({ min: 0, max: 63 })) }) },
      { weight: 6, arbitrary: fc.record({ k: fc.constant('free' as const), pick: fc.nat(), newest: fc.boolean() }) },
      { weight: 3, arbitrary: fc.record({ k: fc.constant('freeRun' as const), pick: fc.nat(), newest: fc.boolean() }) },
      { weight: 1, arbitrary: fc.record({ k: fc.constant('reserve' as const), lo: fc.integer({ min: 0, max: 63 }), len: fc.integer({ min: 1, max: 3 }) }) },
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const a = new IovaDomain(0x1000, 1);
        const b = new IovaDomain(0x1000, 1);
        const live: { pfn: number; size: number }[] = [];
        for (const o of ops) {
          if (o.k === 'one') {
            const r = a.allocOne(o.limit);
            expect(r).toBe(b.allocIova(1, o.limit, true));
            if (r >= 0) live.push({ pfn: r, size: 1 });
          } else if (o.k === 'alloc') {
            const r = a.allocIova(o.size, o.limit, true);
            expect(r).toBe(b.allocIova(o.size, o.limit, true));
            if (r >= 0) live.push({ pfn: r, size: o.size });
          } else if (o.k === 'free') {
            if (live.length === 0) {
              expect(a.freeOne(5)).toBe(b.freeIova(5, 1));
              continue;
            }
            const i = o.newest ? live.length - 1 : o.pick % live.length;
            const x = live[i]!;
            // freeOne of a longer range, or of a frame inside one, must be refused as freeIova refuses it
            expect(a.freeOne(x.pfn)).toBe(b.freeIova(x.pfn, 1));
            if (x.size === 1) live.splice(i, 1);
          } else if (o.k === 'freeRun') {
            // freeIova of a whole run (any size) on both: a later allocOne must not take a
            // longer run's frame back as if it had been a one-frame request
            if (live.length === 0) continue;
            const i = o.newest ? live.length - 1 : o.pick % live.length;
            const x = live[i]!;
            expect(a.freeIova(x.pfn, x.size)).toBe(b.freeIova(x.pfn, x.size));
            live.splice(i, 1);
          } else {
            expect(a.reserveIova(o.lo, o.lo + o.len - 1)).toBe(b.reserveIova(o.lo, o.lo + o.len - 1));
          }
          expect(a.count).toBe(b.count);
        }
        expect(a.list()).toEqual(b.list());
        expect(a.stats()).toEqual(b.stats());
      }),
      { numRuns: 600 },
    );
  });

  it('takes back only a one-frame request: a freed longer run at the same limit is not reused by allocOne', () => {
    const a = new IovaDomain(0x1000, 1);
    const b = new IovaDomain(0x1000, 1);
    for (const size of [2, 3, 4]) {
      const p = a.allocIova(size, 63, true);
      expect(p).toBe(b.allocIova(size, 63, true));
      expect(a.freeIova(p, size)).toBe(0);
      expect(b.freeIova(p, size)).toBe(0);
      const one = a.allocOne(63);
      expect(one).toBe(b.allocIova(1, 63, true));
      expect(one).toBe(63);
      expect(a.freeOne(one)).toBe(0);
      expect(b.freeIova(one, 1)).toBe(0);
    }
    expect(a.list()).toEqual(b.list());
    expect(a.stats()).toEqual(b.stats());
  });
});
