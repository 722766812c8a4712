/**
 * The one-page entries the IOMMU core calls on a published table (IommuPgtableOps.tryMapPage /
 * tryUnmapPage): each is the table's own fast path alone, which declines (changing nothing) where
 * map_pages / unmap_pages would take their general path. So "tryMapPage, else mapPages" must be
 * exactly mapPages, and iommu_map / iommu_unmap must give the same results whichever way the
 * call went: through tryMapPage / tryUnmapPage, through the published table's mapPages / unmapPages,
 * or through the driver's ops with nothing published.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  EINVAL,
  ENOMEM,
  iommuDomainSetPgtblOps,
  iommuIotlbGatherAddPage,
  iommuIotlbGatherInit,
  iommuIovaToPhys,
  iommuMap,
  iommuMapPage,
  iommuUnmap,
  iommuUnmapPage,
  type IommuDomain,
  type IommuDomainGeometry,
  type IommuDomainOps,
  type IommuDomainType,
  type IommuIotlbGather,
  type IommuPgtableOps,
  type Kernel,
} from '@gki/kernel';
import { IOMMU_CACHE, IOMMU_READ, IOMMU_WRITE, type IommuFlushOps, type IoPgtableCfg } from '@gki/io-pgtable-core';
import { createArmLpaeOps, type ArmLpaeFmt, type ArmLpaeIoPgtable } from '../src/index.js';
import { leavesOf, makeKernel } from './helpers/env.js';

const SZ_4K = 0x1000;
const SZ_64K = 0x1_0000;
const SZ_2M = 0x20_0000;
const SZ_512M = 0x2000_0000;
const SZ_1G = 0x4000_0000;

interface Config {
  fmt: ArmLpaeFmt;
  bitmap: number;
  ias: number;
  oas: number;
  /** Page sizes the cases use (the table's and a few it lacks). */
  sizes: number[];
}
const CONFIGS: Config[] = [
  { fmt: 'ARM_64_LPAE_S1', bitmap: SZ_4K | SZ_2M | SZ_1G, ias: 48, oas: 48, sizes: [SZ_4K, SZ_2M, SZ_1G, SZ_64K] },
  { fmt: 'ARM_64_LPAE_S1', bitmap: SZ_4K | SZ_2M | SZ_1G, ias: 39, oas: 40, sizes: [SZ_4K, SZ_2M] },
  { fmt: 'ARM_64_LPAE_S2', bitmap: SZ_4K | SZ_2M | SZ_1G, ias: 40, oas: 44, sizes: [SZ_4K, SZ_2M] },
  { fmt: 'ARM_32_LPAE_S1', bitmap: SZ_4K | SZ_2M | SZ_1G, ias: 32, oas: 40, sizes: [SZ_4K, SZ_2M] },
  // 52-bit PAs: tryMapPage declines PAs at or above 2^48 (their descriptor layout differs)
  { fmt: 'ARM_64_LPAE_S1', bitmap: SZ_64K | SZ_512M, ias: 48, oas: 52, sizes: [SZ_64K, SZ_512M, SZ_4K] },
];

/** An address: mostly aligned ones near a few bases, and every kind of bad value. */
function addrArb(c: Config): fc.Arbitrary<number> {
  const p = c.sizes[0]!;
  return fc.oneof(
    // mostly one table's worth of pages (consecutive calls then meet the walk-cache window)
    { weight: 20, arbitrary: fc.integer({ min: 0, max: 40 }).map((i) => (2 ** 31 + i * p) % 2 ** c.ias) },
    { weight: 2, arbitrary: fc.tuple(fc.integer({ min: 0, max: 40 }), fc.constantFrom(0, 2 ** 32, 2 ** (c.ias - 1))).map(([i, b]) => (b + i * p) % 2 ** c.ias) },
    { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 0, max: 3 }), fc.constantFrom(...c.sizes)).map(([i, s]) => i * s) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(-p, p / 2, p + 0.5, NaN, Infinity, 2 ** c.ias, 2 ** c.oas, 2 ** 48, 2 ** 48 + p, 2 ** 52, 2 ** 53, 2 ** 32 + p / 2, 0.5),
    },
  );
}

