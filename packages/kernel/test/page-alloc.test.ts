import { describe, expect, it } from 'vitest';
import { PhysMem } from '@gki/hw';
import { ENOMEM, EINVAL, KernelError, PageAllocator } from '@gki/kernel';

function mk(size = 16 << 20) {
  const mem = new PhysMem([{ base: 0x4000_0000, size }]);
  return { mem, pa: new PageAllocator(mem) };
}

describe('PageAllocator', () => {
  it('hands out zeroed, naturally aligned blocks and accounts pages', () => {
    const { mem, pa } = mk();
    const a = pa.allocPages(0);
    mem.write32(a, 0x1234);
    pa.freePages(a, 0);
    const b = pa.allocPages(0);
    expect(b).toBe(a);
    expect(mem.read32(b)).toBe(0);
    const big = pa.allocPages(4);
    expect(big % (16 * 4096)).toBe(0);
    expect(pa.stats().pagesInUse).toBe(17);
    pa.freePages(big, 4);
    pa.freePages(b, 0);
    expect(pa.stats()).toMatchObject({ pagesInUse: 0, highWater: 17 });
  });

  it('coalesces buddies back to the initial state', () => {
    const { pa } = mk(4 << 20);
    const pages = Array.from({ length: 1024 }, () => pa.allocPages(0));
    expect(pa.allocPages(0)).toBe(-ENOMEM);
    for (const p of pages.reverse()) pa.freePages(p, 0);
    expect(pa.allocPages(10)).toBeGreaterThanOrEqual(0);
  });

  it('detects double free and wrong order without changing state', () => {
    const { pa } = mk();
    const a = pa.allocPages(1);
    expect(() => pa.freePages(a, 0)).toThrow(KernelError);
    pa.freePages(a, 1);
    const before = pa.snapshot();
    expect(() => pa.freePages(a, 1)).toThrow(/double free/);
    expect(pa.snapshot()).toEqual(before);
    expect(pa.allocPages(11)).toBe(-EINVAL);
  });

  it('fails the nth allocation, once', () => {
    const { pa } = mk();
    pa.injectFaults({ nth: 3 });
    const r = [pa.allocPages(), pa.allocPages(), pa.allocPages(), pa.allocPages()];
    expect(r.map((x) => x < 0)).toEqual([false, false, true, false]);
    expect(r[2]).toBe(-ENOMEM);
    expect(pa.stats().injectedFailures).toBe(1);
  });

  it('seeded probabilistic failures are reproducible', () => {
    const run = () => {
      const { pa } = mk();
      pa.injectFaults({ probability: 0.3, seed: 42 });
      return Array.from({ length: 50 }, () => pa.allocPages() < 0);
    };
    const a = run();
    expect(a).toEqual(run());
    expect(a.filter(Boolean).length).toBeGreaterThan(5);
    expect(a.filter(Boolean).length).toBeLessThan(30);
  });
});

/** A deliberately naive buddy allocator (sorted arrays per order) to compare addresses against. */
class ModelBuddy {
  readonly free: number[][] = Array.from({ length: 11 }, () => []);
  readonly allocated = new Map<number, number>();
  constructor(pools: { base: number; size: number }[]) {
    for (const r of pools) {
      let a = r.base / 4096;
      const end = (r.base + r.size) / 4096;
      while (a < end) {
        let o = 10;
        while (o > 0 && (a % 2 ** o !== 0 || a + 2 ** o > end)) o--;
        this.free[o]!.push(a);
        a += 2 ** o;
      }
    }
    for (const l of this.free) l.sort((x, y) => x - y);
  }
  alloc(order: number): number {
    let o = order;
    while (o <= 10 && this.free[o]!.length === 0) o++;
    if (o > 10) return -ENOMEM;
    const pfn = this.free[o]!.shift()!;
    while (o > order) {
      o--;
      this.insert(o, pfn + 2 ** o);
    }
    this.allocated.set(pfn, order);
    return pfn * 4096;
  }
  release(pa: number, order: number): void {
    let block = pa / 4096;
    this.allocated.delete(block);
    let o = order;
    while (o < 10) {
      const buddy = block ^ (2 ** o);
      const i = this.free[o]!.indexOf(buddy);
      if (i < 0) break;
      this.free[o]!.splice(i, 1);
      block = Math.min(block, buddy);
      o++;
    }
    this.insert(o, block);
  }
  private insert(o: number, pfn: number): void {
    const l = this.free[o]!;
    let i = 0;
    while (i < l.length && l[i]! < pfn) i++;
    l.splice(i, 0, pfn);
  }
}

