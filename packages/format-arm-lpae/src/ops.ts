import { CHUNK_SIZE, type PhysMem } from '@gki/hw';
import { EEXIST, EINVAL, ENOENT, ENOMEM, ERANGE, KernelError, isIoPgtableHost, type KernelLog, type PageAllocator } from '@gki/kernel';
import {
  IOMMU_DIRTY_NO_CLEAR,
  IOMMU_READ,
  IOMMU_WRITE,
  IO_PGTABLE_QUIRK_ARM_NS,
  IO_PGTABLE_QUIRK_ARM_TTBR1,
  IO_PGTABLE_QUIRK_NO_WARN,
  ioPgtableCfgTypeError,
  ioPgtableTrackStandalone,
  type IommuFlushOps,
  type IommuIotlbGather,
  type IoPgtableAllocator,
  type IoPgtableCfg,
  type IoPgtableLeaf,
  type IoPgtableOps,
  type MappedOut,
} from '@gki/io-pgtable-core';
import { TWO_32, TWO_52, TWO_64, hex, hi32, isU53 } from './bits.js';
import { ARM_LPAE_FORMATS, ARM_LPAE_MAX_LEVELS, isArmLpaeFmt, lpaeGeometry, type ArmLpaeFmt, type LpaeGeometry } from './geometry.js';
import {
  ARM_LPAE_MAIR,
  ARM_MALI_LPAE_MEMATTR,
  PTE_ADDR_HI_MASK,
  PTE_ADDR_LO_MASK,
  PTE_AP_RDONLY,
  PTE_HI_DBM,
  PTE_HI_NSTABLE,
  PTE_HI_SW_SYNC,
  PTE_TYPE_BLOCK,
  PTE_TYPE_MASK,
  PTE_TYPE_PAGE,
  PTE_TYPE_TABLE,
  buildProtTemplates,
  pteToBigint,
} from './pte.js';

/** What the format needs from the kernel: table memory, the linear map, and the log for WARNs. */
export interface LpaeHost {
  readonly pages: PageAllocator;
  readonly mem: PhysMem;
  readonly log: KernelLog;
}

/** Log prefix, as the kernel's module name. */
export const LPAE_LOG = 'io-pgtable-arm';

const PAGE_SIZE = 4096;
const INV_CHUNK = 1 / CHUNK_SIZE;
const ZERO_WORDS = new Uint32Array(2);
/** 2^-32: multiplying by it is exact and much cheaper than dividing by 2^32. */
const INV_2_32 = 1 / TWO_32;
const CHUNK_MASK = CHUNK_SIZE - 1;

/** Index of the first word of the table at `pa` inside its chunk (no float modulo: `>>> 0` truncates). */
function wordBase(pa: number): number {
  return ((pa >>> 0) & CHUNK_MASK) >>> 2;
}

/** WARN_ONCE("Unmap of a partial large IOPTE is not allowed") fires once per kernel log. */
const partialWarned = new WeakSet<KernelLog>();

function orderForBytes(bytes: number): number {
  return bytes <= PAGE_SIZE ? 0 : Math.ceil(Math.log2(bytes / PAGE_SIZE));
}

/**
 * One ARM LPAE page table (the kernel's struct arm_lpae_io_pgtable with its io_pgtable_ops).
 *
 * Descriptors live in simulated RAM and are handled as two u32 halves taken straight from the
 * backing Uint32Array of the 2 MiB chunk holding the table (tables are naturally aligned and at
 * most 256 KiB, so a table never straddles a chunk). The hot paths (mapPages, unmapPages,
 * iovaToPhys) allocate nothing and never turn a descriptor into a float or a BigInt.
 */
export class ArmLpaeIoPgtable implements IoPgtableOps {
  readonly fmt: ArmLpaeFmt;
  /** The cfg as the format completed it (the kernel's copy in struct io_pgtable). */
  readonly cfg: Readonly<IoPgtableCfg>;
  readonly cookie: unknown;
  readonly geometry: LpaeGeometry;

  private readonly mem: PhysMem;
  private readonly pages: PageAllocator;
  private readonly log: KernelLog;
  private readonly allocator: IoPgtableAllocator | null;
  private readonly tlb: IommuFlushOps | null;
  private readonly ttbr1: boolean;
  private readonly noWarn: boolean;
  private readonly startLevel: number;
  private readonly granule: number;
  private readonly ptesPerTable: number;
  private readonly pgdEntries: number;
  private readonly pgdBytes: number;
  /** Page-allocator order of a table below the PGD (one granule). */
  private readonly tableOrder: number;
  private readonly is64k: boolean;
  private readonly iasSize: number;
  private readonly oasLimit: number;
  /** min(oasLimit, 2^48): the PAs tryMapPage takes. */
  private readonly oneLimit: number;
  /** Bitmap halves for the pgsize subset test. */
  private readonly bmLo: number;
  private readonly bmHi: number;
  /** Per level 0..3: block size and the number of entries of a table at that level. */
  private readonly blk = new Float64Array(ARM_LPAE_MAX_LEVELS);
  private readonly nent = new Float64Array(ARM_LPAE_MAX_LEVELS);
  /** Per level: index shift and mask (the start level's mask covers the whole PGD). */
  private readonly shift = new Int32Array(ARM_LPAE_MAX_LEVELS);
  private readonly imask = new Int32Array(ARM_LPAE_MAX_LEVELS);
  /** Per level: the descriptor type of a leaf (block 0b01; level-3 page 0b11, except Mali's 0b01). */
  private readonly leafType = new Uint8Array(ARM_LPAE_MAX_LEVELS);
  /** Attribute templates by prot & 63, (lo, hi) pairs. */
  private readonly tmpl: Uint32Array;
  /** Bits OR-ed into the upper half of every table descriptor (NSTable, SW_SYNC). */
  private readonly tableHi: number;

  private pgd = -1;
  /** The PGD's chunk words and the index of its first word (hot paths start here). */
  private pgdWords: Uint32Array = new Uint32Array(2);
  private pgdBase = 0;
  /** Entries the PGD's memory can hold (a run at the start level never writes past it). */
  private pgdCapacity = 0;
  private live = false;
  /**
   * Per child level, the last table descriptor followed and where its table's words are:
   * consecutive calls mostly go through the same tables, and the mapping from a table address
   * to its chunk never changes, so this cache needs no invalidation.
   */
  private readonly descLo = new Uint32Array(ARM_LPAE_MAX_LEVELS + 1);
  private readonly descHi = new Uint32Array(ARM_LPAE_MAX_LEVELS + 1);
  private readonly descWords: Uint32Array[] = [];
  private readonly descBase = new Int32Array(ARM_LPAE_MAX_LEVELS + 1);
  /** The last pgsize that passed the bitmap check, and the level whose block size it is (or -1). */
  private okPgsize = -1;
  private okLevel = -1;
  /**
   * A software walk cache: for each level, the table last reached at that level and the IOVA
   * block (iova / block size of the level above) it covers. Lets consecutive calls skip the
   * upper levels. Table descriptors only ever change when a table is freed, which clears its level
   * and the levels below it.
   */
  private readonly pathKey = new Float64Array(ARM_LPAE_MAX_LEVELS + 1).fill(-1);
  private readonly pathWords: Uint32Array[] = [];
  private readonly pathBase = new Int32Array(ARM_LPAE_MAX_LEVELS + 1);
  private readonly invBlk = new Float64Array(ARM_LPAE_MAX_LEVELS);
  /**
   * The fast paths' window: the walk cache's table at `okLevel` (the level of the last accepted
   * pgsize) as the IOVA range [fastStart, fastEnd) it covers, its words from `fastBase`, the
   * reciprocal of that level's block size and its leaf type. NaN bounds (nothing passes the
   * range test) unless the table is live, not TTBR1, `okLevel` is below the start level and
   * the walk cache holds a table there. Kept in step with the walk cache by `syncFast`.
   */
  private fastStart = NaN;
  private fastEnd = NaN;
  private fastWords: Uint32Array = ZERO_WORDS;
  private fastBase = 0;
  private fastInv = 0;
  private fastLeaf = 0;
  /**
   * The same window for tryMapPfn / tryUnmapPfn, in frames of the page size (fastStart and
   * fastEnd times fastInv), and the frame oneLimit is at: small integers (V8 keeps them as
   * such, one load and integer compares, while the window lies below 2^43); 0, 0 and 0 (no
   * frame passes) when there is no window. (Not NaN: a field that is ever NaN is a double.)
   */
  private fastStartPfn = 0;
  private fastEndPfn = 0;
  private fastPaPfnEnd = 0;
  /** One cached chunk per level: tables of one level tend to share a chunk. */
  private readonly chunkKey = new Float64Array(ARM_LPAE_MAX_LEVELS + 1).fill(-1);
  private readonly chunkArr: (Uint32Array | null)[] = [null, null, null, null, null];

