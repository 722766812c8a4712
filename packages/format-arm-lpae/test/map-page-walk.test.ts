/**
 * tryMapPageWalk, the second one-page entry the IOMMU core calls when tryMapPage declined: it
 * takes a page outside tryMapPage's window by going one level up from the walk cache, and
 * installs the level-3 (last-level) table when it is missing. "tryMapPage, else
 * tryMapPageWalk, else mapPages" on one table must be exactly mapPages on a twin table: the
 * same results, the same memory (table addresses, table descriptors with their NSTable /
 * SW_SYNC bits, leaves), the same allocator calls, statistics and failures, the same TLB
 * callbacks; and a declined call must change nothing that can be seen.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ENOMEM, type Kernel } from '@gki/kernel';
import { IOMMU_CACHE, IOMMU_READ, IOMMU_WRITE, IO_PGTABLE_QUIRK_ARM_NS, type IommuFlushOps, type IoPgtableCfg } from '@gki/io-pgtable-core';
import { createArmLpaeOps, type ArmLpaeFmt, type ArmLpaeIoPgtable } from '../src/index.js';
import { makeKernel } from './helpers/env.js';

const RAM_MIB = 8;
const CHUNK = 2 ** 21;

interface Shape {
  fmt: ArmLpaeFmt;
  bitmap: number;
  ias: number;
  oas: number;
  /** The granule: the page size the cases map one at a time. */
  page: number;
  quirks?: number;
  coherent?: boolean;
  /** Tables from the driver's allocator (cfg.allocator) instead of the page allocator. */
  custom?: boolean;
}
const SHAPES: Shape[] = [
  { fmt: 'ARM_64_LPAE_S1', bitmap: 0x40201000, ias: 48, oas: 48, page: 0x1000 },
  { fmt: 'ARM_64_LPAE_S1', bitmap: 0x40201000, ias: 39, oas: 40, page: 0x1000, coherent: false },
  { fmt: 'ARM_64_LPAE_S1', bitmap: 0x40201000, ias: 48, oas: 44, page: 0x1000, quirks: IO_PGTABLE_QUIRK_ARM_NS, custom: true },
  { fmt: 'ARM_64_LPAE_S1', bitmap: 0x02004000, ias: 48, oas: 48, page: 0x4000 },
  { fmt: 'ARM_64_LPAE_S1', bitmap: 0x20010000, ias: 48, oas: 48, page: 0x10000, coherent: false },
  // start level 2: the level above the last is the PGD, which the entry leaves to mapPages
  { fmt: 'ARM_64_LPAE_S1', bitmap: 0x20010000, ias: 42, oas: 48, page: 0x10000 },
  { fmt: 'ARM_64_LPAE_S2', bitmap: 0x40201000, ias: 40, oas: 40, page: 0x1000 },
  { fmt: 'ARM_32_LPAE_S1', bitmap: 0x40201000, ias: 32, oas: 40, page: 0x1000 },
  { fmt: 'ARM_MALI_LPAE', bitmap: 0x40201000, ias: 48, oas: 40, page: 0x1000, coherent: false },
];

type Op =
  | { kind: 'map'; u: number; t: number; s: number; pa: number; prot: number }
  /** unmap of the level-2 (table-sized) block holding (u, t): frees that last-level table */
  | { kind: 'free'; u: number; t: number }
  /** a block mapping where a table could go */
  | { kind: 'block'; u: number; t: number }
  /** a run of pages (moves the walk cache and the window) */
  | { kind: 'run'; u: number; t: number; n: number }
  /** iova_to_phys (moves the walk cache) */
  | { kind: 'walk'; u: number; t: number }
  /** the next table allocation, or the one after, fails (on both twins) */
  | { kind: 'fault'; nth: number };

