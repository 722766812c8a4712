import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it, vi } from 'vitest';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const tmp = new URL('./.readme-example.tmp.ts', import.meta.url);

describe('README example', () => {
  afterAll(() => rmSync(tmp, { force: true }));

  it('runs and prints what its comments say', async () => {
    const m = /## Example\n\n```ts\n([\s\S]*?)```/.exec(readme);
    expect(m).not.toBeNull();
    const code = m![1]!;
    writeFileSync(tmp, code);
    const lines: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void lines.push(a.map(String).join(' ')));
    try {
      await import(/* @vite-ignore */ tmp.href);
    } finally {
      spy.mockRestore();
    }
    // every `// expected` comment on a console.log line appears in the output, in order
    const expected = code
      .split('\n')
      .filter((l) => l.includes('console.log') && /\/\/ [0-9a-f]/.test(l))
      .map((l) => l.slice(l.lastIndexOf('// ') + 3).split(':')[0]!.split(',')[0]!.trim());
    const printed = lines.filter((l) => !l.startsWith('invalidate'));
    expect(printed.length).toBe(expected.length);
    for (let i = 0; i < expected.length; i++) expect(printed[i]).toContain(expected[i]);
    expect(lines.filter((l) => l.startsWith('invalidate'))).toHaveLength(16);
  });
});
