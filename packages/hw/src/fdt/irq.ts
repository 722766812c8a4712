/**
 * Interrupt specifiers as the board wires them, following the devicetree interrupt model:
 * a device's `interrupts` go to its interrupt parent (its own or inherited `interrupt-parent`,
 * else the nearest ancestor with `#interrupt-cells`); `interrupts-extended` names the parent of
 * each entry; a nexus node's `interrupt-map` (masked with `interrupt-map-mask`) translates a
 * specifier into one of another parent, hop by hop, until an `interrupt-controller`.
 *
 * Only the GIC is wired to the board's interrupt lines: SPI n is line 32 + n and PPI n is line
 * 16 + n, whatever the number of cells (GICv3 trees add a fourth, affinity/partition cell);
 * controllers stacked on it (GIC_STACKED_COMPATIBLES) hand their specifiers on to it. An
 * interrupt whose controller is something else (a PDC, a GPIO bank, a display subsystem's own
 * controller) is left unresolved, with the reason, rather than guessed. In a tree without any
 * GIC, a top-level controller's first cell is taken as the line (the minimal test boards).
 */
import { compatibleOf, getProp, joinPath, propU32 } from './read.js';
import type { FdtNode, FdtTree } from './types.js';

/** Parent links, paths and phandles of a tree, computed once. */
export class FdtIndex {
  private readonly parents = new Map<FdtNode, FdtNode | undefined>();
  private readonly paths = new Map<FdtNode, string>();
  private readonly phandles = new Map<number, FdtNode>();
  /** True when some node of the tree is a GIC. */
  readonly hasGic: boolean;

  constructor(readonly tree: FdtTree) {
    let gic = false;
    const stack: { n: FdtNode; p: FdtNode | undefined; path: string }[] = [{ n: tree.root, p: undefined, path: '/' }];
    while (stack.length > 0) {
      const { n, p, path } = stack.pop()!;
      this.parents.set(n, p);
      this.paths.set(n, path);
      const ph = phandleValue(n);
      if (ph !== undefined && ph !== 0 && ph !== 0xffffffff && !this.phandles.has(ph)) this.phandles.set(ph, n);
      if (!gic && isGicNode(n)) gic = true;
      for (let i = n.children.length - 1; i >= 0; i--) stack.push({ n: n.children[i]!, p: n, path: joinPath(path, n.children[i]!.name) });
    }
    this.hasGic = gic;
  }

  parent(n: FdtNode): FdtNode | undefined {
    return this.parents.get(n);
  }
  path(n: FdtNode): string {
    return this.paths.get(n) ?? '?';
  }
  byPhandle(ph: number): FdtNode | undefined {
    return this.phandles.get(ph);
  }
  /** The node at `path` (exact names), or undefined. */
  node(path: string): FdtNode | undefined {
    for (const [n, p] of this.paths) if (p === path) return n;
    return undefined;
  }
}

function phandleValue(n: FdtNode): number | undefined {
  const p = getProp(n, 'phandle') ?? getProp(n, 'linux,phandle');
  if (!p || p.value.length !== 4) return undefined;
  return ((p.value[0]! << 24) | (p.value[1]! << 16) | (p.value[2]! << 8) | p.value[3]!) >>> 0;
}

/** Compatibles of the Arm GIC family (GICv1..v4 and the vendor variants kernels bind the GIC driver to). */
export const GIC_COMPATIBLE_PREFIXES: readonly RegExp[] = [/^arm,gic-/, /^arm,cortex-a\d+-gic$/, /^arm,(pl390|arm11mp-gic|eb11mp-gic|tc11mp-gic)$/, /^qcom,msm-(qgic2|8660-qgic)$/];

export function isGicNode(n: FdtNode): boolean {
  if (!getProp(n, 'interrupt-controller')) return false;
  let compat: string[];
  try {
    compat = compatibleOf(n);
  } catch {
    return false;
  }
  return compat.some((c) => c !== 'arm,gic-v3-its' && c !== 'arm,gic-v2m-frame' && GIC_COMPATIBLE_PREFIXES.some((re) => re.test(c)));
}

function u32(v: Uint8Array, off: number): number {
  return ((v[off]! << 24) | (v[off + 1]! << 16) | (v[off + 2]! << 8) | v[off + 3]!) >>> 0;
}

function cellsOf(n: FdtNode, name: string): number[] | undefined {
  const p = getProp(n, name);
  if (!p) return undefined;
  const out: number[] = [];
  for (let i = 0; i + 4 <= p.value.length; i += 4) out.push(u32(p.value, i));
  return out;
}

