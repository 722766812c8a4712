import { DrmHandleTable, EBADF, EBUSY, EFAULT, EINVAL, ENOENT, ENOMEM, EOPNOTSUPP, EPERM, ETIMEDOUT, drmGemHandleCreate, drmGemHandleDelete, drmGemMmap, drmTimeoutAbsToNs } from '@gki/kernel';
import { msmGemCloseVma, msmGemInitVma, msmGemMapVma, msmGemPurgeVma, msmGemUnmapVma, type MsmGemVma } from './aspace.js';
import { msmGpuConvertPriority, MsmGemSubmit, NR_SCHED_PRIORITIES, type MsmContext, type MsmSubmitBo, type MsmSubmitCmd } from './context.js';
import type { MsmDrmDevice } from './device.js';
import { MsmCpuMapping, MsmFence, MsmGemObject } from './gem.js';
import { PAGE_SIZE } from './mmu.js';
import {
  MSM_BO_CACHE_MASK,
  MSM_BO_CACHED,
  MSM_BO_CACHED_COHERENT,
  MSM_BO_FLAGS,
  MSM_BO_UNCACHED,
  MSM_BO_WC,
  MSM_INFO_GET_FLAGS,
  MSM_INFO_GET_IOVA,
  MSM_INFO_GET_NAME,
  MSM_INFO_GET_OFFSET,
  MSM_INFO_SET_IOVA,
  MSM_INFO_SET_NAME,
  MSM_PARAM_CHIP_ID,
  MSM_PARAM_CMDLINE,
  MSM_PARAM_COMM,
  MSM_PARAM_FAULTS,
  MSM_PARAM_GMEM_BASE,
  MSM_PARAM_GMEM_SIZE,
  MSM_PARAM_GPU_ID,
  MSM_PARAM_HIGHEST_BANK_BIT,
  MSM_PARAM_MAX_FREQ,
  MSM_PARAM_PP_PGTABLE,
  MSM_PARAM_PRIORITIES,
  MSM_PARAM_SUSPENDS,
  MSM_PARAM_SYSPROF,
  MSM_PARAM_TIMESTAMP,
  MSM_PARAM_VA_SIZE,
  MSM_PARAM_VA_START,
  MSM_PIPE_3D0,
  MSM_PIPE_ID_MASK,
  MSM_PREP_FLAGS,
  MSM_PREP_NOSYNC,
  MSM_PREP_WRITE,
  MSM_SUBMIT_BO_FLAGS,
  MSM_SUBMIT_BO_NO_IMPLICIT,
  MSM_SUBMIT_BO_WRITE,
  MSM_SUBMIT_CMD_BUF,
  MSM_SUBMIT_CMD_CTX_RESTORE_BUF,
  MSM_SUBMIT_CMD_IB_TARGET_BUF,
  MSM_SUBMIT_FLAGS,
  MSM_SUBMIT_NO_IMPLICIT,
  MSM_SUBMIT_SUDO,
  MSM_SUBMITQUEUE_FLAGS,
  MSM_SUBMITQUEUE_PARAM_FAULTS,
  MSM_WAIT_FENCE_FLAGS,
  msmTimespecNs,
  type DrmMsmGemCpuPrep,
  type DrmMsmGemInfo,
  type DrmMsmGemNew,
  type DrmMsmGemSubmit,
  type DrmMsmGemSubmitOut,
  type DrmMsmParam,
  type DrmMsmSubmitqueue,
  type DrmMsmSubmitqueueQuery,
  type DrmMsmWaitFence,
} from './uapi.js';

/** The argument of an operation that takes none (see `op`). */
const NO_ARGS: object = Object.freeze({});

const U32_MAX = 0xffff_ffff;
/** Buffer sizes beyond this (256 GiB) cannot be backed by any board here. */
const MAX_BO_SIZE = 2 ** 38;
/** sizeof(msm_obj->name). */
const NAME_LEN = 32;

function isU32(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= U32_MAX;
}

/**
 * An open msm DRM file (struct drm_file + msm_file_private): a GEM handle table and the context
 * (address space, submit queues, identity), with the driver's ioctls as methods. Every method
 * returns a negative errno on failure, as the ioctl would, and leaves nothing changed; -EBADF
 * after close(), -ENODEV once the device is gone.
 */
