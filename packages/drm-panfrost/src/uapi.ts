/**
 * The panfrost user-space interface (include/uapi/drm/panfrost_drm.h) as TypeScript shapes:
 * the ioctl argument structures with the same fields (camelCase), the flag and parameter
 * values, plus the few DRM-core calls a Mesa-style user needs (GEM_CLOSE, syncobjs, mmap).
 * u64 fields that hold GPU or mmap offsets are numbers (they stay below 2^53); GET_PARAM's
 * value is a bigint because the present masks are full 64-bit quantities.
 */

/** CREATE_BO flags. */
export const PANFROST_BO_NOEXEC = 1 << 0;
export const PANFROST_BO_HEAP = 1 << 1;

/** SUBMIT requirements: a fragment job (goes to job slot 0; everything else to slot 1). */
export const PANFROST_JD_REQ_FS = 1 << 0;

/** MADVISE values; a purged object reports madv -1 internally (retained = 0). */
export const PANFROST_MADV_WILLNEED = 0;
export const PANFROST_MADV_DONTNEED = 1;

/** syncobj creation flag (DRM core). */
export const DRM_SYNCOBJ_CREATE_SIGNALED = 1 << 0;
/** syncobj wait flags (DRM core). */
export const DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL = 1 << 0;
export const DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT = 1 << 1;

/** GET_PARAM parameters (enum drm_panfrost_param). */
export const DRM_PANFROST_PARAM_GPU_PROD_ID = 0;
export const DRM_PANFROST_PARAM_GPU_REVISION = 1;
export const DRM_PANFROST_PARAM_SHADER_PRESENT = 2;
export const DRM_PANFROST_PARAM_TILER_PRESENT = 3;
export const DRM_PANFROST_PARAM_L2_PRESENT = 4;
export const DRM_PANFROST_PARAM_STACK_PRESENT = 5;
export const DRM_PANFROST_PARAM_AS_PRESENT = 6;
export const DRM_PANFROST_PARAM_JS_PRESENT = 7;
export const DRM_PANFROST_PARAM_L2_FEATURES = 8;
export const DRM_PANFROST_PARAM_CORE_FEATURES = 9;
export const DRM_PANFROST_PARAM_TILER_FEATURES = 10;
export const DRM_PANFROST_PARAM_MEM_FEATURES = 11;
export const DRM_PANFROST_PARAM_MMU_FEATURES = 12;
export const DRM_PANFROST_PARAM_THREAD_FEATURES = 13;
export const DRM_PANFROST_PARAM_MAX_THREADS = 14;
export const DRM_PANFROST_PARAM_THREAD_MAX_WORKGROUP_SZ = 15;
export const DRM_PANFROST_PARAM_THREAD_MAX_BARRIER_SZ = 16;
export const DRM_PANFROST_PARAM_COHERENCY_FEATURES = 17;
export const DRM_PANFROST_PARAM_TEXTURE_FEATURES0 = 18;
export const DRM_PANFROST_PARAM_TEXTURE_FEATURES3 = 21;
export const DRM_PANFROST_PARAM_JS_FEATURES0 = 22;
export const DRM_PANFROST_PARAM_JS_FEATURES15 = 37;
export const DRM_PANFROST_PARAM_NR_CORE_GROUPS = 38;
export const DRM_PANFROST_PARAM_THREAD_TLS_ALLOC = 39;
export const DRM_PANFROST_PARAM_AFBC_FEATURES = 40;

/** Parameter names, for messages and the CLI. */
export const DRM_PANFROST_PARAM_NAMES: readonly string[] = [
  'GPU_PROD_ID',
  'GPU_REVISION',
  'SHADER_PRESENT',
  'TILER_PRESENT',
  'L2_PRESENT',
  'STACK_PRESENT',
  'AS_PRESENT',
  'JS_PRESENT',
  'L2_FEATURES',
  'CORE_FEATURES',
  'TILER_FEATURES',
  'MEM_FEATURES',
  'MMU_FEATURES',
  'THREAD_FEATURES',
  'MAX_THREADS',
  'THREAD_MAX_WORKGROUP_SZ',
  'THREAD_MAX_BARRIER_SZ',
  'COHERENCY_FEATURES',
  'TEXTURE_FEATURES0',
  'TEXTURE_FEATURES1',
  'TEXTURE_FEATURES2',
  'TEXTURE_FEATURES3',
  ...Array.from({ length: 16 }, (_, i) => `JS_FEATURES${i}`),
  'NR_CORE_GROUPS',
  'THREAD_TLS_ALLOC',
  'AFBC_FEATURES',
];

/** struct drm_panfrost_create_bo (in). */
export interface DrmPanfrostCreateBo {
  /** Bytes (a u32); rounded up to pages, and to 2 MiB for a heap. */
  size: number;
  flags: number;
  pad?: number;
}
/** struct drm_panfrost_create_bo (out). */
export interface DrmPanfrostCreateBoOut {
  handle: number;
  /** The buffer's GPU virtual address in this file's address space. */
  offset: number;
}

export interface DrmPanfrostMmapBo {
  handle: number;
  flags?: number;
}
export interface DrmPanfrostGetBoOffset {
  handle: number;
  pad?: number;
}
export interface DrmPanfrostGetParam {
  param: number;
  pad?: number;
}

/** struct drm_panfrost_submit. */
export interface DrmPanfrostSubmit {
  /** GPU virtual address of the first job descriptor of the chain. */
  jc: number;
  /** syncobj handles whose fences the job waits for. */
  inSyncs?: readonly number[];
  /** syncobj handle (0: none) that receives the job's completion fence. */
  outSync?: number;
  /** GEM handles the job uses; each one's last fence is waited for and replaced by the job's. */
  boHandles?: readonly number[];
  requirements?: number;
}

/** struct drm_panfrost_wait_bo. */
export interface DrmPanfrostWaitBo {
  handle: number;
  pad?: number;
  /** Absolute CLOCK_MONOTONIC deadline in ns; 0 or a past time polls. */
  timeoutNs: number;
}

/** struct drm_panfrost_madvise (in). */
export interface DrmPanfrostMadvise {
  handle: number;
  madv: number;
}

/** struct drm_syncobj_wait (the fields the model uses). */
export interface DrmSyncobjWait {
  handles: readonly number[];
  /** Absolute deadline in ns (0: poll). */
  timeoutNs: number;
  flags?: number;
}
