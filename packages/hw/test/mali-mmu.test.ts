/**
 * The Mali MMU: command protocol and AS_ACTIVE, TRANSTAB latching by UPDATE, TLB staleness
 * until LOCK + FLUSH over a covering region, lock-region encoding, and the fault encoding
 * (AS_FAULTSTATUS / AS_FAULTADDRESS / MMU_IRQ) of each kind of translation failure.
 */
import { describe, expect, it } from 'vitest';
import { prop } from '@gki/hw';
import {
  ACCESS,
  ADRMODE_IDENTITY,
  AS,
  as,
  AS_ACTIVE,
  AS_CMD,
  disableAs,
  enableAs,
  EXC,
  js,
  JS,
  JOB,
  LINUX_MALI_MEMATTR,
  lockRegion,
  maliRig,
  MaliTables,
  mmuOp,
  REG,
  resetAndPowerUp,
  rk3399,
  submit,
  writeJob,
  type MaliRig,
} from './mali-helpers.js';

const TABLES = 0x0100_0000;
const JOB_VA = 0x1000_0000;
const JOB_PA = 0x0300_0000;
const SRC_VA = 0x2000_0000;
const DST_VA = 0x3000_0000;
const PA_A = 0x0400_0000;
const PA_B = 0x0400_1000;
const PA_D = 0x0500_0000;

interface Fx {
  r: MaliRig;
  t: MaliTables;
}

function setup(rig: MaliRig = rk3399(), asn = 0): Fx {
  resetAndPowerUp(rig);
  const t = new MaliTables(rig.mem, TABLES + asn * 0x10_0000);
  t.map(JOB_VA, JOB_PA + asn * 0x1_0000, 0x1_0000);
  t.map(SRC_VA, PA_A, 0x1000);
  t.map(DST_VA, PA_D + asn * 0x1_0000, 0x1000);
  enableAs(rig, asn, t.transtab());
  return { r: rig, t };
}

/** Runs one COPY job of `len` bytes in AS `asn` and returns JS_STATUS of slot 1. */
function copyJob(f: Fx, src: number, dst: number, len: number, asn = 0): number {
  const { r } = f;
  writeJob(r.mem, JOB_PA + asn * 0x1_0000, { type: JOB.COPY, src, dst, length: len });
  r.w32(REG.JOB_INT_CLEAR, 0xffff_ffff);
  submit(r, 1, asn, JOB_VA);
  return r.r32(js(1, JS.STATUS));
}

const word = (f: Fx, pa: number) => f.r.mem.read32(pa);

