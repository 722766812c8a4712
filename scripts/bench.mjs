#!/usr/bin/env node
// `pnpm bench`: runs every workspace package's benchmark (its `bench` script with --json) in
// fresh processes, interleaved with the project's C reference (packages/format-arm-lpae/bench/
// ref/lpae_ref.c, compiled here with `cc -O2`), and prints for every row the project's figure,
// the C reference's figure from the same minute, the kernel time estimated from it (C ref x the
// documented kernel/ref factor in ref/kernel-ratios.json) and the ratio to that estimate. Rows
// that compare with another row of the same benchmark (a TLB hit against a bare Map.get, DMA
// through the SMMU against DMA without it) print that ratio instead.
//
//   pnpm bench                              every package, 3 processes each
//   pnpm bench --processes=5 --only=lpae    packages whose name contains "lpae"
//   pnpm bench --json=out.json              also write every figure as JSON
//   pnpm bench --compare=main.json          print the change against an earlier --json file
//   BENCH_RUNS=n                            samples per case inside each process (package default)
//
// Absolute times on the shared VMs move by 25% or more between runs; a figure means something
// only next to the C reference run in the same minute, which is why every process of a package
// is preceded by a run of the C reference. Each bench process reports its best sample per row
// (wall time: the sample least disturbed by other tenants; BENCH_STAT=median for medians), the
// C reference the median of its runs in CPU time (single-threaded, so that is its undisturbed
// time), and the table takes the median of both over the processes.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2).filter((a) => a !== '--');
const opt = (name) => {
  const a = args.find((x) => x === `--${name}` || x.startsWith(`--${name}=`));
  if (a === undefined) return undefined;
  return a.includes('=') ? a.slice(a.indexOf('=') + 1) : '';
};
// a mistyped option (--proceses=5) would otherwise be ignored and the whole default run start
const KNOWN = ['processes', 'only', 'json', 'compare'];
for (const a of args) {
  const name = /^--([^=]+)/.exec(a)?.[1];
  if (name === undefined || !KNOWN.includes(name)) {
    console.error(`bench: unknown argument '${a}' (options: ${KNOWN.map((k) => `--${k}=...`).join(' ')})`);
    process.exit(2);
  }
}
const PROCESSES = Number(opt('processes') ?? 3);
const FILTER = opt('only');
const JSON_OUT = opt('json');
const COMPARE = opt('compare');
const C_RUNS = 5;
if (!Number.isInteger(PROCESSES) || PROCESSES < 1) {
  console.error(`bench: --processes must be a positive integer, got ${opt('processes')}`);
  process.exit(2);
}

const REF_DIR = join(root, 'packages/format-arm-lpae/bench/ref');
const ratios = JSON.parse(readFileSync(join(REF_DIR, 'kernel-ratios.json'), 'utf8'));