  /** Use createArmLpaeOps(); this only sets up the object around a validated geometry. */
  constructor(host: LpaeHost, geo: LpaeGeometry, cfg: IoPgtableCfg, cookie: unknown) {
    this.fmt = geo.fmt;
    this.geometry = geo;
    this.cfg = cfg;
    this.cookie = cookie;
    this.mem = host.mem;
    this.pages = host.pages;
    this.log = host.log;
    this.allocator = cfg.allocator ?? null;
    this.tlb = cfg.tlb ?? null;
    this.ttbr1 = (geo.quirks & IO_PGTABLE_QUIRK_ARM_TTBR1) !== 0;
    this.noWarn = (geo.quirks & IO_PGTABLE_QUIRK_NO_WARN) !== 0;
    this.startLevel = geo.startLevel | 0;
    this.granule = geo.granule;
    this.ptesPerTable = (geo.granule / 8) | 0;
    this.pgdEntries = 2 ** geo.pgdBits;
    this.pgdBytes = 8 * this.pgdEntries;
    this.tableOrder = orderForBytes(geo.granule);
    this.is64k = geo.granule === 0x10000;
    this.iasSize = 2 ** geo.ias;
    this.oasLimit = 2 ** geo.oas;
    this.oneLimit = Math.min(this.oasLimit, 2 ** 48);
    this.bmLo = geo.pgsizeBitmap >>> 0;
    this.bmHi = hi32(geo.pgsizeBitmap);
    for (let l = 0; l < ARM_LPAE_MAX_LEVELS; l++) {
      const shift = (ARM_LPAE_MAX_LEVELS - l) * geo.bitsPerLevel + 3;
      this.blk[l] = 2 ** shift;
      this.invBlk[l] = 2 ** -shift;
      this.shift[l] = shift;
      this.nent[l] = l === geo.startLevel ? this.pgdEntries : this.ptesPerTable;
      this.imask[l] = this.nent[l]! - 1;
      this.leafType[l] = l === ARM_LPAE_MAX_LEVELS - 1 && geo.kind !== 'mali' ? PTE_TYPE_PAGE : PTE_TYPE_BLOCK;
    }
    this.tmpl = buildProtTemplates(geo.kind, geo.quirks);
    for (let l = 0; l <= ARM_LPAE_MAX_LEVELS; l++) {
      this.descWords.push(ZERO_WORDS);
      this.pathWords.push(ZERO_WORDS);
    }
    let th = 0;
    if (geo.quirks & IO_PGTABLE_QUIRK_ARM_NS) th |= PTE_HI_NSTABLE;
    if (!cfg.coherentWalk) th |= PTE_HI_SW_SYNC;
    this.tableHi = th >>> 0;
  }

  /** Allocates the (zeroed) PGD. 0 or -ENOMEM. */
  allocPgd(): number {
    const pa = this.allocTable(this.pgdBytes);
    if (pa < 0) return pa;
    this.pgd = pa;
    this.pgdWords = this.mem.chunk(pa);
    this.pgdBase = wordBase(pa);
    this.pgdCapacity = (this.allocator ? Math.max(this.pgdBytes, 64) : PAGE_SIZE * 2 ** orderForBytes(this.pgdBytes)) / 8;
    this.live = true;
    return 0;
  }

  /** Physical address of the top-level table (TTBR/VTTBR/TRANSTAB address). */
  get pgdPa(): number {
    return this.pgd;
  }

  get isLive(): boolean {
    return this.live;
  }

  // -------------------------------------------------------------------------------------------
  // descriptor and memory helpers

  /** The words of the chunk holding `pa`, cached per level. */
  private words(pa: number, slot: number): Uint32Array {
    const key = Math.floor(pa * INV_CHUNK);
    if (this.chunkKey[slot] === key) return this.chunkArr[slot]!;
    const a = this.mem.chunk(pa);
    this.chunkKey[slot] = key;
    this.chunkArr[slot] = a;
    return a;
  }

  /** Records that the table at `lvl` for the IOVA bits `low` has its words at (w, wb). */
  private enterPath(lvl: number, low: number, w: Uint32Array, wb: number): void {
    this.pathKey[lvl] = Math.floor(low * this.invBlk[lvl - 1]!);
    this.pathWords[lvl] = w;
    this.pathBase[lvl] = wb;
    if (lvl === this.okLevel) this.syncFast();
  }

  /** Recomputes the fast paths' window from the walk cache (see `fastStart`). */
  private syncFast(): void {
    const lvl = this.okLevel;
    const key = lvl > this.startLevel ? this.pathKey[lvl]! : -1;
    if (key >= 0 && this.live && !this.ttbr1) {
      const span = this.blk[lvl - 1]!;
      this.fastStart = key * span;
      this.fastEnd = this.fastStart + span;
      this.fastWords = this.pathWords[lvl]!;
      this.fastBase = this.pathBase[lvl]!;
      this.fastInv = this.invBlk[lvl]!;
      this.fastLeaf = this.leafType[lvl]!;
      this.fastStartPfn = key * span * this.fastInv;
      this.fastEndPfn = this.fastStartPfn + span * this.fastInv;
      this.fastPaPfnEnd = this.oneLimit * this.fastInv;
    } else {
      this.fastStart = NaN;
      this.fastEnd = NaN;
      this.fastWords = ZERO_WORDS;
      this.fastStartPfn = 0;
      this.fastEndPfn = 0;
      this.fastPaPfnEnd = 0;
    }
  }

  /** Remembers that table descriptor (lo, hi) at child level `lvl` leads to words `w` from `wb`. */
  private remember(lvl: number, lo: number, hi: number, w: Uint32Array, wb: number): void {
    this.descLo[lvl] = lo;
    this.descHi[lvl] = hi;
    this.descWords[lvl] = w;
    this.descBase[lvl] = wb;
  }

  /** Output (or next-table) address of a descriptor: bits 47:12, and for 64K PA[51:48] from PTE[15:12]. */
  private outAddr(lo: number, hi: number): number {
    if (!this.is64k) return (hi & PTE_ADDR_HI_MASK) * TWO_32 + ((lo & PTE_ADDR_LO_MASK) >>> 0);
    return ((hi & PTE_ADDR_HI_MASK) + ((lo >>> 12) & 0xf) * 0x10000) * TWO_32 + ((lo & 0xffff0000) >>> 0);
  }

  private allocTable(bytes: number): number {
    const a = this.allocator;
    if (a) {
      const size = Math.max(bytes, 64);
      const pa = a.alloc(this.cookie, size);
      if (typeof pa !== 'number' || pa < 0) return -ENOMEM;
      // The kernel trusts the driver's allocator; the model refuses memory it cannot use as a table.
      if (!isU53(pa) || pa % size !== 0 || !this.mem.contains(pa, size)) {
        this.log.warn(LPAE_LOG, `custom allocator returned ${hex(pa)} for ${size} bytes: not aligned RAM`);
        a.free(this.cookie, pa, bytes);
        return -ENOMEM;
      }
      this.mem.zero(pa, size);
      this.mem.touch(pa, size);
      return pa;
    }
    const pa = this.pages.allocPages(orderForBytes(bytes));
    return pa < 0 ? -ENOMEM : pa;
  }

