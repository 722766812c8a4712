import { EINVAL, ENODEV, iommuDomainAlloc, modulePlatformDriver } from '@gki/kernel';
import type { Device, Driver, IommuDomain, KernelModule, ModuleRef } from '@gki/kernel';
import { ArmSmmuV3DomainImpl, type ArmSmmuV3Domain } from './domain.js';
import { ARM_SMMU_REG_WINDOW } from './regs.js';
import { PACKAGE_VERSION } from './version.js';
import { ArmSmmuV3, armSmmuV3FromDevice, armSmmuV3MasterOf } from './smmu.js';

/** The package version, shown in the image manifest (generated from package.json at build time). */
export const ARM_SMMU_V3_VERSION: string = PACKAGE_VERSION;
/** The platform driver's name (log prefix of its devices). */
export const ARM_SMMU_V3_DRIVER = 'arm-smmu-v3';

/** The platform driver for `arm,smmu-v3`, owned by module `owner`. */
export function armSmmuV3Driver(owner: ModuleRef | null): Driver {
  return {
    name: ARM_SMMU_V3_DRIVER,
    ofMatchTable: [{ compatible: 'arm,smmu-v3' }],
    suppressBindAttrs: true,
    probe(dev: Device): number {
      const res = dev.resource('mem', 0);
      if (!res) {
        dev.err('no MMIO resource');
        return -EINVAL;
      }
      if (res.end - res.start + 1 < ARM_SMMU_REG_WINDOW) {
        dev.err(`MMIO region too small (0x${(res.end - res.start + 1).toString(16)})`);
        return -EINVAL;
      }
      const regs = dev.ioremap(0);
      if (typeof regs === 'number') return regs;
      const smmu = new ArmSmmuV3(dev, regs, owner);
      const r = smmu.probe();
      if (r < 0) return r;
      dev.setDrvdata(smmu);
      return 0;
    },
    remove(dev: Device): void {
      armSmmuV3FromDevice(dev)?.remove();
    },
  };
}

/**
 * Allocates a stage-2 paging domain for `dev` (what Linux hands out for a nesting parent;
 * default domains use stage 1 whenever the SMMU has it). -ENODEV when `dev` is not a master
 * of this driver, -EINVAL when its SMMU lacks stage 2, else what domain allocation returns.
 */
export function armSmmuV3DomainAllocS2(dev: Device): IommuDomain | number {
  const m = armSmmuV3MasterOf(dev);
  if (!m) return -ENODEV;
  if (!m.smmu.features.s2) return -EINVAL;
  m.smmu.pendingStage = 2;
  try {
    return iommuDomainAlloc(dev, 'unmanaged');
  } finally {
    m.smmu.pendingStage = 0;
  }
}

/** `domain` as an arm_smmu_v3 domain (stage, ASID/VMID, masters), or undefined. */
export function asArmSmmuV3Domain(domain: IommuDomain): ArmSmmuV3Domain | undefined {
  return domain instanceof ArmSmmuV3DomainImpl ? domain : undefined;
}

/**
 * Module arm_smmu_v3 (module_platform_driver): registers the platform driver at init and unregisters it at exit. Its
 * page tables come from io-pgtable (format ARM_64_LPAE_S1/S2), loaded first through the
 * soft dependency on io-pgtable-arm or on demand by alias; the IOMMU core holds a reference
 * on this module for every master probed and every domain allocated through it, so rmmod
 * answers -EBUSY while any exist.
 */
export const armSmmuV3Module: KernelModule = {
  name: 'arm_smmu_v3',
  version: ARM_SMMU_V3_VERSION,
  license: 'GPL v2',
  description: 'IOMMU API for ARM architected SMMUv3 implementations',
  softdep: { pre: ['io-pgtable-arm'] },
  aliases: ['of:N*T*Carm,smmu-v3'],
  initcall: 'device',
  ...modulePlatformDriver((ctx) => armSmmuV3Driver(ctx.self)),
};
