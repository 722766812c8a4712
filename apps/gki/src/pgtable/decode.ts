import type { IoPgtableCfg, IoPgtableFmt } from '@gki/io-pgtable-core';

/**
 * Minimal descriptor decoding for `gki pgtable dump`: the table geometry of a configured
 * format and a one-line description of a descriptor. Written from the architecture's bit
 * layouts (see the project's iopgtable-facts.md); not used on any hot path, so 64-bit
 * descriptors are BigInt here.
 */

export interface DumpGeometry {
  /** 'lpae' for the five LPAE formats, 'v7s' for ARM_V7S. */
  kind: 'lpae' | 'v7s';
  fmt: IoPgtableFmt;
  /** Bytes per descriptor. */
  descBytes: 4 | 8;
  granuleShift: number;
  /** The level the walk starts at (kernel numbering). */
  startLevel: number;
  /** log2 of the span one entry of `level` maps. */
  shift(level: number): number;
  /** Number of index bits at `level`. */
  indexBits(level: number): number;
  /** PA of the top-level table, from the registers the format filled. */
  topTable: number;
}

function lowestPageShift(bitmap: number): number {
  for (const s of [12, 14, 16]) if (Math.floor(bitmap / 2 ** s) % 2 === 1) return s;
  return 12;
}

/** The geometry of a live table, from its format and the cfg the format completed. */
export function dumpGeometry(fmt: IoPgtableFmt, cfg: IoPgtableCfg, minLeafLevel: number): DumpGeometry {
  if (fmt === 'ARM_V7S') {
    const ttbr = cfg.armV7sCfg?.ttbr ?? 0;
    return {
      kind: 'v7s',
      fmt,
      descBytes: 4,
      granuleShift: 12,
      startLevel: 1,
      shift: (l) => (l === 1 ? 20 : 12),
      indexBits: (l) => (l === 1 ? Math.max(cfg.ias - 20, 0) : 8),
      topTable: Math.floor((ttbr >>> 0) / 128) * 128,
    };
  }
  const g = lowestPageShift(cfg.pgsizeBitmap);
  const bpl = g - 3;
  const shift = (l: number) => (4 - l) * bpl + 3;
  let start = 4 - Math.ceil((cfg.ias - g) / bpl);
  let top = 0n;
  if (cfg.armLpaeS1Cfg) top = cfg.armLpaeS1Cfg.ttbr;
  else if (cfg.armLpaeS2Cfg) {
    top = cfg.armLpaeS2Cfg.vttbr;
    // VTCR.SL0 names the start level: for 4K granules 0/1/2 mean level 2/1/0, else 0/1/2 mean 3/2/1
    const sl = cfg.armLpaeS2Cfg.vtcr.sl;
    start = g === 12 ? 2 - sl : 3 - sl;
  } else if (cfg.armMaliLpaeCfg) top = cfg.armMaliLpaeCfg.transtab & ~0x1fn;
  start = Math.max(0, Math.min(start, minLeafLevel));
  const s = start;
  return {
    kind: 'lpae',
    fmt,
    descBytes: 8,
    granuleShift: g,
    startLevel: s,
    shift,
    indexBits: (l) => (l === s ? Math.max(cfg.ias - shift(l), 0) : bpl),
    topTable: Number(top & 0xf_ffff_ffff_ffffn),
  };
}

/** Index of `iova` (unsigned 64-bit; TTBR1 addresses are sign-extended) at `level`. */
export function indexAt(geo: DumpGeometry, iova: bigint, level: number): number {
  return Number((iova >> BigInt(geo.shift(level))) & ((1n << BigInt(geo.indexBits(level))) - 1n));
}

/** Whether a descriptor read at a non-leaf level points to a next-level table. */
export function isTableDesc(geo: DumpGeometry, d: bigint, level: number): boolean {
  if (geo.kind === 'v7s') return level === 1 && (d & 3n) === 1n;
  return level < 3 && (d & 3n) === 3n;
}

/** The PA of the next-level table a table descriptor points to. */
export function nextTable(geo: DumpGeometry, d: bigint): number {
  if (geo.kind === 'v7s') return Number(d & 0xffff_fc00n);
  let pa = d & 0xffff_ffff_f000n & ~(2n ** BigInt(geo.granuleShift) - 1n);
  // 64K granule with a 52-bit PA: descriptor bits 15:12 carry PA bits 51:48
  if (geo.granuleShift === 16) pa |= ((d >> 12n) & 0xfn) << 48n;
  return Number(pa);
}