  /**
   * Frees the memory of the level-`lvl` table at `pa`. The walk cache forgets the tables it
   * holds at `lvl` and below (one of them may be this one); the tables above stay what they
   * were (only a descriptor inside one of them changed), so that the next map into the
   * region (iommu_map's second entry) resumes from them.
   */
  private freeTableMem(pa: number, bytes: number, lvl: number): void {
    this.pathKey.fill(-1, lvl);
    this.syncFast();
    if (this.allocator) this.allocator.free(this.cookie, pa, bytes);
    else this.pages.freePages(pa, orderForBytes(bytes));
  }

  /** Frees the table at `pa` (level `lvl`) and every table below it. */
  private freeTable(lvl: number, pa: number): void {
    const bytes = lvl === this.startLevel ? this.pgdBytes : this.granule;
    if (lvl < ARM_LPAE_MAX_LEVELS - 1) {
      const w = this.words(pa, lvl);
      const base = wordBase(pa);
      const end = base + bytes / 4;
      for (let i = base; i < end; i += 2) {
        const lo = w[i]!;
        const hi = w[i + 1]!;
        if ((lo === 0 && hi === 0) || (lo & PTE_TYPE_MASK) === PTE_TYPE_BLOCK) continue;
        this.freeTable(lvl + 1, this.outAddr(lo, hi));
      }
    }
    this.freeTableMem(pa, bytes, lvl);
  }

  /**
   * The IOVA bits used for indexing, or -1 when `iova` fails the kernel's range check
   * ((s64)iova >> ias must be 0, or all ones for a TTBR1 table). A TTBR1 IOVA may be given
   * unsigned (2^64 - x, exact when page aligned), as a negative number, or as a bigint.
   */
  private iovaLow(iova: number | bigint): number {
    if (typeof iova === 'bigint') {
      const v = BigInt.asUintN(64, iova);
      const size = BigInt(this.iasSize);
      if (this.ttbr1) return v >= (1n << 64n) - size ? Number(v & (size - 1n)) : -1;
      return v < size ? Number(v) : -1;
    }
    if (!this.ttbr1) return iova >= 0 && iova < this.iasSize ? iova : -1;
    if (iova < 0) return iova >= -this.iasSize ? iova + this.iasSize : -1;
    return iova >= TWO_64 - this.iasSize && iova < TWO_64 ? iova - (TWO_64 - this.iasSize) : -1;
  }

  /** Table index at `lvl` of the IOVA whose bits 31:0 are `lo` and 51:32 are `hi`. */
  private index(lvl: number, lo: number, hi: number): number {
    const s = this.shift[lvl]!;
    return (s >= 32 ? hi >>> (s - 32) : (lo >>> s) | (hi << (32 - s))) & this.imask[lvl]!;
  }

  /** pgsize non-zero and a subset of the bitmap (as the kernel's check; two valid bits pass). */
  private pgsizeOk(pgsize: number): boolean {
    if (!(pgsize > 0) || !Number.isSafeInteger(pgsize)) return false;
    const lo = pgsize >>> 0;
    const hi = (pgsize - lo) * INV_2_32;
    if (((lo & this.bmLo) >>> 0) !== lo || ((hi & this.bmHi) >>> 0) !== hi) return false;
    this.okPgsize = pgsize;
    this.okLevel = this.blk.indexOf(pgsize);
    this.syncFast();
    return true;
  }

  /**
   * Largest number of entries a run starting at word `wi` of its chunk may cover at `lvl`: up to
   * the end of its table page (tables are naturally aligned, so the word index tells the slot).
   */
  private maxEntries(lvl: number, wi: number): number {
    const ppt = this.ptesPerTable;
    const max = ppt - ((wi >>> 1) & (ppt - 1));
    // A PGD smaller than a table page: the kernel would run past its end (into the rest of the
    // page, or beyond it for a 16K/64K granule); the model stops where the PGD's memory ends.
    return lvl === this.startLevel ? Math.min(max, this.pgdCapacity - ((wi - this.pgdBase) >>> 1)) : max;
  }

  private warn(msg: string): void {
    this.log.warn(LPAE_LOG, `WARNING: ${msg}`);
  }

  private warnUnlessNoWarn(msg: string): void {
    if (!this.noWarn) this.log.warn(LPAE_LOG, `WARNING: ${msg}`);
  }

  private assertLive(): void {
    if (!this.live) throw new KernelError(-EINVAL, `${this.fmt} io-pgtable used after free`);
  }

  private static tlbIova(iova: number | bigint): number {
    return typeof iova === 'bigint' ? Number(BigInt.asUintN(64, iova)) : iova;
  }

  // -------------------------------------------------------------------------------------------
  // io_pgtable_ops

  /**
   * map_pages: maps up to `pgcount` pages of `pgsize` at `iova` → `paddr`, never crossing the end
   * of a table page (the caller loops on `mapped`, which this ADDS to). 0 or -errno:
   * -EINVAL (pgsize not in the bitmap, no READ/WRITE, or a two-bit pgsize reaching level 3),
   * -ERANGE (iova beyond ias, paddr beyond oas: first page only), -EEXIST, -ENOMEM.
   * Non-integer arguments (impossible in C) are -EINVAL.
   *
   * The entry is kept small so that V8 inlines it into its callers: a call that is not inlined
   * boxes every IOVA or PA at or above 2^31 into a fresh heap number (two allocations per page).
   * It handles the common case (one page into an empty slot of a table the walk cache already
   * reached, with arguments every check of `mapPagesFull` accepts) and leaves everything else
   * to `mapPagesFull`. Argument checks added here must not make it much bigger: put them in
   * `mapPagesFull`, which every call whose arguments fail the fast-path guard reaches.
   */
  mapPages(iova: number | bigint, paddr: number, pgsize: number, pgcount: number, prot: number, mapped: MappedOut): number {
    if (
      pgcount === 1 &&
      pgsize === this.okPgsize &&
      typeof iova === 'number' &&
      iova >= this.fastStart &&
      iova < this.fastEnd &&
      iova === Math.floor(iova) &&
      (prot & 3) !== 0 && // IOMMU_READ | IOMMU_WRITE
      typeof paddr === 'number' && // (Math.floor below throws on a bigint; the full path says -EINVAL)
      paddr >= 0 &&
      paddr < this.oasLimit &&
      paddr === Math.floor(paddr)
    ) {
      const w = this.fastWords;
      const wi = this.fastBase + 2 * (((iova - this.fastStart) * this.fastInv) | 0);
      if ((w[wi]! | w[wi + 1]!) === 0) {
        const t = 2 * (prot & 63);
        // literals rather than the named constants (an imported binding is a load, and bytecode
        // size here decides whether V8 inlines the chain): 2^-32, PTE_ADDR_LO_MASK (-4096) and
        // PTE_ADDR_HI_MASK (0xffff)
        const pHi = (paddr * 2.3283064365386963e-10) | 0;
        w[wi] = this.tmpl[t]! | this.fastLeaf | (((paddr >>> 0) | (pHi >>> 4)) & -4096);
        w[wi + 1] = this.tmpl[t + 1]! | (pHi & 0xffff);
        mapped.mapped += pgsize;
        return 0;
      }
    }
    return this.mapPagesFull(iova, paddr, pgsize, pgcount, prot, mapped);
  }

