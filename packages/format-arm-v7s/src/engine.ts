import { CHUNK_SIZE, PAGE_SIZE, PhysMem } from '@gki/hw';
import { EEXIST, EINVAL, ENOMEM, ERANGE, KernelError, isIoPgtableHost, type KernelLog, type PageAllocator } from '@gki/kernel';
import {
  IOMMU_READ,
  IOMMU_WRITE,
  IO_PGTABLE_QUIRK_ARM_MTK_EXT,
  IO_PGTABLE_QUIRK_ARM_MTK_TTBR_EXT,
  IO_PGTABLE_QUIRK_ARM_NS,
  IO_PGTABLE_QUIRK_NO_PERMS,
  freeIoPgtableOps,
  ioPgtableCfgTypeError,
  ioPgtableTrackStandalone,
  type IoPgtableCfg,
  type IoPgtableLeaf,
  type IoPgtableOps,
  type IommuFlushOps,
  type IommuIotlbGather,
  type MappedOut,
} from '@gki/io-pgtable-core';
import {
  V7S_ADDR_BITS,
  V7S_CONT_SECTION,
  V7S_L1_ADDR_MASK,
  V7S_L1_SLOT,
  V7S_L2_ADDR_MASK,
  V7S_L2_ENTRIES,
  V7S_L2_SLOT,
  V7S_LARGE_ADDR_MASK,
  V7S_MTK_IAS_MAX,
  V7S_MTK_OAS_MAX,
  V7S_NMRR,
  V7S_PGSIZES,
  V7S_PRRR,
  V7S_SUPERSECTION_ADDR_MASK,
  V7S_TABLE_ADDR_MASK,
  V7S_TABLE_NS,
  V7S_TTBR_ATTRS_COHERENT,
  V7S_TTBR_ATTRS_NONCOHERENT,
  V7S_TYPE_MASK,
  V7S_TYPE_PAGE,
  V7S_TYPE_TABLE,
  isCont,
  mtkBits,
  mtkHigh,
  protToPte,
  toCont,
} from './descriptors.js';
import { L2Slab } from './l2-slab.js';

/** What the format needs from the kernel: RAM (the linear map), the page allocator, the log. */
export interface V7sKernel {
  readonly mem: PhysMem;
  readonly pages: PageAllocator;
  readonly log: KernelLog;
}

/** The quirks ARM_V7S accepts; anything else makes the allocation fail. */
export const ARM_V7S_QUIRKS =
  IO_PGTABLE_QUIRK_ARM_NS | IO_PGTABLE_QUIRK_NO_PERMS | IO_PGTABLE_QUIRK_ARM_MTK_EXT | IO_PGTABLE_QUIRK_ARM_MTK_TTBR_EXT;

const LOG_WHO = 'arm-v7s io-pgtable';
const TWO32 = 4294967296;
/** unmapAt's "not at this level, walk down" answer. */
const DESCEND = -1;

/** WARN_ONCE is once per boot: remember which kernels (logs) already printed it. */
const partialUnmapWarned = new WeakSet<KernelLog>();

/**
 * One ARM_V7S page table (the kernel's struct arm_v7s_io_pgtable plus its io_pgtable_ops).
 *
 * Tables live in simulated RAM: the level-1 table comes straight from the page allocator
 * (2^(ias-20) entries), level-2 tables (256 entries, 1 KiB) from a private slab. Every
 * operation reads and writes the descriptors in RAM through the chunk arrays of PhysMem;
 * nothing about the mappings is cached outside the tables, so a hardware walker reading the
 * same RAM sees exactly what this code wrote.
 *
 * Hot paths (mapPages, unmapPages, iovaToPhys) allocate nothing per page: descriptors are
 * 32-bit numbers, prot templates are precomputed, and unmap's "clear first, then flush" step
 * uses a scratch array allocated once.
 */
export class ArmV7sIoPgtable implements IoPgtableOps {
  /** The configuration as the format completed it (restricted bitmap, register outputs). */
  readonly cfg: IoPgtableCfg;
  readonly cookie: unknown;
  /** Physical address and allocation order of the level-1 table. */
  readonly pgdPa: number;
  readonly pgdOrder: number;
  /** Entries in the level-1 table: 2^(ias-20). */
  readonly l1Entries: number;

  private readonly mem: PhysMem;
  private readonly pages: PageAllocator;
  private readonly log: KernelLog;
  private readonly slab: L2Slab;
  private readonly tlb: IommuFlushOps | null;
  private readonly pgd: Uint32Array;
  private readonly pgdBase: number;
  private readonly l1Mask: number;
  private readonly iovaLimit: number;
  private readonly paLimit: number;
  private readonly mtk: boolean;
  private readonly ttbrExt: boolean;
  private readonly tableNs: number;
  /**
   * tryMapPfn / tryUnmapPfn's limits in 4 KiB frames: a frame below each passes (the IOVA
   * below 2^ias, the PA below 2^oas). 0 (no frame passes) where the byte-address entries
   * decline every call: the map entries of an ARM_MTK_EXT table, and both once freed.
   */
  private mapPfnEnd: number;
  private unmapPfnEnd: number;
  private readonly paPfnEnd: number;
  /** Leaf templates indexed by prot & 63: section, supersection, small page, large page. */
  private readonly tplL1 = new Uint32Array(64);
  private readonly tplL1Cont = new Uint32Array(64);
  private readonly tplL2 = new Uint32Array(64);
  private readonly tplL2Cont = new Uint32Array(64);
  /** Entries cleared by one unmap step, replayed for the TLB calls after the clear. */
  private readonly scratch: Uint32Array;
  /** One-entry cache of the RAM chunk last used for a level-2 table. */
  private chunkKey = -1;
  private chunkArr: Uint32Array;
  /** `l2Base`'s cache: the last level-1 table descriptor followed and where its table lies. */
  private l2Pte1 = -1;
  private l2Arr: Uint32Array;
  private l2Wb = 0;
  private freed = false;

