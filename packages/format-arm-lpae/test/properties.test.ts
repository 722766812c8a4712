/**
 * Property tests: random map / unmap / overlapping-map sequences per format and granule, against
 * a plain reference model (leaf IOVA -> PA and size) and, as an independent judge, the hardware
 * table walker of @gki/hw. After every step the format's iova_to_phys and the walker agree with
 * the model on every mapped leaf and on random addresses; after free the allocator is back at
 * its starting state.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createWalkResult, walk, walkConfigFromIoPgtableCfg, type WalkAccess } from '@gki/hw';
import { EEXIST, ENOENT } from '@gki/kernel';
import { IOMMU_READ, IOMMU_WRITE, type IoPgtableCfg } from '@gki/io-pgtable-core';
import { createArmLpaeOps, type ArmLpaeFmt, type ArmLpaeIoPgtable } from '../src/index.js';
import { leavesOf, makeKernel } from './helpers/env.js';

interface Shape {
  fmt: ArmLpaeFmt;
  bitmap: number;
  ias: number;
  oas: number;
  /** The page size and the next block size: the window mixes both. */
  sizes: [number, number];
}
const K = 1024;
const M = K * K;
const SHAPES: Shape[] = [
  { fmt: 'ARM_64_LPAE_S1', bitmap: 0x40201000, ias: 48, oas: 48, sizes: [4 * K, 2 * M] },
  { fmt: 'ARM_64_LPAE_S1', bitmap: 0x02004000, ias: 48, oas: 48, sizes: [16 * K, 32 * M] },
  { fmt: 'ARM_64_LPAE_S1', bitmap: 0x20010000, ias: 48, oas: 48, sizes: [64 * K, 512 * M] },
  { fmt: 'ARM_64_LPAE_S2', bitmap: 0x40201000, ias: 40, oas: 40, sizes: [4 * K, 2 * M] },
  { fmt: 'ARM_64_LPAE_S2', bitmap: 0x02004000, ias: 40, oas: 40, sizes: [16 * K, 32 * M] },
  { fmt: 'ARM_64_LPAE_S2', bitmap: 0x20010000, ias: 48, oas: 48, sizes: [64 * K, 512 * M] },
  { fmt: 'ARM_32_LPAE_S1', bitmap: 0x40201000, ias: 32, oas: 40, sizes: [4 * K, 2 * M] },
  { fmt: 'ARM_32_LPAE_S2', bitmap: 0x40201000, ias: 40, oas: 40, sizes: [4 * K, 2 * M] },
  { fmt: 'ARM_MALI_LPAE', bitmap: 0x40201000, ias: 48, oas: 40, sizes: [4 * K, 2 * M] },
];

type Op =
  | { kind: 'map'; big: boolean; slot: number; count: number; pa: number }
  | { kind: 'unmap'; pick: number }
  | { kind: 'overlap'; pick: number; big: boolean }
  | { kind: 'partial'; pick: number; sub: number }
  | { kind: 'hole'; slot: number };

const SLOTS = 2048;
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('map' as const), big: fc.boolean(), slot: fc.nat(SLOTS - 1), count: fc.integer({ min: 1, max: 40 }), pa: fc.nat(4095) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('unmap' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('overlap' as const), pick: fc.nat(), big: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('partial' as const), pick: fc.nat(), sub: fc.nat(511) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('hole' as const), slot: fc.nat(SLOTS - 1) }) },
);

const RW = IOMMU_READ | IOMMU_WRITE;
const access: WalkAccess = { write: false, exec: false, priv: true };

