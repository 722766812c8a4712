import { describe, expect, it } from 'vitest';
import { ioPgtableLiveTables } from '@gki/io-pgtable-core';
import {
  MSM_BO_CACHED,
  MSM_BO_CACHED_COHERENT,
  MSM_BO_GPU_READONLY,
  MSM_BO_UNCACHED,
  MSM_BO_WC,
  MSM_INFO_GET_FLAGS,
  MSM_INFO_GET_IOVA,
  MSM_INFO_GET_NAME,
  MSM_INFO_GET_OFFSET,
  MSM_INFO_SET_IOVA,
  MSM_INFO_SET_NAME,
  MSM_PARAM_CHIP_ID,
  MSM_PARAM_COMM,
  MSM_PARAM_FAULTS,
  MSM_PARAM_GMEM_BASE,
  MSM_PARAM_GMEM_SIZE,
  MSM_PARAM_GPU_ID,
  MSM_PARAM_HIGHEST_BANK_BIT,
  MSM_PARAM_MAX_FREQ,
  MSM_PARAM_PP_PGTABLE,
  MSM_PARAM_PRIORITIES,
  MSM_PARAM_SUSPENDS,
  MSM_PARAM_SYSPROF,
  MSM_PARAM_TIMESTAMP,
  MSM_PIPE_2D0,
  MSM_PIPE_3D0,
  MSM_PREP_NOSYNC,
  MSM_PREP_READ,
  MSM_PREP_WRITE,
  MSM_SUBMIT_BO_READ,
  MSM_SUBMIT_BO_WRITE,
  MSM_SUBMIT_CMD_BUF,
  MSM_SUBMIT_CMD_CTX_RESTORE_BUF,
  MSM_SUBMIT_CMD_IB_TARGET_BUF,
  MSM_SUBMIT_FENCE_FD_OUT,
  MSM_SUBMIT_SUDO,
  MSM_SUBMITQUEUE_PARAM_FAULTS,
  msmTimeoutAfter,
  type DrmMsmGemSubmit,
  type MsmFile,
} from '../src/index.js';
import { memWrite, newBuf, pkt7, submitStream, wait, type Buf } from './client.js';
import { bootModelOk, type ModelRig } from './rig.js';

const EPERM = -1;
const ENOENT = -2;
const EBADF = -9;
const EFAULT = -14;
const ENOSPC = -28;
const EBUSY = -16;
const ENODEV = -19;
const EINVAL = -22;
const ETIMEDOUT = -110;

function setup(): { r: ModelRig; f: MsmFile } {
  const r = bootModelOk();
  const f = r.drm.open({ pid: 77, comm: 'client' });
  if (typeof f === 'number') throw new Error(`open: ${f}`);
  return { r, f };
}

const p = (param: number) => ({ pipe: MSM_PIPE_3D0, param });

/** A job that waits until `flag` holds a value >= 1 (CP_WAIT_MEM_GTE), then writes `val` to `out`. */
function gated(flag: Buf, out: Buf, val: number): number[] {
  return [pkt7(0x14, 4), 0, flag.iova % 2 ** 32, Math.floor(flag.iova / 2 ** 32), 1, ...memWrite(out.iova, [val])];
}

const deadline = (f: MsmFile, ms: number) => msmTimeoutAfter(f.drm.kernel.board.clock.now(), ms * 1e6);

