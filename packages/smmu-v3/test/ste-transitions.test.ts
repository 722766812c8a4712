import { afterEach, describe, expect, it } from 'vitest';
import { DMA_STATUS_DONE, DMA_STATUS_FAULT, PhysMem } from '@gki/hw';
import { IOMMU_READ, IOMMU_WRITE, iommuDomainAlloc, iommuMap, type IommuDomain } from '@gki/kernel';
import { CMD_CFGI_CD, EntryWriter, armSmmuV3DomainAllocS2, armSmmuV3MasterOf, cdUsedBits, steUsedBits, type UsedBitsFn } from '../src/index.js';
import { SIDS, boot, buffer, type Rig } from './helpers.js';

/*
 * STE and CD updates, judged by outside facts instead of by a definition the driver and the
 * model would share:
 *  - the driver's entry writer and its used-bits tables (written from Linux) reproduce the sync
 *    counts and the hitless/breaking verdicts of the kernel's own KUnit suite
 *    (drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3-test.c) on entries built the way Linux's make
 *    functions build them;
 *  - on a live board, the transitions the driver's attach_dev makes are checked by the SMMUv3
 *    model, whose used-bits rules come from the architecture: no fetch between two CMD_SYNCs
 *    may see an entry that means neither the old nor the new one; the sync counts are the
 *    KUnit ones for the same transitions, adjusted where these presets lack the features the
 *    KUnit SMMU has (see `boardSyncs`).
 */

// ---- entries shaped like Linux's arm_smmu_make_*_ste/cd for the KUnit SMMU ------------------
// The KUnit SMMU has ARM_SMMU_FEAT_STALLS and ARM_SMMU_FEAT_ATTR_TYPES_OVR; its masters use ATS.
// Words are little-endian u32 halves: word 2n = bits [31:0] of qword n.

const V = 1;
const CFG = (c: number) => c << 1;
const SHCFG_INCOMING_HI = 1 << 12; // qword 1 [45:44] = 0b01
const EATS_TRANS = 1 << 28;
const S1_CACHE = (1 << 2) | (1 << 4) | (3 << 6); // S1CIR/S1COR WBRA, S1CSH inner shareable
const S1STALLD = 1 << 27;

function ste(words: Partial<Record<number, number>>): Uint32Array {
  const w = new Uint32Array(8);
  for (const [i, v] of Object.entries(words)) w[Number(i)] = v! >>> 0;
  return w;
}
const abortSte = ste({ 0: V | CFG(0) });
const bypassSte = ste({ 0: V | CFG(4), 3: SHCFG_INCOMING_HI });
/** CD table STE (S1Fmt 64K_L2, S1CDMax 0xff truncated to its 5 bits, CD table at 0xF0F0F0F0F0F0). */
function cdtableSte(s1dssBypass: boolean, cdtab = 0xf0f0_f0f0_f0f0): Uint32Array {
  return ste({
    0: V | CFG(5) | (2 << 4) | ((cdtab % 2 ** 32) & 0xffff_ffc0),
    1: (Math.floor(cdtab / 2 ** 32) & 0xf_ffff) | (0x1f << 27),
    2: (s1dssBypass ? 1 : 0) | S1_CACHE | S1STALLD | EATS_TRANS,
    3: s1dssBypass ? SHCFG_INCOMING_HI : 0,
  });
}
/** Stage-2 STE: vtcr ps 1, tg 2, sh 3, orgn 1, irgn 2, sl 3, tsz 4; vttbr 0xdaedbeefdeadbeef. */
const s2Ste = ste({
  0: V | CFG(6),
  2: EATS_TRANS,
  3: SHCFG_INCOMING_HI,
  5: 4 | (3 << 6) | (2 << 8) | (1 << 10) | (3 << 12) | (2 << 14) | (1 << 16) | (1 << 19) | (1 << 22) | (1 << 26),
  6: 0xdead_bee0,
  7: 0xd_beef,
});
/** Stage-1 CD: ASID `asid`, the KUnit TCR fields, EPD1, TTB0 0xdaedbeefdeadbeef, MAIR 0x0abcdef012345678. */
function s1Cd(asid: number): Uint32Array {
  return ste({
    0: 4 | (2 << 6) | (2 << 8) | (1 << 10) | (3 << 12) | (1 << 30) | (1 << 31),
    1: 1 | (1 << 9) | (1 << 13) | (1 << 14) | (1 << 15) | (asid << 16), // IPS 1, AA64, R, A, ASET, ASID
    2: 0xdead_bee0,
    3: 0xd_beef,
    6: 0x1234_5678,
    7: 0x0abc_def0,
  });
}

