import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { AdrenoGpu, Board, compileDtsFile } from '@gki/hw';
import ioPgtableArm from '@gki/format-arm-lpae';
import ioPgtableArmV7s from '@gki/format-arm-v7s';
import { ioPgtableCoreModule } from '@gki/io-pgtable-core';
import { Kernel, iommuGetDomainForDev } from '@gki/kernel';
import armSmmu, { asArmSmmuDomain } from '@gki/smmu';
import msm, {
  MSM_PARAM_CHIP_ID,
  MSM_PARAM_GMEM_SIZE,
  MSM_PARAM_GPU_ID,
  MSM_PARAM_VA_SIZE,
  MSM_PARAM_VA_START,
  MSM_PIPE_3D0,
  msmDevices,
  type MsmFile,
} from '../src/index.js';
import { memCopy, memWrite, newBuf, submitStream, wait } from './client.js';

/*
 * The kernel's own SDM845 device tree (boards/qcom/sdm845-mtp.dts, trimmed of
 * clocks and power domains) with the default configuration of this stack: the io-pgtable core
 * built in, both formats, arm_smmu and msm as modules, loaded as a board's modules.load would.
 */
const MTP = fileURLToPath(new URL('../../../boards/qcom/sdm845-mtp.dts', import.meta.url));

function bootMtp() {
  const board = Board.fromDtb(compileDtsFile(MTP).dtb);
  const k = Kernel.boot(board, {
    builtin: [ioPgtableCoreModule],
    modules: [ioPgtableArm, ioPgtableArmV7s, armSmmu, msm],
    load: ['arm_smmu', 'msm'],
  });
  return { board, k };
}

describe('SDM845 MTP (the kernel tree, trimmed) with the default image', () => {
  it('boots: the Adreno 630 binds behind its Adreno SMMU with per-process page tables, the GMU in its own context', () => {
    const { board, k } = bootMtp();
    const drm = msmDevices(k)[0];
    expect(drm, k.log.dmesg()).toBeDefined();
    expect(board.modelsOfType(AdrenoGpu)).toHaveLength(1);
    expect(drm!.dev.name).toBe('5000000.gpu');
    expect(k.log.grep('Initialized msm 1.12.0 20130625 for 5000000.gpu on minor 0')).toHaveLength(1);
    // the GPU's domain is context bank 0 with split tables; the GMU (stream 5) sits in another bank
    const gpuDomain = asArmSmmuDomain(iommuGetDomainForDev(drm!.dev));
    expect(gpuDomain?.cfg.cbndx).toBe(0);
    expect(gpuDomain?.geometry.apertureStart).toBeLessThan(0);
    const gmuDev = k.drivers.deviceForNode(k.of.findNodeByPath('/soc@0/gmu@506a000')!)!;
    const gmuDomain = asArmSmmuDomain(iommuGetDomainForDev(gmuDev));
    expect(gmuDomain?.type).toBe('unmanaged');
    expect(gmuDomain?.cfg.cbndx).toBeGreaterThan(0);
    expect(k.log.grep(/error|ERROR/).filter((r) => r.level === 'err')).toEqual([]);
  });

  it('runs two processes\' work at the same addresses, each on its own page table', () => {
    const { k } = bootMtp();
    const drm = msmDevices(k)[0]!;
    const open = (pid: number, comm: string): MsmFile => {
      const f = drm.open({ pid, comm });
      if (typeof f === 'number') throw new Error(`open: ${f}`);
      return f;
    };
    const a = open(100, 'deqp-vk');
    const b = open(200, 'weston');
    expect(a.getParam({ pipe: MSM_PIPE_3D0, param: MSM_PARAM_GPU_ID })).toEqual({ value: 630n });
    expect(a.getParam({ pipe: MSM_PIPE_3D0, param: MSM_PARAM_CHIP_ID })).toEqual({ value: 0x0603_0002n });
    expect(a.getParam({ pipe: MSM_PIPE_3D0, param: MSM_PARAM_GMEM_SIZE })).toEqual({ value: 0x10_0000n });
    expect(a.getParam({ pipe: MSM_PIPE_3D0, param: MSM_PARAM_VA_START })).toEqual({ value: 0x1_0000_0000n });
    expect(b.getParam({ pipe: MSM_PIPE_3D0, param: MSM_PARAM_VA_SIZE })).toEqual({ value: 0x1_0000_0000n });
    const fences: [MsmFile, number][] = [];
    const outs = [];
    for (const [f, seed] of [
      [a, 0x1000],
      [b, 0x2000],
    ] as const) {
      const src = newBuf(f, 0x1000, 0x1_0040_0000);
      const dst = newBuf(f, 0x1000, 0x1_0050_0000);
      const cmd = newBuf(f, 0x1000, 0x1_0060_0000);
      src.map.fill32(0, 0x1000, seed);
      const stream = [...memCopy(dst.iova, src.iova), ...memWrite(dst.iova + 4, [seed + 1])];
      fences.push([f, submitStream(f, cmd, stream, [{ buf: src }, { buf: dst, write: true }])]);
      outs.push([dst, seed] as const);
    }
    for (const [f, fence] of fences) expect(wait(f, fence)).toBe(0);
    for (const [dst, seed] of outs) {
      expect(dst.map.read32(0)).toBe(seed);
      expect(dst.map.read32(4)).toBe(seed + 1);
    }
    expect(drm.gpu.stats.ttbrSwitches).toBe(2);
    expect(a.close()).toBe(0);
    expect(b.close()).toBe(0);
    expect(k.modules.unload('msm')).toBe(0);
  });
});
