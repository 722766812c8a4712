import { describe, expect, it } from 'vitest';
import { PhysMem } from '../src/mem.js';
import {
  PERM_PRIV_R,
  PERM_PRIV_W,
  PERM_PRIV_X,
  PERM_USER_R,
  PERM_USER_W,
  PERM_USER_X,
  CUR_LEVEL,
  CUR_TABLE,
  createLpaeCursor,
  createWalkResult,
  lpae32S1Config,
  lpae32S2Config,
  lpaeS1Config,
  lpaeS1ConfigFromRegisters,
  lpaeS2Config,
  lpaeS2ConfigFromRegisters,
  maliConfig,
  walk,
  walkLpaeParts,
} from '../src/walk/index.js';
import type { LpaeWalkConfig, WalkAccess, WalkResult } from '../src/walk/index.js';

const RAM = 0x4000_0000;
const MAIR = 0xfffffffff404ff44n; // Linux io-pgtable's MAIR: 0 NC, 1 WB, 2 device, 3 iNC/oWB
const R: WalkAccess = { write: false, exec: false, priv: true };
const W: WalkAccess = { write: true, exec: false, priv: true };
const X: WalkAccess = { write: false, exec: true, priv: true };
const UR: WalkAccess = { write: false, exec: false, priv: false };
const UW: WalkAccess = { write: true, exec: false, priv: false };
const UX: WalkAccess = { write: false, exec: true, priv: false };

// Stage-1 leaf attribute bits.
const AF = 0x400;
const NG = 0x800;
const SH_IS = 0x300;
const AP_USER = 0x40;
const AP_RO = 0x80;
const IDX = (i: number): number => i << 2;
const S1_BASE = AF | SH_IS | AP_USER; // inner shareable, RW at both levels
const S1_RW = S1_BASE | IDX(1); // ... Normal WB
// High-word attribute bits.
const UXN = 1 << 22; // bit 54
const PXN = 1 << 21; // bit 53
const DBM = 1 << 19; // bit 51

function mem(): PhysMem {
  return new PhysMem([{ base: RAM, size: 0x1000_0000 }]);
}

/** Writes a descriptor: PA | low attribute bits, high attribute bits into bits 63:32. */
function put(m: PhysMem, table: number, index: number, pa: number, lo: number, hi = 0): void {
  const d = BigInt(pa) | BigInt(lo >>> 0) | (BigInt(hi >>> 0) << 32n);
  m.write64(table + index * 8, d);
}
const tbl = (m: PhysMem, table: number, index: number, next: number, hi = 0): void => put(m, table, index, next, 3, hi);

function run(m: PhysMem, cfg: LpaeWalkConfig, va: number | bigint, access: WalkAccess = R): WalkResult {
  const out = createWalkResult();
  walk(m, cfg, va, access, out);
  return out;
}

function idx(va: number, shift: number, bits: number): number {
  return Math.floor(va / 2 ** shift) % 2 ** bits;
}

