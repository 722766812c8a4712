import { readFileSync } from 'node:fs';
import { runReadmeExample } from '@gki/testkit';
import { describe, expect, it } from 'vitest';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

describe('README example', () => {
  it('runs and prints what its comments say', async () => {
    const { code, lines } = await runReadmeExample(readme, new URL('./.readme-example.tmp.ts', import.meta.url));
    // every `// expected` comment on a console.log line appears in the output, in order
    const expected = code
      .split('\n')
      .filter((l) => l.includes('console.log') && l.includes('// '))
      .map((l) => l.slice(l.lastIndexOf('// ') + 3).split(' (')[0]!.split(':')[0]!.split(',')[0]!.trim());
    const printed = lines.filter((l) => !l.startsWith('invalidate'));
    expect(printed.length).toBe(expected.length);
    for (let i = 0; i < expected.length; i++) expect(printed[i]).toContain(expected[i]);
    expect(lines.filter((l) => l.startsWith('invalidate'))).toHaveLength(16);
  });
});
