/**
 * An Arm SMMUv3 model (`arm,smmu-v3`), written from the architecture (IHI 0070).
 *
 * Software programs it the way the Linux driver does: registers over MMIO, and the stream
 * table, context descriptors, command and event queues and page tables in PhysMem. The model
 * keeps an explicit configuration cache (decoded STEs and CDs), a TLB and a walk cache (the
 * tables walks reach); all are filled on demand and emptied only by the architected CFGI_* /
 * TLBI_* commands (a TLBI by address with Leaf = 1 leaves walk entries), so a driver that skips
 * an invalidation keeps seeing the old configuration, translation or table, as on hardware.
 *
 * Translation uses the hardware LPAE walker of this package (`walkLpaeParts`) for stage 1
 * and stage 2. Faults are reported as event records in the event queue.
 *
 * Nested translation (STE.Config = 0b111): the CD pointer and L1CD descriptors are IPAs that
 * stage 2 translates when a CD is fetched; every table access of a stage-1 walk (the TTB0 or
 * TTB1 base and each next-level table address) is an IPA that stage 2 translates through the
 * walker's `WalkTableTranslator` hook, using and filling the stage-2 TLB entries of the VMID,
 * so TLBI_S2_IPA / TLBI_S12_VMALL reach them. A stage-2 fault on such a fetch is a stage-2
 * event with CLASS = TT, the IPA of the fetch and TTRnW = 1 (read). A hardware AF/dirty update
 * of a stage-1 descriptor (CD.HA/HD) is a write of the stage-1 table: stage 2 must permit it as a
 * write (updating its own descriptor's AF/dirty state when STE.S2HA/S2HD allow), else the
 * transaction takes a stage-2 fault of CLASS = TT with TTRnW = 0 (write) and the stage-1
 * descriptor stays unchanged. Nested stage-1 walks are walk-cached like stage-1-only ones, under
 * the same (VMID, ASID) context: an entry holds the IPA of the table the walk reached (its PA
 * comes from stage 2 at each use), so the TLBI_NH_* commands and TLBI_S12_VMALL drop them and a
 * forgotten one leaves the old stage-1 table in use, as on hardware.
 *
 * Simplifications (documented in the README): no stalls (every fault terminates), no ATS/PRI
 * traffic (their commands are accepted and ignored), AArch64 tables only, little-endian only,
 * no secure state.
 */
import type { MmioDevice } from '../../bus.js';
import type { IrqLine } from '../../irq.js';
import { BusError, PhysMem } from '../../mem.js';
import {
  createLpaeCursor,
  FAST_OA_HI,
  FAST_OA_LO,
  FAST_PERMS,
  FAST_SHIFT,
  FAST_SLOTS,
  lpaeFastLeaf,
  lpaeS1Config,
  lpaeS2Config,
  walkLpaeFast,
  walkLpaeParts,
  type LpaeWalkConfig,
} from '../../walk/lpae.js';
import { createWalkResult, PERM_ALL, PERM_PRIV_R, PERM_PRIV_W, PERM_PRIV_X, PERM_USER_R, PERM_USER_W, PERM_USER_X, permits, type WalkAccess, type WalkResult, type WalkTableTranslator } from '../../walk/types.js';
import type { DmaTranslation, DmaTranslator, DmaTranslatorParts } from '../dma-master.js';
import { tlbSizeShift, WALK_CACHE_DEFAULT_CAPACITY, WALK_CACHE_TAGS, WalkCache, type TlbCounters, type WalkLeaf } from '../tlb.js';
import { SetTlb, SET_TLB_DEFAULT_WAYS } from '../set-tlb.js';
import { decodeSmmuV3Caps, SMMUV3_PRESET_FVP, type SmmuV3Caps, type SmmuV3Preset } from './presets.js';
import * as R from './regs.js';

const TWO32 = 2 ** 32;
const INV_TWO32 = 2 ** -32;
/** Tag slot meaning "no stage 1" (ASID) or "EL2 regime" (VMID). */
const SLOT_NONE = 0x10000;
/** Results of resolving a stream's configuration (in `translateParts`) other than a TLB context. */
const CTX_BYPASS = -1;
/** Aborted without an event. */
const CTX_ABORT = -2;
/** Aborted; the event was written. */
const CTX_FAULT = -3;
/** Key multiplier of (StreamID, SubstreamID) pairs. */
const SSID_MUL = 2 ** 20;

/** The result slot of `translate` (compatible with DmaTranslation). */
/** What an SMMUv3 attaches: a master with a translation hook and a default stream ID (DmaMaster, BusMasterPort). */
export interface SmmuV3Master {
  readonly streamId: number;
  setTranslator(fn: DmaTranslator | undefined, parts?: DmaTranslatorParts): void;
}

export interface SmmuTranslation {
  pa: number;
}

/** A decoded event record (for tests and logs; `decodeSmmuEvent`). */
export interface SmmuEvent {
  type: number;
  ssv: boolean;
  ssid: number;
  sid: number;
  stag: number;
  stall: boolean;
  pnu: boolean;
  ind: boolean;
  rnw: boolean;
  s2: boolean;
  cls: number;
  ttrnw: boolean;
  inputAddr: number;
  /** dw3 as a number: the IPA (bits [51:12]) or the fetch address (bits [51:3]). */
  dw3: number;
}

/**
 * A programming error the architecture leaves CONSTRAINED UNPREDICTABLE and the model refuses:
 * a write to a register guarded by an enable bit while that enable is set (the write is
 * ignored), or a queue/table base not aligned to its size (the low address bits are ignored).
 */
export interface SmmuProgrammingViolation {
  readonly register: string;
  readonly value: number;
  readonly reason: string;
}

/** One hitless-update violation found at a CMD_SYNC. */
export interface SmmuHitlessViolation {
  /** Number of the CMD_SYNC (1-based) at which it was found. */
  sync: number;
  kind: 'ste' | 'cd';
  sid: number;
  /** SubstreamID for CDs; -1 for STEs. */
  ssid: number;
  addr: number;
  /** The 64-bit words (dw0..dw3) before and after, as hex strings. */
  old: string[];
  new: string[];
  reason: string;
}

export interface SmmuV3Stats {
  translations: number;
  walks: number;
  tlbHits: number;
  tlbMisses: number;
  /** Entries in the TLB now (read from the TLB). */
  readonly tlbEntries: number;
  /** Times a full TLB was emptied to make room (read from the TLB). */
  readonly tlbFlushes: number;
  steFetches: number;
  cdFetches: number;
  events: number;
  eventsLost: number;
  /** Events not written because the event queue was disabled. */
  eventsDropped: number;
  syncs: number;
  sevs: number;
  msiWrites: number;
  commands: Record<string, number>;
}

export interface SmmuV3Options {
  readonly name?: string;
  readonly preset?: SmmuV3Preset;
  readonly eventqIrq?: IrqLine;
  readonly gerrorIrq?: IrqLine;
  readonly cmdqSyncIrq?: IrqLine;
  /** Accepted for completeness; the PRI queue is not modelled, so it is never raised. */
  readonly priqIrq?: IrqLine;
  /**
   * TLB capacity in entries (default 16384), held as a set-associative table of `tlbWays`-way
   * sets (`SetTlb`): a fill into a set whose ways all hold entries first empties that set, as
   * hardware may evict at any time (a TLB of `tlbWays` entries or fewer is one set, emptied
   * when full). Keep it large so that stale entries stay visible; a contiguous range of up to
   * `tlbCapacity` pages of one context never conflicts.
   */
  readonly tlbCapacity?: number;
  /** Ways per TLB set: a power of two from 1 to 16 (default 4). */
  readonly tlbWays?: number;
  /** GBPA.ABORT at reset (default false: incoming traffic bypasses while SMMUEN = 0). */
  readonly abortAtReset?: boolean;
  /**
   * Cache the last-level (and other non-start-level) tables that walks reach (default true;
   * stage 1, stage 2 and both stages of nested streams), as real SMMUs do: a TLB miss in a
   * block whose table is cached reads one descriptor. Only
   * TLBI commands that invalidate walk entries drop them (by VA with Leaf = 0, by ASID, VMID,
   * ALL); a TLBI by VA with Leaf = 1 leaves them. False walks every level on every miss.
   */
  readonly walkCache?: boolean;
  /** Walk cache capacity in entries (default 4096; a full walk cache is emptied on the next insert). */
  readonly walkCacheCapacity?: number;
}

/** Decoded stream table entry (cached). */
interface SteCfg {
  readonly sid: number;
  readonly addr: number;
  readonly kind: 'abort' | 'bypass' | 'translate';
  readonly s1: boolean;
  readonly s2: boolean;
  readonly s1fmt: number;
  readonly ctxPtr: number;
  readonly cdMax: number;
  readonly s1dss: number;
  readonly vmidSlot: number;
  readonly s2cfg: LpaeWalkConfig | null;
  /** Walk-cache tag of `s2cfg` (same tables and geometry, same tag). */
  readonly s2tag: number;
  readonly s2r: boolean;
}

/** Decoded context descriptor (cached). */
interface CdCfg {
  readonly addr: number;
  readonly asid: number;
  readonly record: boolean;
  readonly s1cfg: LpaeWalkConfig;
  /** Walk-cache tag of `s1cfg`. */
  readonly s1tag: number;
}

interface Tracked {
  addr: number;
  sid: number;
  ssid: number;
  /** STE context pointer the CD was found through (CDs only). */
  ctxPtr: number;
  words: Uint32Array;
}

function hex64(lo: number, hi: number): string {
  return '0x' + hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');
}

function addr52(lo: number, hi: number, lowMask: number): number {
  return ((lo & lowMask) >>> 0) + (hi & 0xfffff) * TWO32;
}

/**
 * Bits of an STE this SMMU interprets (dw0..dw3 as 8 u32), from the architecture's field
 * descriptions: with V clear nothing but V; Config when valid; abort reads nothing more.
 * Stage 1 (Config[0]): S1Fmt, S1ContextPtr, S1CDMax; S1DSS only when S1CDMax is non-zero
 * (substreams exist); the CD-fetch attributes S1CIR/S1COR/S1CSH; STRW when the SMMU has EL2
 * (IDR0.Hyp); S2VMID when the SMMU has stage 2 (it tags stage-1 entries too). Stage 2
 * (Config[1]): S2VMID, the S2 translation controls (T0SZ, SL0, IR0, OR0, SH0, TG, PS, AA64,
 * AFFD, PTW, R), S2HA/S2HD when HTTU is implemented, and S2TTB. Fields for features this SMMU
 * does not implement are IGNORED (EATS without ATS, S1STALLD/S2S without stalls, MEV, S2FWB,
 * S2ENDI without mixed endianness, the bypass attribute overrides without ATTR_*_OVR).
 */
export function smmuSteUsedBits(w: ArrayLike<number>, m: Uint32Array, caps: SmmuV3Caps): void {
  m.fill(0);
  m[0] = 1;
  if ((w[0]! & 1) === 0) return;
  m[0] |= 0xe;
  const cfg = (w[0]! >>> 1) & 7;
  if ((cfg & 4) === 0) return; // abort
  if (cfg & 1) {
    m[0] |= 0xffff_fff0; // S1Fmt [5:4], S1ContextPtr[31:6]
    m[1] |= 0xf80f_ffff; // S1ContextPtr[51:32], S1CDMax [63:59]
    m[2] |= 0xfc; // S1CIR, S1COR, S1CSH
    if (((w[1]! >>> 27) & 0x1f) !== 0) m[2] |= 0x3; // S1DSS
    if (caps.hyp) m[2] |= 0xc000_0000; // STRW
    if (caps.s2) m[4] |= 0xffff; // S2VMID
  }
  if (cfg & 2) {
    m[4] |= 0xffff; // S2VMID
    // T0SZ..PS [18:0], S2AA64 [19], S2AFFD [21], S2PTW [22], S2R [26]; S2HD [23] / S2HA [24] with HTTU
    m[5] |= 0x7_ffff | (1 << 19) | (1 << 21) | (1 << 22) | (1 << 26);
    if (caps.httu >= 1) m[5] |= 1 << 24;
    if (caps.httu >= 2) m[5] |= 1 << 23;
    m[6] |= 0xffff_fff0; // S2TTB
    m[7] |= 0x000f_ffff;
  }
  for (let i = 0; i < 8; i++) m[i] = m[i]! >>> 0;
}

/**
 * Bits of a CD the SMMU interprets (dw0..dw3 as 8 u32): only V when invalid; otherwise all of
 * them, except that EPD0 makes T0SZ/TG0/IR0/OR0/SH0 and TTB0 IGNORED, and EPD1 does the same
 * for T1SZ/TG1/IR1/OR1/SH1 and TTB1 (no walk ever uses them).
 */
