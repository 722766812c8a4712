import { EINVAL, ENODEV } from '../errno.js';
import { iommuIsPagingDomain, type IommuDomain, type IommuIotlbGather, type IommuMappedOut, type IommuPgtableOps } from './types.js';

/*
 * Address arithmetic on plain numbers: IOVAs, PAs and page-size bitmaps go up to 2^52, so the
 * bit tricks below split values into 32-bit halves (`x >>> 0` is the low half of any integer
 * below 2^53, `Math.floor(x / 2^32)` the high half) instead of using `&`/`>>` on the whole
 * value. Float `%` is avoided on the hot paths: V8 compiles it to a slow library call.
 */

const TWO32 = 2 ** 32;

/** POW2[i] = 2^i. */
const POW2 = new Float64Array(64);
for (let i = 0; i < 64; i++) POW2[i] = 2 ** i;

/** Index of the highest set bit of a positive integer < 2^53 (fls - 1). */
export function highestBit(x: number): number {
  if (x < TWO32) return 31 - Math.clz32(x >>> 0);
  return 63 - Math.clz32(Math.floor(x / TWO32));
}

/** Index of the lowest set bit of a positive integer < 2^53 (__ffs); 64 for 0. */
export function lowestBit(x: number): number {
  const lo = x >>> 0;
  if (lo !== 0) return 31 - Math.clz32(lo & -lo);
  const hi = Math.floor(x / TWO32);
  return hi === 0 ? 64 : 63 - Math.clz32(hi & -hi);
}

/** Mask of bits 0..k-1 of a 32-bit half (0 <= k <= 31). */
function lowMask(k: number): number {
  return ~(-1 << k);
}

/** True when the integer x (< 2^53) is a multiple of 2^k (0 <= k <= 63). */
function alignedTo(x: number, k: number): boolean {
  const lo = x >>> 0;
  if (k < 32) return (lo & lowMask(k)) === 0;
  return lo === 0 && (k >= 53 ? x === 0 : (Math.floor(x / TWO32) & lowMask(k - 32)) === 0);
}

/*
 * Page-size bitmap decomposition, cached per bitmap value (a few slots: one per domain
 * geometry in use). For a bitmap, slot tables hold:
 *   best[limit]  highest size index in the bitmap that is <= limit, or -1 (limit 0..63)
 *   next[idx]    lowest size index in the bitmap that is > idx, or -1 (idx 0..63)
 *   min          lowest size index in the bitmap (64 for an empty bitmap)
 * so iommuPgsize needs two table reads instead of masking the bitmap on every call.
 */
const SLOTS = 4;
const TABLE = 128; // best at [0, 64), next at [64, 128)
const slotBitmap = new Float64Array(SLOTS).fill(-1);
const slotTables = new Int8Array(SLOTS * TABLE);
const slotMin = new Int8Array(SLOTS);
let slotVictim = 0;

/** The cache slot describing `bitmap` (a non-negative integer < 2^53), filling one if needed. */
function bitmapSlot(bitmap: number): number {
  for (let s = 0; s < SLOTS; s++) if (slotBitmap[s] === bitmap) return s;
  const s = slotVictim;
  slotVictim = (s + 1) % SLOTS;
  const lo = bitmap >>> 0;
  const hi = bitmap < TWO32 ? 0 : Math.floor(bitmap / TWO32) >>> 0;
  const base = s * TABLE;
  let best = -1;
  let min = 64;
  for (let i = 0; i < 64; i++) {
    const set = i < 32 ? (lo >>> i) & 1 : (hi >>> (i - 32)) & 1;
    if (set) {
      best = i;
      if (min === 64) min = i;
    }
    slotTables[base + i] = best;
  }
  let next = -1;
  for (let i = 63; i >= 0; i--) {
    slotTables[base + 64 + i] = next;
    const set = i < 32 ? (lo >>> i) & 1 : (hi >>> (i - 32)) & 1;
    if (set) next = i;
  }
  slotMin[s] = min;
  slotBitmap[s] = bitmap;
  return s;
}

/**
 * The cache slot of `bitmap`: `hint` when it still describes it (the common case inside a
 * map/unmap loop; driver callbacks may have evicted it), else a lookup.
 */
function slotOf(bitmap: number, hint: number): number {
  return slotBitmap[hint] === bitmap ? hint : bitmapSlot(bitmap);
}

/**
 * The smallest page size in `bitmap`, or 0 for an empty bitmap. Below 2^30 as a small integer
 * (`1 << i`), not the Float64Array's value: a value read from POW2 is a heap number (4096.0) in
 * unoptimised code, and this size becomes the DMA domain's IOVA granule, which the DMA API
 * hands to iommu_map and the format as their page size; stored into an object field that had
 * held small integers, a heap number widens that field's representation on the map every such
 * object shares (the format's okPgsize, the core's and callers' `{ mapped }` counters), which
 * deoptimises code compiled for the narrow one (BENCHMARKS.md, branch map1smi).
 */
