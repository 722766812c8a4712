import { PAGE_SIZE, type MemRegion, type PhysMem } from '@gki/hw';
import { EINVAL, ENOMEM, KernelError } from './errno.js';

/** Largest order the buddy allocator hands out (the kernel's MAX_PAGE_ORDER): 4 MiB. */
export const MAX_ORDER = 10;

/** RAM one allocator manages at most (64 GiB: 16 Mi frames); the rest is left unused. */
export const MAX_MANAGED_BYTES = 64 * 2 ** 30;

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

/** Per-frame state byte: not the head of any block. */
const ST_NONE = 0;
/** Per-frame state byte: head of an allocated block; the low bits hold its order. */
const ST_ALLOC = 0x80;
/** Frames per largest block: span bases are aligned to this, so buddies are `rel ^ size`. */
const MAX_BLOCK_FRAMES = 1 << MAX_ORDER;

/**
 * A run of contiguous page frames (one or more touching pools). Frames are indexed relative to
 * `base`, the first frame rounded down to a max-order boundary. `state[rel]` is ST_NONE, free
 * head of order o (stored as o + 1), or ST_ALLOC | o. Per order, `bits[o]` has bit (rel >> o)
 * set for each free block of that order and `sum[o]` has bit w set when word w of `bits[o]` is
 * non-zero; `hint[o]` is a `sum[o]` word index below which every word is zero.
 */
interface Span {
  readonly start: number;
  readonly end: number;
  readonly base: number;
  readonly state: Uint8Array;
  readonly bits: Uint32Array[];
  readonly sum: Uint32Array[];
  readonly hint: Int32Array;
  readonly count: Int32Array;
  /** Frames where one pool ends and a touching one begins (they may lie in different RAM regions). */
  readonly seams: number[];
}

function makeSpan(start: number, end: number, seams: number[]): Span {
  const base = Math.floor(start / MAX_BLOCK_FRAMES) * MAX_BLOCK_FRAMES;
  const frames = Math.ceil((end - base) / MAX_BLOCK_FRAMES) * MAX_BLOCK_FRAMES;
  const bits: Uint32Array[] = [];
  const sum: Uint32Array[] = [];
  for (let o = 0; o <= MAX_ORDER; o++) {
    const words = Math.ceil(frames / 2 ** o / 32);
    bits.push(new Uint32Array(words));
    sum.push(new Uint32Array(Math.ceil(words / 32)));
  }
  return {
    start,
    end,
    base,
    state: new Uint8Array(frames),
    bits,
    sum,
    hint: new Int32Array(MAX_ORDER + 1),
    count: new Int32Array(MAX_ORDER + 1),
    seams,
  };
}

/**
 * A binary buddy allocator over the board's RAM. Blocks of 2^order pages are naturally
 * aligned; allocations are zeroed. Returns a physical address, or a negative errno.
 *
 * Internally blocks are named by page frame number (pa / PAGE_SIZE). Each run of contiguous
 * frames keeps a state byte per frame and, per order, a two-level bitmap of free blocks, so the
 * lowest free block of an order is found with a few word scans and nothing is hashed or
 * allocated per call.
 */
export class PageAllocator {
  /** Contiguous frame runs, sorted by address. */
  private readonly spans: Span[] = [];
  /** Free blocks per order, over all spans. */
  private readonly freeCount = new Int32Array(MAX_ORDER + 1);
  /** Frames this allocator already passed to `mem.touch` (the touched set never shrinks). */
  private readonly touchedByUs: Uint8Array[] = [];
  private lastSpan = 0;
  private allocatedBlocks = 0;
  private readonly pools: MemRegion[];
  private inUse = 0;
  private high = 0;
  private allocCalls = 0;
  private failed = 0;
  private injected = 0;
  private freeCalls = 0;
  private readonly total: number;
  private fault: { nth: number; rand?: () => number; probability: number; left: number } | null = null;
  /** Bytes of RAM (of the pools asked for) beyond MAX_MANAGED_BYTES, which this allocator ignores. */
  readonly unmanagedBytes: number = 0;

