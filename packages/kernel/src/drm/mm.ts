import { EINVAL, ENOSPC, KernelError } from '../errno.js';
import type { KernelLog } from '../log.js';

/*
 * The DRM core's range allocator (struct drm_mm, drivers/gpu/drm/drm_mm.c): the allocator GPU
 * drivers keep their GPU virtual address spaces in (msm's address spaces, panfrost's per-file
 * MMU contexts), in whatever unit the owner picks (both use 4 KiB pages).
 *
 * The behaviour follows drm_mm:
 * - Free space is a set of holes; each hole follows a node (the first one follows the
 *   allocator's head node). Every hole creation (at init, when an insertion leaves space below
 *   or above the new node, when a removal merges) makes a new hole, newer than all others.
 * - drm_mm_insert_node_in_range walks candidate holes in an order set by the mode:
 *   BEST: the holes whose size is at least the request, smallest size first, and among equal
 *     sizes the newest first (drm_mm keeps holes in a size tree ordered largest first, where a
 *     new hole goes after the existing ones of its size; the search starts at the last hole
 *     big enough and walks back towards larger ones);
 *   LOW: holes big enough, lowest address first, stopping at the first hole at or above the
 *     range end; HIGH: highest address first, stopping at the first hole at or below the range
 *     start; the node goes at the top of its hole (aligned down);
 *   EVICT: every hole, newest first (the hole stack);
 *   ONCE (or'ed into LOW/HIGH/BEST): only the first candidate is tried.
 *   For each candidate the owner's colour callback may shrink the hole, the result is clipped
 *   to [rangeStart, rangeEnd), the start is aligned (any alignment, not only powers of two:
 *   div64_u64_rem), and the first candidate the request still fits in wins.
 * - drm_mm_reserve_node places a node exactly where the caller says: the whole of it must lie
 *   inside one hole after the colour callback has shrunk that hole, else -ENOSPC.
 * - drm_mm_remove_node gives the node's space back: it merges with the hole before it and the
 *   one after it into one new hole.
 * Nothing changes when an insertion fails. Size 0 (or a range smaller than the request) is
 * -ENOSPC as in Linux; arguments C's u64 types could not carry (negative, fractional, unsafe
 * integers, an unknown mode, a range whose start is above its end, a node already in use) are
 * -EINVAL here where Linux has a BUG_ON or no check.
 *
 * Holes and nodes live in small sorted arrays: the counts are those of a process's buffer
 * objects, and nothing here runs per page.
 */

/** drm_mm_insert_mode: the best-fitting hole (smallest that fits). */
export const DRM_MM_INSERT_BEST = 0;
/** The lowest-addressed hole that fits; the node at the bottom of it. */
export const DRM_MM_INSERT_LOW = 1;
/** The highest-addressed hole that fits; the node at the top of it. */
export const DRM_MM_INSERT_HIGH = 2;
/** The most recently created hole that fits (after an eviction scan). */
export const DRM_MM_INSERT_EVICT = 3;
/** Or'ed into a mode: only the first candidate hole is tried (BIT(31)). */
export const DRM_MM_INSERT_ONCE = 0x8000_0000;
/** Only the highest hole, the node at its top. */
export const DRM_MM_INSERT_HIGHEST = DRM_MM_INSERT_HIGH + DRM_MM_INSERT_ONCE;
/** Only the lowest hole, the node at its bottom. */
export const DRM_MM_INSERT_LOWEST = DRM_MM_INSERT_LOW + DRM_MM_INSERT_ONCE;

/**
 * The owner's colour callback (drm_mm.color_adjust): given the node the hole follows (the
 * allocator's head node for the first hole) and the colour of the node being placed, it may
 * move `range.start` up and `range.end` down (end exclusive) to keep space between neighbours.
 */
export type DrmMmColorAdjust = (hole: DrmMmNode, color: number, range: { start: number; end: number }) => void;

interface Hole {
  /** The node the hole follows. */
  readonly node: DrmMmNode;
  readonly start: number;
  readonly end: number;
  /** Creation order: larger is newer. */
  readonly seq: number;
}

