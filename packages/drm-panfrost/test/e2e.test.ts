/**
 * End to end: the panfrost module driving the @gki/hw Mali model through DT-described boards.
 * Jobs really read and write memory through the page tables the driver built, so isolation,
 * slot reuse, heap growth, faults and missing TLB maintenance are all judged by what the GPU
 * did to memory and by the model's own records, not by the driver's bookkeeping.
 */
import { describe, expect, it } from 'vitest';
import {
  maliChecksum,
  MALI_JOB_TYPE_CHECKSUM,
  MALI_JOB_TYPE_COPY,
  MALI_JOB_TYPE_FILL,
  MALI_JOB_TYPE_NULL,
  prop,
} from '@gki/hw';
import { ioPgtableLiveTables } from '@gki/io-pgtable-core';
import { EBUSY, EINVAL } from '@gki/kernel';
import { PANFROST_BO_HEAP, PANFROST_BO_NOEXEC } from '../src/index.js';
import { defaultGpuBoard, mt8186, rk3399, type ModelRig } from './boards.js';
import { firstDiff, GpuClient, pattern } from './client.js';

const SZ_1M = 0x10_0000;
const SZ_2M = 0x20_0000;

function noProtocolErrors(rig: ModelRig): void {
  expect(rig.gpu.events).toEqual([]);
}

describe('isolation: several files, same GPU addresses, different memory', () => {
  it('each file only ever sees its own data', () => {
    const rig = defaultGpuBoard();
    const clients = [0, 1, 2, 3].map(() => new GpuClient(rig.pfdev));
    const bufs = clients.map((c) => ({ src: c.bo(0x1_0000), dst: c.bo(0x1_0000), sum: c.bo(0x1000) }));
    // drm_mm is deterministic: every file placed its buffers at the same GPU addresses
    for (const b of bufs) {
      expect(b.src.va).toBe(bufs[0]!.src.va);
      expect(b.dst.va).toBe(bufs[0]!.dst.va);
    }
    const data = clients.map((_, i) => pattern(100 + i, 0x1_0000));
    bufs.forEach((b, i) => b.src.cpu!.write(0, data[i]!));
    // interleave the files' jobs so their address spaces alternate on the GPU
    for (let round = 0; round < 3; round++) {
      clients.forEach((c, i) => {
        const b = bufs[i]!;
        const f = c.run(
          [
            { type: MALI_JOB_TYPE_COPY, src: b.src.va, dst: b.dst.va, length: 0x1_0000 },
            { type: MALI_JOB_TYPE_CHECKSUM, src: b.dst.va, dst: b.sum.va, length: 0x1_0000 },
          ],
          [b.src, b.dst, b.sum],
        );
        expect(f.error).toBe(0);
      });
    }
    bufs.forEach((b, i) => {
      expect(firstDiff(b.dst.cpu!.read(0, 0x1_0000), data[i]!)).toBe(-1);
      expect(b.sum.cpu!.read32(0)).toBe(maliChecksum(data[i]!));
    });
    // four address spaces were live at once, each with its own page table
    const slots = new Set(rig.gpu.jobLog.map((r) => r.as));
    expect(slots.size).toBe(4);
    noProtocolErrors(rig);
    for (const c of clients) c.close();
  });
});

/**
 * The kernel's AS assignment, written here from its rules (not from the driver): a context that
 * owns a slot keeps it and moves to the LRU head; otherwise the lowest free present slot; when
 * all are assigned, the slot of the least recently used context with no job running.
 */
class LruReference {
  private readonly lru: number[] = []; // context ids, most recent first
  private readonly slotOf = new Map<number, number>();
  constructor(private readonly slots: number) {}
  get(ctx: number): number {
    const own = this.slotOf.get(ctx);
    if (own !== undefined) {
      this.lru.splice(this.lru.indexOf(ctx), 1);
      this.lru.unshift(ctx);
      return own;
    }
    const used = new Set(this.slotOf.values());
    let slot = 0;
    while (used.has(slot)) slot++;
    if (slot >= this.slots) {
      const victim = this.lru.pop()!;
      slot = this.slotOf.get(victim)!;
      this.slotOf.delete(victim);
    }
    this.slotOf.set(ctx, slot);
    this.lru.unshift(ctx);
    return slot;
  }
}

