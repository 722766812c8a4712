/**
 * An Arm Mali job-manager GPU (Midgard, Bifrost, Valhall-JM) as a device on the MMIO bus:
 * its identity and feature registers, power control of the L2, shader, tiler and core-stack
 * domains, GPU commands (soft/hard reset, cache clean), the GPU interrupt block, the MMU
 * (mmu.ts) and the job manager (jobs.ts), with the three interrupt lines the device tree names
 * `job`, `mmu` and `gpu`.
 *
 * Time is counted in GPU register accesses: every 32-bit access advances one cycle, and the
 * operations that take time in hardware (AS commands, power transitions, resets, cache
 * cleans) complete after a set number of cycles, so a driver that polls sees them finish and
 * a driver that does not wait is caught. Interrupt lines are updated at the end of each
 * access, so a handler never runs while the model is half-way through a change.
 */
import type { MmioDevice } from '../../bus.js';
import type { IrqLine } from '../../irq.js';
import type { PhysMem } from '../../mem.js';
import { MaliJobManager, type MaliJobRecord, type MaliJobStats } from './jobs.js';
import { MaliMmu, type MaliFaultRecord, type MaliMmuStats } from './mmu.js';
import type { MaliPreset } from './presets.js';
import { MALI_PRESET_T860 } from './presets.js';
import * as R from './regs.js';

const TWO32 = 2 ** 32;

/** A power domain: which cores exist, are powered, and are changing state. */
class PowerDomain {
  ready = 0;
  /** Cores powering up / down, and the cycles until the change completes. */
  on = 0;
  off = 0;
  remaining = 0;
  constructor(readonly present: number) {}
  get transitioning(): number {
    return (this.on | this.off) >>> 0;
  }
}

export interface MaliGpuOptions {
  readonly name?: string;
  /** Identity to report (default: Mali-T860). */
  readonly preset?: MaliPreset;
  /** Overrides of the identity (from `gki,*` properties). */
  readonly gpuId?: number;
  readonly asPresent?: number;
  readonly vaBits?: number;
  readonly paBits?: number;
  readonly jsPresent?: number;
  readonly shaderPresent?: number;
  readonly l2Present?: number;
  readonly tilerPresent?: number;
  readonly jobIrq?: IrqLine;
  readonly mmuIrq?: IrqLine;
  readonly gpuIrq?: IrqLine;
  /** Register accesses an AS command keeps AS_ACTIVE set (default 2; 0 = completes at once). */
  readonly commandLatency?: number;
  /** Register accesses a power transition takes (default 2). */
  readonly powerLatency?: number;
  /** Register accesses a soft or hard reset takes (default 3). */
  readonly resetLatency?: number;
  /** Register accesses a cache clean takes (default 2). */
  readonly cacheLatency?: number;
  /** 'immediate' (default): chains run as soon as they can; 'manual': only in `run()`. */
  readonly jobExecution?: 'immediate' | 'manual';
  /** Jobs one chain may run before its slot counts as hung (default 65536). */
  readonly maxChainJobs?: number;
  /** TLB entries shared by the address spaces (default 65536, 4-way sets; a full set is emptied on the next fill into it). */
  readonly tlbCapacity?: number;
  /** Cache the tables MMU walks reach (default true; false: every TLB miss walks all levels). */
  readonly walkCache?: boolean;
}

/** Everything the model counts. */
export interface MaliGpuStats {
  readonly cycles: number;
  readonly resets: number;
  readonly mmu: MaliMmuStats;
  readonly jobs: MaliJobStats;
}

export class MaliGpu implements MmioDevice {
  readonly name: string;
  readonly preset: MaliPreset;
  readonly gpuId: number;
  readonly mmuFeatures: number;
  readonly vaBits: number;
  readonly paBits: number;
  readonly mmu: MaliMmu;
  readonly jobs: MaliJobManager;
  private readonly shader: PowerDomain;
  private readonly tiler: PowerDomain;
  private readonly l2: PowerDomain;
  private readonly stack: PowerDomain;
  private readonly domains: readonly PowerDomain[];
  private readonly jobIrq: IrqLine | undefined;
  private readonly mmuIrq: IrqLine | undefined;
  private readonly gpuIrq: IrqLine | undefined;
  private readonly lines: readonly IrqLine[];
  readonly powerLatency: number;
  readonly resetLatency: number;
  readonly cacheLatency: number;

