import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DMA_BIT_MASK,
  DMA_MAPPING_ERROR,
  EINVAL,
  dmaDebugEntries,
  dmaGetMask,
  dmaMapSg,
  dmaMapSingle,
  dmaSetMask,
  dmaUnmapSg,
  dmaUnmapSingle,
  iommuAttachDevice,
  iommuDetachDevice,
  iommuDeviceRegister,
  iommuDeviceUnregister,
  iommuDomainAlloc,
  iommuDomainFree,
  type Device,
  type IommuDomain,
  type Kernel,
  type Scatterlist,
} from '@gki/kernel';
import { bootFake, dev, type FakeDomain, type FakeIommuState } from './iommu-fake.js';

/*
 * The DMA API's one-page paths (dma_map_single's cached DMA domain, trusted while the IOMMU
 * core's devsEpoch holds; dma_unmap_single's pending dma-debug record, taken by address) against
 * two references, over random operation sequences:
 *
 * - the same kernel code driven through its general path only: a second kernel where every DMA
 *   call is preceded by a call for another device, so that no call finds its device as the one
 *   the DMA API saw last (the one-page paths test that first). Both kernels must give the same
 *   result for every call and end each step with the same dma-debug entries, the same page
 *   tables in every fake domain and the same IOVA ranges: the same IOVAs, reuse order and
 *   domain after attach/detach and after the IOMMU goes away and comes back (new default
 *   domains, the old mappings' domain freed);
 * - a list of live single mappings per device kept here the plainest way: an unmap succeeds
 *   exactly when a live mapping of that device has this address, size and direction, and
 *   removes the oldest such one (dma-debug's rule); a map succeeds or fails in both kernels
 *   alike.
 */

const RAM = 0x4000_0000;
const PAGE = 0x1000;
const MASTERS = ['a000000.dma', 'a001000.dma', 'a002000.dma', 'a003000.dma'] as const;
/** The masters behind the IOMMU (a003000 maps directly). */
const TRANSLATED = [0, 1, 2];

type Op =
  | { op: 'map'; d: number; page: number; off: number; size: number; dir: number }
  | { op: 'mapBad'; d: number; kind: number }
  | { op: 'unmap'; d: number; pick: number; tweak: number }
  | { op: 'unmapNewest'; d: number; tweak: number }
  | { op: 'mask'; d: number; bits: number }
  | { op: 'sg'; d: number; pages: number; dir: number }
  | { op: 'unmapSg'; d: number; pick: number }
  | { op: 'attach' }
  | { op: 'detach' }
  | { op: 'iommuCycle' }
  | { op: 'iommuGone' }
  | { op: 'iommuBack' }
  | { op: 'check' };

/** Mostly the first master, so that consecutive calls often concern one device (the one-page paths' condition). */
const devArb = fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, fc.nat(3));

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ op: fc.constant('map' as const), d: devArb, page: fc.nat(63), off: fc.oneof({ weight: 2, arbitrary: fc.constant(0) }, fc.nat(PAGE - 1)), size: fc.oneof({ weight: 2, arbitrary: fc.constant(PAGE) }, { weight: 2, arbitrary: fc.integer({ min: 1, max: 0x200 }) }, fc.integer({ min: 1, max: 3 * PAGE })), dir: fc.nat(2) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('mapBad' as const), d: fc.nat(3), kind: fc.nat(4) }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('unmap' as const), d: devArb, pick: fc.nat(), tweak: fc.nat(4) }) },
  // the unmap of the mapping made last, exact or off by one field (the one-page path's case)
  { weight: 6, arbitrary: fc.record({ op: fc.constant('unmapNewest' as const), d: devArb, tweak: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, fc.nat(4)) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('mask' as const), d: fc.nat(3), bits: fc.constantFrom(28, 32, 40) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('sg' as const), d: fc.nat(3), pages: fc.integer({ min: 1, max: 3 }), dir: fc.nat(2) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('unmapSg' as const), d: fc.nat(3), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.constant({ op: 'attach' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'detach' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'iommuCycle' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'iommuGone' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'iommuBack' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'check' as const }) },
);

