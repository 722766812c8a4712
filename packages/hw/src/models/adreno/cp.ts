/**
 * The Adreno a6xx command processor (CP): fetches PM4 packets from the ringbuffer and from
 * indirect buffers (IB1, IB2) at GPU virtual addresses and executes a subset of them. Every
 * memory access (ring and IB fetches, packet payload reads and writes, fence and read-pointer
 * writes) goes through the GPU's translator, i.e. the SMMU context bank of its stream, one
 * translation per 4 KiB piece.
 *
 * Execution is an interpreter that can stop at any memory access: a translation the SMMU
 * stalls (SCTLR.CFCFG) suspends the CP with everything before the access committed, and the
 * CP goes on from that access when the SMMU retries it (RESUME) or treats it as aborted when
 * the SMMU terminates it. An aborted access (terminated, reported or not, or a bus error)
 * reads as zeros and drops writes, as a GPU does; a command fetch that reads zeros then fails
 * as an invalid packet header (CP opcode error), while a data access that is aborted lets the
 * packet complete. The CP never allocates per packet or per access.
 *
 * The read pointer (CP_RB_RPTR, and the shadow at CP_RB_RPTR_ADDR) advances past a packet
 * once it has executed, and past a CP_INDIRECT_BUFFER once the IB has returned, so it says how
 * far the ring has executed.
 *
 * A gen7 CP (a730, a740, a750; `gen7` option) reads the packets whose layout changed with that
 * generation in their gen7 form: CP_EVENT_WRITE7 (the write is governed by WRITE_ENABLED and
 * WRITE_SRC, and CACHE_CLEAN raises the CACHE_CLEAN_TS interrupt), CP_WAIT_TIMESTAMP (0x14,
 * CP_WAIT_MEM_GTE on a6xx), CP_THREAD_CONTROL and CP_RESET_CONTEXT_STATE. Gen7 hardware has two
 * command-processor threads, BR (render) and BV (visibility), fed from the same ring; the model
 * runs one interpreter that executes every packet once, in ring order, whichever thread
 * CP_THREAD_CONTROL selects, and records the selection (`thread`) so that what only BR may do
 * (the page-table switch) can be checked.
 *
 * An a3xx/a4xx CP (`legacy` option) reads the PM4 packets of that generation: type-0 headers
 * (register writes: the first register in [14:0], count - 1 in [29:16], bit 15 writing every
 * word to the one register), type-2 fillers, and type-3 packets (opcode in [15:8], count - 1 in
 * [29:16]) with the opcode numbers of type 7. Its GPU addresses are 32 bits wide, so every
 * address in a payload is one word: CP_MEM_WRITE [addr, data...], CP_EVENT_WRITE [event, addr,
 * data], CP_INDIRECT_BUFFER_PFE/PFD [addr, size], CP_REG_TO_MEM [reg|cnt, addr],
 * CP_MEM_TO_MEM [flags, dst, src...], CP_WAIT_REG_MEM [function, addr or register, ref, mask,
 * delay], and the model's own GKI_FILL [dst, bytes, pattern] and GKI_CHECKSUM [src, bytes,
 * dst]. The payload is widened to the 64-bit layouts once fetched, so the same executors run
 * it. The a5xx CP_PROTECT entry layout applies (16 entries), and errors latch the a3xx
 * RBBM_INT_0 bits (CP_OPCODE_ERROR, CP_HW_FAULT, CP_REG_PROTECT_FAULT).
 */
import { PAGE_SIZE, PhysMem } from '../../mem.js';
import type { SmmuV2Translation } from '../smmu-v2/smmu.js';
import * as R from './regs.js';

/** What the CP needs from the GPU around it. */
export interface AdrenoCpHost {
  /** A register read with no side effect (CP_REG_TO_MEM, CP_WAIT_REG_MEM, CP_REG_RMW). */
  peekReg(reg: number): number;
  /** A register write from the command stream (type-4 packets, CP_REG_WRITE, CP_REG_RMW). */
  writeRegFromCp(reg: number, value: number): void;
  /** Latches RBBM_INT_0 bits. */
  raiseInt(bits: number): void;
  /** The CP's SMMU table update: 0 done, else a CP_HW_FAULT code. */
  smmuTableUpdate(ttbrLo: number, ttbrHi16: number, asid: number, contextidr: number, contextBank: number): number;
  /** The always-on counter (a monotonic tick count), as two 32-bit halves into `out`. */
  alwaysOn(out: { lo: number; hi: number }): void;
  /** A protocol event for the log. */
  event(message: string): void;
}

/** The translation hook a bus master receives from its IOMMU model (DmaTranslator-compatible). */
export type AdrenoTranslator = (streamId: number, iova: number, write: boolean, out: SmmuV2Translation) => boolean;

/** CP execution state. */
export type AdrenoCpState = 'disabled' | 'idle' | 'running' | 'stalled' | 'waiting' | 'halted' | 'hung';

/** One memory access the GPU could not make (translation fault terminated, or bus error). */
export interface AdrenoAbortRecord {
  readonly va: number;
  readonly write: boolean;
  /** 'fault': the SMMU aborted or terminated the transaction; 'bus': translated outside RAM. */
  readonly kind: 'fault' | 'bus';
  /** What the CP was doing: 'fetch' (ring/IB), or the packet's name. */
  readonly what: string;
}

/** A CP_SMMU_TABLE_UPDATE as the CP executed it. */
export interface AdrenoTableUpdateRecord {
  readonly ttbr0: bigint;
  readonly asid: number;
  readonly contextidr: number;
  readonly contextBank: number;
  /** Whether the CP invalidated the bank's TLB (false only under `skipTableUpdateInvalidate`). */
  readonly invalidated: boolean;
  /** 0, or the CP_HW_FAULT code the update ended with. */
  readonly fault: number;
  /** Gen7: the CP threads selected when the update executed (1 BR, 2 BV, 3 both); 0 on a6xx. */
  readonly thread: number;
}

export interface AdrenoCpStats {
  packets: number;
  type4: number;
  /** Executed type-7 packets by opcode name. */
  opcodes: Record<string, number>;
  skipped: number;
  ibs: number;
  translations: number;
  bytesRead: number;
  bytesWritten: number;
  stalls: number;
  retries: number;
  terminations: number;
  aborts: number;
  busErrors: number;
  fences: number;
  tableUpdates: number;
  /** Gen7: CP_SMMU_TABLE_UPDATE executed while the BV thread was selected too (it may run ahead on the old table). */
  bvTableUpdates: number;
  opcodeErrors: number;
  protectionErrors: number;
  hwFaults: number;
  waits: number;
}

const STEP_DONE = 0;
const STEP_STOP = 1;
/** xlate results besides a PA. */
const ABORT = -1;
const STALL = -2;
/** Packet execution results. */
const EX_DONE = 0;
const EX_STOP = 1;
const EX_PUSHED = 2;

const TWO32 = 2 ** 32;
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const MAX_PAYLOAD = 0x3fff;

const OPCODE_NAMES: Record<number, string> = {
  [R.CP_NOP]: 'CP_NOP',
  [R.CP_WAIT_MEM_WRITES]: 'CP_WAIT_MEM_WRITES',
  [R.CP_WAIT_FOR_ME]: 'CP_WAIT_FOR_ME',
  [R.CP_WAIT_MEM_GTE]: 'CP_WAIT_MEM_GTE',
  [R.CP_REG_RMW]: 'CP_REG_RMW',
  [R.CP_WAIT_FOR_IDLE]: 'CP_WAIT_FOR_IDLE',
  [R.CP_WAIT_REG_MEM]: 'CP_WAIT_REG_MEM',
  [R.CP_MEM_WRITE]: 'CP_MEM_WRITE',
  [R.CP_REG_TO_MEM]: 'CP_REG_TO_MEM',
  [R.CP_INDIRECT_BUFFER]: 'CP_INDIRECT_BUFFER',
  [R.CP_INTERRUPT]: 'CP_INTERRUPT',
  [R.CP_EVENT_WRITE]: 'CP_EVENT_WRITE',
  [R.CP_ME_INIT]: 'CP_ME_INIT',
  [R.CP_SMMU_TABLE_UPDATE]: 'CP_SMMU_TABLE_UPDATE',
  [R.CP_INDIRECT_BUFFER_CHAIN]: 'CP_INDIRECT_BUFFER_CHAIN',
  [R.CP_SET_PROTECTED_MODE]: 'CP_SET_PROTECTED_MODE',
  [R.CP_WHERE_AM_I]: 'CP_WHERE_AM_I',
  [R.CP_SET_MARKER]: 'CP_SET_MARKER',
  [R.CP_SET_SECURE_MODE]: 'CP_SET_SECURE_MODE',
  [R.CP_REG_WRITE]: 'CP_REG_WRITE',
  [R.CP_MEM_TO_MEM]: 'CP_MEM_TO_MEM',
  [R.CP_MEMCPY]: 'CP_MEMCPY',
  [R.CP_GKI_FILL]: 'GKI_FILL',
  [R.CP_GKI_CHECKSUM]: 'GKI_CHECKSUM',
};

