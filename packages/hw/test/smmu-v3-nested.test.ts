import { describe, expect, it } from 'vitest';
import { CMD_TLBI_NH_ALL, CMD_TLBI_S12_VMALL, EVT_F_PERMISSION, EVT_F_TRANSLATION } from '../src/index.js';
import { RAM, S1_PAGE, S2_PAGE, SmmuRig, Tables, cdWords, writeCd } from '../bench/smmu-v3-setup.js';
import { ASID, CD_IPA, DATA, DATA2, IOVA, OUT_IPA, READ, S1Tree, SID, VMID, ipaOf, nest, s2Ipa, tt, writeNestedSte, type Nest } from './smmu-v3-nested-helpers.js';

/*
 * Nested translation (STE.Config = 0b111) with stage-1 tables that stage 2 maps at IPAs unlike
 * their PAs. Architecture: every stage-1 table access (the TTB0/TTB1 base and each next-level
 * table address from a table descriptor) is an IPA that stage 2 translates; a stage-2 fault on
 * such an access is a stage-2 fault record (S2 = 1) of class TT (CLASS = 0b01) whose IPA field
 * holds bits [51:12] of the IPA of the table access, InputAddr the transaction's address and
 * TTRnW = 1 (a table read); it is recorded when STE.S2R = 1. Expected values below are these
 * rules applied to the layout, never read back from the model.
 */