describe('Mali MMU commands', () => {
  it('keeps AS_ACTIVE set for a few accesses after a command and clears it when polled', () => {
    const r = rk3399();
    r.w32(as(0, AS.COMMAND), AS_CMD.NOP);
    expect(r.r32(as(0, AS.STATUS)) & AS_ACTIVE).toBe(AS_ACTIVE); // the first poll sees it running
    let reads = 1;
    while (r.r32(as(0, AS.STATUS)) & AS_ACTIVE) reads++;
    expect(reads).toBeLessThan(5); // and it completes while polled
    expect(r.gpu.mmu.active(0)).toBe(false);
  });

  it('ignores a command written while AS_ACTIVE, so a driver that does not wait loses its flush', () => {
    const f = setup();
    const { r } = f;
    r.mem.write32(PA_A, 0xaaaa_aaaa);
    r.mem.write32(PA_B, 0xbbbb_bbbb);
    expect(copyJob(f, SRC_VA, DST_VA, 4)).toBe(EXC.DONE);
    f.t.map(SRC_VA, PA_B, 0x1000);
    // LOCK then FLUSH_PT without waiting for the LOCK to finish
    const region = lockRegion(SRC_VA, 0x1000);
    r.w32(as(0, AS.LOCKADDR_LO), Number(region & 0xffff_ffffn));
    r.w32(as(0, AS.LOCKADDR_HI), Number(region >> 32n));
    r.w32(as(0, AS.COMMAND), AS_CMD.LOCK);
    r.w32(as(0, AS.COMMAND), AS_CMD.FLUSH_PT);
    expect(r.gpu.events.at(-1)).toMatch(/AS0: FLUSH_PT written while AS_ACTIVE \(LOCK still running\): ignored/);
    expect(r.gpu.stats.mmu.commandsDropped).toBe(1);
    r.gpu.settle();
    // the region is locked and nothing was invalidated; the locked region stalls the next job
    expect(r.gpu.mmu.lockedRegion(0)).toEqual({ start: SRC_VA, end: SRC_VA + 0x8000 });
    // finishing the protocol properly makes the new translation visible
    mmuOp(r, 0, SRC_VA, 0x1000, AS_CMD.FLUSH_PT);
    expect(copyJob(f, SRC_VA, DST_VA, 4)).toBe(EXC.DONE);
    expect(word(f, PA_D)).toBe(0xbbbb_bbbb);
  });

  it('translates with the TRANSTAB latched by UPDATE, not with what the register holds', () => {
    const f = setup();
    const { r } = f;
    r.mem.write32(PA_A, 0x1111_1111);
    const other = new MaliTables(r.mem, 0x0180_0000);
    other.map(JOB_VA, JOB_PA, 0x1000);
    other.map(SRC_VA, PA_B, 0x1000);
    other.map(DST_VA, PA_D, 0x1000);
    r.mem.write32(PA_B, 0x2222_2222);
    r.w32(as(0, AS.TRANSTAB_LO), Number(other.transtab() & 0xffff_ffffn));
    expect(copyJob(f, SRC_VA, DST_VA, 4)).toBe(EXC.DONE);
    expect(word(f, PA_D)).toBe(0x1111_1111); // still the old tables
    enableAs(r, 0, other.transtab());
    expect(copyJob(f, SRC_VA, DST_VA, 4)).toBe(EXC.DONE);
    expect(word(f, PA_D)).toBe(0x2222_2222);
    expect(r.gpu.mmu.latched(0).transtab).toBe(other.transtab());
    expect(r.gpu.mmu.latched(0).memattr).toBe(LINUX_MALI_MEMATTR);
  });
});