/** Gen7 names of the opcodes whose meaning changed or that gen7 added and the model executes. */
const GEN7_OPCODE_NAMES: Record<number, string> = {
  ...OPCODE_NAMES,
  [R.CP_EVENT_WRITE]: 'CP_EVENT_WRITE7',
  [R.A7XX_CP_WAIT_TIMESTAMP]: 'CP_WAIT_TIMESTAMP',
  [R.A7XX_CP_THREAD_CONTROL]: 'CP_THREAD_CONTROL',
  [R.A7XX_CP_RESET_CONTEXT_STATE]: 'CP_RESET_CONTEXT_STATE',
};

/** The a5xx names: the a6xx ones without the packets a5xx does not have. */
const A5XX_OPCODE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(OPCODE_NAMES).filter(([op]) => !R.A5XX_MISSING_OPCODES.includes(Number(op))),
);

const SKIPPED = new Uint8Array(128);
for (const op of R.A6XX_SKIPPED_OPCODES) SKIPPED[op] = 1;
const GEN7_SKIPPED = new Uint8Array(SKIPPED);
for (const op of R.A7XX_SKIPPED_OPCODES) GEN7_SKIPPED[op] = 1;

/** The a3xx/a4xx names: no packet a5xx or later added, and the prefetch-parser IB call. */
const LEGACY_OPCODE_NAMES: Record<number, string> = {
  ...Object.fromEntries(Object.entries(OPCODE_NAMES).filter(([op]) => !R.AXXX_MISSING_OPCODES.includes(Number(op)))),
  [R.CP_INDIRECT_BUFFER]: 'CP_INDIRECT_BUFFER_PFE',
  [R.CP_INDIRECT_BUFFER_PFD]: 'CP_INDIRECT_BUFFER_PFD',
};
const LEGACY_SKIPPED = new Uint8Array(256);
for (const op of R.A6XX_SKIPPED_OPCODES) if (op !== R.CP_INDIRECT_BUFFER_PFD) LEGACY_SKIPPED[op] = 1;

/** The name of a type-7 opcode the model knows ("CP_MEMCPY"), or its number in hex; `gen7` for the gen7 meaning. */
export function adrenoOpcodeName(opcode: number, gen7 = false): string {
  return (gen7 ? GEN7_OPCODE_NAMES : OPCODE_NAMES)[opcode] ?? `opcode 0x${opcode.toString(16)}`;
}

function pageRemainder(va: number): number {
  return PAGE_SIZE - (va % PAGE_SIZE);
}

export interface AdrenoCpOptions {
  /** Width of the GPU virtual address; higher bits of packet addresses are ignored (default 49). */
  readonly vaBits?: number;
  /** Records kept in `aborts` and `tableUpdates` (default 256 each). */
  readonly logSize?: number;
  /**
   * CP_INDIRECT_BUFFER_CHAIN jumps one IB may take before the CP counts as hung (default 65536):
   * a chain that loops would otherwise never return.
   */
  readonly maxChain?: number;
  /** A gen7 CP (a730, a740, a750): gen7 packet layouts and the BR/BV thread selection (default false). */
  readonly gen7?: boolean;
  /**
   * An a5xx CP (a505..a540): the a5xx CP_PROTECT layout and CP_PROTECT_STATUS encoding, and no
   * a6xx-only packets (CP_MEMCPY, CP_REG_WRITE, CP_SET_MARKER, CP_WAIT_MEM_GTE: opcode errors).
   */
  readonly a5xx?: boolean;
  /** An a3xx/a4xx CP: type-0/2/3 packets, 32-bit payload addresses, the a3xx interrupt bits. */
  readonly legacy?: boolean;
}

export class AdrenoCp {
  readonly stats: AdrenoCpStats = AdrenoCp.freshStats();
  /** The last aborted accesses, newest last (at least the last `logSize`, at most twice that). */
  readonly aborts: AdrenoAbortRecord[] = [];
  /** The last CP_SMMU_TABLE_UPDATE packets, newest last (at least the last `logSize`, at most twice that). */
  readonly tableUpdates: AdrenoTableUpdateRecord[] = [];
  /**
   * Test-only fault injection: CP_SMMU_TABLE_UPDATE writes TTBR0/CONTEXTIDR but skips the TLB
   * invalidation and sync, so translations cached under the previous table stay visible.
   */
  skipTableUpdateInvalidate = false;

  readonly vaBits: number;
  /** Gen7 packet layouts and thread selection. */
  readonly gen7: boolean;
  /** The a5xx protection layout and packet set. */
  readonly a5xx: boolean;
  /** The a3xx/a4xx packet format and error bits. */
  readonly legacy: boolean;
  /** Gen7: the CP threads CP_THREAD_CONTROL selected (1 BR, 2 BV, 3 both); both after reset. */
  thread: number = R.A7XX_CP_SET_THREAD_BOTH;
  /** Gen7: CP_THREAD_CONTROL.CONCURRENT_BIN_DISABLE as last written. */
  concurrentBinDisabled = false;
  private readonly names: Record<number, string>;
  private readonly skipped: Uint8Array;
  private readonly vaSpan: number;
  private readonly logSize: number;
  private readonly maxChain: number;
  /** Chain jumps taken at each IB level since it was entered. */
  private readonly chains = [0, 0, 0];

  // ---- programming ----
  rbBase = 0;
  rbCntl = 0;
  rptrAddr = 0;
  private rbWords = 2;
  private rbValid = true;
  wptr = 0;
  rptr = 0;
  protectedMode = true;
  protectCntl = 0;
  readonly protect = new Uint32Array(R.A6XX_CP_PROTECT_COUNT);

  // ---- error state (CP_INTERRUPT_STATUS, CP_HW_FAULT, CP_PROTECT_STATUS, SQE_STAT) ----
  interruptStatus = 0;
  hwFault = 0;
  protectStatus = 0;
  /** The header of the packet an opcode error stopped on (CP_SQE_STAT_DATA at address 1). */
  badHeader = 0;

  // ---- execution ----
  state: AdrenoCpState = 'disabled';
  private enabled = false;
  private running = false;
  private kick = false;
  /** Stream levels: 0 = ringbuffer, 1 = IB1, 2 = IB2. */
  depth = 0;
  readonly ibBase = [0, 0, 0];
  readonly ibWords = [0, 0, 0];
  readonly ibPos = [0, 0, 0];
  /** Where a level continues once the IB it called returns. */
  private readonly returnPos = [0, 0, 0];
  private phase = 0;
  private pktLevel = 0;
  private pktPos = 0;
  private pktEnd = 0;
  private hdr = 0;
  private count = 0;
  private opcode = -1;
  private reg = 0;
  /** Type-0 with bit 15: every word goes to the one register. */
  private oneReg = false;
  private got = 0;
  /** Room for the largest payload and the words widening a legacy packet's addresses adds. */
  private readonly payload = new Uint32Array(MAX_PAYLOAD + 1 + 16);
  private readonly one = new Uint32Array(1);
  /** Per-packet progress (bytes, words or operands done) and scratch state. */
  private progress = 0;
  private srcPa = -3;
  private hash = 0;
  private readonly operandLo = new Uint32Array(8);
  private readonly operandHi = new Uint32Array(8);
  private readonly regValues = new Uint32Array(0x1000);
  private shadowDirty = false;
  /** Registers or the timestamp sampled for the packet in progress. */
  private sampled = false;

  // ---- translation ----
  private translator: AdrenoTranslator | undefined;
  private readonly out: SmmuV2Translation & { stalled: boolean; sink: boolean } = { pa: 0, stalled: false, sink: false };
  private inTranslate = false;
  private pendingResume = 0;
  private abortNext = false;
  private readonly ts = { lo: 0, hi: 0 };
  private what = 'fetch';

  constructor(
    private readonly mem: PhysMem,
    private readonly host: AdrenoCpHost,
    readonly streamId: number,
    opts: AdrenoCpOptions = {},
  ) {
    this.vaBits = opts.vaBits ?? 49;
    this.gen7 = opts.gen7 ?? false;
    this.a5xx = opts.a5xx ?? false;
    this.legacy = opts.legacy ?? false;
    if (Number(this.gen7) + Number(this.a5xx) + Number(this.legacy) > 1) throw new RangeError('a CP is one of gen7, a5xx or legacy (a3xx/a4xx)');
    this.names = this.gen7 ? GEN7_OPCODE_NAMES : this.a5xx ? A5XX_OPCODE_NAMES : this.legacy ? LEGACY_OPCODE_NAMES : OPCODE_NAMES;
    this.skipped = this.gen7 ? GEN7_SKIPPED : this.legacy ? LEGACY_SKIPPED : SKIPPED;
    if (!Number.isInteger(this.vaBits) || this.vaBits < 32 || this.vaBits > 52) throw new RangeError(`bad GPU VA width ${this.vaBits}`);
    this.vaSpan = 2 ** this.vaBits;
    this.logSize = opts.logSize ?? 256;
    this.maxChain = opts.maxChain ?? 65536;
    if (!Number.isInteger(this.maxChain) || this.maxChain < 1) throw new RangeError(`bad CP chain limit ${this.maxChain}`);
    this.setRbCntl(0);
  }

