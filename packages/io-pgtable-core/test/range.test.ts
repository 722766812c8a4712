/**
 * mapRange / unmapRange split a range as the kernel's iommu_map / iommu_unmap do. The expected
 * call sequences below follow iommu_pgsize (drivers/iommu/iommu.c): the largest size allowed by
 * the length and by the alignment of iova|paddr, and, when iova and paddr agree modulo the next
 * larger size and a whole page of it fits after iova's next boundary of it, only the pages up
 * to that boundary.
 */
import { describe, expect, it } from 'vitest';
import { EEXIST, EINVAL } from '@gki/kernel';
import { freeIoPgtableOps, mapRange, unmapRange, type IoPgtableOps, type MappedOut } from '../src/index.js';

const K4 = 0x1000;
const M2 = 0x20_0000;
const G1 = 0x4000_0000;
const BITMAP = K4 + M2 + G1;
const RW = 3;

interface Call {
  op: 'map' | 'unmap';
  iova: number;
  pa?: number;
  pgsize: number;
  count: number;
}

/**
 * A recording table: maps whole runs, except that it stops at `maxPerCall` pages per call (as a
 * format stops at the end of a table page) and fails with `failAt` once `failAfter` bytes are in.
 */
function recorder(o: { maxPerCall?: number; failAfter?: number; failWith?: number } = {}) {
  const calls: Call[] = [];
  const mapped = new Map<number, number>(); // iova -> size
  let total = 0;
  const ops: IoPgtableOps & { cfg: { pgsizeBitmap: number } } = {
    cfg: { pgsizeBitmap: BITMAP },
    mapPages(iova, pa, pgsize, count, _prot, out: MappedOut) {
      calls.push({ op: 'map', iova, pa, pgsize, count });
      const n = Math.min(count, o.maxPerCall ?? count);
      for (let i = 0; i < n; i++) {
        if (o.failAfter !== undefined && total >= o.failAfter) return o.failWith ?? -EEXIST;
        mapped.set(iova + i * pgsize, pgsize);
        total += pgsize;
        out.mapped += pgsize;
      }
      return 0;
    },
    unmapPages(iova, pgsize, count) {
      calls.push({ op: 'unmap', iova, pgsize, count });
      let n = 0;
      while (n < count && mapped.get(iova + n * pgsize) === pgsize) {
        mapped.delete(iova + n * pgsize);
        n++;
      }
      return n * pgsize;
    },
    iovaToPhys: () => 0,
  };
  return { ops, calls, mapped };
}

