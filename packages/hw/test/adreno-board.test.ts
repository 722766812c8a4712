/**
 * The Adreno models instantiated from device trees: a trimmed SDM845 fragment with the nodes as
 * the kernel's sdm845.dtsi writes them (gpu@5000000 with `iommus = <&adreno_smmu 0>` and
 * `qcom,gmu`, gmu@506a000 with `iommus = <&adreno_smmu 5>`, adreno_smmu iommu@5040000), the
 * repository's real SDM845 MTP board, the chip ids Linux derives from compatibles, and the errors
 * for nodes that do not describe a usable GPU.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  Adreno3xxGpu,
  ADRENO_GMU_MODEL,
  ADRENO_GPU_MODEL,
  AdrenoGmu,
  AdrenoGpu,
  adrenoChipIdFromCompatible,
  adrenoGmuChipId,
  AdrenoRegisterWindow,
  Board,
  buildFdt,
  compileDtsFile,
  descriptorMatches,
  node,
  prop,
  ref,
  SmmuV2,
  writeDtb,
  type DraftProp,
} from '../src/index.js';
import { Pm4 } from './adreno-helpers.js';

const spi = (n: number, type = 4): number[] => [0, n, type];

function sdm845(opts: { gpuCompat?: string[]; gpuExtra?: DraftProp[]; gpuReg?: [number, number][]; gpuRegNames?: string[]; gmuReg?: [number, number][]; gmuRegNames?: string[] } = {}): Board {
  const tree = buildFdt({
    root: node('', [prop.u32('#address-cells', 2), prop.u32('#size-cells', 2), prop.u32('interrupt-parent', ref('intc')), prop.string('model', 'sdm845 adreno fragment')], [
      node('memory@80000000', [prop.string('device_type', 'memory'), prop.reg(2, 2, [0x8000_0000, 0x1000_0000])]),
      node('soc@0', [prop.u32('#address-cells', 2), prop.u32('#size-cells', 2), prop.empty('ranges'), prop.string('compatible', 'simple-bus')], [
        node('intc: interrupt-controller@17a00000', [prop.string('compatible', 'arm,gic-v3'), prop.u32('#interrupt-cells', 3), prop.empty('interrupt-controller'), prop.reg(2, 2, [0x17a0_0000, 0x1_0000])]),
        node('gpu@5000000', [
          prop.strings('compatible', opts.gpuCompat ?? ['qcom,adreno-630.2', 'qcom,adreno']),
          prop.reg(2, 2, ...(opts.gpuReg ?? [[0x0500_0000, 0x40000], [0x0509_e000, 0x10]])),
          prop.strings('reg-names', opts.gpuRegNames ?? ['kgsl_3d0_reg_memory', 'cx_mem']),
          prop.cells('interrupts', ...spi(300)),
          prop.cells('iommus', ref('adreno_smmu'), 0),
          prop.u32('qcom,gmu', ref('gmu')),
          ...(opts.gpuExtra ?? []),
        ]),
        node('adreno_smmu: iommu@5040000', [
          prop.strings('compatible', ['qcom,sdm845-smmu-v2', 'qcom,adreno-smmu', 'qcom,smmu-v2']),
          prop.reg(2, 2, [0x0504_0000, 0x1_0000]),
          prop.u32('#iommu-cells', 1),
          prop.u32('#global-interrupts', 2),
          prop.cells('interrupts', ...spi(229), ...spi(231), ...[364, 365, 366, 367, 368, 369, 370, 371].flatMap((n) => spi(n, 1))),
        ]),
        node('gmu: gmu@506a000', [
          prop.strings('compatible', ['qcom,adreno-gmu-630.2', 'qcom,adreno-gmu']),
          prop.reg(2, 2, ...(opts.gmuReg ?? [[0x0506_a000, 0x30000], [0x0b28_0000, 0x10000], [0x0b48_0000, 0x10000]])),
          prop.strings('reg-names', opts.gmuRegNames ?? ['gmu', 'gmu_pdc', 'gmu_pdc_seq']),
          prop.cells('interrupts', ...spi(304), ...spi(305)),
          prop.strings('interrupt-names', ['hfi', 'gmu']),
          prop.cells('iommus', ref('adreno_smmu'), 5),
        ]),
      ]),
    ]),
  });
  return Board.fromDtb(writeDtb(tree));
}

describe('Adreno models on a board', () => {
  it('instantiate from the SDM845 nodes and link to the Adreno SMMU and to each other', () => {
    const b = sdm845();
    const gpu = b.models.get('/soc@0/gpu@5000000');
    const gmu = b.models.get('/soc@0/gmu@506a000');
    const smmu = b.models.get('/soc@0/iommu@5040000');
    expect(gpu).toBeInstanceOf(AdrenoGpu);
    expect(gmu).toBeInstanceOf(AdrenoGmu);
    expect(smmu).toBeInstanceOf(SmmuV2);
    const g = gpu as AdrenoGpu;
    const m = gmu as AdrenoGmu;
    const s = smmu as SmmuV2;
    expect(g.chipId).toBe(0x06030002);
    expect(g.name).toBe('gpu@5000000');
    expect(g.translated).toBe(true);
    expect(g.smmuPort).toBe(s);
    expect(s.masterStreamIds(g)).toEqual([0]);
    expect(m.translated).toBe(true);
    expect(s.masterStreamIds(m)).toEqual([5]);
    expect(m.linkedGpu).toBe(g);
    expect(m.legacy).toBe(true);
    expect(g.windows.get('cx_mem')).toBeInstanceOf(AdrenoRegisterWindow);
    expect([...m.windows.keys()]).toEqual(['gmu_pdc', 'gmu_pdc_seq']);
    // The register blocks answer on the bus: RBBM_STATUS idle, the GMU's HFI status register.
    expect(b.bus.read32(0x0500_0000 + 0x210 * 4)).toBe(0);
    b.bus.write32(0x0509_e000, 0x1234);
    expect(b.bus.read32(0x0509_e000)).toBe(0x1234);
    b.bus.write32(0x0b28_0000 + 0x100, 7);
    expect(b.bus.read32(0x0b28_0000 + 0x100)).toBe(7);
  });

  it('runs a ring on the board, translated by the Adreno SMMU once software enables it', () => {
    const b = sdm845();
    const base = 0x0500_0000;
    const w = (reg: number, v: number) => b.bus.write32(base + reg * 4, v);
    // SMMU left in reset (sCR0.CLIENTPD): the GPU's addresses pass through untranslated.
    const ring = 0x8010_0000;
    const out = 0x8020_0000;
    const s = new Pm4().memWrite(out, 0xfeed).words;
    s.forEach((v, i) => b.mem.write32(ring + 4 * i, v));
    w(0x800, ring);
    w(0x801, 0);
    w(0x802, 12);
    w(0x802, 12 | (1 << 27));
    w(0x808, 1);
    w(0x807, s.length);
    expect(b.mem.read32(out)).toBe(0xfeed);
    expect((b.models.get('/soc@0/iommu@5040000') as SmmuV2).stats.bypassed).toBeGreaterThan(0);
    // The GPU's interrupt is GIC SPI 300 (line 332).
    let fired = 0;
    b.irq.onIrq(332, () => fired++);
    w(0x38, 1 << 20);
    const f = new Pm4().fence(out + 8, 3).words;
    f.forEach((v, i) => b.mem.write32(ring + 4 * (s.length + i), v));
    w(0x807, s.length + f.length);
    expect(fired).toBe(1);
    expect(b.mem.read32(out + 8)).toBe(3);
  });

  it('boots the repository SDM845 MTP board (the kernel tree, trimmed) with both models', () => {
    const here = dirname(fileURLToPath(import.meta.url));
    const { dtb } = compileDtsFile(join(here, '../../../boards/qcom/sdm845-mtp.dts'));
    const b = Board.fromDtb(dtb);
    const gpus = b.modelsOfType(AdrenoGpu);
    const gmus = b.modelsOfType(AdrenoGmu);
    expect(gpus).toHaveLength(1);
    expect(gmus).toHaveLength(1);
    expect(gpus[0]!.chipId).toBe(0x06030002);
    expect(gpus[0]!.translated).toBe(true);
    expect(gpus[0]!.smmuPort).toBeInstanceOf(SmmuV2);
    expect(gmus[0]!.linkedGpu).toBe(gpus[0]);
    expect(gmus[0]!.translated).toBe(true);
  });

  it('instantiate an Adreno 650 as sm8250.dtsi describes it (rscc and cx_dbgc regions, 2-cell iommus)', () => {
    const tree = buildFdt({
      root: node('', [prop.u32('#address-cells', 2), prop.u32('#size-cells', 2), prop.u32('interrupt-parent', ref('intc'))], [
        node('memory@80000000', [prop.string('device_type', 'memory'), prop.reg(2, 2, [0x8000_0000, 0x1000_0000])]),
        node('soc@0', [prop.u32('#address-cells', 2), prop.u32('#size-cells', 2), prop.empty('ranges'), prop.string('compatible', 'simple-bus')], [
          node('intc: interrupt-controller@17a00000', [prop.string('compatible', 'arm,gic-v3'), prop.u32('#interrupt-cells', 3), prop.empty('interrupt-controller'), prop.reg(2, 2, [0x17a0_0000, 0x1_0000])]),
          node('gpu@3d00000', [
            prop.strings('compatible', ['qcom,adreno-650.2', 'qcom,adreno']),
            prop.reg(2, 2, [0x03d0_0000, 0x40000], [0x03d9_e000, 0x1000], [0x03d6_1000, 0x800]),
            prop.strings('reg-names', ['kgsl_3d0_reg_memory', 'cx_mem', 'cx_dbgc']),
            prop.cells('interrupts', ...spi(300)),
            prop.cells('iommus', ref('adreno_smmu'), 0, 0x401),
            prop.u32('qcom,gmu', ref('gmu')),
          ]),
          node('gmu: gmu@3d6a000', [
            prop.strings('compatible', ['qcom,adreno-gmu-650.2', 'qcom,adreno-gmu']),
            prop.reg(2, 2, [0x03d6_a000, 0x30000], [0x03de_0000, 0x10000], [0x0b29_0000, 0x10000], [0x0b49_0000, 0x10000]),
            prop.strings('reg-names', ['gmu', 'rscc', 'gmu_pdc', 'gmu_pdc_seq']),
            prop.cells('interrupts', ...spi(304), ...spi(305)),
            prop.strings('interrupt-names', ['hfi', 'gmu']),
            prop.cells('iommus', ref('adreno_smmu'), 5, 0x400),
          ]),
          node('adreno_smmu: iommu@3da0000', [
            prop.strings('compatible', ['qcom,sm8250-smmu-500', 'qcom,adreno-smmu', 'arm,mmu-500']),
            prop.reg(2, 2, [0x03da_0000, 0x1_0000]),
            prop.u32('#iommu-cells', 2),
            prop.u32('#global-interrupts', 2),
            prop.cells('interrupts', ...spi(672), ...spi(673), ...[678, 679, 680, 681, 682, 683, 684, 685].flatMap((n) => spi(n))),
          ]),
        ]),
      ]),
    });
    const b = Board.fromDtb(writeDtb(tree));
    const g = b.modelsOfType(AdrenoGpu)[0]!;
    const m = b.modelsOfType(AdrenoGmu)[0]!;
    const s = b.modelsOfType(SmmuV2)[0]!;
    expect(g.chipId).toBe(0x06050002);
    expect(s.masterStreamIds(g)).toEqual([0]);
    expect(s.masterStreamIds(m)).toEqual([5]);
    expect(g.smmuPort).toBe(s);
    expect([...g.windows.keys()]).toEqual(['cx_mem', 'cx_dbgc']);
    expect([...m.windows.keys()]).toEqual(['rscc', 'gmu_pdc', 'gmu_pdc_seq']);
    expect(m.legacy).toBe(false);
    // The RSCC answers in its own region: SEQ_BUSY_DRV0 (word 0x101) reads 0, TCS0 status idle.
    b.bus.write32(0x03de_0000 + 0x101 * 4, 5);
    expect(b.bus.read32(0x03de_0000 + 0x101 * 4)).toBe(0);
    expect(b.bus.read32(0x03de_0000 + 0x346 * 4) & 1).toBe(1);
  });

  it("let the GPU's cx_mem window give way to a GMU whose registers cover it (sm8450.dtsi and later)", () => {
    const tree = buildFdt({
      root: node('', [prop.u32('#address-cells', 2), prop.u32('#size-cells', 2), prop.u32('interrupt-parent', ref('intc'))], [
        node('memory@80000000', [prop.string('device_type', 'memory'), prop.reg(2, 2, [0x8000_0000, 0x1000_0000])]),
        node('intc: interrupt-controller@17100000', [prop.string('compatible', 'arm,gic-v3'), prop.u32('#interrupt-cells', 3), prop.empty('interrupt-controller'), prop.reg(2, 2, [0x1710_0000, 0x1_0000])]),
        node('gpu@3d00000', [
          prop.strings('compatible', ['qcom,adreno-730.1', 'qcom,adreno']),
          prop.reg(2, 2, [0x03d0_0000, 0x40000], [0x03d9_e000, 0x1000], [0x03d6_1000, 0x800]),
          prop.strings('reg-names', ['kgsl_3d0_reg_memory', 'cx_mem', 'cx_dbgc']),
          prop.cells('interrupts', ...spi(300)),
          prop.u32('qcom,gmu', ref('gmu')),
        ]),
        node('gmu: gmu@3d6a000', [
          prop.strings('compatible', ['qcom,adreno-gmu-730.1', 'qcom,adreno-gmu']),
          prop.reg(2, 2, [0x03d6_a000, 0x35000], [0x03d5_0000, 0x10000], [0x0b29_0000, 0x10000]),
          prop.strings('reg-names', ['gmu', 'rscc', 'gmu_pdc']),
          prop.cells('interrupts', ...spi(304), ...spi(305)),
          prop.strings('interrupt-names', ['hfi', 'gmu']),
        ]),
      ]),
    });
    const b = Board.fromDtb(writeDtb(tree));
    const g = b.modelsOfType(AdrenoGpu)[0]!;
    const m = b.modelsOfType(AdrenoGmu)[0]!;
    expect([...g.windows.keys()]).toEqual(['cx_dbgc']);
    expect(b.bus.find(0x03d9_e000)?.device).toBe(m);
    expect(b.notes.map((n) => n.message)).toContain('/gmu@3d6a000: "gpu@3d00000-cx_mem" (0x3d9e000+0x1000) lies inside this node\'s registers; it is decoded here');
  });

  it('derive the chip id as Linux does, and claim only GPU and GMU compatibles', () => {
    expect(adrenoChipIdFromCompatible('qcom,adreno-630.2')).toBe(0x06030002);
    expect(adrenoChipIdFromCompatible('qcom,adreno-618.0')).toBe(0x06010800);
    expect(adrenoChipIdFromCompatible('qcom,adreno-690.0')).toBe(0x06090000);
    expect(adrenoChipIdFromCompatible('qcom,adreno-730.1')).toBe(0x07030001);
    expect(adrenoChipIdFromCompatible('qcom,adreno-43050a01')).toBe(0x43050a01);
    expect(adrenoChipIdFromCompatible('qcom,adreno')).toBeUndefined();
    expect(adrenoGmuChipId(0x06030002)).toBe(0x06030200);
    for (const c of ['qcom,adreno-630.2', 'qcom,adreno-640.1', 'qcom,adreno-730.1', 'qcom,adreno-43050a01', 'qcom,adreno'])
      expect(descriptorMatches(ADRENO_GPU_MODEL, c), c).toBe(true);
    // a5xx parts are claimed too (Adreno5xxGpu), and a3xx/a4xx (Adreno3xxGpu); a2xx is not
    for (const c of ['qcom,adreno-530.2', 'qcom,adreno-306.0', 'qcom,adreno-405.0', 'qcom,adreno-430.0'])
      expect(descriptorMatches(ADRENO_GPU_MODEL, c), c).toBe(true);
    for (const c of ['qcom,adreno-gmu-630.2', 'qcom,adreno-smmu', 'qcom,adreno-220.0', 'qcom,adreno-gmu-wrapper', 'amd,imageon-200.0'])
      expect(descriptorMatches(ADRENO_GPU_MODEL, c), c).toBe(false);
    // the GMU wrapper of sm6115/qcm2290 is a GMU register block too (AdrenoGmuWrapper)
    for (const c of ['qcom,adreno-gmu-630.2', 'qcom,adreno-gmu-640.1', 'qcom,adreno-gmu', 'qcom,adreno-gmu-wrapper'])
      expect(descriptorMatches(ADRENO_GMU_MODEL, c), c).toBe(true);
    for (const c of ['qcom,adreno-gmu-wrapper-2', 'qcom,adreno-630.2', 'qcom,adreno-smmu'])
      expect(descriptorMatches(ADRENO_GMU_MODEL, c), c).toBe(false);
    // The generic compatible alone takes the chip id from qcom,chipid, as Linux's legacy binding.
    const b = sdm845({ gpuCompat: ['qcom,adreno'], gpuExtra: [prop.u32('qcom,chipid', 0x06030001)] });
    expect(b.modelsOfType(AdrenoGpu)[0]!.chipId).toBe(0x06030001);
    const c = sdm845({ gpuCompat: ['qcom,adreno-640.1', 'qcom,adreno'] });
    expect(c.modelsOfType(AdrenoGpu)[0]!.name).toBe('gpu@5000000');
    expect(c.modelsOfType(AdrenoGpu)[0]!.chipId).toBe(0x06040001);
  });

  it('model an a3xx that lists the generic compatible, and leave an a2xx unmodelled, with a note', () => {
    // msm8974's a330 lists the generic compatible after its own: the a3xx personality
    const a330 = sdm845({ gpuCompat: ['qcom,adreno-330.2', 'qcom,adreno'] });
    expect(a330.modelsOfType(Adreno3xxGpu).map((g) => [g.chipId, g.generation])).toEqual([[0x03030002, 3]]);
    // an a2xx (its own MMU and register map) is not this model
    const b = sdm845({ gpuCompat: ['qcom,adreno-220.0', 'qcom,adreno'] });
    expect(b.modelsOfType(AdrenoGpu)).toHaveLength(0);
    expect(b.notes.some((n) => n.source === 'adreno' && n.message.includes('0x2020000') && n.message.includes('not an a3xx/a4xx/a5xx/a6xx/a7xx part'))).toBe(true);
    // The GMU of the tree is still there (it names a 630 GPU).
    expect(b.modelsOfType(AdrenoGmu)).toHaveLength(1);
  });

  it('leave an a8xx (sm8750, kaanapali, glymur: hex ids with core byte 0x44) unmodelled, with a note', () => {
    // kaanapali's a840 as its tree names it; the a8xx register map is not the a6xx/a7xx one
    const b = sdm845({ gpuCompat: ['qcom,adreno-44050a01', 'qcom,adreno'] });
    expect(b.modelsOfType(AdrenoGpu)).toHaveLength(0);
    expect(b.notes.some((n) => n.source === 'adreno' && n.message.includes('0x44050a01') && n.message.includes('not an a3xx/a4xx/a5xx/a6xx/a7xx part'))).toBe(true);
  });

  it('leave a GPU whose chip id the tree does not give unmodelled, with a warning note (Linux boots; only msm fails to identify it)', () => {
    const b = sdm845({ gpuCompat: ['qcom,adreno'] });
    expect(b.modelsOfType(AdrenoGpu)).toHaveLength(0);
    expect(b.notes.some((n) => n.source === 'adreno' && n.level === 'warn' && /no chip id .*compatible: qcom,adreno\); no GPU model$/.test(n.message))).toBe(true);
  });

  it('reject nodes that do not describe a usable GPU or GMU', () => {
    expect(() => sdm845({ gpuReg: [[0x0500_0000, 0x1000]], gpuRegNames: ['kgsl_3d0_reg_memory'] })).toThrow(/register window 0x1000 is below/);
    expect(() => sdm845({ gpuRegNames: ['kgsl_3d0_reg_memory'] })).toThrow(/reg-names lists 1 names for 2 reg entries/);
    expect(() => sdm845({ gpuExtra: [prop.string('gki,cp-execution', 'later')] })).toThrow(/gki,cp-execution/);
    expect(() => sdm845({ gmuReg: [[0x0506_a000, 0x10000]], gmuRegNames: ['gmu'] })).toThrow(/register window 0x10000 is below/);
  });

  it('honour the gki overrides (manual CP execution, chip id)', () => {
    const b = sdm845({ gpuExtra: [prop.string('gki,cp-execution', 'manual'), prop.u32('gki,chip-id', 0x06030001)] });
    const g = b.modelsOfType(AdrenoGpu)[0]!;
    expect(g.execution).toBe('manual');
    expect(g.chipId).toBe(0x06030001);
  });
});
