import { PAGE_SIZE, type MemRegion, type PhysMem } from '@gki/hw';
import { EINVAL, ENOMEM, KernelError } from './errno.js';

/** Largest order the buddy allocator hands out (the kernel's MAX_PAGE_ORDER): 4 MiB. */
export const MAX_ORDER = 10;

export interface PageAllocStats {
  readonly totalPages: number;
  readonly pagesInUse: number;
  readonly highWater: number;
  readonly allocCalls: number;
  readonly failedAllocs: number;
  readonly injectedFailures: number;
  readonly freeCalls: number;
}

/**
 * Fault injection, in the spirit of the kernel's fail_page_alloc:
 * - `nth`: the nth allocation call from now fails (1 = the next one), once;
 * - `probability` with `seed`: each call fails with that probability from a seeded PRNG;
 * - `times`: stop injecting after this many injected failures (default: 1 for nth, unlimited otherwise).
 */
export interface FaultSpec {
  nth?: number;
  probability?: number;
  seed?: number;
  times?: number;
}

/** A deterministic 32-bit PRNG (mulberry32) for seeded fault injection. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hex(n: number): string {
  return '0x' + n.toString(16);
}

/**
 * A binary buddy allocator over the board's RAM. Blocks of 2^order pages are naturally
 * aligned; allocations are zeroed. Returns a physical address, or a negative errno.
 *
 * Internally blocks are named by page frame number (pa / PAGE_SIZE): PAs of RAM at or above
 * 1 GiB are heap numbers in V8, frame numbers below 2^30 are small integers, which makes the
 * free-list sets and the allocation map much cheaper to hash.
 */
export class PageAllocator {
  private readonly free: FreeList[] = Array.from({ length: MAX_ORDER + 1 }, () => new FreeList());
  /** Allocated blocks: first frame number -> order. */
  private readonly allocated = new Map<number, number>();
  private readonly pools: MemRegion[];
  private inUse = 0;
  private high = 0;
  private allocCalls = 0;
  private failed = 0;
  private injected = 0;
  private freeCalls = 0;
  private readonly total: number;
  private fault: { nth: number; rand?: () => number; probability: number; left: number } | null = null;

  constructor(
    private readonly mem: PhysMem,
    pools?: readonly MemRegion[],
  ) {
    this.pools = (pools ?? mem.regions).map((r) => ({ base: r.base, size: r.size }));
    let total = 0;
    for (const r of this.pools) {
      if (!mem.contains(r.base, r.size)) throw new RangeError(`page pool ${hex(r.base)}+${hex(r.size)} is not RAM`);
      let a = Math.ceil(r.base / PAGE_SIZE) * PAGE_SIZE;
      const end = Math.floor((r.base + r.size) / PAGE_SIZE) * PAGE_SIZE;
      while (a < end) {
        let order = MAX_ORDER;
        while (order > 0 && (a % (PAGE_SIZE * 2 ** order) !== 0 || a + PAGE_SIZE * 2 ** order > end)) order--;
        this.free[order]!.add(a / PAGE_SIZE);
        total += 2 ** order;
        a += PAGE_SIZE * 2 ** order;
      }
    }
    this.total = total;
  }

  /** Allocates 2^order zeroed, naturally aligned pages. Returns the PA or -ENOMEM / -EINVAL. */
  allocPages(order = 0): number {
    this.allocCalls++;
    if (!Number.isInteger(order) || order < 0 || order > MAX_ORDER) {
      this.failed++;
      return -EINVAL;
    }
    if (this.shouldFail()) {
      this.failed++;
      this.injected++;
      return -ENOMEM;
    }
    let o = order;
    while (o <= MAX_ORDER && this.free[o]!.size === 0) o++;
    if (o > MAX_ORDER) {
      this.failed++;
      return -ENOMEM;
    }
    const pfn = this.takeLowest(o);
    // split down to the requested order, returning upper halves to the free lists
    while (o > order) {
      o--;
      this.free[o]!.add(pfn + 2 ** o);
    }
    this.allocated.set(pfn, order);
    this.inUse += 2 ** order;
    if (this.inUse > this.high) this.high = this.inUse;
    const pa = pfn * PAGE_SIZE;
    this.mem.zero(pa, PAGE_SIZE * 2 ** order);
    this.mem.touch(pa, PAGE_SIZE * 2 ** order);
    return pa;
  }

