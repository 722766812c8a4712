/**
 * GPU clients for the workloads: a small user-space client per GPU driver, playing Mesa's part
 * (open the render node, create buffers, fill them through mmap, write job descriptors, submit,
 * wait, check). Today: panfrost (Mali). Each backend lists its GPUs and opens contexts on them.
 */
import {
  encodeMaliJob,
  maliChecksum,
  MALI_JOB_DESC_SIZE,
  MALI_JOB_TYPE_CHECKSUM,
  MALI_JOB_TYPE_COPY,
  MALI_JOB_TYPE_FILL,
  type MaliJobSpec,
} from '@gki/hw';
import type { Kernel } from '@gki/kernel';
import { PANFROST_BO_HEAP, PANFROST_BO_NOEXEC, panfrostDevices, type PanfrostCpuMapping, type PanfrostDevice, type PanfrostFile } from '@gki/drm-panfrost';

/** A fault a GPU workload saw, decoded. */
export interface GpuFault {
  readonly device: string;
  readonly address: number;
  /** 'read' | 'write' | 'execute' | 'atomic'. */
  readonly access: string;
  /** The exception name (TRANSLATION_FAULT_1, ...). */
  readonly type: string;
  readonly handled: boolean;
  readonly decoded: string;
}

/** One GPU context (an open file) that runs copy/fill/checksum jobs. */
export interface GpuContext {
  /** Copies `len` random bytes through the GPU (COPY then CHECKSUM) and checks both; bytes moved, or -errno. */
  copy(len: number, seed: number): number;
  close(): number;
}

/** A GPU of the board as the workloads drive it. */
export interface GpuTarget {
  /** The platform device name. */
  readonly device: string;
  /** 'panfrost' (Mali) today. */
  readonly driver: string;
  readonly name: string;
  open(): GpuContext | number;
  /**
   * Runs the deliberate faults: a growable-heap fault the driver resolves, and a job that
   * writes an address nothing maps (the driver reports it and the job fails).
   */
  faults(): { ok: boolean; faults: GpuFault[]; lines: string[] };
  /** MMU fault records seen so far (for a count before/after). */
  faultCount(): number;
}