export function smmuCdUsedBits(w: ArrayLike<number>, m: Uint32Array): void {
  m.fill(0);
  m[0] = 0x8000_0000;
  if ((w[0]! & 0x8000_0000) === 0) return;
  m.fill(0xffff_ffff);
  if (w[0]! & (1 << 14)) {
    m[0] = (m[0]! & ~0x3fff) >>> 0; // T0SZ, TG0, IR0, OR0, SH0
    m[2] = 0xf; // TTB0 [51:4]
    m[3] = 0xfff0_0000;
  }
  if (w[0]! & (1 << 30)) {
    m[0] = (m[0]! & ~0x3fff_0000) >>> 0; // T1SZ, TG1, IR1, OR1, SH1
    m[4] = 0xf; // TTB1 [51:4]
    m[5] = 0xfff0_0000;
  }
}

/** "No event": a fault the architecture terminates without a record (e.g. CR2.RECINVSID = 0). */
const EVT_NONE = 0;

/** Decodes a 32-byte event record given as 8 u32 words. */
export function decodeSmmuEvent(w: ArrayLike<number>): SmmuEvent {
  return {
    type: w[0]! & 0xff,
    ssv: (w[0]! & (1 << 11)) !== 0,
    ssid: (w[0]! >>> 12) & 0xfffff,
    sid: w[1]! >>> 0,
    stag: w[2]! & 0xffff,
    stall: (w[2]! & 0x8000_0000) !== 0,
    pnu: (w[3]! & (1 << 1)) !== 0,
    ind: (w[3]! & (1 << 2)) !== 0,
    rnw: (w[3]! & (1 << 3)) !== 0,
    s2: (w[3]! & (1 << 7)) !== 0,
    cls: (w[3]! >>> 8) & 3,
    ttrnw: (w[3]! & (1 << 12)) !== 0,
    inputAddr: (w[5]! >>> 0) * TWO32 + (w[4]! >>> 0),
    dw3: (w[7]! >>> 0) * TWO32 + (w[6]! >>> 0),
  };
}

/**
 * What four of `SmmuV3.stats` are computed from. `walks` and `tlbMisses` are the counts of the
 * other paths (`walksOther`, `missesOther`) plus the one-step fills, which the walk cache's
 * step counts anyway (`leaf.hits`: only `SetTlb.fillLeaf` counts there, once per fill, and the
 * SMMU never resets it). `tlbEntries` and `tlbFlushes` are the TLB's own live values.
 */
class SmmuV3StatsState {
  walksOther = 0;
  missesOther = 0;

  /** The SMMU's TLB and its walk cache's step (set by the SMMU's constructor). */
  tlb!: SetTlb;
  leaf!: WalkLeaf;
}

const STATS_STATE = Symbol('SmmuV3StatsState');
type StatsWithState = SmmuV3Stats & { [STATS_STATE]: SmmuV3StatsState };
// One set of accessor functions for every SMMU: V8 then gives every stats object the same
// fast-properties map (accessors made per object would leave the objects in dictionary mode,
// which costs the hot path's `translations++`/`tlbHits++` ~10 ns).
const STATS_ACCESSORS: Record<'walks' | 'tlbMisses' | 'tlbEntries' | 'tlbFlushes', PropertyDescriptor> = {
  walks: {
    get(this: StatsWithState): number {
      const x = this[STATS_STATE];
      return x.walksOther + x.leaf.hits;
    },
    set(this: StatsWithState, v: number) {
      const x = this[STATS_STATE];
      x.walksOther = v - x.leaf.hits;
    },
    enumerable: true,
  },
  tlbMisses: {
    get(this: StatsWithState): number {
      const x = this[STATS_STATE];
      return x.missesOther + x.leaf.hits;
    },
    set(this: StatsWithState, v: number) {
      const x = this[STATS_STATE];
      x.missesOther = v - x.leaf.hits;
    },
    enumerable: true,
  },
  tlbEntries: {
    get(this: StatsWithState): number {
      return this[STATS_STATE].tlb.size;
    },
    enumerable: true,
  },
  tlbFlushes: {
    get(this: StatsWithState): number {
      return this[STATS_STATE].tlb.flushes;
    },
    enumerable: true,
  },
};

/**
 * The SMMU's statistics object: plain counters and the four accessors over the state (same key
 * order as ever). Built by a constructor, not from a literal: V8 then keeps every data field
 * in the object itself (a literal of one property would put `tlbHits` and the rest in a
 * separate property array, one more load on every hit).
 */
class SmmuV3StatsObject {
  constructor(x: SmmuV3StatsState) {
    const o = this as unknown as Record<string | symbol, unknown>;
    o.translations = 0;
    Object.defineProperty(o, STATS_STATE, { value: x });
    Object.defineProperty(o, 'walks', STATS_ACCESSORS.walks);
    o.tlbHits = 0;
    Object.defineProperty(o, 'tlbMisses', STATS_ACCESSORS.tlbMisses);
    Object.defineProperty(o, 'tlbEntries', STATS_ACCESSORS.tlbEntries);
    Object.defineProperty(o, 'tlbFlushes', STATS_ACCESSORS.tlbFlushes);
    o.steFetches = 0;
    o.cdFetches = 0;
    o.events = 0;
    o.eventsLost = 0;
    o.eventsDropped = 0;
    o.syncs = 0;
    o.sevs = 0;
    o.msiWrites = 0;
    o.commands = {};
  }
}

function newStats(x: SmmuV3StatsState): SmmuV3Stats {
  return new SmmuV3StatsObject(x) as unknown as SmmuV3Stats;
}

/** A preset must give six ID registers and IIDR/AIDR as 32-bit values (else a RangeError naming it). */
function checkPreset(p: SmmuV3Preset): void {
  const u32 = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 32;
  if (p === null || typeof p !== 'object') throw new RangeError(`SMMUv3 preset: expected an object with idr, iidr and aidr, got ${String(p)}`);
  if (!Array.isArray(p.idr) || p.idr.length !== 6 || !p.idr.every(u32))
    throw new RangeError(`SMMUv3 preset ${String(p.name)}: idr must be six 32-bit register values (IDR0..IDR5), got ${Array.isArray(p.idr) ? `[${p.idr.map(String).join(', ')}]` : String(p.idr)}`);
  if (!u32(p.iidr) || !u32(p.aidr)) throw new RangeError(`SMMUv3 preset ${String(p.name)}: iidr and aidr must be 32-bit register values, got ${String(p.iidr)} and ${String(p.aidr)}`);
}

export class SmmuV3 implements MmioDevice {
  readonly name: string;
  readonly preset: SmmuV3Preset;
  readonly caps: SmmuV3Caps;

  // ---- registers ----
  private cr0 = 0;
  private cr0ack = 0;
  private cr1 = 0;
  private cr2 = 0;
  private gbpa: number;
  private irqCtrl = 0;
  private irqCtrlAck = 0;
  private gerror = 0;
  private gerrorn = 0;
  private strtabLo = 0;
  private strtabHi = 0;
  private strtabCfg = 0;
  private cmdqBaseLo = 0;
  private cmdqBaseHi = 0;
  private cmdqProd = 0;
  private cmdqCons = 0;
  private evtqBaseLo = 0;
  private evtqBaseHi = 0;
  private evtqProd = 0;
  private evtqCons = 0;
  private priqProd = 0;
  private priqCons = 0;
  /** Plain storage for the registers with no behaviour (IRQ_CFG, PRIQ_BASE). */
  private readonly plain = new Map<number, number>();

  // ---- caches ----
  private readonly steCache = new Map<number, SteCfg>();
  private readonly cdCache = new Map<number, CdCfg>();
  /**
   * The TLB (the package's shared fast path): contexts are (VMID slot, ASID slot), SLOT_NONE
   * standing for "no stage 1" (ASID) or the EL2 regime (VMID). An entry's `perms` is the
   * intersection of the stage-1 and stage-2 permissions.
   */
  private readonly tlb: SetTlb;
  /**
   * The last stream resolved to a translation context (or to bypass / silent abort), so that
   * back-to-back transactions of one stream skip the STE/CD lookups. Dropped whenever the
   * configuration cache changes (`dropFastStream`).
   */
  private fastSid = -1;
  private fastSsid = -2;
  private fastCtx = CTX_ABORT;
  private fastSte: SteCfg | undefined = undefined;
  private fastCd: CdCfg | undefined = undefined;
  /**
   * The config of the fast stream's only stage when it translates by one stage (stage 1 alone,
   * or stage 2 alone) with the walk cache on, so that the TLB-miss fast path in
   * `translateParts` applies; else null. Its walk-cache tag and context, and whether it is
   * stage 2 (then a TLB entry's `aux`, the IPA, is the input itself, else the output).
   */
  private fastOne: LpaeWalkConfig | null = null;
  private fastOneTag = 0;
  private fastOneWctx = -1;
  /** Walk-cache contexts of the fast stream: stage 1 (VMID slot, ASID) and stage 2 (VMID, none). */
  private fastWctx1 = -1;
  private fastWctx2 = -1;
  /** TLB context (VMID, no ASID) of the fast stream's stage 2 when it is nested, else −1. */
  private fastCtx2 = -1;
  /**
   * The walk cache: same contexts as the TLB (stage 1 walks under (VMID slot, ASID), stage-2
   * walks under (VMID, SLOT_NONE)); an entry is used only by walks of a config with the same
   * tag (`cfgTag`). Always an object (so that every SmmuV3 has one shape); when disabled
   * (`wcOn` false) nothing is ever looked up in it or put into it.
   */
  private readonly wc: WalkCache;
  /** `wc.leaf` (the one-step fill's decoded table), held here for the hot part's call. */
  private readonly wcLeaf: WalkLeaf;
  private readonly wcOn: boolean;
  /** Walk-cache tags: one per distinct decoded translation config (tables and geometry). */
  private readonly cfgTags = new Map<string, number>();
  private nextCfgTag = 0;
  private readonly trackedSte = new Map<number, Tracked>();
  private readonly trackedCd = new Map<number, Tracked>();
  /** Guarded-register writes while enabled and misaligned bases (see SmmuProgrammingViolation). */
  readonly programmingViolations: SmmuProgrammingViolation[] = [];
  /** Hitless-update violations found at CMD_SYNCs. */
  readonly hitlessViolations: SmmuHitlessViolation[] = [];

  /**
   * Four of the statistics are read through accessors, so that the one-step miss
   * (`translateSlow` → `SetTlb.fillLeaf`) writes none of them (measured ~1.5 ns of its
   * steady state); see `SmmuV3StatsState`.
   */
  private readonly sx = new SmmuV3StatsState();
  readonly stats: SmmuV3Stats = newStats(this.sx);

  // ---- preallocated scratch ----
  private readonly wr: WalkResult = createWalkResult();
  private readonly wr2: WalkResult = createWalkResult();
  private readonly cur1 = createLpaeCursor();
  private readonly cur2 = createLpaeCursor();
  private readonly res1 = new Int32Array(FAST_SLOTS);
  private readonly res2 = new Int32Array(FAST_SLOTS);
  /** The PA of a nested stage-1 table fetch that hit the TLB, as int32 halves. */
  private readonly s1TableHalves = new Int32Array(2);
  private readonly readAccess: WalkAccess = { write: false, exec: false, priv: true };
  private readonly dmaAccess: WalkAccess = { write: false, exec: false, priv: false };
  private readonly evWords = new Uint32Array(8);
  private readonly cmdWords = new Uint32Array(4);
  /**
   * Nested stage-1 walks: the stage-2 translation of each table fetch (`s1TableAddress`);
   * `nestFaulted` / `nestIpa` say that stage 2 faulted on a fetch and at which IPA (the fault
   * itself is in `wr2`).
   */
  private readonly s1Tables: WalkTableTranslator = {
    paHi: 0,
    paLo: 0,
    tableAddress: (hi: number, lo: number): boolean => this.s1TableAddress(hi, lo),
    tableWrite: (hi: number, lo: number): boolean => this.s1TableWrite(hi, lo),
  };
  /** The access stage 2 checks for a hardware update of a nested stage-1 descriptor. */
  private readonly tableWriteAccess: WalkAccess = { write: true, exec: false, priv: true };
  private nestFaulted = false;
  /** With `nestFaulted`: the stage-2 fault was on a write of the table (an HTTU update). */
  private nestWrite = false;
  private nestIpa = 0;
  private inCmdq = false;
  /** Set when processCmdq was called again while it was running (see processCmdq). */
  private cmdqKicked = false;

  private readonly eventqIrq: IrqLine | undefined;
  private readonly gerrorIrq: IrqLine | undefined;
  private readonly cmdqSyncIrq: IrqLine | undefined;