  static freshStats(): AdrenoCpStats {
    return {
      packets: 0,
      type4: 0,
      opcodes: {},
      skipped: 0,
      ibs: 0,
      translations: 0,
      bytesRead: 0,
      bytesWritten: 0,
      stalls: 0,
      retries: 0,
      terminations: 0,
      aborts: 0,
      busErrors: 0,
      fences: 0,
      tableUpdates: 0,
      bvTableUpdates: 0,
      opcodeErrors: 0,
      protectionErrors: 0,
      hwFaults: 0,
      waits: 0,
    };
  }

  setTranslator(fn: AdrenoTranslator | undefined): void {
    this.translator = fn;
  }

  get translated(): boolean {
    return this.translator !== undefined;
  }

  /** A GPU virtual address from two packet words (bits above the VA width ignored). */
  addr(lo: number, hi: number): number {
    return ((hi >>> 0) % (this.vaSpan / TWO32)) * TWO32 + (lo >>> 0);
  }

  /** Ring size in 32-bit words, from CP_RB_CNTL.BUFSZ. */
  get ringWords(): number {
    return this.rbWords;
  }

  /** True while the CP has work it has not finished (RBBM_STATUS busy bits). */
  get busy(): boolean {
    if (this.state === 'running' || this.state === 'stalled' || this.state === 'waiting' || this.state === 'hung' || this.isHalted()) return true;
    return this.enabled && this.rbValid && (this.rptr !== this.wptr || this.depth > 0 || this.phase !== 0);
  }

  // ===========================================================================================
  // Programming

  setRbCntl(v: number): void {
    this.rbCntl = v >>> 0;
    const bufsz = v & R.AXXX_CP_RB_CNTL_BUFSZ_MASK;
    this.rbValid = bufsz <= 26;
    this.rbWords = this.rbValid ? 2 ** (bufsz + 1) : 2;
    this.resetRing();
  }

  setRbBase(lo: number, hi: number | undefined): void {
    const curHi = Math.floor(this.rbBase / TWO32);
    this.rbBase = this.addr(lo, hi ?? curHi);
    this.resetRing();
  }

  setRbBaseHi(hi: number): void {
    this.rbBase = this.addr(this.rbBase % TWO32, hi);
    this.resetRing();
  }

  /** Programming the ring restarts the CP's ring pointers at 0 and drops any half-executed packet. */
  private resetRing(): void {
    this.rptr = 0;
    this.wptr = 0;
    this.clearExecution();
  }

  private clearExecution(): void {
    this.depth = 0;
    this.phase = 0;
    this.progress = 0;
    this.abortNext = false;
    this.shadowDirty = false;
    if (this.state !== 'disabled') this.state = 'idle';
  }

  /** CP_SQE_CNTL: bit 0 starts the SQE; bit 1 (or bit 0 clear) halts it. */
  setSqeCntl(v: number): void {
    const on = (v & 1) !== 0 && (v & 2) === 0;
    if (!on) {
      this.enabled = false;
      this.state = 'disabled';
      return;
    }
    if (this.enabled && !this.isHalted() && this.state !== 'hung') return;
    this.enabled = true;
    if (this.isHalted() || this.state === 'hung' || this.state === 'disabled') this.clearExecution();
    this.state = 'idle';
    this.phase = 0;
    this.depth = 0;
  }

  get sqeEnabled(): boolean {
    return this.enabled;
  }

  setWptr(v: number): void {
    const w = v >>> 0;
    if (w >= this.rbWords) this.host.event(`CP_RB_WPTR 0x${w.toString(16)} is beyond the ${this.rbWords}-word ring; using it modulo the ring size`);
    this.wptr = w % this.rbWords;
  }

  /** RBBM_SW_RESET_CMD: the CP loses its execution state, errors, pointers and protected-mode setting. */
  softReset(): void {
    this.enabled = false;
    this.state = 'disabled';
    this.rptr = 0;
    this.wptr = 0;
    this.depth = 0;
    this.phase = 0;
    this.progress = 0;
    this.abortNext = false;
    this.shadowDirty = false;
    this.interruptStatus = 0;
    this.hwFault = 0;
    this.protectStatus = 0;
    this.badHeader = 0;
    this.protectedMode = true;
    this.thread = R.A7XX_CP_SET_THREAD_BOTH;
    this.concurrentBinDisabled = false;
  }

  // ===========================================================================================
  // Stalls

  /** The SMMU's answer to a stalled transaction of this master: retry it or terminate it. */
  stallResolved(terminate: boolean): void {
    if (this.inTranslate) {
      this.pendingResume = terminate ? 2 : 1;
      return;
    }
    if (this.state !== 'stalled') return;
    if (terminate) {
      this.stats.terminations++;
      this.abortNext = true;
    } else {
      this.stats.retries++;
    }
    this.state = 'running';
  }

  private isHalted(): boolean {
    return this.state === 'halted';
  }

  get stalled(): boolean {
    return this.state === 'stalled';
  }

  // ===========================================================================================
  // The run loop

  /**
   * Executes until the ring is drained or the CP stops (stalled, waiting, halted). Re-entrant
   * calls (a register write from an interrupt handler that runs during execution) only ask the
   * running loop to look again.
   */
  run(): void {
    if (this.running) {
      this.kick = true;
      return;
    }
    if (!this.enabled || this.isHalted() || this.state === 'stalled' || this.state === 'hung') return;
    this.running = true;
    try {
      do {
        this.kick = false;
        this.state = 'running';
        while (this.step() === STEP_DONE);
      } while (this.kick && (this.state as AdrenoCpState) === 'idle');
    } finally {
      this.running = false;
    }
  }

  private step(): number {
    if (!this.rbValid) {
      this.hwError(R.A6XX_CP_HW_FAULT_RB_SIZE, `CP_RB_CNTL.BUFSZ ${this.rbCntl & 0x3f} gives no usable ring`);
      return STEP_STOP;
    }
    if (this.phase === 0) {
      const L = this.depth;
      if (L > 0 && this.ibPos[L]! >= this.ibWords[L]!) {
        // The IB is done: the level that called it goes on after its CP_INDIRECT_BUFFER.
        this.depth = L - 1;
        if (L - 1 === 0) {
          this.rptr = this.returnPos[0]!;
          this.shadowDirty = true;
        } else {
          this.ibPos[L - 1] = this.returnPos[L - 1]!;
        }
        return STEP_DONE;
      }
      let avail = 0;
      let pos: number;
      if (L === 0) {
        avail = (this.wptr - this.rptr + this.rbWords) % this.rbWords;
        if (avail === 0) return this.goIdle();
        pos = this.rptr;
      } else {
        pos = this.ibPos[L]!;
      }
      this.what = 'fetch';
      const r = this.fetch(L, pos, 1, this.one, 0);
      if (r === STALL) return STEP_STOP;
      const h = this.one[0]!;
      const type = h >>> 28;
      let count: number;
      this.oneReg = false;
      if (this.legacy) {
        const t = h >>> 30;
        if (t === 0) {
          count = ((h >>> 16) & 0x3fff) + 1;
          this.opcode = -1;
          this.reg = h & 0x7fff;
          this.oneReg = (h & R.CP_TYPE0_ONE_REG) !== 0;
        } else if (t === 3) {
          count = ((h >>> 16) & 0x3fff) + 1;
          this.opcode = (h >>> 8) & 0xff;
        } else if (h >>> 0 === R.CP_TYPE2_PKT) {
          count = 0;
          this.opcode = -2;
        } else {
          return this.opcodeError(h, `packet type ${t} is not a3xx/a4xx PM4`);
        }
      } else if (type === 4) {
        count = h & 0x7f;
        const reg = (h >>> 8) & 0x3ffff;
        if (((h >>> 7) & 1) !== R.pm4Parity(count) || ((h >>> 27) & 1) !== R.pm4Parity(reg) || (h & 0x04000000) !== 0)
          return this.opcodeError(h, 'bad type-4 header parity');
        this.opcode = -1;
        this.reg = reg;
      } else if (type === 7) {
        count = h & 0x3fff;
        const op = (h >>> 16) & 0x7f;
        if (((h >>> 15) & 1) !== R.pm4Parity(count) || ((h >>> 23) & 1) !== R.pm4Parity(op) || (h & 0x0f000000) !== 0)
          return this.opcodeError(h, 'bad type-7 header parity');
        this.opcode = op;
      } else {
        return this.opcodeError(h, `packet type ${type} is not a6xx PM4`);
      }
      if (L === 0) {
        // A packet the kernel has not finished writing (past CP_RB_WPTR) waits for the rest.
        if (1 + count > avail) return this.goIdle();
        this.pktEnd = (pos + 1 + count) % this.rbWords;
      } else {
        if (pos + 1 + count > this.ibWords[L]!) return this.opcodeError(h, `packet runs ${pos + 1 + count - this.ibWords[L]!} word(s) past the end of its IB${L}`);
        this.pktEnd = pos + 1 + count;
      }
      this.hdr = h;
      this.count = count;
      this.pktLevel = L;
      this.pktPos = pos;
      this.got = 0;
      this.phase = 1;
    }
    if (this.phase === 1) {
      if (this.got < this.count) {
        this.what = 'fetch';
        const base = this.pktLevel === 0 ? (this.pktPos + 1) % this.rbWords : this.pktPos + 1;
        const r = this.fetchPayload(base);
        if (r === STALL) return STEP_STOP;
      }
      if (this.legacy && this.opcode >= 0) this.widenLegacy();
      this.phase = 2;
      this.progress = 0;
      this.sampled = false;
      this.srcPa = -3;
      this.hash = FNV_OFFSET;
    }
    const ex = this.execute();
    if (ex === EX_STOP) return STEP_STOP;
    this.stats.packets++;
    this.phase = 0;
    if (ex === EX_DONE) this.advance();
    return STEP_DONE;
  }

