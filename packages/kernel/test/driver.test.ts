import { describe, expect, it } from 'vitest';
import { Board, buildFdt, node, prop, ref, type DraftNode, type MmioDevice } from '@gki/hw';
import {
  EBUSY,
  EEXIST,
  EFAULT,
  EINVAL,
  EIO,
  ENODEV,
  EPERM,
  EPROBE_DEFER,
  ETIMEDOUT,
  Kernel,
  KernelError,
  requestIrq,
  freeIrq,
  type Device,
  type Driver,
  type IoMem,
} from '@gki/kernel';

/*
 * Test SoC: a GIC, and under a simple-bus (bus 0 -> CPU 0x0a000000):
 *   a100000.iommu   gki,test-iommu  (#iommu-cells 1, SPI 10)
 *   a200000.clock-controller  gki,test-clk (#clock-cells 1)
 *   a300000.dma     "gki,test-dma-v2", "gki,test-dma"; iommus <&smmu 5>, clocks <&clk 1>, SPI 20
 *   a301000.dma     disabled
 *   a400000.uart    gki,test-uart, no suppliers, SPI 30
 */
function soc(extraSoc: DraftNode[] = [], dmaProps = [prop.cells('iommus', ref('smmu'), 5), prop.cells('clocks', ref('clk'), 1)]): DraftNode {
  return node('', [prop.u32('#address-cells', 2), prop.u32('#size-cells', 2), prop.string('compatible', 'gki,test')], [
    node('gic: intc@8000000', [prop.string('compatible', 'arm,gic-v3'), prop.empty('interrupt-controller'), prop.u32('#interrupt-cells', 3), prop.reg(2, 2, [0x0800_0000, 0x1_0000])]),
    node(
      'soc',
      [
        prop.string('compatible', 'simple-bus'),
        prop.u32('#address-cells', 1),
        prop.u32('#size-cells', 1),
        prop.cells('ranges', 0, 0, 0x0a00_0000, 0x0100_0000),
        prop.u32('interrupt-parent', ref('gic')),
      ],
      [
        node('smmu: iommu@100000', [prop.string('compatible', 'gki,test-iommu'), prop.cells('reg', 0x10_0000, 0x1000), prop.u32('#iommu-cells', 1), prop.cells('interrupts', 0, 10, 4)]),
        node('clk: clock-controller@200000', [prop.string('compatible', 'gki,test-clk'), prop.cells('reg', 0x20_0000, 0x1000), prop.u32('#clock-cells', 1)]),
        node('dma@300000', [prop.strings('compatible', ['gki,test-dma-v2', 'gki,test-dma']), prop.cells('reg', 0x30_0000, 0x1000), prop.cells('interrupts', 0, 20, 4), ...dmaProps]),
        node('dma@301000', [prop.string('compatible', 'gki,test-dma'), prop.cells('reg', 0x30_1000, 0x1000), prop.string('status', 'disabled'), prop.cells('iommus', ref('smmu'), 6)]),
        node('uart@400000', [prop.string('compatible', 'gki,test-uart'), prop.cells('reg', 0x40_0000, 0x1000), prop.cells('interrupts', 0, 30, 4)]),
        ...extraSoc,
      ],
    ),
  ]);
}

/** A kernel with the test SoC populated; deferred probing enabled unless `late` is false. */
function boot(root: DraftNode = soc(), opts: { late?: boolean } = {}): Kernel {
  const k = new Kernel(new Board('test', [{ base: 0x4000_0000, size: 1 << 20 }]));
  k.drivers.deferredProbeTimeoutSecs = 10; // keep the timeout for tests that fire it themselves
  k.of.loadTree(buildFdt({ root }));
  k.of.populate();
  if (opts.late !== false) k.drivers.deferredProbeInitcall();
  return k;
}

/** A driver that records its probes and removes in `events`. */
function drv(name: string, compatible: string[], events: string[], probe?: (dev: Device) => number): Driver {
  return {
    name,
    ofMatchTable: compatible.map((c) => ({ compatible: c, data: c })),
    probe(dev) {
      const r = probe ? probe(dev) : 0;
      events.push(`probe ${dev.name} ${r}`);
      return r;
    },
    remove(dev) {
      events.push(`remove ${dev.name}`);
    },
  };
}