export class MsmFile {
  /** GEM handles (the file's object_idr). */
  private readonly handles = new DrmHandleTable<MsmGemObject>();
  private closed = false;
  /** SYSPROF as set by a privileged process (0: off). */
  sysprof = 0;
  /** Whether the opening process had CAP_SYS_ADMIN. */
  privileged = false;

  constructor(
    readonly drm: MsmDrmDevice,
    readonly ctx: MsmContext,
    readonly id: number,
  ) {}

  get isClosed(): boolean {
    return this.closed;
  }

  /** True when the file has a page table of its own (not the global address space). */
  get hasPrivateAddressSpace(): boolean {
    return this.ctx.aspace !== this.drm.gpu.aspace;
  }

  /**
   * Runs one ioctl of this file: -EBADF once closed, -EFAULT when the argument is not an
   * object (the kernel's copy_from_user of a bad pointer; NO_ARGS for calls without one), else
   * `fn` under the device's call.
   */
  private op<T>(args: unknown, fn: () => T | number): T | number {
    if (this.closed) return -EBADF;
    if (args === null || typeof args !== 'object') return -EFAULT;
    return this.drm.call(fn);
  }

  private lookup(handle: number): MsmGemObject | undefined {
    return this.handles.lookup(handle);
  }

  private err(msg: string): void {
    this.drm.kernel.log.err('[drm]', `*ERROR* ${msg}`);
  }

  // ------------------------------------------------------------------ params

  /**
   * DRM_IOCTL_MSM_GET_PARAM (adreno_get_param). -EINVAL for another pipe, a non-zero pad or
   * len, an unknown parameter, or VA_START/VA_SIZE on a file without a page table of its own.
   */
  getParam(args: DrmMsmParam): { value: bigint } | number {
    return this.op(args, () => {
      if (args.pipe !== MSM_PIPE_3D0 || (args.pad ?? 0) !== 0) return -EINVAL;
      if ((args.len ?? 0) !== 0) return -EINVAL;
      const gpu = this.drm.gpu;
      switch (args.param) {
        case MSM_PARAM_GPU_ID:
          return { value: BigInt(gpu.info.revn) };
        case MSM_PARAM_GMEM_SIZE:
          return { value: BigInt(gpu.info.gmem) };
        case MSM_PARAM_GMEM_BASE:
          return { value: BigInt(gpu.gmemBase) };
        case MSM_PARAM_CHIP_ID:
          return { value: BigInt(gpu.chipId >>> 0) };
        case MSM_PARAM_MAX_FREQ:
          return { value: BigInt(gpu.info.defaultMaxFreq) };
        case MSM_PARAM_TIMESTAMP: {
          // a family without a timestamp source (a3xx: no get_timestamp) answers -EINVAL
          const t = gpu.timestamp();
          return t < 0 ? t : { value: BigInt(t) };
        }
        case MSM_PARAM_PRIORITIES:
          return { value: BigInt(gpu.nrRings * NR_SCHED_PRIORITIES) };
        case MSM_PARAM_PP_PGTABLE:
          return { value: 0n };
        case MSM_PARAM_FAULTS:
          return { value: BigInt(gpu.globalFaults + this.ctx.aspace.faults) };
        case MSM_PARAM_SUSPENDS:
          return { value: 0n };
        case MSM_PARAM_VA_START:
          if (!this.hasPrivateAddressSpace) return -EINVAL;
          return { value: BigInt(this.ctx.aspace.vaStart) };
        case MSM_PARAM_VA_SIZE:
          if (!this.hasPrivateAddressSpace) return -EINVAL;
          return { value: BigInt(this.ctx.aspace.vaSize) };
        case MSM_PARAM_HIGHEST_BANK_BIT:
          return { value: BigInt(gpu.info.highestBankBit) };
        default:
          return -EINVAL;
      }
    });
  }

