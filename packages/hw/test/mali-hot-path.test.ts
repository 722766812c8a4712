/**
 * `MaliMmu.translateParts` serves a TLB hit of a remembered address space (idle, unlocked,
 * translating through tables) in a small inlinable part and does everything else out of line
 * (`translateSlow`). Two identical rigs run the same random sequence of translations and
 * commands; before each translation rig `b` forgets every remembered AS, so that its every
 * translation goes out of line (the AS state checked, then the general probe), while rig `a`
 * takes the hot part whenever it can. Both must give the same answers (and, for pages whose
 * permissions are known, the answer the descriptor's bits say), the same statistics, the same
 * TLB and walk-cache counters, the same fault registers, RAWSTAT and fault log, through hits,
 * permission failures on hits (read-only, execute-never, atomics), one-step fills, walks,
 * translation and address-size faults, two address spaces in turn, an AS holding 4 KiB pages
 * beside a 2 MiB block, an unmapped AS, LOCK + FLUSH_PT of a page, regions left locked,
 * commands still running, UPDATE, and pages rewritten behind the TLB's back.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MALI_TR_OK, MALI_TR_STALL } from '@gki/hw';
import { ACCESS, as, AS, AS_CMD, disableAs, enableAs, lockRegion, MaliTables, mmuOp, REG, resetAndPowerUp, rk3399, writeCmd, type MaliRig } from './mali-helpers.js';

const TABLES0 = 0x0100_0000;
const TABLES1 = 0x0140_0000;
const DATA = 0x0800_0000;
const VA = 0x8_8000_0000; // low half at 2^31: halves above and below it
const BLK = 0xa_0000_0000; // a 2 MiB block in AS 0
const PAGES = 16;

/** Page permissions by page: RW, read-only, RW execute-never, write-only (no read: atomics fail). */
function prot(i: number): { write?: boolean; exec?: boolean; read?: boolean } {
  const k = i % 4;
  return k === 0 ? {} : k === 1 ? { write: false } : k === 2 ? { exec: false } : { read: false };
}

function allowed(i: number, access: number): boolean {
  const k = i % 4;
  if (access === ACCESS.READ) return k !== 3;
  if (access === ACCESS.WRITE) return k !== 1;
  if (access === ACCESS.EXECUTE) return k === 0 || k === 1; // read and no XN
  return k === 0 || k === 2; // atomic: read and write
}

interface Twin {
  r: MaliRig;
  t: MaliTables[];
}

function build(): Twin {
  const r = rk3399();
  resetAndPowerUp(r);
  const t0 = new MaliTables(r.mem, TABLES0);
  const t1 = new MaliTables(r.mem, TABLES1);
  for (let i = 0; i < PAGES; i++) {
    t0.map(VA + i * 4096, DATA + i * 4096, 4096, prot(i));
    t1.map(VA + i * 4096, DATA + 0x10_0000 + i * 4096, 4096, prot(i + 1));
  }
  t0.map(BLK, DATA + 0x20_0000, 2 ** 21, {}, true);
  enableAs(r, 0, t0.transtab());
  enableAs(r, 1, t1.transtab());
  return { r, t: [t0, t1] };
}

type Op =
  | { op: 'tr'; asn: number; page: number; where: number; off: number; accesses: number[]; record: boolean }
  | { op: 'flush' | 'lock' | 'unlock' | 'busy' | 'update' | 'rewrite' | 'disable'; asn: number; page: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 30,
    arbitrary: fc.record({
      op: fc.constant('tr' as const),
      asn: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constant(1) }),
      page: fc.nat(PAGES + 1), // two unmapped pages: translation faults
      // 0: the pages, 1: the 2 MiB block (AS 0), 2: beyond the 48-bit VA range
      where: fc.oneof({ weight: 12, arbitrary: fc.constant(0) }, { weight: 3, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: fc.constant(2) }),
      off: fc.nat(4095),
      // The same VA one to four times in a row (a fill, then hits), any access types.
      accesses: fc.array(fc.constantFrom(ACCESS.READ, ACCESS.WRITE, ACCESS.EXECUTE, ACCESS.ATOMIC), { minLength: 1, maxLength: 4 }),
      record: fc.oneof({ weight: 8, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constantFrom('flush' as const, 'lock' as const, 'unlock' as const, 'busy' as const, 'update' as const, 'rewrite' as const, 'disable' as const),
      asn: fc.nat(1),
      page: fc.nat(PAGES - 1),
    }),
  },
);

