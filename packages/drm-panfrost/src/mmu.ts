import { allocIoPgtableOps, freeIoPgtableOps, IOMMU_NOEXEC, IOMMU_READ, IOMMU_WRITE } from '@gki/io-pgtable-core';
import type { IommuFlushOps, IoPgtableCfg, IoPgtableOps, MappedOut } from '@gki/io-pgtable-core';
import { DrmMm, EINVAL, ENOENT, ENOMEM, KernelError, readxPollTimeout } from '@gki/kernel';
import { decodeFaultStatus, isTranslationFault } from './exception.js';
import { HW_FEATURE_AARCH64_MMU, hasHwFeature, mmuPaBits, mmuVaBits } from './features.js';
import { LOCK_ALL, lockRegionEncode } from './lock-region.js';
import * as R from './regs.js';
import type { PanfrostDevice } from './device.js';
import type { PanfrostGemMapping, PageRun } from './gem.js';
import { PANFROST_BO_NOEXEC } from './uapi.js';

export const SZ_4K = 0x1000;
export const SZ_2M = 0x20_0000;
export const SZ_1G = 0x4000_0000;
const SZ_16M = 0x100_0000;
const SZ_32M = 0x200_0000;
const SZ_4G = 2 ** 32;
const PAGE_SHIFT = 12;
const PFN_4G = SZ_4G / SZ_4K;
const PFN_16M = SZ_16M / SZ_4K;

/** AS_STATUS polling: every 10 µs for at most 100 ms (the current kernel's values). */
const AS_POLL_US = 10;
const AS_TIMEOUT_US = 100_000;

/**
 * panfrost_drm_mm_color_adjust: an executable buffer may neither start nor end on a 4 GiB
 * boundary, and one that would start within 16 MiB below such a boundary starts just past it
 * instead; its end is clamped below the next 4 GiB boundary (in page units, end exclusive).
 */
export function panfrostColorAdjust(color: number, range: { start: number; end: number }): void {
  if (color & PANFROST_BO_NOEXEC) return;
  // drm_mm hands the callback an inclusive-exclusive range; the kernel adjusts the pair as is
  if (range.start % PFN_4G === 0) range.start++;
  if (range.end % PFN_4G === 0) range.end--;
  const nextSeg = Math.ceil(range.start / PFN_4G) * PFN_4G;
  if (nextSeg - range.start <= PFN_16M) range.start = nextSeg + 1;
  range.end = Math.min(range.end, Math.ceil(range.start / PFN_4G) * PFN_4G - 1);
}

/**
 * get_pgsize: the page size and count for the next piece of a mapping at `addr` (the OR of
 * the IOVA and the physical address, or the IOVA alone when unmapping) with `size` bytes
 * left. 2 MiB when `addr` is 2 MiB aligned and at least 2 MiB is left, counting up to the next
 * 1 GiB boundary; otherwise 4 KiB pages up to the next 2 MiB boundary. `out[0]` gets the count.
 */
export function getPgsize(addrLow30: number, size: number, out: Int32Array | number[]): number {
  const off2m = addrLow30 % SZ_2M;
  const blk2m = off2m === 0 ? 0 : SZ_2M - off2m;
  if (blk2m !== 0 || size < SZ_2M) {
    out[0] = Math.floor((blk2m !== 0 ? Math.min(blk2m, size) : size) / SZ_4K);
    return SZ_4K;
  }
  const off1g = addrLow30 % SZ_1G;
  const blk1g = off1g === 0 ? SZ_1G : SZ_1G - off1g;
  out[0] = Math.floor(Math.min(blk1g, size) / SZ_2M);
  return SZ_2M;
}

/** The low 30 bits of a (< 2^53) address, as a non-negative number. */
function low30(x: number): number {
  return x % SZ_1G;
}

/**
 * One GPU address space context (struct panfrost_mmu): an ARM_MALI_LPAE page table, the
 * drm_mm that places buffers in [32 MiB, 4 GiB), and the AS slot it currently owns (-1 when
 * none). Refcounted: the file, each buffer mapping and each job hold a reference.
 */
