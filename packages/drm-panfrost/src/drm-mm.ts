import { EINVAL, ENOSPC, KernelError } from '@gki/kernel';

/**
 * A range allocator with the placement behaviour of the kernel's drm_mm in its default
 * ("best fit") mode, in the units its owner chooses (panfrost: 4 KiB pages).
 *
 * Placement, as drm_mm_insert_node_generic does it: the free holes are tried from the
 * smallest one that can hold the request upwards, and among holes of equal size the most
 * recently created first. For each hole the owner's colour rule may shrink it (`colorAdjust`),
 * then the start is rounded up to the alignment (any alignment, not only powers of two); the
 * first hole where the request still fits wins and the node goes at its lowest fitting start.
 * Freeing a node merges its hole with the neighbouring ones, and the merged hole counts as
 * new. Nodes and holes are kept in small sorted arrays: the counts are those of a process's
 * buffer objects, and nothing here runs per page.
 */

/** An allocated range [start, start + size). */
export interface DrmMmNode {
  readonly start: number;
  readonly size: number;
  readonly color: number;
  /** Set while the node is in its allocator. */
  allocated: boolean;
}

/** drm_mm's colour callback: may move `range.start` up and `range.end` down (end exclusive). */
export type DrmMmColorAdjust = (color: number, range: { start: number; end: number }) => void;

interface Hole {
  start: number;
  end: number;
  /** Creation order: later holes are preferred among equal sizes. */
  seq: number;
}

export class DrmMm {
  /** Allocated nodes sorted by start. */
  private readonly nodes: DrmMmNode[] = [];
  /** Free holes sorted by start. */
  private readonly holes: Hole[] = [];
  private seq = 0;
  readonly start: number;
  readonly end: number;

  constructor(
    start: number,
    size: number,
    private readonly colorAdjust: DrmMmColorAdjust | null = null,
  ) {
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(size) || start < 0 || size <= 0)
      throw new KernelError(-EINVAL, `drm_mm: bad range ${start}+${size}`);
    this.start = start;
    this.end = start + size;
    this.addHole(start, this.end);
  }

  private addHole(start: number, end: number): void {
    if (end <= start) return;
    const h: Hole = { start, end, seq: this.seq++ };
    let i = this.holes.length;
    while (i > 0 && this.holes[i - 1]!.start > start) i--;
    this.holes.splice(i, 0, h);
  }

  /**
   * drm_mm_insert_node_generic: a node of `size` units aligned to `alignment` (0 or 1: none)
   * with colour `color`, or -ENOSPC when no hole can take it (-EINVAL for a bad size or
   * alignment). Nothing changes on failure.
   */
  insert(size: number, alignment: number, color: number): DrmMmNode | number {
    if (!Number.isSafeInteger(size) || size <= 0 || !Number.isSafeInteger(alignment) || alignment < 0) return -EINVAL;
    const align = alignment <= 1 ? 0 : alignment;
    if (size > this.end - this.start) return -ENOSPC;
    // candidate holes: smallest first, then the newest among equal sizes
    const order = this.holes
      .filter((h) => h.end - h.start >= size)
      .sort((a, b) => a.end - a.start - (b.end - b.start) || b.seq - a.seq);
    const range = { start: 0, end: 0 };
    for (const hole of order) {
      range.start = hole.start;
      range.end = hole.end;
      this.colorAdjust?.(color, range);
      const colStart = range.start;
      const colEnd = range.end;
      if (colEnd <= colStart || colEnd - colStart < size) continue;
      let adj = colStart;
      if (align) {
        const rem = adj % align;
        if (rem) {
          adj += align - rem;
          if (adj < colStart || colEnd - adj < size) continue;
        }
      }
      const node: DrmMmNode = { start: adj, size, color, allocated: true };
      // the hole is replaced by what is left below and above the node
      const hi = this.holes.indexOf(hole);
      this.holes.splice(hi, 1);
      this.addHole(hole.start, adj);
      this.addHole(adj + size, hole.end);
      let ni = this.nodes.length;
      while (ni > 0 && this.nodes[ni - 1]!.start > adj) ni--;
      this.nodes.splice(ni, 0, node);
      return node;
    }
    return -ENOSPC;
  }

  /** drm_mm_remove_node: frees the node; its space joins the neighbouring holes. */
  remove(node: DrmMmNode): void {
    const i = this.nodes.indexOf(node);
    if (i < 0 || !node.allocated) throw new KernelError(-EINVAL, `drm_mm: removing a node that is not allocated (${node.start}+${node.size})`);
    this.nodes.splice(i, 1);
    node.allocated = false;
    let start = node.start;
    let end = node.start + node.size;
    // the hole that ended at our start and the one that began at our end merge with us
    for (let h = this.holes.length - 1; h >= 0; h--) {
      const hole = this.holes[h]!;
      if (hole.end === start) {
        start = hole.start;
        this.holes.splice(h, 1);
      } else if (hole.start === end) {
        end = hole.end;
        this.holes.splice(h, 1);
      }
    }
    this.addHole(start, end);
  }

  /** The node containing `offset`, if any. */
  find(offset: number): DrmMmNode | undefined {
    let lo = 0;
    let hi = this.nodes.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const n = this.nodes[mid]!;
      if (offset < n.start) hi = mid - 1;
      else if (offset >= n.start + n.size) lo = mid + 1;
      else return n;
    }
    return undefined;
  }

  /** Allocated nodes in address order. */
  allocatedNodes(): readonly DrmMmNode[] {
    return this.nodes;
  }

  /** Free holes in address order, as [start, end) pairs. */
  freeHoles(): { start: number; end: number }[] {
    return this.holes.map((h) => ({ start: h.start, end: h.end }));
  }

  get isClean(): boolean {
    return this.nodes.length === 0;
  }
}
