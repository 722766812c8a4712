/**
 * Adreno identities. An a6xx has no chip-id register that Linux reads: the kernel takes the
 * chip id from the node's first compatible, "qcom,adreno-XYZ.W" giving core X, major Y, minor Z
 * and patch W (chip id = X << 24 | Y << 16 | Z << 8 | W), and newer trees write the id itself as
 * eight hex digits ("qcom,adreno-43050a01"); failing both, the legacy "qcom,chipid" property. The
 * model derives the same value, exposes it (`AdrenoGpu.chipId`) and checks the form the driver
 * hands the GMU (see gmu.ts).
 */

/** The compatibles the GPU model is instantiated for (chip-id compatibles match by pattern). */
export const ADRENO_GPU_COMPATIBLES: readonly string[] = ['qcom,adreno'];
/**
 * The GMU compatibles (SoC-specific "qcom,adreno-gmu-XYZ.W" match by pattern), and the GMU
 * wrapper of the GPUs without a GMU microcontroller (a610, a702).
 */
export const ADRENO_GMU_COMPATIBLES: readonly string[] = ['qcom,adreno-gmu', 'qcom,adreno-gmu-wrapper'];
/** The compatible of a GMU wrapper node. */
export const ADRENO_GMU_WRAPPER_COMPATIBLE = 'qcom,adreno-gmu-wrapper';

const GPU_DOTTED = /^qcom,adreno-(\d{3})\.(\d+)$/;
const GPU_HEX = /^qcom,adreno-([0-9a-f]{8})$/;
const GMU_DOTTED = /^qcom,adreno-gmu-(\d{3})\.(\d+)$/;

/** True for a compatible the GPU model claims: "qcom,adreno", "qcom,adreno-3xx.y" .. "qcom,adreno-7xx.y", "qcom,adreno-XXXXXXXX". */
export function isAdrenoGpuCompatible(compatible: string): boolean {
  if (compatible === 'qcom,adreno') return true;
  const d = GPU_DOTTED.exec(compatible);
  if (d) return /^[3-7]/.test(d[1]!);
  const h = GPU_HEX.exec(compatible);
  return h !== null && (h[1]!.startsWith('05') || h[1]!.startsWith('06') || h[1]!.startsWith('07') || h[1]!.startsWith('43'));
}

/**
 * True for a compatible the GMU model claims: "qcom,adreno-gmu", "qcom,adreno-gmu-6xx.y",
 * "qcom,adreno-gmu-7xx.y" (sm8450 and later name their GMU "qcom,adreno-gmu-730.1",
 * "-740.1", "-750.1") or "qcom,adreno-gmu-wrapper".
 */
export function isAdrenoGmuCompatible(compatible: string): boolean {
  if (compatible === 'qcom,adreno-gmu' || compatible === ADRENO_GMU_WRAPPER_COMPATIBLE) return true;
  const d = GMU_DOTTED.exec(compatible);
  return d !== null && (d[1]!.startsWith('6') || d[1]!.startsWith('7'));
}

/**
 * The chip id Linux computes from a compatible string, or undefined when it has neither form.
 * A dotted form whose core, major or minor digit does not fit is undefined too.
 */
export function adrenoChipIdFromCompatible(compatible: string): number | undefined {
  const d = GPU_DOTTED.exec(compatible);
  if (d) {
    const r = Number(d[1]);
    const patch = Number(d[2]);
    if (!Number.isSafeInteger(patch) || patch > 0xff) return undefined;
    const core = Math.floor(r / 100);
    const major = Math.floor(r / 10) % 10;
    const minor = r % 10;
    return ((core << 24) | (major << 16) | (minor << 8) | patch) >>> 0;
  }
  const h = GPU_HEX.exec(compatible);
  if (h) return parseInt(h[1]!, 16) >>> 0;
  return undefined;
}

/** The chip id of a GMU compatible ("qcom,adreno-gmu-630.2" -> 0x06030002). */
export function adrenoChipIdFromGmuCompatible(compatible: string): number | undefined {
  const d = GMU_DOTTED.exec(compatible);
  return d ? adrenoChipIdFromCompatible(`qcom,adreno-${d[1]}.${d[2]}`) : undefined;
}

/** Core, major, minor, patch of a chip id. */
export function adrenoChipFields(chipId: number): { core: number; major: number; minor: number; patch: number } {
  return { core: (chipId >>> 24) & 0xff, major: (chipId >>> 16) & 0xff, minor: (chipId >>> 8) & 0xff, patch: chipId & 0xff };
}

