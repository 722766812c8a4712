/**
 * The Adreno model's chip id option: a value that is not a 32-bit chip id (negative, fractional,
 * beyond 32 bits, a string) used to be wrapped by `>>> 0` into some other GPU (-1 became
 * 0xffffffff, "x" became 0); it is refused with a RangeError naming it.
 */
import { describe, expect, it } from 'vitest';
import { AdrenoGpu, Board } from '../src/index.js';

describe('AdrenoGpu chip id', () => {
  const board = new Board('demo', [{ base: 0x8000_0000, size: 16 << 20 }]);
  it('takes a 32-bit chip id, and 6.3.0.2 by default', () => {
    expect(new AdrenoGpu(board.mem).chipId).toBe(0x0603_0002);
    expect(new AdrenoGpu(board.mem, { chipId: 0x4305_0a01 }).chipId).toBe(0x4305_0a01);
  });
  it('refuses anything else, naming it', () => {
    for (const [bad, shown] of [[-1, '-1'], [2 ** 32, '4294967296'], [1.5, '1.5'], ['x', 'x'], [0x0603_0002n, '100859906n']] as const)
      expect(() => new AdrenoGpu(board.mem, { chipId: bad as unknown as number })).toThrow(
        new RangeError(`adreno: chip id ${shown} is not a 32-bit chip id (core.major.minor.patch)`),
      );
  });
});
