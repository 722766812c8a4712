import { PAGE_SIZE, type PhysMem } from '@gki/hw';
import { EINVAL, ENOMEM, KernelError, type PageAllocator } from '@gki/kernel';
import { V7S_L2_TABLE_BYTES } from './descriptors.js';

const SLOTS_PER_PAGE = PAGE_SIZE / V7S_L2_TABLE_BYTES; // 4
const FULL = (1 << SLOTS_PER_PAGE) - 1;

/**
 * Level-2 tables are 1 KiB objects, 1 KiB aligned. The kernel takes them from a kmem_cache
 * that each v7s page table creates for itself ("io-pgtable_armv7s_l2") and destroys when
 * the table is freed. This is a minimal slab with the same observable behaviour: objects are
 * zeroed on allocation, naturally aligned, private to one page table, carved out of 4 KiB
 * pages from the kernel's page allocator; a page goes back to the allocator as soon as its
 * last table is freed, so a page table that is emptied holds nothing but its level-1 table.
 *
 * Which slot is handed out is not observable through the format (table addresses never
 * appear in leaves or registers), so the policy is simply "lowest free slot of the most
 * recently used partial page".
 */
export class L2Slab {
  /** Page PA -> bitmask of used 1 KiB slots. */
  private readonly used = new Map<number, number>();
  /** Pages that have at least one free slot (each page at most once). */
  private readonly partial: number[] = [];

  constructor(
    private readonly mem: PhysMem,
    private readonly pages: PageAllocator,
    /** Rejects a page whose PA cannot be encoded in a table descriptor. */
    private readonly fits: (pa: number) => boolean,
  ) {}

  /** A zeroed 1 KiB table, or a negative errno (-ENOMEM) with nothing allocated. */
  alloc(): number {
    const n = this.partial.length;
    if (n > 0) {
      const page = this.partial[n - 1]!;
      const mask = this.used.get(page)!;
      let slot = 0;
      while (mask & (1 << slot)) slot++;
      const next = mask | (1 << slot);
      this.used.set(page, next);
      if (next === FULL) this.partial.pop();
      const pa = page + slot * V7S_L2_TABLE_BYTES;
      this.mem.zero(pa, V7S_L2_TABLE_BYTES);
      return pa;
    }
    const page = this.pages.allocPages(0);
    if (page < 0) return page;
    if (!this.fits(page)) {
      this.pages.freePages(page, 0);
      return -ENOMEM; // the kernel also gives up on a table it cannot encode
    }
    this.used.set(page, 1);
    this.partial.push(page);
    return page; // the page allocator hands out zeroed pages
  }

  free(pa: number): void {
    const page = pa - (pa % PAGE_SIZE);
    const slot = (pa - page) / V7S_L2_TABLE_BYTES;
    const mask = this.used.get(page);
    if (mask === undefined || (mask & (1 << slot)) === 0)
      throw new KernelError(-EINVAL, `v7s L2 slab: freeing 0x${pa.toString(16)} which is not allocated`);
    const next = mask & ~(1 << slot);
    if (next === 0) {
      this.used.delete(page);
      const i = this.partial.lastIndexOf(page);
      if (i >= 0) this.partial.splice(i, 1);
      this.pages.freePages(page, 0);
      return;
    }
    if (mask === FULL) this.partial.push(page);
    this.used.set(page, next);
  }

  /** Number of live tables (for tests and accounting). */
  tables(): number {
    let n = 0;
    for (const m of this.used.values()) for (let b = m; b; b &= b - 1) n++;
    return n;
  }

  /** Number of pages the slab holds. */
  pageCount(): number {
    return this.used.size;
  }

  /** Returns every page to the allocator (kmem_cache_destroy after all tables are gone). */
  destroy(): void {
    for (const page of this.used.keys()) this.pages.freePages(page, 0);
    this.used.clear();
    this.partial.length = 0;
  }
}
