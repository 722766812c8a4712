/**
 * An Arm SMMUv1/v2 model (MMU-400/401/500, Qualcomm SMMU-500 and Adreno SMMU-v2), written from
 * the architecture (IHI 0062) and the MMU-500 register reference.
 *
 * Software programs it entirely through MMIO: global space 0 (sCR0, ID registers, global fault
 * status, global TLB maintenance, SMR/S2CR stream mapping), global space 1 (CBAR, CBA2R,
 * CBFRSYNRA) and one register page per context bank (SCTLR, TCR/TCR2, TTBR0/1, MAIR, fault
 * status and syndrome, RESUME, TLB maintenance and sync). Page tables live in PhysMem and are
 * walked with this package's own walkers (LPAE AArch64, LPAE AArch32, short descriptor), the
 * stage-1 walk of a nested context having its table accesses translated by stage 2.
 *
 * Translations are cached in a TLB tagged by VMID/ASID that only the architected invalidation
 * registers empty, so a driver that forgets one keeps seeing the old translation. Context
 * faults are recorded in FSR/FAR/FSYNR0 (MULTI when one is already outstanding) and raise the
 * bank's interrupt when SCTLR.CFIE is set; with SCTLR.CFCFG the transaction stalls until
 * RESUME retries or terminates it. Global faults (unidentified stream, stream match conflict,
 * unimplemented or invalid context) go to sGFSR/sGFSYNRn/sGFAR and the global interrupt.
 *
 * Not modelled (see the README): secure state and the secure register aliases, SMMUv2's
 * address translation operations (ID0.ATOSNS reads 1; SMMUv1's are), extended StreamIDs, big-endian tables,
 * memory attributes and shareability overrides, the performance monitors, walk caches.
 */
import type { MmioDevice } from '../../bus.js';
import type { IrqLine } from '../../irq.js';
import type { PhysMem } from '../../mem.js';
import {
  createLpaeCursor,
  FAST_DESC_LO,
  FAST_OA_HI,
  FAST_OA_LO,
  FAST_PERMS,
  FAST_SHIFT,
  FAST_SLOTS,
  lpae32S1Config,
  lpae32S2Config,
  lpaeS1ConfigFromRegisters,
  lpaeS2ConfigFromRegisters,
  tg0GranuleShift,
  tg1GranuleShift,
  walkLpaeParts,
  type LpaeWalkConfig,
} from '../../walk/lpae.js';
import { createWalkResult, permBit, permits, type WalkAccess, type WalkResult, type WalkTableTranslator } from '../../walk/types.js';
import { v7sConfigFromRegisters, walkV7s, type V7sWalkConfig } from '../../walk/v7s.js';
import { smmuV2Config, smmuV2IdRegs, SMMUV2_PRESET_MMU500, type SmmuV2Config } from './presets.js';
import * as R from './regs.js';
import { tlbSizeShift, WALK_CACHE_TAGS } from '../tlb.js';
import { SLOT_GLOBAL, SLOT_S2, SmmuV2Tlb } from './tlb.js';

const TWO32 = 2 ** 32;
const INV_TWO32 = 1 / TWO32;

/** The result slot of `translate` (compatible with DmaTranslation). */
export interface SmmuV2Translation {
  pa: number;
  /** Set with a false return: the transaction is stalled until RESUME (see SmmuV2Requester). */
  stalled?: boolean;
  /** Set with a true return: terminated without an abort (reads zero, writes dropped). */
  sink?: boolean;
}

/** A master that can have a transaction stalled: told the outcome when software writes RESUME. */
export interface SmmuV2Requester {
  stallResolved(terminate: boolean): void;
}

/** What a bus master needs to be attached: a translation hook (DmaMaster, GPU models). */
export interface SmmuV2Master {
  readonly name?: string;
  /**
   * `parts`, when the master accepts it (DmaMaster does), is the same translation taking the
   * address as int32 halves: no call on the way boxes a double (see DmaTranslatorParts).
   */
  setTranslator(
    fn: ((streamId: number, iova: number, write: boolean, out: SmmuV2Translation) => boolean) | undefined,
    parts?: (streamId: number, iovaHi: number, iovaLo: number, write: boolean, out: SmmuV2Translation) => boolean,
  ): void;
  stallResolved?(terminate: boolean): void;
}

export interface SmmuV2Stats {
  translations: number;
  bypassed: number;
  tlbHits: number;
  tlbMisses: number;
  /** Stage-1 and stage-2 table walks (a nested miss counts both; stage-2 walks of stage-1 table fetches too). */
  walks: number;
  contextFaults: number;
  globalFaults: number;
  /** Faults not recorded because one was outstanding (FSR/sGFSR.MULTI set). */
  multiFaults: number;
  /** Transactions stalled, retried and terminated by RESUME; RESUME writes with nothing stalled. */
  stalls: number;
  retries: number;
  terminations: number;
  resumeIgnored: number;
  /** Transactions terminated because of an outstanding fault (SCTLR.HUPCF = 0). */
  hupcfTerminated: number;
  /** TLB maintenance register writes by name (TLBIVA, TLBIVMID, TLBGSYNC, ...). */
  tlbi: Record<string, number>;
  /** TLB sync status reads that still showed the sync active. */
  syncBusyReads: number;
}

export interface SmmuV2Options {
  readonly name?: string;
  /** Implementation and geometry (default: MMU-500 with 8 context banks). */
  readonly config?: SmmuV2Config;
  /** Global fault interrupt lines (#global-interrupts of them); faults raise the first. */
  readonly globalIrqs?: readonly IrqLine[];
  /** Context interrupt lines in order (v2: one per bank; v1: indexed by CBAR.IRPTNDX). */
  readonly contextIrqs?: readonly IrqLine[];
  /** TLB capacity in entries (default 16384, in 4-way sets: a full set is emptied on the next fill into it). */
  readonly tlbCapacity?: number;
  /** Reads of TLBSTATUS/TLBGSTATUS that still show a started sync active (default 0). */
  readonly syncLatencyReads?: number;
  /** A TLB sync does not complete while a transaction is stalled (default true). */
  readonly syncWaitsForStalls?: boolean;
  /**
   * Cache the tables long-descriptor walks reach (default true), as MMU-500 and other SMMUs
   * do: a TLB miss in a block whose table is cached reads one descriptor. TLBIVAL, TLBIVAAL
   * and TLBIIPAS2L (leaf only) leave walk entries; every other invalidation drops them.
   * Stage-1 walks of nested contexts and short-descriptor walks are never cached.
   */
  readonly walkCache?: boolean;
  /** Walk cache capacity in entries (default 4096; a full walk cache is emptied on the next fill). */
  readonly walkCacheCapacity?: number;
}

/** Decoded context format. */
const FMT_SHORT = 0;
const FMT_LONG32 = 1;
const FMT_AARCH64 = 2;

interface Stalled {
  readonly requester: SmmuV2Requester;
}

// Kinds of outstanding TLB maintenance, queued as [kind, vmid, asid, key, flags] until a sync;
// flags: bit 0 hypervisor, bit 1 leaf only (TLBIVAL, TLBIVAAL, TLBIIPAS2L).
const TLBI_ALL = 0;
const TLBI_VMID = 1;
const TLBI_S1_ALL = 2;
const TLBI_ASID = 3;
const TLBI_VA = 4;
const TLBI_IPA = 5;

/** Outstanding operations a context or the global space holds before the model completes them unasked. */
const MAX_PENDING_TLBI = 1024;


class Bank {
  cbar = R.CBAR_RESET;
  cba2r = 0;
  cbfrsynra = 0;
  sctlr = 0;
  actlr = 0;
  tcr2 = 0;
  ttbr0Lo = 0;
  ttbr0Hi = 0;
  ttbr1Lo = 0;
  ttbr1Hi = 0;
  tcr = 0;
  contextidr = 0;
  mair0 = 0;
  mair1 = 0;
  fsr = 0;
  farLo = 0;
  farHi = 0;
  fsynr0 = 0;
  fsynr1 = 0;
  ipafarLo = 0;
  ipafarHi = 0;
  /** PAR: the result of the last address translation operation (ATOS), and its VA's low word. */
  atsLo = 0;
  parLo = 0;
  parHi = 0;
  /** Low halves of 64-bit TLB maintenance registers written 32 bits at a time, by offset. */
  latch = new Map<number, number>();
  stalled: Stalled[] = [];
  syncReads = 0;
  /** TLB maintenance written to this bank and not yet completed by a sync (TLBI_* records). */
  readonly pendingTlbi: number[] = [];

  // Decoded state (valid while `epoch` equals the SMMU's configuration epoch).
  epoch = -1;
  type = R.CBAR_TYPE_S1_S2FAULT;
  fmt = FMT_AARCH64;
  vmid = 0;
  hyp = false;
  asid = 0;
  asid16 = false;
  /** Stage-1 input: sign-extension bit of the upstream address (AArch64), or -1 for 32-bit VAs. */
  signBit = 48;
  s1: LpaeWalkConfig | V7sWalkConfig | null = null;
  s2: LpaeWalkConfig | null = null;
  configError: string | null = null;
  /** Nested: the stage-2 bank index. */
  s2Index = -1;
  /** Shared-TLB context handles: this bank's ASID, its global entries, its stage-2 entries. */
  ctxAsid = 0;
  ctxGlobal = 0;
  ctxS2 = 0;
  /** Walk-cache context handles (stage-1 walks: this bank's ASID; stage-2 walks) and config tags. */
  wctxS1 = 0;
  wctxS2 = 0;
  s1tag = 0;
  s2tag = 0;

  constructor(readonly index: number) {}
}

function hex(n: number): string {
  return '0x' + n.toString(16);
}

