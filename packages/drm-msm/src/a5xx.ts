import { EINVAL, readxPollTimeout } from '@gki/kernel';
import type { AdrenoSmmuFaultInfo } from '@gki/kernel';
import * as F from './a5xx-regs.js';
import { A6xxGpu, ADRENO_IDLE_TIMEOUT_US, MEMPTRS_FENCE, MSM_GPU_RB_CNTL_DEFAULT, RB_DWORDS, hex8, type MsmRingbuffer } from './gpu.js';
import type { MsmGemSubmit } from './context.js';
import { PAGE_SIZE, hex64 } from './mmu.js';
import * as R from './regs.js';
import { MSM_BO_GPU_READONLY, MSM_BO_WC, MSM_SUBMIT_CMD_CTX_RESTORE_BUF, MSM_SUBMIT_CMD_IB_TARGET_BUF } from './uapi.js';

/** How long pm_resume waits for a GPMU power domain (spin_usecs(gpu, 20, ...)). */
const GPMU_POWER_TIMEOUT_US = 20;

/**
 * The a5xx GPU as msm drives it (struct a5xx_gpu): no GMU (the CPU side powers the GPU: the
 * GPMU's SP and RB/CCU domains on the a530 and a540, the RBBM clock control on the rest), the
 * PM4 and PFP microcode buffers, the a5xx hardware init (VBIF, RBBM, UCHE and GMEM ranges, CP
 * queue thresholds, register protection, 64-bit addressing, the ringbuffer, the interrupt mask),
 * CP_ME_INIT with the per-part microcode workarounds, the a5xx submit (preemption packets around
 * the IBs, the fence through CACHE_FLUSH_TS, the closing CP_CONTEXT_SWITCH_YIELD), the a5xx
 * interrupt decoding, SMMU fault reports naming FSYNR1 as the source, and recovery by a
 * software reset of the GPU.
 *
 * Address spaces: Linux gives the a5xx family no per-process page tables (no
 * create_private_address_space), so every process maps into the GPU's single domain; with the
 * Adreno SMMU's split tables (every Qualcomm SMMU but msm8996's) that domain is the TTBR1 half.
 *
 * Preemption: the PFP microcode here is a placeholder that does not announce CP_WHERE_AM_I
 * (its first word's low nibble is not 0xa), so, as in a5xx_ucode_load, preemption is off and
 * one ring is used; the submit still carries the preemption packets Linux writes, with no
 * save record (0).
 */
export class A5xxGpu extends A6xxGpu {
  private pm4: { iova: number } | null = null;
  private pfp: { iova: number } | null = null;

  /** The a530 and a540, the a5xx parts with a GPMU. */
  get hasGpmu(): boolean {
    return this.info.revn === 530 || this.info.revn === 540;
  }

  /** a5xx_gpu_init + adreno_gpu_init: registers, interrupt, the GPU's domain and address space, the ring, the microcode. */
  override init(): number {
    return this.initWithoutGmu();
  }

  /**
   * a5xx_ucode_load: the PM4 and PFP microcode in read-only kernel buffers. Firmware files are
   * not modelled: each buffer holds a one-page placeholder whose first word is a version with a
   * low nibble other than 0xa (unpatched microcode: no CP_WHERE_AM_I, so no RPTR shadow and no
   * preemption).
   */
  protected override ucodeLoad(): number {
    const pm4 = this.kernelBoNew(PAGE_SIZE, MSM_BO_WC | MSM_BO_GPU_READONLY, 'pm4fw');
    if (typeof pm4 === 'number') {
      this.dev.err(`could not allocate PM4: ${pm4}`);
      return pm4;
    }
    this.pm4 = pm4;
    const pfp = this.kernelBoNew(PAGE_SIZE, MSM_BO_WC | MSM_BO_GPU_READONLY, 'pfpfw');
    if (typeof pfp === 'number') {
      this.dev.err(`could not allocate PFP: ${pfp}`);
      return pfp;
    }
    this.pfp = pfp;
    this.kernel.mem.write32(pm4.obj.physAt(0), 0x0000_0001);
    this.kernel.mem.write32(pfp.obj.physAt(0), 0x0000_0001);
    return 0;
  }

  /** Linux: msm_gpu_create_private_address_space falls back to the global space (no a5xx hook). */
  override get perProcessPagetables(): boolean {
    return false;
  }