type TableOp =
  | { kind: 'map'; iova: number; pa: number; size: number; prot: number }
  | { kind: 'unmap'; iova: number; size: number }
  | { kind: 'pages'; iova: number; pa: number; size: number; count: number }
  | { kind: 'queue'; queued: boolean };

function tableOpArb(c: Config): fc.Arbitrary<TableOp> {
  const addr = addrArb(c);
  const size = fc.oneof({ weight: 20, arbitrary: fc.constant(c.sizes[0]!) }, { weight: 3, arbitrary: fc.constantFrom(...c.sizes) }, { weight: 1, arbitrary: fc.constantFrom(0, -(2 ** 31), 3 * SZ_4K, 2 ** 31, 2 ** 32) });
  const prot = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(IOMMU_READ, IOMMU_READ | IOMMU_WRITE, IOMMU_WRITE | IOMMU_CACHE) },
    { weight: 1, arbitrary: fc.constantFrom(0, IOMMU_CACHE, 0x40 | IOMMU_READ, -1) },
  );
  return fc.oneof(
    { weight: 6, arbitrary: fc.record({ kind: fc.constant('map' as const), iova: addr, pa: addr, size, prot }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('unmap' as const), iova: addr, size }) },
    // a run of several pages straight into the table (moves the walk cache and the last page size)
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('pages' as const), iova: addr, pa: addr, size: fc.constantFrom(...c.sizes), count: fc.integer({ min: 1, max: 600 }) }) },
    // a gather whose flush the caller queued (unmap_pages then adds no page to it)
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('queue' as const), queued: fc.boolean() }) },
  );
}

/**
 * True when (iova, pa, size) meets what tryMapPfn / tryUnmapPfn's caller guarantees: `size` a
 * power of two below 2^31, both addresses non-negative multiples of it below 2^53.
 */
function framesOk(size: number, iova: number, pa: number): boolean {
  const frame = (x: number) => Number.isSafeInteger(x) && x >= 0 && Number.isInteger(x / size);
  return Number.isInteger(size) && size > 0 && size < 2 ** 31 && (size & (size - 1)) === 0 && frame(iova) && frame(pa);
}

function logged(events: string[]): IommuFlushOps {
  return {
    tlbFlushAll: () => events.push('all'),
    tlbFlushWalk: (iova, size, granule) => events.push(`walk ${iova} ${size} ${granule}`),
    tlbAddPage: (g, iova, granule) => {
      events.push(`page ${iova} ${granule}`);
      if (g) {
        if (iova < g.start) g.start = iova;
        if (iova + granule - 1 > g.end) g.end = iova + granule - 1;
        g.pgsize = granule;
      }
    },
  };
}