describe('GET_PARAM / SET_PARAM', () => {
  it('answers the parameters Mesa reads, for the 3D pipe only', () => {
    const { f } = setup();
    expect(f.getParam(p(MSM_PARAM_GPU_ID))).toEqual({ value: 630n });
    expect(f.getParam(p(MSM_PARAM_CHIP_ID))).toEqual({ value: 0x0603_0002n });
    expect(f.getParam(p(MSM_PARAM_GMEM_SIZE))).toEqual({ value: 1n << 20n });
    expect(f.getParam(p(MSM_PARAM_GMEM_BASE))).toEqual({ value: 0x10_0000n });
    expect(f.getParam(p(MSM_PARAM_MAX_FREQ))).toEqual({ value: 710_000_000n });
    expect(f.getParam(p(MSM_PARAM_PRIORITIES))).toEqual({ value: 3n });
    expect(f.getParam(p(MSM_PARAM_PP_PGTABLE))).toEqual({ value: 0n });
    expect(f.getParam(p(MSM_PARAM_FAULTS))).toEqual({ value: 0n });
    expect(f.getParam(p(MSM_PARAM_SUSPENDS))).toEqual({ value: 0n });
    expect(f.getParam(p(MSM_PARAM_HIGHEST_BANK_BIT))).toEqual({ value: 15n });
    const t1 = f.getParam(p(MSM_PARAM_TIMESTAMP)) as { value: bigint };
    const t2 = f.getParam(p(MSM_PARAM_TIMESTAMP)) as { value: bigint };
    expect(t2.value).toBeGreaterThan(t1.value);
    expect(f.getParam({ pipe: MSM_PIPE_2D0, param: MSM_PARAM_GPU_ID })).toBe(EINVAL);
    expect(f.getParam({ ...p(MSM_PARAM_GPU_ID), pad: 1 })).toBe(EINVAL);
    expect(f.getParam({ ...p(MSM_PARAM_GPU_ID), len: 8 })).toBe(EINVAL);
    expect(f.getParam(p(0x7f))).toBe(EINVAL);
  });

  it('takes COMM / CMDLINE overrides, refuses SYSPROF to an unprivileged process', () => {
    const { f } = setup();
    expect(f.setParam({ ...p(MSM_PARAM_COMM), value: 'renamed' })).toBe(0);
    expect(f.ctx.comm).toBe('renamed');
    expect(f.setParam({ ...p(MSM_PARAM_COMM), value: 'x'.repeat(5000) })).toBe(EINVAL);
    expect(f.setParam({ ...p(MSM_PARAM_COMM), value: 7 })).toBe(EINVAL);
    expect(f.setParam({ ...p(MSM_PARAM_SYSPROF), value: 1 })).toBe(EPERM);
    const g = f.drm.open({ privileged: true });
    if (typeof g === 'number') throw new Error(String(g));
    expect(g.setParam({ ...p(MSM_PARAM_SYSPROF), value: 1 })).toBe(0);
    f.privileged = true;
    expect(f.setParam({ ...p(MSM_PARAM_SYSPROF), value: 3 })).toBe(EINVAL);
    expect(f.setParam({ ...p(MSM_PARAM_SYSPROF), value: 1 })).toBe(0);
    expect(f.setParam(p(MSM_PARAM_GPU_ID))).toBe(EINVAL);
  });
});

