/**
 * ARM_64_LPAE_S1 (48-bit, 4K granule) throughput, the same sequences as Linux's io-pgtable
 * measured in user space (BENCHMARKS.md) and as the C reference (bench/ref/lpae_ref.c): 4 KiB
 * pages over 1 GiB and 2 MiB blocks over 64 GiB; map with pgcount 1 and 512, iova_to_phys of
 * every page, unmap with pgcount 1 and 512. Each map measurement starts from a fresh table
 * (table allocation included); unmap passes a real gather, so one tlb_add_page per page.
 * Reports ns per page, median of the runs.
 *
 *   pnpm bench --only=lpae                                       from the root: with the C
 *                                                                  reference and kernel ratios
 *   pnpm --filter @gki/format-arm-lpae bench                       this package alone, one process
 *   pnpm --filter @gki/format-arm-lpae bench -- --processes=7      median of 7 processes' medians
 *   (--json for machine-readable rows; --stack-only for the IOMMU-core rows alone, see below;
 *   BENCH_RUNS=n sets the runs per process, default 7)
 *
 * The VM this was measured on is noisy (whole processes land in a ~1.6x slower mode now and
 * then): only ratios to the C reference run in the same minute mean anything, and the root
 * `pnpm bench` is what computes them.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Bench } from 'tinybench';
import { Board } from '@gki/hw';
import { Kernel } from '@gki/kernel';
import {
  IOMMU_CACHE,
  IOMMU_READ,
  IOMMU_WRITE,
  type IommuFlushOps,
  type IommuIotlbGather,
  type IoPgtableCfg,
  type MappedOut,
} from '@gki/io-pgtable-core';
import { createArmLpaeOps, type ArmLpaeIoPgtable } from '../src/index.js';
import { settleCompiler } from '@gki/testkit/settle';
import { STACK_PAGES, stackCases } from './stack.js';

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

const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const PROCESSES = Number(process.argv.find((a) => a.startsWith('--processes='))?.split('=')[1] ?? 1);
const JSON_OUT = process.argv.includes('--json');
/**
 * --stack-only: run only the IOMMU-core group (bench/stack.ts). In a process that also ran the
 * format rows, the format's callback call sites have seen other callbacks and are no longer
 * inlined, which slows the format's own one-page unmap and flatters the stack ratios.
 */
const STACK_ONLY = process.argv.includes('--stack-only');

