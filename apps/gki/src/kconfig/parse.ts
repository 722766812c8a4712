import type { Diagnostic } from './diagnostics.js';

/** One `CONFIG_X=...` or `# CONFIG_X is not set` line of a .config or fragment. */
export interface ConfigAssignment {
  /** The symbol, without CONFIG_. */
  symbol: string;
  /** The raw value as written: `y`, `m`, `n`, `"a string"`, `32`, `0x1000`. */
  raw: string;
  file: string;
  line: number;
}

export interface ParsedConfig {
  file: string;
  assignments: ConfigAssignment[];
  diagnostics: Diagnostic[];
}

const ASSIGN = /^CONFIG_([A-Za-z0-9_]+)=(.*)$/;
const NOT_SET = /^#\s*CONFIG_([A-Za-z0-9_]+) is not set\s*$/;

/**
 * Reads Kconfig text (a full .config or a fragment) as conf/merge_config.sh read it: blank
 * lines and comments are skipped, `# CONFIG_X is not set` sets X to n, `CONFIG_X=VALUE` sets
 * X. Where Kconfig only warns "unexpected data" and skips a line that is neither, this
 * reader reports an error: a composer that silently drops a line of the selection would
 * build an image the user did not ask for. A later line for the same symbol overrides an
 * earlier one in the same file, with Kconfig's "override: reassigning" warning. Values are
 * checked later, against the symbol's type.
 */
export function parseConfigText(text: string, file: string): ParsedConfig {
  const assignments: ConfigAssignment[] = [];
  const diagnostics: Diagnostic[] = [];
  if (text.includes('\0')) {
    diagnostics.push({ severity: 'error', file, message: 'not a Kconfig file (it contains NUL bytes)' });
    return { file, assignments, diagnostics };
  }
  const seen = new Map<string, number>();
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  lines.forEach((rawLine, i) => {
    const line = i + 1;
    const l = rawLine.replace(/\r$/, '').trim();
    if (l === '') return;
    let m = NOT_SET.exec(l);
    let symbol: string;
    let raw: string;
    if (m) {
      symbol = m[1]!;
      raw = 'n';
    } else if (l.startsWith('#')) {
      return;
    } else if ((m = ASSIGN.exec(l))) {
      symbol = m[1]!;
      raw = m[2]!.trim();
    } else {
      const hint = /^[A-Za-z0-9_]+=/.test(l) ? ' (symbols are written CONFIG_NAME=VALUE)' : '';
      const shown = printable(l.length > 60 ? `${l.slice(0, 60)}...` : l);
      diagnostics.push({ severity: 'error', file, line, message: `unexpected data: ${shown}${hint}` });
      return;
    }
    if (seen.has(symbol)) {
      diagnostics.push({ severity: 'warning', file, line, message: `override: reassigning to symbol ${symbol}`, detail: [`(set at line ${seen.get(symbol)} before)`] });
      const at = assignments.findIndex((a) => a.symbol === symbol);
      assignments.splice(at, 1);
    }
    seen.set(symbol, line);
    assignments.push({ symbol, raw, file, line });
  });
  return { file, assignments, diagnostics };
}

/** The text a value takes in a .config line (`CONFIG_X=<this>`). */
export function assignmentText(a: Pick<ConfigAssignment, 'symbol' | 'raw'>): string {
  return a.raw === 'n' ? `# CONFIG_${a.symbol} is not set` : `CONFIG_${a.symbol}=${a.raw}`;
}

/**
 * merge_config.sh: `base` then each fragment in turn; a symbol a later file sets again takes
 * the later value, with the script's notice naming both values. The result keeps each
 * symbol's position from its first appearance and the file and line that set its value.
 */
export function mergeConfigs(base: ParsedConfig, fragments: readonly ParsedConfig[]): { assignments: ConfigAssignment[]; diagnostics: Diagnostic[] } {
  const merged = new Map<string, ConfigAssignment>();
  const diagnostics: Diagnostic[] = [];
  for (const a of base.assignments) merged.set(a.symbol, a);
  for (const frag of fragments) {
    for (const a of frag.assignments) {
      const prev = merged.get(a.symbol);
      if (prev && prev.raw !== a.raw) {
        diagnostics.push({
          severity: 'notice',
          file: a.file,
          line: a.line,
          message: `Value of CONFIG_${a.symbol} is redefined by fragment ${frag.file}:`,
          detail: [`Previous value: ${assignmentText(prev)} (${prev.file}:${prev.line})`, `New value: ${assignmentText(a)}`],
        });
      }
      merged.set(a.symbol, a);
    }
  }
  return { assignments: [...merged.values()], diagnostics };
}

/** A line as a terminal can show it: control characters as \xNN escapes. */
function printable(s: string): string {
  return s.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
