/** The package on its own: host, range helpers, kernel-shaped free, rejected input explained. */
import { describe, expect, it } from 'vitest';
import {
  IOMMU_READ,
  IOMMU_WRITE,
  IO_PGTABLE_QUIRK_ARM_MTK_EXT,
  createArmV7sOps,
  createIoPgtableHost,
  freeArmV7sOps,
  freeIoPgtableOps,
  mapRange,
  unmapRange,
  type IoPgtableCfg,
} from '../src/index.js';

const cfg = (over: Partial<IoPgtableCfg> = {}): IoPgtableCfg => ({
  quirks: 0,
  pgsizeBitmap: 0x0110_1000 | 0x1_0000,
  ias: 32,
  oas: 32,
  coherentWalk: true,
  ...over,
});

describe('ARM_V7S without a kernel', () => {
  it('maps a range in sections, large and small pages, and frees everything', () => {
    const host = createIoPgtableHost({ ramSize: 16 * 2 ** 20 });
    const ops = createArmV7sOps(host, cfg(), null)!;
    // 0xf000..0x10_0000 in small pages up to the 64K boundary, large pages up to 1M, then a section
    expect(mapRange(ops, 0xf000, 0x8000_f000, 0x10_1000 + 0xf_1000 - 0x1000, IOMMU_READ | IOMMU_WRITE)).toBe(0);
    // walkLeaves lists slots: a 64K large page is 16 level-2 slots whose type bits are 0b01
    const kinds = new Map<string, number>();
    ops.walkLeaves((l) => {
      const k = l.level === 1 ? 'section' : (l.pte & 3n) === 1n ? 'large-slot' : 'small';
      kinds.set(k, (kinds.get(k) ?? 0) + 1);
    });
    expect(Object.fromEntries(kinds)).toEqual({ small: 1, 'large-slot': 15 * 16, section: 1 });
    expect(ops.iovaToPhys(0x10_0123)).toBe(0x8010_0123);
    expect(unmapRange(ops, 0xf000, 0x10_1000 + 0xf_1000 - 0x1000)).toBe(0x10_1000 + 0xf_1000 - 0x1000);
    freeIoPgtableOps(ops);
    expect(host.pages.stats().pagesInUse).toBe(0);
    expect(() => freeArmV7sOps(ops)).toThrow(/double free/);
  });

  it('explains a rejected configuration at warning level and leaves cfg and memory as they were', () => {
    const host = createIoPgtableHost();
    const c = cfg({ quirks: IO_PGTABLE_QUIRK_ARM_MTK_EXT });
    const copy = structuredClone(c);
    expect(createArmV7sOps(host, c, null)).toBeNull();
    expect(createArmV7sOps(host, cfg({ ias: 33 }), null)).toBeNull();
    expect(host.log.all().filter((r) => r.level === 'warn').map((r) => r.msg)).toEqual([
      'ARM_V7S: configuration rejected: ARM_MTK_EXT needs NO_PERMS',
      'ARM_V7S: configuration rejected: ias 33 exceeds 32',
    ]);
    expect(c).toEqual(copy);
    expect(host.pages.stats().allocCalls).toBe(0);
  });

  it('wrong types are TypeErrors naming the argument', () => {
    const host = createIoPgtableHost();
    expect(() => createArmV7sOps(null as never, cfg(), null)).toThrow(/host must provide/);
    expect(() => createArmV7sOps(host, cfg({ oas: '32' as never }), null)).toThrow(/cfg.oas must be a number/);
    expect(() => freeArmV7sOps({} as never)).toThrow(TypeError);
    expect(host.pages.stats().allocCalls).toBe(0);
  });
});
