/**
 * What kernel trees trimmed only of clocks and power domains still hold, through the DTS
 * compiler: the synthetic tree in fixtures/light-trim (written for these tests, shaped like
 * the kernel's SoC, board and PMIC files) carries pinctrl states and `pinctrl-N` phandles,
 * regulators and `*-supply`, OPP tables (`opp-hz = /bits/ 64 <...>`, `required-opps`),
 * `interconnects`, nvmem cells, `resets`, thermal zones with trips and cooling maps, an SPMI
 * PMIC include with its own includes, `/omit-if-no-ref/`, `/delete-property/`, `&{/path}`,
 * `status = "okay"` overrides, a local header with arithmetic and a string macro, and macros of
 * dt-bindings headers the project does not ship (interconnect, regulator, power, reset,
 * pinctrl, thermal, SPMI, IIO, input). Those headers must stay warnings: their macros are used
 * only where the project reads nothing (or where a `reg` is an ID). The same tree compiles to
 * dtc's blob in dts-dtc.test.ts.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileDtsFile, DtsError, findNode, getProp, memoryFileSystem, propCells, propString, type FdtNode, type FdtTree } from '@gki/hw';

const dir = join(dirname(new URL(import.meta.url).pathname), 'fixtures', 'light-trim');
const board = join(dir, 'light-board.dts');
const r = compileDtsFile(board);

function at(t: FdtTree, path: string): FdtNode {
  const n = findNode(t, path);
  if (!n) throw new Error(`no node ${path}`);
  return n;
}

function bytes(t: FdtTree, path: string, name: string): number[] {
  const p = getProp(at(t, path), name);
  if (!p) throw new Error(`no ${name} in ${path}`);
  return [...p.value];
}

/** A 64-bit big-endian value as dtc writes `/bits/ 64 <v>`. */
function be64(v: bigint): number[] {
  return Array.from({ length: 8 }, (_, i) => Number((v >> BigInt(56 - 8 * i)) & 0xffn));
}

/** The macros read as 0, by the property they were in. */
function macrosByProperty(): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const m of r.undefinedMacros) {
    const names = (out[m.property] ??= []);
    if (!names.includes(m.name)) names.push(m.name);
  }
  return out;
}

