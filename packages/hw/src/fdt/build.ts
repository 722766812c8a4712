/**
 * A concise way to describe device trees in code, close to DTS source:
 *
 *   const tree = buildFdt({
 *     root: node('', [prop.u32('#address-cells', 2), prop.u32('#size-cells', 2)], [
 *       node('gic: intc@8000000', [prop.empty('interrupt-controller'), prop.u32('#interrupt-cells', 3)]),
 *       node('dma@a000000', [prop.u32('interrupt-parent', ref('gic')), prop.cells('interrupts', 0, 16, 4)]),
 *     ]),
 *   });
 *
 * A node name may start with a label ("gic: intc@8000000"); `buildFdt` gives every labelled
 * node a `phandle` property (1, 2, ... in document order, skipping values already taken by
 * explicit `phandle` properties) and replaces each `ref(label)` cell with that phandle.
 */
import { joinPath } from './read.js';
import { FdtError, type FdtNode, type FdtProperty, type FdtReservation, type FdtTree } from './types.js';

/** A reference to a labelled node, written as a cell: it becomes the node's phandle. */
export interface PhandleRef {
  readonly ref: string;
}

export type Cell = number | PhandleRef;

export type DraftProp =
  | { readonly name: string; readonly value: Uint8Array }
  | { readonly name: string; readonly cells: readonly Cell[] };

export interface DraftNode {
  readonly name: string;
  readonly label?: string;
  readonly props: DraftProp[];
  readonly children: DraftNode[];
}

const TWO_POW_32 = 2 ** 32;
const utf8 = new TextEncoder();

/** `&label` in a cell list. */
export function ref(label: string): PhandleRef {
  return { ref: label };
}

/** A node; `name` may carry a DTS-style label prefix: "gic: intc@8000000". */
export function node(name: string, props: DraftProp[] = [], children: DraftNode[] = []): DraftNode {
  const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*:\s*(.*)$/.exec(name);
  if (m) return { name: m[2]!, label: m[1]!, props, children };
  return { name, props, children };
}

function checkU32(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v >= TWO_POW_32) throw new RangeError(`${what}: ${v} is not a 32-bit cell value`);
  return v;
}

/** Splits a number (< 2^53) into `count` 32-bit cells, most significant first. */
export function numCells(v: number, count: number): number[] {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`${v} is not a non-negative safe integer`);
  const out = new Array<number>(count).fill(0);
  let rest = v;
  for (let i = count - 1; i >= 0; i--) {
    out[i] = rest % TWO_POW_32;
    rest = Math.floor(rest / TWO_POW_32);
  }
  if (rest !== 0) throw new RangeError(`0x${v.toString(16)} does not fit in ${count} cell(s)`);
  return out;
}

function cellsBytes(cells: readonly number[]): Uint8Array {
  const out = new Uint8Array(cells.length * 4);
  const dv = new DataView(out.buffer);
  cells.forEach((c, i) => dv.setUint32(i * 4, c, false));
  return out;
}

/** Property constructors. */
export const prop = {
  /** A property with no value (a boolean flag such as `interrupt-controller`). */
  empty(name: string): DraftProp {
    return { name, value: new Uint8Array(0) };
  },
  /** Raw bytes, copied. */
  bytes(name: string, bytes: ArrayLike<number>): DraftProp {
    return { name, value: Uint8Array.from(bytes) };
  },
  /** One 32-bit cell (a number or a `ref(label)`). */
  u32(name: string, v: Cell): DraftProp {
    if (typeof v === 'number') checkU32(v, name);
    return { name, cells: [v] };
  },
  /** A 64-bit value as two cells; numbers must be safe integers, bigints any u64. */
  u64(name: string, v: number | bigint): DraftProp {
    if (typeof v === 'bigint') {
      if (v < 0n || v >= 1n << 64n) throw new RangeError(`${name}: ${v} is not a u64`);
      return { name, cells: [Number(v >> 32n), Number(v & 0xffffffffn)] };
    }
    return { name, cells: numCells(v, 2) };
  },
  /** A list of 32-bit cells, with `ref(label)` allowed anywhere: `<&gic 0 16 4>`. */
  cells(name: string, ...cells: Cell[]): DraftProp {
    for (const c of cells) if (typeof c === 'number') checkU32(c, name);
    return { name, cells };
  },
  /** (address, size) pairs with the parent's cell counts: `prop.reg(2, 2, [0x4000_0000, 1 << 30])`. */
  reg(addressCells: number, sizeCells: number, ...entries: (readonly [number, number])[]): DraftProp {
    const cells: number[] = [];
    for (const [a, s] of entries) cells.push(...numCells(a, addressCells), ...numCells(s, sizeCells));
    return { name: 'reg', cells };
  },
  /** A NUL-terminated UTF-8 string. */
  string(name: string, s: string): DraftProp {
    return prop.strings(name, [s]);
  },
  /** A string list: each string NUL-terminated, concatenated. */
  strings(name: string, list: readonly string[]): DraftProp {
    const parts = list.map((s) => {
      if (s.includes('\0')) throw new RangeError(`${name}: string contains NUL`);
      return utf8.encode(s);
    });
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length + 1, 0));
    let off = 0;
    for (const p of parts) {
      out.set(p, off);
      off += p.length + 1;
    }
    return { name, value: out };
  },
};