  /** Use `createArmV7sOps`, which validates the configuration and allocates the level-1 table. */
  constructor(kernel: V7sKernel, cfg: IoPgtableCfg, cookie: unknown, pgdPa: number, pgdOrder: number, slab: L2Slab) {
    this.cfg = cfg;
    this.cookie = cookie;
    this.mem = kernel.mem;
    this.pages = kernel.pages;
    this.log = kernel.log;
    this.slab = slab;
    this.tlb = cfg.tlb ?? null;
    this.pgdPa = pgdPa;
    this.pgdOrder = pgdOrder;
    this.l1Entries = 2 ** (cfg.ias - 20);
    this.l1Mask = this.l1Entries - 1;
    this.iovaLimit = 2 ** cfg.ias;
    this.paLimit = 2 ** cfg.oas;
    this.mtk = (cfg.quirks & IO_PGTABLE_QUIRK_ARM_MTK_EXT) !== 0;
    this.ttbrExt = (cfg.quirks & IO_PGTABLE_QUIRK_ARM_MTK_TTBR_EXT) !== 0;
    this.tableNs = (cfg.quirks & IO_PGTABLE_QUIRK_ARM_NS) !== 0 ? V7S_TABLE_NS : 0;
    this.unmapPfnEnd = this.iovaLimit / V7S_L2_SLOT;
    this.mapPfnEnd = this.mtk ? 0 : this.unmapPfnEnd;
    this.paPfnEnd = this.paLimit / V7S_L2_SLOT;
    this.pgd = this.mem.chunk(pgdPa);
    this.pgdBase = wordIndex(pgdPa);
    this.chunkArr = this.pgd;
    this.l2Arr = this.pgd;
    this.chunkKey = Math.floor(pgdPa / CHUNK_SIZE);
    this.scratch = new Uint32Array(Math.max(this.l1Entries, V7S_L2_ENTRIES));
    for (let prot = 0; prot < 64; prot++) {
      const l1 = protToPte(prot, 1, cfg.quirks);
      const l2 = protToPte(prot, 2, cfg.quirks);
      this.tplL1[prot] = l1;
      this.tplL1Cont[prot] = toCont(l1, 1);
      this.tplL2[prot] = l2;
      this.tplL2Cont[prot] = toCont(l2, 2);
    }
  }

  // ---------------------------------------------------------------- map

  mapPages(iova: number, paddr: number, pgsize: number, pgcount: number, prot: number, mapped: MappedOut): number {
    // One small page under an existing table, the most common call, is kept small enough for
    // the JIT to inline into the caller; everything else (including every error) goes through
    // mapPagesSlow, which applies the kernel's checks in the kernel's order.
    if (pgsize === V7S_L2_SLOT && pgcount === 1 && (prot & (IOMMU_READ | IOMMU_WRITE)) !== 0 && !this.freed &&
        iova >= 0 && iova < this.iovaLimit && paddr >= 0 && paddr < this.paLimit && !this.mtk &&
        Number.isInteger(iova) && Number.isInteger(paddr)) {
      const pte1 = this.pgd[this.pgdBase + ((iova * INV_L1_SLOT) & this.l1Mask)]!;
      if ((pte1 & V7S_TYPE_MASK) === V7S_TYPE_TABLE) {
        const w = this.l2Base(pte1) + ((iova >>> 12) & 0xff);
        const arr = this.l2Arr;
        if (arr[w] === 0) {
          arr[w] = this.tplL2[prot & 63]! | (paddr & V7S_L2_ADDR_MASK);
          mapped.mapped += V7S_L2_SLOT;
          return 0;
        }
      }
    }
    return this.mapPagesSlow(iova, paddr, pgsize, pgcount, prot, mapped);
  }