  // ------------------------------------------------------------------ power

  /**
   * a5xx_pm_resume after the clocks: the a530/a540 switch on the RB/CCU domain, then the SP
   * domain, through the GPMU, each confirmed by its PWR_CLK_STATUS; the other parts halt the
   * SP input clock, enable clock gating and let the clock run again (RBBM_CLOCK_CNTL).
   */
  pmResume(): number {
    if (!this.hasGpmu) {
      this.write(F.A5XX_RBBM_CLOCK_CNTL, 0x55);
      this.setHwcg(true);
      this.rmw(F.A5XX_RBBM_CLOCK_CNTL, 0xff, 0);
      return 0;
    }
    this.write(F.A5XX_GPMU_RBCCU_POWER_CNTL, F.A5XX_GPMU_POWER_ON);
    const on = (reg: number): number =>
      readxPollTimeout(this.kernel, () => this.read(reg) & F.A5XX_GPMU_PWR_CLK_STATUS_PWR_ON, (v) => v !== 0, 1, GPMU_POWER_TIMEOUT_US);
    if (on(F.A5XX_GPMU_RBCCU_PWR_CLK_STATUS) < 0) {
      this.kernel.log.err('', `[drm:a5xx_pm_resume] *ERROR* ${this.name}: timeout waiting for RBCCU GDSC enable: ${this.read(F.A5XX_GPMU_RBCCU_PWR_CLK_STATUS).toString(16).toUpperCase()}`);
      return -110;
    }
    this.write(F.A5XX_GPMU_SP_POWER_CNTL, F.A5XX_GPMU_POWER_ON);
    if (on(F.A5XX_GPMU_SP_PWR_CLK_STATUS) < 0) {
      this.kernel.log.err('', `[drm:a5xx_pm_resume] *ERROR* ${this.name}: timeout waiting for SP GDSC enable`);
      return -110;
    }
    return 0;
  }

  /**
   * a5xx_set_hwcg's last two writes (the global clock control and the ISDB counter); the
   * per-block clock-gating table before them is left out: the model has no clocks.
   */
  private setHwcg(state: boolean): void {
    this.write(F.A5XX_RBBM_CLOCK_CNTL, state ? 0xaaa8_aa00 : 0);
    this.write(F.A5XX_RBBM_ISDB_CNT, state ? 0x182 : 0x180);
  }

  protected rmw(reg: number, mask: number, or: number): void {
    this.write(reg, ((this.read(reg) & ~mask) | or) >>> 0);
  }

  // ------------------------------------------------------------------ hardware init

