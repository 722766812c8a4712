/**
 * The README's example runs and prints what its comments say (each console.log line carries
 * its expected output in a trailing comment).
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it, vi } from 'vitest';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const tmp = new URL('./.readme-example.tmp.ts', import.meta.url);

describe('README example', () => {
  afterAll(() => rmSync(tmp, { force: true }));

  it('runs and prints what its comments say', async () => {
    const m = /```ts\n([\s\S]*?)```/.exec(readme.slice(readme.indexOf('## Example')));
    expect(m).not.toBeNull();
    const code = m![1]!.replace("from '@gki/qcom-iommu'", `from '${new URL('../src/index.ts', import.meta.url).href}'`);
    writeFileSync(tmp, code);
    const lines: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void lines.push(a.map(String).join(' ')));
    try {
      await import(/* @vite-ignore */ tmp.href);
    } finally {
      spy.mockRestore();
    }
    const expected = code
      .split('\n')
      .filter((l) => l.includes('console.log('))
      .map((l) => l.slice(l.lastIndexOf('// ') + 3).trim());
    expect(lines.length).toBe(3);
    expect(lines).toEqual(expected);
  });
});
