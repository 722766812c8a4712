/**
 * The Kconfig symbols the composer knows, with the kernel's names, types, prompts, defaults,
 * `depends on` and `select` as the kernel's Kconfig files state them (arm64, recent mainline;
 * the seed series' changes are applied by `kconfigRules('seed')`). The facts come from
 * drivers/iommu/Kconfig, drivers/iommu/arm/Kconfig, drivers/gpu/drm/Kconfig,
 * drivers/gpu/drm/msm/Kconfig, drivers/gpu/drm/panfrost/Kconfig, arch/arm64/Kconfig(.platforms),
 * init/Kconfig, kernel/module/Kconfig, kernel/power/Kconfig, drivers/of/Kconfig,
 * drivers/clk/Kconfig and drivers/firmware/qcom/Kconfig; the definitions here are written for
 * this model, not copied.
 *
 * Two kinds of symbol:
 * - modelled: the project has (or will have) the code behind them: the IOMMU core and
 *   io-pgtable, the format modules, the SMMU drivers and their sub-options, the GPU drivers.
 * - core (not modelled): kernel symbols the stack's dependencies mention (MMU, OF, PM,
 *   COMMON_CLK, DRM, ...). They resolve with the same rules and appear in the
 *   resolved .config, but nothing in the image corresponds to them.
 *
 * Only selects and dependencies between symbols listed here are kept; a select of a symbol
 * outside the model (DRM_KMS_HELPER, IOMMU_IOVA, ...) is left out, and so is a dependency of
 * the form `X || X=n` on a symbol outside the model (it holds when X is absent).
 */

export type KconfigType = 'bool' | 'tristate' | 'string' | 'int' | 'hex';

export interface KconfigSymbol {
  readonly name: string;
  readonly type: KconfigType;
  /** The prompt: a symbol without one is set only by defaults and selects. */
  readonly prompt?: string;
  /** `bool "prompt" if EXPR`: the prompt is shown only when EXPR holds. */
  readonly promptIf?: string;
  /** Enclosing `if SYM` blocks and `menuconfig` parents, outermost first (they add to depends). */
  readonly parents?: readonly string[];
  /** The symbol's own `depends on` lines, joined with &&. */
  readonly depends?: string;
  /** `default VALUE [if EXPR]` in order (the first whose condition holds applies). */
  readonly defaults?: readonly { readonly value: string; readonly if?: string }[];
  readonly selects?: readonly { readonly symbol: string; readonly if?: string }[];
  /** `range MIN MAX` of an int symbol. */
  readonly range?: readonly [number, number];
  /**
   * The menus it sits in, outermost first, '/'-separated ('' at the top level): the section
   * comments of the resolved .config. (A menuconfig symbol opens no section, as in Kconfig.)
   */
  readonly menu: string;
  /** The Kconfig file that defines it. */
  readonly source: string;
  /** One line of help, in this project's words. */
  readonly help: string;
  readonly modelled: boolean;
}

/**
 * Names the expressions mention that arm64 does not define (they belong to other
 * architectures): they evaluate to n, print bare in diagnostics, and a config line setting
 * one is an unknown symbol, as Kconfig on arm64 treats it.
 */
export const FOREIGN_SYMBOLS: readonly string[] = ['ARM', 'SOC_IMX5'];

const IOMMU = 'drivers/iommu/Kconfig';
const IOMMU_ARM = 'drivers/iommu/arm/Kconfig';

