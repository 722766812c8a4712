/**
 * SMMUv3 model throughput: `SmmuV3.translate` on TLB hits and on TLB misses (a full table walk
 * per translation), for stage 1 (48-bit, 4 levels), stage 2 (39-bit IPA, 3 levels) and nested
 * (both walks per miss), over 64 MiB of 4 KiB pages; and DmaMaster copy throughput through the
 * SMMU. The tables are written into PhysMem by hand and the SMMU is programmed through MMIO
 * (bench/smmu-v3-setup.ts), so the model sees what a driver would give it.
 *
 * Every case is checked once, untimed, before it is measured: the sum of the output addresses
 * must match the mapping, and the SMMU's counters must show the expected hits, misses and walks
 * (so a "miss" row really walks every time and a "hit" row never does). The allocation probe
 * reports heap bytes allocated per operation, measured with no GC in between.
 */
import { DMA_STATUS_DONE, DmaMaster, SetTlb, Tlb, type SmmuTranslation, type SmmuV3, type WalkAccess } from '@gki/hw';
import { allocPerOp, figures, newBench, type BenchRow } from './harness.js';
import { RAM, S1_PAGE, S2_PAGE, SmmuRig, Tables, cdWords, steNested, steS1, steS2, writeCd } from './smmu-v3-setup.js';

/** 64 MiB of 4 KiB pages: exactly the model's default TLB capacity (16384 entries). */
const PAGES = 16384;
/** Translations per sample in the small-working-set hit rows. */
const HIT_OPS = 65536;
const TLB_CAPACITY = 4 * PAGES;
const HOT_PAGES = 64;
const COPY_BYTES = 1 << 20;

const IOVA = 2 ** 39; // stage-1 input addresses (above 2^32 and the 39-bit boundary)
const IPA = 2 ** 36; // stage-2 input addresses (stage-2 case) / stage-1 output (nested case)
const DATA = RAM + 0x800_0000; // output PAs (above 2^31)

const SID_S1 = 1;
const SID_S2 = 2;
const SID_NESTED = 3;
/**
 * Stage-1 tables a nested sweep reads (root, level 1, level 2 and one level-3 table per 2 MiB):
 * each costs one stage-2 walk of its IPA per sample, later fetches hit that TLB entry.
 */
const NESTED_S1_TABLES = 3 + PAGES / 512;
const ASID = 1;
const VMID_S2 = 2;
const VMID_NESTED = 3;

interface Setup {
  rig: SmmuRig;
  /** Stage 1 only, on an SMMU without a walk cache (every miss walks every level). */
  cold: SmmuRig;
}

function build(): Setup {
  // Room for all three translation regimes' 64 MiB at once, so that no case evicts another's
  // entries: 16384 sets of 4 ways, each context's 16384 contiguous pages take one way of every
  // set (the model empties a full set on the next fill into it).
  const rig = new SmmuRig(256 << 20, TLB_CAPACITY);

  // Stage 1: 48-bit input, start level 0, IOVA -> DATA.
  const s1 = new Tables(rig, 48);
  s1.mapRange(IOVA, DATA, PAGES, S1_PAGE);
  const cd = rig.alloc(64, 64);
  writeCd(rig, cd, cdWords(s1.root, ASID, 48));
  rig.writeSte(SID_S1, steS1(cd));

  // Stage 2: 39-bit IPA, start level 1, IPA -> DATA.
  const s2 = new Tables(rig, 39);
  s2.mapRange(IPA, DATA, PAGES, S2_PAGE);
  rig.writeSte(SID_S2, steS2(VMID_S2, s2.root));

  // Nested: stage 1 IOVA -> IPA, stage 2 IPA -> DATA. The CD pointer and every stage-1 table
  // address are IPAs, so stage 2 also maps the CD page, the stage-1 root (at another IPA) and
  // the stage-1 next-level tables (at their own addresses).
  const n2 = new Tables(rig, 39);
  const n1 = new Tables(rig, 48);
  n1.mapRange(IOVA, IPA, PAGES, S1_PAGE);
  n2.mapRange(IPA, DATA, PAGES, S2_PAGE);
  for (const t of n1.tables) n2.mapRange(t, t, 1, S2_PAGE);
  const cdPa = rig.alloc(4096);
  const cdIpa = 0x70_0000_0000;
  const ttbIpa = cdIpa + 0x1_0000;
  n2.mapRange(cdIpa, cdPa, 1, S2_PAGE);
  n2.mapRange(ttbIpa, n1.root, 1, S2_PAGE);
  writeCd(rig, cdPa, cdWords(ttbIpa, ASID, 48));
  rig.writeSte(SID_NESTED, steNested(cdIpa, VMID_NESTED, n2.root));

  const cold = new SmmuRig(96 << 20, TLB_CAPACITY, false);
  const c1 = new Tables(cold, 48);
  c1.mapRange(IOVA, DATA, PAGES, S1_PAGE);
  const ccd = cold.alloc(64, 64);
  writeCd(cold, ccd, cdWords(c1.root, ASID, 48));
  cold.writeSte(SID_S1, steS1(ccd));
  return { rig, cold };
}

