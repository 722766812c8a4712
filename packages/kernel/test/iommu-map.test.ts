import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  EINVAL,
  ENODEV,
  IOMMU_READ,
  highestBit,
  iommuMap,
  iommuMinPageSize,
  iommuPgsize,
  iommuUnmap,
  lowestBit,
  type IommuDomain,
  type IommuDomainOps,
  type IommuIotlbGather,
} from '@gki/kernel';

/*
 * The IOMMU core's page-size arithmetic against a straightforward BigInt model of Linux's
 * iommu_pgsize, over addresses, sizes and bitmaps up to 2^52 (where 32-bit bit operations on
 * plain numbers would break), and iommu_map/iommu_unmap driving a recording domain.
 */

const MAX = 2n ** 52n;

/** iommu_pgsize with BigInts: the largest allowed size and the run length. */
function refPgsize(bitmap: bigint, iova: bigint, paddr: bigint, size: bigint): { pgsize: number; count: number } {
  if (size <= 0n) return { pgsize: -EINVAL, count: 0 };
  const fls = BigInt(size.toString(2).length - 1);
  let sizes = bitmap & ((2n << fls) - 1n);
  const merge = iova | paddr;
  if (merge !== 0n) sizes &= ((merge & -merge) << 1n) - 1n;
  if (sizes === 0n) return { pgsize: -EINVAL, count: 0 };
  const idx = BigInt(sizes.toString(2).length - 1);
  const pgsize = 1n << idx;
  let span = size;
  const larger = bitmap & ~((2n << idx) - 1n);
  if (larger !== 0n) {
    const next = larger & -larger;
    const offset = next - (merge & (next - 1n));
    if (((iova ^ paddr) & (next - 1n)) === 0n && offset + next <= size) span = offset;
  }
  return { pgsize: Number(pgsize), count: Number(span >> idx) };
}

/** A value below 2^52 whose low `zeros` bits are clear (biased towards large alignments). */
const alignedBig = fc.tuple(fc.bigInt({ min: 0n, max: MAX - 1n }), fc.integer({ min: 0, max: 52 })).map(([v, zeros]) => (v >> BigInt(zeros)) << BigInt(zeros));

/** Page-size bitmaps: a few random bits, or a realistic granule set shifted around. */
const bitmapBig = fc.oneof(
  fc.array(fc.integer({ min: 0, max: 52 }), { minLength: 0, maxLength: 6 }).map((bits) => bits.reduce((b, i) => b | (1n << BigInt(i)), 0n)),
  fc.bigInt({ min: 0n, max: MAX - 1n }),
  fc.constantFrom(0x4020_1000n, 0x2_0000_2000_0000n + 0x1000n, 0x100_0001_0000n + 0x1000n, (1n << 52n) | (1n << 40n) | (1n << 33n) | (1n << 12n)),
);