/** The symbols as mainline defines them, in menu order (the order of the resolved .config). */
const MAINLINE: readonly KconfigSymbol[] = [
  { name: 'ARM64', type: 'bool', defaults: [{ value: 'y' }], selects: [{ symbol: 'COMMON_CLK' }, { symbol: 'OF' }], menu: '', source: 'arch/arm64/Kconfig', help: 'The architecture (always y here).', modelled: false },
  { name: 'MMU', type: 'bool', defaults: [{ value: 'y' }], menu: '', source: 'arch/arm64/Kconfig', help: 'arm64 always has an MMU.', modelled: false },
  { name: 'EXPERT', type: 'bool', prompt: 'Configure standard kernel features (expert users)', menu: 'General setup', source: 'init/Kconfig', help: 'Shows options that only experts should change (GKI turns it on).', modelled: false },
  { name: 'COMPILE_TEST', type: 'bool', prompt: 'Compile also drivers which will not load', menu: 'General setup', source: 'init/Kconfig', help: 'Widens many architecture dependencies for build coverage.', modelled: false },
  { name: 'GENERIC_MSI_IRQ', type: 'bool', menu: 'General setup/IRQ subsystem', source: 'kernel/irq/Kconfig', help: 'Generic MSI interrupt domain support.', modelled: false },
  { name: 'ARCH_QCOM', type: 'bool', prompt: 'Qualcomm Platforms', menu: 'Platform selection', source: 'arch/arm64/Kconfig.platforms', help: 'Qualcomm SoC support (GKI: on).', modelled: false },
  { name: 'ARCH_ROCKCHIP', type: 'bool', prompt: 'Rockchip Platforms', menu: 'Platform selection', source: 'arch/arm64/Kconfig.platforms', help: 'Rockchip SoC support (GKI: off).', modelled: false },
  { name: 'NR_CPUS', type: 'int', prompt: 'Maximum number of CPUs (2-4096)', range: [2, 4096], defaults: [{ value: '512' }], menu: 'Kernel Features', source: 'arch/arm64/Kconfig', help: 'Maximum number of CPUs the kernel supports.', modelled: false },
  { name: 'PM', type: 'bool', prompt: 'Device power management core functionality', menu: 'Power management options', source: 'kernel/power/Kconfig', help: 'Runtime PM core (GKI: on, through PM_SLEEP).', modelled: false },
  { name: 'MODULES', type: 'bool', prompt: 'Enable loadable module support', menu: '', source: 'kernel/module/Kconfig', help: "Loadable modules; when off, every 'm' counts as 'y'.", modelled: false },
  { name: 'MODULE_UNLOAD', type: 'bool', prompt: 'Module unloading', parents: ['MODULES'], menu: '', source: 'kernel/module/Kconfig', help: 'Lets rmmod remove modules.', modelled: false },
  { name: 'MODVERSIONS', type: 'bool', prompt: 'Module versioning support', parents: ['MODULES'], menu: '', source: 'kernel/module/Kconfig', help: 'Symbol CRCs checked at load (the model writes CRC 0).', modelled: false },
  { name: 'MODULE_SIG', type: 'bool', prompt: 'Module signature verification', parents: ['MODULES'], menu: '', source: 'kernel/module/Kconfig', help: 'Signature checking of modules at load.', modelled: false },
  { name: 'MODPROBE_PATH', type: 'string', prompt: 'Path to modprobe binary', parents: ['MODULES'], defaults: [{ value: '"/sbin/modprobe"' }], menu: '', source: 'kernel/module/Kconfig', help: 'The program request_module runs.', modelled: false },
  { name: 'QCOM_SCM', type: 'tristate', menu: 'Device Drivers/Firmware Drivers', source: 'drivers/firmware/qcom/Kconfig', help: 'Qualcomm secure channel manager: the interface to the TrustZone firmware (restore_sec_cfg, the IOMMU secure page table). Modelled in the kernel core, always built in whatever this symbol resolves to.', modelled: true },
  { name: 'OF', type: 'bool', prompt: 'Device Tree and Open Firmware support', menu: 'Device Drivers', source: 'drivers/of/Kconfig', help: 'Device tree support (selected by ARM64).', modelled: false },
  { name: 'DRM', type: 'tristate', prompt: 'Direct Rendering Manager (XFree86 4.1.0 and higher DRI support)', menu: 'Device Drivers/Graphics support', source: 'drivers/gpu/drm/Kconfig', help: 'The DRM core (GKI: built in; not modelled).', modelled: false },
  { name: 'DRM_SCHED', type: 'tristate', parents: ['DRM'], depends: 'DRM', menu: 'Device Drivers/Graphics support', source: 'drivers/gpu/drm/Kconfig', help: 'The GPU scheduler (not modelled).', modelled: false },
  { name: 'DRM_GEM_SHMEM_HELPER', type: 'tristate', parents: ['DRM'], depends: 'DRM && MMU', menu: 'Device Drivers/Graphics support', source: 'drivers/gpu/drm/Kconfig', help: 'shmem-backed GEM objects (not modelled).', modelled: false },
  { name: 'DRM_MSM', type: 'tristate', prompt: 'MSM DRM', parents: ['DRM'], depends: 'DRM && (ARCH_QCOM || SOC_IMX5 || COMPILE_TEST) && COMMON_CLK && IOMMU_SUPPORT && PM', selects: [{ symbol: 'IOMMU_IO_PGTABLE' }, { symbol: 'QCOM_SCM' }, { symbol: 'DRM_SCHED' }], menu: 'Device Drivers/Graphics support', source: 'drivers/gpu/drm/msm/Kconfig', help: 'Adreno GPU driver (msm); selects the io-pgtable framework, not a format.', modelled: true },
  { name: 'DRM_PANFROST', type: 'tristate', prompt: 'Panfrost (DRM support for ARM Mali Midgard/Bifrost GPUs)', parents: ['DRM'], depends: 'DRM && (ARM || ARM64 || (COMPILE_TEST && !GENERIC_ATOMIC64)) && MMU', selects: [{ symbol: 'DRM_SCHED' }, { symbol: 'IOMMU_SUPPORT' }, { symbol: 'IOMMU_IO_PGTABLE_LPAE' }, { symbol: 'DRM_GEM_SHMEM_HELPER' }], menu: 'Device Drivers/Graphics support', source: 'drivers/gpu/drm/panfrost/Kconfig', help: 'Mali Midgard/Bifrost GPU driver (panfrost).', modelled: true },
  { name: 'COMMON_CLK', type: 'bool', prompt: 'Common Clock Framework', menu: 'Device Drivers', source: 'drivers/clk/Kconfig', help: 'The clock framework (selected by ARM64).', modelled: false },
  { name: 'IOMMU_API', type: 'bool', menu: 'Device Drivers', source: IOMMU, help: 'The IOMMU core API; selected by whoever needs it.', modelled: true },
  { name: 'IOMMU_SUPPORT', type: 'bool', prompt: 'IOMMU Hardware Support', depends: 'MMU', defaults: [{ value: 'y' }], menu: 'Device Drivers', source: IOMMU, help: 'The menu of IOMMU drivers and page-table formats.', modelled: true },
  { name: 'IOMMU_IO_PGTABLE', type: 'bool', parents: ['IOMMU_SUPPORT'], menu: 'Device Drivers/Generic IOMMU Pagetable Support', source: IOMMU, help: 'The io-pgtable core (built into the kernel); selected by the formats.', modelled: true },
  { name: 'IOMMU_IO_PGTABLE_LPAE', type: 'bool', prompt: 'ARMv7/v8 Long Descriptor Format', parents: ['IOMMU_SUPPORT'], depends: '(ARM || ARM64 || COMPILE_TEST) && !GENERIC_ATOMIC64', selects: [{ symbol: 'IOMMU_IO_PGTABLE' }], menu: 'Device Drivers/Generic IOMMU Pagetable Support', source: IOMMU, help: 'The LPAE formats (io-pgtable-arm).', modelled: true },
  { name: 'IOMMU_IO_PGTABLE_ARMV7S', type: 'bool', prompt: 'ARMv7/v8 Short Descriptor Format', parents: ['IOMMU_SUPPORT'], depends: 'ARM || ARM64 || COMPILE_TEST', selects: [{ symbol: 'IOMMU_IO_PGTABLE' }], menu: 'Device Drivers/Generic IOMMU Pagetable Support', source: IOMMU, help: 'The v7s short-descriptor format (io-pgtable-arm-v7s).', modelled: true },
  { name: 'OF_IOMMU', type: 'bool', parents: ['IOMMU_SUPPORT'], depends: 'OF && IOMMU_API', defaults: [{ value: 'y' }], menu: 'Device Drivers', source: IOMMU, help: 'IOMMU lookup from the device tree (iommus properties).', modelled: true },
  { name: 'IOMMU_DMA', type: 'bool', parents: ['IOMMU_SUPPORT'], defaults: [{ value: 'ARM64' }], selects: [{ symbol: 'IOMMU_API' }], menu: 'Device Drivers', source: IOMMU, help: 'The DMA API over IOMMU domains (IOVA allocation).', modelled: true },
  { name: 'ARM_SMMU', type: 'tristate', prompt: 'ARM Ltd. System MMU (SMMU) Support', parents: ['IOMMU_SUPPORT'], depends: '(ARM64 || ARM || COMPILE_TEST) && !GENERIC_ATOMIC64', selects: [{ symbol: 'IOMMU_API' }, { symbol: 'IOMMU_IO_PGTABLE_LPAE' }], menu: 'Device Drivers', source: IOMMU_ARM, help: 'SMMUv1/v2 and MMU-500 driver (arm_smmu).', modelled: true },
  { name: 'ARM_SMMU_LEGACY_DT_BINDINGS', type: 'bool', prompt: 'Support the legacy "mmu-masters" devicetree bindings', parents: ['IOMMU_SUPPORT', 'ARM_SMMU'], depends: 'ARM_SMMU=y && OF', menu: 'Device Drivers', source: IOMMU_ARM, help: 'The deprecated mmu-masters binding (only with arm_smmu built in).', modelled: true },
  { name: 'ARM_SMMU_DISABLE_BYPASS_BY_DEFAULT', type: 'bool', prompt: 'Disable unmatched stream bypass by default', promptIf: 'EXPERT', parents: ['IOMMU_SUPPORT', 'ARM_SMMU'], defaults: [{ value: 'y' }], menu: 'Device Drivers', source: IOMMU_ARM, help: 'Streams the SMMU does not know fault instead of bypassing.', modelled: true },
  { name: 'ARM_SMMU_QCOM', type: 'tristate', parents: ['IOMMU_SUPPORT', 'ARM_SMMU'], depends: 'ARCH_QCOM', defaults: [{ value: 'y' }], selects: [{ symbol: 'QCOM_SCM' }], menu: 'Device Drivers', source: IOMMU_ARM, help: 'The Qualcomm SMMU implementation, built into arm_smmu.', modelled: true },
  { name: 'QCOM_IOMMU', type: 'bool', prompt: 'Qualcomm IOMMU Support', parents: ['IOMMU_SUPPORT'], depends: '(ARCH_QCOM || COMPILE_TEST) && !GENERIC_ATOMIC64', selects: [{ symbol: 'QCOM_SCM' }, { symbol: 'IOMMU_API' }, { symbol: 'IOMMU_IO_PGTABLE_LPAE' }], menu: 'Device Drivers', source: IOMMU, help: 'The Qualcomm secure IOMMU driver of MSM8916/MSM8939/MSM8953 (qcom_iommu): context banks only, the rest through the TrustZone firmware.', modelled: true },
  { name: 'ARM_SMMU_V3', type: 'tristate', prompt: 'ARM Ltd. System MMU Version 3 (SMMUv3) Support', parents: ['IOMMU_SUPPORT'], depends: 'ARM64', selects: [{ symbol: 'IOMMU_API' }, { symbol: 'IOMMU_IO_PGTABLE_LPAE' }, { symbol: 'GENERIC_MSI_IRQ' }], menu: 'Device Drivers', source: IOMMU_ARM, help: 'SMMUv3 driver (arm_smmu_v3).', modelled: true },
  { name: 'GKI_DMA_TEST', type: 'tristate', prompt: 'DMA engine test driver for gki,dma-master engines', depends: 'OF', menu: 'Device Drivers/gki model test drivers', source: 'apps/gki (this project)', help: "The model's DMA test driver (gki_dma_test) for the board's DMA masters.", modelled: true },
  { name: 'GENERIC_ATOMIC64', type: 'bool', menu: 'Library routines', source: 'lib/Kconfig', help: 'Selected by architectures without native 64-bit atomics (never on arm64).', modelled: false },
];

