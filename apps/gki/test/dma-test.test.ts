import { describe, expect, it } from 'vitest';
import {
  createDefaultBoard,
  DMA_CMD_COPY,
  DMA_ID_VALUE,
  DMA_IRQ_DONE,
  DMA_IRQ_FAULT,
  DMA_REG_CMD,
  DMA_REG_DST_HI,
  DMA_REG_DST_LO,
  DMA_REG_FAULT_ADDR_HI,
  DMA_REG_FAULT_ADDR_LO,
  DMA_REG_ID,
  DMA_REG_IRQ_ACK,
  DMA_REG_IRQ_STATUS,
  DMA_REG_LEN,
  DMA_REG_SRC_HI,
  DMA_REG_SRC_LO,
  DMA_REG_STATUS,
  DMA_REG_STREAM_ID,
  DMA_REG_XFER_COUNT,
  DMA_STATUS_DONE,
  DMA_STATUS_FAULT,
  DMA_STATUS_FAULT_BUS,
  DMA_STATUS_FAULT_WRITE,
  DmaMaster,
  SmmuV3,
  type Board,
} from '@gki/hw';
import { ioPgtableCoreModule } from '@gki/io-pgtable-core';
import ioPgtableArm from '@gki/format-arm-lpae';
import armSmmuV3 from '@gki/smmu-v3';
import {
  ENODEV,
  IOMMU_FAULT_WRITE,
  Kernel,
  dmaDebugEntries,
  iommuGetDomainForDev,
  type Device,
  type KernelImage,
} from '@gki/kernel';
import {
  DMA_TEST_CMD_COPY,
  DMA_TEST_FAULT_ADDR,
  DMA_TEST_ID,
  DMA_TEST_IRQ_DONE,
  DMA_TEST_IRQ_FAULT,
  DMA_TEST_REG,
  DMA_TEST_STATUS_DONE,
  DMA_TEST_STATUS_FAULT,
  DMA_TEST_STATUS_FAULT_BUS,
  DMA_TEST_STATUS_FAULT_WRITE,
  dmaTestChannel,
  dmaTestModule,
  dmaTestRun,
} from '../src/drivers/dma-test.js';

const MASTERS = ['a000000.dma', 'a001000.dma', 'a002000.dma'] as const;

function masters(k: Kernel): Device[] {
  return MASTERS.map((n) => {
    const d = k.drivers.findDevice(n);
    if (!d) throw new Error(`no ${n}`);
    return d;
  });
}

function errors(k: Kernel): string[] {
  return k.log.all().filter((r) => r.level === 'err' || r.level === 'crit').map((r) => `${r.who}: ${r.msg}`);
}

/** The DMA-only image: no IOMMU driver at all. */
function directImage(): KernelImage {
  return { builtin: [ioPgtableCoreModule], modules: [dmaTestModule], load: ['gki_dma_test'] };
}

/** The gki boot image minus the v7s format: the masters' driver first, then the SMMUv3 driver. */
function smmuImage(): KernelImage {
  return {
    builtin: [ioPgtableCoreModule],
    modules: [ioPgtableArm, armSmmuV3, dmaTestModule],
    load: ['gki_dma_test', 'arm_smmu_v3'],
  };
}

function engines(board: Board): DmaMaster[] {
  return board.modelsOfType(DmaMaster);
}

describe('gki_dma_test module', () => {
  it('describes itself and uses the engine register map the hardware documents', () => {
    expect(dmaTestModule.name).toBe('gki_dma_test');
    expect(dmaTestModule.license).toBe('GPL v2');
    expect(dmaTestModule.aliases).toEqual(['of:N*T*Cgki,dma-master']);
    expect(DMA_TEST_REG).toEqual({
      ID: DMA_REG_ID,
      STREAM_ID: DMA_REG_STREAM_ID,
      SRC_LO: DMA_REG_SRC_LO,
      SRC_HI: DMA_REG_SRC_HI,
      DST_LO: DMA_REG_DST_LO,
      DST_HI: DMA_REG_DST_HI,
      LEN: DMA_REG_LEN,
      CMD: DMA_REG_CMD,
      STATUS: DMA_REG_STATUS,
      FAULT_ADDR_LO: DMA_REG_FAULT_ADDR_LO,
      FAULT_ADDR_HI: DMA_REG_FAULT_ADDR_HI,
      IRQ_STATUS: DMA_REG_IRQ_STATUS,
      IRQ_ACK: DMA_REG_IRQ_ACK,
      XFER_COUNT: DMA_REG_XFER_COUNT,
    });
    expect([DMA_TEST_ID, DMA_TEST_CMD_COPY, DMA_TEST_IRQ_DONE, DMA_TEST_IRQ_FAULT]).toEqual([DMA_ID_VALUE, DMA_CMD_COPY, DMA_IRQ_DONE, DMA_IRQ_FAULT]);
    expect([DMA_TEST_STATUS_DONE, DMA_TEST_STATUS_FAULT, DMA_TEST_STATUS_FAULT_WRITE, DMA_TEST_STATUS_FAULT_BUS]).toEqual([
      DMA_STATUS_DONE,
      DMA_STATUS_FAULT,
      DMA_STATUS_FAULT_WRITE,
      DMA_STATUS_FAULT_BUS,
    ]);
  });
});

