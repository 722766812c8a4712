import { DRIVER_GEM, DRIVER_RENDER, DRIVER_SYNCOBJ, DrmDevice, EINVAL, EIO, ENODEV, ENXIO, EPROBE_DEFER, NSEC_PER_MSEC, WorkQueue, delayNs, drmGemCreateMmapOffset, drmGemObjectRelease, drmVmaNodeOffsetAddr, ktimeGetNs } from '@gki/kernel';
import type { Device, DrmDriver, Kernel, ModuleRef } from '@gki/kernel';
import { MsmGemAddressSpace, msmGemCloseVma, msmGemPurgeVma, msmGemUnmapVma } from './aspace.js';
import { A3xxGpu, A4xxGpu } from './a3xx.js';
import { A5xxGpu } from './a5xx.js';
import { adrenoInfo, adrenoIsA3xx, adrenoIsA4xx, adrenoIsA5xx, chipIdString, findChipId } from './catalog.js';
import { MsmContext, NR_SCHED_PRIORITIES, msmGpuConvertPriority, type MsmGemSubmit } from './context.js';
import { MsmGemObject } from './gem.js';
import { A6xxGpu, MSM_PRIVATE_VA_START, type MsmDebug } from './gpu.js';
import { MsmIommuPagetable } from './mmu.js';
import { MsmFile } from './file.js';

/** The DRM driver's name. */
export const MSM_DRIVER_NAME = 'msm';
/**
 * The DRM driver as msm_drv.c describes it ("msm", "MSM Snapdragon DRM", 20130625, version
 * 1.12) for a GPU without a display: a render node, GEM and syncobjs, no modesetting.
 */
export const MSM_DRM_DRIVER: DrmDriver = {
  name: MSM_DRIVER_NAME,
  desc: 'MSM Snapdragon DRM',
  date: '20130625',
  major: 1,
  minor: 12,
  patchlevel: 0,
  driverFeatures: DRIVER_GEM | DRIVER_RENDER | DRIVER_SYNCOBJ,
};
/** The platform driver's name (adreno_device.c), the prefix of the GPU's log lines. */
export const ADRENO_DRIVER_NAME = 'adreno';

/** adreno_device.c's OF match table. */
export const ADRENO_OF_MATCH: readonly { compatible: string }[] = [
  { compatible: 'qcom,adreno' },
  { compatible: 'qcom,adreno-3xx' },
  // i.MX5's Z430
  { compatible: 'amd,imageon' },
  // downstream kgsl device trees
  { compatible: 'qcom,kgsl-3d0' },
];

/** Who opens a render node: the process identity msm keeps for fault reports. */
export interface MsmOpenOptions {
  pid?: number;
  /** task->comm (at most 15 characters in Linux). */
  comm?: string;
  cmdline?: string;
  /** The process has CAP_SYS_ADMIN (SET_PARAM SYSPROF). */
  privileged?: boolean;
}

/** The identity a file is opened with: an object whose given fields have their types. */
function validOpenOptions(o: unknown): o is MsmOpenOptions {
  if (o === null || typeof o !== 'object') return false;
  const v = o as Record<string, unknown>;
  if (v.pid !== undefined && !(Number.isSafeInteger(v.pid) && (v.pid as number) >= 0)) return false;
  if (v.comm !== undefined && typeof v.comm !== 'string') return false;
  if (v.cmdline !== undefined && typeof v.cmdline !== 'string') return false;
  return v.privileged === undefined || typeof v.privileged === 'boolean';
}

/** The registered msm DRM devices of `kernel`, in minor order. */
export function msmDevices(kernel: Kernel): readonly MsmDrmDevice[] {
  return kernel.drm.devices().flatMap((d) => (d.priv instanceof MsmDrmDevice ? [d.priv] : []));
}

/** The msm device bound to `dev`, if any. */
export function msmFromDevice(dev: Device): MsmDrmDevice | undefined {
  const d = dev.getDrvdata<unknown>();
  return d instanceof MsmDrmDevice ? d : undefined;
}

let ident = 0;

/**
 * One Adreno GPU as msm presents it (a headless msm DRM device: struct msm_drm_private with its
 * msm_gpu): created by the adreno platform driver's probe, which brings the GPU up (the model
 * keeps it powered: what the first runtime resume does in the kernel happens at probe).
 * `open()` is what opening its render node does. Every open file holds a reference on the
 * module; every file gets its own GPU address space when the SMMU offers per-process page
 * tables, and shares the global one otherwise.
 */
