import { EBUSY, EINVAL } from '@gki/kernel';
import type { Kernel } from '@gki/kernel';
import { MsmDrmMm, type MsmMmNode } from './drm-mm.js';
import { PAGE_SIZE, type MsmMmu, type PageRun } from './mmu.js';

/**
 * struct msm_gem_address_space: a GPU virtual address range (in page units in its allocator),
 * the page tables behind it, and a reference count (the GPU holds the global one; each open
 * file its own, or a reference to the global one when it has no page table of its own; every
 * VMA and every submit in flight one more). The last reference destroys the page tables.
 */
export class MsmGemAddressSpace {
  readonly mm: MsmDrmMm;
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
    this.mm = new MsmDrmMm(vaStart / PAGE_SIZE, vaSize / PAGE_SIZE);
  }

  get(): this {
    this.refcount++;
    return this;
  }

  /** msm_gem_address_space_put: the last reference takes the allocator and the page tables down. */
  put(): void {
    if (--this.refcount > 0) return;
    if (!this.mm.isClean) this.kernel.log.warn('msm', `address space "${this.name}" destroyed with ${this.mm.allocatedNodes().length} VMA(s) left`);
    this.destroyed = true;
    this.mmu.destroy();
  }
}

/**
 * struct msm_gem_vma: a buffer's place in one address space: its node in the allocator, whether
 * its pages are in the page tables, and how many pins (submits in flight, kernel users) hold it.
 */
export class MsmGemVma {
  node: MsmMmNode | null = null;
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
 */
export function msmGemInitVma(vma: MsmGemVma, size: number, rangeStart: number, rangeEnd: number): number {
  if (vma.node) return -EBUSY;
  const node = vma.aspace.mm.insert(size / PAGE_SIZE, Math.floor(rangeStart / PAGE_SIZE), Math.floor(rangeEnd / PAGE_SIZE));
  if (typeof node === 'number') return node;
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
  vma.aspace.mm.remove(vma.node);
  vma.node = null;
  vma.aspace.put();
  return 0;
}
