import { DRIVER_GEM, DRIVER_RENDER, DRIVER_SYNCOBJ, DrmDevice, EINVAL, drmGemObjectRelease, ENODEV, EPROBE_DEFER, NSEC_PER_MSEC, WorkQueue, delayNs, ktimeGetNs, requestIrq } from '@gki/kernel';
import type { Device, DrmDriver, DrmMmNode, IoMem, Kernel, ModuleRef, OfNode } from '@gki/kernel';
import type { PanfrostFaultStatus } from './exception.js';
import type { PanfrostFeatures } from './features.js';
import type { PanfrostBo, PanfrostGemMapping } from './gem.js';
import { gpuInit, gpuPowerOff, gpuPowerOn, gpuSoftReset } from './gpu.js';
import { PanfrostJobManager, type PanfrostJob } from './job.js';
import { PanfrostMmuManager } from './mmu.js';
import * as R from './regs.js';
import { PanfrostFile } from './file.js';

/** The driver's name: the prefix of its devices' log lines, and the DRM driver name. */
export const PANFROST_DRIVER = 'panfrost';
/**
 * The DRM driver (panfrost_drm_driver): version 1.2 (HEAP/NOEXEC flags and the AFBC_FEATURES
 * parameter), a render node, GEM and syncobjs.
 */
export const PANFROST_DRM_DRIVER: DrmDriver = {
  name: PANFROST_DRIVER,
  desc: 'panfrost DRM',
  date: '20180908',
  major: 1,
  minor: 2,
  patchlevel: 0,
  driverFeatures: DRIVER_RENDER | DRIVER_GEM | DRIVER_SYNCOBJ,
};

/** Per-compatible data (struct panfrost_compatible): supplies and power domains it expects. */
export interface PanfrostCompatible {
  readonly supplies: readonly string[];
  readonly pmDomains: readonly string[];
  /** Amlogic parts need undocumented power-override bits (the model does not write them). */
  readonly amlogicQuirk?: boolean;
}

const DEFAULT_DATA: PanfrostCompatible = { supplies: ['mali'], pmDomains: [] };
const AMLOGIC_DATA: PanfrostCompatible = { supplies: ['mali'], pmDomains: [], amlogicQuirk: true };
const MT8183_DATA: PanfrostCompatible = { supplies: ['mali', 'sram'], pmDomains: ['core0', 'core1', 'core2'] };
const MT8183B_DATA: PanfrostCompatible = { supplies: ['mali'], pmDomains: ['core0', 'core1', 'core2'] };
const MT8186_DATA: PanfrostCompatible = { supplies: ['mali'], pmDomains: ['core0', 'core1'] };
const MT8188_DATA: PanfrostCompatible = { supplies: ['mali'], pmDomains: ['core0', 'core1', 'core2'] };
const MT8192_DATA: PanfrostCompatible = { supplies: ['mali'], pmDomains: ['core0', 'core1', 'core2', 'core3', 'core4'] };

/**
 * panfrost's OF match table (dt_match), in the kernel's order: the vendor entries that need
 * special data first, then the generic Arm compatibles a SoC's node lists after its own
 * (rk3399's GPU is "rockchip,rk3399-mali", "arm,mali-t860" and matches the second).
 */
export const PANFROST_OF_MATCH: readonly { compatible: string; data: PanfrostCompatible }[] = [
  { compatible: 'amlogic,meson-gxm-mali', data: AMLOGIC_DATA },
  { compatible: 'amlogic,meson-g12a-mali', data: AMLOGIC_DATA },
  { compatible: 'arm,mali-t604', data: DEFAULT_DATA },
  { compatible: 'arm,mali-t624', data: DEFAULT_DATA },
  { compatible: 'arm,mali-t628', data: DEFAULT_DATA },
  { compatible: 'arm,mali-t720', data: DEFAULT_DATA },
  { compatible: 'arm,mali-t760', data: DEFAULT_DATA },
  { compatible: 'arm,mali-t820', data: DEFAULT_DATA },
  { compatible: 'arm,mali-t830', data: DEFAULT_DATA },
  { compatible: 'arm,mali-t860', data: DEFAULT_DATA },
  { compatible: 'arm,mali-t880', data: DEFAULT_DATA },
  { compatible: 'arm,mali-bifrost', data: DEFAULT_DATA },
  { compatible: 'arm,mali-valhall-jm', data: DEFAULT_DATA },
  { compatible: 'mediatek,mt8183-mali', data: MT8183_DATA },
  { compatible: 'mediatek,mt8183b-mali', data: MT8183B_DATA },
  { compatible: 'mediatek,mt8186-mali', data: MT8186_DATA },
  { compatible: 'mediatek,mt8188-mali', data: MT8188_DATA },
  { compatible: 'mediatek,mt8192-mali', data: MT8192_DATA },
  { compatible: 'mediatek,mt8370-mali', data: MT8188_DATA },
  { compatible: 'allwinner,sun50i-h616-mali', data: DEFAULT_DATA },
];

