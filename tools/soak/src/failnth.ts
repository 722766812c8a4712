/**
 * fail-nth over every page allocation of a random sequence: the sequence is run once to count
 * its allocations, then once per allocation with exactly that one failing (the kernel's
 * fail_page_alloc "nth"). LPAE tables are compared with the reference model step by step (the
 * failing table allocation is -ENOMEM, the tables made before it stay, as in the kernel); v7s
 * tables must fail the map with -ENOMEM and stay consistent with the hardware walker. Every
 * run ends with the table freed and the allocator exactly where it started.
 */
import { createWalkResult, walk, walkConfigFromIoPgtableCfg, type WalkAccess } from '@gki/hw';
import { ENOMEM, createIoPgtableHost } from '@gki/kernel';
import { IOMMU_READ, IOMMU_WRITE, freeIoPgtableOps, type IoPgtableCfg, type IoPgtableFmt, type IoPgtableOps } from '@gki/io-pgtable-core';
import { createArmLpaeOps, type ArmLpaeFmt } from '@gki/format-arm-lpae';
import { createArmV7sOps } from '@gki/format-arm-v7s';
import { LpaeRef, Rng } from '@gki/testkit';
import type { SoakFailure } from './pgtable.js';

export interface FailNthResult {
  readonly fmt: IoPgtableFmt;
  readonly seed: number;
  /** Operations in the sequence. */
  readonly ops: number;
  /** Page allocations the sequence makes (PGD included): one run each with that one failing. */
  readonly allocations: number;
  readonly runs: number;
  /** Runs where the injected failure surfaced as -ENOMEM (or a null alloc for the PGD). */
  readonly enomem: number;
  readonly failures: SoakFailure[];
}

interface Op {
  map: boolean;
  iova: number;
  pa: number;
  size: number;
  count: number;
}

const CFG: Record<IoPgtableFmt, Omit<IoPgtableCfg, 'coherentWalk' | 'quirks'>> = {
  ARM_64_LPAE_S1: { pgsizeBitmap: 0x4020_1000, ias: 48, oas: 48 },
  ARM_64_LPAE_S2: { pgsizeBitmap: 0x4020_1000, ias: 40, oas: 40 },
  ARM_32_LPAE_S1: { pgsizeBitmap: 0x4020_1000, ias: 32, oas: 40 },
  ARM_32_LPAE_S2: { pgsizeBitmap: 0x4020_1000, ias: 40, oas: 40 },
  ARM_MALI_LPAE: { pgsizeBitmap: 0x4020_1000, ias: 48, oas: 40 },
  ARM_V7S: { pgsizeBitmap: 0x0111_1000 | 0x1_0000, ias: 32, oas: 32 },
};

/** A random sequence spreading pages and blocks over the whole input range (many tables). */
function sequence(fmt: IoPgtableFmt, seed: number, n: number): Op[] {
  const rng = new Rng(seed);
  const c = CFG[fmt];
  const sizes = fmt === 'ARM_V7S' ? [0x1000, 0x1_0000, 0x10_0000] : [0x1000, 0x20_0000];
  const ops: Op[] = [];
  const mapped: Op[] = [];
  for (let i = 0; i < n; i++) {
    if (mapped.length > 0 && rng.chance(0.3)) {
      const m = mapped.splice(rng.below(mapped.length), 1)[0]!;
      ops.push({ ...m, map: false });
      continue;
    }
    const size = sizes[rng.below(sizes.length)]!;
    const iova = rng.below(2 ** c.ias / size - 64) * size;
    const count = 1 + rng.below(4);
    const pa = rng.below(2 ** Math.min(c.oas, 32) / size - 8) * size;
    const op = { map: true, iova, pa, size, count };
    ops.push(op);
    mapped.push(op);
  }
  return ops;
}

const access: WalkAccess = { write: false, exec: false, priv: true };

/** fail-nth over the allocations of one random sequence of `n` operations on `fmt`. */
export function runFailNth(fmt: IoPgtableFmt, seed: number, n = 150, deadline?: number): FailNthResult {
  const ops = sequence(fmt, seed, n);
  const failures: SoakFailure[] = [];
  // one clean run to count the allocations
  const clean = runOnce(fmt, ops, 0);
  if (clean.error) failures.push({ what: `${fmt} fail-nth (no injection)`, seed, op: clean.at, detail: clean.error });
  let runs = 0;
  let enomem = 0;
  for (let nth = 1; nth <= clean.allocations && failures.length === 0; nth++) {
    if (deadline !== undefined && Date.now() >= deadline) break;
    const r = runOnce(fmt, ops, nth);
    runs++;
    if (r.sawEnomem) enomem++;
    if (r.error) failures.push({ what: `${fmt} fail-nth ${nth}`, seed, op: r.at, detail: r.error });
    else if (!r.sawEnomem) failures.push({ what: `${fmt} fail-nth ${nth}`, seed, op: -1, detail: 'the injected failure never surfaced as -ENOMEM' });
  }
  return { fmt, seed, ops: ops.length, allocations: clean.allocations, runs, enomem, failures };
}