  private advance(): void {
    const L = this.pktLevel;
    if (L === 0) {
      this.rptr = this.pktEnd;
      this.shadowDirty = true;
    } else {
      this.ibPos[L] = this.pktEnd;
    }
  }

  private goIdle(): number {
    if (this.shadowDirty && (this.rbCntl & R.AXXX_CP_RB_CNTL_NO_UPDATE) === 0) {
      this.what = 'rptr shadow';
      const pa = this.xlate(this.rptrAddr - (this.rptrAddr % 4), 4, true);
      if (pa === STALL) return STEP_STOP;
      if (pa >= 0) this.write32(pa, this.rptr);
    }
    this.shadowDirty = false;
    this.state = 'idle';
    return STEP_STOP;
  }

  // ===========================================================================================
  // Errors

  private opcodeError(h: number, why: string): number {
    this.stats.opcodeErrors++;
    this.badHeader = h >>> 0;
    this.interruptStatus |= R.A6XX_CP_INT_OPCODE_ERROR;
    this.host.event(`CP opcode error at ${this.where()}: header 0x${(h >>> 0).toString(16).padStart(8, '0')} (${why})`);
    this.host.raiseInt(this.legacy ? R.A3XX_INT_CP_OPCODE_ERROR : R.A6XX_INT_CP_HW_ERROR);
    this.state = 'halted';
    return STEP_STOP;
  }

  private hwError(code: number, why: string): void {
    this.stats.hwFaults++;
    this.hwFault = code;
    this.interruptStatus |= R.A6XX_CP_INT_HW_FAULT_ERROR;
    this.host.event(`CP hardware fault 0x${code.toString(16)} at ${this.where()}: ${why}`);
    this.host.raiseInt(this.legacy ? R.A3XX_INT_CP_HW_FAULT : R.A6XX_INT_CP_HW_ERROR);
    this.state = 'halted';
  }

  private where(): string {
    const L = this.phase === 0 ? this.depth : this.pktLevel;
    const pos = this.phase === 0 ? (L === 0 ? this.rptr : this.ibPos[L]!) : this.pktPos;
    return L === 0 ? `ring word 0x${pos.toString(16)}` : `IB${L} 0x${this.ibBase[L]!.toString(16)} word 0x${pos.toString(16)}`;
  }

  /** Whether register `reg` is protected for this access in the current mode. */
  private isProtected(reg: number, write: boolean): boolean {
    if (this.a5xx || this.legacy) return this.isProtectedA5xx(reg, write);
    if (!this.protectedMode || (this.protectCntl & R.A6XX_CP_PROTECT_CNTL_ACCESS_PROT_EN) === 0) return false;
    const last = R.A6XX_CP_PROTECT_COUNT - 1;
    for (let i = 0; i <= last; i++) {
      const v = this.protect[i]!;
      if (!write && (v & R.A6XX_CP_PROTECT_READ) === 0) continue;
      const base = v & R.A6XX_CP_PROTECT_BASE_MASK;
      const len = (v >>> R.A6XX_CP_PROTECT_LEN_SHIFT) & R.A6XX_CP_PROTECT_LEN_MASK;
      if (reg < base) continue;
      if (i === last && (this.protectCntl & R.A6XX_CP_PROTECT_CNTL_LAST_SPAN_INF_RANGE) !== 0) return true;
      if (reg <= base + len) return true;
    }
    return false;
  }

  /**
   * a5xx: each CP_PROTECT entry traps writes (and reads with TRAP_READ) of the 2^MASK_LEN
   * registers from BASE_ADDR (a byte address); CP_PROTECT_CNTL.ENABLE turns checking on.
   */
  private isProtectedA5xx(reg: number, write: boolean): boolean {
    if (!this.protectedMode || (this.protectCntl & R.A5XX_CP_PROTECT_CNTL_ENABLE) === 0) return false;
    const entries = this.legacy ? R.AXXX_CP_PROTECT_COUNT : R.A5XX_CP_PROTECT_COUNT;
    for (let i = 0; i < entries; i++) {
      const v = this.protect[i]!;
      if ((v & (write ? R.A5XX_CP_PROTECT_TRAP_WRITE : R.A5XX_CP_PROTECT_TRAP_READ)) === 0) continue;
      const base = (v & R.A5XX_CP_PROTECT_BASE_MASK) >>> 2;
      const len = 2 ** ((v >>> R.A5XX_CP_PROTECT_MASK_LEN_SHIFT) & R.A5XX_CP_PROTECT_MASK_LEN_MASK);
      if (reg >= base && reg < base + len) return true;
    }
    return false;
  }

  /** Returns false (and stops the CP when FAULT_ON_VIOL_EN) for a protected register access. */
  private protectionCheck(reg: number, write: boolean): boolean {
    if (!this.isProtected(reg, write)) return true;
    this.stats.protectionErrors++;
    this.protectStatus = this.a5xx || this.legacy
      ? (((reg << 2) & R.A5XX_CP_PROTECT_BASE_MASK) | (write ? R.A5XX_CP_PROTECT_STATUS_WRITE : 0)) >>> 0
      : ((reg & 0x3ffff) | (write ? 0 : R.A6XX_CP_PROTECT_STATUS_READ)) >>> 0;
    this.interruptStatus |= R.A6XX_CP_INT_REGISTER_PROTECTION_ERROR;
    this.host.event(`CP protected-mode ${write ? 'write' : 'read'} of register 0x${reg.toString(16)} at ${this.where()}`);
    this.host.raiseInt(this.legacy ? R.A3XX_INT_CP_REG_PROTECT_FAULT : R.A6XX_INT_CP_HW_ERROR);
    const stop = this.a5xx || this.legacy ? R.A5XX_CP_PROTECT_CNTL_FAULT_ON_VIOL : R.A6XX_CP_PROTECT_CNTL_ACCESS_FAULT_ON_VIOL_EN;
    if ((this.protectCntl & stop) !== 0) this.state = 'halted';
    return false;
  }

  private writeReg(reg: number, v: number): boolean {
    if (!this.protectionCheck(reg, true)) return false;
    this.host.writeRegFromCp(reg, v >>> 0);
    return true;
  }

  // ===========================================================================================
  // Memory

  /**
   * Translates `va` for an access of `n` bytes inside one 4 KiB page: a PA, ABORT (read zeros,
   * drop writes) or STALL (the CP is now stalled on this access).
   */
  private xlate(va: number, n: number, write: boolean): number {
    if (this.abortNext) {
      this.abortNext = false;
      this.recordAbort(va, write, 'fault');
      return ABORT;
    }
    const st = this.stats;
    st.translations++;
    const tr = this.translator;
    let pa = va;
    if (tr !== undefined) {
      const out = this.out;
      for (;;) {
        out.stalled = false;
        out.sink = false;
        this.pendingResume = 0;
        this.inTranslate = true;
        let ok: boolean;
        try {
          ok = tr(this.streamId, va, write, out);
        } finally {
          this.inTranslate = false;
        }
        if (ok) {
          if (out.sink) {
            this.recordAbort(va, write, 'fault');
            return ABORT;
          }
          pa = out.pa;
          break;
        }
        if (!out.stalled) {
          this.recordAbort(va, write, 'fault');
          return ABORT;
        }
        const p = this.pendingResume;
        this.pendingResume = 0;
        if (p === 1) {
          st.retries++;
          continue;
        }
        if (p === 2) {
          st.terminations++;
          this.recordAbort(va, write, 'fault');
          return ABORT;
        }
        st.stalls++;
        this.state = 'stalled';
        return STALL;
      }
    }
    if (!Number.isSafeInteger(pa) || pa < 0 || !this.mem.contains(pa, n)) {
      this.stats.busErrors++;
      this.recordAbort(va, write, 'bus');
      return ABORT;
    }
    return pa;
  }

