import type { Kernel } from '../kernel.js';

/** One exported symbol of a module (or of the core kernel). */
export interface ExportedSymbol {
  value: unknown;
  /**
   * For code that in Linux is a global of the one running kernel (a built-in's registry, say):
   * the value for a given kernel instance, computed when the symbol enters that kernel's symbol
   * table. The model boots many kernels in one process, so such a symbol is bound per kernel
   * instead of `value` being shared by all of them.
   */
  bind?: (kernel: Kernel) => unknown;
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

/**
 * Lifecycle of a loadable module: 'coming' while its init runs, 'live' once init returned 0,
 * 'going' while it is being unloaded (or its failed init is being rolled back) and 'gone' after
 * (a stale ref). 'unformed' is Linux's pre-formation state, kept for completeness: the model
 * never exposes a module in it. Built-in modules are always 'live'.
 */
export type ModuleState = 'unformed' | 'coming' | 'live' | 'going' | 'gone';

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
  /**
   * The architecture the image was built for (ARCH / CONFIG_64BIT / CONFIG_ARM_LPAE), which
   * drivers consult where Linux decides with IS_ENABLED on them. Default 'arm64' (GKI).
   */
  arch?: KernelArchName;
}

/**
 * Kernel build architectures: 'arm64' (CONFIG_64BIT), 'arm-lpae' (32-bit ARM with
 * CONFIG_ARM_LPAE) and 'arm' (32-bit ARM with short-descriptor page tables).
 */
export type KernelArchName = 'arm64' | 'arm-lpae' | 'arm';

/** What the build architecture implies, as drivers test it. */
export interface KernelArch {
  readonly name: KernelArchName;
  /** CONFIG_64BIT. */
  readonly is64bit: boolean;
  /** CONFIG_ARM_LPAE, or any 64-bit kernel (its page tables are long-descriptor). */
  readonly lpae: boolean;
}

/** The KernelArch for a name; throws RangeError for an unknown one. */
export function kernelArch(name: KernelArchName): KernelArch {
  switch (name) {
    case 'arm64':
      return { name, is64bit: true, lpae: true };
    case 'arm-lpae':
      return { name, is64bit: false, lpae: true };
    case 'arm':
      return { name, is64bit: false, lpae: false };
    default:
      throw new RangeError(`unknown kernel architecture '${String(name)}'`);
  }
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

/** One module as `lsmod` (and the CLI) shows it; plain data. */
export interface ModuleInfo {
  name: string;
  version: string;
  license: string;
  builtin: boolean;
  state: ModuleState;
  /** module_refcount(): holders plus dynamic references (0 for built-ins, which are never pinned). */
  refcount: number;
  /** try_module_get references currently held. */
  dynamicRefs: number;
  /** Modules whose symbols this one uses (its targets), sorted. */
  uses: string[];
  /** Modules using this one's symbols (its holders, /sys/module/X/holders), sorted. */
  usedBy: string[];
  /** Symbols this module exports, sorted. */
  exports: string[];
  /** Tainted proprietary (own licence or inherited from a proprietary module it uses). */
  proprietary: boolean;
  /** Built-ins: what their initcall returned (null before it ran). Loadable modules: null. */
  initcallResult: number | null;
}

/** One entry of the kernel's symbol table; plain data. */
export interface SymbolInfo {
  name: string;
  /** 'vmlinux' for core exports, the built-in's name for a built-in's, else the module's name. */
  owner: string;
  /** True when the owner is a loadable module (using the symbol pins it). */
  modular: boolean;
  gplOnly: boolean;
  namespace: string | null;
}

/** Everything the loader holds, as plain data: `toEqual` before/after proves "unchanged". */
export interface LoaderSnapshot {
  /** Built-ins in image order, then loadable modules in load order. */
  modules: ModuleInfo[];
  /** Sorted by name. */
  symbols: SymbolInfo[];
}

/** What depmod computes over an image (modules.dep, .softdep, .alias, .symbols, .builtin). */
export interface DepmodInfo {
  /** Module -> its transitive hard (symbol) dependencies in load order, dependencies first. */
  dep: Record<string, string[]>;
  /** Module -> MODULE_SOFTDEP lines (names or aliases, as written). */
  softdep: Record<string, { pre: string[]; post: string[] }>;
  /** `alias PATTERN MODULE` lines, image order (built-ins excluded, as modules.builtin.alias). */
  alias: { pattern: string; module: string }[];
  /** Symbol -> the image module providing it (modules.symbols); core symbols are absent. */
  symbols: Record<string, string>;
  /** Built-in module names (modules.builtin). */
  builtin: string[];
  /** Module -> needed symbols that neither the core nor any image module exports. */
  unresolved: Record<string, string[]>;
  /** Hard-dependency cycles, each as a closed path ['a', 'b', 'a']. */
  cycles: string[][];
}
