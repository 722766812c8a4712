import { describe, expect, it } from 'vitest';
import { SmmuV2, buildFdt, node, prop } from '@gki/hw';
import { OfTree, iommuGetDomainForDev } from '@gki/kernel';
import { asArmSmmuDomain } from '@gki/smmu';
import msm, {
  ADRENO_GPULIST,
  A6XX_CP_RB_BASE,
  MSM_ALIASES,
  adrenoInfo,
  chipIdString,
  findChipId,
  msmDevices,
  pkt4,
  pkt7,
  pm4Parity,
} from '../src/index.js';
import { bootFake, bootModelOk, defaultImage, GPU_NAME, sdm845GpuDtb, SMMU_BASE } from './rig.js';

/** A single node with the given properties, as an OfNode. */
function ofNode(props: Parameters<typeof node>[1]) {
  const tree = new OfTree(buildFdt({ root: node('', [], [node('gpu@0', props)]), bootCpuid: 0, reservations: [] }));
  return tree.root.children[0]!;
}

describe('module msm', () => {
  it('is module "msm" (GPL) with the seed series\' soft dependency and adreno_device.c\'s OF aliases', () => {
    expect(msm.name).toBe('msm');
    expect(msm.license).toBe('GPL');
    expect(msm.softdep).toEqual({ pre: ['io-pgtable-arm'] });
    expect(MSM_ALIASES).toEqual([
      'of:N*T*Cqcom,adreno',
      'of:N*T*Cqcom,adrenoC*',
      'of:N*T*Cqcom,adreno-3xx',
      'of:N*T*Cqcom,adreno-3xxC*',
      'of:N*T*Camd,imageon',
      'of:N*T*Camd,imageonC*',
      'of:N*T*Cqcom,kgsl-3d0',
      'of:N*T*Cqcom,kgsl-3d0C*',
    ]);
    expect(msm.aliases).toEqual(MSM_ALIASES);
  });

  it('loads io-pgtable-arm first through its soft dependency', () => {
    const r = bootModelOk();
    const order = r.k.log.grep('module loaded').map((l) => l.who);
    expect(order.indexOf('io-pgtable-arm')).toBeLessThan(order.indexOf('msm'));
  });
});

describe('chip ids (adreno_device.c find_chipid)', () => {
  it('parses the first compatible "qcom,adreno-XYZ.W" as core X, major Y, minor Z, patch W', () => {
    const warn: string[] = [];
    const id = (compat: string[], extra: Parameters<typeof node>[1] = []) => findChipId(ofNode([prop.strings('compatible', compat), ...extra]), (m) => warn.push(m));
    expect(id(['qcom,adreno-630.2', 'qcom,adreno'])).toBe(0x0603_0002);
    expect(id(['qcom,adreno-618.0', 'qcom,adreno'])).toBe(0x0601_0800);
    expect(id(['amd,imageon-200.1', 'qcom,adreno'])).toBe(0x0200_0001);
    // only the first string counts
    expect(id(['qcom,adreno', 'qcom,adreno-630.2'])).toBe(-22);
    expect(warn).toEqual([]);
    // the legacy qcom,chipid property, with the kernel's warning
    expect(id(['qcom,adreno'], [prop.u32('qcom,chipid', 0x0603_0001)])).toBe(0x0603_0001);
    expect(warn).toEqual(['/gpu@0: Using legacy qcom,chipid binding!']);
    expect(chipIdString(0x0603_0002)).toBe('6.3.0.2');
  });

  it('knows the a6xx gpulist entries it models, with the a630 of sdm845', () => {
    expect(adrenoInfo(0x0603_0002)).toMatchObject({ revn: 630, gmem: 0x10_0000, fw: { sqe: 'a630_sqe.fw', gmu: 'a630_gmu.bin' } });
    expect(adrenoInfo(0x0603_0001)?.revn).toBe(630);
    expect(adrenoInfo(0x0603_0005)).toBeUndefined();
    expect(new Set(ADRENO_GPULIST.flatMap((g) => g.chipIds)).size).toBe(ADRENO_GPULIST.flatMap((g) => g.chipIds).length);
  });
});