describe('GEM_NEW / GEM_INFO / GEM_CLOSE', () => {
  it('creates page-rounded buffers with a valid cache mode and the lowest free handle', () => {
    const { f } = setup();
    expect(f.gemNew({ size: 5000, flags: MSM_BO_WC })).toEqual({ handle: 1 });
    expect(f.bo(1)!.size).toBe(0x2000);
    expect(f.gemNew({ size: 1, flags: MSM_BO_CACHED })).toEqual({ handle: 2 });
    expect(f.gemNew({ size: 1, flags: MSM_BO_CACHED_COHERENT | MSM_BO_GPU_READONLY })).toEqual({ handle: 3 });
    expect(f.gemNew({ size: 1, flags: MSM_BO_UNCACHED })).toEqual({ handle: 4 });
    expect(f.gemInfo({ handle: 4, info: MSM_INFO_GET_FLAGS })).toEqual({ value: MSM_BO_WC, len: 0 });
    expect(f.gemNew({ size: 1, flags: 0 })).toBe(EINVAL); // no cache mode
    expect(f.gemNew({ size: 1, flags: MSM_BO_WC | 0x100 })).toBe(EINVAL);
    expect(f.gemNew({ size: 0, flags: MSM_BO_WC })).toBe(EINVAL);
    expect(f.gemClose({ handle: 2 })).toBe(0);
    expect(f.gemClose({ handle: 2 })).toBe(EINVAL);
    expect(f.gemNew({ size: 1, flags: MSM_BO_WC })).toEqual({ handle: 2 });
    expect(f.handleList()).toEqual([1, 2, 3, 4]);
  });

  it('answers offsets, addresses, flags and names, and places buffers where user space asks', () => {
    const { f } = setup();
    const h = (f.gemNew({ size: 0x3000, flags: MSM_BO_WC }) as { handle: number }).handle;
    const g = (f.gemNew({ size: 0x1000, flags: MSM_BO_WC }) as { handle: number }).handle;
    expect(f.gemInfo({ handle: h, info: 9 })).toBe(EINVAL);
    expect(f.gemInfo({ handle: h, info: MSM_INFO_GET_IOVA, len: 8 })).toBe(EINVAL);
    expect(f.gemInfo({ handle: h, info: MSM_INFO_GET_IOVA, pad: 1 })).toBe(EINVAL);
    expect(f.gemInfo({ handle: 99, info: MSM_INFO_GET_IOVA })).toBe(ENOENT);
    const o1 = f.gemInfo({ handle: h, info: MSM_INFO_GET_OFFSET }) as { value: number };
    const o2 = f.gemInfo({ handle: g, info: MSM_INFO_GET_OFFSET }) as { value: number };
    expect(o1.value % 0x1000).toBe(0);
    expect(o2.value).not.toBe(o1.value);
    expect(f.gemInfo({ handle: h, info: MSM_INFO_SET_NAME, value: 'vbo\u0001junk', len: 8 })).toEqual({ value: 'vbo', len: 3 });
    expect(f.gemInfo({ handle: h, info: MSM_INFO_GET_NAME })).toEqual({ value: 'vbo', len: 3 });
    expect(f.gemInfo({ handle: h, info: MSM_INFO_SET_NAME, value: 'n'.repeat(40), len: 40 })).toBe(EINVAL);
    // SET_IOVA: inside the process's range, not overlapping, once
    expect(f.gemInfo({ handle: h, info: MSM_INFO_SET_IOVA, value: 0x1000 })).toBe(ENOSPC);
    expect(f.gemInfo({ handle: h, info: MSM_INFO_SET_IOVA, value: 0x1_2000_0000 })).toEqual({ value: 0x1_2000_0000, len: 0 });
    expect(f.gemInfo({ handle: h, info: MSM_INFO_SET_IOVA, value: 0x1_2000_0000 })).toEqual({ value: 0x1_2000_0000, len: 0 });
    expect(f.gemInfo({ handle: h, info: MSM_INFO_SET_IOVA, value: 0x1_3000_0000 })).toBe(EBUSY);
    expect(f.gemInfo({ handle: g, info: MSM_INFO_SET_IOVA, value: 0x1_2000_2000 })).toBe(ENOSPC);
    expect(f.gemInfo({ handle: h, info: MSM_INFO_GET_IOVA })).toEqual({ value: 0x1_2000_0000, len: 0 });
    // clearing gives the address back
    expect(f.gemInfo({ handle: h, info: MSM_INFO_SET_IOVA, value: 0 })).toEqual({ value: 0, len: 0 });
    expect(f.gemInfo({ handle: g, info: MSM_INFO_SET_IOVA, value: 0x1_2000_2000 })).toEqual({ value: 0x1_2000_2000, len: 0 });
  });

  it('GET_OFFSET hands out the DRM core offsets (from 4 GiB, once per buffer) that mmap accepts as drm_gem_mmap does', () => {
    const { r, f } = setup();
    const g = r.drm.open({ pid: 78, comm: 'other' }) as MsmFile;
    const h = (f.gemNew({ size: 0x3000, flags: MSM_BO_WC }) as { handle: number }).handle;
    const k = (f.gemNew({ size: 0x1000, flags: MSM_BO_WC }) as { handle: number }).handle;
    // DRM_FILE_PAGE_OFFSET_START << PAGE_SHIFT on a 64-bit kernel: the first offset is 4 GiB
    expect(f.gemInfo({ handle: h, info: MSM_INFO_GET_OFFSET })).toEqual({ value: 2 ** 32, len: 0 });
    expect(f.gemInfo({ handle: k, info: MSM_INFO_GET_OFFSET })).toEqual({ value: 2 ** 32 + 0x3000, len: 0 });
    expect(f.gemInfo({ handle: h, info: MSM_INFO_GET_OFFSET })).toEqual({ value: 2 ** 32, len: 0 });
    expect(typeof f.mmap(2 ** 32, 0x3000)).toBe('object');
    expect(typeof f.mmap(2 ** 32, 1)).toBe('object');
    expect(f.mmap(2 ** 32, 0x3001)).toBe(EINVAL); // longer than the buffer
    expect(f.mmap(2 ** 32 + 0x1000, 0x1000)).toBe(EINVAL); // inside it: drm_gem_mmap's lookup is exact
    expect(f.mmap(2 ** 32 + 0x4000, 0x1000)).toBe(EINVAL); // no buffer there
    expect(f.mmap(2 ** 32 + 8, 0x1000)).toBe(EINVAL);
    // another file holding no handle to the buffer
    expect(g.mmap(2 ** 32, 0x1000)).toBe(-13);
    // the last handle gone, the buffer and its offset go: best fit puts the next buffer in the freed hole
    expect(f.gemClose({ handle: h })).toBe(0);
    expect(f.mmap(2 ** 32, 0x1000)).toBe(EINVAL);
    const n = (f.gemNew({ size: 0x1000, flags: MSM_BO_WC }) as { handle: number }).handle;
    expect(f.gemInfo({ handle: n, info: MSM_INFO_GET_OFFSET })).toEqual({ value: 2 ** 32, len: 0 });
    expect(f.close()).toBe(0);
    expect(r.drm.ddev.vmaOffsetManager!.clean).toBe(true);
    expect(g.close()).toBe(0);
  });

  it('places buffers as drm_mm best fit does: the newest of equal holes first; an unaligned SET_IOVA is -ENOSPC', () => {
    const { f } = setup();
    const newBo = () => (f.gemNew({ size: 0x1000, flags: MSM_BO_WC }) as { handle: number }).handle;
    const iova = (h: number) => (f.gemInfo({ handle: h, info: MSM_INFO_GET_IOVA }) as { value: number }).value;
    const [a, b, c, d] = [newBo(), newBo(), newBo(), newBo()];
    const at = [iova(a), iova(b), iova(c), iova(d)];
    // one free hole: each takes the bottom of what is left
    expect(at).toEqual([at[0]!, at[0]! + 0x1000, at[0]! + 0x2000, at[0]! + 0x3000]);
    // two one-page holes, c's made after a's
    expect(f.gemInfo({ handle: a, info: MSM_INFO_SET_IOVA, value: 0 })).toEqual({ value: 0, len: 0 });
    expect(f.gemInfo({ handle: c, info: MSM_INFO_SET_IOVA, value: 0 })).toEqual({ value: 0, len: 0 });
    // msm inserts with DRM_MM_INSERT_BEST: the smallest holes that fit are the two pages, and
    // among equal sizes drm_mm tries the newest first
    expect(iova(newBo())).toBe(at[2]);
    expect(iova(newBo())).toBe(at[0]);
    // msm_gem_vma_init inserts page aligned inside [iova, iova + size): no page-aligned start
    // lies in range for an address inside a page
    expect(f.gemInfo({ handle: newBo(), info: MSM_INFO_SET_IOVA, value: 0x1_2000_0800 })).toBe(ENOSPC);
  });
});

