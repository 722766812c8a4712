import {
  EINVAL,
  ENODEV,
  IOMMU_READ,
  IOMMU_WRITE,
  iommuAttachDevice,
  iommuDetachDevice,
  iommuDomainAlloc,
  iommuDomainFree,
  iommuGroupGet,
  iommuMap,
  iommuUnmap,
  ofDeviceIsAvailable,
  ofDeviceIsCompatible,
  ofParsePhandle,
  requestIrq,
  freeIrq,
  readxPollTimeout,
} from '@gki/kernel';
import type { Device, IoMem, IommuDomain, Kernel, OfNode } from '@gki/kernel';
import * as R from './regs.js';

/** Where the GMU's uncached memory (the HFI queues) sits in its own address space. */
export const GMU_UNCACHED_IOVA_BASE = 0x6000_0000;
/** Size of the HFI queue memory. */
const HFI_SIZE = 0x4000;
const HFI_ORDER = 2;

/** Counters of the GMU side; plain data. */
export interface A6xxGmuStats {
  oobSet: Record<string, number>;
  oobClear: Record<string, number>;
  oobTimeouts: number;
  starts: number;
  hfiStarts: number;
  irqs: number;
}

/**
 * The a6xx GMU (graphics management unit) as msm drives it: a separate DT node the GPU names
 * through its `qcom,gmu` phandle, with no driver of its own. msm maps its registers, takes its
 * two interrupts ("hfi", "gmu"), puts it behind its own SMMU domain (the GMU is a master of the
 * Adreno SMMU with its own stream ID) with the HFI queue memory at a fixed address, and brings
 * it up with the handshakes of a cold boot: CM3 reset and the firmware's "init done" value,
 * the boot/slumber out-of-band request, the HFI start. Around GPU register programming the GPU
 * driver holds the GPU_SET out-of-band request, so that the GMU keeps the GPU powered.
 *
 * Left out, because the model has no power rails, clocks or GMU firmware: loading the GMU
 * firmware image into ITCM, the RPMh/PDC sequencer microcode, the HFI messages (performance
 * tables, power levels) and the slumber sequence on the way down.
 */
export class A6xxGmu {
  readonly stats: A6xxGmuStats = { oobSet: {}, oobClear: {}, oobTimeouts: 0, starts: 0, hfiStarts: 0, irqs: 0 };
  mmio!: IoMem;
  domain: IommuDomain | null = null;
  private hfiPa = -1;
  private hfiMapped = false;
  private irqs: number[] = [];
  private started = false;

  private constructor(
    readonly kernel: Kernel,
    /** The GPU device: it owns the GMU's register mapping and interrupts. */
    readonly gpuDev: Device,
    readonly dev: Device,
    /** The a630 family's firmware (HFI v1, the legacy OOB bits); a640 and later are not. */
    readonly legacy: boolean,
    /**
     * A GMU wrapper (`qcom,adreno-gmu-wrapper`, a610 and a702): the GMU's register block with
     * no microcontroller behind it. Nothing boots, no out-of-band request is made; the GPU
     * driver only programs its always-on counters through it.
     */
    readonly wrapper = false,
  ) {}

  get isStarted(): boolean {
    return this.started;
  }

  /**
   * a6xx_gmu_init: finds the GMU through the GPU node's `qcom,gmu` phandle, configures its
   * IOMMU (of_dma_configure), maps the "gmu" register window, takes the interrupts and sets up
   * its memory. -ENODEV without a usable GMU node, -EPROBE_DEFER while its IOMMU cannot be set
   * up yet, another -errno otherwise; nothing is kept on failure.
   */
  static init(kernel: Kernel, gpuDev: Device, legacy = true): A6xxGmu | number {
    const np = gpuDev.ofNode ? ofParsePhandle(gpuDev.ofNode, 'qcom,gmu', 0) : undefined;
    if (!np) {
      gpuDev.err('no GMU node (qcom,gmu)');
      return -ENODEV;
    }
    const dev = ofDeviceIsAvailable(np) ? kernel.drivers.deviceForNode(np) : undefined;
    if (!dev) {
      // a tree that enables the GPU but leaves its GMU disabled (sdm845-lg-common.dtsi): Linux
      // finds no platform device and fails quietly with -ENODEV; the caller warns
      gpuDev.warn(`GMU ${np.fullName} is not available`);
      return -ENODEV;
    }
    const wrapper = A6xxGmu.isWrapperNode(np);
    // a6xx_gmu_wrapper_init marks the wrapper legacy (the SPTPRAC is the CPU's to switch)
    const gmu = new A6xxGmu(kernel, gpuDev, dev, wrapper ? true : legacy, wrapper);
    const r = wrapper ? gmu.setupWrapper() : gmu.setup();
    if (r < 0) {
      gmu.teardown();
      return r;
    }
    return gmu;
  }

