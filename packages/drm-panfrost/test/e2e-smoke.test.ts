import { describe, expect, it } from 'vitest';
import { MALI_JOB_TYPE_COPY } from '@gki/hw';
import { GpuClient, pattern } from './client.js';
import { defaultGpuBoard } from './boards.js';

describe('smoke', () => {
  it('copies through the model', () => {
    const rig = defaultGpuBoard();
    const c = new GpuClient(rig.pfdev);
    const src = c.bo(0x4000);
    const dst = c.bo(0x4000);
    const data = pattern(1, 0x4000);
    src.cpu!.write(0, data);
    const fence = c.run([{ type: MALI_JOB_TYPE_COPY, src: src.va, dst: dst.va, length: 0x4000 }], [src, dst]);
    console.log(rig.k.log.dmesg());
    expect(fence.signaled).toBe(true);
    expect(fence.error).toBe(0);
    expect(dst.cpu!.read(0, 0x4000)).toEqual(data);
    c.close();
  });
});
