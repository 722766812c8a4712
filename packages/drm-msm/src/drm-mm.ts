import { EINVAL, ENOSPC } from '@gki/kernel';

/**
 * The GPU virtual-address allocator of one address space, in 4 KiB pages (what msm's
 * msm_gem_address_space keeps in a drm_mm). Placement follows drm_mm's default "best fit"
 * mode as msm_gem_init_vma asks for it: among the free holes that can hold the request inside
 * the requested range, the smallest one wins (the lowest address among equal sizes) and the
 * node goes at the lowest address of that hole. A caller can also ask for an exact address
 * (SET_IOVA). Nodes are kept sorted; the counts are those of a process's buffer objects and
 * nothing here runs per page.
 */

/** An allocated range [start, start + size) in pages. */
export interface MsmMmNode {
  readonly start: number;
  readonly size: number;
  allocated: boolean;
}

export class MsmDrmMm {
  private readonly nodes: MsmMmNode[] = [];
  /** First page and page count of the managed range. */
  readonly start: number;
  readonly size: number;

  constructor(start: number, size: number) {
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(size) || start < 0 || size <= 0) throw new RangeError(`drm_mm: bad range ${start}+${size}`);
    this.start = start;
    this.size = size;
  }

  get end(): number {
    return this.start + this.size;
  }

  /**
   * drm_mm_insert_node_in_range (best fit): `size` pages anywhere in [rangeStart, rangeEnd)
   * (defaults: the whole space). -EINVAL for a bad size or range, -ENOSPC when no hole fits.
   */
  insert(size: number, rangeStart = this.start, rangeEnd = this.end): MsmMmNode | number {
    if (!Number.isSafeInteger(size) || size <= 0 || !Number.isSafeInteger(rangeStart) || !Number.isSafeInteger(rangeEnd)) return -EINVAL;
    const lo = Math.max(rangeStart, this.start);
    const hi = Math.min(rangeEnd, this.end);
    if (hi - lo < size) return -ENOSPC;
    let bestStart = -1;
    let bestLen = Number.POSITIVE_INFINITY;
    let prevEnd = this.start;
    for (let i = 0; i <= this.nodes.length; i++) {
      const holeStart = prevEnd;
      const holeEnd = i < this.nodes.length ? this.nodes[i]!.start : this.end;
      if (i < this.nodes.length) prevEnd = this.nodes[i]!.start + this.nodes[i]!.size;
      const s = Math.max(holeStart, lo);
      const e = Math.min(holeEnd, hi);
      if (e - s < size) continue;
      const len = holeEnd - holeStart;
      if (len < bestLen) {
        bestLen = len;
        bestStart = s;
      }
    }
    if (bestStart < 0) return -ENOSPC;
    return this.place(bestStart, size);
  }

  /** The node covering exactly [start, start + size), or -ENOSPC when any of it is taken. */
  insertAt(start: number, size: number): MsmMmNode | number {
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(size) || size <= 0) return -EINVAL;
    return this.insert(size, start, start + size);
  }

  private place(start: number, size: number): MsmMmNode {
    const node: MsmMmNode = { start, size, allocated: true };
    let i = this.nodes.length;
    while (i > 0 && this.nodes[i - 1]!.start > start) i--;
    this.nodes.splice(i, 0, node);
    return node;
  }

  /** drm_mm_remove_node. -EINVAL for a node that is not allocated here. */
  remove(node: MsmMmNode): number {
    const i = this.nodes.indexOf(node);
    if (i < 0 || !node.allocated) return -EINVAL;
    this.nodes.splice(i, 1);
    node.allocated = false;
    return 0;
  }

  /** The allocated nodes in address order. */
  allocatedNodes(): readonly MsmMmNode[] {
    return this.nodes;
  }

  get isClean(): boolean {
    return this.nodes.length === 0;
  }
}