function optU32(n: FdtNode, name: string): number | undefined {
  try {
    return propU32(n, name);
  } catch {
    return undefined;
  }
}

/** An interrupt specifier that reached an interrupt controller. */
export interface FdtIrqSpec {
  readonly ctrl: FdtNode;
  readonly ctrlPath: string;
  readonly args: readonly number[];
}

export type FdtIrqParse = { readonly spec: FdtIrqSpec } | { readonly error: string };

const MAX_HOPS = 64;

/** The interrupt parent of `n`: `interrupt-parent`, else the nearest ancestor with #interrupt-cells. */
function findParent(idx: FdtIndex, n: FdtNode): FdtNode | undefined | string {
  let cur: FdtNode | undefined = n;
  for (let hop = 0; cur && hop < MAX_HOPS; hop++) {
    const ph = optU32(cur, 'interrupt-parent');
    let p: FdtNode | undefined;
    if (ph !== undefined) {
      p = idx.byPhandle(ph);
      if (!p) return `'interrupt-parent' of ${idx.path(cur)} refers to unknown phandle 0x${ph.toString(16)}`;
    } else p = idx.parent(cur);
    if (!p || getProp(p, '#interrupt-cells')) return p;
    cur = p;
  }
  return undefined;
}

/**
 * Follows a specifier from `ipar` through interrupt maps to a controller (the kernel's
 * of_irq_parse_raw). `addr` is the device's unit address (its first `reg` cells).
 */
function parseRaw(idx: FdtIndex, start: FdtNode, spec: readonly number[], addr: readonly number[]): FdtIrqParse {
  let ipar: FdtNode | undefined = start;
  let args = [...spec];
  let intsize = optU32(start, '#interrupt-cells') ?? args.length;
  // #address-cells of the first parent, looked up through its ancestors (default 2)
  let addrsize = 2;
  for (let n: FdtNode | undefined = start; n; n = idx.parent(n)) {
    const ac = optU32(n, '#address-cells');
    if (ac !== undefined) {
      addrsize = ac;
      break;
    }
  }
  let key: number[] = [...Array.from({ length: addrsize }, (_, i) => addr[i] ?? 0), ...args];
  for (let hop = 0; ipar && hop < MAX_HOPS; hop++) {
    const map = cellsOf(ipar, 'interrupt-map');
    if (getProp(ipar, 'interrupt-controller') && !map) return { spec: { ctrl: ipar, ctrlPath: idx.path(ipar), args } };
    if (!map) {
      const p = findParent(idx, ipar);
      if (typeof p === 'string') return { error: p };
      if (!p) return { error: `no interrupt controller above ${idx.path(ipar)}` };
      ipar = p;
      continue;
    }
    const width = addrsize + intsize;
    const mask = cellsOf(ipar, 'interrupt-map-mask') ?? [];
    let i = 0;
    let matched: { par: FdtNode; key: number[]; args: number[]; addrsize: number; intsize: number } | undefined;
    while (i + width < map.length && !matched) {
      let ok = true;
      for (let k = 0; k < width; k++) if (((key[k] ?? 0) & (mask[k] ?? 0xffffffff)) >>> 0 !== map[i + k]) ok = false;
      const ph = map[i + width]!;
      const par = idx.byPhandle(ph);
      if (!par) return { error: `'interrupt-map' of ${idx.path(ipar)} refers to unknown phandle 0x${ph.toString(16)}` };
      const pint = optU32(par, '#interrupt-cells');
      if (pint === undefined) return { error: `interrupt-map parent ${idx.path(par)} has no '#interrupt-cells'` };
      const paddr = optU32(par, '#address-cells') ?? 0;
      const start = i + width + 1;
      if (start + paddr + pint > map.length) return { error: `'interrupt-map' of ${idx.path(ipar)} is truncated` };
      if (ok) {
        const pkey = map.slice(start, start + paddr + pint);
        matched = { par, key: pkey, args: pkey.slice(paddr), addrsize: paddr, intsize: pint };
      }
      i = start + paddr + pint;
    }
    if (!matched) return { error: `no 'interrupt-map' entry of ${idx.path(ipar)} matches <${key.map((c) => '0x' + c.toString(16)).join(' ')}>` };
    ipar = matched.par;
    key = matched.key;
    args = matched.args;
    addrsize = matched.addrsize;
    intsize = matched.intsize;
  }
  return { error: `interrupt translation from ${idx.path(start)} did not reach a controller` };
}

