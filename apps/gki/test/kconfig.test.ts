import { describe, expect, it } from 'vitest';
import { GKI_BASE_CONFIG } from '../src/config/gki-base.js';
import { foldUnknownSymbols, formatDiagnostic, type Diagnostic } from '../src/kconfig/diagnostics.js';
import { evalExpr, exprSymbols, parseExpr, printExpr, type Tristate } from '../src/kconfig/expr.js';
import { mergeConfigs, parseConfigText } from '../src/kconfig/parse.js';
import { resolveConfig } from '../src/kconfig/resolve.js';
import { FOREIGN_SYMBOLS, kconfigRules, type KconfigRules, type KconfigRulesName, type KconfigSymbol } from '../src/kconfig/symbols.js';
import { writeDotConfig } from '../src/kconfig/write.js';

/** Resolves the GKI base plus `fragment` under `rules`; diagnostics formatted. */
function resolve(fragment: string, rules: KconfigRulesName = 'seed', base = GKI_BASE_CONFIG) {
  const frag = parseConfigText(fragment, 'frag.config');
  const merged = mergeConfigs(parseConfigText(base, 'base.config'), [frag]);
  const r = resolveConfig(kconfigRules(rules), merged.assignments);
  // the merge notices (a fragment redefining a base value) are left out: they are not warnings
  const diagnostics = [...frag.diagnostics, ...r.diagnostics];
  return { config: r.config, diagnostics, text: diagnostics.map(formatDiagnostic), value: (s: string) => r.config.get(s).value };
}

describe('Kconfig expressions', () => {
  const vals: Record<string, Tristate> = { A: 2, B: 1, C: 0 };
  const v = (n: string) => vals[n] ?? 0;
  it('evaluates with tristate logic: && is min, || is max, ! is 2-x, = compares', () => {
    expect(evalExpr(parseExpr('A && B'), v)).toBe(1);
    expect(evalExpr(parseExpr('B || C'), v)).toBe(1);
    expect(evalExpr(parseExpr('!B'), v)).toBe(1);
    expect(evalExpr(parseExpr('!A || C'), v)).toBe(0);
    expect(evalExpr(parseExpr('B=y'), v)).toBe(0);
    expect(evalExpr(parseExpr('B=m'), v)).toBe(2);
    expect(evalExpr(parseExpr('C!=n'), v)).toBe(0);
    expect(evalExpr(parseExpr('(A || C) && !C'), v)).toBe(2);
    expect(evalExpr(parseExpr('QCOM_AOSS_QMP || QCOM_AOSS_QMP=n'), v)).toBe(2); // unknown symbol: n
  });
  it('prints like Kconfig diagnostics, with values and parentheses where needed', () => {
    const show = (n: string) => (n === 'ARM' ? undefined : { A: 'y', B: 'm', C: 'n' }[n] ?? 'n');
    expect(printExpr(parseExpr('A && (ARM || B) && !C'), show)).toBe('A [=y] && (ARM || B [=m]) && !C [=n]');
    expect(printExpr(parseExpr('B=y && A'), show)).toBe('B [=m]=y && A [=y]');
    expect(exprSymbols(parseExpr('A && (B || !C=y)'))).toEqual(['A', 'B', 'C']);
  });
  it('rejects malformed expressions', () => {
    expect(() => parseExpr('A &&')).toThrow(/unexpected end/);
    expect(() => parseExpr('A B')).toThrow(/unexpected 'B'/);
    expect(() => parseExpr('(A')).toThrow(/missing '\)'/);
  });
});

