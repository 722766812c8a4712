import { EINVAL, modulePlatformDriver, ofModuleAliases } from '@gki/kernel';
import type { Device, Driver, KernelModule, ModuleRef } from '@gki/kernel';
import { ARM_SMMU_OF_MATCH, ArmSmmu, armSmmuFromDevice, type ArmSmmuConfig, type ArmSmmuMatchData } from './smmu.js';
import { PACKAGE_VERSION } from './version.js';

/**
 * The kernel symbols module arm_smmu references: what its .ko would leave undefined for the
 * loader to resolve against vmlinux's exports. The gki app's KMI check keeps this list equal to
 * what the package's source imports from the built-in core.
 */
const ARM_SMMU_NEEDS: readonly string[] = [
  // io-pgtable
  'alloc_io_pgtable_ops', 'free_io_pgtable_ops',
  // IOMMU core
  'dev_iommu_priv_set', 'generic_device_group', 'pci_device_group', 'iommu_device_register',
  'iommu_device_unregister', 'iommu_fwspec_add_ids', 'iommu_fwspec_init', 'report_iommu_fault',
  // driver core, interrupts, device tree
  '__platform_driver_register', 'platform_driver_unregister', 'devm_request_threaded_irq',
  'devm_free_irq', '__of_parse_phandle_with_args', 'of_device_is_compatible', 'of_match_node',
  'of_property_read_variable_u32_array',
];

/** The package version, shown in the image manifest (generated from package.json at build time). */
export const ARM_SMMU_VERSION: string = PACKAGE_VERSION;
/** The platform driver's name (log prefix of its devices). */
export const ARM_SMMU_DRIVER = 'arm-smmu';

/** The platform driver for the SMMUv1/v2 compatibles, owned by module `owner`. */
export function armSmmuDriver(owner: ModuleRef | null, builtin: boolean, config: ArmSmmuConfig = {}): Driver {
  return {
    name: ARM_SMMU_DRIVER,
    ofMatchTable: ARM_SMMU_OF_MATCH,
    suppressBindAttrs: true,
    probe(dev: Device): number {
      const match = dev.matchData as ArmSmmuMatchData | undefined;
      const res = dev.resource('mem', 0);
      if (!match || !res) {
        dev.err('no MMIO resource');
        return -EINVAL;
      }
      const regs = dev.ioremap(0);
      if (typeof regs === 'number') return regs;
      const smmu = new ArmSmmu(dev, regs, match, owner, config);
      // the resource size is kept until the ID registers say how big the SMMU is
      smmu.numpage = res.end - res.start + 1;
      const r = smmu.probe(builtin);
      if (r < 0) return r;
      dev.setDrvdata(smmu);
      return 0;
    },
    remove(dev: Device): void {
      armSmmuFromDevice(dev)?.remove();
    },
  };
}

/** The modalias lines for the OF match table (what depmod writes to modules.alias). */
export const ARM_SMMU_ALIASES: readonly string[] = ofModuleAliases(ARM_SMMU_OF_MATCH);

/**
 * The arm_smmu build options from Kconfig values (`{ ARM_SMMU_QCOM: 'y', ... }`): a value of
 * 'y' or 'm' turns an option on, anything else off; an option not given keeps its GKI default.
 */
export function armSmmuConfigFromKconfig(options: Readonly<Record<string, string>>): ArmSmmuConfig {
  const on = (name: string): boolean | undefined => (name in options ? options[name] === 'y' || options[name] === 'm' : undefined);
  const c: { -readonly [K in keyof ArmSmmuConfig]: ArmSmmuConfig[K] } = {};
  const legacy = on('ARM_SMMU_LEGACY_DT_BINDINGS');
  const bypass = on('ARM_SMMU_DISABLE_BYPASS_BY_DEFAULT');
  const qcom = on('ARM_SMMU_QCOM');
  if (legacy !== undefined) c.legacyDtBindings = legacy;
  if (bypass !== undefined) c.disableBypass = bypass;
  if (qcom !== undefined) c.qcom = qcom;
  return c;
}

/**
 * Module arm_smmu built with `config` (its compiled-in options; see armSmmuConfigFromKconfig):
 * registers the platform driver at init and unregisters it at exit. Its page tables come from
 * io-pgtable (ARM_64_LPAE_S1/S2, ARM_32_LPAE_S1/S2, ARM_V7S), loaded first through the soft
 * dependencies or on demand by alias; the IOMMU core holds a reference on this module for
 * every master probed and every domain allocated through it, so rmmod answers -EBUSY while any
 * exist. Built in (and with legacyDtBindings), it also accepts the legacy "mmu-masters" binding.
 */
export function armSmmuModuleWith(config: ArmSmmuConfig = {}): KernelModule {
  return {
    name: 'arm_smmu',
    version: ARM_SMMU_VERSION,
    license: 'GPL v2',
    description: 'IOMMU API for ARM architected SMMU implementations',
    needs: [...ARM_SMMU_NEEDS],
    softdep: { pre: ['io-pgtable-arm', 'io-pgtable-arm-v7s'] },
    aliases: [...ARM_SMMU_ALIASES],
    initcall: 'device',
    ...modulePlatformDriver((ctx) => armSmmuDriver(ctx.self, ctx.self.builtin, config)),
  };
}

/** Module arm_smmu with the GKI defaults (every option on). */
export const armSmmuModule: KernelModule = armSmmuModuleWith();

/** For an image composer: the module built from its Kconfig sub-option values. */
export function armSmmuModuleFromKconfig(options: Readonly<Record<string, string>>): KernelModule {
  return armSmmuModuleWith(armSmmuConfigFromKconfig(options));
}
