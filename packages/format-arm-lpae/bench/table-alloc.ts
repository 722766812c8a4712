/**
 * What a page-table allocation costs inside iommu_map's goal row (bench/stack.ts
 * `stack.iommu.map1`), where it runs before V8 has optimised the allocator: the row's `after`
 * hook unmaps the whole range with one iommu_unmap (2 MiB pages), which frees the 8 level-3
 * tables, so each of its samples allocates them again, from mostly unoptimised code. The
 * stack's cases run exactly as in index.bench.ts (same order, samples and warm-up); only
 * while the goal row's timed function runs, PageAllocator.allocPages is timed call by call
 * (minus an empty timer pair). A diagnostic for BENCHMARKS.md, not a goal row.
 *
 *   npx tsx --conditions=@gki/source bench/table-alloc.ts      (BENCH_RUNS=n: samples, default 7)
 */
import { Bench } from 'tinybench';
import { PageAllocator } from '@gki/kernel';
import { settleCompiler } from '@gki/testkit/settle';
import { STACK_PAGES, stackCases } from './stack.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const stack = stackCases();
settleCompiler(); // as index.bench.ts does before adding the cases (@gki/testkit/settle)

let timing = false;
let spent = 0;
let calls = 0;
const perSample: number[] = [];
const proto = PageAllocator.prototype;
const alloc = proto.allocPages;
proto.allocPages = function (this: PageAllocator, order?: number): number {
  if (!timing) return alloc.call(this, order);
  const t = performance.now();
  const pa = alloc.call(this, order);
  spent += performance.now() - t;
  calls++;
  return pa;
};
let timer = 0;
for (let i = 0; i < 1000; i++) {
  const t = performance.now();
  timer += performance.now() - t;
}
timer /= 1000;

const bench = new Bench({ now: () => performance.now(), iterations: RUNS, time: 0, warmupIterations: 2, warmupTime: 0, setup: () => settleCompiler() });
for (const c of stack.cases) {
  const run = c.run;
  const timed =
    c.id === 'stack.iommu.map1'
      ? () => {
          spent = 0;
          calls = 0;
          timing = true;
          run();
          timing = false;
          if (calls > 0) perSample.push(((spent - calls * timer) * 1e6) / calls);
        }
      : run;
  bench.add(c.id, timed, { beforeEach: c.before, afterEach: c.after });
}
bench.runSync();
stack.done();
proto.allocPages = alloc;

const value = (id: string) => {
  const r = bench.tasks.find((t) => t.name === id)!.result;
  if (r.state !== 'completed') throw new Error(`${id}: ${r.state}`);
  return (r.latency.min * 1e6) / STACK_PAGES;
};
console.log(`allocPages(0) inside iommu_map's goal row, ns per table, sample by sample: ${perSample.map((x) => x.toFixed(0)).join(' ')}`);
const sorted = perSample.slice(2).sort((a, b) => a - b);
console.log(`from the third sample on: median ${sorted[sorted.length >> 1]!.toFixed(0)} ns per table (${((sorted[sorted.length >> 1]! * 8) / STACK_PAGES).toFixed(2)} ns per page of the row)`);
console.log(`(the row itself, timed with the wrapper in place: iommu_map ${value('stack.iommu.map1').toFixed(2)} ns/page, map_pages ${value('stack.fmt.map1').toFixed(2)} ns/page)`);
