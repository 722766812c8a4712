import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CB, DATA_BASE, FSR_PF, FSR_TF, G, LpaeTables, MAIR0, S1_ATTR, S1_RO, S2_ATTR, SCTLR_AFE, SCTLR_CFIE, SCTLR_CFRE, SCTLR_M, SCTLR_TRE, V2Rig, V7sTables, slot } from './smmu-v2-helpers.js';

/*
 * The SMMUv2 model translates on the 32-bit halves of the address (`translateParts`; `translate`
 * splits its number and calls it). This checks the whole path against a reference kept by the
 * test itself (which page maps where, read-only or not, for each stage), on random table
 * changes and random accesses, for every context format: AArch64 stage 1, AArch32
 * long-descriptor stage 1, short descriptor, AArch64 stage 2 and nested. The pages straddle the
 * places where halves go wrong (low word 0x8000_0000, input and output above 2^32, inputs with
 * bit 48 set and above 2^49), every access is made twice (a miss, then a TLB hit) through both
 * entry points, and faults must show the fault class and the faulting address of the stage that
 * faulted, in that stage's bank.
 */

const PAGES = 16;
const SZ_4K = 0x1000;
const S1_ON = SCTLR_M | SCTLR_TRE | SCTLR_AFE | SCTLR_CFRE | SCTLR_CFIE;
const FAULT_BITS = 0x1e; // TF, AFF, PF, EF
const OUTSTANDING = (FAULT_BITS | (1 << 30) | (1 << 31)) >>> 0; // and SS, MULTI (not FORMAT)
// Page i at base + i * 4 KiB: page 8 starts at low word 0x8000_0000.
const LOW = 0x7fff_8000;
const VA64 = 2 ** 39 + LOW;
const VA32 = LOW;
const IPA = 2 ** 36 + LOW;
const DELTA = 0x1000_0000;

type Kind = 'a64' | 'l32' | 'v7s' | 's2' | 'nested';
const KINDS: readonly Kind[] = ['a64', 'l32', 'v7s', 's2', 'nested'];
const SID: Record<Kind, number> = { a64: 1, l32: 2, v7s: 3, s2: 4, nested: 5 };
const BASE: Record<Kind, number> = { a64: VA64, l32: VA32, v7s: VA32, s2: IPA, nested: VA64 };

interface Leaf {
  pa: number;
  ro: boolean;
}

class World {
  readonly rig = new V2Rig({ numCb: 8 }, { tlbCapacity: 4096 });
  readonly a64: LpaeTables;
  readonly l32: LpaeTables;
  readonly v7s: V7sTables;
  readonly s2: LpaeTables;
  readonly n1: LpaeTables;
  readonly n2: LpaeTables;
  /** Reference: page index -> leaf, per format (nested: its stage 1; `nested2`: its stage 2 by IPA page). */
  readonly ref = new Map<string, Leaf>();

  constructor() {
    const rig = this.rig;
    rig.enable();
    for (let i = 0; i < 5; i++) rig.stream(i, i + 1, 0, i);
    this.a64 = new LpaeTables(rig, 12, 0);
    rig.s1Aarch64(0, { ttbr0: this.a64.root, asid: 1 });
    this.l32 = new LpaeTables(rig, 12, 1, 32);
    rig.bank(1, 1, 0, false);
    rig.setCb(1, CB.TCR, ((1 << 31) | (1 << 23) | (3 << 12) | (1 << 10) | (1 << 8)) >>> 0);
    rig.setCb64(1, CB.TTBR0, BigInt(this.l32.root) | (2n << 48n));
    rig.setCb(1, CB.MAIR0, MAIR0);
    rig.setCb(1, CB.SCTLR, S1_ON);
    this.v7s = new V7sTables(rig);
    rig.bank(2, 1, 0, false);
    rig.setCb(2, CB.TTBR0, this.v7s.root);
    rig.setCb(2, CB.CONTEXTIDR, 3);
    rig.setCb(2, CB.SCTLR, S1_ON);
    this.s2 = new LpaeTables(rig, 12, 1);
    rig.s2Aarch64(3, { vttbr: this.s2.root, vmid: 4 });
    this.n1 = new LpaeTables(rig, 12, 0, 4096, DELTA);
    this.n2 = new LpaeTables(rig, 12, 1);
    rig.s2Aarch64(5, { vttbr: this.n2.root, vmid: 6 });
    rig.bank(4, 3, 5, true);
    rig.setCb(4, CB.TCR2, 5 | (1 << 4) | (7 << 15));
    rig.setCb(4, CB.TCR, (16 | (1 << 8) | (1 << 10) | (3 << 12) | (1 << 23)) >>> 0);
    rig.setCb64(4, CB.TTBR0, BigInt(this.n1.base) | (5n << 48n));
    rig.setCb(4, CB.MAIR0, MAIR0);
    rig.setCb(4, CB.SCTLR, S1_ON);
    this.mapTableFrames();
  }

