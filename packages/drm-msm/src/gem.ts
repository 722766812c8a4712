import {
  EFAULT,
  ENOMEM,
  IOMMU_CACHE,
  IOMMU_PRIV,
  IOMMU_READ,
  IOMMU_WRITE,
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
import type { DrmGemBlock, Kernel } from '@gki/kernel';
import { MsmGemVma, msmGemCloseVma, msmGemPurgeVma, type MsmGemAddressSpace } from './aspace.js';
import { PAGE_SIZE, type PageRun } from './mmu.js';
import { MSM_BO_CACHED_COHERENT, MSM_BO_GPU_READONLY } from './uapi.js';

/** Kernel-only buffer flag: mapped privileged (IOMMU_PRIV), for buffers only the CP may touch. */
export const MSM_BO_MAP_PRIV = 0x2000_0000;

/**
 * A dma_fence of the GPU: signalled once the command processor wrote its sequence number to the
 * ring's memptrs (or the driver gave up on it), with an error for a submit that faulted or hung.
 */
export class MsmFence {
  signaled = false;
  error = 0;
  /** Board time (ns) it signalled at. */
  signaledAt = -1;

  constructor(
    /** Timeline name: "gpu-ring-0" for hardware fences, "queue-<ctx>-<id>" for user fences. */
    readonly timeline: string,
    readonly seqno: number,
  ) {}

  signal(now: number, error = 0): void {
    if (this.signaled) return;
    if (error && !this.error) this.error = error;
    this.signaled = true;
    this.signaledAt = now;
  }

  /** dma_fence_get_status: 0 pending, 1 signalled, or the negative error. */
  get status(): number {
    if (!this.signaled) return 0;
    return this.error || 1;
  }
}

/**
 * A GEM buffer object (struct msm_gem_object): size, flags, backing pages (allocated on first
 * use, as shmem pages are), one VMA per address space it was given an address in, the fences
 * of the submits using it (its reservation object), the fake mmap offset, a debug name.
 */
export class MsmGemObject {
  refcount = 1;
  name = '';
  private blocks: DrmGemBlock[] = [];
  /** The backing pages as merged runs (the object's sg table). */
  runs: PageRun[] = [];
  readonly vmas: MsmGemVma[] = [];
  /** The last submit that writes it (exclusive fence) and those that read it since. */
  writeFence: MsmFence | null = null;
  readFences: MsmFence[] = [];
  /** The object's place in the DRM device's mmap offset space (obj->vma_node), once GEM_INFO GET_OFFSET asked for one, and the files allowed to map it. */
  readonly vmaNode = new DrmVmaOffsetNode<MsmGemObject>(this);
  freed = false;

  constructor(
    private readonly kernel: Kernel,
    readonly id: number,
    /** Bytes, a page multiple. */
    readonly size: number,
    readonly flags: number,
  ) {}

  get hasPages(): boolean {
    return this.blocks.length > 0;
  }

  /**
   * msm_gem_get_pages (drm_gem_get_pages): the backing memory from the DRM core, physically
   * adjacent blocks merged into one run. 0, or -ENOMEM with nothing kept.
   */
  getPages(): number {
    if (this.freed) return -ENOMEM;
    if (this.blocks.length > 0) return 0;
    const blocks = drmGemAllocBlocks(this.kernel, this.size);
    if (typeof blocks === 'number') return blocks;
    this.blocks = blocks;
    this.runs = drmGemBlocksToRuns(blocks);
    return 0;
  }

  /** Frees the backing pages (the object is going away). */
  freePages(): void {
    drmGemFreeBlocks(this.kernel, this.blocks);
    this.blocks = [];
    this.runs = [];
  }

  /** The physical address of byte `off`, or -1 without pages. */
  physAt(off: number): number {
    return drmGemRunsPhys(this.runs, off);
  }

  /** The VMA in `aspace`, if the object has one there. */
  vmaIn(aspace: MsmGemAddressSpace): MsmGemVma | undefined {
    return this.vmas.find((v) => v.aspace === aspace);
  }

  /** The VMA in `aspace`, created (without an address yet) when missing. */
  vmaFor(aspace: MsmGemAddressSpace): MsmGemVma {
    let v = this.vmaIn(aspace);
    if (!v) {
      v = new MsmGemVma(aspace);
      this.vmas.push(v);
    }
    return v;
  }

  /** msm_gem_prot: read always; write unless GPU_READONLY; PRIV and CACHE from the flags. */
  get prot(): number {
    let prot = IOMMU_READ;
    if (!(this.flags & MSM_BO_GPU_READONLY)) prot |= IOMMU_WRITE;
    if (this.flags & MSM_BO_MAP_PRIV) prot |= IOMMU_PRIV;
    if (this.flags & MSM_BO_CACHED_COHERENT) prot |= IOMMU_CACHE;
    return prot;
  }

  /** True while a submit that uses it has not completed (for a writer only, or any user). */
  busy(write: boolean): MsmFence | null {
    if (this.writeFence && !this.writeFence.signaled) return this.writeFence;
    if (write) for (const f of this.readFences) if (!f.signaled) return f;
    return null;
  }

  /**
   * The object's last reference went: every VMA is purged (unmapped, with the TLB flush) and
   * closed first, and only then are the pages given back.
   */
  release(): void {
    if (this.freed) return;
    for (const v of this.vmas) {
      msmGemPurgeVma(v, this.size);
      msmGemCloseVma(v);
    }
    this.vmas.length = 0;
    this.freePages();
    this.freed = true;
  }
}

/**
 * A CPU mapping of a buffer (what mmap of the GET_OFFSET offset gives a process): word and byte
 * access to its pages through the kernel's linear map. Out-of-range access, or access to a
 * freed buffer, throws KernelError(-EFAULT) (the process would get SIGBUS/SIGSEGV).
 */
export class MsmCpuMapping {
  constructor(
    private readonly kernel: Kernel,
    readonly bo: MsmGemObject,
    readonly length: number,
  ) {}

  private check(off: number, len: number): void {
    if (!Number.isInteger(off) || off < 0 || !Number.isInteger(len) || len < 0 || off + len > this.length)
      throw new KernelError(-EFAULT, `msm mmap: access of ${len} byte(s) at +0x${off.toString(16)} outside the ${this.length}-byte mapping`);
    if (this.bo.freed) throw new KernelError(-EFAULT, `msm mmap: buffer ${this.bo.id} is gone: SIGBUS`);
    if (this.bo.getPages() < 0) throw new KernelError(-EFAULT, `msm mmap: buffer ${this.bo.id} pages could not be allocated: SIGBUS`);
  }

  read32(off: number): number {
    if (off % 4) throw new KernelError(-EFAULT, `msm mmap: misaligned 32-bit read at +0x${off.toString(16)}`);
    this.check(off, 4);
    return this.kernel.mem.read32(this.bo.physAt(off)) >>> 0;
  }

  write32(off: number, v: number): void {
    if (off % 4) throw new KernelError(-EFAULT, `msm mmap: misaligned 32-bit write at +0x${off.toString(16)}`);
    this.check(off, 4);
    this.kernel.mem.write32(this.bo.physAt(off), v >>> 0);
  }

  /** Writes 32-bit words from `off` (a command stream, for instance). */
  writeWords(off: number, words: readonly number[] | Uint32Array): void {
    if (off % 4) throw new KernelError(-EFAULT, `msm mmap: misaligned write at +0x${off.toString(16)}`);
    this.check(off, words.length * 4);
    for (let i = 0; i < words.length; i++) this.kernel.mem.write32(this.bo.physAt(off + 4 * i), words[i]! >>> 0);
  }

  read(off: number, len: number): Uint8Array {
    this.check(off, len);
    return drmGemRunsRead(this.kernel, this.bo.runs, off, len);
  }

  write(off: number, data: Uint8Array): void {
    this.check(off, data.length);
    drmGemRunsWrite(this.kernel, this.bo.runs, off, data);
  }

  /** Fills [off, off + len) with the 32-bit `pattern` (both multiples of 4). */
  fill32(off: number, len: number, pattern: number): void {
    if (off % 4 || len % 4) throw new KernelError(-EFAULT, 'msm mmap: fill32 needs a 4-byte aligned offset and length');
    this.check(off, len);
    drmGemRunsFill32(this.kernel, this.bo.runs, off, len, pattern);
  }
}
