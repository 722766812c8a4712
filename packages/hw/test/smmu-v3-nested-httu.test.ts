import { describe, expect, it } from 'vitest';
import { CMD_TLBI_S2_IPA, EVT_CLASS_TT, EVT_F_ACCESS, EVT_F_PERMISSION } from '../src/index.js';
import { S1_PAGE, S2_PAGE } from '../bench/smmu-v3-setup.js';
import { DATA, IOVA, OUT_IPA, SID, VMID, ipaOf, nest, type Nest, type NestOptions } from './smmu-v3-nested-helpers.js';

/*
 * Hardware updates (HTTU) of stage-1 descriptors under nested translation. Architecture (SMMUv3,
 * IHI 0070, HTTU; VMSAv8-64 for the descriptor bits): with CD.HA a stage-1 leaf whose AF is 0 gets
 * AF set by the walk, and with CD.HD a writable-clean leaf (DBM = 1, AP[2] = 1) gets AP[2]
 * cleared on a write. That update writes the stage-1 table, and in a nested configuration the
 * stage-1 table is in IPA space: the write is a stage-2 translated access that stage 2 must
 * permit as a write. If it does not, the transaction takes a stage-2 fault on a stage-1 table
 * access: S2 = 1, CLASS = TT (0b01), TTRnW = 0 (the table access was a write), IPA = the IPA of
 * the descriptor (bits [51:12]), InputAddr, RnW/InD/PnU of the incoming transaction; recorded when
 * STE.S2R = 1. Without an update (AF already 1, or HA clear) the walk only reads the table, for
 * which stage-2 read permission is enough. A stage 2 with its own HTTU (STE.S2HA/S2HD) updates
 * its descriptor for that write as for any other (AF, then S2AP[1] for a writable-clean DBM
 * descriptor). Event fields: SMMUv3 event record, dword 1 bit 35 RnW, bit 39 S2, bits [41:40]
 * CLASS, bit 44 TTRnW. Expected values below are these rules applied to the layout.
 */

const HA = 1n << 43n; // CD dword 0
const HD = 1n << 42n;
const S2HA = 1n << 56n; // STE dword 2
const S2HD = 1n << 55n;
const AF = 1n << 10n;
const AP2 = 1n << 7n; // stage-1 AP[2]: read-only
const DBM = 1n << 51n;
const S2AP_W = 1n << 7n; // stage-2 S2AP[1]: write
/** A stage-2 page mapping that allows reads only. */
const S2_RO = S2_PAGE & ~S2AP_W;

/** Nested rig with IOVA mapped by a stage-1 leaf `s1Attrs`; returns the leaf's PA and the L3 table's PA. */
function rigWith(s1Attrs: bigint, opts: NestOptions): { n: Nest; leaf: number; l3: number } {
  const n = nest({ fvp: true, ...opts });
  const leaf = n.s1.map(IOVA, OUT_IPA, s1Attrs);
  n.s2.mapRange(OUT_IPA, DATA, 1, S2_PAGE);
  const l3 = n.s1.tables.find((t) => t.level === 3)!.pa;
  return { n, leaf, l3 };
}

/** The stage-2 fault record of an update of the descriptor in table `l3` (CLASS TT, write). */
function ttWrite(inputAddr: number, l3: number, rnw: boolean): object {
  return expect.objectContaining({
    type: EVT_F_PERMISSION,
    sid: SID,
    ssv: false,
    s2: true,
    cls: EVT_CLASS_TT,
    ttrnw: false,
    rnw,
    pnu: false,
    ind: false,
    inputAddr,
    dw3: ipaOf(l3),
  });
}

