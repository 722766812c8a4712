import { EINVAL, ENOENT } from '@gki/kernel';
import type { MsmGemAddressSpace, MsmGemVma } from './aspace.js';
import type { MsmFence, MsmGemObject } from './gem.js';

/** drm_sched priority levels per ring (msm's NR_SCHED_PRIORITIES). */
export const NR_SCHED_PRIORITIES = 3;

/**
 * msm_gpu_convert_priority: a user priority (0 is the highest) to a ring number and a
 * scheduler priority (higher is more urgent). -EINVAL beyond the GPU's rings.
 */
export function msmGpuConvertPriority(nrRings: number, prio: number): { ringNr: number; schedPrio: number } | number {
  if (!Number.isInteger(prio) || prio < 0) return -EINVAL;
  const ringNr = Math.floor(prio / NR_SCHED_PRIORITIES);
  const sp = prio % NR_SCHED_PRIORITIES;
  if (ringNr >= nrRings) return -EINVAL;
  return { ringNr, schedPrio: NR_SCHED_PRIORITIES - sp - 1 };
}

/**
 * struct msm_file_private (msm_context): what one open file owns on the GPU side: its address
 * space (a private page table, or a reference to the global one), its submit queues, the
 * identity used in fault reports, and GPU time accounting. Reference counted: the file and
 * every queue hold it, so it outlives a closed file while its submits are in flight.
 */
export class MsmContext {
  refcount = 1;
  readonly queues: MsmSubmitqueue[] = [];
  private nextQueueId = 0;
  /** Overrides set through SET_PARAM COMM / CMDLINE. */
  commOverride: string | null = null;
  cmdlineOverride: string | null = null;
  elapsedNs = 0;
  cycles = 0;
  closed = false;

  constructor(
    /** Unique per open (the seqno the TTBR0-switch skip compares). */
    readonly seqno: number,
    public aspace: MsmGemAddressSpace,
    /** The opening process: pid and command name (task->comm), its command line. */
    readonly pid: number,
    readonly taskComm: string,
    readonly taskCmdline: string,
    private readonly onRelease: (ctx: MsmContext) => void,
  ) {}

  get(): this {
    this.refcount++;
    return this;
  }

  put(): void {
    if (--this.refcount > 0) return;
    this.onRelease(this);
  }

  /** The name fault reports show: the COMM override, else the task's. */
  get comm(): string {
    return this.commOverride ?? this.taskComm;
  }

  get cmdline(): string {
    return this.cmdlineOverride ?? this.taskCmdline;
  }

  /** msm_submitqueue_create: a queue with a fresh id (0 for the first, the default queue). */
  addQueue(prio: number, flags: number, ringNr: number, schedPrio: number): MsmSubmitqueue {
    const q = new MsmSubmitqueue(this.get(), this.nextQueueId++, prio, flags, ringNr, schedPrio);
    this.queues.push(q);
    return q;
  }

  queue(id: number): MsmSubmitqueue | undefined {
    return this.queues.find((q) => q.id === id);
  }

  /** msm_submitqueue_remove: -ENOENT for the default queue (id 0) or an unknown id. */
  removeQueue(id: number): number {
    if (id === 0) return -ENOENT;
    const i = this.queues.findIndex((q) => q.id === id);
    if (i < 0) return -ENOENT;
    const q = this.queues[i]!;
    this.queues.splice(i, 1);
    q.put();
    return 0;
  }
}

/** INT_MAX: the user fence ids of a queue are allocated cyclically in [1, INT_MAX). */
const FENCE_ID_MAX = 0x7fff_ffff;

/**
 * struct msm_gpu_submitqueue: a submission channel of a context, with its priority, its ring,
 * the user-visible fence ids of its submits (the fence idr: an id maps to the fence until the
 * submit retires) and the count of GPU hangs/faults its submits caused.
 */
export class MsmSubmitqueue {
  refcount = 1;
  faults = 0;
  /** The last fence id handed out (WAIT_FENCE refuses later ones). */
  lastFence = 0;
  readonly fences = new Map<number, MsmFence>();
  /** Final status (1, or a negative error) of the last retired fences, by id. */
  readonly retired = new Map<number, number>();
  private nextFenceId = 1;

  constructor(
    readonly ctx: MsmContext,
    readonly id: number,
    readonly prio: number,
    readonly flags: number,
    readonly ringNr: number,
    readonly schedPrio: number,
  ) {}

  get(): this {
    this.refcount++;
    return this;
  }

  put(): void {
    if (--this.refcount > 0) return;
    this.ctx.put();
  }

  /** Records a retired fence's final status (the last 256 are kept). */
  retire(id: number, status: number): void {
    this.fences.delete(id);
    this.retired.set(id, status);
    if (this.retired.size > 256) this.retired.delete(this.retired.keys().next().value!);
  }

  /** idr_alloc_cyclic(1, INT_MAX): the next free id after the last one. */
  allocFenceId(fence: MsmFence): number {
    let id = this.nextFenceId;
    while (this.fences.has(id)) id = id + 1 >= FENCE_ID_MAX ? 1 : id + 1;
    this.nextFenceId = id + 1 >= FENCE_ID_MAX ? 1 : id + 1;
    this.fences.set(id, fence);
    this.lastFence = id;
    return id;
  }
}

/** One entry of a submit's buffer table, pinned in the submitting context's address space. */
export interface MsmSubmitBo {
  readonly obj: MsmGemObject;
  readonly flags: number;
  readonly vma: MsmGemVma;
  readonly iova: number;
}

/** One command buffer of a submit: its type, GPU address and size in dwords. */
export interface MsmSubmitCmd {
  readonly type: number;
  readonly iova: number;
  readonly dwords: number;
}

/**
 * struct msm_gem_submit: a validated SUBMIT: its buffers (pinned), command buffers, the queue
 * and context it came from, the ring it runs on, its hardware sequence number on that ring and
 * the fences (the hardware one on the ring's timeline, the user one behind the queue's id).
 */
export class MsmGemSubmit {
  /** Ring sequence number (assigned when it goes to the ring). */
  seqno = 0;
  hwFence: MsmFence | null = null;
  /** The submit caused an SMMU fault (the first one is dumped and counted). */
  faultDumped = false;
  /** Whether the fault/hang accounting already blamed it. */
  blamed = false;
  retired = false;
  /** Board time when it went to the ring. */
  submittedAt = 0;

  constructor(
    readonly id: number,
    readonly queue: MsmSubmitqueue,
    readonly ringNr: number,
    readonly bos: readonly MsmSubmitBo[],
    readonly cmds: readonly MsmSubmitCmd[],
    readonly fenceId: number,
    readonly userFence: MsmFence,
  ) {}

  get ctx(): MsmContext {
    return this.queue.ctx;
  }
}
