/**
 * "A module cannot call what it did not declare", enforced: for every module package the
 * composer offers, the exported kernel symbols its source references (its value imports of the
 * built-in core, through the core's KMI tables, and its ctx.symbol lookups) must be exactly the
 * `needs` of its module descriptor. The loader resolves those needs against vmlinux's export
 * table (GPL-only and namespace rules included) and the composer writes them as the image's
 * KMI, so an undeclared call would be a symbol the KMI misses, and a stale need a symbol it
 * lists for nothing.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as ioPgtableCore from '@gki/io-pgtable-core';
import * as kernel from '@gki/kernel';
import { ioPgtableKmi } from '@gki/io-pgtable-core';
import { kernelKmi, type KmiTable } from '@gki/kernel';
import { MODULE_PACKAGES } from '../src/compose/catalogue.js';
import { compareNeeds, scanModuleSources, tsFiles, type Allowance, type CorePackage } from './kmi-scan.js';

const CORE: CorePackage[] = [
  { name: '@gki/kernel', exports: kernel as Record<string, unknown>, table: kernelKmi() },
  { name: '@gki/io-pgtable-core', exports: ioPgtableCore as Record<string, unknown>, table: ioPgtableKmi() },
];

const require = createRequire(import.meta.url);
const appDir = new URL('..', import.meta.url).pathname;

/** Where each package keeps its module's source (its whole src/, except the app's own driver). */
function sourcesOf(pkg: string): { root: string; path: string } {
  if (pkg === 'gki') return { root: appDir, path: join(appDir, 'src/drivers') };
  const root = dirname(require.resolve(`${pkg}/package.json`));
  return { root, path: join(root, 'src') };
}

/**
 * Imports of exported functions that a package's module never reaches, each with the reason. Keep
 * this short: everything else a module package imports is a call of its module.
 */
const ALLOWANCES: Record<string, Allowance[]> = {
  '@gki/format-arm-v7s': [
    {
      package: '@gki/io-pgtable-core',
      name: 'freeIoPgtableOps',
      why: 'freeArmV7sOps, the standalone library entry point for tables made with createArmV7sOps outside any kernel; the module io-pgtable-arm-v7s never calls it (its tables are freed by the core)',
    },
  ],
};

/** The built-in core itself is vmlinux: its imports of @gki/kernel are calls inside the kernel. */
const CHECKED = MODULE_PACKAGES.filter((p) => p.package !== '@gki/io-pgtable-core');

describe('every module declares exactly the kernel symbols its source references', () => {
  it('covers every module package of the catalogue but the built-in core', () => {
    expect(CHECKED.map((p) => p.package).sort()).toEqual(
      ['@gki/drm-msm', '@gki/drm-panfrost', '@gki/format-arm-lpae', '@gki/format-arm-v7s', '@gki/qcom-iommu', '@gki/smmu', '@gki/smmu-v3', 'gki'].sort(),
    );
  });

  for (const p of CHECKED) {
    const mod = typeof p.module === 'function' ? p.module({}) : p.module;
    it(`${mod.name} (${p.package})`, () => {
      const src = sourcesOf(p.package);
      const files = tsFiles(src.path);
      expect(files.length).toBeGreaterThan(0);
      const scan = scanModuleSources(files, src.root, CORE, ALLOWANCES[p.package] ?? []);
      expect(scan.errors).toEqual([]);
      const needs = mod.needs ?? [];
      expect(new Set(needs).size, 'needs lists a symbol twice').toBe(needs.length);
      const { missing, unused } = compareNeeds(scan, needs);
      expect({ missing, unused }, `${mod.name}: needs must match what its source references`).toEqual({ missing: [], unused: [] });
      // every need is a symbol the image's kernel exports: the core's tables (no module exports what these need)
      const core = new Set(CORE.flatMap((c) => c.table.symbols().map((s) => s.name)));
      expect(needs.filter((s) => !core.has(s))).toEqual([]);
    });
  }

  it('a module built with other sub-options needs the same symbols (arm_smmu without its Qualcomm and legacy code)', () => {
    const smmu = MODULE_PACKAGES.find((p) => p.package === '@gki/smmu')!;
    if (typeof smmu.module !== 'function') throw new Error('arm_smmu is built from its options');
    const all = smmu.module({}).needs;
    expect(smmu.module({ ARM_SMMU_QCOM: 'n', ARM_SMMU_LEGACY_DT_BINDINGS: 'n' }).needs).toEqual(all);
  });
});