export function iommuMinPageSize(bitmap: number): number {
  if (!(bitmap > 0)) return 0;
  const i = slotMin[bitmapSlot(bitmap)]!;
  return i < 30 ? 1 << i : POW2[i]!;
}

/** Result of iommuPgsize (reuse one object per call site). */
export interface IommuPgsizeOut {
  pgsize: number;
  count: number;
}

/**
 * iommu_pgsize: the largest page size in `bitmap` that fits `size` and the alignment of both
 * `iova` and `paddr`, and how many pages of it to map in one go: all that fit, unless the
 * addresses can reach the alignment of the next larger size and at least one page of that
 * size fits after it, in which case only the pages up to that boundary. -EINVAL (in `pgsize`)
 * when no size fits. All arguments are non-negative integers below 2^53.
 */
export function iommuPgsize(bitmap: number, iova: number, paddr: number, size: number, out: IommuPgsizeOut): IommuPgsizeOut {
  return pgsizeIn(bitmapSlot(bitmap), iova, paddr, size, out);
}

function pgsizeIn(slot: number, iova: number, paddr: number, size: number, out: IommuPgsizeOut): IommuPgsizeOut {
  if (!(size > 0)) {
    out.pgsize = -EINVAL;
    out.count = 0;
    return out;
  }
  // largest index allowed by the size and by the alignment of iova | paddr
  let limit = highestBit(size);
  const iLo = iova >>> 0;
  const pLo = paddr >>> 0;
  const aLo = iLo | pLo;
  let iHi = 0;
  let pHi = 0;
  // a negative (upper-half) iova is taken as 64-bit two's complement: its high half is negative
  if (iova >= TWO32 || iova < 0) iHi = Math.floor(iova / TWO32);
  if (paddr >= TWO32) pHi = Math.floor(paddr / TWO32);
  if (aLo !== 0) {
    const low = 31 - Math.clz32(aLo & -aLo);
    if (low < limit) limit = low;
  } else {
    const aHi = iHi | pHi;
    if (aHi !== 0) {
      const low = 63 - Math.clz32(aHi & -aHi);
      if (low < limit) limit = low;
    }
  }
  const base = slot * TABLE;
  const idx = slotTables[base + limit]!;
  if (idx < 0) {
    out.pgsize = -EINVAL;
    out.count = 0;
    return out;
  }
  // a small integer below 2^30 (see iommuMinPageSize: it becomes the format's page size)
  const pgsize = idx < 30 ? 1 << idx : POW2[idx]!;
  let span = size;
  const nextIdx = slotTables[base + 64 + idx]!;
  if (nextIdx >= 0) {
    // iova and paddr agree modulo the next size: stop at iova's next boundary of it when a
    // whole page of that size still fits after the boundary
    let same: boolean;
    let off: number; // iova modulo the next size
    if (nextIdx < 32) {
      const m = lowMask(nextIdx);
      same = ((iLo ^ pLo) & m) === 0;
      off = iLo & m;
    } else {
      const m = lowMask(nextIdx - 32);
      same = iLo === pLo && ((iHi ^ pHi) & m) === 0;
      off = iLo + (iHi & m) * TWO32;
    }
    if (same) {
      const next = POW2[nextIdx]!;
      const toBoundary = next - off;
      if (toBoundary + next <= size) span = toBoundary;
    }
  }
  out.pgsize = pgsize;
  out.count = Math.floor(span / pgsize);
  return out;
}

/**
 * iommu_iotlb_gather_init: an empty gather (start above end; upper-half IOVAs are negative).
 *
 * The bounds are Number.MAX_SAFE_INTEGER and Number.MIN_SAFE_INTEGER written as literals: a
 * caller's loop that V8 compiles with this function inlined then needs no type feedback for
 * the two property loads, which it did not always have (a soft deoptimization at the loop's
 * first call, after which the loop could stay in its on-stack-replacement code; BENCHMARKS.md,
 * "the OSR rows"). A test checks the literals against the constants.
 */
export function iommuIotlbGatherInit(): IommuIotlbGather {
  return { start: 9007199254740991, end: -9007199254740991, pgsize: 0, queued: false };
}

/** True when the gather holds nothing. */
export function iommuIotlbGatherEmpty(g: IommuIotlbGather): boolean {
  return g.start > g.end;
}

/** iommu_iotlb_gather_add_range: widens the gathered range to cover [iova, iova + size). */
export function iommuIotlbGatherAddRange(g: IommuIotlbGather, iova: number, size: number): void {
  const end = iova + size - 1;
  if (iova < g.start) g.start = iova;
  if (end > g.end) g.end = end;
}

/**
 * iommu_iotlb_gather_add_page: like AddRange, but first syncs (through `domain`'s iotlbSync)
 * and restarts the gather when the page size changes or the page is not adjacent to it, so
 * one sync never invalidates a huge range for two distant pages.
 */
