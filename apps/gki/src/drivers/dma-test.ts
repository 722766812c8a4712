/**
 * Module gki_dma_test: a platform driver for the board's `gki,dma-master` copy engines and a
 * self-test that drives one engine through the kernel's DMA API, the way a device driver
 * would: coherent buffers, bus addresses programmed into the engine's registers, completion
 * seen through its interrupt, and one deliberate fault on an address nothing maps.
 *
 * Behind an IOMMU the buffers' DMA addresses are IOVAs of the master's default DMA domain and
 * the fault reaches the IOMMU core's fault handler; without one (no `iommus`, or the IOMMU
 * driver never came) the DMA API maps directly, the DMA address is the physical address, and
 * the deliberate fault is a bus error reported by the engine alone.
 *
 * The driver knows the engine only through its registers (its own definitions below, as a
 * driver keeps its own register header); it never sees the hardware model.
 */
import {
  ENODEV,
  EIO,
  IOMMU_FAULT_WRITE,
  dmaAllocCoherent,
  dmaFreeCoherent,
  iommuGetDomainForDev,
  iommuIovaToPhys,
  iommuSetFaultHandler,
  modulePlatformDriver,
  requestIrq,
  type Device,
  type DmaCoherentBuffer,
  type Driver,
  type IoMem,
  type IommuDomain,
  type KernelModule,
} from '@gki/kernel';
import { PACKAGE_VERSION } from '../version.js';

/** Register offsets of the engine (32-bit registers). */
export const DMA_TEST_REG = {
  ID: 0x00,
  STREAM_ID: 0x04,
  SRC_LO: 0x08,
  SRC_HI: 0x0c,
  DST_LO: 0x10,
  DST_HI: 0x14,
  LEN: 0x18,
  CMD: 0x20,
  STATUS: 0x24,
  FAULT_ADDR_LO: 0x28,
  FAULT_ADDR_HI: 0x2c,
  IRQ_STATUS: 0x30,
  IRQ_ACK: 0x34,
  XFER_COUNT: 0x3c,
} as const;
/** The ID register of a `gki,dma-master` reads "DMA1". */
export const DMA_TEST_ID = 0x444d4131;
export const DMA_TEST_CMD_COPY = 1;
/** STATUS bits. */
export const DMA_TEST_STATUS_DONE = 1 << 1;
export const DMA_TEST_STATUS_FAULT = 1 << 2;
export const DMA_TEST_STATUS_FAULT_WRITE = 1 << 3;
export const DMA_TEST_STATUS_FAULT_BUS = 1 << 4;
/** IRQ_STATUS bits. */
export const DMA_TEST_IRQ_DONE = 1 << 0;
export const DMA_TEST_IRQ_FAULT = 1 << 1;

export const DMA_TEST_MODULE_NAME = 'gki_dma_test';
/** The platform driver's name: the prefix of its log lines ("dma-test a000000.dma: ..."). */
export const DMA_TEST_DRIVER_NAME = 'dma-test';
/** The app's version, generated from apps/gki/package.json at build time. */
export const DMA_TEST_VERSION: string = PACKAGE_VERSION;
/** Bytes copied by the self-test by default: a little over two pages, so the copy crosses page boundaries. */
export const DMA_TEST_DEFAULT_LEN = 0x2000 + 0x123;
/**
 * The bus address of the deliberate fault. It must be unmapped behind an IOMMU (checked
 * before use) and outside RAM for direct DMA (the default board's RAM ends at 0x8000_0000).
 */
export const DMA_TEST_FAULT_ADDR = 0xdead_0000;

const TWO32 = 2 ** 32;

function hex(n: number): string {
  return '0x' + n.toString(16);
}

/** Per-device state while the driver is bound (the device's drvdata). */
export class DmaTestChannel {
  /** Interrupts taken, and every IRQ_STATUS bit acknowledged since the last `takeIrqBits`. */
  irqs = 0;
  private irqBits = 0;

  constructor(
    readonly dev: Device,
    readonly regs: IoMem,
    readonly irq: number,
    readonly streamId: number,
  ) {}

