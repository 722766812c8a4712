/**
 * A GPU whose IOMMU driver is not in the image (arm_smmu left out): after the deferred-probe
 * timeout it probes without an IOMMU. Linux's msm_gpu_init then has no address space ("<chip id>:
 * no IOMMU, fallback to VRAM carveout!"); a3xx_gpu_init and a4xx_gpu_init refuse that with
 * "No memory protection without IOMMU" and -ENXIO (allow_vram_carveout is off by default).
 * Nothing is kept. (a5xx and later go on in msm's VRAM carveout in Linux, which this model does
 * not have: see the drm-msm README.)
 */
import { describe, expect, it } from 'vitest';
import { Board } from '@gki/hw';
import { ENXIO, Kernel } from '@gki/kernel';
import { msmDevices } from '../src/index.js';
import { defaultImage, GPU_NAME, sdm845GpuDtb } from './rig.js';

describe('an a3xx/a4xx GPU without its IOMMU driver', () => {
  for (const [compat, name] of [['qcom,adreno-306.0', '3.0.6.0'], ['qcom,adreno-405.0', '4.0.5.0']] as const)
    it(`${name}: -ENXIO with Linux's two lines, nothing kept`, () => {
      const board = Board.fromDtb(sdm845GpuDtb({ gpuCompat: [compat, 'qcom,adreno'], noGmu: true, noGmuNode: true, smmuCompat: ['qcom,msm8998-smmu-v2', 'qcom,smmu-v2'] }));
      const k = Kernel.boot(board, defaultImage([], ['msm']));
      expect(msmDevices(k)).toEqual([]);
      const dev = k.drivers.listDevices().find((d) => d.name === GPU_NAME)!;
      expect(dev.probeError).toEqual({ driver: 'adreno', err: -ENXIO });
      const lines = k.log.grep(/no IOMMU, fallback|No memory protection/);
      expect(lines.map((r) => [r.level, `${r.who}: ${r.msg}`])).toEqual([
        ['info', `adreno ${GPU_NAME}: ${name}: no IOMMU, fallback to VRAM carveout!`],
        ['err', `adreno ${GPU_NAME}: No memory protection without IOMMU`],
      ]);
      expect(k.pages.stats().pagesInUse).toBe(0);
    });
});
