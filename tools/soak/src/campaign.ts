/**
 * The reliability campaign: a list of independent, seeded tasks (page-table traffic per format,
 * fail-nth sequences, DTB/DTS fuzzing, SMMUv3 invalidation drops) run in worker threads or in
 * this thread, with their results summed per part. Every task's seed is derived from the
 * campaign seed, so a whole campaign (or one failing task) is replayed from the numbers printed.
 */
import { Worker } from 'node:worker_threads';
import { Rng } from '@gki/testkit';
import { runDtbFuzz, type DtbFuzzResult } from './dtb.js';
import { runFailNth, type FailNthResult } from './failnth.js';
import { PGTABLE_FORMATS, runPgtableSoak, type PgtableSoakResult, type SoakFailure } from './pgtable.js';
import { INVALIDATIONS, runSmmuDrop, type SmmuDropResult } from './smmu.js';
import type { IoPgtableFmt } from '@gki/io-pgtable-core';

export type Task =
  | { kind: 'pgtable'; fmt: IoPgtableFmt; ops: number; seed: number; shape: number }
  | { kind: 'failnth'; fmt: IoPgtableFmt; seed: number; ops: number }
  | { kind: 'dtb'; seed: number; cases: number; dtsCases: number }
  | { kind: 'smmu'; dropped: string; seed: number; ops: number };

export type TaskResult =
  | { kind: 'pgtable'; task: Task; r: PgtableSoakResult; ms: number }
  | { kind: 'failnth'; task: Task; r: FailNthResult; ms: number }
  | { kind: 'dtb'; task: Task; r: DtbFuzzResult; ms: number }
  | { kind: 'smmu'; task: Task; r: SmmuDropResult; ms: number };

export interface CampaignOptions {
  readonly seed: number;
  /** Checked page-table operations per format. */
  readonly pgtableOps: number;
  /** Random sequences per format run through fail-nth. */
  readonly failNthSeqs: number;
  readonly failNthOps: number;
  readonly dtbCases: number;
  readonly dtsCases: number;
  /** Seeds per dropped invalidation (and for the control run). */
  readonly smmuSeeds: number;
  readonly smmuOps: number;
  /** Worker threads; 0 runs every task in this thread. */
  readonly workers: number;
  /** Stop starting tasks (and ask running ones to stop) after this many seconds. */
  readonly seconds?: number;
  readonly onResult?: (r: TaskResult, done: number, total: number) => void;
}

const PGTABLE_CHUNK = 100_000;
const DTB_CHUNK = 10_000;

/** The campaign's tasks, with seeds drawn from `o.seed`. */
export function planCampaign(o: CampaignOptions): Task[] {
  const rng = new Rng(o.seed);
  const tasks: Task[] = [];
  for (const fmt of PGTABLE_FORMATS) {
    let shape = 0;
    for (let left = o.pgtableOps; left > 0; left -= PGTABLE_CHUNK) tasks.push({ kind: 'pgtable', fmt, ops: Math.min(PGTABLE_CHUNK, left), seed: rng.u32(), shape: shape++ });
  }
  for (const fmt of PGTABLE_FORMATS) for (let i = 0; i < o.failNthSeqs; i++) tasks.push({ kind: 'failnth', fmt, seed: rng.u32(), ops: o.failNthOps });
  const dtbChunks = Math.max(1, Math.ceil(o.dtbCases / DTB_CHUNK));
  for (let i = 0; i < dtbChunks; i++) {
    const cases = Math.min(DTB_CHUNK, o.dtbCases - i * DTB_CHUNK);
    tasks.push({ kind: 'dtb', seed: rng.u32(), cases: Math.max(0, cases), dtsCases: Math.ceil(o.dtsCases / dtbChunks) });
  }
  for (const dropped of ['none', ...Object.keys(INVALIDATIONS)])
    for (let i = 0; i < o.smmuSeeds; i++) tasks.push({ kind: 'smmu', dropped, seed: rng.u32(), ops: dropped === 'none' ? 4 * o.smmuOps : o.smmuOps });
  return tasks;
}

/** Runs one task in this thread. */
export function runTask(t: Task, deadline?: number): TaskResult {
  const t0 = Date.now();
  switch (t.kind) {
    case 'pgtable':
      return { kind: 'pgtable', task: t, r: runPgtableSoak({ fmt: t.fmt, ops: t.ops, seed: t.seed, shape: t.shape, deadline }), ms: Date.now() - t0 };
    case 'failnth':
      return { kind: 'failnth', task: t, r: runFailNth(t.fmt, t.seed, t.ops, deadline), ms: Date.now() - t0 };
    case 'dtb':
      return { kind: 'dtb', task: t, r: runDtbFuzz({ seed: t.seed, cases: t.cases, dtsCases: t.dtsCases, deadline }), ms: Date.now() - t0 };
    case 'smmu':
      return { kind: 'smmu', task: t, r: runSmmuDrop(t.dropped, t.seed, t.ops), ms: Date.now() - t0 };
  }
}