  constructor(
    private readonly mem: PhysMem,
    opts: SmmuV3Options = {},
  ) {
    this.name = opts.name ?? 'smmu-v3';
    this.preset = opts.preset ?? SMMUV3_PRESET_FVP;
    checkPreset(this.preset);
    this.caps = decodeSmmuV3Caps(this.preset);
    this.eventqIrq = opts.eventqIrq;
    this.gerrorIrq = opts.gerrorIrq;
    this.cmdqSyncIrq = opts.cmdqSyncIrq;
    this.gbpa = opts.abortAtReset ? R.GBPA_ABORT : 0;
    const tlbCapacity = opts.tlbCapacity ?? 16384;
    if (!Number.isInteger(tlbCapacity) || tlbCapacity < 1 || tlbCapacity > 2 ** 24) throw new RangeError(`${this.name}: bad TLB capacity ${tlbCapacity}`);
    const tlbWays = opts.tlbWays ?? SET_TLB_DEFAULT_WAYS;
    if (!Number.isInteger(tlbWays) || tlbWays < 1 || tlbWays > 16 || (tlbWays & (tlbWays - 1)) !== 0) throw new RangeError(`${this.name}: bad TLB ways ${tlbWays} (a power of two from 1 to 16)`);
    this.tlb = new SetTlb({ capacity: tlbCapacity, ways: tlbWays, eviction: 'flush' });
    const wcCapacity = opts.walkCacheCapacity ?? WALK_CACHE_DEFAULT_CAPACITY;
    if (!Number.isInteger(wcCapacity) || wcCapacity < 1 || wcCapacity > 2 ** 24) throw new RangeError(`${this.name}: bad walk cache capacity ${wcCapacity}`);
    this.wcOn = opts.walkCache !== false;
    this.wc = new WalkCache({ capacity: this.wcOn ? wcCapacity : 1, eviction: 'flush' });
    this.wcLeaf = this.wc.leaf;
    this.sx.tlb = this.tlb;
    this.sx.leaf = this.wcLeaf;
  }

  // =========================================================================================
  // MMIO

  read32(offset: number): number {
    let off = offset;
    if (off >= R.SMMU_PAGE1) {
      off -= R.SMMU_PAGE1;
      switch (off) {
        case 0x0a8: return this.evtqProd >>> 0;
        case 0x0ac: return this.evtqCons >>> 0;
        case 0x0c8: return this.priqProd;
        case 0x0cc: return this.priqCons;
        default: return 0;
      }
    }
    switch (off) {
      case R.SMMU_IDR0: return this.preset.idr[0];
      case R.SMMU_IDR1: return this.preset.idr[1];
      case R.SMMU_IDR2: return this.preset.idr[2];
      case R.SMMU_IDR3: return this.preset.idr[3];
      case R.SMMU_IDR4: return this.preset.idr[4];
      case R.SMMU_IDR5: return this.preset.idr[5];
      case R.SMMU_IIDR: return this.preset.iidr;
      case R.SMMU_AIDR: return this.preset.aidr;
      case R.SMMU_CR0: return this.cr0;
      case R.SMMU_CR0ACK: return this.cr0ack;
      case R.SMMU_CR1: return this.cr1;
      case R.SMMU_CR2: return this.cr2;
      case R.SMMU_STATUSR: return 0;
      case R.SMMU_GBPA: return this.gbpa >>> 0;
      case R.SMMU_IRQ_CTRL: return this.irqCtrl;
      case R.SMMU_IRQ_CTRLACK: return this.irqCtrlAck;
      case R.SMMU_GERROR: return this.gerror;
      case R.SMMU_GERRORN: return this.gerrorn;
      case R.SMMU_STRTAB_BASE: return this.strtabLo;
      case R.SMMU_STRTAB_BASE + 4: return this.strtabHi;
      case R.SMMU_STRTAB_BASE_CFG: return this.strtabCfg;
      case R.SMMU_CMDQ_BASE: return this.cmdqBaseLo;
      case R.SMMU_CMDQ_BASE + 4: return this.cmdqBaseHi;
      case R.SMMU_CMDQ_PROD: return this.cmdqProd;
      case R.SMMU_CMDQ_CONS: return this.cmdqCons;
      case R.SMMU_EVTQ_BASE: return this.evtqBaseLo;
      case R.SMMU_EVTQ_BASE + 4: return this.evtqBaseHi;
      // Page-0 aliases of the page-1 queue pointers (allowed; used by "page 0 only" parts).
      case 0x0a8: return this.evtqProd >>> 0;
      case 0x0ac: return this.evtqCons >>> 0;
      case 0x0c8: return this.priqProd;
      case 0x0cc: return this.priqCons;
      default: return this.plain.get(off) ?? 0;
    }
  }

  write32(offset: number, value: number): void {
    const v = value >>> 0;
    let off = offset;
    if (off >= R.SMMU_PAGE1) {
      off -= R.SMMU_PAGE1;
      if (off !== 0x0a8 && off !== 0x0ac && off !== 0x0c8 && off !== 0x0cc) return;
    }
    const guard = this.guardOf(off);
    if (guard !== null) {
      this.violation(guard.name, v, `written while ${guard.by} is set: the write is ignored`);
      return;
    }
    switch (off) {
      case R.SMMU_CR0: return this.writeCr0(v);
      case R.SMMU_CR1: this.cr1 = v & R.CR1_MASK; return;
      case R.SMMU_CR2: this.cr2 = v & R.CR2_MASK; return;
      case R.SMMU_GBPA:
        // Only a write with UPDATE set takes effect; the update completes at once.
        if (v & R.GBPA_UPDATE) this.gbpa = v & R.GBPA_FIELDS;
        return;
      case R.SMMU_IRQ_CTRL:
        this.irqCtrl = v & 7;
        this.irqCtrlAck = this.irqCtrl;
        return;
      case R.SMMU_GERRORN: return this.writeGerrorn(v);
      case R.SMMU_STRTAB_BASE:
        this.strtabLo = v & 0xffff_ffc0;
        this.forgetTracking();
        return;
      case R.SMMU_STRTAB_BASE + 4:
        this.strtabHi = v & 0x400f_ffff;
        this.forgetTracking();
        return;
      case R.SMMU_STRTAB_BASE_CFG:
        this.strtabCfg = v & 0x0003_07ff;
        this.forgetTracking();
        return;
      case R.SMMU_CMDQ_BASE: this.cmdqBaseLo = v; return;
      case R.SMMU_CMDQ_BASE + 4: this.cmdqBaseHi = v & 0x400f_ffff; return;
      case R.SMMU_CMDQ_PROD:
        this.cmdqProd = v & this.qMask(this.cmdqLog2());
        this.processCmdq();
        return;
      case R.SMMU_CMDQ_CONS:
        // Software owns CONS only while the queue is disabled or stopped on an error.
        if ((this.cr0 & R.CR0_CMDQEN) === 0 || this.cmdqStopped()) {
          this.cmdqCons = (v & (this.qMask(this.cmdqLog2()) | R.CMDQ_CONS_ERR_MASK)) >>> 0;
        }
        return;
      case R.SMMU_EVTQ_BASE: this.evtqBaseLo = v; return;
      case R.SMMU_EVTQ_BASE + 4: this.evtqBaseHi = v & 0x400f_ffff; return;
      case 0x0a8:
        if ((this.cr0 & R.CR0_EVTQEN) === 0) this.evtqProd = (v & (this.qMask(this.evtqLog2()) | R.Q_OVF_FLAG)) >>> 0;
        return;
      case 0x0ac:
        this.evtqCons = (v & (this.qMask(this.evtqLog2()) | R.Q_OVF_FLAG)) >>> 0;
        if (this.evtqEmpty()) this.eventqIrq?.lower();
        return;
      case 0x0c8: if ((this.cr0 & R.CR0_PRIQEN) === 0) this.priqProd = v; return;
      case 0x0cc: this.priqCons = v; return;
      default:
        if (off >= R.SMMU_GERROR_IRQ_CFG0 && off < 0x0e0 && !(off >= 0x080 && off < 0x0b0)) this.plain.set(off, v);
    }
  }

  /**
   * The enable bit guarding register `off` when that bit is set (CR0ACK), else null: CR1 while
   * any queue or the SMMU is enabled; CR2 and the stream table registers while SMMUEN; a queue
   * base while its queue is enabled.
   */
  private guardOf(off: number): { name: string; by: string } | null {
    const en = this.cr0ack;
    switch (off) {
      case R.SMMU_CR1:
        return en & (R.CR0_SMMUEN | R.CR0_CMDQEN | R.CR0_EVTQEN | R.CR0_PRIQEN) ? { name: 'SMMU_CR1', by: 'SMMUEN/CMDQEN/EVTQEN/PRIQEN' } : null;
      case R.SMMU_CR2:
        return en & R.CR0_SMMUEN ? { name: 'SMMU_CR2', by: 'SMMUEN' } : null;
      case R.SMMU_STRTAB_BASE:
      case R.SMMU_STRTAB_BASE + 4:
        return en & R.CR0_SMMUEN ? { name: 'SMMU_STRTAB_BASE', by: 'SMMUEN' } : null;
      case R.SMMU_STRTAB_BASE_CFG:
        return en & R.CR0_SMMUEN ? { name: 'SMMU_STRTAB_BASE_CFG', by: 'SMMUEN' } : null;
      case R.SMMU_CMDQ_BASE:
      case R.SMMU_CMDQ_BASE + 4:
        return en & R.CR0_CMDQEN ? { name: 'SMMU_CMDQ_BASE', by: 'CMDQEN' } : null;
      case R.SMMU_EVTQ_BASE:
      case R.SMMU_EVTQ_BASE + 4:
        return en & R.CR0_EVTQEN ? { name: 'SMMU_EVTQ_BASE', by: 'EVTQEN' } : null;
      default:
        return null;
    }
  }

  private violation(register: string, value: number, reason: string): void {
    this.programmingViolations.push({ register, value, reason });
  }

  /**
   * `addr` with the bits below max(`bytes`, `min`) cleared: the architecture has a table or queue
   * base aligned to its size by ignoring the low address bits.
   */
  private static alignDown(addr: number, bytes: number, min: number): number {
    const a = Math.max(bytes, min);
    return Math.floor(addr / a) * a;
  }

  /** Stream table size in bytes (the L1 table for a two-level table). */
  private strtabBytes(): number {
    const cfg = this.strtabCfg;
    const log2 = Math.min(cfg & 0x3f, this.caps.sidBits);
    if (((cfg >>> 16) & 3) === R.STRTAB_FMT_2LVL && this.caps.twoLevelStrtab) return 2 ** Math.max(0, log2 - Math.min((cfg >>> 6) & 0x1f, log2)) * 8;
    return 2 ** log2 * R.STE_SIZE;
  }

  /** Effective stream table base (aligned to the table's size, at least 64 bytes). */
  private strtabBase(): number {
    return SmmuV3.alignDown(addr52(this.strtabLo, this.strtabHi, 0xffff_ffc0), this.strtabBytes(), 64);
  }

  /** Effective command queue base (aligned to the queue's size, at least 32 bytes). */
  private cmdqBase(): number {
    return SmmuV3.alignDown(addr52(this.cmdqBaseLo, this.cmdqBaseHi, 0xffff_ffe0), 2 ** this.cmdqLog2() * R.CMD_SIZE, 32);
  }

  /** Effective event queue base (aligned to the queue's size, at least 32 bytes). */
  private evtqBase(): number {
    return SmmuV3.alignDown(addr52(this.evtqBaseLo, this.evtqBaseHi, 0xffff_ffe0), 2 ** this.evtqLog2() * R.EVT_SIZE, 32);
  }

  /** Records the bases the newly set enables start using when their low bits are not zero. */
  private checkAlignment(enabled: number): void {
    if (enabled & R.CR0_SMMUEN && this.strtabBase() !== addr52(this.strtabLo, this.strtabHi, 0xffff_ffc0))
      this.violation('SMMU_STRTAB_BASE', this.strtabLo, `not aligned to the ${this.strtabBytes()}-byte stream table: the low address bits are ignored`);
    if (enabled & R.CR0_CMDQEN && this.cmdqBase() !== addr52(this.cmdqBaseLo, this.cmdqBaseHi, 0xffff_ffe0))
      this.violation('SMMU_CMDQ_BASE', this.cmdqBaseLo, `not aligned to the ${2 ** this.cmdqLog2() * R.CMD_SIZE}-byte command queue: the low address bits are ignored`);
    if (enabled & R.CR0_EVTQEN && this.evtqBase() !== addr52(this.evtqBaseLo, this.evtqBaseHi, 0xffff_ffe0))
      this.violation('SMMU_EVTQ_BASE', this.evtqBaseLo, `not aligned to the ${2 ** this.evtqLog2() * R.EVT_SIZE}-byte event queue: the low address bits are ignored`);
  }

