/**
 * The frame-number one-page entries (IommuPgtableOps.tryMapPfn / tryUnmapPfn), which the DMA
 * API's one-page path calls. Their contract: exactly tryMapPage(iovaPfn * pgsize, paPfn *
 * pgsize, pgsize, prot) / tryUnmapPage(iovaPfn * pgsize, pgsize, gather), and when they take
 * a call, exactly what mapPages(..., 1, ...) / unmapPages(..., 1, ...) do. Three twin tables
 * (same configuration, same kernel layout, so the same table addresses) receive the same
 * setup and the same calls: `pfn` through the frame entries, `bytes` through the byte-address
 * entries, `general` through mapPages / unmapPages, the latter only when the entries took the
 * call (otherwise it is left alone, and `pfn` must not have changed). After every call the
 * answers, the tables (the level-1 table and every level-2 table, word for word), the TLB
 * callbacks, the gathers and the log must agree.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  IOMMU_CACHE,
  IOMMU_NOEXEC,
  IOMMU_READ,
  IOMMU_WRITE,
  IO_PGTABLE_QUIRK_ARM_MTK_EXT,
  IO_PGTABLE_QUIRK_NO_PERMS,
  type IoPgtableCfg,
  type IommuIotlbGather,
} from '@gki/io-pgtable-core';
import type { Kernel } from '@gki/kernel';
import { V7S_TYPE_MASK, V7S_TYPE_TABLE, type ArmV7sIoPgtable } from '../src/index.js';
import { makeKernel, mustCreate, recordingTlb, v7sCfg, type TlbEvent } from './helpers.js';

const SZ_4K = 0x1000;
const SZ_64K = 0x1_0000;
const SZ_1M = 0x10_0000;
const SZ_16M = 0x100_0000;

interface Twin {
  k: Kernel;
  t: ArmV7sIoPgtable;
  events: TlbEvent[];
}

function twin(cfg: IoPgtableCfg): Twin {
  const k = makeKernel(0x4000_0000, 0x400_0000);
  const rec = recordingTlb();
  const t = mustCreate(k, { ...cfg, tlb: rec.tlb }, 'cookie');
  return { k, t, events: rec.events };
}

/** A view of `len` bytes of RAM at `pa` (within one 2 MiB chunk, as every table is). */
function ramBytes(x: Twin, pa: number, len: number): Buffer {
  const words = x.k.mem.peekChunk(pa);
  return Buffer.from(words.buffer, words.byteOffset + (pa % 0x20_0000), len);
}

/** The table tree as views of RAM: the level-1 table, then each level-2 table it points at. */
function views(x: Twin): Buffer[] {
  const t = x.t;
  const l1 = ramBytes(x, t.pgdPa, 4 * t.l1Entries);
  const parts: Buffer[] = [l1];
  const words = new Uint32Array(l1.buffer, l1.byteOffset, t.l1Entries);
  for (let i = 0; i < t.l1Entries; i++) {
    const d = words[i]!;
    if ((d & V7S_TYPE_MASK) === V7S_TYPE_TABLE) parts.push(ramBytes(x, (d & 0xfffffc00) >>> 0, 1024));
  }
  return parts;
}

/** A copy of the table tree, byte for byte. */
function image(x: Twin): Buffer {
  return Buffer.concat(views(x));
}

/** Asserts the table trees of two twins are the same, byte for byte. */
function sameTables(a: Twin, b: Twin, what: string): void {
  const va = views(a);
  const vb = views(b);
  if (va.length === vb.length && va.every((p, i) => p.equals(vb[i]!))) return;
  sameImage(image(a), image(b), what);
}

/** Asserts two images are equal (a byte compare; the first differing word named on failure). */
function sameImage(a: Buffer, b: Buffer, what: string): void {
  if (a.equals(b)) return;
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  expect({ length: b.length, word: Math.floor(i / 4), value: b.length > i ? b.readUInt32LE(i - (i % 4)) : -1 }, what).toEqual({ length: a.length, word: Math.floor(i / 4), value: a.length > i ? a.readUInt32LE(i - (i % 4)) : -1 });
}

function logOf(x: Twin): string[] {
  return x.k.log.all().map((r) => `${r.level} ${r.who} ${r.msg}`);
}

const PROTS = [IOMMU_READ, IOMMU_WRITE, IOMMU_READ | IOMMU_WRITE, IOMMU_READ | IOMMU_WRITE | IOMMU_CACHE, IOMMU_READ | IOMMU_NOEXEC, 0, IOMMU_CACHE, -1, -64, 0x7fffffff];
const PGSIZES = [SZ_4K, SZ_4K, SZ_4K, SZ_64K, SZ_1M, SZ_16M, 1, 2 ** 30];

type Op =
  | { kind: 'setup'; iova: number; pa: number; size: number; count: number; prot: number }
  | { kind: 'clear'; iova: number; size: number; count: number }
  | { kind: 'map'; iovaPfn: number; paPfn: number; pgsize: number; prot: number }
  | { kind: 'unmap'; iovaPfn: number; pgsize: number; queued: boolean; pick: number | null };