export class MsmDrmDevice {
  readonly kernel: Kernel;
  gpu!: A6xxGpu;
  /** The DRM device (priv->dev): minors, open files, registration. */
  readonly ddev: DrmDevice<MsmFile>;
  readonly debug: MsmDebug = { skipUnmapFlushes: 0, skipTtbrSwitches: 0 };
  private probed = false;
  /** Deferred work (the driver's kthread worker / workqueue items). */
  private readonly wq = new WorkQueue();
  private nextBoId = 1;
  private nextSubmitId = 1;
  private nextFileId = 1;

  constructor(
    readonly dev: Device,
    /** The module owning the driver: each open file holds a reference on it. */
    readonly owner: ModuleRef | null,
  ) {
    this.kernel = dev.core.kernel;
    this.ddev = new DrmDevice<MsmFile>(dev, MSM_DRM_DRIVER, owner, this);
  }

  get hwAccessible(): boolean {
    return this.probed && !this.ddev.isUnplugged && this.gpu?.regs?.mapped === true;
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
  get files(): ReadonlySet<MsmFile> {
    return this.ddev.files;
  }

  // ------------------------------------------------------------------ probe / remove

  /**
   * adreno_bind + adreno_load_gpu: the chip id from the compatible, the gpulist entry, GPU
   * init (GMU, SMMU domain, rings), the hardware init, and the DRM device registration.
   * -ENXIO for an unknown GPU; the failing step's error otherwise.
   */
  probe(): number {
    const dev = this.dev;
    if (!dev.ofNode) return -ENODEV;
    const chipId = findChipId(dev.ofNode, (m) => dev.warn(m));
    if (chipId < 0) {
      dev.err(`could not parse qcom,chipid: ${chipId}`);
      return chipId;
    }
    const info = adrenoInfo(chipId);
    if (!info) {
      const major = (chipId >>> 24) & 0xff;
      // Linux's msm also drives the a2xx family (adreno_device.c's other gpulist, with its own
      // GPU MMU); this driver has the a3xx..a7xx ones. Saying "unknown" for a GPU the kernel
      // supports would mislead, so it gets a line of its own (its wording, which names the
      // families this model drove first, is kept: tools match it).
      if (major === 2) dev.warn(`Adreno ${major}xx GPU (revision ${chipIdString(chipId)}): Linux's msm drives this family, this model of it does not (a3xx to a7xx only)`);
      // The a8xx family (sm8750's a830, kaanapali's a840, glymur's X2-85: chip ids with core 8
      // or the hex-numbered 0x44xxxxxx) has a gpulist and a GPU backend of its own in the
      // kernels whose trees carry it (a8xx_gpu.c); likewise not an unknown revision.
      else if (major === 8 || major === 0x44) dev.warn(`Adreno 8xx GPU (revision ${chipIdString(chipId)}): Linux's msm drives this family (a8xx_gpu), this model of it does not (a3xx to a7xx only)`);
      // The a612 (qcs615/talos) is driven through an RGMU, a reduced GMU msm handles apart.
      else if ((chipId >>> 0) === 0x0601_0200) dev.warn(`Adreno 612 GPU (revision ${chipIdString(chipId)}): Linux's msm drives it through its RGMU (qcom,adreno-rgmu), which this model does not have`);
      else dev.warn(`Unknown GPU revision: ${chipIdString(chipId)}`);
      return -ENXIO;
    }
    // a3xx_gpu_init / a4xx_gpu_init / a5xx_gpu_init for those families, a6xx_gpu_init for the rest
    const gpu = adrenoIsA3xx(info) ? new A3xxGpu(this, info, chipId) : adrenoIsA4xx(info) ? new A4xxGpu(this, info, chipId) : adrenoIsA5xx(info) ? new A5xxGpu(this, info, chipId) : new A6xxGpu(this, info, chipId);
    this.gpu = gpu;
    let r = gpu.init();
    if (r < 0) {
      // adreno_bind warns (dev_warn), whatever the reason the GPU could not be set up
      if (r !== -EPROBE_DEFER) dev.warn(`failed to load adreno gpu: ${r}`);
      return r;
    }
    gpu.onRetire = (s) => this.retireSubmit(s);
    this.probed = true;
    r = gpu.hwInit();
    this.drain();
    if (r < 0) {
      dev.err(`gpu hw init failed: ${r}`);
      gpu.fini();
      this.probed = false;
      return r;
    }
    r = this.ddev.register();
    if (r < 0) {
      gpu.fini();
      this.probed = false;
      return r;
    }
    return 0;
  }

  /**
   * adreno_unbind / msm_drm_uninit: the DRM device goes (no new opens), submits still queued or
   * running end with -ENODEV, the GPU is halted and its buffers, address space and GMU
   * released. Open files stay valid for close() only.
   */
  remove(): void {
    this.ddev.unregister();
    if (this.probed && this.gpu) {
      for (const ring of this.gpu.rings) {
        for (const s of [...ring.submits, ...ring.pending]) {
          this.gpu.abort(s, -ENODEV);
          this.retireSubmit(s);
        }
        ring.submits.length = 0;
        ring.pending.length = 0;
      }
      this.drain();
      this.gpu.fini();
    }
    this.ddev.unplug();
    this.wq.cancelAll();
    this.ddev.put();
  }

  // ------------------------------------------------------------------ deferred work and time

  /** Queues work (a kthread work item); it runs when the outermost driver entry point ends. */
  queueWork(fn: () => void): void {
    this.wq.queue(fn);
  }

  drain(): void {
    this.wq.flush();
  }

  runTimers(): void {
    if (!this.hwAccessible) return;
    this.gpu.runTimers();
    this.drain();
  }

  /** Whether anything could still change without user action: submits on a ring, or work. */
  private get busy(): boolean {
    return this.wq.pending > 0 || (this.gpu?.rings.some((r) => r.submits.length > 0 || r.pending.length > 0) ?? false);
  }

  /**
   * Sleeps until `cond()` holds or the board clock reaches `deadline`; the GPU is polled (a
   * register read, which lets the model run), deferred work and the hang check run meanwhile.
   * Time advances by at most 1 ms per step and never past the hang check. With nothing left
   * that could change anything, an unbounded wait gives up at once.
   */
  waitUntil(cond: () => boolean, deadline: number): boolean {
    for (;;) {
      this.drain();
      this.runTimers();
      if (cond()) return true;
      if (this.hwAccessible) {
        this.gpu.poke();
        this.drain();
        if (cond()) return true;
      }
      const now = ktimeGetNs(this.kernel);
      if (now >= deadline) return false;
      if (!this.busy && !Number.isFinite(deadline)) return cond();
      const next = this.hwAccessible ? this.gpu.hangcheckAt : Number.POSITIVE_INFINITY;
      const target = Math.min(deadline, next, now + NSEC_PER_MSEC);
      delayNs(this.kernel, Math.max(1, target - now));
    }
  }

  /** Entry point of every file operation: -ENODEV once the device is gone. */
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
   * Opening the render node (drm_open + msm_open): a module reference for the file, a context
   * with its default submit queue and its address space (msm_gpu_create_private_address_space:
   * a private page table, or the global space when the SMMU cannot give one). -EINVAL for
   * options of the wrong shape (nothing is allocated); -ENODEV when the device is gone or its
   * module is going away.
   */
  open(opts: MsmOpenOptions = {}): MsmFile | number {
    if (!this.hwAccessible) return -ENODEV;
    if (!validOpenOptions(opts)) return -EINVAL;
    return this.ddev.open(() => this.createFile(opts));
  }

  /** msm_open: the file's context, its default submit queue and its address space. */
  private createFile(opts: MsmOpenOptions): MsmFile {
    const pid = opts.pid ?? 1000 + this.nextFileId;
    const comm = (opts.comm ?? `proc${pid}`).slice(0, 15);
    const aspace = this.createPrivateAddressSpace(pid);
    const ctx = new MsmContext(++ident, aspace, pid, comm, opts.cmdline ?? comm, (c) => c.aspace.put());
    const maxPrio = this.gpu.nrRings * NR_SCHED_PRIORITIES - 1;
    const conv = msmGpuConvertPriority(this.gpu.nrRings, Math.ceil(maxPrio / 2));
    if (typeof conv !== 'number') ctx.addQueue(Math.ceil(maxPrio / 2), 0, conv.ringNr, conv.schedPrio);
    const file = new MsmFile(this, ctx, this.nextFileId++);
    file.privileged = opts.privileged === true;
    return file;
  }

  /**
   * msm_gpu_create_private_address_space: a page table of the process's own from the SMMU's
   * TTBR1 configuration, covering [4 GiB, 4 GiB + size); a GPU generation without per-process
   * tables (a5xx) or any failure (no Adreno interface, the format module missing) falls back to
   * a reference on the global address space.
   */
  private createPrivateAddressSpace(pid: number): MsmGemAddressSpace {
    const gpu = this.gpu;
    // no create_private_address_space (a5xx): every process shares the GPU's domain
    if (!gpu.perProcessPagetables) return gpu.aspace.get();
    const pt = MsmIommuPagetable.create(gpu.mmu);
    if (typeof pt === 'number') return gpu.aspace.get();
    const aspace = new MsmGemAddressSpace(this.kernel, 'gpu', pt, MSM_PRIVATE_VA_START, gpu.privateAddressSpaceSize);
    aspace.pid = pid;
    return aspace;
  }

  /** @internal */
  newBoId(): number {
    return this.nextBoId++;
  }

  /** @internal */
  newSubmitId(): number {
    return this.nextSubmitId++;
  }

  // ------------------------------------------------------------------ objects and submits

  /** @internal drm_gem_object_put: the last reference unmaps (with the flush) and frees the object. */
  gemPut(obj: MsmGemObject): void {
    if (--obj.refcount > 0) return;
    obj.release();
    // msm_gem_free_object -> drm_gem_object_release: the fake mmap offset goes back
    drmGemObjectRelease(this.ddev, obj);
  }

  /** @internal msm_gem_close for a file's handle: its VMA in the file's space goes if unused. */
  gemCloseFor(obj: MsmGemObject, aspace: MsmGemAddressSpace): void {
    const v = obj.vmaIn(aspace);
    if (v && v.inuse === 0) {
      msmGemPurgeVma(v, obj.size);
      if (msmGemCloseVma(v) === 0) obj.vmas.splice(obj.vmas.indexOf(v), 1);
    }
  }

  /**
   * @internal msm_gem_mmap_offset: the object's fake mmap offset in bytes, made on first use
   * in the DRM device's offset space (drm_gem_create_mmap_offset, idempotent), or -ENOSPC.
   */
  mmapOffset(obj: MsmGemObject): number {
    const r = drmGemCreateMmapOffset(this.ddev, obj);
    return r < 0 ? r : drmVmaNodeOffsetAddr(obj.vmaNode);
  }

  /**
   * @internal The scheduler: a submit goes to its ring at once when the ring has room,
   * otherwise it waits (higher scheduler priority first, in order within a priority) until
   * retirement frees space.
   */
  queueSubmit(submit: MsmGemSubmit): void {
    const ring = this.gpu.rings[submit.ringNr]!;
    let i = ring.pending.length;
    while (i > 0 && ring.pending[i - 1]!.queue.schedPrio < submit.queue.schedPrio) i--;
    ring.pending.splice(i, 0, submit);
    this.pump();
  }

  /** Moves waiting submits to their ring while it has room. */
  pump(): void {
    if (!this.hwAccessible) return;
    for (const ring of this.gpu.rings) {
      while (ring.pending.length > 0 && this.gpu.hasRoom(ring.pending[0]!)) {
        const s = ring.pending.shift()!;
        if (this.gpu.submit(s) < 0) {
          ring.pending.unshift(s);
          break;
        }
      }
    }
  }

  /**
   * retire_submit: the buffers are unpinned and their references dropped, the user fence is
   * signalled (with -EIO for a submit blamed for a fault or hang) and leaves the queue's id
   * table, the queue reference goes; then waiting submits may use the space.
   */
  private retireSubmit(s: MsmGemSubmit): void {
    if (s.retired) return;
    s.retired = true;
    const now = ktimeGetNs(this.kernel);
    s.userFence.signal(now, s.blamed ? -EIO : (s.hwFence?.error ?? 0));
    for (const b of s.bos) {
      msmGemUnmapVma(b.vma);
      this.gemPut(b.obj);
    }
    s.queue.retire(s.fenceId, s.userFence.status);
    s.queue.put();
    this.queueWork(() => this.pump());
  }
}
