/**
 * The IOMMU core's own cost over ARM_V7S: iommu_map / iommu_unmap and dma_map_single /
 * dma_unmap_single of one 4 KiB page on a domain of a minimal IOMMU driver ("noop_iommu", from
 * @gki/benchkit) whose page tables are this package's ARM_V7S tables, published to the core
 * (iommu_domain_set_pgtbl_ops, as arm_smmu publishes an AArch32-S context's table), and whose
 * TLB operations do nothing (tlb_add_page only widens the gather, as every driver's does;
 * iotlb_sync has nothing to invalidate). Against the format's own map_pages / unmap_pages of
 * the same page on a table configured the same way, in the same process: the ratio is what the
 * core and the DMA layer add. The same shape as @gki/format-arm-lpae's bench/stack.ts, on
 * the same driver and board (the cases are kept apart: each package's rows measure its own
 * format).
 *
 * IOVAs and PAs are at or above 2^31 (as the DMA API's top-down IOVAs on a 32-bit aperture are),
 * where a double crossing a call V8 does not inline is boxed.
 */
import {
  DMA_BIDIRECTIONAL,
  DMA_MAPPING_ERROR,
  dmaMapSingle,
  dmaUnmapSingle,
  iommuAttachDevice,
  iommuDomainAlloc,
  iommuIovaToPhys,
  iommuMap,
  iommuUnmap,
} from '@gki/kernel';
import { IOMMU_CACHE, IOMMU_READ, IOMMU_WRITE, iommuIotlbGatherInit } from '@gki/io-pgtable-core';
import { NOOP_DOMAIN_OPS, NOOP_RAM, NoopDomain, bootNoopStack, noopCfg, type NoopFormat } from '@gki/benchkit';
import { createArmV7sOps, type ArmV7sIoPgtable } from '../src/index.js';

const SZ_4K = 0x1000;
const SZ_1M = 0x10_0000;
const PROT = IOMMU_READ | IOMMU_WRITE | IOMMU_CACHE;
const IOVA_BASE = 0x8000_0000;
const PA_BASE = 0xc000_0000;
const RAM = NOOP_RAM;
/** Pages per sample (one call per page): 16 MiB, 16 level-2 tables. */
export const V7S_STACK_PAGES = 4096;
/** Live single-page DMA mappings kept while the DMA row runs. */
const LIVE = 1024;

/** The noop driver (@gki/benchkit) over ARM_V7S tables, 4K | 64K | 1M | 16M pages, 32-bit IOVA. */
const V7S: NoopFormat<ArmV7sIoPgtable> = {
  pgsizeBitmap: 0x1111000,
  ias: 32,
  oas: 32,
  apertureEnd: 2 ** 32 - 1,
  alloc: (kernel, cfg, cookie) => createArmV7sOps(kernel, cfg, cookie),
};

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
  const { kernel: k, m0, m1 } = bootNoopStack(V7S, 'v7s stack bench');

  // The format alone, configured as the driver configures its tables.
  const cookie = new NoopDomain<ArmV7sIoPgtable>('unmanaged', NOOP_DOMAIN_OPS, V7S.apertureEnd);
  cookie.pgsizeBitmap = V7S.pgsizeBitmap;
  const fmt = V7S.alloc(k, noopCfg(V7S), cookie);
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
