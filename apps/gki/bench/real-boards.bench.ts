/**
 * Real kernel trees (the repository's boards/) through the whole public path a user takes:
 * compileDtsFile, Board.fromDtb, Kernel.boot(defaultImage()). Per tree: the first run in a
 * fresh process (what a one-shot `gki boot --board x.dts` pays, JIT warm-up included) and the
 * median of warm runs, in milliseconds of wall time for each step.
 *
 *   pnpm --filter gki exec tsx --conditions=@gki/source bench/real-boards.bench.ts [--json]
 *   (BENCH_RUNS=n warm runs per tree, default 7)
 */
import { readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Board, compileDtsFile } from '@gki/hw';
import { Kernel } from '@gki/kernel';
import { defaultImage } from '../src/image.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const boards = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'boards');

function dtsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...dtsFiles(p));
    else if (e.name.endsWith('.dts') && e.name !== 'gki-virt.dts') out.push(p);
  }
  return out.sort();
}

function once(file: string): { compile: number; board: number; boot: number } {
  const t0 = performance.now();
  const r = compileDtsFile(file);
  const t1 = performance.now();
  const board = Board.fromDtb(r.dtb);
  const t2 = performance.now();
  const k = Kernel.boot(board, defaultImage());
  const t3 = performance.now();
  if (k.log.all().some((l) => l.level === 'crit')) throw new Error(`${file}: crit log`);
  return { compile: t1 - t0, board: t2 - t1, boot: t3 - t2 };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rows = [];
for (const file of dtsFiles(boards)) {
  const first = once(file);
  const warm = Array.from({ length: RUNS }, () => once(file));
  rows.push({
    tree: relative(boards, file),
    firstMs: +(first.compile + first.board + first.boot).toFixed(1),
    compileMs: +median(warm.map((w) => w.compile)).toFixed(1),
    boardMs: +median(warm.map((w) => w.board)).toFixed(1),
    bootMs: +median(warm.map((w) => w.boot)).toFixed(1),
    totalMs: +median(warm.map((w) => w.compile + w.board + w.boot)).toFixed(1),
  });
}
if (process.argv.includes('--json')) console.log(JSON.stringify(rows));
else {
  console.log('| tree | first run (ms) | compile | Board.fromDtb | Kernel.boot | warm total |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const r of rows) console.log(`| \`${r.tree}\` | ${r.firstMs} | ${r.compileMs} | ${r.boardMs} | ${r.bootMs} | ${r.totalMs} |`);
}