const READ: WalkAccess = { write: false, exec: false, priv: false };
const out: SmmuTranslation = { pa: -1 };

/**
 * One translation of each of `PAGES` pages from `base` (offset 0x10 into each page).
 *
 * The loops below take the SMMU itself, not the rig: nothing runs before a loop that needs
 * type feedback (a property load such as `rig.smmu` did). Such a load runs once per call, the
 * first time before V8 has given the function a feedback vector (it does so lazily, during
 * the loop), so the function's optimized code could be compiled, concurrently with the next
 * call, before that call recorded the load: the code then deoptimized on entry ("insufficient
 * type feedback", bytecode offset 0) and the loop, called once per sample, ran in baseline code
 * for the rest of the row (17 ns and 4 heap numbers per translation: V8's "slow mode" of
 * these rows, in one process out of three or four).
 */
function sweep(smmu: SmmuV3, sid: number, base: number): number {
  let acc = 0;
  for (let i = 0; i < PAGES; i++) {
    if (!smmu.translate(sid, -1, base + i * 4096 + 0x10, READ, out)) throw new Error(`translate failed at page ${i}`);
    acc += out.pa;
  }
  return acc;
}

/**
 * `sweep` for the rig without a walk cache: its own copy, so that each loop's call site sees
 * one SMMU (a call site that sees two gets slower and boxes the address on other rows).
 */
function sweepCold(smmu: SmmuV3, sid: number, base: number): number {
  let acc = 0;
  for (let i = 0; i < PAGES; i++) {
    if (!smmu.translate(sid, -1, base + i * 4096 + 0x10, READ, out)) throw new Error(`translate failed at page ${i}`);
    acc += out.pa;
  }
  return acc;
}

/** `HIT_OPS` translations cycling over the first `HOT_PAGES` pages. */
function hot(smmu: SmmuV3, sid: number, base: number): number {
  let acc = 0;
  for (let i = 0; i < HIT_OPS; i++) {
    if (!smmu.translate(sid, -1, base + (i % HOT_PAGES) * 4096 + 0x10, READ, out)) throw new Error('translate failed');
    acc += out.pa;
  }
  return acc;
}

const sumSweep = PAGES * (DATA + 0x10) + (4096 * PAGES * (PAGES - 1)) / 2;
const sumHot = (HIT_OPS / HOT_PAGES) * (HOT_PAGES * (DATA + 0x10) + (4096 * HOT_PAGES * (HOT_PAGES - 1)) / 2);

interface Case {
  id: string;
  group: string;
  name: string;
  vs?: string;
  goal?: number;
  ops: number;
  run: () => number;
  /** Untimed, before every sample. */
  before?: () => void;
  expectSum: number;
  /** Expected counter deltas over one sample. */
  hits: number;
  misses: number;
  walks: number;
  /** The rig the case runs on (default: the main one). */
  on?: SmmuRig;
}

