import { describe, expect, it } from 'vitest';
import { ioPgtableLiveTables } from '@gki/io-pgtable-core';
import {
  MSM_PARAM_FAULTS,
  MSM_PIPE_3D0,
  MSM_SUBMITQUEUE_PARAM_FAULTS,
  MsmIommuPagetable,
  type MsmFile,
} from '../src/index.js';
import { memCopy, memWrite, newBuf, submitStream, wait, type Buf } from './client.js';
import { bootModel, bootModelOk, defaultImage, sdm845GpuDtb, type ModelRig as Rig } from './rig.js';

const SHARED_VA = 0x1_0010_0000;
const CMD_VA = 0x1_0000_0000;
const OUT_VA = 0x1_0020_0000;

function open(r: Rig, pid: number, comm: string): MsmFile {
  const f = r.drm.open({ pid, comm, cmdline: `${comm} --run` });
  if (typeof f === 'number') throw new Error(`open: ${f}`);
  return f;
}

interface Proc {
  f: MsmFile;
  data: Buf;
  out: Buf;
  cmd: Buf;
}

/** A process with a data buffer at SHARED_VA, an output buffer and a command buffer, at the same VAs in every process. */
function proc(r: Rig, pid: number, comm: string, seed: number, outVa = OUT_VA, cmdVa = CMD_VA): Proc {
  const f = open(r, pid, comm);
  const data = newBuf(f, 0x4000, SHARED_VA);
  for (let i = 0; i < 4; i++) data.map.write32(i * 4, (seed + i) >>> 0);
  return { f, data, out: newBuf(f, 0x1000, outVa), cmd: newBuf(f, 0x1000, cmdVa) };
}

/** The process copies data[i] to out[i] for i < 4 (reads at the shared VA). */
function copyJob(p: Proc): number[] {
  const s: number[] = [];
  for (let i = 0; i < 4; i++) s.push(...memCopy(p.out.iova + 4 * i, SHARED_VA + 4 * i));
  return s;
}

