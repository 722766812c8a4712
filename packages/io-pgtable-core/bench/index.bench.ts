/**
 * @gki/io-pgtable-core benchmarks: what the core adds around a format, i.e. the
 * alloc_io_pgtable_ops / free_io_pgtable_ops round trip (registry lookup, module reference,
 * live-table bookkeeping) with a format that does no work of its own. The formats' own
 * costs are in @gki/format-arm-lpae and @gki/format-arm-v7s.
 *
 *   pnpm bench --only=io-pgtable-core        from the root (several processes, JSON rows)
 *   pnpm --filter @gki/io-pgtable-core bench   this package alone (--json for rows;
 *                                              BENCH_RUNS=n sets the samples, default 11)
 */
import { settleCompiler } from '@gki/testkit/settle';
import { Bench } from 'tinybench';
import { Board } from '@gki/hw';
import { Kernel } from '@gki/kernel';
import { allocIoPgtableOps, freeIoPgtableOps, ioPgtableLiveTables, ioPgtableOpsRegister, type IoPgtableCfg, type IoPgtableOps } from '../src/index.js';

/**
 * Clock and statistic. On the shared, oversubscribed VMs a sample is often stretched by time
 * spent descheduled, so each row reports the process's best sample (BENCH_STAT=median for the
 * median); the root `pnpm bench` then takes the median of that over several processes. The
 * clock is wall time; BENCH_CLOCK=cpu uses process CPU time instead (it also counts V8's
 * helper threads and page faults, which inflated some rows by 2x in trials).
 */
const benchNow = process.env.BENCH_CLOCK === 'cpu' ? () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
} : () => performance.now();
const STAT: 'min' | 'p50' = process.env.BENCH_STAT === 'median' ? 'p50' : 'min';

const RUNS = Number(process.env.BENCH_RUNS ?? 11);
/**
 * tinybench's `setup` hook: before each task's warm-up and before its timed samples, wait for
 * V8's compiler threads to go idle (@gki/testkit/settle), so that a loop's request for optimized
 * code is not dropped by a full compile queue, which leaves the loop in its slower
 * on-stack-replacement code for the process (BENCHMARKS.md, "the OSR rows").
 */
const setup = (): void => settleCompiler();
const JSON_OUT = process.argv.includes('--json');
const N = 4096;

const kernel = new Kernel(new Board('bench', [{ base: 0x4000_0000, size: 16 * 2 ** 20 }]));
const nothing: IoPgtableOps = { mapPages: () => 0, unmapPages: () => 0, iovaToPhys: () => 0 };
if (ioPgtableOpsRegister(kernel, 'ARM_64_LPAE_S1', { alloc: () => ({ ...nothing }), free: () => {} }) !== 0) throw new Error('register failed');
const tlb = { tlbFlushAll() {}, tlbFlushWalk() {}, tlbAddPage() {} };

const pair = () => {
  for (let i = 0; i < N; i++) {
    const cfg: IoPgtableCfg = { quirks: 0, pgsizeBitmap: 0x40201000, ias: 48, oas: 48, coherentWalk: true, tlb };
    const ops = allocIoPgtableOps(kernel, 'ARM_64_LPAE_S1', cfg, null);
    if (typeof ops === 'number') throw new Error(`alloc failed: ${ops}`);
    freeIoPgtableOps(kernel, ops);
  }
};

const bench = new Bench({ now: benchNow, iterations: RUNS, time: 0, warmupIterations: 3, warmupTime: 0, setup });
bench.add('alloc-free', pair);
bench.runSync();
if (ioPgtableLiveTables(kernel).length !== 0) throw new Error('live tables left');
const r = bench.tasks[0]!.result;
if (r.state !== 'completed') throw new Error(`bench: ${r.state}`);
const per = (ms: number) => (ms * 1e6) / N;
const rows = [
  {
    id: 'ops.alloc-free',
    group: 'io-pgtable core around a format that does nothing',
    case: 'alloc_io_pgtable_ops + free_io_pgtable_ops',
    value: per(r.latency[STAT]), p50: per(r.latency.p50),
    unit: 'ns/pair',
    min: per(r.latency.min),
    max: per(r.latency.max),
  },
];
if (JSON_OUT) console.log(JSON.stringify({ runs: RUNS, node: process.version, rows }, null, 2));
else for (const x of rows) console.log(`${`${x.group}: ${x.case}`.padEnd(100)} ${x.value.toFixed(1).padStart(8)} ${x.unit} (${x.min.toFixed(1)}-${x.max.toFixed(1)})`);
