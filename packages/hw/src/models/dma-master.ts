/**
 * A DMA test master (`gki,dma-master`): a small copy engine that moves bytes between bus
 * addresses, fills a range with a 32-bit pattern, or checksums a range. Bus addresses go
 * through an optional translator (an IOMMU model installs one for the master's stream ID);
 * without one they are physical addresses. Work is split at 4 KiB boundaries of both the
 * source and the destination and each piece is translated on its own, so a mapping made of
 * scattered pages is followed exactly as hardware behind an IOMMU would follow it.
 *
 * Commands run to completion inside the CMD register write (the model has no notion of
 * transfer time); completion or a fault then raises the interrupt line, which stays high
 * until software acknowledges every pending bit in IRQ_ACK.
 */
import type { Board, ModelContext, ModelFactory } from '../board.js';
import type { MmioDevice } from '../bus.js';
import { phandleArgsList } from '../fdt/address.js';
import { propU32 } from '../fdt/read.js';
import { FdtError, type FdtNode } from '../fdt/types.js';
import type { IrqLine } from '../irq.js';
import { PAGE_SIZE, PhysMem } from '../mem.js';

/** Register offsets (32-bit registers). */
export const DMA_REG_ID = 0x00;
export const DMA_REG_STREAM_ID = 0x04;
export const DMA_REG_SRC_LO = 0x08;
export const DMA_REG_SRC_HI = 0x0c;
export const DMA_REG_DST_LO = 0x10;
export const DMA_REG_DST_HI = 0x14;
export const DMA_REG_LEN = 0x18;
export const DMA_REG_PATTERN = 0x1c;
export const DMA_REG_CMD = 0x20;
export const DMA_REG_STATUS = 0x24;
export const DMA_REG_FAULT_ADDR_LO = 0x28;
export const DMA_REG_FAULT_ADDR_HI = 0x2c;
export const DMA_REG_IRQ_STATUS = 0x30;
export const DMA_REG_IRQ_ACK = 0x34;
export const DMA_REG_CHECKSUM = 0x38;
export const DMA_REG_XFER_COUNT = 0x3c;
/** Size of the register window. */
export const DMA_MMIO_SIZE = 0x1000;

/** Value of the ID register: "DMA1" in ASCII. */
export const DMA_ID_VALUE = 0x444d4131;

/** CMD values. */
export const DMA_CMD_COPY = 1;
export const DMA_CMD_FILL = 2;
export const DMA_CMD_CHECKSUM = 3;

/** STATUS bits. */
export const DMA_STATUS_BUSY = 1 << 0;
export const DMA_STATUS_DONE = 1 << 1;
export const DMA_STATUS_FAULT = 1 << 2;
/** With FAULT: the faulting access was a write (else a read). */
export const DMA_STATUS_FAULT_WRITE = 1 << 3;
/** With FAULT: the address translated (or was) outside RAM: a bus error, not a translation fault. */
export const DMA_STATUS_FAULT_BUS = 1 << 4;
/** The command register was written with an unknown command; nothing was transferred. */
export const DMA_STATUS_ERROR = 1 << 5;
/**
 * With BUSY: the transfer is suspended because its IOMMU stalled a translation; it goes on when
 * the IOMMU retries the transaction or ends with FAULT when the IOMMU terminates it.
 */
export const DMA_STATUS_STALLED = 1 << 6;

/** IRQ_STATUS / IRQ_ACK bits. */
export const DMA_IRQ_DONE = 1 << 0;
export const DMA_IRQ_FAULT = 1 << 1;
export const DMA_IRQ_ERROR = 1 << 2;

/** Initial value of the FNV-1a checksum and its multiplier. */
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

const TWO_POW_32 = 2 ** 32;
const INV_TWO_POW_32 = 2 ** -32;
const RESOLVE_OK = 0;
const RESOLVE_FAULT = 1;
const RESOLVE_STALLED = 2;
/** Bus addresses at or above 2^52 cannot exist in this SoC. */
const MAX_BUS_ADDR = 2 ** 52;

/**
 * The 4 KiB frame holding `pa`. Chunks are fetched through it: a piece never leaves its frame,
 * and the frame start is in RAM whenever `pa` is (RAM is page aligned), while PhysMem checks
 * a whole word at the address it is given, which fails for the last bytes of RAM.
 */
