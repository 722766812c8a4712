import { EEXIST, EINVAL, ENOMEM } from '../errno.js';

/** One allocated IOVA range, in granule-sized page frame numbers (both ends inclusive). */
export interface IovaRange {
  readonly pfnLo: number;
  readonly pfnHi: number;
}

/** The smallest power of two >= n (n >= 1, exact up to 2^52). */
function roundUpPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

const NIL = -1;
const TWO_32 = 2 ** 32;

/** The largest multiple of `align` (a power of two) at or below t (an integer; -1 for t < 0 when align > 1). */
function alignDown(t: number, align: number): number {
  if (t >= 0 && align <= 0x4000_0000) return t - ((t >>> 0) & (align - 1));
  return Math.floor(t / align) * align;
}

/** floor(log2(n)) for a run length n >= 1 (below 2^53), -1 for 0: the augmentation's size class. */
function sizeClass(n: number): number {
  if (n < 1) return -1;
  if (n < TWO_32) return 31 - Math.clz32(n);
  return 63 - Math.clz32(Math.floor(n / TWO_32));
}
const MODE_NONE = 0;
const MODE_ALLOCATED = 1;
const MODE_PENDING = 2;
/** Deepest search path kept (an AVL tree of 2^40 nodes is at most 58 levels deep). */
const MAX_DEPTH = 64;

/**
 * An IOVA space allocator in the spirit of the kernel's iova.c: the allocated ranges are the
 * nodes of a balanced search tree ordered by start pfn (an AVL tree here, a red-black tree in
 * the kernel), so allocation, free and lookup cost O(log n) in the number of live ranges.
 *
 * `allocIova` places a run top-down: at the highest position at or below the limit where it
 * fits, and with `sizeAligned` at a multiple of its size rounded up to a power of two, as
 * alloc_iova(..., size_aligned = true) does. Finding that position without walking every
 * range is what the tree's augmentation is for: each node records the free run just below it
 * (down to the previous range, or to the start pfn) and the size class (power of two) of the
 * longest such run in its subtree, so a search skips every subtree whose runs are all too
 * short. (A class rather than the length itself: an allocation or free changes one run by a
 * little, which then rarely changes a class, so updates stop a level or two up the tree.) (The kernel's rbtree walk
 * starts from a cached node instead: the last allocation, moved up by frees above it; that
 * walk can pass over a hole above the cached node that a smaller request would fit, which
 * the model's search never does. Both place the first allocations identically: at the top.)
 * Page frame 0 (and everything below `startPfn`) is never handed out, so a DMA address of 0
 * never appears.
 *
 * Nodes live in typed arrays indexed by node number (no object per range), so the hot paths
 * allocate nothing once the arrays have grown to the number of live ranges.
 */
export class IovaDomain {
  /** Node fields: first and last pfn of the range, the free run below it, the largest free run in its subtree. */
  private lo = new Float64Array(64);
  private hi = new Float64Array(64);
  private gap = new Float64Array(64);
  /** Per node: the size class (floor(log2)) of the longest free run in its subtree, -1 for none. */
  private maxCls = new Int32Array(64);
  private left = new Int32Array(64);
  private right = new Int32Array(64);
  private parent = new Int32Array(64);
  private height = new Int32Array(64);
  private root = NIL;
  private nodes = 0;
  /** Unused node numbers (a stack), then never-used ones from `fresh`. */
  private freeList = new Int32Array(64);
  private freeCount = 0;
  private fresh = 0;
  /** The node newNode returned last. */
  private newest = NIL;
  /** Nodes on the last search path where the search went right (start <= limit). */
  private readonly path = new Int32Array(MAX_DEPTH);
  private allocs = 0;
  private failures = 0;
  /**
   * The last allocation and what has happened since: ALLOCATED (nothing else changed the
   * tree since it was made) or PENDING (it was then freed, and nothing else happened: the
   * free is not applied yet, see `settle`); NONE otherwise.
   */
  private lastMode = MODE_NONE;
  private lastNode = NIL;
  private lastSize = 0;
  private lastAlign = 0;
  private lastLimit = 0;
  /*
   * The churn tests of allocOne / freeOne, each one number compared with the argument (NaN
   * when the test must fail: NaN equals nothing), kept in step with lastMode by every change
   * of it:
   * - oneFree: the frame of the last allocation while it is ALLOCATED and one frame long
   *   (freeOne of that frame only marks it PENDING);
   * - oneLimit: the limit of the last allocation while it is PENDING and was a one-frame
   *   request (size 1, alignment 1: allocOne at that limit takes it back, frame `oneFrame`);
   * - oneLimitFreed: what oneLimit becomes when the last allocation is freed.
   */
  private oneFree = NaN;
  private oneLimit = NaN;
  private oneLimitFreed = NaN;
  private oneFrame = 0;

