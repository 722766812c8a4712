import { defineConfig } from 'tsup';

/**
 * The one tsup setup every package shares: ESM + .d.ts for Node 20. Sources are transpiled file
 * by file (not bundled into one file per entry), so that a consumer's bundler, told by
 * `sideEffects: false`, drops every module the consumer does not reach; `entry` lists the public
 * entry points (their .d.ts files are the published types).
 */
export function packageBuild(entry: string[] = ['src/index.ts']) {
  return defineConfig({
    entry: ['src/**/*.ts'],
    bundle: false,
    format: ['esm'],
    dts: { entry },
    sourcemap: true,
    clean: true,
    target: 'node20',
  });
}