  /**
   * DRM_IOCTL_MSM_SET_PARAM (adreno_set_param): COMM and CMDLINE override the identity fault
   * reports show (at most a page); SYSPROF needs a privileged process (-EPERM). -EINVAL
   * otherwise.
   */
  setParam(args: DrmMsmParam): number {
    return this.op(args, () => {
      if (args.pipe !== MSM_PIPE_3D0 || (args.pad ?? 0) !== 0) return -EINVAL;
      if (args.param === MSM_PARAM_COMM || args.param === MSM_PARAM_CMDLINE) {
        if (typeof args.value !== 'string') return -EINVAL;
        const len = args.len ?? args.value.length;
        if (!isU32(len) || len > PAGE_SIZE) return -EINVAL;
        const s = args.value.slice(0, len);
        if (args.param === MSM_PARAM_COMM) this.ctx.commOverride = s;
        else this.ctx.cmdlineOverride = s;
        return 0;
      }
      if ((args.len ?? 0) !== 0) return -EINVAL;
      if (args.param === MSM_PARAM_SYSPROF) {
        if (!this.privileged) return -EPERM;
        const v = Number(args.value ?? 0);
        if (v !== 0 && v !== 1 && v !== 2) return -EINVAL;
        this.sysprof = v;
        return 0;
      }
      return -EINVAL;
    });
  }

  // ------------------------------------------------------------------ buffers

  /**
   * DRM_IOCTL_MSM_GEM_NEW: a buffer object of `size` bytes (rounded up to pages) and its handle.
   * The pages come on first use. -EINVAL for unknown flags, a cache mode other than CACHED, WC
   * (UNCACHED is taken as WC) or CACHED_COHERENT, or a zero size; -ENOMEM for a size no board
   * could back.
   */
  gemNew(args: DrmMsmGemNew): { handle: number } | number {
    return this.op(args, () => {
      if (!isU32(args.flags) || args.flags & ~MSM_BO_FLAGS) {
        this.err(`invalid flags: ${(Number(args.flags) >>> 0).toString(16).padStart(8, '0')}`);
        return -EINVAL;
      }
      let flags = args.flags;
      if (flags & MSM_BO_UNCACHED) flags = (flags & ~MSM_BO_CACHED & ~MSM_BO_UNCACHED) | MSM_BO_WC;
      const mode = flags & MSM_BO_CACHE_MASK;
      if (mode !== MSM_BO_CACHED && mode !== MSM_BO_WC && mode !== MSM_BO_CACHED_COHERENT) return -EINVAL;
      if (!Number.isSafeInteger(args.size) || args.size <= 0) return -EINVAL;
      if (args.size > MAX_BO_SIZE) return -ENOMEM;
      const size = Math.ceil(args.size / PAGE_SIZE) * PAGE_SIZE;
      const obj = new MsmGemObject(this.drm.kernel, this.drm.newBoId(), size, flags >>> 0);
      const handle = drmGemHandleCreate(this, this.handles, obj);
      if (handle < 0) {
        this.drm.gemPut(obj);
        return handle;
      }
      return { handle };
    });
  }

  /** DRM_IOCTL_GEM_CLOSE: drops the handle; the buffer goes once no submit uses it. -EINVAL if unknown. */
  gemClose(args: { handle: number }): number {
    if (this.closed) return -EBADF;
    if (args === null || typeof args !== 'object') return -EFAULT;
    const obj = drmGemHandleDelete(this, this.handles, args.handle);
    if (typeof obj === 'number') return obj;
    if (!this.drm.hwAccessible) {
      this.drm.gemPut(obj);
      return 0;
    }
    return this.drm.call(() => {
      this.drm.gemCloseFor(obj, this.ctx.aspace);
      this.drm.gemPut(obj);
      return 0;
    });
  }

  /**
   * msm_gem_get_iova: the buffer's address in this file's space, allocated (not mapped: the
   * pages go into the page table when a submit first uses it) when it has none yet.
   */
  private getIova(obj: MsmGemObject): number {
    const aspace = this.ctx.aspace;
    const vma = obj.vmaFor(aspace);
    if (!vma.node) {
      const r = msmGemInitVma(vma, obj.size, aspace.vaStart, aspace.vaStart + aspace.vaSize);
      if (r < 0) {
        obj.vmas.splice(obj.vmas.indexOf(vma), 1);
        return r;
      }
    }
    return vma.iova;
  }

