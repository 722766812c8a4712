import { describe, expect, it } from 'vitest';
import { EEXIST, EINVAL, ENOENT, ERANGE, KernelError, type Kernel } from '@gki/kernel';
import {
  IOMMU_CACHE,
  IOMMU_MMIO,
  IOMMU_NOEXEC,
  IOMMU_PRIV,
  IOMMU_READ,
  IOMMU_WRITE,
  IO_PGTABLE_QUIRK_ARM_TTBR1,
  IO_PGTABLE_QUIRK_NO_WARN,
  iommuIotlbGatherInit,
  type IommuFlushOps,
  type IoPgtableCfg,
  type MappedOut,
} from '@gki/io-pgtable-core';
import { createArmLpaeOps, type ArmLpaeFmt, type ArmLpaeIoPgtable } from '../src/index.js';
import { leavesOf, makeKernel } from './helpers/env.js';

const RW = IOMMU_READ | IOMMU_WRITE;
const SZ_4K = 0x1000;
const SZ_2M = 0x200000;
const SZ_1G = 0x40000000;

function s1(kernel: Kernel, quirks = 0, fmt: ArmLpaeFmt = 'ARM_64_LPAE_S1', ias = 48, oas = 48, tlb?: IommuFlushOps): ArmLpaeIoPgtable {
  const cfg: IoPgtableCfg = { quirks, pgsizeBitmap: SZ_4K | SZ_2M | SZ_1G, ias, oas, coherentWalk: true, tlb };
  const ops = createArmLpaeOps(kernel, fmt, cfg, null);
  if (!ops) throw new Error('alloc failed');
  return ops;
}

/** Table contents and allocator state: what a rejected call must leave exactly as it was. */
function state(kernel: Kernel, ops: ArmLpaeIoPgtable) {
  return { leaves: leavesOf(ops), pages: kernel.pages.snapshot() };
}

/** A table with a 4K page at 0x1000, a 2M block at 0x400000 and a 1G block at 1G. */
function populated(quirks = 0, tlb?: IommuFlushOps) {
  const kernel = makeKernel();
  const ops = s1(kernel, quirks, 'ARM_64_LPAE_S1', 48, 48, tlb);
  const m: MappedOut = { mapped: 0 };
  expect(ops.mapPages(0x1000, 0x8000_1000, SZ_4K, 1, RW, m)).toBe(0);
  expect(ops.mapPages(0x40_0000, 0x8020_0000, SZ_2M, 1, RW, m)).toBe(0);
  expect(ops.mapPages(SZ_1G, 0x1_0000_0000, SZ_1G, 1, RW, m)).toBe(0);
  expect(m.mapped).toBe(SZ_4K + SZ_2M + SZ_1G);
  return { kernel, ops };
}

