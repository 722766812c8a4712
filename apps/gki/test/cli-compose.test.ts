import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileLines, gki, read, SPAWN_TIMEOUT, STACK_LINE, workdir, write } from './cli-helpers.js';
import { kernelKmi } from '@gki/kernel';
import { defaultCatalogue } from '../src/compose/catalogue.js';
import { modname, modprobeLoadSequence, readModprobeView } from './modprobe-reader.js';

const wd = workdir();

interface Manifest {
  rules: string;
  kernel: { package: string; version: string };
  builtin: { module: string; package: string; version: string; path: string; config: string }[];
  modules: { module: string; package: string; version: string; path: string; config: string }[];
  load: string[];
}
const manifest = (dir: string): Manifest => JSON.parse(read(wd, dir, 'manifest.json'));
const names = (l: { module: string }[]) => l.map((x) => x.module);

/** stderr lines that are warnings or errors (the merge notices are neither). */
function findings(err: string[]): string[] {
  return err.filter((l) => /(^|: )(warning|error): /.test(l));
}

/** Checks every kmod index of an image line by line against the formats depmod writes. */
function checkKmodFormats(dir: string): void {
  const m = manifest(dir);
  const paths = new Set(m.modules.map((x) => x.path));
  const dep = fileLines(wd, dir, 'modules.dep');
  expect(dep.length).toBe(m.modules.length);
  for (const l of dep) {
    expect(l).toMatch(/^kernel\/\S+\.ko:( kernel\/\S+\.ko)*$/);
    for (const p of l.replace(':', '').split(' ')) expect(paths.has(p), p).toBe(true);
  }
  const soft = fileLines(wd, dir, 'modules.softdep');
  expect(soft.slice(0, 2)).toEqual(['# Soft dependencies extracted from modules themselves.', '# Copy, with a .conf extension, to /etc/modprobe.d to use it with modprobe.']);
  for (const l of soft.slice(2)) expect(l).toMatch(/^softdep [a-z0-9_]+( (pre|post):( [^\s:]+)+)+$/);
  const alias = fileLines(wd, dir, 'modules.alias');
  expect(alias[0]).toBe('# Aliases extracted from modules themselves.');
  for (const l of alias.slice(1)) expect(l).toMatch(/^alias \S+ [a-z0-9_]+$/);
  const syms = fileLines(wd, dir, 'modules.symbols');
  expect(syms[0]).toBe('# Aliases for symbols, used by symbol_request().');
  for (const l of syms.slice(1)) expect(l).toMatch(/^alias symbol:\w+ [a-z0-9_]+$/);
  for (const l of fileLines(wd, dir, 'modules.order')) expect(paths.has(l), l).toBe(true);
  const load = fileLines(wd, dir, 'modules.load');
  expect(load.map(modname)).toEqual(m.load.map(modname));
  for (const l of load) expect(paths.has(l), l).toBe(true);
  for (const l of fileLines(wd, dir, 'modules.builtin')) expect(l).toMatch(/^kernel\/drivers\/\S+\.ko$/);
  const modinfo = read(wd, dir, 'modules.builtin.modinfo');
  if (modinfo !== '') {
    expect(modinfo.endsWith('\0')).toBe(true);
    for (const rec of modinfo.slice(0, -1).split('\0')) expect(rec).toMatch(/^[a-z0-9_]+\.(file|license|description|alias|softdep|import_ns)=.+$/);
  }
  for (const l of fileLines(wd, dir, 'vmlinux.symvers')) expect(l).toMatch(/^0x[0-9a-f]{8}\t\w+\tvmlinux\tEXPORT_SYMBOL(_GPL)?\t\S*$/);
  const abi = fileLines(wd, dir, 'abi_symbol_list');
  expect(abi[0]).toBe('[abi_symbol_list]');
  for (const l of abi.slice(1)) expect(l).toMatch(/^(# (commonly used symbols|required by \S+\.ko)|  \w+|)$/);
  for (const x of m.modules) {
    const ko = read(wd, dir, x.path);
    expect(ko).toContain(`\nname=${x.module}\npackage=${x.package}\nversion=${x.version}\n`);
  }
  // read back the way modprobe does: the same load order and softdeps
  const view = readModprobeView(join(wd, dir));
  expect(modprobeLoadSequence(view)).toEqual(load.map(modname));
}

/** The modules the kernel log says were loaded, in order. */
function loadedInDmesg(out: string[]): string[] {
  return out.map((l) => /\] (\S+): module loaded/.exec(l)?.[1]).filter((x): x is string => !!x);
}

describe('gki compose (spawned, real files)', { timeout: SPAWN_TIMEOUT }, () => {
  it('composes the default configuration into an image the kmod tools and gki boot read', () => {
    const r = gki(['compose', '-o', 'default-img'], wd);
    expect(r.status).toBe(0);
    expect(findings(r.err)).toEqual([]);
    expect(r.out[0]).toBe('gki compose: <gki-base> + <gki-default>, seed rules');
    expect(r.stdout).toMatch(/^  io-pgtable +@gki\/io-pgtable-core \S+ +CONFIG_IOMMU_IO_PGTABLE=y$/m);
    expect(r.stdout).toMatch(/^ +\d+ arm_smmu_v3 +@gki\/smmu-v3 \S+ +CONFIG_ARM_SMMU_V3=m  softdep pre: io-pgtable-arm$/m);
    expect(r.out.at(-1)).toMatch(/^wrote default-img: \d+ files/);
    const m = manifest('default-img');
    // every module this build provides, as a module, in kbuild order; the io-pgtable core built in
    const available = defaultCatalogue().entries.filter((e) => e.provider).map((e) => e.module);
    expect(names(m.builtin)).toEqual(['io-pgtable']);
    expect(names(m.modules)).toEqual(available.filter((n) => n !== 'io-pgtable'));
    expect(names(m.modules)).toEqual(expect.arrayContaining(['gki_dma_test', 'arm_smmu_v3', 'io-pgtable-arm-v7s', 'io-pgtable-arm']));
    // modules.load: kbuild order, except that a module's pre-softdeps load before it
    expect([...m.load].sort()).toEqual(names(m.modules).sort());
    for (const x of m.load) {
      const pre = /^softdep (\S+) pre: (.*)$/m.exec(fileLines(wd, 'default-img', 'modules.softdep').find((l) => l.startsWith(`softdep ${x.replace(/-/g, '_')} `)) ?? '');
      for (const p of pre ? pre[2]!.split(' ') : []) if (m.load.includes(p)) expect(m.load.indexOf(p), `${p} before ${x}`).toBeLessThan(m.load.indexOf(x));
    }
    expect(m.load.slice(0, 2)).toEqual(['gki_dma_test', 'io-pgtable-arm']);
    expect(m.load.indexOf('arm_smmu_v3')).toBeGreaterThan(m.load.indexOf('io-pgtable-arm'));
    expect(m.modules.find((x) => x.module === 'io-pgtable-arm')).toMatchObject({ package: '@gki/format-arm-lpae', path: 'kernel/drivers/iommu/io-pgtable-arm.ko', config: 'CONFIG_IOMMU_IO_PGTABLE_LPAE=m' });
    expect(m.kernel.package).toBe('@gki/kernel');
    expect(fileLines(wd, 'default-img', 'modules.softdep')).toContain('softdep arm_smmu_v3 pre: io-pgtable-arm');
    expect(fileLines(wd, 'default-img', 'modules.load')).toEqual(m.load.map((n) => m.modules.find((x) => x.module === n)!.path));
    expect(fileLines(wd, 'default-img', 'modules.load').slice(0, 2)).toEqual(['kernel/drivers/dma/gki_dma_test.ko', 'kernel/drivers/iommu/io-pgtable-arm.ko']);
    // the KMI: every kernel symbol the modules need, grouped by who needs it
    const abi = fileLines(wd, 'default-img', 'abi_symbol_list');
    expect(abi.slice(0, 2)).toEqual(['[abi_symbol_list]', '# commonly used symbols']);
    const common = abi.slice(2, abi.indexOf(''));
    expect(common).toEqual(expect.arrayContaining(['  io_pgtable_ops_register', '  alloc_io_pgtable_ops', '  __platform_driver_register', '  iommu_device_register']));
    expect(abi.slice(abi.indexOf('# required by msm.ko'))).toEqual(expect.arrayContaining(['  iommu_map', '  iommu_attach_device']));
    const needed = new Set(m.modules.flatMap((x) => defaultCatalogue().byModule(x.module)!.provider!.build({}).needs ?? []));
    expect(abi.filter((l) => l.startsWith('  ')).length).toBe(needed.size);
    const exported = kernelKmi().symbols();
    const symvers = fileLines(wd, 'default-img', 'vmlinux.symvers');
    expect(symvers.length).toBe(exported.length + 4); // and io-pgtable's alloc/free/register/unregister
    expect(r.stdout).toContain(`KMI: vmlinux exports ${symvers.length} symbol(s) (${symvers.filter((l) => l.includes('EXPORT_SYMBOL_GPL')).length} GPL-only); the modules use ${needed.size} of them (abi_symbol_list)\n`);
    expect(r.stdout).toMatch(/^  per module: gki_dma_test 8, arm_smmu \d+, qcom_iommu \d+, arm_smmu_v3 \d+, io-pgtable-arm-v7s 2, io-pgtable-arm 2, msm \d+, panfrost \d+$/m);
    const config = read(wd, 'default-img', '.config');
    expect(config).toContain('\nCONFIG_IOMMU_IO_PGTABLE_LPAE=m\nCONFIG_IOMMU_IO_PGTABLE_ARMV7S=m\n');
    for (const e of defaultCatalogue().entries) {
      if (e.module === 'io-pgtable') expect(config).toContain(`\nCONFIG_${e.symbol}=y\n`);
      else expect(config).toContain(e.provider ? `\nCONFIG_${e.symbol}=m\n` : `\n# CONFIG_${e.symbol} is not set\n`);
    }
    checkKmodFormats('default-img');

    const boot = gki(['boot', 'default-img', '--debug'], wd);
    expect(boot.status).toBe(0);
    expect(boot.out.at(-1)).toBe('boot: OK');
    expect(loadedInDmesg(boot.out)).toEqual(m.load);
    expect(boot.stdout).toMatch(/\] initcall io-pgtable returned 0$/m); // --debug shows debug records
  });

  it('a configuration without io-pgtable-arm-v7s: no v7s anywhere in the image, and it boots', () => {
    write(wd, 'no-v7s.config', 'CONFIG_GKI_DMA_TEST=m\nCONFIG_ARM_SMMU_V3=m\n# CONFIG_IOMMU_IO_PGTABLE_ARMV7S is not set\n');
    const r = gki(['compose', '--config', 'no-v7s.config', '-o', 'no-v7s'], wd);
    expect(r.status).toBe(0);
    expect(findings(r.err)).toEqual([]);
    const m = manifest('no-v7s');
    expect([...names(m.builtin), ...names(m.modules)]).not.toContain('io-pgtable-arm-v7s');
    expect(existsSync(join(wd, 'no-v7s/kernel/drivers/iommu/io-pgtable-arm-v7s.ko'))).toBe(false);
    for (const f of ['modules.dep', 'modules.alias', 'modules.load', 'modules.order', 'modules.builtin']) expect(read(wd, 'no-v7s', f)).not.toMatch(/v7s/i);
    expect(read(wd, 'no-v7s', '.config')).toContain('# CONFIG_IOMMU_IO_PGTABLE_ARMV7S is not set\n');
    checkKmodFormats('no-v7s');
    const boot = gki(['boot', 'no-v7s'], wd);
    expect(boot.status).toBe(0);
    expect(boot.stdout).toContain('ARM_V7S: skipped\n  skipped: io-pgtable-arm-v7s is not in the image');
  });

  it('SMMU driver built in, formats asked as modules: the select builds LPAE in (with the reason), v7s stays a module', () => {
    write(wd, 'smmu-y.config', 'CONFIG_GKI_DMA_TEST=m\nCONFIG_ARM_SMMU_V3=y\nCONFIG_IOMMU_IO_PGTABLE_LPAE=m\nCONFIG_IOMMU_IO_PGTABLE_ARMV7S=m\n');
    const r = gki(['compose', '--config', 'smmu-y.config', '-o', 'smmu-y'], wd);
    expect(r.status).toBe(0);
    expect(r.err.join('\n')).toContain(
      [
        'smmu-y.config:3: warning: Value requested for CONFIG_IOMMU_IO_PGTABLE_LPAE not in final .config',
        '  Requested value:  CONFIG_IOMMU_IO_PGTABLE_LPAE=m',
        '  Actual value:     CONFIG_IOMMU_IO_PGTABLE_LPAE=y',
        '  Selected by [y]:',
        '  - ARM_SMMU_V3 [=y]',
      ].join('\n'),
    );
    const m = manifest('smmu-y');
    expect(names(m.builtin)).toEqual(['arm_smmu_v3', 'io-pgtable', 'io-pgtable-arm']);
    expect(names(m.modules)).toEqual(['gki_dma_test', 'io-pgtable-arm-v7s']);
    expect(fileLines(wd, 'smmu-y', 'modules.builtin')).toEqual(['kernel/drivers/iommu/arm/arm-smmu-v3/arm_smmu_v3.ko', 'kernel/drivers/iommu/io-pgtable-arm.ko']);
    const modinfo = read(wd, 'smmu-y', 'modules.builtin.modinfo').split('\0');
    expect(modinfo).toContain('arm_smmu_v3.file=drivers/iommu/arm/arm-smmu-v3/arm_smmu_v3');
    expect(modinfo).toContain('arm_smmu_v3.softdep=pre: io-pgtable-arm');
    expect(modinfo).toContain('io_pgtable_arm.alias=io-pgtable-fmt-ARM_64_LPAE_S1');
    expect(fileLines(wd, 'smmu-y', 'modules.softdep').slice(2)).toEqual([]);
    checkKmodFormats('smmu-y');
    const boot = gki(['boot', 'smmu-y'], wd);
    expect(boot.status).toBe(0);
    expect(boot.stdout).toMatch(/^arm_smmu_v3 +built-in +live/m);
  });

  it('a configuration lacking io-pgtable-arm: Kconfig keeps it (selected); --omit leaves it out and the SMMU driver gets -ENODEV at boot', () => {
    write(wd, 'no-lpae.config', 'CONFIG_GKI_DMA_TEST=m\nCONFIG_ARM_SMMU_V3=m\n# CONFIG_IOMMU_IO_PGTABLE_LPAE is not set\n');
    const kept = gki(['compose', '--config', 'no-lpae.config', '-o', 'no-lpae-kept'], wd);
    expect(kept.status).toBe(0);
    expect(kept.err.join('\n')).toContain('no-lpae.config:3: warning: Value requested for CONFIG_IOMMU_IO_PGTABLE_LPAE not in final .config\n  Requested value:  # CONFIG_IOMMU_IO_PGTABLE_LPAE is not set\n  Actual value:     CONFIG_IOMMU_IO_PGTABLE_LPAE=m\n  Selected by [m]:\n  - ARM_SMMU_V3 [=m]');
    expect(names(manifest('no-lpae-kept').modules)).toContain('io-pgtable-arm');

    const r = gki(['compose', '--config', 'no-lpae.config', '--omit', 'io-pgtable-arm', '-o', 'no-lpae'], wd);
    expect(r.status).toBe(0);
    expect(r.err.join('\n')).toContain('warning: softdep: arm_smmu_v3 lists io-pgtable-arm (pre:), which is not in the image\n  io-pgtable-arm is left out with --omit\n  softdeps are optional: modprobe loads arm_smmu_v3 without it');
    expect(r.stdout).toContain('left out (--omit): io-pgtable-arm');
    const m = manifest('no-lpae');
    expect(names(m.modules)).not.toContain('io-pgtable-arm');
    expect(read(wd, 'no-lpae', 'modules.alias')).not.toContain('io-pgtable-fmt-ARM_64_LPAE');
    expect(fileLines(wd, 'no-lpae', 'modules.softdep').slice(2)).toEqual(['softdep arm_smmu_v3 pre: io-pgtable-arm']);
    checkKmodFormats('no-lpae');
    const boot = gki(['boot', 'no-lpae'], wd);
    expect(boot.status).toBe(1);
    expect(boot.stdout).toContain('io-pgtable: format ARM_64_LPAE_S1: no module in the image provides io-pgtable-fmt-ARM_64_LPAE_S1 (ENODEV)');
    expect(boot.stdout).toMatch(/dma-test a000000\.dma: failed to allocate default IOMMU domain of type dma: ENODEV/);
    expect(boot.stdout).toContain('ARM_64_LPAE_S1: skipped');
    expect(boot.stdout + boot.stderr).not.toMatch(STACK_LINE);
  });

  it('the same fragment under seed and mainline rules: io-pgtable-arm a module vs built in, and each report shows the other', () => {
    write(wd, 'smmu-m.config', 'CONFIG_ARM_SMMU_V3=m\n');
    const seed = gki(['compose', '--config', 'smmu-m.config', '-o', 'seed-img'], wd);
    const main = gki(['compose', '--config', 'smmu-m.config', '--rules', 'mainline', '-o', 'mainline-img'], wd);
    expect([seed.status, main.status]).toEqual([0, 0]);
    expect(seed.stdout).toContain('mainline rules would resolve this differently:\n  CONFIG_IOMMU_IO_PGTABLE_LPAE: m under seed, y under mainline (io-pgtable-arm: a module -> built into the kernel)\n');
    expect(main.stdout).toContain('seed rules would resolve this differently:\n  CONFIG_IOMMU_IO_PGTABLE_LPAE: y under mainline, m under seed (io-pgtable-arm: built into the kernel -> a module)\n');
    const s = manifest('seed-img');
    const m = manifest('mainline-img');
    expect([s.rules, m.rules]).toEqual(['seed', 'mainline']);
    expect(names(s.modules)).toEqual(['arm_smmu_v3', 'io-pgtable-arm']);
    expect(names(s.builtin)).toEqual(['io-pgtable', 'io-pgtable-arm-v7s']); // v7s=y comes from the GKI base
    expect(names(m.modules)).toEqual(['arm_smmu_v3']);
    expect(names(m.builtin)).toEqual(['io-pgtable', 'io-pgtable-arm-v7s', 'io-pgtable-arm']);
    expect(existsSync(join(wd, 'seed-img/kernel/drivers/iommu/io-pgtable-arm.ko'))).toBe(true);
    expect(existsSync(join(wd, 'mainline-img/kernel/drivers/iommu/io-pgtable-arm.ko'))).toBe(false);
    expect(fileLines(wd, 'seed-img', 'modules.builtin')).toEqual(['kernel/drivers/iommu/io-pgtable-arm-v7s.ko']);
    expect(fileLines(wd, 'mainline-img', 'modules.builtin')).toEqual([]); // bool formats are not would-be modules
    expect(read(wd, 'mainline-img', '.config')).toContain('CONFIG_IOMMU_IO_PGTABLE_LPAE=y\n');
    checkKmodFormats('seed-img');
    checkKmodFormats('mainline-img');
  });

  it('warns Kconfig-style with file:line (unknown symbol, bad value, unmet dependency); --werror makes them fatal', () => {
    write(wd, 'warn.config', ['CONFIG_GKI_DMA_TEST=m', 'CONFIG_ARM_SMMU_V4=m', 'CONFIG_ARM_SMMU_V3=maybe', '# CONFIG_DRM is not set', 'CONFIG_DRM_PANFROST=m', ''].join('\n'));
    const r = gki(['compose', '--config', 'warn.config', '-o', 'warn-img'], wd);
    expect(r.status).toBe(0);
    expect(findings(r.err)).toEqual([
      'warn.config:2: warning: unknown symbol: ARM_SMMU_V4 (did you mean ARM_SMMU_V3?)',
      "warn.config:3: warning: symbol value 'maybe' invalid for ARM_SMMU_V3",
      'warn.config:5: warning: Value requested for CONFIG_DRM_PANFROST not in final .config',
    ]);
    expect(r.err.join('\n')).toContain('  Depends on [n]: DRM [=n] && DRM [=n] && (ARM || ARM64 [=y] || COMPILE_TEST [=n] && !GENERIC_ATOMIC64 [=n]) && MMU [=y]');
    expect(existsSync(join(wd, 'warn-img/manifest.json'))).toBe(true);
    const strict = gki(['compose', '--config', 'warn.config', '--werror', '-o', 'warn-strict'], wd);
    expect(strict.status).toBe(1);
    expect(strict.err).toContain('warn.config:2: error: unknown symbol: ARM_SMMU_V4 (did you mean ARM_SMMU_V3?)');
    expect(strict.err.at(-1)).toBe('gki compose: 3 error(s); nothing written');
    expect(existsSync(join(wd, 'warn-strict'))).toBe(false);
  });

  it('a malformed configuration exits 1 with file:line, writes nothing, and leaves an existing image alone', () => {
    expect(gki(['compose', '-o', 'keep-img'], wd).status).toBe(0);
    const before = read(wd, 'keep-img', 'manifest.json');
    write(wd, 'bad.config', 'CONFIG_ARM_SMMU_V3=m\nARM_SMMU_V3 m\n');
    for (const dir of ['bad-img', 'keep-img']) {
      const r = gki(['compose', '--config', 'bad.config', '-o', dir], wd);
      expect(r.status).toBe(1);
      expect(r.err).toEqual(['bad.config:2: error: unexpected data: ARM_SMMU_V3 m', 'gki compose: 1 error(s); nothing written']);
      expect(r.stdout).toBe('');
    }
    expect(existsSync(join(wd, 'bad-img'))).toBe(false);
    expect(read(wd, 'keep-img', 'manifest.json')).toBe(before);
    // binary garbage as a config
    writeFileSync(join(wd, 'garbage.config'), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2]));
    const g = gki(['compose', '--config', 'garbage.config', '-o', 'g-img'], wd);
    expect(g.status).toBe(1);
    expect(g.err[0]).toBe('garbage.config: error: not a Kconfig file (it contains NUL bytes)');
    expect(g.stderr).not.toMatch(STACK_LINE);
    // binary without a NUL byte: the line is shown with its control characters escaped
    writeFileSync(join(wd, 'ctl.config'), Buffer.from('CONFIG_ARM_SMMU_V3=m\n\x1b[2J\x07junk\n', 'latin1'));
    const c = gki(['compose', '--config', 'ctl.config', '-o', 'c-img'], wd);
    expect(c.status).toBe(1);
    expect(c.err).toEqual(['ctl.config:2: error: unexpected data: \\x1b[2J\\x07junk', 'gki compose: 1 error(s); nothing written']);
  });

  it('usage errors exit 2 and failures 1, each with one clear line and no stack trace', () => {
    mkdirSync(join(wd, 'not-an-image'), { recursive: true });
    writeFileSync(join(wd, 'not-an-image', 'precious.txt'), 'keep me');
    writeFileSync(join(wd, 'a-file'), 'x');
    const cases: [string[], number, string][] = [
      [['compose', '-o', 'x', '--frobnicate'], 2, "gki compose: unknown option '--frobnicate' (see 'gki compose --help')"],
      [['compose'], 2, "gki compose: -o DIR is required (the image directory to write) (see 'gki compose --help')"],
      [['compose', '--rules', 'newest', '-o', 'x'], 2, "gki compose: option '--rules': 'newest' is not one of seed, mainline (see 'gki compose --help')"],
      [['compose', '-o', 'x', 'extra'], 2, "gki compose: unexpected argument 'extra' (see 'gki compose --help')"],
      [['compose', '--config', 'nope.config', '-o', 'x'], 1, 'gki compose: cannot read nope.config: no such file (ENOENT)'],
      [['compose', '--base', '.', '-o', 'x'], 1, 'gki compose: .: is a directory, not a Kconfig file'],
      [['compose', '-o', 'not-an-image'], 1, 'gki compose: refusing to replace not-an-image: it is not empty and holds no gki image (manifest.json)'],
      [['compose', '-o', 'a-file/img'], 1, `gki compose: cannot write a-file/img: ${join(wd, 'a-file')} is not a directory`],
      [['boot', '--dmesg-debug'], 2, "gki boot: unknown option '--dmesg-debug' (see 'gki boot --help')"],
      [['config'], 2, "gki config: which subcommand? default, base, resolve or symbols (see 'gki config --help')"],
      [['frobnicate'], 2, "gki: unknown command 'frobnicate' (see 'gki --help')"],
    ];
    for (const [args, status, line] of cases) {
      const r = gki(args, wd);
      expect({ args, status: r.status, err: r.err }).toEqual({ args, status, err: [line] });
    }
    expect(read(wd, 'not-an-image', 'precious.txt')).toBe('keep me');
    expect(existsSync(join(wd, 'x'))).toBe(false);
  });
});

