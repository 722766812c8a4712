/**
 * The DRM core's drm_mm, checked against drm_mm's rules (drivers/gpu/drm/drm_mm.c) in the
 * situations its own selftests (drivers/gpu/drm/tests/drm_mm_test.c) exercise: init, reserve,
 * insert, remove and merge, best/low/high/evict placement, ONCE, alignment (including odd
 * alignments), range restriction and colour adjustment. Every expected address below is worked
 * out by hand from those rules in the comments next to it.
 */
import { describe, expect, it } from 'vitest';
import {
  DRM_MM_INSERT_BEST,
  DRM_MM_INSERT_EVICT,
  DRM_MM_INSERT_HIGH,
  DRM_MM_INSERT_HIGHEST,
  DRM_MM_INSERT_LOW,
  DRM_MM_INSERT_LOWEST,
  DrmMm,
  DrmMmNode,
  EINVAL,
  ENOSPC,
  KernelError,
  drmMmReserveNode,
  type DrmMmColorAdjust,
} from '../src/index.js';

/** Inserts and returns the node's start (or the error). */
function ins(mm: DrmMm, size: number, opts: { align?: number; color?: number; lo?: number; hi?: number; mode?: number } = {}): number {
  const n = new DrmMmNode();
  const r = mm.insertNodeInRange(n, size, opts.align ?? 0, opts.color ?? 0, opts.lo ?? mm.start, opts.hi ?? mm.end, opts.mode ?? DRM_MM_INSERT_BEST);
  return r < 0 ? r : n.start;
}

function reserve(mm: DrmMm, start: number, size: number, color = 0): number {
  const n = new DrmMmNode();
  n.start = start;
  n.size = size;
  n.color = color;
  return drmMmReserveNode(mm, n);
}

const state = (mm: DrmMm) => ({ holes: mm.holes(), nodes: mm.nodes().map((n) => [n.start, n.size, n.color]) });