/** Runs the driver's writer from `cur` to `target` the way the KUnit harness runs Linux's. */
function kunitTransition(cur: Uint32Array, target: Uint32Array, used: UsedBitsFn): { syncs: number; hitless: boolean } {
  const mem = new PhysMem([{ base: 0x4000_0000, size: 0x1_0000 }]);
  const at = 0x4000_0000;
  for (let i = 0; i < 8; i++) mem.write32(at + 4 * i, cur[i]!);
  const now = new Uint32Array(8);
  const m = new Uint32Array(8);
  let syncs = 0;
  let invalidWritten = false;
  const differs = (ref: Uint32Array) => now.some((x, i) => ((x & m[i]!) >>> 0) !== ref[i]);
  const sync = () => {
    syncs++;
    for (let i = 0; i < 8; i++) now[i] = mem.read32(at + 4 * i);
    if (now[0] === 0 && now[1] === 0) invalidWritten = true;
    else {
      // any intermediate entry means the initial or the target one in the bits it uses
      used(now, m);
      expect(differs(cur) && differs(target), 'intermediate entry matches neither end').toBe(false);
    }
    return 0;
  };
  expect(new EntryWriter(mem).write(at, target, used, sync)).toBe(0);
  for (let i = 0; i < 8; i++) expect(mem.read32(at + 4 * i) >>> 0).toBe(target[i]);
  return { syncs, hitless: !invalidWritten };
}

describe("the driver's entry writer against the kernel's arm-smmu-v3 KUnit expectations", () => {
  // [KUnit case, from, to, expected syncs, hitless]
  const steCases: [string, Uint32Array, Uint32Array, number, boolean][] = [
    ['bypass_to_abort', bypassSte, abortSte, 2, true],
    ['abort_to_bypass', abortSte, bypassSte, 2, true],
    ['cdtable_to_abort', cdtableSte(false), abortSte, 2, true],
    ['abort_to_cdtable', abortSte, cdtableSte(false), 2, true],
    ['cdtable_to_bypass', cdtableSte(false), bypassSte, 3, true],
    ['bypass_to_cdtable', bypassSte, cdtableSte(false), 3, true],
    ['cdtable_s1dss_change', cdtableSte(false), cdtableSte(true), 1, true],
    ['cdtable_s1dss_change (back)', cdtableSte(true), cdtableSte(false), 1, true],
    ['s1dssbypass_to_stebypass', cdtableSte(true), bypassSte, 2, true],
    ['stebypass_to_s1dssbypass', bypassSte, cdtableSte(true), 2, true],
    ['s2_to_abort', s2Ste, abortSte, 2, true],
    ['abort_to_s2', abortSte, s2Ste, 2, true],
    ['s2_to_bypass', s2Ste, bypassSte, 2, true],
    ['bypass_to_s2', bypassSte, s2Ste, 2, true],
    ['s1_to_s2', cdtableSte(false), s2Ste, 3, true],
    ['s2_to_s1', s2Ste, cdtableSte(false), 3, true],
    ['non_hitless', cdtableSte(false), cdtableSte(true, 0x4b_4b4b_4b4b), 3, false],
  ];
  for (const [name, from, to, syncs, hitless] of steCases) {
    it(`STE ${name}: ${syncs} syncs, ${hitless ? 'hitless' : 'breaking'}`, () => {
      expect(kunitTransition(from, to, steUsedBits)).toEqual({ syncs, hitless });
    });
  }
  const clear = new Uint32Array(8);
  const cdCases: [string, Uint32Array, Uint32Array, number, boolean][] = [
    ['s1_clear', clear, s1Cd(1997), 2, false],
    ['s1_clear (back)', s1Cd(1997), clear, 2, false],
    ['s1_change_asid', s1Cd(778), s1Cd(1997), 1, true],
    ['s1_change_asid (back)', s1Cd(1997), s1Cd(778), 1, true],
  ];
  for (const [name, from, to, syncs, hitless] of cdCases) {
    it(`CD ${name}: ${syncs} syncs, ${hitless ? 'hitless' : 'breaking'}`, () => {
      expect(kunitTransition(from, to, cdUsedBits)).toEqual({ syncs, hitless });
    });
  }
});