function faultRegs(r: MaliRig): number[] {
  return [0, 1].flatMap((n) => [r.r32(as(n, AS.FAULTSTATUS)), r.r32(as(n, AS.FAULTADDRESS_LO)), r.r32(as(n, AS.FAULTADDRESS_HI))]).concat(r.gpu.mmu.rawstat);
}

/** Forgets every remembered AS: the next translation goes out of line. */
function forget(r: MaliRig): void {
  (r.gpu.mmu['fastCtx'] as Int32Array).fill(-1);
}

describe('Mali MMU hot translation path against the out-of-line path', () => {
  it('gives the same answers, statistics, TLB and walk-cache counters and fault registers', () => {
    let hot = 0;
    let checked = 0;
    let stalls = 0;
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 40, maxLength: 200 }), (ops) => {
        const a = build();
        const b = build();
        const both = [a, b];
        // Per AS: the pages rewritten (answers no longer follow `prot`), whether the AS is
        // in its built state (enabled, nothing locked or running).
        const rewritten = [new Set<number>(), new Set<number>()];
        const plain = [true, true];
        for (const o of ops) {
          if (o.op === 'tr') {
            const base = o.where === 1 && o.asn === 0 ? BLK : o.where === 2 ? 2 ** 48 : VA;
            const va = base + o.page * 4096 + o.off;
            for (const access of o.accesses) {
              const hitsBefore = a.r.gpu.mmu.stats.tlbHits;
              const outA = { pa: -1 };
              const codeA = a.r.gpu.mmu.translate(o.asn, va, access, 5, outA, o.record);
              forget(b.r);
              const outB = { pa: -1 };
              const codeB = b.r.gpu.mmu.translate(o.asn, va, access, 5, outB, o.record);
              expect([codeB, codeB === MALI_TR_OK ? outB.pa : -1]).toEqual([codeA, codeA === MALI_TR_OK ? outA.pa : -1]);
              if (codeA === MALI_TR_STALL) stalls++;
              if (a.r.gpu.mmu.stats.tlbHits > hitsBefore && codeA === MALI_TR_OK) hot++;
              // Against the descriptors as built: pages of known permissions in an AS as built.
              if (plain[o.asn] && o.where === 0 && o.page < PAGES && !rewritten[o.asn]!.has(o.page)) {
                const want = allowed(o.page + o.asn, access);
                expect(codeA === MALI_TR_OK).toBe(want);
                if (want) expect(outA.pa).toBe(DATA + o.asn * 0x10_0000 + o.page * 4096 + o.off);
                checked++;
              }
              if (o.record) for (const t of both) t.r.w32(REG.MMU_INT_CLEAR, 0xffff_ffff);
            }
          } else if (o.op === 'flush') {
            for (const t of both) mmuOp(t.r, o.asn, VA + o.page * 4096, 4096, AS_CMD.FLUSH_PT);
          } else if (o.op === 'lock') {
            // A region left locked: accesses in it stall, others go on.
            const region = lockRegion(VA + o.page * 4096, 4096);
            for (const t of both) {
              t.r.w32(as(o.asn, AS.LOCKADDR_LO), Number(region & 0xffffffffn));
              t.r.w32(as(o.asn, AS.LOCKADDR_HI), Number(region >> 32n));
              writeCmd(t.r, o.asn, AS_CMD.LOCK);
              t.r.gpu.mmu.settle();
            }
            plain[o.asn] = false;
          } else if (o.op === 'unlock') {
            for (const t of both) mmuOp(t.r, o.asn, 0, 0, AS_CMD.UNLOCK);
          } else if (o.op === 'busy') {
            // A command still running (AS_ACTIVE): every access of the AS stalls meanwhile.
            for (const t of both) writeCmd(t.r, o.asn, AS_CMD.NOP);
            plain[o.asn] = false;
          } else if (o.op === 'update') {
            for (const t of both) enableAs(t.r, o.asn, t.t[o.asn]!.transtab());
            plain[o.asn] = true;
          } else if (o.op === 'disable') {
            for (const t of both) {
              disableAs(t.r, o.asn);
              t.r.gpu.mmu.settle();
            }
            plain[o.asn] = false;
          } else {
            // A page rewritten read-only and no longer executable behind the TLB's back (no
            // flush): a stale entry stays usable until a flush drops it.
            for (const t of both) t.t[o.asn]!.map(VA + o.page * 4096, DATA + o.page * 4096, 4096, { write: false, exec: false });
            rewritten[o.asn]!.add(o.page);
          }
          const ma = a.r.gpu.mmu;
          const mb = b.r.gpu.mmu;
          expect(mb.stats).toEqual(ma.stats);
          expect(mb.tlb.counters()).toEqual(ma.tlb.counters());
          expect(mb.walkCacheCounters()).toEqual(ma.walkCacheCounters());
          expect(faultRegs(b.r)).toEqual(faultRegs(a.r));
          expect(mb.faultLog.map((f) => [f.as, f.va, f.status, f.latched])).toEqual(ma.faultLog.map((f) => [f.as, f.va, f.status, f.latched]));
          expect(mb.stallCode).toBe(ma.stallCode);
          expect([mb.tlbSize(0), mb.tlbSize(1)]).toEqual([ma.tlbSize(0), ma.tlbSize(1)]);
        }
      }),
      { numRuns: 60, seed: 0x6a11 },
    );
    // The sequences went through both parts and checked answers against the descriptors.
    expect(hot).toBeGreaterThan(500);
    expect(checked).toBeGreaterThan(500);
    expect(stalls).toBeGreaterThan(20);
  });

  it('serves a hit of a remembered AS in the hot part, and leaves a busy or locked AS to the slow part', () => {
    const { r } = build();
    const mmu = r.gpu.mmu;
    const fast = mmu['fastCtx'] as Int32Array;
    const out = { pa: -1 };
    expect(fast[0]).toBe(-1); // UPDATE forgot it
    expect(mmu.translate(0, VA + 8, ACCESS.READ, 0, out)).toBe(MALI_TR_OK); // out of line: remembered
    expect(fast[0]).toBeGreaterThanOrEqual(0);
    writeCmd(r, 0, AS_CMD.NOP); // running: forgotten, accesses stall
    expect(fast[0]).toBe(-1);
    expect(mmu.translate(0, VA + 8, ACCESS.READ, 0, out)).toBe(MALI_TR_STALL);
    expect(fast[0]).toBe(-1);
    mmu.settle();
    const region = lockRegion(VA + 0x8000, 4096);
    r.w32(as(0, AS.LOCKADDR_LO), Number(region & 0xffffffffn));
    r.w32(as(0, AS.LOCKADDR_HI), Number(region >> 32n));
    writeCmd(r, 0, AS_CMD.LOCK);
    mmu.settle();
    expect(mmu.translate(0, VA + 8, ACCESS.READ, 0, out)).toBe(MALI_TR_OK); // outside the region
    expect(fast[0]).toBe(-1); // a locked AS is not remembered
    expect(mmu.translate(0, VA + 0x8008, ACCESS.READ, 0, out)).toBe(MALI_TR_STALL);
  });
});
