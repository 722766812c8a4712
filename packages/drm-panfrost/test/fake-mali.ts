/**
 * A scripted Mali register file for unit tests of the driver's register sequences. It is not a
 * GPU model (no translation, no job execution): identity registers answer from a table written
 * here from public facts (a Mali-T860 r2p0: GPU_ID 0x0860_2000, MMU_FEATURES 0x2830 = 48-bit VA,
 * 40-bit PA), power-on and reset complete after a scripted number of reads, every AS command
 * is recorded with the lock region in force, and tests raise job completions and MMU faults
 * by hand. The interrupt lines follow RAWSTAT & MASK after every access, as level interrupts.
 * End-to-end behaviour is tested against the real model in @gki/hw instead.
 */
import type { IrqLine, MmioDevice } from '@gki/hw';

/** Offsets, written out here from the register map (the test does not reuse the driver's header). */
const O = {
  GPU_ID: 0x000,
  MMU_FEATURES: 0x014,
  AS_PRESENT: 0x018,
  JS_PRESENT: 0x01c,
  GPU_INT_RAWSTAT: 0x020,
  GPU_INT_CLEAR: 0x024,
  GPU_INT_MASK: 0x028,
  GPU_INT_STAT: 0x02c,
  GPU_CMD: 0x030,
  SHADER_PRESENT_LO: 0x100,
  TILER_PRESENT_LO: 0x110,
  L2_PRESENT_LO: 0x120,
  SHADER_READY_LO: 0x140,
  TILER_READY_LO: 0x150,
  L2_READY_LO: 0x160,
  SHADER_PWRON_LO: 0x180,
  TILER_PWRON_LO: 0x190,
  L2_PWRON_LO: 0x1a0,
  JOB_INT_RAWSTAT: 0x1000,
  JOB_INT_CLEAR: 0x1004,
  JOB_INT_MASK: 0x1008,
  JOB_INT_STAT: 0x100c,
  JOB_INT_JS_STATE: 0x1010,
  MMU_INT_RAWSTAT: 0x2000,
  MMU_INT_CLEAR: 0x2004,
  MMU_INT_MASK: 0x2008,
  MMU_INT_STAT: 0x200c,
};
const JS = (n: number, off: number): number => 0x1800 + n * 0x80 + off;
const AS = (n: number, off: number): number => 0x2400 + n * 0x40 + off;

export interface FakeAsCommand {
  as: number;
  cmd: number;
  /** LOCKADDR (lo, hi) in force when the command was written. */
  lockLo: number;
  lockHi: number;
  transtabLo: number;
  transtabHi: number;
  /** Index in the write log. */
  seq: number;
}

export interface FakeJobStart {
  slot: number;
  head: number;
  config: number;
  affinityLo: number;
  flushId: number;
}

export interface FakeMaliOptions {
  gpuId?: number;
  mmuFeatures?: number;
  asPresent?: number;
  jsPresent?: number;
  shaderPresent?: number;
  l2Present?: number;
  tilerPresent?: number;
  /** Reads of AS_STATUS that see AS_ACTIVE after each command (default 0; Infinity: stuck). */
  asActiveReads?: number;
  /** Reads of GPU_INT_RAWSTAT before RESET_COMPLETED appears (default 1). */
  resetReads?: number;
}

export class FakeMali implements MmioDevice {
  readonly name = 'fake-mali';
  private readonly ro = new Map<number, number>();
  private readonly rw = new Map<number, number>();
  gpuRaw = 0;
  gpuMask = 0;
  jobRaw = 0;
  jobMask = 0;
  mmuRaw = 0;
  mmuMask = 0;
  private resetCountdown = -1;
  private readonly asActive = new Array<number>(16).fill(0);
  asActiveReads: number;
  readonly resetReads: number;
  /** Every write, in order. */
  readonly writes: { off: number; value: number }[] = [];
  readonly commands: FakeAsCommand[] = [];
  /** AS commands written while the slot still reported AS_ACTIVE (a driver that did not wait). */
  readonly commandsWhileActive: FakeAsCommand[] = [];
  readonly starts: FakeJobStart[] = [];
  /** Called when a slot is started (JS_COMMAND_NEXT = START); a test may complete it here. */
  onStart: ((s: FakeJobStart) => void) | null = null;
  readonly jsStatus = new Array<number>(3).fill(0);
  readonly jsCommands: { slot: number; cmd: number; next: boolean }[] = [];
  lines: { job?: IrqLine; mmu?: IrqLine; gpu?: IrqLine } = {};