const RW = IOMMU_READ | IOMMU_WRITE;
const ok = (st: number) => (st & (DMA_STATUS_DONE | DMA_STATUS_FAULT)) === DMA_STATUS_DONE;

let rigs: Rig[] = [];
afterEach(() => {
  for (const r of rigs) expect(r.model.hitlessViolations).toEqual([]);
  rigs = [];
});

function read8(r: Rig, pa: number): Uint32Array {
  const w = new Uint32Array(8);
  for (let i = 0; i < 8; i++) w[i] = r.k.mem.read32(pa + 4 * i);
  return w;
}

type State = 'abort' | 'bypass' | 's1' | 's1b' | 's2';

interface Step {
  steSyncs: number;
  cdSyncs: number;
}

class Walker {
  readonly dev;
  readonly doms = new Map<State, IommuDomain>();
  readonly buf: number;
  state: State | null = null;
  readonly cdAddr: number;

  constructor(readonly r: Rig) {
    this.dev = r.masters[0]!;
    this.buf = buffer(r.k);
    const mk = (s: State): IommuDomain | number => {
      if (s === 's2') return armSmmuV3DomainAllocS2(this.dev);
      return iommuDomainAlloc(this.dev, s === 'abort' ? 'blocked' : s === 'bypass' ? 'identity' : 'unmanaged');
    };
    for (const s of ['abort', 'bypass', 's1', 's1b', 's2'] as const) {
      const d = mk(s);
      if (typeof d === 'number') continue; // no stage 2 on this SMMU
      if (s !== 'abort' && s !== 'bypass') expect(iommuMap(d, 0x1000, this.buf, 0x1000, RW)).toBe(0);
      this.doms.set(s, d);
    }
    // The master's CD table exists once it has been attached to a stage-1 domain.
    this.go('s1');
    this.cdAddr = armSmmuV3MasterOf(this.dev)!.cdTable;
  }

  /** DMA that makes the SMMU fetch (and so track) the live STE and CD, and checks the result. */
  probe(): void {
    const dma = this.r.dmas[0]!;
    const st = this.state;
    if (st === 'abort') expect(ok(dma.fill(0x1000, 4, 1))).toBe(false);
    else if (st === 'bypass') {
      expect(ok(dma.fill(this.buf, 4, 0xb1))).toBe(true); // bus address = PA
      expect(this.r.k.mem.read32(this.buf)).toBe(0xb1);
    } else {
      expect(ok(dma.fill(0x1000, 4, 0x5a))).toBe(true);
      expect(this.r.k.mem.read32(this.buf)).toBe(0x5a);
      this.r.k.mem.write32(this.buf, 0);
    }
  }

  /** Attaches the domain of `to` through the driver's attach_dev op; counts the syncs. */
  go(to: State): Step {
    const r = this.r;
    const d = this.doms.get(to)!;
    const c = r.model.stats.commands;
    const [ste0, cd0, sync0] = [c.CFGI_STE ?? 0, c.CFGI_CD ?? 0, r.model.stats.syncs];
    expect(d.ops.attachDev(d, this.dev)).toBe(0);
    const [ste1, cd1, sync1] = [c.CFGI_STE ?? 0, c.CFGI_CD ?? 0, r.model.stats.syncs];
    // Every sync here invalidated the STE or the CD of this (one-SID) master.
    expect(sync1 - sync0).toBe(ste1 - ste0 + (cd1 - cd0));
    this.state = to;
    const step: Step = { steSyncs: ste1 - ste0, cdSyncs: cd1 - cd0 };
    this.probe();
    return step;
  }
}

