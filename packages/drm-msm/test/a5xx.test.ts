/**
 * msm on the a5xx parts of Linux v6.12's catalog (a5xx_catalog.c), each on a GPU subtree shaped
 * like its SoC's tree (the GPU behind its Adreno SMMU at stream 0, no GMU), booted on the
 * board's own models: what msm reports of each part, the registers a5xx_hw_init leaves set,
 * the PM4 it writes (CP_ME_INIT, a submit), the shared address space (no per-process tables on
 * a5xx), SMMU faults reported as Linux logs them, and recovery.
 *
 * The expected values are written out here from Linux (a5xx_catalog.c, a5xx_gpu.c, the a5xx
 * register database a5xx.xml, the v6.12 trees' compatibles and OPP tops), not read from the
 * driver's tables or header.
 */
import { describe, expect, it } from 'vitest';
import { Adreno5xxGpu, Board, SmmuV2 } from '@gki/hw';
import { Kernel } from '@gki/kernel';
import {
  MSM_PARAM_CHIP_ID,
  MSM_PARAM_FAULTS,
  MSM_PARAM_GMEM_BASE,
  MSM_PARAM_GMEM_SIZE,
  MSM_PARAM_GPU_ID,
  MSM_PARAM_HIGHEST_BANK_BIT,
  MSM_PARAM_MAX_FREQ,
  MSM_PARAM_PRIORITIES,
  MSM_PARAM_VA_SIZE,
  MSM_PARAM_VA_START,
  MSM_PIPE_3D0,
  msmDevices,
  type MsmFile,
} from '../src/index.js';
import { memWrite, newBuf, pkt7, submitStream, wait } from './client.js';
import { defaultImage, GPU_NAME, sdm845GpuDtb } from './rig.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const EINVAL = -22;

const ADRENO_SMMU_8996 = ['qcom,msm8996-smmu-v2', 'qcom,adreno-smmu', 'qcom,smmu-v2'];
const ADRENO_SMMU_630 = ['qcom,sdm630-smmu-v2', 'qcom,adreno-smmu', 'qcom,smmu-v2'];
/** msm8998.dtsi does not mark its GPU SMMU qcom,adreno-smmu. */
const PLAIN_SMMU_8998 = ['qcom,msm8998-smmu-v2', 'qcom,smmu-v2'];

interface Part {
  gpu: string;
  smmu: string[];
  name: string;
  chipId: number;
  revn: number;
  gmem: number;
  hbb: number;
  maxFreq: number;
  /** CP_ME_INIT dword 5: the microcode workaround word. */
  meInitWorkaround: number;
  /** CP_MERCIU_SIZE and PC_DBG_ECO_CNTL as a5xx_hw_init writes them. */
  merciu: number;
  pcEco: number;
}

const eco = (a: number, b: number, twoPassWfi: boolean): number => ((a << 11) | (b << 22) | (twoPassWfi ? 1 << 8 : 0)) >>> 0;