class FakeRegs implements MmioDevice {
  readonly name = 'fake-regs';
  readonly regs = new Map<number, number>();
  read32(off: number): number {
    return this.regs.get(off) ?? 0;
  }
  write32(off: number, v: number): void {
    this.regs.set(off, v);
  }
}

describe('matching and probing', () => {
  it('binds by compatible and hands the matched entry data to the driver', () => {
    const k = boot();
    const ev: string[] = [];
    let seen: unknown;
    expect(k.drivers.registerDriver(drv('test-uart', ['gki,test-uart'], ev, (d) => ((seen = d.matchData), 0)))).toBe(0);
    expect(ev).toEqual(['probe a400000.uart 0']);
    expect(seen).toBe('gki,test-uart');
    const uart = k.drivers.findDevice('a400000.uart')!;
    expect(uart.state).toBe('bound');
    expect(uart.driver?.name).toBe('test-uart');
    expect(k.drivers.listDevices().find((d) => d.name === 'a400000.uart')).toEqual({
      name: 'a400000.uart',
      node: '/soc/uart@400000',
      driver: 'test-uart',
      state: 'bound',
      deferReason: null,
      probeError: null,
    });
    // the disabled node never became a device
    expect(k.drivers.findDevice('a301000.dma')).toBeUndefined();
  });

  it('picks the match-table entry for the most specific compatible', () => {
    const k = boot(soc([], []));
    const ev: string[] = [];
    let data: unknown;
    k.drivers.registerDriver(drv('dma', ['gki,test-dma', 'gki,test-dma-v2'], ev, (d) => ((data = d.matchData), 0)));
    expect(data).toBe('gki,test-dma-v2');
  });

  it('treats -ENODEV as a silent rejection and lets the next driver try', () => {
    const k = boot();
    const ev: string[] = [];
    k.drivers.registerDriver(drv('picky', ['gki,test-uart'], ev, () => -ENODEV));
    const uart = k.drivers.findDevice('a400000.uart')!;
    expect(uart.state).toBe('unbound');
    expect(k.log.all().filter((r) => r.level === 'err')).toEqual([]);
    k.drivers.registerDriver(drv('generic', ['gki,test-uart'], ev));
    expect(ev).toEqual(['probe a400000.uart -19', 'probe a400000.uart 0']);
    expect(uart.driver?.name).toBe('generic');
  });

  it('logs other probe errors, does not retry them, and releases what the probe took', () => {
    const k = boot();
    k.board.bus.map(0x0a40_0000, 0x1000, new FakeRegs());
    const before = k.drivers.snapshot();
    const ev: string[] = [];
    k.drivers.registerDriver(
      drv('broken', ['gki,test-uart'], ev, (d) => {
        expect(typeof d.ioremap(0)).toBe('object');
        expect(requestIrq(d, d.irq(0), () => {})).toBe(0);
        return -EINVAL;
      }),
    );
    expect(k.log.grep('broken: probe of a400000.uart failed with error -22')).toHaveLength(1);
    const uart = k.drivers.findDevice('a400000.uart')!;
    expect(uart.state).toBe('failed');
    const after = k.drivers.snapshot();
    expect(after.iomem).toEqual(before.iomem);
    expect(after.irqs).toEqual(before.irqs);
    expect(k.board.irq.hasHandler(62)).toBe(false);
    expect(after.deferred).toEqual([]);
    // another bind does not retry a failed probe
    k.drivers.registerDriver(drv('clk', ['gki,test-clk'], ev));
    expect(ev.filter((e) => e.includes('uart'))).toHaveLength(1);
  });

  it('a probe that throws is logged and treated as a failure', () => {
    const k = boot();
    k.drivers.registerDriver({ name: 'oops', ofMatchTable: [{ compatible: 'gki,test-uart' }], probe: () => { throw new Error('null deref'); } });
    expect(k.log.grep('probe of a400000.uart crashed: null deref')).toHaveLength(1);
    expect(k.drivers.findDevice('a400000.uart')!.state).toBe('failed');
  });
});