  private writeCr0(v: number): void {
    const old = this.cr0;
    this.cr0 = v & R.CR0_MASK;
    this.cr0ack = this.cr0; // changes take effect at once
    // The hot part of `translateParts` does not test SMMUEN: it uses the remembered stream,
    // and a stream is remembered only while SMMUEN is set; so turning it on or off forgets it.
    if (((this.cr0 ^ old) & R.CR0_SMMUEN) !== 0) this.dropFastStream();
    this.checkAlignment(this.cr0 & ~old);
    if ((this.cr0 & R.CR0_CMDQEN) !== 0 && (old & R.CR0_CMDQEN) === 0) this.processCmdq();
  }

  private writeGerrorn(v: number): void {
    this.gerrorn = v & R.GERROR_MASK;
    if (((this.gerror ^ this.gerrorn) & R.GERROR_MASK) === 0) this.gerrorIrq?.lower();
    // Acknowledging CMDQ_ERR restarts command consumption at CONS.
    this.processCmdq();
  }

  /** Raises a global error (if it is not already active). */
  private raiseGerror(bit: number): void {
    if (((this.gerror ^ this.gerrorn) & bit) !== 0) return;
    this.gerror = (this.gerror ^ bit) >>> 0;
    if (this.irqCtrl & R.IRQ_CTRL_GERROR_IRQEN) this.gerrorIrq?.raise();
  }

  private forgetTracking(): void {
    this.trackedSte.clear();
    this.trackedCd.clear();
  }

  // =========================================================================================
  // Queues

  /** PROD/CONS mask covering the index and the wrap bit for a queue of 2^log2 entries. */
  private qMask(log2: number): number {
    return log2 >= 31 ? 0xffff_ffff : ((1 << (log2 + 1)) - 1) >>> 0;
  }

  private cmdqLog2(): number {
    return Math.min(this.cmdqBaseLo & 0x1f, this.caps.cmdqs);
  }

  private evtqLog2(): number {
    return Math.min(this.evtqBaseLo & 0x1f, this.caps.eventqs);
  }

  private cmdqStopped(): boolean {
    return ((this.gerror ^ this.gerrorn) & R.GERROR_CMDQ_ERR) !== 0;
  }

  private evtqEmpty(): boolean {
    const m = this.qMask(this.evtqLog2());
    return (this.evtqProd & m) === (this.evtqCons & m);
  }

  /**
   * Consumes commands from CONS to PROD. A call made while commands are being consumed (an
   * interrupt handler run by a command writing CMDQ_PROD or acknowledging GERRORN, e.g. after
   * fixing the command that stopped the queue) only asks the outer call to look again once the
   * current pass returns, so consumption resumes without another doorbell. A pass that stops
   * again on the same command without consuming anything ends the retries: the queue then waits
   * for the next CMDQ_PROD/GERRORN write instead of spinning on a handler that never fixes it.
   */
  private processCmdq(): void {
    if (this.inCmdq) {
      this.cmdqKicked = true;
      return;
    }
    this.inCmdq = true;
    try {
      let retry = false;
      do {
        this.cmdqKicked = false;
        const before = (this.cmdqCons & ~R.CMDQ_CONS_ERR_MASK) >>> 0;
        this.drainCmdq();
        if (retry && ((this.cmdqCons & ~R.CMDQ_CONS_ERR_MASK) >>> 0) === before) break; // a retry consumed nothing
        retry = true;
      } while (this.cmdqKicked);
    } finally {
      this.inCmdq = false;
    }
  }

  /** One pass of command consumption (processCmdq). */
  private drainCmdq(): void {
    if ((this.cr0 & R.CR0_CMDQEN) === 0 || this.cmdqStopped()) return;
    const log2 = this.cmdqLog2();
    const n = log2 < 31 ? 1 << log2 : 2 ** log2;
    const wmask = this.qMask(log2);
    const base = this.cmdqBase();
    const w = this.cmdWords;
    for (let guard = 0; guard <= n && (this.cmdqCons & wmask) !== (this.cmdqProd & wmask); guard++) {
      const a = base + (this.cmdqCons & (n - 1)) * R.CMD_SIZE;
      try {
        for (let i = 0; i < 4; i++) w[i] = this.mem.read32(a + 4 * i);
      } catch (e) {
        if (!(e instanceof BusError)) throw e;
        this.cmdError(R.CERROR_ABT);
        return;
      }
      const err = this.execCommand(w);
      if (err !== R.CERROR_NONE) {
        this.cmdError(err);
        return;
      }
      const next = ((this.cmdqCons & wmask) + 1) & wmask;
      this.cmdqCons = ((this.cmdqCons & ~wmask) | next) >>> 0;
    }
  }

  private cmdError(code: number): void {
    this.cmdqCons = ((this.cmdqCons & ~R.CMDQ_CONS_ERR_MASK) | (code << R.CMDQ_CONS_ERR_SHIFT)) >>> 0;
    this.raiseGerror(R.GERROR_CMDQ_ERR);
  }

  /** Executes one command; returns a CERROR_* code (CERROR_NONE on success). */
  private execCommand(w: Uint32Array): number {
    const op = w[0]! & 0xff;
    const name = R.SMMU_CMD_NAMES[op];
    if (name === undefined) return R.CERROR_ILL;
    const caps = this.caps;
    const sid = w[1]! >>> 0;
    const vmid = caps.s2 ? (w[1]! & 0xffff) & (caps.vmidBits === 16 ? 0xffff : 0xff) : 0;
    const asid = (w[1]! >>> 16) & (caps.asidBits === 16 ? 0xffff : 0xff);
    switch (op) {
      case R.CMD_PREFETCH_CONFIG:
      case R.CMD_PREFETCH_ADDR:
        break; // hints: the model fetches on demand
      case R.CMD_CFGI_STE:
        if (w[0]! & (1 << 10)) return R.CERROR_ILL; // SSec: no secure state
        this.invalidateSte(sid, sid + 1);
        break;
      case R.CMD_CFGI_STE_RANGE: {
        const range = w[2]! & 0x1f;
        if (w[0]! & (1 << 10)) return R.CERROR_ILL;
        if (range === 31) {
          this.steCache.clear();
          this.cdCache.clear();
          this.dropFastStream();
        } else {
          const span = 2 ** (range + 1);
          const start = sid - (sid % span);
          this.invalidateSte(start, start + span);
        }
        break;
      }
      case R.CMD_CFGI_CD:
        if (w[0]! & (1 << 10)) return R.CERROR_ILL;
        this.cdCache.delete(sid * SSID_MUL + ((w[0]! >>> 12) & 0xfffff));
        this.dropFastStream();
        break;
      case R.CMD_CFGI_CD_ALL:
        this.invalidateCds(sid, sid + 1);
        break;
      // Every TLBI drops the walk-cache entries of what it names too, except a TLBI by address
      // with Leaf = 1, which only has to drop last-level (leaf) entries.
      case R.CMD_TLBI_NH_ALL: {
        if (!caps.s1) return R.CERROR_ILL;
        const match = (v: number, a: number): boolean => v === vmid && a !== SLOT_NONE;
        this.tlb.invalidateWhere(match);
        this.wc.invalidateWhere(match);
        break;
      }
      case R.CMD_TLBI_NH_ASID:
        if (!caps.s1) return R.CERROR_ILL;
        this.tlb.invalidateTag(vmid, asid);
        this.wc.invalidateTag(vmid, asid);
        break;
      case R.CMD_TLBI_NH_VA:
      case R.CMD_TLBI_NH_VAA:
      case R.CMD_TLBI_EL2_VA:
      case R.CMD_TLBI_EL2_VAA:
      case R.CMD_TLBI_S2_IPA: {
        const el2 = op === R.CMD_TLBI_EL2_VA || op === R.CMD_TLBI_EL2_VAA;
        if (op === R.CMD_TLBI_S2_IPA ? !caps.s2 : !caps.s1) return R.CERROR_ILL;
        if (el2 && !caps.hyp) return R.CERROR_ILL;
        const start = addr52(w[2]!, w[3]!, 0xffff_f000);
        const end = this.rangeEnd(w, start);
        if (end < 0) return R.CERROR_ILL;
        // Leaf (dword 1 bit 0): only last-level entries changed, walk-cache entries may stay.
        const wc = (w[2]! & 1) === 0 && this.wcOn ? this.wc : null;
        if (op === R.CMD_TLBI_NH_VA) {
          this.tlb.invalidateTag(vmid, asid, start, end);
          wc?.invalidateTag(vmid, asid, start, end);
        } else if (op === R.CMD_TLBI_NH_VAA) {
          const match = (v: number, a: number): boolean => v === vmid && a !== SLOT_NONE;
          this.tlb.invalidateWhere(match, start, end);
          wc?.invalidateWhere(match, start, end);
        } else if (op === R.CMD_TLBI_EL2_VA) {
          this.tlb.invalidateTag(SLOT_NONE, asid, start, end);
          wc?.invalidateTag(SLOT_NONE, asid, start, end);
        } else if (op === R.CMD_TLBI_EL2_VAA) {
          this.tlb.invalidateGroup(SLOT_NONE, start, end);
          wc?.invalidateGroup(SLOT_NONE, start, end);
        } else {
          this.tlb.invalidateTag(vmid, SLOT_NONE, start, end);
          wc?.invalidateTag(vmid, SLOT_NONE, start, end);
        }
        break;
      }
      case R.CMD_TLBI_EL2_ALL:
      case R.CMD_TLBI_EL2_ASID:
        if (!caps.hyp) return R.CERROR_ILL;
        if (op === R.CMD_TLBI_EL2_ALL) {
          this.tlb.invalidateGroup(SLOT_NONE);
          this.wc.invalidateGroup(SLOT_NONE);
        } else {
          this.tlb.invalidateTag(SLOT_NONE, asid);
          this.wc.invalidateTag(SLOT_NONE, asid);
        }
        break;
      case R.CMD_TLBI_S12_VMALL:
        if (!caps.s2) return R.CERROR_ILL;
        this.tlb.invalidateGroup(vmid);
        this.wc.invalidateGroup(vmid);
        break;
      case R.CMD_TLBI_NSNH_ALL: {
        const match = (v: number): boolean => v !== SLOT_NONE;
        this.tlb.invalidateWhere(match);
        this.wc.invalidateWhere(match);
        break;
      }
      case R.CMD_ATC_INV:
        if (!caps.ats) return R.CERROR_ILL;
        break; // no ATS traffic is modelled: nothing cached in endpoints
      case R.CMD_PRI_RESP:
        if (!caps.pri) return R.CERROR_ILL;
        break;
      case R.CMD_RESUME:
      case R.CMD_STALL_TERM:
        break; // no transaction is ever stalled
      case R.CMD_SYNC:
        return this.cmdSync(w);
      default:
        return R.CERROR_ILL;
    }
    this.stats.commands[name] = (this.stats.commands[name] ?? 0) + 1;
    return R.CERROR_NONE;
  }

  /**
   * End (exclusive) of the input range a TLBI by address covers; −1 for a reserved encoding.
   * Without RIL, or with TG = 0, the command names one address.
   */
  private rangeEnd(w: Uint32Array, start: number): number {
    const tg = (w[2]! >>> 10) & 3;
    if (!this.caps.ril || tg === 0) return start + 1;
    const num = (w[0]! >>> 12) & 0x1f;
    const scale = (w[0]! >>> 20) & 0x1f;
    const ttl = (w[2]! >>> 8) & 3;
    if (num === 0 && scale === 0 && ttl === 0) return -1;
    const g = tg === 1 ? 12 : tg === 2 ? 14 : 16;
    return start + (num + 1) * 2 ** (scale + g);
  }

  private cmdSync(w: Uint32Array): number {
    const cs = (w[0]! >>> 12) & 3;
    if (cs === 3) return R.CERROR_ILL;
    this.stats.commands.SYNC = (this.stats.commands.SYNC ?? 0) + 1;
    this.stats.syncs++;
    this.checkHitless();
    if (cs === R.SYNC_CS_IRQ) {
      const msiAddr = addr52(w[2]!, w[3]!, 0xffff_fffc);
      if (this.caps.msi && msiAddr !== 0) {
        try {
          this.mem.write32(msiAddr, w[1]!);
          this.stats.msiWrites++;
        } catch (e) {
          if (!(e instanceof BusError)) throw e;
          this.raiseGerror(R.GERROR_MSI_CMDQ_ABT_ERR);
        }
      } else if (this.cmdqSyncIrq) {
        this.cmdqSyncIrq.raise();
        this.cmdqSyncIrq.lower();
      }
    } else if (cs === R.SYNC_CS_SEV) {
      this.stats.sevs++;
    }
    return R.CERROR_NONE;
  }

