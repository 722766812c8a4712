import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  EEXIST,
  EINVAL,
  ENODEV,
  IOMMU_READ,
  IOMMU_WRITE,
  iommuDomainSetPgtblOps,
  iommuIotlbGatherAddPage,
  iommuMap,
  iommuUnmap,
  type IommuDomain,
  type IommuDomainGeometry,
  type IommuDomainOps,
  type IommuDomainType,
  type IommuIotlbGather,
  type IommuMappedOut,
  type IommuPgtableOps,
} from '@gki/kernel';

/*
 * A page table a driver publishes (iommuDomainSetPgtblOps) is called by the core's one-page
 * iommu_map / iommu_unmap in place of the driver's mapPages / unmapPages, which forward to it
 * unchanged. The results must not depend on which way the call went: the same return values,
 * the same page-table calls in the same order, the same iotlb syncs, the same table contents.
 * Here two domains of one driver share everything except that one has its table published.
 */

/** A page table that keeps its leaves in a Map and logs every call it gets. */
class LogTable implements IommuPgtableOps {
  readonly leaves = new Map<number, { pa: number; size: number; prot: number }>();
  readonly log: string[];
  /** Calls that came straight from the core (not through the driver's op). */
  direct = 0;
  /** Set by the driver's op while it forwards a call. */
  viaOp = false;
  /** Runs inside every call (a driver callback re-entering the core). */
  hook: (() => void) | null = null;

  constructor(
    readonly domain: () => IommuDomain,
    log: string[],
  ) {
    this.log = log;
  }

  mapPages(iova: number, paddr: number, pgsize: number, pgcount: number, prot: number, mapped: IommuMappedOut): number {
    if (!this.viaOp) this.direct++;
    this.log.push(`map ${iova} ${paddr} ${pgsize} x${pgcount} p${prot}`);
    this.hook?.();
    if ((prot & (IOMMU_READ | IOMMU_WRITE)) === 0) return -EINVAL;
    // like a format, never crosses the end of a 2 MiB "table"
    const room = Math.max(1, (0x20_0000 - (iova % 0x20_0000)) / pgsize);
    const n = Math.min(pgcount, Math.floor(room));
    for (let i = 0; i < n; i++) {
      const va = iova + i * pgsize;
      if (this.leaves.has(va)) return -EEXIST;
      this.leaves.set(va, { pa: paddr + i * pgsize, size: pgsize, prot });
      mapped.mapped += pgsize;
    }
    return 0;
  }

  unmapPages(iova: number, pgsize: number, pgcount: number, gather: IommuIotlbGather): number {
    if (!this.viaOp) this.direct++;
    this.log.push(`unmap ${iova} ${pgsize} x${pgcount}`);
    this.hook?.();
    let done = 0;
    for (let i = 0; i < pgcount; i++) {
      const va = iova + i * pgsize;
      const leaf = this.leaves.get(va);
      if (!leaf || leaf.size !== pgsize) break;
      this.leaves.delete(va);
      iommuIotlbGatherAddPage(this.domain(), gather, va, pgsize);
      done += pgsize;
    }
    return done;
  }
}

class LogDomain implements IommuDomain {
  geometry: IommuDomainGeometry = { apertureStart: 0, apertureEnd: 2 ** 52 - 1, forceAperture: true };
  pgtblOps: IommuPgtableOps | null = null;
  readonly table: LogTable;
  constructor(
    readonly type: IommuDomainType,
    readonly ops: IommuDomainOps,
    public pgsizeBitmap: number,
    readonly log: string[],
  ) {
    this.table = new LogTable(() => this, log);
  }
}

