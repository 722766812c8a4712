import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CMD_TLBI_NH_ALL,
  CMD_TLBI_NH_ASID,
  CMD_TLBI_NH_VA,
  CMD_TLBI_NH_VAA,
  CMD_TLBI_NSNH_ALL,
  CMD_TLBI_S12_VMALL,
  CMD_TLBI_S2_IPA,
} from '../src/index.js';
import { S1_PAGE, S2_PAGE } from '../bench/smmu-v3-setup.js';
import { ASID, DATA, DATA2, IOVA, OUT_IPA, VMID, ipaOf, nest, paOf, type Nest } from './smmu-v3-nested-helpers.js';

/*
 * Walk caching of nested (stage 1 + stage 2) stage-1 walks. Architecture (SMMUv3, IHI 0070,
 * TLB invalidation commands; the walk-cache rules follow VMSAv8-64's): an SMMU may cache the
 * stage-1 table descriptors a walk reads (intermediate "walk cache" entries), tagged like stage-1
 * TLB entries by ASID and VMID. So a stage-1 table replaced without an invalidation may still be
 * used, whether or not the walk is nested. The commands that must drop such an entry are those
 * that invalidate stage-1 entries of its VMID and ASID beyond last-level ones: TLBI_NH_ASID,
 * TLBI_NH_ALL, TLBI_NH_VA/NH_VAA with Leaf = 0 for an address the entry covers, TLBI_S12_VMALL
 * (stage 1 and 2 of the VMID) and TLBI_NSNH_ALL. TLBI_S2_IPA invalidates stage-2 entries only;
 * TLBI_NH_VA with Leaf = 1 only last-level entries; commands for another ASID, VMID or address
 * leave it. After the right command the walk reads the tables in memory again: a cached and an
 * uncached SMMU then agree exactly.
 */

const PAGE = 0x1000;
const BLOCK = 0x20_0000;

const nhVa = (n: Nest, va: number, leaf: boolean, asid = ASID): void =>
  n.rig.cmd(CMD_TLBI_NH_VA, (BigInt(asid) << 48n) | (BigInt(VMID) << 32n), BigInt(va) | (leaf ? 1n : 0n));

/** The level-2 slot (PA) that holds the table descriptor for `va`'s 2 MiB block. */
function l2Slot(n: Nest, va: number): number {
  const l2 = n.s1.tables.find((t) => t.level === 2)!.pa;
  return l2 + (Math.floor(va / BLOCK) % 512) * 8;
}

/**
 * IOVA + 0..3 pages mapped to OUT_IPA + 0..3 pages (stage 2: DATA); one translation fills the
 * walk cache with the block's level-3 table. Then a new level-3 table (sending the same pages to
 * OUT_IPA + 1 MiB + .., stage 2: DATA2) replaces it in the level-2 descriptor, behind the SMMU's
 * back.
 */
function replaced(walkCache: boolean): Nest {
  const n = nest({ walkCache });
  for (let i = 0; i < 4; i++) n.s1.map(IOVA + i * PAGE, OUT_IPA + i * PAGE);
  n.s2.mapRange(OUT_IPA, DATA, 4, S2_PAGE);
  n.s2.mapRange(OUT_IPA + 0x10_0000, DATA2, 4, S2_PAGE);
  expect(n.tr(IOVA)).toBe(DATA);
  const slot = l2Slot(n, IOVA);
  const oldL3 = paOf(Number(n.rig.mem.read64(slot) & 0x0000_ffff_ffff_f000n));
  const l3 = n.rig.alloc(4096);
  for (let i = 0; i < 512; i++) {
    const d = n.rig.mem.read64(oldL3 + i * 8);
    n.rig.mem.write64(l3 + i * 8, d === 0n ? 0n : d + 0x10_0000n);
  }
  n.s2.mapRange(ipaOf(l3), l3, 1, S2_PAGE);
  n.rig.mem.write64(slot, BigInt(ipaOf(l3)) | 3n);
  return n;
}