describe('more files than address-space slots', () => {
  it('reuses slots in the kernel LRU order and never leaks data between files', () => {
    const rig = defaultGpuBoard([prop.u32('gki,as-present', 0x3)]);
    expect(rig.pfdev.features.asPresent).toBe(0x3);
    const clients = [0, 1, 2, 3, 4].map(() => new GpuClient(rig.pfdev));
    const dsts = clients.map((c) => c.bo(0x2000));
    const ref = new LruReference(2);
    let seed = 12345;
    const next = (): number => (seed = (seed * 1103515245 + 12345) >>> 0);
    const expectedSlots: number[] = [];
    const gotSlots: number[] = [];
    for (let n = 0; n < 60; n++) {
      const i = next() % clients.length;
      const value = next();
      const before = rig.gpu.jobLog.length;
      const f = clients[i]!.run([{ type: MALI_JOB_TYPE_FILL, dst: dsts[i]!.va, length: 0x2000, value }], [dsts[i]!]);
      expect(f.error).toBe(0);
      expect(rig.gpu.jobLog.length).toBe(before + 1);
      gotSlots.push(rig.gpu.jobLog.at(-1)!.as);
      expectedSlots.push(ref.get(i));
      expect(dsts[i]!.cpu!.read32(0x1ffc)).toBe(value);
    }
    expect(gotSlots).toEqual(expectedSlots);
    expect(rig.pfdev.mmu.stats.asGetReclaims).toBeGreaterThan(10);
    noProtocolErrors(rig);
    for (const c of clients) c.close();
  });

  it('never takes the slot of a file whose job is still running', () => {
    const rig = defaultGpuBoard([prop.u32('gki,as-present', 0x1), prop.string('gki,job-execution', 'manual')]);
    const a = new GpuClient(rig.pfdev);
    const b = new GpuClient(rig.pfdev);
    const da = a.bo(0x1000);
    const db = b.bo(0x1000);
    const fa = a.run([{ type: MALI_JOB_TYPE_FILL, dst: da.va, length: 0x1000, value: 0xaaaa_aaaa }], [da]);
    // B's job wants JS0 and an AS: the only AS belongs to A, whose job is on the GPU
    const fb = b.run([{ type: MALI_JOB_TYPE_FILL, dst: db.va, length: 0x1000, value: 0xbbbb_bbbb }], [db], true);
    expect(a.file.as).toBe(0);
    expect(b.file.as).toBe(-1);
    expect(fb.signaled).toBe(false);
    // the GPU runs A's chain; its completion frees the AS for B, whose job then runs too
    rig.gpu.run();
    rig.pfdev.drain();
    rig.gpu.run();
    expect(fa.error).toBe(0);
    expect(fb.signaled).toBe(true);
    expect(fb.error).toBe(0);
    expect(da.cpu!.read32(0)).toBe(0xaaaa_aaaa);
    expect(db.cpu!.read32(0)).toBe(0xbbbb_bbbb);
    expect(b.file.as).toBe(0);
    noProtocolErrors(rig);
    a.close();
    b.close();
  });
});

