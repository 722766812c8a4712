/**
 * Adreno model throughput: the GPU's memory traffic through the SMMU (a 1 MiB CP_MEMCPY over
 * 4 KiB pages of a process table, TLB warm and cold, against the same copy with no translation)
 * and process switches in the command stream (a submit as msm emits it: CP_SMMU_TABLE_UPDATE,
 * the memstore write, CACHE_INVALIDATE, a 64-byte copy and the CACHE_FLUSH_TS fence, alternating
 * two processes, against the same submit without the switch).
 *
 * The GPU and its SMMU context bank are driven through their registers and the ring is filled
 * as msm fills it (test/adreno-helpers.ts). Every case is checked once before it is measured and
 * every sample afterwards (the copied word, the fence, the TLB misses of the cold copy).
 */
import { AdrenoRig, CB, Pm4, UVA } from '../test/adreno-helpers.js';
import { allocPerOp, figures, newBench, type BenchRow } from './harness.js';

const COPY = 1 << 20;

interface Case {
  readonly id: string;
  readonly group: string;
  readonly name: string;
  readonly unit: 'MiB/s' | 'µs/submit';
  readonly run: () => void;
  readonly before?: () => void;
  readonly check: () => void;
  readonly vs?: string;
}

export function adrenoBench(runs: number): BenchRow[] {
  // Translated: one process table with 2 MiB of 4 KiB pages (source and destination halves).
  const rig = new AdrenoRig();
  const p0 = rig.process();
  const p1 = rig.process();
  const src0 = rig.map(p0, UVA, COPY);
  const dst0 = rig.map(p0, UVA + COPY, COPY);
  const src1 = rig.map(p1, UVA, 4096);
  const dst1 = rig.map(p1, UVA + COPY, 4096);
  rig.enableTtbr0(p0);
  rig.submit(new Pm4().switchTo(p0.root, 0));
  rig.mem.write32(src0 + COPY - 4, 0x600d_c0de);
  rig.mem.write32(src0, 0x0000_0a0a);
  rig.mem.write32(src1, 0x0000_1b1b);
  const fenceVa = rig.memptrsVa + 8;
  const fencePa = rig.memptrsPa + 8;
  let seqno = 0;
  const tlbiAll = () => {
    rig.v2.setCb(0, CB.TLBIALL, 0);
    rig.v2.setCb(0, CB.TLBSYNC, 0);
    rig.v2.cb(0, CB.TLBSTATUS);
  };
  const copyStream = new Pm4().memcpy(UVA + COPY, UVA, COPY / 4);
  const copy = () => {
    rig.mem.write32(dst0 + COPY - 4, 0);
    rig.submit(copyStream);
  };
  const copied = () => {
    if (rig.mem.read32(dst0 + COPY - 4) !== 0x600d_c0de) throw new Error('copy through the SMMU: data not copied');
  };
  let missMark = 0;

  // Untranslated baseline: the GPU addresses physical memory directly.
  const base = new AdrenoRig({ noSmmu: true });
  base.untranslated();
  const bsrc = base.alloc(COPY);
  const bdst = base.alloc(COPY);
  base.mem.write32(bsrc + COPY - 4, 0x600d_c0de);
  const baseStream = new Pm4().memcpy(bdst, bsrc, COPY / 4);
  const baseCopy = () => {
    base.mem.write32(bdst + COPY - 4, 0);
    base.submit(baseStream);
  };

  // Submits as msm emits them, with the switch to the submitting process's table or without,
  // built once; the fence's seqno (the last word) is patched per submit.
  const built = (table: { root: number } | undefined) => {
    const s = new Pm4();
    if (table) s.switchTo(table.root, 0, rig.memptrsVa + 0x20);
    return s.memcpy(UVA + COPY, UVA, 16).fence(fenceVa, 0).words;
  };
  const streams = [built(p0), built(p1)];
  const plain = built(undefined);
  const submit = (words: number[]) => {
    seqno++;
    words[words.length - 1] = seqno;
    rig.submit(words);
  };
  /** The process whose table is current: 0 after the setup's switch. */
  let cur = 0;
  const switching = () => {
    cur ^= 1;
    submit(streams[cur]!);
  };
  const sameProcess = () => {
    if (cur !== 0) throw new Error('the no-switch case runs on process 0');
    submit(plain);
  };
  const toP0 = () => {
    if (cur !== 0) switching();
  };
  const fenced = () => {
    if (rig.mem.read32(fencePa) !== seqno) throw new Error(`fence ${rig.mem.read32(fencePa)}, expected ${seqno}`);
  };

  const cases: Case[] = [
    {
      id: 'adreno-copy-warm',
      group: 'Adreno GPU memory traffic through the SMMU (process table, 4 KiB pages)',
      name: 'CP_MEMCPY 1 MiB, TLB warm',
      unit: 'MiB/s',
      run: copy,
      before: toP0,
      check: copied,
      vs: 'adreno-copy-phys',
    },
    {
      id: 'adreno-copy-cold',
      group: 'Adreno GPU memory traffic through the SMMU (process table, 4 KiB pages)',
      name: 'CP_MEMCPY 1 MiB, TLB cold (TLBIALL + TLBSYNC before each sample)',
      unit: 'MiB/s',
      run: copy,
      before: () => {
        toP0();
        tlbiAll();
        missMark = rig.smmu.stats.tlbMisses;
      },
      check: () => {
        copied();
        if (rig.smmu.stats.tlbMisses - missMark < 512) throw new Error('cold copy: the TLB was not cold');
      },
      vs: 'adreno-copy-phys',
    },
    {
      id: 'adreno-copy-phys',
      group: 'Adreno GPU memory traffic through the SMMU (process table, 4 KiB pages)',
      name: 'CP_MEMCPY 1 MiB, no SMMU (physical addresses, baseline)',
      unit: 'MiB/s',
      run: baseCopy,
      check: () => {
        if (base.mem.read32(bdst + COPY - 4) !== 0x600d_c0de) throw new Error('baseline copy: data not copied');
      },
    },
    {
      id: 'adreno-switch',
      group: 'Adreno process switch in the command stream',
      name: 'submit with CP_SMMU_TABLE_UPDATE (+ memstore, CACHE_INVALIDATE), 64 B copy, fence; two processes alternating',
      unit: 'µs/submit',
      run: switching,
      check: () => {
        fenced();
        if (rig.mem.read32(cur === 0 ? dst0 : dst1) !== (cur === 0 ? 0x0a0a : 0x1b1b)) throw new Error('switch: the process did not read its own data');
      },
      vs: 'adreno-noswitch',
    },
    {
      id: 'adreno-noswitch',
      group: 'Adreno process switch in the command stream',
      name: 'the same submit without the switch (one process)',
      unit: 'µs/submit',
      run: sameProcess,
      before: toP0,
      check: fenced,
    },
  ];
  for (const c of cases) {
    c.before?.();
    c.run();
    c.check();
  }

  const bench = newBench(runs);
  for (const c of cases) bench.add(c.id, c.run, { ...(c.before ? { beforeEach: c.before } : {}), afterEach: c.check });
  bench.runSync();

  const rows: BenchRow[] = [];
  for (const task of bench.tasks) {
    const c = cases.find((x) => x.id === task.name)!;
    const rate = c.unit === 'MiB/s';
    const conv = rate ? (ms: number) => COPY / 2 ** 20 / (ms / 1e3) : (ms: number) => ms * 1e3;
    // Allocation of one operation in the state the case measures (warm rows run once first).
    const prepare = c.id === 'adreno-copy-cold' ? c.before : () => {
      c.before?.();
      c.run();
    };
    rows.push({ id: c.id, group: c.group, case: c.name, ...figures(task, conv, rate), unit: c.unit, alloc: allocPerOp(c.run, 1, prepare), vs: c.vs });
  }
  return rows;
}
