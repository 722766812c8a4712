import { describe, expect, it } from 'vitest';
import {
  DMA_BIDIRECTIONAL,
  DMA_BIT_MASK,
  DMA_FROM_DEVICE,
  DMA_MAPPING_ERROR,
  DMA_NONE,
  DMA_TO_DEVICE,
  EEXIST,
  EINVAL,
  EIO,
  ENOMEM,
  IOMMU_CACHE,
  IOMMU_READ,
  IOMMU_WRITE,
  IovaDomain,
  dmaAllocCoherent,
  dmaDebugEntries,
  dmaDirectionToProt,
  dmaFreeCoherent,
  dmaMapSg,
  dmaMapSingle,
  dmaSetMask,
  dmaSetMaxSegSize,
  dmaUnmapSg,
  dmaUnmapSingle,
  iommuGetDomainForDev,
  iommuIovaToPhys,
  type Device,
  type DmaCoherentBuffer,
  type Kernel,
  type Scatterlist,
} from '@gki/kernel';
import { bootFake, dev, type FakeDomain } from './iommu-fake.js';

const RAM = 0x4000_0000;

/** Everything a rejected DMA call must leave alone. */
function state(k: Kernel, d: Device) {
  return { iommu: k.iommu.snapshot(), pages: k.pages.snapshot(), dma: dmaDebugEntries(d) };
}

describe('IOVA allocator', () => {
  it('allocates top-down from the limit, size-aligned, and reuses freed holes', () => {
    const iovad = new IovaDomain(0x1000, 1);
    const lim = 0xf_ffff; // 4 GiB of 4K frames
    expect(iovad.allocIova(1, lim, true)).toBe(0xf_ffff);
    expect(iovad.allocIova(3, lim, true)).toBe(0xf_fffc); // 3 rounds up to an alignment of 4
    expect(iovad.allocIova(2, lim, true)).toBe(0xf_fffa);
    expect(iovad.allocIova(1, lim, false)).toBe(0xf_fff9);
    expect(iovad.list()).toEqual([
      { pfnLo: 0xf_fff9, pfnHi: 0xf_fff9 },
      { pfnLo: 0xf_fffa, pfnHi: 0xf_fffb },
      { pfnLo: 0xf_fffc, pfnHi: 0xf_fffe },
      { pfnLo: 0xf_ffff, pfnHi: 0xf_ffff },
    ]);
    expect(iovad.freeIova(0xf_fffc, 3)).toBe(0);
    // the freed hole is found first from the top, then its remainder
    expect(iovad.allocIova(2, lim, true)).toBe(0xf_fffc);
    expect(iovad.allocIova(1, lim, true)).toBe(0xf_fffe);
    expect(iovad.allocIova(4, lim, true)).toBe(0xf_fff4);
    expect(iovad.count).toBe(6);
    // no overlaps
    const l = iovad.list();
    for (let i = 1; i < l.length; i++) expect(l[i]!.pfnLo).toBeGreaterThan(l[i - 1]!.pfnHi);
  });

  it('never hands out pfns below the start, fails with -ENOMEM and validates frees', () => {
    const iovad = new IovaDomain(0x1000, 1);
    expect(iovad.allocIova(4, 7, true)).toBe(4);
    expect(iovad.allocIova(2, 7, true)).toBe(2);
    expect(iovad.allocIova(1, 7, true)).toBe(1);
    const before = iovad.list();
    expect(iovad.allocIova(1, 7, true)).toBe(-ENOMEM);
    expect(iovad.allocIova(0, 7, true)).toBe(-EINVAL);
    expect(iovad.freeIova(4, 3)).toBe(-EINVAL); // wrong size
    expect(iovad.freeIova(5, 1)).toBe(-EINVAL); // not a start
    expect(iovad.reserveIova(3, 3)).toBe(-EEXIST);
    expect(iovad.list()).toEqual(before);
    expect(iovad.stats().failures).toBe(1);
    expect(iovad.findIova(6)).toEqual({ pfnLo: 4, pfnHi: 7 });
    expect(iovad.findIova(0)).toBeUndefined();
  });

  it('works with page frames above 2^32', () => {
    const iovad = new IovaDomain(0x1000, 1);
    const lim = 2 ** 40 - 1;
    expect(iovad.reserveIova(2 ** 39, lim)).toBe(0);
    expect(iovad.allocIova(2 ** 20, lim, true)).toBe(2 ** 39 - 2 ** 20);
  });

  it('align rounds up to the granule exactly on both sides of 2^30, 2^31 and 2^32', () => {
    const iovad = new IovaDomain(0x1000, 1);
    const cases: [number, number][] = [
      [1, 0x1000],
      [0x1000, 0x1000],
      [0x1001, 0x2000],
      [0x3fff_f001, 0x4000_0000],
      [0x4000_0000, 0x4000_0000],
      [0x4000_0001, 0x4000_1000],
      [0x7fff_ffff, 2 ** 31],
      [2 ** 31 + 1, 2 ** 31 + 0x1000],
      [2 ** 32 - 1, 2 ** 32],
      [2 ** 32 + 0x1001, 2 ** 32 + 0x2000],
      [2 ** 52 + 1, 2 ** 52 + 0x1000],
      [0, 0],
    ];
    for (const [size, len] of cases) expect(iovad.align(size)).toBe(len);
    expect(Object.is(iovad.align(-0), -0)).toBe(true);
    expect(iovad.align(-1)).toBe(-0);
    expect(iovad.align(NaN)).toBeNaN();
    // a granule of 2^30 and above (a plain number, not a small integer)
    expect(new IovaDomain(2 ** 30, 1).align(1)).toBe(2 ** 30);
    expect(new IovaDomain(2 ** 32, 1).align(2 ** 32 + 1)).toBe(2 ** 33);
  });
});

