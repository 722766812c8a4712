/**
 * drm_mm under random sequences of inserts (every mode, alignments including odd ones, ranges),
 * reservations and removals, checked after every step against what drm_mm guarantees: nodes
 * never overlap and stay inside the allocator, the holes are exactly the maximal gaps between
 * nodes (removal merges), a placed node is inside its range and aligned, BEST takes a hole no
 * smaller hole could have served, LOW the lowest and HIGH the highest such hole at its bottom
 * or top, -ENOSPC only when no gap could take the request, and a failure changes nothing.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DRM_MM_INSERT_BEST, DRM_MM_INSERT_EVICT, DRM_MM_INSERT_HIGH, DRM_MM_INSERT_LOW, DrmMm, DrmMmNode, ENOSPC, drmMmReserveNode } from '../src/index.js';

const SIZE = 256;

type Op =
  | { kind: 'insert'; size: number; align: number; lo: number; hi: number; mode: number }
  | { kind: 'reserve'; start: number; size: number }
  | { kind: 'remove'; pick: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('insert' as const),
    size: fc.integer({ min: 1, max: 64 }),
    align: fc.constantFrom(0, 1, 2, 3, 4, 5, 7, 8, 16, 24, 100),
    lo: fc.integer({ min: 0, max: SIZE }),
    hi: fc.integer({ min: 0, max: SIZE }),
    mode: fc.constantFrom(DRM_MM_INSERT_BEST, DRM_MM_INSERT_LOW, DRM_MM_INSERT_HIGH, DRM_MM_INSERT_EVICT),
  }).map((o) => ({ ...o, lo: Math.min(o.lo, o.hi), hi: Math.max(o.lo, o.hi) })),
  fc.record({ kind: fc.constant('reserve' as const), start: fc.integer({ min: 0, max: SIZE }), size: fc.integer({ min: 1, max: 32 }) }),
  fc.record({ kind: fc.constant('remove' as const), pick: fc.nat() }),
);

/** The gaps between nodes (maximal free runs), from the nodes alone. */
function gaps(mm: DrmMm): { start: number; end: number }[] {
  const out: { start: number; end: number }[] = [];
  let at = mm.start;
  for (const n of mm.nodes()) {
    if (n.start > at) out.push({ start: at, end: n.start });
    at = n.start + n.size;
  }
  if (mm.end > at) out.push({ start: at, end: mm.end });
  return out;
}

/** Whether some aligned start in gap g puts `size` units inside [lo, hi). */
function fits(g: { start: number; end: number }, size: number, align: number, lo: number, hi: number): boolean {
  const a = align <= 1 ? 1 : align;
  const s = Math.max(g.start, lo);
  const e = Math.min(g.end, hi);
  return Math.ceil(s / a) * a + size <= e;
}

const snapshot = (mm: DrmMm) => JSON.stringify({ h: mm.holes(), n: mm.nodes().map((n) => [n.start, n.size]) });

describe('drm_mm invariants under random operations (property)', () => {
  it('keeps nodes and holes consistent and places as each mode promises', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const mm = new DrmMm(0, SIZE);
        for (const o of ops) {
          const before = snapshot(mm);
          const free = gaps(mm);
          if (o.kind === 'insert') {
            const n = new DrmMmNode();
            const r = mm.insertNodeInRange(n, o.size, o.align, 0, o.lo, o.hi, o.mode);
            const ok = free.filter((g) => fits(g, o.size, o.align, o.lo, o.hi));
            if (r === 0) {
              const g = free.find((x) => x.start <= n.start && n.start + n.size <= x.end)!;
              expect(g).toBeDefined();
              expect(n.size).toBe(o.size);
              expect(n.start).toBeGreaterThanOrEqual(o.lo);
              expect(n.start + n.size).toBeLessThanOrEqual(o.hi);
              if (o.align > 1) expect(n.start % o.align).toBe(0);
              const a = o.align > 1 ? o.align : 1;
              const lo = Math.max(g.start, o.lo);
              const hi = Math.min(g.end, o.hi);
              if (o.mode === DRM_MM_INSERT_BEST) {
                expect(ok.every((x) => x.end - x.start >= g.end - g.start)).toBe(true);
                expect(n.start).toBe(Math.ceil(lo / a) * a);
              } else if (o.mode === DRM_MM_INSERT_LOW) {
                expect(ok[0]).toEqual(g);
                expect(n.start).toBe(Math.ceil(lo / a) * a);
              } else if (o.mode === DRM_MM_INSERT_HIGH) {
                expect(ok[ok.length - 1]).toEqual(g);
                expect(n.start).toBe(Math.floor((hi - o.size) / a) * a);
              } else {
                expect(n.start).toBe(Math.ceil(lo / a) * a);
              }
            } else {
              expect(r).toBe(-ENOSPC);
              expect(ok).toEqual([]);
              expect(snapshot(mm)).toBe(before);
            }
          } else if (o.kind === 'reserve') {
            const n = new DrmMmNode();
            n.start = o.start;
            n.size = o.size;
            const r = drmMmReserveNode(mm, n);
            const free1 = free.some((g) => g.start <= o.start && o.start + o.size <= g.end);
            expect(r).toBe(free1 ? 0 : -ENOSPC);
            if (r < 0) expect(snapshot(mm)).toBe(before);
          } else if (mm.nodes().length > 0) {
            mm.removeNode(mm.nodes()[o.pick % mm.nodes().length]!);
          }
          // the holes are exactly the maximal gaps: nothing lost, nothing left unmerged
          expect(mm.holes()).toEqual(gaps(mm));
          const ns = mm.nodes();
          for (let i = 0; i < ns.length; i++) {
            expect(ns[i]!.allocated).toBe(true);
            expect(ns[i]!.start).toBeGreaterThanOrEqual(0);
            if (i > 0) expect(ns[i]!.start).toBeGreaterThanOrEqual(ns[i - 1]!.start + ns[i - 1]!.size);
          }
          if (ns.length > 0) expect(ns[ns.length - 1]!.start + ns[ns.length - 1]!.size).toBeLessThanOrEqual(SIZE);
        }
        expect(mm.clean).toBe(mm.nodes().length === 0);
      }),
      { numRuns: 300 },
    );
  });
});
