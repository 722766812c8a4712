/**
 * The IOMMU core's own cost over ARM_V7S: iommu_map / iommu_unmap and dma_map_single /
 * dma_unmap_single of one 4 KiB page on a domain of a minimal IOMMU driver ("noop_iommu",
 * defined here) whose page tables are this package's ARM_V7S tables, published to the core
 * (iommu_domain_set_pgtbl_ops, as arm_smmu publishes an AArch32-S context's table), and whose
 * TLB operations do nothing (tlb_add_page only widens the gather, as every driver's does;
 * iotlb_sync has nothing to invalidate). Against the format's own map_pages / unmap_pages of
 * the same page on a table configured the same way, in the same process: the ratio is what the
 * core and the DMA layer add. The same shape as @gki/format-arm-lpae's bench/stack.ts (the
 * two are kept apart: each package's rows measure its own format).
 *
 * IOVAs and PAs are at or above 2^31 (as the DMA API's top-down IOVAs on a 32-bit aperture are),
 * where a double crossing a call V8 does not inline is boxed.
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
import { createArmV7sOps, type ArmV7sIoPgtable } from '../src/index.js';

const SZ_4K = 0x1000;
const SZ_1M = 0x10_0000;
const PROT = IOMMU_READ | IOMMU_WRITE | IOMMU_CACHE;
const PGSIZES = 0x1111000; // 4K | 64K | 1M | 16M
const IOVA_BASE = 0x8000_0000;
const PA_BASE = 0xc000_0000;
const RAM = 0x4000_0000;
/** Pages per sample (one call per page): 16 MiB, 16 level-2 tables. */
export const V7S_STACK_PAGES = 4096;
/** Live single-page DMA mappings kept while the DMA row runs. */
const LIVE = 1024;

class NoopDomain implements IommuDomain {
  pgsizeBitmap = 0;
  geometry: IommuDomainGeometry = { apertureStart: 0, apertureEnd: 2 ** 32 - 1, forceAperture: true };
  pgtbl: ArmV7sIoPgtable | null = null;
  pgtblOps: ArmV7sIoPgtable | null = null;
  constructor(
    readonly type: IommuDomainType,
    readonly ops: IommuDomainOps,
  ) {}
}

const NOOP_FLUSH: IommuFlushOps = {
  tlbFlushAll() {},
  tlbFlushWalk() {},
  tlbAddPage(gather, iova, granule, cookie) {
    if (gather) iommuIotlbGatherAddPage(cookie as NoopDomain, gather, iova, granule);
  },
};

/** (`isPrototypeOf` rather than `instanceof`: see @gki/format-arm-lpae's bench/stack.ts.) */
const NOOP_PROTO = NoopDomain.prototype;

