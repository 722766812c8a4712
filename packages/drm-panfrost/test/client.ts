/**
 * A small user-space client for the end-to-end tests, playing Mesa's part: it opens the render
 * node, allocates buffers, fills them through mmap, writes job descriptors in the model's
 * format (encodeMaliJob from @gki/hw) into a descriptor buffer and submits the chain.
 */
import { encodeMaliJob, MALI_JOB_DESC_SIZE, type MaliJobSpec } from '@gki/hw';
import { PANFROST_BO_NOEXEC, type PanfrostCpuMapping, type PanfrostDevice, type PanfrostFence, type PanfrostFile } from '../src/index.js';

export interface ClientBo {
  handle: number;
  /** GPU virtual address. */
  va: number;
  size: number;
  /** CPU mapping (undefined for heaps). */
  cpu?: PanfrostCpuMapping;
}

export class GpuClient {
  readonly file: PanfrostFile;
  private descBo: ClientBo | null = null;

  constructor(readonly pfdev: PanfrostDevice) {
    const f = pfdev.open();
    if (typeof f === 'number') throw new Error(`open: ${f}`);
    this.file = f;
  }

  bo(size: number, flags = PANFROST_BO_NOEXEC, map = true): ClientBo {
    const r = this.file.createBo({ size, flags });
    if (typeof r === 'number') throw new Error(`CREATE_BO(${size}, ${flags}): ${r}`);
    const out: ClientBo = { handle: r.handle, va: r.offset, size };
    if (map) {
      const m = this.file.mmapBo({ handle: r.handle });
      if (typeof m === 'number') throw new Error(`MMAP_BO: ${m}`);
      const cpu = this.file.mmap(m.offset, size);
      if (typeof cpu === 'number') throw new Error(`mmap: ${cpu}`);
      out.cpu = cpu;
    }
    return out;
  }

  /** Writes `jobs` as one chain into the client's descriptor buffer; returns the chain's GPU address. */
  chain(jobs: readonly MaliJobSpec[]): number {
    if (!this.descBo) this.descBo = this.bo(0x1_0000);
    const d = this.descBo;
    if (jobs.length * MALI_JOB_DESC_SIZE > d.size) throw new Error('chain too long');
    jobs.forEach((j, i) => {
      const next = i + 1 < jobs.length ? d.va + (i + 1) * MALI_JOB_DESC_SIZE : 0;
      d.cpu!.write(i * MALI_JOB_DESC_SIZE, encodeMaliJob({ ...j, next }));
    });
    return d.va;
  }

  /** The status word the GPU wrote back into descriptor `i` of the last chain. */
  jobStatus(i: number): number {
    return this.descBo!.cpu!.read32(i * MALI_JOB_DESC_SIZE);
  }

  get descHandle(): number {
    if (!this.descBo) this.descBo = this.bo(0x1_0000);
    return this.descBo.handle;
  }

  /** Submits `jobs` (on JS1, or JS0 with `fragment`) using `bos`; returns the job's fence. */
  run(jobs: readonly MaliJobSpec[], bos: readonly ClientBo[], fragment = false): PanfrostFence {
    const jc = this.chain(jobs);
    const r = this.file.submit({ jc, boHandles: [this.descHandle, ...bos.map((b) => b.handle)], requirements: fragment ? 1 : 0 });
    if (typeof r === 'number') throw new Error(`SUBMIT: ${r}`);
    return r.fence;
  }

  close(): void {
    this.file.close();
  }
}

/** `len` bytes of a repeating pattern derived from `seed`. */
export function pattern(seed: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < len; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Index of the first byte where `a` and `b` differ (-1 when equal): cheap to assert on big buffers. */
export function firstDiff(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}
