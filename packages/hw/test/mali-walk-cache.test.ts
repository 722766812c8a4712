/**
 * The Mali MMU's walk cache: translations are the same with and without it whenever the
 * tables change as a correct driver changes them (LOCK + FLUSH_PT over what changed, UPDATE for
 * a new TRANSTAB); a flush region drops exactly the cached walks overlapping it; UPDATE drops
 * all of its AS's and no other AS's; and a driver that frees a table without FLUSH_PT keeps
 * walking the freed table, as hardware that caches table descriptors may.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MALI_FAULT_ACCESS_READ, MALI_FAULT_ACCESS_WRITE, MALI_TR_OK, prop } from '@gki/hw';
import { as, AS, AS_CMD, EXC, enableAs, MaliTables, mmuOp, resetAndPowerUp, rk3399, type MaliRig } from './mali-helpers.js';

const TABLES = 0x0100_0000;
const POOL = 0x80_0000; // 2048 tables
const DATA = 0x0800_0000;
const SZ_2M = 0x20_0000;
const SZ_1G = 0x4000_0000;
/** The fuzzed VA window: 4 blocks of 2 MiB in each of two 1 GiB regions. */
const REGIONS = [0x8_0000_0000, 0x8_4000_0000];
const BLOCKS = 4;

function rigs(): { on: MaliRig; off: MaliRig } {
  const on = rk3399();
  const off = rk3399([prop.empty('gki,no-walk-cache')]);
  for (const r of [on, off]) resetAndPowerUp(r);
  return { on, off };
}

/** translate() outcome as one comparable value: the PA, or the fault code as a negative. */
function probe(r: MaliRig, asn: number, va: number, access = MALI_FAULT_ACCESS_READ): number {
  const out = { pa: 0 };
  const code = r.gpu.mmu.translate(asn, va, access, 0, out, false);
  return code === MALI_TR_OK ? out.pa : -code;
}

describe('Mali walk cache: option and defaults', () => {
  it('is on by default and off with gki,no-walk-cache', () => {
    const { on, off } = rigs();
    expect(on.gpu.mmu.walkCacheEnabled).toBe(true);
    expect(off.gpu.mmu.walkCacheEnabled).toBe(false);
    expect(off.gpu.mmu.walkCacheCounters()).toBeNull();
  });

  it('a TLB miss next to an earlier walk resumes at the cached level-3 table', () => {
    const { on } = rigs();
    const t = new MaliTables(on.mem, TABLES, POOL);
    t.map(REGIONS[0]!, DATA, 16 * 0x1000);
    enableAs(on, 0, t.transtab());
    for (let i = 0; i < 16; i++) expect(probe(on, 0, REGIONS[0]! + i * 0x1000 + 4)).toBe(DATA + i * 0x1000 + 4);
    const c = on.gpu.mmu.walkCacheCounters()!;
    // the first walk filled one entry (the level-3 table); the other 15 found it
    expect(c.inserts).toBe(1);
    expect(c.hits).toBe(15);
    expect(on.gpu.mmu.walkCacheSize(0)).toBe(1);
    expect(on.gpu.stats.mmu.walks).toBe(16);
  });
});