export function iommuIotlbGatherAddPage(domain: IommuDomain, g: IommuIotlbGather, iova: number, size: number): void {
  // written out (not through the helpers above) to stay small enough for V8 to inline it into
  // the driver's tlb_add_page on iommu_unmap's one-page path: non-empty, and another page size
  // or not adjacent to the gathered range
  if (g.start <= g.end && (g.pgsize !== size || iova + size < g.start || iova > g.end + 1)) iommuIotlbSync(domain, g);
  g.pgsize = size;
  const end = iova + size - 1;
  if (iova < g.start) g.start = iova;
  if (end > g.end) g.end = end;
}

/**
 * The bitmap cache slot of a domain map/unmap may use, or a negative errno (-EINVAL for a
 * domain that is not a paging domain, -ENODEV for one without page sizes).
 */
function domainSlot(domain: IommuDomain): number {
  if (!domain || !domain.ops || !iommuIsPagingDomain(domain.type)) return -EINVAL;
  const bitmap = domain.pgsizeBitmap;
  if (!(bitmap > 0)) return -ENODEV;
  return bitmapSlot(bitmap);
}

function isAddr(x: number): boolean {
  return Number.isSafeInteger(x) && x >= 0;
}

/**
 * True when [iova, iova + size) is a range `domain` can address: non-negative, or, for a
 * domain with an upper-half (negative) aperture, inside [apertureStart, 0) without wrapping.
 */
function isIovaRange(domain: IommuDomain, iova: number, size: number): boolean {
  if (!Number.isSafeInteger(iova) || !Number.isSafeInteger(iova + size)) return false;
  if (iova >= 0) return true;
  return domain.geometry.apertureStart < 0 && iova >= domain.geometry.apertureStart && iova + size <= 0;
}

/*
 * Per-call scratch objects, so that a map or unmap allocates nothing. A driver callback that
 * re-enters the core while one is in use gets fresh objects instead (the busy flags).
 */
const mapOut: IommuPgsizeOut = { pgsize: 0, count: 0 };
/**
 * The `mapped` out-parameter of the one-page map path, and of the general path while it is not
 * busy. No busy flag on the one-page path: each use saves its value and restores it after the
 * driver's call, so a call nested in a driver callback hands the outer call its count back (the
 * path through a published page table takes what the call added to the saved value).
 */
const mapMapped: IommuMappedOut = { mapped: 0 };
let mapBusy = false;
const unmapOut: IommuPgsizeOut = { pgsize: 0, count: 0 };
let unmapBusy = false;
const unmapGather: IommuIotlbGather = iommuIotlbGatherInit();
let unmapGatherBusy = false;
/**
 * The gather of the one-page unmap paths, with whether one of them is using it (`busy`: then a
 * nested call, from a driver callback, takes the general path). The flag is a field of the
 * gather, which those paths load anyway, rather than a module variable: fewer bytecodes (their
 * size decides whether V8 inlines the whole chain into the caller). Neither flag nor gather
 * is handled with try/finally, which, inlined into the caller, costs about as much as the
 * whole one-page unmap: a driver op that throws out of that path leaves `busy` set, and every
 * later unmap then takes the general path, which gives the same results (with a gather of its
 * own per call). Drivers see an ordinary gather (the extra field is the core's).
 */
const oneUnmapGather: IommuIotlbGather & { busy: boolean } = { ...iommuIotlbGatherInit(), busy: false };

/**
 * IOVA and PA of a call leaving a one-page path for the code that finishes it, written just
 * before that code is called and read first thing by it. Passed through memory, not as
 * arguments: when the one-page path is inlined into its caller, its IOVA and PA are unboxed
 * doubles, and the format's own slow-path call needs them boxed; if the core passed the same
 * values to a call of its own, V8 would box them once for both uses, ahead of the branch, on
 * every call (two heap numbers per page, seen in a process whose earlier work had given these
 * calls type feedback). A typed array, because V8 does not forward a typed-array store to the
 * load that follows it as it does an object field (which would bring the shared value back).
 */
const AWAY = new Float64Array(2);

/**
 * Unmaps [iova, iova + size) in page-size runs, feeding `gather`; bytes unmapped (stops at
 * the first run the driver cannot unmap).
 */
function unmapRange(domain: IommuDomain, iova: number, size: number, gather: IommuIotlbGather): number {
  const own = !unmapBusy;
  const out = own ? unmapOut : { pgsize: 0, count: 0 };
  unmapBusy = true;
  try {
    let done = 0;
    let slot = 0;
    while (done < size) {
      slot = slotOf(domain.pgsizeBitmap, slot);
      pgsizeIn(slot, iova + done, iova + done, size - done, out);
      if (out.pgsize <= 0) break;
      const n = domain.ops.unmapPages(domain, iova + done, out.pgsize, out.count, gather);
      if (!(n > 0)) break;
      done += n;
    }
    return done;
  } finally {
    if (own) unmapBusy = false;
  }
}

