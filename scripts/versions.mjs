#!/usr/bin/env node
// Module version strings come from package.json. Each package that shows its version at
// runtime (a module descriptor's `version`) has a generated src/version.ts; this script writes
// it (default, run by the package's build before tsup and by `pnpm version-packages` after
// `changeset version`) or, with --check, fails when one is out of step with its package.json.
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const check = process.argv.includes('--check');
const only = process.argv.slice(2).filter((a) => !a.startsWith('--'));

const HEADER = '// Generated from package.json by scripts/versions.mjs (run on every build): do not edit.\n';
function render(pkg) {
  return `${HEADER}/** The version of ${pkg.name}, as in its package.json. */\nexport const PACKAGE_VERSION = ${JSON.stringify(pkg.version)};\n`;
}

const dirs = only.length
  ? only
  : ['packages', 'apps'].flatMap((g) => (existsSync(join(root, g)) ? readdirSync(join(root, g)).map((d) => join(root, g, d)) : []));
let stale = 0;
for (const dir of dirs) {
  const file = join(dir, 'src', 'version.ts');
  if (!existsSync(file) || !existsSync(join(dir, 'package.json'))) continue;
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const want = render(pkg);
  if (readFileSync(file, 'utf8') === want) continue;
  if (check) {
    console.error(`${file}: out of step with ${pkg.name}@${pkg.version} (run node scripts/versions.mjs)`);
    stale++;
  } else {
    writeFileSync(file, want);
    console.log(`${file}: ${pkg.version}`);
  }
}
if (stale) process.exit(1);
