import { afterEach, describe, expect, it } from 'vitest';
import { DMA_STATUS_DONE, DMA_STATUS_FAULT, SMMU_STRTAB_BASE, SMMU_STRTAB_BASE_CFG, smmuCdUsedBits, smmuSteUsedBits } from '@gki/hw';
import { IOMMU_READ, IOMMU_WRITE, iommuDomainAlloc, iommuMap, type IommuDomain } from '@gki/kernel';
import { CMD_CFGI_CD, EntryWriter, armSmmuV3DomainAllocS2, armSmmuV3MasterOf, cdUsedBits } from '../src/index.js';
import { SIDS, SMMU_BASE, boot, buffer, type Preset, type Rig } from './helpers.js';

/*
 * The STE/CD transitions Linux's arm-smmu-v3 KUnit suite walks (bypass, abort, stage 1 with a
 * CD table, stage 2, each pair in both directions, and CD changes), driven through the
 * driver's attach_dev op on a live master. At every CMD_SYNC the model checks that any mixture
 * of old and new doublewords it could have fetched means the old or the new entry; the number
 * of syncs each transition took is compared with what Linux's entry writer (facts §2.4) needs
 * for the same old/new entries, computed by `linuxSyncs` below.
 */

type UsedFn = (w: ArrayLike<number>, m: Uint32Array) => void;

/**
 * Syncs Linux's arm_smmu_write_entry issues to turn `cur` into `target` (4 doublewords as 8
 * u32): qwords whose bits *used by the target* still differ after the bits unused by the
 * current entry took their target values are counted; 1 -> hitless (unused update, the
 * critical qword, then the whole target), 2+ -> breaking (V cleared, qwords 1..3, qword 0),
 * 0 -> the whole target; each step syncs only when it changed memory.
 */
function linuxSyncs(cur: Uint32Array, target: Uint32Array, used: UsedFn): number {
  const entry = Uint32Array.from(cur);
  const cu = new Uint32Array(8);
  const tu = new Uint32Array(8);
  used(cur, cu);
  used(target, tu);
  const uu = new Uint32Array(8);
  let diff = 0;
  for (let i = 0; i < 8; i++) {
    uu[i] = ((cur[i]! & cu[i]!) | (target[i]! & ~cu[i]!)) >>> 0;
    if (((uu[i]! & tu[i]!) >>> 0) !== target[i]) diff |= 1 << (i >> 1);
  }
  let syncs = 0;
  const set = (src: Uint32Array, first: number, n: number): void => {
    let changed = false;
    for (let i = 2 * first; i < 2 * (first + n); i++) {
      if (entry[i] !== src[i]) changed = true;
      entry[i] = src[i]!;
    }
    if (changed) syncs++;
  };
  const bits = [0, 1, 2, 3].filter((q) => diff & (1 << q));
  if (bits.length === 1) {
    const q = bits[0]!;
    uu[2 * q] = cur[2 * q]!;
    uu[2 * q + 1] = cur[2 * q + 1]!;
    set(uu, 0, 4);
    set(target, q, 1);
    set(target, 0, 4);
  } else if (bits.length > 1) {
    // The valid bit is bit 0 of an STE and bit 31 of a CD's first word.
    const vBit = used === smmuCdUsedBits ? 0x8000_0000 : 1;
    uu.set(cur);
    uu[0] = (cur[0]! & ~vBit) >>> 0;
    set(uu, 0, 1);
    set(target, 1, 3);
    set(target, 0, 1);
  } else {
    set(target, 0, 4);
  }
  return syncs;
}

const RW = IOMMU_READ | IOMMU_WRITE;
const ok = (st: number) => (st & (DMA_STATUS_DONE | DMA_STATUS_FAULT)) === DMA_STATUS_DONE;

let rigs: Rig[] = [];
afterEach(() => {
  for (const r of rigs) expect(r.model.hitlessViolations).toEqual([]);
  rigs = [];
});

/** PA of the STE for `sid`, found the way the SMMU finds it (STRTAB_BASE/_CFG, L1 descriptor). */
function steAddr(r: Rig, sid: number): number {
  const bus = r.board.bus;
  const lo = bus.read32(SMMU_BASE + SMMU_STRTAB_BASE) >>> 0;
  const hi = bus.read32(SMMU_BASE + SMMU_STRTAB_BASE + 4) & 0xf_ffff;
  const base = hi * 2 ** 32 + (lo & 0xffff_ffc0);
  const cfg = bus.read32(SMMU_BASE + SMMU_STRTAB_BASE_CFG);
  if (((cfg >>> 16) & 3) === 0) return base + sid * 64;
  const split = (cfg >>> 6) & 0x1f;
  const l1 = base + Math.floor(sid / 2 ** split) * 8;
  const l2 = (r.k.mem.read32(l1 + 4) & 0xf_ffff) * 2 ** 32 + ((r.k.mem.read32(l1) & 0xffff_ffc0) >>> 0);
  return l2 + (sid % 2 ** split) * 64;
}

