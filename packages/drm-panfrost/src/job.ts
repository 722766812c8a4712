import { ECANCELED, EINVAL, ESRCH, ETIME, NSEC_PER_MSEC, ktimeGetNs, readxPollTimeout } from '@gki/kernel';
import { EXCEPTION_STOPPED, EXCEPTION_TERMINATED, panfrostExceptionIsFault, panfrostExceptionName } from './exception.js';
import { HW_FEATURE_FLUSH_REDUCTION, hasHwFeature } from './features.js';
import * as R from './regs.js';
import type { PanfrostDevice } from './device.js';
import type { PanfrostBo, PanfrostGemMapping } from './gem.js';
import type { PanfrostMmu } from './mmu.js';
import { PANFROST_JD_REQ_FS } from './uapi.js';

/** drm_sched's job timeout for panfrost. */
export const JOB_TIMEOUT_MS = 500;

/**
 * A completion fence (a dma_fence): signalled once, with 0 or a negative error (-EINVAL for a
 * job that faulted, -ECANCELED for one stopped or given up after a timeout, -ESRCH for one
 * dropped when its file closed). `wait` lets simulated time pass until it signals; `done` is
 * a promise of the error for code that prefers to await.
 */
export class PanfrostFence {
  private isSignaled = false;
  private err = 0;
  private readonly callbacks: ((f: PanfrostFence) => void)[] = [];
  private resolveDone!: (err: number) => void;
  readonly done: Promise<number>;

  constructor(
    private readonly pfdev: PanfrostDevice,
    /** The fence context (one per file and job slot, like a drm_sched entity). */
    readonly context: number,
    readonly seqno: number,
    /** "panfrost-js-N". */
    readonly timeline: string,
  ) {
    this.done = new Promise<number>((resolve) => {
      this.resolveDone = resolve;
    });
  }

  get signaled(): boolean {
    return this.isSignaled;
  }

  /** 0, or the negative errno the job ended with (meaningful once signalled). */
  get error(): number {
    return this.err;
  }

  /** dma_fence_signal (with dma_fence_set_error first when `error` is not 0). Idempotent. */
  signal(error = 0): void {
    if (this.isSignaled) return;
    this.err = error;
    this.isSignaled = true;
    for (const cb of this.callbacks.splice(0)) cb(this);
    this.resolveDone(error);
  }

  /** dma_fence_add_callback: runs `cb` when signalled (at once if it already is). */
  onSignal(cb: (f: PanfrostFence) => void): void {
    if (this.isSignaled) cb(this);
    else this.callbacks.push(cb);
  }

  /**
   * dma_fence_wait_timeout with a relative timeout in ns (default: no limit): 0 once signalled
   * (read `error` for how the job ended), -ETIME if the time ran out first.
   */
  wait(timeoutNs = Number.POSITIVE_INFINITY): number {
    const deadline = ktimeGetNs(this.pfdev.kernel) + timeoutNs;
    return this.pfdev.waitUntil(() => this.isSignaled, deadline) ? 0 : -ETIME;
  }
}

/** A per-file, per-slot submission queue (what a drm_sched entity orders). */
export interface PanfrostEntity {
  readonly context: number;
  seqno: number;
  readonly slot: number;
}

/** One submitted job chain (struct panfrost_job). */
export class PanfrostJob {
  /** GPU address of the chain's first descriptor; 0 once finished (nothing to resubmit). */
  jc: number;
  deadline = 0;
  /** GPU resets this job went through while on the hardware. */
  resets = 0;
  state: 'queued' | 'hw' | 'done' = 'queued';
  /** The file's id, or null once the file is closed (jobs outlive their file). */
  fileId: number | null;

  constructor(
    readonly id: number,
    readonly mmu: PanfrostMmu,
    readonly entity: PanfrostEntity,
    fileId: number,
    jc: number,
    readonly requirements: number,
    readonly flushId: number,
    readonly bos: readonly PanfrostBo[],
    readonly mappings: readonly PanfrostGemMapping[],
    readonly deps: readonly PanfrostFence[],
    readonly fence: PanfrostFence,
  ) {
    this.jc = jc;
    this.fileId = fileId;
  }

  get slot(): number {
    return this.entity.slot;
  }
}

