/**
 * msm on the a7xx parts (a730, a740, a750) as Linux v6.12 drives them, on the Adreno model of
 * the GPU subtree: the a7xx hw_init (no ADDR_MODE writes, hardware APRIV masks, A7XX_INT_MASK,
 * the RPTR shadow with CP_RB_CNTL.NO_UPDATE clear), a7xx_cp_init, the GMU start with the chip
 * id in GMU_GENERAL_10 (a6xx_info.gmu_chipid where the catalog has one), a7xx_submit (BR for
 * the page-table switch, BV's fence, CP_WAIT_TIMESTAMP, the fence with its interrupt) and the
 * fault report. Expected values are Linux's, written out here.
 */
import { describe, expect, it } from 'vitest';
import { MSM_PARAM_FAULTS, MSM_PIPE_3D0, type MsmFile } from '../src/index.js';
import { memWrite, newBuf, submitStream, wait } from './client.js';
import { bootModelOk, sdm845GpuDtb } from './rig.js';

/** a6xx.xml: register word offsets. */
const RBBM_INT_0_MASK = 0x0038;
const CP_RB_CNTL = 0x0802;
const CP_APRIV_CNTL = 0x0844;
const CP_BV_APRIV_CNTL = 0x0ad0;
const CP_LPAC_APRIV_CNTL = 0x0b31;
const CP_ADDR_MODE_CNTL = 0x0842;
/** a6xx_gmu.xml: GMU_GENERAL_10 (window-relative 0x51cf) in the model's numbering from the GPU block. */
const GMU_GENERAL_10 = 0x1a800 + 0x51cf;
/** Linux v6.12's A7XX_INT_MASK. */
const A7XX_INT_MASK = [1, 6, 7, 8, 9, 15, 17, 20, 22, 23, 24, 25, 28, 29].reduce((m, b) => (m | (1 << b)) >>> 0, 0);
const NO_UPDATE = 1 << 27;

const PARTS = [
  { name: 'a730', gpu: 'qcom,adreno-730.1', gmu: 'qcom,adreno-gmu-730.1', gmuChipId: 0x07030100 },
  { name: 'a740', gpu: 'qcom,adreno-43050a01', gmu: 'qcom,adreno-gmu-740.1', gmuChipId: 0x07020100 },
  { name: 'a750', gpu: 'qcom,adreno-43051401', gmu: 'qcom,adreno-gmu-750.1', gmuChipId: 0x07090100 },
] as const;

function boot(part: (typeof PARTS)[number]) {
  return bootModelOk(sdm845GpuDtb({ gpuCompat: [part.gpu, 'qcom,adreno'], gmuCompat: [part.gmu, 'qcom,adreno-gmu'] }));
}

