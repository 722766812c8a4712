import { kernelKmi, type ExportedSymbol } from '@gki/kernel';
import type { ImagePlan } from './compose.js';

/** One symbol the kernel image (vmlinux: the core and its built-ins) exports. */
export interface CoreExport {
  symbol: string;
  /** 'vmlinux' for the core kernel's own exports, else the built-in that exports it. */
  owner: string;
  gplOnly: boolean;
  namespace: string | null;
}

/**
 * The core kernel's own exports (the ones every image has, whatever its configuration), as the
 * build tools take them: name and flags, for depmod and modpost.
 */
export function vmlinuxExports(): [string, ExportedSymbol][] {
  return kernelKmi()
    .symbols()
    .map((s) => [s.name, { value: s.value, gplOnly: s.gplOnly, ...(s.namespace ? { namespace: s.namespace } : {}) }]);
}

/** The kernel's exports (the core's, then its built-ins'), sorted by name. */
export function coreExports(plan: ImagePlan): CoreExport[] {
  const out: CoreExport[] = [];
  for (const s of kernelKmi().symbols()) out.push({ symbol: s.name, owner: 'vmlinux', gplOnly: s.gplOnly, namespace: s.namespace ?? null });
  for (const p of plan.builtin) {
    for (const [symbol, s] of Object.entries(p.module.exports ?? {})) {
      out.push({ symbol, owner: p.module.name, gplOnly: s.gplOnly === true, namespace: s.namespace ?? null });
    }
  }
  return out.sort((a, b) => (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0));
}

/**
 * vmlinux.symvers, in the format of the kernel build's Module.symvers:
 * `CRC<TAB>SYMBOL<TAB>vmlinux<TAB>EXPORT_SYMBOL[_GPL]<TAB>NAMESPACE`. The model has no C types
 * to checksum, so every CRC is 0x00000000 (what a build without CONFIG_MODVERSIONS writes).
 */
export function vmlinuxSymvers(plan: ImagePlan): string {
  return coreExports(plan)
    .map((e) => `0x00000000\t${e.symbol}\tvmlinux\t${e.gplOnly ? 'EXPORT_SYMBOL_GPL' : 'EXPORT_SYMBOL'}\t${e.namespace ?? ''}\n`)
    .join('');
}

/** Kernel symbols each loadable module of the image uses (module -> sorted symbols). */
export function kmiUsage(plan: ImagePlan): Map<string, string[]> {
  const core = new Set(coreExports(plan).map((e) => e.symbol));
  const out = new Map<string, string[]>();
  for (const p of plan.modules) {
    const used = [...new Set(p.module.needs ?? [])].filter((s) => core.has(s)).sort();
    if (used.length) out.set(p.module.name, used);
  }
  return out;
}

/**
 * The image's KMI: the kernel symbols its modules use, as Android writes an abi_gki symbol
 * list (android/abi_gki_aarch64_<partner>): a `[abi_symbol_list]` section, symbols indented by
 * two spaces, those used by several modules under `# commonly used symbols`, the rest under
 * `# required by MODULE.ko`.
 */
export function abiSymbolList(plan: ImagePlan): string {
  const usage = kmiUsage(plan);
  const users = new Map<string, string[]>();
  for (const [m, syms] of usage) for (const s of syms) users.set(s, [...(users.get(s) ?? []), m]);
  const common = [...users].filter(([, ms]) => ms.length > 1).map(([s]) => s).sort();
  const out = ['[abi_symbol_list]'];
  if (common.length) out.push('# commonly used symbols', ...common.map((s) => `  ${s}`));
  for (const [m, syms] of usage) {
    const own = syms.filter((s) => users.get(s)!.length === 1);
    if (!own.length) continue;
    if (out.length > 1) out.push('');
    out.push(`# required by ${m}.ko`, ...own.map((s) => `  ${s}`));
  }
  return out.join('\n') + '\n';
}