describe('Mali TLB', () => {
  it('keeps a stale translation until LOCK + FLUSH_PT over a region that covers it', () => {
    const f = setup();
    const { r, t } = f;
    r.mem.write32(PA_A, 0xaaaa_aaaa);
    r.mem.write32(PA_B, 0xbbbb_bbbb);
    expect(copyJob(f, SRC_VA, DST_VA, 4)).toBe(EXC.DONE);
    expect(word(f, PA_D)).toBe(0xaaaa_aaaa);

    t.map(SRC_VA, PA_B, 0x1000); // the page table now says PA_B
    expect(copyJob(f, SRC_VA, DST_VA, 4)).toBe(EXC.DONE);
    expect(word(f, PA_D)).toBe(0xaaaa_aaaa); // the TLB still says PA_A

    mmuOp(r, 0, SRC_VA + 0x10_0000, 0x1000, AS_CMD.FLUSH_PT); // a region next to it
    expect(copyJob(f, SRC_VA, DST_VA, 4)).toBe(EXC.DONE);
    expect(word(f, PA_D)).toBe(0xaaaa_aaaa);

    mmuOp(r, 0, SRC_VA, 0x1000, AS_CMD.FLUSH_PT);
    expect(copyJob(f, SRC_VA, DST_VA, 4)).toBe(EXC.DONE);
    expect(word(f, PA_D)).toBe(0xbbbb_bbbb);
  });

  it('FLUSH_MEM and LOCK + UNLOCK invalidate the locked region too; a flush with no LOCK invalidates nothing', () => {
    for (const op of [AS_CMD.FLUSH_MEM, AS_CMD.UNLOCK]) {
      const f = setup();
      const { r, t } = f;
      r.mem.write32(PA_A, 1);
      r.mem.write32(PA_B, 2);
      copyJob(f, SRC_VA, DST_VA, 4);
      t.map(SRC_VA, PA_B, 0x1000);
      writeCmdDirect(r, 0, AS_CMD.FLUSH_PT); // no LOCK before it
      expect(r.gpu.events.at(-1)).toMatch(/FLUSH_PT with no locked region/);
      copyJob(f, SRC_VA, DST_VA, 4);
      expect(word(f, PA_D)).toBe(1);
      const region = lockRegion(SRC_VA, 0x1000);
      r.w32(as(0, AS.LOCKADDR_LO), Number(region & 0xffff_ffffn));
      r.w32(as(0, AS.LOCKADDR_HI), 0);
      writeCmdDirect(r, 0, AS_CMD.LOCK);
      writeCmdDirect(r, 0, op);
      copyJob(f, SRC_VA, DST_VA, 4);
      expect(word(f, PA_D)).toBe(2);
    }
  });

  it('UPDATE drops every cached translation of the address space', () => {
    const f = setup();
    const { r, t } = f;
    r.mem.write32(PA_A, 1);
    r.mem.write32(PA_B, 2);
    copyJob(f, SRC_VA, DST_VA, 4);
    expect(r.gpu.mmu.tlbSize(0)).toBeGreaterThan(0);
    t.map(SRC_VA, PA_B, 0x1000);
    writeCmdDirect(r, 0, AS_CMD.UPDATE);
    expect(r.gpu.mmu.tlbSize(0)).toBe(0);
    copyJob(f, SRC_VA, DST_VA, 4);
    expect(word(f, PA_D)).toBe(2);
  });

  it('invalidates a 2 MiB block through any locked region that overlaps it', () => {
    const f = setup();
    const { r, t } = f;
    const BLK_VA = 0x4000_0000;
    t.map(BLK_VA, 0x0600_0000, 2 ** 21, {}, true);
    r.mem.write32(0x0600_0000 + 0x1_2340, 7);
    r.mem.write32(0x0800_0000 + 0x1_2340, 8);
    copyJob(f, BLK_VA + 0x1_2340, DST_VA, 4);
    expect(word(f, PA_D)).toBe(7);
    t.map(BLK_VA, 0x0800_0000, 2 ** 21, {}, true);
    mmuOp(r, 0, BLK_VA + 0x10_0000, 0x1000, AS_CMD.FLUSH_PT); // overlaps the block's second half
    copyJob(f, BLK_VA + 0x1_2340, DST_VA, 4);
    expect(word(f, PA_D)).toBe(8);
  });

  it('honours the lock-region size code: width = log2(size) - 1 in LOCKADDR[5:0], start aligned down', () => {
    const r = rk3399();
    const check = (lo: number, hi: number, start: number, end: number) => {
      r.w32(as(2, AS.LOCKADDR_LO), lo);
      r.w32(as(2, AS.LOCKADDR_HI), hi);
      writeCmdDirect(r, 2, AS_CMD.LOCK);
      expect(r.gpu.mmu.lockedRegion(2)).toEqual({ start, end });
      writeCmdDirect(r, 2, AS_CMD.UNLOCK);
    };
    check(0x1234_5000 | 14, 0, 0x1234_0000, 0x1234_8000); // 32 KiB
    check(0x1234_5000 | 20, 0, 0x1220_0000, 0x1240_0000); // 2 MiB
    check(0 | 35, 0x12, 0x10_0000_0000, 0x20_0000_0000); // 64 GiB, start from LOCKADDR_HI
    check(63, 0, 0, Infinity); // everything
    // panfrost's rule reproduced by the helper for a range spanning a 32 KiB boundary
    expect(lockRegion(0x7000, 0x2000)).toBe(0n | 15n); // 64 KiB block at 0
  });

  it('locks nothing for a region below the Bifrost minimum (32 KiB) or a size of 0; Midgard takes 4 KiB', () => {
    const bifrost = maliRig({ compatible: ['rockchip,rk3568-mali', 'arm,mali-bifrost'] });
    bifrost.w32(as(0, AS.LOCKADDR_LO), 0x5000 | 11); // 4 KiB: the 5.10 rule's single-page lock
    writeCmdDirect(bifrost, 0, AS_CMD.LOCK);
    expect(bifrost.gpu.mmu.lockedRegion(0)).toBeNull();
    expect(bifrost.gpu.events.at(-1)).toMatch(/LOCK of a 2\^12-byte region, below the 2\^15-byte minimum/);
    bifrost.w32(as(0, AS.LOCKADDR_LO), 0);
    writeCmdDirect(bifrost, 0, AS_CMD.LOCK);
    expect(bifrost.gpu.mmu.lockedRegion(0)).toBeNull();
    expect(bifrost.gpu.stats.mmu.badLocks).toBe(2);

    const midgard = rk3399();
    midgard.w32(as(0, AS.LOCKADDR_LO), 0x5000 | 11);
    writeCmdDirect(midgard, 0, AS_CMD.LOCK);
    expect(midgard.gpu.mmu.lockedRegion(0)).toEqual({ start: 0x5000, end: 0x6000 });
  });

  it('accepts a lock region beyond the VA range: it covers no translation and the event says so', () => {
    const f = setup();
    const { r } = f;
    r.mem.write32(PA_A, 5);
    copyJob(f, SRC_VA, DST_VA, 4);
    const before = r.gpu.mmu.tlbSize(0);
    r.w32(as(0, AS.LOCKADDR_LO), 20);
    r.w32(as(0, AS.LOCKADDR_HI), 0x0100_0000); // 2^56: beyond 48-bit VAs
    writeCmdDirect(r, 0, AS_CMD.LOCK);
    expect(r.gpu.events.at(-1)).toMatch(/beyond the 48-bit VA range/);
    writeCmdDirect(r, 0, AS_CMD.FLUSH_PT);
    expect(r.gpu.mmu.tlbSize(0)).toBe(before);
  });

  it('keeps address spaces apart: the same VA maps different pages in AS0 and AS1', () => {
    const r = rk3399();
    const f0 = setup(r, 0);
    const f1 = { r, t: new MaliTables(r.mem, TABLES + 0x10_0000) };
    f1.t.map(JOB_VA, JOB_PA + 0x1_0000, 0x1_0000);
    f1.t.map(SRC_VA, PA_B, 0x1000);
    f1.t.map(DST_VA, PA_D + 0x1_0000, 0x1000);
    enableAs(r, 1, f1.t.transtab());
    r.mem.write32(PA_A, 0xa0a0);
    r.mem.write32(PA_B, 0xb1b1);
    expect(copyJob(f0, SRC_VA, DST_VA, 4, 0)).toBe(EXC.DONE);
    expect(copyJob(f1, SRC_VA, DST_VA, 4, 1)).toBe(EXC.DONE);
    expect(r.mem.read32(PA_D)).toBe(0xa0a0);
    expect(r.mem.read32(PA_D + 0x1_0000)).toBe(0xb1b1);
  });

  it('has no registers for address spaces AS_PRESENT does not list (Mali-T720: four)', () => {
    const r = maliRig({ compatible: ['allwinner,sun50i-h6-mali', 'arm,mali-t720'] });
    r.w32(as(3, AS.TRANSTAB_LO), 0x1003);
    r.w32(as(4, AS.TRANSTAB_LO), 0x1003);
    r.w32(as(4, AS.COMMAND), AS_CMD.UPDATE);
    expect(r.r32(as(3, AS.TRANSTAB_LO))).toBe(0x1003);
    expect(r.r32(as(4, AS.TRANSTAB_LO))).toBe(0);
    expect(r.r32(as(4, AS.STATUS))).toBe(0);
    expect(r.gpu.stats.mmu.commands).toEqual({});
  });

  it('identity mode translates VA = PA without tables', () => {
    const f = setup();
    const { r } = f;
    r.mem.write32(PA_A, 0x1d1d);
    writeJob(r.mem, JOB_PA, { type: JOB.COPY, src: PA_A, dst: PA_D, length: 4 });
    r.w32(as(3, AS.TRANSTAB_LO), ADRMODE_IDENTITY);
    writeCmdDirect(r, 3, AS_CMD.UPDATE);
    submit(r, 0, 3, JOB_PA);
    expect(r.r32(js(0, JS.STATUS))).toBe(EXC.DONE);
    expect(r.mem.read32(PA_D)).toBe(0x1d1d);
  });
});

