import { boardDtsSource, BUILTIN_BOARDS, builtinBoard } from '@gki/hw';
import { EXIT_OK, optionsHelp, parseArgs, UsageError, type Command, type Io, type OptionSpec } from '../cli/args.js';
import { InputError } from '../compose/inputs.js';

const OPTIONS: OptionSpec[] = [];

const USAGE = 'usage: gki board list\n       gki board export NAME';

const HELP = `${USAGE}

The boards built into gki. 'list' prints each built-in board's name and what it holds;
'export NAME' prints its device-tree source (the DTS that compiles, with gki's DTS compiler or
with dtc, to exactly the board's DTB), to copy and edit:

  gki board export gki-virt > my-board.dts

then edit it and give the file to gki boot, run or shell as their board.

Built in is the project's own virtual SoC, gki-virt (the default board). Real SoC trees from
the Linux kernel (SDM845, RK3399, G12A, FVP, Juno, trimmed of clocks and power domains) are
files in the repository's boards/ folder, given to those commands the same way.

Exit status: 0 success, 1 for an unknown board, 2 for a usage error.

${optionsHelp(OPTIONS)}`;

async function run(args: string[], io: Io): Promise<number> {
  const p = parseArgs(args, OPTIONS, 2);
  const [sub, name] = p.positionals;
  if (sub === 'list') {
    if (name !== undefined) throw new UsageError(`unexpected argument '${name}'`);
    const w = Math.max(...BUILTIN_BOARDS.map((b) => b.name.length)) + 2;
    for (const b of BUILTIN_BOARDS) io.out(`${b.name.padEnd(w)}${b.description}${b.name === 'gki-virt' ? ' (default)' : ''}`);
    return EXIT_OK;
  }
  if (sub === 'export') {
    if (name === undefined) throw new UsageError('export needs a board NAME (see gki board list)');
    const b = builtinBoard(name);
    if (!b) throw new InputError(`no built-in board '${name}' (built in: ${BUILTIN_BOARDS.map((x) => x.name).join(', ')}); real SoC trees are files: give the file as the board`);
    io.out(boardDtsSource(b).replace(/\n$/, ''));
    return EXIT_OK;
  }
  if (sub === undefined) throw new UsageError('which subcommand? list or export NAME');
  throw new UsageError(`unknown subcommand '${sub}' (list, export)`);
}

export const boardCommand: Command = {
  name: 'board',
  summary: 'list the built-in boards, or print one as device-tree source to copy and edit',
  usage: USAGE,
  help: HELP,
  run,
};
