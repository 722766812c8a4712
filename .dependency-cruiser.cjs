/**
 * The import rules of docs/ARCHITECTURE.md, enforced on source files.
 * Tests and benchmarks may import any package; src/ keeps the layer arrows.
 *
 *   hw <- kernel <- io-pgtable-core <- format-arm-lpae, format-arm-v7s
 *                         ^---------- smmu, smmu-v3, qcom-iommu, drm-msm, drm-panfrost
 *   apps/gki -> everything
 */
const fs = require('node:fs');
const path = require('node:path');

const esc = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** The files a package publishes: every `source` target of its package.json `exports` map. */
function entryPoints(pkg) {
  const file = path.join(__dirname, 'packages', pkg, 'package.json');
  if (!fs.existsSync(file)) return [`^packages/${pkg}/src/index\\.ts$`];
  const out = [];
  for (const target of Object.values(JSON.parse(fs.readFileSync(file, 'utf8')).exports ?? {}))
    if (target && typeof target === 'object' && typeof target['@gki/source'] === 'string')
      out.push(`^packages/${pkg}/${esc(target['@gki/source'].replace(/^\.\//, ''))}$`);
  return out;
}
const allPackages = fs.readdirSync(path.join(__dirname, 'packages'));
const allowed = {
  hw: [],
  kernel: ['hw'],
  'io-pgtable-core': ['kernel', 'hw'],
  'format-arm-lpae': ['io-pgtable-core', 'kernel', 'hw'],
  'format-arm-v7s': ['io-pgtable-core', 'kernel', 'hw'],
  smmu: ['io-pgtable-core', 'kernel'],
  'smmu-v3': ['io-pgtable-core', 'kernel'],
  'qcom-iommu': ['io-pgtable-core', 'kernel'],
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
    pathNot: [`^packages/${pkg}/`, ...deps.flatMap(entryPoints)],
  },
}));

module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'no-deep-import',
      comment: 'another package is reached only through its exports map (the files it publishes)',
      severity: 'error',
      from: { path: '^(packages|apps)/([^/]+)/' },
      to: { path: '^packages/([^/]+)/', pathNot: ['^packages/$2/', ...allPackages.flatMap(entryPoints)] },
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
      conditionNames: ['@gki/source', 'import', 'types', 'default'],
      extensions: ['.ts', '.js', '.mjs', '.json'],
    },
    combinedDependencies: false,
    preserveSymlinks: false,
  },
};