interface Geometry {
  cfg: IoPgtableCfg;
  /** Frames (of 4 KiB) the calls are drawn around: in the tables' windows and at the limits. */
  iovaPfns: number[];
  paPfns: number[];
}

function geometry(ias: number, oas: number, quirks = 0): Geometry {
  const iovaEnd = 2 ** (ias - 12);
  const paEnd = 2 ** (oas - 12);
  return {
    cfg: v7sCfg({ ias, oas, quirks }),
    iovaPfns: [0, 1, 0xff, 0x100, 0x101, 0x1ff, iovaEnd - 0x101, iovaEnd - 0x100, iovaEnd - 2, iovaEnd - 1, iovaEnd, iovaEnd + 1, iovaEnd + 0x100, 2 ** 22, 2 ** 30],
    paPfns: [0, 1, paEnd - 1, paEnd, paEnd + 1, 2 ** 22, 2 ** 30],
  };
}

const GEOMETRIES: Geometry[] = [
  geometry(32, 32),
  geometry(24, 28),
  geometry(28, 32),
  geometry(34, 35, IO_PGTABLE_QUIRK_ARM_MTK_EXT | IO_PGTABLE_QUIRK_NO_PERMS),
];

function opArb(g: Geometry): fc.Arbitrary<Op> {
  // Mostly frames in two small windows (the second level-2 table's and the last ones below the
  // IOVA limit), where the setup leaves tables, pages, large pages and sections; otherwise
  // frames at and around the limits.
  const iovaEnd = 2 ** (g.cfg.ias - 12);
  const near = (list: number[]) => fc.tuple(fc.constantFrom(...list), fc.integer({ min: -3, max: 3 })).map(([f, d]) => Math.max(0, f + d));
  const iovaPfn = fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: 0x100, max: 0x13f }) },
    { weight: 3, arbitrary: fc.integer({ min: iovaEnd - 0x40, max: iovaEnd - 1 }) },
    { weight: 2, arbitrary: near(g.iovaPfns) },
    // the limit exactly (wrapping to the first table's first slot if taken for an index), and beside it
    { weight: 1, arbitrary: fc.constantFrom(0, iovaEnd - 1, iovaEnd, iovaEnd + 0x100) },
  );
  const paBase = 2 ** (g.cfg.oas - 14); // a quarter of the way up the output range
  const paPfn = fc.oneof({ weight: 6, arbitrary: fc.integer({ min: paBase, max: paBase + 0xfff }) }, { weight: 2, arbitrary: near(g.paPfns) });
  const setupSize = fc.constantFrom(SZ_4K, SZ_4K, SZ_4K, SZ_64K, SZ_1M, SZ_16M);
  const pgsize = fc.oneof({ weight: 8, arbitrary: fc.constant(SZ_4K) }, { weight: 2, arbitrary: fc.constantFrom(...PGSIZES) });
  return fc.oneof(
    {
      weight: 3,
      arbitrary: fc.record({ kind: fc.constant('setup' as const), iova: iovaPfn, pa: paPfn, size: setupSize, count: fc.integer({ min: 1, max: 48 }), prot: fc.constantFrom(IOMMU_READ, IOMMU_READ | IOMMU_WRITE) }).map((o) => ({
        ...o,
        // aligned to the size: leaves of that size (the general path's own checks are elsewhere)
        iova: Math.floor((o.iova * SZ_4K) / o.size) * o.size,
        pa: Math.floor((o.pa * SZ_4K) / o.size) * o.size,
      })),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('clear' as const), iova: iovaPfn, size: setupSize, count: fc.integer({ min: 1, max: 4 }) }).map((o) => ({ ...o, iova: Math.floor((o.iova * SZ_4K) / o.size) * o.size })) },
    { weight: 8, arbitrary: fc.record({ kind: fc.constant('map' as const), iovaPfn, paPfn, pgsize, prot: fc.constantFrom(...PROTS) }) },
    // `pick`: a frame an earlier call of this run mapped, else `iovaPfn`
    { weight: 6, arbitrary: fc.record({ kind: fc.constant('unmap' as const), iovaPfn, pgsize, queued: fc.boolean(), pick: fc.option(fc.nat(), { freq: 2 }) }) },
  );
}

const freshGather = (queued: boolean): IommuIotlbGather => ({ start: Number.MAX_SAFE_INTEGER, end: Number.MIN_SAFE_INTEGER, pgsize: 0, queued });