describe('drm_mm: init, insert, remove', () => {
  it('a new allocator is one hole over the whole range and clean', () => {
    const mm = new DrmMm(0x100, 0x1000);
    expect(mm.holes()).toEqual([{ start: 0x100, end: 0x1100 }]);
    expect(mm.clean).toBe(true);
    expect(mm.nodes()).toEqual([]);
    // the head node is never allocated; the first hole follows it
    expect(mm.headNode.allocated).toBe(false);
  });

  it('drm_mm_init with an empty or impossible range is refused', () => {
    for (const [s, z] of [
      [0, 0],
      [-1, 10],
      [0, 1.5],
      [Number.MAX_SAFE_INTEGER, 2],
    ] as const) {
      expect(() => new DrmMm(s, z)).toThrow(KernelError);
    }
  });

  it('the whole range fits once; size 0 and oversize requests are -ENOSPC (as in drm_mm)', () => {
    const mm = new DrmMm(0, 4096);
    expect(ins(mm, 0)).toBe(-ENOSPC);
    expect(ins(mm, 4097)).toBe(-ENOSPC);
    const n = new DrmMmNode();
    expect(mm.insertNode(n, 4096)).toBe(0);
    expect([n.start, n.size, n.allocated, n.mm]).toEqual([0, 4096, true, mm]);
    expect(mm.holes()).toEqual([]);
    expect(ins(mm, 1)).toBe(-ENOSPC);
    mm.removeNode(n);
    expect(n.allocated).toBe(false);
    expect(mm.holes()).toEqual([{ start: 0, end: 4096 }]);
    expect(mm.clean).toBe(true);
  });

  it('removing a node that is not allocated is a bug: -EINVAL, nothing changes', () => {
    const mm = new DrmMm(0, 100);
    const n = new DrmMmNode();
    expect(() => mm.removeNode(n)).toThrow(KernelError);
    expect(mm.insertNode(n, 10)).toBe(0);
    const other = new DrmMm(0, 100);
    expect(() => other.removeNode(n)).toThrow(/not allocated here/);
    mm.removeNode(n);
    try {
      mm.removeNode(n);
      expect.unreachable();
    } catch (e) {
      expect((e as KernelError).errno).toBe(-EINVAL);
    }
    expect(state(mm)).toEqual({ holes: [{ start: 0, end: 100 }], nodes: [] });
  });

  it('arguments no u64 could carry are -EINVAL and change nothing', () => {
    const mm = new DrmMm(0, 100);
    expect(reserve(mm, 40, 10)).toBe(0);
    const before = state(mm);
    expect(ins(mm, -1)).toBe(-EINVAL);
    expect(ins(mm, 1.5)).toBe(-EINVAL);
    expect(ins(mm, 10, { align: -2 })).toBe(-EINVAL);
    expect(ins(mm, 10, { color: -1 })).toBe(-EINVAL);
    expect(ins(mm, 10, { lo: 50, hi: 40 })).toBe(-EINVAL);
    expect(ins(mm, 10, { mode: 7 })).toBe(-EINVAL);
    expect(ins(mm, 10, { mode: Number.NaN })).toBe(-EINVAL);
    expect(reserve(mm, -5, 10)).toBe(-EINVAL);
    // a node already in an allocator cannot be inserted again
    const n = mm.nodes()[0]!;
    expect(mm.insertNode(n, 5)).toBe(-EINVAL);
    expect(drmMmReserveNode(mm, n)).toBe(-EINVAL);
    expect(state(mm)).toEqual(before);
  });

  it('drm_mm_takedown WARNs when nodes are left', () => {
    const mm = new DrmMm(0, 100);
    const warns: string[] = [];
    const log = { warn: (who: string, msg: string) => warns.push(`${who}: ${msg}`) };
    const n = new DrmMmNode();
    mm.insertNode(n, 10);
    expect(mm.takedown(log)).toBe(false);
    expect(warns).toEqual(['drm_mm: Memory manager not clean during takedown.']);
    mm.removeNode(n);
    expect(mm.takedown(log)).toBe(true);
    expect(warns.length).toBe(1);
  });

  it('find and drm_mm_for_each_node see the nodes in address order', () => {
    const mm = new DrmMm(0, 100);
    expect(reserve(mm, 60, 10)).toBe(0);
    expect(reserve(mm, 10, 5)).toBe(0);
    expect(reserve(mm, 30, 1)).toBe(0);
    expect(mm.nodes().map((n) => n.start)).toEqual([10, 30, 60]);
    expect(mm.find(14)?.start).toBe(10);
    expect(mm.find(15)).toBeUndefined();
    expect(mm.find(69)?.start).toBe(60);
    expect(mm.find(70)).toBeUndefined();
    expect(mm.nodeAfter(mm.nodes()[2]!)).toBe(mm.headNode);
    expect(mm.nodeAfter(mm.headNode)).toBe(mm.nodes()[0]);
  });
});

describe('drm_mm_reserve_node: exact placement', () => {
  it('takes a free range, refuses any overlap or a range outside the allocator', () => {
    const mm = new DrmMm(0, 4096);
    expect(reserve(mm, 10, 10)).toBe(0);
    const before = state(mm);
    expect(reserve(mm, 15, 10)).toBe(-ENOSPC); // overlaps the end of [10,20)
    expect(reserve(mm, 5, 6)).toBe(-ENOSPC); // overlaps its first unit
    expect(reserve(mm, 12, 2)).toBe(-ENOSPC); // inside it
    expect(reserve(mm, 4090, 10)).toBe(-ENOSPC); // runs past the end
    expect(reserve(mm, 4096, 1)).toBe(-ENOSPC); // beyond the end
    expect(reserve(mm, 100, 0)).toBe(-ENOSPC); // size 0: end <= start
    expect(state(mm)).toEqual(before);
    // touching neighbours on both sides are fine
    expect(reserve(mm, 20, 10)).toBe(0);
    expect(reserve(mm, 0, 10)).toBe(0);
    expect(mm.holes()).toEqual([{ start: 30, end: 4096 }]);
  });
});

