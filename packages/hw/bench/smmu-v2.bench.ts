/**
 * SMMUv2 model throughput: `SmmuV2.translate` on TLB hits and on TLB misses (a full table walk
 * per translation) for each context format: AArch64 stage 1 (48-bit, 4 levels), AArch32
 * long-descriptor stage 1 (3 levels), AArch32 short descriptor (2 levels), AArch64 stage 2
 * (39-bit IPA, 3 levels) and nested; over 16 MiB of 4 KiB pages; plus DmaMaster copies
 * through stage 1. The SMMU is programmed through MMIO and the tables are written by the
 * test-side descriptor writers (test/smmu-v2-helpers.ts), as a driver would.
 *
 * Every case is checked once untimed and every sample afterwards: the output addresses must sum
 * to the mapping's, and the model's counters must show exactly the expected hits and misses
 * (a hit row never walks, a miss row walks every time).
 */
import { DMA_STATUS_DONE, DmaMaster } from '@gki/hw';
import { CB, DATA_BASE, G, LpaeTables, MAIR0, S1_ATTR, S2_ATTR, SCTLR_AFE, SCTLR_CFIE, SCTLR_CFRE, SCTLR_M, SCTLR_TRE, V2Rig, V7sTables } from '../test/smmu-v2-helpers.js';
import { allocPerOp, figures, newBench, type BenchRow } from './harness.js';

const PAGES = 4096; // 16 MiB
const HIT_OPS = 65536;
const HOT_PAGES = 64;
const COPY_BYTES = 1 << 20;
const S1_ON = SCTLR_M | SCTLR_TRE | SCTLR_AFE | SCTLR_CFRE | SCTLR_CFIE;

const VA64 = 2 ** 39; // AArch64 stage-1 inputs (above 2^32)
const VA32 = 0x4000_0000; // AArch32 inputs
const IPA = 2 ** 36; // stage-2 inputs / nested stage-1 outputs

interface Case {
  group: string;
  name: string;
  ops: number;
  run: () => number;
  before?: () => void;
  expectSum: number;
  hits: number;
  misses: number;
}

