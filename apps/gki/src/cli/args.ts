/** How the CLI talks to its user: one call per line (or block of lines). */
export interface Io {
  out(line: string): void;
  err(line: string): void;
  /** Where interactive commands (gki shell) read from; default process.stdin. */
  input?: NodeJS.ReadableStream;
}

/** Exit statuses: 0 success, 1 failure, 2 usage error. */
export const EXIT_OK = 0;
export const EXIT_FAIL = 1;
export const EXIT_USAGE = 2;

/** A usage error: exits 2 with its one-line message. */
export class UsageError extends Error {}

/** One option a command accepts. */
export interface OptionSpec {
  /** `--name`. */
  name: string;
  /** A one-letter alias (`-o`). */
  short?: string;
  /** The value's placeholder (`FILE`); absent for a flag. */
  value?: string;
  /** May be given more than once (values collected). */
  repeat?: boolean;
  /** Allowed values. */
  choices?: readonly string[];
  help: string;
}

export interface ParsedArgs {
  /** Flags as true, valued options as their (last) value, repeatable ones as lists. */
  options: Map<string, string | true | string[]>;
  positionals: string[];
}

/**
 * Parses `args` against `specs`: `--name VALUE`, `--name=VALUE`, `-x VALUE`, flags, `--` to end
 * options. `--help`/`-h` is recognised by the caller before this runs. Throws UsageError with a
 * one-line message for an unknown option, a missing or invalid value, or a value given to a flag.
 */
export function parseArgs(args: readonly string[], specs: readonly OptionSpec[], maxPositionals = Infinity): ParsedArgs {
  const options = new Map<string, string | true | string[]>();
  const positionals: string[] = [];
  let onlyPositionals = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (onlyPositionals || !a.startsWith('-') || a === '-') {
      positionals.push(a);
      continue;
    }
    if (a === '--') {
      onlyPositionals = true;
      continue;
    }
    let name: string;
    let inline: string | undefined;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      inline = eq < 0 ? undefined : a.slice(eq + 1);
    } else {
      name = a.slice(1);
    }
    const spec = specs.find((s) => s.name === name || (a.length === 2 && !a.startsWith('--') && s.short === name));
    if (!spec) throw new UsageError(`unknown option '${a.startsWith('--') ? `--${name}` : a}'`);
    if (!spec.value) {
      if (inline !== undefined) throw new UsageError(`option '--${spec.name}' takes no value`);
      options.set(spec.name, true);
      continue;
    }
    const v = inline ?? args[++i];
    if (v === undefined || (inline === undefined && v.startsWith('-') && v !== '-' && !/^-[0-9.]/.test(v))) throw new UsageError(`option '--${spec.name}' needs a value (${spec.value})`);
    if (spec.choices && !spec.choices.includes(v)) throw new UsageError(`option '--${spec.name}': '${v}' is not one of ${spec.choices.join(', ')}`);
    if (spec.repeat) {
      const prev = options.get(spec.name);
      options.set(spec.name, [...(Array.isArray(prev) ? prev : []), v]);
    } else options.set(spec.name, v);
  }
  if (positionals.length > maxPositionals) {
    throw new UsageError(maxPositionals === 0 ? `unexpected argument '${positionals[0]}'` : `unexpected argument '${positionals[maxPositionals]}'`);
  }
  return { options, positionals };
}

export function optString(p: ParsedArgs, name: string): string | undefined {
  const v = p.options.get(name);
  return typeof v === 'string' ? v : undefined;
}

export function optList(p: ParsedArgs, name: string): string[] {
  const v = p.options.get(name);
  return Array.isArray(v) ? v : [];
}

export function optFlag(p: ParsedArgs, name: string): boolean {
  return p.options.get(name) === true;
}

/** The options block of a command's help text. */
export function optionsHelp(specs: readonly OptionSpec[]): string {
  const left = (s: OptionSpec) => `${s.short ? `-${s.short}, ` : '    '}--${s.name}${s.value ? ` ${s.value}` : ''}`;
  const w = Math.max(...specs.map((s) => left(s).length), 10) + 2;
  return ['options:', ...specs.map((s) => `  ${left(s).padEnd(w)}${s.help}`), `      ${'--help'.padEnd(w - 4)}this text`].join('\n');
}

/** A command of the CLI. */
export interface Command {
  name: string;
  /** One line for `gki --help`. */
  summary: string;
  /** The `usage:` line(s). */
  usage: string;
  /** The full `gki NAME --help` text. */
  help: string;
  /** Runs it (args without the command name); returns the exit status. */
  run(args: string[], io: Io): Promise<number>;
}