  /** Forgets the last resolved stream (after any change to the configuration cache). */
  private dropFastStream(): void {
    this.fastSid = -1;
    this.fastSsid = -2;
    this.fastCtx = CTX_ABORT;
    this.fastSte = undefined;
    this.fastCd = undefined;
    this.fastOne = null;
  }

  private invalidateSte(start: number, end: number): void {
    for (const sid of this.steCache.keys()) if (sid >= start && sid < end) this.steCache.delete(sid);
    this.dropFastStream();
    // A changed STE may point at another CD table: drop the CDs found through it as well.
    this.invalidateCds(start, end);
  }

  private invalidateCds(start: number, end: number): void {
    this.dropFastStream();
    for (const key of this.cdCache.keys()) {
      const sid = Math.floor(key / SSID_MUL);
      if (sid >= start && sid < end) this.cdCache.delete(key);
    }
  }

  // =========================================================================================
  // TLB

  /** Number of cached translations (for tests). */
  get tlbSize(): number {
    return this.tlb.size;
  }

  /** The TLB's own counters (lookups, inserts, evictions, invalidated entries). */
  tlbCounters(): TlbCounters {
    return this.tlb.counters();
  }

  /** Whether this SMMU caches walks (SmmuV3Options.walkCache). */
  get walkCacheEnabled(): boolean {
    return this.wcOn;
  }

  /** Number of cached tables in the walk cache (0 when disabled). */
  get walkCacheSize(): number {
    return this.wc.size;
  }

  /** The walk cache's counters (hits: misses that resumed at a cached table), or null when disabled. */
  walkCacheCounters(): ReturnType<WalkCache['counters']> | null {
    return this.wcOn ? this.wc.counters() : null;
  }

  /** Number of cached STEs and CDs (for tests). */
  get configCacheSize(): { ste: number; cd: number } {
    return { ste: this.steCache.size, cd: this.cdCache.size };
  }

  // =========================================================================================
  // Events

  // The record being assembled (fields of the next event).
  private evType = 0;
  private evSid = 0;
  private evSsid = -1;
  private evInput = 0;
  private evS2 = false;
  private evCls = 0;
  private evTtrnw = false;
  private evDw3 = 0;
  private evAccess: WalkAccess | null = null;

  private ev(type: number, sid: number, ssid: number): false {
    this.evType = type;
    this.evSid = sid;
    this.evSsid = ssid;
    this.evInput = 0;
    this.evS2 = false;
    this.evCls = 0;
    this.evTtrnw = false;
    this.evDw3 = 0;
    this.evAccess = null;
    return false;
  }

  /** Writes the assembled event record to the event queue (nothing for EVT_NONE). */
  private emitEvent(): void {
    if (this.evType === EVT_NONE) return;
    const w = this.evWords;
    const ssv = this.evSsid >= 0;
    w[0] = (this.evType | (ssv ? 1 << 11 : 0) | ((ssv ? this.evSsid & 0xfffff : 0) << 12)) >>> 0;
    w[1] = this.evSid >>> 0;
    w[2] = 0; // STAG, Stall: stalls are not modelled
    const a = this.evAccess;
    let d1 = 0;
    if (a !== null) {
      if (a.priv) d1 |= 1 << 1;
      if (a.exec) d1 |= 1 << 2;
      if (!a.write) d1 |= 1 << 3;
      if (this.evS2) d1 |= 1 << 7;
      d1 |= this.evCls << 8;
      if (this.evTtrnw) d1 |= 1 << 12;
    }
    w[3] = d1 >>> 0;
    const inHi = Math.floor(this.evInput / TWO32);
    w[4] = (this.evInput - inHi * TWO32) >>> 0;
    w[5] = inHi >>> 0;
    const d3Hi = Math.floor(this.evDw3 / TWO32);
    w[6] = (this.evDw3 - d3Hi * TWO32) >>> 0;
    w[7] = d3Hi >>> 0;
    this.stats.events++;
    if ((this.cr0 & R.CR0_EVTQEN) === 0) {
      this.stats.eventsDropped++;
      return;
    }
    const log2 = this.evtqLog2();
    const n = log2 < 31 ? 1 << log2 : 2 ** log2;
    const wmask = this.qMask(log2);
    const prod = this.evtqProd;
    const cons = this.evtqCons;
    if ((prod & (n - 1)) === (cons & (n - 1)) && ((prod ^ cons) & n) !== 0) {
      // Full: the record is lost; flag a new overflow unless one is still unacknowledged.
      this.stats.eventsLost++;
      if (((prod ^ cons) & R.Q_OVF_FLAG) === 0) this.evtqProd = (prod ^ R.Q_OVF_FLAG) >>> 0;
      return;
    }
    const base = this.evtqBase();
    const at = base + (prod & (n - 1)) * R.EVT_SIZE;
    try {
      for (let i = 0; i < 8; i++) this.mem.write32(at + 4 * i, w[i]!);
    } catch (e) {
      if (!(e instanceof BusError)) throw e;
      this.raiseGerror(R.GERROR_EVTQ_ABT_ERR);
      return;
    }
    this.evtqProd = ((prod & ~wmask) | (((prod & wmask) + 1) & wmask)) >>> 0;
    if (this.irqCtrl & R.IRQ_CTRL_EVTQ_IRQEN) this.eventqIrq?.raise();
  }

  // =========================================================================================
  // Configuration: stream table entries and context descriptors

  private read8(addr: number, out: Uint32Array): void {
    const mem = this.mem;
    if ((addr & 31) === 0 && addr === Math.floor(addr) && mem.contains(addr, 32)) {
      // 32-byte aligned RAM: one chunk holds all eight words
      const c = mem.peekChunk(addr);
      const wi = PhysMem.wordIndex(addr);
      for (let i = 0; i < 8; i++) out[i] = c[wi + i]!;
      return;
    }
    for (let i = 0; i < 8; i++) out[i] = mem.read32(addr + 4 * i);
  }

  /** The STE for `sid` (cached), or undefined after assembling the event. */
  private getSte(sid: number, ssid: number): SteCfg | undefined {
    const hit = this.steCache.get(sid);
    if (hit !== undefined) return hit;
    const ste = this.fetchSte(sid, ssid);
    if (ste !== undefined) {
      this.steCache.set(sid, ste);
      const tr = this.trackedSte.get(sid);
      if (tr === undefined || tr.addr !== ste.addr) {
        const words = new Uint32Array(8);
        this.read8(ste.addr, words);
        this.trackedSte.set(sid, { addr: ste.addr, sid, ssid: -1, ctxPtr: 0, words });
      }
    }
    return ste;
  }

  private fetchSte(sid: number, ssid: number): SteCfg | undefined {
    this.stats.steFetches++;
    const cfg = this.strtabCfg;
    const fmt = (cfg >>> 16) & 3;
    const log2 = Math.min(cfg & 0x3f, this.caps.sidBits);
    if (sid >= 2 ** log2) {
      // out of the table's range: recorded only when CR2.RECINVSID asks for it; terminated either way
      this.ev(this.cr2 & R.CR2_RECINVSID ? R.EVT_C_BAD_STREAMID : EVT_NONE, sid, ssid);
      return undefined;
    }
    const base = this.strtabBase();
    let addr: number;
    if (fmt === R.STRTAB_FMT_LINEAR) {
      addr = base + sid * R.STE_SIZE;
    } else if (fmt === R.STRTAB_FMT_2LVL && this.caps.twoLevelStrtab) {
      const split = Math.min((cfg >>> 6) & 0x1f, log2);
      const l1 = base + Math.floor(sid / 2 ** split) * 8;
      let lo: number;
      let hi: number;
      try {
        lo = this.mem.read32(l1);
        hi = this.mem.read32(l1 + 4);
      } catch (e) {
        if (!(e instanceof BusError)) throw e;
        this.ev(R.EVT_F_STE_FETCH, sid, ssid);
        this.evDw3 = l1 - (l1 % 8);
        return undefined;
      }
      const span = lo & 0x1f;
      if (span === 0) return void this.ev(R.EVT_C_BAD_STREAMID, sid, ssid);
      const idx = sid % 2 ** split;
      if (idx >= 2 ** (span - 1)) return void this.ev(R.EVT_C_BAD_STE, sid, ssid);
      addr = addr52(lo, hi, 0xffff_ffc0) + idx * R.STE_SIZE;
    } else {
      return void this.ev(R.EVT_C_BAD_STREAMID, sid, ssid);
    }
    const w = this.steScratch;
    try {
      this.read8(addr, w);
    } catch (e) {
      if (!(e instanceof BusError)) throw e;
      this.ev(R.EVT_F_STE_FETCH, sid, ssid);
      this.evDw3 = addr;
      return undefined;
    }
    const ste = this.decodeSte(sid, addr, w);
    if (ste === undefined) this.ev(R.EVT_C_BAD_STE, sid, ssid);
    return ste;
  }

  private readonly steScratch = new Uint32Array(8);
  private readonly cdScratch = new Uint32Array(8);

  /** Decodes an STE; undefined when it is invalid or ILLEGAL (C_BAD_STE). */
  private decodeSte(sid: number, addr: number, w: Uint32Array): SteCfg | undefined {
    const caps = this.caps;
    if ((w[0]! & 1) === 0) return undefined;
    const config = (w[0]! >>> 1) & 7;
    const common = { sid, addr, s1fmt: 0, ctxPtr: 0, cdMax: 0, s1dss: 0, vmidSlot: 0, s2cfg: null, s2tag: 0, s2r: false };
    if ((config & 4) === 0) {
      if (config !== R.STE_CFG_ABORT) return undefined; // reserved Config encodings
      return { ...common, kind: 'abort', s1: false, s2: false };
    }
    if (config === R.STE_CFG_BYPASS) return { ...common, kind: 'bypass', s1: false, s2: false };
    const s1 = (config & 1) !== 0;
    const s2 = (config & 2) !== 0;
    if ((s1 && !caps.s1) || (s2 && !caps.s2)) return undefined;
    const strw = (w[2]! >>> 30) & 3;
    if (strw !== 0 && strw !== 2) return undefined;
    if (strw === 2 && (!caps.hyp || s2)) return undefined;
    const vmid = caps.s2 ? w[4]! & (caps.vmidBits === 16 ? 0xffff : 0xff) : 0;
    let s1fmt = 0;
    let ctxPtr = 0;
    let cdMax = 0;
    let s1dss = 0;
    if (s1) {
      s1fmt = (w[0]! >>> 4) & 3;
      if (s1fmt === 3 || (s1fmt !== 0 && !caps.cd2l)) return undefined;
      ctxPtr = addr52(w[0]!, w[1]!, 0xffff_ffc0);
      cdMax = (w[1]! >>> 27) & 0x1f;
      if (cdMax > caps.ssidBits) return undefined;
      s1dss = w[2]! & 3;
      if (cdMax > 0 && s1dss === 3) return undefined;
    }
    let s2cfg: LpaeWalkConfig | null = null;
    let s2r = false;
    if (s2) {
      const h = w[5]!;
      const t0sz = h & 0x3f;
      const sl0 = (h >>> 6) & 3;
      const tg = (h >>> 14) & 3;
      const ps = Math.min((h >>> 16) & 7, caps.oasEnc);
      const aa64 = (h >>> 19) & 1;
      const endi = (h >>> 20) & 1;
      const hd = (h >>> 23) & 1;
      const ha = (h >>> 24) & 1;
      s2r = ((h >>> 26) & 1) !== 0;
      if (!aa64 || endi || !this.granuleOk(tg)) return undefined;
      const ttb = addr52(w[6]!, w[7]!, 0xffff_fff0);
      if (ttb >= 2 ** caps.oasBits) return undefined;
      try {
        s2cfg = lpaeS2Config({ vttbr: ttb, t0sz, sl0, tg0: tg, ps, ha: ha === 1 && caps.httu >= 1, hd: hd === 1 && caps.httu >= 2 });
      } catch (e) {
        if (e instanceof RangeError) return undefined;
        throw e;
      }
      if (s2cfg.configError !== null) return undefined;
    }
    return {
      sid,
      addr,
      kind: 'translate',
      s1,
      s2,
      s1fmt,
      ctxPtr,
      cdMax,
      s1dss,
      vmidSlot: strw === 2 ? SLOT_NONE : vmid,
      s2cfg,
      s2tag: s2cfg === null ? 0 : this.cfgTag(s2cfg),
      s2r,
    };
  }

  /** TG0-style granule encoding (0 4K, 1 64K, 2 16K) supported by IDR5. */
  private granuleOk(tg: number): boolean {
    return tg === 0 ? this.caps.gran4k : tg === 1 ? this.caps.gran64k : tg === 2 ? this.caps.gran16k : false;
  }

