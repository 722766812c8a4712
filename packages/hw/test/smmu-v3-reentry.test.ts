import { describe, expect, it } from 'vitest';
import {
  Board,
  CERROR_ILL,
  CMD_CFGI_ALL,
  CMD_PREFETCH_CONFIG,
  CMD_SYNC,
  CR0_CMDQEN,
  GERROR_CMDQ_ERR,
  IRQ_CTRL_GERROR_IRQEN,
  SMMU_CMDQ_BASE,
  SMMU_CMDQ_CONS,
  SMMU_CMDQ_PROD,
  SMMU_CR0,
  SMMU_GERROR,
  SMMU_GERRORN,
  SMMU_IRQ_CTRL,
  SMMU_MMIO_SIZE,
  SMMU_STRTAB_BASE,
  SMMU_STRTAB_BASE_CFG,
  SMMUV3_PRESET_QEMU,
  SmmuV3,
} from '@gki/hw';

/*
 * Re-entrant MMIO from the SMMU's own interrupt: the model consumes commands synchronously
 * inside the CMDQ_PROD write, and a command error raises the GERROR interrupt whose handler
 * (as Linux's does) rewrites the bad command and acknowledges GERRORN while that consumption
 * is still on the stack. Consumption must resume without the driver ringing the doorbell again.
 */

const RAM = 0x4000_0000;
const MMIO = 0x0900_0000;
const IRQ_GERROR = 41;
const LOG2 = 4; // 16 commands

class Rig {
  readonly board = new Board('t', [{ base: RAM, size: 16 << 20 }]);
  readonly smmu = new SmmuV3(this.board.mem, { preset: SMMUV3_PRESET_QEMU, gerrorIrq: this.board.irq.line(IRQ_GERROR) });
  readonly cmdq = RAM + 0x10_0000;
  prod = 0;
  doorbells = 0;
  handled = 0;

  constructor(fix: boolean) {
    const mem = this.board.mem;
    this.board.bus.map(MMIO, SMMU_MMIO_SIZE, this.smmu);
    const strtab = RAM + 0x20_0000;
    this.w(SMMU_STRTAB_BASE, strtab);
    this.w(SMMU_STRTAB_BASE_CFG, 4);
    this.w(SMMU_CMDQ_BASE, this.cmdq | LOG2);
    this.w(SMMU_CMDQ_BASE + 4, 1 << 30);
    this.w(SMMU_CR0, CR0_CMDQEN);
    this.w(SMMU_IRQ_CTRL, IRQ_CTRL_GERROR_IRQEN);
    // The GERROR handler: replace the failed command with a CMD_SYNC (when `fix`), then ack.
    this.board.irq.onIrq(IRQ_GERROR, () => {
      this.handled++;
      const active = (this.r(SMMU_GERROR) ^ this.r(SMMU_GERRORN)) & GERROR_CMDQ_ERR;
      if (!active) return;
      if (fix) {
        const at = this.cmdq + (this.r(SMMU_CMDQ_CONS) & ((1 << LOG2) - 1)) * 16;
        mem.write64parts(at, CMD_SYNC, 0);
        mem.write64parts(at + 8, 0, 0);
      }
      this.w(SMMU_GERRORN, this.r(SMMU_GERROR));
    });
  }

  r(off: number): number {
    return this.board.bus.read32(MMIO + off) >>> 0;
  }
  w(off: number, v: number): void {
    this.board.bus.write32(MMIO + off, v >>> 0);
  }
  put(w0: number, w1 = 0): void {
    const at = this.cmdq + (this.prod & ((1 << LOG2) - 1)) * 16;
    this.board.mem.write64parts(at, w0, w1);
    this.board.mem.write64parts(at + 8, 0, 0);
    this.prod = (this.prod + 1) & ((2 << LOG2) - 1);
  }
  ring(): void {
    this.doorbells++;
    this.w(SMMU_CMDQ_PROD, this.prod);
  }
  cons(): number {
    return this.r(SMMU_CMDQ_CONS) & ((2 << LOG2) - 1);
  }
}

describe('SMMUv3 model: GERRORN acknowledged from inside command consumption', () => {
  it('resumes consuming after the handler fixed and acknowledged the error, with a single doorbell', () => {
    const t = new Rig(true);
    t.put(CMD_CFGI_ALL, 0);
    t.put(0x7f); // illegal
    t.put(CMD_PREFETCH_CONFIG, 1);
    t.put(CMD_SYNC);
    t.put(0x7e); // a second illegal command in the same batch
    t.put(CMD_SYNC);
    const syncs = t.smmu.stats.syncs;
    t.ring();
    expect(t.doorbells).toBe(1);
    expect(t.handled).toBe(2);
    expect(t.cons()).toBe(t.prod); // everything consumed
    expect(t.smmu.stats.syncs - syncs).toBe(4); // two replacements + two real syncs
    expect(t.smmu.stats.commands.PREFETCH_CONFIG).toBe(1);
    expect(t.r(SMMU_GERROR)).toBe(t.r(SMMU_GERRORN));
    // The last error code stays readable in CONS.ERR.
    expect((t.r(SMMU_CMDQ_CONS) >>> 24) & 0x7f).toBe(CERROR_ILL);
    // And the queue keeps working for the next batch.
    t.put(CMD_SYNC);
    t.ring();
    expect(t.cons()).toBe(t.prod);
  });

  it('a handler that acknowledges without fixing does not make the model spin; the next doorbell retries', () => {
    const t = new Rig(false);
    t.put(CMD_SYNC);
    t.put(0x7f);
    t.put(CMD_SYNC);
    t.ring();
    // Stopped on the bad command twice (first pass, one retry), then it waits.
    expect(t.handled).toBe(2);
    expect(t.cons()).toBe(1);
    expect(t.r(SMMU_GERROR)).toBe(t.r(SMMU_GERRORN)); // acknowledged, though not fixed
    // Fixing it and ringing again completes the batch.
    t.board.mem.write64parts(t.cmdq + 16, CMD_SYNC, 0);
    t.ring();
    expect(t.cons()).toBe(t.prod);
    expect(t.handled).toBe(2);
  });
});
