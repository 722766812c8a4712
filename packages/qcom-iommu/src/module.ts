import { modulePlatformDriver, ofModuleAliases } from '@gki/kernel';
import type { KernelModule, ModuleContext } from '@gki/kernel';
import { QCOM_IOMMU_CTX_OF_MATCH, QCOM_IOMMU_OF_MATCH, qcomIommuDrivers } from './qcom-iommu.js';
import { PACKAGE_VERSION } from './version.js';

/**
 * The kernel symbols module qcom_iommu references (what its .ko leaves undefined for the
 * loader to resolve against vmlinux): the gki app's KMI check keeps this list equal to what
 * the package's source imports from the core.
 */
const QCOM_IOMMU_NEEDS: readonly string[] = [
  // io-pgtable
  'alloc_io_pgtable_ops', 'free_io_pgtable_ops',
  // IOMMU core
  'dev_iommu_priv_set', 'generic_device_group', 'iommu_device_register', 'iommu_device_unregister',
  'iommu_fwspec_add_ids', 'iommu_get_domain_for_dev', 'report_iommu_fault',
  // the firmware interface (qcom_scm, built in)
  'qcom_scm_is_available', 'qcom_scm_restore_sec_cfg', 'qcom_scm_iommu_secure_ptbl_size', 'qcom_scm_iommu_secure_ptbl_init',
  // driver core, DMA, interrupts, device tree, time
  '__platform_driver_register', 'platform_driver_unregister', 'devm_of_platform_populate', 'dma_alloc_attrs', 'dma_free_attrs',
  'devm_request_threaded_irq', 'of_device_is_compatible', 'of_property_read_variable_u32_array', 'of_property_read_u32_index',
  'ktime_get', 'usleep_range_state',
];

export const QCOM_IOMMU_VERSION: string = PACKAGE_VERSION;

/** The modalias lines of both match tables (the IOMMU and its context banks). */
export const QCOM_IOMMU_ALIASES: readonly string[] = [...ofModuleAliases(QCOM_IOMMU_CTX_OF_MATCH), ...ofModuleAliases(QCOM_IOMMU_OF_MATCH)];

/**
 * Module qcom_iommu: registers the context bank driver, then the IOMMU driver (and
 * unregisters them in the reverse order). Its page tables are io-pgtable's ARM_32_LPAE_S1,
 * loaded first through the soft dependency or on demand by alias; the IOMMU core holds a
 * reference on the module for every master and domain, so rmmod answers -EBUSY while any exist.
 */
function qcomIommuModuleMake(): KernelModule {
  const ctxPart = modulePlatformDriver((ctx: ModuleContext) => qcomIommuDrivers(ctx.self).ctx);
  const iommuPart = modulePlatformDriver((ctx: ModuleContext) => qcomIommuDrivers(ctx.self).iommu);
  return {
    name: 'qcom_iommu',
    version: QCOM_IOMMU_VERSION,
    license: 'GPL v2',
    description: 'IOMMU API for QCOM secure IOMMUs',
    needs: [...QCOM_IOMMU_NEEDS],
    softdep: { pre: ['io-pgtable-arm'] },
    aliases: [...QCOM_IOMMU_ALIASES],
    initcall: 'device',
    init(ctx) {
      const r = ctxPart.init(ctx);
      if (r < 0) return r;
      const r2 = iommuPart.init(ctx);
      if (r2 < 0) ctxPart.exit(ctx);
      return r2;
    },
    exit(ctx) {
      iommuPart.exit(ctx);
      ctxPart.exit(ctx);
    },
  };
}

export const qcomIommuModule: KernelModule = qcomIommuModuleMake();