  constructor(
    /** Bytes per IOVA page frame: a power of two (the domain's smallest page size). */
    readonly granule: number,
    /** The lowest pfn that may be allocated (at least 1). */
    readonly startPfn: number,
  ) {
    if (!Number.isSafeInteger(granule) || granule < 1 || roundUpPow2(granule) !== granule)
      throw new RangeError(`IOVA granule ${granule} is not a power of two`);
    if (!Number.isSafeInteger(startPfn) || startPfn < 1) throw new RangeError(`IOVA start pfn ${startPfn} must be >= 1`);
    this.invGranule = 1 / granule;
  }

  /** 1 / granule: exact (a power of two), and a multiplication is much cheaper than a division. */
  readonly invGranule: number;

  /** iova_shift as a power: bytes -> pfn is floor(bytes / granule). */
  pfnOf(addr: number): number {
    return Math.floor(addr * this.invGranule);
  }

  /** iova_offset: the byte offset of `addr` inside its granule. */
  offsetOf(addr: number): number {
    // a mask for the usual case (float `%` is a slow library call in V8's optimized code)
    if (addr >= 0 && Math.floor(addr) === addr && this.granule <= 0x4000_0000) return (addr >>> 0) & (this.granule - 1);
    return addr % this.granule;
  }

  /** iova_align: `size` rounded up to the granule. */
  align(size: number): number {
    const r = Math.ceil(size * this.invGranule) * this.granule;
    // a small integer when it is one (the page count times the granule is computed as a
    // double; boxed, it would reach iommu_map and the format as a heap number, see
    // iommuMinPageSize); any other value (2^30 and above, 0, negative, NaN) as it was
    return r > 0 && r < 0x4000_0000 ? r | 0 : r;
  }

  // ------------------------------------------------------------------ the tree

  private newNode(lo: number, hi: number, gap: number): number {
    let x: number;
    if (this.freeCount > 0) x = this.freeList[--this.freeCount]!;
    else {
      if (this.fresh === this.lo.length) this.grow();
      x = this.fresh++;
    }
    this.lo[x] = lo;
    this.hi[x] = hi;
    this.gap[x] = gap;
    this.maxCls[x] = sizeClass(gap);
    this.left[x] = NIL;
    this.right[x] = NIL;
    this.parent[x] = NIL;
    this.height[x] = 1;
    this.nodes++;
    this.newest = x;
    return x;
  }

  private releaseNode(x: number): void {
    this.freeList[this.freeCount++] = x;
    this.nodes--;
  }

  private grow(): void {
    const n = this.lo.length * 2;
    const f64 = (a: Float64Array) => {
      const b = new Float64Array(n);
      b.set(a);
      return b;
    };
    const i32 = (a: Int32Array) => {
      const b = new Int32Array(n);
      b.set(a);
      return b;
    };
    this.lo = f64(this.lo);
    this.hi = f64(this.hi);
    this.gap = f64(this.gap);
    this.maxCls = i32(this.maxCls);
    this.left = i32(this.left);
    this.right = i32(this.right);
    this.parent = i32(this.parent);
    this.height = i32(this.height);
    this.freeList = i32(this.freeList);
  }

