import { EINVAL, ENXIO, readxPollTimeout } from '@gki/kernel';
import * as F from './a3xx-regs.js';
import { A6xxGpu, ADRENO_IDLE_TIMEOUT_US, MEMPTRS_FENCE, MSM_GPU_RB_CNTL_DEFAULT, RB_DWORDS, type MsmRingbuffer } from './gpu.js';
import type { MsmGemSubmit } from './context.js';
import * as R from './regs.js';
import { MSM_SUBMIT_CMD_CTX_RESTORE_BUF, MSM_SUBMIT_CMD_IB_TARGET_BUF } from './uapi.js';

/**
 * Microcode words uploaded at hw_init (firmware files are not modelled): a PM4 and a PFP image
 * of this many words each, the version in word 1 (PM4) and word 5 (PFP) as Linux reads them.
 */
const UCODE_WORDS = 8;

/**
 * The a3xx GPU as msm drives it (struct a3xx_gpu): no GMU, no zap shader, no per-process page
 * tables and no fault handler on the GPU's MMU (a3xx installs none, so msm's IOMMU callback
 * logs "*** fault" and the IOMMU driver its own line); the a3xx hardware init (the part's VBIF
 * setup, RBBM, the interrupt mask, the ring with no read-pointer shadow, the 13 CP_PROTECT
 * ranges, the PM4 and PFP microcode through their upload registers, the queue thresholds, the
 * micro engine's release), a 17-word CP_ME_INIT, the a3xx submit (type-3 packets, 32-bit
 * addresses: one CP_INDIRECT_BUFFER_PFD per command buffer, the sequence number in
 * CP_SCRATCH_REG2, HLSQ_FLUSH, CP_WAIT_FOR_IDLE, CACHE_FLUSH_TS with the interrupt), an
 * interrupt handler that clears what it read and retires, and recovery by a software reset.
 *
 * The OCMEM of the a330 (msm8974) is not modelled: RB_GMEM_BASE_ADDR stays unwritten as when
 * Linux finds no OCMEM. Performance counters: Linux's a3xx list (one CP select) is left out.
 */
export class A3xxGpu extends A6xxGpu {
  protected pm4: Uint32Array | null = null;
  protected pfp: Uint32Array | null = null;
  /** The registers the shared ring, idle, interrupt and reset paths use (a3xx's; A4xxGpu's own). */
  protected readonly G = {
    rbbmStatus: F.A3XX_RBBM_STATUS,
    int0Status: F.A3XX_RBBM_INT_0_STATUS,
    intClear: F.A3XX_RBBM_INT_CLEAR_CMD,
    int0Mask: F.A3XX_RBBM_INT_0_MASK,
    swReset: F.A3XX_RBBM_SW_RESET_CMD,
    rbRptr: F.AXXX_CP_RB_RPTR,
    rbWptr: F.AXXX_CP_RB_WPTR,
    meCntl: F.AXXX_CP_ME_CNTL,
  };
  /** The IB call of the family's submit (a3xx: through the prefetch parser, PFD). */
  protected ibOpcode = F.CP_INDIRECT_BUFFER_PFD;
  /** The function name idle's timeout message carries. */
  protected idleFn = 'a3xx_idle';

  /** adreno_is_a305b: the chip listed by chip id only (3.0.5.18). */
  private get isA305b(): boolean {
    return this.chipId >>> 0 === 0x0300_0512;
  }

  /** adreno_is_a330v2: an a330 with a non-zero patch level. */
  private get isA330v2(): boolean {
    return this.is(330) && (this.chipId & 0xff) > 0;
  }

  /** a3xx_gpu_init + adreno_gpu_init: registers, interrupt, the GPU's domain and address space, the ring, the microcode. */
  override init(): number {
    return this.initWithoutGmu();
  }

  /** a3xx installs no fault handler (msm_mmu_set_fault_handler is an a5xx-and-later call). */
  /** a3xx_gpu_init / a4xx_gpu_init without an address space: refused (allow_vram_carveout is off by default). */
  protected override withoutIommu(): number {
    this.dev.err('No memory protection without IOMMU');
    return -ENXIO;
  }

  protected override get installsFaultHandler(): boolean {
    return false;
  }

