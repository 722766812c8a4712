/**
 * Identification of the SMMUv1/v2 implementations the model can be: what the ID registers
 * report and the reset values that differ between implementations. A board chooses one by
 * compatible (see factory.ts) and may override any field with `gki,*` properties.
 *
 * MMU-500 figures follow its technical reference manual and the register reference of shipping
 * MMU-500 r2 integrations: stages 1, 2 and nested; stream matching with 15-bit StreamIDs;
 * AArch64 with the 4 KiB and 64 KiB granules (no 16 KiB), AArch32 long and short descriptors;
 * 48-bit IAS/OAS/UBS; ATOS not supported (ID0.ATOSNS = 1); one NUMIRPT; ID7 = r2p1;
 * sACR reset 0x0400001c (CACHE_LOCK set); context SCTLR reset with HUPCF set; ACTLR CPRE|CMTLB.
 */
import * as R from './regs.js';

/** Which implementation-defined behaviour applies (sACR fields, ACTLR lock). */
export type SmmuV2Impl = 'generic' | 'mmu-500';

export interface SmmuV2Preset {
  readonly name: string;
  /** Architecture version: 1 (no CBA2R unless `cba2r`), 2. */
  readonly version: 1 | 2;
  readonly impl: SmmuV2Impl;
  readonly s1: boolean;
  readonly s2: boolean;
  readonly nested: boolean;
  /** Stream matching (SMR/S2CR groups); false = stream indexing (S2CR[StreamID]). */
  readonly sms: boolean;
  /** Stream match register groups (SMS), or S2CRs when indexing (then 2^streamIdBits). */
  readonly numSmr: number;
  /** StreamID bits (ID0.NUMSIDB), 1..15. */
  readonly streamIdBits: number;
  /** Context banks implemented; a board's `reg` size and interrupts may lower it. */
  readonly numCb: number;
  /** Of which the first `numS2Cb` support stage 2 only. */
  readonly numS2Cb: number;
  readonly aarch32Long: boolean;
  readonly aarch32Short: boolean;
  readonly aarch64_4k: boolean;
  readonly aarch64_16k: boolean;
  readonly aarch64_64k: boolean;
  /** Input / output / upstream bus address bits: 32, 36, 40, 42, 44 or 48. */
  readonly ias: number;
  readonly oas: number;
  readonly ubs: number;
  /** Register page size: 4096 or 65536. */
  readonly pageSize: number;
  readonly vmid16: boolean;
  /** Coherent table walks (ID0.CTTW). */
  readonly cttw: boolean;
  readonly btm: boolean;
  /** ID0.NUMIRPT: context interrupts (SMMUv1 IRPTNDX range). */
  readonly numIrpt: number;
  /** CBA2R exists (v2, and the v1 64 KiB supplement of MMU-401). */
  readonly cba2r: boolean;
  readonly id7: number;
  readonly sacrReset: number;
  readonly sctlrReset: number;
  readonly actlrReset: number;
  /** sCR0.GCFGFRE/GCFGFIE are implemented (read-only zero on MMU-500). */
  readonly gcfg: boolean;
}

/** Arm CoreLink MMU-500 (r2p1), a sensible generic configuration. */
export const SMMUV2_PRESET_MMU500: SmmuV2Preset = {
  name: 'mmu-500',
  version: 2,
  impl: 'mmu-500',
  s1: true,
  s2: true,
  nested: true,
  sms: true,
  numSmr: 48,
  streamIdBits: 15,
  numCb: 8,
  numS2Cb: 0,
  aarch32Long: true,
  aarch32Short: true,
  aarch64_4k: true,
  aarch64_16k: false,
  aarch64_64k: true,
  ias: 48,
  oas: 48,
  ubs: 48,
  pageSize: 4096,
  vmid16: false,
  cttw: false,
  btm: true,
  numIrpt: 1,
  cba2r: true,
  id7: 0x21,
  sacrReset: R.SACR_MMU500_CACHE_LOCK | R.SACR_MMU500_IPA2PA_CEN | R.SACR_MMU500_S2WC2EN | R.SACR_MMU500_S1WC2EN,
  sctlrReset: R.SCTLR_HUPCF,
  actlrReset: R.ACTLR_MMU500_CPRE | R.ACTLR_MMU500_CMTLB,
  gcfg: false,
};