describe('gki boot DIR refuses a malformed image directory (exit 1, one line)', { timeout: SPAWN_TIMEOUT }, () => {
  it('names the file (and line) at fault', () => {
    expect(gki(['compose', '-o', 'img'], wd).status).toBe(0);
    const copy = (name: string, edit: (dir: string) => void) => {
      cpSync(join(wd, 'img'), join(wd, name), { recursive: true });
      edit(join(wd, name));
      return name;
    };
    expect(gki(['boot', 'img'], wd).status).toBe(0); // the unedited copy boots
    const cases: [string, RegExp][] = [
      ['absent-dir', /^gki boot: absent-dir: no such directory$/],
      [copy('no-manifest', (d) => writeFileSync(join(d, 'manifest.json'), '{ not json')), /^gki boot: no-manifest: manifest.json: not JSON/],
      [copy('bad-dep', (d) => writeFileSync(join(d, 'modules.dep'), 'kernel/drivers/dma/gki_dma_test.ko:\nkernel/drivers/nowhere.ko:\n')), /^gki boot: bad-dep: modules.dep:2: kernel\/drivers\/nowhere\.ko is not a module of the image$/],
      [copy('bad-load', (d) => writeFileSync(join(d, 'modules.load'), 'kernel/drivers/dma/gki_dma_test.ko\nkernel/x.ko\n')), /^gki boot: bad-load: modules.load:2: kernel\/x\.ko is not in modules\.dep$/],
      [
        copy('bad-version', (d) => {
          const m = JSON.parse(readFileSync(join(d, 'manifest.json'), 'utf8'));
          m.modules.find((x: { module: string }) => x.module === 'arm_smmu_v3').version = '99.0.0';
          writeFileSync(join(d, 'manifest.json'), JSON.stringify(m));
        }),
        /^gki boot: bad-version: manifest.json: the image has @gki\/smmu-v3 99\.0\.0; this gki has \S+$/,
      ],
      [copy('bad-ko', (d) => writeFileSync(join(d, 'kernel/drivers/iommu/io-pgtable-arm.ko'), 'name=io-pgtable-arm\npackage=@evil/pkg\nversion=0.1.0\n')), /^gki boot: bad-ko: kernel\/drivers\/iommu\/io-pgtable-arm\.ko: package is '@evil\/pkg', the manifest says '@gki\/format-arm-lpae'$/],
      [copy('bad-softdep', (d) => writeFileSync(join(d, 'modules.softdep'), 'softdep arm_smmu_v3 pre: io-pgtable-arm\n')), /^gki boot: bad-softdep: modules.softdep: missing depmod's header line$/],
      [copy('no-symvers', (d) => rmSync(join(d, 'vmlinux.symvers'))), /^gki boot: no-symvers: vmlinux.symvers is missing$/],
      [copy('bad-order', (d) => writeFileSync(join(d, 'modules.order'), 'kernel/drivers/other.ko\n')), /^gki boot: bad-order: modules.order:1: kernel\/drivers\/other\.ko is not in modules\.dep$/],
    ];
    for (const [dir, re] of cases) {
      const r = gki(['boot', dir], wd);
      expect(r.status, dir).toBe(1);
      expect(r.err.length, dir).toBe(1);
      expect(r.err[0], dir).toMatch(re);
      expect(r.stdout, dir).toBe('');
    }
  });
});

describe('gki config (spawned)', { timeout: SPAWN_TIMEOUT }, () => {
  it('prints the default configuration, the GKI base, and a resolved .config', () => {
    const def = gki(['config', 'default'], wd);
    expect(def.status).toBe(0);
    expect(def.out).toContain('CONFIG_ARM_SMMU_V3=m');
    expect(def.out).toContain('CONFIG_IOMMU_IO_PGTABLE_LPAE=m');
    write(wd, 'default.config', def.stdout);
    const base = gki(['config', 'base'], wd);
    expect(base.out).toContain('CONFIG_IOMMU_IO_PGTABLE_ARMV7S=y');
    expect(base.out).toContain('CONFIG_DRM=y');
    write(wd, 'base.config', base.stdout);
    // the printed default and base compose the same image as the built-in ones
    expect(gki(['compose', '--base', 'base.config', '--config', 'default.config', '-o', 'printed-img'], wd).status).toBe(0);
    expect(gki(['compose', '-o', 'builtin-img'], wd).status).toBe(0);
    for (const f of ['.config', 'modules.dep', 'modules.load', 'modules.softdep', 'modules.alias']) expect(read(wd, 'printed-img', f), f).toBe(read(wd, 'builtin-img', f));
    const res = gki(['config', 'resolve', '--config', 'default.config'], wd);
    expect(res.status).toBe(0);
    expect(res.stdout).toBe(read(wd, 'builtin-img', '.config'));
    // a resolved .config fed back as the configuration gives the same image
    write(wd, 'full.config', res.stdout);
    expect(gki(['compose', '--config', 'full.config', '-o', 'full-img'], wd).status).toBe(0);
    for (const f of ['.config', 'modules.dep', 'modules.load']) expect(read(wd, 'full-img', f), f).toBe(read(wd, 'builtin-img', f));
    const syms = gki(['config', 'symbols'], wd);
    expect(syms.stdout).toMatch(/^CONFIG_IOMMU_IO_PGTABLE_LPAE  tristate "ARMv7\/v8 Long Descriptor Format"  -> io-pgtable-arm \(@gki\/format-arm-lpae \S+\)$/m);
    expect(syms.stdout).toMatch(/^CONFIG_DRM_MSM  tristate "MSM DRM"  -> msm \((@gki\/drm-msm \S+|no package in this build)\)$/m);
  });
});