  /**
   * The IOMMU core's one-page entry (IommuPgtableOps.tryMapPage): `mapPages`' fast path alone,
   * for one small page at `iova` -> `paddr` aligned to it: 0 when it mapped the page, else 1
   * with nothing changed (the caller then calls mapPages).
   */
  tryMapPage(iova: number, paddr: number, pgsize: number, prot: number): number {
    if (pgsize === V7S_L2_SLOT && typeof iova === 'number' && typeof paddr === 'number' && (prot & (IOMMU_READ | IOMMU_WRITE)) !== 0 && !this.freed &&
        iova >= 0 && iova < this.iovaLimit && paddr >= 0 && paddr < this.paLimit && !this.mtk &&
        ((iova | paddr) & 0xfff) === 0 && Number.isInteger(iova) && Number.isInteger(paddr)) {
      const pte1 = this.pgd[this.pgdBase + ((iova * INV_L1_SLOT) & this.l1Mask)]!;
      if ((pte1 & V7S_TYPE_MASK) === V7S_TYPE_TABLE) {
        const w = this.l2Base(pte1) + ((iova >>> 12) & 0xff);
        const arr = this.l2Arr;
        if (arr[w] === 0) {
          arr[w] = this.tplL2[prot & 63]! | (paddr & V7S_L2_ADDR_MASK);
          return 0;
        }
      }
    }
    return 1;
  }

  /**
   * IommuPgtableOps.tryMapPfn: tryMapPage(iovaPfn * pgsize, paPfn * pgsize, pgsize, prot), for
   * the DMA API's one-page path, whose caller guarantees non-negative integer frames (addresses
   * below 2^53), a power-of-two `pgsize` and an int32 `prot`. With `pgsize` the small page the
   * frames are aligned by construction and below 2^22 once under the limits, so the slots and
   * the descriptor come from integer shifts (no address is formed as a double).
   */
  tryMapPfn(iovaPfn: number, paPfn: number, pgsize: number, prot: number): number {
    if (pgsize === V7S_L2_SLOT && (prot & (IOMMU_READ | IOMMU_WRITE)) !== 0 && iovaPfn < this.mapPfnEnd && paPfn < this.paPfnEnd) {
      const pte1 = this.pgd[this.pgdBase + ((iovaPfn >>> 8) & this.l1Mask)]!;
      if ((pte1 & V7S_TYPE_MASK) === V7S_TYPE_TABLE) {
        const w = this.l2Base(pte1) + (iovaPfn & 0xff);
        const arr = this.l2Arr;
        if (arr[w] === 0) {
          arr[w] = this.tplL2[prot & 63]! | (paPfn << 12);
          return 0;
        }
      }
    }
    return 1;
  }

  private mapPagesSlow(iova: number, paddr: number, pgsize: number, pgcount: number, prot: number, mapped: MappedOut): number {
    if (this.freed) throw this.useAfterFree();
    if (!(iova >= 0 && iova < this.iovaLimit && paddr >= 0 && paddr < this.paLimit)) {
      this.warn(`map_pages: iova 0x${iova.toString(16)} or paddr 0x${paddr.toString(16)} out of range`);
      return -ERANGE;
    }
    if ((prot & (IOMMU_READ | IOMMU_WRITE)) === 0) return -EINVAL;
    if (!Number.isInteger(iova) || !Number.isInteger(paddr) || !Number.isSafeInteger(pgsize) || pgsize < 0 ||
        !Number.isSafeInteger(pgcount) || pgcount < 0)
      return -EINVAL;
    const p = prot & 63;
    let ret = -EINVAL; // so a pgcount of 0 is -EINVAL, as in the kernel
    while (pgcount > 0) {
      if (pgsize === V7S_L2_SLOT) {
        // Small pages under an existing table: the kernel walks from level 1 for every page,
        // which lands in this same table until the run leaves its 1 MiB slot, so fill the
        // table directly (same descriptors, same order, same stopping point).
        const pte1 = this.pgd[this.pgdBase + ((iova * INV_L1_SLOT) & this.l1Mask)]!;
        if ((pte1 & V7S_TYPE_MASK) === V7S_TYPE_TABLE) {
          const tpa = this.tablePa(pte1);
          const arr = this.chunkOf(tpa);
          const idx2 = (iova >>> 12) & 0xff;
          const w = wordIndex(tpa) + idx2;
          const run = V7S_L2_ENTRIES - idx2 < pgcount ? V7S_L2_ENTRIES - idx2 : pgcount;
          const tpl = this.tplL2[p]!;
          let k = 0;
          let pa = paddr;
          for (; k < run; k++, pa += V7S_L2_SLOT) {
            if (arr[w + k] !== 0) break;
            arr[w + k] = this.mtk ? tpl | (pa & V7S_L2_ADDR_MASK) | mtkBits(Math.floor(pa / TWO32)) : tpl | (pa & V7S_L2_ADDR_MASK);
          }
          const bytes = k * V7S_L2_SLOT;
          iova += bytes;
          paddr += bytes;
          mapped.mapped += bytes;
          pgcount -= k;
          if (k < run) {
            this.warn('map_pages: iova already mapped');
            return -EEXIST;
          }
          ret = 0;
          continue;
        }
      }
      if (pgsize === V7S_L1_SLOT) {
        // A section into an empty level-1 slot (the general path handles tables and clashes).
        const w1 = this.pgdBase + ((iova * INV_L1_SLOT) & this.l1Mask);
        if (this.pgd[w1] === 0) {
          const pte = this.tplL1[p]! | (paddr & V7S_L1_ADDR_MASK);
          this.pgd[w1] = this.mtk ? pte | mtkBits(Math.floor(paddr / TWO32)) : pte;
          iova += pgsize;
          paddr += pgsize;
          mapped.mapped += pgsize;
          pgcount--;
          ret = 0;
          continue;
        }
      }
      ret = this.mapOne(iova, paddr, pgsize, p);
      if (ret !== 0) break;
      iova += pgsize;
      paddr += pgsize;
      mapped.mapped += pgsize;
      pgcount--;
    }
    return ret;
  }

