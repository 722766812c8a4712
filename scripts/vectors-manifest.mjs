#!/usr/bin/env node
// Writes (or with --check, verifies) vectors/manifest.json: for every recorded vector file its
// case count and SHA-256, so tests read counts from one place and a changed file is noticed.
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = new URL('../vectors/', import.meta.url).pathname;
const files = readdirSync(dir).filter((f) => f.endsWith('.jsonl')).sort();
const entries = files.map((file) => {
  const text = readFileSync(join(dir, file));
  const lines = text.toString('utf8').split('\n').filter((l) => l.trim() !== '');
  const byFormat = {};
  for (const l of lines) {
    const f = JSON.parse(l).format;
    byFormat[f] = (byFormat[f] ?? 0) + 1;
  }
  const sorted = Object.fromEntries(Object.entries(byFormat).sort(([a], [b]) => a.localeCompare(b)));
  return { file, cases: lines.length, byFormat: sorted, sha256: createHash('sha256').update(text).digest('hex') };
});
const manifest = {
  description: 'io-pgtable golden vectors recorded from the Linux kernel; see README.md',
  totalCases: entries.reduce((a, e) => a + e.cases, 0),
  files: entries,
};
const out = JSON.stringify(manifest, null, 2) + '\n';
if (process.argv.includes('--check')) {
  const have = readFileSync(join(dir, 'manifest.json'), 'utf8');
  if (have !== out) {
    console.error('vectors/manifest.json is out of date: run node scripts/vectors-manifest.mjs');
    process.exit(1);
  }
  console.log(`vectors/manifest.json matches ${files.length} files, ${manifest.totalCases} cases`);
} else {
  writeFileSync(join(dir, 'manifest.json'), out);
  console.log(`wrote vectors/manifest.json: ${files.length} files, ${manifest.totalCases} cases`);
}
