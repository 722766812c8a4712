import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EEXIST, EINVAL, ENOMEM, IovaDomain } from '@gki/kernel';

/*
 * IovaDomain (a balanced tree with free-run augmentation) against a reference written the
 * plainest possible way: every allocated range in one sorted array, and an allocation scanning
 * every gap from the limit down, exactly as the placement rule reads (highest position at or
 * below the limit where the run fits; size-aligned runs at a multiple of the size rounded up
 * to a power of two; never below the start pfn). Random operation sequences must give the same
 * results and the same ranges after every step.
 */
class RefIova {
  readonly ranges: { pfnLo: number; pfnHi: number }[] = [];
  constructor(readonly startPfn: number) {}

  private roundUpPow2(n: number): number {
    let p = 1;
    while (p < n) p *= 2;
    return p;
  }

  alloc(size: number, limit: number, aligned: boolean): number {
    if (!Number.isSafeInteger(size) || size < 1 || !Number.isSafeInteger(limit)) return -EINVAL;
    const align = aligned ? this.roundUpPow2(size) : 1;
    // candidate runs from the top: [gapLo, high) with high starting at limit + 1
    let high = limit + 1;
    let i = this.ranges.filter((r) => r.pfnLo <= limit).length - 1;
    for (;;) {
      const gapLo = Math.max(i >= 0 ? this.ranges[i]!.pfnHi + 1 : 0, this.startPfn);
      const cand = Math.floor((high - size) / align) * align;
      if (high - size >= gapLo && cand >= gapLo) {
        this.ranges.splice(i + 1, 0, { pfnLo: cand, pfnHi: cand + size - 1 });
        return cand;
      }
      if (i < 0) return -ENOMEM;
      high = Math.min(high, this.ranges[i]!.pfnLo);
      i--;
    }
  }

  reserve(lo: number, hi: number): number {
    if (lo < 0 || hi < lo) return -EINVAL;
    if (this.ranges.some((r) => r.pfnLo <= hi && r.pfnHi >= lo)) return -EEXIST;
    const i = this.ranges.filter((r) => r.pfnLo < lo).length;
    this.ranges.splice(i, 0, { pfnLo: lo, pfnHi: hi });
    return 0;
  }

  free(lo: number, size: number): number {
    const i = this.ranges.findIndex((r) => r.pfnLo === lo);
    if (i < 0 || this.ranges[i]!.pfnHi - lo + 1 !== size) return -EINVAL;
    this.ranges.splice(i, 1);
    return 0;
  }

  find(pfn: number): { pfnLo: number; pfnHi: number } | undefined {
    return this.ranges.find((r) => r.pfnLo <= pfn && r.pfnHi >= pfn);
  }
}

type Op =
  | { k: 'alloc'; size: number; limit: number; aligned: boolean }
  | { k: 'again' }
  | { k: 'freeLast' }
  | { k: 'check' }
  | { k: 'free'; pick: number; delta: number }
  | { k: 'reserve'; lo: number; len: number }
  | { k: 'find'; pfn: number };

function ops(space: number): fc.Arbitrary<Op[]> {
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 6, arbitrary: fc.record({ k: fc.constant('alloc' as const), size: fc.oneof(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 40 })), limit: fc.integer({ min: 0, max: space }), aligned: fc.boolean() }) },
    { weight: 4, arbitrary: fc.record({ k: fc.constant('free' as const), pick: fc.nat(), delta: fc.oneof({ weight: 5, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -2, max: 2 }) }) }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('reserve' as const), lo: fc.integer({ min: 0, max: space }), len: fc.integer({ min: 1, max: 16 }) }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('find' as const), pfn: fc.integer({ min: 0, max: space }) }) },
    // map/unmap churn: free the newest allocation, repeat the last request, look at the ranges
    { weight: 3, arbitrary: fc.constant({ k: 'freeLast' as const }) },
    { weight: 3, arbitrary: fc.constant({ k: 'again' as const }) },
    { weight: 1, arbitrary: fc.constant({ k: 'check' as const }) },
  );
  return fc.array(op, { minLength: 1, maxLength: 300 });
}