  private recordAbort(va: number, write: boolean, kind: 'fault' | 'bus'): void {
    this.stats.aborts++;
    const log = this.aborts;
    if (log.length >= 2 * this.logSize) log.splice(0, log.length - this.logSize);
    log.push({ va, write, kind, what: this.what });
  }

  private write32(pa: number, v: number): void {
    this.mem.write32(pa, v);
    this.stats.bytesWritten += 4;
  }

  /** Reads `n` stream words from level `L` at word `pos` into dst[off..]: 0, or STALL. */
  private fetch(L: number, pos: number, n: number, dst: Uint32Array, off: number): number {
    let done = 0;
    while (done < n) {
      let va: number;
      let run: number;
      if (L === 0) {
        const idx = (pos + done) % this.rbWords;
        va = (this.rbBase + idx * 4) % this.vaSpan;
        run = Math.min(n - done, this.rbWords - idx);
      } else {
        va = (this.ibBase[L]! + (pos + done) * 4) % this.vaSpan;
        run = n - done;
      }
      run = Math.min(run, pageRemainder(va) >>> 2);
      const pa = this.xlate(va, run * 4, false);
      if (pa === STALL) return STALL;
      if (pa < 0) {
        dst.fill(0, off + done, off + done + run);
      } else {
        const c = this.mem.peekChunk(pa);
        const wi = PhysMem.wordIndex(pa);
        for (let i = 0; i < run; i++) dst[off + done + i] = c[wi + i]!;
        this.stats.bytesRead += run * 4;
      }
      done += run;
    }
    return 0;
  }

  private fetchPayload(base: number): number {
    while (this.got < this.count) {
      const L = this.pktLevel;
      // Fetch at most to the next page (or ring wrap) so a stall keeps what was fetched.
      let va: number;
      let limit: number;
      if (L === 0) {
        const idx = (base + this.got) % this.rbWords;
        va = (this.rbBase + idx * 4) % this.vaSpan;
        limit = this.rbWords - idx;
      } else {
        va = (this.ibBase[L]! + (base + this.got) * 4) % this.vaSpan;
        limit = this.count - this.got;
      }
      const n = Math.min(this.count - this.got, limit, pageRemainder(va) >>> 2);
      const r = this.fetch(L, L === 0 ? (base + this.got) % this.rbWords : base + this.got, n, this.payload, this.got);
      if (r === STALL) return STALL;
      this.got += n;
    }
    return 0;
  }

  // ===========================================================================================
  // Packets

  /**
   * A legacy type-3 payload in the 64-bit layout the executors read: a zero high word after
   * each 32-bit address (count grows accordingly). Runs once per packet, after the fetch.
   */
  private widenLegacy(): void {
    const p = this.payload;
    const n = this.count;
    // positions (in the legacy payload) of the address words, in increasing order
    let a0 = -1;
    let a1 = -1;
    switch (this.opcode) {
      case R.CP_MEM_WRITE:
      case R.CP_GKI_FILL:
      case R.CP_INDIRECT_BUFFER:
      case R.CP_INDIRECT_BUFFER_PFD:
        a0 = 0;
        break;
      case R.CP_EVENT_WRITE:
      case R.CP_REG_TO_MEM:
      case R.CP_WAIT_REG_MEM:
        // (a register poll names the register in the address word: widening it is harmless)
        a0 = 1;
        break;
      case R.CP_GKI_CHECKSUM:
        a0 = 0;
        a1 = 2;
        break;
      case R.CP_MEM_TO_MEM: {
        // [flags, dst, src...]: every word from 1 on is an address (at most 8 sources kept)
        const words = Math.min(n, 2 + this.operandLo.length);
        for (let i = words - 1; i >= 1; i--) {
          p[2 * i] = 0;
          p[2 * i - 1] = p[i]!;
        }
        this.count = words > 1 ? 2 * words - 1 : words;
        return;
      }
      default:
        return;
    }
    if (a1 >= 0 && a1 < n) {
      for (let i = n - 1; i > a1; i--) p[i + 2] = p[i]!;
      p[a1 + 2] = 0;
      p[a1 + 1] = p[a1]!;
      for (let i = a1 - 1; i > a0; i--) p[i + 1] = p[i]!;
      p[a0 + 1] = 0;
      this.count = n + 2;
      return;
    }
    if (a0 < n) {
      for (let i = n - 1; i > a0; i--) p[i + 1] = p[i]!;
      p[a0 + 1] = 0;
      this.count = n + 1;
    }
  }

  private execute(): number {
    if (this.opcode === -2) return EX_DONE;
    if (this.opcode < 0) return this.execType4();
    const op = this.opcode;
    const st = this.stats;
    const name = this.names[op];
    if (name === undefined) {
      if (this.skipped[op]) {
        st.skipped++;
        return EX_DONE;
      }
      this.opcodeError(this.hdr, `opcode 0x${op.toString(16)} is not an ${this.gen7 ? 'a7xx' : this.a5xx ? 'a5xx' : this.legacy ? 'a3xx/a4xx' : 'a6xx'} packet`);
      return EX_STOP;
    }
    this.what = name;
    let r: number;
    switch (op) {
      case R.CP_NOP:
      case R.CP_WAIT_MEM_WRITES:
      case R.CP_WAIT_FOR_ME:
      case R.CP_WAIT_FOR_IDLE:
      case R.CP_ME_INIT:
      case R.CP_SET_MARKER:
      case R.CP_SET_SECURE_MODE:
        r = EX_DONE;
        break;
      case R.CP_SET_PROTECTED_MODE:
        this.protectedMode = this.count > 0 && (this.payload[0]! & 1) !== 0;
        r = EX_DONE;
        break;
      case R.CP_MEM_WRITE: r = this.exMemWrite(); break;
      case R.CP_MEMCPY: r = this.exMemcpy(); break;
      case R.CP_GKI_FILL: r = this.exFill(); break;
      case R.CP_GKI_CHECKSUM: r = this.exChecksum(); break;
      case R.CP_MEM_TO_MEM: r = this.exMemToMem(); break;
      case R.CP_REG_TO_MEM: r = this.exRegToMem(); break;
      case R.CP_EVENT_WRITE: r = this.gen7 ? this.exEventWrite7() : this.exEventWrite(); break;
      case R.CP_WHERE_AM_I: r = this.exWhereAmI(); break;
      case R.CP_INDIRECT_BUFFER:
      case R.CP_INDIRECT_BUFFER_PFD: r = this.exIndirectBuffer(false); break;
      case R.CP_INDIRECT_BUFFER_CHAIN: r = this.exIndirectBuffer(true); break;
      case R.CP_SMMU_TABLE_UPDATE: r = this.exTableUpdate(); break;
      case R.CP_WAIT_REG_MEM: r = this.exWaitRegMem(); break;
      case R.CP_WAIT_MEM_GTE: r = this.gen7 ? this.exWaitTimestamp() : this.exWaitMemGte(); break;
      case R.A7XX_CP_THREAD_CONTROL: r = this.exThreadControl(); break;
      case R.CP_REG_RMW: r = this.exRegRmw(); break;
      case R.CP_REG_WRITE:
        if (this.count < 3) return this.shortPacket(3);
        r = this.writeReg(this.payload[1]! & 0x3ffff, this.payload[2]!) || !this.isHalted() ? EX_DONE : EX_STOP;
        break;
      case R.CP_INTERRUPT:
        this.host.raiseInt(this.pktLevel === 0 ? R.A6XX_INT_CP_RB : this.pktLevel === 1 ? R.A6XX_INT_CP_IB1 : R.A6XX_INT_CP_IB2);
        r = EX_DONE;
        break;
      default:
        r = EX_DONE;
    }
    if (r !== EX_STOP) st.opcodes[name] = (st.opcodes[name] ?? 0) + 1;
    return r;
  }

  private shortPacket(need: number): number {
    this.opcodeError(this.hdr, `${adrenoOpcodeName(this.opcode, this.gen7)} needs ${need} payload words, has ${this.count}`);
    return EX_STOP;
  }

  private execType4(): number {
    this.stats.type4++;
    this.what = 'type-4 register write';
    for (let i = this.progress; i < this.count; i++) {
      this.progress = i + 1;
      if (!this.writeReg(this.oneReg ? this.reg : this.reg + i, this.payload[i]!) && this.isHalted()) return EX_STOP;
    }
    return EX_DONE;
  }

