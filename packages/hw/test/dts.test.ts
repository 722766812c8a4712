import { describe, expect, it } from 'vitest';
import {
  compileDts,
  compileDtsFile,
  DtsError,
  findNode,
  getProp,
  memoryFileSystem,
  parseDtb,
  parseDts,
  preprocessDts,
  printDts,
  propCells,
  propString,
  propStrings,
  writeDtb,
  type DtsCompileOptions,
  type FdtNode,
  type FdtTree,
} from '@gki/hw';

const V1 = '/dts-v1/;\n';

function tree(src: string, opts: DtsCompileOptions = {}): FdtTree {
  return parseDts(src, opts).tree;
}

function at(t: FdtTree, path: string): FdtNode {
  const n = findNode(t, path);
  if (!n) throw new Error(`no node ${path}`);
  return n;
}

function bytes(t: FdtTree, path: string, prop: string): number[] {
  const p = getProp(at(t, path), prop);
  if (!p) throw new Error(`no ${prop} in ${path}`);
  return [...p.value];
}

function cells(t: FdtTree, path: string, prop: string): number[] {
  return propCells(at(t, path), prop)!;
}

/** The DtsError a compile throws (fails the test when it compiles). */
function dtsError(src: string, opts: DtsCompileOptions = {}): DtsError {
  try {
    parseDts(src, opts);
  } catch (e) {
    expect(e).toBeInstanceOf(DtsError);
    return e as DtsError;
  }
  throw new Error('compiled without error');
}

describe('DTS values', () => {
  it('encodes cells, strings, byte strings, /bits/ and mixed values as dtc does', () => {
    const t = tree(`${V1}/ {
      c = <1 0x10 017 'a' '\\n'>;
      s = "a\\tb", "", "\\x41\\101";
      b = [00 ff] , [0102];
      w = /bits/ 16 <0x1234 (-1)>, /bits/ 8 <0xab>, /bits/ 64 <0x100000002>;
      m = "x", <2>, [03];
      e;
    };`);
    expect(cells(t, '/', 'c')).toEqual([1, 0x10, 0o17, 0x61, 10]);
    expect(bytes(t, '/', 's')).toEqual([0x61, 9, 0x62, 0, 0, 0x41, 0x41, 0]);
    expect(bytes(t, '/', 'b')).toEqual([0, 0xff, 1, 2]);
    expect(bytes(t, '/', 'w')).toEqual([0x12, 0x34, 0xff, 0xff, 0xab, 0, 0, 0, 1, 0, 0, 0, 2]);
    expect(bytes(t, '/', 'm')).toEqual([0x78, 0, 0, 0, 0, 2, 3]);
    expect(bytes(t, '/', 'e')).toEqual([]);
  });

  it('evaluates C expressions in 64-bit unsigned arithmetic and truncates to the cell size', () => {
    const t = tree(`${V1}/ { x = <(1 + 2 * 3) ((7 - 9) >> 60) (~0) (1 << 32) (5 / 2) (5 % 3) (3 > 2 ? 8 : 9) (!0 && 4) (0 || 0) (2 <= 1) (6 & 3 | 8 ^ 1)>; };`);
    expect(cells(t, '/', 'x')).toEqual([7, 15, 0xffffffff, 0, 2, 2, 8, 1, 0, 0, 2 | (8 ^ 1)]);
    const w = parseDts(`${V1}/ { x = /bits/ 8 <0x1ff>; };`);
    expect(bytes(w.tree, '/', 'x')).toEqual([0xff]);
    expect(w.warnings.map((x) => x.message)).toEqual([expect.stringMatching(/0x1ff truncated to 0xff/)]);
  });

  it('needs parentheses around expressions in cells, as dtc does', () => {
    expect(dtsError(`${V1}/ { x = <1 + 2>; };`).reason).toMatch(/expected a number, a '\(' expression/);
    expect(dtsError(`${V1}/ { x = <-1>; };`).reason).toMatch(/needs parentheses/);
  });
});

