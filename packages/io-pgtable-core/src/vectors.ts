import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { errnoName } from '@gki/kernel';
import {
  IOMMU_PROT_NAMES,
  IO_PGTABLE_QUIRK_NAMES,
  iommuIotlbGatherInit,
  isIoPgtableFmt,
  type IommuFlushOps,
  type IommuIotlbGather,
  type IoPgtableCfg,
  type IoPgtableFmt,
  type IoPgtableLeaf,
  type IoPgtableOps,
  type MappedOut,
} from './types.js';

/**
 * Golden-vector replay: reads the JSONL cases recorded from the kernel's own io-pgtable code
 * (schema in the vectors' README) and replays one case against an io-pgtable implementation,
 * comparing every return value, the registers the format wrote back, the final leaves and every
 * TLB callback. Not a hot path: 64-bit values are compared as BigInt here.
 */

export interface VectorCfg {
  ias: number;
  oas: number;
  pgsize_bitmap: string;
  quirks: string[];
  coherent_walk: boolean;
}

export interface VectorMapOp {
  op: 'map';
  iova: string;
  paddr: string;
  pgsize: string;
  pgcount: number;
  prot: string[];
  ret: number;
  mapped: string;
}
export interface VectorUnmapOp {
  op: 'unmap';
  iova: string;
  pgsize: string;
  pgcount: number;
  ret: string;
}
export interface VectorIovaToPhysOp {
  op: 'iova_to_phys';
  iova: string;
  ret: string;
}
export type VectorOp = VectorMapOp | VectorUnmapOp | VectorIovaToPhysOp;

export interface VectorLeaf {
  level: number;
  iova: string;
  size: string;
  pte: string;
}

export type VectorTlbFn = 'tlb_add_page' | 'tlb_flush_walk' | 'tlb_flush_all';
export interface VectorTlb {
  after_op: number;
  fn: VectorTlbFn;
  iova?: string;
  size?: string;
  granule?: string;
}

export interface VectorCase {
  name: string;
  format: IoPgtableFmt;
  cfg: VectorCfg;
  /** What the format wrote back (hex strings); null: alloc_io_pgtable_ops must fail. */
  regs: Record<string, string> | null;
  ops: VectorOp[];
  leaves: VectorLeaf[];
  tlb: VectorTlb[];
}

/** Where a mismatch was found: an op index, or one of the whole-case comparisons. */
export type ReplayWhere = number | 'alloc' | 'regs' | 'leaves' | 'tlb' | 'check' | 'leak' | 'free';

export interface ReplayMismatch {
  case: string;
  op: ReplayWhere;
  expected: string;
  got: string;
}

export interface ReplayResult {
  case: string;
  mismatches: ReplayMismatch[];
  /** Things that matched only through a documented convention (e.g. -ENOENT vs (size_t)-ENOENT). */
  notes: string[];
  /** Number of ops run. */
  opsRun: number;
}

/** What the replay needs from its surroundings. */
export interface ReplayEnv {
  /** Allocates a table (normally allocIoPgtableOps bound to a kernel): ops or a negative errno. */
  alloc(fmt: IoPgtableFmt, cfg: IoPgtableCfg, cookie: unknown): IoPgtableOps | number;
  /** Frees it (normally freeIoPgtableOps). */
  free(ops: IoPgtableOps): void;
  /** An independent checker (e.g. a hardware table walker): one string per disagreement. */
  check?(ops: IoPgtableOps, cfg: IoPgtableCfg, fmt: IoPgtableFmt): string[];
  /** Pages in use by the page allocator, to check that nothing leaks. */
  pagesInUse?(): number;
}

export interface ReplayOptions {
  /** Stop after this op index (inclusive); leaves and TLB totals are then not compared. */
  untilOp?: number;
  /** Called with the live table after the ops ran and before it is freed (dumps, extra checks). */
  inspect?(ops: IoPgtableOps, cfg: IoPgtableCfg): void;
  /** Report at most this many TLB/leaf mismatches per case (default 8); the rest are counted. */
  maxListMismatches?: number;
}

// ---------------------------------------------------------------------------------------------
// parsing

function fail(where: string, msg: string): never {
  throw new SyntaxError(`${where}: ${msg}`);
}

function isHex(v: unknown): v is string {
  return typeof v === 'string' && /^0x[0-9a-f]+$/i.test(v);
}

function needHex(o: Record<string, unknown>, k: string, where: string): void {
  if (!isHex(o[k])) fail(where, `field '${k}' must be a hex string, got ${JSON.stringify(o[k])}`);
}