describe('device links from DT (fw_devlink)', () => {
  it('links consumers to their iommus and clocks suppliers', () => {
    const k = boot();
    const links = k.drivers.snapshot().links;
    expect(links).toEqual([
      { consumer: 'a300000.dma', supplier: 'a100000.iommu', status: 'dormant', managed: true, from: 'iommus' },
      { consumer: 'a300000.dma', supplier: 'a200000.clock-controller', status: 'dormant', managed: true, from: 'clocks' },
    ]);
  });

  it('probes suppliers before consumers whatever the driver registration order', () => {
    const k = boot();
    const ev: string[] = [];
    k.drivers.registerDriver(drv('dma', ['gki,test-dma'], ev));
    const dma = k.drivers.findDevice('a300000.dma')!;
    expect(ev).toEqual([]); // its probe is not even called
    expect(dma.state).toBe('deferred');
    expect(dma.deferReason).toBe('platform: supplier a100000.iommu not ready');
    k.drivers.registerDriver(drv('iommu', ['gki,test-iommu'], ev));
    expect(dma.deferReason).toBe('platform: supplier a200000.clock-controller not ready');
    k.drivers.registerDriver(drv('clk', ['gki,test-clk'], ev));
    expect(ev).toEqual(['probe a100000.iommu 0', 'probe a200000.clock-controller 0', 'probe a300000.dma 0']);
    expect(dma.state).toBe('bound');
    expect(k.drivers.snapshot().links.map((l) => l.status)).toEqual(['active', 'active']);
    expect(k.drivers.devicesDeferred()).toEqual([]);
  });

  it('waits for a DT supplier that has no device yet', () => {
    // the power domain lives under a node that is not a bus (and not /firmware), so it is never populated
    const fw = node('hub', [], [node('pd: power-controller', [prop.string('compatible', 'gki,test-pd'), prop.u32('#power-domain-cells', 1)])]);
    const withPd = soc([], [prop.cells('power-domains', ref('pd'), 0)]);
    withPd.children.push(fw);
    const k = boot(withPd);
    const ev: string[] = [];
    k.drivers.registerDriver(drv('dma', ['gki,test-dma'], ev));
    const dma = k.drivers.findDevice('a300000.dma')!;
    expect(dma.deferReason).toBe('platform: wait for supplier /hub/power-controller');
    expect(k.drivers.snapshot().fwnodeLinks).toEqual([{ consumer: '/soc/dma@300000', supplier: '/hub/power-controller', prop: 'power-domains' }]);
    // once the hub node is populated, the fwnode link becomes a device link
    const pdNode = k.of.findNodeByPath('/hub/power-controller')!;
    const pd = k.of.createPlatformDevice(pdNode, null);
    expect(typeof pd).toBe('object');
    expect(k.drivers.snapshot().fwnodeLinks).toEqual([]);
    k.drivers.registerDriver(drv('pd', ['gki,test-pd'], ev));
    expect(ev).toEqual(['probe hub:power-controller 0', 'probe a300000.dma 0']);
  });

  it('relaxes a dependency cycle instead of deadlocking', () => {
    const root = node('', [prop.u32('#address-cells', 1), prop.u32('#size-cells', 1)], [
      node('a: a@1000', [prop.string('compatible', 'x,a'), prop.cells('reg', 0x1000, 0x100), prop.u32('#clock-cells', 0), prop.cells('clocks', ref('b'))]),
      node('b: b@2000', [prop.string('compatible', 'x,b'), prop.cells('reg', 0x2000, 0x100), prop.u32('#clock-cells', 0), prop.cells('clocks', ref('a'))]),
    ]);
    const k = boot(root);
    expect(k.log.grep('Fixed dependency cycle(s) with /a@1000')).toHaveLength(1);
    const ev: string[] = [];
    k.drivers.registerDriver(drv('b', ['x,b'], ev));
    k.drivers.registerDriver(drv('a', ['x,a'], ev));
    expect(ev).toEqual(['probe 2000.b 0', 'probe 1000.a 0']);
  });
});

