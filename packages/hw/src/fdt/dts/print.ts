/**
 * FdtTree -> DTS source. The text compiles (with dtc or `compileDts`) back to the same blob
 * byte for byte when the tree came from one: node and property order are kept, `phandle`
 * properties are printed as they are, and nodes that have one get a label so that the
 * phandle cells of well-known properties (`interrupt-parent`, `iommus`, `clocks`, ...) read
 * as `<&gic ...>`. Values are printed as strings when they look like strings, as cells when
 * their length is a multiple of 4, else as bytes.
 *
 * Two things a DTS cannot say are not reproduced: a boot CPU other than dtc's guess (the
 * `reg` of the first /cpus child; pass `dtc -b`), and a name with characters DTS does not allow.
 */
import type { FdtNode, FdtTree } from '../types.js';

export interface PrintDtsOptions {
  /** Label nodes that have a phandle and print references to them symbolically (default true). */
  readonly labels?: boolean;
  /** A comment put at the top (each line prefixed with ' * '). */
  readonly header?: string;
}

/** Properties whose value is a list of `<&phandle args...>`, and how many argument cells each has. */
const PHANDLE_LISTS: Record<string, string | null> = {
  'interrupt-parent': null,
  'iommus': '#iommu-cells',
  'interrupts-extended': '#interrupt-cells',
  'clocks': '#clock-cells',
  'assigned-clocks': '#clock-cells',
  'assigned-clock-parents': '#clock-cells',
  'power-domains': '#power-domain-cells',
  'resets': '#reset-cells',
  'dmas': '#dma-cells',
  'mboxes': '#mbox-cells',
  'phys': '#phy-cells',
  'interconnects': '#interconnect-cells',
  'msi-parent': '#msi-cells',
  'memory-region': null,
  'next-level-cache': null,
  'cpu': null,
  'cpu-idle-states': null,
  'operating-points-v2': null,
  'qcom,gmu': null,
  'thermal-sensors': '#thermal-sensor-cells',
  'cooling-device': '#cooling-cells',
  'gpios': '#gpio-cells',
  'wakeup-parent': null,
  'nvmem-cells': null,
  'sram': null,
};

