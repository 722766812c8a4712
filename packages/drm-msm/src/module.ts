import { modulePlatformDriver, ofModuleAliases } from '@gki/kernel';
import type { Device, Driver, KernelModule, ModuleRef } from '@gki/kernel';
import { ADRENO_DRIVER_NAME, ADRENO_OF_MATCH, MsmDrmDevice, msmFromDevice } from './device.js';
import { PACKAGE_VERSION } from './version.js';

/**
 * The kernel symbols module msm references: what its .ko would leave undefined for the
 * loader to resolve against vmlinux's exports. The gki app's KMI check keeps this list equal to
 * what the package's source imports from the built-in core.
 */
const MSM_NEEDS: readonly string[] = [
  // io-pgtable
  'alloc_io_pgtable_ops', 'free_io_pgtable_ops',
  // IOMMU core
  'iommu_attach_device', 'iommu_detach_device', 'iommu_domain_free', 'iommu_group_get',
  'iommu_map', 'iommu_paging_domain_alloc_flags', 'iommu_set_fault_handler', 'iommu_unmap',
  // DRM core
  'drm_dev_alloc', 'drm_dev_put', 'drm_dev_register', 'drm_dev_unplug', 'drm_dev_unregister',
  'drm_open', 'drm_release', 'drm_gem_get_pages', 'drm_gem_put_pages', 'drm_prime_pages_to_sg',
  'drm_timeout_abs_to_jiffies', 'drm_mm_init', 'drm_mm_insert_node_in_range', 'drm_mm_remove_node',
  'drm_mm_takedown', 'drm_gem_create_mmap_offset', 'drm_gem_object_release', 'drm_gem_handle_create',
  'drm_gem_handle_delete', 'drm_gem_mmap',
  // driver core, interrupts, device tree
  '__platform_driver_register', 'platform_driver_unregister', 'devm_request_threaded_irq',
  'devm_free_irq', '__of_parse_phandle_with_args', 'of_device_is_available', 'of_device_is_compatible',
  'of_property_read_string_helper', 'of_property_read_variable_u32_array',
  // time, workqueues, IDs
  'ktime_get', 'usleep_range_state', 'alloc_workqueue_noprof', 'queue_work_on',
  '__flush_workqueue', 'destroy_workqueue', 'idr_alloc', 'idr_find', 'idr_remove',
];

/** The package version, shown in the image manifest (kept in step with package.json). */
export const MSM_VERSION: string = PACKAGE_VERSION;

/**
 * The adreno platform driver (adreno_device.c) owned by module `owner`: its probe brings the
 * GPU up and registers a headless msm DRM device for it.
 */
export function adrenoDriver(owner: ModuleRef | null): Driver {
  return {
    name: ADRENO_DRIVER_NAME,
    ofMatchTable: ADRENO_OF_MATCH.map((m) => ({ compatible: m.compatible })),
    probe(dev: Device): number {
      const drm = new MsmDrmDevice(dev, owner);
      dev.setDrvdata(drm);
      const r = drm.probe();
      if (r < 0) dev.setDrvdata(undefined);
      return r;
    },
    remove(dev: Device): void {
      msmFromDevice(dev)?.remove();
    },
  };
}

/** MODULE_DEVICE_TABLE(of, dt_match): the aliases depmod writes for the OF match table. */
export const MSM_ALIASES: readonly string[] = ofModuleAliases(ADRENO_OF_MATCH);

/**
 * Module msm (module_platform_driver): registers the adreno platform driver at init and unregisters it at exit. Its
 * per-process page tables come from io-pgtable (format ARM_64_LPAE_S1), which the seed
 * series' soft dependency on io-pgtable-arm loads first (Rob Clark queued that one-line
 * MODULE_SOFTDEP("pre: io-pgtable-arm") in January 2021 and dropped it the same day, when
 * io-pgtable was not to become modular; the model keeps it). Every open DRM file holds a
 * reference on the module (the DRM fops owner), so rmmod answers -EBUSY while one is open;
 * every live per-process page table holds one on io-pgtable-arm.
 */
export const msmModule: KernelModule = {
  name: 'msm',
  version: MSM_VERSION,
  license: 'GPL',
  description: 'MSM DRM Driver',
  needs: [...MSM_NEEDS],
  softdep: { pre: ['io-pgtable-arm'] },
  aliases: [...MSM_ALIASES],
  initcall: 'device',
  ...modulePlatformDriver((ctx) => adrenoDriver(ctx.self)),
};
