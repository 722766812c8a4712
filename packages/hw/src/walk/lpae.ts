/**
 * Long-descriptor (LPAE) translation table walker, written from the ARM architecture:
 *  - VMSAv8-64 stage 1 (TTBR0/TTBR1 with TCR T0SZ/T1SZ, TG0/TG1, IPS, EPD0/1, HA/HD, MAIR),
 *  - VMSAv8-64 stage 2 (VTTBR with VTCR T0SZ/SL0/TG0/PS, concatenated start-level tables),
 *  - VMSAv7 long-descriptor (32-bit LPAE) stage 1 (TTBCR T0SZ/T1SZ) and stage 2 (VTCR signed
 *    T0SZ, SL0),
 *  - the Arm Mali GPU MMU in LPAE address mode (TRANSTAB/MEMATTR, always a 4-level walk from
 *    level 0 with a 4 KiB granule, level-3 pages use descriptor type 0b01).
 *
 * Configs are plain objects built (and validated) once by the functions below; the walk reads
 * descriptors as two u32 halves straight from PhysMem's backing chunks and allocates nothing.
 *
 * Not modelled: FEAT_LPA2 (52-bit OA with 4K/16K), TBI, WXN, FEAT_XNX (stage-2 XN[0]), PAN,
 * hierarchical permission disables (HPD), stage-2 FWB beyond the MemAttr interpretation,
 * big-endian tables.
 */
import { BusError, PhysMem } from '../mem.js';
import type { WalkAccess, WalkResult, WalkTableTranslator } from './types.js';
import {
  PERM_ALL,
  PERM_PRIV_R,
  PERM_PRIV_W,
  PERM_PRIV_X,
  PERM_USER_R,
  PERM_USER_W,
  PERM_USER_X,
  permits,
  resetWalkResult,
  setFault,
} from './types.js';

/** Which translation regime a long-descriptor config describes. */
export type LpaeRegime = 'v8-s1' | 'v8-s2' | 'v7-s1' | 'v7-s2' | 'mali';

/** One translation table base (TTBR0, TTBR1, VTTBR or TRANSTAB) with its resolved geometry. */
export interface LpaeTableRange {
  readonly name: 'TTBR0' | 'TTBR1' | 'VTTBR' | 'TRANSTAB';
  /** False when walks through this base are disabled (EPDx, or Mali ADRMODE unmapped). */
  readonly enabled: boolean;
  /** PA of the start-level table (the first of the concatenated tables for stage 2). */
  readonly base: number;
  /** Input address bits the range covers (64 − TxSZ; 32 − TxSZ for VMSAv7; Mali VA bits). */
  readonly inputBits: number;
  /** The range sits at the top of the address space (TTBR1). */
  readonly upper: boolean;
  /** log2 of the translation granule: 12, 14 or 16. */
  readonly granuleShift: number;
  readonly startLevel: number;
  /** Width of the index at the start level, including concatenation bits. */
  readonly startBits: number;
  /** Number of concatenated start-level tables (1 = none). */
  readonly concatenated: number;
  /** VMSAv7 stage 1 only: the 32-bit VA range [vaStart, vaEnd) this base translates. */
  readonly vaStart: number;
  readonly vaEnd: number;
}

export interface LpaeWalkConfig {
  readonly kind: 'lpae';
  readonly regime: LpaeRegime;
  readonly stage: 1 | 2;
  /** Output address size in bits (from IPS/PS, 40 for VMSAv7, the GPU's PA bits for Mali). */
  readonly oaBits: number;
  /** 2^oaBits: output, table and TTBR addresses at or above it give address-size faults. */
  readonly oaLimit: number;
  /** Index 0 = TTBR0/VTTBR/TRANSTAB; index 1 = TTBR1 (stage 1 only). */
  readonly ranges: readonly LpaeTableRange[];
  /** MAIR (stage 1) or MEMATTR (Mali) attribute bytes 0–3 and 4–7 as u32 words. */
  readonly mairLo: number;
  readonly mairHi: number;
  /** Hardware access-flag management (TCR.HA / VTCR.HA). */
  readonly ha: boolean;
  /** Hardware dirty-state management (TCR.HD / VTCR.HD): DBM leaves become writable on write. */
  readonly hd: boolean;
  /** Stage 2 FEAT_S2FWB: MemAttr is interpreted with the forced-write-back encoding. */
  readonly fwb: boolean;
  /** Mali ADRMODE identity: output = input, no walk. */
  readonly identity: boolean;
  /** Set when the programmed fields are architecturally inconsistent; every walk then faults. */
  readonly configError: string | null;
  /**
   * Derived: `walkLpaeFast` handles this config (VMSAv8-64 stage 1 or 2, consistent, no
   * FEAT_LPA 52-bit descriptor layout).
   */
  readonly fastWalk: boolean;
  /** Derived: 2^(oaBits − 32), the limit on an output address's high word. */
  readonly oaHiLimit: number;
}

const TWO32 = 2 ** 32;

// ---------------------------------------------------------------------------------------------
// Config builders

/** PA sizes selected by the IPS/PS encodings 0..6. */
export const PA_SIZE_BITS: readonly number[] = [32, 36, 40, 42, 44, 48, 52];

/** Granule shift for a TG0 encoding (0 = 4K, 1 = 64K, 2 = 16K); -1 if reserved. */
export function tg0GranuleShift(tg0: number): number {
  return tg0 === 0 ? 12 : tg0 === 1 ? 16 : tg0 === 2 ? 14 : -1;
}

/** Granule shift for a TG1 encoding (1 = 16K, 2 = 4K, 3 = 64K); -1 if reserved. */
export function tg1GranuleShift(tg1: number): number {
  return tg1 === 1 ? 14 : tg1 === 2 ? 12 : tg1 === 3 ? 16 : -1;
}

/** log2 of the span of one entry at `level` for a granule. */
export function lpaeLevelShift(granuleShift: number, level: number): number {
  return granuleShift + (granuleShift - 3) * (3 - level);
}

function checkField(name: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`${name}=${v} is outside ${min}..${max}`);
}

function checkPa(name: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0 || v >= 2 ** 52) throw new RangeError(`${name}=${v} is not a 52-bit physical address`);
}

function u32pair(v: bigint | number): [number, number] {
  const b = BigInt.asUintN(64, BigInt(v));
  return [Number(b & 0xffffffffn), Number(b >> 32n)];
}

interface RangeSpec {
  name: LpaeTableRange['name'];
  enabled: boolean;
  base: number;
  inputBits: number;
  upper: boolean;
  granuleShift: number;
  startLevel: number;
  startBits: number;
  vaStart?: number;
  vaEnd?: number;
}

