/**
 * Kernel device trees trimmed ONLY of clocks and power domains boot on the default image, as
 * the acceptance checks boot them: compile the DTS (the file's own directory for its
 * includes, no kernel headers), build the board from the blob, boot. Unlike boards/, these
 * trees keep pinctrl, regulators and `*-supply`, OPP tables, interconnects, nvmem cells,
 * resets, thermal zones and PMIC includes (fixtures/lightly-trimmed, Linux v6.12, the
 * permissively licensed ones), plus a synthetic tree with those constructs around SMMUs with
 * DMA masters (packages/hw/test/fixtures/light-trim).
 *
 * What must come up: the machine the tree describes; no error-level log; every device a driver
 * of the image matches bound (or refused as Linux refuses it), every other one unbound; no
 * device for an OPP table; the SMMUs bound, with every master that names one in a group; the
 * GPU bound by msm or panfrost where the board enables it, running jobs whose DMA the GPU's
 * SMMU or MMU model translates; and the blob the same as dtc's for the same source (with the
 * missing headers' macros defined).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Board, compileDtsFile, preprocessDts, type DtsCompileResult, type MemRegion } from '@gki/hw';
import { Kernel } from '@gki/kernel';
import { defaultImage } from '../src/image.js';
import { tlbCounters } from '../src/runtime/counters.js';
import { gpuTargets } from '../src/runtime/gpu.js';
import { runDma, runGpu } from '../src/runtime/workloads.js';

const here = dirname(new URL(import.meta.url).pathname);
const fixtures = join(here, 'fixtures', 'lightly-trimmed');
const synthetic = join(here, '..', '..', '..', 'packages', 'hw', 'test', 'fixtures', 'light-trim', 'light-board.dts');
const GiB = 2 ** 30;

interface Case {
  readonly file: string;
  readonly name: string;
  readonly ram: MemRegion[];
  /** no-map reserved regions (by name) kept out of the page allocator. */
  readonly noMap: readonly string[];
  /** Nodes with a device model (paths). */
  readonly models: readonly string[];
  /** Devices that must exist. */
  readonly devices: readonly string[];
  /** Devices that must not exist (disabled in the tree). */
  readonly absent?: readonly string[];
  /** Devices a driver of the default image must bind, with that driver. */
  readonly bound: Readonly<Record<string, string>>;
  /** Masters that must have an IOMMU group. */
  readonly groups?: readonly string[];
  /** The GPU and the model (path) that translates its DMA: an Adreno SMMU, or the Mali's own MMU. */
  readonly gpu?: { readonly device: string; readonly translator: string };
  /** Log lines that must appear once. */
  readonly log?: readonly RegExp[];
}

