import type { Kernel } from '@gki/kernel';
import {
  CD_W0_EPD1,
  CD_W0_V,
  STE_CFG_BYPASS,
  STE_CFG_SHIFT,
  STE_V,
} from './regs.js';

/**
 * Stream table entries and context descriptors, and the update sequence that keeps every
 * intermediate state the SMMU may fetch meaningful ("hitless"): the SMMU may re-read a live
 * entry at any time, one 64-bit doubleword at a time, so between two CMD_SYNCs it can see any
 * mixture of old and new doublewords.
 *
 * Entries are handled as their first four doublewords (8 u32 words, little-endian halves);
 * doublewords 4..7 of an STE and CD are left zero.
 */

type PhysMemLike = Kernel['mem'];

/** Computes into `m` the bits of entry `w` the SMMU interprets, given its own V/Config fields. */
export type UsedBitsFn = (w: ArrayLike<number>, m: Uint32Array) => void;

/** Number of u32 words of an entry the driver manages (doublewords 0..3). */
export const ENTRY_WORDS = 8;

/**
 * STE bits in use. An invalid STE uses only V; abort uses V and Config; bypass adds SHCFG;
 * a translating STE adds EATS, STRW and S2VMID, plus the CD-table pointer and S1 attributes
 * when stage 1 is enabled and the VTCR fields and S2TTB when stage 2 is.
 */
export const steUsedBits: UsedBitsFn = (w, m) => {
  m.fill(0);
  m[0] = STE_V;
  if ((w[0]! & STE_V) === 0) return;
  m[0] = (m[0]! | (7 << STE_CFG_SHIFT)) >>> 0;
  const cfg = (w[0]! >>> STE_CFG_SHIFT) & 7;
  if ((cfg & 4) === 0) return; // abort
  m[3] = 3 << 12; // SHCFG, dw1[45:44]
  if (cfg === STE_CFG_BYPASS) return;
  m[2] = 0xf000_0000; // EATS dw1[29:28], STRW dw1[31:30]
  m[4] = 0xffff; // S2VMID dw2[15:0]: tags stage-1 translations too
  if (cfg & 1) {
    m[0] = 0xffff_ffff; // V, Config, S1Fmt, S1ContextPtr[31:6]
    m[1] = 0xf80f_ffff; // S1ContextPtr[51:32], S1CDMax
    m[2] = (m[2]! | 0x0800_00ff) >>> 0; // S1DSS, S1CIR, S1COR, S1CSH, S1STALLD
  }
  if (cfg & 2) {
    m[5] = 0x07ff_ffff; // S2T0SZ .. S2R
    m[6] = 0xffff_fff0; // S2TTB[31:4]
    m[7] = 0x000f_ffff; // S2TTB[51:32]
  }
};

/**
 * CD bits in use: only V while invalid; otherwise the whole translation control doubleword,
 * TTB0, MAIR, and TTB1 unless EPD1 disables the TTB1 walks.
 */
export const cdUsedBits: UsedBitsFn = (w, m) => {
  m.fill(0);
  m[0] = CD_W0_V >>> 0;
  if ((w[0]! & CD_W0_V) === 0) return;
  m[0] = 0xffff_ffff;
  m[1] = 0xffff_ffff;
  m[2] = 0xffff_ffff;
  m[3] = 0xffff_ffff;
  if ((w[0]! & CD_W0_EPD1) === 0) {
    m[4] = 0xffff_ffff;
    m[5] = 0xffff_ffff;
  }
  m[6] = 0xffff_ffff;
  m[7] = 0xffff_ffff;
};

/**
 * Writes entries the way Linux's entry writer does, keeping every state the SMMU can fetch
 * meaningful:
 *  - the bits the current entry uses and the bits the target uses are computed; `staged` is
 *    the current entry with every bit it does not use already set to its target value, and a
 *    doubleword is *critical* when its bits used by the target still differ after that;
 *  - one critical doubleword (hitless): `staged` is written (sync only if memory changed), then
 *    the critical doubleword with one 64-bit store (sync), then the whole target, which clears
 *    the bits the new entry no longer uses (sync only if memory changed): any fetch sees the old
 *    or the new entry in the bits it interprets;
 *  - two or more (breaking): doubleword 0 is rewritten with only its V bit cleared (sync), the
 *    other doublewords take their target values (sync), then doubleword 0 does (sync), so a
 *    fetch sees the old entry, an invalid one, or the new one;
 *  - none: the whole target is written (sync only if memory changed).
 * The V bit is found as the only bit an all-zero (invalid) entry uses. `sync` issues the
 * configuration invalidation for the entry followed by a CMD_SYNC. Scratch buffers are
 * preallocated: writing allocates nothing.
 */