/** One MMU fault the interrupt thread saw; plain data. */
export interface PanfrostFaultRecord {
  readonly as: number;
  readonly addr: number;
  readonly status: PanfrostFaultStatus;
  /** True when it was a growable-heap fault the driver resolved. */
  readonly handled: boolean;
  /** Simulated time (ns). */
  readonly t: number;
}

/** Driver debugging knobs (fault injection). */
export interface PanfrostDebug {
  /**
   * Skip the next N LOCK + FLUSH_PT sequences after a map or unmap, as a driver that forgot
   * its TLB maintenance would: the hardware keeps translating through stale TLB entries.
   */
  skipFlushes: number;
}

/** of_dma_is_coherent: the nearest `dma-coherent` / `dma-noncoherent` up the tree decides. */
function ofDmaIsCoherent(np: OfNode | null): boolean {
  for (let n = np; n; n = n.parent) {
    if (n.hasProperty('dma-coherent')) return true;
    if (n.hasProperty('dma-noncoherent')) return false;
  }
  return false;
}

/** The registered panfrost DRM devices of `kernel`, in minor order. */
export function panfrostDevices(kernel: Kernel): readonly PanfrostDevice[] {
  return kernel.drm.devices().flatMap((d) => (d.priv instanceof PanfrostDevice ? [d.priv] : []));
}

/** The panfrost device bound to `dev`, if any. */
export function panfrostFromDevice(dev: Device): PanfrostDevice | undefined {
  const d = dev.getDrvdata<unknown>();
  return d instanceof PanfrostDevice ? d : undefined;
}

/**
 * One Mali GPU as panfrost drives it (struct panfrost_device plus its DRM device): the
 * register window, the features read at probe, the MMU side (AS slots, page tables, faults),
 * the job side (scheduler, interrupts, reset), the open files and the buffers' fake mmap
 * offsets. Created by the platform driver's probe; `open()` is what opening its render node
 * does.
 */
export class PanfrostDevice {
  readonly kernel: Kernel;
  regs!: IoMem;
  features!: PanfrostFeatures;
  readonly coherent: boolean;
  readonly comp: PanfrostCompatible;
  readonly mmu: PanfrostMmuManager;
  readonly js: PanfrostJobManager;
  /** The DRM device (pfdev->ddev): minors, open files, registration. */
  readonly ddev: DrmDevice<PanfrostFile>;
  readonly debug: PanfrostDebug = { skipFlushes: 0 };
  /** MMU faults seen, oldest first (the last 256). */
  readonly faults: PanfrostFaultRecord[] = [];
  /** @internal */
  coreGroupNoticeShown = false;
  private probed = false;
  /** Deferred work (the driver's kthread worker / workqueue items). */
  private readonly wq = new WorkQueue();
  private readonly nodeMappings = new WeakMap<DrmMmNode, PanfrostGemMapping>();
  /** Buffers marked DONTNEED, in the order they were marked (the shrinker's list). */
  readonly shrinkerList: PanfrostBo[] = [];
  private nextFileId = 1;
  private nextBoId = 1;
  private nextContext = 1;

  constructor(
    readonly dev: Device,
    /** The module that owns the driver: every open file holds a reference on it. */
    readonly owner: ModuleRef | null,
  ) {
    this.kernel = dev.core.kernel;
    this.ddev = new DrmDevice<PanfrostFile>(dev, PANFROST_DRM_DRIVER, owner, this);
    this.coherent = ofDmaIsCoherent(dev.ofNode);
    this.comp = (dev.matchData as PanfrostCompatible | undefined) ?? DEFAULT_DATA;
    this.mmu = new PanfrostMmuManager(this);
    this.js = new PanfrostJobManager(this);
  }

  /** True while the registers may be touched (probed, not removed, window still mapped). */
  get hwAccessible(): boolean {
    return this.probed && !this.ddev.isUnplugged && this.regs !== undefined && this.regs.mapped;
  }

  get isRegistered(): boolean {
    return this.ddev.isRegistered;
  }

  /** The DRM minor the kernel logs ("on minor N", the cardN number), -1 while unregistered. */
  get minor(): number {
    return this.ddev.index;
  }

  /** The render node's name ("renderD128"). */
  get renderNode(): string {
    return this.ddev.renderNode;
  }

  /** The open files. */
  get files(): ReadonlySet<PanfrostFile> {
    return this.ddev.files;
  }

  // ------------------------------------------------------------------ probe / remove