function runOnce(fmt: IoPgtableFmt, ops: Op[], nth: number): { allocations: number; sawEnomem: boolean; error?: string; at: number } {
  const host = createIoPgtableHost({ ramSize: 64 * 2 ** 20 });
  const start = host.pages.snapshot();
  const calls0 = host.pages.stats().allocCalls;
  if (nth > 0) host.pages.injectFaults({ nth });
  const cfg: IoPgtableCfg = { quirks: 0, coherentWalk: true, ...CFG[fmt] };
  const copy = JSON.stringify(cfg);
  const t: IoPgtableOps | null = fmt === 'ARM_V7S' ? createArmV7sOps(host, cfg, null) : createArmLpaeOps(host, fmt as ArmLpaeFmt, cfg, null);
  const allocations = () => host.pages.stats().allocCalls - calls0;
  if (!t) {
    // only the PGD allocation may fail here; nothing may be left behind, cfg untouched
    if (nth !== 1) return { allocations: allocations(), sawEnomem: false, error: 'alloc failed without an injected PGD failure', at: -1 };
    if (JSON.stringify(cfg) !== copy) return { allocations: 1, sawEnomem: true, error: 'a failed alloc changed cfg', at: -1 };
    if (host.pages.stats().pagesInUse !== 0) return { allocations: 1, sawEnomem: true, error: 'a failed alloc leaked pages', at: -1 };
    return { allocations: 1, sawEnomem: true, at: -1 };
  }
  const lpae = fmt !== 'ARM_V7S';
  const g = (t as { geometry?: { granule: number; startLevel: number; pgdBits: number } }).geometry;
  const model = lpae && g ? new LpaeRef({ granule: g.granule, startLevel: g.startLevel, pgdEntries: 2 ** g.pgdBits }) : null;
  if (model && nth > 1) model.failAttempt = nth - 1; // allocation 1 is the PGD
  let sawEnomem = false;
  const wcfg = walkConfigFromIoPgtableCfg(fmt, (t as unknown as { cfg: IoPgtableCfg }).cfg);
  const out = createWalkResult();
  try {
    for (const [i, op] of ops.entries()) {
      if (op.map) {
        const m = { mapped: 0 };
        const ret = t.mapPages(op.iova, op.pa, op.size, op.count, IOMMU_READ | IOMMU_WRITE, m);
        if (ret === -ENOMEM) sawEnomem = true;
        if (model) {
          const [wr, wm] = model.map(op.iova, op.pa, op.size, op.count, IOMMU_READ | IOMMU_WRITE);
          if (ret !== wr || m.mapped !== wm) return { allocations: allocations(), sawEnomem, error: `op ${i} map = ${ret}/${m.mapped}, model ${wr}/${wm}`, at: i };
        } else if (ret !== 0 && ret !== -ENOMEM && ret !== -17) return { allocations: allocations(), sawEnomem, error: `op ${i} map = ${ret}`, at: i };
      } else {
        const ret = t.unmapPages(op.iova, op.size, op.count, null);
        if (model) {
          const want = model.unmap(op.iova, op.size, op.count);
          if (ret !== want) return { allocations: allocations(), sawEnomem, error: `op ${i} unmap = ${ret}, model ${want}`, at: i };
        }
      }
    }
    // whatever is mapped now is what the hardware walker sees
    let bad: string | null = null;
    t.walkLeaves!((l) => {
      if (bad) return;
      const pa = t.iovaToPhys(l.iova);
      if (!walk(host.mem, wcfg, l.iova, access, out) || out.oa !== pa) bad = `leaf 0x${l.iova.toString(16)}: walker ${out.oa}, iova_to_phys ${pa}`;
      if (model && model.translate(l.iova) !== pa) bad = `leaf 0x${l.iova.toString(16)}: model ${model.translate(l.iova)}, table ${pa}`;
    });
    if (bad) return { allocations: allocations(), sawEnomem, error: bad, at: ops.length };
    host.pages.clearFaults();
    const total = allocations();
    freeIoPgtableOps(t);
    const end = host.pages.snapshot();
    if (host.pages.stats().pagesInUse !== 0 || JSON.stringify(end) !== JSON.stringify(start))
      return { allocations: total, sawEnomem, error: `${host.pages.stats().pagesInUse} page(s) leaked`, at: ops.length };
    return { allocations: total, sawEnomem, at: ops.length };
  } catch (e) {
    return { allocations: allocations(), sawEnomem, error: `threw ${String(e)}`, at: -1 };
  }
}