function makeRange(s: RangeSpec): LpaeTableRange {
  const bpl = s.granuleShift - 3;
  return {
    name: s.name,
    enabled: s.enabled,
    base: s.base,
    inputBits: s.inputBits,
    upper: s.upper,
    granuleShift: s.granuleShift,
    startLevel: s.startLevel,
    startBits: s.startBits,
    concatenated: s.startBits > bpl ? 2 ** (s.startBits - bpl) : 1,
    vaStart: s.vaStart ?? 0,
    vaEnd: s.vaEnd ?? 0,
  };
}

function withLimit(c: Omit<LpaeWalkConfig, 'oaLimit' | 'fastWalk' | 'oaHiLimit'>): LpaeWalkConfig {
  const fastWalk =
    (c.regime === 'v8-s1' || c.regime === 'v8-s2') &&
    c.configError === null &&
    !c.identity &&
    c.oaBits >= 32 &&
    !(c.oaBits === 52 && c.ranges.some((r) => r.granuleShift === 16));
  return { ...c, oaLimit: 2 ** c.oaBits, fastWalk, oaHiLimit: 2 ** Math.max(0, c.oaBits - 32) };
}

/** Stage-1 start level implied by an input size: enough levels to resolve every bit. */
function s1StartLevel(inputBits: number, granuleShift: number): number {
  const bpl = granuleShift - 3;
  return 4 - Math.ceil((inputBits - granuleShift) / bpl);
}

function s1Range(
  name: 'TTBR0' | 'TTBR1',
  enabled: boolean,
  base: number,
  txsz: number,
  granuleShift: number,
  oaBits: number,
): { range: LpaeTableRange; error: string | null } {
  const inputBits = 64 - txsz;
  let error: string | null = null;
  const minTxsz = granuleShift === 16 && oaBits === 52 ? 12 : 16;
  if (granuleShift < 0) error = `${name}: reserved TG encoding`;
  else if (txsz < minTxsz || txsz > 48) error = `${name}: T${name === 'TTBR0' ? 0 : 1}SZ=${txsz} out of range`;
  const g = granuleShift < 0 ? 12 : granuleShift;
  let start = s1StartLevel(inputBits, g);
  if (error === null && (start < 0 || (g === 16 && start < 1))) error = `${name}: ${inputBits}-bit input needs more than 4 levels`;
  if (start < 0) start = 0;
  const startBits = Math.max(1, inputBits - lpaeLevelShift(g, start));
  return {
    range: makeRange({ name, enabled: enabled && error === null, base, inputBits, upper: name === 'TTBR1', granuleShift: g, startLevel: start, startBits }),
    error: enabled ? error : null,
  };
}

/** VMSAv8-64 stage-1 fields (TCR_ELx decoded), with table base PAs rather than TTBR values. */
export interface LpaeS1Params {
  /** PA of the TTBR0 table. Omitted means TTBR0 walks are disabled (as EPD0). */
  ttbr0?: number;
  /** PA of the TTBR1 table. Omitted means TTBR1 walks are disabled (as EPD1). */
  ttbr1?: number;
  t0sz?: number;
  t1sz?: number;
  /** TG0 encoding: 0 = 4K, 1 = 64K, 2 = 16K. Default 0. */
  tg0?: number;
  /** TG1 encoding: 1 = 16K, 2 = 4K, 3 = 64K. Default 2. */
  tg1?: number;
  /** IPS: 0..6 = 32, 36, 40, 42, 44, 48, 52 bits. */
  ips: number;
  epd0?: boolean;
  epd1?: boolean;
  ha?: boolean;
  hd?: boolean;
  /** MAIR_ELx (64-bit; a bigint at configuration time). */
  mair: bigint | number;
}

export function lpaeS1Config(p: LpaeS1Params): LpaeWalkConfig {
  checkField('IPS', p.ips, 0, 7);
  const tg0 = p.tg0 ?? 0;
  const tg1 = p.tg1 ?? 2;
  checkField('TG0', tg0, 0, 3);
  checkField('TG1', tg1, 0, 3);
  const t0sz = p.t0sz ?? 64;
  const t1sz = p.t1sz ?? 64;
  checkField('T0SZ', t0sz, 0, 64);
  checkField('T1SZ', t1sz, 0, 64);
  if (p.ttbr0 !== undefined) checkPa('TTBR0', p.ttbr0);
  if (p.ttbr1 !== undefined) checkPa('TTBR1', p.ttbr1);
  const g0 = tg0GranuleShift(tg0);
  const g1 = tg1GranuleShift(tg1);
  let error: string | null = p.ips === 7 ? 'reserved IPS encoding' : null;
  // Without FEAT_LPA2 a 52-bit IPS only means 52 bits with the 64K granule.
  const oaBits = (g: number): number => {
    const b = PA_SIZE_BITS[Math.min(p.ips, 6)]!;
    return b === 52 && g !== 16 ? 48 : b;
  };
  const en0 = p.ttbr0 !== undefined && !p.epd0;
  const en1 = p.ttbr1 !== undefined && !p.epd1;
  const r0 = s1Range('TTBR0', en0, p.ttbr0 ?? 0, t0sz, g0, oaBits(g0));
  const r1 = s1Range('TTBR1', en1, p.ttbr1 ?? 0, t1sz, g1, oaBits(g1));
  error ??= r0.error ?? r1.error;
  const [mairLo, mairHi] = u32pair(p.mair);
  // The OA size is a property of the regime; the granule only matters for 52 bits. Use the
  // granule of an enabled range (TTBR0 first).
  const gOa = en0 ? g0 : en1 ? g1 : g0;
  return withLimit({
    kind: 'lpae',
    regime: 'v8-s1',
    stage: 1,
    oaBits: oaBits(gOa),
    ranges: [r0.range, r1.range],
    mairLo,
    mairHi,
    ha: !!p.ha,
    hd: !!p.hd && !!p.ha,
    fwb: false,
    identity: false,
    configError: error,
  });
}

/** Decodes TCR_EL1 / an SMMUv3 CD-style TCR and TTBR values (bigint, configuration time only). */
export function lpaeS1ConfigFromRegisters(r: { ttbr0?: bigint; ttbr1?: bigint; tcr: bigint; mair: bigint }): LpaeWalkConfig {
  const f = (lo: number, width: number): number => Number((r.tcr >> BigInt(lo)) & ((1n << BigInt(width)) - 1n));
  const ips = f(32, 3);
  const tg0 = f(14, 2);
  const tg1 = f(30, 2);
  const baddr = (ttbr: bigint | undefined, tg: number): number | undefined => {
    if (ttbr === undefined) return undefined;
    // 52-bit PA with the 64K granule: BADDR[51:48] sits in TTBR bits [5:2] (the table is then
    // at least 64-byte aligned). Otherwise BADDR is bits [47:1] and bit 0 is CnP.
    if (ips === 6 && tg === 16) return Number(ttbr & 0x0000ffffffffffc0n) + Number((ttbr >> 2n) & 0xfn) * 2 ** 48;
    return Number(ttbr & 0x0000fffffffffffen);
  };
  return lpaeS1Config({
    ttbr0: baddr(r.ttbr0, tg0GranuleShift(tg0)),
    ttbr1: baddr(r.ttbr1, tg1GranuleShift(tg1)),
    t0sz: f(0, 6),
    t1sz: f(16, 6),
    tg0,
    tg1,
    ips,
    epd0: f(7, 1) === 1,
    epd1: f(23, 1) === 1,
    ha: f(39, 1) === 1,
    hd: f(40, 1) === 1,
    mair: r.mair,
  });
}

