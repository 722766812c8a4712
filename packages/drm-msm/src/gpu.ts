import { EINVAL, ENODEV, IOMMU_FAULT_WRITE, NSEC_PER_MSEC, ktimeGetNs, readxPollTimeout, requestIrq } from '@gki/kernel';
import type { AdrenoSmmuFaultInfo, Device, IoMem, Kernel } from '@gki/kernel';
import { MsmGemAddressSpace, msmGemCloseVma, msmGemInitVma, msmGemMapVma, msmGemUnmapVma } from './aspace.js';
import { adrenoGmemBase, adrenoGmuIsLegacy, adrenoGpuName, adrenoIsA7xx, chipIdString, type AdrenoInfo } from './catalog.js';
import type { MsmContext, MsmGemSubmit } from './context.js';
import { MsmFence, MsmGemObject } from './gem.js';
import { A6xxGmu } from './gmu.js';
import { MsmIommu, MsmIommuPagetable, PAGE_SIZE, hex64, iommuToGpuIova, type MsmMmuDebug } from './mmu.js';
import * as R from './regs.js';
import { MSM_BO_GPU_READONLY, MSM_BO_WC, MSM_SUBMIT_CMD_CTX_RESTORE_BUF, MSM_SUBMIT_CMD_IB_TARGET_BUF } from './uapi.js';

/** Ringbuffer size (MSM_GPU_RINGBUFFER_SZ) and the CP fetch block size. */
export const MSM_GPU_RINGBUFFER_SZ = 0x8000;
export const RB_DWORDS = MSM_GPU_RINGBUFFER_SZ / 4;
const MSM_GPU_RINGBUFFER_BLKSIZE = 32;
/** CP_RB_CNTL: ring and block sizes as log2 of quadwords. */
export const MSM_GPU_RB_CNTL_DEFAULT = (R.AXXX_CP_RB_CNTL_BUFSZ(Math.log2(MSM_GPU_RINGBUFFER_SZ / 8)) | R.AXXX_CP_RB_CNTL_BLKSZ(Math.log2(MSM_GPU_RINGBUFFER_BLKSIZE / 8))) >>> 0;

/**
 * The ring's memptrs (struct msm_rbmemptrs), written by the CP: rptr, the completed fence, the
 * fence the a7xx BV thread writes (bv_fence), per-submit statistics (64 slots of 4 x u64: CP
 * cycles and always-on ticks at start/end, 8-byte aligned), and the TTBR0 the CP switched to
 * last (for debugging and crash dumps).
 */
export const MEMPTRS_RPTR = 0;
export const MEMPTRS_FENCE = 4;
export const MEMPTRS_BV_FENCE = 8;
export const MEMPTRS_STATS = 16;
const MSM_GPU_SUBMIT_STATS_COUNT = 64;
const STATS_SIZE = 32;
export const MEMPTRS_TTBR0 = MEMPTRS_STATS + MSM_GPU_SUBMIT_STATS_COUNT * STATS_SIZE;
const MEMPTRS_SIZE = MEMPTRS_TTBR0 + 8;

/** drm/msm's hang check period and how long the idle waits spin (ADRENO_IDLE_TIMEOUT). */
export const DRM_MSM_HANGCHECK_PERIOD_MS = 500;
export const ADRENO_IDLE_TIMEOUT_US = 1_000_000;
/** The global address space starts at 16 MiB or at the aperture, whichever is higher. */
const SZ_16M = 0x100_0000;
const TWO49 = 2 ** 49;
/** The start of every process's private address space (a6xx_create_private_address_space). */
export const MSM_PRIVATE_VA_START = 2 ** 32;
export const SZ_4G = 2 ** 32;

/** What the GPU side needs from the DRM device (deferred work, logging, knobs). */
export interface MsmGpuHost {
  readonly kernel: Kernel;
  readonly dev: Device;
  readonly debug: MsmDebug;
  queueWork(fn: () => void): void;
}

/** Driver debugging knobs (fault injection). */
export interface MsmDebug extends MsmMmuDebug {
  /** Do not emit the TTBR0 switch for the next N submits that need one (a driver bug, for tests). */
  skipTtbrSwitches: number;
}

/** One GPU fault as the fault handler saw it; plain data. */
export interface MsmFaultRecord {
  /** The IOVA as the IOMMU core reports it (negative for the upper half). */
  readonly iova: number;
  readonly write: boolean;
  readonly type: string;
  readonly source: string;
  readonly ttbr0: bigint;
  readonly fsr: number;
  /** The faulting process, once the fault worker matched the fault to a submit. */
  comm: string | null;
  pid: number;
  /** Fence id of the faulting submit in its queue (0: none found). */
  fenceId: number;
  readonly t: number;
}

/** A captured crash state (what a devcoredump would hold). */
export interface MsmCrashState {
  readonly reason: 'fault' | 'hang';
  readonly comm: string | null;
  readonly cmdline: string | null;
  readonly pid: number;
  readonly fault: { iova: number; write: boolean; type: string; source: string; ttbr0: bigint } | null;
  /** TTBR0 of the submit's page table, and the page-table entries the faulting IOVA walks through. */
  readonly pgtableTtbr0: bigint | null;
  readonly bos: readonly { iova: number; size: number; name: string }[];
  readonly rbRptr: number;
  readonly rbWptr: number;
  readonly fence: number;
}

/** Counters; plain data. */
export interface MsmGpuStats {
  submits: number;
  /** CP_SMMU_TABLE_UPDATE packets emitted. */
  ttbrSwitches: number;
  retired: number;
  irqs: number;
  faults: number;
  hangs: number;
  recoveries: number;
  ringWaits: number;
}

/** A kernel-owned buffer in the global address space (msm_gem_kernel_new). */
interface KernelBo {
  obj: MsmGemObject;
  iova: number;
}

/** One ring (struct msm_ringbuffer) and its fence context. */
export class MsmRingbuffer {
  /** Dword positions: `next` is where the next dword goes, `cur` what the CP was told (WPTR). */
  next = 0;
  cur = 0;
  /** Last sequence number handed out (fctx->last_fence) and the last seen completed. */
  seqno = 0;
  completedFence = 0;
  /** Submits on the hardware, oldest first. */
  readonly submits: MsmGemSubmit[] = [];
  /** Submits waiting for ring space, in scheduling order. */
  readonly pending: MsmGemSubmit[] = [];
  hangcheckFence = 0;

  constructor(
    readonly id: number,
    readonly bo: MsmGemObject,
    readonly iova: number,
    readonly memptrs: MsmGemObject,
    readonly memptrsOffset: number,
    readonly memptrsIova: number,
  ) {}

  get name(): string {
    return `gpu-ring-${this.id}`;
  }
}

/** pr_warn_ratelimited: at most 10 messages in 5 s (the kernel's default ratelimit). */
class RateLimit {
  private start = -Infinity;
  private n = 0;
  constructor(private readonly kernel: Kernel) {}
  allow(): boolean {
    const now = ktimeGetNs(this.kernel);
    if (now - this.start >= 5e9) {
      this.start = now;
      this.n = 0;
    }
    return this.n++ < 10;
  }
}

/** (int32)(a - b) >= 0: sequence number a is at or after b (fence_after_eq). */
function fenceAfterEq(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}

/**
 * The a6xx GPU as msm drives it (struct a6xx_gpu with adreno_gpu and msm_gpu): its register
 * window and interrupt, the GMU, the global address space on the GPU's SMMU domain, the
 * ringbuffer with its memptrs, the command-stream emission of a submit (the TTBR0 switch for
 * the submitting process's page table, the IBs, the fence), retirement on the CACHE_FLUSH_TS
 * interrupt, SMMU fault reports with stall and resume, and hang detection and recovery.
 * A5xxGpu (a5xx.ts) builds on it: the ring, fences, retirement, fault worker, hang check and
 * recovery are msm_gpu/adreno_gpu code shared by every generation; the hooks it overrides
 * (init, hwInit, emitSubmit, irqHandler, idle, rptr/flush, scratchReg, faultSource,
 * recoverHw, haltHw, perProcessPagetables) are the generation's own.
 */
