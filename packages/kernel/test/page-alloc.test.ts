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