export interface FdtSpec {
  readonly root: DraftNode;
  readonly reservations?: readonly FdtReservation[];
  readonly bootCpuid?: number;
}

/**
 * Resolves labels and references and returns the tree (version 17, ready for `writeDtb`).
 * Throws FdtError (offset -1) for a duplicate label, a reference to an unknown label, or a
 * root not named ''.
 */
export function buildFdt(spec: FdtSpec): FdtTree {
  if (spec.root.name !== '') throw new FdtError(-1, `root node must be named '' (got '${spec.root.name}')`, '/');
  // Pass 1: labels and explicitly given phandles.
  const labelled = new Map<string, { draft: DraftNode; path: string }>();
  const taken = new Set<number>();
  const order: { draft: DraftNode; path: string }[] = [];
  const stack: { draft: DraftNode; path: string }[] = [{ draft: spec.root, path: '/' }];
  const seen = new Set<DraftNode>();
  while (stack.length) {
    const e = stack.pop()!;
    if (seen.has(e.draft)) throw new FdtError(-1, 'node appears twice in the tree (a cycle or a shared subtree)', e.path);
    seen.add(e.draft);
    order.push(e);
    if (e.draft.label !== undefined) {
      if (labelled.has(e.draft.label)) throw new FdtError(-1, `duplicate label '${e.draft.label}'`, e.path);
      labelled.set(e.draft.label, e);
    }
    for (const p of e.draft.props)
      if ((p.name === 'phandle' || p.name === 'linux,phandle') && 'cells' in p && typeof p.cells[0] === 'number')
        taken.add(p.cells[0]);
    for (let i = e.draft.children.length - 1; i >= 0; i--) {
      const c = e.draft.children[i]!;
      stack.push({ draft: c, path: joinPath(e.path, c.name) });
    }
  }
  // Pass 2: phandles for labelled nodes that have none.
  const phandles = new Map<string, number>();
  const extra = new Map<DraftNode, number>();
  let next = 1;
  for (const { draft } of order) {
    if (draft.label === undefined) continue;
    const own = draft.props.find((p) => p.name === 'phandle' || p.name === 'linux,phandle');
    if (own && 'cells' in own && typeof own.cells[0] === 'number') {
      phandles.set(draft.label, own.cells[0]);
      continue;
    }
    while (taken.has(next)) next++;
    taken.add(next);
    phandles.set(draft.label, next);
    extra.set(draft, next);
  }
  // Pass 3: materialise, resolving references.
  const convert = (draft: DraftNode, path: string): FdtNode => {
    const props: FdtProperty[] = draft.props.map((p) => {
      if ('value' in p) return { name: p.name, value: p.value.slice() };
      const cells = p.cells.map((c) => {
        if (typeof c === 'number') return c;
        const ph = phandles.get(c.ref);
        if (ph === undefined) throw new FdtError(-1, `property '${p.name}' refers to unknown label '&${c.ref}'`, path);
        return ph;
      });
      return { name: p.name, value: cellsBytes(cells) };
    });
    const ph = extra.get(draft);
    if (ph !== undefined) props.push({ name: 'phandle', value: cellsBytes([ph]) });
    return { name: draft.name, props, children: draft.children.map((c) => convert(c, joinPath(path, c.name))) };
  };
  return {
    version: 17,
    bootCpuid: spec.bootCpuid ?? 0,
    reservations: (spec.reservations ?? []).map((r) => ({ address: r.address, size: r.size })),
    root: convert(spec.root, '/'),
  };
}