/**
 * struct drm_mm_node: an allocated block [start, start + size) with the owner's colour. The
 * owner creates it (zeroed) and hands it to an insert, or fills start/size/color and reserves it.
 */
export class DrmMmNode {
  color = 0;
  start = 0;
  size = 0;
  /** The allocator it is in, while allocated. */
  mm: DrmMm | null = null;
  /** @internal the hole that follows this node, if any. */
  hole: Hole | null = null;
  /** @internal DRM_MM_NODE_ALLOCATED_BIT */
  inUse = false;

  /** drm_mm_node_allocated. */
  get allocated(): boolean {
    return this.inUse;
  }
}

const isU64 = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** struct drm_mm. */
export class DrmMm {
  /** The head node: allocated never; the first hole follows it. Its colour is 0 unless the owner sets it. */
  readonly headNode = new DrmMmNode();
  /** Allocated nodes, by start. */
  private readonly list: DrmMmNode[] = [];
  /** Holes, by start. */
  private readonly holeList: Hole[] = [];
  private seq = 0;
  /** First unit and one past the last of the managed range. */
  readonly start: number;
  readonly end: number;

  /**
   * drm_mm_init: manages [start, start + size) with one hole covering it all. `colorAdjust` is
   * the owner's drm_mm.color_adjust (null: none). A bad range is -EINVAL (KernelError).
   */
  constructor(
    start: number,
    size: number,
    readonly colorAdjust: DrmMmColorAdjust | null = null,
  ) {
    if (!isU64(start) || !isU64(size) || size === 0 || !Number.isSafeInteger(start + size))
      throw new KernelError(-EINVAL, `drm_mm: bad range ${start}+${size}`);
    this.start = start;
    this.end = start + size;
    // as in Linux, the head node sits at the end with a negative size, so that the hole after
    // it starts at start + size - size = start
    this.headNode.start = this.end;
    this.headNode.size = -size;
    this.addHole(this.headNode);
  }

  private holeStartOf(node: DrmMmNode): number {
    return node.start + node.size;
  }

  /** The node after `node` in address order (undefined: none; `node` may be the head node). */
  private nextNode(node: DrmMmNode): DrmMmNode | undefined {
    if (node === this.headNode) return this.list[0];
    const i = this.list.indexOf(node);
    return this.list[i + 1];
  }

  /**
   * list_next_entry(node, node_list) as a colour callback uses it: the node after `node` in
   * address order, the head node after the last one (drm_mm's node list is circular through
   * its head node, which is never allocated).
   */
  nodeAfter(node: DrmMmNode): DrmMmNode {
    return this.nextNode(node) ?? this.headNode;
  }

  /** add_hole: the space between `node` and the next node (or the end) becomes a new hole. */
  private addHole(node: DrmMmNode): void {
    const start = this.holeStartOf(node);
    const next = this.nextNode(node);
    const end = next ? next.start : this.end;
    const hole: Hole = { node, start, end, seq: this.seq++ };
    node.hole = hole;
    let i = this.holeList.length;
    while (i > 0 && this.holeList[i - 1]!.start > start) i--;
    this.holeList.splice(i, 0, hole);
  }

  /** rm_hole */
  private rmHole(node: DrmMmNode): void {
    const h = node.hole;
    if (!h) return;
    this.holeList.splice(this.holeList.indexOf(h), 1);
    node.hole = null;
  }

  private largestHole(): number {
    let m = 0;
    for (const h of this.holeList) m = Math.max(m, h.end - h.start);
    return m;
  }

  /** The holes an insertion tries, in the mode's order (before ONCE cuts it to the first). */
  private candidates(size: number, mode: number, rangeStart: number, rangeEnd: number): Hole[] {
    const big = this.holeList.filter((h) => h.end - h.start >= size);
    switch (mode) {
      case DRM_MM_INSERT_BEST:
        return big.sort((a, b) => a.end - a.start - (b.end - b.start) || b.seq - a.seq);
      case DRM_MM_INSERT_LOW:
        // upwards from the hole at the range start (holes wholly below it cannot take the node)
        return big.filter((h) => h.end > rangeStart);
      case DRM_MM_INSERT_HIGH:
        // downwards from the hole at the range end
        return big.filter((h) => h.start < rangeEnd).reverse();
      default:
        return this.holeList.slice().sort((a, b) => b.seq - a.seq);
    }
  }

