/**
 * ARM_V7S map / iova_to_phys / unmap throughput, in ns per page. The root `pnpm bench` runs it
 * next to the C reference (packages/format-arm-lpae/bench/ref/lpae_ref.c, workload v7s4k) and
 * prints the ratio to Linux's own io-pgtable-arm-v7s.c estimated from it (BENCHMARKS.md).
 *
 * Method (as the baseline): coherent walk, TLB callbacks that do nothing but widen the gather,
 * unmap with a real (non-queued) gather; every map sample starts from a fresh table, so table
 * allocation is included; setup/teardown of a sample is not timed. One sample = one sweep of
 * the whole range; the reported figure is the median sample divided by the number of pages.
 *
 *   pnpm bench --only=v7s                           from the root, with the C reference
 *   pnpm --filter @gki/format-arm-v7s bench           this package alone (--json for rows;
 *                                                     BENCH_RUNS=n to change the sample count;
 *                                                     --stack-only for the stack rows alone)
 *
 * Last, the IOMMU core and the DMA API over this format (bench/stack.ts): iommu_map /
 * iommu_unmap / dma_map_single of one page on a domain whose published table is ARM_V7S.
 */
import { settleCompiler } from '@gki/testkit/settle';
import { Bench, type Task } from 'tinybench';
import { Board } from '@gki/hw';
import { Kernel } from '@gki/kernel';
import { IOMMU_CACHE, IOMMU_READ, IOMMU_WRITE, type IommuFlushOps, type IommuIotlbGather } from '@gki/io-pgtable-core';
import { createArmV7sOps, freeArmV7sOps, type ArmV7sIoPgtable } from '../src/index.js';
import { V7S_STACK_PAGES, v7sStackCases } from './stack.js';

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

const SZ_4K = 0x1000;
const SZ_1M = 0x100000;
const RUNS = Number(process.env.BENCH_RUNS ?? 15);
/**
 * tinybench's `setup` hook: before each task's warm-up and before its timed samples, wait for
 * V8's compiler threads to go idle (@gki/testkit/settle), so that a loop's request for optimized
 * code is not dropped by a full compile queue, which leaves the loop in its slower
 * on-stack-replacement code for the process (BENCHMARKS.md, "the OSR rows").
 */
const setup = (): void => settleCompiler();
const STACK_ONLY = process.argv.includes('--stack-only');
const PROT = IOMMU_READ | IOMMU_WRITE | IOMMU_CACHE;
const PA_BASE = 0x8000_0000;

const kernel = new Kernel(new Board('bench', [{ base: 0x4000_0000, size: 0x1000_0000 }]));
const gather: IommuIotlbGather = { start: Number.MAX_SAFE_INTEGER, end: 0, pgsize: 0, queued: false };
const tlb: IommuFlushOps = {
  tlbFlushAll() {},
  tlbFlushWalk() {},
  tlbAddPage(g, iova, granule) {
    if (g === null) return;
    if (iova < g.start) g.start = iova;
    if (iova + granule - 1 > g.end) g.end = iova + granule - 1;
    g.pgsize = granule;
  },
};

function fresh(): ArmV7sIoPgtable {
  const ops = createArmV7sOps(kernel, { quirks: 0, pgsizeBitmap: 0x1111000, ias: 32, oas: 32, coherentWalk: true, tlb }, null);
  if (ops === null) throw new Error('alloc failed');
  return ops;
}

