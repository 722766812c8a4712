/**
 * The job manager: job slots (JS) that run chains of job descriptors (descriptor.ts) in an
 * address space, and the JOB_IRQ block.
 *
 * Software programs a slot's NEXT registers (HEAD_NEXT, AFFINITY_NEXT, CONFIG_NEXT with the
 * AS number in bits [3:0]) and writes START to JS_COMMAND_NEXT. When the slot is free the
 * chain moves to the current registers (JS_HEAD, JS_AFFINITY, JS_CONFIG), JS_STATUS reads
 * ACTIVE (0x08), and the chain runs. Every descriptor fetch, payload access and write-back is
 * translated by the MMU in the slot's AS. The chain ends with JS_STATUS = DONE (0x01) and the
 * slot's done bit in JOB_IRQ_RAWSTAT, or with a failure code and the slot's failure bit.
 *
 * An MMU fault stalls the chain (JS_STATUS stays ACTIVE) until software resolves it: the MMU
 * retries the access whenever a flush-type command or UPDATE completes, so mapping the page
 * and flushing lets the job continue; disabling the AS (UPDATE to the unmapped mode) ends the
 * job with the code of the fault it was stalled on; SOFT_STOP / HARD_STOP end it with STOPPED
 * (0x03) or TERMINATED (0x04).
 *
 * Chains run synchronously inside the register access that lets them run (the START write,
 * or the access during which a command completes) unless the GPU runs in manual mode.
 */
import { PhysMem } from '../../mem.js';
import * as D from './descriptor.js';
import { MALI_TR_OK, MALI_TR_STALL, type MaliMmu } from './mmu.js';
import * as R from './regs.js';

const TWO32 = 2 ** 32;
const INV_TWO32 = 1 / TWO32;
const PAGE = 4096;
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** Slot states. */
const IDLE = 0;
const RUNNING = 1;
const STALLED = 2;
/** Ran past the chain-length limit (a loop in the chain): stays ACTIVE until stopped or reset. */
const HUNG = 3;

/** Phases of the job being executed. */
const FETCH = 0;
const EXEC = 1;
const WRITEBACK = 2;
const ADVANCE = 3;

/** One finished chain (for tests and logs). */
export interface MaliJobRecord {
  readonly slot: number;
  readonly as: number;
  /** VA of the first descriptor of the chain. */
  readonly head: number;
  /** VA of the descriptor the chain ended on. */
  readonly tail: number;
  /** JS_STATUS at the end: 0x01 DONE or the failure code. */
  readonly status: number;
  readonly statusName: string;
  /** Jobs of the chain that completed. */
  readonly jobsDone: number;
  /** Faulting VA for fault endings, else -1. */
  readonly faultVa: number;
  readonly cycle: number;
}

export interface MaliJobStats {
  chainsStarted: number;
  chainsDone: number;
  chainsFailed: number;
  jobsDone: number;
  bytesRead: number;
  bytesWritten: number;
  /** Times a stalled chain was resumed after an MMU command. */
  resumes: number;
}

/** What the job manager needs from the GPU around it. */
export interface MaliJobHost {
  readonly cycle: number;
  readonly shaderReady: number;
  readonly l2Ready: number;
  /** A chain's START flush (JS_CONFIG start flush bits) happened. */
  cacheFlushed(): void;
  event(msg: string): void;
}

class Slot {
  // NEXT registers
  headNextLo = 0;
  headNextHi = 0;
  affNextLo = 0;
  affNextHi = 0;
  configNext = 0;
  xaffNext = 0;
  commandNext = 0;
  flushIdNext = 0;
  // current registers
  head = 0;
  tail = 0;
  affLo = 0;
  affHi = 0;
  config = 0;
  xaff = 0;
  status = 0;
  // execution state
  state = IDLE;
  as = 0;
  phase = FETCH;
  jobVa = 0;
  jobsInChain = 0;
  jobsDone = 0;
  type = 0;
  next = 0;
  src = 0;
  dst = 0;
  length = 0;
  value = 0;
  immLo = 0;
  immHi = 0;
  kind = 0;
  progress = 0;
  sum = FNV_OFFSET;
  stallCode = 0;
  faultVa = -1;
}

