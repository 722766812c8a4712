/**
 * VMSAv7 short-descriptor translation table walker, written from the ARM architecture:
 * TTBR0/TTBR1 split by TTBCR.N (with PD0/PD1), first-level sections (1 MiB), supersections
 * (16 MiB, 40-bit PA through the extended base fields), second-level large (64 KiB) and
 * small (4 KiB) pages; TEX/C/B memory types directly or through TEX remap (PRRR/NMRR, the
 * SCTLR.TRE mode IOMMUs use); AP[2:0] either as the full encoding or, with SCTLR.AFE, as the
 * simplified model where AP[0] is the access flag; XN, PXN, NS, nG, domains (DACR).
 *
 * MediaTek extension (M4U, io-pgtable's ARM_MTK_EXT): PA bits 32/33/34 live in descriptor bits
 * 9/4/5 of leaves (and of table descriptors with the TTBR extension); those bits overlap AP and
 * XN, so the M4U does not check permissions or the access flag at all (NO_PERMS). The input
 * range may then be 34 bits (a 64 KiB first-level table with 16384 entries).
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
  SH_INNER,
  SH_NON,
  SH_OUTER,
  permits,
  resetWalkResult,
  setFault,
} from './types.js';

export interface V7sParams {
  /** PA of the TTBR0 first-level table (not the TTBR register value; see v7sConfigFromRegisters). */
  ttbr0: number;
  /** PA of the TTBR1 first-level table (only used when N > 0). */
  ttbr1?: number;
  /** TTBCR.N (0..7): VAs below 2^(32−N) use TTBR0. */
  n?: number;
  /** TTBCR.PD0 / PD1: walks through that TTBR fault. */
  pd0?: boolean;
  pd1?: boolean;
  /** SCTLR.AFE: AP[0] is an access flag, AP[2:1] the simplified permissions. Default true. */
  afe?: boolean;
  /** SCTLR.TRE: TEX[0]:C:B index PRRR/NMRR. Default true. */
  tre?: boolean;
  prrr?: number;
  nmrr?: number;
  /** Hardware access-flag management: a clear AF is set instead of faulting. */
  ha?: boolean;
  /** DACR; default 0x55555555 (every domain "client": permissions are checked). */
  dacr?: number;
  /** Input address bits: 32 (default), up to 34 with the MediaTek extension. */
  ias?: number;
  /** Output address bits: default 40 (supersections reach 40 bits), 35 with MediaTek. */
  oaBits?: number;
  /** MediaTek: leaf PA bits 32/33/34 in descriptor bits 9/4/5; implies noPerms. */
  mtkExt?: boolean;
  /** MediaTek: table descriptors carry PA bits 32/33/34 the same way. */
  mtkTtbrExt?: boolean;
  /** Do not check AP/XN/AF (the MediaTek M4U ignores them). */
  noPerms?: boolean;
}

export interface V7sWalkConfig {
  readonly kind: 'v7s';
  readonly ttbr0: number;
  readonly ttbr1: number;
  readonly n: number;
  readonly pd0: boolean;
  readonly pd1: boolean;
  readonly afe: boolean;
  readonly tre: boolean;
  readonly prrr: number;
  readonly nmrr: number;
  readonly ha: boolean;
  readonly dacr: number;
  readonly ias: number;
  readonly oaBits: number;
  readonly mtkExt: boolean;
  readonly mtkTtbrExt: boolean;
  readonly noPerms: boolean;
  readonly configError: string | null;
  /** Precomputed 2^ias, 2^(32−N) (the TTBR0 range end) and 2^oaBits. */
  readonly vaLimit: number;
  readonly ttbr0Limit: number;
  readonly oaLimit: number;
}

const TWO32 = 2 ** 32;

function checkField(name: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`${name}=${v} is outside ${min}..${max}`);
}

