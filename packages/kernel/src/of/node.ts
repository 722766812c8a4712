import type { FdtNode, FdtTree } from '@gki/hw';

/** Reads the big-endian u32 cell at byte offset `off` of `bytes`. */
export function be32(bytes: Uint8Array, off: number): number {
  return ((bytes[off]! << 24) | (bytes[off + 1]! << 16) | (bytes[off + 2]! << 8) | bytes[off + 3]!) >>> 0;
}

/**
 * A device-tree node as the kernel sees it after unflattening (Linux `struct device_node`):
 * its full path, parent, children, properties and phandle. Property values are the raw
 * big-endian bytes of the blob; read them with the `ofPropertyRead*` helpers.
 */
export class OfNode {
  /** Name with unit address, e.g. "iommu@2b400000"; "" for the root. */
  readonly name: string;
  /** Full path, e.g. "/soc/iommu@2b400000"; "/" for the root. */
  readonly fullName: string;
  readonly children: OfNode[] = [];
  readonly props: ReadonlyMap<string, Uint8Array>;
  /** The node's phandle (from `phandle` or `linux,phandle`), 0 when it has none. */
  readonly phandle: number;

  constructor(
    readonly tree: OfTree,
    readonly parent: OfNode | null,
    fdt: FdtNode,
  ) {
    this.name = fdt.name;
    this.fullName = parent === null ? '/' : parent.parent === null ? `/${fdt.name}` : `${parent.fullName}/${fdt.name}`;
    const props = new Map<string, Uint8Array>();
    // A repeated property name keeps its first value, as unflattening does.
    for (const p of fdt.props) if (!props.has(p.name)) props.set(p.name, p.value);
    this.props = props;
    const ph = props.get('phandle') ?? props.get('linux,phandle');
    const v = ph && ph.length === 4 ? be32(ph, 0) : 0;
    this.phandle = v === 0xffffffff ? 0 : v;
  }

  /** The name without its unit address ("iommu"), what `%pOFn` prints. */
  get baseName(): string {
    const at = this.name.indexOf('@');
    return at < 0 ? this.name : this.name.slice(0, at);
  }

  /** The unit address part of the name ("2b400000"), or "" without one. */
  get unitAddress(): string {
    const at = this.name.indexOf('@');
    return at < 0 ? '' : this.name.slice(at + 1);
  }

  property(name: string): Uint8Array | undefined {
    return this.props.get(name);
  }

  hasProperty(name: string): boolean {
    return this.props.has(name);
  }

  /** The direct child called `name` (with unit address), if any. */
  child(name: string): OfNode | undefined {
    return this.children.find((c) => c.name === name);
  }

  /** True when `other` is this node or one of its ancestors. */
  isDescendantOf(other: OfNode): boolean {
    for (let n: OfNode | null = this; n; n = n.parent) if (n === other) return true;
    return false;
  }

  toString(): string {
    return this.fullName;
  }
}

/** An unflattened device tree: the node graph plus the phandle and path indexes. */
export class OfTree {
  readonly root: OfNode;
  private readonly byPhandle = new Map<number, OfNode>();
  private readonly byPath = new Map<string, OfNode>();
  private readonly order: OfNode[] = [];

  constructor(readonly fdt: FdtTree) {
    this.root = this.build(fdt.root, null);
  }

  /** Builds the nodes depth first; iterative so that a deep tree cannot overflow the stack. */
  private build(rootFdt: FdtNode, parent: OfNode | null): OfNode {
    const root = new OfNode(this, parent, rootFdt);
    const stack: [FdtNode, OfNode][] = [[rootFdt, root]];
    this.index(root);
    while (stack.length > 0) {
      const [f, n] = stack.pop()!;
      const kids = f.children.map((c) => new OfNode(this, n, c));
      n.children.push(...kids);
      for (let i = kids.length - 1; i >= 0; i--) stack.push([f.children[i]!, kids[i]!]);
    }
    // index in document (pre-)order
    const walk: OfNode[] = [root];
    this.order.length = 0;
    while (walk.length > 0) {
      const n = walk.pop()!;
      this.order.push(n);
      if (n !== root) this.index(n);
      for (let i = n.children.length - 1; i >= 0; i--) walk.push(n.children[i]!);
    }
    return root;
  }

  private index(n: OfNode): void {
    if (!this.byPath.has(n.fullName)) this.byPath.set(n.fullName, n);
    // Duplicate phandles: the first node in document order keeps it.
    if (n.phandle !== 0 && !this.byPhandle.has(n.phandle)) this.byPhandle.set(n.phandle, n);
  }

  /** Every node in document order (root first). */
  nodes(): readonly OfNode[] {
    return this.order;
  }

  /** of_find_node_by_path: "/soc/dma@a000000" (exact node names). */
  findByPath(path: string): OfNode | undefined {
    if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
    return this.byPath.get(path);
  }

  /** of_find_node_by_phandle: undefined for 0, 0xffffffff or an unknown handle. */
  findByPhandle(phandle: number): OfNode | undefined {
    return this.byPhandle.get(phandle);
  }
}
