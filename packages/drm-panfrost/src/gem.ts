import {
  DRM_GEM_MAX_BLOCK_ORDER,
  EFAULT,
  EINVAL,
  ENOMEM,
  DrmVmaOffsetNode,
  KernelError,
  drmGemAllocBlocks,
  drmGemBlocksToRuns,
  drmGemFreeBlocks,
  drmGemRunsFill32,
  drmGemRunsPhys,
  drmGemRunsRead,
  drmGemRunsWrite,
} from '@gki/kernel';
import type { DrmGemBlock, DrmGemPageRun, DrmMmNode, Kernel } from '@gki/kernel';
import type { PanfrostFence } from './job.js';
import type { PanfrostMmu } from './mmu.js';

const PAGE_SIZE = 0x1000;
const SZ_2M = 0x20_0000;
/** Largest block the driver takes from the page allocator for buffer memory: 2 MiB (order 9). */
export const BO_MAX_ORDER = DRM_GEM_MAX_BLOCK_ORDER;

/** A physically contiguous run of a buffer's memory (one scatterlist entry after merging). */
export type PageRun = DrmGemPageRun;

/**
 * A panfrost buffer object (GEM shmem object plus panfrost's fields): its size, flags, backing
 * pages (allocated when the buffer is first mapped; for a heap, 2 MiB at a time on GPU faults),
 * madvise state, the fence of the last job that used it, and its fake mmap offset.
 */
export class PanfrostBo {
  refcount = 1;
  readonly size: number;
  readonly noexec: boolean;
  readonly isHeap: boolean;
  /** Backing blocks of a non-heap buffer (empty until mapped, and after a purge). */
  private blocks: DrmGemBlock[] = [];
  /** Heap: the blocks of each 2 MiB chunk, null where the GPU has not faulted yet. */
  private heapBlocks: (DrmGemBlock[] | null)[] = [];
  /** The merged runs of `blocks` (the buffer's sg table). */
  sgt: PageRun[] = [];
  /** PANFROST_MADV_WILLNEED (0), DONTNEED (1), or -1 once purged. */
  madv = 0;
  heapRssSize = 0;
  /** Jobs in flight that use the buffer (gpu_usecount). */
  gpuUsecount = 0;
  /** The reservation object's fence: the last job submitted with this buffer. */
  resvFence: PanfrostFence | null = null;
  /** The mappings of this buffer (one per file that has a handle). */
  readonly mappings: PanfrostGemMapping[] = [];
  /** The buffer's place in the DRM device's mmap offset space (obj->vma_node), once MMAP_BO asked for one, and the files allowed to map it. */
  readonly vmaNode = new DrmVmaOffsetNode<PanfrostBo>(this);
  freed = false;
  readonly id: number;

  constructor(
    private readonly kernel: Kernel,
    size: number,
    flags: { noexec: boolean; heap: boolean },
    id: number,
  ) {
    this.size = size;
    this.noexec = flags.noexec;
    this.isHeap = flags.heap;
    this.id = id;
    if (this.isHeap) this.heapBlocks = new Array<DrmGemBlock[] | null>(size / SZ_2M).fill(null);
  }

  get hasPages(): boolean {
    return this.blocks.length > 0 || this.heapBlocks.some((b) => b !== null);
  }

  /** drm_gem_shmem_get_pages_sgt: backing memory for a non-heap buffer; 0 or -ENOMEM. */
  getPages(): number {
    if (this.isHeap) throw new KernelError(-EINVAL, 'panfrost: heap buffers have no pinned pages');
    if (this.blocks.length > 0) return 0;
    if (this.madv < 0) return -ENOMEM;
    const b = drmGemAllocBlocks(this.kernel, this.size);
    if (typeof b === 'number') return b;
    this.blocks = b;
    this.sgt = drmGemBlocksToRuns(b);
    return 0;
  }

  /** Heap: whether 2 MiB chunk `i` has been faulted in. */
  heapChunk(i: number): boolean {
    return this.heapBlocks[i] !== null && this.heapBlocks[i] !== undefined;
  }

  /** Heap: allocates chunk `i` (512 pages) and returns its runs, or -ENOMEM / -EINVAL. */
  populateHeapChunk(i: number): PageRun[] | number {
    if (!this.isHeap || !Number.isInteger(i) || i < 0 || i >= this.heapBlocks.length) return -EINVAL;
    const b = drmGemAllocBlocks(this.kernel, SZ_2M);
    if (typeof b === 'number') return b;
    this.heapBlocks[i] = b;
    return drmGemBlocksToRuns(b);
  }

