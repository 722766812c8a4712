/**
 * Random page-table traffic per format, every operation checked at once against the
 * independent reference model of @gki/testkit (kernel semantics on plain Maps) and, for the
 * addresses it touched, against the hardware table walker of @gki/hw reading the same RAM.
 * Periodically (and at the end of every table's life) the whole leaf set and the table pages
 * are compared too, and the table is freed and checked for leaks.
 */
import { createWalkResult, walk, walkConfigFromIoPgtableCfg, type WalkAccess, type WalkConfigAny } from '@gki/hw';
import { createIoPgtableHost, type IoPgtableHost } from '@gki/kernel';
import { IOMMU_READ, IOMMU_WRITE, freeIoPgtableOps, type IoPgtableCfg, type IoPgtableFmt } from '@gki/io-pgtable-core';
import { createArmLpaeOps, type ArmLpaeFmt, type ArmLpaeIoPgtable } from '@gki/format-arm-lpae';
import { createArmV7sOps, type ArmV7sIoPgtable } from '@gki/format-arm-v7s';
import { LpaeRef, Rng, V7sModel, K4, K64, M1, M16 } from '@gki/testkit';

/** The formats the campaign covers, each with the table shapes its chunks rotate through. */
export const PGTABLE_FORMATS: readonly IoPgtableFmt[] = [
  'ARM_64_LPAE_S1',
  'ARM_64_LPAE_S2',
  'ARM_32_LPAE_S1',
  'ARM_32_LPAE_S2',
  'ARM_MALI_LPAE',
  'ARM_V7S',
];

interface LpaeShape {
  bitmap: number;
  ias: number;
  oas: number;
}
const LPAE_SHAPES: Record<ArmLpaeFmt, LpaeShape[]> = {
  ARM_64_LPAE_S1: [
    { bitmap: 0x4020_1000, ias: 48, oas: 48 },
    { bitmap: 0x0200_4000, ias: 48, oas: 48 },
    { bitmap: 0x2001_0000, ias: 48, oas: 48 },
    { bitmap: 0x4020_1000, ias: 39, oas: 44 },
  ],
  ARM_64_LPAE_S2: [
    { bitmap: 0x4020_1000, ias: 40, oas: 40 },
    { bitmap: 0x0200_4000, ias: 40, oas: 40 },
    { bitmap: 0x2001_0000, ias: 48, oas: 48 },
  ],
  ARM_32_LPAE_S1: [{ bitmap: 0x4020_1000, ias: 32, oas: 40 }],
  ARM_32_LPAE_S2: [{ bitmap: 0x4020_1000, ias: 40, oas: 40 }],
  ARM_MALI_LPAE: [{ bitmap: 0x4020_1000, ias: 48, oas: 40 }],
};

export interface PgtableSoakOptions {
  readonly fmt: IoPgtableFmt;
  /** Operations to run (map, unmap and iova_to_phys calls, each checked). */
  readonly ops: number;
  readonly seed: number;
  /** Stop early at this Date.now() value. */
  readonly deadline?: number;
  /** Which shape of the format (rotates through the list). */
  readonly shape?: number;
  /** Whole-table comparisons every this many operations (default 2000). */
  readonly fullCheckEvery?: number;
  /** Free the table and start a new one every this many operations (default 50,000). */
  readonly lifetime?: number;
}

export interface SoakFailure {
  readonly what: string;
  readonly seed: number;
  readonly op: number;
  readonly detail: string;
}

export interface PgtableSoakResult {
  readonly fmt: IoPgtableFmt;
  readonly seed: number;
  readonly ops: number;
  readonly maps: number;
  readonly unmaps: number;
  readonly lookups: number;
  /** Hardware-walker translations compared with the model. */
  readonly walks: number;
  readonly fullChecks: number;
  readonly tables: number;
  readonly failures: SoakFailure[];
}

class Mismatch extends Error {}

function fail(detail: string): never {
  throw new Mismatch(detail);
}

const access: WalkAccess = { write: false, exec: false, priv: true };

/** Runs `o.ops` checked operations on tables of format `o.fmt`. */
export function runPgtableSoak(o: PgtableSoakOptions): PgtableSoakResult {
  return o.fmt === 'ARM_V7S' ? runV7s(o) : runLpae(o, o.fmt);
}

interface Counters {
  ops: number;
  maps: number;
  unmaps: number;
  lookups: number;
  walks: number;
  fullChecks: number;
  tables: number;
}

