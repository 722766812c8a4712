import { DRM_MM_INSERT_BEST, DrmHandleTable, DrmMmNode, EBADF, EBUSY, EFAULT, EINVAL, ENODEV, ENOENT, ETIME, ETIMEDOUT, NSEC_PER_MSEC, drmGemCreateMmapOffset, drmGemHandleCreate, drmGemHandleDelete, drmGemMmap, drmTimeoutAbsDeadline, drmTimeoutAbsToNs, drmVmaNodeOffsetAddr, ktimeGetNs } from '@gki/kernel';
import type { PanfrostDevice } from './device.js';
import { PanfrostBo, PanfrostCpuMapping, PanfrostGemMapping } from './gem.js';
import { PanfrostFence, PanfrostJob, panfrostJobSlot, type PanfrostEntity } from './job.js';
import type { PanfrostMmu } from './mmu.js';
import { HW_FEATURE_FLUSH_REDUCTION, hasHwFeature } from './features.js';
import * as R from './regs.js';
import {
  DRM_PANFROST_PARAM_AFBC_FEATURES,
  DRM_PANFROST_PARAM_JS_FEATURES0,
  DRM_PANFROST_PARAM_JS_FEATURES15,
  DRM_PANFROST_PARAM_TEXTURE_FEATURES0,
  DRM_PANFROST_PARAM_TEXTURE_FEATURES3,
  DRM_SYNCOBJ_CREATE_SIGNALED,
  DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL,
  PANFROST_BO_HEAP,
  PANFROST_BO_NOEXEC,
  PANFROST_JD_REQ_FS,
  PANFROST_MADV_DONTNEED,
  PANFROST_MADV_WILLNEED,
  type DrmPanfrostCreateBo,
  type DrmPanfrostCreateBoOut,
  type DrmPanfrostGetBoOffset,
  type DrmPanfrostGetParam,
  type DrmPanfrostMadvise,
  type DrmPanfrostMmapBo,
  type DrmPanfrostSubmit,
  type DrmPanfrostWaitBo,
  type DrmSyncobjWait,
} from './uapi.js';

/** The argument of an operation that takes none (see `op`). */
const NO_ARGS: object = Object.freeze({});

const PAGE_SIZE = 0x1000;
const SZ_2M = 0x20_0000;
const U32_MAX = 0xffff_ffff;
/** How long closing a file lets its queued jobs reach the hardware (drm_sched's entity flush). */
const ENTITY_FLUSH_MS = 1000;

function isU32(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= U32_MAX;
}

/** A syncobj: a container for the latest fence (drm_syncobj). */
interface Syncobj {
  fence: PanfrostFence | null;
}

/**
 * An open panfrost DRM file (struct drm_file + panfrost_file_priv): one GPU address space,
 * a GEM handle table, syncobjs, and the driver's ioctls as methods. Every method returns a
 * negative errno on failure, as the ioctl would, and leaves nothing changed; -EBADF after
 * close(), -ENODEV once the device is gone.
 */
export class PanfrostFile {
  /** GEM handles (the file's object_idr). */
  private readonly handles = new DrmHandleTable<PanfrostBo>();
  /** Syncobj handles (the file's syncobj_idr). */
  private readonly syncobjs = new DrmHandleTable<Syncobj>();
  private readonly entities: PanfrostEntity[];
  private closed = false;