describe('the symbol data', () => {
  for (const name of ['seed', 'mainline'] as const) {
    it(`${name}: every symbol an expression or select mentions is defined (or a foreign arch symbol)`, () => {
      const rules = kconfigRules(name);
      for (const s of rules.symbols) {
        const exprs = [s.depends, s.promptIf, ...(s.parents ?? []), ...(s.selects ?? []).map((x) => x.if), ...(s.defaults ?? []).map((d) => d.if)];
        if (s.type === 'bool' || s.type === 'tristate') exprs.push(...(s.defaults ?? []).map((d) => d.value));
        for (const e of exprs.filter((x): x is string => !!x)) {
          for (const n of exprSymbols(parseExpr(e))) expect(rules.byName.has(n) || FOREIGN_SYMBOLS.includes(n), `${s.name}: ${n}`).toBe(true);
        }
        for (const sel of s.selects ?? []) expect(rules.byName.has(sel.symbol), `${s.name} selects ${sel.symbol}`).toBe(true);
      }
    });
  }
  it('differs between the rule sets only where the seed series changed Kconfig', () => {
    const seed = kconfigRules('seed');
    const main = kconfigRules('mainline');
    const changed = seed.symbols.filter((s) => JSON.stringify(s) !== JSON.stringify(main.byName.get(s.name))).map((s) => s.name);
    expect(changed).toEqual(['IOMMU_IO_PGTABLE', 'IOMMU_IO_PGTABLE_LPAE', 'IOMMU_IO_PGTABLE_ARMV7S', 'QCOM_IOMMU']);
    // Linux v6.12 declares QCOM_IOMMU bool; the seed rules build it as a module like arm_smmu
    expect([main.byName.get('QCOM_IOMMU')!.type, seed.byName.get('QCOM_IOMMU')!.type]).toEqual(['bool', 'tristate']);
    expect(seed.byName.get('IOMMU_IO_PGTABLE_LPAE')!.type).toBe('tristate');
    expect(main.byName.get('IOMMU_IO_PGTABLE_LPAE')!.type).toBe('bool');
    expect(main.byName.get('IOMMU_IO_PGTABLE')!.prompt).toBeUndefined();
  });
});