describe('DMA API behind an IOMMU', () => {
  it('directions map to IOMMU permissions', () => {
    expect(dmaDirectionToProt(DMA_TO_DEVICE, false)).toBe(IOMMU_READ);
    expect(dmaDirectionToProt(DMA_FROM_DEVICE, false)).toBe(IOMMU_WRITE);
    expect(dmaDirectionToProt(DMA_BIDIRECTIONAL, false)).toBe(IOMMU_READ | IOMMU_WRITE);
    expect(dmaDirectionToProt(DMA_BIDIRECTIONAL, true)).toBe(IOMMU_READ | IOMMU_WRITE | IOMMU_CACHE);
  });

  it('dma_map_single: top-down size-aligned IOVAs below the 32-bit mask, offset kept, unmap syncs and frees', () => {
    const { k } = bootFake();
    const m = dev(k, 'a000000.dma');
    const dom = iommuGetDomainForDev(m) as FakeDomain;
    const a = dmaMapSingle(m, RAM + 0x1234, 0x2000, DMA_TO_DEVICE);
    // 0x2234 bytes from offset 0x234 need 3 frames, aligned to 4: the top of 4 GiB
    expect(a).toBe(0xffff_c234);
    expect(iommuIovaToPhys(dom, a)).toBe(RAM + 0x1234);
    expect(dom.pt.get(0xffff_c000)).toEqual({ pa: RAM + 0x1000, size: 0x1000, prot: IOMMU_READ });
    expect(dom.pt.size).toBe(3);
    const b = dmaMapSingle(m, RAM + 0x10_0000, 0x1000, DMA_FROM_DEVICE);
    expect(b).toBe(0xffff_f000); // the frame left above the first run
    expect(dom.pt.get(b)?.prot).toBe(IOMMU_WRITE);
    expect(dmaDebugEntries(m).map((e) => [e.kind, e.dmaAddr, e.size, e.iommu])).toEqual([
      ['single', a, 0x2000, true],
      ['single', b, 0x1000, true],
    ]);
    dom.syncs.length = 0;
    expect(dmaUnmapSingle(m, a, 0x2000, DMA_TO_DEVICE)).toBe(0);
    expect(dom.syncs).toEqual([{ start: 0xffff_c000, end: 0xffff_efff, pgsize: 0x1000 }]);
    expect(dom.pt.size).toBe(1);
    expect(dmaUnmapSingle(m, b, 0x1000, DMA_FROM_DEVICE)).toBe(0);
    expect(dom.pt.size).toBe(0);
    expect(k.iommu.snapshot().domains.every((d) => d.iovas.length === 0)).toBe(true);
    expect(dmaDebugEntries(m)).toEqual([]);
  });

  it('dma_map_single of 2 GiB + 4 KiB (a size above 2^31): 1 GiB blocks and a page, unmapped whole', () => {
    const { k } = bootFake();
    const m = dev(k, 'a000000.dma');
    const dom = iommuGetDomainForDev(m) as FakeDomain;
    expect(dmaSetMask(m, DMA_BIT_MASK(40))).toBe(0);
    const size = 2 ** 31 + 0x1000;
    const a = dmaMapSingle(m, 2 ** 32, size, DMA_BIDIRECTIONAL);
    // 2^31 + 2^12 bytes round up to a 2^32-aligned run of 2^32 below the 40-bit mask's top
    expect(a).toBe(2 ** 40 - 2 ** 32);
    expect([...dom.pt.entries()].sort((x, y) => x[0] - y[0])).toEqual([
      [a, { pa: 2 ** 32, size: 2 ** 30, prot: IOMMU_READ | IOMMU_WRITE }],
      [a + 2 ** 30, { pa: 2 ** 32 + 2 ** 30, size: 2 ** 30, prot: IOMMU_READ | IOMMU_WRITE }],
      [a + 2 ** 31, { pa: 2 ** 32 + 2 ** 31, size: 0x1000, prot: IOMMU_READ | IOMMU_WRITE }],
    ]);
    expect(iommuIovaToPhys(dom, a + size - 1)).toBe(2 ** 32 + size - 1);
    expect(dmaUnmapSingle(m, a, size, DMA_BIDIRECTIONAL)).toBe(0);
    expect(dom.pt.size).toBe(0);
    expect(dmaDebugEntries(m)).toEqual([]);
  });

  it('masters in one group share the default domain and its IOVA space', () => {
    const { k } = bootFake();
    const a = dmaMapSingle(dev(k, 'a000000.dma'), RAM, 0x1000, DMA_BIDIRECTIONAL);
    const b = dmaMapSingle(dev(k, 'a001000.dma'), RAM, 0x1000, DMA_BIDIRECTIONAL);
    const c = dmaMapSingle(dev(k, 'a002000.dma'), RAM, 0x1000, DMA_BIDIRECTIONAL);
    expect([a, b, c]).toEqual([0xffff_f000, 0xffff_e000, 0xffff_f000]);
    // a002000 is dma-coherent
    expect((iommuGetDomainForDev(dev(k, 'a002000.dma')) as FakeDomain).pt.get(c)?.prot).toBe(IOMMU_READ | IOMMU_WRITE | IOMMU_CACHE);
  });

  it('rejected and failed mappings change nothing', () => {
    const { k } = bootFake();
    const m = dev(k, 'a000000.dma');
    const dom = iommuGetDomainForDev(m) as FakeDomain;
    const ok = dmaMapSingle(m, RAM, 0x1000, DMA_TO_DEVICE);
    const before = state(k, m);
    expect(dmaMapSingle(m, RAM, 0, DMA_TO_DEVICE)).toBe(DMA_MAPPING_ERROR);
    expect(dmaMapSingle(m, -1, 0x1000, DMA_TO_DEVICE)).toBe(DMA_MAPPING_ERROR);
    expect(dmaMapSingle(m, RAM, 0x1000, DMA_NONE)).toBe(DMA_MAPPING_ERROR);
    // larger than the 32-bit IOVA space
    expect(dmaMapSingle(m, 0, 2 ** 32, DMA_TO_DEVICE)).toBe(DMA_MAPPING_ERROR);
    // the driver fails part way: the IOVA goes back and nothing stays mapped
    dom.failMapAfter = 2;
    expect(dmaMapSingle(m, RAM, 0x4000, DMA_TO_DEVICE)).toBe(DMA_MAPPING_ERROR);
    dom.failMapAfter = null;
    // unmaps that do not match a live mapping
    expect(dmaUnmapSingle(m, ok, 0x2000, DMA_TO_DEVICE)).toBe(-EINVAL);
    expect(dmaUnmapSingle(m, ok, 0x1000, DMA_FROM_DEVICE)).toBe(-EINVAL);
    expect(dmaUnmapSingle(m, ok + 0x1000, 0x1000, DMA_TO_DEVICE)).toBe(-EINVAL);
    expect(dmaFreeCoherent(m, 0x1000, RAM, ok)).toBe(-EINVAL);
    // bigint addresses (an emulator author's slip) are refused like any bad address, not with
    // 'Cannot mix BigInt' from the fast path or the mapping table
    const big = (n: number) => BigInt(n) as unknown as number;
    expect(dmaMapSingle(m, big(RAM), 0x1000, DMA_TO_DEVICE)).toBe(DMA_MAPPING_ERROR);
    expect(dmaUnmapSingle(m, big(ok), 0x1000, DMA_TO_DEVICE)).toBe(-EINVAL);
    expect(dmaFreeCoherent(m, 0x1000, RAM, big(ok))).toBe(-EINVAL);
    expect(state(k, m)).toEqual(before);
    expect(dom.pt.size).toBe(1);
    // a smaller mask moves the IOVAs down, an invalid one is refused
    expect(dmaSetMask(m, DMA_BIT_MASK(28))).toBe(0);
    expect(dmaMapSingle(m, RAM, 0x1000, DMA_TO_DEVICE)).toBe(0x0fff_f000);
    expect(dmaSetMask(m, 0x1234)).toBe(-EINVAL);
    expect(dmaSetMask(m, DMA_BIT_MASK(16))).toBe(-EIO);
  });

  it('dma_map_sg: one IOVA run, merged into DMA segments, unmapped as one', () => {
    const { k } = bootFake();
    const m = dev(k, 'a000000.dma');
    const dom = iommuGetDomainForDev(m) as FakeDomain;
    const sg: Scatterlist[] = [
      { paddr: RAM + 0x1_0000, length: 0x1000 },
      { paddr: RAM + 0x2_0000, length: 0x800 },
      { paddr: RAM + 0x3_0100, length: 0x100 },
    ];
    expect(dmaMapSg(m, sg, DMA_TO_DEVICE)).toBe(2);
    // 3 frames, aligned to 4 at the top of the 32-bit space
    const base = 0xffff_c000;
    expect(sg.map((s) => [s.dmaAddress, s.dmaLength])).toEqual([
      [base, 0x1800],
      [base + 0x2100, 0x100],
      [DMA_MAPPING_ERROR, 0],
    ]);
    expect(iommuIovaToPhys(dom, base + 0x1000)).toBe(RAM + 0x2_0000);
    expect(iommuIovaToPhys(dom, base + 0x2180)).toBe(RAM + 0x3_0180);
    expect(dmaMapSg(m, sg, DMA_TO_DEVICE)).toBe(-EINVAL); // already mapped
    expect(dmaUnmapSg(m, sg, DMA_FROM_DEVICE)).toBe(-EINVAL);
    dom.syncs.length = 0;
    expect(dmaUnmapSg(m, sg, DMA_TO_DEVICE)).toBe(0);
    expect(dom.syncs).toEqual([{ start: base, end: base + 0x2fff, pgsize: 0x1000 }]);
    expect(dom.pt.size).toBe(0);
    expect(dmaDebugEntries(m)).toEqual([]);
  });

  it('dma_map_sg respects the max segment size and fails cleanly', () => {
    const { k } = bootFake();
    const m = dev(k, 'a000000.dma');
    const dom = iommuGetDomainForDev(m) as FakeDomain;
    expect(dmaSetMaxSegSize(m, 0x1000)).toBe(0);
    const sg: Scatterlist[] = [
      { paddr: RAM, length: 0x1000 },
      { paddr: RAM + 0x5000, length: 0x1000 },
    ];
    expect(dmaMapSg(m, sg, DMA_BIDIRECTIONAL)).toBe(2);
    expect(sg.map((s) => s.dmaLength)).toEqual([0x1000, 0x1000]);
    const sg2: Scatterlist[] = [
      { paddr: RAM, length: 0x1000 },
      { paddr: RAM + 0x5000, length: 0x3000 },
    ];
    const before = state(k, m);
    dom.failMapAfter = 2;
    expect(dmaMapSg(m, sg2, DMA_BIDIRECTIONAL)).toBe(-ENOMEM);
    expect(sg2[0]!.dmaAddress).toBeUndefined();
    expect(dmaMapSg(m, [{ paddr: RAM, length: 0 }], DMA_BIDIRECTIONAL)).toBe(-EINVAL);
    expect(dmaMapSg(m, [], DMA_BIDIRECTIONAL)).toBe(-EINVAL);
    expect(state(k, m)).toEqual(before);
  });

  it('dma_alloc_coherent: zeroed pages mapped read/write, freed with their IOVA', () => {
    const { k } = bootFake();
    const m = dev(k, 'a002000.dma');
    const dom = iommuGetDomainForDev(m) as FakeDomain;
    const used = k.pages.stats().pagesInUse;
    const a = dmaAllocCoherent(m, 0x3000) as DmaCoherentBuffer;
    const b = dmaAllocCoherent(m, 0x800) as DmaCoherentBuffer;
    expect(typeof a).toBe('object');
    expect(k.pages.stats().pagesInUse).toBe(used + 4 + 1); // order 2 and order 0
    expect(a.dmaAddr).toBe(0xffff_c000);
    expect(b.dmaAddr).toBe(0xffff_f000);
    expect(iommuIovaToPhys(dom, a.dmaAddr + 0x2abc)).toBe(a.cpuPa + 0x2abc);
    expect(dom.pt.get(b.dmaAddr)?.prot).toBe(IOMMU_READ | IOMMU_WRITE | IOMMU_CACHE);
    expect(k.board.mem.read32(a.cpuPa + 0x3ffc)).toBe(0);
    expect(a.cpuPa + 0x4000 <= b.cpuPa || b.cpuPa + 0x1000 <= a.cpuPa).toBe(true);
    expect(dmaFreeCoherent(m, 0x3000, b.cpuPa, a.dmaAddr)).toBe(-EINVAL);
    expect(dmaFreeCoherent(m, 0x3000, a.cpuPa, a.dmaAddr)).toBe(0);
    expect(dmaFreeCoherent(m, 0x800, b.cpuPa, b.dmaAddr)).toBe(0);
    expect(k.pages.stats().pagesInUse).toBe(used);
    expect(dom.pt.size).toBe(0);
    // page allocator failure: nothing left behind
    const before = state(k, m);
    k.pages.injectFaults({ nth: 1 });
    expect(dmaAllocCoherent(m, 0x1000)).toBe(-ENOMEM);
    expect(dmaAllocCoherent(m, 0)).toBe(-EINVAL);
    // mapping failure after the pages were allocated
    dom.failMapAfter = 0;
    expect(dmaAllocCoherent(m, 0x1000)).toBe(-ENOMEM);
    dom.failMapAfter = null;
    expect(state(k, m)).toEqual(before);
  });
});

