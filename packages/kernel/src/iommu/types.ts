import type { Device } from '../driver/device.js';
import type { ModuleRef } from '../module/types.js';
import type { OfNode } from '../of/node.js';
import type { IommuGroup } from './group.js';

/** IOMMU_* mapping permission flags (include/linux/iommu.h values). */
export const IOMMU_READ = 1 << 0;
export const IOMMU_WRITE = 1 << 1;
export const IOMMU_CACHE = 1 << 2;
export const IOMMU_NOEXEC = 1 << 3;
export const IOMMU_MMIO = 1 << 4;
export const IOMMU_PRIV = 1 << 5;

/** Fault flags passed to a domain's fault handler (IOMMU_FAULT_READ is 0, as in Linux). */
export const IOMMU_FAULT_READ = 0;
export const IOMMU_FAULT_WRITE = 1 << 0;

/**
 * Domain types. `unmanaged`: the caller owns the IOVA space (iommu_domain_alloc);
 * `dma`: a default domain the DMA API manages; `identity`: translation bypassed;
 * `blocked`: all DMA aborts.
 */
export type IommuDomainType = 'unmanaged' | 'dma' | 'identity' | 'blocked';

/** True for the types whose IOVA space is a page table (map/unmap apply). */
export function iommuIsPagingDomain(type: IommuDomainType): boolean {
  return type === 'unmanaged' || type === 'dma';
}

/**
 * struct iommu_domain_geometry: the IOVA window the hardware translates (inclusive end).
 * A domain whose tables cover the upper half of the 64-bit IOVA space (an Arm TTBR1 table,
 * Linux's aperture `~0UL << ias .. ~0UL`) gives a negative window: the IOVA 2^64 - x is
 * written -x, so `apertureStart = -2^ias`, `apertureEnd = -1`, and map/unmap take such
 * negative IOVAs for it (the io-pgtable formats use the same convention).
 */
export interface IommuDomainGeometry {
  apertureStart: number;
  apertureEnd: number;
  /** DMA outside the aperture is impossible, so the DMA API must stay inside it. */
  forceAperture: boolean;
}

/**
 * struct iommu_iotlb_gather: the IOVA range and page size an unmap accumulated, to be
 * invalidated by `iotlbSync`. Same shape as io-pgtable-core's type, so a driver can pass
 * the core's gather straight to its page-table ops.
 */
export interface IommuIotlbGather {
  start: number;
  /** Inclusive end; start > end (MAX/MIN_SAFE_INTEGER when initialised) means empty. */
  end: number;
  pgsize: number;
  queued: boolean;
}

/** `size_t *mapped` of map_pages: the driver ADDS the bytes it mapped. */
export interface IommuMappedOut {
  mapped: number;
}

/**
 * The one-page entry points of a domain's page table (the io_pgtable_ops map_pages and
 * unmap_pages a driver's own mapPages/unmapPages forward to): same arguments as the driver's
 * ops without the domain, same results.
 */