function run(start: number, seq: Op[]): void {
  const ref = new RefIova(start);
  const iovad = new IovaDomain(0x1000, start);
  let last: { size: number; limit: number; aligned: boolean } | null = null;
  let newest = -1;
  for (const o of seq) {
    if (o.k === 'alloc' || (o.k === 'again' && last)) {
      const a: { size: number; limit: number; aligned: boolean } = o.k === 'alloc' ? o : last!;
      const got = iovad.allocIova(a.size, a.limit, a.aligned);
      expect(got).toBe(ref.alloc(a.size, a.limit, a.aligned));
      last = { size: a.size, limit: a.limit, aligned: a.aligned };
      if (got >= 0) newest = got;
    } else if (o.k === 'freeLast') {
      const r = ref.ranges.find((x) => x.pfnLo === newest);
      const size = r ? r.pfnHi - r.pfnLo + 1 : 1;
      expect(iovad.freeIova(newest, size)).toBe(ref.free(newest, size));
    } else if (o.k === 'check' || o.k === 'again') {
      expect(iovad.list()).toEqual(ref.ranges);
    } else if (o.k === 'free') {
      const r = ref.ranges.length ? ref.ranges[o.pick % ref.ranges.length]! : { pfnLo: o.pick, pfnHi: o.pick };
      const size = r.pfnHi - r.pfnLo + 1 + (o.delta === 0 ? 0 : o.delta);
      const lo = r.pfnLo + (o.delta === 2 ? 1 : 0);
      expect(iovad.freeIova(lo, size)).toBe(ref.free(lo, size));
    } else if (o.k === 'reserve') {
      expect(iovad.reserveIova(o.lo, o.lo + o.len - 1)).toBe(ref.reserve(o.lo, o.lo + o.len - 1));
    } else {
      expect(iovad.findIova(o.pfn)).toEqual(ref.find(o.pfn));
    }
    // the count every step; the ranges themselves now and then (list() is also a read that
    // ends any pending state, so reading it every step would hide the churn paths)
    expect(iovad.count).toBe(ref.ranges.length);
  }
  expect(iovad.list()).toEqual(ref.ranges);
  expect(iovad.stats().ranges).toBe(ref.ranges.length);
}

describe('IovaDomain against the reference placement', () => {
  it('random alloc/free/reserve/find sequences in a small space (crowded: holes, failures, reuse)', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 8 }), ops(256), (start, seq) => run(start, seq)), { numRuns: 300 });
  });

  it('random sequences in a large space (mostly top-down growth)', () => {
    fc.assert(fc.property(ops(2 ** 20), (seq) => run(1, seq)), { numRuns: 100 });
  });

  it('long alloc/free churn keeps placement and ranges identical', () => {
    const ref = new RefIova(1);
    const iovad = new IovaDomain(0x1000, 1);
    let seed = 12345;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed % n;
    };
    for (let step = 0; step < 4000; step++) {
      if (ref.ranges.length > 0 && rnd(3) === 0) {
        const r = ref.ranges[rnd(ref.ranges.length)]!;
        expect(iovad.freeIova(r.pfnLo, r.pfnHi - r.pfnLo + 1)).toBe(ref.free(r.pfnLo, r.pfnHi - r.pfnLo + 1));
      } else {
        const size = 1 + rnd(rnd(4) === 0 ? 32 : 3);
        const limit = rnd(8) === 0 ? 2000 + rnd(4000) : 0xf_ffff;
        const aligned = rnd(5) !== 0;
        expect(iovad.allocIova(size, limit, aligned)).toBe(ref.alloc(size, limit, aligned));
      }
      if (step % 97 === 0) expect(iovad.list()).toEqual(ref.ranges);
      // map/unmap churn of the newest allocation now and then
      if (rnd(4) === 0 && ref.ranges.length > 0) {
        const size = 1 + rnd(3);
        const pfn = iovad.allocIova(size, 0xf_ffff, true);
        expect(pfn).toBe(ref.alloc(size, 0xf_ffff, true));
        if (pfn >= 0) {
          expect(iovad.freeIova(pfn, size)).toBe(ref.free(pfn, size));
          expect(iovad.allocIova(size, 0xf_ffff, true)).toBe(ref.alloc(size, 0xf_ffff, true));
        }
      }
    }
    expect(iovad.list()).toEqual(ref.ranges);
  });
});