describe('Mali walk cache: invalidation by the AS commands', () => {
  function twoBlocks(r: MaliRig, asn = 0, tables = TABLES): MaliTables {
    const t = new MaliTables(r.mem, tables, POOL);
    t.map(REGIONS[0]!, DATA, 0x1000);
    t.map(REGIONS[0]! + SZ_2M, DATA + 0x1000, 0x1000);
    t.map(REGIONS[1]!, DATA + 0x2000, 0x1000);
    enableAs(r, asn, t.transtab());
    return t;
  }
  const warm = (r: MaliRig, asn = 0): void => {
    for (const va of [REGIONS[0]!, REGIONS[0]! + SZ_2M, REGIONS[1]!]) expect(probe(r, asn, va)).toBeGreaterThan(0);
  };

  it('LOCK + FLUSH_PT over a region drops the cached walks whose block overlaps it, and only those', () => {
    const { on } = rigs();
    twoBlocks(on);
    warm(on);
    expect(on.gpu.mmu.walkCacheSize(0)).toBe(3); // three level-3 tables
    mmuOp(on, 0, REGIONS[0]! + SZ_2M + 0x5000, 0x1000, AS_CMD.FLUSH_PT); // a 32 KiB region in block 1
    expect(on.gpu.mmu.walkCacheSize(0)).toBe(2);
    mmuOp(on, 0, REGIONS[0]!, SZ_1G, AS_CMD.FLUSH_MEM); // all of the first 1 GiB
    expect(on.gpu.mmu.walkCacheSize(0)).toBe(1);
    warm(on);
    expect(on.gpu.mmu.walkCacheSize(0)).toBe(3);
    // UNLOCK is also a flush region of the MMUs
    mmuOp(on, 0, REGIONS[1]!, 0x1000, AS_CMD.LOCK);
    mmuOp(on, 0, 0, 0, AS_CMD.UNLOCK);
    expect(on.gpu.mmu.walkCacheSize(0)).toBe(2);
    // a flush with no locked region drops nothing
    mmuOp(on, 0, 0, 0, AS_CMD.UNLOCK);
    expect(on.gpu.mmu.walkCacheSize(0)).toBe(2);
  });

  it('UPDATE drops every cached walk of its AS and none of another AS', () => {
    const { on } = rigs();
    const t0 = twoBlocks(on, 0, TABLES);
    twoBlocks(on, 1, TABLES + POOL);
    warm(on, 0);
    warm(on, 1);
    expect(on.gpu.mmu.walkCacheSize(0)).toBe(3);
    expect(on.gpu.mmu.walkCacheSize(1)).toBe(3);
    enableAs(on, 0, t0.transtab()); // FLUSH_MEM of everything + UPDATE, as panfrost does
    expect(on.gpu.mmu.walkCacheSize(0)).toBe(0);
    expect(on.gpu.mmu.walkCacheSize(1)).toBe(3);
    // UPDATE alone, with no flush before it
    warm(on, 0);
    on.w32(as(0, AS.COMMAND), AS_CMD.UPDATE);
    on.gpu.settle();
    expect(on.gpu.mmu.walkCacheSize(0)).toBe(0);
    expect(on.gpu.mmu.walkCacheSize(1)).toBe(3);
  });

  it('a freed table without FLUSH_PT is still walked (stale), as on hardware; FLUSH_PT ends it', () => {
    const { on, off } = rigs();
    const A = REGIONS[0]!;
    const C = A + 0x10_0000; // same 2 MiB block, same level-3 table, never translated before
    for (const r of [on, off]) {
      const t = new MaliTables(r.mem, TABLES, POOL);
      t.map(A, DATA, 0x1000);
      t.map(C, DATA + 0x5000, 0x1000);
      enableAs(r, 0, t.transtab());
      expect(probe(r, 0, A)).toBe(DATA); // TLB: A; walk cache: A's level-3 table
      t.unmap(A, SZ_2M, true); // the level-2 descriptor goes: the table is freed, no flush
    }
    // without a walk cache the walk reads the cleared level-2 descriptor and faults
    expect(probe(off, 0, C)).toBe(-(EXC.TRANSLATION_FAULT_0 + 2));
    // with one, the walk resumes in the freed table and still finds C's old page
    expect(probe(on, 0, C)).toBe(DATA + 0x5000);
    // the driver's LOCK + FLUSH_PT over the unmapped range ends it in both
    for (const r of [on, off]) {
      mmuOp(r, 0, A, SZ_2M, AS_CMD.FLUSH_PT);
      expect(probe(r, 0, C)).toBe(-(EXC.TRANSLATION_FAULT_0 + 2));
      expect(probe(r, 0, A)).toBe(-(EXC.TRANSLATION_FAULT_0 + 2));
    }
  });
});

