import {
  IO_PGTABLE_QUIRK_ARM_HD,
  IO_PGTABLE_QUIRK_ARM_NS,
  IO_PGTABLE_QUIRK_ARM_OUTER_WBWA,
  IO_PGTABLE_QUIRK_ARM_S2FWB,
  IO_PGTABLE_QUIRK_ARM_TTBR1,
  IO_PGTABLE_QUIRK_NO_WARN,
  type IoPgtableCfg,
  type IoPgtableFmt,
} from '@gki/io-pgtable-core';
import { and53, ffs53, fls53, isU53, testBit } from './bits.js';
import type { AttrKind } from './pte.js';

/** The formats this package implements. */
export const ARM_LPAE_FORMATS = [
  'ARM_64_LPAE_S1',
  'ARM_64_LPAE_S2',
  'ARM_32_LPAE_S1',
  'ARM_32_LPAE_S2',
  'ARM_MALI_LPAE',
] as const satisfies readonly IoPgtableFmt[];
export type ArmLpaeFmt = (typeof ARM_LPAE_FORMATS)[number];

export function isArmLpaeFmt(f: string): f is ArmLpaeFmt {
  return (ARM_LPAE_FORMATS as readonly string[]).includes(f);
}

/** The host CPU's PAGE_SIZE: the model is a 4 KiB-page arm64 kernel (as the vectors' harness). */
export const HOST_PAGE_SIZE = 4096;
/** Architectural levels 0..3; the walk ends at level 3. */
export const ARM_LPAE_MAX_LEVELS = 4;
/** ARM ARM: at most 16 concatenated tables at a stage-2 start level. */
export const ARM_LPAE_S2_MAX_CONCAT_PAGES = 16;

const SZ_4K = 0x1000;
const SZ_16K = 0x4000;
const SZ_64K = 0x10000;
const SZ_2M = 0x200000;
const SZ_32M = 0x2000000;
const SZ_512M = 0x20000000;
const SZ_1G = 0x40000000;
const SZ_4T = 2 ** 42;

const S1_QUIRKS =
  IO_PGTABLE_QUIRK_ARM_NS |
  IO_PGTABLE_QUIRK_ARM_TTBR1 |
  IO_PGTABLE_QUIRK_ARM_OUTER_WBWA |
  IO_PGTABLE_QUIRK_ARM_HD |
  IO_PGTABLE_QUIRK_NO_WARN;
const S2_QUIRKS = IO_PGTABLE_QUIRK_ARM_S2FWB | IO_PGTABLE_QUIRK_NO_WARN;

// TCR/VTCR field encodings
const TCR_SH_OS = 2;
const TCR_SH_IS = 3;
const TCR_RGN_NC = 0;
const TCR_RGN_WBWA = 1;
const TG0 = { [SZ_4K]: 0, [SZ_64K]: 1, [SZ_16K]: 2 } as Record<number, number>;
const TG1 = { [SZ_16K]: 1, [SZ_4K]: 2, [SZ_64K]: 3 } as Record<number, number>;
/** (I)PS encoding by output address size. */
const PS_BY_OAS: Record<number, number> = { 32: 0, 36: 1, 40: 2, 42: 3, 44: 4, 48: 5, 52: 6 };

/** Mali TRANSTAB bits. */
const MALI_TTBR_ADRMODE_TABLE = 3;
const MALI_TTBR_READ_INNER = 1 << 2;
const MALI_TTBR_SHARE_OUTER = 1 << 4;

/** Everything a configuration decides, computed without touching the caller's cfg. */
export interface LpaeGeometry {
  readonly fmt: ArmLpaeFmt;
  readonly kind: AttrKind;
  readonly quirks: number;
  /** cfg values after the format restricted/clamped them. */
  readonly pgsizeBitmap: number;
  readonly ias: number;
  readonly oas: number;
  readonly granule: number;
  readonly pgShift: number;
  /** Bits resolved per level (9, 11 or 13). */
  readonly bitsPerLevel: number;
  readonly startLevel: number;
  /** log2 of the number of PGD entries (may exceed bitsPerLevel for a concatenated S2 PGD). */
  readonly pgdBits: number;
  /** How the registers are filled once the PGD address is known. */
  readonly regs:
    | { kind: 's1'; tcr: { ips: number; tg: number; sh: number; orgn: number; irgn: number; tsz: number } }
    | { kind: 's2'; vtcr: { ps: number; tg: number; sh: number; orgn: number; irgn: number; sl: number; tsz: number } }
    | { kind: 'mali'; transtabLow: number };
}

