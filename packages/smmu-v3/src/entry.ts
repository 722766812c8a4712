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
 * Writes entries with a hitless sequence:
 *  1. every bit the current value does not use takes its target value (the meaning is
 *     unchanged whatever the SMMU fetches), then a sync;
 *  2. if at most one doubleword still differs, it is written with one 64-bit store and a
 *     sync: any fetch sees the old or the new entry;
 *  3. otherwise the entry is broken first: doubleword 0 is written with V = 0 and synced, the
 *     other doublewords take their target values and are synced, and doubleword 0 is written
 *     last, so a fetch sees the old entry, an invalid one, or the new one.
 * `sync` issues the configuration invalidation for the entry followed by a CMD_SYNC.
 * Scratch buffers are preallocated: writing allocates nothing.
 */
export class EntryWriter {
  private readonly cur = new Uint32Array(ENTRY_WORDS);
  private readonly usedCur = new Uint32Array(ENTRY_WORDS);
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
    used(cur, this.usedCur);
    const st = this.staged;
    const u = this.usedCur;
    for (let i = 0; i < ENTRY_WORDS; i++) st[i] = ((cur[i]! & u[i]!) | (target[i]! & ~u[i]!)) >>> 0;
    let err = 0;
    if (!this.same(st, cur)) {
      this.store(addr, st, cur);
      err = this.sync(sync, err);
    }
    let differing = 0;
    let last = -1;
    for (let d = 0; d < 4; d++) {
      if (st[2 * d] !== target[2 * d] || st[2 * d + 1] !== target[2 * d + 1]) {
        differing++;
        last = d;
      }
    }
    if (differing === 0) return err;
    if (differing === 1) {
      mem.write64parts(addr + 8 * last, target[2 * last]!, target[2 * last + 1]!);
      return this.sync(sync, err);
    }
    // Break: invalidate, rewrite the body, then make it valid again with doubleword 0.
    mem.write64parts(addr, 0, 0);
    err = this.sync(sync, err);
    for (let d = 1; d < 4; d++) mem.write64parts(addr + 8 * d, target[2 * d]!, target[2 * d + 1]!);
    err = this.sync(sync, err);
    mem.write64parts(addr, target[0]!, target[1]!);
    return this.sync(sync, err);
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

  /** Writes the doublewords of `next` that differ from `prev`, each with one 64-bit store. */
  private store(addr: number, next: Uint32Array, prev: Uint32Array): void {
    for (let d = 0; d < 4; d++) {
      if (next[2 * d] !== prev[2 * d] || next[2 * d + 1] !== prev[2 * d + 1]) this.mem.write64parts(addr + 8 * d, next[2 * d]!, next[2 * d + 1]!);
    }
  }
}