  /** a5xx_hw_init (preceded by the first runtime resume): 0 or -errno. */
  override hwInit(): number {
    this.hwReady = false;
    let ret = this.pmResume();
    if (ret < 0) return ret;
    const info = this.info;
    this.write(F.A5XX_VBIF_ROUND_ROBIN_QOS_ARB, 0x3);
    if (this.is(509, 512, 540)) this.write(F.A5XX_VBIF_GATE_OFF_WRREQ_EN, 0x9);
    this.write(F.A5XX_RBBM_PERFCTR_GPU_BUSY_MASKED, 0xffff_ffff);
    this.write(F.A5XX_RBBM_AHB_CNTL0, 0x1);
    if (info.quirks?.faultDetectMask) {
      // keep RB1-3's activity out of the hang detector
      this.write(F.A5XX_RBBM_INTERFACE_HANG_MASK_CNTL(11), 0xf000_0000);
      for (let n = 12; n <= 18; n++) this.write(F.A5XX_RBBM_INTERFACE_HANG_MASK_CNTL(n), 0xffff_ffff);
    }
    this.write(F.A5XX_RBBM_INTERFACE_HANG_INT_CNTL, ((1 << 30) | 0xffff) >>> 0);
    this.write(F.A5XX_RBBM_PERFCTR_CNTL, 0x1);
    this.write(F.A5XX_CP_PERFCTR_CP_SEL_0, F.PERF_CP_ALWAYS_COUNT);
    this.write(F.A5XX_RBBM_PERFCTR_RBBM_SEL_0, 6);
    this.write(F.A5XX_UCHE_CACHE_WAYS, 0x2);
    // UCHE: no L2 bypass (trap and write-through bases out of the way), GMEM at 1 MiB
    this.write(F.A5XX_UCHE_TRAP_BASE_LO, 0xffff_0000);
    this.write(F.A5XX_UCHE_TRAP_BASE_HI, 0x0001_ffff);
    this.write(F.A5XX_UCHE_WRITE_THRU_BASE_LO, 0xffff_0000);
    this.write(F.A5XX_UCHE_WRITE_THRU_BASE_HI, 0x0001_ffff);
    this.write(F.A5XX_UCHE_GMEM_RANGE_MIN_LO, 0x0010_0000);
    this.write(F.A5XX_UCHE_GMEM_RANGE_MIN_HI, 0);
    this.write(F.A5XX_UCHE_GMEM_RANGE_MAX_LO, 0x0010_0000 + info.gmem - 1);
    this.write(F.A5XX_UCHE_GMEM_RANGE_MAX_HI, 0);
    if (this.is(505, 506, 508, 510)) {
      this.write(F.A5XX_CP_MEQ_THRESHOLDS, 0x20);
      this.write(F.A5XX_CP_MERCIU_SIZE, this.is(510) ? 0x20 : 0x400);
      this.write(F.A5XX_CP_ROQ_THRESHOLDS_2, 0x4000_0030);
      this.write(F.A5XX_CP_ROQ_THRESHOLDS_1, 0x2010_0d0a);
    } else {
      this.write(F.A5XX_CP_MEQ_THRESHOLDS, 0x40);
      this.write(F.A5XX_CP_MERCIU_SIZE, this.is(530) ? 0x40 : 0x400);
      this.write(F.A5XX_CP_ROQ_THRESHOLDS_2, 0x8000_0060);
      this.write(F.A5XX_CP_ROQ_THRESHOLDS_1, 0x4020_1b16);
    }
    if (this.is(505, 506, 508)) this.write(F.A5XX_PC_DBG_ECO_CNTL, ((0x100 << 11) | (0x100 << 22)) >>> 0);
    else if (this.is(509, 510, 512)) this.write(F.A5XX_PC_DBG_ECO_CNTL, ((0x200 << 11) | (0x200 << 22)) >>> 0);
    else this.write(F.A5XX_PC_DBG_ECO_CNTL, ((0x400 << 11) | (0x300 << 22)) >>> 0);
    if (info.quirks?.twoPassUseWfi) this.rmw(F.A5XX_PC_DBG_ECO_CNTL, 0, 1 << 8);
    // the 1-SP parts: RB sampler datapath DP2 clock gating off
    if (this.is(505, 506, 508, 509, 512)) this.rmw(F.A5XX_RB_DBG_ECO_CNTL, 0, 1 << 9);
    this.write(F.A5XX_UCHE_MODE_CNTL, 1 << 29);
    this.write(F.A5XX_CP_CHICKEN_DBG, 0x0200_0000);
    this.write(F.A5XX_RBBM_AHB_CNTL1, 0xa6ff_ffff);
    if (this.is(510)) this.rmw(F.A5XX_RB_DBG_ECO_CNTL, 1 << 11, 0);
    this.setHwcg(true);
    this.write(F.A5XX_RBBM_AHB_CNTL2, 0x3f);
    const hbb = info.highestBankBit - 13;
    this.write(F.A5XX_TPL1_MODE_CNTL, hbb << 7);
    this.write(F.A5XX_RB_MODE_CNTL, hbb << 1);
    if (this.is(509, 512, 540)) this.write(F.A5XX_UCHE_DBG_ECO_CNTL_2, hbb);
    this.rmw(F.A5XX_VPC_DBG_ECO_CNTL, 0, 1 << 10);
    this.protectRegisters();
    this.write(F.A5XX_RBBM_SECVID_TSB_CNTL, 0);
    this.write64(F.A5XX_RBBM_SECVID_TSB_TRUSTED_BASE_LO, 0);
    this.write(F.A5XX_RBBM_SECVID_TSB_TRUSTED_SIZE, 0);
    for (const reg of [
      F.A5XX_CP_ADDR_MODE_CNTL,
      F.A5XX_VSC_ADDR_MODE_CNTL,
      F.A5XX_GRAS_ADDR_MODE_CNTL,
      F.A5XX_RB_ADDR_MODE_CNTL,
      F.A5XX_PC_ADDR_MODE_CNTL,
      F.A5XX_HLSQ_ADDR_MODE_CNTL,
      F.A5XX_VFD_ADDR_MODE_CNTL,
      F.A5XX_VPC_ADDR_MODE_CNTL,
      F.A5XX_UCHE_ADDR_MODE_CNTL,
      F.A5XX_SP_ADDR_MODE_CNTL,
      F.A5XX_TPL1_ADDR_MODE_CNTL,
      F.A5XX_RBBM_SECVID_TSB_ADDR_MODE_CNTL,
    ])
      this.write(reg, 0x1);
    if (info.quirks?.lmloadkillDisable) {
      this.rmw(F.A5XX_VPC_DBG_ECO_CNTL, 0, 1 << 23);
      this.rmw(F.A5XX_HLSQ_DBG_ECO_CNTL, 1 << 18, 0);
    }
    this.adrenoHwInit();
    this.write64(F.A5XX_CP_ME_INSTR_BASE_LO, this.pm4!.iova);
    this.write64(F.A5XX_CP_PFP_INSTR_BASE_LO, this.pfp!.iova);
    this.write64(F.A5XX_CP_RB_BASE, this.rings[0]!.iova);
    // no RPTR shadow in hardware, with or without CP_WHERE_AM_I
    this.write(F.A5XX_CP_RB_CNTL, (MSM_GPU_RB_CNTL_DEFAULT | R.AXXX_CP_RB_CNTL_NO_UPDATE) >>> 0);
    this.curCtxSeqno = 0;
    this.write(F.A5XX_RBBM_INT_0_MASK, F.A5XX_INT_MASK);
    // clear the ME and PFP halts: the micro engine starts
    this.write(F.A5XX_CP_PFP_ME_CNTL, 0);
    ret = this.meInit();
    if (ret === 0) ret = this.powerInit();
    if (ret === 0 && this.is(530)) {
      // a pipeline stat event gets the a530's counters ticking
      const ring = this.rings[0]!;
      ret = this.outPkt7(ring, R.CP_EVENT_WRITE, 1);
      if (ret === 0) {
        this.outRing(ring, F.STAT_EVENT);
        this.flush(ring);
        if (!this.idle(ring)) ret = -EINVAL;
      }
    }
    if (ret === 0) {
      // no zap shader in the model (it needs the secure world): leave secure mode by hand
      this.dev.warn('Zap shader not enabled - using SECVID_TRUST_CNTL instead');
      this.write(F.A5XX_RBBM_SECVID_TRUST_CNTL, 0);
    }
    this.hwReady = ret === 0;
    return ret;
  }

