/**
 * The machine's memory map from its device tree, as Linux's early boot reads it:
 *
 * - RAM comes from the enabled `device_type = "memory"` nodes at the top level (also a node
 *   named `memory` / `memory@...` without device_type), every (address, size) pair of their
 *   `reg` (with the root's #address-cells/#size-cells), so several banks and several nodes are
 *   normal. An entry of size 0 means "the bootloader fills this in" (kernel SoC .dtsi files
 *   ship like that): the board then uses the size in the node's `gki,ram-size` property, else
 *   `/chosen/gki,ram-size`, else DEFAULT_UNFILLED_RAM_SIZE (4 GiB), clipped so it does not run
 *   into the next bank, and records a note saying so.
 * - Reservations come from the blob's /memreserve/ block and the enabled children of
 *   `/reserved-memory`: static ones with `reg` (and `no-map` / `reusable`), and dynamic ones
 *   with `size` (optional `alignment`, `alloc-ranges`), which are placed as memblock places
 *   them: top down, inside `alloc-ranges` (or anywhere in RAM), aligned, clear of every
 *   reservation placed before.
 * - The page allocator may use RAM minus every reservation that is not `reusable` (a
 *   `reusable` region is CMA-style memory the allocator keeps using).
 */
import { cellsToNumber, propCells } from './fdt/read.js';
import { FdtError, type FdtNode, type FdtReservation, type FdtTree } from './fdt/types.js';
import { PAGE_SIZE, type MemRegion } from './mem.js';

/** RAM assumed for a memory node whose `reg` size is 0 and that gives no `gki,ram-size`. */
export const DEFAULT_UNFILLED_RAM_SIZE = 4 * 2 ** 30;

/** One reserved range of physical memory. */
export interface ReservedRegion {
  /** The /reserved-memory child's path, or '/memreserve/' for an entry of the blob's reservation block. */
  readonly name: string;
  readonly address: number;
  readonly size: number;
  /** `no-map`: not even in the kernel's linear map. */
  readonly noMap: boolean;
  /** `reusable`: the page allocator may hand it out until its owner claims it (CMA). */
  readonly reusable: boolean;
  /** Placed by the board from `size` (not given by `reg`). */
  readonly dynamic: boolean;
  /** The node's compatible ('shared-dma-pool', 'qcom,cmd-db', ...), if any. */
  readonly compatible?: string;
}

/** Something the board decided on its own or could not honour, for the kernel log. */
export interface BoardNote {
  readonly level: 'info' | 'warn';
  readonly source: string;
  readonly message: string;
}

export interface MemoryMap {
  readonly ram: MemRegion[];
  readonly reserved: ReservedRegion[];
  readonly notes: BoardNote[];
}

function hex(n: number): string {
  return '0x' + n.toString(16);
}

