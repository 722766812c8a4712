import { EILSEQ, EINVAL, ENODATA, EOVERFLOW } from '../errno.js';
import { be32, type OfNode } from './node.js';

/*
 * Property readers with the kernel's return conventions: a value, or a negative errno:
 *   -EINVAL    the property does not exist
 *   -ENODATA   it exists but is empty (a boolean property)
 *   -EOVERFLOW it is too short for what was asked (or not a whole number of elements)
 *   -EILSEQ    a string that is not NUL-terminated
 */

function sized(node: OfNode, name: string, minBytes: number): Uint8Array | number {
  const v = node.property(name);
  if (v === undefined) return -EINVAL;
  if (v.length === 0) return -ENODATA;
  if (v.length < minBytes) return -EOVERFLOW;
  return v;
}

/** of_property_read_u32: the first cell of `name` (>= 0), or -EINVAL/-ENODATA/-EOVERFLOW. */
export function ofPropertyReadU32(node: OfNode, name: string): number {
  return ofPropertyReadU32Index(node, name, 0);
}

/** of_property_read_u32_index: cell `index` of `name`, or a negative errno. */
export function ofPropertyReadU32Index(node: OfNode, name: string, index: number): number {
  if (!Number.isInteger(index) || index < 0) return -EINVAL;
  const v = sized(node, name, (index + 1) * 4);
  return typeof v === 'number' ? v : be32(v, index * 4);
}

/**
 * of_property_read_u32_array: the first `count` cells (all of them when `count` is omitted,
 * in which case the length must be a whole number of cells).
 */
export function ofPropertyReadU32Array(node: OfNode, name: string, count?: number): number[] | number {
  if (count !== undefined && (!Number.isInteger(count) || count <= 0)) return -EINVAL;
  const v = sized(node, name, (count ?? 1) * 4);
  if (typeof v === 'number') return v;
  if (count === undefined) {
    if (v.length % 4) return -EINVAL;
    count = v.length / 4;
  }
  const out = new Array<number>(count);
  for (let i = 0; i < count; i++) out[i] = be32(v, i * 4);
  return out;
}

/** of_property_count_u32_elems: number of cells, or a negative errno. */
export function ofPropertyCountU32Elems(node: OfNode, name: string): number {
  const v = node.property(name);
  if (v === undefined) return -EINVAL;
  if (v.length % 4) return -EINVAL;
  return v.length / 4;
}

/**
 * of_property_read_u64: a two-cell value. Values above 2^53 cannot be a JS number exactly
 * and give -EOVERFLOW (no address in this model is that large).
 */
export function ofPropertyReadU64(node: OfNode, name: string): number {
  const v = sized(node, name, 8);
  if (typeof v === 'number') return v;
  return ofReadNumber(v, 0, 2) ?? -EOVERFLOW;
}

/** True when the property exists (of_property_read_bool). */
export function ofPropertyReadBool(node: OfNode, name: string): boolean {
  return node.hasProperty(name);
}

const DECODER = new TextDecoder('utf-8', { fatal: false });

/** Splits a string-list property; undefined when the last string is not NUL-terminated. */
function splitStrings(v: Uint8Array): string[] | undefined {
  if (v.length === 0 || v[v.length - 1] !== 0) return undefined;
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < v.length; i++) {
    if (v[i] === 0) {
      out.push(DECODER.decode(v.subarray(start, i)));
      start = i + 1;
    }
  }
  return out;
}

/** of_property_read_string: the first string, or -EINVAL/-ENODATA/-EILSEQ. */
export function ofPropertyReadString(node: OfNode, name: string): string | number {
  const v = sized(node, name, 1);
  if (typeof v === 'number') return v;
  const nul = v.indexOf(0);
  if (nul < 0) return -EILSEQ;
  return DECODER.decode(v.subarray(0, nul));
}

/** of_property_read_string_array (all strings), or -EINVAL/-ENODATA/-EILSEQ. */
export function ofPropertyReadStringArray(node: OfNode, name: string): string[] | number {
  const v = sized(node, name, 1);
  if (typeof v === 'number') return v;
  return splitStrings(v) ?? -EILSEQ;
}

/** of_property_match_string: index of `str` in the list, -ENODATA when absent from it. */
export function ofPropertyMatchString(node: OfNode, name: string, str: string): number {
  const list = ofPropertyReadStringArray(node, name);
  if (typeof list === 'number') return list;
  const i = list.indexOf(str);
  return i < 0 ? -ENODATA : i;
}

/**
 * Combines `n` big-endian cells starting at byte `off` into a number; undefined when the
 * value does not fit a JS number exactly (above 2^53 - 1).
 */
export function ofReadNumber(bytes: Uint8Array, off: number, n: number): number | undefined {
  let v = 0;
  for (let i = 0; i < n; i++) {
    v = v * 2 ** 32 + be32(bytes, off + i * 4);
    if (v > Number.MAX_SAFE_INTEGER) return undefined;
  }
  return v;
}

/** of_device_is_available: `status` absent, "okay" or "ok". */
export function ofDeviceIsAvailable(node: OfNode): boolean {
  const s = ofPropertyReadString(node, 'status');
  if (typeof s === 'number') return s === -EINVAL; // absent means enabled
  return s === 'okay' || s === 'ok';
}

/** Score of the best compatible match: entry i of the node's list scores above entry i+1. */
const SCORE_BASE = 2 ** 30;

/**
 * of_device_is_compatible: 0 when `compat` is not in the node's `compatible` list, otherwise
 * a positive score that is higher the earlier the string appears (the first entry is the
 * most specific). Compared case-insensitively, as the kernel does.
 */
export function ofDeviceIsCompatible(node: OfNode, compat: string): number {
  const list = ofPropertyReadStringArray(node, 'compatible');
  if (typeof list === 'number') return 0;
  const want = compat.toLowerCase();
  for (let i = 0; i < list.length; i++) if (list[i]!.toLowerCase() === want) return SCORE_BASE - i * 4;
  return 0;
}

/** One entry of an OF match table (struct of_device_id). */
export interface OfDeviceId {
  readonly compatible: string;
  /** Driver-private data for this match (of_device_get_match_data). */
  readonly data?: unknown;
}

/**
 * of_match_node: the table entry whose compatible appears earliest in the node's
 * `compatible` list (ties keep the first table entry), or undefined.
 */
export function ofMatchNode<T extends OfDeviceId>(matches: readonly T[] | undefined, node: OfNode): T | undefined {
  if (!matches) return undefined;
  let best: T | undefined;
  let bestScore = 0;
  for (const m of matches) {
    const s = ofDeviceIsCompatible(node, m.compatible);
    if (s > bestScore) {
      best = m;
      bestScore = s;
    }
  }
  return best;
}