/** The driver's ops: map/unmap forward to the domain's table and do nothing else. */
const OPS: IommuDomainOps = {
  attachDev: () => 0,
  mapPages(domain, iova, paddr, pgsize, pgcount, prot, mapped) {
    const t = (domain as LogDomain).table;
    t.viaOp = true;
    try {
      return t.mapPages(iova, paddr, pgsize, pgcount, prot, mapped);
    } finally {
      t.viaOp = false;
    }
  },
  unmapPages(domain, iova, pgsize, pgcount, gather) {
    const t = (domain as LogDomain).table;
    t.viaOp = true;
    try {
      return t.unmapPages(iova, pgsize, pgcount, gather);
    } finally {
      t.viaOp = false;
    }
  },
  iotlbSync(domain, gather) {
    const d = domain as LogDomain;
    d.log.push(gather.start > gather.end ? 'sync empty' : `sync ${gather.start}-${gather.end} ${gather.pgsize}`);
  },
  iovaToPhys: () => 0,
  free: () => {},
};

const BITMAP = 0x1000 | 0x20_0000 | 0x4000_0000;

function pair(bitmap = BITMAP): { pub: LogDomain; plain: LogDomain } {
  const pub = new LogDomain('unmanaged', OPS, bitmap, []);
  const plain = new LogDomain('unmanaged', OPS, bitmap, []);
  expect(iommuDomainSetPgtblOps(pub, pub.table)).toBe(0);
  expect(pub.pgtblOps).toBe(pub.table);
  return { pub, plain };
}

/** Addresses: mostly aligned pages and blocks around 2^32 and 2^48, with some bad ones. */
const addr = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(fc.integer({ min: 0, max: 63 }), fc.constantFrom(0, 2 ** 32, 2 ** 40, 2 ** 48 - 2 ** 30)).map(([i, base]) => base + i * 0x1000) },
  { weight: 2, arbitrary: fc.tuple(fc.integer({ min: 0, max: 7 }), fc.constantFrom(0, 2 ** 32)).map(([i, base]) => base + i * 0x20_0000) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(-0x1000, 0x800, 0x1000 + 0.5, NaN, Infinity, 2 ** 52, 2 ** 52 + 0x1000, 2 ** 53, 2 ** 31, 2 ** 32 - 0x1000, -0, Number.MAX_SAFE_INTEGER),
  },
);
const size = fc.oneof(
  { weight: 6, arbitrary: fc.constant(0x1000) },
  { weight: 2, arbitrary: fc.constantFrom(0x20_0000, 0x3000, 0x40_0000 + 0x1000) },
  // bad sizes (and large ones the bitmaps above reject: mapping them would only take time)
  { weight: 2, arbitrary: fc.constantFrom(0, -0x1000, 0x800, 0x1800, 0x1000 + 0.25, NaN, Infinity, 2 ** 31 + 0x800, 2 ** 53, 0x10_0000) },
);
const prot = fc.constantFrom(IOMMU_READ, IOMMU_READ | IOMMU_WRITE, 0, 1.5, -1, 2 ** 31, IOMMU_WRITE | 0x40);

type Op = { kind: 'map'; iova: number; pa: number; size: number; prot: number } | { kind: 'unmap'; iova: number; size: number };
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('map' as const), iova: addr, pa: addr, size, prot }),
  fc.record({ kind: fc.constant('unmap' as const), iova: addr, size }),
);

function apply(d: LogDomain, o: Op): number {
  return o.kind === 'map' ? iommuMap(d, o.iova, o.pa, o.size, o.prot) : iommuUnmap(d, o.iova, o.size);
}