interface Live {
  addr: number;
  size: number;
  dir: number;
}

/** One kernel and what the sequence did to it. */
class Side {
  readonly k: Kernel;
  readonly st: FakeIommuState;
  readonly devs: Device[];
  readonly sgs: { list: Scatterlist[]; dir: number }[][] = MASTERS.map(() => []);
  /** An unmanaged domain a002000 (a group of its own) is attached to, or null. */
  unmanaged: IommuDomain | null = null;

  constructor(readonly general: boolean) {
    const { k, st } = bootFake();
    this.k = k;
    this.st = st;
    this.devs = MASTERS.map((n) => dev(k, n));
  }

  /** Before a DMA call for device d: on the general side, make another device the last one seen. */
  private prep(d: number): Device {
    if (this.general) dmaGetMask(this.devs[(d + 1) % this.devs.length]!);
    return this.devs[d]!;
  }

  map(d: number, paddr: number, size: number, dir: number): number {
    const m = this.prep(d);
    return dmaMapSingle(m, paddr, size, dir as 0);
  }

  unmap(d: number, addr: number, size: number, dir: number): number {
    const m = this.prep(d);
    return dmaUnmapSingle(m, addr, size, dir as 0);
  }

  mask(d: number, bits: number): number {
    return dmaSetMask(this.prep(d), DMA_BIT_MASK(bits));
  }

  sg(d: number, pages: number, dir: number): number {
    const list: Scatterlist[] = [];
    for (let i = 0; i < pages; i++) list.push({ paddr: RAM + 0x80_0000 + (this.sgs[d]!.length * 4 + i) * PAGE, length: PAGE });
    const r = dmaMapSg(this.prep(d), list, dir as 0);
    if (r > 0) this.sgs[d]!.push({ list, dir });
    return r;
  }

  unmapSg(d: number, pick: number): number {
    const lists = this.sgs[d]!;
    if (lists.length === 0) return 1;
    const [{ list, dir }] = lists.splice(pick % lists.length, 1) as [{ list: Scatterlist[]; dir: number }];
    return dmaUnmapSg(this.prep(d), list, dir as 0);
  }

  attach(): number {
    if (this.unmanaged) return 1;
    const dom = iommuDomainAlloc(this.devs[2]!);
    if (typeof dom === 'number') return dom;
    const r = iommuAttachDevice(dom, this.devs[2]!);
    if (r < 0) {
      iommuDomainFree(dom);
      return r;
    }
    this.unmanaged = dom;
    return 0;
  }

  detach(): number {
    const dom = this.unmanaged;
    if (!dom) return 1;
    this.unmanaged = null;
    const r = iommuDetachDevice(dom, this.devs[2]!);
    return r < 0 ? r : iommuDomainFree(dom);
  }

  /** True while the IOMMU is unregistered (iommuGone). */
  private gone = false;

  /**
   * The IOMMU goes away: every master is released from it (default domains freed with live
   * mappings in them), and the masters, still bound, map directly until iommuBack.
   */
  iommuGone(): string {
    if (this.gone) return 'gone';
    this.detach();
    this.gone = true;
    return String(iommuDeviceUnregister(this.k, this.st.iommu!));
  }

  /** The IOMMU comes back and the masters are rebound: new groups and default domains. */
  iommuBack(): string {
    if (!this.gone) return 'here';
    const out = [iommuDeviceRegister(this.k, this.st.iommu!)];
    this.gone = false;
    for (const m of this.devs.slice(0, 3)) out.push(this.k.drivers.unbindDevice(m), this.k.drivers.bindDevice(m, 'test-dma'));
    return out.join(',');
  }

  iommuCycle(): string {
    return this.iommuGone() + ';' + this.iommuBack();
  }