function median(v) {
  const s = v.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return undefined;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

// ---- the C reference ----
let refBin = null;
let refWhyNot = '';
const work = mkdtempSync(join(tmpdir(), 'gki-bench-'));
{
  const cc = process.env.CC || 'cc';
  const r = spawnSync(cc, ['-O2', '-o', join(work, 'lpae_ref'), join(REF_DIR, 'lpae_ref.c')], { encoding: 'utf8' });
  if (r.error || r.status !== 0) refWhyNot = r.error ? `${cc}: ${r.error.message}` : r.stderr.trim();
  else refBin = join(work, 'lpae_ref');
}
if (!refBin) {
  const bar = '!'.repeat(100);
  console.error(`${bar}\n!!! NO C REFERENCE: could not compile ${join(REF_DIR, 'lpae_ref.c')} (${refWhyNot}).`);
  console.error('!!! Figures are printed WITHOUT the C-reference and kernel columns; they are not comparable across machines.');
  console.error(`!!! Install a C compiler (cc/gcc/clang, or set CC) to get ratios to the kernel.\n${bar}`);
}

function runRef() {
  if (!refBin) return null;
  const r = spawnSync(refBin, [String(C_RUNS)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`C reference failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

// ---- packages ----
const pkgs = [];
for (const group of ['packages', 'apps', 'tools']) {
  const dir = join(root, group);
  if (!existsSync(dir)) continue;
  for (const d of readdirSync(dir).sort()) {
    const f = join(dir, d, 'package.json');
    if (!existsSync(f)) continue;
    const pj = JSON.parse(readFileSync(f, 'utf8'));
    if (!pj.scripts?.bench) continue;
    if (FILTER && !pj.name.includes(FILTER) && !d.includes(FILTER)) continue;
    pkgs.push({ name: pj.name, dir: join(dir, d) });
  }
}
if (pkgs.length === 0) {
  console.error(`bench: no package with a bench script${FILTER ? ` matches "${FILTER}"` : ''}`);
  process.exit(2);
}

const env = { ...process.env, FORCE_COLOR: '0' };
const results = {
  date: new Date().toISOString(),
  node: process.version,
  cpu: cpus()[0]?.model ?? 'unknown',
  processes: PROCESSES,
  cReference: refBin ? 'packages/format-arm-lpae/bench/ref/lpae_ref.c (cc -O2)' : null,
  packages: {},
};
let failures = 0;

for (const p of pkgs) {
  const runs = [];
  const refs = [];
  let error = null;
  for (let i = 0; i < PROCESSES && !error; i++) {
    const ref = runRef();
    if (ref) refs.push(ref);
    const r = spawnSync('pnpm', ['run', '--silent', 'bench', '--json'], { cwd: p.dir, encoding: 'utf8', env, maxBuffer: 64 << 20 });
    if (r.status !== 0) {
      error = (r.stderr || r.stdout || `exit ${r.status}`).trim().split('\n').slice(-15).join('\n');
      break;
    }
    try {
      const txt = r.stdout.slice(r.stdout.indexOf('{'));
      runs.push(JSON.parse(txt).rows);
    } catch (e) {
      error = `unparsable --json output: ${e.message}`;
    }
  }
  if (error) {
    failures++;
    console.log(`\n## ${p.name}: FAILED\n${error}`);
    results.packages[p.name] = { error };
    continue;
  }
  // Medians over processes (row by row) and of the C reference.
  const cref = {};
  for (const wl of ['lpae4k', 'lpae2m', 'v7s4k']) {
    for (const op of ['map1', 'map512', 'iova_to_phys', 'unmap1', 'unmap512']) {
      const m = median(refs.map((x) => x[wl]?.[op]));
      if (m !== undefined) cref[`${wl}.${op}`] = m;
    }
  }
  const rows = runs[0].map((r0, j) => {
    const v = runs.map((rs) => rs[j]?.value);
    const a = runs.map((rs) => rs[j]?.alloc).filter((x) => typeof x === 'number' && x >= 0);
    const p50 = median(runs.map((rs) => rs[j]?.p50));
    return { ...r0, value: median(v), min: Math.min(...v), max: Math.max(...v), alloc: a.length ? median(a) : r0.alloc, ...(p50 !== undefined ? { p50 } : {}) };
  });
  const byId = new Map(rows.map((r) => [r.id, r]));
  for (const r of rows) {
    if (r.kernel && cref[r.kernel] !== undefined) {
      const [wl, op] = r.kernel.split('.');
      const k = ratios[wl]?.[op];
      r.cRef = cref[r.kernel];
      if (typeof k === 'number') {
        r.kernelEst = r.cRef * k;
        r.xKernel = r.value / r.kernelEst;
      }
    }
    if (r.vs && byId.has(r.vs)) r.xVs = r.value / byId.get(r.vs).value;
  }
  results.packages[p.name] = { cRef: refs.length ? cref : null, rows };
  print(p.name, rows);
}

function fmt(v, d) {
  if (v === undefined || v === null || Number.isNaN(v)) return '';
  if (d !== undefined) return v.toFixed(d);
  const a = Math.abs(v);
  return a >= 1000 ? v.toFixed(0) : a >= 100 ? v.toFixed(1) : a >= 10 ? v.toFixed(2) : v.toFixed(3);
}

function print(name, rows) {
  console.log(`\n## ${name}  (median over ${PROCESSES} process${PROCESSES > 1 ? 'es' : ''} of each one's best sample; min-max over processes)`);
  for (const g of [...new Set(rows.map((r) => r.group))]) {
    console.log(`\n${g}`);
    const hdr = `  ${'case'.padEnd(58)} ${'value'.padStart(9)} ${'unit'.padEnd(14)} ${'min-max'.padEnd(17)} ${'C ref'.padStart(7)} ${'kernel~'.padStart(8)} ${'x kernel'.padStart(8)} ${'x vs row'.padStart(8)} ${'goal'.padStart(5)} alloc`;
    console.log(hdr);
    for (const r of rows.filter((x) => x.group === g)) {
      const x = r.xKernel ?? r.xVs;
      let met = r.goal !== undefined && x !== undefined ? (x <= r.goal ? ' ok' : ' MISSED') : '';
      if (r.limit !== undefined) met = r.value <= r.limit ? ` ok (limit ${r.limit} ${r.unit})` : ` MISSED (limit ${r.limit} ${r.unit})`;
      const line = [
        `  ${r.case.padEnd(58)}`,
        fmt(r.value).padStart(9),
        (r.unit ?? '').padEnd(14),
        (r.min !== undefined ? `${fmt(r.min)}-${fmt(r.max)}` : '').padEnd(17),
        fmt(r.cRef).padStart(7),
        fmt(r.kernelEst).padStart(8),
        (r.xKernel !== undefined ? fmt(r.xKernel, 2) + 'x' : '').padStart(8),
        (r.xVs !== undefined ? fmt(r.xVs, 2) + 'x' : '').padStart(8),
        (r.goal !== undefined ? `${r.goal}x` : '').padStart(5),
        r.alloc !== undefined && r.alloc >= 0 ? `${fmt(r.alloc, 1)} B` : '',
      ].join(' ');
      console.log(line + met);
      if (r.vs && r.xVs !== undefined) console.log(`  ${''.padEnd(58)}   (x vs row: against "${byIdCase(rows, r.vs)}")`);
      if (r.goal !== undefined && r.kernel && r.xKernel === undefined) console.log(`  ${''.padEnd(58)}   (no kernel estimate: no C reference was run)`);
    }
  }
}

function byIdCase(rows, id) {
  return rows.find((r) => r.id === id)?.case ?? id;
}

if (JSON_OUT !== undefined) {
  const txt = JSON.stringify(results, null, 1);
  if (JSON_OUT === '' || JSON_OUT === '-') console.log(txt);
  else {
    writeFileSync(JSON_OUT, txt + '\n');
    console.log(`\nwrote ${JSON_OUT}`);
  }
}

if (COMPARE) {
  const old = JSON.parse(readFileSync(COMPARE, 'utf8'));
  console.log(`\n## change against ${COMPARE} (${old.date}); "x kernel" and "x vs row" are the same-minute ratios of each run`);
  for (const [name, pkg] of Object.entries(results.packages)) {
    const before = old.packages?.[name];
    if (!pkg.rows || !before?.rows) continue;
    console.log(`\n${name}`);
    for (const r of pkg.rows) {
      const o = before.rows.find((x) => x.id === r.id);
      if (!o) continue;
      const rb = o.xKernel ?? o.xVs;
      const ra = r.xKernel ?? r.xVs;
      const ratio = rb !== undefined && ra !== undefined ? `  ratio ${fmt(rb, 2)}x -> ${fmt(ra, 2)}x` : '';
      console.log(`  ${`${r.group}: ${r.case}`.padEnd(90)} ${fmt(o.value).padStart(9)} -> ${fmt(r.value).padStart(9)} ${r.unit ?? ''}${ratio}`);
    }
  }
}

rmSync(work, { recursive: true, force: true });
if (!refBin) console.error('\n!!! reminder: no C reference was run (no compiler); kernel columns are empty.');
process.exit(failures ? 1 : 0);