export interface MaliJobManagerOptions {
  readonly jsPresent: number;
  /** Jobs one chain may run before the slot counts as hung (a loop in the chain). */
  readonly maxChainJobs: number;
  /** When false, chains run only when `run()` is called. */
  readonly immediate: boolean;
}

export class MaliJobManager {
  readonly slots: readonly Slot[];
  readonly jsPresent: number;
  rawstat = 0;
  mask = 0;
  throttle = 0;
  immediate: boolean;
  maxChainJobs: number;
  readonly stats: MaliJobStats = { chainsStarted: 0, chainsDone: 0, chainsFailed: 0, jobsDone: 0, bytesRead: 0, bytesWritten: 0, resumes: 0 };
  /** The last finished chains (at most `logSize`, oldest first). */
  readonly log: MaliJobRecord[] = [];
  logSize = 256;
  private readonly out = { pa: 0 };
  private readonly out2 = { pa: 0 };

  constructor(
    private readonly mem: PhysMem,
    private readonly mmu: MaliMmu,
    opts: MaliJobManagerOptions,
    private readonly host: MaliJobHost,
  ) {
    this.jsPresent = opts.jsPresent & 0xffff;
    this.immediate = opts.immediate;
    this.maxChainJobs = opts.maxChainJobs;
    const slots: Slot[] = [];
    for (let i = 0; i < 16; i++) slots.push(new Slot());
    this.slots = slots;
  }

  present(js: number): boolean {
    return js >= 0 && js < 16 && ((this.jsPresent >>> js) & 1) === 1;
  }

  /** True when any slot holds a chain (running, stalled or hung). */
  get active(): boolean {
    for (const s of this.slots) if (s.state !== IDLE) return true;
    return false;
  }

  /** JS_STATE: bit n slot n busy, bit 16+n a chain queued in slot n's NEXT registers. */
  get jsState(): number {
    let v = 0;
    for (let js = 0; js < 16; js++) {
      const s = this.slots[js]!;
      if (s.state !== IDLE) v |= 1 << js;
      if (s.commandNext === R.MALI_JS_COMMAND_START) v |= 1 << (16 + js);
    }
    return v >>> 0;
  }

  /** Slot state for tests: 'idle' | 'running' | 'stalled' | 'hung'. */
  slotState(js: number): 'idle' | 'running' | 'stalled' | 'hung' {
    const s = Number.isInteger(js) ? this.slots[js] : undefined;
    if (s === undefined) throw new RangeError(`Mali job manager: no job slot ${String(js)} (JS 0..${this.slots.length - 1})`);
    return (['idle', 'running', 'stalled', 'hung'] as const)[s.state]!;
  }

  // ------------------------------------------------------------------------------ registers

  read(off: number): number {
    switch (off) {
      case R.MALI_JOB_IRQ_RAWSTAT: return this.rawstat;
      case R.MALI_JOB_IRQ_MASK: return this.mask;
      case R.MALI_JOB_IRQ_STATUS: return (this.rawstat & this.mask) >>> 0;
      case R.MALI_JOB_IRQ_JS_STATE: return this.jsState;
      case R.MALI_JOB_IRQ_THROTTLE: return this.throttle;
    }
    if (off < R.MALI_JS_BASE) return 0;
    const js = Math.floor((off - R.MALI_JS_BASE) / R.MALI_JS_STRIDE);
    if (!this.present(js)) return 0;
    const s = this.slots[js]!;
    switch ((off - R.MALI_JS_BASE) % R.MALI_JS_STRIDE) {
      case R.MALI_JS_HEAD_LO: return s.head % TWO32;
      case R.MALI_JS_HEAD_HI: return Math.floor(s.head / TWO32);
      case R.MALI_JS_TAIL_LO: return s.tail % TWO32;
      case R.MALI_JS_TAIL_HI: return Math.floor(s.tail / TWO32);
      case R.MALI_JS_AFFINITY_LO: return s.affLo;
      case R.MALI_JS_AFFINITY_HI: return s.affHi;
      case R.MALI_JS_CONFIG: return s.config;
      case R.MALI_JS_XAFFINITY: return s.xaff;
      case R.MALI_JS_STATUS: return s.status;
      case R.MALI_JS_HEAD_NEXT_LO: return s.headNextLo;
      case R.MALI_JS_HEAD_NEXT_HI: return s.headNextHi;
      case R.MALI_JS_AFFINITY_NEXT_LO: return s.affNextLo;
      case R.MALI_JS_AFFINITY_NEXT_HI: return s.affNextHi;
      case R.MALI_JS_CONFIG_NEXT: return s.configNext;
      case R.MALI_JS_XAFFINITY_NEXT: return s.xaffNext;
      case R.MALI_JS_COMMAND_NEXT: return s.commandNext;
      case R.MALI_JS_FLUSH_ID_NEXT: return s.flushIdNext;
      default: return 0;
    }
  }

