#!/usr/bin/env node
// What a consumer of the published packages gets, checked from the tarballs themselves:
//  1. `pnpm pack` every public package (publishConfig applied, workspace: ranges replaced);
//  2. each tarball ships dist, README and LICENSE, no sources, no `@gki/source` condition, no
//     workspace: range, the repository/homepage/bugs fields, and every file its exports name;
//  3. for each package, a scratch project in a temp dir installs that package (plus the other
//     @gki packages its README example imports) from the tarballs, offline (tarballs + the pnpm
//     store), typechecks the README example against the installed .d.ts files (skipLibCheck
//     off), runs it with plain node, and compares what it prints with the `// value` comments
//     on its console.log lines;
//  4. a bundler (esbuild) drops what an importer does not use: `@gki/hw` imported for its RAM
//     model carries no device model.
// Exit status 1 if anything fails. `--keep` leaves the temp dir for inspection.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as esbuild from 'esbuild';
import ts from 'typescript';

const root = new URL('..', import.meta.url).pathname;
const keep = process.argv.includes('--keep');
const TIMEOUT = 120_000;

const failures = [];
function fail(what) {
  failures.push(what);
  console.log(`  FAIL ${what}`);
}

function sh(cmd, args, cwd, opts = {}) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: opts.timeout ?? TIMEOUT, env: { ...process.env, FORCE_COLOR: '0', ...(opts.env ?? {}) } });
  return { ok: r.status === 0, out: (r.stdout ?? '') + (r.stderr ?? ''), stdout: r.stdout ?? '', status: r.status, error: r.error };
}

const tmp = mkdtempSync(join(tmpdir(), 'gki-pack-'));
const tarDir = join(tmp, 'tarballs');
mkdirSync(tarDir);

// 0. dist must exist (cached by turbo when nothing changed)
const build = sh('pnpm', ['exec', 'turbo', 'run', 'build', '--output-logs=errors-only'], root, { timeout: 600_000 });
if (!build.ok) {
  console.log(build.out);
  console.log('pack-test: build failed');
  process.exit(1);
}

// 1. pack
const pkgs = [];
for (const d of readdirSync(join(root, 'packages')).sort()) {
  const dir = join(root, 'packages', d);
  if (!existsSync(join(dir, 'package.json'))) continue;
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  if (pkg.private) continue;
  const before = new Set(readdirSync(tarDir));
  const r = sh('pnpm', ['pack', '--pack-destination', tarDir], dir);
  const made = readdirSync(tarDir).filter((f) => !before.has(f));
  if (!r.ok || made.length !== 1) {
    fail(`${pkg.name}: pnpm pack failed\n${r.out}`);
    continue;
  }
  pkgs.push({ name: pkg.name, dir, tarball: join(tarDir, made[0]) });
}
console.log(`packed ${pkgs.length} packages into ${tarDir}`);

// 2. tarball contents
for (const p of pkgs) {
  const list = sh('tar', ['-tzf', p.tarball], tmp).stdout.split('\n').filter(Boolean);
  const manifestText = sh('tar', ['-xzOf', p.tarball, 'package/package.json'], tmp).stdout;
  let m;
  try {
    m = JSON.parse(manifestText);
  } catch {
    fail(`${p.name}: no readable package/package.json in the tarball`);
    continue;
  }
  p.manifest = m;
  const has = (f) => list.includes(`package/${f}`);
  if (list.some((f) => f.startsWith('package/src/'))) fail(`${p.name}: ships its sources (package/src/)`);
  for (const f of ['LICENSE', 'README.md', 'package.json']) if (!has(f)) fail(`${p.name}: ${f} missing from the tarball`);
  if (JSON.stringify(m.exports ?? null).includes('@gki/source') || JSON.stringify(m.publishConfig ?? null).includes('@gki/source'))
    fail(`${p.name}: the published exports still name the @gki/source condition`);
  if (manifestText.includes('workspace:')) fail(`${p.name}: the published package.json keeps a workspace: range`);
  if (m.license !== 'MIT') fail(`${p.name}: license is ${m.license}, not MIT`);
  if (!m.repository?.url || !m.repository?.directory) fail(`${p.name}: repository.url / repository.directory missing`);
  if (!m.homepage) fail(`${p.name}: homepage missing`);
  if (!m.bugs?.url) fail(`${p.name}: bugs.url missing`);
  const targets = [];
  const collect = (e) => {
    if (typeof e === 'string') targets.push(e);
    else if (e && typeof e === 'object') for (const v of Object.values(e)) collect(v);
  };
  collect(m.exports);
  for (const t of targets) if (!has(t.replace(/^\.\//, ''))) fail(`${p.name}: exports names ${t}, which is not in the tarball`);
}

// 3. README examples in scratch projects
const overrides = Object.fromEntries(pkgs.map((p) => [p.name, `file:${p.tarball}`]));
// Node's types come from the workspace (installing them would need registry metadata)
const typeRoots = [join(root, 'node_modules', '@types')];
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');

/** The first ```ts block under the README's `## Example` heading. */
function exampleOf(readme) {
  const m = /^## Example[^\n]*\n([\s\S]*?)^```ts\n([\s\S]*?)^```/m.exec(readme);
  return m ? m[2] : null;
}

/** `// value` comments of console.log lines, in order (the text up to the first ':' ',' or ' ('). */
function expectedOutputs(code) {
  const out = [];
  for (const line of code.split('\n')) {
    if (!line.includes('console.log(')) continue;
    const i = line.lastIndexOf(' // ');
    if (i < 0) continue;
    const want = line.slice(i + 4).split(/[:,]| \(/)[0].trim();
    if (want) out.push(want);
  }
  return out;
}

function scratchProject(name, deps) {
  const dir = join(tmp, name.replace(/[@/]/g, '_'));
  mkdirSync(dir);
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify(
      {
        name: 'scratch-consumer',
        private: true,
        type: 'module',
        dependencies: Object.fromEntries(deps.map((d) => [d, overrides[d]])),
        pnpm: { overrides },
      },
      null,
      2,
    ),
  );
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022', lib: ['ES2022'], module: 'NodeNext', moduleResolution: 'NodeNext', strict: true,
        noEmit: true, skipLibCheck: false, types: ['node'], typeRoots, verbatimModuleSyntax: true,
      },
      include: ['*.ts'],
    }),
  );
  const r = sh('pnpm', ['install', '--offline', '--ignore-scripts', '--reporter=append-only'], dir, { env: { npm_config_update_notifier: 'false' } });
  return { dir, ok: r.ok, out: r.out };
}