describe('ARM_V7S tryMapPfn / tryUnmapPfn', () => {
  for (const g of GEOMETRIES) {
    const name = `ias ${g.cfg.ias}, oas ${g.cfg.oas}${g.cfg.quirks ? ', ARM_MTK_EXT' : ''}`;
    it(`are tryMapPage / tryUnmapPage on frame numbers, and mapPages / unmapPages when they take a call (${name}, twin tables)`, () => {
      const took = { map: 0, unmap: 0, declined: 0 };
      fc.assert(
        fc.property(fc.array(opArb(g), { minLength: 10, maxLength: 60 }), (ops) => {
          const pfn = twin(g.cfg);
          const bytes = twin(g.cfg);
          const general = twin(g.cfg);
          const all = [pfn, bytes, general];
          // empty level-2 tables under both windows and the first slot (a page mapped and unmapped: the table stays)
          const iovaEnd = 2 ** (g.cfg.ias - 12);
          const paBase = 2 ** (g.cfg.oas - 2);
          for (const x of all) {
            for (const f of [0, 0x100, iovaEnd - 0x40]) {
              expect(x.t.mapPages(f * SZ_4K, paBase, SZ_4K, 1, IOMMU_READ, { mapped: 0 })).toBe(0);
              expect(x.t.unmapPages(f * SZ_4K, SZ_4K, 1, null)).toBe(SZ_4K);
            }
          }
          let prev = image(pfn);
          sameTables(pfn, bytes, 'initial');
          const mappedPfns: number[] = [];
          for (const o0 of ops) {
            const o = o0.kind === 'unmap' && o0.pick !== null && mappedPfns.length > 0 ? { ...o0, iovaPfn: mappedPfns[o0.pick % mappedPfns.length]! } : o0;
            const what = JSON.stringify(o);
            if (o.kind === 'setup' || o.kind === 'clear') {
              // the same general call on all three (its answer may be an error: the same for all)
              const rs = all.map((x) => (o.kind === 'setup' ? x.t.mapPages(o.iova, o.pa, o.size, o.count, o.prot, { mapped: 0 }) : x.t.unmapPages(o.iova, o.size, o.count, null)));
              expect(new Set(rs).size, what).toBe(1);
              if (o.kind === 'setup' && o.size === SZ_4K) for (let i = 0; i < o.count; i++) mappedPfns.push(o.iova / SZ_4K + i);
            } else if (o.kind === 'map') {
              const before = prev;
              const r = pfn.t.tryMapPfn(o.iovaPfn, o.paPfn, o.pgsize, o.prot);
              expect(bytes.t.tryMapPage(o.iovaPfn * o.pgsize, o.paPfn * o.pgsize, o.pgsize, o.prot), what).toBe(r);
              expect([0, 1], what).toContain(r);
              if (r === 0) {
                const mapped = { mapped: 0 };
                expect(general.t.mapPages(o.iovaPfn * o.pgsize, o.paPfn * o.pgsize, o.pgsize, 1, o.prot, mapped), what).toBe(0);
                expect(mapped.mapped, what).toBe(o.pgsize);
                took.map++;
                mappedPfns.push(o.iovaPfn);
              } else {
                sameImage(before, image(pfn), `${what}: declined but changed`);
                took.declined++;
              }
            } else {
              const before = prev;
              const gp = freshGather(o.queued);
              const gb = freshGather(o.queued);
              const r = pfn.t.tryUnmapPfn(o.iovaPfn, o.pgsize, gp);
              expect(bytes.t.tryUnmapPage(o.iovaPfn * o.pgsize, o.pgsize, gb), what).toBe(r);
              expect([0, o.pgsize], what).toContain(r);
              expect(gp, what).toEqual(gb);
              if (r !== 0) {
                const gg = freshGather(o.queued);
                expect(general.t.unmapPages(o.iovaPfn * o.pgsize, o.pgsize, 1, gg), what).toBe(o.pgsize);
                took.unmap++;
              } else {
                sameImage(before, image(pfn), `${what}: declined but changed`);
                took.declined++;
              }
            }
            sameTables(pfn, bytes, `${what}: bytes`);
            sameTables(pfn, general, `${what}: general`);
            prev = image(pfn);
            for (const x of [bytes, general]) {
              expect(x.events, what).toEqual(pfn.events);
              expect(logOf(x), what).toEqual(logOf(pfn));
            }
          }
          // a freed table: every frame declined, as tryMapPage / tryUnmapPage decline
          for (const x of all) x.t.free();
          expect(pfn.t.tryMapPfn(0x100, 0x100, SZ_4K, IOMMU_READ)).toBe(1);
          expect(pfn.t.tryUnmapPfn(0x100, SZ_4K, freshGather(false))).toBe(0);
          expect(bytes.t.tryMapPage(0x100 * SZ_4K, 0x100 * SZ_4K, SZ_4K, IOMMU_READ)).toBe(1);
        }),
        { numRuns: g.cfg.quirks === 0 ? 100 : 25, seed: 0x7f5 + g.cfg.ias },
      );
      // the entries took calls both ways and declined others (an MTK table's map entry declines all)
      const mtk = g.cfg.quirks !== 0;
      if (mtk) expect(took.map).toBe(0);
      else expect(took.map).toBeGreaterThan(150);
      expect(took.unmap).toBeGreaterThan(mtk ? 5 : 60);
      expect(took.declined).toBeGreaterThan(mtk ? 200 : 800);
    });
  }
});