/** VMSAv8-64 stage-2 fields (VTCR_EL2 decoded), with the VTTBR table base as a PA. */
export interface LpaeS2Params {
  vttbr: number;
  t0sz: number;
  sl0: number;
  /** TG0 encoding: 0 = 4K, 1 = 64K, 2 = 16K. Default 0. */
  tg0?: number;
  /** PS: 0..6 = 32 .. 52 bits. */
  ps: number;
  ha?: boolean;
  hd?: boolean;
  /** FEAT_S2FWB (HCR_EL2.FWB): MemAttr uses the forced-write-back encoding. */
  fwb?: boolean;
}

/** Stage-2 start level selected by SL0 for a granule (4K: 2 − SL0; 16K/64K: 3 − SL0). */
export function s2StartLevel(granuleShift: number, sl0: number): number {
  return granuleShift === 12 ? 2 - sl0 : 3 - sl0;
}

function s2Range(base: number, inputBits: number, g: number, start: number): { range: LpaeTableRange; error: string | null } {
  const bpl = g - 3;
  let error: string | null = null;
  if (g < 0) error = 'VTTBR: reserved TG0 encoding';
  const gg = g < 0 ? 12 : g;
  if (error === null && (start < 0 || start > 3 || (gg === 16 && start < 1))) error = `VTTBR: SL0 selects unsupported start level ${start}`;
  const st = Math.min(3, Math.max(0, start));
  const bits = inputBits - lpaeLevelShift(gg, st);
  if (error === null && (bits < 1 || bits > bpl + 4))
    error = `VTTBR: ${inputBits}-bit IPA inconsistent with start level ${st} (${bits} index bits; at most 16 concatenated tables)`;
  return {
    range: makeRange({ name: 'VTTBR', enabled: error === null, base, inputBits, upper: false, granuleShift: gg, startLevel: st, startBits: Math.max(1, Math.min(bits, bpl + 4)) }),
    error,
  };
}

export function lpaeS2Config(p: LpaeS2Params): LpaeWalkConfig {
  checkPa('VTTBR', p.vttbr);
  checkField('PS', p.ps, 0, 7);
  checkField('T0SZ', p.t0sz, 0, 64);
  checkField('SL0', p.sl0, 0, 3);
  const tg0 = p.tg0 ?? 0;
  checkField('TG0', tg0, 0, 3);
  const g = tg0GranuleShift(tg0);
  const r = s2Range(p.vttbr, 64 - p.t0sz, g, s2StartLevel(g, p.sl0));
  let error = p.ps === 7 ? 'reserved PS encoding' : r.error;
  if (error === null && (p.t0sz < (g === 16 && p.ps === 6 ? 12 : 16) || p.t0sz > 48)) error = `VTTBR: T0SZ=${p.t0sz} out of range`;
  const b = PA_SIZE_BITS[Math.min(p.ps, 6)]!;
  return withLimit({
    kind: 'lpae',
    regime: 'v8-s2',
    stage: 2,
    oaBits: b === 52 && g !== 16 ? 48 : b,
    ranges: [r.range],
    mairLo: 0,
    mairHi: 0,
    ha: !!p.ha,
    hd: !!p.hd && !!p.ha,
    fwb: !!p.fwb,
    identity: false,
    configError: error,
  });
}

/** Decodes VTCR_EL2 (or an SMMUv3 STE's S2 fields packed the same way) and a VTTBR value. */
export function lpaeS2ConfigFromRegisters(r: { vttbr: bigint; vtcr: bigint; fwb?: boolean }): LpaeWalkConfig {
  const f = (lo: number, width: number): number => Number((r.vtcr >> BigInt(lo)) & ((1n << BigInt(width)) - 1n));
  return lpaeS2Config({
    vttbr: Number(r.vttbr & 0x0000fffffffffffen),
    t0sz: f(0, 6),
    sl0: f(6, 2),
    tg0: f(14, 2),
    ps: f(16, 3),
    ha: f(21, 1) === 1,
    hd: f(22, 1) === 1,
    fwb: r.fwb,
  });
}

/** VMSAv7 long-descriptor stage 1 (TTBCR with EAE = 1): 32-bit VA, 40-bit PA, 4K granule. */
export interface Lpae32S1Params {
  ttbr0?: number;
  ttbr1?: number;
  /** TTBCR.T0SZ / T1SZ, 0..7. */
  t0sz?: number;
  t1sz?: number;
  epd0?: boolean;
  epd1?: boolean;
  /** MAIR0 | MAIR1 << 32. */
  mair: bigint | number;
}

export function lpae32S1Config(p: Lpae32S1Params): LpaeWalkConfig {
  const t0sz = p.t0sz ?? 0;
  const t1sz = p.t1sz ?? 0;
  checkField('T0SZ', t0sz, 0, 7);
  checkField('T1SZ', t1sz, 0, 7);
  if (p.ttbr0 !== undefined) checkPa('TTBR0', p.ttbr0);
  if (p.ttbr1 !== undefined) checkPa('TTBR1', p.ttbr1);
  const end0 = 2 ** (32 - t0sz);
  // TTBR1 covers the top 2^(32−T1SZ) bytes when T1SZ > 0; with T1SZ = 0 it covers everything
  // above the TTBR0 range (if any) with a full 32-bit input size.
  const start1 = t1sz > 0 ? TWO32 - 2 ** (32 - t1sz) : t0sz > 0 ? end0 : TWO32;
  const in1 = t1sz > 0 ? 32 - t1sz : 32;
  const mk = (name: 'TTBR0' | 'TTBR1', enabled: boolean, base: number, inputBits: number, vaStart: number, vaEnd: number): LpaeTableRange => {
    const start = s1StartLevel(inputBits, 12);
    return makeRange({ name, enabled, base, inputBits, upper: name === 'TTBR1', granuleShift: 12, startLevel: start, startBits: inputBits - lpaeLevelShift(12, start), vaStart, vaEnd });
  };
  const [mairLo, mairHi] = u32pair(p.mair);
  return withLimit({
    kind: 'lpae',
    regime: 'v7-s1',
    stage: 1,
    oaBits: 40,
    ranges: [
      // With T0SZ = 0 and T1SZ > 0, TTBR0 stops where the TTBR1 region starts.
      mk('TTBR0', p.ttbr0 !== undefined && !p.epd0, p.ttbr0 ?? 0, 32 - t0sz, 0, t1sz > 0 ? Math.min(end0, start1) : end0),
      mk('TTBR1', p.ttbr1 !== undefined && !p.epd1 && start1 < TWO32, p.ttbr1 ?? 0, in1, start1, TWO32),
    ],
    mairLo,
    mairHi,
    ha: false,
    hd: false,
    fwb: false,
    identity: false,
    configError: null,
  });
}