  /** Recomputes x's height and largest free run from its children. */
  private pull(x: number): void {
    const l = this.left[x]!;
    const r = this.right[x]!;
    const hl = l === NIL ? 0 : this.height[l]!;
    const hr = r === NIL ? 0 : this.height[r]!;
    this.height[x] = (hl > hr ? hl : hr) + 1;
    let m = sizeClass(this.gap[x]!);
    if (l !== NIL && this.maxCls[l]! > m) m = this.maxCls[l]!;
    if (r !== NIL && this.maxCls[r]! > m) m = this.maxCls[r]!;
    this.maxCls[x] = m;
  }

  private heightOf(x: number): number {
    return x === NIL ? 0 : this.height[x]!;
  }

  /** Puts `y` where `x` hangs from x's parent (or at the root). */
  private replaceChild(x: number, y: number): void {
    const p = this.parent[x]!;
    if (p === NIL) this.root = y;
    else if (this.left[p] === x) this.left[p] = y;
    else this.right[p] = y;
    if (y !== NIL) this.parent[y] = p;
  }

  /** Left rotation at x; returns the subtree's new top. */
  private rotateLeft(x: number): number {
    const y = this.right[x]!;
    const b = this.left[y]!;
    this.replaceChild(x, y);
    this.right[x] = b;
    if (b !== NIL) this.parent[b] = x;
    this.left[y] = x;
    this.parent[x] = y;
    this.pull(x);
    this.pull(y);
    return y;
  }

  /** Right rotation at x; returns the subtree's new top. */
  private rotateRight(x: number): number {
    const y = this.left[x]!;
    const b = this.right[y]!;
    this.replaceChild(x, y);
    this.left[x] = b;
    if (b !== NIL) this.parent[b] = x;
    this.right[y] = x;
    this.parent[x] = y;
    this.pull(x);
    this.pull(y);
    return y;
  }

  /**
   * After a node was linked or unlinked below x: from x up, recompute each node and restore
   * the AVL balance, stopping at the first subtree whose height and largest run did not
   * change (nothing above it can have changed).
   */
  private rebalanceUp(x: number): void {
    while (x !== NIL) {
      const h = this.height[x]!;
      const m = this.maxCls[x]!;
      this.pull(x);
      const bal = this.heightOf(this.left[x]!) - this.heightOf(this.right[x]!);
      if (bal > 1) {
        const l = this.left[x]!;
        if (this.heightOf(this.left[l]!) < this.heightOf(this.right[l]!)) this.rotateLeft(l);
        x = this.rotateRight(x);
      } else if (bal < -1) {
        const r = this.right[x]!;
        if (this.heightOf(this.right[r]!) < this.heightOf(this.left[r]!)) this.rotateRight(r);
        x = this.rotateLeft(x);
      }
      if (this.height[x] === h && this.maxCls[x] === m) return;
      x = this.parent[x]!;
    }
  }

  /** After node x's own free run changed: recompute x and up while something changes. */
  private pullUp(x: number): void {
    while (x !== NIL) {
      const h = this.height[x]!;
      const m = this.maxCls[x]!;
      this.pull(x);
      if (this.height[x] === h && this.maxCls[x] === m) return;
      x = this.parent[x]!;
    }
  }

  private minNode(x: number): number {
    while (this.left[x] !== NIL) x = this.left[x]!;
    return x;
  }

  private maxNode(x: number): number {
    while (this.right[x] !== NIL) x = this.right[x]!;
    return x;
  }

  /** The next node in pfn order, or NIL. */
  private next(x: number): number {
    if (this.right[x] !== NIL) return this.minNode(this.right[x]!);
    let p = this.parent[x]!;
    while (p !== NIL && this.right[p] === x) {
      x = p;
      p = this.parent[p]!;
    }
    return p;
  }

  /** The node whose range starts at `pfn`, or NIL. */
  private findStart(pfn: number): number {
    let x = this.root;
    while (x !== NIL) {
      const lo = this.lo[x]!;
      if (pfn === lo) return x;
      x = pfn < lo ? this.left[x]! : this.right[x]!;
    }
    return NIL;
  }

