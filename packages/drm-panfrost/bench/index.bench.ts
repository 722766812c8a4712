/**
 * panfrost through the whole stack, on the Mali model of the test boards (test/boards.ts: the
 * default board with a Mali-T860 node, booted with Kernel.boot):
 *
 *  - buffer lifecycle: CREATE_BO (drm_mm placement, page allocation, io-pgtable map with the
 *    largest page sizes, LOCK + FLUSH_PT) and GEM_CLOSE (unmap, LOCK + FLUSH_PT, page free), in
 *    a file whose address space is live on the GPU so every map and unmap is flushed;
 *  - a job's memory traffic: SUBMIT of a 1 MiB COPY chain to completion (interrupt handled,
 *    fence signalled), with the buffers in 2 MiB blocks and in 4 KiB pages, TLB warm;
 *  - heap growth: a job that touches 16 fresh 2 MiB chunks of a heap, so every chunk is a GPU
 *    fault (MMU interrupt, 512 pages allocated, mapped, flushed, job resumed), against the same
 *    job on a heap already grown.
 *
 * Every sample is checked (data moved, fence without error, fault count). Setup and teardown
 * of a sample are not timed.
 *
 *   pnpm --filter @gki/drm-panfrost bench                    one process
 *   pnpm --filter @gki/drm-panfrost bench -- --processes=7   median of 7 processes' medians
 *   (add --json for machine-readable output; BENCH_RUNS=n samples per case, default 11)
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { settleCompiler } from '@gki/testkit/settle';
import { Bench } from 'tinybench';
import { MALI_FAULT_ACCESS_READ, MALI_JOB_TYPE_COPY, MALI_JOB_TYPE_FILL, MALI_TR_OK, prop, type MaliJobSpec } from '@gki/hw';
import { PANFROST_BO_HEAP, PANFROST_BO_NOEXEC } from '../src/index.js';
import { defaultGpuBoard, fragmentPages, type ModelRig } from '../test/boards.js';
import { GpuClient, pattern, type ClientBo } from '../test/client.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 11);
/**
 * tinybench's `setup` hook: before each task's warm-up and before its timed samples, wait for
 * V8's compiler threads to go idle (@gki/testkit/settle), so that a loop's request for optimized
 * code is not dropped by a full compile queue, which leaves the loop in its slower
 * on-stack-replacement code for the process (BENCHMARKS.md, "the OSR rows").
 */
const setup = (): void => settleCompiler();
const JSON_OUT = process.argv.includes('--json');
/** How the parent of a --processes run collects a child's full rows. */
const INTERNAL = process.argv.includes('--internal-rows');
const PROCESSES = Number(process.argv.find((a) => a.startsWith('--processes='))?.split('=')[1] ?? 1);
const SZ_4K = 0x1000;
const SZ_1M = 0x10_0000;
const SZ_2M = 0x20_0000;

function check(cond: boolean, what: string): void {
  if (!cond) throw new Error(`drm-panfrost bench: ${what}`);
}

/** One figure; `--json` prints these in the row format the root `pnpm bench` reads (id, group, case, value, unit, min, max). */
interface Row {
  id: string;
  group: string;
  case: string;
  /** The row's figure in `valueUnit` (µs per operation, or µs per heap fault). */
  value: number;
  valueUnit: string;
  /** Median time of one operation (µs). */
  us: number;
  min: number;
  max: number;
  unit: 'ns/page' | 'MB/s' | 'us/fault';
  /** Pages (ns/page), faults (us/fault) or 1 per operation. */
  per: number;
  bytes?: number;
  /** Derived figure for the row (ns per page, MB/s, µs per fault), with its unit. */
  derived: string;
}

const GROW = 'heap job touching 16 new 2 MiB chunks';
const GROWN = 'same job, heap already grown';

/** Fills in each row's derived figure from its median time. */
function derive(rows: Row[]): Row[] {
  const grown = rows.find((r) => r.case === GROWN)!;
  return rows.map((r) => {
    let derived = '-';
    if (r.unit === 'ns/page') derived = `${((r.us * 1000) / r.per).toFixed(0)} ns/page`;
    else if (r.unit === 'MB/s') derived = `${(r.bytes! / r.us).toFixed(0)} MB/s`;
    let value = r.us;
    if (r.case === GROW) {
      value = (r.us - grown.us) / r.per;
      derived = `${value.toFixed(1)} us/fault (over the grown-heap job)`;
    }
    return { ...r, value, valueUnit: r.case === GROW ? 'us/fault' : 'us/op', derived };
  });
}