  private cycles = 0;
  private depth = 0;
  private gpuRaw = 0;
  private gpuMask = 0;
  private resetRemaining = 0;
  private cleanRemaining = 0;
  private flushId = 0;
  private cycleCounting = false;
  private resets = 0;
  /** Read/write storage: PWR_KEY/OVERRIDE, perf-counter setup, implementation-specific config. */
  private readonly storage = new Map<number, number>();
  /** Protocol events (ignored commands, bad locks, ...), newest last; at most `eventLogSize`. */
  readonly events: string[] = [];
  eventLogSize = 256;

  constructor(
    private readonly mem: PhysMem,
    opts: MaliGpuOptions = {},
  ) {
    const p = opts.preset ?? MALI_PRESET_T860;
    this.preset = p;
    this.name = opts.name ?? p.name;
    const u32 = (what: string, v: number | undefined, dflt: number, max = 0xffffffff): number => {
      const x = v ?? dflt;
      if (!Number.isInteger(x) || x < 0 || x > max) throw new RangeError(`${this.name}: bad ${what} ${x}`);
      return x;
    };
    this.gpuId = u32('GPU_ID', opts.gpuId, p.gpuId);
    this.vaBits = u32('VA bits', opts.vaBits, p.mmuFeatures & 0xff, 48);
    this.paBits = u32('PA bits', opts.paBits, (p.mmuFeatures >>> 8) & 0xff, 48);
    if (this.vaBits < 13 || this.paBits < 13) throw new RangeError(`${this.name}: VA/PA bits ${this.vaBits}/${this.paBits} below 13`);
    this.mmuFeatures = ((p.mmuFeatures & ~0xffff) | (this.paBits << 8) | this.vaBits) >>> 0;
    const asPresent = u32('AS_PRESENT', opts.asPresent, p.asPresent, 0xffff);
    const jsPresent = u32('JS_PRESENT', opts.jsPresent, p.jsPresent, 0xffff);
    if (asPresent === 0) throw new RangeError(`${this.name}: AS_PRESENT must name at least one address space`);
    if (jsPresent === 0) throw new RangeError(`${this.name}: JS_PRESENT must name at least one job slot`);
    const mask = (what: string, v: number | undefined, dflt: number): number => {
      const x = v ?? dflt;
      if (!Number.isInteger(x) || x <= 0 || x > 0xffffffff) throw new RangeError(`${this.name}: bad ${what} mask ${x} (1 to 32 cores)`);
      return x;
    };
    this.shader = new PowerDomain(mask('shader', opts.shaderPresent, p.shaderPresent));
    this.tiler = new PowerDomain(mask('tiler', opts.tilerPresent, p.tilerPresent));
    this.l2 = new PowerDomain(mask('L2', opts.l2Present, p.l2Present));
    this.stack = new PowerDomain(p.stackPresent);
    this.domains = [this.shader, this.tiler, this.l2, this.stack];
    this.powerLatency = u32('power latency', opts.powerLatency, 2, 1 << 20);
    this.resetLatency = u32('reset latency', opts.resetLatency, 3, 1 << 20);
    this.cacheLatency = u32('cache latency', opts.cacheLatency, 2, 1 << 20);
    this.jobIrq = opts.jobIrq;
    this.mmuIrq = opts.mmuIrq;
    this.gpuIrq = opts.gpuIrq;
    this.lines = [...new Set([opts.jobIrq, opts.mmuIrq, opts.gpuIrq].filter((l): l is IrqLine => l !== undefined))];

    const host = this;
    this.mmu = new MaliMmu(
      mem,
      {
        asPresent,
        vaBits: this.vaBits,
        paBits: this.paBits,
        lockMinLog2: p.lockMinLog2,
        commandLatency: u32('command latency', opts.commandLatency, 2, 1 << 20),
        tlbCapacity: opts.tlbCapacity,
        walkCache: opts.walkCache,
      },
      {
        get cycle() {
          return host.cycles;
        },
        mmuCommandCompleted: () => this.jobs.retryStalled(),
        event: (m) => this.event(m),
      },
    );
    this.jobs = new MaliJobManager(
      mem,
      this.mmu,
      {
        jsPresent,
        immediate: (opts.jobExecution ?? 'immediate') === 'immediate',
        maxChainJobs: u32('max chain jobs', opts.maxChainJobs, 65536, 2 ** 31),
      },
      {
        get cycle() {
          return host.cycles;
        },
        get shaderReady() {
          return host.shader.ready % TWO32;
        },
        get l2Ready() {
          return host.l2.ready % TWO32;
        },
        cacheFlushed: () => {
          this.flushId = (this.flushId + 1) >>> 0;
        },
        event: (m) => this.event(m),
      },
    );
  }

