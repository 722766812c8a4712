/**
 * The machine's memory map from its device tree, as Linux's early boot reads it:
 *
 * - RAM comes from the enabled `device_type = "memory"` nodes at the top level (also a node
 *   named `memory` / `memory@...` without device_type), every (address, size) pair of their
 *   `reg` (with the root's #address-cells/#size-cells), so several banks and several nodes are
 *   normal. An entry of size 0 means "the bootloader fills this in" (kernel SoC .dtsi files
 *   ship like that): the board then uses the size in the node's `gki,ram-size` property, else
 *   `/chosen/gki,ram-size`, else DEFAULT_UNFILLED_RAM_SIZE (4 GiB), clipped so it does not run
 *   into the next bank, and records a note saying so. Overlapping banks are merged (as
 *   memblock does), with a note.
 * - A tree with no memory node at all (kernel board files that leave it to U-Boot) gets one
 *   bank where its bootloader would most probably put it: `/chosen/gki,ram-base` when given,
 *   else the lowest 1 GiB boundary free of device registers (see guessRam), with a note.
 * - Reservations come from the blob's /memreserve/ block and the enabled children of
 *   `/reserved-memory`: static ones with `reg` (and `no-map` / `reusable`), and dynamic ones
 *   with `size` (optional `alignment`, `alloc-ranges`), which are placed as memblock places
 *   them: top down, inside `alloc-ranges` (or anywhere in RAM), aligned, clear of every
 *   reservation placed before.
 * - The page allocator may use RAM minus every reservation that is not `reusable` (a
 *   `reusable` region is CMA-style memory the allocator keeps using).
 */
import { translatedRegs } from './fdt/address.js';
import { cellsToNumber, propCells } from './fdt/read.js';
import { FdtError, type FdtNode, type FdtReservation, type FdtTree } from './fdt/types.js';
import { MAX_PA_BITS, PAGE_SIZE, type MemRegion } from './mem.js';

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
      // memblock keeps the whole pages of a bank (rtd1195 starts RAM at 0xa800, after its boot ROM)
      const start = alignUp(r.address, PAGE_SIZE);
      const end = alignDown(r.address + r.size, PAGE_SIZE);
      if (start !== r.address || end !== r.address + r.size)
        notes.push({
          level: 'warn',
          source: 'OF',
          message: `${path}: RAM ${hex(r.address)}+${hex(r.size)} is not 4 KiB aligned; ${end > start ? `using its whole pages ${hex(start)}+${hex(end - start)}` : 'no whole page in it, ignored'}`,
        });
      if (end > start) ram.push({ base: start, size: end - start });
    }
  }
  let devices: ReturnType<typeof deviceWindows> | undefined;
  for (const u of unfilled) {
    if (u.base % PAGE_SIZE || u.size % PAGE_SIZE || u.size <= 0)
      throw new FdtError(-1, `RAM ${hex(u.base)}+${hex(u.size)} (from ${u.from}) is not 4 KiB aligned`, u.path);
    if (ram.some((r) => u.base >= r.base && u.base < r.base + r.size)) {
      notes.push({ level: 'warn', source: 'OF', message: `${u.path}: size-0 bank at ${hex(u.base)} lies inside another bank; ignored` });
      continue;
    }
    const next = ram.filter((r) => r.base > u.base).reduce((m, r) => Math.min(m, r.base), Infinity);
    // nor may it start among device registers: `reg = <0 0>` on SDX55 leaves the base to the
    // bootloader too, and is then placed as if there were no memory node
    devices ??= deviceWindows(tree);
    const dev = devices.next(u.base);
    if (dev - u.base < RAM_GUESS_MIN && ram.length === 0 && unfilled.length === 1) {
      notes.push({ level: 'warn', source: 'OF', message: `${u.path}: reg gives size 0 at ${hex(u.base)}, among device registers: the bootloader fills in the base too` });
      continue;
    }
    // (device windows further up may be DRAM carve-outs, HiKey960's reboot-reason syscon at
    // 0x32100000: the bank is not clipped at them)
    const size = Math.min(u.size, next - u.base);
    const why = size < u.size ? ', clipped at the next bank' : '';
    notes.push({
      level: 'warn',
      source: 'OF',
      message: `${u.path}: reg gives size 0 at ${hex(u.base)} (the bootloader fills it in); using ${formatSize(size)} from ${u.from}${why}`,
    });
    ram.push({ base: u.base, size });
  }
  if (ram.length === 0) {
    // no /memory at all: many kernel board files leave it to the bootloader (U-Boot adds it)
    const chosenBase = chosen ? numberProp(chosen, 'gki,ram-base', '/chosen') : undefined;
    const guess = guessRam(tree, chosenBase, chosenSize ?? DEFAULT_UNFILLED_RAM_SIZE);
    if (!guess)
      throw new FdtError(
        -1,
        'no RAM: no /memory node with a non-empty reg, and no free address range for one (add memory@<base> { device_type = "memory"; reg = <...>; }, or /chosen/gki,ram-base and gki,ram-size)',
        '/',
      );
    notes.push({
      level: 'warn',
      source: 'OF',
      message: `no /memory node (the bootloader adds it): assuming ${formatSize(guess.size)} of RAM at ${hex(guess.base)} (${guess.why}; /chosen/gki,ram-base and gki,ram-size choose)`,
    });
    ram.push({ base: guess.base, size: guess.size });
  }
  ram.sort((a, b) => a.base - b.base);
  // overlapping banks (a typo in a board file, or two nodes describing the same RAM) are
  // merged, as memblock_add merges them
  for (let i = 1; i < ram.length; i++) {
    const prev = ram[i - 1]!;
    const cur = ram[i]!;
    if (cur.base >= prev.base + prev.size) continue;
    const end = Math.max(prev.base + prev.size, cur.base + cur.size);
    notes.push({
      level: 'warn',
      source: 'OF',
      message: `RAM banks ${hex(prev.base)}+${hex(prev.size)} and ${hex(cur.base)}+${hex(cur.size)} overlap; merged into ${hex(prev.base)}+${hex(end - prev.base)}`,
    });
    ram.splice(i - 1, 2, { base: prev.base, size: end - prev.base });
    i--;
  }

  // memory beyond the physical address space (52 bits, with LPA2): arm64's memblock drops it
  // (early_init_dt_add_memory_arch clips a bank, memblock_remove above PHYS_MASK), the board too
  const top = 2 ** MAX_PA_BITS;
  for (let i = ram.length - 1; i >= 0; i--) {
    const r = ram[i]!;
    if (r.base + r.size <= top) continue;
    notes.push({
      level: 'warn',
      source: 'OF',
      message: `Ignoring memory range ${hex(Math.max(r.base, top))} - ${hex(r.base + r.size)} (beyond the ${MAX_PA_BITS}-bit physical address space)`,
    });
    if (r.base >= top) ram.splice(i, 1);
    else ram[i] = { base: r.base, size: top - r.base };
  }
  if (ram.length === 0) throw new FdtError(-1, `no RAM inside the ${MAX_PA_BITS}-bit physical address space`, '/');

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

