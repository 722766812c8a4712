import { describe, expect, it } from 'vitest';
import { walkConfigFromIoPgtableCfg, walkConfigFromIoPgtableRegs } from '../src/walk/index.js';
import type { LpaeWalkConfig, V7sWalkConfig } from '../src/walk/index.js';

const S1_REGS = { ias: '0x30', oas: '0x30', tcr_ips: '0x5', tcr_tg: '0x0', tcr_sh: '0x3', tcr_orgn: '0x1', tcr_irgn: '0x1', tcr_tsz: '0x10', mair: '0xfffffffff404ff44' };

describe('walker config from io-pgtable register outputs', () => {
  it('stage 1: TTBR0 with EPD1, or TTBR1 with the TG1 encoding and EPD0 (ARM_TTBR1)', () => {
    const c = walkConfigFromIoPgtableRegs('ARM_64_LPAE_S1', S1_REGS, { tableBase: 0x4000_0000 }) as LpaeWalkConfig;
    expect(c).toMatchObject({ regime: 'v8-s1', oaBits: 48, ha: false, hd: false, configError: null });
    expect(c.ranges[0]).toMatchObject({ enabled: true, base: 0x4000_0000, startLevel: 0, granuleShift: 12 });
    expect(c.ranges[1]!.enabled).toBe(false);
    // TTBR1: tg 2 in the TG1 encoding is 4K; tg 1 is 16K.
    const t1 = walkConfigFromIoPgtableRegs('ARM_64_LPAE_S1', { ...S1_REGS, tcr_tg: '0x1' }, { tableBase: 0x4000_0000, quirks: ['ARM_TTBR1', 'ARM_HD'] }) as LpaeWalkConfig;
    expect(t1.ranges[0]!.enabled).toBe(false);
    expect(t1.ranges[1]).toMatchObject({ enabled: true, upper: true, granuleShift: 14 });
    expect(t1).toMatchObject({ ha: true, hd: true });
  });

  it('32-bit formats translate tsz = 64 − ias into TTBCR/VTCR terms', () => {
    const s1 = walkConfigFromIoPgtableRegs('ARM_32_LPAE_S1', { ...S1_REGS, ias: '0x20', oas: '0x28', tcr_tsz: '0x20', tcr_ips: '0x2' }, { tableBase: 0x4000_0000 }) as LpaeWalkConfig;
    expect(s1).toMatchObject({ regime: 'v7-s1', oaBits: 40 });
    expect(s1.ranges[0]).toMatchObject({ inputBits: 32, startLevel: 1, startBits: 2 });
    const s2 = walkConfigFromIoPgtableRegs('ARM_32_LPAE_S2', { ias: '0x28', oas: '0x28', vtcr_ps: '0x2', vtcr_tg: '0x0', vtcr_sl: '0x1', vtcr_tsz: '0x18' }, { tableBase: 0x4000_0000 }) as LpaeWalkConfig;
    expect(s2.ranges[0]).toMatchObject({ inputBits: 40, startLevel: 1, concatenated: 2 });
  });

  it('from a filled io_pgtable_cfg (table address taken from ttbr / vttbr / transtab / v7s ttbr)', () => {
    const s2 = walkConfigFromIoPgtableCfg('ARM_64_LPAE_S2', {
      quirks: 1 << 8,
      ias: 40,
      oas: 40,
      armLpaeS2Cfg: { vttbr: 0x4001_0000n, vtcr: { ps: 2, tg: 0, sh: 3, orgn: 1, irgn: 1, sl: 1, tsz: 24 } },
    }) as LpaeWalkConfig;
    expect(s2).toMatchObject({ regime: 'v8-s2', fwb: true, oaBits: 40 });
    expect(s2.ranges[0]).toMatchObject({ base: 0x4001_0000, startLevel: 1, concatenated: 2 });
    const mali = walkConfigFromIoPgtableCfg('ARM_MALI_LPAE', { quirks: 0, ias: 48, oas: 40, armMaliLpaeCfg: { transtab: 0x4002_0017n, memattr: 0x888d88n } }) as LpaeWalkConfig;
    expect(mali.ranges[0]).toMatchObject({ base: 0x4002_0000, enabled: true, startLevel: 0 });
    expect(mali.mairLo).toBe(0x888d88);
    const v7s = walkConfigFromIoPgtableCfg('ARM_V7S', { quirks: 0, ias: 32, oas: 32, armV7sCfg: { ttbr: 0x4003_c06a, tcr: 0, nmrr: 0x40004000, prrr: 0x800b8204 } }) as V7sWalkConfig;
    expect(v7s).toMatchObject({ kind: 'v7s', ttbr0: 0x4003_c000, afe: true, tre: true, prrr: 0x800b8204, noPerms: false });
    const mtk = walkConfigFromIoPgtableCfg('ARM_V7S', { quirks: (1 << 1) | (1 << 3), ias: 34, oas: 35, armV7sCfg: { ttbr: 0x4003_c001, tcr: 0, nmrr: 0, prrr: 0 } }) as V7sWalkConfig;
    expect(mtk).toMatchObject({ ttbr0: 0x1_4003_c000, ias: 34, oaBits: 35, mtkExt: true, noPerms: true });
  });

  it('rejects unknown formats, quirks and missing registers', () => {
    expect(() => walkConfigFromIoPgtableRegs('AMD_IOMMU_V1', S1_REGS, { tableBase: 0 })).toThrow(RangeError);
    expect(() => walkConfigFromIoPgtableRegs('ARM_64_LPAE_S1', S1_REGS, { tableBase: 0, quirks: ['BOGUS'] })).toThrow(/quirk/);
    expect(() => walkConfigFromIoPgtableRegs('ARM_64_LPAE_S2', S1_REGS, { tableBase: 0 })).toThrow(/vtcr_tsz/);
    expect(() => walkConfigFromIoPgtableCfg('ARM_64_LPAE_S1', { quirks: 0, ias: 48, oas: 48 })).toThrow(/output block/);
  });
});
