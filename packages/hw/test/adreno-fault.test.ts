/**
 * GPU faults are SMMU context faults of the GPU's bank, with the stall behaviour the bank is set
 * to. With SCTLR.CFCFG (msm's stall-on-fault) the CP waits on the faulting access until software
 * writes RESUME: a retry goes on from that access, a terminate aborts it (reads zero, writes
 * dropped) and the CP carries on; an aborted command fetch reads zeros and stops the CP with an
 * opcode error. Without CFCFG the access is aborted at once.
 */
import { describe, expect, it } from 'vitest';
import { AdrenoRig, CB, hi32, INT, lo32, OP, Pm4, REG, SCTLR_CFCFG, SCTLR_DEFAULT, SCTLR_HUPCF, UVA } from './adreno-helpers.js';
import { CTX_IRQ0, FSR_SS, FSR_TF } from './smmu-v2-helpers.js';

const STALL = SCTLR_DEFAULT | SCTLR_CFCFG | SCTLR_HUPCF;
const RESUME_TERMINATE = 1;

function setup(sctlr: number) {
  const rig = new AdrenoRig({ sctlr });
  const procs = [0, 1].map((i) => {
    const table = rig.process();
    const srcPa = rig.map(table, UVA, 4096);
    const dstPa = rig.map(table, UVA + 0x10000, 4096);
    rig.mem.writeBytes(srcPa, new TextEncoder().encode(`data of process ${i}`));
    return { table, srcPa, dstPa };
  });
  rig.enableTtbr0(procs[0]!.table);
  let ctxIrqs = 0;
  rig.v2.irq.onIrq(CTX_IRQ0, () => {
    ctxIrqs++;
  });
  return { rig, procs, ctxIrqs: () => ctxIrqs };
}

const text = (rig: AdrenoRig, pa: number, n = 17) => new TextDecoder().decode(rig.bytes(pa, n));
const fence = (rig: AdrenoRig) => rig.mem.read32(rig.memptrsPa + 8);

