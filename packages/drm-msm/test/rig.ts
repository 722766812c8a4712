/**
 * Boards and boot helpers for the msm tests. The device tree is the GPU subsystem of the
 * kernel's sdm845.dtsi (node names, compatibles, reg, interrupts, `iommus`, `qcom,gmu` as the
 * kernel's tree has them, trimmed of clocks, power domains, interconnects and OPP tables):
 * gpu@5000000 ("qcom,adreno-630.2", "qcom,adreno"), the Adreno SMMU at 0x5040000
 * ("qcom,sdm845-smmu-v2", "qcom,adreno-smmu", "qcom,smmu-v2") with the GPU at stream ID 0 and
 * the GMU at stream ID 5, and gmu@506a000 ("qcom,adreno-gmu-630.2", "qcom,adreno-gmu").
 */
import { AdrenoGmu, AdrenoGpu, Board, buildFdt, node, prop, ref, writeDtb, type DraftNode, type DraftProp } from '@gki/hw';
import ioPgtableArm from '@gki/format-arm-lpae';
import { ioPgtableCoreModule } from '@gki/io-pgtable-core';
import { Kernel, type KernelImage, type KernelModule } from '@gki/kernel';
import armSmmu from '@gki/smmu';
import msm, { msmDevices, type MsmDrmDevice } from '../src/index.js';
import { registerFakeAdreno, type FakeAdreno, type FakeAdrenoOptions, type FakeGmu } from './fake-adreno.js';

const GIC_SPI = 0;
const LEVEL_HIGH = 4;
const EDGE_RISING = 1;
export const RAM_BASE = 0x8000_0000;
export const GPU_NAME = '5000000.gpu';
export const SMMU_BASE = 0x0504_0000;

function spis(list: readonly number[], type = LEVEL_HIGH): number[] {
  return list.flatMap((n) => [GIC_SPI, n, type]);
}

function reg(...entries: (readonly [number, number])[]): DraftProp {
  return prop.reg(2, 2, ...entries);
}

export interface TreeOptions {
  /** The GPU's compatible list (default: sdm845's). */
  gpuCompat?: string[];
  /** Leave the `qcom,gmu` phandle out. */
  noGmu?: boolean;
  /** The GMU's compatible list (default: sdm845's). */
  gmuCompat?: string[];
  /**
   * A GMU wrapper in place of the GMU, as sm6115.dtsi and qcm2290.dtsi write it
   * (gmu@596a000, "qcom,adreno-gmu-wrapper", one "gmu" window, no interrupts, no iommus).
   */
  gmuWrapper?: boolean;
  /** The GMU wrapper's reg-names (default ["gmu"]). */
  gmuWrapperRegNames?: string[];
  /** The SMMU's compatible list (default: sdm845's Adreno SMMU). */
  smmuCompat?: string[];
  /** No GMU node at all (the a5xx trees: msm8996, msm8998, sdm630 have none). */
  noGmuNode?: boolean;
  /** The GMU node's status property (default: none, i.e. enabled). */
  gmuStatus?: string;
  ramSize?: number;
}