function needInt(o: Record<string, unknown>, k: string, where: string): void {
  if (!Number.isInteger(o[k])) fail(where, `field '${k}' must be an integer, got ${JSON.stringify(o[k])}`);
}

/** Checks one parsed line against the schema; throws SyntaxError naming the place. */
export function validateVectorCase(v: unknown, where = 'case'): VectorCase {
  if (!v || typeof v !== 'object') fail(where, 'not an object');
  const c = v as Record<string, unknown>;
  if (typeof c.name !== 'string') fail(where, "missing 'name'");
  where = `${where} (${c.name})`;
  if (typeof c.format !== 'string' || !isIoPgtableFmt(c.format)) fail(where, `unknown format ${JSON.stringify(c.format)}`);
  const cfg = c.cfg as Record<string, unknown> | undefined;
  if (!cfg || typeof cfg !== 'object') fail(where, "missing 'cfg'");
  needInt(cfg, 'ias', where);
  needInt(cfg, 'oas', where);
  needHex(cfg, 'pgsize_bitmap', where);
  if (!Array.isArray(cfg.quirks) || !cfg.quirks.every((q) => typeof q === 'string')) fail(where, "cfg 'quirks' must be a list of names");
  if (typeof cfg.coherent_walk !== 'boolean') fail(where, "cfg 'coherent_walk' must be a boolean");
  if (c.regs !== null) {
    if (!c.regs || typeof c.regs !== 'object') fail(where, "'regs' must be an object or null");
    for (const [k, x] of Object.entries(c.regs)) if (!isHex(x)) fail(where, `regs.${k} must be a hex string`);
  }
  if (!Array.isArray(c.ops)) fail(where, "'ops' must be a list");
  c.ops.forEach((o: Record<string, unknown>, i: number) => {
    const w = `${where} op ${i}`;
    if (!o || typeof o !== 'object') fail(w, 'not an object');
    switch (o.op) {
      case 'map':
        for (const k of ['iova', 'paddr', 'pgsize', 'mapped']) needHex(o, k, w);
        needInt(o, 'pgcount', w);
        needInt(o, 'ret', w);
        if (!Array.isArray(o.prot)) fail(w, "'prot' must be a list");
        break;
      case 'unmap':
        for (const k of ['iova', 'pgsize', 'ret']) needHex(o, k, w);
        needInt(o, 'pgcount', w);
        break;
      case 'iova_to_phys':
        for (const k of ['iova', 'ret']) needHex(o, k, w);
        break;
      default:
        fail(w, `unknown op ${JSON.stringify(o.op)}`);
    }
  });
  if (!Array.isArray(c.leaves)) fail(where, "'leaves' must be a list");
  c.leaves.forEach((l: Record<string, unknown>, i: number) => {
    const w = `${where} leaf ${i}`;
    needInt(l, 'level', w);
    for (const k of ['iova', 'size', 'pte']) needHex(l, k, w);
  });
  if (!Array.isArray(c.tlb)) fail(where, "'tlb' must be a list");
  c.tlb.forEach((t: Record<string, unknown>, i: number) => {
    const w = `${where} tlb ${i}`;
    needInt(t, 'after_op', w);
    if (t.fn !== 'tlb_add_page' && t.fn !== 'tlb_flush_walk' && t.fn !== 'tlb_flush_all') fail(w, `unknown fn ${JSON.stringify(t.fn)}`);
    if (t.fn !== 'tlb_flush_all') for (const k of ['iova', 'size', 'granule']) needHex(t, k, w);
  });
  return c as unknown as VectorCase;
}

/** Parses JSONL text (one case per non-empty line). `source` names the file in errors. */
export function parseVectorFile(text: string, source = 'vectors'): VectorCase[] {
  const out: VectorCase[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (e) {
      fail(`${source}:${i + 1}`, `bad JSON: ${(e as Error).message}`);
    }
    out.push(validateVectorCase(v, `${source}:${i + 1}`));
  }
  return out;
}

/** Reads and parses a JSONL vector file. */
export function readVectorFile(path: string): VectorCase[] {
  return parseVectorFile(readFileSync(path, 'utf8'), path);
}

/** One file of a vector folder's `manifest.json`. */
export interface VectorManifestEntry {
  file: string;
  cases: number;
  /** Cases per format (`ARM_64_LPAE_S1`, ..., `ARM_V7S`). */
  byFormat: Record<string, number>;
  sha256: string;
}

