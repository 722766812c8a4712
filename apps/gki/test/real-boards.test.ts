/**
 * Real SoC device trees from the Linux kernel (boards/, trimmed of clocks and power domains)
 * boot on the default image through the public API, as a user would: compile the DTS, build
 * the board from the blob, boot. Nothing may crash; RAM is what the tree describes; reserved
 * regions are never handed out by the page allocator; every device some driver of the image
 * matches is bound and every other one is left unbound; the device models the project has
 * for the tree's hardware are instantiated.
 */
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Board, compileDtsFile, type MemRegion } from '@gki/hw';
import { Kernel } from '@gki/kernel';
import { defaultImage } from '../src/image.js';

const boards = join(dirname(new URL(import.meta.url).pathname), '..', '..', '..', 'boards');
const GiB = 2 ** 30;
const MiB = 2 ** 20;

interface Expect {
  readonly file: string;
  readonly name: string;
  readonly ram: MemRegion[];
  /** no-map regions (by name) the page allocator must not touch. */
  readonly noMap: readonly string[];
  /** Nodes with a device model (paths). */
  readonly models: readonly string[];
  /** Devices that must exist (platform device names). */
  readonly devices: readonly string[];
  /** Devices a driver of the default image must bind, with that driver (others may bind too). */
  readonly bound: Readonly<Record<string, string>>;
  /** Log lines that must appear. */
  readonly log?: readonly RegExp[];
}

const CASES: readonly Expect[] = [
  {
    file: 'qcom/sdm845-mtp.dts',
    name: 'Qualcomm Technologies, Inc. SDM845 MTP',
    ram: [{ base: 0x8000_0000, size: 4 * GiB }],
    noMap: ['/reserved-memory/memory@85700000', '/reserved-memory/memory@8c415000', '/reserved-memory/smem@86000000', '/reserved-memory/memory@97b00000'],
    models: ['/soc@0/gpu@5000000', '/soc@0/gmu@506a000', '/soc@0/iommu@5040000', '/soc@0/iommu@15000000'],
    devices: ['5000000.gpu', '5040000.iommu', '506a000.gmu', '15000000.iommu', '8804000.sdhci', 'ae00000.mdss', 'b220000.interrupt-controller', '86000000.smem', 'firmware:scm', 'remoteproc-adsp'],
    // msm is in the default image too: its adreno driver binds the GPU behind the Adreno SMMU
    bound: { 'soc@0': 'simple-pm-bus', '146bf000.imem': 'simple-pm-bus', '15000000.iommu': 'arm-smmu', '5040000.iommu': 'arm-smmu', '5000000.gpu': 'adreno' },
    log: [/memory@80000000: reg gives size 0 .*using 4 GiB/, /remoteproc-adsp: interrupt\(s\) left unresolved: 1 -> \/smp2p-lpass\/slave-kernel/],
  },
  {
    file: 'rockchip/rk3399-evb.dts',
    name: 'Rockchip RK3399 Evaluation Board',
    ram: [{ base: 0x20_0000, size: 0x7fe0_0000 }],
    noMap: [],
    models: ['/gpu@ff9a0000'],
    devices: ['ff9a0000.gpu', 'ff900000.vop', 'ff903f00.iommu', 'ff660000.video-codec', 'ff660480.iommu', 'ff770000.syscon:phy@f780', 'keys', 'pmu_a53'],
    bound: { 'ff770000.syscon': 'simple-pm-bus', 'ff320000.syscon': 'simple-pm-bus', 'ff9a0000.gpu': 'panfrost' },
  },
  {
    file: 'amlogic/meson-g12a-sei510.dts',
    name: 'SEI Robotics SEI510',
    ram: [{ base: 0, size: GiB }],
    noMap: ['/reserved-memory/secmon@5000000', '/reserved-memory/secmon@5300000'],
    models: ['/soc/gpu@ffe40000'],
    devices: ['ffe40000.gpu', 'ff600000.hdmi-tx', 'ff630218.rng', 'ffd24000.serial', 'ffe07000.mmc'],
    bound: {
      soc: 'simple-pm-bus',
      'ff600000.bus': 'simple-pm-bus',
      'ff630000.bus': 'simple-pm-bus',
      'ff634400.bus': 'simple-pm-bus',
      'ffd00000.bus': 'simple-pm-bus',
      'ffe40000.gpu': 'panfrost',
    },
    log: [/reserved mem: \/reserved-memory\/linux,cma: placed 256 MiB at 0x30000000 \(reusable\)/],
  },
  {
    file: 'arm/fvp-base-revc.dts',
    name: 'FVP Base RevC',
    ram: [
      { base: 0x8000_0000, size: 2 * GiB },
      { base: 0x8_8000_0000, size: 2 * GiB },
    ],
    noMap: [],
    models: ['/iommu@2b400000'],
    devices: ['2b400000.iommu', '40000000.pci', '1c090000.serial', '1c1f0000.clcd'],
    bound: {
      '2b400000.iommu': 'arm-smmu-v3',
      'bus@8000000': 'simple-pm-bus',
      'bus@8000000:motherboard-bus': 'simple-pm-bus',
      'bus@8000000:motherboard-bus:iofpga-bus@300000000': 'simple-pm-bus',
    },
  },
  {
    file: 'arm/juno.dts',
    name: 'ARM Juno development board (r0)',
    ram: [
      { base: 0x8000_0000, size: 0x7f00_0000 },
      { base: 0x8_8000_0000, size: 6 * GiB },
    ],
    noMap: [],
    models: ['/iommu@2b600000', '/iommu@7fb00000', '/iommu@7fb10000', '/iommu@7fb20000', '/iommu@7fb30000'],
    devices: ['7fb00000.iommu', '7ff00000.dma', '7ff50000.hdlcd', '18000000.ethernet', '1c060000.kmi'],
    bound: {
      '2b600000.iommu': 'arm-smmu',
      '7fb00000.iommu': 'arm-smmu',
      '7fb10000.iommu': 'arm-smmu',
      '7fb20000.iommu': 'arm-smmu',
      '7fb30000.iommu': 'arm-smmu',
      'bus@8000000': 'simple-pm-bus',
      'bus@8000000:motherboard-bus@8000000': 'simple-pm-bus',
      'bus@8000000:motherboard-bus@8000000:iofpga-bus@300000000': 'simple-pm-bus',
    },
  },
];