const CASES: readonly Case[] = [
  {
    file: join(fixtures, 'qcom/sm8250-mtp.dts'),
    name: 'Qualcomm Technologies, Inc. SM8250 MTP',
    ram: [{ base: 0x8000_0000, size: 4 * GiB }],
    noMap: ['/reserved-memory/memory@80000000', '/reserved-memory/memory@86200000', '/reserved-memory/memory@8bf00000'],
    models: ['/soc@0/gpu@3d00000', '/soc@0/gmu@3d6a000', '/soc@0/iommu@3da0000', '/soc@0/iommu@15000000', '/firmware/scm'],
    // the PMICs sit on the SPMI bus (no platform devices); the TLMM, the interconnects and the
    // RPMh regulators' parent are devices without a driver here
    devices: ['3d00000.gpu', '3d6a000.gmu', 'c440000.spmi', 'f100000.pinctrl', '9100000.interconnect', '18200000.rsc', 'vph-pwr-regulator'],
    bound: { 'soc@0': 'simple-pm-bus', '3d00000.gpu': 'adreno', '3da0000.iommu': 'arm-smmu', '15000000.iommu': 'arm-smmu' },
    groups: ['3d00000.gpu', '3d6a000.gmu', '1d84000.ufshc', '1dc4000.dma-controller', '8c0000.geniqup', 'aa00000.video-codec'],
    gpu: { device: '3d00000.gpu', translator: '/soc@0/iommu@3da0000' },
    log: [/Initialized msm .* for 3d00000.gpu/],
  },
  {
    file: join(fixtures, 'qcom/sc7180-idp.dts'),
    name: 'Qualcomm Technologies, Inc. SC7180 IDP',
    ram: [{ base: 0x8000_0000, size: 4 * GiB }],
    noMap: ['/reserved-memory/memory@80900000', '/reserved-memory/memory@86000000', '/reserved-memory/memory@8b700000', '/reserved-memory/mpss-metadata'],
    models: ['/soc@0/gpu@5000000', '/soc@0/gmu@506a000', '/soc@0/iommu@5040000', '/soc@0/iommu@15000000', '/firmware/scm'],
    devices: ['5000000.gpu', '506a000.gmu', '7c4000.mmc', 'c440000.spmi', '18800000.wifi'],
    bound: { '5000000.gpu': 'adreno', '5040000.iommu': 'arm-smmu', '15000000.iommu': 'arm-smmu' },
    groups: ['5000000.gpu', '506a000.gmu', '7c4000.mmc', '8804000.mmc', 'aa00000.video-codec', 'ae00000.display-subsystem', '18800000.wifi'],
    gpu: { device: '5000000.gpu', translator: '/soc@0/iommu@5040000' },
    log: [/Initialized msm .* for 5000000.gpu/],
  },
  {
    file: join(fixtures, 'rockchip/rk3399-evb.dts'),
    name: 'Rockchip RK3399 Evaluation Board',
    // v6.12's EVB has no /memory node (the bootloader adds it) and leaves the Mali disabled
    ram: [{ base: 0, size: 0xf800_0000 }],
    noMap: [],
    models: [],
    devices: ['ff3c0000.i2c', 'pinctrl', 'ff770000.syscon:phy@f780', 'vcc5v0-sys', 'ff900000.vop', 'ff903f00.iommu'],
    absent: ['ff9a0000.gpu'],
    bound: { 'ff310000.power-management': 'simple-pm-bus', 'ff320000.syscon': 'simple-pm-bus', 'ff770000.syscon': 'simple-pm-bus' },
    log: [/no \/memory node \(the bootloader adds it\): assuming 3968 MiB of RAM at 0x0/],
  },
  {
    file: join(fixtures, 'amlogic/meson-g12a-sei510.dts'),
    name: 'SEI Robotics SEI510',
    ram: [{ base: 0, size: GiB }],
    noMap: ['/reserved-memory/secmon@5000000', '/reserved-memory/secmon@5300000'],
    models: ['/soc/gpu@ffe40000'],
    devices: ['ffe40000.gpu', 'ff600000.hdmi-tx', 'ffd24000.serial', 'ffe07000.mmc'],
    bound: { soc: 'simple-pm-bus', 'ff600000.bus': 'simple-pm-bus', 'ff800000.sys-ctrl': 'simple-pm-bus', 'ffe40000.gpu': 'panfrost' },
    gpu: { device: 'ffe40000.gpu', translator: '/soc/gpu@ffe40000' },
    log: [/reserved mem: \/reserved-memory\/linux,cma: placed 256 MiB at 0x30000000 \(reusable\)/],
  },
  {
    file: join(fixtures, 'mediatek/mt8183-evb.dts'),
    name: 'MediaTek MT8183 evaluation board',
    ram: [{ base: 0x4000_0000, size: 2 * GiB }],
    noMap: ['/reserved-memory/memory@50000000'],
    models: ['/soc/gpu@13040000'],
    devices: ['13040000.gpu', '10205000.iommu', '10005000.pinctrl'],
    absent: ['c530a80.interrupt-controller'],
    bound: { soc: 'simple-pm-bus', '13040000.gpu': 'panfrost' },
    gpu: { device: '13040000.gpu', translator: '/soc/gpu@13040000' },
  },
  {
    file: synthetic,
    name: 'GKI light-trim constructs',
    ram: [{ base: 0x8000_0000, size: GiB }],
    noMap: ['/reserved-memory/memory@80000000'],
    models: ['/soc@0/iommu@15000000', '/soc@0/dma@a000000', '/soc@0/dma@a001000', '/soc@0/iommu@2b400000', '/soc@0/gpu@e000000'],
    devices: ['charger', 'gpio-keys', 'f100000.pinctrl', 'c440000.spmi', '9100000.interconnect', 'regulator-vph-pwr'],
    // a fixed clock (of_clk_init's) and the OPP tables get no device
    absent: ['xo-board', 'opp-table-cpu'],
    bound: {
      '15000000.iommu': 'arm-smmu',
      '2b400000.iommu': 'arm-smmu-v3',
      // masters with pinctrl-0, *-supply, interconnects, operating-points-v2, resets and
      // nvmem-cells pointing at providers no driver here binds
      'a000000.dma': 'dma-test',
      'a001000.dma': 'dma-test',
      'e000000.gpu': 'panfrost',
    },
    groups: ['a000000.dma', 'a001000.dma'],
    gpu: { device: 'e000000.gpu', translator: '/soc@0/gpu@e000000' },
    // interrupts-extended into the SPMI arbiter and the TLMM: controllers nothing here decodes
    log: [/\/charger: interrupt\(s\) left unresolved: 1 -> \/soc@0\/spmi@c440000 \(no interrupt domain\), 2 -> \/soc@0\/pinctrl@f100000 \(no interrupt domain\)/],
  },
];