describe('tristate resolution with the kernel rules', () => {
  it('resolves the GKI base as GKI does: core on, v7s built in, no SMMU or GPU driver', () => {
    const r = resolve('');
    expect(r.diagnostics).toEqual([]);
    for (const [s, v] of Object.entries({
      ARM64: 'y', OF: 'y', COMMON_CLK: 'y', PM: 'y', MODULES: 'y', IOMMU_SUPPORT: 'y', IOMMU_API: 'y', IOMMU_DMA: 'y', OF_IOMMU: 'y',
      IOMMU_IO_PGTABLE: 'y', IOMMU_IO_PGTABLE_ARMV7S: 'y', IOMMU_IO_PGTABLE_LPAE: 'n', ARM_SMMU: 'n', ARM_SMMU_V3: 'n', ARM_SMMU_QCOM: 'n',
      DRM: 'y', DRM_MSM: 'n', DRM_PANFROST: 'n', QCOM_SCM: 'n', MODPROBE_PATH: '/system/bin/modprobe', NR_CPUS: '32',
    })) expect(r.value(s), s).toBe(v);
  });

  it('a select from m gives at least m: ARM_SMMU_V3=m makes the tristate LPAE format m (seed)', () => {
    const r = resolve('CONFIG_ARM_SMMU_V3=m\n');
    expect(r.value('IOMMU_IO_PGTABLE_LPAE')).toBe('m');
    expect(r.config.get('IOMMU_IO_PGTABLE_LPAE').origin).toBe('select');
    expect(r.config.get('IOMMU_IO_PGTABLE_LPAE').selectedBy).toEqual(['ARM_SMMU_V3']);
    expect(r.value('GENERIC_MSI_IRQ')).toBe('y'); // a bool selected from m
    expect(r.diagnostics).toEqual([]);
  });

  it('a bool selected from m becomes y: the same fragment builds LPAE into the kernel (mainline)', () => {
    const r = resolve('CONFIG_ARM_SMMU_V3=m\n', 'mainline');
    expect(r.value('IOMMU_IO_PGTABLE_LPAE')).toBe('y');
    expect(r.value('ARM_SMMU_V3')).toBe('m');
  });

  it('a select from y gives y, overriding a requested m, and says so with the selector', () => {
    const r = resolve('CONFIG_ARM_SMMU_V3=y\nCONFIG_IOMMU_IO_PGTABLE_LPAE=m\nCONFIG_IOMMU_IO_PGTABLE_ARMV7S=m\n');
    expect(r.value('IOMMU_IO_PGTABLE_LPAE')).toBe('y');
    expect(r.value('IOMMU_IO_PGTABLE_ARMV7S')).toBe('m'); // nothing selects v7s
    expect(r.text).toEqual([
      [
        'frag.config:2: warning: Value requested for CONFIG_IOMMU_IO_PGTABLE_LPAE not in final .config',
        '  Requested value:  CONFIG_IOMMU_IO_PGTABLE_LPAE=m',
        '  Actual value:     CONFIG_IOMMU_IO_PGTABLE_LPAE=y',
        '  Selected by [y]:',
        '  - ARM_SMMU_V3 [=y]',
      ].join('\n'),
    ]);
  });

  it('a tristate dependency at m caps a symbol at m', () => {
    const r = resolve('CONFIG_DRM=m\nCONFIG_DRM_PANFROST=y\n');
    expect(r.value('DRM_PANFROST')).toBe('m');
    expect(r.value('DRM_SCHED')).toBe('m'); // selected from m
    expect(r.value('IOMMU_IO_PGTABLE_LPAE')).toBe('m');
    expect(r.text[0]).toBe(
      [
        'frag.config:2: warning: Value requested for CONFIG_DRM_PANFROST not in final .config',
        '  Requested value:  CONFIG_DRM_PANFROST=y',
        '  Actual value:     CONFIG_DRM_PANFROST=m',
        '  Depends on [m]: DRM [=m] && DRM [=m] && (ARM || ARM64 [=y] || COMPILE_TEST [=n] && !GENERIC_ATOMIC64 [=n]) && MMU [=y]',
      ].join('\n'),
    );
  });

  it("def_tristate y follows its if-block parent: ARM_SMMU_QCOM is m under ARM_SMMU=m, y under y, n without ARCH_QCOM", () => {
    expect(resolve('CONFIG_ARM_SMMU=m\n').value('ARM_SMMU_QCOM')).toBe('m');
    expect(resolve('CONFIG_ARM_SMMU=m\n').value('QCOM_SCM')).toBe('m');
    expect(resolve('CONFIG_ARM_SMMU=y\n').value('ARM_SMMU_QCOM')).toBe('y');
    expect(resolve('CONFIG_ARM_SMMU=y\n# CONFIG_ARCH_QCOM is not set\n').value('ARM_SMMU_QCOM')).toBe('n');
  });

  it('ARM_SMMU_LEGACY_DT_BINDINGS needs ARM_SMMU=y: asking for it with ARM_SMMU=m warns with the dependency', () => {
    const r = resolve('CONFIG_ARM_SMMU=m\nCONFIG_ARM_SMMU_LEGACY_DT_BINDINGS=y\n');
    expect(r.value('ARM_SMMU_LEGACY_DT_BINDINGS')).toBe('n');
    expect(r.text).toEqual([
      [
        'frag.config:2: warning: Value requested for CONFIG_ARM_SMMU_LEGACY_DT_BINDINGS not in final .config',
        '  Requested value:  CONFIG_ARM_SMMU_LEGACY_DT_BINDINGS=y',
        '  Actual value:     # CONFIG_ARM_SMMU_LEGACY_DT_BINDINGS is not set',
        '  Depends on [n]: IOMMU_SUPPORT [=y] && ARM_SMMU [=m] && ARM_SMMU [=m]=y && OF [=y]',
      ].join('\n'),
    ]);
    expect(resolve('CONFIG_ARM_SMMU=y\nCONFIG_ARM_SMMU_LEGACY_DT_BINDINGS=y\n').value('ARM_SMMU_LEGACY_DT_BINDINGS')).toBe('y');
  });

  it('a bool under an m parent can still be y (its visibility is promoted), and "if EXPERT" gates its prompt', () => {
    expect(resolve('CONFIG_ARM_SMMU=m\n').value('ARM_SMMU_DISABLE_BYPASS_BY_DEFAULT')).toBe('y'); // default y under m
    expect(resolve('CONFIG_ARM_SMMU=m\n# CONFIG_ARM_SMMU_DISABLE_BYPASS_BY_DEFAULT is not set\n').value('ARM_SMMU_DISABLE_BYPASS_BY_DEFAULT')).toBe('n');
    const r = resolve('# CONFIG_EXPERT is not set\nCONFIG_ARM_SMMU=m\n# CONFIG_ARM_SMMU_DISABLE_BYPASS_BY_DEFAULT is not set\n');
    expect(r.value('ARM_SMMU_DISABLE_BYPASS_BY_DEFAULT')).toBe('y');
    expect(r.text[0]).toContain('Its prompt needs: EXPERT [=n]');
  });

  it("with CONFIG_MODULES off every m becomes y", () => {
    const r = resolve('# CONFIG_MODULES is not set\nCONFIG_ARM_SMMU_V3=m\nCONFIG_IOMMU_IO_PGTABLE_ARMV7S=m\n');
    expect(r.value('ARM_SMMU_V3')).toBe('y');
    expect(r.value('IOMMU_IO_PGTABLE_LPAE')).toBe('y');
    expect(r.value('IOMMU_IO_PGTABLE_ARMV7S')).toBe('y');
    expect(r.config.get('MODPROBE_PATH').origin).toBe('none'); // its dependency is gone
    expect(r.text.join('\n')).toContain("CONFIG_MODULES is not set: 'm' counts as 'y'");
  });

  it('an assignment to a promptless symbol is not applied, and the warning says why', () => {
    const r = resolve('# CONFIG_IOMMU_API is not set\n');
    expect(r.value('IOMMU_API')).toBe('y');
    expect(r.text[0]).toContain('CONFIG_IOMMU_API has no prompt: only its defaults and selects set it');
    expect(r.text[0]).toMatch(/^frag\.config:1: warning: Value requested for CONFIG_IOMMU_API not in final \.config/);
  });

  it('an unmet dependency of a driver: ARM_SMMU_V3 without IOMMU_SUPPORT stays n', () => {
    const r = resolve('# CONFIG_IOMMU_SUPPORT is not set\nCONFIG_ARM_SMMU_V3=m\n');
    expect(r.value('ARM_SMMU_V3')).toBe('n');
    expect(r.text.join('\n')).toContain('frag.config:2: warning: Value requested for CONFIG_ARM_SMMU_V3 not in final .config');
    expect(r.text.join('\n')).toContain('Depends on [n]: IOMMU_SUPPORT [=n] && ARM64 [=y]');
  });
});

