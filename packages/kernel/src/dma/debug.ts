import type { IommuDomain } from '../iommu/types.js';

/** Kinds of mapping dma-debug tracks in a DmaMappings table (scatterlists are kept apart). */
export const DMA_KIND_SINGLE = 0;
export const DMA_KIND_COHERENT = 1;

const INV_2_32 = 2 ** -32;
const EMPTY = 0;
const USED = 1;
/** A removed entry (a tombstone): lookups probe past it, additions may reuse it. */
const DELETED = 2;

/**
 * One device's live single and coherent mappings, as dma-debug keeps them: looked up by DMA
 * address on every unmap/free to refuse one that matches no live mapping.
 *
 * An open-addressing hash table over typed arrays (linear probing): a map and unmap allocate
 * nothing. A JavaScript `Map` was the first choice and is ruinous here: V8 compacts an ordered
 * hash table whose live plus deleted entries reach its capacity, and an add/delete pair per
 * mapping at a steady population keeps it there, so each pair cost O(live mappings) (~1 µs
 * with 1000 live). The same address may be mapped more than once (a buffer mapped twice
 * without an IOMMU; an IOVA reused after the device's DMA domain changed): duplicates probe
 * on, and a lookup takes the first entry that matches all the fields it is given, which is the
 * oldest such mapping (entries with one address stay in the order they were added).
 *
 * A removal leaves a tombstone (one store, where shifting the rest of the probe run back
 * costs a loop and a hash per entry moved); an addition reuses the first tombstone after the
 * last live entry with its address, so the map/unmap churn of one address reuses one slot,
 * and the table is rebuilt without tombstones (or doubled) when live entries and tombstones
 * fill half of it (at most once per quarter of its slots added).
 */
export class DmaMappings {
  private cap = 16;
  /** 32 - log2(cap): home() keeps the hash's top bits. */
  private shift = 28;
  private state = new Uint8Array(16);
  private addr = new Float64Array(16);
  private size = new Float64Array(16);
  /** kind << 2 | direction */
  private meta = new Int32Array(16);
  private iovaStart = new Float64Array(16);
  private iovaLen = new Float64Array(16);
  /** Coherent buffers only (stale in other slots). */
  private cpuPa = new Float64Array(16);
  private order = new Int32Array(16);
  private domain: (IommuDomain | null)[] = new Array<IommuDomain | null>(16).fill(null);
  private live = 0;
  /** Slots not EMPTY (live entries and tombstones), and how many may be before makeRoom (half). */
  private used = 0;
  private usedMax = 8;
  /**
   * The newest page entry (see addPage), kept out of the table until another entry is added or
   * the table is read: its DMA address (NaN when there is none: NaN equals nothing, so the
   * address compare is also the "is there one" test), frame, frame size, size and direction;
   * its domain is `ownDom`. (Numbers only: the map/unmap churn then stores no object
   * reference, which costs a write barrier.)
   */
  private pendAddr = NaN;
  private pendPfn = 0;
  private pendGran = 0;
  private pendSize = 0;
  private pendDir = 0;
  /**
   * The domain of the last page entry added, and how many entries in the table (not counting
   * the pending one) do not have it: takeNewest's condition is that this is 0 (one field
   * compared, where a count of the domain's entries had to be compared with live + 1).
   */
  private ownDom: IommuDomain | null = null;
  private foreign = 0;

  get count(): number {
    return this.pendAddr >= 0 ? this.live + 1 : this.live;
  }

  private home(dmaAddr: number): number {
    // dmaAddr >= 0 below 2^53: (dmaAddr * 2^-32) | 0 is its high word
    return Math.imul((dmaAddr >>> 0) ^ Math.imul((dmaAddr * INV_2_32) | 0, 0x85eb_ca6b), 0x9e37_79b1) >>> this.shift;
  }

  /**
   * The slot for a new entry at `dmaAddr` (growing or rebuilding the table first when needed):
   * the first tombstone after the last live entry with this address in its probe run, else
   * the empty slot that ends the run.
   */
  private slotFor(dmaAddr: number): number {
    if (this.used >= this.usedMax) this.makeRoom();
    const state = this.state;
    const addr = this.addr;
    const mask = this.cap - 1;
    let free = -1;
    let i = this.home(dmaAddr);
    for (let st = state[i]; st !== EMPTY; st = state[i]) {
      if (st === DELETED) {
        if (free < 0) free = i;
      } else if (addr[i] === dmaAddr) free = -1;
      i = (i + 1) & mask;
    }
    if (free >= 0) return free;
    this.used++;
    return i;
  }

