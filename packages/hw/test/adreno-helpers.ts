/**
 * Test-side view of an Adreno a6xx: register offsets, interrupt bits and PM4 encodings as the
 * freedreno register database and Linux's a6xx driver state them (the test's own copy, not the
 * model's regs.ts), a rig with an SMMUv2 context bank programmed the way arm-smmu programs the
 * Adreno's bank (AArch64 stage 1, TTBR1 for kernel buffers, TTBR0 for a process, 49-bit input
 * with bit 48 as the sign bit), page tables written with the SMMUv2 tests' descriptor writer,
 * and a ringbuffer the test fills as msm does.
 */
import { AdrenoGpu, PhysMem, SmmuV2 } from '../src/index.js';
import { CB, LpaeTables, S1_ATTR, SCTLR_AFE, SCTLR_CFIE, SCTLR_CFRE, SCTLR_M, SCTLR_TRE, V2Rig } from './smmu-v2-helpers.js';

// ---- facts -----------------------------------------------------------------------------------

/** GPU registers, 32-bit word offsets (a6xx.xml). */
export const REG = {
  RBBM_GBIF_HALT: 0x0016,
  RBBM_GBIF_HALT_ACK: 0x0017,
  RBBM_INT_CLEAR_CMD: 0x0037,
  RBBM_INT_0_MASK: 0x0038,
  RBBM_SW_RESET_CMD: 0x0043,
  RBBM_INT_0_STATUS: 0x0201,
  RBBM_STATUS: 0x0210,
  RBBM_STATUS3: 0x0213,
  RBBM_PERFCTR_CP_0: 0x0400,
  RBBM_PERFCTR_SRAM_INIT_CMD: 0x050e,
  RBBM_PERFCTR_SRAM_INIT_STATUS: 0x050f,
  CP_RB_BASE: 0x0800,
  CP_RB_BASE_HI: 0x0801,
  CP_RB_CNTL: 0x0802,
  CP_RB_RPTR_ADDR: 0x0804,
  CP_RB_RPTR_ADDR_HI: 0x0805,
  CP_RB_RPTR: 0x0806,
  CP_RB_WPTR: 0x0807,
  CP_SQE_CNTL: 0x0808,
  CP_HW_FAULT: 0x0821,
  CP_INTERRUPT_STATUS: 0x0823,
  CP_PROTECT_STATUS: 0x0824,
  CP_SQE_INSTR_BASE: 0x0830,
  CP_PROTECT_CNTL: 0x084f,
  CP_PROTECT_0: 0x0850,
  CP_SCRATCH_REG_0: 0x0883,
  CP_SQE_STAT_ADDR: 0x0908,
  CP_SQE_STAT_DATA: 0x0909,
  CP_IB1_BASE: 0x0928,
  CP_IB1_REM_SIZE: 0x092a,
  CP_ALWAYS_ON_COUNTER: 0x0980,
  VBIF_XIN_HALT_CTRL0: 0x3080,
  VBIF_XIN_HALT_CTRL1: 0x3081,
  GBIF_HALT: 0x3c45,
  GBIF_HALT_ACK: 0x3c46,
} as const;

/** RBBM_INT_0 bits. */
export const INT = {
  CP_AHB_ERROR: 1 << 1,
  CP_SW: 1 << 8,
  CP_HW_ERROR: 1 << 9,
  CP_IB2: 1 << 13,
  CP_IB1: 1 << 14,
  CP_RB: 1 << 15,
  CP_RB_DONE_TS: 1 << 17,
  CP_CACHE_FLUSH_TS: 1 << 20,
  RBBM_HANG_DETECT: 1 << 23,
} as const;
/** Linux's A6XX_INT_MASK. */
export const LINUX_A6XX_INT_MASK = ((1 << 1) | (1 << 6) | (1 << 9) | (1 << 13) | (1 << 14) | (1 << 15) | (1 << 20) | (1 << 22) | (1 << 23) | (1 << 24) | (1 << 25)) >>> 0;