describe('SMMUv3 nested: stage-1 walk-cache entries', () => {
  it('a replaced stage-1 table stays in use without a TLBI (walk cache), is read at once without one', () => {
    const cached = replaced(true);
    expect(cached.tr(IOVA + PAGE)).toBe(DATA + PAGE); // the old table, from the walk cache
    expect(cached.tr(IOVA + 2 * PAGE)).toBe(DATA + 2 * PAGE);
    const uncached = replaced(false);
    expect(uncached.tr(IOVA + PAGE)).toBe(DATA2 + PAGE);
    expect(cached.events()).toEqual([]);
  });

  it('the nested stage-1 walk resumes at the cached table (one walk-cache hit per stage)', () => {
    const n = nest();
    for (let i = 0; i < 4; i++) n.s1.map(IOVA + i * PAGE, OUT_IPA + i * PAGE);
    n.s2.mapRange(OUT_IPA, DATA, 4, S2_PAGE);
    expect(n.tr(IOVA)).toBe(DATA);
    const before = n.rig.smmu.walkCacheCounters()!;
    expect(n.tr(IOVA + 3 * PAGE)).toBe(DATA + 3 * PAGE);
    expect(n.rig.smmu.walkCacheCounters()!.hits - before.hits).toBe(2);
  });

  const drops: [string, (n: Nest) => void][] = [
    ['TLBI_NH_ASID', (n) => n.rig.cmd(CMD_TLBI_NH_ASID, (BigInt(ASID) << 48n) | (BigInt(VMID) << 32n))],
    ['TLBI_NH_ALL', (n) => n.rig.cmd(CMD_TLBI_NH_ALL, BigInt(VMID) << 32n)],
    ['TLBI_NH_VA, Leaf = 0, an address in the block', (n) => nhVa(n, IOVA + 0x1_0000, false)],
    ['TLBI_NH_VAA, Leaf = 0, an address in the block', (n) => n.rig.cmd(CMD_TLBI_NH_VAA, BigInt(VMID) << 32n, BigInt(IOVA + 0x1f_f000))],
    ['TLBI_S12_VMALL', (n) => n.rig.cmd(CMD_TLBI_S12_VMALL, BigInt(VMID) << 32n)],
    ['TLBI_NSNH_ALL', (n) => n.rig.cmd(CMD_TLBI_NSNH_ALL)],
  ];
  it.each(drops)('%s drops it: the new table is read', (_name, tlbi) => {
    const n = replaced(true);
    tlbi(n);
    expect(n.tr(IOVA + 2 * PAGE)).toBe(DATA2 + 2 * PAGE);
    expect(n.tr(IOVA + 3 * PAGE)).toBe(DATA2 + 3 * PAGE);
    expect(n.events()).toEqual([]);
  });

  const keeps: [string, (n: Nest) => void][] = [
    ['TLBI_NH_VA with Leaf = 1', (n) => nhVa(n, IOVA + 2 * PAGE, true)],
    ['TLBI_NH_VA, Leaf = 0, outside the block', (n) => nhVa(n, IOVA + BLOCK, false)],
    ['TLBI_NH_ASID of another ASID', (n) => n.rig.cmd(CMD_TLBI_NH_ASID, (BigInt(ASID + 1) << 48n) | (BigInt(VMID) << 32n))],
    ['TLBI_NH_ALL of another VMID', (n) => n.rig.cmd(CMD_TLBI_NH_ALL, BigInt(VMID + 1) << 32n)],
    ['TLBI_S12_VMALL of another VMID', (n) => n.rig.cmd(CMD_TLBI_S12_VMALL, BigInt(VMID + 1) << 32n)],
    ['TLBI_S2_IPA (Leaf = 0) of an output IPA of the block', (n) => n.rig.cmd(CMD_TLBI_S2_IPA, BigInt(VMID) << 32n, BigInt(OUT_IPA + 2 * PAGE))],
  ];
  it.each(keeps)('%s leaves it: the old table stays in use', (_name, tlbi) => {
    const n = replaced(true);
    tlbi(n);
    expect(n.tr(IOVA + 2 * PAGE)).toBe(DATA + 2 * PAGE);
    expect(n.events()).toEqual([]);
  });

  it('TLBI_S2_IPA of the old table IPA leaves the stage-1 entry (and stage 2 still maps it there)', () => {
    const n = replaced(true);
    const oldL3 = n.s1.tables.find((t) => t.level === 3)!.pa;
    n.rig.cmd(CMD_TLBI_S2_IPA, BigInt(VMID) << 32n, BigInt(ipaOf(oldL3)));
    expect(n.tr(IOVA + 2 * PAGE)).toBe(DATA + 2 * PAGE);
  });
});

/*
 * Property: under random stage-1 and stage-2 edits, each followed by the invalidation Linux
 * would issue for it (a leaf change: TLBI_NH_VA Leaf = 1; a stage-1 table replaced: Leaf = 0 over
 * the table's range, or a wider stage-1 command; a stage-2 leaf change: TLBI_S2_IPA then
 * TLBI_NH_ALL, as Linux does for a nesting parent), a nested SMMU with the walk cache and one
 * without give the same result and the same event records for every transaction.
 */
const BLOCKS = 3;
const PAGES = 8;
const TARGETS = 16;

type Op =
  | { k: 'map'; b: number; p: number; t: number; ro: boolean; af: boolean }
  | { k: 'unmap'; b: number; p: number }
  | { k: 'table'; b: number; shift: number; inv: number }
  | { k: 's2'; t: number; d: number }
  | { k: 'tr'; b: number; p: number; write: boolean };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ k: fc.constant('map' as const), b: fc.nat(BLOCKS - 1), p: fc.nat(PAGES - 1), t: fc.nat(TARGETS - 1), ro: fc.boolean(), af: fc.boolean() }),
  fc.record({ k: fc.constant('unmap' as const), b: fc.nat(BLOCKS - 1), p: fc.nat(PAGES - 1) }),
  fc.record({ k: fc.constant('table' as const), b: fc.nat(BLOCKS - 1), shift: fc.nat(TARGETS - 1), inv: fc.nat(3) }),
  fc.record({ k: fc.constant('s2' as const), t: fc.nat(TARGETS - 1), d: fc.integer({ min: -1, max: 31 }) }),
  { arbitrary: fc.record({ k: fc.constant('tr' as const), b: fc.nat(BLOCKS - 1), p: fc.nat(PAGES - 1), write: fc.boolean() }), weight: 4 },
);