function newCounters(): Counters {
  return { ops: 0, maps: 0, unmaps: 0, lookups: 0, walks: 0, fullChecks: 0, tables: 0 };
}

function lpaeAddr(pte: bigint, granule: number): number {
  if (granule !== 0x1_0000) return Number(pte & 0xffff_ffff_f000n);
  return Number((pte & 0xffff_ffff_0000n) | (((pte >> 12n) & 0xfn) << 48n));
}

function runLpae(o: PgtableSoakOptions, fmt: ArmLpaeFmt): PgtableSoakResult {
  const shapes = LPAE_SHAPES[fmt];
  const shape = shapes[(o.shape ?? 0) % shapes.length]!;
  const rng = new Rng(o.seed);
  const c = newCounters();
  const failures: SoakFailure[] = [];
  const every = o.fullCheckEvery ?? 2000;
  const lifetime = o.lifetime ?? 50_000;
  const out = createWalkResult();
  const host: IoPgtableHost = createIoPgtableHost({ ramSize: 256 * 2 ** 20 });
  try {
    while (c.ops < o.ops && (o.deadline === undefined || Date.now() < o.deadline)) {
      const cfg: IoPgtableCfg = { quirks: 0, pgsizeBitmap: shape.bitmap, ias: shape.ias, oas: shape.oas, coherentWalk: rng.chance(0.5) };
      const t = createArmLpaeOps(host, fmt, cfg, null);
      if (!t) fail(`${fmt}: alloc failed: ${host.log.dmesg()}`);
      c.tables++;
      const geo = t.geometry;
      const model = new LpaeRef({ granule: geo.granule, startLevel: geo.startLevel, pgdEntries: 2 ** geo.pgdBits });
      const wcfg = walkConfigFromIoPgtableCfg(fmt, t.cfg) as WalkConfigAny;
      const sizes = [0, 1, 2, 3].map((l) => model.blockSize(l)).filter((z) => Math.floor(t.cfg.pgsizeBitmap / z) % 2 === 1);
      sizes.sort((a, b) => a - b);
      const largest = sizes[sizes.length - 1]!;
      const window = Math.min(4 * largest, 2 ** shape.ias);
      const base = 2 ** shape.ias - window;
      const pgdPages = Math.max(1, 2 ** Math.ceil(Math.log2((8 * 2 ** geo.pgdBits) / 4096)));
      const tablePages = geo.granule / 4096;
      const paLimit = 2 ** Math.min(shape.oas, 47);

      const check = (a: number) => {
        const want = model.translate(a);
        const got = t.iovaToPhys(a);
        if (got !== want) fail(`iova_to_phys(0x${a.toString(16)}) = 0x${got.toString(16)}, model 0x${want.toString(16)}`);
        const hit = walk(host.mem, wcfg, a, access, out);
        c.walks++;
        if (model.lookup(a)) {
          if (!hit || out.oa !== want) fail(`walker at 0x${a.toString(16)}: ${hit ? `0x${out.oa.toString(16)}` : out.fault}, model 0x${want.toString(16)}`);
        } else if (hit || out.fault !== 'translation') fail(`walker at 0x${a.toString(16)} translates a hole (${hit ? out.oa : out.fault})`);
      };
      const fullCheck = () => {
        c.fullChecks++;
        const got: string[] = [];
        t.walkLeaves((l) => got.push(`${l.level}:${l.iova}:${l.size}:${lpaeAddr(l.pte, geo.granule)}`));
        const want = model.leaves().map(([l, i, s, p]) => `${l}:${i}:${s}:${p}`);
        if (got.length !== want.length || got.some((x, i) => x !== want[i]))
          fail(`leaves differ: ${got.length} in the table, ${want.length} in the model (first difference ${got.find((x, i) => x !== want[i]) ?? want[got.length]})`);
        const pages = host.pages.stats().pagesInUse;
        const expect = pgdPages + (model.tables - 1) * tablePages;
        if (pages !== expect) fail(`${pages} table pages in use, the model has ${model.tables} tables (${expect} pages)`);
      };

      const end = Math.min(o.ops, c.ops + lifetime);
      let leavesHint: [number, number, number, number][] | null = null;
      const someLeaf = () => {
        if (leavesHint === null || rng.chance(0.05)) leavesHint = model.leaves();
        return leavesHint.length ? leavesHint[rng.below(leavesHint.length)]! : null;
      };
      while (c.ops < end && (o.deadline === undefined || (c.ops & 1023) !== 0 || Date.now() < o.deadline)) {
        const roll = rng.below(100);
        const size = sizes[rng.below(sizes.length)]!;
        const entries = model.entries(model.levelOf(size));
        if (roll < 45) {
          // map: random slot of the window, often near a table's end so that the run crosses it
          let iova = base + rng.below(window / size) * size;
          if (rng.chance(0.3)) {
            const span = size * entries;
            const near = Math.floor(iova / span) * span + (entries - 1 - rng.below(3)) * size;
            if (near >= base && near < base + window) iova = near;
          }
          const count = Math.min(rng.chance(0.8) ? 1 + rng.below(8) : 1 + rng.below(entries + 4), Math.floor((base + window - iova) / size));
          const pa = rng.below(Math.floor(paLimit / size) - count) * size;
          const prot = (rng.chance(0.7) ? IOMMU_READ | IOMMU_WRITE : IOMMU_READ) | (rng.below(64) & ~3);
          const m = { mapped: 0 };
          const ret = t.mapPages(iova, pa, size, count, prot, m);
          const [wr, wm] = model.map(iova, pa, size, count, prot);
          c.maps++;
          if (ret !== wr || m.mapped !== wm) fail(`map_pages(0x${iova.toString(16)}, pa 0x${pa.toString(16)}, 0x${size.toString(16)} x ${count}) = ${ret}/${m.mapped}, model ${wr}/${wm}`);
          check(iova);
          if (count > 1) check(iova + (count - 1) * size + 8);
          leavesHint = null;
        } else if (roll < 70) {
          // unmap: half of the time a leaf that exists (and a few after it), else anywhere
          let iova: number;
          let usz = size;
          let count: number;
          const l = rng.chance(0.5) ? someLeaf() : null;
          if (l) {
            iova = l[1];
            usz = rng.chance(0.85) ? l[2] : size;
            iova -= iova % usz;
            count = 1 + rng.below(4);
          } else {
            iova = base + rng.below(window / size) * size;
            count = 1 + rng.below(16);
          }
          count = Math.min(count, Math.floor((base + window - iova) / usz));
          if (count < 1 || iova < base) continue;
          const ret = t.unmapPages(iova, usz, count, null);
          const want = model.unmap(iova, usz, count);
          c.unmaps++;
          if (ret !== want) fail(`unmap_pages(0x${iova.toString(16)}, 0x${usz.toString(16)} x ${count}) = ${ret}, model ${want}`);
          check(iova);
          leavesHint = null;
        } else {
          // iova_to_phys at a random address, or inside a leaf
          const l = rng.chance(0.6) ? someLeaf() : null;
          const a = l ? l[1] + rng.below(l[2]) : base + rng.below(window);
          c.lookups++;
          check(a);
        }
        c.ops++;
        if (c.ops % every === 0) fullCheck();
      }
      fullCheck();
      freeIoPgtableOps(t);
      if (host.pages.stats().pagesInUse !== 0) fail(`${host.pages.stats().pagesInUse} page(s) leaked after free`);
    }
  } catch (e) {
    if (!(e instanceof Mismatch)) throw e;
    failures.push({ what: `${fmt} pgtable`, seed: o.seed, op: c.ops, detail: e.message });
  }
  return { fmt, seed: o.seed, ...c, failures };
}

