/**
 * The Mali model's inspection methods, given an address space or job slot the GPU does not have
 * (an emulator author's off-by-one, a string from a UI): a RangeError that names the bad number
 * and the valid range, not a TypeError from inside the model; and nothing changes.
 */
import { describe, expect, it } from 'vitest';
import { Board, MaliGpu, MALI_PRESET_T860 } from '../src/index.js';

describe('Mali inspection with a bad address space or job slot', () => {
  const board = new Board('demo', [{ base: 0x4000_0000, size: 16 << 20 }]);
  const gpu = new MaliGpu(board.mem, { preset: MALI_PRESET_T860 });
  const mmu = gpu.mmu;
  const calls: [string, (as: number) => unknown][] = [
    ['unmapped', (as) => mmu.unmapped(as)],
    ['tlbSize', (as) => mmu.tlbSize(as)],
    ['walkCacheSize', (as) => mmu.walkCacheSize(as)],
    ['active', (as) => mmu.active(as)],
    ['lockedRegion', (as) => mmu.lockedRegion(as)],
    ['latched', (as) => mmu.latched(as)],
    ['walkConfig', (as) => mmu.walkConfig(as)],
  ];

  it('answers for every AS the MMU has', () => {
    for (const [, f] of calls) for (let as = 0; as < 16; as++) expect(() => f(as)).not.toThrow();
    expect(mmu.unmapped(0)).toBe(true);
    expect(mmu.lockedRegion(15)).toBeNull();
  });

  it('throws a RangeError naming the bad AS for -1, 16, 1.5, NaN and a BigInt', () => {
    const before = JSON.stringify(gpu.stats);
    for (const [name, f] of calls)
      for (const bad of [-1, 16, 99, 1.5, NaN, 3n as unknown as number]) {
        let err: unknown;
        try {
          f(bad);
        } catch (e) {
          err = e;
        }
        expect(err, `${name}(${String(bad)})`).toBeInstanceOf(RangeError);
        expect((err as Error).message).toBe(`Mali MMU: no address space ${String(bad)} (AS 0..15)`);
      }
    expect(JSON.stringify(gpu.stats)).toBe(before);
  });

  it('slotState: a RangeError for a job slot the GPU does not have', () => {
    expect(gpu.jobs.slotState(0)).toBe('idle');
    for (const bad of [-1, 16, 2.5]) expect(() => gpu.jobs.slotState(bad)).toThrow(new RangeError(`Mali job manager: no job slot ${bad} (JS 0..15)`));
  });
});