describe('the scanner fails where it must', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gki-kmi-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  const scan = (text: string, allow: Allowance[] = [], core: CorePackage[] = CORE) => {
    const d = join(dir, `case${n++}`);
    mkdirSync(d);
    writeFileSync(join(d, 'mod.ts'), text);
    return scanModuleSources([join(d, 'mod.ts')], d, core, allow);
  };

  it('an imported exported function is a use; a need nobody references is unused', () => {
    const s = scan(`import { iommuMap, ofPropertyReadU32 } from '@gki/kernel';\nexport const f = () => iommuMap;\n`);
    expect(s.errors).toEqual([]);
    expect(s.uses.get('iommu_map')).toEqual(['mod.ts:1 iommuMap']);
    expect(compareNeeds(s, ['iommu_map', 'iommu_unmap'])).toEqual({ missing: ['of_property_read_variable_u32_array'], unused: ['iommu_unmap'] });
  });

  it('types, constants, inlines and re-exports reference nothing', () => {
    const s = scan(
      [
        `import type { Kernel } from '@gki/kernel';`,
        `import { type Device, EINVAL, IOMMU_READ, devIommuFwspecGet, errnoName } from '@gki/kernel';`,
        `import { IO_PGTABLE_QUIRK_ARM_NS } from '@gki/io-pgtable-core';`,
        `export { iommuMap } from '@gki/kernel';`,
      ].join('\n'),
    );
    expect(s.errors).toEqual([]);
    expect([...s.uses.keys(), ...s.lookups.keys()]).toEqual([]);
  });

  it('kernel internals, unclassified functions, namespace, default, dynamic and subpath imports are errors', () => {
    const s = scan(
      [
        `import { Kernel } from '@gki/kernel';`,
        `import * as k from '@gki/kernel';`,
        `import { cfgFromCase } from '@gki/io-pgtable-core/vectors';`,
        `export const load = () => import('@gki/io-pgtable-core');`,
      ].join('\n'),
    );
    expect(s.errors).toHaveLength(4);
    expect(s.errors[0]).toMatch(/^mod\.ts:1 Kernel: 'Kernel' is kernel-internal, not for modules/);
    expect(s.errors[1]).toMatch(/^mod\.ts:2: namespace import of @gki\/kernel/);
    expect(s.errors[2]).toMatch(/^mod\.ts:3: value import from @gki\/io-pgtable-core\/vectors/);
    expect(s.errors[3]).toMatch(/^mod\.ts:4: dynamic import\(@gki\/io-pgtable-core\)/);
    const partial: KmiTable = { ...kernelKmi(), uses: Object.fromEntries(Object.entries(kernelKmi().uses).filter(([name]) => name !== 'iommuMap')) };
    const u = scan(`import { iommuMap } from '@gki/kernel';\n`, [], [{ ...CORE[0]!, table: partial }]);
    expect(u.errors).toEqual([`mod.ts:1 iommuMap: @gki/kernel's KMI table does not classify 'iommuMap' (add it to the table: the symbols it references, or why none)`]);
  });

  it('ctx.symbol lookups count by literal or string constant; anything else is an error', () => {
    const s = scan(
      [
        `import { IO_PGTABLE_OPS_REGISTER } from '@gki/io-pgtable-core';`,
        `const LOCAL = 'io_pgtable_ops_unregister';`,
        `export function init(ctx: { symbol<T>(n: string): T }, name: string) {`,
        `  ctx.symbol(IO_PGTABLE_OPS_REGISTER);`,
        `  ctx.symbol(LOCAL);`,
        `  ctx.symbol('alloc_io_pgtable_ops');`,
        `  ctx.symbol(name);`,
        `}`,
      ].join('\n'),
    );
    expect([...s.lookups.keys()].sort()).toEqual(['alloc_io_pgtable_ops', 'io_pgtable_ops_register', 'io_pgtable_ops_unregister']);
    expect(s.errors).toEqual([`mod.ts:7: ctx.symbol(name): the symbol name is not a string literal or a string constant, so its need cannot be checked`]);
    expect(compareNeeds(s, ['io_pgtable_ops_register']).missing).toEqual(['alloc_io_pgtable_ops', 'io_pgtable_ops_unregister']);
  });

  it('an allowance skips one import, and a stale one is an error', () => {
    const allow: Allowance = { package: '@gki/io-pgtable-core', name: 'freeIoPgtableOps', why: 'library entry point' };
    expect(scan(`import { freeIoPgtableOps } from '@gki/io-pgtable-core';\n`, [allow]).uses.size).toBe(0);
    expect(scan(`export const x = 1;\n`, [allow]).errors).toEqual([`allowance for @gki/io-pgtable-core 'freeIoPgtableOps' matches no import any more (library entry point): remove it`]);
  });
});
