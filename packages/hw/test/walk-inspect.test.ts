import { describe, expect, it } from 'vitest';
import { PhysMem } from '../src/mem.js';
import { dumpTables, formatTableTree, listLeaves, lpaeS1Config, lpaeS2Config, v7sConfig } from '../src/walk/index.js';

const RAM = 0x4000_0000;
const MAIR = 0xfffffffff404ff44n;

function mem(): PhysMem {
  return new PhysMem([{ base: RAM, size: 0x100_0000 }]);
}

describe('LPAE inspection', () => {
  function s1() {
    const m = mem();
    const l1 = RAM, l2 = RAM + 0x1000, l3 = RAM + 0x2000, t1 = RAM + 0x3000, t1l2 = RAM + 0x4000, t1l3 = RAM + 0x5000;
    m.write64(l1 + 0 * 8, BigInt(l2) | 3n | (1n << 63n)); // table with NSTable
    m.write64(l2 + 1 * 8, BigInt(l3) | 3n);
    m.write64(l3 + 2 * 8, 0x0060_0000_8000_2f47n); // RW+CACHE+NOEXEC page (facts: 0xf47, XN bits)
    m.write64(l3 + 3 * 8, 0x2n); // invalid (bit 0 clear) but non-zero
    m.write64(l1 + 3 * 8, 0x0000_0000_c000_0ec1n); // R 1G block (AP[2] set)
    // TTBR1 (39-bit upper range): the very last page.
    m.write64(t1 + 511 * 8, BigInt(t1l2) | 3n);
    m.write64(t1l2 + 511 * 8, BigInt(t1l3) | 3n);
    m.write64(t1l3 + 511 * 8, 0x9000_0e43n);
    const cfg = lpaeS1Config({ ttbr0: l1, ttbr1: t1, t0sz: 25, t1sz: 25, ips: 2, mair: MAIR });
    return { m, cfg };
  }

  it('dumpTables decodes tables, pages, blocks and invalid entries with their fields', () => {
    const { m, cfg } = s1();
    const tree = dumpTables(m, cfg);
    expect(tree.regime).toBe('v8-s1');
    expect(tree.roots.map((r) => [r.name, r.level, r.entries])).toEqual([
      ['TTBR0', 1, 512],
      ['TTBR1', 1, 512],
    ]);
    const [t0] = tree.roots;
    expect(t0!.nodes.map((n) => [n.index, n.type])).toEqual([
      [0, 'table'],
      [3, 'block'],
    ]);
    const table = t0!.nodes[0]!;
    expect(table.fields).toMatchObject({ NSTable: true, APTable: 0, UXNTable: false, next: '0x40001000' });
    const l3 = table.children![0]!.children!;
    expect(l3.map((n) => n.type)).toEqual(['page', 'invalid']);
    const page = l3[0]!;
    expect(page).toMatchObject({ level: 3, index: 2, vaStart: 0x202000n, vaEnd: 0x202fffn, desc: 0x0060_0000_8000_2f47n, hex: '0x0060000080002f47', oa: 0x8000_2000 });
    expect(page.fields).toMatchObject({ AttrIndx: 1, mair: '0xff', AP: 1, SH: 3, AF: true, nG: true, PXN: true, UXN: true, DBM: false, Contiguous: false, NS: false });
    expect(t0!.nodes[1]!.fields).toMatchObject({ AP: 3, AttrIndx: 0, mair: '0x44' });
    const upper = tree.roots[1]!.nodes[0]!.children![0]!.children![0]!;
    expect(upper.vaStart).toBe(0xffff_ffff_ffff_f000n);
  });

  it('formatTableTree prints one indented line per entry', () => {
    const { m, cfg } = s1();
    const lines = formatTableTree(dumpTables(m, cfg));
    expect(lines[0]).toBe('TTBR0 0x40000000 (level 1, 512 entries, v8-s1)');
    expect(lines).toContain('  L1[0] 0x0000000000000000-0x000000003fffffff 0x8000000040001003 table -> 0x40001000 NSTable');
    expect(lines).toContain(
      '      L3[2] 0x0000000000202000-0x0000000000202fff 0x0060000080002f47 page oa=0x80002000 AttrIndx=1 mair=0xff AP=1 SH=3 AF nG PXN UXN',
    );
    expect(lines.some((l) => /L3\[3\] .* invalid reason=bit\[0\] clear/.test(l))).toBe(true);
    expect(lines.length).toBe(1 + 5 + 1 + 3);
  });

  it('listLeaves gives every valid leaf in VA order, TTBR1 addresses sign-extended', () => {
    const { m, cfg } = s1();
    const leaves = listLeaves(m, cfg);
    expect(leaves.map((l) => [l.level, l.va, l.size, l.pa])).toEqual([
      [3, 0x202000, 0x1000, 0x8000_2000],
      [1, 0xc000_0000, 2 ** 30, 0xc000_0000],
      [3, -0x1000, 0x1000, 0x9000_0000],
    ]);
    expect(leaves[2]!.va64).toBe(0xffff_ffff_ffff_f000n);
    expect(leaves[0]!.pte).toBe(0x0060_0000_8000_2f47n);
  });

  it('reports unreadable tables and stops runaway traversals', () => {
    const { m, cfg } = s1();
    m.write64(RAM + 0x1000 + 5 * 8, 0x1000_0000n | 3n); // L2 entry -> table outside RAM
    const tree = dumpTables(m, cfg);
    const bad = tree.roots[0]!.nodes[0]!.children!.find((n) => n.index === 5)!;
    expect(bad.error).toMatch(/external abort/);
    expect(listLeaves(m, cfg).length).toBe(3);
    expect(() => listLeaves(m, cfg, { maxTables: 3 })).toThrow(RangeError);
  });

  it('stage-2 fields', () => {
    const m = mem();
    m.write64(RAM, 0x0060_0000_8000_07fdn); // RW+CACHE+NOEXEC 1G block at PA 0x80000000... (vector config_s2)
    const cfg = lpaeS2Config({ vttbr: RAM, t0sz: 32, sl0: 1, ps: 2 });
    const n = dumpTables(m, cfg).roots[0]!.nodes[0]!;
    expect(n.fields).toMatchObject({ MemAttr: 0xf, attr: '0xff', S2AP: 3, SH: 3, AF: true, XN: 3 });
    expect(n.fields).not.toHaveProperty('nG');
  });
});