export class PanfrostMmu {
  refcount = 1;
  /** The hardware address space slot, -1 when the context has none. */
  as = -1;
  /** Jobs currently running with this AS (panfrost_mmu_as_get/put). */
  asCount = 0;
  readonly mm: DrmMm;
  released = false;
  /** Serial number for logs and tests. */
  readonly id: number;

  constructor(
    readonly pfdev: PanfrostDevice,
    readonly cfg: IoPgtableCfg,
    readonly ops: IoPgtableOps,
    id: number,
  ) {
    this.id = id;
    // drm_mm_init with the colour callback (panfrost_drm_mm_color_adjust ignores the node the
    // hole follows: only the colour of the buffer being placed matters)
    this.mm = new DrmMm(SZ_32M >> PAGE_SHIFT, (SZ_4G - SZ_32M) / SZ_4K, (_node, color, range) => panfrostColorAdjust(color, range));
  }

  get transtab(): bigint {
    return this.cfg.armMaliLpaeCfg!.transtab;
  }
  get memattr(): bigint {
    return this.cfg.armMaliLpaeCfg!.memattr;
  }
}

/** Every io-pgtable TLB callback panfrost supplies does nothing: it flushes by AS commands. */
const MMU_TLB_OPS: IommuFlushOps = {
  tlbFlushAll: () => {},
  tlbFlushWalk: () => {},
};

/** Counters of the MMU side; plain data. */
export interface PanfrostMmuStats {
  /** AS_COMMAND writes by command value (index = command). */
  commands: number[];
  /** LOCK + FLUSH_PT sequences after a map or unmap. */
  flushRanges: number;
  /** Flushes skipped because the context had no AS (nothing cached in hardware). */
  flushesWithoutAs: number;
  /** Flushes skipped by fault injection. */
  flushesSkipped: number;
  asGetHits: number;
  asGetFree: number;
  asGetReclaims: number;
  enables: number;
  disables: number;
  /** Heap chunks mapped from the fault handler. */
  heapFaults: number;
  /** Faults that were not a growable-heap fault (logged and the AS disabled). */
  unhandledFaults: number;
  /** Faults on a heap chunk that was already mapped. */
  spuriousFaults: number;
  asActiveTimeouts: number;
}

/**
 * The device-wide MMU side of panfrost: AS slot assignment (LRU with refcounts), the AS
 * commands with their lock regions, mapping scatter lists into a context's page table with the
 * largest page sizes the layout allows, and the MMU interrupt with growable-heap faults.
 */
export class PanfrostMmuManager {
  asAllocMask = 0;
  asInUseMask = 0;
  asFaultyMask = 0;
  /** Contexts owning an AS, most recently used first (the kernel's as_lru_list). */
  readonly lru: PanfrostMmu[] = [];
  private nextId = 1;
  private readonly mapped: MappedOut = { mapped: 0 };
  private readonly count = new Int32Array(1);
  readonly stats: PanfrostMmuStats = {
    commands: [0, 0, 0, 0, 0, 0],
    flushRanges: 0,
    flushesWithoutAs: 0,
    flushesSkipped: 0,
    asGetHits: 0,
    asGetFree: 0,
    asGetReclaims: 0,
    enables: 0,
    disables: 0,
    heapFaults: 0,
    unhandledFaults: 0,
    spuriousFaults: 0,
    asActiveTimeouts: 0,
  };
  /** Set while the MMU interrupt thread runs (a nested delivery is folded into its loop). */
  private inThread = false;

  constructor(private readonly pfdev: PanfrostDevice) {}

  // ------------------------------------------------------------------ AS commands

  private waitReady(as: number): number {
    const regs = this.pfdev.regs;
    const r = readxPollTimeout(this.pfdev.kernel, () => regs.read32(R.AS_STATUS(as)), (v) => (v & R.AS_STATUS_AS_ACTIVE) === 0, AS_POLL_US, AS_TIMEOUT_US);
    if (r < 0) {
      this.stats.asActiveTimeouts++;
      this.pfdev.scheduleReset();
      this.pfdev.dev.err('AS_ACTIVE bit stuck');
    }
    return r;
  }

  private writeCmd(as: number, cmd: number): number {
    const status = this.waitReady(as);
    if (status === 0) {
      this.pfdev.regs.write32(R.AS_COMMAND(as), cmd);
      if (cmd < this.stats.commands.length) this.stats.commands[cmd]!++;
    }
    return status;
  }