describe('growable heaps', () => {
  it('a job touching a heap grows it 2 MiB per fault and runs to completion', () => {
    const rig = defaultGpuBoard();
    const c = new GpuClient(rig.pfdev);
    const heap = c.bo(8 * SZ_1M, PANFROST_BO_NOEXEC | PANFROST_BO_HEAP, false);
    const out = c.bo(0x1_0000);
    const bo = c.file.bo(heap.handle)!;
    expect(bo.heapRssSize).toBe(0);
    const f = c.run(
      [
        // touches [1 MiB, 5 MiB): chunks 0, 1 and 2 of the heap
        { type: MALI_JOB_TYPE_FILL, dst: heap.va + SZ_1M, length: 4 * SZ_1M, value: 0x5a5a_1234 },
        { type: MALI_JOB_TYPE_COPY, src: heap.va + 5 * SZ_1M - 0x1_0000, dst: out.va, length: 0x1_0000 },
      ],
      [heap, out],
    );
    expect(f.signaled).toBe(true);
    expect(f.error).toBe(0);
    expect(bo.heapChunksPresent()).toEqual([0, 1, 2]);
    expect(bo.heapRssSize).toBe(3 * SZ_2M);
    expect(rig.pfdev.mmu.stats.heapFaults).toBe(3);
    expect(rig.gpu.stats.jobs.resumes).toBeGreaterThanOrEqual(3);
    for (let off = 0; off < 0x1_0000; off += 0x1000) expect(out.cpu!.read32(off)).toBe(0x5a5a_1234);
    expect(rig.k.log.dmesg()).not.toContain('Unhandled Page fault');
    // the rest of the heap is still unbacked
    expect(c.file.mmu.ops.iovaToPhys(heap.va + 3 * SZ_2M)).toBe(0);
    noProtocolErrors(rig);
    c.close();
  });
});

describe('faults', () => {
  it('a job touching unmapped memory fails with the fault decoded in the log; other files carry on', () => {
    const rig = defaultGpuBoard();
    const bad = new GpuClient(rig.pfdev);
    const good = new GpuClient(rig.pfdev);
    const dst = bad.bo(0x1000);
    const gdst = good.bo(0x1000);
    const fault = bad.run([{ type: MALI_JOB_TYPE_COPY, src: 0x8000_0000, dst: dst.va, length: 0x100 }], [dst]);
    expect(fault.signaled).toBe(true);
    expect(fault.error).toBe(-EINVAL);
    const rec = rig.gpu.mmu.faultLog.at(-1)!;
    const code = rec.exceptionType;
    expect(code & 0xf8).toBe(0xc0);
    const log = rig.k.log.dmesg();
    expect(log).toContain('Unhandled Page fault in AS0 at VA 0x0000000080000000\nReason: TODO\n');
    expect(log).toContain(`exception type 0x${code.toString(16).toUpperCase()}: TRANSLATION_FAULT_${code & 7}`);
    expect(log).toContain('access type 0x2: READ');
    expect(log).toMatch(/js fault, js=1, status=TRANSLATION_FAULT_\d, head=0x[0-9a-f]+, tail=0x[0-9a-f]+/);
    // another file runs fine, and so does the faulting file's next job
    const g = good.run([{ type: MALI_JOB_TYPE_FILL, dst: gdst.va, length: 0x1000, value: 7 }], [gdst]);
    expect(g.error).toBe(0);
    expect(gdst.cpu!.read32(0xffc)).toBe(7);
    const again = bad.run([{ type: MALI_JOB_TYPE_FILL, dst: dst.va, length: 0x1000, value: 9 }], [dst]);
    expect(again.error).toBe(0);
    expect(dst.cpu!.read32(0)).toBe(9);
    noProtocolErrors(rig);
    bad.close();
    good.close();
  });

  it('a write to a buffer that is not a heap (beyond its end) is terminal too', () => {
    const rig = defaultGpuBoard();
    const c = new GpuClient(rig.pfdev);
    void c.descHandle; // the descriptor buffer first, so nothing is placed after `b`
    const b = c.bo(0x3000);
    // the buffer is 3 pages; its node is 3 pages; the page after it belongs to nobody
    const f = c.run([{ type: MALI_JOB_TYPE_FILL, dst: b.va, length: 0x4000, value: 1 }], [b]);
    expect(f.error).toBe(-EINVAL);
    expect(rig.k.log.dmesg()).toContain(`at VA 0x${(b.va + 0x3000).toString(16).toUpperCase().padStart(16, '0')}`);
    expect(rig.k.log.dmesg()).toContain('access type 0x3: WRITE');
    c.close();
  });

  it('a malformed job chain fails with the job manager status', () => {
    const rig = defaultGpuBoard();
    const c = new GpuClient(rig.pfdev);
    const f = c.run([{ type: 0x7e }], []);
    expect(f.error).toBe(-EINVAL);
    expect(rig.k.log.dmesg()).toMatch(/js fault, js=1, status=JOB_CONFIG_FAULT/);
    const ok = c.run([{ type: MALI_JOB_TYPE_NULL }], []);
    expect(ok.error).toBe(0);
    c.close();
  });
});