  /**
   * DRM_IOCTL_MSM_GEM_INFO. GET_OFFSET: the fake mmap offset; GET_IOVA: the GPU address in this
   * file's space; SET_IOVA: place the buffer at a user-chosen address (only with a private
   * address space: -EOPNOTSUPP otherwise; -EBUSY when it already has another address, or is in
   * use when cleared with 0; -ENOSPC when the range is taken); GET_FLAGS; SET_NAME/GET_NAME.
   * -EINVAL for a non-zero pad, an unknown request, or a len with a value request; -ENOENT for
   * an unknown handle.
   */
  gemInfo(args: DrmMsmGemInfo): { value: number | string; len: number } | number {
    return this.op(args, () => {
      if ((args.pad ?? 0) !== 0) return -EINVAL;
      const len = args.len ?? 0;
      switch (args.info) {
        case MSM_INFO_GET_OFFSET:
        case MSM_INFO_GET_IOVA:
        case MSM_INFO_SET_IOVA:
        case MSM_INFO_GET_FLAGS:
          if (len !== 0) return -EINVAL;
          break;
        case MSM_INFO_SET_NAME:
        case MSM_INFO_GET_NAME:
          break;
        default:
          return -EINVAL;
      }
      const obj = this.lookup(args.handle);
      if (!obj) return -ENOENT;
      switch (args.info) {
        case MSM_INFO_GET_OFFSET: {
          const off = this.drm.mmapOffset(obj);
          return off < 0 ? off : { value: off, len: 0 };
        }
        case MSM_INFO_GET_IOVA: {
          const iova = this.getIova(obj);
          return iova < 0 ? iova : { value: iova, len: 0 };
        }
        case MSM_INFO_SET_IOVA: {
          if (!this.hasPrivateAddressSpace) return -EOPNOTSUPP;
          const r = this.setIova(obj, Number(args.value ?? 0));
          return r < 0 ? r : { value: Number(args.value ?? 0), len: 0 };
        }
        case MSM_INFO_GET_FLAGS:
          return { value: obj.flags & MSM_BO_FLAGS, len: 0 };
        case MSM_INFO_SET_NAME: {
          if (typeof args.value !== 'string' || !isU32(len) || len >= NAME_LEN) return -EINVAL;
          let name = args.value.slice(0, len);
          const bad = name.search(/[^\x20-\x7e]/);
          if (bad >= 0) name = name.slice(0, bad);
          obj.name = name;
          return { value: name, len: name.length };
        }
        default:
          return { value: obj.name, len: obj.name.length };
      }
    });
  }

  /** msm_gem_set_iova: see gemInfo(SET_IOVA). */
  private setIova(obj: MsmGemObject, iova: number): number {
    const aspace = this.ctx.aspace;
    const existing = obj.vmaIn(aspace);
    if (!Number.isSafeInteger(iova) || iova < 0) return -EINVAL;
    if (iova === 0) {
      if (!existing) return 0;
      if (existing.inuse > 0) return -EBUSY;
      msmGemPurgeVma(existing, obj.size);
      msmGemCloseVma(existing);
      obj.vmas.splice(obj.vmas.indexOf(existing), 1);
      return 0;
    }
    if (existing?.node) return existing.iova === iova ? 0 : -EBUSY;
    const vma = obj.vmaFor(aspace);
    let r = msmGemInitVma(vma, obj.size, iova, iova + obj.size);
    if (r === 0 && vma.iova !== iova) {
      msmGemCloseVma(vma);
      r = -EBUSY;
    }
    if (r < 0) obj.vmas.splice(obj.vmas.indexOf(vma), 1);
    return r;
  }

  /**
   * DRM_IOCTL_MSM_GEM_CPU_PREP (msm_gem_cpu_prep): waits until the GPU is done with the buffer
   * (for a write: every submit using it; for a read: the last writer) until the absolute
   * `timeout`. -EBUSY when busy with NOSYNC or a timeout already past, -ETIMEDOUT when the time
   * ran out, -EINVAL for unknown op bits or a malformed timeout, -ENOENT for an unknown handle.
   */
  gemCpuPrep(args: DrmMsmGemCpuPrep): number {
    return this.op(args, () => {
      if (!isU32(args.op) || args.op & ~MSM_PREP_FLAGS) {
        this.err(`invalid op: ${(Number(args.op) >>> 0).toString(16).padStart(8, '0')}`);
        return -EINVAL;
      }
      const obj = this.lookup(args.handle);
      if (!obj) return -ENOENT;
      const deadline = msmTimespecNs(args.timeout);
      if (Number.isNaN(deadline)) return -EINVAL;
      const write = (args.op & MSM_PREP_WRITE) !== 0;
      const nosync = (args.op & MSM_PREP_NOSYNC) !== 0 || drmTimeoutAbsToNs(this.drm.kernel, deadline) === 0;
      if (!obj.busy(write)) return 0;
      if (nosync) return -EBUSY;
      return this.drm.waitUntil(() => obj.busy(write) === null, deadline) ? 0 : -ETIMEDOUT;
    });
  }

