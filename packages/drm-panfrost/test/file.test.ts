import { describe, expect, it } from 'vitest';
import { EACCES, EBADF, EBUSY, EFAULT, EINVAL, ENODEV, ENOENT, ENOMEM, ESRCH, ETIME, ETIMEDOUT, KernelError } from '@gki/kernel';
import { ioPgtableCoreModule, ioPgtableLiveTables } from '@gki/io-pgtable-core';
import panfrost, {
  DRM_SYNCOBJ_CREATE_SIGNALED,
  PANFROST_BO_HEAP,
  PANFROST_BO_NOEXEC,
  PANFROST_JD_REQ_FS,
  PANFROST_MADV_DONTNEED,
  PANFROST_MADV_WILLNEED,
} from '../src/index.js';
import { createBo, fakeRig, openFile, type FakeRig } from './helpers.js';

const SZ_2M = 0x20_0000;

/** Makes the fake complete every job as soon as it starts. */
function autoComplete(rig: FakeRig): void {
  rig.fake.onStart = (s) => rig.fake.finishJob(s.slot, 0x01);
}

describe('CREATE_BO and friends: bad input', () => {
  it('rejects what the kernel rejects and changes nothing', () => {
    const { pfdev, k } = fakeRig();
    const f = openFile(pfdev);
    const before = k.pages.stats().pagesInUse;
    expect(f.createBo({ size: 0, flags: 0 })).toBe(-EINVAL);
    expect(f.createBo({ size: 0x1000, flags: 0, pad: 1 })).toBe(-EINVAL);
    expect(f.createBo({ size: 0x1000, flags: 4 })).toBe(-EINVAL);
    // heaps should never be executable
    expect(f.createBo({ size: 0x1000, flags: PANFROST_BO_HEAP })).toBe(-EINVAL);
    expect(f.createBo({ size: 2 ** 32, flags: 0 })).toBe(-EINVAL);
    expect(f.createBo({ size: -4096, flags: 0 })).toBe(-EINVAL);
    expect(f.createBo({ size: 1.5, flags: 0 })).toBe(-EINVAL);
    expect(f.handleList()).toEqual([]);
    expect(k.pages.stats().pagesInUse).toBe(before);
    expect(f.mmu.mm.nodes()).toHaveLength(0);
    // lookups of unknown handles
    expect(f.getBoOffset({ handle: 7 })).toBe(-ENOENT);
    expect(f.mmapBo({ handle: 7 })).toBe(-ENOENT);
    expect(f.waitBo({ handle: 7, timeoutNs: 0 })).toBe(-ENOENT);
    expect(f.madvise({ handle: 7, madv: PANFROST_MADV_DONTNEED })).toBe(-ENOENT);
    expect(f.gemClose({ handle: 7 })).toBe(-EINVAL);
    const b = createBo(f, 0x1000);
    expect(f.mmapBo({ handle: b.handle, flags: 1 })).toBe(-EINVAL);
    expect(k.log.dmesg()).toContain('unknown mmap_bo flags: 1');
    expect(f.waitBo({ handle: b.handle, pad: 1, timeoutNs: 0 })).toBe(-EINVAL);
    // an argument that is not an object is the ioctl's bad user pointer: -EFAULT, nothing done
    const handles = f.handleList();
    const pages = k.pages.stats().pagesInUse;
    for (const bad of [null, undefined, 7, 'x']) {
      expect(f.createBo(bad as never)).toBe(-EFAULT);
      expect(f.submit(bad as never)).toBe(-EFAULT);
      expect(f.getParam(bad as never)).toBe(-EFAULT);
      expect(f.mmapBo(bad as never)).toBe(-EFAULT);
      expect(f.waitBo(bad as never)).toBe(-EFAULT);
      expect(f.madvise(bad as never)).toBe(-EFAULT);
      expect(f.gemClose(bad as never)).toBe(-EFAULT);
    }
    expect(f.handleList()).toEqual(handles);
    expect(k.pages.stats().pagesInUse).toBe(pages);
    f.close();
  });

  it('hands out the lowest free handle from 1, and GEM_CLOSE frees the buffer', () => {
    const { pfdev, k } = fakeRig();
    const f = openFile(pfdev);
    const base = k.pages.stats().pagesInUse;
    const a = createBo(f, 0x4000, PANFROST_BO_NOEXEC);
    const b = createBo(f, 0x4000, PANFROST_BO_NOEXEC);
    expect([a.handle, b.handle]).toEqual([1, 2]);
    expect(f.gemClose({ handle: 1 })).toBe(0);
    const c = createBo(f, 0x4000, PANFROST_BO_NOEXEC);
    expect(c.handle).toBe(1);
    // best fit puts the new buffer back in the freed range
    expect(c.offset).toBe(a.offset);
    expect(f.getBoOffset({ handle: 1 })).toEqual({ offset: c.offset });
    f.gemClose({ handle: 1 });
    f.gemClose({ handle: 2 });
    // only the page-table pages of the context remain
    expect(k.pages.stats().pagesInUse - base).toBeLessThanOrEqual(4);
    f.close();
  });

  it('fails with -ENOMEM and no leak when memory runs out mid-way', () => {
    const { pfdev, k } = fakeRig();
    const f = openFile(pfdev);
    const before = k.pages.snapshot();
    k.pages.injectFaults({ probability: 1, times: 1_000_000 });
    expect(f.createBo({ size: 4 * SZ_2M, flags: PANFROST_BO_NOEXEC })).toBe(-ENOMEM);
    k.pages.clearFaults();
    expect(k.pages.snapshot()).toEqual(before);
    expect(f.handleList()).toEqual([]);
    expect(f.mmu.mm.nodes()).toHaveLength(0);
    f.close();
  });
});

