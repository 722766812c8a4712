/**
 * The gen7 Adreno parts (a730 of sm8450, a740 of sm8550, a750 of sm8650) on the paths the model
 * covers, anchored on the register database's a7xx facts and on the command streams Linux
 * v6.12's a7xx code emits: a7xx_cp_init (CP_THREAD_CONTROL with CONCURRENT_BIN_DISABLE, a
 * 7-dword CP_ME_INIT), a7xx_submit (thread switches, CP_EVENT_WRITE7 CACHE_CLEAN with
 * WRITE_ENABLED to the BV fence, CP_WAIT_TIMESTAMP on it, the fence with IRQ), the CP cycle
 * counter at RBBM_PERFCTR_CP(0) = 0x300, and the GMU taking the chip id from GMU_GENERAL_10.
 * The offsets and encodings below are this test's own copy of those facts.
 */
import { describe, expect, it } from 'vitest';
import { AdrenoGmu, AdrenoGpu, PhysMem, adrenoGmuChipId, adrenoIsGen7, isAdrenoGmuCompatible, isAdrenoGpuCompatible } from '../src/index.js';
import { AdrenoRig, hi32, INT, lo32, OP, Pm4, REG } from './adreno-helpers.js';

const A730 = 0x07030001;
const A740 = 0x43050a01;
const A750 = 0x43051401;

/** adreno_pm4.xml, a7xx variants. */
const CP_WAIT_TIMESTAMP = 0x14;
const CP_THREAD_CONTROL = 0x17;
const CP_RESET_CONTEXT_STATE = 0x1f;
const CP_SET_MARKER = 0x65;
const THREAD_BR = 1;
const THREAD_BV = 2;
const THREAD_BOTH = 3;
const SYNC_THREADS = 1 << 31;
const CONCURRENT_BIN_DISABLE = 1 << 27;
const CACHE_CLEAN = 0x31;
const WRITE_ENABLED = 1 << 27;
const EV_IRQ = 1 << 31;
const WRITE_SRC_ALWAYSON = 3 << 20;
/** a6xx.xml: RBBM_PERFCTR_CP(0) on a7xx; RBBM_INT_0 CACHE_CLEAN_TS (bit 20). */
const A7XX_RBBM_PERFCTR_CP_0 = 0x300;
const CACHE_CLEAN_TS = 1 << 20;

/** a7xx_cp_init's stream (v6.12: no power-up register list). */
function cpInit(): Pm4 {
  return new Pm4()
    .t7(CP_THREAD_CONTROL, CONCURRENT_BIN_DISABLE)
    .t7(OP.ME_INIT, (1 << 0) | (1 << 1) | (1 << 3) | (1 << 6) | (1 << 8), 3, 0x20000000, 2, 0, 0, 0);
}

/** The fence part of a7xx_submit: BV writes bv_fence, BR waits for it, then writes the fence and interrupts. */
function a7xxFence(bvFence: number, fence: number, seqno: number): Pm4 {
  return new Pm4()
    .t7(CP_THREAD_CONTROL, THREAD_BV)
    .t7(OP.EVENT_WRITE, CACHE_CLEAN | WRITE_ENABLED, lo32(bvFence), hi32(bvFence), seqno)
    .t7(CP_THREAD_CONTROL, THREAD_BR)
    .t7(CP_WAIT_TIMESTAMP, 0, lo32(bvFence), hi32(bvFence), seqno)
    .t7(OP.EVENT_WRITE, CACHE_CLEAN | EV_IRQ | WRITE_ENABLED, lo32(fence), hi32(fence), seqno)
    .t7(CP_THREAD_CONTROL, THREAD_BOTH)
    .t7(CP_SET_MARKER, 0x100);
}

describe('gen7 identities', () => {
  it('tells the gen7 parts from a6xx ones and from the a702 (a7xx number, a6xx hardware)', () => {
    expect([A730, A740, A750].map(adrenoIsGen7)).toEqual([true, true, true]);
    expect([0x06030002, 0x06050002, 0x06030500, 0x07000200].map(adrenoIsGen7)).toEqual([false, false, false, false]);
    expect(isAdrenoGpuCompatible('qcom,adreno-43050a01')).toBe(true);
    expect(isAdrenoGmuCompatible('qcom,adreno-gmu-740.1')).toBe(true);
    expect(isAdrenoGmuCompatible('qcom,adreno-gmu-840.1')).toBe(false);
  });

  it("expects the GMU firmware's own ids for a740 and a750 and the massaged chip id for a730 (Linux's gmu_chipid)", () => {
    expect(adrenoGmuChipId(A740)).toBe(0x07020100);
    expect(adrenoGmuChipId(A750)).toBe(0x07090100);
    // no gmu_chipid in the catalog: core and major as they are, minor and patch nibbles at [15:8]
    expect(adrenoGmuChipId(A730)).toBe(0x07030100);
  });
});