  /**
   * panfrost_probe + panfrost_device_init: map the registers, reset and identify the GPU,
   * request the gpu, mmu and job interrupts, power the cores, register the DRM device.
   * Clocks, regulators, resets and power domains are optional here (trimmed trees have none).
   */
  probe(): number {
    const dev = this.dev;
    const res = dev.resource('mem', 0);
    if (res && res.end - res.start + 1 < R.PANFROST_REG_WINDOW) {
      dev.err(`register window too small (0x${(res.end - res.start + 1).toString(16)} bytes, need 0x${R.PANFROST_REG_WINDOW.toString(16)})`);
      return -EINVAL;
    }
    const regs = dev.ioremap(0);
    if (typeof regs === 'number') {
      dev.err('failed to ioremap iomem');
      return regs;
    }
    this.regs = regs;
    this.probed = true;
    let r = gpuInit(this);
    if (r >= 0) r = this.mmuInit();
    if (r >= 0) r = this.jobInit();
    if (r < 0) {
      this.probed = false;
      if (r !== -EPROBE_DEFER) dev.err('Fatal error during GPU init');
      return r;
    }
    // The GPU stays powered (no runtime PM in the model): what the first runtime resume does
    // in the kernel happens here, the MMU reset that clears and unmasks the MMU interrupts.
    this.mmu.reset();
    r = this.ddev.register();
    if (r < 0) {
      this.probed = false;
      return r;
    }
    return 0;
  }

  private mmuInit(): number {
    const irq = this.dev.irqByName('mmu');
    if (irq < 0) return irq;
    const r = this.requestIrq(irq, () => this.mmu.irq());
    if (r < 0) this.dev.err('failed to request mmu irq');
    return r;
  }

  private jobInit(): number {
    const irq = this.dev.irqByName('job');
    if (irq < 0) return irq;
    const r = this.requestIrq(irq, () => this.js.irq());
    if (r < 0) {
      this.dev.err('failed to request job irq');
      return r;
    }
    this.js.enableInterrupts();
    return 0;
  }

  /** devm_request_irq with IRQF_SHARED; the handler ends by running deferred work. */
  requestIrq(irq: number, handler: () => void): number {
    return requestIrq(
      this.dev,
      irq,
      () => {
        handler();
        this.drain();
      },
      { shared: true },
    );
  }

  /**
   * panfrost_remove: unregister the DRM device (no new opens), end every job with -ENODEV,
   * mask the job and MMU interrupts and power the GPU down. Open files stay valid only for
   * close(); their calls answer -ENODEV.
   */
  remove(): void {
    const live = this.hwAccessible;
    this.ddev.unregister();
    if (live) {
      this.js.abortAll(-ENODEV);
      this.drain();
      this.js.fini();
      this.mmu.fini();
      gpuPowerOff(this);
    }
    this.ddev.unplug();
    this.drain();
    this.ddev.put();
  }

  /** panfrost_device_reset: soft reset, power on, MMU reset, job interrupts on. */
  deviceReset(): void {
    gpuSoftReset(this);
    gpuPowerOn(this);
    this.mmu.reset();
    this.js.enableInterrupts();
  }

  /** panfrost_device_schedule_reset: a reset runs as deferred work. */
  scheduleReset(): void {
    this.js.resetPending = true;
    this.queueWork(() => this.js.reset(null));
  }

  // ------------------------------------------------------------------ deferred work and time

  /** Queues work (a workqueue item); it runs when the outermost driver entry point finishes. */
  queueWork(fn: () => void): void {
    this.wq.queue(fn);
  }

  /** Runs queued work until none is left (not re-entrant: a nested call returns at once). */
  drain(): void {
    this.wq.flush();
  }

  /** Fires the timers that are due (the job timeout). */
  runTimers(): void {
    if (!this.hwAccessible) return;
    this.js.checkTimeouts();
    this.drain();
  }

  /**
   * Sleeps (lets simulated time pass) until `cond()` holds or the clock reaches `deadline`;
   * deferred work and timers run meanwhile. Time advances in steps of at most 1 ms and never
   * past the next job timeout. Returns cond(). When nothing is pending that could change
   * anything (no job on the hardware, no work) an unbounded wait gives up at once rather than
   * sleep forever.
   */
  waitUntil(cond: () => boolean, deadline: number): boolean {
    for (;;) {
      this.drain();
      this.runTimers();
      if (cond()) return true;
      const now = ktimeGetNs(this.kernel);
      if (now >= deadline) return false;
      const next = this.js.nextDeadline();
      if (next === Number.POSITIVE_INFINITY && !Number.isFinite(deadline)) return cond();
      const target = Math.min(deadline, next, now + NSEC_PER_MSEC);
      delayNs(this.kernel, Math.max(1, target - now));
    }
  }

