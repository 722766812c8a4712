/**
 * What every @gki/hw benchmark shares: the clock and statistic, the row format the root
 * `pnpm bench` reads, the tinybench set-up, and the allocation probe.
 *
 * Clock and statistic. On the shared, oversubscribed VMs a sample is often stretched by time
 * spent descheduled, so each row reports the process's best sample (BENCH_STAT=median for the
 * median; the process's median is always in `p50`); the root `pnpm bench` then takes the
 * median of that over several processes. The clock is wall time; BENCH_CLOCK=cpu uses process
 * CPU time instead (it also counts V8's helper threads and page faults, which inflated some
 * rows by 2x in trials).
 */
import { GCProfiler, getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { settleCompiler } from '@gki/testkit/settle';
import { Bench, type Task } from 'tinybench';

/** One figure (the row format every package's `bench --json` prints for the root `pnpm bench`). */
export interface BenchRow {
  id: string;
  group: string;
  case: string;
  /** The figure in `unit`: from the process's best sample unless BENCH_STAT=median. */
  value: number;
  /** The same figure from the process's median sample. */
  p50?: number;
  unit: string;
  /** The worst and best figures over the samples (for a rate, min is the slowest sample). */
  min?: number;
  max?: number;
  /** Heap bytes allocated per operation, -1 if a GC hid the figure. */
  alloc?: number;
  /** Id of the row of this benchmark this one is compared with (value / that value). */
  vs?: string;
  /** Target for that ratio. */
  goal?: number;
}

/** The benchmark clock, in ms. */
export const benchNow: () => number =
  process.env.BENCH_CLOCK === 'cpu'
    ? () => {
        const u = process.cpuUsage();
        return (u.user + u.system) / 1000;
      }
    : () => performance.now();

/** Which sample a row's `value` comes from: the best ('min') or the median ('p50'). */
export const STAT: 'min' | 'p50' = process.env.BENCH_STAT === 'median' ? 'p50' : 'min';

/**
 * A tinybench Bench with the shared clock: `runs` timed samples after `warmup` untimed ones.
 * Its `setup` hook (before each task's warm-up and before its timed samples) waits for V8's
 * compiler threads to go idle (@gki/testkit/settle): a row's loop whose request for optimized
 * code meets a full compile queue is otherwise left in its on-stack-replacement or baseline
 * code for the process. Under a slowed compiler that reproduced the rare `s1.miss-cold` mode
 * (~280 ns, 250 B/op) and yardsticks and hit rows allocating 16-96 B/op (BENCHMARKS.md, "the
 * OSR rows"); at default settings one yardstick process in 32 still allocated with the hook
 * (BENCHMARKS.md, "settle2"), so it is not the only cause of that mode.
 */
export function newBench(runs: number, warmup = 3): Bench {
  return new Bench({ now: benchNow, iterations: runs, time: 0, warmupIterations: warmup, warmupTime: 0, setup: () => settleCompiler() });
}

/** The completed result of a task (throws with the task's error otherwise). */
export function latencyOf(task: Task): { min: number; max: number; p50: number } {
  const r = task.result;
  if (r.state !== 'completed') throw new Error(`${task.name}: ${r.state}`, { cause: r.state === 'errored' ? r.error : undefined });
  return r.latency;
}

/**
 * The row fields of a task whose samples are times (ms): `per` turns a sample into the row's
 * unit, either a time (ns per operation, ...) or a rate (MiB/s, ...: `rate` true, so that the
 * best sample is the fastest and min/max stay the slowest/fastest figure).
 */
export function figures(task: Task, per: (ms: number) => number, rate = false): Pick<BenchRow, 'value' | 'p50' | 'min' | 'max'> {
  const l = latencyOf(task);
  const best = STAT === 'min' ? l.min : l.p50;
  return rate ? { value: per(best), p50: per(l.p50), min: per(l.max), max: per(l.min) } : { value: per(best), p50: per(l.p50), min: per(l.min), max: per(l.max) };
}

let gcFn: (() => void) | undefined;

/** A full garbage collection (exposes gc on first use). */
export function gc(): void {
  if (!gcFn) {
    setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as () => void;
  }
  gcFn();
}

function heapUsed(): number {
  let s = 0;
  for (const sp of getHeapSpaceStatistics()) if (sp.space_name !== 'code_space') s += sp.space_used_size;
  return s;
}

/**
 * Heap bytes the probe below reports for `fn` (no subtraction); -1 if a GC ran meanwhile.
 * The figure includes the probe's own allocation: the second `getHeapSpaceStatistics()` call
 * builds its result (an array of per-space objects, ~2.7 KiB) between the two readings.
 */
function rawAlloc(fn: () => unknown, before?: () => void): number {
  before?.();
  gc();
  const prof = new GCProfiler();
  prof.start();
  const used0 = heapUsed();
  fn();
  const used1 = heapUsed();
  if ((prof.stop()?.statistics.length ?? 0) !== 0) return -1;
  return Math.max(0, used1 - used0);
}

const nothing = (): void => {};
let probeCost: number | undefined;

/**
 * What the probe reports for a function that allocates nothing: the smallest of several
 * readings after a few warm-up ones (the first readings also count lazy set-up inside V8 and
 * Node). Subtracting the smallest reading can only under-correct, never hide an allocation.
 */
function probeOverhead(): number {
  if (probeCost === undefined) {
    for (let i = 0; i < 3; i++) rawAlloc(nothing);
    let best = Infinity;
    for (let i = 0; i < 5; i++) {
      const b = rawAlloc(nothing);
      if (b >= 0 && b < best) best = b;
    }
    probeCost = best === Infinity ? 0 : best;
  }
  return probeCost;
}

/**
 * Heap bytes allocated per op by `fn` (which performs `ops` ops), after `before` (which puts
 * the model in the state the row measures: flushed for a miss row, warm for a hit row), less
 * the probe's own allocation (measured once on an empty function); -1 if a GC ran meanwhile
 * in three attempts. Without that subtraction a row of one op (a 1 MiB DMA copy) showed the
 * probe's ~2.7 KiB as if the copy had allocated it.
 */
export function allocPerOp(fn: () => unknown, ops: number, before?: () => void): number {
  const overhead = probeOverhead();
  for (let attempt = 0; attempt < 3; attempt++) {
    const b = rawAlloc(fn, before);
    if (b >= 0) return Math.max(0, b - overhead) / ops;
  }
  return -1;
}
