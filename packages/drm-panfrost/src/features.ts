import type { IoMem } from '@gki/kernel';
import * as R from './regs.js';

/** panfrost's hardware feature bits (enum panfrost_hw_feature, in the kernel's order). */
export const HW_FEATURE_JOBCHAIN_DISAMBIGUATION = 0;
export const HW_FEATURE_PWRON_DURING_PWROFF_TRANS = 1;
export const HW_FEATURE_XAFFINITY = 2;
export const HW_FEATURE_V4 = 3;
export const HW_FEATURE_FLUSH_REDUCTION = 4;
export const HW_FEATURE_PROTECTED_MODE = 5;
export const HW_FEATURE_COHERENCY_REG = 6;
export const HW_FEATURE_PROTECTED_DEBUG_MODE = 7;
export const HW_FEATURE_AARCH64_MMU = 8;
export const HW_FEATURE_TLS_HASHING = 9;
export const HW_FEATURE_THREAD_GROUP_SPLIT = 10;
export const HW_FEATURE_IDVS_GROUP_SIZE = 11;
export const HW_FEATURE_CLEAN_ONLY_SAFE = 12;
export const HW_FEATURE_3BIT_EXT_RW_L2_MMU_CONFIG = 13;

const bits = (...b: number[]): number => b.reduce((a, x) => a | (1 << x), 0);

const T600 = bits(HW_FEATURE_THREAD_GROUP_SPLIT, HW_FEATURE_V4);
const T760 = bits(
  HW_FEATURE_JOBCHAIN_DISAMBIGUATION,
  HW_FEATURE_PWRON_DURING_PWROFF_TRANS,
  HW_FEATURE_XAFFINITY,
  HW_FEATURE_THREAD_GROUP_SPLIT,
);
const G71 = T760 | bits(HW_FEATURE_FLUSH_REDUCTION, HW_FEATURE_PROTECTED_MODE, HW_FEATURE_COHERENCY_REG);
const G72 = G71 | bits(HW_FEATURE_PROTECTED_DEBUG_MODE);
const G52 = G72 | bits(HW_FEATURE_IDVS_GROUP_SIZE);
const G76 = G72 | bits(HW_FEATURE_AARCH64_MMU, HW_FEATURE_TLS_HASHING, HW_FEATURE_IDVS_GROUP_SIZE, HW_FEATURE_3BIT_EXT_RW_L2_MMU_CONFIG);
const G31 = G72 | bits(HW_FEATURE_AARCH64_MMU, HW_FEATURE_TLS_HASHING, HW_FEATURE_3BIT_EXT_RW_L2_MMU_CONFIG);
const G57 =
  bits(
    HW_FEATURE_JOBCHAIN_DISAMBIGUATION,
    HW_FEATURE_PWRON_DURING_PWROFF_TRANS,
    HW_FEATURE_XAFFINITY,
    HW_FEATURE_FLUSH_REDUCTION,
    HW_FEATURE_PROTECTED_MODE,
    HW_FEATURE_PROTECTED_DEBUG_MODE,
    HW_FEATURE_COHERENCY_REG,
    HW_FEATURE_AARCH64_MMU,
    HW_FEATURE_IDVS_GROUP_SIZE,
    HW_FEATURE_CLEAN_ONLY_SAFE,
  );

/** The GPUs panfrost knows by product id (after masking, see `panfrostModelId`). */
export const PANFROST_GPU_MODELS: readonly { readonly name: string; readonly id: number; readonly features: number }[] = [
  { name: 't600', id: 0x600, features: T600 },
  { name: 't620', id: 0x620, features: T600 },
  { name: 't720', id: 0x720, features: T600 },
  { name: 't760', id: 0x750, features: T760 },
  { name: 't820', id: 0x820, features: T760 },
  { name: 't830', id: 0x830, features: T760 },
  { name: 't860', id: 0x860, features: T760 },
  { name: 't880', id: 0x880, features: T760 },
  { name: 'g71', id: 0x6000, features: G71 },
  { name: 'g72', id: 0x6001, features: G72 },
  { name: 'g51', id: 0x7000, features: G72 },
  { name: 'g76', id: 0x7001, features: G76 },
  { name: 'g52', id: 0x7002, features: G52 },
  { name: 'g31', id: 0x7003, features: G31 },
  { name: 'g57', id: 0x9001, features: G57 },
  // MediaTek's G57s (MT8192 MC5, MT8188 MC3) report product id 0x9093: 0x9003 once masked,
  // which Linux lists as a second G57 so they get the G57 features, not "unknown"
  { name: 'g57', id: 0x9003, features: G57 },
];

/**
 * The product id the model table is keyed by: Bifrost and later ids (top nibble set) carry
 * architecture minor/revision fields in bits [11:4], which the comparison ignores.
 */
export function panfrostModelId(id: number): number {
  return id & 0xf000 ? id & 0xf00f : id;
}