describe('drm_mm_insert_node_in_range: which hole', () => {
  /**
   * Separators at 10, 30, 45 and 60 in [0,100) leave holes [0,10) 10, [11,30) 19, [31,45) 14,
   * [46,60) 14 and [61,100) 39; each reservation replaces the hole it lands in with the space
   * below it, then the space above it, so [46,60) is newer than [31,45).
   */
  function separated(): DrmMm {
    const mm = new DrmMm(0, 100);
    for (const s of [10, 30, 45, 60]) expect(reserve(mm, s, 1)).toBe(0);
    return mm;
  }

  it('BEST: the smallest hole that fits, the newest of equal ones, the node at its bottom', () => {
    const mm = separated();
    // 12 fits 14, 14, 19, 39: the two 14s are smallest, [46,60) the newer
    expect(ins(mm, 12)).toBe(46);
    // left [58,60) (2); now the remaining 14 is [31,45)
    expect(ins(mm, 12)).toBe(31);
    // then 19, then 39
    expect(ins(mm, 12)).toBe(11);
    expect(ins(mm, 12)).toBe(61);
    // a 10 fits [0,10) exactly, the smallest
    expect(ins(mm, 10)).toBe(0);
  });

  it('BEST falls back to a larger hole when the range or alignment rules out the smallest', () => {
    const mm = separated();
    // 12 in [0,40): the 14s at 31 and 46 clip to [31,40) (9) and nothing; 19 at 11 fits
    expect(ins(mm, 12, { hi: 40 })).toBe(11);
    // that left [23,30) (7), now the smallest hole of at least 5: 23 rounds up to 24, 24 + 5 <= 30
    expect(ins(mm, 5, { align: 8 })).toBe(24);
    // 9 aligned to 16: [0,10) is the smallest that holds 9, and 0 is aligned
    expect(ins(mm, 9, { align: 16 })).toBe(0);
    // again: holes of at least 9 are the two 14s and 39; the newer 14 is [46,60): 46 -> 48,
    // 48 + 9 = 57 <= 60
    expect(ins(mm, 9, { align: 16 })).toBe(48);
  });

  it('LOW and HIGH: lowest or highest hole, node at the bottom or the top', () => {
    const mk = () => {
      const mm = new DrmMm(0, 100);
      expect(reserve(mm, 40, 1)).toBe(0); // holes [0,40) 40 and [41,100) 59
      return mm;
    };
    expect(ins(mk(), 10, { mode: DRM_MM_INSERT_BEST })).toBe(0);
    expect(ins(mk(), 10, { mode: DRM_MM_INSERT_LOW })).toBe(0);
    expect(ins(mk(), 10, { mode: DRM_MM_INSERT_HIGH })).toBe(90);
    // EVICT: the newest hole whatever its size: [41,100) was made after [0,40)
    expect(ins(mk(), 10, { mode: DRM_MM_INSERT_EVICT })).toBe(41);
    // HIGH below 35: the top of [0,35) is 25
    expect(ins(mk(), 10, { mode: DRM_MM_INSERT_HIGH, hi: 35 })).toBe(25);
    // LOW above 30: [30,40) fits exactly
    expect(ins(mk(), 10, { mode: DRM_MM_INSERT_LOW, lo: 30 })).toBe(30);
    // LOW above 31: [31,40) is 9, the next hole up starts at 41
    expect(ins(mk(), 10, { mode: DRM_MM_INSERT_LOW, lo: 31 })).toBe(41);
  });

  it('HIGH aligns down, LOW aligns up, with an odd alignment', () => {
    const mm = new DrmMm(0, 100);
    // HIGH: top start 90, 90 % 7 = 6 -> 84
    expect(ins(mm, 10, { mode: DRM_MM_INSERT_HIGH, align: 7 })).toBe(84);
    // LOW from 1: 1 % 7 = 1 -> 7
    expect(ins(mm, 10, { mode: DRM_MM_INSERT_LOW, align: 7, lo: 1 })).toBe(7);
  });

  it('ONCE tries only the first hole', () => {
    const mk = () => {
      const mm = new DrmMm(0, 100);
      expect(reserve(mm, 20, 1)).toBe(0); // holes [0,20) and [21,100)
      return mm;
    };
    // from 15 the first hole is [0,20), clipped to [15,20): too small, and ONCE stops there
    expect(ins(mk(), 10, { mode: DRM_MM_INSERT_LOWEST, lo: 15 })).toBe(-ENOSPC);
    expect(ins(mk(), 10, { mode: DRM_MM_INSERT_LOW, lo: 15 })).toBe(21);
    // below 30 the first hole from the top is [21,100), clipped to [21,30): too small
    expect(ins(mk(), 10, { mode: DRM_MM_INSERT_HIGHEST, hi: 30 })).toBe(-ENOSPC);
    expect(ins(mk(), 10, { mode: DRM_MM_INSERT_HIGH, hi: 30 })).toBe(10);
    // with room, LOWEST/HIGHEST place at the very bottom / top
    expect(ins(mk(), 10, { mode: DRM_MM_INSERT_LOWEST })).toBe(0);
    expect(ins(mk(), 10, { mode: DRM_MM_INSERT_HIGHEST })).toBe(90);
  });
});

