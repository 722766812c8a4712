/**
 * msm on the a3xx and a4xx parts of Linux v6.12's catalogs (a3xx_catalog.c, a4xx_catalog.c): the
 * catalog rows, the MSM8939's Adreno 405 (a4xx register map, CP_INDIRECT_BUFFER_PFE, the
 * protection-fault print, the always-counting CP counter as timestamp), and the
 * DragonBoard 410c's Adreno 306 ("qcom,adreno-306.0", chip id 3.0.6.0, which Linux lists as
 * revn 307) on a GPU subtree behind a plain SMMUv2 with no GMU (the board test in apps/gki runs
 * it behind msm8916's qcom_iommu), booted on the board's own models:
 * what msm reports, the registers a3xx_hw_init leaves set, the type-3 PM4 it writes
 * (CP_ME_INIT, a submit), the one shared address space, a fault logged as msm logs it when no
 * GPU handler is installed, and recovery by a software reset.
 *
 * Expected values are written out here from Linux (a3xx_catalog.c, a3xx_gpu.c, a3xx.xml and
 * adreno_pm4.xml), not read from the driver's tables or header.
 */
import { describe, expect, it } from 'vitest';
import { Adreno3xxGpu, Board } from '@gki/hw';
import { Kernel } from '@gki/kernel';
import {
  ADRENO_GPULIST,
  MSM_PARAM_CHIP_ID,
  MSM_PARAM_GMEM_SIZE,
  MSM_PARAM_GPU_ID,
  MSM_PARAM_MAX_FREQ,
  MSM_PARAM_TIMESTAMP,
  MSM_PARAM_VA_START,
  MSM_PIPE_3D0,
  adrenoInfo,
  msmDevices,
  type MsmFile,
} from '../src/index.js';
import { newBuf, submitStream, wait } from './client.js';
import { defaultImage, GPU_NAME, sdm845GpuDtb } from './rig.js';

const KiB = 1024;
const EINVAL = -22;
const p = (param: number) => ({ pipe: MSM_PIPE_3D0, param });

/** a3xx register offsets (words), from a3xx.xml / adreno_common.xml. */
const REG = {
  RBBM_INT_0_MASK: 0x63,
  RBBM_CLOCK_CTL: 0x10,
  CP_RB_BASE: 0x1c0,
  CP_RB_CNTL: 0x1c1,
  CP_ME_CNTL: 0x1f6,
  CP_PROTECT_CTRL: 0x45e,
  CP_PROTECT_0: 0x460,
  CP_SCRATCH_2: 0x57a,
  VBIF_ROUND_ROBIN_QOS_ARB: 0x3049,
  VBIF_OUT_RD_LIM_CONF0: 0x3034,
} as const;

/** Type-3 header (count - 1 in [29:16], opcode in [15:8]). */
const pkt3 = (op: number, cnt: number): number => (0xc000_0000 | ((cnt - 1) << 16) | (op << 8)) >>> 0;
const CP_MEM_WRITE = 0x3d;

function boot(gpu = 'qcom,adreno-306.0') {
  // a plain SMMUv2 (no Adreno split tables: an a3xx addresses 32 bits), as msm8998's GPU SMMU
  const board = Board.fromDtb(sdm845GpuDtb({ gpuCompat: [gpu, 'qcom,adreno'], noGmu: true, noGmuNode: true, smmuCompat: ['qcom,msm8998-smmu-v2', 'qcom,smmu-v2'] }));
  const k = Kernel.boot(board, defaultImage());
  const drm = msmDevices(k)[0];
  if (!drm) throw new Error(`msm did not bind ${gpu}:\n${k.log.dmesg()}`);
  const model = board.modelsOfType(Adreno3xxGpu)[0]!;
  return { board, k, drm, model, reg: (r: number) => model.read32(r * 4) >>> 0 };
}

