import { licenseIsGplCompatible } from './license.js';
import type { DepmodInfo, ExportedSymbol, KernelModule } from './types.js';

/**
 * An image as the build tools see it, before anything boots: the modules linked into vmlinux,
 * the loadable modules shipped beside it, and the symbols the core kernel exports itself
 * (EXPORT_SYMBOL in vmlinux proper, besides the built-ins' exports).
 */
export interface ImageModules {
  builtin: readonly KernelModule[];
  modules: readonly KernelModule[];
  coreExports?: Iterable<readonly [string, ExportedSymbol]>;
}

/** One problem modpost (or the vmlinux link) would report for an image. */
export interface ModpostFinding {
  /** The module the finding is about ('vmlinux' for a built-in's link error). */
  module: string;
  kind: 'undefined' | 'gpl-only' | 'namespace' | 'no-license' | 'duplicate-export' | 'builtin-needs-module';
  symbol: string | null;
  /** The build tools' wording. */
  message: string;
}

interface CoreSym {
  sym: ExportedSymbol;
  provider: string;
}

function coreTable(image: ImageModules): Map<string, CoreSym> {
  const core = new Map<string, CoreSym>();
  for (const [s, sym] of image.coreExports ?? []) if (!core.has(s)) core.set(s, { sym, provider: 'vmlinux' });
  for (const b of image.builtin) {
    for (const [s, sym] of Object.entries(b.exports ?? {})) if (!core.has(s)) core.set(s, { sym, provider: b.name });
  }
  return core;
}

/** modules.symbols: symbol -> the first image module (image order) exporting it. */
function providerTable(image: ImageModules): Map<string, KernelModule> {
  const providers = new Map<string, KernelModule>();
  for (const m of image.modules) {
    for (const s of Object.keys(m.exports ?? {})) if (!providers.has(s)) providers.set(s, m);
  }
  return providers;
}

/**
 * What depmod computes over an image: modules.dep (each module's transitive hard dependencies,
 * dependencies first), modules.softdep, modules.alias, modules.symbols, modules.builtin, plus
 * the symbols nothing provides and the hard-dependency cycles. A symbol the core (or a
 * built-in) exports creates no dependency, as vmlinux symbols do not in modules.dep.
 */
export function depmodImage(image: ImageModules): DepmodInfo {
  const core = coreTable(image);
  const providers = providerTable(image);
  const mods = [...image.modules];
  const direct = new Map<string, string[]>();
  const unresolved: Record<string, string[]> = {};
  for (const m of mods) {
    const deps: string[] = [];
    for (const s of m.needs ?? []) {
      if (core.has(s)) continue;
      const p = providers.get(s);
      if (p && p !== m) {
        if (!deps.includes(p.name)) deps.push(p.name);
      } else if (!p) {
        (unresolved[m.name] ??= []).push(s);
      }
    }
    direct.set(m.name, deps);
  }
  const cycles: string[][] = [];
  const cycleKeys = new Set<string>();
  const dep: Record<string, string[]> = {};
  for (const m of mods) {
    const order: string[] = [];
    const stack: string[] = [];
    const visit = (n: string): void => {
      const i = stack.indexOf(n);
      if (i >= 0) {
        const cyc = [...stack.slice(i), n];
        const id = [...stack.slice(i)].sort().join(',');
        if (!cycleKeys.has(id)) {
          cycleKeys.add(id);
          cycles.push(cyc);
        }
        return;
      }
      if (order.includes(n)) return;
      stack.push(n);
      for (const d of direct.get(n) ?? []) visit(d);
      stack.pop();
      if (n !== m.name) order.push(n);
    };
    visit(m.name);
    dep[m.name] = order;
  }
  const softdep: Record<string, { pre: string[]; post: string[] }> = {};
  const alias: { pattern: string; module: string }[] = [];
  const symbols: Record<string, string> = {};
  for (const m of mods) {
    if (m.softdep && ((m.softdep.pre?.length ?? 0) > 0 || (m.softdep.post?.length ?? 0) > 0)) {
      softdep[m.name] = { pre: [...(m.softdep.pre ?? [])], post: [...(m.softdep.post ?? [])] };
    }
    for (const a of m.aliases ?? []) alias.push({ pattern: a, module: m.name });
  }
  for (const [s, m] of providers) symbols[s] = m.name;
  return { dep, softdep, alias, symbols, builtin: image.builtin.map((b) => b.name), unresolved, cycles };
}

