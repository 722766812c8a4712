import { describe, expect, it } from 'vitest';
import { Board } from '@gki/hw';
import { Kernel, createIoPgtableHost, isIoPgtableHost } from '../src/index.js';

describe('createIoPgtableHost', () => {
  it('gives RAM, a page allocator over all of it and a log', () => {
    const h = createIoPgtableHost({ ramBase: 0x8000_0000, ramSize: 0x20_0000 });
    expect(h.mem.regions).toEqual([{ base: 0x8000_0000, size: 0x20_0000 }]);
    expect(h.pages.stats().totalPages).toBe(0x200);
    const pa = h.pages.allocPages(0);
    expect(pa).toBe(0x8000_0000);
    h.log.warn('who', 'said something');
    expect(h.log.dmesg()).toContain('who: said something');
    h.pages.freePages(pa, 0);
    expect(h.pages.stats().pagesInUse).toBe(0);
  });

  it('defaults to 64 MiB at 0x4000_0000', () => {
    expect(createIoPgtableHost().mem.regions).toEqual([{ base: 0x4000_0000, size: 64 * 2 ** 20 }]);
  });

  it('has the per-CPU page lists on unless pcp: false', () => {
    for (const pcp of [undefined, true, false]) {
      const h = createIoPgtableHost({ pcp });
      const [a, b] = [h.pages.allocPages(0), h.pages.allocPages(0)];
      h.pages.freePages(a, 0);
      h.pages.freePages(b, 0);
      // Linux's lists hand back the last page freed; the buddy alone the lowest
      expect(h.pages.allocPages(0)).toBe(pcp === false ? a : b);
      expect(h.pages.pcpInfo().enabled).toBe(pcp !== false);
    }
    expect(() => createIoPgtableHost({ pcp: 0 as never })).toThrow(/pcp must be a boolean/);
  });

  it('rejects options of the wrong type or an impossible region', () => {
    expect(() => createIoPgtableHost(null as never)).toThrow(TypeError);
    expect(() => createIoPgtableHost({ ramBase: '0' as never })).toThrow(/ramBase must be a number/);
    expect(() => createIoPgtableHost({ ramSize: 0x1234 })).toThrow(RangeError);
    expect(() => createIoPgtableHost({ ramBase: 2 ** 52 })).toThrow(RangeError);
  });

  it('isIoPgtableHost accepts a host or a kernel, and nothing else', () => {
    expect(isIoPgtableHost(createIoPgtableHost())).toBe(true);
    expect(isIoPgtableHost(new Kernel(new Board('b', [{ base: 0, size: 0x10_0000 }])))).toBe(true);
    expect(isIoPgtableHost({ mem: {}, pages: {}, log: {} })).toBe(false);
    expect(isIoPgtableHost(undefined)).toBe(false);
  });
});