  /** DRM_IOCTL_MSM_GEM_CPU_FINI: the CPU is done (no cache maintenance to do). -ENOENT if unknown. */
  gemCpuFini(args: { handle: number }): number {
    return this.op(args, () => (this.lookup(args.handle) ? 0 : -ENOENT));
  }

  /**
   * mmap(2) of the render node at a GET_OFFSET offset: a CPU mapping of `length` bytes (rounded
   * up to pages). -EINVAL for an offset no buffer has or a length beyond it, -EACCES for a
   * buffer this file holds no handle to.
   */
  mmap(offset: number, length: number): MsmCpuMapping | number {
    return this.op(NO_ARGS, () => {
      // msm's file operations' mmap is drm_gem_mmap
      const obj = drmGemMmap<MsmGemObject>(this.drm.ddev, this, offset, length);
      if (typeof obj === 'number') return obj;
      return new MsmCpuMapping(this.drm.kernel, obj, Math.ceil(length / PAGE_SIZE) * PAGE_SIZE);
    });
  }

  /** GET_OFFSET then mmap of the whole buffer: what user space does to fill or read it. */
  cpuMap(handle: number): MsmCpuMapping | number {
    const off = this.gemInfo({ handle, info: MSM_INFO_GET_OFFSET });
    if (typeof off === 'number') return off;
    const obj = this.lookup(handle)!;
    return this.mmap(off.value as number, obj.size);
  }

  // ------------------------------------------------------------------ submit