/** CP_INTERRUPT_STATUS bits. */
export const CP_INT = { OPCODE_ERROR: 1 << 0, HW_FAULT_ERROR: 1 << 2, REGISTER_PROTECTION_ERROR: 1 << 4 } as const;

/** Type-7 opcodes (adreno_pm4.xml). */
export const OP = {
  NOP: 0x10,
  WAIT_FOR_IDLE: 0x26,
  WAIT_REG_MEM: 0x3c,
  MEM_WRITE: 0x3d,
  REG_TO_MEM: 0x3e,
  INDIRECT_BUFFER: 0x3f,
  INTERRUPT: 0x40,
  EVENT_WRITE: 0x46,
  ME_INIT: 0x48,
  SMMU_TABLE_UPDATE: 0x53,
  INDIRECT_BUFFER_CHAIN: 0x57,
  SET_PROTECTED_MODE: 0x5f,
  WHERE_AM_I: 0x62,
  REG_WRITE: 0x6d,
  MEM_TO_MEM: 0x73,
  MEMCPY: 0x75,
  /** The model's own packets (documented in its README). */
  GKI_FILL: 0x7a,
  GKI_CHECKSUM: 0x7b,
} as const;
export const CACHE_FLUSH_TS = 0x04;
export const CACHE_INVALIDATE = 0x31;
export const EVENT_IRQ = 1 << 31;

/** The PM4 header parity bit of a field: odd parity over field + bit, as msm's PM4_PARITY. */
export function parity(v: number): number {
  let n = 0;
  for (let x = v >>> 0; x !== 0; x >>>= 1) n += x & 1;
  return n % 2 === 0 ? 1 : 0;
}
export function pkt4(reg: number, count: number): number {
  return (0x40000000 | count | (parity(count) << 7) | ((reg & 0x3ffff) << 8) | (parity(reg) << 27)) >>> 0;
}
export function pkt7(op: number, count: number): number {
  return (0x70000000 | count | (parity(count) << 15) | ((op & 0x7f) << 16) | (parity(op) << 23)) >>> 0;
}

export function lo32(v: number): number {
  return v % 2 ** 32 >>> 0;
}
export function hi32(v: number): number {
  return Math.floor(v / 2 ** 32) >>> 0;
}