  /**
   * adreno_load_fw for the PM4 and PFP images. The files are not modelled: each image is a
   * short placeholder (word 0 the header Linux skips, the version words at Linux's places).
   */
  protected override ucodeLoad(): number {
    this.pm4 = new Uint32Array(UCODE_WORDS);
    this.pfp = new Uint32Array(UCODE_WORDS);
    this.pm4[1] = 0x0000_0001;
    this.pfp[5] = 0x0000_0001;
    return 0;
  }

  override get perProcessPagetables(): boolean {
    return false;
  }

  // ------------------------------------------------------------------ hardware init

  /** a3xx_hw_init: 0 or -errno. */
  override hwInit(): number {
    this.hwReady = false;
    if (this.is(305)) {
      // 16-deep read/write request queues (the write-request, arbitration and AOOO settings
      // that follow in Linux are left out: the model has no VBIF queues)
      this.vbif(0x1010_1010, 0x1010_1010, 0x1010_1010, 0x1010_1010, 0x1010_1010, 0x1010_1010);
    } else if (this.isA305b) {
      this.write(F.A3XX_VBIF_OUT_RD_LIM_CONF0, 0x18);
      this.write(F.A3XX_VBIF_OUT_WR_LIM_CONF0, 0x18);
      this.write(F.A3XX_VBIF_ROUND_ROBIN_QOS_ARB, 0x3);
    } else if (this.is(307)) {
      // the a306 (listed as revn 307: a305c took 306)
      this.write(F.A3XX_VBIF_ROUND_ROBIN_QOS_ARB, 0x3);
      this.write(F.A3XX_VBIF_OUT_RD_LIM_CONF0, 0xa);
      this.write(F.A3XX_VBIF_OUT_WR_LIM_CONF0, 0xa);
    } else if (this.is(308)) {
      this.write(F.A3XX_VBIF_ROUND_ROBIN_QOS_ARB, 0x3);
      this.write(F.A3XX_VBIF_OUT_RD_LIM_CONF0, 0x10);
      this.write(F.A3XX_VBIF_OUT_WR_LIM_CONF0, 0x10);
    } else if (this.is(320)) {
      this.vbif(0x1010_1010, 0x1010_1010, 0x1010_1010, 0x1010_1010, 0x1010_1010, 0x1010_1010);
    } else if (this.isA330v2) {
      this.write(F.A3XX_VBIF_ROUND_ROBIN_QOS_ARB, 0x3);
    } else {
      // a330
      this.vbif(0x1818_1818, 0x1818_1818, 0x1818_1818, 0x1818_1818, 0x1818_1818, 0x1818_1818);
      this.write(F.A3XX_VBIF_ROUND_ROBIN_QOS_ARB, 0x1);
    }
    this.write(F.A3XX_RBBM_GPU_BUSY_MASKED, 0xffff_ffff);
    // SP/TP power collapse hysteresis, idle wait, AHB error reporting, hang detection
    this.write(F.A3XX_RBBM_SP_HYST_CNT, 0x10);
    this.write(F.A3XX_RBBM_WAIT_IDLE_CLOCKS_CTL, 0x10);
    this.write(F.A3XX_RBBM_AHB_CTL0, 0x1);
    this.write(F.A3XX_RBBM_AHB_CTL1, 0xa6ff_ffff);
    this.write(F.A3XX_RBBM_RBBM_CTL, 0x0003_0000);
    this.write(F.A3XX_RBBM_INTERFACE_HANG_INT_CTL, 0x0001_0fff);
    this.write(F.A3XX_UCHE_CACHE_MODE_CONTROL_REG, 0x1);
    if (this.isA305b || this.is(307, 308) || this.isA330v2) this.write(F.A3XX_RBBM_CLOCK_CTL, 0xaaaa_aaaa);
    else if (this.is(320)) this.write(F.A3XX_RBBM_CLOCK_CTL, 0xbfff_ffff);
    else if (this.is(330)) this.write(F.A3XX_RBBM_CLOCK_CTL, 0xbffc_ffff);
    if (this.isA330v2) this.write(F.A3XX_RBBM_GPR0_CTL, 0x0551_5455);
    else if (this.is(330)) this.write(F.A3XX_RBBM_GPR0_CTL, 0);
    this.write(F.A3XX_RBBM_PERFCTR_CTL, 0x1);
    this.write(F.A3XX_RBBM_INT_0_MASK, F.A3XX_INT0_MASK);
    this.adrenoHwInit();
    this.curCtxSeqno = 0;
    // the ring, with no read-pointer shadow (the driver reads CP_RB_RPTR)
    this.write(F.AXXX_CP_RB_CNTL, (MSM_GPU_RB_CNTL_DEFAULT | R.AXXX_CP_RB_CNTL_NO_UPDATE) >>> 0);
    this.write(F.AXXX_CP_RB_BASE, this.rings[0]!.iova % 2 ** 32);
    this.protectRegisters();
    this.write(F.AXXX_CP_DEBUG, (F.AXXX_CP_DEBUG_DYNAMIC_CLK_DISABLE | F.AXXX_CP_DEBUG_MIU_128BIT_WRITE_ENABLE) >>> 0);
    this.write(F.AXXX_CP_ME_RAM_WADDR, 0);
    for (let i = 1; i < this.pm4!.length; i++) this.write(F.AXXX_CP_ME_RAM_DATA, this.pm4![i]!);
    this.write(F.A3XX_CP_PFP_UCODE_ADDR, 0);
    for (let i = 1; i < this.pfp!.length; i++) this.write(F.A3XX_CP_PFP_UCODE_DATA, this.pfp![i]!);
    if (this.is(305, 307, 308, 320)) this.write(F.AXXX_CP_QUEUE_THRESHOLDS, F.AXXX_CP_QUEUE_THRESHOLDS_VALUE(2, 6, 14));
    else if (this.is(330) || this.isA305b) this.write(F.AXXX_CP_QUEUE_THRESHOLDS, 0x003e_2008);
    // the micro engine starts
    this.write(F.AXXX_CP_ME_CNTL, 0);
    const ret = this.meInit();
    this.hwReady = ret === 0;
    return ret;
  }