  /**
   * The IOMMU core's one-page entry (IommuPgtableOps.tryMapPage): `mapPages`' fast path alone, for
   * one page of `pgsize` at `iova` -> `paddr`: 0 when it mapped the page, else 1 with nothing
   * changed. Declines PAs at or above 2^48 (the 52-bit PA layout is left to mapPages). The
   * tests are written for bytecode size (which decides whether V8 inlines the IOMMU core's
   * chain into its caller) and need no int32 arithmetic on `pgsize`: `k`, the slot of `iova`
   * in the window, is an integer exactly when `iova` is an integer aligned to `pgsize` (the
   * window starts at a multiple of it), and `paddr / pgsize` likewise for `paddr`; the window
   * test makes `iova` non-negative (TTBR1 tables have no window).
   */
  tryMapPage(iova: number, paddr: number, pgsize: number, prot: number): number {
    if (pgsize === this.okPgsize && typeof iova === 'number' && typeof paddr === 'number' && (prot & 3) !== 0) {
      const k = (iova - this.fastStart) * this.fastInv;
      const pn = paddr * this.fastInv;
      if (k >= 0 && iova < this.fastEnd && k === (k | 0) && paddr >= 0 && paddr < this.oneLimit && pn === Math.floor(pn)) {
        const w = this.fastWords;
        const wi = this.fastBase + 2 * k;
        if ((w[wi]! | w[wi + 1]!) === 0) {
          // as in mapPages; below 2^48 and aligned to the page, the PA's halves are the
          // descriptor's address bits as they are
          const t = 2 * (prot & 63);
          w[wi] = this.tmpl[t]! | this.fastLeaf | (paddr >>> 0);
          w[wi + 1] = this.tmpl[t + 1]! | ((paddr * 2.3283064365386963e-10) | 0);
          return 0;
        }
      }
    }
    return 1;
  }

  /**
   * The IOMMU core's second one-page entry (IommuPgtableOps.tryMapPageWalk), which it calls when
   * tryMapPage declined, before its ordinary call: for a page outside tryMapPage's window (most
   * often the first page of the next level-3 table) whose table one level up the walk cache
   * holds, follows the table below it or, for an empty slot, allocates and installs one, moves
   * the window there and maps the page, exactly as mapPages would (the same allocation, table
   * descriptor, leaf and walk-cache state): 0. -ENOMEM when the table allocation fails (as
   * mapPages: nothing mapped). Any other case returns 1 having changed nothing but the walk
   * cache, which mapPages would have changed the same way.
   *
   * It runs once per level-3 table, so V8 keeps it unoptimised, and each bytecode and call
   * here is paid as such: the walk is written out rather than built from the helpers
   * mapPagesFull uses (index, iovaLow, the argument checks, a walk from the PGD), and it is
   * reached from the core's fallback before the core's own checks and mapPages' two tiers.
   */
  tryMapPageWalk(iova: number, paddr: number, pgsize: number, prot: number): number {
    const lvl = this.okLevel;
    const up = lvl - 1;
    if (
      pgsize !== this.okPgsize ||
      typeof iova !== 'number' ||
      typeof paddr !== 'number' ||
      (prot & 3) === 0 || // IOMMU_READ | IOMMU_WRITE
      up <= this.startLevel ||
      !this.live ||
      this.ttbr1 ||
      !(iova >= 0) ||
      !(paddr >= 0 && paddr < this.oneLimit)
    )
      return 1;
    const inv = this.invBlk[lvl]!;
    const kn = iova * inv; // the page's number: an integer when iova is one aligned to pgsize
    const pn = paddr * inv;
    if (kn !== Math.floor(kn) || pn !== Math.floor(pn) || this.pathKey[up] !== Math.floor(iova * this.invBlk[up - 1]!)) return 1;
    // the block of `up`'s level holding iova: its number picks the slot (its low bits; `&`
    // wraps it to int32 first) and is the walk cache's key of the table below
    const blkNo = Math.floor(iova * this.invBlk[up]!);
    const w = this.pathWords[up]!;
    const wi = this.pathBase[up]! + 2 * (blkNo & this.imask[up]!);
    const lo = w[wi]!;
    const hi = w[wi + 1]!;
    // The helpers (allocTable, words, wordBase, remember, enterPath, syncFast) are written
    // out below: each call costs as much as several lines in unoptimised code.
    let tw: Uint32Array;
    let tb: number;
    if ((lo | hi) === 0) {
      const next = this.allocator === null ? this.pages.allocPages(this.tableOrder) : this.allocTable(this.granule);
      if (next < 0) return -ENOMEM;
      // install, as mapPagesFull does (single-threaded model: the kernel's cmpxchg always wins)
      const nLo = next >>> 0;
      const nHi = (next - nLo) * INV_2_32;
      const dLo = ((nLo | (nHi >>> 4)) & PTE_ADDR_LO_MASK) | PTE_TYPE_TABLE;
      const dHi = (nHi & PTE_ADDR_HI_MASK) | this.tableHi;
      w[wi] = dLo;
      w[wi + 1] = dHi;
      const key = Math.floor(next * INV_CHUNK);
      if (this.chunkKey[lvl] === key) tw = this.chunkArr[lvl]!;
      else {
        tw = this.mem.chunk(next);
        this.chunkKey[lvl] = key;
        this.chunkArr[lvl] = tw;
      }
      tb = (nLo & CHUNK_MASK) >>> 2;
      this.descLo[lvl] = dLo;
      this.descHi[lvl] = dHi;
      this.descWords[lvl] = tw;
      this.descBase[lvl] = tb;
    } else if ((lo & PTE_TYPE_MASK) !== PTE_TYPE_TABLE) {
      return 1; // a block (-EEXIST) or an odd descriptor: mapPagesFull says what it is
    } else if (lo === this.descLo[lvl] && hi === this.descHi[lvl]) {
      tw = this.descWords[lvl]!;
      tb = this.descBase[lvl]!;
    } else {
      const next = this.outAddr(lo, hi);
      tw = this.words(next, lvl);
      tb = wordBase(next);
      this.remember(lvl, lo, hi, tw, tb);
    }
    // enterPath(lvl, iova, tw, tb), and syncFast (lvl is okLevel, the table live, not TTBR1)
    this.pathKey[lvl] = blkNo;
    this.pathWords[lvl] = tw;
    this.pathBase[lvl] = tb;
    const start = blkNo * this.blk[up]!;
    this.fastStart = start;
    this.fastEnd = start + this.blk[up]!;
    this.fastWords = tw;
    this.fastBase = tb;
    this.fastInv = inv;
    this.fastStartPfn = start * inv;
    this.fastEndPfn = (start + this.blk[up]!) * inv;
    this.fastPaPfnEnd = this.oneLimit * inv;
    const leaf = this.leafType[lvl]!;
    this.fastLeaf = leaf;
    const li = tb + 2 * (kn & this.imask[lvl]!);
    if ((tw[li]! | tw[li + 1]!) !== 0) return 1;
    const t = 2 * (prot & 63);
    tw[li] = this.tmpl[t]! | leaf | (paddr >>> 0);
    tw[li + 1] = this.tmpl[t + 1]! | ((paddr * INV_2_32) | 0);
    return 0;
  }

  /**
   * The IOMMU core's one-page unmap entry (IommuPgtableOps.tryUnmapPage): `unmapPages`' fast path
   * alone, for one leaf of `pgsize` at `iova`: `pgsize` when it unmapped it, else 0 with
   * nothing changed. Same tests on `iova` as tryMapPage.
   */
  /**
   * IommuPgtableOps.tryMapPfn: tryMapPage(iovaPfn * pgsize, paPfn * pgsize, pgsize, prot) for
   * a caller that guarantees non-negative integer frames (addresses below 2^53) and an int32
   * prot. With pgsize the window's page size, iova is in the window exactly when its frame is
   * in [fastStartPfn, fastEndPfn) (both multiplied by the same power of two), and paddr below
   * oneLimit exactly when paPfn is below fastPaPfnEnd; the frames are aligned by construction.
   */
  tryMapPfn(iovaPfn: number, paPfn: number, pgsize: number, prot: number): number {
    if (pgsize === this.okPgsize && (prot & 3) !== 0) {
      const k = iovaPfn - this.fastStartPfn;
      if (k >= 0 && iovaPfn < this.fastEndPfn && paPfn < this.fastPaPfnEnd) {
        const w = this.fastWords;
        const wi = this.fastBase + 2 * k;
        if ((w[wi]! | w[wi + 1]!) === 0) {
          const paddr = paPfn * pgsize;
          const t = 2 * (prot & 63);
          w[wi] = this.tmpl[t]! | this.fastLeaf | (paddr >>> 0);
          w[wi + 1] = this.tmpl[t + 1]! | ((paddr * INV_2_32) | 0);
          return 0;
        }
      }
    }
    return 1;
  }

