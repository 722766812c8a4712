import { describe, expect, it } from 'vitest';
import { MSM_PARAM_FAULTS, MSM_PIPE_3D0, MSM_SUBMITQUEUE_PARAM_FAULTS, type MsmFile } from '../src/index.js';
import { memWrite, newBuf, pkt7, submitStream, wait } from './client.js';
import { bootModelOk } from './rig.js';

function open(r: ReturnType<typeof bootModelOk>, pid: number, comm: string): MsmFile {
  const f = r.drm.open({ pid, comm });
  if (typeof f === 'number') throw new Error(`open: ${f}`);
  return f;
}

describe('hang detection and recovery', () => {
  it('a command stream the CP cannot decode halts it; the hang check blames the submit, skips it and replays the others', () => {
    const r = bootModelOk();
    const a = open(r, 10, 'broken');
    const b = open(r, 20, 'healthy');
    const aOut = newBuf(a, 0x1000, 0x1_0010_0000);
    const bOut = newBuf(b, 0x1000, 0x1_0010_0000);
    const fa = submitStream(a, newBuf(a, 0x1000, 0x1_0000_0000), [0xdead_beef, ...memWrite(aOut.iova, [1])], [{ buf: aOut, write: true }]);
    const fb = submitStream(b, newBuf(b, 0x1000, 0x1_0000_0000), memWrite(bOut.iova, [0xb0b0]), [{ buf: bOut, write: true }]);
    expect(r.k.log.grep('CP | opcode error | possible opcode=0xDEADBEEF')).toHaveLength(1);
    const t0 = r.k.board.clock.now();
    // B's wait lets the hang check run: half a second without progress is a lockup
    expect(wait(b, fb, 2000)).toBe(0);
    expect(r.k.board.clock.now() - t0).toBeGreaterThanOrEqual(500e6);
    expect(r.k.log.grep('a630: hangcheck detected gpu lockup rb 0!')).toHaveLength(1);
    expect(r.k.log.grep('a630: offending task: broken (broken)')).toHaveLength(1);
    expect(bOut.map.read32(0)).toBe(0xb0b0);
    expect(aOut.map.read32(0)).toBe(0);
    expect(wait(a, fa)).toBe(0);
    expect(a.fenceStatus(0, fa)).toBe(-5);
    expect(b.fenceStatus(0, fb)).toBe(1);
    expect(a.getParam({ pipe: MSM_PIPE_3D0, param: MSM_PARAM_FAULTS })).toEqual({ value: 1n });
    expect(b.getParam({ pipe: MSM_PIPE_3D0, param: MSM_PARAM_FAULTS })).toEqual({ value: 0n });
    expect(a.submitqueueQuery({ id: 0, param: MSM_SUBMITQUEUE_PARAM_FAULTS, len: 4 })).toEqual({ len: 4, faults: 1 });
    expect(r.drm.gpu.stats.recoveries).toBe(1);
    expect(r.drm.gpu.takeCrashstate()).toMatchObject({ reason: 'hang', comm: 'broken', pid: 10 });
    // the GPU works again, for both
    const fa2 = submitStream(a, newBuf(a, 0x1000, 0x1_0000_2000), memWrite(aOut.iova + 4, [2]), [{ buf: aOut, write: true }]);
    expect(wait(a, fa2)).toBe(0);
    expect(aOut.map.read32(4)).toBe(2);
  });

  it('a submit that waits forever is taken off the ring after the hang check', () => {
    const r = bootModelOk();
    const a = open(r, 10, 'spinner');
    const flag = newBuf(a, 0x1000, 0x1_0010_0000);
    // CP_WAIT_MEM_GTE on a word that never reaches 1
    const spin = [pkt7(0x14, 4), 0, flag.iova % 2 ** 32, Math.floor(flag.iova / 2 ** 32), 1];
    const fa = submitStream(a, newBuf(a, 0x1000, 0x1_0000_0000), spin, [{ buf: flag }]);
    expect(wait(a, fa, 100)).toBe(-110);
    expect(wait(a, fa, 2000)).toBe(0);
    expect(a.fenceStatus(0, fa)).toBe(-5);
    expect(r.k.log.grep('hangcheck detected gpu lockup')).toHaveLength(1);
  });
});