  /** CP_PROTECT_CNTL and the 18 protected ranges a5xx_hw_init sets. */
  private protectRegisters(): void {
    const P = F.adrenoProtectRw;
    const ranges: [number, number][] = [
      [0x04, 4], [0x08, 8], [0x10, 16], [0x20, 32], [0x40, 64], [0x80, 64], // RBBM
      [F.A5XX_RBBM_SECVID_TSB_TRUSTED_BASE_LO, 16], [F.A5XX_RBBM_SECVID_TRUST_CNTL, 2], // content protection
      [0x800, 64], [0x840, 8], [0x880, 32], [0xaa0, 1], // CP
      [0xcc0, 1], [0xcf0, 2], // RB
      [0xe68, 8], [0xe70, 16], // VPC
      [0xe80, 16], // UCHE
      [0x10000, 0x8000], // SMMU
    ];
    this.write(F.A5XX_CP_PROTECT_CNTL, F.A5XX_CP_PROTECT_CNTL_VALUE);
    ranges.forEach(([reg, len], i) => this.write(F.A5XX_CP_PROTECT(i), P(reg, len)));
  }

  /**
   * a5xx_me_init: CP_ME_INIT (multiple hardware contexts, error detection, no header dump, the
   * microcode workaround word of the part), then wait for the CP to go idle.
   */
  private meInit(): number {
    const ring = this.rings[0]!;
    const r = this.outPkt7(ring, R.CP_ME_INIT, 8);
    if (r < 0) return r;
    const workaround = this.is(505, 506, 530) ? 0xb : this.is(510) ? 0x1 : 0;
    for (const v of [0x2f, 0x3, 0x2000_0000, 0, 0, workaround, 0, 0]) this.outRing(ring, v);
    this.flush(ring);
    return this.idle(ring) ? 0 : -EINVAL;
  }

