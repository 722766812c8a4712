/**
 * The package on its own: a host without a kernel, range helpers, the kernel-shaped free, and
 * the public entries refusing what JavaScript (not C) can hand them, without changing anything.
 */
import { describe, expect, it } from 'vitest';
import {
  EEXIST,
  EINVAL,
  IOMMU_READ,
  IOMMU_WRITE,
  KernelError,
  createArmLpaeOps,
  createIoPgtableHost,
  freeIoPgtableOps,
  iommuIotlbGatherInit,
  lpaeGeometry,
  mapRange,
  unmapRange,
  type ArmLpaeFmt,
  type IoPgtableCfg,
  type IoPgtableHost,
} from '../src/index.js';
import { leavesOf } from './helpers/env.js';

const RW = IOMMU_READ | IOMMU_WRITE;
const cfg = (over: Partial<IoPgtableCfg> = {}): IoPgtableCfg => ({
  quirks: 0,
  pgsizeBitmap: 0x4020_1000,
  ias: 48,
  oas: 48,
  coherentWalk: true,
  ...over,
});

function warnings(host: IoPgtableHost): string[] {
  return host.log.all().filter((r) => r.level === 'warn').map((r) => r.msg);
}

describe('a table without a kernel', () => {
  it('maps and unmaps a range in the largest pages and frees everything', () => {
    const host = createIoPgtableHost();
    const added: [number, number][] = [];
    const flushes: unknown[] = [];
    const c = cfg({ tlb: { tlbAddPage: (_g, iova, size) => added.push([iova, size]), tlbFlushAll: (k) => flushes.push(k) } });
    const ops = createArmLpaeOps(host, 'ARM_64_LPAE_S1', c, 'me')!;
    expect(ops).not.toBeNull();
    // 4K up to the 2M boundary, two 2M blocks, one 4K page: what iommu_map would write
    expect(mapRange(ops, 0x1f_f000, 0x8_001f_f000, 0x40_2000, RW)).toBe(0);
    expect(leavesOf(ops).map((l) => l.split(':').slice(0, 3).join(':'))).toEqual([
      '3:1ff000:1000',
      '2:200000:200000',
      '2:400000:200000',
      '3:600000:1000',
    ]);
    expect(ops.iovaToPhys(0x40_1234)).toBe(0x8_0040_1234);
    // a map over it fails with the kernel's errno and leaves the table as it was
    const before = leavesOf(ops);
    expect(mapRange(ops, 0x1f_e000, 0x1000, 0x2000, RW)).toBe(-EEXIST);
    expect(leavesOf(ops)).toEqual(before);
    const gather = iommuIotlbGatherInit();
    expect(unmapRange(ops, 0x1f_f000, 0x40_2000, { gather })).toBe(0x40_2000);
    expect(added).toEqual([
      [0x1f_f000, 0x1000],
      [0x20_0000, 0x20_0000],
      [0x40_0000, 0x20_0000],
      [0x60_0000, 0x1000],
    ]);
    expect(leavesOf(ops)).toEqual([]);
    freeIoPgtableOps(ops);
    expect(flushes).toEqual(['me']);
    expect(host.pages.stats().pagesInUse).toBe(0);
    expect(() => freeIoPgtableOps(ops)).toThrow(/double free/);
    expect(() => ops.mapPages(0, 0, 0x1000, 1, RW, { mapped: 0 })).toThrow(KernelError);
  });

  it('explains a rejected configuration at warning level', () => {
    const host = createIoPgtableHost();
    const c = cfg({ pgsizeBitmap: 0x4020_0000 });
    expect(createArmLpaeOps(host, 'ARM_64_LPAE_S1', c, null)).toBeNull();
    expect(warnings(host)).toEqual(['ARM_64_LPAE_S1: configuration rejected: page-size bitmap has no 4K, 16K or 64K granule']);
    expect(createArmLpaeOps(host, 'ARM_32_LPAE_S1', cfg({ ias: 40 }), null)).toBeNull();
    expect(warnings(host)[1]).toMatch(/ARM_32_LPAE_S1: configuration rejected: 32-bit stage 1 needs ias <= 32/);
    expect(host.pages.stats().pagesInUse).toBe(0);
  });

  it('echoes the log when asked', () => {
    const lines: string[] = [];
    const orig = console.error;
    console.error = (s: string) => void lines.push(s);
    try {
      const host = createIoPgtableHost({ echo: 'warn' });
      createArmLpaeOps(host, 'ARM_MALI_LPAE', cfg({ quirks: 1 }), null);
    } finally {
      console.error = orig;
    }
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/io-pgtable-arm: ARM_MALI_LPAE: configuration rejected: Mali accepts no quirks/);
  });

  it('a booted Kernel is a host too, and a host rejects options of the wrong type', () => {
    expect(() => createIoPgtableHost({ ramSize: '64M' as never })).toThrow(/ramSize must be a number/);
    expect(() => createIoPgtableHost({ echo: 'loud' as never })).toThrow(/echo must be one of/);
    expect(() => createIoPgtableHost({ ramBase: 0x800 })).toThrow(RangeError);
    expect(() => createIoPgtableHost({ ramSize: 100 })).toThrow(RangeError);
    const host = createIoPgtableHost({ ramBase: 0x8000_0000, ramSize: 0x10_0000 });
    expect(host.mem.regions).toEqual([{ base: 0x8000_0000, size: 0x10_0000 }]);
  });
});