describe('PM4 packet headers', () => {
  it('carry odd parity over the count and the opcode (type 7) or the count and register (type 4)', () => {
    expect(pm4Parity(0)).toBe(1);
    expect(pm4Parity(1)).toBe(0);
    expect(pm4Parity(3)).toBe(1);
    // CP_SMMU_TABLE_UPDATE with 4 payload words, CP_EVENT_WRITE with 1, as the kernel emits them
    expect(pkt7(0x53, 4).toString(16)).toBe('70d30004');
    expect(pkt7(0x46, 1).toString(16)).toBe('70460001');
    // CP_SCRATCH_REG(2) = 0x885 with one value
    expect(pkt4(0x885, 1).toString(16)).toBe('48088501');
  });
});

describe('probe on the sdm845 GPU subtree', () => {
  it('brings the GMU up, programs the CP and registers the DRM device', () => {
    const r = bootModelOk();
    expect(r.drm.dev.name).toBe(GPU_NAME);
    expect(r.drm.renderNode).toBe('renderD128');
    expect(r.gmu.firmwareRunning).toBe(true);
    expect(r.gmu.hfiStarted).toBe(true);
    expect(r.gmu.counts.oobAcks).toBeGreaterThanOrEqual(2);
    // the CP fetches the ring from the TTBR1 half of the GPU's address space
    const ring = r.drm.gpu.rings[0]!;
    expect(r.gpu.cp.rbBase).toBe(ring.iova);
    expect(ring.iova).toBeGreaterThanOrEqual(2 ** 48);
    expect(r.drm.gpu.read(A6XX_CP_RB_BASE)).toBe(ring.iova % 2 ** 32);
    expect(r.gpu.cp.state).toBe('idle');
    // the GPU's own paging domain is context bank 0 with stall-on-fault and HUPCF
    const d = asArmSmmuDomain(iommuGetDomainForDev(r.drm.dev))!;
    expect(d.cfg.cbndx).toBe(0);
    const sctlr = r.board.bus.read32(SMMU_BASE + r.board.modelsOfType(SmmuV2)[0]!.contextBankOffset(0)) >>> 0;
    expect(sctlr & (1 << 7)).toBe(1 << 7); // CFCFG
    expect(sctlr & (1 << 8)).toBe(1 << 8); // HUPCF
  });

  it('holds the GMU\'s GPU_SET request only around GPU register programming', () => {
    const r = bootFake();
    expect(r.drm).toBeDefined();
    // boot/slumber (22) at GMU start, GPU_SET (16) around hw_init; both withdrawn after
    expect(r.gmu.requests).toEqual([22, 16]);
    expect([...r.gmu.held]).toEqual([]);
  });

  it('talks to an a640-or-later GMU with the new out-of-band bits and no boot request (a650 of sm8250)', () => {
    const r = bootModelOk(sdm845GpuDtb({ gpuCompat: ['qcom,adreno-650.2', 'qcom,adreno'], gmuCompat: ['qcom,adreno-gmu-650.2', 'qcom,adreno-gmu'] }));
    expect(r.gmu.legacy).toBe(false);
    expect(r.drm.gpu.gmu!.legacy).toBe(false);
    // a6xx_gmu_fw_start asks for BOOT_SLUMBER only on the a630 family; GPU_SET goes out as bit 30, acked on 31
    expect(r.drm.gpu.gmu!.stats.oobSet).toEqual({ GPU_SET: expect.any(Number) });
    expect(r.drm.gpu.gmu!.stats.oobTimeouts).toBe(0);
    expect(r.gmu.counts.oobAcks).toBe(r.drm.gpu.gmu!.stats.oobSet.GPU_SET);
    expect(r.k.log.grep(/Initialized msm .* for 5000000.gpu/)).toHaveLength(1);
    // the a630 keeps the legacy bits and the boot request
    const legacy = bootModelOk();
    expect(legacy.drm.gpu.gmu!.legacy).toBe(true);
    expect(legacy.drm.gpu.gmu!.stats.oobSet).toMatchObject({ BOOT_SLUMBER: 1 });
  });

  it('gives up with the kernel\'s message when the GMU does not answer, keeping nothing', () => {
    const rig = bootFake(sdm845GpuDtb(), defaultImage([], ['arm_smmu']));
    const k = rig.k;
    const before = k.pages.stats().pagesInUse;
    rig.gmu.deaf = true;
    expect(k.modules.modprobe('msm')).toBe(0);
    expect(msmDevices(k)).toEqual([]);
    expect(k.log.grep('[drm:a6xx_gmu_set_oob] *ERROR* Timeout waiting for GMU OOB set BOOT_SLUMBER: 0x0')).toHaveLength(1);
    expect(k.drivers.findDevice(GPU_NAME)!.state).toBe('failed');
    expect(k.pages.stats().pagesInUse).toBe(before);
    expect(k.modules.unload('msm')).toBe(0);
  });

  it('refuses an unknown GPU revision with -ENXIO', () => {
    // a revision no catalog lists (between the a690 and the a702)
    const r = bootFake(sdm845GpuDtb({ gpuCompat: ['qcom,adreno-699.0', 'qcom,adreno'] }));
    expect(r.drm).toBeUndefined();
    expect(r.k.log.grep('adreno 5000000.gpu: Unknown GPU revision: 6.9.9.0')).toHaveLength(1);
    expect(r.k.drivers.findDevice(GPU_NAME)!.state).toBe('unbound');
    // ids Linux v6.12 has no entry for: a5xx patch levels its a5xx list does not name (it has
    // 5.3.0.2 and 5.3.0.4 for the a530, 5.4.0.1 for the a540; the match is exact), written
    // dotted, or in hex (an a7xx id between the a730 and the a740; a8xx ids get a line of
    // their own, see below)
    for (const [compat, rev] of [['qcom,adreno-530.1', '5.3.0.1'], ['qcom,adreno-540.0', '5.4.0.0'], ['qcom,adreno-07040001', '7.4.0.1']] as const) {
      const h = bootFake(sdm845GpuDtb({ gpuCompat: [compat, 'qcom,adreno'] }));
      expect(h.drm).toBeUndefined();
      expect(h.k.log.grep(`adreno 5000000.gpu: Unknown GPU revision: ${rev}`), compat).toHaveLength(1);
      expect(h.k.log.grep(/could not parse/)).toEqual([]);
    }
  });

  it('names the a2xx family Linux drives but this msm does not, instead of calling it unknown', () => {
    // an a2xx (imx5's Adreno 200, 2.0.0.0, as i.MX trees name it, and an a220), which Linux
    // v6.12 lists in its a2xx gpulist. (The a3xx and a4xx families, the DragonBoard 410c's
    // Adreno 306 and the MSM8939's Adreno 405, bind: a3xx.test.ts.)
    for (const [compat, line] of [
      ['amd,imageon-200.0', 'Adreno 2xx GPU (revision 2.0.0.0)'],
      ['qcom,adreno-220.0', 'Adreno 2xx GPU (revision 2.2.0.0)'],
    ] as const) {
      const h = bootFake(sdm845GpuDtb({ gpuCompat: [compat, 'qcom,adreno'] }));
      expect(h.drm).toBeUndefined();
      expect(h.k.log.grep(`adreno 5000000.gpu: ${line}: Linux's msm drives this family, this model of it does not (a3xx to a7xx only)`), compat).toHaveLength(1);
      expect(h.k.log.grep(/Unknown GPU revision/)).toEqual([]);
      expect(h.k.drivers.findDevice(GPU_NAME)!.state).toBe('unbound');
    }
  });

  it('names the a8xx family and the RGMU-driven a612 of newer trees instead of calling them unknown', () => {
    // the GPU compatibles of kaanapali's a840 and sm8750's a830 (a8xx: hex ids with core byte
    // 0x44, a8xx_gpu in the kernels that carry them) and of qcs615/talos's a612 (an RGMU part)
    for (const [compat, line] of [
      ['qcom,adreno-44050a01', "Adreno 8xx GPU (revision 68.5.10.1): Linux's msm drives this family (a8xx_gpu), this model of it does not (a3xx to a7xx only)"],
      ['qcom,adreno-612.0', "Adreno 612 GPU (revision 6.1.2.0): Linux's msm drives it through its RGMU (qcom,adreno-rgmu), which this model does not have"],
    ] as const) {
      const h = bootFake(sdm845GpuDtb({ gpuCompat: [compat, 'qcom,adreno'] }));
      expect(h.drm).toBeUndefined();
      expect(h.k.log.grep(`adreno 5000000.gpu: ${line}`), compat).toHaveLength(1);
      expect(h.k.log.grep(/Unknown GPU revision/)).toEqual([]);
      expect(h.k.drivers.findDevice(GPU_NAME)!.state).toBe('unbound');
    }
  });

  it('needs the GMU named by qcom,gmu', () => {
    const r = bootFake(sdm845GpuDtb({ noGmu: true }));
    expect(r.drm).toBeUndefined();
    expect(r.k.log.grep('no GMU node (qcom,gmu)')).toHaveLength(1);
  });
});