function pageBase(pa: number): number {
  return pa - (pa % PAGE_SIZE);
}

/** The reusable result slot of a translation. */
export interface DmaTranslation {
  pa: number;
  /**
   * Set by a translator that returns false to say the transaction is stalled rather than
   * aborted: the master suspends the transfer until the translator's owner calls
   * `stallResolved` (the master clears it before each call).
   */
  stalled?: boolean;
  /**
   * Set by a translator that returns true to say the transaction was terminated without an
   * abort (an IOMMU whose fault reporting is off): reads return zeros, writes are dropped.
   */
  sink?: boolean;
}

/**
 * Translates the bus address `iova` issued by stream `streamId`. Writes the physical address
 * to `out.pa` and returns true, or returns false for a translation fault (or, with
 * `out.stalled`, a stalled transaction). Called once per 4 KiB piece of a transfer; must not
 * allocate.
 */
export type DmaTranslator = (streamId: number, iova: number, write: boolean, out: DmaTranslation) => boolean;

/**
 * The same translation with the bus address as its 32-bit halves (`iovaLo` an int32 or u32 bit
 * pattern). Optional, for speed: V8 boxes a double argument of every call it does not inline
 * (a heap number per 4 KiB piece), while int32 halves cross any call for free. An IOMMU model
 * that can translate from halves passes this form as well (`setTranslator(fn, parts)`).
 */
export type DmaTranslatorParts = (streamId: number, iovaHi: number, iovaLo: number, write: boolean, out: DmaTranslation) => boolean;

export interface DmaMasterOptions {
  readonly name?: string;
  readonly streamId?: number;
  readonly irq?: IrqLine;
}

export class DmaMaster implements MmioDevice {
  readonly name: string;
  readonly streamId: number;
  private readonly irq: IrqLine | undefined;
  private translator: DmaTranslator | undefined;
  private translatorParts: DmaTranslatorParts | undefined;
  private readonly out: Required<DmaTranslation> = { pa: 0, stalled: false, sink: false };
  /** The PA `resolve` found, as int32 halves (high, low): see `run`. */
  private readonly paHalves = new Int32Array(2);
  /** The command being run or suspended, and where a stalled transfer stopped. */
  private active = 0;
  private running = false;
  /** A resolution of the current stall that arrived while the translator was still running: 1 retry, 2 terminate. */
  private pendingResume = 0;
  private stallDone = 0;
  private stallAddr = 0;
  private stallWrite = false;

  private srcLo = 0;
  private srcHi = 0;
  private dstLo = 0;
  private dstHi = 0;
  private len = 0;
  private pattern = 0;
  private status = 0;
  private faultAddr = 0;
  private irqStatus = 0;
  private sum = 0;
  private xfer = 0;

  /** Counters for tests and reports. */
  commands = 0;
  faults = 0;
  /** Transfers suspended by a stalled translation, and commands ignored while one was. */
  stalls = 0;
  ignoredCommands = 0;
  bytesMoved = 0;
  /** Physical address of the last bus error (undefined for translation faults). */
  lastFaultPa: number | undefined;

  constructor(
    private readonly mem: PhysMem,
    opts: DmaMasterOptions = {},
  ) {
    this.name = opts.name ?? 'dma-master';
    const sid = opts.streamId ?? 0;
    if (!Number.isInteger(sid) || sid < 0 || sid >= TWO_POW_32) throw new RangeError(`${this.name}: bad stream ID ${sid}`);
    this.streamId = sid;
    this.irq = opts.irq;
  }

  /**
   * Installs (or with undefined removes) the translation hook for this master's bus addresses.
   * `parts`, when given, must translate exactly as `fn` does; the engine then calls it instead.
   */
  setTranslator(fn: DmaTranslator | undefined, parts?: DmaTranslatorParts): void {
    this.translator = fn;
    this.translatorParts = fn === undefined ? undefined : parts;
  }

  get translated(): boolean {
    return this.translator !== undefined;
  }

  /** True while a transfer is suspended on a stalled translation. */
  get stalled(): boolean {
    return (this.status & DMA_STATUS_STALLED) !== 0;
  }