export interface IommuPgtableOps {
  mapPages(iova: number, paddr: number, pgsize: number, pgcount: number, prot: number, mapped: IommuMappedOut): number;
  unmapPages(iova: number, pgsize: number, pgcount: number, gather: IommuIotlbGather): number;
  /**
   * Optional one-page fast entry: when the table can take this call on its own fast path (one
   * page of `pgsize` at a non-negative integer `iova` into an empty slot, integer `paddr` in
   * range, `iova` and `paddr` aligned to `pgsize`, `prot` with READ or WRITE), does exactly what
   * `mapPages(iova, paddr, pgsize, 1, prot, mapped)` would (adding `pgsize` to `mapped`
   * excepted: there is none) and returns 0; otherwise changes nothing, reports nothing and
   * returns 1 (the caller then makes its ordinary call). The caller guarantees that `prot` is
   * an int32; any other argument may be anything (a table takes only its own page size). Lets
   * iommu_map's one-page path leave the range and integer tests to the table, which makes
   * them anyway, so that the whole chain stays small enough for V8 to inline into the caller.
   */
  tryMapPage?(iova: number, paddr: number, pgsize: number, prot: number): number;
  /**
   * Optional second one-page entry, which iommu_map calls when tryMapPage declined (before its
   * ordinary call; never from the inlined first test, so it may be longer): the same contract
   * as tryMapPage (0 having done what mapPages would, else 1 having changed nothing), and one
   * more answer: when that mapPages call would fail having mapped nothing and this entry took
   * it (e.g. a table allocation failed), it does what mapPages would have done and returns the
   * same -errno. Lets a table take the first page of a table that is missing or not in its
   * walk cache on a short path (ARM LPAE: one level up from the walk cache). The caller
   * guarantees that `prot` is an int32 and `pgsize` one of the domain's page sizes.
   */
  tryMapPageWalk?(iova: number, paddr: number, pgsize: number, prot: number): number;
  /**
   * Optional one-page fast entry of unmap: when the table can take the call on its own fast
   * path (one leaf of `pgsize` at a non-negative integer `iova` aligned to it), does exactly
   * what `unmapPages(iova, pgsize, 1, gather)` would and returns `pgsize`; otherwise changes
   * nothing, reports nothing and returns 0. Any argument may be anything.
   */
  tryUnmapPage?(iova: number, pgsize: number, gather: IommuIotlbGather): number;
  /**
   * Optional: tryMapPage(iovaPfn * pgsize, paPfn * pgsize, pgsize, prot), same answer and
   * effect, for a caller that holds its addresses as frame numbers of `pgsize` (the DMA API's
   * one-page path). The caller guarantees that both frames are non-negative integers whose
   * addresses are below 2^53, `pgsize` a power of two below 2^31 and `prot` an int32; the
   * table may then test the frames with integer arithmetic.
   */
  tryMapPfn?(iovaPfn: number, paPfn: number, pgsize: number, prot: number): number;
  /** Optional: tryUnmapPage(iovaPfn * pgsize, pgsize, gather), with tryMapPfn's guarantees. */
  tryUnmapPfn?(iovaPfn: number, pgsize: number, gather: IommuIotlbGather): number;
}

/** struct iommu_domain_ops: what the driver does for one domain. */
export interface IommuDomainOps {
  /** Attaches `dev` to `domain` (replacing its previous domain): 0 or -errno. */
  attachDev(domain: IommuDomain, dev: Device): number;
  /**
   * Maps `pgcount` pages of `pgsize` bytes at `iova` -> `paddr`, adding the bytes it mapped
   * to `mapped.mapped` (it may map fewer than asked, then it is called again). 0 or -errno.
   */
  mapPages(domain: IommuDomain, iova: number, paddr: number, pgsize: number, pgcount: number, prot: number, mapped: IommuMappedOut): number;
  /** Unmaps up to `pgcount` pages of `pgsize` at `iova`; bytes unmapped (0 or < 0 on failure). */
  unmapPages(domain: IommuDomain, iova: number, pgsize: number, pgcount: number, gather: IommuIotlbGather): number;
  /** Invalidates what `gather` collected. */
  iotlbSync?(domain: IommuDomain, gather: IommuIotlbGather): void;
  /** Invalidates the whole domain's TLB entries. */
  flushIotlbAll?(domain: IommuDomain): void;
  /** The physical address `iova` translates to, or 0 when unmapped. */
  iovaToPhys(domain: IommuDomain, iova: number): number;
  /** Releases the domain's driver resources (page tables, context bank, ASID). */
  free(domain: IommuDomain): void;
  /**
   * enable_nesting: asks for a nesting-capable (stage-2) translation before the domain is
   * first attached. 0, or -EPERM once it has been attached, -EINVAL when unsupported.
   */
  enableNesting?(domain: IommuDomain): number;
  /**
   * set_pgtable_quirks: io-pgtable quirks (IO_PGTABLE_QUIRK_*) to apply when the domain's
   * page table is built at first attach. 0, or -EPERM once attached, -EINVAL when unsupported.
   */
  setPgtableQuirks?(domain: IommuDomain, quirks: number): number;
}