  /**
   * drm_mm_insert_node_in_range: places `node` (not allocated) as `size` units aligned to
   * `alignment` (0 or 1: none; any value, not only powers of two) with colour `color`, inside
   * [rangeStart, rangeEnd), choosing the hole as `mode` says. 0, -ENOSPC when no hole takes it,
   * -EINVAL for arguments no u64 could carry. Nothing changes on failure.
   */
  insertNodeInRange(
    node: DrmMmNode,
    size: number,
    alignment: number,
    color: number,
    rangeStart: number,
    rangeEnd: number,
    mode: number = DRM_MM_INSERT_BEST,
  ): number {
    if (!(node instanceof DrmMmNode) || node.inUse || node === this.headNode) return -EINVAL;
    if (!isU64(size) || !isU64(alignment) || !isU64(color) || !isU64(rangeStart) || !isU64(rangeEnd) || rangeStart > rangeEnd) return -EINVAL;
    const once = mode >= DRM_MM_INSERT_ONCE;
    const base = once ? mode - DRM_MM_INSERT_ONCE : mode;
    if (!Number.isInteger(mode) || base < DRM_MM_INSERT_BEST || base > DRM_MM_INSERT_EVICT) return -EINVAL;
    if (size === 0 || rangeEnd - rangeStart < size) return -ENOSPC;
    if (this.largestHole() < size) return -ENOSPC;
    const align = alignment <= 1 ? 0 : alignment;
    const range = { start: 0, end: 0 };
    for (const hole of this.candidates(size, base, rangeStart, rangeEnd)) {
      if (base === DRM_MM_INSERT_LOW && hole.start >= rangeEnd) break;
      if (base === DRM_MM_INSERT_HIGH && hole.end <= rangeStart) break;
      const placed = this.fit(hole, size, align, color, rangeStart, rangeEnd, base === DRM_MM_INSERT_HIGH, range);
      if (placed >= 0) {
        this.place(hole, node, placed, size, color);
        return 0;
      }
      if (once) break;
    }
    return -ENOSPC;
  }

  /** Where in `hole` the request goes, or -1 when it does not fit there. */
  private fit(
    hole: Hole,
    size: number,
    align: number,
    color: number,
    rangeStart: number,
    rangeEnd: number,
    high: boolean,
    range: { start: number; end: number },
  ): number {
    range.start = hole.start;
    range.end = hole.end;
    this.colorAdjust?.(hole.node, color, range);
    const lo = Math.max(range.start, rangeStart);
    const hi = Math.min(range.end, rangeEnd);
    if (hi <= lo || hi - lo < size) return -1;
    let at = high ? hi - size : lo;
    if (align) {
      const rem = at % align;
      if (rem) {
        at -= rem;
        if (!high) at += align;
        if (at < lo || hi - at < size) return -1;
      }
    }
    return at;
  }

  /** Puts `node` at [at, at + size) inside `hole`; what is left below and above becomes new holes. */
  private place(hole: Hole, node: DrmMmNode, at: number, size: number, color: number): void {
    const prev = hole.node;
    node.start = at;
    node.size = size;
    node.color = color;
    node.mm = this;
    node.inUse = true;
    node.hole = null;
    const i = prev === this.headNode ? 0 : this.list.indexOf(prev) + 1;
    this.list.splice(i, 0, node);
    this.rmHole(prev);
    if (at > hole.start) this.addHole(prev);
    if (at + size < hole.end) this.addHole(node);
  }

  /** drm_mm_insert_node_generic: drm_mm_insert_node_in_range over the whole range. */
  insertNodeGeneric(node: DrmMmNode, size: number, alignment: number, color: number, mode: number = DRM_MM_INSERT_BEST): number {
    return this.insertNodeInRange(node, size, alignment, color, this.start, this.end, mode);
  }