describe('Mali walk cache: same translations with and without it', () => {
  type Op =
    | { kind: 'map'; region: number; block: number; page: number; pages: number; pa: number; ro: boolean }
    | { kind: 'mapBlock'; region: number; block: number; pa: number }
    | { kind: 'unmap'; region: number; block: number; page: number; pages: number }
    | { kind: 'freeTable'; region: number; block: number };
  const where = fc.record({ region: fc.nat({ max: REGIONS.length - 1 }), block: fc.nat({ max: BLOCKS - 1 }) });
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ kind: fc.constant('map' as const), page: fc.nat({ max: 511 }), pages: fc.integer({ min: 1, max: 8 }), pa: fc.nat({ max: 1023 }), ro: fc.boolean() }).chain((o) => where.map((w) => ({ ...o, ...w }))),
    fc.record({ kind: fc.constant('mapBlock' as const), pa: fc.nat({ max: 7 }) }).chain((o) => where.map((w) => ({ ...o, ...w }))),
    fc.record({ kind: fc.constant('unmap' as const), page: fc.nat({ max: 511 }), pages: fc.integer({ min: 1, max: 16 }) }).chain((o) => where.map((w) => ({ ...o, ...w }))),
    fc.record({ kind: fc.constant('freeTable' as const) }).chain((o) => where.map((w) => ({ ...o, ...w }))),
  );
  const blockVa = (o: { region: number; block: number }) => REGIONS[o.region]! + o.block * SZ_2M;

  it('over random map / unmap / table-free sequences flushed as a driver flushes them', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 40 }), fc.array(fc.nat({ max: BLOCKS * 512 - 1 }), { minLength: 8, maxLength: 24 }), (ops, probes) => {
        const { on, off } = rigs();
        const rs = [on, off];
        const ts = rs.map((r) => new MaliTables(r.mem, TABLES, POOL));
        rs.forEach((r, i) => enableAs(r, 0, ts[i]!.transtab()));
        const check = (): void => {
          for (const region of REGIONS)
            for (const p of probes) {
              const va = region + p * 0x1000 + 0x18;
              expect(probe(on, 0, va)).toBe(probe(off, 0, va));
              expect(probe(on, 0, va, MALI_FAULT_ACCESS_WRITE)).toBe(probe(off, 0, va, MALI_FAULT_ACCESS_WRITE));
            }
        };
        check();
        for (const o of ops) {
          const base = blockVa(o);
          let start = base;
          let size = SZ_2M;
          rs.forEach((r, i) => {
            const t = ts[i]!;
            switch (o.kind) {
              case 'map': {
                const n = Math.min(o.pages, 512 - o.page);
                start = base + o.page * 0x1000;
                size = n * 0x1000;
                // a 2 MiB block in the way is replaced by a table first (as io-pgtable splits)
                t.map(start, DATA + o.pa * 0x1000, size, { write: !o.ro });
                break;
              }
              case 'mapBlock':
                t.map(base, DATA + o.pa * SZ_2M, SZ_2M, {}, true);
                break;
              case 'unmap': {
                const n = Math.min(o.pages, 512 - o.page);
                start = base + o.page * 0x1000;
                size = n * 0x1000;
                t.unmap(start, size);
                break;
              }
              case 'freeTable':
                t.unmap(base, SZ_2M, true);
                break;
            }
            mmuOp(r, 0, start, size, AS_CMD.FLUSH_PT);
          });
          check();
        }
        expect(on.gpu.events).toEqual([]);
        expect(off.gpu.events).toEqual([]);
      }),
      { numRuns: 60 },
    );
  });

  it('the walk cache is exercised by those sequences (hits and region drops happen)', () => {
    const { on } = rigs();
    const t = new MaliTables(on.mem, TABLES, POOL);
    enableAs(on, 0, t.transtab());
    for (let b = 0; b < BLOCKS; b++) t.map(REGIONS[0]! + b * SZ_2M, DATA, 64 * 0x1000);
    mmuOp(on, 0, REGIONS[0]!, BLOCKS * SZ_2M, AS_CMD.FLUSH_PT);
    for (let i = 0; i < 64; i++) for (let b = 0; b < BLOCKS; b++) expect(probe(on, 0, REGIONS[0]! + b * SZ_2M + i * 0x1000)).toBe(DATA + i * 0x1000);
    const c = on.gpu.mmu.walkCacheCounters()!;
    expect(c.hits).toBe(BLOCKS * 63);
    t.unmap(REGIONS[0]!, SZ_2M, true);
    mmuOp(on, 0, REGIONS[0]!, SZ_2M, AS_CMD.FLUSH_PT);
    expect(on.gpu.mmu.walkCacheCounters()!.invalidated).toBe(1);
  });
});
