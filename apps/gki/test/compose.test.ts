import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { kernelKmi, type KernelModule } from '@gki/kernel';
import { defaultCatalogue, KBUILD_MODULES, makeCatalogue, MODULE_PACKAGES, packageVersion, type KbuildModule, type ModulePackage } from '../src/compose/catalogue.js';
import { composeImage, type ComposeResult } from '../src/compose/compose.js';
import { ImageDirError, imageFiles, readImageDir, writeImageDir } from '../src/compose/image-dir.js';
import { composeDefault, gkiBase } from '../src/compose/inputs.js';
import { defaultFragment } from '../src/config/default.js';
import { formatDiagnostic } from '../src/kconfig/diagnostics.js';
import { modprobeLoadSequence, readModprobeView } from './modprobe-reader.js';

const tmp = mkdtempSync(join(tmpdir(), 'gki-compose-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function mod(name: string, extra: Partial<KernelModule> = {}): KernelModule {
  return { name, version: '9.9.9', license: 'GPL v2', init: () => 0, exit: () => {}, ...extra };
}

/**
 * A made-up stack on real Kconfig symbols (the symbols only carry y/m/n here): a core built-in
 * exporting a GPL symbol, a chain of hard dependencies, pre- and post-softdeps by name and by
 * alias, and one softdep on a module that is not in the image.
 */
function synthetic(overrides: Record<string, Partial<KernelModule>> = {}) {
  const kbuild: KbuildModule[] = [
    { module: 'core-lib', symbol: 'IOMMU_IO_PGTABLE', object: 'drivers/core/core-lib' },
    { module: 'top', symbol: 'GKI_DMA_TEST', object: 'drivers/a/top' },
    { module: 'mid', symbol: 'ARM_SMMU', object: 'drivers/b/mid' },
    { module: 'base-lib', symbol: 'ARM_SMMU_V3', object: 'drivers/b/base-lib' },
    { module: 'fmt-x', symbol: 'IOMMU_IO_PGTABLE_ARMV7S', object: 'drivers/c/fmt-x' },
    { module: 'helper', symbol: 'IOMMU_IO_PGTABLE_LPAE', object: 'drivers/c/helper' },
    { module: 'absent', symbol: 'DRM_MSM', object: 'drivers/d/absent' },
  ];
  const m = (name: string, extra: Partial<KernelModule>) => mod(name, { ...extra, ...overrides[name] });
  const packages: ModulePackage[] = [
    { package: '@t/core', module: m('core-lib', { exports: { core_fn: { value: 0, gplOnly: true } }, initcall: 'core', aliases: ['core:thing'] }) },
    { package: '@t/top', module: m('top', { needs: ['mid_fn', 'core_fn'], softdep: { pre: ['fmt:x-1'], post: ['helper', 'not-here'] }, aliases: ['of:N*T*Ct,top'] }) },
    { package: '@t/mid', module: m('mid', { needs: ['base_fn'], exports: { mid_fn: { value: 1 } } }) },
    { package: '@t/base', module: m('base-lib', { exports: { base_fn: { value: 2, namespace: 'T_NS' }, base_other: { value: 3 } } }) },
    { package: '@t/fmt', module: m('fmt-x', { aliases: ['fmt:x-*'], needs: ['core_fn'] }) },
    { package: '@t/helper', module: m('helper', {}) },
  ];
  return makeCatalogue(kbuild, packages, () => '9.9.9', { package: '@t/kernel', version: '1.0.0' });
}

const ALL_M = 'CONFIG_GKI_DMA_TEST=m\nCONFIG_ARM_SMMU=m\nCONFIG_ARM_SMMU_V3=m\nCONFIG_IOMMU_IO_PGTABLE_ARMV7S=m\nCONFIG_IOMMU_IO_PGTABLE_LPAE=m\n';

function compose(fragment: string, opts: { omit?: string[]; overrides?: Record<string, Partial<KernelModule>>; rules?: 'seed' | 'mainline' } = {}): ComposeResult & { text: string[] } {
  const r = composeImage({ base: gkiBase(), config: { text: fragment, name: 'frag.config' }, rules: opts.rules ?? 'seed', omit: opts.omit ?? [], catalogue: synthetic(opts.overrides) });
  // merge notices (the fragment redefining a base line) are not findings
  return { ...r, text: r.diagnostics.filter((d) => d.severity !== 'notice').map(formatDiagnostic) };
}

describe('compose with a synthetic catalogue', () => {
  it('orders modules.dep, modules.load and the softdeps as depmod and modprobe would', () => {
    const r = compose(ALL_M, { overrides: { mid: { importNamespaces: ['T_NS'] } } });
    expect(r.text).toEqual([
      'warning: softdep: top lists not-here (post:), which is not in the image\n  no module of the image is named or aliased not-here\n  softdeps are optional: modprobe loads top without it',
    ]);
    expect(r.ok).toBe(true);
    const plan = r.plan!;
    expect(plan.builtin.map((p) => p.module.name)).toEqual(['core-lib']);
    expect(plan.modules.map((p) => p.module.name)).toEqual(['top', 'mid', 'base-lib', 'fmt-x', 'helper']);
    // top: its hard deps (base-lib before mid, which uses it), its pre-softdep by alias, itself, its post-softdep
    expect(plan.load.map((p) => p.module.name)).toEqual(['base-lib', 'mid', 'fmt-x', 'top', 'helper']);
    const files = imageFiles(plan, { base: 'b', config: 'c', omit: [] }, synthetic());
    expect(files.get('modules.dep')).toBe(
      [
        'kernel/drivers/a/top.ko: kernel/drivers/b/mid.ko kernel/drivers/b/base-lib.ko',
        'kernel/drivers/b/mid.ko: kernel/drivers/b/base-lib.ko',
        'kernel/drivers/b/base-lib.ko:',
        'kernel/drivers/c/fmt-x.ko:',
        'kernel/drivers/c/helper.ko:',
        '',
      ].join('\n'),
    );
    expect(files.get('modules.softdep')).toBe(
      '# Soft dependencies extracted from modules themselves.\n# Copy, with a .conf extension, to /etc/modprobe.d to use it with modprobe.\nsoftdep top pre: fmt:x-1 post: helper not-here\n',
    );
    expect(files.get('modules.alias')).toBe('# Aliases extracted from modules themselves.\nalias of:N*T*Ct,top top\nalias fmt:x-* fmt_x\n');
    expect(files.get('modules.symbols')).toBe('# Aliases for symbols, used by symbol_request().\nalias symbol:base_fn base_lib\nalias symbol:base_other base_lib\nalias symbol:mid_fn mid\n');
    expect(files.get('modules.builtin')).toBe(''); // IOMMU_IO_PGTABLE is a bool: not a would-be module
    expect(files.get('modules.builtin.modinfo')).toBe('core_lib.license=GPL v2\0core_lib.alias=core:thing\0');
    // vmlinux.symvers: the core kernel's exports and the built-in's, sorted by name, Module.symvers lines
    const symvers = files.get('vmlinux.symvers')!.split('\n');
    expect(symvers.pop()).toBe('');
    expect(symvers).toContain('0x00000000\tcore_fn\tvmlinux\tEXPORT_SYMBOL_GPL\t');
    expect(symvers).toContain('0x00000000\tiommu_map\tvmlinux\tEXPORT_SYMBOL_GPL\t');
    expect(symvers).toContain('0x00000000\tdma_map_page_attrs\tvmlinux\tEXPORT_SYMBOL\t');
    const names = symvers.map((l) => l.split('\t')[1]!);
    expect(names).toEqual([...kernelKmi().symbols().map((x) => x.name), 'core_fn'].sort());
    expect(files.get('abi_symbol_list')).toBe('[abi_symbol_list]\n# commonly used symbols\n  core_fn\n');
  });

  it('writes an image whose indexes a modprobe-style reader loads in the modules.load order', () => {
    const r = compose(ALL_M, { overrides: { mid: { importNamespaces: ['T_NS'] } } });
    const dir = join(tmp, 'synthetic');
    writeImageDir(dir, imageFiles(r.plan!, { base: 'b', config: 'c', omit: [] }, synthetic()));
    const view = readModprobeView(dir);
    expect(modprobeLoadSequence(view)).toEqual(view.load.map((l) => l.replace(/^.*\//, '').replace(/\.ko$/, '').replace(/-/g, '_')));
    expect(view.softdep.get('top')).toEqual({ pre: ['fmt:x-1'], post: ['helper', 'not-here'] });
    const back = readImageDir(dir, synthetic({ mid: { importNamespaces: ['T_NS'] } }));
    expect(back.image.load).toEqual(['base-lib', 'mid', 'fmt-x', 'top', 'helper']);
  });

  it('refuses an output directory it cannot create with ImageDirError, and returns (procfs: mkdir answers ENOENT)', () => {
    const r = compose(ALL_M, { overrides: { mid: { importNamespaces: ['T_NS'] } } });
    const files = imageFiles(r.plan!, { base: 'b', config: 'c', omit: [] }, synthetic());
    writeFileSync(join(tmp, 'a-file'), 'x');
    expect(() => writeImageDir(join(tmp, 'a-file', 'deeper', 'img'), files)).toThrow(
      new ImageDirError(`cannot write ${join(tmp, 'a-file', 'deeper', 'img')}: ${join(tmp, 'a-file')} is not a directory`),
    );
    // Node's recursive mkdir loops forever there; the image writer must not
    expect(() => writeImageDir('/proc/gki-no-such-dir/img', files)).toThrow(ImageDirError);
    writeImageDir(join(tmp, 'new', 'deep', 'img'), files);
    expect(readImageDir(join(tmp, 'new', 'deep', 'img'), synthetic({ mid: { importNamespaces: ['T_NS'] } })).image.load).toHaveLength(5);
  });

  it('rejects namespace, GPL-only and undefined-symbol problems with modpost wording, and writes nothing', () => {
    const ns = compose(ALL_M);
    expect(ns.ok).toBe(false);
    expect(ns.text).toContain('error: modpost: module mid uses symbol base_fn from namespace T_NS, but does not import it.');
    const gpl = compose(ALL_M, { overrides: { mid: { importNamespaces: ['T_NS'] }, 'fmt-x': { license: 'Proprietary' } } });
    expect(gpl.text).toContain("error: modpost: GPL-incompatible module fmt-x.ko uses GPL-only symbol 'core_fn'");
    expect(gpl.plan).toBeUndefined();
    const undef = compose(ALL_M.replace('CONFIG_ARM_SMMU_V3=m\n', ''), { overrides: { mid: { importNamespaces: ['T_NS'] } } });
    expect(undef.text).toContain('error: modpost: "base_fn" [mid.ko] undefined!');
  });

  it("resolves needs against vmlinux's own exports: no dependency, listed in the KMI; GPL-only ones refused to a GPL-incompatible module", () => {
    const ok = compose(ALL_M, { overrides: { mid: { importNamespaces: ['T_NS'] }, helper: { needs: ['iommu_map', 'dma_map_page_attrs'] } } });
    expect(ok.ok).toBe(true);
    expect(ok.plan!.depmod.dep['helper']).toEqual([]);
    expect(ok.plan!.depmod.unresolved).toEqual({});
    const files = imageFiles(ok.plan!, { base: 'b', config: 'c', omit: [] }, synthetic());
    expect(files.get('abi_symbol_list')).toBe('[abi_symbol_list]\n# commonly used symbols\n  core_fn\n\n# required by helper.ko\n  dma_map_page_attrs\n  iommu_map\n');
    const blob = compose(ALL_M, { overrides: { mid: { importNamespaces: ['T_NS'] }, helper: { license: 'Proprietary', needs: ['iommu_map', 'dma_map_page_attrs'] } } });
    expect(blob.ok).toBe(false);
    expect(blob.text).toContain("error: modpost: GPL-incompatible module helper.ko uses GPL-only symbol 'iommu_map'");
    expect(blob.text.filter((t) => t.includes('dma_map_page_attrs'))).toEqual([]); // EXPORT_SYMBOL: fine for any licence
    const undef = compose(ALL_M, { overrides: { mid: { importNamespaces: ['T_NS'] }, helper: { needs: ['dma_map_single'] } } });
    expect(undef.text).toContain('error: modpost: "dma_map_single" [helper.ko] undefined!'); // a macro, never a symbol
  });

  it('rejects a hard dependency cycle', () => {
    const r = compose(ALL_M, { overrides: { mid: { importNamespaces: ['T_NS'] }, 'base-lib': { needs: ['mid_fn'] } } });
    expect(r.ok).toBe(false);
    expect(r.text).toContain('error: depmod: hard dependency cycle: mid -> base-lib -> mid');
  });

  it('rejects a built-in that needs a symbol only a module exports (vmlinux cannot link against a module)', () => {
    const r = compose(ALL_M.replace('CONFIG_ARM_SMMU=m', 'CONFIG_ARM_SMMU=y'), { overrides: { mid: { importNamespaces: ['T_NS'] } } });
    expect(r.text).toContain("error: ld: vmlinux: undefined reference to 'base_fn' from built-in mid: only module base-lib exports it, and the kernel cannot link against a module");
  });

  it('--omit leaves a module out: a hard dependency cannot go, a softdep target can (with a warning)', () => {
    const hard = compose(ALL_M, { omit: ['base-lib'], overrides: { mid: { importNamespaces: ['T_NS'] } } });
    expect(hard.ok).toBe(false);
    expect(hard.text).toContain('error: modpost: "base_fn" [mid.ko] undefined!\n  base-lib exports it, but --omit leaves it out of the image');
    const soft = compose(ALL_M, { omit: ['helper'], overrides: { mid: { importNamespaces: ['T_NS'] } } });
    expect(soft.ok).toBe(true);
    expect(soft.plan!.omitted.map((p) => p.module.name)).toEqual(['helper']);
    // the same module named twice is left out once (it was refused as 'not a module' the second time)
    const twice = compose(ALL_M, { omit: ['helper', 'helper'], overrides: { mid: { importNamespaces: ['T_NS'] } } });
    expect(twice.ok).toBe(true);
    expect(twice.plan!.omitted.map((p) => p.module.name)).toEqual(['helper']);
    expect(soft.plan!.load.map((p) => p.module.name)).toEqual(['base-lib', 'mid', 'fmt-x', 'top']);
    expect(soft.text).toContain('warning: softdep: top lists helper (post:), which is not in the image\n  helper is left out with --omit\n  softdeps are optional: modprobe loads top without it');
    const notModule = compose(ALL_M, { omit: ['core-lib', 'nothing'], overrides: { mid: { importNamespaces: ['T_NS'] } } });
    expect(notModule.text).toEqual(
      expect.arrayContaining([
        'error: --omit core-lib: not a loadable module of this image: it is built into the kernel (CONFIG_IOMMU_IO_PGTABLE=y)',
        'error: --omit nothing: not a loadable module of this image: no such module',
      ]),
    );
  });

  it('a symbol whose module has no package is an error at the line that asked for it, not a stub', () => {
    const r = compose(ALL_M + 'CONFIG_DRM_MSM=m\n', { overrides: { mid: { importNamespaces: ['T_NS'] } } });
    expect(r.ok).toBe(false);
    expect(r.text).toContain(
      'frag.config:6: error: CONFIG_DRM_MSM=m builds absent (kernel/drivers/d/absent.ko), but this build of gki has no package that provides it\n  set CONFIG_DRM_MSM to n, or add the module\'s package to the catalogue (apps/gki/src/compose/catalogue.ts)',
    );
  });
});

/** A workspace package's package.json, found by name in the repository (not through node resolution). */
function workspacePackageJson(name: string): { version: string } {
  const root = fileURLToPath(new URL('../../../', import.meta.url));
  for (const dir of ['apps/gki', ...readdirSync(join(root, 'packages')).map((d) => `packages/${d}`)]) {
    const f = join(root, dir, 'package.json');
    const json = JSON.parse(readFileSync(f, 'utf8')) as { name: string; version: string };
    if (json.name === name) return json;
  }
  throw new Error(`no workspace package ${name}`);
}

describe('the real catalogue', () => {
  it('places every package module in the kbuild table, with the version in its package.json', () => {
    const cat = defaultCatalogue();
    expect(MODULE_PACKAGES.length).toBeGreaterThan(0);
    for (const p of MODULE_PACKAGES) {
      const name = typeof p.module === 'function' ? p.module({}).name : p.module.name;
      const e = cat.byModule(name)!;
      expect(e.provider!.package).toBe(p.package);
      const pkgJson = workspacePackageJson(p.package);
      expect(e.provider!.version, p.package).toBe(pkgJson.version);
      // the descriptor's own version string is kept in step with its package
      expect(e.provider!.build({}).version, p.package).toBe(pkgJson.version);
    }
    expect(cat.kernel).toEqual({ package: '@gki/kernel', version: packageVersion('@gki/kernel') });
    for (const k of KBUILD_MODULES) expect(k.object.startsWith('drivers/'), k.module).toBe(true);
  });

  it('the default configuration lists every available module and composes without a warning', () => {
    const frag = defaultFragment('seed', defaultCatalogue());
    for (const e of defaultCatalogue().entries) {
      if (!e.provider) expect(frag).toContain(`# CONFIG_${e.symbol}: ${e.module} has no package in this build of gki`);
      else if (e.symbol !== 'IOMMU_IO_PGTABLE') expect(frag).toContain(`CONFIG_${e.symbol}=m\n`);
    }
    const r = composeDefault();
    expect(r.diagnostics.filter((d) => d.severity !== 'notice')).toEqual([]);
    expect(r.plan!.builtin.map((p) => p.module.name)).toEqual(['io-pgtable']);
    expect(r.plan!.modules.length).toBe(defaultCatalogue().entries.filter((e) => e.provider).length - 1);
  });

  it("the default image's KMI is every core symbol its modules need, grouped as Android's abi_gki lists", () => {
    const plan = composeDefault().plan!;
    const files = imageFiles(plan, { base: 'b', config: 'c', omit: [] }, defaultCatalogue());
    const lines = files.get('abi_symbol_list')!.split('\n');
    expect(lines[0]).toBe('[abi_symbol_list]');
    expect(lines[1]).toBe('# commonly used symbols');
    // each symbol once, in the group of the modules that need it: several -> common, one -> its own
    const group = new Map<string, string>();
    let current = '';
    for (const l of lines.slice(1)) {
      if (l.startsWith('# ')) current = l;
      else if (l.startsWith('  ')) {
        expect(group.has(l.trim()), l).toBe(false);
        group.set(l.trim(), current);
      } else expect(l).toBe('');
    }
    const users = new Map<string, string[]>();
    for (const p of plan.modules) for (const s of p.module.needs ?? []) users.set(s, [...(users.get(s) ?? []), p.module.name]);
    expect([...group.keys()].sort()).toEqual([...users.keys()].sort());
    for (const [s, ms] of users) expect(group.get(s), s).toBe(ms.length > 1 ? '# commonly used symbols' : `# required by ${ms[0]}.ko`);
    // facts about this stack: every driver registers a platform driver and requests interrupts,
    // the SMMU and GPU drivers allocate io-pgtables; only msm attaches IOMMU domains itself
    for (const s of ['__platform_driver_register', 'platform_driver_unregister', 'devm_request_threaded_irq', 'alloc_io_pgtable_ops', 'io_pgtable_ops_register'])
      expect(group.get(s), s).toBe('# commonly used symbols');
    expect(group.get('iommu_device_register')).toBe('# commonly used symbols'); // arm_smmu and arm_smmu_v3
    // gki_dma_test and qcom_iommu (the secure page table it hands to the firmware)
    expect(group.get('dma_alloc_attrs')).toBe('# commonly used symbols');
    expect(group.get('qcom_scm_restore_sec_cfg')).toBe('# required by qcom_iommu.ko');
    expect(group.get('of_property_read_string_helper')).toBe('# required by msm.ko');
    // within a group, sorted
    const blocks = files.get('abi_symbol_list')!.split('\n\n');
    for (const b of blocks) {
      const syms = b.split('\n').filter((l) => l.startsWith('  '));
      expect(syms).toEqual([...syms].sort());
    }
    // vmlinux.symvers: every core export, the kernel's and io-pgtable's
    const symvers = files.get('vmlinux.symvers')!.trimEnd().split('\n');
    expect(symvers.length).toBe(kernelKmi().symbols().length + 4);
    expect(symvers).toContain('0x00000000\talloc_io_pgtable_ops\tvmlinux\tEXPORT_SYMBOL_GPL\t');
  });
});

describe('the modules wired in from their packages', () => {
  const compose = (frag: string) => composeImage({ base: gkiBase(), config: { text: frag, name: 'frag.config' }, rules: 'seed' });

  it('arm_smmu: its sub-options resolve with it and are recorded; built in, it softdeps on both formats (the seed series)', () => {
    const m = compose('CONFIG_ARM_SMMU=m\nCONFIG_ARM_SMMU_LEGACY_DT_BINDINGS=y\n');
    expect(m.ok).toBe(true);
    const smmu = m.plan!.modules.find((p) => p.module.name === 'arm_smmu')!;
    expect(smmu.entry.provider.package).toBe('@gki/smmu');
    expect(smmu.options).toEqual({ ARM_SMMU_LEGACY_DT_BINDINGS: 'n', ARM_SMMU_DISABLE_BYPASS_BY_DEFAULT: 'y', ARM_SMMU_QCOM: 'm' });
    expect(m.diagnostics.map(formatDiagnostic).join('\n')).toContain('frag.config:2: warning: Value requested for CONFIG_ARM_SMMU_LEGACY_DT_BINDINGS not in final .config');
    // ARM_SMMU_QCOM selects QCOM_SCM; the model has qcom_scm built into its kernel core, so it is not listed as unmodelled
    expect(m.plan!.config.get('QCOM_SCM').value).toBe('m');
    expect(m.plan!.unmodelled.map((r) => r.sym.name)).not.toContain('QCOM_SCM');
    expect(imageFiles(m.plan!, { base: 'b', config: 'c', omit: [] }).get('modules.softdep')).toContain('softdep arm_smmu pre: io-pgtable-arm io-pgtable-arm-v7s\n');

    // ARM_SMMU=y with ARMV7S=m: LPAE is selected into the kernel, v7s stays a module, and the
    // built-in driver's softdep goes to modules.builtin.modinfo (a runtime dependency, not a build error)
    const y = compose('CONFIG_ARM_SMMU=y\nCONFIG_ARM_SMMU_LEGACY_DT_BINDINGS=y\nCONFIG_IOMMU_IO_PGTABLE_ARMV7S=m\n');
    expect(y.ok).toBe(true);
    expect(y.plan!.builtin.map((p) => p.module.name)).toEqual(['arm_smmu', 'io-pgtable', 'io-pgtable-arm']);
    expect(y.plan!.modules.map((p) => p.module.name)).toEqual(['io-pgtable-arm-v7s']);
    expect(y.plan!.builtin[0]!.options).toEqual({ ARM_SMMU_LEGACY_DT_BINDINGS: 'y', ARM_SMMU_DISABLE_BYPASS_BY_DEFAULT: 'y', ARM_SMMU_QCOM: 'y' });
    const files = imageFiles(y.plan!, { base: 'b', config: 'c', omit: [] });
    expect(files.get('modules.builtin')).toBe('kernel/drivers/iommu/arm/arm-smmu/arm_smmu.ko\nkernel/drivers/iommu/io-pgtable-arm.ko\n');
    expect(files.get('modules.builtin.modinfo')!.split('\0')).toContain('arm_smmu.softdep=pre: io-pgtable-arm io-pgtable-arm-v7s');
  });

  it('panfrost: selects the LPAE format (m under seed, y under mainline) and needs DRM', () => {
    const seed = compose('CONFIG_DRM_PANFROST=m\n');
    expect(seed.ok).toBe(true);
    expect(seed.plan!.modules.map((p) => p.module.name)).toEqual(['io-pgtable-arm', 'panfrost']);
    expect(seed.plan!.load.map((p) => p.module.name)).toEqual(['io-pgtable-arm', 'panfrost']);
    expect(seed.plan!.modules[1]!.entry.provider.package).toBe('@gki/drm-panfrost');
    expect(seed.otherRules!.differences).toEqual([{ symbol: 'IOMMU_IO_PGTABLE_LPAE', value: 'm', otherValue: 'y', module: 'io-pgtable-arm' }]);
    const noDrm = compose('# CONFIG_DRM is not set\nCONFIG_DRM_PANFROST=m\n');
    expect(noDrm.plan!.modules.map((p) => p.module.name)).toEqual([]);
  });

  it('msm: selects only the io-pgtable framework, so an msm-only configuration lacks io-pgtable-arm (its softdep says so)', () => {
    const r = compose('CONFIG_DRM_MSM=m\n');
    expect(r.ok).toBe(true);
    expect(r.plan!.modules.map((p) => p.module.name)).toEqual(['msm']);
    expect(r.plan!.modules[0]!.entry.provider.package).toBe('@gki/drm-msm');
    expect(r.config!.get('IOMMU_IO_PGTABLE').value).toBe('y');
    expect(r.config!.get('IOMMU_IO_PGTABLE_LPAE').value).toBe('n');
    expect(r.diagnostics.map(formatDiagnostic)).toContain(
      'warning: softdep: msm lists io-pgtable-arm (pre:), which is not in the image\n  no module of the image is named or aliased io-pgtable-arm\n  softdeps are optional: modprobe loads msm without it',
    );
    // msm needs ARCH_QCOM (or SOC_IMX5 / COMPILE_TEST)
    expect(compose('# CONFIG_ARCH_QCOM is not set\nCONFIG_DRM_MSM=m\n').config!.get('DRM_MSM').value).toBe('n');
  });
});
