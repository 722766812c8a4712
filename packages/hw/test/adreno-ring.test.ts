/**
 * The CP ringbuffer as msm drives it: CP_RB_BASE/CNTL/RPTR_ADDR, CP_SQE_CNTL, CP_ME_INIT,
 * submissions moving CP_RB_WPTR, the read pointer (register and shadow, or CP_WHERE_AM_I),
 * CACHE_FLUSH_TS fences with their interrupt, indirect buffers, and the packets the model
 * executes, all through the SMMU context bank (kernel buffers at TTBR1 addresses).
 */
import { describe, expect, it } from 'vitest';
import {
  AdrenoRig,
  CACHE_FLUSH_TS,
  CP_INT,
  EVENT_IRQ,
  fnv1a,
  hi32,
  INT,
  lo32,
  OP,
  Pm4,
  pkt4,
  pkt7,
  RB_CNTL_32K,
  RB_NO_UPDATE,
  REG,
  RING_WORDS,
} from './adreno-helpers.js';

/** a6xx_cp_init's CP_ME_INIT. */
const ME_INIT = new Pm4().t7(OP.ME_INIT, 0x2f, 0x3, 0x20000000, 0, 0, 0, 0, 0);

describe('Adreno ringbuffer', () => {
  it('executes to CP_RB_WPTR, moves CP_RB_RPTR and its shadow, and stays idle until more is written', () => {
    const rig = new AdrenoRig();
    expect(rig.r(REG.RBBM_STATUS)).toBe(0);
    rig.submit(ME_INIT);
    expect(rig.r(REG.CP_RB_RPTR)).toBe(9);
    expect(rig.mem.read32(rig.memptrsPa)).toBe(9); // hardware rptr shadow (NO_UPDATE clear)
    expect(rig.r(REG.RBBM_STATUS)).toBe(0);
    expect(rig.gpu.cpState).toBe('idle');
    const buf = rig.kalloc(4096);
    rig.submit(new Pm4().memWrite(buf.va, 0xcafe0001, 0xcafe0002));
    expect([rig.mem.read32(buf.pa), rig.mem.read32(buf.pa + 4)]).toEqual([0xcafe0001, 0xcafe0002]);
    expect(rig.r(REG.CP_RB_RPTR)).toBe(9 + 5);
    expect(rig.gpu.cp.stats.opcodes.CP_MEM_WRITE).toBe(1);
  });

  it('does not write the rptr shadow with CP_RB_CNTL.NO_UPDATE; CP_WHERE_AM_I writes it instead', () => {
    const rig = new AdrenoRig({ rbCntl: RB_CNTL_32K | RB_NO_UPDATE });
    rig.mem.write32(rig.memptrsPa, 0xdead);
    rig.submit(ME_INIT);
    expect(rig.mem.read32(rig.memptrsPa)).toBe(0xdead);
    expect(rig.r(REG.CP_RB_RPTR)).toBe(9);
    const shadow = rig.memptrsVa + 0x40;
    rig.submit(new Pm4().t7(OP.WHERE_AM_I, lo32(shadow), hi32(shadow)));
    expect(rig.mem.read32(rig.memptrsPa + 0x40)).toBe(12); // the position after the packet
  });

  it('does nothing before CP_SQE_CNTL starts the SQE, then runs what is pending', () => {
    const rig = new AdrenoRig();
    rig.w(REG.CP_SQE_CNTL, 0);
    rig.submit(ME_INIT);
    expect(rig.r(REG.CP_RB_RPTR)).toBe(0);
    expect(rig.gpu.cpState).toBe('disabled');
    rig.w(REG.CP_SQE_CNTL, 1);
    expect(rig.r(REG.CP_RB_RPTR)).toBe(9);
  });

  it('signals a fence: CACHE_FLUSH_TS writes the seqno and raises CP_CACHE_FLUSH_TS on the line', () => {
    const rig = new AdrenoRig();
    const fence = rig.memptrsVa + 8;
    rig.submit(new Pm4().t4(REG.CP_SCRATCH_REG_0 + 2, 41).fence(fence, 41));
    expect(rig.mem.read32(rig.memptrsPa + 8)).toBe(41);
    expect(rig.r(REG.CP_SCRATCH_REG_0 + 2)).toBe(41);
    expect(rig.irqs).toBe(1);
    expect(rig.r(REG.RBBM_INT_0_STATUS)).toBe(INT.CP_CACHE_FLUSH_TS);
    rig.w(REG.RBBM_INT_CLEAR_CMD, INT.CP_CACHE_FLUSH_TS);
    expect(rig.r(REG.RBBM_INT_0_STATUS)).toBe(0);
    expect(rig.v2.irq.line(332).level).toBe(false);
    // Without the IRQ bit the fence is written silently.
    rig.submit(new Pm4().t7(OP.EVENT_WRITE, CACHE_FLUSH_TS, lo32(fence), hi32(fence), 42));
    expect(rig.mem.read32(rig.memptrsPa + 8)).toBe(42);
    expect(rig.irqs).toBe(1);
    expect(rig.gpu.cp.stats.fences).toBe(2);
  });

  it('latches interrupt sources but shows and signals only the masked ones', () => {
    const rig = new AdrenoRig();
    rig.w(REG.RBBM_INT_0_MASK, 0);
    rig.submit(new Pm4().fence(rig.memptrsVa, 1));
    expect(rig.r(REG.RBBM_INT_0_STATUS)).toBe(0);
    expect(rig.irqs).toBe(0);
    rig.w(REG.RBBM_INT_0_MASK, INT.CP_CACHE_FLUSH_TS);
    expect(rig.irqs).toBe(1);
    expect(rig.r(REG.RBBM_INT_0_STATUS)).toBe(INT.CP_CACHE_FLUSH_TS);
  });

  it('runs indirect buffers (IB1 calling IB2) and only then moves the rptr past the IB packet', () => {
    const rig = new AdrenoRig();
    const out = rig.kalloc(4096);
    const ib2 = rig.kalloc(4096);
    const ib1 = rig.kalloc(4096);
    const n2 = rig.writeIb(ib2.pa, new Pm4().memWrite(out.va + 4, 0x2222));
    const n1 = rig.writeIb(ib1.pa, new Pm4().memWrite(out.va, 0x1111).ib(ib2.va, n2).memWrite(out.va + 8, 0x3333));
    rig.submit(new Pm4().ib(ib1.va, n1).fence(rig.memptrsVa + 8, 7));
    expect([0, 4, 8].map((o) => rig.mem.read32(out.pa + o))).toEqual([0x1111, 0x2222, 0x3333]);
    expect(rig.r(REG.CP_RB_RPTR)).toBe(4 + 5);
    expect(rig.mem.read32(rig.memptrsPa + 8)).toBe(7);
    expect(rig.gpu.cp.stats.ibs).toBe(2);
  });

  it('IB_SIZE 0 is an empty IB; a third level of IB is a CP hardware fault', () => {
    const rig = new AdrenoRig();
    const out = rig.kalloc(4096);
    rig.submit(new Pm4().ib(out.va, 0).memWrite(out.va, 5));
    expect(rig.mem.read32(out.pa)).toBe(5);
    const ib3 = rig.kalloc(4096);
    const ib2 = rig.kalloc(4096);
    const ib1 = rig.kalloc(4096);
    const n3 = rig.writeIb(ib3.pa, new Pm4().memWrite(out.va, 9));
    const n2 = rig.writeIb(ib2.pa, new Pm4().ib(ib3.va, n3));
    const n1 = rig.writeIb(ib1.pa, new Pm4().ib(ib2.va, n2));
    rig.submit(new Pm4().ib(ib1.va, n1));
    expect(rig.mem.read32(out.pa)).toBe(5);
    expect(rig.gpu.cpState).toBe('halted');
    expect(rig.r(REG.CP_INTERRUPT_STATUS) & CP_INT.HW_FAULT_ERROR).not.toBe(0);
    expect(rig.r(REG.RBBM_INT_0_STATUS) & INT.CP_HW_ERROR).not.toBe(0);
    expect(rig.r(REG.RBBM_STATUS)).not.toBe(0); // a hung CP is busy
  });

  it('follows CP_INDIRECT_BUFFER_CHAIN to another buffer at the same level', () => {
    const rig = new AdrenoRig();
    const out = rig.kalloc(4096);
    const b = rig.kalloc(4096);
    const a = rig.kalloc(4096);
    const nb = rig.writeIb(b.pa, new Pm4().memWrite(out.va + 4, 0xbb));
    const na = rig.writeIb(a.pa, new Pm4().memWrite(out.va, 0xaa).t7(OP.INDIRECT_BUFFER_CHAIN, lo32(b.va), hi32(b.va), nb).memWrite(out.va + 8, 0xcc));
    rig.submit(new Pm4().ib(a.va, na));
    expect([0, 4, 8].map((o) => rig.mem.read32(out.pa + o))).toEqual([0xaa, 0xbb, 0]);
  });

  it('counts an IB that chains to itself forever as a hang: busy until the ring is reset', () => {
    const rig = new AdrenoRig();
    const ib = rig.kalloc(4096);
    const n = 4;
    rig.writeIb(ib.pa, new Pm4().t7(OP.INDIRECT_BUFFER_CHAIN, lo32(ib.va), hi32(ib.va), n));
    rig.submit(new Pm4().ib(ib.va, n).fence(rig.memptrsVa + 8, 1));
    expect(rig.gpu.cpState).toBe('hung');
    expect(rig.gpu.events.at(-1)).toMatch(/65536 CP_INDIRECT_BUFFER_CHAIN jumps/);
    expect(rig.r(REG.RBBM_STATUS)).not.toBe(0);
    expect(rig.mem.read32(rig.memptrsPa + 8)).toBe(0);
    expect(rig.r(REG.CP_RB_RPTR)).toBe(0);
    // Recovery as msm does it: SQE halted, the ring programmed again.
    rig.w(REG.CP_SQE_CNTL, 3);
    rig.w(REG.CP_RB_BASE, lo32(rig.ringVa));
    rig.w(REG.CP_SQE_CNTL, 1);
    expect(rig.gpu.cpState).toBe('idle');
    expect(rig.r(REG.RBBM_STATUS)).toBe(0);
  });

  it('wraps packets around the end of the ring', () => {
    const rig = new AdrenoRig();
    const out = rig.kalloc(4096);
    // Fill up to 2 words before the end with NOPs, then a 4-word packet that wraps.
    const pad = RING_WORDS - 2 - 1;
    rig.submit(new Pm4().t7(OP.NOP, ...new Array<number>(pad).fill(0)));
    expect(rig.r(REG.CP_RB_RPTR)).toBe(RING_WORDS - 2);
    rig.submit(new Pm4().memWrite(out.va, 0x77));
    expect(rig.mem.read32(out.pa)).toBe(0x77);
    expect(rig.r(REG.CP_RB_RPTR)).toBe(2);
  });

  it('waits when CP_RB_WPTR ends inside a packet and goes on once the rest is there', () => {
    const rig = new AdrenoRig();
    const out = rig.kalloc(4096);
    const words = new Pm4().memWrite(out.va, 1, 2, 3).words;
    rig.submit(words.slice(0, 3));
    expect(rig.r(REG.CP_RB_RPTR)).toBe(0);
    expect(rig.mem.read32(out.pa)).toBe(0);
    rig.submit(words.slice(3));
    expect(rig.r(REG.CP_RB_RPTR)).toBe(6);
    expect(rig.mem.read32(out.pa + 8)).toBe(3);
  });

  it('stops on an invalid header with CP_OPCODE_ERROR and the header in CP_SQE_STAT_DATA', () => {
    const rig = new AdrenoRig();
    const bad = pkt7(OP.NOP, 1) ^ (1 << 15); // parity broken
    rig.submit([bad, 0]);
    expect(rig.gpu.cpState).toBe('halted');
    expect(rig.r(REG.CP_INTERRUPT_STATUS)).toBe(CP_INT.OPCODE_ERROR);
    rig.w(REG.CP_SQE_STAT_ADDR, 1);
    expect(rig.r(REG.CP_SQE_STAT_DATA)).toBe(bad >>> 0);
    expect(rig.r(REG.CP_RB_RPTR)).toBe(0);
    // Type-0 headers do not exist on a6xx; an unused type-7 opcode fails too.
    for (const h of [0x00000000, pkt7(0x61, 0)]) {
      const r2 = new AdrenoRig();
      r2.submit([h]);
      expect(r2.gpu.cpState).toBe('halted');
      expect(r2.r(REG.CP_INTERRUPT_STATUS) & CP_INT.OPCODE_ERROR).not.toBe(0);
    }
  });

  it('a soft reset clears the CP, and reprogramming the ring starts over', () => {
    const rig = new AdrenoRig();
    rig.submit([pkt7(0x61, 0)]);
    expect(rig.gpu.cpState).toBe('halted');
    rig.w(REG.RBBM_SW_RESET_CMD, 1);
    rig.r(REG.RBBM_SW_RESET_CMD);
    rig.w(REG.RBBM_SW_RESET_CMD, 0);
    expect([rig.r(REG.CP_INTERRUPT_STATUS), rig.r(REG.RBBM_INT_0_STATUS), rig.r(REG.RBBM_INT_0_MASK), rig.r(REG.CP_SQE_CNTL)]).toEqual([0, 0, 0, 0]);
    expect(rig.gpu.cpState).toBe('disabled');
    expect(rig.gpu.stats.softResets).toBe(1);
    // hw_init again: base, size, SQE on, CP_ME_INIT from word 0.
    const fresh = new Pm4().t7(OP.NOP);
    rig.w(REG.CP_RB_BASE, lo32(rig.ringVa));
    rig.w(REG.CP_RB_BASE_HI, hi32(rig.ringVa));
    rig.w(REG.CP_RB_CNTL, RB_CNTL_32K);
    rig.w(REG.CP_SQE_CNTL, 1);
    fresh.words.forEach((w, i) => rig.mem.write32(rig.ringPa + 4 * i, w));
    rig.w(REG.CP_RB_WPTR, 1);
    expect(rig.r(REG.CP_RB_RPTR)).toBe(1);
    expect(rig.gpu.cpState).toBe('idle');
  });

  it('writes registers with type-4 packets and CP_REG_WRITE, and copies them out with CP_REG_TO_MEM', () => {
    const rig = new AdrenoRig();
    const out = rig.kalloc(4096);
    rig.submit(
      new Pm4()
        .t4(REG.CP_SCRATCH_REG_0, 10, 11, 12)
        .t7(OP.REG_WRITE, 0, REG.CP_SCRATCH_REG_0 + 4, 0x44)
        .t7(OP.REG_TO_MEM, REG.CP_SCRATCH_REG_0 | (5 << 18), lo32(out.va), hi32(out.va)),
    );
    expect([0, 1, 2, 3, 4].map((i) => rig.mem.read32(out.pa + 4 * i))).toEqual([10, 11, 12, 0, 0x44]);
  });

  it('enforces CP_PROTECT in protected mode, as a6xx_set_cp_protect programs it', () => {
    const rig = new AdrenoRig();
    // A6XX_PROTECT_NORDWR(0x00800, 0x0082) and A6XX_PROTECT_RDONLY(0x0050b, 0x02f4), last span infinite.
    rig.w(REG.CP_PROTECT_CNTL, 1 | 2 | 8);
    rig.w(REG.CP_PROTECT_0, ((1 << 31) | (0x82 << 18) | 0x800) >>> 0);
    rig.w(REG.CP_PROTECT_0 + 1, (0x2f4 << 18) | 0x50b);
    // The last entry spans to the end of the register space (the kernel puts NORDWR(0x1f8c0, 0) there).
    rig.w(REG.CP_PROTECT_0 + 31, ((1 << 31) | 0x1f8c0) >>> 0);
    const out = rig.kalloc(4096);
    // Allowed: scratch registers (0x883..) lie past the protected CP span; reads of the read-only span.
    rig.submit(new Pm4().t4(REG.CP_SCRATCH_REG_0, 1).t7(OP.REG_TO_MEM, 0x50b, lo32(out.va), hi32(out.va)));
    expect(rig.gpu.cpState).toBe('idle');
    // a6xx_set_pagetable leaves protected mode to write RBBM_PERFCTR_SRAM_INIT_CMD (0x50e)...
    rig.submit(new Pm4().t7(OP.SET_PROTECTED_MODE, 0).t4(REG.RBBM_PERFCTR_SRAM_INIT_CMD, 1).t7(OP.SET_PROTECTED_MODE, 1));
    expect(rig.r(REG.RBBM_PERFCTR_SRAM_INIT_STATUS)).toBe(1);
    expect(rig.gpu.cpState).toBe('idle');
    // ...and a write in protected mode faults: the address and WRITE in CP_PROTECT_STATUS.
    rig.submit(new Pm4().t4(REG.CP_RB_CNTL, 0));
    expect(rig.gpu.cpState).toBe('halted');
    expect(rig.r(REG.CP_INTERRUPT_STATUS)).toBe(CP_INT.REGISTER_PROTECTION_ERROR);
    expect(rig.r(REG.CP_PROTECT_STATUS)).toBe(REG.CP_RB_CNTL);
    expect(rig.r(REG.CP_RB_CNTL)).toBe(RB_CNTL_32K);
  });

  it('with LAST_SPAN_INF_RANGE, an unprogrammed last CP_PROTECT protects everything (its base is 0)', () => {
    const rig = new AdrenoRig();
    rig.w(REG.CP_PROTECT_CNTL, 1 | 2 | 8);
    rig.submit(new Pm4().t4(REG.CP_SCRATCH_REG_0, 1));
    expect(rig.gpu.cpState).toBe('halted');
    expect(rig.r(REG.CP_PROTECT_STATUS)).toBe(REG.CP_SCRATCH_REG_0);
  });

  it('copies, fills, checksums and sums memory (CP_MEMCPY, GKI_FILL, GKI_CHECKSUM, CP_MEM_TO_MEM)', () => {
    const rig = new AdrenoRig();
    const a = rig.kalloc(3 * 4096);
    const b = rig.kalloc(3 * 4096);
    const res = rig.kalloc(4096);
    const data = new Uint8Array(3 * 4096 - 8);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7 + 3) & 0xff;
    rig.mem.writeBytes(a.pa, data);
    rig.submit(
      new Pm4()
        .memcpy(b.va + 4, a.va, data.length / 4) // crosses pages at a different offset
        .checksum(b.va + 4, data.length, res.va)
        .fill(res.va + 0x100, 10, 0x44332211)
        .memWrite(res.va + 0x200, 5, 0, 7, 0, 1, 0)
        // dst = A + B - C (32-bit): 5 + 7 - 1
        .t7(OP.MEM_TO_MEM, 1 << 2, lo32(res.va + 0x220), hi32(res.va + 0x220), lo32(res.va + 0x200), hi32(res.va + 0x200), lo32(res.va + 0x208), hi32(res.va + 0x208), lo32(res.va + 0x210), hi32(res.va + 0x210)),
    );
    expect(rig.bytes(b.pa + 4, data.length)).toEqual(data);
    expect(rig.mem.read32(res.pa)).toBe(fnv1a(data));
    expect(Array.from(rig.bytes(res.pa + 0x100, 12))).toEqual([0x11, 0x22, 0x33, 0x44, 0x11, 0x22, 0x33, 0x44, 0x11, 0x22, 0, 0]);
    expect(rig.mem.read32(res.pa + 0x220)).toBe(11);
    // 64-bit (DOUBLE): 0x1_ffff_ffff + 1 carries into the high word.
    rig.submit(
      new Pm4()
        .memWrite(res.va + 0x300, 0xffffffff, 1, 1, 0)
        .t7(OP.MEM_TO_MEM, 1 << 29, lo32(res.va + 0x320), hi32(res.va + 0x320), lo32(res.va + 0x300), hi32(res.va + 0x300), lo32(res.va + 0x308), hi32(res.va + 0x308)),
    );
    expect([rig.mem.read32(res.pa + 0x320), rig.mem.read32(res.pa + 0x324)]).toEqual([0, 2]);
  });

  it('waits in CP_WAIT_REG_MEM until the register matches (the SRAM-init wait of a6xx_set_pagetable)', () => {
    const rig = new AdrenoRig();
    const out = rig.kalloc(4096);
    const wait = new Pm4().t7(OP.WAIT_REG_MEM, 3, REG.RBBM_PERFCTR_SRAM_INIT_STATUS, 0, 1, 1, 0).memWrite(out.va, 1);
    rig.submit(wait);
    expect(rig.gpu.cpState).toBe('waiting');
    expect(rig.mem.read32(out.pa)).toBe(0);
    expect(rig.r(REG.RBBM_STATUS)).not.toBe(0);
    rig.w(REG.RBBM_PERFCTR_SRAM_INIT_CMD, 1);
    rig.r(REG.RBBM_STATUS); // time passes with register accesses
    expect(rig.gpu.cpState).toBe('idle');
    expect(rig.mem.read32(out.pa)).toBe(1);
    // Memory polls: WRITE_GE on a memory word the CPU updates.
    const flag = rig.kalloc(4096);
    rig.submit(new Pm4().t7(OP.WAIT_REG_MEM, 5 | (1 << 4), lo32(flag.va), hi32(flag.va), 3, 0xffffffff, 0).memWrite(out.va, 2));
    expect(rig.gpu.cpState).toBe('waiting');
    rig.mem.write32(flag.pa, 3);
    rig.r(REG.RBBM_STATUS);
    expect(rig.mem.read32(out.pa)).toBe(2);
  });

  it('raises CP_RB/CP_IB1 for CP_INTERRUPT by the level it runs at', () => {
    const rig = new AdrenoRig();
    const ib = rig.kalloc(4096);
    const n = rig.writeIb(ib.pa, new Pm4().t7(OP.INTERRUPT, 0));
    rig.submit(new Pm4().t7(OP.INTERRUPT, 0).ib(ib.va, n));
    expect(rig.r(REG.RBBM_INT_0_STATUS)).toBe(INT.CP_RB | INT.CP_IB1);
  });

  it('in manual execution runs only in run(), and reports busy meanwhile', () => {
    const rig = new AdrenoRig({ execution: 'manual' });
    rig.submit(ME_INIT);
    expect(rig.r(REG.CP_RB_RPTR)).toBe(0);
    expect(rig.r(REG.RBBM_STATUS)).not.toBe(0);
    rig.gpu.run();
    expect(rig.r(REG.CP_RB_RPTR)).toBe(9);
    expect(rig.r(REG.RBBM_STATUS)).toBe(0);
  });

  it('keeps type-4 parity strict too', () => {
    const rig = new AdrenoRig();
    rig.submit([pkt4(REG.CP_SCRATCH_REG_0, 1) ^ (1 << 27), 5]);
    expect(rig.gpu.cpState).toBe('halted');
    expect(rig.r(REG.CP_SCRATCH_REG_0)).toBe(0);
  });

  it('counts CP cycles in RBBM_PERFCTR_CP(0) and ticks the always-on counter', () => {
    const rig = new AdrenoRig();
    const out = rig.kalloc(4096);
    const t0 = rig.r(REG.CP_ALWAYS_ON_COUNTER);
    rig.submit(new Pm4().t7(OP.NOP).t7(OP.NOP).t7(OP.REG_TO_MEM, REG.RBBM_PERFCTR_CP_0 | (2 << 18) | (1 << 30), lo32(out.va), hi32(out.va)));
    expect(rig.mem.read32(out.pa)).toBe(2);
    expect(rig.r(REG.CP_ALWAYS_ON_COUNTER)).toBeGreaterThan(t0);
  });

  it('answers the bus-halt handshakes the recovery path polls', () => {
    const rig = new AdrenoRig();
    rig.w(REG.VBIF_XIN_HALT_CTRL0, 0xf);
    expect(rig.r(REG.VBIF_XIN_HALT_CTRL1) & 0xf).toBe(0xf);
    rig.w(REG.GBIF_HALT, 1);
    expect(rig.r(REG.GBIF_HALT_ACK) & 1).toBe(1);
    rig.w(REG.RBBM_GBIF_HALT, 1);
    expect(rig.r(REG.RBBM_GBIF_HALT_ACK) & 1).toBe(1);
    rig.w(REG.GBIF_HALT, 0);
    expect(rig.r(REG.GBIF_HALT_ACK)).toBe(0);
  });
});