/** Qualcomm's application-processor MMU-500 (`qcom,*-smmu-500`): many stream IDs in use. */
export const SMMUV2_PRESET_QCOM_MMU500: SmmuV2Preset = { ...SMMUV2_PRESET_MMU500, name: 'qcom-mmu-500', numSmr: 128, numCb: 64 };

/** A generic SMMUv2 (`arm,smmu-v2`, `qcom,smmu-v2`, `cavium,smmu-v2`). */
export const SMMUV2_PRESET_V2: SmmuV2Preset = {
  ...SMMUV2_PRESET_MMU500,
  name: 'smmu-v2',
  impl: 'generic',
  numSmr: 32,
  numCb: 8,
  aarch64_16k: true,
  vmid16: true,
  id7: 0,
  sacrReset: 0,
  sctlrReset: 0,
  actlrReset: 0,
  gcfg: true,
};

/**
 * The Qualcomm Adreno GPU's SMMU-v2 (`qcom,adreno-smmu`): a few context banks (the GPU uses one
 * with split TTBR0/TTBR1 tables, the GMU another), stage 1 only, AArch64 and AArch32 formats.
 */
export const SMMUV2_PRESET_ADRENO: SmmuV2Preset = {
  ...SMMUV2_PRESET_V2,
  name: 'qcom-adreno-smmu-v2',
  s2: false,
  nested: false,
  numSmr: 16,
  numCb: 8,
  aarch64_16k: false,
  vmid16: false,
};

/** SMMUv1 (`arm,smmu-v1`): AArch32 formats only, 40-bit addresses, no CBA2R. */
export const SMMUV2_PRESET_V1: SmmuV2Preset = {
  ...SMMUV2_PRESET_V2,
  name: 'smmu-v1',
  version: 1,
  numSmr: 16,
  numCb: 8,
  aarch64_4k: false,
  aarch64_16k: false,
  aarch64_64k: false,
  ias: 40,
  oas: 40,
  ubs: 40,
  vmid16: false,
  numIrpt: 8,
  cba2r: false,
};

/** Arm CoreLink MMU-400: an SMMUv1 implementation. */
export const SMMUV2_PRESET_MMU400: SmmuV2Preset = { ...SMMUV2_PRESET_V1, name: 'mmu-400', numCb: 4, numSmr: 8 };

/**
 * Arm CoreLink MMU-401: SMMUv1 with the 64 KiB translation granule supplement: AArch64
 * (VMSAv8-64) contexts with 40-bit addresses through CBA2R.VA64. The supplement is named for
 * its 64 KiB granule, but the 4 KiB granule of the same format is accepted too: on an arm64
 * host Linux selects the AArch64 format for these SMMUs with a page-size bitmap that holds
 * the long-descriptor sizes, so io-pgtable builds 4 KiB-granule tables, and that is how the
 * MMU-401s of Arm's Juno boards are driven.
 */
export const SMMUV2_PRESET_MMU401: SmmuV2Preset = { ...SMMUV2_PRESET_V1, name: 'mmu-401', aarch64_4k: true, aarch64_64k: true, cba2r: true };

/** Presets selectable with `gki,smmu-preset`. */
export const SMMUV2_PRESETS: Readonly<Record<string, SmmuV2Preset>> = {
  'mmu-500': SMMUV2_PRESET_MMU500,
  'qcom-mmu-500': SMMUV2_PRESET_QCOM_MMU500,
  'smmu-v2': SMMUV2_PRESET_V2,
  'qcom-adreno-smmu-v2': SMMUV2_PRESET_ADRENO,
  'smmu-v1': SMMUV2_PRESET_V1,
  'mmu-400': SMMUV2_PRESET_MMU400,
  'mmu-401': SMMUV2_PRESET_MMU401,
};

/** A preset after board overrides: adds the register-space geometry. */
export interface SmmuV2Config extends SmmuV2Preset {
  /** Pages of the global address space (NUMPAGE = 2^(NUMPAGENDXB+1)); context banks follow. */
  readonly numPage: number;
}

function sizeCode(bits: number, what: string): number {
  const i = R.SMMU2_SIZE_BITS.indexOf(bits);
  if (i < 0) throw new RangeError(`${what} of ${bits} bits is not one of ${R.SMMU2_SIZE_BITS.join(', ')}`);
  return i;
}

/**
 * Checks a configuration and fills in the geometry: `numPage` defaults to the smallest power of
 * two (at least 2) that holds every context bank. Throws RangeError naming the bad field.
 */