  /** The last node starting at or below `pfn`, or NIL. */
  private floorNode(pfn: number): number {
    let x = this.root;
    let best = NIL;
    while (x !== NIL) {
      if (this.lo[x]! <= pfn) {
        best = x;
        x = this.right[x]!;
      } else x = this.left[x]!;
    }
    return best;
  }

  /** First pfn of the free run below node x (its `gap` pfns end at lo - 1). */
  private gapStart(x: number): number {
    const g = this.gap[x]!;
    if (g > 0) return this.lo[x]! - g;
    const lo = this.lo[x]!;
    return lo > this.startPfn ? lo : this.startPfn;
  }

  /**
   * Inserts the range [lo, hi] just below node `succ` (NIL: above the last range), where the
   * free run below `succ` starts at `runLo` (at least the start pfn); `succ`'s run shrinks to
   * what lies above the new range.
   */
  private insertBelow(succ: number, lo: number, hi: number, runLo: number): void {
    const x = this.newNode(lo, hi, lo > runLo ? lo - runLo : 0);
    let at: number;
    if (succ === NIL) {
      if (this.root === NIL) {
        this.root = x;
        return;
      }
      at = this.maxNode(this.root);
      this.right[at] = x;
    } else {
      const g = this.lo[succ]! - (hi + 1 > this.startPfn ? hi + 1 : this.startPfn);
      this.gap[succ] = g > 0 ? g : 0;
      const l = this.left[succ]!;
      if (l === NIL) {
        at = succ;
        this.left[succ] = x;
      } else {
        at = this.maxNode(l);
        this.right[at] = x;
      }
    }
    this.parent[x] = at;
    this.rebalanceUp(at);
    if (succ !== NIL) this.pullUp(succ);
  }

  /** Removes node x; the next range's free run grows by x and the run below x. */
  private remove(x: number): void {
    const runLo = this.gapStart(x);
    let succ = this.next(x);
    if (succ !== NIL) {
      const g = this.lo[succ]! - runLo;
      this.gap[succ] = g > 0 ? g : 0;
    }
    const l = this.left[x]!;
    const r = this.right[x]!;
    if (l !== NIL && r !== NIL) {
      // succ is the leftmost node of x's right subtree: move it into x's place
      this.lo[x] = this.lo[succ]!;
      this.hi[x] = this.hi[succ]!;
      this.gap[x] = this.gap[succ]!;
      if (this.lastNode === succ) this.lastNode = x;
      const p = this.parent[succ]!;
      this.replaceChild(succ, this.right[succ]!);
      this.releaseNode(succ);
      this.rebalanceUp(p);
      succ = x;
    } else {
      const p = this.parent[x]!;
      this.replaceChild(x, l !== NIL ? l : r);
      this.releaseNode(x);
      this.rebalanceUp(p);
    }
    if (succ !== NIL) this.pullUp(succ);
  }

  /**
   * The highest node in `sub` (not NIL, with maxCls >= sizeCls) whose free run fits `size`
   * pfns aligned to `align`, or NIL. A subtree whose longest run is in a smaller size class
   * than `size` cannot hold it and is skipped; one in the same class may not, so the runs
   * themselves decide.
   */
  private searchAll(sub: number, size: number, align: number, sizeCls: number): number {
    for (;;) {
      const r = this.right[sub]!;
      if (r !== NIL && this.maxCls[r]! >= sizeCls) {
        const found = this.searchAll(r, size, align, sizeCls);
        if (found !== NIL) return found;
      }
      if (this.fits(sub, size, align)) return sub;
      sub = this.left[sub]!;
      if (sub === NIL || this.maxCls[sub]! < sizeCls) return NIL;
    }
  }

  /** True when `size` pfns aligned to `align` fit in the free run below node x. */
  private fits(x: number, size: number, align: number): boolean {
    const g = this.gap[x]!;
    if (g < size) return false;
    if (align === 1) return true;
    const lo = this.lo[x]!;
    return alignDown(lo - size, align) >= lo - g;
  }

