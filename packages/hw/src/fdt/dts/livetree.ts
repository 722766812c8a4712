/**
 * The tree the DTS parser builds, before it becomes an FdtTree: nodes and properties that
 * can be deleted and brought back, labels, and property values still holding unresolved
 * references. Merging, deletion, phandle allocation and reference resolution follow what
 * dtc does, so the resulting blob has the same node and property order, the same phandle
 * numbers and the same `phandle` properties as dtc's:
 *
 * - a node or property deleted with /delete-node/ or /delete-property/ keeps its place; if it
 *   is defined again later it comes back at that place (with only its new contents);
 * - an override (`/ {...}`, `&label {...}`) replaces colliding properties in place, appends
 *   new ones, merges colliding children and appends new ones;
 * - explicit `phandle` values are taken first; then every `<&ref>` is resolved walking the
 *   tree depth first in document order (properties in order, references in order), and a
 *   node without a phandle gets the lowest unused number from a counter that only moves
 *   forward, with a `phandle` property appended to it;
 * - then `&ref` outside cells becomes the target's path; then /omit-if-no-ref/ nodes that
 *   nothing referenced are deleted.
 */
import { DtsError, type DtsSourcePos } from './error.js';
import type { FdtNode, FdtProperty, FdtReservation, FdtTree } from '../types.js';

export interface LMarker {
  offset: number;
  readonly kind: 'phandle' | 'path' | 'label';
  readonly ref: string;
  readonly pos: DtsSourcePos;
}

/** A property value under construction: bytes plus references still to resolve. */
export class LData {
  bytes: number[] = [];
  markers: LMarker[] = [];
}

export class LLabel {
  constructor(
    readonly name: string,
    public deleted = false,
  ) {}
}

/** A macro nobody defined, compiled to 0 (or "") in a property value, for the checks after parsing. */
export interface LMacroUse {
  readonly name: string;
  /** Offset in the preprocessed text (for its source position). */
  readonly at: number;
  /** Byte offset of the cell (or string) it stands in, in the property value. */
  readonly offset: number;
  /** It stands for a whole value (a string macro such as LED_FUNCTION_STATUS): "" in its place. */
  readonly string: boolean;
  /** It was used as a function-like macro (its argument list skipped). */
  call: boolean;
}

export class LProp {
  labels: LLabel[] = [];
  deleted = false;
  /** Undefined macros that stand as 0 in this value (see DtsParser and index.ts). */
  macros: readonly LMacroUse[] | null = null;
  constructor(
    readonly name: string,
    public data: LData,
    public pos: DtsSourcePos,
  ) {}
}

export class LNode {
  name = '';
  labels: LLabel[] = [];
  props: LProp[] = [];
  children: LNode[] = [];
  parent: LNode | null = null;
  deleted = false;
  omitIfUnused = false;
  referenced = false;
  phandle = 0;
  constructor(public pos: DtsSourcePos) {}

  liveChildren(): LNode[] {
    return this.children.filter((c) => !c.deleted);
  }
  liveProps(): LProp[] {
    return this.props.filter((p) => !p.deleted);
  }
  getProp(name: string): LProp | undefined {
    return this.props.find((p) => !p.deleted && p.name === name);
  }
  get fullPath(): string {
    if (this.parent === null) return '/';
    const parts: string[] = [];
    for (let n: LNode | null = this; n && n.parent; n = n.parent) parts.push(n.name);
    return '/' + parts.reverse().join('/');
  }
}

export function addLabel(labels: LLabel[], name: string): void {
  const l = labels.find((x) => x.name === name);
  if (l) l.deleted = false;
  else labels.push(new LLabel(name));
}

function deleteLabels(labels: LLabel[]): void {
  for (const l of labels) l.deleted = true;
}

export function deleteProperty(p: LProp): void {
  p.deleted = true;
  deleteLabels(p.labels);
}

export function deleteNode(n: LNode): void {
  n.deleted = true;
  for (const c of n.children) if (!c.deleted) deleteNode(c);
  for (const p of n.props) if (!p.deleted) deleteProperty(p);
  deleteLabels(n.labels);
}