function opArb(page: number): fc.Arbitrary<Op> {
  const u = fc.integer({ min: 0, max: 1 });
  const t = fc.integer({ min: 0, max: 4 });
  const pa = fc.oneof(
    { weight: 12, arbitrary: fc.integer({ min: 0, max: 64 }).map((i) => 0x8000_0000 + i * page) },
    { weight: 2, arbitrary: fc.integer({ min: 1, max: 3 }).map((i) => 2 ** 40 - i * page) },
    { weight: 2, arbitrary: fc.constantFrom(0x8000_0800, 0x8000_0000 + page / 2, 2 ** 48 - page, 2 ** 48, 2 ** 40, -page, 0.5, NaN) },
  );
  const prot = fc.oneof({ weight: 8, arbitrary: fc.constantFrom(IOMMU_READ, IOMMU_READ | IOMMU_WRITE, IOMMU_WRITE | IOMMU_CACHE) }, { weight: 1, arbitrary: fc.constantFrom(0, IOMMU_CACHE, 0x40 | IOMMU_READ) });
  return fc.oneof(
    { weight: 14, arbitrary: fc.record({ kind: fc.constant('map' as const), u, t, s: fc.constantFrom(0, 1, 2, page / 8 - 1), pa, prot }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('free' as const), u, t }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('block' as const), u, t }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('run' as const), u, t, n: fc.integer({ min: 1, max: 20 }) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('walk' as const), u, t }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('fault' as const), nth: fc.integer({ min: 1, max: 2 }) }) },
  );
}

interface Twin {
  k: Kernel;
  t: ArmLpaeIoPgtable;
  events: string[];
  mapped: { mapped: number };
}

function twin(s: Shape): Twin {
  const k = makeKernel(RAM_MIB);
  const events: string[] = [];
  const tlb: IommuFlushOps = {
    tlbFlushAll: () => events.push('all'),
    tlbFlushWalk: (iova, size, granule) => events.push(`walk ${iova} ${size} ${granule}`),
    tlbAddPage: (_g, iova, granule) => events.push(`page ${iova} ${granule}`),
  };
  const cfg: IoPgtableCfg = { quirks: s.quirks ?? 0, pgsizeBitmap: s.bitmap, ias: s.ias, oas: s.oas, coherentWalk: s.coherent ?? true, tlb };
  if (s.custom) {
    // the driver's allocator: whole pages from the page allocator, every call logged
    cfg.allocator = {
      alloc: (_c, size) => {
        const pa = k.pages.allocPages(Math.max(0, Math.ceil(Math.log2(size / 4096))));
        events.push(`alloc ${size} -> ${pa}`);
        return pa;
      },
      free: (_c, pa, size) => {
        events.push(`free ${pa} ${size}`);
        k.pages.freePages(pa, Math.max(0, Math.ceil(Math.log2(size / 4096))));
      },
    };
  }
  const t = createArmLpaeOps(k, s.fmt, cfg, null)!;
  expect(t).toBeTruthy();
  return { k, t, events, mapped: { mapped: 0 } };
}

/**
 * First differing word of the pages the two allocators hand out (the same blocks: checked
 * before), or null: table addresses, table descriptors and leaves, all of it.
 */
function ramDiff(a: Kernel, b: Kernel): string | null {
  for (const { pa, order } of a.pages.snapshot()) {
    const wa = a.mem.peekChunk(pa);
    const wb = b.mem.peekChunk(pa);
    const first = (pa % CHUNK) / 4;
    const end = first + (4096 << order) / 4;
    for (let i = first; i < end; i++) if (wa[i] !== wb[i]) return `${(pa - (pa % CHUNK) + 4 * i).toString(16)}: ${wa[i]!.toString(16)} vs ${wb[i]!.toString(16)}`;
  }
  return null;
}

function sameState(a: Twin, b: Twin, what: string): void {
  expect(a.k.pages.stats(), what).toEqual(b.k.pages.stats());
  expect(a.k.pages.snapshot(), what).toEqual(b.k.pages.snapshot());
  expect(ramDiff(a.k, b.k), what).toBe(null);
  expect(a.events, what).toEqual(b.events);
  expect(a.mapped.mapped, what).toBe(b.mapped.mapped);
}