/** panfrost_job_get_slot: fragment jobs on JS0, everything else on JS1. */
export function panfrostJobSlot(requirements: number): number {
  return requirements & PANFROST_JD_REQ_FS ? 0 : 1;
}

/** Counters of the job side; plain data. */
export interface PanfrostJobStats {
  submitted: number;
  hwSubmits: number;
  done: number;
  faulted: number;
  canceled: number;
  timeouts: number;
  resets: number;
}

/**
 * The job manager side of panfrost with a minimal drm_sched in front of it: per slot a queue
 * of jobs (kept in order per file), one job on the hardware per slot, implicit dependencies
 * through each buffer's last fence, the job interrupt, the 500 ms timeout and the GPU reset.
 */
export class PanfrostJobManager {
  /** Jobs waiting to run, per slot, in submission order. */
  readonly queues: PanfrostJob[][] = [[], [], []];
  /** The job on the hardware per slot (pfdev->jobs). */
  readonly running: (PanfrostJob | null)[] = [null, null, null];
  /** Jobs that a reset took off the hardware, to resubmit. */
  private stuck: PanfrostJob[] = [];
  private stopped = false;
  resetPending = false;
  private irqMasked = false;
  private nextJobId = 1;
  readonly stats: PanfrostJobStats = { submitted: 0, hwSubmits: 0, done: 0, faulted: 0, canceled: 0, timeouts: 0, resets: 0 };

  constructor(private readonly pfdev: PanfrostDevice) {}

  newJobId(): number {
    return this.nextJobId++;
  }

  /** panfrost_job_enable_interrupts: clear then unmask DONE and error of every slot. */
  enableInterrupts(): void {
    const regs = this.pfdev.regs;
    regs.write32(R.JOB_INT_CLEAR, R.ALL_JS_INT_MASK);
    regs.write32(R.JOB_INT_MASK, R.ALL_JS_INT_MASK);
    this.irqMasked = false;
  }

  /** panfrost_job_fini: mask the job interrupts. */
  fini(): void {
    this.pfdev.regs.write32(R.JOB_INT_MASK, 0);
    this.irqMasked = true;
  }

  /** Queues a job (panfrost_job_push); the scheduler runs it when its dependencies signal. */
  push(job: PanfrostJob): void {
    this.stats.submitted++;
    this.queues[job.slot]!.push(job);
    for (const d of job.deps) if (!d.signaled) d.onSignal(() => this.pfdev.queueWork(() => this.runQueues()));
    this.pfdev.queueWork(() => this.runQueues());
  }

  /** Jobs queued or on the hardware. */
  get busy(): boolean {
    return this.queues.some((q) => q.length > 0) || this.running.some((j) => j !== null) || this.stuck.length > 0;
  }

  /** The earliest job deadline (ns), or Infinity when no job is on the hardware. */
  nextDeadline(): number {
    let d = Number.POSITIVE_INFINITY;
    for (const j of this.running) if (j && j.deadline < d) d = j.deadline;
    return d;
  }

  /**
   * The scheduler: for every free slot, the first queued job whose file has nothing earlier
   * queued on that slot and whose dependencies have signalled goes to the hardware. A job
   * already failed (its fence carries an error) is completed without running.
   */
  runQueues(): void {
    if (this.stopped || !this.pfdev.hwAccessible) return;
    let progress = true;
    while (progress) {
      progress = false;
      for (let slot = 0; slot < R.NUM_JOB_SLOTS; slot++) {
        if (this.running[slot]) continue;
        const q = this.queues[slot]!;
        const blocked = new Set<number>();
        for (let i = 0; i < q.length; i++) {
          const job = q[i]!;
          if (blocked.has(job.entity.context)) continue;
          if (!job.deps.every((d) => d.signaled)) {
            blocked.add(job.entity.context);
            continue;
          }
          if (job.fence.signaled || job.jc === 0) {
            q.splice(i, 1);
            this.finish(job, job.fence.error);
            progress = true;
            break;
          }
          const started = this.hwSubmit(job, slot);
          if (started === 'no-as') {
            blocked.add(job.entity.context);
            continue;
          }
          q.splice(i, 1);
          progress = true;
          break;
        }
      }
    }
  }

