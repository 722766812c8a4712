import { describe, expect, it } from 'vitest';
import { PhysMem } from '../src/mem.js';
import {
  PERM_ALL,
  PERM_PRIV_R,
  PERM_PRIV_W,
  PERM_PRIV_X,
  PERM_USER_R,
  PERM_USER_W,
  PERM_USER_X,
  createWalkResult,
  v7sConfig,
  v7sConfigFromRegisters,
  walk,
} from '../src/walk/index.js';
import type { V7sWalkConfig, WalkAccess, WalkResult } from '../src/walk/index.js';

const RAM = 0x4000_0000;
// Linux io-pgtable-arm-v7s register outputs (facts §3.4).
const PRRR = 0x800b8204;
const NMRR = 0x40004000;
const R: WalkAccess = { write: false, exec: false, priv: true };
const W: WalkAccess = { write: true, exec: false, priv: true };
const X: WalkAccess = { write: false, exec: true, priv: true };
const UR: WalkAccess = { write: false, exec: false, priv: false };
const UW: WalkAccess = { write: true, exec: false, priv: false };

function mem(): PhysMem {
  return new PhysMem([{ base: RAM, size: 0x1000_0000 }]);
}
function run(m: PhysMem, cfg: V7sWalkConfig, va: number, access: WalkAccess = R): WalkResult {
  const out = createWalkResult();
  walk(m, cfg, va, access, out);
  return out;
}

/** A 16K L1 table at RAM and L2 tables from RAM + 0x4000 on, with Linux's descriptor values. */
function setup(opts: Partial<Parameters<typeof v7sConfig>[0]> = {}) {
  const m = mem();
  const l1 = RAM;
  let nextL2 = RAM + 0x4000;
  const l1put = (va: number, d: number): void => m.write32(l1 + Math.floor(va / 2 ** 20) * 4, d >>> 0);
  const l2put = (va: number, d: number): void => {
    const slot = l1 + Math.floor(va / 2 ** 20) * 4;
    let t = m.read32(slot);
    if (t === 0) {
      t = nextL2 | 1;
      nextL2 += 0x400;
      m.write32(slot, t);
    }
    m.write32((t & ~0x3ff) + ((va >>> 12) & 0xff) * 4, d >>> 0);
  };
  const cfg = v7sConfig({ ttbr0: l1, prrr: PRRR, nmrr: NMRR, ...opts });
  return { m, l1, l1put, l2put, cfg };
}

describe('VMSAv7 short-descriptor: entry kinds', () => {
  it('small page (RW, Normal NC via TEX remap index 4)', () => {
    const { m, l2put, cfg } = setup();
    l2put(0x0012_3000, 0x9abc_d000 | 0xc72); // facts: small RW = 0xc72
    const o = run(m, cfg, 0x0012_3456);
    expect(o).toMatchObject({ fault: null, level: 2, size: 0x1000, oa: 0x9abc_d456, attrIndx: 4, memAttr: 0x44, nG: true, af: true, contiguous: false });
    expect(o.perms).toBe(PERM_PRIV_R | PERM_PRIV_W | PERM_PRIV_X | PERM_USER_R | PERM_USER_W | PERM_USER_X);
  });

  it('large page: 16 replicated slots, TEX at [14:12], XN at bit 15', () => {
    const { m, l2put, cfg } = setup();
    for (let i = 0; i < 16; i++) l2put(0x0040_0000 + i * 0x1000, 0x8765_0000 | 0x9c31); // RW+NOEXEC large
    const o = run(m, cfg, 0x0040_abcd);
    expect(o).toMatchObject({ fault: null, level: 2, size: 0x10000, oa: 0x8765_abcd, attrIndx: 4, contiguous: true });
    expect(run(m, cfg, 0x0040_abcd, X).fault).toBe('permission');
    for (let i = 0; i < 16; i++) l2put(0x0050_0000 + i * 0x1000, 0x8765_0000 | 0x1c3d); // RW+CACHE
    expect(run(m, cfg, 0x0050_0004)).toMatchObject({ attrIndx: 7, memAttr: 0xff, sh: 3 });
  });

  it('section and supersection (with the 40-bit extended base)', () => {
    const { m, l1put, cfg } = setup();
    l1put(0x1230_0000, 0xabc0_0000 | 0x30c06); // RW+MMIO section: device
    expect(run(m, cfg, 0x1234_5678)).toMatchObject({ fault: null, level: 1, size: 2 ** 20, oa: 0xabc4_5678, memAttr: 0x04, attrIndx: 1 });
    // Supersection at VA 0x2000_0000: PA[31:24] = 0x5a, PA[35:32] = 0x3 (bits 23:20), PA[39:36] = 0x9 (bits 8:5).
    const ss = (0x5a00_0000 | (0x3 << 20) | (0x9 << 5) | 0x31c02 | 0x40000) >>> 0;
    for (let i = 0; i < 16; i++) l1put(0x2000_0000 + i * 2 ** 20, ss);
    const o = run(m, cfg, 0x20ab_cdef);
    expect(o).toMatchObject({ fault: null, level: 1, size: 2 ** 24, contiguous: true });
    expect(o.oa).toBe(0x93_5a00_0000 + 0xab_cdef);
    const o32 = v7sConfig({ ttbr0: RAM, prrr: PRRR, nmrr: NMRR, oaBits: 32 });
    expect(run(m, o32, 0x20ab_cdef)).toMatchObject({ fault: 'address-size', level: 1 });
  });

  it('NS on sections and from the table descriptor; PXN in section bit 0', () => {
    const { m, l1put, l2put, l1, cfg } = setup();
    l1put(0x0010_0000, 0x801b_9c02); // vector prot_v7s_quirk_ns_section
    expect(run(m, cfg, 0x0010_0000)).toMatchObject({ fault: null, ns: true, oa: 0x8010_0000 });
    l2put(0x0030_0000, 0x7000_0000 | 0xc72);
    m.write32(l1 + 3 * 4, m.read32(l1 + 3 * 4) | 8 | 4); // NS + PXN in the table descriptor
    const o = run(m, cfg, 0x0030_0000);
    expect(o.ns).toBe(true);
    expect(o.perms & PERM_PRIV_X).toBe(0);
    expect(o.perms & PERM_USER_X).toBe(PERM_USER_X);
    l1put(0x0040_0000, 0x6000_0000 | 0x31c02 | 1); // section with PXN
    expect(run(m, cfg, 0x0040_0000, X).fault).toBe('permission');
  });
});