  /**
   * Called by the IOMMU that stalled this master's transaction: retry it (the transfer goes on
   * from the stalled piece) or terminate it (the transfer ends with a fault). A call made while
   * the translator is still running applies to the transaction being translated.
   */
  stallResolved(terminate: boolean): void {
    if (this.running) {
      this.pendingResume = terminate ? 2 : 1;
      return;
    }
    if ((this.status & DMA_STATUS_STALLED) === 0) return;
    this.status = DMA_STATUS_BUSY;
    if (terminate) {
      this.fault(this.stallAddr, this.stallWrite, false, undefined);
      return;
    }
    this.run(this.stallDone);
  }

  // ---- MMIO ----

  read32(offset: number): number {
    switch (offset) {
      case DMA_REG_ID: return DMA_ID_VALUE;
      case DMA_REG_STREAM_ID: return this.streamId;
      case DMA_REG_SRC_LO: return this.srcLo;
      case DMA_REG_SRC_HI: return this.srcHi;
      case DMA_REG_DST_LO: return this.dstLo;
      case DMA_REG_DST_HI: return this.dstHi;
      case DMA_REG_LEN: return this.len;
      case DMA_REG_PATTERN: return this.pattern;
      case DMA_REG_STATUS: return this.status;
      case DMA_REG_FAULT_ADDR_LO: return this.faultAddr % TWO_POW_32;
      case DMA_REG_FAULT_ADDR_HI: return Math.floor(this.faultAddr / TWO_POW_32);
      case DMA_REG_IRQ_STATUS: return this.irqStatus;
      case DMA_REG_CHECKSUM: return this.sum;
      case DMA_REG_XFER_COUNT: return this.xfer;
      default: return 0; // CMD, IRQ_ACK and unused offsets read as zero
    }
  }

  write32(offset: number, value: number): void {
    const v = value >>> 0;
    switch (offset) {
      case DMA_REG_SRC_LO: this.srcLo = v; break;
      case DMA_REG_SRC_HI: this.srcHi = v; break;
      case DMA_REG_DST_LO: this.dstLo = v; break;
      case DMA_REG_DST_HI: this.dstHi = v; break;
      case DMA_REG_LEN: this.len = v; break;
      case DMA_REG_PATTERN: this.pattern = v; break;
      case DMA_REG_CMD: this.execute(v); break;
      case DMA_REG_IRQ_ACK: this.ack(v); break;
      default: break; // read-only and unused registers ignore writes
    }
  }

  // ---- programmatic use (tests): the same engine as the CMD register ----

  /** Copies `len` bytes from bus address `src` to `dst`; returns STATUS. */
  copy(src: number, dst: number, len: number): number {
    this.program(src, dst, len);
    this.execute(DMA_CMD_COPY);
    return this.status;
  }

  /** Fills `len` bytes at `dst` with the little-endian 32-bit `pattern`, repeated; returns STATUS. */
  fill(dst: number, len: number, pattern: number): number {
    this.program(0, dst, len);
    this.pattern = pattern >>> 0;
    this.execute(DMA_CMD_FILL);
    return this.status;
  }

  /** Checksums `len` bytes at `src` (FNV-1a, 32-bit; see `checksumValue`); returns STATUS. */
  checksum(src: number, len: number): number {
    this.program(src, 0, len);
    this.execute(DMA_CMD_CHECKSUM);
    return this.status;
  }

  /** CHECKSUM register: the FNV-1a hash of the bytes the last checksum command read. */
  get checksumValue(): number {
    return this.sum;
  }

  /** FAULT_ADDR as a number: the bus address of the access that faulted. */
  get faultAddress(): number {
    return this.faultAddr;
  }

  get statusValue(): number {
    return this.status;
  }

  get irqPending(): number {
    return this.irqStatus;
  }

  /** Bytes transferred by the last command (XFER_COUNT). */
  get transferred(): number {
    return this.xfer;
  }

  private program(src: number, dst: number, len: number): void {
    const what = (a: number) => (typeof a === 'bigint' ? `${String(a)}n (a BigInt; bus addresses are numbers)` : String(a));
    if (!Number.isSafeInteger(src) || src < 0) throw new RangeError(`${this.name}: source ${what(src)} is not a bus address`);
    if (!Number.isSafeInteger(dst) || dst < 0) throw new RangeError(`${this.name}: destination ${what(dst)} is not a bus address`);
    if (!Number.isInteger(len) || len < 0 || len >= TWO_POW_32) throw new RangeError(`${this.name}: bad length ${len}`);
    this.srcLo = src % TWO_POW_32;
    this.srcHi = Math.floor(src / TWO_POW_32) >>> 0;
    this.dstLo = dst % TWO_POW_32;
    this.dstHi = Math.floor(dst / TWO_POW_32) >>> 0;
    this.len = len;
  }