// a505/a506/a510 sit behind qcom_iommu on msm8937/msm8953/msm8976 (not modelled): they are
// put behind sdm630's Adreno SMMU here
const PARTS: readonly Part[] = [
  { gpu: 'qcom,adreno-505.0', smmu: ADRENO_SMMU_630, name: 'a505', chipId: 0x05000500, revn: 505, gmem: 136 * KiB, hbb: 14, maxFreq: 200_000_000, meInitWorkaround: 0xb, merciu: 0x400, pcEco: eco(0x100, 0x100, true) },
  { gpu: 'qcom,adreno-506.0', smmu: ADRENO_SMMU_630, name: 'a506', chipId: 0x05000600, revn: 506, gmem: 136 * KiB, hbb: 14, maxFreq: 650_000_000, meInitWorkaround: 0xb, merciu: 0x400, pcEco: eco(0x100, 0x100, true) },
  { gpu: 'qcom,adreno-508.0', smmu: ADRENO_SMMU_630, name: 'a508', chipId: 0x05000800, revn: 508, gmem: 136 * KiB, hbb: 14, maxFreq: 775_000_000, meInitWorkaround: 0, merciu: 0x400, pcEco: eco(0x100, 0x100, false) },
  { gpu: 'qcom,adreno-509.0', smmu: ADRENO_SMMU_630, name: 'a509', chipId: 0x05000900, revn: 509, gmem: 272 * KiB, hbb: 14, maxFreq: 750_000_000, meInitWorkaround: 0, merciu: 0x400, pcEco: eco(0x200, 0x200, false) },
  { gpu: 'qcom,adreno-510.0', smmu: ADRENO_SMMU_630, name: 'a510', chipId: 0x05010000, revn: 510, gmem: 256 * KiB, hbb: 14, maxFreq: 600_000_000, meInitWorkaround: 0x1, merciu: 0x20, pcEco: eco(0x200, 0x200, false) },
  { gpu: 'qcom,adreno-512.0', smmu: ADRENO_SMMU_630, name: 'a512', chipId: 0x05010200, revn: 512, gmem: 272 * KiB, hbb: 14, maxFreq: 750_000_000, meInitWorkaround: 0, merciu: 0x400, pcEco: eco(0x200, 0x200, false) },
  { gpu: 'qcom,adreno-530.2', smmu: ADRENO_SMMU_8996, name: 'a530', chipId: 0x05030002, revn: 530, gmem: MiB, hbb: 15, maxFreq: 624_000_000, meInitWorkaround: 0xb, merciu: 0x40, pcEco: eco(0x400, 0x300, true) },
  { gpu: 'qcom,adreno-530.4', smmu: ADRENO_SMMU_8996, name: 'a530', chipId: 0x05030004, revn: 530, gmem: MiB, hbb: 15, maxFreq: 624_000_000, meInitWorkaround: 0xb, merciu: 0x40, pcEco: eco(0x400, 0x300, true) },
  { gpu: 'qcom,adreno-540.1', smmu: PLAIN_SMMU_8998, name: 'a540', chipId: 0x05040001, revn: 540, gmem: MiB, hbb: 15, maxFreq: 710_000_097, meInitWorkaround: 0, merciu: 0x400, pcEco: eco(0x400, 0x300, false) },
];

/** a5xx.xml register offsets (words) the tests look at. */
const REG = {
  RBBM_INT_0_MASK: 0x0038,
  RBBM_SW_RESET_CMD: 0x0043,
  CP_RB_BASE: 0x0800,
  CP_RB_BASE_HI: 0x0801,
  CP_RB_CNTL: 0x0802,
  CP_MERCIU_SIZE: 0x0826,
  CP_PFP_ME_CNTL: 0x0832,
  CP_PROTECT_0: 0x0880,
  CP_PROTECT_CNTL: 0x08a0,
  CP_SCRATCH_2: 0x0b7a,
  RB_MODE_CNTL: 0x0cc6,
  PC_DBG_ECO_CNTL: 0x0d00,
  UCHE_GMEM_RANGE_MIN_LO: 0x0e8b,
  UCHE_GMEM_RANGE_MAX_LO: 0x0e8d,
  TPL1_MODE_CNTL: 0x0f02,
  GPMU_SP_POWER_CNTL: 0xa881,
  GPMU_RBCCU_POWER_CNTL: 0xa887,
  RBBM_SECVID_TRUST_CNTL: 0xf400,
} as const;

/** A5XX_INT_MASK: AHB error, transfer timeout, ME/PFP/ETS master-split timeouts, ATB async overflow, CP_SW, CP_HW_ERROR, CACHE_FLUSH_TS, hang detect, UCHE OOB, GPMU voltage droop. */
const A5XX_INT_MASK = [1, 2, 3, 4, 5, 6, 8, 9, 20, 23, 24, 28].reduce((m, b) => m | (1 << b), 0) >>> 0;

const p = (param: number) => ({ pipe: MSM_PIPE_3D0, param });