  /** The VBIF request-queue setup of the a305, a320 and a330 (read and write limits, write requests, arbitration, AOOO). */
  private vbif(inRd0: number, inRd1: number, outRd0: number, outWr0: number, inWr0: number, inWr1: number): void {
    // offsets of the a3xx VBIF block (a3xx.xml)
    this.write(0x302c, inRd0);
    this.write(0x302d, inRd1);
    this.write(F.A3XX_VBIF_OUT_RD_LIM_CONF0, outRd0);
    this.write(F.A3XX_VBIF_OUT_WR_LIM_CONF0, outWr0);
    this.write(0x3030, inWr0);
    this.write(0x3031, inWr1);
  }

  /** CP_PROTECT_CTRL and the 13 protected ranges a3xx_hw_init sets (RBBM, CP, RB, VBIF, SMMU). */
  private protectRegisters(): void {
    this.write(F.A3XX_CP_PROTECT_CTRL, 0x7);
    const ranges = [0x6300_0040, 0x6200_0080, 0x6000_00cc, 0x6000_0108, 0x6400_0140, 0x6600_0400, 0x6500_0700, 0x6100_07d8, 0x6200_07e0, 0x6100_1178, 0x6400_1180, 0x6000_3300, 0x6b00_c000];
    ranges.forEach((v, i) => this.write(F.A3XX_CP_PROTECT(i), v));
  }

  /** a3xx_me_init: CP_ME_INIT with the 17 words msm gives the a3xx micro engine, then wait for idle. */
  protected meInit(): number {
    const ring = this.rings[0]!;
    const words = [0x3f7, 0, 0, 0, 0x80, 0x100, 0x180, 0x6600, 0x150, 0x14e, 0x154, 0x1, 0, 0, 0, 0, 0];
    const r = this.pkt3(ring, R.CP_ME_INIT, ...words);
    if (r < 0) return r;
    this.flush(ring);
    return this.idle(ring) ? 0 : -EINVAL;
  }

  // ------------------------------------------------------------------ ring

  /** a3xx_get_rptr: the CP's read pointer register (no shadow). */
  override rptr(ring: MsmRingbuffer): number {
    return this.read(this.G.rbRptr) % RB_DWORDS;
  }

