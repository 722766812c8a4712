/**
 * The IOMMU core's own cost over this format: iommu_map / iommu_unmap and dma_map_single /
 * dma_unmap_single of one 4 KiB page on a domain of a minimal IOMMU driver ("noop_iommu",
 * defined here) whose page tables are this package's real ARM_64_LPAE_S1 tables and whose TLB
 * operations do nothing (tlb_add_page only widens the gather, as every driver's does; iotlb_sync
 * has nothing to invalidate). Against the format's own map_pages / unmap_pages of the same
 * page on a table configured the same way, in the same process, so the ratio is what the core
 * (argument checks, page-size split, gather, driver op) and the DMA layer (IOVA allocator,
 * mapping records) add. The same stack through arm_smmu_v3 on the SMMUv3 model, where every
 * unmap also sends a TLBI and a CMD_SYNC through the modelled command queue, is measured in
 * @gki/smmu-v3's bench.
 *
 * The driver is a real kernel module: the board's DT has an IOMMU node and a master behind it,
 * Kernel.boot probes both, and the master gets a default DMA domain with the DMA API's IOVA
 * allocator (1024 single-page mappings are kept live while the DMA rows run, as a busy device
 * would have).
 */
import { Board, buildFdt, node, prop, ref, writeDtb } from '@gki/hw';
import {
  DMA_BIDIRECTIONAL,
  DMA_MAPPING_ERROR,
  EINVAL,
  ENODEV,
  Kernel,
  dmaMapSingle,
  dmaUnmapSingle,
  iommuAttachDevice,
  iommuDeviceRegister,
  iommuDomainAlloc,
  iommuDomainSetPgtblOps,
  iommuFwspecAddIds,
  iommuIotlbGatherAddPage,
  iommuIotlbSync,
  iommuIovaToPhys,
  iommuMap,
  iommuUnmap,
  type Device,
  type IommuDomain,
  type IommuDomainGeometry,
  type IommuDomainOps,
  type IommuDomainType,
  type IommuOps,
  type KernelModule,
} from '@gki/kernel';
import { IOMMU_CACHE, IOMMU_READ, IOMMU_WRITE, iommuIotlbGatherInit, type IommuFlushOps, type IoPgtableCfg } from '@gki/io-pgtable-core';
import { createArmLpaeOps, type ArmLpaeIoPgtable } from '../src/index.js';

const SZ_4K = 0x1000;
const SZ_2M = 0x20_0000;
const PROT = IOMMU_READ | IOMMU_WRITE | IOMMU_CACHE;
const IOVA_BASE = 2 ** 32;
const PA_BASE = 2 ** 36;
const RAM = 0x4000_0000;
/** Pages per sample (one call per page). */
export const STACK_PAGES = 4096;
/** Live single-page DMA mappings kept while the DMA rows run. */
const LIVE = 1024;

/** The noop driver's domain: an io-pgtable-arm table and nothing else. */
class NoopDomain implements IommuDomain {
  pgsizeBitmap = 0;
  geometry: IommuDomainGeometry = { apertureStart: 0, apertureEnd: 2 ** 48 - 1, forceAperture: true };
  pgtbl: ArmLpaeIoPgtable | null = null;
  pgtblOps: ArmLpaeIoPgtable | null = null;
  constructor(
    readonly type: IommuDomainType,
    readonly ops: IommuDomainOps,
  ) {}
}

