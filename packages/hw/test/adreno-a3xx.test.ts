/**
 * The a3xx/a4xx personality of the Adreno model (Adreno3xxGpu, the CP's legacy packet form),
 * driven the way Linux's a3xx_gpu.c drives the hardware, with no IOMMU in front (GPU address =
 * physical address). Facts the test holds itself (not the model's regs.ts): the a3xx and a4xx
 * register offsets of a3xx.xml/a4xx.xml/adreno_common.xml, RBBM_INT_0 bit positions, and the
 * PM4 type-0/2/3 encodings of adreno_pm4.xml.
 */
import { describe, expect, it } from 'vitest';
import { Adreno3xxGpu, PhysMem } from '../src/index.js';

const RAM = 0x8000_0000;
const A3 = { INT_CLEAR: 0x61, INT_MASK: 0x63, INT_STATUS: 0x64, STATUS: 0x30, SW_RESET: 0x18, RB_BASE: 0x1c0, RB_CNTL: 0x1c1, RB_RPTR: 0x1c4, RB_WPTR: 0x1c5, ME_CNTL: 0x1f6, PROTECT_CTRL: 0x45e, PROTECT_STATUS: 0x45f, PROTECT_0: 0x460, SCRATCH_2: 0x57a };
const A4 = { INT_CLEAR: 0x36, INT_MASK: 0x37, INT_STATUS: 0x17d, STATUS: 0x191, SW_RESET: 0x22, RB_BASE: 0x200, RB_CNTL: 0x201, RB_RPTR: 0x204, RB_WPTR: 0x205, ME_CNTL: 0x22d, PROTECT_CTRL: 0x250, PROTECT_STATUS: 0x4da, PROTECT_0: 0x240, SCRATCH_2: 0x57a };
type Regs = typeof A3;
const INT_CP_OPCODE_ERROR = 1 << 9;
const INT_CP_REG_PROTECT_FAULT = 1 << 16;
const INT_CACHE_FLUSH_TS = 1 << 20;
const GPU_BUSY = 0x8000_0000;
const pkt0 = (reg: number, n: number): number => (((n - 1) << 16) | reg) >>> 0;
const pkt3 = (op: number, n: number): number => (0xc000_0000 | ((n - 1) << 16) | (op << 8)) >>> 0;
const PKT2 = 0x8000_0000;
const CP_MEM_WRITE = 0x3d;
const CP_EVENT_WRITE = 0x46;
const CP_INDIRECT_BUFFER_PFD = 0x37;
const CP_INDIRECT_BUFFER_PFE = 0x3f;
const CP_MEM_TO_MEM = 0x73;
const CP_SMMU_TABLE_UPDATE = 0x53;
const CACHE_FLUSH_TS = 4;

class Rig {
  readonly mem = new PhysMem([{ base: RAM, size: 0x10_0000 }]);
  readonly gpu: Adreno3xxGpu;
  readonly ring = RAM + 0x1000;
  private wptr = 0;
  constructor(
    chipId: number,
    readonly R: Regs,
  ) {
    this.gpu = new Adreno3xxGpu(this.mem, { chipId });
    // a 32 KiB ring (BUFSZ 12), no rptr shadow
    this.w(R.RB_CNTL, (12 | (2 << 8) | (1 << 27)) >>> 0);
    this.w(R.RB_BASE, this.ring);
    this.w(R.INT_MASK, 0xffff_ffff);
  }
  w(reg: number, v: number): void {
    this.gpu.write32(reg * 4, v);
  }
  r(reg: number): number {
    return this.gpu.read32(reg * 4) >>> 0;
  }
  emit(words: readonly number[]): void {
    for (const x of words) this.mem.write32(this.ring + 4 * this.wptr++, x);
    this.w(this.R.RB_WPTR, this.wptr);
  }
}