/** dtc on PATH, or undefined. */
const DTC = ((): string | undefined => {
  const r = spawnSync('sh', ['-c', 'command -v dtc'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : undefined;
})();
const work = mkdtempSync(join(tmpdir(), 'gki-light-boards-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/**
 * The same source with every macro the compiler read as 0 (or "") defined, each as its own
 * number (macros of missing headers also name nodes, `power-domain@RK3399_PD_CPUL`, where a
 * common 0 would make duplicates dtc refuses): this package's blob of it, and dtc's.
 */
function withDefinitions(dtc: string, file: string, r: DtsCompileResult): { ours: Uint8Array; theirs: Uint8Array } {
  const names = [...new Map(r.undefinedMacros.map((m) => [m.name, m])).values()];
  const defs = names.map((m, i) => `#define ${m.name}${m.call ? '(...)' : ''} ${m.string ? '""' : String(i + 1)}`);
  const prelude = join(work, 'prelude.h');
  writeFileSync(prelude, [...defs, ''].join('\n'));
  const wrapper = join(work, 'wrapper.dts');
  writeFileSync(wrapper, `#include "${prelude}"\n#include "${file}"\n`);
  const ours = compileDtsFile(wrapper);
  expect(ours.undefinedMacros).toEqual([]);
  const pp = join(work, 'board.dts');
  writeFileSync(pp, preprocessDts(readFileSync(wrapper), { filename: wrapper }));
  const out = join(work, 'board.dtb');
  const run = spawnSync(dtc, ['-q', '-I', 'dts', '-O', 'dtb', '-o', out, pp], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`dtc failed on ${file}: ${run.stderr}`);
  return { ours: ours.dtb, theirs: new Uint8Array(readFileSync(out)) };
}

function be32(v: Uint8Array, off: number): number {
  return ((v[off]! << 24) | (v[off + 1]! << 16) | (v[off + 2]! << 8) | v[off + 3]!) >>> 0;
}

describe('kernel trees trimmed only of clocks and power domains boot on the default image', () => {
  for (const c of CASES)
    describe(c.file.replace(/^.*\/fixtures\//, ''), () => {
      const r = compileDtsFile(c.file);
      const board = Board.fromDtb(r.dtb);
      const k = Kernel.boot(board, defaultImage());

      it('is the described machine, with its models and its reserved memory kept out', () => {
        expect(board.name).toBe(c.name);
        expect(board.mem.regions).toEqual(c.ram);
        expect([...board.models.keys()].sort()).toEqual([...c.models].sort());
        const noMap = board.reservedMemory.filter((m) => m.noMap);
        expect(noMap.map((m) => m.name)).toEqual(expect.arrayContaining([...c.noMap]));
        // the page allocator manages exactly the RAM left once those are taken out
        const usable = board.usableRam();
        expect(k.pages.stats().totalPages * 4096).toBe(usable.reduce((n, m) => n + m.size, 0));
        for (const m of noMap) for (const u of usable) expect(u.base >= m.address + m.size || m.address >= u.base + u.size, m.name).toBe(true);
      });

      it('boots without an error and logs what it could not wire', () => {
        expect(k.log.all().filter((l) => l.level === 'err' || l.level === 'crit' || l.level === 'alert' || l.level === 'emerg')).toEqual([]);
        expect(k.log.grep(/crashed/)).toEqual([]);
        for (const re of c.log ?? []) expect(k.log.grep(re), String(re)).toHaveLength(1);
      });

      it('binds every device a driver of the image matches, leaves the others unbound, and makes none of an OPP table', () => {
        const all = k.drivers.allDevices();
        const names = all.map((d) => d.name);
        for (const d of c.devices) expect(names, d).toContain(d);
        for (const d of c.absent ?? []) expect(names, d).not.toContain(d);
        const bound = Object.fromEntries(all.filter((d) => d.state === 'bound').map((d) => [d.name, d.driver!.name]));
        expect(bound).toMatchObject(c.bound);
        for (const d of all) {
          if (d.state === 'bound') continue;
          expect({ name: d.name, state: d.state, driver: d.driver, matched: d.p.canMatch }).toEqual({ name: d.name, state: 'unbound', driver: null, matched: false });
        }
        // of_platform_populate skips operating-points-v2 nodes (the trees have dozens)
        expect(all.filter((d) => d.ofNode?.property('compatible') && /operating-points-v2/.test(new TextDecoder().decode(d.ofNode.property('compatible')!))).map((d) => d.name)).toEqual([]);
      });

      it('gives every master of a bound SMMU its IOMMU group', () => {
        const smmus = new Set(k.drivers.allDevices().filter((d) => d.state === 'bound' && /^arm-smmu/.test(d.driver!.name)).map((d) => d.ofNode));
        const masters = k.drivers.allDevices().filter((d) => {
          const v = d.ofNode?.property('iommus');
          if (!v || v.length < 4) return false;
          const target = k.of.findNodeByPhandle(be32(v, 0));
          return target !== undefined && smmus.has(target);
        });
        for (const m of masters) expect(k.iommu.groupOf(m), m.name).toBeDefined();
        for (const g of c.groups ?? []) expect(masters.map((m) => m.name), g).toContain(g);
      });

      it('runs GPU jobs (and DMA-test copies) whose DMA the SMMU or GPU MMU models translate', () => {
        const before = tlbCounters(board);
        const gpus = gpuTargets(k).map((g) => g.device);
        expect(gpus).toEqual(c.gpu ? [c.gpu.device] : []);
        const gpu = runGpu(k, { contexts: 2, jobs: 2, len: 0x4000 });
        expect(gpu.problems).toEqual([]);
        expect(gpu.ok).toBe(true);
        const dma = runDma(k, { copies: 2, len: 0x3000 });
        expect(dma.problems).toEqual([]);
        const after = tlbCounters(board);
        const translated = (path: string) => after.find((t) => t.path === path)!.translations - (before.find((t) => t.path === path)?.translations ?? 0);
        if (c.gpu) {
          expect(gpu.bytes).toBeGreaterThan(0);
          expect(translated(c.gpu.translator), c.gpu.translator).toBeGreaterThan(0);
        }
        // the DMA-test masters of the synthetic tree copy through the MMU-500 and the SMMUv3
        const masters = k.drivers.allDevices().filter((d) => d.state === 'bound' && d.driver!.name === 'dma-test');
        if (masters.length > 0) {
          expect(dma.bytes).toBeGreaterThan(0);
          for (const smmu of after.filter((t) => t.model !== 'mali-mmu')) expect(translated(smmu.path), smmu.path).toBeGreaterThan(0);
        }
      });

      it("compiles to dtc's blob of the same source, which boots the same", (ctx) => {
        if (!DTC) ctx.skip('dtc is not installed (apt-get install device-tree-compiler)');
        const { ours, theirs } = withDefinitions(DTC!, c.file, r);
        expect(Buffer.from(theirs).equals(Buffer.from(ours))).toBe(true);
        const k2 = Kernel.boot(Board.fromDtb(theirs), defaultImage());
        const boundOf = (kk: Kernel) => Object.fromEntries(kk.drivers.allDevices().filter((d) => d.state === 'bound').map((d) => [d.name, d.driver!.name]));
        expect(boundOf(k2)).toEqual(boundOf(k));
      });
    });
});
