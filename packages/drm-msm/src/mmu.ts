import { IO_PGTABLE_QUIRK_ARM_TTBR1, allocIoPgtableOps, freeIoPgtableOps } from '@gki/io-pgtable-core';
import type { IommuFlushOps, IoPgtableCfg, IoPgtableOps, MappedOut } from '@gki/io-pgtable-core';
import {
  EINVAL,
  ENODEV,
  ENOMEM,
  adrenoSmmuFaultInfoInit,
  adrenoSmmuPrivGet,
  adrenoSmmuPrivInit,
  adrenoSmmuPrivSet,
  errnoName,
  iommuAttachDevice,
  iommuDetachDevice,
  iommuDomainAlloc,
  iommuDomainFree,
  iommuFlushIotlbAll,
  iommuGroupGet,
  iommuMap,
  iommuPgsize,
  iommuSetFaultHandler,
  iommuUnmap,
} from '@gki/kernel';
import type { AdrenoSmmuFaultInfo, AdrenoSmmuPgtableCfg, AdrenoSmmuPriv, Device, DrmGemPageRun, IommuDomain, IommuPgsizeOut, Kernel } from '@gki/kernel';

export const PAGE_SIZE = 0x1000;
const TWO48 = 2 ** 48;
const TWO49 = 2 ** 49;

/** A physically contiguous run of a buffer's pages (one merged scatterlist entry). */
export type PageRun = DrmGemPageRun;

/**
 * What the GPU handler gets for a fault on the GPU's domain: the IOVA (negative for an upper
 * half address, as the IOMMU core reports it), the IOMMU_FAULT_* flags and, when the SMMU
 * offers the Adreno interface, the context bank's fault registers.
 */
export type MsmFaultHandler = (iova: number, flags: number, info: AdrenoSmmuFaultInfo | null) => number;

/**
 * struct msm_mmu: the page-table side of an address space. GPU addresses are given in the
 * GPU's own form: 49-bit, an address with bit 48 set belongs to the TTBR1 (kernel) half.
 */
export interface MsmMmu {
  readonly kind: 'iommu' | 'pagetable';
  /** Maps `len` bytes of `runs` at `iova` with IOMMU_* `prot`. 0 or -errno (nothing left mapped). */
  map(iova: number, runs: readonly PageRun[], len: number, prot: number): number;
  /** Unmaps [iova, iova + len) and invalidates the TLB for it. 0 or -EINVAL (some of it was not mapped). */
  unmap(iova: number, len: number): number;
  destroy(): void;
}

/** The IOMMU core's (negative for the upper half) form of a 49-bit GPU address (msm's sign extension). */
export function gpuToIommuIova(iova: number): number {
  return iova >= TWO48 && iova < TWO49 ? iova - TWO49 : iova;
}

/** The GPU's 49-bit form of an IOMMU-core IOVA. */
export function iommuToGpuIova(iova: number): number {
  return iova < 0 ? iova + TWO49 : iova;
}

/** "%.16lx" of an unsigned long: upper-half addresses are printed sign-extended to 64 bits. */
export function hex64(v: number | bigint): string {
  const b = typeof v === 'bigint' ? BigInt.asUintN(64, v) : BigInt.asUintN(64, BigInt(v));
  return b.toString(16).padStart(16, '0');
}

/** Debugging knobs shared by the page-table code (fault injection). */
export interface MsmMmuDebug {
  /** Skip the TLB invalidation after the next N per-process unmaps (a driver bug, for tests). */
  skipUnmapFlushes: number;
}

/**
 * msm_iommu: the GPU's own paging domain on its SMMU (the global address space: ringbuffers,
 * firmware, memptrs, and user buffers of processes without a page table of their own). The
 * Adreno interface structure is registered for the GPU device before the attach, so that the
 * Qualcomm SMMU implementation fills it in when it sets up the GPU's context bank.
 */
export class MsmIommu implements MsmMmu {
  readonly kind = 'iommu';
  /** Per-process page tables alive on this domain (msm_iommu->pagetables). */
  pagetables = 0;
  handler: MsmFaultHandler | null = null;
  /** Faults no GPU handler took (a3xx installs none): only logged, as msm_fault_handler does. */
  readonly unhandledFaults: { iova: number; flags: number }[] = [];
  /** Set once the domain has been freed (the device went away before every file closed). */
  destroyed = false;

  private constructor(
    readonly kernel: Kernel,
    readonly dev: Device,
    readonly domain: IommuDomain,
    readonly priv: AdrenoSmmuPriv,
    readonly debug: MsmMmuDebug,
  ) {}