describe('SUBMIT', () => {
  const sub = (f: MsmFile, over: Partial<DrmMsmGemSubmit>, cmdHandle: number, bytes = 16): number | { fence: number } =>
    f.gemSubmit({ flags: MSM_PIPE_3D0, bos: [{ flags: MSM_SUBMIT_BO_READ, handle: cmdHandle }], cmds: [{ type: MSM_SUBMIT_CMD_BUF, submitIdx: 0, submitOffset: 0, size: bytes }], ...over });

  it('rejects bad submits without pinning anything or using a fence id', () => {
    const { f } = setup();
    const cmd = newBuf(f, 0x1000, 0x1_0000_0000);
    cmd.map.writeWords(0, [pkt7(0x10, 3), 0, 0, 0]);
    const bo = (flags: number, handle: number) => ({ flags, handle });
    const c = (over: object) => [{ type: MSM_SUBMIT_CMD_BUF, submitIdx: 0, submitOffset: 0, size: 16, ...over }];
    const bad: [Partial<DrmMsmGemSubmit>, number][] = [
      [{ flags: MSM_PIPE_2D0 }, EINVAL],
      [{ flags: MSM_PIPE_3D0 | MSM_SUBMIT_SUDO }, EINVAL],
      [{ flags: MSM_PIPE_3D0 | MSM_SUBMIT_FENCE_FD_OUT }, EINVAL],
      [{ flags: MSM_PIPE_3D0 | 0x0001_0000 }, EINVAL],
      [{ queueid: 7 }, ENOENT],
      [{ pad: 1 }, EINVAL],
      [{ bos: [bo(0x100, cmd.handle)] }, EINVAL],
      [{ bos: [bo(MSM_SUBMIT_BO_READ, 42)] }, EINVAL],
      [{ bos: [bo(MSM_SUBMIT_BO_READ, cmd.handle), bo(MSM_SUBMIT_BO_WRITE, cmd.handle)] }, EINVAL],
      [{ cmds: c({ type: 9 }) }, EINVAL],
      [{ cmds: c({ size: 6 }) }, EINVAL],
      [{ cmds: c({ size: 0 }) }, EINVAL],
      [{ cmds: c({ submitIdx: 1 }) }, EINVAL],
      [{ cmds: c({ submitOffset: 0xffc, size: 8 }) }, EINVAL],
      [{ cmds: c({ nrRelocs: 1 }) }, EINVAL],
    ];
    for (const [over, err] of bad) expect(sub(f, over, cmd.handle), JSON.stringify(over)).toBe(err);
    expect(f.ctx.queue(0)!.lastFence).toBe(0);
    expect(f.bo(cmd.handle)!.vmas.every((v) => v.inuse === 0 && !v.mapped)).toBe(true);
    expect(f.drm.kernel.log.grep('invalid handle 42 at index 0')).toHaveLength(1);
    expect(f.drm.kernel.log.grep('relocs not allowed')).toHaveLength(1);
    expect(sub(f, {}, cmd.handle)).toEqual({ fence: 1 });
  });

  it('answers -EFAULT for an argument that is not an object (a bad user pointer) and -EINVAL for a bad open, changing nothing', () => {
    const { r, f } = setup();
    const handles = f.handleList();
    const pages = r.k.pages.stats().pagesInUse;
    const files = r.drm.ddev.files.size;
    const refs = r.k.modules.find('msm')!.refcount;
    for (const bad of [null, undefined, 7, 'x']) {
      expect(f.gemNew(bad as never)).toBe(EFAULT);
      expect(f.gemInfo(bad as never)).toBe(EFAULT);
      expect(f.gemSubmit(bad as never)).toBe(EFAULT);
      expect(f.waitFence(bad as never)).toBe(EFAULT);
      expect(f.getParam(bad as never)).toBe(EFAULT);
      expect(f.submitqueueNew(bad as never)).toBe(EFAULT);
      expect(f.gemClose(bad as never)).toBe(EFAULT);
    }
    for (const opts of [null, 7, { pid: -1 }, { pid: 'x' }, { comm: 5 }, { cmdline: {} }, { privileged: 'yes' }])
      expect(r.drm.open(opts as never), JSON.stringify(opts)).toBe(EINVAL);
    expect(f.handleList()).toEqual(handles);
    expect(r.k.pages.stats().pagesInUse).toBe(pages);
    expect(r.drm.ddev.files.size).toBe(files);
    expect(r.k.modules.find('msm')!.refcount).toBe(refs);
  });

  it('writes the buffers\' addresses back, runs context-restore buffers only after a switch, never IB targets directly', () => {
    const { f } = setup();
    const out = newBuf(f, 0x1000, 0x1_0010_0000);
    const restore = newBuf(f, 0x1000, 0x1_0000_0000);
    const target = newBuf(f, 0x1000, 0x1_0000_1000);
    const main = newBuf(f, 0x1000, 0x1_0000_2000);
    const submitWith = (n: number) => {
      restore.map.writeWords(0, memWrite(out.iova, [n]));
      target.map.writeWords(0, memWrite(out.iova + 4, [0xdead]));
      main.map.writeWords(0, memWrite(out.iova + 8, [n]));
      const bos = [restore, target, main, out].map((b, i) => ({ flags: i === 3 ? MSM_SUBMIT_BO_WRITE : MSM_SUBMIT_BO_READ, handle: b.handle, presumed: 0 }));
      const r = f.gemSubmit({
        flags: MSM_PIPE_3D0,
        bos,
        cmds: [
          { type: MSM_SUBMIT_CMD_CTX_RESTORE_BUF, submitIdx: 0, submitOffset: 0, size: 16 },
          { type: MSM_SUBMIT_CMD_IB_TARGET_BUF, submitIdx: 1, submitOffset: 0, size: 16 },
          { type: MSM_SUBMIT_CMD_BUF, submitIdx: 2, submitOffset: 0, size: 16 },
        ],
      }) as { fence: number };
      expect(bos.map((b) => b.presumed)).toEqual([restore, target, main, out].map((b) => b.iova));
      expect(wait(f, r.fence)).toBe(0);
    };
    submitWith(1);
    expect([out.map.read32(0), out.map.read32(4), out.map.read32(8)]).toEqual([1, 0, 1]);
    submitWith(2);
    expect([out.map.read32(0), out.map.read32(4), out.map.read32(8)]).toEqual([1, 0, 2]);
  });
});