describe('msm on a7xx', () => {
  for (const part of PARTS)
    it(`${part.name}: a7xx hw_init, cp_init and GMU start`, () => {
      const r = boot(part);
      expect(r.drm.gpu.a7xx).toBe(true);
      expect(r.gpu.gen7).toBe(true);
      const reg = (w: number): number => r.gpu.read32(w * 4);
      expect(reg(RBBM_INT_0_MASK)).toBe(A7XX_INT_MASK);
      expect(reg(CP_APRIV_CNTL)).toBe(0x6f);
      expect(reg(CP_BV_APRIV_CNTL)).toBe(0xf);
      expect(reg(CP_LPAC_APRIV_CNTL)).toBe(0xf);
      expect(reg(CP_ADDR_MODE_CNTL)).toBe(0); // no 64-bit mode switch on a7xx
      expect(reg(CP_RB_CNTL) & NO_UPDATE).toBe(0); // the CP keeps the RPTR shadow
      // a7xx_cp_init: CP_THREAD_CONTROL (concurrent binning off) and the 7-dword CP_ME_INIT
      expect(r.gpu.cp.concurrentBinDisabled).toBe(true);
      expect(r.gpu.cp.stats.opcodes).toMatchObject({ CP_THREAD_CONTROL: 1, CP_ME_INIT: 1 });
      // the GMU took the chip id from GMU_GENERAL_10, in the form its firmware expects
      expect(r.gmu.read32((GMU_GENERAL_10 - 0x1a800) * 4)).toBe(part.gmuChipId);
      expect(r.gmu.hostChipId).toBe(part.gmuChipId);
      expect(r.gmu.events).toEqual([]);
      expect(r.drm.gpu.gmu.stats.oobSet).toMatchObject({ GPU_SET: 1 });
      expect(r.drm.gpu.gmu.stats.oobSet.BOOT_SLUMBER).toBeUndefined();
      expect(r.k.log.all().filter((l) => l.level === 'err' || l.level === 'crit')).toEqual([]);
    });

  it('submits the a7xx way: the table switch under BR alone, BV fence, timestamp wait, fence interrupt', () => {
    const r = boot(PARTS[1]);
    const f = r.drm.open({ pid: 77, comm: 'vkcube' }) as MsmFile;
    const out = newBuf(f, 0x1000, 0x1_0020_0000);
    const cmd = newBuf(f, 0x1000, 0x1_0000_0000);
    const irqsBefore = r.drm.gpu.stats.irqs;
    const fence = submitStream(f, cmd, memWrite(out.iova, [0xa7a7_0001, 0xa7a7_0002]), [{ buf: out, write: true }]);
    expect(wait(f, fence)).toBe(0);
    expect([out.map.read32(0), out.map.read32(4)]).toEqual([0xa7a7_0001, 0xa7a7_0002]);
    const ring = r.drm.gpu.rings[0]!;
    expect(r.drm.gpu.memptrsFence(ring)).toBe(ring.seqno);
    // the table switch ran with only BR selected, and its TLB invalidation completed
    expect(r.gpu.cp.tableUpdates.map((u) => ({ thread: u.thread, ok: u.invalidated && u.fault === 0 }))).toEqual([{ thread: 1, ok: true }]);
    expect(r.gpu.cp.stats.bvTableUpdates).toBe(0);
    expect(r.gpu.cp.stats.opcodes).toMatchObject({ CP_WAIT_TIMESTAMP: 1, CP_EVENT_WRITE7: 5, CP_WAIT_REG_MEM: 1 });
    expect(r.drm.gpu.stats.irqs).toBeGreaterThan(irqsBefore);
    // the CP's read pointer came from its shadow, and the ring drained
    expect(r.drm.gpu.rptr(ring)).toBe(ring.cur);
    // a second submit of the same process switches nothing
    const fence2 = submitStream(f, cmd, memWrite(out.iova + 8, [3]), [{ buf: out, write: true }]);
    expect(wait(f, fence2)).toBe(0);
    expect(out.map.read32(8)).toBe(3);
    expect(r.drm.gpu.stats.ttbrSwitches).toBe(1);
    expect(r.gpu.cp.stats.opcodes.CP_WAIT_TIMESTAMP).toBe(2);
    f.close();
  });

  it('reports a write to an unmapped address as a fault of the process and goes on', () => {
    const r = boot(PARTS[2]);
    const f = r.drm.open({ pid: 88, comm: 'glmark2' }) as MsmFile;
    const out = newBuf(f, 0x1000, 0x1_0020_0000);
    const cmd = newBuf(f, 0x1000, 0x1_0000_0000);
    const fence = submitStream(f, cmd, [...memWrite(0x1_4000_0000, [1]), ...memWrite(out.iova, [0x600d])], [{ buf: out, write: true }]);
    expect(wait(f, fence)).toBe(0);
    expect(r.k.log.grep(/\*\*\* gpu fault: .* iova=0000000140000000 dir=WRITE type=TRANSLATION source=CP/)).toHaveLength(1);
    expect(r.k.log.grep('offending task: glmark2')).toHaveLength(1);
    expect(out.map.read32(0)).toBe(0x600d);
    expect(f.getParam({ pipe: MSM_PIPE_3D0, param: MSM_PARAM_FAULTS })).toEqual({ value: 1n });
    f.close();
  });
});