  /** Maps one page of `pgsize`, walking from level 1. The kernel does no range check here. */
  private mapOne(iova: number, paddr: number, pgsize: number, prot: number): number {
    const idx1 = (iova * INV_L1_SLOT) & this.l1Mask;
    const n1 = Math.floor(pgsize / V7S_L1_SLOT);
    if (n1 >= 1) return this.installLeaves(1, this.pgd, this.pgdBase, idx1, n1, iova, paddr, prot);

    const w = this.pgdBase + idx1;
    const pte = this.pgd[w]!;
    let tpa: number;
    if (pte === 0) {
      tpa = this.slab.alloc();
      if (tpa < 0) return -ENOMEM;
      this.pgd[w] = this.tableDesc(tpa);
    } else if ((pte & V7S_TYPE_MASK) === V7S_TYPE_TABLE) {
      tpa = this.tablePa(pte);
    } else {
      this.warn('map_pages: a section already maps this iova');
      return -EEXIST;
    }
    // The table stays even if this fails: the kernel allocates it before looking at the size.
    const n2 = Math.floor(pgsize / V7S_L2_SLOT);
    if (n2 === 0) {
      this.warn(`map_pages: page size 0x${pgsize.toString(16)} is below the smallest page`);
      return -EINVAL;
    }
    return this.installLeaves(2, this.chunkOf(tpa), wordIndex(tpa), (iova >>> 12) & 0xff, n2, iova, paddr, prot);
  }

  /** The kernel's init_pte: clear tables in the way, refuse live leaves, write n equal slots. */
  private installLeaves(lvl: number, arr: Uint32Array, base: number, idx: number, n: number,
    iova: number, paddr: number, prot: number): number {
    if (idx + n > (lvl === 1 ? this.l1Entries : V7S_L2_ENTRIES)) {
      // The kernel would write past the end of the table here; the model refuses instead.
      this.warn(`map_pages: ${n} entries at index ${idx} run past the level-${lvl} table`);
      return -EINVAL;
    }
    const w = base + idx;
    for (let i = 0; i < n; i++) {
      const cur = arr[w + i]!;
      if (cur === 0) continue;
      if (lvl === 1 && (cur & V7S_TYPE_MASK) === V7S_TYPE_TABLE) {
        // A block over a table: the table (and whatever it mapped) goes, with only a walk flush.
        arr[w + i] = 0;
        this.flushWalk(iova + i * V7S_L1_SLOT, V7S_L1_SLOT, V7S_L2_SLOT);
        this.slab.free(this.tablePa(cur));
        continue;
      }
      this.warn('map_pages: iova already mapped');
      return -EEXIST;
    }
    let pte: number;
    if (lvl === 1) pte = (n > 1 ? this.tplL1Cont[prot]! : this.tplL1[prot]!) | (paddr & V7S_L1_ADDR_MASK);
    else pte = (n > 1 ? this.tplL2Cont[prot]! : this.tplL2[prot]!) | (paddr & V7S_L2_ADDR_MASK);
    if (this.mtk) pte |= mtkBits(Math.floor(paddr / TWO32));
    pte >>>= 0;
    for (let i = 0; i < n; i++) arr[w + i] = pte;
    return 0;
  }

  // ---------------------------------------------------------------- unmap

  unmapPages(iova: number, pgsize: number, pgcount: number, gather: IommuIotlbGather | null): number {
    // Inlinable fast path for one small page under a table (see mapPages).
    if (pgsize === V7S_L2_SLOT && pgcount === 1 && !this.freed && iova >= 0 && iova < this.iovaLimit &&
        Number.isInteger(iova)) {
      const pte1 = this.pgd[this.pgdBase + ((iova * INV_L1_SLOT) & this.l1Mask)]!;
      if ((pte1 & V7S_TYPE_MASK) === V7S_TYPE_TABLE) {
        const w = this.l2Base(pte1) + ((iova >>> 12) & 0xff);
        const arr = this.l2Arr;
        if ((arr[w]! & V7S_TYPE_PAGE) !== 0) {
          arr[w] = 0;
          if (gather === null || !gather.queued) this.addPage(gather, iova, V7S_L2_SLOT);
          return V7S_L2_SLOT;
        }
      }
    }
    return this.unmapPagesSlow(iova, pgsize, pgcount, gather);
  }