const va = (b: number, p: number): number => IOVA + b * BLOCK + p * PAGE;
const AF = 1n << 10n;
const AP2 = 1n << 7n;

/** A nested rig with every pool page mapped (all tables exist) and every target mapped by stage 2. */
function poolRig(walkCache: boolean, ha: boolean): Nest {
  const n = nest({ walkCache, fvp: ha, cdDw0: ha ? 1n << 43n : 0n });
  for (let b = 0; b < BLOCKS; b++) for (let p = 0; p < PAGES; p++) n.s1.map(va(b, p), OUT_IPA + ((b * PAGES + p) % TARGETS) * PAGE);
  n.s2.mapRange(OUT_IPA, DATA, TARGETS, S2_PAGE);
  return n;
}

/** Applies `op` (with its invalidation); returns the translation result of a 'tr'. */
function apply(n: Nest, op: Op): number | null | undefined {
  const mem = n.rig.mem;
  switch (op.k) {
    case 'map': {
      const slot = n.s1.leafAddr(va(op.b, op.p));
      mem.write64(slot, BigInt(OUT_IPA + op.t * PAGE) | (S1_PAGE & ~(op.af ? 0n : AF)) | (op.ro ? AP2 : 0n));
      nhVa(n, va(op.b, op.p), true);
      return undefined;
    }
    case 'unmap':
      mem.write64(n.s1.leafAddr(va(op.b, op.p)), 0n);
      nhVa(n, va(op.b, op.p), true);
      return undefined;
    case 'table': {
      // A new level-3 table for block b: its pool entries retargeted by `shift`.
      const slot = l2Slot(n, va(op.b, 0));
      const old = paOf(Number(mem.read64(slot) & 0x0000_ffff_ffff_f000n));
      const l3 = n.rig.alloc(4096);
      for (let p = 0; p < PAGES; p++) {
        const d = mem.read64(old + p * 8);
        if (d === 0n) continue;
        const t = (Number((d & 0x0000_ffff_ffff_f000n) - BigInt(OUT_IPA)) / PAGE + op.shift) % TARGETS;
        mem.write64(l3 + p * 8, (d & ~0x0000_ffff_ffff_f000n) | BigInt(OUT_IPA + t * PAGE));
      }
      n.s2.mapRange(ipaOf(l3), l3, 1, S2_PAGE);
      mem.write64(slot, BigInt(ipaOf(l3)) | 3n);
      if (op.inv === 0) for (let p = 0; p < PAGES; p++) nhVa(n, va(op.b, p), false);
      else if (op.inv === 1) n.rig.cmd(CMD_TLBI_NH_ASID, (BigInt(ASID) << 48n) | (BigInt(VMID) << 32n));
      else if (op.inv === 2) n.rig.cmd(CMD_TLBI_NH_ALL, BigInt(VMID) << 32n);
      else n.rig.cmd(CMD_TLBI_S12_VMALL, BigInt(VMID) << 32n);
      return undefined;
    }
    case 's2': {
      const ipa = OUT_IPA + op.t * PAGE;
      mem.write64(n.s2.leafAddr(ipa), op.d < 0 ? 0n : BigInt(DATA + op.d * PAGE) | S2_PAGE);
      n.rig.cmd(CMD_TLBI_S2_IPA, BigInt(VMID) << 32n, BigInt(ipa) | 1n);
      n.rig.cmd(CMD_TLBI_NH_ALL, BigInt(VMID) << 32n);
      return undefined;
    }
    case 'tr':
      return op.write ? n.trw(va(op.b, op.p)) : n.tr(va(op.b, op.p));
  }
}

describe('SMMUv3 nested: walk cache on and off agree under edits with correct invalidation', () => {
  it.each([false, true])('same results and events (CD.HA %s)', (ha) => {
    let hits = 0;
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 60 }), (ops) => {
        const a = poolRig(true, ha);
        const b = poolRig(false, ha);
        for (const op of ops) {
          const ra = apply(a, op);
          const rb = apply(b, op);
          expect(ra).toBe(rb);
        }
        expect(a.rig.smmu.pendingEvents()).toEqual(b.rig.smmu.pendingEvents());
        expect(a.rig.mem.read64(a.s1.leafAddr(va(0, 0)))).toBe(b.rig.mem.read64(b.s1.leafAddr(va(0, 0))));
        hits += a.rig.smmu.walkCacheCounters()!.hits;
      }),
      { numRuns: 40, seed: 0x5eed },
    );
    // The cached side did use its walk cache (else the comparison would prove nothing).
    expect(hits).toBeGreaterThan(0);
  });
});