describe('alignment (any u64, not only powers of two)', () => {
  it('0 and 1 mean none', () => {
    const mm = new DrmMm(3, 100);
    expect(ins(mm, 5, { align: 0 })).toBe(3);
    expect(ins(mm, 5, { align: 1 })).toBe(8);
  });

  it('a prime alignment: starts are multiples of it, a hole too short after rounding is skipped', () => {
    const mm = new DrmMm(0, 100000);
    expect(ins(mm, 10, { align: 12345 })).toBe(0);
    // the only hole is [10,100000): 10 rounds up to 12345
    expect(ins(mm, 10, { align: 12345 })).toBe(12345);
    // holes [10,12345) (smaller, tried first: 10 -> 12345, no room left) and [12355,100000): -> 24690
    expect(ins(mm, 10, { align: 12345 })).toBe(24690);
    // now two holes of 12335 units: [10,12345) and [12355,24690), the latter newer (made by the
    // last insert): 12355 = 3 * 4118 + 1 rounds up to 12357
    expect(ins(mm, 4, { align: 3 })).toBe(12357);
    // what is left above it, [12361,24690) (12329 units), is now the smallest hole: 12361 -> 12363
    expect(ins(mm, 4, { align: 3 })).toBe(12363);
  });

  it('an alignment that cannot be met inside the range is -ENOSPC', () => {
    const mm = new DrmMm(1, 999);
    const before = state(mm);
    // the first multiple of 1000 at or above 1 is 1000: no room for 1 unit below 1000
    expect(ins(mm, 1, { align: 1000 })).toBe(-ENOSPC);
    expect(state(mm)).toEqual(before);
  });
});

describe('range restriction', () => {
  it('the node lies inside [rangeStart, rangeEnd) or the insert fails', () => {
    const mm = new DrmMm(0, 100);
    expect(ins(mm, 10, { lo: 25, hi: 40 })).toBe(25);
    // left [0,25) and [35,100): inside [25,40) only [35,40) is free
    expect(ins(mm, 10, { lo: 25, hi: 40 })).toBe(-ENOSPC);
    expect(ins(mm, 5, { lo: 25, hi: 40 })).toBe(35);
    // a range narrower than the request
    expect(ins(mm, 10, { lo: 50, hi: 55 })).toBe(-ENOSPC);
    // a range running past the allocator's end is clipped to it
    expect(ins(mm, 10, { lo: 95, hi: 200 })).toBe(-ENOSPC);
    expect(ins(mm, 5, { lo: 95, hi: 200 })).toBe(95);
  });
});

