/**
 * SmmuV3 given arguments that are not what they claim to be: a bad stream ID is named as given
 * (a BigInt as a BigInt) and attaches nothing; a preset without six 32-bit ID registers is a
 * RangeError naming it, not a TypeError from inside the capability decoder.
 */
import { describe, expect, it } from 'vitest';
import { Board, DmaMaster, SmmuV3, SMMUV3_PRESET_FVP, type SmmuV3Preset } from '../src/index.js';

const RAM = 0x8000_0000;

describe('SmmuV3 argument errors', () => {
  it('names a bad stream ID as given and attaches nothing', () => {
    const board = new Board('demo', [{ base: RAM, size: 16 << 20 }]);
    const smmu = new SmmuV3(board.mem, {});
    const dma = new DmaMaster(board.mem, { streamId: 1 });
    expect(() => smmu.attachMaster(dma, -1)).toThrow(new RangeError(`${smmu.name}: bad stream ID -1: not a 32-bit StreamID`));
    expect(() => smmu.attachMaster(dma, 2 ** 32)).toThrow(new RangeError(`${smmu.name}: bad stream ID 4294967296: not a 32-bit StreamID`));
    expect(() => smmu.attachMaster(dma, 1.5)).toThrow(new RangeError(`${smmu.name}: bad stream ID 1.5: not a 32-bit StreamID`));
    expect(() => smmu.attachMaster(dma, 0x10n as unknown as number)).toThrow(
      new RangeError(`${smmu.name}: bad stream ID 16n (a BigInt; stream IDs are numbers): not a 32-bit StreamID`),
    );
    expect(smmu.attachedMasters).toHaveLength(0);
    smmu.attachMaster(dma, 7);
    expect(smmu.attachedMasters).toEqual([dma]);
  });

  it('refuses a preset that does not give six 32-bit ID registers, IIDR and AIDR', () => {
    const mem = new Board('demo', [{ base: RAM, size: 16 << 20 }]).mem;
    const bad = (p: unknown): SmmuV3Preset => p as SmmuV3Preset;
    expect(() => new SmmuV3(mem, { preset: bad({ name: 'short', idr: [0, 0, 0], iidr: 0, aidr: 0 }) })).toThrow(
      new RangeError('SMMUv3 preset short: idr must be six 32-bit register values (IDR0..IDR5), got [0, 0, 0]'),
    );
    expect(() => new SmmuV3(mem, { preset: bad({ name: 'big', idr: [0, 0, 0, 0, 0, 2 ** 32], iidr: 0, aidr: 0 }) })).toThrow(/idr must be six 32-bit register values/);
    expect(() => new SmmuV3(mem, { preset: bad({ name: 'noidr', iidr: 0, aidr: 0 }) })).toThrow(/got undefined/);
    expect(() => new SmmuV3(mem, { preset: bad({ ...SMMUV3_PRESET_FVP, name: 'x', aidr: 'r1' }) })).toThrow(
      new RangeError('SMMUv3 preset x: iidr and aidr must be 32-bit register values, got 0 and r1'.replace('got 0', `got ${SMMUV3_PRESET_FVP.iidr}`)),
    );
    expect(() => new SmmuV3(mem, { preset: bad(7) })).toThrow(/expected an object with idr, iidr and aidr, got 7/);
    // The built-in preset still builds.
    expect(new SmmuV3(mem, { preset: SMMUV3_PRESET_FVP }).preset).toBe(SMMUV3_PRESET_FVP);
  });
});
