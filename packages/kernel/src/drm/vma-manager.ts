import { EACCES, EINVAL, KernelError } from '../errno.js';
import type { KernelLog } from '../log.js';
import { DrmMm, DrmMmNode } from './mm.js';

/*
 * The DRM core's mmap offset manager (struct drm_vma_offset_manager,
 * drivers/gpu/drm/drm_vma_manager.c): the "fake offsets" user space passes to mmap(2) on a DRM
 * node to map a buffer object. One manager per DRM device (drm_gem_init makes it when the
 * driver has DRIVER_GEM), so every driver's objects share one offset space.
 *
 * Facts it follows:
 * - Everything is in pages except drm_vma_node_offset_addr, which is the node's first page
 *   shifted left by PAGE_SHIFT (the byte offset user space passes to mmap).
 * - The range is [DRM_FILE_PAGE_OFFSET_START, + DRM_FILE_PAGE_OFFSET_SIZE) pages: on a 64-bit
 *   kernel with 4 KiB pages, pages from 0x100000 (byte offset 4 GiB: offsets below 4 GiB stay
 *   free for the legacy maps) for 0xfffff * 256 pages.
 * - drm_vma_offset_add inserts with drm_mm_insert_node (best fit, no alignment); a node that is
 *   already in the manager keeps its offset and the call returns 0. Failures leave nothing
 *   behind (-ENOSPC when no hole fits).
 * - drm_vma_offset_remove of a node not in the manager does nothing; afterwards the node's
 *   start and size read 0 until it is added again.
 * - drm_vma_offset_lookup_locked finds the node with the highest start at or below the page
 *   asked for, and returns it only if it covers the whole [start, start + pages); the exact
 *   variant additionally requires the node to start there (what drm_gem_mmap uses).
 * - Each node keeps the open files allowed to map it (drm_vma_node_allow, done by the GEM core
 *   when a handle is created), refcounted per file; drm_vma_node_revoke drops one reference
 *   (a file not on the list is ignored), drm_vma_node_allow_once adds the file without taking
 *   another reference. The list survives add/remove of the offset.
 */

/** DRM_FILE_PAGE_OFFSET_START (64-bit, PAGE_SHIFT 12): (0xffffffff >> 12) + 1 pages. */
export const DRM_FILE_PAGE_OFFSET_START = 0x10_0000;
/** DRM_FILE_PAGE_OFFSET_SIZE (64-bit, PAGE_SHIFT 12): (0xffffffff >> 12) * 256 pages. */
export const DRM_FILE_PAGE_OFFSET_SIZE = 0xf_ffff * 256;

const PAGE_SHIFT = 12;
const PAGE_SIZE = 1 << PAGE_SHIFT;

/**
 * struct drm_vma_offset_node, as a GEM object embeds it (obj->vma_node): its place in the
 * offset space, if any, and the open files allowed to map it. `owner` is the object the node is
 * embedded in (what container_of gives back in drm_gem_mmap).
 */
export class DrmVmaOffsetNode<O = unknown> {
  /** @internal the drm_mm node in the manager's allocator (zeroed again on remove). */
  vmNode = new DrmMmNode();
  /** @internal allowed open files and their reference counts (vm_files). */
  readonly vmFiles = new Map<object, number>();
  /** Read-only mappings only (drm_vma_offset_node.readonly); the model's drivers leave it false. */
  readonly = false;

  constructor(readonly owner: O) {}

  /** The open files on the allow list (for debugging and leak checks). */
  get allowedFiles(): number {
    return this.vmFiles.size;
  }
}

/** drm_vma_node_start: the node's first page in the offset space, 0 when it has no offset. */
export function drmVmaNodeStart(node: DrmVmaOffsetNode): number {
  return node.vmNode.start;
}

/** drm_vma_node_size: the node's size in pages, 0 when it has no offset. */
export function drmVmaNodeSize(node: DrmVmaOffsetNode): number {
  return node.vmNode.size;
}

/** drm_vma_node_offset_addr: the byte offset user space passes to mmap (start << PAGE_SHIFT). */
export function drmVmaNodeOffsetAddr(node: DrmVmaOffsetNode): number {
  return node.vmNode.start * PAGE_SIZE;
}

/** drm_vma_node_has_offset / drm_mm_node_allocated on the embedded node. */
export function drmVmaNodeHasOffset(node: DrmVmaOffsetNode): boolean {
  return node.vmNode.allocated;
}

function allow(node: DrmVmaOffsetNode, tag: object, refCounted: boolean): number {
  if (typeof tag !== 'object' || tag === null) return -EINVAL;
  const n = node.vmFiles.get(tag);
  if (n === undefined) node.vmFiles.set(tag, 1);
  else if (refCounted) node.vmFiles.set(tag, n + 1);
  return 0;
}

/**
 * drm_vma_node_allow: `tag` (an open file) may map the node; a file already on the list gets
 * one more reference. 0 (Linux's only failure is -ENOMEM, which the model never sees; a tag
 * that is not an object is -EINVAL here).
 */
