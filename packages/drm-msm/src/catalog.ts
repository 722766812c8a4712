import { EINVAL, ENOENT, ofPropertyReadStringArray, ofPropertyReadU32 } from '@gki/kernel';
import type { OfNode } from '@gki/kernel';

/**
 * The GPUs this driver knows (adreno_device.c's gpulist, the a3xx, a4xx, a5xx, a6xx and a7xx parts): the chip ids each
 * entry matches, the marketing revision Mesa reads as GPU_ID, the family, GMEM size, the
 * firmware names and the per-process address-space size. Chip ids are
 * core << 24 | major << 16 | minor << 8 | patch.
 */

/** Linux's ADRENO_3XX, ADRENO_4XX, ADRENO_5XX, ADRENO_6XX_GEN1..4 and ADRENO_7XX_GEN1..3. */
export type AdrenoFamily = 'a3xx' | 'a4xx' | 'a5xx' | 'a6xx-gen1' | 'a6xx-gen2' | 'a6xx-gen3' | 'a6xx-gen4' | 'a7xx-gen1' | 'a7xx-gen2' | 'a7xx-gen3';

export interface AdrenoInfo {
  readonly chipIds: readonly number[];
  readonly family: AdrenoFamily;
  /** The marketing revision Mesa reads as GPU_ID; 0 for the parts Linux lists by chip id only. */
  readonly revn: number;
  readonly gmem: number;
  /**
   * Firmware names: the SQE (and GMU, except for the parts driven through a GMU wrapper) on
   * a6xx/a7xx; the PM4 (micro engine) and PFP (prefetch parser) microcode, and the GPMU's on
   * the a530 and a540, on a5xx.
   */
  readonly fw: { readonly sqe?: string; readonly gmu?: string; readonly pm4?: string; readonly pfp?: string; readonly gpmu?: string };
  /**
   * a5xx quirks of Linux's catalog: ADRENO_QUIRK_TWO_PASS_USE_WFI (PC_DBG_ECO_CNTL bit 8),
   * ADRENO_QUIRK_LMLOADKILL_DISABLE (VPC/HLSQ ECO bits), ADRENO_QUIRK_FAULT_DETECT_MASK (RB1-3
   * left out of the hang detector).
   */
  readonly quirks?: { readonly twoPassUseWfi?: boolean; readonly lmloadkillDisable?: boolean; readonly faultDetectMask?: boolean };
  readonly zapfw?: string;
  /**
   * Size of each process's GPU address space (0: the 4 GiB default). Linux v6.12 gives the
   * a650 and a660 families (a650, a660, a635, a690) 16 GiB; everything older keeps 4 GiB
   * because older SQE firmware wraps 64-bit pointer arithmetic at 32 bits.
   */
  readonly addressSpaceSize: number;
  /**
   * The top GPU frequency (Hz) of speed bin 0 in the SoC's OPP table for this GPU (Linux
   * v6.12's tree), used because the trimmed trees have no OPP table (the model has no clocks):
   * sdm845's a630 tops out at 710 MHz, sc7280's a635 at 550 MHz.
   */
  readonly defaultMaxFreq: number;
  /** The highest DDR bank bit of the UBWC configuration (a6xx_calc_ubwc_config), which Mesa reads. */
  readonly highestBankBit: number;
  /**
   * Only a GMU wrapper drives it (a610, a702: no GMU firmware; the "GMU" node is
   * `qcom,adreno-gmu-wrapper`, the GMU's register block without its microcontroller).
   */
  readonly gmuWrapperOnly?: boolean;
  /**
   * The identity the GMU firmware wants instead of the massaged chip id (a6xx_info.gmu_chipid:
   * the a740's 7.2.1.0, the X1-85's 7.5.0.1, the a750's 7.9.1.0).
   */
  readonly gmuChipId?: number;
  /** The name msm's messages give a part Linux lists by chip id only ("a740" for 0x43050a01, "x185" for 0x43050c01). */
  readonly name?: string;
}

