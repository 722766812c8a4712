#!/usr/bin/env node
// The repository's test command: typecheck, unit tests, packaging and import-rule checks, the
// packed-tarball consumer test,
// then one plain summary line `N passed, M failed` computed from vitest's JSON reports.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const env = { ...process.env, TURBO_TELEMETRY_DISABLED: '1', FORCE_COLOR: '0' };
const dirs = ['packages', 'apps', 'tools'].flatMap((g) =>
  existsSync(join(root, g)) ? readdirSync(join(root, g)).map((d) => join(root, g, d)) : [],
);
for (const d of dirs) rmSync(join(d, '.vitest-report.json'), { force: true });

function run(cmd, args) {
  console.log(`\n$ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: root, env, stdio: 'inherit' });
  return r.status === 0;
}

const steps = {
  'turbo typecheck/test/check:pkg': run('pnpm', ['exec', 'turbo', 'run', 'typecheck', 'test', 'check:pkg', '--continue']),
  'import rules (dependency-cruiser)': run('pnpm', ['run', '-s', 'lint:deps']),
  'vector manifest': run('node', ['scripts/vectors-manifest.mjs', '--check']),
  'module versions match package.json': run('node', ['scripts/versions.mjs', '--check']),
  'publishing metadata (license, repository, publishConfig.exports)': run('node', ['scripts/package-meta.mjs', '--check']),
  'package.json lint and unused dependencies (sherif, knip)': run('pnpm', ['run', '-s', 'lint:pkgs']),
  'packed tarballs install and run their README examples': run('node', ['scripts/pack-test.mjs']),
};

let passed = 0;
let failed = 0;
let skipped = 0;
const missing = [];
for (const d of dirs) {
  const f = join(d, '.vitest-report.json');
  if (!existsSync(join(d, 'vitest.config.ts'))) continue;
  if (!existsSync(f)) { missing.push(d); continue; }
  const r = JSON.parse(readFileSync(f, 'utf8'));
  passed += r.numPassedTests;
  failed += r.numFailedTests;
  skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  // a suite that failed to load counts as a failure even when no test in it ran
  failed += (r.testResults ?? []).filter((t) => t.status === 'failed' && (t.assertionResults ?? []).length === 0).length;
}
const badSteps = Object.entries(steps).filter(([, ok]) => !ok).map(([k]) => k);
for (const d of missing) console.log(`no test report from ${d} (its test task did not run to the end)`);
for (const s of badSteps) console.log(`step failed: ${s}`);
if (missing.length || badSteps.length) failed += missing.length + badSteps.length;
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 ? 1 : 0);
