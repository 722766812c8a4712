import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SmmuV2 } from '../src/index.js';
import { CB, DATA_BASE, FSR_PF, FSR_TF, G, LpaeTables, MAIR0, S1_ATTR, S1_RO, S2_ATTR, SCTLR_AFE, SCTLR_CFIE, SCTLR_CFRE, SCTLR_M, SCTLR_TRE, V2Rig, slot } from './smmu-v2-helpers.js';

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

/*
 * Stage-1 banks whose input is split below bit 48: the sign bit comes from TCR2.SEP (bits 31
 * to 48 of the upstream address; every bit above it is replaced by it, so those bits are
 * ignored) and the two TTBR regions from T0SZ / T1SZ (AArch64), or the 32-bit input of an
 * AArch32 long-descriptor bank with TTBR1 in use (TTBCR T0SZ / T1SZ). The hot part of
 * `translateParts` may only serve inputs that are their own TLB key (upstream bits above the
 * sign bit equal to it, i.e. the canonical form); a limit too high lets it probe with a
 * non-canonical input and hand its miss to the slow path as the key's (a second walk the other
 * rig does not make), a limit too low leaves a bank without hot hits. Two rigs as above (`b`
 * always out of line), random translations of addresses on and across each region's edges,
 * the sign bit's boundary, and with bits above the sign bit flipped; every answer is also
 * checked against the rule written out here from the architecture:
 *   AArch64: v = upstream address sign-extended from bit SEP (to 64 bits); TTBR0 when
 *   v < 2^(64 - T0SZ), TTBR1 when v >= 2^64 - 2^(64 - T1SZ), otherwise a translation fault.
 *   AArch32 long descriptor (32-bit input): TTBR0 below 2^(32 - T0SZ), TTBR1 from
 *   2^32 - 2^(32 - T1SZ) (T1SZ > 0), a translation fault between.
 * A fault must set FSR.TF (outside both regions or unmapped) or FSR.PF (a write to a
 * read-only page) and FAR = the upstream address; the test clears FSR after each fault.
 */

interface SepBank {
  name: string;
  /** TCR2.SEP encoding and the bit it selects (AArch64); -1 for an AArch32 long-descriptor bank. */
  sep: number;
  sepBit: number;
  t0sz: number;
  t1sz: number;
  /** Start level and root index bits of the TTBR0 / TTBR1 tables (4 KiB granule). */
  l0: [number, number];
  l1: [number, number];
}

const SEP_BANKS: SepBank[] = [
  { name: 'SEP bit 48, 39-bit regions', sep: 7, sepBit: 48, t0sz: 25, t1sz: 25, l0: [1, 9], l1: [1, 9] },
  { name: 'SEP bit 39, 39-bit regions', sep: 2, sepBit: 39, t0sz: 25, t1sz: 25, l0: [1, 9], l1: [1, 9] },
  { name: 'SEP bit 35, 35-bit regions', sep: 1, sepBit: 35, t0sz: 29, t1sz: 29, l0: [1, 5], l1: [1, 5] },
  { name: 'SEP bit 47, 39/36-bit regions', sep: 5, sepBit: 47, t0sz: 25, t1sz: 28, l0: [1, 9], l1: [1, 6] },
  { name: 'SEP bit 31, 30-bit regions', sep: 0, sepBit: 31, t0sz: 34, t1sz: 34, l0: [2, 9], l1: [2, 9] },
  { name: 'AArch32 long descriptor, T0SZ 1, T1SZ 2', sep: -1, sepBit: -1, t0sz: 1, t1sz: 2, l0: [1, 1], l1: [2, 9] },
  { name: 'SEP bit 48 (encoding 6), 36-bit regions', sep: 6, sepBit: 48, t0sz: 28, t1sz: 28, l0: [1, 6], l1: [1, 6] },
  // TTBR0's upper half (bit 35 set) is TTBR1's by the sign: its pages there are unreachable.
  { name: 'SEP bit 35, 36-bit regions', sep: 1, sepBit: 35, t0sz: 28, t1sz: 28, l0: [1, 6], l1: [1, 6] },
];
const SEP_PAGES = 3;
/** FSR.FORMAT (bits [10:9]): the descriptor format of the faulting context, beside the fault bits. */
const FSR_FORMAT = 3 << 9;
const TWO49 = 2 ** 49;