/** Interrupt specifier `index` of `n` (undefined past the last one). */
export function parseInterrupt(idx: FdtIndex, n: FdtNode, index: number): FdtIrqParse | undefined {
  const where = idx.path(n);
  const ext = getProp(n, 'interrupts-extended');
  if (ext) {
    const cells = cellsOf(n, 'interrupts-extended')!;
    let pos = 0;
    for (let i = 0; pos < cells.length; i++) {
      const ph = cells[pos]!;
      const ctrl = idx.byPhandle(ph);
      if (!ctrl) return i === index ? { error: `'interrupts-extended' of ${where} refers to unknown phandle 0x${ph.toString(16)}` } : undefined;
      const count = optU32(ctrl, '#interrupt-cells');
      if (count === undefined) return i === index ? { error: `${idx.path(ctrl)} has no '#interrupt-cells'` } : undefined;
      if (pos + 1 + count > cells.length) return i === index ? { error: `'interrupts-extended' of ${where} is truncated` } : undefined;
      if (i === index) return parseRaw(idx, ctrl, cells.slice(pos + 1, pos + 1 + count), addrOf(idx, n));
      pos += 1 + count;
    }
    return undefined;
  }
  const cells = cellsOf(n, 'interrupts');
  if (!cells || cells.length === 0) return undefined;
  const p = findParent(idx, n);
  if (typeof p === 'string') return index === 0 ? { error: p } : undefined;
  if (!p) return index === 0 ? { error: `'interrupts' of ${where} without an interrupt parent` } : undefined;
  const size = optU32(p, '#interrupt-cells');
  if (size === undefined || size === 0) return index === 0 ? { error: `interrupt parent ${idx.path(p)} has no usable '#interrupt-cells'` } : undefined;
  if ((index + 1) * size > cells.length) return undefined;
  return parseRaw(idx, p, cells.slice(index * size, (index + 1) * size), addrOf(idx, n));
}

function addrOf(idx: FdtIndex, n: FdtNode): number[] {
  const parent = idx.parent(n);
  const ac = parent ? optU32(parent, '#address-cells') ?? 2 : 2;
  return (cellsOf(n, 'reg') ?? []).slice(0, ac);
}

/** How many interrupt specifiers `n` has (parsed or not). */
export function interruptCount(idx: FdtIndex, n: FdtNode): number {
  let count = 0;
  while (count < 1024 && parseInterrupt(idx, n, count) !== undefined) count++;
  return count;
}

/** GIC interrupt types (first cell) and where their interrupt IDs start. */
const GIC_SPI = 0;
const GIC_PPI = 1;

/**
 * Interrupt controllers stacked on the GIC that hand a specifier on to it (hierarchical irq
 * domains): MediaTek's SYSIRQ (polarity inversion), the i.MX GPC and Tegra's legacy
 * controller take <GIC_SPI n flags> and pass SPI n on; Qualcomm's PDC takes <pin flags> and
 * passes the SPI its `qcom,pdc-ranges` (<pin base, SPI base, count>...) give that pin; the
 * MPM of RPM-based Qualcomm SoCs (QCM2290, SM6375) takes <pin flags> and passes the SPI its
 * `qcom,mpm-pin-map` pairs (<pin SPI>...) give the pin (a pin not in the map only wakes the
 * SoC: no line reaches the GIC).
 */
export const GIC_STACKED_COMPATIBLES: readonly string[] = [
  'mediatek,mt6577-sysirq',
  'fsl,imx7d-gpc',
  'fsl,imx8mq-gpc',
  'nvidia,tegra30-ictlr',
  'nvidia,tegra210-ictlr',
  'qcom,pdc',
  'qcom,mpm',
];

function isStackedNode(n: FdtNode): boolean {
  if (!getProp(n, 'interrupt-controller')) return false;
  try {
    return compatibleOf(n).some((c) => GIC_STACKED_COMPATIBLES.includes(c));
  } catch {
    return false;
  }
}