  /** adreno_flush with the a3xx write-pointer register. */
  protected override flush(ring: MsmRingbuffer): void {
    ring.cur = ring.next;
    this.write(this.G.rbWptr, ring.cur % RB_DWORDS);
  }

  override poke(): void {
    if (this.regs?.mapped) this.read(this.G.rbRptr);
  }

  /** a3xx_idle: the ring drained (adreno_idle), then RBBM_STATUS.GPU_BUSY clear. */
  override idle(ring: MsmRingbuffer): boolean {
    const wptr = ring.cur % RB_DWORDS;
    if (readxPollTimeout(this.kernel, () => this.rptr(ring), (v) => v === wptr, 10, ADRENO_IDLE_TIMEOUT_US) < 0) {
      this.kernel.log.err('', `[drm:adreno_idle] *ERROR* ${this.name}: timeout waiting to drain ringbuffer ${ring.id} rptr/wptr = ${this.rptr(ring).toString(16).toUpperCase()}/${wptr.toString(16).toUpperCase()}`);
      return false;
    }
    // GPU_BUSY is bit 31 of RBBM_STATUS on a3xx and a4xx alike
    if (readxPollTimeout(this.kernel, () => this.read(this.G.rbbmStatus) & F.A3XX_RBBM_STATUS_GPU_BUSY, (v) => v === 0, 10, ADRENO_IDLE_TIMEOUT_US) < 0) {
      this.kernel.log.err('', `[drm:${this.idleFn}] *ERROR* ${this.name}: timeout waiting for GPU to idle!`);
      return false;
    }
    return true;
  }

  protected pkt3(ring: MsmRingbuffer, opcode: number, ...payload: number[]): number {
    const r = this.waitRing(ring, payload.length + 1);
    if (r < 0) return r;
    this.outRing(ring, F.pkt3(opcode, payload.length));
    for (const v of payload) this.outRing(ring, v >>> 0);
    return 0;
  }

  // ------------------------------------------------------------------ submit

  /**
   * a3xx_submit: one CP_INDIRECT_BUFFER_PFD (32-bit address, size) and a type-2 filler per
   * command buffer that runs, the sequence number in CP_SCRATCH_REG2 (type 0), HLSQ_FLUSH,
   * CP_WAIT_FOR_IDLE, and CACHE_FLUSH_TS writing the fence with the interrupt.
   */
  protected override emitSubmit(ring: MsmRingbuffer, submit: MsmGemSubmit): number {
    let r: number;
    for (const cmd of submit.cmds) {
      if (cmd.type === MSM_SUBMIT_CMD_IB_TARGET_BUF) continue;
      if (cmd.type === MSM_SUBMIT_CMD_CTX_RESTORE_BUF && this.curCtxSeqno === submit.ctx.seqno) continue;
      r = this.pkt3(ring, this.ibOpcode, cmd.iova % 2 ** 32, cmd.dwords);
      if (r < 0) return r;
      r = this.waitRing(ring, 1);
      if (r < 0) return r;
      this.outRing(ring, F.CP_TYPE2_PKT);
    }
    r = this.waitRing(ring, 2);
    if (r < 0) return r;
    this.outRing(ring, F.pkt0(F.AXXX_CP_SCRATCH_REG(2), 1));
    this.outRing(ring, submit.seqno);
    r = this.pkt3(ring, R.CP_EVENT_WRITE, F.HLSQ_FLUSH);
    if (r === 0) r = this.pkt3(ring, R.CP_WAIT_FOR_IDLE, 0);
    if (r === 0) r = this.pkt3(ring, R.CP_EVENT_WRITE, (R.CACHE_FLUSH_TS | R.CP_EVENT_WRITE_0_IRQ) >>> 0, (ring.memptrsIova + MEMPTRS_FENCE) % 2 ** 32, submit.seqno);
    if (r < 0) return r;
    this.curCtxSeqno = submit.ctx.seqno;
    return 0;
  }

  // ------------------------------------------------------------------ interrupts

  /** a3xx_irq: the status read and cleared as a whole, then retirement (a3xx decodes nothing). */
  protected override irqHandler(): void {
    if (!this.regs?.mapped) return;
    this.stats.irqs++;
    const status = this.read(this.G.int0Status);
    this.reportIrq(status);
    this.write(this.G.intClear, status);
    this.retire();
  }

