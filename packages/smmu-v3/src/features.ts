import {
  ADDR_SIZE_BITS,
  IDR0_ASID16,
  IDR0_COHACC,
  IDR0_HYP,
  IDR0_MSI,
  IDR0_S1P,
  IDR0_S2P,
  IDR0_SEV,
  IDR0_ST_LEVEL_SHIFT,
  IDR0_STALL_MODEL_SHIFT,
  IDR0_TTF_AARCH64,
  IDR0_VMID16,
  IDR1_ATTR_TYPES_OVR,
  IDR1_CMDQS_SHIFT,
  IDR1_EVENTQS_SHIFT,
  IDR1_QS_MASK,
  IDR1_QUEUES_PRESET,
  IDR1_SIDSIZE_MASK,
  IDR1_TABLES_PRESET,
  IDR3_RIL,
  IDR5_GRAN16K,
  IDR5_GRAN4K,
  IDR5_GRAN64K,
  IDR5_OAS_MASK,
  IDR5_VAX_SHIFT,
  IDR0_BTM,
} from './regs.js';

const SZ_4K = 0x1000;
const SZ_16K = 0x4000;
const SZ_64K = 0x1_0000;
const SZ_2M = 0x20_0000;
const SZ_32M = 0x200_0000;
const SZ_512M = 0x2000_0000;
const SZ_1G = 0x4000_0000;

/** What the driver learnt from IDR0..IDR5 (arm_smmu_device_hw_probe). Plain data. */
export interface ArmSmmuV3Features {
  readonly s1: boolean;
  readonly s2: boolean;
  readonly hyp: boolean;
  /** COHACC: table walks and queue accesses are coherent. */
  readonly coherent: boolean;
  readonly msi: boolean;
  readonly sev: boolean;
  /** STALL_MODEL = 0: the SMMU can stall, so stage-1 STEs disable stalls (S1STALLD). */
  readonly stallsSupported: boolean;
  /** IDR0.ST_LEVEL = 1. */
  readonly twoLevelStrtab: boolean;
  readonly attrTypesOvr: boolean;
  readonly ril: boolean;
  readonly asidBits: number;
  readonly vmidBits: number;
  readonly sidBits: number;
  /** log2 of the largest command and event queues. */
  readonly cmdqShift: number;
  readonly evtqShift: number;
  /** Output address size in bits and its 0..6 encoding. */
  readonly oas: number;
  readonly oasEnc: number;
  /** Page sizes of the supported granules (4K: 4K/2M/1G, 16K: 16K/32M, 64K: 64K/512M). */
  readonly pgsizeBitmap: number;
  /**
   * smmu->ias: the input size the SMMU handles, as Linux works it out: 40 bits when AArch32
   * tables are supported (TTF = 3), then at least the OAS. Stage-2 domains take it as their
   * input size, stage-1 domains as their output size.
   */
  readonly ias: number;
  /** IDR5.VAX = 1: 52-bit virtual addresses (stage-1 input up to 52 bits). */
  readonly vax: boolean;
  /** ARM_SMMU_FEAT_NESTING: both stages; cleared by the IIDR errata below. */
  readonly nesting: boolean;
  /** IDR0.BTM: broadcast TLB maintenance. */
  readonly btm: boolean;
  /** ARM_SMMU_OPT_CMDQ_FORCE_SYNC (MMU-700 erratum 2812531). */
  readonly cmdqForceSync: boolean;
}

/** SMMU_IIDR fields and the implementers/products Linux knows errata for. */
export const IIDR_IMPLEMENTER_ARM = 0x43b;
export const IIDR_PRODUCTID_ARM_MMU_600 = 0x483;
export const IIDR_PRODUCTID_ARM_MMU_700 = 0x487;

/**
 * arm_smmu_device_iidr_probe: the features Linux turns off for known errata, from SMMU_IIDR
 * (Implementer [11:0], Revision [15:12], Variant [19:16], ProductID [31:20]):
 * Arm MMU-600 r0p0..r0p2 lose SEV (erratum 1076982), MMU-600 before r2 loses nesting (1209401);
 * MMU-700 loses BTM and must sync when a command batch fills (2812531) and loses nesting
 * (2268618, 2812531).
 */
