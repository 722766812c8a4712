/**
 * DTB encoder: writes a version 17 blob (last_comp_version 16) laid out as
 * header | memory reservation block | structure block | strings block,
 * with the reservation block 8-byte aligned, tokens 4-byte aligned and property names
 * stored once each in the strings block (in order of first use). As dtc does, a name that is
 * the tail of one already stored ("ranges" after "dma-ranges") points into it instead of
 * being stored again, so a tree compiled from DTS gives the same bytes as dtc's blob. The
 * output is a pure function of the tree, so writing the same tree twice gives identical bytes.
 */
import {
  FDT_BEGIN_NODE,
  FDT_END,
  FDT_END_NODE,
  FDT_MAGIC,
  FDT_PROP,
  FDT_V17_HEADER_SIZE,
} from './parse.js';
import { FdtError, type FdtNode, type FdtTree } from './types.js';

const TWO_POW_32 = 2 ** 32;

function align4(n: number): number {
  return Math.ceil(n / 4) * 4;
}

function checkName(name: string, what: string, path: string): void {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 0 || c > 0xff) throw new FdtError(-1, `${what} '${name}' has a character the DTB cannot hold`, path);
  }
}

function childPath(parent: string, name: string): string {
  return parent === '/' ? `/${name}` : `${parent}/${name}`;
}

/** Encodes `tree` as a DTB. Throws FdtError (offset -1, with the node path) for trees no DTB can represent. */
export function writeDtb(tree: FdtTree): Uint8Array {
  if (tree.root.name !== '') throw new FdtError(-1, `root node must be named '' (got '${tree.root.name}')`, '/');
  if (!Number.isInteger(tree.bootCpuid) || tree.bootCpuid < 0 || tree.bootCpuid >= TWO_POW_32)
    throw new FdtError(-1, `boot_cpuid_phys ${tree.bootCpuid} is not a u32`);
  for (const r of tree.reservations)
    if (!Number.isSafeInteger(r.address) || r.address < 0 || !Number.isSafeInteger(r.size) || r.size < 0)
      throw new FdtError(-1, `reservation ${r.address}+${r.size} is not a pair of non-negative safe integers`);

  // First pass: validate, size the structure block and build the string table.
  const strings = new Map<string, number>();
  /** Every tail of every stored name, at its lowest offset (dtc reuses those). */
  const tails = new Map<string, number>();
  let stringsSize = 0;
  let structSize = 4; // FDT_END
  const pending: { node: FdtNode; path: string }[] = [{ node: tree.root, path: '/' }];
  const seen = new Set<FdtNode>();
  while (pending.length) {
    const { node, path } = pending.pop()!;
    if (seen.has(node)) throw new FdtError(-1, 'node appears twice in the tree (a cycle or a shared subtree)', path);
    seen.add(node);
    structSize += 4 + align4(node.name.length + 1) + 4; // BEGIN_NODE, name, END_NODE
    const propNames = new Set<string>();
    for (const p of node.props) {
      checkName(p.name, 'property name', path);
      if (propNames.has(p.name)) throw new FdtError(-1, `duplicate property '${p.name}'`, path);
      propNames.add(p.name);
      structSize += 12 + align4(p.value.length);
      if (!strings.has(p.name)) {
        const shared = tails.get(p.name);
        if (shared !== undefined) strings.set(p.name, shared);
        else {
          strings.set(p.name, stringsSize);
          for (let k = 0; k < p.name.length; k++) {
            const tail = p.name.slice(k);
            if (!tails.has(tail)) tails.set(tail, stringsSize + k);
          }
          stringsSize += p.name.length + 1;
        }
      }
    }
    const childNames = new Set<string>();
    for (const c of node.children) {
      const cp = childPath(path, c.name);
      if (c.name === '' || c.name.includes('/')) throw new FdtError(-1, `bad node name '${c.name}'`, cp);
      checkName(c.name, 'node name', cp);
      if (childNames.has(c.name)) throw new FdtError(-1, `duplicate node name '${c.name}'`, cp);
      childNames.add(c.name);
    }
    // Pushed in reverse so that they pop in document order (string offsets follow first use).
    for (let i = node.children.length - 1; i >= 0; i--) {
      const c = node.children[i]!;
      pending.push({ node: c, path: childPath(path, c.name) });
    }
  }
  const offRsv = FDT_V17_HEADER_SIZE; // 40, a multiple of 8
  const rsvSize = (tree.reservations.length + 1) * 16;
  const offStruct = offRsv + rsvSize;
  const offStrings = offStruct + structSize;
  const totalsize = offStrings + stringsSize;

  const out = new Uint8Array(totalsize);
  const view = new DataView(out.buffer);
  const put = (off: number, v: number): void => view.setUint32(off, v >>> 0, false);

  put(0, FDT_MAGIC);
  put(4, totalsize);
  put(8, offStruct);
  put(12, offStrings);
  put(16, offRsv);
  put(20, 17);
  put(24, 16);
  put(28, tree.bootCpuid);
  put(32, stringsSize);
  put(36, structSize);

  let off = offRsv;
  for (const r of tree.reservations) {
    put(off, Math.floor(r.address / TWO_POW_32));
    put(off + 4, r.address % TWO_POW_32);
    put(off + 8, Math.floor(r.size / TWO_POW_32));
    put(off + 12, r.size % TWO_POW_32);
    off += 16;
  }
  // The terminating 0,0 entry is already zero.

  off = offStruct;
  const putName = (s: string): void => {
    for (let i = 0; i < s.length; i++) out[off + i] = s.charCodeAt(i);
    off = align4(off + s.length + 1); // NUL and padding are already zero
  };
  // Iterative depth-first emission: a frame is a node and the index of its next child.
  const stack: { node: FdtNode; next: number }[] = [];
  const begin = (node: FdtNode): void => {
    put(off, FDT_BEGIN_NODE);
    off += 4;
    putName(node.name);
    for (const p of node.props) {
      put(off, FDT_PROP);
      put(off + 4, p.value.length);
      put(off + 8, strings.get(p.name)!);
      out.set(p.value, off + 12);
      off = align4(off + 12 + p.value.length);
    }
    stack.push({ node, next: 0 });
  };
  begin(tree.root);
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    if (top.next < top.node.children.length) {
      begin(top.node.children[top.next++]!);
    } else {
      put(off, FDT_END_NODE);
      off += 4;
      stack.pop();
    }
  }
  put(off, FDT_END);

  for (const [name, soff] of strings) {
    const base = offStrings + soff;
    for (let i = 0; i < name.length; i++) out[base + i] = name.charCodeAt(i);
  }
  return out;
}
