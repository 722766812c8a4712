/**
 * @gki/kernel benchmarks: the page allocator (order-0 pages, as io-pgtable takes its tables
 * from it) and the DMA API's IOVA allocator, both on the hot path of every map call.
 *
 *   pnpm bench --only=kernel                 from the root (several processes, JSON rows)
 *   pnpm --filter @gki/kernel bench            this package alone (--json for rows;
 *                                              BENCH_RUNS=n sets the samples, default 11)
 */
import { settleCompiler } from '@gki/testkit/settle';
import { Bench } from 'tinybench';
import { Board } from '@gki/hw';
import { IovaDomain, Kernel } from '../src/index.js';

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

const kernel = new Kernel(new Board('bench', [{ base: 0x4000_0000, size: 64 * 2 ** 20 }]));
const pages = kernel.pages;
const held = new Float64Array(N);

function check(cond: boolean, what: string): void {
  if (!cond) throw new Error(`kernel bench: ${what}`);
}

const allocFreePair = () => {
  for (let i = 0; i < N; i++) {
    const pa = pages.allocPages(0);
    if (pa < 0) throw new Error('allocPages failed');
    pages.freePages(pa, 0);
  }
};
const allocMany = () => {
  for (let i = 0; i < N; i++) {
    const pa = pages.allocPages(0);
    if (pa < 0) throw new Error('allocPages failed');
    held[i] = pa;
  }
};
const freeMany = () => {
  for (let i = 0; i < N; i++) pages.freePages(held[i]!, 0);
};

// IOVA: a 32-bit DMA space of 4 KiB granules with 1024 live single-page mappings, then
// alloc + free of one page at a time (what dma_map_single / dma_unmap_single do).
const iovad = new IovaDomain(4096, 1);
const LIMIT = 2 ** 32 / 4096 - 1;
for (let i = 0; i < 1024; i++) check(iovad.allocIova(1, LIMIT, true) > 0, 'IOVA prefill');
const iovaPair = () => {
  for (let i = 0; i < N; i++) {
    const pfn = iovad.allocIova(1, LIMIT, true);
    if (pfn <= 0) throw new Error('allocIova failed');
    iovad.freeIova(pfn, 1);
  }
};
// Two allocations outstanding, freed oldest first: every operation goes through the tree
// (the one-entry cache of a free of the newest allocation never applies).
const iovaInterleaved = () => {
  let prev = iovad.allocIova(1, LIMIT, true);
  for (let i = 0; i < N; i++) {
    const pfn = iovad.allocIova(1, LIMIT, true);
    if (pfn <= 0 || iovad.freeIova(prev, 1) !== 0) throw new Error('allocIova/freeIova failed');
    prev = pfn;
  }
  check(iovad.freeIova(prev, 1) === 0, 'IOVA free');
};

/*
 * `addTimeCall: false` (tinybench's `async: false`): tinybench calls a task's function once when
 * it is added, before any warm-up. For the IOVA rows that call was the cause of iova.pair's two
 * modes (7 or 9 ns by process): iova.interleaved's add-time call runs freeIova's tree path 4096
 * times, so freeIova got optimized code of its own with settle/findStart/remove inlined (~800
 * bytes of bytecode) before iovaPair's loop was compiled; V8 then does not inline freeIova into
 * the loop (its cumulative inlining budget is 920 bytes) and the loop pays a call per free. Which
 * came first was a race between the two concurrent compiles. Without the add-time calls the loop
 * is compiled in its own warm-up, while freeIova has only seen the churn case, and inlines it.
 */
const cases: { id: string; group: string; name: string; unit: string; run: () => void; before?: () => void; after?: () => void; addTimeCall?: false }[] = [
  { id: 'pages.pair', group: 'page allocator (64 MiB of RAM)', name: 'allocPages(0) + freePages of the same page (zeroing included)', unit: 'ns/pair', run: allocFreePair },
  { id: 'pages.alloc', group: 'page allocator (64 MiB of RAM)', name: `allocPages(0), ${N} pages in a row`, unit: 'ns/page', run: allocMany, after: freeMany },
  { id: 'pages.free', group: 'page allocator (64 MiB of RAM)', name: `freePages(0) of ${N} pages in a row`, unit: 'ns/page', before: allocMany, run: freeMany },
  { id: 'iova.pair', group: 'IOVA allocator (4 KiB granule, 1024 live ranges)', name: 'allocIova(1 page, 32-bit limit) + freeIova of it (map/unmap churn)', unit: 'ns/pair', run: iovaPair, addTimeCall: false },
  { id: 'iova.interleaved', group: 'IOVA allocator (4 KiB granule, 1024 live ranges)', name: 'allocIova + freeIova of the one before (two outstanding: the tree every time)', unit: 'ns/pair', run: iovaInterleaved, addTimeCall: false },
];

const bench = new Bench({ now: benchNow, iterations: RUNS, time: 0, warmupIterations: 3, warmupTime: 0, setup });
for (const c of cases) bench.add(c.id, c.run, { beforeEach: c.before, afterEach: c.after, ...(c.addTimeCall === false ? { async: false } : {}) });
bench.runSync();
check(pages.stats().pagesInUse === 0, 'pages leaked');

const rows = bench.tasks.map((t) => {
  const r = t.result;
  if (r.state !== 'completed') throw new Error(`${t.name}: ${r.state}`);
  const c = cases.find((x) => x.id === t.name)!;
  const per = (ms: number) => (ms * 1e6) / N;
  return { id: c.id, group: c.group, case: c.name, value: per(r.latency[STAT]), p50: per(r.latency.p50), unit: c.unit, min: per(r.latency.min), max: per(r.latency.max) };
});
if (JSON_OUT) console.log(JSON.stringify({ runs: RUNS, node: process.version, rows }, null, 2));
else for (const r of rows) console.log(`${`${r.group}: ${r.case}`.padEnd(100)} ${r.value.toFixed(1).padStart(8)} ${r.unit} (${r.min.toFixed(1)}-${r.max.toFixed(1)})`);
