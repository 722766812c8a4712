/**
 * The Mali MMU's halves entry (`translateParts`, the VA as two 32-bit halves) gives exactly
 * what `translate` gives: the same PA or code, the same stats, the same fault records and
 * AS_FAULTADDRESS, for VAs whose low half is below and above 2^31, given as u32 or int32 bit
 * patterns, hits and misses (with and without the walk cache), permission, translation and
 * address-size faults, locked regions. Jobs, which now pass their VAs to the MMU as halves,
 * move data across a VA whose low half crosses 2^31 and report the exact faulting VA there.
 */
import { describe, expect, it } from 'vitest';
import { MALI_FAULT_ACCESS_ATOMIC, MALI_FAULT_ACCESS_READ, MALI_FAULT_ACCESS_WRITE, MALI_TR_OK, prop } from '@gki/hw';
import { as, AS, AS_CMD, EXC, enableAs, JOB, js, JS, lockRegion, MaliTables, REG, resetAndPowerUp, rk3399, submit, writeJob, type MaliRig } from './mali-helpers.js';

const TABLES = 0x0100_0000;
const POOL = 0x80_0000;
const DATA = 0x0800_0000;
const JOB_VA = 0x1000_0000;
const JOB_PA = 0x0300_0000;
/** 16 pages on each side of a VA whose low half is 2^31. */
const EDGE = 0x8_8000_0000;
const RO = 0x9_0000_0000; // one read-only page
const BLK = 0xa_8000_0000; // a 2 MiB block whose low half is at and above 2^31

function rig(walkCache: boolean): MaliRig {
  const r = rk3399(walkCache ? [] : [prop.empty('gki,no-walk-cache')]);
  resetAndPowerUp(r);
  const t = new MaliTables(r.mem, TABLES, POOL);
  t.map(JOB_VA, JOB_PA, 0x1000);
  t.map(EDGE - 16 * 0x1000, DATA, 32 * 0x1000);
  t.map(RO, DATA + 0x10_0000, 0x1000, { write: false });
  t.map(BLK, DATA + 0x20_0000, 0x20_0000, {}, true);
  enableAs(r, 0, t.transtab());
  return r;
}

/** VAs covering every path: mapped, unmapped, read-only, beyond the 48-bit range. */
const VAS = [
  EDGE - 16 * 0x1000,
  EDGE - 8,
  EDGE,
  EDGE + 0x1234,
  EDGE + 15 * 0x1000 + 0xffc,
  EDGE + 16 * 0x1000, // unmapped (level-3 translation fault)
  0x7_0000_0000, // unmapped higher up
  RO + 0x10,
  BLK,
  BLK + 0x1f_fff0,
  BLK + 0x10_0010,
  2 ** 48, // beyond the VA range
  2 ** 48 + 0x8000_0000,
  0xffff_8000_0000 + 0x10,
];
const ACCESSES = [MALI_FAULT_ACCESS_READ, MALI_FAULT_ACCESS_WRITE, MALI_FAULT_ACCESS_ATOMIC];

type Outcome = { code: number; pa: number };

function runAll(r: MaliRig, useParts: boolean, signed: boolean, record: boolean): Outcome[] {
  const mmu = r.gpu.mmu;
  const res: Outcome[] = [];
  // twice: the first pass misses (walks), the second hits the TLB
  for (let pass = 0; pass < 2; pass++) {
    for (const va of VAS) {
      for (const acc of ACCESSES) {
        const out = { pa: -1 };
        let code: number;
        if (useParts) {
          const hi = Math.floor(va / 2 ** 32);
          const lo = va % 2 ** 32;
          code = mmu.translateParts(0, signed ? hi | 0 : hi, signed ? lo | 0 : lo, acc, 7, out, record);
        } else {
          code = mmu.translate(0, va, acc, 7, out, record);
        }
        res.push({ code, pa: code === MALI_TR_OK ? out.pa : -1 });
        // clear the fault so that the next one latches into the registers too
        if (record) r.w32(REG.MMU_INT_CLEAR, 0xffff_ffff);
      }
    }
  }
  return res;
}

function snapshot(r: MaliRig) {
  const mmu = r.gpu.mmu;
  return {
    stats: structuredClone(mmu.stats),
    faults: mmu.faultLog.map((f) => ({ ...f })),
    faultStatus: r.r32(as(0, AS.FAULTSTATUS)),
    faultAddress: [r.r32(as(0, AS.FAULTADDRESS_LO)), r.r32(as(0, AS.FAULTADDRESS_HI))],
    tlbSize: mmu.tlbSize(0),
  };
}