  /** drm_mm_insert_node: best fit, no alignment, colour 0. */
  insertNode(node: DrmMmNode, size: number): number {
    return this.insertNodeGeneric(node, size, 0, 0, DRM_MM_INSERT_BEST);
  }

  /** The hole containing unit `addr`, if any. */
  private holeAt(addr: number): Hole | undefined {
    return this.holeList.find((h) => h.start <= addr && addr < h.end);
  }

  /**
   * drm_mm_reserve_node, reached through drmMmReserveNode: a module that reserves must
   * declare that symbol, which using the class alone does not reference.
   */
  private reserveNode(node: DrmMmNode): number {
    if (!(node instanceof DrmMmNode) || node.inUse || node === this.headNode) return -EINVAL;
    if (!isU64(node.start) || !isU64(node.size) || !isU64(node.color) || !Number.isSafeInteger(node.start + node.size)) return -EINVAL;
    const end = node.start + node.size;
    if (end <= node.start) return -ENOSPC;
    const hole = this.holeAt(node.start);
    if (!hole) return -ENOSPC;
    const range = { start: hole.start, end: hole.end };
    this.colorAdjust?.(hole.node, node.color, range);
    if (range.start > node.start || range.end < end) return -ENOSPC;
    this.place(hole, node, node.start, node.size, node.color);
    return 0;
  }

  /**
   * drm_mm_remove_node: takes an allocated node out; its space, the hole before it and the
   * hole after it become one new hole. Removing a node that is not allocated here is a bug
   * (Linux: DRM_MM_BUG_ON): KernelError -EINVAL, nothing changed.
   */
  removeNode(node: DrmMmNode): void {
    if (!(node instanceof DrmMmNode) || !node.inUse || node.mm !== this)
      throw new KernelError(-EINVAL, `drm_mm: removing a node that is not allocated here (${node?.start}+${node?.size})`);
    const i = this.list.indexOf(node);
    const prev = i === 0 ? this.headNode : this.list[i - 1]!;
    this.rmHole(node);
    this.list.splice(i, 1);
    this.rmHole(prev);
    this.addHole(prev);
    node.inUse = false;
    node.mm = null;
  }

  /** drm_mm_clean: no node is allocated. */
  get clean(): boolean {
    return this.list.length === 0;
  }

  /**
   * drm_mm_takedown: the owner is done with the allocator. Nodes still allocated are a leak:
   * WARNs "Memory manager not clean during takedown." (in `log`, when given). True when clean.
   */
  takedown(log?: Pick<KernelLog, 'warn'>): boolean {
    if (this.clean) return true;
    log?.warn('drm_mm', 'Memory manager not clean during takedown.');
    return false;
  }

  /** drm_mm_for_each_node: the allocated nodes in address order. */
  nodes(): readonly DrmMmNode[] {
    return this.list;
  }

  /** The holes in address order, as [start, end) (drm_mm_for_each_hole walks them newest first instead). */
  holes(): { start: number; end: number }[] {
    return this.holeList.map((h) => ({ start: h.start, end: h.end }));
  }

  /**
   * The allocated node containing unit `addr`, if any: what a drm_mm_for_each_node loop
   * testing start <= addr < start + size finds (panfrost's addr_to_mapping).
   */
  find(addr: number): DrmMmNode | undefined {
    let lo = 0;
    let hi = this.list.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const n = this.list[mid]!;
      if (addr < n.start) hi = mid - 1;
      else if (addr >= n.start + n.size) lo = mid + 1;
      else return n;
    }
    return undefined;
  }
}

/**
 * drm_mm_reserve_node: puts `node` exactly at [node.start, node.start + node.size) with colour
 * node.color. 0; -ENOSPC when any of that range is taken, lies outside the allocator, or the
 * colour callback shrinks the hole it is in so that it no longer covers it (size 0 included);
 * -EINVAL for values no u64 could carry or a node already in use. Nothing changes on failure.
 */
export function drmMmReserveNode(mm: DrmMm, node: DrmMmNode): number {
  return (mm as unknown as { reserveNode(n: DrmMmNode): number }).reserveNode(node);
}