export function drmVmaNodeAllow(node: DrmVmaOffsetNode, tag: object): number {
  return allow(node, tag, true);
}

/** drm_vma_node_allow_once: as drm_vma_node_allow, but a file already on the list keeps its count. */
export function drmVmaNodeAllowOnce(node: DrmVmaOffsetNode, tag: object): number {
  return allow(node, tag, false);
}

/** drm_vma_node_revoke: drops one of `tag`'s references; at zero it leaves the list. Unknown tags: nothing. */
export function drmVmaNodeRevoke(node: DrmVmaOffsetNode, tag: object): void {
  const n = node.vmFiles.get(tag);
  if (n === undefined) return;
  if (n <= 1) node.vmFiles.delete(tag);
  else node.vmFiles.set(tag, n - 1);
}

/** drm_vma_node_is_allowed: whether `tag` is on the node's allow list. */
export function drmVmaNodeIsAllowed(node: DrmVmaOffsetNode, tag: object): boolean {
  return node.vmFiles.has(tag);
}

/** drm_vma_node_verify_access: 0 when `tag` may map the node, else -EACCES. */
export function drmVmaNodeVerifyAccess(node: DrmVmaOffsetNode, tag: object): number {
  return drmVmaNodeIsAllowed(node, tag) ? 0 : -EACCES;
}

/** struct drm_vma_offset_manager. */
export class DrmVmaOffsetManager {
  /** @internal vm_addr_space_mm */
  readonly mm: DrmMm;
  /** drm_mm node -> the offset node embedding it (container_of). */
  private readonly owners = new Map<DrmMmNode, DrmVmaOffsetNode>();

  /**
   * drm_vma_offset_manager_init: manages pages [pageOffset, pageOffset + size). A range no
   * unsigned long could carry is -EINVAL (KernelError).
   */
  constructor(pageOffset: number, size: number) {
    this.mm = new DrmMm(pageOffset, size);
  }

  /** First page and one past the last of the managed range. */
  get start(): number {
    return this.mm.start;
  }

  get end(): number {
    return this.mm.end;
  }

  /** The offset nodes in the manager, in offset order. */
  nodes(): DrmVmaOffsetNode[] {
    return this.mm.nodes().map((n) => this.owners.get(n)!);
  }

  /**
   * drm_vma_offset_add: gives `node` `pages` pages of offset space (best fit), 0. A node that
   * already has an offset keeps it (0, nothing changes). -ENOSPC when no hole fits (including
   * 0 pages); -EINVAL for a page count no unsigned long carries. Nothing kept on failure.
   */
  add(node: DrmVmaOffsetNode, pages: number): number {
    if (!(node instanceof DrmVmaOffsetNode)) return -EINVAL;
    if (node.vmNode.allocated) {
      if (node.vmNode.mm !== this.mm) return -EINVAL;
      return 0;
    }
    const r = this.mm.insertNode(node.vmNode, pages);
    if (r < 0) return r;
    this.owners.set(node.vmNode, node);
    return 0;
  }

  /**
   * drm_vma_offset_remove: the node's offset goes back; its start and size read 0 afterwards.
   * A node without an offset: nothing. A node that has an offset in another manager is a bug
   * (KernelError -EINVAL).
   */
  remove(node: DrmVmaOffsetNode): void {
    if (!node.vmNode.allocated) return;
    if (node.vmNode.mm !== this.mm) throw new KernelError(-EINVAL, 'drm_vma_offset_remove: the node belongs to another offset manager');
    this.owners.delete(node.vmNode);
    this.mm.removeNode(node.vmNode);
    node.vmNode = new DrmMmNode();
  }

  /**
   * drm_vma_offset_lookup_locked: the node containing page `start` whose range covers
   * [start, start + pages), or undefined.
   */
  lookup(start: number, pages: number): DrmVmaOffsetNode | undefined {
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(pages) || start < 0 || pages < 0) return undefined;
    // the node with the highest start at or below `start`
    const list = this.mm.nodes();
    let lo = 0;
    let hi = list.length - 1;
    let best: DrmMmNode | undefined;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const n = list[mid]!;
      if (n.start <= start) {
        best = n;
        if (n.start === start) break;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (!best || best.start + best.size < start + pages) return undefined;
    return this.owners.get(best);
  }

  /** drm_vma_offset_exact_lookup_locked: as lookup, and the node must start at page `start`. */
  exactLookup(start: number, pages: number): DrmVmaOffsetNode | undefined {
    const n = this.lookup(start, pages);
    return n && n.vmNode.start === start ? n : undefined;
  }

  /** No node has an offset. */
  get clean(): boolean {
    return this.mm.clean;
  }

  /**
   * drm_vma_offset_manager_destroy: drm_mm_takedown of the allocator, which WARNs
   * "Memory manager not clean during takedown." when nodes are left. True when clean.
   */
  destroy(log?: Pick<KernelLog, 'warn'>): boolean {
    return this.mm.takedown(log);
  }
}