  /** Writes `words` payload words from payload[first..] to `va`, page by page, resumable. */
  private writeWords(va0: number, first: number, words: number): number {
    while (this.progress < words) {
      const va = (va0 + this.progress * 4) % this.vaSpan;
      const n = Math.min(words - this.progress, pageRemainder(va) >>> 2);
      const pa = this.xlate(va, n * 4, true);
      if (pa === STALL) return EX_STOP;
      if (pa >= 0) {
        const c = this.mem.chunk(pa);
        const wi = PhysMem.wordIndex(pa);
        for (let i = 0; i < n; i++) c[wi + i] = this.payload[first + this.progress + i]!;
        this.mem.touch(pa, n * 4);
        this.stats.bytesWritten += n * 4;
      }
      this.progress += n;
    }
    return EX_DONE;
  }

  private exMemWrite(): number {
    if (this.count < 2) return this.shortPacket(2);
    const va = this.addr(this.payload[0]! & ~3, this.payload[1]!);
    return this.writeWords(va, 2, this.count - 2);
  }

  /** One 32-bit write at `va` from the packet (fences, CP_WHERE_AM_I); resumable as a 1-word write. */
  private writeOne(va: number, v: number): number {
    if (this.progress > 0) return EX_DONE;
    const pa = this.xlate(va - (va % 4), 4, true);
    if (pa === STALL) return EX_STOP;
    if (pa >= 0) this.write32(pa, v);
    this.progress = 1;
    return EX_DONE;
  }

  private exMemcpy(): number {
    if (this.count < 5) return this.shortPacket(5);
    const p = this.payload;
    const bytes = p[0]! * 4;
    const src = this.addr(p[1]! & ~3, p[2]!);
    const dst = this.addr(p[3]! & ~3, p[4]!);
    while (this.progress < bytes) {
      const s = (src + this.progress) % this.vaSpan;
      const d = (dst + this.progress) % this.vaSpan;
      const n = Math.min(bytes - this.progress, pageRemainder(s), pageRemainder(d));
      if (this.srcPa === -3) {
        const sp = this.xlate(s, n, false);
        if (sp === STALL) return EX_STOP;
        this.srcPa = sp;
      }
      const dp = this.xlate(d, n, true);
      if (dp === STALL) return EX_STOP;
      if (dp >= 0) {
        if (this.srcPa >= 0) this.copyWords(this.srcPa, dp, n >>> 2);
        else this.mem.zero(dp, n);
        this.stats.bytesWritten += n;
      }
      if (this.srcPa >= 0) this.stats.bytesRead += n;
      this.srcPa = -3;
      this.progress += n;
    }
    return EX_DONE;
  }

  private copyWords(sp: number, dp: number, words: number): void {
    const sc = this.mem.peekChunk(sp);
    const dc = this.mem.chunk(dp);
    const si = PhysMem.wordIndex(sp);
    const di = PhysMem.wordIndex(dp);
    if (sc === dc && di > si) for (let w = words - 1; w >= 0; w--) dc[di + w] = sc[si + w]!;
    else for (let w = 0; w < words; w++) dc[di + w] = sc[si + w]!;
    this.mem.touch(dp, words * 4);
  }

  private exFill(): number {
    if (this.count < 4) return this.shortPacket(4);
    const p = this.payload;
    const dst = this.addr(p[0]!, p[1]!);
    const bytes = p[2]!;
    const pat = p[3]! >>> 0;
    while (this.progress < bytes) {
      const d = (dst + this.progress) % this.vaSpan;
      const n = Math.min(bytes - this.progress, pageRemainder(d));
      const dp = this.xlate(d, n, true);
      if (dp === STALL) return EX_STOP;
      if (dp >= 0) {
        const c = this.mem.chunk(dp);
        let i = 0;
        if ((dp & 3) === 0 && (this.progress & 3) === 0) {
          const base = PhysMem.wordIndex(dp);
          const words = n >>> 2;
          for (let w = 0; w < words; w++) c[base + w] = pat;
          i = words * 4;
        }
        for (; i < n; i++) {
          const b = dp + i;
          const byte = (pat >>> (((this.progress + i) & 3) * 8)) & 0xff;
          const wi = PhysMem.wordIndex(b);
          const sh = (b & 3) * 8;
          c[wi] = ((c[wi]! & ~(0xff << sh)) | (byte << sh)) >>> 0;
        }
        this.mem.touch(dp, n);
        this.stats.bytesWritten += n;
      }
      this.progress += n;
    }
    return EX_DONE;
  }

  private exChecksum(): number {
    if (this.count < 5) return this.shortPacket(5);
    const p = this.payload;
    const src = this.addr(p[0]!, p[1]!);
    const bytes = p[2]!;
    const dst = this.addr(p[3]! & ~3, p[4]!);
    while (this.progress < bytes) {
      const s = (src + this.progress) % this.vaSpan;
      const n = Math.min(bytes - this.progress, pageRemainder(s));
      const sp = this.xlate(s, n, false);
      if (sp === STALL) return EX_STOP;
      let h = this.hash;
      if (sp < 0) {
        for (let i = 0; i < n; i++) h = Math.imul(h, FNV_PRIME);
      } else {
        const c = this.mem.peekChunk(sp);
        for (let i = 0; i < n; i++) {
          const a = sp + i;
          h ^= (c[PhysMem.wordIndex(a)]! >>> ((a & 3) * 8)) & 0xff;
          h = Math.imul(h, FNV_PRIME);
        }
        this.stats.bytesRead += n;
      }
      this.hash = h >>> 0;
      this.progress += n;
    }
    // The result write: progress == bytes + 1 once done.
    if (this.progress === bytes) {
      const pa = this.xlate(dst, 4, true);
      if (pa === STALL) return EX_STOP;
      if (pa >= 0) this.write32(pa, this.hash);
      this.progress = bytes + 1;
    }
    return EX_DONE;
  }

  /** Reads 4 (or 8) bytes at va into operandLo/Hi[i]; resumable via `progress`. */
  private readOperand(i: number, va: number, double: boolean): number {
    const n = double ? 8 : 4;
    const pa = this.xlate(va, n, false);
    if (pa === STALL) return EX_STOP;
    if (pa < 0) {
      this.operandLo[i] = 0;
      this.operandHi[i] = 0;
    } else {
      this.operandLo[i] = this.mem.read32(pa);
      this.operandHi[i] = double ? this.mem.read32(pa + 4) : 0;
      this.stats.bytesRead += n;
    }
    return EX_DONE;
  }

  private exMemToMem(): number {
    if (this.count < 5 || (this.count - 3) % 2 !== 0) return this.shortPacket(5);
    const p = this.payload;
    const flags = p[0]!;
    const double = (flags & R.CP_MEM_TO_MEM_0_DOUBLE) !== 0;
    const nsrc = Math.min((this.count - 3) / 2, this.operandLo.length);
    const align = double ? 8 : 4;
    // progress: sources read so far; nsrc + 1 once the result is written.
    while (this.progress < nsrc) {
      const i = this.progress;
      const va = this.addr(p[3 + 2 * i]!, p[4 + 2 * i]!);
      if (this.readOperand(i, va - (va % align), double) === EX_STOP) return EX_STOP;
      this.progress = i + 1;
    }
    if (this.progress === nsrc) {
      let lo = 0;
      let hi = 0;
      for (let i = 0; i < nsrc; i++) {
        let a = this.operandLo[i]!;
        let b = this.operandHi[i]!;
        if (i < 3 && (flags & (1 << i)) !== 0) {
          // Two's complement negation over 32 or 64 bits.
          a = ~a >>> 0;
          b = ~b >>> 0;
          a = (a + 1) >>> 0;
          if (a === 0) b = (b + 1) >>> 0;
        }
        const s = lo + a;
        lo = s >>> 0;
        hi = (hi + b + (s >= TWO32 ? 1 : 0)) >>> 0;
      }
      const dva = this.addr(p[1]!, p[2]!);
      const pa = this.xlate(dva - (dva % align), align, true);
      if (pa === STALL) return EX_STOP;
      if (pa >= 0) {
        this.write32(pa, lo);
        if (double) this.write32(pa + 4, hi);
      }
      this.progress = nsrc + 1;
    }
    return EX_DONE;
  }

