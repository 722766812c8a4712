/**
 * The translation cache of one Mali address space: one entry per leaf the walker returned
 * (4 KiB page, 2 MiB or 1 GiB block), tagged by the input address of the leaf's start.
 *
 * Entries live in typed arrays indexed through one Map per leaf size, so a lookup allocates
 * nothing and an insertion only grows the arrays when they are full. Entries leave only when
 * software invalidates (or the cache is full, when it is emptied at once, as hardware may
 * evict at any time): a driver that forgets an invalidation keeps getting the old
 * translation, which is the point.
 *
 * This class is private to the Mali model so that moving to the package's shared translation
 * cache is a local change.
 */

/** Leaf sizes the Mali LPAE format produces (4 KiB granule): page, 2 MiB and 1 GiB blocks. */
const SHIFTS = [12, 21, 30] as const;

export class MaliTlb {
  private readonly maps: Map<number, number>[] = SHIFTS.map(() => new Map<number, number>());
  private cap: number;
  private base: Float64Array;
  private pa: Float64Array;
  private perms: Uint8Array;
  private level: Uint8Array;
  private shiftIdx: Uint8Array;
  private readonly free: number[] = [];
  private used = 0;
  /** Times the cache was emptied because it was full. */
  overflows = 0;

  // Results of the last successful lookup.
  hitPa = 0;
  hitPerms = 0;
  hitLevel = 0;
  hitSize = 0;

  constructor(readonly capacity = 16384) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`bad TLB capacity ${capacity}`);
    this.cap = Math.min(capacity, 256);
    this.base = new Float64Array(this.cap);
    this.pa = new Float64Array(this.cap);
    this.perms = new Uint8Array(this.cap);
    this.level = new Uint8Array(this.cap);
    this.shiftIdx = new Uint8Array(this.cap);
  }

  /** Number of cached leaves. */
  get size(): number {
    return this.used - this.free.length;
  }

  /** Looks `va` up; on a hit fills hitPa (the PA of `va`), hitPerms, hitLevel, hitSize. */
  lookup(va: number): boolean {
    for (let s = 0; s < 3; s++) {
      const size = 2 ** SHIFTS[s]!;
      const i = this.maps[s]!.get(Math.floor(va / size));
      if (i !== undefined) {
        this.hitPa = this.pa[i]! + (va - this.base[i]!);
        this.hitPerms = this.perms[i]!;
        this.hitLevel = this.level[i]!;
        this.hitSize = size;
        return true;
      }
    }
    return false;
  }

  /** Caches the leaf of `size` bytes (4 KiB, 2 MiB or 1 GiB) that maps `va` to `pa`. */
  insert(va: number, pa: number, size: number, perms: number, level: number): void {
    const s = size === 4096 ? 0 : size === 2 ** 21 ? 1 : size === 2 ** 30 ? 2 : -1;
    if (s < 0) return; // not a leaf size of this format: do not cache
    const key = Math.floor(va / size);
    const map = this.maps[s]!;
    let i = map.get(key);
    if (i === undefined) {
      if (this.size >= this.capacity) {
        this.clear();
        this.overflows++;
      }
      i = this.alloc();
      map.set(key, i);
    }
    this.base[i] = key * size;
    this.pa[i] = pa - (va - key * size);
    this.perms[i] = perms;
    this.level[i] = level;
    this.shiftIdx[i] = s;
  }

  /** Drops every entry whose leaf overlaps [start, end). Returns how many were dropped. */
  invalidateRange(start: number, end: number): number {
    if (!(end > start)) return 0;
    let n = 0;
    for (let s = 0; s < 3; s++) {
      const map = this.maps[s]!;
      if (map.size === 0) continue;
      const size = 2 ** SHIFTS[s]!;
      const first = Math.floor(start / size);
      const last = Math.ceil(end / size); // exclusive
      if (last - first <= map.size) {
        for (let k = first; k < last; k++) {
          const i = map.get(k);
          if (i === undefined) continue;
          map.delete(k);
          this.free.push(i);
          n++;
        }
      } else {
        for (const [k, i] of map) {
          if (k < first || k >= last) continue;
          map.delete(k);
          this.free.push(i);
          n++;
        }
      }
    }
    return n;
  }

  /** Drops everything. */
  clear(): void {
    for (const m of this.maps) m.clear();
    this.free.length = 0;
    this.used = 0;
  }

  private alloc(): number {
    const f = this.free.pop();
    if (f !== undefined) return f;
    if (this.used === this.cap) this.grow();
    return this.used++;
  }

  private grow(): void {
    const cap = Math.min(this.capacity, this.cap * 2);
    const g = <T extends Float64Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const b = make(cap);
      b.set(a);
      return b;
    };
    this.base = g(this.base, (n) => new Float64Array(n));
    this.pa = g(this.pa, (n) => new Float64Array(n));
    this.perms = g(this.perms, (n) => new Uint8Array(n));
    this.level = g(this.level, (n) => new Uint8Array(n));
    this.shiftIdx = g(this.shiftIdx, (n) => new Uint8Array(n));
    this.cap = cap;
  }
}