  // ---- the engine ----

  private ack(bits: number): void {
    this.irqStatus &= ~bits;
    if (this.irqStatus === 0) this.irq?.lower();
  }

  private raise(bits: number): void {
    this.irqStatus |= bits;
    this.irq?.raise();
  }

  private execute(cmd: number): void {
    if (this.status & DMA_STATUS_STALLED) {
      this.ignoredCommands++; // busy: a suspended transfer holds the engine
      return;
    }
    this.commands++;
    this.xfer = 0;
    this.lastFaultPa = undefined;
    if (cmd !== DMA_CMD_COPY && cmd !== DMA_CMD_FILL && cmd !== DMA_CMD_CHECKSUM) {
      this.status = DMA_STATUS_ERROR;
      this.raise(DMA_IRQ_ERROR);
      return;
    }
    this.status = DMA_STATUS_BUSY;
    if (cmd === DMA_CMD_CHECKSUM) this.sum = FNV_OFFSET;
    this.active = cmd;
    this.run(0);
  }

  /** Runs (or continues) the active command from byte `start`. */
  private run(start: number): void {
    const cmd = this.active;
    const src = this.srcHi * TWO_POW_32 + this.srcLo;
    const dst = this.dstHi * TWO_POW_32 + this.dstLo;
    const len = this.len;
    let done = start;
    while (done < len) {
      const s = src + done;
      const d = dst + done;
      let n = len - done;
      if (cmd !== DMA_CMD_FILL) n = Math.min(n, PAGE_SIZE - (s % PAGE_SIZE));
      if (cmd !== DMA_CMD_CHECKSUM) n = Math.min(n, PAGE_SIZE - (d % PAGE_SIZE));
      // The physical addresses are kept as int32 halves (spHi/dpHi −1 for none: a read or
      // write terminated without an abort, or no source/destination). As doubles (a loop
      // variable holding −1 or a PA, then an argument of the per-page helpers, which V8 does
      // not inline here) they were a heap number each for a PA at or above 2^31.
      let spHi = -1;
      let spLo = 0;
      if (cmd !== DMA_CMD_FILL) {
        const sHi = Math.floor(s * INV_TWO_POW_32);
        const r = this.resolve(sHi | 0, (s - sHi * TWO_POW_32) | 0, n, false);
        if (r === RESOLVE_STALLED) return this.suspend(done, s, false);
        if (r !== RESOLVE_OK) return;
        if (!this.out.sink) {
          spHi = this.paHalves[0]!;
          spLo = this.paHalves[1]!;
        }
      }
      let dpHi = -1;
      let dpLo = 0;
      if (cmd !== DMA_CMD_CHECKSUM) {
        const dHi = Math.floor(d * INV_TWO_POW_32);
        const r = this.resolve(dHi | 0, (d - dHi * TWO_POW_32) | 0, n, true);
        if (r === RESOLVE_STALLED) return this.suspend(done, d, true);
        if (r !== RESOLVE_OK) return;
        if (!this.out.sink) {
          dpHi = this.paHalves[0]!;
          dpLo = this.paHalves[1]!;
        }
      }
      // A terminated-without-abort access (sink) reads zeros and drops writes.
      if (cmd === DMA_CMD_COPY) {
        if (dpHi >= 0) {
          if (spHi >= 0) this.copyPhys(spHi, spLo, dpHi, dpLo, n);
          else this.zeroPhys(dpHi, dpLo, n);
        }
      } else if (cmd === DMA_CMD_FILL) {
        if (dpHi >= 0) this.fillPhys(dpHi, dpLo, n, done);
      } else {
        this.sumPhys(spHi, spLo, n);
      }
      done += n;
      this.xfer = done;
      this.bytesMoved += n;
    }
    this.active = 0;
    this.status = DMA_STATUS_DONE;
    this.raise(DMA_IRQ_DONE);
  }