  /**
   * The IOMMU core's one-page unmap entry (IommuPgtableOps.tryUnmapPage): `unmapPages`' fast
   * path alone, for one small page at `iova` aligned to it: 4096 when it unmapped it, else 0
   * with nothing changed.
   */
  tryUnmapPage(iova: number, pgsize: number, gather: IommuIotlbGather): number {
    if (pgsize === V7S_L2_SLOT && typeof iova === 'number' && !this.freed && iova >= 0 && iova < this.iovaLimit && (iova & 0xfff) === 0 && Number.isInteger(iova)) {
      const pte1 = this.pgd[this.pgdBase + ((iova * INV_L1_SLOT) & this.l1Mask)]!;
      if ((pte1 & V7S_TYPE_MASK) === V7S_TYPE_TABLE) {
        const w = this.l2Base(pte1) + ((iova >>> 12) & 0xff);
        const arr = this.l2Arr;
        if ((arr[w]! & V7S_TYPE_PAGE) !== 0) {
          arr[w] = 0;
          if (!gather.queued) this.addPage(gather, iova, V7S_L2_SLOT);
          return V7S_L2_SLOT;
        }
      }
    }
    return 0;
  }

  /**
   * IommuPgtableOps.tryUnmapPfn: tryUnmapPage(iovaPfn * pgsize, pgsize, gather), with
   * tryMapPfn's guarantees on the arguments.
   */
  tryUnmapPfn(iovaPfn: number, pgsize: number, gather: IommuIotlbGather): number {
    if (pgsize === V7S_L2_SLOT && iovaPfn < this.unmapPfnEnd) {
      const pte1 = this.pgd[this.pgdBase + ((iovaPfn >>> 8) & this.l1Mask)]!;
      if ((pte1 & V7S_TYPE_MASK) === V7S_TYPE_TABLE) {
        const w = this.l2Base(pte1) + (iovaPfn & 0xff);
        const arr = this.l2Arr;
        if ((arr[w]! & V7S_TYPE_PAGE) !== 0) {
          arr[w] = 0;
          if (!gather.queued) this.addPage(gather, iovaPfn * V7S_L2_SLOT, V7S_L2_SLOT);
          return V7S_L2_SLOT;
        }
      }
    }
    return 0;
  }

  private unmapPagesSlow(iova: number, pgsize: number, pgcount: number, gather: IommuIotlbGather | null): number {
    if (this.freed) throw this.useAfterFree();
    if (!(iova >= 0 && iova < this.iovaLimit)) {
      this.warn(`unmap_pages: iova 0x${iova.toString(16)} out of range`);
      return 0;
    }
    if (!Number.isInteger(iova) || !Number.isSafeInteger(pgsize) || pgsize < 0 || !Number.isSafeInteger(pgcount) || pgcount < 0)
      return 0;
    let unmapped = 0;
    while (pgcount > 0) {
      if (pgsize === V7S_L2_SLOT) {
        // Small pages under a table: clear and report them page by page, as the kernel's
        // per-page walk does; anything else (hole, large page) goes to the general path.
        const pte1 = this.pgd[this.pgdBase + ((iova * INV_L1_SLOT) & this.l1Mask)]!;
        if ((pte1 & V7S_TYPE_MASK) === V7S_TYPE_TABLE) {
          const tpa = this.tablePa(pte1);
          const arr = this.chunkOf(tpa);
          const idx2 = (iova >>> 12) & 0xff;
          const w = wordIndex(tpa) + idx2;
          const run = V7S_L2_ENTRIES - idx2 < pgcount ? V7S_L2_ENTRIES - idx2 : pgcount;
          const queued = gather !== null && gather.queued;
          let k = 0;
          for (; k < run; k++) {
            if ((arr[w + k]! & V7S_TYPE_PAGE) === 0) break;
            arr[w + k] = 0;
            if (!queued) this.addPage(gather, iova + k * V7S_L2_SLOT, V7S_L2_SLOT);
          }
          const bytes = k * V7S_L2_SLOT;
          unmapped += bytes;
          iova += bytes;
          pgcount -= k;
          if (k === run) continue;
        }
      }
      if (pgsize === V7S_L1_SLOT) {
        // One plain section (not a table, not part of a supersection).
        const w1 = this.pgdBase + ((iova * INV_L1_SLOT) & this.l1Mask);
        const pte1 = this.pgd[w1]!;
        if ((pte1 & V7S_TYPE_PAGE) !== 0 && (pte1 & V7S_CONT_SECTION) === 0) {
          this.pgd[w1] = 0;
          if (gather === null || !gather.queued) this.addPage(gather, iova, V7S_L1_SLOT);
          unmapped += pgsize;
          iova += pgsize;
          pgcount--;
          continue;
        }
      }
      if (this.unmapOne(iova, pgsize, gather) === 0) break;
      unmapped += pgsize;
      iova += pgsize;
      pgcount--;
    }
    return unmapped;
  }

  private unmapOne(iova: number, size: number, gather: IommuIotlbGather | null): number {
    const idx1 = (iova * INV_L1_SLOT) & this.l1Mask;
    const r = this.unmapAt(1, this.pgd, this.pgdBase, idx1, Math.floor(size / V7S_L1_SLOT), iova, size, gather);
    if (r !== DESCEND) return r;
    const tpa = this.tablePa(this.pgd[this.pgdBase + idx1]!);
    const arr = this.chunkOf(tpa);
    const r2 = this.unmapAt(2, arr, wordIndex(tpa), (iova >>> 12) & 0xff, Math.floor(size / V7S_L2_SLOT), iova, size, gather);
    if (r2 !== DESCEND) return r2;
    this.warn(`unmap_pages: size 0x${size.toString(16)} is below the smallest page`);
    return 0;
  }

