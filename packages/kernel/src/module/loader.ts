import { EBUSY, EEXIST, EINVAL, ELOOP, ENOENT, ENOEXEC, KernelError, errnoName } from '../errno.js';
import { KERNEL_COSTS } from '../costs.js';
import type { Kernel } from '../kernel.js';
import { depmodImage } from './depmod.js';
import { globMatch } from './glob.js';
import { licenseIsGplCompatible } from './license.js';
import type {
  DepmodInfo,
  ExportedSymbol,
  InitcallLevel,
  KernelImage,
  KernelModule,
  LoaderSnapshot,
  ModuleContext,
  ModuleInfo,
  ModuleLoaderApi,
  ModuleRef,
  ModuleState,
  SymbolInfo,
} from './types.js';

export { GPL_COMPATIBLE_LICENSES, licenseIsGplCompatible } from './license.js';

/** Module names compare with '-' and '_' equivalent, as kmod normalises them. */
function modKey(name: string): string {
  return name.replace(/-/g, '_');
}

/** A short strerror() for the user-space tool messages (kmod's wording where it has its own). */
function toolStrerror(err: number): string {
  switch (-err) {
    case ENOENT:
      return 'Unknown symbol in module, or unknown parameter (see dmesg)';
    case ENOEXEC:
      return 'Invalid module format';
    case EINVAL:
      return 'Invalid argument';
    case EEXIST:
      return 'Module already in kernel';
    case EBUSY:
      return 'Device or resource busy';
    case ELOOP:
      return 'Too many levels of symbolic links';
    default:
      return errnoName(err);
  }
}

interface SymEntry {
  readonly sym: ExportedSymbol;
  /** The loadable module that exports it; null for vmlinux (core and built-in exports). */
  readonly owner: ModuleRecord | null;
  /** 'vmlinux', a built-in's name, or the owning module's name. */
  readonly provider: string;
}

/** The loader's own record of one module; handed out as its `ModuleRef`. */
class ModuleRecord implements ModuleRef {
  state: ModuleState;
  dynamicRefs = 0;
  /** Modules using our symbols (Linux: source_list / holders). */
  readonly holders = new Set<ModuleRecord>();
  /** Modules whose symbols we use (Linux: target_list). */
  readonly targets = new Set<ModuleRecord>();
  /** Symbol values bound at load (the relocations). */
  readonly resolved = new Map<string, unknown>();
  readonly exported: string[] = [];
  proprietary = false;
  initcallResult: number | null = null;
  readonly ctx: ModuleContext;

  constructor(
    readonly loader: ModuleLoader,
    readonly def: KernelModule,
    readonly builtin: boolean,
    state: ModuleState,
  ) {
    this.state = state;
    const self = this;
    this.ctx = {
      kernel: loader.kernel,
      self: this,
      symbol<T>(name: string): T {
        return self.lookupSymbol(name) as T;
      },
    };
  }

  get name(): string {
    return this.def.name;
  }

  /** module_refcount(): every holder pins us once, plus try_module_get references. */
  get refcount(): number {
    return this.builtin ? 0 : this.holders.size + this.dynamicRefs;
  }

  private lookupSymbol(name: string): unknown {
    const needs = this.def.needs ?? [];
    if (!needs.includes(name)) {
      throw new KernelError(-ENOENT, `${this.name}: symbol '${name}' is not listed in its needs`);
    }
    if (this.resolved.has(name)) return this.resolved.get(name);
    if (this.builtin) {
      // Built-ins are linked into vmlinux: their needs resolve against the core table.
      const e = this.loader.coreSymbol(name);
      if (e) return e.sym.value;
    }
    throw new KernelError(-ENOENT, `${this.name}: symbol '${name}' is not resolved`);
  }
}

type Lookup =
  | { kind: 'none' }
  | { kind: 'present' }
  | { kind: 'modules'; defs: KernelModule[] };

interface PathEntry {
  key: string;
  name: string;
  edge: 'root' | 'hard' | 'soft';
}

/**
 * The module loader: the kernel symbol table, load/unload with holders and refcounts,
 * GPL-only and namespaced exports, proprietary taint, built-in initcalls, and modprobe /
 * request_module over the image's depmod data (hard deps, softdeps, glob aliases).
 */
