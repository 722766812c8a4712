/**
 * A reference model of Linux's ARM LPAE io-pgtable semantics (mainline after v6.13: no split on
 * unmap), for property tests and the soak campaign. It holds a tree of plain Maps (a table is a
 * Map from index to child table or leaf) and knows nothing about descriptors, memory or the
 * format package's code: it is written from the kernel's documented behaviour:
 *
 * map_pages(iova, paddr, pgsize, pgcount): walk from the start level to the level whose block
 *   size is pgsize, creating missing tables (each creation is one table allocation; a failed
 *   one is -ENOMEM and what was created before stays); a block on the way is -EEXIST. At the
 *   target level the run is clipped to the end of the table (the caller loops on `mapped`).
 *   Slots are examined in order: a leaf fails the call with -EEXIST (tables met before it have
 *   already been torn down, as arm_lpae_init_pte does); a table is unmapped with everything
 *   below it. Then every slot of the run becomes a leaf.
 * unmap_pages(iova, pgsize, pgcount): walk to pgsize's level; an empty slot on the way (or the
 *   first slot) is -ENOENT; a block on the way is 0 (no partial unmap of a block). At the
 *   target level the run (clipped to the table end) stops at the first empty slot; each slot
 *   removed (leaf, or table with its subtree) counts pgsize bytes.
 * iova_to_phys: output address of the leaf plus the offset inside it, or 0.
 *
 * Well-formed requests only (pgsize one of the table's block sizes, addresses aligned, inside
 * ias/oas, prot with READ or WRITE): generators produce nothing else.
 */

export interface LpaeRefGeometry {
  /** Translation granule in bytes: 4096, 16384 or 65536. */
  readonly granule: number;
  /** The level the walk starts at (0..3). */
  readonly startLevel: number;
  /** Entries of the start-level table (more than granule/8 for a concatenated stage-2 PGD). */
  readonly pgdEntries: number;
}

export interface LpaeRefLeaf {
  readonly pa: number;
  readonly prot: number;
}

type Slot = LpaeRefTable | LpaeRefLeaf;

class LpaeRefTable {
  readonly slots = new Map<number, Slot>();
}

function isTable(s: Slot): s is LpaeRefTable {
  return s instanceof LpaeRefTable;
}

export const LPAE_REF_EEXIST = -17;
export const LPAE_REF_ENOENT = -2;
export const LPAE_REF_ENOMEM = -12;

export class LpaeRef {
  private readonly root = new LpaeRefTable();
  private readonly bpl: number;
  /** Table allocations so far (including failed attempts): for fail-nth. */
  allocAttempts = 0;
  /** When set, the allocation attempt with this number (1-based, over allocAttempts) fails. */
  failAttempt = 0;
  private tableCount = 1;

  constructor(readonly geo: LpaeRefGeometry) {
    this.bpl = Math.log2(geo.granule) - 3;
  }

  /** Block (or page) size mapped by one slot at `level`. */
  blockSize(level: number): number {
    return 2 ** ((4 - level) * this.bpl + 3);
  }

  /** The level whose slot maps `pgsize`, or -1. */
  levelOf(pgsize: number): number {
    for (let l = this.geo.startLevel; l < 4; l++) if (this.blockSize(l) === pgsize) return l;
    return -1;
  }

  entries(level: number): number {
    return level === this.geo.startLevel ? this.geo.pgdEntries : this.geo.granule / 8;
  }

  private index(level: number, iova: number): number {
    return Math.floor(iova / this.blockSize(level)) % this.entries(level);
  }

  /** Tables in the tree, the PGD included. */
  get tables(): number {
    return this.tableCount;
  }

  private countTables(t: LpaeRefTable): number {
    let n = 1;
    for (const s of t.slots.values()) if (isTable(s)) n += this.countTables(s);
    return n;
  }

  private drop(s: Slot): void {
    if (isTable(s)) this.tableCount -= this.countTables(s);
  }

