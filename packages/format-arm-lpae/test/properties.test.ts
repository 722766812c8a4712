/**
 * Property tests: random sequences of what users do with a table (maps of every block size of
 * the granule in one table, runs of random length that cross table boundaries, maps over
 * occupied ranges, unmaps of whole runs, of holes, of part of a block, of a block over smaller
 * pages), per format and granule, against the independent reference model of @gki/testkit
 * (kernel semantics, plain Maps) and, as a second judge, the hardware table walker of @gki/hw.
 * After every step: the return value and `mapped` equal the model's, the leaves equal the
 * model's, the pages in use equal the model's table count, and the format's iova_to_phys and
 * the walker agree with the model on the addresses the step touched and a random one. After
 * free the allocator is back where it started.
 *
 * GKI_SOAK_RUNS=N multiplies the run counts (the soak mode: e.g. 200 gives thousands of runs).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createWalkResult, walk, walkConfigFromIoPgtableCfg, type WalkAccess } from '@gki/hw';
import { IOMMU_READ, IOMMU_WRITE, type IoPgtableCfg } from '@gki/io-pgtable-core';
import { LpaeRef, soakFactor } from '@gki/testkit';
import { createArmLpaeOps, type ArmLpaeFmt, type ArmLpaeIoPgtable } from '../src/index.js';
import { makeKernel } from './helpers/env.js';

interface Shape {
  fmt: ArmLpaeFmt;
  bitmap: number;
  ias: number;
  oas: number;
}
const SHAPES: Shape[] = [
  { fmt: 'ARM_64_LPAE_S1', bitmap: 0x4020_1000, ias: 48, oas: 48 },
  { fmt: 'ARM_64_LPAE_S1', bitmap: 0x0200_4000, ias: 48, oas: 48 },
  { fmt: 'ARM_64_LPAE_S1', bitmap: 0x2001_0000, ias: 48, oas: 48 },
  { fmt: 'ARM_64_LPAE_S1', bitmap: 0x4020_1000, ias: 39, oas: 44 },
  { fmt: 'ARM_64_LPAE_S2', bitmap: 0x4020_1000, ias: 40, oas: 40 },
  { fmt: 'ARM_64_LPAE_S2', bitmap: 0x0200_4000, ias: 40, oas: 40 },
  { fmt: 'ARM_64_LPAE_S2', bitmap: 0x2001_0000, ias: 48, oas: 48 },
  { fmt: 'ARM_32_LPAE_S1', bitmap: 0x4020_1000, ias: 32, oas: 40 },
  { fmt: 'ARM_32_LPAE_S2', bitmap: 0x4020_1000, ias: 40, oas: 40 },
  { fmt: 'ARM_MALI_LPAE', bitmap: 0x4020_1000, ias: 48, oas: 40 },
];

/** Raw choices; each step interprets them against the shape and the current model. */
type Op =
  | { kind: 'map'; size: number; slot: number; count: number; nearEnd: boolean; pa: number; prot: number }
  | { kind: 'unmap'; size: number; slot: number; count: number }
  | { kind: 'unmapLeaf'; pick: number; extra: number }
  | { kind: 'overmap'; pick: number; size: number; off: number }
  | { kind: 'partial'; pick: number; size: number; off: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('map' as const),
      size: fc.nat(7),
      slot: fc.nat(),
      count: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: 8 }) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 600 }) }),
      nearEnd: fc.boolean(),
      pa: fc.nat(),
      prot: fc.integer({ min: 1, max: 63 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('unmap' as const), size: fc.nat(7), slot: fc.nat(), count: fc.integer({ min: 1, max: 40 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('unmapLeaf' as const), pick: fc.nat(), extra: fc.integer({ min: 0, max: 4 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('overmap' as const), pick: fc.nat(), size: fc.nat(7), off: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('partial' as const), pick: fc.nat(), size: fc.nat(7), off: fc.nat() }) },
);

const access: WalkAccess = { write: false, exec: false, priv: true };

/** The output address of a descriptor (bits 47:12; with a 64K granule PA[51:48] is in bits 15:12). */
function pteAddr(pte: bigint, granule: number): number {
  if (granule !== 0x1_0000) return Number(pte & 0xffff_ffff_f000n);
  return Number((pte & 0xffff_ffff_0000n) | (((pte >> 12n) & 0xfn) << 48n));
}

/** What the steps of all runs did, so that the test can show it exercised each case. */
const seen = new Map<string, number>();
function saw(what: string): void {
  seen.set(what, (seen.get(what) ?? 0) + 1);
}

function runSequence(s: Shape, ops: Op[]): void {
  const kernel = makeKernel(64);
  const start = kernel.pages.snapshot();
  const cfg: IoPgtableCfg = { quirks: 0, pgsizeBitmap: s.bitmap, ias: s.ias, oas: s.oas, coherentWalk: true };
  const t = createArmLpaeOps(kernel, s.fmt, cfg, null) as ArmLpaeIoPgtable;
  expect(t).not.toBeNull();
  const geo = t.geometry;
  const model = new LpaeRef({ granule: geo.granule, startLevel: geo.startLevel, pgdEntries: 2 ** geo.pgdBits });
  const wcfg = walkConfigFromIoPgtableCfg(s.fmt, t.cfg);
  const out = createWalkResult();
  // every block size of the granule the bitmap kept, smallest first
  const sizes = [0, 1, 2, 3].map((l) => model.blockSize(l)).filter((z) => Math.floor(t.cfg.pgsizeBitmap / z) % 2 === 1);
  sizes.sort((a, b) => a - b);
  const largest = sizes[sizes.length - 1]!;
  // a window of up to four of the largest blocks at the top of the input range
  const window = Math.min(4 * largest, 2 ** s.ias);
  const base = 2 ** s.ias - window;
  const pgdPages = Math.max(1, 2 ** Math.ceil(Math.log2((8 * 2 ** geo.pgdBits) / 4096)));
  const tablePages = geo.granule / 4096;

  const check = (a: number, where: string) => {
    const want = model.translate(a);
    expect(t.iovaToPhys(a), `${where}: iova_to_phys 0x${a.toString(16)}`).toBe(want);
    const ok = walk(kernel.mem, wcfg, a, access, out);
    if (model.lookup(a)) {
      expect(ok, `${where}: walker at 0x${a.toString(16)}`).toBe(true);
      expect(out.oa).toBe(want);
    } else {
      expect(ok, `${where}: walker at 0x${a.toString(16)} (hole)`).toBe(false);
      expect(out.fault).toBe('translation');
    }
  };
  const leafOf = (pick: number) => {
    const leaves = model.leaves();
    return leaves.length ? leaves[pick % leaves.length]! : null;
  };

  for (const [i, op] of ops.entries()) {
    const where = `step ${i} ${JSON.stringify(op)}`;
    const touched: number[] = [];
    switch (op.kind) {
      case 'map': {
        const size = sizes[op.size % sizes.length]!;
        const entries = model.entries(model.levelOf(size));
        let iova = base + ((op.slot * size) % window);
        if (op.nearEnd) {
          // one of the last three slots of its table, so that a run crosses the table's end
          const span = size * entries;
          const near = Math.floor(iova / span) * span + (entries - 1 - (op.slot % 3)) * size;
          if (near >= base && near < base + window) iova = near;
        }
        const pa = (op.pa % Math.floor(2 ** Math.min(s.oas, 47) / size)) * size;
        const count = Math.min(op.count, Math.floor((base + window - iova) / size));
        if (count === 0 || pa + count * size > 2 ** s.oas) continue;
        const prot = op.prot | IOMMU_READ;
        const m = { mapped: 0 };
        const ret = t.mapPages(iova, pa, size, count, prot, m);
        const [wantRet, wantMapped] = model.map(iova, pa, size, count, prot);
        expect([ret, m.mapped], where).toEqual([wantRet, wantMapped]);
        saw(`map ${ret}${ret === 0 && wantMapped < count * size ? ' clipped at table end' : ''}`);
        touched.push(iova, iova + Math.max(0, count - 1) * size + 8);
        break;
      }
      case 'unmap': {
        const size = sizes[op.size % sizes.length]!;
        const iova = base + ((op.slot * size) % window);
        const count = Math.min(op.count, Math.floor((base + window - iova) / size));
        if (count === 0) continue;
        const ret = t.unmapPages(iova, size, count, null);
        expect(ret, where).toBe(model.unmap(iova, size, count));
        saw(`unmap ${ret > 0 ? 'bytes' : ret}`);
        touched.push(iova);
        break;
      }
      case 'unmapLeaf': {
        // a whole leaf and possibly the ones after it (a run across the table end is clipped)
        const l = leafOf(op.pick);
        if (!l) continue;
        const [, iova, size] = l;
        const count = Math.min(1 + op.extra, Math.floor((base + window - iova) / size));
        expect(t.unmapPages(iova, size, count, null), where).toBe(model.unmap(iova, size, count));
        saw('unmap leaf');
        touched.push(iova);
        break;
      }
      case 'overmap': {
        // a map that starts inside an existing leaf: a smaller size is -EEXIST on the way
        // down, the same size -EEXIST at the slot, a larger one may replace tables first
        const l = leafOf(op.pick);
        if (!l) continue;
        const [, liova, lsize] = l;
        const size = sizes[op.size % sizes.length]!;
        let iova = liova + ((op.off * size) % lsize);
        iova -= iova % size;
        const pa = 0x1000_0000 - (0x1000_0000 % size);
        const before = model.leaves();
        const m = { mapped: 0 };
        const ret = t.mapPages(iova, pa, size, 1, IOMMU_READ | IOMMU_WRITE, m);
        const [wantRet, wantMapped] = model.map(iova, pa, size, 1, IOMMU_READ | IOMMU_WRITE);
        expect([ret, m.mapped], where).toEqual([wantRet, wantMapped]);
        if (size <= lsize) {
          expect(ret, where).toBe(-17); // EEXIST
          expect(model.leaves(), where).toEqual(before); // and nothing changed
        }
        saw(`overmap ${size <= lsize ? 'inside' : 'over'} ${ret}`);
        touched.push(iova);
        break;
      }
      case 'partial': {
        // unmapping a smaller size inside a block is refused: 0, the block stays
        const blocks = model.leaves().filter(([, , z]) => z > sizes[0]!);
        if (blocks.length === 0) continue;
        const [, biova, bsize] = blocks[op.pick % blocks.length]!;
        const smaller = sizes.filter((z) => z < bsize);
        const size = smaller[op.size % smaller.length]!;
        const iova = biova + ((op.off * size) % bsize);
        expect(t.unmapPages(iova, size, 1, null), where).toBe(0);
        expect(model.unmap(iova, size, 1), where).toBe(0);
        saw('partial unmap of a block');
        touched.push(iova);
        break;
      }
    }
    // after every step: the leaves, the table pages, and translations where the step acted
    const got: [number, number, number, number][] = [];
    t.walkLeaves((l) => got.push([l.level, l.iova, l.size, pteAddr(l.pte, geo.granule)]));
    expect(got, where).toEqual(model.leaves());
    expect(kernel.pages.stats().pagesInUse, `${where}: table pages`).toBe(pgdPages + (model.tables - 1) * tablePages);
    for (const a of touched) check(a, where);
    check(base + ((i * 0x9e37_79b9 * 0x1000) % window) + 0x18, where);
  }
  saw(`sizes ${new Set(model.leaves().map(([, , z]) => z)).size} at the end`);
  t.free();
  expect(kernel.pages.snapshot()).toEqual(start);
  expect(kernel.pages.stats().pagesInUse).toBe(0);
}

describe('random sequences against the reference model and the hardware walker', () => {
  for (const s of SHAPES) {
    it(`${s.fmt} bitmap 0x${s.bitmap.toString(16)}, ias ${s.ias}`, () => {
      fc.assert(
        fc.property(fc.array(opArb, { minLength: 5, maxLength: 40 }), (ops) => runSequence(s, ops)),
        { numRuns: 20 * soakFactor(), seed: 0x10a0 + s.ias + s.bitmap },
      );
    });
  }

  it('exercised every case: runs clipped at a table end, maps over occupied ranges, partial unmaps, holes, mixed sizes', () => {
    const need = ['map 0 clipped at table end', 'map -17', 'overmap inside -17', 'overmap over 0', 'partial unmap of a block', 'unmap -2', 'unmap bytes', 'unmap leaf', 'sizes 2 at the end', 'sizes 3 at the end'];
    for (const n of need) expect(seen.get(n) ?? 0, `${n} (seen: ${JSON.stringify([...seen])})`).toBeGreaterThan(0);
  });
});
