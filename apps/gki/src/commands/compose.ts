import { EXIT_FAIL, EXIT_OK, optFlag, optionsHelp, optList, optString, parseArgs, UsageError, type Command, type Io, type OptionSpec } from '../cli/args.js';
import { defaultCatalogue } from '../compose/catalogue.js';
import { composeImage, type ComposeResult } from '../compose/compose.js';
import { checkImageDirTarget, imageFiles, writeImageDir } from '../compose/image-dir.js';
import { DEFAULT_CONFIG_NAME, defaultConfig, gkiBase, readConfigFile } from '../compose/inputs.js';
import { coreExports, kmiUsage } from '../compose/kmi.js';
import { foldUnknownSymbols, formatDiagnostic, type Diagnostic } from '../kconfig/diagnostics.js';
import { KCONFIG_RULES, type KconfigRulesName } from '../kconfig/symbols.js';

const OPTIONS: OptionSpec[] = [
  { name: 'config', value: 'FILE', help: 'Kconfig fragment or full .config merged onto the base (default: the default configuration, see gki config default)' },
  { name: 'base', value: 'FILE', help: 'base configuration (default: the GKI base, see gki config base)' },
  { name: 'rules', value: 'RULES', choices: KCONFIG_RULES, help: "Kconfig rules: 'seed' (formats tristate; default) or 'mainline' (formats bool)" },
  { name: 'omit', value: 'MODULE', repeat: true, help: "leave a module that was built as 'm' out of the image, as a board's module list can (repeatable)" },
  { name: 'werror', help: 'treat warnings as errors (nothing is written)' },
  { name: 'output', short: 'o', value: 'DIR', help: 'the image directory to write (required)' },
];

const USAGE = 'usage: gki compose [--config FILE] [--base FILE] [--rules seed|mainline] [--omit MODULE]... [--werror] -o DIR';

const HELP = `${USAGE}

Composes a GKI image from a Kconfig selection, the way a kernel build and its packaging do:
the configuration is merged onto the base (as merge_config.sh merges a board fragment onto
gki_defconfig), resolved with the kernel's Kconfig rules (types, defaults, depends on, select,
tristate y/m/n), mapped to module packages (y: built into the kernel, m: a loadable module),
and validated with the kernel's own depmod and modpost checks (every symbol a module needs is
exported by the kernel or a module of the image, GPL-only exports, namespaces, no dependency
cycles). Then DIR is written, all or nothing:

  .config                   the resolved configuration, every modelled symbol
  manifest.json             the package and version of every module, and the inputs
  modules.load              boot load order (Android's list), one kernel/....ko per line
  modules.dep .softdep .alias .symbols   depmod's indexes, in its text formats
  modules.order modules.builtin modules.builtin.modinfo   as the kernel build writes them
  vmlinux.symvers           every symbol the kernel exports, Module.symvers format
  abi_symbol_list           the kernel symbols the modules use (the image's KMI), abi_gki format
  kernel/**/*.ko            one stand-in per module, naming its package and version

Warnings (unknown symbols, bad values, unmet dependencies) name the file and line, Kconfig
style, on stderr; the report goes to stdout and ends with what the other rule set would give.
Exit status: 0 written, 1 errors (nothing written), 2 usage error.

${optionsHelp(OPTIONS)}`;

function placement(v: string): string {
  return v === 'y' ? 'built into the kernel' : v === 'm' ? 'a module' : 'not in the image';
}

