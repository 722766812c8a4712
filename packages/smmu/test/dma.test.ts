import { afterEach, describe, expect, it } from 'vitest';
import { DMA_STATUS_DONE, DMA_STATUS_FAULT, DMA_STATUS_FAULT_WRITE, prop } from '@gki/hw';
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
  iommuEnableNesting,
  iommuGetDomainForDev,
  iommuIovaToPhys,
  iommuMap,
  iommuSetFaultHandler,
  iommuUnmap,
  type Device,
  type IommuDomain,
  type KernelArchName,
} from '@gki/kernel';
import { asArmSmmuDomain, armSmmuMasterOf } from '../src/index.js';
import { SMMU_BASE, boot, buffer, domain, pattern, type Rig, type RigOptions } from './rig.js';

const RW = IOMMU_READ | IOMMU_WRITE;
const SZ_4K = 0x1000;
const SZ_1M = 0x10_0000;
const SZ_2M = 0x20_0000;
/** Architected context bank register offsets (IHI 0062): FSR, FAR, FSYNR0. */
const CB_FSR = 0x58;
const CB_FAR = 0x60;
const CB_FSYNR0 = 0x68;
const FSR_TF = 1 << 1;
const FSR_PF = 1 << 3;
const FSYNR0_WNR = 1 << 4;

const ok = (st: number) => (st & (DMA_STATUS_DONE | DMA_STATUS_FAULT)) === DMA_STATUS_DONE;
const faulted = (st: number) => (st & DMA_STATUS_FAULT) !== 0;

interface FaultSeen {
  iova: number;
  flags: number;
  dev: string;
  cb: number;
  fsr: number;
  far: number;
  fsynr0: number;
}

function cbReg(r: Rig, cb: number, off: number): number {
  return r.board.bus.read32(SMMU_BASE + r.model.contextBankOffset(cb) + off) >>> 0;
}

/** Installs a handler that records each fault with the bank's registers as the handler sees them. */
function recordFaults(r: Rig, d: IommuDomain): FaultSeen[] {
  const seen: FaultSeen[] = [];
  iommuSetFaultHandler(d, (dom, dev, iova, flags) => {
    const cb = asArmSmmuDomain(dom)!.cfg.cbndx;
    seen.push({
      iova,
      flags,
      dev: dev.name,
      cb,
      fsr: cbReg(r, cb, CB_FSR),
      far: cbReg(r, cb, CB_FAR + 4) * 2 ** 32 + cbReg(r, cb, CB_FAR),
      fsynr0: cbReg(r, cb, CB_FSYNR0),
    });
    return 0;
  });
  return seen;
}

interface FormatCase {
  name: string;
  arch: KernelArchName;
  nesting: boolean;
  fmt: string;
  stage: string;
  /** The largest block the format maps, for the block test. */
  block: number;
  smmuProps?: RigOptions['smmuProps'];
}

const CASES: FormatCase[] = [
  { name: 'AArch64 stage 1', arch: 'arm64', nesting: false, fmt: 'ARM_64_LPAE_S1', stage: 's1', block: SZ_2M },
  { name: 'AArch64 stage 2 (a nesting request)', arch: 'arm64', nesting: true, fmt: 'ARM_64_LPAE_S2', stage: 'nested', block: SZ_2M },
  {
    name: 'AArch64 stage 2 on a stage-2-only SMMU',
    arch: 'arm64',
    nesting: false,
    fmt: 'ARM_64_LPAE_S2',
    stage: 's2',
    block: SZ_2M,
    smmuProps: [prop.empty('gki,no-stage1')],
  },
  { name: 'AArch32 long-descriptor stage 1', arch: 'arm-lpae', nesting: false, fmt: 'ARM_32_LPAE_S1', stage: 's1', block: SZ_2M },
  { name: 'AArch32 long-descriptor stage 2', arch: 'arm-lpae', nesting: true, fmt: 'ARM_32_LPAE_S2', stage: 'nested', block: SZ_2M },
  { name: 'AArch32 short-descriptor stage 1', arch: 'arm', nesting: false, fmt: 'ARM_V7S', stage: 's1', block: SZ_1M },
  { name: 'stage 2 on a short-descriptor kernel (AArch32 long)', arch: 'arm', nesting: true, fmt: 'ARM_32_LPAE_S2', stage: 'nested', block: SZ_2M },
];

