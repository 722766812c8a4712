import armV7sModule from './module.js';

export * from './descriptors.js';
export * from './engine.js';
export { armV7sInitFns } from './module.js';

// What a user of the format needs besides the format itself, so that this package alone is
// enough to build, use and free a table without booting a kernel (see the README's example).
export { createIoPgtableHost, type IoPgtableHost, type IoPgtableHostOptions } from '@gki/kernel';
export { EEXIST, EINVAL, ENOENT, ENOMEM, ERANGE, KernelError, errnoName } from '@gki/kernel';
export {
  IOMMU_CACHE,
  IOMMU_MMIO,
  IOMMU_NOEXEC,
  IOMMU_PRIV,
  IOMMU_READ,
  IOMMU_WRITE,
  IO_PGTABLE_QUIRK_ARM_MTK_EXT,
  IO_PGTABLE_QUIRK_ARM_MTK_TTBR_EXT,
  IO_PGTABLE_QUIRK_ARM_NS,
  IO_PGTABLE_QUIRK_NO_PERMS,
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

export default armV7sModule;