/** Merges the override `nw` into `old` (dtc's merge_nodes). */
export function mergeNodes(old: LNode, nw: LNode): LNode {
  old.deleted = false;
  for (const l of nw.labels) addLabel(old.labels, l.name);
  for (const np of nw.props) {
    if (np.deleted) {
      const victim = old.props.find((p) => p.name === np.name);
      if (victim) deleteProperty(victim);
      continue;
    }
    const op = old.props.find((p) => p.name === np.name);
    if (op) {
      for (const l of np.labels) addLabel(op.labels, l.name);
      op.data = np.data;
      op.macros = np.macros;
      op.deleted = false;
      op.pos = np.pos;
    } else old.props.push(np);
  }
  for (const nc of nw.children) {
    if (nc.deleted) {
      const victim = old.children.find((c) => c.name === nc.name);
      if (victim) deleteNode(victim);
      continue;
    }
    const oc = old.children.find((c) => c.name === nc.name);
    if (oc) mergeNodes(oc, nc);
    else {
      nc.parent = old;
      old.children.push(nc);
    }
  }
  return old;
}

export function getNodeByPath(tree: LNode, path: string): LNode | undefined {
  let node = tree;
  let rest = path;
  for (;;) {
    if (rest === '') return node.deleted ? undefined : node;
    rest = rest.replace(/^\/+/, '');
    if (rest === '') return node.deleted ? undefined : node;
    const slash = rest.indexOf('/');
    const part = slash < 0 ? rest : rest.slice(0, slash);
    const next = node.children.find((c) => !c.deleted && c.name === part);
    if (!next) return undefined;
    if (slash < 0) return next;
    node = next;
    rest = rest.slice(slash + 1);
  }
}

export function getNodeByLabel(tree: LNode, label: string): LNode | undefined {
  const stack = [tree];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (n.labels.some((l) => !l.deleted && l.name === label)) return n;
    for (let i = n.children.length - 1; i >= 0; i--) if (!n.children[i]!.deleted) stack.push(n.children[i]!);
  }
  return undefined;
}

/** A reference: "/" (the root), "/a/b" (a path), "label" or "label/a/b" (relative to a label). */
export function getNodeByRef(tree: LNode, ref: string): LNode | undefined {
  if (ref === '/') return tree;
  if (ref.startsWith('/')) return getNodeByPath(tree, ref);
  const slash = ref.indexOf('/');
  const target = getNodeByLabel(tree, slash < 0 ? ref : ref.slice(0, slash));
  if (!target) return undefined;
  return slash < 0 ? target : getNodeByPath(target, ref.slice(slash + 1));
}

/** Nodes that are not deleted, depth first in document order (parents before children). */
function liveNodes(root: LNode): LNode[] {
  const out: LNode[] = [];
  const stack = [root];
  while (stack.length > 0) {
    const n = stack.pop()!;
    out.push(n);
    for (let i = n.children.length - 1; i >= 0; i--) if (!n.children[i]!.deleted) stack.push(n.children[i]!);
  }
  return out;
}