export function applyIidrErrata(f: ArmSmmuV3Features, iidr: number): ArmSmmuV3Features {
  const implementer = iidr & 0xfff;
  const revision = (iidr >>> 12) & 0xf;
  const variant = (iidr >>> 16) & 0xf;
  const product = (iidr >>> 20) & 0xfff;
  if (implementer !== IIDR_IMPLEMENTER_ARM) return f;
  if (product === IIDR_PRODUCTID_ARM_MMU_600) {
    return { ...f, sev: variant === 0 && revision <= 2 ? false : f.sev, nesting: variant < 2 ? false : f.nesting };
  }
  if (product === IIDR_PRODUCTID_ARM_MMU_700) return { ...f, btm: false, cmdqForceSync: true, nesting: false };
  return f;
}

/** Decodes the ID registers; a string says why the SMMU cannot be driven. */
export function decodeIdRegs(idr: readonly number[]): ArmSmmuV3Features | string {
  const [idr0 = 0, idr1 = 0, , idr3 = 0, , idr5 = 0] = idr;
  const s1 = (idr0 & IDR0_S1P) !== 0;
  const s2 = (idr0 & IDR0_S2P) !== 0;
  if (!s1 && !s2) return 'no translation support!';
  if ((idr0 & IDR0_TTF_AARCH64) === 0) return 'AArch64 table format not supported';
  if ((idr1 & (IDR1_TABLES_PRESET | IDR1_QUEUES_PRESET)) !== 0) return 'embedded implementation not supported';
  const cmdqShift = (idr1 >>> IDR1_CMDQS_SHIFT) & IDR1_QS_MASK;
  const evtqShift = (idr1 >>> IDR1_EVENTQS_SHIFT) & IDR1_QS_MASK;
  if (cmdqShift < 1) return `command queue of 2^${cmdqShift} entries is too small`;
  let pgsizeBitmap = 0;
  if (idr5 & IDR5_GRAN4K) pgsizeBitmap += SZ_4K + SZ_2M + SZ_1G;
  if (idr5 & IDR5_GRAN16K) pgsizeBitmap += SZ_16K + SZ_32M;
  if (idr5 & IDR5_GRAN64K) pgsizeBitmap += SZ_64K + SZ_512M;
  if (pgsizeBitmap === 0) return 'no translation granule supported';
  let oasEnc = idr5 & IDR5_OAS_MASK;
  if (oasEnc >= ADDR_SIZE_BITS.length) oasEnc = 5; // reserved encoding: assume 48 bits
  const oas = ADDR_SIZE_BITS[oasEnc]!;
  const aarch32Tables = ((idr0 >>> 2) & 3) === 3;
  return {
    s1,
    s2,
    hyp: (idr0 & IDR0_HYP) !== 0,
    coherent: (idr0 & IDR0_COHACC) !== 0,
    msi: (idr0 & IDR0_MSI) !== 0,
    sev: (idr0 & IDR0_SEV) !== 0,
    stallsSupported: ((idr0 >>> IDR0_STALL_MODEL_SHIFT) & 3) === 0,
    twoLevelStrtab: ((idr0 >>> IDR0_ST_LEVEL_SHIFT) & 3) === 1,
    attrTypesOvr: (idr1 & IDR1_ATTR_TYPES_OVR) !== 0,
    ril: (idr3 & IDR3_RIL) !== 0,
    asidBits: idr0 & IDR0_ASID16 ? 16 : 8,
    vmidBits: idr0 & IDR0_VMID16 ? 16 : 8,
    sidBits: idr1 & IDR1_SIDSIZE_MASK,
    cmdqShift,
    evtqShift,
    oas,
    oasEnc,
    pgsizeBitmap,
    ias: Math.max(aarch32Tables ? 40 : 0, oas),
    vax: ((idr5 >>> IDR5_VAX_SHIFT) & 3) === 1,
    nesting: s1 && s2,
    btm: (idr0 & IDR0_BTM) !== 0,
    cmdqForceSync: false,
  };
}