  // ---------------------------------------------------------------------------- inspection

  /** GPU register accesses so far (the model's clock). */
  get cycle(): number {
    return this.cycles;
  }

  get stats(): MaliGpuStats {
    return { cycles: this.cycles, resets: this.resets, mmu: this.mmu.stats, jobs: this.jobs.stats };
  }

  /** The last MMU faults, oldest first. */
  get faults(): readonly MaliFaultRecord[] {
    return this.mmu.faultLog;
  }

  /** The last finished job chains, oldest first. */
  get jobLog(): readonly MaliJobRecord[] {
    return this.jobs.log;
  }

  /** Ready masks of the power domains. */
  get powered(): { shader: number; tiler: number; l2: number; stack: number } {
    return { shader: this.shader.ready, tiler: this.tiler.ready, l2: this.l2.ready, stack: this.stack.ready };
  }

  private event(msg: string): void {
    if (this.events.length >= this.eventLogSize) this.events.shift();
    this.events.push(msg);
  }

  // ------------------------------------------------------------------------- time & control

  /** Completes every operation in progress (AS commands, power, reset, cache clean) now. */
  settle(): void {
    this.enter();
    try {
      if (this.resetRemaining > 0) {
        this.resetRemaining = 0;
        this.doReset();
      }
      this.mmu.settle();
      for (const d of this.domains) if (d.remaining > 0) this.completePower(d);
      if (this.cleanRemaining > 0) {
        this.cleanRemaining = 0;
        this.cleanDone();
      }
    } finally {
      this.leave();
    }
  }

  /** Runs the job slots that can make progress (the only way chains run in manual mode). */
  run(): void {
    this.enter();
    try {
      this.jobs.run();
    } finally {
      this.leave();
    }
  }

  /** Powers every present core on at once (for tests that do not exercise power-up). */
  powerOnAll(): void {
    for (const d of this.domains) {
      d.ready = d.present;
      d.on = d.off = 0;
      d.remaining = 0;
    }
  }

  private enter(): void {
    this.depth++;
  }

  private leave(): void {
    if (--this.depth === 0) this.updateLines();
  }

  /** Drives each interrupt line from its sources (a line named twice carries both). */
  private updateLines(): void {
    for (const line of this.lines) {
      const high =
        (line === this.gpuIrq && (this.gpuRaw & this.gpuMask) !== 0) ||
        (line === this.jobIrq && (this.jobs.rawstat & this.jobs.mask) !== 0) ||
        (line === this.mmuIrq && (this.mmu.rawstat & this.mmu.mask) !== 0);
      if (high) line.raise();
      else line.lower();
    }
  }

  /** One GPU cycle: operations in progress count down. */
  private tick(): void {
    this.cycles++;
    this.mmu.tick();
    if (this.resetRemaining > 0 && --this.resetRemaining === 0) this.doReset();
    for (const d of this.domains) if (d.remaining > 0 && --d.remaining === 0) this.completePower(d);
    if (this.cleanRemaining > 0 && --this.cleanRemaining === 0) this.cleanDone();
  }