describe('tryMapPageWalk: tryMapPage, else tryMapPageWalk, else mapPages is mapPages (property)', () => {
  for (const s of SHAPES) {
    const name = `${s.fmt} ${s.page / 1024}K ias ${s.ias}${s.coherent === false ? ' non-coherent' : ''}${s.quirks ? ' NS' : ''}${s.custom ? ' custom allocator' : ''}`;
    it(name, () => {
      const entries = s.page / 8;
      const blkUp = s.page * entries; // a last-level table's span (a block one level up)
      const span = blkUp * entries; // the span of the table one level up
      const base = 2 ** (s.ias - 1);
      const iovaOf = (u: number, t: number, slot = 0) => base + u * span + t * blkUp + slot * s.page;
      const upIsPgd = s.ias - Math.log2(s.page) <= 2 * Math.log2(entries);
      const seen = { installed: 0, followed: 0, nomem: 0, declined: 0, pfn: 0 };
      fc.assert(
        fc.property(fc.array(opArb(s.page), { minLength: 10, maxLength: 50 }), (ops) => {
          const a = twin(s);
          const b = twin(s);
          for (const o of ops) {
            const what = JSON.stringify(o);
            switch (o.kind) {
              case 'map': {
                const iova = iovaOf(o.u, o.t, o.s);
                // the frame-number entry (tryMapPfn, what the DMA API's path calls) for half of
                // the calls that meet its guarantees: it must follow the window as tryMapPage does
                const byPfn = o.s % 2 === 1 && Number.isSafeInteger(o.pa) && o.pa >= 0 && o.pa % s.page === 0;
                let ra = byPfn ? a.t.tryMapPfn(iova / s.page, o.pa / s.page, s.page, o.prot) : a.t.tryMapPage(iova, o.pa, s.page, o.prot);
                if (byPfn && ra === 0) seen.pfn++;
                if (ra === 0) a.mapped.mapped += s.page;
                else {
                  expect(ra, what).toBe(1);
                  const inUse = a.k.pages.stats().allocCalls;
                  ra = a.t.tryMapPageWalk(iova, o.pa, s.page, o.prot);
                  if (ra === 0) {
                    a.mapped.mapped += s.page;
                    if (a.k.pages.stats().allocCalls > inUse) seen.installed++;
                    else seen.followed++;
                  } else if (ra === 1) {
                    // declined: nothing that can be seen changed
                    seen.declined++;
                    sameState(a, b, what);
                    ra = a.t.mapPages(iova, o.pa, s.page, 1, o.prot, a.mapped);
                  } else {
                    expect(ra, what).toBe(-ENOMEM);
                    seen.nomem++;
                  }
                }
                expect(ra, what).toBe(b.t.mapPages(iova, o.pa, s.page, 1, o.prot, b.mapped));
                break;
              }
              case 'free':
                for (const x of [a, b]) x.t.unmapPages(iovaOf(o.u, o.t), blkUp, 1, null);
                break;
              case 'block':
                for (const x of [a, b]) x.t.mapPages(iovaOf(o.u, o.t), 2 ** 39, blkUp, 1, IOMMU_READ, x.mapped);
                break;
              case 'run':
                for (const x of [a, b]) x.t.mapPages(iovaOf(o.u, o.t, 100), 0x9000_0000, s.page, o.n, IOMMU_READ, x.mapped);
                break;
              case 'walk':
                expect(a.t.iovaToPhys(iovaOf(o.u, o.t, 1)), what).toBe(b.t.iovaToPhys(iovaOf(o.u, o.t, 1)));
                break;
              case 'fault':
                for (const x of [a, b]) x.k.pages.injectFaults({ nth: o.nth });
                break;
            }
            sameState(a, b, what);
          }
          for (const x of [a, b]) {
            x.k.pages.clearFaults();
            x.t.free();
          }
          sameState(a, b, 'after free');
          expect(a.k.pages.stats().pagesInUse).toBe(0);
        }),
        { numRuns: 60, seed: 0x7ab1e },
      );
      if (upIsPgd) {
        // nothing for the entry to take: every call must have gone on to mapPages
        expect(seen.installed + seen.followed + seen.nomem).toBe(0);
        expect(seen.declined).toBeGreaterThan(50);
      } else {
        // the entry must have installed tables, followed existing ones and failed like mapPages
        expect(seen.installed).toBeGreaterThan(20);
        expect(seen.followed).toBeGreaterThan(20);
        expect(seen.nomem).toBeGreaterThan(2);
        expect(seen.declined).toBeGreaterThan(20);
      }
      expect(seen.pfn).toBeGreaterThan(10);
    });
  }
});

