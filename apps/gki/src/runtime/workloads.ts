/**
 * The workloads of `gki run` (and the shell's `run`): DMA through the DMA API on every DMA
 * master, GPU jobs in several contexts on every GPU, and a seeded random stress mix with
 * module unload attempts. Each returns plain data for the report (text or JSON); the checks
 * are real (copied bytes compared, checksums recomputed, faults seen where they must be).
 */
import {
  DMA_BIDIRECTIONAL,
  dmaMapSingle,
  dmaMappingError,
  dmaUnmapSingle,
  errnoName,
  IOMMU_FAULT_WRITE,
  type Device,
  type Kernel,
} from '@gki/kernel';
import { dmaTestChannel, dmaTestRun, DMA_TEST_STATUS_FAULT_BUS, DMA_TEST_STATUS_FAULT_WRITE, type DmaTestResult } from '../drivers/dma-test.js';
import { gpuTargets, type GpuContext, type GpuFault } from './gpu.js';
import { realMasterTargets, realStreamingOp, runRealMasters } from './real-dma.js';

export const WORKLOADS = ['dma', 'gpu', 'stress', 'all'] as const;
export type WorkloadName = (typeof WORKLOADS)[number];

/** A fault the run saw, decoded. */
export interface FaultRecord {
  readonly workload: string;
  readonly device: string;
  /** 'iommu' (translation by an IOMMU), 'bus' (direct DMA outside RAM), 'gpu-mmu'. */
  readonly source: 'iommu' | 'bus' | 'gpu-mmu';
  readonly address: number;
  readonly access: string;
  readonly type: string;
  /** Deliberate (the workload provoked it on purpose). */
  readonly deliberate: boolean;
  /** Resolved by the driver (a growable GPU heap), not an error. */
  readonly handled: boolean;
  readonly decoded: string;
}

