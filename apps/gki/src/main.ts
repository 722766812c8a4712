import { EXIT_FAIL, EXIT_OK, EXIT_USAGE, UsageError, type Command, type Io } from './cli/args.js';
import { boardCommand } from './commands/board.js';
import { bootCommand } from './commands/boot.js';
import { composeCommand } from './commands/compose.js';
import { configCommand } from './commands/config.js';
import { pgtableCommand } from './commands/pgtable.js';
import { runCommand } from './commands/run.js';
import { shellCommand } from './commands/shell.js';
import { packageVersion } from './compose/catalogue.js';
import { ImageDirError } from './compose/image-dir.js';
import { InputError } from './compose/inputs.js';

export type { Io } from './cli/args.js';

/** Every command, in the order `gki --help` lists them. */
export const COMMANDS: readonly Command[] = [composeCommand, configCommand, bootCommand, runCommand, shellCommand, boardCommand, pgtableCommand];

function topHelp(): string {
  const w = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  return [
    'usage: gki <command> [options]',
    '',
    'The GKI composer: compose an image from module packages with a Kconfig selection, boot it on a board\n(DTS, DTB or built in), run workloads on it, or explore it in a shell.',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(w)}${c.summary}`),
    `  ${'help'.padEnd(w)}this text, or 'gki help COMMAND' for a command's`,
    '',
    "Run 'gki COMMAND --help' for a command's options. Exit status: 0 success, 1 failure, 2 usage error.",
  ].join('\n');
}

/**
 * Runs the CLI with `argv` (without node and script); returns the exit status. Errors come
 * out as one line on stderr: usage errors exit 2, failures 1, never a stack trace (an
 * unexpected exception is reported as an internal error, with its stack only when GKI_DEBUG
 * is set).
 */
export async function main(argv: string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    io.err(topHelp());
    return EXIT_USAGE;
  }
  if (name === '--help' || name === '-h') {
    io.out(topHelp());
    return EXIT_OK;
  }
  if (name === '--version') {
    io.out(`gki ${packageVersion('gki')}`);
    return EXIT_OK;
  }
  if (name === 'help') {
    const c = rest[0] === undefined ? undefined : COMMANDS.find((x) => x.name === rest[0]);
    if (rest[0] !== undefined && !c) {
      io.err(`gki help: unknown command '${rest[0]}'`);
      return EXIT_USAGE;
    }
    io.out(c ? c.help : topHelp());
    return EXIT_OK;
  }
  const cmd = COMMANDS.find((c) => c.name === name);
  if (!cmd) {
    io.err(`gki: unknown command '${name}' (see 'gki --help')`);
    return EXIT_USAGE;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(cmd.help);
    return EXIT_OK;
  }
  try {
    return await cmd.run(rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`gki ${cmd.name}: ${e.message} (see 'gki ${cmd.name} --help')`);
      return EXIT_USAGE;
    }
    if (e instanceof InputError || e instanceof ImageDirError) {
      io.err(`gki ${cmd.name}: ${e.message}`);
      return EXIT_FAIL;
    }
    const err = e instanceof Error ? e : new Error(String(e));
    io.err(`gki ${cmd.name}: internal error: ${err.message}`);
    if (process.env.GKI_DEBUG) io.err(err.stack ?? '');
    return EXIT_FAIL;
  }
}