  /** The interrupt handler: acknowledges whatever is pending (which lowers the line). */
  handleIrq(): void {
    const pending = this.regs.read32(DMA_TEST_REG.IRQ_STATUS) >>> 0;
    if (pending === 0) return;
    this.irqs++;
    this.irqBits |= pending;
    this.regs.write32(DMA_TEST_REG.IRQ_ACK, pending);
  }

  /** The IRQ_STATUS bits seen by the handler since the previous call, then forgets them. */
  takeIrqBits(): number {
    const b = this.irqBits;
    this.irqBits = 0;
    return b;
  }

  /** Programs SRC, DST and LEN (bus addresses as lo/hi halves) and starts a copy; returns STATUS. */
  copy(src: number, dst: number, len: number): number {
    const r = this.regs;
    r.write32(DMA_TEST_REG.SRC_LO, src % TWO32);
    r.write32(DMA_TEST_REG.SRC_HI, Math.floor(src / TWO32));
    r.write32(DMA_TEST_REG.DST_LO, dst % TWO32);
    r.write32(DMA_TEST_REG.DST_HI, Math.floor(dst / TWO32));
    r.write32(DMA_TEST_REG.LEN, len);
    r.write32(DMA_TEST_REG.CMD, DMA_TEST_CMD_COPY);
    return r.read32(DMA_TEST_REG.STATUS) >>> 0;
  }

  /** FAULT_ADDR as a number. */
  faultAddress(): number {
    const r = this.regs;
    return (r.read32(DMA_TEST_REG.FAULT_ADDR_HI) >>> 0) * TWO32 + (r.read32(DMA_TEST_REG.FAULT_ADDR_LO) >>> 0);
  }
}

/** The channel of `dev` while it is bound to the dma-test driver, else undefined. */
export function dmaTestChannel(dev: Device): DmaTestChannel | undefined {
  if (dev.driver?.name !== DMA_TEST_DRIVER_NAME) return undefined;
  const ch = dev.getDrvdata<unknown>();
  return ch instanceof DmaTestChannel ? ch : undefined;
}

/** The platform driver for `gki,dma-master`. */
export function dmaTestDriver(): Driver {
  return {
    name: DMA_TEST_DRIVER_NAME,
    ofMatchTable: [{ compatible: 'gki,dma-master' }],
    probe(dev: Device): number {
      const regs = dev.ioremap(0);
      if (typeof regs === 'number') return regs;
      const id = regs.read32(DMA_TEST_REG.ID) >>> 0;
      if (id !== DMA_TEST_ID) {
        dev.err(`unexpected ID register ${hex(id)}`);
        return -ENODEV;
      }
      const irq = dev.irq(0);
      if (irq < 0) return irq;
      const ch = new DmaTestChannel(dev, regs, irq, regs.read32(DMA_TEST_REG.STREAM_ID) >>> 0);
      const r = requestIrq(dev, irq, () => ch.handleIrq());
      if (r < 0) return r;
      dev.setDrvdata(ch);
      const domain = iommuGetDomainForDev(dev);
      const path = domain ? `behind an IOMMU (${domain.type} domain)` : 'direct DMA';
      dev.info(`DMA engine, stream ID ${hex(ch.streamId)}, irq ${irq}, ${path}`);
      return 0;
    },
  };
}

/** What the deliberate fault produced. */
export interface DmaTestFault {
  /** The bus address the engine was told to write. */
  readonly addr: number;
  /** STATUS after the command (FAULT, FAULT_WRITE, FAULT_BUS for a bus error). */
  readonly status: number;
  /** FAULT_ADDR as the engine recorded it. */
  readonly faultAddr: number;
  /** The engine raised its fault interrupt (and the handler acknowledged it). */
  readonly irq: boolean;
  /** Behind an IOMMU: what the IOMMU core's fault handler received (undefined: nothing). */
  readonly iommu?: { readonly iova: number; readonly flags: number };
}