describe('tryMapPage / tryUnmapPage: the fast path alone, or nothing', () => {
  for (const c of CONFIGS) {
    it(`${c.fmt} ias ${c.ias} oas ${c.oas}: tryMapPage-else-mapPages is mapPages, tryUnmapPage-else-unmapPages is unmapPages (property)`, () => {
      let taken = 0;
      let takenPfn = 0;
      fc.assert(
        fc.property(fc.array(tableOpArb(c), { minLength: 20, maxLength: 60 }), (ops) => {
          const ka = makeKernel(64);
          const kb = makeKernel(64);
          const kf = makeKernel(64);
          const ea: string[] = [];
          const eb: string[] = [];
          const ef: string[] = [];
          const cfg = (events: string[]): IoPgtableCfg => ({ quirks: 0, pgsizeBitmap: c.bitmap, ias: c.ias, oas: c.oas, coherentWalk: true, tlb: logged(events) });
          const a = createArmLpaeOps(ka, c.fmt, cfg(ea), null)!;
          const b = createArmLpaeOps(kb, c.fmt, cfg(eb), null)!;
          // f takes every call a takes, through the frame-number entries (tryMapPfn /
          // tryUnmapPfn) whenever the call meets their guarantees: they must answer as
          // tryMapPage / tryUnmapPage do on the same table, and do the same
          const f = createArmLpaeOps(kf, c.fmt, cfg(ef), null)!;
          expect(a && b && f).toBeTruthy();
          const ma = { mapped: 0 };
          const mb = { mapped: 0 };
          const mf = { mapped: 0 };
          const ga = iommuIotlbGatherInit();
          const gb = iommuIotlbGatherInit();
          const gf = iommuIotlbGatherInit();
          for (const o of ops) {
            const what = JSON.stringify(o);
            if (o.kind === 'queue') {
              ga.queued = o.queued;
              gb.queued = o.queued;
              gf.queued = o.queued;
            } else if (o.kind === 'pages') {
              const ra = a.mapPages(o.iova, o.pa, o.size, o.count, IOMMU_READ, ma);
              expect(f.mapPages(o.iova, o.pa, o.size, o.count, IOMMU_READ, mf), what).toBe(ra);
              expect(ra, what).toBe(b.mapPages(o.iova, o.pa, o.size, o.count, IOMMU_READ, mb));
            } else if (o.kind === 'map') {
              const before = ea.length;
              const leaves = leavesOf(a);
              const one = a.tryMapPage(o.iova, o.pa, o.size, o.prot);
              const byPfn = framesOk(o.size, o.iova, o.pa);
              const oneF = byPfn ? f.tryMapPfn(o.iova / o.size, o.pa / o.size, o.size, o.prot) : f.tryMapPage(o.iova, o.pa, o.size, o.prot);
              expect(oneF, what).toBe(one);
              if (byPfn && one === 0) takenPfn++;
              let ra: number;
              if (one === 0) {
                taken++;
                ra = 0;
                ma.mapped += o.size;
                mf.mapped += o.size;
              } else {
                expect(one, what).toBe(1);
                // declined: nothing changed, nothing reported
                expect(ea.length, what).toBe(before);
                expect(leavesOf(a), what).toEqual(leaves);
                ra = a.mapPages(o.iova, o.pa, o.size, 1, o.prot, ma);
                expect(f.mapPages(o.iova, o.pa, o.size, 1, o.prot, mf), what).toBe(ra);
              }
              expect(ra, what).toBe(b.mapPages(o.iova, o.pa, o.size, 1, o.prot, mb));
            } else {
              const before = ea.length;
              const leaves = leavesOf(a);
              let ra = a.tryUnmapPage(o.iova, o.size, ga);
              const byPfn = framesOk(o.size, o.iova, 0);
              const oneF = byPfn ? f.tryUnmapPfn(o.iova / o.size, o.size, gf) : f.tryUnmapPage(o.iova, o.size, gf);
              expect(oneF, what).toBe(ra);
              if (byPfn && ra !== 0) takenPfn++;
              if (ra !== 0) {
                taken++;
                expect(ra, what).toBe(o.size);
              } else {
                expect(ea.length, what).toBe(before);
                expect(leavesOf(a), what).toEqual(leaves);
                ra = a.unmapPages(o.iova, o.size, 1, ga);
                expect(f.unmapPages(o.iova, o.size, 1, gf), what).toBe(ra);
              }
              expect(ra, what).toBe(b.unmapPages(o.iova, o.size, 1, gb));
            }
            expect(ea, what).toEqual(eb);
            expect(ef, what).toEqual(ea);
            expect(ma.mapped).toBe(mb.mapped);
            expect(mf.mapped).toBe(ma.mapped);
            expect(ga).toEqual(gb);
            expect(gf).toEqual(ga);
          }
          expect(leavesOf(a)).toEqual(leavesOf(b));
          expect(leavesOf(f)).toEqual(leavesOf(a));
          expect(ka.pages.stats().pagesInUse).toBe(kb.pages.stats().pagesInUse);
          expect(kf.pages.stats().pagesInUse).toBe(ka.pages.stats().pagesInUse);
          a.free();
          b.free();
          f.free();
          expect(ka.pages.stats().pagesInUse).toBe(0);
        }),
        { numRuns: 80, seed: 0x0e9 },
      );
      // the entries must actually take calls, or the comparison says nothing about them
      expect(taken).toBeGreaterThan(200);
      expect(takenPfn).toBeGreaterThan(100);
    });
  }

  it('declines PAs at or above 2^48 on a 52-bit table, which mapPages then maps', () => {
    const k = makeKernel();
    const t = createArmLpaeOps(k, 'ARM_64_LPAE_S1', { quirks: 0, pgsizeBitmap: SZ_64K | SZ_512M, ias: 48, oas: 52, coherentWalk: true }, null)!;
    const m = { mapped: 0 };
    expect(t.mapPages(0x10_0000, 0x20_0000, SZ_64K, 1, IOMMU_READ, m)).toBe(0); // the window is on that table now
    expect(t.tryMapPage(0x11_0000, 2 ** 48 + SZ_64K, SZ_64K, IOMMU_READ)).toBe(1);
    expect(t.tryMapPage(0x11_0000, 2 ** 47, SZ_64K, IOMMU_READ)).toBe(0);
    expect(t.mapPages(0x12_0000, 2 ** 48 + SZ_64K, SZ_64K, 1, IOMMU_READ, m)).toBe(0);
    expect(t.iovaToPhys(0x12_0010)).toBe(2 ** 48 + SZ_64K + 0x10);
    expect(t.iovaToPhys(0x11_0010)).toBe(2 ** 47 + 0x10);
    t.free();
  });
});