  /** panfrost_job_hw_submit. 'no-as' when every AS is busy (the job stays queued). */
  private hwSubmit(job: PanfrostJob, js: number): 'ok' | 'no-as' {
    const pfdev = this.pfdev;
    const regs = pfdev.regs;
    const f = pfdev.features;
    this.running[js] = job;
    job.state = 'hw';
    job.deadline = ktimeGetNs(pfdev.kernel) + JOB_TIMEOUT_MS * NSEC_PER_MSEC;
    if (regs.read32(R.JS_COMMAND_NEXT(js)) !== 0) {
      pfdev.dev.warn(`JS${js}: JS_COMMAND_NEXT busy, job ${job.id} not started`);
      return 'ok';
    }
    const as = pfdev.mmu.asGet(job.mmu);
    if (as < 0) {
      this.running[js] = null;
      job.state = 'queued';
      return 'no-as';
    }
    this.stats.hwSubmits++;
    regs.write32(R.JS_HEAD_NEXT_LO(js), job.jc % 2 ** 32 >>> 0);
    regs.write32(R.JS_HEAD_NEXT_HI(js), Math.floor(job.jc / 2 ** 32) >>> 0);
    // every shader core, as the kernel does for now
    regs.write32(R.JS_AFFINITY_NEXT_LO(js), Number(f.shaderPresent & 0xffff_ffffn));
    regs.write32(R.JS_AFFINITY_NEXT_HI(js), Number(f.shaderPresent >> 32n));
    let cfg = as | R.JS_CONFIG_THREAD_PRI(8) | R.JS_CONFIG_START_FLUSH_CLEAN_INVALIDATE | R.JS_CONFIG_END_FLUSH_CLEAN_INVALIDATE;
    const flushReduction = hasHwFeature(f, HW_FEATURE_FLUSH_REDUCTION);
    if (flushReduction) cfg |= R.JS_CONFIG_ENABLE_FLUSH_REDUCTION;
    regs.write32(R.JS_CONFIG_NEXT(js), cfg >>> 0);
    if (flushReduction) regs.write32(R.JS_FLUSH_ID_NEXT(js), job.flushId);
    pfdev.dev.dbg(`JS: Submitting atom ${job.id} to js[${js}] with head=0x${job.jc.toString(16)}`);
    regs.write32(R.JS_COMMAND_NEXT(js), R.JS_COMMAND_START);
    return 'ok';
  }

  // ------------------------------------------------------------------ interrupts

  /** The job interrupt (hard half): not ours when JOB_INT_STAT is 0; else mask and run the thread. */
  irq(): void {
    const regs = this.pfdev.regs;
    if (!this.pfdev.hwAccessible) return;
    if (regs.read32(R.JOB_INT_STAT) === 0) return;
    regs.write32(R.JOB_INT_MASK, 0);
    this.handleIrqs();
    if (!this.irqMasked) regs.write32(R.JOB_INT_MASK, R.ALL_JS_INT_MASK);
  }

  /** panfrost_job_handle_irqs: until JOB_INT_RAWSTAT reads 0. */
  private handleIrqs(): void {
    const regs = this.pfdev.regs;
    let status = regs.read32(R.JOB_INT_RAWSTAT) >>> 0;
    while (status) {
      this.handleIrq(status);
      status = regs.read32(R.JOB_INT_RAWSTAT) >>> 0;
    }
  }

  private dequeue(js: number): PanfrostJob | null {
    const job = this.running[js] ?? null;
    this.running[js] = null;
    return job;
  }

  /**
   * panfrost_job_handle_irq: collects the finished and the failed job per slot, clearing the
   * bits it saw (and cancelling the next submission of a failed slot), then completes them.
   */
  private handleIrq(status: number): void {
    const regs = this.pfdev.regs;
    const done: (PanfrostJob | null)[] = [null, null, null];
    const failed: (PanfrostJob | null)[] = [null, null, null];
    let events = 0;
    while (status) {
      for (let j = 0; j < R.NUM_JOB_SLOTS; j++) {
        if (status & R.JOB_INT_MASK_ERR(j)) {
          regs.write32(R.JS_COMMAND_NEXT(j), R.JS_COMMAND_NOP);
          failed[j] = this.dequeue(j) ?? done[j];
          if (failed[j] === done[j]) done[j] = null;
        } else if (status & R.JOB_INT_MASK_DONE(j)) {
          done[j] = this.dequeue(j) ?? done[j];
        }
      }
      regs.write32(R.JOB_INT_CLEAR, status);
      // JS_STATE is sampled at the clear; with one job per slot there is nothing left to infer
      regs.read32(R.JOB_INT_JS_STATE);
      events = (events | status) >>> 0;
      status = regs.read32(R.JOB_INT_RAWSTAT) >>> 0;
    }
    for (let j = 0; j < R.NUM_JOB_SLOTS; j++) {
      if (!(events & R.MK_JS_MASK(j))) continue;
      const f = failed[j];
      if (f) this.handleErr(f, j);
      const d = done[j];
      if (d) this.handleDone(d);
    }
  }

