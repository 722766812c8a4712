import { describe, expect, it } from 'vitest';
import { Board } from '@gki/hw';
import { EEXIST, EINVAL, ENOMEM, ERANGE, Kernel, KernelError } from '@gki/kernel';
import {
  IOMMU_CACHE,
  IOMMU_MMIO,
  IOMMU_NOEXEC,
  IOMMU_PRIV,
  IOMMU_READ,
  IOMMU_WRITE,
  IO_PGTABLE_QUIRK_ARM_MTK_EXT,
  IO_PGTABLE_QUIRK_ARM_MTK_TTBR_EXT,
  IO_PGTABLE_QUIRK_ARM_NS,
  IO_PGTABLE_QUIRK_ARM_TTBR1,
  IO_PGTABLE_QUIRK_NO_PERMS,
  IO_PGTABLE_QUIRK_NO_WARN,
  type IoPgtableCfg,
} from '@gki/io-pgtable-core';
import { createArmV7sOps, freeArmV7sOps, type ArmV7sIoPgtable } from '../src/index.js';
import { makeKernel, mustCreate, recordingTlb, v7sCfg } from './helpers.js';

const RW = IOMMU_READ | IOMMU_WRITE;
const SZ_4K = 0x1000;
const SZ_64K = 0x10000;
const SZ_1M = 0x100000;
const SZ_16M = 0x1000000;

function leaves(ops: ArmV7sIoPgtable): string[] {
  const out: string[] = [];
  ops.walkLeaves((l) => out.push(`${l.level}:${l.iova.toString(16)}:${l.pte.toString(16)}`));
  return out;
}

/** Everything a rejected call must leave alone: the leaves, the tables, the page allocator. */
function state(k: Kernel, ops: ArmV7sIoPgtable) {
  return { leaves: leaves(ops), tables: ops.tableStats(), pages: k.pages.snapshot() };
}

function populated(k: Kernel, cfg: IoPgtableCfg = v7sCfg()) {
  const rec = recordingTlb();
  cfg.tlb = rec.tlb;
  const ops = mustCreate(k, cfg);
  const m = { mapped: 0 };
  expect(ops.mapPages(0x10000, 0x80000000, SZ_4K, 4, RW, m)).toBe(0);
  expect(ops.mapPages(0x40000, 0x80100000, SZ_64K, 1, RW, m)).toBe(0);
  expect(ops.mapPages(0x300000, 0x80200000, SZ_1M, 1, RW, m)).toBe(0);
  expect(ops.mapPages(0x1000000, 0x81000000, SZ_16M, 1, RW, m)).toBe(0);
  rec.events.length = 0;
  return { ops, rec };
}