function bytes(len: number, seed: number): Uint8Array {
  const b = new Uint8Array(len);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < len; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

interface Bo {
  handle: number;
  va: number;
  size: number;
  cpu?: PanfrostCpuMapping;
}

class PanfrostContext implements GpuContext {
  private desc: Bo | null = null;

  constructor(
    readonly pfdev: PanfrostDevice,
    readonly file: PanfrostFile,
  ) {}

  bo(size: number, flags = PANFROST_BO_NOEXEC, map = true): Bo | number {
    const r = this.file.createBo({ size, flags });
    if (typeof r === 'number') return r;
    const out: Bo = { handle: r.handle, va: r.offset, size };
    if (map) {
      const m = this.file.mmapBo({ handle: r.handle });
      if (typeof m === 'number') return m;
      const cpu = this.file.mmap(m.offset, size);
      if (typeof cpu === 'number') return cpu;
      out.cpu = cpu;
    }
    return out;
  }

  /** Writes `jobs` as one chain into the descriptor buffer and submits it; the fence error (0 when done). */
  run(jobs: readonly MaliJobSpec[], bos: readonly Bo[]): number {
    if (!this.desc) {
      const d = this.bo(0x1_0000);
      if (typeof d === 'number') return d;
      this.desc = d;
    }
    const d = this.desc;
    jobs.forEach((j, i) => {
      const next = i + 1 < jobs.length ? d.va + (i + 1) * MALI_JOB_DESC_SIZE : 0;
      d.cpu!.write(i * MALI_JOB_DESC_SIZE, encodeMaliJob({ ...j, next }));
    });
    const r = this.file.submit({ jc: d.va, boHandles: [d.handle, ...bos.map((b) => b.handle)] });
    if (typeof r === 'number') return r;
    const w = r.fence.wait();
    return w < 0 ? w : r.fence.error;
  }

  copy(len: number, seed: number): number {
    const size = Math.ceil(len / 0x1000) * 0x1000;
    const src = this.bo(size);
    if (typeof src === 'number') return src;
    const dst = this.bo(size);
    if (typeof dst === 'number') {
      this.file.gemClose({ handle: src.handle });
      return dst;
    }
    const sum = this.bo(0x1000);
    if (typeof sum === 'number') {
      this.file.gemClose({ handle: src.handle });
      this.file.gemClose({ handle: dst.handle });
      return sum;
    }
    try {
      const data = bytes(len, seed);
      src.cpu!.write(0, data);
      const err = this.run(
        [
          { type: MALI_JOB_TYPE_FILL, dst: dst.va, length: size, value: 0 },
          { type: MALI_JOB_TYPE_COPY, src: src.va, dst: dst.va, length: len },
          { type: MALI_JOB_TYPE_CHECKSUM, src: dst.va, length: len, dst: sum.va },
        ],
        [src, dst, sum],
      );
      if (err < 0) return err;
      if (!equal(dst.cpu!.read(0, len), data)) return -5; // -EIO: the copy is wrong
      if (sum.cpu!.read32(0) !== maliChecksum(data)) return -5;
      return len;
    } finally {
      for (const b of [sum, dst, src]) this.file.gemClose({ handle: b.handle });
    }
  }

  close(): number {
    if (this.desc) this.file.gemClose({ handle: this.desc.handle });
    this.desc = null;
    return this.file.close();
  }
}

/** An address no buffer is ever placed at: below drm_mm's 32 MiB floor, in the unused first page range. */
const GPU_FAULT_VA = 0x10_0000;

class PanfrostTarget implements GpuTarget {
  readonly driver = 'panfrost';
  constructor(readonly pfdev: PanfrostDevice) {}

  get device(): string {
    return this.pfdev.dev.name;
  }

  get name(): string {
    return `Mali ${this.pfdev.features.name} (${this.pfdev.renderNode})`;
  }

  open(): GpuContext | number {
    const f = this.pfdev.open();
    return typeof f === 'number' ? f : new PanfrostContext(this.pfdev, f);
  }

  faultCount(): number {
    return this.pfdev.faults.length;
  }

  faults(): { ok: boolean; faults: GpuFault[]; lines: string[] } {
    const lines: string[] = [];
    const out: GpuFault[] = [];
    const ctx = this.open();
    if (typeof ctx === 'number') return { ok: false, faults: [], lines: [`open: ${ctx}`] };
    const c = ctx as PanfrostContext;
    let ok = true;
    const before = this.pfdev.faults.length;
    // 1. a growable heap: the first write 3 MiB in faults, the driver maps 2 MiB and the job goes on
    const heap = c.bo(8 << 20, PANFROST_BO_NOEXEC | PANFROST_BO_HEAP, false);
    if (typeof heap === 'number') {
      ok = false;
      lines.push(`heap buffer: ${heap}`);
    } else {
      const err = c.run([{ type: MALI_JOB_TYPE_FILL, dst: heap.va + (3 << 20), length: 0x1_0000, value: 0xcafe }], [heap]);
      const grew = (c.file.bo(heap.handle)?.heapRssSize ?? 0) / 2 ** 20;
      lines.push(`heap fill 3 MiB into an 8 MiB growable buffer: ${err === 0 ? 'done' : `failed ${err}`}, heap grew to ${grew} MiB`);
      ok &&= err === 0 && grew > 0;
      c.file.gemClose({ handle: heap.handle });
    }
    // 2. a write to an address nothing maps: the driver reports it and the job dies
    const err = c.run([{ type: MALI_JOB_TYPE_FILL, dst: GPU_FAULT_VA, length: 0x1000, value: 0xdead }], []);
    lines.push(`deliberate write at GPU VA 0x${GPU_FAULT_VA.toString(16)}: job ${err === 0 ? 'COMPLETED (no fault!)' : `failed with ${err}`}`);
    ok &&= err < 0;
    for (const f of this.pfdev.faults.slice(before)) {
      const s = f.status;
      out.push({
        device: this.device,
        address: f.addr,
        access: s.accessName.toLowerCase(),
        type: s.exceptionName,
        handled: f.handled,
        decoded: `AS${f.as} ${s.exceptionName} (0x${s.exceptionType.toString(16)}) on ${s.accessName.toLowerCase()} at VA 0x${f.addr.toString(16)}, source id 0x${s.sourceId.toString(16)}${f.handled ? ', resolved by growing the heap' : ''}`,
      });
    }
    const unhandled = out.filter((f) => !f.handled && f.address === GPU_FAULT_VA).length;
    ok &&= unhandled >= 1;
    c.close();
    return { ok, faults: out, lines };
  }
}

/** Every GPU of the kernel the workloads can drive. */
export function gpuTargets(kernel: Kernel): GpuTarget[] {
  return panfrostDevices(kernel).map((d) => new PanfrostTarget(d));
}