describe('MMAP_BO and the CPU mapping', () => {
  it('gives the fake offset from 4 GiB, and a mapping that reads and writes the buffer pages', () => {
    const { pfdev, k } = fakeRig();
    const f = openFile(pfdev);
    const b = createBo(f, 0x3000, PANFROST_BO_NOEXEC);
    const m = f.mmapBo({ handle: b.handle });
    expect(m).toEqual({ offset: 2 ** 32 });
    // a second MMAP_BO of the same buffer returns the same offset; the next buffer the next one
    expect(f.mmapBo({ handle: b.handle })).toEqual({ offset: 2 ** 32 });
    const b2 = createBo(f, 0x1000, PANFROST_BO_NOEXEC);
    expect(f.mmapBo({ handle: b2.handle })).toEqual({ offset: 2 ** 32 + 0x3000 });
    const cpu = f.mmap(2 ** 32, 0x3000);
    if (typeof cpu === 'number') throw new Error(String(cpu));
    cpu.write32(0x2ffc, 0xdead_beef);
    cpu.write(0x10, new Uint8Array([1, 2, 3]));
    const bo = f.bo(b.handle)!;
    expect(k.mem.read32(bo.physAt(0x2ffc))).toBe(0xdead_beef);
    expect([...cpu.read(0x10, 3)]).toEqual([1, 2, 3]);
    cpu.fill32(0, 0x3000, 0x1234_5678);
    expect(cpu.read32(0x1000)).toBe(0x1234_5678);
    expect(() => cpu.read32(0x3000)).toThrow(KernelError);
    expect(() => cpu.read32(2)).toThrow(/misaligned/);
    // bad mmaps
    expect(f.mmap(2 ** 32, 0x4000)).toBe(-EINVAL);
    expect(f.mmap(2 ** 32 + 0x1000, 0x1000)).toBe(-EINVAL);
    expect(f.mmap(0x1000, 0x1000)).toBe(-EINVAL);
    // another file cannot map this file's buffer
    const g = openFile(pfdev);
    expect(g.mmap(2 ** 32, 0x1000)).toBe(-EACCES);
    g.close();
    // a heap cannot be mapped
    const h = createBo(f, SZ_2M, PANFROST_BO_NOEXEC | PANFROST_BO_HEAP);
    expect(f.mmapBo({ handle: h.handle })).toBe(-EINVAL);
    // GEM_CLOSE frees the second buffer and its offset (drm_gem_object_release); its offset maps nothing now
    expect(f.gemClose({ handle: b2.handle })).toBe(0);
    expect(f.mmap(2 ** 32 + 0x3000, 0x1000)).toBe(-EINVAL);
    f.close();
    // after the buffer is gone its CPU mapping faults, and the device's offset space is empty again
    expect(() => cpu.read32(0)).toThrow(/SIGBUS/);
    expect(pfdev.ddev.vmaOffsetManager!.clean).toBe(true);
  });
});

