import { describe, expect, it } from 'vitest';
import { createWalkResult, maliConfig, walk } from '@gki/hw';
import { ECANCELED } from '@gki/kernel';
import { PANFROST_BO_HEAP, PANFROST_BO_NOEXEC, type PanfrostFile } from '../src/index.js';
import { createBo, fakeRig, openFile, type FakeRig } from './helpers.js';

const SZ_2M = 0x20_0000;
const CMD = { UPDATE: 1, LOCK: 2, UNLOCK: 3, FLUSH_PT: 4, FLUSH_MEM: 5 } as const;

/** What the GPU MMU would translate `va` to in slot `as`, from the TRANSTAB/MEMATTR the driver programmed. */
function hwTranslate(rig: FakeRig, as: number, va: number): { pa: number; size: number } | null {
  const t = (BigInt(rig.fake.asReg(as, 0x04)) << 32n) | BigInt(rig.fake.asReg(as, 0x00));
  const m = (BigInt(rig.fake.asReg(as, 0x0c)) << 32n) | BigInt(rig.fake.asReg(as, 0x08));
  const cfg = maliConfig({ transtab: t, memattr: m, vaBits: 48, paBits: 40 });
  const out = createWalkResult();
  if (!walk(rig.board.mem, cfg, va, { write: false, exec: false, priv: false }, out)) return null;
  return { pa: out.oa, size: out.size };
}

/** Submits a job on `file` that the fake completes as soon as it starts. Returns its AS slot. */
function runJob(rig: FakeRig, file: PanfrostFile, jc = 0x200_0000): number {
  let as = -1;
  rig.fake.onStart = (s) => {
    as = s.config & 0xf;
    rig.fake.finishJob(s.slot, 0x01);
  };
  const r = file.submit({ jc, boHandles: [] });
  if (typeof r === 'number') throw new Error(`submit: ${r}`);
  expect(r.fence.signaled).toBe(true);
  expect(r.fence.error).toBe(0);
  rig.fake.onStart = null;
  return as;
}