  private completePower(d: PowerDomain): void {
    d.ready = ((d.ready | d.on) & ~d.off) >>> 0;
    d.on = d.off = 0;
    d.remaining = 0;
    this.gpuRaw |= R.MALI_GPU_IRQ_POWER_CHANGED;
    if (this.domains.every((x) => x.transitioning === 0)) this.gpuRaw |= R.MALI_GPU_IRQ_POWER_CHANGED_ALL;
  }

  private powerOn(d: PowerDomain, bits: number): void {
    const b = (bits & d.present & ~d.ready) >>> 0;
    if (b === 0) return;
    d.on = (d.on | b) >>> 0;
    d.off = (d.off & ~b) >>> 0;
    if (this.powerLatency === 0) this.completePower(d);
    else d.remaining = this.powerLatency;
  }

  private powerOff(d: PowerDomain, bits: number): void {
    const b = (bits & d.present & (d.ready | d.on)) >>> 0;
    if (b === 0) return;
    d.off = (d.off | b) >>> 0;
    d.on = (d.on & ~b) >>> 0;
    if (this.powerLatency === 0) this.completePower(d);
    else d.remaining = this.powerLatency;
  }

  private cleanDone(): void {
    this.flushId = (this.flushId + 1) >>> 0;
    this.gpuRaw |= R.MALI_GPU_IRQ_CLEAN_CACHES_COMPLETED;
  }

  /** The state after a reset: MMU, job manager and registers cleared (but GPU_IRQ_MASK), every core off. */
  private doReset(): void {
    this.resets++;
    this.mmu.reset();
    this.jobs.reset();
    for (const d of this.domains) {
      d.ready = d.on = d.off = 0;
      d.remaining = 0;
    }
    this.cleanRemaining = 0;
    this.storage.clear();
    this.cycleCounting = false;
    // GPU_IRQ_MASK survives: software unmasks RESET_COMPLETED before a reset to be told of its end.
    this.gpuRaw = R.MALI_GPU_IRQ_RESET_COMPLETED;
  }

  private gpuCommand(cmd: number): void {
    switch (cmd) {
      case R.MALI_GPU_CMD_NOP:
        return;
      case R.MALI_GPU_CMD_SOFT_RESET:
      case R.MALI_GPU_CMD_HARD_RESET:
        if (this.resetLatency === 0) this.doReset();
        else this.resetRemaining = this.resetLatency;
        return;
      case R.MALI_GPU_CMD_PERFCNT_CLEAR:
        return;
      case R.MALI_GPU_CMD_PERFCNT_SAMPLE:
        this.gpuRaw |= R.MALI_GPU_IRQ_PERFCNT_SAMPLE_COMPLETED; // no counters are written
        return;
      case R.MALI_GPU_CMD_CYCLE_COUNT_START:
        this.cycleCounting = true;
        return;
      case R.MALI_GPU_CMD_CYCLE_COUNT_STOP:
        this.cycleCounting = false;
        return;
      case R.MALI_GPU_CMD_CLEAN_CACHES:
      case R.MALI_GPU_CMD_CLEAN_INV_CACHES:
        if (this.cacheLatency === 0) this.cleanDone();
        else this.cleanRemaining = this.cacheLatency;
        return;
      default:
        this.event(`GPU_COMMAND ${cmd} is not a command: ignored`);
    }
  }

  // ---------------------------------------------------------------------------------- MMIO

  read32(offset: number): number {
    this.enter();
    try {
      this.tick();
      if (offset >= 0x2000 && offset < 0x3000) return this.mmu.read(offset) >>> 0;
      if (offset >= 0x1000 && offset < 0x2000) return this.jobs.read(offset) >>> 0;
      return this.readGpu(offset) >>> 0;
    } finally {
      this.leave();
    }
  }

  write32(offset: number, value: number): void {
    this.enter();
    try {
      this.tick();
      const v = value >>> 0;
      if (offset >= 0x2000 && offset < 0x3000) this.mmu.write(offset, v);
      else if (offset >= 0x1000 && offset < 0x2000) this.jobs.write(offset, v);
      else this.writeGpu(offset, v);
    } finally {
      this.leave();
    }
  }

