import { describe, expect, it } from 'vitest';
import { DMA_STATUS_DONE, DMA_STATUS_FAULT } from '@gki/hw';
import { IOMMU_READ, IOMMU_WRITE, iommuAttachDevice, iommuEnableNesting, iommuFlushIotlbAll, iommuMap, iommuSetFaultHandler, iommuUnmap, type IommuDomain } from '@gki/kernel';
import { SKIP_TLB, asArmSmmuDomain, type ArmSmmuTlbOp } from '../src/index.js';
import { boot, buffer, domain, type Rig, type RigOptions } from './rig.js';

/*
 * Each kind of TLB invalidation the driver issues is removed in turn (fault injection in its
 * flush ops): the model's TLB then keeps serving the old translation after the page table
 * changed, which DMA observes. The control run (nothing removed) must fault instead, and show
 * that the invalidation was issued.
 */

const RW = IOMMU_READ | IOMMU_WRITE;
const SZ_4K = 0x1000;
const SZ_2M = 0x20_0000;
const IOVA = 0x4000_0000;

const ok = (st: number) => (st & (DMA_STATUS_DONE | DMA_STATUS_FAULT)) === DMA_STATUS_DONE;

interface Scenario {
  op: ArmSmmuTlbOp;
  what: string;
  rig: RigOptions;
  nesting: boolean;
  /** Where the DMA goes (inside the mapping, off its first page for walk flushes). */
  at: number;
  /** Maps, warms the TLB through DMA at `at` and returns the page the DMA reached. */
  prepare(r: Rig, d: IommuDomain): number;
  /** Changes the page table (and lets the driver invalidate). */
  change(r: Rig, d: IommuDomain): void;
}

const LEAF_AT = IOVA + 0x40;
/**
 * For walk flushes: a page other than the first of the 2 MiB range. Linux also issues one
 * leaf invalidation for the range's base address after the walk flush (tlb_add_page with the
 * block size), which covers only the first page.
 */
const WALK_AT = IOVA + 0x1_0040;

function mapWarm(r: Rig, d: IommuDomain, pages: number): number {
  const base = buffer(r.k, Math.log2(pages));
  expect(iommuMap(d, IOVA, base, pages * SZ_4K, RW)).toBe(0);
  expect(ok(r.dmas[0]!.fill(LEAF_AT, 4, 0x1111_1111))).toBe(true);
  expect(r.k.mem.read32(base + 0x40)).toBe(0x1111_1111);
  return base + 0x40;
}

/** 512 4 KiB pages under one level-3 table: unmapping the 2 MiB range frees the table (a walk flush). */
function mapTableWarm(r: Rig, d: IommuDomain): number {
  const base = buffer(r.k, 9);
  for (let i = 0; i < 512; i++) expect(iommuMap(d, IOVA + i * SZ_4K, base + i * SZ_4K, SZ_4K, RW)).toBe(0);
  expect(ok(r.dmas[0]!.fill(WALK_AT, 4, 0x1111_1111))).toBe(true);
  expect(r.k.mem.read32(base + 0x1_0040)).toBe(0x1111_1111);
  return base + 0x1_0040;
}

const SCENARIOS: Scenario[] = [
  {
    op: 'TLBIVAL',
    what: 'stage-1 leaf invalidation on unmap (tlb_add_page)',
    rig: {},
    nesting: false,
    at: LEAF_AT,
    prepare: (r, d) => mapWarm(r, d, 1),
    change: (_r, d) => expect(iommuUnmap(d, IOVA, SZ_4K)).toBe(SZ_4K),
  },
  {
    op: 'TLBIVA',
    what: 'stage-1 walk invalidation when a table is freed (tlb_flush_walk)',
    rig: {},
    nesting: false,
    at: WALK_AT,
    prepare: mapTableWarm,
    change: (_r, d) => expect(iommuUnmap(d, IOVA, SZ_2M)).toBe(SZ_2M),
  },
  {
    op: 'TLBIASID',
    what: 'invalidation by ASID (Qualcomm walk flush, and flush_iotlb_all)',
    rig: { compatible: ['qcom,sm8150-smmu-500', 'qcom,smmu-500', 'arm,mmu-500'] },
    nesting: false,
    at: WALK_AT,
    prepare: mapTableWarm,
    change: (_r, d) => expect(iommuUnmap(d, IOVA, SZ_2M)).toBe(SZ_2M),
  },
  {
    op: 'TLBIIPAS2L',
    what: 'stage-2 leaf invalidation on unmap',
    rig: {},
    nesting: true,
    at: LEAF_AT,
    prepare: (r, d) => mapWarm(r, d, 1),
    change: (_r, d) => expect(iommuUnmap(d, IOVA, SZ_4K)).toBe(SZ_4K),
  },
  {
    op: 'TLBIIPAS2',
    what: 'stage-2 walk invalidation when a table is freed',
    rig: {},
    nesting: true,
    at: WALK_AT,
    prepare: mapTableWarm,
    change: (_r, d) => expect(iommuUnmap(d, IOVA, SZ_2M)).toBe(SZ_2M),
  },
  {
    op: 'TLBIVMID',
    what: 'invalidation by VMID (SMMUv1 stage 2 has nothing finer)',
    rig: { compatible: ['arm,smmu-v1'] },
    nesting: true,
    at: LEAF_AT,
    prepare: (r, d) => mapWarm(r, d, 1),
    change: (_r, d) => expect(iommuUnmap(d, IOVA, SZ_4K)).toBe(SZ_4K),
  },
  {
    op: 'TLBIVMID',
    what: 'flush_iotlb_all of a stage-2 domain after a PTE change made behind the flush ops',
    rig: {},
    nesting: true,
    at: LEAF_AT,
    prepare: (r, d) => mapWarm(r, d, 1),
    change: (r, d) => {
      // unmap without its leaf invalidation, then flush the whole context
      r.smmu.skipTlb |= SKIP_TLB.TLBIIPAS2L;
      expect(iommuUnmap(d, IOVA, SZ_4K)).toBe(SZ_4K);
      r.smmu.skipTlb &= ~SKIP_TLB.TLBIIPAS2L;
      iommuFlushIotlbAll(d);
    },
  },
];

