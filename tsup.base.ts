import { defineConfig } from 'tsup';

/** The one tsup setup every package shares: ESM + .d.ts for Node 20, one file per entry. */
export function packageBuild(entry: string[] = ['src/index.ts']) {
  return defineConfig({ entry, format: ['esm'], dts: true, sourcemap: true, clean: true, target: 'node20' });
}