export function v7sConfig(p: V7sParams): V7sWalkConfig {
  const n = p.n ?? 0;
  const ias = p.ias ?? 32;
  const mtk = !!p.mtkExt;
  checkField('N', n, 0, 7);
  checkField('ias', ias, 21, 34);
  const oaBits = p.oaBits ?? (mtk ? 35 : 40);
  checkField('oaBits', oaBits, 20, 40);
  for (const [k, v] of [['TTBR0', p.ttbr0], ['TTBR1', p.ttbr1 ?? 0]] as const)
    if (!Number.isSafeInteger(v) || v < 0 || v >= 2 ** 40) throw new RangeError(`${k}=${v} is not a physical address`);
  let error: string | null = null;
  if (ias > 32 && !mtk) error = 'input addresses above 32 bits need the MediaTek extension';
  else if (ias > 32 && n !== 0) error = 'TTBCR.N must be 0 with a 34-bit input range';
  return {
    kind: 'v7s',
    ttbr0: p.ttbr0,
    ttbr1: p.ttbr1 ?? 0,
    n,
    pd0: !!p.pd0,
    pd1: !!p.pd1 || (n > 0 && p.ttbr1 === undefined),
    afe: p.afe ?? true,
    tre: p.tre ?? true,
    prrr: (p.prrr ?? 0) >>> 0,
    nmrr: (p.nmrr ?? 0) >>> 0,
    ha: !!p.ha,
    dacr: (p.dacr ?? 0x55555555) >>> 0,
    ias,
    oaBits,
    mtkExt: mtk,
    mtkTtbrExt: mtk && !!p.mtkTtbrExt,
    noPerms: mtk || !!p.noPerms,
    configError: error,
    vaLimit: 2 ** ias,
    ttbr0Limit: n === 0 ? 2 ** ias : 2 ** (32 - n),
    oaLimit: 2 ** oaBits,
  };
}

/**
 * First-level table PA from a TTBR register value: bits [31:14−N] (the low bits are walk
 * attributes). With the MediaTek extension the register carries PA[34:32] in bits [2:0].
 */
export function v7sTtbrBase(ttbr: number, n: number, mtk: boolean): number {
  const lowBits = Math.max(7, 14 - n);
  const base = (ttbr - (ttbr % 2 ** lowBits)) % TWO32;
  return mtk ? base + (ttbr & 7) * TWO32 : base;
}

/** Builds a config from register values (TTBCR: N [2:0], PD0 bit 4, PD1 bit 5). */
export function v7sConfigFromRegisters(
  r: { ttbr0: number; ttbr1?: number; ttbcr: number; prrr: number; nmrr: number; dacr?: number; sctlrAfe?: boolean; sctlrTre?: boolean },
  opts: Pick<V7sParams, 'ias' | 'oaBits' | 'mtkExt' | 'mtkTtbrExt' | 'noPerms' | 'ha'> = {},
): V7sWalkConfig {
  const n = r.ttbcr & 7;
  const mtk = !!opts.mtkExt;
  return v7sConfig({
    ...opts,
    ttbr0: v7sTtbrBase(r.ttbr0, n, mtk),
    ttbr1: r.ttbr1 === undefined ? undefined : v7sTtbrBase(r.ttbr1, 0, mtk),
    n,
    pd0: (r.ttbcr & 0x10) !== 0,
    pd1: (r.ttbcr & 0x20) !== 0,
    prrr: r.prrr,
    nmrr: r.nmrr,
    dacr: r.dacr,
    afe: r.sctlrAfe ?? true,
    tre: r.sctlrTre ?? true,
  });
}

/** MediaTek PA bits 32/33/34 from descriptor bits 9/4/5, as an addend. */
export function v7sMtkHigh(d: number): number {
  return ((d >>> 9) & 1) * 2 ** 32 + ((d >>> 4) & 1) * 2 ** 33 + ((d >>> 5) & 1) * 2 ** 34;
}

/** Second-level table PA of a first-level table descriptor. */
export function v7sTableAddr(cfg: V7sWalkConfig, d: number): number {
  const base = (d & 0xfffffc00) >>> 0;
  return cfg.mtkTtbrExt ? base + v7sMtkHigh(d) : base;
}

/** Cache policy code (00 NC, 01 WBWA, 10 WT, 11 WB no-WA) as a MAIR nibble. */
function policyNibble(x: number): number {
  return x === 0 ? 0x4 : x === 1 ? 0xf : x === 2 ? 0xa : 0xe;
}

/**
 * Memory type of TEX/C/B/S: fills out.memAttr (MAIR-style byte), out.sh and out.attrIndx.
 * With TEX remap the index TEX[0]:C:B selects PRRR.TRn and NMRR.IRn/ORn.
 */
