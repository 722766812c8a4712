import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CB, LpaeTables, RAM, S1_ATTR, S2_ATTR, V2Rig, slot } from './smmu-v2-helpers.js';

/*
 * The SMMUv2 model's walk cache: tables reached by long-descriptor walks are cached per context
 * bank and ASID (stage 1) or VMID (stage 2). TLBIVA/TLBIVAA/TLBIASID/TLBIALL/TLBIIPAS2 and the
 * global forms drop walk entries when a sync completes them; the leaf-only forms (TLBIVAL,
 * TLBIVAAL, TLBIIPAS2L) leave them, as the architecture allows. Linux's arm-smmu issues
 * TLBIVA (non-leaf) from tlb_flush_walk when io-pgtable frees a table, TLBIVAL for leaves.
 */

const SID = 0x10;
const DATA = RAM + 0x400_0000;
const VA = 0x4000_0000; // 2 MiB aligned: one level-3 table
const SZ_4K = 0x1000;
const SZ_2M = 0x20_0000;

function xlate(rig: V2Rig, iova: number): number {
  const o = slot();
  return rig.smmu.translate(SID, iova, false, o) ? o.pa : -1;
}

/** Bank 0: AArch64 stage 1, 48-bit, 4K, ASID 5; 512 pages of [VA, VA + 2 MiB) mapped to DATA. */
function s1Rig(walkCache: boolean): { rig: V2Rig; t: LpaeTables } {
  const rig = new V2Rig({}, { walkCache });
  const t = new LpaeTables(rig, 12, 0);
  for (let i = 0; i < 512; i++) t.map(VA + i * SZ_4K, DATA + i * SZ_4K, S1_ATTR);
  rig.enable();
  rig.stream(0, SID, 0, 0);
  rig.s1Aarch64(0, { ttbr0: t.root, asid: 5 });
  return { rig, t };
}

/** TLBIVA-style operand: VA[55:12] in bits [43:0], ASID in [63:48]. */
function tlbiVa(rig: V2Rig, reg: number, va: number, asid = 5): void {
  rig.setCb64(0, reg, BigInt(va / SZ_4K) | (BigInt(asid) << 48n));
}

/** The level-2 slot of `va` now holds a 2 MiB block at `pa` (the level-3 table is dropped). */
function replaceTableByBlock(rig: V2Rig, t: LpaeTables, va: number, pa: number): void {
  t.map(va, pa, S1_ATTR, 0, 2);
}

