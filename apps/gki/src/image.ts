import type { KernelImage, KernelModule } from '@gki/kernel';
import { ioPgtableCoreModule } from '@gki/io-pgtable-core';
import armLpae from '@gki/format-arm-lpae';
import armV7s from '@gki/format-arm-v7s';
import armSmmu from '@gki/smmu';
import armSmmuV3 from '@gki/smmu-v3';
import { dmaTestModule } from './drivers/dma-test.js';

/** Every module package this app knows, by kernel module name. */
export const AVAILABLE_MODULES: readonly KernelModule[] = [armLpae, armV7s, armSmmu, armSmmuV3, dmaTestModule];

/**
 * The default image: the io-pgtable core built in (as in every GKI); the two format modules,
 * the SMMU drivers and the DMA test driver shipped as modules and loaded at boot in this
 * order (like modules.load). arm_smmu (SMMUv1/v2, MMU-500, Qualcomm) binds the SMMUs of boards
 * that have them (a Qualcomm SoC tree); the default board has none. gki_dma_test comes before
 * arm_smmu_v3 on purpose: the masters
 * behind the SMMU then wait for their IOMMU and probe once it has bound, which is the order a
 * real boot with asynchronous module loading must cope with (arm_smmu_v3's soft dependency
 * still loads io-pgtable-arm before it).
 */
export function defaultImage(): KernelImage {
  return {
    builtin: [ioPgtableCoreModule],
    modules: [...AVAILABLE_MODULES],
    load: ['io-pgtable-arm', 'io-pgtable-arm-v7s', 'gki_dma_test', 'arm_smmu', 'arm_smmu_v3'],
  };
}
