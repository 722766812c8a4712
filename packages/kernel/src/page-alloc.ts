import { CHUNK_SIZE, PAGE_SIZE, type MemRegion, type PhysMem } from '@gki/hw';
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

/**
 * The per-CPU page lists (Linux's pcp, mm/page_alloc.c as of v6.12) hold orders up to this one
 * (PAGE_ALLOC_COSTLY_ORDER); larger blocks go straight to and from the buddy lists.
 */
export const PAGE_ALLOC_COSTLY_ORDER = 3;

/** CONFIG_PCP_BATCH_SCALE_MAX's default: how far free_count and alloc_factor scale a batch (2^5). */
const PCP_BATCH_SCALE_MAX = 5;
/** vm.watermark_scale_factor's default, in units of 1/10000 of the zone. */
const WATERMARK_SCALE_FACTOR = 10;
/** One list per order 0..PAGE_ALLOC_COSTLY_ORDER (every page here is one migratetype). */
const PCP_LISTS = PAGE_ALLOC_COSTLY_ORDER + 1;

export interface PageAllocatorOptions {
  /**
   * Per-CPU page lists in front of the buddy allocator, as Linux has them (default true).
   * false: the buddy alone, which always hands out the lowest free block of the order.
   */
  readonly pcp?: boolean;
}

/** The per-CPU lists' sizing and contents (`PageAllocator.pcpInfo()`). */
export interface PcpInfo {
  readonly enabled: boolean;
  /** pcp->batch: pages moved between the buddy and the lists at a time. */
  readonly batch: number;
  /** pcp->high: the lists are trimmed when they hold this many pages. */
  readonly high: number;
  /** pcp->count: pages on the lists, all orders. */
  readonly count: number;
  /** Per order 0..3, the physical addresses on that list from head (next handed out) to tail. */
  readonly lists: readonly (readonly number[])[];
}

/**
 * pcp->batch for a zone of `managed` 4 KiB pages (zone_batchsize with an MMU): the smaller of
 * ~0.1% of the zone and 1 MiB of pages, a quarter of that, then rounded to 2^n - 1 (from
 * batch * 1.5) because a power of two aliases badly in caches; at least 1. 63 from 1 GiB up.
 */
function zoneBatchsize(managed: number): number {
  let batch = Math.min(Math.floor(managed / 1024), (1 << 20) / PAGE_SIZE);
  batch = Math.floor(batch / 4);
  if (batch < 1) batch = 1;
  batch = 2 ** (31 - Math.clz32(batch + (batch >>> 1))) - 1;
  return Math.max(1, batch);
}

/**
 * pcp->high_min for a zone of `managed` pages that is the only zone, on a node with one CPU
 * (zone_highsize without percpu_pagelist_high_fraction): the zone's low watermark, at least
 * 4 × batch. The watermark follows setup_per_zone_wmarks: min_free_kbytes =
 * int_sqrt(16 × KiB of RAM) clamped to [128, 262144]; WMARK_MIN = that in pages; WMARK_LOW =
 * WMARK_MIN + max(WMARK_MIN / 4, managed × watermark_scale_factor / 10000).
 */
function zoneHighsize(managed: number, batch: number): number {
  const x = managed * (PAGE_SIZE / 1024) * 16;
  let root = Math.floor(Math.sqrt(x));
  while (root * root > x) root--;
  while ((root + 1) * (root + 1) <= x) root++;
  const minFreeKbytes = Math.min(Math.max(root, 128), 262144);
  const wmarkMin = Math.floor(minFreeKbytes / (PAGE_SIZE / 1024));
  const wmarkLow = wmarkMin + Math.max(Math.floor(wmarkMin / 4), Math.floor((managed * WATERMARK_SCALE_FACTOR) / 10000));
  return Math.max(wmarkLow, batch * 4);
}

/** Per-frame state byte: not the head of any block. */
const ST_NONE = 0;
/** Per-frame state byte: head of an allocated block; the low bits hold its order. */
const ST_ALLOC = 0x80;
/** Per-frame state byte: head of a free block on a per-CPU list; the low bits hold its order. */
const ST_PCP = 0x40;
/** Frames per largest block: span bases are aligned to this, so buddies are `rel ^ size`. */
const MAX_BLOCK_FRAMES = 1 << MAX_ORDER;

