/**
 * The Mali model's walk cache under the real driver: panfrost maps and unmaps buffers (with
 * io-pgtable's ARM_MALI_LPAE tables, tables freed when their range goes) and flushes each change
 * with LOCK + FLUSH_PT, so every translation the GPU makes is the same with the walk cache on
 * (the default) and off (`gki,no-walk-cache`), and is the buffer's page.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MALI_FAULT_ACCESS_READ, MALI_JOB_TYPE_COPY, MALI_TR_OK, prop } from '@gki/hw';
import { defaultGpuBoard, fragmentPages, type ModelRig } from './boards.js';
import { GpuClient, type ClientBo } from './client.js';

const SIZES = [0x1000, 0x3000, 0x1_0000, 0x10_0000, 0x20_0000, 0x20_0000, 0x40_0000];

type Op = { kind: 'create'; size: number } | { kind: 'close'; pick: number } | { kind: 'job'; pick: number };

interface Side {
  rig: ModelRig;
  c: GpuClient;
  out: ClientBo;
  live: ClientBo[];
}

function side(extra: ReturnType<typeof prop.empty>[]): Side {
  const rig = defaultGpuBoard(extra);
  fragmentPages(rig, 40); // about 40 MiB of single free pages
  const c = new GpuClient(rig.pfdev);
  const out = c.bo(0x1000);
  // one job so that the file owns an address space from here on
  expect(c.run([{ type: MALI_JOB_TYPE_COPY, src: out.va, dst: out.va + 0x800, length: 0x100 }], [out]).error).toBe(0);
  return { rig, c, out, live: [] };
}

function probe(s: Side, va: number): number {
  const asn = s.rig.gpu.jobLog.at(-1)!.as;
  const o = { pa: 0 };
  const code = s.rig.gpu.mmu.translate(asn, va, MALI_FAULT_ACCESS_READ, 0, o, false);
  return code === MALI_TR_OK ? o.pa : -code;
}

describe('walk cache under panfrost', () => {
  it('random create / close / job sequences translate identically with and without it', () => {
    const op: fc.Arbitrary<Op> = fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom(...SIZES).map((size) => ({ kind: 'create' as const, size })) },
      { weight: 2, arbitrary: fc.nat().map((pick) => ({ kind: 'close' as const, pick })) },
      { weight: 1, arbitrary: fc.nat().map((pick) => ({ kind: 'job' as const, pick })) },
    );
    let hits = 0;
    let walksDropped = 0;
    fc.assert(
      fc.property(fc.array(op, { minLength: 4, maxLength: 24 }), (ops) => {
        const on = side([]);
        const off = side([prop.empty('gki,no-walk-cache')]);
        expect(on.rig.gpu.mmu.walkCacheEnabled).toBe(true);
        expect(off.rig.gpu.mmu.walkCacheEnabled).toBe(false);
        const seen = new Set<number>();
        for (const o of ops) {
          for (const s of [on, off]) {
            if (o.kind === 'create') {
              // at most 24 MiB live, so the fragmented allocator never runs out
              if (s.live.reduce((n, x) => n + x.size, 0) + o.size > 24 * 0x10_0000) continue;
              const b = s.c.bo(o.size);
              s.live.push(b);
              seen.add(b.va);
            } else if (s.live.length > 0) {
              const b = s.live[o.pick % s.live.length]!;
              if (o.kind === 'close') {
                expect(s.c.file.gemClose({ handle: b.handle })).toBe(0);
                s.live.splice(s.live.indexOf(b), 1);
              } else {
                const f = s.c.run([{ type: MALI_JOB_TYPE_COPY, src: b.va, dst: s.out.va, length: 0x800 }], [b, s.out]);
                expect(f.error).toBe(0);
              }
            }
          }
          // pages of every buffer ever placed, live or not, translate alike on both (the first
          // eight pages, then every seventh: each 2 MiB of the 4 MiB after the VA is sampled)
          for (const va of seen)
            for (let off2 = 0; off2 < 0x40_0000; off2 += off2 < 0x8000 ? 0x1000 : 0x7000) expect(probe(on, va + off2)).toBe(probe(off, va + off2));
          // and a live buffer's pages are its pages
          for (const b of on.live)
            for (let off2 = 0; off2 < b.size; off2 += 0x3000) expect(probe(on, b.va + off2)).toBe(on.c.file.bo(b.handle)!.physAt(off2));
        }
        expect(on.rig.gpu.events).toEqual([]);
        hits += on.rig.gpu.mmu.walkCacheCounters()!.hits;
        walksDropped += on.rig.gpu.mmu.walkCacheCounters()!.invalidated;
        on.c.close();
        off.c.close();
      }),
      { numRuns: 12 },
    );
    // the walk cache did serve walks in those runs, and flushes dropped cached walks
    expect(hits).toBeGreaterThan(0);
    expect(walksDropped).toBeGreaterThan(0);
  });

  it('when the unmap flush is skipped, the freed level-3 table is still walked (only with a walk cache)', () => {
    const result = (extra: ReturnType<typeof prop.empty>[]) => {
      const s = side(extra);
      const b = s.c.bo(0x20_0000);
      // the GPU reads the buffer's first page: its TLB holds that page, its walk cache the table
      expect(s.c.run([{ type: MALI_JOB_TYPE_COPY, src: b.va, dst: s.out.va, length: 0x100 }], [b, s.out]).error).toBe(0);
      const oldPa = s.c.file.bo(b.handle)!.physAt(0x5000);
      s.rig.pfdev.debug.skipFlushes = 1; // fault injection: the unmap's LOCK + FLUSH_PT is not sent
      expect(s.c.file.gemClose({ handle: b.handle })).toBe(0);
      expect(s.rig.pfdev.mmu.stats.flushesSkipped).toBe(1);
      return { got: probe(s, b.va + 0x5000), oldPa };
    };
    const on = result([]);
    const off = result([prop.empty('gki,no-walk-cache')]);
    // a page the TLB never held: without a walk cache the walk sees the cleared level-2 entry
    expect(off.got).toBe(-0xc2);
    // with one it resumes in the freed table and reaches the freed page
    expect(on.got).toBe(on.oldPa);
  });
});