const SZ_4K = 0x1000;
const SZ_128K = 0x2_0000;
const SZ_512K = 0x8_0000;
const SZ_1M = 0x10_0000;
const SZ_2M = 0x20_0000;
const SZ_4M = 0x40_0000;
const SZ_3M = 0x30_0000;
const SZ_16G = 2 ** 34;
const SZ_256G = 2 ** 38;
/**
 * The a7xx OPP tops of the trees that added these GPUs: sm8450's a730 runs to 818 MHz; the
 * sm8550 and sm8650 tables keep only the lower frequencies ("Speedbin needs more work on
 * A740+") and top out at 680 MHz.
 */
const A730_MAX_FREQ = 818_000_000;
const A740_MAX_FREQ = 680_000_000;
const A750_MAX_FREQ = 680_000_000;
/** x1e80100's X1-85: its OPP table (no speed bins in v6.12's tree) tops out at 1.1 GHz. */
const X185_MAX_FREQ = 1_100_000_000;

/**
 * The a6xx entries of Linux's catalog (a6xx_catalog.c; adreno_device.c's gpulist before v6.10)
 * that Qualcomm trees carry, plus the a702 (a7xx numbering, a6xx gen1 hardware). The a621
 * (sar2130p), a623 (qcs8300), a663 (sa8775p) and X1-45 (x1p42100) are in the catalogs of the
 * kernels whose trees first describe those GPUs (after v6.12); their top frequencies come from
 * those trees' OPP tables. Left out: a612 (an RGMU part: its own GMU flavour, which msm refuses
 * with a line of its own), the a8xx family (a8xx_gpu.c, likewise refused), and the a618/a619
 * entries Linux keys on the machine compatible (sm7150, sm4350, sm6375: same family, different
 * zap firmware names only).
 */