  private readGpu(off: number): number {
    const p = this.preset;
    const lo = (x: number): number => x % TWO32;
    const hi = (x: number): number => Math.floor(x / TWO32);
    if (off >= R.MALI_JS_FEATURES_0 && off < R.MALI_JS_FEATURES_0 + 64) {
      const js = (off - R.MALI_JS_FEATURES_0) / 4;
      return this.jobs.present(js) ? (p.jsFeatures[js] ?? p.jsFeatures[p.jsFeatures.length - 1] ?? 0) : 0;
    }
    if (off >= R.MALI_TEXTURE_FEATURES_0 && off < R.MALI_TEXTURE_FEATURES_0 + 16) return p.textureFeatures[(off - R.MALI_TEXTURE_FEATURES_0) / 4]!;
    switch (off) {
      case R.MALI_GPU_ID: return this.gpuId;
      case R.MALI_L2_FEATURES: return p.l2Features;
      case R.MALI_CORE_FEATURES: return p.coreFeatures;
      case R.MALI_TILER_FEATURES: return p.tilerFeatures;
      case R.MALI_MEM_FEATURES: return p.memFeatures;
      case R.MALI_MMU_FEATURES: return this.mmuFeatures;
      case R.MALI_AS_PRESENT: return this.mmu.asPresent;
      case R.MALI_JS_PRESENT: return this.jobs.jsPresent;
      case R.MALI_GPU_IRQ_RAWSTAT: return this.gpuRaw;
      case R.MALI_GPU_IRQ_MASK: return this.gpuMask;
      case R.MALI_GPU_IRQ_STATUS: return this.gpuRaw & this.gpuMask;
      case R.MALI_GPU_STATUS: return this.jobs.active ? R.MALI_GPU_STATUS_ACTIVE : 0;
      case R.MALI_LATEST_FLUSH: return this.flushId;
      case R.MALI_AFBC_FEATURES: return p.afbcFeatures;
      case R.MALI_CYCLE_COUNT_LO: return this.cycleCounting ? lo(this.cycles) : 0;
      case R.MALI_CYCLE_COUNT_HI: return this.cycleCounting ? hi(this.cycles) : 0;
      case R.MALI_TIMESTAMP_LO: return lo(this.cycles);
      case R.MALI_TIMESTAMP_HI: return hi(this.cycles);
      case R.MALI_THREAD_MAX_THREADS: return p.threadMaxThreads;
      case R.MALI_THREAD_MAX_WORKGROUP_SIZE: return p.threadMaxWorkgroupSize;
      case R.MALI_THREAD_MAX_BARRIER_SIZE: return p.threadMaxBarrierSize;
      case R.MALI_THREAD_FEATURES: return p.threadFeatures;
      case R.MALI_THREAD_TLS_ALLOC: return p.threadTlsAlloc;
      case R.MALI_COHERENCY_FEATURES: return p.coherencyFeatures;
      case R.MALI_SHADER_PRESENT_LO: return lo(this.shader.present);
      case R.MALI_SHADER_PRESENT_HI: return hi(this.shader.present);
      case R.MALI_TILER_PRESENT_LO: return lo(this.tiler.present);
      case R.MALI_TILER_PRESENT_HI: return hi(this.tiler.present);
      case R.MALI_L2_PRESENT_LO: return lo(this.l2.present);
      case R.MALI_L2_PRESENT_HI: return hi(this.l2.present);
      case R.MALI_STACK_PRESENT_LO: return lo(this.stack.present);
      case R.MALI_STACK_PRESENT_HI: return hi(this.stack.present);
      case R.MALI_SHADER_READY_LO: return lo(this.shader.ready);
      case R.MALI_SHADER_READY_HI: return hi(this.shader.ready);
      case R.MALI_TILER_READY_LO: return lo(this.tiler.ready);
      case R.MALI_TILER_READY_HI: return hi(this.tiler.ready);
      case R.MALI_L2_READY_LO: return lo(this.l2.ready);
      case R.MALI_L2_READY_HI: return hi(this.l2.ready);
      case R.MALI_STACK_READY_LO: return lo(this.stack.ready);
      case R.MALI_STACK_READY_HI: return hi(this.stack.ready);
      case R.MALI_SHADER_PWRTRANS_LO: return lo(this.shader.transitioning);
      case R.MALI_SHADER_PWRTRANS_HI: return hi(this.shader.transitioning);
      case R.MALI_TILER_PWRTRANS_LO: return lo(this.tiler.transitioning);
      case R.MALI_TILER_PWRTRANS_HI: return hi(this.tiler.transitioning);
      case R.MALI_L2_PWRTRANS_LO: return lo(this.l2.transitioning);
      case R.MALI_L2_PWRTRANS_HI: return hi(this.l2.transitioning);
      case R.MALI_STACK_PWRTRANS_LO: return lo(this.stack.transitioning);
      case R.MALI_STACK_PWRTRANS_HI: return hi(this.stack.transitioning);
      case R.MALI_SHADER_PWRACTIVE_LO: return this.jobs.active ? lo(this.shader.ready) : 0;
      case R.MALI_SHADER_PWRACTIVE_HI: return this.jobs.active ? hi(this.shader.ready) : 0;
      case R.MALI_TILER_PWRACTIVE_LO:
      case R.MALI_TILER_PWRACTIVE_HI:
      case R.MALI_L2_PWRACTIVE_LO:
      case R.MALI_L2_PWRACTIVE_HI:
        return 0;
      case R.MALI_PWR_KEY:
        return 0; // write-only
      default:
        return this.storage.get(off) ?? 0; // GPU_FAULT*, config and perf-counter storage; else 0
    }
  }