let rigs: Rig[] = [];
afterEach(() => {
  // every fault the model recorded was consumed: no bank left with FSR fault bits
  for (const r of rigs) for (let cb = 0; cb < r.smmu.numContextBanks; cb++) expect(cbReg(r, cb, CB_FSR) & 0x1fe).toBe(0);
  rigs = [];
});

function setup(c: FormatCase): { r: Rig; d: IommuDomain; dev: Device } {
  const r = boot({ arch: c.arch, smmuProps: c.smmuProps });
  rigs.push(r);
  const dev = r.masters[0]!;
  const d = domain(dev);
  if (c.nesting) expect(iommuEnableNesting(d)).toBe(0);
  expect(iommuAttachDevice(d, dev)).toBe(0);
  return { r, d, dev };
}

describe.each(CASES)('$name', (c) => {
  it(`uses ${c.fmt} and DMA reaches exactly what was mapped`, () => {
    const { r, d } = setup(c);
    const sd = asArmSmmuDomain(d)!;
    expect(sd.fmt).toBe(c.fmt);
    expect(sd.stage).toBe(c.stage);
    const src = buffer(r.k);
    const dst = buffer(r.k, 1);
    pattern(r.k, src, SZ_4K, 1);
    expect(iommuMap(d, 0x10_0000, src, SZ_4K, RW)).toBe(0);
    // two scattered pages, swapped: the second IOVA page is the first physical page
    expect(iommuMap(d, 0x40_0000, dst + SZ_4K, SZ_4K, RW)).toBe(0);
    expect(iommuMap(d, 0x40_1000, dst, SZ_4K, RW)).toBe(0);
    expect(iommuIovaToPhys(d, 0x40_0123)).toBe(dst + SZ_4K + 0x123);
    const dma = r.dmas[0]!;
    expect(ok(dma.copy(0x10_0000, 0x40_0800, SZ_4K))).toBe(true);
    expect(r.k.mem.readBytes(dst + SZ_4K + 0x800, 0x800)).toEqual(r.k.mem.readBytes(src, 0x800));
    expect(r.k.mem.readBytes(dst, 0x800)).toEqual(r.k.mem.readBytes(src + 0x800, 0x800));
    // nothing else was written: the rest of dst is still zero
    expect(r.k.mem.readBytes(dst + 0x800, 0x800).every((b) => b === 0)).toBe(true);
    expect(r.k.mem.readBytes(dst + SZ_4K, 0x800).every((b) => b === 0)).toBe(true);
    // the pages next to the mappings are not reachable
    expect(faulted(dma.fill(0x40_2000, 4, 1))).toBe(true);
    expect(faulted(dma.checksum(0x0f_f000, 4))).toBe(true);
    // a block mapping (2 MiB, or a 1 MiB section for the short format)
    const order = Math.log2(c.block / SZ_4K);
    const blk = buffer(r.k, order);
    expect(iommuMap(d, 0x80_0000 + (c.block === SZ_1M ? SZ_1M : 0), blk, c.block, RW)).toBe(0);
    const at = 0x80_0000 + (c.block === SZ_1M ? SZ_1M : 0);
    expect(ok(dma.fill(at + c.block - 0x2000, 0x2000, 0xc0de_0001))).toBe(true);
    expect(r.k.mem.read32(blk + c.block - 4)).toBe(0xc0de_0001);
    expect(r.k.mem.read32(blk + c.block - 0x2004)).toBe(0);
    // unmapping makes the IOVA fault again (the driver invalidated the model's TLB)
    expect(iommuUnmap(d, 0x10_0000, SZ_4K)).toBe(SZ_4K);
    expect(faulted(dma.checksum(0x10_0000, 4))).toBe(true);
  });

  it('a fault lands in the domain context bank with FSR/FAR/FSYNR0 and reaches the IOMMU core handler', () => {
    const { r, d, dev } = setup(c);
    const seen = recordFaults(r, d);
    const cb = asArmSmmuDomain(d)!.cfg.cbndx;
    const buf = buffer(r.k);
    expect(iommuMap(d, 0x20_0000, buf, SZ_4K, IOMMU_READ)).toBe(0);
    // an unmapped write: translation fault
    const st = r.dmas[0]!.copy(0x20_0000, 0x30_0010, 16);
    expect(faulted(st) && (st & DMA_STATUS_FAULT_WRITE) !== 0).toBe(true);
    // a write to a read-only page: permission fault
    expect(faulted(r.dmas[0]!.fill(0x20_0100, 4, 7))).toBe(true);
    // an unmapped read
    expect(faulted(r.dmas[0]!.checksum(0x50_0000, 4))).toBe(true);
    expect(seen).toEqual([
      { iova: 0x30_0010, flags: IOMMU_FAULT_WRITE, dev: dev.name, cb, fsr: expect.any(Number), far: 0x30_0010, fsynr0: expect.any(Number) },
      { iova: 0x20_0100, flags: IOMMU_FAULT_WRITE, dev: dev.name, cb, fsr: expect.any(Number), far: 0x20_0100, fsynr0: expect.any(Number) },
      { iova: 0x50_0000, flags: IOMMU_FAULT_READ, dev: dev.name, cb, fsr: expect.any(Number), far: 0x50_0000, fsynr0: expect.any(Number) },
    ]);
    expect(seen.map((s) => s.fsr & (FSR_TF | FSR_PF))).toEqual([FSR_TF, FSR_PF, FSR_TF]);
    expect(seen.map((s) => s.fsynr0 & FSYNR0_WNR)).toEqual([FSYNR0_WNR, FSYNR0_WNR, 0]);
    expect(r.smmu.stats.contextFaults).toBe(3);
    expect(r.smmu.stats.contextFaultsUnhandled).toBe(0);
    // the handler took them: nothing logged
    expect(r.k.log.grep('Unhandled context fault')).toHaveLength(0);
  });

  it('without a handler the fault is logged as Linux logs it', () => {
    const { r, d } = setup(c);
    const cb = asArmSmmuDomain(d)!.cfg.cbndx;
    expect(faulted(r.dmas[0]!.fill(0x12_3000, 4, 1))).toBe(true);
    const lines = r.k.log.grep('Unhandled context fault');
    expect(lines).toHaveLength(1);
    expect(lines[0]!.msg).toMatch(new RegExp(`^Unhandled context fault: fsr=0x[0-9a-f]+, iova=0x00123000, fsynr=0x[0-9a-f]+, cbfrsynra=0x10, cb=${cb}$`));
    expect(lines[0]!.who).toBe('arm-smmu 2b400000.iommu');
  });
});

