import { describe, expect, it } from 'vitest';
import { CMD_TLBI_NH_ASID, CMD_TLBI_NH_VA, CMD_TLBI_NH_VAA, CMD_TLBI_S12_VMALL, CMD_TLBI_S2_IPA, type WalkAccess } from '../src/index.js';
import { RAM, S1_PAGE, S2_PAGE, SmmuRig, Tables, cdWords, steNested, steS1, steS2, writeCd } from '../bench/smmu-v3-setup.js';

/*
 * The SMMUv3 model's walk cache at the command level (the rig programs the model as Linux
 * does: bench/smmu-v3-setup.ts). A TLBI by address with Leaf = 1 keeps walk-cache entries;
 * Leaf = 0, TLBI by ASID and TLBI_S12_VMALL drop them. Each case replaces a level-3 table by a
 * 2 MiB block behind the SMMU's back, invalidates, and translates a page that was never in the
 * TLB: only a walk-cache entry can make it stale.
 */

const READ: WalkAccess = { write: false, exec: false, priv: false };
const IOVA = 2 ** 39;
const IPA = 2 ** 36;
const DATA = RAM + 0x800_0000;
const BLOCK = RAM + 0xa00_0000; // 2 MiB aligned
const SZ_4K = 0x1000;
const SID_S1 = 1;
const SID_S2 = 2;
const SID_NESTED = 3;
const ASID = 1;
const VMID = 2;

function tr(rig: SmmuRig, sid: number, iova: number): number | null {
  const out = { pa: -1 };
  return rig.smmu.translate(sid, -1, iova, READ, out) ? out.pa : null;
}

/** Writes a 2 MiB block at the level-2 slot of `va` in a 4K tree (replacing the level-3 table). */
function blockAt(rig: SmmuRig, t: Tables, va: number, pa: number, attrs: bigint): void {
  let table = t.root;
  for (let level = t.startLevel; level < 2; level++) {
    const shift = 12 + 9 * (3 - level);
    table = Number(rig.mem.read64(table + (Math.floor(va / 2 ** shift) % 512) * 8) & 0x0000_ffff_ffff_f000n);
  }
  rig.mem.write64(table + (Math.floor(va / 2 ** 21) % 512) * 8, BigInt(pa) | (attrs & ~2n));
}

function s1(walkCache: boolean): { rig: SmmuRig; t: Tables } {
  const rig = new SmmuRig(256 << 20, undefined, walkCache);
  const t = new Tables(rig, 48);
  t.mapRange(IOVA, DATA, 512, S1_PAGE);
  const cd = rig.alloc(64, 64);
  writeCd(rig, cd, cdWords(t.root, ASID, 48));
  rig.writeSte(SID_S1, steS1(cd));
  return { rig, t };
}

describe('SMMUv3 walk cache, stage 1', () => {
  it.each([
    ['TLBI_NH_VA Leaf=1', 'keeps', (r: SmmuRig) => r.cmd(CMD_TLBI_NH_VA, BigInt(ASID) << 48n, BigInt(IOVA) | 1n), false],
    ['TLBI_NH_VA Leaf=0', 'drops', (r: SmmuRig) => r.cmd(CMD_TLBI_NH_VA, BigInt(ASID) << 48n, BigInt(IOVA)), true],
    ['TLBI_NH_VAA Leaf=1', 'keeps', (r: SmmuRig) => r.cmd(CMD_TLBI_NH_VAA, 0n, BigInt(IOVA) | 1n), false],
    ['TLBI_NH_VAA Leaf=0', 'drops', (r: SmmuRig) => r.cmd(CMD_TLBI_NH_VAA, 0n, BigInt(IOVA)), true],
    ['TLBI_NH_ASID', 'drops', (r: SmmuRig) => r.cmd(CMD_TLBI_NH_ASID, BigInt(ASID) << 48n), true],
    ['TLBI_NH_ASID of another ASID', 'keeps', (r: SmmuRig) => r.cmd(CMD_TLBI_NH_ASID, BigInt(ASID + 1) << 48n), false],
  ] as const)('%s %s the walk entry', (_name, _verb, tlbi, drops) => {
    for (const walkCache of [true, false]) {
      const { rig, t } = s1(walkCache);
      expect(tr(rig, SID_S1, IOVA + 0x10)).toBe(DATA + 0x10);
      blockAt(rig, t, IOVA, BLOCK, S1_PAGE);
      tlbi(rig);
      const stale = walkCache && !drops;
      expect(tr(rig, SID_S1, IOVA + 5 * SZ_4K + 0x20)).toBe((stale ? DATA : BLOCK) + 5 * SZ_4K + 0x20);
      if (walkCache) expect(rig.smmu.walkCacheCounters()!.hits).toBe(stale ? 1 : 0);
    }
  });
});