describe('WAIT_FENCE / GEM_CPU_PREP', () => {
  it('wait for the GPU with the uapi\'s timeout semantics', () => {
    const { r, f } = setup();
    const flag = newBuf(f, 0x1000, 0x1_0010_0000);
    const out = newBuf(f, 0x1000, 0x1_0020_0000);
    const other = newBuf(f, 0x1000, 0x1_0030_0000);
    const fence = submitStream(f, newBuf(f, 0x1000, 0x1_0000_0000), gated(flag, out, 9), [{ buf: flag }, { buf: out, write: true }]);
    expect(f.waitFence({ fence, timeout: deadline(f, 0) })).toBe(ETIMEDOUT);
    expect(f.waitFence({ fence, timeout: deadline(f, 10) })).toBe(ETIMEDOUT);
    expect(f.waitFence({ fence: fence + 1, timeout: deadline(f, 10) })).toBe(EINVAL);
    expect(r.k.log.grep(`waiting on invalid fence: ${fence + 1} (of ${fence})`)).toHaveLength(1);
    expect(f.waitFence({ fence, flags: 2, timeout: deadline(f, 10) })).toBe(EINVAL);
    expect(f.waitFence({ fence, queueid: 5, timeout: deadline(f, 10) })).toBe(ENOENT);
    // the GPU writes `out` and reads `flag`: a writer blocks every CPU access, a reader only writers
    const prep = (b: Buf, op: number, ms: number) => f.gemCpuPrep({ handle: b.handle, op, timeout: deadline(f, ms) });
    expect(prep(out, MSM_PREP_READ | MSM_PREP_NOSYNC, 100)).toBe(EBUSY);
    expect(prep(out, MSM_PREP_READ, 0)).toBe(EBUSY);
    expect(prep(out, MSM_PREP_READ, 10)).toBe(ETIMEDOUT);
    expect(prep(flag, MSM_PREP_READ, 10)).toBe(0);
    expect(prep(flag, MSM_PREP_WRITE | MSM_PREP_NOSYNC, 10)).toBe(EBUSY);
    expect(prep(other, MSM_PREP_WRITE, 10)).toBe(0);
    expect(f.gemCpuPrep({ handle: 99, op: MSM_PREP_READ, timeout: deadline(f, 1) })).toBe(ENOENT);
    expect(f.gemCpuPrep({ handle: out.handle, op: 0x40, timeout: deadline(f, 1) })).toBe(EINVAL);
    // the CPU opens the gate: the job finishes
    flag.map.write32(0, 1);
    expect(prep(out, MSM_PREP_READ, 1000)).toBe(0);
    expect(f.gemCpuFini({ handle: out.handle })).toBe(0);
    expect(f.gemCpuFini({ handle: 99 })).toBe(ENOENT);
    expect(out.map.read32(0)).toBe(9);
    expect(f.waitFence({ fence, timeout: deadline(f, 0) })).toBe(0);
  });

  it('a buffer in use keeps its address until the job is done', () => {
    const { f } = setup();
    const flag = newBuf(f, 0x1000, 0x1_0010_0000);
    const out = newBuf(f, 0x1000, 0x1_0020_0000);
    const fence = submitStream(f, newBuf(f, 0x1000, 0x1_0000_0000), gated(flag, out, 1), [{ buf: flag }, { buf: out, write: true }]);
    expect(f.gemInfo({ handle: out.handle, info: MSM_INFO_SET_IOVA, value: 0 })).toBe(EBUSY);
    flag.map.write32(0, 1);
    expect(wait(f, fence)).toBe(0);
    expect(f.gemInfo({ handle: out.handle, info: MSM_INFO_SET_IOVA, value: 0 })).toEqual({ value: 0, len: 0 });
  });
});