export type KconfigRulesName = 'seed' | 'mainline';
export const KCONFIG_RULES: readonly KconfigRulesName[] = ['seed', 'mainline'];

/** A rule set: the symbol table the resolver works on. */
export interface KconfigRules {
  readonly name: KconfigRulesName;
  readonly symbols: readonly KconfigSymbol[];
  readonly byName: ReadonlyMap<string, KconfigSymbol>;
}

/**
 * The seed series (Isaac Manjarres, Dec 2020) makes both io-pgtable formats tristate, so a
 * vendor ships only the format it uses as a module, and makes IOMMU_IO_PGTABLE a
 * user-visible bool so the framework can be built with no format in it (as a GKI would).
 * QCOM_IOMMU, a bool in mainline, is tristate here (see below).
 */
function seedPatch(s: KconfigSymbol): KconfigSymbol {
  if (s.name === 'IOMMU_IO_PGTABLE_LPAE' || s.name === 'IOMMU_IO_PGTABLE_ARMV7S') return { ...s, type: 'tristate' };
  // mainline v6.12 keeps QCOM_IOMMU a bool ("iommu drivers cannot (yet?) be built as
  // modules"); under the seed rules it is a module like arm_smmu, which is how a GKI vendor
  // would ship it (the model's qcom_iommu loads and unloads as one)
  if (s.name === 'QCOM_IOMMU') return { ...s, type: 'tristate' };
  if (s.name === 'IOMMU_IO_PGTABLE') return { ...s, prompt: 'IOMMU page table allocator framework' };
  return s;
}

const cache = new Map<KconfigRulesName, KconfigRules>();

/** The symbol table under `name`'s rules (seed: the default; mainline). */
export function kconfigRules(name: KconfigRulesName): KconfigRules {
  let r = cache.get(name);
  if (!r) {
    const symbols = name === 'seed' ? MAINLINE.map(seedPatch) : [...MAINLINE];
    r = { name, symbols, byName: new Map(symbols.map((s) => [s.name, s])) };
    cache.set(name, r);
  }
  return r;
}
