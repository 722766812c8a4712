import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DrmMm, DrmMmNode, ENOSPC } from '@gki/kernel';
import {
  LOCK_ALL,
  PANFROST_BO_HEAP,
  PANFROST_BO_NOEXEC,
  getPgsize,
  lockRegionEncode,
  lockRegionEncode510,
  panfrostColorAdjust,
  planMapping,
} from '../src/index.js';
import { createBo, fakeRig, openFile } from './helpers.js';

const SZ_4K = 0x1000;
const SZ_2M = 0x20_0000;
const SZ_16M = 0x100_0000;
const SZ_32M = 0x200_0000;
const PFN_4G = 2 ** 32 / SZ_4K;

describe('lock region encoding (current kernel rule)', () => {
  it('matches hand-computed values', () => {
    // one page at 32 MiB: differing bits stop at bit 11 -> below the 32 KiB minimum -> width 14
    expect(lockRegionEncode(0x200_0000, 0x1000)).toEqual({ lo: 0x200_000e, hi: 0, width: 14 });
    // 2 MiB aligned 2 MiB chunk: width 20 (log2(2M) - 1)
    expect(lockRegionEncode(0x460_0000, SZ_2M)).toEqual({ lo: 0x460_0014, hi: 0, width: 20 });
    // two pages straddling a 2 MiB boundary need the 4 MiB block around it
    expect(lockRegionEncode(0x1ff000, 0x2000)).toEqual({ lo: 21, hi: 0, width: 21 });
    // the whole space (~0 from 0), as the enable/disable FLUSH_MEM uses
    expect(lockRegionEncode(0, LOCK_ALL)).toEqual({ lo: 63, hi: 0, width: 63 });
    // above 4 GiB: the start's high word survives
    expect(lockRegionEncode(0x1_2340_0000, 0x8000)).toEqual({ lo: 0x2340_000e, hi: 1, width: 14 });
    // crossing 4 GiB: a 2^33 block at 0
    expect(lockRegionEncode(0xfff0_0000, SZ_2M)).toEqual({ lo: 32, hi: 0, width: 32 });
    expect(lockRegionEncode(0x1000, 0)).toBeNull();
  });

  it('always covers the range with a naturally aligned block of at least 32 KiB (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 40 }), fc.integer({ min: 1, max: 2 ** 32 }), (iova, size) => {
        const r = lockRegionEncode(iova, size)!;
        // the hardware reads a block of 2^(width+1) bytes and ignores the address bits below it
        const blockSize = 2 ** (r.width + 1);
        const full = r.hi * 2 ** 32 + r.lo;
        const start = full - (full % blockSize);
        expect(blockSize).toBeGreaterThanOrEqual(0x8000);
        expect(start % blockSize).toBe(0);
        expect(start).toBeLessThanOrEqual(iova);
        expect(start + blockSize).toBeGreaterThanOrEqual(iova + size);
        // and it is the smallest such block: half of it would miss one end
        if (r.width > 14) {
          const half = blockSize / 2;
          const lowerHalf = iova < start + half && iova + size <= start + half;
          const upperHalf = iova >= start + half;
          expect(lowerHalf || upperHalf).toBe(false);
        }
      }),
    );
  });

  it('differs from the 5.10 rule where that one fell short', () => {
    // 5.10: three pages -> width 10 + fls(3) + 1 = 13: an 16 KiB lock, below the minimum
    expect(lockRegionEncode510(0x200_0000, 0x3000)!.width).toBe(13);
    expect(lockRegionEncode(0x200_0000, 0x3000)!.width).toBe(14);
    // 5.10 sizes the block from the length alone: 16 pages at 0x3000 get a 64 KiB block, which
    // the hardware aligns down to [0, 64K) and so misses the range's last 0x3000 bytes; the
    // current rule takes the 128 KiB block at 0
    expect(lockRegionEncode510(0x3000, 0x10000)!.lo).toBe(0x3000 | 15);
    expect(lockRegionEncode(0x3000, 0x10000)).toEqual({ lo: 16, hi: 0, width: 16 });
  });
});

describe('page size choice (get_pgsize)', () => {
  it('uses 2 MiB only when the address is 2 MiB aligned and 2 MiB remain, up to the next 1 GiB', () => {
    const n = new Int32Array(1);
    expect(getPgsize(0, SZ_2M, n)).toBe(SZ_2M);
    expect(n[0]).toBe(1);
    expect(getPgsize(0x1000, 4 * SZ_2M, n)).toBe(SZ_4K);
    expect(n[0]).toBe(511); // up to the next 2 MiB boundary
    expect(getPgsize(0, SZ_2M - SZ_4K, n)).toBe(SZ_4K);
    expect(n[0]).toBe(511);
    expect(getPgsize(0x3fe0_0000, 8 * SZ_2M, n)).toBe(SZ_2M);
    expect(n[0]).toBe(1); // stops at the 1 GiB boundary
  });

  it('plans a mapping by (IOVA | PA): a misaligned PA forces 4 KiB pages', () => {
    expect(planMapping(0x400_0000, [{ pa: 0x4020_0000, len: 2 * SZ_2M }])).toEqual([{ iova: 0x400_0000, pa: 0x4020_0000, pgsize: SZ_2M, count: 2 }]);
    const p = planMapping(0x400_0000, [{ pa: 0x4020_1000, len: SZ_2M }]);
    expect(p.every((x) => x.pgsize === SZ_4K)).toBe(true);
    expect(p.reduce((a, x) => a + x.count * x.pgsize, 0)).toBe(SZ_2M);
  });
});