describe('AS enable and TLB maintenance', () => {
  it('enables a slot with FLUSH_MEM over everything, then TRANSTAB/MEMATTR, then UPDATE', () => {
    const rig = fakeRig();
    const f = openFile(rig.pfdev);
    expect(f.as).toBe(-1);
    const as = runJob(rig, f);
    expect(as).toBe(0);
    const cmds = rig.fake.commandsFor(0);
    expect(cmds.map((c) => c.cmd)).toEqual([CMD.LOCK, CMD.FLUSH_MEM, CMD.UPDATE]);
    expect(cmds[0]!.lockLo).toBe(63); // the whole space: width 63 at 0
    expect(cmds[0]!.lockHi).toBe(0);
    const t = f.mmu.transtab;
    expect(cmds[2]!.transtabLo).toBe(Number(t & 0xffff_ffffn));
    expect(cmds[2]!.transtabHi).toBe(Number(t >> 32n));
    expect(BigInt(rig.fake.asReg(0, 0x08)) | (BigInt(rig.fake.asReg(0, 0x0c)) << 32n)).toBe(f.mmu.memattr);
    // JS_CONFIG_NEXT: AS 0, thread priority 8, start and end cache flush+invalidate (T860: no flush reduction)
    expect(rig.fake.starts[0]!.config).toBe(0 | (8 << 16) | (3 << 8) | (3 << 12));
    expect(rig.fake.starts[0]!.affinityLo).toBe(0xf);
    f.close();
  });

  it('after every map and unmap: LOCK of the covering region, FLUSH_PT, and a wait for AS_ACTIVE', () => {
    const rig = fakeRig({ asActiveReads: 3 });
    const f = openFile(rig.pfdev);
    runJob(rig, f);
    const n0 = rig.fake.commands.length;
    const b = createBo(f, 3 * 0x1000, PANFROST_BO_NOEXEC);
    let cmds = rig.fake.commands.slice(n0);
    expect(cmds.map((c) => c.cmd)).toEqual([CMD.LOCK, CMD.FLUSH_PT]);
    // three pages at 32 MiB: the 32 KiB block at 32 MiB
    expect(cmds[0]!.lockLo).toBe(0x200_0000 | 14);
    expect(rig.pfdev.mmu.stats.flushRanges).toBe(1);
    // the driver waited for AS_ACTIVE to drop before each command and after the last one
    expect(rig.fake.commandsWhileActive).toEqual([]);
    expect(rig.fake.activeReadsLeft(0)).toBe(0);
    const n1 = rig.fake.commands.length;
    expect(f.gemClose({ handle: b.handle })).toBe(0);
    cmds = rig.fake.commands.slice(n1);
    expect(cmds.map((c) => c.cmd)).toEqual([CMD.LOCK, CMD.FLUSH_PT]);
    expect(cmds[0]!.lockLo).toBe(0x200_0000 | 14);
    expect(f.mmu.ops.iovaToPhys(b.offset)).toBe(0);
    expect(rig.fake.commandsWhileActive).toEqual([]);
    expect(rig.fake.activeReadsLeft(0)).toBe(0);
    f.close();
  });

  it('does not flush a context that owns no AS (nothing of it can be cached)', () => {
    const rig = fakeRig();
    const f = openFile(rig.pfdev);
    const n0 = rig.fake.commands.length;
    createBo(f, 0x10000, PANFROST_BO_NOEXEC);
    expect(rig.fake.commands.length).toBe(n0);
    expect(rig.pfdev.mmu.stats.flushesWithoutAs).toBe(1);
    f.close();
  });

  it('maps 2 MiB blocks where IOVA and PA allow it, visible to the hardware walk', () => {
    const rig = fakeRig();
    const f = openFile(rig.pfdev);
    const as = runJob(rig, f);
    const b = createBo(f, 4 * SZ_2M, PANFROST_BO_NOEXEC);
    expect(b.offset % SZ_2M).toBe(0);
    const bo = f.bo(b.handle)!;
    for (let off = 0; off < bo.size; off += 0x1000 * 97) {
      const hw = hwTranslate(rig, as, b.offset + off);
      expect(hw).not.toBeNull();
      expect(hw!.pa).toBe(bo.physAt(off));
    }
    // the allocator hands out 2 MiB blocks here, so every piece is a 2 MiB block mapping
    expect(hwTranslate(rig, as, b.offset)!.size).toBe(SZ_2M);
    // and a buffer with 4 KiB alignment only gets pages
    const small = createBo(f, 0x3000, PANFROST_BO_NOEXEC);
    expect(hwTranslate(rig, as, small.offset)!.size).toBe(0x1000);
    f.close();
  });

  it('reports AS_ACTIVE stuck with the kernel message and resets the GPU', () => {
    const rig = fakeRig();
    const f = openFile(rig.pfdev);
    runJob(rig, f);
    rig.fake.asActiveReads = Number.POSITIVE_INFINITY;
    const t0 = rig.k.board.clock.now();
    createBo(f, 0x1000, PANFROST_BO_NOEXEC);
    expect(rig.k.log.dmesg()).toContain('panfrost 2d000000.gpu: AS_ACTIVE bit stuck');
    // 100 ms of 10 us polls passed before giving up
    expect(rig.k.board.clock.now() - t0).toBeGreaterThanOrEqual(100_000_000);
    expect(rig.pfdev.mmu.stats.asActiveTimeouts).toBeGreaterThan(0);
    expect(rig.pfdev.js.stats.resets).toBe(1);
    // the reset soft-reset the GPU again and every context lost its AS
    expect(rig.fake.writes.filter((w) => w.off === 0x030 && w.value === 1)).toHaveLength(2);
    expect(f.as).toBe(-1);
    rig.fake.asActiveReads = 0;
    f.close();
  });
});