  /**
   * Translates a configuration-structure IPA through stage 2 (nested). Returns the PA, or −1
   * after assembling the stage-2 fault event (with `cls`).
   */
  private s2Fetch(ste: SteCfg, ipa: number, cls: number, input: number, access: WalkAccess, ssid: number): number {
    if (ste.s2cfg === null) return ipa;
    this.sx.walksOther++;
    if (walkLpae52(this.mem, ste.s2cfg, ipa, this.readAccess, this.wr2)) return this.wr2.oa;
    this.walkFaultEvent(this.wr2, ste.sid, ssid, input, access, true, cls, ipa);
    return -1;
  }

  /** The CD for (ste, ssid) (cached), or undefined after assembling the event (or a silent fault: evType 0). */
  private getCd(ste: SteCfg, ssid: number, evSsid: number, input: number, access: WalkAccess): CdCfg | undefined {
    const key = ste.sid * SSID_MUL + ssid;
    const hit = this.cdCache.get(key);
    if (hit !== undefined) return hit;
    this.stats.cdFetches++;
    let addr: number;
    if (ste.s1fmt === 0) {
      addr = ste.ctxPtr + ssid * R.CD_SIZE;
    } else {
      const leafBits = ste.s1fmt === 1 ? 6 : 10;
      let l1 = ste.ctxPtr + Math.floor(ssid / 2 ** leafBits) * 8;
      l1 = this.s2Fetch(ste, l1, R.EVT_CLASS_CD, input, access, evSsid);
      if (l1 < 0) return undefined;
      let lo: number;
      let hi: number;
      try {
        lo = this.mem.read32(l1);
        hi = this.mem.read32(l1 + 4);
      } catch (e) {
        if (!(e instanceof BusError)) throw e;
        this.ev(R.EVT_F_CD_FETCH, ste.sid, evSsid);
        this.evDw3 = l1;
        return undefined;
      }
      if ((lo & 1) === 0) return void this.ev(R.EVT_C_BAD_CD, ste.sid, evSsid);
      addr = addr52(lo, hi, 0xffff_f000) + (ssid % 2 ** leafBits) * R.CD_SIZE;
    }
    addr = this.s2Fetch(ste, addr, R.EVT_CLASS_CD, input, access, evSsid);
    if (addr < 0) return undefined;
    const w = this.cdScratch;
    try {
      this.read8(addr, w);
    } catch (e) {
      if (!(e instanceof BusError)) throw e;
      this.ev(R.EVT_F_CD_FETCH, ste.sid, evSsid);
      this.evDw3 = addr;
      return undefined;
    }
    const cd = this.decodeCd(ste, addr, w, evSsid);
    if (cd === undefined) return undefined;
    this.cdCache.set(key, cd);
    const tr = this.trackedCd.get(key);
    if (tr === undefined || tr.addr !== addr) {
      this.trackedCd.set(key, { addr, sid: ste.sid, ssid, ctxPtr: ste.ctxPtr, words: Uint32Array.from(w) });
    }
    return cd;
  }

  private decodeCd(ste: SteCfg, addr: number, w: Uint32Array, evSsid: number): CdCfg | undefined {
    const caps = this.caps;
    const bad = (): undefined => void this.ev(R.EVT_C_BAD_CD, ste.sid, evSsid);
    const lo = w[0]!;
    const hi = w[1]!;
    if ((lo & 0x8000_0000) === 0) return bad();
    const t0sz = lo & 0x3f;
    const tg0 = (lo >>> 6) & 3;
    const epd0 = (lo & (1 << 14)) !== 0;
    const endi = (lo & (1 << 15)) !== 0;
    const t1sz = (lo >>> 16) & 0x3f;
    const tg1 = (lo >>> 22) & 3;
    const epd1 = (lo & (1 << 30)) !== 0;
    const ips = Math.min(hi & 7, caps.oasEnc);
    const aa64 = (hi & (1 << 9)) !== 0;
    const hd = (hi & (1 << 10)) !== 0;
    const ha = (hi & (1 << 11)) !== 0;
    const record = (hi & (1 << 13)) !== 0;
    const asid = (hi >>> 16) & (caps.asidBits === 16 ? 0xffff : 0xff);
    if (!aa64 || endi) return bad();
    if (!epd0 && !this.granuleOk(tg0)) return bad();
    // TG1 uses its own encoding: 1 16K, 2 4K, 3 64K.
    if (!epd1 && !this.granuleOk(tg1 === 1 ? 2 : tg1 === 2 ? 0 : tg1 === 3 ? 1 : -1)) return bad();
    // Nested: TTB0 and TTB1 are IPAs, kept as such; each walk has stage 2 translate every
    // table address it reads (`s1TableAddress`), so a stage-2 change reaches them after a TLBI.
    const ttb0 = addr52(w[2]!, w[3]!, 0xffff_fff0);
    const ttb1 = addr52(w[4]!, w[5]!, 0xffff_fff0);
    let s1cfg: LpaeWalkConfig;
    try {
      s1cfg = lpaeS1Config({
        ttbr0: epd0 ? undefined : ttb0,
        ttbr1: epd1 ? undefined : ttb1,
        t0sz: epd0 ? 64 - 25 : t0sz,
        t1sz: epd1 ? 64 - 25 : t1sz,
        tg0: epd0 ? 0 : tg0,
        tg1: epd1 ? 2 : tg1,
        ips,
        epd0,
        epd1,
        ha: ha && caps.httu >= 1,
        hd: hd && caps.httu >= 2,
        mair: (BigInt(w[7]!) << 32n) | BigInt(w[6]!),
      });
    } catch (e) {
      if (e instanceof RangeError) return bad();
      throw e;
    }
    if (s1cfg.configError !== null) return bad();
    return { addr, asid, record, s1cfg, s1tag: this.cfgTag(s1cfg, ste.s2cfg !== null) };
  }

  /**
   * The walk-cache tag of a decoded translation config: equal for configs with the same
   * tables and geometry (so streams sharing a VMID share stage-2 walk entries), different
   * otherwise (a walk never resumes in a table found under other translation controls). A
   * nested stage-1 config gets its own tag: its table addresses are IPAs, not PAs.
   */
  private cfgTag(cfg: LpaeWalkConfig, nested = false): number {
    const key = (nested ? 'nested:' : '') + JSON.stringify(cfg);
    let tag = this.cfgTags.get(key);
    if (tag === undefined) {
      // Bounded memory: past 4096 distinct configs the table restarts (configs seen before get
      // new tags: only sharing is lost). Tags are not reused until 2^26 have been handed out;
      // then the walk cache and the configuration caches start afresh.
      if (this.cfgTags.size >= 4096) this.cfgTags.clear();
      if (this.nextCfgTag >= WALK_CACHE_TAGS) {
        this.nextCfgTag = 0;
        this.wc.invalidateAll();
        this.steCache.clear();
        this.cdCache.clear();
        this.dropFastStream();
      }
      tag = this.nextCfgTag++;
      this.cfgTags.set(key, tag);
    }
    return tag;
  }

  // =========================================================================================
  // Translation

  /** Fills the event fields of a failed walk; returns whether the fault is recorded. */
  private walkFaultEvent(r: WalkResult, sid: number, ssid: number, input: number, access: WalkAccess, s2: boolean, cls: number, ipa: number): void {
    const type =
      r.fault === 'access-flag' ? R.EVT_F_ACCESS
      : r.fault === 'permission' ? R.EVT_F_PERMISSION
      : r.fault === 'address-size' ? R.EVT_F_ADDR_SIZE
      : r.fault === 'external' ? R.EVT_F_WALK_EABT
      : R.EVT_F_TRANSLATION;
    this.ev(type, sid, ssid);
    this.evInput = input;
    this.evAccess = access;
    this.evS2 = s2;
    this.evCls = cls;
    if (type === R.EVT_F_WALK_EABT) {
      this.evTtrnw = true;
      this.evDw3 = r.descAddr - (r.descAddr % 8);
    } else if (s2) {
      this.evDw3 = ipa - (ipa % 4096);
    }
  }

  /**
   * Translates one transaction. `substreamId` is −1 for traffic without a SubstreamID.
   * Writes the PA to `out.pa` and returns true, or returns false (the access is aborted; an
   * event record is written when the architecture records one). Allocation-free on a TLB hit:
   * the stream's context comes from the last-stream cache (or the STE/CD caches), then one
   * probe of the shared TLB (`Tlb.lookup`) per block size the context holds.
   */
  translate(streamId: number, substreamId: number, iova: number, access: WalkAccess, out: SmmuTranslation): boolean {
    // A wrapper small enough to be inlined everywhere: the input goes on as int32 halves, so
    // no call on the translation path ever boxes a double (V8 allocates a heap number for a
    // double argument of a call it does not inline, and whether it inlines the larger body
    // depends on the caller).
    const hi = Math.floor(iova * INV_TWO32);
    return this.translateParts(streamId, substreamId, hi | 0, (iova - hi * TWO32) | 0, access, out);
  }

  /**
   * `translate` with the input address as its 32-bit halves (int32 or u32 bit patterns; the
   * high half below 2^21). Callers holding the halves (register pairs) can use it directly.
   */
  translateParts(streamId: number, substreamId: number, hi: number, lo: number, access: WalkAccess, out: SmmuTranslation): boolean {
    // The hot part: a TLB hit of the remembered stream, and nothing else. It is kept small
    // enough in bytecode that V8 inlines it (with `translate` and what it calls: `lookupOne`,
    // `perms`, `outputFlat`) into the callers' loops, so a hit makes no call. V8 inlines a
    // function while the bytecode it brings (its own plus, once it has optimized code of its
    // own, everything that code inlined) times 1.2 fits a budget of 920 bytes per compiled
    // function: `translate` (73) with this chain came to ~674 (2026-12-06), ~20 bytes of room.
    // Over it, a caller calls `translate` and boxes the IOVA (a heap number per translation):
    // keep this part small, and check with `--trace-turbo-inlining` after changing it.
    // Everything else goes to `translateSlow` with the input as int32 halves: misses (the
    // one-step fill and the walks), another stream than the last one, bypass and abort
    // streams, the SMMU disabled (a stream is remembered only while SMMUEN is set: see
    // `writeCr0`), contexts holding other sizes than one below 4 GiB (`lookupOne` says −2).
    const ctx = this.fastCtx;
    let e = -1;
    if (streamId === this.fastSid && substreamId === this.fastSsid && ctx >= 0) {
      const tlb = this.tlb;
      e = tlb.lookupOne(ctx, hi, lo);
      // The permission bit `permits` would test, written out (PERM_USER_* are PERM_PRIV_* << 3).
      if (e >= 0 && (tlb.perms(e) & ((access.exec ? PERM_PRIV_X : access.write ? PERM_PRIV_W : PERM_PRIV_R) << (access.priv ? 0 : 3))) !== 0) {
        const st = this.stats;
        st.translations++;
        st.tlbHits++;
        out.pa = tlb.outputFlat(e, hi, lo);
        return true;
      }
    }
    return this.translateSlow(streamId, substreamId, hi, lo, access, out, e);
  }