/**
 * Whether a chip is of the second Adreno 7 generation ("gen7": a730 of sm8450, a740 of sm8550,
 * a750 of sm8650 and their relatives): the parts with two command-processor threads (BR, the
 * render pipe, and BV, the visibility pipe), the a7xx CP_EVENT_WRITE7/CP_WAIT_TIMESTAMP packet
 * layouts and the a7xx register moves. Those are chip ids with core 7 and a major digit of 1 or
 * more (0x0703xxxx, a730), and the hex-numbered ids with core byte 0x43 (0x43050a01 a740,
 * 0x43051401 a750). The a702 (0x070002xx) carries an Adreno 7 number but is a6xx hardware.
 */
export function adrenoIsGen7(chipId: number): boolean {
  const f = adrenoChipFields(chipId);
  return (f.core === 7 && f.major >= 1) || f.core === 0x43;
}

/**
 * The identity the GMU firmware of each gen7 part expects from the host before it starts
 * (the "gen7" numbering its firmware files carry: gmu_gen70200.bin for the a740, 7.2.1.0;
 * gmu_gen70900.bin for the a750, 7.9.1.0; gen70500_gmu.bin for x1e80100's X1-85, 7.5.0.1;
 * gen71500_gmu.bin for x1p42100's X1-45, 7.15.0.0).
 * Parts not listed use the massaged chip id.
 */
const GEN7_GMU_IDS: ReadonlyMap<number, number> = new Map([
  [0x43030c00, 0x070f0000],
  [0x43050a01, 0x07020100],
  [0x43050c01, 0x07050001],
  [0x43051401, 0x07090100],
]);

/**
 * The chip id as the host hands it to the GMU before starting it (GMU_HFI_SFR_ADDR on a6xx,
 * GMU_GENERAL_10 on gen7): core [31:24], major [23:16], minor [15:12], patch [11:8]; the gen7
 * parts with a firmware identity of their own (a740, a750) expect that instead.
 */
export function adrenoGmuChipId(chipId: number): number {
  const own = GEN7_GMU_IDS.get(chipId >>> 0);
  if (own !== undefined) return own;
  const f = adrenoChipFields(chipId);
  return ((f.core << 24) | (f.major << 16) | ((f.minor & 0xf) << 12) | ((f.patch & 0xf) << 8)) >>> 0;
}

/** The hex-numbered gen7 parts' marketing names. */
const HEX_NAMES: ReadonlyMap<number, string> = new Map([
  [0x43030c00, 'x145'],
  [0x43050a01, 'a740'],
  [0x43050c01, 'x185'],
  [0x43051401, 'a750'],
]);

/** A short name for a chip id: "a530" for 0x05030002, "a630" for 0x06030002, "a740" for 0x43050a01, else "adreno 0x...". */
export function adrenoName(chipId: number): string {
  const named = HEX_NAMES.get(chipId >>> 0);
  if (named !== undefined) return named;
  const f = adrenoChipFields(chipId);
  if (f.core >= 3 && f.core <= 7 && f.major <= 9 && f.minor <= 9) return `a${f.core}${f.major}${f.minor}`;
  return `adreno 0x${chipId.toString(16).padStart(8, '0')}`;
}

/**
 * Whether a chip's GMU speaks the first HFI version and the first OOB bit assignment: the a630
 * family (a615, a616, a618, a619, a630), as Linux marks them "legacy".
 */
export function adrenoGmuLegacy(chipId: number): boolean {
  const f = adrenoChipFields(chipId);
  return f.core === 6 && ((f.major === 3 && f.minor === 0) || (f.major === 1 && f.minor >= 5));
}

/** The identity of the part on sdm845 (Adreno 630 v2). */
export const ADRENO_630_CHIP_ID = 0x06030002;
/** The gen7 parts: a730 (sm8450), a740 (sm8550, "qcom,adreno-43050a01"), a750 (sm8650). */
export const ADRENO_730_CHIP_ID = 0x07030001;
export const ADRENO_740_CHIP_ID = 0x43050a01;
export const ADRENO_750_CHIP_ID = 0x43051401;
/** x1e80100's Adreno X1-85 ("qcom,adreno-43050c01"), a gen7 part of the a740's generation. */
export const ADRENO_X185_CHIP_ID = 0x43050c01;

/** The a5xx parts of the device trees: a530 (msm8996), a540 (msm8998), a508 (sdm630), a512 (sdm660). */
export const ADRENO_530_CHIP_ID = 0x05030002;
export const ADRENO_540_CHIP_ID = 0x05040001;
export const ADRENO_508_CHIP_ID = 0x05000800;
export const ADRENO_512_CHIP_ID = 0x05010200;

/** Whether a chip id is an a5xx part (core 5): the a5xx register interface, no GMU. */
export function adrenoIsA5xx(chipId: number): boolean {
  return chipId >>> 24 === 5;
}
