import { EINVAL, EOVERFLOW } from '../errno.js';
import type { OfNode } from './node.js';
import { ofReadNumber, ofPropertyReadStringArray, ofPropertyReadU32 } from './property.js';

/** The kernel's defaults when no ancestor gives #address-cells / #size-cells. */
export const OF_ROOT_NODE_ADDR_CELLS_DEFAULT = 1;
export const OF_ROOT_NODE_SIZE_CELLS_DEFAULT = 1;
/** Largest cell count an address may use (the kernel's OF_MAX_ADDR_CELLS). */
export const OF_MAX_ADDR_CELLS = 4;

function busCells(node: OfNode | null, name: string, dflt: number): number {
  for (let n = node; n; n = n.parent) {
    const v = ofPropertyReadU32(n, name);
    if (v >= 0) return v;
  }
  return dflt;
}

/** of_n_addr_cells: #address-cells that applies to `node`'s `reg` (from its parent, inherited). */
export function ofNAddrCells(node: OfNode): number {
  return busCells(node.parent ?? node, '#address-cells', OF_ROOT_NODE_ADDR_CELLS_DEFAULT);
}

/** of_n_size_cells: #size-cells that applies to `node`'s `reg`. */
export function ofNSizeCells(node: OfNode): number {
  return busCells(node.parent ?? node, '#size-cells', OF_ROOT_NODE_SIZE_CELLS_DEFAULT);
}

/** One untranslated `reg` entry (bus address and size, as of_get_address gives them). */
export interface OfRegEntry {
  readonly addr: number;
  readonly size: number;
}

/**
 * of_get_address: entry `index` of `reg`, in the parent bus's address space.
 * -EINVAL without `reg`, for an index past the end or bad cell counts; -EOVERFLOW when a
 * value does not fit 53 bits.
 */
export function ofGetAddress(node: OfNode, index: number): OfRegEntry | number {
  const reg = node.property('reg');
  if (reg === undefined || !Number.isInteger(index) || index < 0) return -EINVAL;
  const na = ofNAddrCells(node);
  const ns = ofNSizeCells(node);
  if (na < 1 || na > OF_MAX_ADDR_CELLS || ns > OF_MAX_ADDR_CELLS) return -EINVAL;
  const one = (na + ns) * 4;
  if ((index + 1) * one > reg.length) return -EINVAL;
  const addr = ofReadNumber(reg, index * one, na);
  const size = ofReadNumber(reg, index * one + na * 4, ns);
  if (addr === undefined || size === undefined) return -EOVERFLOW;
  return { addr, size };
}

/** Number of complete `reg` entries. */
export function ofRegCount(node: OfNode): number {
  const reg = node.property('reg');
  if (reg === undefined) return 0;
  const one = (ofNAddrCells(node) + ofNSizeCells(node)) * 4;
  return one > 0 ? Math.floor(reg.length / one) : 0;
}

/**
 * of_translate_address: maps a bus address of `node`'s `reg` space to a CPU physical address
 * by walking up through each ancestor bus's `ranges` (empty `ranges` is an identity map;
 * a bus without `ranges` cannot be translated through). Returns -EINVAL when untranslatable.
 */
export function ofTranslateAddress(node: OfNode, busAddr: number): number {
  let addr = busAddr;
  let na = ofNAddrCells(node);
  let ns = ofNSizeCells(node);
  let bus = node.parent;
  if (!bus) return -EINVAL; // the root has no reg space of its own
  while (bus.parent) {
    const pna = ofNAddrCells(bus);
    const ranges = bus.property('ranges');
    if (ranges === undefined) return -EINVAL;
    if (ranges.length > 0) {
      const one = (na + pna + ns) * 4;
      if (na < 1 || pna < 1 || one === 0) return -EINVAL;
      let mapped: number | undefined;
      for (let off = 0; off + one <= ranges.length; off += one) {
        const child = ofReadNumber(ranges, off, na);
        const parent = ofReadNumber(ranges, off + na * 4, pna);
        const size = ofReadNumber(ranges, off + (na + pna) * 4, ns);
        if (child === undefined || parent === undefined || size === undefined) continue;
        if (addr >= child && addr - child < size) {
          mapped = parent + (addr - child);
          break;
        }
      }
      if (mapped === undefined || mapped > Number.MAX_SAFE_INTEGER) return -EINVAL;
      addr = mapped;
    }
    na = pna;
    ns = ofNSizeCells(bus);
    bus = bus.parent;
  }
  return addr;
}

/** A memory resource (struct resource): `end` is inclusive, as in the kernel. */
export interface OfResource {
  readonly start: number;
  readonly end: number;
  readonly name: string;
}

/**
 * of_address_to_resource: `reg` entry `index` translated to a CPU physical range, named
 * from `reg-names` when present, otherwise after the node's full path. -EINVAL on failure.
 */
export function ofAddressToResource(node: OfNode, index: number): OfResource | number {
  const r = ofGetAddress(node, index);
  if (typeof r === 'number') return -EINVAL;
  const start = ofTranslateAddress(node, r.addr);
  if (start < 0) return -EINVAL;
  const names = ofPropertyReadStringArray(node, 'reg-names');
  const name = typeof names !== 'number' && index < names.length ? names[index]! : node.fullName;
  return { start, end: start + r.size - 1, name };
}