/** Either the geometry, or why the kernel would have returned NULL. */
export type GeometryResult = { ok: true; geo: LpaeGeometry } | { ok: false; reason: string; warn?: boolean };

function reject(reason: string, warn = false): GeometryResult {
  return { ok: false, reason, warn };
}

/**
 * The kernel's page-size restriction: pick the granule (the host PAGE_SIZE if offered, else the
 * largest smaller size, else the smallest larger one), keep only that granule's block sizes, and
 * clamp ias/oas to 48 bits (52 for 64K).
 */
function restrictPgsizes(bitmap: number, ias: number, oas: number): { bitmap: number; ias: number; oas: number } {
  let granule = 0;
  const pageBit = Math.log2(HOST_PAGE_SIZE);
  if (testBit(bitmap, pageBit)) granule = HOST_PAGE_SIZE;
  else {
    const below = bitmap % HOST_PAGE_SIZE;
    const above = bitmap - below;
    if (below) granule = 2 ** fls53(below);
    else if (above) granule = 2 ** ffs53(above);
  }
  let maxBits = 48;
  let sizes = 0;
  if (granule === SZ_4K) sizes = SZ_4K + SZ_2M + SZ_1G;
  else if (granule === SZ_16K) sizes = SZ_16K + SZ_32M;
  else if (granule === SZ_64K) {
    maxBits = 52;
    sizes = SZ_64K + SZ_512M + (oas > 48 ? SZ_4T : 0);
  }
  return { bitmap: and53(bitmap, sizes), ias: Math.min(ias, maxBits), oas: Math.min(oas, maxBits) };
}

/**
 * Works out the table geometry and register values for `fmt` and `cfg` exactly as the kernel's
 * alloc functions do, but without modifying `cfg` (the caller applies the result on success).
 */