  /** IommuPgtableOps.tryUnmapPfn: tryUnmapPage(iovaPfn * pgsize, pgsize, gather), with tryMapPfn's guarantees. */
  tryUnmapPfn(iovaPfn: number, pgsize: number, gather: IommuIotlbGather): number {
    if (pgsize === this.okPgsize) {
      const k = iovaPfn - this.fastStartPfn;
      if (k >= 0 && iovaPfn < this.fastEndPfn) {
        const w = this.fastWords;
        const wi = this.fastBase + 2 * k;
        if ((w[wi]! & 3) === this.fastLeaf) {
          w[wi] = 0;
          w[wi + 1] = 0;
          if (!gather.queued) {
            const tlb = this.tlb;
            if (tlb && tlb.tlbAddPage) tlb.tlbAddPage(gather, iovaPfn * pgsize, pgsize, this.cookie);
          }
          return pgsize;
        }
      }
    }
    return 0;
  }

  tryUnmapPage(iova: number, pgsize: number, gather: IommuIotlbGather): number {
    if (pgsize === this.okPgsize && typeof iova === 'number') {
      const k = (iova - this.fastStart) * this.fastInv;
      if (k >= 0 && iova < this.fastEnd && k === (k | 0)) {
        const w = this.fastWords;
        const wi = this.fastBase + 2 * k;
        if ((w[wi]! & 3) === this.fastLeaf) {
          w[wi] = 0;
          w[wi + 1] = 0;
          if (!gather.queued) {
            const tlb = this.tlb;
            if (tlb && tlb.tlbAddPage) tlb.tlbAddPage(gather, iova, pgsize, this.cookie);
          }
          return pgsize;
        }
      }
    }
    return 0;
  }

  /** map_pages with every check; `mapPages` forwards here whenever its fast path does not apply. */
  private mapPagesFull(iova: number | bigint, paddr: number, pgsize: number, pgcount: number, prot: number, mapped: MappedOut): number {
    this.assertLive();
    if (typeof mapped !== 'object' || mapped === null) throw new TypeError(`arm_lpae_map_pages: mapped must be an object { mapped: number } (got ${String(mapped)})`);
    if ((typeof iova === 'number' && !Number.isInteger(iova)) || !Number.isInteger(paddr) || !Number.isSafeInteger(pgcount) || pgcount < 0)
      return -EINVAL;
    if (pgsize !== this.okPgsize && !this.pgsizeOk(pgsize)) {
      this.warn(`arm_lpae_map_pages: pgsize ${pgsize} not in bitmap`);
      return -EINVAL;
    }
    const low = this.iovaLow(iova);
    if (low < 0 || !(paddr >= 0 && paddr < this.oasLimit)) {
      this.warn(`arm_lpae_map_pages: iova ${hex(iova)} / paddr ${hex(paddr)} out of range`);
      return -ERANGE;
    }
    if (!(prot & (IOMMU_READ | IOMMU_WRITE))) return -EINVAL;

    const ilo = low >>> 0;
    const ihi = ((low - ilo) * INV_2_32) | 0;
    /** True while the table being walked was allocated (zeroed) by this call. */
    let fresh = false;
    let lvl = this.startLevel | 0;
    let w = this.pgdWords;
    let wb = this.pgdBase;
    const target = this.okLevel;
    if (target > lvl && this.pathKey[target] === Math.floor(low * this.invBlk[target - 1]!)) {
      lvl = target;
      w = this.pathWords[target]!;
      wb = this.pathBase[target]!;
    }
    for (;;) {
      const wi = wb + 2 * this.index(lvl, ilo, ihi);
      if (pgsize === this.blk[lvl]) {
        // the common single-page case into an empty slot, without the run machinery
        if (pgcount === 1 && w[wi] === 0 && w[wi + 1] === 0) {
          const t = 2 * (prot & 63);
          const pLo = paddr >>> 0;
          const pHi = ((paddr - pLo) * INV_2_32) | 0;
          w[wi] = this.tmpl[t]! | this.leafType[lvl]! | ((pLo | (pHi >>> 4)) & PTE_ADDR_LO_MASK);
          w[wi + 1] = this.tmpl[t + 1]! | (pHi & PTE_ADDR_HI_MASK);
          mapped.mapped += pgsize;
          return 0;
        }
        return this.installLeaves(iova, paddr, pgsize, pgcount, prot, lvl, w, wi, mapped, fresh);
      }
      if (lvl >= ARM_LPAE_MAX_LEVELS - 1) {
        this.warn(`arm_lpae_map_pages: no table below level ${lvl} (pgsize ${hex(pgsize)})`);
        return -EINVAL;
      }
      const lo = w[wi]!;
      const hi = w[wi + 1]!;
      lvl++;
      fresh = lo === 0 && hi === 0;
      if (fresh) {
        const next = this.allocTable(this.granule);
        if (next < 0) return -ENOMEM;
        // install: single-threaded model, so the kernel's cmpxchg always wins
        const nLo = next >>> 0;
        const nHi = (next - nLo) * INV_2_32;
        w[wi] = ((nLo | (nHi >>> 4)) & PTE_ADDR_LO_MASK) | PTE_TYPE_TABLE;
        w[wi + 1] = (nHi & PTE_ADDR_HI_MASK) | this.tableHi;
        const nw = this.words(next, lvl);
        wb = wordBase(next);
        this.remember(lvl, w[wi]!, w[wi + 1]!, nw, wb);
        w = nw;
      } else if ((lo & PTE_TYPE_MASK) === PTE_TYPE_BLOCK) {
        this.warnUnlessNoWarn(`arm_lpae_map_pages: iova ${hex(iova)} inside an existing level-${lvl - 1} block`);
        return -EEXIST;
      } else if (lo === this.descLo[lvl] && hi === this.descHi[lvl]) {
        w = this.descWords[lvl]!;
        wb = this.descBase[lvl]!;
      } else {
        const next = this.outAddr(lo, hi);
        w = this.words(next, lvl);
        wb = wordBase(next);
        this.remember(lvl, lo, hi, w, wb);
      }
      this.enterPath(lvl, low, w, wb);
    }
  }

  /**
   * The part of arm_lpae_init_pte that looks at occupied slots, in index order from `first`:
   * a leaf fails the whole run with -EEXIST (tables met before it are already torn down, as in
   * the kernel); a table is unmapped (flush_walk only, gather NULL) and its subtree freed.
   */
  private prepareRun(iova: number | bigint, size: number, lvl: number, w: Uint32Array, base: number, first: number, end: number): number {
    const leafType = this.leafType[lvl]!;
    const tableLevel = lvl < ARM_LPAE_MAX_LEVELS - 1;
    for (let j = first; j < end; j += 2) {
      const lo = w[j]!;
      const type = lo & PTE_TYPE_MASK;
      if (type === 0) continue;
      const i = (j - base) >>> 1;
      if (type === leafType) {
        this.warnUnlessNoWarn(`arm_lpae_map_pages: iova ${hex(iova)} + ${i} pages already mapped`);
        return -EEXIST;
      }
      if (tableLevel && type === PTE_TYPE_TABLE) {
        const hi = w[j + 1]!;
        w[j] = 0;
        w[j + 1] = 0;
        const tlb = this.tlb;
        if (tlb && tlb.tlbFlushWalk) tlb.tlbFlushWalk(ArmLpaeIoPgtable.tlbIova(iova) + i * size, size, this.granule, this.cookie);
        this.freeTable(lvl + 1, this.outAddr(lo, hi));
      }
    }
    return 0;
  }