/**
 * A run of contiguous page frames (one or more touching pools). Frames are indexed relative to
 * `base`, the first frame rounded down to a max-order boundary. `state[rel]` is ST_NONE, free
 * head of order o in the buddy (stored as o + 1), ST_PCP | o or ST_ALLOC | o. Per order,
 * `bits[o]` has bit (rel >> o) set for each buddy-free block of that order and `sum[o]` has bit
 * w set when word w of `bits[o]` is non-zero; `hint[o]` is a `sum[o]` word index below which
 * every word is zero.
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
  /** Frames this allocator already passed to `mem.touch` (the touched set never shrinks). */
  readonly touched: Uint8Array;
  /**
   * Per 2 MiB of the span (`rel >>> 9`; the base is 4 MiB aligned), the backing words of that
   * PhysMem chunk once it has been written (`backedChunk`; chunks are never dropped), or null.
   */
  readonly words: (Uint32Array | null)[];
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
    touched: new Uint8Array(frames),
    words: new Array<Uint32Array | null>(frames >>> 9).fill(null),
  };
}

/**
 * Linux's page allocator for one CPU and one zone: a binary buddy allocator over the board's
 * RAM with the per-CPU page lists (pcp) in front of it for orders 0 to 3. Blocks of 2^order
 * pages are naturally aligned; allocations are zeroed. Returns a physical address, or a
 * negative errno.
 *
 * The buddy hands out the lowest free block of the smallest order that fits (Linux takes the
 * head of a free list instead; lowest-address is this model's deterministic choice). Internally
 * blocks are named by page frame number (pa / PAGE_SIZE). Each run of contiguous frames keeps a
 * state byte per frame and, per order, a two-level bitmap of free blocks, so the lowest free
 * block of an order is found with a few word scans and nothing is hashed or allocated per call.
 *
 * The per-CPU lists follow v6.12 (free_unref_page_commit, nr_pcp_free, free_pcppages_bulk,
 * rmqueue_pcplist, nr_pcp_alloc, rmqueue_bulk, drain_pages_zone):
 * - a free of order ≤ 3 puts the block at the head of its order's list; when the lists then
 *   hold `high` pages or more, `nr_pcp_free` pages leave from the tails (the freed order's list
 *   first, then round-robin over the orders, each list emptied before the next) into the buddy;
 * - an allocation of order ≤ 3 takes its list's head; an empty list is first refilled with
 *   `nr_pcp_alloc` blocks taken from the buddy one by one and appended in that order;
 * - an allocation the buddy cannot satisfy drains every list into the buddy and retries once
 *   (the slow path's drain_all_pages), so pages on the lists never make an allocation fail;
 * - batch and high are sized from the managed pages as zone_batchsize and zone_highsize do;
 *   free_count, alloc_factor and the consecutive high-order free rule (PCPF_PREV_FREE_HIGH_ORDER,
 *   with PCPF_FREE_HIGH_BATCH clear: no cache information) are kept.
 * Simplified: pcp->high stays at high_min (6.7+ auto-tunes it between high_min and
 * high_max = managed / 8 on refills and frees and decays it from vmstat every second; the
 * model has no vmstat timer), and there are no watermarks, reclaim or ZONE_BELOW_HIGH /
 * ZONE_RECLAIM_ACTIVE states. Pages on the lists are free for every query (stats, isAllocated,
 * orderOf, snapshot); freeing one again is a double free.
 */
export class PageAllocator {
  /** Contiguous frame runs, sorted by address. */
  private readonly spans: Span[] = [];
  /** Free blocks per order in the buddy, over all spans. */
  private readonly freeCount = new Int32Array(MAX_ORDER + 1);
  private lastSpan = 0;
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

