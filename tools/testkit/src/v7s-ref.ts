/**
 * A reference model of ARM_V7S io-pgtable semantics (v6.13, no split on unmap) for the
 * property tests. It knows nothing about descriptors or memory: each 1 MiB slot is empty, a
 * table of 4 KiB slots, or a leaf; each 4 KiB slot of a table is empty or a leaf. Large pages
 * and supersections are 16 slots holding the same leaf object. Written from the kernel's
 * documented behaviour (see the format package's README), independently of the engine's code.
 *
 * It only models well-formed requests (pgsize one of 4K/64K/1M/16M, iovas aligned to pgsize,
 * inside the IAS), which is all the property tests generate.
 */

export const K4 = 0x1000;
export const K64 = 0x10000;
export const M1 = 0x100000;
export const M16 = 0x1000000;

export interface ModelLeaf {
  /** The output address stored in every slot of the mapping (paddr masked to the slot size). */
  pa: number;
  prot: number;
  /** 16 slots (large page / supersection). */
  cont: boolean;
}

type L1Slot = { table: Map<number, ModelLeaf> } | { leaf: ModelLeaf };

export type ModelTlb = ['add_page', number, number] | ['flush_walk', number, number, number];

export class V7sModel {
  readonly l1 = new Map<number, L1Slot>();
  /** TLB callbacks of the last op. */
  tlb: ModelTlb[] = [];

  constructor(readonly ias = 32) {}

  private l1Index(iova: number): number {
    return Math.floor(iova / M1) % 2 ** (this.ias - 20);
  }

  /** map_pages: returns [ret, mapped]. */
  map(iova: number, paddr: number, pgsize: number, pgcount: number, prot: number): [number, number] {
    this.tlb = [];
    if (iova >= 2 ** this.ias || paddr >= 2 ** 32) return [-34, 0];
    if ((prot & 3) === 0) return [-22, 0];
    let ret = -22;
    let mapped = 0;
    for (let i = 0; i < pgcount; i++) {
      ret = this.mapOne(iova, paddr, pgsize, prot & 63);
      if (ret !== 0) break;
      mapped += pgsize;
      iova += pgsize;
      paddr += pgsize;
    }
    return [ret, mapped];
  }

  private mapOne(iova: number, paddr: number, pgsize: number, prot: number): number {
    const idx = this.l1Index(iova);
    if (pgsize >= M1) {
      const n = pgsize / M1;
      for (let i = 0; i < n; i++) {
        const s = this.l1.get(idx + i);
        if (s === undefined) continue;
        if ('table' in s) {
          // a block over a table throws the table away, announcing only a walk flush
          this.l1.delete(idx + i);
          this.tlb.push(['flush_walk', iova + i * M1, M1, K4]);
          continue;
        }
        return -17;
      }
      const leaf: ModelLeaf = { pa: (paddr % 2 ** 32) - (paddr % M1), prot, cont: n > 1 };
      for (let i = 0; i < n; i++) this.l1.set(idx + i, { leaf });
      return 0;
    }
    let s = this.l1.get(idx);
    if (s === undefined) {
      s = { table: new Map() };
      this.l1.set(idx, s);
    }
    if ('leaf' in s) return -17;
    const n = pgsize / K4;
    const j = Math.floor(iova / K4) % 256;
    for (let i = 0; i < n; i++) if (s.table.has(j + i)) return -17;
    const leaf: ModelLeaf = { pa: (paddr % 2 ** 32) - (paddr % K4), prot, cont: n > 1 };
    for (let i = 0; i < n; i++) s.table.set(j + i, leaf);
    return 0;
  }

  /** unmap_pages: bytes unmapped. `queued` suppresses add_page, as a queued gather does. */
  unmap(iova: number, pgsize: number, pgcount: number, queued = false): number {
    this.tlb = [];
    if (iova >= 2 ** this.ias) return 0;
    let done = 0;
    for (let i = 0; i < pgcount; i++) {
      if (!this.unmapOne(iova, pgsize, queued)) break;
      done += pgsize;
      iova += pgsize;
    }
    return done;
  }

  private unmapOne(iova: number, pgsize: number, queued: boolean): boolean {
    const idx = this.l1Index(iova);
    if (pgsize >= M1) {
      const n = pgsize / M1;
      for (let i = 0; i < n; i++) if (!this.l1.has(idx + i)) return false;
      const first = this.l1.get(idx)!;
      if (n === 1 && 'leaf' in first && first.leaf.cont) return false; // 1M of a supersection
      for (let i = 0; i < n; i++) {
        const s = this.l1.get(idx + i)!;
        this.l1.delete(idx + i);
        if ('table' in s) this.tlb.push(['flush_walk', iova + i * M1, M1, K4]);
        else if (!queued) this.tlb.push(['add_page', iova + i * M1, M1]);
      }
      return true;
    }
    const s = this.l1.get(idx);
    if (s === undefined || 'leaf' in s) return false; // hole, or part of a section
    const n = pgsize / K4;
    const j = Math.floor(iova / K4) % 256;
    for (let i = 0; i < n; i++) if (!s.table.has(j + i)) return false;
    if (n === 1 && s.table.get(j)!.cont) return false; // 4K of a large page
    for (let i = 0; i < n; i++) {
      s.table.delete(j + i);
      if (!queued) this.tlb.push(['add_page', iova + i * K4, K4]);
    }
    return true; // the (possibly now empty) table stays, as in the kernel
  }

  /** iova_to_phys. */
  translate(iova: number): number {
    const s = this.l1.get(this.l1Index(iova));
    if (s === undefined) return 0;
    if ('leaf' in s) {
      const span = s.leaf.cont ? M16 : M1;
      return s.leaf.pa - (s.leaf.pa % span) + (iova % span);
    }
    const leaf = s.table.get(Math.floor(iova / K4) % 256);
    if (leaf === undefined) return 0;
    const span = leaf.cont ? K64 : K4;
    return leaf.pa - (leaf.pa % span) + (iova % span);
  }

  /** Every leaf slot, in IOVA order: [level, iova, slot size, leaf]. */
  leaves(): [number, number, number, ModelLeaf][] {
    const out: [number, number, number, ModelLeaf][] = [];
    for (const idx of [...this.l1.keys()].sort((a, b) => a - b)) {
      const s = this.l1.get(idx)!;
      if ('leaf' in s) out.push([1, idx * M1, M1, s.leaf]);
      else for (const j of [...s.table.keys()].sort((a, b) => a - b)) out.push([2, idx * M1 + j * K4, K4, s.table.get(j)!]);
    }
    return out;
  }

  /** Number of level-2 tables the kernel would hold. */
  tables(): number {
    let n = 0;
    for (const s of this.l1.values()) if ('table' in s) n++;
    return n;
  }
}