  /**
   * One level of the kernel's __arm_v7s_unmap: `size` bytes, or 0, or DESCEND to go one level
   * down. Every slot must be valid; a single slot of a 16-slot entry is a partial unmap, which
   * v6.13+ refuses (no split).
   */
  private unmapAt(lvl: number, arr: Uint32Array, base: number, idx: number, n: number,
    iova: number, size: number, gather: IommuIotlbGather | null): number {
    const count = n > 1 ? n : 1;
    if (idx + count > (lvl === 1 ? this.l1Entries : V7S_L2_ENTRIES)) {
      this.warn(`unmap_pages: ${count} entries at index ${idx} run past the level-${lvl} table`);
      return 0;
    }
    const w = base + idx;
    for (let i = 0; i < count; i++) {
      if ((arr[w + i]! & V7S_TYPE_MASK) === 0) {
        this.warn(`unmap_pages: iova 0x${iova.toString(16)} is not mapped`);
        return 0;
      }
    }
    const first = arr[w]!;
    if (n <= 1 && isCont(first, lvl)) {
      this.warnPartial();
      return 0;
    }
    if (n >= 1) {
      const old = this.scratch;
      for (let i = 0; i < n; i++) {
        old[i] = arr[w + i]!;
        arr[w + i] = 0;
      }
      const blk = lvl === 1 ? V7S_L1_SLOT : V7S_L2_SLOT;
      const queued = gather !== null && gather.queued;
      let va = iova;
      for (let i = 0; i < n; i++) {
        const pte = old[i]!;
        if (lvl === 1 && (pte & V7S_TYPE_MASK) === V7S_TYPE_TABLE) {
          this.flushWalk(va, V7S_L1_SLOT, V7S_L2_SLOT);
          this.slab.free(this.tablePa(pte));
        } else if (!queued) {
          this.addPage(gather, va, blk);
        }
        va += blk;
      }
      return size;
    }
    if (lvl === 1 && (first & V7S_TYPE_MASK) !== V7S_TYPE_TABLE) {
      this.warnPartial();
      return 0;
    }
    return DESCEND;
  }

  // ---------------------------------------------------------------- lookups

  iovaToPhys(iova: number | bigint): number {
    if (this.freed) throw this.useAfterFree();
    // Only the low 34 bits index the tables; the rest alias, as in the kernel.
    const va = typeof iova === 'bigint' ? Number(BigInt.asUintN(48, iova)) : iova;
    if (!(va >= 0) || !Number.isInteger(va)) return 0;
    // `&` on an integer below 2^53 keeps its low 32 bits exactly, which is all the offsets need.
    let pte = this.pgd[this.pgdBase + ((va * INV_L1_SLOT) & this.l1Mask)]!;
    let pa: number;
    let off: number;
    if ((pte & V7S_TYPE_MASK) === V7S_TYPE_TABLE) {
      const w = this.l2Base(pte) + ((va >>> 12) & 0xff);
      pte = this.l2Arr[w]!;
      if ((pte & V7S_TYPE_MASK) === 0) return 0;
      if ((pte & V7S_TYPE_PAGE) === 0) {
        pa = (pte & V7S_LARGE_ADDR_MASK) >>> 0;
        off = va & 0xffff;
      } else {
        pa = (pte & V7S_L2_ADDR_MASK) >>> 0;
        off = va & 0xfff;
      }
    } else {
      if ((pte & V7S_TYPE_MASK) === 0) return 0;
      if ((pte & V7S_CONT_SECTION) !== 0) {
        pa = (pte & V7S_SUPERSECTION_ADDR_MASK) >>> 0;
        off = va & 0xffffff;
      } else {
        pa = (pte & V7S_L1_ADDR_MASK) >>> 0;
        off = va & 0xfffff;
      }
    }
    if (this.mtk) pa += mtkHigh(pte);
    return pa + off;
  }

  /** Every valid leaf slot in IOVA order (large pages and supersections show as 16 slots). */
  walkLeaves(visit: (leaf: IoPgtableLeaf) => void): void {
    if (this.freed) throw this.useAfterFree();
    for (let i = 0; i < this.l1Entries; i++) {
      const pte = this.pgd[this.pgdBase + i]!;
      const va = i * V7S_L1_SLOT;
      if ((pte & V7S_TYPE_MASK) === V7S_TYPE_TABLE) {
        const tpa = this.tablePa(pte);
        const arr = this.chunkOf(tpa);
        const b = wordIndex(tpa);
        for (let j = 0; j < V7S_L2_ENTRIES; j++) {
          const p2 = arr[b + j]!;
          if ((p2 & V7S_TYPE_MASK) !== 0) visit({ level: 2, iova: va + j * V7S_L2_SLOT, size: V7S_L2_SLOT, pte: BigInt(p2) });
        }
      } else if ((pte & V7S_TYPE_MASK) !== 0) {
        visit({ level: 1, iova: va, size: V7S_L1_SLOT, pte: BigInt(pte) });
      }
    }
  }

