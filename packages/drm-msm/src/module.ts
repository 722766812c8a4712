import { modulePlatformDriver, ofModuleAliases } from '@gki/kernel';
import type { Device, Driver, KernelModule, ModuleRef } from '@gki/kernel';
import { ADRENO_DRIVER_NAME, ADRENO_OF_MATCH, MsmDrmDevice, msmFromDevice } from './device.js';
import { PACKAGE_VERSION } from './version.js';

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
  softdep: { pre: ['io-pgtable-arm'] },
  aliases: [...MSM_ALIASES],
  initcall: 'device',
  ...modulePlatformDriver((ctx) => adrenoDriver(ctx.self)),
};