describe('VMSAv8-64 stage 1, 4K granule', () => {
  it('walks from level 1 for a 39-bit input (T0SZ=25) to a level-3 page', () => {
    const m = mem();
    const l1 = RAM, l2 = RAM + 0x1000, l3 = RAM + 0x2000;
    const va = 0x12_3456_7abc;
    tbl(m, l1, idx(va, 30, 9), l2);
    tbl(m, l2, idx(va, 21, 9), l3);
    put(m, l3, idx(va, 12, 9), 0x8_8000_0000, 3 | S1_RW | NG);
    const cfg = lpaeS1Config({ ttbr0: l1, t0sz: 25, tg0: 0, ips: 2, mair: MAIR });
    expect(cfg.ranges[0]).toMatchObject({ startLevel: 1, startBits: 9, granuleShift: 12, concatenated: 1 });
    const o = run(m, cfg, va);
    expect(o.fault).toBeNull();
    expect(o).toMatchObject({ oa: 0x8_8000_0abc, size: 0x1000, level: 3, memAttr: 0xff, attrIndx: 1, sh: 3, nG: true, af: true, ttbr: 0 });
    expect(o.descAddr).toBe(l3 + idx(va, 12, 9) * 8);
    // RW at EL0 implies privileged execute-never (writable at EL0).
    expect(o.perms).toBe(PERM_PRIV_R | PERM_PRIV_W | PERM_USER_R | PERM_USER_W | PERM_USER_X);
  });

  it('starts at level 0 for 48 bits and translates 1G and 2M blocks with the offset', () => {
    const m = mem();
    const l0 = RAM, l1 = RAM + 0x1000, l2 = RAM + 0x2000;
    const vaG = 0x8000_4000_0000 + 0x1234_5678; // L0 index 256, L1 index 1
    tbl(m, l0, 256, l1);
    put(m, l1, 1, 0xc0_0000_0000, 1 | S1_BASE | IDX(2));
    const vaM = 0x8000_8000_0000 + 0x1f_f00f; // L1 index 2 -> table, L2 index 0
    tbl(m, l1, 2, l2);
    put(m, l2, 0, 0x1_0020_0000, 1 | S1_BASE | IDX(0));
    const cfg = lpaeS1Config({ ttbr0: l0, t0sz: 16, ips: 5, mair: MAIR });
    expect(cfg.ranges[0]).toMatchObject({ startLevel: 0, startBits: 9 });
    expect(run(m, cfg, vaG)).toMatchObject({ fault: null, level: 1, size: 2 ** 30, oa: 0xc0_0000_0000 + 0x1234_5678, memAttr: 0x04 });
    expect(run(m, cfg, vaM)).toMatchObject({ fault: null, level: 2, size: 2 ** 21, oa: 0x1_0020_0000 + 0x1f_f00f, memAttr: 0x44 });
  });

  it('rejects block descriptors where the granule has none (level 0, and level 3 type 0b01)', () => {
    const m = mem();
    const l0 = RAM, l1 = RAM + 0x1000, l2 = RAM + 0x2000, l3 = RAM + 0x3000;
    put(m, l0, 1, 0x80_0000_0000, 1 | S1_RW); // 512G block: not in VMSAv8 without LPA2
    tbl(m, l0, 0, l1);
    tbl(m, l1, 0, l2);
    tbl(m, l2, 0, l3);
    put(m, l3, 0, 0x9000_0000, 1 | S1_RW); // level 3 needs type 0b11
    const cfg = lpaeS1Config({ ttbr0: l0, t0sz: 16, ips: 5, mair: MAIR });
    expect(run(m, cfg, 0x80_0000_0000)).toMatchObject({ fault: 'translation', level: 0 });
    expect(run(m, cfg, 0)).toMatchObject({ fault: 'translation', level: 3 });
  });
});

describe('VMSAv8-64 stage 1, 16K and 64K granules', () => {
  it('16K: 47-bit input starts at level 1; 16K pages and 32M blocks', () => {
    const m = mem();
    const l1 = RAM, l2 = RAM + 0x4000, l3 = RAM + 0x8000;
    const cfg = lpaeS1Config({ ttbr0: l1, t0sz: 17, tg0: 2, ips: 5, mair: MAIR });
    // 16K: level shifts 14 (L3), 25 (L2), 36 (L1); 47 − 36 = 11 index bits at level 1.
    expect(cfg.ranges[0]).toMatchObject({ startLevel: 1, startBits: 11, granuleShift: 14 });
    const va = 0x5000_0000_0000 + 0x0_0600_0000 + 0x6000 + 0x123;
    tbl(m, l1, idx(va, 36, 11), l2);
    tbl(m, l2, idx(va, 25, 11), l3);
    put(m, l3, idx(va, 14, 11), 0x2_0000_4000, 3 | S1_RW);
    expect(run(m, cfg, va)).toMatchObject({ fault: null, level: 3, size: 0x4000, oa: 0x2_0000_4000 + (va % 0x4000) });
    const vb = 0x5000_0000_0000 + 0x2_0000_0000 + 0x1ff_ffff;
    tbl(m, l1, idx(vb, 36, 11), l2);
    put(m, l2, idx(vb, 25, 11), 0x3_0200_0000, 1 | S1_RW);
    expect(run(m, cfg, vb)).toMatchObject({ fault: null, level: 2, size: 2 ** 25, oa: 0x3_0200_0000 + 0x1ff_ffff });
    // A 16K level-1 block (64G) is not architected without LPA2.
    put(m, l1, 3, 0x10_0000_0000, 1 | S1_RW);
    expect(run(m, cfg, 3 * 2 ** 36)).toMatchObject({ fault: 'translation', level: 1 });
  });

  it('64K: 42-bit input starts at level 2 with 8192 entries; 512M blocks and 64K pages', () => {
    const m = mem();
    const l2 = RAM, l3 = RAM + 0x10000;
    const cfg = lpaeS1Config({ ttbr0: l2, t0sz: 22, tg0: 1, ips: 5, mair: MAIR });
    expect(cfg.ranges[0]).toMatchObject({ startLevel: 2, startBits: 13 });
    put(m, l2, 8191, 0xa000_0000, 1 | S1_RW);
    const va = 8191 * 2 ** 29 + 0x1234_5678;
    expect(run(m, cfg, va)).toMatchObject({ fault: null, level: 2, size: 2 ** 29, oa: 0xa000_0000 + 0x1234_5678 });
    tbl(m, l2, 0, l3);
    put(m, l3, 3, 0xbeef_0000, 3 | S1_RW);
    expect(run(m, cfg, 0x3_abcd)).toMatchObject({ fault: null, level: 3, size: 0x10000, oa: 0xbeef_abcd });
  });

  it('64K with a 52-bit PA: OA[51:48] from descriptor bits [15:12], and 4T level-1 blocks', () => {
    const m = mem();
    const l1 = RAM, l2 = RAM + 0x10000, l3 = RAM + 0x20000;
    const cfg = lpaeS1Config({ ttbr0: l1, t0sz: 12, tg0: 1, ips: 6, mair: MAIR });
    expect(cfg.oaBits).toBe(52);
    expect(cfg.ranges[0]).toMatchObject({ startLevel: 1, startBits: 10 });
    tbl(m, l1, 0, l2);
    tbl(m, l2, 0, l3);
    // The vector blocks_s1_64k_52bit_pa_packing: pte 0x12345678fe43 maps PA 0xf_1234_5678_0000.
    m.write64(l3, 0x12345678fe43n);
    expect(run(m, cfg, 0x1234)).toMatchObject({ fault: null, level: 3, oa: 0xf_1234_5678_1234 });
    put(m, l1, 5, 2 ** 42 * 3, 1 | S1_RW | (0xe << 12)); // 4T block at PA 0xe_0c00_0000_0000
    expect(run(m, cfg, 5 * 2 ** 42 + 77)).toMatchObject({ fault: null, level: 1, size: 2 ** 42, oa: 0xe * 2 ** 48 + 3 * 2 ** 42 + 77 });
    // With a 48-bit PA the same bits [15:12] are ignored and level-1 blocks do not exist.
    const cfg48 = lpaeS1Config({ ttbr0: l1, t0sz: 12, tg0: 1, ips: 5, mair: MAIR });
    expect(cfg48.configError).not.toBeNull(); // 52-bit VA needs the 52-bit configuration here
    const cfg48b = lpaeS1Config({ ttbr0: l2, t0sz: 22, tg0: 1, ips: 5, mair: MAIR });
    expect(run(m, cfg48b, 0x1234)).toMatchObject({ fault: null, oa: 0x1234_5678_1234 });
  });
});

