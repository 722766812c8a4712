/**
 * The no-op IOMMU stack the format packages' stack benches (packages/format-arm-lpae and
 * packages/format-arm-v7s, bench/stack.ts) measure the IOMMU core over: a minimal IOMMU driver
 * module `noop_iommu` whose domains hold one table of the bench's format and whose TLB
 * operations do nothing (tlb_add_page only widens the gather, as every driver's does;
 * iotlb_sync has nothing to invalidate), a `noop_master` module that binds the masters so they
 * get their default DMA domain, and a board whose DT has the IOMMU and two masters behind it.
 *
 * The format is a parameter (its table constructor, page sizes, address sizes, aperture); the
 * benches keep their cases and rows. Each bench process runs one format, so the domain ops
 * below see one table class per process, as they did when each bench had its own copy.
 */
import { Board, buildFdt, node, prop, ref, writeDtb } from '@gki/hw';
import {
  EINVAL,
  ENODEV,
  Kernel,
  iommuDeviceRegister,
  iommuDomainSetPgtblOps,
  iommuFwspecAddIds,
  iommuIotlbGatherAddPage,
  type Device,
  type IommuDomain,
  type IommuDomainGeometry,
  type IommuDomainOps,
  type IommuDomainType,
  type IommuOps,
  type KernelModule,
} from '@gki/kernel';
import type { IommuFlushOps, IoPgtableCfg, IoPgtableOps } from '@gki/io-pgtable-core';

/** A format's table as the noop driver uses it: the io_pgtable_ops plus its own free. */
export interface NoopPgtbl extends IoPgtableOps {
  free(): void;
}

/** What differs between the benches: the format and how the driver configures it. */
export interface NoopFormat<T extends NoopPgtbl> {
  /** The driver's and the table's page sizes (iommu_ops.pgsize_bitmap, cfg.pgsize_bitmap). */
  pgsizeBitmap: number;
  /** Input / output address sizes of the table configuration. */
  ias: number;
  oas: number;
  /** Inclusive end of the domains' aperture (which starts at 0 and is forced). */
  apertureEnd: number;
  /** The format's constructor (e.g. createArmLpaeOps(kernel, 'ARM_64_LPAE_S1', cfg, cookie)). */
  alloc(kernel: Kernel, cfg: IoPgtableCfg, cookie: NoopDomain<T>): T | null;
}

/** The noop driver's domain: a table of the bench's format and nothing else. */
export class NoopDomain<T extends NoopPgtbl = NoopPgtbl> implements IommuDomain {
  pgsizeBitmap = 0;
  // Initialised here rather than assigned in the constructor, and only its end set there: the
  // field then holds this object from the start, as it did in the benches' own copies (an
  // assignment after the field's `undefined` would widen the field's type in V8's map).
  geometry: IommuDomainGeometry = { apertureStart: 0, apertureEnd: 2 ** 48 - 1, forceAperture: true };
  pgtbl: T | null = null;
  pgtblOps: T | null = null;
  constructor(
    readonly type: IommuDomainType,
    readonly ops: IommuDomainOps,
    apertureEnd: number,
  ) {
    this.geometry.apertureEnd = apertureEnd;
  }
}

/** The io-pgtable TLB callbacks: nothing to invalidate; add_page feeds the core's gather. */
export const NOOP_FLUSH: IommuFlushOps = {
  tlbFlushAll() {},
  tlbFlushWalk() {},
  tlbAddPage(gather, iova, granule, cookie) {
    if (gather) iommuIotlbGatherAddPage(cookie as NoopDomain, gather, iova, granule);
  },
};

/*
 * `NOOP_PROTO.isPrototypeOf(x)` is `x instanceof NoopDomain`, but stays cheap under tsx, whose
 * keepNames transform redefines each class's `name` and leaves the class object in a shape
 * for which V8 compiles `instanceof` to a generic lookup (~15 ns instead of ~2 ns).
 */
const NOOP_PROTO = NoopDomain.prototype;

function pgtblOf(domain: IommuDomain): NoopPgtbl | null {
  return NOOP_PROTO.isPrototypeOf(domain) ? (domain as NoopDomain).pgtbl : null;
}

/** The driver's domain ops; mapPages / unmapPages forward to the table unchanged. */
export const NOOP_DOMAIN_OPS: IommuDomainOps = {
  attachDev: () => 0,
  mapPages(domain, iova, paddr, pgsize, pgcount, prot, mapped) {
    const p = pgtblOf(domain);
    return p ? p.mapPages(iova, paddr, pgsize, pgcount, prot, mapped) : -ENODEV;
  },
  unmapPages(domain, iova, pgsize, pgcount, gather) {
    const p = pgtblOf(domain);
    return p ? p.unmapPages(iova, pgsize, pgcount, gather) : 0;
  },
  iotlbSync() {},
  flushIotlbAll() {},
  iovaToPhys(domain, iova) {
    const p = pgtblOf(domain);
    return p ? p.iovaToPhys(iova) : 0;
  },
  free(domain) {
    const p = pgtblOf(domain);
    iommuDomainSetPgtblOps(domain, null);
    if (p) p.free();
    if (NOOP_PROTO.isPrototypeOf(domain)) (domain as NoopDomain).pgtbl = null;
  },
};