describe('Mali MMU translateParts', () => {
  for (const walkCache of [true, false]) {
    for (const record of [true, false]) {
      it(`matches translate exactly (walk cache ${walkCache ? 'on' : 'off'}, record ${record})`, () => {
        const ref = rig(walkCache);
        const want = runAll(ref, false, false, record);
        const wantState = snapshot(ref);
        for (const signed of [false, true]) {
          const r = rig(walkCache);
          expect(runAll(r, true, signed, record)).toEqual(want);
          expect(snapshot(r)).toEqual(wantState);
        }
        // The outcomes are the facts the tables say (not just equal to each other).
        const at = (va: number, acc = MALI_FAULT_ACCESS_READ) => want[VAS.indexOf(va) * ACCESSES.length + ACCESSES.indexOf(acc)]!;
        expect(at(EDGE - 8)).toEqual({ code: MALI_TR_OK, pa: DATA + 16 * 0x1000 - 8 });
        expect(at(EDGE + 0x1234, MALI_FAULT_ACCESS_WRITE)).toEqual({ code: MALI_TR_OK, pa: DATA + 16 * 0x1000 + 0x1234 });
        expect(at(BLK + 0x10_0010)).toEqual({ code: MALI_TR_OK, pa: DATA + 0x20_0000 + 0x10_0010 });
        expect(at(RO + 0x10).pa).toBe(DATA + 0x10_0000 + 0x10);
        expect(at(RO + 0x10, MALI_FAULT_ACCESS_WRITE).code).toBe(record ? -1 : EXC.PERMISSION_FAULT_0 + 3);
        expect(at(EDGE + 16 * 0x1000).code).toBe(record ? -1 : EXC.TRANSLATION_FAULT_0 + 3);
        expect(at(2 ** 48).code).toBe(record ? -1 : EXC.ADDR_SIZE_FAULT_IN0);
        if (record) {
          // the last fault recorded is the last VA's (beyond the range), at its exact address
          const last = ref.gpu.mmu.faultLog.at(-1)!;
          expect(last.va).toBe(0xffff_8000_0010);
          expect(wantState.faultAddress).toEqual([0x8000_0010, 0xffff]);
          expect(ref.gpu.mmu.faultLog.some((f) => f.va === EDGE + 16 * 0x1000 && f.exceptionType === EXC.TRANSLATION_FAULT_0 + 3)).toBe(true);
        } else {
          expect(ref.gpu.mmu.faultLog).toHaveLength(0);
        }
      });
    }
  }

  it('stalls inside a locked region given as halves, and not outside it', () => {
    const r = rig(true);
    const mmu = r.gpu.mmu;
    r.w32(as(0, AS.LOCKADDR_LO), Number(lockRegion(EDGE, 0x1000) & 0xffff_ffffn));
    r.w32(as(0, AS.LOCKADDR_HI), Number(lockRegion(EDGE, 0x1000) >> 32n));
    r.w32(as(0, AS.COMMAND), AS_CMD.LOCK);
    r.gpu.settle();
    expect(mmu.lockedRegion(0)).toEqual({ start: EDGE, end: EDGE + 0x8000 }); // 32 KiB minimum
    const out = { pa: 0 };
    expect(mmu.translateParts(0, 8, 0x8000_0010 | 0, MALI_FAULT_ACCESS_READ, 0, out)).toBe(-1);
    expect(mmu.stallCode).toBe(0);
    expect(mmu.translateParts(0, 8, 0x8000_7ff0 | 0, MALI_FAULT_ACCESS_READ, 0, out)).toBe(-1);
    expect(mmu.translateParts(0, 8, 0x8000_9010 | 0, MALI_FAULT_ACCESS_READ, 0, out)).toBe(MALI_TR_OK);
    expect(out.pa).toBe(DATA + 25 * 0x1000 + 0x10);
    expect(mmu.translateParts(0, 8, 0x7fff_fff0, MALI_FAULT_ACCESS_READ, 0, out)).toBe(MALI_TR_OK);
    expect(out.pa).toBe(DATA + 16 * 0x1000 - 0x10);
  });
});

describe('Mali jobs with VAs whose low half crosses 2^31', () => {
  it('copies across the 2^31 low-half boundary', () => {
    const r = rig(true);
    const src = EDGE - 3 * 0x1000 + 0x10;
    const dst = EDGE + 4 * 0x1000 + 0x24;
    for (let i = 0; i < 6 * 0x1000; i += 4) r.mem.write32(DATA + 13 * 0x1000 + 0x10 + i, (i * 2654435761) >>> 0);
    writeJob(r.mem, JOB_PA, { type: JOB.COPY, src, dst, length: 0x2000 });
    submit(r, 0, 0, JOB_VA);
    expect(r.r32(js(0, JS.STATUS))).toBe(EXC.DONE);
    for (let i = 0; i < 0x2000; i += 4) {
      if (r.mem.read32(DATA + 20 * 0x1000 + 0x24 + i) !== (i * 2654435761) >>> 0) throw new Error(`word ${i} not copied`);
    }
    expect(r.gpu.jobs.stats.bytesWritten).toBeGreaterThanOrEqual(0x2000);
  });

  it('reports the exact faulting VA above 2^31 in the low half', () => {
    const r = rig(true);
    const dst = EDGE + 15 * 0x1000 + 0x800; // runs into the unmapped page EDGE + 16 pages
    writeJob(r.mem, JOB_PA, { type: JOB.FILL, dst, length: 0x1000, value: 0xabababab });
    submit(r, 0, 0, JOB_VA);
    expect(r.r32(js(0, JS.STATUS))).toBe(EXC.ACTIVE); // stalled on the fault
    expect(r.r32(as(0, AS.FAULTSTATUS)) & 0xff).toBe(EXC.TRANSLATION_FAULT_0 + 3);
    expect(r.r32(as(0, AS.FAULTADDRESS_LO))).toBe(0x8001_0000);
    expect(r.r32(as(0, AS.FAULTADDRESS_HI))).toBe(8);
    expect(r.gpu.mmu.faultLog.at(-1)!.va).toBe(EDGE + 16 * 0x1000);
    // the half that was mapped was filled
    expect(r.mem.read32(DATA + 31 * 0x1000 + 0x800)).toBe(0xabababab);
  });
});