/**
 * struct iommu_domain as the driver allocates it. A driver may return an object with more
 * fields (its own domain state); the core never touches those. `pgsizeBitmap` is a plain
 * number (sizes up to 2^52 are exact): test bits with arithmetic, not `&`.
 */
export interface IommuDomain {
  readonly type: IommuDomainType;
  readonly ops: IommuDomainOps;
  pgsizeBitmap: number;
  geometry: IommuDomainGeometry;
  /**
   * The page table the driver's `ops.mapPages` / `ops.unmapPages` forward to unchanged (as
   * Linux's arm_smmu_map_pages forwards to its io_pgtable_ops->map_pages and does nothing
   * else), published by the driver with `iommuDomainSetPgtblOps` once that table exists and
   * withdrawn (null) before it goes. While it is set, iommu_map / iommu_unmap of one page call
   * it directly instead of the driver's op, with the same results. Absent or null: the core
   * always calls the driver's ops. Written only through `iommuDomainSetPgtblOps`, which
   * accepts it for paging domains with ops only; a driver whose ops do more than forward (a
   * runtime-PM reference, a lock, a different table per call) must not publish.
   */
  readonly pgtblOps?: IommuPgtableOps | null;
}

/** struct iommu_fwspec: the IOMMU a master sits behind and its IDs (stream IDs) there. */
export interface IommuFwspec {
  readonly iommuFwnode: OfNode;
  readonly ids: readonly number[];
}

/**
 * struct iommu_ops: what an IOMMU driver registers with `iommuDeviceRegister`.
 * `owner` is the driver's module: the core holds a reference on it for every master
 * probed through these ops and for every domain they allocated.
 */
export interface IommuOps {
  readonly owner?: ModuleRef | null;
  /** Page sizes the hardware supports (bit n set: 2^n bytes), copied into new domains when they leave it 0. */
  readonly pgsizeBitmap?: number;
  /** Sets up per-master state from the fwspec (stream table entries, ...): 0 or -errno. */
  probeDevice(dev: Device): number;
  /** Undoes probeDevice. */
  releaseDevice?(dev: Device): void;
  /**
   * The group `dev` belongs to: an existing group (devices sharing IDs) or a new one
   * (`genericDeviceGroup`). Default when absent: one group per device. Group or -errno.
   */
  deviceGroup?(dev: Device): IommuGroup | number;
  /** Records one DT `iommus` specifier's cells in dev's fwspec (`iommuFwspecAddIds`): 0 or -errno. */
  ofXlate?(dev: Device, args: readonly number[]): number;
  /** Allocates a domain of `type`, or returns -errno (-EOPNOTSUPP/-EINVAL for a type it lacks). */
  domainAlloc(type: IommuDomainType, dev: Device | null): IommuDomain | number;
  /** The default domain type `dev` must get (def_domain_type), or null for the system default. */
  defDomainType?(dev: Device): IommuDomainType | null;
}

/** struct iommu_device: one IOMMU instance, as its driver registers it from probe. */
export interface IommuDevice {
  /** The IOMMU's own device. */
  readonly dev: Device;
  readonly ops: IommuOps;
  /** Its DT node: masters' `iommus` phandles point here. Defaults to dev.ofNode. */
  readonly fwnode?: OfNode | null;
}

/**
 * Fault handler (iommu_fault_handler_t): 0 when handled, -ENOSYS (or another -errno) if not.
 * For a transaction the IOMMU stalled, -EAGAIN asks the driver to retry it (the handler has
 * made the address translatable); any other answer lets the driver terminate it, as Linux's
 * Arm SMMU drivers do. `dev` is the master that faulted when the driver can tell, else the
 * IOMMU's own device (Linux passes NULL there).
 */
export type IommuFaultHandler = (domain: IommuDomain, dev: Device, iova: number, flags: number, token: unknown) => number;
