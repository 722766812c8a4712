import type { Catalogue } from '../compose/catalogue.js';
import { kconfigRules, type KconfigRulesName } from '../kconfig/symbols.js';

/**
 * The default configuration: a fragment for the GKI base that puts every module this build of
 * gki has into the image as a loadable module, with the io-pgtable core built in. Under the
 * mainline rules the formats are bool, so they are built in (`=y`), and the core, having no
 * prompt there, is left to the formats' selects. Modules the kernel has but this build does
 * not are listed as comments, so the file says what is missing instead of pretending.
 */
export function defaultFragment(rulesName: KconfigRulesName, catalogue: Catalogue): string {
  const rules = kconfigRules(rulesName);
  const out = [
    `# gki default configuration (${rulesName} rules): a fragment merged onto the GKI base.`,
    '# Every module this build of gki provides, as a module; the io-pgtable core built in.',
  ];
  const missing: string[] = [];
  for (const e of catalogue.entries) {
    const sym = rules.byName.get(e.symbol);
    if (!sym) continue;
    if (!e.provider) {
      missing.push(`# CONFIG_${e.symbol}: ${e.module} has no package in this build of gki`);
      continue;
    }
    if (!sym.prompt) continue;
    out.push(`CONFIG_${e.symbol}=${sym.type === 'tristate' ? 'm' : 'y'}`);
  }
  if (missing.length) out.push('# Not available yet:', ...missing);
  return out.join('\n') + '\n';
}