describe('AS slot assignment (panfrost_mmu_as_get / as_put)', () => {
  it('reuses the least recently used idle slot when every present slot is assigned', () => {
    const rig = fakeRig({ asPresent: 0x3 });
    const [a, b, c] = [openFile(rig.pfdev), openFile(rig.pfdev), openFile(rig.pfdev)];
    expect(runJob(rig, a)).toBe(0);
    expect(runJob(rig, b)).toBe(1);
    // A is used again: it moves to the head of the LRU, B is now the least recently used
    expect(runJob(rig, a)).toBe(0);
    expect(rig.pfdev.mmu.stats.asGetHits).toBe(1);
    expect(runJob(rig, c)).toBe(1);
    expect(b.as).toBe(-1);
    expect(rig.pfdev.mmu.lru.map((m) => m.id)).toEqual([c.mmu.id, a.mmu.id]);
    // B comes back and takes A's slot (A is now the tail)
    expect(runJob(rig, b)).toBe(0);
    expect(a.as).toBe(-1);
    expect(rig.pfdev.mmu.stats.asGetReclaims).toBe(2);
    // every (re)assignment programmed the slot for its new owner
    const updates = rig.fake.commands.filter((x) => x.cmd === CMD.UPDATE);
    expect(updates.map((u) => [u.as, u.transtabLo])).toEqual([
      [0, Number(a.mmu.transtab & 0xffff_ffffn)],
      [1, Number(b.mmu.transtab & 0xffff_ffffn)],
      [1, Number(c.mmu.transtab & 0xffff_ffffn)],
      [0, Number(b.mmu.transtab & 0xffff_ffffn)],
    ]);
    for (const f of [a, b, c]) f.close();
  });

  it('never takes a slot from a context with a running job', () => {
    const rig = fakeRig({ asPresent: 0x1 });
    const a = openFile(rig.pfdev);
    const b = openFile(rig.pfdev);
    // A's job stays on the hardware (the fake does not complete it)
    rig.fake.onStart = null;
    const ja = a.submit({ jc: 0x200_0000 });
    if (typeof ja === 'number') throw new Error(String(ja));
    expect(a.as).toBe(0);
    // B's job goes to the other slot only if it can get an AS: it cannot, so it waits queued
    const jb = b.submit({ jc: 0x200_0000, requirements: 1 });
    if (typeof jb === 'number') throw new Error(String(jb));
    expect(jb.fence.signaled).toBe(false);
    expect(rig.fake.starts).toHaveLength(1);
    expect(rig.k.log.dmesg()).toContain('no idle address space to reclaim');
    // A's job finishes: its AS becomes idle and B's job starts in it
    rig.fake.onStart = (s) => rig.fake.finishJob(s.slot, 0x01);
    rig.fake.finishJob(1, 0x01);
    expect(ja.fence.signaled).toBe(true);
    expect(jb.fence.signaled).toBe(true);
    expect(b.as).toBe(0);
    expect(a.as).toBe(-1);
    a.close();
    b.close();
  });

  it('disables the slot when the last reference to its context goes', () => {
    const rig = fakeRig();
    const f = openFile(rig.pfdev);
    runJob(rig, f);
    const n0 = rig.fake.commands.length;
    f.close();
    const cmds = rig.fake.commands.slice(n0);
    expect(cmds.map((c) => c.cmd)).toEqual([CMD.LOCK, CMD.FLUSH_MEM, CMD.UPDATE]);
    expect(rig.fake.asReg(0, 0x00)).toBe(0);
    expect(rig.fake.asReg(0, 0x08)).toBe(0);
    expect(rig.pfdev.mmu.asAllocMask).toBe(0);
  });
});