  /**
   * Before an addition that may take an empty slot with half of the slots in use: doubles the
   * table when a quarter of it is live, else drops the tombstones (either way at least a
   * quarter of the slots can then be taken before the next call).
   */
  private makeRoom(): void {
    this.rebuild(this.live * 4 >= this.cap ? this.cap * 2 : this.cap);
  }

  /** Records a mapping; returns nothing (the table grows as needed). */
  add(dmaAddr: number, size: number, kind: number, dir: number, domain: IommuDomain | null, iovaStart: number, iovaLen: number, cpuPa: number, order: number): void {
    if (this.pendAddr >= 0) this.flush();
    if (domain === null || domain !== this.ownDom) this.foreign++;
    const i = this.slotFor(dmaAddr);
    this.state[i] = USED;
    this.addr[i] = dmaAddr;
    this.size[i] = size;
    this.meta[i] = (kind << 2) | dir;
    this.domain[i] = domain;
    this.iovaStart[i] = iovaStart;
    this.iovaLen[i] = iovaLen;
    this.cpuPa[i] = cpuPa;
    this.order[i] = order;
    this.live++;
  }

  /**
   * The slot of a live mapping at `dmaAddr` of `kind` with this `size`, and this direction
   * (single mappings) or CPU address (coherent buffers, `dirOrPa` is then the PA); -1 if none.
   */
  find(dmaAddr: number, kind: number, size: number, dirOrPa: number): number {
    if (this.pendAddr >= 0) this.flush();
    const mask = this.cap - 1;
    for (let i = this.home(dmaAddr), st = this.state[i]!; st !== EMPTY; i = (i + 1) & mask, st = this.state[i]!) {
      if (st !== USED || this.addr[i] !== dmaAddr || this.size[i] !== size || this.meta[i]! >>> 2 !== kind) continue;
      if (kind === DMA_KIND_COHERENT ? this.cpuPa[i] === dirOrPa : (this.meta[i]! & 3) === dirOrPa) return i;
    }
    return -1;
  }

  /*
   * The DMA API's one-page path. addPage takes a DMA address as a frame number, the frame size
   * and the offset in the frame (dmaAddr = pfn * gran + off), all small integers: an address
   * above 2^31 passed as a plain number to a call V8 does not inline is boxed into a heap
   * number, one allocation per argument per call. takeNewest takes the address itself: it is
   * small enough to be inlined wherever it is called, and one compare of the address replaces
   * three of frame, size and offset.
   *
   * The newest page entry is kept aside (pend*) rather than in the table, because the commonest
   * unmap is of the mapping made last (map, use, unmap): takeNewest then removes it with a few
   * compares, and neither call probes the table. Every other operation first moves it into the
   * table (flush), where it is the newest entry, so all answers are the table's.
   *
   * takeNewest may answer for the table only if no older live entry has the same key (address,
   * size, direction), since a lookup must find the oldest. It relies on what the DMA API
   * guarantees: the live entries of one domain have distinct addresses (each lies in its own
   * allocated IOVA run). So it answers only while every live entry belongs to the pending
   * entry's domain (foreign === 0), and otherwise leaves the lookup to the table.
   */

  /** add(pfn * gran + off, size, DMA_KIND_SINGLE, dir, domain, pfn * gran, gran, -, -). */
  addPage(pfn: number, gran: number, off: number, size: number, dir: number, domain: IommuDomain): void {
    if (this.pendAddr >= 0) this.flush();
    if (domain !== this.ownDom) this.track(domain);
    this.pendAddr = pfn * gran + off;
    this.pendPfn = pfn;
    this.pendGran = gran;
    this.pendSize = size;
    this.pendDir = dir;
  }

  /**
   * The DMA API's one-page unmap: removes the single mapping at `dmaAddr` with this size and
   * direction when it is the pending page entry of `domain` and no older entry can share its
   * key (see above), and returns its frame; -1 with nothing changed otherwise (the caller then
   * looks it up with findPage). An address that is not a number, or not the pending one,
   * equals no pendAddr (NaN when nothing is pending).
   */
  takeNewest(dmaAddr: number, size: number, dir: number, domain: IommuDomain): number {
    if (this.pendAddr === dmaAddr && this.pendSize === size && this.pendDir === dir && this.ownDom === domain && this.foreign === 0) {
      this.pendAddr = NaN;
      return this.pendPfn;
    }
    return -1;
  }

  /**
   * takeNewest for a DMA address given as frame, frame size and offset (pfn * gran + off, off
   * below gran): true when it removed the pending entry, false with nothing changed.
   */
  takePage(pfn: number, gran: number, off: number, size: number, dir: number, domain: IommuDomain): boolean {
    return gran === this.pendGran && off >= 0 && off < gran && this.takeNewest(pfn * gran + off, size, dir, domain) >= 0;
  }

