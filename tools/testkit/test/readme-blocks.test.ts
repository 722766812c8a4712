/*
 * Every ```ts block of every README in the workspace runs as written and prints what its
 * trailing comments say (`@gki/testkit` runReadmeBlock: a separate node process per block).
 * Blocks that are not programs carry a `<!-- readme-check: not a program (why) -->` marker.
 * The `## Example` block of a published package is left to scripts/pack-test.mjs, which runs it
 * from the packed tarball against the published types (a stronger check of the same code).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readmeBlocks, runReadmeBlock } from '../src/index.js';

const root = new URL('../../..', import.meta.url).pathname;

const dirs = ['packages', 'apps', 'tools']
  .flatMap((g) => readdirSync(join(root, g)).map((d) => join(g, d)))
  .filter((d) => existsSync(join(root, d, 'README.md')) && existsSync(join(root, d, 'package.json')))
  .sort();

describe('README code blocks', () => {
  it('finds the READMEs of the workspace', () => {
    expect(dirs).toEqual(expect.arrayContaining(['packages/hw', 'packages/kernel', 'packages/smmu', 'apps/gki', 'tools/testkit']));
  });

  for (const dir of dirs) {
    const pkg = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')) as { private?: boolean };
    const blocks = readmeBlocks(readFileSync(join(root, dir, 'README.md'), 'utf8')).filter(
      (b) => b.notAProgram === null && !(b.section === 'Example' && pkg.private !== true),
    );
    for (const b of blocks)
      it(`${dir}/README.md:${b.line} (${b.section || 'top'}) runs and prints what its comments say`, () => {
        const r = runReadmeBlock(join(root, dir), b, { repoRoot: root });
        expect(r.status, r.stderr).toBe(0);
        expect(r.mismatches).toEqual([]);
      }, 300_000);
  }

  it('checks the comments it is meant to: a wrong promise is reported with its README line', () => {
    const code = "console.log(1 + 1); // 2 (two)\nconsole.log('a\\nb'); // a\nconsole.log([1, 2]); // [ 1, 3 ]\n";
    const r = runReadmeBlock(join(root, 'tools/testkit'), { line: 10, code, notAProgram: null, section: 'x' }, { repoRoot: root });
    expect(r.status).toBe(0);
    expect(r.logs).toEqual([{ line: 1, text: '2' }, { line: 2, text: 'a\nb' }, { line: 3, text: '[ 1, 2 ]' }]);
    expect(r.mismatches).toEqual(['README line 13: printed "[ 1, 2 ]", its comment says "[ 1, 3 ]"']);
  }, 300_000);

  it('reads markers and sections', () => {
    const md = '# t\n\n## A\n\n```ts\nx;\n```\n\n## B\n<!-- readme-check: not a program (a sketch) -->\n```ts\ny\n```\n';
    expect(readmeBlocks(md)).toEqual([
      { line: 5, code: 'x;\n', notAProgram: null, section: 'A' },
      { line: 11, code: 'y\n', notAProgram: 'a sketch', section: 'B' },
    ]);
  });
});