  /** panfrost_job_handle_err: logs the slot status; a fault fails the job with -EINVAL. */
  private handleErr(job: PanfrostJob, js: number): void {
    const pfdev = this.pfdev;
    const regs = pfdev.regs;
    const status = regs.read32(R.JS_STATUS(js)) >>> 0;
    const name = panfrostExceptionName(status);
    const head = (regs.read32(R.JS_HEAD_LO(js)) >>> 0).toString(16);
    const tail = (regs.read32(R.JS_TAIL_LO(js)) >>> 0).toString(16);
    if (!panfrostExceptionIsFault(status)) pfdev.dev.dbg(`js event, js=${js}, status=${name}, head=0x${head}, tail=0x${tail}`);
    else pfdev.dev.err(`js fault, js=${js}, status=${name}, head=0x${head}, tail=0x${tail}`);
    pfdev.mmu.asPut(job.mmu);
    if (status === EXCEPTION_STOPPED) {
      // soft-stopped: resume from where it stopped when the scheduler restarts it
      job.jc = (regs.read32(R.JS_TAIL_HI(js)) >>> 0) * 2 ** 32 + (regs.read32(R.JS_TAIL_LO(js)) >>> 0);
      job.state = 'queued';
      this.stuck.push(job);
      return;
    }
    let error = 0;
    if (status === EXCEPTION_TERMINATED) {
      error = -ECANCELED;
      this.stats.canceled++;
    } else if (panfrostExceptionIsFault(status)) {
      error = -EINVAL;
      this.stats.faulted++;
    }
    job.jc = 0;
    this.finish(job, error);
  }

  /** panfrost_job_handle_done. */
  private handleDone(job: PanfrostJob): void {
    job.jc = 0;
    this.pfdev.mmu.asPut(job.mmu);
    this.stats.done++;
    this.finish(job, 0);
  }

  /** Signals the job's fence and, as drm_sched's free_job does later, drops its references. */
  private finish(job: PanfrostJob, error: number): void {
    job.state = 'done';
    job.fence.signal(error);
    this.pfdev.queueWork(() => {
      this.pfdev.jobCleanup(job);
      this.runQueues();
    });
  }

  // ------------------------------------------------------------------ timeouts and reset

  /** drm_sched's timeout timer: any job on the hardware past its deadline times out. */
  checkTimeouts(): void {
    const now = ktimeGetNs(this.pfdev.kernel);
    for (let js = 0; js < R.NUM_JOB_SLOTS; js++) {
      const job = this.running[js];
      if (job && now >= job.deadline) this.timedOut(job, js);
    }
  }

  /** panfrost_job_timedout: log the slot registers, reset the GPU, give up on the job. */
  private timedOut(job: PanfrostJob, js: number): void {
    if (job.fence.signaled) return;
    const regs = this.pfdev.regs;
    const rd = (off: number): string => (regs.read32(off) >>> 0).toString(16);
    this.stats.timeouts++;
    this.pfdev.dev.err(
      `gpu sched timeout, js=${js}, config=0x${rd(R.JS_CONFIG(js))}, status=0x${rd(R.JS_STATUS(js))}, ` +
        `head=0x${rd(R.JS_HEAD_LO(js))}, tail=0x${rd(R.JS_TAIL_LO(js))}, sched_job=${job.id}`,
    );
    this.resetPending = true;
    this.reset(job);
  }

