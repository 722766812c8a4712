import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SmmuV2 } from '../src/index.js';
import { CB, DATA_BASE, G, LpaeTables, MAIR0, S1_ATTR, S1_RO, S2_ATTR, SCTLR_AFE, SCTLR_CFIE, SCTLR_CFRE, SCTLR_M, SCTLR_TRE, V2Rig, slot } from './smmu-v2-helpers.js';

/*
 * `SmmuV2.translateParts` does a TLB hit (non-global entries) of the remembered stream in a
 * small inlinable part and everything else out of line (`translateSlow`). Two identical rigs
 * run the same random sequences of translations and register writes; before each translation
 * rig `b` forgets its remembered stream, so that its every translation goes out of line,
 * while rig `a` takes the hot part whenever it can. Both must give the same answers (those of
 * untouched pages also as their descriptor bits say), statistics, TLB and walk-cache counters,
 * TLB size and fault registers (every bank's FSR, FAR, FSYNR0, and GFSR) after every step,
 * through hits, permission faults on hits, global entries (which the hot part does not
 * probe), a 2 MiB block beside the pages (a context of two sizes: the hot probe declines),
 * inputs with the sign bit set (the TLB key is not the input), bank switches, TLBIASID,
 * TLBIVA, TLBIVMID, faults held under an outstanding FSR and cleared, a bank disabled and
 * enabled, pages rewritten behind the TLB, a nested bank and a stage-2 bank.
 */

const VA = 2 ** 39;
const IPA = 2 ** 36;
const PAGES = 16;
const DELTA = 0x1000_0000;
const S1_ON = SCTLR_M | SCTLR_TRE | SCTLR_AFE | SCTLR_CFRE | SCTLR_CFIE;
/** StreamIDs: 1, 2 -> stage-1 banks 0, 1 (ASIDs 1, 2); 3 -> nested bank 2 over 3; 4 -> stage-2 bank 3. */
const SIDS = [1, 2, 3, 4] as const;
const ASIDS = [1, 2];
const VMID = 6;

/** Leaf attributes by kind: RW, read-only, privileged only (a fault for these streams), global RW. */
function s1Attr(kind: number): number {
  return kind === 0 ? S1_ATTR : kind === 1 ? S1_ATTR | S1_RO : kind === 2 ? S1_ATTR & ~0x40 : S1_ATTR & ~0x800;
}

interface Rig {
  rig: V2Rig;
  s1: LpaeTables[];
}

function build(): Rig {
  const rig = new V2Rig({ numCb: 8 }, { tlbCapacity: 1024 });
  rig.enable();
  for (let i = 0; i < 4; i++) rig.stream(i, SIDS[i]!, 0, i);
  const s1: LpaeTables[] = [];
  for (let bank = 0; bank < 2; bank++) {
    const t = new LpaeTables(rig, 12, 0);
    rig.s1Aarch64(bank, { ttbr0: t.root, asid: ASIDS[bank]! });
    for (let i = 0; i < PAGES; i++) t.map(VA + i * 4096, DATA_BASE + i * 4096, s1Attr((i + bank) % 4));
    // Bank 0 also holds a 2 MiB block (two block sizes in its context).
    if (bank === 0) t.map(VA + 2 ** 21, DATA_BASE + 2 ** 21, S1_ATTR, 0, 2);
    s1.push(t);
  }
  // Bank 2: nested stage 1 (ASID 5) over bank 3 (stage 2, VMID 6), tables at IPA = PA - DELTA.
  const n1 = new LpaeTables(rig, 12, 0, 4096, DELTA);
  const n2 = new LpaeTables(rig, 12, 1);
  rig.s2Aarch64(3, { vttbr: n2.root, vmid: VMID });
  rig.bank(2, 3, 3, true);
  rig.setCb(2, CB.TCR2, 5 | (1 << 4) | (7 << 15));
  rig.setCb(2, CB.TCR, (16 | (1 << 8) | (1 << 10) | (3 << 12) | (1 << 23)) >>> 0);
  rig.setCb64(2, CB.TTBR0, BigInt(n1.base) | (5n << 48n));
  rig.setCb(2, CB.MAIR0, MAIR0);
  rig.setCb(2, CB.SCTLR, S1_ON);
  for (let i = 0; i < PAGES; i++) {
    n1.map(VA + i * 4096, IPA + i * 4096, s1Attr(i % 2)); // RW and read-only
    n2.map(IPA + i * 4096, DATA_BASE + i * 4096, i % 3 === 2 ? S2_ATTR & ~0x80 : S2_ATTR); // some without S2 write
  }
  for (const f of [n1.root, ...n1.frames]) n2.map(f - DELTA, f, S2_ATTR);
  return { rig, s1 };
}

