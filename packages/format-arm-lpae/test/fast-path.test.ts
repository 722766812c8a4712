/**
 * The one-page fast paths of map_pages / unmap_pages write through a window onto the table the
 * walk cache last reached at the level of the last accepted page size. These cases change what
 * that window must point at (a table freed under it, another page size, the whole table freed,
 * a TTBR1 table whose walk cache is keyed by the IOVA's low bits) and check the results against
 * what the kernel's io-pgtable does: the same leaves, return values and page accounting as a
 * table that never had a window.
 */
import { describe, expect, it } from 'vitest';
import { EEXIST, EINVAL, ENOENT, ERANGE, KernelError } from '@gki/kernel';
import { IOMMU_READ, IOMMU_WRITE, IO_PGTABLE_QUIRK_ARM_TTBR1, iommuIotlbGatherInit, type IommuFlushOps, type IoPgtableCfg } from '@gki/io-pgtable-core';
import { createArmLpaeOps, type ArmLpaeIoPgtable } from '../src/index.js';
import { leavesOf, makeKernel } from './helpers/env.js';

const RW = IOMMU_READ | IOMMU_WRITE;
const SZ_4K = 0x1000;
const SZ_2M = 0x20_0000;
const SZ_1G = 0x4000_0000;

function table(quirks = 0, tlb?: IommuFlushOps): { ops: ArmLpaeIoPgtable; kernel: ReturnType<typeof makeKernel> } {
  const kernel = makeKernel();
  const cfg: IoPgtableCfg = { quirks, pgsizeBitmap: SZ_4K | SZ_2M | SZ_1G, ias: 48, oas: 48, coherentWalk: true, tlb };
  const ops = createArmLpaeOps(kernel, 'ARM_64_LPAE_S1', cfg, null);
  if (!ops) throw new Error('alloc');
  return { ops, kernel };
}

