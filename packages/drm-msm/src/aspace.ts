import { DRM_MM_INSERT_BEST, DrmMm, DrmMmNode, EBUSY, EINVAL } from '@gki/kernel';
import type { Kernel } from '@gki/kernel';
import { PAGE_SIZE, type MsmMmu, type PageRun } from './mmu.js';

/**
 * struct msm_gem_address_space: a GPU virtual address range (in page units in its allocator),
 * the page tables behind it, and a reference count (the GPU holds the global one; each open
 * file its own, or a reference to the global one when it has no page table of its own; every
 * VMA and every submit in flight one more). The last reference destroys the page tables.
 */
export class MsmGemAddressSpace {
  readonly mm: DrmMm;
  refcount = 1;
  /** GPU hangs blamed on submits from this address space (MSM_PARAM_FAULTS adds them). */
  faults = 0;
  /** The process that created it (per-process spaces). */
  pid = 0;
  destroyed = false;

  constructor(
    readonly kernel: Kernel,
    readonly name: string,
    readonly mmu: MsmMmu,
    /** First GPU address (bytes; 49-bit GPU form) and size of the range. */
    readonly vaStart: number,
    readonly vaSize: number,
  ) {
    this.mm = new DrmMm(vaStart / PAGE_SIZE, vaSize / PAGE_SIZE);
  }

  get(): this {
    this.refcount++;
    return this;
  }

  /** msm_gem_address_space_put: the last reference takes the allocator and the page tables down. */
  put(): void {
    if (--this.refcount > 0) return;
    // the address space's destroy: drm_mm_takedown, which WARNs about VMAs left behind
    const left = this.mm.nodes().length;
    if (!this.mm.takedown(this.kernel.log)) this.kernel.log.warn('msm', `address space "${this.name}" destroyed with ${left} VMA(s) left`);
    this.destroyed = true;
    this.mmu.destroy();
  }
}

/**
 * struct msm_gem_vma: a buffer's place in one address space: its node in the allocator, whether
 * its pages are in the page tables, and how many pins (submits in flight, kernel users) hold it.
 */
export class MsmGemVma {
  node: DrmMmNode | null = null;
  mapped = false;
  inuse = 0;

  constructor(readonly aspace: MsmGemAddressSpace) {}

  get iova(): number {
    return this.node ? this.node.start * PAGE_SIZE : 0;
  }
}

/**
 * msm_gem_init_vma: a node of `size` bytes inside [rangeStart, rangeEnd) (bytes), taking a
 * reference on the address space. -EBUSY when the VMA already has an address, -ENOSPC when the
 * range is full.
 *
 * msm asks drm_mm_insert_node_in_range for mode 0 (DRM_MM_INSERT_BEST) with page alignment in a
 * byte-unit allocator; this one counts pages, so the node must start at or above the first page
 * boundary at or after rangeStart and end at or below rangeEnd.
 */
export function msmGemInitVma(vma: MsmGemVma, size: number, rangeStart: number, rangeEnd: number): number {
  if (vma.node) return -EBUSY;
  const node = new DrmMmNode();
  const r = vma.aspace.mm.insertNodeInRange(node, size / PAGE_SIZE, 0, 0, Math.ceil(rangeStart / PAGE_SIZE), Math.floor(rangeEnd / PAGE_SIZE), DRM_MM_INSERT_BEST);
  if (r < 0) return r;
  vma.node = node;
  vma.mapped = false;
  vma.aspace.get();
  return 0;
}

/** msm_gem_map_vma: a pin; the first maps the pages with `prot`. -EINVAL without an address. */
export function msmGemMapVma(vma: MsmGemVma, prot: number, runs: readonly PageRun[], size: number): number {
  if (!vma.node) return -EINVAL;
  vma.inuse++;
  if (vma.mapped) return 0;
  vma.mapped = true;
  const r = vma.aspace.mmu.map(vma.iova, runs, size, prot);
  if (r < 0) {
    vma.mapped = false;
    vma.inuse--;
  }
  return r;
}

/** msm_gem_unmap_vma: drops a pin; the pages stay mapped. */
export function msmGemUnmapVma(vma: MsmGemVma): void {
  if (vma.inuse > 0) vma.inuse--;
}

/** msm_gem_purge_vma: unpinned and mapped: the pages leave the page tables (with the TLB flush). */
export function msmGemPurgeVma(vma: MsmGemVma, size: number): void {
  if (vma.inuse > 0 || !vma.mapped || !vma.node) return;
  vma.aspace.mmu.unmap(vma.iova, size);
  vma.mapped = false;
}

/** msm_gem_close_vma: gives the address back and drops the address-space reference. */
export function msmGemCloseVma(vma: MsmGemVma): number {
  if (vma.inuse > 0 || vma.mapped) {
    vma.aspace.kernel.log.warn('msm', `closing a VMA at 0x${vma.iova.toString(16)} still ${vma.mapped ? 'mapped' : 'in use'}`);
    return -EBUSY;
  }
  if (!vma.node) return 0;
  vma.aspace.mm.removeNode(vma.node);
  vma.node = null;
  vma.aspace.put();
  return 0;
}
