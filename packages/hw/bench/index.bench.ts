/**
 * @gki/hw benchmarks (tinybench): the shared TLB and the SMMUv3 model (bench/smmu-v3.bench.ts),
 * the SMMUv2 model (bench/smmu-v2.bench.ts), the Mali GPU model (bench/mali.bench.ts), the
 * Adreno GPU model (bench/adreno.bench.ts), the DTS compiler (bench/dts.bench.ts), the PCI ECAM
 * model (bench/pci.bench.ts); `-- --only=smmu-v2` (or smmu-v3, mali, adreno, dts, pci) runs one of them.
 * Rows with a "vs" compare with another row of the same process (a TLB hit against a bare
 * Map.get of the same keys, DMA through the SMMU against DMA without it); `pnpm bench --only=hw`
 * from the root prints those ratios.
 *
 *   pnpm --filter @gki/hw bench                       one process
 *   pnpm --filter @gki/hw bench -- --processes=7      median over 7 processes, min-max
 *   (add --json for machine-readable output; BENCH_RUNS=n sets the samples per case, default 15)
 *
 * Every row uses the clock and statistic of bench/harness.ts: each process reports its best
 * wall-clock sample (BENCH_STAT=median: its median), as the root `pnpm bench` expects. The VM
 * the figures in BENCHMARKS.md come from is noisy (a whole process sometimes runs ~1.6x
 * slower), hence the multi-process form.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { adrenoBench } from './adreno.bench.js';
import { dtsBench } from './dts.bench.js';
import { maliBench } from './mali.bench.js';
import { pciBench } from './pci.bench.js';
import { smmuV2Bench } from './smmu-v2.bench.js';
import type { BenchRow } from './harness.js';
import { smmuV3Bench } from './smmu-v3.bench.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const PROCESSES = Number(process.argv.find((a) => a.startsWith('--processes='))?.split('=')[1] ?? 1);
const JSON_OUT = process.argv.includes('--json');
const ONLY = process.argv.find((a) => a.startsWith('--only='))?.split('=')[1];

function allRows(runs: number): BenchRow[] {
  const rows: BenchRow[] = [];
  if (ONLY === undefined || ONLY === 'smmu-v3') rows.push(...smmuV3Bench(runs));
  if (ONLY === undefined || ONLY === 'smmu-v2') rows.push(...smmuV2Bench(runs));
  if (ONLY === undefined || ONLY === 'mali') rows.push(...maliBench(runs));
  if (ONLY === undefined || ONLY === 'adreno') rows.push(...adrenoBench(runs));
  if (ONLY === undefined || ONLY === 'dts') rows.push(...dtsBench(runs));
  if (ONLY === undefined || ONLY === 'pci') rows.push(...pciBench(runs));
  return rows;
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

function fmt(v: number): string {
  return v >= 100 ? v.toFixed(0) : v.toFixed(1);
}

function report(rows: BenchRow[], what: string): void {
  if (JSON_OUT) {
    console.log(JSON.stringify({ runs: RUNS, processes: PROCESSES, node: process.version, rows }, null, 2));
    return;
  }
  console.log(`@gki/hw benchmarks (${what})`);
  for (const g of [...new Set(rows.map((r) => r.group))]) {
    console.log(`\n${g}`);
    for (const r of rows.filter((x) => x.group === g)) {
      const range = r.min !== undefined ? `(${fmt(r.min)}-${fmt(r.max!)})` : '';
      const alloc = r.alloc === undefined ? '' : r.alloc < 0 ? '  alloc ?' : `  alloc ${r.alloc.toFixed(1)} B/op`;
      const vs = r.vs ? rows.find((x) => x.id === r.vs) : undefined;
      const ratio = vs ? `  ${(r.value / vs.value).toFixed(2)}x "${vs.case}"${r.goal ? ` (goal ${r.goal}x)` : ''}` : '';
      console.log(`  ${r.case.padEnd(66)} ${fmt(r.value).padStart(8)} ${r.unit.padEnd(15)}${range.padEnd(16)}${alloc}${ratio}`);
    }
  }
}

if (PROCESSES > 1) {
  const script = fileURLToPath(import.meta.url);
  const all: BenchRow[][] = [];
  for (let p = 0; p < PROCESSES; p++) {
    const r = spawnSync(process.execPath, [...process.execArgv, script, '--json', ...(ONLY ? [`--only=${ONLY}`] : [])], { encoding: 'utf8', env: process.env });
    if (r.status !== 0) throw new Error(`bench process failed: ${r.stderr}`);
    all.push((JSON.parse(r.stdout) as { rows: BenchRow[] }).rows);
  }
  const rows = all[0]!.map((r0, j) => {
    const v = all.map((rs) => rs[j]!.value);
    const a = all.map((rs) => rs[j]!.alloc ?? -1).filter((x) => x >= 0);
    return { ...r0, value: median(v), min: Math.min(...v), max: Math.max(...v), alloc: a.length ? median(a) : -1 };
  });
  report(rows, `median over ${PROCESSES} processes of each one's ${process.env.BENCH_STAT === 'median' ? 'median' : 'best'} of ${RUNS} samples, min-max over processes in brackets`);
} else {
  report(allRows(RUNS), `${process.env.BENCH_STAT === 'median' ? 'median' : 'best'} of ${RUNS} samples, min-max in brackets`);
}