  /** The nested stage 1's table frames, at IPA = PA - DELTA, mapped by its stage 2. */
  private mapTableFrames(): void {
    for (const f of [this.n1.root, ...this.n1.frames]) this.n2.map(f - DELTA, f, S2_ATTR);
  }

  /** Sets (or with leaf null clears) page `i` of a format; `stage2` selects the nested stage 2. */
  set(kind: Kind, i: number, leaf: Leaf | null, stage2 = false): void {
    const va = BASE[kind] + i * SZ_4K;
    const key = `${kind}${stage2 ? '2' : ''}:${i}`;
    if (leaf === null && !this.ref.has(key)) return; // nothing mapped (maybe no table either)
    if (kind === 'nested' && stage2) {
      const ipa = IPA + i * SZ_4K;
      if (leaf === null) this.n2.unmap(ipa);
      else this.n2.map(ipa, leaf.pa, leaf.ro ? S2_ATTR & ~0x80 : S2_ATTR);
    } else if (kind === 'a64' || kind === 'nested') {
      const t = kind === 'a64' ? this.a64 : this.n1;
      // the nested stage 1 maps page i to IPA page i (stage 2 decides the PA)
      const out = kind === 'nested' ? IPA + i * SZ_4K : leaf?.pa ?? 0;
      if (leaf === null) t.unmap(va);
      else t.map(va, out, S1_ATTR | (leaf.ro ? S1_RO : 0));
      if (kind === 'nested') this.mapTableFrames();
    } else if (kind === 'l32') {
      if (leaf === null) this.l32.unmap(va, 3, 2);
      else this.l32.map(va, leaf.pa, S1_ATTR | (leaf.ro ? S1_RO : 0), 0, 3, 2);
    } else if (kind === 'v7s') {
      if (leaf === null) {
        const mem = this.rig.mem;
        const d1 = mem.read32(this.v7s.root + Math.floor(va / 0x100000) * 4);
        if ((d1 & 3) === 1) mem.write32(((d1 & 0xfffffc00) >>> 0) + ((va >>> 12) & 0xff) * 4, 0);
      } else this.v7s.mapSmall(va, leaf.pa, { ro: leaf.ro });
    } else {
      if (leaf === null) this.s2.unmap(va);
      else this.s2.map(va, leaf.pa, leaf.ro ? S2_ATTR & ~0x80 : S2_ATTR);
    }
    if (leaf === null) this.ref.delete(key);
    else this.ref.set(key, leaf);
    this.invalidate(kind);
  }

  /** What a driver does after changing a table: invalidate the context's entries and sync. */
  private invalidate(kind: Kind): void {
    const rig = this.rig;
    if (kind === 's2' || kind === 'nested') {
      rig.setGr0(G.TLBIVMID, kind === 's2' ? 4 : 6);
      rig.setGr0(G.TLBGSYNC, 0);
    } else {
      const bank = kind === 'a64' ? 0 : kind === 'l32' ? 1 : 2;
      rig.setCb(bank, CB.TLBIASID, bank + 1);
      rig.setCb(bank, CB.TLBSYNC, 0);
    }
  }

  /**
   * The reference outcome of an access at `iova` (page index `i`, or -1 outside the pages):
   * the PA, or the bank and FSR class of the fault.
   */
  expect(kind: Kind, i: number, iova: number, write: boolean): { pa: number } | { bank: number; fsr: number } {
    const s1bank = { a64: 0, l32: 1, v7s: 2, s2: 3, nested: 4 }[kind];
    const leaf = i < 0 ? undefined : this.ref.get(`${kind}:${i}`);
    if (leaf === undefined) return { bank: s1bank, fsr: FSR_TF };
    if (write && leaf.ro) return { bank: s1bank, fsr: FSR_PF };
    if (kind !== 'nested') return { pa: leaf.pa + (iova % SZ_4K) };
    const l2 = this.ref.get(`nested2:${i}`);
    if (l2 === undefined) return { bank: 5, fsr: FSR_TF };
    if (write && l2.ro) return { bank: 5, fsr: FSR_PF };
    return { pa: l2.pa + (iova % SZ_4K) };
  }
}

interface Access {
  kind: Kind;
  /** 0..15: a page; 16: bit 48 set (upper range, disabled here); 17: above 2^49; 18: past the pages. */
  page: number;
  off: number;
  write: boolean;
  parts: boolean;
}

type Op = { op: 'map'; kind: Kind; page: number; k: number; ro: boolean; stage2: boolean } | { op: 'unmap'; kind: Kind; page: number; stage2: boolean } | ({ op: 'xlate' } & Access);