  private suspend(done: number, addr: number, write: boolean): void {
    this.stalls++;
    this.stallDone = done;
    this.stallAddr = addr;
    this.stallWrite = write;
    this.status = DMA_STATUS_BUSY | DMA_STATUS_STALLED;
  }

  /**
   * Translates bus address `addr` for an access of `n` bytes (inside one 4 KiB page) into
   * `this.out.pa` (or `out.sink`). On a fault, records it, raises the interrupt and returns
   * RESOLVE_FAULT; a stalled translation that is not resolved at once returns RESOLVE_STALLED.
   */
  private resolve(hi: number, lo: number, n: number, write: boolean): number {
    // The address arrives as int32 halves so that this call boxes nothing when it is not
    // inlined (a double argument would be a fresh heap number per piece).
    const addr = hi * TWO_POW_32 + (lo >>> 0);
    const out = this.out;
    out.sink = false;
    if (addr + n > MAX_BUS_ADDR) return this.fault(addr, write, true, undefined);
    const tr = this.translator;
    const parts = this.translatorParts;
    if (tr) {
      for (;;) {
        out.stalled = false;
        this.pendingResume = 0;
        this.running = true;
        let ok: boolean;
        try {
          ok = parts !== undefined ? parts(this.streamId, hi, lo, write, out) : tr(this.streamId, addr, write, out);
        } finally {
          this.running = false;
        }
        if (ok) break;
        if (!out.stalled) return this.fault(addr, write, false, undefined);
        const p = this.pendingResume;
        this.pendingResume = 0;
        if (p === 1) continue; // retried while the translator ran
        if (p === 2) return this.fault(addr, write, false, undefined);
        return RESOLVE_STALLED;
      }
      if (out.sink) return RESOLVE_OK;
    } else {
      out.pa = addr;
    }
    const pa = out.pa;
    if (!Number.isSafeInteger(pa) || pa < 0) return this.fault(addr, write, true, pa);
    // The PA goes on as int32 halves, to `containsParts` and to `run` (as a double argument of
    // `contains`, which V8 did not always inline here, it was a heap number per page).
    const pHi = Math.floor(pa * INV_TWO_POW_32) | 0;
    const pLo = (pa - pHi * TWO_POW_32) | 0;
    if (!this.mem.containsParts(pHi, pLo, n)) return this.fault(addr, write, true, pa);
    this.paHalves[0] = pHi;
    this.paHalves[1] = pLo;
    return RESOLVE_OK;
  }

  private fault(addr: number, write: boolean, bus: boolean, pa: number | undefined): number {
    this.active = 0;
    this.faults++;
    this.faultAddr = addr;
    this.lastFaultPa = pa;
    this.status = DMA_STATUS_FAULT | (write ? DMA_STATUS_FAULT_WRITE : 0) | (bus ? DMA_STATUS_FAULT_BUS : 0);
    this.raise(DMA_IRQ_FAULT);
    return RESOLVE_FAULT;
  }

  /**
   * Writes n zero bytes at dp (inside one page): the data of a read terminated without an
   * abort. The page helpers take physical addresses as int32 halves (see `run`).
   */
  private zeroPhys(dpHi: number, dpLo: number, n: number): void {
    const dp = (dpHi >>> 0) * TWO_POW_32 + (dpLo >>> 0);
    const dc = this.mem.chunk(pageBase(dp));
    for (let i = 0; i < n; i++) {
      const b = dp + i;
      const wi = PhysMem.wordIndex(b);
      dc[wi] = (dc[wi]! & ~(0xff << ((b & 3) * 8))) >>> 0;
    }
    this.mem.touch(dp, n);
  }