describe('dma-test on the default board without its SMMU (direct DMA)', () => {
  it('binds every master, copies through the DMA API and reports a bus error at a bad address', () => {
    const board = createDefaultBoard({ smmu: false });
    const k = Kernel.boot(board, directImage());
    const devs = masters(k);
    for (const d of devs) {
      expect(d.driver?.name).toBe('dma-test');
      expect(dmaTestChannel(d)).toBeDefined();
    }
    const start = k.pages.stats().pagesInUse;
    const eng = engines(board)[1]!;
    const movedBefore = eng.bytesMoved;
    const r = dmaTestRun(devs[1]!, { len: 5000 });
    expect(r).toMatchObject({ dev: 'a001000.dma', err: 0, len: 5000, translated: false, copyOk: true, faultOk: true, freed: true, ok: true });
    // direct mapping: the DMA addresses are RAM physical addresses
    expect(r.srcDma).toBeGreaterThanOrEqual(0x4000_0000);
    expect(r.dstDma).toBeGreaterThanOrEqual(0x4000_0000);
    // the engine itself moved the bytes (the copy; the faulting command moved none)
    expect(eng.bytesMoved - movedBefore).toBe(5000);
    expect(eng.translated).toBe(false);
    const f = r.fault!;
    expect(f.addr).toBe(DMA_TEST_FAULT_ADDR);
    expect(f.faultAddr).toBe(DMA_TEST_FAULT_ADDR);
    expect(f.status).toBe(DMA_STATUS_FAULT | DMA_STATUS_FAULT_WRITE | DMA_STATUS_FAULT_BUS);
    expect(f.irq).toBe(true);
    expect(f.iommu).toBeUndefined();
    expect(eng.irqPending).toBe(0); // the handler acknowledged everything
    expect(k.log.grep(/copy of 5000 bytes via PA 0x[0-9a-f]+ -> 0x[0-9a-f]+ \(direct DMA\) ok/)).toHaveLength(1);
    expect(k.log.grep(/deliberate fault at 0xdead0000: engine reports write bus error at 0xdead0000$/)).toHaveLength(1);
    // buffers freed: no live DMA mapping, allocator where it was
    expect(dmaDebugEntries(devs[1]!)).toEqual([]);
    expect(k.pages.stats().pagesInUse).toBe(start);
    expect(errors(k)).toEqual([]);
  });

  it('fails the copy check when the engine does not do the copy', () => {
    const board = createDefaultBoard({ smmu: false });
    const k = Kernel.boot(board, directImage());
    const dev = masters(k)[0]!;
    // Abort every transfer of master 0 with a translation fault, as an IOMMU that maps nothing would.
    engines(board)[0]!.setTranslator(() => false);
    const start = k.pages.stats().pagesInUse;
    const r = dmaTestRun(dev, { noFault: true });
    expect(r.copyOk).toBe(false);
    expect(r.ok).toBe(false);
    expect(r.err).toBeLessThan(0);
    expect(r.freed).toBe(true);
    expect(k.log.grep(/copy of \d+ bytes .* FAILED: status 0x4/)).toHaveLength(1);
    expect(k.pages.stats().pagesInUse).toBe(start);
  });

  it('answers -ENODEV for a device the driver does not drive, allocating nothing', () => {
    const board = createDefaultBoard({ smmu: false });
    const k = Kernel.boot(board, { builtin: [ioPgtableCoreModule], modules: [dmaTestModule], load: [] });
    const dev = masters(k)[0]!;
    expect(dev.driver).toBeNull();
    const r = dmaTestRun(dev);
    expect(r.err).toBe(-ENODEV);
    expect(r.ok).toBe(false);
    expect(k.pages.stats().pagesInUse).toBe(0);
    // after modprobe the same device works, and rmmod unbinds it again
    expect(k.modules.modprobe('gki_dma_test')).toBe(0);
    expect(dmaTestRun(dev, { len: 64 }).ok).toBe(true);
    expect(k.modules.unload('gki_dma_test')).toBe(0);
    expect(dev.driver).toBeNull();
    expect(dmaTestRun(dev).err).toBe(-ENODEV);
  });

  it('without the SMMUv3 driver in the image, the masters behind it wait for the timeout, then do direct DMA', () => {
    const board = createDefaultBoard();
    const k = Kernel.boot(board, directImage());
    const devs = masters(k);
    for (const d of devs) expect(d.driver?.name).toBe('dma-test');
    expect(k.drivers.findDevice('2b400000.iommu')?.driver).toBeNull();
    for (const d of devs) expect(iommuGetDomainForDev(d)).toBeUndefined();
    // the SMMU model is in reset (SMMUEN = 0, GBPA bypass): DMA passes untranslated
    const r = dmaTestRun(devs[0]!);
    expect(r).toMatchObject({ translated: false, copyOk: true, faultOk: true, ok: true });
    expect(r.fault!.status & DMA_STATUS_FAULT_BUS).toBe(DMA_STATUS_FAULT_BUS);
    expect(board.modelsOfType(SmmuV3)[0]!.stats.translations).toBeGreaterThan(0);
    expect(k.pages.stats().pagesInUse).toBe(0);
  });
});

