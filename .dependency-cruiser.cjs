/**
 * The import rules of ../shared/ARCHITECTURE.md, enforced on source files.
 * Tests and benchmarks may import any package; src/ keeps the layer arrows.
 *
 *   hw <- kernel <- io-pgtable-core <- format-arm-lpae, format-arm-v7s
 *                         ^---------- smmu, smmu-v3, drm-msm, drm-panfrost
 *   apps/gki -> everything
 */
const SRC = '^packages/([^/]+)/src/';
const allowed = {
  hw: [],
  kernel: ['hw'],
  'io-pgtable-core': ['kernel', 'hw'],
  'format-arm-lpae': ['io-pgtable-core', 'kernel', 'hw'],
  'format-arm-v7s': ['io-pgtable-core', 'kernel', 'hw'],
  smmu: ['io-pgtable-core', 'kernel'],
  'smmu-v3': ['io-pgtable-core', 'kernel'],
  'drm-msm': ['io-pgtable-core', 'kernel'],
  'drm-panfrost': ['io-pgtable-core', 'kernel'],
};
const layerRules = Object.entries(allowed).map(([pkg, deps]) => ({
  name: `layer-${pkg}`,
  comment: `packages/${pkg}/src may import only: ${deps.join(', ') || 'no workspace package'}`,
  severity: 'error',
  from: { path: `^packages/${pkg}/src/` },
  to: {
    path: '^packages/([^/]+)/',
    pathNot: [`^packages/${pkg}/`, ...deps.map((d) => `^packages/${d}/src/index\\.ts$`)],
  },
}));

module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'no-deep-import',
      comment: 'another package is reached only through its exports map (its src/index.ts)',
      severity: 'error',
      from: { path: '^(packages|apps)/([^/]+)/' },
      to: { path: '^packages/([^/]+)/', pathNot: ['^packages/$2/', '^packages/[^/]+/src/index\\.ts$'] },
    },
    {
      name: 'not-resolvable',
      comment: 'an import that does not resolve (a deep import outside an exports map, a typo)',
      severity: 'error',
      from: { path: '^(packages|apps)/' },
      to: { couldNotResolve: true },
    },
    {
      name: 'no-dist-import',
      severity: 'error',
      from: { path: '^(packages|apps)/' },
      to: { path: '/dist/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(dist|node_modules)/|\\.config\\.ts$' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.base.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['source', 'import', 'types', 'default'],
      extensions: ['.ts', '.js', '.mjs', '.json'],
    },
    combinedDependencies: false,
    preserveSymlinks: false,
  },
};