  /** Frees a block. A double free or a wrong order is a kernel bug: throws KernelError(-EINVAL). */
  freePages(pa: number, order = 0): void {
    const pfn = pa / PAGE_SIZE;
    const have = this.allocated.get(pfn);
    if (have === undefined)
      throw new KernelError(-EINVAL, `page allocator: freeing ${hex(pa)} which is not allocated (double free?)`);
    if (have !== order)
      throw new KernelError(-EINVAL, `page allocator: freeing ${hex(pa)} with order ${order}, allocated with order ${have}`);
    this.freeCalls++;
    this.allocated.delete(pfn);
    this.inUse -= 2 ** order;
    let block = pfn;
    let o = order;
    while (o < MAX_ORDER) {
      const size = 2 ** o;
      const buddy = block % (size * 2) === 0 ? block + size : block - size;
      if (!this.free[o]!.has(buddy)) break;
      this.free[o]!.delete(buddy);
      block = Math.min(block, buddy);
      o++;
    }
    this.free[o]!.add(block);
  }

  /** Order of the block allocated at `pa`, or undefined. */
  orderOf(pa: number): number | undefined {
    return this.allocated.get(pa / PAGE_SIZE);
  }

  isAllocated(pa: number): boolean {
    return this.allocated.has(pa / PAGE_SIZE);
  }

  stats(): PageAllocStats {
    return {
      totalPages: this.total,
      pagesInUse: this.inUse,
      highWater: this.high,
      allocCalls: this.allocCalls,
      failedAllocs: this.failed,
      injectedFailures: this.injected,
      freeCalls: this.freeCalls,
    };
  }

  /** The allocated blocks, sorted (for snapshots that compare allocator state). */
  snapshot(): { pa: number; order: number }[] {
    return [...this.allocated].map(([pfn, order]) => ({ pa: pfn * PAGE_SIZE, order })).sort((a, b) => a.pa - b.pa);
  }

  injectFaults(spec: FaultSpec): void {
    const nth = spec.nth ?? 0;
    const probability = spec.probability ?? 0;
    if (!(nth >= 0) || !(probability >= 0 && probability <= 1))
      throw new KernelError(-EINVAL, `bad fault injection spec ${JSON.stringify(spec)}`);
    this.fault = {
      nth,
      probability,
      rand: probability > 0 ? mulberry32(spec.seed ?? 1) : undefined,
      left: spec.times ?? (nth > 0 ? 1 : Infinity),
    };
  }

  clearFaults(): void {
    this.fault = null;
  }

  private shouldFail(): boolean {
    const f = this.fault;
    if (!f || f.left <= 0) return false;
    let fail = false;
    if (f.nth > 0) {
      f.nth--;
      if (f.nth === 0) fail = true;
    } else if (f.rand && f.rand() < f.probability) fail = true;
    if (fail) f.left--;
    return fail;
  }

  private takeLowest(order: number): number {
    return this.free[order]!.takeLowest();
  }
}

/**
 * The free blocks of one order (by first frame number): a set for membership (buddy merging removes from the middle)
 * plus a binary min-heap so the lowest block is found in O(log n). Removals only touch the set;
 * stale heap entries are skipped when they surface.
 */
class FreeList {
  private readonly members = new Set<number>();
  private readonly heap: number[] = [];

  get size(): number {
    return this.members.size;
  }
  has(pa: number): boolean {
    return this.members.has(pa);
  }
  add(pa: number): void {
    if (this.members.has(pa)) return;
    this.members.add(pa);
    const h = this.heap;
    let i = h.push(pa) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent]! <= pa) break;
      h[i] = h[parent]!;
      i = parent;
    }
    h[i] = pa;
  }
  delete(pa: number): void {
    this.members.delete(pa);
    // keep stale entries bounded: rebuild (a sorted array is a valid heap) when they dominate
    if (this.heap.length > 4 * this.members.size + 64) {
      this.heap.length = 0;
      this.heap.push(...[...this.members].sort((a, b) => a - b));
    }
  }
  /** Removes and returns the lowest member (the caller checked `size > 0`). */
  takeLowest(): number {
    for (;;) {
      const top = this.pop();
      if (this.members.delete(top)) return top;
    }
  }
  private pop(): number {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= h.length) break;
        const r = l + 1;
        const c = r < h.length && h[r]! < h[l]! ? r : l;
        if (h[c]! >= last) break;
        h[i] = h[c]!;
        i = c;
      }
      h[i] = last;
    }
    return top;
  }
}
