/**
 * Inspection of translation tables (not a hot path): a decoded tree for dumps, text lines for
 * the CLI's `gki pgtable dump`, and the list of valid leaf slots in input-address order for
 * cross-checking a page-table format against the hardware's view of its tables.
 */
import { BusError, PhysMem } from '../mem.js';
import type { LpaeTableRange, LpaeWalkConfig } from './lpae.js';
import { lpaeBlockAllowed, lpaeDescOa, lpaeLevelShift, s2MemAttrToMair } from './lpae.js';
import type { V7sWalkConfig } from './v7s.js';
import { v7sMtkHigh, v7sTableAddr } from './v7s.js';

export type WalkConfig = LpaeWalkConfig | V7sWalkConfig;

export type TableEntryType =
  | 'table'
  | 'block'
  | 'page'
  | 'section'
  | 'supersection'
  | 'large-page'
  | 'small-page'
  | 'invalid';

export interface TableNode {
  level: number;
  index: number;
  /** First and last input address the entry covers (64-bit; sign-extended for TTBR1). */
  vaStart: bigint;
  vaEnd: bigint;
  descAddr: number;
  desc: bigint;
  /** Descriptor as fixed-width hex (16 digits for LPAE, 8 for v7s). */
  hex: string;
  type: TableEntryType;
  /**
   * Decoded fields by their architectural names: one-bit flags as booleans (AF, nG, NS, PXN,
   * UXN/XN, DBM, Contiguous, NSTable, ...), multi-bit fields as numbers (AttrIndx, AP, SH, S2AP,
   * MemAttr, APTable, TEX, Domain, stage-2/Mali XN), addresses and attribute bytes as hex strings.
   */
  fields: Record<string, number | boolean | string>;
  /** Leaf: output address of the first byte; table: the next-level table PA; invalid: null. */
  oa: number | null;
  children?: TableNode[];
  /** Why a subtree could not be read (external abort on the next-level table), or why invalid. */
  error?: string;
}

export interface TableRoot {
  name: string;
  base: number;
  level: number;
  /** Number of entries at the root (all concatenated tables together). */
  entries: number;
  nodes: TableNode[];
  /** Why the root table could not be read. */
  error?: string;
}

export interface TableTree {
  kind: 'lpae' | 'v7s';
  regime: string;
  roots: TableRoot[];
}

/** A valid leaf slot: one descriptor (a v7s large page / supersection is 16 slots). */
export interface LeafInfo {
  /** Level as the kernel numbers it (LPAE 0..3, v7s 1..2). */
  level: number;
  /** First input address of the slot; for the TTBR1 range the sign-extended value as a negative number. */
  va: number;
  /** The same address as an unsigned 64-bit value (as the vectors spell `iova`). */
  va64: bigint;
  /** Span of the slot. */
  size: number;
  pte: bigint;
  /** Output address of the slot's first byte (what the hardware translates `va` to). */
  pa: number;
  /** Span of the whole mapping: `size`, or 16× it for v7s contiguous entries. */
  mappingSize: number;
}

export interface InspectOptions {
  /** Stop (throw RangeError) after visiting this many tables; guards against looping tables. */
  maxTables?: number;
}

const TWO64 = 1n << 64n;

function hexN(v: bigint, digits: number): string {
  return '0x' + v.toString(16).padStart(digits, '0');
}

function h(n: number): string {
  return '0x' + n.toString(16);
}

// ---------------------------------------------------------------------------------------------
// Traversal

interface Visit {
  level: number;
  index: number;
  va: bigint;
  size: number;
  descAddr: number;
  lo: number;
  hi: number;
  type: TableEntryType;
  /** Leaf OA of the slot start, next table PA for tables. */
  oa: number;
  reason?: string;
}

type Visitor = {
  /** Called for every non-zero entry; return true to descend into a table. */
  entry(v: Visit): boolean;
  /** After a table's entries (for tree building). */
  leave?(): void;
  /** A table could not be read. */
  error?(level: number, addr: number, message: string): void;
};

function read(mem: PhysMem, pa: number, words: number, out: Uint32Array): boolean {
  try {
    const c = mem.peekChunk(pa);
    const i = PhysMem.wordIndex(pa);
    for (let k = 0; k < words; k++) out[k] = c[i + k]!;
    return true;
  } catch (e) {
    if (e instanceof BusError) return false;
    throw e;
  }
}

