/**
 * iommu_map / iommu_unmap through the whole stack: IOMMU core (page-size splitting, iotlb
 * gather and sync) -> arm_smmu_v3 domain ops -> io-pgtable-arm (ARM_64_LPAE_S1, tables from
 * the kernel's page allocator) -> TLB invalidation commands and CMD_SYNC consumed by the SMMUv3
 * model, on the test rig's board booted with Kernel.boot (test/helpers.ts). The domain is a
 * fresh stage-1 paging domain attached to the first DMA master.
 *
 * Rows: 4 KiB pages over 16 MiB and 2 MiB blocks over 1 GiB, one page per iommu_map /
 * iommu_unmap call or the whole range in one call, on the FVP preset (no range invalidation:
 * one TLBI_NH_VA per page, or TLBI_NH_ASID past 512 pages) and on the QEMU preset (RIL: range
 * TLBI commands). Every map sample starts from an empty range (the untimed whole-range unmap
 * before it frees the level-3 tables, as Linux's io-pgtable does when a table's whole range is
 * unmapped), so table allocation is included; every unmap sample starts from a fully mapped
 * range. The other half of each pair runs untimed. Each sample is checked: the mapping reached the page table,
 * and the commands the SMMU consumed are the ones the case implies.
 *
 *   pnpm --filter @gki/smmu-v3 bench                       one process
 *   pnpm --filter @gki/smmu-v3 bench -- --processes=7      median of 7 processes' medians
 *   (add --json for machine-readable output; BENCH_RUNS=n sets the samples per case, default 11)
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { settleCompiler } from '@gki/testkit/settle';
import { Bench } from 'tinybench';
import {
  DMA_BIDIRECTIONAL,
  DMA_MAPPING_ERROR,
  IOMMU_CACHE,
  IOMMU_READ,
  IOMMU_WRITE,
  dmaMapSingle,
  dmaUnmapSingle,
  iommuAttachDevice,
  iommuDomainAlloc,
  iommuFlushIotlbAll,
  iommuIotlbGatherInit,
  iommuIovaToPhys,
  iommuMap,
  iommuUnmap,
  type IommuDomain,
} from '@gki/kernel';
import { allocIoPgtableOps, freeIoPgtableOps, type IommuFlushOps, type IoPgtableOps } from '@gki/io-pgtable-core';
import type { WalkAccess } from '@gki/hw';
import { boot, buffer, SIDS, type Preset, type Rig } from '../test/helpers.js';

/**
 * Clock and statistic. On the shared, oversubscribed VMs a sample is often stretched by time
 * spent descheduled, so each row reports the process's best sample (BENCH_STAT=median for the
 * median); the root `pnpm bench` then takes the median of that over several processes. The
 * clock is wall time; BENCH_CLOCK=cpu uses process CPU time instead (it also counts V8's
 * helper threads and page faults, which inflated some rows by 2x in trials).
 */
const benchNow = process.env.BENCH_CLOCK === 'cpu' ? () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
} : () => performance.now();
const STAT: 'min' | 'p50' = process.env.BENCH_STAT === 'median' ? 'p50' : 'min';

const RUNS = Number(process.env.BENCH_RUNS ?? 11);
/**
 * tinybench's `setup` hook: before each task's warm-up and before its timed samples, wait for
 * V8's compiler threads to go idle (@gki/testkit/settle). The iommu_map, unmap and model rows
 * are long loops whose first call gets on-stack-replacement code; their request for regular
 * optimized code, made at the next call, is dropped if the compile queue is full then, and the
 * loop stays in its slower OSR code for the process (BENCHMARKS.md, "the OSR rows").
 */
const setup = (): void => settleCompiler();
const PROCESSES = Number(process.argv.find((a) => a.startsWith('--processes='))?.split('=')[1] ?? 1);
const JSON_OUT = process.argv.includes('--json');

const PROT = IOMMU_READ | IOMMU_WRITE | IOMMU_CACHE;
const IOVA_BASE = 2 ** 32;
const PA_BASE = 2 ** 36;
const SZ_4K = 0x1000;
const SZ_2M = 0x20_0000;