/** The result of `dmaTestRun`. */
export interface DmaTestResult {
  readonly dev: string;
  /** 0, or the -errno that stopped the test (buffers are freed either way). */
  readonly err: number;
  readonly len: number;
  /** The copy went through an IOMMU DMA domain (its DMA addresses are IOVAs). */
  readonly translated: boolean;
  readonly srcDma: number;
  readonly dstDma: number;
  /** STATUS of the copy was DONE, its interrupt came, all bytes moved and the destination matches. */
  readonly copyOk: boolean;
  readonly fault?: DmaTestFault;
  /** The fault was seen as expected: by the engine, and by the IOMMU core when translated. */
  readonly faultOk: boolean;
  /** Both buffers went back through dmaFreeCoherent (their pages to the page allocator). */
  readonly freed: boolean;
  readonly ok: boolean;
}

export interface DmaTestOptions {
  /** Bytes to copy (default DMA_TEST_DEFAULT_LEN). */
  readonly len?: number;
  /** Skip the deliberate fault. */
  readonly noFault?: boolean;
}

/** Deterministic test bytes: a different pattern per stream ID. */
function testBytes(len: number, seed: number): Uint8Array {
  const b = new Uint8Array(len);
  let x = (0x9e3779b9 ^ seed) >>> 0;
  for (let i = 0; i < len; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The self-test on a device bound to the dma-test driver: two coherent buffers from the DMA
 * API, the source filled by the CPU, a copy programmed with their DMA addresses, the result
 * checked; then (unless `noFault`) a copy into DMA_TEST_FAULT_ADDR, which must fault, seen
 * by the engine and, behind an IOMMU, by the IOMMU core's fault handler (installed on the
 * device's domain for the duration, then removed). Both buffers are freed before it returns.
 * Logs one line per step. -ENODEV in `err` when the device is not bound to this driver.
 */
export function dmaTestRun(dev: Device, opts: DmaTestOptions = {}): DmaTestResult {
  const len = opts.len ?? DMA_TEST_DEFAULT_LEN;
  const ch = dmaTestChannel(dev);
  const base = { dev: dev.name, len, translated: false, srcDma: -1, dstDma: -1, copyOk: false, faultOk: false, freed: true, ok: false };
  if (!ch) return { ...base, err: -ENODEV };
  const domain = iommuGetDomainForDev(dev);
  const translated = domain !== undefined && domain.type === 'dma';
  const src = dmaAllocCoherent(dev, len);
  if (typeof src === 'number') {
    dev.err(`self-test: cannot allocate ${len} bytes: ${src}`);
    return { ...base, translated, err: src };
  }
  const dst = dmaAllocCoherent(dev, len);
  if (typeof dst === 'number') {
    dmaFreeCoherent(dev, len, src.cpuPa, src.dmaAddr);
    dev.err(`self-test: cannot allocate ${len} bytes: ${dst}`);
    return { ...base, translated, err: dst };
  }
  let copyOk = false;
  let fault: DmaTestFault | undefined;
  try {
    copyOk = runCopy(ch, src, dst, len, translated);
    if (!opts.noFault) fault = runFault(ch, src, translated ? domain : undefined);
  } finally {
    const e1 = dmaFreeCoherent(dev, len, dst.cpuPa, dst.dmaAddr);
    const e2 = dmaFreeCoherent(dev, len, src.cpuPa, src.dmaAddr);
    if (e1 < 0 || e2 < 0) dev.err(`self-test: dma_free_coherent failed: ${e1 < 0 ? e1 : e2}`);
    base.freed = e1 === 0 && e2 === 0;
  }
  const faultOk = opts.noFault ? true : fault !== undefined && faultSeen(fault, translated);
  const ok = copyOk && faultOk && base.freed;
  return {
    ...base,
    err: ok ? 0 : -EIO,
    translated,
    srcDma: src.dmaAddr,
    dstDma: dst.dmaAddr,
    copyOk,
    ...(fault ? { fault } : {}),
    faultOk,
    ok,
  };
}

function runCopy(ch: DmaTestChannel, src: DmaCoherentBuffer, dst: DmaCoherentBuffer, len: number, translated: boolean): boolean {
  const mem = ch.dev.core.kernel.mem;
  const data = testBytes(len, ch.streamId);
  mem.writeBytes(src.cpuPa, data);
  ch.takeIrqBits();
  const status = ch.copy(src.dmaAddr, dst.dmaAddr, len);
  const moved = ch.regs.read32(DMA_TEST_REG.XFER_COUNT) >>> 0;
  const irqBits = ch.takeIrqBits();
  const match = sameBytes(mem.readBytes(dst.cpuPa, len), data);
  const ok = status === DMA_TEST_STATUS_DONE && moved === len && (irqBits & DMA_TEST_IRQ_DONE) !== 0 && match;
  const via = translated ? `via IOVA ${hex(src.dmaAddr)} -> ${hex(dst.dmaAddr)}` : `via PA ${hex(src.dmaAddr)} -> ${hex(dst.dmaAddr)} (direct DMA)`;
  if (ok) ch.dev.info(`copy of ${len} bytes ${via} ok`);
  else
    ch.dev.err(
      `copy of ${len} bytes ${via} FAILED: status ${hex(status)}, ${moved} bytes moved, ` +
        `irq ${hex(irqBits)}, destination ${match ? 'matches' : 'differs'}`,
    );
  return ok;
}

function runFault(ch: DmaTestChannel, src: DmaCoherentBuffer, domain: IommuDomain | undefined): DmaTestFault | undefined {
  const addr = DMA_TEST_FAULT_ADDR;
  if (domain && iommuIovaToPhys(domain, addr) !== 0) {
    ch.dev.err(`self-test: IOVA ${hex(addr)} is mapped; no deliberate fault`);
    return undefined;
  }
  let seen: { iova: number; flags: number } | undefined;
  if (domain) {
    const r = iommuSetFaultHandler(domain, (_d, dev, iova, flags) => {
      if (dev !== ch.dev) return -ENODEV;
      seen = { iova, flags };
      return 0;
    });
    if (r < 0) {
      ch.dev.err(`self-test: cannot set the IOMMU fault handler: ${r}`);
      return undefined;
    }
  }
  ch.takeIrqBits();
  // A copy from the (mapped) source buffer into the bad address: the first write faults.
  let status: number;
  try {
    status = ch.copy(src.dmaAddr, addr, 4);
  } finally {
    if (domain) iommuSetFaultHandler(domain, null);
  }
  const fault: DmaTestFault = {
    addr,
    status,
    faultAddr: ch.faultAddress(),
    irq: (ch.takeIrqBits() & DMA_TEST_IRQ_FAULT) !== 0,
    ...(seen ? { iommu: seen } : {}),
  };
  const kind = (status & DMA_TEST_STATUS_FAULT_BUS) !== 0 ? 'bus error' : 'translation fault';
  const dir = (status & DMA_TEST_STATUS_FAULT_WRITE) !== 0 ? 'write' : 'read';
  const iommuPart = domain
    ? seen
      ? `; IOMMU fault handler: ${seen.flags & IOMMU_FAULT_WRITE ? 'write' : 'read'} at IOVA ${hex(seen.iova)}`
      : '; no IOMMU fault report'
    : '';
  ch.dev.info(`deliberate fault at ${hex(addr)}: engine reports ${dir} ${kind} at ${hex(fault.faultAddr)}${iommuPart}`);
  return fault;
}

function faultSeen(f: DmaTestFault, translated: boolean): boolean {
  if ((f.status & DMA_TEST_STATUS_FAULT) === 0 || f.faultAddr !== f.addr || !f.irq) return false;
  if (!translated) return true;
  return f.iommu !== undefined && f.iommu.iova === f.addr;
}

/** Module gki_dma_test: registers the dma-test platform driver at init, unregisters it at exit. */
export const dmaTestModule: KernelModule = {
  name: DMA_TEST_MODULE_NAME,
  version: DMA_TEST_VERSION,
  license: 'GPL v2',
  description: 'DMA self-test driver for the gki,dma-master engines',
  aliases: ['of:N*T*Cgki,dma-master'],
  initcall: 'device',
  ...modulePlatformDriver(() => dmaTestDriver()),
};