  /** Moves the pending page entry into the table. */
  private flush(): void {
    const domain = this.ownDom;
    const dmaAddr = this.pendAddr;
    this.pendAddr = NaN;
    const i = this.slotFor(dmaAddr);
    this.state[i] = USED;
    this.addr[i] = dmaAddr;
    this.size[i] = this.pendSize;
    this.meta[i] = this.pendDir; // DMA_KIND_SINGLE << 2 | dir
    this.domain[i] = domain;
    this.iovaStart[i] = this.pendPfn * this.pendGran;
    this.iovaLen[i] = this.pendGran;
    this.live++;
  }

  /** Makes `domain` the tracked one: counts the table's entries of other domains (the pending entry is in the table or none). */
  private track(domain: IommuDomain): void {
    let n = 0;
    for (let i = 0; i < this.cap; i++) if (this.state[i] === USED && this.domain[i] !== domain) n++;
    this.ownDom = domain;
    this.foreign = n;
  }

  /** find(pfn * gran + off, DMA_KIND_SINGLE, size, dir). */
  findPage(pfn: number, gran: number, off: number, size: number, dir: number): number {
    if (this.pendAddr >= 0) this.flush();
    const a = pfn * gran + off;
    const state = this.state;
    const mask = this.cap - 1;
    for (let i = this.home(a), st = state[i]; st !== EMPTY; i = (i + 1) & mask, st = state[i]) {
      if (st === USED && this.addr[i] === a && this.size[i] === size && this.meta[i] === dir) return i;
    }
    return -1;
  }

  domainAt(slot: number): IommuDomain | null {
    return this.domain[slot]!;
  }
  iovaStartAt(slot: number): number {
    return this.iovaStart[slot]!;
  }
  iovaLenAt(slot: number): number {
    return this.iovaLen[slot]!;
  }
  cpuPaAt(slot: number): number {
    return this.cpuPa[slot]!;
  }
  orderAt(slot: number): number {
    return this.order[slot]!;
  }

  /** Forgets the mapping in `slot` (from `find`). */
  removeAt(slot: number): void {
    const dom = this.domain[slot]!;
    if (dom === null || dom !== this.ownDom) this.foreign--;
    this.state[slot] = DELETED;
    this.domain[slot] = null;
    this.live--;
  }

  /**
   * Re-adds every live entry into fresh arrays of `cap` slots (no tombstones). Entries are
   * visited from just after an empty slot, so that each probe run is met from its start and
   * entries with one address are re-added in their order.
   */
  private rebuild(cap: number): void {
    const old = { state: this.state, addr: this.addr, size: this.size, meta: this.meta, domain: this.domain, iovaStart: this.iovaStart, iovaLen: this.iovaLen, cpuPa: this.cpuPa, order: this.order, cap: this.cap };
    this.cap = cap;
    this.shift = 32 - (31 - Math.clz32(cap));
    this.usedMax = cap >>> 1;
    this.state = new Uint8Array(cap);
    this.addr = new Float64Array(cap);
    this.size = new Float64Array(cap);
    this.meta = new Int32Array(cap);
    this.iovaStart = new Float64Array(cap);
    this.iovaLen = new Float64Array(cap);
    this.cpuPa = new Float64Array(cap);
    this.order = new Int32Array(cap);
    this.domain = new Array<IommuDomain | null>(cap).fill(null);
    this.live = 0;
    this.used = 0;
    const foreign = this.foreign;
    // (the old table always has an empty slot: at most half of it is in use)
    const start = old.state.indexOf(EMPTY) + 1;
    for (let k = 0; k < old.cap; k++) {
      const i = (start + k) & (old.cap - 1);
      if (old.state[i] !== USED) continue;
      this.add(old.addr[i]!, old.size[i]!, old.meta[i]! >>> 2, old.meta[i]! & 3, old.domain[i]!, old.iovaStart[i]!, old.iovaLen[i]!, old.cpuPa[i]!, old.order[i]!);
    }
    this.foreign = foreign;
  }

  /** Every live mapping, in no particular order. */
  forEach(visit: (dmaAddr: number, size: number, kind: number, dir: number, iommu: boolean) => void): void {
    if (this.pendAddr >= 0) this.flush();
    for (let i = 0; i < this.cap; i++) if (this.state[i] === USED) visit(this.addr[i]!, this.size[i]!, this.meta[i]! >>> 2, this.meta[i]! & 3, this.domain[i] !== null);
  }
}