/** One figure (the row format every package's `bench --json` prints for the root `pnpm bench`). */
interface Row {
  id: string;
  group: string;
  case: string;
  value: number;
  /** The process's median sample (value is its best sample unless BENCH_STAT=median). */
  p50?: number;
  unit: string;
  min?: number;
  max?: number;
  /** The C reference figure (workload.op) the kernel estimate comes from. */
  kernel?: string;
  /** Target ratio to the estimated kernel time (or to the `vs` row). */
  goal?: number;
  /** Id of the row of this benchmark this one is compared with (value / that value). */
  vs?: string;
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

function report(rows: Row[], what: string): void {
  if (JSON_OUT) {
    console.log(JSON.stringify({ runs: RUNS, processes: PROCESSES, node: process.version, rows }, null, 2));
    return;
  }
  console.log(`ARM_64_LPAE_S1 48-bit 4K granule, ns per page (${what})`);
  console.log('(ratios to the kernel: run `pnpm bench --only=lpae` from the repository root)');
  for (const label of [...new Set(rows.map((r) => r.group))]) {
    console.log(`\n${label}`);
    for (const r of rows.filter((x) => x.group === label)) {
      const range = r.min !== undefined ? ` (${r.min.toFixed(2)}-${r.max!.toFixed(2)})` : '';
      const vs = r.vs ? rows.find((x) => x.id === r.vs) : undefined;
      const ratio = vs ? `  ${(r.value / vs.value).toFixed(2)}x "${vs.case}" (goal ${r.goal}x)` : '';
      console.log(`  ${r.case.padEnd(32)} ${r.value.toFixed(2).padStart(8)} ns${range}${ratio}`);
    }
  }
}

if (PROCESSES > 1) {
  // run this file in fresh processes and take the median of their medians
  const script = fileURLToPath(import.meta.url);
  const all: Row[][] = [];
  for (let p = 0; p < PROCESSES; p++) {
    const r = spawnSync(process.execPath, [...process.execArgv, script, '--json', ...(STACK_ONLY ? ['--stack-only'] : [])], { encoding: 'utf8', env: process.env });
    if (r.status !== 0) throw new Error(`bench process failed: ${r.stderr}`);
    all.push((JSON.parse(r.stdout) as { rows: Row[] }).rows);
  }
  const rows = all[0]!.map((r0, j) => {
    const v = all.map((rs) => rs[j]!.value);
    return { ...r0, value: median(v), min: Math.min(...v), max: Math.max(...v) };
  });
  report(rows, `median of ${PROCESSES} processes x ${RUNS} runs, min-max in brackets`);
  process.exit(0);
}
const kernel = new Kernel(new Board('bench', [{ base: 0x4000_0000, size: 64 * 2 ** 20 }]));
const PROT = IOMMU_READ | IOMMU_WRITE | IOMMU_CACHE;
const IOVA_BASE = 2 ** 32;
const PA_BASE = 2 ** 36;

// real (empty) callbacks; tlb_add_page widens the gather like the kernel's drivers do
const tlb: IommuFlushOps = {
  tlbFlushAll() {},
  tlbFlushWalk() {},
  tlbAddPage(g, iova, granule) {
    if (!g) return;
    if (iova < g.start) g.start = iova;
    if (iova + granule - 1 > g.end) g.end = iova + granule - 1;
    g.pgsize = granule;
  },
};

function fresh(): ArmLpaeIoPgtable {
  const cfg: IoPgtableCfg = { quirks: 0, pgsizeBitmap: 0x40201000, ias: 48, oas: 48, coherentWalk: true, tlb };
  const ops = createArmLpaeOps(kernel, 'ARM_64_LPAE_S1', cfg, null);
  if (!ops) throw new Error('alloc failed');
  return ops;
}

function release(ops: ArmLpaeIoPgtable | null): void {
  if (!ops) return;
  tlb.tlbFlushAll!(null);
  ops.free();
}

const out: MappedOut = { mapped: 0 };

function mapAll(ops: ArmLpaeIoPgtable, size: number, count: number, perCall: number): void {
  let iova = IOVA_BASE;
  let pa = PA_BASE;
  for (let left = count; left > 0; ) {
    out.mapped = 0;
    const ret = ops.mapPages(iova, pa, size, Math.min(perCall, left), PROT, out);
    if (ret !== 0 || out.mapped === 0) throw new Error(`map failed: ${ret}`);
    const n = out.mapped / size;
    left -= n;
    iova += out.mapped;
    pa += out.mapped;
  }
}

function unmapAll(ops: ArmLpaeIoPgtable, size: number, count: number, perCall: number): void {
  // A fresh, empty gather: what iommuIotlbGatherInit() returns (same fields in the same order,
  // so the same object shape), written out with literal bounds. Calling the kernel helper here,
  // its Number.MIN_SAFE_INTEGER load had not always collected type feedback when V8 compiled
  // this function (it runs once per call, before a loop of up to 262144 iterations); the code
  // then soft-deoptimized there at the unmap pgcount=1 row's first call, and this function ran
  // the rest of the process in its cached on-stack-replacement code (@gki/testkit/settle says why
  // V8 does not re-optimize it): 8.6 instead of 6.5-7 ns per page in about half the processes.
  // Literals need no feedback. Written here rather than in a helper: a helper called this rarely
  // has no feedback vector when this is compiled, is not inlined, and the gather's shape is then
  // unknown to the loop (a map check per page, ~0.5 ns). One gather per call, as before.
  const gather: IommuIotlbGather = { start: 9007199254740991, end: -9007199254740991, pgsize: 0, queued: false };
  let iova = IOVA_BASE;
  for (let left = count; left > 0; ) {
    const got = ops.unmapPages(iova, size, Math.min(perCall, left), gather);
    if (got <= 0) throw new Error(`unmap failed: ${got}`);
    left -= got / size;
    iova += got;
  }
}

let sink = 0;
function translateAll(ops: ArmLpaeIoPgtable, size: number, count: number): void {
  let iova = IOVA_BASE;
  let acc = 0;
  for (let i = 0; i < count; i++, iova += size) acc += ops.iovaToPhys(iova + 0x10);
  sink += acc;
  if (acc === 0) throw new Error('no translation');
}

interface Case {
  label: string;
  /** Row id prefix and C reference workload. */
  key: string;
  ref: string;
  size: number;
  count: number;
}
const CASES: Case[] = [
  { label: '4K pages over 1 GiB', key: '4k', ref: 'lpae4k', size: 0x1000, count: 262144 },
  { label: '2M blocks over 64 GiB', key: '2m', ref: 'lpae2m', size: 0x200000, count: 32768 },
];

/**
 * Before each task's warm-up and before its timed samples (tinybench's `setup`), wait for V8's
 * compiler threads to go idle (@gki/testkit/settle): a loop whose optimized code was asked for in
 * the warm-up is then measured as that code, not in the baseline or on-stack-replacement code
 * it runs while the compile is still queued behind others (on this 2-vCPU VM, under load, a
 * queued compile of unmapPagesFull sometimes outlasted the whole 2 MiB unmap pgcount=512 row:
 * 25 instead of 2 ns per block).
 */
const setup = () => settleCompiler();
const bench = new Bench({ now: benchNow, iterations: RUNS, time: 0, warmupIterations: 2, warmupTime: 0, setup });
for (const c of CASES) {
  let ops: ArmLpaeIoPgtable | null = null;
  const pre = (perCall: number) => () => {
    ops = fresh();
    mapAll(ops, c.size, c.count, perCall);
  };
  const post = () => {
    release(ops);
    ops = null;
  };
  bench.add(`${c.label}|map pgcount=1`, () => mapAll(ops!, c.size, c.count, 1), { beforeEach: () => void (ops = fresh()), afterEach: post });
  bench.add(`${c.label}|map pgcount=512`, () => mapAll(ops!, c.size, c.count, 512), { beforeEach: () => void (ops = fresh()), afterEach: post });
  // the format's own cost: the tables already exist (mapped once, leaves unmapped), so no allocation
  bench.add(`${c.label}|map pgcount=512 (tables exist)`, () => mapAll(ops!, c.size, c.count, 512), {
    beforeEach: () => {
      pre(512)();
      unmapAll(ops!, c.size, c.count, 512);
    },
    afterEach: post,
  });
  bench.add(`${c.label}|iova_to_phys`, () => translateAll(ops!, c.size, c.count), { beforeAll: pre(512), afterAll: post });
  bench.add(`${c.label}|unmap pgcount=1`, () => unmapAll(ops!, c.size, c.count, 1), { beforeEach: pre(512), afterEach: post });
  bench.add(`${c.label}|unmap pgcount=512`, () => unmapAll(ops!, c.size, c.count, 512), { beforeEach: pre(512), afterEach: post });
}

if (!STACK_ONLY) bench.runSync();

// The IOMMU core and the DMA API over this format (bench/stack.ts), set up only now: its
// driver's TLB callbacks are other functions than the ones above, and V8 would no longer
// inline the format's callback call sites in the rows above if it had seen both.
const stack = stackCases();
// stackCases() booted a kernel and ran every case once (its checks), so V8 has just queued
// optimized compiles of most of the stack; the adds below call each case again, which is when
// the cases' loop functions ask for their regular optimized code. Let the compiler catch up
// first, or a request that finds its queue full is dropped and that loop runs in its slower
// on-stack-replacement code for the whole process (@gki/testkit/settle).
settleCompiler();
const stackBench = new Bench({ now: benchNow, iterations: RUNS, time: 0, warmupIterations: 2, warmupTime: 0, setup });
for (const c of stack.cases) stackBench.add(`stack|${c.id}`, c.run, { beforeEach: c.before, afterEach: c.after });
stackBench.runSync();
stack.done();

/** The C reference operation of each row (none for "tables exist": the kernel was not measured so). */
const REF_OP: Record<string, string> = {
  'map pgcount=1': 'map1',
  'map pgcount=512': 'map512',
  iova_to_phys: 'iova_to_phys',
  'unmap pgcount=1': 'unmap1',
  'unmap pgcount=512': 'unmap512',
};
const rows: Row[] = [];
for (const t of [...(STACK_ONLY ? [] : bench.tasks), ...stackBench.tasks]) {
  const [label, op] = t.name.split('|') as [string, string];
  const r = t.result;
  if (r.state !== 'completed') throw new Error(`${t.name}: ${r.state}`, { cause: r.state === 'errored' ? r.error : undefined });
  if (label === 'stack') {
    const c = stack.cases.find((x) => x.id === op)!;
    const per = (ms: number) => (ms * 1e6) / STACK_PAGES;
    rows.push({ id: c.id, group: 'through the IOMMU core: noop_iommu (no-op TLB ops) over this format, 4 KiB pages, one per call', case: c.name, value: per(r.latency[STAT]), p50: per(r.latency.p50), unit: c.unit, ...(c.vs ? { vs: c.vs, goal: c.goal } : {}) });
    continue;
  }
  const c = CASES.find((x) => x.label === label)!;
  const ns = (r.latency[STAT] * 1e6) / c.count;
  const refOp = REF_OP[op];
  const id = `${c.key}.${refOp ?? op.replace(/[^a-z0-9]+/g, '-')}`;
  rows.push({ id, group: `ARM_64_LPAE_S1, ${label}`, case: op, value: ns, p50: (r.latency.p50 * 1e6) / c.count, unit: `ns/${c.size === 0x1000 ? 'page' : 'block'}`, ...(refOp ? { kernel: `${c.ref}.${refOp}`, goal: 1.5 } : {}) });
}

report(rows, `median of ${RUNS} runs`);
if (kernel.pages.stats().pagesInUse !== 0 || (sink === 0 && !STACK_ONLY)) throw new Error('bench leaked table pages');