function boot(part: Pick<Part, 'gpu' | 'smmu'>) {
  const board = Board.fromDtb(sdm845GpuDtb({ gpuCompat: [part.gpu, 'qcom,adreno'], noGmu: true, noGmuNode: true, smmuCompat: part.smmu }));
  const k = Kernel.boot(board, defaultImage());
  const drm = msmDevices(k)[0];
  if (!drm) throw new Error(`msm did not bind ${part.gpu}:\n${k.log.dmesg()}`);
  const model = board.modelsOfType(Adreno5xxGpu)[0]!;
  const smmu = board.modelsOfType(SmmuV2)[0]!;
  return { board, k, drm, model, smmu, reg: (r: number) => model.read32(r * 4) >>> 0 };
}

/** Packets of a ring stretch: type 7 as "opcode", type 4 as "=reg", with their payloads. */
function packets(words: readonly number[]): { what: string; payload: number[] }[] {
  const out: { what: string; payload: number[] }[] = [];
  for (let i = 0; i < words.length; ) {
    const h = words[i]!;
    if (h >>> 28 === 7) {
      const n = h & 0x7fff;
      out.push({ what: `0x${((h >>> 16) & 0x7f).toString(16)}`, payload: words.slice(i + 1, i + 1 + n) });
      i += 1 + n;
    } else if (h >>> 28 === 4) {
      const n = h & 0x7f;
      out.push({ what: `=0x${((h >>> 8) & 0x3ffff).toString(16)}`, payload: words.slice(i + 1, i + 1 + n) });
      i += 1 + n;
    } else throw new Error(`not a PM4 header: 0x${h.toString(16)} at ${i}`);
  }
  return out;
}

