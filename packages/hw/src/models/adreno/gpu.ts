/**
 * An Adreno a6xx GPU (such as the Adreno 630 of sdm845) as a device on the MMIO bus: the RBBM
 * block (interrupts, status, software reset, bus-halt handshakes), the CP's ringbuffer and
 * error registers, and the command processor of cp.ts. The GPU is a bus master behind its SMMU
 * context bank (`setTranslator`, given by the SMMU model's link pass, and `stallResolved` for
 * stalled transactions), and its CP reprograms that bank's TTBR0 itself through the SMMU's
 * register interface when it executes CP_SMMU_TABLE_UPDATE (`attachSmmu`).
 *
 * The interrupt line is driven at the end of every register access and after the CP stops,
 * never while the CP is part-way through a packet. Register offsets are regs.ts's (words; the
 * bus offset is 4x).
 *
 * A gen7 part (a730, a740, a750: `adrenoIsGen7` of its chip id) runs the CP in its gen7 form
 * (see cp.ts) and has the gen7 register moves on these paths: the CP cycle counter
 * RBBM_PERFCTR_CP(0) at 0x300, and the BV thread's status registers (CP_BV_HW_FAULT,
 * CP_BV_PROTECT_STATUS, CP_BV_SQE_STAT_DATA), which read 0 because the model's single CP
 * interpreter reports its errors in the BR registers.
 */
import type { MmioDevice } from '../../bus.js';
import type { IrqLine } from '../../irq.js';
import type { PhysMem } from '../../mem.js';
import { AdrenoCp, type AdrenoCpHost, type AdrenoCpState, type AdrenoTranslator } from './cp.js';
import { ADRENO_630_CHIP_ID, adrenoIsGen7, adrenoName } from './presets.js';
import * as R from './regs.js';

const TWO32 = 2 ** 32;
const SYNC_POLLS = 1000;

/** SMMUv2 context-bank registers the CP writes (byte offsets in the bank's page). */
const CB_TTBR0 = 0x20;
const CB_CONTEXTIDR = 0x34;
const CB_TLBIALL = 0x618;
const CB_TLBSYNC = 0x7f0;
const CB_TLBSTATUS = 0x7f4;
const TLBSTATUS_SACTIVE = 1;

/**
 * The GPU's path to its SMMU's registers, as the hardware has one for CP_SMMU_TABLE_UPDATE.
 * `SmmuV2` provides it (its MMIO accessors and `contextBankOffset`).
 */
export interface AdrenoSmmuPort {
  readonly name: string;
  contextBankOffset(n: number): number;
  read32(offset: number): number;
  write32(offset: number, value: number): void;
}

export interface AdrenoGpuOptions {
  readonly name?: string;
  /** The chip id (default 0x06030002, Adreno 630 v2). */
  readonly chipId?: number;
  /** StreamID the GPU's transactions carry (informational; the SMMU link uses the DT's). */
  readonly streamId?: number;
  readonly irq?: IrqLine;
  /** 'immediate' (default): a CP_RB_WPTR write runs the CP at once; 'manual': only `run()` does. */
  readonly execution?: 'immediate' | 'manual';
  /** GPU virtual address width (default 49). */
  readonly vaBits?: number;
  /** CP_INDIRECT_BUFFER_CHAIN jumps per IB before the CP counts as hung (default 65536). */
  readonly maxChain?: number;
}

export interface AdrenoGpuStats {
  /** Register accesses (each advances the always-on counter by one). */
  readonly registerAccesses: number;
  readonly softResets: number;
  /** Times the interrupt line was raised. */
  readonly interrupts: number;
}

export class AdrenoGpu implements MmioDevice {
  readonly name: string;
  readonly chipId: number;
  /** A gen7 part (a730, a740, a750). */
  readonly gen7: boolean;
  readonly cp: AdrenoCp;
  readonly execution: 'immediate' | 'manual';
  /** Protocol events (ignored writes, CP errors, wptr wrap, ...), newest last. */
  readonly events: string[] = [];
  eventLogSize = 256;
  /** Secondary register windows of the node ("cx_mem", "cx_dbgc"), by reg-name (set by the factory). */
  readonly windows = new Map<string, MmioDevice>();

  private readonly irq: IrqLine | undefined;
  private smmu: AdrenoSmmuPort | undefined;
  protected depth = 0;
  protected ticks = 0;
  private accesses = 0;
  protected softResets = 0;
  private interrupts = 0;