/*
 * Fast paths. Most calls map or unmap one page of a size the domain supports, at addresses
 * aligned to it: iommu_pgsize then always answers "one page of `size`", so the split loop, the
 * bitmap tables and the page-size search can be skipped. `iommuMap` and `iommuUnmap` keep this
 * case small enough (in bytecode) for V8 to inline them and the format's own fast path into the
 * caller (the page table the driver published, see IommuDomain.pgtblOps, is called directly;
 * for a driver that publishes none, its op), as it inlines a format's mapPages called
 * directly: each call that is not inlined costs a few ns, boxes IOVAs and PAs at or above 2^31
 * into heap numbers, and hides the loop-invariant parts of the chain from the compiler. Everything else (ranges,
 * misaligned or odd arguments, errors, a driver that maps less than asked, an unmap nested in a
 * driver callback) takes the general path, with the same results. Neither path uses
 * try/finally: inlined into the caller, a try block put around the driver's op cost about as
 * much as the whole one-page map (V8 keeps every value the handler might need alive across the
 * inlined code); see mapMapped and oneUnmapGather.busy for what an exception leaves behind.
 *
 * The first tier, in iommuMap / iommuUnmap themselves, is a published table's one-page entries
 * (IommuPgtableOps.tryMapPage / tryUnmapPage, the format's fast path alone): they make the
 * range and integer tests the format makes anyway, so the core tests only `prot`, the size and
 * the bitmap, and the chain (core + entry + the format's TLB callback + the gather) is about
 * 400 bytes of bytecode a direction. V8 inlines at most 920 bytes into one function (and
 * counts a callee's earlier inlining 1.2 times when deciding), so a loop that both maps and
 * unmaps a page gets both chains inlined only at that size. Their fallback call takes the IOVA
 * and PA as arguments: the entries make no call with them, so that call is their only boxed
 * use and V8 boxes them on the fallback branch alone (no AWAY needed there).
 */

/** Largest address the fast paths take: 52 bits (anything above goes the general way). */
const FAST_MAX = 2 ** 52;

/**
 * True when `size` is one page size of `domain` (a power of two in its bitmap, below 2^31) and
 * `iova` and `paddr` (give `iova` twice when there is no PA) are non-negative integers below
 * 2^52 aligned to it, on a paging domain with ops.
 */
function onePage(domain: IommuDomain, iova: number, paddr: number, size: number): boolean {
  return (
    (size | 0) === size &&
    size > 0 &&
    (((iova >>> 0) | (paddr >>> 0) | size) & (size - 1)) === 0 &&
    iova >= 0 &&
    paddr >= 0 &&
    iova < FAST_MAX &&
    paddr < FAST_MAX &&
    Math.floor(iova) === iova &&
    Math.floor(paddr) === paddr &&
    !!domain &&
    ((domain.pgsizeBitmap >>> 0) & size) !== 0 &&
    (domain.type === 'dma' || domain.type === 'unmanaged') &&
    !!domain.ops
  );
}

/** onePage for an unmap (no PA): the same tests on `iova` alone, and smaller for inlining. */
function oneUnmapPage(domain: IommuDomain, iova: number, size: number): boolean {
  return (
    (size | 0) === size &&
    size > 0 &&
    (((iova >>> 0) | size) & (size - 1)) === 0 &&
    iova >= 0 &&
    iova < FAST_MAX &&
    Math.floor(iova) === iova &&
    !!domain &&
    ((domain.pgsizeBitmap >>> 0) & size) !== 0 &&
    (domain.type === 'dma' || domain.type === 'unmanaged') &&
    !!domain.ops
  );
}

/**
 * Publishes (or, with null, withdraws) the page table `domain`'s driver ops forward its
 * mapPages / unmapPages to (see IommuDomain.pgtblOps): the driver calls this once the table
 * exists (domain finalise) and with null before it frees it or the domain. 0, or -EINVAL
 * (nothing changes) for a domain that is not a paging domain with ops, or for `ops` that lack
 * either entry point or have a one-page entry (tryMapPage / tryMapPageWalk / tryUnmapPage)
 * that is not a function.
 */
export function iommuDomainSetPgtblOps(domain: IommuDomain, ops: IommuPgtableOps | null): number {
  if (ops === null) {
    if (domain && domain.pgtblOps != null) (domain as { pgtblOps: IommuPgtableOps | null }).pgtblOps = null;
    return 0;
  }
  if (!domain || !domain.ops || !iommuIsPagingDomain(domain.type)) return -EINVAL;
  if (typeof ops !== 'object' || typeof ops.mapPages !== 'function' || typeof ops.unmapPages !== 'function') return -EINVAL;
  // the one-page entries are optional, but if present they must be callable (iommuMap tests
  // only for their presence)
  if (
    (ops.tryMapPage !== undefined && typeof ops.tryMapPage !== 'function') ||
    (ops.tryMapPageWalk !== undefined && typeof ops.tryMapPageWalk !== 'function') ||
    (ops.tryUnmapPage !== undefined && typeof ops.tryUnmapPage !== 'function') ||
    (ops.tryMapPfn !== undefined && typeof ops.tryMapPfn !== 'function') ||
    (ops.tryUnmapPfn !== undefined && typeof ops.tryUnmapPfn !== 'function')
  )
    return -EINVAL;
  (domain as { pgtblOps: IommuPgtableOps | null }).pgtblOps = ops;
  return 0;
}