describe('the a3xx catalog (Linux v6.12 a3xx_catalog.c)', () => {
  it('has its six rows: chip ids, revn, GMEM and firmware names', () => {
    const rows = ADRENO_GPULIST.filter((g) => g.family === 'a3xx').map((g) => [g.chipIds, g.revn, g.gmem, g.fw.pm4, g.fw.pfp]);
    expect(rows).toEqual([
      [[0x0300_0512], 0, 128 * KiB, 'a330_pm4.fw', 'a330_pfp.fw'],
      [[0x0300_0520], 305, 256 * KiB, 'a300_pm4.fw', 'a300_pfp.fw'],
      [[0x0300_0600], 307, 128 * KiB, 'a300_pm4.fw', 'a300_pfp.fw'],
      [[0x0300_0620], 308, 128 * KiB, 'a300_pm4.fw', 'a300_pfp.fw'],
      [[0x0302_0000, 0x0302_0001, 0x0302_0002], 320, 512 * KiB, 'a300_pm4.fw', 'a300_pfp.fw'],
      [[0x0303_0000, 0x0303_0001, 0x0303_0002], 330, 1024 * KiB, 'a330_pm4.fw', 'a330_pfp.fw'],
    ]);
    // the msm8916 tree's "qcom,adreno-306.0" is chip id 3.0.6.0: the revn-307 row
    expect(adrenoInfo(0x0300_0600)?.revn).toBe(307);
    expect(adrenoInfo(0x0300_0601)).toBeUndefined();
  });
});