describe('TLB maintenance', () => {
  /**
   * A buffer at VA X is read by the GPU (its translation is now in the AS's TLB), closed, and a
   * new buffer with other pages placed at the same X. With the driver's LOCK + FLUSH_PT after
   * the unmap and the map, the GPU reads the new buffer; with both skipped (fault injection)
   * it reads the old, freed pages through the stale TLB entry.
   */
  function remapScenario(skip: boolean): { readBack: Uint8Array; expected: Uint8Array; rig: ModelRig } {
    const rig = defaultGpuBoard();
    const c = new GpuClient(rig.pfdev);
    const out = c.bo(0x1000);
    const a = c.bo(0x1000);
    a.cpu!.write(0, pattern(1, 0x1000));
    expect(c.run([{ type: MALI_JOB_TYPE_COPY, src: a.va, dst: out.va, length: 0x1000 }], [a, out]).error).toBe(0);
    const oldPa = c.file.bo(a.handle)!.physAt(0);
    rig.pfdev.debug.skipFlushes = skip ? 2 : 0;
    expect(c.file.gemClose({ handle: a.handle })).toBe(0);
    // hold the freed page so the new buffer cannot get it back, and mark it
    const decoy = rig.k.pages.allocPages(0);
    expect(decoy).toBe(oldPa);
    rig.k.mem.writeBytes(decoy, pattern(666, 0x1000));
    const b = c.bo(0x1000);
    expect(b.va).toBe(a.va);
    const expected = pattern(2, 0x1000);
    b.cpu!.write(0, expected);
    expect(c.run([{ type: MALI_JOB_TYPE_COPY, src: b.va, dst: out.va, length: 0x1000 }], [b, out]).error).toBe(0);
    const readBack = out.cpu!.read(0, 0x1000);
    c.close();
    rig.k.pages.freePages(decoy, 0);
    return { readBack, expected, rig };
  }

  it('with LOCK + FLUSH_PT the GPU sees the new mapping', () => {
    const { readBack, expected, rig } = remapScenario(false);
    expect(firstDiff(readBack, expected)).toBe(-1);
    expect(rig.pfdev.mmu.stats.flushesSkipped).toBe(0);
  });

  it('a skipped LOCK/FLUSH is caught: the GPU reads the freed page through its stale TLB entry', () => {
    const { readBack, expected, rig } = remapScenario(true);
    expect(firstDiff(readBack, expected)).not.toBe(-1);
    expect(firstDiff(readBack, pattern(666, 0x1000))).toBe(-1);
    expect(rig.pfdev.mmu.stats.flushesSkipped).toBe(2);
  });

  it('the unmap is flushed on the GPU (LOCK + FLUSH_PT, done) before the pages go back to the allocator', () => {
    const rig = defaultGpuBoard();
    const c = new GpuClient(rig.pfdev);
    const out = c.bo(0x1000);
    const a = c.bo(0x1000);
    expect(c.run([{ type: MALI_JOB_TYPE_COPY, src: a.va, dst: out.va, length: 0x1000 }], [a, out]).error).toBe(0);
    const pa = c.file.bo(a.handle)!.physAt(0);
    const cmds = rig.gpu.stats.mmu.commands as Record<string, number>;
    const count = () => ({ lock: cmds.LOCK ?? 0, flush: cmds.FLUSH_PT ?? 0 });
    const before = count();
    // watch the allocator: which MMU commands had the GPU run when the buffer's page was freed?
    let atFree: { lock: number; flush: number } | null = null;
    const pages = rig.k.pages;
    const free = pages.freePages.bind(pages);
    pages.freePages = (p: number, order = 0) => {
      if (pa >= p && pa < p + 0x1000 * 2 ** order) atFree = count();
      free(p, order);
    };
    try {
      expect(c.file.gemClose({ handle: a.handle })).toBe(0);
    } finally {
      pages.freePages = free;
    }
    expect(rig.k.pages.isAllocated(pa)).toBe(false);
    expect(atFree).toEqual({ lock: before.lock + 1, flush: before.flush + 1 });
    noProtocolErrors(rig);
    c.close();
  });

  it('the driver waits for AS_ACTIVE: slow MMU commands produce no protocol violation', () => {
    const rig = defaultGpuBoard([prop.u32('gki,mmu-latency', 40)]);
    const c = new GpuClient(rig.pfdev);
    const b = c.bo(0x4000);
    expect(c.run([{ type: MALI_JOB_TYPE_FILL, dst: b.va, length: 0x4000, value: 3 }], [b]).error).toBe(0);
    // the context owns an AS now: every map and unmap below is a LOCK + FLUSH_PT of 40-access commands
    for (let i = 0; i < 4; i++) c.file.gemClose({ handle: c.bo(0x1000 * (i + 1)).handle });
    c.file.gemClose({ handle: b.handle });
    noProtocolErrors(rig);
    expect(rig.gpu.stats.mmu.commandsDropped).toBe(0);
    expect(rig.gpu.stats.mmu.commands).toMatchObject({ LOCK: 10, FLUSH_PT: 9, FLUSH_MEM: 1, UPDATE: 1 });
    c.close();
  });
});

