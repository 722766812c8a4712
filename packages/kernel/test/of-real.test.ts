/**
 * The OF layer on what real kernel trees contain: GICs with 3 or 4 cells, interrupt maps,
 * interrupt parents that are not the GIC, reserved-memory regions that become devices, the
 * /firmware node, disabled and failed nodes, IOMMUs with #iommu-cells of 0, 1 or 2 and no
 * driver, and RAM the page allocator must not hand out.
 */
import { describe, expect, it } from 'vitest';
import { Board, compileDts } from '@gki/hw';
import { ETIMEDOUT, Kernel, ofIrqParse, type Device, type KernelImage, type KernelModule } from '@gki/kernel';

const TREE = `/dts-v1/;
#include <dt-bindings/interrupt-controller/arm-gic.h>
/memreserve/ 0x40000000 0x10000;
/ {
	#address-cells = <2>;
	#size-cells = <2>;
	interrupt-parent = <&gic>;

	memory@40000000 { device_type = "memory"; reg = <0 0x40000000 0 0x4000000>; };
	memory@100000000 { device_type = "memory"; reg = <0x1 0x0 0 0x1000000>; };

	reserved-memory {
		#address-cells = <2>; #size-cells = <2>; ranges;
		smem@41000000 { compatible = "qcom,smem"; reg = <0 0x41000000 0 0x200000>; no-map; };
		fw@42000000 { reg = <0 0x42000000 0 0x100000>; no-map; };
		pool { compatible = "shared-dma-pool"; reusable; size = <0 0x400000>; };
	};

	firmware { scm { compatible = "qcom,scm"; }; };

	gic: interrupt-controller@8000000 {
		compatible = "arm,gic-v3"; interrupt-controller; #interrupt-cells = <4>;
		#address-cells = <2>; #size-cells = <2>; ranges;
		reg = <0 0x8000000 0 0x10000>;
		ppi-partitions { part: interrupt-partition-0 { affinity = <&cpu0>; }; };
	};

	cpus { #address-cells = <1>; #size-cells = <0>; cpu0: cpu@0 { device_type = "cpu"; reg = <0>; }; };

	timer { compatible = "arm,armv8-timer"; interrupts = <GIC_PPI 13 IRQ_TYPE_LEVEL_LOW &part>, <GIC_PPI 14 IRQ_TYPE_LEVEL_LOW 0>; };

	soc@0 {
		compatible = "simple-bus"; #address-cells = <2>; #size-cells = <2>; ranges = <0 0 0 0 0x10 0>;

		intc2: controller@b000000 { compatible = "vendor,intc"; reg = <0 0xb000000 0 0x1000>; interrupt-controller; #interrupt-cells = <2>; interrupts = <GIC_SPI 90 IRQ_TYPE_LEVEL_HIGH 0>; };

		mixed@c000000 { compatible = "t,master"; reg = <0 0xc000000 0 0x1000>;
			interrupts-extended = <&intc2 3 IRQ_TYPE_LEVEL_HIGH>, <&gic GIC_SPI 7 IRQ_TYPE_LEVEL_HIGH 0>; };

		rk_mmu: iommu@d000000 { compatible = "rockchip,iommu"; reg = <0 0xd000000 0 0x100>; #iommu-cells = <0>; interrupts = <GIC_SPI 20 IRQ_TYPE_LEVEL_HIGH 0>; };
		vendor_smmu: iommu@d100000 { compatible = "vendor,smmu"; reg = <0 0xd100000 0 0x1000>; #iommu-cells = <2>; };
		off_mmu: iommu@d200000 { compatible = "vendor,smmu"; reg = <0 0xd200000 0 0x1000>; #iommu-cells = <1>; status = "disabled"; };

		video@d300000 { compatible = "t,master"; reg = <0 0xd300000 0 0x1000>; iommus = <&rk_mmu>; };
		camera@d400000 { compatible = "t,master"; reg = <0 0xd400000 0 0x1000>; iommus = <&vendor_smmu 0x10 0x3>; };
		display@d500000 { compatible = "t,master"; reg = <0 0xd500000 0 0x1000>; iommus = <&off_mmu 4>; };

		broken@e000000 { compatible = "t,master"; reg = <0 0xe000000 0 0x1000>; status = "fail"; };
		off@e100000 { compatible = "t,master"; reg = <0 0xe100000 0 0x1000>; status = "disabled"; };
		noreg { compatible = "t,other"; };
		overlap-a@f000000 { compatible = "t,other"; reg = <0 0xf000000 0 0x2000>; };
		overlap-b@f001000 { compatible = "t,other"; reg = <0 0xf001000 0 0x2000>; };

		bus@1c000000 {
			compatible = "simple-bus"; #address-cells = <1>; #size-cells = <1>; ranges = <0 0 0x1c000000 0x100000>;
			#interrupt-cells = <1>; interrupt-map-mask = <0 63>;
			interrupt-map = <0 5 &gic 0 0 GIC_SPI 5 IRQ_TYPE_LEVEL_HIGH 0>, <0 6 &gic 0 0 GIC_SPI 6 IRQ_TYPE_LEVEL_HIGH 0>;
			serial@90000 { compatible = "arm,pl011"; reg = <0x90000 0x1000>; interrupts = <5>; };
			serial@a0000 { compatible = "arm,pl011"; reg = <0xa0000 0x1000>; interrupts = <6>, <9>; };
		};
	};
};`;

