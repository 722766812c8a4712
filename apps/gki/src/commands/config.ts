import { EXIT_FAIL, EXIT_OK, optFlag, optionsHelp, optString, parseArgs, UsageError, type Command, type Io, type OptionSpec } from '../cli/args.js';
import { defaultCatalogue } from '../compose/catalogue.js';
import { resolveInputs } from '../compose/compose.js';
import { defaultConfig, gkiBase, readConfigFile } from '../compose/inputs.js';
import { defaultFragment } from '../config/default.js';
import { GKI_BASE_CONFIG } from '../config/gki-base.js';
import { foldUnknownSymbols, formatDiagnostic } from '../kconfig/diagnostics.js';
import { KCONFIG_RULES, kconfigRules, type KconfigRulesName } from '../kconfig/symbols.js';
import { writeDotConfig } from '../kconfig/write.js';

const RULES: OptionSpec = { name: 'rules', value: 'RULES', choices: KCONFIG_RULES, help: "Kconfig rules: 'seed' (default) or 'mainline'" };
const RESOLVE_OPTIONS: OptionSpec[] = [
  { name: 'config', value: 'FILE', help: 'fragment or full .config merged onto the base (default: the default configuration)' },
  { name: 'base', value: 'FILE', help: 'base configuration (default: the GKI base)' },
  RULES,
  { name: 'werror', help: 'treat warnings as errors (exit 1, nothing printed on stdout)' },
];

const USAGE = `usage: gki config default [--rules seed|mainline]
       gki config base
       gki config resolve [--config FILE] [--base FILE] [--rules seed|mainline] [--werror]
       gki config symbols [--rules seed|mainline]`;

const HELP = `${USAGE}

  default   print the default configuration: a fragment for the GKI base with every module
            this build of gki provides as a module and the io-pgtable core built in (what
            gki compose uses without --config). Copy it, edit it, pass it with --config.
  base      print the GKI base: the lines of GKI's arm64 gki_defconfig that concern this
            stack and the kernel symbols it does not model, as GKI sets them.
  resolve   merge and resolve a configuration as gki compose does and print the resulting
            .config (warnings on stderr, file:line).
  symbols   list the Kconfig symbols the model knows: type, prompt, dependencies, selects,
            and the module and package each one builds.

${optionsHelp([...RESOLVE_OPTIONS])}`;

function symbols(rulesName: KconfigRulesName, io: Io): void {
  const rules = kconfigRules(rulesName);
  const cat = defaultCatalogue();
  io.out(`Kconfig symbols of the gki model (${rulesName} rules)`);
  for (const s of rules.symbols) {
    const e = cat.bySymbol(s.name);
    const mod = e ? (e.provider ? `  -> ${e.module} (${e.provider.package} ${e.provider.version})` : `  -> ${e.module} (no package in this build)`) : '';
    io.out(`CONFIG_${s.name}  ${s.type}${s.prompt ? ` "${s.prompt}"` : ' (no prompt)'}${s.modelled ? '' : ' [not modelled]'}${mod}`);
    const dep = [...(s.parents ?? []), ...(s.depends ? [s.depends.includes('||') && (s.parents?.length ?? 0) > 0 ? `(${s.depends})` : s.depends] : [])];
    if (dep.length) io.out(`    depends on ${dep.join(' && ')}`);
    if (s.promptIf) io.out(`    prompt only if ${s.promptIf}`);
    for (const d of s.defaults ?? []) io.out(`    default ${d.value}${d.if ? ` if ${d.if}` : ''}`);
    if (s.selects?.length) io.out(`    select ${s.selects.map((x) => x.symbol + (x.if ? ` if ${x.if}` : '')).join(', ')}`);
    if (s.range) io.out(`    range ${s.range[0]} ${s.range[1]}`);
    io.out(`    ${s.help} (${s.source})`);
  }
}

async function run(args: string[], io: Io): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'default': {
      const p = parseArgs(rest, [RULES], 0);
      io.out(defaultFragment((optString(p, 'rules') ?? 'seed') as KconfigRulesName, defaultCatalogue()).trimEnd());
      return EXIT_OK;
    }
    case 'base':
      parseArgs(rest, [], 0);
      io.out(GKI_BASE_CONFIG.trimEnd());
      return EXIT_OK;
    case 'symbols': {
      const p = parseArgs(rest, [RULES], 0);
      symbols((optString(p, 'rules') ?? 'seed') as KconfigRulesName, io);
      return EXIT_OK;
    }
    case 'resolve': {
      const p = parseArgs(rest, RESOLVE_OPTIONS, 0);
      const rules = (optString(p, 'rules') ?? 'seed') as KconfigRulesName;
      const werror = optFlag(p, 'werror');
      const base = optString(p, 'base') ? readConfigFile(optString(p, 'base')!) : gkiBase();
      const config = optString(p, 'config') ? readConfigFile(optString(p, 'config')!) : defaultConfig(rules);
      const r = resolveInputs(base, config, rules);
      for (const d of foldUnknownSymbols(r.diagnostics)) io.err(formatDiagnostic(werror && d.severity === 'warning' ? { ...d, severity: 'error' } : d));
      const errors = r.diagnostics.filter((d) => d.severity === 'error' || (werror && d.severity === 'warning')).length;
      if (!r.config || errors > 0) {
        io.err(`gki config resolve: ${errors} error(s)`);
        return EXIT_FAIL;
      }
      io.out(writeDotConfig(r.config).trimEnd());
      return EXIT_OK;
    }
    case undefined:
      throw new UsageError('which subcommand? default, base, resolve or symbols');
    default:
      throw new UsageError(`unknown subcommand '${sub}' (default, base, resolve, symbols)`);
  }
}

export const configCommand: Command = { name: 'config', summary: 'print the default configuration, the GKI base, a resolved .config, or the symbols', usage: USAGE, help: HELP, run };
