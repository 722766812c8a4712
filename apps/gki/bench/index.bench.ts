/**
 * Timing of the composer: compose of the default configuration (parse, merge_config, Kconfig
 * resolution under both rule sets, mapping to packages, depmod/modpost validation), writing the
 * image directory, reading it back (readImageDir), and Kernel.boot of the default image on the
 * default board (initcalls, module loads, probes; no self-tests). Then the CLI end to end as a
 * user runs it: `node dist/cli.js compose -o DIR` and `node dist/cli.js boot DIR` (wall time of
 * the whole process, node start-up included; needs `pnpm --filter gki... build` first, skipped
 * with a note otherwise).
 *
 *   pnpm --filter gki bench           (BENCH_RUNS=n samples per case, default 20)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Bench } from 'tinybench';
import { createDefaultBoard } from '@gki/hw';
import { Kernel } from '@gki/kernel';
import { imageFiles, readImageDir, writeImageDir } from '../src/compose/image-dir.js';
import { composeDefault } from '../src/compose/inputs.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 20);
const tmp = mkdtempSync(join(tmpdir(), 'gki-bench-'));

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

const plan = composeDefault().plan!;
const files = imageFiles(plan, { base: '<gki-base>', config: '<gki-default>', omit: [] });
const dir = join(tmp, 'image');
writeImageDir(dir, files);
const image = readImageDir(dir).image;

const bench = new Bench({ iterations: RUNS, warmupIterations: 3, time: 0 });
bench
  .add('compose the default configuration (in process)', () => {
    if (!composeDefault().ok) throw new Error('compose failed');
  })
  .add('write the image directory', () => writeImageDir(dir, imageFiles(plan, { base: '<gki-base>', config: '<gki-default>', omit: [] })))
  .add('readImageDir', () => {
    readImageDir(dir);
  })
  .add('Kernel.boot of the default image on gki-virt', () => {
    Kernel.boot(createDefaultBoard(), image);
  });
await bench.run();

console.log(`gki composer, ${RUNS} samples per case, median (min-max) in ms`);
for (const t of bench.tasks) {
  const r = t.result as { latency?: { p50?: number; min: number; max: number } } | undefined;
  if (!r?.latency?.p50) throw new Error(`${t.name}: no result`);
  console.log(`${t.name.padEnd(48)} ${r.latency.p50.toFixed(2).padStart(8)} (${r.latency.min.toFixed(2)}-${r.latency.max.toFixed(2)})`);
}

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
if (!existsSync(cli)) {
  console.log('CLI rows skipped: no dist/cli.js (run `pnpm --filter gki... build` first)');
} else {
  const runs = Math.min(RUNS, 7);
  for (const [label, args] of [
    ['node dist/cli.js compose -o DIR (whole process)', ['compose', '-o', join(tmp, 'cli-image')]],
    ['node dist/cli.js boot DIR (whole process)', ['boot', join(tmp, 'cli-image')]],
  ] as const) {
    const ms: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
      ms.push(performance.now() - t0);
      if (r.status !== 0) throw new Error(`${label}: exit ${r.status}: ${r.stderr}`);
    }
    console.log(`${label.padEnd(48)} ${median(ms).toFixed(0).padStart(8)} (${Math.min(...ms).toFixed(0)}-${Math.max(...ms).toFixed(0)})  [${runs} runs]`);
  }
}
rmSync(tmp, { recursive: true, force: true });