describe('VMSAv8-64 stage 1, TTBR1 and range selection', () => {
  const m = mem();
  const t0 = RAM, t1 = RAM + 0x1000, t1l1 = RAM + 0x2000, t1l2 = RAM + 0x3000, t1l3 = RAM + 0x4000;
  put(m, t0, 0, 0, 0);
  tbl(m, t1, 511, t1l1);
  tbl(m, t1l1, 511, t1l2);
  tbl(m, t1l2, 511, t1l3);
  put(m, t1l3, 510, 0x7654_3000, 3 | S1_RW);
  const cfg = lpaeS1Config({ ttbr0: t0, ttbr1: t1, t0sz: 16, t1sz: 16, tg0: 0, tg1: 2, ips: 5, mair: MAIR });

  it('translates sign-extended addresses through TTBR1 (number, bigint and u32-halves forms)', () => {
    const va = 0xffff_ffff_ffff_e123n;
    expect(run(m, cfg, va)).toMatchObject({ fault: null, ttbr: 1, level: 3, oa: 0x7654_3123 });
    expect(run(m, cfg, -0x1edd)).toMatchObject({ fault: null, oa: 0x7654_3123 });
    const out = createWalkResult();
    expect(walkLpaeParts(m, cfg, 0xffffffff, 0xffffe123, R, out)).toBe(true);
    expect(out.oa).toBe(0x7654_3123);
  });

  it('faults at level 0 for addresses in neither range, or in a disabled one', () => {
    expect(run(m, cfg, 0x0001_0000_0000_0000)).toMatchObject({ fault: 'translation', level: 0, ttbr: -1 });
    expect(run(m, cfg, 0xfffe_ffff_ffff_f000n)).toMatchObject({ fault: 'translation', level: 0 });
    const noT0 = lpaeS1Config({ ttbr0: t0, ttbr1: t1, t0sz: 16, t1sz: 16, tg1: 2, ips: 5, epd0: true, mair: MAIR });
    expect(run(m, noT0, 0x1000)).toMatchObject({ fault: 'translation', level: 0 });
    expect(run(m, noT0, -0x1edd)).toMatchObject({ fault: null });
  });

  it('decodes TCR/TTBR register values once, at configuration time', () => {
    // T0SZ=16, TG0=4K, T1SZ=16, TG1=4K (2), IPS=5, EPD0 clear; TTBR1 with an ASID in [63:48].
    const tcr = 16n | (16n << 16n) | (2n << 30n) | (5n << 32n);
    const c = lpaeS1ConfigFromRegisters({ ttbr0: BigInt(t0), ttbr1: (0x42n << 48n) | BigInt(t1) | 1n, tcr, mair: MAIR });
    expect(c.ranges[1]).toMatchObject({ base: t1, inputBits: 48, startLevel: 0 });
    expect(run(m, c, -0x1edd)).toMatchObject({ fault: null, oa: 0x7654_3123 });
    expect(c.mairLo).toBe(0xf404ff44);
    expect(c.mairHi).toBe(0xffffffff);
  });
});