describe('dma-test on the default board with the SMMUv3 driver', () => {
  it('probes the masters behind the SMMU after it, with DMA domains; master 2 stays direct', () => {
    const board = createDefaultBoard();
    const k = Kernel.boot(board, smmuImage());
    const devs = masters(k);
    const log = k.log.all().map((r) => `${r.who}: ${r.msg}`);
    const smmuUp = log.findIndex((l) => l.startsWith('arm-smmu-v3 2b400000.iommu:'));
    const probed = (n: string) => log.findIndex((l) => l.startsWith(`dma-test ${n}: DMA engine`));
    expect(smmuUp).toBeGreaterThanOrEqual(0);
    expect(probed('a002000.dma')).toBeLessThan(smmuUp); // no IOMMU to wait for
    expect(probed('a000000.dma')).toBeGreaterThan(smmuUp);
    expect(probed('a001000.dma')).toBeGreaterThan(smmuUp);
    expect(iommuGetDomainForDev(devs[0]!)?.type).toBe('dma');
    expect(iommuGetDomainForDev(devs[1]!)?.type).toBe('dma');
    expect(iommuGetDomainForDev(devs[2]!)).toBeUndefined();
    // the model side: masters 0 and 1 sit behind the SMMUv3, 3 and 4 behind the MMU-500 (whose
    // driver is not in this image: they probe untranslated after the deferred-probe timeout)
    expect(engines(board).map((e) => e.translated)).toEqual([true, true, false, true, true]);
    expect(errors(k)).toEqual([]);
  });

  it('copies through IOVAs, gets the fault reported by the IOMMU core, and leaks nothing once everything is unloaded', () => {
    const board = createDefaultBoard();
    const k = Kernel.boot(board, smmuImage());
    const smmu = board.modelsOfType(SmmuV3)[0]!;
    const devs = masters(k);
    const events = smmu.stats.events;
    const r = dmaTestRun(devs[0]!);
    expect(r).toMatchObject({ translated: true, copyOk: true, faultOk: true, freed: true, ok: true, err: 0 });
    // IOVAs of the DMA domain, not the buffers' physical addresses (RAM is at 1..2 GiB)
    expect(r.srcDma).toBeGreaterThanOrEqual(0x8000_0000);
    expect(r.dstDma).toBeGreaterThanOrEqual(0x8000_0000);
    const f = r.fault!;
    expect(f.status).toBe(DMA_STATUS_FAULT | DMA_STATUS_FAULT_WRITE); // a translation fault, not a bus error
    expect(f.faultAddr).toBe(DMA_TEST_FAULT_ADDR);
    expect(f.iommu).toEqual({ iova: DMA_TEST_FAULT_ADDR, flags: IOMMU_FAULT_WRITE });
    expect(smmu.stats.events).toBe(events + 1);
    expect(k.log.grep(/copy of \d+ bytes via IOVA 0x[0-9a-f]+ -> 0x[0-9a-f]+ ok$/)).toHaveLength(1);
    expect(k.log.grep(/IOMMU fault handler: write at IOVA 0xdead0000$/)).toHaveLength(1);
    // handled through the IOMMU core: the SMMU driver logged no unhandled event, and the
    // test's handler is gone again
    expect(errors(k)).toEqual([]);
    expect(k.iommu.snapshot().domains.every((d) => !d.handler)).toBe(true);
    expect(dmaDebugEntries(devs[0]!)).toEqual([]);

    // Unload: the driver goes, then the devices, then the SMMU driver and the format.
    expect(k.modules.unload('gki_dma_test')).toBe(0);
    for (const d of devs) expect(d.driver).toBeNull();
    expect(k.modules.unload('arm_smmu_v3')).toBeLessThan(0); // the masters still hold it
    const soc = k.drivers.findDevice('soc')!;
    k.of.platformDepopulate(soc);
    expect(k.modules.unload('arm_smmu_v3')).toBe(0);
    expect(k.modules.unload('io-pgtable-arm')).toBe(0);
    expect(k.pages.stats().pagesInUse).toBe(0);
    expect(errors(k)).toEqual([]);
  });

  it('gives each translated master its own IOVA space and data', () => {
    const board = createDefaultBoard();
    const k = Kernel.boot(board, smmuImage());
    const devs = masters(k);
    const a = dmaTestRun(devs[0]!, { len: 4096, noFault: true });
    const b = dmaTestRun(devs[1]!, { len: 4096, noFault: true });
    expect(a.ok && b.ok).toBe(true);
    // separate domains hand out the same IOVAs for different pages
    expect(a.srcDma).toBe(b.srcDma);
    expect(engines(board)[0]!.faults + engines(board)[1]!.faults).toBe(0);
  });
});
