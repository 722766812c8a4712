/**
 * SMMUv3 identification: build the ID registers from a feature description, decode them
 * back, and the presets the model ships with.
 */
import {
  IDR0_ASID16,
  IDR0_ATS,
  IDR0_CD2L,
  IDR0_COHACC,
  IDR0_HYP,
  IDR0_MSI,
  IDR0_PRI,
  IDR0_S1P,
  IDR0_S2P,
  IDR0_SEV,
  IDR0_VMID16,
  IDR3_RIL,
  IDR5_GRAN16K,
  IDR5_GRAN4K,
  IDR5_GRAN64K,
  SMMU_ADDR_BITS,
} from './regs.js';

/** The identification registers of one SMMUv3 instance. */
export interface SmmuV3Preset {
  readonly name: string;
  /** IDR0..IDR5. */
  readonly idr: readonly [number, number, number, number, number, number];
  readonly iidr: number;
  readonly aidr: number;
}

/** Features that select the ID register values (see `smmuV3Preset`). */
export interface SmmuV3Features {
  readonly name?: string;
  readonly s1?: boolean;
  readonly s2?: boolean;
  /**
   * Translation table formats. Only 'aarch64' (TTF = 2, the default): the model has no AArch32
   * (long-descriptor VMSAv7) walker, so 'both' is refused.
   */
  readonly ttf?: 'aarch64' | 'both';
  readonly cohacc?: boolean;
  /** Two-level stream tables (IDR0.ST_LEVEL = 1). */
  readonly twoLevelStrtab?: boolean;
  /** Two-level CD tables (IDR0.CD2L). */
  readonly cd2l?: boolean;
  readonly asid16?: boolean;
  readonly vmid16?: boolean;
  /** Output address size in bits: 32, 36, 40, 42, 44, 48 or 52. */
  readonly oas?: number;
  readonly gran4k?: boolean;
  readonly gran16k?: boolean;
  readonly gran64k?: boolean;
  /** Range invalidation (IDR3.RIL). */
  readonly ril?: boolean;
  /** Hardware table update: 0 none, 1 access flag, 2 access flag and dirty state. */
  readonly httu?: 0 | 1 | 2;
  /** SubstreamID bits (IDR1.SSIDSIZE, 0..20). */
  readonly ssidSize?: number;
  /** StreamID bits (IDR1.SIDSIZE, 0..32). */
  readonly sidSize?: number;
  /** log2 of the largest command / event / PRI queue. */
  readonly cmdqs?: number;
  readonly eventqs?: number;
  readonly priqs?: number;
  readonly msi?: boolean;
  readonly sev?: boolean;
  readonly hyp?: boolean;
  /** ATS and PRI are outside the model: a preset that asks for them is refused. */
  readonly ats?: boolean;
  readonly pri?: boolean;
}

function oasEncoding(bits: number): number {
  const i = SMMU_ADDR_BITS.indexOf(bits);
  if (i < 0) throw new RangeError(`OAS ${bits} is not one of ${SMMU_ADDR_BITS.join(', ')}`);
  return i;
}

function field(name: string, v: number, max: number): number {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new RangeError(`${name}=${v} is outside 0..${max}`);
  return v;
}

/**
 * Builds a preset (ID register values) from a feature list. Features the model does not
 * implement (ATS, PRI, AArch32 tables) are refused with a RangeError: a preset advertises only
 * what the model does. Fixed fields: little-endian tables only, no stalls (faults terminate),
 * terminated transactions abort, no attribute overrides, no PRI queue.
 */
export function smmuV3Preset(f: SmmuV3Features): SmmuV3Preset {
  if (f.ats) throw new RangeError('smmuV3Preset: the model does not implement ATS');
  if (f.pri) throw new RangeError('smmuV3Preset: the model does not implement PRI');
  if (f.ttf === 'both') throw new RangeError('smmuV3Preset: the model walks AArch64 tables only (no AArch32 TTF)');
  if ((f.priqs ?? 0) !== 0) throw new RangeError('smmuV3Preset: no PRI queue without PRI');
  let idr0 = 0;
  if (f.s2) idr0 |= IDR0_S2P;
  if (f.s1 ?? true) idr0 |= IDR0_S1P;
  idr0 |= 2 << 2; // TTF: AArch64 tables only
  if (f.cohacc) idr0 |= IDR0_COHACC;
  idr0 |= field('httu', f.httu ?? 0, 2) << 6;
  if (f.hyp) idr0 |= IDR0_HYP;
  if (f.asid16) idr0 |= IDR0_ASID16;
  if (f.msi) idr0 |= IDR0_MSI;
  if (f.sev) idr0 |= IDR0_SEV;
  if (f.vmid16) idr0 |= IDR0_VMID16;
  if (f.cd2l) idr0 |= IDR0_CD2L;
  idr0 |= 2 << 21; // TTENDIAN: little-endian only
  idr0 |= 1 << 24; // STALL_MODEL: stalls not supported
  idr0 |= 1 << 26; // TERM_MODEL: terminated transactions always abort
  if (f.twoLevelStrtab) idr0 |= 1 << 27;
  const idr1 =
    field('sidSize', f.sidSize ?? 16, 32) |
    (field('ssidSize', f.ssidSize ?? 0, 20) << 6) |
    (field('priqs', f.priqs ?? 0, 19) << 11) |
    (field('eventqs', f.eventqs ?? 19, 19) << 16) |
    (field('cmdqs', f.cmdqs ?? 19, 19) << 21);
  const idr3 = f.ril ? IDR3_RIL : 0;
  let idr5 = oasEncoding(f.oas ?? 48);
  if (f.gran4k ?? true) idr5 |= IDR5_GRAN4K;
  if (f.gran16k) idr5 |= IDR5_GRAN16K;
  if (f.gran64k) idr5 |= IDR5_GRAN64K;
  return {
    name: f.name ?? 'custom',
    idr: [idr0 >>> 0, idr1 >>> 0, 0, idr3 >>> 0, 0, idr5 >>> 0],
    iidr: 0x4830_043b, // Arm (0x43B), product 0x483 (MMU-600-like)
    aidr: 0x1,
  };
}