function bit(d: bigint, n: number): boolean {
  return ((d >> BigInt(n)) & 1n) === 1n;
}
function field(d: bigint, lo: number, width: number): number {
  return Number((d >> BigInt(lo)) & ((1n << BigInt(width)) - 1n));
}
function hexn(n: number | bigint): string {
  return '0x' + n.toString(16);
}

const S1_AP = ['rw/priv', 'rw/any', 'ro/priv', 'ro/any'];
const S2_AP = ['none', 'r', 'w', 'rw'];

/** Output address of an LPAE leaf at `level`. */
function lpaeOa(geo: DumpGeometry, d: bigint, level: number): bigint {
  const span = BigInt(geo.shift(level));
  let pa = d & 0xffff_ffff_f000n & ~((1n << span) - 1n);
  if (geo.granuleShift === 16) pa |= ((d >> 12n) & 0xfn) << 48n;
  return pa;
}

/** A one-line decode of a table or leaf descriptor. */
export function describeDesc(geo: DumpGeometry, d: bigint, level: number, leaf: boolean): string {
  if (!leaf) return `table -> ${hexn(nextTable(geo, d))}${geo.kind === 'lpae' && bit(d, 63) ? ' NSTable' : ''}`;
  if (geo.kind === 'v7s') return describeV7s(d, level);
  const parts: string[] = [level === 3 ? 'page' : 'block', `oa ${hexn(lpaeOa(geo, d, level))}`];
  if (geo.fmt === 'ARM_MALI_LPAE') {
    parts.push(`AttrIndx ${field(d, 2, 3)}`, `${bit(d, 6) ? 'r' : '-'}${bit(d, 7) ? 'w' : '-'}`);
  } else if (geo.fmt === 'ARM_64_LPAE_S2' || geo.fmt === 'ARM_32_LPAE_S2') {
    parts.push(`MemAttr ${hexn(field(d, 2, 4))}`, `S2AP ${S2_AP[field(d, 6, 2)]}`);
  } else {
    parts.push(`AttrIndx ${field(d, 2, 3)}`, `AP ${S1_AP[field(d, 6, 2)]}`);
    if (bit(d, 5)) parts.push('NS');
    if (bit(d, 11)) parts.push('nG');
  }
  parts.push(`SH ${field(d, 8, 2)}`);
  if (bit(d, 10)) parts.push('AF');
  if (bit(d, 51)) parts.push('DBM');
  if (bit(d, 52)) parts.push('Cont');
  if (bit(d, 53)) parts.push('PXN');
  if (bit(d, 54)) parts.push('XN');
  return parts.join(' ');
}

function describeV7s(d: bigint, level: number): string {
  const v = Number(d & 0xffff_ffffn);
  const parts: string[] = [];
  if (level === 1) {
    const supersection = bit(d, 18);
    parts.push(supersection ? 'supersection' : 'section', `oa ${hexn((supersection ? v & 0xff00_0000 : v & 0xfff0_0000) >>> 0)}`);
    parts.push(`TEX ${field(d, 12, 3)} C ${field(d, 3, 1)} B ${field(d, 2, 1)}`, `AP[2:0] ${(field(d, 15, 1) * 4 + field(d, 10, 2)).toString(2).padStart(3, '0')}`);
    if (bit(d, 4)) parts.push('XN');
    if (bit(d, 16)) parts.push('S');
    if (bit(d, 17)) parts.push('nG');
    if (bit(d, 19)) parts.push('NS');
  } else {
    const large = (v & 3) === 1;
    parts.push(large ? 'large page' : 'small page', `oa ${hexn((large ? v & 0xffff_0000 : v & 0xffff_f000) >>> 0)}`);
    parts.push(`TEX ${large ? field(d, 12, 3) : field(d, 6, 3)} C ${field(d, 3, 1)} B ${field(d, 2, 1)}`, `AP[2:0] ${(field(d, 9, 1) * 4 + field(d, 4, 2)).toString(2).padStart(3, '0')}`);
    if (large ? bit(d, 15) : bit(d, 0)) parts.push('XN');
    if (bit(d, 10)) parts.push('S');
    if (bit(d, 11)) parts.push('nG');
  }
  return parts.join(' ');
}