/** The io-pgtable TLB callbacks: nothing to invalidate; add_page feeds the core's gather. */
const NOOP_FLUSH: IommuFlushOps = {
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

function pgtblOf(domain: IommuDomain): ArmLpaeIoPgtable | null {
  return NOOP_PROTO.isPrototypeOf(domain) ? (domain as NoopDomain).pgtbl : null;
}

const NOOP_DOMAIN_OPS: IommuDomainOps = {
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

/** Module noop_iommu: a platform driver for "gki,noop-iommu" registering the ops above. */
function noopIommuModule(): KernelModule {
  return {
    name: 'noop_iommu',
    version: '0.0.1',
    license: 'GPL v2',
    init(ctx) {
      const kernel = ctx.kernel;
      const ops: IommuOps = {
        owner: ctx.self,
        pgsizeBitmap: 0x40201000,
        probeDevice: () => 0,
        ofXlate: (dev, args) => iommuFwspecAddIds(dev, [args[0]!]),
        domainAlloc(type) {
          if (type !== 'dma' && type !== 'unmanaged') return -EINVAL;
          const d = new NoopDomain(type, NOOP_DOMAIN_OPS);
          const cfg: IoPgtableCfg = { quirks: 0, pgsizeBitmap: 0x40201000, ias: 48, oas: 44, coherentWalk: true, tlb: NOOP_FLUSH };
          d.pgtbl = createArmLpaeOps(kernel, 'ARM_64_LPAE_S1', cfg, d);
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
function masterModule(): KernelModule {
  return {
    name: 'noop_master',
    version: '0.0.1',
    license: 'GPL v2',
    init: (ctx) => ctx.kernel.drivers.registerDriver({ name: 'noop-master', ofMatchTable: [{ compatible: 'gki,noop-master' }], probe: () => 0 }),
  };
}

function board(): Board {
  const master = (addr: number, sid: number) =>
    node(`dma@${addr.toString(16)}`, [prop.string('compatible', 'gki,noop-master'), prop.cells('reg', addr, 0x1000), prop.cells('iommus', ref('iommu'), sid), prop.empty('dma-coherent')]);
  const fdt = buildFdt({
    root: node('', [prop.u32('#address-cells', 1), prop.u32('#size-cells', 1)], [
      node(`memory@${RAM.toString(16)}`, [prop.string('device_type', 'memory'), prop.cells('reg', RAM, 0x400_0000)]),
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

export interface StackCase {
  id: string;
  name: string;
  run: () => void;
  before?: () => void;
  after?: () => void;
  vs?: string;
  goal?: number;
  unit: string;
}

function check(cond: boolean, what: string): void {
  if (!cond) throw new Error(`lpae stack bench: ${what}`);
}

/**
 * The cases, checked once (untimed) before they are returned. `done()` checks the end state
 * (no mapping left, no page leaked) after the bench ran them.
 */
export function stackCases(): { cases: StackCase[]; done: () => void } {
  const k = Kernel.boot(board(), { builtin: [], modules: [noopIommuModule(), masterModule()], load: ['noop_iommu', 'noop_master'] });
  const find = (name: string): Device => {
    const d = k.drivers.findDevice(name);
    check(!!d, `no device ${name}`);
    return d!;
  };
  const m0 = find('a000000.dma');
  const m1 = find('a001000.dma');

  // The format alone, configured as the driver configures its tables, with the driver's TLB
  // callbacks (tlb_add_page feeding the gather through the core's helper, as in the kernel).
  const cookie = new NoopDomain('unmanaged', NOOP_DOMAIN_OPS);
  cookie.pgsizeBitmap = 0x40201000;
  const cfg: IoPgtableCfg = { quirks: 0, pgsizeBitmap: 0x40201000, ias: 48, oas: 44, coherentWalk: true, tlb: NOOP_FLUSH };
  const fmt = createArmLpaeOps(k, 'ARM_64_LPAE_S1', cfg, cookie);
  check(!!fmt, 'format alloc');
  const ops = fmt!;
  const mapped = { mapped: 0 };
  const gather = iommuIotlbGatherInit();
  const fmtMap = () => {
    for (let i = 0; i < STACK_PAGES; i++) if (ops.mapPages(IOVA_BASE + i * SZ_4K, PA_BASE + i * SZ_4K, SZ_4K, 1, PROT, mapped) !== 0) throw new Error('map_pages failed');
  };
  const fmtUnmap = () => {
    for (let i = 0; i < STACK_PAGES; i++) if (ops.unmapPages(IOVA_BASE + i * SZ_4K, SZ_4K, 1, gather) !== SZ_4K) throw new Error('unmap_pages failed');
  };
  const fmtUnmapAll = () => {
    for (let i = 0; i < STACK_PAGES; i += 512) check(ops.unmapPages(IOVA_BASE + i * SZ_4K, SZ_4K, 512, gather) === 512 * SZ_4K, 'unmap_pages of the range');
  };
  // what iommu_unmap of the whole range does (iommu_pgsize picks 2 MiB for it): the level-2
  // table entries go, and with them the level-3 tables
  const fmtUnmapTables = () => {
    check(ops.unmapPages(IOVA_BASE, SZ_2M, (STACK_PAGES * SZ_4K) / SZ_2M, gather) === STACK_PAGES * SZ_4K, 'unmap_pages of the tables');
  };
  // unmap_pages with what Linux's iommu_unmap does around it: a gather per call, then the
  // driver's iotlb_sync on it (the core's iommu_iotlb_sync also re-initialises it)
  const syncGather = iommuIotlbGatherInit();
  const fmtUnmapSync = () => {
    for (let i = 0; i < STACK_PAGES; i++) {
      if (ops.unmapPages(IOVA_BASE + i * SZ_4K, SZ_4K, 1, syncGather) !== SZ_4K) throw new Error('unmap_pages failed');
      iommuIotlbSync(cookie, syncGather);
    }
  };
  const pa = RAM + 0x10_0000;
  const fmtPair = () => {
    for (let i = 0; i < STACK_PAGES; i++) {
      if (ops.mapPages(IOVA_BASE, pa, SZ_4K, 1, PROT, mapped) !== 0) throw new Error('map_pages failed');
      if (ops.unmapPages(IOVA_BASE, SZ_4K, 1, gather) !== SZ_4K) throw new Error('unmap_pages failed');
    }
  };

  // The stack: an unmanaged domain on master 0; the DMA API on master 1's default DMA domain.
  const d = iommuDomainAlloc(m0);
  if (typeof d === 'number') throw new Error(`domain alloc: ${d}`);
  check(iommuAttachDevice(d, m0) === 0, 'attach');
  const iommuMapAll = () => {
    for (let i = 0; i < STACK_PAGES; i++) if (iommuMap(d, IOVA_BASE + i * SZ_4K, PA_BASE + i * SZ_4K, SZ_4K, PROT) !== 0) throw new Error('iommu_map failed');
  };
  const iommuUnmapEach = () => {
    for (let i = 0; i < STACK_PAGES; i++) if (iommuUnmap(d, IOVA_BASE + i * SZ_4K, SZ_4K) !== SZ_4K) throw new Error('iommu_unmap failed');
  };
  const iommuUnmapAll = () => check(iommuUnmap(d, IOVA_BASE, STACK_PAGES * SZ_4K) === STACK_PAGES * SZ_4K, 'iommu_unmap of the range');
  const iommuPair = () => {
    for (let i = 0; i < STACK_PAGES; i++) {
      if (iommuMap(d, IOVA_BASE, pa, SZ_4K, PROT) !== 0) throw new Error('iommu_map failed');
      if (iommuUnmap(d, IOVA_BASE, SZ_4K) !== SZ_4K) throw new Error('iommu_unmap failed');
    }
  };
  const live: number[] = [];
  for (let i = 0; i < LIVE; i++) {
    const a = dmaMapSingle(m1, pa + i * SZ_4K, SZ_4K, DMA_BIDIRECTIONAL);
    check(a !== DMA_MAPPING_ERROR, 'live DMA mapping');
    live.push(a);
  }
  const dmaPair = () => {
    for (let i = 0; i < STACK_PAGES; i++) {
      const a = dmaMapSingle(m1, pa, SZ_4K, DMA_BIDIRECTIONAL);
      if (a === DMA_MAPPING_ERROR) throw new Error('dma_map_single failed');
      if (dmaUnmapSingle(m1, a, SZ_4K, DMA_BIDIRECTIONAL) !== 0) throw new Error('dma_unmap_single failed');
    }
  };

  // Check once, untimed, that each case does what it says.
  fmtMap();
  check(ops.iovaToPhys(IOVA_BASE + 5 * SZ_4K + 3) === PA_BASE + 5 * SZ_4K + 3, 'format mapping');
  fmtUnmap();
  check(ops.iovaToPhys(IOVA_BASE + 5 * SZ_4K + 3) === 0, 'format unmapping');
  iommuMapAll();
  check(iommuIovaToPhys(d, IOVA_BASE + (STACK_PAGES - 1) * SZ_4K + 3) === PA_BASE + (STACK_PAGES - 1) * SZ_4K + 3, 'iommu_map reached the table');
  iommuUnmapEach();
  check(iommuIovaToPhys(d, IOVA_BASE + 3) === 0, 'iommu_unmap cleared the table');
  const a = dmaMapSingle(m1, pa + 0x10, SZ_4K - 0x10, DMA_BIDIRECTIONAL);
  const dm = k.iommu.dmaDomainForDev(m1)!;
  check(a !== DMA_MAPPING_ERROR && iommuIovaToPhys(dm, a) === pa + 0x10, 'dma_map_single reached the table');
  check(dmaUnmapSingle(m1, a, SZ_4K - 0x10, DMA_BIDIRECTIONAL) === 0 && iommuIovaToPhys(dm, a) === 0, 'dma_unmap_single cleared it');

  const cases: StackCase[] = [
    { id: 'stack.fmt.map1', name: 'io-pgtable-arm map_pages, 1 page per call (tables allocated)', run: fmtMap, after: fmtUnmapAll, unit: 'ns/page' },
    { id: 'stack.iommu.map1', name: 'iommu_map, 1 page per call (tables allocated)', run: iommuMapAll, after: iommuUnmapAll, vs: 'stack.fmt.map1', goal: 1.5, unit: 'ns/page' },
    { id: 'stack.fmt.unmap1', name: 'io-pgtable-arm unmap_pages, 1 page per call', before: fmtMap, run: fmtUnmap, unit: 'ns/page' },
    { id: 'stack.iommu.unmap1', name: 'iommu_unmap, 1 page per call (gather + no-op sync)', before: iommuMapAll, run: iommuUnmapEach, vs: 'stack.fmt.unmap1', goal: 1.5, unit: 'ns/page' },
    { id: 'stack.fmt.pair', name: 'map_pages + unmap_pages of one page', run: fmtPair, unit: 'ns/map+unmap' },
    { id: 'stack.iommu.pair', name: 'iommu_map + iommu_unmap of one page', run: iommuPair, vs: 'stack.fmt.pair', goal: 1.5, unit: 'ns/map+unmap' },
    { id: 'stack.dma.pair', name: `dma_map_single + dma_unmap_single of one page (${LIVE} live mappings)`, run: dmaPair, vs: 'stack.iommu.pair', goal: 3, unit: 'ns/map+unmap' },
    // Like-for-like companions of the goal rows above (which stay as they are), run after them
    // so that the goal rows see the same warm-up as before these were added. iommu_map's row
    // frees its tables after each sample (its range iommu_unmap picks 2 MiB pages, which takes
    // the level-3 tables with it), so each of its samples allocates 8 tables; map_pages' row
    // unmaps 4 KiB leaves and keeps them. unmap_pages' row leaves its gather to grow; iommu_unmap
    // syncs and re-initialises one per call, as Linux's does.
    { id: 'stack.fmt.map1free', name: 'io-pgtable-arm map_pages, 1 page per call (tables freed after each sample, as iommu_map\'s row)', run: fmtMap, after: fmtUnmapTables, unit: 'ns/page' },
    { id: 'stack.iommu.map1free', name: 'iommu_map, 1 page per call (its goal row again)', run: iommuMapAll, after: iommuUnmapAll, vs: 'stack.fmt.map1free', goal: 1.5, unit: 'ns/page' },
    { id: 'stack.iommu.map1kept', name: 'iommu_map, 1 page per call (tables kept between samples, as map_pages\' row)', run: iommuMapAll, after: iommuUnmapEach, vs: 'stack.fmt.map1', goal: 1.5, unit: 'ns/page' },
    { id: 'stack.fmt.unmap1sync', name: 'io-pgtable-arm unmap_pages + iotlb_sync, 1 page per call (a gather per call, as iommu_unmap)', before: fmtMap, run: fmtUnmapSync, unit: 'ns/page' },
    { id: 'stack.iommu.unmap1sync', name: 'iommu_unmap, 1 page per call (its goal row again)', before: iommuMapAll, run: iommuUnmapEach, vs: 'stack.fmt.unmap1sync', goal: 1.5, unit: 'ns/page' },
  ];
  const done = () => {
    check(ops.iovaToPhys(IOVA_BASE + 3) === 0 && iommuIovaToPhys(d, IOVA_BASE + 3) === 0, 'mappings left');
    for (const x of live) check(dmaUnmapSingle(m1, x, SZ_4K, DMA_BIDIRECTIONAL) === 0, 'live DMA unmap');
    ops.free();
  };
  return { cases, done };
}
