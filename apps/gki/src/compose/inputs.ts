import { readFileSync, statSync } from 'node:fs';
import { defaultFragment } from '../config/default.js';
import { GKI_BASE_CONFIG, GKI_BASE_NAME } from '../config/gki-base.js';
import type { KconfigRulesName } from '../kconfig/symbols.js';
import { defaultCatalogue, type Catalogue } from './catalogue.js';
import { composeImage, type ComposeResult, type ConfigSource } from './compose.js';

/** The name the built-in default configuration goes by in diagnostics. */
export const DEFAULT_CONFIG_NAME = '<gki-default>';

/** A failure to read an input file (exit 1, one line). */
export class InputError extends Error {}

/** Reads a Kconfig file the user named, with a one-line error for anything unreadable. */
export function readConfigFile(path: string): ConfigSource {
  let text: string;
  try {
    if (statSync(path).isDirectory()) throw new InputError(`${path}: is a directory, not a Kconfig file`);
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (e instanceof InputError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(`cannot read ${path}: ${code === 'ENOENT' ? 'no such file (ENOENT)' : code ?? (e as Error).message}`);
  }
  return { text, name: path };
}

export function gkiBase(): ConfigSource {
  return { text: GKI_BASE_CONFIG, name: GKI_BASE_NAME };
}

export function defaultConfig(rules: KconfigRulesName, catalogue: Catalogue = defaultCatalogue()): ConfigSource {
  return { text: defaultFragment(rules, catalogue), name: DEFAULT_CONFIG_NAME };
}

/**
 * The default image: the GKI base with the default configuration (every module this build
 * has, as a module, the io-pgtable core built in), seed rules. What `gki boot` boots when no
 * image directory is named.
 */
export function composeDefault(catalogue: Catalogue = defaultCatalogue()): ComposeResult {
  return composeImage({ base: gkiBase(), config: defaultConfig('seed', catalogue), rules: 'seed', catalogue });
}