  private lockRegion(as: number, iova: number, size: number): void {
    const region = lockRegionEncode(iova, size);
    if (!region) return;
    this.pfdev.regs.write32(R.AS_LOCKADDR_LO(as), region.lo);
    this.pfdev.regs.write32(R.AS_LOCKADDR_HI(as), region.hi);
    this.writeCmd(as, R.AS_COMMAND_LOCK);
  }

  /** mmu_hw_do_operation_locked: LOCK the region (unless UNLOCK), run `op`, wait for it. */
  private doOperationLocked(as: number, iova: number, size: number, op: number): number {
    if (as < 0) return 0;
    if (op !== R.AS_COMMAND_UNLOCK) this.lockRegion(as, iova, size);
    this.writeCmd(as, op);
    return this.waitReady(as);
  }

  /** panfrost_mmu_enable: FLUSH_MEM everything, program TRANSTAB and MEMATTR, UPDATE. */
  private enable(mmu: PanfrostMmu): void {
    const as = mmu.as;
    const regs = this.pfdev.regs;
    this.stats.enables++;
    this.doOperationLocked(as, 0, LOCK_ALL, R.AS_COMMAND_FLUSH_MEM);
    const t = mmu.transtab;
    const m = mmu.memattr;
    regs.write32(R.AS_TRANSTAB_LO(as), Number(t & 0xffff_ffffn));
    regs.write32(R.AS_TRANSTAB_HI(as), Number(t >> 32n));
    regs.write32(R.AS_MEMATTR_LO(as), Number(m & 0xffff_ffffn));
    regs.write32(R.AS_MEMATTR_HI(as), Number(m >> 32n));
    this.writeCmd(as, R.AS_COMMAND_UPDATE);
  }

  /** panfrost_mmu_disable: FLUSH_MEM everything, zero TRANSTAB and MEMATTR, UPDATE. */
  private disable(as: number): void {
    const regs = this.pfdev.regs;
    this.stats.disables++;
    this.doOperationLocked(as, 0, LOCK_ALL, R.AS_COMMAND_FLUSH_MEM);
    regs.write32(R.AS_TRANSTAB_LO(as), 0);
    regs.write32(R.AS_TRANSTAB_HI(as), 0);
    regs.write32(R.AS_MEMATTR_LO(as), 0);
    regs.write32(R.AS_MEMATTR_HI(as), 0);
    this.writeCmd(as, R.AS_COMMAND_UPDATE);
  }

  // ------------------------------------------------------------------ AS slots

  /**
   * panfrost_mmu_as_get: the AS for a job of `mmu`. A context that owns one keeps it (its
   * count goes up and it moves to the LRU head; a slot disabled by an unhandled fault is
   * cleared, unmasked and re-enabled). Otherwise the first free slot is taken; when every
   * present slot is assigned, the least recently used context with no running job gives up its
   * slot. The new owner goes to the LRU head and its slot is enabled. Returns the slot, or -1
   * when every slot is busy with running jobs (the kernel warns there; the caller waits).
   */
  asGet(mmu: PanfrostMmu): number {
    const regs = this.pfdev.regs;
    let as = mmu.as;
    if (as >= 0) {
      mmu.asCount++;
      if (mmu.asCount >= R.NUM_JOB_SLOTS + 1) this.pfdev.dev.warn(`AS${as} held by ${mmu.asCount} users`);
      this.moveToHead(mmu);
      this.stats.asGetHits++;
      const mask = (R.MMU_AS_FAULT_BIT(as) | R.MMU_AS_BUS_ERROR_BIT(as)) >>> 0;
      if (this.asFaultyMask & mask) {
        regs.write32(R.MMU_INT_CLEAR, mask);
        regs.write32(R.MMU_INT_MASK, ~this.asFaultyMask >>> 0);
        this.asFaultyMask = (this.asFaultyMask & ~mask) >>> 0;
        this.enable(mmu);
      }
      return as;
    }
    as = ffz(this.asAllocMask);
    if (as >= 32 || ((this.pfdev.features.asPresent >>> as) & 1) === 0) {
      let victim: PanfrostMmu | undefined;
      for (let i = this.lru.length - 1; i >= 0; i--) {
        if (this.lru[i]!.asCount === 0) {
          victim = this.lru[i]!;
          break;
        }
      }
      if (!victim) {
        this.pfdev.dev.warn('no idle address space to reclaim: every slot has a running job');
        return -1;
      }
      this.lru.splice(this.lru.indexOf(victim), 1);
      as = victim.as;
      victim.as = -1;
      this.stats.asGetReclaims++;
      this.pfdev.dev.dbg(`Reclaimed AS${as} from mmu ${victim.id}`);
    } else {
      this.stats.asGetFree++;
    }
    mmu.as = as;
    this.asAllocMask = (this.asAllocMask | (1 << as)) >>> 0;
    mmu.asCount = 1;
    this.lru.unshift(mmu);
    this.pfdev.dev.dbg(`Assigned AS${as} to mmu ${mmu.id}, alloc_mask=${this.asAllocMask.toString(16)}`);
    this.enable(mmu);
    return as;
  }