export interface WorkloadResult {
  readonly name: 'dma' | 'gpu' | 'stress';
  readonly ok: boolean;
  readonly ops: number;
  readonly bytes: number;
  /** Host process time (CPU) and wall time the workload took, ms. */
  readonly cpuMs: number;
  readonly wallMs: number;
  /** Simulated time that passed on the board clock, ns. */
  readonly simNs: number;
  /** Human-readable lines (what was done, per device). */
  readonly lines: readonly string[];
  readonly faults: readonly FaultRecord[];
  /** Anything that went wrong (empty when ok). */
  readonly problems: readonly string[];
  /** Log-record index ranges in which error-level records are expected (deliberate faults). */
  readonly expectedErrorWindows: readonly [number, number][];
  /** Extra counters (stress: per operation kind, unload results). */
  readonly counts?: Readonly<Record<string, number>>;
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function hex(n: number): string {
  return '0x' + n.toString(16);
}

/** Devices bound to the DMA test driver. */
export function dmaMasters(kernel: Kernel): Device[] {
  return kernel.drivers.allDevices().filter((d) => dmaTestChannel(d) !== undefined);
}

class Meter {
  private readonly c0 = cpuMs();
  private readonly w0 = performance.now();
  private readonly t0: number;
  constructor(private readonly kernel: Kernel) {
    this.t0 = kernel.board.clock.now();
  }
  done(): { cpuMs: number; wallMs: number; simNs: number } {
    return { cpuMs: cpuMs() - this.c0, wallMs: performance.now() - this.w0, simNs: this.kernel.board.clock.now() - this.t0 };
  }
}

function dmaFault(workload: string, r: DmaTestResult): FaultRecord | null {
  const f = r.fault;
  if (!f) return null;
  const bus = (f.status & DMA_TEST_STATUS_FAULT_BUS) !== 0;
  const access = (f.status & DMA_TEST_STATUS_FAULT_WRITE) !== 0 ? 'write' : 'read';
  const iommu = f.iommu ? `; IOMMU fault handler got a ${f.iommu.flags & IOMMU_FAULT_WRITE ? 'write' : 'read'} fault at IOVA ${hex(f.iommu.iova)}` : '';
  return {
    workload,
    device: r.dev,
    source: bus ? 'bus' : 'iommu',
    address: f.faultAddr,
    access,
    type: bus ? 'bus error' : 'translation fault',
    deliberate: true,
    handled: false,
    decoded: `${r.translated ? 'translated' : 'direct'} DMA ${access} at ${hex(f.faultAddr)}: engine STATUS ${hex(f.status)} (${bus ? 'bus error' : 'translation fault'})${iommu}`,
  };
}

export interface DmaOptions {
  /** Copies per master (default 16). */
  readonly copies?: number;
  /** Bytes per copy (default 64 KiB + 0x123, so copies cross pages). */
  readonly len?: number;
  /** At most this many real masters (devices without a model of their own behind an SMMU model; default all). */
  readonly realMasters?: number;
}

/**
 * Every DMA master bound to the test driver copies through the DMA API (`copies` times,
 * coherent buffers each time: IOVAs mapped and unmapped behind an IOMMU) and takes one
 * deliberate fault (dma-test's bad address).
 */
export function runDma(kernel: Kernel, opts: DmaOptions = {}): WorkloadResult {
  const copies = opts.copies ?? 16;
  const len = opts.len ?? 0x1_0000 + 0x123;
  const m = new Meter(kernel);
  const lines: string[] = [];
  const problems: string[] = [];
  const faults: FaultRecord[] = [];
  const windows: [number, number][] = [];
  let ops = 0;
  let bytes = 0;
  const masters = dmaMasters(kernel);
  if (masters.length === 0) lines.push('no DMA master is bound to the dma-test driver');
  for (const dev of masters) {
    let okCopies = 0;
    let translated = false;
    for (let i = 0; i < copies; i++) {
      const r = dmaTestRun(dev, { len, noFault: true });
      translated = r.translated;
      ops++;
      if (r.ok) {
        okCopies++;
        bytes += len;
      } else problems.push(`${dev.name}: copy ${i} failed (${r.err}: ${errnoName(r.err)})`);
    }
    const from = kernel.log.all().length;
    const r = dmaTestRun(dev, { len: 0x1000 });
    windows.push([from, kernel.log.all().length]);
    const f = dmaFault('dma', r);
    if (f) faults.push(f);
    if (!r.faultOk) problems.push(`${dev.name}: the deliberate fault was not seen as expected`);
    lines.push(
      `${dev.name}: ${okCopies}/${copies} ${translated ? 'translated' : 'direct'} copies of ${len} bytes ok (${translated ? 'via IOVAs' : 'physical addresses'}); deliberate fault ${r.faultOk ? `seen (${f?.type})` : 'NOT seen'}`,
    );
  }
  // the tree's real masters (no model of their own) through the board's bus master ports
  const real = runRealMasters(kernel, kernel.board, 'dma', opts.realMasters !== undefined ? { maxMasters: opts.realMasters } : {});
  lines.push(...real.lines);
  problems.push(...real.problems);
  faults.push(...real.faults);
  windows.push(...real.windows);
  ops += real.ops;
  bytes += real.bytes;
  const exercised = real.translated + real.bypass + real.untranslated;
  lines.push(
    exercised + real.failed + real.skipped === 0
      ? 'no real master (a device with an IOMMU group on a bound SMMU model and no model of its own) on this board'
      : `real masters: ${exercised} exercised (${real.translated} translated, ${real.bypass} in bypass${real.untranslated ? `, ${real.untranslated} without an IOMMU` : ''}), ${real.failed} failed, ${real.skipped} skipped; ${real.bytes} bytes through the SMMU models; ${real.streams} further stream ID(s) checked; ${real.faultsSeen} after-unmap fault(s) seen`,
  );
  const counts = {
    'dma-test masters': masters.length,
    'real masters exercised': exercised,
    'real masters translated': real.translated,
    'real masters bypass': real.bypass,
    'real masters untranslated': real.untranslated,
    'real masters failed': real.failed,
    'real masters skipped': real.skipped,
    'real bytes translated': real.bytes,
    'real faults seen': real.faultsSeen,
    'real extra streams checked': real.streams,
  };
  return { name: 'dma', ok: problems.length === 0, ops, bytes, ...m.done(), lines, faults, problems, expectedErrorWindows: windows, counts };
}

export interface GpuOptions {
  /** Contexts (open files) per GPU (default 3). */
  readonly contexts?: number;
  /** Jobs per context (default 8). */
  readonly jobs?: number;
  /** Bytes per copy job (default 256 KiB). */
  readonly len?: number;
}

function gpuFault(workload: string, f: GpuFault, deliberate: boolean): FaultRecord {
  return { workload, device: f.device, source: 'gpu-mmu', address: f.address, access: f.access, type: f.type, deliberate, handled: f.handled, decoded: f.decoded };
}

/**
 * GPU jobs in several contexts (open files, each with its own GPU address space) on every GPU
 * of the board, interleaved so address-space slots are shared and reused; each job chain
 * fills, copies and checksums, and the result is checked. Then the deliberate faults: a
 * growable heap the driver extends, and a write nothing maps.
 */
export function runGpu(kernel: Kernel, opts: GpuOptions = {}): WorkloadResult {
  const nctx = opts.contexts ?? 3;
  const jobs = opts.jobs ?? 8;
  const len = opts.len ?? 0x4_0000;
  const m = new Meter(kernel);
  const lines: string[] = [];
  const problems: string[] = [];
  const faults: FaultRecord[] = [];
  const windows: [number, number][] = [];
  let ops = 0;
  let bytes = 0;
  const gpus = gpuTargets(kernel);
  if (gpus.length === 0) lines.push('no GPU is bound to a GPU driver of the image: nothing to do');
  for (const g of gpus) {
    const ctxs: GpuContext[] = [];
    for (let i = 0; i < nctx; i++) {
      const c = g.open();
      if (typeof c === 'number') problems.push(`${g.device}: open context ${i}: ${c} (${errnoName(c)})`);
      else ctxs.push(c);
    }
    let good = 0;
    const faultsBefore = g.faultCount();
    for (let j = 0; j < jobs; j++) {
      ctxs.forEach((c, i) => {
        const r = c.copy(len, j * 31 + i + 1);
        ops++;
        if (r > 0) {
          good++;
          bytes += r;
        } else problems.push(`${g.device}: context ${i} job ${j}: ${r} (${errnoName(r)})`);
      });
    }
    if (g.faultCount() !== faultsBefore) problems.push(`${g.device}: ${g.faultCount() - faultsBefore} unexpected GPU fault(s) during the copies`);
    // asked while the files are open (a closed msm file answers nothing)
    const spaces = ctxs.length > 0 && ctxs.every((c) => !c.ownAddressSpace) ? "sharing the GPU's one address space" : 'each its own GPU address space';
    for (const c of ctxs) c.close();
    const from = kernel.log.all().length;
    const f = g.faults();
    windows.push([from, kernel.log.all().length]);
    for (const x of f.faults) faults.push(gpuFault('gpu', x, true));
    if (!f.ok) problems.push(`${g.device}: deliberate faults: ${f.lines.join('; ')}`);
    lines.push(`${g.device} (${g.name}): ${good}/${jobs * ctxs.length} copy jobs ok in ${ctxs.length} contexts (${spaces}), checked by the CPU`);
    for (const l of f.lines) lines.push(`${g.device}: ${l}`);
  }
  return { name: 'gpu', ok: problems.length === 0, ops, bytes, ...m.done(), lines, faults, problems, expectedErrorWindows: windows };
}

/** mulberry32: a small seeded PRNG, so a stress run is reproducible from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface StressOptions {
  readonly seed: number;
  /** Stop after this many operations... */
  readonly ops?: number;
  /** ...or after this many seconds of wall time (whichever is given; default 1000 ops). */
  readonly seconds?: number;
}