describe('MMU faults', () => {
  function heapSetup(rig: FakeRig): { f: PanfrostFile; heap: { handle: number; offset: number }; as: number } {
    const f = openFile(rig.pfdev);
    const heap = createBo(f, 3 * SZ_2M, PANFROST_BO_NOEXEC | PANFROST_BO_HEAP);
    const as = runJob(rig, f);
    return { f, heap, as };
  }

  it('grows a heap by the faulting 2 MiB chunk, flushes it, and lets the job go on', () => {
    const rig = fakeRig();
    const { f, heap, as } = heapSetup(rig);
    const va = heap.offset + SZ_2M + 0x1234;
    let jobStillRunning = false;
    rig.fake.onStart = (s) => {
      const n0 = rig.fake.commands.length;
      // translation fault at level 3, read access, source 0x25
      rig.fake.raiseFault(s.config & 0xf, 0x0025_0000 | (2 << 8) | 0xc3, va);
      const cmds = rig.fake.commands.slice(n0);
      expect(cmds.map((c) => c.cmd)).toEqual([CMD.LOCK, CMD.FLUSH_PT]);
      expect(cmds[0]!.lockLo).toBe(((heap.offset + SZ_2M) | 20) >>> 0);
      jobStillRunning = rig.pfdev.js.running[s.slot] !== null;
      rig.fake.finishJob(s.slot, 0x01);
    };
    const r = f.submit({ jc: 0x200_0000, boHandles: [heap.handle] });
    if (typeof r === 'number') throw new Error(String(r));
    expect(jobStillRunning).toBe(true);
    expect(r.fence.error).toBe(0);
    const bo = f.bo(heap.handle)!;
    expect(bo.heapChunksPresent()).toEqual([1]);
    expect(bo.heapRssSize).toBe(SZ_2M);
    expect(hwTranslate(rig, as, va)).not.toBeNull();
    expect(hwTranslate(rig, as, heap.offset)).toBeNull();
    expect(rig.pfdev.mmu.stats.heapFaults).toBe(1);
    expect(rig.fake.mmuRaw).toBe(0);
    expect(rig.fake.mmuMask).toBe(0xffff_ffff);
    expect(rig.pfdev.faults.at(-1)).toMatchObject({ as, addr: va, handled: true });
    // a second fault in the same chunk is spurious: nothing new is mapped
    rig.fake.onStart = (s) => {
      rig.fake.raiseFault(s.config & 0xf, 0xc3 | (3 << 8), va + 8);
      rig.fake.finishJob(s.slot, 0x01);
    };
    f.submit({ jc: 0x200_0000, boHandles: [heap.handle] });
    expect(rig.pfdev.mmu.stats.spuriousFaults).toBe(1);
    expect(bo.heapRssSize).toBe(SZ_2M);
    f.close();
  });

  it('reports a heap fault it cannot back (no memory) and leaks nothing', () => {
    // every allocation failing takes the chunk's pages down; the second call failing lets the
    // chunk's 2 MiB block through and fails the page table under it
    for (const spec of [{ probability: 1, times: 1_000_000 }, { nth: 2 }]) {
      const rig = fakeRig();
      const f = openFile(rig.pfdev);
      // a heap large enough that a fault 1 GiB in needs a new level-2 table
      const heap = createBo(f, 0x4800_0000, PANFROST_BO_NOEXEC | PANFROST_BO_HEAP);
      runJob(rig, f);
      const before = rig.k.pages.snapshot();
      const va = heap.offset + 0x4000_0000 + 0x10;
      rig.fake.onStart = (s) => {
        rig.k.pages.injectFaults(spec);
        rig.fake.raiseFault(s.config & 0xf, 0xc2 | (3 << 8), va);
        rig.k.pages.clearFaults();
        rig.fake.finishJob(s.slot, 0xc2);
      };
      const r = f.submit({ jc: 0x200_0000, boHandles: [heap.handle] });
      if (typeof r === 'number') throw new Error(String(r));
      expect(r.fence.error).toBe(-22);
      expect(rig.k.log.dmesg()).toContain('Unhandled Page fault in AS0');
      expect(f.bo(heap.handle)!.heapChunksPresent()).toEqual([]);
      expect(f.mmu.ops.iovaToPhys(va)).toBe(0);
      expect(rig.k.pages.snapshot()).toEqual(before);
      f.close();
    }
  });

  it('reports any other fault in the kernel format, disables the AS and fails the job', () => {
    const rig = fakeRig();
    const { f, as } = heapSetup(rig);
    const va = 0x1_2345_6000;
    rig.fake.onStart = (s) => {
      // translation fault level 1, write, from a decoder, source 0x7
      rig.fake.raiseFault(s.config & 0xf, 0x0007_0000 | (1 << 10) | (3 << 8) | 0xc1, va);
      // disabling the AS is what ends the job in hardware: the slot reports the fault code
      rig.fake.finishJob(s.slot, 0xc1);
    };
    const r = f.submit({ jc: 0x200_0000 });
    if (typeof r === 'number') throw new Error(String(r));
    expect(r.fence.signaled).toBe(true);
    expect(r.fence.error).toBe(-22);
    const log = rig.k.log.dmesg();
    expect(log).toContain(
      `Unhandled Page fault in AS${as} at VA 0x0000000123456000\n` +
        'Reason: TODO\n' +
        'raw fault status: 0x707C1\n' +
        'decoded fault status: DECODER FAULT\n' +
        'exception type 0xC1: TRANSLATION_FAULT_1\n' +
        'access type 0x3: WRITE\n' +
        'source id 0x7',
    );
    expect(log).toContain('js fault, js=1, status=TRANSLATION_FAULT_1, head=0x2000000');
    // the AS is disabled (TRANSTAB/MEMATTR zero, UPDATE) and its interrupts masked until reused
    expect(rig.fake.asReg(as, 0x00)).toBe(0);
    expect(rig.pfdev.mmu.asFaultyMask).toBe((1 << as) | (1 << (16 + as)));
    expect(rig.fake.mmuMask).toBe(~((1 << as) | (1 << (16 + as))) >>> 0);
    // the next job of the file re-enables its AS: clear its bits, write the mask, forget the
    // fault, enable. The kernel writes MMU_INT_MASK = ~as_faulty_mask *before* it clears the
    // AS from as_faulty_mask, so the AS's interrupts stay masked until the next MMU interrupt
    // thread (or reset) writes the mask again; the model keeps that order.
    runJob(rig, f);
    expect(rig.pfdev.mmu.asFaultyMask).toBe(0);
    expect(rig.fake.mmuMask).toBe(~((1 << as) | (1 << (16 + as))) >>> 0);
    expect(rig.fake.asReg(as, 0x00)).toBe(Number(f.mmu.transtab & 0xffff_ffffn));
    f.close();
  });

  it('treats a fault on a buffer that is not a heap as terminal', () => {
    const rig = fakeRig();
    const f = openFile(rig.pfdev);
    const b = createBo(f, 0x4000, PANFROST_BO_NOEXEC);
    rig.fake.onStart = (s) => {
      rig.fake.raiseFault(s.config & 0xf, 0xc3 | (2 << 8), b.offset + 0x10);
      rig.fake.finishJob(s.slot, 0xc3);
    };
    const r = f.submit({ jc: b.offset, boHandles: [b.handle] });
    if (typeof r === 'number') throw new Error(String(r));
    expect(rig.k.log.dmesg()).toContain(`matching BO is not heap type (GPU VA = ${b.offset.toString(16)})`);
    expect(rig.k.log.dmesg()).toContain('Unhandled Page fault in AS0');
    expect(r.fence.error).toBe(-22);
    f.close();
  });

  it('treats a bus error or a permission fault as terminal even inside a heap', () => {
    const rig = fakeRig();
    const { f, heap } = heapSetup(rig);
    rig.fake.onStart = (s) => {
      rig.fake.raiseFault(s.config & 0xf, 0xc8 | (3 << 8), heap.offset, false);
      rig.fake.finishJob(s.slot, 0xc8);
    };
    f.submit({ jc: 0x200_0000 });
    expect(rig.k.log.dmesg()).toContain('exception type 0xC8: PERM_FAULT_0');
    expect(f.bo(heap.handle)!.heapRssSize).toBe(0);
    f.close();
  });

  it('soft-stops, resets and cancels a job that outlives its 500 ms timeout', () => {
    const rig = fakeRig();
    const f = openFile(rig.pfdev);
    rig.fake.onStart = null; // never completes by itself
    const r = f.submit({ jc: 0x200_0000 });
    if (typeof r === 'number') throw new Error(String(r));
    expect(r.fence.signaled).toBe(false);
    const t0 = rig.k.board.clock.now();
    expect(r.fence.wait()).toBe(0);
    expect(rig.k.board.clock.now() - t0).toBeGreaterThanOrEqual(500_000_000);
    expect(r.fence.error).toBe(-ECANCELED);
    const log = rig.k.log.dmesg();
    expect(log).toMatch(/gpu sched timeout, js=1, config=0x[0-9a-f]+, status=0x8, head=0x2000000, tail=0x0, sched_job=\d+/);
    // the soft-stop ended the chain (STOPPED), the GPU was reset, the job given up
    expect(rig.fake.jsCommands).toContainEqual({ slot: 1, cmd: 2, next: false });
    expect(rig.pfdev.js.stats.timeouts).toBe(1);
    expect(rig.pfdev.js.stats.resets).toBe(1);
    expect(f.as).toBe(-1);
    f.close();
  });
});
