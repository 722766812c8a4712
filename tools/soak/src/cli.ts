/**
 * pnpm soak [options]: the reliability campaign (see README.md / RELIABILITY.md).
 *
 *   --seconds N     stop starting tasks after N seconds (running ones stop at their next check)
 *   --ops N         checked page-table operations per format (default 1,000,000)
 *   --dtbs N        fuzzed DTBs (default 100,000); --dts N fuzzed DTS sources (default 20,000)
 *   --failnth N     random sequences per format run through fail-nth (default 20)
 *   --smmu N        seeds per dropped SMMUv3 invalidation (default 20)
 *   --seed S        campaign seed (default: random, printed); every task seed derives from it
 *   --workers W     worker threads (default 2; 0 = this thread)
 *   --short         the CI size: 5,000 ops per format, 1,000 DTBs, 150 DTS, one short sequence and one seed each
 *   --json FILE     also write the summary as JSON
 * Exit status 1 when any check failed (each failure is printed with its seed).
 */
import { accessSync, constants, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { runCampaign, type CampaignOptions } from './campaign.js';

function usage(msg: string): never {
  console.error(`pnpm soak: ${msg}\nusage: pnpm soak [--seconds N] [--ops N] [--dtbs N] [--dts N] [--failnth N] [--smmu N] [--seed S] [--workers W] [--short] [--json FILE]`);
  process.exit(2);
}

const args = process.argv.slice(2).filter((a) => a !== '--');
const num = (i: number, name: string): number => {
  const v = Number(args[i + 1]);
  if (args[i + 1] === undefined || !Number.isFinite(v) || v < 0) usage(`${name} needs a non-negative number`);
  return v;
};
let short = false;
const o: { -readonly [K in keyof CampaignOptions]: CampaignOptions[K] } = {
  seed: Math.floor(Math.random() * 2 ** 32),
  pgtableOps: 1_000_000,
  failNthSeqs: 20,
  failNthOps: 150,
  dtbCases: 100_000,
  dtsCases: 20_000,
  smmuSeeds: 20,
  smmuOps: 3000,
  workers: 2,
};
let json: string | undefined;
for (let i = 0; i < args.length; i++) {
  const a = args[i]!;
  switch (a) {
    case '--seconds': o.seconds = num(i++, a); break;
    case '--ops': o.pgtableOps = num(i++, a); break;
    case '--dtbs': o.dtbCases = num(i++, a); break;
    case '--dts': o.dtsCases = num(i++, a); break;
    case '--failnth': o.failNthSeqs = num(i++, a); break;
    case '--smmu': o.smmuSeeds = num(i++, a); break;
    case '--seed': o.seed = num(i++, a) >>> 0; break;
    case '--workers': o.workers = Math.min(num(i++, a), 8); break;
    case '--json': json = args[++i] ?? usage('--json needs a file'); break;
    case '--short': short = true; break;
    case '--help': case '-h':
      console.log('pnpm soak: the reliability campaign (see tools/soak/README.md)\nusage: pnpm soak [--seconds N] [--ops N] [--dtbs N] [--dts N] [--failnth N] [--smmu N] [--seed S] [--workers W] [--short] [--json FILE]');
      process.exit(0);
    default: usage(`unknown option '${a}'`);
  }
}
if (o.seconds === 0) usage('--seconds needs a number above 0 (a campaign of no time checks nothing)');
if (!Number.isInteger(o.workers)) usage('--workers needs a whole number');
// the summary file is checked before hours of campaign, not after: its folder must exist and be writable
if (json !== undefined) {
  const file = json;
  const why = (() => {
    try {
      if (statSync(file, { throwIfNoEntry: false })?.isDirectory()) return 'is a directory (EISDIR)';
      accessSync(dirname(file), constants.W_OK);
      return null;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return code === 'ENOENT' ? `its folder ${dirname(file)} does not exist (ENOENT)` : `cannot be written (${code ?? (e as Error).message})`;
    }
  })();
  if (why) usage(`--json ${file}: ${why}`);
}
if (short) Object.assign(o, { pgtableOps: Math.min(o.pgtableOps, 5000), dtbCases: Math.min(o.dtbCases, 1000), dtsCases: Math.min(o.dtsCases, 150), failNthSeqs: Math.min(o.failNthSeqs, 1), failNthOps: 60, smmuSeeds: Math.min(o.smmuSeeds, 1), smmuOps: 1500 });

console.log(`soak: seed ${o.seed} (replay: pnpm soak --seed ${o.seed} with the same sizes), ${o.workers} worker(s)${o.seconds !== undefined ? `, at most ${o.seconds} s` : ''}`);
let last = 0;
const s = await runCampaign({
  ...o,
  onResult: (r, done, total) => {
    if (r.r.failures.length) for (const f of r.r.failures) console.log(`  FAIL ${f.what} (task seed ${f.seed}, op ${f.op}): ${f.detail}`);
    const now = Date.now();
    if (now - last > 10_000 || done === total) {
      last = now;
      console.log(`  ${done}/${total} tasks`);
    }
  },
});
const n = (x: number) => x.toLocaleString('en-US');
console.log(`\n== page tables: checked operations per format (model + hardware walker) ==`);
for (const [fmt, p] of Object.entries(s.pgtable))
  console.log(`${fmt.padEnd(16)} ${n(p.ops).padStart(11)} ops (${n(p.maps)} map, ${n(p.unmaps)} unmap, ${n(p.lookups)} iova_to_phys), ${n(p.walks)} walker checks, ${n(p.fullChecks)} whole-table checks, ${n(p.tables)} tables freed leak-free`);
console.log(`\n== fail-nth: every allocation of random sequences ==`);
for (const [fmt, f] of Object.entries(s.failNth)) console.log(`${fmt.padEnd(16)} ${f.sequences} sequence(s), ${n(f.allocations)} allocations, ${n(f.runs)} runs, -ENOMEM surfaced in ${n(f.enomem)}`);
const d = s.dtb;
console.log(`\n== device trees ==\n${n(d.cases)} fuzzed DTBs: ${n(d.rejected)} refused with FdtError, ${n(d.parsed)} parsed, ${n(d.boards)} boards built, ${n(d.boots)} kernels booted; ${n(d.dtsCases)} fuzzed DTS sources, ${n(d.dtsCompiled)} compiled`);
console.log(`\n== SMMUv3: one invalidation dropped in turn ==`);
for (const [k, v] of Object.entries(s.smmu))
  console.log(`${k.padEnd(15)} ${v.runs} run(s), ${n(v.ops)} ops, ${n(v.dmas)} DMAs checked, ${n(v.drops)} commands dropped, ${k === 'none' ? `${v.detected} false alarm(s)` : `detected in ${v.detected}/${v.runs} (first at op ${v.firstDetection.length ? Math.min(...v.firstDetection) : '-'}..${v.firstDetection.length ? Math.max(...v.firstDetection) : '-'})`}`);
console.log(`\n${s.tasksRun}/${s.tasks} tasks in ${s.seconds.toFixed(1)} s; ${s.failures.length} failure(s)`);
for (const f of s.failures) console.log(`FAIL ${f.what} (task seed ${f.seed}, op ${f.op}): ${f.detail}`);
if (json) {
  try {
    writeFileSync(json, JSON.stringify(s, null, 2) + '\n');
  } catch (e) {
    console.error(`pnpm soak: cannot write ${json}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    process.exit(1);
  }
}
process.exit(s.failures.length ? 1 : 0);