  constructor(opts: FakeMaliOptions = {}) {
    this.ro.set(O.GPU_ID, opts.gpuId ?? 0x0860_2000);
    this.ro.set(O.MMU_FEATURES, opts.mmuFeatures ?? 0x2830);
    this.ro.set(O.AS_PRESENT, opts.asPresent ?? 0xff);
    this.ro.set(O.JS_PRESENT, opts.jsPresent ?? 0x7);
    this.ro.set(O.SHADER_PRESENT_LO, opts.shaderPresent ?? 0xf);
    this.ro.set(O.TILER_PRESENT_LO, opts.tilerPresent ?? 0x1);
    this.ro.set(O.L2_PRESENT_LO, opts.l2Present ?? 0x1);
    this.asActiveReads = opts.asActiveReads ?? 0;
    this.resetReads = opts.resetReads ?? 1;
  }

  private get(off: number): number {
    return this.rw.get(off) ?? 0;
  }

  read32(off: number): number {
    const v = this.read(off) >>> 0;
    this.updateLines();
    return v;
  }

  private read(off: number): number {
    if (this.ro.has(off)) return this.ro.get(off)!;
    switch (off) {
      case O.GPU_INT_RAWSTAT:
        if (this.resetCountdown > 0 && --this.resetCountdown === 0) this.gpuRaw |= 1 << 8;
        return this.gpuRaw;
      case O.GPU_INT_MASK:
        return this.gpuMask;
      case O.GPU_INT_STAT:
        return this.gpuRaw & this.gpuMask;
      case O.JOB_INT_RAWSTAT:
        return this.jobRaw;
      case O.JOB_INT_MASK:
        return this.jobMask;
      case O.JOB_INT_STAT:
        return this.jobRaw & this.jobMask;
      case O.JOB_INT_JS_STATE:
        return 0;
      case O.MMU_INT_RAWSTAT:
        return this.mmuRaw;
      case O.MMU_INT_MASK:
        return this.mmuMask;
      case O.MMU_INT_STAT:
        return this.mmuRaw & this.mmuMask;
      case O.SHADER_READY_LO:
        return this.get(O.SHADER_PWRON_LO);
      case O.TILER_READY_LO:
        return this.get(O.TILER_PWRON_LO);
      case O.L2_READY_LO:
        return this.get(O.L2_PWRON_LO);
    }
    if (off >= 0x1800 && off < 0x1980) {
      const n = (off - 0x1800) >> 7;
      const r = (off - 0x1800) & 0x7f;
      if (r === 0x24) return this.jsStatus[n]!;
      if (r === 0x60) return 0; // COMMAND_NEXT reads back idle
      return this.get(off);
    }
    if (off >= 0x2400 && off < 0x2800) {
      const n = (off - 0x2400) >> 6;
      if (((off - 0x2400) & 0x3f) === 0x28) {
        if (this.asActive[n]! > 0) {
          this.asActive[n] = this.asActive[n]! - 1;
          return 1;
        }
        return 0;
      }
    }
    return this.get(off);
  }

  write32(off: number, value: number): void {
    const v = value >>> 0;
    this.writes.push({ off, value: v });
    this.write(off, v);
    this.updateLines();
  }