export function v7sMemType(cfg: V7sWalkConfig, tex: number, c: number, b: number, s: boolean, out: WalkResult): void {
  if (cfg.tre) {
    const idx = ((tex & 1) << 2) | (c << 1) | b;
    out.attrIndx = idx;
    const tr = (cfg.prrr >>> (2 * idx)) & 3;
    if (tr === 2) {
      const ir = (cfg.nmrr >>> (2 * idx)) & 3;
      const or = (cfg.nmrr >>> (16 + 2 * idx)) & 3;
      out.memAttr = (policyNibble(or) << 4) | policyNibble(ir);
      const shareable = (cfg.prrr >>> (s ? 19 : 18)) & 1;
      out.sh = shareable ? ((cfg.prrr >>> (24 + idx)) & 1 ? SH_INNER : SH_OUTER) : SH_NON;
    } else {
      // 00 strongly-ordered, 01 device (11 is reserved: treated as strongly-ordered).
      out.memAttr = tr === 1 ? 0x04 : 0x00;
      out.sh = SH_OUTER;
    }
    return;
  }
  out.attrIndx = (tex << 2) | (c << 1) | b;
  const cb = (c << 1) | b;
  if (tex & 4) {
    out.memAttr = (policyNibble(tex & 3) << 4) | policyNibble(cb);
    out.sh = s ? SH_OUTER : SH_NON;
  } else if (tex === 0) {
    if (cb === 0) out.memAttr = 0x00;
    else if (cb === 1) out.memAttr = 0x04;
    else out.memAttr = cb === 2 ? 0xaa : 0xee;
    out.sh = cb < 2 ? SH_OUTER : s ? SH_OUTER : SH_NON;
  } else if (tex === 1 && (cb === 0 || cb === 3)) {
    out.memAttr = cb === 0 ? 0x44 : 0xff;
    out.sh = s ? SH_OUTER : SH_NON;
  } else {
    // TEX=010 CB=00 is non-shareable device; other combinations are reserved (treated so too).
    out.memAttr = 0x04;
    out.sh = SH_NON;
  }
}

/** Permissions from AP[2:0] (full or AFE-simplified encoding), XN and PXN. */
export function v7sPerms(afe: boolean, ap: number, xn: boolean, pxn: boolean): number {
  let p: number;
  if (afe) {
    const ro = (ap & 4) !== 0;
    const user = (ap & 2) !== 0;
    p = PERM_PRIV_R | (ro ? 0 : PERM_PRIV_W);
    if (user) p |= PERM_USER_R | (ro ? 0 : PERM_USER_W);
  } else {
    switch (ap) {
      case 1: p = PERM_PRIV_R | PERM_PRIV_W; break;
      case 2: p = PERM_PRIV_R | PERM_PRIV_W | PERM_USER_R; break;
      case 3: p = PERM_PRIV_R | PERM_PRIV_W | PERM_USER_R | PERM_USER_W; break;
      case 5: p = PERM_PRIV_R; break;
      case 6:
      case 7: p = PERM_PRIV_R | PERM_USER_R; break;
      default: p = 0; // 000 no access, 100 reserved
    }
  }
  if (!xn && !pxn && p & PERM_PRIV_R) p |= PERM_PRIV_X;
  if (!xn && p & PERM_USER_R) p |= PERM_USER_X;
  return p;
}

/**
 * Reads the descriptor at table address `addrHi:addrLo` (int32 halves; an IPA with `tables`)
 * into `out.descLo` (and its PA into `out.descAddr`); false with the fault recorded. The
 * address goes in as int32 halves and the word comes back in `out`: as a double argument or a
 * u32 result above 2^31 of a call V8 does not inline, either would be a heap number per walk.
 */
function readWord(mem: PhysMem, addrHi: number, addrLo: number, level: number, out: WalkResult, tables: WalkTableTranslator | undefined): boolean {
  let hi = addrHi;
  let lo = addrLo;
  if (tables !== undefined) {
    if (!tables.tableAddress(addrHi, addrLo, level)) {
      out.descAddr = (addrHi >>> 0) * TWO32 + (addrLo >>> 0);
      setFault(out, 'translation', level);
      return false;
    }
    hi = tables.paHi | 0;
    lo = tables.paLo | 0;
  }
  const pa = (hi >>> 0) * TWO32 + (lo >>> 0);
  out.descAddr = pa;
  let chunk: Uint32Array;
  try {
    chunk = mem.peekChunkParts(hi, lo);
  } catch (e) {
    if (e instanceof BusError) {
      setFault(out, 'external', level);
      return false;
    }
    throw e;
  }
  out.descLo = chunk[PhysMem.wordIndex(pa)]!;
  return true;
}

/**
 * Translates a 32-bit (34-bit with MediaTek) input address through a short-descriptor config.
 * Fills `out`; returns true on success. Allocation-free. With `tables` (nested translation)
 * the table addresses are IPAs that `tables` maps to PAs before each read.
 */
