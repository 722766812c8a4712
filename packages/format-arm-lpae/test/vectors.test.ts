import { describe, expect, it } from 'vitest';
import { formatMismatch, manifestCaseCount, readVectorManifest, replayCase } from '@gki/io-pgtable-core/vectors';
import { VECTORS_DIR, directEnv, lpaeCases, makeKernel } from './helpers/env.js';

const cases = lpaeCases();
const byFile = new Map<string, typeof cases>();
for (const e of cases) byFile.set(e.file, [...(byFile.get(e.file) ?? []), e]);

describe('golden vectors (LPAE formats)', () => {
  it('finds the LPAE cases of every vector file', () => {
    // every case of every file except the ARM_V7S ones, which belong to the v7s package
    const manifest = readVectorManifest(VECTORS_DIR);
    expect(cases.length).toBeGreaterThan(0);
    if (manifest) {
      expect(cases.length).toBe(manifestCaseCount(manifest, (f) => f !== 'ARM_V7S'));
      expect(byFile.size).toBe(manifest.files.filter((e) => Object.keys(e.byFormat).some((f) => f !== 'ARM_V7S')).length);
    }
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