/** A vector folder's `manifest.json`: every `.jsonl` file with its case count and SHA-256. */
export interface VectorManifest {
  totalCases: number;
  files: VectorManifestEntry[];
}

/** How many cases of a manifest are in a format for which `accept` is true. */
export function manifestCaseCount(m: VectorManifest, accept: (format: string) => boolean): number {
  let n = 0;
  for (const e of m.files) for (const [f, k] of Object.entries(e.byFormat ?? {})) if (accept(f)) n += k;
  return n;
}

/** The `manifest.json` of a vector folder, or null when the folder has none. */
export function readVectorManifest(dir: string): VectorManifest | null {
  const path = join(dir, 'manifest.json');
  if (!existsSync(path)) return null;
  const m = JSON.parse(readFileSync(path, 'utf8')) as VectorManifest;
  if (!Array.isArray(m.files) || typeof m.totalCases !== 'number') fail(path, 'not a vector manifest (files, totalCases)');
  return m;
}

/**
 * Compares a vector folder with its manifest: returns one line per difference (a file missing
 * from either side, a different case count or checksum, a wrong total); empty when they agree.
 * A folder without a manifest has nothing to compare and returns `['no manifest.json']`.
 */
export function checkVectorManifest(dir: string): string[] {
  const m = readVectorManifest(dir);
  if (!m) return ['no manifest.json'];
  const out: string[] = [];
  const onDisk = readdirSync(dir).filter((f) => f.endsWith('.jsonl')).sort();
  const listed = new Set(m.files.map((e) => e.file));
  for (const f of onDisk) if (!listed.has(f)) out.push(`${f}: on disk but not in the manifest`);
  let total = 0;
  for (const e of m.files) {
    const path = join(dir, e.file);
    if (!existsSync(path)) {
      out.push(`${e.file}: in the manifest but missing`);
      continue;
    }
    const bytes = readFileSync(path);
    const sha = createHash('sha256').update(bytes).digest('hex');
    if (sha !== e.sha256) out.push(`${e.file}: sha256 ${sha}, manifest says ${e.sha256}`);
    const parsed = parseVectorFile(bytes.toString('utf8'), path);
    if (parsed.length !== e.cases) out.push(`${e.file}: ${parsed.length} cases, manifest says ${e.cases}`);
    const byFormat: Record<string, number> = {};
    for (const c of parsed) byFormat[c.format] = (byFormat[c.format] ?? 0) + 1;
    for (const f of new Set([...Object.keys(byFormat), ...Object.keys(e.byFormat ?? {})]))
      if ((byFormat[f] ?? 0) !== (e.byFormat?.[f] ?? 0))
        out.push(`${e.file}: ${byFormat[f] ?? 0} ${f} cases, manifest says ${e.byFormat?.[f] ?? 0}`);
    total += e.cases;
  }
  if (total !== m.totalCases) out.push(`totalCases ${m.totalCases}, files add up to ${total}`);
  return out;
}

// ---------------------------------------------------------------------------------------------
// values

const U64 = 1n << 64n;

/** A hex string as a number; throws if it is not exactly representable. */
export function hexToNumber(h: string): number {
  const b = BigInt(h);
  const n = Number(b);
  if (BigInt(n) !== b) throw new RangeError(`${h} does not fit a number exactly`);
  return n;
}

/** An integer number (possibly >= 2^53, e.g. a sign-extended TTBR1 IOVA) as an unsigned 64-bit BigInt. */
function u64(n: number): bigint {
  if (!Number.isFinite(n) || !Number.isInteger(n)) return -1n; // never equal to a valid value
  const b = BigInt(n);
  return b < 0n ? b + U64 : b;
}

function hex(b: bigint): string {
  return '0x' + b.toString(16);
}

function show(n: number): string {
  if (!Number.isFinite(n) || !Number.isInteger(n)) return String(n);
  return n < 0 ? `${n} (${errnoName(n)})` : hex(BigInt(n));
}

/** The quirk bits of a list of names (without the IO_PGTABLE_QUIRK_ prefix). */
export function quirksFromNames(names: readonly string[]): number {
  let q = 0;
  for (const n of names) {
    const bit = IO_PGTABLE_QUIRK_NAMES[n];
    if (bit === undefined) throw new RangeError(`unknown quirk ${n}`);
    q |= bit;
  }
  return q;
}