/*
 * Through the IOMMU core. Three domains of one minimal driver, each with its own table of the
 * same format: one publishes the table itself (iommu_map's first test calls tryMapPage/tryUnmapPage),
 * one publishes only its mapPages/unmapPages (the published path without the one-page entries),
 * one publishes nothing (the driver's ops). The driver's tlb_add_page feeds the core's gather
 * (iommu_iotlb_gather_add_page, which may sync on its own); iotlb_sync records the gather.
 */

class TestDomain implements IommuDomain {
  geometry: IommuDomainGeometry = { apertureStart: 0, apertureEnd: 2 ** 48 - 1, forceAperture: true };
  pgtblOps: IommuPgtableOps | null = null;
  table!: ArmLpaeIoPgtable;
  kernel!: Kernel;
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

/**
 * 'one': the table's one-page entries, the frame-number ones (tryMapPfn / tryUnmapPfn, which
 * the DMA API's iommuMapPage / iommuUnmapPage call) included; 'bytes': the same without the
 * frame-number ones (iommuMapPage / iommuUnmapPage then try tryMapPage / tryUnmapPage in their
 * fallback); 'pages': only mapPages / unmapPages published; 'ops': nothing published.
 */
type Way = 'one' | 'bytes' | 'pages' | 'ops';

function testDomain(way: Way, bitmap: number, counts: { one: number; walk?: number; pfn?: number }): TestDomain {
  const d = new TestDomain('unmanaged', OPS, bitmap);
  const k = makeKernel(32);
  d.kernel = k;
  const tlb: IommuFlushOps = {
    tlbFlushAll: () => d.log.push('all'),
    tlbFlushWalk: (iova, size, granule) => d.log.push(`walk ${iova} ${size} ${granule}`),
    tlbAddPage: (g, iova, granule) => {
      d.log.push(`page ${iova} ${granule}`);
      if (g) iommuIotlbGatherAddPage(d, g, iova, granule);
    },
  };
  d.table = createArmLpaeOps(k, 'ARM_64_LPAE_S1', { quirks: 0, pgsizeBitmap: SZ_4K | SZ_2M | SZ_1G, ias: 48, oas: 48, coherentWalk: true, tlb }, d)!;
  const t = d.table;
  if (way === 'one' || way === 'bytes') {
    // the table's own entries, counted
    const published: IommuPgtableOps = {
      mapPages: (iova, paddr, pgsize, pgcount, prot, mapped) => t.mapPages(iova, paddr, pgsize, pgcount, prot, mapped),
      unmapPages: (iova, pgsize, pgcount, gather) => t.unmapPages(iova, pgsize, pgcount, gather),
      tryMapPage: (iova, paddr, pgsize, prot) => {
        const r = t.tryMapPage(iova, paddr, pgsize, prot);
        if (r === 0) counts.one++;
        return r;
      },
      tryMapPageWalk: (iova, paddr, pgsize, prot) => {
        const r = t.tryMapPageWalk(iova, paddr, pgsize, prot);
        if (r <= 0 && counts.walk !== undefined) counts.walk++;
        return r;
      },
      tryUnmapPage: (iova, pgsize, gather: IommuIotlbGather) => {
        const r = t.tryUnmapPage(iova, pgsize, gather);
        if (r !== 0) counts.one++;
        return r;
      },
    };
    if (way === 'one') {
      published.tryMapPfn = (iovaPfn, paPfn, pgsize, prot) => {
        const r = t.tryMapPfn(iovaPfn, paPfn, pgsize, prot);
        if (r === 0 && counts.pfn !== undefined) counts.pfn++;
        return r;
      };
      published.tryUnmapPfn = (iovaPfn, pgsize, gather) => {
        const r = t.tryUnmapPfn(iovaPfn, pgsize, gather);
        if (r !== 0 && counts.pfn !== undefined) counts.pfn++;
        return r;
      };
    }
    expect(iommuDomainSetPgtblOps(d, published)).toBe(0);
  } else if (way === 'pages') {
    expect(iommuDomainSetPgtblOps(d, { mapPages: t.mapPages.bind(t), unmapPages: t.unmapPages.bind(t) })).toBe(0);
  }
  return d;
}

type CoreOp =
  | { kind: 'map'; iova: number; pa: number; size: number; prot: number }
  | { kind: 'unmap'; iova: number; size: number }
  | { kind: 'mapPage'; iovaPfn: number; paPfn: number; size: number; prot: number }
  | { kind: 'unmapPage'; iovaPfn: number; size: number }
  | { kind: 'table'; iova: number; pa: number; size: number };

const coreAddr = fc.oneof(
  { weight: 20, arbitrary: fc.integer({ min: 0, max: 40 }).map((i) => 2 ** 32 + i * SZ_4K) },
  // the next level-3 tables (tryMapPageWalk installs or follows them)
  { weight: 2, arbitrary: fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 1, max: 3 })).map(([i, t]) => 2 ** 32 + t * SZ_2M + i * SZ_4K) },
  { weight: 2, arbitrary: fc.tuple(fc.integer({ min: 0, max: 40 }), fc.constantFrom(0, 2 ** 31, 2 ** 47)).map(([i, b]) => b + i * SZ_4K) },
  { weight: 2, arbitrary: fc.tuple(fc.integer({ min: 0, max: 3 }), fc.constantFrom(SZ_2M, SZ_1G)).map(([i, s]) => i * s) },
  { weight: 2, arbitrary: fc.constantFrom(-SZ_4K, 0x800, SZ_4K + 0.5, NaN, 2 ** 48, 2 ** 52, 2 ** 53, 2 ** 32 + 0x800) },
);
const coreSize = fc.oneof(
  { weight: 20, arbitrary: fc.constant(SZ_4K) },
  { weight: 2, arbitrary: fc.constant(SZ_2M) },
  { weight: 2, arbitrary: fc.constantFrom(0, -SZ_4K, -(2 ** 31), 0x800, 3 * SZ_4K, SZ_4K + 0.5, NaN, SZ_2M + SZ_4K) },
);
/** Unmap sizes may be huge (nothing is mapped there): sizes that wrap to a page size in int32. */
const coreUnmapSize = fc.oneof({ weight: 10, arbitrary: coreSize }, { weight: 1, arbitrary: fc.constantFrom(2 ** 31, 2 ** 32 + SZ_4K, 2 ** 53) });
const coreProt = fc.oneof({ weight: 6, arbitrary: fc.constantFrom(IOMMU_READ, IOMMU_READ | IOMMU_WRITE, IOMMU_READ | IOMMU_CACHE) }, { weight: 1, arbitrary: fc.constantFrom(0, 1.5, 2 ** 31, -1, NaN) });
const pfn = fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 2 ** 20, max: 2 ** 20 + 40 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 40 }) }, { weight: 1, arbitrary: fc.constantFrom(2 ** 36 - 1, 2 ** 40) });
const coreOp: fc.Arbitrary<CoreOp> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('map' as const), iova: coreAddr, pa: coreAddr, size: coreSize, prot: coreProt }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('unmap' as const), iova: coreAddr, size: coreUnmapSize }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('mapPage' as const), iovaPfn: pfn, paPfn: pfn, size: fc.constantFrom(SZ_4K, SZ_2M, SZ_64K), prot: fc.constantFrom(IOMMU_READ, IOMMU_READ | IOMMU_WRITE, 0) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('unmapPage' as const), iovaPfn: pfn, size: fc.constantFrom(SZ_4K, SZ_2M, SZ_64K) }) },
  // the driver calling its own table (a block map, say), which moves the table's last page size
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('table' as const), iova: coreAddr, pa: coreAddr, size: fc.constantFrom(SZ_4K, SZ_2M) }) },
);