  protected intRaw = 0;
  protected intMask = 0;
  protected swReset = 0;
  private gbifHalt = 0;
  private rbbmGbifHalt = 0;
  protected vbifHalt = 0;
  private sramInit = 0;
  protected sqeStatAddr = 0;
  protected sqeCntl = 0;
  protected readonly storage = new Map<number, number>();
  /** RBBM_PERFCTR_CP(0): 0x400 on a6xx, 0x300 on gen7. */
  private readonly perfctrCp0: number;

  constructor(
    readonly mem: PhysMem,
    opts: AdrenoGpuOptions = {},
  ) {
    const id = opts.chipId ?? ADRENO_630_CHIP_ID;
    // a chip id is the 32-bit core.major.minor.patch word (0x06030002): anything else would wrap into another GPU
    if (!Number.isInteger(id) || id < 0 || id > 0xffff_ffff) throw new RangeError(`adreno: chip id ${typeof id === 'bigint' ? `${String(id)}n` : String(id)} is not a 32-bit chip id (core.major.minor.patch)`);
    this.chipId = id >>> 0;
    this.name = opts.name ?? adrenoName(this.chipId);
    this.gen7 = adrenoIsGen7(this.chipId);
    this.perfctrCp0 = this.gen7 ? R.A7XX_RBBM_PERFCTR_CP_0 : R.A6XX_RBBM_PERFCTR_CP_0;
    this.irq = opts.irq;
    this.execution = opts.execution ?? 'immediate';
    const host: AdrenoCpHost = {
      peekReg: (reg) => this.regValue(reg),
      writeRegFromCp: (reg, v) => this.writeReg(reg, v),
      raiseInt: (bits) => {
        this.intRaw = (this.intRaw | bits) >>> 0;
      },
      smmuTableUpdate: (lo, hi16, asid, cidr, cb) => this.tableUpdate(lo, hi16, asid, cidr, cb),
      alwaysOn: (out) => {
        out.lo = this.ticks % TWO32 >>> 0;
        out.hi = Math.floor(this.ticks / TWO32) >>> 0;
      },
      event: (m) => this.event(m),
    };
    this.cp = new AdrenoCp(mem, host, opts.streamId ?? 0, { vaBits: opts.vaBits, maxChain: opts.maxChain, gen7: this.gen7, a5xx: this.chipId >>> 24 === 5, legacy: this.chipId >>> 24 === 3 || this.chipId >>> 24 === 4 });
  }

  // ------------------------------------------------------------------------------- links

  /** Installs (or removes) the SMMU translation of the GPU's transactions. */
  setTranslator(fn: AdrenoTranslator | undefined): void {
    this.cp.setTranslator(fn);
  }

  get translated(): boolean {
    return this.cp.translated;
  }

  /** The GPU's register path to its SMMU, used by CP_SMMU_TABLE_UPDATE. */
  attachSmmu(port: AdrenoSmmuPort | undefined): void {
    this.smmu = port;
  }

  get smmuPort(): AdrenoSmmuPort | undefined {
    return this.smmu;
  }

  /** Called by the SMMU when software resumes (retry) or terminates a stalled transaction of the GPU. */
  stallResolved(terminate: boolean): void {
    const wasStalled = this.cp.state === 'stalled';
    this.cp.stallResolved(terminate);
    if (!wasStalled || this.cp.state !== 'running') return;
    if (this.execution === 'immediate') this.cp.run();
    if (this.depth === 0) this.updateIrq();
  }

  // ------------------------------------------------------------------------------- inspection

  /**
   * Test-only fault injection: CP_SMMU_TABLE_UPDATE switches TTBR0 without invalidating the
   * context bank's TLB (see AdrenoCp.skipTableUpdateInvalidate).
   */
  get skipTableUpdateInvalidate(): boolean {
    return this.cp.skipTableUpdateInvalidate;
  }

  set skipTableUpdateInvalidate(v: boolean) {
    this.cp.skipTableUpdateInvalidate = v;
  }

  get cpState(): AdrenoCpState {
    return this.cp.state;
  }

  /** RBBM_INT_0 bits latched (before the mask). */
  get interruptsPending(): number {
    return this.intRaw;
  }

  get busy(): boolean {
    return this.cp.busy;
  }