describe('stage 1 faults', () => {
  function setup(leafLo: number, leafHi = 0, opts: { ha?: boolean; hd?: boolean; ips?: number } = {}) {
    const m = mem();
    const l1 = RAM, l2 = RAM + 0x1000, l3 = RAM + 0x2000;
    tbl(m, l1, 0, l2);
    tbl(m, l2, 0, l3);
    put(m, l3, 1, 0x9000_0000, leafLo, leafHi);
    const cfg = lpaeS1Config({ ttbr0: l1, t0sz: 25, ips: opts.ips ?? 2, ha: opts.ha, hd: opts.hd, mair: MAIR });
    return { m, cfg, l1, l2, l3 };
  }

  it('translation fault at the level of an invalid entry', () => {
    const { m, cfg } = setup(3 | S1_RW);
    expect(run(m, cfg, 0x2000)).toMatchObject({ fault: 'translation', level: 3 });
    expect(run(m, cfg, 0x20_0000)).toMatchObject({ fault: 'translation', level: 2 });
    expect(run(m, cfg, 0x4000_0000)).toMatchObject({ fault: 'translation', level: 1 });
    expect(run(m, cfg, 2 ** 39)).toMatchObject({ fault: 'translation', level: 0 }); // beyond T0SZ
  });

  it('access flag fault, or a hardware AF update with HA', () => {
    const { m, cfg, l3 } = setup(3 | (S1_RW & ~AF));
    expect(run(m, cfg, 0x1000)).toMatchObject({ fault: 'access-flag', level: 3, af: false });
    expect(m.read64lo(l3 + 8) & AF).toBe(0);
    const ha = lpaeS1Config({ ttbr0: RAM, t0sz: 25, ips: 2, ha: true, mair: MAIR });
    expect(run(m, ha, 0x1000)).toMatchObject({ fault: null, af: false, updated: true, oa: 0x9000_0000 });
    expect(m.read64lo(l3 + 8) & AF).toBe(AF);
    expect(run(m, ha, 0x1000)).toMatchObject({ fault: null, af: true, updated: false });
  });

  it('permission faults: write to read-only, unprivileged access to a privileged page, XN', () => {
    const ro = setup(3 | S1_RW | AP_RO);
    expect(run(ro.m, ro.cfg, 0x1000, W)).toMatchObject({ fault: 'permission', level: 3 });
    expect(run(ro.m, ro.cfg, 0x1000, UR)).toMatchObject({ fault: null });
    expect(run(ro.m, ro.cfg, 0x1000, UW)).toMatchObject({ fault: 'permission' });
    const priv = setup(3 | (S1_RW & ~AP_USER));
    expect(run(priv.m, priv.cfg, 0x1000, UR)).toMatchObject({ fault: 'permission' });
    expect(run(priv.m, priv.cfg, 0x1000, W)).toMatchObject({ fault: null });
    expect(run(priv.m, priv.cfg, 0x1000, X)).toMatchObject({ fault: null });
    // AArch64 execute-only: no EL0 data access, but EL0 may fetch unless UXN.
    expect(run(priv.m, priv.cfg, 0x1000, UX)).toMatchObject({ fault: null });
    const uxn = setup(3 | S1_RW | AP_RO, UXN);
    expect(run(uxn.m, uxn.cfg, 0x1000, UX)).toMatchObject({ fault: 'permission' });
    expect(run(uxn.m, uxn.cfg, 0x1000, X)).toMatchObject({ fault: null });
    const pxn = setup(3 | S1_RW | AP_RO, PXN);
    expect(run(pxn.m, pxn.cfg, 0x1000, X)).toMatchObject({ fault: 'permission' });
    expect(run(pxn.m, pxn.cfg, 0x1000, UX)).toMatchObject({ fault: null });
  });

  it('hierarchical APTable / XNTable / PXNTable / NSTable limit the leaves below', () => {
    const { m, cfg, l1, l2 } = setup(3 | S1_RW);
    tbl(m, l1, 0, l2, (1 << 30) | (1 << 29)); // APTable = 0b11: no write, no EL0
    let o = run(m, cfg, 0x1000);
    expect(o.perms).toBe(PERM_PRIV_R | PERM_PRIV_X | PERM_USER_X); // EL0 execute-only remains
    expect(run(m, cfg, 0x1000, W).fault).toBe('permission');
    tbl(m, l1, 0, l2, (1 << 28) | (1 << 27) | (1 << 31)); // UXNTable, PXNTable, NSTable
    o = run(m, cfg, 0x1000);
    expect(o.perms & (PERM_PRIV_X | PERM_USER_X)).toBe(0);
    expect(o.ns).toBe(true);
  });

  it('hardware dirty state: a write to a DBM read-only leaf makes it writable (HD)', () => {
    const { m, cfg, l3 } = setup(3 | S1_RW | AP_RO, DBM, { ha: true, hd: true });
    expect(cfg.hd).toBe(true);
    expect(run(m, cfg, 0x1000, R)).toMatchObject({ fault: null, updated: false, dbm: true });
    expect(run(m, cfg, 0x1000, W)).toMatchObject({ fault: null, updated: true });
    expect(m.read64lo(l3 + 8) & AP_RO).toBe(0);
    const noHd = lpaeS1Config({ ttbr0: RAM, t0sz: 25, ips: 2, ha: true, mair: MAIR });
    m.write64parts(l3 + 8, m.read64lo(l3 + 8) | AP_RO, DBM);
    expect(run(m, noHd, 0x1000, W)).toMatchObject({ fault: 'permission' });
  });

  it('address-size faults: output beyond IPS, next-level table beyond IPS, TTBR beyond IPS', () => {
    const big = setup(3 | S1_RW, 0x10); // PA bit 36 set, IPS = 36 bits
    const c36 = lpaeS1Config({ ttbr0: RAM, t0sz: 25, ips: 1, mair: MAIR });
    expect(run(big.m, c36, 0x1000)).toMatchObject({ fault: 'address-size', level: 3 });
    expect(run(big.m, big.cfg, 0x1000)).toMatchObject({ fault: null, oa: 0x10_9000_0000 }); // 40 bits: fine
    tbl(big.m, big.l2, 0, 0x100_0000_0000); // next table at 2^40
    expect(run(big.m, big.cfg, 0x1000)).toMatchObject({ fault: 'address-size', level: 2 });
    const farTtbr = lpaeS1Config({ ttbr0: 2 ** 40, t0sz: 25, ips: 2, mair: MAIR });
    expect(run(big.m, farTtbr, 0x1000)).toMatchObject({ fault: 'address-size', level: 0 });
  });

  it('external abort when a table lies outside RAM', () => {
    const { m, cfg, l2 } = setup(3 | S1_RW);
    tbl(m, l2, 0, 0x2000_0000); // below RAM
    const o = run(m, cfg, 0x1000);
    expect(o).toMatchObject({ fault: 'external', level: 3, descAddr: 0x2000_0008 });
    const c = lpaeS1Config({ ttbr0: 0x1000, t0sz: 25, ips: 2, mair: MAIR });
    expect(run(m, c, 0)).toMatchObject({ fault: 'external', level: 1 });
  });

  it('inconsistent or reserved fields make every walk fault rather than throw', () => {
    const c = lpaeS1Config({ ttbr0: RAM, t0sz: 25, tg0: 3, ips: 2, mair: MAIR });
    expect(c.configError).toMatch(/TG/);
    expect(run(mem(), c, 0)).toMatchObject({ fault: 'translation', level: 0 });
    expect(() => lpaeS1Config({ ttbr0: RAM, t0sz: 99, ips: 2, mair: MAIR })).toThrow(RangeError);
  });
});

