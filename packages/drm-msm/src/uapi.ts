/**
 * The msm user-space interface (include/uapi/drm/msm_drm.h) as TypeScript shapes: the ioctl
 * argument structures with the same fields in camelCase, and the flag, parameter and command
 * values. u64 fields that hold GPU addresses or sizes are numbers (they stay below 2^53); the
 * GET_PARAM value is a bigint because some parameters are full 64-bit quantities. Pointers to
 * user arrays become arrays; strings passed by pointer (COMM, CMDLINE, buffer names) are strings.
 */

/** Pipes: only the 3D pipe exists on the GPUs msm drives here. */
export const MSM_PIPE_NONE = 0x00;
export const MSM_PIPE_2D0 = 0x01;
export const MSM_PIPE_2D1 = 0x02;
export const MSM_PIPE_3D0 = 0x10;
export const MSM_PIPE_ID_MASK = 0xffff;

/** GET_PARAM / SET_PARAM parameters. */
export const MSM_PARAM_GPU_ID = 0x01;
export const MSM_PARAM_GMEM_SIZE = 0x02;
export const MSM_PARAM_CHIP_ID = 0x03;
export const MSM_PARAM_MAX_FREQ = 0x04;
export const MSM_PARAM_TIMESTAMP = 0x05;
export const MSM_PARAM_GMEM_BASE = 0x06;
export const MSM_PARAM_PRIORITIES = 0x07;
export const MSM_PARAM_NR_RINGS = MSM_PARAM_PRIORITIES;
export const MSM_PARAM_PP_PGTABLE = 0x08;
export const MSM_PARAM_FAULTS = 0x09;
export const MSM_PARAM_SUSPENDS = 0x0a;
export const MSM_PARAM_SYSPROF = 0x0b;
export const MSM_PARAM_COMM = 0x0c;
export const MSM_PARAM_CMDLINE = 0x0d;
export const MSM_PARAM_VA_START = 0x0e;
export const MSM_PARAM_VA_SIZE = 0x0f;
export const MSM_PARAM_HIGHEST_BANK_BIT = 0x10;

/** Parameter names, for messages and tools. */
export const MSM_PARAM_NAMES: Readonly<Record<number, string>> = {
  [MSM_PARAM_GPU_ID]: 'GPU_ID',
  [MSM_PARAM_GMEM_SIZE]: 'GMEM_SIZE',
  [MSM_PARAM_CHIP_ID]: 'CHIP_ID',
  [MSM_PARAM_MAX_FREQ]: 'MAX_FREQ',
  [MSM_PARAM_TIMESTAMP]: 'TIMESTAMP',
  [MSM_PARAM_GMEM_BASE]: 'GMEM_BASE',
  [MSM_PARAM_PRIORITIES]: 'PRIORITIES',
  [MSM_PARAM_PP_PGTABLE]: 'PP_PGTABLE',
  [MSM_PARAM_FAULTS]: 'FAULTS',
  [MSM_PARAM_SUSPENDS]: 'SUSPENDS',
  [MSM_PARAM_SYSPROF]: 'SYSPROF',
  [MSM_PARAM_COMM]: 'COMM',
  [MSM_PARAM_CMDLINE]: 'CMDLINE',
  [MSM_PARAM_VA_START]: 'VA_START',
  [MSM_PARAM_VA_SIZE]: 'VA_SIZE',
  [MSM_PARAM_HIGHEST_BANK_BIT]: 'HIGHEST_BANK_BIT',
};

/** struct drm_msm_param. */
export interface DrmMsmParam {
  pipe: number;
  param: number;
  /** SET_PARAM: the value (a string for COMM / CMDLINE, which the ioctl passes by pointer). */
  value?: number | bigint | string;
  /** Zero for value parameters; SET_PARAM COMM/CMDLINE: the string length (default: its length). */
  len?: number;
  pad?: number;
}

/** GEM buffer flags. */
export const MSM_BO_SCANOUT = 0x0000_0001;
export const MSM_BO_GPU_READONLY = 0x0000_0002;
export const MSM_BO_CACHE_MASK = 0x000f_0000;
export const MSM_BO_CACHED = 0x0001_0000;
export const MSM_BO_WC = 0x0002_0000;
/** Deprecated: treated as WC. */
export const MSM_BO_UNCACHED = 0x0004_0000;
export const MSM_BO_CACHED_COHERENT = 0x0008_0000;
export const MSM_BO_FLAGS = MSM_BO_SCANOUT | MSM_BO_GPU_READONLY | MSM_BO_CACHE_MASK;

/** struct drm_msm_gem_new (in). */
export interface DrmMsmGemNew {
  /** Bytes; rounded up to pages. */
  size: number;
  flags: number;
}

/** GEM_INFO requests. */
export const MSM_INFO_GET_OFFSET = 0x00;
export const MSM_INFO_GET_IOVA = 0x01;
export const MSM_INFO_SET_NAME = 0x02;
export const MSM_INFO_GET_NAME = 0x03;
export const MSM_INFO_SET_IOVA = 0x04;
export const MSM_INFO_GET_FLAGS = 0x05;

/** struct drm_msm_gem_info. */
export interface DrmMsmGemInfo {
  handle: number;
  info: number;
  /** SET_IOVA: the address; SET_NAME: the name (passed by pointer in the ioctl). */
  value?: number | string;
  len?: number;
  pad?: number;
}

/** GEM_CPU_PREP operations. */
export const MSM_PREP_READ = 0x01;
export const MSM_PREP_WRITE = 0x02;
export const MSM_PREP_NOSYNC = 0x04;
export const MSM_PREP_BOOST = 0x08;
export const MSM_PREP_FLAGS = MSM_PREP_READ | MSM_PREP_WRITE | MSM_PREP_NOSYNC | MSM_PREP_BOOST;

