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
import {
  CP_MEM_TO_MEM,
  CP_MEM_WRITE,
  MSM_BO_WC,
  MSM_INFO_GET_IOVA,
  MSM_PARAM_VA_START,
  MSM_PIPE_3D0,
  MSM_SUBMIT_BO_READ,
  MSM_SUBMIT_BO_WRITE,
  MSM_SUBMIT_CMD_BUF,
  msmDevices,
  msmTimeoutAfter,
  pkt3,
  pkt7,
  type MsmCpuMapping,
  type MsmDrmDevice,
  type MsmFile,
} from '@gki/drm-msm';

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
  /**
   * Whether the context has a GPU address space of its own (a Mali address space, an msm
   * per-process table) or shares the GPU's one (msm on a5xx, or behind an SMMU without the
   * Adreno interface).
   */
  readonly ownAddressSpace: boolean;
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
  /** Every panfrost file gets a Mali address space of its own. */
  readonly ownAddressSpace = true;

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

interface MsmBo {
  handle: number;
  iova: number;
  map: MsmCpuMapping;
}

const lo32 = (a: number): number => a % 2 ** 32;
const hi32 = (a: number): number => Math.floor(a / 2 ** 32);

/** Bytes one msm copy job moves at most: the CP copies a dword per CP_MEM_TO_MEM packet. */
const MSM_COPY_MAX = 0x4000;

let msmPid = 4000;

class MsmContext implements GpuContext {
  constructor(
    readonly drm: MsmDrmDevice,
    readonly file: MsmFile,
  ) {}

  /**
   * The PM4 generation Mesa would emit for the GPU: type-3 packets with 32-bit addresses on
   * a3xx/a4xx (GPU_ID below 500), type-7 packets with 64-bit addresses from a5xx on.
   */
  get legacyPm4(): boolean {
    return this.drm.gpu.info.family === 'a3xx' || this.drm.gpu.info.family === 'a4xx';
  }

  /** A CP_MEM_TO_MEM copying one dword from `src` to `dst` in this GPU's packet form. */
  memToMem(dst: number, src: number): number[] {
    if (this.legacyPm4) return [pkt3(CP_MEM_TO_MEM, 3), 0, lo32(dst), lo32(src)];
    return [pkt7(CP_MEM_TO_MEM, 5), 0, lo32(dst), hi32(dst), lo32(src), hi32(src)];
  }

  /** A CP_MEM_WRITE of `words` at `addr` in this GPU's packet form. */
  memWrite(addr: number, ...words: number[]): number[] {
    if (this.legacyPm4) return [pkt3(CP_MEM_WRITE, 1 + words.length), lo32(addr), ...words];
    return [pkt7(CP_MEM_WRITE, 2 + words.length), lo32(addr), hi32(addr), ...words];
  }

  /** MSM_PARAM_VA_START answers only for a file with a per-process table (-EINVAL otherwise). */
  get ownAddressSpace(): boolean {
    return typeof this.file.getParam({ pipe: MSM_PIPE_3D0, param: MSM_PARAM_VA_START }) !== 'number';
  }

  bo(size: number): MsmBo | number {
    const n = this.file.gemNew({ size, flags: MSM_BO_WC });
    if (typeof n === 'number') return n;
    const info = this.file.gemInfo({ handle: n.handle, info: MSM_INFO_GET_IOVA });
    if (typeof info === 'number') return info;
    const map = this.file.cpuMap(n.handle);
    if (typeof map === 'number') return map;
    return { handle: n.handle, iova: info.value as number, map };
  }

  /** Submits `stream` (in `cmd`) using `uses`; waits; the fence status (1 done, or -errno). */
  submit(cmd: MsmBo, stream: readonly number[], uses: { bo: MsmBo; write: boolean }[]): number {
    cmd.map.writeWords(0, stream);
    const bos = [{ flags: MSM_SUBMIT_BO_READ, handle: cmd.handle }, ...uses.map((u) => ({ flags: u.write ? MSM_SUBMIT_BO_WRITE : MSM_SUBMIT_BO_READ, handle: u.bo.handle }))];
    const r = this.file.gemSubmit({ flags: MSM_PIPE_3D0, bos, cmds: [{ type: MSM_SUBMIT_CMD_BUF, submitIdx: 0, submitOffset: 0, size: stream.length * 4 }] });
    if (typeof r === 'number') return r;
    const w = this.file.waitFence({ fence: r.fence, timeout: msmTimeoutAfter(this.drm.kernel.board.clock.now(), 1e9) });
    if (w < 0) return w;
    return this.file.fenceStatus(0, r.fence);
  }

