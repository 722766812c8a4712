import { depmodImage, globMatch, modpostImage, type DepmodInfo, type KernelImage, type KernelModule } from '@gki/kernel';
import { hasErrors, type Diagnostic } from '../kconfig/diagnostics.js';
import { mergeConfigs, parseConfigText, type ParsedConfig } from '../kconfig/parse.js';
import { resolveConfig, type ResolvedConfig, type ResolvedSymbol } from '../kconfig/resolve.js';
import { kconfigRules, type KconfigRulesName } from '../kconfig/symbols.js';
import { defaultCatalogue, type BuildOptions, type Catalogue, type CatalogueEntry } from './catalogue.js';
import { vmlinuxExports } from './kmi.js';

/** A Kconfig text and the name it goes by in diagnostics (its path, or `<gki-base>`). */
export interface ConfigSource {
  readonly text: string;
  readonly name: string;
}

export interface ComposeInput {
  /** The base configuration (the GKI base unless --base). */
  readonly base: ConfigSource;
  /** The fragment or full .config merged on top (none: the base alone). */
  readonly config?: ConfigSource;
  readonly rules: KconfigRulesName;
  /** Loadable modules to leave out of the shipped image (as a board's module list can). */
  readonly omit?: readonly string[];
  readonly catalogue?: Catalogue;
}

/** One module of the image. */
export interface PlannedModule {
  readonly entry: CatalogueEntry & { readonly provider: NonNullable<CatalogueEntry['provider']> };
  readonly module: KernelModule;
  readonly builtin: boolean;
  /** `kernel/<object>.ko`, as modules.dep and modules.builtin name it. */
  readonly path: string;
  /** Its compiled-in sub-options and their values. */
  readonly options: BuildOptions;
}

export interface ImagePlan {
  readonly config: ResolvedConfig;
  /** Built into the kernel, in link order. */
  readonly builtin: readonly PlannedModule[];
  /** Loadable modules shipped in the image, in modules.order. */
  readonly modules: readonly PlannedModule[];
  /** Built as modules but left out with --omit. */
  readonly omitted: readonly PlannedModule[];
  /** modules.load: the order the image loads its modules at boot. */
  readonly load: readonly PlannedModule[];
  readonly depmod: DepmodInfo;
  /** The image as the kernel boots it. */
  readonly kernelImage: KernelImage;
  /** Kernel symbols set to y or m whose code this project does not model (no module here). */
  readonly unmodelled: readonly ResolvedSymbol[];
}

/** A symbol the other rule set resolves differently. */
export interface RulesDifference {
  readonly symbol: string;
  readonly value: string;
  readonly otherValue: string;
  /** The module the symbol builds, if any. */
  readonly module?: string;
  /** Why, when a config line's value is not valid under the other rules (a bool has no m). */
  readonly note?: string;
}

export interface ComposeResult {
  readonly ok: boolean;
  readonly diagnostics: readonly Diagnostic[];
  readonly config?: ResolvedConfig;
  readonly plan?: ImagePlan;
  /** The same inputs under the other rule set: what would differ. */
  readonly otherRules?: { readonly name: KconfigRulesName; readonly differences: readonly RulesDifference[] };
}

const modKey = (n: string) => n.replace(/-/g, '_');

/** Parses and merges the inputs and resolves them under `rulesName`. */
export function resolveInputs(base: ConfigSource, config: ConfigSource | undefined, rulesName: KconfigRulesName): { config?: ResolvedConfig; diagnostics: Diagnostic[]; merged?: ReturnType<typeof mergeConfigs> } {
  const parsed: ParsedConfig[] = [parseConfigText(base.text, base.name)];
  if (config) parsed.push(parseConfigText(config.text, config.name));
  const diagnostics = parsed.flatMap((p) => p.diagnostics);
  if (hasErrors(diagnostics)) return { diagnostics };
  const merged = mergeConfigs(parsed[0]!, parsed.slice(1));
  diagnostics.push(...merged.diagnostics);
  const r = resolveConfig(kconfigRules(rulesName), merged.assignments);
  diagnostics.push(...r.diagnostics);
  return { config: r.config, diagnostics, merged };
}