export class A6xxGpu {
  readonly kernel: Kernel;
  readonly dev: Device;
  regs!: IoMem;
  gmu!: A6xxGmu;
  mmu!: MsmIommu;
  /** The global address space (gpu->aspace): kernel buffers in the TTBR1 half. */
  aspace!: MsmGemAddressSpace;
  readonly rings: MsmRingbuffer[] = [];
  readonly nrRings = 1;
  /** Sequence number of the context whose page table TTBR0 holds now (0: unknown). */
  curCtxSeqno = 0;
  /** Faults not blamed on any context (MSM_PARAM_FAULTS adds the context's own). */
  globalFaults = 0;
  crashstate: MsmCrashState | null = null;
  readonly faults: MsmFaultRecord[] = [];
  readonly stats: MsmGpuStats = { submits: 0, ttbrSwitches: 0, retired: 0, irqs: 0, faults: 0, hangs: 0, recoveries: 0, ringWaits: 0 };
  irq = -1;
  /** Board time of the next hang check (Infinity: timer off). */
  hangcheckAt = Number.POSITIVE_INFINITY;
  protected readonly kernelBos: KernelBo[] = [];
  protected memptrs: KernelBo | null = null;
  protected sqe: KernelBo | null = null;
  /** The CP's read-pointer shadow (a7xx: hardware APRIV lets the CP write it), one word per ring. */
  protected shadow: KernelBo | null = null;
  /** An a7xx part (a730, a740, a750): the a7xx init, submit and interrupt paths. */
  readonly a7xx: boolean;
  protected readonly rl: RateLimit;
  protected initialised = false;
  protected hwReady = false;

  constructor(
    readonly host: MsmGpuHost,
    readonly info: AdrenoInfo,
    readonly chipId: number,
  ) {
    this.kernel = host.kernel;
    this.dev = host.dev;
    this.rl = new RateLimit(host.kernel);
    this.a7xx = adrenoIsA7xx(info);
  }

  /** "a630": the name msm gives the GPU in its messages ("a635" for a part listed by chip id). */
  get name(): string {
    return adrenoGpuName(this.info, this.chipId);
  }

  get ready(): boolean {
    return this.hwReady;
  }

  // ------------------------------------------------------------------ registers

  read(reg: number): number {
    return this.regs.read32(reg * 4) >>> 0;
  }

  write(reg: number, v: number): void {
    this.regs.write32(reg * 4, v >>> 0);
  }

  /** gpu_write64: LO then HI. */
  write64(reg: number, v: number): void {
    this.write(reg, v % 2 ** 32);
    this.write(reg + 1, Math.floor(v / 2 ** 32));
  }

  read64(reg: number): number {
    const lo = this.read(reg);
    const hi = this.read(reg + 1);
    return hi * 2 ** 32 + lo;
  }

  // ------------------------------------------------------------------ init

  /**
   * The part of adreno_gpu_init every family shares: map the `kgsl_3d0_reg_memory` registers
   * (or the first `reg`) and request the GPU's interrupt. 0, or -errno with a Linux-like message.
   */
  protected mapRegsAndIrq(): number {
    const dev = this.dev;
    const regs = dev.resourceByName('mem', 'kgsl_3d0_reg_memory') ? dev.ioremapByName('kgsl_3d0_reg_memory') : dev.ioremap(0);
    if (typeof regs === 'number') {
      dev.err('failed to ioremap kgsl_3d0_reg_memory');
      return regs;
    }
    this.regs = regs;
    const irq = dev.irq(0);
    if (irq < 0) return irq;
    const r = requestIrq(dev, irq, () => this.irqHandler());
    if (r < 0) {
      dev.err(`failed to request IRQ${irq}: ${r}`);
      return r;
    }
    this.irq = irq;
    return 0;
  }

  /**
   * a6xx_gpu_init + adreno_gpu_init + msm_gpu_init: registers and interrupt, the GMU, the
   * GPU's SMMU domain and the global address space in it, the ringbuffer and memptrs, the
   * (placeholder) SQE firmware buffer. -errno with everything undone on failure.
   */
  init(): number {
    const dev = this.dev;
    let r = this.mapRegsAndIrq();
    if (r < 0) return r;
    // a6xx_gmu_init, or a6xx_gmu_wrapper_init when `qcom,gmu` names a GMU wrapper; the a630
    // family (a615, a618, a619, a630) runs the legacy GMU firmware
    const gmu = A6xxGmu.init(this.kernel, dev, adrenoGmuIsLegacy(this.info));
    if (typeof gmu === 'number') return gmu;
    if (this.info.gmuWrapperOnly && !gmu.wrapper) {
      // no GMU firmware is listed for the part: the GMU could never be booted
      dev.err(`${this.name}: no GMU firmware for this GPU (its qcom,gmu must be a qcom,adreno-gmu-wrapper)`);
      gmu.teardown();
      return -ENODEV;
    }
    this.gmu = gmu;
    r = this.createAddressSpace();
    if (r < 0) {
      gmu.teardown();
      return r;
    }
    r = this.createRings();
    if (r === 0) r = this.ucodeLoad();
    if (r < 0) {
      this.fini();
      return r;
    }
    this.initialised = true;
    return 0;
  }

  /**
   * adreno_gpu_init for the families without a GMU (a3xx, a4xx, a5xx): registers and interrupt,
   * the GPU's domain and address space, the ringbuffer, the microcode. -errno with everything
   * undone on failure.
   */
  protected initWithoutGmu(): number {
    let r = this.mapRegsAndIrq();
    if (r < 0) return r;
    r = this.createAddressSpace();
    if (r < 0) return r;
    r = this.createRings();
    if (r === 0) r = this.ucodeLoad();
    if (r < 0) {
      this.fini();
      return r;
    }
    this.initialised = true;
    return 0;
  }

  /** Whether this part is one of the catalog revisions `revns` (adreno_is_aNNN). */
  protected is(...revns: number[]): boolean {
    return revns.includes(this.info.revn);
  }

  /**
   * adreno_iommu_create_address_space: the GPU's paging domain and the "gpu" address space over
   * its aperture: from 16 MiB or the aperture start, whichever is higher (masked to 49 bits, the
   * GPU's address width), to the aperture end. With split tables that is the TTBR1 half.
   */
  protected createAddressSpace(): number {
    const mmu = MsmIommu.createGpu(this.kernel, this.dev, this.host.debug);
    if (typeof mmu === 'number') {
      if (mmu !== -ENODEV) {
        this.dev.err(`could not create address space: ${mmu}`);
        return mmu;
      }
      // msm_gpu_init (which names the GPU by its chip id): a GPU not behind an IOMMU gets no
      // address space (msm's VRAM carveout)
      this.dev.info(`${this.chipIdString}: no IOMMU, fallback to VRAM carveout!`);
      return this.withoutIommu();
    }
    const geo = mmu.geometry;
    const start = Math.max(SZ_16M, iommuToGpuIova(geo.apertureStart)) % TWO49;
    const size = iommuToGpuIova(geo.apertureEnd) - start + 1;
    this.mmu = mmu;
    this.aspace = new MsmGemAddressSpace(this.kernel, 'gpu', mmu, start, size);
    if (this.installsFaultHandler) mmu.handler = (iova, flags, info) => this.faultHandler(iova, flags, info);
    return 0;
  }

  /**
   * The GPU has no IOMMU. Linux's a5xx..a7xx go on with their buffers in msm's physically
   * contiguous VRAM carveout; this model has no carveout, so the GPU is not set up (-ENODEV).
   * a3xx/a4xx override this with Linux's own refusal.
   */
  protected withoutIommu(): number {
    this.dev.err('No memory protection without IOMMU (msm\'s VRAM carveout is not modelled)');
    return -ENODEV;
  }

  /**
   * Whether the family installs its fault handler on the GPU's MMU (msm_mmu_set_fault_handler:
   * a5xx and later); without one msm's IOMMU fault callback only logs the fault.
   */
  protected get installsFaultHandler(): boolean {
    return true;
  }

  /** msm_gem_kernel_new: a pinned buffer in the global address space. */
  kernelBoNew(size: number, flags: number, name: string): KernelBo | number {
    const obj = new MsmGemObject(this.kernel, 0, Math.ceil(size / PAGE_SIZE) * PAGE_SIZE, flags);
    obj.name = name;
    let r = obj.getPages();
    if (r < 0) return r;
    const vma = obj.vmaFor(this.aspace);
    r = msmGemInitVma(vma, obj.size, this.aspace.vaStart, this.aspace.vaStart + this.aspace.vaSize);
    if (r === 0) r = msmGemMapVma(vma, obj.prot, obj.runs, obj.size);
    if (r < 0) {
      msmGemCloseVma(vma);
      obj.freePages();
      return r;
    }
    const bo = { obj, iova: vma.iova };
    this.kernelBos.push(bo);
    return bo;
  }