function build(): { rig: V2Rig; cases: Case[]; copy: () => void; copyCold: () => void } {
  const rig = new V2Rig({ numCb: 8 }, { tlbCapacity: 8 * PAGES });
  const { smmu } = rig;
  const out = { pa: 0, stalled: false, sink: false };
  rig.enable();
  // StreamIDs 1..5 -> banks 0..4.
  for (let i = 0; i < 5; i++) rig.stream(i, i + 1, 0, i);

  // Bank 0: AArch64 S1, 48-bit, ASID 1.
  const a64 = new LpaeTables(rig, 12, 0);
  rig.s1Aarch64(0, { ttbr0: a64.root, asid: 1 });
  for (let i = 0; i < PAGES; i++) a64.map(VA64 + i * 4096, DATA_BASE + i * 4096, S1_ATTR);

  // Bank 1: AArch32 LPAE S1, T0SZ 0, ASID 2.
  const l32 = new LpaeTables(rig, 12, 1, 32);
  rig.bank(1, 1, 0, false);
  rig.setCb(1, CB.TCR, ((1 << 31) | (1 << 23) | (3 << 12) | (1 << 10) | (1 << 8)) >>> 0);
  rig.setCb64(1, CB.TTBR0, BigInt(l32.root) | (2n << 48n));
  rig.setCb(1, CB.MAIR0, MAIR0);
  rig.setCb(1, CB.SCTLR, S1_ON);
  for (let i = 0; i < PAGES; i++) l32.map(VA32 + i * 4096, DATA_BASE + i * 4096, S1_ATTR, 0, 3, 2);

  // Bank 2: AArch32 short descriptor, ASID 3.
  const v7s = new V7sTables(rig);
  rig.bank(2, 1, 0, false);
  rig.setCb(2, CB.TTBR0, v7s.root);
  rig.setCb(2, CB.CONTEXTIDR, 3);
  rig.setCb(2, CB.SCTLR, S1_ON);
  for (let i = 0; i < PAGES; i++) v7s.mapSmall(VA32 + i * 4096, DATA_BASE + i * 4096);

  // Bank 3: AArch64 S2, 39-bit IPA, VMID 4.
  const s2 = new LpaeTables(rig, 12, 1);
  rig.s2Aarch64(3, { vttbr: s2.root, vmid: 4 });
  for (let i = 0; i < PAGES; i++) s2.map(IPA + i * 4096, DATA_BASE + i * 4096, S2_ATTR);

  // Bank 4: nested stage 1 (AArch64, ASID 5) over bank 5 (stage 2, VMID 6); stage-1 tables at
  // IPA = PA - DELTA, mapped by stage 2.
  const DELTA = 0x1000_0000;
  const n1 = new LpaeTables(rig, 12, 0, 4096, DELTA);
  const n2 = new LpaeTables(rig, 12, 1);
  rig.s2Aarch64(5, { vttbr: n2.root, vmid: 6 });
  rig.bank(4, 3, 5, true);
  rig.setCb(4, CB.TCR2, 5 | (1 << 4) | (7 << 15));
  rig.setCb(4, CB.TCR, (16 | (1 << 8) | (1 << 10) | (3 << 12) | (1 << 23)) >>> 0);
  rig.setCb64(4, CB.TTBR0, BigInt(n1.base) | (5n << 48n));
  rig.setCb(4, CB.MAIR0, MAIR0);
  rig.setCb(4, CB.SCTLR, S1_ON);
  for (let i = 0; i < PAGES; i++) {
    n1.map(VA64 + i * 4096, IPA + i * 4096, S1_ATTR);
    n2.map(IPA + i * 4096, DATA_BASE + i * 4096, S2_ATTR);
  }
  for (const f of [n1.root, ...n1.frames]) n2.map(f - DELTA, f, S2_ATTR);

  const sweep = (sid: number, base: number) => (): number => {
    let acc = 0;
    for (let i = 0; i < PAGES; i++) {
      if (!smmu.translate(sid, base + i * 4096 + 0x10, false, out)) throw new Error(`translate failed at page ${i}`);
      acc += out.pa;
    }
    return acc;
  };
  const hot = (sid: number, base: number) => (): number => {
    let acc = 0;
    for (let i = 0; i < HIT_OPS; i++) {
      if (!smmu.translate(sid, base + (i % HOT_PAGES) * 4096 + 0x10, false, out)) throw new Error('translate failed');
      acc += out.pa;
    }
    return acc;
  };
  const sumSweep = PAGES * (DATA_BASE + 0x10) + (4096 * PAGES * (PAGES - 1)) / 2;
  const sumHot = (HIT_OPS / HOT_PAGES) * (HOT_PAGES * (DATA_BASE + 0x10) + (4096 * HOT_PAGES * (HOT_PAGES - 1)) / 2);
  // an invalidation is complete once its sync is: context TLBSYNC, or TLBGSYNC for TLBIVMID
  const asid = (bank: number, a: number) => (): void => {
    rig.setCb(bank, CB.TLBIASID, a);
    rig.setCb(bank, CB.TLBSYNC, 0);
  };
  const vmid = (v: number) => (): void => {
    rig.setGr0(G.TLBIVMID, v);
    rig.setGr0(G.TLBGSYNC, 0);
  };
  const rows: [string, number, number, () => void][] = [
    ['AArch64 stage 1 (48-bit, 4 levels)', 1, VA64, asid(0, 1)],
    ['AArch32 long-descriptor stage 1 (32-bit, 3 levels)', 2, VA32, asid(1, 2)],
    ['AArch32 short descriptor (v7s, 2 levels)', 3, VA32, asid(2, 3)],
    ['AArch64 stage 2 (39-bit IPA, 3 levels)', 4, IPA, vmid(4)],
    ['nested (AArch64 S1 4 levels over S2 3 levels)', 5, VA64, vmid(6)],
  ];
  const cases: Case[] = [];
  for (const [group, sid, base, flush] of rows) {
    cases.push({ group, name: 'TLB hit, 64-page working set', ops: HIT_OPS, run: hot(sid, base), expectSum: sumHot, hits: HIT_OPS, misses: 0 });
    cases.push({ group, name: 'TLB hit, 16 MiB working set (4096 entries)', ops: PAGES, run: sweep(sid, base), expectSum: sumSweep, hits: PAGES, misses: 0 });
    cases.push({ group, name: 'TLB miss, full walk (invalidation before each sample)', ops: PAGES, run: sweep(sid, base), before: flush, expectSum: sumSweep, hits: 0, misses: PAGES });
  }

  const dma = new DmaMaster(rig.mem, { streamId: 1 });
  smmu.attachMaster(dma, [1]);
  rig.mem.write32(DATA_BASE + 0x100, 0x1234_5678);
  const copy = (): void => {
    if (dma.copy(VA64, VA64 + COPY_BYTES, COPY_BYTES) !== DMA_STATUS_DONE) throw new Error('DMA copy through the SMMUv2 failed');
  };
  copy();
  if (rig.mem.read32(DATA_BASE + COPY_BYTES + 0x100) !== 0x1234_5678) throw new Error('DMA copy moved the wrong bytes');
  return { rig, cases, copy, copyCold: asid(0, 1) };
}