export function smmuV3Bench(runs: number): BenchRow[] {
  const { rig, cold } = build();
  const smmu = rig.smmu;
  const coldSmmu = cold.smmu;
  const flushS1 = () => rig.tlbiAsid(ASID);
  const flushCold = () => cold.tlbiAsid(ASID);
  const flushS2 = () => rig.tlbiVmid(VMID_S2);
  const flushNested = () => rig.tlbiVmid(VMID_NESTED);
  // The yardsticks of the hit rows, same loop shape and keys: a bare Map.get of the page
  // number (what a model's hash lookup cannot beat), and the shared TLBs' lookups by themselves
  // (SetTlb is what the models use; Tlb, the hashed one, is what the walk cache is built on).
  const bare = new Map<number, number>();
  for (let i = 0; i < HOT_PAGES; i++) bare.set(IOVA / 4096 + i, DATA + i * 4096);
  const hotMap = (): number => {
    let acc = 0;
    for (let i = 0; i < HIT_OPS; i++) {
      const va = IOVA + (i % HOT_PAGES) * 4096 + 0x10;
      const pa = bare.get(Math.floor(va / 4096));
      if (pa === undefined) throw new Error('Map.get missed');
      acc += pa + (va % 4096);
    }
    return acc;
  };
  const tlb = new Tlb({ capacity: 1024 });
  const ctx = tlb.context(0, ASID);
  for (let i = 0; i < HOT_PAGES; i++) tlb.insert(ctx, IOVA + i * 4096, 12, DATA + i * 4096, 0x3f);
  const hotTlb = (): number => {
    let acc = 0;
    for (let i = 0; i < HIT_OPS; i++) {
      const va = IOVA + (i % HOT_PAGES) * 4096 + 0x10;
      const e = tlb.lookup(ctx, va);
      if (e < 0) throw new Error('Tlb.lookup missed');
      acc += tlb.output(e, va);
    }
    return acc;
  };
  const stlb = new SetTlb({ capacity: 1024 });
  const sctx = stlb.context(0, ASID);
  for (let i = 0; i < HOT_PAGES; i++) stlb.insert(sctx, IOVA + i * 4096, 12, DATA + i * 4096, 0x3f);
  const hotSetTlb = (): number => {
    let acc = 0;
    for (let i = 0; i < HIT_OPS; i++) {
      const va = IOVA + (i % HOT_PAGES) * 4096 + 0x10;
      const e = stlb.lookup(sctx, va);
      if (e < 0) throw new Error('SetTlb.lookup missed');
      acc += stlb.output(e, va);
    }
    return acc;
  };
  const S1 = 'stage 1 (48-bit, 4 levels)';
  const cases: Case[] = [
    { id: 'yardstick.map-get', group: 'yardsticks (same loop, same 64 keys)', name: 'bare Map.get(page number) -> PA', ops: HIT_OPS, run: hotMap, expectSum: sumHot, hits: 0, misses: 0, walks: 0 },
    { id: 'yardstick.tlb-lookup', group: 'yardsticks (same loop, same 64 keys)', name: 'Tlb.lookup + Tlb.output (the hashed TLB alone, under the walk cache)', ops: HIT_OPS, run: hotTlb, expectSum: sumHot, hits: 0, misses: 0, walks: 0, vs: 'yardstick.map-get', goal: 2 },
    { id: 'yardstick.settlb-lookup', group: 'yardsticks (same loop, same 64 keys)', name: 'SetTlb.lookup + SetTlb.output (the models\' fast path alone)', ops: HIT_OPS, run: hotSetTlb, expectSum: sumHot, hits: 0, misses: 0, walks: 0, vs: 'yardstick.map-get', goal: 2 },
    { id: 's1.hit', group: S1, name: 'TLB hit, 64-page working set', ops: HIT_OPS, run: () => hot(smmu, SID_S1, IOVA), expectSum: sumHot, hits: HIT_OPS, misses: 0, walks: 0, vs: 'yardstick.map-get', goal: 2 },
    { id: 's1.hit-16k', group: S1, name: 'TLB hit, 64 MiB working set (16384 entries)', ops: PAGES, run: () => sweep(smmu, SID_S1, IOVA), expectSum: sumSweep, hits: PAGES, misses: 0, walks: 0 },
    { id: 's1.miss', group: S1, name: 'TLB miss (TLBI_NH_ASID before each sample: one 4-level walk per 2 MiB, the rest resume at the cached level-3 table)', ops: PAGES, run: () => sweep(smmu, SID_S1, IOVA), before: flushS1, expectSum: sumSweep, hits: 0, misses: PAGES, walks: PAGES },
    { id: 's1.miss-cold', group: S1, name: 'TLB miss, no walk cache (a 4-level walk every time)', ops: PAGES, run: () => sweepCold(coldSmmu, SID_S1, IOVA), before: flushCold, expectSum: sumSweep, hits: 0, misses: PAGES, walks: PAGES, on: cold },
    { id: 's2.hit', group: 'stage 2 (39-bit IPA, 3 levels)', name: 'TLB hit, 64-page working set', ops: HIT_OPS, run: () => hot(smmu, SID_S2, IPA), expectSum: sumHot, hits: HIT_OPS, misses: 0, walks: 0, vs: 'yardstick.map-get', goal: 2 },
    { id: 's2.miss', group: 'stage 2 (39-bit IPA, 3 levels)', name: 'TLB miss, 3-level walk (TLBI_S12_VMALL before each sample)', ops: PAGES, run: () => sweep(smmu, SID_S2, IPA), before: flushS2, expectSum: sumSweep, hits: 0, misses: PAGES, walks: PAGES },
    { id: 'nested.hit', group: 'nested (S1 4 levels over S2 3 levels)', name: 'TLB hit, 64-page working set', ops: HIT_OPS, run: () => hot(smmu, SID_NESTED, IOVA), expectSum: sumHot, hits: HIT_OPS, misses: 0, walks: 0, vs: 'yardstick.map-get', goal: 2 },
    { id: 'nested.miss', group: 'nested (S1 4 levels over S2 3 levels)', name: 'TLB miss, S1 + S2 walk (TLBI_S12_VMALL before each sample; S1 tables fetched through S2; both walks resume at cached level-3 tables)', ops: PAGES, run: () => sweep(smmu, SID_NESTED, IOVA), before: flushNested, expectSum: sumSweep, hits: 0, misses: PAGES, walks: 2 * PAGES + NESTED_S1_TABLES },
  ];

  // Check every case once (warming the TLB for the hit rows), untimed.
  for (const c of cases) {
    c.before?.();
    if (c.hits > 0) c.run();
    const st = (c.on ?? rig).smmu.stats;
    const [h, m, w] = [st.tlbHits, st.tlbMisses, st.walks];
    const sum = c.run();
    if (sum !== c.expectSum) throw new Error(`${c.group} / ${c.name}: output addresses sum to ${sum}, expected ${c.expectSum}`);
    const got = [st.tlbHits - h, st.tlbMisses - m, st.walks - w];
    if (got.join() !== [c.hits, c.misses, c.walks].join()) throw new Error(`${c.group} / ${c.name}: hits/misses/walks ${got.join('/')}, expected ${c.hits}/${c.misses}/${c.walks}`);
    if (st.tlbFlushes !== 0) throw new Error('the TLB filled up and was emptied');
  }
  if (smmu.walkCacheCounters()!.hits === 0 || cold.smmu.walkCacheEnabled) throw new Error('walk cache rows are not what they say');

  // DMA copies through stage 1: 1 MiB from IOVA to IOVA + 1 MiB, checked once.
  const dma = new DmaMaster(rig.mem, { streamId: SID_S1 });
  smmu.attachMaster(dma);
  const phys = new DmaMaster(rig.mem, { streamId: 99 }); // not attached: bus addresses are PAs
  rig.mem.write32(DATA + 0x100, 0x1234_5678);
  if (dma.copy(IOVA, IOVA + COPY_BYTES, COPY_BYTES) !== DMA_STATUS_DONE || rig.mem.read32(DATA + COPY_BYTES + 0x100) !== 0x1234_5678) throw new Error('DMA copy through the SMMU failed');
  const copy = (m: DmaMaster, src: number) => () => {
    if (m.copy(src, src + COPY_BYTES, COPY_BYTES) !== DMA_STATUS_DONE) throw new Error('DMA copy failed');
  };
  const copyCases: { id: string; name: string; run: () => void; before?: () => void; vs?: string; goal?: number }[] = [
    { id: 'dma.warm', name: 'DMA copy 1 MiB through stage 1, TLB warm', run: copy(dma, IOVA), vs: 'dma.direct', goal: 1.25 },
    { id: 'dma.cold', name: 'DMA copy 1 MiB through stage 1, TLB cold (TLBI before each sample)', run: copy(dma, IOVA), before: flushS1, vs: 'dma.direct' },
    { id: 'dma.direct', name: 'DMA copy 1 MiB, no SMMU (bus addresses are PAs)', run: copy(phys, DATA) },
  ];

  // Every sample, timed or warm-up, is checked too: a hit row that missed (or a miss row that
  // hit) would make its figure meaningless.
  const mark = [0, 0, 0];
  const bench = newBench(runs);
  for (const c of cases) {
    const st = (c.on ?? rig).smmu.stats;
    bench.add(`${c.group}|${c.name}`, c.run, {
      beforeAll: () => void (c.hits > 0 && c.run()),
      beforeEach: () => {
        c.before?.();
        mark.splice(0, 3, st.tlbHits, st.tlbMisses, st.walks);
      },
      afterEach: () => {
        const got = [st.tlbHits - mark[0]!, st.tlbMisses - mark[1]!, st.walks - mark[2]!];
        if (got.join() !== [c.hits, c.misses, c.walks].join()) throw new Error(`${c.group} / ${c.name}: a sample saw hits/misses/walks ${got.join('/')}`);
      },
    });
  }
  for (const c of copyCases) bench.add(`copy|${c.name}`, c.run, c.before ? { beforeEach: c.before } : {});
  bench.runSync();

  const rows: BenchRow[] = [];
  for (const t of bench.tasks) {
    const [group, name] = t.name.split('|') as [string, string];
    const c = cases.find((x) => x.group === group && x.name === name);
    if (c) {
      const label = c.id.startsWith('yardstick') ? group : `SMMUv3 ${group}`;
      rows.push({ id: c.id, group: label, case: name, ...figures(t, (ms) => (ms * 1e6) / c.ops), unit: 'ns/translation', alloc: allocPerOp(c.run, c.ops, c.before ?? c.run), ...(c.vs ? { vs: c.vs, goal: c.goal } : {}) });
    } else {
      const cc = copyCases.find((x) => x.name === name)!;
      rows.push({ id: cc.id, group: 'SMMUv3 DmaMaster copy (1 MiB = 256 source + 256 destination pieces)', case: name, ...figures(t, (ms) => ms * 1e3), unit: 'us/MiB', alloc: allocPerOp(cc.run, 1, cc.before ?? cc.run), ...(cc.vs ? { vs: cc.vs, goal: cc.goal } : {}) });
    }
  }
  return rows;
}