/**
 * iommu_map: maps [iova, iova + size) to [paddr, paddr + size) with `prot`, in the largest
 * page sizes the domain allows (see iommuPgsize), one mapPages call per run of equal pages.
 * 0, or -EINVAL for an identity/blocked domain, addresses or size not aligned to the
 * smallest page size, or a range past 2^53; -ENODEV when the domain has no page sizes; the
 * driver's error otherwise, after unmapping (and syncing) whatever this call had mapped.
 */
export function iommuMap(domain: IommuDomain, iova: number, paddr: number, size: number, prot: number): number {
  // The common case in as few bytecodes as possible (their number decides whether V8 inlines
  // the whole chain, table included, into the caller): one page of a size of the domain into
  // a published table that has a one-page entry, which tests the addresses itself.
  const io = domain?.pgtblOps;
  if (
    io != null &&
    io.tryMapPage !== undefined &&
    (prot | 0) === prot &&
    (size & -size) === size && // a power of two below 2^31, 0 or -2^31 (no table's page size)
    (~domain.pgsizeBitmap & size) === 0 &&
    io.tryMapPage(iova, paddr, size, prot) === 0
  )
    return 0;
  return mapPublished(domain, iova, paddr, size, prot);
}

/**
 * iommuMap for every call its first test did not take: the one-page path through the
 * published table's mapPages (the same tests as the general path, made here), else through
 * the driver's op, else the general path.
 */
function mapPublished(domain: IommuDomain, iova: number, paddr: number, size: number, prot: number): number {
  const io = domain?.pgtblOps;
  // the table's second one-page entry first (most often the first page of a table that is
  // not there yet): this code runs unoptimised, so its tests go before the longer ones below
  if (io != null && io.tryMapPageWalk !== undefined && (prot | 0) === prot && (size & -size) === size && (~domain.pgsizeBitmap & size) === 0) {
    const r = io.tryMapPageWalk(iova, paddr, size, prot);
    if (r <= 0) return r;
  }
  let tried = false;
  let ret = 0;
  let got = 0;
  if (
    io != null &&
    typeof iova === 'number' && // (a bigint would throw in >>> below; the general path rejects it)
    typeof paddr === 'number' &&
    (prot | 0) === prot &&
    size > 0 &&
    (size & -size) === size && // a power of two below 2^31
    (((iova | paddr) & (size - 1)) | (~domain.pgsizeBitmap & size)) === 0 &&
    iova >= 0 &&
    paddr >= 0 &&
    iova < 4503599627370496 && // 2^52 (FAST_MAX: a literal, as a module constant costs bytecode)
    paddr < 4503599627370496 &&
    Math.floor(iova) === iova &&
    Math.floor(paddr) === paddr
  ) {
    // one page into the published table: a single map_pages call; `mapped` is counted from
    // what it holds (a call nested in a driver callback restores it before returning)
    const m = mapMapped;
    const before = m.mapped;
    ret = io.mapPages(iova, paddr, size, 1, prot, m);
    got = m.mapped - before;
    m.mapped = before;
    if (ret === 0 && got === size) return 0;
    tried = true;
  }
  // (a number goes through AWAY; anything else, which the general path rejects, as it is)
  if (typeof iova !== 'number' || typeof paddr !== 'number') return iommuMapSlow(domain, iova, paddr, size, prot);
  AWAY[0] = iova;
  AWAY[1] = paddr;
  return tried ? mapRestAway(domain, size, prot, ret, got) : iommuMapAway(domain, size, prot);
}

/** mapRest with the IOVA and PA in AWAY. */
function mapRestAway(domain: IommuDomain, size: number, prot: number, ret: number, got: number): number {
  return mapRest(domain, AWAY[0]!, AWAY[1]!, size, prot, ret, got);
}

/**
 * iommuMap for a call its published-table path did not take, with the IOVA and PA in AWAY:
 * the one-page path through the driver's op when the domain has no published table, else the
 * general path.
 */
function iommuMapAway(domain: IommuDomain, size: number, prot: number): number {
  const iova = AWAY[0]!;
  const paddr = AWAY[1]!;
  if ((domain?.pgtblOps ?? null) === null && (prot | 0) === prot && onePage(domain, iova, paddr, size)) return mapOneByOp(domain, iova, paddr, size, prot);
  return iommuMapSlow(domain, iova, paddr, size, prot);
}

/** iommuMap's one-page path through the driver's mapPages op (no published table). */
function mapOneByOp(domain: IommuDomain, iova: number, paddr: number, size: number, prot: number): number {
  const m = mapMapped;
  const outer = m.mapped;
  m.mapped = 0;
  const ret = domain.ops.mapPages(domain, iova, paddr, size, 1, prot, m);
  const got = m.mapped;
  m.mapped = outer;
  if (ret === 0 && got === size) return 0;
  return mapRest(domain, iova, paddr, size, prot, ret, got);
}