/** The GIC specifier a stacked controller hands on for `spec`, or why it has none. */
function stackedToGic(idx: FdtIndex, spec: FdtIrqSpec): FdtIrqSpec | string {
  const parent = findParent(idx, spec.ctrl);
  if (typeof parent === 'string') return parent;
  if (!parent || !isGicNode(parent)) return `interrupt controller ${spec.ctrlPath} does not report to a GIC`;
  const gic = { ctrl: parent, ctrlPath: idx.path(parent) };
  let pdc = false;
  let mpm = false;
  try {
    pdc = compatibleOf(spec.ctrl).includes('qcom,pdc');
    mpm = compatibleOf(spec.ctrl).includes('qcom,mpm');
  } catch {
    pdc = false;
  }
  if (mpm) {
    if (spec.args.length !== 2) return `${spec.ctrlPath} takes <pin flags>, not <${spec.args.join(' ')}>`;
    const map = cellsOf(spec.ctrl, 'qcom,mpm-pin-map') ?? [];
    for (let i = 0; i + 2 <= map.length; i += 2) if (map[i] === spec.args[0]) return { ...gic, args: [GIC_SPI, map[i + 1]!, spec.args[1]!] };
    return `MPM pin ${spec.args[0]} of ${spec.ctrlPath} is not in its qcom,mpm-pin-map (a wake-up source only, no GIC line)`;
  }
  if (!pdc) {
    if (spec.args.length !== 3 || spec.args[0] !== GIC_SPI) return `${spec.ctrlPath} takes <GIC_SPI n flags>, not <${spec.args.join(' ')}>`;
    return { ...gic, args: [GIC_SPI, spec.args[1]!, spec.args[2]!] };
  }
  if (spec.args.length !== 2) return `${spec.ctrlPath} takes <pin flags>, not <${spec.args.join(' ')}>`;
  const pin = spec.args[0]!;
  const ranges = cellsOf(spec.ctrl, 'qcom,pdc-ranges') ?? [];
  for (let i = 0; i + 3 <= ranges.length; i += 3) {
    const [base, spi, count] = [ranges[i]!, ranges[i + 1]!, ranges[i + 2]!];
    if (pin >= base && pin < base + count) return { ...gic, args: [GIC_SPI, spi + pin - base, spec.args[1]!] };
  }
  return `PDC pin ${pin} of ${spec.ctrlPath} is in none of its qcom,pdc-ranges`;
}

/** The board line of a specifier that reached `spec.ctrl`, or a reason it has none. */
export function boardLine(idx: FdtIndex, spec: FdtIrqSpec): number | string {
  if (isStackedNode(spec.ctrl)) {
    const up = stackedToGic(idx, spec);
    if (typeof up === 'string') return up;
    spec = up;
  }
  if (isGicNode(spec.ctrl)) {
    if (spec.args.length < 3) return `GIC specifier <${spec.args.join(' ')}> has fewer than 3 cells`;
    const [type, num] = spec.args as [number, number];
    if (type === GIC_SPI && num < 988) return 32 + num;
    if (type === GIC_PPI && num < 16) return 16 + num;
    return `GIC interrupt type ${type} number ${num} is not wired to the board (only SPI 0..987 and PPI 0..15 are)`;
  }
  if (!idx.hasGic && spec.args.length >= 1 && !parentOfController(idx, spec.ctrl)) return spec.args[0]!;
  return `interrupt controller ${spec.ctrlPath} is not modelled`;
}

/** The controller `ctrl` itself reports to, if any (a chained controller). */
function parentOfController(idx: FdtIndex, ctrl: FdtNode): FdtNode | undefined {
  if (!getProp(ctrl, 'interrupts') && !getProp(ctrl, 'interrupts-extended') && !getProp(ctrl, 'interrupt-parent')) return undefined;
  const p = findParent(idx, ctrl);
  return typeof p === 'string' || p === ctrl ? undefined : p;
}

export interface FdtBoardInterrupts {
  /** One entry per specifier: the board line, or -1 when it is not wired to the board. */
  readonly lines: number[];
  readonly unresolved: readonly { readonly index: number; readonly reason: string }[];
}

/** Every interrupt of `n` as a board line (-1 where unresolved, with the reason). Never throws. */
export function boardInterrupts(idx: FdtIndex, n: FdtNode): FdtBoardInterrupts {
  const lines: number[] = [];
  const unresolved: { index: number; reason: string }[] = [];
  for (let i = 0; i < 1024; i++) {
    const r = parseInterrupt(idx, n, i);
    if (r === undefined) break;
    const line = 'error' in r ? r.error : boardLine(idx, r.spec);
    if (typeof line === 'number') lines.push(line);
    else {
      lines.push(-1);
      unresolved.push({ index: i, reason: line });
    }
  }
  return { lines, unresolved };
}