function run(d: TestDomain, o: CoreOp): number {
  switch (o.kind) {
    case 'map':
      return iommuMap(d, o.iova, o.pa, o.size, o.prot);
    case 'unmap':
      return iommuUnmap(d, o.iova, o.size);
    case 'mapPage':
      return iommuMapPage(d, o.iovaPfn, o.paPfn, o.size, o.prot);
    case 'unmapPage':
      return iommuUnmapPage(d, o.iovaPfn, o.size);
    case 'table':
      return d.table.mapPages(o.iova, o.pa, o.size, 1, IOMMU_READ, { mapped: 0 });
  }
}

describe('iommu_map / iommu_unmap through tryMapPage / tryUnmapPage', () => {
  // the table's page sizes, and narrower domains (a 2M map must then be split into 4K pages)
  for (const bitmap of [SZ_4K | SZ_2M | SZ_1G, SZ_4K, SZ_4K | SZ_1G, SZ_2M | SZ_1G]) {
    it(`domain bitmap ${bitmap.toString(16)}: same results, table calls, syncs, gathers and tables all four ways (property)`, () => {
      const counts = { one: 0, walk: 0, pfn: 0 };
      fc.assert(
        fc.property(fc.array(coreOp, { minLength: 20, maxLength: 60 }), (ops) => {
          const ds = (['one', 'bytes', 'pages', 'ops'] as const).map((w) => testDomain(w, bitmap, counts));
          const ref = ds[3]!;
          const probes = new Set<number>();
          for (const o of ops) {
            const what = JSON.stringify(o);
            const rs = ds.map((d) => run(d, o));
            for (let i = 0; i < 3; i++) {
              expect(rs[i], `${i} ${what}`).toBe(rs[3]);
              expect(ds[i]!.log, what).toEqual(ref.log);
            }
            const iova = o.kind === 'mapPage' || o.kind === 'unmapPage' ? o.iovaPfn * o.size : o.iova;
            if (Number.isSafeInteger(iova) && iova >= 0 && iova < 2 ** 48) for (const off of [0, 0x10, SZ_4K, SZ_2M - 1]) probes.add(iova + off);
          }
          for (const p of probes) for (let i = 0; i < 3; i++) expect(iommuIovaToPhys(ds[i]!, p), `${i} ${p.toString(16)}`).toBe(iommuIovaToPhys(ref, p));
          for (let i = 0; i < 3; i++) expect(leavesOf(ds[i]!.table)).toEqual(leavesOf(ref.table));
          for (const d of ds) d.table.free();
        }),
        { numRuns: 120, seed: 0x1e9 },
      );
      // the first tests must take calls through the entries, or this compares nothing new
      expect(counts.one).toBeGreaterThan(bitmap & SZ_4K ? 400 : 10);
      // the frame-number entries too, where the DMA API's 4K pages can be mapped
      if (bitmap & SZ_4K) expect(counts.pfn).toBeGreaterThan(20);
      // and through the second one (installs, follows and failures), where 4K pages are mapped
      if (bitmap & SZ_4K) expect(counts.walk).toBeGreaterThan(50);
    });
  }

  it('refuses to publish a table whose one-page entries are not functions', () => {
    const d = testDomain('ops', SZ_4K, { one: 0 });
    const t = d.table;
    const base = { mapPages: t.mapPages.bind(t), unmapPages: t.unmapPages.bind(t) };
    expect(iommuDomainSetPgtblOps(d, { ...base, tryMapPage: 1 } as unknown as IommuPgtableOps)).toBe(-EINVAL);
    expect(iommuDomainSetPgtblOps(d, { ...base, tryUnmapPage: 'x' } as unknown as IommuPgtableOps)).toBe(-EINVAL);
    expect(iommuDomainSetPgtblOps(d, { ...base, tryMapPageWalk: {} } as unknown as IommuPgtableOps)).toBe(-EINVAL);
    expect(iommuDomainSetPgtblOps(d, { ...base, tryMapPfn: 0 } as unknown as IommuPgtableOps)).toBe(-EINVAL);
    expect(iommuDomainSetPgtblOps(d, { ...base, tryUnmapPfn: null } as unknown as IommuPgtableOps)).toBe(-EINVAL);
    expect(d.pgtblOps).toBe(null);
    expect(iommuDomainSetPgtblOps(d, { ...base, tryMapPage: t.tryMapPage.bind(t) })).toBe(0);
    expect(iommuMap(d, 2 ** 32, 2 ** 33, SZ_4K, IOMMU_READ)).toBe(0);
    expect(iommuUnmap(d, 2 ** 32, SZ_4K)).toBe(SZ_4K);
    t.free();
  });

  it('a failing table allocation is -ENOMEM, with the same allocator calls, whichever way the call went', () => {
    const counts = { one: 0, walk: 0 };
    const ds = (['one', 'pages', 'ops'] as const).map((w) => testDomain(w, SZ_4K | SZ_2M, counts));
    for (const d of ds) {
      expect(iommuMap(d, 2 ** 32, 2 ** 33, SZ_4K, IOMMU_READ)).toBe(0);
      // the next level-3 table is missing; its allocation fails, then succeeds
      d.kernel.pages.injectFaults({ nth: 1 });
      expect(iommuMap(d, 2 ** 32 + SZ_2M, 2 ** 33, SZ_4K, IOMMU_READ)).toBe(-ENOMEM);
      expect(iommuIovaToPhys(d, 2 ** 32 + SZ_2M)).toBe(0);
      expect(iommuMapPage(d, (2 ** 32 + SZ_2M) / SZ_4K, 2 ** 33 / SZ_4K + 1, SZ_4K, IOMMU_READ)).toBe(0);
      // the DMA API's entry, likewise
      d.kernel.pages.injectFaults({ nth: 1 });
      expect(iommuMapPage(d, (2 ** 32 + 2 * SZ_2M) / SZ_4K, 2 ** 33 / SZ_4K, SZ_4K, IOMMU_READ)).toBe(-ENOMEM);
      expect(iommuMap(d, 2 ** 32 + 2 * SZ_2M, 2 ** 33 + SZ_4K, SZ_4K, IOMMU_READ)).toBe(0);
    }
    // the first domain's calls went through the second entry: installs and both failures
    expect(counts.walk).toBe(4);
    for (const d of ds.slice(1)) {
      expect(d.kernel.pages.stats()).toEqual(ds[0]!.kernel.pages.stats());
      expect(d.kernel.pages.snapshot()).toEqual(ds[0]!.kernel.pages.snapshot());
      expect(leavesOf(d.table)).toEqual(leavesOf(ds[0]!.table));
      expect(d.log).toEqual(ds[0]!.log);
    }
    expect(ds[0]!.kernel.pages.stats().failedAllocs).toBe(2);
    for (const d of ds) d.table.free();
  });

  it('every iotlb_sync sees a gather holding only its own call\'s pages', () => {
    const d = testDomain('one', SZ_4K | SZ_2M, { one: 0 });
    expect(iommuMap(d, 2 ** 32, 2 ** 33, SZ_4K, IOMMU_READ)).toBe(0);
    expect(iommuMap(d, 2 ** 32 + SZ_4K, 2 ** 33 + SZ_4K, SZ_4K, IOMMU_READ)).toBe(0);
    expect(iommuUnmap(d, 2 ** 32 + SZ_4K, SZ_4K)).toBe(SZ_4K);
    expect(iommuUnmap(d, 2 ** 32 + 5 * SZ_4K, SZ_4K)).toBe(0); // nothing there
    expect(iommuUnmap(d, 2 ** 32, SZ_4K)).toBe(SZ_4K);
    const fresh = `sync ${Number.MAX_SAFE_INTEGER} ${Number.MIN_SAFE_INTEGER} 0 false`;
    expect(d.log).toEqual([
      `page ${2 ** 32 + SZ_4K} ${SZ_4K}`,
      `sync ${2 ** 32 + SZ_4K} ${2 ** 32 + 2 * SZ_4K - 1} ${SZ_4K} false`,
      fresh,
      `page ${2 ** 32} ${SZ_4K}`,
      `sync ${2 ** 32} ${2 ** 32 + SZ_4K - 1} ${SZ_4K} false`,
    ]);
    d.table.free();
  });

  it('an unmap nested in the driver callback of a one-page unmap gets its own gather and sync', () => {
    const counts = { one: 0 };
    const results: { ret: number[]; log: string[][] }[] = [];
    for (const way of ['one', 'ops'] as const) {
      const outer = testDomain(way, SZ_4K | SZ_2M, counts);
      const inner = testDomain(way, SZ_4K | SZ_2M, counts);
      const ret: number[] = [];
      for (const d of [outer, inner]) for (let i = 0; i < 4; i++) expect(iommuMap(d, 2 ** 32 + i * SZ_4K, 2 ** 33 + i * SZ_4K, SZ_4K, IOMMU_READ)).toBe(0);
      // the first unmap's iotlb_sync unmaps a page of the other domain, whose own driver
      // callbacks run inside that sync
      let nested = true;
      const sync = OPS.iotlbSync!;
      const ops: IommuDomainOps = {
        ...OPS,
        iotlbSync: (d, g) => {
          sync(d, g);
          if (nested) {
            nested = false;
            ret.push(iommuUnmap(inner, 2 ** 32 + SZ_4K, SZ_4K));
          }
        },
      };
      (outer as { ops: IommuDomainOps }).ops = ops;
      ret.push(iommuUnmap(outer, 2 ** 32, SZ_4K));
      ret.push(iommuUnmap(outer, 2 ** 32 + 2 * SZ_4K, SZ_4K));
      ret.push(iommuUnmap(inner, 2 ** 32 + 3 * SZ_4K, SZ_4K));
      results.push({ ret, log: [outer.log, inner.log] });
    }
    expect(results[0]).toEqual(results[1]);
    expect(results[0]!.ret).toEqual([SZ_4K, SZ_4K, SZ_4K, SZ_4K]);
    expect(counts.one).toBeGreaterThan(4);
  });
});