const GiB = 2 ** 30;
/** Where a missing /memory node's bank may start: 1 GiB boundaries below this. */
const RAM_GUESS_LIMIT = 64 * GiB;
/** The least RAM worth assuming (a window shorter than this is skipped). */
const RAM_GUESS_MIN = 256 * 2 ** 20;

/**
 * The RAM a tree without /memory most probably has, as its bootloader would add it: at
 * `/chosen/gki,ram-base` when given, else at the lowest 1 GiB boundary whose next 256 MiB no
 * device register window (`reg` of any node but `mmio-sram` ones, translated to CPU
 * addresses) touches; the bank
 * runs for `size` bytes or up to the next device window above it. SoCs put DRAM at such a
 * boundary (0 on Rockchip and Marvell, 1 GiB on i.MX 8M, Allwinner and MediaTek, 2 GiB on
 * Qualcomm, Tegra and Exynos), below or above their peripherals.
 */
function guessRam(tree: FdtTree, base: number | undefined, size: number): { base: number; size: number; why: string } | undefined {
  const dev = deviceWindows(tree);
  if (!dev.any && base === undefined) return undefined; // nothing to place it against
  if (base !== undefined) {
    if (base % PAGE_SIZE) return undefined;
    return { base, size, why: 'from /chosen/gki,ram-base' };
  }
  for (let b = 0; b < RAM_GUESS_LIMIT; b += GiB) {
    const end = dev.next(b);
    if (end - b < RAM_GUESS_MIN) continue;
    const s = alignDown(Math.min(size, end - b), PAGE_SIZE);
    return { base: b, size: s, why: b === 0 ? 'no device registers at 0' : `the lowest 1 GiB boundary with no device registers after it` };
  }
  return undefined;
}

/**
 * The device register windows of a tree (`reg` of every node outside /memory,
 * /reserved-memory, /cpus and `mmio-sram` nodes, translated to CPU addresses), and `next(a)`:
 * where the first window at or above `a` starts (`a` itself when a window covers it).
 */
function deviceWindows(tree: FdtTree): { any: boolean; next: (from: number) => number } {
  const windows: { start: number; end: number }[] = [];
  const visit = (n: FdtNode, path: string, top: boolean): void => {
    const name = n.name.split('@')[0];
    // RAM-like or non-MMIO subtrees: memory, reserved memory (inside RAM), CPUs (reg = MPIDR)
    if (top && (name === 'memory' || name === 'reserved-memory' || name === 'cpus' || name === 'chosen' || name === 'aliases')) return;
    // SRAM regions may be carved out of DRAM (RK356x's SCMI shared memory at 1 MiB)
    if (str(n, 'compatible') === 'mmio-sram') return;
    if (path !== '/' && has(n, 'reg')) {
      try {
        for (const r of translatedRegs(tree, path) ?? []) if (r.size > 0) windows.push({ start: r.address, end: r.address + r.size });
      } catch {
        // a malformed reg says nothing about where RAM is
      }
    }
    let sc = 1;
    try {
      sc = cellCount(n, '#size-cells', 1, path);
    } catch {
      return;
    }
    if (sc === 0) return; // children addressed without sizes (CPUs, I2C or MDIO devices) are not MMIO
    for (const c of n.children) visit(c, path === '/' ? `/${c.name}` : `${path}/${c.name}`, path === '/');
  };
  visit(tree.root, '/', false);
  return {
    any: windows.length > 0,
    next: (from) => windows.reduce((m, w) => (w.end > from && w.start < m ? Math.max(w.start, from) : m), Infinity),
  };
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