for (const p of pkgs) {
  const readme = readFileSync(join(p.dir, 'README.md'), 'utf8');
  const code = exampleOf(readme);
  if (!code) {
    fail(`${p.name}: README.md has no \`## Example\` with a ts block`);
    continue;
  }
  const imported = [...code.matchAll(/from '(@gki\/[a-z0-9-]+)(?:\/[^']*)?'/g)].map((m) => m[1]);
  const unknown = imported.filter((i) => !overrides[i]);
  if (unknown.length) {
    fail(`${p.name}: README example imports ${unknown.join(', ')}, which is not a published package`);
    continue;
  }
  const deps = [...new Set([p.name, ...imported])].sort();
  const proj = scratchProject(p.name, deps);
  if (!proj.ok) {
    fail(`${p.name}: offline install of ${deps.join(', ')} from the tarballs failed\n${proj.out}`);
    continue;
  }
  writeFileSync(join(proj.dir, 'example.ts'), code);
  const tc = sh('node', [tsc, '-p', 'tsconfig.json'], proj.dir);
  if (!tc.ok) fail(`${p.name}: README example does not typecheck against the published types\n${tc.out}`);
  const js = ts.transpileModule(code, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
  writeFileSync(join(proj.dir, 'example.mjs'), js);
  const run = sh('node', ['example.mjs'], proj.dir, { timeout: 60_000 });
  if (!run.ok) {
    fail(`${p.name}: README example exits with ${run.status ?? run.error}\n${run.out}`);
    continue;
  }
  const printed = run.stdout.split('\n');
  let at = 0;
  let matched = true;
  for (const want of expectedOutputs(code)) {
    const i = printed.findIndex((l, j) => j >= at && l.includes(want));
    if (i < 0) {
      fail(`${p.name}: README example never prints "${want}" (after output line ${at})\n${run.stdout}`);
      matched = false;
      break;
    }
    at = i + 1;
  }
  if (!matched) continue;
  console.log(`  ok ${p.name}: README example (imports ${deps.join(', ')}) typechecks and runs from the tarballs`);
}

// 4. tree shaking: importing RAM from @gki/hw brings no device model along
{
  const proj = scratchProject('treeshake', ['@gki/hw', '@gki/format-arm-lpae']);
  if (!proj.ok) fail(`tree-shake project install failed\n${proj.out}`);
  else {
    const cases = [
      { entry: "import { PhysMem } from '@gki/hw'; console.log(new PhysMem([{ base: 0, size: 4096 }]).regions.length);", absent: ['SmmuV3', 'DmaMaster', 'parseDtb'] },
      { entry: "import { createArmLpaeOps, createIoPgtableHost } from '@gki/format-arm-lpae'; console.log(createArmLpaeOps(createIoPgtableHost(), 'ARM_64_LPAE_S1', { quirks: 0, pgsizeBitmap: 4096, ias: 32, oas: 32, coherentWalk: true }, null) !== null);", absent: ['SmmuV3', 'DmaMaster', 'class Board'] },
    ];
    for (const c of cases) {
      const r = esbuild.buildSync({ stdin: { contents: c.entry, resolveDir: proj.dir, sourcefile: 'entry.js' }, bundle: true, write: false, platform: 'node', format: 'esm', logLevel: 'silent' });
      const text = r.outputFiles[0].text;
      const left = c.absent.filter((a) => text.includes(a));
      if (left.length) fail(`tree shaking: \`${c.entry.slice(0, 60)}...\` still bundles ${left.join(', ')}`);
      else console.log(`  ok bundle of "${c.entry.slice(0, 50)}..." is ${text.length} bytes without ${c.absent.join(', ')}`);
    }
  }
}

if (!keep) rmSync(tmp, { recursive: true, force: true });
else console.log(`kept ${tmp}`);
console.log(failures.length ? `pack-test: ${failures.length} failure(s)` : 'pack-test: all packages install and run from their tarballs');
process.exit(failures.length ? 1 : 0);