export function lpaeGeometry(fmt: ArmLpaeFmt, cfg: Readonly<IoPgtableCfg>): GeometryResult {
  if (cfg === null || typeof cfg !== 'object') return reject(`cfg must be an object (got ${cfg === null ? 'null' : typeof cfg})`);
  let { pgsizeBitmap: bitmap, ias, oas } = cfg;
  const quirks = cfg.quirks;
  if (!isU53(bitmap) || !Number.isInteger(ias) || !Number.isInteger(oas) || ias < 0 || oas < 0 || !Number.isInteger(quirks))
    return reject('malformed cfg (pgsizeBitmap/ias/oas/quirks must be non-negative integers)');

  // format-specific limits applied before the common code
  let kind: AttrKind;
  switch (fmt) {
    case 'ARM_32_LPAE_S1':
      if (ias > 32 || oas > 40) return reject(`32-bit stage 1 needs ias <= 32 and oas <= 40 (ias ${ias}, oas ${oas})`);
      bitmap = and53(bitmap, SZ_4K + SZ_2M + SZ_1G);
      kind = 's1';
      break;
    case 'ARM_32_LPAE_S2':
      if (ias > 40 || oas > 40) return reject(`32-bit stage 2 needs ias, oas <= 40 (ias ${ias}, oas ${oas})`);
      bitmap = and53(bitmap, SZ_4K + SZ_2M + SZ_1G);
      kind = 's2';
      break;
    case 'ARM_MALI_LPAE':
      if (quirks) return reject('Mali accepts no quirks');
      if (ias > 48 || oas > 40) return reject(`Mali needs ias <= 48 and oas <= 40 (ias ${ias}, oas ${oas})`);
      bitmap = and53(bitmap, SZ_4K + SZ_2M + SZ_1G);
      kind = 'mali';
      break;
    case 'ARM_64_LPAE_S1':
      kind = 's1';
      break;
    case 'ARM_64_LPAE_S2':
      kind = 's2';
      break;
    default:
      // only reachable from JavaScript: TypeScript callers cannot name another format
      return reject(`unknown format ${JSON.stringify(fmt)} (not one of ${ARM_LPAE_FORMATS.join(', ')})`);
  }
  if (kind === 's1' && quirks & ~S1_QUIRKS) return reject(`unsupported quirks 0x${(quirks & ~S1_QUIRKS).toString(16)} for stage 1`);
  if (kind === 's2' && quirks & ~S2_QUIRKS) return reject(`unsupported quirks 0x${(quirks & ~S2_QUIRKS).toString(16)} for stage 2`);

  // the common part (arm_lpae_alloc_pgtable)
  ({ bitmap, ias, oas } = restrictPgsizes(bitmap, ias, oas));
  if (!testBit(bitmap, 12) && !testBit(bitmap, 14) && !testBit(bitmap, 16))
    return reject('page-size bitmap has no 4K, 16K or 64K granule');
  const pgShift = ffs53(bitmap);
  const granule = 2 ** pgShift;
  const bpl = pgShift - 3;
  const vaBits = ias - pgShift;
  // The kernel does not validate this; its arithmetic would produce a start level of 4 or more.
  if (vaBits <= 0) return reject(`ias ${ias} does not exceed the granule shift ${pgShift} (model check)`);
  const levels = Math.ceil(vaBits / bpl);
  let startLevel = ARM_LPAE_MAX_LEVELS - levels;
  let pgdBits = vaBits - bpl * (levels - 1);

  const coherent = cfg.coherentWalk;
  const sh = coherent ? TCR_SH_IS : TCR_SH_OS;
  const rgn = coherent ? TCR_RGN_WBWA : TCR_RGN_NC;
  let regs: LpaeGeometry['regs'];

  if (kind === 's1') {
    let orgn = rgn;
    if (quirks & IO_PGTABLE_QUIRK_ARM_OUTER_WBWA) {
      if (coherent) return reject('OUTER_WBWA is only valid with a non-coherent walk');
      orgn = TCR_RGN_WBWA;
    }
    const tg = (quirks & IO_PGTABLE_QUIRK_ARM_TTBR1 ? TG1 : TG0)[granule]!;
    const ips = PS_BY_OAS[oas];
    if (ips === undefined) return reject(`oas ${oas} has no IPS encoding`);
    regs = { kind: 's1', tcr: { ips, tg, sh, orgn, irgn: rgn, tsz: 64 - ias } };
  } else if (kind === 's2') {
    if (s2ConcatMandatory(granule, startLevel, ias, oas)) {
      if (2 ** pgdBits > ARM_LPAE_S2_MAX_CONCAT_PAGES)
        return reject(`stage-2 start level would need ${2 ** pgdBits} concatenated tables (max 16)`, true);
      pgdBits += bpl;
      startLevel += 1;
    }
    let sl = startLevel;
    if (granule === SZ_4K) sl++;
    const ps = PS_BY_OAS[oas];
    if (ps === undefined) return reject(`oas ${oas} has no PS encoding`);
    regs = { kind: 's2', vtcr: { ps, tg: TG0[granule]!, sh, orgn: rgn, irgn: rgn, sl: ~sl & 3, tsz: 64 - ias } };
  } else {
    // Mali always walks four levels
    if (startLevel > 0) {
      startLevel = 0;
      pgdBits = 0;
    }
    let t = MALI_TTBR_READ_INNER | MALI_TTBR_ADRMODE_TABLE;
    if (coherent) t |= MALI_TTBR_SHARE_OUTER;
    regs = { kind: 'mali', transtabLow: t };
  }

  return {
    ok: true,
    geo: { fmt, kind, quirks, pgsizeBitmap: bitmap, ias, oas, granule, pgShift, bitsPerLevel: bpl, startLevel, pgdBits, regs },
  };
}

/**
 * Where the Arm ARM makes stage-2 start-level concatenation mandatory (the cases the kernel's
 * arm_lpae_concat_mandatory() lists): 16K at level 0 with a 48-bit ias or oas; 4K at level 0 with
 * a 40- or 42-bit oas; 16K at level 1 with a 40-bit oas.
 */
export function s2ConcatMandatory(granule: number, startLevel: number, ias: number, oas: number): boolean {
  if (granule === SZ_16K && startLevel === 0) return oas === 48 || ias === 48;
  if (granule === SZ_4K && startLevel === 0) return oas === 40 || oas === 42;
  return granule === SZ_16K && startLevel === 1 && oas === 40;
}

/** The Mali TRANSTAB value for a PGD at `pgdPa`. */
export function maliTranstab(geo: LpaeGeometry, pgdPa: number): bigint {
  if (geo.regs.kind !== 'mali') throw new TypeError('not a Mali geometry');
  return BigInt(pgdPa) | BigInt(geo.regs.transtabLow);
}