const kindArb = fc.constantFrom(...KINDS);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('map' as const), kind: kindArb, page: fc.nat(PAGES - 1), k: fc.nat(255), ro: fc.boolean(), stage2: fc.boolean() }),
  fc.record({ op: fc.constant('unmap' as const), kind: kindArb, page: fc.nat(PAGES - 1), stage2: fc.boolean() }),
  fc.record({ op: fc.constant('xlate' as const), kind: kindArb, page: fc.nat(PAGES + 2), off: fc.nat(SZ_4K - 1), write: fc.boolean(), parts: fc.boolean() }),
  fc.record({ op: fc.constant('xlate' as const), kind: kindArb, page: fc.nat(PAGES - 1), off: fc.nat(SZ_4K - 1), write: fc.boolean(), parts: fc.boolean() }),
);

function addressOf(a: Access): { iova: number; page: number } {
  const base = BASE[a.kind];
  if (a.page < PAGES) return { iova: base + a.page * SZ_4K + a.off, page: a.page };
  if (a.page === PAGES) return { iova: (a.kind === 'a64' || a.kind === 'nested' ? 2 ** 48 : 2 ** 32) + base + a.off, page: -1 };
  if (a.page === PAGES + 1) return { iova: 2 ** 49 + base + a.off, page: -1 };
  return { iova: base + PAGES * SZ_4K + a.off, page: -1 };
}

function run(w: World, a: Access): void {
  const { smmu } = w.rig;
  const { iova, page } = addressOf(a);
  const want = w.expect(a.kind, page, iova, a.write);
  const hi = Math.floor(iova / 2 ** 32);
  // twice: a miss (or a hit left by an earlier access), then a hit; through both entry points
  for (let n = 0; n < 2; n++) {
    const o = slot();
    const parts = a.parts !== (n === 1);
    const ok = parts ? smmu.translateParts(SID[a.kind], hi | 0, (iova - hi * 2 ** 32) | 0, a.write, o) : smmu.translate(SID[a.kind], iova, a.write, o);
    const at = `${a.kind} ${a.write ? 'write' : 'read'} at 0x${iova.toString(16)} (${parts ? 'halves' : 'number'}, pass ${n})`;
    if ('pa' in want) {
      expect(ok, at).toBe(true);
      expect(o.pa, at).toBe(want.pa);
      expect(o.sink, at).toBe(false);
    } else {
      expect(ok, at).toBe(false);
      expect(o.stalled, at).toBe(false);
      const fsr = w.rig.cb(want.bank, CB.FSR);
      expect(fsr & FAULT_BITS, at).toBe(want.fsr);
      expect(w.rig.cb64(want.bank, CB.FAR), at).toBe(BigInt(iova));
      expect((w.rig.cb(want.bank, CB.FSYNR0) >>> 4) & 1, `${at}: FSYNR0.WNR`).toBe(a.write ? 1 : 0);
      // the other banks saw nothing
      for (let b = 0; b < 6; b++) if (b !== want.bank) expect(w.rig.cb(b, CB.FSR) & OUTSTANDING, `${at}: bank ${b}`).toBe(0);
      w.rig.setCb(want.bank, CB.FSR, fsr); // write 1 to clear
    }
  }
}

describe('SMMUv2 translation on 32-bit halves', () => {
  it('agrees with a reference model on random tables and accesses, in every format, hits, misses and faults', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 60 }), (ops) => {
        const w = new World();
        const st = w.rig.smmu.stats;
        for (const o of ops) {
          if (o.op === 'map') w.set(o.kind, o.page, { pa: DATA_BASE + o.k * SZ_4K, ro: o.ro }, o.stage2 && o.kind === 'nested');
          else if (o.op === 'unmap') w.set(o.kind, o.page, null, o.stage2 && o.kind === 'nested');
          else run(w, o);
        }
        // every access counted once as a translation; hits and misses only for walked ones
        expect(st.tlbHits + st.tlbMisses).toBeLessThanOrEqual(st.translations);
      }),
      { numRuns: 150 },
    );
  });

  it('a second access to a page is a TLB hit on either entry point, and a hit gives the walk\'s answer', () => {
    const w = new World();
    const st = w.rig.smmu.stats;
    for (const kind of KINDS) {
      for (let i = 0; i < PAGES; i++) {
        w.set(kind, i, { pa: DATA_BASE + (PAGES - i) * SZ_4K, ro: false });
        if (kind === 'nested') w.set(kind, i, { pa: DATA_BASE + (2 * PAGES - i) * SZ_4K, ro: false }, true);
      }
      for (let i = 0; i < PAGES; i++) {
        const m = st.tlbMisses;
        const h = st.tlbHits;
        run(w, { kind, page: i, off: 0xabc, write: i % 2 === 0, parts: i % 3 === 0 });
        expect(st.tlbMisses - m, `${kind} page ${i}`).toBe(1);
        expect(st.tlbHits - h, `${kind} page ${i}`).toBe(1);
      }
    }
  });
});
