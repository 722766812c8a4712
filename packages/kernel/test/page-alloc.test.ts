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

/**
 * Linux's pcp sizing, computed here from the formulas in mm/page_alloc.c (v6.12) for one zone
 * on a one-CPU node with 4 KiB pages, written independently of the allocator's code.
 * zone_batchsize: min(managed / 1024, 256) / 4, at least 1, then the largest power of two not
 * above batch * 1.5, minus one (at least 1).
 */
function linuxBatch(managed: number): number {
  let b = Math.floor(Math.min(Math.floor(managed / 1024), 256) / 4);
  if (b < 1) b = 1;
  let p = 1;
  while (p * 2 <= b + Math.floor(b / 2)) p *= 2;
  return Math.max(1, p - 1);
}

/**
 * pcp->high_min: the low watermark (min_free_kbytes = int_sqrt(KiB × 16) clamped to
 * [128, 262144]; WMARK_MIN its pages; WMARK_LOW = WMARK_MIN + max(WMARK_MIN / 4, managed ×
 * 10 / 10000)) over one CPU, at least 4 × batch.
 */
function linuxHigh(managed: number, batch: number): number {
  const kib16 = managed * 4 * 16;
  let root = 0;
  for (let step = 2 ** 20; step >= 1; step /= 2) if ((root + step) ** 2 <= kib16) root += step;
  const minFreeKbytes = Math.min(Math.max(root, 128), 262144);
  const wmarkMin = Math.floor(minFreeKbytes / 4);
  const low = wmarkMin + Math.max(Math.floor(wmarkMin / 4), Math.floor((managed * 10) / 10000));
  return Math.max(low, 4 * batch);
}

