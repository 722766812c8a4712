/**
 * DTB decoder (Devicetree Specification v0.4, chapter 5 "Flattened Devicetree (DTB) Format").
 *
 * The decoder is strict: anything the specification does not allow is reported as an
 * `FdtError` carrying the blob offset where it was noticed. Every loop advances through the
 * blob by at least four bytes per step, so a hostile blob cannot make it hang, and no other
 * exception type escapes.
 */
import { FdtError, type FdtNode, type FdtProperty, type FdtReservation, type FdtTree } from './types.js';

export const FDT_MAGIC = 0xd00dfeed;
export const FDT_BEGIN_NODE = 0x1;
export const FDT_END_NODE = 0x2;
export const FDT_PROP = 0x3;
export const FDT_NOP = 0x4;
export const FDT_END = 0x9;
/** Header sizes: version 17 adds size_dt_struct to the version 16 header. */
export const FDT_V16_HEADER_SIZE = 36;
export const FDT_V17_HEADER_SIZE = 40;
/** Oldest layout this package reads, and the newest last_comp_version it understands. */
export const FDT_FIRST_SUPPORTED_VERSION = 16;
export const FDT_LAST_SUPPORTED_VERSION = 17;

/** Header field byte offsets. */
const H_MAGIC = 0;
const H_TOTALSIZE = 4;
const H_OFF_STRUCT = 8;
const H_OFF_STRINGS = 12;
const H_OFF_RSVMAP = 16;
const H_VERSION = 20;
const H_LAST_COMP = 24;
const H_BOOT_CPUID = 28;
const H_SIZE_STRINGS = 32;
const H_SIZE_STRUCT = 36;

const TWO_POW_32 = 2 ** 32;
/** Largest high word whose 64-bit value still stays an exact JS integer (< 2^53). */
const MAX_SAFE_HI = 0x1fffff;

function hex(n: number): string {
  return '0x' + n.toString(16);
}

/** Decodes a byte range as Latin-1: one char per byte, so names round-trip byte for byte. */
function latin1(blob: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(blob[i]!);
  return s;
}

/** Offset of the first NUL in [start, end), or -1. */
function findNul(blob: Uint8Array, start: number, end: number): number {
  for (let i = start; i < end; i++) if (blob[i] === 0) return i;
  return -1;
}

function align4(n: number): number {
  return Math.ceil(n / 4) * 4;
}

interface OpenNode {
  readonly node: FdtNode;
  readonly offset: number;
  readonly childNames: Set<string>;
  readonly propNames: Set<string>;
}

/**
 * Parses a DTB. The returned tree owns copies of the property values (it does not alias
 * `blob`). Throws `FdtError(offset, reason)` for any malformed input, and nothing else.
 */