  write(off: number, v: number): void {
    switch (off) {
      case R.MALI_JOB_IRQ_CLEAR: this.rawstat = (this.rawstat & ~v) >>> 0; return;
      case R.MALI_JOB_IRQ_MASK: this.mask = v >>> 0; return;
      case R.MALI_JOB_IRQ_THROTTLE: this.throttle = v >>> 0; return;
    }
    if (off < R.MALI_JS_BASE) return;
    const js = Math.floor((off - R.MALI_JS_BASE) / R.MALI_JS_STRIDE);
    if (!this.present(js)) return;
    const s = this.slots[js]!;
    switch ((off - R.MALI_JS_BASE) % R.MALI_JS_STRIDE) {
      case R.MALI_JS_HEAD_NEXT_LO: s.headNextLo = v; break;
      case R.MALI_JS_HEAD_NEXT_HI: s.headNextHi = v; break;
      case R.MALI_JS_AFFINITY_NEXT_LO: s.affNextLo = v; break;
      case R.MALI_JS_AFFINITY_NEXT_HI: s.affNextHi = v; break;
      case R.MALI_JS_CONFIG_NEXT: s.configNext = v; break;
      case R.MALI_JS_XAFFINITY_NEXT: s.xaffNext = v; break;
      case R.MALI_JS_FLUSH_ID_NEXT: s.flushIdNext = v; break;
      case R.MALI_JS_COMMAND_NEXT:
        if (v === R.MALI_JS_COMMAND_START) {
          s.commandNext = R.MALI_JS_COMMAND_START;
          if (s.state === IDLE) this.pickUp(js);
        } else if (v === R.MALI_JS_COMMAND_NOP) {
          s.commandNext = 0; // withdraws a chain that has not started
        } else {
          this.host.event(`JS${js}: JS_COMMAND_NEXT ${v} is not START or NOP: ignored`);
        }
        break;
      case R.MALI_JS_COMMAND: this.stop(js, v); break;
      default: break; // read-only registers
    }
  }

  // ------------------------------------------------------------------------------- chains

  /** Moves the NEXT registers of an idle slot to the current ones and starts the chain. */
  private pickUp(js: number): void {
    const s = this.slots[js]!;
    s.commandNext = 0;
    s.head = s.headNextHi * TWO32 + s.headNextLo;
    s.tail = s.head;
    s.affLo = s.affNextLo;
    s.affHi = s.affNextHi;
    s.config = s.configNext;
    s.xaff = s.xaffNext;
    s.as = s.config & R.MALI_JS_CONFIG_AS_MASK;
    s.jobVa = s.head;
    s.phase = FETCH;
    s.jobsInChain = 0;
    s.jobsDone = 0;
    s.faultVa = -1;
    s.stallCode = 0;
    s.status = R.MALI_EXC_ACTIVE;
    s.state = RUNNING;
    this.stats.chainsStarted++;
    if (s.config & R.MALI_JS_CONFIG_START_FLUSH_CLEAN) this.host.cacheFlushed();
    if (!this.mmu.present(s.as)) return this.finish(js, R.MALI_EXC_JOB_CONFIG_FAULT);
    if ((s.affLo & this.host.shaderReady) === 0 || this.host.l2Ready === 0) {
      this.host.event(`JS${js}: affinity 0x${s.affLo.toString(16)} names no powered shader core (ready 0x${this.host.shaderReady.toString(16)}, L2 0x${this.host.l2Ready.toString(16)})`);
      return this.finish(js, R.MALI_EXC_JOB_POWER_FAULT);
    }
    if (s.head % D.MALI_JOB_DESC_SIZE !== 0) return this.finish(js, R.MALI_EXC_JOB_CONFIG_FAULT);
    if (this.immediate) this.runSlot(js);
  }