function u64(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

/** Sign-extension bit selected by TCR2.SEP (6 is treated as 7: the upstream bit 48). */
const SEP_BITS = [31, 35, 39, 41, 43, 47, 48, 48];

export class SmmuV2 implements MmioDevice {
  readonly name: string;
  readonly config: SmmuV2Config;
  /** ID0..ID7 as the registers read. */
  readonly idRegs: readonly number[];
  /** Size of the register window: 2 x NUMPAGE pages. */
  readonly mmioSize: number;
  readonly stats: SmmuV2Stats = SmmuV2.freshStats();
  /** Fault injection: a started TLB sync (global and context) never completes while set. */
  stuckSync = false;

  private readonly mem: PhysMem;
  private readonly globalIrqs: readonly IrqLine[];
  private readonly contextIrqs: readonly IrqLine[];
  private readonly syncLatencyReads: number;
  private readonly syncWaitsForStalls: boolean;
  private readonly tlb: SmmuV2Tlb;
  private readonly banks: Bank[] = [];
  private readonly numS2cr: number;

  private scr0 = 0;
  private scr2 = 0;
  private sacr = 0;
  private gfsr = 0;
  private gfsynr0 = 0;
  private gfsynr1 = 0;
  private gfsynr2 = 0;
  private gfarLo = 0;
  private gfarHi = 0;
  private gsyncReads = 0;
  /** TLB maintenance written to the global space and not yet completed by TLBGSYNC. */
  private readonly pendingTlbi: number[] = [];
  private readonly smr: Uint32Array;
  private readonly s2cr: Uint32Array;
  /** StreamID -> S2CR index, -1 no match, -2 conflict (cleared on every SMR write). */
  private readonly smCache = new Map<number, number>();
  private epoch = 0;

  // Reused per translation.
  private readonly access: WalkAccess = { write: false, exec: false, priv: false };
  private readonly tableAccess: WalkAccess = { write: false, exec: false, priv: true };
  private readonly wr: WalkResult = createWalkResult();
  /** Result of the walk cache's one-descriptor step (`WalkCache.fastLeaf`). */
  private readonly fastRes = new Int32Array(FAST_SLOTS);
  private readonly wr2: WalkResult = createWalkResult();
  private readonly nested: NestedTables;
  private readonly cursor = createLpaeCursor();
  /** Walk-cache tags: one per distinct decoded translation config (see SmmuV3). */
  private readonly cfgTags = new Map<string, number>();
  private nextCfgTag = 0;
  /** The stage-2 bank of the nested walk in progress. */
  private nestedS2: Bank | null = null;
  /** Block size (log2) and permissions of the last successful s2Lookup. */
  private s2Shift = 12;
  private s2Perms = 0;
  /** Output address (int32 halves: high, low) of the last successful s2Lookup. */
  private readonly s2Pa = new Int32Array(2);
  /**
   * The stream whose TLB hits the hot part of `translateParts` serves (−1: none), remembered by
   * `translateS1` when it reaches the TLB for a stage-1 context (not nested) with nothing in
   * the way: SMMU enabled, the stream matched to a translating S2CR, the bank decoded, enabled,
   * without a configuration error or an outstanding fault. Forgotten by every register write,
   * every fault, stall or resume, and reset (`forget`).
   */
  private fastSid = -1;
  /** The hot part serves inputs whose high half is below this (their TLB key is the input). */
  private fastHiLimit = 0;
  /** The remembered stream's (non-global) TLB context. */
  private fastCtx = 0;
  /** Permission bit a read / a write of the remembered stream needs (S2CR's PRIVCFG, INSTCFG). */
  private fastNeedR = 0;
  private fastNeedW = 0;

  private readonly masters = new Map<SmmuV2Master, number[]>();

  constructor(mem: PhysMem, opts: SmmuV2Options = {}) {
    this.mem = mem;
    this.config = opts.config ?? smmuV2Config(SMMUV2_PRESET_MMU500);
    const c = this.config;
    this.name = opts.name ?? `smmu-v2(${c.name})`;
    this.idRegs = smmuV2IdRegs(c);
    this.mmioSize = 2 * c.numPage * c.pageSize;
    this.globalIrqs = opts.globalIrqs ?? [];
    this.contextIrqs = opts.contextIrqs ?? [];
    this.syncLatencyReads = opts.syncLatencyReads ?? 0;
    this.syncWaitsForStalls = opts.syncWaitsForStalls ?? true;
    if (!Number.isInteger(this.syncLatencyReads) || this.syncLatencyReads < 0) throw new RangeError(`${this.name}: bad sync latency ${this.syncLatencyReads}`);
    const wcCapacity = opts.walkCacheCapacity ?? 4096;
    if (!Number.isInteger(wcCapacity) || wcCapacity < 1 || wcCapacity > 2 ** 24) throw new RangeError(`${this.name}: bad walk cache capacity ${wcCapacity}`);
    this.tlb = new SmmuV2Tlb(opts.tlbCapacity ?? 16384, opts.walkCache !== false, wcCapacity);
    this.numS2cr = c.sms ? c.numSmr : 2 ** c.streamIdBits;
    if (!c.sms && R.SMMU2_S2CR + 4 * this.numS2cr > c.pageSize)
      throw new RangeError(`${this.name}: stream indexing with ${this.numS2cr} S2CRs does not fit a ${c.pageSize}-byte page`);
    this.smr = new Uint32Array(c.sms ? c.numSmr : 0);
    this.s2cr = new Uint32Array(this.numS2cr);
    for (let i = 0; i < c.numCb; i++) this.banks.push(new Bank(i));
    this.nested = new NestedTables((hi, lo, t) => {
      if (!this.s2Lookup(this.nestedS2!, hi, lo, this.tableAccess)) return false;
      t.paHi = this.s2Pa[0]!;
      t.paLo = this.s2Pa[1]!;
      return true;
    });
    this.reset();
  }

  private static freshStats(): SmmuV2Stats {
    return {
      translations: 0,
      bypassed: 0,
      tlbHits: 0,
      tlbMisses: 0,
      walks: 0,
      contextFaults: 0,
      globalFaults: 0,
      multiFaults: 0,
      stalls: 0,
      retries: 0,
      terminations: 0,
      resumeIgnored: 0,
      hupcfTerminated: 0,
      tlbi: {},
      syncBusyReads: 0,
    };
  }

  /** Power-on reset: registers to their reset values, TLB empty, nothing stalled. */
  reset(): void {
    this.forget();
    const c = this.config;
    this.scr0 = R.SCR0_CLIENTPD | R.SCR0_SMCFCFG;
    this.scr2 = 0;
    this.sacr = c.impl === 'mmu-500' ? c.sacrReset : 0;
    this.gfsr = this.gfsynr0 = this.gfsynr1 = this.gfsynr2 = this.gfarLo = this.gfarHi = 0;
    this.gsyncReads = 0;
    this.pendingTlbi.length = 0;
    this.smr.fill(0);
    this.s2cr.fill(R.S2CR_RESET);
    this.smCache.clear();
    for (const b of this.banks) {
      b.cbar = b.index < c.numS2Cb ? 0 : R.CBAR_RESET;
      b.cba2r = b.cbfrsynra = 0;
      b.sctlr = c.sctlrReset;
      b.actlr = c.actlrReset;
      b.tcr2 = b.ttbr0Lo = b.ttbr0Hi = b.ttbr1Lo = b.ttbr1Hi = b.tcr = b.contextidr = b.mair0 = b.mair1 = 0;
      b.fsr = b.farLo = b.farHi = b.fsynr0 = b.fsynr1 = b.ipafarLo = b.ipafarHi = 0;
      b.latch.clear();
      b.stalled = [];
      b.syncReads = 0;
      b.pendingTlbi.length = 0;
    }
    this.epoch++;
    this.tlb.reset();
    for (const l of this.globalIrqs) l.lower();
    for (const l of this.contextIrqs) l.lower();
  }

  // =========================================================================================
  // Geometry helpers (for tests and tools)

  /** Offset of context bank `n`'s register page inside the window. */
  contextBankOffset(n: number): number {
    if (!Number.isInteger(n) || n < 0 || n >= this.config.numCb) throw new RangeError(`${this.name}: no context bank ${n}`);
    return (this.config.numPage + n) * this.config.pageSize;
  }

  /** Offset of global register space 1. */
  get gr1Offset(): number {
    return this.config.pageSize;
  }

  /** Cached translations (all context banks). */
  get tlbSize(): number {
    return this.tlb.size;
  }

  /** Whether this SMMU caches walks (SmmuV2Options.walkCache). */
  get walkCacheEnabled(): boolean {
    return this.tlb.walkCacheOn;
  }

  /** The walk cache's counters (hits: misses that resumed at a cached table), or null when disabled. */
  walkCacheCounters(): ReturnType<SmmuV2Tlb['wc']['counters']> | null {
    return this.tlb.walkCacheOn ? this.tlb.wc.counters() : null;
  }

  /** Transactions currently stalled in context bank `n`. */
  stalledCount(n: number): number {
    return this.banks[n]?.stalled.length ?? 0;
  }

  // =========================================================================================
  // MMIO

  read32(offset: number): number {
    const ps = this.config.pageSize;
    const page = Math.floor(offset / ps);
    const off = offset % ps;
    if (page === 0) return this.readGr0(off) >>> 0;
    if (page === 1) return this.readGr1(off) >>> 0;
    const cb = page - this.config.numPage;
    if (cb >= 0 && cb < this.config.numCb) return this.readCb(this.banks[cb]!, off) >>> 0;
    return 0; // other global pages and unimplemented context banks: RAZ/WI
  }

  write32(offset: number, value: number): void {
    this.forget();
    const v = value >>> 0;
    const ps = this.config.pageSize;
    const page = Math.floor(offset / ps);
    const off = offset % ps;
    if (page === 0) return this.writeGr0(off, v);
    if (page === 1) return this.writeGr1(off, v);
    const cb = page - this.config.numPage;
    if (cb >= 0 && cb < this.config.numCb) this.writeCb(this.banks[cb]!, off, v, -1);
  }

  read64(offset: number): bigint {
    return u64(this.read32(offset), this.read32(offset + 4));
  }

  /** A 64-bit read as halves: the low word, then the high word (no 64-bit read has side effects). */
  read64parts(offset: number, out: { lo: number; hi: number }): void {
    out.lo = this.read32(offset);
    out.hi = this.read32(offset + 4);
  }

  write64(offset: number, value: bigint): void {
    this.write64parts(offset, Number(value & 0xffffffffn), Number((value >> 32n) & 0xffffffffn));
  }

  /**
   * A 64-bit write as halves, without a BigInt. In a context bank it is one access to a 64-bit
   * register (TTBRn, FAR, IPAFAR, and the TLBI operands TLBIVA/VAA/VAL/VAAL/IPAS2/IPAS2L, whose
   * AArch64 form takes VA[55:12] with the ASID in [63:48]): the register takes both halves at
   * once, so a TLB invalidation acts on this single write rather than waiting for a second
   * one. Elsewhere (global register pages) it is the low word, then the high word.
   */
  write64parts(offset: number, lo: number, hi: number): void {
    this.forget();
    const ps = this.config.pageSize;
    const page = Math.floor(offset / ps);
    const cb = page - this.config.numPage;
    if (page >= this.config.numPage && cb < this.config.numCb) {
      this.writeCb(this.banks[cb]!, offset % ps, lo >>> 0, hi >>> 0);
      return;
    }
    this.write32(offset, lo);
    this.write32(offset + 4, hi);
  }

  private countTlbi(name: string): void {
    this.stats.tlbi[name] = (this.stats.tlbi[name] ?? 0) + 1;
  }

  // ---- GR0 ----

  private readGr0(off: number): number {
    if (off >= R.SMMU2_SMR && off < R.SMMU2_S2CR) {
      const n = (off - R.SMMU2_SMR) >> 2;
      return n < this.smr.length && (off & 3) === 0 ? this.smr[n]! : 0;
    }
    if (off >= R.SMMU2_S2CR) {
      const n = (off - R.SMMU2_S2CR) >> 2;
      return n < this.s2cr.length && (off & 3) === 0 ? this.s2cr[n]! : 0;
    }
    switch (off) {
      case R.SMMU2_SCR0: return this.scr0;
      case R.SMMU2_SCR2: return this.scr2;
      case R.SMMU2_SACR: return this.sacr;
      case R.SMMU2_IDR0: case R.SMMU2_IDR1: case R.SMMU2_IDR2: case R.SMMU2_IDR3:
      case R.SMMU2_IDR4: case R.SMMU2_IDR5: case R.SMMU2_IDR6: case R.SMMU2_IDR7:
        return this.idRegs[(off - R.SMMU2_IDR0) >> 2]!;
      case R.SMMU2_SGFAR: return this.gfarLo;
      case R.SMMU2_SGFAR + 4: return this.gfarHi;
      case R.SMMU2_SGFSR: return this.gfsr;
      case R.SMMU2_SGFSYNR0: return this.gfsynr0;
      case R.SMMU2_SGFSYNR1: return this.gfsynr1;
      case R.SMMU2_SGFSYNR2: return this.gfsynr2;
      case R.SMMU2_TLBGSTATUS: return this.readGlobalSyncStatus();
      default: return 0; // write-only and reserved registers
    }
  }

  private scr0Writable(): number {
    const c = this.config;
    let m =
      R.SCR0_CLIENTPD | R.SCR0_GFRE | R.SCR0_GFIE | R.SCR0_TRANSIENTCFG_MASK | R.SCR0_USFCFG | R.SCR0_VMIDPNE | R.SCR0_PTM | R.SCR0_FB |
      R.SCR0_BSU_MASK | R.SCR0_MEMATTR_MASK | R.SCR0_MTCFG | R.SCR0_SHCFG_MASK | R.SCR0_RACFG_MASK | R.SCR0_WACFG_MASK | R.SCR0_NSCFG_MASK;
    if (c.gcfg) m |= R.SCR0_GCFGFRE | R.SCR0_GCFGFIE;
    if (c.vmid16) m |= R.SCR0_VMID16EN;
    return m >>> 0;
  }

  private writeGr0(off: number, v: number): void {
    const c = this.config;
    if (off >= R.SMMU2_SMR && off < R.SMMU2_S2CR) {
      const n = (off - R.SMMU2_SMR) >> 2;
      if (n < this.smr.length && (off & 3) === 0) {
        const idMask = (1 << c.streamIdBits) - 1;
        this.smr[n] = ((v & R.SMR_VALID) | (v & idMask) | (((v >>> R.SMR_MASK_SHIFT) & idMask) << R.SMR_MASK_SHIFT)) >>> 0;
        this.smCache.clear();
      }
      return;
    }
    if (off >= R.SMMU2_S2CR) {
      const n = (off - R.SMMU2_S2CR) >> 2;
      if (n < this.s2cr.length && (off & 3) === 0) this.s2cr[n] = (v & ~R.S2CR_EXIDVALID & 0x3fffffff) >>> 0;
      return;
    }
    switch (off) {
      case R.SMMU2_SCR0: {
        const w = this.scr0Writable();
        this.scr0 = ((this.scr0 & ~w) | (v & w) | R.SCR0_SMCFCFG) >>> 0;
        this.epoch++; // VMID16EN changes how VMIDs are taken
        this.updateGlobalIrq();
        return;
      }
      case R.SMMU2_SCR2: this.scr2 = v & R.SCR2_BPVMID_MASK; return;
      case R.SMMU2_SACR: this.sacr = v; return;
      case R.SMMU2_SGFAR: this.gfarLo = v; return;
      case R.SMMU2_SGFAR + 4: this.gfarHi = v; return;
      case R.SMMU2_SGFSR: this.gfsr = (this.gfsr & ~v) >>> 0; this.updateGlobalIrq(); return;
      case R.SMMU2_SGFSRRESTORE: this.gfsr = (v & (R.GFSR_FAULTS | R.GFSR_MULTI)) >>> 0; this.updateGlobalIrq(); return;
      case R.SMMU2_SGFSYNR0: this.gfsynr0 = v; return;
      case R.SMMU2_SGFSYNR1: this.gfsynr1 = v; return;
      case R.SMMU2_SGFSYNR2: this.gfsynr2 = v; return;
      case R.SMMU2_TLBIVMID:
        this.countTlbi('TLBIVMID');
        this.queueTlbi(this.pendingTlbi, TLBI_VMID, v & (this.vmid16Enabled() ? 0xffff : 0xff), 0, 0, 0);
        return;
      case R.SMMU2_TLBIALLNSNH: this.countTlbi('TLBIALLNSNH'); this.queueTlbi(this.pendingTlbi, TLBI_ALL, 0, 0, 0, 0); return;
      case R.SMMU2_TLBIALLH: this.countTlbi('TLBIALLH'); this.queueTlbi(this.pendingTlbi, TLBI_ALL, 0, 0, 0, 1); return;
      case R.SMMU2_TLBIVAH: this.countTlbi('TLBIVAH'); this.queueTlbi(this.pendingTlbi, TLBI_VA, 0, -1, (v & 0xfffff000) >>> 0, 1); return;
      case R.SMMU2_TLBGSYNC:
        this.countTlbi('TLBGSYNC');
        // a global sync completes every outstanding maintenance operation, global or per context
        this.completeTlbi(this.pendingTlbi);
        for (const b of this.banks) this.completeTlbi(b.pendingTlbi);
        this.gsyncReads = this.syncLatencyReads;
        return;
      default: return;
    }
  }

  private readGlobalSyncStatus(): number {
    let busy = this.stuckSync;
    if (!busy && this.syncWaitsForStalls) for (const b of this.banks) if (b.stalled.length) busy = true;
    if (!busy && this.gsyncReads > 0) {
      this.gsyncReads--;
      busy = true;
    }
    if (busy) this.stats.syncBusyReads++;
    return busy ? R.TLBSTATUS_ACTIVE : 0;
  }

  // ---- GR1 ----

  private readGr1(off: number): number {
    const n = (off & 0x3ff) >> 2;
    if ((off & 3) !== 0 || n >= this.banks.length || off >= 0xc00) return 0;
    const b = this.banks[n]!;
    if (off < R.SMMU2_CBFRSYNRA) return b.cbar;
    if (off < R.SMMU2_CBA2R) return b.cbfrsynra;
    return this.config.cba2r ? b.cba2r : 0;
  }

  private writeGr1(off: number, v: number): void {
    const c = this.config;
    const n = (off & 0x3ff) >> 2;
    if ((off & 3) !== 0 || n >= this.banks.length || off >= 0xc00) return;
    const b = this.banks[n]!;
    if (off < R.SMMU2_CBFRSYNRA) {
      let w = v;
      if (c.version === 2) w &= ~(0xff << R.CBAR_IRPTNDX_SHIFT); // IRPTNDX is v1 only
      if (n < c.numS2Cb) w &= ~R.CBAR_TYPE_MASK; // stage-2-only bank
      b.cbar = w >>> 0;
    } else if (off < R.SMMU2_CBA2R) {
      b.cbfrsynra = v & R.CBFRSYNRA_SID_MASK;
    } else if (c.cba2r) {
      const aarch64 = c.aarch64_4k || c.aarch64_16k || c.aarch64_64k;
      b.cba2r = ((aarch64 ? v & R.CBA2R_VA64 : 0) | (c.vmid16 ? v & 0xffff0000 : 0)) >>> 0;
    }
    this.epoch++;
  }

  // ---- Context banks ----

  private readCb(b: Bank, off: number): number {
    switch (off) {
      case R.CB_SCTLR: return b.sctlr;
      case R.CB_ACTLR: return b.actlr;
      case R.CB_TCR2: return b.tcr2;
      case R.CB_TTBR0: return b.ttbr0Lo;
      case R.CB_TTBR0 + 4: return b.ttbr0Hi;
      case R.CB_TTBR1: return b.ttbr1Lo;
      case R.CB_TTBR1 + 4: return b.ttbr1Hi;
      case R.CB_TCR: return b.tcr;
      case R.CB_CONTEXTIDR: return b.contextidr;
      case R.CB_MAIR0: return b.mair0;
      case R.CB_MAIR1: return b.mair1;
      case R.CB_FSR: return b.fsr;
      case R.CB_FAR: return b.farLo;
      case R.CB_FAR + 4: return b.farHi;
      case R.CB_FSYNR0: return b.fsynr0;
      case R.CB_FSYNR1: return b.fsynr1;
      case R.CB_IPAFAR: return b.ipafarLo;
      case R.CB_IPAFAR + 4: return b.ipafarHi;
      case R.CB_TLBSTATUS: return this.readContextSyncStatus(b);
      case R.CB_PAR: return this.atos() ? b.parLo : 0;
      case R.CB_PAR + 4: return this.atos() ? b.parHi : 0;
      default: return 0; // ATSR (operations complete at once), write-only and reserved registers
    }
  }

  private readContextSyncStatus(b: Bank): number {
    let busy = this.stuckSync || (this.syncWaitsForStalls && b.stalled.length > 0);
    if (!busy && b.syncReads > 0) {
      b.syncReads--;
      busy = true;
    }
    if (busy) this.stats.syncBusyReads++;
    return busy ? R.TLBSTATUS_ACTIVE : 0;
  }

  /** A context bank register write; `hi` >= 0 for a native 64-bit write. */
  private writeCb(b: Bank, off: number, v: number, hi: number): void {
    if (off >= R.CB_TLBIVA && off < R.CB_TLBSYNC) return this.writeTlbi(b, off, v, hi);
    switch (off) {
      case R.CB_SCTLR: b.sctlr = (v & 0x3fffffff & ~(1 << 11)) >>> 0; this.epoch++; this.updateContextIrq(b); return;
      case R.CB_ACTLR:
        if (this.config.impl === 'mmu-500' && (this.sacr & R.SACR_MMU500_CACHE_LOCK) !== 0) return; // locked
        b.actlr = v;
        return;
      case R.CB_RESUME: return this.resume(b, (v & R.RESUME_TNR) !== 0);
      case R.CB_TCR2: b.tcr2 = v; break;
      case R.CB_TTBR0: b.ttbr0Lo = v; if (hi >= 0) b.ttbr0Hi = hi >>> 0; break;
      case R.CB_TTBR0 + 4: b.ttbr0Hi = v; break;
      case R.CB_TTBR1: b.ttbr1Lo = v; if (hi >= 0) b.ttbr1Hi = hi >>> 0; break;
      case R.CB_TTBR1 + 4: b.ttbr1Hi = v; break;
      case R.CB_TCR: b.tcr = v; break;
      case R.CB_CONTEXTIDR: b.contextidr = v; break;
      case R.CB_MAIR0: b.mair0 = v; break;
      case R.CB_MAIR1: b.mair1 = v; break;
      case R.CB_FSR:
        b.fsr = (b.fsr & ~(v & (R.FSR_FAULTS | R.FSR_MULTI))) >>> 0;
        this.updateContextIrq(b);
        return;
      case R.CB_FSRRESTORE:
        b.fsr = ((b.fsr & R.FSR_SS) | (v & (R.FSR_FAULTS | R.FSR_MULTI | R.FSR_FORMAT_MASK))) >>> 0;
        this.updateContextIrq(b);
        return;
      case R.CB_FAR: b.farLo = v; if (hi >= 0) b.farHi = hi >>> 0; return;
      case R.CB_FAR + 4: b.farHi = v; return;
      case R.CB_FSYNR0: b.fsynr0 = v; return;
      case R.CB_FSYNR1: b.fsynr1 = v; return;
      case R.CB_IPAFAR: b.ipafarLo = v; if (hi >= 0) b.ipafarHi = hi >>> 0; return;
      case R.CB_IPAFAR + 4: b.ipafarHi = v; return;
      case R.CB_ATS1PR: case R.CB_ATS1PW: case R.CB_ATS1UR: case R.CB_ATS1UW:
        if (this.atos()) this.ats1(b, off, v, hi >= 0 ? hi : 0);
        return;
      case R.CB_ATS1PR + 4: case R.CB_ATS1PW + 4: case R.CB_ATS1UR + 4: case R.CB_ATS1UW + 4:
        // the high word of a 64-bit operation written as two 32-bit halves: run it again on the whole VA
        if (this.atos()) this.ats1(b, off - 4, b.atsLo, v);
        return;
      case R.CB_TLBSYNC: this.countTlbi('TLBSYNC'); this.completeTlbi(b.pendingTlbi); b.syncReads = this.syncLatencyReads; return;
      default: return;
    }
    this.epoch++; // a translation-control register changed
  }

  // =========================================================================================
  // Address translation operations (ATOS)

  /**
   * Whether this SMMU implements the stage-1 address translation operations: SMMUv2 says so in
   * ID0.ATOSNS (0 = implemented; the presets here set it, so they have none); SMMUv1 has no such
   * bit and always implements them.
   */
  private atos(): boolean {
    return this.config.version !== 2;
  }

  /**
   * ATS1PR/PW/UR/UW of a stage-1 context: a table walk of the bank's stage 1 for the VA (no TLB
   * lookup and no fill, and never a context fault: the outcome goes to PAR, not FSR). PAR in
   * the long-descriptor format: on success the PA of the page (bits above 12) with F = 0; on a
   * fault F = 1 with the fault status in bits [6:1] (translation 0b0001LL, access flag 0b0010LL,
   * permission 0b0011LL, LL the level; 0b010000 for an external abort on the walk). A bank that
   * is off, misconfigured, stage-2-only or nested reports a translation fault at level 0.
   */
  private ats1(b: Bank, off: number, lo: number, hi: number): void {
    b.atsLo = lo;
    this.decode(b);
    const fail = (fst: number): void => {
      b.parLo = (R.PAR_F | ((fst & 0x3f) << 1)) >>> 0;
      b.parHi = 0;
    };
    const cfg = b.s1;
    if ((b.sctlr & R.SCTLR_M) === 0 || b.configError !== null || cfg === null || b.type !== R.CBAR_TYPE_S1_S2BYPASS) return fail(0b000100);
    const access: WalkAccess = { write: off === R.CB_ATS1PW || off === R.CB_ATS1UW, exec: false, priv: off === R.CB_ATS1PR || off === R.CB_ATS1PW };
    const r = createWalkResult();
    const ok = cfg.kind === 'v7s' ? walkV7s(this.mem, cfg, lo >>> 0, access, r) : walkLpaeParts(this.mem, cfg, hi | 0, lo | 0, access, r);
    if (!ok) {
      const lvl = r.level & 3;
      const f = r.fault;
      return fail(f === 'access-flag' ? 0b001000 | lvl : f === 'permission' ? 0b001100 | lvl : f === 'external' ? 0b010000 : 0b000100 | lvl);
    }
    const paHi = Math.floor(r.oa * INV_TWO32);
    b.parLo = (r.oa - paHi * TWO32) & 0xfffff000;
    b.parHi = paHi & 0xffff;
  }

  // =========================================================================================
  // TLB maintenance

  private writeTlbi(b: Bank, off: number, v: number, hi: number): void {
    this.decode(b);
    const base = off & ~7;
    const upper = (off & 4) !== 0;
    let lo = v;
    let hiv = hi;
    // 64-bit operands: a 64-bit write, or (AArch64 contexts) the low half then the high half.
    const wide = base !== R.CB_TLBIASID && base !== R.CB_TLBIALL && b.fmt === FMT_AARCH64;
    if (hi < 0 && wide) {
      if (!upper) {
        b.latch.set(base, v);
        return;
      }
      lo = b.latch.get(base) ?? 0;
      b.latch.delete(base);
      hiv = v;
    } else if (upper) {
      return; // the high half of an AArch32 context's (32-bit) operand: no operation
    }
    if (hiv < 0) hiv = 0;
    const hyp = b.hyp;
    switch (base) {
      case R.CB_TLBIVA:
      case R.CB_TLBIVAL: {
        this.countTlbi(base === R.CB_TLBIVA ? 'TLBIVA' : 'TLBIVAL');
        const asid = wide ? (hiv >>> 16) & (b.asid16 ? 0xffff : 0xff) : lo & 0xff;
        this.queueTlbi(b.pendingTlbi, TLBI_VA, b.vmid, hyp ? -1 : asid, this.tlbiVaKey(b, lo, hiv, wide), (hyp ? 1 : 0) | (base === R.CB_TLBIVAL ? 2 : 0));
        return;
      }
      case R.CB_TLBIVAA:
      case R.CB_TLBIVAAL:
        this.countTlbi(base === R.CB_TLBIVAA ? 'TLBIVAA' : 'TLBIVAAL');
        this.queueTlbi(b.pendingTlbi, TLBI_VA, b.vmid, -1, this.tlbiVaKey(b, lo, hiv, wide), (hyp ? 1 : 0) | (base === R.CB_TLBIVAAL ? 2 : 0));
        return;
      case R.CB_TLBIASID:
        this.countTlbi('TLBIASID');
        if (!hyp) this.queueTlbi(b.pendingTlbi, TLBI_ASID, b.vmid, lo & (b.asid16 ? 0xffff : 0xff), 0, 0);
        return;
      case R.CB_TLBIALL:
        this.countTlbi('TLBIALL');
        this.queueTlbi(b.pendingTlbi, TLBI_S1_ALL, b.vmid, 0, 0, hyp ? 1 : 0);
        return;
      case R.CB_TLBIIPAS2:
      case R.CB_TLBIIPAS2L: {
        this.countTlbi(base === R.CB_TLBIIPAS2 ? 'TLBIIPAS2' : 'TLBIIPAS2L');
        // IPA[47:12] in bits [35:0] (AArch64) or IPA[39:12] in bits [27:0] (AArch32).
        const page = wide ? (lo >>> 0) + (hiv & 0xf) * TWO32 : lo & 0x0fffffff;
        this.queueTlbi(b.pendingTlbi, TLBI_IPA, b.vmid, 0, page * 4096, base === R.CB_TLBIIPAS2L ? 2 : 0);
        return;
      }
      default:
        return;
    }
  }

  /**
   * Queues one maintenance operation until a sync completes it. A queue that reaches
   * MAX_PENDING_TLBI operations is completed first (the hardware drains what it holds).
   */
  private queueTlbi(list: number[], kind: number, vmid: number, asid: number, key: number, hyp: number): void {
    if (list.length >= 5 * MAX_PENDING_TLBI) this.completeTlbi(list);
    list.push(kind, vmid, asid, key, hyp);
  }

  /**
   * Completes the maintenance operations in `list` (a sync reached them): until then the TLB
   * may still hold what they invalidate, and this model keeps it, so a driver that forgets the
   * sync keeps reading stale translations.
   */
  private completeTlbi(list: number[]): void {
    const tlb = this.tlb;
    for (let i = 0; i < list.length; i += 5) {
      const vmid = list[i + 1]!;
      const asid = list[i + 2]!;
      const key = list[i + 3]!;
      const hyp = (list[i + 4]! & 1) !== 0;
      const leafOnly = (list[i + 4]! & 2) !== 0;
      switch (list[i]) {
        case TLBI_ALL: tlb.invalidateAll(hyp); break;
        case TLBI_VMID: tlb.invalidateVmid(vmid); break;
        case TLBI_S1_ALL: tlb.invalidateS1All(vmid, hyp); break;
        case TLBI_ASID: tlb.invalidateAsid(vmid, asid); break;
        case TLBI_VA: tlb.invalidateVa(vmid, asid, key, hyp, leafOnly); break;
        case TLBI_IPA: tlb.invalidateIpa(vmid, key, leafOnly); break;
      }
    }
    list.length = 0;
  }

  /** TLB key of a TLBIVA-style operand: VA[48:12] (AArch64, sign-folded) or VA[31:12]. */
  private tlbiVaKey(_b: Bank, lo: number, hi: number, wide: boolean): number {
    if (!wide) return (lo & 0xfffff000) >>> 0;
    // Operand bits [43:0] hold VA[55:12]; keys keep VA[48:0] (bit 48 tells TTBR1 addresses).
    return ((lo >>> 0) + (hi & 0x1f) * TWO32) * 4096;
  }

  // =========================================================================================
  // Context configuration decode

  private vmid16Enabled(): boolean {
    return this.config.vmid16 && (this.scr0 & R.SCR0_VMID16EN) !== 0;
  }

  /** Brings a bank's decoded configuration up to date with its registers. */
  private decode(b: Bank): void {
    if (b.epoch === this.epoch) return;
    b.epoch = this.epoch;
    this.decodeFormat(b);
    // TLB context handles: entries are tagged with the VMID of the translation (the stage-2
    // bank's for a nested context), the hypervisor flag and the ASID slot.
    let vmid = b.vmid;
    if (b.type === R.CBAR_TYPE_S1_S2NESTED) {
      const s2b = this.banks[b.s2Index];
      if (s2b !== undefined && s2b !== b) {
        this.decode(s2b);
        vmid = s2b.vmid;
      }
    }
    b.ctxAsid = this.tlb.context(b.index, vmid, b.hyp, b.asid);
    b.ctxGlobal = this.tlb.context(b.index, vmid, b.hyp, SLOT_GLOBAL);
    b.ctxS2 = this.tlb.context(b.index, b.vmid, false, SLOT_S2);
    if (this.tlb.walkCacheOn) {
      b.wctxS1 = this.tlb.walkContext(b.index, vmid, b.hyp, b.asid);
      b.wctxS2 = this.tlb.walkContext(b.index, b.vmid, false, SLOT_S2);
      b.s1tag = b.s1 !== null && b.s1.kind === 'lpae' ? this.cfgTag(b.s1) : 0;
      b.s2tag = b.s2 !== null ? this.cfgTag(b.s2) : 0;
    }
  }

  /**
   * The walk-cache tag of a decoded config: equal for the same tables and geometry, so that a
   * walk only resumes in a table found under the same translation controls. Bounded as in
   * SmmuV3 (after 2^26 tags the walk cache and every bank's decode start afresh).
   */
  private cfgTag(cfg: LpaeWalkConfig): number {
    const key = JSON.stringify(cfg);
    let tag = this.cfgTags.get(key);
    if (tag === undefined) {
      if (this.cfgTags.size >= 4096) this.cfgTags.clear();
      if (this.nextCfgTag >= WALK_CACHE_TAGS) {
        this.nextCfgTag = 0;
        this.cfgTags.clear();
        this.tlb.wc.invalidateAll();
        this.epoch++;
      }
      tag = this.nextCfgTag++;
      this.cfgTags.set(key, tag);
    }
    return tag;
  }

  /**
   * A long-descriptor walk through the walk cache: resumes at the cached table for the input
   * when there is one for this config, then caches the last table the walk reached. `kHi:kLo`
   * is the input as the TLB keys it (below 2^49), `hi:lo` the input the walker sees.
   */
  private walkCached(cfg: LpaeWalkConfig, tag: number, wctx: number, kHi: number, kLo: number, hi: number, lo: number, access: WalkAccess, r: WalkResult): boolean {
    const wc = this.tlb.wc;
    const cur = this.cursor;
    const from = wc.resumeCursor(wc.lookupParts(wctx, kHi, kLo), tag, cfg, cur);
    const ok = walkLpaeParts(this.mem, cfg, hi, lo, access, r, undefined, cur);
    wc.fillFromCursor(wctx, kHi, kLo, tag, cfg, cur, from, this.mem);
    return ok;
  }

  private decodeFormat(b: Bank): void {
    const c = this.config;
    b.type = (b.cbar & R.CBAR_TYPE_MASK) >>> R.CBAR_TYPE_SHIFT;
    b.vmid = this.vmid16Enabled() ? b.cba2r >>> R.CBA2R_VMID16_SHIFT : b.cbar & R.CBAR_VMID_MASK;
    // HYPC exists for stage-1 types 1 and 2 only: in a nested CBAR bits [15:8] are the S2 bank.
    b.hyp = (b.type === R.CBAR_TYPE_S1_S2BYPASS || b.type === R.CBAR_TYPE_S1_S2FAULT) && (b.cbar & R.CBAR_HYPC) !== 0;
    b.s2Index = b.type === R.CBAR_TYPE_S1_S2NESTED ? (b.cbar & R.CBAR_S2CBNDX_MASK) >>> R.CBAR_S2CBNDX_SHIFT : -1;
    b.s1 = null;
    b.s2 = null;
    b.configError = null;
    const va64 = c.cba2r && (b.cba2r & R.CBA2R_VA64) !== 0;
    const stage2 = b.type === R.CBAR_TYPE_S2;
    b.fmt = va64 ? FMT_AARCH64 : stage2 || (b.tcr & R.TCR_EAE) !== 0 ? FMT_LONG32 : FMT_SHORT;
    b.asid16 = va64 && (b.tcr2 & R.TCR2_AS) !== 0;
    b.signBit = -1;
    const mair = u64(b.mair0, b.mair1);
    const err = (m: string): void => {
      b.configError = m;
    };
    if (stage2 && !c.s2) return err('this SMMU has no stage 2 (ID0.S2TS = 0)');
    if (!stage2 && !c.s1) return err('this SMMU has no stage 1 (ID0.S1TS = 0)');
    if (b.type === R.CBAR_TYPE_S1_S2NESTED && !c.nested) return err('this SMMU has no nested translation (ID0.NTS = 0)');
    if (b.fmt === FMT_SHORT && (!c.aarch32Short || stage2)) return err('this SMMU has no AArch32 short-descriptor contexts (ID0.PTFS)');
    if (b.fmt === FMT_LONG32 && !c.aarch32Long) return err('this SMMU has no AArch32 long-descriptor contexts (ID0.PTFS)');
    const granuleOk = (shift: number): boolean =>
      (shift === 12 && c.aarch64_4k) || (shift === 14 && c.aarch64_16k) || (shift === 16 && c.aarch64_64k);
    const oasCode = R.SMMU2_SIZE_BITS.indexOf(c.oas);
    const asidOf = (ttbrHi: number, bits: number): number => (ttbrHi >>> 16) & (bits === 16 ? 0xffff : 0xff);
    try {
      if (stage2) {
        if (b.fmt === FMT_AARCH64) {
          if (!granuleOk(tg0GranuleShift((b.tcr >>> 14) & 3))) return err('unsupported stage-2 granule');
          const ps = Math.min((b.tcr >>> 16) & 7, oasCode);
          const vtcr = BigInt(((b.tcr & ~(7 << 16)) | (ps << 16)) >>> 0);
          b.s2 = lpaeS2ConfigFromRegisters({ vttbr: u64(b.ttbr0Lo, b.ttbr0Hi), vtcr });
        } else {
          b.s2 = lpae32S2Config({ vttbr: (b.ttbr0Hi & 0xff) * TWO32 + ((b.ttbr0Lo & ~0x1f) >>> 0), t0sz: b.tcr & 0xf, sl0: (b.tcr >>> 6) & 3 });
        }
        if (b.s2.configError !== null) return err(b.s2.configError);
        return;
      }
      if (b.fmt === FMT_AARCH64) {
        const epd0 = (b.tcr & R.TCR_EPD0) !== 0;
        const epd1 = (b.tcr & R.TCR_EPD1) !== 0;
        if (!epd0 && !granuleOk(tg0GranuleShift((b.tcr >>> 14) & 3))) return err('unsupported TTBR0 granule');
        if (!epd1 && !granuleOk(tg1GranuleShift((b.tcr >>> 30) & 3))) return err('unsupported TTBR1 granule');
        const pasize = Math.min(b.tcr2 & R.TCR2_PASIZE_MASK, oasCode);
        const tcr = BigInt(b.tcr >>> 0) | (BigInt(pasize) << 32n);
        b.s1 = lpaeS1ConfigFromRegisters({ ttbr0: u64(b.ttbr0Lo, b.ttbr0Hi), ttbr1: u64(b.ttbr1Lo, b.ttbr1Hi), tcr, mair });
        b.asid = asidOf((b.tcr & R.TCR_A1) !== 0 ? b.ttbr1Hi : b.ttbr0Hi, b.asid16 ? 16 : 8);
        b.signBit = SEP_BITS[(b.tcr2 & R.TCR2_SEP_MASK) >>> R.TCR2_SEP_SHIFT]!;
        if (b.s1.configError !== null) return err(b.s1.configError);
      } else if (b.fmt === FMT_LONG32) {
        const base = (lo: number, hiw: number): number => (hiw & 0xff) * TWO32 + ((lo & ~0x1f) >>> 0);
        b.s1 = lpae32S1Config({
          ttbr0: base(b.ttbr0Lo, b.ttbr0Hi),
          ttbr1: base(b.ttbr1Lo, b.ttbr1Hi),
          t0sz: b.tcr & 7,
          t1sz: (b.tcr >>> 16) & 7,
          epd0: (b.tcr & R.TCR_EPD0) !== 0,
          epd1: (b.tcr & R.TCR_EPD1) !== 0,
          mair,
        });
        b.asid = asidOf((b.tcr & R.TCR_A1) !== 0 ? b.ttbr1Hi : b.ttbr0Hi, 8);
      } else {
        b.s1 = v7sConfigFromRegisters({
          ttbr0: b.ttbr0Lo,
          ttbr1: b.ttbr1Lo,
          ttbcr: b.tcr,
          prrr: b.mair0,
          nmrr: b.mair1,
          sctlrAfe: (b.sctlr & R.SCTLR_AFE) !== 0,
          sctlrTre: (b.sctlr & R.SCTLR_TRE) !== 0,
        });
        b.asid = b.contextidr & 0xff;
        if (b.s1.configError !== null) return err(b.s1.configError);
      }
    } catch (e) {
      if (e instanceof RangeError) return err(e.message);
      throw e;
    }
  }

  // =========================================================================================
  // Faults

  private cbIrqLine(b: Bank): IrqLine | undefined {
    if (this.config.version === 1) return this.contextIrqs[b.cbar >>> R.CBAR_IRPTNDX_SHIFT];
    return this.contextIrqs[b.index];
  }

  private updateContextIrq(b: Bank): void {
    const line = this.cbIrqLine(b);
    if (line === undefined) return;
    let high = false;
    for (const x of this.banks) {
      if ((x.fsr & R.FSR_FAULTS) !== 0 && (x.sctlr & R.SCTLR_CFIE) !== 0 && this.cbIrqLine(x) === line) {
        high = true;
        break;
      }
    }
    if (high) line.raise();
    else line.lower();
  }

  private updateGlobalIrq(): void {
    const line = this.globalIrqs[0];
    if (line === undefined) return;
    const f = this.gfsr & R.GFSR_FAULTS;
    const cfgIe = this.config.gcfg ? R.SCR0_GCFGFIE : R.SCR0_GFIE;
    const high =
      ((f & ~R.GFSR_CONFIG_FAULTS) !== 0 && (this.scr0 & R.SCR0_GFIE) !== 0) || ((f & R.GFSR_CONFIG_FAULTS) !== 0 && (this.scr0 & cfgIe) !== 0);
    if (high) line.raise();
    else line.lower();
  }

  /** Records a global fault; returns whether the transaction gets an abort (else it is terminated quietly). */
  private globalFault(bit: number, sid: number, addr: number, write: boolean): boolean {
    this.forget();
    this.stats.globalFaults++;
    if ((this.gfsr & R.GFSR_FAULTS) !== 0) {
      this.gfsr = (this.gfsr | R.GFSR_MULTI) >>> 0;
      this.stats.multiFaults++;
    } else {
      this.gfsr = (this.gfsr | bit) >>> 0;
      this.gfsynr0 = (write ? R.GFSYNR0_WNR : 0) | (this.access.priv ? R.GFSYNR0_PNU : 0) | (this.access.exec ? R.GFSYNR0_IND : 0);
      this.gfsynr1 = sid & 0xffff;
      this.gfsynr2 = 0;
      this.gfarLo = addr % TWO32 >>> 0;
      this.gfarHi = Math.floor(addr / TWO32) >>> 0;
    }
    const config = (bit & R.GFSR_CONFIG_FAULTS) !== 0 && this.config.gcfg;
    const report = (this.scr0 & (config ? R.SCR0_GCFGFRE : R.SCR0_GFRE)) !== 0;
    this.updateGlobalIrq();
    return report;
  }

  /** FSR bit of a failed walk. */
  private static fsrBit(r: WalkResult): number {
    switch (r.fault) {
      case 'access-flag': return R.FSR_AFF;
      case 'permission': case 'domain': return R.FSR_PF;
      case 'address-size': return R.FSR_ASF;
      case 'external': return R.FSR_EF;
      default: return R.FSR_TF;
    }
  }

  /**
   * Records a context fault in bank `b` (FSR/FAR/FSYNR0/CBFRSYNRA, or MULTI when a fault is
   * outstanding) and finishes the transaction: stalled (CFCFG with a requester that can wait),
   * aborted (CFRE) or terminated quietly. Returns translate()'s result. The interrupt is raised
   * last, so a handler that runs at once sees the whole record and the queued stall.
   */
  private contextFault(
    b: Bank,
    fsrBit: number,
    far: number,
    fsynr0: number,
    ipa: number,
    sid: number,
    out: SmmuV2Translation,
    requester: SmmuV2Requester | undefined,
  ): boolean {
    this.forget();
    this.stats.contextFaults++;
    if ((b.fsr & R.FSR_FAULTS) !== 0) {
      b.fsr = (b.fsr | R.FSR_MULTI) >>> 0;
      this.stats.multiFaults++;
    } else {
      b.fsr = ((b.fsr & (R.FSR_SS | R.FSR_MULTI)) | fsrBit | (b.fmt << R.FSR_FORMAT_SHIFT)) >>> 0;
      b.farLo = far % TWO32 >>> 0;
      b.farHi = Math.floor(far / TWO32) >>> 0;
      b.fsynr0 = fsynr0 >>> 0;
      b.ipafarLo = ipa % TWO32 >>> 0;
      b.ipafarHi = Math.floor(ipa / TWO32) >>> 0;
      b.cbfrsynra = sid & R.CBFRSYNRA_SID_MASK;
    }
    if (this.config.version === 1 && b.cbar >>> R.CBAR_IRPTNDX_SHIFT >= this.config.numIrpt) this.globalFault(R.GFSR_UCIF, sid, far, this.access.write);
    const result = this.finish(b, out, requester);
    this.updateContextIrq(b);
    return result;
  }

  /** Stalls or terminates a transaction that cannot proceed in bank `b`. */
  private finish(b: Bank, out: SmmuV2Translation, requester: SmmuV2Requester | undefined): boolean {
    this.forget();
    if ((b.sctlr & R.SCTLR_CFCFG) !== 0 && requester !== undefined) {
      b.fsr = (b.fsr | R.FSR_SS) >>> 0;
      b.stalled.push({ requester });
      this.stats.stalls++;
      out.stalled = true;
      return false;
    }
    if ((b.sctlr & R.SCTLR_CFRE) !== 0) return false;
    out.sink = true;
    return true;
  }

  private resume(b: Bank, terminate: boolean): void {
    this.forget();
    if ((b.fsr & R.FSR_SS) === 0) {
      this.stats.resumeIgnored++;
      return;
    }
    const list = b.stalled;
    b.stalled = [];
    b.fsr = (b.fsr & ~R.FSR_SS) >>> 0;
    for (const s of list) {
      if (terminate) this.stats.terminations++;
      else this.stats.retries++;
      s.requester.stallResolved(terminate);
    }
  }

  // =========================================================================================
  // Translation

  /** The S2CR index for a StreamID: >= 0, -1 unmatched, -2 conflict. */
  private streamMatch(sid: number): number {
    const cached = this.smCache.get(sid);
    if (cached !== undefined) return cached;
    let r = -1;
    const idMask = (1 << this.config.streamIdBits) - 1;
    if (!Number.isInteger(sid) || sid < 0 || sid > idMask) {
      r = -1; // beyond the implemented StreamID bits: unidentified
    } else if (!this.config.sms) {
      r = sid < this.numS2cr ? sid : -1;
    } else {
      for (let i = 0; i < this.smr.length; i++) {
        const smr = this.smr[i]!;
        if ((smr & R.SMR_VALID) === 0) continue;
        const id = smr & idMask;
        const mask = (smr >>> R.SMR_MASK_SHIFT) & idMask;
        if (((sid ^ id) & ~mask & idMask) !== 0) continue;
        if (r >= 0) {
          r = -2;
          break;
        }
        r = i;
      }
    }
    if (this.smCache.size > 65536) this.smCache.clear();
    this.smCache.set(sid, r);
    return r;
  }

  /**
   * Translates one transaction of StreamID `streamId` at upstream address `iova`. Writes the PA
   * to `out.pa` and returns true; returns false for an aborted transaction (or, with
   * `out.stalled`, a stalled one that `requester` will be told about). A true return with
   * `out.sink` means terminated without an abort. Allocation-free on TLB hits and on misses.
   */
  translate(streamId: number, iova: number, write: boolean, out: SmmuV2Translation, requester?: SmmuV2Requester): boolean {
    // A wrapper small enough for V8 to inline into its callers: the address goes on as int32
    // halves, so no call on the translation path boxes a double (a double argument of a call V8
    // does not inline is a fresh heap number per translation).
    // (`iova | 0` is the low word of an integer below 2^53: ToInt32 is modulo 2^32.)
    return this.translateParts(streamId, Math.floor(iova * INV_TWO32) | 0, iova | 0, write, out, requester);
  }

  /**
   * `translate` with the upstream address as its 32-bit halves (int32 or u32 bit patterns), for
   * callers that hold halves (DmaMaster's parts translator, register pairs).
   */
  translateParts(streamId: number, hi: number, lo: number, write: boolean, out: SmmuV2Translation, requester?: SmmuV2Requester): boolean {
    // The hot part: a TLB hit (in the context's non-global entries) of the remembered stream
    // (see `fastSid`), and nothing else. Kept small in bytecode so that V8 inlines it (with
    // `translate` and what it calls: `lookupOne`, `perms`, `outputFlat`) into the callers'
    // loops and a hit makes no call; V8 inlines a function whose bytecode (its own plus, once
    // it has optimized code, everything that code inlined) times 1.2 fits 920 bytes per
    // compiled function: check with `--trace-turbo-inlining` after changing it. Everything
    // else goes to `translateSlow` with the input as int32 halves.
    let e = -3;
    if (streamId === this.fastSid && hi >>> 0 < this.fastHiLimit) {
      const tlb = this.tlb.tlb;
      e = tlb.lookupOne(this.fastCtx, hi, lo);
      if (e >= 0 && (tlb.perms(e) & (write ? this.fastNeedW : this.fastNeedR)) !== 0) {
        const st = this.stats;
        st.translations++;
        st.tlbHits++;
        out.pa = tlb.outputFlat(e, hi, lo);
        return true;
      }
    }
    return this.translateSlow(streamId, hi | 0, lo | 0, write, out, requester, e);
  }

  /** Forgets the remembered stream: its next translation goes out of line. */
  private forget(): void {
    this.fastSid = -1;
    this.fastHiLimit = 0;
  }

  /**
   * `translateParts` for everything its hot part does not do. `e` is what the hot part's probe
   * of the remembered stream's non-global context found (−2: a context `lookupSmall` does not
   * probe, −1: a miss, else an entry the access may not use), or −3 when it did not probe.
   */
  private translateSlow(streamId: number, hi: number, lo: number, write: boolean, out: SmmuV2Translation, requester: SmmuV2Requester | undefined, e: number): boolean {
    const st = this.stats;
    st.translations++;
    const access = this.access;
    access.write = write;
    access.exec = false;
    access.priv = false;
    if ((this.scr0 & R.SCR0_CLIENTPD) !== 0) return this.bypass(hi, lo, out);
    const idx = this.streamMatch(streamId);
    if (idx < 0) {
      if (idx === -2) return this.globalTerminate(R.GFSR_SMCF, streamId, addrOf(hi, lo), write, out);
      if ((this.scr0 & R.SCR0_USFCFG) !== 0) return this.globalTerminate(R.GFSR_USF, streamId, addrOf(hi, lo), write, out);
      return this.bypass(hi, lo, out);
    }
    const s2cr = this.s2cr[idx]!;
    const type = (s2cr & R.S2CR_TYPE_MASK) >>> R.S2CR_TYPE_SHIFT;
    const privcfg = (s2cr & R.S2CR_PRIVCFG_MASK) >>> R.S2CR_PRIVCFG_SHIFT;
    access.priv = privcfg === R.S2CR_PRIVCFG_PRIV;
    access.exec = (s2cr & R.S2CR_INSTCFG_MASK) >>> R.S2CR_INSTCFG_SHIFT === 3;
    if (type === R.S2CR_TYPE_BYPASS) return this.bypass(hi, lo, out);
    if (type !== R.S2CR_TYPE_TRANS) {
      // S2CR fault type (or the reserved encoding): the transaction is terminated with an abort.
      return false;
    }
    const cbndx = s2cr & R.S2CR_CBNDX_MASK;
    if (cbndx >= this.banks.length) return this.globalTerminate(R.GFSR_UCBF, streamId, addrOf(hi, lo), write, out);
    const b = this.banks[cbndx]!;
    this.decode(b);
    let s2b: Bank | undefined;
    if (b.type === R.CBAR_TYPE_S1_S2NESTED) {
      s2b = this.banks[b.s2Index];
      if (s2b === undefined) return this.globalTerminate(R.GFSR_ICF, streamId, addrOf(hi, lo), write, out);
      this.decode(s2b);
      if (s2b.type !== R.CBAR_TYPE_S2) return this.globalTerminate(R.GFSR_ICF, streamId, addrOf(hi, lo), write, out);
    }
    // Hit under previous context fault: without HUPCF an outstanding fault holds the context.
    if (this.faultOutstanding(b) || (s2b !== undefined && this.faultOutstanding(s2b))) return this.hupcfTerminate(b, s2b, out, requester);
    if (b.type === R.CBAR_TYPE_S2) return this.translateS2Only(b, streamId, hi, lo, out, requester);
    if (s2b !== undefined) return this.translateNested(b, s2b, streamId, hi, lo, out, requester);
    return this.translateS1(b, streamId, hi, lo, out, requester, e);
  }

  /** A transaction that passes untranslated. */
  private bypass(hi: number, lo: number, out: SmmuV2Translation): boolean {
    this.stats.bypassed++;
    out.pa = (hi >>> 0) * TWO32 + (lo >>> 0);
    return true;
  }

  private hupcfTerminate(b: Bank, s2b: Bank | undefined, out: SmmuV2Translation, requester: SmmuV2Requester | undefined): boolean {
    const hb = this.faultOutstanding(b) ? b : s2b!;
    this.stats.hupcfTerminated++;
    // Terminated under an outstanding fault: another error while FSR is non-zero.
    if ((hb.fsr & R.FSR_FAULTS) !== 0 && (hb.fsr & R.FSR_MULTI) === 0) hb.fsr = (hb.fsr | R.FSR_MULTI) >>> 0;
    return this.finish(hb, out, requester);
  }

  private faultOutstanding(b: Bank): boolean {
    return (b.sctlr & R.SCTLR_HUPCF) === 0 && (b.fsr & (R.FSR_FAULTS | R.FSR_SS)) !== 0;
  }

  private globalTerminate(bit: number, sid: number, addr: number, write: boolean, out: SmmuV2Translation): boolean {
    if (this.globalFault(bit, sid, addr, write)) return false;
    out.sink = true;
    return true;
  }

  private fsynr0Of(r: WalkResult | null, ptwf: boolean): number {
    const a = this.access;
    let v = (a.write ? R.FSYNR0_WNR : 0) | (a.priv ? R.FSYNR0_PNU : 0) | (a.exec ? R.FSYNR0_IND : 0);
    if (r !== null) v |= r.level & R.FSYNR0_PLVL_MASK;
    if (ptwf || (r !== null && r.fault === 'external')) v |= R.FSYNR0_PTWF;
    return v;
  }

  /** Stage-2-only context: the upstream address (halves) is the IPA. */
  private translateS2Only(b: Bank, sid: number, hi: number, lo: number, out: SmmuV2Translation, requester: SmmuV2Requester | undefined): boolean {
    if ((b.sctlr & R.SCTLR_M) === 0) return this.bypass(hi, lo, out);
    if (b.configError !== null || b.s2 === null) return this.contextFault(b, R.FSR_TF, addrOf(hi, lo), this.fsynr0Of(null, false), addrOf(hi, lo), sid, out, requester);
    const tlb = this.tlb.tlb;
    const e = tlb.lookupParts(b.ctxS2, hi, lo);
    if (e >= 0 && permits(tlb.perms(e), this.access)) {
      this.stats.tlbHits++;
      out.pa = tlb.outputParts(e, hi, lo);
      return true;
    }
    return this.s2OnlyMiss(b, sid, hi, lo, out, requester);
  }

  private s2OnlyMiss(b: Bank, sid: number, hi: number, lo: number, out: SmmuV2Translation, requester: SmmuV2Requester | undefined): boolean {
    this.stats.tlbMisses++;
    // The common miss first (only int32 halves cross the call).
    if (this.tlb.walkCacheOn && b.s2!.fastWalk && this.s2CachedLeaf(b, hi, lo, out)) return true;
    const r = this.wr2;
    if (!this.walkS2(b, hi, lo, this.access, r)) {
      const ipa = addrOf(hi, lo);
      return this.contextFault(b, SmmuV2.fsrBit(r), ipa, this.fsynr0Of(r, false), ipa, sid, out, requester);
    }
    this.insertWalk(b.ctxS2, hi, lo, (r.size === 4096 ? 12 : tlbSizeShift(r.size)), r, r.perms);
    out.pa = r.oa;
    return true;
  }

  /**
   * Caches the walk result `r` for the input block holding `hi:lo` (its output address split
   * here, so that no double crosses a call).
   */
  private insertWalk(ctx: number, hi: number, lo: number, shift: number, r: WalkResult, perms: number): void {
    const oa = r.oa;
    const oHi = Math.floor(oa * INV_TWO32);
    this.tlb.tlb.insertHalves(ctx, hi, lo, shift, oHi | 0, (oa - oHi * TWO32) | 0, perms, 0);
  }

  /** Walks stage 2 of bank `b` (VTTBR, never nested) for the IPA `hi:lo`: fills `r`. */
  private walkS2(b: Bank, hi: number, lo: number, access: WalkAccess, r: WalkResult): boolean {
    this.stats.walks++;
    if (this.tlb.walkCacheOn) return this.walkCached(b.s2!, b.s2tag, b.wctxS2, hi, lo, hi, lo, access, r);
    return walkLpaeParts(this.mem, b.s2!, hi, lo, access, r);
  }

  /**
   * Stage-2 translation of the IPA `hi:lo` for a nested context, through the TLB (stage-2
   * entries of the stage-2 bank). Returns true with the PA in `s2Pa` (and the block
   * size and permissions in `s2Shift`/`s2Perms`), or false with the walk result in `wr2`.
   */
  private s2Lookup(s2b: Bank, hi: number, lo: number, access: WalkAccess): boolean {
    const tlb = this.tlb.tlb;
    const e = tlb.lookupParts(s2b.ctxS2, hi, lo);
    if (e >= 0 && permits(tlb.perms(e), access)) {
      this.s2Shift = tlb.shift(e);
      this.s2Perms = tlb.perms(e);
      tlb.outputHalves(e, hi, lo, this.s2Pa);
      return true;
    }
    if (s2b.configError !== null || s2b.s2 === null) {
      this.wr2.fault = 'translation';
      this.wr2.level = 0;
      return false;
    }
    const r = this.wr2;
    if (!this.walkS2(s2b, hi, lo, access, r)) return false;
    const shift = r.size === 4096 ? 12 : tlbSizeShift(r.size);
    this.insertWalk(s2b.ctxS2, hi, lo, shift, r, r.perms);
    this.s2Shift = shift;
    this.s2Perms = r.perms;
    const oa = r.oa;
    const oHi = Math.floor(oa * INV_TWO32);
    this.s2Pa[0] = oHi;
    this.s2Pa[1] = (oa - oHi * TWO32) | 0;
    return true;
  }

  /**
   * A stage-1 bank (not nested: see `translateNested`). `pe` is the hot part's probe (see
   * `translateSlow`). Remembers the stream for the hot part once nothing is in the way.
   */
  private translateS1(b: Bank, sid: number, hi: number, lo: number, out: SmmuV2Translation, requester: SmmuV2Requester | undefined, pe: number): boolean {
    if ((b.sctlr & R.SCTLR_M) === 0 || b.configError !== null) return this.translateS1Special(b, undefined, sid, hi, lo, out, requester);
    const kHi = tlbKeyHi(b.signBit, hi, lo);
    if (kHi < 0) return this.contextFault(b, R.FSR_TF, addrOf(hi, lo), this.fsynr0Of(null, false), 0, sid, out, requester);
    const tlb = this.tlb.tlb;
    if (this.fastSid !== sid) this.remember(b, sid);
    // The hot part probed the non-global context already (its key is the input then).
    const e = pe === -3 || pe === -2 ? tlb.lookupParts(b.ctxAsid, kHi, lo) : pe;
    if (e >= 0 && permits(tlb.perms(e), this.access)) {
      this.stats.tlbHits++;
      out.pa = tlb.outputParts(e, kHi, lo);
      return true;
    }
    // The global entries are probed in `s1Miss`, out of line: stage-1 hits of a remembered
    // stream stay in the hot part, so this function is reached mostly on misses, and with a
    // second probe here V8 inlines that one first (the more frequent) and leaves `permits` out
    // of the budget: every hit that comes here would make a call (BENCHMARKS.md, Issue 9).
    return this.s1Miss(b, undefined, sid, hi, lo, kHi, lo | 0, out, requester, e < 0);
  }

  /**
   * A nested bank's stage 1 over `s2b`: `translateS1` without the hot part's probe and without
   * remembering, kept apart so that its calls have their own type feedback. Sharing
   * `translateS1`, whose feedback is now mostly the stage-1 misses, made every nested hit ~3 ns
   * slower in the benchmark (BENCHMARKS.md, Issue 9).
   */
  private translateNested(b: Bank, s2b: Bank, sid: number, hi: number, lo: number, out: SmmuV2Translation, requester: SmmuV2Requester | undefined): boolean {
    if ((b.sctlr & R.SCTLR_M) === 0 || b.configError !== null || (s2b.configError !== null && (s2b.sctlr & R.SCTLR_M) !== 0))
      return this.translateS1Special(b, s2b, sid, hi, lo, out, requester);
    const kHi = tlbKeyHi(b.signBit, hi, lo);
    if (kHi < 0) return this.contextFault(b, R.FSR_TF, addrOf(hi, lo), this.fsynr0Of(null, false), 0, sid, out, requester);
    const tlb = this.tlb.tlb;
    const e = tlb.lookupParts(b.ctxAsid, kHi, lo);
    if (e >= 0 && permits(tlb.perms(e), this.access)) {
      this.stats.tlbHits++;
      out.pa = tlb.outputParts(e, kHi, lo);
      return true;
    }
    return this.s1Miss(b, s2b, sid, hi, lo, kHi, lo | 0, out, requester, e < 0);
  }

  /**
   * Remembers stream `sid` of stage-1 bank `b` (not nested; translating) for the hot part: the
   * inputs whose TLB key is the input itself (below the sign bit's half of the range), the
   * bank's non-global context, and the permission bit reads and writes need.
   */
  private remember(b: Bank, sid: number): void {
    const sb = b.signBit;
    this.fastHiLimit = sb < 0 ? 1 : sb >= 48 ? 1 << 17 : sb >= 32 ? 2 ** (sb - 32) : 0;
    this.fastSid = sid;
    this.fastCtx = b.ctxAsid;
    const a = this.access;
    const w = a.write;
    a.write = false;
    this.fastNeedR = permBit(a);
    a.write = true;
    this.fastNeedW = permBit(a);
    a.write = w;
  }

  /** Stage 1 disabled, or a configuration error in either stage. */
  private translateS1Special(b: Bank, s2b: Bank | undefined, sid: number, hi: number, lo: number, out: SmmuV2Translation, requester: SmmuV2Requester | undefined): boolean {
    const s1on = (b.sctlr & R.SCTLR_M) !== 0;
    const iova = addrOf(hi, lo);
    if (b.configError !== null && s1on) return this.contextFault(b, R.FSR_TF, iova, this.fsynr0Of(null, false), 0, sid, out, requester);
    if (s2b !== undefined && s2b.configError !== null && (s2b.sctlr & R.SCTLR_M) !== 0)
      return this.contextFault(s2b, R.FSR_TF, iova, this.fsynr0Of(null, false) | (b.index << R.FSYNR0_S1CBNDX_SHIFT), iova, sid, out, requester);
    // Stage 1 disabled: the input address is the IPA.
    if (b.type === R.CBAR_TYPE_S1_S2FAULT) return this.contextFault(b, R.FSR_TF, iova, this.fsynr0Of(null, false), iova, sid, out, requester);
    if (s2b === undefined || (s2b.sctlr & R.SCTLR_M) === 0) return this.bypass(hi, lo, out);
    if (!this.s2Lookup(s2b, hi, lo, this.access)) return this.s2Fault(b, s2b, iova, iova, false, sid, out, requester);
    out.pa = (this.s2Pa[0]! >>> 0) * TWO32 + (this.s2Pa[1]! >>> 0);
    return true;
  }

  /**
   * A stage-1 TLB miss in the context's non-global entries: the input `hi:lo`, the TLB key
   * `kHi:kLo`. With `probeGlobal` (no non-global entry held the key) the global entries are
   * probed first and a usable one is a hit.
   */
  private s1Miss(b: Bank, s2b: Bank | undefined, sid: number, hi: number, lo: number, kHi: number, kLo: number, out: SmmuV2Translation, requester: SmmuV2Requester | undefined, probeGlobal: boolean): boolean {
    if (probeGlobal) {
      const tlb = this.tlb.tlb;
      const g = tlb.lookupParts(b.ctxGlobal, kHi, kLo);
      if (g >= 0 && permits(tlb.perms(g), this.access)) {
        this.stats.tlbHits++;
        out.pa = tlb.outputParts(g, kHi, kLo);
        return true;
      }
    }
    const st = this.stats;
    st.tlbMisses++;
    st.walks++;
    const cfg = b.s1!;
    const nested = s2b !== undefined && (s2b.sctlr & R.SCTLR_M) !== 0;
    // The common miss first (only int32 halves cross the call).
    if (!nested && b.type !== R.CBAR_TYPE_S1_S2FAULT && this.tlb.walkCacheOn && cfg.kind === 'lpae' && cfg.fastWalk && this.s1CachedLeaf(b, cfg, kHi, kLo, out)) return true;
    const r = this.wr;
    const access = this.access;
    let ok: boolean;
    let tables: WalkTableTranslator | undefined;
    if (nested) {
      this.nestedS2 = s2b;
      tables = this.nested.reset();
    }
    if (cfg.kind === 'v7s') {
      ok = walkV7s(this.mem, cfg, kLo >>> 0, access, r, tables);
    } else {
      // The walker sees the key sign-extended again from bit 48.
      const wHi = kHi >= 0x10000 ? kHi | 0xfffe0000 : kHi;
      ok =
        tables === undefined && this.tlb.walkCacheOn
          ? this.walkCached(cfg, b.s1tag, b.wctxS1, kHi, kLo, wHi, kLo, access, r)
          : walkLpaeParts(this.mem, cfg, wHi, kLo, access, r, tables);
    }
    if (!ok) {
      if (tables !== undefined && this.nested.faulted) {
        // Stage 2 faulted on a stage-1 table fetch.
        return this.s2Fault(b, s2b!, addrOf(hi, lo), this.nested.ipa, true, sid, out, requester);
      }
      return this.contextFault(b, SmmuV2.fsrBit(r), addrOf(hi, lo), this.fsynr0Of(r, false), 0, sid, out, requester);
    }
    if (b.type === R.CBAR_TYPE_S1_S2FAULT) return this.contextFault(b, R.FSR_TF, addrOf(hi, lo), this.fsynr0Of(null, false), r.oa, sid, out, requester);
    const ctx = r.nG ? b.ctxAsid : b.ctxGlobal;
    // (The 4 KiB page decided here: r.size is a double, and as the argument of a call V8 does
    // not inline it would be a heap number per walk.)
    let shift = r.size === 4096 ? 12 : tlbSizeShift(r.size);
    if (!nested) {
      this.insertWalk(ctx, kHi, kLo, shift, r, r.perms);
      out.pa = r.oa;
      return true;
    }
    const ipa = r.oa;
    const iHi = Math.floor(ipa * INV_TWO32);
    if (!this.s2Lookup(s2b!, iHi | 0, (ipa - iHi * TWO32) | 0, access)) return this.s2Fault(b, s2b!, addrOf(hi, lo), ipa, false, sid, out, requester);
    // The stage-2 block size bounds the combined entry; the permissions come from both stages.
    if (this.s2Shift < shift) shift = this.s2Shift;
    const paHi = this.s2Pa[0]!;
    const paLo = this.s2Pa[1]!;
    this.tlb.tlb.insertHalves(ctx, kHi, kLo, shift, paHi, paLo, r.perms & this.s2Perms, 0);
    out.pa = (paHi >>> 0) * TWO32 + (paLo >>> 0);
    return true;
  }
  /**
   * The common stage-1 miss of a bank that is not nested: a leaf in the table the walk cache
   * remembers for the input (the TLB key as halves). Then it does what the walk would (walkCached
   * resumes at that table and reads the same descriptor): the entry goes into the TLB (global
   * when the leaf's nG is clear) and the PA into `out`. Otherwise it returns false having
   * changed nothing, and the caller walks.
   */
  private s1CachedLeaf(b: Bank, cfg: LpaeWalkConfig, kHi: number, kLo: number, out: SmmuV2Translation): boolean {
    // In one step when the walk cache's remembered table is decoded (SetTlb.fillLeaf: the same
    // leaf, entry, context and counts as below); else as below, then decoded for the next.
    const tlb = this.tlb.tlb;
    const wc = this.tlb.wc;
    // (Also reached after a hit the access may not use: not `missed`.)
    const f = tlb.fillLeaf(b.ctxAsid, b.ctxGlobal, b.wctxS1, b.s1tag, cfg, kHi, kLo, permBit(this.access), wc.leaf, false);
    if (f >= 0) {
      out.pa = tlb.outputParts(f, kHi, kLo);
      return true;
    }
    const res = this.fastRes;
    if (!wc.fastLeaf(b.wctxS1, b.s1tag, cfg, kHi, kLo, this.access, res)) return false;
    wc.primeLeaf(b.wctxS1, b.s1tag, cfg, kHi, kLo);
    const oaHi = res[FAST_OA_HI]!;
    const oaLo = res[FAST_OA_LO]!;
    const ctx = (res[FAST_DESC_LO]! & 0x800) === 0 ? b.ctxGlobal : b.ctxAsid;
    this.tlb.tlb.insertHalves(ctx, kHi, kLo, res[FAST_SHIFT]!, oaHi, oaLo, res[FAST_PERMS]!, 0);
    out.pa = (oaHi >>> 0) * TWO32 + (oaLo >>> 0);
    return true;
  }

  /**
   * `s1CachedLeaf` for a stage-2-only bank (input: the IPA as halves); counts the walk it
   * stands for (`walkS2` counts it otherwise).
   */
  private s2CachedLeaf(b: Bank, hi: number, lo: number, out: SmmuV2Translation): boolean {
    const tlb = this.tlb.tlb;
    const wc = this.tlb.wc;
    const f = tlb.fillLeaf(b.ctxS2, b.ctxS2, b.wctxS2, b.s2tag, b.s2!, hi, lo, permBit(this.access), wc.leaf, false);
    if (f >= 0) {
      this.stats.walks++;
      out.pa = tlb.outputParts(f, hi, lo);
      return true;
    }
    const res = this.fastRes;
    if (!wc.fastLeaf(b.wctxS2, b.s2tag, b.s2!, hi, lo, this.access, res)) return false;
    wc.primeLeaf(b.wctxS2, b.s2tag, b.s2!, hi, lo);
    this.stats.walks++;
    const oaHi = res[FAST_OA_HI]!;
    const oaLo = res[FAST_OA_LO]!;
    this.tlb.tlb.insertHalves(b.ctxS2, hi, lo, res[FAST_SHIFT]!, oaHi, oaLo, res[FAST_PERMS]!, 0);
    out.pa = (oaHi >>> 0) * TWO32 + (oaLo >>> 0);
    return true;
  }

  /** A stage-2 fault of a nested translation, recorded in the stage-2 bank. */
  private s2Fault(s1b: Bank, s2b: Bank, iova: number, ipa: number, ptwf: boolean, sid: number, out: SmmuV2Translation, requester: SmmuV2Requester | undefined): boolean {
    const r = this.wr2;
    const fsynr0 = this.fsynr0Of(r, ptwf) | (s1b.index << R.FSYNR0_S1CBNDX_SHIFT);
    return this.contextFault(s2b, SmmuV2.fsrBit(r), iova, fsynr0, ipa, sid, out, requester);
  }

  // =========================================================================================
  // Masters

  /**
   * Attaches a bus master: its transactions carry the first of `streamIds` (the others are
   * recorded, as a device tree may list several). Any object with `setTranslator` works; one
   * with `stallResolved` can have transactions stalled (SCTLR.CFCFG), others are terminated.
   */
  attachMaster(master: SmmuV2Master, streamIds: readonly number[]): void {
    if (streamIds.length === 0) throw new RangeError(`${this.name}: a master needs a StreamID`);
    for (const sid of streamIds)
      if (!Number.isInteger(sid) || sid < 0 || sid >= 2 ** this.config.streamIdBits)
        throw new RangeError(
          `${this.name}: StreamID ${Number.isSafeInteger(sid) && sid >= 0 ? hex(sid) : typeof sid === 'bigint' ? `${String(sid)}n (a BigInt; stream IDs are numbers)` : String(sid)} is outside the ${this.config.streamIdBits}-bit StreamID space`,
        );
    const sid = streamIds[0]!;
    const requester: SmmuV2Requester | undefined = typeof master.stallResolved === 'function' ? (master as SmmuV2Requester) : undefined;
    master.setTranslator(
      (_sid, iova, write, out) => this.translate(sid, iova, write, out, requester),
      (_sid, hi, lo, write, out) => this.translateParts(sid, hi, lo, write, out, requester),
    );
    this.masters.set(master, [...streamIds]);
  }

  detachMaster(master: SmmuV2Master): void {
    if (!this.masters.delete(master)) return;
    master.setTranslator(undefined);
  }

  get attachedMasters(): readonly SmmuV2Master[] {
    return [...this.masters.keys()];
  }

  /** The StreamIDs a master was attached with (first = the one its transactions carry). */
  masterStreamIds(master: SmmuV2Master): readonly number[] | undefined {
    return this.masters.get(master);
  }
}

/** Stage-2 translation of a nested stage-1 walk's table fetches (allocation-free, reused). */
class NestedTables implements WalkTableTranslator {
  faulted = false;
  /** The IPA whose stage-2 translation faulted. */
  ipa = 0;
  paHi = 0;
  paLo = 0;

  /** `lookup` translates the IPA `hi:lo` into `t.paHi`/`t.paLo`, or returns false. */
  constructor(private readonly lookup: (hi: number, lo: number, t: NestedTables) => boolean) {}

  reset(): this {
    this.faulted = false;
    return this;
  }

  tableAddress(hi: number, lo: number): boolean {
    if (this.lookup(hi | 0, lo | 0, this)) return true;
    this.faulted = true;
    this.ipa = addrOf(hi, lo);
    return false;
  }
}

/** The address of int32 (or u32) halves. */
function addrOf(hi: number, lo: number): number {
  return (hi >>> 0) * TWO32 + (lo >>> 0);
}

/**
 * The high half of a stage-1 TLB key: VA[48:0] of the input sign-extended from bank bit
 * `signBit` (−1: a 32-bit input space), or −1 when the input is out of range (a translation
 * fault). int32 throughout: a u32 here would make V8 box the key's high half on later calls.
 */
function tlbKeyHi(signBit: number, hi: number, lo: number): number {
  const kHi = hi | 0;
  if (signBit < 0 ? kHi !== 0 : kHi >>> 17 !== 0) return -1;
  if (signBit < 0 || signBit >= 48) return kHi;
  if (signBit === 31) return lo < 0 ? 0x1ffff : 0;
  const m = (1 << (signBit - 31)) - 1;
  return (kHi & m) | ((kHi >>> (signBit - 32)) & 1 ? 0x1ffff & ~m : 0);
}
