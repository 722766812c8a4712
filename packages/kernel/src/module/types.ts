import type { Kernel } from '../kernel.js';

/** One exported symbol of a module (or of the core kernel). */
export interface ExportedSymbol {
  value: unknown;
  /** EXPORT_SYMBOL_GPL: visible only to GPL-compatible modules. */
  gplOnly?: boolean;
  /** EXPORT_SYMBOL_NS: the user must import this namespace. */
  namespace?: string;
}

export type InitcallLevel = 'pure' | 'core' | 'postcore' | 'arch' | 'subsys' | 'fs' | 'device' | 'late';

/** What a module package exports (its default export). Mirrors a .ko's .modinfo + init/exit. */
export interface KernelModule {
  /** The kernel's module name: 'io-pgtable-arm', 'arm_smmu_v3'. */
  name: string;
  /** The package version, shown in the image manifest. */
  version: string;
  /** MODULE_LICENSE string: 'GPL', 'GPL v2', 'Dual MIT/GPL', 'Proprietary', ... */
  license: string;
  description?: string;
  exports?: Record<string, ExportedSymbol>;
  /** Symbols resolved when it loads: its real (hard) dependencies. */
  needs?: string[];
  /** MODULE_IMPORT_NS. */
  importNamespaces?: string[];
  /** MODULE_SOFTDEP("pre: ... post: ..."), names may be aliases. */
  softdep?: { pre?: string[]; post?: string[] };
  /** MODULE_ALIAS / MODULE_DEVICE_TABLE: 'io-pgtable-fmt-ARM_64_LPAE_S1', 'of:N*T*Carm,smmu-v3'. */
  aliases?: string[];
  /** Initcall level when built in (module_init = 'device'). */
  initcall?: InitcallLevel;
  /** 0 or a negative errno. */
  init(ctx: ModuleContext): number;
  exit?(ctx: ModuleContext): void;
}

export type ModuleState = 'coming' | 'live' | 'going' | 'unformed';

/** A loaded (or built-in) module as the loader tracks it; what `try_module_get` takes. */
export interface ModuleRef {
  readonly name: string;
  readonly builtin: boolean;
  readonly state: ModuleState;
  /** Dynamic reference count (try_module_get/module_put). */
  readonly refcount: number;
}

export interface ModuleContext {
  /** Log, page allocator, driver core, IOMMU core. */
  kernel: Kernel;
  /** A symbol listed in the module's `needs`; throws for anything it did not declare. */
  symbol<T>(name: string): T;
  /** This module, for others' try_module_get / module_put (e.g. as an ops `owner`). */
  self: ModuleRef;
}

/**
 * What a GKI image holds: built-in modules (run at boot by initcall level), the loadable
 * modules shipped in the image (what modprobe/request_module can find), and the names
 * loaded at boot, in order.
 */
export interface KernelImage {
  builtin: KernelModule[];
  modules: KernelModule[];
  /** Module names (or aliases) modprobed at boot, in order. Default: none. */
  load?: string[];
}

/**
 * The loader as other layers (io-pgtable-core, drivers, the IOMMU core) use it.
 * `requestModule` returns 0 when a module providing `alias` is now live (or already was),
 * -ENOENT when no module in the image provides it, and the load's own -errno when the image
 * has one but it could not be loaded.
 */
export interface ModuleLoaderApi {
  tryModuleGet(mod: ModuleRef | null | undefined): boolean;
  modulePut(mod: ModuleRef | null | undefined): void;
  requestModule(alias: string): number;
  /** The live module named `name` (or providing alias `name`), if any. */
  find(name: string): ModuleRef | undefined;
}