/** struct drm_msm_timespec: an absolute CLOCK_MONOTONIC time (the board clock here). */
export interface DrmMsmTimespec {
  tvSec: number;
  tvNsec: number;
}

/** struct drm_msm_gem_cpu_prep. */
export interface DrmMsmGemCpuPrep {
  handle: number;
  op: number;
  timeout: DrmMsmTimespec;
}

/** Command-stream buffer types. */
export const MSM_SUBMIT_CMD_BUF = 0x0001;
export const MSM_SUBMIT_CMD_IB_TARGET_BUF = 0x0002;
export const MSM_SUBMIT_CMD_CTX_RESTORE_BUF = 0x0003;

/** struct drm_msm_gem_submit_cmd. Offsets and sizes are in bytes. */
export interface DrmMsmGemSubmitCmd {
  type: number;
  /** Index into the submit's buffer table. */
  submitIdx: number;
  submitOffset: number;
  size: number;
  pad?: number;
  nrRelocs?: number;
}

/** Buffer-table entry flags. */
export const MSM_SUBMIT_BO_READ = 0x0001;
export const MSM_SUBMIT_BO_WRITE = 0x0002;
export const MSM_SUBMIT_BO_DUMP = 0x0004;
export const MSM_SUBMIT_BO_NO_IMPLICIT = 0x0008;
export const MSM_SUBMIT_BO_FLAGS = MSM_SUBMIT_BO_READ | MSM_SUBMIT_BO_WRITE | MSM_SUBMIT_BO_DUMP | MSM_SUBMIT_BO_NO_IMPLICIT;

/** struct drm_msm_gem_submit_bo. */
export interface DrmMsmGemSubmitBo {
  flags: number;
  handle: number;
  /** in/out: the address user space assumes; the kernel writes back the real one. */
  presumed?: number;
}

/** Submit flags (upper 16 bits of `flags`; the pipe is in the lower 16). */
export const MSM_SUBMIT_NO_IMPLICIT = 0x8000_0000;
export const MSM_SUBMIT_FENCE_FD_IN = 0x4000_0000;
export const MSM_SUBMIT_FENCE_FD_OUT = 0x2000_0000;
export const MSM_SUBMIT_SUDO = 0x1000_0000;
export const MSM_SUBMIT_SYNCOBJ_IN = 0x0800_0000;
export const MSM_SUBMIT_SYNCOBJ_OUT = 0x0400_0000;
export const MSM_SUBMIT_FENCE_SN_IN = 0x0200_0000;
export const MSM_SUBMIT_FLAGS =
  (MSM_SUBMIT_NO_IMPLICIT |
    MSM_SUBMIT_FENCE_FD_IN |
    MSM_SUBMIT_FENCE_FD_OUT |
    MSM_SUBMIT_SUDO |
    MSM_SUBMIT_SYNCOBJ_IN |
    MSM_SUBMIT_SYNCOBJ_OUT |
    MSM_SUBMIT_FENCE_SN_IN) >>>
  0;

/** struct drm_msm_gem_submit (the fields this model honours). */
export interface DrmMsmGemSubmit {
  /** MSM_PIPE_3D0 | MSM_SUBMIT_x flags. */
  flags: number;
  bos: readonly DrmMsmGemSubmitBo[];
  cmds: readonly DrmMsmGemSubmitCmd[];
  /** Submit queue id (0: the file's default queue). */
  queueid?: number;
  pad?: number;
}

/** struct drm_msm_gem_submit (out). */
export interface DrmMsmGemSubmitOut {
  /** Per-queue fence sequence number, for WAIT_FENCE. */
  fence: number;
}

/** WAIT_FENCE flags. */
export const MSM_WAIT_FENCE_BOOST = 0x0000_0001;
export const MSM_WAIT_FENCE_FLAGS = MSM_WAIT_FENCE_BOOST;

/** struct drm_msm_wait_fence. */
export interface DrmMsmWaitFence {
  fence: number;
  flags?: number;
  timeout: DrmMsmTimespec;
  queueid?: number;
}

/** MADVISE values. */
export const MSM_MADV_WILLNEED = 0;
export const MSM_MADV_DONTNEED = 1;

/** Submit queues. */
export const MSM_SUBMITQUEUE_FLAGS = 0;

/** struct drm_msm_submitqueue (in). */
export interface DrmMsmSubmitqueue {
  flags: number;
  /** 0 .. PRIORITIES-1; a lower value is a higher priority. */
  prio: number;
}

export const MSM_SUBMITQUEUE_PARAM_FAULTS = 0;

/** struct drm_msm_submitqueue_query (the data comes back in the result). */
export interface DrmMsmSubmitqueueQuery {
  id: number;
  param: number;
  /** Bytes the caller can take; 0 asks for the size. */
  len: number;
  pad?: number;
}

/** A timespec `ns` nanoseconds after `nowNs` (what user space computes for a relative wait). */
export function msmTimeoutAfter(nowNs: number, ns: number): DrmMsmTimespec {
  const t = nowNs + Math.max(0, ns);
  return { tvSec: Math.floor(t / 1e9), tvNsec: t % 1e9 };
}

/** The absolute time of a timespec in ns, or NaN for a malformed one. */
export function msmTimespecNs(t: DrmMsmTimespec): number {
  if (!t || !Number.isSafeInteger(t.tvSec) || !Number.isSafeInteger(t.tvNsec)) return Number.NaN;
  return t.tvSec * 1e9 + t.tvNsec;
}