describe('rejected map_pages calls return the kernel errno and change nothing', () => {
  const cases: [string, (ops: ArmLpaeIoPgtable, m: MappedOut) => number, number][] = [
    ['pgsize 0', (o, m) => o.mapPages(0x80_0000, 0x1000, 0, 1, RW, m), -EINVAL],
    ['pgsize not in the bitmap (8K)', (o, m) => o.mapPages(0x80_0000, 0x1000, 0x2000, 1, RW, m), -EINVAL],
    ['pgsize 16K on a 4K table', (o, m) => o.mapPages(0x80_0000, 0x1000, 0x4000, 1, RW, m), -EINVAL],
    ['iova at 2^ias', (o, m) => o.mapPages(2 ** 48, 0x1000, SZ_4K, 1, RW, m), -ERANGE],
    ['iova with bit 63', (o, m) => o.mapPages(2 ** 63, 0x1000, SZ_4K, 1, RW, m), -ERANGE],
    ['negative iova (sign-extended) without TTBR1', (o, m) => o.mapPages(-4096, 0x1000, SZ_4K, 1, RW, m), -ERANGE],
    ['paddr at 2^oas', (o, m) => o.mapPages(0x80_0000, 2 ** 48, SZ_4K, 1, RW, m), -ERANGE],
    ['prot without READ or WRITE', (o, m) => o.mapPages(0x80_0000, 0x1000, SZ_4K, 1, IOMMU_CACHE | IOMMU_NOEXEC | IOMMU_MMIO | IOMMU_PRIV, m), -EINVAL],
    ['prot 0', (o, m) => o.mapPages(0x80_0000, 0x1000, SZ_4K, 1, 0, m), -EINVAL],
    ['page over an existing page', (o, m) => o.mapPages(0x1000, 0x5000, SZ_4K, 1, RW, m), -EEXIST],
    ['page inside an existing 2M block', (o, m) => o.mapPages(0x40_3000, 0x5000, SZ_4K, 1, RW, m), -EEXIST],
    ['2M block inside an existing 1G block', (o, m) => o.mapPages(SZ_1G + SZ_2M, 0, SZ_2M, 1, RW, m), -EEXIST],
    ['block over an existing block', (o, m) => o.mapPages(0x40_0000, 0, SZ_2M, 1, RW, m), -EEXIST],
    ['run that reaches an existing page', (o, m) => o.mapPages(0, 0x9000_0000, SZ_4K, 4, RW, m), -EEXIST],
    ['non-integer iova (model check)', (o, m) => o.mapPages(4096.5, 0x1000, SZ_4K, 1, RW, m), -EINVAL],
    ['non-integer paddr (model check)', (o, m) => o.mapPages(0x80_0000, 0.5, SZ_4K, 1, RW, m), -EINVAL],
    ['negative pgcount (model check)', (o, m) => o.mapPages(0x80_0000, 0x1000, SZ_4K, -1, RW, m), -EINVAL],
    ['bigint paddr (model check)', (o, m) => o.mapPages(0x80_0000, 0x1000n as unknown as number, SZ_4K, 1, RW, m), -EINVAL],
  ];
  for (const [name, call, want] of cases) {
    it(name, () => {
      const { kernel, ops } = populated();
      const before = state(kernel, ops);
      const m: MappedOut = { mapped: 7 };
      expect(call(ops, m)).toBe(want);
      expect(m.mapped).toBe(7); // never reset, nothing added
      expect(state(kernel, ops)).toEqual(before);
      ops.free();
      expect(kernel.pages.stats().pagesInUse).toBe(0);
    });
  }

  it('a bigint paddr where the single-page fast path applies: -EINVAL as on the full path (model check)', () => {
    // an emulator author's easy slip; Math.floor on the fast path threw a bare TypeError
    const kernel = makeKernel();
    const ops = s1(kernel);
    expect(ops.mapPages(0x1000, 0x8000_1000, SZ_4K, 1, RW, { mapped: 0 })).toBe(0);
    const before = state(kernel, ops);
    const m: MappedOut = { mapped: 0 };
    expect(ops.mapPages(0x2000, 0x8000_2000n as unknown as number, SZ_4K, 1, RW, m)).toBe(-EINVAL);
    expect(m.mapped).toBe(0);
    expect(state(kernel, ops)).toEqual(before);
    ops.free();
  });

  it('WARNs on -EEXIST unless NO_WARN', () => {
    for (const quirks of [0, IO_PGTABLE_QUIRK_NO_WARN]) {
      const { kernel, ops } = populated(quirks);
      const warns = () => kernel.log.all().filter((r) => r.level === 'warn').length;
      const w0 = warns();
      expect(ops.mapPages(0x1000, 0x5000, SZ_4K, 1, RW, { mapped: 0 })).toBe(-EEXIST);
      expect(warns() - w0).toBe(quirks ? 0 : 1);
      ops.free();
    }
  });
});