export const ADRENO_GPULIST: readonly AdrenoInfo[] = [
  // a3xx_catalog.c. No per-process address space (one GPU domain, as a5xx), 32-bit GPU
  // addresses. Top frequencies: msm8916's a306 (listed as revn 307: "a305c" took 306) tops its
  // OPP table at 400 MHz; the other parts are in no arm64 tree and get Linux's default (no
  // clock rate found: 200 MHz). No UBWC on a3xx: highest bank bit 0.
  ...a3xxGpulist(),
  // a4xx_catalog.c: the same shape as a3xx. msm8939's a405 tops its OPP table at 550 MHz; the
  // a420 (apq8084) and a430 (msm8994) are in no arm64 tree with a GPU node: Linux's default.
  ...a4xxGpulist(),
  // a5xx_catalog.c. No per-process address space on a5xx (Linux gives the family no
  // create_private_address_space: every process maps into the GPU's one domain), so
  // addressSpaceSize stays 0. UBWC highest bank bit: 15 on a530/a540, 14 on the rest
  // (a5xx_gpu_init). Top frequencies from v6.12's OPP tables: msm8953's a506 650 MHz, sdm630's
  // a508 775 MHz, sdm636's a509 shares sdm660's a512 table (750 MHz), msm8976's a510 600 MHz,
  // msm8996's a530 624 MHz, msm8998's a540 710 MHz; no tree carries an a505, which gets Linux's
  // default when no clock rate is found (200 MHz).
  ...a5xxGpulist(),
  // sm6115/sm4250 (bengal): no GMU, only a GMU wrapper; hbb 13, the 4 GiB VA quirk
  { chipIds: [0x0601_0000], family: 'a6xx-gen1', revn: 610, gmem: SZ_128K + SZ_4K, fw: { sqe: 'a630_sqe.fw' }, zapfw: 'a610_zap.mdt', addressSpaceSize: 0, defaultMaxFreq: 980_000_000, highestBankBit: 13, gmuWrapperOnly: true },
  { chipIds: [0x0601_0500], family: 'a6xx-gen1', revn: 615, gmem: SZ_512K, fw: { sqe: 'a630_sqe.fw', gmu: 'a630_gmu.bin' }, zapfw: 'a615_zap.mdt', addressSpaceSize: 0, defaultMaxFreq: 700_000_000, highestBankBit: 15 },
  { chipIds: [0x0601_0800], family: 'a6xx-gen1', revn: 618, gmem: SZ_512K, fw: { sqe: 'a630_sqe.fw', gmu: 'a630_gmu.bin' }, addressSpaceSize: 0, defaultMaxFreq: 800_000_000, highestBankBit: 14 },
  { chipIds: [0x0601_0900], family: 'a6xx-gen1', revn: 619, gmem: SZ_512K, fw: { sqe: 'a630_sqe.fw', gmu: 'a619_gmu.bin' }, zapfw: 'a615_zap.mdt', addressSpaceSize: 0, defaultMaxFreq: 850_000_000, highestBankBit: 13 },
  { chipIds: [0x0603_0001, 0x0603_0002], family: 'a6xx-gen1', revn: 630, gmem: SZ_1M, fw: { sqe: 'a630_sqe.fw', gmu: 'a630_gmu.bin' }, zapfw: 'a630_zap.mdt', addressSpaceSize: 0, defaultMaxFreq: 710_000_000, highestBankBit: 15 },
  { chipIds: [0x0604_0001], family: 'a6xx-gen2', revn: 640, gmem: SZ_1M, fw: { sqe: 'a630_sqe.fw', gmu: 'a640_gmu.bin' }, zapfw: 'a640_zap.mdt', addressSpaceSize: 0, defaultMaxFreq: 675_000_000, highestBankBit: 15 },
  // sar2130p: Adreno 621, an a650-family (gen3) part with 512 KiB of GMEM; the a650 SQE, its own
  // GMU firmware, the a620 zap shader; UBWC highest bank bit 13; 843 MHz tops speed bin 0
  { chipIds: [0x0602_0100], family: 'a6xx-gen3', revn: 0, gmem: SZ_512K, fw: { sqe: 'a650_sqe.fw', gmu: 'a621_gmu.bin' }, zapfw: 'a620_zap.mbn', addressSpaceSize: SZ_16G, defaultMaxFreq: 843_000_000, highestBankBit: 13 },
  // qcs8300: Adreno 623, gen3 with 512 KiB of GMEM, no zap shader in the catalog; bank bit 16;
  // 877 MHz tops speed bin 0
  { chipIds: [0x0602_0300], family: 'a6xx-gen3', revn: 0, gmem: SZ_512K, fw: { sqe: 'a650_sqe.fw', gmu: 'a623_gmu.bin' }, addressSpaceSize: SZ_16G, defaultMaxFreq: 877_000_000, highestBankBit: 16 },
  { chipIds: [0x0605_0002], family: 'a6xx-gen3', revn: 650, gmem: SZ_1M + SZ_128K, fw: { sqe: 'a650_sqe.fw', gmu: 'a650_gmu.bin' }, zapfw: 'a650_zap.mdt', addressSpaceSize: SZ_16G, defaultMaxFreq: 587_000_000, highestBankBit: 16 },
  { chipIds: [0x0606_0001], family: 'a6xx-gen4', revn: 660, gmem: SZ_1M + SZ_512K, fw: { sqe: 'a660_sqe.fw', gmu: 'a660_gmu.bin' }, zapfw: 'a660_zap.mdt', addressSpaceSize: SZ_16G, defaultMaxFreq: 840_000_000, highestBankBit: 16 },
  // sa8775p: Adreno 663, an a660-family (gen4) part with 1.5 MiB of GMEM, no zap shader in the
  // catalog; bank bit 13; 800 MHz tops speed bin 0
  { chipIds: [0x0606_0300], family: 'a6xx-gen4', revn: 0, gmem: SZ_1M + SZ_512K, fw: { sqe: 'a660_sqe.fw', gmu: 'a663_gmu.bin' }, addressSpaceSize: SZ_16G, defaultMaxFreq: 800_000_000, highestBankBit: 13 },
  // sc7280 ("7c gen 3"): listed by chip id (no revn), an a660-family part with 512 KiB of GMEM
  { chipIds: [0x0603_0500], family: 'a6xx-gen4', revn: 0, gmem: SZ_512K, fw: { sqe: 'a660_sqe.fw', gmu: 'a660_gmu.bin' }, zapfw: 'a660_zap.mbn', addressSpaceSize: SZ_16G, defaultMaxFreq: 550_000_000, highestBankBit: 14 },
  // sc8180x: an a640-family part with 2 MiB of GMEM
  { chipIds: [0x0608_0001], family: 'a6xx-gen2', revn: 680, gmem: SZ_2M, fw: { sqe: 'a630_sqe.fw', gmu: 'a640_gmu.bin' }, zapfw: 'a640_zap.mdt', addressSpaceSize: 0, defaultMaxFreq: 514_000_000, highestBankBit: 15 },
  // sc8280xp
  { chipIds: [0x0609_0000], family: 'a6xx-gen4', revn: 0, gmem: SZ_4M, fw: { sqe: 'a660_sqe.fw', gmu: 'a660_gmu.bin' }, zapfw: 'a690_zap.mdt', addressSpaceSize: SZ_16G, defaultMaxFreq: 690_000_000, highestBankBit: 16 },
  // qcm2290: a7xx numbering, a6xx gen1 hardware ("NOT a mistake" in Linux's catalog), GMU wrapper only
  { chipIds: [0x0700_0200, 0x0700_0400], family: 'a6xx-gen1', revn: 0, gmem: SZ_128K, fw: { sqe: 'a702_sqe.fw' }, zapfw: 'a702_zap.mbn', addressSpaceSize: 0, defaultMaxFreq: 1_123_200_000, highestBankBit: 14, gmuWrapperOnly: true },
  // sm8450: Adreno 730, the first a7xx (gen1); no gmu_chipid: the GMU gets the massaged chip id
  { chipIds: [0x0703_0001], family: 'a7xx-gen1', revn: 0, name: 'a730', gmem: SZ_2M, fw: { sqe: 'a730_sqe.fw', gmu: 'gmu_gen70000.bin' }, zapfw: 'a730_zap.mdt', addressSpaceSize: SZ_16G, defaultMaxFreq: A730_MAX_FREQ, highestBankBit: 16 },
  // sm8550: Adreno 740 ("C510v2"), gen2
  { chipIds: [0x4305_0a01], family: 'a7xx-gen2', revn: 0, name: 'a740', gmem: SZ_3M, fw: { sqe: 'a740_sqe.fw', gmu: 'gmu_gen70200.bin' }, zapfw: 'a740_zap.mdt', addressSpaceSize: SZ_16G, defaultMaxFreq: A740_MAX_FREQ, highestBankBit: 16, gmuChipId: 0x0702_0100 },
  // x1e80100 (Snapdragon X1 Elite): Adreno X1-85 ("C512v2"), gen2 like the a740 (its UBWC
  // setup follows the a740 family: bank bit 16); its own firmware names, no zap shader in the
  // catalog, a 256 GiB per-process address space, the GMU identity 7.5.0.1
  { chipIds: [0x4305_0c01], family: 'a7xx-gen2', revn: 0, name: 'x185', gmem: SZ_3M, fw: { sqe: 'gen70500_sqe.fw', gmu: 'gen70500_gmu.bin' }, addressSpaceSize: SZ_256G, defaultMaxFreq: X185_MAX_FREQ, highestBankBit: 16, gmuChipId: 0x0705_0001 },
  // x1p42100 (Snapdragon X Plus 8-core): Adreno X1-45, a smaller X1-85 (gen2): 1.5 MiB of GMEM,
  // gen71500 firmware, no zap shader in the catalog, GMU identity 7.15.0.0; bank bit 16 (the
  // a740 family); 1.4 GHz tops speed bin 0 of x1p42100.dtsi's OPP table. Its entry gives no
  // address-space size: the kernels that list it size a process's space from the SMMU's TTBR1
  // input size, a rule this v6.12-shaped catalog does not have; 16 GiB here, the size of the
  // other a7xx parts except the X1-85
  { chipIds: [0x4303_0c00], family: 'a7xx-gen2', revn: 0, name: 'x145', gmem: SZ_1M + SZ_512K, fw: { sqe: 'gen71500_sqe.fw', gmu: 'gen71500_gmu.bin' }, addressSpaceSize: SZ_16G, defaultMaxFreq: 1_400_000_000, highestBankBit: 16, gmuChipId: 0x070f_0000 },
  // sm8650: Adreno 750 ("C520v2"), gen3
  { chipIds: [0x4305_1401], family: 'a7xx-gen3', revn: 0, name: 'a750', gmem: SZ_3M, fw: { sqe: 'gen70900_sqe.fw', gmu: 'gmu_gen70900.bin' }, zapfw: 'gen70900_zap.mbn', addressSpaceSize: SZ_16G, defaultMaxFreq: A750_MAX_FREQ, highestBankBit: 16, gmuChipId: 0x0709_0100 },
];