describe('SUBMITQUEUE_NEW / CLOSE / QUERY', () => {
  it('makes queues with their own fence ids at the priorities the GPU has', () => {
    const { f } = setup();
    expect(f.submitqueueNew({ flags: 0, prio: 0 })).toEqual({ id: 1 });
    expect(f.submitqueueNew({ flags: 0, prio: 2 })).toEqual({ id: 2 });
    expect(f.submitqueueNew({ flags: 0, prio: 3 })).toBe(EINVAL);
    expect(f.submitqueueNew({ flags: 1, prio: 0 })).toBe(EINVAL);
    expect(f.ctx.queue(1)!.schedPrio).toBe(2);
    expect(f.ctx.queue(0)!.prio).toBe(1);
    const out = newBuf(f, 0x1000, 0x1_0010_0000);
    const f0 = submitStream(f, newBuf(f, 0x1000, 0x1_0000_0000), memWrite(out.iova, [1]), [{ buf: out, write: true }], 0);
    const f1 = submitStream(f, newBuf(f, 0x1000, 0x1_0000_1000), memWrite(out.iova + 4, [2]), [{ buf: out, write: true }], 1);
    expect([f0, f1]).toEqual([1, 1]);
    expect(wait(f, f1, 1000, 1)).toBe(0);
    expect(f.submitqueueQuery({ id: 1, param: MSM_SUBMITQUEUE_PARAM_FAULTS, len: 0 })).toEqual({ len: 4 });
    expect(f.submitqueueQuery({ id: 1, param: MSM_SUBMITQUEUE_PARAM_FAULTS, len: 8 })).toEqual({ len: 4, faults: 0 });
    expect(f.submitqueueQuery({ id: 1, param: 1, len: 4 })).toBe(EINVAL);
    expect(f.submitqueueQuery({ id: 9, param: 0, len: 4 })).toBe(ENOENT);
    expect(f.submitqueueClose(0)).toBe(ENOENT);
    expect(f.submitqueueClose(1)).toBe(0);
    expect(f.submitqueueClose(1)).toBe(ENOENT);
    expect(f.submitqueueNew({ flags: 0, prio: 1 })).toEqual({ id: 3 });
  });
});

