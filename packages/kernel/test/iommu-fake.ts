import { Board, buildFdt, node, prop, ref, writeDtb, type DraftNode } from '@gki/hw';
import {
  EEXIST,
  EIO,
  ENOMEM,
  EOPNOTSUPP,
  Kernel,
  genericDeviceGroup,
  iommuDeviceRegister,
  iommuDeviceUnregister,
  iommuFwspecAddIds,
  iommuIotlbGatherAddRange,
  type Device,
  type Driver,
  type IommuDevice,
  type IommuDomain,
  type IommuDomainType,
  type IommuGroup,
  type IommuIotlbGather,
  type IommuOps,
  type KernelModule,
} from '@gki/kernel';

/*
 * A test-only IOMMU driver module ("fake_iommu") over a Map-based page table, and the board
 * it runs on. Not part of the package: the IOMMU core is exercised through the real module
 * loader, driver core and OF layer.
 */

export const SZ_4K = 0x1000;
export const SZ_2M = 0x20_0000;
export const SZ_1G = 0x4000_0000;
export const PGSIZES = SZ_4K + SZ_2M + SZ_1G;

export interface FakePte {
  pa: number;
  size: number;
  prot: number;
}

/** The fake driver's domain: its page table and a journal of driver calls. */
export interface FakeDomain extends IommuDomain {
  readonly pt: Map<number, FakePte>;
  readonly calls: string[];
  readonly syncs: { start: number; end: number; pgsize: number }[];
  readonly attached: Set<Device>;
  /** Page-map calls still allowed to succeed; then mapPages fails with -ENOMEM (null: never). */
  failMapAfter: number | null;
  freed: boolean;
}

export interface FakeIommuState {
  kernel: Kernel | null;
  iommu: IommuDevice | null;
  probed: string[];
  released: string[];
  domains: FakeDomain[];
  /** attachDev fails with -EIO for these device names. */
  failAttach: Set<string>;
  /** Types domainAlloc refuses. */
  refuseTypes: Set<IommuDomainType>;
}

const hex = (n: number) => '0x' + n.toString(16);

function fakeDomain(type: IommuDomainType, st: FakeIommuState): FakeDomain {
  const d: FakeDomain = {
    type,
    pgsizeBitmap: 0, // the core copies ops.pgsizeBitmap
    geometry: { apertureStart: 0, apertureEnd: 2 ** 48 - 1, forceAperture: true },
    pt: new Map(),
    calls: [],
    syncs: [],
    attached: new Set(),
    failMapAfter: null,
    freed: false,
    ops: {
      attachDev(dom, dev) {
        if (st.failAttach.has(dev.name)) return -EIO;
        for (const other of st.domains) other.attached.delete(dev);
        (dom as FakeDomain).attached.add(dev);
        return 0;
      },
      mapPages(dom, iova, paddr, pgsize, pgcount, prot, mapped) {
        const fd = dom as FakeDomain;
        fd.calls.push(`map ${hex(iova)} ${hex(pgsize)} x${pgcount}`);
        for (let i = 0; i < pgcount; i++) {
          if (fd.failMapAfter !== null && fd.failMapAfter-- <= 0) return -ENOMEM;
          const va = iova + i * pgsize;
          if (fd.pt.has(va)) return -EEXIST;
          fd.pt.set(va, { pa: paddr + i * pgsize, size: pgsize, prot });
          mapped.mapped += pgsize;
        }
        return 0;
      },
      unmapPages(dom, iova, pgsize, pgcount, gather) {
        const fd = dom as FakeDomain;
        fd.calls.push(`unmap ${hex(iova)} ${hex(pgsize)} x${pgcount}`);
        let n = 0;
        for (let i = 0; i < pgcount; i++) {
          const va = iova + i * pgsize;
          const pte = fd.pt.get(va);
          if (pte && pte.size > pgsize) break; // would need a block split: not modelled
          if (pte && pte.size === pgsize) {
            fd.pt.delete(va);
            n += pgsize;
            continue;
          }
          if (pgsize === SZ_4K) break; // a hole
          // like io-pgtable, a larger size over a "table" of smaller pages removes them all
          const inside = [...fd.pt.keys()].filter((k) => k >= va && k < va + pgsize);
          if (inside.length === 0) break;
          for (const k of inside) fd.pt.delete(k);
          n += pgsize;
        }
        if (n > 0) {
          gather.pgsize = pgsize;
          iommuIotlbGatherAddRange(gather, iova, n);
        }
        return n;
      },
      iotlbSync(dom, gather: IommuIotlbGather) {
        (dom as FakeDomain).syncs.push({ start: gather.start, end: gather.end, pgsize: gather.pgsize });
      },
      flushIotlbAll(dom) {
        (dom as FakeDomain).calls.push('flush all');
      },
      iovaToPhys(dom, iova) {
        const fd = dom as FakeDomain;
        for (const size of [SZ_4K, SZ_2M, SZ_1G]) {
          const pte = fd.pt.get(iova - (iova % size));
          if (pte?.size === size) return pte.pa + (iova % size);
        }
        return 0;
      },
      free(dom) {
        (dom as FakeDomain).freed = true;
        st.domains.splice(st.domains.indexOf(dom as FakeDomain), 1);
      },
    },
  };
  return d;
}