/** The canonical (TLB key) form of an upstream address: sign-extended from the SEP bit, 49 bits. */
function canonical(k: SepBank, a: number): number {
  if (k.sep < 0) return a;
  const x = BigInt(a);
  const low = x & ((1n << BigInt(k.sepBit + 1)) - 1n);
  const v = (x >> BigInt(k.sepBit)) & 1n ? low | (((1n << 49n) - 1n) & ~((1n << BigInt(k.sepBit + 1)) - 1n)) : low;
  return Number(v);
}

/** The architecture's region of an upstream address: 0, 1, or -1 (a translation fault); undefined when not stated. */
function regionOf(k: SepBank, a: number): number | undefined {
  if (k.sep < 0) {
    if (a >= 2 ** 32) return undefined;
    if (a < 2 ** (32 - k.t0sz)) return 0;
    if (k.t1sz > 0 && a >= 2 ** 32 - 2 ** (32 - k.t1sz)) return 1;
    return -1;
  }
  const x = BigInt(a);
  const sb = BigInt(k.sepBit);
  const mask = (1n << (sb + 1n)) - 1n;
  const v = (x >> sb) & 1n ? (x & mask) | (((1n << 64n) - 1n) & ~mask) : x & mask; // 64-bit VA
  if (v < 1n << BigInt(64 - k.t0sz)) return 0;
  if (v >= (1n << 64n) - (1n << BigInt(64 - k.t1sz))) return 1;
  return -1;
}

/** Page-aligned edges (canonical upstream addresses) of bank `k`: region starts and ends, the sign boundary. */
function edgesOf(k: SepBank): number[] {
  if (k.sep < 0) return [0, 2 ** (32 - k.t0sz), 2 ** 32 - 2 ** (32 - k.t1sz), 2 ** 32];
  return [0, 2 ** (64 - k.t0sz), 2 ** k.sepBit, TWO49 - 2 ** (64 - k.t1sz), TWO49];
}

interface SepRig {
  rig: V2Rig;
  /** Canonical page address -> [PA, read-only], per bank. */
  pages: Map<number, [number, boolean]>[];
}

function buildSep(): SepRig {
  const rig = new V2Rig({ numCb: 8 }, { tlbCapacity: 1024 });
  rig.enable();
  const pages: Map<number, [number, boolean]>[] = [];
  SEP_BANKS.forEach((k, n) => {
    rig.stream(n, 0x10 + n, 0, n);
    const rootSize = (lv: [number, number]): number => 8 * 2 ** lv[1];
    const t0 = new LpaeTables(rig, 12, k.l0[0], rootSize(k.l0));
    const t1 = new LpaeTables(rig, 12, k.l1[0], rootSize(k.l1));
    const asid = n + 1;
    if (k.sep >= 0) {
      rig.s1Aarch64(n, { ttbr0: t0.root, ttbr1: t1.root, asid, bits: 64 - k.t0sz, t1sz: k.t1sz, tg1: 2, sep: k.sep });
    } else {
      rig.bank(n, 1, 0, false);
      rig.setCb(n, CB.TCR, ((1 << 31) | (k.t1sz << 16) | k.t0sz) >>> 0); // EAE
      rig.setCb64(n, CB.TTBR0, BigInt(t0.root) | (BigInt(asid) << 48n));
      rig.setCb64(n, CB.TTBR1, BigInt(t1.root) | (BigInt(asid) << 48n));
      rig.setCb(n, CB.MAIR0, MAIR0);
      rig.setCb(n, CB.SCTLR, S1_ON);
    }
    // The first and last pages of each region, every other one read-only.
    const m = new Map<number, [number, boolean]>();
    const e = edgesOf(k);
    const ranges = k.sep < 0 ? [[e[0]!, e[1]!, 0], [e[2]!, e[3]!, 1]] : [[e[0]!, e[1]!, 0], [e[3]!, e[4]!, 1]];
    let i = 0;
    for (const [start, end, region] of ranges) {
      for (const va of [...Array.from({ length: SEP_PAGES }, (_, j) => start! + j * 4096), ...Array.from({ length: SEP_PAGES }, (_, j) => end! - (SEP_PAGES - j) * 4096)]) {
        const pa = DATA_BASE + n * 0x10_0000 + i * 4096;
        const ro = i % 2 === 1;
        const t = region === 0 ? t0 : t1;
        const lv = region === 0 ? k.l0 : k.l1;
        t.map(va, pa, ro ? S1_ATTR | S1_RO : S1_ATTR, 0, 3, lv[1]);
        m.set(va, [pa, ro]);
        i++;
      }
    }
    pages.push(m);
  });
  return { rig, pages };
}

