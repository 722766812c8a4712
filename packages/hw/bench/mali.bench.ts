/**
 * Mali model throughput: MMU translations (TLB hit; TLB miss through the walk cache, and without
 * one: a 4-level ARM_MALI_LPAE walk each)
 * and a job's memory traffic through the MMU (a 1 MiB COPY job over 4 KiB pages with the TLB
 * warm and cold, over 2 MiB blocks, and in identity mode as the no-table baseline).
 *
 * The GPU is driven through its registers as panfrost drives it (reset, power-up, FLUSH_MEM +
 * TRANSTAB/MEMATTR + UPDATE, LOCK + FLUSH_PT, job submission) and the tables are written by
 * hand (test/mali-helpers.ts). Every case is checked once before it is measured, and every
 * sample is checked afterwards: the hit rows must not walk, the miss rows must walk on every
 * translation, and each copy job must end DONE with the data in place.
 */
import { Board, MaliGpu, MALI_FAULT_ACCESS_READ, MALI_TR_OK, MALI_PRESET_T860 } from '@gki/hw';
import { ADRMODE_IDENTITY, AS, as, AS_CMD, enableAs, EXC, js, JS, JOB, MaliTables, mmuOp, REG, resetAndPowerUp, submit, writeJob, type MaliRig } from '../test/mali-helpers.js';
import { allocPerOp, figures, newBench, type BenchRow } from './harness.js';

const RAM_SIZE = 256 << 20;
const BASE = 0x1_0000_0000; // register window above RAM
const PAGES = 16384; // 64 MiB of 4 KiB pages
const HOT = 64;
const HIT_OPS = 65536;
const COPY = 1 << 20;

const VA = 0x8_0000_0000; // 4 KiB pages: VA -> DATA
const BLK_VA = 0x10_0000_0000; // 2 MiB blocks: BLK_VA -> DATA
const JOB_VA = 0x1000_0000;
const JOB_PA = 0x0010_0000;
const TABLES = 0x0020_0000;
const DATA = 0x0400_0000; // 64 MiB of data pages

function rig(walkCache = true): MaliRig {
  const board = new Board('mali-bench', [{ base: 0, size: RAM_SIZE }]);
  const gpu = new MaliGpu(board.mem, { preset: MALI_PRESET_T860, tlbCapacity: 4 * PAGES, walkCache });
  board.bus.map(BASE, 0x1_0000, gpu);
  return { board, gpu, bus: board.bus, mem: board.mem, base: BASE, r32: (o) => board.bus.read32(BASE + o), w32: (o, v) => board.bus.write32(BASE + o, v) };
}

/** A powered-up GPU with the bench's tables in AS 0 and AS 1 in identity mode. */
function setup(walkCache: boolean): MaliRig {
  const r = rig(walkCache);
  resetAndPowerUp(r);
  const t = new MaliTables(r.mem, TABLES, 0x80_0000);
  t.map(JOB_VA, JOB_PA, 0x1000);
  t.map(VA, DATA, PAGES * 0x1000);
  t.map(BLK_VA, DATA, 4 << 20, {}, true);
  enableAs(r, 0, t.transtab());
  // AS 1 in identity mode: VA = PA.
  r.w32(as(1, AS.TRANSTAB_LO), ADRMODE_IDENTITY);
  r.w32(as(1, AS.COMMAND), AS_CMD.UPDATE);
  r.gpu.settle();
  return r;
}