  /**
   * msm_iommu_gpu_new: -ENODEV when `dev` is not behind an IOMMU; otherwise a paging domain
   * attached to it, the GPU fault handler installed, and stall-on-fault enabled when the SMMU
   * offers it. Nothing is left behind on failure.
   */
  static createGpu(kernel: Kernel, dev: Device, debug: MsmMmuDebug): MsmIommu | number {
    if (!iommuGroupGet(dev)) return -ENODEV;
    const priv = adrenoSmmuPrivGet(dev) ?? adrenoSmmuPrivInit();
    adrenoSmmuPrivSet(dev, priv);
    const domain = iommuDomainAlloc(dev, 'unmanaged');
    if (typeof domain === 'number') {
      adrenoSmmuPrivSet(dev, null);
      return domain;
    }
    const r = iommuAttachDevice(domain, dev);
    if (r < 0) {
      iommuDomainFree(domain);
      adrenoSmmuPrivSet(dev, null);
      return r;
    }
    const mmu = new MsmIommu(kernel, dev, domain, priv, debug);
    iommuSetFaultHandler(domain, (_d, _dev, iova, flags) => mmu.faultHandler(iova, flags));
    if (priv.setStall) priv.setStall(priv.cookie, true);
    return mmu;
  }

  /** msm_gpu_fault_handler: the fault registers through the Adreno interface, then the GPU's handler. */
  private faultHandler(iova: number, flags: number): number {
    let info: AdrenoSmmuFaultInfo | null = null;
    if (this.priv.getFaultInfo) {
      info = adrenoSmmuFaultInfoInit();
      this.priv.getFaultInfo(this.priv.cookie, info);
    }
    if (this.handler) return this.handler(iova, flags, info);
    // "%16lx": space-padded to 16 columns
    this.kernel.log.warn('msm', `*** fault: iova=${BigInt.asUintN(64, BigInt(iova)).toString(16).padStart(16, ' ')}, flags=${flags}`);
    // what that line said, kept for inspection (the last 256)
    this.unhandledFaults.push({ iova, flags });
    if (this.unhandledFaults.length > 256) this.unhandledFaults.shift();
    return 0;
  }

  /** resume_translation(terminate): lets the SMMU abort the transaction stalled on a fault. */
  resumeTranslation(): void {
    if (this.priv.resumeTranslation && this.priv.cookie) this.priv.resumeTranslation(this.priv.cookie, true);
  }

  /** The domain's aperture, as the IOMMU core reports it (negative for a TTBR1 domain). */
  get geometry(): { apertureStart: number; apertureEnd: number } {
    return this.domain.geometry;
  }

  map(iova: number, runs: readonly PageRun[], len: number, prot: number): number {
    const base = gpuToIommuIova(iova);
    let done = 0;
    for (const r of runs) {
      if (done >= len) break;
      const n = Math.min(r.len, len - done);
      const ret = iommuMap(this.domain, base + done, r.pa, n, prot);
      if (ret < 0) {
        if (done > 0) iommuUnmap(this.domain, base, done);
        return ret;
      }
      done += n;
    }
    return done === len ? 0 : -EINVAL;
  }

  unmap(iova: number, len: number): number {
    iommuUnmap(this.domain, gpuToIommuIova(iova), len);
    return 0;
  }

  /** msm_iommu_destroy (after detach): the domain goes, and the interface structure with it. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    iommuSetFaultHandler(this.domain, null);
    iommuDetachDevice(this.domain, this.dev);
    iommuDomainFree(this.domain);
    adrenoSmmuPrivSet(this.dev, null);
  }
}

let warnedNoPerProcess = false;

/**
 * msm_iommu_pagetable: a process's own ARM_64_LPAE_S1 table, built through the io-pgtable core
 * from the GPU context's TTBR1 configuration (same sizes and page sizes, without the TTBR1
 * quirk). The GPU's command processor switches TTBR0 to it at submit time; the first table
 * alive switches TTBR0 translation on through set_ttbr0_cfg and the last one switches it off.
 * TLB maintenance goes through the parent SMMU domain: io-pgtable's flush_all / flush_walk are
 * forwarded to the domain's own TLB callbacks (with the Adreno cookie), and every unmap ends
 * with a full flush of the context.
 */
export class MsmIommuPagetable implements MsmMmu {
  readonly kind = 'pagetable';
  readonly ops: IoPgtableOps;
  readonly cfg: IoPgtableCfg;
  /** TTBR0 value (table address) and ASID the command processor programs for this table. */
  readonly ttbr: bigint;
  readonly asid = 0;
  readonly pgsizeBitmap: number;
  private readonly mapped: MappedOut = { mapped: 0 };
  private readonly pg: IommuPgsizeOut = { pgsize: 0, count: 0 };
  private destroyed = false;

  private constructor(
    readonly parent: MsmIommu,
    ops: IoPgtableOps,
    cfg: IoPgtableCfg,
  ) {
    this.ops = ops;
    this.cfg = cfg;
    this.ttbr = cfg.armLpaeS1Cfg!.ttbr;
    this.pgsizeBitmap = cfg.pgsizeBitmap;
  }