function forget(s: SmmuV2): void {
  s['forget']();
}

function faultRegs(r: V2Rig): number[] {
  const regs = [r.gr0(G.SGFSR)];
  for (let n = 0; n < 4; n++) regs.push(r.cb(n, CB.FSR), r.cb(n, CB.FAR), r.cb(n, CB.FAR + 4), r.cb(n, CB.FSYNR0));
  return regs;
}

type Op =
  | { op: 'tr'; sid: number; page: number; big: boolean; neg: number; off: number; writes: boolean[] }
  | { op: 'tlbiasid' | 'tlbiva' | 'clear' | 'off' | 'rewrite'; bank: number; page: number }
  | { op: 'tlbivmid' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 30,
    arbitrary: fc.record({
      op: fc.constant('tr' as const),
      sid: fc.oneof({ weight: 8, arbitrary: fc.constantFrom(1, 2) }, { weight: 2, arbitrary: fc.constantFrom(3, 4) }),
      page: fc.nat(PAGES + 1), // two unmapped pages: translation faults
      big: fc.boolean(),
      // Bit 47 or 48 set: TTBR1's half (disabled: a translation fault), with a TLB key that is
      // (bit 48) or is not (bit 47 alone) below the hot part's limit.
      neg: fc.oneof({ weight: 14, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constantFrom(2 ** 47, 2 ** 48) }),
      off: fc.nat(4095),
      // The same input one to four times in a row (a fill, then hits), reads and writes.
      writes: fc.array(fc.boolean(), { minLength: 1, maxLength: 4 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({ op: fc.constantFrom('tlbiasid' as const, 'tlbiva' as const, 'clear' as const, 'clear' as const, 'off' as const, 'rewrite' as const), bank: fc.nat(1), page: fc.nat(PAGES - 1) }),
  },
  { weight: 1, arbitrary: fc.constant({ op: 'tlbivmid' as const }) },
);

describe('SMMUv2 hot translation path against the out-of-line path', () => {
  it('gives the same answers, statistics, TLB and walk-cache counters and fault registers', () => {
    let hot = 0;
    let outOfLine = 0;
    let checked = 0;
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 40, maxLength: 200 }), (ops) => {
        const a = build();
        const b = build();
        const both = [a, b];
        const rewritten = [new Set<number>(), new Set<number>()];
        const enabled = [true, true];
        for (const o of ops) {
          if (o.op === 'tr') {
            const base = o.sid === 4 ? IPA : VA;
            let va = (o.big && o.sid === 1 ? base + 2 ** 21 + o.page * 4096 : base + o.page * 4096) + o.off;
            if (o.sid <= 2) va += o.neg;
            for (const write of o.writes) {
              const bank = o.sid - 1;
              const fsrBefore = a.rig.cb(bank < 2 ? bank : 2, CB.FSR);
              const sa = a.rig.smmu;
              const wasHot = sa['fastSid'] === o.sid;
              const hitsBefore = sa.stats.tlbHits;
              const outA = slot();
              const okA = sa.translate(o.sid, va, write, outA);
              forget(b.rig.smmu);
              const outB = slot();
              const okB = b.rig.smmu.translate(o.sid, va, write, outB);
              expect([okB, outB.pa]).toEqual([okA, outA.pa]);
              if (wasHot && sa.stats.tlbHits > hitsBefore) hot++;
              else outOfLine++;
              // Against the descriptors (stage-1 banks, pages as built, no fault outstanding).
              if (bank < 2 && enabled[bank] && !o.big && o.neg === 0 && fsrBefore === 0 && !rewritten[bank]!.has(o.page)) {
                const kind = (o.page + bank) % 4;
                const want = o.page >= PAGES ? false : kind === 1 ? !write : kind !== 2;
                expect(okA).toBe(want);
                if (want) expect(outA.pa).toBe(DATA_BASE + o.page * 4096 + o.off);
                checked++;
              }
            }
          } else if (o.op === 'tlbiasid') {
            for (const r of both) {
              r.rig.setCb(o.bank, CB.TLBIASID, ASIDS[o.bank]!);
              r.rig.setCb(o.bank, CB.TLBSYNC, 0);
            }
          } else if (o.op === 'tlbiva') {
            for (const r of both) {
              r.rig.setCb64(o.bank, CB.TLBIVA, BigInt((VA + o.page * 4096) / 4096) | (BigInt(ASIDS[o.bank]!) << 48n));
              r.rig.setCb(o.bank, CB.TLBSYNC, 0);
            }
          } else if (o.op === 'tlbivmid') {
            for (const r of both) {
              r.rig.setGr0(G.TLBIVMID, VMID);
              r.rig.setGr0(G.TLBGSYNC, 0);
            }
          } else if (o.op === 'clear') {
            // Clears every outstanding fault of a bank (FSR is write-one-to-clear); bank 1
            // stands for the nested pair here as well.
            for (const r of both) {
              for (const n of o.bank === 0 ? [0] : [1, 2, 3]) r.rig.setCb(n, CB.FSR, r.rig.cb(n, CB.FSR));
            }
          } else if (o.op === 'off') {
            // SCTLR.M toggled: off (stage 1 bypassed) or back on.
            enabled[o.bank] = !enabled[o.bank];
            for (const r of both) r.rig.setCb(o.bank, CB.SCTLR, enabled[o.bank] ? S1_ON : S1_ON & ~SCTLR_M);
          } else {
            // A page made read-only behind the TLB's back (no TLBI): a stale entry stays usable.
            for (const r of both) r.s1[o.bank]!.map(VA + o.page * 4096, DATA_BASE + o.page * 4096, s1Attr((o.page + o.bank) % 4) | S1_RO);
            rewritten[o.bank]!.add(o.page);
          }
          const ma = a.rig.smmu;
          const mb = b.rig.smmu;
          expect(mb.stats).toEqual(ma.stats);
          expect(mb['tlb'].tlb.counters()).toEqual(ma['tlb'].tlb.counters());
          expect(mb.walkCacheCounters()).toEqual(ma.walkCacheCounters());
          expect(mb.tlbSize).toBe(ma.tlbSize);
          expect(faultRegs(b.rig)).toEqual(faultRegs(a.rig));
        }
      }),
      { numRuns: 120, seed: 0x5a2 },
    );
    // Both paths were exercised in `a`.
    expect(hot).toBeGreaterThan(600);
    expect(outOfLine).toBeGreaterThan(5000);
    expect(checked).toBeGreaterThan(300);
  });

  it('forgets the remembered stream on a register write and does not remember a nested bank', () => {
    const { rig } = build();
    const s = rig.smmu;
    const out = slot();
    expect(s.translate(1, VA + 0x10, false, out)).toBe(true);
    expect(out.pa).toBe(DATA_BASE + 0x10);
    expect(s['fastSid']).toBe(1);
    rig.setCb(0, CB.SCTLR, S1_ON & ~SCTLR_M); // stage 1 off: the input passes as is
    expect(s['fastSid']).toBe(-1);
    expect(s.translate(1, VA + 0x10, false, out)).toBe(true);
    expect(out.pa).toBe(VA + 0x10);
    expect(s['fastSid']).toBe(-1);
    expect(s.translate(3, VA + 0x10, false, out)).toBe(true);
    expect(s.translate(3, VA + 0x10, false, out)).toBe(true);
    expect(out.pa).toBe(DATA_BASE + 0x10);
    expect(s['fastSid']).toBe(-1);
    // A global entry (page 3 of bank 0) is found out of line: the second read is a hit.
    rig.setCb(0, CB.SCTLR, S1_ON);
    const before = { ...s.stats };
    expect(s.translate(1, VA + 3 * 4096 + 8, false, out)).toBe(true);
    expect(s.translate(1, VA + 3 * 4096 + 8, false, out)).toBe(true);
    expect(out.pa).toBe(DATA_BASE + 3 * 4096 + 8);
    expect([s.stats.tlbHits - before.tlbHits, s.stats.tlbMisses - before.tlbMisses]).toEqual([1, 1]);
  });
});