function classifyLpae(cfg: LpaeWalkConfig, r: LpaeTableRange, level: number, lo: number, hi: number): { type: TableEntryType; oa: number; reason?: string } {
  const g = r.granuleShift;
  const t = lo & 3;
  if ((t & 1) === 0) return { type: 'invalid', oa: 0, reason: 'bit[0] clear' };
  if (t === 3 && level < 3) return { type: 'table', oa: lpaeDescOa(lo, hi, g, g, cfg.oaBits) };
  const oa = lpaeDescOa(lo, hi, lpaeLevelShift(g, level), g, cfg.oaBits);
  if (level === 3) {
    const want = cfg.regime === 'mali' ? 1 : 3;
    return t === want ? { type: 'page', oa } : { type: 'invalid', oa: 0, reason: `reserved type ${t} at level 3` };
  }
  return lpaeBlockAllowed(cfg, g, level) ? { type: 'block', oa } : { type: 'invalid', oa: 0, reason: `no block at level ${level}` };
}

function traverseLpae(mem: PhysMem, cfg: LpaeWalkConfig, v: Visitor, opts: InspectOptions, onRoot: (r: LpaeTableRange, entries: number) => void): void {
  const maxTables = opts.maxTables ?? 1 << 16;
  let tables = 0;
  const pair = new Uint32Array(2);
  // VMSAv7 TTBR1 with T1SZ = 0 indexes the whole 32-bit space; the part below vaStart is TTBR0's.
  let skipBelow = 0n;
  const rec = (r: LpaeTableRange, base: number, level: number, entries: number, vaBase: bigint, vaLimit: bigint): void => {
    if (++tables > maxTables) throw new RangeError(`more than ${maxTables} tables: looping or corrupt tables?`);
    const shift = lpaeLevelShift(r.granuleShift, level);
    const span = 1n << BigInt(shift);
    for (let i = 0; i < entries; i++) {
      const va = vaBase + BigInt(i) * span;
      if (va >= vaLimit) break;
      if (va + span <= skipBelow) continue;
      const addr = base + i * 8;
      if (!read(mem, addr, 2, pair)) {
        v.error?.(level, addr, `external abort reading ${h(addr)}`);
        return;
      }
      const lo = pair[0]!;
      const hi = pair[1]!;
      if (lo === 0 && hi === 0) continue;
      const c = classifyLpae(cfg, r, level, lo, hi);
      const visit: Visit = { level, index: i, va, size: 2 ** shift, descAddr: addr, lo, hi, type: c.type, oa: c.oa, reason: c.reason };
      if (v.entry(visit) && c.type === 'table') {
        if (c.oa >= 2 ** cfg.oaBits) v.error?.(level + 1, c.oa, `next-level table ${h(c.oa)} beyond the ${cfg.oaBits}-bit OA size`);
        else rec(r, c.oa, level + 1, 2 ** (r.granuleShift - 3), va, va + span);
        v.leave?.();
      }
    }
  };
  if (cfg.identity) return;
  for (const r of cfg.ranges) {
    if (!r.enabled || cfg.configError !== null) continue;
    const entries = 2 ** r.startBits;
    onRoot(r, entries);
    let vaBase: bigint;
    let vaLimit: bigint;
    if (cfg.regime === 'v7-s1') {
      vaBase = r.upper && r.inputBits < 32 ? BigInt(2 ** 32 - 2 ** r.inputBits) : 0n;
      vaLimit = BigInt(r.vaEnd);
    } else if (r.upper) {
      vaBase = TWO64 - (1n << BigInt(r.inputBits));
      vaLimit = TWO64;
    } else {
      vaBase = 0n;
      vaLimit = 1n << BigInt(r.inputBits);
    }
    if (r.base >= 2 ** cfg.oaBits) {
      v.error?.(r.startLevel, r.base, `table base ${h(r.base)} beyond the ${cfg.oaBits}-bit OA size`);
      continue;
    }
    skipBelow = cfg.regime === 'v7-s1' ? BigInt(r.vaStart) : 0n;
    rec(r, r.base, r.startLevel, entries, vaBase, vaLimit);
  }
}

