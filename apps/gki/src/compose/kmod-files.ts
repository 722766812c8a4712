import type { ImagePlan, PlannedModule } from './compose.js';

/**
 * The image's module index files, in the text formats the kernel build and kmod's depmod
 * write (so a kernel engineer can diff them against a real /lib/modules/<version>):
 *
 * - modules.dep: `PATH:` then ` DEP` for each transitive hard dependency, in the order depmod
 *   writes them (users before what they use, so modprobe loads the list from its end); one
 *   line per module, modules.order order.
 * - modules.softdep: depmod's two-line header, then `softdep NAME pre: A B post: C` from each
 *   module's MODULE_SOFTDEP, NAME with '-' written '_' as kmod names modules.
 * - modules.alias: header, then `alias PATTERN NAME` for each MODULE_ALIAS / device-table entry.
 * - modules.symbols: header, then `alias symbol:SYM NAME` for each symbol a module exports
 *   (sorted by symbol; depmod's order is its hash table's).
 * - modules.order: `kernel/PATH.ko` of each module, in kbuild order (depmod sorts by it).
 * - modules.builtin: `kernel/PATH.ko` of each tristate symbol built in (what could have been a
 *   module; kbuild lists no bool-only objects here).
 * - modules.builtin.modinfo: NUL-terminated `name.key=value` records of each built-in's modinfo.
 * - modules.load: the Android build's load list, one `kernel/PATH.ko` per line, boot order.
 */

/** kmod's name for a module: '-' becomes '_'. */
export function kmodName(name: string): string {
  return name.replace(/-/g, '_');
}

export const SOFTDEP_HEADER = '# Soft dependencies extracted from modules themselves.\n# Copy, with a .conf extension, to /etc/modprobe.d to use it with modprobe.\n';
export const ALIAS_HEADER = '# Aliases extracted from modules themselves.\n';
export const SYMBOLS_HEADER = '# Aliases for symbols, used by symbol_request().\n';

function lines(ls: readonly string[]): string {
  return ls.map((l) => l + '\n').join('');
}

/** The MODULE_SOFTDEP string of a module (`pre: a b post: c`), or undefined. */
export function softdepValue(p: PlannedModule): string | undefined {
  const pre = p.module.softdep?.pre ?? [];
  const post = p.module.softdep?.post ?? [];
  if (pre.length === 0 && post.length === 0) return undefined;
  return [pre.length ? `pre: ${pre.join(' ')}` : '', post.length ? `post: ${post.join(' ')}` : ''].filter(Boolean).join(' ');
}

export function modulesDep(plan: ImagePlan): string {
  const path = (name: string) => plan.modules.find((p) => p.module.name === name)!.path;
  return lines(
    plan.modules.map((p) => {
      const deps = [...(plan.depmod.dep[p.module.name] ?? [])].reverse();
      return `${p.path}:${deps.map((d) => ` ${path(d)}`).join('')}`;
    }),
  );
}

export function modulesSoftdep(plan: ImagePlan): string {
  const out: string[] = [];
  for (const p of plan.modules) {
    const v = softdepValue(p);
    if (v) out.push(`softdep ${kmodName(p.module.name)} ${v}`);
  }
  return SOFTDEP_HEADER + lines(out);
}

export function modulesAlias(plan: ImagePlan): string {
  return ALIAS_HEADER + lines(plan.modules.flatMap((p) => (p.module.aliases ?? []).map((a) => `alias ${a} ${kmodName(p.module.name)}`)));
}

export function modulesSymbols(plan: ImagePlan): string {
  const syms = Object.entries(plan.depmod.symbols).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return SYMBOLS_HEADER + lines(syms.map(([s, m]) => `alias symbol:${s} ${kmodName(m)}`));
}

export function modulesOrder(plan: ImagePlan): string {
  return lines(plan.modules.map((p) => p.path));
}

function tristateBuiltin(plan: ImagePlan, p: PlannedModule): boolean {
  return plan.config.get(p.entry.symbol).sym.type === 'tristate';
}

export function modulesBuiltin(plan: ImagePlan): string {
  return lines(plan.builtin.filter((p) => tristateBuiltin(plan, p)).map((p) => p.path));
}

export function modulesBuiltinModinfo(plan: ImagePlan): string {
  const recs: string[] = [];
  for (const p of plan.builtin) {
    const n = kmodName(p.module.name);
    if (tristateBuiltin(plan, p)) recs.push(`${n}.file=${p.entry.object}`);
    recs.push(`${n}.license=${p.module.license}`);
    if (p.module.description) recs.push(`${n}.description=${p.module.description}`);
    const sd = softdepValue(p);
    if (sd) recs.push(`${n}.softdep=${sd}`);
    for (const a of p.module.aliases ?? []) recs.push(`${n}.alias=${a}`);
    for (const ns of p.module.importNamespaces ?? []) recs.push(`${n}.import_ns=${ns}`);
  }
  return recs.map((r) => r + '\0').join('');
}

export function modulesLoad(plan: ImagePlan): string {
  return lines(plan.load.map((p) => p.path));
}