describe('Adreno GPU faults through the SMMU', () => {
  it('stalls on a translation fault until RESUME retries it, then finishes the copy', () => {
    const { rig, procs, ctxIrqs } = setup(STALL);
    const p0 = procs[0]!;
    rig.submit(new Pm4().switchTo(p0.table.root, 0).memcpy(UVA + 0x20000, UVA, 5).fence(rig.memptrsVa + 8, 1));
    expect(rig.gpu.cpState).toBe('stalled');
    expect(ctxIrqs()).toBe(1);
    expect(rig.cb(CB.FSR)).toBe((FSR_TF | FSR_SS | (2 << 9)) >>> 0); // TF, stalled, AArch64 format
    expect(rig.v2.cb64(0, CB.FAR)).toBe(BigInt(UVA + 0x20000));
    expect(rig.r(REG.RBBM_STATUS3) & (1 << 24)).not.toBe(0);
    expect(rig.r(REG.RBBM_STATUS)).not.toBe(0);
    expect(fence(rig)).toBe(0);
    // The driver maps the page, clears the fault and retries the transaction.
    const late = rig.map(p0.table, UVA + 0x20000, 4096);
    rig.v2.setCb(0, CB.FSR, FSR_TF);
    rig.v2.setCb(0, 0x8, 0);
    expect(rig.gpu.cpState).toBe('idle');
    expect(text(rig, late, 20)).toBe('data of process 0\0\0\0');
    expect(fence(rig)).toBe(1);
    expect(rig.r(REG.RBBM_STATUS3)).toBe(0);
    expect(rig.gpu.cp.stats).toMatchObject({ stalls: 1, retries: 1, aborts: 0 });
  });

  it('aborts the stalled access on RESUME with terminate and carries on with the next submits', () => {
    const { rig, procs } = setup(STALL);
    const [p0, p1] = procs as [(typeof procs)[0], (typeof procs)[0]];
    rig.submit(new Pm4().switchTo(p0.table.root, 0).memcpy(UVA + 0x20000, UVA, 4).memcpy(UVA + 0x10000, UVA, 4).fence(rig.memptrsVa + 8, 1));
    rig.submit(new Pm4().switchTo(p1.table.root, 0).memcpy(UVA + 0x10000, UVA, 4).fence(rig.memptrsVa + 8, 2));
    expect(rig.gpu.cpState).toBe('stalled');
    expect(fence(rig)).toBe(0);
    rig.v2.setCb(0, CB.FSR, FSR_TF);
    rig.v2.setCb(0, 0x8, RESUME_TERMINATE);
    expect(rig.gpu.cpState).toBe('idle');
    // The faulting write went nowhere; the rest of process 0's work and all of process 1's ran.
    expect(text(rig, p0.dstPa, 16)).toBe('data of process ');
    expect(text(rig, p1.dstPa, 16)).toBe('data of process ');
    expect(rig.bytes(p1.dstPa + 15, 1)[0]).toBe(0x20);
    expect(fence(rig)).toBe(2);
    expect(rig.gpu.cp.aborts).toEqual([{ va: UVA + 0x20000, write: true, kind: 'fault', what: 'CP_MEMCPY' }]);
    expect(rig.gpu.cp.stats).toMatchObject({ stalls: 1, terminations: 1, aborts: 1 });
  });

  it('a terminated command fetch reads zeros: the CP stops with an opcode error', () => {
    const { rig, procs } = setup(STALL);
    rig.submit(new Pm4().switchTo(procs[0]!.table.root, 0).ib(UVA + 0x40000, 16).fence(rig.memptrsVa + 8, 1));
    expect(rig.gpu.cpState).toBe('stalled');
    expect(rig.v2.cb64(0, CB.FAR)).toBe(BigInt(UVA + 0x40000));
    rig.v2.setCb(0, CB.FSR, FSR_TF);
    rig.v2.setCb(0, 0x8, RESUME_TERMINATE);
    expect(rig.gpu.cpState).toBe('halted');
    expect(rig.r(REG.CP_INTERRUPT_STATUS)).toBe(1); // OPCODE_ERROR
    expect(rig.r(REG.RBBM_INT_0_STATUS) & INT.CP_HW_ERROR).not.toBe(0);
    rig.w(REG.CP_SQE_STAT_ADDR, 1);
    expect(rig.r(REG.CP_SQE_STAT_DATA)).toBe(0);
    expect(rig.gpu.cp.aborts[0]).toMatchObject({ va: UVA + 0x40000, write: false, what: 'fetch' });
    expect(fence(rig)).toBe(0);
  });

  it('without stall-on-fault the access is aborted at once and the CP goes on', () => {
    const { rig, procs, ctxIrqs } = setup(SCTLR_DEFAULT | SCTLR_HUPCF);
    const p0 = procs[0]!;
    rig.submit(new Pm4().switchTo(p0.table.root, 0).memcpy(UVA + 0x10000, UVA + 0x30000, 4).fence(rig.memptrsVa + 8, 1));
    expect(rig.gpu.cpState).toBe('idle');
    expect(ctxIrqs()).toBe(1);
    expect(rig.cb(CB.FSR) & FSR_TF).toBe(FSR_TF);
    expect(rig.cb(CB.FSR) & FSR_SS).toBe(0);
    // The read was aborted: zeros were copied.
    expect(Array.from(rig.bytes(p0.dstPa, 16))).toEqual(new Array(16).fill(0));
    expect(fence(rig)).toBe(1);
    expect(rig.gpu.cp.aborts[0]).toMatchObject({ va: UVA + 0x30000, write: false, kind: 'fault' });
  });

  it('a handler that resumes from inside the fault interrupt lets the CP go on in the same run', () => {
    const { rig, procs } = setup(STALL);
    const p0 = procs[0]!;
    let mapped = 0;
    rig.v2.irq.onIrq(CTX_IRQ0, () => {
      if (mapped === 0) mapped = rig.map(p0.table, UVA + 0x20000, 4096);
      rig.v2.setCb(0, CB.FSR, rig.cb(CB.FSR));
      rig.v2.setCb(0, 0x8, 0);
    });
    rig.submit(new Pm4().switchTo(p0.table.root, 0).memcpy(UVA + 0x20000, UVA, 4).fence(rig.memptrsVa + 8, 1));
    expect(rig.gpu.cpState).toBe('idle');
    expect(text(rig, mapped, 16)).toBe('data of process ');
    expect(fence(rig)).toBe(1);
    expect(rig.gpu.cp.stats.retries).toBe(1);
    expect(rig.gpu.cp.stats.stalls).toBe(0); // resolved before the CP had to suspend
  });

  it('a stall during the rptr shadow write holds the ring until resumed', () => {
    const { rig, procs } = setup(STALL);
    // Point the shadow at an unmapped process address (TTBR0) after switching to process 0.
    rig.submit(new Pm4().switchTo(procs[0]!.table.root, 0));
    rig.w(REG.CP_RB_RPTR_ADDR, lo32(UVA + 0x50000));
    rig.w(REG.CP_RB_RPTR_ADDR_HI, hi32(UVA + 0x50000));
    // The write of CP_RB_RPTR_ADDR did not move the ring; the next submit ends with a shadow write.
    const startRptr = rig.r(REG.CP_RB_RPTR);
    rig.submit(new Pm4().t7(OP.NOP));
    expect(rig.gpu.cpState).toBe('stalled');
    expect(rig.r(REG.CP_RB_RPTR)).toBe(startRptr + 1);
    const shadow = rig.map(procs[0]!.table, UVA + 0x50000, 4096);
    rig.v2.setCb(0, CB.FSR, FSR_TF);
    rig.v2.setCb(0, 0x8, 0);
    expect(rig.gpu.cpState).toBe('idle');
    expect(rig.mem.read32(shadow)).toBe(startRptr + 1);
  });

  it('ignores a resolution that arrives after a soft reset dropped the stalled work', () => {
    const { rig, procs } = setup(STALL);
    rig.submit(new Pm4().switchTo(procs[0]!.table.root, 0).memcpy(UVA + 0x20000, UVA, 4));
    expect(rig.gpu.cpState).toBe('stalled');
    rig.w(REG.RBBM_SW_RESET_CMD, 1);
    rig.w(REG.RBBM_SW_RESET_CMD, 0);
    rig.v2.setCb(0, CB.FSR, FSR_TF);
    rig.v2.setCb(0, 0x8, 0);
    expect(rig.gpu.cpState).toBe('disabled');
    expect(rig.gpu.cp.stats.retries).toBe(0);
  });
});