describe('colour adjust', () => {
  /** The selftests' separate_adjacent_colors: a unit of space between nodes of different colours. */
  function separating(size: number): DrmMm {
    let mm: DrmMm;
    const adjust: DrmMmColorAdjust = (prev, color, range) => {
      if (prev.allocated && prev.color !== color) range.start++;
      const next = mm.nodeAfter(prev);
      if (next.allocated && next.color !== color) range.end--;
    };
    mm = new DrmMm(0, size, adjust);
    return mm;
  }

  it('nodes of another colour keep a unit away; the head node does not count', () => {
    const mm = separating(100);
    expect(ins(mm, 10, { color: 1 })).toBe(0);
    // after colour 1 at [0,10): start moves to 11
    expect(ins(mm, 10, { color: 2 })).toBe(11);
    // holes [10,11) (too small) and [21,100) after a colour-2 node: no gap
    expect(ins(mm, 10, { color: 2 })).toBe(21);
    // colour 1, one unit, LOW: [10,11) follows colour 1 but precedes colour 2 -> end 10: empty;
    // [31,100) follows colour 2 -> 32
    expect(ins(mm, 1, { color: 1, mode: DRM_MM_INSERT_LOW })).toBe(32);
  });

  it('reserve applies the colour rule to the hole it lands in', () => {
    const mm = separating(100);
    expect(ins(mm, 10, { color: 1 })).toBe(0);
    expect(ins(mm, 10, { color: 2 })).toBe(11);
    const before = state(mm);
    expect(reserve(mm, 10, 1, 3)).toBe(-ENOSPC); // after colour 1: the hole starts at 11
    expect(reserve(mm, 10, 1, 1)).toBe(-ENOSPC); // before colour 2: the hole ends at 10
    expect(reserve(mm, 21, 5, 1)).toBe(-ENOSPC); // after colour 2: starts at 22
    expect(state(mm)).toEqual(before);
    expect(reserve(mm, 22, 5, 1)).toBe(0);
    expect(reserve(mm, 21, 1, 2)).toBe(-ENOSPC); // before colour 1 at 22: ends at 21
  });
});

describe('fragmentation and merging', () => {
  it('freed neighbours merge into one hole; free space in pieces does not serve a large request', () => {
    const mm = new DrmMm(0, 100);
    const nodes: DrmMmNode[] = [];
    for (let i = 0; i < 10; i++) {
      const n = new DrmMmNode();
      expect(mm.insertNode(n, 10)).toBe(0);
      nodes.push(n);
    }
    // each insert takes the bottom of the one hole left
    expect(nodes.map((n) => n.start)).toEqual([0, 10, 20, 30, 40, 50, 60, 70, 80, 90]);
    for (const i of [0, 2, 4, 6, 8]) mm.removeNode(nodes[i]!);
    expect(mm.holes()).toEqual([0, 20, 40, 60, 80].map((s) => ({ start: s, end: s + 10 })));
    // 50 units free, none 20 long
    expect(ins(mm, 20)).toBe(-ENOSPC);
    // freeing [10,20) joins [0,10) and [20,30)
    mm.removeNode(nodes[1]!);
    expect(mm.holes()).toEqual([
      { start: 0, end: 30 },
      { start: 40, end: 50 },
      { start: 60, end: 70 },
      { start: 80, end: 90 },
    ]);
    expect(ins(mm, 20)).toBe(0);
    // equal 10-unit holes, newest first: [20,30) (left by that insert), then the ones the removals
    // made, last removed first
    expect(ins(mm, 10)).toBe(20);
    expect(ins(mm, 10)).toBe(80);
    expect(ins(mm, 10)).toBe(60);
    expect(ins(mm, 10)).toBe(40);
    expect(mm.holes()).toEqual([]);
    // everything back: one hole again
    for (const n of [...mm.nodes()]) mm.removeNode(n);
    expect(mm.holes()).toEqual([{ start: 0, end: 100 }]);
    expect(mm.clean).toBe(true);
  });
});