  /** Live level-2 tables, slab pages and the level-1 table size (for accounting and tests). */
  tableStats(): { l1Bytes: number; l2Tables: number; slabPages: number } {
    return { l1Bytes: this.l1Entries * 4, l2Tables: this.slab.tables(), slabPages: this.slab.pageCount() };
  }

  get isFreed(): boolean {
    return this.freed;
  }

  /** Frees every table (the format's free; the caller issues tlbFlushAll first). */
  free(): void {
    if (this.freed) throw new KernelError(-EINVAL, 'arm-v7s: page table freed twice');
    for (let i = 0; i < this.l1Entries; i++) {
      const pte = this.pgd[this.pgdBase + i]!;
      if ((pte & V7S_TYPE_MASK) === V7S_TYPE_TABLE) this.slab.free(this.tablePa(pte));
    }
    this.slab.destroy();
    this.pages.freePages(this.pgdPa, this.pgdOrder);
    this.freed = true;
    this.mapPfnEnd = 0;
    this.unmapPfnEnd = 0;
  }

  // ---------------------------------------------------------------- helpers

  private tableDesc(tpa: number): number {
    let d = (tpa % TWO32) | V7S_TYPE_TABLE | this.tableNs;
    if (this.ttbrExt) d |= mtkBits(Math.floor(tpa / TWO32));
    return d >>> 0;
  }

  private tablePa(pte: number): number {
    const pa = (pte & V7S_TABLE_ADDR_MASK) >>> 0;
    return this.mtk ? pa + mtkHigh(pte) : pa;
  }

  /**
   * Word index, in `l2Arr`, of the level-2 table a level-1 table descriptor points at. The last
   * descriptor's answer is remembered: where a table's words live is a pure function of the
   * descriptor (RAM chunks are never dropped), so the cache never needs invalidating.
   */
  private l2Base(pte1: number): number {
    if (pte1 !== this.l2Pte1) {
      const tpa = this.tablePa(pte1);
      this.l2Arr = this.chunkOf(tpa);
      this.l2Wb = wordIndex(tpa);
      this.l2Pte1 = pte1;
    }
    return this.l2Wb;
  }

  private chunkOf(pa: number): Uint32Array {
    const key = Math.floor(pa * INV_CHUNK_SIZE);
    if (key !== this.chunkKey) {
      this.chunkArr = this.mem.chunk(pa);
      this.chunkKey = key;
    }
    return this.chunkArr;
  }

  private flushWalk(iova: number, size: number, granule: number): void {
    const t = this.tlb;
    if (t !== null && t.tlbFlushWalk !== undefined) t.tlbFlushWalk(iova, size, granule, this.cookie);
  }

  private addPage(gather: IommuIotlbGather | null, iova: number, granule: number): void {
    const t = this.tlb;
    if (t !== null && t.tlbAddPage !== undefined) t.tlbAddPage(gather, iova, granule, this.cookie);
  }

  private warn(msg: string): void {
    this.log.warn(LOG_WHO, `WARNING: ${msg}`);
  }

  private warnPartial(): void {
    if (partialUnmapWarned.has(this.log)) return;
    partialUnmapWarned.add(this.log);
    this.warn('Unmap of a partial large IOPTE is not allowed');
  }

  private useAfterFree(): KernelError {
    return new KernelError(-EINVAL, 'arm-v7s: page table used after free_io_pgtable_ops');
  }
}

/** Word index of `pa` inside its RAM chunk (PhysMem.wordIndex without the float modulo). */
/** Reciprocals of the power-of-two spans (a multiply is exact and cheaper than a divide). */
const INV_L1_SLOT = 1 / V7S_L1_SLOT;
const INV_CHUNK_SIZE = 1 / CHUNK_SIZE;

function wordIndex(pa: number): number {
  return (pa & (CHUNK_SIZE - 1)) >>> 2;
}

/** True if a table at `pa` can be encoded in a descriptor (and in TTBR) for this config. */
function tableFits(cfg: IoPgtableCfg, pa: number): boolean {
  if ((cfg.quirks & IO_PGTABLE_QUIRK_ARM_MTK_TTBR_EXT) !== 0) return pa < 2 ** cfg.oas;
  return pa < TWO32;
}

/** log2 of the pages needed for `bytes` (the kernel's get_order). */
function getOrder(bytes: number): number {
  let order = 0;
  while (PAGE_SIZE * 2 ** order < bytes) order++;
  return order;
}

/**
 * The format's alloc (arm_v7s_alloc_pgtable): validates `cfg`, allocates the level-1 table,
 * then completes `cfg` in place (pgsizeBitmap restricted to 4K|64K|1M|16M, armV7sCfg filled
 * with ttbr/tcr/nmrr/prrr) and returns the ops. Returns null, with `cfg` untouched and
 * nothing allocated, when the configuration is rejected or memory runs out.
 *
 * Rejected: ias > 32 or oas > 32 (34/35 with ARM_MTK_EXT), ias < 20 (the kernel's table
 * size would be a negative shift), quirks other than ARM_NS, NO_PERMS, ARM_MTK_EXT,
 * ARM_MTK_TTBR_EXT; MTK_EXT without NO_PERMS; MTK_TTBR_EXT without MTK_EXT.
 */