describe('iommu page-size arithmetic (BigInt model)', () => {
  it('highestBit and lowestBit match BigInt over [0, 2^53)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: 2n ** 53n - 1n }), fc.integer({ min: 0, max: 52 }), (v, zeros) => {
        const x = (v >> BigInt(zeros)) << BigInt(zeros) || 1n << BigInt(zeros);
        expect(highestBit(Number(x))).toBe(x.toString(2).length - 1);
        expect(lowestBit(Number(x))).toBe((x & -x).toString(2).length - 1);
      }),
      { numRuns: 400, seed: 11 },
    );
    expect(lowestBit(0)).toBe(64);
  });

  it('iommuMinPageSize is the lowest bit of the bitmap', () => {
    fc.assert(
      fc.property(bitmapBig, (b) => {
        expect(iommuMinPageSize(Number(b))).toBe(b === 0n ? 0 : Number(b & -b));
      }),
      { numRuns: 300, seed: 12 },
    );
  });

  it('iommuPgsize matches the model for random iova/paddr/size/bitmap up to 2^52 (property)', () => {
    const out = { pgsize: 0, count: 0 };
    fc.assert(
      fc.property(
        bitmapBig,
        alignedBig,
        fc.oneof(alignedBig, fc.constant(-1n)),
        fc.oneof(alignedBig, fc.bigInt({ min: 1n, max: 2n ** 33n })),
        fc.integer({ min: 0, max: 52 }),
        (bitmap, iova, paddrIn, sizeIn, phaseBits) => {
          // -1: paddr in the same phase as iova modulo 2^phaseBits (the interesting case)
          const m = 1n << BigInt(phaseBits);
          const paddr = paddrIn < 0n ? ((iova >> 7n) & ~(m - 1n)) | (iova & (m - 1n)) : paddrIn;
          const size = sizeIn % MAX;
          const got = iommuPgsize(Number(bitmap), Number(iova), Number(paddr), Number(size), out);
          expect({ ...got }).toEqual(refPgsize(bitmap, iova, paddr, size));
        },
      ),
      { numRuns: 3000, seed: 13 },
    );
  });

  it('agrees with the model on hand-picked cases around 2^32 and 2^52', () => {
    const out = { pgsize: 0, count: 0 };
    const cases: [bigint, bigint, bigint, bigint][] = [
      [0x4020_1000n, 2n ** 32n - 0x1000n, 2n ** 36n - 0x1000n, 2n ** 31n],
      [(1n << 32n) | (1n << 33n) | 0x1000n, 2n ** 32n, 2n ** 34n + 2n ** 32n, 2n ** 35n],
      [(1n << 32n) | (1n << 33n) | 0x1000n, 2n ** 32n - 0x1000n, 2n ** 34n - 0x1000n, 2n ** 34n],
      [(1n << 52n) | 0x1000n, 2n ** 51n, 2n ** 51n, 2n ** 52n + 2n ** 51n],
      [(1n << 52n) | 0x1000n, 0n, 0n, 2n ** 52n],
      [(1n << 52n) | 0x1000n, 0n, 0n, 2n ** 53n - 2n ** 12n],
      [0x1000n, 0x800n, 0n, 0x1000n],
      [0x1000n, 0n, 0n, 0n],
    ];
    for (const [b, i, p, s] of cases) expect({ ...iommuPgsize(Number(b), Number(i), Number(p), Number(s), out) }).toEqual(refPgsize(b, i, p, s));
  });
});

interface Recorder extends IommuDomain {
  calls: string[];
  /** Called inside mapPages/unmapPages before the work (to re-enter the core). */
  hook: (() => void) | null;
}

/** A minimal paging domain that records map/unmap calls and always succeeds. */
function recorder(bitmap: number): Recorder {
  const ops: IommuDomainOps = {
    attachDev: () => 0,
    mapPages(_d, iova, paddr, pgsize, pgcount, _prot, mapped) {
      d.hook?.();
      d.calls.push(`map ${iova.toString(16)} ${paddr.toString(16)} ${pgsize.toString(16)} x${pgcount}`);
      mapped.mapped += pgsize * pgcount;
      return 0;
    },
    unmapPages(_d, iova, pgsize, pgcount, gather: IommuIotlbGather) {
      d.hook?.();
      d.calls.push(`unmap ${iova.toString(16)} ${pgsize.toString(16)} x${pgcount}`);
      if (iova < gather.start) gather.start = iova;
      if (iova + pgsize * pgcount - 1 > gather.end) gather.end = iova + pgsize * pgcount - 1;
      return pgsize * pgcount;
    },
    iotlbSync(_d, g) {
      d.calls.push(`sync ${g.start.toString(16)}-${g.end.toString(16)}`);
    },
    iovaToPhys: () => 0,
    free: () => {},
  };
  const d: Recorder = { type: 'unmanaged', ops, pgsizeBitmap: bitmap, geometry: { apertureStart: 0, apertureEnd: 2 ** 52 - 1, forceAperture: false }, calls: [], hook: null };
  return d;
}

