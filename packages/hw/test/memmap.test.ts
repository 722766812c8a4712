import { afterEach, describe, expect, it } from 'vitest';
import {
  Board,
  boardInterrupts,
  compileDts,
  DEFAULT_UNFILLED_RAM_SIZE,
  FdtError,
  FdtIndex,
  findNode,
  parseDtb,
  resolveInterrupts,
  type ModelFactory,
} from '@gki/hw';

const GiB = 2 ** 30;
const MiB = 2 ** 20;

function board(body: string, pre = ''): Board {
  return Board.fromDtb(compileDts(`/dts-v1/;\n${pre}/ {\n#address-cells = <2>;\n#size-cells = <2>;\n${body}\n};`), { models: false });
}

describe('RAM from memory nodes', () => {
  it('takes every bank of every memory node, including banks above 4 GiB', () => {
    const b = board(`
      memory@80000000 { device_type = "memory"; reg = <0 0x80000000 0 0x7f000000>, <0x8 0x80000000 0x1 0x80000000>; };
      memory@c0000000 { device_type = "memory"; reg = <0x10 0 0 0x40000000>; };
      memory@d0000000 { device_type = "memory"; reg = <0x20 0 0 0x1000>; status = "disabled"; };
      cpu-ram { device_type = "cpu"; reg = <0x30 0 0 0x1000>; };`);
    expect(b.mem.regions).toEqual([
      { base: 0x8000_0000, size: 0x7f00_0000 },
      { base: 0x8_8000_0000, size: 6 * GiB },
      { base: 0x10_0000_0000, size: GiB },
    ]);
    expect(b.notes).toEqual([]);
  });

  it('fills a size-0 bank (left to the bootloader) with the documented default and says so', () => {
    const b = board(`memory@80000000 { device_type = "memory"; reg = <0 0x80000000 0 0>; };`);
    expect(DEFAULT_UNFILLED_RAM_SIZE).toBe(4 * GiB);
    expect(b.mem.regions).toEqual([{ base: 0x8000_0000, size: 4 * GiB }]);
    expect(b.notes).toEqual([
      expect.objectContaining({ level: 'warn', message: expect.stringMatching(/memory@80000000: reg gives size 0 .* using 4 GiB from the default/) }),
    ]);
  });

  it('takes the size from gki,ram-size on the node, else on /chosen, and clips at the next bank', () => {
    const own = board(`memory@80000000 { device_type = "memory"; reg = <0 0x80000000 0 0>; gki,ram-size = <0 0x20000000>; };`);
    expect(own.mem.regions).toEqual([{ base: 0x8000_0000, size: 512 * MiB }]);
    const chosen = board(`chosen { gki,ram-size = <0x10000000>; }; memory@0 { device_type = "memory"; reg = <0 0 0 0>; };`);
    expect(chosen.mem.regions).toEqual([{ base: 0, size: 256 * MiB }]);
    const clipped = board(`
      memory@0 { device_type = "memory"; reg = <0 0 0 0>; };
      memory@40000000 { device_type = "memory"; reg = <0 0x40000000 0 0x1000000>; };`);
    expect(clipped.mem.regions).toEqual([
      { base: 0, size: GiB },
      { base: GiB, size: 16 * MiB },
    ]);
    expect(clipped.notes[0]!.message).toMatch(/clipped at the next bank/);
  });

  it('merges overlapping banks as memblock does (exynosautov920-sadk has such a pair), with a note', () => {
    const b = board(`memory@80000000 { device_type = "memory"; reg = <0 0x80000000 0 0x70000000>, <0x8 0x80000000 0x1 0xfba00000>, <0xa 0 0x2 0>; };`);
    expect(b.mem.regions).toEqual([
      { base: 0x8000_0000, size: 0x7000_0000 },
      { base: 0x8_8000_0000, size: 0xa_0000_0000 + 8 * GiB - 0x8_8000_0000 },
    ]);
    expect(b.notes.map((n) => n.message)).toEqual([
      'RAM banks 0x880000000+0x1fba00000 and 0xa00000000+0x200000000 overlap; merged into 0x880000000+0x380000000',
    ]);
  });

  it('assumes the RAM a bootloader adds when the tree has no memory node, below or above the devices', () => {
    // Rockchip style: peripherals high, nothing at 0
    // (with rk356x.dtsi's SCMI shared memory, an mmio-sram carved out of DRAM at 0x10f000)
    const rk = board(`soc { #address-cells = <2>; #size-cells = <2>; ranges; uart@fe000000 { reg = <0 0xfe000000 0 0x100>; }; };
      sram@10f000 { compatible = "mmio-sram"; reg = <0 0x10f000 0 0x100>; #address-cells = <1>; #size-cells = <1>; ranges = <0 0 0x10f000 0x100>; shmem@0 { reg = <0 0x100>; }; };
      cpus { #address-cells = <1>; #size-cells = <0>; cpu@0 { reg = <0>; }; };`);
    // the bank stops where the first device window starts
    expect(rk.mem.regions).toEqual([{ base: 0, size: 0xfe00_0000 }]);
    expect(rk.notes.map((n) => [n.level, n.message])).toEqual([
      ['warn', 'no /memory node (the bootloader adds it): assuming 4064 MiB of RAM at 0x0 (no device registers at 0; /chosen/gki,ram-base and gki,ram-size choose)'],
    ]);
    // i.MX 8M / Allwinner style: peripherals in the first GiB (a bus translating its children there)
    const imx = board(`soc { #address-cells = <1>; #size-cells = <1>; ranges = <0 0 0 0x40000000>; gic@38800000 { reg = <0x38800000 0x10000>; }; sram@100 { reg = <0x100 0x1000>; }; };
      reserved-memory { #address-cells = <2>; #size-cells = <2>; ranges; rsc@92400000 { reg = <0 0x92400000 0 0x1000>; no-map; }; };`);
    expect(imx.mem.regions).toEqual([{ base: GiB, size: 4 * GiB }]);
    expect(imx.notes[0]!.message).toMatch(/assuming 4 GiB of RAM at 0x40000000 \(the lowest 1 GiB boundary with no device registers after it/);
    expect(imx.reservedMemory.map((r) => r.address)).toEqual([0x9240_0000]);
    // /chosen chooses
    const chosen = board(`chosen { gki,ram-base = <0x8 0>; gki,ram-size = <0x40000000>; }; uart@1000 { reg = <0 0x1000 0 0x100>; };`);
    expect(chosen.mem.regions).toEqual([{ base: 0x8_0000_0000, size: GiB }]);
    expect(chosen.notes[0]!.message).toMatch(/assuming 1 GiB of RAM at 0x800000000 \(from \/chosen\/gki,ram-base/);
  });

  it('keeps the whole pages of an unaligned bank, as memblock does (rtd1195-horseradish starts RAM at 0xa800)', () => {
    const b = board(`memory@a800 { device_type = "memory"; reg = <0 0xa800 0 0x17ff5800>, <0 0x18070000 0 0x90000>; };`);
    expect(b.mem.regions).toEqual([
      { base: 0xb000, size: 0x1800_0000 - 0xb000 },
      { base: 0x1807_0000, size: 0x9_0000 },
    ]);
    expect(b.notes.map((n) => n.message)).toEqual(['/memory@a800: RAM 0xa800+0x17ff5800 is not 4 KiB aligned; using its whole pages 0xb000+0x17ff5000']);
  });

  it('places a size-0 bank whose base is among device registers as a missing one (reg = <0 0>, SDX55)', () => {
    // a bank at 0 with a device window 801 MiB up (HiKey960's reboot-reason syscon in DRAM) stays
    const hikey = board(`memory@0 { device_type = "memory"; reg = <0 0 0 0>; }; syscon@32100000 { reg = <0 0x32100000 0 0x1000>; };`);
    expect(hikey.mem.regions).toEqual([{ base: 0, size: 4 * GiB }]);
    const sdx55 = board(`memory { device_type = "memory"; reg = <0 0 0 0>; }; soc { #address-cells = <1>; #size-cells = <1>; ranges = <0 0 0 0xffffffff>; qfprom@1000000 { reg = <0x1000000 0x1000>; }; smmu@15000000 { reg = <0x15000000 0x20000>; }; };`);
    expect(sdx55.mem.regions).toEqual([{ base: GiB, size: 4 * GiB }]);
    expect(sdx55.notes.map((n) => n.message)).toEqual([
      '/memory: reg gives size 0 at 0x0, among device registers: the bootloader fills in the base too',
      expect.stringMatching(/no \/memory node \(the bootloader adds it\): assuming 4 GiB of RAM at 0x40000000/),
    ]);
  });

  it('rejects a tree without RAM and without anything to place it against', () => {
    expect(() => board(`x { };`)).toThrow(FdtError);
    expect(() => board(`x { };`)).toThrow(/no RAM/);
  });
});

describe('reserved memory', () => {
  const ram = `memory@0 { device_type = "memory"; reg = <0 0 0 0x40000000>; };`;

  it('reads /memreserve/, static regions with their flags, and skips disabled ones', () => {
    const b = board(
      `${ram}
      reserved-memory {
        #address-cells = <2>; #size-cells = <2>; ranges;
        fw@5000000 { reg = <0 0x05000000 0 0x300000>; no-map; };
        pool@6000000 { compatible = "shared-dma-pool"; reg = <0 0x06000000 0 0x100000>; reusable; };
        plain@7000000 { reg = <0 0x07000000 0 0x1000>; };
        off@8000000 { reg = <0 0x08000000 0 0x1000>; no-map; status = "disabled"; };
        vram@80000000 { reg = <0 0x80000000 0 0x800000>; no-map; };
      };`,
      '/memreserve/ 0x3ff00000 0x100000;\n',
    );
    expect(b.reservedMemory.map((r) => [r.name, r.address, r.size, r.noMap, r.reusable, r.dynamic])).toEqual([
      ['/memreserve/', 0x3ff0_0000, MiB, false, false, false],
      ['/reserved-memory/fw@5000000', 0x500_0000, 3 * MiB, true, false, false],
      ['/reserved-memory/pool@6000000', 0x600_0000, MiB, false, true, false],
      ['/reserved-memory/plain@7000000', 0x700_0000, 0x1000, false, false, false],
      ['/reserved-memory/vram@80000000', 0x8000_0000, 8 * MiB, true, false, false],
    ]);
    expect(b.notes.map((n) => n.message)).toEqual([expect.stringMatching(/vram@80000000: .* outside RAM/)]);
    // the page allocator's share: everything but the non-reusable reservations
    expect(b.usableRam()).toEqual([
      { base: 0, size: 0x500_0000 },
      { base: 0x530_0000, size: 0x700_0000 - 0x530_0000 },
      { base: 0x700_1000, size: 0x3ff0_0000 - 0x700_1000 },
    ]);
  });

  it('places dynamic regions top down, aligned, inside alloc-ranges and clear of earlier reservations', () => {
    const b = board(`${ram}
      reserved-memory {
        #address-cells = <2>; #size-cells = <2>; ranges;
        top@3f000000 { reg = <0 0x3f000000 0 0x1000000>; no-map; };
        linux,cma { compatible = "shared-dma-pool"; reusable; size = <0 0x10000000>; alignment = <0 0x400000>; linux,cma-default; };
        low { size = <0 0x100000>; alloc-ranges = <0 0x1000000 0 0x800000>; no-map; };
        odd { size = <0 0x3000>; alignment = <0 0x10000>; };
        huge { size = <0 0x80000000>; };
      };`);
    const dyn = b.reservedMemory.filter((r) => r.dynamic).map((r) => [r.name, r.address, r.size]);
    expect(dyn).toEqual([
      ['/reserved-memory/linux,cma', 0x2f00_0000, 256 * MiB],
      ['/reserved-memory/low', 0x170_0000, MiB],
      ['/reserved-memory/odd', 0x2eff_0000, 0x3000],
    ]);
    expect(b.notes.map((n) => n.message)).toContainEqual(expect.stringMatching(/huge: no room for 2 GiB/));
    // the reusable CMA pool stays with the page allocator, no-map and plain regions do not
    const usable = b.usableRam();
    const inUsable = (pa: number): boolean => usable.some((r) => pa >= r.base && pa < r.base + r.size);
    expect(inUsable(0x3000_0000)).toBe(true); // CMA
    expect(inUsable(0x3f00_0000)).toBe(false); // top@3f000000, no-map
    expect(inUsable(0x170_0000)).toBe(false); // low, no-map
    expect(inUsable(0x2eff_0000)).toBe(false); // odd, plain reservation
  });
});

describe('interrupts on real trees', () => {
  const dtb = compileDts(`/dts-v1/;
    #include <dt-bindings/interrupt-controller/arm-gic.h>
    / {
      #address-cells = <2>; #size-cells = <2>;
      interrupt-parent = <&gic>;
      memory@0 { device_type = "memory"; reg = <0 0 0 0x10000000>; };
      gic: interrupt-controller@8000000 { compatible = "arm,gic-v3"; interrupt-controller; #interrupt-cells = <4>; #address-cells = <2>; #size-cells = <2>; ranges; reg = <0 0x8000000 0 0x10000>;
        ppi-partitions { part0: interrupt-partition-0 { affinity = <&cpu0>; }; }; };
      cpus { #address-cells = <1>; #size-cells = <0>; cpu0: cpu@0 { reg = <0>; }; };
      pdc: pdc@b000000 { compatible = "vendor,pdc"; interrupt-controller; #interrupt-cells = <2>; interrupt-parent = <&gic>; reg = <0 0xb000000 0 0x1000>; };
      dev@a000000 { compatible = "t,dev"; reg = <0 0xa000000 0 0x1000>;
        interrupts-extended = <&gic GIC_SPI 5 IRQ_TYPE_LEVEL_HIGH 0>, <&pdc 3 IRQ_TYPE_EDGE_RISING>, <&gic GIC_PPI 7 IRQ_TYPE_LEVEL_LOW &part0>; };
      bus@1c000000 { compatible = "simple-bus"; #address-cells = <1>; #size-cells = <1>; ranges = <0 0 0x1c000000 0x100000>;
        #interrupt-cells = <1>; interrupt-map-mask = <0 7>; interrupt-map = <0 1 &gic 0 0 GIC_SPI 40 IRQ_TYPE_LEVEL_HIGH 0>, <0 2 &gic 0 0 GIC_SPI 41 IRQ_TYPE_LEVEL_HIGH 0>;
        uart@90000 { compatible = "t,dev"; reg = <0x90000 0x1000>; interrupts = <2>, <1>, <3>; }; };
    };`);

  it('maps 4-cell GIC specifiers, follows interrupt-map and leaves other controllers unresolved', () => {
    const t = parseDtb(dtb);
    const idx = new FdtIndex(t);
    const dev = boardInterrupts(idx, findNode(t, '/dev@a000000')!);
    expect(dev.lines).toEqual([37, -1, 23]);
    expect(dev.unresolved).toEqual([{ index: 1, reason: 'interrupt controller /pdc@b000000 is not modelled' }]);
    const uart = boardInterrupts(idx, findNode(t, '/bus@1c000000/uart@90000')!);
    expect(uart.lines).toEqual([73, 72, -1]);
    expect(uart.unresolved[0]!.reason).toMatch(/no 'interrupt-map' entry of \/bus@1c000000 matches/);
    expect(() => resolveInterrupts(t, '/dev@a000000')).toThrow(/interrupt 1: interrupt controller \/pdc@b000000 is not modelled/);
  });

  const undo: (() => void)[] = [];
  afterEach(() => undo.splice(0).forEach((f) => f()));

  it('hands models -1 for unwired interrupts and notes them', () => {
    const seen: number[][] = [];
    const factory: ModelFactory = (_b, _n, _regs, irqs) => {
      seen.push([...irqs]);
      return {};
    };
    undo.push(Board.registerModel('t,dev', factory));
    const b = Board.fromDtb(dtb);
    expect(seen).toEqual([
      [37, -1, 23],
      [73, 72, -1],
    ]);
    expect(b.notes.map((n) => n.message)).toEqual([
      expect.stringMatching(/\/dev@a000000: interrupt 1 not wired to the board/),
      expect.stringMatching(/uart@90000: interrupt 2 not wired/),
    ]);
  });
});

describe("the MPM (qcom,mpm) of qcm2290.dtsi", () => {
  // under the RPM processor node, <pin flags> specifiers, pins mapped to SPIs by qcom,mpm-pin-map
  const dtb = compileDts(`/dts-v1/;
    #include <dt-bindings/interrupt-controller/arm-gic.h>
    / {
      #address-cells = <2>; #size-cells = <2>;
      interrupt-parent = <&intc>;
      memory@40000000 { device_type = "memory"; reg = <0 0x40000000 0 0x10000000>; };
      intc: interrupt-controller@f200000 { compatible = "arm,gic-v3"; interrupt-controller; #interrupt-cells = <3>; reg = <0 0xf200000 0 0x10000>; };
      remoteproc { compatible = "qcom,qcm2290-rpm-proc", "qcom,rpm-proc";
        mpm: interrupt-controller { compatible = "qcom,mpm"; interrupts = <GIC_SPI 197 IRQ_TYPE_EDGE_RISING>; interrupt-controller; #interrupt-cells = <2>;
          interrupt-parent = <&intc>; qcom,mpm-pin-count = <96>; qcom,mpm-pin-map = <2 275>, <12 422>, <86 183>; };
      };
      usb@4ef8800 { compatible = "t,dev"; reg = <0 0x4ef8800 0 0x400>;
        interrupts-extended = <&intc GIC_SPI 260 IRQ_TYPE_LEVEL_HIGH>, <&mpm 12 IRQ_TYPE_LEVEL_HIGH>, <&mpm 40 IRQ_TYPE_LEVEL_HIGH>; };
    };`);

  it('hands a mapped pin on as its SPI and names an unmapped one', () => {
    const t = parseDtb(dtb);
    const idx = new FdtIndex(t);
    const usb = boardInterrupts(idx, findNode(t, '/usb@4ef8800')!);
    expect(usb.lines).toEqual([32 + 260, 32 + 422, -1]);
    expect(usb.unresolved).toEqual([{ index: 2, reason: 'MPM pin 40 of /remoteproc/interrupt-controller is not in its qcom,mpm-pin-map (a wake-up source only, no GIC line)' }]);
  });
});

describe('interrupt controllers stacked on the GIC', () => {
  // the shapes of mt8183.dtsi (SYSIRQ as the root interrupt parent), sc7180.dtsi (PDC with
  // qcom,pdc-ranges) and imx8mq.dtsi (GPC)
  const dtb = compileDts(`/dts-v1/;
    #include <dt-bindings/interrupt-controller/arm-gic.h>
    / {
      #address-cells = <2>; #size-cells = <2>;
      interrupt-parent = <&sysirq>;
      memory@40000000 { device_type = "memory"; reg = <0 0x40000000 0 0x10000000>; };
      gic: interrupt-controller@c000000 { compatible = "arm,gic-v3"; interrupt-controller; #interrupt-cells = <4>; reg = <0 0xc000000 0 0x40000>; };
      sysirq: interrupt-controller@c530a80 { compatible = "mediatek,mt8183-sysirq", "mediatek,mt6577-sysirq"; interrupt-controller; #interrupt-cells = <3>; interrupt-parent = <&gic>; reg = <0 0xc530a80 0 0x50>; };
      pdc: interrupt-controller@b220000 { compatible = "qcom,sc7180-pdc", "qcom,pdc"; qcom,pdc-ranges = <0 480 94>, <94 609 31>; #interrupt-cells = <2>; interrupt-parent = <&gic>; interrupt-controller; reg = <0 0xb220000 0 0x30000>; };
      gpc: gpc@303a0000 { compatible = "fsl,imx8mq-gpc"; interrupt-controller; #interrupt-cells = <3>; interrupt-parent = <&gic>; reg = <0 0x303a0000 0 0x10000>; };
      lonely: intc@1000 { compatible = "mediatek,mt6577-sysirq"; interrupt-controller; #interrupt-cells = <3>; interrupt-parent = <&pdc>; reg = <0 0x1000 0 0x100>; };
      gpu@13040000 { compatible = "t,dev"; reg = <0 0x13040000 0 0x4000>; interrupts = <GIC_SPI 280 IRQ_TYPE_LEVEL_LOW>, <GIC_SPI 279 IRQ_TYPE_LEVEL_LOW>, <GIC_PPI 9 IRQ_TYPE_LEVEL_LOW>; };
      usb@a600000 { compatible = "t,dev"; reg = <0 0xa600000 0 0x1000>;
        interrupts-extended = <&gic GIC_SPI 131 IRQ_TYPE_LEVEL_HIGH 0>, <&pdc 6 IRQ_TYPE_LEVEL_HIGH>, <&pdc 100 IRQ_TYPE_EDGE_BOTH>, <&pdc 200 IRQ_TYPE_EDGE_BOTH>; };
      vpu@38300000 { compatible = "t,dev"; reg = <0 0x38300000 0 0x1000>; interrupt-parent = <&gpc>; interrupts = <GIC_SPI 7 IRQ_TYPE_LEVEL_HIGH>; };
      odd@2000 { compatible = "t,dev"; reg = <0 0x2000 0 0x100>; interrupt-parent = <&lonely>; interrupts = <GIC_SPI 1 IRQ_TYPE_LEVEL_HIGH>; };
    };`);

  it('hands SYSIRQ and GPC specifiers on as the same SPI, and PDC pins as the SPI of their range', () => {
    const t = parseDtb(dtb);
    const idx = new FdtIndex(t);
    const at = (p: string) => boardInterrupts(idx, findNode(t, p)!);
    // SYSIRQ takes SPIs only
    expect(at('/gpu@13040000').lines).toEqual([32 + 280, 32 + 279, -1]);
    expect(at('/gpu@13040000').unresolved).toEqual([{ index: 2, reason: '/interrupt-controller@c530a80 takes <GIC_SPI n flags>, not <1 9 8>' }]);
    // PDC pin 6 -> SPI 486, pin 100 -> SPI 615, pin 200 -> none
    expect(at('/usb@a600000').lines).toEqual([32 + 131, 32 + 486, 32 + 615, -1]);
    expect(at('/usb@a600000').unresolved).toEqual([{ index: 3, reason: 'PDC pin 200 of /interrupt-controller@b220000 is in none of its qcom,pdc-ranges' }]);
    expect(at('/vpu@38300000').lines).toEqual([32 + 7]);
    // a stacked controller must sit on a GIC
    expect(at('/odd@2000').unresolved).toEqual([{ index: 0, reason: 'interrupt controller /intc@1000 does not report to a GIC' }]);
  });
});