  /** Runs every slot until its chains end or stall, queued chains included (manual mode). */
  run(): void {
    for (let js = 0; js < 16; js++) {
      const s = this.slots[js]!;
      if (!this.present(js)) continue;
      for (;;) {
        if (s.state === IDLE && s.commandNext === R.MALI_JS_COMMAND_START) this.pickUp(js);
        if (s.state !== RUNNING) break;
        this.runSlot(js);
      }
    }
  }

  /** An MMU command completed: retry every stalled chain (the hardware restarts stalled accesses). */
  retryStalled(): void {
    for (let js = 0; js < 16; js++) {
      const s = this.slots[js]!;
      if (s.state !== STALLED) continue;
      this.stats.resumes++;
      if (this.mmu.unmapped(s.as) && s.stallCode !== 0) {
        // The AS was disabled under a job stalled on a fault: the job dies with that fault.
        this.finish(js, s.stallCode);
        continue;
      }
      s.state = RUNNING;
      if (this.immediate) this.runSlot(js);
    }
  }

  /** JS_COMMAND: SOFT_STOP / HARD_STOP (and the variants conditional on JOB_CHAIN_FLAG). */
  private stop(js: number, cmd: number): void {
    const s = this.slots[js]!;
    if (cmd === R.MALI_JS_COMMAND_NOP) return;
    if (cmd < R.MALI_JS_COMMAND_SOFT_STOP || cmd > R.MALI_JS_COMMAND_HARD_STOP_1) {
      this.host.event(`JS${js}: JS_COMMAND ${cmd} is not a stop command: ignored`);
      return;
    }
    if (s.state === IDLE) return;
    const flag = (s.config & R.MALI_JS_CONFIG_JOB_CHAIN_FLAG) !== 0;
    if ((cmd === R.MALI_JS_COMMAND_SOFT_STOP_0 || cmd === R.MALI_JS_COMMAND_HARD_STOP_0) && flag) return;
    if ((cmd === R.MALI_JS_COMMAND_SOFT_STOP_1 || cmd === R.MALI_JS_COMMAND_HARD_STOP_1) && !flag) return;
    const soft = cmd === R.MALI_JS_COMMAND_SOFT_STOP || cmd === R.MALI_JS_COMMAND_SOFT_STOP_0 || cmd === R.MALI_JS_COMMAND_SOFT_STOP_1;
    this.finish(js, soft ? R.MALI_EXC_STOPPED : R.MALI_EXC_TERMINATED);
  }

  /** Ends the slot's chain with `code`, raises its JOB_IRQ bit, and starts a queued chain. */
  private finish(js: number, code: number): void {
    const s = this.slots[js]!;
    s.status = code;
    s.tail = s.jobVa;
    s.state = IDLE;
    if (code === R.MALI_EXC_DONE) {
      this.rawstat = (this.rawstat | R.maliJobIrqDone(js)) >>> 0;
      this.stats.chainsDone++;
    } else {
      this.rawstat = (this.rawstat | R.maliJobIrqFail(js)) >>> 0;
      this.stats.chainsFailed++;
      this.writeBackFailure(s, code);
    }
    if (this.log.length >= this.logSize) this.log.shift();
    this.log.push({
      slot: js,
      as: s.as,
      head: s.head,
      tail: s.tail,
      status: code,
      statusName: R.maliExceptionName(code),
      jobsDone: s.jobsDone,
      faultVa: s.faultVa,
      cycle: this.host.cycle,
    });
    if (s.commandNext === R.MALI_JS_COMMAND_START) this.pickUp(js);
  }

  /** Best effort: the failing descriptor gets its exception status and fault pointer. */
  private writeBackFailure(s: Slot, code: number): void {
    if (s.config & R.MALI_JS_CONFIG_DISABLE_DESCRIPTOR_WR_BK) return;
    if (!this.mmu.present(s.as) || s.jobVa % D.MALI_JOB_DESC_SIZE !== 0) return;
    if (this.mmu.translate(s.as, s.jobVa, R.MALI_FAULT_ACCESS_WRITE, s.as << 4, this.out, false) !== MALI_TR_OK) return;
    const pa = this.out.pa;
    if (!this.mem.contains(pa, 16)) return;
    this.mem.write32(pa + D.MALI_JOB_EXCEPTION_STATUS, code);
    if (s.faultVa >= 0) this.mem.write64parts(pa + D.MALI_JOB_FAULT_POINTER, s.faultVa % TWO32, Math.floor(s.faultVa / TWO32));
  }