/** The trimmed sdm845 GPU subsystem as a DTB. */
export function sdm845GpuDtb(o: TreeOptions = {}): Uint8Array {
  const soc: DraftNode = node(
    'soc: soc@0',
    [
      prop.u32('#address-cells', 2),
      prop.u32('#size-cells', 2),
      prop.cells('ranges', 0, 0, 0, 0, 0x10, 0),
      prop.cells('dma-ranges', 0, 0, 0, 0, 0x10, 0),
      prop.string('compatible', 'simple-bus'),
    ],
    [
      node('gpu: gpu@5000000', [
        prop.strings('compatible', o.gpuCompat ?? ['qcom,adreno-630.2', 'qcom,adreno']),
        reg([0x0500_0000, 0x40000], [0x0509_e000, 0x10]),
        prop.strings('reg-names', ['kgsl_3d0_reg_memory', 'cx_mem']),
        prop.cells('interrupts', ...spis([300])),
        prop.cells('iommus', ref('adreno_smmu'), 0),
        ...(o.noGmu ? [] : [prop.u32('qcom,gmu', ref('gmu'))]),
      ]),
      node('adreno_smmu: iommu@5040000', [
        prop.strings('compatible', o.smmuCompat ?? ['qcom,sdm845-smmu-v2', 'qcom,adreno-smmu', 'qcom,smmu-v2']),
        reg([SMMU_BASE, 0x10000]),
        prop.u32('#iommu-cells', 1),
        prop.u32('#global-interrupts', 2),
        prop.cells('interrupts', ...spis([229, 231]), ...spis([364, 365, 366, 367, 368, 369, 370, 371], EDGE_RISING)),
      ]),
      ...(o.noGmuNode ? [] : [o.gmuWrapper
        ? node('gmu: gmu@596a000', [prop.strings('compatible', o.gmuCompat ?? ['qcom,adreno-gmu-wrapper']), reg([0x0596_a000, 0x30000]), prop.strings('reg-names', o.gmuWrapperRegNames ?? ['gmu'])])
        : node('gmu: gmu@506a000', [
            prop.strings('compatible', o.gmuCompat ?? ['qcom,adreno-gmu-630.2', 'qcom,adreno-gmu']),
            reg([0x0506_a000, 0x30000], [0x0b28_0000, 0x10000], [0x0b48_0000, 0x10000]),
            prop.strings('reg-names', ['gmu', 'gmu_pdc', 'gmu_pdc_seq']),
            prop.cells('interrupts', ...spis([304, 305])),
            prop.strings('interrupt-names', ['hfi', 'gmu']),
            prop.cells('iommus', ref('adreno_smmu'), 5),
            ...(o.gmuStatus !== undefined ? [prop.string('status', o.gmuStatus)] : []),
          ])]),
      node('intc: interrupt-controller@17a00000', [
        prop.string('compatible', 'arm,gic-v3'),
        prop.u32('#address-cells', 2),
        prop.u32('#size-cells', 2),
        prop.empty('ranges'),
        prop.u32('#interrupt-cells', 3),
        prop.empty('interrupt-controller'),
        reg([0x17a0_0000, 0x10000], [0x17a6_0000, 0x100000]),
      ]),
    ],
  );
  return writeDtb(
    buildFdt({
      root: node(
        '',
        [
          prop.string('model', 'Qualcomm SDM845 (GPU subset)'),
          prop.strings('compatible', ['qcom,sdm845']),
          prop.u32('interrupt-parent', ref('intc')),
          prop.u32('#address-cells', 2),
          prop.u32('#size-cells', 2),
        ],
        [node('chosen'), node(`memory@${RAM_BASE.toString(16)}`, [prop.string('device_type', 'memory'), reg([RAM_BASE, o.ramSize ?? 0x4000_0000])]), soc],
      ),
    }),
  );
}

export interface Rig {
  board: Board;
  k: Kernel;
  /** The msm device (undefined when msm did not bind). */
  drm: MsmDrmDevice;
  gpu: FakeAdreno;
  gmu: FakeGmu;
}

/** io-pgtable core built in; io-pgtable-arm, arm_smmu and msm as modules, msm loaded (its softdep brings io-pgtable-arm). */
export function defaultImage(extra: KernelModule[] = [], load: string[] = ['arm_smmu', 'msm']): KernelImage {
  return { builtin: [ioPgtableCoreModule], modules: [ioPgtableArm, armSmmu, msm, ...extra], load };
}

/** Boots `dtb` with the fake GPU and GMU on the board. */
export function bootFake(dtb: Uint8Array = sdm845GpuDtb(), image: KernelImage = defaultImage(), fakeOpts: FakeAdrenoOptions = {}): Rig {
  const fake = registerFakeAdreno(fakeOpts);
  let board: Board;
  try {
    board = Board.fromDtb(dtb);
  } finally {
    fake.restore();
  }
  const k = Kernel.boot(board, image);
  return { board, k, drm: msmDevices(k)[0]!, gpu: fake.gpus[0]!, gmu: fake.gmus[0]! };
}

/** Like bootFake, failing with the kernel log when msm did not bind. */
export function bootFakeOk(dtb?: Uint8Array, image?: KernelImage, fakeOpts?: FakeAdrenoOptions): Rig {
  const r = bootFake(dtb, image, fakeOpts);
  if (!r.drm) throw new Error(`msm did not bind:\n${r.k.log.dmesg()}`);
  return r;
}

export interface ModelRig {
  board: Board;
  k: Kernel;
  drm: MsmDrmDevice;
  /** The @gki/hw Adreno model and its GMU. */
  gpu: AdrenoGpu;
  gmu: AdrenoGmu;
}

/** Boots `dtb` on the board's own models (the Adreno a6xx model behind the SMMUv2 model). */
export function bootModel(dtb: Uint8Array = sdm845GpuDtb(), image: KernelImage = defaultImage()): ModelRig {
  const board = Board.fromDtb(dtb);
  const k = Kernel.boot(board, image);
  const gpu = board.modelsOfType(AdrenoGpu)[0];
  const gmu = board.modelsOfType(AdrenoGmu)[0];
  if (!gpu || !gmu) throw new Error('the board has no Adreno model');
  return { board, k, drm: msmDevices(k)[0]!, gpu, gmu };
}

/** Like bootModel, failing with the kernel log when msm did not bind. */
export function bootModelOk(dtb?: Uint8Array, image?: KernelImage): ModelRig {
  const r = bootModel(dtb, image);
  if (!r.drm) throw new Error(`msm did not bind:\n${r.k.log.dmesg()}`);
  return r;
}