function traverseV7s(mem: PhysMem, cfg: V7sWalkConfig, v: Visitor, opts: InspectOptions, onRoot: (name: string, base: number, entries: number) => void): void {
  const maxTables = opts.maxTables ?? 1 << 16;
  let tables = 0;
  const word = new Uint32Array(1);
  const roots: { name: string; base: number; first: number; entries: number }[] = [];
  const total = 2 ** (cfg.ias - 20);
  if (cfg.configError !== null) return;
  if (cfg.n === 0) {
    if (!cfg.pd0) roots.push({ name: 'TTBR0', base: cfg.ttbr0, first: 0, entries: total });
  } else {
    const split = 2 ** (12 - cfg.n);
    if (!cfg.pd0) roots.push({ name: 'TTBR0', base: cfg.ttbr0, first: 0, entries: split });
    if (!cfg.pd1) roots.push({ name: 'TTBR1', base: cfg.ttbr1, first: split, entries: 4096 - split });
  }
  for (const root of roots) {
    onRoot(root.name, root.base, root.entries);
    tables++;
    for (let i = root.first; i < root.first + root.entries; i++) {
      const addr = root.base + i * 4;
      if (!read(mem, addr, 1, word)) {
        v.error?.(1, addr, `external abort reading ${h(addr)}`);
        break;
      }
      const d = word[0]!;
      if (d === 0) continue;
      const va = BigInt(i) * 0x100000n;
      const t = d & 3;
      if (t === 0) {
        v.entry({ level: 1, index: i, va, size: 0x100000, descAddr: addr, lo: d, hi: 0, type: 'invalid', oa: 0, reason: 'type 00' });
        continue;
      }
      if (t !== 1) {
        const sup = (d & 0x40000) !== 0;
        let oa: number;
        if (sup) {
          oa = (d & 0xff000000) >>> 0;
          oa += cfg.mtkExt ? v7sMtkHigh(d) : ((d >>> 20) & 15) * 2 ** 32 + ((d >>> 5) & 15) * 2 ** 36;
          oa += (i % 16) * 0x100000;
        } else {
          oa = ((d & 0xfff00000) >>> 0) + (cfg.mtkExt ? v7sMtkHigh(d) : 0);
        }
        v.entry({ level: 1, index: i, va, size: 0x100000, descAddr: addr, lo: d, hi: 0, type: sup ? 'supersection' : 'section', oa });
        continue;
      }
      const l2 = v7sTableAddr(cfg, d);
      if (!v.entry({ level: 1, index: i, va, size: 0x100000, descAddr: addr, lo: d, hi: 0, type: 'table', oa: l2 })) continue;
      if (++tables > maxTables) throw new RangeError(`more than ${maxTables} tables: looping or corrupt tables?`);
      for (let j = 0; j < 256; j++) {
        const a2 = l2 + j * 4;
        if (!read(mem, a2, 1, word)) {
          v.error?.(2, a2, `external abort reading ${h(a2)}`);
          break;
        }
        const d2 = word[0]!;
        if (d2 === 0) continue;
        const va2 = va + BigInt(j) * 0x1000n;
        const t2 = d2 & 3;
        if (t2 === 0) {
          v.entry({ level: 2, index: j, va: va2, size: 0x1000, descAddr: a2, lo: d2, hi: 0, type: 'invalid', oa: 0, reason: 'type 00' });
          continue;
        }
        const large = t2 === 1;
        let oa = large ? ((d2 & 0xffff0000) >>> 0) + (j % 16) * 0x1000 : (d2 & 0xfffff000) >>> 0;
        if (cfg.mtkExt) oa += v7sMtkHigh(d2);
        v.entry({ level: 2, index: j, va: va2, size: 0x1000, descAddr: a2, lo: d2, hi: 0, type: large ? 'large-page' : 'small-page', oa });
      }
      v.leave?.();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Field decoding

const bit = (v: number, n: number): boolean => ((v >>> n) & 1) === 1;

function lpaeFields(cfg: LpaeWalkConfig, x: Visit): Record<string, number | boolean | string> {
  const { lo, hi } = x;
  const f: Record<string, number | boolean | string> = {};
  if (x.type === 'invalid') {
    f.reason = x.reason ?? 'invalid';
    return f;
  }
  if (x.type === 'table') {
    if (cfg.stage === 1 && cfg.regime !== 'mali') {
      f.NSTable = bit(hi, 31);
      f.APTable = (hi >>> 29) & 3;
      f[cfg.regime === 'v8-s1' ? 'UXNTable' : 'XNTable'] = bit(hi, 28);
      f.PXNTable = bit(hi, 27);
    }
    if (bit(hi, 23)) f.SW55 = true;
    f.next = h(x.oa);
    return f;
  }
  if (cfg.regime === 'mali') {
    f.AttrIndx = (lo >>> 2) & 7;
    f.memattr = h(attr(cfg, (lo >>> 2) & 7));
    f.RD = bit(lo, 6);
    f.WR = bit(lo, 7);
  } else if (cfg.stage === 2) {
    f.MemAttr = (lo >>> 2) & 0xf;
    f.attr = h(s2MemAttrToMair((lo >>> 2) & 0xf, cfg.fwb));
    f.S2AP = (lo >>> 6) & 3;
  } else {
    f.AttrIndx = (lo >>> 2) & 7;
    f.mair = h(attr(cfg, (lo >>> 2) & 7));
    f.NS = bit(lo, 5);
    f.AP = (lo >>> 6) & 3;
  }
  f.SH = (lo >>> 8) & 3;
  f.AF = bit(lo, 10);
  if (cfg.stage === 1 && cfg.regime !== 'mali') f.nG = bit(lo, 11);
  f.DBM = bit(hi, 19);
  f.Contiguous = bit(hi, 20);
  if (cfg.stage === 2 || cfg.regime === 'mali') f.XN = (hi >>> 21) & 3;
  else {
    f.PXN = bit(hi, 21);
    f[cfg.regime === 'v8-s1' ? 'UXN' : 'XN'] = bit(hi, 22);
  }
  f.oa = h(x.oa);
  return f;
}

function attr(cfg: LpaeWalkConfig, idx: number): number {
  return idx < 4 ? (cfg.mairLo >>> (idx * 8)) & 0xff : (cfg.mairHi >>> ((idx - 4) * 8)) & 0xff;
}

function v7sFields(cfg: V7sWalkConfig, x: Visit): Record<string, number | boolean | string> {
  const d = x.lo;
  const f: Record<string, number | boolean | string> = {};
  const mtk = (): void => {
    if (cfg.mtkExt) f.PA32_34 = ((d >>> 9) & 1) | (((d >>> 4) & 1) << 1) | (((d >>> 5) & 1) << 2);
  };
  switch (x.type) {
    case 'invalid':
      f.reason = x.reason ?? 'invalid';
      break;
    case 'table':
      f.PXN = bit(d, 2);
      f.NS = bit(d, 3);
      f.Domain = (d >>> 5) & 15;
      f.next = h(x.oa);
      if (cfg.mtkTtbrExt) mtk();
      break;
    case 'section':
    case 'supersection':
      f.PXN = bit(d, 0);
      f.B = bit(d, 2);
      f.C = bit(d, 3);
      f.XN = bit(d, 4);
      if (x.type === 'section') f.Domain = (d >>> 5) & 15;
      f.AP = ((d >>> 10) & 3) | (((d >>> 15) & 1) << 2);
      f.TEX = (d >>> 12) & 7;
      f.S = bit(d, 16);
      f.nG = bit(d, 17);
      f.NS = bit(d, 19);
      mtk();
      f.oa = h(x.oa);
      break;
    default: {
      const large = x.type === 'large-page';
      f.B = bit(d, 2);
      f.C = bit(d, 3);
      f.AP = ((d >>> 4) & 3) | (((d >>> 9) & 1) << 2);
      f.TEX = large ? (d >>> 12) & 7 : (d >>> 6) & 7;
      f.S = bit(d, 10);
      f.nG = bit(d, 11);
      f.XN = large ? bit(d, 15) : bit(d, 0);
      mtk();
      f.oa = h(x.oa);
    }
  }
  return f;
}

// ---------------------------------------------------------------------------------------------
// Public inspection API

/** Decodes every non-zero entry reachable from the config's table bases into a tree. */
export function dumpTables(mem: PhysMem, cfg: WalkConfig, opts: InspectOptions = {}): TableTree {
  const tree: TableTree = { kind: cfg.kind, regime: cfg.kind === 'v7s' ? 'v7s' : cfg.regime, roots: [] };
  // Open containers: the root, then each table node being filled.
  const stack: { nodes: TableNode[]; owner: { error?: string } }[] = [];
  const lpae = cfg.kind === 'lpae';
  const entry = (x: Visit): boolean => {
    const desc = (BigInt(x.hi) << 32n) | BigInt(x.lo);
    const node: TableNode = {
      level: x.level,
      index: x.index,
      vaStart: x.va,
      vaEnd: x.va + BigInt(x.size) - 1n,
      descAddr: x.descAddr,
      desc,
      hex: hexN(desc, lpae ? 16 : 8),
      type: x.type,
      fields: lpae ? lpaeFields(cfg, x) : v7sFields(cfg, x),
      oa: x.type === 'invalid' ? null : x.oa,
    };
    if (x.type === 'invalid' && x.reason) node.error = x.reason;
    stack[stack.length - 1]!.nodes.push(node);
    if (x.type === 'table') {
      node.children = [];
      stack.push({ nodes: node.children, owner: node });
      return true;
    }
    return false;
  };
  const visitor: Visitor = {
    entry,
    leave: () => void stack.pop(),
    error: (_level, _addr, message) => {
      const top = stack[stack.length - 1];
      if (top) top.owner.error = message;
    },
  };
  const addRoot = (name: string, base: number, level: number, entries: number): void => {
    const root: TableRoot = { name, base, level, entries, nodes: [] };
    tree.roots.push(root);
    stack.length = 0;
    stack.push({ nodes: root.nodes, owner: root });
  };
  if (cfg.kind === 'lpae') traverseLpae(mem, cfg, visitor, opts, (r, n) => addRoot(r.name, r.base, r.startLevel, n));
  else traverseV7s(mem, cfg, visitor, opts, (name, base, n) => addRoot(name, base, 1, n));
  return tree;
}

/** Formats a range boundary: sign-extended values print as 64-bit hex. */
function vaHex(v: bigint, width: number): string {
  return '0x' + v.toString(16).padStart(width, '0');
}

/** Text lines of a tree, one per entry, indented by depth (for `gki pgtable dump`). */
export function formatTableTree(tree: TableTree): string[] {
  const lines: string[] = [];
  let width = 8;
  const measure = (nodes: TableNode[]): void => {
    for (const n of nodes) {
      width = Math.max(width, n.vaEnd.toString(16).length);
      if (n.children) measure(n.children);
    }
  };
  for (const r of tree.roots) measure(r.nodes);
  const emit = (nodes: TableNode[], depth: number): void => {
    for (const n of nodes) {
      const fields = Object.entries(n.fields)
        .filter(([k, v]) => k !== 'oa' && k !== 'next' && v !== false && !(k === 'APTable' && v === 0))
        .map(([k, v]) => (v === true ? k : `${k}=${v}`))
        .join(' ');
      const target = n.type === 'table' ? ` -> ${h(n.oa!)}` : n.oa !== null ? ` oa=${h(n.oa)}` : '';
      lines.push(
        `${'  '.repeat(depth + 1)}L${n.level}[${n.index}] ${vaHex(n.vaStart, width)}-${vaHex(n.vaEnd, width)} ${n.hex} ${n.type}${target}${fields ? ' ' + fields : ''}${n.error && n.type !== 'invalid' ? ' !' + n.error : ''}`,
      );
      if (n.children) emit(n.children, depth + 1);
    }
  };
  for (const r of tree.roots) {
    lines.push(`${r.name} ${h(r.base)} (level ${r.level}, ${r.entries} entries, ${tree.regime})${r.error ? ' !' + r.error : ''}`);
    emit(r.nodes, 0);
  }
  return lines;
}

/** Every valid leaf slot in input-address order (TTBR0 range first, then TTBR1). */
export function listLeaves(mem: PhysMem, cfg: WalkConfig, opts: InspectOptions = {}): LeafInfo[] {
  const out: LeafInfo[] = [];
  const push = (x: Visit, mappingSize: number): void => {
    const neg = x.va >= 1n << 63n;
    out.push({
      level: x.level,
      va: neg ? Number(x.va - TWO64) : Number(x.va),
      va64: x.va,
      size: x.size,
      pte: (BigInt(x.hi) << 32n) | BigInt(x.lo),
      pa: x.oa,
      mappingSize,
    });
  };
  const visitor: Visitor = {
    entry: (x) => {
      if (x.type === 'table') return true;
      if (x.type === 'invalid') return false;
      push(x, x.type === 'supersection' || x.type === 'large-page' ? x.size * 16 : x.size);
      return false;
    },
  };
  if (cfg.kind === 'lpae') traverseLpae(mem, cfg, visitor, opts, () => {});
  else traverseV7s(mem, cfg, visitor, opts, () => {});
  return out;
}