describe('labels, references and phandles', () => {
  it('allocates phandles in reference order and appends a phandle property', () => {
    const t = tree(`${V1}/ {
      a = <&second &first>;
      first: f { };
      second: s { x = <1>; };
      unused: u { };
    };`);
    expect(cells(t, '/s', 'phandle')).toEqual([1]);
    expect(cells(t, '/f', 'phandle')).toEqual([2]);
    expect(getProp(at(t, '/u'), 'phandle')).toBeUndefined();
    expect(at(t, '/s').props.map((p) => p.name)).toEqual(['x', 'phandle']);
  });

  it('skips explicit phandle values and honours phandle = <&self>', () => {
    const t = tree(`${V1}/ {
      r = <&a &b &c>;
      a: a { phandle = <1>; };
      b: b { };
      c: c { phandle = <&c>; };
    };`);
    expect(cells(t, '/', 'r')).toEqual([1, 2, 3]);
    expect(at(t, '/c').props.map((p) => p.name)).toEqual(['phandle']);
  });

  it('turns &label and &{/path} outside cells into the full path', () => {
    const t = tree(`${V1}/ { p = &n, &{/bus/dev@1}; bus { n: node { }; dev@1 { }; }; };`);
    expect(propStrings(at(t, '/'), 'p')).toEqual(['/bus/node', '/bus/dev@1']);
  });

  it('reports unknown references and duplicate labels with their place', () => {
    const e = dtsError(`${V1}/ {\n  x = <&nope>;\n};`, { filename: 'r.dts' });
    expect([e.file, e.line, e.column]).toEqual(['r.dts', 3, 8]);
    expect(e.reason).toMatch(/non-existent node or label 'nope'/);
    expect(dtsError(`${V1}/ { l: a { }; l: b { }; };`).reason).toMatch(/duplicate label 'l' on \/b and \/a/);
    expect(dtsError(`${V1}/ { }; &missing { };`).reason).toMatch(/label or path 'missing' not found/);
  });
});

describe('overrides and deletions', () => {
  it('merges overrides in place, deletes and revives nodes and properties at their old place', () => {
    const t = tree(`${V1}/ {
      n: node { p1 = <1>; p2 = <2>; a { }; b { }; };
    };
    &n { p1 = <11>; /delete-property/ p2; p3 = <3>; /delete-node/ a; c { }; };
    / { node { p2 = <22>; a { back; }; }; };
    &{/node} { p4; };`);
    expect(at(t, '/node').props.map((p) => p.name)).toEqual(['p1', 'p2', 'p3', 'p4']);
    expect(cells(t, '/node', 'p1')).toEqual([11]);
    expect(cells(t, '/node', 'p2')).toEqual([22]);
    expect(at(t, '/node').children.map((c) => c.name)).toEqual(['a', 'b', 'c']);
    expect(at(t, '/node/a').props.map((p) => p.name)).toEqual(['back']);
  });

  it('deletes nodes by reference and omits unreferenced /omit-if-no-ref/ nodes', () => {
    const t = tree(`${V1}/ {
      x = <&kept>;
      /omit-if-no-ref/ kept: k { };
      /omit-if-no-ref/ gone: g { };
      d: doomed { };
      o: other { };
    };
    /delete-node/ &d;
    /omit-if-no-ref/ &o;`);
    expect(t.root.children.map((c) => c.name)).toEqual(['k']);
  });

  it('drops a name property equal to the node name and rejects a different one', () => {
    expect(at(tree(`${V1}/ { n@1 { name = "n"; x; }; };`), '/n@1').props.map((p) => p.name)).toEqual(['x']);
    expect(dtsError(`${V1}/ { n { name = "m"; }; };`).reason).toMatch(/"name" property/);
  });

  it('rejects what dtc rejects: duplicates, properties after subnodes, bad names', () => {
    expect(dtsError(`${V1}/ { a { }; a { }; };`).reason).toMatch(/duplicate node name 'a'/);
    expect(dtsError(`${V1}/ { p; p; };`).reason).toMatch(/duplicate property 'p'/);
    expect(dtsError(`${V1}/ { a { }; p; };`).reason).toMatch(/properties must precede subnodes/);
    expect(dtsError(`${V1}/ { a@1@2 { }; };`).reason).toMatch(/more than one '@'/);
  });
});