describe('DMA API without an IOMMU', () => {
  it('maps directly: the DMA address is the physical address, within the mask', () => {
    const { k } = bootFake();
    const m = dev(k, 'a003000.dma');
    expect(dmaMapSingle(m, RAM + 0x1234, 0x100, DMA_TO_DEVICE)).toBe(RAM + 0x1234);
    expect(dmaUnmapSingle(m, RAM + 0x1234, 0x100, DMA_TO_DEVICE)).toBe(0);
    const before = state(k, m);
    expect(dmaMapSingle(m, 2 ** 32, 0x1000, DMA_TO_DEVICE)).toBe(DMA_MAPPING_ERROR);
    expect(dmaUnmapSingle(m, RAM + 0x1234, 0x100, DMA_TO_DEVICE)).toBe(-EINVAL);
    expect(state(k, m)).toEqual(before);
    expect(dmaSetMask(m, DMA_BIT_MASK(64))).toBe(0);
    expect(dmaMapSingle(m, 2 ** 32, 0x1000, DMA_TO_DEVICE)).toBe(2 ** 32);
    const sg: Scatterlist[] = [
      { paddr: RAM, length: 0x1000 },
      { paddr: RAM + 0x1000, length: 0x1000 },
    ];
    expect(dmaMapSg(m, sg, DMA_FROM_DEVICE)).toBe(2);
    expect(sg.map((s) => s.dmaAddress)).toEqual([RAM, RAM + 0x1000]);
    expect(dmaUnmapSg(m, sg, DMA_FROM_DEVICE)).toBe(0);
    const c = dmaAllocCoherent(m, 0x2000) as DmaCoherentBuffer;
    expect(c.dmaAddr).toBe(c.cpuPa);
    expect(dmaFreeCoherent(m, 0x2000, c.cpuPa, c.dmaAddr)).toBe(0);
    expect(k.iommu.snapshot().masters.map((x) => x.dev)).not.toContain('a003000.dma');
  });
});