/**
 * A seeded random mix: streaming DMA mappings (map, device copy, unmap), DMA engine copies,
 * GPU jobs in a changing set of contexts, and attempts to unload a random module (-EBUSY while
 * in use, with the loader's message; a module that does go is loaded back a few operations
 * later, and its devices bind again). Ends with every unloaded module back and every context
 * closed; the page allocator must be back where it started.
 */
export function runStress(kernel: Kernel, opts: StressOptions): WorkloadResult {
  const rnd = prng(opts.seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const maxOps = opts.seconds !== undefined ? Infinity : (opts.ops ?? 1000);
  const deadline = opts.seconds !== undefined ? performance.now() + opts.seconds * 1000 : Infinity;
  const m = new Meter(kernel);
  const lines: string[] = [];
  const problems: string[] = [];
  const counts: Record<string, number> = {};
  const count = (k: string) => (counts[k] = (counts[k] ?? 0) + 1);
  const pagesAtStart = kernel.pages.stats().pagesInUse;
  const liveAtStart = kernel.modules.list().filter((x) => !x.builtin && x.state === 'live').map((x) => x.name);
  const contexts = new Map<string, GpuContext[]>();
  const pendingReload: { name: string; at: number }[] = [];
  // the real masters the DMA steps use when no DMA-test device exists: looked up again after
  // every module unload or reload (an SMMU driver going takes its groups and domains with it)
  let realTargets: ReturnType<typeof realMasterTargets> | null = null;
  let ops = 0;
  let bytes = 0;

  const reload = (name: string) => {
    realTargets = null;
    const r = kernel.modules.modprobe(name);
    count(r === 0 ? 'modprobe ok' : 'modprobe failed');
    if (r !== 0) problems.push(`modprobe ${name} after its unload: ${r} (${errnoName(r)})`);
  };

  while (ops < maxOps && performance.now() < deadline) {
    for (let i = pendingReload.length - 1; i >= 0; i--) {
      if (pendingReload[i]!.at <= ops) {
        reload(pendingReload[i]!.name);
        pendingReload.splice(i, 1);
      }
    }
    ops++;
    const kind = rnd();
    if (kind < 0.3) {
      // a streaming mapping: map a few pages, let the engine read them, unmap
      const devs = kernel.drivers.allDevices().filter((d) => dmaTestChannel(d) !== undefined);
      if (devs.length === 0) {
        // a real tree: the same streaming mapping on a real master, driven through its bus master port
        realTargets ??= realMasterTargets(kernel, kernel.board);
        const real = realTargets;
        if (real.length === 0) {
          count('dma-map skipped');
          continue;
        }
        const t = pick(real);
        const order = Math.floor(rnd() * 3);
        const off = Math.floor(rnd() * 16) * 0x100;
        const res = realStreamingOp(kernel, t, order, off, Math.min(256, (0x1000 << order) - off), Math.floor(rnd() * 1e9));
        if (typeof res === 'string') problems.push(res);
        else bytes += res;
        count('dma-map real master');
        continue;
      }
      const dev = pick(devs);
      const order = Math.floor(rnd() * 3);
      const pa = kernel.pages.allocPages(order);
      if (pa < 0) {
        problems.push(`alloc_pages(${order}): ${pa}`);
        continue;
      }
      const size = 0x1000 << order;
      const off = Math.floor(rnd() * 16) * 0x100;
      const dma = dmaMapSingle(dev, pa + off, size - off, DMA_BIDIRECTIONAL);
      if (dmaMappingError(dev, dma)) problems.push(`${dev.name}: dma_map_single of ${size - off} bytes failed`);
      else {
        const ch = dmaTestChannel(dev)!;
        const st = ch.copy(dma, dma, Math.min(256, size - off));
        if ((st & 2) === 0) problems.push(`${dev.name}: engine copy within a streaming mapping: STATUS ${hex(st)}`);
        else bytes += Math.min(256, size - off);
        const u = dmaUnmapSingle(dev, dma, size - off, DMA_BIDIRECTIONAL);
        if (u !== 0) problems.push(`${dev.name}: dma_unmap_single: ${u}`);
      }
      kernel.pages.freePages(pa, order);
      count('dma-map');
    } else if (kind < 0.5) {
      const devs = kernel.drivers.allDevices().filter((d) => dmaTestChannel(d) !== undefined);
      if (devs.length === 0) {
        count('dma-copy skipped');
        continue;
      }
      const len = 1 + Math.floor(rnd() * 0x8000);
      const r = dmaTestRun(pick(devs), { len, noFault: true });
      if (r.ok) bytes += len;
      else problems.push(`${r.dev}: DMA copy of ${len} bytes failed (${r.err})`);
      count('dma-copy');
    } else if (kind < 0.8) {
      const gpus = gpuTargets(kernel);
      if (gpus.length === 0) {
        count('gpu-job skipped');
        continue;
      }
      const g = pick(gpus);
      const list = contexts.get(g.device) ?? [];
      contexts.set(g.device, list);
      const r = rnd();
      if (list.length === 0 || (list.length < 4 && r < 0.2)) {
        const c = g.open();
        if (typeof c === 'number') problems.push(`${g.device}: open: ${c}`);
        else list.push(c);
        count('gpu-open');
      } else if (r < 0.3) {
        const c = list.splice(Math.floor(rnd() * list.length), 1)[0]!;
        const e = c.close();
        if (e !== 0) problems.push(`${g.device}: close: ${e}`);
        count('gpu-close');
      } else {
        const len = 4 * (1 + Math.floor(rnd() * 0x4000));
        const res = pick(list).copy(len, Math.floor(rnd() * 1e9));
        if (res > 0) bytes += res;
        else problems.push(`${g.device}: GPU copy of ${len} bytes: ${res} (${errnoName(res)})`);
        count('gpu-job');
      }
    } else if (kind < 0.9) {
      // unload attempt: -EBUSY while in use; a module that goes comes back a little later
      const live = kernel.modules.list().filter((x) => !x.builtin && x.state === 'live');
      if (live.length === 0) continue;
      const name = pick(live).name;
      if (name === 'panfrost' || name === 'msm') {
        // a GPU module can only go once its files are closed: stress closes them first half the time
        if (rnd() < 0.5) {
          for (const [dev, list] of contexts) {
            for (const c of list) c.close();
            contexts.set(dev, []);
          }
        }
      }
      const r = kernel.modules.unload(name);
      realTargets = null;
      count(r === 0 ? 'rmmod ok' : `rmmod ${errnoName(r)}`);
      // a GPU module only goes once its files are closed, so no context of its GPUs is left
      if (r === 0) pendingReload.push({ name, at: ops + 1 + Math.floor(rnd() * 8) });
    } else {
      // module refcount / lsmod-style look-ups and an iova_to_phys check of a live DMA buffer
      const devs = kernel.drivers.allDevices().filter((d) => dmaTestChannel(d) !== undefined);
      if (devs.length > 0) {
        const r = dmaTestRun(pick(devs), { len: 64, noFault: true });
        if (!r.ok) problems.push(`${r.dev}: small DMA copy failed (${r.err})`);
        else bytes += 64;
      }
      count('small-copy');
    }
  }
  for (const p of pendingReload) reload(p.name);
  for (const list of contexts.values()) for (const c of list) c.close();
  // every module that went is back (the reloads above): what was loaded at the start is loaded
  for (const name of liveAtStart) if (!kernel.modules.list().some((x) => x.name === name && x.state === 'live')) problems.push(`${name} is not loaded at the end`);
  // (pages in use may be higher than at the start: IOMMU domains keep the page-table levels new
  // IOVAs needed until the domain is freed; the report's after-shutdown count is the leak check)
  const pagesAtEnd = kernel.pages.stats().pagesInUse;
  const mix = Object.entries(counts)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  lines.push(`seed ${opts.seed}: ${ops} operations: ${mix}`);
  lines.push(`pages in use ${pagesAtStart} before, ${pagesAtEnd} after`);
  return { name: 'stress', ok: problems.length === 0, ops, bytes, ...m.done(), lines, faults: [], problems, expectedErrorWindows: [], counts };
}