describe('mapRange splits like iommu_map', () => {
  it('uses the largest size the alignment allows, stepping up and down at block boundaries', () => {
    const { ops, calls } = recorder();
    expect(mapRange(ops, 0x1f_f000, 0x8_01f_f000, 0x40_2000, RW)).toBe(0);
    expect(calls).toEqual([
      { op: 'map', iova: 0x1f_f000, pa: 0x8_01f_f000, pgsize: K4, count: 1 },
      { op: 'map', iova: 0x20_0000, pa: 0x8_0200_000, pgsize: M2, count: 2 },
      { op: 'map', iova: 0x60_0000, pa: 0x8_0600_000, pgsize: K4, count: 1 },
    ]);
  });

  it('maps small pages only up to the next block boundary when a block fits after it', () => {
    const { ops, calls } = recorder();
    expect(mapRange(ops, 0x1000, 0x1000, 2 * M2, RW)).toBe(0);
    expect(calls.map((c) => [c.iova, c.pgsize, c.count])).toEqual([
      [0x1000, K4, 511],
      [M2, M2, 1],
      [2 * M2, K4, 1],
    ]);
  });

  it('stays in small pages when iova and paddr disagree modulo the block size', () => {
    const { ops, calls } = recorder();
    expect(mapRange(ops, 0, 0x1000, 4 * M2, RW)).toBe(0);
    expect(calls).toEqual([{ op: 'map', iova: 0, pa: 0x1000, pgsize: K4, count: 2048 }]);
  });

  it('loops on what each call mapped (a format stops at the end of a table)', () => {
    const { ops, calls } = recorder({ maxPerCall: 100 });
    expect(mapRange(ops, 0, 0, 250 * K4, RW)).toBe(0);
    expect(calls.map((c) => [c.iova, c.count])).toEqual([
      [0, 250],
      [100 * K4, 150],
      [200 * K4, 50],
    ]);
  });

  it('on failure unmaps what it had mapped and returns the errno', () => {
    const { ops, calls, mapped } = recorder({ failAfter: 3 * K4 });
    expect(mapRange(ops, 0, 0, 8 * K4, RW)).toBe(-EEXIST);
    expect(mapped.size).toBe(0);
    expect(calls.filter((c) => c.op === 'unmap')).toEqual([{ op: 'unmap', iova: 0, pgsize: K4, count: 3 }]);
  });

  it('rejects misaligned or empty ranges with -EINVAL before touching the table', () => {
    const { ops, calls } = recorder();
    expect(mapRange(ops, 0x800, 0, K4, RW)).toBe(-EINVAL);
    expect(mapRange(ops, 0, 0x800, K4, RW)).toBe(-EINVAL);
    expect(mapRange(ops, 0, 0, 0x800, RW)).toBe(-EINVAL);
    expect(mapRange(ops, 0, 0, 0, RW)).toBe(-EINVAL);
    expect(mapRange(ops, -K4, 0, K4, RW)).toBe(-EINVAL);
    expect(mapRange(ops, 2 ** 53 - K4, 0, 2 * K4, RW)).toBe(-EINVAL);
    expect(mapRange(ops, 0, 0, K4, RW, { pgsizeBitmap: 0 })).toBe(-EINVAL);
    expect(calls).toEqual([]);
  });

  it('rejects arguments of the wrong type with a TypeError naming them', () => {
    const { ops, calls } = recorder();
    expect(() => mapRange(null as never, 0, 0, K4, RW)).toThrow(/ops must be io_pgtable_ops/);
    expect(() => mapRange(ops, '0' as never, 0, K4, RW)).toThrow(/iova must be a number/);
    expect(() => mapRange(ops, 0, 0n as never, K4, RW)).toThrow(/paddr must be a number/);
    expect(() => mapRange(ops, 0, 0, undefined as never, RW)).toThrow(/size must be a number/);
    expect(() => mapRange(ops, 0, 0, K4, 'rw' as never)).toThrow(/prot must be a number/);
    expect(() => mapRange(ops, 0, 0, K4, RW, { pgsizeBitmap: '4096' as never })).toThrow(/pgsizeBitmap must be a number/);
    const bare = { mapPages: () => 0, unmapPages: () => 0, iovaToPhys: () => 0 };
    expect(() => mapRange(bare, 0, 0, K4, RW)).toThrow(/carry no cfg/);
    expect(calls).toEqual([]);
  });
});

describe('unmapRange splits like iommu_unmap', () => {
  it('unmaps blocks and pages of a mixed mapping and returns the bytes unmapped', () => {
    const { ops, calls } = recorder();
    expect(mapRange(ops, 0x1f_f000, 0x1f_f000, 0x40_2000, RW)).toBe(0);
    calls.length = 0;
    expect(unmapRange(ops, 0x1f_f000, 0x40_2000)).toBe(0x40_2000);
    expect(calls.map((c) => [c.iova, c.pgsize, c.count])).toEqual([
      [0x1f_f000, K4, 1],
      [M2, M2, 2],
      [0x60_0000, K4, 1],
    ]);
  });

  it('stops at the first run it cannot unmap (a hole)', () => {
    const { ops } = recorder();
    expect(mapRange(ops, 0, 0, 4 * K4, RW)).toBe(0);
    expect(unmapRange(ops, 0, 8 * K4)).toBe(4 * K4);
    expect(unmapRange(ops, 0, K4)).toBe(0);
  });

  it('returns 0 for misaligned ranges and throws TypeError for wrong types', () => {
    const { ops, calls } = recorder();
    expect(unmapRange(ops, 0x800, K4)).toBe(0);
    expect(unmapRange(ops, 0, 0x800)).toBe(0);
    expect(() => unmapRange(ops, 0, K4, { gather: 5 as never })).toThrow(/gather/);
    expect(() => unmapRange({} as never, 0, K4)).toThrow(TypeError);
    expect(calls).toEqual([]);
  });
});

describe('freeIoPgtableOps argument checks', () => {
  it('names what is wrong: not a table, not an object, not a kernel', () => {
    expect(() => freeIoPgtableOps({ mapPages: () => 0, unmapPages: () => 0, iovaToPhys: () => 0 })).toThrow(/no format handed out/);
    expect(() => freeIoPgtableOps(42 as never)).toThrow(TypeError);
    expect(() => freeIoPgtableOps({} as never, null)).toThrow(/kernel is not a Kernel/);
    freeIoPgtableOps(null);
    freeIoPgtableOps(undefined);
  });
});
