/**
 * A plain register window: every 32-bit word reads back what was last written (0 before). The
 * Adreno models map their secondary `reg` regions with it (the GPU's "cx_mem" and "cx_dbgc",
 * the GMU's "gmu_pdc", "gmu_pdc_seq", "rscc", ...), which the kernel programs but whose
 * effects (system-cache slices, debug bus, power sequencers) are outside the model.
 */
import type { MmioDevice } from '../../bus.js';

export class AdrenoRegisterWindow implements MmioDevice {
  private readonly words = new Map<number, number>();
  /** Register writes received (for tests that check a driver programmed the block). */
  writes = 0;

  constructor(
    readonly name: string,
    readonly size: number,
  ) {}

  read32(offset: number): number {
    if (offset % 4 !== 0) return 0;
    return this.words.get(offset) ?? 0;
  }

  write32(offset: number, value: number): void {
    if (offset % 4 !== 0) return;
    this.writes++;
    this.words.set(offset, value >>> 0);
  }

  /** The last value written at byte offset `offset` (0 if never written). */
  value(offset: number): number {
    return this.words.get(offset) ?? 0;
  }
}
