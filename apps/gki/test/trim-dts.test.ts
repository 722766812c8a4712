/**
 * scripts/trim-dts.mjs, the script that makes the trimmed kernel trees: with
 * --only-clocks-and-power it removes clocks, clock-names, assigned-clock*, power-domains and
 * power-domain-names and nothing else, so the trimmed source compiles to the original tree
 * minus exactly those properties; by default it also drops pinctrl states, regulators, OPP
 * tables and the properties that pointed at them.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compileDtsFile, findNode, type FdtNode } from '@gki/hw';

const script = join(dirname(new URL(import.meta.url).pathname), '..', '..', '..', 'scripts', 'trim-dts.mjs');
const work = mkdtempSync(join(tmpdir(), 'gki-trim-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const SOC = `// SPDX-License-Identifier: MIT
#include <dt-bindings/interrupt-controller/arm-gic.h>
/ {
	#address-cells = <1>;
	#size-cells = <1>;

	xo: clock-xo {
		compatible = "fixed-clock";
		#clock-cells = <0>;
		clock-frequency = <19200000>;
	};

	gpu_opp: opp-table {
		compatible = "operating-points-v2";
		opp-200000000 { opp-hz = /bits/ 64 <200000000>; };
	};

	soc {
		compatible = "simple-bus";
		#address-cells = <1>;
		#size-cells = <1>;
		ranges;

		gcc: clock-controller@100000 {
			compatible = "x,gcc";
			reg = <0x100000 0x1000>;
			#clock-cells = <1>;
			#power-domain-cells = <1>;
			clocks = <&xo>;
			clock-names = "xo";
			assigned-clocks = <&xo>;
			assigned-clock-rates = <19200000>;
		};

		tlmm: pinctrl@200000 {
			compatible = "x,tlmm";
			reg = <0x200000 0x1000>;
			gpu_default: gpu-default-state { pins = "gpio1"; function = "gpu"; };
		};

		gpu: gpu@300000 {
			compatible = "arm,mali-t860";
			reg = <0x300000 0x1000>;
			clocks = <&gcc 1>, <&gcc 2>;
			clock-names = "core", "bus";
			power-domains = <&gcc 0>;
			power-domain-names = "gx";
			pinctrl-names = "default";
			pinctrl-0 = <&gpu_default>;
			operating-points-v2 = <&gpu_opp>;
			mali-supply = <&vdd_gpu>;
		};
	};

	vdd_gpu: regulator-gpu {
		compatible = "regulator-fixed";
		regulator-name = "vdd_gpu";
	};
};
`;

const BOARD = `// SPDX-License-Identifier: MIT
/dts-v1/;
#include "soc.dtsi"
/ {
	model = "trim test";
	compatible = "x,board";
};

&gpu {
	status = "okay";
	assigned-clocks = <&gcc 1>;
	assigned-clock-parents = <&xo>;
};
`;

function trim(out: string, ...args: string[]): { status: number | null; stderr: string } {
  const src = join(work, 'src');
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, 'board.dts'), BOARD);
  writeFileSync(join(src, 'soc.dtsi'), SOC);
  const r = spawnSync(process.execPath, [script, ...args, '--origin', 'a test', '--out', out, join(src, 'board.dts'), join(src, 'soc.dtsi')], { encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr };
}

/** Properties of this test's tree whose first cell is a phandle. */
const PHANDLE_PROPS = new Set(['pinctrl-0', 'operating-points-v2', 'mali-supply', 'clocks', 'power-domains', 'assigned-clocks', 'assigned-clock-parents']);

/**
 * Every property of the tree as "path:name=value", phandles given as the path of the node they
 * name (numbers change when references go), `phandle` properties left out; `drop` filters names.
 */
function flatten(root: FdtNode, drop: (name: string) => boolean = () => false): string[] {
  const byPhandle = new Map<number, string>();
  const walk = (n: FdtNode, path: string, f: (n: FdtNode, path: string) => void): void => {
    f(n, path);
    for (const c of n.children) walk(c, `${path === '/' ? '' : path}/${c.name}`, f);
  };
  const u32 = (v: Uint8Array, off = 0) => ((v[off]! << 24) | (v[off + 1]! << 16) | (v[off + 2]! << 8) | v[off + 3]!) >>> 0;
  walk(root, '/', (n, path) => {
    const ph = n.props.find((p) => p.name === 'phandle');
    if (ph) byPhandle.set(u32(ph.value), path);
  });
  const out: string[] = [];
  walk(root, '/', (n, path) => {
    for (const p of n.props) {
      if (p.name === 'phandle' || drop(p.name)) continue;
      const value = PHANDLE_PROPS.has(p.name) ? `&${byPhandle.get(u32(p.value))} ${[...p.value.slice(4)].join(',')}` : [...p.value].join(',');
      out.push(`${path}:${p.name}=${value}`);
    }
  });
  return out;
}

const LIGHT = (name: string) => ['clocks', 'clock-names', 'power-domains', 'power-domain-names'].includes(name) || name.startsWith('assigned-clock');

