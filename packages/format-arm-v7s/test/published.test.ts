/**
 * The IOMMU core over a published ARM_V7S table (as arm_smmu publishes it for an AArch32-S
 * context): iommu_map / iommu_unmap of one page go through its one-page entries
 * (IommuPgtableOps.tryMapPage / tryUnmapPage; the DMA API's iommuMapPage / iommuUnmapPage
 * through tryMapPfn / tryUnmapPfn), else its mapPages / unmapPages; the results must be those
 * of the driver's ops with nothing published, of the published table without the one-page
 * entries, and of the table with only the byte-address ones. No private helper of the format may be taken for those entries (one
 * named mapOne once was, and mapped a misaligned 16 MiB range as one supersection).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  iommuDomainSetPgtblOps,
  iommuIotlbGatherAddPage,
  iommuIovaToPhys,
  iommuMap,
  iommuMapPage,
  iommuUnmap,
  iommuUnmapPage,
  type IommuDomain,
  type IommuDomainGeometry,
  type IommuDomainOps,
  type IommuDomainType,
  type IommuPgtableOps,
} from '@gki/kernel';
import { IOMMU_READ, IOMMU_WRITE, type IommuFlushOps, type IoPgtableLeaf } from '@gki/io-pgtable-core';
import type { ArmV7sIoPgtable } from '../src/index.js';
import { makeKernel, mustCreate, v7sCfg } from './helpers.js';

const SZ_4K = 0x1000;
const SZ_64K = 0x1_0000;
const SZ_1M = 0x10_0000;
const SZ_16M = 0x100_0000;

class TestDomain implements IommuDomain {
  geometry: IommuDomainGeometry = { apertureStart: 0, apertureEnd: 2 ** 32 - 1, forceAperture: true };
  pgtblOps: IommuPgtableOps | null = null;
  table!: ArmV7sIoPgtable;
  readonly log: string[] = [];
  constructor(
    readonly type: IommuDomainType,
    readonly ops: IommuDomainOps,
    public pgsizeBitmap: number,
  ) {}
}

const OPS: IommuDomainOps = {
  attachDev: () => 0,
  mapPages: (d, iova, paddr, pgsize, pgcount, prot, mapped) => (d as TestDomain).table.mapPages(iova, paddr, pgsize, pgcount, prot, mapped),
  unmapPages: (d, iova, pgsize, pgcount, gather) => (d as TestDomain).table.unmapPages(iova, pgsize, pgcount, gather),
  iotlbSync: (d, g) => (d as TestDomain).log.push(`sync ${g.start} ${g.end} ${g.pgsize} ${g.queued}`),
  iovaToPhys: (d, iova) => (d as TestDomain).table.iovaToPhys(iova),
  free: () => {},
};

type Way = 'table' | 'counted' | 'bytes' | 'pages' | 'ops';

function testDomain(way: Way, counts = { one: 0, pfn: 0 }): TestDomain {
  const d = new TestDomain('unmanaged', OPS, SZ_4K | SZ_64K | SZ_1M | SZ_16M);
  const tlb: IommuFlushOps = {
    tlbFlushAll: () => d.log.push('all'),
    tlbFlushWalk: (iova, size, granule) => d.log.push(`walk ${iova} ${size} ${granule}`),
    tlbAddPage: (g, iova, granule) => {
      d.log.push(`page ${iova} ${granule}`);
      if (g) iommuIotlbGatherAddPage(d, g, iova, granule);
    },
  };
  d.table = mustCreate(makeKernel(0x4000_0000, 0x400_0000), v7sCfg({ tlb }), d);
  const t = d.table;
  if (way === 'table') expect(iommuDomainSetPgtblOps(d, t)).toBe(0);
  else if (way === 'pages') expect(iommuDomainSetPgtblOps(d, { mapPages: t.mapPages.bind(t), unmapPages: t.unmapPages.bind(t) })).toBe(0);
  else if (way === 'bytes')
    expect(iommuDomainSetPgtblOps(d, { mapPages: t.mapPages.bind(t), unmapPages: t.unmapPages.bind(t), tryMapPage: t.tryMapPage.bind(t), tryUnmapPage: t.tryUnmapPage.bind(t) })).toBe(0);
  else if (way === 'counted') {
    const published: IommuPgtableOps = {
      mapPages: t.mapPages.bind(t),
      unmapPages: t.unmapPages.bind(t),
      tryMapPage: (iova, paddr, pgsize, prot) => {
        const r = t.tryMapPage(iova, paddr, pgsize, prot);
        if (r === 0) counts.one++;
        return r;
      },
      tryUnmapPage: (iova, pgsize, gather) => {
        const r = t.tryUnmapPage(iova, pgsize, gather);
        if (r !== 0) counts.one++;
        return r;
      },
      tryMapPfn: (iovaPfn, paPfn, pgsize, prot) => {
        const r = t.tryMapPfn(iovaPfn, paPfn, pgsize, prot);
        if (r === 0) counts.pfn++;
        return r;
      },
      tryUnmapPfn: (iovaPfn, pgsize, gather) => {
        const r = t.tryUnmapPfn(iovaPfn, pgsize, gather);
        if (r !== 0) counts.pfn++;
        return r;
      },
    };
    expect(iommuDomainSetPgtblOps(d, published)).toBe(0);
  }
  return d;
}

function leaves(t: ArmV7sIoPgtable): string[] {
  const out: string[] = [];
  t.walkLeaves((l: IoPgtableLeaf) => out.push(`${l.level}:${l.iova.toString(16)}:${l.size.toString(16)}:${l.pte.toString(16)}`));
  return out;
}

type Op =
  | { kind: 'map'; iova: number; pa: number; size: number; prot: number }
  | { kind: 'unmap'; iova: number; size: number }
  | { kind: 'mapPage'; iovaPfn: number; paPfn: number; size: number }
  | { kind: 'unmapPage'; iovaPfn: number; size: number };

const addr = fc.oneof(
  { weight: 10, arbitrary: fc.integer({ min: 0, max: 40 }).map((i) => 0x1000_0000 + i * SZ_4K) },
  { weight: 3, arbitrary: fc.tuple(fc.integer({ min: 0, max: 3 }), fc.constantFrom(SZ_64K, SZ_1M, SZ_16M)).map(([i, s]) => 0x2000_0000 + i * s) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 20 }).map((i) => 0x6000_1000 + i * SZ_4K) },
  // misaligned, next to the pages above (inside the tables they use)
  { weight: 2, arbitrary: fc.tuple(fc.integer({ min: 0, max: 40 }), fc.constantFrom(0x1000_0000, 0x6000_1000)).map(([i, b]) => b + i * SZ_4K + 0x800) },
  { weight: 1, arbitrary: fc.constantFrom(-SZ_4K, 0x800, SZ_4K + 0.5, NaN, 2 ** 32, 2 ** 52) },
);
const size = fc.oneof(
  { weight: 10, arbitrary: fc.constantFrom(SZ_4K, SZ_64K, SZ_1M, SZ_16M) },
  { weight: 2, arbitrary: fc.constantFrom(0, -SZ_4K, 0x800, 3 * SZ_4K, SZ_16M + SZ_4K, NaN) },
);
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('map' as const), iova: addr, pa: addr, size, prot: fc.constantFrom(IOMMU_READ, IOMMU_READ | IOMMU_WRITE, 0, 1.5) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('unmap' as const), iova: addr, size }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('mapPage' as const), iovaPfn: fc.integer({ min: 0x10000, max: 0x10010 }), paPfn: fc.integer({ min: 0x60000, max: 0x60010 }), size: fc.constant(SZ_4K) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('unmapPage' as const), iovaPfn: fc.integer({ min: 0x10000, max: 0x10010 }), size: fc.constant(SZ_4K) }) },
);

function run(d: TestDomain, o: Op): number {
  if (o.kind === 'map') return iommuMap(d, o.iova, o.pa, o.size, o.prot);
  if (o.kind === 'unmap') return iommuUnmap(d, o.iova, o.size);
  if (o.kind === 'mapPage') return iommuMapPage(d, o.iovaPfn, o.paPfn, o.size, IOMMU_READ);
  return iommuUnmapPage(d, o.iovaPfn, o.size);
}

describe('the IOMMU core over a published ARM_V7S table', () => {
  it('maps a misaligned 16 MiB range page by page, as through the driver op', () => {
    for (const way of ['table', 'pages', 'ops'] as const) {
      const d = testDomain(way);
      expect(iommuMap(d, 0x1000_0000, 0x6000_1000, SZ_16M, IOMMU_READ)).toBe(0);
      expect(iommuIovaToPhys(d, 0x1000_0010)).toBe(0x6000_1010);
      expect(iommuIovaToPhys(d, 0x1000_0000 + SZ_16M - 0x10)).toBe(0x6000_1000 + SZ_16M - 0x10);
      expect(iommuUnmap(d, 0x1000_0000, SZ_16M)).toBe(SZ_16M);
      expect(iommuIovaToPhys(d, 0x1000_0010)).toBe(0);
    }
  });

  it('tryUnmapPage adds no page to a queued gather, as unmapPages', () => {
    const a = testDomain('ops');
    const b = testDomain('ops');
    for (const d of [a, b]) expect(iommuMap(d, 0x1000_0000, 0x6000_0000, SZ_4K, IOMMU_READ)).toBe(0);
    const g = { start: Number.MAX_SAFE_INTEGER, end: Number.MIN_SAFE_INTEGER, pgsize: 0, queued: true };
    const h = { ...g };
    a.log.length = 0;
    b.log.length = 0;
    expect(a.table.tryUnmapPage(0x1000_0000, SZ_4K, g)).toBe(SZ_4K);
    expect(b.table.unmapPages(0x1000_0000, SZ_4K, 1, h)).toBe(SZ_4K);
    expect(a.log).toEqual([]);
    expect(b.log).toEqual([]);
    expect(g).toEqual(h);
  });

  it('gives the same results, table calls, syncs and tables all five ways (property)', () => {
    const counts = { one: 0, pfn: 0 };
    fc.assert(
      fc.property(fc.array(op, { minLength: 10, maxLength: 40 }), (ops) => {
        const ds = (['table', 'counted', 'bytes', 'pages'] as const).map((w) => testDomain(w, counts));
        const plain = testDomain('ops');
        for (const o of ops) {
          const what = JSON.stringify(o);
          const want = run(plain, o);
          for (const d of ds) {
            expect(run(d, o), what).toBe(want);
            expect(d.log, what).toEqual(plain.log);
          }
        }
        for (const d of ds) {
          for (let a = 0x1000_0000; a < 0x1000_0000 + 48 * SZ_4K; a += SZ_4K) expect(iommuIovaToPhys(d, a + 0x10)).toBe(iommuIovaToPhys(plain, a + 0x10));
          expect(leaves(d.table)).toEqual(leaves(plain.table));
        }
      }),
      { numRuns: 80, seed: 0x75 },
    );
    // the one-page entries must take calls, or this compares nothing new (the DMA API's calls,
    // which tryMapPage / tryUnmapPage took before the frame entries existed, now go to those)
    expect(counts.one + counts.pfn).toBeGreaterThan(100);
    expect(counts.one).toBeGreaterThan(25);
    expect(counts.pfn).toBeGreaterThan(50);
  });
});
