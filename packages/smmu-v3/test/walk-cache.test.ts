import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { WalkAccess } from '@gki/hw';
import { IOMMU_READ, IOMMU_WRITE, iommuAttachDevice, iommuDomainAlloc, iommuMap, iommuUnmap, type IommuDomain } from '@gki/kernel';
import { boot, buffer, SIDS, type Preset, type Rig } from './helpers.js';

/*
 * The SMMUv3 model caches the tables its walks reach (a walk cache, as hardware has). The
 * architecture lets a TLBI by VA with Leaf = 1 keep those entries; only Leaf = 0 (and the
 * ASID/VMID/ALL forms) must drop them. Linux's arm-smmu-v3 invalidates with Leaf = 0 when
 * io-pgtable frees a table (tlb_flush_walk) and with Leaf = 1 for unmapped leaves (iotlb_sync).
 * These tests check that the driver's sequence keeps the model exact, and that a driver which
 * invalidates a freed table with Leaf = 1 sees the stale walk, as it would on hardware.
 */

const RW = IOMMU_READ | IOMMU_WRITE;
const SZ_4K = 0x1000;
const SZ_2M = 0x20_0000;
const IOVA = 0x100_0000; // 2 MiB aligned: one level-3 table covers [IOVA, IOVA + 2 MiB)
const READ: WalkAccess = { write: false, exec: false, priv: false };

let rigs: Rig[] = [];
afterEach(() => {
  for (const r of rigs) expect(r.model.hitlessViolations).toEqual([]);
  rigs = [];
});

function setup(preset: Preset, walkCache: boolean): { r: Rig; d: IommuDomain } {
  const r = boot({ preset, walkCache });
  rigs.push(r);
  expect(r.model.walkCacheEnabled).toBe(walkCache);
  const d = iommuDomainAlloc(r.masters[0]!);
  if (typeof d === 'number') throw new Error(`domain ${d}`);
  expect(iommuAttachDevice(d, r.masters[0]!)).toBe(0);
  return { r, d };
}

/** The model's translation of `iova` for the first master, or null when it aborts. */
function tr(r: Rig, iova: number): number | null {
  const out = { pa: -1 };
  return r.model.translate(SIDS[0], -1, iova, READ, out) ? out.pa : null;
}

/** A 2 MiB-aligned physical block of 2 MiB. */
function block(r: Rig): number {
  const pa = buffer(r.k, 9);
  expect(pa % SZ_2M).toBe(0);
  return pa;
}

/** Maps the 512 pages of [IOVA, IOVA + 2 MiB) one 4 KiB page at a time (a level-3 table). */
function map4k(d: IommuDomain, pa: number): void {
  for (let i = 0; i < 512; i++) expect(iommuMap(d, IOVA + i * SZ_4K, pa + i * SZ_4K, SZ_4K, RW)).toBe(0);
}

/** Makes the domain's TLB invalidations all Leaf = 1 (a driver bug: freed tables stay in walk caches). */
function leafOnlyInvalidation(d: IommuDomain): void {
  const dom = d as unknown as { tlbInvRange(iova: number, size: number, granule: number, leaf: boolean): void };
  const real = dom.tlbInvRange.bind(dom);
  dom.tlbInvRange = (iova, size, granule) => real(iova, size, granule, true);
}