for (const [name, chipId, R] of [['a306', 0x0300_0600, A3], ['a405', 0x0400_0500, A4]] as const)
  describe(`Adreno ${name} model (${name === 'a306' ? 'a3xx' : 'a4xx'} register map)`, () => {
    it('holds the micro engine until CP_ME_CNTL.HALT is cleared, then runs type-0/2/3 packets with 32-bit addresses', () => {
      const rig = new Rig(chipId, R);
      expect(rig.r(R.ME_CNTL)).toBe(1 << 28);
      const out = RAM + 0x8000;
      rig.emit([pkt0(R.SCRATCH_2, 1), 42, PKT2, pkt3(CP_MEM_WRITE, 3), out, 0x1111, 0x2222]);
      // halted: nothing ran
      expect(rig.r(R.RB_RPTR)).toBe(0);
      expect(rig.gpu.cp.stats.packets).toBe(0);
      rig.w(R.ME_CNTL, 0);
      expect(rig.r(R.RB_RPTR)).toBe(7);
      expect(rig.r(R.SCRATCH_2)).toBe(42);
      expect(rig.mem.read32(out)).toBe(0x1111);
      expect(rig.mem.read32(out + 4)).toBe(0x2222);
      expect(rig.r(R.STATUS) & GPU_BUSY).toBe(0);
    });

    it('calls IBs through CP_INDIRECT_BUFFER_PFD and _PFE, copies with CP_MEM_TO_MEM, and writes the fence with CACHE_FLUSH_TS', () => {
      const rig = new Rig(chipId, R);
      rig.w(R.ME_CNTL, 0);
      const ib = RAM + 0x4000;
      const src = RAM + 0x9000;
      const dst = RAM + 0xa000;
      const fence = RAM + 0xb000;
      rig.mem.write32(src, 0xc0ffee);
      const ibWords = [pkt3(CP_MEM_TO_MEM, 3), 0, dst, src];
      ibWords.forEach((x, i) => rig.mem.write32(ib + 4 * i, x));
      rig.emit([pkt3(CP_INDIRECT_BUFFER_PFD, 2), ib, ibWords.length, PKT2, pkt3(CP_INDIRECT_BUFFER_PFE, 2), ib, ibWords.length, pkt3(CP_EVENT_WRITE, 3), (CACHE_FLUSH_TS | (1 << 31)) >>> 0, fence, 9]);
      expect(rig.mem.read32(dst)).toBe(0xc0ffee);
      expect(rig.mem.read32(fence)).toBe(9);
      expect(rig.gpu.cp.stats.ibs).toBe(2);
      expect(rig.r(R.INT_STATUS) & INT_CACHE_FLUSH_TS).toBe(INT_CACHE_FLUSH_TS);
      rig.w(R.INT_CLEAR, INT_CACHE_FLUSH_TS);
      expect(rig.r(R.INT_STATUS)).toBe(0);
    });

    it('stops on a packet a3xx/a4xx does not have (CP_SMMU_TABLE_UPDATE) with CP_OPCODE_ERROR, until a software reset', () => {
      const rig = new Rig(chipId, R);
      rig.w(R.ME_CNTL, 0);
      rig.emit([pkt3(CP_SMMU_TABLE_UPDATE, 4), 0, 0, 0, 0]);
      expect(rig.r(R.INT_STATUS) & INT_CP_OPCODE_ERROR).toBe(INT_CP_OPCODE_ERROR);
      expect(rig.gpu.cpState).toBe('halted');
      rig.w(R.SW_RESET, 1);
      rig.w(R.SW_RESET, 0);
      expect(rig.r(R.ME_CNTL)).toBe(1 << 28);
      expect(rig.r(R.INT_STATUS)).toBe(0);
    });

    it('traps a protected register write from the ring (CP_PROTECT, a5xx layout) with CP_REG_PROTECT_FAULT', () => {
      const rig = new Rig(chipId, R);
      rig.w(R.PROTECT_CTRL, 0x7);
      // a3xx_hw_init's first range: 8 registers from 0x10, reads and writes trapped
      rig.w(R.PROTECT_0, 0x6300_0040);
      rig.w(R.ME_CNTL, 0);
      rig.emit([pkt0(0x12, 1), 5]);
      expect(rig.r(R.INT_STATUS) & INT_CP_REG_PROTECT_FAULT).toBe(INT_CP_REG_PROTECT_FAULT);
      // the register's byte address, WRITE in bit 24
      expect(rig.r(R.PROTECT_STATUS)).toBe(((1 << 24) | (0x12 << 2)) >>> 0);
      expect(rig.gpu.cpState).toBe('halted');
    });
  });

describe('Adreno3xxGpu', () => {
  it('takes only a3xx/a4xx chip ids', () => {
    const mem = new PhysMem([{ base: RAM, size: 0x1000 }]);
    expect(() => new Adreno3xxGpu(mem, { chipId: 0x0503_0002 })).toThrow(RangeError);
  });
});