  protected kernelBoFree(bo: KernelBo): void {
    const vma = bo.obj.vmaIn(this.aspace);
    if (vma) msmGemUnmapVma(vma);
    bo.obj.release();
    const i = this.kernelBos.indexOf(bo);
    if (i >= 0) this.kernelBos.splice(i, 1);
  }

  /** msm_ringbuffer_new for each ring, with the shared memptrs buffer. */
  protected createRings(): number {
    const mp = this.kernelBoNew(MEMPTRS_SIZE * this.nrRings, MSM_BO_WC, 'memptrs');
    if (typeof mp === 'number') return mp;
    this.memptrs = mp;
    for (let i = 0; i < this.nrRings; i++) {
      const rb = this.kernelBoNew(MSM_GPU_RINGBUFFER_SZ, MSM_BO_WC | MSM_BO_GPU_READONLY, `ring${i}`);
      if (typeof rb === 'number') return rb;
      this.rings.push(new MsmRingbuffer(i, rb.obj, rb.iova, mp.obj, i * MEMPTRS_SIZE, mp.iova + i * MEMPTRS_SIZE));
    }
    return 0;
  }

  /**
   * a6xx_ucode_load: the SQE microcode goes into a read-only kernel buffer whose address the CP
   * is given. The model has no microcode to run and firmware files are not modelled: the buffer
   * holds a header with the version word the a630 check wants (0x190: WHERE_AM_I support not
   * used here) and nothing else.
   */
  protected ucodeLoad(): number {
    const sqe = this.kernelBoNew(PAGE_SIZE, MSM_BO_WC | MSM_BO_GPU_READONLY, 'sqefw');
    if (typeof sqe === 'number') return sqe;
    this.sqe = sqe;
    this.kernel.mem.write32(sqe.obj.physAt(0), 0x190);
    // parts with hardware APRIV (every a7xx) let the CP write its read pointer to memory
    if (this.a7xx) {
      const shadow = this.kernelBoNew(4 * this.nrRings, MSM_BO_WC, 'shadow');
      if (typeof shadow === 'number') return shadow;
      this.shadow = shadow;
    }
    return 0;
  }

  // ------------------------------------------------------------------ hardware init

  /**
   * The GMU cold boot, then a6xx_hw_init under the GPU_SET out-of-band request: secure
   * regions off, 64-bit addressing, the counters, the interrupt mask, the SQE and ringbuffer
   * addresses, the SQE start and CP_ME_INIT, the switch out of secure mode. 0 or -errno.
   */
  hwInit(): number {
    const wrapper = this.gmu.wrapper;
    if (!this.gmu.isStarted) {
      const r = this.gmu.start(this.chipId, { a7xx: this.a7xx, gmuChipId: this.info.gmuChipId });
      if (r < 0) return r;
    }
    // a GMU wrapper has nobody to ask: the GPU's power is the CPU's business
    if (!wrapper) this.gmu.setOob(R.GMU_OOB.GPU_SET);
    let ret = 0;
    try {
      this.write(R.A6XX_RBBM_SECVID_TSB_CNTL, 0);
      this.write64(R.A6XX_RBBM_SECVID_TSB_TRUSTED_BASE, 0);
      this.write(R.A6XX_RBBM_SECVID_TSB_TRUSTED_SIZE, 0);
      if (!this.a7xx) {
        // 64-bit addressing is the only mode on a7xx; a6xx turns it on block by block
        this.write(R.A6XX_CP_ADDR_MODE_CNTL, 1);
        this.write(R.A6XX_VSC_ADDR_MODE_CNTL, 1);
        this.write(R.A6XX_RBBM_SECVID_TSB_ADDR_MODE_CNTL, 1);
        this.write(R.A6XX_RBBM_VBIF_CLIENT_QOS_CNTL, 0x3);
      } else {
        this.write(R.A6XX_RBBM_GBIF_CLIENT_QOS_CNTL, 0x0212_0212);
        this.write(R.A6XX_UCHE_GBIF_GX_CONFIG, 0x0102_40e0);
      }
      this.write(R.A6XX_RBBM_PERFCTR_GPU_BUSY_MASKED, 0xffff_ffff);
      this.write(R.A6XX_CP_AHB_CNTL, 0x1);
      this.write(R.A6XX_RBBM_PERFCTR_CNTL, 0x1);
      // a7xx: the GMU's IFPC counter (countable 4 on XOCLK4)
      if (this.a7xx) this.gmu.write(R.A6XX_GMU_CX_GMU_POWER_COUNTER_SELECT_1, 0x4);
      this.write(R.A6XX_CP_PERFCTR_CP_SEL(0), 0); // PERF_CP_ALWAYS_COUNT
      // the hang detector: a730 and the a740 family watch more blocks
      this.write(R.A6XX_RBBM_INTERFACE_HANG_INT_CNTL, ((1 << 30) | (this.a7xx ? 0xcf_ffff : 0x1f_ffff)) >>> 0);
      this.write(R.A6XX_UCHE_CLIENT_PF, this.a7xx ? 0x81 : 1);
      this.gmu.write(R.A6XX_GPU_GMU_AO_GPU_CX_BUSY_MASK, 0xff00_0000);
      this.gmu.rmw(R.A6XX_GMU_CX_GMU_POWER_COUNTER_SELECT_0, 0xff, 1 << 5);
      this.gmu.write(R.A6XX_GMU_CX_GMU_POWER_COUNTER_ENABLE, 1);
      if (this.a7xx) {
        // every a7xx has hardware APRIV: BR with the crash dumper's accesses, BV and LPAC without
        this.write(R.A6XX_CP_APRIV_CNTL, R.A7XX_BR_APRIVMASK);
        this.write(R.A7XX_CP_BV_APRIV_CNTL, R.A7XX_APRIV_MASK);
        this.write(R.A7XX_CP_LPAC_APRIV_CNTL, R.A7XX_APRIV_MASK);
      }
      this.write(R.A6XX_RBBM_INT_0_MASK, this.a7xx ? R.A7XX_INT_MASK : R.A6XX_INT_MASK);
      this.adrenoHwInit();
      this.write64(R.A6XX_CP_SQE_INSTR_BASE, this.sqe!.iova);
      this.write64(R.A6XX_CP_RB_BASE, this.rings[0]!.iova);
      // with hardware APRIV the CP keeps the RPTR shadow itself; the others have it disabled
      if (this.shadow) {
        this.write(R.A6XX_CP_RB_CNTL, MSM_GPU_RB_CNTL_DEFAULT);
        this.write64(R.A6XX_CP_RB_RPTR_ADDR, this.shadow.iova);
        // ...and the BV thread's, pointed at the BV fence as v6.12 does
        this.write64(R.A7XX_CP_BV_RB_RPTR_ADDR, this.rings[0]!.memptrsIova + MEMPTRS_BV_FENCE);
      } else {
        this.write(R.A6XX_CP_RB_CNTL, (MSM_GPU_RB_CNTL_DEFAULT | R.AXXX_CP_RB_CNTL_NO_UPDATE) >>> 0);
      }
      this.curCtxSeqno = 0;
      this.write(R.A6XX_CP_SQE_CNTL, R.A6XX_CP_SQE_CNTL_START);
      ret = this.a7xx ? this.a7xxCpInit() : this.cpInit();
      if (ret === 0) {
        // no zap shader in the model (it needs the secure world): leave secure mode by hand
        this.dev.warn('Zap shader not enabled - using SECVID_TRUST_CNTL instead');
        this.write(R.A6XX_RBBM_SECVID_TRUST_CNTL, 0);
      }
    } finally {
      if (!wrapper) {
        this.gmu.clearOob(R.GMU_OOB.GPU_SET);
        // take a legacy GMU out of its boot state (later ones have no such request)
        if (this.gmu.legacy) this.gmu.clearOob(R.GMU_OOB.BOOT_SLUMBER);
      }
    }
    this.hwReady = ret === 0;
    return ret;
  }

