/**
 * A GPU node whose chip id the tree does not give (compatible "qcom,adreno" alone, no
 * qcom,chipid): Linux boots, and msm's find_chipid fails the GPU's probe with "could not parse
 * qcom,chipid: -22". The board used to refuse the whole tree instead.
 */
import { describe, expect, it } from 'vitest';
import { Board } from '@gki/hw';
import { EINVAL, Kernel } from '@gki/kernel';
import { msmDevices } from '../src/index.js';
import { defaultImage, GPU_NAME, sdm845GpuDtb } from './rig.js';

describe('a GPU node without a chip id', () => {
  it('boots; msm fails the GPU probe with -EINVAL as find_chipid does', () => {
    const k = Kernel.boot(Board.fromDtb(sdm845GpuDtb({ gpuCompat: ['qcom,adreno'] })), defaultImage());
    expect(msmDevices(k)).toEqual([]);
    const dev = k.drivers.listDevices().find((d) => d.name === GPU_NAME)!;
    expect(dev.probeError).toEqual({ driver: 'adreno', err: -EINVAL });
    expect(k.log.grep(/adreno 5000000\.gpu: could not parse qcom,chipid: -22$/)).toHaveLength(1);
  });
});
