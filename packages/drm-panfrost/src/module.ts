import { modulePlatformDriver, ofModuleAliases } from '@gki/kernel';
import type { Device, Driver, KernelModule, ModuleRef } from '@gki/kernel';
import { PANFROST_DRIVER, PANFROST_OF_MATCH, PanfrostDevice, panfrostFromDevice } from './device.js';
import { PACKAGE_VERSION } from './version.js';

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
  softdep: { pre: ['io-pgtable-arm'] },
  aliases: [...PANFROST_ALIASES],
  initcall: 'device',
  ...modulePlatformDriver((ctx) => panfrostDriver(ctx.self)),
};
