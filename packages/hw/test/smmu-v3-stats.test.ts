import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { WalkAccess } from '../src/index.js';
import { RAM, S1_PAGE, S2_PAGE, SmmuRig, Tables, cdWords, steS1, writeCd } from '../bench/smmu-v3-setup.js';
import { ASID, CD_IPA, OUT_IPA, S1Tree, SID, VMID, ipaOf, writeNestedSte } from './smmu-v3-nested-helpers.js';

/*
 * `SmmuV3.stats` reads four of its figures through accessors instead of counting them on the
 * miss path: `walks` and `tlbMisses` (the other paths' counts plus the one-step fills) and
 * `tlbEntries` and `tlbFlushes` (the TLB's own live values). Here a small TLB (8 entries,
 * flushed sets) serves a nested stream (pages whose stage-1 leaf is missing, or whose output
 * stage 2 does not map: both fault after the table fetches filled the TLB) and a stage-1
 * stream and a second one (one-step fills, fills whose step was armed for the other stream,
 * walks, hits), with TLBIs between: every translation counts exactly one hit or one miss, a
 * stage-1 miss exactly one walk, and the entries and flushes are the TLB's after every step.
 */

const READ: WalkAccess = { write: false, exec: false, priv: false };
const SID_S1 = 1;
const ASID_S1 = 3;
const SID_S1B = 2; // a second stage-1 stream: the walk cache's step moves between the two
const ASID_S1B = 4;
const IOVA_N = 2 ** 39 + 0x3_0000_0000; // the nested stream's input (48-bit stage 1)
const IOVA_1 = 2 ** 38; // the stage-1 stream's input
const DATA = RAM + 0x800_0000;
const PAGES = 24;

/** Page kinds of the nested stream: 0 maps, 1 has no stage-1 leaf, 2 outputs an IPA stage 2 leaves unmapped. */
const kindOf = (page: number): number => (page % 5 === 3 ? 1 : page % 5 === 4 ? 2 : 0);

function build(): SmmuRig {
  const rig = new SmmuRig(256 << 20, 8);
  const s2 = new Tables(rig, 39);
  const s1 = new S1Tree(rig, s2, 48);
  const cdPa = rig.alloc(4096);
  s2.mapRange(CD_IPA, cdPa, 1, S2_PAGE);
  writeCd(rig, cdPa, cdWords(ipaOf(s1.root), ASID, 48));
  writeNestedSte(rig, SID, s2, true);
  for (let i = 0; i < PAGES; i++) {
    // Pages spread over level-3 tables (one table per 2 MiB), so walks fetch several tables.
    const va = IOVA_N + (i % 4) * 2 ** 21 + i * 4096;
    const k = kindOf(i);
    if (k === 1) s1.leafAddr(va);
    else s1.map(va, OUT_IPA + i * 4096);
    if (k !== 2) s2.mapRange(OUT_IPA + i * 4096, DATA + i * 4096, 1, S2_PAGE);
  }
  const t1 = new Tables(rig, 48);
  t1.mapRange(IOVA_1, DATA, PAGES, S1_PAGE);
  const cd1 = rig.alloc(64, 64);
  writeCd(rig, cd1, cdWords(t1.root, ASID_S1, 48));
  rig.writeSte(SID_S1, steS1(cd1));
  const t1b = new Tables(rig, 48);
  t1b.mapRange(IOVA_1, DATA, PAGES, S1_PAGE);
  const cd1b = rig.alloc(64, 64);
  writeCd(rig, cd1b, cdWords(t1b.root, ASID_S1B, 48));
  rig.writeSte(SID_S1B, steS1(cd1b));
  return rig;
}

type Op = { op: 'nested' | 's1'; page: number; times: number; b: boolean } | { op: 'tlbiN' | 'tlbi1' | 'vmall' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ op: fc.constant('nested' as const), page: fc.nat(PAGES - 1), times: fc.integer({ min: 1, max: 2 }), b: fc.constant(false) }) },
  { weight: 6, arbitrary: fc.record({ op: fc.constant('s1' as const), page: fc.nat(PAGES - 1), times: fc.integer({ min: 1, max: 2 }), b: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constantFrom('tlbiN' as const, 'tlbi1' as const, 'vmall' as const) }) },
);