const NODE_CHARS = /^[a-zA-Z0-9,._+@-]*$/;
const PROP_CHARS = /^[a-zA-Z0-9,._+*#?-]*$/;
const U32 = 0xffffffff;

function be32(bytes: number[], off: number): number {
  return ((bytes[off]! << 24) | (bytes[off + 1]! << 16) | (bytes[off + 2]! << 8) | bytes[off + 3]!) >>> 0;
}

function validPhandle(p: number): boolean {
  return p !== 0 && p !== U32;
}

export interface LTreeInfo {
  readonly root: LNode;
  readonly reservations: FdtReservation[];
  readonly bootCpuid: number;
}

/**
 * dtc's checks that can fail or change the tree (node and property names, `name`
 * properties, duplicate labels, explicit phandles), then reference resolution and
 * /omit-if-no-ref/. Throws DtsError where dtc reports an error.
 */
export function resolveTree(root: LNode): void {
  const nodes = liveNodes(root);
  // duplicate node names (a deleted sibling of the same name counts, as in dtc) and properties
  for (const n of nodes) {
    for (let i = 0; i < n.children.length; i++) {
      const c = n.children[i]!;
      if (c.deleted) continue;
      for (let j = i + 1; j < n.children.length; j++)
        if (n.children[j]!.name === c.name) throw new DtsError(n.children[j]!.pos, `duplicate node name '${c.name}' in ${n.fullPath}`);
    }
    for (let i = 0; i < n.props.length; i++) {
      const p = n.props[i]!;
      if (p.deleted) continue;
      for (let j = i + 1; j < n.props.length; j++) {
        const q = n.props[j]!;
        if (!q.deleted && q.name === p.name) throw new DtsError(q.pos, `duplicate property '${p.name}' in ${n.fullPath}`);
      }
    }
  }
  for (const n of nodes) {
    if (n.parent !== null) {
      const bad = /[^a-zA-Z0-9,._+@-]/.exec(n.name);
      if (!NODE_CHARS.test(n.name)) throw new DtsError(n.pos, `bad character '${bad?.[0] ?? '?'}' in node name '${n.name}'`);
      if ((n.name.match(/@/g) ?? []).length > 1) throw new DtsError(n.pos, `node name '${n.name}' has more than one '@'`);
    }
    for (const p of n.liveProps())
      if (!PROP_CHARS.test(p.name))
        throw new DtsError(p.pos, `bad character '${/[^a-zA-Z0-9,._+*#?-]/.exec(p.name)?.[0]}' in property name '${p.name}'`);
  }
  // a "name" property equal to the node's base name is redundant and dropped; any other is an error
  for (const n of nodes) {
    const i = n.props.findIndex((p) => p.name === 'name');
    if (i < 0) continue;
    const p = n.props[i]!;
    const base = n.name.split('@')[0]!;
    const ok = p.data.bytes.length === base.length + 1 && base.split('').every((ch, k) => p.data.bytes[k] === ch.charCodeAt(0));
    if (!ok) throw new DtsError(p.pos, `"name" property of ${n.fullPath} differs from the node's base name '${base}'`);
    n.props.splice(i, 1);
  }
  checkDuplicateLabels(nodes);

  // explicit phandles
  const byPhandle = new Map<number, LNode>();
  for (const n of nodes) {
    for (const p of n.liveProps()) {
      if (p.name !== 'phandle' && p.name !== 'linux,phandle') continue;
      if (p.data.bytes.length !== 4) throw new DtsError(p.pos, `${n.fullPath} has a ${p.name} property of ${p.data.bytes.length} bytes (must be one cell)`);
      const ref = p.data.markers.find((m) => m.kind === 'phandle');
      if (ref) {
        if (getNodeByRef(root, ref.ref) !== n) throw new DtsError(p.pos, `${p.name} in ${n.fullPath} is a reference to another node`);
        continue; // 'phandle = <&self>': allocate one for this node
      }
      const v = be32(p.data.bytes, 0);
      if (!validPhandle(v)) throw new DtsError(p.pos, `${n.fullPath} has the invalid ${p.name} value 0x${v.toString(16)}`);
      if (n.phandle !== 0 && n.phandle !== v) throw new DtsError(p.pos, `${n.fullPath} has ${p.name} which replaces its phandle 0x${n.phandle.toString(16)}`);
      const other = byPhandle.get(v);
      if (other && other !== n) throw new DtsError(p.pos, `${n.fullPath} has the phandle 0x${v.toString(16)} of ${other.fullPath}`);
      n.phandle = v;
      byPhandle.set(v, n);
    }
  }

  // <&ref> in cells: phandles, allocated in reference order
  let next = 1;
  const phandleOf = (n: LNode): number => {
    if (validPhandle(n.phandle)) return n.phandle;
    while (byPhandle.has(next)) next++;
    n.phandle = next;
    byPhandle.set(next, n);
    if (!n.getProp('phandle')) {
      const d = new LData();
      d.bytes.push((next >>> 24) & 0xff, (next >>> 16) & 0xff, (next >>> 8) & 0xff, next & 0xff);
      n.props.push(new LProp('phandle', d, n.pos));
    }
    return n.phandle;
  };
  for (const n of nodes) {
    for (const p of n.props) {
      if (p.deleted) continue;
      for (const m of p.data.markers) {
        if (m.kind !== 'phandle') continue;
        const target = getNodeByRef(root, m.ref);
        if (!target) throw new DtsError(m.pos, `reference to a non-existent node or label '${m.ref}'`);
        const ph = phandleOf(target);
        target.referenced = true;
        const b = p.data.bytes;
        b[m.offset] = (ph >>> 24) & 0xff;
        b[m.offset + 1] = (ph >>> 16) & 0xff;
        b[m.offset + 2] = (ph >>> 8) & 0xff;
        b[m.offset + 3] = ph & 0xff;
      }
    }
  }
  // &ref outside cells: the target's full path, NUL-terminated
  for (const n of nodes) {
    for (const p of n.props) {
      if (p.deleted || !p.data.markers.some((m) => m.kind === 'path')) continue;
      const d = p.data;
      let shift = 0;
      for (const m of d.markers) {
        m.offset += shift;
        if (m.kind !== 'path') continue;
        const target = getNodeByRef(root, m.ref);
        if (!target) throw new DtsError(m.pos, `reference to a non-existent node or label '${m.ref}'`);
        target.referenced = true;
        const path = target.fullPath;
        const ins: number[] = [];
        for (let k = 0; k < path.length; k++) ins.push(path.charCodeAt(k) & 0xff);
        ins.push(0);
        d.bytes = d.bytes.slice(0, m.offset).concat(ins, d.bytes.slice(m.offset));
        shift += ins.length;
      }
    }
  }
  // /omit-if-no-ref/
  for (const n of nodes) if (!n.deleted && n.omitIfUnused && !n.referenced) deleteNode(n);
}

function checkDuplicateLabels(nodes: readonly LNode[]): void {
  const owner = new Map<string, string>();
  const claim = (label: string, who: string, pos: DtsSourcePos): void => {
    const prev = owner.get(label);
    if (prev !== undefined && prev !== who) throw new DtsError(pos, `duplicate label '${label}' on ${who} and ${prev}`);
    owner.set(label, who);
  };
  for (const n of nodes) {
    for (const l of n.labels) if (!l.deleted) claim(l.name, n.fullPath, n.pos);
    for (const p of n.liveProps()) {
      for (const l of p.labels) if (!l.deleted) claim(l.name, `property '${p.name}' of ${n.fullPath}`, p.pos);
      for (const m of p.data.markers)
        if (m.kind === 'label') claim(m.ref, `the value of '${p.name}' in ${n.fullPath} (offset ${m.offset})`, m.pos);
    }
  }
}

/** dtc's guess of the boot CPU: the `reg` of the first child of /cpus, when it is one cell. */
export function guessBootCpuid(root: LNode): number {
  const cpus = getNodeByPath(root, '/cpus');
  const first = cpus?.children[0];
  const reg = first?.getProp('reg');
  return reg && reg.data.bytes.length === 4 ? be32(reg.data.bytes, 0) : 0;
}

/** The FdtTree of a resolved tree (deleted nodes and properties left out). */
export function toFdt(info: LTreeInfo): FdtTree {
  const convert = (n: LNode): FdtNode => {
    const props: FdtProperty[] = n.liveProps().map((p) => ({ name: p.name, value: Uint8Array.from(p.data.bytes) }));
    return { name: n.name, props, children: [] };
  };
  const root = convert(info.root);
  const stack: [LNode, FdtNode][] = [[info.root, root]];
  while (stack.length > 0) {
    const [l, f] = stack.pop()!;
    for (const c of l.liveChildren()) {
      const fc = convert(c);
      f.children.push(fc);
      stack.push([c, fc]);
    }
  }
  return { version: 17, bootCpuid: info.bootCpuid, reservations: info.reservations, root };
}