  constructor(
    private readonly mem: PhysMem,
    pools?: readonly MemRegion[],
  ) {
    // The allocator keeps a state byte per frame: RAM beyond MAX_MANAGED_BYTES (a device tree
    // can claim any size) is left unmanaged instead of exhausting the host's memory.
    const clipped: MemRegion[] = [];
    let budget = MAX_MANAGED_BYTES;
    for (const r of [...(pools ?? mem.regions)].sort((a, b) => a.base - b.base)) {
      const size = Math.min(r.size, budget);
      if (size > 0) clipped.push({ base: r.base, size });
      this.unmanagedBytes += r.size - size;
      budget -= size;
    }
    this.pools = clipped;
    const ranges: { start: number; end: number }[] = [];
    for (const r of this.pools) {
      if (!mem.contains(r.base, r.size)) throw new RangeError(`page pool ${hex(r.base)}+${hex(r.size)} is not RAM`);
      const start = Math.ceil(r.base / PAGE_SIZE);
      const end = Math.floor((r.base + r.size) / PAGE_SIZE);
      if (start < end) ranges.push({ start, end });
    }
    // pools that touch or overlap share one span, so buddies across their boundary still merge
    ranges.sort((a, b) => a.start - b.start);
    for (const r of ranges) {
      const last = this.spans.length > 0 ? this.spans[this.spans.length - 1]! : undefined;
      if (last !== undefined && r.start <= last.end) {
        const seams = r.start === last.end ? [...last.seams, r.start] : last.seams;
        if (r.end > last.end) this.spans[this.spans.length - 1] = makeSpan(last.start, r.end, seams);
      } else this.spans.push(makeSpan(r.start, r.end, []));
    }
    for (const s of this.spans) this.touchedByUs.push(new Uint8Array(s.state.length));
    let total = 0;
    for (const r of this.pools) {
      let a = Math.ceil(r.base / PAGE_SIZE) * PAGE_SIZE;
      const end = Math.floor((r.base + r.size) / PAGE_SIZE) * PAGE_SIZE;
      while (a < end) {
        let order = MAX_ORDER;
        while (order > 0 && (a % (PAGE_SIZE * 2 ** order) !== 0 || a + PAGE_SIZE * 2 ** order > end)) order--;
        const pfn = a / PAGE_SIZE;
        const si = this.spanIndex(pfn);
        const s = this.spans[si]!;
        if (s.state[pfn - s.base] !== order + 1) this.addFree(s, pfn - s.base, order);
        total += 2 ** order;
        a += PAGE_SIZE * 2 ** order;
      }
    }
    this.total = total;
  }

  /**
   * Allocates 2^order zeroed, naturally aligned pages. Returns the PA or -ENOMEM / -EINVAL.
   *
   * One page (io-pgtable's tables, the commonest call) takes the path below, the same algorithm
   * written out without helper calls: every first map into a new 2 MiB region of a domain
   * allocates a table, often before V8 has optimised anything, where each call costs.
   */
  allocPages(order = 0): number {
    if (order !== 0 || this.fault !== null) return this.allocOrder(order);
    // one page, no fault injection: the lowest block of the smallest non-empty order, split down
    this.allocCalls++;
    const counts = this.freeCount;
    let o = 0;
    while (counts[o] === 0)
      if (++o > MAX_ORDER) {
        this.failed++;
        return -ENOMEM;
      }
    const spans = this.spans;
    let si = 0;
    let s = spans[0]!;
    while (s.count[o] === 0) s = spans[++si]!;
    // takeLowest + removeFree
    const sum = s.sum[o]!;
    let sw = s.hint[o]!;
    while (sum[sw] === 0) sw++;
    s.hint[o] = sw;
    const sv = sum[sw]!;
    const w = (sw << 5) + (31 - Math.clz32(sv & -sv));
    const bits = s.bits[o]!;
    const bv = bits[w]!;
    const bit = bv & -bv;
    const rel = ((w << 5) + (31 - Math.clz32(bit))) << o;
    const nw = bv ^ bit;
    bits[w] = nw;
    if (nw === 0) sum[sw] = sv & ~(1 << (w & 31));
    s.count[o]--;
    counts[o]--;
    const state = s.state;
    // split down to one page, returning upper halves to the free lists (addFree)
    while (o > 0) {
      o--;
      const r = rel + (1 << o);
      state[r] = o + 1;
      const idx = r >>> o;
      const bw = idx >>> 5;
      const b = s.bits[o]!;
      b[bw] = b[bw]! | (1 << (idx & 31));
      const sm = s.sum[o]!;
      const smw = bw >>> 5;
      sm[smw] = sm[smw]! | (1 << (bw & 31));
      if (smw < s.hint[o]!) s.hint[o] = smw;
      s.count[o]++;
      counts[o]++;
    }
    state[rel] = ST_ALLOC;
    this.allocatedBlocks++;
    if (++this.inUse > this.high) this.high = this.inUse;
    const pa = (s.base + rel) * PAGE_SIZE;
    // one page lies in one pool: no seam to zero across
    this.mem.zero(pa, PAGE_SIZE);
    const seen = this.touchedByUs[si]!;
    if (seen[rel] === 0) {
      this.mem.touch(pa, PAGE_SIZE);
      seen[rel] = 1;
    }
    return pa;
  }

