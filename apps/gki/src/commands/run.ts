import { EXIT_FAIL, EXIT_OK, optFlag, optionsHelp, optString, parseArgs, UsageError, type Command, type Io, type OptionSpec } from '../cli/args.js';
import { buildReport, formatReport } from '../runtime/report.js';
import { runDma, runGpu, runStress, WORKLOADS, type WorkloadName, type WorkloadResult } from '../runtime/workloads.js';
import type { System } from '../runtime/system.js';
import { BOARD_HELP, BOARD_OPTIONS, bootWithStory } from './boot-common.js';

const OPTIONS: OptionSpec[] = [
  { name: 'workload', short: 'w', value: 'NAME', choices: WORKLOADS, help: `what to run: ${WORKLOADS.join(', ')} (required)` },
  { name: 'json', help: 'print the report as JSON (schema gki-run-report/1) instead of text' },
  { name: 'brief', help: 'a short text report: boot progress and device counts, no kernel log or device table' },
  { name: 'ops', value: 'N', help: 'stress: stop after N operations (default 1000)' },
  { name: 'seconds', value: 'N', help: 'stress: stop after N seconds instead' },
  { name: 'seed', value: 'N', help: 'stress: the random seed (default 1)' },
  ...BOARD_OPTIONS,
];

const USAGE = 'usage: gki run [DIR] --workload dma|gpu|stress|all [--json | --brief] [--ops N | --seconds N] [--seed N] [--board FILE [--overlay FILE]...] [-I DIR]... [--debug]';

const HELP = `${USAGE}

Boots as gki boot does (the same progress, kernel log and device table), then runs a workload:

  dma     every DMA master bound to the DMA test driver copies through the DMA API (coherent
          buffers, IOVAs behind an IOMMU, physical addresses otherwise), 16 copies of 65827
          bytes each, checked byte for byte, then takes one deliberate fault
  gpu     on every GPU: 3 contexts (open files, each its own GPU address space where the
          driver gives one: not msm on a5xx or behind a plain SMMU), 8 fill + copy
          + checksum job chains each, checked; then a growable heap the driver extends on a
          GPU fault, and a deliberate write that nothing maps
  stress  a seeded random mix of streaming DMA mappings, DMA copies, GPU jobs in a changing
          set of contexts, and module unload attempts (-EBUSY while in use; a module that goes
          is loaded back), bounded by --ops or --seconds; reproducible from --seed
  all     dma, gpu, then stress

and reports throughput (per second of process time, and the simulated time on the board
clock), the faults seen (decoded), the TLB invalidations the IOMMU and GPU MMU models counted,
and the page allocator's state after the workloads and after shutdown (which must give every
page back). With --json the report is one JSON document on stdout (schema gki-run-report/1,
described in the README), and nothing else is printed there; --brief leaves the kernel log
and the device table out of the text report (its boot part is the progress lines and the
device counts).

${BOARD_HELP}

Exit status: 0 when every workload passed its checks, nothing unexpected was logged at error
level and shutdown gave everything back (last line 'run: OK'); 1 otherwise or for an input
that cannot be read; 2 for a usage error (an unknown workload among them).

${optionsHelp(OPTIONS)}`;

function intOpt(v: string | undefined, name: string, min: number): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < min || !Number.isSafeInteger(Number(v))) throw new UsageError(`option '--${name}': '${v}' is not an integer >= ${min}`);
  return Number(v);
}

/** The workloads `name` stands for, as closures over the booted system. */
export function workloadRunner(system: System, name: WorkloadName, stress: { seed: number; ops?: number; seconds?: number }): () => WorkloadResult[] {
  const k = system.kernel;
  return () => {
    const out: WorkloadResult[] = [];
    if (name === 'dma' || name === 'all') out.push(runDma(k));
    if (name === 'gpu' || name === 'all') out.push(runGpu(k));
    if (name === 'stress' || name === 'all') out.push(runStress(k, stress));
    return out;
  };
}

async function run(args: string[], io: Io): Promise<number> {
  const p = parseArgs(args, OPTIONS, 1);
  const workload = optString(p, 'workload') as WorkloadName | undefined;
  if (!workload) throw new UsageError(`--workload is required (${WORKLOADS.join(', ')})`);
  const ops = intOpt(optString(p, 'ops'), 'ops', 1);
  const seconds = intOpt(optString(p, 'seconds'), 'seconds', 1);
  if (ops !== undefined && seconds !== undefined) throw new UsageError('give --ops or --seconds, not both');
  if ((ops !== undefined || seconds !== undefined) && workload !== 'stress' && workload !== 'all') throw new UsageError(`--ops and --seconds bound the stress workload, not '${workload}'`);
  const seed = intOpt(optString(p, 'seed'), 'seed', 0) ?? 1;
  const json = optFlag(p, 'json');
  const brief = optFlag(p, 'brief');
  if (json && brief) throw new UsageError('give --json or --brief, not both');
  const quiet: Io = { out: () => {}, err: (s) => io.err(s) };
  const { system } = bootWithStory(p, json ? quiet : io, 'run', brief);
  const stress = { seed, ...(ops !== undefined ? { ops } : {}), ...(seconds !== undefined ? { seconds } : {}) };
  const runner = workloadRunner(system, workload, stress);
  const text = json ? quiet : io;
  text.out('');
  const report = buildReport(system, workload, seed, () => {
    const results = runner();
    for (const r of results) {
      text.out(`== workload ${r.name} ==`);
      for (const l of r.lines) text.out(l);
      text.out('');
    }
    return results;
  });
  if (json) io.out(JSON.stringify(report, null, 2));
  else for (const l of formatReport(report)) io.out(l);
  return report.ok ? EXIT_OK : EXIT_FAIL;
}

export const runCommand: Command = {
  name: 'run',
  summary: 'boot as boot does, then run a workload (dma, gpu, stress, all) and report throughput, faults, TLB invalidations and memory',
  usage: USAGE,
  help: HELP,
  run,
};