describe('SMMUv2 walk cache', () => {
  it('a miss in a 2 MiB block whose level-3 table is cached resumes there', () => {
    const { rig } = s1Rig(true);
    expect(xlate(rig, VA + 3 * SZ_4K + 5)).toBe(DATA + 3 * SZ_4K + 5);
    const hits = rig.smmu.walkCacheCounters()!.hits;
    for (let i = 4; i < 512; i += 51) expect(xlate(rig, VA + i * SZ_4K)).toBe(DATA + i * SZ_4K);
    expect(rig.smmu.walkCacheCounters()!.hits - hits).toBe(10);
    expect(new V2Rig({}, { walkCache: false }).smmu.walkCacheCounters()).toBeNull();
  });

  it.each([
    ['TLBIVA', 'drops', CB.TLBIVA, true],
    ['TLBIVAA', 'drops', CB.TLBIVAA, true],
    ['TLBIVAL', 'keeps', CB.TLBIVAL, false],
    ['TLBIVAAL', 'keeps', CB.TLBIVAAL, false],
  ] as const)('after the table is replaced by a block, %s + TLBSYNC %s the walk entry', (_name, _verb, reg, drops) => {
    for (const walkCache of [true, false]) {
      const { rig, t } = s1Rig(walkCache);
      expect(xlate(rig, VA + SZ_4K)).toBe(DATA + SZ_4K);
      const BLOCK = DATA + 0x100_0000;
      replaceTableByBlock(rig, t, VA, BLOCK);
      tlbiVa(rig, reg, VA + SZ_4K);
      // Not complete until the sync: the walk entry (and the TLB entry) still serve.
      if (walkCache) expect(xlate(rig, VA + 9 * SZ_4K)).toBe(DATA + 9 * SZ_4K);
      rig.setCb(0, CB.TLBSYNC, 0);
      const fresh = BLOCK + 7 * SZ_4K + 0x40;
      const stale = DATA + 7 * SZ_4K + 0x40;
      // Page 7 was never in the TLB: only a walk cache can make it stale.
      expect(xlate(rig, VA + 7 * SZ_4K + 0x40)).toBe(walkCache && !drops ? stale : fresh);
    }
  });

  it('TLBIASID and TLBIALL drop the walk entries of the ASID; another ASID\'s TLBIASID does not', () => {
    for (const [reg, operand, drops] of [
      [CB.TLBIASID, 5, true],
      [CB.TLBIASID, 6, false],
      [CB.TLBIALL, 0, true],
    ] as const) {
      const { rig, t } = s1Rig(true);
      expect(xlate(rig, VA)).toBe(DATA);
      replaceTableByBlock(rig, t, VA, DATA + 0x100_0000);
      rig.setCb(0, reg, operand);
      rig.setCb(0, CB.TLBSYNC, 0);
      expect(xlate(rig, VA + 2 * SZ_4K)).toBe((drops ? DATA + 0x100_0000 : DATA) + 2 * SZ_4K);
    }
  });

  it('stage 2: TLBIIPAS2L keeps the walk entry, TLBIIPAS2 drops it', () => {
    for (const [reg, drops] of [
      [CB.TLBIIPAS2L, false],
      [CB.TLBIIPAS2, true],
    ] as const) {
      const rig = new V2Rig();
      const t = new LpaeTables(rig, 12, 1);
      for (let i = 0; i < 512; i++) t.map(VA + i * SZ_4K, DATA + i * SZ_4K, S2_ATTR);
      rig.enable();
      rig.stream(0, SID, 0, 0);
      rig.s2Aarch64(0, { vttbr: t.root, vmid: 3 });
      expect(xlate(rig, VA)).toBe(DATA);
      t.map(VA, DATA + 0x100_0000, S2_ATTR, 0, 2);
      rig.setCb64(0, reg, BigInt(VA / SZ_4K));
      rig.setCb(0, CB.TLBSYNC, 0);
      expect(xlate(rig, VA + 4 * SZ_4K)).toBe((drops ? DATA + 0x100_0000 : DATA) + 4 * SZ_4K);
    }
  });

  it('with correct invalidation (TLBIVAL for leaves, TLBIVA for tables), translations are the same with and without the walk cache', () => {
    type Op = { kind: 'unmap' | 'remap' | 'block' | 'table' | 'xlate'; block: number; page: number };
    const opArb: fc.Arbitrary<Op> = fc.record({ kind: fc.constantFrom('unmap', 'remap', 'block', 'table', 'xlate', 'xlate'), block: fc.nat(2), page: fc.nat(511) });
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 40 }), (ops) => {
        const rigs = [true, false].map((wc) => {
          const rig = new V2Rig({}, { walkCache: wc });
          const t = new LpaeTables(rig, 12, 0);
          for (let b = 0; b < 3; b++) for (let i = 0; i < 512; i += 7) t.map(VA + b * SZ_2M + i * SZ_4K, DATA + b * SZ_2M + i * SZ_4K, S1_ATTR);
          rig.enable();
          rig.stream(0, SID, 0, 0);
          rig.s1Aarch64(0, { ttbr0: t.root, asid: 5 });
          return { rig, t };
        });
        let n = 0;
        for (const o of ops) {
          const va = VA + o.block * SZ_2M + o.page * SZ_4K;
          // The same new page for both rigs (counted once per op, not once per rig).
          const remapPa = DATA + 0x200_0000 + (n++ % 64) * SZ_4K;
          const results: number[] = [];
          for (const { rig, t } of rigs) {
            if (o.kind === 'xlate') {
              results.push(xlate(rig, va + 0x18));
              continue;
            }
            if (o.kind === 'unmap' || o.kind === 'remap') {
              // A leaf change in a level-3 table that exists (a block is left alone).
              if (blockAt(rig, t, va)) continue;
              if (o.kind === 'unmap') t.unmap(va);
              else t.remap(va, remapPa, S1_ATTR);
              tlbiVa(rig, CB.TLBIVAL, va);
            } else if (o.kind === 'block') {
              t.map(VA + o.block * SZ_2M, DATA + 0x100_0000 * (o.block + 2), S1_ATTR, 0, 2);
              tlbiVa(rig, CB.TLBIVA, va);
            } else {
              // A fresh level-3 table where a block (or the old table) was.
              const table = rig.alloc(SZ_4K);
              const slotAddr = l2Slot(rig, t, va);
              rig.mem.write64parts(slotAddr, (table | 3) >>> 0, 0);
              rig.mem.write64parts(table + o.page * 8, ((DATA + 0x300_0000 + o.page * SZ_4K) | S1_ATTR | 3) >>> 0, 0);
              tlbiVa(rig, CB.TLBIVA, va);
            }
            rig.setCb(0, CB.TLBSYNC, 0);
          }
          if (o.kind === 'xlate') expect(results[0]).toBe(results[1]);
        }
        // Every page of every block, at the end.
        for (let b = 0; b < 3; b++)
          for (let i = 0; i < 512; i += 5) {
            const va = VA + b * SZ_2M + i * SZ_4K;
            expect(xlate(rigs[0]!.rig, va)).toBe(xlate(rigs[1]!.rig, va));
          }
      }),
      { numRuns: 60 },
    );
  });
});

/** Address of the level-2 slot covering `va` in a 4-level 4K tree (levels 0 and 1 exist). */
function l2Slot(rig: V2Rig, t: LpaeTables, va: number): number {
  let table = t.root;
  for (let level = 0; level < 2; level++) {
    const shift = 39 - 9 * level;
    const d = rig.mem.read64lo(table + (Math.floor(va / 2 ** shift) % 512) * 8);
    table = (d & 0xffff_f000) >>> 0;
  }
  return table + (Math.floor(va / 2 ** 21) % 512) * 8;
}

/** True when the level-2 slot of `va` holds a block (no level-3 table to change a leaf in). */
function blockAt(rig: V2Rig, t: LpaeTables, va: number): boolean {
  return (rig.mem.read64lo(l2Slot(rig, t, va)) & 3) === 1;
}