describe('SMMUv3 nested: stage-1 tables at IPAs unlike their PAs', () => {
  it.each([true, false])('translates through stage-1 tables fetched via stage 2 (walk cache %s)', (walkCache) => {
    const n = nest({ walkCache });
    n.s1.map(IOVA, OUT_IPA);
    n.s1.map(IOVA + 0x20_0000, OUT_IPA + 0x1000); // another level-3 table
    n.s1.map(IOVA + 2 ** 39 + 0x1000, OUT_IPA + 0x2000); // another level-1 table
    n.s2.mapRange(OUT_IPA, DATA, 3, S2_PAGE);
    // Four stage-1 tables on the first path (root at level 0, then 1, 2, 3), none readable at
    // its IPA: the walk can only succeed by fetching them through stage 2.
    expect(n.s1.tables.filter((t) => t.level === 3)).toHaveLength(3);
    expect(n.rig.mem.contains(ipaOf(n.s1.root), 8)).toBe(false);
    expect(n.tr(IOVA + 0x123)).toBe(DATA + 0x123);
    expect(n.tr(IOVA + 0x20_0fff)).toBe(DATA + 0x1fff);
    expect(n.tr(IOVA + 2 ** 39 + 0x1008)).toBe(DATA + 0x2008);
    expect(n.events()).toEqual([]);
    expect(n.rig.smmu.hitlessViolations).toEqual([]);
  });

  it('translates a TTB1 (upper-range) address through stage-1 tables fetched via stage 2', () => {
    const rig = new SmmuRig(256 << 20);
    const s2 = new Tables(rig, 39);
    const s1 = new S1Tree(rig, s2, 39, true);
    const cdPa = rig.alloc(4096);
    s2.mapRange(CD_IPA, cdPa, 1, S2_PAGE);
    // TTB0 disabled (EPD0), TTB1 = the stage-1 root's IPA with T1SZ = 25 (39-bit upper range).
    const cd = cdWords(0, ASID, 48);
    cd[0] = (cd[0]! & ~((1n << 30n) | 0x3fn)) | (1n << 14n) | (25n << 16n) | (2n << 22n);
    cd[2] = BigInt(ipaOf(s1.root));
    writeCd(rig, cdPa, cd);
    writeNestedSte(rig, SID, s2, true);
    // VA 0xffff_ff80_0004_0000 + 0x56: offset 0x4_0000 into the 39-bit upper range.
    s1.map(0x4_0000, OUT_IPA);
    s2.mapRange(OUT_IPA, DATA2, 1, S2_PAGE);
    const out = { pa: -1 };
    expect(rig.smmu.translateParts(SID, -1, 0xffff_ff80 | 0, 0x4_0056, READ, out)).toBe(true);
    expect(out.pa).toBe(DATA2 + 0x56);
    expect(rig.smmu.pendingEvents()).toEqual([]);
  });

  it('an unmapped level-2 table IPA gives a stage-2 F_TRANSLATION of class TT with that IPA', () => {
    const n = nest();
    n.s1.map(IOVA, OUT_IPA, S1_PAGE, 2); // the level-2 table is not mapped by stage 2
    n.s2.mapRange(OUT_IPA, DATA, 1, S2_PAGE);
    const l2 = n.s1.tables.find((t) => t.level === 2)!.pa;
    expect(n.tr(IOVA + 0x40)).toBeNull();
    // The descriptor read is at ipaOf(l2) + index * 8, inside the table's first 4 KiB page.
    expect(n.events()).toEqual([expect.objectContaining(tt(EVT_F_TRANSLATION, IOVA + 0x40, ipaOf(l2)))]);
    // Once stage 2 maps it (no TLBI needed: faults are not cached), the walk completes.
    n.s2.mapRange(ipaOf(l2), l2, 1, S2_PAGE);
    expect(n.tr(IOVA + 0x40)).toBe(DATA + 0x40);
  });

  it.each([true, false])('TTB0 stays an IPA after the CD is cached: unmapped by stage 2, the next walk faults on it (class TT; walk cache %s)', (walkCache) => {
    const n = nest({ walkCache });
    n.s1.map(IOVA, OUT_IPA);
    n.s1.map(IOVA + 0x1000, OUT_IPA + 0x1000);
    n.s2.mapRange(OUT_IPA, DATA, 2, S2_PAGE);
    expect(n.tr(IOVA + 0x8)).toBe(DATA + 0x8); // the CD is now in the configuration cache
    // Unmap the root's IPA at stage 2 (invalid leaf), then invalidate that IPA. No CFGI: the
    // CD did not change, only what its TTB0 IPA translates to.
    n.rig.mem.write64(n.s2.leafAddr(ipaOf(n.s1.root)), 0n);
    s2Ipa(n.rig, ipaOf(n.s1.root));
    if (walkCache) {
      // TLBI_S2_IPA need not drop stage-1 walk-cache entries: the walk resumes at the cached
      // level-3 table (an IPA stage 2 still maps) without reading the root. Linux follows a
      // stage-2 invalidation of a nesting parent with TLBI_NH_ALL; that drops them.
      expect(n.tr(IOVA + 0x1008)).toBe(DATA + 0x1008);
      n.rig.cmd(CMD_TLBI_NH_ALL, BigInt(VMID) << 32n);
    }
    expect(n.tr(IOVA + 0x1008)).toBeNull();
    expect(n.events()).toEqual([expect.objectContaining(tt(EVT_F_TRANSLATION, IOVA + 0x1008, ipaOf(n.s1.root)))]);
  });

  it('a table IPA stage 2 maps without read permission gives F_PERMISSION (class TT); S2R = 0 records nothing', () => {
    for (const s2r of [true, false]) {
      const n = nest({ s2r });
      n.s1.map(IOVA, OUT_IPA);
      n.s2.mapRange(OUT_IPA, DATA, 1, S2_PAGE);
      const l3 = n.s1.tables.find((t) => t.level === 3)!.pa;
      n.s2.mapRange(ipaOf(l3), l3, 1, S2_PAGE & ~(1n << 6n)); // S2AP = write only
      expect(n.tr(IOVA)).toBeNull();
      expect(n.events()).toEqual(s2r ? [expect.objectContaining(tt(EVT_F_PERMISSION, IOVA, ipaOf(l3)))] : []);
    }
  });

  it('the hardware access-flag update of a stage-1 leaf goes to the PA stage 2 gives its table', () => {
    const n = nest({ fvp: true, cdDw0: 1n << 43n }); // CD.HA
    const leaf = n.s1.map(IOVA, OUT_IPA, S1_PAGE & ~(1n << 10n)); // AF = 0
    n.s2.mapRange(OUT_IPA, DATA, 1, S2_PAGE);
    expect(n.tr(IOVA + 0x10)).toBe(DATA + 0x10);
    expect(n.rig.mem.read64(leaf)).toBe(BigInt(OUT_IPA) | S1_PAGE);
    expect(n.events()).toEqual([]);
  });
});

