/**
 * Every a6xx entry of the catalog on a GPU subtree shaped like the kernel's trees: the GPU's
 * compatible as its SoC's tree writes it, its GMU (or the GMU wrapper of sm6115/qcm2290) and
 * the Adreno SMMU, booted on the board's own models. msm must bind, report what Linux's
 * catalog and UBWC setup say of the part, drive the GMU flavour the part has, and run a submit
 * through a per-process page table of the SMMU.
 *
 * The expected values are written out here from Linux (a6xx_catalog.c, a6xx_calc_ubwc_config,
 * the v6.12 trees' compatibles and speed-bin-0 OPP tops), not read from the driver's table.
 */
import { describe, expect, it } from 'vitest';
import { AdrenoGmu, AdrenoGmuWrapper, AdrenoGpu, Board } from '@gki/hw';
import { Kernel } from '@gki/kernel';
import {
  ADRENO_GPULIST,
  MSM_PARAM_CHIP_ID,
  MSM_PARAM_GMEM_BASE,
  MSM_PARAM_GMEM_SIZE,
  MSM_PARAM_GPU_ID,
  MSM_PARAM_HIGHEST_BANK_BIT,
  MSM_PARAM_MAX_FREQ,
  MSM_PARAM_VA_SIZE,
  MSM_PIPE_3D0,
  msmDevices,
  type MsmFile,
} from '../src/index.js';
import { memWrite, newBuf, submitStream, wait } from './client.js';
import { defaultImage, GPU_NAME, sdm845GpuDtb } from './rig.js';

interface Part {
  /** The GPU's first compatible, as the SoC's tree writes it. */
  gpu: string;
  /** The GMU's compatibles; undefined for a GMU wrapper. */
  gmu?: string[];
  name: string;
  chipId: number;
  revn: number;
  gmem: number;
  gmemBase: number;
  vaSize: number;
  hbb: number;
  maxFreq: number;
  /** The GMU runs the a630 family's firmware (legacy OOB bits, BOOT_SLUMBER at boot). */
  legacy?: boolean;
}

const KiB = 1024;
const MiB = 1024 * KiB;
const G4 = 2 ** 32;
const G16 = 2 ** 34;

