import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CR0_CMDQEN, CR0_EVTQEN, CR0_SMMUEN, SMMU_CR0, SMMU_EVTQ_PROD, type WalkAccess } from '../src/index.js';
import { RAM, S1_PAGE, S2_PAGE, SmmuRig, Tables, cdWords, steS1, steS2, writeCd } from '../bench/smmu-v3-setup.js';

/*
 * `SmmuV3.translateParts` does a TLB hit of the remembered stream in a small inlinable part
 * and everything else out of line (`translateSlow`). Two identical rigs run the same random
 * sequence of translations and commands; before each translation, rig `b` translates once on
 * a spare bypass stream, so that its every translation starts out of line with a stream
 * change (and then goes on in the hot part), while rig `a` takes the hot part whenever it can
 * (one stream after another). Both must give
 * the same answers (stage-1 data accesses also as the AP bits of the pages say), the same
 * statistics (but `b`'s extra bypass translations), the same TLB
 * and walk-cache counters and the same events, through hits, permission failures on hits,
 * one-step fills, walks, faults, contexts holding 4 KiB pages and a 2 MiB block (the probe
 * for one block size declines those), bad SubstreamIDs, bypass and abort streams, TLBIs, and
 * SMMUEN turned off (GBPA: bypass) and on again.
 */

const IOVA = 2 ** 39;
const IPA = 2 ** 36;
const DATA = RAM + 0x800_0000;
const BLOCK = RAM + 0xa00_0000; // 2 MiB aligned
const PAGES = 16;
const SID_S1 = 1;
const SID_S2 = 2;
const SID_BYPASS = 3;
const SID_ABORT = 4;
const SID_SPARE = 5;
const ASID = 1;
const VMID = 2;

/** Leaf attributes by page: RW, read-only, never executable, privileged-only. */
function s1Attrs(i: number): bigint {
  const k = i % 4;
  return k === 0 ? S1_PAGE : k === 1 ? S1_PAGE | (1n << 7n) : k === 2 ? S1_PAGE | (1n << 53n) | (1n << 54n) : S1_PAGE & ~(1n << 6n);
}

/** Writes a 2 MiB block at the level-2 slot of `va` in a 4K tree (replacing what was there). */
function blockAt(rig: SmmuRig, t: Tables, va: number, pa: number, attrs: bigint): void {
  let table = t.root;
  for (let level = t.startLevel; level < 2; level++) {
    const shift = 12 + 9 * (3 - level);
    table = Number(rig.mem.read64(table + (Math.floor(va / 2 ** shift) % 512) * 8) & 0x0000_ffff_ffff_f000n);
  }
  rig.mem.write64(table + (Math.floor(va / 2 ** 21) % 512) * 8, BigInt(pa) | (attrs & ~2n));
}

function build(): { rig: SmmuRig; s1: Tables } {
  const rig = new SmmuRig(64 << 20);
  const s1 = new Tables(rig, 48);
  for (let i = 0; i < PAGES; i++) s1.mapRange(IOVA + i * 4096, DATA + i * 4096, 1, s1Attrs(i));
  // A 2 MiB block next to the pages (its level-2 slot built through a page mapping first).
  s1.mapRange(IOVA + 2 ** 21, DATA, 1, S1_PAGE);
  blockAt(rig, s1, IOVA + 2 ** 21, BLOCK, S1_PAGE);
  const cd = rig.alloc(64, 64);
  writeCd(rig, cd, cdWords(s1.root, ASID, 48));
  rig.writeSte(SID_S1, steS1(cd));
  const s2 = new Tables(rig, 39);
  for (let i = 0; i < PAGES; i++) s2.mapRange(IPA + i * 4096, DATA + i * 4096, 1, i % 3 === 1 ? S2_PAGE & ~(1n << 7n) : S2_PAGE); // some without write (S2AP)
  rig.writeSte(SID_S2, steS2(VMID, s2.root));
  rig.writeSte(SID_BYPASS, [1n | (4n << 1n), 0n, 0n, 0n]);
  rig.writeSte(SID_ABORT, [1n, 0n, 0n, 0n]);
  rig.writeSte(SID_SPARE, [1n | (4n << 1n), 0n, 0n, 0n]);
  return { rig, s1 };
}