export function walkV7s(mem: PhysMem, cfg: V7sWalkConfig, va: number, access: WalkAccess, out: WalkResult, tables?: WalkTableTranslator): boolean {
  resetWalkResult(out);
  out.level = 1;
  if (cfg.configError !== null || !(va >= 0 && va < cfg.vaLimit)) return setFault(out, 'translation', 1);
  const mb = Math.floor(va / 0x100000);
  // Only input bits [23:0] matter below level 1; ToUint32 keeps them exactly.
  const vaLo = va >>> 0;
  let base: number;
  if (va < cfg.ttbr0Limit) {
    if (cfg.pd0) return setFault(out, 'translation', 1);
    base = cfg.ttbr0;
    out.ttbr = 0;
  } else {
    if (cfg.pd1) return setFault(out, 'translation', 1);
    base = cfg.ttbr1;
    out.ttbr = 1;
  }
  const a1 = base + mb * 4;
  const a1Hi = Math.floor(a1 / TWO32);
  if (!readWord(mem, a1Hi | 0, (a1 - a1Hi * TWO32) | 0, 1, out, tables)) return false;
  const d1 = out.descLo >>> 0;
  const t1 = d1 & 3;
  if (t1 === 0) return setFault(out, 'translation', 1);

  let level: number;
  let oaBase: number;
  let size: number;
  let d: number;
  let tex: number;
  let xn: boolean;
  let pxn: boolean;
  let ap: number;
  let s: boolean;
  let domain: number;
  let ns: boolean;
  if (t1 === 1) {
    level = 2;
    pxn = (d1 & 4) !== 0;
    ns = (d1 & 8) !== 0;
    domain = (d1 >>> 5) & 15;
    // (The common table address computed here: a call returning it would box it above 2^31.)
    const l2 = cfg.mtkTtbrExt ? v7sTableAddr(cfg, d1 | 0) : (d1 & 0xfffffc00) >>> 0;
    const a2 = l2 + ((vaLo >>> 12) & 0xff) * 4;
    const a2Hi = Math.floor(a2 / TWO32);
    if (!readWord(mem, a2Hi | 0, (a2 - a2Hi * TWO32) | 0, 2, out, tables)) return false;
    d = out.descLo >>> 0;
    out.descHi = 0;
    const t2 = d & 3;
    if (t2 === 0) return setFault(out, 'translation', 2);
    if (t2 === 1) {
      size = 0x10000;
      oaBase = (d & 0xffff0000) >>> 0;
      tex = (d >>> 12) & 7;
      xn = (d & 0x8000) !== 0;
      out.contiguous = true;
    } else {
      size = 0x1000;
      oaBase = (d & 0xfffff000) >>> 0;
      tex = (d >>> 6) & 7;
      xn = (d & 1) !== 0;
    }
    ap = ((d >>> 4) & 3) | (((d >>> 9) & 1) << 2);
    s = (d & 0x400) !== 0;
    out.nG = (d & 0x800) !== 0;
    if (cfg.mtkExt) oaBase += v7sMtkHigh(d);
  } else {
    level = 1;
    d = d1;
    pxn = (d & 1) !== 0;
    xn = (d & 0x10) !== 0;
    tex = (d >>> 12) & 7;
    ap = ((d >>> 10) & 3) | (((d >>> 15) & 1) << 2);
    s = (d & 0x10000) !== 0;
    ns = (d & 0x80000) !== 0;
    out.nG = (d & 0x20000) !== 0;
    if (d & 0x40000) {
      size = 0x1000000;
      domain = 0;
      oaBase = (d & 0xff000000) >>> 0;
      out.contiguous = true;
      if (cfg.mtkExt) oaBase += v7sMtkHigh(d);
      else oaBase += ((d >>> 20) & 15) * 2 ** 32 + ((d >>> 5) & 15) * 2 ** 36;
    } else {
      size = 0x100000;
      domain = (d >>> 5) & 15;
      oaBase = (d & 0xfff00000) >>> 0;
      if (cfg.mtkExt) oaBase += v7sMtkHigh(d);
    }
  }
  out.level = level;
  out.ns = ns;
  if (oaBase >= cfg.oaLimit) return setFault(out, 'address-size', level);
  v7sMemType(cfg, tex, (d >>> 3) & 1, (d >>> 2) & 1, s, out);

  let perms = PERM_ALL;
  let newD = d;
  if (!cfg.noPerms) {
    if (cfg.afe) {
      out.af = (ap & 1) !== 0;
      if (!out.af) {
        if (!cfg.ha) return setFault(out, 'access-flag', level);
        newD = d | (level === 1 ? 0x400 : 0x10);
      }
    } else {
      out.af = true;
    }
    const dv = cfg.mtkExt ? 1 : (cfg.dacr >>> (2 * domain)) & 3;
    if (dv === 0 || dv === 2) return setFault(out, 'domain', level);
    if (dv === 1) {
      perms = v7sPerms(cfg.afe, ap, xn, pxn);
      if (!permits(perms, access)) {
        out.perms = perms;
        return setFault(out, 'permission', level);
      }
    }
  } else {
    out.af = true;
  }
  if (newD !== d) {
    mem.write32(out.descAddr, newD >>> 0);
    out.updated = true;
  }
  out.perms = perms;
  out.size = size;
  out.oa = oaBase + (vaLo & (size - 1));
  return true;
}