describe('accepted oddities of map_pages (as the kernel)', () => {
  it('a misaligned iova maps the page containing it; paddr bits below 12 are dropped', () => {
    const kernel = makeKernel();
    const ops = s1(kernel);
    expect(ops.mapPages(0x1234, 0x8000_0345, SZ_4K, 1, RW, { mapped: 0 })).toBe(0);
    expect(leavesOf(ops)).toEqual([`3:1000:1000:${(0x8000_0000 + 0xe43).toString(16)}`]);
    expect(ops.iovaToPhys(0x1010)).toBe(0x8000_0010);
    ops.free();
  });

  it('a misaligned block paddr keeps bits 12..20 and iova_to_phys ORs the offset in', () => {
    const kernel = makeKernel();
    const ops = s1(kernel);
    expect(ops.mapPages(0x40_0000, 0x8000_1000, SZ_2M, 1, RW, { mapped: 0 })).toBe(0);
    expect(ops.iovaToPhys(0x40_3005)).toBe(0x8000_3005);
    ops.free();
  });

  it('a pgsize of two valid sizes ORed is -EINVAL after allocating empty tables (freed at free)', () => {
    const kernel = makeKernel();
    const ops = s1(kernel);
    const p0 = kernel.pages.stats().pagesInUse;
    expect(ops.mapPages(0x60_0000, 0x8000_0000, SZ_4K | SZ_2M, 1, RW, { mapped: 0 })).toBe(-EINVAL);
    expect(leavesOf(ops)).toEqual([]);
    expect(kernel.pages.stats().pagesInUse).toBe(p0 + 3); // levels 1, 2 and 3
    ops.free();
    expect(kernel.pages.stats().pagesInUse).toBe(0);
  });

  it('pgcount 0 maps nothing and returns 0 (tables are still allocated)', () => {
    const kernel = makeKernel();
    const ops = s1(kernel);
    const m = { mapped: 0 };
    expect(ops.mapPages(0x60_0000, 0x8000_0000, SZ_4K, 0, RW, m)).toBe(0);
    expect(m.mapped).toBe(0);
    expect(leavesOf(ops)).toEqual([]);
    expect(kernel.pages.stats().pagesInUse).toBe(4);
    ops.free();
  });

  it('only the first page of a run is range-checked: the PA wraps into bits 47:12', () => {
    const kernel = makeKernel();
    const ops = s1(kernel);
    const m = { mapped: 0 };
    expect(ops.mapPages(0x80_0000, 2 ** 48 - SZ_4K, SZ_4K, 2, RW, m)).toBe(0);
    expect(m.mapped).toBe(0x2000);
    expect(ops.iovaToPhys(0x80_1000)).toBe(0x1000); // PA 2^48: bit 48 folds into PTE bit 12
    ops.free();
  });

  it('a run stops at the end of a table and returns 0 with a short mapped count', () => {
    const kernel = makeKernel();
    const ops = s1(kernel);
    const m = { mapped: 0 };
    expect(ops.mapPages(0x1ff000, 0, SZ_4K, 3, RW, m)).toBe(0);
    expect(m.mapped).toBe(SZ_4K);
    ops.free();
  });

  it('a block over a table holding live pages replaces it and frees the table', () => {
    const kernel = makeKernel();
    const ops = s1(kernel);
    expect(ops.mapPages(0x20_1000, 0, SZ_4K, 2, RW, { mapped: 0 })).toBe(0);
    const pages = kernel.pages.stats().pagesInUse;
    expect(ops.mapPages(0x20_0000, 0x4000_0000, SZ_2M, 1, RW, { mapped: 0 })).toBe(0);
    expect(kernel.pages.stats().pagesInUse).toBe(pages - 1);
    expect(leavesOf(ops)).toEqual(['2:200000:200000:40000e41']);
    ops.free();
  });
});

describe('rejected unmap_pages calls', () => {
  const g = iommuIotlbGatherInit();
  const cases: [string, (ops: ArmLpaeIoPgtable) => number, number][] = [
    ['pgsize 0', (o) => o.unmapPages(0x1000, 0, 1, g), 0],
    ['pgsize not in the bitmap', (o) => o.unmapPages(0x1000, 0x2000, 1, g), 0],
    ['pgcount 0', (o) => o.unmapPages(0x1000, SZ_4K, 0, null), 0],
    ['iova at 2^ias', (o) => o.unmapPages(2 ** 48 + 0x1000, SZ_4K, 1, null), 0],
    ['a hole at the top level', (o) => o.unmapPages(2 ** 47, SZ_4K, 1, null), -ENOENT],
    ['a hole at the leaf level', (o) => o.unmapPages(0x2000, SZ_4K, 1, g), -ENOENT],
    ['a page inside a 2M block (partial unmap refused)', (o) => o.unmapPages(0x40_1000, SZ_4K, 1, g), 0],
    ['a 2M piece of a 1G block', (o) => o.unmapPages(SZ_1G + SZ_2M, SZ_2M, 1, null), 0],
  ];
  for (const [name, call, want] of cases) {
    it(name, () => {
      const calls: string[] = [];
      const tlb: IommuFlushOps = {
        tlbFlushWalk: (iova) => calls.push(`walk ${iova}`),
        tlbAddPage: (_g, iova) => calls.push(`add ${iova}`),
      };
      const { kernel, ops } = populated(0, tlb);
      const before = state(kernel, ops);
      expect(call(ops)).toBe(want);
      expect(calls).toEqual([]);
      expect(state(kernel, ops)).toEqual(before);
      ops.free();
      expect(kernel.pages.stats().pagesInUse).toBe(0);
    });
  }

  it('a run with a hole in the middle unmaps up to the hole', () => {
    const kernel = makeKernel();
    const ops = s1(kernel);
    expect(ops.mapPages(0, 0, SZ_4K, 2, RW, { mapped: 0 })).toBe(0);
    expect(ops.mapPages(0x3000, 0x3000, SZ_4K, 1, RW, { mapped: 0 })).toBe(0);
    expect(ops.unmapPages(0, SZ_4K, 4, null)).toBe(0x2000);
    expect(leavesOf(ops)).toEqual(['3:3000:1000:3e43']);
    ops.free();
  });
});