describe('header, reservations and boot CPU', () => {
  it('reads /memreserve/ entries and guesses the boot CPU like dtc', () => {
    const t = tree(`${V1}/memreserve/ 0x1000 0x2000;\nr: /memreserve/ (1 << 33) 4096;\n/ { cpus { cpu@2 { reg = <2>; }; cpu@0 { reg = <0>; }; }; };`);
    expect(t.reservations).toEqual([
      { address: 0x1000, size: 0x2000 },
      { address: 2 ** 33, size: 4096 },
    ]);
    expect(t.bootCpuid).toBe(2);
  });

  it('reads a source without /dts-v1/ (a .dtsi) with a warning, and refuses an overlay compiled as a whole tree clearly', () => {
    const r = parseDts('/ { x = <10>; };\n&{/} { y; };');
    expect(r.warnings.map((w) => w.message)).toEqual([expect.stringMatching(/no '\/dts-v1\/;' header/)]);
    expect(r.tree.root.props.map((p) => p.name)).toEqual(['x', 'y']);
    const e = dtsError(`${V1}/plugin/;\n&foo { };`);
    expect(e.line).toBe(2);
    expect(e.reason).toMatch(/a device-tree overlay, not a whole tree: apply it to the tree it is for/);
  });
});

describe('syntax errors name the file, line and column', () => {
  const cases: [string, number, number, RegExp][] = [
    [`${V1}/ {\n\tx = <1 2;\n};`, 3, 10, /expected a number/],
    [`${V1}/ {\n\tx = "open;\n};`, 3, 6, /unterminated string/],
    [`${V1}/ {\n\tx = <(1 / 0)>;\n};`, 3, 10, /division by zero/],
    [`${V1}/ {\n\tnode {\n\t\tx = <1>\n\t};\n};`, 5, 2, /';' after property 'x'/],
    // a missing ';' before the next property: a syntax error at that property, not a "macro"
    [`${V1}/ {\n\tx = <1>\n\tinterrupt-parent = <1>;\n};`, 4, 2, /^syntax error: expected ';' after property 'x', found 'interrupt'$/],
    [`${V1}/ {\n\tx = <08>;\n};`, 3, 7, /bad integer literal '08'/],
    [`${V1}/ {\n\tx = /bits/ 7 <1>;\n};`, 3, 13, /8, 16, 32 or 64/],
    [`${V1}/ {\n\tx = /bits/ 8 <&r>;\n\tr: r { };\n};`, 3, 16, /32-bit elements/],
    [`${V1}/ {\n\tx = <''>;\n};`, 3, 7, /empty character literal/],
    [`${V1}/ {\n\tx = <1>;`, 3, 10, /end of input/],
    [`${V1}/ { /* never closed`, 2, 5, /unterminated comment/],
  ];
  for (const [src, line, column, re] of cases)
    it(`${re.source} at ${line}:${column}`, () => {
      const e = dtsError(src, { filename: 'e.dts' });
      expect({ file: e.file, line: e.line, column: e.column }).toEqual({ file: 'e.dts', line, column });
      expect(e.reason).toMatch(re);
      expect(e.message.startsWith(`e.dts:${line}:${column}: `)).toBe(true);
    });
});