describe('deferred probe', () => {
  it('retries a driver-requested deferral when another driver binds, keeping the reason', () => {
    const k = boot();
    const ev: string[] = [];
    let ready = false;
    k.drivers.registerDriver(drv('uart', ['gki,test-uart'], ev, (d) => (ready ? 0 : d.errProbe(-EPROBE_DEFER, 'waiting for the console'))));
    const uart = k.drivers.findDevice('a400000.uart')!;
    expect(uart.state).toBe('deferred');
    expect(k.drivers.devicesDeferred()).toEqual([{ name: 'a400000.uart', reason: 'uart: waiting for the console' }]);
    expect(k.log.all().filter((r) => r.level === 'err')).toEqual([]);
    ready = true;
    k.drivers.registerDriver(drv('clk', ['gki,test-clk'], ev));
    expect(ev).toEqual(['probe a400000.uart -517', 'probe a200000.clock-controller 0', 'probe a400000.uart 0']);
    expect(uart.state).toBe('bound');
    expect(uart.deferReason).toBeNull();
  });

  it('does not retry before the late initcall, then retries everything there', () => {
    const k = boot(soc(), { late: false });
    const ev: string[] = [];
    let ready = false;
    k.drivers.registerDriver(drv('uart', ['gki,test-uart'], ev, () => (ready ? 0 : -EPROBE_DEFER)));
    ready = true;
    k.drivers.registerDriver(drv('clk', ['gki,test-clk'], ev));
    expect(ev).toEqual(['probe a400000.uart -517', 'probe a200000.clock-controller 0']);
    k.drivers.deferredProbeInitcall();
    expect(ev.at(-1)).toBe('probe a400000.uart 0');
    expect(k.drivers.snapshot().deferredProbe).toEqual({ enabled: true, initcallsDone: true, timedOut: false });
  });

  it('re-triggers when a bind happens during a probe that then defers', () => {
    const k = boot();
    const ev: string[] = [];
    let clkBound = false;
    k.drivers.registerDriver(
      drv('uart', ['gki,test-uart'], ev, () => {
        if (clkBound) return 0;
        // a nested bind while this probe runs (as when a probe populates child devices)
        k.drivers.registerDriver(drv('clk', ['gki,test-clk'], ev, () => ((clkBound = true), 0)));
        return -EPROBE_DEFER;
      }),
    );
    expect(ev).toEqual(['probe a200000.clock-controller 0', 'probe a400000.uart -517', 'probe a400000.uart 0']);
  });

  it('times out: waits on driverless suppliers end, check-state says -ETIMEDOUT, pending devices are logged', () => {
    const k = boot(soc(), { late: false });
    k.drivers.deferredProbeTimeoutSecs = 0; // expire at the late initcall, as Kernel.boot does
    const ev: string[] = [];
    // the DMA driver treats its IOMMU as optional, like of_iommu does
    k.drivers.registerDriver(
      drv('dma', ['gki,test-dma'], ev, (d) => {
        const iommu = k.drivers.findDevice('a100000.iommu')!;
        if (iommu.state === 'bound') return 0;
        return k.drivers.deferredProbeCheckState(d);
      }),
    );
    k.drivers.registerDriver(drv('clk', ['gki,test-clk'], ev));
    k.drivers.registerDriver(drv('uart', ['gki,test-uart'], ev, (d) => d.errProbe(-EPROBE_DEFER, 'firmware not loaded')));
    k.drivers.deferredProbeInitcall();
    // no iommu driver ever matched: the link stopped blocking, the probe ran and gave up
    expect(k.log.grep('dma a300000.dma: deferred probe timeout, ignoring dependency')).toHaveLength(1);
    expect(k.log.grep(`dma: probe of a300000.dma failed with error -${ETIMEDOUT}`)).toHaveLength(1);
    expect(k.drivers.findDevice('a300000.dma')!.state).toBe('failed');
    expect(k.drivers.snapshot().links.find((l) => l.supplier === 'a100000.iommu')?.managed).toBe(false);
    // a device whose driver keeps deferring is reported with its reason and stays pending
    expect(k.log.grep('platform a400000.uart: deferred probe pending: uart: firmware not loaded')).toHaveLength(1);
    expect(k.drivers.devicesDeferred().map((d) => d.name)).toEqual(['a400000.uart']);
    // the timeout runs once
    k.drivers.deferredProbeTimeout();
    expect(k.log.grep('deferred probe pending')).toHaveLength(1);
    // drivers loaded later still bind normally
    k.drivers.registerDriver(drv('iommu', ['gki,test-iommu'], ev));
    expect(k.drivers.findDevice('a100000.iommu')!.state).toBe('bound');
  });

  it('probes a consumer queued in the same retry pass as its supplier once, not again when the supplier binds', () => {
    // driver_deferred_probe_add skips a device already on a deferred list (active or
    // pending): a consumer retried in the pass its supplier binds in is not queued twice
    const k = boot(soc(), { late: false });
    const ev: string[] = [];
    let iommuReady = false;
    k.drivers.registerDriver(drv('iommu', ['gki,test-iommu'], ev, () => (iommuReady ? 0 : -EPROBE_DEFER)));
    k.drivers.registerDriver(drv('clk', ['gki,test-clk'], ev));
    // the consumer's driver rejects it once it may probe (as msm does a GPU whose GMU is disabled)
    k.drivers.registerDriver(drv('dma', ['gki,test-dma'], ev, () => -ENODEV));
    expect(k.drivers.devicesDeferred().map((d) => d.name)).toEqual(['a100000.iommu', 'a300000.dma']);
    iommuReady = true;
    k.drivers.deferredProbeInitcall();
    expect(ev.filter((e) => e.startsWith('probe a300000.dma'))).toEqual([`probe a300000.dma -${ENODEV}`]);
    expect(k.drivers.findDevice('a300000.dma')!.state).toBe('unbound');
    expect(k.drivers.devicesDeferred()).toEqual([]);
  });

  it('keeps waiting for a supplier that has a driver which defers', () => {
    const k = boot(soc(), { late: false });
    k.drivers.deferredProbeTimeoutSecs = 0;
    const ev: string[] = [];
    let iommuReady = false;
    k.drivers.registerDriver(drv('iommu', ['gki,test-iommu'], ev, (d) => (iommuReady ? 0 : d.errProbe(-EPROBE_DEFER, 'qcom_scm not ready'))));
    k.drivers.registerDriver(drv('clk', ['gki,test-clk'], ev));
    k.drivers.registerDriver(drv('dma', ['gki,test-dma'], ev));
    k.drivers.deferredProbeInitcall();
    expect(k.log.grep('platform a300000.dma: deferred probe pending: platform: supplier a100000.iommu not ready')).toHaveLength(1);
    expect(k.log.grep('platform a100000.iommu: deferred probe pending: iommu: qcom_scm not ready')).toHaveLength(1);
    iommuReady = true;
    k.drivers.registerDriver(drv('other', ['gki,test-uart'], ev));
    expect(k.drivers.findDevice('a300000.dma')!.state).toBe('bound');
    expect(ev.slice(-3)).toEqual(['probe a400000.uart 0', 'probe a100000.iommu 0', 'probe a300000.dma 0']);
  });

  it('an armed timeout fires from the clock and is pushed back by driver registrations', () => {
    const k = boot(soc(), { late: false });
    k.drivers.deferredProbeTimeoutSecs = 10;
    k.drivers.registerDriver(drv('uart', ['gki,test-uart'], [], (d) => d.errProbe(-EPROBE_DEFER, 'never')));
    k.drivers.deferredProbeInitcall();
    k.board.clock.advance(6e9);
    k.drivers.registerDriver(drv('clk', ['gki,test-clk'], []));
    k.board.clock.advance(6e9);
    k.drivers.pollDeferredProbeTimeout();
    expect(k.log.grep('deferred probe pending')).toHaveLength(0);
    k.board.clock.advance(4e9);
    k.drivers.pollDeferredProbeTimeout();
    expect(k.log.grep('deferred probe pending: uart: never')).toHaveLength(1);
  });
});

