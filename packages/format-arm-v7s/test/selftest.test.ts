import { describe, expect, it } from 'vitest';
import {
  IOMMU_CACHE,
  IOMMU_NOEXEC,
  IOMMU_READ,
  IOMMU_WRITE,
  IO_PGTABLE_QUIRK_ARM_NS,
  allocIoPgtableOps,
  freeIoPgtableOps,
  type IoPgtableCfg,
  type IoPgtableOps,
  type IommuIotlbGather,
} from '@gki/io-pgtable-core';
import { bootWithV7s } from './helpers.js';

/**
 * The kernel's ARM_V7S boot self-test (arm_v7s_do_selftests, CONFIG_IOMMU_IO_PGTABLE_ARMV7S_SELFTEST)
 * in its v6.13 shape, i.e. without the partial-unmap step that went with split-on-unmap.
 * Driven through the io-pgtable core with the module loaded, like the kernel's initcall.
 */
describe('ARM_V7S self-test (arm_v7s_do_selftests, v6.13)', () => {
  it('passes', () => {
    const kernel = bootWithV7s();
    const cookie = { selftest: true };
    const problems: string[] = [];
    let cfg: IoPgtableCfg;
    // The self-test's dummy flush ops: the cookie must be ours and every size one of the
    // page sizes the table supports.
    const checkSize = (what: string, size: number) => {
      if (cfg.pgsizeBitmap % (size * 2) < size) problems.push(`${what} with size 0x${size.toString(16)} not in the bitmap`);
    };
    cfg = {
      quirks: IO_PGTABLE_QUIRK_ARM_NS,
      pgsizeBitmap: 0x1000 | 0x10000 | 0x100000 | 0x1000000,
      ias: 32,
      oas: 32,
      coherentWalk: true,
      tlb: {
        tlbFlushAll: (c) => void (c !== cookie && problems.push('flush_all: wrong cookie')),
        tlbFlushWalk: (_iova, size, granule, c) => {
          if (c !== cookie) problems.push('flush_walk: wrong cookie');
          checkSize('flush_walk', size);
          checkSize('flush_walk granule', granule);
        },
        tlbAddPage: (_g: IommuIotlbGather | null, _iova, granule, c) => {
          if (c !== cookie) problems.push('add_page: wrong cookie');
          checkSize('add_page', granule);
        },
      },
    };
    const alloc = allocIoPgtableOps(kernel, 'ARM_V7S', cfg, cookie);
    expect(typeof alloc).toBe('object');
    const ops = alloc as IoPgtableOps;
    const mapped = { mapped: 0 };

    // Initial sanity checks: the empty table translates nothing.
    expect(ops.iovaToPhys(42)).toBe(0);
    expect(ops.iovaToPhys(0x4000_0000 + 42)).toBe(0);
    expect(ops.iovaToPhys(0x8000_0000 + 42)).toBe(0);

    // Every supported size, ascending, one per 16 MiB: map, refuse an overlap, translate.
    const sizes: number[] = [];
    for (let bit = 0; bit < 32; bit++) if (cfg.pgsizeBitmap % 2 ** (bit + 1) >= 2 ** bit) sizes.push(2 ** bit);
    expect(sizes).toEqual([0x1000, 0x10000, 0x100000, 0x1000000]);
    let iova = 0;
    for (const size of sizes) {
      expect(ops.mapPages(iova, iova, size, 1, IOMMU_READ | IOMMU_WRITE | IOMMU_NOEXEC | IOMMU_CACHE, mapped)).toBe(0);
      expect(ops.mapPages(iova, iova + size, size, 1, IOMMU_READ | IOMMU_NOEXEC, mapped)).not.toBe(0);
      expect(ops.iovaToPhys(iova + 42)).toBe(iova + 42);
      iova += 0x100_0000;
    }

    // Full unmap of each, then a write-only remap.
    iova = 0;
    for (const size of sizes) {
      expect(ops.unmapPages(iova, size, 1, null)).toBe(size);
      expect(ops.iovaToPhys(iova + 42)).toBe(0);
      expect(ops.mapPages(iova, iova, size, 1, IOMMU_WRITE, mapped)).toBe(0);
      expect(ops.iovaToPhys(iova + 42)).toBe(iova + 42);
      iova += 0x100_0000;
    }

    freeIoPgtableOps(kernel, ops);
    expect(problems).toEqual([]);
    expect(kernel.pages.stats().pagesInUse).toBe(0);
  });
});
