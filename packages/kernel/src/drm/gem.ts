import { EACCES, EINVAL, ENODEV, ENOMEM, KernelError } from '../errno.js';
import type { Kernel } from '../kernel.js';
import type { DrmDevice } from './device.js';
import type { DrmHandleTable } from './handles.js';
import { drmVmaNodeAllow, drmVmaNodeIsAllowed, drmVmaNodeRevoke, type DrmVmaOffsetManager, type DrmVmaOffsetNode } from './vma-manager.js';

const PAGE_SIZE = 0x1000;

/** Largest block taken from the page allocator for a GEM object's memory: 2 MiB (order 9). */
export const DRM_GEM_MAX_BLOCK_ORDER = 9;

/** A naturally aligned block of 2^order pages from the page allocator. */
export interface DrmGemBlock {
  readonly pa: number;
  readonly order: number;
}

/** A physically contiguous run of an object's memory (one scatterlist entry after merging). */
export interface DrmGemPageRun {
  pa: number;
  len: number;
}

/**
 * drm_gem_get_pages, as the model backs objects: `bytes` (a page multiple) from the page
 * allocator in naturally aligned blocks of at most 2 MiB, the largest that fit first, falling
 * back to smaller blocks when a large one is not free (the stand-in for shmem pages, single
 * pages that the scatterlist merges when they happen to be contiguous). -ENOMEM with nothing
 * kept on failure.
 */
export function drmGemAllocBlocks(kernel: Kernel, bytes: number): DrmGemBlock[] | number {
  const blocks: DrmGemBlock[] = [];
  let left = bytes / PAGE_SIZE;
  while (left > 0) {
    let order = Math.min(DRM_GEM_MAX_BLOCK_ORDER, 31 - Math.clz32(left));
    let pa = kernel.pages.allocPages(order);
    while (pa < 0 && order > 0) pa = kernel.pages.allocPages(--order);
    if (pa < 0) {
      drmGemFreeBlocks(kernel, blocks);
      return -ENOMEM;
    }
    blocks.push({ pa, order });
    left -= 1 << order;
  }
  return blocks;
}

/** drm_gem_put_pages: gives the blocks back. */
export function drmGemFreeBlocks(kernel: Kernel, blocks: readonly DrmGemBlock[]): void {
  for (const b of blocks) kernel.pages.freePages(b.pa, b.order);
}

/** drm_prime_pages_to_sg: physically adjacent blocks merge into one run. */
export function drmGemBlocksToRuns(blocks: readonly DrmGemBlock[]): DrmGemPageRun[] {
  const runs: DrmGemPageRun[] = [];
  for (const b of blocks) {
    const len = PAGE_SIZE << b.order;
    const last = runs[runs.length - 1];
    if (last && last.pa + last.len === b.pa) last.len += len;
    else runs.push({ pa: b.pa, len });
  }
  return runs;
}

/** The physical address of byte `off` of the memory the runs describe, or -1 beyond it. */
export function drmGemRunsPhys(runs: readonly DrmGemPageRun[], off: number): number {
  let base = 0;
  for (const r of runs) {
    if (off < base + r.len) return r.pa + (off - base);
    base += r.len;
  }
  return -1;
}

/*
 * CPU access to an object through the kernel's linear map (what a process's mmap of the
 * object reaches), page by page. The caller has checked the range lies inside the object.
 */

/** Reads `len` bytes from byte `off`. */
export function drmGemRunsRead(kernel: Kernel, runs: readonly DrmGemPageRun[], off: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  let done = 0;
  while (done < len) {
    const pa = drmGemRunsPhys(runs, off + done);
    const n = Math.min(len - done, PAGE_SIZE - (pa % PAGE_SIZE));
    out.set(kernel.mem.readBytes(pa, n), done);
    done += n;
  }
  return out;
}

/** Writes `data` at byte `off`. */
export function drmGemRunsWrite(kernel: Kernel, runs: readonly DrmGemPageRun[], off: number, data: Uint8Array): void {
  let done = 0;
  while (done < data.length) {
    const pa = drmGemRunsPhys(runs, off + done);
    const n = Math.min(data.length - done, PAGE_SIZE - (pa % PAGE_SIZE));
    kernel.mem.writeBytes(pa, data.subarray(done, done + n));
    done += n;
  }
}

/** Fills [off, off + len) with the 32-bit `pattern` (off and len multiples of 4). */
export function drmGemRunsFill32(kernel: Kernel, runs: readonly DrmGemPageRun[], off: number, len: number, pattern: number): void {
  const mem = kernel.mem;
  const v = pattern >>> 0;
  let base = 0;
  for (const r of runs) {
    const from = Math.max(off, base);
    const to = Math.min(off + len, base + r.len);
    for (let o = from; o < to; o += 4) mem.write32(r.pa + (o - base), v);
    base += r.len;
  }
}