describe('config input: values, unknown symbols, malformed lines', () => {
  it('warns about unknown symbols with file and line, suggesting a close name', () => {
    const r = resolve('CONFIG_ARM_SMMU_V4=m\nCONFIG_ARM=y\nCONFIG_TOTALLY_UNRELATED_OPTION=y\n');
    expect(r.text).toEqual([
      'frag.config:1: warning: unknown symbol: ARM_SMMU_V4 (did you mean ARM_SMMU_V3?)',
      'frag.config:2: warning: unknown symbol: ARM (not an arm64 symbol)',
      'frag.config:3: warning: unknown symbol: TOTALLY_UNRELATED_OPTION',
    ]);
  });

  it('folds the plain unknown symbols of a full kernel .config past the first ten into one warning, keeping likely typos', () => {
    const lines = Array.from({ length: 3000 }, (_, i) => `CONFIG_VENDOR_DRIVER_${i + 1}=y`);
    const r = resolveConfig(kconfigRules('seed'), parseConfigText([...lines, 'CONFIG_ARM_SMMU_V4=m', ''].join('\n'), 'full.config').assignments);
    expect(r.diagnostics).toHaveLength(3001); // every line is still a warning (--werror counts them all)
    const shown = foldUnknownSymbols(r.diagnostics).map(formatDiagnostic);
    expect(shown.slice(0, 10)).toEqual(lines.slice(0, 10).map((l, i) => `full.config:${i + 1}: warning: unknown symbol: ${l.slice(7, -2)}`));
    expect(shown.slice(10)).toEqual([
      'full.config:3001: warning: unknown symbol: ARM_SMMU_V4 (did you mean ARM_SMMU_V3?)',
      'full.config: warning: 2990 more unknown symbol(s) not listed one by one: VENDOR_DRIVER_11, VENDOR_DRIVER_12, VENDOR_DRIVER_13, VENDOR_DRIVER_14, VENDOR_DRIVER_15, ...\n' +
        '  the model knows only the symbols of the IOMMU and GPU stack (gki config symbols); the lines are ignored',
    ]);
    // a fragment with a few unknown symbols prints them all
    const few = resolveConfig(kconfigRules('seed'), parseConfigText(lines.slice(0, 10).join('\n'), 'f').assignments).diagnostics;
    expect(foldUnknownSymbols(few)).toEqual(few);
  });

  it('warns about values the type rejects and ignores the line', () => {
    const r = resolve('CONFIG_IOMMU_IO_PGTABLE_LPAE=m\nCONFIG_ARM_SMMU_V3=yes\nCONFIG_MODPROBE_PATH=/bin/modprobe\nCONFIG_NR_CPUS=lots\nCONFIG_NR_CPUS=9000\n', 'mainline');
    expect(r.text).toEqual([
      'frag.config:5: warning: override: reassigning to symbol NR_CPUS\n  (set at line 4 before)',
      "frag.config:1: warning: symbol value 'm' invalid for IOMMU_IO_PGTABLE_LPAE\n  IOMMU_IO_PGTABLE_LPAE is a bool under the mainline rules: y or n (it cannot be a module)",
      "frag.config:2: warning: symbol value 'yes' invalid for ARM_SMMU_V3\n  ARM_SMMU_V3 is a tristate: y, m or n",
      "frag.config:3: warning: symbol value '/bin/modprobe' invalid for MODPROBE_PATH\n  MODPROBE_PATH is a string, written in double quotes",
      // out of range: Kconfig clamps it, and merge_config's check reports the difference
      'frag.config:5: warning: Value requested for CONFIG_NR_CPUS not in final .config\n  Requested value:  CONFIG_NR_CPUS=9000\n  Actual value:     CONFIG_NR_CPUS=4096\n  NR_CPUS is limited to the range 2..4096',
    ]);
    // the rejected lines are ignored; having replaced the base's lines in the merge, the
    // symbols fall back to their Kconfig defaults (as merge_config.sh and olddefconfig do)
    expect(r.value('IOMMU_IO_PGTABLE_LPAE')).toBe('n');
    expect(r.value('MODPROBE_PATH')).toBe('/sbin/modprobe');
    expect(r.value('NR_CPUS')).toBe('4096');
  });

  it('reads strings with escapes and reports a malformed line as an error', () => {
    expect(resolve('CONFIG_MODPROBE_PATH="/a \\"b\\" \\\\c"\n').value('MODPROBE_PATH')).toBe('/a "b" \\c');
    const p = parseConfigText('CONFIG_ARM_SMMU_V3=m\nARM_SMMU=m\nCONFIG_DRM y\n', 'bad.config');
    expect(p.diagnostics.map(formatDiagnostic)).toEqual([
      'bad.config:2: error: unexpected data: ARM_SMMU=m (symbols are written CONFIG_NAME=VALUE)',
      'bad.config:3: error: unexpected data: CONFIG_DRM y',
    ]);
    expect(parseConfigText('\0\x01binary', 'x.bin').diagnostics[0]!.message).toContain('NUL bytes');
  });

  it("merges like merge_config.sh: a later file's value wins, with a notice naming both values", () => {
    const m = mergeConfigs(parseConfigText('CONFIG_A=y\nCONFIG_B=y\n', 'base'), [parseConfigText('CONFIG_B=m\nCONFIG_A=y\n', 'frag')]);
    expect(m.assignments.map((a) => `${a.symbol}=${a.raw}@${a.file}:${a.line}`)).toEqual(['A=y@frag:2', 'B=m@frag:1']);
    expect(m.diagnostics.map(formatDiagnostic)).toEqual([
      'frag:1: Value of CONFIG_B is redefined by fragment frag:\n  Previous value: CONFIG_B=y (base:2)\n  New value: CONFIG_B=m',
    ]);
  });
});