/** What the general loop does after the one-page path's mapPages call returned `ret` having mapped `got`. */
function mapRest(domain: IommuDomain, iova: number, paddr: number, size: number, prot: number, ret: number, got: number): number {
  if (ret >= 0 && got > 0) return got >= size ? 0 : mapFrom(domain, iova, paddr, size, prot, got);
  if (ret >= 0) return -EINVAL; // a driver making no progress without an error would loop forever
  if (got > 0) undoMap(domain, iova, got);
  return ret;
}

/** iommuMap for every case: checks the arguments, then maps in page-size runs. */
function iommuMapSlow(domain: IommuDomain, iova: number, paddr: number, size: number, prot: number): number {
  const slot = domainSlot(domain);
  if (slot < 0) return slot;
  if (!isAddr(paddr) || !isAddr(size) || !Number.isInteger(prot) || !isIovaRange(domain, iova, size)) return -EINVAL;
  if (!Number.isSafeInteger(paddr + size)) return -EINVAL;
  const gran = slotMin[slot]!;
  if (!alignedTo(iova, gran) || !alignedTo(paddr, gran) || !alignedTo(size, gran)) return -EINVAL;
  return mapFrom(domain, iova, paddr, size, prot, 0);
}

/**
 * The split loop of iommu_map from `done` bytes on (arguments already checked): 0, or the
 * first error after unmapping whatever this call had mapped.
 */
function mapFrom(domain: IommuDomain, iova: number, paddr: number, size: number, prot: number, done: number): number {
  let slot = domainSlot(domain);
  if (slot < 0) return slot;
  const own = !mapBusy;
  const out = own ? mapOut : { pgsize: 0, count: 0 };
  const mapped = own ? mapMapped : { mapped: 0 };
  // the count of a one-page map this call is nested in (see mapMapped)
  const outer = mapMapped.mapped;
  mapBusy = true;
  let ret = 0;
  try {
    while (done < size) {
      slot = slotOf(domain.pgsizeBitmap, slot);
      pgsizeIn(slot, iova + done, paddr + done, size - done, out);
      if (out.pgsize <= 0) {
        ret = out.pgsize;
        break;
      }
      mapped.mapped = 0;
      ret = domain.ops.mapPages(domain, iova + done, paddr + done, out.pgsize, out.count, prot, mapped);
      done += mapped.mapped;
      if (ret < 0) break;
      if (mapped.mapped <= 0) {
        ret = -EINVAL; // a driver making no progress without an error would loop forever
        break;
      }
    }
  } finally {
    if (own) mapBusy = false;
    mapMapped.mapped = outer;
  }
  if (ret < 0) {
    if (done > 0) undoMap(domain, iova, done);
    return ret;
  }
  return 0;
}

/** Unmaps (and syncs) the `done` bytes a failed iommu_map had mapped at `iova`. */
function undoMap(domain: IommuDomain, iova: number, done: number): void {
  const g = iommuIotlbGatherInit();
  unmapRange(domain, iova, done, g);
  iommuIotlbSync(domain, g);
}

/**
 * iommu_unmap: unmaps [iova, iova + size) in page-size runs, collecting the invalidations in
 * one iotlb gather and syncing it once at the end. Returns the bytes unmapped: 0 for a
 * rejected call (misaligned, non-paging domain) or when nothing was mapped at `iova`.
 */
export function iommuUnmap(domain: IommuDomain, iova: number, size: number): number {
  // as iommuMap: the common case first, in as few bytecodes as possible; the one-page gather
  // is empty whenever it is not busy (every use leaves it so)
  const io = domain?.pgtblOps;
  const g = oneUnmapGather;
  if (io != null && io.tryUnmapPage !== undefined && g.busy === false && (size & -size) === size && (~domain.pgsizeBitmap & size) === 0) {
    g.busy = true;
    if (io.tryUnmapPage(iova, size, g) !== 0) {
      domain.ops.iotlbSync?.(domain, g);
      g.start = 9007199254740991; // resetGather, written out
      g.end = -9007199254740991;
      g.pgsize = 0;
      g.queued = false;
      g.busy = false;
      return size;
    }
    g.busy = false;
  }
  return unmapPublished(domain, iova, size);
}

/** iommuUnmap for every call its first test did not take (see mapPublished). */
function unmapPublished(domain: IommuDomain, iova: number, size: number): number {
  const io = domain?.pgtblOps;
  if (
    io != null &&
    typeof iova === 'number' &&
    size > 0 &&
    (size & -size) === size && // a power of two below 2^31
    ((iova & (size - 1)) | (~domain.pgsizeBitmap & size)) === 0 &&
    iova >= 0 &&
    iova < 4503599627370496 && // 2^52
    Math.floor(iova) === iova
  ) {
    // one page from the published table: a single unmap_pages call into the one-page gather
    // (empty: every use leaves it so), then the driver's iotlb_sync and the gather's re-init
    const g = oneUnmapGather;
    if (g.busy === false) {
      g.busy = true;
      let n = io.unmapPages(iova, size, 1, g);
      if (n !== size) {
        AWAY[0] = iova;
        n = unmapOneRestAway(domain, size, n, g);
      }
      domain.ops.iotlbSync?.(domain, g);
      g.start = 9007199254740991; // Number.MAX_SAFE_INTEGER (resetGather, written out)
      g.end = -9007199254740991;
      g.pgsize = 0;
      g.queued = false;
      g.busy = false;
      return n;
    }
  }
  if (typeof iova !== 'number') return iommuUnmapSlow(domain, iova, size);
  AWAY[0] = iova;
  return iommuUnmapAway(domain, size);
}