const KEYS = ['translations', 'walks', 'tlbHits', 'tlbMisses', 'tlbEntries', 'tlbFlushes', 'steFetches', 'cdFetches', 'events', 'eventsLost', 'eventsDropped', 'syncs', 'sevs', 'msiWrites', 'commands'];

describe('SMMUv3 statistics read through accessors', () => {
  it('count one hit or miss per translation and one walk per stage-1 miss, and read the TLB\'s entries and flushes', () => {
    let fills = 0;
    let flushed = 0;
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 20, maxLength: 120 }), (ops) => {
        const rig = build();
        const smmu = rig.smmu;
        const st = smmu.stats;
        expect([st.tlbEntries, st.tlbFlushes]).toEqual([0, 0]);
        for (const o of ops) {
          if (o.op === 'nested' || o.op === 's1') {
            const va = o.op === 'nested' ? IOVA_N + (o.page % 4) * 2 ** 21 + o.page * 4096 + 0x18 : IOVA_1 + o.page * 4096 + 0x18;
            for (let t = 0; t < o.times; t++) {
              const { tlbHits, tlbMisses, walks } = st;
              const out = { pa: -1 };
              const ok = smmu.translate(o.op === 'nested' ? SID : o.b ? SID_S1B : SID_S1, -1, va, READ, out);
              const hit = st.tlbHits > tlbHits;
              // Every translation here reaches the TLB: one hit or one miss.
              expect([st.tlbHits - tlbHits, st.tlbMisses - tlbMisses]).toEqual(hit ? [1, 0] : [0, 1]);
              if (o.op === 's1') {
                expect([ok, out.pa]).toEqual([true, DATA + o.page * 4096 + 0x18]);
                expect(st.walks - walks).toBe(hit ? 0 : 1);
              } else {
                expect(ok).toBe(kindOf(o.page) === 0);
                if (ok) expect(out.pa).toBe(DATA + o.page * 4096 + 0x18);
                if (!hit) expect(st.walks - walks).toBeGreaterThanOrEqual(1);
              }
              if (ok && !hit) fills++;
            }
          } else {
            if (o.op === 'tlbiN') rig.tlbiAsid(ASID);
            else if (o.op === 'tlbi1') {
              rig.tlbiAsid(ASID_S1);
              rig.tlbiAsid(ASID_S1B);
            } else rig.tlbiVmid(VMID);
          }
          const c = smmu.tlbCounters()!;
          expect([st.tlbEntries, st.tlbFlushes]).toEqual([c.entries, c.flushes]);
        }
        if (st.tlbFlushes > 0) flushed++;
        // Own enumerable data, in the order the interface gives (as printed, spread, cloned).
        expect(Object.keys(st)).toEqual(KEYS);
        const copy = { ...st };
        expect(JSON.parse(JSON.stringify(st))).toEqual(copy);
        expect([copy.tlbEntries, copy.tlbFlushes, copy.walks, copy.tlbMisses]).toEqual([st.tlbEntries, st.tlbFlushes, st.walks, st.tlbMisses]);
      }),
      { numRuns: 120 },
    );
    // Fills were many, and the small TLB was emptied to make room in many runs.
    expect(fills).toBeGreaterThan(2000);
    expect(flushed).toBeGreaterThan(20);
  });

  it('keeps written counts counting from the value written; the TLB figures are read-only', () => {
    const rig = build();
    const st = rig.smmu.stats;
    const out = { pa: -1 };
    expect(rig.smmu.translate(SID_S1, -1, IOVA_1, READ, out)).toBe(true);
    expect([st.tlbEntries, st.walks, st.tlbMisses]).toEqual([1, 1, 1]);
    st.walks = 40;
    st.tlbMisses = 0;
    expect(rig.smmu.translate(SID_S1, -1, IOVA_1, READ, out)).toBe(true); // a hit
    expect([st.tlbEntries, st.walks, st.tlbMisses, st.tlbHits]).toEqual([1, 40, 0, 1]);
    expect(rig.smmu.translate(SID_S1, -1, IOVA_1 + 4096, READ, out)).toBe(true); // a miss
    expect([st.tlbEntries, st.walks, st.tlbMisses]).toEqual([2, 41, 1]);
    expect(() => {
      (st as { tlbEntries: number }).tlbEntries = 100;
    }).toThrow(TypeError);
    expect(st.tlbEntries).toBe(2);
  });
});