/** One figure (the row format every package's `bench --json` prints for the root `pnpm bench`). */
interface Row {
  id: string;
  group: string;
  case: string;
  value: number;
  /** The process's median sample (value is its best sample unless BENCH_STAT=median). */
  p50?: number;
  unit: string;
  min?: number;
  max?: number;
  /** TLBI commands and CMD_SYNCs the SMMU consumed per page in one sample. */
  tlbiPerPage?: number;
  syncPerPage?: number;
  /** Id of the row of this benchmark this one is compared with (value / that value), and the target. */
  vs?: string;
  goal?: number;
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

interface Shape {
  label: string;
  size: number;
  count: number;
  /** PA offset that keeps iommu_map from using larger pages than `size`. */
  paSkew: number;
}
const SHAPES: Shape[] = [
  { label: '4K pages over 16 MiB', size: SZ_4K, count: 4096, paSkew: SZ_4K },
  { label: '2M blocks over 1 GiB', size: SZ_2M, count: 512, paSkew: SZ_2M },
];

function check(cond: boolean, what: string): void {
  if (!cond) throw new Error(`smmu-v3 bench: ${what}`);
}

function mapRange(d: IommuDomain, s: Shape, perCall: boolean): void {
  const pa = PA_BASE + s.paSkew;
  if (!perCall) {
    const ret = iommuMap(d, IOVA_BASE, pa, s.size * s.count, PROT);
    check(ret === 0, `iommu_map returned ${ret}`);
    return;
  }
  for (let i = 0; i < s.count; i++) {
    const ret = iommuMap(d, IOVA_BASE + i * s.size, pa + i * s.size, s.size, PROT);
    if (ret !== 0) throw new Error(`iommu_map returned ${ret}`);
  }
}

function unmapRange(d: IommuDomain, s: Shape, perCall: boolean): void {
  if (!perCall) {
    const n = iommuUnmap(d, IOVA_BASE, s.size * s.count);
    check(n === s.size * s.count, `iommu_unmap returned ${n}`);
    return;
  }
  for (let i = 0; i < s.count; i++) {
    const n = iommuUnmap(d, IOVA_BASE + i * s.size, s.size);
    if (n !== s.size) throw new Error(`iommu_unmap returned ${n}`);
  }
}

function tlbiCount(r: Rig): number {
  let n = 0;
  for (const [name, c] of Object.entries(r.model.stats.commands)) if (name.startsWith('TLBI_')) n += c;
  return n;
}

function runPreset(preset: Preset): Row[] {
  const r = boot({ preset });
  const d = iommuDomainAlloc(r.masters[0]!);
  if (typeof d === 'number') throw new Error(`domain alloc: ${d}`);
  check(iommuAttachDevice(d, r.masters[0]!) === 0, 'attach failed');

  const bench = new Bench({ now: benchNow, iterations: RUNS, time: 0, warmupIterations: 2, warmupTime: 0, setup });
  const cost = new Map<string, { tlbi: number; sync: number; pages: number }>();
  let mark = { tlbi: 0, sync: 0 };
  const lastPage = (s: Shape) => IOVA_BASE + (s.count - 1) * s.size + 0x10;
  const lastPa = (s: Shape) => PA_BASE + s.paSkew + (s.count - 1) * s.size + 0x10;
  for (const s of SHAPES) {
    for (const perCall of [true, false]) {
      const how = perCall ? `1 ${s.size === SZ_4K ? 'page' : 'block'} per call` : 'whole range in one call';
      const begin = () => void (mark = { tlbi: tlbiCount(r), sync: r.model.stats.syncs });
      const end = (name: string) => () => {
        cost.set(name, { tlbi: tlbiCount(r) - mark.tlbi, sync: r.model.stats.syncs - mark.sync, pages: s.count });
      };
      const mapName = `${s.label}|iommu_map, ${how}`;
      bench.add(mapName, () => mapRange(d, s, perCall), {
        beforeEach: begin,
        afterEach: () => {
          end(mapName)();
          check(iommuIovaToPhys(d, lastPage(s)) === lastPa(s), 'mapping missing after map');
          unmapRange(d, s, false);
        },
      });
      const unmapName = `${s.label}|iommu_unmap, ${how}`;
      bench.add(unmapName, () => unmapRange(d, s, perCall), {
        beforeEach: () => {
          mapRange(d, s, false);
          begin();
        },
        afterEach: () => {
          end(unmapName)();
          check(iommuIovaToPhys(d, lastPage(s)) === 0, 'mapping left after unmap');
          const c = cost.get(unmapName)!;
          // Every unmap call ends in a CMD_SYNC, after at least one TLBI (a whole-range unmap
          // may sync more often: io-pgtable flushes each freed table's walk on its own).
          check((perCall ? c.sync === s.count : c.sync >= 1) && c.tlbi >= c.sync, `unmap consumed ${c.tlbi} TLBIs and ${c.sync} syncs`);
        },
      });
    }
  }
  bench.runSync();
  check(r.model.hitlessViolations.length === 0, 'hitless violations');

  const rows: Row[] = [];
  for (const t of bench.tasks) {
    const res = t.result;
    if (res.state !== 'completed') throw new Error(`${t.name}: ${res.state}`, { cause: res.state === 'errored' ? res.error : undefined });
    const [label, op] = t.name.split('|') as [string, string];
    const c = cost.get(t.name)!;
    const per = (ms: number) => (ms * 1e6) / c.pages;
    const id = `${preset}.${s4k(label)}.${op.replace(/[^a-z0-9]+/g, '-')}`;
    rows.push({ id, group: `arm_smmu_v3 (${preset} preset) ${label}`, case: op, value: per(res.latency[STAT]), p50: per(res.latency.p50), unit: s4k(label) === '4k' ? 'ns/page' : 'ns/block', min: per(res.latency.min), max: per(res.latency.max), tlbiPerPage: c.tlbi / c.pages, syncPerPage: c.sync / c.pages });
  }
  return rows;
}

function s4k(label: string): string {
  return label.startsWith('4K') ? '4k' : '2m';
}

/**
 * The stack against its parts, one 4 KiB page per call on the FVP preset: the format's own
 * map_pages/unmap_pages (io-pgtable-arm alone, callbacks that only widen the gather), then
 * iommu_map/iommu_unmap (IOMMU core + arm_smmu_v3 + the same format + TLBI/CMD_SYNC through
 * the model), then dma_map_single/dma_unmap_single (IOVA allocator + dma-debug records + the
 * above, compared with iommu_map + iommu_unmap: the DMA layer's own cost); and the
 * SMMU model's TLB miss (a walk of the driver's table) against io-pgtable's iova_to_phys of a
 * table holding the same mappings: with the model's walk cache (each sample starts with
 * TLBI_NH_ASID, which empties the walk cache too: one full walk per level-3 table, then walks
 * that resume at the cached table: 8 + 4088 per sample), and without it (a second rig booted
 * with `gki,no-walk-cache`: a full 4-level walk per translation). Last, `model.miss.steady`:
 * model.miss once V8 has optimized the once-per-level-3-table part of the miss (which
 * model.miss's own 13 samples run too rarely for: see STEADY_PREWARM).
 */
function runStack(): Row[] {
  const r = boot({ preset: 'fvp' });
  const k = r.k;
  const PAGES = 4096;
  // The format alone, configured as the driver configures its stage-1 tables.
  const flush: IommuFlushOps = {
    tlbFlushAll() {},
    tlbFlushWalk() {},
    tlbAddPage(g, iova, granule) {
      if (!g) return;
      if (iova < g.start) g.start = iova;
      if (iova + granule - 1 > g.end) g.end = iova + granule - 1;
      g.pgsize = granule;
    },
  };
  const ops = allocIoPgtableOps(k, 'ARM_64_LPAE_S1', { quirks: 0, pgsizeBitmap: 0x40201000, ias: 48, oas: 44, coherentWalk: true, tlb: flush }, null);
  check(typeof ops !== 'number', `alloc_io_pgtable_ops: ${String(ops)}`);
  const fmt = ops as IoPgtableOps;
  const mapped = { mapped: 0 };
  const gather = iommuIotlbGatherInit();
  const pa = buffer(k, 0);
  const fmtMap = () => {
    for (let i = 0; i < PAGES; i++) if (fmt.mapPages(IOVA_BASE + i * SZ_4K, PA_BASE + i * SZ_4K, SZ_4K, 1, PROT, mapped) !== 0) throw new Error('map_pages failed');
  };
  const fmtUnmap = () => {
    for (let i = 0; i < PAGES; i++) if (fmt.unmapPages(IOVA_BASE + i * SZ_4K, SZ_4K, 1, gather) !== SZ_4K) throw new Error('unmap_pages failed');
  };
  const fmtUnmapAll = () => {
    // One call per level-3 table: the tables stay (the IOMMU core's iommu_unmap of the whole
    // range takes 2 MiB pages and frees them, see iommu.map1kept below).
    for (let i = 0; i < PAGES; i += 512) check(fmt.unmapPages(IOVA_BASE + i * SZ_4K, SZ_4K, 512, gather) === 512 * SZ_4K, 'unmap_pages of the range');
  };
  const fmtPair = () => {
    for (let i = 0; i < PAGES; i++) {
      if (fmt.mapPages(IOVA_BASE, pa, SZ_4K, 1, PROT, mapped) !== 0) throw new Error('map_pages failed');
      if (fmt.unmapPages(IOVA_BASE, SZ_4K, 1, gather) !== SZ_4K) throw new Error('unmap_pages failed');
    }
  };
  // The stack: an unmanaged domain on master 0, the DMA API on master 1 (its default DMA domain).
  const d = iommuDomainAlloc(r.masters[0]!);
  if (typeof d === 'number') throw new Error(`domain alloc: ${d}`);
  check(iommuAttachDevice(d, r.masters[0]!) === 0, 'attach failed');
  const shape = SHAPES[0]!;
  const iommuPair = () => {
    for (let i = 0; i < PAGES; i++) {
      if (iommuMap(d, IOVA_BASE, pa, SZ_4K, PROT) !== 0) throw new Error('iommu_map failed');
      if (iommuUnmap(d, IOVA_BASE, SZ_4K) !== SZ_4K) throw new Error('iommu_unmap failed');
    }
  };
  const dev = r.masters[1]!;
  const dmaPair = () => {
    for (let i = 0; i < PAGES; i++) {
      const a = dmaMapSingle(dev, pa, SZ_4K, DMA_BIDIRECTIONAL);
      if (a === DMA_MAPPING_ERROR) throw new Error('dma_map_single failed');
      if (dmaUnmapSingle(dev, a, SZ_4K, DMA_BIDIRECTIONAL) !== 0) throw new Error('dma_unmap_single failed');
    }
  };
  // TLB misses of the model on the driver's table, against iova_to_phys of the same mappings.
  const model = r.model;
  const sid = SIDS[0];
  const access: WalkAccess = { write: false, exec: false, priv: false };
  const out = { pa: 0 };
  let sink = 0;
  const sweepOf = (m: typeof model) => () => {
    let acc = 0;
    for (let i = 0; i < PAGES; i++) {
      if (!m.translate(sid, -1, IOVA_BASE + i * SZ_4K + 0x10, access, out)) throw new Error('translate failed');
      acc += out.pa;
    }
    sink += acc;
  };
  const modelSweep = sweepOf(model);
  // The same driver on a model without a walk cache: every miss walks all four levels. Booted
  // when its row starts (the rows before it then run with one kernel and one format instance
  // in the process, as they always did: a second one makes V8's code for them polymorphic).
  let coldRig: { r: Rig; d: IommuDomain; sweep: () => void } | undefined;
  const cold = () => {
    if (coldRig !== undefined) return coldRig;
    const c = boot({ preset: 'fvp', walkCache: false });
    const dc = iommuDomainAlloc(c.masters[0]!);
    if (typeof dc === 'number') throw new Error(`domain alloc: ${dc}`);
    check(iommuAttachDevice(dc, c.masters[0]!) === 0, 'attach failed');
    coldRig = { r: c, d: dc, sweep: sweepOf(c.model) };
    mapRange(dc, shape, false);
    iommuFlushIotlbAll(dc);
    const coldWalks = c.model.stats.walks;
    coldRig.sweep();
    check(c.model.stats.walks - coldWalks === PAGES && !c.model.walkCacheEnabled && out.pa === PA_BASE + shape.paSkew + (PAGES - 1) * SZ_4K + 0x10, 'cold model misses walk every page');
    unmapRange(dc, shape, false);
    return coldRig;
  };
  const fmtWalk = () => {
    let acc = 0;
    for (let i = 0; i < PAGES; i++) acc += fmt.iovaToPhys(IOVA_BASE + i * SZ_4K + 0x10);
    sink += acc;
  };

  // The steady state of model.miss (its own row, last, so that every row above keeps its
  // history): before its samples, the once-per-level-3-table part of a sweep (the first pages
  // of each table after the flush: a full walk, the walk-cache insert, the first fills) runs
  // STEADY_PREWARM times, enough for V8 to optimize it. In model.miss's 13 sweeps it runs 104
  // times, which V8 leaves unoptimized: that row is the figure of a short-lived process.
  const STEADY_PREWARM = 3000;
  let steadyReady = false;
  const steadyPrewarm = () => {
    if (steadyReady) return;
    mapRange(d, shape, false);
    for (let k = 0; k < STEADY_PREWARM; k++) {
      iommuFlushIotlbAll(d);
      for (let t = 0; t < PAGES; t += 512) {
        for (let i = t; i < t + 3; i++) if (!model.translate(sid, -1, IOVA_BASE + i * SZ_4K + 0x10, access, out)) throw new Error('translate failed');
      }
    }
    unmapRange(d, shape, false);
    steadyReady = true;
  };

  const bench = new Bench({ now: benchNow, iterations: RUNS, time: 0, warmupIterations: 2, warmupTime: 0, setup });
  // `addTimeCall: false`: tinybench calls a task's function once when it is added, without its
  // hooks, to tell whether it is async, unless told. For fmt.iova_to_phys that call walked an
  // empty table (4096 misses through iovaToPhysFull, a Smi sum): V8 optimized the loop for that,
  // the row's first real samples deoptimized it, and in about half of the processes the loop
  // then ran its samples in baseline code (15 or 20-27 ns/translation instead of 11).
  const cases: { id: string; name: string; run: () => void; before?: (mode?: string) => void; after?: (mode?: string) => void; beforeAll?: (mode?: string) => void; vs?: string; goal?: number; addTimeCall?: false }[] = [
    { id: 'fmt.map1', name: 'io-pgtable-arm map_pages, 1 page per call (tables allocated)', run: fmtMap, after: fmtUnmapAll },
    { id: 'iommu.map1', name: 'iommu_map, 1 page per call (tables allocated)', run: () => mapRange(d, shape, true), after: () => unmapRange(d, shape, false), vs: 'fmt.map1', goal: 1.5 },
    { id: 'fmt.unmap1', name: 'io-pgtable-arm unmap_pages, 1 page per call', before: fmtMap, run: fmtUnmap },
    // The unmap rows include what the format's unmap_pages does not do: a TLBI and a CMD_SYNC
    // written to the modelled command queue and consumed by the SMMU model. They are compared
    // with the format for information; the 1.5x goal of the IOMMU core's own overhead is
    // measured on a driver whose TLB operations do nothing (@gki/format-arm-lpae's bench).
    { id: 'iommu.unmap1', name: 'iommu_unmap, 1 page per call (+ TLBI + CMD_SYNC through the command queue)', before: () => mapRange(d, shape, false), run: () => unmapRange(d, shape, true), vs: 'fmt.unmap1' },
    { id: 'fmt.pair', name: 'map_pages + unmap_pages of one page', run: fmtPair },
    { id: 'iommu.pair', name: 'iommu_map + iommu_unmap of one page (+ TLBI + CMD_SYNC)', run: iommuPair, vs: 'fmt.pair' },
    { id: 'dma.pair', name: 'dma_map_single + dma_unmap_single of one page (+ TLBI + CMD_SYNC)', run: dmaPair, vs: 'iommu.pair', goal: 3 },
    { id: 'fmt.iova_to_phys', name: 'io-pgtable-arm iova_to_phys (table with the same mappings)', before: fmtMap, run: fmtWalk, after: fmtUnmapAll, addTimeCall: false },
    {
      id: 'model.miss',
      name: 'SMMUv3 model translate, TLB miss (walk of the driver\'s table)',
      before: () => {
        mapRange(d, shape, false);
        iommuFlushIotlbAll(d);
      },
      run: modelSweep,
      after: () => unmapRange(d, shape, false),
      vs: 'fmt.iova_to_phys',
      goal: 2,
    },
    {
      id: 'model.miss-cold',
      name: 'SMMUv3 model translate, TLB miss, no walk cache (full 4-level walk of the driver\'s table)',
      before: () => {
        mapRange(cold().d, shape, false);
        iommuFlushIotlbAll(cold().d);
      },
      run: () => cold().sweep(),
      after: () => unmapRange(cold().d, shape, false),
      vs: 'fmt.iova_to_phys',
    },
    // Like-for-like companion of iommu.map1 (which stays as it is), last so that the rows
    // above see the same warm-up as before it was added: iommu.map1's range iommu_unmap after
    // each sample frees the level-3 tables (iommu_pgsize picks 2 MiB pages for it), so each of
    // its samples allocates them again, which fmt.map1 (tables kept) does not. Here the pages
    // are unmapped one per call after each sample, which keeps the tables, as fmt.map1 does.
    { id: 'iommu.map1kept', name: 'iommu_map, 1 page per call (tables kept between samples, as map_pages\' row)', run: () => mapRange(d, shape, true), after: () => unmapRange(d, shape, true), vs: 'fmt.map1', goal: 1.5 },
    // model.miss in the steady state of its per-table path (see STEADY_PREWARM). Inert in
    // tinybench's warm-up phase (which runs every task's warm-up before any task's samples):
    // no hook, no sweep there, so the rows above see the same process as before it was added.
    {
      id: 'model.miss.steady',
      name: 'SMMUv3 model translate, TLB miss, as model.miss once its per-table path is optimized (steady state)',
      beforeAll: (mode) => {
        if (mode === 'run') steadyPrewarm();
      },
      before: (mode) => {
        if (mode !== 'run') return;
        mapRange(d, shape, false);
        iommuFlushIotlbAll(d);
      },
      run: () => {
        if (steadyReady) modelSweep();
      },
      after: (mode) => {
        if (mode === 'run') unmapRange(d, shape, false);
      },
      vs: 'fmt.iova_to_phys',
      goal: 2,
    },
  ];
  for (const c of cases) bench.add(c.id, c.run, { beforeEach: c.before, afterEach: c.after, beforeAll: c.beforeAll, ...(c.addTimeCall === false ? { async: false } : {}) });
  // tinybench runs each task once as it is added (to tell whether it is async), without its
  // hooks: iommu.map1kept, the last, leaves the domain mapped. Cleared one page per call (the
  // tables stay, as they do between that row's samples).
  for (let i = 0; i < PAGES; i++) iommuUnmap(d, IOVA_BASE + i * SZ_4K, SZ_4K);
  // Check once, untimed, that each case does what it says.
  fmtMap();
  check(fmt.iovaToPhys(IOVA_BASE + 5 * SZ_4K + 3) === PA_BASE + 5 * SZ_4K + 3, 'format mapping');
  fmtUnmapAll();
  mapRange(d, shape, false);
  iommuFlushIotlbAll(d);
  const walks = model.stats.walks;
  const wcHits = model.walkCacheCounters()!.hits;
  modelSweep();
  check(model.stats.walks - walks === PAGES && out.pa === PA_BASE + shape.paSkew + (PAGES - 1) * SZ_4K + 0x10, 'model misses walk every page');
  check(model.walkCacheCounters()!.hits - wcHits === PAGES - PAGES / 512, 'all but the first miss per level-3 table resume at the cached table');
  unmapRange(d, shape, false);
  bench.runSync();
  check(model.hitlessViolations.length === 0 && cold().r.model.hitlessViolations.length === 0 && sink !== 0, 'hitless violations');
  freeIoPgtableOps(k, fmt);
  const rows: Row[] = [];
  for (const t of bench.tasks) {
    const res = t.result;
    if (res.state !== 'completed') throw new Error(`${t.name}: ${res.state}`, { cause: res.state === 'errored' ? res.error : undefined });
    const c = cases.find((x) => x.id === t.name)!;
    const per = (ms: number) => (ms * 1e6) / PAGES;
    rows.push({ id: c.id, group: 'the stack against its parts (fvp preset, 4 KiB pages, one per call)', case: c.name, value: per(res.latency[STAT]), p50: per(res.latency.p50), unit: c.id.endsWith('pair') ? 'ns/map+unmap' : c.id.includes('miss') || c.id.includes('phys') ? 'ns/translation' : 'ns/page', min: per(res.latency.min), max: per(res.latency.max), ...(c.vs ? { vs: c.vs, goal: c.goal } : {}) });
  }
  return rows;
}

function report(rows: Row[], what: string): void {
  if (JSON_OUT) {
    console.log(JSON.stringify({ runs: RUNS, processes: PROCESSES, node: process.version, rows }, null, 2));
    return;
  }
  console.log(`arm_smmu_v3 through the stack, ns per page incl. TLBI + CMD_SYNC (${what})`);
  for (const g of [...new Set(rows.map((r) => r.group))]) {
    console.log(`\n${g}`);
    for (const r of rows.filter((x) => x.group === g)) {
      const range = r.min !== undefined ? `(${r.min.toFixed(0)}-${r.max!.toFixed(0)})` : '';
      const cmds = r.tlbiPerPage !== undefined ? ` TLBI/page ${r.tlbiPerPage.toFixed(3).padStart(6)}  SYNC/page ${r.syncPerPage!.toFixed(3)}` : '';
      const vs = r.vs ? rows.find((x) => x.id === r.vs) : undefined;
      const ratio = vs ? `  ${(r.value / vs.value).toFixed(2)}x "${vs.case}"${r.goal !== undefined ? ` (goal ${r.goal}x)` : ''}` : '';
      console.log(`  ${r.case.padEnd(66)} ${r.value.toFixed(0).padStart(7)} ${r.unit} ${range.padEnd(14)}${cmds}${ratio}`);
    }
  }
}

if (PROCESSES > 1) {
  const script = fileURLToPath(import.meta.url);
  const all: Row[][] = [];
  for (let p = 0; p < PROCESSES; p++) {
    const res = spawnSync(process.execPath, [...process.execArgv, script, '--json'], { encoding: 'utf8', env: process.env });
    if (res.status !== 0) throw new Error(`bench process failed: ${res.stderr}`);
    all.push((JSON.parse(res.stdout) as { rows: Row[] }).rows);
  }
  const rows = all[0]!.map((r0, j) => {
    const v = all.map((rs) => rs[j]!.value);
    return { ...r0, value: median(v), min: Math.min(...v), max: Math.max(...v) };
  });
  report(rows, `median of ${PROCESSES} processes x ${RUNS} samples, min-max over processes in brackets`);
} else {
  report([...runStack(), ...runPreset('fvp'), ...runPreset('qemu')], `median of ${RUNS} samples, min-max in brackets`);
}