  /** Whether the node `qcom,gmu` names is a GMU wrapper (adreno_has_gmu_wrapper). */
  static isWrapperNode(np: OfNode): boolean {
    return ofDeviceIsCompatible(np, 'qcom,adreno-gmu-wrapper') > 0;
  }

  /**
   * a6xx_gmu_wrapper_init: the wrapper's IOMMU configuration (of_dma_configure; the kernel's
   * wrapper nodes name none) and its "gmu" register window; no interrupts, no memory, no
   * firmware. -EINVAL ("Unable to find the gmu registers") without that window.
   */
  private setupWrapper(): number {
    const dev = this.dev;
    // of_dma_configure: only -EPROBE_DEFER fails it; any other IOMMU failure (a driver that never
    // registered, a domain that could not be set up) is logged and the GMU goes on untranslated
    const r = this.kernel.iommu.dmaConfigure(dev);
    if (r < 0) return r;
    const res = dev.resourceByName('mem', 'gmu');
    if (!res) {
      dev.err('Unable to find the gmu registers');
      return -EINVAL;
    }
    const io = this.kernel.drivers.ioremapResource(this.gpuDev, res);
    if (typeof io === 'number') return io;
    this.mmio = io;
    this.started = true;
    return 0;
  }

  private setup(): number {
    const dev = this.dev;
    // of_dma_configure: only -EPROBE_DEFER fails it; any other IOMMU failure (a driver that never
    // registered, a domain that could not be set up) is logged and the GMU goes on untranslated
    const r = this.kernel.iommu.dmaConfigure(dev);
    if (r < 0) return r;
    const res = dev.resourceByName('mem', 'gmu') ?? dev.resource('mem', 0);
    if (!res) {
      dev.err('failed to get memory resource: gmu');
      return -EINVAL;
    }
    const io = this.kernel.drivers.ioremapResource(this.gpuDev, res);
    if (typeof io === 'number') return io;
    this.mmio = io;
    for (const [name, handler] of [
      ['hfi', () => this.hfiIrq()],
      ['gmu', () => this.gmuIrq()],
    ] as const) {
      const irq = dev.irqByName(name);
      if (irq < 0) return irq;
      const r = requestIrq(this.gpuDev, irq, handler, { shared: true, devId: this });
      if (r < 0) {
        dev.err(`failed to request IRQ ${name}: ${r}`);
        return r;
      }
      this.irqs.push(irq);
    }
    return this.memoryProbe();
  }

  /** a6xx_gmu_memory_probe: the GMU's own paging domain and the HFI queue memory in it. */
  private memoryProbe(): number {
    if (!iommuGroupGet(this.dev)) {
      this.dev.err('GMU is not behind an IOMMU');
      return -ENODEV;
    }
    const d = iommuDomainAlloc(this.dev, 'unmanaged');
    if (typeof d === 'number') return d;
    const r = iommuAttachDevice(d, this.dev);
    if (r < 0) {
      iommuDomainFree(d);
      return r;
    }
    this.domain = d;
    const pa = this.kernel.pages.allocPages(HFI_ORDER);
    if (pa < 0) return pa;
    this.hfiPa = pa;
    const m = iommuMap(d, GMU_UNCACHED_IOVA_BASE, pa, HFI_SIZE, IOMMU_READ | IOMMU_WRITE);
    if (m < 0) return m;
    this.hfiMapped = true;
    return 0;
  }

  /** Releases everything init took (the register window goes with the GPU device's devres). */
  teardown(): void {
    for (const irq of this.irqs) freeIrq(this.gpuDev, irq, this);
    this.irqs = [];
    if (this.domain) {
      if (this.hfiMapped) iommuUnmap(this.domain, GMU_UNCACHED_IOVA_BASE, HFI_SIZE);
      this.hfiMapped = false;
      iommuDetachDevice(this.domain, this.dev);
      iommuDomainFree(this.domain);
      this.domain = null;
    }
    if (this.hfiPa >= 0) this.kernel.pages.freePages(this.hfiPa, HFI_ORDER);
    this.hfiPa = -1;
    this.started = false;
  }

  read(reg: number): number {
    return this.mmio.read32(reg * 4) >>> 0;
  }

  write(reg: number, v: number): void {
    this.mmio.write32(reg * 4, v >>> 0);
  }

  rmw(reg: number, mask: number, or: number): void {
    this.write(reg, ((this.read(reg) & ~mask) | or) >>> 0);
  }

  private poll(reg: number, done: (v: number) => boolean, delayUs: number, timeoutUs: number): number {
    return readxPollTimeout(this.kernel, () => this.read(reg), done, delayUs, timeoutUs);
  }

  // ------------------------------------------------------------------ interrupts

