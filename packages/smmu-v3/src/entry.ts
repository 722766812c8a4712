import type { Kernel } from '@gki/kernel';
import {
  CD_W0_EPD0,
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

/** STE dw1 (words 2, 3) fields as Linux names them. */
const STE1_S1DSS = 0x3;
const STE1_S1DSS_BYPASS = 1;
const STE1_S1_CACHE = 0xfc; // S1CIR, S1COR, S1CSH
const STE1_MEV = 1 << 19;
const STE1_S2FWB = 1 << 25;
const STE1_S1STALLD = 1 << 27;
const STE1_EATS = 3 << 28;
const STE1_STRW = 3 << 30;
const STE1_HI_SHCFG = 3 << 12; // dw1[45:44]
/** STE dw2 high word: VTCR [50:32], S2AA64 [51], S2ENDI [52], S2PTW [54], S2S [57], S2R [58]. */
const STE2_HI_S2 = 0x7_ffff | (1 << 19) | (1 << 20) | (1 << 22) | (1 << 25) | (1 << 26);

/**
 * The STE bits Linux's arm_smmu_get_ste_used says the SMMU reads (what this driver relies on,
 * not the whole architecture): V, and with V set Config; a stage-1 entry adds S1Fmt,
 * S1ContextPtr, S1CDMax, the S1 cache attributes, S1STALLD, STRW, EATS, MEV and S2VMID, and
 * SHCFG only when S1DSS is bypass; a stage-2 entry adds S2FWB, EATS, SHCFG, MEV, S2VMID, the
 * VTCR fields, S2AA64, S2ENDI, S2PTW, S2S, S2R and S2TTB; a bypass entry adds SHCFG.
 */
export const steUsedBits: UsedBitsFn = (w, m) => {
  m.fill(0);
  m[0] = STE_V;
  if ((w[0]! & STE_V) === 0) return;
  m[0] = (m[0]! | (7 << STE_CFG_SHIFT)) >>> 0;
  const cfg = (w[0]! >>> STE_CFG_SHIFT) & 7;
  if (cfg & 1) {
    m[0] = 0xffff_ffff; // V, Config, S1Fmt, S1ContextPtr[31:6]
    m[1] = (m[1]! | 0xf80f_ffff) >>> 0; // S1ContextPtr[51:32], S1CDMax
    m[2] = (m[2]! | STE1_S1DSS | STE1_S1_CACHE | STE1_S1STALLD | STE1_STRW | STE1_EATS | STE1_MEV) >>> 0;
    m[4] = (m[4]! | 0xffff) >>> 0; // S2VMID
    if ((w[2]! & STE1_S1DSS) === STE1_S1DSS_BYPASS) m[3] = (m[3]! | STE1_HI_SHCFG) >>> 0;
  }
  if (cfg & 2) {
    m[2] = (m[2]! | STE1_S2FWB | STE1_EATS | STE1_MEV) >>> 0;
    m[3] = (m[3]! | STE1_HI_SHCFG) >>> 0;
    m[4] = (m[4]! | 0xffff) >>> 0;
    m[5] = (m[5]! | STE2_HI_S2) >>> 0;
    m[6] = 0xffff_fff0; // S2TTB[31:4]
    m[7] = 0x000f_ffff; // S2TTB[51:32]
  }
  if (cfg === STE_CFG_BYPASS) m[3] = (m[3]! | STE1_HI_SHCFG) >>> 0;
};

/**
 * The CD bits Linux's arm_smmu_get_cd_used says the SMMU reads: only V while invalid, else
 * every bit, except T0SZ, TG0, IRGN0, ORGN0, SH0 and TTB0 when EPD0 disables the TTB0 walks.
 * (Linux does not drop the TTB1 fields for EPD1: this driver sets EPD1 and leaves TTB1 zero.)
 */
export const cdUsedBits: UsedBitsFn = (w, m) => {
  m.fill(0);
  m[0] = CD_W0_V >>> 0;
  if ((w[0]! & CD_W0_V) === 0) return;
  m.fill(0xffff_ffff);
  if (w[0]! & CD_W0_EPD0) {
    m[0] = (m[0]! & ~0x3fff) >>> 0; // T0SZ[5:0], TG0[7:6], IRGN0[9:8], ORGN0[11:10], SH0[13:12]
    m[2] = 0xf; // TTB0[51:4] ignored; bits 3:0 are not part of TTB0
    m[3] = 0xfff0_0000;
  }
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
 *  - two or more (breaking): doubleword 0 is zeroed, which clears V (sync), the other
 *    doublewords take their target values (sync), then doubleword 0 does (sync), so a fetch
 *    sees the old entry, an invalid one, or the new one;
 *  - none: the whole target is written (sync only if memory changed).
 * `sync` issues the
 * configuration invalidation for the entry followed by a CMD_SYNC. Scratch buffers are
 * preallocated: writing allocates nothing.
 */
export class EntryWriter {
  private readonly cur = new Uint32Array(ENTRY_WORDS);
  private readonly usedCur = new Uint32Array(ENTRY_WORDS);
  private readonly usedTarget = new Uint32Array(ENTRY_WORDS);
  private readonly staged = new Uint32Array(ENTRY_WORDS);

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
    // Breaking: doubleword 0 becomes zero (V clear), doublewords 1..3 take their target values,
    // then doubleword 0 makes the entry valid again (as Linux's arm_smmu_write_entry does).
    st.set(cur);
    st[0] = 0;
    st[1] = 0;
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
