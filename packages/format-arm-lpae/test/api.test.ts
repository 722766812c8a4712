import { describe, expect, it } from 'vitest';
import {
  IOMMU_DIRTY_NO_CLEAR,
  IOMMU_READ,
  IOMMU_WRITE,
  IO_PGTABLE_QUIRK_ARM_HD,
  IO_PGTABLE_QUIRK_ARM_NS,
  IO_PGTABLE_QUIRK_ARM_OUTER_WBWA,
  IO_PGTABLE_QUIRK_ARM_S2FWB,
  type IoPgtableCfg,
} from '@gki/io-pgtable-core';
import { createArmLpaeOps, lpaeGeometry, type ArmLpaeFmt } from '../src/index.js';
import { leavesOf, makeKernel } from './helpers/env.js';

const RW = IOMMU_READ | IOMMU_WRITE;
const base = (over: Partial<IoPgtableCfg> = {}): IoPgtableCfg => ({
  quirks: 0,
  pgsizeBitmap: 0x40201000,
  ias: 48,
  oas: 48,
  coherentWalk: true,
  ...over,
});

describe('alloc: configuration and register outputs', () => {
  it('restricts the bitmap, clamps ias/oas and fills the S1 block in place', () => {
    const kernel = makeKernel();
    const cfg = base({ pgsizeBitmap: 0x62215000, ias: 52, oas: 52 }); // every granule offered
    const ops = createArmLpaeOps(kernel, 'ARM_64_LPAE_S1', cfg, null)!;
    expect(cfg.pgsizeBitmap).toBe(0x40201000); // host PAGE_SIZE 4K wins
    expect(cfg.ias).toBe(48);
    expect(cfg.oas).toBe(48);
    expect(cfg.armLpaeS1Cfg).toEqual({ ttbr: BigInt(ops.pgdPa), tcr: { ips: 5, tg: 0, sh: 3, orgn: 1, irgn: 1, tsz: 16 }, mair: 0xfffffffff404ff44n });
    expect(ops.cfg.armLpaeS1Cfg).toEqual(cfg.armLpaeS1Cfg);
    ops.free();
  });

  it('leaves cfg untouched and leaks nothing when it rejects a configuration', () => {
    const kernel = makeKernel();
    const rejects: [ArmLpaeFmt, IoPgtableCfg][] = [
      ['ARM_64_LPAE_S1', base({ pgsizeBitmap: 0x40200000 })], // no granule
      ['ARM_64_LPAE_S1', base({ quirks: IO_PGTABLE_QUIRK_ARM_S2FWB })],
      ['ARM_64_LPAE_S1', base({ quirks: IO_PGTABLE_QUIRK_ARM_OUTER_WBWA })], // coherent walk
      ['ARM_64_LPAE_S1', base({ oas: 39 })], // no IPS encoding
      ['ARM_64_LPAE_S2', base({ quirks: IO_PGTABLE_QUIRK_ARM_NS })],
      ['ARM_64_LPAE_S2', base({ ias: 48, oas: 40 })], // 512 concatenated tables needed
      ['ARM_32_LPAE_S1', base({ ias: 33, oas: 40 })],
      ['ARM_32_LPAE_S2', base({ ias: 41, oas: 40 })],
      ['ARM_MALI_LPAE', base({ oas: 44 })],
      ['ARM_MALI_LPAE', base({ oas: 40, pgsizeBitmap: 0x2004000 })],
    ];
    for (const [fmt, cfg] of rejects) {
      const copy = structuredClone(cfg);
      expect(createArmLpaeOps(kernel, fmt, cfg, null)).toBeNull();
      expect(cfg).toEqual(copy);
    }
    expect(kernel.pages.snapshot()).toEqual([]);
  });

  it('computes the geometry of the facts table (start level, PGD entries, concatenation)', () => {
    const g = (fmt: ArmLpaeFmt, bitmap: number, ias: number, oas: number) => {
      const r = lpaeGeometry(fmt, base({ pgsizeBitmap: bitmap, ias, oas }));
      return r.ok ? [r.geo.startLevel, 2 ** r.geo.pgdBits] : r.reason;
    };
    expect(g('ARM_64_LPAE_S1', 0x1000, 39, 48)).toEqual([1, 512]);
    expect(g('ARM_64_LPAE_S1', 0x1000, 44, 48)).toEqual([0, 32]);
    expect(g('ARM_64_LPAE_S1', 0x4000, 36, 48)).toEqual([2, 2048]);
    expect(g('ARM_64_LPAE_S1', 0x4000, 48, 48)).toEqual([0, 2]);
    expect(g('ARM_64_LPAE_S1', 0x10000, 52, 52)).toEqual([1, 1024]);
    expect(g('ARM_64_LPAE_S2', 0x1000, 40, 40)).toEqual([1, 1024]);
    expect(g('ARM_64_LPAE_S2', 0x1000, 42, 42)).toEqual([1, 4096]);
    expect(g('ARM_64_LPAE_S2', 0x1000, 40, 48)).toEqual([0, 2]);
    expect(g('ARM_64_LPAE_S2', 0x4000, 40, 40)).toEqual([2, 32768]);
    expect(g('ARM_64_LPAE_S2', 0x4000, 48, 48)).toEqual([1, 4096]);
    expect(g('ARM_MALI_LPAE', 0x1000, 39, 40)).toEqual([0, 1]);
    expect(typeof g('ARM_64_LPAE_S2', 0x4000, 47, 40)).toBe('string');
  });
});