function where(r: ResolvedSymbol): Pick<Diagnostic, 'file' | 'line'> {
  return r.origin === 'config' && r.assignment ? { file: r.assignment.file, line: r.assignment.line } : {};
}

function why(r: ResolvedSymbol): string[] {
  if (r.origin === 'select') return [`CONFIG_${r.sym.name}=${r.value} because ${r.selectedBy.map((s) => `${s}`).join(', ')} select${r.selectedBy.length > 1 ? '' : 's'} it`];
  if (r.origin === 'default') return [`CONFIG_${r.sym.name}=${r.value} by its Kconfig default`];
  return [];
}

/** Names a softdep entry may match: a module by name, or one of its aliases (glob patterns). */
function matches(m: KernelModule, target: string): boolean {
  return modKey(m.name) === modKey(target) || (m.aliases ?? []).some((p) => globMatch(p, target));
}

/**
 * modules.load: every shipped module in modules.order, each preceded by its hard dependencies
 * (modules.dep) and its pre-softdeps and followed by its post-softdeps, as modprobe would load
 * them; a module already placed is not placed again, so softdep loops break at the first
 * module reached.
 */
export function loadOrder(modules: readonly PlannedModule[], depmod: DepmodInfo): PlannedModule[] {
  const out: PlannedModule[] = [];
  const seen = new Set<PlannedModule>();
  const byName = (n: string) => modules.find((p) => modKey(p.module.name) === modKey(n));
  const resolveSoft = (t: string) => modules.filter((p) => matches(p.module, t));
  const visit = (p: PlannedModule): void => {
    if (seen.has(p)) return;
    seen.add(p);
    for (const d of depmod.dep[p.module.name] ?? []) {
      const q = byName(d);
      if (q) visit(q);
    }
    for (const s of p.module.softdep?.pre ?? []) for (const q of resolveSoft(s)) visit(q);
    out.push(p);
    for (const s of p.module.softdep?.post ?? []) for (const q of resolveSoft(s)) visit(q);
  };
  for (const p of modules) visit(p);
  return out;
}