/** unmapOneRest with the IOVA in AWAY. */
function unmapOneRestAway(domain: IommuDomain, size: number, n: number, g: IommuIotlbGather): number {
  return unmapOneRest(domain, AWAY[0]!, size, n, g);
}

/**
 * iommuUnmap for a call its published-table path did not take, with the IOVA in AWAY: the
 * one-page path through the driver's op when the domain has no published table, else the
 * general path.
 */
function iommuUnmapAway(domain: IommuDomain, size: number): number {
  const iova = AWAY[0]!;
  if ((domain?.pgtblOps ?? null) === null && oneUnmapGather.busy === false && oneUnmapPage(domain, iova, size)) return unmapOneByOp(domain, iova, size);
  return iommuUnmapSlow(domain, iova, size);
}

/** iommuUnmap's one-page path through the driver's unmapPages op (no published table). */
function unmapOneByOp(domain: IommuDomain, iova: number, size: number): number {
  // the ops read once
  const ops = domain.ops;
  const g = oneUnmapGather;
  g.busy = true;
  let n = ops.unmapPages(domain, iova, size, 1, g);
  if (n !== size) n = unmapOneRest(domain, iova, size, n, g);
  ops.iotlbSync?.(domain, g);
  g.busy = false;
  resetGather(g);
  return n;
}

/*
 * One-page entries for the DMA API, which holds IOVAs and PAs as frame numbers of its granule.
 * An address at or above 2^31 passed to a call V8 does not inline is boxed into a heap number;
 * a frame number below 2^31 is not, and the address computed here from it stays unboxed in the
 * optimised code, which inlines the driver's op and the format's fast path as iommuMap's does.
 * With the frames integers and `size` a power of two, the addresses are aligned by
 * construction, so the one-page tests are shorter (and the whole chain fits V8's inlining
 * budget with the DMA API's own work beside it). They call the table's frame-number entries
 * (tryMapPfn / tryUnmapPfn), whose window tests are integer compares where the byte-address
 * entries multiply by the page size's reciprocal and test for an integer; a table without them
 * has its tryMapPage / tryUnmapPage tried first in the fallback. Everything else goes to
 * iommuMap / iommuUnmap.
 */

/**
 * @internal iommuMap(domain, iovaPfn * size, paPfn * size, size, prot), for the DMA API's
 * one-page path: the frame numbers must be non-negative integers (not checked) and `size` a
 * power of two below 2^31. Same results.
 */
export function iommuMapPage(domain: IommuDomain, iovaPfn: number, paPfn: number, size: number, prot: number): number {
  // iommuMap's first test (its power-of-two test is this function's precondition)
  const io = domain.pgtblOps;
  if (io != null && io.tryMapPfn !== undefined && (prot | 0) === prot && (~domain.pgsizeBitmap & size) === 0 && io.tryMapPfn(iovaPfn, paPfn, size, prot) === 0) return 0;
  return mapPagePublished(domain, iovaPfn, paPfn, size, prot);
}

/** iommuMapPage for every call its first test did not take. */
function mapPagePublished(domain: IommuDomain, iovaPfn: number, paPfn: number, size: number, prot: number): number {
  const iova = iovaPfn * size;
  const paddr = paPfn * size;
  const io = domain.pgtblOps;
  if (io !== null && io !== undefined && iova < FAST_MAX && paddr < FAST_MAX && (prot | 0) === prot && (~(domain.pgsizeBitmap >>> 0) & size) === 0) {
    // iommuMap's one-page path (its first entry, for a table without the frame-number one
    // iommuMapPage tries; its second entry; then the table's mapPages)
    if (io.tryMapPfn === undefined && io.tryMapPage !== undefined && io.tryMapPage(iova, paddr, size, prot) === 0) return 0;
    if (io.tryMapPageWalk !== undefined) {
      const r = io.tryMapPageWalk(iova, paddr, size, prot);
      if (r <= 0) return r;
    }
    const m = mapMapped;
    const before = m.mapped;
    const ret = io.mapPages(iova, paddr, size, 1, prot, m);
    const got = m.mapped - before;
    m.mapped = before;
    if (ret === 0 && got === size) return 0;
    AWAY[0] = iova;
    AWAY[1] = paddr;
    return mapRestAway(domain, size, prot, ret, got);
  }
  AWAY[0] = iova;
  AWAY[1] = paddr;
  return iommuMapPageAway(domain, size, prot);
}

/** iommuMap with the IOVA and PA in AWAY. */
function iommuMapPageAway(domain: IommuDomain, size: number, prot: number): number {
  return iommuMap(domain, AWAY[0]!, AWAY[1]!, size, prot);
}