describe('drm_mm placement (the DRM core allocator panfrost places buffers with)', () => {
  /** drm_mm_insert_node_generic(mm, node, size, align, color, DRM_MM_INSERT_BEST), as panfrost_gem_open calls it. */
  const insert = (mm: DrmMm, size: number, align: number, color: number): DrmMmNode | number => {
    const n = new DrmMmNode();
    const r = mm.insertNodeGeneric(n, size, align, color);
    return r < 0 ? r : n;
  };

  it('best fit: the smallest hole that fits, the newest among equal ones', () => {
    const mm = new DrmMm(0, 100);
    const a = insert(mm, 10, 0, 0) as DrmMmNode;
    const b = insert(mm, 10, 0, 0) as DrmMmNode;
    const c = insert(mm, 10, 0, 0) as DrmMmNode;
    const d = insert(mm, 10, 0, 0) as DrmMmNode;
    expect([a.start, b.start, c.start, d.start]).toEqual([0, 10, 20, 30]);
    mm.removeNode(a); // hole [0,10)
    mm.removeNode(c); // hole [20,30), newer
    // a 5-unit request prefers the 10-unit holes over the 60-unit tail, and the newer one
    const e = insert(mm, 5, 0, 0) as DrmMmNode;
    expect(e.start).toBe(20);
    const f = insert(mm, 10, 0, 0) as DrmMmNode;
    expect(f.start).toBe(0);
    expect(insert(mm, 61, 0, 0)).toBe(-ENOSPC);
    // drm_mm_insert_node_in_range answers a size of 0 with -ENOSPC (size == 0 is tested with the
    // range-too-small case)
    expect(insert(mm, 0, 0, 0)).toBe(-ENOSPC);
    // merging: freeing b and e and f gives back one hole [0,30)
    mm.removeNode(b);
    mm.removeNode(e);
    mm.removeNode(f);
    expect(mm.holes()).toEqual([
      { start: 0, end: 30 },
      { start: 40, end: 100 },
    ]);
  });

  it('aligns to any alignment, not only powers of two', () => {
    const mm = new DrmMm(1, 100);
    const n = insert(mm, 3, 3, 0) as DrmMmNode;
    expect(n.start).toBe(3);
  });

  it('keeps executable buffers off 4 GiB boundaries (color adjust)', () => {
    const r = { start: 0, end: PFN_4G };
    panfrostColorAdjust(0, r);
    // the start moves past the boundary at 0, and the end below the next one
    expect(r).toEqual({ start: 1, end: PFN_4G - 1 });
    const near = { start: PFN_4G - 10, end: PFN_4G + 100 };
    panfrostColorAdjust(0, near);
    // within 16 MiB below a 4 GiB boundary: start just past it
    expect(near.start).toBe(PFN_4G + 1);
    const noexec = { start: 0, end: PFN_4G };
    panfrostColorAdjust(PANFROST_BO_NOEXEC, noexec);
    expect(noexec).toEqual({ start: 0, end: PFN_4G });
  });
});

describe('buffer placement in a file', () => {
  it('puts the first buffer at 32 MiB, aligns executables to their size and NOEXEC >= 2 MiB to 2 MiB', () => {
    const { pfdev } = fakeRig();
    const f = openFile(pfdev);
    const a = createBo(f, 0x1000, PANFROST_BO_NOEXEC);
    expect(a.offset).toBe(SZ_32M);
    const exe = createBo(f, 0x3000); // 3 pages, aligned to 3 pages: page 0x2001 = 3 * 0xaab
    expect((exe.offset / SZ_4K) % 3).toBe(0);
    expect(exe.offset).toBe(SZ_32M + 0x1000);
    const exe5 = createBo(f, 0x5000); // 5 pages: the first multiple of 5 from page 0x2004 is 0x2008
    expect(exe5.offset).toBe(0x2008 * SZ_4K);
    const big = createBo(f, 3 * 0x10_0000, PANFROST_BO_NOEXEC);
    expect(big.offset % SZ_2M).toBe(0);
    const exe16 = createBo(f, SZ_16M);
    expect(exe16.offset % SZ_16M).toBe(0);
    // an executable buffer never crosses a 16 MiB boundary
    for (const size of [0x1000, 0x5000, 0x10_0000, 0x30_0000, 0x80_0000]) {
      const b = createBo(f, size);
      expect(Math.floor(b.offset / SZ_16M)).toBe(Math.floor((b.offset + size - 1) / SZ_16M));
    }
    f.close();
  });

  it('rounds heaps up to 2 MiB and leaves them unmapped', () => {
    const { pfdev } = fakeRig();
    const f = openFile(pfdev);
    const h = createBo(f, 0x30_0000, PANFROST_BO_NOEXEC | PANFROST_BO_HEAP);
    const bo = f.bo(h.handle)!;
    expect(bo.size).toBe(2 * SZ_2M);
    expect(h.offset % SZ_2M).toBe(0);
    expect(bo.hasPages).toBe(false);
    expect(f.mmu.ops.iovaToPhys(h.offset)).toBe(0);
    f.close();
  });

  it('answers -ENOSPC when the 4 GiB space is full, leaving nothing behind', () => {
    const { pfdev, k } = fakeRig();
    const f = openFile(pfdev);
    const before = k.pages.stats().pagesInUse;
    // heaps take VA but no memory: fill [32 MiB, 4 GiB) with 2 GiB + ~2 GiB
    createBo(f, 0x8000_0000, PANFROST_BO_NOEXEC | PANFROST_BO_HEAP);
    createBo(f, 0x7e00_0000, PANFROST_BO_NOEXEC | PANFROST_BO_HEAP);
    const handles = f.handleList();
    expect(f.createBo({ size: SZ_2M, flags: PANFROST_BO_NOEXEC | PANFROST_BO_HEAP })).toBe(-ENOSPC);
    expect(f.handleList()).toEqual(handles);
    expect(k.pages.stats().pagesInUse).toBe(before);
    f.close();
  });
});
