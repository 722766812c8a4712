import { describe, expect, it } from 'vitest';
import { ENOMEM } from '@gki/kernel';
import { IOMMU_READ, IOMMU_WRITE, type IoPgtableAllocator, type IoPgtableCfg } from '@gki/io-pgtable-core';
import { createArmLpaeOps, type ArmLpaeFmt } from '../src/index.js';
import { RAM_BASE, leavesOf, makeKernel } from './helpers/env.js';

const RW = IOMMU_READ | IOMMU_WRITE;

interface Shape {
  fmt: ArmLpaeFmt;
  bitmap: number;
  ias: number;
  oas: number;
  /** Smallest page size (maps at the last level, so every level below the PGD needs a table). */
  page: number;
}
const SHAPES: Shape[] = [
  { fmt: 'ARM_64_LPAE_S1', bitmap: 0x40201000, ias: 48, oas: 48, page: 0x1000 },
  { fmt: 'ARM_64_LPAE_S1', bitmap: 0x02004000, ias: 48, oas: 48, page: 0x4000 },
  { fmt: 'ARM_64_LPAE_S1', bitmap: 0x20010000, ias: 48, oas: 48, page: 0x10000 },
  { fmt: 'ARM_64_LPAE_S2', bitmap: 0x40201000, ias: 40, oas: 40, page: 0x1000 },
  { fmt: 'ARM_64_LPAE_S2', bitmap: 0x02004000, ias: 48, oas: 48, page: 0x4000 },
  { fmt: 'ARM_32_LPAE_S1', bitmap: 0x40201000, ias: 32, oas: 40, page: 0x1000 },
  { fmt: 'ARM_32_LPAE_S2', bitmap: 0x40201000, ias: 40, oas: 40, page: 0x1000 },
  { fmt: 'ARM_MALI_LPAE', bitmap: 0x40201000, ias: 48, oas: 40, page: 0x1000 },
];

function cfgOf(s: Shape): IoPgtableCfg {
  return { quirks: 0, pgsizeBitmap: s.bitmap, ias: s.ias, oas: s.oas, coherentWalk: true };
}

describe('table allocation failures (kernel.pages.injectFaults)', () => {
  for (const s of SHAPES) {
    const name = `${s.fmt} ${s.page / 1024}K ias${s.ias}`;
    it(`${name}: failing allocation k of N gives -ENOMEM, keeps prior mappings, leaks nothing`, () => {
      // a far IOVA so that the map needs a table at every level below the PGD
      const far = 2 ** (s.ias - 1) + 5 * s.page;
      // dry run: how many tables does that map allocate?
      const probe = makeKernel();
      const p = createArmLpaeOps(probe, s.fmt, cfgOf(s), null)!;
      expect(p.mapPages(0, 0x1000_0000, s.page, 1, RW, { mapped: 0 })).toBe(0);
      const calls0 = probe.pages.stats().allocCalls;
      expect(p.mapPages(far, 0x2000_0000, s.page, 1, RW, { mapped: 0 })).toBe(0);
      const n = probe.pages.stats().allocCalls - calls0;
      p.free();
      expect(n).toBeGreaterThanOrEqual(1);

      for (let k = 1; k <= n; k++) {
        const kernel = makeKernel();
        const ops = createArmLpaeOps(kernel, s.fmt, cfgOf(s), null)!;
        expect(ops.mapPages(0, 0x1000_0000, s.page, 1, RW, { mapped: 0 })).toBe(0);
        const leaves = leavesOf(ops);
        const inUse = kernel.pages.stats().pagesInUse;
        kernel.pages.injectFaults({ nth: k });
        const m = { mapped: 0 };
        expect(ops.mapPages(far, 0x2000_0000, s.page, 1, RW, m)).toBe(-ENOMEM);
        expect(m.mapped).toBe(0);
        expect(leavesOf(ops)).toEqual(leaves);
        expect(ops.iovaToPhys(0x123)).toBe(0x1000_0123);
        expect(ops.iovaToPhys(far)).toBe(0);
        // the tables installed before the failure stay (as in the kernel), reachable and empty
        expect(kernel.pages.stats().pagesInUse).toBe(inUse + (k - 1) * (s.page / 4096));
        kernel.pages.clearFaults();
        // a retry completes the walk, allocating only what is still missing
        const before = kernel.pages.stats().allocCalls;
        expect(ops.mapPages(far, 0x2000_0000, s.page, 1, RW, m)).toBe(0);
        expect(kernel.pages.stats().allocCalls - before).toBe(n - (k - 1));
        expect(ops.iovaToPhys(far + 1)).toBe(0x2000_0001);
        ops.free();
        expect(kernel.pages.snapshot()).toEqual([]);
      }
    });
  }

  it('a failed PGD allocation makes alloc return null, with cfg untouched and nothing leaked', () => {
    for (const s of SHAPES) {
      const kernel = makeKernel();
      const cfg = cfgOf(s);
      const copy = { ...cfg };
      kernel.pages.injectFaults({ nth: 1 });
      expect(createArmLpaeOps(kernel, s.fmt, cfg, null)).toBeNull();
      expect(cfg).toEqual(copy);
      expect(kernel.pages.snapshot()).toEqual([]);
      expect(kernel.pages.stats().injectedFailures).toBe(1);
    }
  });

  it('random failures over a long map sequence never leak or corrupt', () => {
    const kernel = makeKernel();
    const ops = createArmLpaeOps(kernel, 'ARM_64_LPAE_S1', cfgOf(SHAPES[0]!), null)!;
    kernel.pages.injectFaults({ probability: 0.3, seed: 7 });
    const model = new Map<number, number>();
    let failures = 0;
    for (let i = 0; i < 300; i++) {
      const iova = ((i * 7919) % 4096) * 0x20_0000 + (i % 3) * 0x1000; // spread over 8 GiB of 2M regions
      if (model.has(iova)) continue;
      const r = ops.mapPages(iova, 0x1_0000_0000 + i * 0x1000, 0x1000, 1, RW, { mapped: 0 });
      if (r === -ENOMEM) failures++;
      else {
        expect(r).toBe(0);
        model.set(iova, 0x1_0000_0000 + i * 0x1000);
      }
    }
    kernel.pages.clearFaults();
    expect(failures).toBeGreaterThan(0);
    for (const [iova, pa] of model) expect(ops.iovaToPhys(iova + 8)).toBe(pa + 8);
    expect(leavesOf(ops).length).toBe(model.size);
    ops.free();
    expect(kernel.pages.snapshot()).toEqual([]);
  });
});