describe('MADVISE and the shrinker', () => {
  it('purges DONTNEED buffers no job uses; WILLNEED then reports retained = 0', () => {
    const rig = fakeRig();
    const { pfdev, k } = rig;
    autoComplete(rig);
    const f = openFile(pfdev);
    const keep = createBo(f, SZ_2M, PANFROST_BO_NOEXEC);
    const drop = createBo(f, SZ_2M, PANFROST_BO_NOEXEC);
    f.submit({ jc: keep.offset, boHandles: [keep.handle] }); // gives the context an AS
    expect(f.madvise({ handle: drop.handle, madv: PANFROST_MADV_DONTNEED })).toEqual({ retained: 1 });
    expect(f.madvise({ handle: keep.handle, madv: PANFROST_MADV_DONTNEED })).toEqual({ retained: 1 });
    expect(f.madvise({ handle: keep.handle, madv: PANFROST_MADV_WILLNEED })).toEqual({ retained: 1 });
    const inUse = k.pages.stats().pagesInUse;
    const n0 = rig.fake.commands.length;
    expect(pfdev.shrink()).toBe(SZ_2M / 0x1000);
    expect(k.pages.stats().pagesInUse).toBe(inUse - SZ_2M / 0x1000);
    // the purge unmapped the buffer with a flush before freeing the pages
    expect(rig.fake.commands.slice(n0).map((c) => c.cmd)).toEqual([2, 4]);
    expect(f.mmu.ops.iovaToPhys(drop.offset)).toBe(0);
    expect(f.mmu.ops.iovaToPhys(keep.offset)).not.toBe(0);
    expect(f.madvise({ handle: drop.handle, madv: PANFROST_MADV_WILLNEED })).toEqual({ retained: 0 });
    const cpuOff = f.mmapBo({ handle: drop.handle });
    if (typeof cpuOff === 'number') throw new Error(String(cpuOff));
    const cpu = f.mmap(cpuOff.offset, 0x1000);
    if (typeof cpu === 'number') throw new Error(String(cpu));
    expect(() => cpu.read32(0)).toThrow(/SIGBUS/);
    f.close();
  });

  it('does not purge a buffer a queued or running job uses', () => {
    const rig = fakeRig();
    const f = openFile(rig.pfdev);
    const b = createBo(f, 0x4000, PANFROST_BO_NOEXEC);
    rig.fake.onStart = null;
    const r = f.submit({ jc: b.offset, boHandles: [b.handle] });
    if (typeof r === 'number') throw new Error(String(r));
    f.madvise({ handle: b.handle, madv: PANFROST_MADV_DONTNEED });
    expect(rig.pfdev.shrink()).toBe(0);
    rig.fake.finishJob(1);
    expect(r.fence.signaled).toBe(true);
    expect(rig.pfdev.shrink()).toBe(4);
    f.close();
  });
});