  /** arm_lpae_init_pte: writes a run of leaves at (lvl, table, idx), replacing tables it covers. */
  private installLeaves(
    iova: number | bigint,
    paddr: number,
    size: number,
    pgcount: number,
    prot: number,
    lvl: number,
    w: Uint32Array,
    base: number,
    mapped: MappedOut,
    fresh: boolean,
  ): number {
    const n = Math.min(pgcount, this.maxEntries(lvl, base));
    const end = base + 2 * n;
    const t = 2 * (prot & 63);
    const tLo = this.tmpl[t]! | this.leafType[lvl]!;
    const tHi = this.tmpl[t + 1]!;
    if (size < TWO_32 && paddr + n * size <= 2 ** 48) {
      // Fast path: below 2^48 the descriptor's address field is the PA itself. Write while
      // checking, in one pass, that each slot is all-zero; the low half of the PA steps as a
      // wrapping int32 (an unsigned compare spots the carry), so the loop is int32-only.
      // the mask in a local: an imported binding is reloaded on every iteration otherwise
      const mask = PTE_ADDR_LO_MASK;
      let lo = paddr | 0;
      const step = size | 0;
      let pHi = ((paddr - (paddr >>> 0)) * INV_2_32) | 0;
      let hiWord = tHi | pHi;
      let i = base;
      if (fresh) {
        // a table this call allocated (zeroed): every slot is empty, nothing to check
        for (;;) {
          let stop = i + 2 * Math.ceil((TWO_32 - (lo >>> 0)) / size);
          if (stop > end) stop = end;
          for (; i < stop; i += 2) {
            w[i] = tLo | (lo & mask);
            w[i + 1] = hiWord;
            lo = (lo + step) | 0;
          }
          if (i === end) break;
          hiWord = tHi | ++pHi;
        }
        mapped.mapped += n * size;
        return 0;
      }
      for (;;) {
        // slots before the low half of the PA wraps: the inner loop needs no carry test
        let stop = i + 2 * Math.ceil((TWO_32 - (lo >>> 0)) / size);
        if (stop > end) stop = end;
        // two slots per iteration while both are empty, then one at a time
        for (; i + 2 < stop; i += 4) {
          if ((w[i]! | w[i + 1]! | w[i + 2]! | w[i + 3]!) !== 0) break;
          w[i] = tLo | (lo & mask);
          w[i + 1] = hiWord;
          lo = (lo + step) | 0;
          w[i + 2] = tLo | (lo & mask);
          w[i + 3] = hiWord;
          lo = (lo + step) | 0;
        }
        for (; i < stop; i += 2) {
          if ((w[i]! | w[i + 1]!) !== 0) break;
          w[i] = tLo | (lo & mask);
          w[i + 1] = hiWord;
          lo = (lo + step) | 0;
        }
        if (i < stop || i === end) break;
        hiWord = tHi | ++pHi;
      }
      if (i === end) {
        mapped.mapped += n * size;
        return 0;
      }
      // an occupied slot: undo (the slots written were all-zero) and take the general path,
      // which checks the whole run before writing anything, as the kernel's init_pte does
      for (let j = base; j < i; j++) w[j] = 0;
    }
    // find the first slot that is not invalid (type 0); leaves fail the run, tables are freed
    let first = base;
    while (first < end && (w[first]! & PTE_TYPE_MASK) === 0) first += 2;
    if (first < end && this.prepareRun(iova, size, lvl, w, base, first, end) < 0) return -EEXIST;
    let pa = paddr;
    for (let i = 0; i < n; i++) {
      const pLo = pa >>> 0;
      const pHi = ((pa - pLo) * INV_2_32) | 0;
      // PA[47:12] in place; PA[51:48] folded into PTE[15:12] (all granules, as the kernel does)
      w[base + 2 * i] = tLo | (((pLo | (pHi >>> 4)) & PTE_ADDR_LO_MASK) >>> 0);
      w[base + 2 * i + 1] = tHi | (pHi & PTE_ADDR_HI_MASK);
      pa += size;
    }
    mapped.mapped += n * size;
    return 0;
  }

  /**
   * unmap_pages: bytes unmapped (a run stops at a hole or the end of a table page), 0 on a bad
   * argument or when `iova` lies inside a larger block (which stays mapped), or -ENOENT (the
   * kernel's (size_t)-ENOENT) when the first entry is empty.
   *
   * Small for inlining, like `mapPages`: one leaf of the pgsize's level in a table the walk
   * cache already reached is cleared here; everything else goes to `unmapPagesFull`.
   */
  unmapPages(iova: number | bigint, pgsize: number, pgcount: number, gather: IommuIotlbGather | null): number {
    if (pgcount === 1 && pgsize === this.okPgsize && typeof iova === 'number' && iova >= this.fastStart && iova < this.fastEnd && iova === Math.floor(iova)) {
      const w = this.fastWords;
      const wi = this.fastBase + 2 * (((iova - this.fastStart) * this.fastInv) | 0);
      if ((w[wi]! & 3) === this.fastLeaf) {
        w[wi] = 0;
        w[wi + 1] = 0;
        if (gather && !gather.queued) {
          const tlb = this.tlb;
          if (tlb && tlb.tlbAddPage) tlb.tlbAddPage(gather, iova, pgsize, this.cookie);
        }
        return pgsize;
      }
    }
    return this.unmapPagesFull(iova, pgsize, pgcount, gather);
  }