  /**
   * DRM_IOCTL_MSM_GEM_SUBMIT: validates the buffer table and the command buffers, pins every
   * buffer in this file's address space (its pages mapped into the file's page table on first
   * use), writes the addresses back to `presumed`, and queues the submit on its queue's ring,
   * where the kernel's part of the command stream switches TTBR0 to this file's page table
   * before the IBs. Returns the queue's fence id. -EINVAL for another pipe, unknown or
   * unmodelled flags (fence fds, syncobjs), a bad buffer flag or handle (or one listed twice),
   * a bad command type, size, buffer index or range, or relocations; -ENOENT for an unknown
   * queue; -ENOSPC / -ENOMEM when a buffer cannot be placed or backed.
   */
  gemSubmit(args: DrmMsmGemSubmit): DrmMsmGemSubmitOut | number {
    return this.op(args, () => {
      const drm = this.drm;
      if ((args.pad ?? 0) !== 0 || !isU32(args.flags)) return -EINVAL;
      if ((args.flags & MSM_PIPE_ID_MASK) !== MSM_PIPE_3D0) return -EINVAL;
      const upper = (args.flags & ~MSM_PIPE_ID_MASK) >>> 0;
      if (upper & ~MSM_SUBMIT_FLAGS) return -EINVAL;
      if (upper & MSM_SUBMIT_SUDO) return -EINVAL;
      if (upper & ~MSM_SUBMIT_NO_IMPLICIT) {
        this.err(`submit flags 0x${upper.toString(16)}: fence fds and syncobjs are not modelled`);
        return -EINVAL;
      }
      const queue = this.ctx.queue(args.queueid ?? 0);
      if (!queue) return -ENOENT;
      // submit_lookup_objects
      const objs: MsmGemObject[] = [];
      for (let i = 0; i < args.bos.length; i++) {
        const b = args.bos[i]!;
        if (!isU32(b.flags) || b.flags & ~MSM_SUBMIT_BO_FLAGS) {
          this.err(`invalid flags: ${(Number(b.flags) >>> 0).toString(16)}`);
          return -EINVAL;
        }
        const obj = this.lookup(b.handle);
        if (!obj) {
          this.err(`invalid handle ${b.handle} at index ${i}`);
          return -EINVAL;
        }
        if (objs.includes(obj)) {
          this.err(`BO at index ${i} already on submit list`);
          return -EINVAL;
        }
        objs.push(obj);
      }
      // submit_lookup_cmds
      for (const c of args.cmds) {
        if (c.type !== MSM_SUBMIT_CMD_BUF && c.type !== MSM_SUBMIT_CMD_IB_TARGET_BUF && c.type !== MSM_SUBMIT_CMD_CTX_RESTORE_BUF) {
          this.err(`invalid type: ${(Number(c.type) >>> 0).toString(16).padStart(8, '0')}`);
          return -EINVAL;
        }
        if (!isU32(c.size) || c.size % 4) {
          this.err(`non-aligned cmdstream buffer size: ${c.size}`);
          return -EINVAL;
        }
        if (!isU32(c.submitIdx) || c.submitIdx >= objs.length) {
          this.err(`invalid buffer index: ${c.submitIdx} (out of ${objs.length})`);
          return -EINVAL;
        }
        const off = isU32(c.submitOffset) ? Math.floor(c.submitOffset / 4) : -1;
        if (off < 0 || c.size === 0 || c.size / 4 + off > objs[c.submitIdx]!.size / 4) {
          this.err(`invalid cmdstream size: ${c.size}`);
          return -EINVAL;
        }
        if ((c.nrRelocs ?? 0) !== 0) {
          this.err('relocs not allowed');
          return -EINVAL;
        }
      }
      // submit_pin_objects
      const pinned: MsmGemVma[] = [];
      const unpin = () => {
        for (const v of pinned) msmGemUnmapVma(v);
      };
      const bos: MsmSubmitBo[] = [];
      for (let i = 0; i < objs.length; i++) {
        const obj = objs[i]!;
        const iova = this.getIova(obj);
        let r = iova < 0 ? iova : obj.getPages();
        const vma = obj.vmaIn(this.ctx.aspace);
        if (r === 0 && vma) r = msmGemMapVma(vma, obj.prot, obj.runs, obj.size);
        if (r < 0 || !vma) {
          unpin();
          return r < 0 ? r : -EINVAL;
        }
        pinned.push(vma);
        bos.push({ obj, flags: args.bos[i]!.flags, vma, iova: vma.iova });
      }
      const cmds: MsmSubmitCmd[] = args.cmds.map((c) => ({
        type: c.type,
        iova: bos[c.submitIdx]!.iova + Math.floor(c.submitOffset / 4) * 4,
        dwords: c.size / 4,
      }));
      for (let i = 0; i < bos.length; i++) (args.bos[i] as { presumed?: number }).presumed = bos[i]!.iova;
      const userFence = new MsmFence(`queue-${this.ctx.seqno}-${queue.id}`, 0);
      const fenceId = queue.allocFenceId(userFence);
      const implicit = !(upper & MSM_SUBMIT_NO_IMPLICIT);
      for (const b of bos) {
        b.obj.refcount++;
        if (!implicit || b.flags & MSM_SUBMIT_BO_NO_IMPLICIT) continue;
        if (b.flags & MSM_SUBMIT_BO_WRITE) {
          b.obj.writeFence = userFence;
          b.obj.readFences = [];
        } else {
          b.obj.readFences = b.obj.readFences.filter((f) => !f.signaled);
          b.obj.readFences.push(userFence);
        }
      }
      const submit = new MsmGemSubmit(drm.newSubmitId(), queue.get(), queue.ringNr, bos, cmds, fenceId, userFence);
      drm.queueSubmit(submit);
      return { fence: fenceId };
    });
  }

  /**
   * DRM_IOCTL_MSM_WAIT_FENCE: waits for the queue's fence `fence` until the absolute `timeout`.
   * 0 when it completed (also when it already retired), -ETIMEDOUT when the time ran out (a
   * timeout in the past polls); -EINVAL for unknown flags, a malformed timeout or a fence the
   * queue never handed out; -ENOENT for an unknown queue.
   */
  waitFence(args: DrmMsmWaitFence): number {
    return this.op(args, () => {
      if (!isU32(args.flags ?? 0) || (args.flags ?? 0) & ~MSM_WAIT_FENCE_FLAGS) {
        this.err(`invalid flags: ${(Number(args.flags) >>> 0).toString(16).padStart(8, '0')}`);
        return -EINVAL;
      }
      const queue = this.ctx.queue(args.queueid ?? 0);
      if (!queue) return -ENOENT;
      if (!isU32(args.fence) || ((args.fence - queue.lastFence) | 0) > 0) {
        this.drm.kernel.log.err('[drm]', `*ERROR* waiting on invalid fence: ${args.fence} (of ${queue.lastFence})`);
        return -EINVAL;
      }
      const deadline = msmTimespecNs(args.timeout);
      if (Number.isNaN(deadline)) return -EINVAL;
      const f = queue.fences.get(args.fence);
      if (!f || f.signaled) return 0;
      return this.drm.waitUntil(() => f.signaled, deadline) ? 0 : -ETIMEDOUT;
    });
  }