  private allocOrder(order: number): number {
    this.allocCalls++;
    if (!Number.isInteger(order) || order < 0 || order > MAX_ORDER) {
      this.failed++;
      return -EINVAL;
    }
    if (this.fault !== null && this.shouldFail()) {
      this.failed++;
      this.injected++;
      return -ENOMEM;
    }
    const counts = this.freeCount;
    let o = order;
    while (o <= MAX_ORDER && counts[o] === 0) o++;
    if (o > MAX_ORDER) {
      this.failed++;
      return -ENOMEM;
    }
    const spans = this.spans;
    let si = 0;
    while (spans[si]!.count[o] === 0) si++;
    const s = spans[si]!;
    const rel = this.takeLowest(s, o);
    // split down to the requested order, returning upper halves to the free lists
    while (o > order) {
      o--;
      this.addFree(s, rel + (1 << o), o);
    }
    s.state[rel] = ST_ALLOC | order;
    this.allocatedBlocks++;
    const pages = 1 << order;
    this.inUse += pages;
    if (this.inUse > this.high) this.high = this.inUse;
    const pa = (s.base + rel) * PAGE_SIZE;
    if (s.seams.length === 0) this.mem.zero(pa, PAGE_SIZE * pages);
    else this.zeroAcrossSeams(s, s.base + rel, pages);
    // the touched set only grows, so frames already reported need not be reported again
    const seen = this.touchedByUs[si]!;
    for (let f = rel; f < rel + pages; f++)
      if (seen[f] === 0) {
        this.mem.touch(pa, PAGE_SIZE * pages);
        seen.fill(1, rel, rel + pages);
        break;
      }
    return pa;
  }

  /** Frees a block. A double free or a wrong order is a kernel bug: throws KernelError(-EINVAL). */
  freePages(pa: number, order = 0): void {
    // one allocated page in the span used last (what `freeBlock` checks first): written out, as allocPages' one-page path
    const pfn = pa / PAGE_SIZE;
    const s = this.spans[this.lastSpan];
    if (order === 0 && s !== undefined && pfn >= s.start && pfn < s.end && pfn === Math.floor(pfn)) {
      const state = s.state;
      let rel = pfn - s.base;
      if (state[rel] === ST_ALLOC) {
        this.freeCalls++;
        state[rel] = ST_NONE;
        this.allocatedBlocks--;
        this.inUse--;
        const counts = this.freeCount;
        const lo = s.start - s.base;
        const hi = s.end - s.base;
        let o = 0;
        while (o < MAX_ORDER) {
          const size = 1 << o;
          const buddy = rel ^ size;
          if (buddy < lo || buddy >= hi || state[buddy] !== o + 1) break;
          // removeFree
          state[buddy] = ST_NONE;
          const idx = buddy >>> o;
          const w = idx >>> 5;
          const bits = s.bits[o]!;
          const nw = bits[w]! & ~(1 << (idx & 31));
          bits[w] = nw;
          if (nw === 0) {
            const sum = s.sum[o]!;
            const sw = w >>> 5;
            sum[sw] = sum[sw]! & ~(1 << (w & 31));
          }
          s.count[o]--;
          counts[o]--;
          rel &= ~size;
          o++;
        }
        this.addFree(s, rel, o);
        return;
      }
    }
    this.freeBlock(pa, order);
  }

  private freeBlock(pa: number, order: number): void {
    const pfn = pa / PAGE_SIZE;
    const si = this.spanIndex(pfn);
    const s = si >= 0 ? this.spans[si]! : undefined;
    const st = s !== undefined ? s.state[pfn - s.base]! : ST_NONE;
    if (s === undefined || (st & ST_ALLOC) === 0)
      throw new KernelError(-EINVAL, `page allocator: freeing ${hex(pa)} which is not allocated (double free?)`);
    const have = st & ~ST_ALLOC;
    if (have !== order)
      throw new KernelError(-EINVAL, `page allocator: freeing ${hex(pa)} with order ${order}, allocated with order ${have}`);
    this.freeCalls++;
    let rel = pfn - s.base;
    s.state[rel] = ST_NONE;
    this.allocatedBlocks--;
    this.inUse -= 1 << order;
    const state = s.state;
    const lo = s.start - s.base;
    const hi = s.end - s.base;
    let o = order;
    while (o < MAX_ORDER) {
      const size = 1 << o;
      const buddy = rel ^ size;
      if (buddy < lo || buddy >= hi || state[buddy] !== o + 1) break;
      this.removeFree(s, buddy, o);
      rel &= ~size;
      o++;
    }
    this.addFree(s, rel, o);
  }