  private hfiIrq(): void {
    this.stats.irqs++;
    const status = this.read(R.A6XX_GMU_GMU2HOST_INTR_INFO);
    this.write(R.A6XX_GMU_GMU2HOST_INTR_CLR, status);
    if (status & R.A6XX_GMU_GMU2HOST_INTR_INFO_CM3_FAULT) this.dev.err('GMU firmware fault');
  }

  private gmuIrq(): void {
    this.stats.irqs++;
    const status = this.read(R.A6XX_GMU_AO_HOST_INTERRUPT_STATUS);
    this.write(R.A6XX_GMU_AO_HOST_INTERRUPT_CLR, status);
    if (status & R.A6XX_GMU_AO_HOST_INTERRUPT_STATUS_WDOG_BITE) this.dev.err('GMU watchdog expired');
    if (status & R.A6XX_GMU_AO_HOST_INTERRUPT_STATUS_HOST_AHB_BUS_ERROR) this.dev.err('GMU AHB bus error');
    if (status & R.A6XX_GMU_AO_HOST_INTERRUPT_STATUS_FENCE_ERR) this.dev.err('GMU fence error');
  }

  // ------------------------------------------------------------------ out-of-band requests

  /**
   * a6xx_gmu_set_oob: request, wait (100 us steps, 10 ms) for the ack, clear the ack, with the
   * legacy or the new bits. 0, -ETIMEDOUT, or -EINVAL for a request a non-legacy GMU lacks.
   */
  setOob(oob: R.GmuOob): number {
    const request = this.legacy ? oob.request : oob.requestNew;
    const ack = this.legacy ? oob.ack : oob.ackNew;
    if (request === undefined || ack === undefined) {
      this.dev.err(`[drm:a6xx_gmu_set_oob] *ERROR* Invalid non-legacy GMU request ${oob.name}`);
      return -EINVAL;
    }
    this.stats.oobSet[oob.name] = (this.stats.oobSet[oob.name] ?? 0) + 1;
    this.write(R.A6XX_GMU_HOST2GMU_INTR_SET, (1 << request) >>> 0);
    const ret = this.poll(R.A6XX_GMU_GMU2HOST_INTR_INFO, (v) => (v & ((1 << ack) >>> 0)) !== 0, 100, 10_000);
    if (ret < 0) {
      this.stats.oobTimeouts++;
      this.dev.err(`[drm:a6xx_gmu_set_oob] *ERROR* Timeout waiting for GMU OOB set ${oob.name}: 0x${this.read(R.A6XX_GMU_GMU2HOST_INTR_INFO).toString(16)}`);
    }
    this.write(R.A6XX_GMU_GMU2HOST_INTR_CLR, (1 << ack) >>> 0);
    return ret;
  }

  /** a6xx_gmu_clear_oob: withdraws the request (its legacy or new clear bit). */
  clearOob(oob: R.GmuOob): void {
    const bit = this.legacy ? oob.clear : (oob.clearNew ?? 0);
    this.stats.oobClear[oob.name] = (this.stats.oobClear[oob.name] ?? 0) + 1;
    this.write(R.A6XX_GMU_HOST2GMU_INTR_SET, (1 << bit) >>> 0);
  }

  // ------------------------------------------------------------------ boot

  /**
   * a6xx_gmu_resume / a6xx_gmu_fw_start (cold boot): register retention on, the boot
   * configuration and the HFI table address, the AHB fence range, the chip id, the power
   * configuration, then the CM3 start, the boot OOB and the HFI start handshakes. An a7xx GMU
   * gets the a7xx fence range (0x8a0 up 0x32 words) and the chip id in GMU_GENERAL_10 (the
   * catalog's gmu_chipid where the part has one); its TCM retention lives in the GPU's CX_MISC
   * block, which needs the LLCC slices the model has no driver for, so it is left alone.
   * 0 or -ETIMEDOUT (logged as the kernel logs it).
   */
  start(chipId: number, opts: { a7xx?: boolean; gmuChipId?: number } = {}): number {
    const a7xx = opts.a7xx === true;
    this.write(R.A6XX_GMU_AO_HOST_INTERRUPT_CLR, 0xffff_ffff);
    this.write(R.A6XX_GMU_GMU2HOST_INTR_CLR, 0xffff_ffff);
    if (!a7xx) this.write(R.A6XX_GMU_GENERAL_7, 1);
    this.write(R.A6XX_GMU_CM3_FW_INIT_RESULT, 0);
    this.write(R.A6XX_GMU_CM3_BOOT_CONFIG, 0x02);
    this.write(R.A6XX_GMU_HFI_QTBL_ADDR, GMU_UNCACHED_IOVA_BASE);
    this.write(R.A6XX_GMU_HFI_QTBL_INFO, 1);
    const [upper, lower] = a7xx ? [0x32, 0x8a0] : [0xa, 0xa0];
    this.write(R.A6XX_GMU_AHB_FENCE_RANGE_0, ((1 << 31) | (upper << 18) | lower) >>> 0);
    // the chip id as the GMU firmware wants it: core and major bytes as they are, the minor
    // and patch nibbles in [15:12] and [11:8] (or the firmware's own id from the catalog)
    const c = chipId >>> 0;
    const gmuChip = opts.gmuChipId ?? (c & 0xffff_0000) | (((c >>> 8) & 0xf) << 12) | ((c & 0xf) << 8);
    this.write(a7xx ? R.A7XX_GMU_GENERAL_10 : R.A6XX_GMU_HFI_SFR_ADDR, gmuChip >>> 0);
    this.powerConfig();
    let ret = this.cm3Start(a7xx);
    // only the legacy (a630-family) firmware is told about the boot by an OOB request
    if (ret === 0 && this.legacy) ret = this.gfxRailOn();
    if (ret === 0) ret = this.hfiStart();
    if (ret === 0) {
      this.started = true;
      this.stats.starts++;
    }
    return ret;
  }

