import { basename } from 'node:path';
import { formatMismatch, readVectorFile, replayCase, type VectorCase } from '@gki/io-pgtable-core/vectors';
import type { Command, Io } from '../cli/args.js';
import { dumpTree } from '../pgtable/dump.js';
import { bootReplayKernel, kernelReplayEnv } from '../pgtable/session.js';
import { walkerCheck } from '../pgtable/walker-check.js';

const USAGE = `usage: gki pgtable replay FILE.jsonl... [--case NAME] [--quiet]
       gki pgtable dump FILE.jsonl --case NAME [--after-op N]`;

const HELP = `${USAGE}

  replay   replays recorded io-pgtable cases (the vectors/ JSONL format) through the real
           format modules, loaded by the module loader on demand through their
           io-pgtable-fmt-<FORMAT> alias, and cross-checks every table with the board's own
           walker; prints each mismatch and ends with "N passed, M failed" (exit 1 if any).
  dump     replays one case (up to op N) and prints its page table as a tree: level,
           index, IOVA range, descriptor, decoded fields.

options:
  --case NAME      only the case named NAME (replay), the case to dump (dump)
  --quiet          replay: no per-file lines, only mismatches and the total
  --after-op N     dump: the table as it stands after op N
  --help           this text`;

interface Parsed {
  files: string[];
  caseName?: string;
  quiet: boolean;
  afterOp?: number;
}

function parseArgs(args: string[], allowed: readonly string[]): Parsed | string {
  const p: Parsed = { files: [], quiet: false };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a.startsWith('--') && !allowed.includes(a)) return `unknown option '${a}'`;
    if (a === '--quiet') p.quiet = true;
    else if (a === '--case' || a === '--after-op') {
      const v = args[++i];
      if (v === undefined) return `${a} needs a value`;
      if (a === '--case') p.caseName = v;
      else {
        if (!/^\d+$/.test(v)) return `--after-op needs an op index, got '${v}'`;
        p.afterOp = Number(v);
      }
    } else p.files.push(a);
  }
  if (p.files.length === 0) return 'no vector file given';
  return p;
}

function load(file: string, io: Io): VectorCase[] | null {
  try {
    return readVectorFile(file);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    // a file system error in words; a parse error already names the file and line
    const why =
      err.code === 'ENOENT' ? `${file}: no such file (ENOENT)`
      : err.code === 'EISDIR' ? `${file}: is a directory, not a vector file`
      : err.code !== undefined ? `${file}: cannot read (${err.code})`
      : err.message.startsWith(`${file}:`) ? err.message
      : `${file}: ${err.message}`;
    io.err(`gki pgtable: ${why}`);
    return null;
  }
}

/** `gki pgtable replay`: replays vector cases through the on-demand loaded format modules. */
async function replay(args: string[], io: Io): Promise<number> {
  const p = parseArgs(args, ['--case', '--quiet']);
  if (typeof p === 'string') {
    io.err(`gki pgtable replay: ${p} (see 'gki pgtable --help')`);
    return 2;
  }
  const files: { file: string; cases: VectorCase[] }[] = [];
  for (const f of p.files) {
    const cases = load(f, io);
    if (!cases) return 1;
    files.push({ file: f, cases: p.caseName === undefined ? cases : cases.filter((c) => c.name === p.caseName) });
  }
  if (p.caseName !== undefined && files.every((f) => f.cases.length === 0)) {
    io.err(`gki pgtable replay: no case named '${p.caseName}'`);
    return 2;
  }
  const kernel = bootReplayKernel();
  const env = kernelReplayEnv(kernel, walkerCheck(kernel.mem));
  let passed = 0;
  let failed = 0;
  for (const { file, cases } of files) {
    let fileFailed = 0;
    let notes = 0;
    for (const c of cases) {
      const r = replayCase(c, env);
      if (r.mismatches.length === 0) passed++;
      else {
        failed++;
        fileFailed++;
        for (const m of r.mismatches) io.out(formatMismatch(m));
      }
      notes += r.notes.length;
    }
    if (!p.quiet) {
      io.out(`${basename(file)}: ${cases.length - fileFailed}/${cases.length} cases passed`);
      if (notes > 0) io.out(`  note: in ${notes} case(s) an unmap returning -errno was compared equal to the kernel's (size_t)-errno`);
    }
  }
  io.out(`${passed} passed, ${failed} failed`);
  return failed > 0 ? 1 : 0;
}

/** `gki pgtable dump`: replays one case (up to an op) and prints its table as a tree. */
async function dump(args: string[], io: Io): Promise<number> {
  const p = parseArgs(args, ['--case', '--after-op']);
  if (typeof p === 'string') {
    io.err(`gki pgtable dump: ${p} (see 'gki pgtable --help')`);
    return 2;
  }
  if (p.files.length !== 1 || p.caseName === undefined) {
    io.err(`gki pgtable dump: needs exactly one file and --case NAME (see 'gki pgtable --help')`);
    return 2;
  }
  const cases = load(p.files[0]!, io);
  if (!cases) return 1;
  const c = cases.find((x) => x.name === p.caseName);
  if (!c) {
    io.err(`gki pgtable dump: no case named '${p.caseName}' in ${p.files[0]}`);
    return 2;
  }
  if (p.afterOp !== undefined && p.afterOp >= c.ops.length) {
    io.err(`gki pgtable dump: case '${c.name}' has ${c.ops.length} ops (0..${c.ops.length - 1})`);
    return 2;
  }
  const kernel = bootReplayKernel();
  let lines: string[] | null = null;
  const r = replayCase(c, kernelReplayEnv(kernel), {
    ...(p.afterOp !== undefined ? { untilOp: p.afterOp } : {}),
    inspect: (ops, cfg) => {
      lines = dumpTree(kernel.mem, c.format, cfg, ops);
    },
  });
  io.out(`case ${c.name} (${c.format}), after op ${p.afterOp ?? c.ops.length - 1} of ${c.ops.length}`);
  if (lines === null) io.out(c.regs === null ? 'alloc_io_pgtable_ops fails for this configuration: no table' : 'no table was allocated');
  else for (const l of lines as string[]) io.out(l);
  for (const m of r.mismatches) io.out(`mismatch: ${formatMismatch(m)}`);
  return r.mismatches.length > 0 ? 1 : 0;
}

/** `gki pgtable ...` */
async function run(args: string[], io: Io): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'replay':
      return replay(rest, io);
    case 'dump':
      return dump(rest, io);
    default:
      io.err(sub === undefined ? `gki pgtable: which subcommand? replay or dump (see 'gki pgtable --help')` : `gki pgtable: unknown subcommand '${sub}' (replay, dump)`);
      return 2;
  }
}

export const pgtableCommand: Command = { name: 'pgtable', summary: 'replay io-pgtable vectors through the format modules, or dump a table', usage: USAGE, help: HELP, run };
