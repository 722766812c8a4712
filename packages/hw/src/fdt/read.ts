/**
 * Read helpers over the in-memory tree: path and phandle look-up, and typed property
 * readers. A reader returns `undefined` when the property is absent and throws an
 * `FdtError` (offset -1, `path` set to the node path) when it is present but its value has
 * the wrong shape, so a caller can tell "not described" from "described wrongly".
 */
import { FdtError, type FdtNode, type FdtProperty, type FdtTree } from './types.js';

export type FdtRootLike = FdtTree | FdtNode;

const TWO_POW_32 = 2 ** 32;

function rootOf(t: FdtRootLike): FdtNode {
  return 'root' in t ? t.root : t;
}

/** "/soc" + "dma@a000000" -> "/soc/dma@a000000". */
export function joinPath(parent: string, name: string): string {
  return parent === '/' ? `/${name}` : `${parent}/${name}`;
}

/** Node name without its unit address: "iommu@2b400000" -> "iommu". */
export function nodeBaseName(name: string): string {
  const at = name.indexOf('@');
  return at < 0 ? name : name.slice(0, at);
}

/** The unit address part of a node name ("2b400000"), or undefined. */
export function nodeUnitAddress(name: string): string | undefined {
  const at = name.indexOf('@');
  return at < 0 ? undefined : name.slice(at + 1);
}

/**
 * The child of `parent` named `name`: an exact match, or, when `name` has no unit address,
 * the only child whose name without unit address equals it.
 */
export function findChild(parent: FdtNode, name: string): FdtNode | undefined {
  const exact = parent.children.find((c) => c.name === name);
  if (exact || name.includes('@')) return exact;
  const loose = parent.children.filter((c) => nodeBaseName(c.name) === name);
  return loose.length === 1 ? loose[0] : undefined;
}

/** The nodes from the root down to the node at `path` (absolute, "/" is the root), or undefined. */
export function nodesOnPath(t: FdtRootLike, path: string): FdtNode[] | undefined {
  if (!path.startsWith('/')) return undefined;
  let cur = rootOf(t);
  const chain = [cur];
  for (const part of path.split('/')) {
    if (part === '') continue;
    const next = findChild(cur, part);
    if (!next) return undefined;
    chain.push(next);
    cur = next;
  }
  return chain;
}

/** The node at an absolute path such as "/soc/iommu@2b400000", or undefined. */
export function findNode(t: FdtRootLike, path: string): FdtNode | undefined {
  const chain = nodesOnPath(t, path);
  return chain?.[chain.length - 1];
}

/**
 * Visits every node depth-first in document order with its full path and its parent.
 * Returning `false` from `visit` skips that node's children.
 */
export function walkTree(
  t: FdtRootLike,
  visit: (node: FdtNode, path: string, parent: FdtNode | undefined) => boolean | void,
): void {
  const stack: { node: FdtNode; path: string; parent: FdtNode | undefined }[] = [
    { node: rootOf(t), path: '/', parent: undefined },
  ];
  while (stack.length) {
    const { node, path, parent } = stack.pop()!;
    if (visit(node, path, parent) === false) continue;
    for (let i = node.children.length - 1; i >= 0; i--) {
      const c = node.children[i]!;
      stack.push({ node: c, path: joinPath(path, c.name), parent: node });
    }
  }
}

export function getProp(node: FdtNode, name: string): FdtProperty | undefined {
  return node.props.find((p) => p.name === name);
}

export function hasProp(node: FdtNode, name: string): boolean {
  return getProp(node, name) !== undefined;
}

function where(node: FdtNode, path: string | undefined): string {
  return path ?? (node.name === '' ? '/' : node.name);
}

function be32(v: Uint8Array, off: number): number {
  return ((v[off]! << 24) | (v[off + 1]! << 16) | (v[off + 2]! << 8) | v[off + 3]!) >>> 0;
}

/** A property value as big-endian 32-bit cells. Throws unless its length is a multiple of 4. */
export function propCells(node: FdtNode, name: string, path?: string): number[] | undefined {
  const p = getProp(node, name);
  if (!p) return undefined;
  if (p.value.length % 4)
    throw new FdtError(-1, `property '${name}' is ${p.value.length} bytes, not a whole number of 32-bit cells`, where(node, path));
  const out: number[] = [];
  for (let i = 0; i < p.value.length; i += 4) out.push(be32(p.value, i));
  return out;
}

/** A one-cell property. Throws unless it is exactly 4 bytes. */
export function propU32(node: FdtNode, name: string, path?: string): number | undefined {
  const p = getProp(node, name);
  if (!p) return undefined;
  if (p.value.length !== 4)
    throw new FdtError(-1, `property '${name}' is ${p.value.length} bytes, expected one 32-bit cell`, where(node, path));
  return be32(p.value, 0);
}

