/**
 * The IOMMU core's own cost over this format: iommu_map / iommu_unmap and dma_map_single /
 * dma_unmap_single of one 4 KiB page on a domain of a minimal IOMMU driver ("noop_iommu", from
 * @gki/benchkit, shared with @gki/format-arm-v7s's bench) whose page tables are this package's
 * real ARM_64_LPAE_S1 tables and whose TLB operations do nothing (tlb_add_page only widens the
 * gather, as every driver's does; iotlb_sync has nothing to invalidate). Against the format's own map_pages / unmap_pages of the same
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
import {
  DMA_BIDIRECTIONAL,
  DMA_MAPPING_ERROR,
  dmaMapSingle,
  dmaUnmapSingle,
  iommuAttachDevice,
  iommuDomainAlloc,
  iommuIotlbSync,
  iommuIovaToPhys,
  iommuMap,
  iommuUnmap,
} from '@gki/kernel';
import { IOMMU_CACHE, IOMMU_READ, IOMMU_WRITE, iommuIotlbGatherInit } from '@gki/io-pgtable-core';
import { NOOP_DOMAIN_OPS, NOOP_RAM, NoopDomain, bootNoopStack, noopCfg, type NoopFormat } from '@gki/benchkit';
import { createArmLpaeOps, type ArmLpaeIoPgtable } from '../src/index.js';

const SZ_4K = 0x1000;
const SZ_2M = 0x20_0000;
const PROT = IOMMU_READ | IOMMU_WRITE | IOMMU_CACHE;
const IOVA_BASE = 2 ** 32;
const PA_BASE = 2 ** 36;
const RAM = NOOP_RAM;
/** Pages per sample (one call per page). */
export const STACK_PAGES = 4096;
/** Live single-page DMA mappings kept while the DMA rows run. */
const LIVE = 1024;

/** The noop driver (@gki/benchkit) over ARM_64_LPAE_S1 tables, 4K | 2M | 1G pages, 48-bit IOVA. */
const LPAE: NoopFormat<ArmLpaeIoPgtable> = {
  pgsizeBitmap: 0x40201000,
  ias: 48,
  oas: 44,
  apertureEnd: 2 ** 48 - 1,
  alloc: (kernel, cfg, cookie) => createArmLpaeOps(kernel, 'ARM_64_LPAE_S1', cfg, cookie),
};

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
  const { kernel: k, m0, m1 } = bootNoopStack(LPAE, 'lpae stack bench');

  // The format alone, configured as the driver configures its tables, with the driver's TLB
  // callbacks (tlb_add_page feeding the gather through the core's helper, as in the kernel).
  const cookie = new NoopDomain<ArmLpaeIoPgtable>('unmanaged', NOOP_DOMAIN_OPS, LPAE.apertureEnd);
  cookie.pgsizeBitmap = LPAE.pgsizeBitmap;
  const fmt = LPAE.alloc(k, noopCfg(LPAE), cookie);
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