/** The fake IOMMU module: a platform driver for "gki,fake-iommu" registering IommuOps from probe. */
export function fakeIommuModule(st: FakeIommuState): KernelModule {
  const groupsBySid = new Map<number, IommuGroup>();
  let ops: IommuOps | null = null;
  const drv: Driver = {
    name: 'fake-iommu',
    ofMatchTable: [{ compatible: 'gki,fake-iommu' }],
    suppressBindAttrs: true,
    probe(dev) {
      st.iommu = { dev, ops: ops!, fwnode: dev.ofNode };
      return iommuDeviceRegister(st.kernel!, st.iommu);
    },
    remove() {
      if (st.iommu) iommuDeviceUnregister(st.kernel!, st.iommu);
      st.iommu = null;
    },
  };
  return {
    name: 'fake_iommu',
    version: '0.0.1',
    license: 'GPL v2',
    init(ctx) {
      st.kernel = ctx.kernel;
      ops = {
        owner: ctx.self,
        pgsizeBitmap: PGSIZES,
        probeDevice(dev) {
          st.probed.push(dev.name);
          return 0;
        },
        releaseDevice(dev) {
          st.released.push(dev.name);
        },
        ofXlate(dev, args) {
          return iommuFwspecAddIds(dev, [args[0]!]);
        },
        deviceGroup(dev) {
          // masters sharing a stream ID cannot be told apart: one group
          const sid = ctx.kernel.iommu.fwspec(dev)!.ids[0]!;
          const g = groupsBySid.get(sid);
          if (g && ctx.kernel.iommu.allGroups().includes(g)) return g;
          const ng = genericDeviceGroup(dev);
          groupsBySid.set(sid, ng);
          return ng;
        },
        domainAlloc(type) {
          if (st.refuseTypes.has(type) || type === 'blocked') return -EOPNOTSUPP;
          const d = fakeDomain(type, st);
          st.domains.push(d);
          return d;
        },
      };
      return ctx.kernel.drivers.registerDriver(drv);
    },
    exit(ctx) {
      ctx.kernel.drivers.unregisterDriver(drv);
    },
  };
}

export function newFakeState(): FakeIommuState {
  return { kernel: null, iommu: null, probed: [], released: [], domains: [], failAttach: new Set(), refuseTypes: new Set() };
}

/** A master driver ("test_dma") for "test,dma" that records its probes and removes. */
export function masterModule(events: string[]): KernelModule {
  const drv: Driver = {
    name: 'test-dma',
    ofMatchTable: [{ compatible: 'test,dma' }],
    probe(dev) {
      events.push(`probe ${dev.name}`);
      return 0;
    },
    remove(dev) {
      events.push(`remove ${dev.name}`);
    },
  };
  return {
    name: 'test_dma',
    version: '0.0.1',
    license: 'GPL v2',
    init: (ctx) => ctx.kernel.drivers.registerDriver(drv),
    exit: (ctx) => void ctx.kernel.drivers.unregisterDriver(drv),
  };
}

/**
 * The board: 16 MiB of RAM at 0x40000000, a GIC, and under a simple-bus:
 *   2b400000.iommu  gki,fake-iommu, #iommu-cells = 1
 *   a000000.dma, a001000.dma  iommus <&smmu 7>  (same stream ID: one group)
 *   a002000.dma     iommus <&smmu 8>, dma-coherent
 *   a003000.dma     no iommus: direct mapping
 */
export function fakeBoard(extra: DraftNode[] = []): Board {
  const dma = (addr: number, props: ReturnType<typeof prop.empty>[]) =>
    node(`dma@${addr.toString(16)}`, [prop.string('compatible', 'test,dma'), prop.cells('reg', addr, 0x1000), ...props]);
  const fdt = buildFdt({
    root: node('', [prop.u32('#address-cells', 1), prop.u32('#size-cells', 1)], [
      node('memory@40000000', [prop.string('device_type', 'memory'), prop.cells('reg', 0x4000_0000, 0x100_0000)]),
      node('gic: interrupt-controller@8000000', [prop.string('compatible', 'arm,gic-v3'), prop.empty('interrupt-controller'), prop.u32('#interrupt-cells', 3), prop.cells('reg', 0x0800_0000, 0x1_0000)]),
      node('soc', [prop.string('compatible', 'simple-bus'), prop.u32('#address-cells', 1), prop.u32('#size-cells', 1), prop.empty('ranges'), prop.u32('interrupt-parent', ref('gic'))], [
        node('smmu: iommu@2b400000', [prop.string('compatible', 'gki,fake-iommu'), prop.cells('reg', 0x2b40_0000, 0x2_0000), prop.u32('#iommu-cells', 1)]),
        dma(0x0a00_0000, [prop.cells('iommus', ref('smmu'), 7)]),
        dma(0x0a00_1000, [prop.cells('iommus', ref('smmu'), 7)]),
        dma(0x0a00_2000, [prop.cells('iommus', ref('smmu'), 8), prop.empty('dma-coherent')]),
        dma(0x0a00_3000, []),
        ...extra,
      ]),
    ]),
  });
  return Board.fromDtb(writeDtb(fdt));
}

/** Boots the fake board; by default the masters' module loads first, so they wait for the IOMMU. */
export function bootFake(load = ['test_dma', 'fake_iommu']): { k: Kernel; st: FakeIommuState; events: string[] } {
  const st = newFakeState();
  const events: string[] = [];
  const k = Kernel.boot(fakeBoard(), { builtin: [], modules: [masterModule(events), fakeIommuModule(st)], load });
  return { k, st, events };
}

export function dev(k: Kernel, name: string): Device {
  const d = k.drivers.findDevice(name);
  if (!d) throw new Error(`no device ${name}`);
  return d;
}