  constructor(
    readonly pfdev: PanfrostDevice,
    /** The file's address space (panfrost_file_priv->mmu). */
    readonly mmu: PanfrostMmu,
    readonly id: number,
  ) {
    this.entities = [0, 1, 2].map((slot) => ({ context: pfdev.newFenceContext(), seqno: 0, slot }));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The AS slot the file's context owns now (-1: none). */
  get as(): number {
    return this.mmu.as;
  }

  /**
   * Runs one ioctl of this file: -EBADF once closed, -EFAULT when the argument is not an
   * object (the kernel's copy_from_user of a bad pointer; NO_ARGS for calls without one), else
   * `fn` under the device's call.
   */
  private op<T>(args: unknown, fn: () => T | number): T | number {
    if (this.closed) return -EBADF;
    if (args === null || typeof args !== 'object') return -EFAULT;
    return this.pfdev.call(fn);
  }

  private lookup(handle: number): PanfrostBo | undefined {
    return this.handles.lookup(handle);
  }

  private mappingOf(bo: PanfrostBo): PanfrostGemMapping | undefined {
    return bo.mappings.find((m) => m.mmu === this.mmu);
  }

  // ------------------------------------------------------------------ GET_PARAM

  /** DRM_IOCTL_PANFROST_GET_PARAM: a GPU property; -EINVAL for a non-zero pad or unknown param. */
  getParam(args: DrmPanfrostGetParam): { value: bigint } | number {
    return this.op(args, () => {
      if ((args.pad ?? 0) !== 0 || !isU32(args.param)) return -EINVAL;
      const f = this.pfdev.features;
      const p = args.param;
      const simple: (number | bigint)[] = [
        f.id,
        f.revision,
        f.shaderPresent,
        f.tilerPresent,
        f.l2Present,
        f.stackPresent,
        f.asPresent,
        f.jsPresent,
        f.l2Features,
        f.coreFeatures,
        f.tilerFeatures,
        f.memFeatures,
        f.mmuFeatures,
        f.threadFeatures,
        f.maxThreads,
        f.threadMaxWorkgroupSz,
        f.threadMaxBarrierSz,
        f.coherencyFeatures,
      ];
      let v: number | bigint | undefined;
      if (p < simple.length) v = simple[p];
      else if (p >= DRM_PANFROST_PARAM_TEXTURE_FEATURES0 && p <= DRM_PANFROST_PARAM_TEXTURE_FEATURES3) v = f.textureFeatures[p - DRM_PANFROST_PARAM_TEXTURE_FEATURES0];
      else if (p >= DRM_PANFROST_PARAM_JS_FEATURES0 && p <= DRM_PANFROST_PARAM_JS_FEATURES15) v = f.jsFeatures[p - DRM_PANFROST_PARAM_JS_FEATURES0];
      else if (p === DRM_PANFROST_PARAM_JS_FEATURES15 + 1) v = f.nrCoreGroups;
      else if (p === DRM_PANFROST_PARAM_JS_FEATURES15 + 2) v = f.threadTlsAlloc;
      else if (p === DRM_PANFROST_PARAM_AFBC_FEATURES) v = f.afbcFeatures;
      if (v === undefined) return -EINVAL;
      return { value: BigInt(v) };
    });
  }

  // ------------------------------------------------------------------ buffers

  /**
   * DRM_IOCTL_PANFROST_CREATE_BO: a buffer and its handle, placed in this file's address space
   * (executable: aligned to its own size, never touching a 4 GiB boundary; NOEXEC >= 2 MiB:
   * 2 MiB aligned) and mapped at once, except a heap, which stays unmapped until the GPU faults
   * on it. -EINVAL for a zero or oversized size, a non-zero pad, unknown flags or HEAP without
   * NOEXEC; -ENOSPC when the address space is full; -ENOMEM without memory.
   */
  createBo(args: DrmPanfrostCreateBo): DrmPanfrostCreateBoOut | number {
    return this.op(args, () => {
      if (!isU32(args.size) || args.size === 0 || (args.pad ?? 0) !== 0 || !isU32(args.flags)) return -EINVAL;
      if (args.flags & ~(PANFROST_BO_NOEXEC | PANFROST_BO_HEAP)) return -EINVAL;
      // heaps should never be executable
      if (args.flags & PANFROST_BO_HEAP && !(args.flags & PANFROST_BO_NOEXEC)) return -EINVAL;
      const heap = (args.flags & PANFROST_BO_HEAP) !== 0;
      const noexec = (args.flags & PANFROST_BO_NOEXEC) !== 0;
      const size = heap ? Math.ceil(args.size / SZ_2M) * SZ_2M : Math.ceil(args.size / PAGE_SIZE) * PAGE_SIZE;
      const bo = new PanfrostBo(this.pfdev.kernel, size, { noexec, heap }, this.pfdev.newBoId());
      const r = this.gemOpen(bo);
      if (r < 0) {
        this.pfdev.boPut(bo);
        return r;
      }
      const handle = drmGemHandleCreate(this, this.handles, bo);
      if (handle < 0) {
        this.gemCloseObject(bo);
        return handle;
      }
      return { handle, offset: this.mappingOf(bo)!.iova };
    });
  }

  /**
   * panfrost_gem_open: a VA node for the buffer in this file's drm_mm, then (not for a heap)
   * its pages and the mapping. Undone completely on failure.
   */
  private gemOpen(bo: PanfrostBo): number {
    const pfdev = this.pfdev;
    const pages = bo.size / PAGE_SIZE;
    // executable buffers cannot cross a 16 MiB boundary (24-bit program counter): aligning
    // them to their own size keeps any buffer up to 16 MiB inside one such window
    const align = !bo.noexec ? pages : bo.size >= SZ_2M ? SZ_2M / PAGE_SIZE : 0;
    // drm_mm_insert_node_generic(..., DRM_MM_INSERT_BEST): best fit over the whole space
    const node = new DrmMmNode();
    const ins = this.mmu.mm.insertNodeGeneric(node, pages, align, bo.noexec ? PANFROST_BO_NOEXEC : 0, DRM_MM_INSERT_BEST);
    if (ins < 0) return ins;
    pfdev.boGet(bo);
    const mapping = new PanfrostGemMapping(bo, pfdev.mmu.ctxGet(this.mmu), node);
    pfdev.registerMapping(mapping);
    if (!bo.isHeap) {
      let r = bo.getPages();
      if (r >= 0) {
        r = pfdev.mmu.map(mapping);
        if (r < 0) pfdev.dev.err(`failed to map BO ${bo.id} at 0x${mapping.iova.toString(16)}: ${r}`);
      }
      if (r < 0) {
        pfdev.gemMappingPut(mapping);
        return r;
      }
    }
    bo.mappings.push(mapping);
    return 0;
  }

  /** DRM_IOCTL_GEM_CLOSE: drops the handle; the buffer goes once no job uses it. -EINVAL if unknown. */
  gemClose(args: { handle: number }): number {
    return this.op(args, () => this.handleDelete(args.handle));
  }

  private handleDelete(handle: number): number {
    const bo = drmGemHandleDelete(this, this.handles, handle);
    if (typeof bo === 'number') return bo;
    this.gemCloseObject(bo);
    return 0;
  }

  /** panfrost_gem_close and the handle's reference: this file's mapping leaves the buffer's list. */
  private gemCloseObject(bo: PanfrostBo): void {
    const m = this.mappingOf(bo);
    if (m) {
      bo.mappings.splice(bo.mappings.indexOf(m), 1);
      this.pfdev.gemMappingPut(m);
    }
    this.pfdev.boPut(bo);
  }

  /** DRM_IOCTL_PANFROST_GET_BO_OFFSET: the buffer's GPU address in this file. */
  getBoOffset(args: DrmPanfrostGetBoOffset): { offset: number } | number {
    return this.op(args, () => {
      const bo = this.lookup(args.handle);
      if (!bo) return -ENOENT;
      const m = this.mappingOf(bo);
      if (!m) return -EINVAL;
      return { offset: m.iova };
    });
  }

  /**
   * DRM_IOCTL_PANFROST_MMAP_BO: the fake offset to mmap the buffer at (-EINVAL for flags or a
   * heap, whose pages are not pinned; -ENOENT for an unknown handle).
   */
  mmapBo(args: DrmPanfrostMmapBo): { offset: number } | number {
    return this.op(args, () => {
      if ((args.flags ?? 0) !== 0) {
        this.pfdev.kernel.log.info('[drm]', `unknown mmap_bo flags: ${args.flags}`);
        return -EINVAL;
      }
      const bo = this.lookup(args.handle);
      if (!bo) return -ENOENT;
      if (bo.isHeap) return -EINVAL;
      const r = drmGemCreateMmapOffset(this.pfdev.ddev, bo);
      if (r < 0) return r;
      return { offset: drmVmaNodeOffsetAddr(bo.vmaNode) };
    });
  }

  /**
   * mmap(2) on the render node at an MMAP_BO offset: a CPU mapping of `length` bytes (rounded
   * up to pages). -EINVAL for an offset no buffer has or a length beyond the buffer, -EACCES
   * for a buffer this file has no handle to.
   */
  mmap(offset: number, length: number): PanfrostCpuMapping | number {
    return this.op(NO_ARGS, () => {
      // panfrost's file operations' mmap is drm_gem_mmap
      const bo = drmGemMmap<PanfrostBo>(this.pfdev.ddev, this, offset, length);
      if (typeof bo === 'number') return bo;
      return new PanfrostCpuMapping(this.pfdev.kernel, bo, Math.ceil(length / PAGE_SIZE) * PAGE_SIZE);
    });
  }

  /**
   * DRM_IOCTL_PANFROST_MADVISE: marks the buffer purgeable (DONTNEED, only for a buffer mapped
   * in this file alone) or needed again (WILLNEED); `retained` says whether its pages still
   * exist. Like the kernel, other values are stored as they are.
   */
  madvise(args: DrmPanfrostMadvise): { retained: number } | number {
    return this.op(args, () => {
      const bo = this.lookup(args.handle);
      if (!bo) return -ENOENT;
      if (!isU32(args.madv)) return -EINVAL;
      if (args.madv === PANFROST_MADV_DONTNEED) {
        if (bo.mappings.length !== 1 || bo.mappings[0]!.mmu !== this.mmu) return -EINVAL;
      }
      if (bo.madv >= 0) bo.madv = args.madv;
      const retained = bo.madv >= 0 ? 1 : 0;
      if (retained) {
        const i = this.pfdev.shrinkerList.indexOf(bo);
        if (args.madv === PANFROST_MADV_DONTNEED) {
          if (i >= 0) this.pfdev.shrinkerList.splice(i, 1);
          this.pfdev.shrinkerList.push(bo);
        } else if (args.madv === PANFROST_MADV_WILLNEED && i >= 0) this.pfdev.shrinkerList.splice(i, 1);
      }
      return { retained };
    });
  }

  // ------------------------------------------------------------------ jobs

  /**
   * DRM_IOCTL_PANFROST_SUBMIT: queues the job chain at GPU address `jc` on JS0 (fragment) or
   * JS1, after the fences of `inSyncs` and of every listed buffer's last job; the job's fence
   * replaces each buffer's and lands in `outSync`. Returns the fence (the ioctl itself returns
   * only 0). -EINVAL for jc 0, unknown requirements or a buffer not mapped here; -ENOENT for an
   * unknown buffer or in-syncobj handle; -ENODEV for an unknown out-syncobj.
   */
  submit(args: DrmPanfrostSubmit): { fence: PanfrostFence } | number {
    return this.op(args, () => {
      const pfdev = this.pfdev;
      if (!Number.isSafeInteger(args.jc) || args.jc <= 0) return -EINVAL;
      const req = args.requirements ?? 0;
      if (req !== 0 && req !== PANFROST_JD_REQ_FS) return -EINVAL;
      let outSync: Syncobj | undefined;
      if ((args.outSync ?? 0) > 0) {
        outSync = this.syncobjs.lookup(args.outSync);
        if (!outSync) return -ENODEV;
      }
      const deps: PanfrostFence[] = [];
      for (const h of args.inSyncs ?? []) {
        const so = this.syncobjs.lookup(h);
        if (!so) return -ENOENT;
        if (!so.fence) return -EINVAL;
        deps.push(so.fence);
      }
      const bos: PanfrostBo[] = [];
      const mappings: PanfrostGemMapping[] = [];
      for (const h of args.boHandles ?? []) {
        const bo = this.lookup(h);
        if (!bo) return -ENOENT;
        const m = this.mappingOf(bo);
        if (!m) return -EINVAL;
        bos.push(bo);
        mappings.push(m);
      }
      // every checked: take the references the job holds until it is freed
      for (let i = 0; i < bos.length; i++) {
        pfdev.boGet(bos[i]!);
        pfdev.gemMappingGet(mappings[i]!);
        bos[i]!.gpuUsecount++;
        const prev = bos[i]!.resvFence;
        if (prev && !prev.signaled && !deps.includes(prev)) deps.push(prev);
      }
      const slot = panfrostJobSlot(req);
      const entity = this.entities[slot]!;
      const fence = new PanfrostFence(pfdev, entity.context, ++entity.seqno, `panfrost-js-${slot}`);
      let flushId = 0;
      if (hasHwFeature(pfdev.features, HW_FEATURE_FLUSH_REDUCTION)) flushId = pfdev.regs.read32(R.GPU_LATEST_FLUSH_ID) >>> 0;
      const job = new PanfrostJob(
        pfdev.js.newJobId(),
        pfdev.mmu.ctxGet(this.mmu),
        entity,
        this.id,
        args.jc,
        req,
        flushId,
        bos,
        mappings,
        deps,
        fence,
      );
      for (const bo of bos) bo.resvFence = fence;
      if (outSync) outSync.fence = fence;
      pfdev.js.push(job);
      return { fence };
    });
  }

  /**
   * DRM_IOCTL_PANFROST_WAIT_BO: waits for the buffer's last job until the absolute time
   * `timeoutNs`. 0 when idle; -EBUSY when it is busy and the timeout was 0 or already past (a
   * poll); -ETIMEDOUT when the time ran out; -EINVAL for a non-zero pad; -ENOENT for an
   * unknown handle.
   */
  waitBo(args: DrmPanfrostWaitBo): number {
    return this.op(args, () => {
      if ((args.pad ?? 0) !== 0) return -EINVAL;
      const bo = this.lookup(args.handle);
      if (!bo) return -ENOENT;
      if (typeof args.timeoutNs !== 'number' || Number.isNaN(args.timeoutNs)) return -EINVAL;
      const fence = bo.resvFence;
      const poll = drmTimeoutAbsToNs(this.pfdev.kernel, args.timeoutNs) === 0;
      if (!fence || fence.signaled) return 0;
      if (poll) return -EBUSY;
      return this.pfdev.waitUntil(() => fence.signaled, args.timeoutNs) ? 0 : -ETIMEDOUT;
    });
  }

  // ------------------------------------------------------------------ syncobjs (DRM core)

  /** DRM_IOCTL_SYNCOBJ_CREATE: an empty syncobj (or one holding a signalled fence). */
  syncobjCreate(args: { flags?: number } = {}): { handle: number } | number {
    return this.op(args, () => {
      const flags = args.flags ?? 0;
      if (!isU32(flags) || flags & ~DRM_SYNCOBJ_CREATE_SIGNALED) return -EINVAL;
      let fence: PanfrostFence | null = null;
      if (flags & DRM_SYNCOBJ_CREATE_SIGNALED) {
        fence = new PanfrostFence(this.pfdev, 0, 0, 'stub');
        fence.signal(0);
      }
      return { handle: this.syncobjs.alloc({ fence }) };
    });
  }

  /** DRM_IOCTL_SYNCOBJ_DESTROY. -EINVAL for an unknown handle. */
  syncobjDestroy(args: { handle: number }): number {
    return this.op(args, () => {
      const r = this.syncobjs.remove(args.handle);
      return typeof r === 'number' ? r : 0;
    });
  }

  /** The fence a syncobj holds now (drm_syncobj_find_fence), or null; -ENOENT if unknown. */
  syncobjFence(handle: number): PanfrostFence | null | number {
    if (this.closed) return -EBADF;
    const so = this.syncobjs.lookup(handle);
    return so ? so.fence : -ENOENT;
  }

  /**
   * DRM_IOCTL_SYNCOBJ_WAIT: waits until one (or, with WAIT_ALL, every) syncobj's fence has
   * signalled, until the absolute time `timeoutNs`. Returns the index of the first signalled
   * one; -ETIME on timeout; -EINVAL for a syncobj without a fence; -ENOENT for an unknown one.
   */
  syncobjWait(args: DrmSyncobjWait): { firstSignaled: number } | number {
    return this.op(args, () => {
      const flags = args.flags ?? 0;
      if (!isU32(flags) || args.handles.length === 0) return -EINVAL;
      const fences: PanfrostFence[] = [];
      for (const h of args.handles) {
        const so = this.syncobjs.lookup(h);
        if (!so) return -ENOENT;
        if (!so.fence) return -EINVAL;
        fences.push(so.fence);
      }
      const all = (flags & DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL) !== 0;
      const ok = (): boolean => (all ? fences.every((f) => f.signaled) : fences.some((f) => f.signaled));
      const deadline = drmTimeoutAbsDeadline(this.pfdev.kernel, args.timeoutNs);
      if (!this.pfdev.waitUntil(ok, deadline)) return -ETIME;
      return { firstSignaled: Math.max(0, fences.findIndex((f) => f.signaled)) };
    });
  }

  // ------------------------------------------------------------------ close

  /**
   * close(2) of the file (drm_release): syncobjs and handles go first (buffers no job uses are
   * unmapped and freed), then panfrost_postclose: queued jobs get up to 1 s to reach the
   * hardware before the rest are dropped, jobs still running are hard-stopped, and the file's
   * address space reference is dropped (the space itself goes with its last job). Finally the
   * module reference of the open file is released. -EBADF when already closed.
   */
  close(): number {
    if (this.closed) return -EBADF;
    const pfdev = this.pfdev;
    this.closed = true;
    for (const h of this.syncobjs.handles()) this.syncobjs.remove(h);
    for (const h of this.handles.handles()) this.handleDelete(h);
    if (pfdev.hwAccessible) {
      pfdev.waitUntil(() => pfdev.js.queuedFor(this.id) === 0, ktimeGetNs(pfdev.kernel) + ENTITY_FLUSH_MS * NSEC_PER_MSEC);
      pfdev.js.closeFile(this.id);
    } else pfdev.js.closeFile(this.id);
    pfdev.mmu.ctxPut(this.mmu);
    pfdev.drain();
    pfdev.ddev.release(this);
    return 0;
  }

  /** Handles this file holds, for dumps and tests. */
  handleList(): number[] {
    return this.handles.handles();
  }

  /** The buffer behind a handle, for tests and tools (not an ioctl). */
  bo(handle: number): PanfrostBo | undefined {
    return this.lookup(handle);
  }
}