  private readonly pcpOn: boolean;
  private readonly pcpBatch: number;
  private readonly pcpHigh: number;
  /** pcp->count: pages on the lists. */
  private pcpCount = 0;
  /** pcp->free_count: grows by the pages freed (up to batch << 5), halves on each allocation. */
  private pcpFreeCount = 0;
  private readonly pcpFreeCountMax: number;
  /** pcp->alloc_factor: each refill without frees in between doubles the next one (up to 2^5). */
  private pcpAllocFactor = 0;
  /** PCPF_PREV_FREE_HIGH_ORDER: the last free through the lists was of order 1 to 3. */
  private pcpPrevFreeHigh = false;
  /**
   * The lists as rings of page frame numbers: order o's ring is `ring[o * cap .. (o + 1) * cap)`
   * with `cap = ringMask + 1`; `pcpHead[o]` is the index (within the ring) of its head and
   * `pcpLen[o]` its length.
   */
  private ring: Float64Array;
  private ringMask: number;
  private readonly pcpHead = new Int32Array(PCP_LISTS);
  private readonly pcpLen = new Int32Array(PCP_LISTS);

  constructor(
    private readonly mem: PhysMem,
    pools?: readonly MemRegion[],
    options: PageAllocatorOptions = {},
  ) {
    // the one-page list path zeroes a page straight in its PhysMem chunk, 512 frames (2 MiB) each
    if (CHUNK_SIZE !== 512 * PAGE_SIZE) throw new Error(`page allocator: expects 2 MiB PhysMem chunks, not ${CHUNK_SIZE} bytes`);
    if (options === null || typeof options !== 'object') throw new TypeError(`PageAllocator: options must be an object (got ${String(options)})`);
    if (options.pcp !== undefined && typeof options.pcp !== 'boolean') throw new TypeError(`PageAllocator: options.pcp must be a boolean (got ${String(options.pcp)})`);
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
    this.pcpOn = options.pcp ?? true;
    this.pcpBatch = zoneBatchsize(total);
    this.pcpHigh = zoneHighsize(total, this.pcpBatch);
    this.pcpFreeCountMax = this.pcpBatch << PCP_BATCH_SCALE_MAX;
    // room for `high` pages plus a refill of every order; a list that outgrows it grows the rings
    let cap = 16;
    if (this.pcpOn) while (cap < this.pcpHigh + PCP_LISTS * Math.max(this.pcpBatch, 16) + 2) cap *= 2;
    this.ring = new Float64Array(PCP_LISTS * cap);
    this.ringMask = cap - 1;
  }

  /**
   * Allocates 2^order zeroed, naturally aligned pages. Returns the PA or -ENOMEM / -EINVAL.
   *
   * One page from a non-empty order-0 list (io-pgtable's tables, the commonest call) takes the
   * path below, written out without helper calls: every first map into a new 2 MiB region of a
   * domain allocates a table, often before V8 has optimised anything, where each call costs.
   */
  allocPages(order = 0): number {
    if (order !== 0 || this.fault !== null) return this.allocOrder(order);
    const lens = this.pcpLen;
    const n = lens[0]!;
    if (n === 0) return this.pcpOn ? this.allocOrder(0) : this.allocOneFromBuddy();
    // rmqueue_pcplist: halve free_count, take the order-0 list's head
    this.allocCalls++;
    this.pcpFreeCount >>= 1;
    const heads = this.pcpHead;
    const h = heads[0]!;
    const pfn = this.ring[h]!;
    heads[0] = (h + 1) & this.ringMask;
    lens[0] = n - 1;
    this.pcpCount--;
    let s = this.spans[this.lastSpan]!;
    if (pfn < s.start || pfn >= s.end) s = this.spans[this.spanIndex(pfn)]!;
    const rel = pfn - s.base;
    s.state[rel] = ST_ALLOC;
    if (++this.inUse > this.high) this.high = this.inUse;
    const pa = pfn * PAGE_SIZE;
    // zero it: straight into the chunk's words once known (a chunk never written reads as zero)
    const words = s.words;
    let c = words[rel >>> 9] as Uint32Array | null;
    if (c === null) c = words[rel >>> 9] = this.mem.backedChunk(pa);
    if (c !== null) {
      const w = (rel & 511) << 10;
      c.fill(0, w, w + 1024);
    }
    const seen = s.touched;
    if (seen[rel] === 0) {
      this.mem.touch(pa, PAGE_SIZE);
      seen[rel] = 1;
    }
    return pa;
  }

