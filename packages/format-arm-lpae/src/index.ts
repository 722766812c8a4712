import { ioPgtableArmModule } from './module.js';

export * from './geometry.js';
export * from './ops.js';
export * from './module.js';
export {
  ARM_LPAE_MAIR,
  ARM_MALI_LPAE_MEMATTR,
  buildProtTemplates,
  pteToBigint,
  type AttrKind,
} from './pte.js';

// What a user of the format needs besides the format itself, so that this package alone is
// enough to build, use and free a table without booting a kernel (see the README's example).
export { createIoPgtableHost, type IoPgtableHost, type IoPgtableHostOptions } from '@gki/kernel';
export { EEXIST, EINVAL, ENOENT, ENOMEM, ERANGE, KernelError, errnoName } from '@gki/kernel';
export {
  IOMMU_CACHE,
  IOMMU_DIRTY_NO_CLEAR,
  IOMMU_MMIO,
  IOMMU_NOEXEC,
  IOMMU_PRIV,
  IOMMU_READ,
  IOMMU_WRITE,
  IO_PGTABLE_QUIRK_ARM_HD,
  IO_PGTABLE_QUIRK_ARM_NS,
  IO_PGTABLE_QUIRK_ARM_OUTER_WBWA,
  IO_PGTABLE_QUIRK_ARM_S2FWB,
  IO_PGTABLE_QUIRK_ARM_TTBR1,
  IO_PGTABLE_QUIRK_NO_WARN,
  freeIoPgtableOps,
  iommuIotlbGatherInit,
  mapRange,
  unmapRange,
  type IommuFlushOps,
  type IommuIotlbGather,
  type IoPgtableCfg,
  type IoPgtableLeaf,
  type IoPgtableOps,
  type MappedOut,
  type RangeOptions,
  type UnmapRangeOptions,
} from '@gki/io-pgtable-core';

/** The module descriptor (what the image composer and the module loader take). */
export default ioPgtableArmModule;