describe('SUBMIT, fences, WAIT_BO and syncobjs', () => {
  it('validates the submission and takes no reference on failure', () => {
    const rig = fakeRig();
    const f = openFile(rig.pfdev);
    const b = createBo(f, 0x1000, PANFROST_BO_NOEXEC);
    expect(f.submit({ jc: 0 })).toBe(-EINVAL);
    expect(f.submit({ jc: 0x200_0000, requirements: 2 })).toBe(-EINVAL);
    expect(f.submit({ jc: 0x200_0000, boHandles: [b.handle, 9] })).toBe(-ENOENT);
    expect(f.submit({ jc: 0x200_0000, outSync: 5 })).toBe(-ENODEV);
    expect(f.submit({ jc: 0x200_0000, inSyncs: [5] })).toBe(-ENOENT);
    const so = f.syncobjCreate();
    if (typeof so === 'number') throw new Error(String(so));
    expect(f.submit({ jc: 0x200_0000, inSyncs: [so.handle] })).toBe(-EINVAL);
    const bo = f.bo(b.handle)!;
    expect(bo.refcount).toBe(2); // handle + mapping
    expect(bo.gpuUsecount).toBe(0);
    expect(rig.fake.starts).toHaveLength(0);
    f.close();
  });

  it('orders jobs through each buffer\'s last fence, across job slots', () => {
    const rig = fakeRig();
    const f = openFile(rig.pfdev);
    const b = createBo(f, 0x1000, PANFROST_BO_NOEXEC);
    rig.fake.onStart = null;
    const vertex = f.submit({ jc: 0x200_0000, boHandles: [b.handle] });
    const frag = f.submit({ jc: 0x300_0000, boHandles: [b.handle], requirements: PANFROST_JD_REQ_FS });
    if (typeof vertex === 'number' || typeof frag === 'number') throw new Error('submit');
    // the fragment job (JS0) waits for the vertex job (JS1) that wrote the same buffer
    expect(rig.fake.starts.map((s) => s.slot)).toEqual([1]);
    expect(f.waitBo({ handle: b.handle, timeoutNs: 0 })).toBe(-EBUSY);
    rig.fake.finishJob(1);
    expect(vertex.fence.signaled).toBe(true);
    expect(rig.fake.starts.map((s) => s.slot)).toEqual([1, 0]);
    expect(rig.fake.starts[1]!.head).toBe(0x300_0000);
    rig.fake.finishJob(0);
    expect(frag.fence.error).toBe(0);
    expect(f.waitBo({ handle: b.handle, timeoutNs: 0 })).toBe(0);
    f.close();
  });

  it('WAIT_BO times out at its absolute deadline, and a job past 500 ms ends the wait with a reset', () => {
    const rig = fakeRig();
    const f = openFile(rig.pfdev);
    const b = createBo(f, 0x1000, PANFROST_BO_NOEXEC);
    rig.fake.onStart = null;
    const r = f.submit({ jc: 0x200_0000, boHandles: [b.handle] });
    if (typeof r === 'number') throw new Error(String(r));
    const now = rig.k.board.clock.now();
    expect(f.waitBo({ handle: b.handle, timeoutNs: now + 1_000_000 })).toBe(-ETIMEDOUT);
    expect(rig.k.board.clock.now()).toBe(now + 1_000_000);
    // a past deadline polls
    expect(f.waitBo({ handle: b.handle, timeoutNs: now })).toBe(-EBUSY);
    expect(r.fence.wait(1000)).toBe(-ETIME);
    // no limit: the job times out after 500 ms of GPU time, the wait returns 0
    expect(f.waitBo({ handle: b.handle, timeoutNs: Number.MAX_SAFE_INTEGER })).toBe(0);
    expect(r.fence.error).toBe(-125);
    f.close();
  });

  it('puts the job fence in the out syncobj; in-syncs hold a job back', async () => {
    const rig = fakeRig();
    const f = openFile(rig.pfdev);
    const so = f.syncobjCreate() as { handle: number };
    const signaled = f.syncobjCreate({ flags: DRM_SYNCOBJ_CREATE_SIGNALED }) as { handle: number };
    expect(f.syncobjWait({ handles: [signaled.handle], timeoutNs: 0 })).toEqual({ firstSignaled: 0 });
    expect(f.syncobjWait({ handles: [so.handle], timeoutNs: 0 })).toBe(-EINVAL);
    rig.fake.onStart = null;
    const a = f.submit({ jc: 0x200_0000, outSync: so.handle });
    if (typeof a === 'number') throw new Error(String(a));
    expect(f.syncobjFence(so.handle)).toBe(a.fence);
    const b = f.submit({ jc: 0x300_0000, inSyncs: [so.handle], requirements: PANFROST_JD_REQ_FS });
    if (typeof b === 'number') throw new Error(String(b));
    expect(rig.fake.starts).toHaveLength(1);
    expect(f.syncobjWait({ handles: [so.handle], timeoutNs: 0 })).toBe(-ETIME);
    autoComplete(rig);
    rig.fake.finishJob(1);
    expect(await a.fence.done).toBe(0);
    expect(await b.fence.done).toBe(0);
    expect(rig.fake.starts).toHaveLength(2);
    expect(f.syncobjWait({ handles: [so.handle, signaled.handle], timeoutNs: 0, flags: 1 })).toEqual({ firstSignaled: 0 });
    expect(f.syncobjDestroy({ handle: so.handle })).toBe(0);
    expect(f.syncobjDestroy({ handle: so.handle })).toBe(-EINVAL);
    f.close();
  });

  it('a faulting job fails with -EINVAL and the next job of the file still runs', () => {
    const rig = fakeRig();
    const f = openFile(rig.pfdev);
    rig.fake.onStart = (s) => rig.fake.finishJob(s.slot, 0x58); // DATA_INVALID_FAULT
    const bad = f.submit({ jc: 0x200_0000 });
    if (typeof bad === 'number') throw new Error(String(bad));
    expect(bad.fence.error).toBe(-EINVAL);
    expect(rig.k.log.dmesg()).toContain('js fault, js=1, status=DATA_INVALID_FAULT, head=0x2000000, tail=0x2000000');
    // the failed slot's NEXT was cancelled with NOP, as the kernel does
    expect(rig.fake.jsCommands).toContainEqual({ slot: 1, cmd: 0, next: true });
    autoComplete(rig);
    const good = f.submit({ jc: 0x200_0000 });
    if (typeof good === 'number') throw new Error(String(good));
    expect(good.fence.error).toBe(0);
    f.close();
  });
});