  private write(off: number, v: number): void {
    switch (off) {
      case O.GPU_INT_CLEAR:
        this.gpuRaw &= ~v;
        return;
      case O.GPU_INT_MASK:
        this.gpuMask = v;
        return;
      case O.GPU_CMD:
        if (v === 1 || v === 2) {
          this.resetCountdown = this.resetReads;
          this.rw.delete(O.L2_PWRON_LO);
          this.rw.delete(O.SHADER_PWRON_LO);
          this.rw.delete(O.TILER_PWRON_LO);
        }
        return;
      case O.JOB_INT_CLEAR:
        this.jobRaw &= ~v;
        return;
      case O.JOB_INT_MASK:
        this.jobMask = v;
        return;
      case O.MMU_INT_CLEAR:
        this.mmuRaw &= ~v;
        return;
      case O.MMU_INT_MASK:
        this.mmuMask = v;
        return;
    }
    if (off >= 0x1800 && off < 0x1980) {
      const n = (off - 0x1800) >> 7;
      const r = (off - 0x1800) & 0x7f;
      if (r === 0x60 || r === 0x20) this.jsCommands.push({ slot: n, cmd: v, next: r === 0x60 });
      if (r === 0x60 && v === 1) {
        const s: FakeJobStart = {
          slot: n,
          head: this.get(JS(n, 0x40)) + this.get(JS(n, 0x44)) * 2 ** 32,
          config: this.get(JS(n, 0x58)),
          affinityLo: this.get(JS(n, 0x50)),
          flushId: this.get(JS(n, 0x70)),
        };
        this.rw.set(JS(n, 0x00), this.get(JS(n, 0x40)));
        this.rw.set(JS(n, 0x18), s.config);
        this.jsStatus[n] = 0x08;
        this.starts.push(s);
        this.onStart?.(s);
        return;
      }
      if (r === 0x20 && (v === 2 || v === 3)) {
        // SOFT_STOP / HARD_STOP a running chain
        if (this.jsStatus[n] === 0x08) this.finishJob(n, v === 2 ? 0x03 : 0x04);
        return;
      }
      if (r !== 0x60 && r !== 0x20) this.rw.set(off, v);
      return;
    }
    if (off >= 0x2400 && off < 0x2800) {
      const n = (off - 0x2400) >> 6;
      if (((off - 0x2400) & 0x3f) === 0x18) {
        const rec: FakeAsCommand = {
          as: n,
          cmd: v,
          lockLo: this.get(AS(n, 0x10)),
          lockHi: this.get(AS(n, 0x14)),
          transtabLo: this.get(AS(n, 0x00)),
          transtabHi: this.get(AS(n, 0x04)),
          seq: this.writes.length - 1,
        };
        this.commands.push(rec);
        if (this.asActive[n]! > 0) this.commandsWhileActive.push(rec);
        this.asActive[n] = this.asActiveReads;
        return;
      }
    }
    this.rw.set(off, v);
  }

  /** Ends the chain on `slot` with `status` (0x01 DONE, or a fault code) and raises the job IRQ. */
  finishJob(slot: number, status = 0x01): void {
    this.jsStatus[slot] = status;
    this.rw.set(JS(slot, 0x08), this.get(JS(slot, 0x00)));
    this.jobRaw |= status === 0x01 ? 1 << slot : 1 << (16 + slot);
    this.updateLines();
  }

  /** Records a fault on `as` (FAULTSTATUS, FAULTADDRESS) and raises the MMU IRQ (bus error with `bus`). */
  raiseFault(as: number, status: number, addr: number, bus = false): void {
    this.rw.set(AS(as, 0x1c), status >>> 0);
    this.rw.set(AS(as, 0x20), addr % 2 ** 32 >>> 0);
    this.rw.set(AS(as, 0x24), Math.floor(addr / 2 ** 32) >>> 0);
    this.mmuRaw |= bus ? 1 << (16 + as) : 1 << as;
    this.updateLines();
  }

  /** The AS register `off` (TRANSTAB 0x00, MEMATTR 0x08, LOCKADDR 0x10, ...) of slot `as`. */
  asReg(as: number, off: number): number {
    return this.get(AS(as, off));
  }

  /** AS_STATUS reads that would still see AS_ACTIVE on slot `as`. */
  activeReadsLeft(as: number): number {
    return this.asActive[as]!;
  }

  commandsFor(as: number): FakeAsCommand[] {
    return this.commands.filter((c) => c.as === as);
  }

  private updateLines(): void {
    const set = (line: IrqLine | undefined, high: boolean): void => {
      if (!line) return;
      if (high) line.raise();
      else line.lower();
    };
    set(this.lines.gpu, (this.gpuRaw & this.gpuMask) !== 0);
    set(this.lines.job, (this.jobRaw & this.jobMask) !== 0);
    set(this.lines.mmu, (this.mmuRaw & this.mmuMask) !== 0);
  }
}