  /**
   * One page from the buddy alone (lists off), no fault injection: the lowest block of the
   * smallest non-empty order, split down, written out as the list path above.
   */
  private allocOneFromBuddy(): number {
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
    if (++this.inUse > this.high) this.high = this.inUse;
    const pa = (s.base + rel) * PAGE_SIZE;
    // one page lies in one pool: no seam to zero across
    this.mem.zero(pa, PAGE_SIZE);
    const seen = s.touched;
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
    // as should_fail_alloc_page, before the lists or the buddy are looked at
    if (this.fault !== null && this.shouldFail()) {
      this.failed++;
      this.injected++;
      return -ENOMEM;
    }
    let pfn = this.rmqueue(order);
    if (pfn < 0 && this.pcpOn) {
      // the slow path: free pages may sit on the lists; drain them into the buddy, retry once
      this.drainAllPages();
      pfn = this.rmqueue(order);
    }
    if (pfn < 0) {
      this.failed++;
      return -ENOMEM;
    }
    const si = this.spanIndex(pfn);
    const s = this.spans[si]!;
    const rel = pfn - s.base;
    s.state[rel] = ST_ALLOC | order;
    const pages = 1 << order;
    this.inUse += pages;
    if (this.inUse > this.high) this.high = this.inUse;
    const pa = pfn * PAGE_SIZE;
    if (s.seams.length === 0) this.mem.zero(pa, PAGE_SIZE * pages);
    else this.zeroAcrossSeams(s, pfn, pages);
    // the touched set only grows, so frames already reported need not be reported again
    const seen = s.touched;
    for (let f = rel; f < rel + pages; f++)
      if (seen[f] === 0) {
        this.mem.touch(pa, PAGE_SIZE * pages);
        seen.fill(1, rel, rel + pages);
        break;
      }
    return pa;
  }

  /**
   * rmqueue: a block of `order` off its list (refilled from the buddy when empty) or, for the
   * larger orders and with the lists off, from the buddy. Returns its frame number (its state
   * byte is the caller's to set) or -1.
   */
  private rmqueue(order: number): number {
    if (this.pcpOn && order <= PAGE_ALLOC_COSTLY_ORDER) {
      this.pcpFreeCount >>= 1;
      const lens = this.pcpLen;
      if (lens[order] === 0) this.rmqueueBulk(order, this.nrPcpAlloc(order));
      if (lens[order] !== 0) {
        const cap = this.ringMask + 1;
        const h = this.pcpHead[order]!;
        const pfn = this.ring[order * cap + h]!;
        this.pcpHead[order] = (h + 1) & this.ringMask;
        lens[order]--;
        this.pcpCount -= 1 << order;
        return pfn;
      }
      // the refill found nothing: the buddy has no block of this order or larger either
    }
    return this.buddyTake(order);
  }

  /** nr_pcp_alloc: how many blocks of `order` a refill of an empty list takes from the buddy. */
  private nrPcpAlloc(order: number): number {
    const base = this.pcpBatch;
    const high = this.pcpHigh;
    // (high is at least 4 × batch, so Linux's "lists disabled" answer of 1 does not arise)
    let batch = order !== 0 ? base : base << this.pcpAllocFactor;
    if (order === 0) {
      const maxNrAlloc = Math.max(high - this.pcpCount - base, base);
      // refills without a free in between double (alloc_factor), within what high leaves room for
      if (batch <= maxNrAlloc && this.pcpAllocFactor < PCP_BATCH_SCALE_MAX) this.pcpAllocFactor++;
      batch = Math.min(batch, maxNrAlloc);
    }
    if (batch > 1) batch = Math.max(batch >> order, 2);
    return batch;
  }