  /** panfrost_mmu_as_put: the job is done; the slot stays assigned until someone needs it. */
  asPut(mmu: PanfrostMmu): void {
    mmu.asCount--;
    if (mmu.asCount < 0) {
      this.pfdev.dev.warn(`mmu ${mmu.id}: AS count underflow`);
      mmu.asCount = 0;
    }
  }

  private moveToHead(mmu: PanfrostMmu): void {
    const i = this.lru.indexOf(mmu);
    if (i > 0) {
      this.lru.splice(i, 1);
      this.lru.unshift(mmu);
    } else if (i < 0) this.lru.unshift(mmu);
  }

  /** panfrost_mmu_reset: after a GPU reset every context loses its slot; MMU IRQs cleared and unmasked. */
  reset(): void {
    this.asAllocMask = 0;
    this.asFaultyMask = 0;
    this.asInUseMask = 0;
    for (const mmu of this.lru) {
      mmu.as = -1;
      mmu.asCount = 0;
    }
    this.lru.length = 0;
    this.pfdev.regs.write32(R.MMU_INT_CLEAR, 0xffff_ffff);
    this.pfdev.regs.write32(R.MMU_INT_MASK, 0xffff_ffff);
  }

  // ------------------------------------------------------------------ contexts

  /**
   * panfrost_mmu_ctx_create: an ARM_MALI_LPAE table with the kernel's configuration (4 KiB and
   * 2 MiB pages, ias/oas from MMU_FEATURES, coherent walk when the GPU is dma-coherent, no-op
   * TLB callbacks). -EINVAL when io-pgtable cannot provide one (as the kernel maps NULL).
   */
  ctxCreate(): PanfrostMmu | number {
    const f = this.pfdev.features;
    const cfg: IoPgtableCfg = {
      quirks: 0,
      pgsizeBitmap: SZ_4K + SZ_2M,
      ias: mmuVaBits(f),
      oas: mmuPaBits(f),
      coherentWalk: this.pfdev.coherent,
      tlb: MMU_TLB_OPS,
      iommuDev: this.pfdev.dev,
    };
    const id = this.nextId++;
    const ops = allocIoPgtableOps(this.pfdev.kernel, 'ARM_MALI_LPAE', cfg, null);
    if (typeof ops === 'number') {
      this.pfdev.dev.err(`failed to allocate the ARM_MALI_LPAE page table (${ops})`);
      return -EINVAL;
    }
    return new PanfrostMmu(this.pfdev, cfg, ops, id);
  }

  ctxGet(mmu: PanfrostMmu): PanfrostMmu {
    if (mmu.released) throw new KernelError(-EINVAL, `panfrost: reference on released mmu ${mmu.id}`);
    mmu.refcount++;
    return mmu;
  }

