/**
 * What the driver learns at probe, checked against Linux's arm-smmu-v3 behaviour: the IIDR
 * errata (arm_smmu_device_iidr_probe), smmu->ias, the stage-1 input/output sizes of
 * arm_smmu_domain_finalise, and a reset sequence that never writes a guarded register while its
 * enable is set (the model records such writes).
 */
import { describe, expect, it } from 'vitest';
import { iommuDomainAlloc } from '@gki/kernel';
import { IDR0_S1P, IDR0_S2P, IDR0_SEV, IDR0_TTF_AARCH64, applyIidrErrata, decodeIdRegs, type ArmSmmuV3Features } from '../src/index.js';
import { SMMU_NAME, boot } from './helpers.js';

const IDR1 = (19 << 21) | (19 << 16) | 16;
const IDR5_4K_OAS44 = (1 << 4) | 4;

function features(idr0: number, idr5 = IDR5_4K_OAS44): ArmSmmuV3Features {
  const f = decodeIdRegs([idr0, IDR1, 0, 0, 0, idr5]);
  if (typeof f === 'string') throw new Error(f);
  return f;
}
const both = IDR0_S1P | IDR0_S2P | IDR0_TTF_AARCH64 | IDR0_SEV | (1 << 5); // + BTM
const iidr = (implementer: number, product: number, variant: number, revision: number) =>
  (implementer | (revision << 12) | (variant << 16) | (product << 20)) >>> 0;

describe('IIDR errata, as arm_smmu_device_iidr_probe', () => {
  const f = features(both);
  it('keeps everything for other implementers and products', () => {
    expect(f).toMatchObject({ sev: true, btm: true, nesting: true, cmdqForceSync: false });
    expect(applyIidrErrata(f, iidr(0x42, 0x483, 0, 0))).toEqual(f);
    expect(applyIidrErrata(f, iidr(0x43b, 0x481, 0, 0))).toEqual(f);
  });
  it('MMU-600 r0p0..r0p2: no SEV (erratum 1076982); before r2: no nesting (1209401)', () => {
    expect(applyIidrErrata(f, iidr(0x43b, 0x483, 0, 2))).toMatchObject({ sev: false, nesting: false, btm: true });
    expect(applyIidrErrata(f, iidr(0x43b, 0x483, 0, 3))).toMatchObject({ sev: true, nesting: false });
    expect(applyIidrErrata(f, iidr(0x43b, 0x483, 1, 0))).toMatchObject({ sev: true, nesting: false });
    expect(applyIidrErrata(f, iidr(0x43b, 0x483, 2, 0))).toMatchObject({ sev: true, nesting: true });
  });
  it('MMU-700: no BTM, forced syncs (2812531), no nesting (2268618, 2812531)', () => {
    expect(applyIidrErrata(f, iidr(0x43b, 0x487, 3, 1))).toMatchObject({ sev: true, btm: false, cmdqForceSync: true, nesting: false });
  });
  it('the live driver applies them: the FVP preset says MMU-600 r0p0, so SEV is dropped', () => {
    const r = boot({ preset: 'fvp' });
    expect(r.model.read32(0x18)).toBe(0x4830_043b);
    expect(r.smmu.features).toMatchObject({ sev: false, nesting: false });
  });
});

describe('input and output sizes, as arm_smmu_device_hw_probe and arm_smmu_domain_finalise', () => {
  it('smmu->ias is max(40 with AArch32 tables, OAS)', () => {
    expect(features(both).ias).toBe(44);
    expect(features(both | (1 << 2)).ias).toBe(44); // TTF = both: 40, but the OAS is larger
    expect(features(both | (1 << 2), (1 << 4) | 1).ias).toBe(40); // OAS 36 < 40
    expect(features(both, (1 << 4) | 1).ias).toBe(36);
  });
  it('stage 1 takes min(VAX ? 52 : 48, VA_BITS = 48) in and smmu->ias out, whatever the OAS', () => {
    const r = boot({ preset: 'minimal' }); // OAS 40
    const d = iommuDomainAlloc(r.masters[0]!);
    if (typeof d === 'number') throw new Error(`domain: ${d}`);
    expect(d.ops.attachDev(d, r.masters[0]!)).toBe(0);
    expect(d.geometry.apertureEnd).toBe(2 ** 48 - 1);
    expect(r.model.programmingViolations).toEqual([]);
  });
});

describe('interrupt lines, as arm_smmu_device_probe (platform_get_irq_byname_optional)', () => {
  it('named lines that do not resolve only warn: no error is logged and the SMMU still binds', () => {
    const r = boot({ interrupts: false });
    const msgs = r.k.log.all().filter((x) => x.who.includes(SMMU_NAME));
    expect(msgs.filter((x) => x.level === 'err')).toEqual([]);
    expect(msgs.filter((x) => x.level === 'warn').map((x) => x.msg)).toEqual([
      'no evtq irq - events will not be reported!',
      'no gerr irq - errors will not be reported!',
    ]);
    expect(r.masters.every((m) => m.driver !== undefined)).toBe(true);
  });
});