/** The a3xx rows of Linux v6.12's catalog (a3xx_catalog.c), in its order. */
function a3xxGpulist(): AdrenoInfo[] {
  const a300 = { pm4: 'a300_pm4.fw', pfp: 'a300_pfp.fw' };
  const a330 = { pm4: 'a330_pm4.fw', pfp: 'a330_pfp.fw' };
  const SZ_256K = 0x4_0000;
  const base = { family: 'a3xx' as const, addressSpaceSize: 0, highestBankBit: 0, defaultMaxFreq: 200_000_000 };
  return [
    { ...base, chipIds: [0x0300_0512], revn: 0, name: 'a305b', gmem: SZ_128K, fw: a330 },
    { ...base, chipIds: [0x0300_0520], revn: 305, gmem: SZ_256K, fw: a300 },
    { ...base, chipIds: [0x0300_0600], revn: 307, gmem: SZ_128K, fw: a300, defaultMaxFreq: 400_000_000 },
    { ...base, chipIds: [0x0300_0620], revn: 308, gmem: SZ_128K, fw: a300 },
    { ...base, chipIds: [0x0302_0000, 0x0302_0001, 0x0302_0002], revn: 320, gmem: SZ_512K, fw: a300 },
    { ...base, chipIds: [0x0303_0000, 0x0303_0001, 0x0303_0002], revn: 330, gmem: SZ_1M, fw: a330 },
  ];
}