/** VMSAv7 long-descriptor stage 2 (VTCR): T0SZ is a signed 4-bit value (−8..7), SL0 0 or 1. */
export interface Lpae32S2Params {
  vttbr: number;
  /** Signed (−8..7) or the raw 4-bit field (0..15, bit 3 is the sign). */
  t0sz: number;
  sl0: number;
}

export function lpae32S2Config(p: Lpae32S2Params): LpaeWalkConfig {
  checkPa('VTTBR', p.vttbr);
  checkField('T0SZ', p.t0sz, -8, 15);
  checkField('SL0', p.sl0, 0, 3);
  const t0sz = p.t0sz > 7 ? p.t0sz - 16 : p.t0sz;
  const r = s2Range(p.vttbr, 32 - t0sz, 12, p.sl0 > 1 ? -1 : 2 - p.sl0);
  return withLimit({
    kind: 'lpae',
    regime: 'v7-s2',
    stage: 2,
    oaBits: 40,
    ranges: [r.range],
    mairLo: 0,
    mairHi: 0,
    ha: false,
    hd: false,
    fwb: false,
    identity: false,
    configError: r.error,
  });
}

/** Mali GPU MMU address space in LPAE mode. */
export interface MaliParams {
  /** AS_TRANSTAB: table PA in bits [47:12], ADRMODE in bits [1:0] (3 table, 2 identity, 1 unmapped). */
  transtab: bigint | number;
  /** AS_MEMATTR: 8 attribute bytes selected by AttrIndx. */
  memattr: bigint | number;
  /** VA bits the GPU implements (MMU_FEATURES[7:0]); default 48. */
  vaBits?: number;
  /** PA bits the GPU implements (MMU_FEATURES[15:8]); default 40. */
  paBits?: number;
}

export const MALI_ADRMODE_UNMAPPED = 1;
export const MALI_ADRMODE_IDENTITY = 2;
export const MALI_ADRMODE_TABLE = 3;

export function maliConfig(p: MaliParams): LpaeWalkConfig {
  const vaBits = p.vaBits ?? 48;
  const paBits = p.paBits ?? 40;
  checkField('vaBits', vaBits, 13, 48);
  checkField('paBits', paBits, 13, 48);
  const [tLo, tHi] = u32pair(p.transtab);
  const adrmode = tLo & 3;
  const base = (tHi & 0xffff) * TWO32 + ((tLo & 0xfffff000) >>> 0);
  const [mairLo, mairHi] = u32pair(p.memattr);
  return withLimit({
    kind: 'lpae',
    regime: 'mali',
    stage: 1,
    oaBits: paBits,
    ranges: [makeRange({ name: 'TRANSTAB', enabled: adrmode === MALI_ADRMODE_TABLE, base, inputBits: vaBits, upper: false, granuleShift: 12, startLevel: 0, startBits: 9 })],
    mairLo,
    mairHi,
    ha: false,
    hd: false,
    fwb: false,
    identity: adrmode === MALI_ADRMODE_IDENTITY,
    configError: null,
  });
}

// ---------------------------------------------------------------------------------------------
// Descriptor decoding helpers (shared with the inspector)

/** Output-address field of a descriptor, aligned to 2^alignShift (table: the granule). */
export function lpaeDescOa(lo: number, hi: number, alignShift: number, granuleShift: number, oaBits: number): number {
  let loPart: number;
  let hiPart = hi & 0xffff;
  if (alignShift >= 32) {
    loPart = 0;
    hiPart &= ~((1 << (alignShift - 32)) - 1);
  } else {
    loPart = (lo & ~((1 << alignShift) - 1)) >>> 0;
  }
  let oa = hiPart * TWO32 + loPart;
  // FEAT_LPA: with the 64K granule and a 52-bit OA, descriptor bits [15:12] hold OA[51:48].
  if (granuleShift === 16 && oaBits === 52) oa += ((lo >>> 12) & 0xf) * 2 ** 48;
  return oa;
}

/** True when a type-0b01 (block) descriptor is architecturally valid at `level`. */
export function lpaeBlockAllowed(cfg: LpaeWalkConfig, granuleShift: number, level: number): boolean {
  if (cfg.regime === 'mali') return level >= 1 && level <= 3;
  if (granuleShift === 12) return level === 1 || level === 2;
  if (granuleShift === 14) return level === 2;
  return level === 2 || (level === 1 && cfg.oaBits === 52);
}

/** Converts a stage-2 MemAttr[3:0] to a MAIR-format attribute byte. */
export function s2MemAttrToMair(memAttr: number, fwb: boolean): number {
  if (fwb) {
    // FEAT_S2FWB: MemAttr[2] = 0 device (type in [1:0]), 0b110 forces WB, 0b101 NC, 0b111 "use stage 1".
    if ((memAttr & 4) === 0) return (memAttr & 3) << 2;
    const t = memAttr & 3;
    return t === 2 ? 0xff : t === 1 ? 0x44 : 0xff;
  }
  if ((memAttr & 0xc) === 0) return (memAttr & 3) << 2; // Device-nGnRnE .. Device-GRE
  // Normal: outer [3:2], inner [1:0]; 01 NC, 10 WT, 11 WB (allocation hints assumed RW).
  return (s2CacheNibble(memAttr >> 2) << 4) | s2CacheNibble(memAttr & 3);
}

/** A stage-2 MemAttr cacheability pair as a MAIR nibble (module level: no closure per walk). */
function s2CacheNibble(x: number): number {
  return x === 1 ? 0x4 : x === 2 ? 0xb : 0xf;
}

// ---------------------------------------------------------------------------------------------
// The walk

// ---------------------------------------------------------------------------------------------
// Walk cursor (the walk-cache hook of walkLpaeParts / walkLpaeFast)

/** Cursor slot: address of the table (an IPA with a nested `tables` translator). */
export const CUR_TABLE = 0;
/** Cursor slot: level of that table, or −1 (start at the start-level table). */
export const CUR_LEVEL = 1;
/** Cursor slot: width of the index into that table (start level: with concatenation). */
export const CUR_BITS = 2;
/** Cursor slot: stage-1 table descriptor bits 63:59 OR-ed over the levels above (hi[31:27]). */
export const CUR_TBLHI = 3;
/** Cursor slot: the table range (0 = TTBR0/VTTBR/TRANSTAB, 1 = TTBR1). */
export const CUR_RANGE = 4;
/**
 * Cursor slots: low and high words (u32) of the table descriptor that led to the table (0 at
 * the start level), so that a resumed walk reports the same "last descriptor read" as a full
 * walk when the table itself cannot be read.
 */
