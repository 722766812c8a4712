import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { KernelModule } from '@gki/kernel';
import { ioPgtableCoreModule } from '@gki/io-pgtable-core';
import ioPgtableArm from '@gki/format-arm-lpae';
import ioPgtableArmV7s from '@gki/format-arm-v7s';
import { armSmmuModuleFromKconfig } from '@gki/smmu';
import armSmmuV3 from '@gki/smmu-v3';
import qcomIommu from '@gki/qcom-iommu';
import msm from '@gki/drm-msm';
import panfrost from '@gki/drm-panfrost';
import { dmaTestModule } from '../drivers/dma-test.js';

/**
 * Where the kernel build puts each module of the stack: its name, the Kconfig symbol that
 * builds it, its object path in the source tree (the .ko path in modules.dep is
 * `kernel/<object>.ko`), and the sub-options compiled into it. The order is the kbuild link
 * order (drivers/dma before drivers/iommu, drivers/iommu/arm/ before the io-pgtable objects,
 * iommu before gpu), which is modules.order and the order built-ins initialise within a level.
 * These are facts about the kernel, listed whether or not this build has a package for them.
 * gki_dma_test is this project's own test driver (placed beside the kernel's dmatest).
 */
export interface KbuildModule {
  readonly module: string;
  readonly symbol: string;
  readonly object: string;
  readonly options?: readonly string[];
}

export const KBUILD_MODULES: readonly KbuildModule[] = [
  { module: 'gki_dma_test', symbol: 'GKI_DMA_TEST', object: 'drivers/dma/gki_dma_test' },
  { module: 'arm_smmu', symbol: 'ARM_SMMU', object: 'drivers/iommu/arm/arm-smmu/arm_smmu', options: ['ARM_SMMU_LEGACY_DT_BINDINGS', 'ARM_SMMU_DISABLE_BYPASS_BY_DEFAULT', 'ARM_SMMU_QCOM'] },
  { module: 'qcom_iommu', symbol: 'QCOM_IOMMU', object: 'drivers/iommu/arm/arm-smmu/qcom_iommu' },
  { module: 'arm_smmu_v3', symbol: 'ARM_SMMU_V3', object: 'drivers/iommu/arm/arm-smmu-v3/arm_smmu_v3' },
  { module: 'io-pgtable', symbol: 'IOMMU_IO_PGTABLE', object: 'drivers/iommu/io-pgtable' },
  { module: 'io-pgtable-arm-v7s', symbol: 'IOMMU_IO_PGTABLE_ARMV7S', object: 'drivers/iommu/io-pgtable-arm-v7s' },
  { module: 'io-pgtable-arm', symbol: 'IOMMU_IO_PGTABLE_LPAE', object: 'drivers/iommu/io-pgtable-arm' },
  { module: 'msm', symbol: 'DRM_MSM', object: 'drivers/gpu/drm/msm/msm' },
  { module: 'panfrost', symbol: 'DRM_PANFROST', object: 'drivers/gpu/drm/panfrost/panfrost' },
];

/** The values of a module's compiled-in sub-options (`{ ARM_SMMU_QCOM: 'y' }`). */
export type BuildOptions = Readonly<Record<string, string>>;

/**
 * A module this build of gki can put in an image: the npm package that provides it and its
 * module descriptor (the package's default export). A module whose sub-options change what
 * it does may instead be a function of their resolved values.
 */
export interface ModulePackage {
  readonly package: string;
  readonly module: KernelModule | ((options: BuildOptions) => KernelModule);
}

/**
 * The module packages of this build. Adding a module is one line here (plus its import and
 * its package.json dependency); a module with no line is not offered: a configuration that
 * asks for it is told no package provides it.
 */
export const MODULE_PACKAGES: readonly ModulePackage[] = [
  { package: '@gki/io-pgtable-core', module: ioPgtableCoreModule },
  { package: '@gki/format-arm-lpae', module: ioPgtableArm },
  { package: '@gki/format-arm-v7s', module: ioPgtableArmV7s },
  { package: '@gki/smmu', module: armSmmuModuleFromKconfig },
  { package: '@gki/smmu-v3', module: armSmmuV3 },
  { package: '@gki/qcom-iommu', module: qcomIommu },
  { package: '@gki/drm-msm', module: msm },
  { package: '@gki/drm-panfrost', module: panfrost },
  { package: 'gki', module: dmaTestModule },
];

/** One module of the catalogue: kbuild facts joined with the package that provides it. */
export interface CatalogueEntry extends KbuildModule {
  /** The providing package and its version; absent when this build has none. */
  readonly provider?: {
    readonly package: string;
    readonly version: string;
    build(options: BuildOptions): KernelModule;
  };
}

export interface Catalogue {
  /** In kbuild link order. */
  readonly entries: readonly CatalogueEntry[];
  /** The kernel itself (the core every image contains). */
  readonly kernel: { readonly package: string; readonly version: string };
  byModule(name: string): CatalogueEntry | undefined;
  bySymbol(symbol: string): CatalogueEntry | undefined;
}

const require = createRequire(import.meta.url);

/** The version in `pkg`'s package.json, as installed beside this app. */
export function packageVersion(pkg: string): string {
  const json = JSON.parse(readFileSync(require.resolve(`${pkg}/package.json`), 'utf8')) as { version?: unknown };
  if (typeof json.version !== 'string') throw new Error(`${pkg}/package.json has no version`);
  return json.version;
}

function moduleName(p: ModulePackage): string {
  return typeof p.module === 'function' ? p.module({}).name : p.module.name;
}

/**
 * Joins kbuild facts with module packages. Throws for a package whose module the kbuild table
 * does not place (a programming error: add its kbuild line first).
 */
export function makeCatalogue(
  kbuild: readonly KbuildModule[],
  packages: readonly ModulePackage[],
  versionOf: (pkg: string) => string = packageVersion,
  kernel = { package: '@gki/kernel', version: versionOf('@gki/kernel') },
): Catalogue {
  const provided = new Map<string, ModulePackage>();
  for (const p of packages) {
    const name = moduleName(p);
    if (!kbuild.some((k) => k.module === name)) throw new Error(`module catalogue: ${p.package} provides '${name}', which no kbuild entry places`);
    if (provided.has(name)) throw new Error(`module catalogue: two packages provide '${name}'`);
    provided.set(name, p);
  }
  const entries: CatalogueEntry[] = kbuild.map((k) => {
    const p = provided.get(k.module);
    if (!p) return k;
    const mod = p.module;
    return {
      ...k,
      provider: { package: p.package, version: versionOf(p.package), build: (o: BuildOptions) => (typeof mod === 'function' ? mod(o) : mod) },
    };
  });
  return {
    entries,
    kernel,
    byModule: (name) => entries.find((e) => e.module === name || e.module.replace(/-/g, '_') === name.replace(/-/g, '_')),
    bySymbol: (symbol) => entries.find((e) => e.symbol === symbol),
  };
}

let real: Catalogue | undefined;

/** The catalogue of this build of gki. */
export function defaultCatalogue(): Catalogue {
  return (real ??= makeCatalogue(KBUILD_MODULES, MODULE_PACKAGES));
}