function pgtblOf(domain: IommuDomain): ArmV7sIoPgtable | null {
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

function v7sCfg(): IoPgtableCfg {
  return { quirks: 0, pgsizeBitmap: PGSIZES, ias: 32, oas: 32, coherentWalk: true, tlb: NOOP_FLUSH };
}

function noopIommuModule(): KernelModule {
  return {
    name: 'noop_iommu',
    version: '0.0.1',
    license: 'GPL v2',
    init(ctx) {
      const kernel = ctx.kernel;
      const ops: IommuOps = {
        owner: ctx.self,
        pgsizeBitmap: PGSIZES,
        probeDevice: () => 0,
        ofXlate: (dev, args) => iommuFwspecAddIds(dev, [args[0]!]),
        domainAlloc(type) {
          if (type !== 'dma' && type !== 'unmanaged') return -EINVAL;
          const d = new NoopDomain(type, NOOP_DOMAIN_OPS);
          const cfg = v7sCfg();
          d.pgtbl = createArmV7sOps(kernel, cfg, d);
          if (!d.pgtbl) return -ENODEV;
          d.pgsizeBitmap = cfg.pgsizeBitmap;
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

export interface V7sStackCase {
  id: string;
  name: string;
  run: () => void;
  before?: () => void;
  after?: () => void;
  vs?: string;
  unit: string;
}

function check(cond: boolean, what: string): void {
  if (!cond) throw new Error(`v7s stack bench: ${what}`);
}

/** The cases, each checked once (untimed) here; `done()` checks nothing is left mapped and frees. */
export function v7sStackCases(): { cases: V7sStackCase[]; done: () => void } {
  const k = Kernel.boot(board(), { builtin: [], modules: [noopIommuModule(), masterModule()], load: ['noop_iommu', 'noop_master'] });
  const find = (name: string): Device => {
    const d = k.drivers.findDevice(name);
    check(!!d, `no device ${name}`);
    return d!;
  };
  const m0 = find('a000000.dma');
  const m1 = find('a001000.dma');

  // The format alone, configured as the driver configures its tables.
  const cookie = new NoopDomain('unmanaged', NOOP_DOMAIN_OPS);
  cookie.pgsizeBitmap = PGSIZES;
  const fmt = createArmV7sOps(k, v7sCfg(), cookie);
  check(!!fmt, 'format alloc');
  const ops = fmt!;
  const mapped = { mapped: 0 };
  const gather = iommuIotlbGatherInit();
  const fmtMap = () => {
    for (let i = 0; i < V7S_STACK_PAGES; i++) if (ops.mapPages(IOVA_BASE + i * SZ_4K, PA_BASE + i * SZ_4K, SZ_4K, 1, PROT, mapped) !== 0) throw new Error('map_pages failed');
  };
  const fmtUnmap = () => {
    for (let i = 0; i < V7S_STACK_PAGES; i++) if (ops.unmapPages(IOVA_BASE + i * SZ_4K, SZ_4K, 1, gather) !== SZ_4K) throw new Error('unmap_pages failed');
  };
  // what iommu_unmap of the whole range does (iommu_pgsize picks 1 MiB): the level-2 tables go
  const fmtUnmapTables = () => {
    check(ops.unmapPages(IOVA_BASE, SZ_1M, (V7S_STACK_PAGES * SZ_4K) / SZ_1M, gather) === V7S_STACK_PAGES * SZ_4K, 'unmap_pages of the tables');
  };
  const pa = RAM + 0x10_0000;
  const fmtPair = () => {
    for (let i = 0; i < V7S_STACK_PAGES; i++) {
      if (ops.mapPages(IOVA_BASE, pa, SZ_4K, 1, PROT, mapped) !== 0) throw new Error('map_pages failed');
      if (ops.unmapPages(IOVA_BASE, SZ_4K, 1, gather) !== SZ_4K) throw new Error('unmap_pages failed');
    }
  };

  const d = iommuDomainAlloc(m0);
  if (typeof d === 'number') throw new Error(`domain alloc: ${d}`);
  check(iommuAttachDevice(d, m0) === 0, 'attach');
  const iommuMapAll = () => {
    for (let i = 0; i < V7S_STACK_PAGES; i++) if (iommuMap(d, IOVA_BASE + i * SZ_4K, PA_BASE + i * SZ_4K, SZ_4K, PROT) !== 0) throw new Error('iommu_map failed');
  };
  const iommuUnmapEach = () => {
    for (let i = 0; i < V7S_STACK_PAGES; i++) if (iommuUnmap(d, IOVA_BASE + i * SZ_4K, SZ_4K) !== SZ_4K) throw new Error('iommu_unmap failed');
  };
  const iommuUnmapAll = () => check(iommuUnmap(d, IOVA_BASE, V7S_STACK_PAGES * SZ_4K) === V7S_STACK_PAGES * SZ_4K, 'iommu_unmap of the range');
  const iommuPair = () => {
    for (let i = 0; i < V7S_STACK_PAGES; i++) {
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
    for (let i = 0; i < V7S_STACK_PAGES; i++) {
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
  check(iommuIovaToPhys(d, IOVA_BASE + (V7S_STACK_PAGES - 1) * SZ_4K + 3) === PA_BASE + (V7S_STACK_PAGES - 1) * SZ_4K + 3, 'iommu_map reached the table');
  iommuUnmapEach();
  check(iommuIovaToPhys(d, IOVA_BASE + 3) === 0, 'iommu_unmap cleared the table');
  const a = dmaMapSingle(m1, pa + 0x10, SZ_4K - 0x10, DMA_BIDIRECTIONAL);
  const dm = k.iommu.dmaDomainForDev(m1)!;
  check(a !== DMA_MAPPING_ERROR && a >= 2 ** 31 && iommuIovaToPhys(dm, a) === pa + 0x10, 'dma_map_single reached the table (at an IOVA at or above 2^31)');
  check(dmaUnmapSingle(m1, a, SZ_4K - 0x10, DMA_BIDIRECTIONAL) === 0 && iommuIovaToPhys(dm, a) === 0, 'dma_unmap_single cleared it');

  const cases: V7sStackCase[] = [
    { id: 'stack.fmt.map1free', name: 'io-pgtable-arm-v7s map_pages, 1 page per call (tables freed after each sample)', run: fmtMap, after: fmtUnmapTables, unit: 'ns/page' },
    { id: 'stack.iommu.map1free', name: 'iommu_map, 1 page per call (tables freed after each sample)', run: iommuMapAll, after: iommuUnmapAll, vs: 'stack.fmt.map1free', unit: 'ns/page' },
    { id: 'stack.fmt.unmap1', name: 'io-pgtable-arm-v7s unmap_pages, 1 page per call', before: fmtMap, run: fmtUnmap, unit: 'ns/page' },
    { id: 'stack.iommu.unmap1', name: 'iommu_unmap, 1 page per call (gather + no-op sync)', before: iommuMapAll, run: iommuUnmapEach, vs: 'stack.fmt.unmap1', unit: 'ns/page' },
    { id: 'stack.fmt.pair', name: 'map_pages + unmap_pages of one page', run: fmtPair, unit: 'ns/map+unmap' },
    { id: 'stack.iommu.pair', name: 'iommu_map + iommu_unmap of one page', run: iommuPair, vs: 'stack.fmt.pair', unit: 'ns/map+unmap' },
    { id: 'stack.dma.pair', name: `dma_map_single + dma_unmap_single of one page (${LIVE} live mappings)`, run: dmaPair, vs: 'stack.iommu.pair', unit: 'ns/map+unmap' },
  ];
  const done = () => {
    check(ops.iovaToPhys(IOVA_BASE + 3) === 0 && iommuIovaToPhys(d, IOVA_BASE + 3) === 0, 'mappings left');
    for (const x of live) check(dmaUnmapSingle(m1, x, SZ_4K, DMA_BIDIRECTIONAL) === 0, 'live DMA unmap');
    ops.free();
  };
  return { cases, done };
}