  /**
   * The status of a submit's fence (dma_fence_get_status): 0 pending, 1 done, or its error
   * (-EIO for a submit blamed for a fault or hang, -ENODEV when the device went away). -ENOENT
   * for an unknown queue, -EINVAL for a fence never handed out or retired too long ago.
   */
  fenceStatus(queueid: number, fence: number): number {
    const q = this.ctx.queue(queueid);
    if (!q) return -ENOENT;
    const f = q.fences.get(fence);
    if (f) return f.status;
    return q.retired.get(fence) ?? -EINVAL;
  }

  // ------------------------------------------------------------------ submit queues

  /**
   * DRM_IOCTL_MSM_SUBMITQUEUE_NEW: a queue at priority `prio` (0 is the highest; PRIORITIES
   * levels). -EINVAL for unknown flags or a priority out of range.
   */
  submitqueueNew(args: DrmMsmSubmitqueue): { id: number } | number {
    return this.op(args, () => {
      if (!isU32(args.flags) || args.flags & ~MSM_SUBMITQUEUE_FLAGS) return -EINVAL;
      const c = msmGpuConvertPriority(this.drm.gpu.nrRings, args.prio);
      if (typeof c === 'number') return c;
      return { id: this.ctx.addQueue(args.prio, args.flags, c.ringNr, c.schedPrio).id };
    });
  }

  /** DRM_IOCTL_MSM_SUBMITQUEUE_CLOSE: -ENOENT for the default queue 0 or an unknown id. */
  submitqueueClose(id: number): number {
    return this.op(NO_ARGS, () => (isU32(id) ? this.ctx.removeQueue(id) : -ENOENT));
  }

  /**
   * DRM_IOCTL_MSM_SUBMITQUEUE_QUERY (FAULTS): how many faults and hangs this queue's submits
   * caused. len 0 asks for the size (4). -EINVAL for a non-zero pad or another parameter,
   * -ENOENT for an unknown queue.
   */
  submitqueueQuery(args: DrmMsmSubmitqueueQuery): { len: number; faults?: number } | number {
    return this.op(args, () => {
      if ((args.pad ?? 0) !== 0) return -EINVAL;
      const q = this.ctx.queue(args.id);
      if (!q) return -ENOENT;
      if (args.param !== MSM_SUBMITQUEUE_PARAM_FAULTS) return -EINVAL;
      if (!isU32(args.len)) return -EINVAL;
      if (args.len === 0) return { len: 4 };
      return { len: Math.min(args.len, 4), faults: q.faults };
    });
  }

  // ------------------------------------------------------------------ close

  /**
   * close(2) (drm_release): every handle goes (buffers no submit uses are unmapped, with the TLB
   * flush, and freed), then msm_postclose: the queues close and the context reference drops; the
   * address space and its page table go with the last submit still using them. Finally the
   * module reference of the open file is released. -EBADF when already closed.
   */
  close(): number {
    if (this.closed) return -EBADF;
    this.closed = true;
    const drm = this.drm;
    const live = drm.hwAccessible;
    for (const h of this.handles.handles()) {
      const obj = drmGemHandleDelete(this, this.handles, h) as MsmGemObject;
      if (live) drm.gemCloseFor(obj, this.ctx.aspace);
      drm.gemPut(obj);
    }
    const ctx = this.ctx;
    ctx.closed = true;
    for (const q of [...ctx.queues]) {
      ctx.queues.splice(ctx.queues.indexOf(q), 1);
      q.put();
    }
    ctx.put();
    drm.drain();
    drm.ddev.release(this);
    return 0;
  }

  /** Handles this file holds, for dumps and tests. */
  handleList(): number[] {
    return this.handles.handles();
  }

  /** The buffer behind a handle, for tests and tools (not an ioctl). */
  bo(handle: number): MsmGemObject | undefined {
    return this.lookup(handle);
  }
}