/** The map calls the model predicts for [iova, iova + size). */
function modelRuns(bitmap: bigint, iova: bigint, paddr: bigint, size: bigint): string[] {
  const calls: string[] = [];
  let done = 0n;
  while (done < size) {
    const { pgsize, count } = refPgsize(bitmap, iova + done, paddr + done, size - done);
    calls.push(`map ${(iova + done).toString(16)} ${(paddr + done).toString(16)} ${pgsize.toString(16)} x${count}`);
    done += BigInt(pgsize * count);
  }
  return calls;
}

describe('iommu_map / iommu_unmap through a recording domain', () => {
  it('map splits the range exactly as the model, up to 2^51, with bitmaps changing per call (property)', () => {
    const granules = fc.constantFrom(12, 14, 16);
    fc.assert(
      fc.property(
        granules,
        fc.bigInt({ min: 0n, max: 2n ** 35n }),
        fc.bigInt({ min: 0n, max: 2n ** 35n }),
        fc.bigInt({ min: 1n, max: 2n ** 22n }),
        fc.boolean(),
        (g, iovaPages, paPages, pages, samePhase) => {
          const G = BigInt(g);
          // a granule plus two block sizes, one of them above 2^32
          const bitmap = (1n << G) | (1n << (G + 9n)) | (1n << (G + 21n));
          const iova = iovaPages << G;
          const block = 1n << (G + 9n);
          const paddr = samePhase ? ((paPages << G) & ~(block - 1n)) | (iova & (block - 1n)) : paPages << G;
          const size = pages << G;
          const d = recorder(Number(bitmap));
          expect(iommuMap(d, Number(iova), Number(paddr), Number(size), IOMMU_READ)).toBe(0);
          expect(d.calls).toEqual(modelRuns(bitmap, iova, paddr, size));
          d.calls.length = 0;
          expect(iommuUnmap(d, Number(iova), Number(size))).toBe(Number(size));
          expect(d.calls.at(-1)).toBe(`sync ${iova.toString(16)}-${(iova + size - 1n).toString(16)}`);
          expect(d.calls.length).toBe(modelRuns(bitmap, iova, iova, size).length + 1);
        },
      ),
      { numRuns: 200, seed: 14 },
    );
  });

  it('rejects misalignment to the smallest page size, above and below 2^32', () => {
    const d = recorder(2 ** 34 + 2 ** 33);
    expect(iommuMap(d, 2 ** 33, 2 ** 34, 2 ** 33, IOMMU_READ)).toBe(0);
    expect(iommuMap(d, 2 ** 33 + 0x1000, 2 ** 34, 2 ** 33, IOMMU_READ)).toBe(-EINVAL);
    expect(iommuMap(d, 2 ** 32, 2 ** 34, 2 ** 33, IOMMU_READ)).toBe(-EINVAL);
    expect(iommuMap(d, 2 ** 33, 2 ** 34, 2 ** 33 + 2 ** 32, IOMMU_READ)).toBe(-EINVAL);
    expect(iommuUnmap(d, 2 ** 33 + 2 ** 32, 2 ** 33)).toBe(0);
    expect(d.calls.filter((c) => !c.startsWith('sync'))).toEqual(['map 200000000 400000000 200000000 x1']);
    expect(iommuMap(recorder(0), 0, 0, 0x1000, IOMMU_READ)).toBe(-ENODEV);
  });

  it('a driver re-entering iommu_map/iommu_unmap from its callbacks does not corrupt the outer call', () => {
    const inner = recorder(0x1000);
    const outer = recorder(0x1000 + 0x20_0000);
    outer.hook = () => {
      expect(iommuMap(inner, 0x5000, 0x6000, 0x3000, IOMMU_READ)).toBe(0);
      expect(iommuUnmap(inner, 0x5000, 0x3000)).toBe(0x3000);
    };
    expect(iommuMap(outer, 0x1000, 0x1000, 0x40_0000, IOMMU_READ)).toBe(0);
    expect(outer.calls).toEqual(['map 1000 1000 1000 x511', 'map 200000 200000 200000 x1', 'map 400000 400000 1000 x1']);
    outer.calls.length = 0;
    expect(iommuUnmap(outer, 0x1000, 0x40_0000)).toBe(0x40_0000);
    expect(outer.calls).toEqual(['unmap 1000 1000 x511', 'unmap 200000 200000 x1', 'unmap 400000 1000 x1', 'sync 1000-400fff']);
    expect(inner.calls.filter((c) => c.startsWith('sync'))).toEqual(Array(6).fill('sync 5000-7fff'));
  });

  it('one-page calls nested in a one-page call (and ranges nested in them) keep each call its own count and gather', () => {
    const inner = recorder(0x1000);
    const outer = recorder(0x1000);
    inner.hook = () => {
      inner.hook = null;
      expect(iommuMap(inner, 0x9000, 0xa000, 0x2000, IOMMU_READ)).toBe(0); // a range, nested twice
      expect(iommuUnmap(inner, 0x9000, 0x2000)).toBe(0x2000);
    };
    outer.hook = () => {
      expect(iommuMap(inner, 0x5000, 0x6000, 0x1000, IOMMU_READ)).toBe(0);
      expect(iommuUnmap(inner, 0x5000, 0x1000)).toBe(0x1000);
    };
    expect(iommuMap(outer, 0x1000, 0x2000, 0x1000, IOMMU_READ)).toBe(0);
    expect(iommuUnmap(outer, 0x1000, 0x1000)).toBe(0x1000);
    expect(outer.calls).toEqual(['map 1000 2000 1000 x1', 'unmap 1000 1000 x1', 'sync 1000-1fff']);
    expect(inner.calls).toEqual([
      'map 9000 a000 1000 x2',
      'unmap 9000 1000 x2',
      'sync 9000-afff',
      'map 5000 6000 1000 x1', // from the outer map's hook
      'unmap 5000 1000 x1',
      'sync 5000-5fff',
      'map 5000 6000 1000 x1', // from the outer unmap's hook
      'unmap 5000 1000 x1',
      'sync 5000-5fff',
    ]);
    // one-page calls nested in a range: the range's count and gather are left alone
    const ranged = recorder(0x1000 + 0x20_0000);
    ranged.hook = outer.hook;
    expect(iommuMap(ranged, 0x1000, 0x1000, 0x40_0000, IOMMU_READ)).toBe(0);
    expect(ranged.calls).toEqual(['map 1000 1000 1000 x511', 'map 200000 200000 200000 x1', 'map 400000 400000 1000 x1']);
    ranged.calls.length = 0;
    expect(iommuUnmap(ranged, 0x1000, 0x40_0000)).toBe(0x40_0000);
    expect(ranged.calls).toEqual(['unmap 1000 1000 x511', 'unmap 200000 200000 x1', 'unmap 400000 1000 x1', 'sync 1000-400fff']);
  });

  it('a driver op that throws leaves later calls with the same results', () => {
    const d = recorder(0x1000 | 0x20_0000);
    let throwing = true;
    d.hook = () => {
      if (throwing) throw new Error('driver bug');
    };
    expect(() => iommuMap(d, 0x1000, 0x1000, 0x1000, IOMMU_READ)).toThrow('driver bug');
    expect(() => iommuUnmap(d, 0x1000, 0x1000)).toThrow('driver bug');
    throwing = false;
    d.calls.length = 0;
    for (let round = 0; round < 3; round++) {
      expect(iommuMap(d, 0x3000, 0x4000, 0x1000, IOMMU_READ)).toBe(0);
      expect(iommuMap(d, 0x20_0000, 0x40_0000, 0x20_0000, IOMMU_READ)).toBe(0);
      expect(iommuUnmap(d, 0x3000, 0x1000)).toBe(0x1000);
      expect(iommuUnmap(d, 0x20_0000, 0x20_0000)).toBe(0x20_0000);
    }
    expect(d.calls).toEqual(
      Array(3)
        .fill(['map 3000 4000 1000 x1', 'map 200000 400000 200000 x1', 'unmap 3000 1000 x1', 'sync 3000-3fff', 'unmap 200000 200000 x1', 'sync 200000-3fffff'])
        .flat(),
    );
  });
});