describe('gen7 command processor', () => {
  it('runs a7xx_cp_init: concurrent binning off, a 7-dword CP_ME_INIT, rptr shadow written', () => {
    const rig = new AdrenoRig({ chipId: A740 });
    expect(rig.gpu.gen7).toBe(true);
    rig.submit(cpInit());
    expect(rig.r(REG.CP_RB_RPTR)).toBe(2 + 8);
    expect(rig.mem.read32(rig.memptrsPa)).toBe(10);
    expect(rig.gpu.cp.concurrentBinDisabled).toBe(true);
    expect(rig.gpu.cp.stats.opcodes).toMatchObject({ CP_THREAD_CONTROL: 1, CP_ME_INIT: 1 });
    expect(rig.gpu.cpState).toBe('idle');
  });

  it('signals a submit the a7xx way: BV fence, timestamp wait, fence with CACHE_CLEAN_TS', () => {
    const rig = new AdrenoRig({ chipId: A740 });
    rig.submit(cpInit());
    const fence = rig.memptrsVa + 4;
    const bvFence = rig.memptrsVa + 8;
    rig.submit(a7xxFence(bvFence, fence, 7));
    expect(rig.mem.read32(rig.memptrsPa + 8)).toBe(7);
    expect(rig.mem.read32(rig.memptrsPa + 4)).toBe(7);
    expect(rig.r(REG.RBBM_INT_0_STATUS) & CACHE_CLEAN_TS).toBe(CACHE_CLEAN_TS);
    expect(CACHE_CLEAN_TS).toBe(INT.CP_CACHE_FLUSH_TS); // the same bit as a6xx's CP_CACHE_FLUSH_TS
    expect(rig.irqs).toBe(1);
    expect(rig.gpu.cp.stats.opcodes).toMatchObject({ CP_EVENT_WRITE7: 2, CP_WAIT_TIMESTAMP: 1, CP_SET_MARKER: 1 });
    expect(rig.gpu.cp.thread).toBe(THREAD_BOTH);
    expect(rig.gpu.cpState).toBe('idle');
  });

  it('CP_WAIT_TIMESTAMP (0x14 on gen7) waits until the value reaches SRC_0, then goes on', () => {
    const rig = new AdrenoRig({ chipId: A740 });
    const ts = rig.kalloc(4096);
    const out = rig.kalloc(4096);
    rig.mem.write32(ts.pa, 4);
    rig.submit(new Pm4().t7(CP_WAIT_TIMESTAMP, 0, lo32(ts.va), hi32(ts.va), 5).memWrite(out.va, 0xabc));
    expect(rig.gpu.cpState).toBe('waiting');
    expect(rig.mem.read32(out.pa)).toBe(0);
    rig.mem.write32(ts.pa, 5);
    rig.r(REG.RBBM_STATUS); // time passes with register accesses
    expect(rig.mem.read32(out.pa)).toBe(0xabc);
    expect(rig.gpu.cpState).toBe('idle');
    // 64-bit form: SRC_1:SRC_0 compared unsigned with the 64-bit value
    rig.mem.write32(ts.pa + 8, 0xffffffff);
    rig.mem.write32(ts.pa + 12, 0);
    rig.submit(new Pm4().t7(CP_WAIT_TIMESTAMP, 1, lo32(ts.va + 8), hi32(ts.va + 8), 0, 1).memWrite(out.va, 0xdef));
    expect(rig.gpu.cpState).toBe('waiting');
    rig.mem.write32(ts.pa + 12, 1);
    rig.r(REG.RBBM_STATUS);
    expect(rig.mem.read32(out.pa)).toBe(0xdef);
  });

  it('on a6xx the same opcode is CP_WAIT_MEM_GTE, and the a7xx-only packets are skipped', () => {
    const rig = new AdrenoRig();
    expect(rig.gpu.gen7).toBe(false);
    const ts = rig.kalloc(4096);
    rig.mem.write32(ts.pa, 3);
    rig.submit(new Pm4().t7(CP_THREAD_CONTROL, THREAD_BR).t7(CP_RESET_CONTEXT_STATE, 0xf).t7(0x14, 0, lo32(ts.va), hi32(ts.va), 3));
    expect(rig.gpu.cp.stats.opcodes.CP_WAIT_MEM_GTE).toBe(1);
    expect(rig.gpu.cp.stats.skipped).toBe(2);
    expect(rig.gpu.cpState).toBe('idle');
  });

  it('CP_EVENT_WRITE7 writes only with WRITE_ENABLED; WRITE_SRC = ALWAYSON writes the 64-bit counter', () => {
    const rig = new AdrenoRig({ chipId: A750 });
    const buf = rig.kalloc(4096);
    rig.mem.write32(buf.pa, 0x1234);
    rig.submit(new Pm4().t7(OP.EVENT_WRITE, CACHE_CLEAN, lo32(buf.va), hi32(buf.va), 99));
    expect(rig.mem.read32(buf.pa)).toBe(0x1234);
    rig.submit(new Pm4().t7(OP.EVENT_WRITE, CACHE_CLEAN | WRITE_ENABLED | WRITE_SRC_ALWAYSON, lo32(buf.va + 16), hi32(buf.va + 16)));
    const lo = rig.mem.read32(buf.pa + 16);
    expect(lo).toBeGreaterThan(0);
    expect(lo).toBeLessThanOrEqual(rig.r(REG.CP_ALWAYS_ON_COUNTER));
    expect(rig.gpu.cpState).toBe('idle');
  });

  it('counts CP packets at RBBM_PERFCTR_CP(0) = 0x300 (gen7) instead of 0x400 (a6xx)', () => {
    const g7 = new AdrenoRig({ chipId: A730 });
    g7.submit(new Pm4().t7(OP.NOP).t7(OP.NOP).t7(OP.NOP));
    expect(g7.r(A7XX_RBBM_PERFCTR_CP_0)).toBe(3);
    expect(g7.r(REG.RBBM_PERFCTR_CP_0)).toBe(0);
    const out = g7.kalloc(4096);
    g7.submit(new Pm4().t7(OP.REG_TO_MEM, A7XX_RBBM_PERFCTR_CP_0 | (2 << 18) | (1 << 30), lo32(out.va), hi32(out.va)));
    expect(g7.mem.read32(out.pa)).toBe(3);
    const g6 = new AdrenoRig();
    g6.submit(new Pm4().t7(OP.NOP));
    expect(g6.r(REG.RBBM_PERFCTR_CP_0)).toBe(1);
    expect(g6.r(A7XX_RBBM_PERFCTR_CP_0)).toBe(0);
  });

  it('records the thread a page-table switch ran under and flags one issued with BV selected', () => {
    const rig = new AdrenoRig({ chipId: A740 });
    const p = rig.process();
    rig.enableTtbr0(p);
    rig.submit(new Pm4().t7(CP_THREAD_CONTROL, SYNC_THREADS | THREAD_BR).switchTo(p.root, 3));
    expect(rig.gpu.cp.tableUpdates.at(-1)).toMatchObject({ thread: THREAD_BR, invalidated: true, fault: 0 });
    expect(rig.gpu.cp.stats.bvTableUpdates).toBe(0);
    rig.submit(new Pm4().t7(CP_THREAD_CONTROL, THREAD_BOTH).switchTo(p.root, 4));
    expect(rig.gpu.cp.tableUpdates.at(-1)).toMatchObject({ thread: THREAD_BOTH });
    expect(rig.gpu.cp.stats.bvTableUpdates).toBe(1);
    expect(rig.gpu.events.some((e) => /BV thread selected/.test(e))).toBe(true);
  });

  it('rejects a short gen7 packet with an opcode error naming it', () => {
    const rig = new AdrenoRig({ chipId: A740 });
    rig.submit(new Pm4().t7(CP_WAIT_TIMESTAMP, 0, 0));
    expect(rig.gpu.cpState).toBe('halted');
    expect(rig.gpu.events.some((e) => /CP_WAIT_TIMESTAMP needs 4 payload words, has 2/.test(e))).toBe(true);
  });
});