describe('real SoC device trees (trimmed of clocks and power domains, four-cell GIC)', () => {
  for (const [name, make, modelName, lines] of [
    ['rk3399 (Mali-T860, Midgard)', rk3399, 'mali-t860', { job: 32 + 20, mmu: 32 + 21, gpu: 32 + 19 }],
    ['mt8186 (Mali-G52, Bifrost)', mt8186, 'mali-g52', { job: 32 + 276, mmu: 32 + 275, gpu: 32 + 274 }],
  ] as const) {
    it(`${name}: boots, probes from its compatibles and interrupt names, and runs jobs`, () => {
      const rig = make();
      const log = rig.k.log.dmesg();
      expect(log).toContain(`: ${modelName} id 0x`);
      expect(log).toMatch(/\[drm\] Initialized panfrost 1\.2\.0 20180908 for [0-9a-f]+\.gpu on minor 0/);
      const irqs = rig.k.drivers.snapshot().irqs.map((i) => i.irq);
      expect(irqs).toEqual(expect.arrayContaining([lines.job, lines.mmu, lines.gpu]));
      const c = new GpuClient(rig.pfdev);
      const src = c.bo(0x8000);
      const dst = c.bo(0x8000);
      src.cpu!.write(0, pattern(9, 0x8000));
      const f = c.run([{ type: MALI_JOB_TYPE_COPY, src: src.va, dst: dst.va, length: 0x8000 }], [src, dst]);
      expect(f.error).toBe(0);
      expect(firstDiff(dst.cpu!.read(0, 0x8000), pattern(9, 0x8000))).toBe(-1);
      noProtocolErrors(rig);
      c.close();
    });
  }
});

describe('unload rules on the real model', () => {
  it('-EBUSY while a file is open or a page table lives; after the last close everything is back', () => {
    const rig = rk3399();
    const { k } = rig;
    const baseline = k.pages.snapshot();
    const clients = [0, 1, 2].map(() => new GpuClient(rig.pfdev));
    for (const c of clients) {
      const heap = c.bo(4 * SZ_1M, PANFROST_BO_NOEXEC | PANFROST_BO_HEAP, false);
      const b = c.bo(3 * SZ_2M);
      c.run([{ type: MALI_JOB_TYPE_FILL, dst: heap.va, length: 3 * SZ_1M, value: 1 }], [heap, b]);
    }
    expect(k.modules.unload('panfrost')).toBe(-EBUSY);
    expect(k.modules.unload('io-pgtable-arm')).toBe(-EBUSY);
    expect(ioPgtableLiveTables(k).map((t) => t.owner)).toEqual(['io-pgtable-arm', 'io-pgtable-arm', 'io-pgtable-arm']);
    for (const c of clients) c.close();
    expect(k.pages.snapshot()).toEqual(baseline);
    expect(k.modules.unload('panfrost')).toBe(0);
    expect(k.modules.unload('io-pgtable-arm')).toBe(0);
    noProtocolErrors(rig);
  });
});