/** Maps a resolved configuration to the image's modules and validates the result. */
export function planImage(config: ResolvedConfig, catalogue: Catalogue, omit: readonly string[] = []): { plan?: ImagePlan; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const builtin: PlannedModule[] = [];
  let modules: PlannedModule[] = [];
  for (const e of catalogue.entries) {
    const r = config.symbols.get(e.symbol);
    if (!r || r.tri === 0) continue;
    const path = `kernel/${e.object}.ko`;
    if (!e.provider) {
      diagnostics.push({
        severity: 'error',
        ...where(r),
        message: `CONFIG_${e.symbol}=${r.value} builds ${e.module} (${path}), but this build of gki has no package that provides it`,
        detail: [...why(r), `set CONFIG_${e.symbol} to n, or add the module's package to the catalogue (apps/gki/src/compose/catalogue.ts)`],
      });
      continue;
    }
    const options: Record<string, string> = {};
    for (const o of e.options ?? []) options[o] = config.get(o).value;
    const module = e.provider.build(options);
    if (module.name !== e.module) {
      diagnostics.push({ severity: 'error', message: `${e.provider.package} built module '${module.name}' where the catalogue expects '${e.module}'` });
      continue;
    }
    const p: PlannedModule = { entry: e as PlannedModule['entry'], module, builtin: r.tri === 2, path, options };
    (p.builtin ? builtin : modules).push(p);
  }

  const omitted: PlannedModule[] = [];
  for (const name of omit) {
    if (omitted.some((p) => modKey(p.module.name) === modKey(name))) continue; // named twice
    const i = modules.findIndex((p) => modKey(p.module.name) === modKey(name));
    if (i < 0) {
      const b = builtin.find((p) => modKey(p.module.name) === modKey(name));
      const e = catalogue.byModule(name);
      const reason = b ? `it is built into the kernel (CONFIG_${b.entry.symbol}=y)` : e ? `CONFIG_${e.symbol}=${config.symbols.get(e.symbol)?.value ?? 'n'} does not build it as a module` : 'no such module';
      diagnostics.push({ severity: 'error', message: `--omit ${name}: not a loadable module of this image: ${reason}` });
      continue;
    }
    omitted.push(modules[i]!);
    modules = modules.filter((_, j) => j !== i);
  }
  if (hasErrors(diagnostics)) return { diagnostics };

  // modpost and depmod resolve against vmlinux: the core kernel's exports and the built-ins'
  const image = { builtin: builtin.map((p) => p.module), modules: modules.map((p) => p.module), coreExports: vmlinuxExports() };
  for (const f of modpostImage(image)) {
    const provider = f.symbol ? omitted.find((p) => Object.keys(p.module.exports ?? {}).includes(f.symbol!)) : undefined;
    diagnostics.push({
      severity: 'error',
      message: `${f.kind === 'builtin-needs-module' || (f.module === 'vmlinux' && f.kind === 'undefined') ? 'ld' : 'modpost'}: ${f.message}`,
      ...(provider ? { detail: [`${provider.module.name} exports it, but --omit leaves it out of the image`] } : {}),
    });
  }
  const depmod = depmodImage(image);
  for (const c of depmod.cycles) diagnostics.push({ severity: 'error', message: `depmod: hard dependency cycle: ${c.join(' -> ')}` });
  if (hasErrors(diagnostics)) return { diagnostics };

  const all = [...builtin, ...modules];
  for (const p of all) {
    for (const kind of ['pre', 'post'] as const) {
      for (const t of p.module.softdep?.[kind] ?? []) {
        if (all.some((q) => matches(q.module, t))) continue;
        const left = omitted.find((q) => matches(q.module, t));
        diagnostics.push({
          severity: 'warning',
          message: `softdep: ${p.module.name} lists ${t} (${kind}:), which is not in the image`,
          detail: [left ? `${left.module.name} is left out with --omit` : `no module of the image is named or aliased ${t}`, `softdeps are optional: modprobe loads ${p.module.name} without it`],
        });
      }
    }
  }

  const load = loadOrder(modules, depmod);
  const unmodelled = [...config.symbols.values()].filter((r) => !r.sym.modelled && r.sym.type === 'tristate' && r.tri > 0);
  const plan: ImagePlan = {
    config,
    builtin,
    modules,
    omitted,
    load,
    depmod,
    kernelImage: { builtin: builtin.map((p) => p.module), modules: modules.map((p) => p.module), load: load.map((p) => p.module.name) },
    unmodelled,
  };
  return { plan, diagnostics };
}

/**
 * Composes an image: merges the configuration onto the base (merge_config.sh), resolves it
 * under the chosen rules (Kconfig), maps the symbols to module packages, and validates the
 * image with the kernel's own depmod and modpost checks. Also resolves the same inputs under
 * the other rule set and reports where they differ. `ok` is false when any error was found;
 * nothing is to be written then.
 */
export function composeImage(input: ComposeInput): ComposeResult {
  const catalogue = input.catalogue ?? defaultCatalogue();
  const r = resolveInputs(input.base, input.config, input.rules);
  if (!r.config) return { ok: false, diagnostics: r.diagnostics };
  const p = planImage(r.config, catalogue, input.omit);
  const diagnostics = [...r.diagnostics, ...p.diagnostics];

  const otherName: KconfigRulesName = input.rules === 'seed' ? 'mainline' : 'seed';
  const other = resolveConfig(kconfigRules(otherName), r.merged!.assignments).config;
  const differences: RulesDifference[] = [];
  for (const [name, s] of r.config.symbols) {
    const o = other.symbols.get(name);
    if (!o || o.value === s.value) continue;
    const e = catalogue.bySymbol(name);
    const a = s.assignment;
    const otherSym = kconfigRules(otherName).byName.get(name);
    const note =
      a && otherSym && a.raw === 'm' && otherSym.type === 'bool'
        ? `${a.file}:${a.line} sets m, which a bool does not take under ${otherName} rules: the line is ignored there`
        : undefined;
    differences.push({ symbol: name, value: s.value, otherValue: o.value, ...(e ? { module: e.module } : {}), ...(note ? { note } : {}) });
  }
  return {
    ok: !hasErrors(diagnostics) && p.plan !== undefined,
    diagnostics,
    config: r.config,
    ...(p.plan ? { plan: p.plan } : {}),
    otherRules: { name: otherName, differences },
  };
}