describe('SMMUv3 nested: stage-2 changes under stage-1 tables', () => {
  /**
   * IOVA and IOVA + 1..3 pages use one level-3 table L3 (IPA I3). A copy L3' sends them to
   * DATA2 instead of DATA. Stage 2 then maps I3 to L3' behind the SMMU's back.
   */
  function remapped(walkCache: boolean): { n: Nest; i3: number } {
    const n = nest({ walkCache });
    for (let i = 0; i < 4; i++) n.s1.map(IOVA + i * 0x1000, OUT_IPA + i * 0x1000);
    n.s2.mapRange(OUT_IPA, DATA, 4, S2_PAGE);
    n.s2.mapRange(OUT_IPA + 0x10_0000, DATA2, 4, S2_PAGE);
    const l3 = n.s1.tables.find((t) => t.level === 3)!.pa;
    const l3new = n.rig.alloc(4096);
    for (let i = 0; i < 512; i++) {
      const d = n.rig.mem.read64(l3 + i * 8);
      n.rig.mem.write64(l3new + i * 8, d === 0n ? 0n : d + 0x10_0000n);
    }
    expect(n.tr(IOVA)).toBe(DATA); // fills the combined entry and the stage-2 entry for I3
    const i3 = ipaOf(l3);
    n.rig.mem.write64(n.s2.leafAddr(i3), BigInt(l3new) | S2_PAGE);
    return { n, i3 };
  }

  it.each([true, false])('without a TLBI the old stage-2 translation of the table stays in use (walk cache %s)', (walkCache) => {
    const { n } = remapped(walkCache);
    expect(n.tr(IOVA + 0x1000)).toBe(DATA + 0x1000);
    expect(n.tr(IOVA)).toBe(DATA);
  });

  it.each([true, false])('TLBI_S2_IPA of the table IPA: new walks read the new table, combined entries stay (walk cache %s)', (walkCache) => {
    const { n, i3 } = remapped(walkCache);
    s2Ipa(n.rig, i3 + 0x4000); // another IPA: no effect
    expect(n.tr(IOVA + 0x1000)).toBe(DATA + 0x1000);
    s2Ipa(n.rig, i3); // Leaf = 1 suffices: the table's stage-2 mapping is a leaf
    expect(n.tr(IOVA + 0x2000)).toBe(DATA2 + 0x2000);
    // TLBI_S2_IPA need not remove nested (stage 1 + 2) entries: IOVA and IOVA + 0x1000
    // still hit theirs until a stage-1 or VMID-wide invalidation.
    expect(n.tr(IOVA)).toBe(DATA);
    expect(n.tr(IOVA + 0x1000)).toBe(DATA + 0x1000);
  });

  it.each([true, false])('TLBI_S12_VMALL drops the stage-2 entries of table fetches and the combined entries (walk cache %s)', (walkCache) => {
    const { n } = remapped(walkCache);
    n.rig.cmd(CMD_TLBI_S12_VMALL, BigInt(VMID) << 32n);
    expect(n.tr(IOVA)).toBe(DATA2);
    expect(n.tr(IOVA + 0x3000)).toBe(DATA2 + 0x3000);
    expect(n.events()).toEqual([]);
  });

  it('TLBI_S2_IPA of a table IPA that stage 2 unmapped makes the next walk fault on it', () => {
    const { n, i3 } = remapped(true);
    n.rig.mem.write64(n.s2.leafAddr(i3), 0n);
    expect(n.tr(IOVA + 0x1000)).toBe(DATA + 0x1000); // stale until invalidated
    s2Ipa(n.rig, i3);
    expect(n.tr(IOVA + 0x2000)).toBeNull();
    expect(n.events()).toEqual([expect.objectContaining(tt(EVT_F_TRANSLATION, IOVA + 0x2000, i3))]);
  });
});