describe('VMSAv8-64 stage 2', () => {
  const S2_RW = 0x400 | 0x300 | (3 << 6) | (0xf << 2); // AF, IS, S2AP RW, MemAttr WB

  it('4K, 40-bit IPA, SL0=1: two concatenated level-1 tables', () => {
    const m = mem();
    const pgd = RAM, l2 = RAM + 0x2000, l3 = RAM + 0x3000;
    const cfg = lpaeS2Config({ vttbr: pgd, t0sz: 24, sl0: 1, tg0: 0, ps: 2 });
    expect(cfg.ranges[0]).toMatchObject({ startLevel: 1, startBits: 10, concatenated: 2 });
    const ipa = 0xff_ffff_f123; // the top page: index 1023, in the second table
    tbl(m, pgd, 1023, l2);
    tbl(m, l2, 511, l3);
    put(m, l3, 511, 0x55_0000_0000, 3 | S2_RW);
    const o = run(m, cfg, ipa);
    expect(o).toMatchObject({ fault: null, level: 3, oa: 0x55_0000_0123, s2ap: 3, memAttr: 0xff, attrIndx: 0xf });
    expect(o.descAddr).toBe(l3 + 511 * 8);
    expect(run(m, cfg, 2 ** 40)).toMatchObject({ fault: 'translation', level: 0 });
  });

  it('16K, 40-bit IPA, SL0=1: sixteen concatenated level-2 tables', () => {
    const m = mem();
    const pgd = RAM; // 16 × 16K
    const cfg = lpaeS2Config({ vttbr: pgd, t0sz: 24, sl0: 1, tg0: 2, ps: 2 });
    expect(cfg.ranges[0]).toMatchObject({ startLevel: 2, startBits: 15, concatenated: 16 });
    put(m, pgd, 32767, 0x20_0000_0000, 1 | S2_RW);
    expect(run(m, cfg, 0xff_ffff_ffff)).toMatchObject({ fault: null, level: 2, size: 2 ** 25, oa: 0x20_01ff_ffff });
  });

  it('SL0 inconsistent with T0SZ (more than 16 tables) is a translation fault at level 0', () => {
    const c = lpaeS2Config({ vttbr: RAM, t0sz: 24, sl0: 0, tg0: 0, ps: 2 });
    expect(c.configError).toMatch(/concatenated/);
    expect(run(mem(), c, 0)).toMatchObject({ fault: 'translation', level: 0 });
    expect(lpaeS2Config({ vttbr: RAM, t0sz: 24, sl0: 3, tg0: 1, ps: 2 }).configError).not.toBeNull();
  });

  it('S2AP, XN and MemAttr (incl. FWB); decoded from VTCR', () => {
    const m = mem();
    const l1 = RAM, l2 = RAM + 0x1000;
    const cfg = lpaeS2ConfigFromRegisters({ vttbr: (5n << 48n) | BigInt(l1), vtcr: 25n | (1n << 6n) | (2n << 16n) });
    expect(cfg.ranges[0]).toMatchObject({ startLevel: 1, startBits: 9, base: l1 });
    tbl(m, l1, 0, l2);
    put(m, l2, 0, 0x8000_0000, 1 | 0x400 | 0x200 | (1 << 6) | (0x5 << 2)); // read-only, NC
    put(m, l2, 1, 0x8020_0000, 1 | 0x400 | (2 << 6) | (0x1 << 2), UXN); // write-only device, XN
    put(m, l2, 2, 0x8040_0000, 1 | 0x400 | (3 << 6) | (0x6 << 2)); // MemAttr 0b0110
    let o = run(m, cfg, 0x1000);
    expect(o).toMatchObject({ fault: null, s2ap: 1, memAttr: 0x44, sh: 2 });
    expect(run(m, cfg, 0x1000, W).fault).toBe('permission');
    o = run(m, cfg, 0x20_0000, W);
    expect(o).toMatchObject({ fault: null, memAttr: 0x04 });
    expect(run(m, cfg, 0x20_0000, R).fault).toBe('permission');
    expect(run(m, cfg, 0x20_0000, X).fault).toBe('permission');
    expect(run(m, cfg, 0x40_0000).memAttr).toBe(0x4b); // outer NC, inner WT without FWB
    const fwb = lpaeS2Config({ vttbr: l1, t0sz: 25, sl0: 1, ps: 2, fwb: true });
    expect(run(m, fwb, 0x40_0000).memAttr).toBe(0xff);
  });

  it('stage-2 access flag fault', () => {
    const m = mem();
    put(m, RAM, 0, 0, 1 | (3 << 6) | (0xf << 2)); // 1G block, AF clear
    const cfg = lpaeS2Config({ vttbr: RAM, t0sz: 32, sl0: 1, ps: 2 });
    expect(run(m, cfg, 0x1000)).toMatchObject({ fault: 'access-flag', level: 1 });
  });
});

