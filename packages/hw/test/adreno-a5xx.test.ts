/**
 * The Adreno a5xx personality (Adreno5xxGpu) from the architecture side: the register
 * interface at the places the freedreno register database (a5xx.xml) gives (written out here,
 * not taken from the model's regs.ts), the PFP/ME halt, the GPMU power domains of the a530/a540,
 * the a5xx CP_PROTECT layout, the a6xx-only packets an a5xx CP refuses, and DMA through the
 * Adreno SMMU by stream ID with the faults that brings.
 */
import { describe, expect, it } from 'vitest';
import { Adreno5xxGpu, ADRENO_GPU_MODEL, AdrenoGpu, Board, buildFdt, descriptorMatches, node, prop, ref, SMMU_V2_MODEL, SmmuV2, writeDtb, type PhysMem } from '../src/index.js';
import { CACHE_FLUSH_TS, EVENT_IRQ, GPU_BASE, GPU_IRQ, hi32, KVA, lo32, Pm4, RB_CNTL_32K, RB_NO_UPDATE, RING_WORDS, SCTLR_CFCFG, SCTLR_DEFAULT } from './adreno-helpers.js';
import { CB, LpaeTables, S1_ATTR, V2Rig } from './smmu-v2-helpers.js';

/** a5xx.xml word offsets. */
const R5 = {
  RBBM_INT_CLEAR_CMD: 0x0037,
  RBBM_INT_0_MASK: 0x0038,
  RBBM_SW_RESET_CMD: 0x0043,
  RBBM_PERFCTR_CP_0_LO: 0x03a0,
  RBBM_ALWAYSON_COUNTER_LO: 0x04d2,
  RBBM_INT_0_STATUS: 0x04e1,
  RBBM_STATUS: 0x04f5,
  RBBM_STATUS3: 0x0530,
  CP_RB_BASE: 0x0800,
  CP_RB_BASE_HI: 0x0801,
  CP_RB_CNTL: 0x0802,
  CP_RB_RPTR: 0x0806,
  CP_RB_WPTR: 0x0807,
  CP_PFP_STAT_ADDR: 0x0808,
  CP_PFP_STAT_DATA: 0x0809,
  CP_PFP_ME_CNTL: 0x0832,
  CP_CONTEXT_SWITCH_SAVE_ADDR_LO: 0x083e,
  CP_PROTECT_0: 0x0880,
  CP_PROTECT_CNTL: 0x08a0,
  CP_INTERRUPT_STATUS: 0x0b18,
  CP_PROTECT_STATUS: 0x0b1c,
  CP_IB1_BASE: 0x0b1f,
  CP_SCRATCH_0: 0x0b78,
  VBIF_XIN_HALT_CTRL0: 0x3080,
  VBIF_XIN_HALT_CTRL1: 0x3081,
  GPMU_SP_POWER_CNTL: 0xa881,
  GPMU_RBCCU_POWER_CNTL: 0xa887,
  GPMU_SP_PWR_CLK_STATUS: 0xa88b,
  GPMU_RBCCU_PWR_CLK_STATUS: 0xa88d,
} as const;
/** RBBM_INT_0: CP_HW_ERROR [9], CP_CACHE_FLUSH_TS [20]; CP_INTERRUPT_STATUS: OPCODE_ERROR [0], REGISTER_PROTECTION_ERROR [4]. */
const INT_CP_HW_ERROR = 1 << 9;
const INT_CACHE_FLUSH_TS = 1 << 20;
const CP_INT_OPCODE_ERROR = 1 << 0;
const CP_INT_PROTECT = 1 << 4;
/** ADRENO_PROTECT_RW(reg, len) as Linux writes it for a5xx. */
const protectRw = (reg: number, len: number): number => ((1 << 30) | (1 << 29) | (Math.log2(len) << 24) | ((reg << 2) & 0xfffff)) >>> 0;
/** PWR_CLK_STATUS: the domain is on. */
const PWR_ON = 1 << 20;
/** Opcodes (adreno_pm4.xml). */
const OP = { MEM_WRITE: 0x3d, SET_PROTECTED_MODE: 0x5f, MEMCPY: 0x75, PREEMPT_ENABLE_GLOBAL: 0x69, YIELD_ENABLE: 0x1c, CONTEXT_SWITCH_YIELD: 0x6b, SET_RENDER_MODE: 0x6c } as const;