const PARTS: readonly Part[] = [
  // sm6115 / sm4250: a610 behind a GMU wrapper
  { gpu: 'qcom,adreno-610.0', name: 'a610', chipId: 0x06010000, revn: 610, gmem: 132 * KiB, gmemBase: 0x100000, vaSize: G4, hbb: 13, maxFreq: 980_000_000 },
  { gpu: 'qcom,adreno-615.0', gmu: ['qcom,adreno-gmu-615.0', 'qcom,adreno-gmu'], name: 'a615', chipId: 0x06010500, revn: 615, gmem: 512 * KiB, gmemBase: 0x100000, vaSize: G4, hbb: 15, maxFreq: 700_000_000, legacy: true },
  // sc7180
  { gpu: 'qcom,adreno-618.0', gmu: ['qcom,adreno-gmu-618.0', 'qcom,adreno-gmu'], name: 'a618', chipId: 0x06010800, revn: 618, gmem: 512 * KiB, gmemBase: 0x100000, vaSize: G4, hbb: 14, maxFreq: 800_000_000, legacy: true },
  // sm6350
  { gpu: 'qcom,adreno-619.0', gmu: ['qcom,adreno-gmu-619.0', 'qcom,adreno-gmu'], name: 'a619', chipId: 0x06010900, revn: 619, gmem: 512 * KiB, gmemBase: 0x100000, vaSize: G4, hbb: 13, maxFreq: 850_000_000, legacy: true },
  // sar2130p (after v6.12): a621, an a650-family part listed by chip id; the 843 MHz top of
  // speed bin 0 in sar2130p.dtsi's OPP table; a6xx_calc_ubwc_config's bank bit 13
  { gpu: 'qcom,adreno-621.0', gmu: ['qcom,adreno-gmu-621.0', 'qcom,adreno-gmu'], name: 'a621', chipId: 0x06020100, revn: 0, gmem: 512 * KiB, gmemBase: 0, vaSize: G16, hbb: 13, maxFreq: 843_000_000 },
  // qcs8300 (monaco, after v6.12): a623; 877 MHz tops bin 0; bank bit 16
  { gpu: 'qcom,adreno-623.0', gmu: ['qcom,adreno-gmu-623.0', 'qcom,adreno-gmu'], name: 'a623', chipId: 0x06020300, revn: 0, gmem: 512 * KiB, gmemBase: 0, vaSize: G16, hbb: 16, maxFreq: 877_000_000 },
  // sdm845
  { gpu: 'qcom,adreno-630.2', gmu: ['qcom,adreno-gmu-630.2', 'qcom,adreno-gmu'], name: 'a630', chipId: 0x06030002, revn: 630, gmem: MiB, gmemBase: 0x100000, vaSize: G4, hbb: 15, maxFreq: 710_000_000, legacy: true },
  // sc7280: a635, listed by chip id; an a660-family part (GMEM at 0, 16 GiB per process)
  { gpu: 'qcom,adreno-635.0', gmu: ['qcom,adreno-gmu-635.0', 'qcom,adreno-gmu'], name: 'a635', chipId: 0x06030500, revn: 0, gmem: 512 * KiB, gmemBase: 0, vaSize: G16, hbb: 14, maxFreq: 550_000_000 },
  // sm8150
  { gpu: 'qcom,adreno-640.1', gmu: ['qcom,adreno-gmu-640.1', 'qcom,adreno-gmu'], name: 'a640', chipId: 0x06040001, revn: 640, gmem: MiB, gmemBase: 0x100000, vaSize: G4, hbb: 15, maxFreq: 675_000_000 },
  // sm8250
  { gpu: 'qcom,adreno-650.2', gmu: ['qcom,adreno-gmu-650.2', 'qcom,adreno-gmu'], name: 'a650', chipId: 0x06050002, revn: 650, gmem: MiB + 128 * KiB, gmemBase: 0, vaSize: G16, hbb: 16, maxFreq: 587_000_000 },
  // sm8350
  { gpu: 'qcom,adreno-660.1', gmu: ['qcom,adreno-gmu-660.1', 'qcom,adreno-gmu'], name: 'a660', chipId: 0x06060001, revn: 660, gmem: MiB + 512 * KiB, gmemBase: 0, vaSize: G16, hbb: 16, maxFreq: 840_000_000 },
  // sa8775p (lemans, after v6.12): a663, an a660-family part; 800 MHz tops bin 0; bank bit 13
  { gpu: 'qcom,adreno-663.0', gmu: ['qcom,adreno-gmu-663.0', 'qcom,adreno-gmu'], name: 'a663', chipId: 0x06060300, revn: 0, gmem: MiB + 512 * KiB, gmemBase: 0, vaSize: G16, hbb: 13, maxFreq: 800_000_000 },
  // sc8180x: an a640-family part
  { gpu: 'qcom,adreno-680.1', gmu: ['qcom,adreno-gmu-680.1', 'qcom,adreno-gmu'], name: 'a680', chipId: 0x06080001, revn: 680, gmem: 2 * MiB, gmemBase: 0x100000, vaSize: G4, hbb: 15, maxFreq: 514_000_000 },
  // sc8280xp
  { gpu: 'qcom,adreno-690.0', gmu: ['qcom,adreno-gmu-690.0', 'qcom,adreno-gmu'], name: 'a690', chipId: 0x06090000, revn: 0, gmem: 4 * MiB, gmemBase: 0, vaSize: G16, hbb: 16, maxFreq: 690_000_000 },
  // qcm2290: a702, chip id in hex, a6xx gen1 hardware behind a GMU wrapper
  { gpu: 'qcom,adreno-07000200', name: 'a702', chipId: 0x07000200, revn: 0, gmem: 128 * KiB, gmemBase: 0x100000, vaSize: G4, hbb: 14, maxFreq: 1_123_200_000 },
  // a7xx: sm8450's a730 (dotted compatible, GMEM at 1 MiB), sm8550's a740 and sm8650's a750
  // (hex chip ids, the a740 family: GMEM at 0); 16 GiB per process, UBWC bank bit 16
  { gpu: 'qcom,adreno-730.1', gmu: ['qcom,adreno-gmu-730.1', 'qcom,adreno-gmu'], name: 'a730', chipId: 0x07030001, revn: 0, gmem: 2 * MiB, gmemBase: 0x100000, vaSize: G16, hbb: 16, maxFreq: 818_000_000 },
  { gpu: 'qcom,adreno-43050a01', gmu: ['qcom,adreno-gmu-740.1', 'qcom,adreno-gmu'], name: 'a740', chipId: 0x43050a01, revn: 0, gmem: 3 * MiB, gmemBase: 0, vaSize: G16, hbb: 16, maxFreq: 680_000_000 },
  // x1e80100: the Snapdragon X1 Elite's X1-85 (hex chip id, a7xx gen2 like the a740: GMEM at 0,
  // bank bit 16), 256 GiB per process, the 1.1 GHz OPP top of v6.12's x1e80100.dtsi
  { gpu: 'qcom,adreno-43050c01', gmu: ['qcom,adreno-gmu-x185.1', 'qcom,adreno-gmu'], name: 'x185', chipId: 0x43050c01, revn: 0, gmem: 3 * MiB, gmemBase: 0, vaSize: 2 ** 38, hbb: 16, maxFreq: 1_100_000_000 },
  // x1p42100 (after v6.12): the X1-45, a smaller X1-85 (a7xx gen2, GMEM at 0, bank bit 16)
  // with 1.5 MiB of GMEM, no address-space size of its own (16 GiB), GMU identity 7.15.0.0
  // and the 1.4 GHz top of bin 0 in x1p42100.dtsi; its GMU compatible is "x145.0"
  { gpu: 'qcom,adreno-43030c00', gmu: ['qcom,adreno-gmu-x145.0', 'qcom,adreno-gmu'], name: 'x145', chipId: 0x43030c00, revn: 0, gmem: MiB + 512 * KiB, gmemBase: 0, vaSize: G16, hbb: 16, maxFreq: 1_400_000_000 },
  { gpu: 'qcom,adreno-43051401', gmu: ['qcom,adreno-gmu-750.1', 'qcom,adreno-gmu'], name: 'a750', chipId: 0x43051401, revn: 0, gmem: 3 * MiB, gmemBase: 0, vaSize: G16, hbb: 16, maxFreq: 680_000_000 },
];

