/**
 * A tree that enables the GPU but leaves its GMU node disabled, as v6.12's
 * sdm845-lg-common.dtsi does (LG G7 ThinQ and V35: `&gpu { status = "okay"; }`, no `&gmu`).
 * Linux creates no platform device for the disabled GMU, so a6xx_gmu_init fails with -ENODEV
 * and adreno_bind only warns ("failed to load adreno gpu"): the GPU stays unbound, and nothing
 * is logged at error level.
 */
import { describe, expect, it } from 'vitest';
import { Board } from '@gki/hw';
import { ENODEV, Kernel } from '@gki/kernel';
import { defaultImage, GPU_NAME, sdm845GpuDtb } from './rig.js';
import { msmDevices } from '../src/index.js';

describe('a GPU whose GMU node is disabled', () => {
  it('is left unbound with -ENODEV and warnings only', () => {
    const k = Kernel.boot(Board.fromDtb(sdm845GpuDtb({ gmuStatus: 'disabled' })), defaultImage());
    expect(msmDevices(k)).toEqual([]);
    const dev = k.drivers.listDevices().find((d) => d.name === GPU_NAME)!;
    expect(dev.state).toBe('unbound'); // -ENODEV from a probe: the driver declined the device (Linux: "rejects match")
    expect(dev.probeError).toEqual({ driver: 'adreno', err: -ENODEV });
    expect(k.log.grep(/adreno 5000000.gpu: GMU \/soc@0\/gmu@506a000 is not available/)).toHaveLength(1);
    expect(k.log.grep(/adreno 5000000.gpu: failed to load adreno gpu: -19/)).toHaveLength(1);
    expect(k.log.all().filter((r) => r.level === 'err')).toEqual([]);
    // no device for the disabled GMU node
    expect(k.drivers.listDevices().map((d) => d.name)).not.toContain('506a000.gmu');
  });
});