  /**
   * adreno_hw_init: rings back to their start, rptr cleared, the BV fence set to the completed
   * one, and a completed fence beyond the last one handed out (scribbled) put back; fences kept.
   */
  protected adrenoHwInit(): void {
    for (const ring of this.rings) {
      ring.next = 0;
      ring.cur = 0;
      this.memWrite32(ring.memptrs, ring.memptrsOffset + MEMPTRS_RPTR, 0);
      this.memWrite32(ring.memptrs, ring.memptrsOffset + MEMPTRS_BV_FENCE, ring.completedFence);
      const f = this.memRead32(ring.memptrs, ring.memptrsOffset + MEMPTRS_FENCE);
      if (!fenceAfterEq(ring.seqno, f)) this.memWrite32(ring.memptrs, ring.memptrsOffset + MEMPTRS_FENCE, ring.seqno);
      if (this.shadow) this.memWrite32(this.shadow.obj, 4 * ring.id, 0);
    }
  }

  /** a6xx_cp_init: CP_ME_INIT with msm's settings, then wait for the CP to go idle. */
  protected cpInit(): number {
    const ring = this.rings[0]!;
    const r = this.outPkt7(ring, R.CP_ME_INIT, 8);
    if (r < 0) return r;
    for (const v of [0x2f, 0x3, 0x2000_0000, 0, 0, 0, 0, 0]) this.outRing(ring, v);
    this.flush(ring);
    return this.idle(ring) ? 0 : -EINVAL;
  }

  /**
   * a7xx_cp_init: concurrent binning off (CP_THREAD_CONTROL), then a 7-dword CP_ME_INIT (multiple
   * hardware contexts, error detection, default reset state, no perf-counter save/restore, the
   * register init list enabled but none given), then wait for the CP to go idle.
   */
  protected a7xxCpInit(): number {
    const ring = this.rings[0]!;
    let r = this.outPkt7(ring, R.CP_THREAD_CONTROL, 1);
    if (r < 0) return r;
    this.outRing(ring, R.CP_THREAD_CONTROL_0_CONCURRENT_BIN_DISABLE);
    r = this.outPkt7(ring, R.CP_ME_INIT, 7);
    if (r < 0) return r;
    const mask = (1 << 0) | (1 << 1) | (1 << 3) | (1 << 6) | (1 << 8);
    for (const v of [mask, 0x3, 0x2000_0000, 0x2, 0, 0, 0]) this.outRing(ring, v);
    this.flush(ring);
    return this.idle(ring) ? 0 : -EINVAL;
  }

  // ------------------------------------------------------------------ ring

  protected memRead32(obj: MsmGemObject, off: number): number {
    return this.kernel.mem.read32(obj.physAt(off)) >>> 0;
  }

  protected memWrite32(obj: MsmGemObject, off: number, v: number): void {
    this.kernel.mem.write32(obj.physAt(off), v >>> 0);
  }

  /** The completed fence the CP wrote for `ring`. */
  memptrsFence(ring: MsmRingbuffer): number {
    return this.memRead32(ring.memptrs, ring.memptrsOffset + MEMPTRS_FENCE);
  }

