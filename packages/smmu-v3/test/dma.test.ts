import { afterEach, describe, expect, it } from 'vitest';
import { DMA_STATUS_DONE, DMA_STATUS_FAULT, DMA_STATUS_FAULT_WRITE, SMMU_CR0, SMMU_GERROR, SMMU_GERRORN } from '@gki/hw';
import {
  DMA_BIDIRECTIONAL,
  IOMMU_FAULT_READ,
  IOMMU_FAULT_WRITE,
  IOMMU_READ,
  IOMMU_WRITE,
  dmaMapSingle,
  iommuAttachDevice,
  iommuDetachDevice,
  iommuDomainAlloc,
  iommuDomainFree,
  iommuGetDomainForDev,
  iommuIovaToPhys,
  iommuMap,
  iommuSetFaultHandler,
  iommuUnmap,
  type IommuDomain,
} from '@gki/kernel';
import { armSmmuV3DomainAllocS2, asArmSmmuV3Domain } from '../src/index.js';
import { SIDS, SMMU_BASE, boot, buffer, pattern, type Preset, type Rig } from './helpers.js';

const RW = IOMMU_READ | IOMMU_WRITE;
const SZ_4K = 0x1000;
const SZ_2M = 0x20_0000;

let rigs: Rig[] = [];
function rig(preset: Preset = 'fvp'): Rig {
  const r = boot({ preset });
  rigs.push(r);
  return r;
}
afterEach(() => {
  // Every STE/CD update the driver made was hitless, as the model checks at each CMD_SYNC.
  for (const r of rigs) expect(r.model.hitlessViolations).toEqual([]);
  rigs = [];
});

function domain(r: Rig, dev = r.masters[0]!): IommuDomain {
  const d = iommuDomainAlloc(dev);
  if (typeof d === 'number') throw new Error(`domain alloc: ${d}`);
  return d;
}

function faults(d: IommuDomain): { iova: number; flags: number; dev: string }[] {
  const seen: { iova: number; flags: number; dev: string }[] = [];
  iommuSetFaultHandler(d, (_dom, dev, iova, flags) => {
    seen.push({ iova, flags, dev: dev.name });
    return 0;
  });
  return seen;
}

const ok = (status: number) => (status & (DMA_STATUS_DONE | DMA_STATUS_FAULT)) === DMA_STATUS_DONE;
const faulted = (status: number) => (status & DMA_STATUS_FAULT) !== 0;