  private exRegToMem(): number {
    if (this.count < 3) return this.shortPacket(3);
    const p = this.payload;
    const reg = p[0]! & R.CP_REG_TO_MEM_0_REG_MASK;
    const cnt = Math.max((p[0]! >>> R.CP_REG_TO_MEM_0_CNT_SHIFT) & R.CP_REG_TO_MEM_0_CNT_MASK, 1);
    if (!this.sampled) {
      // Sample the registers once, so a stalled write later stores the same values.
      for (let i = 0; i < cnt; i++) {
        if (!this.protectionCheck(reg + i, false)) {
          if (this.isHalted()) return EX_STOP;
          this.regValues[i] = 0;
          continue;
        }
        this.regValues[i] = this.host.peekReg(reg + i);
      }
      if ((p[0]! & R.CP_REG_TO_MEM_0_ACCUMULATE) !== 0) this.host.event('CP_REG_TO_MEM ACCUMULATE is not modelled: the registers are stored as read');
      this.sampled = true;
    }
    const va0 = this.addr(p[1]! & ~3, p[2]!);
    while (this.progress < cnt) {
      const va = (va0 + this.progress * 4) % this.vaSpan;
      const n = Math.min(cnt - this.progress, pageRemainder(va) >>> 2);
      const pa = this.xlate(va, n * 4, true);
      if (pa === STALL) return EX_STOP;
      if (pa >= 0) for (let i = 0; i < n; i++) this.write32(pa + 4 * i, this.regValues[this.progress + i]!);
      this.progress += n;
    }
    return EX_DONE;
  }

  private exEventWrite(): number {
    if (this.count < 1) return this.shortPacket(1);
    const p = this.payload;
    const ev = p[0]! & R.CP_EVENT_WRITE_EVENT_MASK;
    let irq = 0;
    switch (ev) {
      case R.EV_CACHE_FLUSH_TS: irq = R.A6XX_INT_CP_CACHE_FLUSH_TS; break;
      case R.EV_RB_DONE_TS: irq = R.A6XX_INT_CP_RB_DONE_TS; break;
      case R.EV_WT_DONE_TS: irq = R.A6XX_INT_CP_WT_DONE_TS; break;
      case R.EV_PC_CCU_RESOLVE_TS: irq = R.A6XX_INT_CP_CCU_RESOLVE_TS; break;
      case R.EV_PC_CCU_FLUSH_DEPTH_TS: irq = R.A6XX_INT_CP_CCU_FLUSH_DEPTH_TS; break;
      case R.EV_PC_CCU_FLUSH_COLOR_TS: irq = R.A6XX_INT_CP_CCU_FLUSH_COLOR_TS; break;
      default: irq = 0;
    }
    if (irq !== 0 && this.count >= 3) {
      const va = this.addr(p[1]! & ~3, p[2]!);
      if ((p[0]! & R.CP_EVENT_WRITE_TIMESTAMP) !== 0) {
        // 64-bit always-on timestamp.
        if (!this.sampled) {
          this.host.alwaysOn(this.ts);
          this.sampled = true;
        }
        while (this.progress < 2) {
          const pa = this.xlate(va + 4 * this.progress, 4, true);
          if (pa === STALL) return EX_STOP;
          if (pa >= 0) this.write32(pa, this.progress === 0 ? this.ts.lo : this.ts.hi);
          this.progress++;
        }
      } else if (this.writeOne(va, this.count >= 4 ? p[3]! : 0) === EX_STOP) {
        return EX_STOP;
      }
      if (ev === R.EV_CACHE_FLUSH_TS) this.stats.fences++;
    }
    if ((p[0]! & R.CP_EVENT_WRITE_IRQ) !== 0) {
      if (irq !== 0) this.host.raiseInt(irq);
      else this.host.event(`CP_EVENT_WRITE event 0x${ev.toString(16)} with IRQ set: the model has no interrupt for it`);
    }
    return EX_DONE;
  }

  private exWhereAmI(): number {
    if (this.count < 2) return this.shortPacket(2);
    // The ring position after the ring-level packet being executed.
    const rp = this.pktLevel === 0 ? this.pktEnd : this.returnPos[0]!;
    return this.writeOne(this.addr(this.payload[0]! & ~3, this.payload[1]!), rp);
  }

  private exIndirectBuffer(chain: boolean): number {
    if (this.count < 3) return this.shortPacket(3);
    const L = this.pktLevel;
    const p = this.payload;
    const base = this.addr(p[0]! & ~3, p[1]!);
    const size = p[2]! & R.CP_INDIRECT_BUFFER_2_IB_SIZE_MASK;
    this.stats.ibs++;
    if (chain) {
      if (L === 0) {
        this.hwError(R.A6XX_CP_HW_FAULT_IB_NESTING, 'CP_INDIRECT_BUFFER_CHAIN in the ringbuffer');
        return EX_STOP;
      }
      if (++this.chains[L]! > this.maxChain) {
        // A chain that keeps jumping never returns: the GPU is hung (busy) until reset.
        this.host.event(`CP hung: more than ${this.maxChain} CP_INDIRECT_BUFFER_CHAIN jumps in one IB${L} at ${this.where()}`);
        this.state = 'hung';
        return EX_STOP;
      }
      this.ibBase[L] = base;
      this.ibWords[L] = size;
      this.ibPos[L] = 0;
      return EX_PUSHED;
    }
    if (L >= 2) {
      this.hwError(R.A6XX_CP_HW_FAULT_IB_NESTING, 'CP_INDIRECT_BUFFER inside an IB2 (a6xx has two IB levels)');
      return EX_STOP;
    }
    this.returnPos[L] = this.pktEnd;
    this.chains[L + 1] = 0;
    this.depth = L + 1;
    this.ibBase[L + 1] = base;
    this.ibWords[L + 1] = size;
    this.ibPos[L + 1] = 0;
    return EX_PUSHED;
  }

  private exTableUpdate(): number {
    if (this.count < 4) return this.shortPacket(4);
    const p = this.payload;
    const lo = p[0]! >>> 0;
    const hi16 = p[1]! & R.CP_SMMU_TABLE_UPDATE_1_TTBR0_HI_MASK;
    const asid = p[1]! >>> R.CP_SMMU_TABLE_UPDATE_1_ASID_SHIFT;
    const thread = this.gen7 ? this.thread : 0;
    if (this.gen7 && (thread & R.A7XX_CP_SET_THREAD_BV) !== 0) {
      // Only BR executes the table switch: with BV selected too, BV runs on under the old table.
      this.stats.bvTableUpdates++;
      this.host.event(`CP_SMMU_TABLE_UPDATE at ${this.where()} with the BV thread selected (CP_THREAD_CONTROL ${thread}): BV may run ahead on the previous table`);
    }
    const fault = this.host.smmuTableUpdate(lo, hi16, asid, p[2]! >>> 0, p[3]! >>> 0);
    this.stats.tableUpdates++;
    const log = this.tableUpdates;
    if (log.length >= 2 * this.logSize) log.splice(0, log.length - this.logSize);
    log.push({
      ttbr0: (BigInt(asid) << 48n) | BigInt(hi16 * TWO32 + lo),
      asid,
      contextidr: p[2]! >>> 0,
      contextBank: p[3]! >>> 0,
      invalidated: !this.skipTableUpdateInvalidate && fault === 0,
      fault,
      thread,
    });
    if (fault !== 0) {
      this.hwError(fault, fault === R.A6XX_CP_HW_FAULT_SMMU_SYNC_TIMEOUT ? 'the SMMU TLB sync did not complete' : 'SMMU table update failed');
      return EX_STOP;
    }
    return EX_DONE;
  }