  /**
   * `translateParts` for everything its hot part does not do. For the remembered stream: a
   * context `lookupOne` does not probe (`e` −2), a hit the access may not use (`e` its
   * entry), a miss (`e` −1: the one-step fill, else `translateMiss`). Else the SMMU disabled,
   * a stream other than the last one (its configuration found through the STE and CD caches
   * and remembered, then the translation starts again in `translateParts`), bypass and abort.
   */
  private translateSlow(streamId: number, substreamId: number, hi: number, lo: number, access: WalkAccess, out: SmmuTranslation, e: number): boolean {
    const fc = this.fastCtx;
    if (streamId === this.fastSid && substreamId === this.fastSsid && fc >= 0) {
      if (e === -2) {
        // A context holding several block sizes (or one of 4 GiB and more, or none).
        e = this.tlb.lookupParts(fc, hi, lo);
        if (e >= 0 && permits(this.tlb.perms(e), access)) {
          this.stats.translations++;
          this.stats.tlbHits++;
          out.pa = this.tlb.outputParts(e, hi, lo);
          return true;
        }
      }
      const st = this.stats;
      st.translations++;
      if (e < 0 && this.fastOne !== null) {
        const tlb = this.tlb;
        const need = (access.exec ? PERM_PRIV_X : access.write ? PERM_PRIV_W : PERM_PRIV_R) << (access.priv ? 0 : 3);
        const f = tlb.fillLeaf(fc, fc, this.fastOneWctx, this.fastOneTag, this.fastOne, hi, lo, need, this.wcLeaf, true);
        if (f >= 0) {
          // `stats.tlbMisses`, `walks`, `tlbEntries` and `tlbFlushes` follow (see `stats`).
          out.pa = tlb.outputParts(f, hi, lo);
          return true;
        }
      }
      return this.translateMiss(hi, lo, access, out, e);
    }
    if ((this.cr0 & R.CR0_SMMUEN) === 0) {
      this.stats.translations++;
      return this.translateDisabled(hi * TWO32 + (lo >>> 0), out);
    }
    let ctx = this.fastCtx;
    if (streamId !== this.fastSid || substreamId !== this.fastSsid) {
      // Another stream than the last one: find its configuration through the STE and CD
      // caches and remember it (CTX_FAULT results, which wrote an event, are not remembered).
      // Counted first, as before any event: a remembered stream that translates uncounts it
      // and goes on in the hot part, which counts it there.
      this.stats.translations++;
      const iova = hi * TWO32 + (lo >>> 0);
      const ste = this.getSte(streamId, substreamId);
      if (ste === undefined) {
        this.emitEvent();
        return false;
      }
      let cd: CdCfg | undefined;
      if (ste.kind === 'abort') ctx = CTX_ABORT;
      else if (ste.kind === 'bypass') ctx = CTX_BYPASS;
      else {
        if (ste.s1) {
          let ssid = substreamId;
          let useS1 = true;
          if (substreamId >= 0) {
            if (ste.cdMax === 0 || substreamId >= 2 ** ste.cdMax) {
              this.ev(R.EVT_C_BAD_SUBSTREAMID, streamId, substreamId);
              this.emitEvent();
              return false;
            }
          } else if (ste.cdMax === 0 || ste.s1dss === R.S1DSS_SSID0) {
            ssid = 0;
          } else if (ste.s1dss === R.S1DSS_BYPASS) {
            useS1 = false;
          } else {
            this.ev(R.EVT_F_STREAM_DISABLED, streamId, -1);
            this.emitEvent();
            return false;
          }
          if (useS1) {
            cd = this.getCd(ste, ssid, substreamId, iova, access);
            if (cd === undefined) {
              this.emitEvent();
              return false;
            }
          }
        }
        // S1DSS bypass without stage 2 passes through.
        ctx = cd === undefined && ste.s2cfg === null ? CTX_BYPASS : this.tlb.context(ste.vmidSlot, cd !== undefined ? cd.asid : SLOT_NONE);
        this.fastCtx2 = cd !== undefined && ste.s2cfg !== null ? this.tlb.context(ste.vmidSlot, SLOT_NONE) : -1;
        if (this.wcOn) {
          const wc = this.wc;
          this.fastWctx1 = cd !== undefined ? wc.context(ste.vmidSlot, cd.asid) : -1;
          this.fastWctx2 = ste.s2cfg !== null ? wc.context(ste.vmidSlot, SLOT_NONE) : -1;
        }
      }
      this.fastSid = streamId;
      this.fastSsid = substreamId;
      this.fastCtx = ctx;
      this.fastSte = ste;
      this.fastCd = cd;
      this.fastOne = null;
      if (this.wcOn && ctx >= 0) {
        if (cd !== undefined && ste.s2cfg === null) {
          this.fastOne = cd.s1cfg;
          this.fastOneTag = cd.s1tag;
          this.fastOneWctx = this.fastWctx1;
        } else if (cd === undefined && ste.s2cfg !== null) {
          this.fastOne = ste.s2cfg;
          this.fastOneTag = ste.s2tag;
          this.fastOneWctx = this.fastWctx2;
        }
      }
      if (ctx >= 0) {
        this.stats.translations--;
        return this.translateParts(streamId, substreamId, hi, lo, access, out);
      }
    } else {
      this.stats.translations++;
    }
    if (ctx !== CTX_BYPASS) return false;
    out.pa = hi * TWO32 + (lo >>> 0);
    return true;
  }

  private translateDisabled(iova: number, out: SmmuTranslation): boolean {
    if (this.gbpa & R.GBPA_ABORT) return false;
    out.pa = iova;
    return true;
  }

  /**
   * A TLB miss (or a permission failure on a hit, which a fresh walk re-checks: hardware
   * dirty-state updates and faults are the walker's business) for the fast stream. Each stage
   * walks through `walkStage` (walk cache, then the fast walk, then the full walker for
   * anything else); the combined entry goes into the TLB. Only int32 halves cross calls.
   */
  private translateMiss(iovaHi: number, iovaLo: number, access: WalkAccess, out: SmmuTranslation, e: number): boolean {
    const ctx = this.fastCtx;
    const streamId = this.fastSid;
    const substreamId = this.fastSsid;
    const one = this.fastOne;
    // `fastLeaf` only when the step is not armed for this stream's walk-cache context and
    // config: when it is, `fillLeaf` has just declined exactly where `fastLeaf` would (the
    // input is in another table, or its leaf is one neither serves): e.g. the first miss in
    // each new level-3 table, which then walks.
    const m = this.wc.leaf;
    if (e < 0 && one !== null && (m.wctx !== this.fastOneWctx || m.tag !== this.fastOneTag || m.cfg !== one) && this.wc.fastLeaf(this.fastOneWctx, this.fastOneTag, one, iovaHi, iovaLo, access, this.res1)) {
      // The same when the walk cache's remembered table is not decoded for fillLeaf yet:
      // what the code below does in that case, without its set-up (walkStage would look the
      // same entry up and read the same descriptor); then decoded for the next misses.
      this.wc.primeLeaf(this.fastOneWctx, this.fastOneTag, one, iovaHi, iovaLo);
      const res = this.res1;
      this.sx.missesOther++;
      this.sx.walksOther++;
      const oaHi = res[FAST_OA_HI]!;
      const oaLo = res[FAST_OA_LO]!;
      this.tlb.insertHalves(ctx, iovaHi, iovaLo, res[FAST_SHIFT]!, oaHi, oaLo, res[FAST_PERMS]!, 0);
      out.pa = (oaHi >>> 0) * TWO32 + (oaLo >>> 0);
      return true;
    }
    const ste = this.fastSte!;
    const cd = this.fastCd;
    this.sx.missesOther++;
    let ipaHi = iovaHi | 0;
    let ipaLo = iovaLo | 0;
    let shift = 64;
    let perms = PERM_ALL;
    if (cd !== undefined) {
      this.sx.walksOther++;
      const res = this.res1;
      const ok = ste.s2cfg === null ? this.walkStage(cd.s1cfg, cd.s1tag, this.fastWctx1, iovaHi, iovaLo, access, this.wr, this.cur1, res) : this.walkNestedS1(cd.s1cfg, cd.s1tag, iovaHi, iovaLo, access, res);
      if (!ok) {
        if (ste.s2cfg !== null && this.nestFaulted) {
          // Stage 2 faulted on a stage-1 table access: a stage-2 fault of class TT at the IPA of
          // the access, TTRnW saying whether it was a read (a fetch) or a write (a hardware
          // AF/dirty update of the descriptor); RnW/InD/PnU stay those of the transaction.
          // Recorded as stage-2 faults are (STE.S2R).
          const r2 = this.wr2;
          this.walkFaultEvent(r2, streamId, substreamId, iovaHi * TWO32 + (iovaLo >>> 0), access, true, R.EVT_CLASS_TT, this.nestIpa);
          this.evTtrnw = !this.nestWrite;
          if (r2.fault === 'external' || ste.s2r) this.emitEvent();
          return false;
        }
        const r = this.wr;
        this.walkFaultEvent(r, streamId, substreamId, iovaHi * TWO32 + (iovaLo >>> 0), access, false, 0, 0);
        if (r.fault === 'external' || cd.record) this.emitEvent();
        return false;
      }
      ipaHi = res[FAST_OA_HI]!;
      ipaLo = res[FAST_OA_LO]!;
      shift = res[FAST_SHIFT]!;
      perms = res[FAST_PERMS]!;
    }
    let paHi = ipaHi;
    let paLo = ipaLo;
    if (ste.s2cfg !== null) {
      this.sx.walksOther++;
      const res = this.res2;
      if (!this.walkStage(ste.s2cfg, ste.s2tag, this.fastWctx2, ipaHi, ipaLo, access, this.wr2, this.cur2, res)) {
        const r = this.wr2;
        this.walkFaultEvent(r, streamId, substreamId, iovaHi * TWO32 + (iovaLo >>> 0), access, true, R.EVT_CLASS_IN, (ipaHi >>> 0) * TWO32 + (ipaLo >>> 0));
        if (r.fault === 'external' || ste.s2r) this.emitEvent();
        return false;
      }
      paHi = res[FAST_OA_HI]!;
      paLo = res[FAST_OA_LO]!;
      const s2 = res[FAST_SHIFT]!;
      if (s2 < shift) shift = s2;
      perms &= res[FAST_PERMS]!;
    }
    this.tlb.insertHalves(ctx, iovaHi, iovaLo, shift, paHi, paLo, perms, 0);
    // A one-stage stream: the step decoded on the table the walk reached (the walk cache's
    // remembered entry, when it cached one), so that the next miss there is served in
    // `translateParts` by `fillLeaf` instead of coming back here (the first page of every
    // level-3 table walks; the second one used to take this path too, through `fastLeaf`).
    if (one !== null) this.wc.primeLeaf(this.fastOneWctx, this.fastOneTag, one, iovaHi, iovaLo);
    out.pa = (paHi >>> 0) * TWO32 + (paLo >>> 0);
    return true;
  }

  /**
   * One stage's walk of the input (halves) under `cfg`: resumes at the walk cache's table for
   * the input when there is one for this config (`tag`) in walk-cache context `wctx`, tries
   * the fast walk and falls back to the full walker where it stops; then caches the last table
   * the walk reached (when it got below where it started). On success `res` holds the output
   * (halves), the leaf's size shift and its permissions; on failure `wr` holds the fault.
   */
  private walkStage(cfg: LpaeWalkConfig, tag: number, wctx: number, hi: number, lo: number, access: WalkAccess, wr: WalkResult, cur: Float64Array, res: Int32Array): boolean {
    // Kept small (inlinable): the common case, a leaf in the cached table for the input.
    const wc = this.wc;
    let e = -1;
    if (this.wcOn) {
      e = wc.lookupParts(wctx, hi, lo);
      if (e >= 0) {
        const words = wc.words(e);
        if (words !== null && wc.tag(e) === tag && lpaeFastLeaf(cfg, wc.granuleShift(e), wc.level(e), words, PhysMem.wordIndex(wc.table(e)), wc.tableHi(e), hi, lo, access, res)) return true;
      }
    }
    return this.walkStageFull(cfg, tag, wctx, hi, lo, access, wr, cur, res, e);
  }

  /** `walkStage` past its common case; `e` is the walk-cache entry found for the input, or −1. */
  private walkStageFull(cfg: LpaeWalkConfig, tag: number, wctx: number, hi: number, lo: number, access: WalkAccess, wr: WalkResult, cur: Float64Array, res: Int32Array, e: number): boolean {
    const from = this.wc.resumeCursor(e, tag, cfg, cur);
    let ok = walkLpaeFast(this.mem, cfg, hi, lo, access, cur, res);
    if (!ok) {
      ok = walkLpaeParts(this.mem, cfg, hi, lo, access, wr, undefined, cur);
      if (ok) {
        const oa = wr.oa;
        const oaHi = Math.floor(oa * INV_TWO32);
        res[FAST_OA_HI] = oaHi;
        res[FAST_OA_LO] = (oa - oaHi * TWO32) | 0;
        res[FAST_SHIFT] = tlbSizeShift(wr.size);
        res[FAST_PERMS] = wr.perms;
      }
    }
    if (this.wcOn) this.wc.fillFromCursor(wctx, hi, lo, tag, cfg, cur, from, this.mem);
    return ok;
  }

  /**
   * The stage-1 walk of a nested stream (the fast stream): the full walker with every table
   * address translated by stage 2 (`s1Tables`). Walk-cached (when the walk cache is on) in the
   * stream's stage-1 context under the nested config's `tag`: the walk resumes at the cached
   * table, whose address is an IPA that stage 2 translates again at each use (through the
   * VMID's stage-2 TLB entries), so stage-2 invalidations keep their effect; then the last table
   * reached is cached (without backing words: they would be a PA's). On success `res` is filled
   * as `walkStage` fills it; on failure `wr` holds a stage-1 fault, or `nestFaulted` is set and
   * `wr2` holds the stage-2 fault of a table access (`nestWrite`: of a descriptor update).
   */
  private walkNestedS1(cfg: LpaeWalkConfig, tag: number, hi: number, lo: number, access: WalkAccess, res: Int32Array): boolean {
    this.nestFaulted = false;
    this.nestWrite = false;
    const wr = this.wr;
    let ok: boolean;
    if (this.wcOn) {
      const wc = this.wc;
      const wctx = this.fastWctx1;
      const cur = this.cur1;
      const e = wc.lookupParts(wctx, hi, lo);
      if (e >= 0 && this.nestedLeaf(cfg, tag, e, hi, lo, access, res)) return true;
      const from = wc.resumeCursor(e, tag, cfg, cur);
      ok = walkLpaeParts(this.mem, cfg, hi, lo, access, wr, this.s1Tables, cur);
      wc.fillFromCursor(wctx, hi, lo, tag, cfg, cur, from, null);
    } else {
      ok = walkLpaeParts(this.mem, cfg, hi, lo, access, wr, this.s1Tables);
    }
    if (!ok) return false;
    const oa = wr.oa;
    const oaHi = Math.floor(oa * INV_TWO32);
    res[FAST_OA_HI] = oaHi;
    res[FAST_OA_LO] = (oa - oaHi * TWO32) | 0;
    res[FAST_SHIFT] = tlbSizeShift(wr.size);
    res[FAST_PERMS] = wr.perms;
    return true;
  }

