/**
 * Cross-check of the hardware walkers against the io-pgtable golden vectors: for every case
 * with a table, rebuild the tables from the recorded leaves (table descriptors placed with the
 * kernel's own geometry, computed here from the facts sheet's formulas), derive the walker
 * config from the recorded register outputs, then check that
 *  - listLeaves() finds exactly the recorded leaves (level, iova, size, pte),
 *  - a walk of each leaf's first address translates to the PA the descriptor encodes.
 * A wrong start level, concatenation, granule or TTBR choice in the regs helper, or a wrong
 * descriptor decode in the walker, shows up as a mismatch.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { PhysMem } from '../src/mem.js';
import { createWalkResult, listLeaves, walk, walkConfigFromIoPgtableRegs } from '../src/walk/index.js';
import type { LpaeWalkConfig, WalkAccess } from '../src/walk/index.js';

const VECTORS = process.env.GKI_VECTORS_DIR ?? fileURLToPath(new URL('../../../vectors/', import.meta.url));

interface Leaf {
  level: number;
  iova: string;
  size: string;
  pte: string;
}
interface Case {
  name: string;
  format: string;
  cfg: { ias: number; oas: number; pgsize_bitmap: string; quirks: string[]; coherent_walk: boolean };
  regs: Record<string, string> | null;
  leaves: Leaf[];
}

function loadCases(): Case[] {
  const out: Case[] = [];
  for (const f of readdirSync(VECTORS).filter((n) => n.endsWith('.jsonl')).sort())
    for (const line of readFileSync(join(VECTORS, f), 'utf8').split('\n'))
      if (line.trim()) out.push(JSON.parse(line) as Case);
  return out;
}

/** The kernel's LPAE geometry (facts §2.1): start level and PGD index bits. */
function lpaeGeometry(c: Case): { g: number; start: number; pgdBits: number } {
  const regs = c.regs!;
  const bitmap = BigInt(regs.pgsize_bitmap!);
  const g = (bitmap & 0x1000n) !== 0n ? 12 : (bitmap & 0x4000n) !== 0n ? 14 : 16;
  const ias = Number(regs.ias);
  const oas = Number(regs.oas);
  const bpl = g - 3;
  const vaBits = ias - g;
  const levels = Math.ceil(vaBits / bpl);
  let start = 4 - levels;
  let pgdBits = vaBits - bpl * (levels - 1);
  if (c.format.endsWith('_S2')) {
    const concat =
      (g === 14 && start === 0 && (oas === 48 || ias === 48)) ||
      (g === 12 && start === 0 && (oas === 40 || oas === 42)) ||
      (g === 14 && start === 1 && oas === 40);
    if (concat) {
      pgdBits += bpl;
      start += 1;
    }
  }
  if (c.format === 'ARM_MALI_LPAE' && start > 0) {
    start = 0;
    pgdBits = 0;
  }
  return { g, start, pgdBits };
}

class Bump {
  next = 0x4000_0000;
  alloc(size: number): number {
    const sz = Math.max(size, 0x1000);
    this.next = Math.ceil(this.next / sz) * sz;
    const pa = this.next;
    this.next += sz;
    return pa;
  }
}

const MASK48 = 0x0000_ffff_ffff_f000n;

/** Builds LPAE tables holding exactly the case's leaves; returns the PGD address. */
function buildLpae(mem: PhysMem, c: Case): number {
  const { g, start, pgdBits } = lpaeGeometry(c);
  const bpl = g - 3;
  const bump = new Bump();
  const pgd = bump.alloc(8 * 2 ** pgdBits);
  const shift = (l: number): bigint => BigInt((4 - l) * bpl + 3);
  const mask = (l: number): bigint => (1n << BigInt(l === start ? pgdBits : bpl)) - 1n;
  for (const leaf of c.leaves) {
    const iova = BigInt(leaf.iova);
    let table = pgd;
    for (let l = start; l < leaf.level; l++) {
      const slot = table + Number((iova >> shift(l)) & mask(l)) * 8;
      let d = mem.read64(slot);
      if (d === 0n) {
        d = BigInt(bump.alloc(2 ** g)) | 3n;
        mem.write64(slot, d);
      }
      table = Number(d & MASK48);
    }
    mem.write64(table + Number((iova >> shift(leaf.level)) & mask(leaf.level)) * 8, BigInt(leaf.pte));
  }
  return pgd;
}

/** Builds v7s tables holding exactly the case's leaves; returns the L1 table address. */
function buildV7s(mem: PhysMem, c: Case): number {
  const bump = new Bump();
  const ias = Number(c.regs!.ias);
  const l1 = bump.alloc(4 * 2 ** (ias - 20));
  for (const leaf of c.leaves) {
    const iova = Number(BigInt(leaf.iova));
    const slot1 = l1 + Math.floor(iova / 2 ** 20) * 4;
    if (leaf.level === 1) {
      mem.write32(slot1, Number(BigInt(leaf.pte)));
      continue;
    }
    let d = mem.read32(slot1);
    if (d === 0) {
      d = bump.alloc(0x1000) | 1;
      mem.write32(slot1, d);
    }
    mem.write32((d & ~0x3ff) + (Math.floor(iova / 0x1000) % 256) * 4, Number(BigInt(leaf.pte)));
  }
  return l1;
}