describe('one-page fast paths (the walk-cache window)', () => {
  it('a level-3 table freed by a block-sized unmap is not written through again', () => {
    const events: string[] = [];
    const tlb: IommuFlushOps = {
      tlbFlushAll: () => events.push('all'),
      tlbFlushWalk: (iova, size) => events.push(`walk ${iova.toString(16)} ${size.toString(16)}`),
      tlbAddPage: (_g, iova, size) => events.push(`page ${iova.toString(16)} ${size.toString(16)}`),
    };
    const { ops, kernel } = table(0, tlb);
    const m = { mapped: 0 };
    const base = 2 ** 33 + 4 * SZ_2M;
    for (let i = 0; i < 4; i++) expect(ops.mapPages(base + i * SZ_4K, 0x8000_0000 + i * SZ_4K, SZ_4K, 1, RW, m)).toBe(0);
    expect(m.mapped).toBe(4 * SZ_4K);
    const pagesWithL3 = kernel.pages.stats().pagesInUse;
    // a 2M unmap of the range meets the level-3 table: cleared, walk-flushed and freed
    const g = iommuIotlbGatherInit();
    expect(ops.unmapPages(base, SZ_2M, 1, g)).toBe(SZ_2M);
    expect(events).toEqual([`walk ${base.toString(16)} 200000`, `page ${base.toString(16)} 200000`]);
    expect(kernel.pages.stats().pagesInUse).toBe(pagesWithL3 - 1);
    expect(leavesOf(ops)).toEqual([]);
    // the same IOVAs again: a new level-3 table, the leaves in it, nothing in the freed page
    events.length = 0;
    expect(ops.unmapPages(base + SZ_4K, SZ_4K, 1, g)).toBe(-ENOENT); // the level-2 slot is empty now
    for (let i = 0; i < 2; i++) expect(ops.mapPages(base + i * SZ_4K, 0x9000_0000 + i * SZ_4K, SZ_4K, 1, RW, m)).toBe(0);
    expect(kernel.pages.stats().pagesInUse).toBe(pagesWithL3);
    expect(ops.iovaToPhys(base + SZ_4K + 5)).toBe(0x9000_1005);
    expect(ops.iovaToPhys(base + 2 * SZ_4K)).toBe(0);
    expect(leavesOf(ops).map((l) => l.split(':').slice(0, 3).join(':'))).toEqual([`3:${base.toString(16)}:1000`, `3:${(base + SZ_4K).toString(16)}:1000`]);
    expect(ops.unmapPages(base + SZ_4K, SZ_4K, 1, g)).toBe(SZ_4K);
    expect(ops.unmapPages(base + SZ_4K, SZ_4K, 1, g)).toBe(-ENOENT);
    ops.free();
    expect(kernel.pages.stats().pagesInUse).toBe(0);
  });

  it('follows the page size: 4K, 2M and 4K again, each at its own level', () => {
    const { ops, kernel } = table();
    const m = { mapped: 0 };
    expect(ops.mapPages(0x4000_0000, 0x1000_0000, SZ_4K, 1, RW, m)).toBe(0);
    expect(ops.mapPages(0x4000_1000, 0x1000_1000, SZ_4K, 1, RW, m)).toBe(0);
    // a 2M block in the level-2 table above that level-3 table, then one next to it
    expect(ops.mapPages(0x4020_0000, 0x2000_0000, SZ_2M, 1, RW, m)).toBe(0);
    expect(ops.mapPages(0x4040_0000, 0x2020_0000, SZ_2M, 1, RW, m)).toBe(0);
    // back to 4K: the level-3 table is reached again
    expect(ops.mapPages(0x4000_2000, 0x1000_2000, SZ_4K, 1, RW, m)).toBe(0);
    expect(ops.mapPages(0x4000_2000, 0x1000_2000, SZ_4K, 1, RW, m)).toBe(-EEXIST);
    expect(ops.mapPages(0x4040_0000, 0x2020_0000, SZ_2M, 1, RW, m)).toBe(-EEXIST);
    expect(ops.iovaToPhys(0x4000_2abc)).toBe(0x1000_2abc);
    expect(ops.iovaToPhys(0x4041_2345)).toBe(0x2021_2345);
    expect(m.mapped).toBe(3 * SZ_4K + 2 * SZ_2M);
    expect(ops.unmapPages(0x4020_0000, SZ_2M, 1, null)).toBe(SZ_2M);
    expect(ops.unmapPages(0x4000_1000, SZ_4K, 1, null)).toBe(SZ_4K);
    expect(ops.unmapPages(0x4040_0000, SZ_4K, 1, null)).toBe(0); // inside a 2M block: stays
    expect(ops.iovaToPhys(0x4040_0000)).toBe(0x2020_0000);
    expect(leavesOf(ops).map((l) => l.split(':').slice(0, 3).join(':'))).toEqual(['3:40000000:1000', '3:40002000:1000', '2:40400000:200000']);
    ops.free();
    expect(kernel.pages.stats().pagesInUse).toBe(0);
  });

  it('a freed table throws on the fast path too, and writes nothing', () => {
    const { ops, kernel } = table();
    const m = { mapped: 0 };
    expect(ops.mapPages(0x10_0000, 0x10_0000, SZ_4K, 1, RW, m)).toBe(0);
    expect(ops.mapPages(0x10_1000, 0x10_1000, SZ_4K, 1, RW, m)).toBe(0);
    ops.free();
    expect(() => ops.mapPages(0x10_2000, 0x10_2000, SZ_4K, 1, RW, m)).toThrow(KernelError);
    expect(() => ops.unmapPages(0x10_1000, SZ_4K, 1, null)).toThrow(KernelError);
    expect(m.mapped).toBe(2 * SZ_4K);
    expect(kernel.pages.stats().pagesInUse).toBe(0);
  });

  it('a TTBR1 table never takes a lower-half IOVA, whose low bits match an upper-half one', () => {
    const { ops } = table(IO_PGTABLE_QUIRK_ARM_TTBR1);
    const m = { mapped: 0 };
    const top = 2 ** 64 - 2 ** 48; // unsigned form of the lowest TTBR1 IOVA
    for (let i = 0; i < 3; i++) expect(ops.mapPages(top + i * SZ_4K, 0x5000 + i * SZ_4K, SZ_4K, 1, RW, m)).toBe(0);
    // same index bits, lower half: out of range for a TTBR1 table
    expect(ops.mapPages(3 * SZ_4K, 0x9000, SZ_4K, 1, RW, m)).toBe(-ERANGE);
    expect(ops.unmapPages(SZ_4K, SZ_4K, 1, null)).toBe(0);
    // (the signed form for sub-page offsets: 2^64 - x is exact only for page-aligned x)
    expect(ops.iovaToPhys(-(2 ** 48) + SZ_4K + 1)).toBe(0x6001);
    expect(ops.unmapPages(top + SZ_4K, SZ_4K, 1, null)).toBe(SZ_4K);
    expect(ops.iovaToPhys(-(2 ** 48) + SZ_4K + 1)).toBe(0);
    expect(m.mapped).toBe(3 * SZ_4K);
    ops.free();
  });

  it('non-integer and out-of-range arguments get the checked answers after a warm-up', () => {
    const { ops } = table();
    const m = { mapped: 0 };
    expect(ops.mapPages(0x20_0000, 0x20_0000, SZ_4K, 1, RW, m)).toBe(0);
    expect(ops.mapPages(0x20_1000 + 0.5, 0x20_1000, SZ_4K, 1, RW, m)).toBe(-EINVAL);
    expect(ops.mapPages(0x20_1000, 0x20_1000 + 0.5, SZ_4K, 1, RW, m)).toBe(-EINVAL);
    expect(ops.mapPages(0x20_1000, 2 ** 48, SZ_4K, 1, RW, m)).toBe(-ERANGE);
    expect(ops.mapPages(0x20_1000, 0x20_1000, SZ_4K, 1, 0, m)).toBe(-EINVAL);
    expect(ops.unmapPages(0x20_0000 + 0.5, SZ_4K, 1, null)).toBe(0);
    expect(leavesOf(ops).length).toBe(1);
    expect(m.mapped).toBe(SZ_4K);
    ops.free();
  });
});