  get stats(): AdrenoGpuStats {
    return { registerAccesses: this.accesses, softResets: this.softResets, interrupts: this.interrupts };
  }

  /** Runs the CP now (the only way it runs in 'manual' execution; harmless otherwise). */
  run(): void {
    this.depth++;
    try {
      this.cp.run();
    } finally {
      this.depth--;
    }
    if (this.depth === 0) this.updateIrq();
  }

  protected event(m: string): void {
    if (this.events.length >= this.eventLogSize) this.events.shift();
    this.events.push(m);
  }

  // ------------------------------------------------------------------------------- MMIO

  read32(offset: number): number {
    if (offset % 4 !== 0) return 0;
    this.enter();
    try {
      return this.regValue(offset / 4) >>> 0;
    } finally {
      this.leave();
    }
  }

  write32(offset: number, value: number): void {
    if (offset % 4 !== 0) return;
    this.enter();
    try {
      this.writeReg(offset / 4, value >>> 0);
    } finally {
      this.leave();
    }
  }

  private enter(): void {
    this.depth++;
    this.accesses++;
    this.ticks++;
  }

  private leave(): void {
    this.depth--;
    if (this.depth !== 0) return;
    // Time passes with register accesses: a CP waiting on a register or memory value looks again.
    if (this.cp.state === 'waiting' && this.execution === 'immediate') this.cp.run();
    this.updateIrq();
  }

  private updateIrq(): void {
    const line = this.irq;
    if (line === undefined) return;
    if ((this.intRaw & this.intMask) !== 0) {
      if (!line.level) this.interrupts++;
      line.raise();
    } else {
      line.lower();
    }
  }

  /** The value of register `reg` (a word offset), with no side effect. */
  protected regValue(reg: number): number {
    const cp = this.cp;
    switch (reg) {
      case R.A6XX_RBBM_INT_0_MASK: return this.intMask;
      case R.A6XX_RBBM_INT_0_STATUS: return (this.intRaw & this.intMask) >>> 0;
      case R.A6XX_RBBM_INT_CLEAR_CMD: return 0;
      case R.A6XX_RBBM_STATUS:
        return cp.busy ? R.A6XX_RBBM_STATUS_GPU_BUSY_IGN_AHB | R.A6XX_RBBM_STATUS_GPU_BUSY_IGN_AHB_CP | R.A6XX_RBBM_STATUS_CP_BUSY : 0;
      case R.A6XX_RBBM_STATUS3: return cp.state === 'stalled' ? R.A6XX_RBBM_STATUS3_SMMU_STALLED_ON_FAULT : 0;
      case R.A6XX_RBBM_SW_RESET_CMD: return this.swReset;
      case R.A6XX_RBBM_GBIF_HALT: return this.rbbmGbifHalt;
      case R.A6XX_RBBM_GBIF_HALT_ACK: return this.rbbmGbifHalt;
      case R.A6XX_GBIF_HALT: return this.gbifHalt;
      case R.A6XX_GBIF_HALT_ACK: return this.gbifHalt;
      case R.A6XX_VBIF_XIN_HALT_CTRL0: return this.vbifHalt;
      case R.A6XX_VBIF_XIN_HALT_CTRL1: return this.vbifHalt;
      case R.A6XX_RBBM_PERFCTR_SRAM_INIT_CMD: return this.sramInit;
      case R.A6XX_RBBM_PERFCTR_SRAM_INIT_STATUS: return this.sramInit & 1;

      case R.A6XX_CP_RB_BASE: return cp.rbBase % TWO32 >>> 0;
      case R.A6XX_CP_RB_BASE_HI: return Math.floor(cp.rbBase / TWO32) >>> 0;
      case R.A6XX_CP_RB_CNTL: return cp.rbCntl;
      case R.A6XX_CP_RB_RPTR_ADDR: return cp.rptrAddr % TWO32 >>> 0;
      case R.A6XX_CP_RB_RPTR_ADDR_HI: return Math.floor(cp.rptrAddr / TWO32) >>> 0;
      case R.A6XX_CP_RB_RPTR: return cp.rptr;
      case R.A6XX_CP_RB_WPTR: return cp.wptr;
      case R.A6XX_CP_SQE_CNTL: return this.sqeCntl;
      case R.A6XX_CP_HW_FAULT: return cp.hwFault;
      case R.A6XX_CP_INTERRUPT_STATUS: return cp.interruptStatus;
      case R.A6XX_CP_PROTECT_STATUS: return cp.protectStatus;
      case R.A6XX_CP_PROTECT_CNTL: return cp.protectCntl;
      case R.A6XX_CP_SQE_STAT_ADDR: return this.sqeStatAddr;
      case R.A6XX_CP_SQE_STAT_DATA: return this.sqeStatAddr === 1 ? cp.badHeader : 0;
      case R.A6XX_CP_IB1_BASE: return cp.depth >= 1 ? cp.ibBase[1]! % TWO32 >>> 0 : 0;
      case R.A6XX_CP_IB1_BASE_HI: return cp.depth >= 1 ? Math.floor(cp.ibBase[1]! / TWO32) >>> 0 : 0;
      case R.A6XX_CP_IB1_REM_SIZE: return cp.ibRemaining(1);
      case R.A6XX_CP_IB2_BASE: return cp.depth >= 2 ? cp.ibBase[2]! % TWO32 >>> 0 : 0;
      case R.A6XX_CP_IB2_BASE_HI: return cp.depth >= 2 ? Math.floor(cp.ibBase[2]! / TWO32) >>> 0 : 0;
      case R.A6XX_CP_IB2_REM_SIZE: return cp.ibRemaining(2);
      case R.A6XX_CP_ALWAYS_ON_COUNTER: return this.ticks % TWO32 >>> 0;
      case R.A6XX_CP_ALWAYS_ON_COUNTER_HI: return Math.floor(this.ticks / TWO32) >>> 0;
      default:
        if (reg === this.perfctrCp0) return cp.stats.packets % TWO32 >>> 0;
        if (reg === this.perfctrCp0 + 1) return Math.floor(cp.stats.packets / TWO32) >>> 0;
        if (reg >= R.A6XX_CP_PROTECT_0 && reg < R.A6XX_CP_PROTECT_0 + R.A6XX_CP_PROTECT_COUNT) return cp.protect[reg - R.A6XX_CP_PROTECT_0]!;
        if (this.gen7 && this.isGen7Status(reg)) return 0;
        return this.storage.get(reg) ?? 0;
    }
  }

