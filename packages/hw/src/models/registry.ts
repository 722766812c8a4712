/**
 * The device models a board instantiates by default, by `compatible`. Each model contributes
 * one `ModelDescriptor`; nothing registers itself when its module is evaluated, so importing a
 * model has no side effect. `Board.registerModel` adds or overrides entries per process, and
 * `BoardFromDtbOptions.models` lets a caller choose the table for one board.
 */
import type { ModelFactory } from '../board.js';
import { createAdrenoGmuModel, createAdrenoGpuModel } from './adreno/factory.js';
import { ADRENO_GMU_COMPATIBLES, ADRENO_GPU_COMPATIBLES, isAdrenoGmuCompatible, isAdrenoGpuCompatible } from './adreno/presets.js';
import { createDmaMasterModel } from './dma-master.js';
import { createPciEcamModel } from './pci-ecam/factory.js';
import { createMaliModel } from './mali/factory.js';
import { MALI_COMPATIBLES } from './mali/presets.js';
import { createSmmuV2Model, isSmmuV2Compatible, SMMUV2_COMPATIBLES } from './smmu-v2/factory.js';
import { createSmmuV3Model } from './smmu-v3/factory.js';
import { createQcomIommuModel, QCOM_IOMMU_COMPATIBLES } from './qcom-iommu/factory.js';
import { createQcomTrustZoneModel, QCOM_TZ_COMPATIBLES } from './qcom-tz/factory.js';

/** A device model and the compatible strings it is instantiated for. */
export interface ModelDescriptor {
  /** Short name of the model, for listings ('smmu-v3', 'dma-master'). */
  readonly name: string;
  readonly compatibles: readonly string[];
  /**
   * Optional: also claims compatibles that follow a pattern (SoC-specific names such as
   * `qcom,sdm845-smmu-500`), checked after the exact list.
   */
  readonly matches?: (compatible: string) => boolean;
  readonly factory: ModelFactory;
}

/** True when descriptor `d` claims `compatible`. */
export function descriptorMatches(d: ModelDescriptor, compatible: string): boolean {
  return d.compatibles.includes(compatible) || (d.matches?.(compatible) ?? false);
}

export const DMA_MASTER_MODEL: ModelDescriptor = { name: 'dma-master', compatibles: ['gki,dma-master'], factory: createDmaMasterModel };
export const SMMU_V3_MODEL: ModelDescriptor = { name: 'smmu-v3', compatibles: ['arm,smmu-v3'], factory: createSmmuV3Model };
export const SMMU_V2_MODEL: ModelDescriptor = {
  name: 'smmu-v2',
  compatibles: SMMUV2_COMPATIBLES,
  matches: isSmmuV2Compatible,
  factory: createSmmuV2Model,
};

/** Arm Mali Midgard / Bifrost / Valhall-JM GPU: the generic `arm,mali-*` and the SoC compatibles. */
export const MALI_MODEL: ModelDescriptor = { name: 'mali', compatibles: MALI_COMPATIBLES, factory: createMaliModel };

/** Qualcomm Adreno a5xx/a6xx/a7xx GPU (`qcom,adreno-5xx.y`, `qcom,adreno-6xx.y`, `qcom,adreno-7xx.y`, chip-id compatibles, `qcom,adreno`). */
export const ADRENO_GPU_MODEL: ModelDescriptor = {
  name: 'adreno',
  compatibles: ADRENO_GPU_COMPATIBLES,
  matches: isAdrenoGpuCompatible,
  factory: createAdrenoGpuModel,
};

/** The Adreno a6xx GMU (`qcom,adreno-gmu-6xx.y`, `qcom,adreno-gmu`): always ready, answers the driver's handshakes. */
export const ADRENO_GMU_MODEL: ModelDescriptor = {
  name: 'adreno-gmu',
  compatibles: ADRENO_GMU_COMPATIBLES,
  matches: isAdrenoGmuCompatible,
  factory: createAdrenoGmuModel,
};

/** A PCI host bridge with an ECAM window and its endpoint functions (DMA through the IOMMU its `iommu-map` names). */
export const PCI_ECAM_MODEL: ModelDescriptor = { name: 'pci-ecam', compatibles: ['pci-host-ecam-generic'], factory: createPciEcamModel };

/** Qualcomm's secure IOMMU (MSM8916/MSM8939/MSM8953): context banks only, the global space owned by the firmware. */
export const QCOM_IOMMU_MODEL: ModelDescriptor = { name: 'qcom-iommu', compatibles: QCOM_IOMMU_COMPATIBLES, factory: createQcomIommuModel };

/** Qualcomm's TrustZone behind `qcom,scm`: the board's secure monitor (restore_sec_cfg, the IOMMU secure page table). */
export const QCOM_TZ_MODEL: ModelDescriptor = { name: 'qcom-tz', compatibles: QCOM_TZ_COMPATIBLES, factory: createQcomTrustZoneModel };

/** Every model of the package, the table `Board.fromDtb` uses unless told otherwise. */
export const BUILTIN_MODELS: readonly ModelDescriptor[] = [DMA_MASTER_MODEL, SMMU_V3_MODEL, SMMU_V2_MODEL, MALI_MODEL, ADRENO_GPU_MODEL, ADRENO_GMU_MODEL, PCI_ECAM_MODEL, QCOM_IOMMU_MODEL, QCOM_TZ_MODEL];