describe('a select that overrides a depends on', () => {
  // The kernel's own symbols here never do this on arm64, so a small rule set shows it.
  const syms: KconfigSymbol[] = [
    { name: 'BUS', type: 'bool', prompt: 'bus', menu: '', source: 't', help: '', modelled: true },
    { name: 'LIB', type: 'tristate', prompt: 'lib', depends: 'BUS', menu: '', source: 't', help: '', modelled: true },
    { name: 'DRV', type: 'tristate', prompt: 'drv', selects: [{ symbol: 'LIB' }], menu: '', source: 't', help: '', modelled: true },
  ];
  const rules: KconfigRules = { name: 'seed', symbols: syms, byName: new Map(syms.map((s) => [s.name, s])) };
  it("forces the symbol anyway and prints Kconfig's unmet-dependency warning at the selector's line", () => {
    const p = parseConfigText('# CONFIG_BUS is not set\nCONFIG_DRV=m\n', 'f');
    const r = resolveConfig(rules, p.assignments);
    expect(r.config.get('LIB').value).toBe('m');
    expect(r.diagnostics.map((d: Diagnostic) => formatDiagnostic(d))).toEqual([
      ['f:2: warning: WARNING: unmet direct dependencies detected for LIB', '  Depends on [n]: BUS [=n]', '  Selected by [m]:', '  - DRV [=m]'].join('\n'),
    ]);
  });
});

