/**
 * An image without the GPU's IOMMU driver (arm_smmu left out of the composition): the GPU and its
 * GMU wait for the SMMU until the deferred-probe timeout, then probe without it. Linux's
 * of_dma_configure fails only for -EPROBE_DEFER; any other IOMMU outcome (here -ETIMEDOUT) is
 * logged and the device goes on untranslated. The GMU then finds no IOMMU for its own memory
 * (a6xx_gmu_memory_probe: msm_iommu_new gives nothing, -ENODEV), so a6xx_gpu_init fails with
 * -ENODEV and adreno_bind warns: the GPU is left without a driver, nothing kept.
 */
import { describe, expect, it } from 'vitest';
import { Board } from '@gki/hw';
import { ENODEV, Kernel } from '@gki/kernel';
import { defaultImage, GPU_NAME, sdm845GpuDtb } from './rig.js';
import { msmDevices } from '../src/index.js';

describe('a GPU whose SMMU driver is not in the image', () => {
  it('fails to bind with -ENODEV from the GMU memory probe, not with the IOMMU timeout of of_dma_configure', () => {
    const k = Kernel.boot(Board.fromDtb(sdm845GpuDtb()), defaultImage([], ['msm']));
    expect(msmDevices(k)).toEqual([]);
    const dev = k.drivers.listDevices().find((d) => d.name === GPU_NAME)!;
    expect(dev.probeError).toEqual({ driver: 'adreno', err: -ENODEV });
    expect(k.log.grep(/GMU IOMMU configuration failed/)).toEqual([]);
    expect(k.log.grep(/506a000\.gmu: IOMMU driver never registered \(deferred probe timeout\)/)).toHaveLength(1);
    expect(k.log.grep(/adreno 5000000\.gpu: failed to load adreno gpu: -19$/)).toHaveLength(1);
    // the failed probe kept nothing: no page is in use (no module of this image holds any)
    expect(k.pages.stats().pagesInUse).toBe(0);
  });
});