export const CUR_DESC_LO = 5;
export const CUR_DESC_HI = 6;
const CURSOR_SLOTS = 7;

/** A walk cursor (allocate once per walker user; every slot is an exact integer). */
export function createLpaeCursor(): Float64Array {
  const c = new Float64Array(CURSOR_SLOTS);
  c[CUR_LEVEL] = -1;
  return c;
}

/**
 * Points `cursor` at a table to resume from (`level` below the start level of its range),
 * reached through the table descriptor (`descLo`, `descHi`).
 */
export function lpaeCursorResume(cfg: LpaeWalkConfig, cursor: Float64Array, range: number, table: number, level: number, tblHi: number, descLo: number, descHi: number): void {
  cursor[CUR_RANGE] = range;
  cursor[CUR_LEVEL] = level;
  cursor[CUR_BITS] = cfg.ranges[range]!.granuleShift - 3;
  cursor[CUR_TABLE] = table;
  cursor[CUR_TBLHI] = tblHi;
  cursor[CUR_DESC_LO] = descLo >>> 0;
  cursor[CUR_DESC_HI] = descHi >>> 0;
}

/**
 * log2 of the input span the cursor's table covers (its entries' span times its entries),
 * i.e. the block of inputs for which a walk reaches this same table.
 */
export function lpaeCursorSpanShift(cfg: LpaeWalkConfig, cursor: Float64Array): number {
  const g = cfg.ranges[cursor[CUR_RANGE]!]!.granuleShift;
  return lpaeLevelShift(g, cursor[CUR_LEVEL]!) + cursor[CUR_BITS]!;
}

/**
 * Selects the table range for a 64-bit input address given as u32 halves; returns its index
 * or -1 (input outside every range).
 */
function selectRange(cfg: LpaeWalkConfig, vaHi: number, vaLo: number): number {
  const ranges = cfg.ranges;
  if (cfg.regime === 'v7-s1') {
    if (vaHi !== 0) return -1;
    for (let i = 0; i < ranges.length; i++) {
      const r = ranges[i]!;
      if (vaLo >= r.vaStart && vaLo < r.vaEnd) return i;
    }
    return -1;
  }
  for (let i = 0; i < ranges.length; i++) {
    const r = ranges[i]!;
    const n = r.inputBits;
    if (!r.upper) {
      if (n >= 32 ? vaHi >>> (n - 32) === 0 : vaHi === 0 && vaLo >>> n === 0) return i;
    } else if (n >= 32) {
      if (vaHi >>> (n - 32) === 0xffffffff >>> (n - 32)) return i;
    } else if (vaHi === 0xffffffff && vaLo >>> n === 0xffffffff >>> n) {
      return i;
    }
  }
  return -1;
}

/**
 * Translates the input address (u32 halves of a 64-bit value) through a long-descriptor
 * config. Fills `out`; returns true on success. Allocation-free. With `tables` (nested
 * translation) every table address is an IPA that `tables` maps to a PA before the read.
 *
 * With a `cursor` (see `createLpaeCursor`), a walk-cache hook: when `cursor[CUR_LEVEL]` is
 * −1 the walk starts at the start-level table as usual, otherwise it resumes at the table the
 * cursor names (a table an earlier walk of the same config reached for an input in the same
 * block; `lpaeCursorResume` fills it). Either way, on return the cursor holds the last table
 * the walk read a descriptor from (its address, level, index width, the stage-1 table controls
 * collected above it, the table range and the table descriptor that led to it), whatever the
 * outcome; it is left at −1 when the walk stopped before reading any descriptor. A resumed
 * walk gives exactly what the full walk gives as long as the tables above did not change.
 */