describe('VMSAv7 short-descriptor: permissions and faults', () => {
  it('AFE model: read-only, privileged-only and execute-never', () => {
    const { m, l2put, cfg } = setup();
    l2put(0x1000, 0x1000 | 0xe72); // R
    l2put(0x2000, 0x2000 | 0xc52); // RW+PRIV
    l2put(0x3000, 0x3000 | 0xc73); // RW (XN set: bit 0 in small pages is XN)
    expect(run(m, cfg, 0x1000, W)).toMatchObject({ fault: 'permission', level: 2 });
    expect(run(m, cfg, 0x1000, UR).fault).toBeNull();
    expect(run(m, cfg, 0x2000, UR).fault).toBe('permission');
    expect(run(m, cfg, 0x2000, W).fault).toBeNull();
    expect(run(m, cfg, 0x3000, X).fault).toBe('permission');
    expect(run(m, cfg, 0x1000, X).fault).toBeNull();
  });

  it('access flag fault, or a hardware update', () => {
    const { m, l2put, l1put, cfg, l1 } = setup();
    l2put(0x1000, 0x1000 | (0xc72 & ~0x10)); // AP[0] (AF) clear
    l1put(0x0020_0000, 0x0020_0000 | (0x31c02 & ~0x400));
    expect(run(m, cfg, 0x1000)).toMatchObject({ fault: 'access-flag', level: 2 });
    expect(run(m, cfg, 0x0020_0000)).toMatchObject({ fault: 'access-flag', level: 1 });
    const ha = v7sConfig({ ttbr0: l1, prrr: PRRR, nmrr: NMRR, ha: true });
    expect(run(m, ha, 0x0020_0000)).toMatchObject({ fault: null, updated: true });
    expect(m.read32(l1 + 2 * 4) & 0x400).toBe(0x400);
  });

  it('full AP[2:0] encoding when AFE is off', () => {
    const { m, l2put, l1 } = setup();
    const cfg = v7sConfig({ ttbr0: l1, prrr: PRRR, nmrr: NMRR, afe: false });
    l2put(0x1000, 0x1000 | 0x2 | (2 << 4)); // AP=010: priv RW, user RO
    l2put(0x2000, 0x2000 | 0x2 | (0 << 4)); // AP=000: no access
    l2put(0x3000, 0x3000 | 0x2 | (1 << 4) | (1 << 9)); // AP=101: priv RO
    const o = run(m, cfg, 0x1000);
    expect(o.perms).toBe(PERM_PRIV_R | PERM_PRIV_W | PERM_PRIV_X | PERM_USER_R | PERM_USER_X);
    expect(run(m, cfg, 0x1000, UW).fault).toBe('permission');
    expect(run(m, cfg, 0x2000).fault).toBe('permission');
    expect(run(m, cfg, 0x3000, W).fault).toBe('permission');
    expect(run(m, cfg, 0x3000, UR).fault).toBe('permission');
  });

  it('domains: no-access faults, manager skips permission checks', () => {
    const { m, l1put, l1 } = setup();
    l1put(0x0010_0000, 0x0010_0000 | 0x39c02 | (3 << 5)); // R section in domain 3
    const noAccess = v7sConfig({ ttbr0: l1, prrr: PRRR, nmrr: NMRR, dacr: 0x55555555 & ~(3 << 6) });
    expect(run(m, noAccess, 0x0010_0000)).toMatchObject({ fault: 'domain', level: 1 });
    const manager = v7sConfig({ ttbr0: l1, prrr: PRRR, nmrr: NMRR, dacr: 0x55555555 | (3 << 6) });
    expect(run(m, manager, 0x0010_0000, W)).toMatchObject({ fault: null, perms: PERM_ALL });
  });

  it('translation faults at level 1 and 2; external abort on an L2 table outside RAM', () => {
    const { m, l1put, l2put, cfg } = setup();
    l2put(0x1000, 0x1000 | 0xc72);
    expect(run(m, cfg, 0x0000_2000)).toMatchObject({ fault: 'translation', level: 2 });
    expect(run(m, cfg, 0x0100_0000)).toMatchObject({ fault: 'translation', level: 1 });
    l1put(0x0200_0000, 0x1000_0000 | 1);
    expect(run(m, cfg, 0x0200_0000)).toMatchObject({ fault: 'external', level: 2, descAddr: 0x1000_0000 });
    expect(run(m, cfg, 2 ** 32)).toMatchObject({ fault: 'translation', level: 1 });
  });
});