  /**
   * panfrost_mmu_ctx_put: the last reference disables the context's AS (FLUSH_MEM, zero
   * TRANSTAB/MEMATTR, UPDATE), frees the slot, and frees the page table.
   */
  ctxPut(mmu: PanfrostMmu): void {
    if (mmu.released) throw new KernelError(-EINVAL, `panfrost: put on released mmu ${mmu.id}`);
    if (--mmu.refcount > 0) return;
    mmu.released = true;
    if (mmu.as >= 0) {
      if (this.pfdev.hwAccessible) this.disable(mmu.as);
      this.asAllocMask = (this.asAllocMask & ~(1 << mmu.as)) >>> 0;
      this.asInUseMask = (this.asInUseMask & ~(1 << mmu.as)) >>> 0;
      const i = this.lru.indexOf(mmu);
      if (i >= 0) this.lru.splice(i, 1);
      mmu.as = -1;
    }
    freeIoPgtableOps(this.pfdev.kernel, mmu.ops);
    // panfrost_mmu_release_ctx: drm_mm_takedown, which WARNs about nodes left behind
    const left = mmu.mm.nodes().length;
    if (!mmu.mm.takedown(this.pfdev.kernel.log)) this.pfdev.dev.warn(`mmu ${mmu.id}: address space torn down with ${left} nodes left`);
  }

  // ------------------------------------------------------------------ map / unmap

  /**
   * panfrost_mmu_flush_range: LOCK [iova, iova+size) and FLUSH_PT it, if the context owns an
   * AS (otherwise nothing of it can be cached: the next enable flushes everything).
   */
  flushRange(mmu: PanfrostMmu, iova: number, size: number): void {
    if (mmu.as < 0) {
      this.stats.flushesWithoutAs++;
      return;
    }
    if (!this.pfdev.hwAccessible) return;
    if (this.pfdev.debug.skipFlushes > 0) {
      this.pfdev.debug.skipFlushes--;
      this.stats.flushesSkipped++;
      this.pfdev.dev.dbg(`fault injection: skipped FLUSH_PT of ${hex(iova)}+${hex(size)} in AS${mmu.as}`);
      return;
    }
    this.stats.flushRanges++;
    this.doOperationLocked(mmu.as, iova, size, R.AS_COMMAND_FLUSH_PT);
  }

  /**
   * mmu_map_sg: maps the runs of `sgt` back to back from `iova` with `prot`, each piece with the
   * largest page size the alignment of (IOVA | PA) and the remaining length allow, then one
   * FLUSH_PT over the whole range. Like the kernel, a failing piece is stepped over.
   */
  mapSg(mmu: PanfrostMmu, iova: number, prot: number, sgt: readonly PageRun[]): number {
    const ops = mmu.ops;
    const startIova = iova;
    const mapped = this.mapped;
    const count = this.count;
    let err = 0;
    for (let s = 0; s < sgt.length; s++) {
      let paddr = sgt[s]!.pa;
      let len = sgt[s]!.len;
      while (len > 0) {
        const addr = (low30(iova) | low30(paddr)) >>> 0;
        const pgsize = getPgsize(addr, len, count);
        mapped.mapped = 0;
        const r = ops.mapPages(iova, paddr, pgsize, count[0]!, prot, mapped);
        if (r < 0 && err === 0) err = r;
        const step = Math.max(mapped.mapped, pgsize);
        iova += step;
        paddr += step;
        len -= step;
      }
    }
    this.flushRange(mmu, startIova, iova - startIova);
    return err;
  }

  /** panfrost_mmu_map: maps a buffer's pages at its node (READ|WRITE, plus NOEXEC). */
  map(mapping: PanfrostGemMapping): number {
    if (mapping.active) {
      this.pfdev.dev.warn('mapping already active');
      return 0;
    }
    const bo = mapping.bo;
    let prot = IOMMU_READ | IOMMU_WRITE;
    if (bo.noexec) prot |= IOMMU_NOEXEC;
    const err = this.mapSg(mapping.mmu, mapping.iova, prot, bo.sgt);
    mapping.active = true;
    return err;
  }