type SepOp =
  | { op: 'tr'; bank: number; edge: number; delta: number; off: number; alias: number; writes: boolean[] }
  | { op: 'tlbiasid'; bank: number };

const sepOpArb: fc.Arbitrary<SepOp> = fc.oneof(
  {
    weight: 20,
    arbitrary: fc.record({
      op: fc.constant('tr' as const),
      bank: fc.nat(SEP_BANKS.length - 1),
      edge: fc.nat(4),
      delta: fc.integer({ min: -SEP_PAGES - 1, max: SEP_PAGES }),
      off: fc.oneof(fc.constant(0), fc.constant(4095), fc.nat(4095)),
      // Upstream bits above the sign bit flipped (a random pick of them), a third of the time;
      // for the AArch32 bank a bit above bit 31.
      alias: fc.oneof({ weight: 2, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.nat(0x1ffff) }),
      writes: fc.array(fc.boolean(), { minLength: 1, maxLength: 6 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('tlbiasid' as const), bank: fc.nat(SEP_BANKS.length - 1) }) },
);

/** The upstream address an op names (undefined: off the bus, below 0 or above 49 bits). */
function sepAddress(k: SepBank, o: { edge: number; delta: number; off: number; alias: number }): number | undefined {
  const e = edgesOf(k);
  const edge = e[Math.min(o.edge, e.length - 1)]!;
  const a = edge + o.delta * 4096 + o.off;
  const top = k.sep < 0 ? 2 ** 32 : TWO49;
  if (a < 0 || a >= top) return undefined;
  if (o.alias === 0) return a;
  if (k.sep < 0) return a + 2 ** 32 * (1 + (o.alias % 0xffff));
  if (k.sepBit >= 48) return a;
  // Flip bits sepBit+1 .. 48 chosen by `alias`.
  const width = 48 - k.sepBit;
  const flip = (o.alias % 2 ** width) * 2 ** (k.sepBit + 1);
  return Number(BigInt(a) ^ BigInt(flip));
}

describe('SMMUv2 hot translation path on banks split below bit 48 (SEP, T0SZ/T1SZ, AArch32 TTBR1)', () => {
  it('agrees with the out-of-line path and with the architecture on every region edge', () => {
    const hot = SEP_BANKS.map(() => 0);
    /** Hot hits of inputs at or above 2^32 (a high half that is not 0). */
    const hotHigh = SEP_BANKS.map(() => 0);
    /** Hot hits in TTBR1's region. */
    const hotTtbr1 = SEP_BANKS.map(() => 0);
    const faults = { tf: 0, pf: 0, ok: 0, aliased: 0, region1: 0 };
    fc.assert(
      fc.property(fc.array(sepOpArb, { minLength: 30, maxLength: 150 }), (ops) => {
        const a = buildSep();
        const b = buildSep();
        const sa = a.rig.smmu;
        let slowCalls = 0;
        const slow = sa['translateSlow'];
        sa['translateSlow'] = function (this: SmmuV2, ...args: Parameters<typeof slow>) {
          slowCalls++;
          return slow.apply(this, args);
        } as typeof slow;
        for (const o of ops) {
          if (o.op === 'tlbiasid') {
            for (const r of [a, b]) {
              r.rig.setCb(o.bank, CB.TLBIASID, o.bank + 1);
              r.rig.setCb(o.bank, CB.TLBSYNC, 0);
            }
          } else {
            const k = SEP_BANKS[o.bank]!;
            const addr = sepAddress(k, o);
            if (addr === undefined) continue;
            const sid = 0x10 + o.bank;
            const canon = canonical(k, addr);
            for (const write of o.writes) {
              const slowBefore = slowCalls;
              const outA = slot();
              const okA = sa.translate(sid, addr, write, outA);
              forget(b.rig.smmu);
              const outB = slot();
              const okB = b.rig.smmu.translate(sid, addr, write, outB);
              expect([okB, outB.pa]).toEqual([okA, outA.pa]);
              const region = regionOf(k, addr);
              if (slowCalls === slowBefore) {
                // Served by the hot part: only an input that is its own TLB key.
                expect(canon).toBe(addr);
                hot[o.bank]!++;
                if (addr >= 2 ** 32) hotHigh[o.bank]!++;
                if (region === 1) hotTtbr1[o.bank]!++;
              }
              const fsrA = a.rig.cb(o.bank, CB.FSR);
              const faultBits = fsrA & ~FSR_FORMAT;
              if (region !== undefined) {
                const page = region < 0 ? undefined : a.pages[o.bank]!.get(canon - (canon % 4096));
                if (page === undefined) {
                  expect([okA, faultBits]).toEqual([false, FSR_TF]);
                  faults.tf++;
                } else if (write && page[1]) {
                  expect([okA, faultBits]).toEqual([false, FSR_PF]);
                  faults.pf++;
                } else {
                  expect([okA, outA.pa, faultBits]).toEqual([true, page[0] + (addr % 4096), 0]);
                  faults.ok++;
                  if (canon !== addr) faults.aliased++;
                  if (region === 1) faults.region1++;
                }
                if (!okA) expect(a.rig.cb(o.bank, CB.FAR) + a.rig.cb(o.bank, CB.FAR + 4) * 2 ** 32).toBe(addr);
              }
              expect(b.rig.smmu.stats).toEqual(sa.stats);
              expect(b.rig.smmu['tlb'].tlb.counters()).toEqual(sa['tlb'].tlb.counters());
              expect(b.rig.smmu.walkCacheCounters()).toEqual(sa.walkCacheCounters());
              expect(b.rig.smmu.tlbSize).toBe(sa.tlbSize);
              const regs = (r: V2Rig): number[] => [r.gr0(G.SGFSR), r.cb(o.bank, CB.FSR), r.cb(o.bank, CB.FAR), r.cb(o.bank, CB.FAR + 4), r.cb(o.bank, CB.FSYNR0)];
              expect(regs(b.rig)).toEqual(regs(a.rig));
              // Clear the fault (FSR is write-one-to-clear) so that the next access is judged afresh.
              if (faultBits !== 0) for (const r of [a, b]) r.rig.setCb(o.bank, CB.FSR, fsrA);
            }
          }
        }
      }),
      { numRuns: 150, seed: 0x5e9 },
    );
    // Every judgement was reached, in both regions and through aliases.
    expect(faults.tf).toBeGreaterThan(5000);
    expect(faults.pf).toBeGreaterThan(1000);
    expect(faults.ok).toBeGreaterThan(4000);
    expect(faults.aliased).toBeGreaterThan(1500);
    expect(faults.region1).toBeGreaterThan(2000);
    // The hot part served every bank that has inputs which are their own key (SEP bit 31's
    // limit is 0: the hot part is not used there).
    for (const n of [0, 1, 2, 3, 5, 6, 7]) expect(hot[n]).toBeGreaterThan(60);
    // ... up to each bank's limit: the AArch64 banks' TTBR0 pages near 2^39 / 2^36 (and on the
    // SEP bit 48 bank the TTBR1 pages, whose key is the input) have a high half.
    for (const n of [0, 1, 2, 3, 6]) expect(hotHigh[n]).toBeGreaterThan(20);
    // TTBR1's inputs are their own key where the sign bit is 48 (and in a 32-bit input).
    for (const n of [0, 5, 6]) expect(hotTtbr1[n]).toBeGreaterThan(20);
  });
});