const p = (param: number) => ({ pipe: MSM_PIPE_3D0, param });

function boot(part: Part) {
  const board = Board.fromDtb(sdm845GpuDtb({ gpuCompat: [part.gpu, 'qcom,adreno'], gmuCompat: part.gmu, gmuWrapper: part.gmu === undefined }));
  const k = Kernel.boot(board, defaultImage());
  const drm = msmDevices(k)[0];
  if (!drm) throw new Error(`msm did not bind ${part.gpu}:\n${k.log.dmesg()}`);
  return { board, k, drm, model: board.modelsOfType(AdrenoGpu)[0]! };
}

describe('the a6xx catalog on GPU subtrees shaped like the kernel trees', () => {
  it('covers exactly the parts listed here (a new entry needs its row)', () => {
    expect(ADRENO_GPULIST.filter((g) => g.family !== 'a5xx' && g.family !== 'a3xx' && g.family !== 'a4xx').flatMap((g) => g.chipIds).sort()).toEqual([...PARTS.map((x) => x.chipId), 0x06030001, 0x07000400].sort());
  });

  for (const part of PARTS)
    it(`${part.gpu}: binds, reports the part as Linux does and runs a submit through a process page table`, () => {
      const { board, k, drm, model } = boot(part);
      expect(k.drivers.findDevice(GPU_NAME)).toMatchObject({ state: 'bound' });
      expect(k.log.grep(/Initialized msm .* for 5000000.gpu/)).toHaveLength(1);
      expect(drm.gpu.name).toBe(part.name);
      expect(model.chipId).toBe(part.chipId);
      const f = drm.open({ pid: 500, comm: 'deqp' }) as MsmFile;
      expect(typeof f).toBe('object');
      expect(f.getParam(p(MSM_PARAM_GPU_ID))).toEqual({ value: BigInt(part.revn) });
      expect(f.getParam(p(MSM_PARAM_CHIP_ID))).toEqual({ value: BigInt(part.chipId) });
      expect(f.getParam(p(MSM_PARAM_GMEM_SIZE))).toEqual({ value: BigInt(part.gmem) });
      expect(f.getParam(p(MSM_PARAM_GMEM_BASE))).toEqual({ value: BigInt(part.gmemBase) });
      expect(f.getParam(p(MSM_PARAM_HIGHEST_BANK_BIT))).toEqual({ value: BigInt(part.hbb) });
      expect(f.getParam(p(MSM_PARAM_MAX_FREQ))).toEqual({ value: BigInt(part.maxFreq) });
      expect(f.getParam(p(MSM_PARAM_VA_SIZE))).toEqual({ value: BigInt(part.vaSize) });

      if (part.gmu) {
        // a real GMU: booted, the chip id handed over in its form, the flavour's OOB bits
        const gmu = board.modelsOfType(AdrenoGmu)[0]!;
        expect(gmu.firmwareRunning).toBe(true);
        expect(gmu.hfiStarted).toBe(true);
        expect(gmu.hostChipId).toBe(gmu.expectedHostChipId);
        expect(gmu.legacy).toBe(part.legacy === true);
        expect(drm.gpu.gmu.legacy).toBe(part.legacy === true);
        expect(gmu.events).toEqual([]);
        expect(drm.gpu.gmu.stats.oobTimeouts).toBe(0);
        expect(drm.gpu.gmu.stats.oobSet.BOOT_SLUMBER ?? 0).toBe(part.legacy ? 1 : 0);
      } else {
        // a GMU wrapper: nothing booted, nothing asked, the busy counter set up through it
        const w = board.modelsOfType(AdrenoGmuWrapper)[0]!;
        expect(board.modelsOfType(AdrenoGmu)).toEqual([]);
        expect(drm.gpu.gmu.wrapper).toBe(true);
        expect(drm.gpu.gmu.stats.oobSet).toEqual({});
        expect(drm.gpu.gmu.stats.starts).toBe(0);
        expect(w.events).toEqual([]);
        expect(w.register(0x1a800 + 0x930e)).toBe(0xff00_0000); // GPU_GMU_AO_GPU_CX_BUSY_MASK (0x930e in the GMU window)
        expect(w.linkedGpu).toBe(model);
      }

      // a CP_MEM_WRITE at the same address in the process's own page table
      const out = newBuf(f, 0x1000, 0x1_0020_0000);
      const cmd = newBuf(f, 0x1000, 0x1_0000_0000);
      const fence = submitStream(f, cmd, memWrite(out.iova, [0xc0de_0000 + (part.chipId & 0xffff)]), [{ buf: out, write: true }]);
      expect(wait(f, fence)).toBe(0);
      expect(out.map.read32(0)).toBe((0xc0de_0000 + (part.chipId & 0xffff)) >>> 0);
      expect(drm.gpu.stats.ttbrSwitches).toBe(1);
      expect(model.cp.tableUpdates.map((u) => u.invalidated && u.fault === 0)).toEqual([true]);
      expect(drm.gpu.faults).toEqual([]);
      expect(k.log.all().filter((l) => l.level === 'err' || l.level === 'crit')).toEqual([]);
      f.close();
    });
});