  /** What the family's handler reports before clearing: nothing on a3xx. */
  protected reportIrq(_status: number): void {
    // a3xx_irq decodes nothing
  }

  // ------------------------------------------------------------------ recovery and teardown

  protected override scratchReg(n: number): number {
    return F.AXXX_CP_SCRATCH_REG(n);
  }

  /** a3xx_recover's register part: the scratch registers printed, a software reset (written, read back, released). */
  protected override recoverHw(): void {
    for (let i = 0; i < 8; i++) this.kernel.log.info('', `CP_SCRATCH_REG${i}: ${this.read(F.AXXX_CP_SCRATCH_REG(i))}`);
    this.write(this.G.swReset, 1);
    this.read(this.G.swReset);
    this.write(this.G.swReset, 0);
  }

  /** Interrupts masked and the micro engine halted: the teardown's register part. */
  protected override haltHw(): void {
    this.write(this.G.int0Mask, 0);
    this.write(this.G.meCntl, 1 << 28);
  }

  /** a3xx has no get_timestamp: MSM_PARAM_TIMESTAMP answers -EINVAL. */
  override timestamp(): number {
    return -EINVAL;
  }
}

/**
 * The a4xx GPU as msm drives it (struct a4xx_gpu): a3xx's ring, submit (with
 * CP_INDIRECT_BUFFER_PFE), idle and recovery over the a4xx register places; the a4xx hardware
 * init (the part's VBIF setup, RBBM, the hang detector, the always-count CP counter, UCHE trap
 * base, CP_DEBUG, SP register-file sleep, the 12 CP_PROTECT ranges, the interrupt mask, the
 * ring, the microcode, the micro engine's release, CP_ME_INIT); an interrupt handler that
 * reports register-protection faults as Linux prints them; the timestamp from RBBM_PERFCTR_CP_0.
 *
 * Left out: the per-block clock-gating table of a4xx_enable_hwcg (the model has no clocks), the
 * a430's SP/TP power switch (RBBM_POWER_CNTL_IP: no a430 in the arm64 trees), the a420's
 * OCMEM (RB_GMEM_BASE_ADDR is written 0, as Linux does with no OCMEM).
 */
export class A4xxGpu extends A3xxGpu {
  protected override readonly G = {
    rbbmStatus: F.A4XX_RBBM_STATUS,
    int0Status: F.A4XX_RBBM_INT_0_STATUS,
    intClear: F.A4XX_RBBM_INT_CLEAR_CMD,
    int0Mask: F.A4XX_RBBM_INT_0_MASK,
    swReset: F.A4XX_RBBM_SW_RESET_CMD,
    rbRptr: F.A4XX_CP_RB_RPTR,
    rbWptr: F.A4XX_CP_RB_WPTR,
    meCntl: F.A4XX_CP_ME_CNTL,
  };
  protected override ibOpcode = R.CP_INDIRECT_BUFFER_PFE;
  protected override idleFn = 'a4xx_idle';