/**
 * The checks modpost (and the vmlinux link) apply to an image before anything loads, in their
 * wording: a needed symbol nobody exports, a GPL-only export used by a GPL-incompatible module,
 * a namespaced export used without MODULE_IMPORT_NS, a missing MODULE_LICENSE, a symbol
 * exported twice, and a built-in needing a symbol only a loadable module exports (vmlinux
 * cannot link against a module). Symbols resolve as the loader resolves them: the core and
 * built-ins first, then the first image module exporting the name.
 */
export function modpostImage(image: ImageModules): ModpostFinding[] {
  const core = coreTable(image);
  const providers = providerTable(image);
  const out: ModpostFinding[] = [];
  const owners = new Map<string, string>();
  for (const [s, c] of core) owners.set(s, c.provider);
  for (const m of [...image.builtin, ...image.modules]) {
    if (!m.license) out.push({ module: m.name, kind: 'no-license', symbol: null, message: `missing MODULE_LICENSE() in ${m.name}.o` });
  }
  for (const b of image.builtin) {
    for (const s of Object.keys(b.exports ?? {})) {
      const prev = core.get(s)?.provider;
      if (prev !== undefined && prev !== b.name) {
        out.push({ module: b.name, kind: 'duplicate-export', symbol: s, message: `vmlinux: '${s}' exported twice. Previous export was in ${prev}` });
      }
    }
    for (const s of b.needs ?? []) {
      if (core.has(s)) continue;
      const p = providers.get(s);
      out.push(
        p
          ? { module: 'vmlinux', kind: 'builtin-needs-module', symbol: s, message: `vmlinux: undefined reference to '${s}' from built-in ${b.name}: only module ${p.name} exports it, and the kernel cannot link against a module` }
          : { module: 'vmlinux', kind: 'undefined', symbol: s, message: `vmlinux: undefined reference to '${s}' from built-in ${b.name}` },
      );
    }
  }
  for (const m of image.modules) {
    for (const s of Object.keys(m.exports ?? {})) {
      const prev = owners.get(s);
      if (prev !== undefined && prev !== m.name) {
        out.push({ module: m.name, kind: 'duplicate-export', symbol: s, message: `${m.name}.ko: '${s}' exported twice. Previous export was in ${prev === 'vmlinux' || core.has(s) ? 'vmlinux' : `${prev}.ko`}` });
      } else owners.set(s, m.name);
    }
  }
  for (const m of image.modules) {
    const gpl = licenseIsGplCompatible(m.license);
    const imports = new Set(m.importNamespaces ?? []);
    for (const s of new Set(m.needs ?? [])) {
      const c = core.get(s);
      const p = c ? undefined : providers.get(s);
      const sym = c ? c.sym : p && p !== m ? p.exports?.[s] : undefined;
      if (!sym) {
        out.push({ module: m.name, kind: 'undefined', symbol: s, message: `"${s}" [${m.name}.ko] undefined!` });
        continue;
      }
      if (sym.gplOnly && !gpl) {
        out.push({ module: m.name, kind: 'gpl-only', symbol: s, message: `GPL-incompatible module ${m.name}.ko uses GPL-only symbol '${s}'` });
      }
      if (sym.namespace && !imports.has(sym.namespace)) {
        out.push({ module: m.name, kind: 'namespace', symbol: s, message: `module ${m.name} uses symbol ${s} from namespace ${sym.namespace}, but does not import it.` });
      }
    }
  }
  return out;
}