  /** a6xx_gmu_power_config: no inter-frame power collapse (the model has no power states), RPMh votes on. */
  private powerConfig(): void {
    this.write(R.A6XX_GMU_SYS_BUS_CONFIG, 0x1);
    this.write(R.A6XX_GMU_PWR_COL_INTER_FRAME_CTRL, 0x9c4_0400);
    this.rmw(
      R.A6XX_GMU_RPMH_CTRL,
      0,
      R.A6XX_GMU_RPMH_CTRL_RPMH_INTERFACE_ENABLE |
        R.A6XX_GMU_RPMH_CTRL_LLC_VOTE_ENABLE |
        R.A6XX_GMU_RPMH_CTRL_DDR_VOTE_ENABLE |
        R.A6XX_GMU_RPMH_CTRL_MX_VOTE_ENABLE |
        R.A6XX_GMU_RPMH_CTRL_CX_VOTE_ENABLE |
        R.A6XX_GMU_RPMH_CTRL_GFX_VOTE_ENABLE,
    );
  }

  /** a6xx_gmu_start: pulse the CM3 reset and wait (100 us steps, 10 ms) for the firmware's init value. */
  private cm3Start(a7xx = false): number {
    const version = this.read(R.A6XX_GMU_CM3_DTCM_START + 0xff8);
    const legacy = version <= 0x2001_0004;
    const mask = legacy ? 0xffff_ffff : 0x1ff;
    const want = legacy ? R.GMU_FW_INIT_DONE_LEGACY : R.GMU_FW_INIT_DONE;
    this.write(R.A6XX_GMU_CM3_SYSRESET, 1);
    // a7xx firmware keeps its log write index in GMU_GENERAL_9: start it at 0
    if (a7xx) this.write(R.A7XX_GMU_GENERAL_9, 0);
    this.write(R.A6XX_GMU_CM3_SYSRESET, 0);
    const ret = this.poll(R.A6XX_GMU_CM3_FW_INIT_RESULT, (v) => (v & mask) >>> 0 === want, 100, 10_000);
    if (ret < 0) this.dev.err('GMU firmware initialization timed out');
    return ret;
  }

  /** a6xx_gmu_gfx_rail_on: boot (not slumber), the top power level vote, then the BOOT_SLUMBER OOB. */
  private gfxRailOn(): number {
    this.write(R.A6XX_GMU_BOOT_SLUMBER_OPTION, 0);
    this.write(R.A6XX_GMU_GX_VOTE_IDX, 0);
    this.write(R.A6XX_GMU_MX_VOTE_IDX, 0);
    return this.setOob(R.GMU_OOB.BOOT_SLUMBER);
  }

  /** a6xx_gmu_hfi_start: unmask the message-queue interrupt, start the HFI, wait for its status. */
  private hfiStart(): number {
    this.rmw(R.A6XX_GMU_GMU2HOST_INTR_MASK, R.A6XX_GMU_GMU2HOST_INTR_INFO_MSGQ, 0);
    this.write(R.A6XX_GMU_HFI_CTRL_INIT, 1);
    const ret = this.poll(R.A6XX_GMU_HFI_CTRL_STATUS, (v) => (v & 1) !== 0, 100, 10_000);
    if (ret < 0) this.dev.err('Unable to start the HFI queues');
    else this.stats.hfiStarts++;
    return ret;
  }

  /** a6xx_gmu_isidle: the GPU is not busy as the GMU sees it. */
  isIdle(): boolean {
    return (this.read(R.A6XX_GPU_GMU_AO_GPU_CX_BUSY_STATUS) & R.A6XX_GPU_GMU_AO_GPU_CX_BUSY_STATUS_GPUBUSYIGNAHB) === 0;
  }
}