  /**
   * Stage-2 translation of a table address `ipa` read by the fast stream's nested stage-1 walk
   * (a read): the stage-2 TLB entries of the VMID first, else a stage-2 walk (walk cache
   * included) whose result becomes such an entry, so that TLBI_S2_IPA and TLBI_S12_VMALL
   * invalidate it. True with the PA in `s1Tables.paHi`/`paLo`, or false with the stage-2 fault in
   * `wr2` and `nestFaulted` set.
   */
  private s1TableAddress(hi: number, lo: number): boolean {
    const tlb = this.tlb;
    const ctx = this.fastCtx2;
    const t = this.s1Tables;
    const e = tlb.lookupParts(ctx, hi, lo);
    if (e >= 0 && permits(tlb.perms(e), this.readAccess)) {
      // As halves: a double result of a call V8 does not inline is a heap number per fetch.
      const h = this.s1TableHalves;
      tlb.outputHalves(e, hi, lo, h);
      t.paHi = h[0]!;
      t.paLo = h[1]!;
      return true;
    }
    const ste = this.fastSte!;
    this.sx.walksOther++;
    const res = this.res2;
    if (!this.walkStage(ste.s2cfg!, ste.s2tag, this.fastWctx2, hi, lo, this.readAccess, this.wr2, this.cur2, res)) {
      this.nestFaulted = true;
      this.nestIpa = (hi >>> 0) * TWO32 + (lo >>> 0);
      return false;
    }
    tlb.insertHalves(ctx, hi, lo, res[FAST_SHIFT]!, res[FAST_OA_HI]!, res[FAST_OA_LO]!, res[FAST_PERMS]!, 0);
    t.paHi = res[FAST_OA_HI]!;
    t.paLo = res[FAST_OA_LO]!;
    return true;
  }

  /**
   * The common nested stage-1 miss: walk-cache entry `e` (found for the input) holds a table of
   * this config whose descriptor for the input is a leaf the fast walk accepts, and the IPA of
   * that descriptor hits a stage-2 TLB entry of the VMID granting read. Then `res` is filled
   * exactly as the full walk resuming at `e` would fill it (it would make the same TLB lookup,
   * read the same descriptor and need no update) and true is returned; otherwise false, with
   * nothing changed.
   */
  private nestedLeaf(cfg: LpaeWalkConfig, tag: number, e: number, hi: number, lo: number, access: WalkAccess, res: Int32Array): boolean {
    const wc = this.wc;
    if (wc.tag(e) !== tag) return false;
    const g = wc.granuleShift(e);
    const level = wc.level(e);
    const bpl = g - 3;
    const shift = g + bpl * (3 - level);
    if (shift >= 32) return false;
    const idx = ((lo >>> shift) | (hi << (32 - shift))) & ((1 << bpl) - 1);
    // The descriptor's IPA as halves (the table is aligned to its size, at least 4 KiB).
    const t = wc.table(e);
    const dHi = Math.floor(t * INV_TWO32) | 0;
    const dLo = (t | 0) | (idx << 3);
    const tlb = this.tlb;
    const s = tlb.lookupParts(this.fastCtx2, dHi, dLo);
    if (s < 0 || !permits(tlb.perms(s), this.readAccess)) return false;
    const h = this.s1TableHalves;
    tlb.outputHalves(s, dHi, dLo, h);
    let words: Uint32Array;
    try {
      words = this.mem.peekChunkParts(h[0]!, h[1]!);
    } catch (err) {
      if (err instanceof BusError) return false; // the full walk reports the external abort
      throw err;
    }
    const wi = PhysMem.wordIndex(h[1]! >>> 0); // the low word alone fixes the index in a chunk
    return lpaeFastLeaf(cfg, g, level, words, wi - 2 * idx, wc.tableHi(e), hi, lo, access, res);
  }

  /**
   * Stage-2 check of a hardware update (AF or dirty state) of a descriptor in the stage-1 table
   * at `ipa`, made by the fast stream's nested stage-1 walk: the update is a write of that table,
   * so stage 2 must permit a write there. A stage-2 TLB entry of the VMID that grants it is
   * enough; otherwise stage 2 is walked for a write (which, with STE.S2HA/S2HD, sets the stage-2
   * descriptor's AF or marks it dirty) and the result replaces the entry. True to let the update
   * go ahead, or false with the stage-2 fault in `wr2` and `nestFaulted`/`nestWrite` set.
   */
  private s1TableWrite(hi: number, lo: number): boolean {
    const tlb = this.tlb;
    const ctx = this.fastCtx2;
    const access = this.tableWriteAccess;
    const e = tlb.lookupParts(ctx, hi, lo);
    if (e >= 0 && permits(tlb.perms(e), access)) return true;
    const ste = this.fastSte!;
    this.sx.walksOther++;
    const res = this.res2;
    if (!this.walkStage(ste.s2cfg!, ste.s2tag, this.fastWctx2, hi, lo, access, this.wr2, this.cur2, res)) {
      this.nestFaulted = true;
      this.nestWrite = true;
      this.nestIpa = (hi >>> 0) * TWO32 + (lo >>> 0);
      return false;
    }
    tlb.insertHalves(ctx, hi, lo, res[FAST_SHIFT]!, res[FAST_OA_HI]!, res[FAST_OA_LO]!, res[FAST_PERMS]!, 0);
    return true;
  }

  /**
   * Installs this SMMU as the translator of a DMA master (its transactions carry `streamId`):
   * a DmaMaster, or any master with the same `setTranslator` hook (a BusMasterPort).
   */
  attachMaster(master: SmmuV3Master, streamId: number = master.streamId): void {
    if (!Number.isInteger(streamId) || streamId < 0 || streamId >= TWO32)
      throw new RangeError(`${this.name}: bad stream ID ${typeof streamId === 'bigint' ? `${String(streamId)}n (a BigInt; stream IDs are numbers)` : String(streamId)}: not a 32-bit StreamID`);
    const access = this.dmaAccess;
    master.setTranslator(
      (_sid: number, iova: number, write: boolean, out: DmaTranslation) => {
        access.write = write;
        return this.translate(streamId, -1, iova, access, out);
      },
      (_sid: number, hi: number, lo: number, write: boolean, out: DmaTranslation) => {
        access.write = write;
        return this.translateParts(streamId, -1, hi, lo, access, out);
      },
    );
    this.masters.add(master);
  }

  /** Removes this SMMU from a master's path (its bus addresses become physical again). */
  detachMaster(master: SmmuV3Master): void {
    if (!this.masters.delete(master)) return;
    master.setTranslator(undefined);
  }

  private readonly masters = new Set<SmmuV3Master>();

  /** The masters attached to this SMMU. */
  get attachedMasters(): readonly SmmuV3Master[] {
    return [...this.masters];
  }

  /** Event records currently in the event queue (between CONS and PROD), decoded; for tests. */
  pendingEvents(): SmmuEvent[] {
    const log2 = this.evtqLog2();
    const n = log2 < 31 ? 1 << log2 : 2 ** log2;
    const wmask = this.qMask(log2);
    const base = this.evtqBase();
    const out: SmmuEvent[] = [];
    const w = new Uint32Array(8);
    for (let c = this.evtqCons & wmask; c !== (this.evtqProd & wmask); c = (c + 1) & wmask) {
      this.read8(base + (c & (n - 1)) * R.EVT_SIZE, w);
      out.push(decodeSmmuEvent(w));
    }
    return out;
  }

  // =========================================================================================
  // Hitless-update check (at every CMD_SYNC)

  private readonly hlOld = new Uint32Array(8);
  private readonly hlNew = new Uint32Array(8);
  private readonly hlMix = new Uint32Array(8);
  /** smmuSteUsedBits for this SMMU's features. */
  private readonly steUsed = (w: ArrayLike<number>, m: Uint32Array): void => smmuSteUsedBits(w, m, this.caps);
  private readonly hlM1 = new Uint32Array(8);
  private readonly hlM2 = new Uint32Array(8);

  /**
   * Every STE and CD the SMMU has used stays live: it may be (re)fetched at any moment, one
   * 64-bit word at a time. Between two CMD_SYNCs the driver's writes can therefore be seen in
   * any mixture of old and new 64-bit words. The update is hitless when every such mixture
   * means, in the bits the SMMU interprets, the same as the old value or the same as the new
   * one. Anything else is recorded in `hitlessViolations`.
   */
  private checkHitless(): void {
    const sync = this.stats.syncs;
    for (const [sid, t] of this.trackedSte) {
      if (!this.checkTracked(t, 'ste', sync, this.steUsed)) this.trackedSte.delete(sid);
    }
    for (const [key, t] of this.trackedCd) {
      const ste = this.trackedSte.get(t.sid);
      // A CD stays live only while the STE that led to it still points at the same CD table.
      if (ste === undefined || ((ste.words[0]! >>> 1) & 5) !== 5 || (ste.words[0]! & 1) === 0 || addr52(ste.words[0]!, ste.words[1]!, 0xffff_ffc0) !== t.ctxPtr) {
        this.trackedCd.delete(key);
        continue;
      }
      if (!this.checkTracked(t, 'cd', sync, smmuCdUsedBits)) this.trackedCd.delete(key);
    }
  }

  /** Checks one tracked structure and refreshes its snapshot; false if it is no longer readable. */
  private checkTracked(t: Tracked, kind: 'ste' | 'cd', sync: number, used: (w: ArrayLike<number>, m: Uint32Array) => void): boolean {
    const cur = this.hlNew;
    try {
      this.read8(t.addr, cur);
    } catch (e) {
      if (!(e instanceof BusError)) throw e;
      return false;
    }
    const old = t.words;
    let changed = 0;
    for (let d = 0; d < 4; d++) if (old[2 * d] !== cur[2 * d] || old[2 * d + 1] !== cur[2 * d + 1]) changed |= 1 << d;
    if (changed === 0) return true;
    this.hlOld.set(old);
    const mix = this.hlMix;
    let bad: string | null = null;
    for (let sel = 0; sel < 16 && bad === null; sel++) {
      if ((sel & ~changed) !== 0) continue;
      for (let d = 0; d < 4; d++) {
        const src = sel & (1 << d) ? cur : old;
        mix[2 * d] = src[2 * d]!;
        mix[2 * d + 1] = src[2 * d + 1]!;
      }
      if (!this.sameMeaning(mix, old, used) && !this.sameMeaning(mix, cur, used)) {
        const words: number[] = [];
        for (let d = 0; d < 4; d++) if (sel & (1 << d)) words.push(d);
        bad = `a fetch seeing new dw${words.join('/dw')} with the other words old matches neither the old nor the new ${kind.toUpperCase()}`;
      }
    }
    if (bad !== null) {
      const fmt = (w: Uint32Array): string[] => [0, 1, 2, 3].map((d) => hex64(w[2 * d]!, w[2 * d + 1]!));
      this.hitlessViolations.push({ sync, kind, sid: t.sid, ssid: t.ssid, addr: t.addr, old: fmt(this.hlOld), new: fmt(cur), reason: bad });
    }
    t.words.set(cur);
    return true;
  }

  private sameMeaning(a: Uint32Array, b: Uint32Array, used: (w: ArrayLike<number>, m: Uint32Array) => void): boolean {
    used(a, this.hlM1);
    used(b, this.hlM2);
    for (let i = 0; i < 8; i++) {
      const m = this.hlM1[i]!;
      if (m !== this.hlM2[i]) return false;
      if (((a[i]! & m) >>> 0) !== ((b[i]! & m) >>> 0)) return false;
    }
    return true;
  }
}

/** Walks a 52-bit input address given as a number (no BigInt, no allocation). */
function walkLpae52(mem: PhysMem, cfg: LpaeWalkConfig, va: number, access: WalkAccess, out: WalkResult): boolean {
  const hi = Math.floor(va * INV_TWO32);
  // int32 halves (the walker takes them as u32 bit patterns): nothing to box in the call
  return walkLpaeParts(mem, cfg, hi | 0, (va - hi * TWO32) | 0, access, out);
}