  /** Heap: frees chunk `i` again (a fault that could not be mapped). */
  dropHeapChunk(i: number): void {
    const hb = this.heapBlocks[i];
    if (!hb) return;
    drmGemFreeBlocks(this.kernel, hb);
    this.heapBlocks[i] = null;
  }

  /** Chunks of a heap that are backed, for tests and dumps. */
  heapChunksPresent(): number[] {
    const out: number[] = [];
    this.heapBlocks.forEach((b, i) => b && out.push(i));
    return out;
  }

  /** Frees every backing page (object free or purge). */
  freePages(): void {
    drmGemFreeBlocks(this.kernel, this.blocks);
    this.blocks = [];
    this.sgt = [];
    for (let i = 0; i < this.heapBlocks.length; i++) {
      const hb = this.heapBlocks[i];
      if (hb) drmGemFreeBlocks(this.kernel, hb);
      this.heapBlocks[i] = null;
    }
  }

  /** The physical address of byte `off` of a non-heap buffer, or -1 when it has no pages. */
  physAt(off: number): number {
    return drmGemRunsPhys(this.sgt, off);
  }
}

/** A buffer's presence in one file's address space (struct panfrost_gem_mapping). */
export class PanfrostGemMapping {
  refcount = 1;
  active = false;
  released = false;

  constructor(
    readonly bo: PanfrostBo,
    readonly mmu: PanfrostMmu,
    readonly node: DrmMmNode,
  ) {}

  /** GPU virtual address of the buffer's first byte. */
  get iova(): number {
    return this.node.start * PAGE_SIZE;
  }
  get size(): number {
    return this.node.size * PAGE_SIZE;
  }
}

/**
 * A CPU mapping of a buffer (what mmap of the MMAP_BO offset gives a process): byte and word
 * access to the buffer's pages through the kernel's linear map. Access to a purged buffer, or
 * outside the mapped length, fails with KernelError(-EFAULT) (the process would get SIGBUS or
 * SIGSEGV).
 */
export class PanfrostCpuMapping {
  constructor(
    private readonly kernel: Kernel,
    private readonly bo: PanfrostBo,
    readonly length: number,
  ) {}

  private pa(off: number, len: number): number {
    if (!Number.isInteger(off) || off < 0 || off + len > this.length)
      throw new KernelError(-EFAULT, `panfrost mmap: access of ${len} byte(s) at +0x${off.toString(16)} outside the ${this.length}-byte mapping`);
    if (this.bo.freed || this.bo.madv < 0) throw new KernelError(-EFAULT, `panfrost mmap: BO ${this.bo.id} has no backing pages (purged or freed): SIGBUS`);
    if (this.bo.getPages() < 0) throw new KernelError(-EFAULT, `panfrost mmap: BO ${this.bo.id} pages could not be allocated: SIGBUS`);
    return this.bo.physAt(off);
  }

  read32(off: number): number {
    if (off % 4) throw new KernelError(-EFAULT, `panfrost mmap: misaligned 32-bit read at +0x${off.toString(16)}`);
    return this.kernel.mem.read32(this.pa(off, 4)) >>> 0;
  }

  write32(off: number, v: number): void {
    if (off % 4) throw new KernelError(-EFAULT, `panfrost mmap: misaligned 32-bit write at +0x${off.toString(16)}`);
    this.kernel.mem.write32(this.pa(off, 4), v >>> 0);
  }

  /** Reads `len` bytes from `off` (across page runs). */
  read(off: number, len: number): Uint8Array {
    this.pa(off, len);
    return drmGemRunsRead(this.kernel, this.bo.sgt, off, len);
  }

  /** Writes `data` at `off` (across page runs). */
  write(off: number, data: Uint8Array): void {
    this.pa(off, data.length);
    drmGemRunsWrite(this.kernel, this.bo.sgt, off, data);
  }

  /** Fills [off, off + len) with the 32-bit `pattern` (off and len multiples of 4). */
  fill32(off: number, len: number, pattern: number): void {
    if (off % 4 || len % 4) throw new KernelError(-EFAULT, 'panfrost mmap: fill32 needs 4-byte aligned offset and length');
    this.pa(off, len);
    drmGemRunsFill32(this.kernel, this.bo.sgt, off, len, pattern);
  }
}
