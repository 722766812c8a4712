import { readFileSync } from 'node:fs';
import { expectedFromComments, runReadmeExample } from '@gki/testkit';
import { describe, expect, it } from 'vitest';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

describe('README example', () => {
  it('runs and prints what its comments say', async () => {
    const { code, lines } = await runReadmeExample(readme, new URL('./.readme-example.tmp.ts', import.meta.url));
    // every console.log line carries its expected output in a trailing comment
    expect(lines).toEqual(expectedFromComments(code));
    // the example's first import transforms the whole stack (hw, kernel, an IOMMU driver, the
    // GPU driver): over a minute when the whole workspace's suites share a loaded machine
  }, 180_000);
});