/** FNV-1a 32-bit, written here from its definition. */
export function fnv1a(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (const b of bytes) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** A PM4 stream under construction. */
export class Pm4 {
  readonly words: number[] = [];

  t7(op: number, ...payload: number[]): this {
    this.words.push(pkt7(op, payload.length), ...payload.map((w) => w >>> 0));
    return this;
  }

  t4(reg: number, ...values: number[]): this {
    this.words.push(pkt4(reg, values.length), ...values.map((w) => w >>> 0));
    return this;
  }

  memWrite(va: number, ...values: number[]): this {
    return this.t7(OP.MEM_WRITE, lo32(va), hi32(va), ...values);
  }

  memcpy(dst: number, src: number, dwords: number): this {
    return this.t7(OP.MEMCPY, dwords, lo32(src), hi32(src), lo32(dst), hi32(dst));
  }

  ib(va: number, dwords: number): this {
    return this.t7(OP.INDIRECT_BUFFER, lo32(va), hi32(va), dwords);
  }

  /** msm's CACHE_FLUSH_TS fence: writes `seqno` at `va` and interrupts. */
  fence(va: number, seqno: number): this {
    return this.t7(OP.EVENT_WRITE, CACHE_FLUSH_TS | EVENT_IRQ, lo32(va), hi32(va), seqno);
  }

  /** a6xx_set_pagetable's switch (the 5.11 form): table update, memstore write, UCHE invalidate. */
  switchTo(ttbr: number, asid: number, memstore?: number): this {
    this.t7(OP.SMMU_TABLE_UPDATE, lo32(ttbr), (hi32(ttbr) & 0xffff) | (asid << 16), 0, 0);
    if (memstore !== undefined) this.memWrite(memstore, lo32(ttbr), ((asid << 16) | hi32(ttbr)) >>> 0);
    return this.t7(OP.EVENT_WRITE, CACHE_INVALIDATE);
  }

  fill(dst: number, bytes: number, pattern: number): this {
    return this.t7(OP.GKI_FILL, lo32(dst), hi32(dst), bytes, pattern);
  }

  checksum(src: number, bytes: number, dst: number): this {
    return this.t7(OP.GKI_CHECKSUM, lo32(src), hi32(src), bytes, lo32(dst), hi32(dst));
  }
}

// ---- the rig ----------------------------------------------------------------------------------

export const GPU_BASE = 0x0500_0000;
export const GPU_IRQ = 332; // GIC SPI 300
/** Kernel (TTBR1) buffers: bit 48 set, the sign bit of the 49-bit GPU address. */
export const KVA = 0x1_ffff_0000_0000;
/** Process (TTBR0) buffers, where msm puts a file's private address space. */
export const UVA = 0x1_0000_0000;
/** MSM_GPU_RB_CNTL_DEFAULT for a 32 KiB ring: BUFSZ = ilog2(32K / 8), BLKSZ = ilog2(32 / 8). */
export const RB_CNTL_32K = 12 | (2 << 8);
export const RB_NO_UPDATE = 1 << 27;
export const RING_WORDS = 8192;
export const SCTLR_CFCFG = 1 << 7;
export const SCTLR_HUPCF = 1 << 8;
export const SCTLR_DEFAULT = SCTLR_M | SCTLR_TRE | SCTLR_AFE | SCTLR_CFRE | SCTLR_CFIE;

export interface AdrenoRigOptions {
  readonly sctlr?: number;
  readonly execution?: 'immediate' | 'manual';
  readonly rbCntl?: number;
  /** Skip programming the SMMU (the GPU translates nothing: bypass). */
  readonly noSmmu?: boolean;
  /** The GPU's chip id (default: the model's, an Adreno 630). */
  readonly chipId?: number;
}

export class AdrenoRig {
  readonly v2 = new V2Rig({ numCb: 8 });
  readonly mem: PhysMem = this.v2.mem;
  readonly smmu: SmmuV2 = this.v2.smmu;
  readonly gpu: AdrenoGpu;
  /** The TTBR1 (kernel) table and the process tables created so far. */
  readonly kernel: LpaeTables;
  ringVa = 0;
  ringPa = 0;
  memptrsVa = 0;
  memptrsPa = 0;
  private kNext = KVA;
  private wptr = 0;
  irqs = 0;

  constructor(opts: AdrenoRigOptions = {}) {
    this.gpu = new AdrenoGpu(this.mem, { irq: this.v2.irq.line(GPU_IRQ), execution: opts.execution, chipId: opts.chipId });
    this.v2.bus.map(GPU_BASE, 0x40000, this.gpu);
    this.smmu.attachMaster(this.gpu, [0]);
    this.gpu.attachSmmu(this.smmu);
    this.kernel = new LpaeTables(this.v2, 12, 0);
    if (!opts.noSmmu) {
      this.v2.enable();
      this.v2.stream(0, 0, 0, 0);
      this.v2.s1Aarch64(0, { ttbr0: 0, asid: 0, ttbr1: this.kernel.root, t1sz: 16, sep: 7, sctlr: opts.sctlr ?? SCTLR_DEFAULT });
      // msm's TTBR0 starts disabled (EPD0) until the first process table exists.
      this.setCbTcr(this.cb(CB.TCR) | (1 << 7));
    }
    this.v2.irq.onIrq(GPU_IRQ, () => {
      this.irqs++;
    });
    // The ringbuffer and the memptrs page, in the kernel's (TTBR1) space.
    const ring = this.kalloc(RING_WORDS * 4);
    this.ringVa = ring.va;
    this.ringPa = ring.pa;
    const mp = this.kalloc(4096);
    this.memptrsVa = mp.va;
    this.memptrsPa = mp.pa;
    this.w(REG.RBBM_INT_0_MASK, LINUX_A6XX_INT_MASK);
    this.w(REG.CP_RB_BASE, lo32(this.ringVa));
    this.w(REG.CP_RB_BASE_HI, hi32(this.ringVa));
    this.w(REG.CP_RB_CNTL, opts.rbCntl ?? RB_CNTL_32K);
    this.w(REG.CP_RB_RPTR_ADDR, lo32(this.memptrsVa));
    this.w(REG.CP_RB_RPTR_ADDR_HI, hi32(this.memptrsVa));
    this.w(REG.CP_SQE_CNTL, 1);
  }

  r(reg: number): number {
    return this.v2.bus.read32(GPU_BASE + reg * 4);
  }
  w(reg: number, v: number): void {
    this.v2.bus.write32(GPU_BASE + reg * 4, v);
  }
  cb(off: number): number {
    return this.v2.cb(0, off);
  }
  setCbTcr(v: number): void {
    this.v2.setCb(0, CB.TCR, v >>> 0);
  }

  /** Physical memory for the test. */
  alloc(size: number): number {
    return this.v2.alloc(Math.ceil(size / 4096) * 4096, 4096);
  }

  /** A kernel buffer: fresh pages mapped at the next TTBR1 address. */
  kalloc(size: number): { va: number; pa: number } {
    const pa = this.alloc(size);
    const va = this.kNext;
    for (let off = 0; off < size; off += 4096) this.kernel.map(va + off, pa + off, S1_ATTR);
    this.kNext += Math.ceil(size / 4096) * 4096 + 4096;
    return { va, pa };
  }

  /** A new process table (what msm allocates per open file). */
  process(): LpaeTables {
    return new LpaeTables(this.v2, 12, 0);
  }

  /** Maps `size` bytes at `va` in `table` to fresh pages; returns the PA. */
  map(table: LpaeTables, va: number, size: number, pa = this.alloc(size)): number {
    for (let off = 0; off < size; off += 4096) table.map(va + off, pa + off, S1_ATTR);
    return pa;
  }

  /** Turns TTBR0 on for the bank with `table` (what set_ttbr0_cfg does for the first process). */
  enableTtbr0(table: LpaeTables): void {
    this.setCbTcr(this.cb(CB.TCR) & ~(1 << 7));
    this.v2.setCb64(0, CB.TTBR0, BigInt(table.root));
  }

  /** Writes a stream into the ring at the current write pointer and moves CP_RB_WPTR past it. */
  submit(stream: Pm4 | number[], opts: { flush?: boolean } = {}): void {
    const words = stream instanceof Pm4 ? stream.words : stream;
    for (const w of words) {
      this.mem.write32(this.ringPa + this.wptr * 4, w);
      this.wptr = (this.wptr + 1) % RING_WORDS;
    }
    if (opts.flush ?? true) this.w(REG.CP_RB_WPTR, this.wptr);
  }

  /**
   * Detaches the GPU from the SMMU and points the ring and the rptr shadow at their physical
   * addresses: the GPU then addresses memory untranslated (a baseline for benchmarks).
   */
  untranslated(): void {
    this.smmu.detachMaster(this.gpu);
    this.w(REG.CP_RB_BASE, lo32(this.ringPa));
    this.w(REG.CP_RB_BASE_HI, hi32(this.ringPa));
    this.w(REG.CP_RB_RPTR_ADDR, lo32(this.memptrsPa));
    this.w(REG.CP_RB_RPTR_ADDR_HI, hi32(this.memptrsPa));
    this.wptr = 0;
  }

  get ringWptr(): number {
    return this.wptr;
  }

  /** Writes a stream into memory (an IB) at `pa`. */
  writeIb(pa: number, stream: Pm4): number {
    stream.words.forEach((w, i) => this.mem.write32(pa + 4 * i, w));
    return stream.words.length;
  }

  bytes(pa: number, n: number): Uint8Array {
    return this.mem.readBytes(pa, n);
  }
}

export { CB, LpaeTables, S1_ATTR };