describe('close', () => {
  it('refuses a second close and every call after it; the page table outlives a job in flight', () => {
    const { r, f } = setup();
    const live0 = ioPgtableLiveTables(r.k).length;
    const flag = newBuf(f, 0x1000, 0x1_0010_0000);
    const out = newBuf(f, 0x1000, 0x1_0020_0000);
    submitStream(f, newBuf(f, 0x1000, 0x1_0000_0000), gated(flag, out, 3), [{ buf: flag }, { buf: out, write: true }]);
    const pa = flag.map.bo.physAt(0);
    expect(f.close()).toBe(0);
    expect(f.close()).toBe(EBADF);
    expect(f.getParam(p(MSM_PARAM_GPU_ID))).toBe(EBADF);
    expect(f.gemNew({ size: 1, flags: MSM_BO_WC })).toBe(EBADF);
    // the job still holds its buffers and the table: the GPU finishes it once the gate opens
    expect(ioPgtableLiveTables(r.k).length).toBe(live0);
    r.k.mem.write32(pa, 1);
    const g = r.drm.open({ pid: 2 });
    if (typeof g === 'number') throw new Error(String(g));
    g.close(); // any later driver entry lets the retirement run
    r.drm.waitUntil(() => r.drm.gpu.rings[0]!.submits.length === 0, r.k.board.clock.now() + 1e9);
    expect(ioPgtableLiveTables(r.k).length).toBe(live0 - 1);
  });

  it('after the device goes, calls answer -ENODEV and close still releases the file and its table', () => {
    const { r, f } = setup();
    const live = ioPgtableLiveTables(r.k).length;
    const out = newBuf(f, 0x1000, 0x1_0010_0000);
    expect(wait(f, submitStream(f, newBuf(f, 0x1000, 0x1_0000_0000), memWrite(out.iova, [1]), [{ buf: out, write: true }]))).toBe(0);
    expect(r.k.drivers.unbindDevice(r.drm.dev)).toBe(0);
    expect(f.getParam(p(MSM_PARAM_GPU_ID))).toBe(ENODEV);
    expect(r.drm.open()).toBe(ENODEV);
    // the GPU's and the GMU's domains went with the device; the file's own table goes with the file
    expect(ioPgtableLiveTables(r.k).length).toBe(live - 2);
    expect(f.close()).toBe(0);
    expect(ioPgtableLiveTables(r.k).length).toBe(live - 3);
    expect(r.k.modules.unload('msm')).toBe(0);
  });
});