/**
 * An SMMUv3 shaped like the one of the Arm FVP Base RevC, limited to what the model implements:
 * S1+S2, AArch64 tables, coherent, HTTU access+dirty, HYP, MSI, 16-bit VMIDs but 8-bit ASIDs,
 * two-level CD and stream tables, 16-bit SIDs, 20-bit SSIDs, 2^19-entry queues, 48-bit OAS,
 * 4K and 64K granules, no range invalidation. The real part also has stalls, ATS, PRI, ATOS,
 * BTM, VMID wildcards, mixed-endian and AArch32 tables and attribute overrides, which the model
 * does not implement and so does not advertise. IIDR says Arm MMU-600 r0p0, as on the FVP.
 */
export const SMMUV3_PRESET_FVP: SmmuV3Preset = {
  ...smmuV3Preset({
    name: 'fvp',
    s1: true,
    s2: true,
    cohacc: true,
    httu: 2,
    hyp: true,
    msi: true,
    vmid16: true,
    cd2l: true,
    twoLevelStrtab: true,
    sidSize: 16,
    ssidSize: 20,
    cmdqs: 19,
    eventqs: 19,
    oas: 48,
    gran4k: true,
    gran64k: true,
  }),
  iidr: 0x4830_043b,
};

/** The smallest useful SMMUv3: stage 1 only, linear stream table, 8-bit SIDs, 4K granule, 40-bit OAS. */
export const SMMUV3_PRESET_MINIMAL: SmmuV3Preset = smmuV3Preset({
  name: 'minimal',
  s1: true,
  cohacc: true,
  sidSize: 8,
  oas: 40,
  cmdqs: 8,
  eventqs: 8,
});

/** A QEMU-virt-like full model: nested stages, RIL, 16-bit ASIDs/VMIDs, all granules. */
export const SMMUV3_PRESET_QEMU: SmmuV3Preset = smmuV3Preset({
  name: 'qemu',
  s1: true,
  s2: true,
  cohacc: true,
  twoLevelStrtab: true,
  asid16: true,
  vmid16: true,
  oas: 44,
  gran4k: true,
  gran16k: true,
  gran64k: true,
  ril: true,
  sidSize: 16,
  cmdqs: 19,
  eventqs: 19,
});

/** Decoded view of the ID registers that the model's behaviour depends on. */
export interface SmmuV3Caps {
  readonly s1: boolean;
  readonly s2: boolean;
  readonly ttf: number;
  readonly httu: number;
  readonly hyp: boolean;
  readonly ats: boolean;
  readonly pri: boolean;
  readonly msi: boolean;
  readonly asidBits: number;
  readonly vmidBits: number;
  readonly cd2l: boolean;
  readonly twoLevelStrtab: boolean;
  readonly sidBits: number;
  readonly ssidBits: number;
  readonly cmdqs: number;
  readonly eventqs: number;
  readonly ril: boolean;
  readonly oasBits: number;
  /** OAS as the IPS/PS encoding (0..6). */
  readonly oasEnc: number;
  readonly gran4k: boolean;
  readonly gran16k: boolean;
  readonly gran64k: boolean;
}

export function decodeSmmuV3Caps(p: SmmuV3Preset): SmmuV3Caps {
  const [i0, i1, , i3, , i5] = p.idr;
  const oasEnc = Math.min(i5 & 7, 6);
  return {
    s1: (i0 & IDR0_S1P) !== 0,
    s2: (i0 & IDR0_S2P) !== 0,
    ttf: (i0 >>> 2) & 3,
    httu: (i0 >>> 6) & 3,
    hyp: (i0 & IDR0_HYP) !== 0,
    ats: (i0 & IDR0_ATS) !== 0,
    pri: (i0 & IDR0_PRI) !== 0,
    msi: (i0 & IDR0_MSI) !== 0,
    asidBits: i0 & IDR0_ASID16 ? 16 : 8,
    vmidBits: i0 & IDR0_VMID16 ? 16 : 8,
    cd2l: (i0 & IDR0_CD2L) !== 0,
    twoLevelStrtab: ((i0 >>> 27) & 3) === 1,
    sidBits: i1 & 0x3f,
    ssidBits: (i1 >>> 6) & 0x1f,
    cmdqs: (i1 >>> 21) & 0x1f,
    eventqs: (i1 >>> 16) & 0x1f,
    ril: (i3 & IDR3_RIL) !== 0,
    oasBits: SMMU_ADDR_BITS[oasEnc]!,
    oasEnc,
    gran4k: (i5 & IDR5_GRAN4K) !== 0,
    gran16k: (i5 & IDR5_GRAN16K) !== 0,
    gran64k: (i5 & IDR5_GRAN64K) !== 0,
  };
}