/** The table configuration the driver uses for `fmt` (a fresh object: formats may modify it). */
export function noopCfg(fmt: NoopFormat<NoopPgtbl>): IoPgtableCfg {
  return { quirks: 0, pgsizeBitmap: fmt.pgsizeBitmap, ias: fmt.ias, oas: fmt.oas, coherentWalk: true, tlb: NOOP_FLUSH };
}

/** Module noop_iommu: a platform driver for "gki,noop-iommu" whose domains hold `fmt` tables. */
export function noopIommuModule<T extends NoopPgtbl>(fmt: NoopFormat<T>): KernelModule {
  return {
    name: 'noop_iommu',
    version: '0.0.1',
    license: 'GPL v2',
    init(ctx) {
      const kernel = ctx.kernel;
      const ops: IommuOps = {
        owner: ctx.self,
        pgsizeBitmap: fmt.pgsizeBitmap,
        probeDevice: () => 0,
        ofXlate: (dev, args) => iommuFwspecAddIds(dev, [args[0]!]),
        domainAlloc(type) {
          if (type !== 'dma' && type !== 'unmanaged') return -EINVAL;
          const d = new NoopDomain<T>(type, NOOP_DOMAIN_OPS, fmt.apertureEnd);
          const cfg = noopCfg(fmt);
          d.pgtbl = fmt.alloc(kernel, cfg, d);
          if (!d.pgtbl) return -ENODEV;
          d.pgsizeBitmap = cfg.pgsizeBitmap;
          // mapPages / unmapPages above forward to the table unchanged: publish it
          iommuDomainSetPgtblOps(d, d.pgtbl);
          return d;
        },
      };
      return kernel.drivers.registerDriver({
        name: 'noop-iommu',
        ofMatchTable: [{ compatible: 'gki,noop-iommu' }],
        probe: (dev) => iommuDeviceRegister(kernel, { dev, ops, fwnode: dev.ofNode }),
      });
    },
  };
}

/** Module noop_master: binds the masters so that they get their default domain. */
export function noopMasterModule(): KernelModule {
  return {
    name: 'noop_master',
    version: '0.0.1',
    license: 'GPL v2',
    init: (ctx) => ctx.kernel.drivers.registerDriver({ name: 'noop-master', ofMatchTable: [{ compatible: 'gki,noop-master' }], probe: () => 0 }),
  };
}

/** RAM base of the board (64 MiB). */
export const NOOP_RAM = 0x4000_0000;

/** The board: RAM, a GIC, the noop IOMMU and two dma-coherent masters (stream ids 1 and 2). */
export function noopBoard(): Board {
  const master = (addr: number, sid: number) =>
    node(`dma@${addr.toString(16)}`, [prop.string('compatible', 'gki,noop-master'), prop.cells('reg', addr, 0x1000), prop.cells('iommus', ref('iommu'), sid), prop.empty('dma-coherent')]);
  const fdt = buildFdt({
    root: node('', [prop.u32('#address-cells', 1), prop.u32('#size-cells', 1)], [
      node(`memory@${NOOP_RAM.toString(16)}`, [prop.string('device_type', 'memory'), prop.cells('reg', NOOP_RAM, 0x400_0000)]),
      node('gic: interrupt-controller@8000000', [prop.string('compatible', 'arm,gic-v3'), prop.empty('interrupt-controller'), prop.u32('#interrupt-cells', 3), prop.cells('reg', 0x0800_0000, 0x1_0000)]),
      node('soc', [prop.string('compatible', 'simple-bus'), prop.u32('#address-cells', 1), prop.u32('#size-cells', 1), prop.empty('ranges'), prop.u32('interrupt-parent', ref('gic'))], [
        node('iommu: iommu@2b400000', [prop.string('compatible', 'gki,noop-iommu'), prop.cells('reg', 0x2b40_0000, 0x1_0000), prop.u32('#iommu-cells', 1)]),
        master(0x0a00_0000, 1),
        master(0x0a00_1000, 2),
      ]),
    ]),
  });
  return Board.fromDtb(writeDtb(fdt));
}

/** A booted noop stack: the kernel and its two masters (m0 at 0xa000000, m1 at 0xa001000). */
export interface NoopStack {
  kernel: Kernel;
  m0: Device;
  m1: Device;
}

/** Boots the board with noop_iommu over `fmt` and noop_master loaded; `what` names the bench in errors. */
export function bootNoopStack<T extends NoopPgtbl>(fmt: NoopFormat<T>, what: string): NoopStack {
  const kernel = Kernel.boot(noopBoard(), { builtin: [], modules: [noopIommuModule(fmt), noopMasterModule()], load: ['noop_iommu', 'noop_master'] });
  const find = (name: string): Device => {
    const d = kernel.drivers.findDevice(name);
    if (!d) throw new Error(`${what}: no device ${name}`);
    return d;
  };
  return { kernel, m0: find('a000000.dma'), m1: find('a001000.dma') };
}