export interface CampaignSummary {
  readonly seed: number;
  readonly seconds: number;
  readonly workers: number;
  readonly tasks: number;
  readonly tasksRun: number;
  readonly pgtable: Record<string, { ops: number; maps: number; unmaps: number; lookups: number; walks: number; fullChecks: number; tables: number }>;
  readonly failNth: Record<string, { sequences: number; allocations: number; runs: number; enomem: number }>;
  readonly dtb: { cases: number; rejected: number; parsed: number; boards: number; boots: number; dtsCases: number; dtsCompiled: number };
  readonly smmu: Record<string, { runs: number; ops: number; dmas: number; drops: number; detected: number; firstDetection: number[] }>;
  readonly failures: SoakFailure[];
}

function summarize(o: CampaignOptions, tasks: Task[], results: TaskResult[], ms: number): CampaignSummary {
  const pgtable: CampaignSummary['pgtable'] = {};
  const failNth: CampaignSummary['failNth'] = {};
  const dtb = { cases: 0, rejected: 0, parsed: 0, boards: 0, boots: 0, dtsCases: 0, dtsCompiled: 0 };
  const smmu: CampaignSummary['smmu'] = {};
  const failures: SoakFailure[] = [];
  for (const x of results) {
    failures.push(...x.r.failures);
    if (x.kind === 'pgtable') {
      const p = (pgtable[x.r.fmt] ??= { ops: 0, maps: 0, unmaps: 0, lookups: 0, walks: 0, fullChecks: 0, tables: 0 });
      p.ops += x.r.ops;
      p.maps += x.r.maps;
      p.unmaps += x.r.unmaps;
      p.lookups += x.r.lookups;
      p.walks += x.r.walks;
      p.fullChecks += x.r.fullChecks;
      p.tables += x.r.tables;
    } else if (x.kind === 'failnth') {
      const f = (failNth[x.r.fmt] ??= { sequences: 0, allocations: 0, runs: 0, enomem: 0 });
      f.sequences++;
      f.allocations += x.r.allocations;
      f.runs += x.r.runs;
      f.enomem += x.r.enomem;
    } else if (x.kind === 'dtb') {
      for (const k of Object.keys(dtb) as (keyof typeof dtb)[]) dtb[k] += x.r[k];
    } else {
      const s = (smmu[x.r.dropped] ??= { runs: 0, ops: 0, dmas: 0, drops: 0, detected: 0, firstDetection: [] });
      s.runs++;
      s.ops += x.r.ops;
      s.dmas += x.r.dmas;
      s.drops += x.r.drops;
      if (x.r.detectedAt >= 0) {
        s.detected++;
        s.firstDetection.push(x.r.detectedAt);
      }
    }
  }
  return { seed: o.seed, seconds: ms / 1000, workers: o.workers, tasks: tasks.length, tasksRun: results.length, pgtable, failNth, dtb, smmu, failures };
}

/** Runs the campaign; resolves with the summed figures and every failure found. */
export async function runCampaign(o: CampaignOptions): Promise<CampaignSummary> {
  const t0 = Date.now();
  const deadline = o.seconds !== undefined ? t0 + o.seconds * 1000 : undefined;
  const tasks = planCampaign(o);
  const results: TaskResult[] = [];
  const done = (r: TaskResult) => {
    results.push(r);
    o.onResult?.(r, results.length, tasks.length);
  };
  if (o.workers <= 0) {
    for (const t of tasks) {
      if (deadline !== undefined && Date.now() >= deadline) break;
      done(runTask(t, deadline));
    }
    return summarize(o, tasks, results, Date.now() - t0);
  }
  let next = 0;
  await new Promise<void>((resolve, reject) => {
    let live = 0;
    const start = () => {
      // the workers run the TypeScript sources as this thread does: through tsx, with the
      // workspace's source condition
      const w = new Worker(new URL('./worker-boot.mjs', import.meta.url), { execArgv: ['--conditions=@gki/source'] });
      live++;
      const feed = () => {
        if (next < tasks.length && (deadline === undefined || Date.now() < deadline)) w.postMessage({ task: tasks[next++], deadline });
        else void w.terminate();
      };
      w.on('message', (r: TaskResult) => {
        done(r);
        feed();
      });
      w.on('error', reject);
      w.on('exit', () => {
        if (--live === 0) resolve();
      });
      feed();
    };
    for (let i = 0; i < Math.min(o.workers, tasks.length); i++) start();
    if (tasks.length === 0) resolve();
  });
  return summarize(o, tasks, results, Date.now() - t0);
}