describe('a tree trimmed only of clocks and power domains compiles', () => {
  it('reads the PMIC include and the local header, and lists the dt-bindings headers it could not find', () => {
    expect(r.files.map((f) => f.replace(`${dir}/`, ''))).toEqual(
      expect.arrayContaining(['light-board.dts', 'light-soc.dtsi', 'light-pmic.dtsi', 'light-pinfunc.h']),
    );
    expect([...new Set(r.missingHeaders.map((m) => m.header))].sort()).toEqual([
      'dt-bindings/iio/qcom,spmi-vadc.h',
      'dt-bindings/input/input.h',
      'dt-bindings/interconnect/qcom,icc.h',
      'dt-bindings/interconnect/qcom,sm8250.h',
      'dt-bindings/pinctrl/mt8183-pinfunc.h',
      'dt-bindings/power/qcom,rpmhpd.h',
      'dt-bindings/regulator/qcom,rpmh-regulator.h',
      'dt-bindings/reset/qcom,sdm845-aoss.h',
      'dt-bindings/spmi/spmi.h',
      'dt-bindings/thermal/tegra194-bpmp-thermal.h',
    ]);
  });

  it('reads macros of missing interconnect, regulator, power, reset, pinctrl, thermal, SPMI, IIO and input headers as 0, with a warning each', () => {
    expect(macrosByProperty()).toEqual({
      interconnects: ['MASTER_AMPSS_M0', 'QCOM_ICC_TAG_ACTIVE_ONLY', 'SLAVE_EBI_CH0', 'QCOM_ICC_TAG_ALWAYS'],
      'thermal-sensors': ['TEGRA194_BPMP_THERMAL_ZONE_GPU'],
      pinmux: ['PINMUX_GPIO90__FUNC_I2C4_SCL'],
      'drive-strength': ['MTK_DRIVE_4mA'],
      resets: ['AOSS_CC_MSS_RESTART'],
      'opp-level': ['RPMH_REGULATOR_LEVEL_TURBO', 'RPMH_REGULATOR_LEVEL_LOW_SVS'],
      'linux,code': ['KEY_POWER', 'KEY_VOLUMEUP'],
      'io-channels': ['ADC5_XO_THERM_100K_PU'],
      'regulator-initial-mode': ['RPMH_REGULATOR_MODE_HPM'],
      'regulator-allowed-modes': ['RPMH_REGULATOR_MODE_LPM', 'RPMH_REGULATOR_MODE_HPM'],
      // IDs, not addresses: a USID under the SPMI bus, an ADC channel number (#size-cells = <0>)
      reg: ['SPMI_USID', 'ADC5_XO_THERM_100K_PU'],
    });
    const warned = r.warnings.filter((w) => /is not defined/.test(w.message));
    expect(warned).toHaveLength(r.undefinedMacros.length);
    const w = warned.find((x) => x.message.startsWith("'RPMH_REGULATOR_MODE_HPM'"))!;
    expect(w.file).toBe(board);
    expect(w.message).toMatch(/<dt-bindings\/regulator\/qcom,rpmh-regulator.h> \(included at .*light-board.dts:12\)/);
    expect(w.message).toMatch(/'regulator-initial-mode' is not a property this project reads, so RPMH_REGULATOR_MODE_HPM compiles to 0 there/);
    const usid = warned.find((x) => x.message.startsWith("'SPMI_USID'"))!;
    expect(usid.file).toBe(join(dir, 'light-pmic.dtsi'));
    expect(usid.message).toMatch(/this 'reg' is an ID, not an address \(#size-cells = <0> in \/soc@0\/spmi@c440000\)/);
  });

  it('writes /bits/ 64 OPP rates as 8 bytes, with macros and arithmetic in cells', () => {
    expect(bytes(r.tree, '/opp-table-cpu/opp-2841600000', 'opp-hz')).toEqual(be64(2_841_600_000n));
    expect(bytes(r.tree, '/opp-table-cpu/opp-300000000', 'opp-hz')).toEqual(be64(300_000_000n));
    // LIGHT_MHZ(200) from the local header
    expect(bytes(r.tree, '/soc@0/dma@a000000/opp-table/opp-200000000', 'opp-hz')).toEqual(be64(200_000_000n));
    expect(propCells(at(r.tree, '/opp-table-cpu/opp-2841600000'), 'opp-peak-kBps')).toEqual([2133000 * 4, 1804800 * 16]);
    // a missing header's macro in an OPP level: 0, and required-opps is a plain phandle
    expect(propCells(at(r.tree, '/soc@0/gpu@e000000/opp-table/opp-800000000'), 'opp-level')).toEqual([0]);
    const lowSvs = at(r.tree, '/soc@0/rsc@18200000/power-controller/opp-table/opp3');
    expect(propCells(at(r.tree, '/soc@0/dma@a000000/opp-table/opp-200000000'), 'required-opps')).toEqual(propCells(lowSvs, 'phandle'));
    expect(propCells(at(r.tree, '/soc@0/pinctrl@f100000/gpu-default-state'), 'pinmux')).toEqual([0, ((0x100 + 3) << 8) | 2]);
    expect(propString(at(r.tree, '/soc@0/gpu@e000000'), 'firmware-name')).toBe('light/gpu_fw.bin');
    // THERMAL_NO_LIMIT (shipped) is ~0
    const gpu = propCells(at(r.tree, '/soc@0/gpu@e000000'), 'phandle')![0]!;
    const cpu = propCells(at(r.tree, '/cpus/cpu@0'), 'phandle')![0]!;
    expect(propCells(at(r.tree, '/thermal-zones/gpu-thermal/cooling-maps/map0'), 'cooling-device')).toEqual([gpu, 0xffff_ffff, 0xffff_ffff, cpu, 0xffff_ffff, 2]);
  });

  it('applies /omit-if-no-ref/, /delete-property/, &{/path} and status overrides across the files', () => {
    expect(findNode(r.tree, '/soc@0/pinctrl@f100000/unused-state')).toBeUndefined();
    expect(findNode(r.tree, '/soc@0/pinctrl@f100000/gpu-default-state')).toBeDefined();
    expect(getProp(at(r.tree, '/soc@0/dma@a001000'), 'vdd-supply')).toBeUndefined();
    const g = at(r.tree, '/soc@0/gpu@e000000');
    expect(propString(g, 'status')).toBe('okay');
    expect(propCells(g, 'mali-supply')).toEqual(propCells(at(r.tree, '/soc@0/rsc@18200000/regulators-0/ldo5'), 'phandle'));
    expect(propString(at(r.tree, '/soc@0/dma@a000000'), 'status')).toBe('okay');
    // the SPMI PMIC: two-cell USID regs, 16-bit peripheral offsets, a gpio-ranges to itself
    expect(propCells(at(r.tree, '/soc@0/spmi@c440000/pmic@1'), 'reg')).toEqual([1, 0]);
    expect(propCells(at(r.tree, '/soc@0/spmi@c440000/pmic@0/pon@800'), 'reg')).toEqual([0x800]);
    const gpios = at(r.tree, '/soc@0/spmi@c440000/pmic@0/gpio@c000');
    expect(propCells(gpios, 'gpio-ranges')).toEqual([propCells(gpios, 'phandle')![0]!, 0, 0, 10]);
  });

  it('stays an error when a missing header macro lands where the project reads it', () => {
    // the same tree with a macro of a missing header moved into an interrupt specifier of
    // the GIC and into an SMMU's stream ID: those would describe other hardware
    const files: Record<string, string> = {};
    for (const f of ['light-board.dts', 'light-soc.dtsi', 'light-pmic.dtsi', 'light-pinfunc.h']) files[join(dir, f)] = readFileSync(join(dir, f), 'latin1');
    const soc = join(dir, 'light-soc.dtsi');
    for (const [was, now, prop] of [
      ['interrupts = <GIC_SPI 16 IRQ_TYPE_LEVEL_HIGH>;', 'interrupts = <GIC_SPI MASTER_AMPSS_M0 IRQ_TYPE_LEVEL_HIGH>;', 'interrupts'],
      ['iommus = <&apps_smmu 0x10 0x0>;', 'iommus = <&apps_smmu AOSS_CC_MSS_RESTART 0x0>;', 'iommus'],
    ] as const) {
      const fs = memoryFileSystem({ ...files, [soc]: files[soc]!.replace(was, now) });
      let err: unknown;
      try {
        compileDtsFile(board, { fs });
      } catch (e) {
        err = e;
      }
      expect(err, prop).toBeInstanceOf(DtsError);
      expect((err as DtsError).file).toBe(soc);
      expect((err as DtsError).reason).toMatch(new RegExp(`'${prop}' is a property this project reads`));
    }
  });
});