describe('non-coherent walk', () => {
  it('sets SW_SYNC (bit 55) on installed tables, outer-shareable non-cacheable walks, and OUTER_WBWA', () => {
    const kernel = makeKernel();
    const cfg = base({ coherentWalk: false, quirks: IO_PGTABLE_QUIRK_ARM_OUTER_WBWA });
    const ops = createArmLpaeOps(kernel, 'ARM_64_LPAE_S1', cfg, null)!;
    expect(cfg.armLpaeS1Cfg!.tcr).toMatchObject({ sh: 2, irgn: 0, orgn: 1 });
    expect(ops.mapPages(0x1000, 0x1000, 0x1000, 1, RW, { mapped: 0 })).toBe(0);
    const pgdEntry = kernel.mem.read64(ops.pgdPa);
    expect(pgdEntry & 3n).toBe(3n);
    expect((pgdEntry >> 55n) & 1n).toBe(1n);
    // leaves carry no software bit
    expect(leavesOf(ops)).toEqual(['3:1000:1000:1e43']);
    ops.free();
  });

  it('NS: leaves get bit 5, tables NSTable (bit 63)', () => {
    const kernel = makeKernel();
    const ops = createArmLpaeOps(kernel, 'ARM_64_LPAE_S1', base({ quirks: IO_PGTABLE_QUIRK_ARM_NS }), null)!;
    expect(ops.mapPages(0x1000, 0x1000, 0x1000, 1, RW, { mapped: 0 })).toBe(0);
    expect(kernel.mem.read64(ops.pgdPa) >> 63n).toBe(1n);
    expect(leavesOf(ops)).toEqual(['3:1000:1000:1e63']);
    ops.free();
  });
});

describe('read_and_clear_dirty (ARM_HD)', () => {
  it('reports writable-dirty leaves, marks them clean unless NO_CLEAR, and skips read-only ones', () => {
    const kernel = makeKernel();
    const ops = createArmLpaeOps(kernel, 'ARM_64_LPAE_S1', base({ quirks: IO_PGTABLE_QUIRK_ARM_HD }), null)!;
    expect(ops.mapPages(0, 0x10_0000, 0x1000, 4, RW, { mapped: 0 })).toBe(0);
    expect(ops.mapPages(0x4000, 0x20_0000, 0x1000, 1, IOMMU_READ, { mapped: 0 })).toBe(0);
    expect(ops.mapPages(0x20_0000, 0x40_0000, 0x20_0000, 1, RW, { mapped: 0 })).toBe(0);
    const seen: string[] = [];
    const rec = (iova: number, size: number) => seen.push(`${iova.toString(16)}+${size.toString(16)}`);
    // a new writable HD mapping starts out writable-dirty (DBM set, AP[2] clear)
    expect(ops.readAndClearDirty(0x1000, 0x2000, IOMMU_DIRTY_NO_CLEAR, rec)).toBe(0);
    expect(seen.splice(0)).toEqual(['1000+1000', '2000+1000']);
    expect(ops.readAndClearDirty(0, 0x5000, 0, rec)).toBe(0);
    expect(seen.splice(0)).toEqual(['0+1000', '1000+1000', '2000+1000', '3000+1000']);
    expect(ops.readAndClearDirty(0, 0x5000, 0, rec)).toBe(0);
    expect(seen.splice(0)).toEqual([]);
    // a start inside a block is reported unaligned, with the whole block size
    expect(ops.readAndClearDirty(0x20_1000, 0x1000, 0, rec)).toBe(0);
    expect(seen.splice(0)).toEqual(['201000+200000']);
    // clean leaves are read-only in hardware until the walker sets them dirty again
    expect(leavesOf(ops)[0]).toBe(`3:0:1000:${((1n << 51n) | 0x10_0000n | 0xec3n).toString(16)}`);
    ops.free();
  });
});