describe.each(['fvp', 'qemu', 'minimal'] as const)('arm_smmu_v3 on the %s preset', (preset) => {
  it('probes, enables the SMMU and gives every master a stage-1 default domain', () => {
    const r = rig(preset);
    expect(r.board.bus.read32(SMMU_BASE + SMMU_CR0)).toBe(0xd); // SMMUEN | EVTQEN | CMDQEN
    expect(r.probed).toEqual(r.masters.map((m) => m.name)); // masters bound after the SMMU
    const ids = new Set<number>();
    for (const m of r.masters) {
      const d = asArmSmmuV3Domain(iommuGetDomainForDev(m)!)!;
      expect(d.type).toBe('dma');
      expect(d.stage).toBe(1);
      ids.add(d.asid);
    }
    expect(ids.size).toBe(3);
    expect(r.smmu.features.ril).toBe(preset === 'qemu');
  });

  it('DMA through a mapped IOVA reaches the mapped PA, and the DMA API works on the default domain', () => {
    const r = rig(preset);
    const d = domain(r);
    expect(iommuAttachDevice(d, r.masters[0]!)).toBe(0);
    const src = buffer(r.k);
    const dst = buffer(r.k, 9); // 2 MiB, aligned: a block mapping
    pattern(r.k, src, SZ_4K, 7);
    expect(iommuMap(d, 0x10_0000, src, SZ_4K, RW)).toBe(0);
    expect(iommuMap(d, 0x4000_0000, dst, SZ_2M, RW)).toBe(0);
    expect(iommuIovaToPhys(d, 0x4000_0000 + 0x1234)).toBe(dst + 0x1234);
    expect(ok(r.dmas[0]!.copy(0x10_0000, 0x4000_0000 + 0x1f_f000, SZ_4K))).toBe(true);
    expect(r.k.mem.readBytes(dst + 0x1f_f000, SZ_4K)).toEqual(r.k.mem.readBytes(src, SZ_4K));
    // The DMA API maps through the master's default domain.
    const m1 = r.masters[1]!;
    const buf = buffer(r.k);
    const iova = dmaMapSingle(m1, buf, SZ_4K, DMA_BIDIRECTIONAL);
    expect(iova).toBeGreaterThan(0);
    expect(iova).not.toBe(buf);
    expect(ok(r.dmas[1]!.fill(iova, SZ_4K, 0xa5a5_5a5a))).toBe(true);
    expect(r.k.mem.read32(buf + 0xffc)).toBe(0xa5a5_5a5a);
  });

  it('an unmapped IOVA faults and the event reaches the domain fault handler', () => {
    const r = rig(preset);
    const d = domain(r);
    const seen = faults(d);
    expect(iommuAttachDevice(d, r.masters[0]!)).toBe(0);
    const buf = buffer(r.k);
    expect(iommuMap(d, 0x8000, buf, SZ_4K, RW)).toBe(0);
    const st = r.dmas[0]!.copy(0x8000, 0x1_0000, 16);
    expect(faulted(st) && (st & DMA_STATUS_FAULT_WRITE) !== 0).toBe(true);
    expect(seen).toEqual([{ iova: 0x1_0000, flags: IOMMU_FAULT_WRITE, dev: r.masters[0]!.name }]);
    expect(faulted(r.dmas[0]!.checksum(0x20_0000, 8))).toBe(true);
    expect(seen[1]).toEqual({ iova: 0x20_0000, flags: IOMMU_FAULT_READ, dev: r.masters[0]!.name });
    expect(r.smmu.stats.faultsReported).toBe(2);
    expect(r.model.pendingEvents()).toEqual([]); // consumed
    // A domain without a handler (master 1's default DMA domain, where 0x7000_0000 is not
    // mapped): the fault is not reported to anyone, the driver logs it instead.
    const def = iommuGetDomainForDev(r.masters[1]!)!;
    expect(def.type).toBe('dma');
    expect(iommuIovaToPhys(def, 0x7000_0000)).toBe(0);
    expect(faulted(r.dmas[1]!.fill(0x7000_0000, 4, 1))).toBe(true);
    expect(r.k.log.grep(/F_TRANSLATION.*sid 0x11/).length).toBe(1);
    expect(r.smmu.stats.faultsReported).toBe(3); // reported to the core, which found no handler
    expect(seen).toHaveLength(2);
  });

  it('refuses writes through a read-only mapping', () => {
    const r = rig(preset);
    const d = domain(r);
    const seen = faults(d);
    iommuAttachDevice(d, r.masters[0]!);
    const ro = buffer(r.k);
    const rw = buffer(r.k);
    pattern(r.k, ro, SZ_4K, 3);
    const before = r.k.mem.readBytes(ro, SZ_4K);
    expect(iommuMap(d, 0x1000, ro, SZ_4K, IOMMU_READ)).toBe(0);
    expect(iommuMap(d, 0x2000, rw, SZ_4K, RW)).toBe(0);
    expect(ok(r.dmas[0]!.copy(0x1000, 0x2000, SZ_4K))).toBe(true); // read allowed
    const st = r.dmas[0]!.copy(0x2000, 0x1000, SZ_4K);
    expect(st & DMA_STATUS_FAULT_WRITE).toBeTruthy();
    expect(r.k.mem.readBytes(ro, SZ_4K)).toEqual(before);
    expect(seen).toEqual([{ iova: 0x1000, flags: IOMMU_FAULT_WRITE, dev: r.masters[0]!.name }]);
  });

  it('isolates masters in different domains', () => {
    const r = rig(preset);
    const [a, b] = [domain(r, r.masters[0]), domain(r, r.masters[1])];
    expect(iommuAttachDevice(a, r.masters[0]!)).toBe(0);
    expect(iommuAttachDevice(b, r.masters[1]!)).toBe(0);
    const bufA = buffer(r.k);
    const bufB = buffer(r.k);
    iommuMap(a, 0x10_0000, bufA, SZ_4K, RW);
    iommuMap(b, 0x10_0000, bufB, SZ_4K, RW);
    expect(ok(r.dmas[0]!.fill(0x10_0000, SZ_4K, 0x1111_1111))).toBe(true);
    expect(ok(r.dmas[1]!.fill(0x10_0000, SZ_4K, 0x2222_2222))).toBe(true);
    expect(r.k.mem.read32(bufA)).toBe(0x1111_1111);
    expect(r.k.mem.read32(bufB)).toBe(0x2222_2222);
    // B cannot reach A's buffer by its physical address, nor by any IOVA A uses.
    const fa = faults(b);
    expect(faulted(r.dmas[1]!.fill(bufA, 4, 0))).toBe(true);
    expect(r.k.mem.read32(bufA)).toBe(0x1111_1111);
    expect(fa.map((f) => f.iova)).toEqual([bufA]);
  });

  it('after iommuUnmap returns, no access through the old IOVA succeeds (TLB invalidated)', () => {
    const r = rig(preset);
    const d = domain(r);
    iommuAttachDevice(d, r.masters[0]!);
    const small = buffer(r.k, 4); // 64 KiB
    const big = buffer(r.k, 9);
    const sizes: [number, number, number][] = [
      [0x10_0000, small, 16 * SZ_4K],
      [0x4000_0000, big, SZ_2M],
    ];
    for (const [iova, pa, len] of sizes) expect(iommuMap(d, iova, pa, len, RW)).toBe(0);
    const dma = r.dmas[0]!;
    for (const [iova, , len] of sizes) for (let off = 0; off < len; off += SZ_4K) expect(ok(dma.checksum(iova + off, 4))).toBe(true);
    // Partial unmap of the 4K run, whole unmap of the block.
    expect(iommuUnmap(d, 0x10_0000 + 5 * SZ_4K, 7 * SZ_4K)).toBe(7 * SZ_4K);
    expect(iommuUnmap(d, 0x4000_0000, SZ_2M)).toBe(SZ_2M);
    for (let i = 0; i < 16; i++) {
      const st = dma.checksum(0x10_0000 + i * SZ_4K, 4);
      expect(faulted(st)).toBe(i >= 5 && i < 12);
    }
    for (let off = 0; off < SZ_2M; off += 0x4_0000) expect(faulted(dma.checksum(0x4000_0000 + off, 4))).toBe(true);
    // Remap elsewhere: the new translation is used, not a stale one.
    const other = buffer(r.k);
    r.k.mem.write32(other, 0xfeed_beef);
    expect(iommuMap(d, 0x10_0000 + 5 * SZ_4K, other, SZ_4K, RW)).toBe(0);
    expect(ok(dma.copy(0x10_0000 + 5 * SZ_4K, 0x10_0000, 4))).toBe(true);
    expect(r.k.mem.read32(small)).toBe(0xfeed_beef);
  });

  it('switches a master between its default domain, unmanaged stage-1/stage-2, identity and back, hitlessly', () => {
    const r = rig(preset);
    const dev = r.masters[0]!;
    const dma = r.dmas[0]!;
    const def = iommuGetDomainForDev(dev)!;
    const buf = buffer(r.k);
    const s1 = domain(r);
    iommuMap(s1, 0x5000, buf, SZ_4K, RW);
    expect(iommuAttachDevice(s1, dev)).toBe(0);
    expect(ok(dma.fill(0x5000, 4, 0x51))).toBe(true);
    const s1b = domain(r);
    iommuMap(s1b, 0x6000, buf, SZ_4K, RW);
    expect(iommuDetachDevice(s1, dev)).toBe(0);
    expect(iommuAttachDevice(s1b, dev)).toBe(0);
    expect(faulted(dma.fill(0x5000, 4, 0))).toBe(true);
    expect(ok(dma.fill(0x6000, 4, 0x52))).toBe(true);
    expect(r.k.mem.read32(buf)).toBe(0x52);
    expect(iommuDetachDevice(s1b, dev)).toBe(0);
    if (r.smmu.features.s2) {
      const s2 = armSmmuV3DomainAllocS2(dev);
      if (typeof s2 === 'number') throw new Error(`s2 alloc ${s2}`);
      expect(asArmSmmuV3Domain(s2)!.stage).toBe(2);
      const seen = faults(s2);
      iommuMap(s2, 0x7000, buf, SZ_4K, RW);
      expect(iommuAttachDevice(s2, dev)).toBe(0);
      expect(ok(dma.fill(0x7000, 4, 0x53))).toBe(true);
      expect(r.k.mem.read32(buf)).toBe(0x53);
      expect(iommuUnmap(s2, 0x7000, SZ_4K)).toBe(SZ_4K);
      expect(faulted(dma.fill(0x7000, 4, 0))).toBe(true);
      expect(seen).toEqual([{ iova: 0x7000, flags: IOMMU_FAULT_WRITE, dev: dev.name }]);
      expect(iommuDetachDevice(s2, dev)).toBe(0);
      expect(iommuDomainFree(s2)).toBe(0);
    } else {
      expect(armSmmuV3DomainAllocS2(dev)).toBeLessThan(0);
    }
    const id = iommuDomainAlloc(dev, 'identity');
    if (typeof id === 'number') throw new Error(`identity ${id}`);
    expect(iommuAttachDevice(id, dev)).toBe(0);
    expect(ok(dma.fill(buf, 4, 0x54))).toBe(true); // bypass: bus address = PA
    expect(r.k.mem.read32(buf)).toBe(0x54);
    expect(iommuDetachDevice(id, dev)).toBe(0);
    expect(iommuGetDomainForDev(dev)).toBe(def);
    expect(faulted(dma.fill(buf, 4, 0))).toBe(true);
    for (const x of [s1, s1b, id]) expect(iommuDomainFree(x)).toBe(0);
  });

  it('recovers from an illegal command by skipping it, as Linux does', () => {
    const r = rig(preset);
    expect(r.smmu.issueRawCommand(0x7f, 0, 0, 0)).toBe(0);
    expect(r.smmu.stats.cmdqErrors).toBe(1);
    expect(r.k.log.grep('CMDQ error').length).toBe(1);
    const g = r.board.bus.read32(SMMU_BASE + SMMU_GERROR);
    expect(r.board.bus.read32(SMMU_BASE + SMMU_GERRORN)).toBe(g);
    // The queue keeps working: an unmap is still invalidated.
    const d = domain(r);
    iommuAttachDevice(d, r.masters[0]!);
    const buf = buffer(r.k);
    iommuMap(d, 0x3000, buf, SZ_4K, RW);
    expect(ok(r.dmas[0]!.checksum(0x3000, 4))).toBe(true);
    iommuUnmap(d, 0x3000, SZ_4K);
    expect(faulted(r.dmas[0]!.checksum(0x3000, 4))).toBe(true);
  });
});