/** The a4xx rows of Linux v6.12's catalog (a4xx_catalog.c), in its order. */
function a4xxGpulist(): AdrenoInfo[] {
  const fw = { pm4: 'a420_pm4.fw', pfp: 'a420_pfp.fw' };
  const base = { family: 'a4xx' as const, addressSpaceSize: 0, highestBankBit: 0, defaultMaxFreq: 200_000_000, fw };
  return [
    { ...base, chipIds: [0x0400_0500], revn: 405, gmem: 0x4_0000, defaultMaxFreq: 550_000_000 },
    { ...base, chipIds: [0x0402_0000], revn: 420, gmem: SZ_1M + SZ_512K },
    { ...base, chipIds: [0x0403_0002], revn: 430, gmem: SZ_1M + SZ_512K },
  ];
}

/** adreno_is_a4xx: the a4xx family (a405..a430). */
export function adrenoIsA4xx(info: AdrenoInfo): boolean {
  return info.family === 'a4xx';
}

/** adreno_is_a3xx: the a3xx family (a305..a330). */
export function adrenoIsA3xx(info: AdrenoInfo): boolean {
  return info.family === 'a3xx';
}

/** The a5xx rows of Linux v6.12's catalog (a5xx_catalog.c), in its order. */
function a5xxGpulist(): AdrenoInfo[] {
  const fw = { pm4: 'a530_pm4.fw', pfp: 'a530_pfp.fw' };
  const SZ_8K = 0x2000;
  const SZ_16K = 0x4000;
  const SZ_256K = 0x4_0000;
  const base = { family: 'a5xx' as const, addressSpaceSize: 0 };
  return [
    { ...base, chipIds: [0x0500_0500], revn: 505, gmem: SZ_128K + SZ_8K, fw, defaultMaxFreq: 200_000_000, highestBankBit: 14, quirks: { twoPassUseWfi: true, lmloadkillDisable: true } },
    { ...base, chipIds: [0x0500_0600], revn: 506, gmem: SZ_128K + SZ_8K, fw, zapfw: 'a506_zap.mdt', defaultMaxFreq: 650_000_000, highestBankBit: 14, quirks: { twoPassUseWfi: true, lmloadkillDisable: true } },
    { ...base, chipIds: [0x0500_0800], revn: 508, gmem: SZ_128K + SZ_8K, fw, zapfw: 'a508_zap.mdt', defaultMaxFreq: 775_000_000, highestBankBit: 14, quirks: { lmloadkillDisable: true } },
    { ...base, chipIds: [0x0500_0900], revn: 509, gmem: SZ_256K + SZ_16K, fw, zapfw: 'a512_zap.mdt', defaultMaxFreq: 750_000_000, highestBankBit: 14, quirks: { lmloadkillDisable: true } },
    { ...base, chipIds: [0x0501_0000], revn: 510, gmem: SZ_256K, fw, defaultMaxFreq: 600_000_000, highestBankBit: 14 },
    { ...base, chipIds: [0x0501_0200], revn: 512, gmem: SZ_256K + SZ_16K, fw, zapfw: 'a512_zap.mdt', defaultMaxFreq: 750_000_000, highestBankBit: 14, quirks: { lmloadkillDisable: true } },
    { ...base, chipIds: [0x0503_0002, 0x0503_0004], revn: 530, gmem: SZ_1M, fw: { ...fw, gpmu: 'a530v3_gpmu.fw2' }, zapfw: 'a530_zap.mdt', defaultMaxFreq: 624_000_000, highestBankBit: 15, quirks: { twoPassUseWfi: true, faultDetectMask: true } },
    { ...base, chipIds: [0x0504_0001], revn: 540, gmem: SZ_1M, fw: { ...fw, gpmu: 'a540_gpmu.fw2' }, zapfw: 'a540_zap.mdt', defaultMaxFreq: 710_000_097, highestBankBit: 15, quirks: { lmloadkillDisable: true } },
  ];
}