  /** The TTBR0 (and ASID) the CP recorded at its last table switch. */
  memptrsTtbr0(ring: MsmRingbuffer): bigint {
    const lo = this.memRead32(ring.memptrs, ring.memptrsOffset + MEMPTRS_TTBR0);
    const hi = this.memRead32(ring.memptrs, ring.memptrsOffset + MEMPTRS_TTBR0 + 4);
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  /** get_rptr: the CP's read pointer, from its shadow where the CP keeps one, else from the register. */
  rptr(ring: MsmRingbuffer): number {
    if (this.shadow) return this.memRead32(this.shadow.obj, 4 * ring.id) % RB_DWORDS;
    return this.read(R.A6XX_CP_RB_RPTR) % RB_DWORDS;
  }

  protected freeWords(ring: MsmRingbuffer): number {
    const rptr = this.rptr(ring);
    return (rptr + (RB_DWORDS - 1) - ring.next) % RB_DWORDS;
  }

  /**
   * adreno_wait_ring: waits (up to the idle timeout) until `dwords` fit between our write
   * position and the CP's read pointer. 0 or -ETIMEDOUT.
   */
  protected waitRing(ring: MsmRingbuffer, dwords: number): number {
    if (this.freeWords(ring) >= dwords) return 0;
    this.stats.ringWaits++;
    const r = readxPollTimeout(this.kernel, () => this.freeWords(ring), (v) => v >= dwords, 1, ADRENO_IDLE_TIMEOUT_US);
    if (r < 0) this.dev.err(`timeout waiting for space in ringbuffer ${ring.id}`);
    return r;
  }

  protected outRing(ring: MsmRingbuffer, v: number): void {
    this.memWrite32(ring.bo, ring.next * 4, v);
    ring.next = (ring.next + 1) % RB_DWORDS;
  }

  protected outPkt7(ring: MsmRingbuffer, opcode: number, cnt: number): number {
    const r = this.waitRing(ring, cnt + 1);
    if (r < 0) return r;
    this.outRing(ring, R.pkt7(opcode, cnt));
    return 0;
  }

  protected outPkt4(ring: MsmRingbuffer, reg: number, cnt: number): number {
    const r = this.waitRing(ring, cnt + 1);
    if (r < 0) return r;
    this.outRing(ring, R.pkt4(reg, cnt));
    return 0;
  }

  /** a6xx_flush: publish what was written (WPTR). */
  protected flush(ring: MsmRingbuffer): void {
    ring.cur = ring.next;
    this.write(R.A6XX_CP_RB_WPTR, ring.cur % RB_DWORDS);
  }

  /**
   * a6xx_idle: the CP drained the ring (rptr == wptr), then the GMU, RBBM_STATUS (but for our
   * own AHB access) and the hang-detect interrupt say idle. Logged when it times out.
   */
  idle(ring: MsmRingbuffer): boolean {
    const wptr = ring.cur % RB_DWORDS;
    if (readxPollTimeout(this.kernel, () => this.rptr(ring), (v) => v === wptr, 10, ADRENO_IDLE_TIMEOUT_US) < 0) {
      this.kernel.log.err('', `[drm:adreno_idle] *ERROR* ${this.name}: timeout waiting to drain ringbuffer ${ring.id} rptr/wptr = ${this.rptr(ring).toString(16).toUpperCase()}/${wptr.toString(16).toUpperCase()}`);
      return false;
    }
    const isIdle = (): boolean =>
      (this.gmu.wrapper || this.gmu.isIdle()) &&
      (this.read(R.A6XX_RBBM_STATUS) & ~R.A6XX_RBBM_STATUS_CP_AHB_BUSY_CX_MASTER) === 0 &&
      (this.read(R.A6XX_RBBM_INT_0_STATUS) & R.A6XX_RBBM_INT_0_MASK_RBBM_HANG_DETECT) === 0;
    if (readxPollTimeout(this.kernel, () => (isIdle() ? 1 : 0), (v) => v === 1, 10, ADRENO_IDLE_TIMEOUT_US) < 0) {
      this.kernel.log.err(
        '',
        `[drm:a6xx_idle] *ERROR* ${this.name}: timeout waiting for GPU to idle: status ${hex8(this.read(R.A6XX_RBBM_STATUS))} irq ${hex8(this.read(R.A6XX_RBBM_INT_0_STATUS))} rptr/wptr ${this.rptr(ring)}/${wptr}`,
      );
      return false;
    }
    return true;
  }

  // ------------------------------------------------------------------ submit

  /** Ring dwords a submit needs at most (switch, stats, invalidates, IBs, fence). */
  static submitDwords(submit: MsmGemSubmit): number {
    return 64 + 4 * submit.cmds.length;
  }

  /** Whether the ring has room for `submit` now (reads the CP's read pointer). */
  hasRoom(submit: MsmGemSubmit): boolean {
    return this.freeWords(this.rings[submit.ringNr]!) >= A6xxGpu.submitDwords(submit);
  }

  /**
   * msm_gpu_submit: the submit gets the next sequence number of its ring (its hardware fence),
   * joins the ring's active list, its commands are written (a6xx_submit), and the context's
   * page table becomes the current one. 0 or -errno (ring space never came).
   */
  submit(submit: MsmGemSubmit): number {
    const ring = this.rings[submit.ringNr]!;
    const start = ring.next;
    const seqno = ring.seqno + 1;
    submit.seqno = seqno;
    const r = this.emitSubmit(ring, submit);
    if (r < 0) {
      ring.next = start;
      return r;
    }
    ring.seqno = seqno;
    submit.hwFence = new MsmFence(ring.name, seqno);
    submit.submittedAt = ktimeGetNs(this.kernel);
    ring.submits.push(submit);
    this.stats.submits++;
    if (this.hangcheckAt === Number.POSITIVE_INFINITY) this.hangcheckAt = ktimeGetNs(this.kernel) + DRM_MSM_HANGCHECK_PERIOD_MS * NSEC_PER_MSEC;
    this.flush(ring);
    return 0;
  }

  /**
   * a6xx_set_pagetable: when the submitting context is not the one whose table TTBR0 holds and
   * it has a page table of its own, CP_SMMU_TABLE_UPDATE (TTBR0 with the ASID, CONTEXTIDR 0,
   * context bank 0: the CP reprograms the SMMU itself), a CP_MEM_WRITE of the new TTBR0 to the
   * memptrs, and a cache invalidate so that nothing of the previous process lingers.
   */
  protected setPagetable(ring: MsmRingbuffer, ctx: MsmContext): number {
    if (ctx.seqno === this.curCtxSeqno) return 0;
    const mmu = ctx.aspace.mmu;
    if (!(mmu instanceof MsmIommuPagetable)) return 0;
    if (this.host.debug.skipTtbrSwitches > 0) {
      this.host.debug.skipTtbrSwitches--;
      return 0;
    }
    const ttbr = BigInt.asUintN(64, mmu.ttbr);
    const lo = Number(ttbr & 0xffff_ffffn);
    const hi = Number(ttbr >> 32n);
    const asid = mmu.asid;
    let r: number;
    // a7xx (BR selected by the caller): the SRAM clear starts first (no protected-mode toggle:
    // a7xx needs none), both threads sync after the memptrs write with BR alone going on, and
    // the switch ends waiting for the SRAM clear.
    if (this.a7xx) {
      r = this.outPkt4(ring, R.A6XX_RBBM_PERFCTR_SRAM_INIT_CMD, 1);
      if (r < 0) return r;
      this.outRing(ring, 1);
    }
    r = this.outPkt7(ring, R.CP_SMMU_TABLE_UPDATE, 4);
    if (r < 0) return r;
    this.outRing(ring, lo);
    this.outRing(ring, (R.CP_SMMU_TABLE_UPDATE_1_TTBR0_HI(hi) | R.CP_SMMU_TABLE_UPDATE_1_ASID(asid)) >>> 0);
    this.outRing(ring, 0); // CONTEXTIDR
    this.outRing(ring, R.CP_SMMU_TABLE_UPDATE_3_CONTEXTBANK(0));
    const memptr = ring.memptrsIova + MEMPTRS_TTBR0;
    r = this.outPkt7(ring, R.CP_MEM_WRITE, 4);
    if (r < 0) return r;
    this.outRing(ring, memptr % 2 ** 32);
    this.outRing(ring, Math.floor(memptr / 2 ** 32));
    this.outRing(ring, lo);
    this.outRing(ring, ((asid << 16) | hi) >>> 0);
    if (this.a7xx) {
      r = this.outPkt7(ring, R.CP_THREAD_CONTROL, 1);
      if (r < 0) return r;
      this.outRing(ring, (R.CP_THREAD_CONTROL_0_SYNC_THREADS | R.CP_SET_THREAD_BR) >>> 0);
    }
    r = this.outPkt7(ring, R.CP_EVENT_WRITE, 1);
    if (r < 0) return r;
    this.outRing(ring, R.CACHE_INVALIDATE);
    if (this.a7xx) {
      r = this.outPkt7(ring, R.CP_WAIT_REG_MEM, 6);
      if (r < 0) return r;
      for (const v of [R.WRITE_EQ, R.A6XX_RBBM_PERFCTR_SRAM_INIT_STATUS, 0, 1, 1, 0]) this.outRing(ring, v);
    }
    this.stats.ttbrSwitches++;
    return 0;
  }

  /** get_stats_counter: CP_REG_TO_MEM of a 64-bit counter into a stats slot. */
  protected statsCounter(ring: MsmRingbuffer, reg: number, iova: number): number {
    const r = this.outPkt7(ring, R.CP_REG_TO_MEM, 3);
    if (r < 0) return r;
    this.outRing(ring, (R.CP_REG_TO_MEM_0_REG(reg) | R.CP_REG_TO_MEM_0_CNT(2) | R.CP_REG_TO_MEM_0_64B) >>> 0);
    this.outRing(ring, iova % 2 ** 32);
    this.outRing(ring, Math.floor(iova / 2 ** 32));
    return 0;
  }

  /**
   * a6xx_submit: the page-table switch, the start counters, the CCU invalidates, one
   * CP_INDIRECT_BUFFER_PFE per command buffer (IB targets are only reached from other IBs;
   * context-restore buffers only after a context switch), the end counters, the sequence
   * number in CP_SCRATCH_REG(2), and the CACHE_FLUSH_TS event that writes the fence to the
   * memptrs and raises the interrupt.
   */
  protected emitSubmit(ring: MsmRingbuffer, submit: MsmGemSubmit): number {
    return this.a7xx ? this.a7xxSubmit(ring, submit) : this.a6xxSubmit(ring, submit);
  }

  /** One CP_INDIRECT_BUFFER_PFE per command buffer that runs (a6xx_submit/a7xx_submit's loop). */
  protected emitIbs(ring: MsmRingbuffer, submit: MsmGemSubmit): number {
    for (const cmd of submit.cmds) {
      if (cmd.type === MSM_SUBMIT_CMD_IB_TARGET_BUF) continue;
      if (cmd.type === MSM_SUBMIT_CMD_CTX_RESTORE_BUF && this.curCtxSeqno === submit.ctx.seqno) continue;
      const r = this.outPkt7(ring, R.CP_INDIRECT_BUFFER_PFE, 3);
      if (r < 0) return r;
      this.outRing(ring, cmd.iova % 2 ** 32);
      this.outRing(ring, Math.floor(cmd.iova / 2 ** 32));
      this.outRing(ring, cmd.dwords);
    }
    return 0;
  }

  protected pkt7(ring: MsmRingbuffer, opcode: number, ...payload: number[]): number {
    const r = this.outPkt7(ring, opcode, payload.length);
    if (r < 0) return r;
    for (const v of payload) this.outRing(ring, v >>> 0);
    return 0;
  }

  /**
   * a7xx_submit: BR alone (threads synced) for the page-table switch and the start counters
   * (the CP cycle counter is RBBM_PERFCTR_CP(0) at its a7xx place), both threads with IFPC off
   * around the IB list, the end counters and the sequence number in CP_SCRATCH_REG(2); then BR
   * invalidates the CCU, BV writes the BV fence (CACHE_CLEAN with WRITE_ENABLED), BR waits
   * (CP_WAIT_TIMESTAMP) until BV got that far and writes the ring's fence with the interrupt,
   * and both threads go on with IFPC allowed again.
   */
  protected a7xxSubmit(ring: MsmRingbuffer, submit: MsmGemSubmit): number {
    const seqno = submit.seqno;
    const stats = ring.memptrsIova + MEMPTRS_STATS + (seqno % MSM_GPU_SUBMIT_STATS_COUNT) * STATS_SIZE;
    const lo = (a: number): number => a % 2 ** 32;
    const hi = (a: number): number => Math.floor(a / 2 ** 32);
    const bvFence = ring.memptrsIova + MEMPTRS_BV_FENCE;
    const fence = ring.memptrsIova + MEMPTRS_FENCE;
    const steps: (() => number)[] = [
      () => this.pkt7(ring, R.CP_THREAD_CONTROL, R.CP_THREAD_CONTROL_0_SYNC_THREADS | R.CP_SET_THREAD_BR),
      () => this.setPagetable(ring, submit.ctx),
      () => this.statsCounter(ring, R.A7XX_RBBM_PERFCTR_CP(0), stats),
      () => this.statsCounter(ring, R.A6XX_CP_ALWAYS_ON_COUNTER, stats + 16),
      () => this.pkt7(ring, R.CP_THREAD_CONTROL, R.CP_SET_THREAD_BOTH),
      () => this.pkt7(ring, R.CP_SET_MARKER, 0x101), // IFPC disable
      () => this.pkt7(ring, R.CP_SET_MARKER, 0x00d), // IB1LIST start
      () => this.emitIbs(ring, submit),
      () => this.pkt7(ring, R.CP_SET_MARKER, 0x00e), // IB1LIST end
      () => this.statsCounter(ring, R.A7XX_RBBM_PERFCTR_CP(0), stats + 8),
      () => this.statsCounter(ring, R.A6XX_CP_ALWAYS_ON_COUNTER, stats + 24),
      () => this.outPkt4(ring, R.A6XX_CP_SCRATCH_REG(2), 1),
      () => (this.outRing(ring, seqno), 0),
      () => this.pkt7(ring, R.CP_THREAD_CONTROL, R.CP_SET_THREAD_BR),
      () => this.pkt7(ring, R.CP_EVENT_WRITE, R.CCU_INVALIDATE_DEPTH),
      () => this.pkt7(ring, R.CP_EVENT_WRITE, R.CCU_INVALIDATE_COLOR),
      () => this.pkt7(ring, R.CP_THREAD_CONTROL, R.CP_SET_THREAD_BV),
      () => this.pkt7(ring, R.CP_EVENT_WRITE, R.CACHE_CLEAN | R.CP_EVENT_WRITE7_0_WRITE_ENABLED, lo(bvFence), hi(bvFence), seqno),
      () => this.pkt7(ring, R.CP_THREAD_CONTROL, R.CP_SET_THREAD_BR),
      () => this.pkt7(ring, R.CP_WAIT_TIMESTAMP, 0, lo(bvFence), hi(bvFence), seqno),
      () => this.pkt7(ring, R.CP_EVENT_WRITE, R.CACHE_CLEAN | R.CP_EVENT_WRITE_0_IRQ | R.CP_EVENT_WRITE7_0_WRITE_ENABLED, lo(fence), hi(fence), seqno),
      () => this.pkt7(ring, R.CP_THREAD_CONTROL, R.CP_SET_THREAD_BOTH),
      () => this.pkt7(ring, R.CP_SET_MARKER, 0x100), // IFPC enable
    ];
    for (const step of steps) {
      const r = step();
      if (r < 0) return r;
    }
    this.curCtxSeqno = submit.ctx.seqno;
    return 0;
  }

  protected a6xxSubmit(ring: MsmRingbuffer, submit: MsmGemSubmit): number {
    const seqno = submit.seqno;
    const stats = ring.memptrsIova + MEMPTRS_STATS + (seqno % MSM_GPU_SUBMIT_STATS_COUNT) * STATS_SIZE;
    let r = this.setPagetable(ring, submit.ctx);
    if (r === 0) r = this.statsCounter(ring, R.A6XX_RBBM_PERFCTR_CP(0), stats);
    if (r === 0) r = this.statsCounter(ring, R.A6XX_CP_ALWAYS_ON_COUNTER, stats + 16);
    for (const ev of [R.PC_CCU_INVALIDATE_DEPTH, R.PC_CCU_INVALIDATE_COLOR]) {
      if (r === 0) r = this.outPkt7(ring, R.CP_EVENT_WRITE, 1);
      if (r === 0) this.outRing(ring, ev);
    }
    for (const cmd of submit.cmds) {
      if (r < 0) break;
      if (cmd.type === MSM_SUBMIT_CMD_IB_TARGET_BUF) continue;
      if (cmd.type === MSM_SUBMIT_CMD_CTX_RESTORE_BUF && this.curCtxSeqno === submit.ctx.seqno) continue;
      r = this.outPkt7(ring, R.CP_INDIRECT_BUFFER_PFE, 3);
      if (r < 0) break;
      this.outRing(ring, cmd.iova % 2 ** 32);
      this.outRing(ring, Math.floor(cmd.iova / 2 ** 32));
      this.outRing(ring, cmd.dwords);
    }
    if (r === 0) r = this.statsCounter(ring, R.A6XX_RBBM_PERFCTR_CP(0), stats + 8);
    if (r === 0) r = this.statsCounter(ring, R.A6XX_CP_ALWAYS_ON_COUNTER, stats + 24);
    if (r === 0) r = this.outPkt4(ring, R.A6XX_CP_SCRATCH_REG(2), 1);
    if (r === 0) this.outRing(ring, seqno);
    if (r === 0) r = this.outPkt7(ring, R.CP_EVENT_WRITE, 4);
    if (r < 0) return r;
    const fenceAddr = ring.memptrsIova + MEMPTRS_FENCE;
    this.outRing(ring, (R.CACHE_FLUSH_TS | R.CP_EVENT_WRITE_0_IRQ) >>> 0);
    this.outRing(ring, fenceAddr % 2 ** 32);
    this.outRing(ring, Math.floor(fenceAddr / 2 ** 32));
    this.outRing(ring, seqno);
    this.curCtxSeqno = submit.ctx.seqno;
    return 0;
  }

  // ------------------------------------------------------------------ interrupts and retirement

  /** a6xx_irq: read and clear RBBM_INT_0_STATUS, report errors, retire on CACHE_FLUSH_TS. */
  protected irqHandler(): void {
    if (!this.regs?.mapped) return;
    this.stats.irqs++;
    const status = this.read(R.A6XX_RBBM_INT_0_STATUS);
    this.write(R.A6XX_RBBM_INT_CLEAR_CMD, status);
    if (status & R.A6XX_RBBM_INT_0_MASK_RBBM_HANG_DETECT) this.faultDetectIrq();
    if (status & R.A6XX_RBBM_INT_0_MASK_CP_AHB_ERROR) this.dev.err('CP | AHB bus error');
    if (status & R.A6XX_RBBM_INT_0_MASK_CP_HW_ERROR) this.cpHwErrIrq();
    if (status & R.A6XX_RBBM_INT_0_MASK_RBBM_ATB_ASYNCFIFO_OVERFLOW) this.dev.err('RBBM | ATB ASYNC overflow');
    if (status & R.A6XX_RBBM_INT_0_MASK_RBBM_ATB_BUS_OVERFLOW) this.dev.err('RBBM | ATB bus overflow');
    if (status & R.A6XX_RBBM_INT_0_MASK_UCHE_OOB_ACCESS) this.dev.err('UCHE | Out of bounds access');
    if (status & R.A6XX_RBBM_INT_0_MASK_CP_CACHE_FLUSH_TS) this.retire();
  }

  protected cpHwErrIrq(): void {
    const status = this.read(R.A6XX_CP_INTERRUPT_STATUS);
    if (status & R.A6XX_CP_INT_CP_OPCODE_ERROR) {
      this.write(R.A6XX_CP_SQE_STAT_ADDR, 1);
      this.dev.err(`CP | opcode error | possible opcode=0x${hex8(this.read(R.A6XX_CP_SQE_STAT_DATA))}`);
    }
    if (status & R.A6XX_CP_INT_CP_UCODE_ERROR) this.dev.err('CP ucode error interrupt');
    if (status & R.A6XX_CP_INT_CP_HW_FAULT_ERROR) this.dev.err(`CP | HW fault | status=0x${hex8(this.read(R.A6XX_CP_HW_FAULT))}`);
    if (status & R.A6XX_CP_INT_CP_REGISTER_PROTECTION_ERROR) {
      const v = this.read(R.A6XX_CP_PROTECT_STATUS);
      this.dev.err(`CP | protected mode error | ${v & (1 << 20) ? 'READ' : 'WRITE'} | addr=0x${hex8(v & 0x3ffff)} | status=0x${hex8(v)}`);
    }
    if (status & R.A6XX_CP_INT_CP_AHB_ERROR) this.dev.err('CP AHB error interrupt');
    if (status & R.A6XX_CP_INT_CP_VSD_PARITY_ERROR) this.dev.err('CP VSD decoder parity error');
    if (status & R.A6XX_CP_INT_CP_ILLEGAL_INSTR_ERROR) this.dev.err('CP illegal instruction error');
    if (!this.a7xx) return;
    // a7xx: the same errors of the BV thread, with its own status registers
    if (status & R.A7XX_CP_INT_CP_OPCODE_ERROR_BV) {
      this.write(R.A7XX_CP_BV_SQE_STAT_ADDR, 1);
      this.dev.err(`CP | BV opcode error | possible opcode=0x${hex8(this.read(R.A7XX_CP_BV_SQE_STAT_DATA))}`);
    }
    if (status & R.A7XX_CP_INT_CP_UCODE_ERROR_BV) this.dev.err('CP | BV ucode error');
    if (status & R.A7XX_CP_INT_CP_HW_FAULT_ERROR_BV) this.dev.err(`CP | BV HW fault | status=0x${hex8(this.read(R.A7XX_CP_BV_HW_FAULT))}`);
    if (status & R.A7XX_CP_INT_CP_REGISTER_PROTECTION_ERROR_BV) {
      const v = this.read(R.A7XX_CP_BV_PROTECT_STATUS);
      this.dev.err(`CP | BV protected mode error | ${v & (1 << 20) ? 'READ' : 'WRITE'} | addr=0x${hex8(v & 0x3ffff)} | status=0x${hex8(v)}`);
    }
    if (status & R.A7XX_CP_INT_CP_ILLEGAL_INSTR_ERROR_BV) this.dev.err('CP | BV illegal instruction error');
  }

  /** a6xx_fault_detect_irq: the RBBM hang detector fired (unless the SMMU stalled us on purpose). */
  protected faultDetectIrq(): void {
    if (this.read(R.A6XX_RBBM_STATUS3) & R.A6XX_RBBM_STATUS3_SMMU_STALLED_ON_FAULT) return;
    const ring = this.rings[0]!;
    this.dev.err(
      `gpu fault ring ${ring.id} fence ${ring.seqno.toString(16)} status ${hex8(this.read(R.A6XX_RBBM_STATUS))} rb ${this.read(R.A6XX_CP_RB_RPTR).toString(16)}/${this.read(R.A6XX_CP_RB_WPTR).toString(16)} ib1 ${hex64(this.read64(R.A6XX_CP_IB1_BASE)).toUpperCase()}/${this.read(R.A6XX_CP_IB1_REM_SIZE).toString(16)}`,
    );
    this.hangcheckAt = Number.POSITIVE_INFINITY;
    this.host.queueWork(() => this.recover());
  }

  /**
   * msm_gpu_retire: the fences the CP completed are signalled now (msm_update_fence), the
   * submits they end are retired as deferred work.
   */
  retire(): void {
    for (const ring of this.rings) this.updateFences(ring);
    this.host.queueWork(() => this.retireSubmits());
  }

  protected updateFences(ring: MsmRingbuffer): void {
    const fence = this.memptrsFence(ring);
    if (fenceAfterEq(ring.completedFence, fence)) return;
    ring.completedFence = fence;
    const now = ktimeGetNs(this.kernel);
    for (const s of ring.submits) if (s.hwFence && fenceAfterEq(fence, s.seqno)) s.hwFence.signal(now);
  }

  /** Callback the device installs: retire one submit (unpin, signal the user fence, drop references). */
  onRetire: ((submit: MsmGemSubmit) => void) | null = null;

  /** retire_submits: every submit at the head of a ring whose fence signalled, in order. */
  retireSubmits(): void {
    for (const ring of this.rings) {
      while (ring.submits.length > 0 && ring.submits[0]!.hwFence?.signaled) {
        const s = ring.submits.shift()!;
        this.accountStats(ring, s);
        this.stats.retired++;
        this.onRetire?.(s);
      }
      if (ring.submits.length === 0) this.hangcheckAt = Number.POSITIVE_INFINITY;
    }
  }

  /** retire_submit's accounting: CP cycles and always-on ticks (19.2 MHz) between the stats writes. */
  protected accountStats(ring: MsmRingbuffer, s: MsmGemSubmit): void {
    const base = ring.memptrsOffset + MEMPTRS_STATS + (s.seqno % MSM_GPU_SUBMIT_STATS_COUNT) * STATS_SIZE;
    const rd64 = (o: number): number => this.memRead32(ring.memptrs, base + o) + this.memRead32(ring.memptrs, base + o + 4) * 2 ** 32;
    const cycles = rd64(8) - rd64(0);
    const ticks = rd64(24) - rd64(16);
    if (cycles > 0) s.ctx.cycles += cycles;
    if (ticks > 0) s.ctx.elapsedNs += Math.floor((ticks * 10000) / 192);
  }

  // ------------------------------------------------------------------ faults

  /** a6xx_fault_block: the GPU block of the faulting transaction, from FSYNR1's low byte. */
  protected faultBlock(id: number): string {
    if (id === 0) return 'CP';
    if (id === 4) return 'CCU';
    if (id === 6) return 'CDP Prefetch';
    if (id < 1 || id > 3) return 'UNKNOWN';
    const clients = ['VFD', 'SP', 'VSC', 'VPC', 'HLSQ', 'PC', 'LRZ'];
    const val = this.read(R.A6XX_UCHE_CLIENT_PF);
    if (id === 3) return clients[val & 7] ?? 'UNKNOWN';
    if (id === 2) return (val & 7) === 0 ? 'TP' : 'TP|VFD';
    return 'UCHE';
  }

  /** CP_SCRATCH_REG(n) of this generation. */
  protected scratchReg(n: number): number {
    return R.A6XX_CP_SCRATCH_REG(n);
  }

  /** The "source" a fault report names: a6xx decodes the GPU block from FSYNR1's low byte. */
  protected faultSource(info: AdrenoSmmuFaultInfo): string {
    return this.faultBlock(info.fsynr1 & 0xff);
  }

  /**
   * a6xx_fault_handler / adreno_fault_handler, called from the SMMU's context-fault interrupt
   * through the IOMMU core: classifies the fault (FSR: translation, permission, external), names
   * the source block (FSYNR1), prints the kernel's line with TTBR0 and CP scratch registers 4..7,
   * stops the hang check, and leaves the stalled transaction to the fault worker, which records
   * the faulting process and then resumes the SMMU with terminate. Returns 0 (handled).
   */
  faultHandler(iova: number, flags: number, info: AdrenoSmmuFaultInfo | null): number {
    this.stats.faults++;
    const scratch = [4, 5, 6, 7].map((n) => this.read(this.scratchReg(n)));
    const write = (flags & IOMMU_FAULT_WRITE) !== 0;
    let type = 'UNKNOWN';
    let source = 'unknown';
    if (info) {
      source = this.faultSource(info);
      if (info.fsr & R.ARM_SMMU_FSR_TF) type = 'TRANSLATION';
      else if (info.fsr & R.ARM_SMMU_FSR_PF) type = 'PERMISSION';
      else if (info.fsr & R.ARM_SMMU_FSR_EF) type = 'EXTERNAL';
    }
    if (this.rl.allow()) {
      if (!info) this.kernel.log.warn('', `*** gpu fault: iova=${hex64(iova)} flags=${flags} (${scratch.join(',')})`);
      else
        this.kernel.log.warn(
          '',
          `*** gpu fault: ttbr0=${hex64(info.ttbr0)} iova=${hex64(iova)} dir=${write ? 'WRITE' : 'READ'} type=${type} source=${source} (${scratch.join(',')})`,
        );
    }
    const rec: MsmFaultRecord = { iova, write, type, source, ttbr0: info?.ttbr0 ?? 0n, fsr: info?.fsr ?? 0, comm: null, pid: 0, fenceId: 0, t: ktimeGetNs(this.kernel) };
    this.faults.push(rec);
    if (this.faults.length > 256) this.faults.shift();
    if (!info) {
      // without the SMMU's fault registers (an SMMU without the Adreno interface, such as
      // msm8998's) Linux only logs: the transaction is let go now, nobody is blamed, no dump
      this.mmu.resumeTranslation();
      return 0;
    }
    this.hangcheckAt = Number.POSITIVE_INFINITY;
    this.host.queueWork(() => this.faultWorker(rec));
    return 0;
  }

  /**
   * fault_worker: the submit running when the fault hit (the one after the ring's completed
   * fence) is the faulting one. The first fault of a submit records who it was (comm, pid and
   * command line of the file's process), blames its queue and address space (their fault
   * counters, which MSM_PARAM_FAULTS and the queue query report to that process alone; its
   * fence will carry -EIO) and captures the crash state; then the SMMU is told to terminate the
   * stalled transaction, and the GPU carries on with the rest of the ring.
   */
  protected faultWorker(rec: MsmFaultRecord): void {
    const ring = this.rings[0]!;
    if (this.regs.mapped) {
      const fence = this.memptrsFence(ring);
      const submit = ring.submits.find((s) => s.seqno === ((fence + 1) >>> 0));
      if (submit) {
        rec.comm = submit.ctx.comm;
        rec.pid = submit.ctx.pid;
        rec.fenceId = submit.fenceId;
        if (!submit.faultDumped) {
          submit.faultDumped = true;
          this.blame(submit);
          this.dev.err(`${this.name}: offending task: ${submit.ctx.comm} (${submit.ctx.cmdline}) pid ${submit.ctx.pid}`);
          this.crashstateCapture('fault', submit, rec);
        }
      } else this.crashstateCapture('fault', null, rec);
    }
    this.mmu.resumeTranslation();
    if (ring.submits.length > 0) this.hangcheckAt = ktimeGetNs(this.kernel) + DRM_MSM_HANGCHECK_PERIOD_MS * NSEC_PER_MSEC;
  }

  /** The fault/hang accounting of a submit's queue and address space (once per submit). */
  protected blame(submit: MsmGemSubmit): void {
    if (submit.blamed) return;
    submit.blamed = true;
    submit.queue.faults++;
    submit.ctx.aspace.faults++;
  }

  /** msm_gpu_crashstate_capture: one crash state at a time, until someone reads it. */
  protected crashstateCapture(reason: 'fault' | 'hang', submit: MsmGemSubmit | null, rec: MsmFaultRecord | null): void {
    if (this.crashstate) return;
    const ring = this.rings[0]!;
    const mmu = submit?.ctx.aspace.mmu;
    this.crashstate = {
      reason,
      comm: submit?.ctx.comm ?? null,
      cmdline: submit?.ctx.cmdline ?? null,
      pid: submit?.ctx.pid ?? 0,
      fault: rec ? { iova: rec.iova, write: rec.write, type: rec.type, source: rec.source, ttbr0: rec.ttbr0 } : null,
      pgtableTtbr0: mmu instanceof MsmIommuPagetable ? mmu.ttbr : null,
      bos: submit ? submit.bos.map((b) => ({ iova: b.iova, size: b.obj.size, name: b.obj.name })) : [],
      rbRptr: this.rptr(ring),
      rbWptr: ring.cur,
      fence: this.memptrsFence(ring),
    };
  }

  /** Reading the devcoredump frees it (the next fault or hang can capture again). */
  takeCrashstate(): MsmCrashState | null {
    const s = this.crashstate;
    this.crashstate = null;
    return s;
  }

  // ------------------------------------------------------------------ hang check and recovery

  /** Runs the hang check when its time has come (the timer's callback). */
  runTimers(): void {
    if (ktimeGetNs(this.kernel) < this.hangcheckAt) return;
    this.hangcheckHandler();
  }

  /**
   * hangcheck_handler: no fence progress since the last check while submits are outstanding
   * means a lockup (logged, recovery queued); otherwise the timer rearms while work is left.
   * Also retires whatever completed (the kernel's "workaround for missing irq").
   */
  protected hangcheckHandler(): void {
    const ring = this.rings[0]!;
    const fence = this.memptrsFence(ring);
    this.hangcheckAt = Number.POSITIVE_INFINITY;
    if (fence !== ring.hangcheckFence) ring.hangcheckFence = fence;
    else if (!fenceAfterEq(fence, ring.seqno)) {
      this.stats.hangs++;
      this.dev.err(`${this.name}: hangcheck detected gpu lockup rb ${ring.id}!`);
      this.dev.err(`${this.name}:     completed fence: ${fence}`);
      this.dev.err(`${this.name}:     submitted fence: ${ring.seqno}`);
      this.host.queueWork(() => this.recover());
    }
    if (!fenceAfterEq(ring.hangcheckFence, ring.seqno)) this.hangcheckAt = ktimeGetNs(this.kernel) + DRM_MSM_HANGCHECK_PERIOD_MS * NSEC_PER_MSEC;
    this.retire();
  }

  /**
   * recover_worker + a6xx_recover: the hung submit (the one after the completed fence) is blamed
   * and skipped (the fence is moved past it, its fence gets -EIO), the CP is halted and the
   * hardware initialised again, and the submits still outstanding are written to the ring anew.
   */
  recover(): void {
    if (!this.regs.mapped) return;
    const ring = this.rings[0]!;
    this.dev.err(`${this.name}: hangcheck recover!`);
    const fence = this.memptrsFence(ring);
    const submit = ring.submits.find((s) => s.seqno === ((fence + 1) >>> 0));
    if (!submit) return;
    this.stats.recoveries++;
    this.blame(submit);
    this.dev.err(`${this.name}: offending task: ${submit.ctx.comm} (${submit.ctx.cmdline})`);
    this.crashstateCapture('hang', submit, null);
    this.memWrite32(ring.memptrs, ring.memptrsOffset + MEMPTRS_FENCE, submit.seqno);
    this.updateFences(ring);
    this.retireSubmits();
    this.recoverHw();
    this.mmu.resumeTranslation();
    if (this.hwInit() < 0) {
      this.dev.err('gpu hw init failed during recovery');
      return;
    }
    for (const s of ring.submits) {
      const start = ring.next;
      if (this.emitSubmit(ring, s) < 0) {
        ring.next = start;
        break;
      }
      this.flush(ring);
    }
    if (ring.submits.length > 0) this.hangcheckAt = ktimeGetNs(this.kernel) + DRM_MSM_HANGCHECK_PERIOD_MS * NSEC_PER_MSEC;
  }

  /** a6xx_recover's register part: the CP scratch registers logged, then the SQE halted. */
  protected recoverHw(): void {
    for (let i = 0; i < 8; i++) this.dev.info(`CP_SCRATCH_REG${i}: ${this.read(R.A6XX_CP_SCRATCH_REG(i))}`);
    this.write(R.A6XX_CP_SQE_CNTL, R.A6XX_CP_SQE_CNTL_HALT);
  }

  /** Gives the GPU (the model) a chance to run: one read of the CP's read pointer. */
  poke(): void {
    if (this.regs?.mapped) this.read(R.A6XX_CP_RB_RPTR);
  }

  // ------------------------------------------------------------------ params

  /** a6xx_get_timestamp: the always-on counter, read under the GPU_SET request. */
  timestamp(): number {
    // with a GMU wrapper (a6xx_get_timestamp) the counter is read as it is
    if (this.gmu.wrapper) return this.read64(R.A6XX_CP_ALWAYS_ON_COUNTER);
    this.gmu.setOob(R.GMU_OOB.GPU_SET);
    const v = this.read64(R.A6XX_CP_ALWAYS_ON_COUNTER);
    this.gmu.clearOob(R.GMU_OOB.GPU_SET);
    return v;
  }

  get gmemBase(): number {
    return adrenoGmemBase(this.info);
  }

  get chipIdString(): string {
    return chipIdString(this.chipId);
  }

  /** The size of each process's private address space (adreno_private_address_space_size). */
  get privateAddressSpaceSize(): number {
    return this.info.addressSpaceSize || SZ_4G;
  }

  // ------------------------------------------------------------------ teardown

  /**
   * Halts the GPU (interrupts masked, SQE stopped) and frees the kernel buffers (each unmapped
   * with its TLB flush), the global address space with its SMMU domain, and the GMU's
   * resources. Submits still on the ring are the caller's to end first.
   */
  fini(): void {
    if (this.regs?.mapped && this.hwReady) this.haltHw();
    this.hwReady = false;
    for (const bo of [...this.kernelBos]) this.kernelBoFree(bo);
    this.rings.length = 0;
    this.memptrs = null;
    this.sqe = null;
    this.shadow = null;
    if (this.aspace && !this.aspace.destroyed) this.aspace.put();
    else if (this.mmu) this.mmu.destroy();
    this.gmu?.teardown();
    this.initialised = false;
  }

  /** Interrupts masked and the CP stopped (the teardown's register part). */
  protected haltHw(): void {
    this.write(R.A6XX_RBBM_INT_0_MASK, 0);
    this.write(R.A6XX_CP_SQE_CNTL, 0);
  }

  /** msm_gpu_create_private_address_space is possible: the GPU switches per-process page tables (a6xx, a7xx). */
  get perProcessPagetables(): boolean {
    return true;
  }

  /** Ends a submit that will never run (device going away): its fences carry `err`. */
  abort(submit: MsmGemSubmit, err: number): void {
    const now = ktimeGetNs(this.kernel);
    submit.hwFence?.signal(now, err);
    submit.userFence.signal(now, err);
  }

  /** For the driver core's view and tests: whether init completed. */
  get isInitialised(): boolean {
    return this.initialised;
  }
}

export function hex8(v: number): string {
  return (v >>> 0).toString(16).padStart(8, '0').toUpperCase();
}

