/**
 * The Snapdragon X1 Elite's Adreno X1-85 (x1e80100.dtsi: GPU "qcom,adreno-43050c01", GMU
 * "qcom,adreno-gmu-x185.1" + "qcom,adreno-gmu"). Linux v6.12 lists it in a6xx_catalog.c as an
 * ADRENO_7XX_GEN2 part ("C512v2") whose GMU firmware (gen70500_gmu.bin) expects the identity
 * 7.5.0.1 (gmu_chipid 0x7050001) in GMU_GENERAL_10. The values below are this test's own
 * copy of those facts.
 */
import { describe, expect, it } from 'vitest';
import { AdrenoGmu, AdrenoGpu, PhysMem, adrenoGmuChipId, adrenoIsGen7, adrenoName, isAdrenoGmuCompatible, isAdrenoGpuCompatible } from '../src/index.js';

const X185 = 0x43050c01;
const GMU_BASE_WORD = 0x1a800;
const CM3_SYSRESET = 0x1f800;
const GENERAL_10 = 0x1f9cf;
const off = (reg: number): number => (reg - GMU_BASE_WORD) * 4;

describe('Adreno X1-85 (x1e80100)', () => {
  it('is a gen7 part named x185 whose GMU expects 7.5.0.1', () => {
    expect(adrenoIsGen7(X185)).toBe(true);
    expect(adrenoName(X185)).toBe('x185');
    expect(adrenoGmuChipId(X185)).toBe(0x07050001);
    expect(isAdrenoGpuCompatible('qcom,adreno-43050c01')).toBe(true);
    // the SoC-specific GMU compatible is not a dotted number; the generic one after it is claimed
    expect(isAdrenoGmuCompatible('qcom,adreno-gmu')).toBe(true);
  });

  it('starts its GMU with the identity from GMU_GENERAL_10, and logs the a740 identity as wrong', () => {
    const mem = new PhysMem([{ base: 0x8000_0000, size: 0x10_0000 }]);
    const gmu = new AdrenoGmu(mem, {});
    gmu.attachGpu(new AdrenoGpu(mem, { chipId: X185 }));
    expect(gmu.gen7).toBe(true);
    expect(gmu.legacy).toBe(false);
    gmu.write32(off(GENERAL_10), 0x07050001);
    gmu.write32(off(CM3_SYSRESET), 1);
    gmu.write32(off(CM3_SYSRESET), 0);
    expect(gmu.hostChipId).toBe(0x07050001);
    expect(gmu.events).toEqual([]);

    const wrong = new AdrenoGmu(mem, {});
    wrong.attachGpu(new AdrenoGpu(mem, { chipId: X185 }));
    wrong.write32(off(GENERAL_10), 0x07020100);
    wrong.write32(off(CM3_SYSRESET), 1);
    wrong.write32(off(CM3_SYSRESET), 0);
    expect(wrong.events.some((e) => /GMU_GENERAL_10 0x7020100; the chip id in the GMU's form is 0x7050001/.test(e))).toBe(true);
  });
});

describe('Adreno X1-45 (x1p42100, after v6.12)', () => {
  // a6xx_catalog.c of the kernels with x1p42100.dtsi: chip id 0x43030c00, ADRENO_7XX_GEN2,
  // gen71500_gmu.bin, gmu_chipid 0x70f0000 (7.15.0.0); the GMU node is "qcom,adreno-gmu-x145.0"
  const X145 = 0x43030c00;
  it('is a gen7 part named x145 whose GMU expects 7.15.0.0', () => {
    expect(adrenoIsGen7(X145)).toBe(true);
    expect(adrenoName(X145)).toBe('x145');
    expect(adrenoGmuChipId(X145)).toBe(0x070f0000);
    expect(isAdrenoGpuCompatible('qcom,adreno-43030c00')).toBe(true);
  });

  it('starts its GMU with 7.15.0.0 from GMU_GENERAL_10, and logs the massaged chip id as wrong', () => {
    const mem = new PhysMem([{ base: 0x8000_0000, size: 0x10_0000 }]);
    const gmu = new AdrenoGmu(mem, {});
    gmu.attachGpu(new AdrenoGpu(mem, { chipId: X145 }));
    gmu.write32(off(GENERAL_10), 0x070f0000);
    gmu.write32(off(CM3_SYSRESET), 1);
    gmu.write32(off(CM3_SYSRESET), 0);
    expect(gmu.hostChipId).toBe(0x070f0000);
    expect(gmu.events).toEqual([]);
    const wrong = new AdrenoGmu(mem, {});
    wrong.attachGpu(new AdrenoGpu(mem, { chipId: X145 }));
    wrong.write32(off(GENERAL_10), 0x43030c00);
    wrong.write32(off(CM3_SYSRESET), 1);
    wrong.write32(off(CM3_SYSRESET), 0);
    expect(wrong.events.some((e) => /the chip id in the GMU's form is 0x70f0000/.test(e))).toBe(true);
  });
});
