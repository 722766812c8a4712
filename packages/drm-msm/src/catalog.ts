import { EINVAL, ENOENT, ofPropertyReadStringArray, ofPropertyReadU32 } from '@gki/kernel';
import type { OfNode } from '@gki/kernel';

/**
 * The GPUs this driver knows (adreno_device.c's gpulist, the a6xx part): the chip ids each
 * entry matches, the marketing revision Mesa reads as GPU_ID, the family, GMEM size, the
 * firmware names and the per-process address-space size. Chip ids are
 * core << 24 | major << 16 | minor << 8 | patch.
 */

export type AdrenoFamily = 'a6xx-gen1' | 'a6xx-gen2' | 'a6xx-gen3' | 'a6xx-gen4';

export interface AdrenoInfo {
  readonly chipIds: readonly number[];
  readonly family: AdrenoFamily;
  readonly revn: number;
  readonly gmem: number;
  readonly fw: { readonly sqe: string; readonly gmu: string };
  readonly zapfw?: string;
  /** Size of each process's GPU address space (0: the 4 GiB default). */
  readonly addressSpaceSize: number;
  /**
   * The top GPU frequency (Hz) of the SoC's OPP table for this GPU, used when the device tree
   * was trimmed of its OPP table (the model has no clocks): sdm845's a630 tops out at 710 MHz.
   */
  readonly defaultMaxFreq: number;
  /** log2 of the highest DDR bank bit (the UBWC configuration Mesa reads). */
  readonly highestBankBit: number;
}

const SZ_512K = 0x8_0000;
const SZ_1M = 0x10_0000;
const SZ_128K = 0x2_0000;
const SZ_16G = 2 ** 34;

export const ADRENO_GPULIST: readonly AdrenoInfo[] = [
  { chipIds: [0x0601_0500], family: 'a6xx-gen1', revn: 615, gmem: SZ_512K, fw: { sqe: 'a630_sqe.fw', gmu: 'a630_gmu.bin' }, zapfw: 'a615_zap.mdt', addressSpaceSize: 0, defaultMaxFreq: 700_000_000, highestBankBit: 15 },
  { chipIds: [0x0601_0800], family: 'a6xx-gen1', revn: 618, gmem: SZ_512K, fw: { sqe: 'a630_sqe.fw', gmu: 'a630_gmu.bin' }, addressSpaceSize: 0, defaultMaxFreq: 800_000_000, highestBankBit: 15 },
  { chipIds: [0x0601_0900], family: 'a6xx-gen1', revn: 619, gmem: SZ_512K, fw: { sqe: 'a630_sqe.fw', gmu: 'a619_gmu.bin' }, zapfw: 'a615_zap.mdt', addressSpaceSize: 0, defaultMaxFreq: 825_000_000, highestBankBit: 15 },
  { chipIds: [0x0603_0001, 0x0603_0002], family: 'a6xx-gen1', revn: 630, gmem: SZ_1M, fw: { sqe: 'a630_sqe.fw', gmu: 'a630_gmu.bin' }, zapfw: 'a630_zap.mdt', addressSpaceSize: 0, defaultMaxFreq: 710_000_000, highestBankBit: 15 },
  { chipIds: [0x0604_0001], family: 'a6xx-gen2', revn: 640, gmem: SZ_1M, fw: { sqe: 'a630_sqe.fw', gmu: 'a640_gmu.bin' }, zapfw: 'a640_zap.mdt', addressSpaceSize: 0, defaultMaxFreq: 675_000_000, highestBankBit: 15 },
  { chipIds: [0x0605_0002], family: 'a6xx-gen3', revn: 650, gmem: SZ_1M + SZ_128K, fw: { sqe: 'a650_sqe.fw', gmu: 'a650_gmu.bin' }, zapfw: 'a650_zap.mdt', addressSpaceSize: SZ_16G, defaultMaxFreq: 587_000_000, highestBankBit: 16 },
  { chipIds: [0x0606_0001], family: 'a6xx-gen4', revn: 660, gmem: SZ_1M + SZ_512K, fw: { sqe: 'a660_sqe.fw', gmu: 'a660_gmu.bin' }, zapfw: 'a660_zap.mdt', addressSpaceSize: SZ_16G, defaultMaxFreq: 840_000_000, highestBankBit: 16 },
];

/** adreno_info: the gpulist entry for a chip id, if any. */
export function adrenoInfo(chipId: number): AdrenoInfo | undefined {
  return ADRENO_GPULIST.find((g) => g.chipIds.includes(chipId >>> 0));
}

/** "6.3.0.2": the kernel's ADRENO_CHIPID_FMT. */
export function chipIdString(chipId: number): string {
  const c = chipId >>> 0;
  return `${(c >>> 24) & 0xff}.${(c >>> 16) & 0xff}.${(c >>> 8) & 0xff}.${c & 0xff}`;
}

/** The a650 family (gen3 and later) places GMEM at GPU address 0. */
export function adrenoIsA650Family(info: AdrenoInfo): boolean {
  return info.family === 'a6xx-gen3' || info.family === 'a6xx-gen4';
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