function run(s: Scenario, inject: boolean) {
  const r = boot(s.rig);
  const d = domain(r.masters[0]!);
  if (s.nesting) expect(iommuEnableNesting(d)).toBe(0);
  expect(iommuAttachDevice(d, r.masters[0]!)).toBe(0);
  const faults: number[] = [];
  iommuSetFaultHandler(d, (_d, _dev, iova) => {
    faults.push(iova);
    return 0;
  });
  const page = s.prepare(r, d);
  const before = r.smmu.stats.tlbi[s.op as Exclude<ArmSmmuTlbOp, 'TLBSYNC'>];
  if (inject) r.smmu.skipTlb |= SKIP_TLB[s.op];
  s.change(r, d);
  r.smmu.skipTlb = 0;
  const issued = r.smmu.stats.tlbi[s.op as Exclude<ArmSmmuTlbOp, 'TLBSYNC'>] - before;
  const st = r.dmas[0]!.fill(s.at, 4, 0x5151_5151);
  return { r, d, page, issued, st, faults };
}

describe.each(SCENARIOS)('without $op: $what', (s) => {
  it('the control run invalidates and the DMA faults', () => {
    const { issued, st, faults, page, r } = run(s, false);
    expect(issued).toBeGreaterThan(0);
    expect(st & DMA_STATUS_FAULT).toBeTruthy();
    expect(faults).toEqual([s.at]);
    expect(r.k.mem.read32(page)).toBe(0x1111_1111);
  });

  it('with the invalidation removed the model keeps translating through the stale entry', () => {
    const { issued, st, faults, page, r, d } = run(s, true);
    expect(issued).toBe(0);
    expect(ok(st)).toBe(true);
    expect(faults).toEqual([]);
    // the DMA wrote the page that is no longer mapped
    expect(r.k.mem.read32(page)).toBe(0x5151_5151);
    // the page table itself is right: a full flush of the context ends the staleness
    expect(asArmSmmuDomain(d)!.pgtbl!.iovaToPhys(s.at)).toBe(0);
    iommuFlushIotlbAll(d);
    expect(r.dmas[0]!.fill(s.at, 4, 1) & DMA_STATUS_FAULT).toBeTruthy();
  });
});

/*
 * The sync is part of the invalidation: the SMMU only guarantees a TLB maintenance operation
 * once a TLBSYNC (or TLBGSYNC) completed it, and the model keeps the old entries until then.
 * A driver that issues the invalidation but forgets the sync is caught the same way.
 */
describe('without TLBSYNC: the invalidations are written but never completed', () => {
  for (const s of [SCENARIOS[0]!, SCENARIOS[3]!]) {
    it(`${s.op} (${s.what}) stays outstanding and DMA reaches the unmapped page until the next sync`, () => {
      const r = boot(s.rig);
      const d = domain(r.masters[0]!);
      if (s.nesting) expect(iommuEnableNesting(d)).toBe(0);
      expect(iommuAttachDevice(d, r.masters[0]!)).toBe(0);
      const page = s.prepare(r, d);
      const op = s.op as Exclude<ArmSmmuTlbOp, 'TLBSYNC'>;
      const before = { inv: r.smmu.stats.tlbi[op], syncs: r.smmu.stats.tlbSyncs };
      r.smmu.skipTlb |= SKIP_TLB.TLBSYNC;
      s.change(r, d);
      r.smmu.skipTlb = 0;
      // the invalidation was written, the sync was not
      expect(r.smmu.stats.tlbi[op] - before.inv).toBeGreaterThan(0);
      expect(r.smmu.stats.tlbSyncs).toBe(before.syncs);
      expect(ok(r.dmas[0]!.fill(s.at, 4, 0x5151_5151))).toBe(true);
      expect(r.k.mem.read32(page)).toBe(0x5151_5151);
      // the next operation's sync completes the outstanding invalidation
      iommuFlushIotlbAll(d);
      expect(r.dmas[0]!.fill(s.at, 4, 1) & DMA_STATUS_FAULT).toBeTruthy();
      expect(r.k.mem.read32(page)).toBe(0x5151_5151);
    });
  }
});