export class ModuleLoader implements ModuleLoaderApi {
  private readonly symbols = new Map<string, SymEntry>();
  /** Loadable modules currently in the kernel (coming, live or going), in load order. */
  private readonly loaded = new Map<string, ModuleRecord>();
  private readonly builtins: ModuleRecord[] = [];
  private readonly builtinByKey = new Map<string, ModuleRecord>();
  /** Loadable modules shipped in the image, by normalised name, image order. */
  private readonly imageModules = new Map<string, KernelModule>();
  /** modules.symbols: symbol -> first image module exporting it. */
  private readonly imageProviders = new Map<string, KernelModule>();
  private imageSet = false;
  private readonly taints = new Set<string>();
  /**
   * The kernel.modprobe sysctl: the helper request_module runs. Empty disables module
   * autoloading: request_module answers -ENOENT without loading anything (as Linux does with
   * an empty modprobe_path); explicit modprobe/insmod still work.
   */
  modprobePath = '/sbin/modprobe';

  constructor(readonly kernel: Kernel) {}

  private get log() {
    return this.kernel.log;
  }

  // ------------------------------------------------------------------ symbol table

  /**
   * Exports a core kernel symbol (EXPORT_SYMBOL* in vmlinux). Throws KernelError(-EEXIST) for a
   * name already exported (a link error in the real kernel).
   */
  exportCore(name: string, sym: ExportedSymbol): void {
    if (typeof name !== 'string' || name === '') throw new KernelError(-EINVAL, 'exportCore: empty symbol name');
    const old = this.symbols.get(name);
    if (old) throw new KernelError(-EEXIST, `exportCore: duplicate symbol ${name} (owned by ${old.provider})`);
    this.symbols.set(name, { sym: this.instantiate(sym), owner: null, provider: 'vmlinux' });
  }

  /** A symbol exported by vmlinux (core or built-in), if any. */
  /** The table's copy of an exported symbol, bound to this kernel when it asks to be. */
  private instantiate(sym: ExportedSymbol): ExportedSymbol {
    return sym.bind ? { ...sym, value: sym.bind(this.kernel) } : { ...sym };
  }

  coreSymbol(name: string): { sym: ExportedSymbol; provider: string } | undefined {
    const e = this.symbols.get(name);
    return e && e.owner === null ? e : undefined;
  }

  /** Kernel taint flags raised by module loading (sticky, as in Linux). */
  kernelTaints(): string[] {
    return [...this.taints].sort();
  }

  // ------------------------------------------------------------------ image and built-ins

  /**
   * Makes `image`'s built-ins and loadable modules known (before boot runs initcalls). Built-in
   * exports become core symbols at once (they are part of vmlinux). Throws KernelError for an
   * image that could not have been linked: a second image (-EBUSY), duplicate module names or
   * duplicate built-in exports (-EEXIST), a built-in needing a symbol vmlinux lacks (-ENOENT).
   */
  setImage(image: KernelImage): void {
    if (this.imageSet) throw new KernelError(-EBUSY, 'setImage: the image is already set');
    const seen = new Set<string>();
    for (const m of [...image.builtin, ...image.modules]) {
      if (!m || typeof m.name !== 'string' || m.name === '' || typeof m.init !== 'function') {
        throw new KernelError(-ENOEXEC, `setImage: invalid module descriptor '${String(m?.name)}'`);
      }
      const k = modKey(m.name);
      if (seen.has(k)) throw new KernelError(-EEXIST, `setImage: module ${m.name} appears twice in the image`);
      seen.add(k);
    }
    const newExports = new Map<string, string>();
    for (const b of image.builtin) {
      for (const s of Object.keys(b.exports ?? {})) {
        const owner = newExports.get(s) ?? this.symbols.get(s)?.provider;
        if (owner !== undefined) {
          throw new KernelError(-EEXIST, `setImage: multiple definition of ${s} (${b.name} and ${owner})`);
        }
        newExports.set(s, b.name);
      }
    }
    for (const b of image.builtin) {
      for (const s of b.needs ?? []) {
        if (!newExports.has(s) && !this.coreSymbol(s)) {
          throw new KernelError(-ENOENT, `setImage: undefined reference to ${s} in built-in ${b.name}`);
        }
      }
    }
    // Validated: commit.
    this.imageSet = true;
    for (const b of image.builtin) {
      const rec = new ModuleRecord(this, b, true, 'live');
      rec.proprietary = !licenseIsGplCompatible(b.license);
      for (const [s, sym] of Object.entries(b.exports ?? {})) {
        this.symbols.set(s, { sym: this.instantiate(sym), owner: null, provider: b.name });
        rec.exported.push(s);
      }
      this.builtins.push(rec);
      this.builtinByKey.set(modKey(b.name), rec);
    }
    for (const m of image.modules) {
      this.imageModules.set(modKey(m.name), m);
      for (const s of Object.keys(m.exports ?? {})) {
        if (!this.imageProviders.has(s)) this.imageProviders.set(s, m);
      }
    }
  }