describe('SMMUv3 walk cache, stage 2 and nested', () => {
  it.each([
    ['TLBI_S2_IPA Leaf=1', 'keeps', (r: SmmuRig) => r.cmd(CMD_TLBI_S2_IPA, BigInt(VMID) << 32n, BigInt(IPA) | 1n), false],
    ['TLBI_S2_IPA Leaf=0', 'drops', (r: SmmuRig) => r.cmd(CMD_TLBI_S2_IPA, BigInt(VMID) << 32n, BigInt(IPA)), true],
    ['TLBI_S12_VMALL', 'drops', (r: SmmuRig) => r.cmd(CMD_TLBI_S12_VMALL, BigInt(VMID) << 32n), true],
    ['TLBI_NH_ASID (stage 1 only)', 'keeps', (r: SmmuRig) => r.cmd(CMD_TLBI_NH_ASID, (BigInt(ASID) << 48n) | (BigInt(VMID) << 32n)), false],
  ] as const)('stage 2: %s %s the walk entry', (_name, _verb, tlbi, drops) => {
    for (const walkCache of [true, false]) {
      const rig = new SmmuRig(256 << 20, undefined, walkCache);
      const t = new Tables(rig, 39);
      t.mapRange(IPA, DATA, 512, S2_PAGE);
      rig.writeSte(SID_S2, steS2(VMID, t.root));
      expect(tr(rig, SID_S2, IPA + 0x10)).toBe(DATA + 0x10);
      blockAt(rig, t, IPA, BLOCK, S2_PAGE);
      tlbi(rig);
      expect(tr(rig, SID_S2, IPA + 6 * SZ_4K)).toBe((walkCache && !drops ? DATA : BLOCK) + 6 * SZ_4K);
    }
  });

  it('nested: the stage-2 walk of the final IPA resumes at its cached table until TLBI_S12_VMALL', () => {
    const rig = new SmmuRig(256 << 20);
    const n2 = new Tables(rig, 39);
    const n1 = new Tables(rig, 48);
    n1.mapRange(IOVA, IPA, 512, S1_PAGE);
    n2.mapRange(IPA, DATA, 512, S2_PAGE);
    const cdPa = rig.alloc(4096);
    const cdIpa = 0x70_0000_0000;
    const ttbIpa = cdIpa + 0x1_0000;
    n2.mapRange(cdIpa, cdPa, 1, S2_PAGE);
    n2.mapRange(ttbIpa, n1.root, 1, S2_PAGE);
    // Stage-1 next-level table addresses are IPAs: stage 2 maps them at their own addresses.
    for (const t of n1.tables) n2.mapRange(t, t, 1, S2_PAGE);
    writeCd(rig, cdPa, cdWords(ttbIpa, ASID, 48));
    rig.writeSte(SID_NESTED, steNested(cdIpa, VMID, n2.root));
    expect(tr(rig, SID_NESTED, IOVA + 0x10)).toBe(DATA + 0x10);
    const hits = rig.smmu.walkCacheCounters()!.hits;
    expect(tr(rig, SID_NESTED, IOVA + 3 * SZ_4K)).toBe(DATA + 3 * SZ_4K);
    // Both walks resumed at a cached table: the nested stage-1 walk at its level-3 table (an
    // IPA, fetched through the stage-2 TLB entry the first walk left) and the stage-2 walk of
    // the output IPA at its own level-3 table.
    expect(rig.smmu.walkCacheCounters()!.hits - hits).toBe(2);
    blockAt(rig, n2, IPA, BLOCK, S2_PAGE);
    rig.cmd(CMD_TLBI_S2_IPA, BigInt(VMID) << 32n, BigInt(IPA) | 1n); // leaf only
    expect(tr(rig, SID_NESTED, IOVA + 4 * SZ_4K)).toBe(DATA + 4 * SZ_4K); // stale stage-2 walk
    rig.cmd(CMD_TLBI_S12_VMALL, BigInt(VMID) << 32n);
    expect(tr(rig, SID_NESTED, IOVA + 4 * SZ_4K)).toBe(BLOCK + 4 * SZ_4K);
    expect(rig.smmu.hitlessViolations).toEqual([]);
  });
});