describe('alloc rejects bad configurations, touching nothing', () => {
  const bad: [string, Partial<IoPgtableCfg>][] = [
    ['ias 33', { ias: 33 }],
    ['oas 33', { oas: 33 }],
    ['ias 34 without MTK_EXT', { ias: 34 }],
    ['ias 35 with MTK_EXT', { ias: 35, oas: 35, quirks: IO_PGTABLE_QUIRK_NO_PERMS | IO_PGTABLE_QUIRK_ARM_MTK_EXT }],
    ['oas 36 with MTK_EXT', { ias: 34, oas: 36, quirks: IO_PGTABLE_QUIRK_NO_PERMS | IO_PGTABLE_QUIRK_ARM_MTK_EXT }],
    ['ias below one level-1 slot', { ias: 19 }],
    ['fractional ias', { ias: 31.5 }],
    ['NO_WARN (LPAE only)', { quirks: IO_PGTABLE_QUIRK_NO_WARN }],
    ['ARM_TTBR1 (LPAE only)', { quirks: IO_PGTABLE_QUIRK_ARM_TTBR1 }],
    ['an unknown quirk bit', { quirks: 1 << 20 }],
    ['a quirk bit above 32', { quirks: 2 ** 33 }],
    ['MTK_EXT without NO_PERMS', { quirks: IO_PGTABLE_QUIRK_ARM_MTK_EXT }],
    ['MTK_TTBR_EXT without MTK_EXT', { quirks: IO_PGTABLE_QUIRK_NO_PERMS | IO_PGTABLE_QUIRK_ARM_MTK_TTBR_EXT }],
    ['negative bitmap', { pgsizeBitmap: -1 }],
  ];
  it.each(bad)('%s', (_n, over) => {
    const k = makeKernel();
    const cfg = v7sCfg(over);
    const copy = structuredClone(cfg);
    const before = k.pages.snapshot();
    expect(createArmV7sOps(k, cfg, null)).toBeNull();
    expect(cfg).toEqual(copy);
    expect(k.pages.snapshot()).toEqual(before);
  });

  it('accepts ias below 32 with a smaller level-1 table (ias 21: 2 entries, one page)', () => {
    const k = makeKernel();
    const ops = mustCreate(k, v7sCfg({ ias: 21 }));
    expect(ops.l1Entries).toBe(2);
    expect(ops.pgdOrder).toBe(0);
    expect(ops.mapPages(0x1ff000, 0x1000, SZ_4K, 1, RW, { mapped: 0 })).toBe(0);
    expect(ops.mapPages(0x200000, 0x1000, SZ_4K, 1, RW, { mapped: 0 })).toBe(-ERANGE);
    freeArmV7sOps(ops);
    expect(k.pages.stats().pagesInUse).toBe(0);
  });
});

describe('map_pages rejections leave the table unchanged', () => {
  const cases: [string, number, number, number, number, number, number][] = [
    // name, iova, paddr, pgsize, pgcount, prot, errno
    ['iova at 2^ias', 2 ** 32, 0, SZ_4K, 1, RW, -ERANGE],
    ['iova far beyond (bit 63)', 2 ** 63, 0, SZ_4K, 1, RW, -ERANGE],
    ['negative iova', -4096, 0, SZ_4K, 1, RW, -ERANGE],
    ['NaN iova', NaN, 0, SZ_4K, 1, RW, -ERANGE],
    ['paddr at 2^oas', 0x500000, 2 ** 32, SZ_4K, 1, RW, -ERANGE],
    ['negative paddr', 0x500000, -1, SZ_4K, 1, RW, -ERANGE],
    ['no READ or WRITE', 0x500000, 0, SZ_4K, 1, 0, -EINVAL],
    ['only the other prot bits', 0x500000, 0, SZ_4K, 1, IOMMU_CACHE | IOMMU_NOEXEC | IOMMU_MMIO | IOMMU_PRIV, -EINVAL],
    ['pgcount 0', 0x500000, 0, SZ_4K, 0, RW, -EINVAL],
    ['negative pgcount', 0x500000, 0, SZ_4K, -1, RW, -EINVAL],
    ['fractional pgcount', 0x500000, 0, SZ_4K, 1.5, RW, -EINVAL],
    ['fractional iova', 0x500000 + 0.5, 0, SZ_4K, 1, RW, -EINVAL],
    ['negative pgsize', 0x500000, 0, -SZ_4K, 1, RW, -EINVAL],
    ['supersection running past the level-1 table', 0xfff00000, 0, SZ_16M, 1, RW, -EINVAL],
    ['large page running past its level-2 table', 0x1f8000, 0, SZ_64K, 1, RW, -EINVAL],
    ['small page over a small page', 0x11000, 0, SZ_4K, 1, RW, -EEXIST],
    ['small page inside a large page', 0x43000, 0, SZ_4K, 1, RW, -EEXIST],
    ['small page inside a section', 0x301000, 0, SZ_4K, 1, RW, -EEXIST],
    ['section over a supersection slot', 0x1500000, 0, SZ_1M, 1, RW, -EEXIST],
  ];
  it.each(cases)('%s', (_n, iova, paddr, pgsize, pgcount, prot, errno) => {
    const k = makeKernel();
    const { ops, rec } = populated(k);
    // a table already covers 0x1f8000 (so the rejected large page does not allocate one)
    expect(ops.mapPages(0x1f0000, 0x1000, SZ_4K, 1, RW, { mapped: 0 })).toBe(0);
    const before = state(k, ops);
    const m = { mapped: 7 };
    expect(ops.mapPages(iova, paddr, pgsize, pgcount, prot, m)).toBe(errno);
    expect(m.mapped).toBe(7);
    expect(state(k, ops)).toEqual(before);
    expect(rec.events).toEqual([]);
    freeArmV7sOps(ops);
    expect(k.pages.stats().pagesInUse).toBe(0);
  });

  it('pgsize below 4K fails with -EINVAL after allocating the level-2 table (as the kernel does), leaking nothing', () => {
    const k = makeKernel();
    const ops = mustCreate(k, v7sCfg());
    expect(ops.mapPages(0x500000, 0, 0x800, 1, RW, { mapped: 0 })).toBe(-EINVAL);
    expect(ops.tableStats().l2Tables).toBe(1);
    expect(leaves(ops)).toEqual([]);
    freeArmV7sOps(ops);
    expect(k.pages.stats().pagesInUse).toBe(0);
  });
});