  /**
   * Entry point of every file operation: -ENODEV once the device is gone; otherwise runs due
   * timers, the operation, then the work it queued.
   */
  call<T>(fn: () => T | number): T | number {
    if (!this.hwAccessible) return -ENODEV;
    this.runTimers();
    try {
      return fn();
    } finally {
      this.drain();
    }
  }

  // ------------------------------------------------------------------ files

  /**
   * Opening the render node (drm_open + panfrost_open): a module reference for the file (the
   * DRM fops owner) and a fresh GPU address space. -ENODEV when the device is gone or its
   * module is going away; -EINVAL when no ARM_MALI_LPAE page table can be had.
   */
  open(): PanfrostFile | number {
    if (!this.hwAccessible) return -ENODEV;
    return this.ddev.open(() => {
      const mmu = this.mmu.ctxCreate();
      return typeof mmu === 'number' ? mmu : new PanfrostFile(this, mmu, this.nextFileId++);
    });
  }

  /** @internal A fresh fence context number (one per file and job slot). */
  newFenceContext(): number {
    return this.nextContext++;
  }

  /** @internal */
  newBoId(): number {
    return this.nextBoId++;
  }

  // ------------------------------------------------------------------ GEM references

  /** @internal */
  registerMapping(m: PanfrostGemMapping): void {
    this.nodeMappings.set(m.node, m);
  }

  /** @internal The mapping that owns a drm_mm node. */
  mappingOfNode(node: DrmMmNode): PanfrostGemMapping | undefined {
    return this.nodeMappings.get(node);
  }

  /** @internal */
  boGet(bo: PanfrostBo): void {
    bo.refcount++;
  }

  /** @internal drm_gem_object_put: the last reference frees the pages and the mmap offset. */
  boPut(bo: PanfrostBo): void {
    if (--bo.refcount > 0) return;
    const i = this.shrinkerList.indexOf(bo);
    if (i >= 0) this.shrinkerList.splice(i, 1);
    if (bo.mappings.length > 0) this.dev.warn(`BO ${bo.id} freed with ${bo.mappings.length} mapping(s) left`);
    bo.freePages();
    // drm_gem_shmem_free -> drm_gem_object_release: the fake mmap offset goes back
    drmGemObjectRelease(this.ddev, bo);
    bo.freed = true;
  }

  /** @internal */
  gemMappingGet(m: PanfrostGemMapping): void {
    m.refcount++;
  }

  /**
   * @internal panfrost_gem_mapping_put: the last reference unmaps the buffer (with the flush)
   * if it is mapped, frees its GPU VA node, and drops the buffer and context references.
   */
  gemMappingPut(m: PanfrostGemMapping): void {
    if (--m.refcount > 0) return;
    this.gemTeardownMapping(m);
    m.released = true;
    this.boPut(m.bo);
    this.mmu.ctxPut(m.mmu);
  }

  /** @internal panfrost_gem_teardown_mapping. */
  gemTeardownMapping(m: PanfrostGemMapping): void {
    if (m.active) this.mmu.unmap(m);
    if (m.node.allocated) m.mmu.mm.removeNode(m.node);
  }

  /** @internal drm_sched's free_job: the job's buffers, mappings and context go. */
  jobCleanup(job: PanfrostJob): void {
    for (const m of job.mappings) {
      m.bo.gpuUsecount--;
      this.gemMappingPut(m);
    }
    for (const bo of job.bos) this.boPut(bo);
    this.mmu.ctxPut(job.mmu);
  }

  /** @internal */
  recordFault(r: Omit<PanfrostFaultRecord, 't'>): void {
    this.faults.push({ ...r, t: ktimeGetNs(this.kernel) });
    if (this.faults.length > 256) this.faults.shift();
  }

  /**
   * The shrinker under memory pressure (panfrost_gem_shrinker_scan): purges buffers marked
   * DONTNEED that no job is using, oldest mark first, until `pages` pages are freed (default:
   * all it can): each loses its GPU mapping (with the flush) and its pages; MADVISE WILLNEED
   * then reports retained = 0. Returns the pages freed.
   */
  shrink(pages = Number.POSITIVE_INFINITY): number {
    let freed = 0;
    for (const bo of [...this.shrinkerList]) {
      if (freed >= pages) break;
      if (bo.gpuUsecount > 0 || bo.isHeap || !bo.hasPages) continue;
      for (const m of bo.mappings) this.gemTeardownMapping(m);
      freed += bo.size / 0x1000;
      bo.freePages();
      bo.madv = -1;
      this.shrinkerList.splice(this.shrinkerList.indexOf(bo), 1);
    }
    this.drain();
    return freed;
  }

  /** Simulated time now (ns). */
  now(): number {
    return ktimeGetNs(this.kernel);
  }
}