describe('unbinding', () => {
  function bound(): { k: Kernel; ev: string[]; iommu: Driver; clk: Driver; dma: Driver } {
    const k = boot();
    const ev: string[] = [];
    const iommu = drv('iommu', ['gki,test-iommu'], ev);
    const clk = drv('clk', ['gki,test-clk'], ev);
    const dma = drv('dma', ['gki,test-dma'], ev);
    for (const d of [iommu, clk, dma]) k.drivers.registerDriver(d);
    ev.length = 0;
    return { k, ev, iommu, clk, dma };
  }

  it('unregistering a supplier driver unbinds its consumers first, and they come back with it', () => {
    const { k, ev, iommu } = bound();
    expect(k.drivers.unregisterDriver(iommu)).toBe(0);
    expect(ev).toEqual(['remove a300000.dma', 'remove a100000.iommu']);
    expect(k.drivers.findDevice('a300000.dma')!.state).toBe('unbound');
    expect(k.drivers.snapshot().links.map((l) => l.status)).toEqual(['dormant', 'available']);
    ev.length = 0;
    k.drivers.registerDriver(iommu);
    expect(ev).toEqual(['probe a100000.iommu 0', 'probe a300000.dma 0']);
  });

  it('manual unbind of a supplier takes the consumer down first; unregistering a device removes its links', () => {
    const { k, ev } = bound();
    const clkDev = k.drivers.findDevice('a200000.clock-controller')!;
    expect(k.drivers.unbindDevice(clkDev)).toBe(0);
    expect(ev).toEqual(['remove a300000.dma', 'remove a200000.clock-controller']);
    expect(k.drivers.bindDevice(clkDev, 'clk')).toBe(0);
    expect(k.drivers.findDevice('a300000.dma')!.state).toBe('bound');
    ev.length = 0;
    expect(k.drivers.unregisterDevice(clkDev)).toBe(0);
    expect(ev).toEqual(['remove a300000.dma', 'remove a200000.clock-controller']);
    expect(k.drivers.snapshot().links.map((l) => l.supplier)).toEqual(['a100000.iommu']);
  });

  it('unregistering the bus device removes its children first', () => {
    const { k, ev } = bound();
    expect(k.drivers.unregisterDevice(k.drivers.findDevice('soc')!)).toBe(0);
    expect(ev).toEqual(['remove a300000.dma', 'remove a200000.clock-controller', 'remove a100000.iommu']);
    expect(k.drivers.listDevices().map((d) => d.name)).toEqual([]);
  });
});