export function maliBench(runs: number): BenchRow[] {
  const r = setup(true);
  const { gpu } = r;
  const mmu = gpu.mmu;
  const st = mmu.stats;
  // The same GPU without a walk cache (gki,no-walk-cache): every TLB miss walks 4 levels.
  const rCold = setup(false);
  const mmuCold = rCold.gpu.mmu;
  const out = { pa: 0 };
  const hot = (): number => {
    let sum = 0;
    for (let i = 0; i < HIT_OPS; i++) {
      if (mmu.translate(0, VA + (i % HOT) * 4096 + 8, MALI_FAULT_ACCESS_READ, 0, out) !== MALI_TR_OK) throw new Error('translation failed');
      sum += out.pa - DATA;
    }
    return sum;
  };
  const sweep = (): number => {
    let sum = 0;
    for (let i = 0; i < PAGES; i++) {
      if (mmu.translate(0, VA + i * 4096 + 8, MALI_FAULT_ACCESS_READ, 0, out) !== MALI_TR_OK) throw new Error('translation failed');
      sum += out.pa - DATA;
    }
    return sum;
  };
  let sumHot = 0;
  for (let i = 0; i < HIT_OPS; i++) sumHot += (i % HOT) * 4096 + 8;
  let sumSweep = 0;
  for (let i = 0; i < PAGES; i++) sumSweep += i * 4096 + 8;
  const sweepCold = (): number => {
    let sum = 0;
    for (let i = 0; i < PAGES; i++) {
      if (mmuCold.translate(0, VA + i * 4096 + 8, MALI_FAULT_ACCESS_READ, 0, out) !== MALI_TR_OK) throw new Error('translation failed');
      sum += out.pa - DATA;
    }
    return sum;
  };
  const flushAll = () => mmuOp(r, 0, 0, 2 ** 48, AS_CMD.FLUSH_PT);
  const flushAllCold = () => mmuOp(rCold, 0, 0, 2 ** 48, AS_CMD.FLUSH_PT);

  interface Case { group: string; name: string; ops: number; run: () => number; before?: () => void; expectSum: number; hits: number; walks: number; stats?: typeof st }
  const cases: Case[] = [
    { group: 'Mali MMU translate (48-bit VA, 4 levels)', name: 'TLB hit, 64-page working set', ops: HIT_OPS, run: hot, expectSum: sumHot, hits: HIT_OPS, walks: 0 },
    { group: 'Mali MMU translate (48-bit VA, 4 levels)', name: 'TLB hit, 64 MiB working set (16384 entries)', ops: PAGES, run: sweep, expectSum: sumSweep, hits: PAGES, walks: 0 },
    { group: 'Mali MMU translate (48-bit VA, 4 levels)', name: 'TLB miss, walk cache (LOCK + FLUSH_PT of the AS before each sample)', ops: PAGES, run: sweep, before: flushAll, expectSum: sumSweep, hits: 0, walks: PAGES },
    { group: 'Mali MMU translate (48-bit VA, 4 levels)', name: 'TLB miss, no walk cache: 4-level walk each (same flush)', ops: PAGES, run: sweepCold, before: flushAllCold, expectSum: sumSweep, hits: 0, walks: PAGES, stats: mmuCold.stats },
  ];
  for (const c of cases) {
    const cs = c.stats ?? st;
    c.before?.();
    if (c.hits > 0) c.run();
    const [h, w] = [cs.tlbHits, cs.walks];
    const sum = c.run();
    if (sum !== c.expectSum) throw new Error(`${c.name}: PAs sum to ${sum}, expected ${c.expectSum}`);
    if (cs.tlbHits - h !== c.hits || cs.walks - w !== c.walks) throw new Error(`${c.name}: ${cs.tlbHits - h} hits / ${cs.walks - w} walks`);
  }
  // The walk cache row resumes walks: one full walk per 2 MiB (8192 of 16384 pages: 32 tables).
  {
    const wc = mmu.walkCacheCounters()!;
    const h0 = wc.hits;
    flushAll();
    sweep();
    const hits = mmu.walkCacheCounters()!.hits - h0;
    if (hits !== PAGES - PAGES / 512) throw new Error(`walk cache row: ${hits} walk-cache hits, expected ${PAGES - PAGES / 512}`);
    if (mmuCold.walkCacheCounters() !== null) throw new Error('the cold rig has a walk cache');
  }

  // COPY jobs: 1 MiB from the first half of the data to the second, through AS 0 (pages or
  // blocks) or AS 1 (identity).
  const copyJob = (asn: number, src: number, dst: number) => () => {
    writeJob(r.mem, JOB_PA, { type: JOB.COPY, src, dst, length: COPY });
    submit(r, 0, asn, asn === 1 ? JOB_PA : JOB_VA);
    if (r.r32(js(0, JS.STATUS)) !== EXC.DONE) throw new Error(`copy job ended with 0x${r.r32(js(0, JS.STATUS)).toString(16)}`);
    r.w32(REG.JOB_INT_CLEAR, 0xffff_ffff);
  };
  const copies = [
    { name: 'COPY job 1 MiB over 4 KiB pages, TLB warm', run: copyJob(0, VA, VA + COPY) },
    { name: 'COPY job 1 MiB over 4 KiB pages, TLB cold (LOCK + FLUSH_PT before each sample)', run: copyJob(0, VA, VA + COPY), before: flushAll },
    { name: 'COPY job 1 MiB over 2 MiB blocks, TLB warm', run: copyJob(0, BLK_VA, BLK_VA + COPY) },
    { name: 'COPY job 1 MiB, identity AS (no tables, baseline)', run: copyJob(1, DATA, DATA + COPY) },
  ];
  r.mem.write32(DATA + 0x100, 0x1234_5678);
  for (const c of copies) {
    r.mem.write32(DATA + COPY + 0x100, 0);
    c.before?.();
    c.run();
    if (r.mem.read32(DATA + COPY + 0x100) !== 0x1234_5678) throw new Error(`${c.name}: data not copied`);
  }

  const mark = [0, 0];
  const bench = newBench(runs);
  for (const c of cases) {
    const cs = c.stats ?? st;
    bench.add(`${c.group}|${c.name}`, c.run, {
      beforeAll: () => void (c.hits > 0 && c.run()),
      beforeEach: () => {
        c.before?.();
        mark.splice(0, 2, cs.tlbHits, cs.walks);
      },
      afterEach: () => {
        if (cs.tlbHits - mark[0]! !== c.hits || cs.walks - mark[1]! !== c.walks) throw new Error(`${c.name}: a sample saw ${cs.tlbHits - mark[0]!} hits / ${cs.walks - mark[1]!} walks`);
      },
    });
  }
  for (const c of copies) bench.add(`copy|${c.name}`, c.run, c.before ? { beforeEach: c.before } : {});
  bench.runSync();

  const rows: BenchRow[] = [];
  for (const task of bench.tasks) {
    const [group, name] = task.name.split('|') as [string, string];
    const c = cases.find((x) => x.group === group && x.name === name);
    if (c) {
      rows.push({ id: `${name}`, group, case: name, ...figures(task, (ms) => (ms * 1e6) / c.ops), unit: 'ns/translation', alloc: allocPerOp(c.run, c.ops, c.before ?? c.run) });
    } else {
      const cc = copies.find((x) => x.name === name)!;
      rows.push({ id: `${name}`, group: 'Mali job memory traffic through the MMU', case: name, ...figures(task, (ms) => COPY / 2 ** 20 / (ms / 1e3), true), unit: 'MiB/s', alloc: allocPerOp(cc.run, 1, cc.before ?? cc.run) });
    }
  }
  return rows;
}
