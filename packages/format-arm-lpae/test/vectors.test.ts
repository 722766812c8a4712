import { describe, expect, it } from 'vitest';
import { formatMismatch, replayCase } from '@gki/io-pgtable-core/vectors';
import { directEnv, lpaeCases, makeKernel } from './helpers/env.js';

const cases = lpaeCases();
const byFile = new Map<string, typeof cases>();
for (const e of cases) byFile.set(e.file, [...(byFile.get(e.file) ?? []), e]);

describe('golden vectors (LPAE formats)', () => {
  it('finds the LPAE cases of every vector file', () => {
    // 329 cases in total, 13 of them ARM_V7S-only files/cases belong to the v7s package
    expect(byFile.size).toBeGreaterThanOrEqual(14);
    expect(cases.length).toBeGreaterThan(250);
  });

  for (const [file, list] of byFile) {
    describe(file, () => {
      const kernel = makeKernel(64);
      const env = directEnv(kernel);
      for (const { c } of list) {
        it(c.name, () => {
          const r = replayCase(c, env);
          expect(r.mismatches.map(formatMismatch)).toEqual([]);
          expect(r.opsRun).toBe(c.ops.length);
        });
      }
    });
  }
});