  /** Copies n bytes between physical ranges that each lie inside one page. */
  private copyPhys(spHi: number, spLo: number, dpHi: number, dpLo: number, n: number): void {
    const sp = (spHi >>> 0) * TWO_POW_32 + (spLo >>> 0);
    const dp = (dpHi >>> 0) * TWO_POW_32 + (dpLo >>> 0);
    const sc = this.mem.peekChunk(pageBase(sp));
    const dc = this.mem.chunk(pageBase(dp));
    let i = 0;
    if ((sp & 3) === 0 && (dp & 3) === 0) {
      const si = PhysMem.wordIndex(sp);
      const di = PhysMem.wordIndex(dp);
      const words = n >>> 2;
      if (sc === dc && di > si) for (let w = words - 1; w >= 0; w--) dc[di + w] = sc[si + w]!;
      else for (let w = 0; w < words; w++) dc[di + w] = sc[si + w]!;
      i = words * 4;
    }
    for (; i < n; i++) {
      const a = sp + i;
      const b = dp + i;
      const byte = (sc[PhysMem.wordIndex(a)]! >>> ((a & 3) * 8)) & 0xff;
      const wi = PhysMem.wordIndex(b);
      const sh = (b & 3) * 8;
      dc[wi] = ((dc[wi]! & ~(0xff << sh)) | (byte << sh)) >>> 0;
    }
    this.mem.touch(dp, n);
  }

  /** Fills n bytes at dp; `offset` is the position of dp within the whole transfer. */
  private fillPhys(dpHi: number, dpLo: number, n: number, offset: number): void {
    const dp = (dpHi >>> 0) * TWO_POW_32 + (dpLo >>> 0);
    const dc = this.mem.chunk(pageBase(dp));
    const pat = this.pattern;
    let i = 0;
    if ((dp & 3) === 0 && (offset & 3) === 0) {
      const base = PhysMem.wordIndex(dp);
      const words = n >>> 2;
      for (let w = 0; w < words; w++) dc[base + w] = pat;
      i = words * 4;
    }
    for (; i < n; i++) {
      const b = dp + i;
      const byte = (pat >>> (((offset + i) & 3) * 8)) & 0xff;
      const wi = PhysMem.wordIndex(b);
      const sh = (b & 3) * 8;
      dc[wi] = ((dc[wi]! & ~(0xff << sh)) | (byte << sh)) >>> 0;
    }
    this.mem.touch(dp, n);
  }

  /** Hashes n bytes at sp (spHi < 0: n zero bytes, a read terminated without an abort). */
  private sumPhys(spHi: number, spLo: number, n: number): void {
    const sp = spHi < 0 ? -1 : (spHi >>> 0) * TWO_POW_32 + (spLo >>> 0);
    let h = this.sum;
    if (sp < 0) {
      for (let i = 0; i < n; i++) h = Math.imul(h, FNV_PRIME);
      this.sum = h >>> 0;
      return;
    }
    const sc = this.mem.peekChunk(pageBase(sp));
    for (let i = 0; i < n; i++) {
      const a = sp + i;
      h ^= (sc[PhysMem.wordIndex(a)]! >>> ((a & 3) * 8)) & 0xff;
      h = Math.imul(h, FNV_PRIME);
    }
    this.sum = h >>> 0;
  }
}

/** Smallest `reg` window that holds every register. */
const DMA_MIN_REG_SIZE = DMA_REG_XFER_COUNT + 4;

/**
 * The stream ID a master's transactions carry: its `gki,stream-id` property; else the first
 * argument of its first `iommus` entry (the StreamID, whether the IOMMU uses one cell or two as
 * SID and mask); else its index among the board's DMA masters.
 */
function dmaStreamId(node: FdtNode, ctx: ModelContext): number {
  const own = propU32(node, 'gki,stream-id', ctx.path);
  if (own !== undefined) return own;
  const first = phandleArgsList(ctx.tree, node, ctx.path, 'iommus', '#iommu-cells')[0];
  if (first && first.args.length >= 1) return first.args[0]!;
  return ctx.index;
}

/** The `gki,dma-master` model factory (in the built-in model table, `BUILTIN_MODELS`). */
export const createDmaMasterModel: ModelFactory = (board: Board, node, regs, irqs, ctx) => {
  const win = regs[0];
  if (!win) throw new FdtError(-1, 'gki,dma-master needs a CPU-addressable reg', ctx.path);
  if (win.size < DMA_MIN_REG_SIZE)
    throw new FdtError(-1, `gki,dma-master reg size 0x${win.size.toString(16)} is below 0x${DMA_MIN_REG_SIZE.toString(16)}`, ctx.path);
  const dma = new DmaMaster(board.mem, {
    name: node.name,
    streamId: dmaStreamId(node, ctx),
    irq: irqs[0] === undefined || irqs[0] < 0 ? undefined : board.irq.line(irqs[0]),
  });
  board.bus.map(win.address, win.size, dma);
  return dma;
};