describe('unmap_pages failures return 0 and change nothing', () => {
  const cases: [string, number, number, number][] = [
    ['iova at 2^ias', 2 ** 32, SZ_4K, 1],
    ['negative iova', -SZ_4K, SZ_4K, 1],
    ['pgcount 0', 0x10000, SZ_4K, 0],
    ['fractional pgcount', 0x10000, SZ_4K, 0.5],
    ['a hole', 0x20000, SZ_4K, 1],
    ['an empty level-1 slot', 0x800000, SZ_1M, 1],
    ['4K of a large page', 0x41000, SZ_4K, 1],
    ['4K of a section', 0x301000, SZ_4K, 1],
    ['1M of a supersection', 0x1100000, SZ_1M, 1],
    ['64K of a section', 0x300000, SZ_64K, 1],
    ['64K over a partly empty range', 0x10000, SZ_64K, 1],
    ['below 4K', 0x10000, 0x800, 1],
    ['16M running past the level-1 table', 0xfff00000, SZ_16M, 1],
  ];
  it.each(cases)('%s', (_n, iova, pgsize, pgcount) => {
    const k = makeKernel();
    const { ops, rec } = populated(k);
    const before = state(k, ops);
    expect(ops.unmapPages(iova, pgsize, pgcount, null)).toBe(0);
    expect(state(k, ops)).toEqual(before);
    expect(rec.events).toEqual([]);
    freeArmV7sOps(ops);
    expect(k.pages.stats().pagesInUse).toBe(0);
  });

  it('warns once per kernel about a partial large IOPTE', () => {
    const k = makeKernel();
    const { ops } = populated(k);
    ops.unmapPages(0x41000, SZ_4K, 1, null);
    ops.unmapPages(0x1100000, SZ_1M, 1, null);
    expect(k.log.grep('Unmap of a partial large IOPTE is not allowed')).toHaveLength(1);
  });
});

describe('lifetime', () => {
  it('use after free and double free throw KernelError', () => {
    const k = makeKernel();
    const ops = mustCreate(k, v7sCfg());
    freeArmV7sOps(ops);
    expect(() => ops.mapPages(0, 0, SZ_4K, 1, RW, { mapped: 0 })).toThrow(KernelError);
    expect(() => ops.unmapPages(0, SZ_4K, 1, null)).toThrow(KernelError);
    expect(() => ops.iovaToPhys(0)).toThrow(KernelError);
    expect(() => ops.free()).toThrow(KernelError);
    expect(k.pages.stats().pagesInUse).toBe(0);
  });
});