describe('range invalidation', () => {
  it('uses range TLBIs with RIL and per-page TLBIs without', () => {
    for (const preset of ['qemu', 'fvp'] as const) {
      const r = rig(preset);
      const d = domain(r);
      iommuAttachDevice(d, r.masters[0]!);
      const buf = buffer(r.k, 6); // 256 KiB
      expect(iommuMap(d, 0x100_0000, buf, 33 * SZ_4K, RW)).toBe(0);
      for (let i = 0; i < 33; i++) r.dmas[0]!.checksum(0x100_0000 + i * SZ_4K, 4);
      const before = r.model.stats.commands.TLBI_NH_VA ?? 0;
      expect(iommuUnmap(d, 0x100_0000, 33 * SZ_4K)).toBe(33 * SZ_4K);
      const issued = (r.model.stats.commands.TLBI_NH_VA ?? 0) - before;
      // 33 pages: NUM 0 SCALE 0 (1 page) + NUM 0 SCALE 5 (32 pages) with RIL; 33 commands without.
      expect(issued).toBe(preset === 'qemu' ? 2 : 33);
      for (let i = 0; i < 33; i++) expect(faulted(r.dmas[0]!.checksum(0x100_0000 + i * SZ_4K, 4))).toBe(true);
    }
  });
});

describe('stream IDs', () => {
  it('a master whose SID is out of range is refused and stays untranslated by any domain', () => {
    const r = boot({ preset: 'minimal', sids: [0x10, 0x11, 0x1234] });
    rigs.push(r);
    expect(r.k.log.grep('out of range').length).toBe(1);
    expect(iommuGetDomainForDev(r.masters[2]!)).toBeUndefined();
    expect(iommuGetDomainForDev(r.masters[0]!)).toBeDefined();
    expect(r.smmu.masterForSid(0x1234)).toBeUndefined();
    expect(SIDS.slice(0, 2).every((s) => r.smmu.masterForSid(s) !== undefined)).toBe(true);
  });
});