/** IOMMU_* prot bits from the vectors' lowercase names. */
export function protFromNames(names: readonly string[]): number {
  let p = 0;
  for (const n of names) {
    const bit = IOMMU_PROT_NAMES[n.toUpperCase()];
    if (bit === undefined) throw new RangeError(`unknown prot ${n}`);
    p |= bit;
  }
  return p;
}

/** The IoPgtableCfg a driver would pass for this case (inputs only; `tlb` left to the caller). */
export function cfgFromCase(c: VectorCase): IoPgtableCfg {
  return {
    quirks: quirksFromNames(c.cfg.quirks),
    pgsizeBitmap: hexToNumber(c.cfg.pgsize_bitmap),
    ias: c.cfg.ias,
    oas: c.cfg.oas,
    coherentWalk: c.cfg.coherent_walk,
  };
}

/** Which gather an unmap passes, from the case name (see the vectors' README). */
export function gatherModeOf(name: string): 'real' | 'null' | 'queued' {
  if (name.endsWith('_gather_null')) return 'null';
  if (name.endsWith('_gather_queued')) return 'queued';
  return 'real';
}

/** The registers a format wrote back, spelled as the vectors spell them (hex BigInt per name). */
export function regsFromCfg(fmt: IoPgtableFmt, cfg: IoPgtableCfg): Record<string, bigint> | string {
  const r: Record<string, bigint> = {
    pgsize_bitmap: BigInt(cfg.pgsizeBitmap),
    ias: BigInt(cfg.ias),
    oas: BigInt(cfg.oas),
  };
  switch (fmt) {
    case 'ARM_64_LPAE_S1':
    case 'ARM_32_LPAE_S1': {
      const s = cfg.armLpaeS1Cfg;
      if (!s) return 'armLpaeS1Cfg not filled';
      const t = s.tcr;
      Object.assign(r, {
        tcr_ips: BigInt(t.ips), tcr_tg: BigInt(t.tg), tcr_sh: BigInt(t.sh),
        tcr_orgn: BigInt(t.orgn), tcr_irgn: BigInt(t.irgn), tcr_tsz: BigInt(t.tsz), mair: BigInt(s.mair),
      });
      break;
    }
    case 'ARM_64_LPAE_S2':
    case 'ARM_32_LPAE_S2': {
      const s = cfg.armLpaeS2Cfg;
      if (!s) return 'armLpaeS2Cfg not filled';
      const t = s.vtcr;
      Object.assign(r, {
        vtcr_ps: BigInt(t.ps), vtcr_tg: BigInt(t.tg), vtcr_sh: BigInt(t.sh), vtcr_orgn: BigInt(t.orgn),
        vtcr_irgn: BigInt(t.irgn), vtcr_sl: BigInt(t.sl), vtcr_tsz: BigInt(t.tsz),
      });
      break;
    }
    case 'ARM_MALI_LPAE': {
      const s = cfg.armMaliLpaeCfg;
      if (!s) return 'armMaliLpaeCfg not filled';
      // the table address is masked off: only TRANSTAB's mode/attribute bits 4:0 are compared
      r.transtab = BigInt(s.transtab) & 0x1fn;
      r.memattr = BigInt(s.memattr);
      break;
    }
    case 'ARM_V7S': {
      const s = cfg.armV7sCfg;
      if (!s) return 'armV7sCfg not filled';
      // only TTBR's attribute bits 6:0 are compared, not the table address
      r.ttbr = BigInt(s.ttbr >>> 0) & 0x7fn;
      r.tcr = BigInt(s.tcr >>> 0);
      r.nmrr = BigInt(s.nmrr >>> 0);
      r.prrr = BigInt(s.prrr >>> 0);
      break;
    }
  }
  return r;
}

// ---------------------------------------------------------------------------------------------
// replay

interface TlbCall {
  after_op: number;
  fn: VectorTlbFn;
  iova?: bigint;
  size?: bigint;
  granule?: bigint;
}

function showTlb(t: TlbCall | undefined): string {
  if (!t) return '(none)';
  if (t.fn === 'tlb_flush_all') return `${t.fn} after op ${t.after_op}`;
  return `${t.fn}(iova ${hex(t.iova!)}, size ${hex(t.size!)}, granule ${hex(t.granule!)}) after op ${t.after_op}`;
}

function expectedTlb(t: VectorTlb): TlbCall {
  if (t.fn === 'tlb_flush_all') return { after_op: t.after_op, fn: t.fn };
  return { after_op: t.after_op, fn: t.fn, iova: BigInt(t.iova!), size: BigInt(t.size!), granule: BigInt(t.granule!) };
}

