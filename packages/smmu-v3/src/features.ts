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
    oas: ADDR_SIZE_BITS[oasEnc]!,
    oasEnc,
    pgsizeBitmap,
  };
}