function runSequence(s: Shape, ops: Op[]): void {
  const kernel = makeKernel(64);
  const start = kernel.pages.snapshot();
  const cfg: IoPgtableCfg = { quirks: 0, pgsizeBitmap: s.bitmap, ias: s.ias, oas: s.oas, coherentWalk: true };
  const t = createArmLpaeOps(kernel, s.fmt, cfg, null) as ArmLpaeIoPgtable;
  expect(t).not.toBeNull();
  const wcfg = walkConfigFromIoPgtableCfg(s.fmt, t.cfg);
  const out = createWalkResult();
  const [page, block] = s.sizes;
  const entries = page / 8; // entries per table below the PGD
  // a window of 4 blocks near the top of the input range (upper index bits in play)
  const base = 2 ** s.ias - 8 * block;
  const window = 4 * block;
  /** The model: leaf IOVA -> { pa, size }; and the runs that were mapped (for unmaps). */
  const leaves = new Map<number, { pa: number; size: number }>();
  const runs: { iova: number; size: number; n: number }[] = [];
  const leafAt = (a: number) => {
    const b = leaves.get(Math.floor(a / block) * block);
    if (b && b.size === block) return { iova: Math.floor(a / block) * block, ...b };
    const p = leaves.get(Math.floor(a / page) * page);
    if (p && p.size === page) return { iova: Math.floor(a / page) * page, ...p };
    return null;
  };
  const expectPa = (a: number) => {
    const l = leafAt(a);
    return l ? l.pa + (a - l.iova) : 0;
  };
  const check = (a: number) => {
    const want = expectPa(a);
    expect(t.iovaToPhys(a)).toBe(want);
    const ok = walk(kernel.mem, wcfg, a, access, out);
    if (want) {
      expect(ok).toBe(true);
      expect(out.oa).toBe(want);
    } else {
      expect(ok).toBe(false);
      expect(out.fault).toBe('translation');
    }
  };

  let probe = 0;
  for (const op of ops) {
    const m = { mapped: 0 };
    switch (op.kind) {
      case 'map': {
        const size = op.big ? block : page;
        const iova = base + ((op.slot * page) % window) - ((op.slot * page) % window) % size;
        // expected run length: the rest of this table
        const idx = Math.floor(iova / size) % entries;
        const n = Math.min(op.count, entries - idx, Math.floor((base + window - iova) / size));
        // only map free ranges (the reference model is a plain map of leaves)
        let free = true;
        for (let a = iova; a < iova + n * size && free; a += page) if (leafAt(a)) free = false;
        if (!free || n === 0) continue;
        const pa = 2 ** 32 + op.pa * block;
        expect(t.mapPages(iova, pa, size, n, RW, m)).toBe(0);
        expect(m.mapped).toBe(n * size);
        for (let i = 0; i < n; i++) leaves.set(iova + i * size, { pa: pa + i * size, size });
        runs.push({ iova, size, n });
        break;
      }
      case 'unmap': {
        if (runs.length === 0) continue;
        const [r] = runs.splice(op.pick % runs.length, 1);
        expect(t.unmapPages(r!.iova, r!.size, r!.n, null)).toBe(r!.n * r!.size);
        for (let i = 0; i < r!.n; i++) leaves.delete(r!.iova + i * r!.size);
        break;
      }
      case 'overlap': {
        // a map of the same or a smaller size onto an existing leaf: always -EEXIST, nothing changes
        if (runs.length === 0) continue;
        const r = runs[op.pick % runs.length]!;
        const size = op.big && r.size === block ? block : page;
        const before = leavesOf(t);
        expect(t.mapPages(r.iova, 0x1000_0000, size, 1, RW, m)).toBe(-EEXIST);
        expect(leavesOf(t)).toEqual(before);
        break;
      }
      case 'partial': {
        // unmapping a page inside a block is refused: 0 and the block stays
        const blocks = runs.filter((r) => r.size === block);
        if (blocks.length === 0) continue;
        const r = blocks[op.pick % blocks.length]!;
        expect(t.unmapPages(r.iova + (op.sub % (block / page)) * page, page, 1, null)).toBe(0);
        break;
      }
      case 'hole': {
        const iova = base + ((op.slot * page) % window);
        if (leafAt(iova)) continue;
        expect(t.unmapPages(iova, page, 1, null)).toBe(-ENOENT);
        break;
      }
    }
    // the model, the format and the walker agree on every leaf and on a few other addresses
    for (const [iova, l] of leaves) check(iova + ((probe * 8 + 8) % l.size));
    for (let i = 0; i < 4; i++) check(base + ((probe * 7919 + i * 104729) * page) % window + 0x18);
    probe++;
  }
  expect(leavesOf(t).length).toBe(leaves.size);
  t.free();
  expect(kernel.pages.snapshot()).toEqual(start);
  expect(kernel.pages.stats().pagesInUse).toBe(0);
}

describe('random sequences against a reference model and the hardware walker', () => {
  for (const s of SHAPES) {
    it(`${s.fmt} ${s.sizes[0] / K}K granule, ias ${s.ias}`, () => {
      fc.assert(
        fc.property(fc.array(opArb, { minLength: 5, maxLength: 40 }), (ops) => runSequence(s, ops)),
        { numRuns: 25, seed: 0x10a0 + s.ias + s.sizes[0] },
      );
    });
  }
});