  /**
   * panfrost_mmu_unmap: unmaps the node's range with the page-size rule applied to the IOVA
   * (for a heap, only the 2 MiB chunks that were faulted in, one at a time), then FLUSH_PT
   * over the whole range, before anyone frees the pages.
   */
  unmap(mapping: PanfrostGemMapping): void {
    if (!mapping.active) {
      this.pfdev.dev.warn('unmap of an inactive mapping');
      return;
    }
    const ops = mapping.mmu.ops;
    const isHeap = mapping.bo.isHeap;
    let iova = mapping.iova;
    const len = mapping.size;
    const count = this.count;
    let done = 0;
    while (done < len) {
      const pgsize = getPgsize(low30(iova), len - done, count);
      let pgcount = count[0]!;
      if (isHeap) pgcount = 1;
      if (!isHeap || ops.iovaToPhys(iova) !== 0) {
        const un = ops.unmapPages(iova, pgsize, pgcount, null);
        if (un !== pgsize * pgcount) this.pfdev.dev.warn(`unmap at ${hex(iova)}: ${un} of ${pgsize * pgcount} bytes unmapped`);
      }
      iova += pgsize * pgcount;
      done += pgsize * pgcount;
    }
    this.flushRange(mapping.mmu, mapping.iova, len);
    mapping.active = false;
  }

  // ------------------------------------------------------------------ faults

  /** addr_to_mapping: the mapping of the context owning `as` whose node holds `addr`. */
  private addrToMapping(as: number, addr: number): PanfrostGemMapping | undefined {
    const mmu = this.lru.find((m) => m.as === as);
    if (!mmu) return undefined;
    const node = mmu.mm.find(Math.floor(addr / SZ_4K));
    if (!node) return undefined;
    const mapping = this.pfdev.mappingOfNode(node);
    if (mapping) this.pfdev.gemMappingGet(mapping);
    return mapping;
  }

  /**
   * panfrost_mmu_map_fault_addr: grows a heap buffer by the 2 MiB chunk around `addr`.
   * -ENOENT when no buffer covers the address, -EINVAL when the buffer is not a heap, -ENOMEM
   * when its pages cannot be allocated; 0 (also for a chunk already there) otherwise.
   */
  mapFaultAddr(as: number, addr: number): number {
    const mapping = this.addrToMapping(as, addr);
    if (!mapping) return -ENOENT;
    try {
      const bo = mapping.bo;
      if (!bo.isHeap) {
        this.pfdev.dev.warn(`matching BO is not heap type (GPU VA = ${mapping.iova.toString(16)})`);
        return -EINVAL;
      }
      if (mapping.mmu.as !== as) this.pfdev.dev.warn(`heap fault for AS${as} on a mapping of AS${mapping.mmu.as}`);
      const chunkVa = addr - (addr % SZ_2M);
      const chunk = Math.floor((chunkVa - mapping.iova) / SZ_2M);
      if (bo.heapChunk(chunk)) {
        this.stats.spuriousFaults++;
        return 0;
      }
      const run = bo.populateHeapChunk(chunk);
      if (typeof run === 'number') return run;
      const err = this.mapSg(mapping.mmu, chunkVa, IOMMU_WRITE | IOMMU_READ | IOMMU_NOEXEC, run);
      if (err < 0) {
        // a page table could not be allocated: undo the chunk so the fault is reported (a
        // half-mapped chunk would look "already there" to the next fault and never resolve)
        const ops = mapping.mmu.ops;
        for (let va = chunkVa; va < chunkVa + SZ_2M; va += SZ_4K) if (ops.iovaToPhys(va) !== 0) ops.unmapPages(va, SZ_4K, 1, null);
        this.flushRange(mapping.mmu, chunkVa, SZ_2M);
        bo.dropHeapChunk(chunk);
        return -ENOMEM;
      }
      mapping.active = true;
      bo.heapRssSize += SZ_2M;
      this.stats.heapFaults++;
      this.pfdev.dev.dbg(`mapped page fault @ AS${as} ${chunkVa.toString(16)}`);
      return 0;
    } finally {
      this.pfdev.gemMappingPut(mapping);
    }
  }

  /** The MMU interrupt (hard half): not ours when MMU_INT_STAT is 0; else mask and run the thread. */
  irq(): void {
    const regs = this.pfdev.regs;
    if (!this.pfdev.hwAccessible) return;
    if (regs.read32(R.MMU_INT_STAT) === 0) return;
    regs.write32(R.MMU_INT_MASK, 0);
    if (this.inThread) return; // the running thread re-reads RAWSTAT before it finishes
    this.irqThread();
  }

