import type { IommuDomain } from '../iommu/types.js';

/** Kinds of mapping dma-debug tracks in a DmaMappings table (scatterlists are kept apart). */
export const DMA_KIND_SINGLE = 0;
export const DMA_KIND_COHERENT = 1;

const INV_2_32 = 2 ** -32;
const EMPTY = 0;
const USED = 1;

/**
 * One device's live single and coherent mappings, as dma-debug keeps them: looked up by DMA
 * address on every unmap/free to refuse one that matches no live mapping.
 *
 * An open-addressing hash table over typed arrays (linear probing, deletion by backward
 * shift, so no tombstones): a map and unmap allocate nothing. A JavaScript `Map` was the
 * first choice and is ruinous here: V8 compacts an ordered hash table whose live plus deleted
 * entries reach its capacity, and an add/delete pair per mapping at a steady population keeps
 * it there, so each pair cost O(live mappings) (~1 µs with 1000 live). The same address may
 * be mapped more than once (a buffer mapped twice without an IOMMU): duplicates simply probe
 * on, and a lookup takes the first entry that matches all the fields it is given.
 */
export class DmaMappings {
  private bits = 4;
  private cap = 16;
  private state = new Uint8Array(16);
  private addr = new Float64Array(16);
  private size = new Float64Array(16);
  /** kind << 2 | direction */
  private meta = new Int32Array(16);
  private iovaStart = new Float64Array(16);
  private iovaLen = new Float64Array(16);
  private cpuPa = new Float64Array(16);
  private order = new Int32Array(16);
  private domain: (IommuDomain | null)[] = new Array<IommuDomain | null>(16).fill(null);
  private live = 0;

  get count(): number {
    return this.live;
  }

  private home(dmaAddr: number): number {
    const lo = dmaAddr >>> 0;
    const hi = ((dmaAddr - lo) * INV_2_32) | 0;
    return Math.imul(lo ^ Math.imul(hi, 0x85eb_ca6b), 0x9e37_79b1) >>> (32 - this.bits);
  }

  /** Records a mapping; returns nothing (the table grows as needed). */
  add(dmaAddr: number, size: number, kind: number, dir: number, domain: IommuDomain | null, iovaStart: number, iovaLen: number, cpuPa: number, order: number): void {
    if ((this.live + 1) * 2 > this.cap) this.resize(this.cap * 2);
    const mask = this.cap - 1;
    let i = this.home(dmaAddr);
    while (this.state[i] === USED) i = (i + 1) & mask;
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
    const mask = this.cap - 1;
    for (let i = this.home(dmaAddr); this.state[i] === USED; i = (i + 1) & mask) {
      if (this.addr[i] !== dmaAddr || this.size[i] !== size || this.meta[i]! >>> 2 !== kind) continue;
      if (kind === DMA_KIND_COHERENT ? this.cpuPa[i] === dirOrPa : (this.meta[i]! & 3) === dirOrPa) return i;
    }
    return -1;
  }

  /*
   * The DMA API's one-page path passes a DMA address as a frame number, the frame size and
   * the offset in the frame (dmaAddr = pfn * gran + off), all small integers: an address
   * above 2^31 passed as a plain number to a call V8 does not inline is boxed into a heap
   * number, one allocation per argument per call.
   */

  /** add(pfn * gran + off, size, DMA_KIND_SINGLE, dir, domain, pfn * gran, gran, 0, -1). */
  addPage(pfn: number, gran: number, off: number, size: number, dir: number, domain: IommuDomain): void {
    const iova = pfn * gran;
    this.add(iova + off, size, DMA_KIND_SINGLE, dir, domain, iova, gran, 0, -1);
  }

  /** find(pfn * gran + off, DMA_KIND_SINGLE, size, dir). */
  findPage(pfn: number, gran: number, off: number, size: number, dir: number): number {
    return this.find(pfn * gran + off, DMA_KIND_SINGLE, size, dir);
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
    const mask = this.cap - 1;
    let hole = slot;
    this.state[hole] = EMPTY;
    this.domain[hole] = null;
    this.live--;
    // backward shift: move later entries of the probe run into the hole when their home
    // slot is not between the hole and themselves
    for (let j = (hole + 1) & mask; this.state[j] === USED; j = (j + 1) & mask) {
      const h = this.home(this.addr[j]!);
      const between = hole <= j ? h > hole && h <= j : h > hole || h <= j;
      if (between) continue;
      this.moveSlot(j, hole);
      hole = j;
    }
  }

  private moveSlot(from: number, to: number): void {
    this.state[to] = USED;
    this.addr[to] = this.addr[from]!;
    this.size[to] = this.size[from]!;
    this.meta[to] = this.meta[from]!;
    this.domain[to] = this.domain[from]!;
    this.iovaStart[to] = this.iovaStart[from]!;
    this.iovaLen[to] = this.iovaLen[from]!;
    this.cpuPa[to] = this.cpuPa[from]!;
    this.order[to] = this.order[from]!;
    this.state[from] = EMPTY;
    this.domain[from] = null;
  }

  private resize(cap: number): void {
    const old = { state: this.state, addr: this.addr, size: this.size, meta: this.meta, domain: this.domain, iovaStart: this.iovaStart, iovaLen: this.iovaLen, cpuPa: this.cpuPa, order: this.order, cap: this.cap };
    this.cap = cap;
    this.bits = 31 - Math.clz32(cap);
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
    for (let i = 0; i < old.cap; i++) {
      if (old.state[i] !== USED) continue;
      this.add(old.addr[i]!, old.size[i]!, old.meta[i]! >>> 2, old.meta[i]! & 3, old.domain[i]!, old.iovaStart[i]!, old.iovaLen[i]!, old.cpuPa[i]!, old.order[i]!);
    }
  }

  /** Every live mapping, in no particular order. */
  forEach(visit: (dmaAddr: number, size: number, kind: number, dir: number, iommu: boolean) => void): void {
    for (let i = 0; i < this.cap; i++) if (this.state[i] === USED) visit(this.addr[i]!, this.size[i]!, this.meta[i]! >>> 2, this.meta[i]! & 3, this.domain[i] !== null);
  }
}
