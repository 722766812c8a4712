import { afterEach, describe, expect, it } from 'vitest';
import { DMA_STATUS_DONE, DMA_STATUS_FAULT } from '@gki/hw';
import { IOMMU_READ, IOMMU_WRITE, iommuAttachDevice, iommuFlushIotlbAll, iommuDomainAlloc, iommuIovaToPhys, iommuMap, iommuUnmap, type IommuDomain } from '@gki/kernel';
import { boot, buffer, type Preset, type Rig } from './helpers.js';

/*
 * The model's TLB keeps translations until an architected TLBI removes them, so a driver that
 * skips an invalidation is caught: DMA keeps reaching the old page. The seam is the driver's
 * iotlb_sync domain op (`smmu.domainOps.iotlbSync`, shared by every domain of that SMMU
 * instance): wrapping it so that one call does nothing reproduces a forgotten invalidation
 * without touching the driver.
 */

const RW = IOMMU_READ | IOMMU_WRITE;
const SZ_4K = 0x1000;
const ok = (st: number) => (st & (DMA_STATUS_DONE | DMA_STATUS_FAULT)) === DMA_STATUS_DONE;
const faulted = (st: number) => (st & DMA_STATUS_FAULT) !== 0;

let rigs: Rig[] = [];
afterEach(() => {
  for (const r of rigs) expect(r.model.hitlessViolations).toEqual([]);
  rigs = [];
});

/** Makes the next `n` iotlb_sync calls of the rig's SMMU do nothing; returns how many were dropped so far. */
function breakIotlbSync(r: Rig, n = 1): () => number {
  const ops = r.smmu.domainOps;
  const real = ops.iotlbSync!;
  let dropped = 0;
  ops.iotlbSync = (d, g) => {
    if (dropped < n) {
      dropped++;
      return;
    }
    real(d, g);
  };
  return () => dropped;
}

function setup(preset: Preset): { r: Rig; d: IommuDomain; a: number; b: number } {
  const r = boot({ preset });
  rigs.push(r);
  const d = iommuDomainAlloc(r.masters[0]!);
  if (typeof d === 'number') throw new Error(`domain ${d}`);
  expect(iommuAttachDevice(d, r.masters[0]!)).toBe(0);
  const a = buffer(r.k);
  const b = buffer(r.k);
  r.k.mem.write32(a, 0xaaaa_0001);
  r.k.mem.write32(b, 0xbbbb_0002);
  return { r, d, a, b };
}

describe.each(['fvp', 'qemu'] as const)('a broken TLB invalidation on the %s preset', (preset) => {
  const IOVA = 0x40_0000;
  const SCRATCH = 0x80_0000;

  it('with the real iotlb_sync, DMA through an unmapped IOVA faults', () => {
    const { r, d, a } = setup(preset);
    const dma = r.dmas[0]!;
    expect(iommuMap(d, IOVA, a, SZ_4K, RW)).toBe(0);
    expect(ok(dma.checksum(IOVA, 4))).toBe(true); // now cached in the TLB
    const tlbi = r.model.stats.commands.TLBI_NH_VA ?? 0;
    expect(iommuUnmap(d, IOVA, SZ_4K)).toBe(SZ_4K);
    expect(r.model.stats.commands.TLBI_NH_VA ?? 0).toBeGreaterThan(tlbi);
    expect(faulted(dma.fill(IOVA, 4, 0xdead))).toBe(true);
    expect(r.k.mem.read32(a)).toBe(0xaaaa_0001);
  });

  it('a skipped invalidation after unmap leaves a stale TLB entry that DMA still uses', () => {
    const { r, d, a } = setup(preset);
    const dma = r.dmas[0]!;
    expect(iommuMap(d, IOVA, a, SZ_4K, RW)).toBe(0);
    expect(ok(dma.checksum(IOVA, 4))).toBe(true);
    const dropped = breakIotlbSync(r);
    const tlbi = r.model.stats.commands.TLBI_NH_VA ?? 0;
    expect(iommuUnmap(d, IOVA, SZ_4K)).toBe(SZ_4K);
    expect(dropped()).toBe(1);
    expect(r.model.stats.commands.TLBI_NH_VA ?? 0).toBe(tlbi); // nothing reached the SMMU
    // The page table no longer maps the IOVA, but the SMMU's TLB still does.
    expect(iommuIovaToPhys(d, IOVA)).toBe(0);
    expect(ok(dma.fill(IOVA, 4, 0x5757_5757))).toBe(true);
    expect(r.k.mem.read32(a)).toBe(0x5757_5757); // use-after-unmap reached the old page
    // The next (working) invalidation of that range ends it.
    expect(iommuMap(d, SCRATCH, a, SZ_4K, RW)).toBe(0);
    expect(iommuUnmap(d, SCRATCH, SZ_4K)).toBe(SZ_4K);
    expect(ok(dma.fill(IOVA, 4, 0))).toBe(true); // another IOVA was invalidated: still stale
    iommuFlushIotlbAll(d); // the driver's flush_iotlb_all: TLBI by ASID
    expect(faulted(dma.fill(IOVA, 4, 1))).toBe(true);
  });

  it('a remap to another PA without invalidation keeps translating to the old PA', () => {
    const { r, d, a, b } = setup(preset);
    const dma = r.dmas[0]!;
    expect(iommuMap(d, IOVA, a, SZ_4K, RW)).toBe(0);
    expect(iommuMap(d, SCRATCH, buffer(r.k), SZ_4K, RW)).toBe(0);
    expect(ok(dma.copy(IOVA, SCRATCH, 4))).toBe(true);
    breakIotlbSync(r);
    expect(iommuUnmap(d, IOVA, SZ_4K)).toBe(SZ_4K);
    expect(iommuMap(d, IOVA, b, SZ_4K, RW)).toBe(0);
    expect(iommuIovaToPhys(d, IOVA)).toBe(b);
    // Stale: the SMMU still reads page `a`, not the newly mapped `b`.
    expect(ok(dma.copy(IOVA, SCRATCH + 0x10, 4))).toBe(true);
    const scratchPa = iommuIovaToPhys(d, SCRATCH);
    expect(r.k.mem.read32(scratchPa + 0x10)).toBe(0xaaaa_0001);
    // With the invalidation done properly (unmap + remap again), `b` is seen.
    expect(iommuUnmap(d, IOVA, SZ_4K)).toBe(SZ_4K);
    expect(iommuMap(d, IOVA, b, SZ_4K, RW)).toBe(0);
    expect(ok(dma.copy(IOVA, SCRATCH + 0x20, 4))).toBe(true);
    expect(r.k.mem.read32(scratchPa + 0x20)).toBe(0xbbbb_0002);
  });
});