  /**
   * What must be equal on both sides after every step: page tables, IOVA ranges, warnings,
   * and with `entries` the dma-debug entries (reading them moves the pending record into the
   * table, which changes no answer but would keep the next unmap off its one-page path, so
   * they are read only at 'check' steps and at the end).
   */
  observe(entries: boolean): unknown {
    return {
      dma: entries ? this.devs.map((m) => dmaDebugEntries(m)) : null,
      tables: this.st.domains.map((dom: FakeDomain) => [dom.type, dom.freed, [...dom.pt].sort((a, b) => a[0] - b[0])]),
      iovas: this.k.iommu.snapshot().domains.map((d) => [d.type, d.isDefault, d.iovas]),
      warnings: this.k.log.grep('DMA unmap').length,
    };
  }
}

/**
 * Runs `ops` on one side, checking each unmap against the list of live mappings, and returns
 * every call's result and the observation after every step. Each side runs its whole sequence
 * alone: the DMA API's "device seen last" is global, so interleaving the two kernels would keep
 * both off the one-page paths.
 */
function runSide(side: Side, ops: Op[]): unknown[] {
  const out: unknown[] = [];
  const live: Live[][] = MASTERS.map(() => []);
  for (const [step, o] of ops.entries()) {
    const at = `${side.general ? 'general' : 'one-page'} side, step ${step} ${JSON.stringify(o)}`;
    let r: unknown;
    switch (o.op) {
      case 'map': {
        const a = side.map(o.d, RAM + o.page * PAGE + o.off, o.size, o.dir);
        if (a !== DMA_MAPPING_ERROR) live[o.d]!.push({ addr: a, size: o.size, dir: o.dir });
        r = a;
        break;
      }
      case 'mapBad': {
        const [pa, size, dir] = [
          [RAM, 0, 0],
          [RAM, PAGE, 3], // DMA_NONE
          [-PAGE, PAGE, 0],
          [RAM + 0.5, 0x100, 1],
          [RAM, 1.5, 2],
        ][o.kind]!;
        r = side.map(o.d, pa!, size!, dir!);
        expect(r, at).toBe(DMA_MAPPING_ERROR);
        break;
      }
      case 'unmap':
      case 'unmapNewest': {
        const list = live[o.d]!;
        let addr = RAM;
        let size = PAGE;
        let dir = 0;
        if (list.length > 0) {
          const m = o.op === 'unmapNewest' ? list[list.length - 1]! : list[o.pick % list.length]!;
          ({ addr, size, dir } = m);
          const tweak = o.tweak;
          if (tweak === 1) size += 1;
          if (tweak === 2) dir = (dir + 1) % 3;
          if (tweak === 3) addr += PAGE;
          if (tweak === 4) addr += 1;
        }
        // the reference list: the oldest live mapping with this address, size and direction
        const i = list.findIndex((m) => m.addr === addr && m.size === size && m.dir === dir);
        r = side.unmap(o.d, addr, size, dir);
        expect(r, at).toBe(i >= 0 ? 0 : -EINVAL);
        if (i >= 0) list.splice(i, 1);
        break;
      }
      case 'mask':
        r = side.mask(o.d, o.bits);
        break;
      case 'sg':
        r = side.sg(o.d, o.pages, o.dir);
        break;
      case 'unmapSg':
        r = side.unmapSg(o.d, o.pick);
        break;
      case 'attach':
        r = side.attach();
        break;
      case 'detach':
        r = side.detach();
        break;
      case 'iommuCycle':
        r = side.iommuCycle();
        break;
      case 'iommuGone':
        r = side.iommuGone();
        break;
      case 'iommuBack':
        r = side.iommuBack();
        break;
      case 'check':
        r = 0;
        break;
    }
    out.push([step, o, r, side.observe(o.op === 'check')]);
  }
  // everything still live unmaps, oldest first, and nothing is left
  for (const [d, list] of live.entries()) {
    for (const m of list) expect(side.unmap(d, m.addr, m.size, m.dir), `final unmap ${JSON.stringify(m)}`).toBe(0);
    expect(dmaDebugEntries(side.devs[d]!).filter((e) => e.kind !== 'sg')).toEqual([]);
  }
  out.push(side.observe(true));
  return out;
}

