/**
 * SmmuV2.attachMaster with a stream ID that is not one: the RangeError names it as given (-1,
 * not "0x-1"; a BigInt as a BigInt), and the master is not attached.
 */
import { describe, expect, it } from 'vitest';
import { Board, DmaMaster, SmmuV2, smmuV2Config, SMMUV2_PRESET_MMU500 } from '../src/index.js';

describe('SmmuV2.attachMaster with a bad stream ID', () => {
  it('names the value as given and attaches nothing', () => {
    const board = new Board('demo', [{ base: 0x8000_0000, size: 16 << 20 }]);
    const smmu = new SmmuV2(board.mem, { config: smmuV2Config({ ...SMMUV2_PRESET_MMU500, numCb: 8 }) });
    const dma = new DmaMaster(board.mem, { streamId: 1 });
    expect(() => smmu.attachMaster(dma, [-1])).toThrow(new RangeError('smmu-v2(mmu-500): StreamID -1 is outside the 15-bit StreamID space'));
    expect(() => smmu.attachMaster(dma, [0x8000])).toThrow(new RangeError('smmu-v2(mmu-500): StreamID 0x8000 is outside the 15-bit StreamID space'));
    expect(() => smmu.attachMaster(dma, [1.5])).toThrow(new RangeError('smmu-v2(mmu-500): StreamID 1.5 is outside the 15-bit StreamID space'));
    expect(() => smmu.attachMaster(dma, [0x10n as unknown as number])).toThrow(
      new RangeError('smmu-v2(mmu-500): StreamID 16n (a BigInt; stream IDs are numbers) is outside the 15-bit StreamID space'),
    );
    expect(smmu.attachedMasters).toHaveLength(0);
  });
});