/** An a5xx behind an SMMUv2 context bank programmed as arm-smmu does for the GPU (TTBR1 for kernel buffers). */
class A5Rig {
  readonly v2 = new V2Rig({ numCb: 8 });
  readonly mem: PhysMem = this.v2.mem;
  readonly smmu: SmmuV2 = this.v2.smmu;
  readonly gpu: Adreno5xxGpu;
  readonly kernel: LpaeTables;
  ringPa = 0;
  ringVa = 0;
  private kNext = KVA;
  private wptr = 0;

  constructor(chipId: number, opts: { sctlr?: number } = {}) {
    this.gpu = new Adreno5xxGpu(this.mem, { chipId, irq: this.v2.irq.line(GPU_IRQ) });
    this.v2.bus.map(GPU_BASE, 0x40000, this.gpu);
    this.smmu.attachMaster(this.gpu, [0]);
    this.kernel = new LpaeTables(this.v2, 12, 0);
    this.v2.enable();
    this.v2.stream(0, 0, 0, 0);
    this.v2.s1Aarch64(0, { ttbr0: 0, asid: 0, ttbr1: this.kernel.root, t1sz: 16, sep: 7, sctlr: opts.sctlr ?? SCTLR_DEFAULT });
    this.v2.setCb(0, CB.TCR, (this.v2.cb(0, CB.TCR) | (1 << 7)) >>> 0);
    const ring = this.kalloc(RING_WORDS * 4);
    this.ringPa = ring.pa;
    this.ringVa = ring.va;
    this.w(R5.RBBM_INT_0_MASK, INT_CP_HW_ERROR | INT_CACHE_FLUSH_TS);
    this.w(R5.CP_RB_BASE, lo32(ring.va));
    this.w(R5.CP_RB_BASE_HI, hi32(ring.va));
    this.w(R5.CP_RB_CNTL, RB_CNTL_32K | RB_NO_UPDATE);
  }

  r(reg: number): number {
    return this.v2.bus.read32(GPU_BASE + reg * 4) >>> 0;
  }
  w(reg: number, v: number): void {
    this.v2.bus.write32(GPU_BASE + reg * 4, v >>> 0);
  }
  kalloc(size: number): { va: number; pa: number } {
    const pa = this.v2.alloc(Math.ceil(size / 4096) * 4096, 4096);
    const va = this.kNext;
    for (let off = 0; off < size; off += 4096) this.kernel.map(va + off, pa + off, S1_ATTR);
    this.kNext += Math.ceil(size / 4096) * 4096 + 4096;
    return { va, pa };
  }
  submit(s: Pm4): void {
    for (const word of s.words) {
      this.mem.write32(this.ringPa + this.wptr * 4, word);
      this.wptr = (this.wptr + 1) % RING_WORDS;
    }
    this.w(R5.CP_RB_WPTR, this.wptr);
  }
  get wptrNow(): number {
    return this.wptr;
  }
}