export class EntryWriter {
  private readonly cur = new Uint32Array(ENTRY_WORDS);
  private readonly usedCur = new Uint32Array(ENTRY_WORDS);
  private readonly usedTarget = new Uint32Array(ENTRY_WORDS);
  private readonly staged = new Uint32Array(ENTRY_WORDS);
  private readonly zero = new Uint32Array(ENTRY_WORDS);

  constructor(private readonly mem: PhysMemLike) {}

  /** Number of syncs the last `write` issued (for tests and statistics). */
  lastSyncs = 0;

  /** Updates the entry at `addr` to `target`. Returns 0, or the first negative result of `sync`. */
  write(addr: number, target: Uint32Array, used: UsedBitsFn, sync: () => number): number {
    const mem = this.mem;
    const cur = this.cur;
    this.lastSyncs = 0;
    for (let i = 0; i < ENTRY_WORDS; i++) cur[i] = mem.read32(addr + 4 * i);
    if (this.same(cur, target)) return 0;
    const st = this.staged;
    const cu = this.usedCur;
    const tu = this.usedTarget;
    used(cur, cu);
    used(target, tu);
    let critical = 0; // bit d set: doubleword d is critical
    for (let i = 0; i < ENTRY_WORDS; i++) {
      st[i] = ((cur[i]! & cu[i]!) | (target[i]! & ~cu[i]!)) >>> 0;
      if (((st[i]! ^ target[i]!) & tu[i]!) !== 0) critical |= 1 << (i >> 1);
    }
    let err = 0;
    if (critical === 0) return this.set(addr, target, 0, 4, sync, err);
    if ((critical & (critical - 1)) === 0) {
      const d = 31 - Math.clz32(critical);
      // The critical doubleword keeps its current value until its own store.
      st[2 * d] = cur[2 * d]!;
      st[2 * d + 1] = cur[2 * d + 1]!;
      err = this.set(addr, st, 0, 4, sync, err);
      err = this.set(addr, target, d, 1, sync, err);
      return this.set(addr, target, 0, 4, sync, err);
    }
    // Breaking: clear V, rewrite doublewords 1..3, then doubleword 0 makes the entry valid.
    used(this.zero, tu); // an invalid entry uses only its V bit
    st.set(cur);
    st[0] = (cur[0]! & ~tu[0]!) >>> 0;
    st[1] = (cur[1]! & ~tu[1]!) >>> 0;
    err = this.set(addr, st, 0, 1, sync, err);
    err = this.set(addr, target, 1, 3, sync, err);
    return this.set(addr, target, 0, 1, sync, err);
  }

  /**
   * Stores the doublewords `first` .. `first + n - 1` of `src` that differ from memory, each
   * with one 64-bit store, and syncs if any did. Returns the updated error.
   */
  private set(addr: number, src: Uint32Array, first: number, n: number, fn: () => number, prev: number): number {
    const mem = this.mem;
    const cur = this.cur;
    let changed = false;
    for (let d = first; d < first + n; d++) {
      const lo = src[2 * d]!;
      const hi = src[2 * d + 1]!;
      if (cur[2 * d] === lo && cur[2 * d + 1] === hi) continue;
      mem.write64parts(addr + 8 * d, lo, hi);
      cur[2 * d] = lo;
      cur[2 * d + 1] = hi;
      changed = true;
    }
    return changed ? this.sync(fn, prev) : prev;
  }

  private sync(fn: () => number, prev: number): number {
    this.lastSyncs++;
    const r = fn();
    return prev < 0 ? prev : r < 0 ? r : 0;
  }

  private same(a: Uint32Array, b: Uint32Array): boolean {
    for (let i = 0; i < ENTRY_WORDS; i++) if (a[i] !== b[i]) return false;
    return true;
  }
}
