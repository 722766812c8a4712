/**
 * Bad programming never crashes the Mali model: random register writes (to the registers that
 * do something and to random offsets), random job chains and random page tables leave it in a
 * consistent state, and every interrupt line follows RAWSTAT & MASK.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { as, AS, js, JS, MaliTables, REG, resetAndPowerUp, rk3399, writeJob } from './mali-helpers.js';

const INTERESTING = [
  REG.GPU_INT_CLEAR, REG.GPU_INT_MASK, REG.GPU_CMD, REG.L2_PWRON_LO, REG.SHADER_PWRON_LO, REG.TILER_PWRON_LO,
  REG.SHADER_PWROFF_LO, REG.L2_PWROFF_LO, REG.JOB_INT_CLEAR, REG.JOB_INT_MASK, REG.MMU_INT_CLEAR, REG.MMU_INT_MASK,
  ...[0, 1, 2].flatMap((s) => [JS.HEAD_NEXT_LO, JS.HEAD_NEXT_HI, JS.AFFINITY_NEXT_LO, JS.CONFIG_NEXT, JS.COMMAND_NEXT, JS.COMMAND].map((o) => js(s, o))),
  ...[0, 1, 7, 8, 15].flatMap((n) => [AS.TRANSTAB_LO, AS.TRANSTAB_HI, AS.MEMATTR_LO, AS.LOCKADDR_LO, AS.LOCKADDR_HI, AS.COMMAND].map((o) => as(n, o))),
];

describe('Mali model under random programming', () => {
  it('never throws and keeps its interrupt lines consistent', () => {
    const op = fc.oneof(
      fc.record({ read: fc.boolean(), off: fc.constantFrom(...INTERESTING), v: fc.oneof(fc.integer({ min: 0, max: 15 }), fc.constantFrom(0x1000_0000, 0x100_0003, 0x10_0000 | 14, 0xffff_ffff), fc.nat({ max: 0xffff_ffff })) }),
      fc.record({ read: fc.boolean(), off: fc.nat({ max: 0xfffc }).map((o) => o & ~3), v: fc.nat({ max: 0xffff_ffff }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), fc.array(fc.nat({ max: 0x3f }), { minLength: 4, maxLength: 4 }), (ops, types) => {
        const r = rk3399();
        resetAndPowerUp(r);
        const t = new MaliTables(r.mem, 0x0100_0000);
        t.map(0x1000_0000, 0x0300_0000, 0x1000);
        t.map(0x2000_0000, 0x0400_0000, 0x2000, { write: types[0]! % 2 === 0 });
        // a chain of random types, some looping back to the head
        for (let i = 0; i < 4; i++)
          writeJob(r.mem, 0x0300_0000 + i * 64, { type: types[i]!, src: 0x2000_0000, dst: 0x2000_0800, length: 0x900, next: i < 3 ? 0x1000_0000 + (i + 1) * 64 : types[3]! % 3 === 0 ? 0x1000_0000 : 0 });
        r.gpu.jobs.maxChainJobs = 64;
        r.w32(as(0, AS.TRANSTAB_LO), Number(t.transtab()));
        for (const { read, off, v } of ops) {
          if (read) r.r32(off);
          else r.w32(off, v);
        }
        r.gpu.settle();
        r.gpu.run();
        for (let n = 0; n < 8; n++) expect(r.r32(as(n, AS.STATUS))).toBe(0);
        for (let s = 0; s < 3; s++) expect(['idle', 'running', 'stalled', 'hung']).toContain(r.gpu.jobs.slotState(s));
        const level = (raw: number, mask: number) => (r.r32(raw) & r.r32(mask)) !== 0;
        expect(r.board.irq.line(32 + 19).level).toBe(level(REG.GPU_INT_RAWSTAT, REG.GPU_INT_MASK));
        expect(r.board.irq.line(32 + 20).level).toBe(level(REG.JOB_INT_RAWSTAT, REG.JOB_INT_MASK));
        expect(r.board.irq.line(32 + 21).level).toBe(level(REG.MMU_INT_RAWSTAT, REG.MMU_INT_MASK));
        // withdrawing the queued chain and a hard stop always bring a slot back to idle
        for (let s = 0; s < 3; s++) {
          r.w32(js(s, JS.COMMAND_NEXT), 0);
          r.w32(js(s, JS.COMMAND), 3);
          expect(r.gpu.jobs.slotState(s)).toBe('idle');
        }
      }),
      { numRuns: 150 },
    );
  });
});