  /**
   * a5xx_power_init for the a530/a540: the limits-management registers outside the GPMU's
   * message RAM (voltage level, power threshold; on the a530 the temperature sensor, base
   * leakage and BEC/GDPM setup; the a530's sequence-register block and the AGC messages to the
   * GPMU firmware are left out), SP/TP power collapse, and the GPMU start, which needs the GPMU
   * firmware: none is loaded here (as in Linux when the firmware has no usable command stream,
   * gpmu_dwords 0), so the GPMU is not started and limits management is not enabled. The other
   * parts have no GPMU.
   */
  private powerInit(): number {
    if (!this.hasGpmu) return 0;
    this.write(F.A5XX_GPMU_GPMU_VOLTAGE, 0x8000_0000);
    this.write(F.A5XX_GPMU_GPMU_PWR_THRESHOLD, (0x8000_0000 | 6000) >>> 0);
    if (this.is(530)) {
      this.write(F.A5XX_GPMU_TEMP_SENSOR_ID, 0x60007);
      this.write(F.A5XX_GPMU_DELTA_TEMP_THRESHOLD, 0x1);
      this.write(F.A5XX_GPMU_TEMP_SENSOR_CONFIG, 0x1);
      this.write(F.A5XX_GPMU_BASE_LEAKAGE, 0x4e_001a);
      this.write(F.A5XX_GPMU_BEC_ENABLE, 0x1000_1fff);
      this.write(F.A5XX_GDPM_CONFIG1, 0x0020_1ff1);
    }
    // SP/TP power collapse
    this.write(F.A5XX_GPMU_PWR_COL_INTER_FRAME_CTRL, 0x7f);
    this.write(F.A5XX_GPMU_PWR_COL_BINNING_CTRL, 0);
    this.write(F.A5XX_GPMU_PWR_COL_INTER_FRAME_HYST, 0xa_0080);
    this.write(F.A5XX_GPMU_PWR_COL_STAGGER_DELAY, 0x60_0040);
    return 0;
  }

  // ------------------------------------------------------------------ ring

  override rptr(ring: MsmRingbuffer): number {
    return this.read(F.A5XX_CP_RB_RPTR) % RB_DWORDS;
  }

  /** a5xx_flush: publish what was written (WPTR; one ring, never in preemption). */
  protected override flush(ring: MsmRingbuffer): void {
    ring.cur = ring.next;
    this.write(F.A5XX_CP_RB_WPTR, ring.cur % RB_DWORDS);
  }

  override poke(): void {
    if (this.regs?.mapped) this.read(F.A5XX_CP_RB_RPTR);
  }

  /**
   * a5xx_idle: the CP drained the ring (adreno_idle), then RBBM_STATUS shows nothing but HI_BUSY
   * and the hang detector has not fired. Logged when it times out.
   */
  override idle(ring: MsmRingbuffer): boolean {
    const wptr = ring.cur % RB_DWORDS;
    if (readxPollTimeout(this.kernel, () => this.rptr(ring), (v) => v === wptr, 10, ADRENO_IDLE_TIMEOUT_US) < 0) {
      this.kernel.log.err('', `[drm:adreno_idle] *ERROR* ${this.name}: timeout waiting to drain ringbuffer ${ring.id} rptr/wptr = ${this.rptr(ring).toString(16).toUpperCase()}/${wptr.toString(16).toUpperCase()}`);
      return false;
    }
    const isIdle = (): boolean =>
      (this.read(F.A5XX_RBBM_STATUS) & ~F.A5XX_RBBM_STATUS_HI_BUSY) === 0 && (this.read(F.A5XX_RBBM_INT_0_STATUS) & F.A5XX_RBBM_INT_0_MASK_MISC_HANG_DETECT) === 0;
    if (readxPollTimeout(this.kernel, () => (isIdle() ? 1 : 0), (v) => v === 1, 10, ADRENO_IDLE_TIMEOUT_US) < 0) {
      this.kernel.log.err(
        '',
        `[drm:a5xx_idle] *ERROR* ${this.name}: timeout waiting for GPU to idle: status ${hex8(this.read(F.A5XX_RBBM_STATUS))} irq ${hex8(this.read(F.A5XX_RBBM_INT_0_STATUS))} rptr/wptr ${this.read(F.A5XX_CP_RB_RPTR)}/${this.read(F.A5XX_CP_RB_WPTR)}`,
      );
      return false;
    }
    return true;
  }