export function formatSize(n: number): string {
  if (n >= 2 ** 30 && n % 2 ** 30 === 0) return `${n / 2 ** 30} GiB`;
  if (n >= 2 ** 20 && n % 2 ** 20 === 0) return `${n / 2 ** 20} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

function str(n: FdtNode, name: string): string | undefined {
  const p = n.props.find((x) => x.name === name);
  if (!p || p.value.length === 0) return undefined;
  let s = '';
  for (const b of p.value) {
    if (b === 0) break;
    s += String.fromCharCode(b);
  }
  return s;
}

function has(n: FdtNode, name: string): boolean {
  return n.props.some((p) => p.name === name);
}

function enabled(n: FdtNode): boolean {
  const s = str(n, 'status');
  return s === undefined || s === 'okay' || s === 'ok';
}

function cellCount(n: FdtNode, name: string, dflt: number, path: string): number {
  const p = n.props.find((x) => x.name === name);
  if (!p) return dflt;
  if (p.value.length !== 4) throw new FdtError(-1, `'${name}' is not one cell`, path);
  const v = ((p.value[0]! << 24) | (p.value[1]! << 16) | (p.value[2]! << 8) | p.value[3]!) >>> 0;
  if (v > 4) throw new FdtError(-1, `unsupported ${name} = ${v}`, path);
  return v;
}

/** A number property of 1 or 2 cells (sizes, alignments). */
function numberProp(n: FdtNode, name: string, path: string): number | undefined {
  const cells = propCells(n, name, path);
  if (!cells) return undefined;
  if (cells.length === 0 || cells.length > 2) throw new FdtError(-1, `'${name}' must be 1 or 2 cells`, path);
  return cellsToNumber(cells, 0, cells.length, `'${name}'`, path);
}

/** (address, size) pairs of a property with the given cell counts. */
function pairs(n: FdtNode, name: string, ac: number, sc: number, path: string): { address: number; size: number }[] {
  const cells = propCells(n, name, path);
  if (!cells) return [];
  const per = ac + sc;
  if (per === 0 || cells.length % per) throw new FdtError(-1, `'${name}' has ${cells.length} cells, not a multiple of ${ac}+${sc}`, path);
  const out: { address: number; size: number }[] = [];
  for (let i = 0; i < cells.length; i += per)
    out.push({ address: cellsToNumber(cells, i, ac, `'${name}' address`, path), size: cellsToNumber(cells, i + ac, sc, `'${name}' size`, path) });
  return out;
}

function alignUp(v: number, a: number): number {
  return Math.ceil(v / a) * a;
}
function alignDown(v: number, a: number): number {
  return Math.floor(v / a) * a;
}

/** Reads RAM and reservations from a parsed tree. Throws FdtError for a map no machine can have. */
export function readMemoryMap(tree: FdtTree): MemoryMap {
  const root = tree.root;
  const notes: BoardNote[] = [];
  const ac = cellCount(root, '#address-cells', 2, '/');
  const sc = cellCount(root, '#size-cells', 1, '/');
  const chosen = root.children.find((c) => c.name === 'chosen');
  const chosenSize = chosen ? numberProp(chosen, 'gki,ram-size', '/chosen') : undefined;

  // RAM banks, with unfilled (size 0) entries remembered for after the fixed ones are known
  const ram: MemRegion[] = [];
  const unfilled: { base: number; path: string; size: number; from: string }[] = [];
  for (const n of root.children) {
    const path = `/${n.name}`;
    const type = str(n, 'device_type');
    const base = n.name.split('@')[0];
    if (!(type === 'memory' || (type === undefined && base === 'memory'))) continue;
    if (!enabled(n)) continue;
    const regs = pairs(n, has(n, 'linux,usable-memory') ? 'linux,usable-memory' : 'reg', ac, sc, path);
    for (const r of regs) {
      if (r.size === 0) {
        const own = numberProp(n, 'gki,ram-size', path);
        const size = own ?? chosenSize ?? DEFAULT_UNFILLED_RAM_SIZE;
        const from = own !== undefined ? `${path}/gki,ram-size` : chosenSize !== undefined ? '/chosen/gki,ram-size' : 'the default';
        unfilled.push({ base: r.address, path, size, from });
        continue;
      }
      if (r.address % PAGE_SIZE || r.size % PAGE_SIZE)
        throw new FdtError(-1, `RAM ${hex(r.address)}+${hex(r.size)} is not 4 KiB aligned`, path);
      ram.push({ base: r.address, size: r.size });
    }
  }
  for (const u of unfilled) {
    if (u.base % PAGE_SIZE || u.size % PAGE_SIZE || u.size <= 0)
      throw new FdtError(-1, `RAM ${hex(u.base)}+${hex(u.size)} (from ${u.from}) is not 4 KiB aligned`, u.path);
    if (ram.some((r) => u.base >= r.base && u.base < r.base + r.size)) {
      notes.push({ level: 'warn', source: 'OF', message: `${u.path}: size-0 bank at ${hex(u.base)} lies inside another bank; ignored` });
      continue;
    }
    const next = ram.filter((r) => r.base > u.base).reduce((m, r) => Math.min(m, r.base), Infinity);
    const size = Math.min(u.size, next - u.base);
    notes.push({
      level: 'warn',
      source: 'OF',
      message: `${u.path}: reg gives size 0 at ${hex(u.base)} (the bootloader fills it in); using ${formatSize(size)} from ${u.from}${size < u.size ? ', clipped at the next bank' : ''}`,
    });
    ram.push({ base: u.base, size });
  }
  if (ram.length === 0)
    throw new FdtError(
      -1,
      'no RAM: no /memory node with a non-empty reg (a SoC .dtsi leaves memory to the board file: add memory@<base> { device_type = "memory"; reg = <...>; })',
      '/',
    );
  ram.sort((a, b) => a.base - b.base);
  for (let i = 1; i < ram.length; i++)
    if (ram[i]!.base < ram[i - 1]!.base + ram[i - 1]!.size) throw new FdtError(-1, `RAM regions overlap at ${hex(ram[i]!.base)}`, '/');

  // static reservations
  const reserved: ReservedRegion[] = tree.reservations.map((r) => ({
    name: '/memreserve/',
    address: r.address,
    size: r.size,
    noMap: false,
    reusable: false,
    dynamic: false,
  }));
  const resmem = root.children.find((c) => c.name === 'reserved-memory');
  const dynamicNodes: { n: FdtNode; path: string }[] = [];
  if (resmem) {
    const rac = cellCount(resmem, '#address-cells', ac, '/reserved-memory');
    const rsc = cellCount(resmem, '#size-cells', sc, '/reserved-memory');
    for (const c of resmem.children) {
      const path = `/reserved-memory/${c.name}`;
      if (!enabled(c)) continue;
      const flags = { noMap: has(c, 'no-map'), reusable: has(c, 'reusable'), compatible: str(c, 'compatible') };
      if (flags.noMap && flags.reusable) {
        notes.push({ level: 'warn', source: 'OF', message: `${path}: both no-map and reusable; treated as no-map` });
        flags.reusable = false;
      }
      const regs = pairs(c, 'reg', rac, rsc, path);
      if (regs.length > 0) {
        for (const r of regs) {
          if (r.size === 0) continue;
          reserved.push({ name: path, address: r.address, size: r.size, ...flags, dynamic: false });
          if (!ram.some((m) => r.address < m.base + m.size && m.base < r.address + r.size))
            notes.push({ level: 'info', source: 'OF', message: `${path}: ${hex(r.address)}+${hex(r.size)} is outside RAM (nothing to keep from the page allocator)` });
        }
      } else if (has(c, 'size')) dynamicNodes.push({ n: c, path });
      else notes.push({ level: 'warn', source: 'OF', message: `${path}: neither reg nor size; ignored` });
    }
    // dynamic reservations, in order, top down
    for (const { n, path } of dynamicNodes) {
      const size = numberProp(n, 'size', path) ?? 0;
      const align = Math.max(PAGE_SIZE, numberProp(n, 'alignment', path) ?? PAGE_SIZE);
      if (size <= 0) {
        notes.push({ level: 'warn', source: 'OF', message: `${path}: size 0; ignored` });
        continue;
      }
      const ranges = has(n, 'alloc-ranges') ? pairs(n, 'alloc-ranges', rac, rsc, path) : ram.map((r) => ({ address: r.base, size: r.size }));
      const base = placeTopDown(size, align, ranges, ram, reserved);
      const flags = { noMap: has(n, 'no-map'), reusable: has(n, 'reusable') && !has(n, 'no-map'), compatible: str(n, 'compatible') };
      if (base === undefined) {
        notes.push({ level: 'warn', source: 'OF', message: `${path}: no room for ${formatSize(size)} (alignment ${formatSize(align)}); not reserved` });
        continue;
      }
      reserved.push({ name: path, address: base, size, ...flags, dynamic: true });
      notes.push({
        level: 'info',
        source: 'OF',
        message: `reserved mem: ${path}: placed ${formatSize(size)} at ${hex(base)}${flags.reusable ? ' (reusable)' : ''}${flags.noMap ? ' (no-map)' : ''}`,
      });
    }
  }
  return { ram, reserved, notes };
}

/** The highest aligned base for `size` bytes inside `ranges` ∩ RAM, clear of `taken`. */
function placeTopDown(
  size: number,
  align: number,
  ranges: readonly { address: number; size: number }[],
  ram: readonly MemRegion[],
  taken: readonly { address: number; size: number }[],
): number | undefined {
  // free windows: (ranges ∩ RAM) minus taken, highest first
  const windows: { start: number; end: number }[] = [];
  for (const r of ranges)
    for (const m of ram) {
      const start = Math.max(r.address, m.base);
      const end = Math.min(r.address + r.size, m.base + m.size);
      if (start < end) windows.push({ start, end });
    }
  const cuts = [...taken].sort((a, b) => a.address - b.address);
  const free: { start: number; end: number }[] = [];
  for (const w of windows) {
    let pieces = [w];
    for (const t of cuts) {
      const next: { start: number; end: number }[] = [];
      for (const p of pieces) {
        const ts = t.address;
        const te = t.address + t.size;
        if (te <= p.start || ts >= p.end) next.push(p);
        else {
          if (ts > p.start) next.push({ start: p.start, end: ts });
          if (te < p.end) next.push({ start: te, end: p.end });
        }
      }
      pieces = next;
    }
    free.push(...pieces);
  }
  free.sort((a, b) => b.end - a.end);
  for (const f of free) {
    const base = alignDown(f.end - size, align);
    if (base >= f.start) return base;
  }
  return undefined;
}

/** RAM the page allocator may use: every bank minus the reservations that are not reusable, page aligned. */
export function usableRam(ram: readonly MemRegion[], reserved: readonly ReservedRegion[]): MemRegion[] {
  let pieces = ram.map((r) => ({ start: r.base, end: r.base + r.size }));
  for (const t of reserved) {
    if (t.reusable || t.size <= 0) continue;
    const ts = alignDown(t.address, PAGE_SIZE);
    const te = alignUp(t.address + t.size, PAGE_SIZE);
    const next: { start: number; end: number }[] = [];
    for (const p of pieces) {
      if (te <= p.start || ts >= p.end) next.push(p);
      else {
        if (ts > p.start) next.push({ start: p.start, end: ts });
        if (te < p.end) next.push({ start: te, end: p.end });
      }
    }
    pieces = next;
  }
  return pieces.filter((p) => p.end > p.start).map((p) => ({ base: p.start, size: p.end - p.start }));
}

/** The reservations as plain (address, size) pairs. */
export function reservationPairs(reserved: readonly ReservedRegion[]): FdtReservation[] {
  return reserved.map((r) => ({ address: r.address, size: r.size }));
}