  /** Handles a translate() result that is not OK: stall or fail. Returns false. */
  private blocked(js: number, r: number, va: number): false {
    const s = this.slots[js]!;
    if (r === MALI_TR_STALL) {
      s.state = STALLED;
      s.stallCode = this.mmu.stallCode;
      if (s.stallCode !== 0) s.faultVa = va;
    } else {
      s.faultVa = va;
      this.finish(js, r);
    }
    return false;
  }

  /** A data access to a PA outside RAM: a bus error in the AS, and the job fails. */
  private busFault(js: number, va: number, access: number): false {
    const s = this.slots[js]!;
    this.mmu.fault(s.as, va, R.MALI_EXC_JOB_BUS_FAULT, access, (js << 4) | 1, true);
    s.faultVa = va;
    this.finish(js, R.MALI_EXC_JOB_BUS_FAULT);
    return false;
  }

  /**
   * Translates one piece of a job's access into `out.pa`; false when the chain stalled or ended.
   * The VA comes as its 32-bit halves (GPU VAs are above 2^31: as a double it would be boxed
   * on every call that V8 does not inline); it is formed as a number only for a fault.
   */
  private access(js: number, vaHi: number, vaLo: number, n: number, access: number, unit: number, out: { pa: number }): boolean {
    const s = this.slots[js]!;
    const r = this.mmu.translateParts(s.as, vaHi, vaLo, access, (js << 4) | unit, out);
    if (r !== MALI_TR_OK) return this.blocked(js, r, (vaHi >>> 0) * TWO32 + (vaLo >>> 0));
    if (!this.mem.contains(out.pa, n)) return this.busFault(js, (vaHi >>> 0) * TWO32 + (vaLo >>> 0), access);
    return true;
  }

  /** Runs the slot's chain until it ends or stalls. */
  private runSlot(js: number): void {
    const s = this.slots[js]!;
    const out = this.out;
    while (s.state === RUNNING) {
      switch (s.phase) {
        case FETCH: {
          const va = s.jobVa;
          const hi = Math.floor(va * INV_TWO32);
          if (!this.access(js, hi | 0, (va - hi * TWO32) | 0, D.MALI_JOB_DESC_SIZE, R.MALI_FAULT_ACCESS_READ, 0, out)) return;
          if (!this.decode(js, out.pa)) return;
          s.phase = EXEC;
          break;
        }
        case EXEC:
          if (!this.execute(js)) return;
          s.phase = WRITEBACK;
          break;
        case WRITEBACK:
          if (!(s.config & R.MALI_JS_CONFIG_DISABLE_DESCRIPTOR_WR_BK)) {
            const va = s.jobVa;
            const hi = Math.floor(va * INV_TWO32);
            if (!this.access(js, hi | 0, (va - hi * TWO32) | 0, 8, R.MALI_FAULT_ACCESS_WRITE, 0, out)) return;
            this.mem.write64parts(out.pa + D.MALI_JOB_EXCEPTION_STATUS, R.MALI_EXC_DONE, 0);
          }
          s.jobsDone++;
          this.stats.jobsDone++;
          s.phase = ADVANCE;
          break;
        default: {
          if (s.next === 0) {
            this.finish(js, R.MALI_EXC_DONE);
            return;
          }
          if (s.next % D.MALI_JOB_DESC_SIZE !== 0) {
            this.finish(js, R.MALI_EXC_JOB_CONFIG_FAULT);
            return;
          }
          if (++s.jobsInChain >= this.maxChainJobs) {
            s.state = HUNG;
            this.host.event(`JS${js}: chain at 0x${s.head.toString(16)} ran ${s.jobsInChain} jobs without ending: hung`);
            return;
          }
          s.jobVa = s.next;
          s.phase = FETCH;
          break;
        }
      }
    }
  }