  /** Runs the init of every built-in module at `level` (default level 'device'), in image order. */
  runBuiltinInitcalls(level: InitcallLevel): void {
    for (const rec of this.builtins) {
      if ((rec.def.initcall ?? 'device') !== level || rec.initcallResult !== null) continue;
      this.kernel.board.clock.advance(KERNEL_COSTS.initcallNs);
      const ret = this.callInit(rec);
      rec.initcallResult = ret;
      if (ret < 0) this.log.warn('', `initcall ${rec.name} returned ${ret}`);
      else this.log.debug('', `initcall ${rec.name} returned 0`);
    }
  }

  /** Calls init, mapping a throw to its errno and a positive return to 0 (with the kernel's warning). */
  private callInit(rec: ModuleRecord): number {
    let ret: number;
    try {
      ret = rec.def.init(rec.ctx);
    } catch (e) {
      if (e instanceof KernelError) {
        ret = e.errno;
      } else {
        ret = -EINVAL;
      }
      this.log.err(rec.name, `init threw: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (typeof ret !== 'number' || !Number.isInteger(ret)) {
      this.log.warn(rec.name, `init returned a non-integer (${String(ret)}), treating it as -EINVAL`);
      return -EINVAL;
    }
    if (ret > 0) {
      this.log.warn(rec.name, `'${rec.name}'->init suspiciously returned ${ret}, it should follow 0/-E convention`);
      return 0;
    }
    return ret;
  }

  // ------------------------------------------------------------------ load / unload

  /**
   * insmod: loads `mod` without pulling in dependencies. 0, or -errno with nothing left behind:
   * -EEXIST already loaded (or built in), -ENOENT unknown symbol (including GPL-only symbols a
   * proprietary module cannot see), -EINVAL namespace not imported, -EBUSY a needed module is
   * still initialising, -ENOEXEC duplicate export or malformed descriptor, else init's errno.
   */
  load(mod: KernelModule): number {
    if (!mod || typeof mod.name !== 'string' || mod.name === '' || typeof mod.init !== 'function') {
      this.log.warn('insmod', `ERROR: could not insert module ${String(mod?.name)}: Invalid module format`);
      return -ENOEXEC;
    }
    const name = mod.name;
    const k = modKey(name);
    if (this.loaded.has(k) || this.builtinByKey.has(k)) {
      this.log.warn(name, 'module is already loaded');
      return -EEXIST;
    }

    this.kernel.board.clock.advance(KERNEL_COSTS.moduleLoadNs + KERNEL_COSTS.moduleSymbolNs * (mod.needs?.length ?? 0));
    const license = mod.license || 'unspecified';
    let proprietary = !licenseIsGplCompatible(license);
    if (proprietary) {
      this.log.warn(name, `module license '${license}' taints kernel.`);
      this.taints.add('PROPRIETARY_MODULE');
    }

    // Resolve every needed symbol, in order, reporting each failure (simplify_symbols).
    const imports = new Set(mod.importNamespaces ?? []);
    const resolved = new Map<string, unknown>();
    const targets = new Set<ModuleRecord>();
    let usingGplOnly = false;
    let err = 0;
    for (const s of new Set(mod.needs ?? [])) {
      let r = 0;
      const e = this.symbols.get(s);
      if (!e || (e.sym.gplOnly && proprietary)) {
        r = -ENOENT;
      } else {
        if (e.sym.gplOnly) usingGplOnly = true;
        if (e.owner?.proprietary) {
          if (usingGplOnly) {
            this.log.err(name, `module using GPL-only symbols uses symbols ${s} from proprietary module ${e.owner.name}.`);
            r = -ENOENT;
          } else if (!proprietary) {
            this.log.warn(name, `module uses symbols ${s} from proprietary module ${e.owner.name}, inheriting taint.`);
            proprietary = true;
            this.taints.add('PROPRIETARY_MODULE');
          }
        }
        if (r === 0 && e.sym.namespace && !imports.has(e.sym.namespace)) {
          this.log.err(name, `module uses symbol (${s}) from namespace ${e.sym.namespace}, but does not import it.`);
          r = -EINVAL;
        }
        if (r === 0 && e.owner) {
          if (e.owner.state === 'coming') r = -EBUSY;
          else if (e.owner.state !== 'live') r = -ENOENT;
          else targets.add(e.owner);
        }
        if (r === 0) resolved.set(s, e.sym.value);
      }
      if (r < 0) {
        this.log.warn(name, `Unknown symbol ${s} (err ${r})`);
        err = r;
      }
    }
    if (err < 0) return err;

    for (const s of Object.keys(mod.exports ?? {})) {
      const e = this.symbols.get(s);
      if (e) {
        this.log.err(name, `exports duplicate symbol ${s} (owned by ${e.owner ? e.owner.name : 'kernel'})`);
        return -ENOEXEC;
      }
    }

    // Formed: from here the module is visible (state 'coming') with its exports and uses.
    const rec = new ModuleRecord(this, mod, false, 'coming');
    rec.proprietary = proprietary;
    for (const [s, v] of resolved) rec.resolved.set(s, v);
    this.loaded.set(k, rec);
    for (const [s, sym] of Object.entries(mod.exports ?? {})) {
      this.symbols.set(s, { sym: this.instantiate(sym), owner: rec, provider: name });
      rec.exported.push(s);
    }
    for (const t of targets) {
      rec.targets.add(t);
      t.holders.add(rec);
    }

    const ret = this.callInit(rec);
    if (ret < 0) {
      // Linux does not call exit here: the module undoes its own partial work; we drop ours.
      rec.state = 'going';
      this.teardown(rec);
      this.log.warn(name, `module init failed: ${ret} (${errnoName(ret)}), module removed`);
      if (rec.dynamicRefs > 0) this.log.warn(name, `freed with ${rec.dynamicRefs} reference(s) still held`);
      return ret;
    }
    rec.state = 'live';
    this.log.info(name, `module loaded (version ${mod.version || '?'}, license '${license}')`);
    // What the module brought (a driver, a page-table format, an exported service) may be what a
    // deferred probe waits for: retry the pending devices (a no-op before deferred probing is
    // enabled at the end of boot, where the late pass retries them anyway).
    this.kernel.drivers.deferredProbeTrigger();
    return 0;
  }

  /** Withdraws exports, drops uses, forgets the module; state becomes 'gone'. */
  private teardown(rec: ModuleRecord): void {
    for (const s of rec.exported) {
      if (this.symbols.get(s)?.owner === rec) this.symbols.delete(s);
    }
    for (const t of rec.targets) t.holders.delete(rec);
    rec.targets.clear();
    this.loaded.delete(modKey(rec.name));
    rec.state = 'gone';
  }

  /**
   * rmmod NAME: 0, or -ENOENT (not loaded, or built in), -EBUSY (other modules use its symbols,
   * it is not live, it has no exit, or try_module_get references are held). On success the
   * module goes 'going', its exit runs, its exports and uses are dropped, and it is 'gone'.
   */
  unload(name: string): number {
    return this.remove(name, 'rmmod');
  }

  private remove(name: string, tool: string): number {
    const k = modKey(name);
    if (this.builtinByKey.has(k)) {
      this.log.warn(tool, `ERROR: Module ${name} is builtin.`);
      return -ENOENT;
    }
    const rec = this.loaded.get(k);
    if (!rec) {
      this.log.warn(tool, `ERROR: Module ${name} is not currently loaded`);
      return -ENOENT;
    }
    if (rec.holders.size > 0) {
      this.log.warn(tool, `ERROR: Module ${rec.name} is in use by: ${this.names(rec.holders).join(' ')}`);
      return -EBUSY;
    }
    if (rec.state !== 'live' || !rec.def.exit) {
      this.log.warn(tool, `ERROR: could not remove module ${rec.name}: Device or resource busy`);
      return -EBUSY;
    }
    if (rec.dynamicRefs > 0) {
      this.log.warn(tool, `ERROR: Module ${rec.name} is in use`);
      return -EBUSY;
    }
    rec.state = 'going';
    this.kernel.board.clock.advance(KERNEL_COSTS.moduleUnloadNs);
    try {
      rec.def.exit(rec.ctx);
    } catch (e) {
      this.log.err(rec.name, `exit threw: ${e instanceof Error ? e.message : String(e)}`);
    }
    this.teardown(rec);
    this.log.info(rec.name, 'module unloaded');
    return 0;
  }

  /** True when `rec` could be unloaded right now (what modprobe -r checks before trying deps). */
  private removable(rec: ModuleRecord): boolean {
    return rec.state === 'live' && rec.holders.size === 0 && rec.dynamicRefs === 0 && rec.def.exit !== undefined;
  }

  /**
   * modprobe -r NAME|ALIAS: unloads the module, then (best effort, skipping anything still in
   * use) its post-softdeps before it, its hard dependencies that nothing else uses any more, and
   * its pre-softdeps, as kmod does (`softdep c pre: a b post: d e` removes d e c, then a b).
   * 0, or the module's own unload errno (-ENOENT when it is not loaded or is built in).
   */
  modprobeRemove(nameOrAlias: string): number {
    const k = modKey(nameOrAlias);
    let rec = this.loaded.get(k);
    if (!rec && !this.builtinByKey.has(k)) {
      rec = [...this.loaded.values()].find((r) => (r.def.aliases ?? []).some((p) => globMatch(p, nameOrAlias)));
    }
    if (!rec) return this.remove(nameOrAlias, 'modprobe');
    if (!this.removable(rec)) return this.remove(rec.name, 'modprobe');
    for (const s of rec.def.softdep?.post ?? []) this.removeQuietly(s);
    const deps = [...rec.targets];
    const err = this.remove(rec.name, 'modprobe');
    if (err < 0) return err;
    for (const d of deps.reverse()) this.removeUnusedDeps(d);
    for (const s of rec.def.softdep?.pre ?? []) this.removeQuietly(s);
    return 0;
  }

  private removeQuietly(nameOrAlias: string): void {
    const k = modKey(nameOrAlias);
    const recs = this.loaded.has(k)
      ? [this.loaded.get(k)!]
      : [...this.loaded.values()].filter((r) => (r.def.aliases ?? []).some((p) => globMatch(p, nameOrAlias)));
    for (const r of recs) if (this.removable(r)) this.remove(r.name, 'modprobe');
  }

  private removeUnusedDeps(rec: ModuleRecord): void {
    if (rec.state === 'gone' || !this.removable(rec)) return;
    const deps = [...rec.targets];
    if (this.remove(rec.name, 'modprobe') < 0) return;
    for (const d of deps.reverse()) this.removeUnusedDeps(d);
  }

  // ------------------------------------------------------------------ references

  /** True when `ref` is a module (loaded, built-in or gone) of this kernel's loader. */
  owns(ref: ModuleRef | null | undefined): boolean {
    return ref instanceof ModuleRecord && ref.loader === this;
  }

  private own(ref: ModuleRef): ModuleRecord {
    if (!(ref instanceof ModuleRecord) || ref.loader !== this) {
      throw new KernelError(-EINVAL, `not a module of this kernel: ${String((ref as { name?: unknown })?.name)}`);
    }
    return ref;
  }

  /**
   * try_module_get: true (and one more reference) unless the module is going or gone. A null
   * owner or a built-in always succeeds and is not counted, as for Linux's NULL THIS_MODULE.
   */
  tryModuleGet(mod: ModuleRef | null | undefined): boolean {
    if (mod === null || mod === undefined) return true;
    const rec = this.own(mod);
    if (rec.builtin) return true;
    if (rec.state !== 'coming' && rec.state !== 'live') return false;
    rec.dynamicRefs++;
    return true;
  }

  /** module_put: drops a reference taken by tryModuleGet; an unbalanced put only warns. */
  modulePut(mod: ModuleRef | null | undefined): void {
    if (mod === null || mod === undefined) return;
    const rec = this.own(mod);
    if (rec.builtin) return;
    if (rec.dynamicRefs === 0) {
      this.log.warn(rec.name, 'module_put: reference count underflow (unbalanced put ignored)');
      return;
    }
    rec.dynamicRefs--;
  }

  // ------------------------------------------------------------------ lookup, modprobe, request_module

  /** The live module named `name` (or providing alias `name`), built-ins included. */
  find(name: string): ModuleRef | undefined {
    const k = modKey(name);
    const b = this.builtinByKey.get(k);
    if (b) return b;
    const rec = this.loaded.get(k);
    if (rec) return rec.state === 'live' ? rec : undefined;
    for (const r of this.loaded.values()) {
      if (r.state === 'live' && (r.def.aliases ?? []).some((p) => globMatch(p, name))) return r;
    }
    for (const r of this.builtins) {
      if ((r.def.aliases ?? []).some((p) => globMatch(p, name))) return r;
    }
    return undefined;
  }

  /** Resolves a modprobe argument the way kmod does: name, symbol:, aliases, built-ins. */
  private lookup(nameOrAlias: string): Lookup {
    const k = modKey(nameOrAlias);
    if (this.builtinByKey.has(k)) return { kind: 'present' };
    const rec = this.loaded.get(k);
    if (rec) return rec.state === 'live' ? { kind: 'present' } : { kind: 'modules', defs: [rec.def] };
    const img = this.imageModules.get(k);
    if (img) return { kind: 'modules', defs: [img] };
    if (nameOrAlias.startsWith('symbol:')) {
      const s = nameOrAlias.slice('symbol:'.length);
      if (this.coreSymbol(s)) return { kind: 'present' };
      const owner = this.symbols.get(s)?.owner;
      if (owner?.state === 'live') return { kind: 'present' };
      const p = this.imageProviders.get(s);
      return p ? { kind: 'modules', defs: [p] } : { kind: 'none' };
    }
    for (const r of this.loaded.values()) {
      if (r.state === 'live' && (r.def.aliases ?? []).some((p) => globMatch(p, nameOrAlias))) return { kind: 'present' };
    }
    const defs = [...this.imageModules.values()].filter((m) => (m.aliases ?? []).some((p) => globMatch(p, nameOrAlias)));
    if (defs.length > 0) return { kind: 'modules', defs };
    for (const r of this.builtins) {
      if ((r.def.aliases ?? []).some((p) => globMatch(p, nameOrAlias))) return { kind: 'present' };
    }
    return { kind: 'none' };
  }

  /** Hard dependencies of `def`: image modules providing needed symbols vmlinux/live modules lack. */
  private hardDeps(def: KernelModule): KernelModule[] {
    const out: KernelModule[] = [];
    for (const s of def.needs ?? []) {
      if (this.symbols.has(s)) continue;
      const p = this.imageProviders.get(s);
      if (p && p !== def && !out.includes(p)) out.push(p);
    }
    return out;
  }

  /**
   * modprobe NAME|ALIAS|symbol:SYM: loads the module(s) with their hard dependencies first
   * (strict), `softdep pre:` before and `post:` after (failures ignored). 0 when already live or
   * built in; -ENOENT when the image has no such module; -ELOOP on a hard-dependency cycle; else
   * the load's errno (for an alias matching several modules, the last one's result, as kmod).
   */
  modprobe(nameOrAlias: string): number {
    const t = this.lookup(nameOrAlias);
    if (t.kind === 'present') return 0;
    if (t.kind === 'none') {
      this.log.warn('modprobe', `FATAL: Module ${nameOrAlias} not found`);
      return -ENOENT;
    }
    let ret = 0;
    for (const def of t.defs) ret = this.probe(def, [], 'root');
    return ret;
  }

  /**
   * request_module(alias): runs modprobe for it. 0 when a module providing `alias` is live
   * afterwards (or already was, or it is built in); -ENOENT when nothing in the image provides
   * it; otherwise the (first) load's errno.
   */
  requestModule(alias: string): number {
    if (this.modprobePath === '') {
      this.log.debug('request_module', `modprobe ${alias}: module autoloading is disabled (kernel.modprobe is empty)`);
      return this.lookup(alias).kind === 'present' ? 0 : -ENOENT;
    }
    const t = this.lookup(alias);
    if (t.kind === 'present') return 0;
    if (t.kind === 'none') {
      this.log.debug('request_module', `modprobe ${alias}: no module in the image provides it`);
      return -ENOENT;
    }
    let first = 0;
    for (const def of t.defs) {
      const r = this.probe(def, [], 'root');
      if (r < 0 && first === 0) first = r;
    }
    if (t.defs.some((d) => this.loaded.get(modKey(d.name))?.state === 'live')) return 0;
    return first < 0 ? first : -ENOENT;
  }

  private probe(def: KernelModule, path: PathEntry[], edge: PathEntry['edge']): number {
    const k = modKey(def.name);
    const rec = this.loaded.get(k);
    if (rec) {
      if (rec.state === 'live') return 0;
      this.log.warn('modprobe', `ERROR: could not insert '${def.name}': ${toolStrerror(-EBUSY)} (module is ${rec.state})`);
      return -EBUSY;
    }
    const at = path.findIndex((p) => p.key === k);
    if (at >= 0) {
      const loop = [...path.slice(at).map((p) => p.name), def.name].join(' -> ');
      const edges = [...path.slice(at + 1).map((p) => p.edge), edge];
      if (edges.every((x) => x === 'hard')) {
        this.log.warn('modprobe', `ERROR: Cycle detected: ${loop}`);
        return -ELOOP;
      }
      // A loop through a softdep: kmod skips a module it already visited.
      this.log.debug('modprobe', `softdep loop ignored: ${loop}`);
      return 0;
    }
    path.push({ key: k, name: def.name, edge });
    try {
      for (const dep of this.hardDeps(def)) {
        const r = this.probe(dep, path, 'hard');
        if (r < 0) return r;
      }
      for (const s of def.softdep?.pre ?? []) this.softProbe(s, def.name, path);
      const r = this.load(def);
      if (r < 0 && r !== -EEXIST) {
        this.log.warn('modprobe', `ERROR: could not insert '${def.name}': ${toolStrerror(r)}`);
        return r;
      }
      for (const s of def.softdep?.post ?? []) this.softProbe(s, def.name, path);
      return 0;
    } finally {
      path.pop();
    }
  }

  private softProbe(nameOrAlias: string, parent: string, path: PathEntry[]): void {
    const t = this.lookup(nameOrAlias);
    if (t.kind === 'present') return;
    if (t.kind === 'none') {
      this.log.debug('modprobe', `softdep ${nameOrAlias} of ${parent} not found, ignored`);
      return;
    }
    for (const def of t.defs) {
      const r = this.probe(def, path, 'soft');
      if (r < 0) this.log.debug('modprobe', `softdep ${def.name} of ${parent} failed (${r}), ignored`);
    }
  }

  // ------------------------------------------------------------------ introspection

  private names(set: Iterable<ModuleRecord>): string[] {
    return [...set].map((r) => r.name).sort();
  }

  private info(rec: ModuleRecord): ModuleInfo {
    return {
      name: rec.name,
      version: rec.def.version,
      license: rec.def.license,
      builtin: rec.builtin,
      state: rec.state,
      refcount: rec.refcount,
      dynamicRefs: rec.dynamicRefs,
      uses: this.names(rec.targets),
      usedBy: this.names(rec.holders),
      exports: [...rec.exported].sort(),
      proprietary: rec.proprietary,
      initcallResult: rec.initcallResult,
    };
  }

  /** lsmod: built-ins in image order, then loadable modules in load order. */
  list(): ModuleInfo[] {
    return [...this.builtins, ...this.loaded.values()].map((r) => this.info(r));
  }

  /** The symbol table, sorted by name. */
  symbolTable(): SymbolInfo[] {
    return [...this.symbols.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, e]) => ({
        name,
        owner: e.provider,
        modular: e.owner !== null,
        gplOnly: e.sym.gplOnly === true,
        namespace: e.sym.namespace ?? null,
      }));
  }

  /** A deep, plain-data copy of all loader state. */
  snapshot(): LoaderSnapshot {
    return { modules: this.list(), symbols: this.symbolTable() };
  }

  /** The image's depmod view (modules.dep/.softdep/.alias/.symbols/.builtin), plus problems. */
  depmod(): DepmodInfo {
    const core: [string, ExportedSymbol][] = [];
    for (const [s, e] of this.symbols) if (e.owner === null && e.provider === 'vmlinux') core.push([s, e.sym]);
    return depmodImage({
      builtin: this.builtins.map((b) => b.def),
      modules: [...this.imageModules.values()],
      coreExports: core,
    });
  }
}