describe('two processes on one ring, each with its own page table', () => {
  it('run at the same GPU addresses backed by different memory, and each reads only its own data', () => {
    const r = bootModelOk();
    const a = proc(r, 1201, 'procA', 0xa000_0000);
    const b = proc(r, 1202, 'procB', 0xb000_0000);
    expect(a.data.iova).toBe(b.data.iova);
    expect(a.data.map.bo.physAt(0)).not.toBe(b.data.map.bo.physAt(0));
    const fences: [Proc, number][] = [];
    for (let round = 0; round < 3; round++)
      for (const p of [a, b]) fences.push([p, submitStream(p.f, p.cmd, copyJob(p), [{ buf: p.data }, { buf: p.out, write: true }])]);
    for (const [p, fence] of fences) expect(wait(p.f, fence)).toBe(0);
    for (let i = 0; i < 4; i++) {
      expect(a.out.map.read32(4 * i)).toBe((0xa000_0000 + i) >>> 0);
      expect(b.out.map.read32(4 * i)).toBe((0xb000_0000 + i) >>> 0);
    }
    // one table switch per change of process: A B A B A B, each with its TLB invalidation
    expect(r.drm.gpu.stats.ttbrSwitches).toBe(6);
    const ttbrOf = (p: Proc) => BigInt.asUintN(64, (p.f.ctx.aspace.mmu as MsmIommuPagetable).ttbr);
    const updates = r.gpu.cp.tableUpdates;
    expect(updates.map((u) => u.ttbr0 & 0xffff_ffff_ffffn)).toEqual([a, b, a, b, a, b].map(ttbrOf));
    expect(updates.every((u) => u.asid === 0 && u.contextBank === 0 && u.invalidated && u.fault === 0)).toBe(true);
  });

  it('keeps the kernel buffers in the TTBR1 half, reachable whichever process table TTBR0 holds', () => {
    const r = bootModelOk();
    const gpu = r.drm.gpu;
    const ring = gpu.rings[0]!;
    // ringbuffer and memptrs live in the upper (TTBR1) half of the GPU's 49-bit space
    expect(ring.iova).toBeGreaterThanOrEqual(2 ** 48);
    expect(ring.memptrsIova).toBeGreaterThanOrEqual(2 ** 48);
    expect(gpu.aspace.vaStart).toBe(2 ** 48);
    const a = proc(r, 1, 'a', 0x1111_0000);
    const b = proc(r, 2, 'b', 0x2222_0000);
    const fa = submitStream(a.f, a.cmd, copyJob(a), [{ buf: a.data }, { buf: a.out, write: true }]);
    // after A's switch the CP still fetches the ring and writes the fence and TTBR0 slot in TTBR1
    expect(wait(a.f, fa)).toBe(0);
    expect(gpu.memptrsFence(ring)).toBe(ring.seqno);
    expect(gpu.memptrsTtbr0(ring)).toBe(BigInt.asUintN(64, (a.f.ctx.aspace.mmu as MsmIommuPagetable).ttbr));
    const fb = submitStream(b.f, b.cmd, copyJob(b), [{ buf: b.data }, { buf: b.out, write: true }]);
    expect(wait(b.f, fb)).toBe(0);
    expect(gpu.memptrsFence(ring)).toBe(ring.seqno);
    expect(gpu.memptrsTtbr0(ring)).toBe(BigInt.asUintN(64, (b.f.ctx.aspace.mmu as MsmIommuPagetable).ttbr));
    // a process cannot reach them through its own table: they are not in the lower half
    expect(a.f.ctx.aspace.vaStart + a.f.ctx.aspace.vaSize).toBeLessThan(2 ** 48);
  });

  it('reports a fault with the faulting process, blames only its context, and the other process carries on', () => {
    const r = bootModelOk();
    const a = proc(r, 4242, 'glmark2', 0xa0);
    const b = proc(r, 4343, 'vkcube', 0xb0);
    const fb1 = submitStream(b.f, b.cmd, copyJob(b), [{ buf: b.data }, { buf: b.out, write: true }]);
    // A writes to an address it never mapped, then its own marker
    const bad = 0x1_4000_0000;
    const fa = submitStream(a.f, a.cmd, [...memWrite(bad, [0x5a5a_5a5a]), ...memWrite(OUT_VA, [0x600d])], [{ buf: a.out, write: true }]);
    const b2cmd = newBuf(b.f, 0x1000, CMD_VA + 0x1000);
    const fb2 = submitStream(b.f, b2cmd, memWrite(OUT_VA + 0x10, [0xb2b2]), [{ buf: b.out, write: true }]);
    expect(wait(a.f, fa)).toBe(0);
    expect(wait(b.f, fb1)).toBe(0);
    expect(wait(b.f, fb2)).toBe(0);
    const ttbrA = BigInt.asUintN(64, (a.f.ctx.aspace.mmu as MsmIommuPagetable).ttbr);
    const line = r.k.log.grep('*** gpu fault:');
    expect(line).toHaveLength(1);
    expect(line[0]!.msg).toBe(`*** gpu fault: ttbr0=${ttbrA.toString(16).padStart(16, '0')} iova=0000000140000000 dir=WRITE type=TRANSLATION source=CP (0,0,0,0)`);
    expect(r.k.log.grep('offending task: glmark2 (glmark2 --run) pid 4242')).toHaveLength(1);
    const rec = r.drm.gpu.faults[0]!;
    expect(rec).toMatchObject({ iova: bad, write: true, comm: 'glmark2', pid: 4242, fenceId: fa });
    // the stalled write was terminated; the rest of A's stream ran, then B's
    expect(r.gpu.cp.stats.terminations).toBe(1);
    expect(a.out.map.read32(0)).toBe(0x600d);
    expect(b.out.map.read32(0x10)).toBe(0xb2b2);
    for (let i = 0; i < 4; i++) expect(b.out.map.read32(4 * i)).toBe(0xb0 + i);
    // A sees the fault, B does not
    expect(a.f.getParam({ pipe: MSM_PIPE_3D0, param: MSM_PARAM_FAULTS })).toEqual({ value: 1n });
    expect(b.f.getParam({ pipe: MSM_PIPE_3D0, param: MSM_PARAM_FAULTS })).toEqual({ value: 0n });
    expect(a.f.submitqueueQuery({ id: 0, param: MSM_SUBMITQUEUE_PARAM_FAULTS, len: 4 })).toEqual({ len: 4, faults: 1 });
    expect(b.f.submitqueueQuery({ id: 0, param: MSM_SUBMITQUEUE_PARAM_FAULTS, len: 4 })).toEqual({ len: 4, faults: 0 });
    expect(a.f.fenceStatus(0, fa)).toBe(-5);
    expect(b.f.fenceStatus(0, fb1)).toBe(1);
    expect(b.f.fenceStatus(0, fb2)).toBe(1);
    // the crash state names the process and the table it ran on
    const cs = r.drm.gpu.takeCrashstate()!;
    expect(cs).toMatchObject({ reason: 'fault', comm: 'glmark2', pid: 4242, pgtableTtbr0: (a.f.ctx.aspace.mmu as MsmIommuPagetable).ttbr });
    expect(cs.fault).toMatchObject({ iova: bad, write: true, type: 'TRANSLATION', source: 'CP' });
    // A's next submit runs normally and keeps the count
    const a2 = newBuf(a.f, 0x1000, CMD_VA + 0x2000);
    const fa2 = submitStream(a.f, a2, memWrite(OUT_VA + 0x20, [7]), [{ buf: a.out, write: true }]);
    expect(wait(a.f, fa2)).toBe(0);
    expect(a.out.map.read32(0x20)).toBe(7);
    expect(a.f.fenceStatus(0, fa2)).toBe(1);
    expect(a.f.getParam({ pipe: MSM_PIPE_3D0, param: MSM_PARAM_FAULTS })).toEqual({ value: 1n });
  });

  it('a CP that skips the TLB invalidation of the table switch lets a process see another one\'s memory', () => {
    const run = (drop: boolean) => {
      const r = bootModelOk();
      r.gpu.cp.skipTableUpdateInvalidate = drop;
      const a = proc(r, 1, 'a', 0xaaaa_0000);
      // B's command and output pages are at addresses A never used: only SHARED_VA has a
      // translation A left behind
      const b = proc(r, 2, 'b', 0xbbbb_0000, OUT_VA + 0x1_0000, CMD_VA + 0x1_0000);
      // A reads its data: the SMMU caches SHARED_VA -> A's page
      expect(wait(a.f, submitStream(a.f, a.cmd, copyJob(a), [{ buf: a.data }, { buf: a.out, write: true }]))).toBe(0);
      expect(wait(b.f, submitStream(b.f, b.cmd, copyJob(b), [{ buf: b.data }, { buf: b.out, write: true }]))).toBe(0);
      return [b.out.map.read32(0), a.data.map.read32(0)];
    };
    // with the invalidation B reads its own data; without it, A's through the stale translation
    expect(run(false)).toEqual([0xbbbb_0000, 0xaaaa_0000]);
    expect(run(true)[0]).toBe(0xaaaa_0000);
  });
});