describe('the a5xx catalog on GPU subtrees shaped like the kernel trees', () => {
  for (const part of PARTS)
    it(`${part.gpu}: binds without a GMU, reports the part as Linux does, and runs a submit in the shared address space`, () => {
      const { k, drm, model, reg } = boot(part);
      expect(k.drivers.findDevice(GPU_NAME)).toMatchObject({ state: 'bound' });
      expect(k.log.grep(/Initialized msm .* for 5000000.gpu/)).toHaveLength(1);
      expect(drm.gpu.name).toBe(part.name);
      expect(model.chipId).toBe(part.chipId);
      const f = drm.open({ pid: 600, comm: 'kmscube' }) as MsmFile;
      expect(f.getParam(p(MSM_PARAM_GPU_ID))).toEqual({ value: BigInt(part.revn) });
      expect(f.getParam(p(MSM_PARAM_CHIP_ID))).toEqual({ value: BigInt(part.chipId) });
      expect(f.getParam(p(MSM_PARAM_GMEM_SIZE))).toEqual({ value: BigInt(part.gmem) });
      expect(f.getParam(p(MSM_PARAM_GMEM_BASE))).toEqual({ value: 0x100000n });
      expect(f.getParam(p(MSM_PARAM_HIGHEST_BANK_BIT))).toEqual({ value: BigInt(part.hbb) });
      expect(f.getParam(p(MSM_PARAM_MAX_FREQ))).toEqual({ value: BigInt(part.maxFreq) });
      // no per-process page tables on a5xx: the VA range queries need one
      expect(f.getParam(p(MSM_PARAM_VA_START))).toBe(EINVAL);
      expect(f.getParam(p(MSM_PARAM_VA_SIZE))).toBe(EINVAL);
      expect(f.ctx.aspace).toBe(drm.gpu.aspace);
      // no CP_WHERE_AM_I in the (placeholder) microcode: preemption off, one ring, 3 priorities
      expect(f.getParam(p(MSM_PARAM_PRIORITIES))).toEqual({ value: 3n });

      // a5xx_hw_init's writes, as the GPU holds them
      expect(reg(REG.UCHE_GMEM_RANGE_MIN_LO)).toBe(0x100000);
      expect(reg(REG.UCHE_GMEM_RANGE_MAX_LO)).toBe(0x100000 + part.gmem - 1);
      expect(reg(REG.CP_MERCIU_SIZE)).toBe(part.merciu);
      expect(reg(REG.PC_DBG_ECO_CNTL)).toBe(part.pcEco);
      expect(reg(REG.TPL1_MODE_CNTL)).toBe((part.hbb - 13) << 7);
      expect(reg(REG.RB_MODE_CNTL)).toBe((part.hbb - 13) << 1);
      expect(reg(REG.CP_PROTECT_CNTL)).toBe(0x7);
      // CP_PROTECT(17): the SMMU's 0x8000 registers from 0x10000, read and write trapped
      expect(reg(REG.CP_PROTECT_0 + 17)).toBe(((1 << 30) | (1 << 29) | (15 << 24) | 0x40000) >>> 0);
      expect(reg(REG.RBBM_INT_0_MASK)).toBe(A5XX_INT_MASK);
      // 32 KiB ring, 32-byte fetch blocks, no RPTR shadow
      expect(reg(REG.CP_RB_CNTL)).toBe((12 | (2 << 8) | (1 << 27)) >>> 0);
      const ring = drm.gpu.rings[0]!;
      expect(reg(REG.CP_RB_BASE) + reg(REG.CP_RB_BASE_HI) * 2 ** 32).toBe(ring.iova);
      expect(reg(REG.CP_PFP_ME_CNTL)).toBe(0);
      expect(reg(REG.RBBM_SECVID_TRUST_CNTL)).toBe(0);
      // only the a530 and a540 have a GPMU: their SP and RB/CCU domains were switched on
      const gpmu = part.revn === 530 || part.revn === 540;
      expect(model.hasGpmu).toBe(gpmu);
      expect(reg(REG.GPMU_SP_POWER_CNTL) !== 0).toBe(gpmu);
      expect(reg(REG.GPMU_RBCCU_POWER_CNTL) !== 0).toBe(gpmu);

      // a submit through the shared address space
      const out = newBuf(f, 0x1000);
      const cmd = newBuf(f, 0x1000);
      const fence = submitStream(f, cmd, memWrite(out.iova, [0xa5a5_0000 + part.revn]), [{ buf: out, write: true }]);
      expect(wait(f, fence)).toBe(0);
      expect(out.map.read32(0)).toBe(0xa5a5_0000 + part.revn);
      expect(reg(REG.CP_SCRATCH_2)).toBe(drm.gpu.rings[0]!.seqno);
      expect(f.close()).toBe(0);
    });

  it('puts the shared address space in the TTBR1 half where the Adreno SMMU splits tables (sdm630), not on msm8996 or msm8998', () => {
    const upper = boot({ gpu: 'qcom,adreno-508.0', smmu: ADRENO_SMMU_630 });
    expect(upper.drm.gpu.aspace.vaStart).toBeGreaterThanOrEqual(2 ** 48);
    for (const smmu of [ADRENO_SMMU_8996, PLAIN_SMMU_8998]) {
      const lower = boot({ gpu: 'qcom,adreno-530.2', smmu });
      expect(lower.drm.gpu.aspace.vaStart).toBe(0x100_0000);
      expect(lower.drm.gpu.aspace.vaStart + lower.drm.gpu.aspace.vaSize).toBeLessThanOrEqual(2 ** 48);
    }
    // two processes share it: the same buffer address space, each buffer at its own IOVA
    const f1 = upper.drm.open({ pid: 1 }) as MsmFile;
    const f2 = upper.drm.open({ pid: 2 }) as MsmFile;
    expect(f1.ctx.aspace).toBe(f2.ctx.aspace);
    const b1 = newBuf(f1, 0x1000);
    const b2 = newBuf(f2, 0x1000);
    expect(b1.iova).not.toBe(b2.iova);
    expect(f1.close()).toBe(0);
    expect(f2.close()).toBe(0);
  });

  it('writes CP_ME_INIT with the part\'s workaround word, then the a530\'s STAT_EVENT, and a submit as a5xx_submit does', () => {
    for (const part of [PARTS[6]!, PARTS[4]!, PARTS[2]!]) {
      const { k, drm } = boot(part);
      const ring = drm.gpu.rings[0]!;
      const words = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => k.mem.read32(ring.bo.physAt((from + i) * 4)) >>> 0);
      const init = packets(words(0, ring.cur));
      expect(init[0]).toEqual({ what: '0x48', payload: [0x2f, 0x3, 0x2000_0000, 0, 0, part.meInitWorkaround, 0, 0] });
      expect(words(0, 1)[0]).toBe(pkt7(0x48, 8));
      if (part.revn === 530) expect(init.slice(1)).toEqual([{ what: '0x46', payload: [16] }]);
      else expect(init).toHaveLength(1);

      const f = drm.open({ pid: 7 }) as MsmFile;
      const out = newBuf(f, 0x1000);
      const cmd = newBuf(f, 0x1000);
      const start = ring.cur;
      const stream = memWrite(out.iova, [1]);
      const fence = submitStream(f, cmd, stream, [{ buf: out, write: true }]);
      expect(wait(f, fence)).toBe(0);
      const sub = packets(words(start, ring.cur));
      expect(sub.map((x) => x.what)).toEqual(['0x69', '0x5f', '=0x83e', '0x5f', '0x6a', '0x1c', '0x3f', '0x6c', '0x1c', '=0xb7a', '0x46', '0x6b']);
      // global preemption allowed, protected mode off around the save-record write (no record),
      // local preemption off, yields in IB2
      expect(sub.slice(0, 6).map((x) => x.payload)).toEqual([[2], [0], [0, 0], [1], [0], [2]]);
      expect(sub[6]!.payload).toEqual([cmd.iova % 2 ** 32, Math.floor(cmd.iova / 2 ** 32), stream.length]);
      expect(sub[7]!.payload).toEqual([0, 0, 0, 0, 0]);
      expect(sub[8]!.payload).toEqual([1]);
      expect(sub[9]!.payload).toEqual([ring.seqno]);
      // CACHE_FLUSH_TS with the interrupt, writing the sequence number to the ring's fence
      const fenceIova = ring.memptrsIova + 4;
      expect(sub[10]!.payload).toEqual([(0x8000_0000 | 4) >>> 0, fenceIova % 2 ** 32, Math.floor(fenceIova / 2 ** 32), ring.seqno]);
      expect(sub[11]!.payload).toEqual([0, 0, 1, 1]);
      expect(f.close()).toBe(0);
    }
  });

  it('reports a write to an unmapped address as Linux logs an a5xx fault (FSYNR1 as the source), blames the process, and carries on', () => {
    const { k, drm, smmu } = boot({ gpu: 'qcom,adreno-530.2', smmu: ADRENO_SMMU_8996 });
    const f = drm.open({ pid: 4242, comm: 'glmark2', cmdline: 'glmark2 --run' }) as MsmFile;
    const out = newBuf(f, 0x1000);
    const cmd = newBuf(f, 0x1000);
    const bad = 0x4000_0000;
    const fa = submitStream(f, cmd, [...memWrite(bad, [0xdead]), ...memWrite(out.iova, [0x600d])], [{ buf: out, write: true }]);
    expect(wait(f, fa)).toBe(0);
    const lines = k.log.grep('*** gpu fault:');
    expect(lines).toHaveLength(1);
    // the context bank's TTBR0 (the GPU's one domain: msm8996 keeps it out of split tables)
    const cb0 = smmu.contextBankOffset(0);
    const ttbr0 = (BigInt(smmu.read32(cb0 + 0x24) >>> 0) << 32n) | BigInt(smmu.read32(cb0 + 0x20) >>> 0);
    expect(lines[0]!.msg).toMatch(new RegExp(`^\\*\\*\\* gpu fault: ttbr0=${ttbr0.toString(16).padStart(16, '0')} iova=0000000040000000 dir=WRITE type=TRANSLATION source=[0-9a-f]+ \\(\\d+,\\d+,\\d+,\\d+\\)$`));
    // a5xx names no block: the source is FSYNR1 in hex, not a6xx's "CP"/"UCHE"...
    expect(lines[0]!.msg).not.toMatch(/source=(CP|UCHE|TP|CCU)/);
    expect(k.log.grep('offending task: glmark2 (glmark2 --run) pid 4242')).toHaveLength(1);
    expect(f.getParam(p(MSM_PARAM_FAULTS))).toEqual({ value: 1n });
    expect(f.fenceStatus(0, fa)).toBe(-5);
    // the faulting write was terminated; the rest of the stream ran
    expect(out.map.read32(0)).toBe(0x600d);
    expect(f.close()).toBe(0);
  });

  it('without the Adreno SMMU interface (msm8998) logs the fault in the short form only', () => {
    const { k, drm } = boot({ gpu: 'qcom,adreno-540.1', smmu: PLAIN_SMMU_8998 });
    const f = drm.open({ pid: 77 }) as MsmFile;
    const cmd = newBuf(f, 0x1000);
    const fa = submitStream(f, cmd, memWrite(0x4000_0000, [1]));
    expect(wait(f, fa)).toBe(0);
    const lines = k.log.grep('*** gpu fault:');
    expect(lines.map((l) => l.msg)).toEqual(['*** gpu fault: iova=0000000040000000 flags=1 (0,0,0,0)']);
    // nothing more: no fault registers to dump, nobody blamed (Linux's adreno_fault_handler with no info)
    expect(k.log.grep('offending task')).toEqual([]);
    expect(f.getParam(p(MSM_PARAM_FAULTS))).toEqual({ value: 0n });
    expect(f.close()).toBe(0);
  });

  it("reports a user IB's write to a protected register (the SMMU's) as a5xx_cp_err_irq logs it", () => {
    const { k, drm } = boot({ gpu: 'qcom,adreno-508.0', smmu: ADRENO_SMMU_630 });
    const f = drm.open({ pid: 11 }) as MsmFile;
    const cmd = newBuf(f, 0x1000);
    // a type-4 write of register 0x10000 (the GPU's view of its SMMU, CP_PROTECT(17)):
    // count in [6:0] with odd parity at 7, register in [25:8] with odd parity at 27
    const odd = (v: number): number => (v.toString(2).split('1').length - 1) % 2 === 0 ? 1 : 0;
    const pkt4 = (reg: number, n: number): number => (0x4000_0000 | n | (odd(n) << 7) | (reg << 8) | (odd(reg) << 27)) >>> 0;
    const bad = submitStream(f, cmd, [pkt4(0x10000, 1), 0]);
    drm.waitUntil(() => drm.gpu.stats.recoveries > 0, k.board.clock.now() + 5e9);
    // WRITE from bit 24, the register from (status & 0xfffff) >> 2, the raw status
    expect(k.log.grep('CP | protected mode error | WRITE | addr=0x00010000 | status=0x01040000')).toHaveLength(1);
    expect(f.fenceStatus(0, bad)).toBe(-5);
    expect(f.close()).toBe(0);
  });

  it('recovers from a CP error with a software reset and runs the next submit', () => {
    const { k, drm, model } = boot({ gpu: 'qcom,adreno-512.0', smmu: ADRENO_SMMU_630 });
    const f = drm.open({ pid: 9 }) as MsmFile;
    const out = newBuf(f, 0x1000);
    const cmd = newBuf(f, 0x1000);
    // CP_MEMCPY (0x75) is an a6xx packet: an a5xx CP stops on it with an opcode error
    const bad = submitStream(f, cmd, [pkt7(0x75, 5), 0, 0, 0, 0, 0]);
    drm.waitUntil(() => drm.gpu.stats.recoveries > 0, k.board.clock.now() + 5e9);
    expect(k.log.grep(/CP \| opcode error \| possible opcode=0x7[0-9A-F]{7}/)).toHaveLength(1);
    expect(k.log.grep('hangcheck recover!')).not.toHaveLength(0);
    expect(model.stats.softResets).toBe(1);
    expect(f.fenceStatus(0, bad)).toBe(-5);
    const cmd2 = newBuf(f, 0x1000);
    const good = submitStream(f, cmd2, memWrite(out.iova, [0x0c0ffee]), [{ buf: out, write: true }]);
    expect(wait(f, good)).toBe(0);
    expect(out.map.read32(0)).toBe(0x0c0ffee);
    expect(f.close()).toBe(0);
  });
});