  /** rmqueue_bulk: up to `count` blocks of `order` from the buddy, appended to the list's tail in the order taken. */
  private rmqueueBulk(order: number, count: number): void {
    while (this.pcpLen[order]! + count > this.ringMask + 1) this.growRings();
    const ring = this.ring;
    const mask = this.ringMask;
    const first = order * (mask + 1);
    let tail = this.pcpHead[order]! + this.pcpLen[order]!;
    const st = ST_PCP | order;
    let i = 0;
    for (; i < count; i++) {
      const pfn = this.buddyTake(order);
      if (pfn < 0) break;
      const s = this.spans[this.lastSpan]!;
      s.state[pfn - s.base] = st;
      ring[first + (tail++ & mask)] = pfn;
    }
    this.pcpLen[order] += i;
    this.pcpCount += i << order;
  }

  /**
   * The lowest free block of `order` from the buddy, split from the smallest larger order when
   * needed (upper halves back to the free lists). Returns its frame number, or -1; `lastSpan`
   * is left on its span.
   */
  private buddyTake(order: number): number {
    const counts = this.freeCount;
    let o = order;
    while (o <= MAX_ORDER && counts[o] === 0) o++;
    if (o > MAX_ORDER) return -1;
    const spans = this.spans;
    let si = 0;
    while (spans[si]!.count[o] === 0) si++;
    const s = spans[si]!;
    const rel = this.takeLowest(s, o);
    while (o > order) {
      o--;
      this.addFree(s, rel + (1 << o), o);
    }
    this.lastSpan = si;
    return s.base + rel;
  }