  /** Order of the block allocated at `pa`, or undefined. */
  orderOf(pa: number): number | undefined {
    const pfn = pa / PAGE_SIZE;
    const si = this.spanIndex(pfn);
    if (si < 0) return undefined;
    const s = this.spans[si]!;
    const st = s.state[pfn - s.base]!;
    return (st & ST_ALLOC) !== 0 ? st & ~ST_ALLOC : undefined;
  }

  isAllocated(pa: number): boolean {
    return this.orderOf(pa) !== undefined;
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
    const out: { pa: number; order: number }[] = [];
    if (this.allocatedBlocks === 0) return out;
    for (const s of this.spans) {
      const state = s.state;
      for (let rel = s.start - s.base; rel < s.end - s.base; rel++) {
        const st = state[rel]!;
        if ((st & ST_ALLOC) !== 0) out.push({ pa: (s.base + rel) * PAGE_SIZE, order: st & ~ST_ALLOC });
      }
    }
    return out;
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

  /** Zeroes a block piecewise, so no single `zero` call crosses from one pool into a touching one. */
  private zeroAcrossSeams(s: Span, pfn: number, pages: number): void {
    let from = pfn;
    const end = pfn + pages;
    for (const seam of s.seams)
      if (seam > from && seam < end) {
        this.mem.zero(from * PAGE_SIZE, (seam - from) * PAGE_SIZE);
        from = seam;
      }
    this.mem.zero(from * PAGE_SIZE, (end - from) * PAGE_SIZE);
  }

  /** Index of the span holding frame `pfn`, or -1 (also for a non-integer frame number). */
  private spanIndex(pfn: number): number {
    const spans = this.spans;
    const c = spans[this.lastSpan];
    if (c !== undefined && pfn >= c.start && pfn < c.end && Number.isInteger(pfn)) return this.lastSpan;
    if (!Number.isInteger(pfn)) return -1;
    for (let i = 0; i < spans.length; i++) {
      const s = spans[i]!;
      if (pfn >= s.start && pfn < s.end) {
        this.lastSpan = i;
        return i;
      }
    }
    return -1;
  }

  private addFree(s: Span, rel: number, order: number): void {
    s.state[rel] = order + 1;
    const idx = rel >>> order;
    const w = idx >>> 5;
    const bits = s.bits[order]!;
    bits[w] = bits[w]! | (1 << (idx & 31));
    const sum = s.sum[order]!;
    const sw = w >>> 5;
    sum[sw] = sum[sw]! | (1 << (w & 31));
    if (sw < s.hint[order]!) s.hint[order] = sw;
    s.count[order]!++;
    this.freeCount[order]!++;
  }

  private removeFree(s: Span, rel: number, order: number): void {
    s.state[rel] = ST_NONE;
    const idx = rel >>> order;
    const w = idx >>> 5;
    const bits = s.bits[order]!;
    const nw = bits[w]! & ~(1 << (idx & 31));
    bits[w] = nw;
    if (nw === 0) {
      const sum = s.sum[order]!;
      const sw = w >>> 5;
      sum[sw] = sum[sw]! & ~(1 << (w & 31));
    }
    s.count[order]!--;
    this.freeCount[order]!--;
  }

  /** Removes and returns (as a span-relative frame) the lowest free block of `order`; the span has one. */
  private takeLowest(s: Span, order: number): number {
    const sum = s.sum[order]!;
    let sw = s.hint[order]!;
    while (sum[sw] === 0) sw++;
    s.hint[order] = sw;
    const sv = sum[sw]!;
    const w = (sw << 5) + (31 - Math.clz32(sv & -sv));
    const bv = s.bits[order]![w]!;
    const idx = (w << 5) + (31 - Math.clz32(bv & -bv));
    const rel = idx << order;
    this.removeFree(s, rel, order);
    return rel;
  }
}