describe('stage-2 domains isolate VMIDs', () => {
  it('the same IPA in two stage-2 domains reaches two different pages, and invalidating one leaves the other', () => {
    const r = boot();
    rigs.push(r);
    const [m0, m1] = r.masters;
    const d0 = domain(m0!);
    const d1 = domain(m1!);
    expect(iommuEnableNesting(d0)).toBe(0);
    expect(iommuEnableNesting(d1)).toBe(0);
    expect(iommuAttachDevice(d0, m0!)).toBe(0);
    expect(iommuAttachDevice(d1, m1!)).toBe(0);
    const v0 = asArmSmmuDomain(d0)!.cfg.vmid;
    const v1 = asArmSmmuDomain(d1)!.cfg.vmid;
    expect(v0).not.toBe(v1);
    expect([v0, v1]).toEqual([asArmSmmuDomain(d0)!.cfg.cbndx + 1, asArmSmmuDomain(d1)!.cfg.cbndx + 1]);
    const p0 = buffer(r.k);
    const p1 = buffer(r.k);
    expect(iommuMap(d0, 0x7000_0000, p0, SZ_4K, RW)).toBe(0);
    expect(iommuMap(d1, 0x7000_0000, p1, SZ_4K, RW)).toBe(0);
    expect(ok(r.dmas[0]!.fill(0x7000_0000, 4, 0xaaaa_0000))).toBe(true);
    expect(ok(r.dmas[1]!.fill(0x7000_0000, 4, 0xbbbb_1111))).toBe(true);
    expect(r.k.mem.read32(p0)).toBe(0xaaaa_0000);
    expect(r.k.mem.read32(p1)).toBe(0xbbbb_1111);
    // master 0 cannot reach domain 1's page through its IPA space
    expect(iommuUnmap(d0, 0x7000_0000, SZ_4K)).toBe(SZ_4K);
    expect(faulted(r.dmas[0]!.fill(0x7000_0000, 4, 1))).toBe(true);
    // and domain 1's translation is untouched by domain 0's invalidation (a TLB hit)
    const hits = r.model.stats.tlbHits;
    expect(ok(r.dmas[1]!.fill(0x7000_0000, 4, 0xbbbb_2222))).toBe(true);
    expect(r.model.stats.tlbHits).toBe(hits + 1);
    expect(r.k.mem.read32(p1)).toBe(0xbbbb_2222);
  });
});