describe('allocation failures (fault injection on every table allocation)', () => {
  it('the level-1 table: alloc returns null, cfg untouched, nothing leaked', () => {
    const k = makeKernel();
    const cfg = v7sCfg();
    k.pages.injectFaults({ nth: 1 });
    expect(createArmV7sOps(k, cfg, null)).toBeNull();
    expect(cfg.armV7sCfg).toBeUndefined();
    expect(cfg.pgsizeBitmap).toBe(0x1111000);
    expect(k.pages.stats().pagesInUse).toBe(0);
    expect(k.pages.stats().injectedFailures).toBe(1);
  });

  it('every level-2 table allocation of a run: -ENOMEM, earlier pages kept and counted, prior mappings intact, no leak', () => {
    // 40 pages spread one per 1M slot, so the run needs 40 level-2 tables (10 slab pages)
    const iova0 = 0x2000000;
    const stride = SZ_1M + SZ_4K;
    const runPages = 40;
    let sawFailure = 0;
    for (let nth = 1; ; nth++) {
      const k = makeKernel();
      const { ops } = populated(k);
      const prior = leaves(ops);
      const base = k.pages.stats().pagesInUse;
      k.pages.injectFaults({ nth });
      let ret = 0;
      let done = 0;
      const m = { mapped: 0 };
      for (let i = 0; i < runPages && ret === 0; i++) {
        ret = ops.mapPages(iova0 + i * stride, 0x90000000 + i * SZ_4K, SZ_4K, 1, RW, m);
        if (ret === 0) done++;
      }
      k.pages.clearFaults();
      const now = leaves(ops);
      for (const l of prior) expect(now).toContain(l);
      expect(m.mapped).toBe(done * SZ_4K);
      expect(now.length).toBe(prior.length + done);
      for (let i = 0; i < done; i++) expect(ops.iovaToPhys(iova0 + i * stride + 5)).toBe(0x90000000 + i * SZ_4K + 5);
      if (ret === 0) {
        expect(done).toBe(runPages);
        freeArmV7sOps(ops);
        expect(k.pages.stats().pagesInUse).toBe(0);
        break;
      }
      sawFailure++;
      expect(ret).toBe(-ENOMEM);
      // tables come four to a slab page: the populated table left three free slots, so the
      // nth page allocation is the one for table 4n of the run (index 4n - 1)
      expect(done).toBe(4 * nth - 1);
      expect(ops.tableStats().l2Tables).toBe(1 + done);
      expect(k.pages.stats().pagesInUse - base).toBe(ops.tableStats().slabPages - 1);
      // the run can be resumed after the failure
      expect(ops.mapPages(iova0 + done * stride, 0x90000000 + done * SZ_4K, SZ_4K, 1, RW, { mapped: 0 })).toBe(0);
      freeArmV7sOps(ops);
      expect(k.pages.stats().pagesInUse).toBe(0);
    }
    // 37 of the run's 40 tables need new slab pages: 10 page allocations, each failed once
    expect(sawFailure).toBe(10);
  });

  it('a pgcount run crossing 1M slots fails at the slot whose table cannot be allocated', () => {
    const k = makeKernel();
    const ops = mustCreate(k, v7sCfg());
    // four tables fill one slab page; the fifth needs a new page
    const m = { mapped: 0 };
    expect(ops.mapPages(0xff000, 0x1000, SZ_4K, 1 + 2 * 256 + 254, RW, m)).toBe(0); // up to 0x3fe000
    expect(ops.tableStats()).toMatchObject({ l2Tables: 4, slabPages: 1 });
    k.pages.injectFaults({ nth: 1 });
    const m2 = { mapped: 0 };
    expect(ops.mapPages(0x400000 - 2 * SZ_4K, 0x1000, SZ_4K, 4, RW, m2)).toBe(-ENOMEM);
    expect(m2.mapped).toBe(2 * SZ_4K);
    expect(ops.iovaToPhys(0x400000 - SZ_4K)).toBe(0x2000);
    expect(ops.iovaToPhys(0x400000)).toBe(0);
    freeArmV7sOps(ops);
    expect(k.pages.stats().pagesInUse).toBe(0);
  });
});

