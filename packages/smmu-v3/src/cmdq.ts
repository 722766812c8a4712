import { ETIMEDOUT } from '@gki/kernel';
import type { IoMem, Kernel } from '@gki/kernel';
import {
  ARM_SMMU_CMDQ_CONS,
  ARM_SMMU_CMDQ_PROD,
  ARM_SMMU_GERROR,
  ARM_SMMU_GERRORN,
  CMDQ_CONS_ERR_MASK,
  CMDQ_CONS_ERR_SHIFT,
  CMDQ_ENT_SIZE,
  CMDQ_ERR_ABT,
  CMDQ_ERR_ATC_INV_SYNC,
  CMDQ_ERR_ILL,
  CMD_SYNC,
  GERROR_CMDQ_ERR,
  SYNC_CS_NONE,
  SYNC_CS_SEV,
} from './regs.js';

type PhysMemLike = Kernel['mem'];

/** How many times a wait re-reads CONS before giving up (the SMMU consumes synchronously here). */
const POLL_LIMIT = 64;

/** CMDQ_CONS.ERR codes, for messages. */
const CMDQ_ERR_NAMES: Readonly<Record<number, string>> = {
  [CMDQ_ERR_ILL]: 'Illegal command',
  [CMDQ_ERR_ABT]: 'Abort on command fetch',
  [CMDQ_ERR_ATC_INV_SYNC]: 'ATC invalidate timeout',
};

/** What the queue reports to its owner (the SMMU instance's log and GERROR handling). */
export interface CmdqHost {
  readonly regs: IoMem;
  readonly mem: PhysMemLike;
  /** Runs the global-error handling when a wait finds CMDQ_ERR active (no IRQ delivered it). */
  handleGerror(): void;
  warn(msg: string): void;
  err(msg: string): void;
}

/**
 * The command queue, driven as a single producer: commands are written into queue memory at
 * the software PROD, which is published to CMDQ_PROD when a CMD_SYNC closes the batch (or the
 * queue fills up). PROD and CONS carry the index in bits [log2-1:0] and the wrap flag at bit
 * log2; the queue is full when the indexes match and the wrap flags differ.
 */
export class ArmSmmuCmdq {
  readonly entries: number;
  /** Index and wrap bit. */
  private readonly ptrMask: number;
  private prod = 0;
  private cons = 0;
  /** Commands written (including syncs) and CMD_SYNCs completed, for statistics. */
  commands = 0;
  syncs = 0;
  /** Command errors the queue recovered from. */
  errors = 0;

  constructor(
    private readonly host: CmdqHost,
    /** Physical base of the queue memory, aligned to its size. */
    readonly base: number,
    readonly log2: number,
    /** CMD_SYNC completion signal: SEV when the SMMU supports it, else none (CONS polling). */
    private readonly useSev: boolean,
  ) {
    this.entries = 2 ** log2;
    this.ptrMask = 2 ** (log2 + 1) - 1;
  }

  /** The software copy of PROD (what has been written, published or not). */
  get producer(): number {
    return this.prod;
  }

  private used(): number {
    return (this.prod - this.cons + this.ptrMask + 1) & this.ptrMask;
  }

  private refreshCons(): void {
    this.cons = this.host.regs.read32(ARM_SMMU_CMDQ_CONS) & this.ptrMask;
  }

  /** Makes the commands written so far visible to the SMMU. */
  publish(): void {
    this.host.regs.write32(ARM_SMMU_CMDQ_PROD, this.prod);
  }

  /**
   * Queues one command (four u32 words: dw0 low, dw0 high, dw1 low, dw1 high). When the queue
   * is full, the pending batch is published and the SMMU given a chance to drain it; 0, or
   * -ETIMEDOUT if it never makes room.
   */
  add(w0: number, w1: number, w2: number, w3: number): number {
    if (this.used() >= this.entries) {
      this.publish();
      if (this.waitUntil(false) < 0) {
        this.host.err('CMDQ timeout: the queue stayed full');
        return -ETIMEDOUT;
      }
    }
    const at = this.base + (this.prod & (this.entries - 1)) * CMDQ_ENT_SIZE;
    const mem = this.host.mem;
    mem.write64parts(at, w0 >>> 0, w1 >>> 0);
    mem.write64parts(at + 8, w2 >>> 0, w3 >>> 0);
    this.prod = (this.prod + 1) & this.ptrMask;
    this.commands++;
    return 0;
  }

  /**
   * Closes the batch with a CMD_SYNC, publishes it and waits until the SMMU has consumed it:
   * everything queued before it has then taken effect. 0, or -ETIMEDOUT ("CMD_SYNC timeout").
   */
  sync(): number {
    const cs = this.useSev ? SYNC_CS_SEV : SYNC_CS_NONE;
    let r = this.add(CMD_SYNC | (cs << 12), 0, 0, 0);
    if (r < 0) return r;
    this.publish();
    r = this.waitUntil(true);
    if (r < 0) {
      this.host.err(`CMD_SYNC timeout at prod 0x${this.prod.toString(16)}, cons 0x${this.cons.toString(16)}`);
      return r;
    }
    this.syncs++;
    return 0;
  }

  /**
   * Polls CONS until the queue has room (`empty` false) or has been drained (`empty` true). A
   * stopped queue (CMDQ_ERR active, no interrupt delivered it) is recovered through the host's
   * GERROR handling, which acknowledges GERRORN and so restarts consumption.
   */
  private waitUntil(empty: boolean): number {
    for (let i = 0; i < POLL_LIMIT; i++) {
      this.refreshCons();
      const used = this.used();
      if (empty ? used === 0 : used < this.entries) return 0;
      const regs = this.host.regs;
      const active = (regs.read32(ARM_SMMU_GERROR) ^ regs.read32(ARM_SMMU_GERRORN)) & GERROR_CMDQ_ERR;
      if (active) this.host.handleGerror();
    }
    return -ETIMEDOUT;
  }

  /**
   * GERROR.CMDQ_ERR: the SMMU stopped at the command CONS points at. An illegal command is
   * replaced by a CMD_SYNC so that consumption can go on past it; a fetch abort is retried as
   * is; an ATC invalidation timeout leaves CONS on the CMD_SYNC that waited for it, which is
   * retried. The caller then acknowledges GERROR.
   */
  skipError(): void {
    const regs = this.host.regs;
    const consReg = regs.read32(ARM_SMMU_CMDQ_CONS) >>> 0;
    const code = (consReg >>> CMDQ_CONS_ERR_SHIFT) & CMDQ_CONS_ERR_MASK;
    const idx = consReg & (this.entries - 1);
    const at = this.base + idx * CMDQ_ENT_SIZE;
    const mem = this.host.mem;
    const lo = mem.read32(at);
    const hi = mem.read32(at + 4);
    this.errors++;
    this.host.err(`CMDQ error (cons 0x${consReg.toString(16)}): ${CMDQ_ERR_NAMES[code] ?? `Unknown error ${code}`}`);
    this.host.err(`skipping command in error state: 0x${(hi >>> 0).toString(16).padStart(8, '0')}${(lo >>> 0).toString(16).padStart(8, '0')}`);
    if (code === CMDQ_ERR_ABT || code === CMDQ_ERR_ATC_INV_SYNC) return;
    mem.write64parts(at, CMD_SYNC | (SYNC_CS_NONE << 12), 0);
    mem.write64parts(at + 8, 0, 0);
  }
}
