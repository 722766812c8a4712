import { describe, expect, it } from 'vitest';
import { DMA_STATUS_BUSY, DMA_STATUS_DONE, DMA_STATUS_FAULT, DMA_STATUS_STALLED, DmaMaster, node, prop, ref } from '@gki/hw';
import ioPgtableArm from '@gki/format-arm-lpae';
import { IO_PGTABLE_QUIRK_ARM_TTBR1, ioPgtableCoreModule } from '@gki/io-pgtable-core';
import {
  EAGAIN,
  EINVAL,
  ERANGE,
  IOMMU_FAULT_READ,
  IOMMU_FAULT_WRITE,
  IOMMU_READ,
  IOMMU_WRITE,
  adrenoSmmuPrivGet,
  iommuFlushIotlbAll,
  iommuGetDomainForDev,
  iommuMap,
  iommuUnmap,
  type Device,
} from '@gki/kernel';
import armSmmu, { asArmSmmuDomain } from '../src/index.js';
import { freeProcess, gpuModule, newProcess, type FakeGpu } from './fake-gpu.js';
import { SMMU_BASE, boot, buffer, dmaTestModule, type Rig } from './rig.js';

const RW = IOMMU_READ | IOMMU_WRITE;
const SZ_4K = 0x1000;
/** The GPU's upstream bus carries 49 address bits; the SMMU sign-extends from bit 48 (TCR2.SEP). */
const UPSTREAM = 2 ** 49;
const CB_SCTLR = 0x0;
const SCTLR_CFCFG = 1 << 7;
const SCTLR_HUPCF = 1 << 8;
const GPU_NAME = 'a100000.gpu';

interface AdrenoRig extends Rig {
  gpus: FakeGpu[];
  gpu: FakeGpu;
  gpuDma: DmaMaster;
}

/**
 * The Adreno SMMU of an sdm845-like GPU subsystem: the SMMU node as sdm845.dtsi has it
 * (qcom,sdm845-smmu-v2 / qcom,adreno-smmu / qcom,smmu-v2, two global interrupts), a GPU
 * (qcom,adreno, stream ID 0) that is also a DMA engine of the board, and the board's DMA
 * masters with stream IDs 5 (like the GMU), 0x10, 0x11.
 */
function adrenoRig(): AdrenoRig {
  const gpus: FakeGpu[] = [];
  const r = boot({
    compatible: ['qcom,sdm845-smmu-v2', 'qcom,adreno-smmu', 'qcom,smmu-v2'],
    globalIrqs: 2,
    iommus: [[5], [0x10], [0x11]],
    extra: [
      node('gpu@a100000', [
        prop.strings('compatible', ['gki,dma-master', 'qcom,adreno-630.2', 'qcom,adreno']), // the board models it as a DMA engine (first match)
        prop.reg(1, 1, [0x0a10_0000, 0x1000]),
        prop.u32('interrupt-parent', ref('gic')),
        prop.cells('interrupts', 0, 40, 4),
        prop.cells('iommus', ref('smmu'), 0),
      ]),
    ],
    image: (probed) => ({
      builtin: [ioPgtableCoreModule],
      modules: [ioPgtableArm, armSmmu, dmaTestModule(probed), gpuModule(gpus)],
      load: ['arm_smmu', 'fake_adreno', 'dma_test'],
    }),
  });
  const gpuDma = r.board.models.get('/soc/gpu@a100000') as DmaMaster;
  expect(gpus).toHaveLength(1);
  return { ...r, gpus, gpu: gpus[0]!, gpuDma };
}

function cbReg(r: Rig, cb: number, off: number): number {
  return r.board.bus.read32(SMMU_BASE + r.model.contextBankOffset(cb) + off) >>> 0;
}

const done = (st: number) => (st & (DMA_STATUS_DONE | DMA_STATUS_FAULT)) === DMA_STATUS_DONE;