function sameTlb(a: TlbCall, b: TlbCall): boolean {
  return a.after_op === b.after_op && a.fn === b.fn && a.iova === b.iova && a.size === b.size && a.granule === b.granule;
}

function showLeaf(l: { level: number; iova: bigint; size: bigint; pte: bigint } | undefined): string {
  return l ? `level ${l.level} iova ${hex(l.iova)} size ${hex(l.size)} pte ${hex(l.pte)}` : '(none)';
}

/** An IOVA for iovaToPhys: a number when exact, else a BigInt (64-bit TTBR1 addresses). */
function iovaArg(h: string): number | bigint {
  const b = BigInt(h);
  return b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
}

function errText(e: unknown): string {
  return e instanceof Error ? `threw ${e.name}: ${e.message}` : `threw ${String(e)}`;
}

/**
 * Replays one case: allocates through `env.alloc` with a recording TLB, runs every op, compares
 * results, registers, leaves and TLB calls, runs `env.check`, frees through `env.free` and checks
 * that no page leaked. Returns the mismatches (empty when the case passes).
 */
export function replayCase(c: VectorCase, env: ReplayEnv, opts: ReplayOptions = {}): ReplayResult {
  const mm: ReplayMismatch[] = [];
  const notes: string[] = [];
  const add = (op: ReplayWhere, expected: string, got: string) => mm.push({ case: c.name, op, expected, got });
  const maxList = opts.maxListMismatches ?? 8;
  const pages0 = env.pagesInUse?.();

  const cookie = { case: c.name };
  const calls: TlbCall[] = [];
  let cur = 0;
  let badCookie = 0;
  const tlb: IommuFlushOps = {
    tlbFlushAll(ck) {
      if (ck !== cookie) badCookie++;
      calls.push({ after_op: cur, fn: 'tlb_flush_all' });
    },
    tlbFlushWalk(iova, size, granule, ck) {
      if (ck !== cookie) badCookie++;
      calls.push({ after_op: cur, fn: 'tlb_flush_walk', iova: u64(iova), size: u64(size), granule: u64(granule) });
    },
    tlbAddPage(_gather, iova, granule, ck) {
      if (ck !== cookie) badCookie++;
      calls.push({ after_op: cur, fn: 'tlb_add_page', iova: u64(iova), size: u64(granule), granule: u64(granule) });
    },
  };
  const cfg = cfgFromCase(c);
  cfg.tlb = tlb;

  let ops: IoPgtableOps | number;
  try {
    ops = env.alloc(c.format, cfg, cookie);
  } catch (e) {
    add('alloc', c.regs ? 'ops' : 'failure', errText(e));
    return { case: c.name, mismatches: mm, notes, opsRun: 0 };
  }
  if (typeof ops === 'number') {
    if (c.regs) add('alloc', 'ops', `${show(ops)}`);
    else if (ops >= 0) add('alloc', 'a negative errno', String(ops));
    if (pages0 !== undefined && env.pagesInUse!() !== pages0) add('leak', `${pages0} pages in use`, `${env.pagesInUse!()} after the failed alloc`);
    return { case: c.name, mismatches: mm, notes, opsRun: 0 };
  }
  const table = ops;
  if (!c.regs) {
    add('alloc', 'failure (regs null)', 'ops');
    try {
      env.free(table);
    } catch (e) {
      add('free', 'free', errText(e));
    }
    return { case: c.name, mismatches: mm, notes, opsRun: 0 };
  }

  // registers the format wrote back
  const regs = regsFromCfg(c.format, cfg);
  if (typeof regs === 'string') add('regs', 'format outputs', regs);
  else {
    for (const [k, v] of Object.entries(c.regs)) {
      const got = regs[k];
      if (got === undefined) add('regs', `${k}=${v}`, 'not modelled');
      else if (got !== BigInt(v)) add('regs', `${k}=${hex(BigInt(v))}`, `${k}=${hex(got)}`);
    }
  }

  const gmode = gatherModeOf(c.name);
  const out: MappedOut = { mapped: 0 };
  const last = opts.untilOp === undefined ? c.ops.length - 1 : Math.min(opts.untilOp, c.ops.length - 1);
  let errnoMatches = 0;
  let opsRun = 0;
  for (let i = 0; i <= last; i++) {
    const o = c.ops[i]!;
    cur = i;
    opsRun++;
    try {
      if (o.op === 'map') {
        out.mapped = 0;
        const ret = table.mapPages(hexToNumber(o.iova), hexToNumber(o.paddr), hexToNumber(o.pgsize), o.pgcount, protFromNames(o.prot), out);
        if (ret !== o.ret) add(i, `map ret ${show(o.ret)}`, `map ret ${show(ret)}`);
        if (u64(out.mapped) !== BigInt(o.mapped)) add(i, `mapped ${o.mapped}`, `mapped ${show(out.mapped)}`);
      } else if (o.op === 'unmap') {
        let gather: IommuIotlbGather | null = null;
        if (gmode !== 'null') {
          gather = iommuIotlbGatherInit();
          gather.queued = gmode === 'queued';
        }
        const ret = table.unmapPages(hexToNumber(o.iova), hexToNumber(o.pgsize), o.pgcount, gather);
        // a negative errno is the kernel's (size_t)-errno: compare it as 2^64 - errno
        if (u64(ret) !== BigInt(o.ret)) add(i, `unmap ret ${o.ret}`, `unmap ret ${show(ret)}`);
        else if (ret < 0) errnoMatches++;
      } else {
        const ret = table.iovaToPhys(iovaArg(o.iova));
        if (u64(ret) !== BigInt(o.ret)) add(i, `iova_to_phys ${o.ret}`, `iova_to_phys ${show(ret)}`);
      }
    } catch (e) {
      add(i, o.op, errText(e));
    }
  }
  if (errnoMatches > 0)
    notes.push(`${errnoMatches} unmap return(s) of a negative errno compared equal to the kernel's (size_t)-errno`);

  const complete = last === c.ops.length - 1;
  if (complete) {
    // leaves of the final table
    if (!table.walkLeaves) {
      if (c.leaves.length > 0) add('leaves', `${c.leaves.length} leaves`, 'ops.walkLeaves missing');
    } else {
      const got: { level: number; iova: bigint; size: bigint; pte: bigint }[] = [];
      try {
        table.walkLeaves((l: IoPgtableLeaf) => got.push({ level: l.level, iova: u64(l.iova), size: u64(l.size), pte: l.pte }));
      } catch (e) {
        add('leaves', 'a walk', errText(e));
      }
      got.sort((a, b) => (a.iova < b.iova ? -1 : a.iova > b.iova ? 1 : 0));
      const want = c.leaves.map((l) => ({ level: l.level, iova: BigInt(l.iova), size: BigInt(l.size), pte: BigInt(l.pte) }));
      let bad = 0;
      for (let j = 0; j < Math.max(got.length, want.length); j++) {
        const g = got[j];
        const w = want[j];
        if (g && w && g.level === w.level && g.iova === w.iova && g.size === w.size && g.pte === w.pte) continue;
        if (bad++ < maxList) add('leaves', `[${j}] ${showLeaf(w)}`, showLeaf(g));
      }
      if (bad > maxList) add('leaves', `${want.length} leaves`, `${got.length} leaves, ${bad} differing slots (${bad - maxList} not shown)`);
    }
  }
  if (env.check) {
    try {
      for (const s of env.check(table, cfg, c.format)) add('check', 'agreement', s);
    } catch (e) {
      add('check', 'a check', errText(e));
    }
  }
  if (opts.inspect) opts.inspect(table, cfg);

  cur = complete ? c.ops.length : last + 1;
  try {
    env.free(table);
  } catch (e) {
    add('free', 'free', errText(e));
  }
  if (complete) {
    const want = c.tlb.map(expectedTlb);
    let bad = 0;
    for (let j = 0; j < Math.max(calls.length, want.length); j++) {
      const g = calls[j];
      const w = want[j];
      if (g && w && sameTlb(g, w)) continue;
      if (bad++ < maxList) add('tlb', `[${j}] ${showTlb(w)}`, showTlb(g));
    }
    if (bad > maxList) add('tlb', `${want.length} calls`, `${calls.length} calls, ${bad} differing (${bad - maxList} not shown)`);
  }
  if (badCookie > 0) add('tlb', 'every callback gets the alloc cookie', `${badCookie} callback(s) with another cookie`);
  if (pages0 !== undefined && env.pagesInUse!() !== pages0)
    add('leak', `${pages0} pages in use`, `${env.pagesInUse!()} after free`);
  return { case: c.name, mismatches: mm, notes, opsRun };
}

/** One line for a mismatch: `case op N: expected X, got Y`. */
export function formatMismatch(m: ReplayMismatch): string {
  const where = typeof m.op === 'number' ? `op ${m.op}` : m.op;
  return `${m.case} ${where}: expected ${m.expected}, got ${m.got}`;
}
