import { describe, expect, it } from 'vitest';
import { MSM_PARAM_GPU_ID, MSM_PIPE_3D0 } from '../src/index.js';
import { memWrite, newBuf, submitStream, wait } from './client.js';
import { bootFakeOk } from './rig.js';

describe('smoke', () => {
  it('probes, opens, submits', () => {
    const r = bootFakeOk();
    const f = r.drm.open({ comm: 'a' });
    if (typeof f === 'number') throw new Error(String(f));
    expect(f.getParam({ pipe: MSM_PIPE_3D0, param: MSM_PARAM_GPU_ID })).toEqual({ value: 630n });
    const data = newBuf(f, 4096, 0x1_0010_0000);
    const cmd = newBuf(f, 4096, 0x1_0000_0000);
    const fence = submitStream(f, cmd, memWrite(data.iova, [0xdead_beef]), [{ buf: data, write: true }]);
    expect(wait(f, fence)).toBe(0);
    expect(data.map.read32(0)).toBe(0xdead_beef);
    console.log(r.k.log.dmesg());
  });
});