  /** unmap_pages with every check; `unmapPages` forwards here whenever its fast path does not apply. */
  private unmapPagesFull(iova: number | bigint, pgsize: number, pgcount: number, gather: IommuIotlbGather | null): number {
    this.assertLive();
    if ((typeof iova === 'number' && !Number.isInteger(iova)) || (pgsize !== this.okPgsize && !this.pgsizeOk(pgsize)) || !Number.isSafeInteger(pgcount) || pgcount <= 0) {
      this.warn(`arm_lpae_unmap_pages: bad pgsize ${pgsize} / pgcount ${pgcount}`);
      return 0;
    }
    const low = this.iovaLow(iova);
    if (low < 0) {
      this.warn(`arm_lpae_unmap_pages: iova ${hex(iova)} out of range`);
      return 0;
    }
    const ilo = low >>> 0;
    const ihi = ((low - ilo) * INV_2_32) | 0;
    let lvl = this.startLevel | 0;
    let w = this.pgdWords;
    let wb = this.pgdBase;
    const target = this.okLevel;
    if (target > lvl && this.pathKey[target] === Math.floor(low * this.invBlk[target - 1]!)) {
      lvl = target;
      w = this.pathWords[target]!;
      wb = this.pathBase[target]!;
    }
    for (;;) {
      const wi = wb + 2 * this.index(lvl, ilo, ihi);
      const lo = w[wi]!;
      const hi = w[wi + 1]!;
      if (lo === 0 && hi === 0) {
        this.warnUnlessNoWarn(`arm_lpae_unmap_pages: iova ${hex(iova)} not mapped`);
        return -ENOENT;
      }
      const leafType = this.leafType[lvl]!;
      if (pgsize === this.blk[lvl]) {
        if (pgcount === 1 && (lo & PTE_TYPE_MASK) === leafType) {
          // the common single-leaf case, without the run machinery
          w[wi] = 0;
          w[wi + 1] = 0;
          if (gather && !gather.queued) {
            const tlb = this.tlb;
            if (tlb && tlb.tlbAddPage) tlb.tlbAddPage(gather, ArmLpaeIoPgtable.tlbIova(iova), pgsize, this.cookie);
          }
          return pgsize;
        }
        const n = Math.min(pgcount, this.maxEntries(lvl, wi));
        let i = 0;
        const typeMask = PTE_TYPE_MASK; // a local: an imported binding is reloaded in every iteration
        for (; i < n; i++) {
          // a run of leaves needs only their low words: a leaf's type bits are never zero
          while (i < n && (w[wi + 2 * i]! & typeMask) === leafType) i++;
          if (i === n) break;
          const l = w[wi + 2 * i]!;
          const h = w[wi + 2 * i + 1]!;
          if (l === 0 && h === 0) {
            this.warnUnlessNoWarn(`arm_lpae_unmap_pages: hole at iova ${hex(iova)} + ${i} pages`);
            break;
          }
          if ((l & PTE_TYPE_MASK) !== leafType) {
            w[wi + 2 * i] = 0;
            w[wi + 2 * i + 1] = 0;
            const tlb = this.tlb;
            if (tlb && tlb.tlbFlushWalk) tlb.tlbFlushWalk(ArmLpaeIoPgtable.tlbIova(iova) + i * pgsize, pgsize, this.granule, this.cookie);
            if (lvl < ARM_LPAE_MAX_LEVELS - 1) this.freeTable(lvl + 1, this.outAddr(l, h));
          }
        }
        if (i > 0) w.fill(0, wi, wi + 2 * i);
        if (gather && !gather.queued) {
          const tlb = this.tlb;
          if (tlb && tlb.tlbAddPage) {
            const base = ArmLpaeIoPgtable.tlbIova(iova);
            const cookie = this.cookie;
            for (let j = 0; j < i; j++) tlb.tlbAddPage(gather, base + j * pgsize, pgsize, cookie);
          }
        }
        return i * pgsize;
      }
      if ((lo & PTE_TYPE_MASK) === leafType) {
        if (!partialWarned.has(this.log)) {
          partialWarned.add(this.log);
          this.warn('Unmap of a partial large IOPTE is not allowed');
        }
        return 0;
      }
      lvl++;
      if (lvl === ARM_LPAE_MAX_LEVELS) {
        this.warn('arm_lpae_unmap_pages: ran out of page table');
        return 0;
      }
      if (lo === this.descLo[lvl] && hi === this.descHi[lvl]) {
        w = this.descWords[lvl]!;
        wb = this.descBase[lvl]!;
      } else {
        const next = this.outAddr(lo, hi);
        w = this.words(next, lvl);
        wb = wordBase(next);
        this.remember(lvl, lo, hi, w, wb);
      }
      this.enterPath(lvl, low, w, wb);
    }
  }

  /**
   * iova_to_phys: the output address (OR of the leaf's address and the offset inside it) or 0.
   * No ias check: higher bits are masked off by indexing, so addresses alias, as in the kernel.
   * Unlike the kernel (whose walker wraps at ~0UL and returns garbage), the last IOVA of the
   * 64-bit space is translated like any other; give it as a bigint (or -1).
   *
   * Small for inlining (a non-inlined call also boxes the returned PA): a leaf found in the
   * level-3 or level-2 table the walk cache holds for this IOVA is translated here; every
   * other case goes to `iovaToPhysFull`.
   */
  iovaToPhys(iova: number | bigint): number {
    if (typeof iova === 'number' && iova >= 0 && iova < TWO_52 && this.live) {
      const ilo = iova >>> 0;
      const ihi = ((iova - ilo) * INV_2_32) | 0;
      let lvl = ARM_LPAE_MAX_LEVELS - 1;
      if (this.pathKey[lvl] !== Math.floor(iova * this.invBlk[lvl - 1]!)) lvl--;
      if (lvl > this.startLevel && this.pathKey[lvl] === Math.floor(iova * this.invBlk[lvl - 1]!)) {
        const w = this.pathWords[lvl]!;
        const wi = this.pathBase[lvl]! + 2 * this.index(lvl, ilo, ihi);
        const lo = w[wi]!;
        if ((lo & PTE_TYPE_MASK) === this.leafType[lvl] && !this.is64k) {
          // levels 2 and 3 of a 4K or 16K table: the block shift is below 32, so the offset
          // inside the leaf lies in the low word (OR-ed in, as the kernel does)
          const s = this.shift[lvl]!;
          return ((w[wi + 1]! & PTE_ADDR_HI_MASK) >>> 0) * TWO_32 + (((lo & PTE_ADDR_LO_MASK) | (ilo & ((1 << s) - 1))) >>> 0);
        }
      }
    }
    return this.iovaToPhysFull(iova);
  }

  /** iova_to_phys for every case; `iovaToPhys` forwards here whenever its fast path does not apply. */
  private iovaToPhysFull(iova: number | bigint): number {
    this.assertLive();
    let low: number;
    if (typeof iova === 'bigint') low = Number(BigInt.asUintN(52, iova));
    else if (iova >= 0 && iova < TWO_52) low = iova;
    else {
      if (!Number.isInteger(iova)) return 0;
      low = ((iova % TWO_52) + TWO_52) % TWO_52;
    }
    const ilo = low >>> 0;
    const ihi = ((low - ilo) * INV_2_32) | 0;
    let lvl = this.startLevel | 0;
    let w = this.pgdWords;
    let wb = this.pgdBase;
    for (let l = ARM_LPAE_MAX_LEVELS - 1; l > lvl; l--) {
      if (this.pathKey[l] === Math.floor(low * this.invBlk[l - 1]!)) {
        lvl = l;
        w = this.pathWords[l]!;
        wb = this.pathBase[l]!;
        break;
      }
    }
    for (;;) {
      const wi = wb + 2 * this.index(lvl, ilo, ihi);
      const lo = w[wi]!;
      const hi = w[wi + 1]!;
      const type = lo & PTE_TYPE_MASK;
      if (type === this.leafType[lvl]) {
        // output address OR the offset inside the block (an OR, so a misaligned PA shows through)
        const s = this.shift[lvl]!;
        const offLo = s >= 32 ? ilo : ilo & ((1 << s) - 1);
        const offHi = s >= 32 ? ihi & ((1 << (s - 32)) - 1) : 0;
        let paLo: number;
        let paHi: number;
        if (!this.is64k) {
          paLo = lo & PTE_ADDR_LO_MASK;
          paHi = hi & PTE_ADDR_HI_MASK;
        } else {
          paLo = lo & 0xffff0000;
          paHi = (hi & PTE_ADDR_HI_MASK) | ((lo >>> 12) & 0xf) << 16;
        }
        return ((paHi | offHi) >>> 0) * TWO_32 + ((paLo | offLo) >>> 0);
      }
      if (lvl >= ARM_LPAE_MAX_LEVELS - 1 || type !== PTE_TYPE_TABLE) return 0;
      lvl++;
      if (lo === this.descLo[lvl] && hi === this.descHi[lvl]) {
        w = this.descWords[lvl]!;
        wb = this.descBase[lvl]!;
      } else {
        const next = this.outAddr(lo, hi);
        w = this.words(next, lvl);
        wb = wordBase(next);
        this.remember(lvl, lo, hi, w, wb);
      }
      this.enterPath(lvl, low, w, wb);
    }
  }

  /**
   * read_and_clear_dirty (ARM_64_LPAE_S1 only): calls `record(iova, size)` for every leaf in
   * [iova, iova + size) that is writable-dirty (DBM set, AP[2] clear) and, unless
   * IOMMU_DIRTY_NO_CLEAR, marks it writable-clean (sets AP[2]). An empty entry in the range
   * aborts with -EINVAL (records made so far stand), as do size 0 and a range beyond ias.
   */
  readAndClearDirty(iova: number, size: number, flags: number, record: (iova: number, size: number) => void): number {
    this.assertLive();
    if (!isU53(size) || size === 0) {
      this.warn('arm_lpae_read_and_clear_dirty: size 0');
      return -EINVAL;
    }
    if (!isU53(iova) || iova + size - 1 >= this.iasSize) {
      this.warn(`arm_lpae_read_and_clear_dirty: range ${hex(iova)}+${hex(size)} beyond ias`);
      return -EINVAL;
    }
    if (this.fmt !== 'ARM_64_LPAE_S1') return -EINVAL;
    const walk = { addr: iova, end: iova + size, clear: (flags & IOMMU_DIRTY_NO_CLEAR) === 0, record };
    return this.dirtyWalk(this.startLevel, this.pgd, walk);
  }