describe('unload rules', () => {
  it('io-pgtable-arm stays pinned by every process table; msm stays while a file is open; all comes back', () => {
    const r = bootModel(sdm845GpuDtb(), defaultImage([], ['arm_smmu']));
    expect(r.drm).toBeUndefined();
    const k = r.k;
    const before = k.pages.stats().pagesInUse;
    const tablesBefore = ioPgtableLiveTables(k).length;
    expect(k.modules.modprobe('msm')).toBe(0);
    const arm = () => k.modules.find('io-pgtable-arm')!.refcount;
    const ref0 = arm();
    const r2 = { ...r, drm: (k.drivers.findDevice('5000000.gpu')!.getDrvdata() as Rig['drm']) };
    const a = proc(r2, 1, 'a', 1);
    const b = proc(r2, 2, 'b', 2);
    expect(arm()).toBe(ref0 + 2);
    expect(wait(a.f, submitStream(a.f, a.cmd, copyJob(a), [{ buf: a.data }, { buf: a.out, write: true }]))).toBe(0);
    expect(k.modules.unload('io-pgtable-arm')).toBe(-16);
    expect(k.modules.unload('msm')).toBe(-16);
    expect(k.log.grep('Module msm is in use').length).toBeGreaterThan(0);
    expect(a.f.close()).toBe(0);
    expect(arm()).toBe(ref0 + 1);
    expect(k.modules.unload('msm')).toBe(-16);
    expect(b.f.close()).toBe(0);
    expect(arm()).toBe(ref0);
    expect(k.modules.unload('msm')).toBe(0);
    expect(ioPgtableLiveTables(k).length).toBe(tablesBefore);
    expect(k.pages.stats().pagesInUse).toBe(before);
  });
});