describe('the Qualcomm Adreno SMMU and its GPU interface', () => {
  it('gives the GPU context bank 0 with split tables and fills the interface; other masters use the other banks', () => {
    const r = adrenoRig();
    const gpuDev = r.k.drivers.findDevice(GPU_NAME)!;
    expect(gpuDev.state).toBe('bound');
    const d = asArmSmmuDomain(r.gpu.domain)!;
    expect(d.cfg.cbndx).toBe(0);
    expect(d.fmt).toBe('ARM_64_LPAE_S1');
    expect(d.geometry).toEqual({ apertureStart: -(2 ** 48), apertureEnd: -1, forceAperture: true });
    const t1 = r.gpu.priv.getTtbr1Cfg!(r.gpu.priv.cookie);
    expect(t1.quirks & IO_PGTABLE_QUIRK_ARM_TTBR1).toBe(IO_PGTABLE_QUIRK_ARM_TTBR1);
    expect(t1.armLpaeS1Cfg!.ttbr).toBeGreaterThan(0n);
    expect(adrenoSmmuPrivGet(gpuDev)).toBe(r.gpu.priv);
    // HUPCF keeps the GPU going after a fault; no stall until the GPU driver asks
    const sctlr = cbReg(r, 0, CB_SCTLR);
    expect(sctlr & SCTLR_HUPCF).toBe(SCTLR_HUPCF);
    expect(sctlr & SCTLR_CFCFG).toBe(0);
    // the GPU's default domain is an identity one (Qualcomm's client list), so bank 0 was free
    expect(r.k.iommu.snapshot().groups.find((g) => g.devices.includes(GPU_NAME))!.defaultDomain).not.toBeNull();
    // the DMA masters' default domains took banks 1.. (never 0)
    const banks = r.masters.map((m) => asArmSmmuDomain(iommuGetDomainForDev(m))!.cfg.cbndx);
    expect(banks.every((b) => b >= 1)).toBe(true);
    expect(new Set(banks).size).toBe(3);
  });

  it('kernel buffers live in the TTBR1 half: upper-half IOVAs are negative numbers', () => {
    const r = adrenoRig();
    const buf = buffer(r.k);
    const kva = -(2 ** 30); // 0xffff_ffff_c000_0000
    expect(iommuMap(r.gpu.domain, kva, buf, SZ_4K, RW)).toBe(0);
    expect(iommuMap(r.gpu.domain, 0x1000, buf, SZ_4K, RW)).toBe(-ERANGE); // the TTBR1 table has no lower half
    expect(done(r.gpuDma.fill(UPSTREAM + kva + 0x10, 4, 0xfeed_f00d))).toBe(true);
    expect(r.k.mem.read32(buf + 0x10)).toBe(0xfeed_f00d);
    // unmap invalidates by VA in the upper half (TLBIVAL with VA[55:12]): the access faults again
    expect(iommuUnmap(r.gpu.domain, kva, SZ_4K)).toBe(SZ_4K);
    expect(r.gpuDma.fill(UPSTREAM + kva + 0x10, 4, 1) & DMA_STATUS_FAULT).toBeTruthy();
    expect(r.gpu.faults.map((f) => f.iova)).toEqual([kva + 0x10]);
  });

  it('per-process tables go into TTBR0; switching them needs the TLB flush the GPU driver asks for', () => {
    const r = adrenoRig();
    const { priv } = r.gpu;
    const p1 = newProcess(r.k, r.gpu);
    const p2 = newProcess(r.k, r.gpu);
    if (typeof p1 === 'number' || typeof p2 === 'number') throw new Error('process tables');
    const pa1 = buffer(r.k);
    const pa2 = buffer(r.k);
    const mapped = { mapped: 0 };
    expect(p1.ops.mapPages(0x1000_0000, pa1, SZ_4K, 1, RW, mapped)).toBe(0);
    expect(p2.ops.mapPages(0x1000_0000, pa2, SZ_4K, 1, RW, mapped)).toBe(0);
    // before TTBR0 is enabled the lower half faults
    expect(r.gpuDma.fill(0x1000_0000, 4, 1) & DMA_STATUS_FAULT).toBeTruthy();
    expect(priv.setTtbr0Cfg!(priv.cookie, p1.cfg)).toBe(0);
    expect(priv.setTtbr0Cfg!(priv.cookie, p1.cfg)).toBe(-EINVAL); // already enabled
    expect(done(r.gpuDma.fill(0x1000_0000, 4, 0x1111_1111))).toBe(true);
    expect(r.k.mem.read32(pa1)).toBe(0x1111_1111);
    // the kernel half still translates
    const kbuf = buffer(r.k);
    expect(iommuMap(r.gpu.domain, -SZ_4K, kbuf, SZ_4K, RW)).toBe(0);
    expect(done(r.gpuDma.fill(UPSTREAM - SZ_4K, 4, 0x4b4b_4b4b))).toBe(true);
    expect(r.k.mem.read32(kbuf)).toBe(0x4b4b_4b4b);
    // switch to process 2 (same ASID): the model's TLB still holds process 1's entry ...
    expect(priv.setTtbr0Cfg!(priv.cookie, null)).toBe(0);
    expect(priv.setTtbr0Cfg!(priv.cookie, null)).toBe(-EINVAL); // already disabled
    expect(priv.setTtbr0Cfg!(priv.cookie, p2.cfg)).toBe(0);
    expect(done(r.gpuDma.fill(0x1000_0000, 4, 0x2222_2222))).toBe(true);
    expect(r.k.mem.read32(pa1)).toBe(0x2222_2222);
    expect(r.k.mem.read32(pa2)).toBe(0);
    // ... until the GPU driver flushes the context (TLBIASID)
    iommuFlushIotlbAll(r.gpu.domain);
    expect(done(r.gpuDma.fill(0x1000_0000, 4, 0x3333_3333))).toBe(true);
    expect(r.k.mem.read32(pa2)).toBe(0x3333_3333);
    expect(r.k.mem.read32(pa1)).toBe(0x2222_2222);
    // a TTBR1 configuration is no TTBR0 one
    expect(priv.setTtbr0Cfg!(priv.cookie, null)).toBe(0);
    expect(priv.setTtbr0Cfg!(priv.cookie, priv.getTtbr1Cfg!(priv.cookie))).toBe(-EINVAL);
    freeProcess(r.k, p1);
    freeProcess(r.k, p2);
  });

  it('get_fault_info reports the bank registers to the GPU fault handler', () => {
    const r = adrenoRig();
    const p = newProcess(r.k, r.gpu);
    if (typeof p === 'number') throw new Error(String(p));
    expect(r.gpu.priv.setTtbr0Cfg!(r.gpu.priv.cookie, p.cfg)).toBe(0);
    expect(r.gpuDma.fill(0x2000_0040, 4, 1) & DMA_STATUS_FAULT).toBeTruthy();
    expect(r.gpuDma.checksum(0x3000_0000, 4) & DMA_STATUS_FAULT).toBeTruthy();
    expect(r.gpu.faults.map((f) => [f.iova, f.flags])).toEqual([
      [0x2000_0040, IOMMU_FAULT_WRITE],
      [0x3000_0000, IOMMU_FAULT_READ],
    ]);
    const info = r.gpu.faults[0]!.info;
    expect(info.far).toBe(0x2000_0040n);
    expect(info.fsr & 0x2).toBe(0x2); // TF
    expect(info.fsynr0 & (1 << 4)).toBe(1 << 4); // WNR
    expect(info.cbfrsynra & 0xffff).toBe(0);
    expect(info.ttbr0 & 0x0000_ffff_ffff_f000n).toBe(BigInt.asUintN(64, p.cfg.armLpaeS1Cfg!.ttbr) & 0x0000_ffff_ffff_f000n);
    expect(r.smmu.stats.contextFaultsUnhandled).toBe(0);
  });

  it('with stalls enabled a faulting transaction waits: resume_translation(false) completes it, (true) aborts it', () => {
    const r = adrenoRig();
    const { priv } = r.gpu;
    const kva = -0x10_0000;
    priv.setStall!(priv.cookie, true);
    expect(cbReg(r, 0, CB_SCTLR) & SCTLR_CFCFG).toBe(SCTLR_CFCFG);
    // the GPU touches an unmapped kernel page: the transaction stalls, the fault handler runs
    let st = r.gpuDma.fill(UPSTREAM + kva, 8, 0x5741_4c4c);
    expect(st).toBe(DMA_STATUS_BUSY | DMA_STATUS_STALLED);
    expect(r.gpuDma.stalled).toBe(true);
    expect(r.model.stalledCount(0)).toBe(1);
    expect(r.gpu.faults).toHaveLength(1);
    // the GPU driver maps the page (as on a demand fault) and lets the transaction retry
    const buf = buffer(r.k);
    expect(iommuMap(r.gpu.domain, kva, buf, SZ_4K, RW)).toBe(0);
    priv.resumeTranslation!(priv.cookie, false);
    expect(r.gpuDma.statusValue & (DMA_STATUS_DONE | DMA_STATUS_STALLED)).toBe(DMA_STATUS_DONE);
    expect(r.k.mem.read32(buf + 4)).toBe(0x5741_4c4c);
    // another fault, terminated this time
    st = r.gpuDma.fill(UPSTREAM + kva + SZ_4K, 4, 1);
    expect(st & DMA_STATUS_STALLED).toBeTruthy();
    priv.resumeTranslation!(priv.cookie, true);
    expect(r.gpuDma.statusValue & DMA_STATUS_FAULT).toBeTruthy();
    expect(r.model.stalledCount(0)).toBe(0);
    expect(r.model.stats.retries).toBe(1);
    expect(r.model.stats.terminations).toBe(1);
    // stall off again: faults abort at once
    priv.setStall!(priv.cookie, false);
    expect(cbReg(r, 0, CB_SCTLR) & SCTLR_CFCFG).toBe(0);
    expect(r.gpuDma.fill(UPSTREAM + kva + 2 * SZ_4K, 4, 1)).toBe(DMA_STATUS_FAULT | (1 << 3));
  });

  it('a fault handler answering -EAGAIN has the driver retry the stalled transaction at once', () => {
    const r = adrenoRig();
    const { priv } = r.gpu;
    priv.setStall!(priv.cookie, true);
    const buf = buffer(r.k);
    r.gpu.onFault = (iova) => {
      expect(iommuMap(r.gpu.domain, iova - (((iova % SZ_4K) + SZ_4K) % SZ_4K), buf, SZ_4K, RW)).toBe(0);
      return -EAGAIN;
    };
    const kva = -0x20_0000;
    expect(done(r.gpuDma.fill(UPSTREAM + kva, 16, 0xa6a1_0000))).toBe(true);
    expect(r.k.mem.read32(buf + 12)).toBe(0xa6a1_0000);
    expect(r.smmu.stats.resumes).toBe(1);
    expect(r.model.stats.retries).toBe(1);
  });

  it('a stalled transaction holds TLB syncs; the driver reports the timeout and recovers once resumed', () => {
    const r = adrenoRig();
    const { priv } = r.gpu;
    priv.setStall!(priv.cookie, true);
    const buf = buffer(r.k);
    expect(iommuMap(r.gpu.domain, -0x40_0000, buf, SZ_4K, RW)).toBe(0);
    expect(r.gpuDma.fill(UPSTREAM - 0x30_0000, 4, 1) & DMA_STATUS_STALLED).toBeTruthy();
    const t0 = r.board.clock.now();
    expect(iommuUnmap(r.gpu.domain, -0x40_0000, SZ_4K)).toBe(SZ_4K); // its sync cannot finish
    expect(r.k.log.grep('TLB sync timed out -- SMMU may be deadlocked')).toHaveLength(1);
    expect(r.board.clock.now() - t0).toBeGreaterThanOrEqual(1e9); // Linux's 1 s, on the board clock
    priv.resumeTranslation!(priv.cookie, true);
    expect(r.smmu.tlbSyncContext(0)).toBe(0);
  });

  it('once the GPU driver goes, its context is torn down and the interface callbacks are withdrawn', () => {
    const r = adrenoRig();
    const priv = r.gpu.priv;
    const gpuDev: Device = r.gpu.dev;
    expect(r.k.modules.unload('fake_adreno')).toBe(0);
    expect(priv.setTtbr0Cfg).toBeNull();
    expect(priv.cookie).toBeNull();
    expect(adrenoSmmuPrivGet(gpuDev)).toBeUndefined();
    expect(r.smmu.contextMap[0]).toBe(false);
    expect(cbReg(r, 0, CB_SCTLR) & 1).toBe(0);
  });
});