/** Everything the page allocator will hand out, as (pa, bytes) blocks: largest blocks first. */
function drain(k: Kernel): { pa: number; size: number }[] {
  const out: { pa: number; size: number }[] = [];
  for (let order = 10; order >= 0; order--)
    for (;;) {
      const pa = k.pages.allocPages(order);
      if (pa < 0) break;
      out.push({ pa, size: 4096 << order });
    }
  return out;
}

describe('real kernel device trees boot on the default image', () => {
  for (const c of CASES)
    describe(c.file, () => {
      const r = compileDtsFile(join(boards, c.file));
      const board = Board.fromDtb(r.dtb);
      const k = Kernel.boot(board, defaultImage());

      it('is the described machine, with its models', () => {
        expect(board.name).toBe(c.name);
        expect(board.mem.regions).toEqual(c.ram);
        expect([...board.models.keys()].sort()).toEqual([...c.models].sort());
      });

      it('boots without a crash and logs what it could not wire', () => {
        expect(k.log.all().filter((l) => l.level === 'crit' || l.level === 'alert' || l.level === 'emerg')).toEqual([]);
        expect(k.log.grep(/crashed/)).toEqual([]);
        for (const re of c.log ?? []) expect(k.log.grep(re), String(re)).toHaveLength(1);
      });

      it('binds every device a driver of the image matches and leaves the others unbound', () => {
        const all = k.drivers.allDevices();
        const names = all.map((d) => d.name);
        for (const d of c.devices) expect(names, d).toContain(d);
        const bound = Object.fromEntries(all.filter((d) => d.state === 'bound').map((d) => [d.name, d.driver!.name]));
        expect(bound).toMatchObject(c.bound);
        for (const d of all) {
          // bound: by a driver of the image that matched it; nothing else may be half-way
          if (d.state === 'bound') continue;
          // nothing matched it: no driver in this image for this hardware
          expect({ name: d.name, state: d.state, driver: d.driver, matched: d.p.canMatch }).toEqual({ name: d.name, state: 'unbound', driver: null, matched: false });
        }
      });

      it('never hands out reserved memory, and hands out all the rest', () => {
        const blocks = drain(k);
        const usable = board.usableRam().reduce((n, m) => n + m.size, 0);
        // the allocator manages exactly the usable RAM, and the drain emptied it
        expect(k.pages.stats().totalPages * 4096).toBe(usable);
        expect(k.pages.stats().pagesInUse).toBe(k.pages.stats().totalPages);
        const kept = board.reservedMemory.filter((m) => !m.reusable);
        expect(kept.map((m) => m.name)).toEqual(expect.arrayContaining([...c.noMap]));
        for (const m of kept) {
          const hit = blocks.find((b) => b.pa < m.address + m.size && m.address < b.pa + b.size);
          expect(hit, `${m.name} handed out`).toBeUndefined();
        }
        for (const b of blocks) expect(board.mem.contains(b.pa, b.size)).toBe(true);
        for (const b of blocks) k.pages.freePages(b.pa, Math.log2(b.size / 4096));
      });
    });

  it('leaves the page allocator whole: what boot took plus what the test drained is all usable RAM', () => {
    const r = compileDtsFile(join(boards, 'amlogic/meson-g12a-sei510.dts'));
    const board = Board.fromDtb(r.dtb);
    const k = Kernel.boot(board, defaultImage());
    const before = k.pages.stats().pagesInUse;
    const drained = drain(k).reduce((n, b) => n + b.size, 0);
    expect(before * 4096 + drained).toBe(GiB - 35 * MiB);
  });
});