  /**
   * msm_iommu_pagetable_create. -ENODEV when the SMMU gives no TTBR1 configuration (no Adreno
   * interface, or a non-Qualcomm SMMU: the caller falls back to the global address space),
   * -ENOMEM when io-pgtable cannot build the table (the format module missing or going away),
   * set_ttbr0_cfg's error for the first table.
   */
  static create(parent: MsmIommu): MsmIommuPagetable | number {
    const priv = parent.priv;
    const ttbr1 = priv.cookie && priv.getTtbr1Cfg ? (priv.getTtbr1Cfg(priv.cookie) as Readonly<AdrenoSmmuPgtableCfg & Partial<IoPgtableCfg>>) : null;
    if (!ttbr1) {
      if (!warnedNoPerProcess) {
        warnedNoPerProcess = true;
        parent.kernel.log.warn('', 'No per-process page tables');
      }
      return -ENODEV;
    }
    const holder: { pt: MsmIommuPagetable | null } = { pt: null };
    const parentTlb: IommuFlushOps | null = ttbr1.tlb ?? null;
    // the SMMU domain's own TLB callbacks, with its cookie: whatever invalidates the context
    const cookie = () => (priv.cookie && priv.setTtbr0Cfg ? priv.cookie : null);
    const tlb: IommuFlushOps = {
      tlbFlushAll: () => {
        const c = cookie();
        if (c) parentTlb?.tlbFlushAll?.(c);
      },
      tlbFlushWalk: (iova, size, granule) => {
        const c = cookie();
        if (c) parentTlb?.tlbFlushWalk?.(iova, size, granule, c);
      },
      tlbAddPage: () => {},
    };
    const cfg: IoPgtableCfg = {
      quirks: ttbr1.quirks & ~IO_PGTABLE_QUIRK_ARM_TTBR1,
      pgsizeBitmap: ttbr1.pgsizeBitmap,
      ias: ttbr1.ias,
      oas: ttbr1.oas,
      coherentWalk: ttbr1.coherentWalk,
      tlb,
      iommuDev: ttbr1.iommuDev,
    };
    const ops = allocIoPgtableOps(parent.kernel, 'ARM_64_LPAE_S1', cfg, holder);
    if (typeof ops === 'number') {
      parent.kernel.log.err('msm', `per-process page table: alloc_io_pgtable_ops(ARM_64_LPAE_S1) failed (${errnoName(ops)})`);
      return -ENOMEM;
    }
    if (parent.pagetables++ === 0) {
      const r = priv.setTtbr0Cfg ? priv.setTtbr0Cfg(priv.cookie, cfg) : -ENODEV;
      if (r < 0) {
        parent.pagetables--;
        freeIoPgtableOps(parent.kernel, ops);
        return r;
      }
    }
    const pt = new MsmIommuPagetable(parent, ops, cfg);
    holder.pt = pt;
    return pt;
  }

  map(iova: number, runs: readonly PageRun[], len: number, prot: number): number {
    const ops = this.ops;
    const pg = this.pg;
    const mapped = this.mapped;
    let addr = iova;
    let left = len;
    for (const r of runs) {
      if (left <= 0) break;
      let pa = r.pa;
      let size = Math.min(r.len, left);
      while (size > 0) {
        iommuPgsize(this.pgsizeBitmap, addr, pa, size, pg);
        if (pg.pgsize <= 0) {
          this.unmap(iova, addr - iova);
          return -EINVAL;
        }
        mapped.mapped = 0;
        const ret = ops.mapPages(addr, pa, pg.pgsize, pg.count, prot, mapped);
        pa += mapped.mapped;
        addr += mapped.mapped;
        size -= mapped.mapped;
        left -= mapped.mapped;
        if (ret < 0 || mapped.mapped === 0) {
          this.unmap(iova, addr - iova);
          return -EINVAL;
        }
      }
    }
    return left === 0 ? 0 : -EINVAL;
  }

  unmap(iova: number, len: number): number {
    const pg = this.pg;
    let ret = 0;
    let addr = iova;
    let size = len;
    while (size > 0) {
      iommuPgsize(this.pgsizeBitmap, addr, addr, size, pg);
      let unmapped = pg.pgsize > 0 ? this.ops.unmapPages(addr, pg.pgsize, pg.count, null) : 0;
      if (unmapped <= 0) {
        ret = -EINVAL;
        // carry on with the rest of the range so that nothing stays mapped
        unmapped = PAGE_SIZE;
      }
      addr += unmapped;
      size -= unmapped;
    }
    if (this.parent.debug.skipUnmapFlushes > 0) this.parent.debug.skipUnmapFlushes--;
    else if (!this.parent.destroyed) iommuFlushIotlbAll(this.parent.domain);
    return ret;
  }

  /** msm_iommu_pagetable_destroy: the last table turns TTBR0 off again, then the table goes. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    const priv = this.parent.priv;
    if (--this.parent.pagetables === 0 && priv.setTtbr0Cfg && priv.cookie) priv.setTtbr0Cfg(priv.cookie, null);
    freeIoPgtableOps(this.parent.kernel, this.ops);
  }
}