describe('close, module references and unload rules', () => {
  it('an open file pins panfrost; a live page table pins io-pgtable-arm; all back to start after close', () => {
    const rig = fakeRig();
    const { k, pfdev } = rig;
    autoComplete(rig);
    const baseline = k.pages.snapshot();
    const files = [openFile(pfdev), openFile(pfdev), openFile(pfdev)];
    for (const f of files) {
      const b = createBo(f, 3 * SZ_2M, PANFROST_BO_NOEXEC);
      createBo(f, 0x5000);
      createBo(f, SZ_2M, PANFROST_BO_NOEXEC | PANFROST_BO_HEAP);
      f.submit({ jc: b.offset, boHandles: [b.handle] });
    }
    expect(ioPgtableLiveTables(k).filter((t) => t.fmt === 'ARM_MALI_LPAE')).toHaveLength(3);
    expect(k.modules.unload('panfrost')).toBe(-EBUSY);
    expect(k.log.dmesg()).toContain('rmmod: ERROR: Module panfrost is in use');
    expect(k.modules.unload('io-pgtable-arm')).toBe(-EBUSY);
    for (const f of files) expect(f.close()).toBe(0);
    expect(files[0]!.close()).toBe(-EBADF);
    expect(files[0]!.createBo({ size: 0x1000, flags: 0 })).toBe(-EBADF);
    expect(ioPgtableLiveTables(k)).toHaveLength(0);
    expect(k.pages.snapshot()).toEqual(baseline);
    expect(k.modules.unload('panfrost')).toBe(0);
    expect(k.modules.unload('io-pgtable-arm')).toBe(0);
    // the driver unbound on unload: registers masked, GPU powered down, no render node
    expect(rig.fake.jobMask).toBe(0);
    expect(rig.fake.mmuMask).toBe(0);
    expect(rig.fake.writes.some((w) => w.off === 0x1c0)).toBe(true);
  });

  it('closing a file hard-stops its running job; the context lives until the job ends', () => {
    const rig = fakeRig();
    const { k, pfdev } = rig;
    const baseline = k.pages.snapshot();
    const f = openFile(pfdev);
    const b = createBo(f, SZ_2M, PANFROST_BO_NOEXEC);
    rig.fake.onStart = null;
    const r = f.submit({ jc: b.offset, boHandles: [b.handle] });
    if (typeof r === 'number') throw new Error('submit');
    expect(f.close()).toBe(0);
    // HARD_STOP on JS1 ended the chain with TERMINATED: the fence says -ECANCELED
    expect(rig.fake.jsCommands).toContainEqual({ slot: 1, cmd: 3, next: false });
    expect(r.fence.error).toBe(-125);
    expect(k.log.dmesg()).not.toContain('gpu sched timeout');
    expect(k.pages.snapshot()).toEqual(baseline);
    expect(pfdev.files.size).toBe(0);
  });

  it('closing a file gives its queued jobs 1 s to reach the hardware, then drops the rest (-ESRCH)', () => {
    const rig = fakeRig();
    const { k, pfdev } = rig;
    const baseline = k.pages.snapshot();
    const f = openFile(pfdev);
    rig.fake.onStart = null; // nothing ever completes by itself
    const syncs = [0, 1, 2, 3].map(() => (f.syncobjCreate() as { handle: number }).handle);
    const fences = [0, 1, 2, 3].map((i) => {
      const r = f.submit({
        jc: 0x200_0000 + i * 0x1000,
        outSync: syncs[i],
        inSyncs: i > 0 ? [syncs[i - 1]!] : [],
        requirements: i % 2 ? PANFROST_JD_REQ_FS : 0,
      });
      if (typeof r === 'number') throw new Error(String(r));
      return r.fence;
    });
    const t0 = k.board.clock.now();
    expect(f.close()).toBe(0);
    // job 0 timed out at 500 ms, job 1 (started then) at 1 s, job 2 was on the hardware at the
    // end of the 1 s flush and was hard-stopped, job 3 never left the queue
    expect(k.board.clock.now() - t0).toBe(1_000_000_000);
    expect(fences.map((x) => x.error)).toEqual([-125, -125, -125, -ESRCH]);
    expect(pfdev.js.stats.timeouts).toBe(2);
    expect(k.pages.snapshot()).toEqual(baseline);
  });

  it('refuses open() when the ARM_MALI_LPAE format cannot be had', () => {
    const rig = fakeRig();
    const { k, pfdev } = rig;
    expect(k.modules.unload('io-pgtable-arm')).toBe(0);
    // the image still has the module: the core loads it again on demand through its alias
    const f = pfdev.open();
    expect(typeof f).not.toBe('number');
    if (typeof f !== 'number') f.close();
    // an image without the format module: the driver binds (probe needs no page table) but
    // opening a file fails as the kernel's NULL from alloc_io_pgtable_ops does
    const rig2 = fakeRig({ image: { builtin: [ioPgtableCoreModule], modules: [panfrost], load: ['panfrost'] } });
    const before = rig2.k.pages.snapshot();
    expect(rig2.pfdev.open()).toBe(-EINVAL);
    expect(rig2.k.log.dmesg()).toContain('no module in the image provides io-pgtable-fmt-ARM_MALI_LPAE');
    expect(rig2.k.log.dmesg()).toContain('failed to allocate the ARM_MALI_LPAE page table');
    expect(rig2.k.pages.snapshot()).toEqual(before);
    expect(rig2.k.modules.list().find((m) => m.name === 'panfrost')!.dynamicRefs).toBe(0);
  });

  it('answers -ENODEV on a file whose device went away', () => {
    const rig = fakeRig();
    const f = openFile(rig.pfdev);
    const dev = rig.k.drivers.findDevice('2d000000.gpu')!;
    // unbind the device (the module itself stays loaded: the file pins it)
    rig.k.drivers.unregisterDriver(dev.driver!);
    expect(f.createBo({ size: 0x1000, flags: 0 })).toBe(-ENODEV);
    expect(rig.pfdev.open()).toBe(-ENODEV);
    expect(f.close()).toBe(0);
  });
});