  // ------------------------------------------------------------------ submit

  /**
   * a5xx_submit: global preemption allowed, the (empty) preemption save record set with
   * protected mode off, local preemption off, yields allowed in IB2, one CP_INDIRECT_BUFFER_PFE
   * per command buffer that runs, the render mode back to NULL, IB-level yields off, the
   * sequence number in CP_SCRATCH_REG(2), CACHE_FLUSH_TS writing the fence with the interrupt,
   * and a CP_CONTEXT_SWITCH_YIELD that writes nothing. No page-table switch: a5xx has none.
   */
  protected override emitSubmit(ring: MsmRingbuffer, submit: MsmGemSubmit): number {
    const seqno = submit.seqno;
    const fence = ring.memptrsIova + MEMPTRS_FENCE;
    const lo = (a: number): number => a % 2 ** 32;
    const hi = (a: number): number => Math.floor(a / 2 ** 32);
    const steps: (() => number)[] = [
      () => this.pkt7(ring, F.CP_PREEMPT_ENABLE_GLOBAL, 0x2),
      () => this.pkt7(ring, R.CP_SET_PROTECTED_MODE, 0),
      () => this.outPkt4(ring, F.A5XX_CP_CONTEXT_SWITCH_SAVE_ADDR_LO, 2),
      () => (this.outRing(ring, 0), this.outRing(ring, 0), 0),
      () => this.pkt7(ring, R.CP_SET_PROTECTED_MODE, 1),
      () => this.pkt7(ring, F.CP_PREEMPT_ENABLE_LOCAL, 0),
      () => this.pkt7(ring, F.CP_YIELD_ENABLE, 0x2),
      () => this.a5xxIbs(ring, submit),
      () => this.pkt7(ring, F.CP_SET_RENDER_MODE, 0, 0, 0, 0, 0),
      () => this.pkt7(ring, F.CP_YIELD_ENABLE, 0x1),
      () => this.outPkt4(ring, F.A5XX_CP_SCRATCH_REG(2), 1),
      () => (this.outRing(ring, seqno), 0),
      () => this.pkt7(ring, R.CP_EVENT_WRITE, R.CACHE_FLUSH_TS | R.CP_EVENT_WRITE_0_IRQ, lo(fence), hi(fence), seqno),
      () => this.pkt7(ring, F.CP_CONTEXT_SWITCH_YIELD, 0, 0, 0x1, 0x1),
    ];
    for (const step of steps) {
      const r = step();
      if (r < 0) return r;
    }
    this.curCtxSeqno = submit.ctx.seqno;
    return 0;
  }

  private a5xxIbs(ring: MsmRingbuffer, submit: MsmGemSubmit): number {
    for (const cmd of submit.cmds) {
      if (cmd.type === MSM_SUBMIT_CMD_IB_TARGET_BUF) continue;
      if (cmd.type === MSM_SUBMIT_CMD_CTX_RESTORE_BUF && this.curCtxSeqno === submit.ctx.seqno) continue;
      const r = this.pkt7(ring, R.CP_INDIRECT_BUFFER_PFE, cmd.iova % 2 ** 32, Math.floor(cmd.iova / 2 ** 32), cmd.dwords);
      if (r < 0) return r;
    }
    return 0;
  }

  // ------------------------------------------------------------------ interrupts

  /**
   * a5xx_irq: everything but RBBM_AHB_ERROR is cleared at once (that one only after its source,
   * or it storms), then the RBBM errors, CP errors, the hang detector, UCHE out-of-bounds
   * accesses, GPMU voltage droop, and retirement on CACHE_FLUSH_TS.
   */
  protected override irqHandler(): void {
    if (!this.regs?.mapped) return;
    this.stats.irqs++;
    const status = this.read(F.A5XX_RBBM_INT_0_STATUS);
    this.write(F.A5XX_RBBM_INT_CLEAR_CMD, (status & ~F.A5XX_RBBM_INT_0_MASK_RBBM_AHB_ERROR) >>> 0);
    if (status & F.A5XX_RBBM_ERROR_MASK) this.rbbmErrIrq(status);
    if (status & F.A5XX_RBBM_INT_0_MASK_CP_HW_ERROR) this.cpErrIrq();
    if (status & F.A5XX_RBBM_INT_0_MASK_MISC_HANG_DETECT) this.a5xxFaultDetectIrq();
    if (status & F.A5XX_RBBM_INT_0_MASK_UCHE_OOB_ACCESS) {
      const addr = this.read(F.A5XX_UCHE_TRAP_LOG_HI) * 2 ** 32 + this.read(F.A5XX_UCHE_TRAP_LOG_LO);
      this.dev.err(`UCHE | Out of bounds access | addr=0x${addr.toString(16).toUpperCase()}`);
    }
    if (status & F.A5XX_RBBM_INT_0_MASK_GPMU_VOLTAGE_DROOP) this.dev.err('GPMU | voltage droop');
    if (status & F.A5XX_RBBM_INT_0_MASK_CP_CACHE_FLUSH_TS) this.retire();
  }