export function smmuV2Bench(runs: number): BenchRow[] {
  const { rig, cases, copy, copyCold } = build();
  const st = rig.smmu.stats;
  for (const c of cases) {
    c.before?.();
    if (c.hits > 0) c.run();
    const [h, m] = [st.tlbHits, st.tlbMisses];
    const sum = c.run();
    if (sum !== c.expectSum) throw new Error(`${c.group} / ${c.name}: output addresses sum to ${sum}, expected ${c.expectSum}`);
    if (st.tlbHits - h !== c.hits || st.tlbMisses - m !== c.misses) throw new Error(`${c.group} / ${c.name}: ${st.tlbHits - h} hits / ${st.tlbMisses - m} misses`);
  }
  const mark = [0, 0];
  const bench = newBench(runs);
  for (const c of cases) {
    bench.add(`${c.group}|${c.name}`, c.run, {
      beforeAll: () => void (c.hits > 0 && c.run()),
      beforeEach: () => {
        c.before?.();
        mark.splice(0, 2, st.tlbHits, st.tlbMisses);
      },
      afterEach: () => {
        if (st.tlbHits - mark[0]! !== c.hits || st.tlbMisses - mark[1]! !== c.misses) throw new Error(`${c.group} / ${c.name}: a sample hit/missed unexpectedly`);
      },
    });
  }
  bench.add('copy|DMA copy 1 MiB through AArch64 stage 1, TLB warm', copy);
  bench.add('copy|DMA copy 1 MiB through AArch64 stage 1, TLB cold (TLBIASID before each sample)', copy, { beforeEach: copyCold });
  bench.runSync();
  const rows: BenchRow[] = [];
  for (const t of bench.tasks) {
    const [group, name] = t.name.split('|') as [string, string];
    const c = cases.find((x) => x.group === group && x.name === name);
    if (c) {
      rows.push({ id: `${name}`, group: `SMMUv2 ${group}`, case: name, ...figures(t, (ms) => (ms * 1e6) / c.ops), unit: 'ns/translation', alloc: allocPerOp(c.run, c.ops, c.before ?? c.run) });
    } else {
      const cold = name.includes('cold');
      rows.push({ id: `${name}`, group: 'SMMUv2 DmaMaster copy', case: name, ...figures(t, (ms) => COPY_BYTES / 2 ** 20 / (ms / 1e3), true), unit: 'MiB/s', alloc: allocPerOp(copy, 1, cold ? copyCold : copy) });
    }
  }
  return rows;
}