const mapped = { mapped: 0 };
function mapRange(ops: ArmV7sIoPgtable, pgsize: number, count: number, per: number): void {
  const step = pgsize * per;
  for (let i = 0, iova = 0; i < count; i += per, iova += step) {
    // 4K runs map 1 GiB at PA 2 GiB; sections cover all 4 GiB, so they map 1:1
    const pa = pgsize === SZ_1M ? iova : PA_BASE + iova;
    if (ops.mapPages(iova, pa, pgsize, per, PROT, mapped) !== 0) throw new Error(`map failed at ${iova}`);
  }
}
function unmapRange(ops: ArmV7sIoPgtable, pgsize: number, count: number, per: number): void {
  const step = pgsize * per;
  for (let i = 0, iova = 0; i < count; i += per, iova += step) {
    if (ops.unmapPages(iova, pgsize, per, gather) !== step) throw new Error(`unmap failed at ${iova}`);
  }
}
let sink = 0;
function lookupRange(ops: ArmV7sIoPgtable, pgsize: number, count: number): void {
  let s = 0;
  for (let i = 0, iova = 0; i < count; i++, iova += pgsize) s += ops.iovaToPhys(iova + 0x10);
  if (s === 0) throw new Error('nothing mapped');
  sink += s;
}

interface Case {
  name: string;
  pages: number;
  /** The C reference operation (workload v7s4k) this row compares with, if any. */
  c?: string;
  fn: (ops: ArmV7sIoPgtable) => void;
  /** State before each sample: empty or fully mapped table. */
  start: 'empty' | 'mapped';
  pgsize: number;
}

const P4K = (1 << 30) / SZ_4K; // 262144 pages: 1 GiB
const P1M = 2 ** 32 / SZ_1M; // 4096 sections: the whole 4 GiB space
const cases: Case[] = [
  { name: '4K pages over 1 GiB: map pgcount=1', pages: P4K, c: 'map1', start: 'empty', pgsize: SZ_4K, fn: (o) => mapRange(o, SZ_4K, P4K, 1) },
  { name: '4K pages over 1 GiB: map pgcount=16', pages: P4K, start: 'empty', pgsize: SZ_4K, fn: (o) => mapRange(o, SZ_4K, P4K, 16) },
  { name: '4K pages over 1 GiB: map pgcount=512', pages: P4K, c: 'map512', start: 'empty', pgsize: SZ_4K, fn: (o) => mapRange(o, SZ_4K, P4K, 512) },
  { name: '4K pages over 1 GiB: iova_to_phys', pages: P4K, c: 'iova_to_phys', start: 'mapped', pgsize: SZ_4K, fn: (o) => lookupRange(o, SZ_4K, P4K) },
  { name: '4K pages over 1 GiB: unmap pgcount=1', pages: P4K, c: 'unmap1', start: 'mapped', pgsize: SZ_4K, fn: (o) => unmapRange(o, SZ_4K, P4K, 1) },
  { name: '4K pages over 1 GiB: unmap pgcount=16', pages: P4K, start: 'mapped', pgsize: SZ_4K, fn: (o) => unmapRange(o, SZ_4K, P4K, 16) },
  { name: '4K pages over 1 GiB: unmap pgcount=512', pages: P4K, c: 'unmap512', start: 'mapped', pgsize: SZ_4K, fn: (o) => unmapRange(o, SZ_4K, P4K, 512) },
  { name: '1M sections over 4 GiB: map pgcount=1', pages: P1M, start: 'empty', pgsize: SZ_1M, fn: (o) => mapRange(o, SZ_1M, P1M, 1) },
  { name: '1M sections over 4 GiB: iova_to_phys', pages: P1M, start: 'mapped', pgsize: SZ_1M, fn: (o) => lookupRange(o, SZ_1M, P1M) },
  { name: '1M sections over 4 GiB: unmap pgcount=1', pages: P1M, start: 'mapped', pgsize: SZ_1M, fn: (o) => unmapRange(o, SZ_1M, P1M, 1) },
];

const bench = new Bench({ now: benchNow, name: 'ARM_V7S', iterations: RUNS, time: 0, warmup: true, warmupIterations: 5, warmupTime: 0, setup });
for (const c of cases) {
  let ops: ArmV7sIoPgtable | null = null;
  const pgs = c.pgsize === SZ_1M ? P1M : P4K;
  bench.add(c.name, () => c.fn(ops!), {
    beforeEach() {
      ops = fresh();
      if (c.start === 'mapped') mapRange(ops, c.pgsize, pgs, 512 > pgs ? pgs : 512);
    },
    afterEach() {
      freeArmV7sOps(ops);
      ops = null;
    },
  });
}