  /** Reads the descriptor at `pa` into the slot. */
  private decode(js: number, pa: number): boolean {
    const s = this.slots[js]!;
    const c = this.mem.peekChunk(pa);
    const w = PhysMem.wordIndex(pa);
    const control = c[w + 4]!;
    s.next = c[w + 7]! * TWO32 + c[w + 6]!;
    s.type = (control >>> D.MALI_JOB_TYPE_SHIFT) & D.MALI_JOB_TYPE_MASK;
    s.src = c[w + 9]! * TWO32 + c[w + 8]!;
    s.dst = c[w + 11]! * TWO32 + c[w + 10]!;
    s.length = c[w + 12]!;
    s.value = c[w + 13]!;
    s.kind = c[w + 10]!;
    s.immLo = c[w + 12]!;
    s.immHi = c[w + 13]!;
    s.progress = 0;
    s.sum = FNV_OFFSET;
    this.stats.bytesRead += D.MALI_JOB_DESC_SIZE;
    if ((control & D.MALI_JOB_CONTROL_64BIT) === 0 || D.MALI_JOB_TYPE_NAMES[s.type] === undefined) {
      this.host.event(`JS${js}: descriptor at 0x${s.jobVa.toString(16)} has control word 0x${control.toString(16)}: not a job this GPU runs`);
      this.finish(js, R.MALI_EXC_JOB_CONFIG_FAULT);
      return false;
    }
    return true;
  }

  /** Executes (or continues) the payload of the current job. */
  private execute(js: number): boolean {
    const s = this.slots[js]!;
    switch (s.type) {
      case D.MALI_JOB_TYPE_NULL:
        return true;
      case D.MALI_JOB_TYPE_WRITE_VALUE:
        return this.writeValue(js);
      case D.MALI_JOB_TYPE_COPY:
      case D.MALI_JOB_TYPE_FILL:
      case D.MALI_JOB_TYPE_CHECKSUM:
      case D.MALI_JOB_TYPE_EXECUTE:
        if (!this.stream(js)) return false;
        if (s.type === D.MALI_JOB_TYPE_CHECKSUM) return this.store32(js, s.dst, s.sum >>> 0);
        return true;
      default:
        return this.atomicAdd(js);
    }
  }

  private writeValue(js: number): boolean {
    const s = this.slots[js]!;
    const addr = s.src; // WRITE_VALUE's address sits where the other types keep `src`
    if (s.kind === D.MALI_WRITE_VALUE_IMMEDIATE_32) return this.store32(js, addr, s.immLo);
    if (s.kind !== D.MALI_WRITE_VALUE_IMMEDIATE_64 && s.kind !== D.MALI_WRITE_VALUE_ZERO) {
      this.finish(js, R.MALI_EXC_JOB_CONFIG_FAULT);
      return false;
    }
    if (addr % 8 !== 0) {
      this.finish(js, R.MALI_EXC_JOB_CONFIG_FAULT);
      return false;
    }
    const hi = Math.floor(addr * INV_TWO32);
    if (!this.access(js, hi | 0, (addr - hi * TWO32) | 0, 8, R.MALI_FAULT_ACCESS_WRITE, 1, this.out)) return false;
    const zero = s.kind === D.MALI_WRITE_VALUE_ZERO;
    this.mem.write64parts(this.out.pa, zero ? 0 : s.immLo, zero ? 0 : s.immHi);
    this.stats.bytesWritten += 8;
    return true;
  }

  private store32(js: number, va: number, v: number): boolean {
    if (va % 4 !== 0) {
      this.finish(js, R.MALI_EXC_JOB_CONFIG_FAULT);
      return false;
    }
    const hi = Math.floor(va * INV_TWO32);
    if (!this.access(js, hi | 0, (va - hi * TWO32) | 0, 4, R.MALI_FAULT_ACCESS_WRITE, 1, this.out)) return false;
    this.mem.write32(this.out.pa, v);
    this.stats.bytesWritten += 4;
    return true;
  }

  private atomicAdd(js: number): boolean {
    const s = this.slots[js]!;
    if (s.dst % 4 !== 0) {
      this.finish(js, R.MALI_EXC_JOB_CONFIG_FAULT);
      return false;
    }
    const va = s.dst;
    const hi = Math.floor(va * INV_TWO32);
    if (!this.access(js, hi | 0, (va - hi * TWO32) | 0, 4, R.MALI_FAULT_ACCESS_ATOMIC, 1, this.out)) return false;
    const pa = this.out.pa;
    this.mem.write32(pa, (this.mem.read32(pa) + s.value) >>> 0);
    this.stats.bytesRead += 4;
    this.stats.bytesWritten += 4;
    return true;
  }