/** Output address of a leaf slot's first byte, decoded from the facts' descriptor layouts. */
function expectedPa(c: Case, leaf: Leaf): bigint {
  const pte = BigInt(leaf.pte);
  const iova = BigInt(leaf.iova);
  const size = BigInt(leaf.size);
  if (c.format === 'ARM_V7S') {
    const mtk = c.cfg.quirks.includes('ARM_MTK_EXT');
    const hiBits = mtk ? (((pte >> 9n) & 1n) << 32n) | (((pte >> 4n) & 1n) << 33n) | (((pte >> 5n) & 1n) << 34n) : 0n;
    if (leaf.level === 1) {
      if (pte & 0x40000n) {
        const ext = mtk ? hiBits : (((pte >> 20n) & 0xfn) << 32n) | (((pte >> 5n) & 0xfn) << 36n);
        return (pte & 0xff000000n) + ext + (iova & 0xf00000n);
      }
      return (pte & 0xfff00000n) + hiBits;
    }
    if ((pte & 3n) === 1n) return (pte & 0xffff0000n) + hiBits + (iova & 0xf000n);
    return (pte & 0xfffff000n) + hiBits;
  }
  const g = lpaeGeometry(c).g;
  let field = pte & MASK48;
  if (g === 16 && Number(c.regs!.oas) === 52) field = (pte & 0x0000_ffff_ffff_0000n) | (((pte >> 12n) & 0xfn) << 48n);
  return field & ~(size - 1n);
}

const all = loadCases();
const cases = all.filter((c) => c.regs !== null && c.leaves.length > 0);

describe('walker vs io-pgtable golden vectors', () => {
  it('has a broad set of cases to check', () => {
    // every case of the folder is read (its manifest's total), and all six formats have leaves to check
    const manifest = join(VECTORS, 'manifest.json');
    if (existsSync(manifest)) expect(all.length).toBe((JSON.parse(readFileSync(manifest, 'utf8')) as { totalCases: number }).totalCases);
    expect(cases.length).toBeGreaterThan(0);
    expect(new Set(cases.map((c) => c.format)).size).toBe(6);
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const mem = new PhysMem([{ base: 0x4000_0000, size: 0x4000_0000 }]);
    const base = c.format === 'ARM_V7S' ? buildV7s(mem, c) : buildLpae(mem, c);
    const cfg = walkConfigFromIoPgtableRegs(c.format, c.regs!, { tableBase: base, quirks: c.cfg.quirks });
    expect(cfg.configError).toBeNull();

    const got = listLeaves(mem, cfg).map((l) => ({
      level: l.level,
      iova: '0x' + l.va64.toString(16),
      size: '0x' + l.size.toString(16),
      pte: '0x' + l.pte.toString(16),
    }));
    expect(got).toEqual(c.leaves);

    const out = createWalkResult();
    const read: WalkAccess = { write: false, exec: false, priv: true };
    const write: WalkAccess = { write: true, exec: false, priv: true };
    const bad: string[] = [];
    for (const leaf of c.leaves) {
      let ok = walk(mem, cfg, BigInt(leaf.iova), read, out);
      // Write-only mappings (stage 2 / Mali "W") have no read permission.
      if (!ok && out.fault === 'permission') ok = walk(mem, cfg, BigInt(leaf.iova), write, out);
      const want = expectedPa(c, leaf);
      // The kernel does not range-check later pages of a run (facts §2.9): a descriptor whose
      // PA is beyond the output size must give the hardware's address-size fault.
      if (want >= 1n << BigInt(cfg.oaBits)) {
        if (ok || out.fault !== 'address-size' || out.level !== leaf.level) bad.push(`${leaf.iova}: want address-size fault, got ${ok ? 'a translation' : out.fault}`);
        continue;
      }
      if (!ok || BigInt(out.oa) !== want || out.level !== leaf.level)
        bad.push(`${leaf.iova}: ${ok ? `oa 0x${out.oa.toString(16)} level ${out.level}` : `${out.fault} fault level ${out.level}`}, want 0x${want.toString(16)} level ${leaf.level}`);
    }
    expect(bad).toEqual([]);
  });

  it('derives the kernel geometry from the register outputs (facts: observed geometry)', () => {
    const byName = new Map(loadCases().map((c) => [c.name, c]));
    const geometry = (name: string): [number, number] => {
      const c = byName.get(name)!;
      const cfg = walkConfigFromIoPgtableRegs(c.format, c.regs!, { tableBase: 0x4000_0000, quirks: c.cfg.quirks }) as LpaeWalkConfig;
      return [cfg.ranges[0]!.startLevel, 2 ** cfg.ranges[0]!.startBits];
    };
    expect(geometry('config_s1_4k_ias32_oas32')).toEqual([1, 4]);
    expect(geometry('config_s1_4k_ias36_oas36')).toEqual([1, 64]);
    expect(geometry('config_s1_4k_ias48_oas48')).toEqual([0, 512]);
    expect(geometry('config_s1_16k_ias48_oas48')).toEqual([0, 2]);
    expect(geometry('config_s1_64k_ias48_oas48')).toEqual([1, 64]);
    expect(geometry('config_s2_4k_ias40_oas40')).toEqual([1, 1024]);
    expect(geometry('config_s2_4k_ias42_oas42')).toEqual([1, 4096]);
    expect(geometry('config_s2_4k_ias40_oas48')).toEqual([0, 2]);
    expect(geometry('config_s2_16k_ias40_oas40')).toEqual([2, 32768]);
    expect(geometry('config_s2_16k_ias48_oas48')).toEqual([1, 4096]);
    expect(geometry('config_mali_ias32_oas32')).toEqual([0, 512]);
  });
});