describe('gen7 GMU', () => {
  /** a6xx_gmu.xml word offsets (the model numbers GMU registers from the GPU block). */
  const GMU_BASE_WORD = 0x1a800;
  const CM3_SYSRESET = 0x1f800;
  const HFI_SFR_ADDR = 0x1f982;
  const GENERAL_10 = 0x1f9cf;
  const off = (reg: number): number => (reg - GMU_BASE_WORD) * 4;

  function boot(gmu: AdrenoGmu): void {
    gmu.write32(off(CM3_SYSRESET), 1);
    gmu.write32(off(CM3_SYSRESET), 0);
  }

  it('takes the chip id from GMU_GENERAL_10 on a gen7 GPU (sm8550: GMU "740.1", GPU 0x43050a01)', () => {
    const mem = new PhysMem([{ base: 0x8000_0000, size: 0x10_0000 }]);
    const gmu = new AdrenoGmu(mem, { chipId: 0x07040001 });
    gmu.attachGpu(new AdrenoGpu(mem, { chipId: A740 }));
    expect(gmu.gen7).toBe(true);
    expect(gmu.legacy).toBe(false);
    gmu.write32(off(HFI_SFR_ADDR), 0x4305a100); // where an a6xx driver would put it: ignored
    gmu.write32(off(GENERAL_10), 0x07020100);
    boot(gmu);
    expect(gmu.hostChipId).toBe(0x07020100);
    expect(gmu.events).toEqual([]);
  });

  it('logs a start with the wrong id, and an a6xx GMU still reads HFI_SFR_ADDR', () => {
    const mem = new PhysMem([{ base: 0x8000_0000, size: 0x10_0000 }]);
    const g7 = new AdrenoGmu(mem, { chipId: 0x07040001 });
    g7.attachGpu(new AdrenoGpu(mem, { chipId: A740 }));
    g7.write32(off(GENERAL_10), 0x4305a100);
    boot(g7);
    expect(g7.events.some((e) => /GMU_GENERAL_10 0x4305a100; the chip id in the GMU's form is 0x7020100/.test(e))).toBe(true);
    const g6 = new AdrenoGmu(mem, { chipId: 0x06050002 });
    expect(g6.gen7).toBe(false);
    g6.write32(off(HFI_SFR_ADDR), 0x06052000);
    boot(g6);
    expect(g6.hostChipId).toBe(0x06052000);
  });
});
