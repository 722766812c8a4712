import { createWalkResult, walk, walkConfigFromIoPgtableCfg } from '@gki/hw';
import {
  allocIoPgtableOps,
  freeIoPgtableOps,
  IOMMU_READ,
  IOMMU_WRITE,
  type IoPgtableCfg,
  type IoPgtableFmt,
} from '@gki/io-pgtable-core';
import { errnoName, type Kernel } from '@gki/kernel';

/** One format's boot-time check, for the CLI to print. */
export interface PgtableSelftestResult {
  fmt: IoPgtableFmt;
  ok: boolean;
  /** The format's module is not in the image, so the format was not tried. */
  skipped?: boolean;
  lines: string[];
}

interface Plan {
  fmt: IoPgtableFmt;
  cfg: () => IoPgtableCfg;
  /** [iova, pa, pgsize, pgcount] runs to map. */
  runs: [number, number, number, number][];
  /** The module that implements the format (its refcount is shown while the table lives). */
  module: string;
}

const SZ_4K = 0x1000;
const SZ_1M = 0x10_0000;
const SZ_2M = 0x20_0000;

const PLANS: Plan[] = [
  {
    fmt: 'ARM_64_LPAE_S1',
    module: 'io-pgtable-arm',
    cfg: () => ({ quirks: 0, pgsizeBitmap: SZ_4K + SZ_2M + 0x4000_0000, ias: 48, oas: 48, coherentWalk: true }),
    runs: [
      [0x10_0000_0000, 0x8000_0000, SZ_4K, 16],
      [0x10_0020_0000, 0x9000_0000, SZ_2M, 2],
    ],
  },
  {
    fmt: 'ARM_V7S',
    module: 'io-pgtable-arm-v7s',
    cfg: () => ({ quirks: 0, pgsizeBitmap: SZ_4K + 0x1_0000 + SZ_1M + 0x100_0000, ias: 32, oas: 32, coherentWalk: true }),
    runs: [
      [0x1000_0000, 0x8000_0000, SZ_4K, 16],
      [0x2000_0000, 0x9000_0000, SZ_1M, 2],
    ],
  },
];

/**
 * Allocates a page table of each format through the io-pgtable core (as an IOMMU driver
 * would), maps a few pages and blocks, checks every mapped page with the board's own table
 * walker, unmaps, frees, and checks the page allocator is back where it started: a boot-time
 * self-test in the spirit of the kernel's io-pgtable self-tests, but end to end. A format
 * whose module `inImage` says the image lacks is skipped.
 */
export function pgtableSelftest(kernel: Kernel, inImage: (module: string) => boolean = () => true): PgtableSelftestResult[] {
  const results: PgtableSelftestResult[] = [];
  const res = createWalkResult();
  for (const plan of PLANS) {
    const lines: string[] = [];
    if (!inImage(plan.module)) {
      results.push({ fmt: plan.fmt, ok: true, skipped: true, lines: [`skipped: ${plan.module} is not in the image`] });
      continue;
    }
    const fail = (msg: string) => {
      lines.push(`FAIL: ${msg}`);
      results.push({ fmt: plan.fmt, ok: false, lines });
    };
    const before = kernel.pages.stats().pagesInUse;
    const refBefore = kernel.modules.find(plan.module)?.refcount ?? 0;
    const cfg = plan.cfg();
    const ops = allocIoPgtableOps(kernel, plan.fmt, cfg, null);
    if (typeof ops === 'number') {
      fail(`alloc_io_pgtable_ops: ${ops} (${errnoName(ops)})`);
      continue;
    }
    const mod = kernel.modules.find(plan.module);
    lines.push(`allocated through the core; ${plan.module} refcount ${refBefore} -> ${mod?.refcount ?? '?'} while the table lives`);
    const out = { mapped: 0 };
    let bad = '';
    for (const [iova, pa, pgsize, pgcount] of plan.runs) {
      out.mapped = 0;
      const ret = ops.mapPages(iova, pa, pgsize, pgcount, IOMMU_READ | IOMMU_WRITE, out);
      if (ret !== 0 || out.mapped !== pgsize * pgcount) bad ||= `map ${iova.toString(16)}: ret ${ret}, mapped ${out.mapped}`;
    }
    const wcfg = walkConfigFromIoPgtableCfg(plan.fmt, cfg);
    let checked = 0;
    for (const [iova, pa, pgsize, pgcount] of plan.runs) {
      for (let off = 0; off < pgsize * pgcount && !bad; off += SZ_4K) {
        const okWalk = walk(kernel.mem, wcfg, iova + off, { write: true, exec: false, priv: false }, res);
        if (!okWalk || res.oa !== pa + off) bad = `walker: ${(iova + off).toString(16)} -> ${okWalk ? res.oa.toString(16) : res.fault}`;
        else if (ops.iovaToPhys(iova + off) !== pa + off) bad = `iova_to_phys disagrees with the walker at ${(iova + off).toString(16)}`;
        checked++;
      }
    }
    const mappedBytes = plan.runs.reduce((s, r) => s + r[2] * r[3], 0);
    let unmapped = 0;
    for (const [iova, , pgsize, pgcount] of plan.runs) unmapped += Math.max(0, ops.unmapPages(iova, pgsize, pgcount, null));
    if (unmapped !== mappedBytes) bad ||= `unmapped ${unmapped} of ${mappedBytes} bytes`;
    const walkAfter = walk(kernel.mem, wcfg, plan.runs[0]![0], { write: false, exec: false, priv: false }, res);
    if (walkAfter) bad ||= 'walker still translates after unmap';
    freeIoPgtableOps(kernel, ops);
    const after = kernel.pages.stats().pagesInUse;
    if (after !== before) bad ||= `page allocator: ${after - before} page(s) leaked`;
    if ((mod?.refcount ?? 0) !== refBefore) bad ||= `${plan.module} refcount ${mod?.refcount ?? '?'} after free, ${refBefore} before`;
    if (bad) {
      fail(bad);
      continue;
    }
    lines.push(`mapped ${mappedBytes / 1024} KiB in ${plan.runs.length} runs, ${checked} pages agree with the walker, unmapped, freed`);
    lines.push(`pages in use back to ${after}; ${plan.module} refcount back to ${mod?.refcount ?? '?'}`);
    results.push({ fmt: plan.fmt, ok: true, lines });
  }
  return results;
}