describe('v7s inspection', () => {
  it('lists large pages and supersections as 16 slots each, and decodes fields', () => {
    const m = mem();
    const l1 = RAM, l2 = RAM + 0x4000;
    m.write32(l1 + 0 * 4, l2 | 1);
    for (let i = 0; i < 16; i++) m.write32(l2 + (16 + i) * 4, 0x8765_0000 | 0x9c31);
    m.write32(l2 + 0, 0x1234_5000 | 0xc72);
    for (let i = 0; i < 16; i++) m.write32(l1 + (0x100 + i) * 4, (0x5a00_0000 | 0xf1c02) >>> 0);
    m.write32(l1 + 0x200 * 4, 0x2000_0000 | 0x39c02);
    const cfg = v7sConfig({ ttbr0: l1, prrr: 0x800b8204, nmrr: 0x40004000 });
    const leaves = listLeaves(m, cfg);
    expect(leaves.length).toBe(1 + 16 + 16 + 1);
    expect(leaves[0]).toMatchObject({ level: 2, va: 0, size: 0x1000, pa: 0x1234_5000, pte: 0x1234_5c72n, mappingSize: 0x1000 });
    expect(leaves[5]).toMatchObject({ level: 2, va: 0x14000, size: 0x1000, pa: 0x8765_4000, mappingSize: 0x10000 });
    expect(leaves[17 + 3]).toMatchObject({ level: 1, va: 0x1030_0000, size: 0x10_0000, pa: 0x5a30_0000, mappingSize: 0x100_0000 });
    expect(leaves[33]).toMatchObject({ level: 1, va: 0x2000_0000, pa: 0x2000_0000 });

    const tree = dumpTables(m, cfg);
    expect(tree.roots[0]).toMatchObject({ name: 'TTBR0', entries: 4096, level: 1 });
    const t = tree.roots[0]!.nodes[0]!;
    expect(t).toMatchObject({ type: 'table', hex: '0x40004001' });
    expect(t.children![1]).toMatchObject({ type: 'large-page', fields: { TEX: 1, AP: 3, XN: true, S: true, nG: true } });
    expect(t.children![0]).toMatchObject({ type: 'small-page', fields: { TEX: 1, AP: 3, XN: false } });
    expect(tree.roots[0]!.nodes[1]).toMatchObject({ type: 'supersection', fields: { AP: 3, NS: true } });
    const lines = formatTableTree(tree);
    expect(lines).toContain('  L1[512] 0x20000000-0x200fffff 0x20039c02 section oa=0x20000000 Domain=0 AP=7 TEX=1 S nG');
  });
});