describe('identity, blocked and default DMA domains', () => {
  it('identity bypasses, blocked aborts, and the DMA API maps through the default domain', () => {
    const r = boot();
    rigs.push(r);
    const m = r.masters[0]!;
    const def = iommuGetDomainForDev(m)!;
    expect(def.type).toBe('dma');
    expect(asArmSmmuDomain(def)!.fmt).toBe('ARM_64_LPAE_S1');
    const buf = buffer(r.k);
    const iova = dmaMapSingle(m, buf, SZ_4K, DMA_BIDIRECTIONAL);
    expect(iova).toBeGreaterThan(0);
    expect(ok(r.dmas[0]!.fill(iova, SZ_4K, 0x5a5a_a5a5))).toBe(true);
    expect(r.k.mem.read32(buf + 0xffc)).toBe(0x5a5a_a5a5);

    const id = iommuDomainAlloc(m, 'identity');
    if (typeof id === 'number') throw new Error(String(id));
    expect(iommuAttachDevice(id, m)).toBe(0);
    expect(ok(r.dmas[0]!.fill(buf, 4, 0x1d1d_1d1d))).toBe(true); // the PA itself
    expect(r.k.mem.read32(buf)).toBe(0x1d1d_1d1d);
    expect(iommuIovaToPhys(id, 0x1234_5000)).toBe(0x1234_5000);
    expect(iommuDetachDevice(id, m)).toBe(0);
    expect(iommuDomainFree(id)).toBe(0);

    const blocked = iommuDomainAlloc(m, 'blocked');
    if (typeof blocked === 'number') throw new Error(String(blocked));
    expect(iommuAttachDevice(blocked, m)).toBe(0);
    const faults = r.model.stats.contextFaults;
    expect(faulted(r.dmas[0]!.fill(buf, 4, 1))).toBe(true);
    expect(r.model.stats.contextFaults).toBe(faults); // an S2CR fault: no context fault
    expect(iommuDetachDevice(blocked, m)).toBe(0);
    // back on the default domain, the DMA API mapping works again
    expect(ok(r.dmas[0]!.fill(iova, 4, 0x600d_600d))).toBe(true);
    expect(r.k.mem.read32(buf)).toBe(0x600d_600d);
    expect(iommuDomainFree(blocked)).toBe(0);
  });

  it('two masters whose SIDs differ only in masked bits share one SMR, one group and one domain', () => {
    const r = boot({ iommuCells: 2, iommus: [[0x40, 0x3], [0x42, 0], [0x80, 0]] });
    rigs.push(r);
    const [a, b] = r.masters;
    expect(armSmmuMasterOf(a!)!.smendx).toEqual(armSmmuMasterOf(b!)!.smendx);
    const idx = armSmmuMasterOf(a!)!.smendx[0]!;
    // the SMR as the hardware holds it: ID 0x40, MASK 0x3, VALID
    expect(r.board.bus.read32(SMMU_BASE + 0x800 + 4 * idx) >>> 0).toBe((0x8000_0000 | (0x3 << 16) | 0x40) >>> 0);
    expect(iommuGetDomainForDev(a!)).toBe(iommuGetDomainForDev(b!));
    const d = iommuGetDomainForDev(a!)!;
    const buf = buffer(r.k);
    expect(iommuMap(d, 0x9000_0000, buf, SZ_4K, RW)).toBe(0);
    expect(ok(r.dmas[0]!.fill(0x9000_0000, 4, 0x1111_1111))).toBe(true);
    expect(ok(r.dmas[1]!.fill(0x9000_0004, 4, 0x2222_2222))).toBe(true);
    expect([r.k.mem.read32(buf), r.k.mem.read32(buf + 4)]).toEqual([0x1111_1111, 0x2222_2222]);
    // one stream map entry for two masters: the model resolved both SIDs to it
    expect(r.smmu.smrs!.filter((s) => s.valid)).toHaveLength(2);
  });
});