  private rbbmErrIrq(status: number): void {
    if (status & F.A5XX_RBBM_INT_0_MASK_RBBM_AHB_ERROR) {
      const v = this.read(F.A5XX_RBBM_AHB_ERROR_STATUS);
      this.dev.err(`RBBM | AHB bus error | ${v & (1 << 28) ? 'WRITE' : 'READ'} | addr=0x${((v & 0xfffff) >>> 2).toString(16).toUpperCase()} | ports=0x${((v >>> 20) & 0x3).toString(16).toUpperCase()}:0x${((v >>> 24) & 0xf).toString(16).toUpperCase()}`);
      this.write(F.A5XX_RBBM_AHB_CMD, 1 << 4);
      this.write(F.A5XX_RBBM_INT_CLEAR_CMD, F.A5XX_RBBM_INT_0_MASK_RBBM_AHB_ERROR);
    }
    if (status & F.A5XX_RBBM_INT_0_MASK_RBBM_TRANSFER_TIMEOUT) this.dev.err('RBBM | AHB transfer timeout');
    if (status & F.A5XX_RBBM_INT_0_MASK_RBBM_ME_MS_TIMEOUT) this.dev.err(`RBBM | ME master split | status=0x${this.read(F.A5XX_RBBM_AHB_ME_SPLIT_STATUS).toString(16).toUpperCase()}`);
    if (status & F.A5XX_RBBM_INT_0_MASK_RBBM_PFP_MS_TIMEOUT) this.dev.err(`RBBM | PFP master split | status=0x${this.read(F.A5XX_RBBM_AHB_PFP_SPLIT_STATUS).toString(16).toUpperCase()}`);
    if (status & F.A5XX_RBBM_INT_0_MASK_RBBM_ETS_MS_TIMEOUT) this.dev.err(`RBBM | ETS master split | status=0x${this.read(F.A5XX_RBBM_AHB_ETS_SPLIT_STATUS).toString(16).toUpperCase()}`);
    if (status & F.A5XX_RBBM_INT_0_MASK_RBBM_ATB_ASYNC_OVERFLOW) this.dev.err('RBBM | ATB ASYNC overflow');
  }

  /** a5xx_cp_err_irq: opcode errors (the PFP read-out's entry 1), HW faults, DMA, protection and AHB errors. */
  private cpErrIrq(): void {
    const status = this.read(F.A5XX_CP_INTERRUPT_STATUS);
    if (status & F.A5XX_CP_INT_CP_OPCODE_ERROR) {
      this.write(F.A5XX_CP_PFP_STAT_ADDR, 0);
      // the read-out is indexed: the second read is entry 1
      this.read(F.A5XX_CP_PFP_STAT_DATA);
      const v = this.read(F.A5XX_CP_PFP_STAT_DATA);
      this.dev.err(`CP | opcode error | possible opcode=0x${hex8(v)}`);
    }
    if (status & F.A5XX_CP_INT_CP_HW_FAULT_ERROR) this.dev.err(`CP | HW fault | status=0x${hex8(this.read(F.A5XX_CP_HW_FAULT))}`);
    if (status & F.A5XX_CP_INT_CP_DMA_ERROR) this.dev.err('CP | DMA error');
    if (status & F.A5XX_CP_INT_CP_REGISTER_PROTECTION_ERROR) {
      const v = this.read(F.A5XX_CP_PROTECT_STATUS);
      this.dev.err(`CP | protected mode error | ${v & (1 << 24) ? 'WRITE' : 'READ'} | addr=0x${hex8((v & 0xfffff) >>> 2)} | status=0x${hex8(v)}`);
    }
    if (status & F.A5XX_CP_INT_CP_AHB_ERROR) {
      const v = this.read(F.A5XX_CP_AHB_FAULT);
      const access = ['reserved', 'reserved', 'timestamp lo', 'timestamp hi', 'pfp read', 'pfp write', '', '', 'me read', 'me write', '', '', 'crashdump read', 'crashdump write'];
      this.dev.err(`CP | AHB error | addr=${(v & 0xfffff).toString(16).toUpperCase()} access=${access[(v >>> 24) & 0xf] ?? ''} error=${v & 0x8000_0000 ? 1 : 0} | status=0x${hex8(v)}`);
    }
  }