function run(ops: Op[]): void {
  const fast = runSide(new Side(false), ops);
  const ref = runSide(new Side(true), ops);
  for (let i = 0; i < fast.length; i++) expect(fast[i], `step ${i}`).toEqual(ref[i]);
}

describe('DMA API one-page paths against the general path and a list of live mappings', () => {
  it('random map/unmap/mask/sg/attach/detach/IOMMU-cycle sequences', () => {
    fc.assert(fc.property(fc.array(opArb, { minLength: 20, maxLength: 80, size: 'max' }), run), { numRuns: 200 });
  });

  it('the churn of one page across an IOMMU cycle: the old mapping at the same address is unmapped first', () => {
    // map twice at the top of the IOVA space in two successive default domains, so that two
    // live records share one address: dma-debug's rule says the older goes first
    run([
      { op: 'map', d: 0, page: 1, off: 0, size: PAGE, dir: 0 },
      { op: 'iommuCycle' },
      { op: 'map', d: 0, page: 2, off: 0, size: PAGE, dir: 0 },
      { op: 'unmapNewest', d: 0, tweak: 0 },
      { op: 'map', d: 0, page: 3, off: 0, size: PAGE, dir: 0 },
      { op: 'sg', d: 0, pages: 1, dir: 0 },
      { op: 'iommuCycle' },
      { op: 'unmapNewest', d: 0, tweak: 0 },
      { op: 'map', d: 0, page: 4, off: 0, size: PAGE, dir: 0 },
      { op: 'unmap', d: 0, pick: 0, tweak: 0 },
      { op: 'map', d: 1, page: 5, off: 0x10, size: 0x100, dir: 1 },
      { op: 'unmapNewest', d: 1, tweak: 4 },
      { op: 'unmapNewest', d: 1, tweak: 1 },
      { op: 'unmapNewest', d: 1, tweak: 2 },
      { op: 'unmapNewest', d: 1, tweak: 0 },
    ]);
  });

  it('a pending record of an older domain is not taken for the new default domain', () => {
    run([
      { op: 'map', d: 0, page: 1, off: 0, size: PAGE, dir: 0 }, // general path (first call): 0xfffff000
      { op: 'map', d: 0, page: 2, off: 0, size: PAGE, dir: 0 }, // one-page path, pending: 0xffffe000
      { op: 'iommuCycle' },
      // dma_map_sg finds the new default domain (the cached one changes) without touching the
      // dma-debug table: its two-page run is 0xffffe000-0xfffff000 in the new domain
      { op: 'sg', d: 0, pages: 2, dir: 0 },
      // the pending record belongs to the old domain: unmapped there, the new table untouched
      { op: 'unmapNewest', d: 0, tweak: 0 },
      { op: 'check' },
    ]);
  });

  it('with records of an older domain live, the oldest record of an address is unmapped first', () => {
    run([
      { op: 'map', d: 0, page: 1, off: 0, size: PAGE, dir: 0 }, // 0xfffff000, general path
      { op: 'map', d: 0, page: 2, off: 0, size: PAGE, dir: 0 }, // 0xffffe000
      { op: 'iommuCycle' },
      { op: 'map', d: 0, page: 3, off: 0, size: PAGE, dir: 0 }, // 0xfffff000 in the new domain, general path
      { op: 'map', d: 0, page: 4, off: 0, size: PAGE, dir: 0 }, // 0xffffe000 in the new domain, pending
      // the old domain's 0xffffe000 is the oldest with this key: it goes, the new one stays mapped
      { op: 'unmapNewest', d: 0, tweak: 0 },
      { op: 'check' },
      { op: 'unmapNewest', d: 0, tweak: 0 },
    ]);
  });
});
