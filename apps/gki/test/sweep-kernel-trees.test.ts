/**
 * scripts/sweep-kernel-trees.mjs on a miniature kernel source tree with the layouts that differ
 * between kernel versions: an arm64 board including a file of arch/arm/boot/dts through the
 * `<arm/...>` prefix (flat, as in v6.1), an overlay named .dtso (v6.2 on) and one named .dts
 * with /plugin/ (v6.1 and older: no board), and the Makefile's composite boards
 * (`NAME-dtbs := base.dtb x.dtbo`, with `+=` and a line continuation), which run with the
 * overlays applied. --all runs boards that have no modelled IOMMU or GPU too.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SPAWN_TIMEOUT } from './cli-helpers.js';

const script = join(dirname(new URL(import.meta.url).pathname), '..', '..', '..', 'scripts', 'sweep-kernel-trees.mjs');
const ksrc = mkdtempSync(join(tmpdir(), 'gki-sweep-src-'));
const work = mkdtempSync(join(tmpdir(), 'gki-sweep-work-'));
afterAll(() => {
  rmSync(ksrc, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

function put(path: string, text: string): void {
  mkdirSync(dirname(join(ksrc, path)), { recursive: true });
  writeFileSync(join(ksrc, path), text);
}

// a small SoC with nothing the project models but RAM, a GIC and a UART (written for this test)
put(
  'arch/arm/boot/dts/mini-soc.dtsi',
  `// SPDX-License-Identifier: MIT
#include <dt-bindings/interrupt-controller/arm-gic.h>
/ {
	#address-cells = <1>;
	#size-cells = <1>;
	interrupt-parent = <&gic>;
	memory@40000000 { device_type = "memory"; reg = <0x40000000 0x10000000>; };
	soc {
		compatible = "simple-bus";
		#address-cells = <1>;
		#size-cells = <1>;
		ranges;
		gic: interrupt-controller@1000000 {
			compatible = "arm,gic-400";
			#interrupt-cells = <3>;
			interrupt-controller;
			reg = <0x1000000 0x1000>, <0x1002000 0x2000>;
		};
		uart0: serial@2000000 {
			compatible = "arm,pl011", "arm,primecell";
			reg = <0x2000000 0x1000>;
			interrupts = <GIC_SPI 1 IRQ_TYPE_LEVEL_HIGH>;
			status = "disabled";
		};
	};
};
`,
);
put('arch/arm64/boot/dts/vendor/mini-board.dts', '// SPDX-License-Identifier: MIT\n/dts-v1/;\n#include <arm/mini-soc.dtsi>\n/ { model = "mini"; compatible = "gki,mini"; };\n');
put('arch/arm64/boot/dts/vendor/uart.dtso', '// SPDX-License-Identifier: MIT\n/dts-v1/;\n/plugin/;\n&uart0 { status = "okay"; };\n');
put('arch/arm64/boot/dts/vendor/old-overlay.dts', '// SPDX-License-Identifier: MIT\n/dts-v1/;\n/plugin/;\n&{/} { gki-extra { compatible = "gki,extra"; }; };\n');
put(
  'arch/arm64/boot/dts/vendor/Makefile',
  [
    'dtb-$(CONFIG_ARCH_X) += mini-board.dtb',
    'mini-board-uart-dtbs := mini-board.dtb uart.dtbo',
    'mini-board-both-dtbs := mini-board.dtb \\',
    '\tuart.dtbo',
    'mini-board-both-dtbs += old-overlay.dtbo',
    'mini-board-nested-dtbs := mini-board-uart.dtb old-overlay.dtbo',
    'mini-board-broken-dtbs := mini-board.dtb missing.dtbo',
    '',
  ].join('\n'),
);

function sweep(args: string[]) {
  return spawnSync(process.execPath, [script, ksrc, ...args], { encoding: 'utf8', timeout: SPAWN_TIMEOUT });
}

describe('sweep-kernel-trees', { timeout: SPAWN_TIMEOUT }, () => {
  it('finds plain and composite boards, and takes no overlay for a board', () => {
    const r = sweep(['--all', '--list']);
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([
      'vendor/mini-board-both.dtb = vendor/mini-board.dts + vendor/uart.dtso + vendor/old-overlay.dts',
      'vendor/mini-board-nested.dtb = vendor/mini-board.dts + vendor/uart.dtso + vendor/old-overlay.dts',
      'vendor/mini-board-uart.dtb = vendor/mini-board.dts + vendor/uart.dtso',
      'vendor/mini-board.dts',
    ]);
    expect(r.stderr).toMatch(/1 arm64 board files and 3 composite boards .*1 overlays named \.dts are no boards\), all 4 run \(--all\)/);
    expect(r.stderr).toMatch(/mini-board-broken-dtbs = mini-board\.dtb missing\.dtbo: not a base \.dts and overlays found here, left out/);
    // nothing modelled: without --all there is nothing to run
    const d = sweep(['--list']);
    expect(d.status).toBe(0);
    expect(d.stdout).toBe('');
  });

  it('a bad --only regular expression or a --json file in a missing folder: one line and status 2 before anything runs, no stack trace', () => {
    const re = sweep(['--only', '(', '--list']);
    expect(re.status).toBe(2);
    expect(re.stderr).toMatch(/^sweep-kernel-trees: --only \(: not a regular expression \(.*\)$/m);
    const js = sweep(['--all', '--json', join(work, 'no-such-dir', 'out.json')]);
    expect(js.status).toBe(2);
    expect(js.stderr).toMatch(/^sweep-kernel-trees: --json .*no-such-dir\/out\.json: its folder .*no-such-dir does not exist \(ENOENT\)$/m);
    for (const r of [re, js]) {
      expect(r.stderr).not.toMatch(/^\s+at /m);
      expect(r.stdout).toBe('');
    }
  });

  it('--all boots and runs each, with the overlays applied', () => {
    const json = join(work, 'out.json');
    const r = sweep(['--all', '--ops', '20', '--work', join(work, 'w'), '--json', json]);
    expect(r.status).toBe(0);
    const out = JSON.parse(readFileSync(json, 'utf8')) as { run: number; ok: number; results: { rel: string; status: string; modelled?: boolean }[] };
    expect({ run: out.run, ok: out.ok }).toEqual({ run: 4, ok: 4 });
    expect(out.results.every((x) => x.modelled === false)).toBe(true);
    expect(r.stdout).toMatch(/4 run, 4 OK, 0 failed/);
    expect(r.stdout).toMatch(/\(4 of those run have no modelled SMMU, Adreno or Mali: 4 OK\)/);
    // the trimmed overlay really is applied: the composite has the UART the base leaves disabled
    const gki = join(dirname(script), '..', 'apps', 'gki', 'src', 'cli.ts');
    const boot = (extra: string[]) =>
      spawnSync(process.execPath, ['--conditions=@gki/source', '--import', 'tsx', gki, 'boot', '--board', join(work, 'w/dts/arm64/vendor/mini-board.dts'), '-I', join(work, 'w/dts/prefixes'), ...extra], {
        encoding: 'utf8',
        cwd: join(dirname(script), '..'),
        timeout: SPAWN_TIMEOUT,
      }).stdout;
    expect(boot([])).not.toMatch(/2000000\.serial/);
    expect(boot(['--overlay', join(work, 'w/dts/arm64/vendor/uart.dtso')])).toMatch(/2000000\.serial/);
  });
});