/** Writes an AS command once the AS is idle and waits for it (no LOCK of its own). */
function writeCmdDirect(r: MaliRig, n: number, cmd: number): void {
  while (r.r32(as(n, AS.STATUS)) & AS_ACTIVE);
  r.w32(as(n, AS.COMMAND), cmd);
  while (r.r32(as(n, AS.STATUS)) & AS_ACTIVE);
}

describe('Mali fault encoding', () => {
  /** Reads the fault registers of AS n. */
  const fault = (r: MaliRig, n: number) => {
    const st = r.r32(as(n, AS.FAULTSTATUS));
    return {
      type: st & 0xff,
      access: (st >>> 8) & 3,
      source: st >>> 16,
      va: r.r32(as(n, AS.FAULTADDRESS_HI)) * 2 ** 32 + r.r32(as(n, AS.FAULTADDRESS_LO)),
      raw: r.r32(REG.MMU_INT_RAWSTAT),
    };
  };

  it('reports a translation fault at the level where the walk found no entry (0xC0 + level)', () => {
    // Level 0: nothing in the PGD slot; 1, 2: a missing next table; 3: a missing page.
    const cases: [number, number][] = [
      [0x80_0000_0000, 0], // another L0 slot
      [0x40_0000_0000 / 8, 1], // 0x8_0000_0000: same L0 slot as JOB_VA, other L1 slot
      [0x3800_0000, 2], // same L1 slot as the mapped pages, another L2 slot
      [DST_VA + 0x1000, 3], // next page
    ];
    for (const [va, level] of cases) {
      const f = setup();
      const { r } = f;
      expect(copyJob(f, va, DST_VA, 4)).toBe(EXC.ACTIVE); // stalled on the fault
      const flt = fault(r, 0);
      expect(flt.type).toBe(EXC.TRANSLATION_FAULT_0 + level);
      expect(flt.access).toBe(ACCESS.READ);
      expect(flt.va).toBe(va);
      expect(flt.source).toBe((1 << 4) | 1); // slot 1, data unit
      expect(flt.raw).toBe(1); // page fault on AS0, no bus error
    }
  });

  it('reports permission faults with the access type: write to read-only, fetch from XN', () => {
    const f = setup();
    const { r, t } = f;
    t.map(DST_VA, PA_D, 0x1000, { write: false });
    expect(copyJob(f, SRC_VA, DST_VA, 4)).toBe(EXC.ACTIVE);
    expect(fault(r, 0)).toMatchObject({ type: EXC.PERMISSION_FAULT_0 + 3, access: ACCESS.WRITE, va: DST_VA });

    const g = setup();
    g.t.map(SRC_VA, PA_A, 0x1000, { exec: false });
    writeJob(g.r.mem, JOB_PA, { type: JOB.EXECUTE, src: SRC_VA, length: 16 });
    submit(g.r, 0, 0, JOB_VA);
    expect(fault(g.r, 0)).toMatchObject({ type: EXC.PERMISSION_FAULT_0 + 3, access: ACCESS.EXECUTE, va: SRC_VA });

    const h = setup();
    h.t.map(DST_VA, PA_D, 0x1000, { write: false });
    writeJob(h.r.mem, JOB_PA, { type: JOB.ATOMIC_ADD, dst: DST_VA, value: 1 });
    submit(h.r, 0, 0, JOB_VA);
    expect(fault(h.r, 0)).toMatchObject({ type: EXC.PERMISSION_FAULT_0 + 3, access: ACCESS.ATOMIC, va: DST_VA });

    // a read-only 2 MiB block: the fault is reported at level 2
    const k = setup();
    k.t.map(0x4000_0000, 0x0600_0000, 2 ** 21, { write: false }, true);
    expect(copyJob(k, SRC_VA, 0x4000_0000 + 8, 4)).toBe(EXC.ACTIVE);
    expect(fault(k.r, 0)).toMatchObject({ type: EXC.PERMISSION_FAULT_0 + 2, access: ACCESS.WRITE });
  });

  it('reports a permission fault from a cached translation whose permissions changed without a flush', () => {
    const f = setup();
    const { r, t } = f;
    t.map(DST_VA, PA_D, 0x1000, { write: false });
    // read DST_VA once (checksum it into SRC_VA), which caches the read-only leaf
    writeJob(r.mem, JOB_PA, { type: JOB.CHECKSUM, src: DST_VA, dst: SRC_VA, length: 4 });
    submit(r, 0, 0, JOB_VA);
    expect(r.r32(js(0, JS.STATUS))).toBe(EXC.DONE);
    t.map(DST_VA, PA_D, 0x1000, { write: true }); // made writable, not flushed
    expect(copyJob(f, SRC_VA, DST_VA, 4)).toBe(EXC.ACTIVE);
    expect(fault(r, 0).type).toBe(EXC.PERMISSION_FAULT_0 + 3);
  });

  it('reports address-size faults: VA above MMU_FEATURES VA bits (in), leaf PA above PA bits (out)', () => {
    // Mali-T720: 33-bit VA
    const t720 = maliRig({ compatible: ['allwinner,sun50i-h6-mali', 'arm,mali-t720'] });
    const f = setup(t720);
    expect(copyJob(f, 2 ** 33, DST_VA, 4)).toBe(EXC.ACTIVE);
    expect(fault(t720, 0)).toMatchObject({ type: EXC.ADDR_SIZE_FAULT_IN0, va: 2 ** 33 });

    const g = setup(rk3399([prop.u32('gki,pa-bits', 32)]));
    g.t.map(SRC_VA, 0x1_0000_0000, 0x1000); // 2^32: above a 32-bit PA
    expect(copyJob(g, SRC_VA, DST_VA, 4)).toBe(EXC.ACTIVE);
    expect(fault(g.r, 0)).toMatchObject({ type: EXC.ADDR_SIZE_FAULT_OUT0 + 3, va: SRC_VA });
  });

  it('reports a TRANSTAB outside RAM as a translation-table bus fault at level 0; a table outside RAM at its level', () => {
    const r = rk3399();
    resetAndPowerUp(r);
    r.w32(as(0, AS.TRANSTAB_LO), 0xf000_0000 | 3); // no RAM there (RAM is 0..1 GiB)
    r.w32(as(0, AS.TRANSTAB_HI), 0);
    while (r.r32(as(0, AS.STATUS)) & AS_ACTIVE);
    r.w32(as(0, AS.COMMAND), AS_CMD.UPDATE);
    submit(r, 0, 0, 0x1000);
    expect(fault(r, 0)).toMatchObject({ type: EXC.TRANSTAB_BUS_FAULT_0, access: ACCESS.READ, va: 0x1000, source: 0 });
    expect(r.r32(js(0, JS.STATUS))).toBe(EXC.ACTIVE);

    const f = setup();
    // point the level-1 entry of SRC_VA's L2 table outside RAM
    const l0 = f.r.mem.read64(f.t.pgd) & 0xffff_ffff_f000n;
    f.r.mem.write64(Number(l0) + 0 * 8, 0xf000_0000n | 3n); // L1 slot 0 (VA 0..1 GiB) -> a table where no RAM is
    expect(copyJob(f, SRC_VA, DST_VA, 4)).toBe(EXC.ACTIVE);
    expect(fault(f.r, 0).type).toBe(EXC.TRANSTAB_BUS_FAULT_0 + 2);
  });

  it('keeps the first fault in the registers until software clears the AS bits', () => {
    const r = rk3399();
    const f0 = setup(r, 0);
    expect(copyJob(f0, 0x3800_0000, DST_VA, 4)).toBe(EXC.ACTIVE);
    expect(fault(r, 0).va).toBe(0x3800_0000);
    // the retry after an unrelated flush faults again at the same VA: one fault pending
    mmuOp(r, 0, 0x6000_0000, 0x1000, AS_CMD.FLUSH_PT);
    expect(r.gpu.faults.at(-1)).toMatchObject({ va: 0x3800_0000, latched: false });
    r.w32(REG.MMU_INT_CLEAR, 0x1_0001);
    expect(r.r32(REG.MMU_INT_RAWSTAT)).toBe(0);
    mmuOp(r, 0, 0x6000_0000, 0x1000, AS_CMD.FLUSH_PT);
    expect(r.gpu.faults.at(-1)).toMatchObject({ va: 0x3800_0000, latched: true, exceptionName: 'TRANSLATION_FAULT_2' });
    expect(r.r32(REG.MMU_INT_RAWSTAT)).toBe(1);
  });

  it('raises the mmu line only for unmasked faults and drops it when they are cleared', () => {
    const f = setup();
    const { r } = f;
    r.w32(REG.MMU_INT_MASK, 0);
    copyJob(f, 0x7000_0000, DST_VA, 4);
    expect(r.board.irq.line(32 + 21).level).toBe(false);
    expect(r.r32(REG.MMU_INT_STAT)).toBe(0);
    r.w32(REG.MMU_INT_MASK, 1);
    expect(r.board.irq.line(32 + 21).level).toBe(true);
    expect(r.r32(REG.MMU_INT_STAT)).toBe(1);
    r.w32(REG.MMU_INT_CLEAR, 1);
    expect(r.board.irq.line(32 + 21).level).toBe(false);
    disableAs(r, 0);
  });
});