function measure(): Row[] {
  const rig = defaultGpuBoard();
  const c = new GpuClient(rig.pfdev);
  // give the file's context an AS, so maps and unmaps below are flushed on the GPU
  const warm = c.bo(SZ_4K);
  check(c.run([{ type: MALI_JOB_TYPE_FILL, dst: warm.va, length: SZ_4K, value: 1 }], [warm]).error === 0, 'warm-up job failed');
  check(c.file.as >= 0, 'the context owns no AS');

  const bench = new Bench({ iterations: RUNS, time: 0, warmupIterations: 2, warmupTime: 0, setup });
  const meta = new Map<string, { group: string; per: number; unit: 'ns/page' | 'MB/s' | 'us/fault'; bytes?: number }>();

  // ---------------------------------------------------------------- buffer lifecycle
  for (const size of [SZ_4K, 64 * 1024, SZ_2M, 16 * SZ_1M]) {
    const label = size >= SZ_1M ? `${size / SZ_1M} MiB` : `${size / 1024} KiB`;
    let handle = 0;
    const flushes = (): number => rig.pfdev.mmu.stats.flushRanges;
    let f0 = 0;
    const create = `CREATE_BO ${label} NOEXEC`;
    meta.set(create, { group: 'buffers', per: size / SZ_4K, unit: 'ns/page' });
    bench.add(
      create,
      () => {
        const r = c.file.createBo({ size, flags: PANFROST_BO_NOEXEC });
        if (typeof r === 'number') throw new Error(`CREATE_BO: ${r}`);
        handle = r.handle;
      },
      {
        beforeEach: () => void (f0 = flushes()),
        afterEach: () => {
          check(flushes() === f0 + 1, 'create was not flushed once');
          check(c.file.gemClose({ handle }) === 0, 'close failed');
        },
      },
    );
    const close = `GEM_CLOSE ${label} NOEXEC`;
    meta.set(close, { group: 'buffers', per: size / SZ_4K, unit: 'ns/page' });
    bench.add(
      close,
      () => {
        if (c.file.gemClose({ handle }) !== 0) throw new Error('GEM_CLOSE failed');
      },
      {
        beforeEach: () => {
          const r = c.file.createBo({ size, flags: PANFROST_BO_NOEXEC });
          if (typeof r === 'number') throw new Error(`CREATE_BO: ${r}`);
          handle = r.handle;
          f0 = flushes();
        },
        afterEach: () => check(flushes() === f0 + 1, 'close was not flushed once'),
      },
    );
  }

  // ---------------------------------------------------------------- job memory traffic
  function copyCase(name: string, src: ClientBo, dst: ClientBo, len: number): void {
    const data = pattern(len, len);
    src.cpu!.write(0, data);
    const job: MaliJobSpec[] = [{ type: MALI_JOB_TYPE_COPY, src: src.va, dst: dst.va, length: len }];
    // prime the TLB once
    check(c.run(job, [src, dst]).error === 0, 'copy failed');
    meta.set(name, { group: 'jobs', per: 1, unit: 'MB/s', bytes: len });
    bench.add(
      name,
      () => {
        const f = c.run(job, [src, dst]);
        if (!f.signaled || f.error !== 0) throw new Error('copy job did not complete');
      },
      {
        beforeEach: () => dst.cpu!.fill32(0, 4, 0),
        afterEach: () => check(dst.cpu!.read32(len - 4) === src.cpu!.read32(len - 4) && dst.cpu!.read32(0) === src.cpu!.read32(0), 'copy data wrong'),
      },
    );
  }
  const big = { src: c.bo(2 * SZ_2M), dst: c.bo(2 * SZ_2M) };
  check(big.src.va % SZ_2M === 0, '2 MiB buffers not 2 MiB aligned');
  copyCase('COPY 1 MiB job, 2 MiB blocks', big.src, big.dst, SZ_1M);
  const small = { src: c.bo(SZ_1M), dst: c.bo(SZ_1M) };
  copyCase('COPY 1 MiB job, 4 KiB pages', small.src, small.dst, SZ_1M);

  // ---------------------------------------------------------------- heap growth
  const CHUNKS = 16;
  const heapJobs = (va: number): MaliJobSpec[] =>
    Array.from({ length: CHUNKS }, (_, i) => ({ type: MALI_JOB_TYPE_FILL, dst: va + i * SZ_2M + 0x100, length: 0x100, value: i + 1 }));
  let heap: ClientBo | null = null;
  let faults0 = 0;
  const growName = GROW;
  meta.set(growName, { group: 'heap', per: CHUNKS, unit: 'us/fault' });
  bench.add(
    growName,
    () => {
      const f = c.run(heapJobs(heap!.va), [heap!]);
      if (f.error !== 0) throw new Error('heap job failed');
    },
    {
      beforeEach: () => {
        heap = c.bo(CHUNKS * SZ_2M, PANFROST_BO_NOEXEC | PANFROST_BO_HEAP, false);
        faults0 = rig.pfdev.mmu.stats.heapFaults;
      },
      afterEach: () => {
        check(rig.pfdev.mmu.stats.heapFaults - faults0 === CHUNKS, 'not one fault per chunk');
        check(c.file.gemClose({ handle: heap!.handle }) === 0, 'heap close failed');
      },
    },
  );
  const grownName = GROWN;
  meta.set(grownName, { group: 'heap', per: CHUNKS, unit: 'us/fault' });
  const grown = c.bo(CHUNKS * SZ_2M, PANFROST_BO_NOEXEC | PANFROST_BO_HEAP, false);
  check(c.run(heapJobs(grown.va), [grown]).error === 0, 'heap prime failed');
  bench.add(
    grownName,
    () => {
      const f = c.run(heapJobs(grown.va), [grown]);
      if (f.error !== 0) throw new Error('heap job failed');
    },
    {
      beforeEach: () => void (faults0 = rig.pfdev.mmu.stats.heapFaults),
      afterEach: () => check(rig.pfdev.mmu.stats.heapFaults === faults0, 'a grown heap faulted'),
    },
  );

  // ---------------------------------------------------------------- GPU MMU: TLB miss vs iova_to_phys
  // A 16 MiB buffer of scattered 4 KiB pages (4096 pages, eight level-3 tables) mapped by the
  // driver; the model translates every page after a LOCK + FLUSH_PT of the whole VA range (TLB
  // and walk cache emptied), against io-pgtable's iova_to_phys of the same table.
  const MMU_PAGES = 4096;
  const mmuRig = (extra: ReturnType<typeof prop.empty>[]): { r: ModelRig; va: number; as: number; file: GpuClient } => {
    const r = defaultGpuBoard(extra);
    fragmentPages(r, 40);
    const cl = new GpuClient(r.pfdev);
    const b = cl.bo(MMU_PAGES * SZ_4K);
    check(cl.run([{ type: MALI_JOB_TYPE_FILL, dst: b.va, length: SZ_4K, value: 1 }], [b]).error === 0, 'mmu rig job failed');
    const bo = cl.file.bo(b.handle)!;
    check(bo.physAt(SZ_4K) !== bo.physAt(0) + SZ_4K, 'the buffer got contiguous pages');
    return { r, va: b.va, as: cl.file.as, file: cl };
  };
  const mw = mmuRig([]);
  const mc = mmuRig([prop.empty('gki,no-walk-cache')]);
  const trOut = { pa: 0 };
  const flushGpu = (m: ModelRig, asn: number): void => {
    // LOCK the whole 48-bit VA range, then FLUSH_PT (AS registers at 0x2400 + 0x40 * AS)
    const base = 0x2d00_0000 + 0x2400 + asn * 0x40;
    m.board.bus.write32(base + 0x10, 47);
    m.board.bus.write32(base + 0x14, 0);
    m.board.bus.write32(base + 0x18, 2);
    m.gpu.settle();
    m.board.bus.write32(base + 0x18, 4);
    m.gpu.settle();
  };
  const sweepModel = (m: { r: ModelRig; va: number; as: number }) => (): void => {
    const mmu = m.r.gpu.mmu;
    let acc = 0;
    for (let i = 0; i < MMU_PAGES; i++) {
      if (mmu.translate(m.as, m.va + i * SZ_4K + 0x10, MALI_FAULT_ACCESS_READ, 0, trOut) !== MALI_TR_OK) throw new Error('model translation failed');
      acc += trOut.pa;
    }
    if (acc === 0) throw new Error('no translation');
  };
  const ops = mw.file.file.mmu.ops;
  const fmtWalk = (): void => {
    let acc = 0;
    for (let i = 0; i < MMU_PAGES; i++) acc += ops.iovaToPhys(mw.va + i * SZ_4K + 0x10);
    if (acc === 0) throw new Error('no translation');
  };
  // the three agree on every page
  for (let i = 0; i < MMU_PAGES; i += 97) {
    const va = mw.va + i * SZ_4K + 0x10;
    check(mw.r.gpu.mmu.translate(mw.as, va, MALI_FAULT_ACCESS_READ, 0, trOut) === MALI_TR_OK && trOut.pa === ops.iovaToPhys(va), 'model and iova_to_phys disagree');
  }
  const mmuRows: [string, () => void, (() => void) | undefined, (() => void) | undefined][] = [
    ['iova_to_phys, 4096 pages (io-pgtable ARM_MALI_LPAE)', fmtWalk, undefined, undefined],
    ['model TLB miss, walk cache (FLUSH_PT before), 4096 pages', sweepModel(mw), () => flushGpu(mw.r, mw.as), () => check(mw.r.gpu.mmu.walkCacheCounters()!.hits > 0, 'no walk-cache hits')],
    ['model TLB miss, no walk cache (4-level walks), 4096 pages', sweepModel(mc), () => flushGpu(mc.r, mc.as), () => check(!mc.r.gpu.mmu.walkCacheEnabled, 'cold rig has a walk cache')],
  ];
  for (const [name, run, before, after] of mmuRows) {
    meta.set(name, { group: 'gpu mmu', per: MMU_PAGES, unit: 'ns/page' });
    const walks = (): number => (name.startsWith('model') ? (name.includes('no walk') ? mc : mw).r.gpu.stats.mmu.walks : 0);
    let w0 = 0;
    bench.add(name, run, {
      beforeEach: () => {
        before?.();
        w0 = walks();
      },
      afterEach: () => {
        after?.();
        if (name.startsWith('model')) check(walks() - w0 === MMU_PAGES, `${name}: not every page missed the TLB`);
      },
    });
  }

  bench.runSync();
  check(mw.r.gpu.events.length === 0 && mc.r.gpu.events.length === 0, 'mmu rigs: model protocol events');
  check(rig.gpu.events.length === 0, `model protocol events: ${rig.gpu.events.join('; ')}`);

  const rows: Row[] = [];
  for (const t of bench.tasks) {
    const res = t.result;
    if (res.state !== 'completed') throw new Error(`${t.name}: ${res.state}`, { cause: res.state === 'errored' ? res.error : undefined });
  }
  for (const t of bench.tasks) {
    const res = t.result as { latency: { p50: number; min: number; max: number } };
    const m = meta.get(t.name)!;
    const us = res.latency.p50 * 1000;
    const id = t.name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
    rows.push({ id, group: m.group, case: t.name, value: us, valueUnit: 'us/op', us, min: res.latency.min * 1000, max: res.latency.max * 1000, unit: m.unit, per: m.per, bytes: m.bytes, derived: '' });
  }

  c.close();
  return derive(rows);
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** The rows as the root bench runner reads them (the heap-growth row carries µs per fault). */
function jsonRows(rows: Row[]): object[] {
  return rows.map((r) => {
    const scale = r.case === GROW ? r.value / r.us : 1;
    // The model's TLB misses against iova_to_phys of the same table, in the same process (issue
    // 9: a walk-cached miss within 2x of the format's own walk).
    const fmt = rows.find((x) => x.case.startsWith('iova_to_phys'));
    const vs = fmt !== undefined && r.case.startsWith('model TLB miss') ? { vs: fmt.id, ...(r.case.startsWith('model TLB miss, walk cache') ? { goal: 2 } : {}) } : {};
    return { id: r.id, group: `drm-panfrost ${r.group}`, case: r.case, value: r.value, unit: r.valueUnit, min: r.min * scale, max: r.max * scale, ...vs };
  });
}

function print(rows: Row[], what: string): void {
  console.log(`panfrost on the Mali model (T860), ${what}`);
  for (const r of rows) console.log(`  ${r.case.padEnd(44)} ${r.us.toFixed(1).padStart(9)} us (${r.min.toFixed(1)}-${r.max.toFixed(1)})  ${r.derived}`);
}

if (PROCESSES > 1) {
  const script = fileURLToPath(import.meta.url);
  const all: Row[][] = [];
  for (let p = 0; p < PROCESSES; p++) {
    const res = spawnSync(process.execPath, [...process.execArgv, script, '--internal-rows'], { encoding: 'utf8', env: process.env });
    if (res.status !== 0) throw new Error(`bench process failed: ${res.stderr}`);
    all.push((JSON.parse(res.stdout) as { rows: Row[] }).rows);
  }
  const rows = derive(
    all[0]!.map((r0, j) => {
      const v = all.map((rs) => rs[j]!.us);
      return { ...r0, us: median(v), min: Math.min(...v), max: Math.max(...v) };
    }),
  );
  if (JSON_OUT) console.log(JSON.stringify({ runs: RUNS, processes: PROCESSES, node: process.version, rows: jsonRows(rows) }, null, 2));
  else print(rows, `median of ${PROCESSES} processes x ${RUNS} samples, min-max over processes in brackets`);
} else {
  const rows = measure();
  if (INTERNAL) console.log(JSON.stringify({ rows }));
  else if (JSON_OUT) console.log(JSON.stringify({ runs: RUNS, node: process.version, rows: jsonRows(rows) }, null, 2));
  else print(rows, `median of ${RUNS} samples, min-max in brackets`);
}