describe('GMU wrapper', () => {
  it('an a610 whose qcom,gmu names a full GMU is refused: it has no GMU firmware', () => {
    const board = Board.fromDtb(sdm845GpuDtb({ gpuCompat: ['qcom,adreno-610.0', 'qcom,adreno'] }));
    const k = Kernel.boot(board, defaultImage());
    expect(msmDevices(k)).toEqual([]);
    expect(k.log.grep(/a610: no GMU firmware for this GPU/)).toHaveLength(1);
    expect(k.drivers.findDevice(GPU_NAME)!.state).not.toBe('bound');
    // the GMU's interrupts and domain went with the failed probe: the module unloads cleanly
    expect(k.modules.unload('msm')).toBe(0);
  });

  it('a wrapper node without its "gmu" window fails the probe with -EINVAL, nothing kept', () => {
    const board = Board.fromDtb(sdm845GpuDtb({ gpuCompat: ['qcom,adreno-610.0', 'qcom,adreno'], gmuWrapper: true, gmuWrapperRegNames: ['cx'] }));
    const k = Kernel.boot(board, defaultImage());
    expect(msmDevices(k)).toEqual([]);
    expect(k.log.grep('Unable to find the gmu registers')).toHaveLength(1);
    expect(k.log.grep(/probe of 5000000.gpu (failed|rejects).*-22/)).toHaveLength(1);
    expect(k.drivers.findDevice(GPU_NAME)!.state).not.toBe('bound');
    expect(k.modules.unload('msm')).toBe(0);
  });
});