describe.each(['fvp', 'qemu'] as const)('walk cache, %s preset', (preset) => {
  it('a walk that resumes at the cached level-3 table translates like a full one', () => {
    const { r, d } = setup(preset, true);
    const pa = block(r);
    map4k(d, pa);
    expect(tr(r, IOVA + 5 * SZ_4K + 0x10)).toBe(pa + 5 * SZ_4K + 0x10);
    expect(r.model.walkCacheSize).toBeGreaterThan(0);
    const before = r.model.walkCacheCounters()!.hits;
    for (let i = 6; i < 512; i += 37) expect(tr(r, IOVA + i * SZ_4K + 0x123)).toBe(pa + i * SZ_4K + 0x123);
    expect(r.model.walkCacheCounters()!.hits - before).toBe(14);
  });

  it.each([true, false])('walkCache=%s: unmapping a whole 2 MiB (io-pgtable frees the table, Leaf = 0 TLBI) faults, then a block mapped there translates', (walkCache) => {
    const { r, d } = setup(preset, walkCache);
    const pa = block(r);
    map4k(d, pa);
    for (const i of [0, 7, 511]) expect(tr(r, IOVA + i * SZ_4K)).toBe(pa + i * SZ_4K);
    const events = r.model.stats.events;
    expect(iommuUnmap(d, IOVA, SZ_2M)).toBe(SZ_2M);
    // Pages that were in the TLB and pages that never were: all gone.
    for (const i of [0, 7, 8, 511]) expect(tr(r, IOVA + i * SZ_4K)).toBeNull();
    expect(r.model.stats.events - events).toBe(4); // one translation fault record each
    // The level-2 slot now holds a 2 MiB block instead of the freed table.
    const blk = block(r);
    expect(iommuMap(d, IOVA, blk, SZ_2M, RW)).toBe(0);
    for (const off of [0, 7 * SZ_4K + 0x10, SZ_2M - 4]) expect(tr(r, IOVA + off)).toBe(blk + off);
  });

  it('a driver that invalidates a freed table with Leaf = 1 keeps walking it (walk cache on), unlike a model without a walk cache', () => {
    const seen: Record<string, (number | null)[]> = {};
    for (const walkCache of [true, false]) {
      const { r, d } = setup(preset, walkCache);
      leafOnlyInvalidation(d);
      const pa = block(r);
      map4k(d, pa);
      expect(tr(r, IOVA + 3 * SZ_4K)).toBe(pa + 3 * SZ_4K);
      expect(iommuUnmap(d, IOVA, SZ_2M)).toBe(SZ_2M);
      const afterUnmap = tr(r, IOVA + 9 * SZ_4K); // never in the TLB
      const blk = block(r);
      expect(iommuMap(d, IOVA, blk, SZ_2M, RW)).toBe(0);
      const afterRemap = tr(r, IOVA + 10 * SZ_4K + 0x20);
      seen[String(walkCache)] = [afterUnmap, afterRemap, pa, blk];
    }
    const [staleUnmap, staleRemap, oldPa] = seen.true!;
    const [freshUnmap, freshRemap, , newBlk] = seen.false!;
    // With a walk cache the old level-3 table (freed, not cleared) still translates...
    expect(staleUnmap).toBe(oldPa! + 9 * SZ_4K);
    expect(staleRemap).toBe(oldPa! + 10 * SZ_4K + 0x20);
    // ...without one, the same driver gets what the tables say.
    expect(freshUnmap).toBeNull();
    expect(freshRemap).toBe(newBlk! + 10 * SZ_4K + 0x20);
  });
});

type Op = { kind: 'map4k'; slot: number; first: number; count: number } | { kind: 'map2m'; slot: number } | { kind: 'unmap'; slot: number; first: number; count: number } | { kind: 'unmapAll'; slot: number };
const SLOTS = 3;
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('map4k' as const), slot: fc.nat(SLOTS - 1), first: fc.nat(511), count: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ kind: fc.constant('map2m' as const), slot: fc.nat(SLOTS - 1) }),
  fc.record({ kind: fc.constant('unmap' as const), slot: fc.nat(SLOTS - 1), first: fc.nat(511), count: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ kind: fc.constant('unmapAll' as const), slot: fc.nat(SLOTS - 1) }),
);

describe('walk cache against no walk cache', () => {
  it('with the driver\'s invalidations, every translation and fault is the same with and without the walk cache', () => {
    fc.assert(
      fc.property(fc.constantFrom('fvp' as const, 'qemu' as const), fc.array(opArb, { minLength: 1, maxLength: 24 }), fc.array(fc.nat(SLOTS * 512 - 1), { minLength: 8, maxLength: 8 }), (preset, ops, probes) => {
        const a = setup(preset, true);
        const b = setup(preset, false);
        const slotIova = (s: number) => IOVA + s * SZ_2M;
        const bufs = [a, b].map(({ r }) => Array.from({ length: SLOTS }, () => block(r)));
        // Same boot, same calls: both kernels hand out the same pages.
        expect(bufs[0]).toEqual(bufs[1]);
        const probeAll = () => {
          for (const p of [...probes, 0, 511, 512, SLOTS * 512 - 1]) {
            const iova = IOVA + p * SZ_4K + 0x18;
            expect(tr(a.r, iova)).toBe(tr(b.r, iova));
          }
        };
        probeAll();
        for (const op of ops) {
          for (const [i, { d }] of [a, b].entries()) {
            const base = slotIova(op.slot);
            const pa = bufs[i]![op.slot]!;
            if (op.kind === 'map4k') {
              for (let p = op.first; p < Math.min(512, op.first + op.count); p++) iommuMap(d, base + p * SZ_4K, pa + p * SZ_4K, SZ_4K, RW);
            } else if (op.kind === 'map2m') {
              iommuMap(d, base, pa, SZ_2M, RW);
            } else if (op.kind === 'unmap') {
              for (let p = op.first; p < Math.min(512, op.first + op.count); p++) iommuUnmap(d, base + p * SZ_4K, SZ_4K);
            } else {
              iommuUnmap(d, base, SZ_2M);
            }
          }
          probeAll();
        }
        expect(a.r.model.stats.events).toBe(b.r.model.stats.events);
        expect(a.r.model.walkCacheCounters()!.hits + a.r.model.walkCacheCounters()!.misses).toBeGreaterThan(0);
        rigs = [];
      }),
      { numRuns: 40 },
    );
  });
});