/** What panfrost reads from the GPU at probe (struct panfrost_features). */
export interface PanfrostFeatures {
  /** GPU_ID[31:16], with the T60x's odd 0x6956 rewritten to 0x0600. */
  id: number;
  /** GPU_ID[15:0]: major [15:12], minor [11:4], status [3:0]. */
  revision: number;
  shaderPresent: bigint;
  tilerPresent: bigint;
  l2Present: bigint;
  stackPresent: bigint;
  asPresent: number;
  jsPresent: number;
  l2Features: number;
  coreFeatures: number;
  tilerFeatures: number;
  memFeatures: number;
  mmuFeatures: number;
  threadFeatures: number;
  maxThreads: number;
  threadMaxWorkgroupSz: number;
  threadMaxBarrierSz: number;
  coherencyFeatures: number;
  afbcFeatures: number;
  textureFeatures: number[];
  jsFeatures: number[];
  nrCoreGroups: number;
  threadTlsAlloc: number;
  /** Bitmask of HW_FEATURE_* from the model table (0 for an unknown GPU). */
  hwFeatures: number;
  /** The model name ("t860", "g52"), or "unknown". */
  name: string;
}

function popcount32(x: number): number {
  let v = x >>> 0;
  let n = 0;
  while (v) {
    v &= v - 1;
    n++;
  }
  return n;
}

function read64(regs: IoMem, lo: number, hi: number): bigint {
  return (BigInt(regs.read32(hi) >>> 0) << 32n) | BigInt(regs.read32(lo) >>> 0);
}

/** panfrost_gpu_init_features: reads the identification and feature registers. */
export function readFeatures(regs: IoMem): PanfrostFeatures {
  const rd = (off: number): number => regs.read32(off) >>> 0;
  const jsPresent = rd(R.GPU_JS_PRESENT);
  const jsFeatures = new Array<number>(16).fill(0);
  const numJs = popcount32(jsPresent);
  for (let i = 0; i < numJs; i++) jsFeatures[i] = rd(R.GPU_JS_FEATURES(i));
  const l2Present = read64(regs, R.GPU_L2_PRESENT_LO, R.GPU_L2_PRESENT_HI);
  const gpuId = rd(R.GPU_ID);
  let id = gpuId >>> 16;
  if (id === 0x6956) id = 0x0600;
  const model = PANFROST_GPU_MODELS.find((m) => panfrostModelId(id) === m.id);
  let groups = 0;
  for (let v = l2Present; v; v &= v - 1n) groups++;
  return {
    l2Features: rd(R.GPU_L2_FEATURES),
    coreFeatures: rd(R.GPU_CORE_FEATURES),
    tilerFeatures: rd(R.GPU_TILER_FEATURES),
    memFeatures: rd(R.GPU_MEM_FEATURES),
    mmuFeatures: rd(R.GPU_MMU_FEATURES),
    threadFeatures: rd(R.GPU_THREAD_FEATURES),
    maxThreads: rd(R.GPU_THREAD_MAX_THREADS),
    threadMaxWorkgroupSz: rd(R.GPU_THREAD_MAX_WORKGROUP_SIZE),
    threadMaxBarrierSz: rd(R.GPU_THREAD_MAX_BARRIER_SIZE),
    coherencyFeatures: rd(R.GPU_COHERENCY_FEATURES),
    afbcFeatures: rd(R.GPU_AFBC_FEATURES),
    textureFeatures: [0, 1, 2, 3].map((i) => rd(R.GPU_TEXTURE_FEATURES(i))),
    asPresent: rd(R.GPU_AS_PRESENT),
    jsPresent,
    jsFeatures,
    shaderPresent: read64(regs, R.GPU_SHADER_PRESENT_LO, R.GPU_SHADER_PRESENT_HI),
    tilerPresent: read64(regs, R.GPU_TILER_PRESENT_LO, R.GPU_TILER_PRESENT_HI),
    l2Present,
    nrCoreGroups: groups,
    stackPresent: read64(regs, R.GPU_STACK_PRESENT_LO, R.GPU_STACK_PRESENT_HI),
    threadTlsAlloc: rd(R.GPU_THREAD_TLS_ALLOC),
    revision: gpuId & 0xffff,
    id,
    hwFeatures: model?.features ?? 0,
    name: model?.name ?? 'unknown',
  };
}

export function hasHwFeature(f: PanfrostFeatures, feature: number): boolean {
  return (f.hwFeatures & (1 << feature)) !== 0;
}

/** Virtual address bits the MMU translates (MMU_FEATURES[7:0]): the io-pgtable ias. */
export function mmuVaBits(f: PanfrostFeatures): number {
  return f.mmuFeatures & 0xff;
}

/** Physical address bits (MMU_FEATURES[15:8]): the io-pgtable oas and the DMA mask. */
export function mmuPaBits(f: PanfrostFeatures): number {
  return (f.mmuFeatures >>> 8) & 0xff;
}