  /** A register write from the bus or from the command stream. */
  protected writeReg(reg: number, v: number): void {
    const cp = this.cp;
    switch (reg) {
      case R.A6XX_RBBM_INT_0_MASK: this.intMask = v; return;
      case R.A6XX_RBBM_INT_CLEAR_CMD: this.intRaw = (this.intRaw & ~v) >>> 0; return;
      case R.A6XX_RBBM_INT_0_STATUS:
      case R.A6XX_RBBM_STATUS:
      case R.A6XX_RBBM_STATUS3:
      case R.A6XX_RBBM_GBIF_HALT_ACK:
      case R.A6XX_GBIF_HALT_ACK:
      case R.A6XX_VBIF_XIN_HALT_CTRL1:
      case R.A6XX_RBBM_PERFCTR_SRAM_INIT_STATUS:
      case R.A6XX_CP_RB_RPTR:
      case R.A6XX_CP_HW_FAULT:
      case R.A6XX_CP_PROTECT_STATUS:
      case R.A6XX_CP_SQE_STAT_DATA:
      case R.A6XX_CP_IB1_BASE:
      case R.A6XX_CP_IB1_BASE_HI:
      case R.A6XX_CP_IB1_REM_SIZE:
      case R.A6XX_CP_IB2_BASE:
      case R.A6XX_CP_IB2_BASE_HI:
      case R.A6XX_CP_IB2_REM_SIZE:
      case R.A6XX_CP_ALWAYS_ON_COUNTER:
      case R.A6XX_CP_ALWAYS_ON_COUNTER_HI:
        return; // read-only
      case R.A6XX_RBBM_SW_RESET_CMD:
        if ((v & 1) !== 0 && (this.swReset & 1) === 0) this.softReset();
        this.swReset = v & 1;
        return;
      case R.A6XX_RBBM_GBIF_HALT: this.rbbmGbifHalt = v; return;
      case R.A6XX_GBIF_HALT: this.gbifHalt = v; return;
      case R.A6XX_VBIF_XIN_HALT_CTRL0: this.vbifHalt = v; return;
      case R.A6XX_RBBM_PERFCTR_SRAM_INIT_CMD: this.sramInit = v & 1; return;
      case R.A6XX_CP_RB_BASE: cp.setRbBase(v, undefined); return;
      case R.A6XX_CP_RB_BASE_HI: cp.setRbBaseHi(v); return;
      case R.A6XX_CP_RB_CNTL: cp.setRbCntl(v); return;
      case R.A6XX_CP_RB_RPTR_ADDR: cp.rptrAddr = cp.addr(v, Math.floor(cp.rptrAddr / TWO32)); return;
      case R.A6XX_CP_RB_RPTR_ADDR_HI: cp.rptrAddr = cp.addr(cp.rptrAddr % TWO32, v); return;
      case R.A6XX_CP_RB_WPTR:
        cp.setWptr(v);
        if (this.execution === 'immediate') cp.run();
        return;
      case R.A6XX_CP_SQE_CNTL:
        this.sqeCntl = v;
        cp.setSqeCntl(v);
        if (this.execution === 'immediate') cp.run();
        return;
      case R.A6XX_CP_INTERRUPT_STATUS:
        cp.interruptStatus = (cp.interruptStatus & ~v) >>> 0;
        return;
      case R.A6XX_CP_PROTECT_CNTL: cp.protectCntl = v; return;
      case R.A6XX_CP_SQE_STAT_ADDR: this.sqeStatAddr = v; return;
      default:
        if (reg >= R.A6XX_CP_PROTECT_0 && reg < R.A6XX_CP_PROTECT_0 + R.A6XX_CP_PROTECT_COUNT) {
          cp.protect[reg - R.A6XX_CP_PROTECT_0] = v;
          return;
        }
        // the CP cycle counter and the BV status registers are read-only
        if (reg === this.perfctrCp0 || reg === this.perfctrCp0 + 1) return;
        if (this.gen7 && this.isGen7Status(reg)) return;
        this.storage.set(reg, v);
    }
  }