describe('msm on the Adreno 306 (a3xx)', () => {
  it('binds, reports the part as Linux does, and leaves a3xx_hw_init\'s registers set', () => {
    const { k, drm, model, reg } = boot();
    expect(k.drivers.findDevice(GPU_NAME)).toMatchObject({ state: 'bound' });
    expect(k.log.grep(/Initialized msm .* for 5000000.gpu/)).toHaveLength(1);
    expect(drm.gpu.name).toBe('a307');
    const f = drm.open({ pid: 700, comm: 'glmark2' }) as MsmFile;
    expect(f.getParam(p(MSM_PARAM_GPU_ID))).toEqual({ value: 307n });
    expect(f.getParam(p(MSM_PARAM_CHIP_ID))).toEqual({ value: 0x0300_0600n });
    expect(f.getParam(p(MSM_PARAM_GMEM_SIZE))).toEqual({ value: BigInt(128 * KiB) });
    expect(f.getParam(p(MSM_PARAM_MAX_FREQ))).toEqual({ value: 400_000_000n });
    // one GPU address space, no timestamp source on a3xx
    expect(f.getParam(p(MSM_PARAM_VA_START))).toBe(EINVAL);
    expect(f.getParam(p(MSM_PARAM_TIMESTAMP))).toBe(EINVAL);
    expect(f.ctx.aspace).toBe(drm.gpu.aspace);
    // the a306's VBIF setup and clock gating
    expect(reg(REG.VBIF_ROUND_ROBIN_QOS_ARB)).toBe(0x3);
    expect(reg(REG.VBIF_OUT_RD_LIM_CONF0)).toBe(0xa);
    expect(reg(REG.RBBM_CLOCK_CTL)).toBe(0xaaaa_aaaa);
    // A3XX_INT0_MASK: AHB error, ATB overflow, T0 in IB, opcode/reserved-bit errors, HW fault,
    // IB1/IB2/RB interrupts, protect fault, AHB halt, CACHE_FLUSH_TS, UCHE out of bounds
    expect(reg(REG.RBBM_INT_0_MASK)).toBe(0x0231_ef22);
    // 32 KiB ring, 32-byte blocks, no RPTR shadow; base is the ring's 32-bit address
    expect(reg(REG.CP_RB_CNTL)).toBe((12 | (2 << 8) | (1 << 27)) >>> 0);
    expect(reg(REG.CP_RB_BASE)).toBe(drm.gpu.rings[0]!.iova);
    expect(reg(REG.CP_PROTECT_CTRL)).toBe(0x7);
    expect(reg(REG.CP_PROTECT_0)).toBe(0x6300_0040);
    expect(reg(REG.CP_PROTECT_0 + 12)).toBe(0x6b00_c000);
    // the micro engine runs; the microcode words went through the upload ports (after word 0)
    expect(reg(REG.CP_ME_CNTL)).toBe(0);
    expect(model.meRunning).toBe(true);
    expect(model.meWords).toBe(7);
    expect(model.pfpWords).toBe(7);
    // CP_ME_INIT executed as a type-3 packet
    expect(model.cp.stats.opcodes.CP_ME_INIT).toBe(1);
    expect(model.cp.stats.opcodeErrors).toBe(0);
    f.close();
  });

  it('runs a type-3 submit in the shared space: IB through CP_INDIRECT_BUFFER_PFD, fence, retire', () => {
    const { drm, model, reg } = boot();
    const f = drm.open({ pid: 701, comm: 'kmscube' }) as MsmFile;
    const out = newBuf(f, 0x1000);
    const cmd = newBuf(f, 0x1000);
    expect(out.iova).toBeLessThan(2 ** 32);
    const fence = submitStream(f, cmd, [pkt3(CP_MEM_WRITE, 3), out.iova, 0x306a_0001, 0x306a_0002], [{ buf: out, write: true }]);
    expect(wait(f, fence)).toBe(0);
    expect(out.map.read32(0)).toBe(0x306a_0001);
    expect(out.map.read32(4)).toBe(0x306a_0002);
    expect(model.cp.stats.opcodes.CP_INDIRECT_BUFFER_PFD).toBe(1);
    expect(model.cp.stats.opcodes.CP_EVENT_WRITE).toBe(2); // HLSQ_FLUSH, CACHE_FLUSH_TS
    expect(reg(REG.CP_SCRATCH_2)).toBe(drm.gpu.rings[0]!.seqno);
    expect(drm.gpu.stats.retired).toBe(1);
    f.close();
  });

  it('logs a fault the IOMMU reports as msm does with no GPU handler, and the submit completes', () => {
    const { k, drm } = boot();
    const f = drm.open({ pid: 702, comm: 'fault' }) as MsmFile;
    const cmd = newBuf(f, 0x1000);
    const fence = submitStream(f, cmd, [pkt3(CP_MEM_WRITE, 2), 0x0040_0000, 0xdead]);
    expect(wait(f, fence)).toBe(0);
    expect(k.log.grep('*** fault: iova=          400000, flags=1')).toHaveLength(1);
    expect(drm.gpu.mmu.unhandledFaults.map((x) => x.iova)).toEqual([0x0040_0000]);
    expect(drm.gpu.faults).toEqual([]);
    f.close();
  });

  it('recovers a hung CP by a software reset and runs again (a3xx)', () => {
    const { k, drm, model } = boot();
    const f = drm.open({ pid: 703, comm: 'hang' }) as MsmFile;
    const cmd = newBuf(f, 0x1000);
    // an opcode no a3xx CP has (0xd0): the CP halts on it and the hang check fires
    const bad = submitStream(f, cmd, [pkt3(0xd0, 1), 0]);
    drm.waitUntil(() => drm.gpu.stats.recoveries > 0, k.board.clock.now() + 5e9);
    expect(model.cp.stats.opcodeErrors).toBe(1);
    // a3xx_irq decodes nothing: no error line, only the hang check's recovery
    expect(k.log.grep(/opcode error/)).toEqual([]);
    expect(k.log.grep('a307: hangcheck recover!')).not.toHaveLength(0);
    expect(k.log.grep(/CP_SCRATCH_REG2: \d+/)).toHaveLength(1);
    expect(model.stats.softResets).toBe(1);
    expect(f.fenceStatus(0, bad)).toBe(-5);
    const out = newBuf(f, 0x1000);
    const cmd2 = newBuf(f, 0x1000);
    const ok = submitStream(f, cmd2, [pkt3(CP_MEM_WRITE, 2), out.iova, 0x600d], [{ buf: out, write: true }]);
    expect(wait(f, ok)).toBe(0);
    expect(out.map.read32(0)).toBe(0x600d);
    f.close();
  });
});