describe('preprocessor', () => {
  it('expands object-like and function-like macros, # and ##, in names, labels and values', () => {
    const t = tree(
      `${V1}#define BASE 0x1000\n#define NODE(n) node##n\n#define LBL(n) l_##n\n#define S(x) #x\n#define ADD(a, b) ((a) + (b))\n#define TWICE(x) ADD(x, x)\n` +
        `/ { r = <&l_1>; LBL(1): NODE(1)@BASE { reg = <BASE>; v = <TWICE(3) ADD(BASE, 1)>; s = S(a b); }; };`,
    );
    expect(at(t, '/node1@0x1000').props.map((p) => p.name)).toEqual(['reg', 'v', 's', 'phandle']);
    expect(cells(t, '/node1@0x1000', 'v')).toEqual([6, 0x1001]);
    expect(propString(at(t, '/node1@0x1000'), 's')).toBe('a b');
  });

  it('expands variadic macros, standard (__VA_ARGS__) and GNU named (x...), as the Apple t600x trees use them', () => {
    // arch/arm64/boot/dts/apple/multi-die-cpp.h builds labels and node names this way
    const t = tree(
      `${V1}#define __stringify_1(x...) #x\n#define __stringify(x...) __stringify_1(x)\n#define __concat_1(x, y...) x ## y\n#define __concat(x, y...) __concat_1(x, y)\n` +
        `#define DIE _die0\n#define DIE_NODE(a) __concat(a, DIE)\n#define DIE_LABEL(a) __stringify(__concat(a, DIE))\n#define LIST(...) __VA_ARGS__\n` +
        `/ { r = <&pmgr_die0>; DIE_NODE(pmgr): DIE_NODE(pmgr)@1 { l = DIE_LABEL(pmgr); c = LIST(<1>, <2>); s = __stringify(a, b); }; };`,
    );
    expect(propString(at(t, '/pmgr_die0@1'), 'l')).toBe('pmgr_die0');
    expect(propString(at(t, '/pmgr_die0@1'), 's')).toBe('a, b');
    expect(bytes(t, '/pmgr_die0@1', 'c')).toEqual([0, 0, 0, 1, 0, 0, 0, 2]);
    expect(dtsError(`${V1}#define F(x..., y) x\n/ { };`).reason).toMatch(/'x\.\.\.' must end the parameter list of macro "F"/);
  });

  it('evaluates #if/#ifdef/#ifndef/#elif/#else, defined() and #undef', () => {
    const t = tree(
      `${V1}#define A 2\n#if A > 1 && defined(A)\n/ { a; };\n#elif 1\n/ { b; };\n#else\n/ { c; };\n#endif\n#undef A\n#ifdef A\n/ { d; };\n#endif\n#ifndef A\n/ { e; };\n#endif\n#if 0\n#error not reached\n#endif\n`,
    );
    expect(t.root.props.map((p) => p.name)).toEqual(['a', 'e']);
    expect(dtsError(`${V1}#error stop here\n/ { };`).reason).toMatch(/#error stop here/);
    expect(dtsError(`${V1}#if 1\n/ { };`).reason).toMatch(/unterminated #if/);
  });

  it('passes lines starting with # that are not directives through (#address-cells)', () => {
    const t = tree(`${V1}/ {\n#address-cells = <1>;\n  #size-cells = <0>;\n};`);
    expect(t.root.props.map((p) => p.name)).toEqual(['#address-cells', '#size-cells']);
  });

  it('joins backslash-continued lines and keeps error positions in the original lines', () => {
    const e = dtsError(`${V1}#define L (1 + \\\n  2)\n/ {\n  x = <L>;\n  y = <oops>;\n};`, { filename: 'c.dts' });
    expect([e.line, e.column]).toEqual([6, 8]);
  });

  it('ships the GIC, IRQ, GPIO and thermal constants', () => {
    const t = tree(
      `${V1}#include <dt-bindings/interrupt-controller/arm-gic.h>\n#include <dt-bindings/gpio/gpio.h>\n#include <dt-bindings/thermal/thermal.h>\n` +
        `/ { i = <GIC_SPI 3 IRQ_TYPE_LEVEL_HIGH>, <GIC_PPI 9 (GIC_CPU_MASK_SIMPLE(6) | IRQ_TYPE_LEVEL_LOW)>; g = <GPIO_ACTIVE_LOW GPIO_OPEN_DRAIN>; t = <THERMAL_NO_LIMIT>; };`,
    );
    expect(cells(t, '/', 'i')).toEqual([0, 3, 4, 1, 9, 0x3f08]);
    expect(cells(t, '/', 'g')).toEqual([1, 6]);
    expect(cells(t, '/', 't')).toEqual([0xffffffff]);
  });

  it("ships the Tegra 186/194/234 SMMU stream IDs, and counts the rest of those headers' macros as missing", () => {
    const r = parseDts(
      `${V1}#include <dt-bindings/memory/tegra194-mc.h>\n/ {\n\tsmmu: iommu@12000000 { compatible = "nvidia,tegra194-smmu", "nvidia,smmu-500"; #iommu-cells = <1>; };\n` +
        `\tethernet { iommus = <&smmu TEGRA194_SID_EQOS>; interconnects = <&mc TEGRA194_MEMORY_CLIENT_EQOSR &emc>; };\n\tmc: mc { }; emc: emc { };\n};`,
      { filename: 't.dts' },
    );
    expect(cells(r.tree, '/ethernet', 'iommus')).toEqual([1, 0x14]);
    expect(r.missingHeaders).toEqual([{ header: 'dt-bindings/memory/tegra194-mc.h', pos: { file: 't.dts', line: 2, column: 10 }, partial: true }]);
    expect(r.warnings.map((w) => w.message)).toEqual([
      expect.stringMatching(/^'TEGRA194_MEMORY_CLIENT_EQOSR' is not defined \(it probably comes from <dt-bindings\/memory\/tegra194-mc.h> \(included at t.dts:2, shipped in part\)/),
    ]);
  });

  it('ships the Tegra264 SMMU stream IDs (client index << 8, newer than v6.12), so a Tegra264 master compiles without the kernel headers', () => {
    // tegra264.dtsi's HDA: iommus = <&smmu3 TEGRA264_SID_HDA>; the kernel header defines the
    // HDA stream as TEGRA264_SID(0x0a), i.e. 0x0a << 8; its interconnect paths name memory
    // clients, which are not shipped and read 0 with a warning
    const r = parseDts(
      `${V1}#include <dt-bindings/memory/nvidia,tegra264.h>\n/ {\n\tsmmu3: iommu@6000000 { compatible = "nvidia,tegra264-smmu", "arm,smmu-v3"; #iommu-cells = <1>; };\n` +
        `\thda { iommus = <&smmu3 TEGRA264_SID_HDA>; interconnects = <&mc TEGRA264_MEMORY_CLIENT_HDAR &emc>; };\n\tufs { iommus = <&smmu3 TEGRA264_SID_UFS>; };\n\tmc: mc { }; emc: emc { };\n};`,
      { filename: 't.dts' },
    );
    expect(cells(r.tree, '/hda', 'iommus')).toEqual([1, 0xa00]);
    expect(cells(r.tree, '/ufs', 'iommus')).toEqual([1, 0x2a00]);
    expect(r.missingHeaders).toEqual([{ header: 'dt-bindings/memory/nvidia,tegra264.h', pos: { file: 't.dts', line: 2, column: 10 }, partial: true }]);
    expect(r.warnings.map((w) => w.message)).toEqual([expect.stringMatching(/^'TEGRA264_MEMORY_CLIENT_HDAR' is not defined/)]);
  });

  it('tolerates an unknown dt-bindings header; its macros read 0 in properties nothing here reads, with a warning', () => {
    const ok = parseDts(`${V1}#include <dt-bindings/clock/soc-clk.h>\n/ { x = <1>; };`, { filename: 'b.dts' });
    expect(ok.missingHeaders.map((m) => m.header)).toEqual(['dt-bindings/clock/soc-clk.h']);
    expect(ok.warnings[0]!).toMatchObject({ file: 'b.dts', line: 2, message: expect.stringMatching(/not found/) });
    const quoted = parseDts(`${V1}#include "dt-bindings/input/input.h"\n/ { x = <1>; };`, { filename: 'b.dts', fs: memoryFileSystem({}) });
    expect(quoted.missingHeaders.map((m) => m.header)).toEqual(['dt-bindings/input/input.h']);
    // a clock ID and an interconnect path that survived trimming: 0 in their place, one warning per use
    const r = parseDts(
      `${V1}#include <dt-bindings/clock/soc-clk.h>\n#include <dt-bindings/interconnect/soc-noc.h>\n#define PATH(a, b) <&c a 0 &c b 0>\n/ {\n\tclocks = <&c CLK_BUS>, <&c (CLK_BASE + 2)>;\n` +
        `\tinterconnects = PATH(MASTER_GPU, SLAVE_EBI), <&c ICC_TAG(1, 2) 7>;\n\treg = <0x100 0x10>;\n\tc: c { };\n};`,
      { filename: 'b.dts' },
    );
    expect(cells(r.tree, '/', 'clocks')).toEqual([1, 0, 1, 2]);
    expect(cells(r.tree, '/', 'interconnects')).toEqual([1, 0, 0, 1, 0, 0, 1, 0, 7]);
    expect(cells(r.tree, '/', 'reg')).toEqual([0x100, 0x10]);
    const macroWarnings = r.warnings.filter((w) => /is not defined/.test(w.message));
    expect(macroWarnings.map((w) => [w.line, w.column, /^'(\w+)'/.exec(w.message)![1]])).toEqual([
      [6, 15, 'CLK_BUS'],
      [6, 30, 'CLK_BASE'],
      // macro arguments are reported where they were written
      [7, 23, 'MASTER_GPU'],
      [7, 35, 'SLAVE_EBI'],
      [7, 51, 'ICC_TAG'],
    ]);
    expect(macroWarnings[0]!.message).toMatch(
      /'CLK_BUS' is not defined \(it probably comes from <dt-bindings\/clock\/soc-clk.h> \(included at b.dts:2\), <dt-bindings\/interconnect\/soc-noc.h> \(included at b.dts:3\), which was not found\); 'clocks' is not a property this project reads, so CLK_BUS compiles to 0 there/,
    );
    // in a property the project reads, a made-up 0 would describe other hardware: an error
    const soc = (body: string): string =>
      `${V1}#include <dt-bindings/clock/soc-clk.h>\n/ {\n\t#address-cells = <1>;\n\t#size-cells = <1>;\n\tinterrupt-parent = <&gic>;\n` +
      `\tgic: interrupt-controller@1000 { compatible = "arm,gic-400"; interrupt-controller; #interrupt-cells = <3>; reg = <0x1000 0x1000>; };\n` +
      `\tgpio: gpio@2000 { compatible = "vendor,gpio"; interrupt-controller; #interrupt-cells = <2>; reg = <0x2000 0x100>; };\n` +
      `\tsmmu: iommu@3000 { compatible = "arm,mmu-500"; #iommu-cells = <1>; reg = <0x3000 0x10000>; };\n` +
      `\tm4u: iommu@4000 { compatible = "mediatek,mt8183-m4u"; #iommu-cells = <1>; reg = <0x4000 0x1000>; };\n` +
      `\tpower-controller { #address-cells = <1>; #size-cells = <0>; pd@0 { reg = <0>; }; };\n` +
      `\tefuse@5000 { reg = <0x5000 0x100>; #address-cells = <1>; #size-cells = <1>; cell@4 { reg = <4 4>; }; };\n${body}\n};`;
    for (const [prop, body] of [
      ['interrupts', 'dev { interrupts = <0 CLK_BUS 4>; };'],
      ['interrupts-extended', 'dev { interrupts-extended = <&gpio 3 8>, <&gic 0 CLK_BUS 4>; };'],
      ['reg', 'dev@5000 { reg = <CLK_BUS 0x100>; };'],
      ['iommus', 'dev { iommus = <&smmu CLK_BUS>; };'],
      ['#clock-cells', 'dev { #clock-cells = <CLK_BUS>; };'],
      ['gki,stream-id', 'dev { gki,stream-id = <CLK_BUS>; };'],
      ['compatible', 'dev { compatible = CLK_BUS; };'],
    ] as const) {
      const e = dtsError(soc(body), { filename: 'b.dts' });
      expect([e.file, e.line], prop).toEqual(['b.dts', 13]);
      expect(e.reason).toMatch(new RegExp(`'CLK_BUS'.*no macro 'CLK_BUS'.*<dt-bindings/clock/soc-clk.h> \\(included at b.dts:2\\).*'${prop}' is a property this project reads`));
    }
    // ... unless the value cannot matter: an ID-like reg, a controller or IOMMU nothing here decodes
    const fine = parseDts(
      soc(
        'dev { interrupts-extended = <&gpio CLK_BUS 8>; iommus = <&m4u CLK_BUS>, <&smmu 5>; };\n' +
          '\tkey { interrupt-parent = <&gpio>; interrupts = <CLK_BUS 8>; function = LED_FUNCTION_STATUS; };',
      )
        .replace('pd@0 { reg = <0>; }', 'pd@0 { reg = <PD_GPU>; }')
        .replace('cell@4 { reg = <4 4>; }', 'cell@4 { reg = <OTP_PKT(1) 4>; }'),
      { filename: 'b.dts' },
    );
    expect(cells(fine.tree, '/dev', 'interrupts-extended')).toEqual([2, 0, 8]);
    expect(cells(fine.tree, '/dev', 'iommus')).toEqual([3, 0, 4, 5]);
    expect(cells(fine.tree, '/power-controller/pd@0', 'reg')).toEqual([0]);
    expect(bytes(fine.tree, '/key', 'function')).toEqual([0]);
    expect(fine.warnings.filter((w) => /is not defined/.test(w.message)).map((w) => w.message.replace(/^.*which was not found\); /, ''))).toEqual([
      "this 'reg' is an ID, not an address (#size-cells = <0> in /power-controller), so PD_GPU compiles to 0 there",
      "this 'reg' is not a CPU address (/efuse@5000 has no ranges), so OTP_PKT compiles to 0 there",
      'the interrupt controller /gpio@2000 is not one the board decodes, so CLK_BUS compiles to 0 there',
      'the IOMMU /iommu@4000 is not one this project models, so CLK_BUS compiles to 0 there',
      'the interrupt controller /gpio@2000 is not one the board decodes, so CLK_BUS compiles to 0 there',
      `'function' is not a property this project reads, so LED_FUNCTION_STATUS compiles to "" there`,
    ]);
    // outside a property (a /memreserve/ entry) too
    expect(dtsError(`${V1}#include <dt-bindings/clock/soc-clk.h>\n/memreserve/ CLK_BUS 0x1000;\n/ { };`).reason).toMatch(/no macro 'CLK_BUS'/);
    // without a missing header, an unknown macro is a typo: an error wherever it is
    expect(dtsError(`${V1}/ {\n\tclocks = <&c CLK_BUS>;\n\tc: c { };\n};`).reason).toMatch(/no macro 'CLK_BUS' is defined\)$/);
  });

  it('fails on a missing quoted include with the place of the #include', () => {
    const e = dtsError(`${V1}\n#include "soc.dtsi"\n`, { filename: 'board.dts', fs: memoryFileSystem({}) });
    expect([e.file, e.line, e.column]).toEqual(['board.dts', 3, 10]);
    expect(e.reason).toMatch(/soc.dtsi: no such file/);
    // the file's own directory given again with -I (as the CLI does) is listed once
    const again = dtsError(`${V1}#include "soc.dtsi"\n`, { filename: 'b/board.dts', fs: memoryFileSystem({}), includeDirs: ['b', 'inc'] });
    expect(again.reason).toBe('soc.dtsi: no such file (searched: b, inc)');
  });
});

describe('includes', () => {
  const fs = memoryFileSystem({
    'b/board.dts': `${V1}#include "soc.dtsi"\n#include <vendor/regs.h>\n/ { model = "m"; /include/ "frag.dtsi" };\n&uart { status = "okay"; r = <UART_REG>; };`,
    'b/soc.dtsi': `/ { uart: serial@1 { status = "disabled"; }; };`,
    'b/frag.dtsi': `frag = <1>;`,
    'inc/vendor/regs.h': `#define UART_REG 0x1234`,
  });

  it('resolves #include "..." next to the file, <...> in include dirs, and /include/', () => {
    const r = compileDtsFile('b/board.dts', { fs, includeDirs: ['inc'] });
    expect(r.files).toEqual(['b/board.dts', 'b/soc.dtsi', 'inc/vendor/regs.h', 'b/frag.dtsi']);
    expect(propString(at(r.tree, '/serial@1'), 'status')).toBe('okay');
    expect(cells(r.tree, '/serial@1', 'r')).toEqual([0x1234]);
    expect(cells(r.tree, '/', 'frag')).toEqual([1]);
    expect(r.labels).toEqual({ uart: '/serial@1' });
  });

  it('reports errors inside an included file at that file', () => {
    const bad = memoryFileSystem({ 'm.dts': `${V1}#include "x.dtsi"\n`, 'x.dtsi': `/ {\n  p = <1\n};` });
    const e = (() => {
      try {
        compileDtsFile('m.dts', { fs: bad });
      } catch (err) {
        return err as DtsError;
      }
      throw new Error('compiled');
    })();
    expect([e.file, e.line]).toEqual(['x.dtsi', 3]);
  });

  it('refuses an include cycle instead of looping', () => {
    const loop = memoryFileSystem({ 'a.dtsi': '#include "a.dtsi"\n' });
    expect(() => compileDts(`${V1}#include "a.dtsi"\n/ { };`, { fs: loop })).toThrow(/nested too deeply/);
  });

  it('preprocessDts gives the text dtc would be handed', () => {
    const text = new TextDecoder().decode(preprocessDts(`${V1}#define X 7\n/ { x = <X>; };`));
    expect(text).toMatch(/x = <7>;/);
    expect(text).not.toMatch(/#define/);
  });
});

describe('printDts', () => {
  it('prints a tree that compiles back to the same blob, with labels for phandle targets', () => {
    const src = `${V1}/memreserve/ 0x8000000 0x1000;\n/ {
      #address-cells = <2>; #size-cells = <1>;
      interrupt-parent = <&gic>;
      s = "tab\\tquote\\"", "x";
      b = [01 02 03];
      gic: gic@10 { interrupt-controller; #interrupt-cells = <3>; reg = <0 0x10 0x100>, <0 0x200 0x10>; };
      smmu: iommu@20 { #iommu-cells = <1>; reg = <0 0x20 0x10>; };
      dev@30 { reg = <0 0x30 4>; interrupts = <0 1 4>, <0 2 4>; iommus = <&smmu 7>, <&smmu 8>; weird = [ff 00 fe]; };
    };`;
    const r = parseDts(src);
    const text = printDts(r.tree);
    expect(text).toMatch(/iommus = <&iommu 0x7>, <&iommu 0x8>;/);
    expect(text).toMatch(/interrupt-parent = <&gic>;/);
    expect(text).toMatch(/reg = <0x0 0x10 0x100>, <0x0 0x200 0x10>;/);
    expect(text).toMatch(/s = "tab\\tquote\\"", "x";/);
    expect(compileDts(text)).toEqual(r.dtb);
    // a blob round trip prints the same text
    expect(printDts(parseDtb(writeDtb(r.tree)))).toBe(text);
  });
});