export function smmuV2Config(p: SmmuV2Preset, numPage?: number): SmmuV2Config {
  const int = (v: number, lo: number, hi: number, what: string): void => {
    if (!Number.isInteger(v) || v < lo || v > hi) throw new RangeError(`${what} = ${v} is outside ${lo}..${hi}`);
  };
  int(p.streamIdBits, 1, 15, 'stream ID bits');
  int(p.numCb, 1, 128, 'context banks');
  int(p.numS2Cb, 0, p.numCb, 'stage-2-only context banks');
  if (p.sms) int(p.numSmr, 1, 128, 'stream match register groups');
  int(p.numIrpt, 0, 255, 'NUMIRPT');
  if (p.pageSize !== 4096 && p.pageSize !== 65536) throw new RangeError(`register page size ${p.pageSize} is not 4096 or 65536`);
  if (!p.s1 && !p.s2) throw new RangeError('an SMMU needs stage 1 or stage 2 translation');
  if (p.nested && !(p.s1 && p.s2)) throw new RangeError('nested translation needs both stages');
  if (p.numS2Cb > 0 && !p.s2) throw new RangeError('stage-2-only context banks without stage 2 support');
  if (!p.s1 && p.numS2Cb !== p.numCb) throw new RangeError('without stage 1 every context bank is stage-2 only');
  if (!p.aarch32Long && !p.aarch32Short && !p.aarch64_4k && !p.aarch64_16k && !p.aarch64_64k)
    throw new RangeError('no context format supported');
  if ((p.aarch64_4k || p.aarch64_16k || p.aarch64_64k) && !p.cba2r) throw new RangeError('AArch64 contexts need CBA2R');
  sizeCode(p.ias, 'IAS');
  sizeCode(p.oas, 'OAS');
  sizeCode(p.ubs, 'UBS');
  let np = numPage;
  if (np === undefined) {
    np = 2;
    while (np < p.numCb) np *= 2;
  }
  if (!Number.isInteger(np) || np < 2 || np > 256 || (np & (np - 1)) !== 0)
    throw new RangeError(`global address space of ${np} pages is not a power of two in 2..256`);
  if (p.numCb > np) throw new RangeError(`${p.numCb} context banks do not fit in ${np} context bank pages`);
  return { ...p, numPage: np };
}

/** The identification registers ID0..ID7 of a configuration. */
export function smmuV2IdRegs(c: SmmuV2Config): number[] {
  let id0 = (c.sms ? c.numSmr & 0xff : 0) | (c.streamIdBits << R.ID0_NUMSIDB_SHIFT) | ((c.numIrpt & 0xff) << R.ID0_NUMIRPT_SHIFT);
  if (c.btm) id0 |= R.ID0_BTM;
  if (c.cttw) id0 |= R.ID0_CTTW;
  if (!c.aarch32Short) id0 |= R.ID0_PTFS_NO_AARCH32S;
  if (!c.aarch32Long && !c.aarch32Short) id0 |= R.ID0_PTFS_NO_AARCH32;
  id0 |= R.ID0_ATOSNS;
  if (c.sms) id0 |= R.ID0_SMS;
  if (c.nested) id0 |= R.ID0_NTS;
  if (c.s2) id0 |= R.ID0_S2TS;
  if (c.s1) id0 |= R.ID0_S1TS;
  const numPageNdxb = Math.log2(c.numPage) - 1;
  let id1 = (c.numCb & 0xff) | ((c.numS2Cb & 0xff) << R.ID1_NUMS2CB_SHIFT) | (numPageNdxb << R.ID1_NUMPAGENDXB_SHIFT);
  if (c.pageSize === 65536) id1 |= R.ID1_PAGESIZE;
  let id2 = sizeCode(c.ias, 'IAS') | (sizeCode(c.oas, 'OAS') << R.ID2_OAS_SHIFT);
  if (c.version === 2) {
    id2 |= sizeCode(c.ubs, 'UBS') << R.ID2_UBS_SHIFT;
    if (c.aarch64_4k) id2 |= R.ID2_PTFS_4K;
    if (c.aarch64_16k) id2 |= R.ID2_PTFS_16K;
    if (c.aarch64_64k) id2 |= R.ID2_PTFS_64K;
    if (c.vmid16) id2 |= R.ID2_VMID16;
  }
  return [id0 >>> 0, id1 >>> 0, id2 >>> 0, 0, 0, 0, 0, c.id7 >>> 0];
}