describe('trim-dts.mjs', () => {
  it('--only-clocks-and-power removes those properties and nothing else', () => {
    const out = join(work, 'light');
    expect(trim(out, '--only-clocks-and-power')).toMatchObject({ status: 0 });
    const original = compileDtsFile(join(work, 'src', 'board.dts')).tree;
    const trimmed = compileDtsFile(join(out, 'board.dts')).tree;
    expect(flatten(trimmed.root)).toEqual(flatten(original.root, LIGHT));
    // what it removed was really there, and the rest (pinctrl, OPP, regulators) stays
    expect(findNode(original, '/soc/gpu@300000')!.props.map((p) => p.name)).toEqual(expect.arrayContaining(['clocks', 'power-domains', 'assigned-clocks']));
    expect(findNode(trimmed, '/soc/gpu@300000')!.props.map((p) => p.name)).toEqual(
      expect.arrayContaining(['pinctrl-0', 'operating-points-v2', 'mali-supply', 'status']),
    );
    for (const path of ['/opp-table', '/regulator-gpu', '/soc/pinctrl@200000/gpu-default-state']) expect(findNode(trimmed, path), path).toBeDefined();
    // the SPDX line stays first, the note says what was done
    const text = readFileSync(join(out, 'soc.dtsi'), 'utf8');
    expect(text.split('\n')[0]).toBe('// SPDX-License-Identifier: MIT');
    expect(text).toMatch(/--only-clocks-and-power\) from a test's\n \* .*soc.dtsi: only clocks, clock-names, assigned-clock\*, power-domains and\n \* power-domain-names removed/);
  });

  it('by default also drops pinctrl states, OPP tables, regulators and what points at them', () => {
    const out = join(work, 'heavy');
    expect(trim(out)).toMatchObject({ status: 0 });
    const trimmed = compileDtsFile(join(out, 'board.dts')).tree;
    for (const path of ['/opp-table', '/regulator-gpu', '/soc/pinctrl@200000/gpu-default-state']) expect(findNode(trimmed, path), path).toBeUndefined();
    expect(findNode(trimmed, '/soc/gpu@300000')!.props.map((p) => p.name)).toEqual(['compatible', 'reg', 'status']);
  });

  it('--exclude drops a PMIC include, "file" or <prefix/file>, with the overrides of its nodes and the labels those overrides define', () => {
    // the shape of qrb4210-rb2.dts (pmi632_ss_in, defined inside an override of a pmi632 node,
    // referenced by a kept SoC node) and mt8192-asurada.dtsi (<arm/cros-ec-keyboard.dtsi>)
    const src = join(work, 'excl');
    mkdirSync(join(src, 'arm'), { recursive: true });
    writeFileSync(join(src, 'pmic.dtsi'), `/ { pmic { pmic_typec: typec { compatible = "x,typec"; }; }; };\n`);
    writeFileSync(join(src, 'arm', 'keyboard.dtsi'), `/ { kbd: keyboard { compatible = "x,kbd"; }; };\n`);
    writeFileSync(
      join(src, 'board.dts'),
      `// SPDX-License-Identifier: MIT
/dts-v1/;
#include "pmic.dtsi"
#include <arm/keyboard.dtsi>
/ {
	model = "exclude test";
	usb: usb@1000 {
		compatible = "x,usb";
		reg = <0x1000 0x100>;
		port { usb_ss_out: endpoint { remote-endpoint = <&pmic_ss_in>; }; };
	};
};

&pmic_typec {
	status = "okay";
	connector { port { pmic_ss_in: endpoint { remote-endpoint = <&usb_ss_out>; }; }; };
};

&kbd {
	status = "okay";
};
`,
    );
    const out = join(work, 'excl-out');
    const r = spawnSync(
      process.execPath,
      [script, '--exclude', join(src, 'pmic.dtsi'), '--exclude', join(src, 'arm', 'keyboard.dtsi'), '--origin', 'a test', '--out', out, join(src, 'board.dts')],
      { encoding: 'utf8' },
    );
    expect(r.status, r.stderr).toBe(0);
    const text = readFileSync(join(out, 'board.dts'), 'utf8');
    expect(text).not.toMatch(/#include|pmic_ss_in|&pmic_typec|&kbd/);
    expect(text).toMatch(/Includes left out: pmic\.dtsi, keyboard\.dtsi\./);
    // it compiles on its own, the SoC node kept with what did not point into the PMIC
    const t = compileDtsFile(join(out, 'board.dts')).tree;
    expect(findNode(t, '/usb@1000')!.props.map((p) => p.name)).toEqual(['compatible', 'reg']);
    expect(findNode(t, '/usb@1000/port/endpoint')).toBeDefined();
  });

  it('refuses node options with --only-clocks-and-power, naming them', () => {
    const r = trim(join(work, 'bad'), '--only-clocks-and-power', '--drop-node', 'thermal');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--only-clocks-and-power removes properties only \(no --drop-node, --keep-node or --exclude\)/);
  });

  it('a bad argument is one line naming it, never a stack trace: a missing file (ENOENT), a bad regular expression, an option without its value, an unknown option', () => {
    const run = (...args: string[]) => spawnSync(process.execPath, [script, ...args], { encoding: 'utf8' });
    const out = join(work, 'bad-args');
    const board = join(work, 'bad-args.dts');
    writeFileSync(board, '/dts-v1/;\n/ { compatible = "x,y"; };\n');
    const cases: [string[], number, RegExp][] = [
      [['--out', out, join(work, 'no-such.dts')], 1, /^trim-dts\.mjs: cannot read .*no-such\.dts: no such file \(ENOENT\)$/m],
      [['--drop-node', '(', '--out', out, board], 2, /^trim-dts\.mjs: --drop-node \(: not a regular expression \(.*\)$/m],
      [['--keep', '--out', out, board], 2, /^trim-dts\.mjs: --keep needs a value$/m],
      [['--frob', '--out', out, board], 2, /^trim-dts\.mjs: unknown option '--frob'$/m],
    ];
    for (const [args, status, msg] of cases) {
      const r = run(...args);
      expect(r.status, args.join(' ')).toBe(status);
      expect(r.stderr).toMatch(msg);
      expect(r.stderr).not.toMatch(/^\s+at /m);
      expect(r.stdout).toBe('');
    }
  });
});