describe('a published page table (iommuDomainSetPgtblOps)', () => {
  it('gives the same results, table calls, syncs and contents as the driver op it stands for (property)', () => {
    let direct = 0;
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 40 }), fc.constantFrom(BITMAP, 0x1000, 0x20_0000 | 0x1000, 0x4000 | 0x200_0000), (ops, bitmap) => {
        const { pub, plain } = pair(bitmap);
        for (const o of ops) {
          const a = apply(pub, o);
          const b = apply(plain, o);
          expect(a, JSON.stringify(o)).toBe(b);
        }
        expect(pub.log).toEqual(plain.log);
        expect([...pub.table.leaves]).toEqual([...plain.table.leaves]);
        expect(plain.table.direct).toBe(0);
        direct += pub.table.direct;
      }),
      { numRuns: 300, seed: 0x9b1 },
    );
    // the published table was really called directly (else this compared the op with itself)
    expect(direct).toBeGreaterThan(500);
  });

  it('answers bad arguments with the same errno as the general path', () => {
    const { pub, plain } = pair();
    for (const d of [pub, plain]) {
      expect(iommuMap(d, 0x1800, 0x2000, 0x1000, IOMMU_READ)).toBe(-EINVAL); // misaligned iova
      expect(iommuMap(d, 0x1000, 0x2800, 0x1000, IOMMU_READ)).toBe(-EINVAL); // misaligned PA
      expect(iommuMap(d, 0x1000, 0x2000, 0x800, IOMMU_READ)).toBe(-EINVAL); // size below the granule
      expect(iommuMap(d, -0x1000, 0x2000, 0x1000, IOMMU_READ)).toBe(-EINVAL); // outside the aperture
      expect(iommuMap(d, 0x1000, 0x2000, 0x1000, 1.5)).toBe(-EINVAL); // prot not an integer
      expect(iommuMap(d, 2 ** 53, 0x2000, 0x1000, IOMMU_READ)).toBe(-EINVAL); // past 2^53
      expect(iommuMap(d, 0x1000, 0x2000, 0x1000, 0)).toBe(-EINVAL); // the table refuses no R/W
      // bigint addresses: -EINVAL / nothing unmapped, not a TypeError from the one-page path
      expect(iommuMap(d, 0x1000n as unknown as number, 0x2000, 0x1000, IOMMU_READ)).toBe(-EINVAL);
      expect(iommuMap(d, 0x1000, 0x2000n as unknown as number, 0x1000, IOMMU_READ)).toBe(-EINVAL);
      expect(iommuUnmap(d, 0x1000n as unknown as number, 0x1000)).toBe(0);
      expect(iommuMap(d, 0x1000, 0x2000, 0x1000, IOMMU_READ)).toBe(0);
      expect(iommuMap(d, 0x1000, 0x3000, 0x1000, IOMMU_READ)).toBe(-EEXIST);
      expect(iommuUnmap(d, 0x1800, 0x1000)).toBe(0);
      expect(iommuUnmap(d, 0x1000, 0x1000)).toBe(0x1000);
      expect(iommuUnmap(d, 0x1000, 0x1000)).toBe(0);
    }
    expect(pub.log).toEqual(plain.log);
    const none = pair(0);
    expect(iommuMap(none.pub, 0x1000, 0x2000, 0x1000, IOMMU_READ)).toBe(-ENODEV);
    expect(iommuUnmap(none.pub, 0x1000, 0x1000)).toBe(0);
    // rejected without a table call; iommu_unmap still syncs its (empty) gather
    expect(none.pub.log).toEqual(['sync empty']);
  });

  it('is accepted only for a paging domain with ops and a table with both entry points', () => {
    const log: string[] = [];
    for (const type of ['identity', 'blocked'] as const) {
      const d = new LogDomain(type, OPS, BITMAP, log);
      expect(iommuDomainSetPgtblOps(d, d.table)).toBe(-EINVAL);
      expect(d.pgtblOps).toBe(null);
      // and the core answers as for any such domain
      expect(iommuMap(d, 0x1000, 0x1000, 0x1000, IOMMU_READ)).toBe(-EINVAL);
      expect(iommuUnmap(d, 0x1000, 0x1000)).toBe(0);
    }
    const noOps = new LogDomain('dma', null as unknown as IommuDomainOps, BITMAP, log);
    expect(iommuDomainSetPgtblOps(noOps, noOps.table)).toBe(-EINVAL);
    expect(noOps.pgtblOps).toBe(null);
    const d = new LogDomain('dma', OPS, BITMAP, log);
    expect(iommuDomainSetPgtblOps(d, { mapPages: d.table.mapPages.bind(d.table) } as unknown as IommuPgtableOps)).toBe(-EINVAL);
    expect(iommuDomainSetPgtblOps(d, 7 as unknown as IommuPgtableOps)).toBe(-EINVAL);
    expect(d.pgtblOps).toBe(null);
    // no table call: the two rejected unmaps synced their empty gathers
    expect(log).toEqual(['sync empty', 'sync empty']);
    expect(iommuDomainSetPgtblOps(d, d.table)).toBe(0);
    expect(iommuMap(d, 0x1000, 0x1000, 0x1000, IOMMU_READ)).toBe(0);
    expect(d.table.direct).toBe(1);
    // withdrawn: the driver's op again
    expect(iommuDomainSetPgtblOps(d, null)).toBe(0);
    expect(d.pgtblOps).toBe(null);
    expect(iommuUnmap(d, 0x1000, 0x1000)).toBe(0x1000);
    expect(d.table.direct).toBe(1);
    expect(iommuDomainSetPgtblOps(null as unknown as IommuDomain, null)).toBe(0);
  });

  it('keeps each nested call its own count and gather, as through the op', () => {
    const run = (publish: boolean) => {
      const log: string[] = [];
      const outer = new LogDomain('unmanaged', OPS, BITMAP, log);
      const inner = new LogDomain('unmanaged', OPS, BITMAP, log);
      if (publish) {
        expect(iommuDomainSetPgtblOps(outer, outer.table)).toBe(0);
        expect(iommuDomainSetPgtblOps(inner, inner.table)).toBe(0);
      }
      let depth = 0;
      const nest = () => {
        if (depth > 0) return;
        depth++;
        expect(iommuMap(inner, 0x5000, 0x6000, 0x1000, IOMMU_READ)).toBe(0); // one page
        expect(iommuMap(inner, 0x9000, 0xa000, 0x2000, IOMMU_READ)).toBe(0); // a range
        expect(iommuUnmap(inner, 0x5000, 0x1000)).toBe(0x1000);
        expect(iommuUnmap(inner, 0x9000, 0x2000)).toBe(0x2000);
        depth--;
      };
      outer.table.hook = nest;
      inner.table.hook = nest;
      expect(iommuMap(outer, 0x1000, 0x2000, 0x1000, IOMMU_READ)).toBe(0);
      expect(iommuUnmap(outer, 0x1000, 0x1000)).toBe(0x1000);
      expect(iommuMap(outer, 0x20_0000, 0x40_0000, 0x20_0000, IOMMU_READ)).toBe(0);
      expect(iommuUnmap(outer, 0x20_0000, 0x20_0000)).toBe(0x20_0000);
      return { log, direct: outer.table.direct + inner.table.direct };
    };
    const plain = run(false);
    const pub = run(true);
    expect(pub.log).toEqual(plain.log);
    expect(plain.direct).toBe(0);
    expect(pub.direct).toBeGreaterThan(0);
    expect(pub.log.filter((l) => l.startsWith('sync'))).toContain(`sync ${0x1000}-${0x1fff} ${0x1000}`);
  });

  it('after a table call that throws, later calls give the same results', () => {
    const run = (publish: boolean) => {
      const log: string[] = [];
      const d = new LogDomain('unmanaged', OPS, BITMAP, log);
      if (publish) expect(iommuDomainSetPgtblOps(d, d.table)).toBe(0);
      d.table.hook = () => {
        throw new Error('driver bug');
      };
      expect(() => iommuMap(d, 0x1000, 0x1000, 0x1000, IOMMU_READ)).toThrow('driver bug');
      expect(() => iommuUnmap(d, 0x1000, 0x1000)).toThrow('driver bug');
      d.table.hook = null;
      const results: number[] = [];
      for (let round = 0; round < 3; round++) {
        results.push(iommuMap(d, 0x3000, 0x4000, 0x1000, IOMMU_READ));
        results.push(iommuMap(d, 0x3000, 0x4000, 0x1000, IOMMU_READ));
        results.push(iommuUnmap(d, 0x3000, 0x1000));
        results.push(iommuUnmap(d, 0x3000, 0x1000));
      }
      return { log, results };
    };
    const pub = run(true);
    expect(pub).toEqual(run(false));
    expect(pub.results).toEqual(Array(3).fill([0, -EEXIST, 0x1000, 0]).flat());
  });
});