describe('VMSAv7 short-descriptor: TTBR split, memory types, registers', () => {
  it('TTBCR.N=2 sends VAs at or above 1G to TTBR1; PD0 disables TTBR0 walks', () => {
    const m = mem();
    const t0 = RAM, t1 = RAM + 0x4000;
    m.write32(t0 + 1 * 4, 0x1110_0000 | 0x31c02);
    m.write32(t1 + 0x400 * 4, 0x2220_0000 | 0x31c02); // index of VA 0x4000_0000
    const cfg = v7sConfig({ ttbr0: t0, ttbr1: t1, n: 2, prrr: PRRR, nmrr: NMRR });
    expect(run(m, cfg, 0x0010_0042)).toMatchObject({ fault: null, ttbr: 0, oa: 0x1110_0042 });
    expect(run(m, cfg, 0x4000_0042)).toMatchObject({ fault: null, ttbr: 1, oa: 0x2220_0042 });
    const pd0 = v7sConfigFromRegisters({ ttbr0: t0 | 0x6a, ttbr1: t1, ttbcr: 2 | 0x10, prrr: PRRR, nmrr: NMRR });
    expect(pd0.ttbr0).toBe(t0);
    expect(run(m, pd0, 0x0010_0042)).toMatchObject({ fault: 'translation', level: 1 });
    expect(run(m, pd0, 0x4000_0042).fault).toBeNull();
  });

  it('TEX/C/B without remap', () => {
    const { m, l1put, l1 } = setup();
    const cfg = v7sConfig({ ttbr0: l1, tre: false });
    const sec = (tex: number, c: number, b: number, s = 0): number => 0x2 | (b << 2) | (c << 3) | (3 << 10) | (tex << 12) | (s << 16);
    l1put(0x0010_0000, 0x0010_0000 | sec(1, 1, 1, 1));
    l1put(0x0020_0000, 0x0020_0000 | sec(0, 0, 0));
    l1put(0x0030_0000, 0x0030_0000 | sec(0, 0, 1));
    l1put(0x0040_0000, 0x0040_0000 | sec(0b110, 1, 0)); // outer WT, inner WB-WA... (CB=10: WT)
    expect(run(m, cfg, 0x0010_0000)).toMatchObject({ memAttr: 0xff, sh: 2 });
    expect(run(m, cfg, 0x0020_0000)).toMatchObject({ memAttr: 0x00 });
    expect(run(m, cfg, 0x0030_0000)).toMatchObject({ memAttr: 0x04 });
    expect(run(m, cfg, 0x0040_0000)).toMatchObject({ memAttr: 0xaa, sh: 0 });
  });

  it('MediaTek extension: 34-bit input, PA bits 32/33/34 in descriptor bits 9/4/5, no permission checks', () => {
    const m = mem();
    const l1 = RAM; // 16384 entries = 64K
    const cfg = v7sConfig({ ttbr0: l1, prrr: PRRR, nmrr: NMRR, ias: 34, oaBits: 35, mtkExt: true });
    expect(cfg.noPerms).toBe(true);
    // vector config_v7s_mtk_ext_ias34_oas35: level-1 leaf at 0x3fff00000, pte 0x31232
    m.write32(l1 + 0x3fff * 4, 0x31232);
    expect(run(m, cfg, 0x3_fff0_0123, W)).toMatchObject({ fault: null, level: 1, oa: 0x7_0000_0123 }); // mapped from PA 0x700000000
    // vector prot_v7s_mtk_ext_small: small page at 0x300001000, pte 0x1e72 -> PA 0x7_0000_1000
    m.write32(l1 + 0x3000 * 4, (RAM + 0x10000) | 1);
    m.write32(RAM + 0x10000 + 4, 0x1e72);
    expect(run(m, cfg, 0x3_0000_1abc)).toMatchObject({ fault: null, level: 2, oa: 0x7_0000_1abc });
    expect(v7sConfig({ ttbr0: l1, ias: 34 }).configError).not.toBeNull();
  });
});
