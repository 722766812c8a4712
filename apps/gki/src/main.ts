import { bootCommand } from './commands/boot.js';
import { pgtableCommand } from './commands/pgtable.js';

export interface Io {
  out(line: string): void;
  err(line: string): void;
}

const USAGE = `usage: gki <command> [options]

commands:
  boot [--dmesg-debug]              compose the default image, boot it on the built-in default
                                    board and print what happened
  pgtable replay FILE.jsonl...      replay io-pgtable vector cases through the real format
                                    module (loaded by the module loader) and the hardware walker;
                                    ends with "N passed, M failed"; exit 1 if any failed
      [--case NAME] [--quiet]
  pgtable dump FILE.jsonl --case NAME [--after-op N]
                                    replay one case and print its page table as a tree
  help                              this text`;

/** Runs the CLI with `argv` (without node and script); returns the exit status. */
export async function main(argv: string[], io: Io): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'boot':
      return bootCommand(rest, io);
    case 'pgtable':
      return pgtableCommand(rest, io);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      io.out(USAGE);
      return cmd === undefined ? 2 : 0;
    default:
      io.err(`gki: unknown command '${cmd}'\n${USAGE}`);
      return 2;
  }
}