describe('SMMUv3 nested HTTU: a stage-1 descriptor update is a stage-2 write', () => {
  it.each([true, false])('CD.HA, AF = 0, table mapped read-only by stage 2: stage-2 F_PERMISSION of class TT, TTRnW = 0 (walk cache %s)', (walkCache) => {
    const { n, leaf, l3 } = rigWith(S1_PAGE & ~AF, { cdDw0: HA, walkCache });
    n.s2.mapRange(ipaOf(l3), l3, 1, S2_RO);
    const before = n.rig.mem.read64(leaf);
    expect(n.tr(IOVA + 0x10)).toBeNull();
    expect(n.events()).toEqual([ttWrite(IOVA + 0x10, l3, true)]);
    // The update did not happen: AF is still 0, and the next access faults the same way.
    expect(n.rig.mem.read64(leaf)).toBe(before);
    expect(n.tr(IOVA + 0x20)).toBeNull();
    expect(n.events()).toEqual([ttWrite(IOVA + 0x20, l3, true)]);
  });

  it('STE.S2R = 0: the same fault aborts the transaction without a record', () => {
    const { n, leaf, l3 } = rigWith(S1_PAGE & ~AF, { cdDw0: HA, s2r: false });
    n.s2.mapRange(ipaOf(l3), l3, 1, S2_RO);
    expect(n.tr(IOVA)).toBeNull();
    expect(n.events()).toEqual([]);
    expect(n.rig.mem.read64(leaf) & AF).toBe(0n);
  });

  it('the table read alone needs only read permission: HA clear with AF = 1, or HA set with AF = 1, succeed', () => {
    for (const cdDw0 of [0n, HA]) {
      const { n, leaf, l3 } = rigWith(S1_PAGE, { cdDw0 });
      n.s2.mapRange(ipaOf(l3), l3, 1, S2_RO);
      expect(n.tr(IOVA + 0x10)).toBe(DATA + 0x10);
      expect(n.events()).toEqual([]);
      expect(n.rig.mem.read64(leaf)).toBe(BigInt(OUT_IPA) | S1_PAGE);
    }
  });

  it('HA clear with AF = 0 is a stage-1 access-flag fault, not a stage-2 fault (no update is tried)', () => {
    const { n, leaf, l3 } = rigWith(S1_PAGE & ~AF, { cdDw0: 0n });
    n.s2.mapRange(ipaOf(l3), l3, 1, S2_RO);
    expect(n.tr(IOVA + 0x10)).toBeNull();
    // Recorded because the CD has R = 1 (cdWords sets it).
    expect(n.events()).toEqual([expect.objectContaining({ type: EVT_F_ACCESS, s2: false, cls: 0, inputAddr: IOVA + 0x10 })]);
    expect(n.rig.mem.read64(leaf) & AF).toBe(0n);
  });

  it('once stage 2 grants write on the table (and the stale read-only entry is invalidated), AF is set and the access completes', () => {
    const { n, leaf, l3 } = rigWith(S1_PAGE & ~AF, { cdDw0: HA });
    n.s2.mapRange(ipaOf(l3), l3, 1, S2_RO);
    expect(n.tr(IOVA)).toBeNull();
    n.events();
    n.s2.mapRange(ipaOf(l3), l3, 1, S2_PAGE);
    n.rig.cmd(CMD_TLBI_S2_IPA, BigInt(VMID) << 32n, BigInt(ipaOf(l3)) | 1n);
    expect(n.tr(IOVA + 0x40)).toBe(DATA + 0x40);
    expect(n.rig.mem.read64(leaf)).toBe(BigInt(OUT_IPA) | S1_PAGE);
    expect(n.events()).toEqual([]);
  });

  it('CD.HD: a device write to a writable-clean leaf needs stage-2 write on its table (RnW = 0, TTRnW = 0)', () => {
    const clean = S1_PAGE | AP2 | DBM;
    const ro = rigWith(clean, { cdDw0: HA | HD });
    ro.n.s2.mapRange(ipaOf(ro.l3), ro.l3, 1, S2_RO);
    // A read needs no update: it completes through the read-only table mapping.
    expect(ro.n.tr(IOVA + 0x8)).toBe(DATA + 0x8);
    expect(ro.n.trw(IOVA + 0x8)).toBeNull();
    expect(ro.n.events()).toEqual([ttWrite(IOVA + 0x8, ro.l3, false)]);
    expect(ro.n.rig.mem.read64(ro.leaf)).toBe(BigInt(OUT_IPA) | clean); // still clean
    // With write permission on the table the dirty-state update goes through: AP[2] cleared.
    const rw = rigWith(clean, { cdDw0: HA | HD });
    expect(rw.n.trw(IOVA + 0x8)).toBe(DATA + 0x8);
    expect(rw.n.rig.mem.read64(rw.leaf)).toBe(BigInt(OUT_IPA) | (clean & ~AP2));
    expect(rw.n.events()).toEqual([]);
  });

  it('STE.S2HD: a writable-clean stage-2 mapping of the table is marked dirty by the stage-1 AF update', () => {
    const s2Clean = S2_RO | DBM; // S2AP read-only, DBM: writable-clean
    for (const steDw2 of [S2HA | S2HD, S2HA]) {
      const { n, leaf, l3 } = rigWith(S1_PAGE & ~AF, { cdDw0: HA, steDw2 });
      n.s2.mapRange(ipaOf(l3), l3, 1, s2Clean);
      const s2Leaf = n.s2.leafAddr(ipaOf(l3));
      if (steDw2 & S2HD) {
        expect(n.tr(IOVA + 0x10)).toBe(DATA + 0x10);
        expect(n.rig.mem.read64(s2Leaf)).toBe(BigInt(l3) | s2Clean | S2AP_W);
        expect(n.rig.mem.read64(leaf)).toBe(BigInt(OUT_IPA) | S1_PAGE);
        expect(n.events()).toEqual([]);
      } else {
        // S2HA without S2HD: no dirty-state update, so the write is not permitted.
        expect(n.tr(IOVA + 0x10)).toBeNull();
        expect(n.events()).toEqual([ttWrite(IOVA + 0x10, l3, true)]);
        expect(n.rig.mem.read64(s2Leaf)).toBe(BigInt(l3) | s2Clean);
        expect(n.rig.mem.read64(leaf) & AF).toBe(0n);
      }
    }
  });

  it('STE.S2HA: a stage-2 mapping of the table with AF = 0 gets AF set, and the stage-1 update completes', () => {
    const { n, leaf, l3 } = rigWith(S1_PAGE & ~AF, { cdDw0: HA, steDw2: S2HA });
    n.s2.mapRange(ipaOf(l3), l3, 1, S2_PAGE & ~AF);
    expect(n.tr(IOVA + 0x10)).toBe(DATA + 0x10);
    expect(n.rig.mem.read64(n.s2.leafAddr(ipaOf(l3)))).toBe(BigInt(l3) | S2_PAGE);
    expect(n.rig.mem.read64(leaf)).toBe(BigInt(OUT_IPA) | S1_PAGE);
    expect(n.events()).toEqual([]);
  });
});