  private dirtyWalk(
    lvl: number,
    table: number,
    walk: { addr: number; end: number; clear: boolean; record: (iova: number, size: number) => void },
  ): number {
    const max = this.nent[lvl]!;
    const size = this.blk[lvl]!;
    const w = this.words(table, lvl);
    const base = wordBase(table);
    const a = walk.addr;
    for (let idx = this.index(lvl, a >>> 0, (a - (a >>> 0)) * INV_2_32); idx < max && walk.addr < walk.end; idx++) {
      const wi = base + 2 * idx;
      const lo = w[wi]!;
      const hi = w[wi + 1]!;
      if ((lo & PTE_TYPE_MASK) === this.leafType[lvl]) {
        if ((lo & PTE_AP_RDONLY) === 0 && (hi & PTE_HI_DBM) !== 0) {
          walk.record(walk.addr, size);
          if (walk.clear) w[wi] = lo | PTE_AP_RDONLY;
        }
        walk.addr += size;
        continue;
      }
      if (lvl >= ARM_LPAE_MAX_LEVELS - 1 || (lo & PTE_TYPE_MASK) !== PTE_TYPE_TABLE) return -EINVAL;
      const r = this.dirtyWalk(lvl + 1, this.outAddr(lo, hi), walk);
      if (r) return r;
    }
    return 0;
  }

  /**
   * Every valid leaf slot, in IOVA order, with the kernel's level numbers. TTBR1 tables report
   * sign-extended IOVAs (2^64 - 2^ias + offset, exact for page-aligned addresses).
   */
  walkLeaves(visit: (leaf: IoPgtableLeaf) => void): void {
    this.assertLive();
    const top = this.ttbr1 ? TWO_64 - this.iasSize : 0;
    this.walkLeavesAt(this.startLevel, this.pgd, top, visit);
  }

  private walkLeavesAt(lvl: number, table: number, base: number, visit: (leaf: IoPgtableLeaf) => void): void {
    const entries = this.nent[lvl]!;
    const size = this.blk[lvl]!;
    const w = this.mem.peekChunk(table);
    const wb = wordBase(table);
    for (let idx = 0; idx < entries; idx++) {
      const lo = w[wb + 2 * idx]!;
      const hi = w[wb + 2 * idx + 1]!;
      if (lo === 0 && hi === 0) continue;
      const type = lo & PTE_TYPE_MASK;
      if (type === this.leafType[lvl]) visit({ level: lvl, iova: base + idx * size, size, pte: pteToBigint(lo, hi) });
      else if (lvl < ARM_LPAE_MAX_LEVELS - 1 && type === PTE_TYPE_TABLE) this.walkLeavesAt(lvl + 1, this.outAddr(lo, hi), base + idx * size, visit);
    }
  }

  /** The kernel's free callback: frees every table. The caller (the core) has flushed the TLB. */
  free(): void {
    if (!this.live) throw new KernelError(-EINVAL, `${this.fmt} io-pgtable freed twice`);
    this.live = false;
    this.freeTable(this.startLevel, this.pgd);
    this.pgd = -1;
  }
}

/**
 * The format's alloc: validates `cfg` for `fmt`, allocates the PGD and, on success, updates `cfg`
 * in place as the kernel does (restricted pgsizeBitmap, clamped ias/oas, the register block of
 * the format). Returns null where the kernel returns NULL; then `cfg` is left as it was and no
 * page is leaked. Call `free()` on the result (after flushing the TLB) when done, or go through
 * io-pgtable-core's allocIoPgtableOps/freeIoPgtableOps.
 */
export function createArmLpaeOps(host: LpaeHost, fmt: ArmLpaeFmt, cfg: IoPgtableCfg, cookie: unknown): ArmLpaeIoPgtable | null {
  checkCreateArgs(host, fmt, cfg);
  const a = cfg.allocator;
  if (a && (typeof a.alloc !== 'function' || typeof a.free !== 'function')) {
    host.log.warn(LPAE_LOG, `${fmt}: configuration rejected: a custom allocator needs both alloc and free`);
    return null;
  }
  const g = lpaeGeometry(fmt, cfg);
  if (!g.ok) {
    // The kernel returns NULL, mostly without a word; the model says why, at warning level.
    host.log.warn(LPAE_LOG, `${g.warn ? 'WARNING: ' : ''}${fmt}: configuration rejected: ${g.reason}`);
    return null;
  }
  const geo = g.geo;
  const own: IoPgtableCfg = { ...cfg, pgsizeBitmap: geo.pgsizeBitmap, ias: geo.ias, oas: geo.oas };
  const ops = new ArmLpaeIoPgtable(host, geo, own, cookie);
  if (ops.allocPgd() < 0) {
    host.log.warn(LPAE_LOG, `${fmt}: no memory for the PGD (${8 * 2 ** geo.pgdBits} bytes)`);
    return null;
  }
  const pgd = ops.pgdPa;
  const r = geo.regs;
  if (r.kind === 's1') own.armLpaeS1Cfg = { ttbr: BigInt(pgd), tcr: { ...r.tcr }, mair: ARM_LPAE_MAIR };
  else if (r.kind === 's2') own.armLpaeS2Cfg = { vttbr: BigInt(pgd), vtcr: { ...r.vtcr } };
  else own.armMaliLpaeCfg = { transtab: BigInt(pgd) | BigInt(r.transtabLow), memattr: ARM_MALI_LPAE_MEMATTR };
  cfg.pgsizeBitmap = geo.pgsizeBitmap;
  cfg.ias = geo.ias;
  cfg.oas = geo.oas;
  if (own.armLpaeS1Cfg) cfg.armLpaeS1Cfg = { ...own.armLpaeS1Cfg, tcr: { ...own.armLpaeS1Cfg.tcr } };
  if (own.armLpaeS2Cfg) cfg.armLpaeS2Cfg = { ...own.armLpaeS2Cfg, vtcr: { ...own.armLpaeS2Cfg.vtcr } };
  if (own.armMaliLpaeCfg) cfg.armMaliLpaeCfg = { ...own.armMaliLpaeCfg };
  // freeIoPgtableOps(ops) works on it, as free_io_pgtable_ops does on any io_pgtable
  ioPgtableTrackStandalone(ops, fmt, ops.cfg as IoPgtableCfg, cookie, freeTracked);
  return ops;
}

function freeTracked(ops: IoPgtableOps): void {
  (ops as ArmLpaeIoPgtable).free();
}

/**
 * The type checks of createArmLpaeOps (arguments C could not have passed): TypeError naming the
 * argument, or KernelError(-EINVAL) for a format this package does not implement. Values of the
 * right type that the kernel would refuse are not checked here: they make alloc return null.
 */
function checkCreateArgs(host: unknown, fmt: unknown, cfg: unknown): void {
  if (!isIoPgtableHost(host))
    throw new TypeError('createArmLpaeOps: host must provide mem, pages and log (a Kernel, or createIoPgtableHost())');
  if (typeof fmt !== 'string') throw new TypeError(`createArmLpaeOps: fmt must be a format name string (got ${typeof fmt})`);
  if (!isArmLpaeFmt(fmt))
    throw new KernelError(-EINVAL, `createArmLpaeOps: unknown format ${JSON.stringify(fmt)}; this package implements ${ARM_LPAE_FORMATS.join(', ')}`);
  const bad = ioPgtableCfgTypeError(cfg);
  if (bad) throw new TypeError(`createArmLpaeOps: ${bad}`);
}