  /** a5xx_fault_detect_irq: the hang detector fired (unless the SMMU stalled the GPU on a fault). */
  private a5xxFaultDetectIrq(): void {
    if (this.read(F.A5XX_RBBM_STATUS3) & F.A5XX_RBBM_STATUS3_SMMU_STALLED_ON_FAULT) return;
    const ring = this.rings[0]!;
    const h4 = (v: number): string => v.toString(16).padStart(4, '0');
    this.dev.err(
      `gpu fault ring ${ring.id} fence ${ring.seqno.toString(16)} status ${hex8(this.read(F.A5XX_RBBM_STATUS))} rb ${h4(this.read(F.A5XX_CP_RB_RPTR))}/${h4(this.read(F.A5XX_CP_RB_WPTR))} ib1 ${hex64(this.read64(F.A5XX_CP_IB1_BASE)).toUpperCase()}/${h4(this.read(F.A5XX_CP_IB1_BUFSZ))} ib2 ${hex64(this.read64(F.A5XX_CP_IB2_BASE)).toUpperCase()}/${h4(this.read(F.A5XX_CP_IB2_BUFSZ))}`,
    );
    this.hangcheckAt = Number.POSITIVE_INFINITY;
    this.host.queueWork(() => this.recover());
  }

  // ------------------------------------------------------------------ faults and recovery

  protected override scratchReg(n: number): number {
    return F.A5XX_CP_SCRATCH_REG(n);
  }

  /** a5xx_fault_handler: the source is FSYNR1 in hex (a5xx does not decode the block). */
  protected override faultSource(info: AdrenoSmmuFaultInfo): string {
    return (info.fsynr1 >>> 0).toString(16);
  }

  /**
   * a5xx_recover's register part: the scratch registers logged, a software reset of the GPU
   * (written, read back, released), then adreno_recover's suspend (the resume is hwInit's).
   */
  protected override recoverHw(): void {
    for (let i = 0; i < 8; i++) this.dev.info(`CP_SCRATCH_REG${i}: ${this.read(F.A5XX_CP_SCRATCH_REG(i))}`);
    this.write(F.A5XX_RBBM_SW_RESET_CMD, 1);
    this.read(F.A5XX_RBBM_SW_RESET_CMD);
    this.write(F.A5XX_RBBM_SW_RESET_CMD, 0);
    this.pmSuspend();
  }

  /** Interrupts masked, then the suspend: the teardown's register part. */
  protected override haltHw(): void {
    this.write(F.A5XX_RBBM_INT_0_MASK, 0);
    this.pmSuspend();
  }

  /**
   * a5xx_pm_suspend's register part: the VBIF's ports halted (3 on a505/a506/a508/a510, 4 on
   * the rest) and released, then on the a510 and a530 the VBIF reset before power collapse.
   */
  pmSuspend(): void {
    const mask = this.is(505, 506, 508, 510) ? 0x7 : 0xf;
    this.write(F.A5XX_VBIF_XIN_HALT_CTRL0, mask);
    readxPollTimeout(this.kernel, () => this.read(F.A5XX_VBIF_XIN_HALT_CTRL1) & mask, (v) => v === mask, 1, ADRENO_IDLE_TIMEOUT_US);
    this.write(F.A5XX_VBIF_XIN_HALT_CTRL0, 0);
    if (this.is(510, 530)) {
      this.write(F.A5XX_RBBM_BLOCK_SW_RESET_CMD, 0x003c_0000);
      this.write(F.A5XX_RBBM_BLOCK_SW_RESET_CMD, 0);
    }
  }

  /** a5xx_get_timestamp: the always-on counter (no GMU to ask). */
  override timestamp(): number {
    return this.read64(F.A5XX_RBBM_ALWAYSON_COUNTER_LO);
  }
}