/*
 * GEM objects' mmap offsets and handles (drivers/gpu/drm/drm_gem.c), over the device's offset
 * manager (drm_vma_manager). A GEM object embeds its offset node (obj->vma_node); C reaches the
 * device through obj->dev, the model's helpers take the DRM device as their first argument.
 */

/** What the GEM helpers use of an object: its size (bytes, a page multiple) and its offset node. */
export interface DrmGemMmapObject {
  readonly size: number;
  readonly vmaNode: DrmVmaOffsetNode;
}

function managerOf(ddev: DrmDevice): DrmVmaOffsetManager {
  const m = ddev.vmaOffsetManager;
  if (!m) throw new KernelError(-EINVAL, `drm: ${ddev.driver.name} has no GEM offset manager (no DRIVER_GEM)`);
  return m;
}

/**
 * drm_gem_create_mmap_offset_size: gives the object `size` bytes (page multiple; rounded down
 * to pages as C's size / PAGE_SIZE does) of offset space; idempotent: an object that has an
 * offset keeps it. 0, or -ENOSPC when the offset space is full (nothing kept).
 */
export function drmGemCreateMmapOffsetSize(ddev: DrmDevice, obj: DrmGemMmapObject, size: number): number {
  return managerOf(ddev).add(obj.vmaNode, Math.floor(size / PAGE_SIZE));
}

/** drm_gem_create_mmap_offset: drm_gem_create_mmap_offset_size over the object's whole size. */
export function drmGemCreateMmapOffset(ddev: DrmDevice, obj: DrmGemMmapObject): number {
  return drmGemCreateMmapOffsetSize(ddev, obj, obj.size);
}

/** drm_gem_free_mmap_offset: the object's offset goes back (nothing when it has none). */
export function drmGemFreeMmapOffset(ddev: DrmDevice, obj: DrmGemMmapObject): void {
  managerOf(ddev).remove(obj.vmaNode);
}

/**
 * drm_gem_object_release, as far as the model's core keeps per-object state: the mmap offset
 * goes (drm_gem_free_mmap_offset). The driver's free callback calls it before freeing its object.
 */
export function drmGemObjectRelease(ddev: DrmDevice, obj: DrmGemMmapObject): void {
  drmGemFreeMmapOffset(ddev, obj);
}

/**
 * drm_gem_handle_create (its tail): a new handle in the file's table naming `obj` (idr_alloc from
 * 1), and the file allowed to mmap the object (drm_vma_node_allow, refcounted: one per handle).
 * The handle, or -ENOSPC from the table with nothing kept. `file` is the open file (drm_file)
 * the allow list records.
 */
export function drmGemHandleCreate<T extends DrmGemMmapObject>(file: object, handles: DrmHandleTable<T>, obj: T): number {
  const handle = handles.alloc(obj);
  if (handle < 0) return handle;
  const r = drmVmaNodeAllow(obj.vmaNode, file);
  if (r < 0) {
    handles.remove(handle);
    return r;
  }
  return handle;
}

/**
 * drm_gem_handle_delete (DRM_IOCTL_GEM_CLOSE, and each handle at file close): the handle goes
 * and one of the file's mmap permissions on its object with it (drm_vma_node_revoke). The
 * object the handle named (the caller drops the handle's reference), or -EINVAL when the
 * handle names nothing (nothing changed).
 */
export function drmGemHandleDelete<T extends DrmGemMmapObject>(file: object, handles: DrmHandleTable<T>, handle: unknown): T | number {
  const obj = handles.remove(handle);
  if (typeof obj === 'number') return obj;
  drmVmaNodeRevoke(obj.vmaNode, file);
  return obj;
}

/**
 * drm_gem_mmap, with mmap(2)'s own checks first: `file` maps `length` bytes (rounded up to
 * pages) at byte `offset` of the device's node. -EINVAL for an offset that is not a page
 * multiple or a length of 0 (mmap(2)); -ENODEV when the device is unplugged; -EINVAL when no
 * object's offset starts exactly at that page and covers the length
 * (drm_vma_offset_exact_lookup_locked); -EACCES when the file may not map it (no handle to it:
 * drm_vma_node_is_allowed). Otherwise the object (the node's owner).
 */
export function drmGemMmap<O>(ddev: DrmDevice, file: object, offset: number, length: number): O | number {
  if (!Number.isSafeInteger(offset) || offset < 0 || offset % PAGE_SIZE !== 0) return -EINVAL;
  if (!Number.isSafeInteger(length) || length <= 0) return -EINVAL;
  if (ddev.isUnplugged) return -ENODEV;
  const node = managerOf(ddev).exactLookup(offset / PAGE_SIZE, Math.ceil(length / PAGE_SIZE));
  if (!node) return -EINVAL;
  if (!drmVmaNodeIsAllowed(node, file)) return -EACCES;
  return node.owner as O;
}