describe('rejected operations leave the driver core unchanged', () => {
  it('duplicate drivers, unknown devices and drivers, bad links', () => {
    const k = boot();
    const ev: string[] = [];
    const uart = drv('uart', ['gki,test-uart'], ev);
    k.drivers.registerDriver(uart);
    const dma = k.drivers.findDevice('a300000.dma')!;
    const uartDev = k.drivers.findDevice('a400000.uart')!;
    const before = k.drivers.snapshot();
    expect(k.drivers.registerDriver(uart)).toBe(-EBUSY);
    expect(k.drivers.registerDriver(drv('uart', ['gki,test-dma'], ev))).toBe(-EBUSY);
    expect(k.log.grep("Error: Driver 'uart' is already registered, aborting...")).toHaveLength(2);
    expect(k.drivers.registerDriver({ name: '', probe: () => 0 })).toBe(-EINVAL);
    expect(k.drivers.unregisterDriver(drv('ghost', [], ev))).toBe(-ENODEV);
    const stranger = k.drivers.createDevice({ name: 'stranger' });
    expect(k.drivers.unregisterDevice(stranger)).toBe(-ENODEV);
    expect(k.drivers.unbindDevice(stranger)).toBe(-ENODEV);
    expect(k.drivers.registerDevice(k.drivers.createDevice({ name: 'a400000.uart' }))).toBe(-EEXIST);
    expect(k.drivers.registerDevice(uartDev)).toBe(-EEXIST);
    expect(k.drivers.registerDevice(k.drivers.createDevice({ name: 'orphan', parent: stranger }))).toBe(-ENODEV);
    expect(k.drivers.bindDevice(uartDev, 'uart')).toBe(-EBUSY);
    expect(k.drivers.bindDevice(dma, 'uart')).toBe(-ENODEV);
    expect(k.drivers.bindDevice(dma, 'nope')).toBe(-ENODEV);
    expect(k.drivers.unbindDevice(dma)).toBe(-ENODEV);
    // dma already depends on the iommu: the reverse link would be a cycle
    expect(k.drivers.deviceLinkAdd(k.drivers.findDevice('a100000.iommu')!, dma)).toBe(-EINVAL);
    expect(k.drivers.deviceLinkAdd(dma, dma)).toBe(-EINVAL);
    expect(k.drivers.snapshot()).toEqual(before);
    expect(ev).toEqual(['probe a400000.uart 0']);
  });

  it('suppressBindAttrs refuses manual bind and unbind', () => {
    const k = boot();
    const d: Driver = { name: 'smmu', ofMatchTable: [{ compatible: 'gki,test-iommu' }], suppressBindAttrs: true, probe: () => 0 };
    k.drivers.registerDriver(d);
    const dev = k.drivers.findDevice('a100000.iommu')!;
    const before = k.drivers.snapshot();
    expect(k.drivers.unbindDevice(dev)).toBe(-EPERM);
    expect(k.drivers.snapshot()).toEqual(before);
  });
});

