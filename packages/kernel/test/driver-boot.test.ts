import { describe, expect, it } from 'vitest';
import { Board, buildFdt, node, prop, ref, writeDtb } from '@gki/hw';
import { ETIMEDOUT, Kernel, type KernelModule } from '@gki/kernel';

/** A board whose DMA master sits behind an IOMMU (`iommus = <&smmu 7>`). */
function board(): Board {
  const fdt = buildFdt({
    root: node('', [prop.u32('#address-cells', 1), prop.u32('#size-cells', 1)], [
      node('memory@40000000', [prop.string('device_type', 'memory'), prop.cells('reg', 0x4000_0000, 0x10_0000)]),
      node('gic: interrupt-controller@8000000', [prop.string('compatible', 'arm,gic-v3'), prop.empty('interrupt-controller'), prop.u32('#interrupt-cells', 3), prop.cells('reg', 0x0800_0000, 0x1_0000)]),
      node('soc', [prop.string('compatible', 'simple-bus'), prop.u32('#address-cells', 1), prop.u32('#size-cells', 1), prop.empty('ranges'), prop.u32('interrupt-parent', ref('gic'))], [
        node('smmu: iommu@2b400000', [prop.string('compatible', 'test,smmu'), prop.cells('reg', 0x2b40_0000, 0x2_0000), prop.u32('#iommu-cells', 1)]),
        node('dma@a000000', [prop.string('compatible', 'test,dma'), prop.cells('reg', 0x0a00_0000, 0x1000), prop.cells('iommus', ref('smmu'), 7)]),
      ]),
    ]),
  });
  return Board.fromDtb(writeDtb(fdt));
}

/** Modules registering a platform driver from init and unregistering it from exit. */
function driverModule(name: string, compatible: string, probe: (k: Kernel) => number): KernelModule {
  const drv = { name, ofMatchTable: [{ compatible }], probe: () => probe(kernel!) };
  let kernel: Kernel | undefined;
  return {
    name,
    version: '0.1.0',
    license: 'GPL',
    init(ctx) {
      kernel = ctx.kernel;
      return ctx.kernel.drivers.registerDriver(drv);
    },
    exit(ctx) {
      ctx.kernel.drivers.unregisterDriver(drv);
    },
  };
}

/** The DMA driver treats its IOMMU like of_iommu does: wait for it, until the timeout. */
function dmaProbe(k: Kernel): number {
  const smmu = k.drivers.findDevice('2b400000.iommu');
  if (smmu?.state === 'bound') return 0;
  const dev = k.drivers.findDevice('a000000.dma')!;
  const r = k.drivers.deferredProbeCheckState(dev);
  if (r === -ETIMEDOUT) {
    dev.warn('probed WITHOUT translation');
    return 0;
  }
  return r;
}

describe('Kernel.boot with the driver core', () => {
  it('a master loaded before its IOMMU waits for it and binds at the late initcall', () => {
    const image = {
      builtin: [],
      modules: [driverModule('test_dma', 'test,dma', dmaProbe), driverModule('test_smmu', 'test,smmu', () => 0)],
      load: ['test_dma', 'test_smmu'],
    };
    const k = Kernel.boot(board(), image);
    expect(k.drivers.listDevices().map((d) => `${d.name} ${d.driver} ${d.state}`)).toEqual([
      'soc simple-pm-bus bound',
      '2b400000.iommu test_smmu bound',
      'a000000.dma test_dma bound',
    ]);
    expect(k.log.grep('probe deferral - supplier 2b400000.iommu not ready')).toHaveLength(1);
    expect(k.log.grep('deferred probe pending')).toEqual([]);
    expect(k.log.grep('WITHOUT translation')).toEqual([]);
    // unloading the IOMMU module unbinds the master first
    expect(k.modules.unload('test_smmu')).toBe(0);
    expect(k.drivers.findDevice('a000000.dma')!.state).toBe('unbound');
  });

  it('without the IOMMU module the master probes untranslated after the timeout; a late IOMMU does not retrofit it', () => {
    const image = {
      builtin: [],
      modules: [driverModule('test_dma', 'test,dma', dmaProbe), driverModule('test_smmu', 'test,smmu', () => 0)],
      load: ['test_dma'],
    };
    const k = Kernel.boot(board(), image);
    expect(k.log.grep('test_dma a000000.dma: deferred probe timeout, ignoring dependency')).toHaveLength(1);
    expect(k.log.grep('probed WITHOUT translation')).toHaveLength(1);
    expect(k.drivers.findDevice('a000000.dma')!.state).toBe('bound');
    expect(k.modules.modprobe('test_smmu')).toBe(0);
    expect(k.drivers.findDevice('2b400000.iommu')!.state).toBe('bound');
    expect(k.log.grep('probed WITHOUT translation')).toHaveLength(1);
  });
});