export function createArmV7sOps(kernel: V7sKernel, cfg: IoPgtableCfg, cookie: unknown): ArmV7sIoPgtable | null {
  if (!isIoPgtableHost(kernel))
    throw new TypeError('createArmV7sOps: host must provide mem, pages and log (a Kernel, or createIoPgtableHost())');
  const bad = ioPgtableCfgTypeError(cfg);
  if (bad) throw new TypeError(`createArmV7sOps: ${bad}`);
  const why = v7sRejection(cfg);
  if (why) {
    // the kernel returns NULL without a word; the model says why, at warning level
    kernel.log.warn(LOG_WHO, `ARM_V7S: configuration rejected: ${why}`);
    return null;
  }
  const q = cfg.quirks;
  const mtk = (q & IO_PGTABLE_QUIRK_ARM_MTK_EXT) !== 0;

  const l1Bytes = 2 ** (cfg.ias - 20) * 4;
  const order = getOrder(l1Bytes);
  const pgd = kernel.pages.allocPages(order);
  if (pgd < 0) {
    kernel.log.warn(LOG_WHO, `ARM_V7S: no memory for the ${l1Bytes}-byte level-1 table`);
    return null;
  }
  if (!tableFits(cfg, pgd)) {
    kernel.log.err(LOG_WHO, `Page table does not fit in PTE: 0x${pgd.toString(16)}`);
    kernel.pages.freePages(pgd, order);
    return null;
  }

  // Everything is in place: complete the caller's cfg, as the kernel does.
  cfg.pgsizeBitmap = cfg.pgsizeBitmap & V7S_PGSIZES; // the result is < 2^25, so & is exact here
  const ttbr = mtk
    ? ((pgd % TWO32) | Math.floor(pgd / TWO32)) >>> 0
    : ((pgd % TWO32) | (cfg.coherentWalk ? V7S_TTBR_ATTRS_COHERENT : V7S_TTBR_ATTRS_NONCOHERENT)) >>> 0;
  cfg.armV7sCfg = { ttbr, tcr: 0, nmrr: V7S_NMRR, prrr: V7S_PRRR };

  const own: IoPgtableCfg = { ...cfg, armV7sCfg: { ...cfg.armV7sCfg } };
  const slab = new L2Slab(kernel.mem, kernel.pages, (pa) => tableFits(own, pa));
  const ops = new ArmV7sIoPgtable(kernel, own, cookie, pgd, order, slab);
  // freeIoPgtableOps(ops) works on it, as free_io_pgtable_ops does on any io_pgtable
  ioPgtableTrackStandalone(ops, 'ARM_V7S', own, cookie, freeTracked);
  return ops;
}

function freeTracked(ops: IoPgtableOps): void {
  (ops as ArmV7sIoPgtable).free();
}

/** Why arm_v7s_alloc_pgtable would return NULL for `cfg` (before allocating), or null. */
function v7sRejection(cfg: IoPgtableCfg): string | null {
  const q = cfg.quirks;
  if (!Number.isInteger(q) || q < 0 || q >= TWO32) return `quirks ${q} is not a 32-bit flag word`;
  if ((q & ~ARM_V7S_QUIRKS) !== 0) return `unsupported quirks 0x${((q & ~ARM_V7S_QUIRKS) >>> 0).toString(16)}`;
  const mtk = (q & IO_PGTABLE_QUIRK_ARM_MTK_EXT) !== 0;
  if (!Number.isInteger(cfg.ias) || !Number.isInteger(cfg.oas)) return `ias ${cfg.ias} / oas ${cfg.oas} must be integers`;
  const iasMax = mtk ? V7S_MTK_IAS_MAX : V7S_ADDR_BITS;
  if (cfg.ias > iasMax) return `ias ${cfg.ias} exceeds ${iasMax}`;
  if (cfg.ias < 20) return `ias ${cfg.ias} is below 20 (one section) (model check)`;
  const oasMax = mtk ? V7S_MTK_OAS_MAX : V7S_ADDR_BITS;
  if (cfg.oas > oasMax || cfg.oas < 0) return `oas ${cfg.oas} is outside 0..${oasMax}`;
  if (mtk && (q & IO_PGTABLE_QUIRK_NO_PERMS) === 0) return 'ARM_MTK_EXT needs NO_PERMS';
  if ((q & IO_PGTABLE_QUIRK_ARM_MTK_TTBR_EXT) !== 0 && !mtk) return 'ARM_MTK_TTBR_EXT needs ARM_MTK_EXT';
  if (!Number.isSafeInteger(cfg.pgsizeBitmap) || cfg.pgsizeBitmap < 0) return `pgsizeBitmap ${cfg.pgsizeBitmap} is not a non-negative integer`;
  return null;
}

/** free_io_pgtable_ops for a directly created table: tlbFlushAll, then free every table. */
export function freeArmV7sOps(ops: ArmV7sIoPgtable | null): void {
  if (ops === null || ops === undefined) return;
  if (!(ops instanceof ArmV7sIoPgtable)) throw new TypeError('freeArmV7sOps: ops is not an ARM_V7S table from createArmV7sOps');
  freeIoPgtableOps(ops);
}