if (!STACK_ONLY) await bench.run();

// The stack rows, set up only now, after the rows above ran (their warm-up included): the
// stack's driver has its own TLB callbacks, and V8 would no longer inline the format's
// callback call sites in the rows above had it seen both there first.
const stack = v7sStackCases();
// No settle hook for the stack group (measured, BENCHMARKS.md "settle2"): with it the iommu_map
// row read 10.4 ns median (9.1-18.2, 8 of 24 processes slow) against 9.3 (8.5-16.3) without.
const stackBench = new Bench({ now: benchNow, name: 'ARM_V7S stack', iterations: RUNS, time: 0, warmup: true, warmupIterations: 5, warmupTime: 0 });
for (const c of stack.cases) stackBench.add(c.id, c.run, { beforeEach: c.before, afterEach: c.after });
await stackBench.run();
stack.done();

const JSON_OUT = process.argv.includes('--json');
const rows: { id: string; group: string; case: string; value: number; p50: number; unit: string; min: number; max: number; kernel?: string; goal?: number; vs?: string }[] = [];
for (const t of (STACK_ONLY ? [] : bench.tasks) as Task[]) {
  const c = cases.find((x) => x.name === t.name)!;
  const r = t.result;
  if (r.state !== 'completed') throw new Error(`${t.name}: ${r.state}`);
  const per = (ms: number) => (ms * 1e6) / c.pages;
  const [group, op] = c.name.split(': ') as [string, string];
  const id = `${c.pgsize === SZ_1M ? '1m' : '4k'}.${c.c ?? op.replace(/[^a-z0-9]+/g, '-')}`;
  rows.push({ id, group: `ARM_V7S, ${group}`, case: op, value: per(r.latency[STAT]), p50: per(r.latency.p50), unit: c.pgsize === SZ_1M ? 'ns/section' : 'ns/page', min: per(r.latency.min), max: per(r.latency.max), ...(c.c ? { kernel: `v7s4k.${c.c}`, goal: 1.5 } : {}) });
}
for (const t of stackBench.tasks as Task[]) {
  const c = stack.cases.find((x) => x.id === t.name)!;
  const r = t.result;
  if (r.state !== 'completed') throw new Error(`${t.name}: ${r.state}`);
  const per = (ms: number) => (ms * 1e6) / V7S_STACK_PAGES;
  rows.push({ id: c.id, group: 'through the IOMMU core: noop_iommu (no-op TLB ops) over ARM_V7S, 4 KiB pages, one per call', case: c.name, value: per(r.latency[STAT]), p50: per(r.latency.p50), unit: c.unit, min: per(r.latency.min), max: per(r.latency.max), ...(c.vs ? { vs: c.vs } : {}) });
}
if (kernel.pages.stats().pagesInUse !== 0) throw new Error('benchmark leaked pages');
if (sink === 0 && !STACK_ONLY) throw new Error('no translation');
if (JSON_OUT) {
  console.log(JSON.stringify({ runs: RUNS, node: process.version, rows }, null, 2));
} else {
  console.log(`ARM_V7S, node ${process.version}, ${RUNS} samples per case (median; min-max in brackets)`);
  console.log('(ratios to the kernel: run `pnpm bench --only=v7s` from the repository root)');
  for (const r of rows) console.log(`  ${(r.id.startsWith('stack.') ? `${r.id}: ${r.case}` : `${r.group}: ${r.case}`).padEnd(48)} ${r.value.toFixed(2).padStart(8)} ${r.unit} (${r.min.toFixed(2)}-${r.max.toFixed(2)})`);
}