describe('PageAllocator against a naive model', () => {
  it('hands out exactly the same addresses over random alloc/free sequences, across touching pools', () => {
    // two touching regions (buddies merge across the seam) and one far away, none max-order aligned at the ends
    const regions = [
      { base: 0x3fff_d000, size: 0x10_3000 },
      { base: 0x4010_0000, size: 0x19_5000 },
      { base: 0x8_0000_0000, size: 0x40_0000 },
    ];
    const mem = new PhysMem(regions);
    const pa = new PageAllocator(mem);
    const model = new ModelBuddy(regions);
    let seed = 7;
    const rnd = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    const live: { pa: number; order: number }[] = [];
    const everUsed = new Set<number>();
    // the statistics, counted here (order-0 calls take the allocator's written-out path)
    let calls = 0;
    let failed = 0;
    let frees = 0;
    let inUse = 0;
    let high = 0;
    for (let step = 0; step < 4000; step++) {
      if (live.length === 0 || rnd() < 0.55) {
        const order = rnd() < 0.7 ? 0 : Math.floor(rnd() * 11);
        const got = pa.allocPages(order);
        expect(got).toBe(model.alloc(order));
        calls++;
        if (got < 0) failed++;
        else {
          inUse += 2 ** order;
          high = Math.max(high, inUse);
          // zeroed, then dirtied, so that a later allocation of this page must zero it again
          expect(mem.read32(got + 0x100)).toBe(0);
          mem.write32(got + 0x100, 0xdead);
        }
        if (got >= 0) {
          live.push({ pa: got, order });
          for (let f = 0; f < 2 ** order; f++) everUsed.add(got / 4096 + f);
          expect(pa.orderOf(got)).toBe(order);
        }
      } else {
        const [b] = live.splice(Math.floor(rnd() * live.length), 1);
        pa.freePages(b!.pa, b!.order);
        model.release(b!.pa, b!.order);
        expect(pa.isAllocated(b!.pa)).toBe(false);
        frees++;
        inUse -= 2 ** b!.order;
      }
    }
    expect(pa.stats()).toMatchObject({ allocCalls: calls, failedAllocs: failed, freeCalls: frees, pagesInUse: inUse, highWater: high });
    expect(failed).toBeGreaterThan(0);
    const expected = [...model.allocated].map(([pfn, order]) => ({ pa: pfn * 4096, order })).sort((a, b) => a.pa - b.pa);
    expect(pa.snapshot()).toEqual(expected);
    expect(pa.stats().pagesInUse).toBe(live.reduce((n, b) => n + 2 ** b.order, 0));
    expect(mem.framesTouched()).toBe(everUsed.size);
    for (const b of live) {
      pa.freePages(b.pa, b.order);
      model.release(b.pa, b.order);
    }
    expect(pa.snapshot()).toEqual([]);
    // everything merged back, including across the seam of the touching regions at 0x4010_0000
    // (initially the lowest 2 MiB block is split from the far region)
    expect(pa.allocPages(9)).toBe(0x4000_0000);
    expect(model.alloc(9)).toBe(0x4000_0000);
    // a block across the seam is zeroed on both sides
    mem.write32(0x400f_fffc, 1);
    mem.write32(0x4010_0000, 2);
    pa.freePages(0x4000_0000, 9);
    expect(pa.allocPages(9)).toBe(0x4000_0000);
    expect([mem.read32(0x400f_fffc), mem.read32(0x4010_0000)]).toEqual([0, 0]);
    for (const order of [10, 10, 0, 3, 10]) expect(pa.allocPages(order)).toBe(model.alloc(order));
  });

  it('rejects frees of unaligned, foreign and free addresses without changing state', () => {
    const { mem, pa } = mk(1 << 20);
    const a = pa.allocPages(2);
    mem.write32(a + 0x2000, 5);
    const before = pa.snapshot();
    const stats = pa.stats();
    for (const bad of [a + 0x800, a + 0x1000, 0x1000, a + (1 << 20), Number.NaN, -4096]) {
      expect(() => pa.freePages(bad, 2)).toThrow(/double free/);
      expect(pa.isAllocated(bad)).toBe(false);
      expect(pa.orderOf(bad)).toBeUndefined();
    }
    expect(() => pa.freePages(a, 1)).toThrow(/allocated with order 2/);
    expect(pa.snapshot()).toEqual(before);
    expect(pa.stats()).toEqual(stats);
    pa.freePages(a, 2);
    expect(pa.allocPages(2)).toBe(a);
    expect(mem.read32(a + 0x2000)).toBe(0);
    expect(pa.stats()).toMatchObject({ freeCalls: 1, allocCalls: 2, pagesInUse: 4, totalPages: 256 });
  });
});

describe('RAM beyond what one allocator manages', () => {
  it('a device tree claiming 171 TB of RAM boots with 64 GiB managed and a warning, instead of crashing', async () => {
    const { Board } = await import('@gki/hw');
    const { Kernel, MAX_MANAGED_BYTES } = await import('../src/index.js');
    const board = new Board('huge', [{ base: 0x4000_0000, size: 41_875_931_136 * 4096 }]);
    const k = Kernel.boot(board, { builtin: [], modules: [] });
    expect(k.pages.stats().totalPages).toBe(MAX_MANAGED_BYTES / 4096);
    expect(k.pages.unmanagedBytes).toBe(41_875_931_136 * 4096 - MAX_MANAGED_BYTES);
    expect(k.log.grep(/GiB limit left unused/)).toHaveLength(1);
    const pa = k.pages.allocPages(3);
    expect(pa).toBe(0x4000_0000);
    k.pages.freePages(pa, 3);
  });
});