export function walkLpaeParts(
  mem: PhysMem,
  cfg: LpaeWalkConfig,
  vaHi: number,
  vaLo: number,
  access: WalkAccess,
  out: WalkResult,
  tables?: WalkTableTranslator,
  cursor?: Float64Array,
): boolean {
  resetWalkResult(out);
  vaHi >>>= 0;
  vaLo >>>= 0;
  let r: LpaeTableRange;
  let level: number;
  let bits: number;
  // The current table's address as int32 halves: a double here would be boxed on entering the
  // loop (a loop variable V8 keeps tagged), once per walk for a table at or above 2^31.
  let tHi: number;
  let tLo: number;
  // Hierarchical controls collected from stage-1 table descriptors (bits 63:59 are in hi[31:27]).
  let tblHi: number;
  if (cursor !== undefined && cursor[CUR_LEVEL]! >= 0) {
    // Resume at a table a walk of this config reached before for an input in the same block
    // (walk cache): every check above that table was made when it was reached.
    const ri = cursor[CUR_RANGE]!;
    r = cfg.ranges[ri]!;
    out.ttbr = ri;
    level = cursor[CUR_LEVEL]! | 0;
    bits = cursor[CUR_BITS]! | 0;
    const t = cursor[CUR_TABLE]!;
    tHi = Math.floor(t / TWO32) | 0;
    tLo = t | 0;
    tblHi = cursor[CUR_TBLHI]! | 0;
    out.descLo = cursor[CUR_DESC_LO]!;
    out.descHi = cursor[CUR_DESC_HI]!;
  } else {
    if (cfg.configError !== null) return setFault(out, 'translation', 0);
    const ri = selectRange(cfg, vaHi, vaLo);
    if (ri < 0) return setFault(out, cfg.regime === 'mali' ? 'address-size' : 'translation', 0);
    r = cfg.ranges[ri]!;
    out.ttbr = ri;
    if (cfg.identity) {
      const pa = vaHi * TWO32 + vaLo;
      if (pa >= cfg.oaLimit) return setFault(out, 'address-size', 0);
      out.oa = pa;
      out.size = 4096;
      out.perms = PERM_ALL;
      return true;
    }
    if (!r.enabled) return setFault(out, 'translation', 0);
    if (r.base >= cfg.oaLimit) return setFault(out, 'address-size', 0);
    level = r.startLevel;
    bits = r.startBits;
    const t = r.base;
    tHi = Math.floor(t / TWO32) | 0;
    tLo = t | 0;
    tblHi = 0;
    if (cursor !== undefined) {
      cursor[CUR_RANGE] = ri;
      cursor[CUR_LEVEL] = level;
      cursor[CUR_BITS] = bits;
      cursor[CUR_TABLE] = t;
      cursor[CUR_TBLHI] = 0;
      cursor[CUR_DESC_LO] = 0;
      cursor[CUR_DESC_HI] = 0;
    }
  }
  const oaLimit = cfg.oaLimit;
  const g = r.granuleShift;
  const bpl = g - 3;
  const isS1 = cfg.stage === 1 && cfg.regime !== 'mali';

  for (;;) {
    const shift = g + bpl * (3 - level);
    // Index = input bits [shift+bits−1 : shift], taken from the u32 halves with integer ops.
    const idx = (shift >= 32 ? vaHi >>> (shift - 32) : (vaLo >>> shift) | (vaHi << (32 - shift))) & ((1 << bits) - 1);
    // The descriptor's address goes to the memory as int32 halves (a double argument of a call
    // V8 does not inline would be a heap number per level).
    const sum = (tLo >>> 0) + idx * 8;
    let dHi = (tHi + (sum >= TWO32 ? 1 : 0)) | 0;
    let dLo = sum | 0;
    let descAddr = (dHi >>> 0) * TWO32 + (dLo >>> 0);
    // The descriptor's IPA (nested): a hardware update of the leaf is a write there.
    const ipaHi = dHi;
    const ipaLo = dLo;
    if (tables !== undefined) {
      if (!tables.tableAddress(dHi, dLo, level)) {
        out.descAddr = descAddr;
        return setFault(out, 'translation', level);
      }
      dHi = tables.paHi | 0;
      dLo = tables.paLo | 0;
      descAddr = (dHi >>> 0) * TWO32 + (dLo >>> 0);
    }
    let chunk: Uint32Array;
    try {
      chunk = mem.peekChunkParts(dHi, dLo);
    } catch (e) {
      if (e instanceof BusError) {
        out.descAddr = descAddr;
        return setFault(out, 'external', level);
      }
      throw e;
    }
    const wi = PhysMem.wordIndex(descAddr);
    const lo = chunk[wi]!;
    const hi = chunk[wi + 1]!;
    out.descAddr = descAddr;
    out.descLo = lo;
    out.descHi = hi;
    const type = lo & 3;
    if ((type & 1) === 0) return setFault(out, 'translation', level);
    if (type === 3 && level < 3) {
      // The next table's address (what lpaeDescOa gives for a table descriptor), as halves: the
      // call's double result would be a heap number per level for a table at or above 2^31.
      const nLo = lo & ~((1 << g) - 1);
      let nHi = hi & 0xffff;
      // FEAT_LPA: with the 64K granule and a 52-bit OA, descriptor bits [15:12] hold OA[51:48].
      if (g === 16 && cfg.oaBits === 52) nHi |= ((lo >>> 12) & 0xf) << 16;
      const next = (nHi >>> 0) * TWO32 + (nLo >>> 0);
      if (next >= oaLimit) return setFault(out, 'address-size', level);
      if (isS1) tblHi |= hi;
      tHi = nHi;
      tLo = nLo;
      level++;
      bits = bpl;
      if (cursor !== undefined) {
        cursor[CUR_LEVEL] = level;
        cursor[CUR_BITS] = bits;
        cursor[CUR_TABLE] = next;
        cursor[CUR_TBLHI] = tblHi;
        cursor[CUR_DESC_LO] = lo;
        cursor[CUR_DESC_HI] = hi;
      }
      continue;
    }
    // A leaf: level-3 pages are type 0b11 (0b01 on Mali); blocks are type 0b01 where allowed.
    if (level === 3) {
      if (type !== (cfg.regime === 'mali' ? 1 : 3)) return setFault(out, 'translation', level);
    } else if (!lpaeBlockAllowed(cfg, g, level)) {
      return setFault(out, 'translation', level);
    }
    out.level = level;
    // The output address is computed in `leaf` from the descriptor: passing it as a double to
    // a call V8 may not inline would allocate a heap number per walk.
    // The descriptor words go as int32 for the same reason (a u32 above 2^31 would be boxed).
    return leaf(mem, cfg, r, level, shift, lo | 0, hi | 0, tblHi, vaHi, vaLo, access, out, tables, ipaHi, ipaLo);
  }
}

function leaf(
  mem: PhysMem,
  cfg: LpaeWalkConfig,
  r: LpaeTableRange,
  level: number,
  shift: number,
  lo: number,
  hi: number,
  tblHi: number,
  vaHi: number,
  vaLo: number,
  access: WalkAccess,
  out: WalkResult,
  tables: WalkTableTranslator | undefined,
  ipaHi: number,
  ipaLo: number,
): boolean {
  const oaBase = lpaeDescOa(lo, hi, shift, r.granuleShift, cfg.oaBits);
  if (oaBase >= cfg.oaLimit) return setFault(out, 'address-size', level);
  const af = (lo & 0x400) !== 0;
  const dbm = (hi & (1 << 19)) !== 0;
  out.af = af;
  out.dbm = dbm;
  out.contiguous = (hi & (1 << 20)) !== 0;
  out.sh = (lo >>> 8) & 3;
  let newLo = lo;

  // Access flag: Mali has none; elsewhere AF = 0 faults unless the hardware manages it.
  if (!af && cfg.regime !== 'mali') {
    if (!cfg.ha) return setFault(out, 'access-flag', level);
    newLo |= 0x400;
  }

  let perms: number;
  let dirtyable = false;
  if (cfg.regime === 'mali') {
    perms = maliPerms(lo | 0, hi | 0);
    out.attrIndx = (lo >>> 2) & 7;
    out.memAttr = attrByte(cfg, out.attrIndx);
  } else if (cfg.stage === 2) {
    const s2ap = (lo >>> 6) & 3;
    out.s2ap = s2ap;
    perms = s2Perms(s2ap, hi | 0);
    dirtyable = cfg.hd && dbm && (s2ap & 2) === 0;
    out.attrIndx = (lo >>> 2) & 0xf;
    out.memAttr = s2MemAttrToMair(out.attrIndx, cfg.fwb);
  } else {
    perms = s1Perms(cfg.regime === 'v8-s1', lo | 0, hi | 0, tblHi);
    // Dirty-state update: a DBM leaf marked read-only (AP[2]) becomes writable on a write,
    // unless a table descriptor above forbids writes (APTable[1]).
    dirtyable = cfg.hd && dbm && (lo & 0x80) !== 0 && (tblHi & (1 << 30)) === 0;
    out.attrIndx = (lo >>> 2) & 7;
    out.memAttr = attrByte(cfg, out.attrIndx);
    out.nG = (lo & 0x800) !== 0;
    out.ns = (lo & 0x20) !== 0 || (tblHi & 0x80000000) !== 0;
  }

  if (!permits(perms, access)) {
    let ok = false;
    if (dirtyable && access.write && !access.exec) {
      const p2 = cfg.stage === 2 ? s2Perms(((lo >>> 6) & 3) | 2, hi | 0) : s1Perms(cfg.regime === 'v8-s1', lo & ~0x80, hi | 0, tblHi);
      if (permits(p2, access)) {
        perms = p2;
        newLo = cfg.stage === 2 ? newLo | 0x80 : newLo & ~0x80;
        ok = true;
      }
    }
    if (!ok) {
      out.perms = perms;
      return setFault(out, 'permission', level);
    }
  }

  if (newLo !== lo) {
    // Hardware update of the leaf (AF and/or dirty state); bits 10 and 7 live in the low word.
    // Nested: the update writes the stage-1 table, which stage 2 must permit as a write.
    if (tables !== undefined && tables.tableWrite !== undefined && !tables.tableWrite(ipaHi, ipaLo, level)) {
      return setFault(out, 'translation', level);
    }
    mem.write32(out.descAddr, newLo >>> 0);
    out.updated = true;
  }
  out.perms = perms;
  if (shift < 32) {
    out.size = 1 << shift >>> 0;
    out.oa = oaBase + ((vaLo & ((1 << shift) - 1)) >>> 0);
  } else {
    out.size = (1 << (shift - 32)) * TWO32;
    out.oa = oaBase + (vaHi & ((1 << (shift - 32)) - 1)) * TWO32 + vaLo;
  }
  out.ttbr = r.name === 'TTBR1' ? 1 : 0;
  return true;
}