  /**
   * panfrost_reset: stop scheduling, mask job interrupts, cancel NEXT and soft-stop every slot,
   * wait for the slots to go idle, handle what they reported, reset the GPU (soft reset, power
   * on, MMU reset: every context loses its AS), then resubmit what was on the hardware (the
   * guilty job gets -ECANCELED instead) and restart.
   */
  reset(bad: PanfrostJob | null): void {
    const pfdev = this.pfdev;
    if (!this.resetPending || !pfdev.hwAccessible) return;
    const regs = pfdev.regs;
    this.stats.resets++;
    this.stopped = true;
    regs.write32(R.JOB_INT_MASK, 0);
    this.irqMasked = true;
    for (let i = 0; i < R.NUM_JOB_SLOTS; i++) {
      regs.write32(R.JS_COMMAND_NEXT(i), R.JS_COMMAND_NOP);
      regs.write32(R.JS_COMMAND(i), R.JS_COMMAND_SOFT_STOP);
    }
    let mask = 0xffff_ffff;
    const r = readxPollTimeout(
      pfdev.kernel,
      () => regs.read32(R.JOB_INT_JS_STATE) >>> 0,
      (state) => {
        if (!(state & mask)) return true;
        const raw = regs.read32(R.JOB_INT_RAWSTAT) >>> 0;
        for (let i = 0; i < R.NUM_JOB_SLOTS; i++) if (raw & R.MK_JS_MASK(i)) mask = (mask & ~R.MK_JS_MASK(i)) >>> 0;
        return !(state & mask);
      },
      10,
      10_000,
    );
    if (r < 0) pfdev.dev.err('Soft-stop failed');
    this.handleIrqs();
    for (let i = 0; i < R.NUM_JOB_SLOTS; i++) {
      const j = this.running[i];
      if (j) {
        this.running[i] = null;
        j.state = 'queued';
        this.stuck.push(j);
      }
    }
    pfdev.deviceReset();
    regs.write32(R.JOB_INT_MASK, 0);
    this.resetPending = false;
    // resubmit in slot order, ahead of what was queued behind them
    const stuck = this.stuck.splice(0);
    for (const j of stuck.reverse()) {
      j.resets++;
      if (j === bad || j.resets > 3) {
        j.jc = 0;
        this.stats.canceled++;
        this.finish(j, -ECANCELED);
      } else this.queues[j.slot]!.unshift(j);
    }
    this.stopped = false;
    regs.write32(R.JOB_INT_MASK, R.ALL_JS_INT_MASK);
    this.irqMasked = false;
    pfdev.queueWork(() => this.runQueues());
  }

  // ------------------------------------------------------------------ file close

  /**
   * panfrost_job_close for file `fileId`: its queued jobs are dropped (fence -ESRCH), its jobs
   * on the hardware are hard-stopped (they end through the interrupt, or time out).
   */
  closeFile(fileId: number): void {
    for (const q of this.queues) {
      for (let i = q.length - 1; i >= 0; i--) {
        const j = q[i]!;
        if (j.fileId !== fileId) continue;
        q.splice(i, 1);
        this.stats.canceled++;
        this.finish(j, -ESRCH);
      }
    }
    for (let js = 0; js < R.NUM_JOB_SLOTS; js++) {
      const j = this.running[js];
      if (!j || j.fileId !== fileId) continue;
      j.fileId = null;
      if (this.pfdev.hwAccessible) this.pfdev.regs.write32(R.JS_COMMAND(js), R.JS_COMMAND_HARD_STOP);
    }
    for (const j of this.stuck) if (j.fileId === fileId) j.fileId = null;
  }

  /** Jobs of `fileId` still queued (not yet on the hardware). */
  queuedFor(fileId: number): number {
    let n = 0;
    for (const q of this.queues) for (const j of q) if (j.fileId === fileId) n++;
    return n;
  }

  /** Device removal: everything queued or running ends with `error`. */
  abortAll(error: number): void {
    this.stopped = true;
    for (const q of this.queues) for (const j of q.splice(0)) this.finish(j, error);
    for (let js = 0; js < R.NUM_JOB_SLOTS; js++) {
      const j = this.running[js];
      if (j) {
        this.running[js] = null;
        this.finish(j, error);
      }
    }
    for (const j of this.stuck.splice(0)) this.finish(j, error);
  }
}
