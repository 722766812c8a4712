#!/usr/bin/env node
// One place for what every workspace package.json must say about publishing, derived from the
// root package.json: license (MIT), repository (with the package's directory), homepage, bugs,
// `files` (dist only: sources are not shipped), and `publishConfig.exports` (the exports map
// without the workspace-only `@gki/source` condition, which would point at unshipped sources).
// Dependencies are kept sorted; an empty dependencies object is dropped.
//   node scripts/package-meta.mjs          rewrite the package.json files
//   node scripts/package-meta.mjs --check  fail (listing the differences) if one is out of step
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const check = process.argv.includes('--check');
const rootPkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const repoUrl = rootPkg.repository?.url;
if (!repoUrl) throw new Error('the root package.json needs repository.url');
const web = repoUrl.replace(/^git\+/, '').replace(/\.git$/, '');

const ORDER = [
  'name', 'version', 'private', 'description', 'keywords', 'license', 'author', 'repository', 'homepage', 'bugs',
  'type', 'sideEffects', 'bin', 'exports', 'files', 'scripts', 'dependencies', 'peerDependencies',
  'devDependencies', 'engines', 'publishConfig',
];
const DEP_FIELDS = ['dependencies', 'devDependencies', 'peerDependencies', 'optionalDependencies'];

/** The exports map with every `@gki/source` condition removed. */
function publicExports(exp) {
  if (typeof exp !== 'object' || exp === null) return exp;
  const out = {};
  for (const [k, v] of Object.entries(exp)) if (k !== '@gki/source') out[k] = publicExports(v);
  return out;
}

function sorted(obj) {
  return Object.fromEntries(Object.entries(obj).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function normalise(pkg, dir) {
  const p = { ...pkg };
  p.license = 'MIT';
  p.repository = { type: 'git', url: repoUrl, directory: dir };
  p.homepage = `${web}/tree/main/${dir}#readme`;
  p.bugs = { url: `${web}/issues` };
  for (const f of DEP_FIELDS) {
    if (!p[f]) continue;
    if (Object.keys(p[f]).length === 0) delete p[f];
    else p[f] = sorted(p[f]);
  }
  if (!p.private) {
    p.files = ['dist'];
    p.publishConfig = { ...(p.publishConfig ?? {}), access: 'public', exports: publicExports(p.exports) };
  }
  const out = {};
  for (const k of ORDER) if (k in p) out[k] = p[k];
  for (const k of Object.keys(p)) if (!(k in out)) out[k] = p[k];
  return out;
}

let bad = 0;
for (const group of ['packages', 'apps', 'tools']) {
  if (!existsSync(join(root, group))) continue;
  for (const d of readdirSync(join(root, group))) {
    const file = join(root, group, d, 'package.json');
    if (!existsSync(file)) continue;
    const text = readFileSync(file, 'utf8');
    const want = JSON.stringify(normalise(JSON.parse(text), relative(root, join(root, group, d))), null, 2) + '\n';
    if (text === want) continue;
    if (check) {
      console.error(`${relative(root, file)}: publishing metadata out of step (run node scripts/package-meta.mjs)`);
      bad++;
    } else {
      writeFileSync(file, want);
      console.log(`updated ${relative(root, file)}`);
    }
  }
}
if (bad) process.exit(1);
