/**
 * gki benchmarks: `gki boot` of the default image on the default board (the whole story the
 * command prints: boot, probe, the device table, the io-pgtable self-test, shutdown), measured as process
 * CPU time (user + system) of a fresh process, the way a user runs it. Two rows: from the
 * built CLI (dist/cli.js, if `pnpm build` was run) and from source under tsx (what tests and
 * benchmarks run; includes transpiling), plus the command alone inside a warm process. The
 * same for `gki compose -o DIR` of the default configuration (merge, Kconfig resolution under
 * both rule sets, validation, the image directory written).
 *
 *   pnpm bench --only=gki            from the root (several processes, JSON rows)
 *   pnpm --filter gki bench            this package alone (--json for rows; BENCH_RUNS=n
 *                                      fresh processes per row, default 5)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../src/main.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const JSON_OUT = process.argv.includes('--json');
const here = fileURLToPath(new URL('.', import.meta.url));
const dist = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const src = fileURLToPath(new URL('../src/cli.ts', import.meta.url));

const quiet = { out: () => {}, err: () => {} };
const work = mkdtempSync(join(tmpdir(), 'gki-bench-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
const BOOT = ['boot'];
const COMPOSE = ['compose', '-o', join(work, 'image')];

if (process.argv.includes('--child-inproc')) {
  // One warm-up run, then the CPU time of one more, in this process.
  const cmd = process.argv.includes('--compose') ? COMPOSE : BOOT;
  if ((await main(cmd, quiet)) !== 0) process.exit(3);
  const t0 = process.cpuUsage();
  if ((await main(cmd, quiet)) !== 0) process.exit(3);
  const t = process.cpuUsage(t0);
  console.log(JSON.stringify({ cpuMs: (t.user + t.system) / 1000 }));
  process.exit(0);
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** CPU ms of a fresh `node <args>` that runs `gki CMD` (boot by default): it prints its own cpuUsage at exit. */
function processCpu(nodeArgs: string[], cmd: string[] = BOOT): number {
  const hook = `process.on('exit', (c) => { const u = process.cpuUsage(); process.stderr.write('\\nGKI_CPU ' + (u.user + u.system) / 1000 + ' ' + c + '\\n'); });`;
  const r = spawnSync(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(hook)}`, ...nodeArgs, ...cmd], { encoding: 'utf8', cwd: here, maxBuffer: 64 << 20 });
  const m = /GKI_CPU ([\d.]+) (\d+)/.exec(r.stderr);
  if (!m || m[2] !== '0' || r.status !== 0) throw new Error(`gki ${cmd[0]} failed (status ${r.status}): ${r.stderr.slice(-2000)}`);
  return Number(m[1]);
}

/** `limit`: the target, an absolute figure (1 s of process time for a boot). */
const rows: { id: string; group: string; case: string; value: number; unit: string; min: number; max: number; limit?: number }[] = [];
const add = (id: string, name: string, samples: number[], limit?: number, group = 'gki boot (default image, default board)') =>
  rows.push({ id, group, case: name, value: median(samples), unit: 'ms CPU', min: Math.min(...samples), max: Math.max(...samples), ...(limit ? { limit } : {}) });

if (existsSync(dist)) add('boot.dist', 'fresh process, built CLI (node dist/cli.js boot)', Array.from({ length: RUNS }, () => processCpu([dist])), 1000);
const tsx = ['--import', 'tsx', '--conditions=@gki/source', src];
add('boot.source', 'fresh process, from source under tsx (node --import tsx src/cli.ts boot)', Array.from({ length: RUNS }, () => processCpu(tsx)), 1000);
add(
  'boot.inproc',
  'the boot command alone in a warm process',
  Array.from({ length: RUNS }, () => {
    const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--child-inproc'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`in-process boot failed: ${r.stderr}`);
    return (JSON.parse(r.stdout) as { cpuMs: number }).cpuMs;
  }),
);

const COMPOSE_GROUP = 'gki compose (default configuration)';
if (existsSync(dist)) add('compose.dist', 'fresh process, built CLI (node dist/cli.js compose -o DIR)', Array.from({ length: RUNS }, () => processCpu([dist], COMPOSE)), 1000, COMPOSE_GROUP);
add(
  'compose.inproc',
  'the compose command alone in a warm process',
  Array.from({ length: RUNS }, () => {
    const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--child-inproc', '--compose'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`in-process compose failed: ${r.stderr}`);
    return (JSON.parse(r.stdout) as { cpuMs: number }).cpuMs;
  }),
  undefined,
  COMPOSE_GROUP,
);

if (JSON_OUT) console.log(JSON.stringify({ runs: RUNS, node: process.version, rows }, null, 2));
else {
  console.log(`gki boot and compose, process CPU time (user + system), median of ${RUNS} fresh processes (goal: under 1000 ms)`);
  for (const r of rows) console.log(`  ${r.group.startsWith('gki compose') ? 'compose: ' : 'boot:    '}${r.case.padEnd(76)} ${r.value.toFixed(0).padStart(6)} ms (${r.min.toFixed(0)}-${r.max.toFixed(0)})`);
}