  /**
   * The MMU interrupt thread: lowest AS first, read and decode FAULTSTATUS/FAULTADDRESS, clear
   * the AS's two bits, grow a heap on a pure translation fault; anything else (or a failed
   * grow) is reported and the AS disabled, which kills its jobs. Loops while new bits appear,
   * then unmasks every AS that is not faulty.
   */
  private irqThread(): void {
    const regs = this.pfdev.regs;
    this.inThread = true;
    try {
      let status = regs.read32(R.MMU_INT_RAWSTAT) >>> 0;
      while (status) {
        const as = ffs((status | (status >>> 16)) >>> 0);
        const mask = (R.MMU_AS_FAULT_BIT(as) | R.MMU_AS_BUS_ERROR_BIT(as)) >>> 0;
        const faultStatus = regs.read32(R.AS_FAULTSTATUS(as)) >>> 0;
        const lo = regs.read32(R.AS_FAULTADDRESS_LO(as)) >>> 0;
        const hi = regs.read32(R.AS_FAULTADDRESS_HI(as)) >>> 0;
        const addr = hi * 2 ** 32 + lo;
        const d = decodeFaultStatus(faultStatus, hasHwFeature(this.pfdev.features, HW_FEATURE_AARCH64_MMU));
        regs.write32(R.MMU_INT_CLEAR, mask);
        let ret = -1;
        if ((status & mask) >>> 0 === R.MMU_AS_FAULT_BIT(as) && isTranslationFault(d.exceptionType)) ret = this.mapFaultAddr(as, addr);
        if (ret !== 0) {
          this.stats.unhandledFaults++;
          this.pfdev.dev.err(
            `Unhandled Page fault in AS${as} at VA 0x${hi.toString(16).toUpperCase().padStart(8, '0')}${lo.toString(16).toUpperCase().padStart(8, '0')}\n` +
              `Reason: TODO\n` +
              `raw fault status: 0x${faultStatus.toString(16).toUpperCase()}\n` +
              `decoded fault status: ${d.decoderFault ? 'DECODER FAULT' : 'SLAVE FAULT'}\n` +
              `exception type 0x${d.exceptionType.toString(16).toUpperCase()}: ${d.exceptionName}\n` +
              `access type 0x${d.accessType.toString(16).toUpperCase()}: ${d.accessName}\n` +
              `source id 0x${d.sourceId.toString(16).toUpperCase()}`,
          );
          this.pfdev.recordFault({ as, addr, status: d, handled: false });
          this.asFaultyMask = (this.asFaultyMask | mask) >>> 0;
          this.disable(as);
        } else {
          this.pfdev.recordFault({ as, addr, status: d, handled: true });
        }
        status = (status & ~mask) >>> 0;
        if (!status) status = (regs.read32(R.MMU_INT_RAWSTAT) & ~this.asFaultyMask) >>> 0;
      }
      regs.write32(R.MMU_INT_MASK, ~this.asFaultyMask >>> 0);
    } finally {
      this.inThread = false;
    }
  }

  /** panfrost_mmu_fini: mask every MMU interrupt. */
  fini(): void {
    this.pfdev.regs.write32(R.MMU_INT_MASK, 0);
  }
}

/** Index of the lowest set bit (the kernel's ffs - 1); 32 for 0. */
function ffs(x: number): number {
  return x === 0 ? 32 : 31 - Math.clz32(x & -x);
}

/** Index of the lowest clear bit (ffz). */
function ffz(x: number): number {
  return ffs(~x >>> 0);
}

function hex(n: number): string {
  return '0x' + n.toString(16);
}

/** Pieces of a GPU mapping, for tests: the page-size rule applied to (IOVA | PA) runs. */
export function planMapping(iova: number, sgt: readonly PageRun[]): { iova: number; pa: number; pgsize: number; count: number }[] {
  const out: { iova: number; pa: number; pgsize: number; count: number }[] = [];
  const count = new Int32Array(1);
  for (const run of sgt) {
    let pa = run.pa;
    let len = run.len;
    while (len > 0) {
      const pgsize = getPgsize((low30(iova) | low30(pa)) >>> 0, len, count);
      out.push({ iova, pa, pgsize, count: count[0]! });
      const step = pgsize * count[0]!;
      iova += step;
      pa += step;
      len -= step;
    }
  }
  return out;
}