/** Prints the compose report (stdout). */
export function printReport(r: ComposeResult, io: Io): void {
  const plan = r.plan!;
  const col = (s: string, w: number) => s.padEnd(w);
  io.out('built into the kernel:');
  for (const p of plan.builtin) io.out(`  ${col(p.module.name, 22)} ${col(`${p.entry.provider.package} ${p.entry.provider.version}`, 28)} CONFIG_${p.entry.symbol}=y`);
  if (plan.load.length === 0) io.out('loadable modules: none');
  else io.out('loadable modules, in modules.load order:');
  plan.load.forEach((p, i) => {
    const deps = plan.depmod.dep[p.module.name] ?? [];
    const soft = p.module.softdep?.pre?.length ? `  softdep pre: ${p.module.softdep.pre.join(' ')}` : '';
    io.out(`  ${String(i + 1).padStart(2)} ${col(p.module.name, 19)} ${col(`${p.entry.provider.package} ${p.entry.provider.version}`, 28)} CONFIG_${p.entry.symbol}=m${deps.length ? `  depends: ${deps.join(' ')}` : ''}${soft}`);
  });
  if (plan.omitted.length) io.out(`left out (--omit): ${plan.omitted.map((p) => p.module.name).join(', ')}`);
  if (plan.unmodelled.length)
    io.out(`set but not modelled (no code in this project, nothing in the image): ${plan.unmodelled.map((s) => `CONFIG_${s.sym.name}=${s.value}`).join(' ')}`);
  const exported = coreExports(plan);
  const gpl = exported.filter((e) => e.gplOnly).length;
  const kmi = kmiUsage(plan);
  const kmiSyms = new Set([...kmi.values()].flat());
  io.out(`KMI: vmlinux exports ${exported.length} symbol(s) (${gpl} GPL-only); the modules use ${kmiSyms.size} of them (abi_symbol_list)`);
  if (kmi.size) io.out(`  per module: ${[...kmi].map(([m, syms]) => `${m} ${syms.length}`).join(', ')}`);
  const other = r.otherRules!;
  const rules = plan.config.rules.name;
  if (other.differences.length === 0) io.out(`${other.name} rules: the same configuration`);
  else {
    io.out(`${other.name} rules would resolve this differently:`);
    for (const d of other.differences) {
      const what = d.module ? ` (${d.module}: ${placement(d.value)} -> ${placement(d.otherValue)})` : '';
      io.out(`  CONFIG_${d.symbol}: ${d.value} under ${rules}, ${d.otherValue} under ${other.name}${what}`);
      if (d.note) io.out(`    (${d.note})`);
    }
  }
}

function printDiagnostics(ds: readonly Diagnostic[], io: Io, werror: boolean): void {
  for (const d of foldUnknownSymbols(ds)) io.err(formatDiagnostic(werror && d.severity === 'warning' ? { ...d, severity: 'error' } : d));
}

async function run(args: string[], io: Io): Promise<number> {
  const p = parseArgs(args, OPTIONS, 0);
  const out = optString(p, 'output');
  if (!out) throw new UsageError('-o DIR is required (the image directory to write)');
  checkImageDirTarget(out);
  const rules = (optString(p, 'rules') ?? 'seed') as KconfigRulesName;
  const werror = optFlag(p, 'werror');
  const catalogue = defaultCatalogue();
  const cfgPath = optString(p, 'config');
  const basePath = optString(p, 'base');
  const base = basePath ? readConfigFile(basePath) : gkiBase();
  const config = cfgPath ? readConfigFile(cfgPath) : defaultConfig(rules, catalogue);
  const omit = [...new Set(optList(p, 'omit'))];
  const r = composeImage({ base, config, rules, omit, catalogue });
  printDiagnostics(r.diagnostics, io, werror);
  const errors = r.diagnostics.filter((d) => d.severity === 'error' || (werror && d.severity === 'warning')).length;
  if (!r.ok || errors > 0 || !r.plan) {
    io.err(`gki compose: ${errors} error(s); nothing written`);
    return EXIT_FAIL;
  }
  io.out(`gki compose: ${base.name} + ${config.name}, ${rules} rules`);
  printReport(r, io);
  const files = imageFiles(r.plan, { base: base.name, config: cfgPath ?? DEFAULT_CONFIG_NAME, omit }, catalogue);
  writeImageDir(out, files);
  io.out(`wrote ${out}: ${files.size} files (${r.plan.modules.length} module(s), ${r.plan.builtin.length} built in)`);
  return EXIT_OK;
}

export const composeCommand: Command = { name: 'compose', summary: 'compose an image directory from a Kconfig selection', usage: USAGE, help: HELP, run };