describe('tryMapPageWalk: the cases it takes', () => {
  it('installs the missing last-level table one level up from the walk cache, as mapPages does', () => {
    const a = twin(SHAPES[0]!);
    const b = twin(SHAPES[0]!);
    const iova = 2 ** 32;
    for (const x of [a, b]) expect(x.t.mapPages(iova, 0x8000_0000, 0x1000, 1, IOMMU_READ, x.mapped)).toBe(0);
    // the next level-3 table: outside the window, missing
    const next = iova + 0x20_0000;
    expect(a.t.tryMapPage(next, 0x8000_1000, 0x1000, IOMMU_READ)).toBe(1);
    const calls = a.k.pages.stats().allocCalls;
    expect(a.t.tryMapPageWalk(next, 0x8000_1000, 0x1000, IOMMU_READ)).toBe(0);
    expect(a.k.pages.stats().allocCalls).toBe(calls + 1);
    expect(b.t.mapPages(next, 0x8000_1000, 0x1000, 1, IOMMU_READ, b.mapped)).toBe(0);
    a.mapped.mapped += 0x1000;
    sameState(a, b, 'install');
    // the window moved there: the next page is tryMapPage's
    expect(a.t.tryMapPage(next + 0x1000, 0x8000_2000, 0x1000, IOMMU_READ)).toBe(0);
    a.mapped.mapped += 0x1000;
    expect(b.t.mapPages(next + 0x1000, 0x8000_2000, 0x1000, 1, IOMMU_READ, b.mapped)).toBe(0);
    expect(a.t.iovaToPhys(next + 0x1010)).toBe(0x8000_2010);
    sameState(a, b, 'window');
    // a failing allocation: -ENOMEM, one failed call, nothing mapped, as mapPages
    for (const x of [a, b]) x.k.pages.injectFaults({ nth: 1 });
    expect(a.t.tryMapPageWalk(next + 0x20_0000, 0x8000_3000, 0x1000, IOMMU_READ)).toBe(-ENOMEM);
    expect(b.t.mapPages(next + 0x20_0000, 0x8000_3000, 0x1000, 1, IOMMU_READ, b.mapped)).toBe(-ENOMEM);
    sameState(a, b, 'failed install');
    expect(a.k.pages.stats().failedAllocs).toBe(1);
    a.t.free();
    b.t.free();
  });

  it('declines what mapPages reports on (a block in the way, an occupied slot, bad arguments), changing nothing', () => {
    const a = twin(SHAPES[0]!);
    const iova = 2 ** 32;
    expect(a.t.mapPages(iova, 0x8000_0000, 0x1000, 1, IOMMU_READ, a.mapped)).toBe(0);
    expect(a.t.mapPages(iova + 0x20_0000, 2 ** 39, 0x20_0000, 1, IOMMU_READ, a.mapped)).toBe(0); // a block
    expect(a.t.mapPages(iova + 0x40_0000, 0x8000_0000, 0x1000, 1, IOMMU_READ, a.mapped)).toBe(0);
    expect(a.t.iovaToPhys(iova)).toBe(0x8000_0000); // walk cache back on the first table
    const stats = a.k.pages.stats();
    const events = a.events.length;
    expect(a.t.tryMapPageWalk(iova + 0x20_1000, 0x8000_1000, 0x1000, IOMMU_READ)).toBe(1); // inside the block
    expect(a.t.tryMapPageWalk(iova + 0x40_0000, 0x8000_1000, 0x1000, IOMMU_READ)).toBe(1); // occupied
    expect(a.t.tryMapPageWalk(iova + 0x60_0000, 0x8000_0800, 0x1000, IOMMU_READ)).toBe(1); // misaligned PA
    expect(a.t.tryMapPageWalk(iova + 0x60_0800, 0x8000_0000, 0x1000, IOMMU_READ)).toBe(1); // misaligned IOVA
    expect(a.t.tryMapPageWalk(iova + 0x60_0000, 0x8000_0000, 0x1000, 0)).toBe(1); // no READ/WRITE
    expect(a.t.tryMapPageWalk(iova + 0x60_0000, 0x8000_0000, 0x20_0000, IOMMU_READ)).toBe(1); // not the last pgsize
    expect(a.t.tryMapPageWalk(iova + 2 ** 30, 0x8000_0000, 0x1000, IOMMU_READ)).toBe(1); // another level-2 table
    expect(a.t.tryMapPageWalk(-0x1000, 0x8000_0000, 0x1000, IOMMU_READ)).toBe(1);
    expect(a.t.tryMapPageWalk(iova + 0x60_0000, 2 ** 48, 0x1000, IOMMU_READ)).toBe(1);
    expect(a.k.pages.stats()).toEqual(stats);
    expect(a.events.length).toBe(events);
    expect(a.t.iovaToPhys(iova + 0x60_0000)).toBe(0);
    a.t.free();
  });
});