  /** a4xx_hw_init: 0 or -errno. */
  override hwInit(): number {
    this.hwReady = false;
    if (this.is(405)) {
      this.write(F.A4XX_VBIF_ROUND_ROBIN_QOS_ARB, 0x3);
    } else {
      // a420 (sort settings first) and a430
      if (this.is(420)) {
        this.write(F.A4XX_VBIF_ABIT_SORT, 0x0001_001f);
        this.write(F.A4XX_VBIF_ABIT_SORT_CONF, 0xa4);
      }
      this.write(F.A4XX_VBIF_GATE_OFF_WRREQ_EN, 0x1);
      this.write(F.A4XX_VBIF_IN_RD_LIM_CONF0, 0x1818_1818);
      this.write(F.A4XX_VBIF_IN_RD_LIM_CONF1, 0x18);
      this.write(F.A4XX_VBIF_IN_WR_LIM_CONF0, 0x1818_1818);
      this.write(F.A4XX_VBIF_IN_WR_LIM_CONF1, 0x18);
      this.write(F.A4XX_VBIF_ROUND_ROBIN_QOS_ARB, 0x3);
    }
    this.write(F.A4XX_RBBM_GPU_BUSY_MASKED, 0xffff_ffff);
    this.write(F.A4XX_RBBM_SP_HYST_CNT, 0x10);
    this.write(F.A4XX_RBBM_WAIT_IDLE_CLOCKS_CTL, 0x10);
    if (this.is(430)) this.write(F.A4XX_RBBM_WAIT_IDLE_CLOCKS_CTL2, 0x30);
    this.write(F.A4XX_RBBM_AHB_CTL0, 0x1);
    this.write(F.A4XX_RBBM_AHB_CTL1, 0xa6ff_ffff);
    this.write(F.A4XX_RBBM_RBBM_CTL, 0x30);
    this.write(F.A4XX_RBBM_INTERFACE_HANG_INT_CTL, ((1 << 30) | 0xffff) >>> 0);
    this.write(F.A4XX_RB_GMEM_BASE_ADDR, 0);
    this.write(F.A4XX_RBBM_PERFCTR_CTL, 0x1);
    this.write(F.A4XX_CP_PERFCTR_CP_SEL_0, 0); // CP_ALWAYS_COUNT
    if (this.is(430)) this.write(F.A4XX_UCHE_CACHE_WAYS_VFD, 0x7);
    this.write(F.A4XX_UCHE_TRAP_BASE_LO, 0xffff_0000);
    this.write(F.A4XX_UCHE_TRAP_BASE_HI, 0xffff_0000);
    this.write(F.A4XX_CP_DEBUG, ((1 << 25) | (this.is(420) ? 1 << 29 : 0)) >>> 0);
    if (!this.is(420)) {
      this.write(F.A4XX_RBBM_SP_REGFILE_SLEEP_CNTL_0, 0x441);
      this.write(F.A4XX_RBBM_SP_REGFILE_SLEEP_CNTL_1, 0x441);
    }
    this.write(F.A4XX_CP_PROTECT_CTRL, 0x7);
    const ranges = [0x6200_0010, 0x6300_0020, 0x6400_0040, 0x6500_0080, 0x6600_0100, 0x6400_0200, 0x6700_0800, 0x6400_1600, 0x6000_3300, 0x6000_3800, 0x6100_3980, 0x6e01_0000];
    ranges.forEach((v, i) => this.write(F.A4XX_CP_PROTECT(i), v));
    this.write(F.A4XX_RBBM_INT_0_MASK, F.A4XX_INT0_MASK);
    this.adrenoHwInit();
    this.curCtxSeqno = 0;
    this.write(F.A4XX_CP_RB_CNTL, (MSM_GPU_RB_CNTL_DEFAULT | R.AXXX_CP_RB_CNTL_NO_UPDATE) >>> 0);
    this.write(F.A4XX_CP_RB_BASE, this.rings[0]!.iova % 2 ** 32);
    this.write(F.A4XX_CP_ME_RAM_WADDR, 0);
    for (let i = 1; i < this.pm4!.length; i++) this.write(F.A4XX_CP_ME_RAM_DATA, this.pm4![i]!);
    this.write(F.A4XX_CP_PFP_UCODE_ADDR, 0);
    for (let i = 1; i < this.pfp!.length; i++) this.write(F.A4XX_CP_PFP_UCODE_DATA, this.pfp![i]!);
    this.write(F.A4XX_CP_ME_CNTL, 0);
    const ret = this.meInit();
    this.hwReady = ret === 0;
    return ret;
  }

  /** a4xx_irq: a register-protection fault is printed (the register, not its byte address). */
  protected override reportIrq(status: number): void {
    if (status & F.A4XX_INT0_CP_REG_PROTECT_FAULT) {
      const reg = this.read(F.A4XX_CP_PROTECT_STATUS);
      this.kernel.log.info('', `CP | Protected mode error| ${reg & (1 << 24) ? 'WRITE' : 'READ'} | addr=${((reg & 0xfffff) >>> 2).toString(16)}`);
    }
  }

  /** a4xx_get_timestamp: RBBM_PERFCTR_CP_0, which hw_init set to count always. */
  override timestamp(): number {
    return this.read64(F.A4XX_RBBM_PERFCTR_CP_0_LO);
  }
}