describe('VMSAv7 long-descriptor (32-bit LPAE)', () => {
  it('stage 1: T0SZ=0 starts at level 1 with 4 entries; XN applies at every privilege', () => {
    const m = mem();
    const l1 = RAM, l2 = RAM + 0x1000;
    const cfg = lpae32S1Config({ ttbr0: l1, mair: MAIR });
    expect(cfg.ranges[0]).toMatchObject({ startLevel: 1, startBits: 2 });
    tbl(m, l1, 3, l2);
    put(m, l2, 511, 0xff_ffe0_0000, 1 | S1_RW, UXN);
    const o = run(m, cfg, 0xffff_f000);
    expect(o).toMatchObject({ fault: null, level: 2, oa: 0xff_ffff_f000 });
    expect(o.perms & (PERM_PRIV_X | PERM_USER_X)).toBe(0);
    expect(run(m, cfg, 2 ** 32)).toMatchObject({ fault: 'translation', level: 0 });
    put(m, l2, 510, 0, 1 | S1_RW, 0x100); // PA bit 40: beyond the 40-bit output size
    expect(run(m, cfg, 0xffc0_0000)).toMatchObject({ fault: 'address-size', level: 2 });
  });

  it('stage 1: T0SZ=2 (level-2 start) below 1G, TTBR1 (T1SZ=0) above it', () => {
    const m = mem();
    const t0 = RAM, t1 = RAM + 0x1000, t1l2 = RAM + 0x2000;
    const cfg = lpae32S1Config({ ttbr0: t0, ttbr1: t1, t0sz: 2, mair: MAIR });
    expect(cfg.ranges[0]).toMatchObject({ startLevel: 2, startBits: 9, vaEnd: 2 ** 30 });
    expect(cfg.ranges[1]).toMatchObject({ startLevel: 1, vaStart: 2 ** 30 });
    put(m, t0, 5, 0x7000_0000, 1 | S1_RW);
    tbl(m, t1, 2, t1l2);
    put(m, t1l2, 0, 0x6000_0000, 1 | S1_RW);
    expect(run(m, cfg, 5 * 2 ** 21 + 9)).toMatchObject({ fault: null, ttbr: 0, oa: 0x7000_0009 });
    expect(run(m, cfg, 0x8000_0009)).toMatchObject({ fault: null, ttbr: 1, oa: 0x6000_0009 });
  });

  it('stage 2: signed T0SZ=-8 (40-bit IPA) at level 1 concatenates two tables', () => {
    const m = mem();
    const pgd = RAM;
    const cfg = lpae32S2Config({ vttbr: pgd, t0sz: 8, sl0: 1 }); // raw field 0b1000 = −8
    expect(cfg.ranges[0]).toMatchObject({ inputBits: 40, startLevel: 1, startBits: 10, concatenated: 2 });
    put(m, pgd, 1023, 0xff_c000_0000, 1 | 0x400 | (3 << 6) | (0xf << 2));
    expect(run(m, cfg, 0xff_c000_1234)).toMatchObject({ fault: null, level: 1, oa: 0xff_c000_1234 });
    expect(lpae32S2Config({ vttbr: pgd, t0sz: -8, sl0: 0 }).configError).not.toBeNull();
  });
});