describe('the resolved .config', () => {
  it('lists every bool/tristate symbol in menu sections and reads back to the same configuration', () => {
    const r = resolve('CONFIG_ARM_SMMU_V3=m\nCONFIG_ARM_SMMU=y\nCONFIG_MODPROBE_PATH="/x \\"q\\""\n');
    const text = writeDotConfig(r.config);
    for (const s of kconfigRules('seed').symbols) {
      if (s.type === 'bool' || s.type === 'tristate') expect(text).toMatch(new RegExp(`^(CONFIG_${s.name}=[ym]|# CONFIG_${s.name} is not set)$`, 'm'));
    }
    expect(text).toContain('\n#\n# Generic IOMMU Pagetable Support\n#\nCONFIG_IOMMU_IO_PGTABLE=y\nCONFIG_IOMMU_IO_PGTABLE_LPAE=y\nCONFIG_IOMMU_IO_PGTABLE_ARMV7S=y\n# end of Generic IOMMU Pagetable Support\n');
    expect(text).toContain('CONFIG_MODPROBE_PATH="/x \\"q\\""\n');
    const back = resolveConfig(kconfigRules('seed'), parseConfigText(text, '.config').assignments);
    expect(back.diagnostics).toEqual([]);
    expect([...back.config.symbols.values()].map((s) => s.value)).toEqual([...r.config.symbols.values()].map((s) => s.value));
  });
});