  private writeGpu(off: number, v: number): void {
    switch (off) {
      case R.MALI_GPU_IRQ_CLEAR: this.gpuRaw = (this.gpuRaw & ~v) >>> 0; return;
      case R.MALI_GPU_IRQ_MASK: this.gpuMask = v & R.MALI_GPU_IRQ_ALL; return;
      case R.MALI_GPU_COMMAND: this.gpuCommand(v); return;
      case R.MALI_SHADER_PWRON_LO: this.powerOn(this.shader, v); return;
      case R.MALI_TILER_PWRON_LO: this.powerOn(this.tiler, v); return;
      case R.MALI_L2_PWRON_LO: this.powerOn(this.l2, v); return;
      case R.MALI_STACK_PWRON_LO: this.powerOn(this.stack, v); return;
      case R.MALI_SHADER_PWROFF_LO: this.powerOff(this.shader, v); return;
      case R.MALI_TILER_PWROFF_LO: this.powerOff(this.tiler, v); return;
      case R.MALI_L2_PWROFF_LO: this.powerOff(this.l2, v); return;
      case R.MALI_STACK_PWROFF_LO: this.powerOff(this.stack, v); return;
      case R.MALI_PWR_KEY:
      case R.MALI_PWR_OVERRIDE0:
      case R.MALI_PWR_OVERRIDE1:
      case R.MALI_PRFCNT_BASE_LO:
      case R.MALI_PRFCNT_BASE_HI:
      case R.MALI_PRFCNT_CONFIG:
      case R.MALI_PRFCNT_JM_EN:
      case R.MALI_PRFCNT_SHADER_EN:
      case R.MALI_PRFCNT_TILER_EN:
      case R.MALI_PRFCNT_MMU_L2_EN:
      case R.MALI_COHERENCY_ENABLE:
      case R.MALI_JM_CONFIG:
      case R.MALI_SHADER_CONFIG:
      case R.MALI_TILER_CONFIG:
      case R.MALI_L2_MMU_CONFIG:
        if (off !== R.MALI_PWR_KEY) this.storage.set(off, v);
        return;
      default:
        return; // read-only and unused registers (and the _HI power halves: at most 32 cores) ignore writes
    }
  }
}