describe('Mali LPAE', () => {
  const MEMATTR = 0x888d88n;
  function setup(leafLo: number, leafHi = 0) {
    const m = mem();
    const l0 = RAM, l1 = RAM + 0x1000, l2 = RAM + 0x2000, l3 = RAM + 0x3000;
    tbl(m, l0, 0, l1);
    tbl(m, l1, 0, l2);
    tbl(m, l2, 0, l3);
    put(m, l3, 1, 0x8000_1000, leafLo, leafHi);
    const cfg = maliConfig({ transtab: BigInt(l0) | 0x17n, memattr: MEMATTR, vaBits: 33, paBits: 40 });
    return { m, cfg, l3 };
  }

  it('always walks 4 levels from level 0; level-3 pages are type 0b01; no access flag', () => {
    const { m, cfg } = setup(1 | 0xc0 | 0x200 | IDX(1)); // RW, outer shareable, no AF
    expect(cfg.ranges[0]).toMatchObject({ startLevel: 0, startBits: 9 });
    const o = run(m, cfg, 0x1abc, W);
    expect(o).toMatchObject({ fault: null, level: 3, oa: 0x8000_1abc, memAttr: 0x8d, sh: 2, s2ap: -1 });
    expect(o.perms).toBe(PERM_PRIV_R | PERM_PRIV_W | PERM_PRIV_X | PERM_USER_R | PERM_USER_W | PERM_USER_X);
  });

  it('type 0b11 at level 3 is invalid; read/write bits and XN are enforced', () => {
    expect(run(setup(3 | 0xc0).m, setup(3 | 0xc0).cfg, 0x1000)).toMatchObject({ fault: 'translation', level: 3 });
    const ro = setup(1 | 0x40, UXN | PXN);
    expect(run(ro.m, ro.cfg, 0x1000)).toMatchObject({ fault: null });
    expect(run(ro.m, ro.cfg, 0x1000, W)).toMatchObject({ fault: 'permission', level: 3 });
    expect(run(ro.m, ro.cfg, 0x1000, X)).toMatchObject({ fault: 'permission', level: 3 });
  });

  it('address-size fault above the GPU VA bits; ADRMODE unmapped and identity', () => {
    const { m, cfg } = setup(1 | 0xc0);
    expect(run(m, cfg, 2 ** 33)).toMatchObject({ fault: 'address-size', level: 0 });
    const unmapped = maliConfig({ transtab: BigInt(RAM) | 1n, memattr: MEMATTR });
    expect(run(m, unmapped, 0x1000)).toMatchObject({ fault: 'translation', level: 0 });
    const ident = maliConfig({ transtab: 2n, memattr: MEMATTR });
    expect(run(m, ident, 0x1234_5678)).toMatchObject({ fault: null, oa: 0x1234_5678 });
  });
});

