import { describe, expect, it } from 'vitest';
import { iommuAttachDevice, iommuEnableNesting, iommuGetDomainForDev } from '@gki/kernel';
import { asArmSmmuDomain } from '../src/index.js';
import { SMMU_BASE, boot, domain, type Rig } from './rig.js';

/*
 * The context bank registers as Linux's arm_smmu_write_context_bank leaves them, checked from
 * the hardware side (the model's registers read back over the bus) against the values the
 * kernel's formulas give for the io-pgtable configuration: arm_smmu_lpae_tcr/tcr2/vtcr, the
 * ASID in TTBRn[63:48], CBAR's stage-1 attributes, SCTLR = CFIE|CFRE|AFE|TRE|M(|ASIDPNE).
 */

const GR1 = 0x1000;
const cbOff = (r: Rig, cb: number) => SMMU_BASE + r.model.contextBankOffset(cb);
const rd = (r: Rig, at: number) => r.board.bus.read32(at) >>> 0;

/** Linux's arm_smmu_lpae_tcr for a non-TTBR1 stage-1 config. */
function linuxTcr(t: { tg: number; sh: number; orgn: number; irgn: number; tsz: number }): number {
  return ((t.tg << 14) | (t.sh << 12) | (t.orgn << 10) | (t.irgn << 8) | t.tsz | (1 << 23)) >>> 0;
}

describe('context bank programming', () => {
  it('AArch64 stage 1: CBA2R.VA64, CBAR type 1 with NSH/WB, TCR/TCR2, TTBR0 with the ASID, MAIR, SCTLR', () => {
    const r = boot();
    const d = asArmSmmuDomain(iommuGetDomainForDev(r.masters[0]!))!;
    const cb = d.cfg.cbndx;
    const pc = d.pgtblCfg!;
    const s1 = pc.armLpaeS1Cfg!;
    expect(rd(r, SMMU_BASE + GR1 + 0x800 + 4 * cb)).toBe(1); // CBA2R.VA64
    expect(rd(r, SMMU_BASE + GR1 + 4 * cb)).toBe((1 << 16) | (0xf << 12) | (3 << 8));
    expect(rd(r, cbOff(r, cb) + 0x30)).toBe(linuxTcr(s1.tcr));
    expect(rd(r, cbOff(r, cb) + 0x10)).toBe((s1.tcr.ips | (7 << 15) | (1 << 4)) >>> 0);
    const ttbr = BigInt(rd(r, cbOff(r, cb) + 0x24)) * 2n ** 32n + BigInt(rd(r, cbOff(r, cb) + 0x20));
    expect(ttbr).toBe(s1.ttbr | (BigInt(d.cfg.asid) << 48n));
    expect(d.cfg.asid).toBe(cb);
    expect(BigInt(rd(r, cbOff(r, cb) + 0x3c)) * 2n ** 32n + BigInt(rd(r, cbOff(r, cb) + 0x38))).toBe(s1.mair);
    expect(rd(r, cbOff(r, cb))).toBe(0x40 | 0x20 | 0x4 | 0x2 | 0x1 | 0x1000);
  });

  it('AArch64 stage 2: CBAR type 0 with the 8-bit VMID, VTCR with RES1, VTTBR in TTBR0, no ASIDPNE', () => {
    const r = boot();
    const d = domain(r.masters[0]!);
    expect(iommuEnableNesting(d)).toBe(0);
    expect(iommuAttachDevice(d, r.masters[0]!)).toBe(0);
    const sd = asArmSmmuDomain(d)!;
    const cb = sd.cfg.cbndx;
    const v = sd.pgtblCfg!.armLpaeS2Cfg!;
    expect(sd.cfg.vmid).toBe(cb + 1);
    expect(rd(r, SMMU_BASE + GR1 + 4 * cb)).toBe(sd.cfg.vmid); // TYPE 0
    const vt = v.vtcr;
    expect(rd(r, cbOff(r, cb) + 0x30)).toBe(((1 << 31) | (vt.ps << 16) | (vt.tg << 14) | (vt.sh << 12) | (vt.orgn << 10) | (vt.irgn << 8) | (vt.sl << 6) | vt.tsz) >>> 0);
    expect(BigInt(rd(r, cbOff(r, cb) + 0x24)) * 2n ** 32n + BigInt(rd(r, cbOff(r, cb) + 0x20))).toBe(v.vttbr);
    expect(rd(r, cbOff(r, cb))).toBe(0x40 | 0x20 | 0x4 | 0x2 | 0x1);
  });

  it('AArch32 long stage 1: no VA64, TCR.EAE, TCR2 without AS', () => {
    const r = boot({ arch: 'arm-lpae' });
    const d = asArmSmmuDomain(iommuGetDomainForDev(r.masters[0]!))!;
    const cb = d.cfg.cbndx;
    const s1 = d.pgtblCfg!.armLpaeS1Cfg!;
    expect(d.fmt).toBe('ARM_32_LPAE_S1');
    expect(rd(r, SMMU_BASE + GR1 + 0x800 + 4 * cb)).toBe(0);
    expect(rd(r, cbOff(r, cb) + 0x30)).toBe((linuxTcr(s1.tcr) | (1 << 31)) >>> 0);
    expect(rd(r, cbOff(r, cb) + 0x10)).toBe((s1.tcr.ips | (7 << 15)) >>> 0);
  });

  it('AArch32 short stage 1: CONTEXTIDR = ASID, 32-bit TTBR0, TTBCR, PRRR/NMRR in MAIR0/1', () => {
    const r = boot({ arch: 'arm' });
    const d = asArmSmmuDomain(iommuGetDomainForDev(r.masters[0]!))!;
    const cb = d.cfg.cbndx;
    const v = d.pgtblCfg!.armV7sCfg!;
    expect(d.fmt).toBe('ARM_V7S');
    expect(rd(r, cbOff(r, cb) + 0x34)).toBe(d.cfg.asid);
    expect(rd(r, cbOff(r, cb) + 0x20)).toBe(v.ttbr >>> 0);
    expect(rd(r, cbOff(r, cb) + 0x30)).toBe(v.tcr >>> 0);
    expect([rd(r, cbOff(r, cb) + 0x38), rd(r, cbOff(r, cb) + 0x3c)]).toEqual([v.prrr >>> 0, v.nmrr >>> 0]);
  });

  it('SMMUv1: CBAR.IRPTNDX round robin, no CBA2R, and an AArch32 long context even on arm64', () => {
    const r = boot({ compatible: ['arm,smmu-v1'] });
    const banks = r.masters.map((m) => asArmSmmuDomain(iommuGetDomainForDev(m))!);
    expect(banks.map((d) => d.fmt)).toEqual(['ARM_32_LPAE_S1', 'ARM_32_LPAE_S1', 'ARM_32_LPAE_S1']);
    // irptndx = ++counter % num_context_irqs: 1, 2, 3
    expect(banks.map((d) => rd(r, SMMU_BASE + GR1 + 4 * d.cfg.cbndx) >>> 24)).toEqual([1, 2, 3]);
  });
});