  /** Frees a block. A double free or a wrong order is a kernel bug: throws KernelError(-EINVAL). */
  freePages(pa: number, order = 0): void {
    // one allocated page in the span used last (what `freeBlock` checks first): written out
    const pfn = pa / PAGE_SIZE;
    const s = this.spans[this.lastSpan];
    if (order === 0 && s !== undefined && pfn >= s.start && pfn < s.end && pfn === Math.floor(pfn)) {
      const state = s.state;
      let rel = pfn - s.base;
      if (state[rel] === ST_ALLOC) {
        this.freeCalls++;
        this.inUse--;
        if (this.pcpOn) {
          // free_unref_page_commit for one page: onto the order-0 list's head
          state[rel] = ST_PCP;
          this.pcpAllocFactor >>= 1;
          const lens = this.pcpLen;
          if (lens[0] === this.ringMask + 1) this.growRings();
          const heads = this.pcpHead;
          const h = (heads[0]! - 1) & this.ringMask;
          heads[0] = h;
          this.ring[h] = pfn;
          lens[0]++;
          this.pcpPrevFreeHigh = false;
          if (this.pcpFreeCount < this.pcpFreeCountMax) this.pcpFreeCount++;
          if (++this.pcpCount >= this.pcpHigh) this.freePcppagesBulk(this.nrPcpFree(this.pcpHigh, false), 0);
          return;
        }
        // the buddy alone: merge with free buddies (removeFree written out), then addFree
        state[rel] = ST_NONE;
        const counts = this.freeCount;
        const lo = s.start - s.base;
        const hi = s.end - s.base;
        let o = 0;
        while (o < MAX_ORDER) {
          const size = 1 << o;
          const buddy = rel ^ size;
          if (buddy < lo || buddy >= hi || state[buddy] !== o + 1) break;
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
    const rel = pfn - s.base;
    this.inUse -= 1 << order;
    if (this.pcpOn && order <= PAGE_ALLOC_COSTLY_ORDER) {
      s.state[rel] = ST_PCP | order;
      this.freeUnrefPageCommit(pfn, order);
    } else {
      s.state[rel] = ST_NONE;
      this.buddyFree(s, rel, order);
    }
  }

  /** free_unref_page_commit: the block (state ST_PCP already) onto its list's head, then trim the lists when at high. */
  private freeUnrefPageCommit(pfn: number, order: number): void {
    this.pcpAllocFactor >>= 1;
    if (this.pcpLen[order] === this.ringMask + 1) this.growRings();
    const h = (this.pcpHead[order]! - 1) & this.ringMask;
    this.pcpHead[order] = h;
    this.ring[order * (this.ringMask + 1) + h] = pfn;
    this.pcpLen[order]++;
    this.pcpCount += 1 << order;
    const batch = this.pcpBatch;
    // consecutive frees of orders 1-3 without allocations in between trim the lists at once
    let freeHigh = false;
    if (order !== 0) {
      freeHigh = this.pcpFreeCount >= batch && this.pcpPrevFreeHigh;
      this.pcpPrevFreeHigh = true;
    } else this.pcpPrevFreeHigh = false;
    if (this.pcpFreeCount < this.pcpFreeCountMax) this.pcpFreeCount += 1 << order;
    // nr_pcp_high with high fixed at high_min: 0 for the high-order rule, else high
    const high = freeHigh ? 0 : this.pcpHigh;
    if (this.pcpCount >= high) this.freePcppagesBulk(this.nrPcpFree(high, freeHigh), order);
  }

  /** nr_pcp_free: pages to trim, at least batch and at most high - batch, scaled by recent frees (free_count). */
  private nrPcpFree(high: number, freeHigh: boolean): number {
    const batch = this.pcpBatch;
    if (freeHigh) return Math.min(this.pcpCount, batch << PCP_BATCH_SCALE_MAX);
    return Math.min(Math.max(this.pcpFreeCount, batch), high - batch);
  }

  /**
   * free_pcppages_bulk: `count` pages from the lists' tails into the buddy, starting with the
   * list of `order`, then the next non-empty list of the next orders round-robin, each list
   * emptied (or the count reached) before moving on.
   */
  private freePcppagesBulk(count: number, order: number): void {
    let left = Math.min(this.pcpCount, count);
    let p = order - 1;
    const lens = this.pcpLen;
    const cap = this.ringMask + 1;
    while (left > 0) {
      do if (++p > PCP_LISTS - 1) p = 0;
      while (lens[p] === 0);
      const nr = 1 << p;
      do {
        const n = --lens[p]!;
        const pfn = this.ring[p * cap + ((this.pcpHead[p]! + n) & this.ringMask)]!;
        left -= nr;
        this.pcpCount -= nr;
        let s = this.spans[this.lastSpan]!;
        if (pfn < s.start || pfn >= s.end) s = this.spans[this.spanIndex(pfn)]!;
        const rel = pfn - s.base;
        s.state[rel] = ST_NONE;
        this.buddyFree(s, rel, p);
      } while (left > 0 && lens[p] !== 0);
    }
  }

  /**
   * drain_all_pages for the one CPU: every page on the lists back into the buddy (batch << 5
   * pages at a time, list 0 first), so the buddy can merge them. The allocator calls it itself
   * before failing an allocation; callers that want the buddy's lowest-address placement at
   * some point may call it too.
   */
  drainAllPages(): void {
    const chunk = this.pcpBatch << PCP_BATCH_SCALE_MAX;
    while (this.pcpCount > 0) this.freePcppagesBulk(Math.min(this.pcpCount, chunk), 0);
  }

  /** The lists' sizing and contents, for tests and inspection. */
  pcpInfo(): PcpInfo {
    const cap = this.ringMask + 1;
    const lists: number[][] = [];
    for (let o = 0; o < PCP_LISTS; o++) {
      const l: number[] = [];
      for (let k = 0; k < this.pcpLen[o]!; k++) l.push(this.ring[o * cap + ((this.pcpHead[o]! + k) & this.ringMask)]! * PAGE_SIZE);
      lists.push(l);
    }
    return { enabled: this.pcpOn, batch: this.pcpBatch, high: this.pcpHigh, count: this.pcpCount, lists };
  }

  /** Doubles every list's ring, keeping each list's order (heads restart at 0). */
  private growRings(): void {
    const cap = this.ringMask + 1;
    const next = new Float64Array(PCP_LISTS * cap * 2);
    for (let o = 0; o < PCP_LISTS; o++) {
      for (let k = 0; k < this.pcpLen[o]!; k++) next[o * cap * 2 + k] = this.ring[o * cap + ((this.pcpHead[o]! + k) & this.ringMask)]!;
      this.pcpHead[o] = 0;
    }
    this.ring = next;
    this.ringMask = cap * 2 - 1;
  }

  /** Returns a block whose state byte is already ST_NONE to the buddy, merging it with free buddies. */
  private buddyFree(s: Span, rel: number, order: number): void {
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
    // no pages in use: no allocated block to list
    if (this.inUse === 0) return out;
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