describe('repeated walks', () => {
  it('reuses one result record across many walks and translates each correctly', () => {
    const m = mem();
    const l1 = RAM, l2 = RAM + 0x1000, l3 = RAM + 0x2000;
    tbl(m, l1, 0, l2);
    tbl(m, l2, 0, l3);
    for (let i = 0; i < 512; i++) put(m, l3, i, 0x9000_0000 + i * 0x1000, 3 | S1_RW);
    const cfg = lpaeS1Config({ ttbr0: l1, t0sz: 25, ips: 2, mair: MAIR });
    const out = createWalkResult();
    let sum = 0;
    for (let i = 0; i < 20000; i++) if (walk(m, cfg, (i % 512) * 0x1000 + 8, R, out)) sum += out.oa - 0x9000_0000;
    expect(sum).toBe(Array.from({ length: 20000 }, (_, i) => (i % 512) * 0x1000 + 8).reduce((a, b) => a + b, 0));
  });
});

describe('table addresses at and above 2^32 and 2^48 (walker address arithmetic on halves)', () => {
  it('a 64K/52-bit table descriptor takes OA[51:48] from bits [15:12]: the next table is read above 2^48', () => {
    const HI = 0xf * 2 ** 48 + RAM; // the level-2 and level-3 tables live here
    const m = new PhysMem([
      { base: RAM, size: 0x10_0000 },
      { base: HI, size: 0x10_0000 },
    ]);
    const l1 = RAM, l2 = HI, l3 = HI + 0x10000;
    const cfg = lpaeS1Config({ ttbr0: l1, t0sz: 12, tg0: 1, ips: 6, mair: MAIR });
    // Level-1 table descriptor: address bits [47:16] in place, [51:48] = 0xf in bits [15:12].
    put(m, l1, 0, RAM, 3 | (0xf << 12));
    put(m, l2, 0, RAM + 0x10000, 3 | (0xf << 12));
    put(m, l3, 2, 0x5_0000, 3 | S1_RW);
    // The same offsets at the 48-bit aliases hold a different leaf: reading there is detectable.
    put(m, RAM + 0x10000, 2, 0x7_0000, 3 | S1_RW);
    const r = run(m, cfg, 2 * 0x10000 + 0x1234);
    expect(r).toMatchObject({ fault: null, level: 3, oa: 0x5_1234, descAddr: l3 + 2 * 8 });
  });

  it('a table straddling 4 GiB: descriptor addresses carry into the high half (fresh and resumed walks)', () => {
    // AArch32 long descriptor, T0SZ 0: a 4-entry level-1 table; the model uses TTBR0 as given,
    // so a table at 0xffff_fff0 has entries 2 and 3 above 2^32.
    const m = new PhysMem([{ base: 0xffff_0000, size: 0x2_0000 }]);
    const l1 = 0xffff_fff0, l2 = 0x1_0000_1000, l3 = 0x1_0000_2000;
    const cfg = lpae32S1Config({ ttbr0: l1, mair: MAIR });
    tbl(m, l1, 3, l2);
    tbl(m, l2, 0, l3);
    put(m, l3, 1, 0xffff_4000, 3 | S1_RW);
    put(m, l3, 2, 0xffff_5000, 3 | S1_RW);
    const va = 0xc000_0000;
    const out = createWalkResult();
    const cur = createLpaeCursor();
    expect(walkLpaeParts(m, cfg, 0, va + 0x1000 + 8, R, out, undefined, cur)).toBe(true);
    expect(out).toMatchObject({ fault: null, level: 3, oa: 0xffff_4008, descAddr: l3 + 8 });
    expect(cur[CUR_TABLE]).toBe(l3);
    expect(cur[CUR_LEVEL]).toBe(3);
    // Resumed at that table (as the walk cache does): the next page in it.
    expect(walkLpaeParts(m, cfg, 0, va + 0x2000 + 8, R, out, undefined, cur)).toBe(true);
    expect(out).toMatchObject({ fault: null, level: 3, oa: 0xffff_5008, descAddr: l3 + 16 });
    // The level-1 descriptor itself was read above 2^32.
    expect(walkLpaeParts(m, cfg, 0, va + 0x1000, R, out)).toBe(true);
    expect(out.oa).toBe(0xffff_4000);
    put(m, l1, 3, 0, 0);
    expect(walkLpaeParts(m, cfg, 0, va + 0x1000, R, out)).toBe(false);
    expect(out).toMatchObject({ fault: 'translation', level: 1, descAddr: l1 + 24 });
  });
});