describe('Adreno a5xx (Adreno5xxGpu)', () => {
  it('comes out of reset halted and runs once CP_PFP_ME_CNTL is written 0; a submit as msm writes it completes with its fence and interrupt', () => {
    const rig = new A5Rig(0x05000800); // a508: no GPMU
    const fence = rig.kalloc(4096);
    const s = new Pm4()
      .t7(OP.PREEMPT_ENABLE_GLOBAL, 2)
      .t7(OP.SET_PROTECTED_MODE, 0)
      .t4(R5.CP_CONTEXT_SWITCH_SAVE_ADDR_LO, 0, 0)
      .t7(OP.SET_PROTECTED_MODE, 1)
      .t7(OP.YIELD_ENABLE, 2)
      .memWrite(fence.va + 8, 0x1234)
      .t7(OP.SET_RENDER_MODE, 0, 0, 0, 0, 0)
      .t4(R5.CP_SCRATCH_0 + 2, 7)
      .t7(0x46, CACHE_FLUSH_TS | EVENT_IRQ, lo32(fence.va), hi32(fence.va), 7)
      .t7(OP.CONTEXT_SWITCH_YIELD, 0, 0, 1, 1);
    rig.submit(s);
    // halted: nothing ran yet, the ring is pending
    expect(rig.r(R5.CP_PFP_ME_CNTL)).not.toBe(0);
    expect(rig.r(R5.CP_RB_RPTR)).toBe(0);
    expect(rig.gpu.cpState).toBe('disabled');
    rig.w(R5.CP_PFP_ME_CNTL, 0);
    expect(rig.r(R5.CP_RB_RPTR)).toBe(rig.wptrNow);
    expect(rig.mem.read32(fence.pa)).toBe(7);
    expect(rig.mem.read32(fence.pa + 8)).toBe(0x1234);
    expect(rig.r(R5.CP_SCRATCH_0 + 2)).toBe(7);
    // idle: only HI_BUSY [0] may remain
    expect(rig.r(R5.RBBM_STATUS) & ~1).toBe(0);
    expect(rig.r(R5.RBBM_INT_0_STATUS)).toBe(INT_CACHE_FLUSH_TS);
    expect(rig.v2.irq.line(GPU_IRQ).level).toBe(true);
    rig.w(R5.RBBM_INT_CLEAR_CMD, INT_CACHE_FLUSH_TS);
    expect(rig.r(R5.RBBM_INT_0_STATUS)).toBe(0);
    expect(rig.v2.irq.line(GPU_IRQ).level).toBe(false);
    // counters: the always-on counter moves with time, the CP counter with work
    const t0 = rig.r(R5.RBBM_ALWAYSON_COUNTER_LO);
    expect(rig.r(R5.RBBM_ALWAYSON_COUNTER_LO)).toBeGreaterThan(t0);
    expect(rig.r(R5.RBBM_PERFCTR_CP_0_LO)).toBeGreaterThan(0);
    // the translations went through the SMMU by the GPU's stream
    expect(rig.smmu.stats.translations).toBeGreaterThan(0);
  });

  it('keeps the a530/a540 CP halted until the GPMU has the SP and RB/CCU domains on', () => {
    const rig = new A5Rig(0x05030002);
    expect(rig.gpu.hasGpmu).toBe(true);
    expect(rig.r(R5.GPMU_RBCCU_PWR_CLK_STATUS) & PWR_ON).toBe(0);
    rig.w(R5.CP_PFP_ME_CNTL, 0);
    expect(rig.gpu.events.some((e) => /GPMU has the SP or RB\/CCU domain off/.test(e))).toBe(true);
    rig.submit(new Pm4().t4(R5.CP_SCRATCH_0, 1));
    expect(rig.r(R5.CP_RB_RPTR)).toBe(0);
    rig.w(R5.GPMU_RBCCU_POWER_CNTL, 0x778000);
    expect(rig.r(R5.GPMU_RBCCU_PWR_CLK_STATUS) & PWR_ON).toBe(PWR_ON);
    rig.w(R5.GPMU_SP_POWER_CNTL, 0x778000);
    expect(rig.r(R5.GPMU_SP_PWR_CLK_STATUS) & PWR_ON).toBe(PWR_ON);
    rig.w(R5.CP_PFP_ME_CNTL, 0);
    expect(rig.r(R5.CP_SCRATCH_0)).toBe(1);
    // a part without a GPMU reports no domain status
    const b = new A5Rig(0x05010200);
    expect(b.gpu.hasGpmu).toBe(false);
    b.w(R5.GPMU_SP_POWER_CNTL, 0x778000);
    expect(b.r(R5.GPMU_SP_PWR_CLK_STATUS)).toBe(0);
  });

  it('traps register writes in a CP_PROTECT span (a5xx layout) and reports them in CP_PROTECT_STATUS', () => {
    const rig = new A5Rig(0x05000800);
    rig.w(R5.CP_PROTECT_CNTL, 0x7);
    // what msm protects: RBBM 0x20..0x3f, the CP's 0x800..0x83f
    rig.w(R5.CP_PROTECT_0 + 3, protectRw(0x20, 32));
    rig.w(R5.CP_PROTECT_0 + 8, protectRw(0x800, 64));
    rig.w(R5.CP_PFP_ME_CNTL, 0);
    // in protected mode, the save-record address (0x83e) is off limits
    rig.submit(new Pm4().t4(R5.CP_CONTEXT_SWITCH_SAVE_ADDR_LO, 0x1000));
    expect(rig.r(R5.RBBM_INT_0_STATUS) & INT_CP_HW_ERROR).toBe(INT_CP_HW_ERROR);
    expect(rig.r(R5.CP_INTERRUPT_STATUS) & CP_INT_PROTECT).toBe(CP_INT_PROTECT);
    // Linux decodes: WRITE at bit 24, the register at (status & 0xfffff) >> 2
    const st = rig.r(R5.CP_PROTECT_STATUS);
    expect(st & (1 << 24)).toBe(1 << 24);
    expect((st & 0xfffff) >>> 2).toBe(R5.CP_CONTEXT_SWITCH_SAVE_ADDR_LO);
    expect(rig.gpu.cpState).toBe('halted');
    // out of protected mode the same write goes through (a5xx_submit's toggle); after a reset
    const ok = new A5Rig(0x05000800);
    ok.w(R5.CP_PROTECT_CNTL, 0x7);
    ok.w(R5.CP_PROTECT_0 + 8, protectRw(0x800, 64));
    ok.w(R5.CP_PFP_ME_CNTL, 0);
    ok.submit(new Pm4().t7(OP.SET_PROTECTED_MODE, 0).t4(R5.CP_CONTEXT_SWITCH_SAVE_ADDR_LO, 0x1000).t7(OP.SET_PROTECTED_MODE, 1).t4(R5.CP_SCRATCH_0, 5));
    expect(ok.r(R5.CP_INTERRUPT_STATUS)).toBe(0);
    expect(ok.r(R5.CP_SCRATCH_0)).toBe(5);
  });

  it('refuses an a6xx-only packet with an opcode error; the PFP read-out gives its header at index 1; a soft reset halts the CP again', () => {
    const rig = new A5Rig(0x05040001);
    rig.w(R5.GPMU_RBCCU_POWER_CNTL, 0x778000);
    rig.w(R5.GPMU_SP_POWER_CNTL, 0x778000);
    rig.w(R5.CP_PFP_ME_CNTL, 0);
    const bad = new Pm4().t7(OP.MEMCPY, 1, 0, 0, 0, 0);
    rig.submit(bad);
    expect(rig.r(R5.CP_INTERRUPT_STATUS) & CP_INT_OPCODE_ERROR).toBe(CP_INT_OPCODE_ERROR);
    rig.w(R5.CP_PFP_STAT_ADDR, 0);
    rig.r(R5.CP_PFP_STAT_DATA);
    expect(rig.r(R5.CP_PFP_STAT_DATA)).toBe(bad.words[0]);
    rig.w(R5.RBBM_SW_RESET_CMD, 1);
    rig.w(R5.RBBM_SW_RESET_CMD, 0);
    expect(rig.gpu.stats.softResets).toBe(1);
    expect(rig.r(R5.CP_INTERRUPT_STATUS)).toBe(0);
    expect(rig.r(R5.CP_PFP_ME_CNTL)).not.toBe(0);
  });

  it('stalls on an unmapped address when the bank stalls on faults, then goes on once software terminates the transaction', () => {
    const rig = new A5Rig(0x05000800, { sctlr: SCTLR_DEFAULT | SCTLR_CFCFG });
    const ok = rig.kalloc(4096);
    rig.w(R5.CP_PFP_ME_CNTL, 0);
    rig.submit(new Pm4().memWrite(KVA + 0x7000_0000, 1).memWrite(ok.va, 0x600d));
    expect(rig.gpu.cpState).toBe('stalled');
    expect(rig.r(R5.RBBM_STATUS3) & (1 << 24)).toBe(1 << 24);
    expect(rig.v2.cb(0, CB.FSR) & 0x2).toBe(0x2); // TF
    // software terminates it (RESUME.TnR = 1 after clearing the FSR)
    rig.v2.setCb(0, CB.FSR, rig.v2.cb(0, CB.FSR));
    rig.v2.setCb(0, CB.RESUME, 1);
    expect(rig.gpu.cpState).not.toBe('stalled');
    expect(rig.r(R5.RBBM_STATUS3)).toBe(0);
    expect(rig.mem.read32(ok.pa)).toBe(0x600d);
  });

  it('is what the factory builds for an a5xx node, an AdrenoGpu with no GMU to pair', () => {
    const tree = buildFdt({
      root: node('', [prop.u32('#address-cells', 2), prop.u32('#size-cells', 2), prop.u32('interrupt-parent', ref('intc')), prop.string('model', 'msm8996 adreno fragment')], [
        node('memory@80000000', [prop.string('device_type', 'memory'), prop.reg(2, 2, [0x8000_0000, 0x1000_0000])]),
        node('soc@0', [prop.u32('#address-cells', 2), prop.u32('#size-cells', 2), prop.empty('ranges'), prop.string('compatible', 'simple-bus')], [
          node('intc: interrupt-controller@9bc0000', [prop.string('compatible', 'arm,gic-v3'), prop.u32('#interrupt-cells', 3), prop.empty('interrupt-controller'), prop.reg(2, 2, [0x09bc_0000, 0x1_0000])]),
          node('gpu@b00000', [
            prop.strings('compatible', ['qcom,adreno-530.2', 'qcom,adreno']),
            prop.reg(2, 2, [0x00b0_0000, 0x3f000]),
            prop.strings('reg-names', ['kgsl_3d0_reg_memory']),
            prop.cells('interrupts', 0, 300, 4),
            prop.cells('iommus', ref('adreno_smmu'), 0),
          ]),
          node('adreno_smmu: iommu@b40000', [
            prop.strings('compatible', ['qcom,msm8996-smmu-v2', 'qcom,adreno-smmu', 'qcom,smmu-v2']),
            prop.reg(2, 2, [0x00b4_0000, 0x1_0000]),
            prop.u32('#iommu-cells', 1),
            prop.u32('#global-interrupts', 1),
            prop.cells('interrupts', 0, 334, 4, 0, 329, 4, 0, 330, 4),
          ]),
        ]),
      ]),
    });
    const b = Board.fromDtb(writeDtb(tree));
    const gpu = b.models.get('/soc@0/gpu@b00000');
    expect(gpu).toBeInstanceOf(Adreno5xxGpu);
    expect(gpu).toBeInstanceOf(AdrenoGpu);
    expect((gpu as Adreno5xxGpu).chipId).toBe(0x05030002);
    expect((gpu as Adreno5xxGpu).name).toBe('gpu@b00000');
    expect(b.models.get('/soc@0/iommu@b40000')).toBeInstanceOf(SmmuV2);
    // the compatibles of the a5xx SoCs' trees: every a5xx GPU, and their GPU SMMUs
    for (const c of ['qcom,adreno-505.0', 'qcom,adreno-506.0', 'qcom,adreno-508.0', 'qcom,adreno-509.0', 'qcom,adreno-510.0', 'qcom,adreno-512.0', 'qcom,adreno-530.2', 'qcom,adreno-540.1'])
      expect(descriptorMatches(ADRENO_GPU_MODEL, c), c).toBe(true);
    for (const c of ['qcom,msm8996-smmu-v2', 'qcom,msm8998-smmu-v2', 'qcom,sdm630-smmu-v2', 'qcom,adreno-smmu', 'qcom,smmu-v2'])
      expect(descriptorMatches(SMMU_V2_MODEL, c), c).toBe(true);
    // an a6xx chip id is not an a5xx part
    expect(() => new Adreno5xxGpu(b.mem, { chipId: 0x06030002 })).toThrow(/not an a5xx part/);
  });
});