/** A driver for 't,master' that, like a DMA master driver, waits for its IOMMU via of_iommu. */
function masterModule(): KernelModule {
  const drv = {
    name: 't-master',
    ofMatchTable: [{ compatible: 't,master' }],
    probe: (dev: Device) => {
      dev.info(`probed with ${dev.irqCount()} interrupt(s)`);
      return 0;
    },
  };
  return {
    name: 't_master',
    version: '0.1.0',
    license: 'GPL',
    init: (ctx) => ctx.kernel.drivers.registerDriver(drv),
    exit: (ctx) => void ctx.kernel.drivers.unregisterDriver(drv),
  };
}

function boot(): Kernel {
  const image: KernelImage = { builtin: [], modules: [masterModule()], load: ['t_master'] };
  return Kernel.boot(Board.fromDtb(compileDts(TREE)), image);
}

describe('OF layer on real-tree shapes', () => {
  const k = boot();
  const devs = new Map(k.drivers.listDevices().map((d) => [d.name, d]));

  it('creates devices for reserved-memory regions drivers bind to and for /firmware children', () => {
    expect(devs.has('41000000.smem')).toBe(true);
    expect(devs.has('firmware:scm')).toBe(true);
    expect([...devs.keys()].some((n) => n.includes('fw@42000000'))).toBe(false);
  });

  it('maps GIC specifiers with four cells (and a PPI partition phandle)', () => {
    const timer = k.drivers.findDevice('timer')!;
    expect(timer.resources.filter((r) => r.kind === 'irq').map((r) => r.start)).toEqual([29, 30]);
  });

  it('follows interrupt-map to the GIC and leaves an unmatched specifier unresolved with a warning', () => {
    const s0 = k.drivers.findDevice('1c090000.serial')!;
    const s1 = k.drivers.findDevice('1c0a0000.serial')!;
    expect(s0.resources.filter((r) => r.kind === 'irq').map((r) => r.start)).toEqual([37]);
    expect(s1.resources.filter((r) => r.kind === 'irq').map((r) => r.start)).toEqual([38]);
    expect(k.log.grep(/serial@a0000: interrupt\(s\) left unresolved: 1 \(untranslatable\)/)).toHaveLength(1);
  });

  it('leaves interrupts of a controller that is not modelled unresolved, keeps the others, and warns', () => {
    const mixed = k.drivers.findDevice('c000000.mixed')!;
    expect(mixed.resources.filter((r) => r.kind === 'irq').map((r) => r.start)).toEqual([39]);
    expect(k.log.grep(/mixed@c000000: interrupt\(s\) left unresolved: 0 -> \/soc@0\/controller@b000000 \(no interrupt domain\)/)).toHaveLength(1);
    const spec = ofIrqParse(mixed.ofNode!, 0);
    expect(typeof spec !== 'number' && spec.np.fullName).toBe('/soc@0/controller@b000000');
    // what platform_get_irq answers for each: the controller has no domain, so the probe would defer
    expect([mixed.irqOptional(0), mixed.irqOptional(1)]).toEqual([-517, 39]);
    expect(k.log.grep(/t-master c000000.mixed: probed with 2 interrupt\(s\)/)).toHaveLength(1);
  });

  it('skips disabled and failed nodes, and creates devices for nodes without reg or with overlapping windows', () => {
    expect(devs.has('e000000.broken')).toBe(false);
    expect(devs.has('e100000.off')).toBe(false);
    expect(devs.has('soc@0:noreg')).toBe(true);
    expect(devs.get('f000000.overlap-a')?.state).toBe('unbound');
    expect(devs.get('f001000.overlap-b')?.state).toBe('unbound');
  });

  it('probes masters whose IOMMU has no driver (#iommu-cells 0 or 2) after the deferred-probe timeout, untranslated', () => {
    for (const name of ['d300000.video', 'd400000.camera']) {
      expect(devs.get(name)).toMatchObject({ state: 'bound', driver: 't-master' });
      expect(k.log.grep(`t-master ${name}: IOMMU driver never registered (deferred probe timeout): DMA is untranslated`)).toHaveLength(1);
      expect(k.iommu.domainForDev(k.drivers.findDevice(name)!)).toBeUndefined();
    }
    // they waited for their IOMMU until the timeout, as fw_devlink and of_iommu make them
    expect(k.log.grep(/platform d300000.video: probe deferral - supplier d000000.iommu not ready/).length).toBeGreaterThan(0);
    expect(k.drivers.deferredProbeTimedOut).toBe(true);
    expect(k.drivers.deferredProbeCheckState(k.drivers.findDevice('d300000.video')!)).toBe(-ETIMEDOUT);
  });

  it('does not wait for a disabled IOMMU: its master probes untranslated at once', () => {
    expect(devs.get('d500000.display')).toMatchObject({ state: 'bound', driver: 't-master' });
    expect(k.log.grep(/display@d500000|d500000.display: probe deferral/)).toEqual([]);
  });

  it('keeps /memreserve/ and no-map regions from the page allocator, and lends it the reusable pool', () => {
    const b = k.board;
    const reserved = b.reservedMemory.filter((r) => !r.reusable);
    expect(reserved.map((r) => r.name)).toEqual(['/memreserve/', '/reserved-memory/smem@41000000', '/reserved-memory/fw@42000000']);
    const total = (64 + 16) * 2 ** 20 - 0x10000 - 0x200000 - 0x100000;
    expect(k.pages.stats().totalPages * 4096).toBe(total);
    // every page the allocator can give lies outside every non-reusable reservation
    const got: number[] = [];
    for (;;) {
      const pa = k.pages.allocPages(0);
      if (pa < 0) break;
      got.push(pa);
    }
    expect(got.length * 4096).toBe(total);
    for (const r of reserved) expect(got.filter((pa) => pa >= r.address && pa < r.address + r.size)).toEqual([]);
    const pool = b.reservedMemory.find((r) => r.reusable)!;
    expect(got.some((pa) => pa >= pool.address && pa < pool.address + pool.size)).toBe(true);
    expect(k.log.grep(/Memory: \d+K\/\d+K available/)).toHaveLength(1);
  });
});