/** Properties that are numbers even when their bytes happen to look like text. */
const NUMERIC = /^(#.*-cells|reg|ranges|dma-ranges|interrupts|phandle|linux,phandle|clock-frequency|.*-(size|sizes|offset|mask|id|ids|map|cells|frequency|frequencies)|cpu-release-addr|alignment|size|alloc-ranges|iommu-map|msi-map|gki,.*-(id|ids))$/;

function be32(v: Uint8Array, off: number): number {
  return ((v[off]! << 24) | (v[off + 1]! << 16) | (v[off + 2]! << 8) | v[off + 3]!) >>> 0;
}

function hex(n: number): string {
  return '0x' + n.toString(16);
}

function phandleOf(n: FdtNode): number | undefined {
  const p = n.props.find((x) => x.name === 'phandle') ?? n.props.find((x) => x.name === 'linux,phandle');
  return p && p.value.length === 4 ? be32(p.value, 0) : undefined;
}

function looksLikeStrings(v: Uint8Array): boolean {
  if (v.length === 0 || v[v.length - 1] !== 0 || v[0] === 0) return false;
  let nul = 0;
  for (const b of v) {
    if (b === 0) nul++;
    else if ((b < 0x20 && !(b >= 7 && b <= 13)) || b > 0x7e) return false;
  }
  return nul <= v.length - nul;
}

function quote(bytes: Uint8Array): string {
  let s = '"';
  for (const b of bytes) {
    if (b === 0x22) s += '\\"';
    else if (b === 0x5c) s += '\\\\';
    else if (b >= 7 && b <= 13) s += '\\' + 'abtnvfr'[b - 7];
    else if (b >= 0x20 && b <= 0x7e) s += String.fromCharCode(b);
    else s += '\\x' + b.toString(16).padStart(2, '0');
  }
  return s + '"';
}

function strings(v: Uint8Array): string {
  const parts: string[] = [];
  let start = 0;
  for (let i = 0; i < v.length; i++) {
    if (v[i] !== 0) continue;
    parts.push(quote(v.subarray(start, i)));
    start = i + 1;
  }
  return parts.join(', ');
}

function bytes(v: Uint8Array): string {
  return '[' + Array.from(v, (b) => b.toString(16).padStart(2, '0')).join(' ') + ']';
}

/** The printed form of a tree. */
export function printDts(tree: FdtTree, opts: PrintDtsOptions = {}): string {
  const useLabels = opts.labels !== false;
  // phandle -> node, and a label for each node with a phandle
  const byPhandle = new Map<number, FdtNode>();
  const labelOf = new Map<FdtNode, string>();
  const all: FdtNode[] = [];
  const stack = [tree.root];
  while (stack.length > 0) {
    const n = stack.pop()!;
    all.push(n);
    for (let i = n.children.length - 1; i >= 0; i--) stack.push(n.children[i]!);
  }
  if (useLabels) {
    const used = new Set<string>();
    const base = (n: FdtNode): string => {
      let b = (n.name.split('@')[0] ?? '').replace(/[^A-Za-z0-9_]/g, '_');
      if (!/^[A-Za-z_]/.test(b)) b = 'n' + b;
      return b;
    };
    const counts = new Map<string, number>();
    for (const n of all) if (phandleOf(n) !== undefined) counts.set(base(n), (counts.get(base(n)) ?? 0) + 1);
    for (const n of all) {
      const ph = phandleOf(n);
      if (ph === undefined || n === tree.root) continue;
      if (!byPhandle.has(ph)) byPhandle.set(ph, n);
      let l = base(n);
      const unit = n.name.split('@')[1];
      if ((counts.get(l) ?? 0) > 1 && unit) l = `${l}_${unit.replace(/[^A-Za-z0-9_]/g, '_')}`;
      let k = l;
      for (let i = 2; used.has(k); i++) k = `${l}_${i}`;
      used.add(k);
      labelOf.set(n, k);
    }
  }

  /** Cells of a phandle-list property with references, or undefined when it does not parse. */
  const phandleCells = (name: string, v: Uint8Array): string | undefined => {
    if (!useLabels || v.length === 0 || v.length % 4) return undefined;
    const cellsName = name in PHANDLE_LISTS ? PHANDLE_LISTS[name] : name.endsWith('-supply') || /^pinctrl-[0-9]+$/.test(name) ? null : name.endsWith('-gpios') || name.endsWith('-gpio') ? '#gpio-cells' : undefined;
    if (cellsName === undefined) return undefined;
    const cells: number[] = [];
    for (let i = 0; i < v.length; i += 4) cells.push(be32(v, i));
    const groups: string[] = [];
    let i = 0;
    while (i < cells.length) {
      const ph = cells[i]!;
      const target = byPhandle.get(ph);
      if (ph === 0) {
        groups.push('0x0');
        i++;
        continue;
      }
      if (!target || !labelOf.has(target)) return undefined;
      let n = 0;
      if (cellsName !== null) {
        const p = target.props.find((x) => x.name === cellsName);
        if (p && p.value.length !== 4) return undefined;
        n = p ? be32(p.value, 0) : cellsName === '#msi-cells' ? 0 : -1;
        if (n < 0) return undefined;
      }
      if (i + 1 + n > cells.length) return undefined;
      groups.push([`&${labelOf.get(target)!}`, ...cells.slice(i + 1, i + 1 + n).map(hex)].join(' '));
      i += 1 + n;
    }
    return groups.map((g) => `<${g}>`).join(', ');
  };

  const u32Prop = (n: FdtNode | undefined, name: string): number | undefined => {
    const p = n?.props.find((x) => x.name === name);
    return p && p.value.length === 4 ? be32(p.value, 0) : undefined;
  };
  /** How many cells one entry of a reg/ranges/interrupts value has, when that is known. */
  const entryCells = (name: string, n: FdtNode, chain: readonly FdtNode[]): number | undefined => {
    const parent = chain[chain.length - 1];
    const ac = (x: FdtNode | undefined): number => u32Prop(x, '#address-cells') ?? 2;
    const sc = (x: FdtNode | undefined): number => u32Prop(x, '#size-cells') ?? 1;
    if (name === 'reg' && parent) return ac(parent) + sc(parent);
    if (name === 'ranges' || name === 'dma-ranges') return parent ? ac(n) + ac(parent) + sc(n) : undefined;
    if (name === 'interrupts') {
      for (const x of [n, ...[...chain].reverse()]) {
        const ph = u32Prop(x, 'interrupt-parent');
        if (ph !== undefined) return u32Prop(byPhandle.get(ph), '#interrupt-cells');
      }
    }
    return undefined;
  };

  const value = (name: string, v: Uint8Array, n: FdtNode, chain: readonly FdtNode[]): string => {
    const refs = phandleCells(name, v);
    if (refs !== undefined) return refs;
    if (!NUMERIC.test(name) && looksLikeStrings(v)) return strings(v);
    if (v.length % 4 === 0) {
      const cells: string[] = [];
      for (let i = 0; i < v.length; i += 4) cells.push(hex(be32(v, i)));
      const per = entryCells(name, n, chain);
      if (per !== undefined && per > 0 && cells.length > per && cells.length % per === 0) {
        const groups: string[] = [];
        for (let i = 0; i < cells.length; i += per) groups.push(`<${cells.slice(i, i + per).join(' ')}>`);
        return groups.join(', ');
      }
      return `<${cells.join(' ')}>`;
    }
    return bytes(v);
  };

  let out = '/dts-v1/;\n';
  if (opts.header) out = `/*\n${opts.header.split('\n').map((l) => (l ? ` * ${l}` : ' *')).join('\n')}\n */\n\n` + out;
  if (tree.reservations.length > 0) {
    out += '\n';
    for (const r of tree.reservations) out += `/memreserve/ ${hex(r.address)} ${hex(r.size)};\n`;
  }
  out += '\n';
  const emit = (n: FdtNode, indent: string, chain: FdtNode[]): void => {
    const isRoot = chain.length === 0;
    const label = labelOf.get(n);
    out += `${indent}${label && !isRoot ? label + ': ' : ''}${isRoot ? '/' : n.name} {\n`;
    const inner = indent + '\t';
    for (const p of n.props) out += p.value.length === 0 ? `${inner}${p.name};\n` : `${inner}${p.name} = ${value(p.name, p.value, n, chain)};\n`;
    chain.push(n);
    for (let i = 0; i < n.children.length; i++) {
      if (i > 0 || n.props.length > 0) out += '\n';
      emit(n.children[i]!, inner, chain);
    }
    chain.pop();
    out += `${indent}};\n`;
  };
  emit(tree.root, '', []);
  return out;
}