  /** The gen7 BV status registers (read-only, 0: the model reports errors in the BR registers). */
  private isGen7Status(reg: number): boolean {
    return reg === R.A7XX_CP_BV_HW_FAULT || reg === R.A7XX_CP_BV_PROTECT_STATUS || reg === R.A7XX_CP_BV_SQE_STAT_DATA;
  }

  /** RBBM_SW_RESET_CMD: the CP and the interrupt block return to their reset state. */
  protected softReset(): void {
    this.softResets++;
    this.cp.softReset();
    this.sqeCntl = 0;
    this.intRaw = 0;
    this.intMask = 0;
    this.sqeStatAddr = 0;
  }

  // ------------------------------------------------------------------------------- SMMU

  /**
   * CP_SMMU_TABLE_UPDATE through the SMMU's register interface: TTBR0 (table address with the
   * ASID in [63:48]) and CONTEXTIDR of context bank `cb`, then TLBIALL on that bank and a
   * TLBSYNC the CP waits for (SYNC_POLLS status reads at most). Returns 0 or a CP_HW_FAULT code.
   */
  private tableUpdate(lo: number, hi16: number, asid: number, contextidr: number, cb: number): number {
    const smmu = this.smmu;
    if (smmu === undefined) {
      this.event('CP_SMMU_TABLE_UPDATE with no SMMU behind the GPU: nothing to program');
      return 0;
    }
    let base: number;
    try {
      base = smmu.contextBankOffset(cb);
    } catch {
      this.event(`CP_SMMU_TABLE_UPDATE names context bank ${cb}, which ${smmu.name} does not implement: the writes are ignored`);
      return 0;
    }
    smmu.write32(base + CB_TTBR0, lo >>> 0);
    smmu.write32(base + CB_TTBR0 + 4, (((asid & 0xffff) << 16) | (hi16 & 0xffff)) >>> 0);
    smmu.write32(base + CB_CONTEXTIDR, contextidr >>> 0);
    if (this.cp.skipTableUpdateInvalidate) return 0;
    smmu.write32(base + CB_TLBIALL, 0);
    smmu.write32(base + CB_TLBSYNC, 0);
    for (let i = 0; i < SYNC_POLLS; i++) if ((smmu.read32(base + CB_TLBSTATUS) & TLBSTATUS_SACTIVE) === 0) return 0;
    return R.A6XX_CP_HW_FAULT_SMMU_SYNC_TIMEOUT;
  }
}