export function parseDtb(blob: Uint8Array): FdtTree {
  if (!(blob instanceof Uint8Array)) throw new FdtError(0, 'blob is not a Uint8Array');
  const len = blob.length;
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const u32 = (off: number): number => view.getUint32(off, false);

  // Header: enough of it to read magic and version first, then the rest of its fields.
  if (len < 4) throw new FdtError(len, `truncated header: ${len} byte(s), need at least 4 for the magic`);
  const magic = u32(H_MAGIC);
  if (magic !== FDT_MAGIC) throw new FdtError(H_MAGIC, `bad magic ${hex(magic)} (expected ${hex(FDT_MAGIC)})`);
  if (len < H_LAST_COMP + 4) throw new FdtError(len, `truncated header: ${len} bytes`);
  const version = u32(H_VERSION);
  const lastComp = u32(H_LAST_COMP);
  if (version < FDT_FIRST_SUPPORTED_VERSION)
    throw new FdtError(H_VERSION, `unsupported version ${version} (need >= ${FDT_FIRST_SUPPORTED_VERSION})`);
  if (lastComp > FDT_LAST_SUPPORTED_VERSION)
    throw new FdtError(H_LAST_COMP, `last_comp_version ${lastComp} is newer than ${FDT_LAST_SUPPORTED_VERSION}`);
  if (lastComp > version)
    throw new FdtError(H_LAST_COMP, `last_comp_version ${lastComp} is above version ${version}`);
  const headerSize = version >= 17 ? FDT_V17_HEADER_SIZE : FDT_V16_HEADER_SIZE;
  if (len < headerSize) throw new FdtError(len, `truncated header: ${len} bytes, version ${version} needs ${headerSize}`);

  const totalsize = u32(H_TOTALSIZE);
  if (totalsize > len) throw new FdtError(H_TOTALSIZE, `totalsize ${totalsize} is larger than the blob (${len} bytes)`);
  if (totalsize < headerSize) throw new FdtError(H_TOTALSIZE, `totalsize ${totalsize} is smaller than the header`);
  const offStruct = u32(H_OFF_STRUCT);
  const offStrings = u32(H_OFF_STRINGS);
  const offRsv = u32(H_OFF_RSVMAP);
  const bootCpuid = u32(H_BOOT_CPUID);
  const sizeStrings = u32(H_SIZE_STRINGS);

  // Block placement: inside [headerSize, totalsize], aligned as the specification requires.
  if (offStruct < headerSize) throw new FdtError(H_OFF_STRUCT, `structure block at ${hex(offStruct)} overlaps the header`);
  if (offStruct > totalsize) throw new FdtError(H_OFF_STRUCT, `structure block at ${hex(offStruct)} is past totalsize`);
  if (offStruct % 4) throw new FdtError(H_OFF_STRUCT, `structure block at ${hex(offStruct)} is not 4-byte aligned`);
  let structEnd = totalsize;
  if (version >= 17) {
    const sizeStruct = u32(H_SIZE_STRUCT);
    if (offStruct + sizeStruct > totalsize)
      throw new FdtError(H_SIZE_STRUCT, `structure block ${hex(offStruct)}+${hex(sizeStruct)} runs past totalsize`);
    structEnd = offStruct + sizeStruct;
  }
  if (offStrings < headerSize) throw new FdtError(H_OFF_STRINGS, `strings block at ${hex(offStrings)} overlaps the header`);
  if (offStrings + sizeStrings > totalsize)
    throw new FdtError(H_SIZE_STRINGS, `strings block ${hex(offStrings)}+${hex(sizeStrings)} runs past totalsize`);
  if (offRsv < headerSize) throw new FdtError(H_OFF_RSVMAP, `memory reservation block at ${hex(offRsv)} overlaps the header`);
  if (offRsv % 8) throw new FdtError(H_OFF_RSVMAP, `memory reservation block at ${hex(offRsv)} is not 8-byte aligned`);
  if (offRsv > totalsize) throw new FdtError(H_OFF_RSVMAP, `memory reservation block at ${hex(offRsv)} is past totalsize`);

  const reservations = parseReservations(blob, u32, offRsv, totalsize);

  // Structure block.
  const stringsEnd = offStrings + sizeStrings;
  const stack: OpenNode[] = [];
  let root: FdtNode | undefined;
  let pos = offStruct;
  for (;;) {
    if (pos + 4 > structEnd) throw new FdtError(Math.min(pos, len), 'structure block ends without FDT_END');
    const token = u32(pos);
    const tokenOff = pos;
    pos += 4;
    switch (token) {
      case FDT_BEGIN_NODE: {
        const nul = findNul(blob, pos, structEnd);
        if (nul < 0) throw new FdtError(pos, 'unterminated node name');
        const name = latin1(blob, pos, nul);
        pos = align4(nul + 1);
        if (pos > structEnd) throw new FdtError(nul, 'node name padding runs past the structure block');
        const node: FdtNode = { name, props: [], children: [] };
        const parent = stack[stack.length - 1];
        if (parent === undefined) {
          if (root !== undefined) throw new FdtError(tokenOff, 'second top-level node after the root was closed');
          if (name !== '') throw new FdtError(tokenOff, `first node is '${name}', not the root ('')`);
          root = node;
        } else {
          if (name === '') throw new FdtError(tokenOff + 4, 'empty node name below the root');
          if (name.includes('/')) throw new FdtError(tokenOff + 4, `node name '${name}' contains '/'`);
          if (parent.childNames.has(name)) throw new FdtError(tokenOff, `duplicate node name '${name}'`);
          parent.childNames.add(name);
          parent.node.children.push(node);
        }
        stack.push({ node, offset: tokenOff, childNames: new Set(), propNames: new Set() });
        break;
      }
      case FDT_END_NODE:
        if (stack.length === 0) throw new FdtError(tokenOff, 'FDT_END_NODE without a matching FDT_BEGIN_NODE');
        stack.pop();
        break;
      case FDT_PROP: {
        if (pos + 8 > structEnd) throw new FdtError(tokenOff, 'truncated property header');
        const vlen = u32(pos);
        const nameoff = u32(pos + 4);
        const open = stack[stack.length - 1];
        if (open === undefined) throw new FdtError(tokenOff, 'property outside any node');
        if (open.node.children.length > 0) throw new FdtError(tokenOff, 'property after a subnode');
        if (nameoff >= sizeStrings)
          throw new FdtError(pos + 4, `property nameoff ${hex(nameoff)} is outside the strings block (size ${hex(sizeStrings)})`);
        const nameStart = offStrings + nameoff;
        const nul = findNul(blob, nameStart, stringsEnd);
        if (nul < 0) throw new FdtError(nameStart, 'unterminated string in the strings block');
        const name = latin1(blob, nameStart, nul);
        const vstart = pos + 8;
        if (vlen > structEnd - vstart)
          throw new FdtError(pos, `property '${name}' length ${vlen} runs past the structure block`);
        if (open.propNames.has(name)) throw new FdtError(tokenOff, `duplicate property '${name}'`);
        open.propNames.add(name);
        const prop: FdtProperty = { name, value: blob.slice(vstart, vstart + vlen) };
        open.node.props.push(prop);
        pos = align4(vstart + vlen);
        if (pos > structEnd) throw new FdtError(vstart + vlen, `property '${name}' padding runs past the structure block`);
        break;
      }
      case FDT_NOP:
        break;
      case FDT_END: {
        const open = stack[stack.length - 1];
        if (open !== undefined)
          throw new FdtError(tokenOff, `FDT_END with ${stack.length} node(s) still open (innermost began at ${hex(open.offset)})`);
        if (root === undefined) throw new FdtError(tokenOff, 'no root node before FDT_END');
        return { version, bootCpuid, reservations, root };
      }
      default:
        throw new FdtError(tokenOff, `unknown token ${hex(token)}`);
    }
  }
}

function parseReservations(
  blob: Uint8Array,
  u32: (off: number) => number,
  offRsv: number,
  totalsize: number,
): FdtReservation[] {
  const out: FdtReservation[] = [];
  for (let off = offRsv; ; off += 16) {
    if (off + 16 > totalsize)
      throw new FdtError(Math.min(off, blob.length), 'memory reservation block runs past the blob (no 0,0 terminator)');
    const aHi = u32(off);
    const aLo = u32(off + 4);
    const sHi = u32(off + 8);
    const sLo = u32(off + 12);
    if ((aHi | aLo | sHi | sLo) === 0) return out;
    if (aHi > MAX_SAFE_HI) throw new FdtError(off, `reservation address ${hex(aHi)}${aLo.toString(16).padStart(8, '0')} is above 2^53`);
    if (sHi > MAX_SAFE_HI) throw new FdtError(off + 8, `reservation size ${hex(sHi)}${sLo.toString(16).padStart(8, '0')} is above 2^53`);
    out.push({ address: aHi * TWO_POW_32 + aLo, size: sHi * TWO_POW_32 + sLo });
  }
}