/** A deliberately naive buddy allocator (sorted arrays per order, lowest block first). */
class ModelBuddy {
  readonly free: number[][] = Array.from({ length: 11 }, () => []);
  readonly pages: number;
  constructor(pools: { base: number; size: number }[]) {
    let pages = 0;
    for (const r of pools) {
      let a = r.base / 4096;
      const end = (r.base + r.size) / 4096;
      while (a < end) {
        let o = 10;
        while (o > 0 && (a % 2 ** o !== 0 || a + 2 ** o > end)) o--;
        this.free[o]!.push(a);
        pages += 2 ** o;
        a += 2 ** o;
      }
    }
    this.pages = pages;
    for (const l of this.free) l.sort((x, y) => x - y);
  }
  /** The lowest block of the smallest order ≥ `order`, split down; its frame number or -1. */
  take(order: number): number {
    let o = order;
    while (o <= 10 && this.free[o]!.length === 0) o++;
    if (o > 10) return -1;
    const pfn = this.free[o]!.shift()!;
    while (o > order) {
      o--;
      this.insert(o, pfn + 2 ** o);
    }
    return pfn;
  }
  give(pfn: number, order: number): void {
    let block = pfn;
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

/**
 * Linux's page allocator for one CPU, naively: per-CPU lists (plain arrays, index 0 the head)
 * for orders 0-3 in front of the model buddy, with v6.12's rules: a free goes to its list's
 * head and trims from the tails at `high`; an allocation takes the head, refilling an empty
 * list from the buddy in the order taken; a failure drains the lists and retries once.
 */
class ModelPageAlloc {
  readonly buddy: ModelBuddy;
  readonly allocated = new Map<number, number>();
  readonly lists: number[][] = [[], [], [], []];
  readonly batch: number;
  readonly high: number;
  count = 0;
  freeCount = 0;
  allocFactor = 0;
  prevFreeHighOrder = false;
  /** How often each rule fired, so the random test can show it exercised them. */
  readonly fired = { refill: 0, trim: 0, freeHigh: 0, drain: 0 };
  constructor(
    pools: { base: number; size: number }[],
    readonly pcp = true,
  ) {
    this.buddy = new ModelBuddy(pools);
    this.batch = linuxBatch(this.buddy.pages);
    this.high = linuxHigh(this.buddy.pages, this.batch);
  }
  alloc(order: number): number {
    let pfn = this.rmqueue(order);
    if (pfn < 0 && this.pcp) {
      this.drain();
      pfn = this.rmqueue(order);
    }
    if (pfn < 0) return -ENOMEM;
    this.allocated.set(pfn, order);
    return pfn * 4096;
  }
  private rmqueue(order: number): number {
    if (this.pcp && order <= 3) {
      this.freeCount = Math.floor(this.freeCount / 2);
      const list = this.lists[order]!;
      if (list.length === 0) {
        this.fired.refill++;
        let n = order === 0 ? this.batch * 2 ** this.allocFactor : this.batch;
        if (order === 0) {
          const room = Math.max(this.high - this.count - this.batch, this.batch);
          if (n <= room && this.allocFactor < 5) this.allocFactor++;
          n = Math.min(n, room);
        }
        if (n > 1) n = Math.max(Math.floor(n / 2 ** order), 2);
        for (let i = 0; i < n; i++) {
          const b = this.buddy.take(order);
          if (b < 0) break;
          list.push(b);
          this.count += 2 ** order;
        }
      }
      if (list.length > 0) {
        this.count -= 2 ** order;
        return list.shift()!;
      }
    }
    return this.buddy.take(order);
  }
  release(pa: number, order: number): void {
    const pfn = pa / 4096;
    this.allocated.delete(pfn);
    if (!this.pcp || order > 3) {
      this.buddy.give(pfn, order);
      return;
    }
    this.allocFactor = Math.floor(this.allocFactor / 2);
    this.lists[order]!.unshift(pfn);
    this.count += 2 ** order;
    let freeHigh = false;
    if (order > 0) {
      freeHigh = this.freeCount >= this.batch && this.prevFreeHighOrder;
      this.prevFreeHighOrder = true;
    } else this.prevFreeHighOrder = false;
    if (this.freeCount < this.batch * 32) this.freeCount += 2 ** order;
    if (freeHigh) {
      this.fired.freeHigh++;
      this.bulk(Math.min(this.count, this.batch * 32), order);
    } else if (this.count >= this.high) {
      this.fired.trim++;
      this.bulk(Math.min(Math.max(this.freeCount, this.batch), this.high - this.batch), order);
    }
  }
  private bulk(n: number, order: number): void {
    let left = Math.min(n, this.count);
    let p = order;
    while (left > 0) {
      while (this.lists[p]!.length === 0) p = (p + 1) % 4;
      while (left > 0 && this.lists[p]!.length > 0) {
        this.buddy.give(this.lists[p]!.pop()!, p);
        left -= 2 ** p;
        this.count -= 2 ** p;
      }
      p = (p + 1) % 4;
    }
  }
  drain(): void {
    this.fired.drain++;
    while (this.count > 0) this.bulk(Math.min(this.count, this.batch * 32), 0);
  }
}

/** Random alloc/free steps on `regions`, every result compared with the model's. */
function randomRun(regions: { base: number; size: number }[], steps: number, pcp: boolean, seed0: number) {
  const mem = new PhysMem(regions);
  const pa = new PageAllocator(mem, undefined, { pcp });
  const model = new ModelPageAlloc(regions, pcp);
  expect(pa.pcpInfo()).toMatchObject({ enabled: pcp, batch: model.batch, high: model.high, count: 0 });
  let seed = seed0;
  const rnd = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  const live: { pa: number; order: number }[] = [];
  const everUsed = new Set<number>();
  // the statistics, counted here (order-0 calls take the allocator's written-out paths)
  let calls = 0;
  let failed = 0;
  let frees = 0;
  let inUse = 0;
  let high = 0;
  const listsOf = () => model.lists.map((l) => l.map((pfn) => pfn * 4096));
  for (let step = 0; step < steps; step++) {
    if (live.length === 0 || rnd() < 0.55) {
      const order = rnd() < 0.7 ? 0 : rnd() < 0.5 ? 1 + Math.floor(rnd() * 3) : Math.floor(rnd() * 11);
      const got = pa.allocPages(order);
      expect(got).toBe(model.alloc(order));
      calls++;
      if (got < 0) failed++;
      else {
        inUse += 2 ** order;
        high = Math.max(high, inUse);
        // zeroed, then dirtied, so that a later allocation of this page must zero it again
        expect(mem.read32(got + 0x100)).toBe(0);
        expect(mem.read32(got + 2 ** order * 4096 - 4)).toBe(0);
        mem.write32(got + 0x100, 0xdead);
        mem.write32(got + 2 ** order * 4096 - 4, 0xbeef);
        live.push({ pa: got, order });
        for (let f = 0; f < 2 ** order; f++) everUsed.add(got / 4096 + f);
        expect(pa.orderOf(got)).toBe(order);
      }
    } else {
      const [b] = live.splice(Math.floor(rnd() * live.length), 1);
      pa.freePages(b!.pa, b!.order);
      model.release(b!.pa, b!.order);
      // a block on a list is free: not allocated, no order, and freeing it again is a double free
      expect(pa.isAllocated(b!.pa)).toBe(false);
      expect(pa.orderOf(b!.pa)).toBeUndefined();
      if (step % 97 === 0) expect(() => pa.freePages(b!.pa, b!.order)).toThrow(/which is not allocated \(double free\?\)/);
      frees++;
      inUse -= 2 ** b!.order;
    }
    if (step % 50 === 0) expect(pa.pcpInfo()).toMatchObject({ count: model.count, lists: listsOf() });
  }
  expect(pa.stats()).toMatchObject({ allocCalls: calls, failedAllocs: failed, freeCalls: frees, pagesInUse: inUse, highWater: high });
  const expected = [...model.allocated].map(([pfn, order]) => ({ pa: pfn * 4096, order })).sort((a, b) => a.pa - b.pa);
  expect(pa.snapshot()).toEqual(expected);
  expect(pa.stats().pagesInUse).toBe(live.reduce((n, b) => n + 2 ** b.order, 0));
  expect(pa.pcpInfo()).toMatchObject({ count: model.count, lists: listsOf() });
  expect(mem.framesTouched()).toBe(everUsed.size);
  for (const b of live) {
    pa.freePages(b.pa, b.order);
    model.release(b.pa, b.order);
  }
  expect(pa.snapshot()).toEqual([]);
  expect(pa.stats().pagesInUse).toBe(0);
  expect(pa.pcpInfo()).toMatchObject({ count: model.count, lists: listsOf() });
  return { mem, pa, model, failed };
}

describe('PageAllocator against a naive model', () => {
  // two touching regions (buddies merge across the seam) and one far away, none max-order aligned at the ends
  const regions = [
    { base: 0x3fff_d000, size: 0x10_3000 },
    { base: 0x4010_0000, size: 0x19_5000 },
    { base: 0x8_0000_0000, size: 0x40_0000 },
  ];

  it('hands out exactly the same addresses over random alloc/free sequences, across touching pools (per-CPU lists on)', () => {
    const { mem, pa, model, failed } = randomRun(regions, 6000, true, 7);
    expect(failed).toBeGreaterThan(0);
    // every rule of the lists ran: refills, trims at high, the high-order rule, drain-and-retry
    expect(model.fired.refill).toBeGreaterThan(10);
    expect(model.fired.trim).toBeGreaterThan(0);
    expect(model.fired.freeHigh).toBeGreaterThan(0);
    expect(model.fired.drain).toBeGreaterThan(0);
    // after draining, everything merges back, including across the seam of the touching regions
    // at 0x4010_0000 (initially the lowest 2 MiB block is split from the far region)
    pa.drainAllPages();
    model.drain();
    expect(pa.pcpInfo().count).toBe(0);
    expect(pa.allocPages(9)).toBe(0x4000_0000);
    expect(model.alloc(9)).toBe(0x4000_0000);
    // a block across the seam is zeroed on both sides
    mem.write32(0x400f_fffc, 1);
    mem.write32(0x4010_0000, 2);
    pa.freePages(0x4000_0000, 9);
    model.release(0x4000_0000, 9);
    expect(pa.allocPages(9)).toBe(0x4000_0000);
    expect(model.alloc(9)).toBe(0x4000_0000);
    expect([mem.read32(0x400f_fffc), mem.read32(0x4010_0000)]).toEqual([0, 0]);
    for (const order of [10, 10, 0, 3, 10, 1, 0]) expect(pa.allocPages(order)).toBe(model.alloc(order));
  });

  it('with a batch above 1 (64 MiB: batch 3, high 320) the same holds', () => {
    const { model } = randomRun([{ base: 0x8000_0000, size: 64 << 20 }], 6000, true, 11);
    expect(model.batch).toBe(3);
    expect(model.fired.refill).toBeGreaterThan(10);
    expect(model.fired.trim + model.fired.freeHigh).toBeGreaterThan(0);
  });

  it('with the lists off (pcp: false) it is the buddy alone, lowest block first', () => {
    const { pa, failed } = randomRun(regions, 4000, false, 7);
    expect(failed).toBeGreaterThan(0);
    expect(pa.pcpInfo()).toMatchObject({ enabled: false, count: 0, lists: [[], [], [], []] });
    expect(pa.allocPages(9)).toBe(0x4000_0000);
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

describe("the per-CPU page lists, on Linux's facts", () => {
  const board = (size: number) => {
    const mem = new PhysMem([{ base: 0x4000_0000, size }]);
    return { mem, pa: new PageAllocator(mem) };
  };

  it('sizes batch and high from the managed pages as zone_batchsize and the low watermark do', () => {
    // batch: 63 from 1 GiB of 4 KiB pages up (1 MiB / 4 = 64, to 2^n - 1); smaller zones ~0.1% / 4.
    // high: Linux's own table of min_free_kbytes (16 MiB 512k, 64 MiB 1024k, 1 GiB 4096k,
    // 4 GiB 8192k) in pages, plus the low watermark's distance, over one CPU.
    const cases: [number, number, number][] = [
      [1 << 20, 1, 40], // min_free_kbytes 128 (the floor): 32 + max(8, 0)
      [16 << 20, 1, 160], // 128 + max(32, 4)
      [64 << 20, 3, 320], // 256 + max(64, 16)
      [256 << 20, 15, 640], // 2048k: 512 + max(128, 65)
      [2 ** 30, 63, 1286], // 1024 + max(256, 262)
      [4 * 2 ** 30, 63, 3096], // 2048 + max(512, 1048)
    ];
    for (const [size, batch, high] of cases) {
      const { pa } = board(size);
      expect(pa.pcpInfo(), `${size / 2 ** 20} MiB`).toMatchObject({ enabled: true, batch, high, count: 0 });
      expect([linuxBatch(size / 4096), linuxHigh(size / 4096, batch)]).toEqual([batch, high]);
    }
  });

  it('a page freed then allocated comes back LIFO, the last freed first', () => {
    const { mem, pa } = board(64 << 20);
    const pages = Array.from({ length: 5 }, () => pa.allocPages(0));
    for (const p of pages) mem.write32(p, 0xffff_ffff);
    for (const p of pages) pa.freePages(p, 0);
    expect(pa.pcpInfo().lists[0]!.slice(0, 5)).toEqual([...pages].reverse());
    const again = Array.from({ length: 5 }, () => pa.allocPages(0));
    expect(again).toEqual([...pages].reverse());
    for (const p of again) expect(mem.read32(p)).toBe(0);
    expect(pa.stats().pagesInUse).toBe(5);
  });

  it('an empty list is refilled from the buddy batch pages at a time, in address order, doubling while nothing is freed', () => {
    const { pa } = board(2 ** 30); // batch 63, high 1286
    const first = pa.allocPages(0);
    expect(first).toBe(0x4000_0000);
    let info = pa.pcpInfo();
    // 63 pages taken, the first handed out, the other 62 queued in allocation (address) order
    expect(info.count).toBe(62);
    expect(info.lists[0]).toEqual(Array.from({ length: 62 }, (_, i) => 0x4000_0000 + (i + 1) * 4096));
    // each refill without a free in between takes batch << alloc_factor, at most high - count - batch
    const refills: number[] = [];
    let before = info.count;
    for (let i = 0; i < 4000; i++) {
      pa.allocPages(0);
      const now = pa.pcpInfo().count;
      if (now > before) refills.push(now - before + 1);
      before = now;
    }
    expect(refills.slice(0, 6)).toEqual([126, 252, 504, 1008, 1223, 1223]);
    // a free halves alloc_factor (5 → 2): the next refill takes 63 << 2 pages
    const held = pa.allocPages(0);
    while (pa.pcpInfo().count > 0) pa.allocPages(0);
    pa.freePages(held, 0);
    pa.allocPages(0); // the freed page, LIFO
    const c0 = pa.pcpInfo().count;
    expect(c0).toBe(0);
    pa.allocPages(0);
    expect(pa.pcpInfo().count).toBe(252 - 1);
  });

  it('higher orders up to 3 have their own lists, refilled batch >> order blocks (at least 2) at a time', () => {
    const { pa } = board(2 ** 30);
    expect(pa.allocPages(3)).toBe(0x4000_0000);
    // 63 >> 3 = 7 blocks of 8 pages: one handed out, 6 queued
    expect(pa.pcpInfo().lists[3]).toEqual(Array.from({ length: 6 }, (_, i) => 0x4000_0000 + (i + 1) * 0x8000));
    expect(pa.pcpInfo().count).toBe(48);
    // order 4 is beyond PAGE_ALLOC_COSTLY_ORDER: straight from and to the buddy
    const big = pa.allocPages(4);
    pa.freePages(big, 4);
    expect(pa.pcpInfo().count).toBe(48);
    expect(pa.allocPages(4)).toBe(big);
    // order 1 on a 16 MiB zone (batch 1): max(1 >> 1, ...) stays 1 block
    const small = board(16 << 20).pa;
    small.allocPages(1);
    expect(small.pcpInfo().count).toBe(0);
  });

  it('a free that brings the lists to high trims them from the tail by clamp(free_count, batch, high - batch)', () => {
    const { pa } = board(64 << 20); // batch 3, high 320
    const pages = Array.from({ length: 400 }, () => pa.allocPages(0));
    const leftover = pa.pcpInfo().count;
    let frees = 0;
    const drops: { at: number; by: number }[] = [];
    for (const p of pages) {
      const before = pa.pcpInfo();
      pa.freePages(p, 0);
      frees++;
      const after = pa.pcpInfo();
      expect(after.count).toBeLessThan(320);
      expect(after.lists[0]![0]).toBe(p);
      if (after.count < before.count + 1) {
        drops.push({ at: frees, by: before.count + 1 - after.count });
        // the pages left are the head's side: the oldest (tail) entries went back to the buddy
        const gone = [p, ...before.lists[0]!].slice(after.count);
        for (const g of gone) expect(after.lists[0]).not.toContain(g);
        expect(after.lists[0]).toEqual([p, ...before.lists[0]!].slice(0, after.count));
      }
    }
    // free_count counts consecutive frees (allocations halve it) up to batch << 5 = 96
    expect(drops.length).toBeGreaterThan(0);
    for (const d of drops) expect(d.by).toBe(Math.min(Math.max(Math.min(d.at, 96), 3), 317));
    expect(drops[0]!.at).toBe(320 - leftover);
    expect(pa.stats().pagesInUse).toBe(0);
  });

  it('an allocation the buddy cannot satisfy drains the lists into the buddy and retries', () => {
    const { pa } = board(1 << 20); // 256 pages, batch 1, high 40
    const pages = Array.from({ length: 256 }, () => pa.allocPages(0));
    expect(new Set(pages).size).toBe(256);
    expect(pa.allocPages(0)).toBe(-ENOMEM);
    // ten buddy pairs freed: 20 pages sit on the order-0 list, the buddy itself is empty
    const freed = [40, 41, 100, 101, 130, 131, 6, 7, 200, 201, 62, 63, 90, 91, 150, 151, 22, 23, 180, 181].map((i) => 0x4000_0000 + i * 4096);
    for (const p of freed) pa.freePages(p, 0);
    expect(pa.pcpInfo().count).toBe(20);
    const stats = pa.stats();
    // order 1: no list page fits, the buddy has nothing; drained, the pairs merge, the lowest is taken
    expect(pa.allocPages(1)).toBe(0x4000_0000 + 6 * 4096);
    expect(pa.pcpInfo().count).toBe(0);
    expect(pa.stats()).toMatchObject({ failedAllocs: stats.failedAllocs, allocCalls: stats.allocCalls + 1, pagesInUse: 256 - 20 + 2 });
    // nothing left anywhere: drained again, still -ENOMEM, counted once
    for (let i = 0; i < 9; i++) expect(pa.allocPages(1)).toBeGreaterThan(0);
    expect(pa.allocPages(0)).toBe(-ENOMEM);
    expect(pa.stats().failedAllocs).toBe(stats.failedAllocs + 1);
  });

  it('pages on the lists are free: no leak, not allocated, a second free is a double free', () => {
    const { pa } = board(16 << 20);
    const a = pa.allocPages(0);
    const b = pa.allocPages(2);
    pa.freePages(a, 0);
    pa.freePages(b, 2);
    expect(pa.pcpInfo().lists[0]).toContain(a);
    expect(pa.pcpInfo().lists[2]).toContain(b);
    expect(pa.stats().pagesInUse).toBe(0);
    expect(pa.snapshot()).toEqual([]);
    expect([pa.isAllocated(a), pa.orderOf(a), pa.isAllocated(b), pa.orderOf(b)]).toEqual([false, undefined, false, undefined]);
    const info = pa.pcpInfo();
    const stats = pa.stats();
    expect(() => pa.freePages(a, 0)).toThrow(`page allocator: freeing ${'0x' + a.toString(16)} which is not allocated (double free?)`);
    expect(() => pa.freePages(b, 2)).toThrow(/which is not allocated \(double free\?\)/);
    expect(() => pa.freePages(b + 4096, 0)).toThrow(/double free/);
    expect(pa.pcpInfo()).toEqual(info);
    expect(pa.stats()).toEqual(stats);
  });

  it('an injected failure comes before the lists: nothing changes', () => {
    const { pa } = board(64 << 20);
    const keep = [pa.allocPages(0), pa.allocPages(0), pa.allocPages(1)];
    pa.freePages(keep[0]!, 0);
    const info = pa.pcpInfo();
    const snap = pa.snapshot();
    pa.injectFaults({ nth: 1, times: 1 });
    expect(pa.allocPages(0)).toBe(-ENOMEM);
    expect(pa.pcpInfo()).toEqual(info);
    expect(pa.snapshot()).toEqual(snap);
    expect(pa.stats()).toMatchObject({ injectedFailures: 1, failedAllocs: 1 });
    expect(pa.allocPages(0)).toBe(keep[0]);
  });

  it('rejects bad options', () => {
    const mem = new PhysMem([{ base: 0x4000_0000, size: 1 << 20 }]);
    expect(() => new PageAllocator(mem, undefined, { pcp: 'no' as unknown as boolean })).toThrow(TypeError);
    expect(() => new PageAllocator(mem, undefined, null as unknown as object)).toThrow(TypeError);
    expect(new PageAllocator(mem, undefined, { pcp: false }).pcpInfo().enabled).toBe(false);
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