describe('msm on the Adreno 405 (a4xx)', () => {
  /** a4xx register offsets (words), from a4xx.xml. */
  const R4 = { INT_0_MASK: 0x37, CP_RB_BASE: 0x200, CP_RB_CNTL: 0x201, CP_ME_CNTL: 0x22d, CP_PROTECT_CTRL: 0x250, CP_PROTECT_0: 0x240, VBIF_ROUND_ROBIN_QOS_ARB: 0x3049, SP_REGFILE_SLEEP_CNTL_0: 0x99 };

  it('has the a4xx catalog rows', () => {
    const rows = ADRENO_GPULIST.filter((g) => g.family === 'a4xx').map((g) => [g.chipIds, g.revn, g.gmem, g.fw.pm4, g.fw.pfp]);
    expect(rows).toEqual([
      [[0x0400_0500], 405, 256 * KiB, 'a420_pm4.fw', 'a420_pfp.fw'],
      [[0x0402_0000], 420, 1536 * KiB, 'a420_pm4.fw', 'a420_pfp.fw'],
      [[0x0403_0002], 430, 1536 * KiB, 'a420_pm4.fw', 'a420_pfp.fw'],
    ]);
  });

  it('binds, leaves a4xx_hw_init\'s registers set, runs a submit through CP_INDIRECT_BUFFER_PFE, and reads the timestamp', () => {
    const { k, drm, model, reg } = boot('qcom,adreno-405.0');
    expect(k.drivers.findDevice(GPU_NAME)).toMatchObject({ state: 'bound' });
    expect(drm.gpu.name).toBe('a405');
    expect(model.generation).toBe(4);
    const f = drm.open({ pid: 800, comm: 'glmark2' }) as MsmFile;
    expect(f.getParam(p(MSM_PARAM_GPU_ID))).toEqual({ value: 405n });
    expect(f.getParam(p(MSM_PARAM_GMEM_SIZE))).toEqual({ value: BigInt(256 * KiB) });
    expect(f.getParam(p(MSM_PARAM_MAX_FREQ))).toEqual({ value: 550_000_000n });
    expect(reg(R4.VBIF_ROUND_ROBIN_QOS_ARB)).toBe(0x3);
    expect(reg(R4.SP_REGFILE_SLEEP_CNTL_0)).toBe(0x441);
    expect(reg(R4.INT_0_MASK)).toBe(0x0231_ef22);
    expect(reg(R4.CP_RB_CNTL)).toBe((12 | (2 << 8) | (1 << 27)) >>> 0);
    expect(reg(R4.CP_RB_BASE)).toBe(drm.gpu.rings[0]!.iova);
    expect(reg(R4.CP_PROTECT_CTRL)).toBe(0x7);
    expect(reg(R4.CP_PROTECT_0)).toBe(0x6200_0010);
    expect(reg(R4.CP_PROTECT_0 + 11)).toBe(0x6e01_0000);
    expect(reg(R4.CP_ME_CNTL)).toBe(0);
    const out = newBuf(f, 0x1000);
    const cmd = newBuf(f, 0x1000);
    const fence = submitStream(f, cmd, [pkt3(CP_MEM_WRITE, 2), out.iova, 0x405], [{ buf: out, write: true }]);
    expect(wait(f, fence)).toBe(0);
    expect(out.map.read32(0)).toBe(0x405);
    expect(model.cp.stats.opcodes.CP_INDIRECT_BUFFER_PFE).toBe(1);
    expect(model.cp.stats.opcodes.CP_INDIRECT_BUFFER_PFD).toBeUndefined();
    const t1 = f.getParam(p(MSM_PARAM_TIMESTAMP)) as { value: bigint };
    const t2 = f.getParam(p(MSM_PARAM_TIMESTAMP)) as { value: bigint };
    expect(t2.value).toBeGreaterThan(t1.value);
    f.close();
  });

  it('prints a register-protection fault as a4xx_irq does', () => {
    const { k, drm } = boot('qcom,adreno-405.0');
    const f = drm.open({ pid: 801, comm: 'prot' }) as MsmFile;
    const cmd = newBuf(f, 0x1000);
    // a type-0 write of RBBM register 0x20: CP_PROTECT(3) (0x65000080) guards 32 registers from 0x20
    submitStream(f, cmd, [0x0000_0020, 1]);
    drm.waitUntil(() => k.log.grep(/Protected mode error/).length > 0, k.board.clock.now() + 1e9);
    expect(k.log.grep('CP | Protected mode error| WRITE | addr=20')).toHaveLength(1);
    f.close();
  });
});