  /** COPY / FILL / CHECKSUM / EXECUTE: page piece by page piece from `progress`. */
  private stream(js: number): boolean {
    const s = this.slots[js]!;
    const type = s.type;
    const reads = type !== D.MALI_JOB_TYPE_FILL;
    const writes = type === D.MALI_JOB_TYPE_COPY || type === D.MALI_JOB_TYPE_FILL;
    const readAccess = type === D.MALI_JOB_TYPE_EXECUTE ? R.MALI_FAULT_ACCESS_EXECUTE : R.MALI_FAULT_ACCESS_READ;
    const src = this.out;
    const dst = this.out2;
    while (s.progress < s.length) {
      const done = s.progress;
      let n = s.length - done;
      const sv = s.src + done;
      const dv = s.dst + done;
      if (reads) n = Math.min(n, PAGE - (sv % PAGE));
      if (writes) n = Math.min(n, PAGE - (dv % PAGE));
      // VAs go to the MMU as halves (nothing boxed per piece).
      if (reads) {
        const hi = Math.floor(sv * INV_TWO32);
        if (!this.access(js, hi | 0, (sv - hi * TWO32) | 0, n, readAccess, 1, src)) return false;
      }
      if (writes) {
        const hi = Math.floor(dv * INV_TWO32);
        if (!this.access(js, hi | 0, (dv - hi * TWO32) | 0, n, R.MALI_FAULT_ACCESS_WRITE, 1, dst)) return false;
      }
      if (type === D.MALI_JOB_TYPE_COPY) copyPhys(this.mem, src.pa, dst.pa, n);
      else if (type === D.MALI_JOB_TYPE_FILL) fillPhys(this.mem, dst.pa, n, done, s.value);
      else if (type === D.MALI_JOB_TYPE_CHECKSUM) s.sum = sumPhys(this.mem, src.pa, n, s.sum);
      if (reads) this.stats.bytesRead += n;
      if (writes) this.stats.bytesWritten += n;
      s.progress = done + n;
    }
    return true;
  }

  /** Power-on / reset state: slots idle, registers zero, no interrupt pending. */
  reset(): void {
    for (const s of this.slots) {
      s.headNextLo = s.headNextHi = s.affNextLo = s.affNextHi = s.configNext = s.xaffNext = 0;
      s.commandNext = s.flushIdNext = 0;
      s.head = s.tail = s.affLo = s.affHi = s.config = s.xaff = s.status = 0;
      s.state = IDLE;
      s.phase = FETCH;
      s.stallCode = 0;
      s.faultVa = -1;
    }
    this.rawstat = 0;
    this.mask = 0;
    this.throttle = 0;
  }
}

function pageBase(pa: number): number {
  return pa - (pa % PAGE);
}

/** Copies n bytes between physical ranges that each lie inside one page. */
function copyPhys(mem: PhysMem, sp: number, dp: number, n: number): void {
  const sc = mem.peekChunk(pageBase(sp));
  const dc = mem.chunk(pageBase(dp));
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
  mem.touch(dp, n);
}

/** Fills n bytes at dp with `pat`; `offset` is dp's position in the whole fill. */
function fillPhys(mem: PhysMem, dp: number, n: number, offset: number, pat: number): void {
  const dc = mem.chunk(pageBase(dp));
  let i = 0;
  if ((dp & 3) === 0 && (offset & 3) === 0) {
    const base = PhysMem.wordIndex(dp);
    const words = n >>> 2;
    dc.fill(pat >>> 0, base, base + words);
    i = words * 4;
  }
  for (; i < n; i++) {
    const b = dp + i;
    const byte = (pat >>> (((offset + i) & 3) * 8)) & 0xff;
    const wi = PhysMem.wordIndex(b);
    const sh = (b & 3) * 8;
    dc[wi] = ((dc[wi]! & ~(0xff << sh)) | (byte << sh)) >>> 0;
  }
  mem.touch(dp, n);
}

function sumPhys(mem: PhysMem, sp: number, n: number, h: number): number {
  const sc = mem.peekChunk(pageBase(sp));
  for (let i = 0; i < n; i++) {
    const a = sp + i;
    h ^= (sc[PhysMem.wordIndex(a)]! >>> ((a & 3) * 8)) & 0xff;
    h = Math.imul(h, FNV_PRIME);
  }
  return h >>> 0;
}
