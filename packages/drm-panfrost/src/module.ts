import { modulePlatformDriver, ofModuleAliases } from '@gki/kernel';
import type { Device, Driver, KernelModule, ModuleRef } from '@gki/kernel';
import { PANFROST_DRIVER, PANFROST_OF_MATCH, PanfrostDevice, panfrostFromDevice } from './device.js';
import { PACKAGE_VERSION } from './version.js';

/**
 * The kernel symbols module panfrost references: what its .ko would leave undefined for the
 * loader to resolve against vmlinux's exports. The gki app's KMI check keeps this list equal to
 * what the package's source imports from the built-in core.
 */
const PANFROST_NEEDS: readonly string[] = [
  // io-pgtable
  'alloc_io_pgtable_ops', 'free_io_pgtable_ops',
  // DRM core
  'drm_dev_alloc', 'drm_dev_put', 'drm_dev_register', 'drm_dev_unplug', 'drm_dev_unregister',
  'drm_open', 'drm_release', 'drm_gem_get_pages', 'drm_gem_put_pages', 'drm_prime_pages_to_sg',
  'drm_timeout_abs_to_jiffies', 'drm_mm_init', 'drm_mm_insert_node_in_range', 'drm_mm_remove_node',
  'drm_mm_takedown', 'drm_gem_create_mmap_offset', 'drm_gem_object_release', 'drm_gem_handle_create',
  'drm_gem_handle_delete', 'drm_gem_mmap',
  // driver core, interrupts
  '__platform_driver_register', 'platform_driver_unregister', 'devm_request_threaded_irq',
  // time, workqueues, IDs
  'ktime_get', 'usleep_range_state', 'alloc_workqueue_noprof', 'queue_work_on',
  '__flush_workqueue', 'destroy_workqueue', 'idr_alloc', 'idr_find', 'idr_remove',
];

/** The package version, shown in the image manifest (generated from package.json at build time). */
export const PANFROST_VERSION: string = PACKAGE_VERSION;

/** The platform driver for the Mali compatibles panfrost matches, owned by module `owner`. */
export function panfrostDriver(owner: ModuleRef | null): Driver {
  return {
    name: PANFROST_DRIVER,
    ofMatchTable: PANFROST_OF_MATCH.map((m) => ({ compatible: m.compatible, data: m.data })),
    probe(dev: Device): number {
      const pfdev = new PanfrostDevice(dev, owner);
      dev.setDrvdata(pfdev);
      const r = pfdev.probe();
      if (r < 0) dev.setDrvdata(undefined);
      return r;
    },
    remove(dev: Device): void {
      panfrostFromDevice(dev)?.remove();
    },
  };
}

/** MODULE_DEVICE_TABLE(of, dt_match): the aliases depmod writes for the OF match table. */
export const PANFROST_ALIASES: readonly string[] = ofModuleAliases(PANFROST_OF_MATCH);

/**
 * Module panfrost (module_platform_driver): registers the platform driver at init and
 * unregisters it at exit. Its page tables come from io-pgtable (format ARM_MALI_LPAE), loaded
 * first through the seed series' soft dependency on io-pgtable-arm or on demand by alias.
 * Every open DRM file holds a reference on the module (the DRM fops owner), so rmmod answers
 * -EBUSY while one is open; every live page table holds one on io-pgtable-arm.
 */
export const panfrostModule: KernelModule = {
  name: 'panfrost',
  version: PANFROST_VERSION,
  license: 'GPL v2',
  description: 'Panfrost DRM Driver',
  needs: [...PANFROST_NEEDS],
  softdep: { pre: ['io-pgtable-arm'] },
  aliases: [...PANFROST_ALIASES],
  initcall: 'device',
  ...modulePlatformDriver((ctx) => panfrostDriver(ctx.self)),
};