/** adreno_is_a5xx: the a5xx family (a505..a540). */
export function adrenoIsA5xx(info: AdrenoInfo): boolean {
  return info.family === 'a5xx';
}

/** adreno_info: the gpulist entry for a chip id, if any. */
export function adrenoInfo(chipId: number): AdrenoInfo | undefined {
  return ADRENO_GPULIST.find((g) => g.chipIds.includes(chipId >>> 0));
}

/** "6.3.0.2": the kernel's ADRENO_CHIPID_FMT. */
export function chipIdString(chipId: number): string {
  const c = chipId >>> 0;
  return `${(c >>> 24) & 0xff}.${(c >>> 16) & 0xff}.${(c >>> 8) & 0xff}.${c & 0xff}`;
}

/** The a650 family (a6xx gen3 and gen4). */
export function adrenoIsA650Family(info: AdrenoInfo): boolean {
  return info.family === 'a6xx-gen3' || info.family === 'a6xx-gen4';
}

/** adreno_is_a7xx: the a7xx families (the a702, a6xx hardware, is not one). */
export function adrenoIsA7xx(info: AdrenoInfo): boolean {
  return info.family === 'a7xx-gen1' || info.family === 'a7xx-gen2' || info.family === 'a7xx-gen3';
}

/** adreno_is_a740_family: a7xx gen2 and gen3 (a740, X1-85, a750). */
export function adrenoIsA740Family(info: AdrenoInfo): boolean {
  return info.family === 'a7xx-gen2' || info.family === 'a7xx-gen3';
}