  /**
   * Gen7 CP_EVENT_WRITE7: with WRITE_ENABLED the value WRITE_SRC names (the payload's 32 or 64
   * bits, or the always-on counter) goes to the address; with IRQ the event's interrupt is
   * raised (CACHE_CLEAN and CACHE_FLUSH_TS: CACHE_CLEAN_TS; RB_DONE_TS; the CCU clean events).
   * On-chip destinations and the timestamp-sum and register sources have no memory effect here.
   */
  private exEventWrite7(): number {
    if (this.count < 1) return this.shortPacket(1);
    const p = this.payload;
    const f = p[0]!;
    const ev = f & R.CP_EVENT_WRITE_EVENT_MASK;
    if ((f & R.A7XX_CP_EVENT_WRITE7_WRITE_ENABLED) !== 0) {
      const src = (f >>> R.A7XX_CP_EVENT_WRITE7_WRITE_SRC_SHIFT) & R.A7XX_CP_EVENT_WRITE7_WRITE_SRC_MASK;
      if ((f & R.A7XX_CP_EVENT_WRITE7_WRITE_DST_ONCHIP) !== 0) {
        if (this.progress === 0) this.host.event(`CP_EVENT_WRITE7 event 0x${ev.toString(16)} to on-chip memory: not modelled, nothing is written`);
        this.progress = 2;
      } else if (src === R.A7XX_EV_WRITE_USER_32B || src === R.A7XX_EV_WRITE_USER_64B || src === R.A7XX_EV_WRITE_ALWAYSON) {
        const words = src === R.A7XX_EV_WRITE_USER_32B ? 1 : 2;
        const need = src === R.A7XX_EV_WRITE_ALWAYSON ? 3 : 3 + words;
        if (this.count < need) return this.shortPacket(need);
        if (src === R.A7XX_EV_WRITE_ALWAYSON && !this.sampled) {
          this.host.alwaysOn(this.ts);
          this.sampled = true;
        }
        const va = this.addr(p[1]! & ~3, p[2]!);
        while (this.progress < words) {
          const pa = this.xlate(va + 4 * this.progress, 4, true);
          if (pa === STALL) return EX_STOP;
          const v = src === R.A7XX_EV_WRITE_ALWAYSON ? (this.progress === 0 ? this.ts.lo : this.ts.hi) : p[3 + this.progress]!;
          if (pa >= 0) this.write32(pa, v);
          this.progress++;
        }
        if (ev === R.A7XX_EV_CACHE_CLEAN || ev === R.EV_CACHE_FLUSH_TS) this.stats.fences++;
      } else if (this.progress === 0) {
        this.host.event(`CP_EVENT_WRITE7 WRITE_SRC ${src} is not modelled: nothing is written`);
        this.progress = 2;
      }
    }
    if ((f & R.A7XX_CP_EVENT_WRITE7_IRQ) !== 0) {
      let irq = 0;
      switch (ev) {
        case R.A7XX_EV_CACHE_CLEAN:
        case R.EV_CACHE_FLUSH_TS: irq = R.A7XX_INT_CACHE_CLEAN_TS; break;
        case R.EV_RB_DONE_TS: irq = R.A7XX_INT_RB_DONE_TS; break;
        case R.A7XX_EV_CCU_CLEAN_DEPTH: irq = R.A7XX_INT_CCU_CLEAN_DEPTH_TS; break;
        case R.A7XX_EV_CCU_CLEAN_COLOR: irq = R.A7XX_INT_CCU_CLEAN_COLOR_TS; break;
        case R.A7XX_EV_CCU_RESOLVE_CLEAN: irq = R.A7XX_INT_CCU_RESOLVE_CLEAN_TS; break;
        default: irq = 0;
      }
      if (irq !== 0) this.host.raiseInt(irq);
      else this.host.event(`CP_EVENT_WRITE7 event 0x${ev.toString(16)} with IRQ set: the model has no interrupt for it`);
    }
    return EX_DONE;
  }

  /**
   * Gen7 CP_WAIT_TIMESTAMP: waits until the 32-bit value at ADDR is >= SRC_0 (signed), or the
   * 64-bit value there is >= SRC_1:SRC_0 (unsigned). Waits on on-chip memory or the timestamp
   * sum are not modelled and count as satisfied.
   */
  private exWaitTimestamp(): number {
    if (this.count < 4) return this.shortPacket(4);
    const p = this.payload;
    const src = p[0]! & 3;
    if ((p[0]! & R.A7XX_TS_WAIT_ONCHIP) !== 0 || src === R.A7XX_TS_WAIT_GE_TIMESTAMP_SUM || src === 3) {
      this.host.event(`CP_WAIT_TIMESTAMP on ${(p[0]! & R.A7XX_TS_WAIT_ONCHIP) !== 0 ? 'on-chip memory' : `source ${src}`} is not modelled: treated as satisfied`);
      return EX_DONE;
    }
    const wide = src === R.A7XX_TS_WAIT_GE_64B;
    if (wide && this.count < 5) return this.shortPacket(5);
    const va = this.addr(p[1]! & (wide ? ~7 : ~3), p[2]!);
    const pa = this.xlate(va, wide ? 8 : 4, false);
    if (pa === STALL) return EX_STOP;
    const lo = pa >= 0 ? this.mem.read32(pa) >>> 0 : 0;
    if (!wide) return this.waitFor((lo | 0) >= (p[3]! | 0));
    const hi = pa >= 0 ? this.mem.read32(pa + 4) >>> 0 : 0;
    const refHi = p[4]! >>> 0;
    return this.waitFor(hi > refHi || (hi === refHi && lo >= p[3]! >>> 0));
  }

  /** Gen7 CP_THREAD_CONTROL: the thread selection (THREAD 0 keeps it) and the binning mode. */
  private exThreadControl(): number {
    if (this.count < 1) return this.shortPacket(1);
    const v = this.payload[0]!;
    const t = v & R.A7XX_CP_THREAD_MASK;
    if (t !== 0) this.thread = t;
    this.concurrentBinDisabled = (v & R.A7XX_CP_THREAD_CONTROL_CONCURRENT_BIN_DISABLE) !== 0;
    return EX_DONE;
  }

  private compare(fn: number, value: number, ref: number, signed: boolean): boolean {
    const a = signed ? value | 0 : value >>> 0;
    const b = signed ? ref | 0 : ref >>> 0;
    switch (fn) {
      case R.WRITE_ALWAYS: return true;
      case R.WRITE_LT: return a < b;
      case R.WRITE_LE: return a <= b;
      case R.WRITE_EQ: return a === b;
      case R.WRITE_NE: return a !== b;
      case R.WRITE_GE: return a >= b;
      case R.WRITE_GT: return a > b;
      default: return false;
    }
  }

  private waitFor(done: boolean): number {
    if (done) return EX_DONE;
    this.stats.waits++;
    this.state = 'waiting';
    return EX_STOP;
  }

  private exWaitRegMem(): number {
    if (this.count < 6) return this.shortPacket(6);
    const p = this.payload;
    const fn = p[0]! & R.CP_WAIT_REG_MEM_0_FUNCTION_MASK;
    const poll = (p[0]! >>> R.CP_WAIT_REG_MEM_0_POLL_SHIFT) & 3;
    const signed = (p[0]! & R.CP_WAIT_REG_MEM_0_SIGNED_COMPARE) !== 0;
    let value: number;
    if (poll === R.POLL_MEMORY) {
      const va = this.addr(p[1]! & ~3, p[2]!);
      const pa = this.xlate(va, 4, false);
      if (pa === STALL) return EX_STOP;
      value = pa >= 0 ? this.mem.read32(pa) : 0;
    } else if (poll === R.POLL_REGISTER) {
      const reg = p[1]! & 0x3ffff;
      if (!this.protectionCheck(reg, false)) return this.isHalted() ? EX_STOP : EX_DONE;
      value = this.host.peekReg(reg);
    } else {
      this.host.event(`CP_WAIT_REG_MEM poll source ${poll} (scratch) is not modelled: treated as satisfied`);
      return EX_DONE;
    }
    return this.waitFor(this.compare(fn, value & p[4]!, p[3]!, signed));
  }

  private exWaitMemGte(): number {
    if (this.count < 4) return this.shortPacket(4);
    const p = this.payload;
    const va = this.addr(p[1]! & ~3, p[2]!);
    const pa = this.xlate(va, 4, false);
    if (pa === STALL) return EX_STOP;
    const value = pa >= 0 ? this.mem.read32(pa) : 0;
    return this.waitFor((value | 0) >= (p[3]! | 0));
  }

  private exRegRmw(): number {
    if (this.count < 3) return this.shortPacket(3);
    const p = this.payload;
    const f = p[0]!;
    const dst = f & R.CP_REG_RMW_0_DST_REG_MASK;
    const rot = (f >>> R.CP_REG_RMW_0_ROTATE_SHIFT) & 0x1f;
    const src0 = (f & R.CP_REG_RMW_0_SRC0_IS_REG) !== 0 ? this.readForRmw(p[1]! & 0x3ffff) : p[1]!;
    const src1 = (f & R.CP_REG_RMW_0_SRC1_IS_REG) !== 0 ? this.readForRmw(p[2]! & 0x3ffff) : p[2]!;
    if (this.isHalted()) return EX_STOP;
    const cur = this.readForRmw(dst);
    if (this.isHalted()) return EX_STOP;
    let v = (cur & src0) >>> 0;
    v = rot === 0 ? v : ((v << rot) | (v >>> (32 - rot))) >>> 0;
    v = (f & R.CP_REG_RMW_0_SRC1_ADD) !== 0 ? (v + src1) >>> 0 : (v | src1) >>> 0;
    return this.writeReg(dst, v) || !this.isHalted() ? EX_DONE : EX_STOP;
  }

  private readForRmw(reg: number): number {
    return this.protectionCheck(reg, false) ? this.host.peekReg(reg) : 0;
  }

  // ===========================================================================================
  // Inspection

  /** Where the CP is: level (0 ring, 1 IB1, 2 IB2) and word position at each level. */
  position(): { depth: number; rptr: number; wptr: number; ib: { base: number; words: number; pos: number }[] } {
    const ib = [];
    for (let l = 1; l <= this.depth; l++) ib.push({ base: this.ibBase[l]!, words: this.ibWords[l]!, pos: this.ibPos[l]! });
    return { depth: this.depth, rptr: this.rptr, wptr: this.wptr, ib };
  }

  /** Words left in IB level `l` (CP_IB1_REM_SIZE / CP_IB2_REM_SIZE). */
  ibRemaining(l: number): number {
    if (l > this.depth) return 0;
    return Math.max(this.ibWords[l]! - this.ibPos[l]!, 0);
  }
}
