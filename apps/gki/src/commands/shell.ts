import { appendFileSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { EXIT_FAIL, EXIT_OK, optFlag, optionsHelp, parseArgs, type Command, type Io, type OptionSpec } from '../cli/args.js';
import { ShellSession } from '../runtime/shell.js';
import { bootSystem, deviceCounts } from '../runtime/system.js';
import { BOARD_HELP, BOARD_OPTIONS, loadSystemInputs } from './boot-common.js';

const OPTIONS: OptionSpec[] = [
  { name: 'no-load', help: "boot without loading the image's modules (modules.load): load them by hand; deferred probe waits 10 s" },
  ...BOARD_OPTIONS.filter((o) => o.name !== 'debug'),
];

const USAGE = 'usage: gki shell [DIR] [--no-load] [--board FILE [--overlay FILE]...] [-I DIR]...';

const HELP = `${USAGE}

Boots an image on a board (as gki boot does, showing progress) and opens a session on the
running kernel. Commands (type help in the shell for details):

  lsmod                      the modules: state, refcount, users
  modprobe [-r] NAME|ALIAS   load with dependencies and softdeps (-r: unload)
  insmod NAME                load one module alone (no dependencies, no softdeps)
  rmmod NAME                 unload: -EBUSY and rmmod's message while it is in use; its
                             drivers unbind from their devices when it goes
  dmesg [-d] [-n N]          the kernel log
  devices                    the device table (bound, deferred and why, failed, unbound)
  domains                    IOMMU domains, groups and every live page table
  pgtable dump N             page table N as the hardware walker decodes it
  dma [DEVICE]               the DMA self-test (a copy and a deliberate fault)
  run dma|gpu|stress|all     a workload on the running system
  sysctl kernel.modprobe[=P] the modprobe helper; empty disables module autoloading
  sleep SECONDS              let the board's clock run (the deferred-probe timeout fires)
  help, exit, quit

On a terminal the session has line editing and a history (kept in $GKI_HISTORY, default
~/.gki_history). Commands are also read from a non-terminal standard input, one per line (a
line starting with # is a comment), each echoed after the prompt with its output, so a
session can be scripted:

  printf 'lsmod\\nrmmod arm_smmu_v3\\n' | gki shell

With --no-load the image's modules are not loaded at boot (the kernel has its built-ins
only), and the deferred-probe timeout is armed at 10 s, as Linux does with modules: a
driver loaded before the module it needs defers, and binds when that module comes:

  sysctl kernel.modprobe=      (no autoloading)
  modprobe gki_dma_test        (masters behind an IOMMU wait for it)
  insmod arm_smmu_v3           (no page-table format yet: the masters defer)
  modprobe io-pgtable-arm      (the format registers; the masters bind)

and a master whose IOMMU driver never comes gives up waiting when the timeout passes
(sleep 10), and probes without it, as Linux does.

${BOARD_HELP}

Exit status: 0 when every command of a script succeeded (always 0 on a terminal), 1 when one
failed or an input cannot be read, 2 for a usage error.

${optionsHelp(OPTIONS)}`;

function historyFile(): string {
  return process.env.GKI_HISTORY || join(homedir(), '.gki_history');
}

function loadHistory(file: string): string[] {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).reverse().slice(0, 1000);
  } catch {
    return [];
  }
}

async function run(args: string[], io: Io): Promise<number> {
  const p = parseArgs(args, OPTIONS, 1);
  const noLoad = optFlag(p, 'no-load');
  const { image, board } = loadSystemInputs(p);
  const img = noLoad ? { ...image, image: { ...image.image, load: [] } } : image;
  io.out(`gki shell: board ${board.name} (${board.source === 'built-in' ? 'built in' : board.source}), image ${image.label}${noLoad ? ' (modules not loaded: --no-load)' : ''}`);
  for (const w of board.warnings) io.err(w);
  const system = bootSystem(board, img, { progress: (l) => io.out(l) }, noLoad ? { deferredProbeTimeoutSecs: 10 } : {});
  const c = deviceCounts(system.kernel);
  io.out(`booted: ${c.bound} bound, ${c.deferred} deferred, ${c.failed} failed, ${c.unbound} unbound; type help for the commands`);
  const sh = new ShellSession(system);

  const input = io.input ?? process.stdin;
  const tty = io.input === undefined && process.stdin.isTTY === true && process.stdout.isTTY === true;
  const hist = historyFile();
  const rl = createInterface({
    input,
    ...(tty ? { output: process.stdout, terminal: true, history: loadHistory(hist), historySize: 1000 } : { terminal: false }),
    completer: (line: string): [string[], string] => {
      const hits = sh.commandNames.filter((n) => n.startsWith(line.trim()));
      return [hits.length ? hits : sh.commandNames, line];
    },
  });
  const prompt = 'gki> ';
  let failed = false;
  if (tty) {
    rl.setPrompt(prompt);
    rl.prompt();
  }
  for await (const line of rl) {
    if (!tty) io.out(`${prompt}${line}`);
    else if (line.trim()) {
      try {
        appendFileSync(hist, line + '\n');
      } catch {
        // no history file: the session goes on without one
      }
    }
    const r = sh.exec(line);
    for (const l of r.lines) io.out(l);
    failed ||= r.failed === true;
    if (r.quit) break;
    if (tty) rl.prompt();
  }
  rl.close();
  return tty || !failed ? EXIT_OK : EXIT_FAIL;
}

export const shellCommand: Command = {
  name: 'shell',
  summary: 'boot, then an interactive session: lsmod, modprobe, rmmod, dmesg, devices, domains, pgtable dump, dma, run',
  usage: USAGE,
  help: HELP,
  run,
};