describe('tables must be addressable by the descriptors', () => {
  it('a level-1 table above 4 GiB is refused without MTK_TTBR_EXT (-> null, no leak)', () => {
    const k = new Kernel(new Board('high', [{ base: 0x1_0000_0000, size: 0x100_0000 }]));
    expect(createArmV7sOps(k, v7sCfg(), null)).toBeNull();
    expect(k.pages.stats().pagesInUse).toBe(0);
  });

  it('a level-2 table above 4 GiB is refused: -ENOMEM, page returned', () => {
    const k = new Kernel(new Board('split', [
      { base: 0x4000_0000, size: 0x4000 },
      { base: 0x1_0000_0000, size: 0x100_0000 },
    ]));
    const ops = mustCreate(k, v7sCfg());
    expect(ops.pgdPa).toBe(0x4000_0000);
    expect(ops.mapPages(0, 0, SZ_4K, 1, RW, { mapped: 0 })).toBe(-ENOMEM);
    expect(ops.mapPages(0, 0, SZ_1M, 1, RW, { mapped: 0 })).toBe(0);
    freeArmV7sOps(ops);
    expect(k.pages.stats().pagesInUse).toBe(0);
  });

  it('MTK_TTBR_EXT puts tables above 4 GiB, encoding PA bits 32..34 in table descriptors and TTBR', () => {
    const k = new Kernel(new Board('high', [{ base: 0x5_0000_0000, size: 0x100_0000 }]));
    const cfg = v7sCfg({
      ias: 34, oas: 35,
      quirks: IO_PGTABLE_QUIRK_NO_PERMS | IO_PGTABLE_QUIRK_ARM_MTK_EXT | IO_PGTABLE_QUIRK_ARM_MTK_TTBR_EXT,
    });
    const ops = mustCreate(k, cfg);
    expect(ops.pgdPa).toBe(0x5_0000_0000);
    expect(ops.pgdOrder).toBe(4); // 16384 entries = 64 KiB
    expect(cfg.armV7sCfg!.ttbr).toBe(0x5); // PA | upper_32_bits(PA), no attribute bits
    expect(ops.mapPages(0x3_0000_1000, 0x7_1234_5000, SZ_4K, 1, IOMMU_READ, { mapped: 0 })).toBe(0);
    expect(ops.iovaToPhys(0x3_0000_1abc)).toBe(0x7_1234_5abc);
    const desc = k.mem.read32(ops.pgdPa + 4 * Math.floor(0x3_0000_1000 / SZ_1M));
    // PA bit 32 -> bit 9, bit 34 -> bit 5, type table
    expect(desc & 0x3).toBe(1);
    expect(desc & (1 << 9)).not.toBe(0);
    expect(desc & (1 << 5)).not.toBe(0);
    expect(desc & (1 << 4)).toBe(0);
    freeArmV7sOps(ops);
    expect(k.pages.stats().pagesInUse).toBe(0);
  });

  it('ARM_NS marks level-1 table descriptors NS (bit 3) and sections NS (bit 19)', () => {
    const k = makeKernel();
    const ops = mustCreate(k, v7sCfg({ quirks: IO_PGTABLE_QUIRK_ARM_NS }));
    ops.mapPages(0, 0, SZ_4K, 1, RW, { mapped: 0 });
    ops.mapPages(SZ_1M, 0, SZ_1M, 1, RW, { mapped: 0 });
    expect(k.mem.read32(ops.pgdPa) & 0xf).toBe(0x9);
    expect(k.mem.read32(ops.pgdPa + 4) & (1 << 19)).not.toBe(0);
    freeArmV7sOps(ops);
  });
});