describe('TTBR1 ranges', () => {
  it('accepts sign-extended IOVAs (unsigned, negative or bigint) and rejects the rest', () => {
    const kernel = makeKernel();
    const ops = s1(kernel, IO_PGTABLE_QUIRK_ARM_TTBR1);
    const m = { mapped: 0 };
    expect(ops.mapPages(0, 0, SZ_4K, 1, RW, m)).toBe(-ERANGE);
    expect(ops.mapPages(2 ** 47, 0, SZ_4K, 1, RW, m)).toBe(-ERANGE);
    expect(ops.mapPages(2 ** 64 - 2 ** 48, 0, SZ_4K, 1, RW, m)).toBe(0);
    expect(ops.mapPages(-0x2000, 0x2000, SZ_4K, 1, RW, m)).toBe(0);
    expect(ops.mapPages(0xffff_ffff_ffff_f000n, 0x1000, SZ_4K, 1, RW, m)).toBe(0);
    expect(ops.unmapPages(0xffff_ffff_f000, SZ_4K, 1, null)).toBe(0);
    expect(ops.iovaToPhys(0xffff_ffff_ffff_f123n)).toBe(0x1123);
    expect(ops.iovaToPhys(-0x1edd)).toBe(0x2123); // 0xffff_ffff_ffff_e123
    // the very last IOVA: the kernel's walker wraps there and returns garbage; the model translates it
    expect(ops.iovaToPhys(0xffff_ffff_ffff_ffffn)).toBe(0x1fff);
    expect(ops.iovaToPhys(-1)).toBe(0x1fff);
    const leaves: string[] = [];
    ops.walkLeaves((l) => leaves.push(BigInt(l.iova).toString(16)));
    expect(leaves).toEqual(['ffff000000000000', 'ffffffffffffe000', 'fffffffffffff000']);
    ops.free();
  });

  it('translates the last IOVA of a plain table too (it aliases the top of the IAS)', () => {
    const kernel = makeKernel();
    const ops = s1(kernel);
    expect(ops.mapPages(2 ** 48 - SZ_4K, 0x7000, SZ_4K, 1, RW, { mapped: 0 })).toBe(0);
    expect(ops.iovaToPhys(2 ** 48 - 1)).toBe(0x7fff);
    expect(ops.iovaToPhys(0xffff_ffff_ffff_ffffn)).toBe(0x7fff);
    expect(ops.iovaToPhys(2 ** 52 - 1)).toBe(0x7fff);
    ops.free();
  });
});

describe('read_and_clear_dirty errors', () => {
  it('size 0, range beyond ias, a hole, and formats other than 64-bit S1 are -EINVAL', () => {
    const kernel = makeKernel();
    const { ops } = populated();
    expect(ops.readAndClearDirty(0x1000, 0, 0, () => {})).toBe(-EINVAL);
    expect(ops.readAndClearDirty(2 ** 48 - SZ_4K, 0x2000, 0, () => {})).toBe(-EINVAL);
    expect(ops.readAndClearDirty(0x1000, 0x2000, 0, () => {})).toBe(-EINVAL); // 0x2000 is a hole
    expect(ops.readAndClearDirty(0x1000, 0x1000, 0, () => {})).toBe(0);
    ops.free();
    for (const fmt of ['ARM_32_LPAE_S1', 'ARM_64_LPAE_S2', 'ARM_MALI_LPAE'] as const) {
      const o = s1(kernel, 0, fmt, 32, 40);
      expect(o.mapPages(0x1000, 0x1000, SZ_4K, 1, RW, { mapped: 0 })).toBe(0);
      expect(o.readAndClearDirty(0x1000, 0x1000, 0, () => {})).toBe(-EINVAL);
      o.free();
    }
    expect(kernel.pages.stats().pagesInUse).toBe(0);
  });
});

describe('use after free', () => {
  it('every op throws KernelError(-EINVAL) once the table is freed', () => {
    const kernel = makeKernel();
    const ops = s1(kernel);
    ops.free();
    expect(() => ops.mapPages(0, 0, SZ_4K, 1, RW, { mapped: 0 })).toThrow(KernelError);
    expect(() => ops.unmapPages(0, SZ_4K, 1, null)).toThrow(KernelError);
    expect(() => ops.iovaToPhys(0)).toThrow(KernelError);
    expect(() => ops.free()).toThrow(KernelError);
    expect(kernel.pages.stats().pagesInUse).toBe(0);
  });
});