/** MSM_PARAM_GMEM_BASE: GMEM at GPU address 0 on the a650 and a740 families, at 1 MiB otherwise (a730 too). */
export function adrenoGmemBase(info: AdrenoInfo): number {
  return adrenoIsA650Family(info) || adrenoIsA740Family(info) ? 0 : 0x10_0000;
}

/**
 * The GMU firmware of the a630 family (gen1: a615, a618, a619, a630) speaks HFI v1 and takes
 * the first assignment of out-of-band request bits ("legacy"); the a640 family (gen2) and the
 * a650 family (gen3, gen4) do not. A GMU wrapper is marked legacy too (Linux does so for the
 * SPTPRAC control), though it takes no out-of-band request at all.
 */
export function adrenoGmuIsLegacy(info: AdrenoInfo): boolean {
  return info.family === 'a6xx-gen1';
}

/**
 * The name msm gives the GPU in its messages: "a630" from the revision, or, for the parts Linux
 * lists by chip id only, from the chip id's core, major and minor ("a635" for 6.3.5.0).
 */
export function adrenoGpuName(info: AdrenoInfo, chipId: number): string {
  if (info.revn !== 0) return `a${info.revn}`;
  if (info.name !== undefined) return info.name;
  const c = chipId >>> 0;
  return `a${(c >>> 24) & 0xff}${(c >>> 16) & 0xff}${(c >>> 8) & 0xff}`;
}

/**
 * find_chipid: the chip id of a GPU node. The first compatible string of the form
 * "qcom,adreno-XYZ.W" (or "amd,imageon-XYZ.W") gives core X, major Y, minor Z and patch W;
 * one of the form "qcom,adreno-XXXXXXXX" is the chip id in hex; otherwise the legacy
 * "qcom,chipid" property (with a warning). -EINVAL for a first
 * compatible that is not of that form and no property; -ENOENT when there is no compatible.
 */
export function findChipId(node: OfNode, warn: (msg: string) => void): number {
  const compat = ofPropertyReadStringArray(node, 'compatible');
  const first = typeof compat === 'number' ? undefined : compat[0];
  if (first !== undefined) {
    const m = /^(?:qcom,adreno|amd,imageon)-(\d+)\.(\d+)$/.exec(first);
    if (m) {
      let r = Number(m[1]);
      const patch = Number(m[2]);
      const core = Math.floor(r / 100);
      r %= 100;
      const major = Math.floor(r / 10);
      const minor = r % 10;
      return ((core & 0xff) * 2 ** 24 + ((major & 0xff) << 16) + ((minor & 0xff) << 8) + (patch & 0xff)) >>> 0;
    }
    // newer trees write the chip id itself: "qcom,adreno-07000200", "qcom,adreno-43050a01"
    const h = /^qcom,adreno-([0-9a-fA-F]{1,8})/.exec(first);
    if (h) return parseInt(h[1]!, 16) >>> 0;
  }
  const legacy = ofPropertyReadU32(node, 'qcom,chipid');
  if (legacy < 0) return first === undefined ? -ENOENT : -EINVAL;
  warn(`${node.fullName}: Using legacy qcom,chipid binding!`);
  return legacy >>> 0;
}