function runV7s(o: PgtableSoakOptions): PgtableSoakResult {
  const rng = new Rng(o.seed);
  const c = newCounters();
  const failures: SoakFailure[] = [];
  const every = o.fullCheckEvery ?? 2000;
  const lifetime = o.lifetime ?? 50_000;
  const out = createWalkResult();
  const host = createIoPgtableHost({ ramSize: 256 * 2 ** 20 });
  const SLOTS = 32; // a 32 MiB window: two supersections, many 1 MiB slots
  const sizes = [K4, K64, M1, M16];
  try {
    while (c.ops < o.ops && (o.deadline === undefined || Date.now() < o.deadline)) {
      const cfg: IoPgtableCfg = { quirks: 0, pgsizeBitmap: 0x0111_1000 | K64, ias: 32, oas: 32, coherentWalk: rng.chance(0.5) };
      const t: ArmV7sIoPgtable | null = createArmV7sOps(host, cfg, null);
      if (!t) fail(`ARM_V7S: alloc failed: ${host.log.dmesg()}`);
      c.tables++;
      const model = new V7sModel(32);
      const wcfg = walkConfigFromIoPgtableCfg('ARM_V7S', t.cfg) as WalkConfigAny;
      const inLeaf = (a: number) => model.leaves().some(([, i, s, leaf]) => a >= i && a < i + (leaf.cont ? s * 16 : s));
      const check = (a: number) => {
        const want = model.translate(a);
        const got = t.iovaToPhys(a);
        if (got !== want) fail(`iova_to_phys(0x${a.toString(16)}) = 0x${got.toString(16)}, model 0x${want.toString(16)}`);
        const hit = walk(host.mem, wcfg, a, access, out);
        c.walks++;
        if (want !== 0) {
          if (!hit || out.oa !== want) fail(`walker at 0x${a.toString(16)}: ${hit ? `0x${out.oa.toString(16)}` : out.fault}, model 0x${want.toString(16)}`);
        } else if (hit && !inLeaf(a)) fail(`walker translates the hole 0x${a.toString(16)}`);
      };
      const fullCheck = () => {
        c.fullChecks++;
        const got: string[] = [];
        t.walkLeaves((l) => got.push(`${l.level}:${l.iova}:${l.size}:${t.iovaToPhys(l.iova)}`));
        const want = model.leaves().map(([lvl, iova, size]) => `${lvl}:${iova}:${size}:${model.translate(iova)}`);
        if (got.length !== want.length || got.some((x, i) => x !== want[i])) fail(`leaves differ: ${got.length} in the table, ${want.length} in the model`);
        if (t.tableStats().l2Tables !== model.tables()) fail(`${t.tableStats().l2Tables} level-2 tables, the model has ${model.tables()}`);
      };
      const end = Math.min(o.ops, c.ops + lifetime);
      while (c.ops < end && (o.deadline === undefined || (c.ops & 1023) !== 0 || Date.now() < o.deadline)) {
        const roll = rng.below(100);
        const size = sizes[rng.below(4)]!;
        const slot = rng.below(SLOTS);
        const page = rng.chance(0.5) ? rng.below(32) : rng.below(256);
        let iova = slot * M1 + page * K4;
        iova -= iova % size;
        if (roll < 45) {
          const count = Math.min(rng.chance(0.7) ? 1 : 2 + rng.below(19), Math.max(1, Math.floor((SLOTS * M1 - iova) / size)));
          let pa = rng.below(0x1_0000) * K4;
          pa -= pa % size;
          pa %= 2 ** 32 - count * size + 1;
          pa -= pa % size;
          const prot = rng.below(64) | (rng.chance(0.95) ? IOMMU_READ : 0);
          const m = { mapped: 0 };
          const ret = t.mapPages(iova, pa, size, count, prot, m);
          const [wr, wm] = model.map(iova, pa, size, count, prot);
          c.maps++;
          if (ret !== wr || m.mapped !== wm) fail(`map_pages(0x${iova.toString(16)}, pa 0x${pa.toString(16)}, 0x${size.toString(16)} x ${count}) = ${ret}/${m.mapped}, model ${wr}/${wm}`);
          check(iova + 0x10);
        } else if (roll < 70) {
          const count = Math.min(1 + rng.below(20), Math.max(1, Math.floor((SLOTS * M1 - iova) / size)));
          const ret = t.unmapPages(iova, size, count, null);
          const want = model.unmap(iova, size, count);
          c.unmaps++;
          if (ret !== want) fail(`unmap_pages(0x${iova.toString(16)}, 0x${size.toString(16)} x ${count}) = ${ret}, model ${want}`);
          check(iova);
        } else {
          c.lookups++;
          check(rng.below(SLOTS * M1 + M1));
        }
        c.ops++;
        if (c.ops % every === 0) fullCheck();
      }
      fullCheck();
      freeIoPgtableOps(t);
      if (host.pages.stats().pagesInUse !== 0) fail(`${host.pages.stats().pagesInUse} page(s) leaked after free`);
    }
  } catch (e) {
    if (!(e instanceof Mismatch)) throw e;
    failures.push({ what: 'ARM_V7S pgtable', seed: o.seed, op: c.ops, detail: e.message });
  }
  return { fmt: 'ARM_V7S', seed: o.seed, ...c, failures };
}