function read8(r: Rig, pa: number): Uint32Array {
  const w = new Uint32Array(8);
  for (let i = 0; i < 8; i++) w[i] = r.k.mem.read32(pa + 4 * i);
  return w;
}

type State = 'abort' | 'bypass' | 's1' | 's1b' | 's2';

interface Step {
  steSyncs: number;
  cdSyncs: number;
  linuxSte: number;
  linuxCd: number;
}

class Walker {
  readonly dev;
  readonly doms = new Map<State, IommuDomain>();
  readonly buf: number;
  state: State | null = null;
  readonly cdAddr: number;

  constructor(readonly r: Rig) {
    this.dev = r.masters[0]!;
    this.buf = buffer(r.k);
    const mk = (s: State): IommuDomain | number => {
      if (s === 's2') return armSmmuV3DomainAllocS2(this.dev);
      return iommuDomainAlloc(this.dev, s === 'abort' ? 'blocked' : s === 'bypass' ? 'identity' : 'unmanaged');
    };
    for (const s of ['abort', 'bypass', 's1', 's1b', 's2'] as const) {
      const d = mk(s);
      if (typeof d === 'number') continue; // no stage 2 on this SMMU
      if (s !== 'abort' && s !== 'bypass') expect(iommuMap(d, 0x1000, this.buf, 0x1000, RW)).toBe(0);
      this.doms.set(s, d);
    }
    // The master's CD table exists once it has been attached to a stage-1 domain.
    this.go('s1');
    this.cdAddr = armSmmuV3MasterOf(this.dev)!.cdTable;
  }

  /** DMA that makes the SMMU fetch (and so track) the live STE and CD, and checks the result. */
  probe(): void {
    const dma = this.r.dmas[0]!;
    const st = this.state;
    if (st === 'abort') expect(ok(dma.fill(0x1000, 4, 1))).toBe(false);
    else if (st === 'bypass') {
      expect(ok(dma.fill(this.buf, 4, 0xb1))).toBe(true); // bus address = PA
      expect(this.r.k.mem.read32(this.buf)).toBe(0xb1);
    } else {
      expect(ok(dma.fill(0x1000, 4, 0x5a))).toBe(true);
      expect(this.r.k.mem.read32(this.buf)).toBe(0x5a);
      this.r.k.mem.write32(this.buf, 0);
    }
  }

  /** Attaches the domain of `to` through the driver's attach_dev op; counts the syncs. */
  go(to: State): Step {
    const r = this.r;
    const d = this.doms.get(to)!;
    const sa = steAddr(r, SIDS[0]);
    const steBefore = read8(r, sa);
    const cdBefore = this.cdAddr === undefined ? new Uint32Array(8) : read8(r, this.cdAddr);
    const c = r.model.stats.commands;
    const [ste0, cd0, sync0] = [c.CFGI_STE ?? 0, c.CFGI_CD ?? 0, r.model.stats.syncs];
    expect(d.ops.attachDev(d, this.dev)).toBe(0);
    const [ste1, cd1, sync1] = [c.CFGI_STE ?? 0, c.CFGI_CD ?? 0, r.model.stats.syncs];
    // Every sync here invalidated the STE or the CD of this (one-SID) master.
    expect(sync1 - sync0).toBe(ste1 - ste0 + (cd1 - cd0));
    this.state = to;
    const step: Step = {
      steSyncs: ste1 - ste0,
      cdSyncs: cd1 - cd0,
      linuxSte: linuxSyncs(steBefore, read8(r, sa), smmuSteUsedBits),
      linuxCd: this.cdAddr === undefined ? 0 : linuxSyncs(cdBefore, read8(r, this.cdAddr), smmuCdUsedBits),
    };
    this.probe();
    return step;
  }
}