describe.each(['fvp', 'qemu', 'minimal'] as const)('STE/CD transitions on a live %s SMMUv3 model', (preset) => {
  /**
   * The syncs the driver's attach_dev takes on these presets: the KUnit counts for the same
   * transitions, except that none of the presets has ATTR_TYPES_OVR (so bypass and stage-2 STEs
   * carry no SHCFG: abort<->bypass and cdtable<->bypass need one sync fewer) and the stage-1
   * to stage-2 switch also changes S2VMID (stage-1 STEs tag with VMID 0), which makes it a
   * breaking update of the same 3 syncs.
   */
  const boardSyncs: Record<string, number> = {
    'abort->bypass': 1, 'bypass->abort': 1,
    'abort->s1': 2, 's1->abort': 2, 'abort->s1b': 2, 's1b->abort': 2,
    'bypass->s1': 2, 's1->bypass': 2, 'bypass->s1b': 2, 's1b->bypass': 2,
    'abort->s2': 2, 's2->abort': 2, 'bypass->s2': 2, 's2->bypass': 2,
    's1->s2': 3, 's2->s1': 3, 's1b->s2': 3, 's2->s1b': 3,
    's1->s1b': 0, 's1b->s1': 0,
  };

  it('walks every pair of bypass, abort, S1 (two domains) and S2 with the expected syncs, hitless as the architecture judges', () => {
    const r = boot({ preset });
    rigs.push(r);
    const w = new Walker(r);
    w.probe();
    const states = [...w.doms.keys()];
    expect(states.length).toBe(r.smmu.features.s2 ? 5 : 4);
    for (const a of states) {
      for (const b of states) {
        if (a === b) continue;
        w.go(a);
        const before = r.model.hitlessViolations.length;
        const s = w.go(b);
        expect(r.model.hitlessViolations.length, `${a}->${b}`).toBe(before);
        expect(s.steSyncs, `${a}->${b} STE syncs`).toBe(boardSyncs[`${a}->${b}`]);
        const s1 = (x: State) => x === 's1' || x === 's1b';
        // CD 0 changes when entering or switching stage-1 domains: clear -> S1 is the KUnit
        // s1_clear (2); S1 -> S1 of another domain changes ASID and TTB0 (breaking, 3)
        // (leaving stage 1 clears it again: s1_clear backwards, 2)
        const cdWant = s1(a) && s1(b) ? 3 : s1(a) || s1(b) ? 2 : 0;
        expect(s.cdSyncs, `${a}->${b} CD syncs`).toBe(cdWant);
      }
    }
    expect(r.model.programmingViolations).toEqual([]);
  });

  it('changes only the ASID, or only MAIR, of a live CD with one sync each (KUnit s1_change_asid), hitlessly', () => {
    const r = boot({ preset });
    rigs.push(r);
    const w = new Walker(r);
    w.go('s1');
    const sid = SIDS[0];
    const writer = new EntryWriter(r.k.mem);
    const sync = () => {
      const e = r.smmu.cmdAdd(CMD_CFGI_CD, sid, 1, 0);
      return e < 0 ? e : r.smmu.syncCmdq();
    };
    const orig = read8(r, w.cdAddr);
    const asidOf = (cd: Uint32Array) => cd[1]! >>> 16;
    const newAsid = 0xf0; // beyond any ASID the driver allocated (8- or 16-bit ASIDs)
    expect(asidOf(orig)).not.toBe(newAsid);
    const target = Uint32Array.from(orig);
    target[1] = ((target[1]! & 0xffff) | (newAsid << 16)) >>> 0;
    const walks0 = r.model.stats.walks;
    const before = r.model.stats.syncs;
    expect(writer.write(w.cdAddr, target, cdUsedBits, sync)).toBe(0);
    expect(r.model.stats.syncs - before).toBe(1);
    expect(writer.lastSyncs).toBe(1);
    expect(r.model.hitlessViolations).toEqual([]);
    // The new ASID tags a new TLB context: the next access walks again, and still works.
    w.probe();
    expect(r.model.stats.walks).toBeGreaterThan(walks0);
    // MAIR only (qword 3): one critical qword, one sync
    const mair = Uint32Array.from(target);
    mair[7] = (mair[7]! ^ 0x0100) >>> 0; // attribute index 5: unused by the driver's PTEs
    expect(writer.write(w.cdAddr, mair, cdUsedBits, sync)).toBe(0);
    expect(writer.lastSyncs).toBe(1);
    w.probe();
    // ASID (qword 0) and MAIR (qword 3) both differ: a breaking update, 3 syncs
    expect(writer.write(w.cdAddr, orig, cdUsedBits, sync)).toBe(0);
    expect(writer.lastSyncs).toBe(3);
    expect(r.model.hitlessViolations).toEqual([]);
    w.probe();
  });
});