describe('public entries refuse wrong types and unknown formats, changing nothing', () => {
  it('createArmLpaeOps: unknown format string (a live table without geometry before)', () => {
    const host = createIoPgtableHost();
    const c = cfg();
    const copy = structuredClone(c);
    let err: unknown;
    try {
      createArmLpaeOps(host, 'ARM_64_LPAE_S3' as ArmLpaeFmt, c, null);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KernelError);
    expect((err as KernelError).errno).toBe(-EINVAL);
    expect((err as Error).message).toMatch(/unknown format "ARM_64_LPAE_S3"/);
    expect(() => createArmLpaeOps(host, 'ARM_V7S' as ArmLpaeFmt, c, null)).toThrow(KernelError);
    expect(() => createArmLpaeOps(host, 7 as never, c, null)).toThrow(/fmt must be a format name string/);
    expect(c).toEqual(copy);
    expect(host.pages.stats().allocCalls).toBe(0);
    expect(host.log.all()).toEqual([]);
  });

  it('lpaeGeometry rejects an unknown format instead of treating it as Mali', () => {
    const g = lpaeGeometry('NOT_A_FORMAT' as ArmLpaeFmt, cfg());
    expect(g.ok).toBe(false);
    expect(!g.ok && g.reason).toMatch(/unknown format/);
  });

  it('createArmLpaeOps: host and cfg of the wrong shape are TypeErrors naming the argument', () => {
    const host = createIoPgtableHost();
    expect(() => createArmLpaeOps({} as never, 'ARM_64_LPAE_S1', cfg(), null)).toThrow(/host must provide mem, pages and log/);
    expect(() => createArmLpaeOps(host, 'ARM_64_LPAE_S1', undefined as never, null)).toThrow(/cfg must be an object/);
    expect(() => createArmLpaeOps(host, 'ARM_64_LPAE_S1', cfg({ ias: '48' as never }), null)).toThrow(/cfg.ias must be a number \(got the string "48"\)/);
    expect(() => createArmLpaeOps(host, 'ARM_64_LPAE_S1', cfg({ pgsizeBitmap: 0x4020_1000n as never }), null)).toThrow(/cfg.pgsizeBitmap/);
    expect(() => createArmLpaeOps(host, 'ARM_64_LPAE_S1', cfg({ coherentWalk: undefined as never }), null)).toThrow(/cfg.coherentWalk/);
    expect(() => createArmLpaeOps(host, 'ARM_64_LPAE_S1', cfg({ tlb: { tlbFlushAll: 1 as never } }), null)).toThrow(/cfg.tlb.tlbFlushAll/);
    expect(() => createArmLpaeOps(host, 'ARM_64_LPAE_S1', cfg({ allocator: 'pool' as never }), null)).toThrow(/cfg.allocator/);
    expect(host.pages.stats().allocCalls).toBe(0);
  });

  it('mapPages without a `mapped` object throws before writing anything', () => {
    const host = createIoPgtableHost();
    const ops = createArmLpaeOps(host, 'ARM_64_LPAE_S1', cfg(), null)!;
    const pages = host.pages.snapshot();
    expect(() => ops.mapPages(0x1000, 0x1000, 0x1000, 1, RW, undefined as never)).toThrow(/mapped must be an object/);
    expect(leavesOf(ops)).toEqual([]);
    expect(host.pages.snapshot()).toEqual(pages);
    freeIoPgtableOps(ops);
  });

  it('a table created standalone can also be freed with ops.free(); freeIoPgtableOps then reports the second free', () => {
    const host = createIoPgtableHost();
    const ops = createArmLpaeOps(host, 'ARM_64_LPAE_S2', cfg({ ias: 40, oas: 40 }), null)!;
    ops.free();
    expect(host.pages.stats().pagesInUse).toBe(0);
    expect(() => freeIoPgtableOps(ops)).toThrow(/freed twice/);
  });
});