/** `walkLpaeFast` result slots (an Int32Array of FAST_SLOTS). */
export const FAST_OA_HI = 0;
/** Low word of the output address of the input itself (int32 bit pattern). */
export const FAST_OA_LO = 1;
/** log2 of the leaf's size. */
export const FAST_SHIFT = 2;
/** The leaf's effective permissions (PERM_* mask). */
export const FAST_PERMS = 3;
/** The leaf descriptor's low word (its lower attributes: nG, AF, SH, AP, AttrIndx...). */
export const FAST_DESC_LO = 4;
export const FAST_SLOTS = 5;

/**
 * The common case of `walkLpaeParts`, for configs with `fastWalk` (VMSAv8-64 stage 1 and 2):
 * a walk that ends in a valid leaf whose access flag is set, whose output address is in range
 * and whose permissions grant `access`. Then it returns true with the output address of the
 * input (as halves), the leaf's size shift and its permissions in `res`: exactly the `oa`,
 * `size` and `perms` walkLpaeParts reports for that input. In every other case (a fault of any
 * kind, a leaf the hardware would update for AF or dirty state, a block size of 4 GiB or more,
 * a config without `fastWalk`) it returns false having only read descriptors, and leaves
 * `cursor` at the table it stopped in (−1 if it read none): walkLpaeParts given the same cursor
 * then resumes there and produces the exact outcome, fields, events and updates included.
 *
 * `cursor` is both input (where to start, as for walkLpaeParts) and output (the last table
 * read). Allocation-free; no double crosses a call.
 */
export function walkLpaeFast(mem: PhysMem, cfg: LpaeWalkConfig, vaHi: number, vaLo: number, access: WalkAccess, cursor: Float64Array, res: Int32Array): boolean {
  if (!cfg.fastWalk) return false;
  vaHi >>>= 0;
  vaLo >>>= 0;
  // Cursor slots are exact small integers except the table address: read them as int32.
  let level = cursor[CUR_LEVEL]! | 0;
  let r: LpaeTableRange;
  let bits: number;
  let table: number;
  let tblHi: number;
  if (level < 0) {
    const ri = selectRange(cfg, vaHi, vaLo);
    if (ri < 0) return false;
    r = cfg.ranges[ri]!;
    if (!r.enabled || r.base >= cfg.oaLimit) return false;
    level = r.startLevel;
    bits = r.startBits;
    table = r.base;
    tblHi = 0;
    cursor[CUR_RANGE] = ri;
    cursor[CUR_LEVEL] = level;
    cursor[CUR_BITS] = bits;
    cursor[CUR_TABLE] = table;
    cursor[CUR_TBLHI] = 0;
    cursor[CUR_DESC_LO] = 0;
    cursor[CUR_DESC_HI] = 0;
  } else {
    r = cfg.ranges[cursor[CUR_RANGE]! | 0]!;
    bits = cursor[CUR_BITS]! | 0;
    table = cursor[CUR_TABLE]!;
    tblHi = cursor[CUR_TBLHI]! | 0;
  }
  const g = r.granuleShift;
  const bpl = g - 3;
  const s1 = cfg.stage === 1;
  const oaHiLimit = cfg.oaHiLimit;
  for (;;) {
    const shift = g + bpl * (3 - level);
    const idx = (shift >= 32 ? vaHi >>> (shift - 32) : (vaLo >>> shift) | (vaHi << (32 - shift))) & ((1 << bits) - 1);
    const descAddr = table + idx * 8;
    const chunk = mem.tryPeekChunk(descAddr);
    if (chunk === null) return false;
    const wi = PhysMem.wordIndex(descAddr);
    const lo = chunk[wi]!;
    const hi = chunk[wi + 1]!;
    const type = lo & 3;
    if ((type & 1) === 0) return false;
    if (type === 3 && level < 3) {
      // Table descriptor: next-level table address, granule aligned (no FEAT_LPA here).
      const nHi = hi & 0xffff;
      if (nHi >= oaHiLimit) return false;
      if (s1) tblHi |= hi;
      table = nHi * TWO32 + ((lo & ~((1 << g) - 1)) >>> 0);
      level++;
      bits = bpl;
      cursor[CUR_LEVEL] = level;
      cursor[CUR_BITS] = bits;
      cursor[CUR_TABLE] = table;
      cursor[CUR_TBLHI] = tblHi;
      cursor[CUR_DESC_LO] = lo;
      cursor[CUR_DESC_HI] = hi;
      continue;
    }
    // Leaf: level-3 pages are type 0b11; blocks type 0b01 where the granule allows them.
    if (level === 3 ? type !== 3 : !(g === 12 ? level === 1 || level === 2 : level === 2)) return false;
    if ((lo & 0x400) === 0 || shift >= 32) return false; // AF clear (fault or hardware update); huge blocks
    const oaHi = hi & 0xffff;
    if (oaHi >= oaHiLimit) return false;
    const perms = s1 ? s1Perms(true, lo | 0, hi | 0, tblHi) : s2Perms((lo >>> 6) & 3, hi | 0);
    if (!permits(perms, access)) return false;
    const mask = (1 << shift) - 1;
    res[FAST_OA_HI] = oaHi;
    res[FAST_OA_LO] = (lo & ~mask) | (vaLo & mask);
    res[FAST_SHIFT] = shift;
    res[FAST_PERMS] = perms;
    res[FAST_DESC_LO] = lo;
    return true;
  }
}

/**
 * `walkLpaeFast` at a table below the start level whose backing words the caller holds (a
 * walk cache keeps them; see `PhysMem.backedChunk`): `g` is the granule shift of the table's
 * range, `wb` the table's word index in `words`, `tblHi` the table controls collected above it. Returns true, with `res` filled as
 * walkLpaeFast does, when the descriptor for the input is a leaf the fast walk accepts; false
 * otherwise (a table descriptor, a fault, an update): then walk from a cursor at this table.
 */
