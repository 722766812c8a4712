/**
 * scripts/bench.mjs (`pnpm bench`): a mistyped option used to be ignored, and the whole default
 * benchmark run (minutes) started; it is refused at once with status 2, naming it.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';

const script = join(dirname(new URL(import.meta.url).pathname), '..', '..', '..', 'scripts', 'bench.mjs');

describe('pnpm bench arguments', () => {
  it('an unknown or mistyped option is refused before anything runs', () => {
    for (const bad of ['--proceses=5', '--frob', 'lpae']) {
      const r = spawnSync(process.execPath, [script, bad], { encoding: 'utf8', timeout: 60_000 });
      expect(r.status, bad).toBe(2);
      expect(r.stderr).toBe(`bench: unknown argument '${bad}' (options: --processes=... --only=... --json=... --compare=...)\n`);
      expect(r.stdout).toBe('');
    }
  });
});