/** A two-cell property as a number. Throws unless it is exactly 8 bytes and below 2^53. */
export function propU64(node: FdtNode, name: string, path?: string): number | undefined {
  const p = getProp(node, name);
  if (!p) return undefined;
  if (p.value.length !== 8)
    throw new FdtError(-1, `property '${name}' is ${p.value.length} bytes, expected a 64-bit value`, where(node, path));
  return cellsToNumber([be32(p.value, 0), be32(p.value, 4)], 0, 2, `property '${name}'`, where(node, path));
}

/**
 * Combines `count` cells starting at `start` (most significant first) into a number.
 * Throws an FdtError when the value does not fit an exact JS integer (2^53 and above).
 */
export function cellsToNumber(cells: readonly number[], start: number, count: number, what = 'value', path?: string): number {
  let v = 0;
  for (let i = 0; i < count; i++) {
    const c = cells[start + i];
    if (c === undefined) throw new FdtError(-1, `${what}: missing cell ${start + i}`, path);
    if (v >= 2 ** 21) throw new FdtError(-1, `${what} does not fit in 53 bits`, path);
    v = v * TWO_POW_32 + c;
  }
  if (!Number.isSafeInteger(v)) throw new FdtError(-1, `${what} does not fit in 53 bits`, path);
  return v;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeStrings(p: FdtProperty, path: string): string[] {
  const v = p.value;
  if (v.length === 0 || v[v.length - 1] !== 0)
    throw new FdtError(-1, `property '${p.name}' is not a NUL-terminated string`, path);
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < v.length; i++) {
    if (v[i] !== 0) continue;
    try {
      out.push(utf8.decode(v.subarray(start, i)));
    } catch {
      throw new FdtError(-1, `property '${p.name}' is not valid UTF-8`, path);
    }
    start = i + 1;
  }
  return out;
}

/** A string property (the first string of a string list, as the kernel reads it). */
export function propString(node: FdtNode, name: string, path?: string): string | undefined {
  const p = getProp(node, name);
  if (!p) return undefined;
  return decodeStrings(p, where(node, path))[0];
}

/** A string-list property ("a\0b\0"). */
export function propStrings(node: FdtNode, name: string, path?: string): string[] | undefined {
  const p = getProp(node, name);
  if (!p) return undefined;
  return decodeStrings(p, where(node, path));
}

/** The node's `phandle` (or legacy `linux,phandle`) value, or undefined. */
export function phandleOf(node: FdtNode, path?: string): number | undefined {
  return propU32(node, 'phandle', path) ?? propU32(node, 'linux,phandle', path);
}

/** The node with phandle `ph` and its path, or undefined. Phandles 0 and 0xffffffff name nothing. */
export function findByPhandleWithPath(t: FdtRootLike, ph: number): { node: FdtNode; path: string } | undefined {
  if (ph === 0 || ph === 0xffffffff) return undefined;
  let found: { node: FdtNode; path: string } | undefined;
  walkTree(t, (node, path) => {
    if (found) return false;
    if (phandleOf(node, path) === ph) found = { node, path };
    return undefined;
  });
  return found;
}

/** The node with phandle `ph`, or undefined. */
export function findByPhandle(t: FdtRootLike, ph: number): FdtNode | undefined {
  return findByPhandleWithPath(t, ph)?.node;
}

/** `#address-cells` of a node (the cells its children use for addresses); 2 when absent. */
export function addressCells(node: FdtNode, path?: string): number {
  return propU32(node, '#address-cells', path) ?? 2;
}

/** `#size-cells` of a node; 1 when absent. */
export function sizeCells(node: FdtNode, path?: string): number {
  return propU32(node, '#size-cells', path) ?? 1;
}

/** The `compatible` strings, most specific first (empty when absent). */
export function compatibleOf(node: FdtNode, path?: string): string[] {
  return propStrings(node, 'compatible', path) ?? [];
}

/** True unless `status` says otherwise ("okay" and "ok" enable, absence enables). */
export function isEnabled(node: FdtNode, path?: string): boolean {
  const s = propString(node, 'status', path);
  return s === undefined || s === 'okay' || s === 'ok';
}

export interface FdtRegEntry {
  readonly address: number;
  readonly size: number;
}

/**
 * Decodes a `reg`-like property as (address, size) pairs with the given cell counts (those
 * of the parent node), without bus translation. Throws when the length is not a whole number
 * of entries or a value exceeds 53 bits.
 */
export function decodeReg(node: FdtNode, ac: number, sc: number, path?: string, name = 'reg'): FdtRegEntry[] {
  const cells = propCells(node, name, path);
  if (!cells) return [];
  const w = where(node, path);
  const per = ac + sc;
  if (ac > 4 || sc > 4) throw new FdtError(-1, `unsupported cell counts #address-cells=${ac} #size-cells=${sc}`, w);
  if (per === 0 || cells.length % per)
    throw new FdtError(-1, `property '${name}' has ${cells.length} cells, not a multiple of ${ac}+${sc}`, w);
  const out: FdtRegEntry[] = [];
  for (let i = 0; i < cells.length; i += per)
    out.push({
      address: cellsToNumber(cells, i, ac, `property '${name}' address`, w),
      size: cellsToNumber(cells, i + ac, sc, `property '${name}' size`, w),
    });
  return out;
}