describe('explicit device links', () => {
  it('a managed link defers the consumer; a stateless one does not', () => {
    const k = boot();
    const ev: string[] = [];
    const uart = k.drivers.findDevice('a400000.uart')!;
    const clk = k.drivers.findDevice('a200000.clock-controller')!;
    const link = k.drivers.deviceLinkAdd(uart, clk);
    expect(typeof link).toBe('object');
    expect(k.drivers.deviceLinkAdd(uart, clk)).toBe(link); // the existing link again
    k.drivers.registerDriver(drv('uart', ['gki,test-uart'], ev));
    expect(uart.deferReason).toBe('platform: supplier a200000.clock-controller not ready');
    if (typeof link === 'number') throw new Error('no link');
    expect(k.drivers.deviceLinkDel(link)).toBe(0);
    expect(k.drivers.deviceLinkDel(link)).toBe(-EINVAL);
    expect(k.drivers.deviceLinkAdd(uart, clk, { stateless: true })).not.toBe(-EINVAL);
    k.drivers.deferredProbeTrigger();
    expect(uart.state).toBe('bound');
  });
});

describe('MMIO and interrupts for drivers', () => {
  it('ioremap goes through the board bus to the device model, within the window', () => {
    const k = boot();
    const regs = new FakeRegs();
    k.board.bus.map(0x0a40_0000, 0x1000, regs);
    let io: IoMem | number = -1;
    k.drivers.registerDriver(
      drv('uart', ['gki,test-uart'], [], (d) => {
        io = d.ioremap(0);
        return typeof io === 'number' ? io : 0;
      }),
    );
    if (typeof io === 'number') throw new Error(`ioremap failed: ${io}`);
    const m: IoMem = io;
    m.write32(0x10, 0xdeadbeef);
    expect(regs.regs.get(0x10)).toBe(0xdeadbeef);
    regs.regs.set(0x20, 0x1234);
    expect(m.read32(0x20)).toBe(0x1234);
    m.write64(0x40, 0x1122334455667788n);
    expect([regs.regs.get(0x40), regs.regs.get(0x44)]).toEqual([0x55667788, 0x11223344]);
    expect(m.read64(0x40)).toBe(0x1122334455667788n);
    expect(() => m.read32(0x1000)).toThrow(KernelError);
    expect(() => m.read32(-4)).toThrow(KernelError);
    expect(k.drivers.snapshot().iomem).toEqual([{ start: 0x0a40_0000, end: 0x0a40_0fff, owner: 'a400000.uart' }]);
    // unbinding unmaps it and releases the claim
    k.drivers.unbindDevice(k.drivers.findDevice('a400000.uart')!);
    let err: unknown;
    try {
      m.read32(0);
    } catch (e) {
      err = e;
    }
    expect(err instanceof KernelError && err.errno).toBe(-EFAULT);
    expect(k.drivers.snapshot().iomem).toEqual([]);
  });

  it('a second claim of the same registers is -EBUSY; a missing resource is -EINVAL', () => {
    const root = soc([node('alias@400000', [prop.string('compatible', 'gki,test-alias'), prop.cells('reg', 0x40_0800, 0x100)])]);
    const k = boot(root);
    k.drivers.registerDriver(drv('uart', ['gki,test-uart'], [], (d) => (typeof d.ioremap(0) === 'number' ? -EIO : 0)));
    const results: number[] = [];
    k.drivers.registerDriver(
      drv('alias', ['gki,test-alias'], [], (d) => {
        const a = d.ioremap(0);
        const b = d.ioremap(1);
        results.push(typeof a === 'number' ? a : 0, typeof b === 'number' ? b : 0);
        return typeof a === 'number' ? a : 0;
      }),
    );
    expect(results).toEqual([-EBUSY, -EINVAL]);
    expect(k.drivers.snapshot().iomem.map((c) => c.owner)).toEqual(['a400000.uart']);
  });

  it('requestIrq delivers the device interrupt and is released on unbind', () => {
    const k = boot();
    const hits: string[] = [];
    let line = -1;
    k.drivers.registerDriver(
      drv('uart', ['gki,test-uart'], [], (d) => {
        line = d.irq(0);
        return requestIrq(d, line, (n, dev) => hits.push(`${n} ${dev.name}`));
      }),
    );
    expect(line).toBe(62); // SPI 30
    const l = k.board.irq.line(62);
    l.raise();
    expect(hits).toEqual(['62 a400000.uart']);
    l.lower();
    const uart = k.drivers.findDevice('a400000.uart')!;
    // a second, non-shared request for the line is refused
    expect(requestIrq(uart, 62, () => {})).toBe(-EBUSY);
    expect(requestIrq(uart, 5000, () => {})).toBe(-EINVAL);
    expect(uart.irq(3)).toBeLessThan(0);
    expect(k.log.grep('IRQ index 3 not found').map((r) => r.msg)).toEqual(['error -ENXIO: IRQ index 3 not found']); // dev_err_probe's form, as platform_get_irq
    k.drivers.unbindDevice(uart);
    expect(k.board.irq.hasHandler(62)).toBe(false);
    l.raise();
    expect(hits).toHaveLength(1);
    expect(k.drivers.snapshot().irqs).toEqual([]);
  });

  it('shared interrupts and free_irq', () => {
    const k = boot();
    const hits: string[] = [];
    k.drivers.registerDriver(drv('uart', ['gki,test-uart'], [], (d) => requestIrq(d, 40, () => hits.push('uart'), { shared: true })));
    k.drivers.registerDriver(drv('clk', ['gki,test-clk'], [], (d) => requestIrq(d, 40, () => hits.push('clk'), { shared: true })));
    k.board.irq.line(40).raise();
    expect(hits).toEqual(['uart', 'clk']);
    expect(k.drivers.snapshot().irqs).toEqual([{ irq: 40, owners: ['a400000.uart', 'a200000.clock-controller'] }]);
    const uart = k.drivers.findDevice('a400000.uart')!;
    expect(freeIrq(uart, 40)).toBe(0);
    expect(freeIrq(uart, 40)).toBe(-EINVAL);
    expect(k.drivers.snapshot().irqs).toEqual([{ irq: 40, owners: ['a200000.clock-controller'] }]);
  });

  it('one device with several handlers on a shared line frees each by its dev_id cookie', () => {
    const k = boot();
    const hits: string[] = [];
    const a = { name: 'ctx0' };
    const b = { name: 'ctx1' };
    k.drivers.registerDriver(
      drv('uart', ['gki,test-uart'], [], (d) => {
        requestIrq(d, 41, () => hits.push('ctx0'), { shared: true, devId: a });
        return requestIrq(d, 41, () => hits.push('ctx1'), { shared: true, devId: b });
      }),
    );
    const uart = k.drivers.findDevice('a400000.uart')!;
    const devres = uart.p.devres.length;
    expect(freeIrq(uart, 41, { name: 'other' })).toBe(-EINVAL);
    expect(freeIrq(uart, 41, b)).toBe(0);
    expect(uart.p.devres.length).toBe(devres - 1);
    k.board.irq.line(41).raise();
    expect(hits).toEqual(['ctx0']);
    expect(freeIrq(uart, 41, b)).toBe(-EINVAL);
    k.drivers.unbindDevice(uart);
    expect(k.drivers.snapshot().irqs).toEqual([]);
  });
});

describe('Kernel integration', () => {
  it('a devices list and resources come from the board DTB via populate', () => {
    const k = boot();
    expect(k.drivers.listDevices().map((d) => d.name)).toEqual(['soc', 'a100000.iommu', 'a200000.clock-controller', 'a300000.dma', 'a400000.uart']);
    const dma = k.drivers.findDevice('a300000.dma')!;
    expect(dma.resource('mem', 0)).toMatchObject({ start: 0x0a30_0000, end: 0x0a30_0fff });
    expect(dma.irq(0)).toBe(52);
    expect(dma.irqCount()).toBe(1);
  });
});