  // ------------------------------------------------------------------ the API

  /**
   * alloc_iova: `size` pfns at or below `limitPfn` (inclusive). Returns the first pfn of the
   * run, or -ENOMEM when nothing fits (nothing changes then), -EINVAL for a bad size/limit.
   */
  allocIova(size: number, limitPfn: number, sizeAligned: boolean): number {
    if (!Number.isSafeInteger(size) || size < 1 || !Number.isSafeInteger(limitPfn)) return -EINVAL;
    const align = sizeAligned ? roundUpPow2(size) : 1;
    if (this.lastMode === MODE_PENDING) {
      // The tree is (logically) as it was just before the last allocation: the same request
      // gets the same answer, and the node is still there.
      if (size === this.lastSize && align === this.lastAlign && limitPfn === this.lastLimit) {
        const pfn = this.lo[this.lastNode]!;
        this.lastMode = MODE_ALLOCATED;
        this.oneLimit = NaN;
        this.oneFree = size === 1 ? pfn : NaN;
        this.allocs++;
        return pfn;
      }
      this.settle();
    }
    this.lastMode = MODE_NONE;
    this.oneFree = NaN;
    this.oneLimit = NaN;
    // Walk towards limitPfn: `path` collects, top-down, the nodes starting at or below it;
    // `above` ends as the first node starting above it.
    let depth = 0;
    let above = NIL;
    for (let x = this.root; x !== NIL; ) {
      if (this.lo[x]! <= limitPfn) {
        this.path[depth++] = x;
        x = this.right[x]!;
      } else {
        above = x;
        x = this.left[x]!;
      }
    }
    // The run just below the limit: from the end of the last range starting at or below it.
    const last = depth > 0 ? this.path[depth - 1]! : NIL;
    let runLo = last !== NIL ? this.hi[last]! + 1 : 0;
    if (runLo < this.startPfn) runLo = this.startPfn;
    const top = alignDown(limitPfn + 1 - size, align);
    if (limitPfn + 1 - size >= runLo && top >= runLo) return this.remember(this.allocated(above, top, size, runLo), size, align, limitPfn);
    // Then the runs below the ranges starting at or below the limit, highest first: the
    // deepest path node, its left subtree, the next path node up, its left subtree, ...
    const sizeCls = sizeClass(size);
    for (let i = depth - 1; i >= 0; i--) {
      const v = this.path[i]!;
      let x = this.fits(v, size, align) ? v : NIL;
      if (x === NIL) {
        const l = this.left[v]!;
        if (l !== NIL && this.maxCls[l]! >= sizeCls) x = this.searchAll(l, size, align, sizeCls);
      }
      if (x !== NIL) {
        const lo = this.lo[x]!;
        return this.remember(this.allocated(x, alignDown(lo - size, align), size, lo - this.gap[x]!), size, align, limitPfn);
      }
    }
    this.failures++;
    return -ENOMEM;
  }

  /**
   * allocIova(1, limitPfn, true): one frame at or below `limitPfn` (a safe integer). The same
   * answer, with the map/unmap churn case (the last allocation was one frame at this limit and
   * was freed right after) first and small enough for V8 to inline into the DMA API's one-page
   * path.
   */
  allocOne(limitPfn: number): number {
    if (limitPfn === this.oneLimit) {
      // PENDING, a one-frame request at this limit (see oneLimit)
      const pfn = this.oneFrame;
      this.lastMode = MODE_ALLOCATED;
      this.oneLimit = NaN;
      this.oneFree = pfn;
      this.allocs++;
      return pfn;
    }
    return this.allocIova(1, limitPfn, true);
  }

  /** freeIova(pfn, 1), with the churn case (the last allocation, nothing since) first. */
  freeOne(pfn: number): number {
    if (pfn === this.oneFree) {
      // the last allocation, one frame, nothing since (see oneFree)
      this.lastMode = MODE_PENDING;
      this.oneFree = NaN;
      this.oneLimit = this.oneLimitFreed;
      this.oneFrame = pfn;
      return 0;
    }
    return this.freeIova(pfn, 1);
  }