/**
 * @internal iommuUnmap(domain, iovaPfn * size, size), for the DMA API's one-page path, with the
 * same conditions on its arguments as iommuMapPage. Same results.
 */
export function iommuUnmapPage(domain: IommuDomain, iovaPfn: number, size: number): number {
  // iommuUnmap's first test
  const io = domain.pgtblOps;
  const g = oneUnmapGather;
  if (io != null && io.tryUnmapPfn !== undefined && g.busy === false && (~domain.pgsizeBitmap & size) === 0) {
    g.busy = true;
    if (io.tryUnmapPfn(iovaPfn, size, g) !== 0) {
      domain.ops.iotlbSync?.(domain, g);
      g.start = 9007199254740991; // resetGather, written out
      g.end = -9007199254740991;
      g.pgsize = 0;
      g.queued = false;
      g.busy = false;
      return size;
    }
    g.busy = false;
  }
  return unmapPagePublished(domain, iovaPfn, size);
}

/** iommuUnmapPage for every call its first test did not take. */
function unmapPagePublished(domain: IommuDomain, iovaPfn: number, size: number): number {
  const iova = iovaPfn * size;
  const io = domain.pgtblOps;
  const g = oneUnmapGather;
  if (io !== null && io !== undefined && g.busy === false && iova < FAST_MAX && (~(domain.pgsizeBitmap >>> 0) & size) === 0) {
    // iommuUnmap's one-page path (its first entry for a table without the frame-number one)
    g.busy = true;
    let n = io.tryUnmapPfn === undefined && io.tryUnmapPage !== undefined ? io.tryUnmapPage(iova, size, g) : 0;
    if (n === 0) n = io.unmapPages(iova, size, 1, g);
    if (n !== size) {
      AWAY[0] = iova;
      n = unmapOneRestAway(domain, size, n, g);
    }
    domain.ops.iotlbSync?.(domain, g);
    g.busy = false;
    resetGather(g);
    return n;
  }
  AWAY[0] = iova;
  return iommuUnmapPageAway(domain, size);
}

/** iommuUnmap with the IOVA in AWAY. */
function iommuUnmapPageAway(domain: IommuDomain, size: number): number {
  return iommuUnmap(domain, AWAY[0]!, size);
}

/** What the general loop does after a first unmapPages call that unmapped `n` bytes (not `size`). */
function unmapOneRest(domain: IommuDomain, iova: number, size: number, n: number, g: IommuIotlbGather): number {
  if (!(n > 0)) return 0;
  return n < size ? n + unmapRange(domain, iova + n, size - n, g) : n;
}

/** iommuUnmap for every case. */
function iommuUnmapSlow(domain: IommuDomain, iova: number, size: number): number {
  const own = !unmapGatherBusy;
  const g = own ? unmapGather : iommuIotlbGatherInit();
  unmapGatherBusy = true;
  try {
    if (own) resetGather(g);
    const n = iommuUnmapFast(domain, iova, size, g);
    iommuIotlbSync(domain, g);
    return n;
  } finally {
    if (own) unmapGatherBusy = false;
  }
}

/** iommu_unmap_fast: like iommuUnmap but leaves the sync of `gather` to the caller. */
export function iommuUnmapFast(domain: IommuDomain, iova: number, size: number, gather: IommuIotlbGather): number {
  const slot = domainSlot(domain);
  if (slot < 0) return 0;
  if (!isAddr(size) || !isIovaRange(domain, iova, size)) return 0;
  const gran = slotMin[slot]!;
  if (!alignedTo(iova, gran) || !alignedTo(size, gran)) return 0;
  return unmapRange(domain, iova, size, gather);
}

/** Empties a gather (as iommuIotlbGatherInit leaves it). */
function resetGather(g: IommuIotlbGather): void {
  g.start = 9007199254740991; // Number.MAX_SAFE_INTEGER (literals, as in iommuIotlbGatherInit)
  g.end = -9007199254740991; // Number.MIN_SAFE_INTEGER
  g.pgsize = 0;
  g.queued = false;
}

/** iommu_iotlb_sync: the driver invalidates what `gather` holds, then the gather is emptied. */
export function iommuIotlbSync(domain: IommuDomain, gather: IommuIotlbGather): void {
  domain.ops.iotlbSync?.(domain, gather);
  resetGather(gather);
}

/** iommu_flush_iotlb_all. */
export function iommuFlushIotlbAll(domain: IommuDomain): void {
  domain.ops.flushIotlbAll?.(domain);
}

/**
 * iommu_iova_to_phys: identity domains translate to themselves, paging domains ask the
 * driver; 0 when there is no translation.
 */
export function iommuIovaToPhys(domain: IommuDomain, iova: number): number {
  if (!domain || !domain.ops) return 0;
  if (domain.type === 'identity') return iova;
  if (!iommuIsPagingDomain(domain.type) || !isIovaRange(domain, iova, 1)) return 0;
  return domain.ops.iovaToPhys(domain, iova);
}