  copy(len: number, seed: number): number {
    const n = Math.min(Math.max(4, len - (len % 4)), MSM_COPY_MAX);
    const size = Math.ceil(n / 0x1000) * 0x1000;
    const bufs: MsmBo[] = [];
    try {
      for (const sz of [size, size, Math.ceil((n / 4) * 24 / 0x1000) * 0x1000]) {
        const b = this.bo(sz);
        if (typeof b === 'number') return b;
        bufs.push(b);
      }
      const [src, dst, cmd] = bufs as [MsmBo, MsmBo, MsmBo];
      const data = bytes(n, seed);
      src.map.write(0, data);
      const stream: number[] = [];
      for (let o = 0; o < n; o += 4) stream.push(...this.memToMem(dst.iova + o, src.iova + o));
      const st = this.submit(cmd, stream, [{ bo: src, write: false }, { bo: dst, write: true }]);
      if (st < 0) return st;
      if (st !== 1) return -5;
      return equal(dst.map.read(0, n), data) ? n : -5;
    } finally {
      for (const b of bufs.reverse()) this.file.gemClose({ handle: b.handle });
    }
  }

  close(): number {
    return this.file.close();
  }
}

/** A GPU address no msm buffer is placed at in a process space (which starts at 4 GiB). */
const MSM_FAULT_VA = 0x1000_0000;

class MsmTarget implements GpuTarget {
  readonly driver = 'msm';
  constructor(readonly drm: MsmDrmDevice) {}

  get device(): string {
    return this.drm.dev.name;
  }

  get name(): string {
    return `Adreno ${this.drm.gpu.name} (${this.drm.renderNode})`;
  }

  open(): GpuContext | number {
    const pid = msmPid++;
    const f = this.drm.open({ pid, comm: `gki-run-${pid}` });
    return typeof f === 'number' ? f : new MsmContext(this.drm, f);
  }

  faultCount(): number {
    return this.drm.gpu.faults.length;
  }

  faults(): { ok: boolean; faults: GpuFault[]; lines: string[] } {
    const lines: string[] = [];
    const ctx = this.open();
    if (typeof ctx === 'number') return { ok: false, faults: [], lines: [`open: ${ctx}`] };
    const c = ctx as MsmContext;
    const before = this.drm.gpu.faults.length;
    const unhandledBefore = this.drm.gpu.mmu.unhandledFaults.length;
    // A process page table exists only behind an Adreno SMMU implementation (qcom,adreno-smmu):
    // then the SMMU stalls on the fault and msm recovers the GPU, failing the submit. Without it
    // (sdm845-cheza.dtsi names its GPU SMMU plain "qcom,sdm845-smmu-v2") every file shares the
    // GPU's address space, the SMMU terminates the write and, as in Linux (no fault info, so no
    // recovery), the command processor runs on and the submit completes: the fault alone counts.
    const ownTable = typeof c.file.getParam({ pipe: MSM_PIPE_3D0, param: MSM_PARAM_VA_START }) !== 'number';
    const cmd = c.bo(0x1000);
    let st = -1;
    if (typeof cmd !== 'number') {
      st = c.submit(cmd, c.memWrite(MSM_FAULT_VA, 0xdead), []);
      c.file.gemClose({ handle: cmd.handle });
    }
    // a3xx installs no GPU fault handler: msm only logs the IOMMU's report ("*** fault")
    const unhandled = this.drm.gpu.mmu.unhandledFaults.slice(unhandledBefore);
    const faulted = this.drm.gpu.faults.slice(before).some((f) => f.iova === MSM_FAULT_VA) || unhandled.some((f) => f.iova === MSM_FAULT_VA);
    const outcome =
      st !== 1 ? `ended with ${st}` : !faulted ? 'COMPLETED (no fault!)' : ownTable ? 'COMPLETED (no recovery!)' : 'completed after the SMMU terminated the write (shared GPU address space: no recovery, as in Linux)';
    lines.push(`deliberate write at GPU address 0x${MSM_FAULT_VA.toString(16)}: submit ${outcome}`);
    const out: GpuFault[] = this.drm.gpu.faults.slice(before).map((f) => ({
      device: this.device,
      address: f.iova,
      access: f.write ? 'write' : 'read',
      type: f.type,
      handled: false,
      decoded: `SMMU context fault: ${f.type} on ${f.write ? 'write' : 'read'} at IOVA 0x${f.iova.toString(16)} from ${f.source}, fsr 0x${f.fsr.toString(16)}${f.comm ? `, blamed on ${f.comm} (pid ${f.pid})` : ''}`,
    }));
    for (const f of unhandled)
      out.push({
        device: this.device,
        address: f.iova,
        access: f.flags & 1 ? 'write' : 'read',
        type: 'UNKNOWN',
        handled: false,
        decoded: `IOMMU fault at IOVA 0x${f.iova.toString(16)}, flags ${f.flags} (no GPU fault handler: msm only logs it)`,
      });
    c.close();
    return { ok: (st < 0 || (st === 1 && !ownTable)) && faulted, faults: out, lines };
  }
}

/** Every GPU of the kernel the workloads can drive: Mali (panfrost) and Adreno (msm). */
export function gpuTargets(kernel: Kernel): GpuTarget[] {
  return [...panfrostDevices(kernel).map((d) => new PanfrostTarget(d)), ...msmDevices(kernel).map((d) => new MsmTarget(d))];
}