  /** Records allocation `pfn` (just inserted: the newest node) as the last one. */
  private remember(pfn: number, size: number, align: number, limit: number): number {
    this.lastMode = MODE_ALLOCATED;
    this.lastNode = this.newest;
    this.lastSize = size;
    this.lastAlign = align;
    this.lastLimit = limit;
    this.oneFree = size === 1 ? pfn : NaN;
    this.oneLimit = NaN;
    this.oneLimitFreed = size === 1 && align === 1 ? limit : NaN;
    return pfn;
  }

  private allocated(succ: number, pfn: number, size: number, runLo: number): number {
    this.insertBelow(succ, pfn, pfn + size - 1, runLo);
    this.allocs++;
    return pfn;
  }

  /** Applies a pending free (see `lastMode`): the tree then holds exactly the live ranges. */
  private settle(): void {
    this.oneFree = NaN;
    this.oneLimit = NaN;
    if (this.lastMode === MODE_PENDING) {
      this.lastMode = MODE_NONE;
      this.remove(this.lastNode);
    }
    this.lastMode = MODE_NONE;
  }

  /** reserve_iova: marks [pfnLo, pfnHi] as used. -EEXIST when it overlaps an allocation, -EINVAL for a bad range. */
  reserveIova(pfnLo: number, pfnHi: number): number {
    if (!Number.isSafeInteger(pfnLo) || !Number.isSafeInteger(pfnHi) || pfnLo < 0 || pfnHi < pfnLo) return -EINVAL;
    this.settle();
    const below = this.floorNode(pfnHi);
    if (below !== NIL && this.hi[below]! >= pfnLo) return -EEXIST;
    const runLo = below !== NIL ? this.hi[below]! + 1 : 0;
    const succ = below !== NIL ? this.next(below) : this.root === NIL ? NIL : this.minNode(this.root);
    this.insertBelow(succ, pfnLo, pfnHi, runLo > this.startPfn ? runLo : this.startPfn);
    return 0;
  }

  /** find_iova: the allocated range containing `pfn`, if any. */
  findIova(pfn: number): IovaRange | undefined {
    this.settle();
    const x = this.floorNode(pfn);
    return x !== NIL && this.hi[x]! >= pfn ? { pfnLo: this.lo[x]!, pfnHi: this.hi[x]! } : undefined;
  }

  /**
   * free_iova: releases the range that starts at `pfnLo` and is `size` pfns long.
   * -EINVAL (nothing freed) when no allocation starts there or its size differs.
   */
  freeIova(pfnLo: number, size: number): number {
    if (this.lastMode === MODE_ALLOCATED) {
      const x = this.lastNode;
      if (this.lo[x] === pfnLo && this.hi[x]! - pfnLo + 1 === size) {
        // the last allocation, nothing else happened since: leave the node for a repeat of
        // the same request (an exact one-entry cache, applied by `settle` before anything else)
        this.lastMode = MODE_PENDING;
        this.oneFree = NaN;
        this.oneLimit = this.oneLimitFreed;
        this.oneFrame = pfnLo;
        return 0;
      }
    }
    this.settle();
    const x = this.findStart(pfnLo);
    if (x === NIL || this.hi[x]! - pfnLo + 1 !== size) return -EINVAL;
    this.remove(x);
    return 0;
  }

  /** Allocated ranges in address order (plain copies). */
  list(): IovaRange[] {
    this.settle();
    const out: IovaRange[] = [];
    const walk = (x: number): void => {
      if (x === NIL) return;
      walk(this.left[x]!);
      out.push({ pfnLo: this.lo[x]!, pfnHi: this.hi[x]! });
      walk(this.right[x]!);
    };
    walk(this.root);
    return out;
  }

  get count(): number {
    return this.lastMode === MODE_PENDING ? this.nodes - 1 : this.nodes;
  }

  stats(): { ranges: number; allocs: number; failures: number } {
    return { ranges: this.count, allocs: this.allocs, failures: this.failures };
  }
}