  /** map_pages: [ret, bytes mapped]. */
  map(iova: number, paddr: number, pgsize: number, pgcount: number, prot: number): [number, number] {
    const target = this.levelOf(pgsize);
    if (target < 0) throw new RangeError(`LpaeRef: pgsize ${pgsize} is not a block size of this table`);
    let t = this.root;
    for (let l = this.geo.startLevel; l < target; l++) {
      const i = this.index(l, iova);
      const s = t.slots.get(i);
      if (s === undefined) {
        this.allocAttempts++;
        if (this.failAttempt !== 0 && this.allocAttempts === this.failAttempt) return [LPAE_REF_ENOMEM, 0];
        const child = new LpaeRefTable();
        t.slots.set(i, child);
        this.tableCount++;
        t = child;
      } else if (isTable(s)) t = s;
      else return [LPAE_REF_EEXIST, 0];
    }
    const first = this.index(target, iova);
    const n = Math.min(pgcount, this.entries(target) - first);
    for (let k = 0; k < n; k++) {
      const s = t.slots.get(first + k);
      if (s === undefined) continue;
      if (!isTable(s)) return [LPAE_REF_EEXIST, 0];
      this.drop(s);
      t.slots.delete(first + k);
    }
    for (let k = 0; k < n; k++) t.slots.set(first + k, { pa: paddr + k * pgsize, prot });
    return [0, n * pgsize];
  }

  /** unmap_pages: bytes unmapped, 0, or -ENOENT (the kernel's (size_t)-ENOENT). */
  unmap(iova: number, pgsize: number, pgcount: number): number {
    const target = this.levelOf(pgsize);
    if (target < 0) throw new RangeError(`LpaeRef: pgsize ${pgsize} is not a block size of this table`);
    let t = this.root;
    for (let l = this.geo.startLevel; l < target; l++) {
      const s = t.slots.get(this.index(l, iova));
      if (s === undefined) return LPAE_REF_ENOENT;
      if (!isTable(s)) return 0;
      t = s;
    }
    const first = this.index(target, iova);
    if (!t.slots.has(first)) return LPAE_REF_ENOENT;
    const n = Math.min(pgcount, this.entries(target) - first);
    let k = 0;
    for (; k < n; k++) {
      const s = t.slots.get(first + k);
      if (s === undefined) break;
      this.drop(s);
      t.slots.delete(first + k);
    }
    return k * pgsize;
  }

  /** The leaf translating `iova`, with its level and IOVA, or null. */
  lookup(iova: number): { level: number; iova: number; size: number; leaf: LpaeRefLeaf } | null {
    let t = this.root;
    for (let l = this.geo.startLevel; l < 4; l++) {
      const s = t.slots.get(this.index(l, iova));
      if (s === undefined) return null;
      if (!isTable(s)) {
        const size = this.blockSize(l);
        return { level: l, iova: iova - (iova % size), size, leaf: s };
      }
      t = s;
    }
    return null;
  }

  /** iova_to_phys. */
  translate(iova: number): number {
    const hit = this.lookup(iova);
    return hit ? hit.leaf.pa + (iova - hit.iova) : 0;
  }

  /** Every leaf in IOVA order: [level, iova, size, pa]. */
  leaves(): [number, number, number, number][] {
    const out: [number, number, number, number][] = [];
    const visit = (t: LpaeRefTable, level: number, base: number) => {
      for (const i of [...t.slots.keys()].sort((a, b) => a - b)) {
        const s = t.slots.get(i)!;
        const iova = base + i * this.blockSize(level);
        if (isTable(s)) visit(s, level + 1, iova);
        else out.push([level, iova, this.blockSize(level), s.pa]);
      }
    };
    visit(this.root, this.geo.startLevel, 0);
    return out;
  }

  /** Number of leaves (cheaper than leaves().length). */
  leafCount(): number {
    let n = 0;
    const visit = (t: LpaeRefTable) => {
      for (const s of t.slots.values()) if (isTable(s)) visit(s);
      else n++;
    };
    visit(this.root);
    return n;
  }
}