describe.each(['fvp', 'qemu', 'minimal'] as const)('STE/CD transitions on the %s preset', (preset) => {
  it('walks every pair of bypass, abort, S1 (two domains) and S2, hitlessly, with Linux sync counts', () => {
    const r = boot({ preset });
    rigs.push(r);
    const w = new Walker(r);
    w.probe();
    const states = [...w.doms.keys()];
    expect(states.length).toBe(r.smmu.features.s2 ? 5 : 4);
    for (const a of states) {
      for (const b of states) {
        if (a === b) continue;
        w.go(a);
        const before = r.model.hitlessViolations.length;
        const s = w.go(b);
        expect(r.model.hitlessViolations.length, `${a}->${b}`).toBe(before);
        const s1 = (x: State) => x === 's1' || x === 's1b';
        // Only stage-1 transitions touch CD 0; S1 -> S1 of another domain leaves the STE alone.
        expect(s.cdSyncs > 0, `${a}->${b} cd`).toBe(s1(b) || s1(a));
        expect(s.steSyncs > 0, `${a}->${b} ste`).toBe(!(s1(a) && s1(b)));
        // The driver's writer takes exactly the syncs Linux's algorithm takes, for every pair.
        expect(s.steSyncs, `${a}->${b} ste`).toBe(s.linuxSte);
        expect(s.cdSyncs, `${a}->${b} cd`).toBe(s.linuxCd);
      }
    }
  });

  it('the reference reproduces the KUnit-pinned counts where the encodings match Linux', () => {
    const r = boot({ preset });
    rigs.push(r);
    const w = new Walker(r);
    const count = (a: State, b: State) => (w.go(a), w.go(b));
    // Entering a configuration: only dw0 (V/Config + pointer) is critical.
    expect(count('abort', 's1').linuxSte).toBe(2); // KUnit abort -> cdtable: 2
    expect(count('abort', 's1').steSyncs).toBe(2);
    expect(count('s1', 'abort').linuxSte).toBe(2); // KUnit cdtable -> abort: 2
    expect(count('abort', 'bypass').steSyncs).toBe(w.r.smmu.features.attrTypesOvr ? 2 : 1); // SHCFG written first
    // CD 0: clear -> S1 is 2 (KUnit), S1 -> S1 with another ASID and TTB0 is breaking (3).
    const s1b = count('s1', 's1b');
    expect([s1b.cdSyncs, s1b.linuxCd, s1b.steSyncs]).toEqual([3, 3, 0]);
    expect(count('abort', 's1').cdSyncs).toBe(2);
    if (r.smmu.features.s2) {
      expect(count('abort', 's2').linuxSte).toBe(2); // KUnit abort -> S2: 2
      expect(count('abort', 's2').steSyncs).toBe(2);
      expect(count('s1', 's2').linuxSte).toBe(3); // Config and VMID qwords: breaking
    }
  });

  it('changes only the ASID, or only MAIR, of a live CD with one sync, hitlessly', () => {
    const r = boot({ preset });
    rigs.push(r);
    const w = new Walker(r);
    w.go('s1');
    const sid = SIDS[0];
    const writer = new EntryWriter(r.k.mem);
    const sync = () => {
      const e = r.smmu.cmdAdd(CMD_CFGI_CD, sid, 1, 0);
      return e < 0 ? e : r.smmu.syncCmdq();
    };
    const orig = read8(r, w.cdAddr);
    const asidOf = (cd: Uint32Array) => cd[1]! >>> 16;
    const newAsid = 0xf0; // beyond any ASID the driver allocated (8- or 16-bit ASIDs)
    expect(asidOf(orig)).not.toBe(newAsid);
    const target = Uint32Array.from(orig);
    target[1] = ((target[1]! & 0xffff) | (newAsid << 16)) >>> 0;
    const tlbi0 = r.model.stats.walks;
    const before = r.model.stats.syncs;
    expect(writer.write(w.cdAddr, target, cdUsedBits, sync)).toBe(0);
    expect(r.model.stats.syncs - before).toBe(1);
    expect(writer.lastSyncs).toBe(linuxSyncs(orig, target, smmuCdUsedBits));
    expect(writer.lastSyncs).toBe(1); // KUnit: ASID change is hitless with 1 sync
    expect(r.model.hitlessViolations).toEqual([]);
    // The new ASID tags a new TLB context: the next access walks again, and still works.
    w.probe();
    expect(r.model.stats.walks).toBeGreaterThan(tlbi0);
    // MAIR only (dw3): one sync as well; then back to the original CD with one sync.
    const mair = Uint32Array.from(target);
    mair[7] = (mair[7]! ^ 0x0100) >>> 0; // attribute index 5: unused by the driver's PTEs
    expect(writer.write(w.cdAddr, mair, cdUsedBits, sync)).toBe(0);
    expect(writer.lastSyncs).toBe(linuxSyncs(target, mair, smmuCdUsedBits));
    expect(writer.lastSyncs).toBe(1);
    w.probe();
    expect(writer.write(w.cdAddr, orig, cdUsedBits, sync)).toBe(0);
    // ASID (dw0) and MAIR (dw3) both differ: a breaking update, 3 syncs for Linux and the driver.
    expect(writer.lastSyncs).toBe(linuxSyncs(mair, orig, smmuCdUsedBits));
    expect(writer.lastSyncs).toBe(3);
    w.probe();
  });
});