export function lpaeFastLeaf(cfg: LpaeWalkConfig, g: number, level: number, words: Uint32Array, wb: number, tblHi: number, vaHi: number, vaLo: number, access: WalkAccess, res: Int32Array): boolean {
  if (!cfg.fastWalk) return false;
  const bpl = g - 3;
  const shift = g + bpl * (3 - level);
  if (shift >= 32) return false;
  const idx = ((vaLo >>> shift) | (vaHi << (32 - shift))) & ((1 << bpl) - 1);
  const wi = wb + 2 * idx;
  const lo = words[wi]!;
  const hi = words[wi + 1]!;
  const type = lo & 3;
  // A leaf: a page at level 3, a block where the granule allows one; the access flag set.
  if (level === 3 ? type !== 3 : type !== 1 || !(g === 12 ? level === 1 || level === 2 : level === 2)) return false;
  if ((lo & 0x400) === 0) return false;
  const oaHi = hi & 0xffff;
  if (oaHi >= cfg.oaHiLimit) return false;
  // (int32 arguments: the descriptor words are u32 and V8 boxes a u32 above 2^31 on a call it does not inline.)
  const perms = cfg.stage === 1 ? s1Perms(true, lo | 0, hi | 0, tblHi) : s2Perms((lo >>> 6) & 3, hi | 0);
  if (!permits(perms, access)) return false;
  const mask = (1 << shift) - 1;
  res[FAST_OA_HI] = oaHi;
  res[FAST_OA_LO] = (lo & ~mask) | (vaLo & mask);
  res[FAST_SHIFT] = shift;
  res[FAST_PERMS] = perms;
  res[FAST_DESC_LO] = lo;
  return true;
}

/**
 * The permissions of every leaf of `cfg` under table controls `tblHi` (the stage-1 walker's
 * collected APTable/XNTable/PXNTable bits; ignored by stage 2 and Mali), indexed by the only
 * descriptor bits they depend on: `((lo >>> 6) & 3) | ((hi >>> 19) & 12)` — lo bits 7:6
 * (AP[2:1], S2AP, or Mali's write/read) and hi bits 22:21 (UXN/XN, PXN). Written into `out`
 * (16 entries) by the same functions the walkers use, so a table lookup gives exactly what
 * they compute. For a one-descriptor step that reads many leaves of one table
 * (`SetTlb.fillLeaf`).
 */
export function lpaeLeafPermTable(cfg: LpaeWalkConfig, tblHi: number, out: Int32Array): void {
  for (let i = 0; i < 16; i++) {
    const lo = (i & 3) << 6;
    const hi = ((i >>> 2) & 3) << 21;
    out[i] = cfg.regime === 'mali' ? maliPerms(lo, hi) : cfg.stage === 2 ? s2Perms((lo >>> 6) & 3, hi) : s1Perms(cfg.regime === 'v8-s1', lo, hi, tblHi | 0);
  }
}

/** Index into an `lpaeLeafPermTable` of a leaf descriptor's words. */
export function lpaeLeafPermIndex(lo: number, hi: number): number {
  return ((lo >>> 6) & 3) | ((hi >>> 19) & 12);
}

function attrByte(cfg: LpaeWalkConfig, idx: number): number {
  return idx < 4 ? (cfg.mairLo >>> (idx * 8)) & 0xff : (cfg.mairHi >>> ((idx - 4) * 8)) & 0xff;
}

/**
 * Stage-1 permissions from AP[2:1], UXN/PXN (or XN/PXN for VMSAv7) and table controls.
 * Computed with bit operations only (each condition is a 0/1 bit): it runs on every walk.
 */
function s1Perms(v8: boolean, lo: number, hi: number, tblHi: number): number {
  const ro = ((lo >>> 7) | (tblHi >>> 30)) & 1; // AP[2], or APTable[1]: no write access below
  const user = (lo >>> 6) & ~(tblHi >>> 29) & 1; // AP[1], unless APTable[0]: no unprivileged access
  const xn = ((hi >>> 22) | (tblHi >>> 28)) & 1; // UXN/XN (+ UXNTable/XNTable)
  const pxn = ((hi >>> 21) | (tblHi >>> 27)) & 1; // PXN (+ PXNTable)
  const userWritable = user & (ro ^ 1);
  // PERM_PRIV_R | PERM_PRIV_W (1 << 1) | PERM_USER_R (1 << 3) | PERM_USER_W (1 << 4)
  let p = PERM_PRIV_R | ((ro ^ 1) << 1) | (user << 3) | (userWritable << 4);
  if (v8) {
    // AArch64: UXN alone controls unprivileged fetches (AP[1] = 0 with UXN = 0 is
    // execute-only memory), and memory writable at EL0 is never privileged-executable.
    p |= (((pxn | userWritable) ^ 1) << 2) | ((xn ^ 1) << 5);
  } else {
    // VMSAv7: a fetch needs read permission at that privilege; XN applies to both.
    p |= (((pxn | xn) ^ 1) << 2) | ((xn ^ 1) & user) << 5;
  }
  return p;
}

/** Stage-2 permissions: S2AP[0] read, S2AP[1] write, XN[1] (bit 54) execute-never. */
function s2Perms(s2ap: number, hi: number): number {
  let p = 0;
  if (s2ap & 1) p |= PERM_PRIV_R | PERM_USER_R;
  if (s2ap & 2) p |= PERM_PRIV_W | PERM_USER_W;
  if ((hi & (1 << 22)) === 0) p |= PERM_PRIV_X | PERM_USER_X;
  return p;
}

/** Mali: bit 6 read, bit 7 write, bit 54 execute-never; no privilege distinction. */
function maliPerms(lo: number, hi: number): number {
  let p = 0;
  if (lo & 0x40) p |= PERM_PRIV_R | PERM_USER_R;
  if (lo & 0x80) p |= PERM_PRIV_W | PERM_USER_W;
  if ((hi & (1 << 22)) === 0 && (lo & 0x40) !== 0) p |= PERM_PRIV_X | PERM_USER_X;
  return p;
}

/**
 * Translates `va` (a number; a negative number stands for the sign-extended 64-bit value, e.g.
 * −0x1000 is 0xffff_ffff_ffff_f000 for TTBR1; or a bigint) through a long-descriptor config.
 */
export function walkLpae(mem: PhysMem, cfg: LpaeWalkConfig, va: number | bigint, access: WalkAccess, out: WalkResult): boolean {
  if (typeof va === 'bigint') {
    const v = BigInt.asUintN(64, va);
    return walkLpaeParts(mem, cfg, Number(v >> 32n), Number(v & 0xffffffffn), access, out);
  }
  const hi = Math.floor(va / TWO32);
  return walkLpaeParts(mem, cfg, hi >>> 0, (va - hi * TWO32) >>> 0, access, out);
}