describe('custom table allocator (cfg.allocator)', () => {
  function arena(kernel: ReturnType<typeof makeKernel>, failAfter = Infinity) {
    const log: string[] = [];
    let calls = 0;
    const a: IoPgtableAllocator = {
      alloc(cookie, size) {
        log.push(`alloc ${String(cookie)} ${size}`);
        if (++calls > failAfter) return -ENOMEM;
        // naturally aligned from the page allocator, like a driver's pool would be
        const order = Math.max(0, Math.ceil(Math.log2(size / 4096)));
        return kernel.pages.allocPages(order);
      },
      free(cookie, pa, size) {
        log.push(`free ${String(cookie)} ${size}`);
        kernel.pages.freePages(pa, Math.max(0, Math.ceil(Math.log2(Math.max(size, 64) / 4096))));
      },
    };
    return { a, log };
  }

  it('allocates every table (PGD at least 64 bytes) through it and frees with the table size', () => {
    const kernel = makeKernel();
    const { a, log } = arena(kernel);
    // 4K ias 32: a 4-entry (32-byte) PGD at level 1
    const cfg: IoPgtableCfg = { quirks: 0, pgsizeBitmap: 0x40201000, ias: 32, oas: 40, coherentWalk: true, allocator: a };
    const ops = createArmLpaeOps(kernel, 'ARM_64_LPAE_S1', cfg, 'ck')!;
    expect(ops.mapPages(0x1000, 0x1000, 0x1000, 1, RW, { mapped: 0 })).toBe(0);
    ops.free();
    expect(log).toEqual(['alloc ck 64', 'alloc ck 4096', 'alloc ck 4096', 'free ck 4096', 'free ck 4096', 'free ck 32']);
    expect(kernel.pages.snapshot()).toEqual([]);
  });

  it('its failures are -ENOMEM (map) and null (alloc)', () => {
    const kernel = makeKernel();
    const { a } = arena(kernel, 2);
    const cfg: IoPgtableCfg = { quirks: 0, pgsizeBitmap: 0x40201000, ias: 48, oas: 48, coherentWalk: true, allocator: a };
    const ops = createArmLpaeOps(kernel, 'ARM_64_LPAE_S1', cfg, null)!;
    expect(ops.mapPages(0x1000, 0x1000, 0x1000, 1, RW, { mapped: 0 })).toBe(-ENOMEM);
    ops.free();
    expect(kernel.pages.snapshot()).toEqual([]);
    const { a: none } = arena(kernel, 0);
    expect(createArmLpaeOps(kernel, 'ARM_64_LPAE_S1', { ...cfg, allocator: none }, null)).toBeNull();
    expect(kernel.pages.snapshot()).toEqual([]);
  });

  it('memory that cannot hold a table (misaligned or not RAM) is given back and treated as a failure', () => {
    const kernel = makeKernel();
    const freed: number[] = [];
    const bad: IoPgtableAllocator = { alloc: () => RAM_BASE + 0x800, free: (_c, pa) => void freed.push(pa) };
    const cfg: IoPgtableCfg = { quirks: 0, pgsizeBitmap: 0x40201000, ias: 48, oas: 48, coherentWalk: true, allocator: bad };
    expect(createArmLpaeOps(kernel, 'ARM_64_LPAE_S1', cfg, null)).toBeNull();
    expect(freed).toEqual([RAM_BASE + 0x800]);
  });
});