type Op =
  | { op: 'tr'; sid: number; ssid: number; page: number; big: boolean; off: number; accesses: WalkAccess[] }
  | { op: 'tlbi' | 'vmall' | 'off' | 'on' | 'rewrite'; page: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 30,
    arbitrary: fc.record({
      op: fc.constant('tr' as const),
      sid: fc.oneof({ weight: 12, arbitrary: fc.constant(SID_S1) }, { weight: 4, arbitrary: fc.constant(SID_S2) }, { weight: 1, arbitrary: fc.constantFrom(SID_BYPASS, SID_ABORT) }),
      ssid: fc.oneof({ weight: 20, arbitrary: fc.constant(-1) }, { weight: 1, arbitrary: fc.constantFrom(0, 1) }),
      page: fc.nat(PAGES + 1), // two unmapped pages: translation faults
      big: fc.boolean(),
      off: fc.nat(4095),
      // The same input one to four times in a row (a fill, then hits), with any access types.
      accesses: fc.array(fc.record({ write: fc.boolean(), exec: fc.boolean(), priv: fc.boolean() }), { minLength: 1, maxLength: 4 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constantFrom('tlbi' as const, 'vmall' as const, 'off' as const, 'on' as const, 'rewrite' as const), page: fc.nat(PAGES - 1) }) },
);

describe('SMMUv3 hot translation path against the out-of-line path', () => {
  it('gives the same answers, statistics, TLB contents and events', () => {
    let hot = 0;
    let outOfLine = 0;
    let oneStageMisses = 0;
    let checked = 0;
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 50, maxLength: 250 }), (ops) => {
        const a = build();
        const b = build();
        const spare = { pa: -1 };
        const READ: WalkAccess = { write: false, exec: false, priv: false };
        for (const r of [a, b]) r.rig.smmu.translate(SID_SPARE, -1, 0, READ, spare); // fetch its STE in both
        let extras = 0;
        let last = '';
        let enabled = true;
        const rewritten = new Set<number>();
        for (const o of ops) {
          if (o.op === 'tr') {
            const base = o.sid === SID_S2 ? IPA : IOVA;
            const va = (o.big && o.sid === SID_S1 ? base + 2 ** 21 + o.page * 4096 : base + o.page * 4096) + o.off;
            for (const access of o.accesses) {
              const hitsBefore = a.rig.smmu.stats.tlbHits;
              const { walks, tlbMisses } = a.rig.smmu.stats;
              const outA = { pa: -1 };
              const okA = a.rig.smmu.translate(o.sid, o.ssid, va, access, outA);
              // A translated miss of a one-stage stream is one TLB miss and one walk, whichever
              // path served it (the one-step fill, the step armed on the way, the walker).
              if (okA && enabled && o.ssid === -1 && (o.sid === SID_S1 || o.sid === SID_S2) && a.rig.smmu.stats.tlbHits === hitsBefore) {
                expect([a.rig.smmu.stats.walks - walks, a.rig.smmu.stats.tlbMisses - tlbMisses]).toEqual([1, 1]);
                oneStageMisses++;
              }
              b.rig.smmu.translate(SID_SPARE, -1, 0, READ, spare);
              extras++;
              const outB = { pa: -1 };
              const okB = b.rig.smmu.translate(o.sid, o.ssid, va, access, outB);
              expect([okB, outB.pa]).toEqual([okA, outA.pa]);
              // Against the AP table (stage 1, data accesses, pages as built): AP[2:1] 01 RW at
              // both levels, 11 read-only at both, 00 RW privileged only; XN does not matter.
              if (enabled && o.sid === SID_S1 && o.ssid === -1 && !o.big && !access.exec && o.page < PAGES && !rewritten.has(o.page)) {
                const k = o.page % 4;
                const want = k === 1 ? !access.write : k === 3 ? access.priv : true;
                expect(okA).toBe(want);
                if (want) expect(outA.pa).toBe(DATA + o.page * 4096 + o.off);
                checked++;
              }
              // A hit on the stream translated last went through the hot part alone.
              if (a.rig.smmu.stats.tlbHits > hitsBefore && last === `${o.sid}/${o.ssid}`) hot++;
              else outOfLine++;
              last = `${o.sid}/${o.ssid}`;
            }
          } else if (o.op === 'tlbi') {
            for (const r of [a, b]) r.rig.tlbiAsid(ASID);
          } else if (o.op === 'vmall') {
            for (const r of [a, b]) r.rig.tlbiVmid(VMID);
          } else if (o.op === 'off' || o.op === 'on') {
            const v = CR0_CMDQEN | CR0_EVTQEN | (o.op === 'on' ? CR0_SMMUEN : 0);
            for (const r of [a, b]) r.rig.smmu.write32(SMMU_CR0, v);
            last = '';
            enabled = o.op === 'on';
          } else {
            // A page made read-only behind the TLB's back (no TLBI): a stale entry stays usable.
            for (const r of [a, b]) r.s1.mapRange(IOVA + o.page * 4096, DATA + o.page * 4096, 1, s1Attrs(o.page) | (1n << 7n));
            rewritten.add(o.page);
          }
          const sa = a.rig.smmu.stats;
          const sb = b.rig.smmu.stats;
          expect({ ...sb, translations: sb.translations - extras, commands: undefined }).toEqual({ ...sa, commands: undefined });
          expect(b.rig.smmu.tlbCounters()).toEqual(a.rig.smmu.tlbCounters());
          expect(b.rig.smmu.walkCacheCounters()).toEqual(a.rig.smmu.walkCacheCounters());
          expect(b.rig.smmu.read32(SMMU_EVTQ_PROD)).toBe(a.rig.smmu.read32(SMMU_EVTQ_PROD));
        }
      }),
      { numRuns: 100 },
    );
    // Both paths were exercised in `a` (hits in the hot part; misses, faults, other streams).
    expect(hot).toBeGreaterThan(300);
    expect(outOfLine).toBeGreaterThan(2000);
    expect(checked).toBeGreaterThan(300);
    expect(oneStageMisses).toBeGreaterThan(1000);
  });

  it('forgets the remembered stream when SMMUEN goes off and on (GBPA decides while it is off)', () => {
    const { rig } = build();
    const out = { pa: -1 };
    const READ: WalkAccess = { write: false, exec: false, priv: false };
    expect(rig.smmu.translate(SID_S1, -1, IOVA + 0x10, READ, out)).toBe(true);
    expect(out.pa).toBe(DATA + 0x10);
    expect(rig.smmu.translate(SID_S1, -1, IOVA + 0x10, READ, out)).toBe(true); // a hit
    rig.smmu.write32(SMMU_CR0, CR0_CMDQEN | CR0_EVTQEN);
    expect(rig.smmu.translate(SID_S1, -1, IOVA + 0x10, READ, out)).toBe(true);
    expect(out.pa).toBe(IOVA + 0x10); // GBPA: bypass
    rig.smmu.write32(SMMU_CR0, CR0_CMDQEN | CR0_EVTQEN | CR0_SMMUEN);
    expect(rig.smmu.translate(SID_S1, -1, IOVA + 0x10, READ, out)).toBe(true);
    expect(out.pa).toBe(DATA + 0x10);
    expect(rig.smmu.stats).toMatchObject({ translations: 4, tlbHits: 2 });
  });
});
