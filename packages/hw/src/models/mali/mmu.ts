/**
 * The Mali GPU MMU: one register window and one TLB per address space (AS), the MMU
 * interrupt block, and the translation every GPU memory access goes through.
 *
 * Commands (AS_COMMAND) take a few GPU register accesses to complete: AS_STATUS.AS_ACTIVE
 * reads 1 meanwhile, and their effect (latching TRANSTAB/MEMATTR, locking a region,
 * invalidating the TLB over the locked region) happens when they complete. A command written
 * while another one is still active is ignored (the register is a doorbell with no queue);
 * `events` records it, so a driver that does not wait for AS_ACTIVE to clear is caught.
 *
 * The TLB (the package's shared set-associative `SetTlb`, one context per AS) is filled on
 * demand from this package's Mali LPAE walker and emptied only by UPDATE (the whole AS) or by
 * UNLOCK / FLUSH_PT / FLUSH_MEM over the region the last LOCK locked (or by a reset, or, one
 * set at a time, when a fill finds its set full).
 *
 * Beside it a walk cache (the shared `WalkCache`, same contexts) remembers the last table each
 * walk reached, so a TLB miss next to an earlier one reads one descriptor instead of four.
 * It follows the same rules as the TLB, as the architecture's commands do: UNLOCK, FLUSH_PT and
 * FLUSH_MEM each end in a "flush region" of the MMUs, which drops every cached walk whose block
 * overlaps the locked region; UPDATE drops all of the AS's. So a driver that frees or replaces
 * a table and does not flush the region (panfrost flushes with FLUSH_PT after every map and
 * unmap) keeps walking the old table, as hardware may. `walkCache: false` (DT
 * `gki,no-walk-cache`) turns it off.
 *
 * A failing translation records the fault in AS_FAULTSTATUS / AS_FAULTADDRESS (unless one is
 * already pending for that AS), raises the AS's page-fault bit in MMU_IRQ_RAWSTAT, and the
 * access stalls: the job manager retries it whenever a flush-type command or UPDATE
 * completes. In an AS whose TRANSTAB mode is "unmapped" nothing stalls: the access fails.
 */
import { PhysMem } from '../../mem.js';
import {
  createLpaeCursor,
  maliConfig,
  walkLpaeParts,
  type LpaeWalkConfig,
} from '../../walk/lpae.js';
import { createWalkResult, permBit, permits, PERM_PRIV_R, PERM_PRIV_W, PERM_PRIV_X, PERM_USER_R, PERM_USER_W, PERM_USER_X, type WalkAccess, type WalkResult } from '../../walk/types.js';
import { tlbSizeShift, WALK_CACHE_DEFAULT_CAPACITY, WalkCache, type TlbCounters } from '../tlb.js';
import { SetTlb } from '../set-tlb.js';
import * as R from './regs.js';

const TWO32 = 2 ** 32;
const INV_TWO32 = 1 / TWO32;

/** The VA of u32/int32 halves as a number (exact below 2^53; for faults and lock checks). */
function vaFrom(hi: number, lo: number): number {
  return (hi >>> 0) * TWO32 + (lo >>> 0);
}

/** Whether the AS's locked region holds the VA (of halves). */
function lockHolds(s: AddressSpace, hi: number, lo: number): boolean {
  const va = (hi >>> 0) * TWO32 + (lo >>> 0);
  return va >= s.lockStart && va < s.lockEnd;
}

/** translate() results besides 0 (success) and positive exception codes (immediate failure). */
export const MALI_TR_OK = 0;
export const MALI_TR_STALL = -1;

/** One MMU fault as recorded (for tests and logs). */
export interface MaliFaultRecord {
  readonly as: number;
  readonly va: number;
  /** The AS_FAULTSTATUS value this fault produced. */
  readonly status: number;
  readonly exceptionType: number;
  readonly exceptionName: string;
  /** MALI_FAULT_ACCESS_* (0 atomic, 1 execute, 2 read, 3 write). */
  readonly accessType: number;
  readonly sourceId: number;
  /** 'bus' for a bus error on the data access (MMU_IRQ bit 16+as), else 'page'. */
  readonly kind: 'page' | 'bus';
  /** False when another fault was already pending on the AS: the registers kept the first. */
  readonly latched: boolean;
  /** GPU cycle (register access count) at which it happened. */
  readonly cycle: number;
}

export interface MaliMmuStats {
  translations: number;
  tlbHits: number;
  tlbMisses: number;
  walks: number;
  faults: number;
  busErrors: number;
  /** Accesses that waited on a locked region or a running command. */
  stalls: number;
  tlbInvalidated: number;
  commands: Record<string, number>;
  /** AS_COMMAND writes ignored because a command was still active. */
  commandsDropped: number;
  /** LOCKs whose region was below the hardware minimum (nothing locked). */
  badLocks: number;
  /** Flush-type commands that found no locked region (nothing invalidated). */
  flushesWithoutLock: number;
}

/** What the MMU asks of the GPU around it. */
export interface MaliMmuHost {
  /** Current GPU cycle (for records). */
  readonly cycle: number;
  /** A flush-type command or UPDATE completed on `as`: stalled accesses may be retried. */
  mmuCommandCompleted(as: number, cmd: number): void;
  /** Notes a protocol event (a dropped command, a bad lock) in the GPU's event log. */
  event(msg: string): void;
}

export interface MaliMmuOptions {
  readonly asPresent: number;
  readonly vaBits: number;
  readonly paBits: number;
  /** log2 of the smallest lock region honoured. */
  readonly lockMinLog2: number;
  /** Register accesses an AS command takes to complete (>= 0; 0 = at once). */
  readonly commandLatency: number;
  /** Entries of the TLB all address spaces share (default 65536, in 4-way sets; a full set is emptied on the next fill into it). */
  readonly tlbCapacity?: number;
  /** Cache the tables walks reach (default true; see the file comment). */
  readonly walkCache?: boolean;
  /** Entries of the walk cache all address spaces share (default 4096; emptied when full). */
  readonly walkCacheCapacity?: number;
}

const CMD_NAMES = ['NOP', 'UPDATE', 'LOCK', 'UNLOCK', 'FLUSH_PT', 'FLUSH_MEM'];

/** State of one address space. */
class AddressSpace {
  transtabLo = 0;
  transtabHi = 0;
  memattrLo = 0;
  memattrHi = 0;
  lockaddrLo = 0;
  lockaddrHi = 0;
  transcfgLo = 0;
  transcfgHi = 0;
  faultStatus = 0;
  faultAddress = 0;
  /** Remaining register accesses of the running command (0: idle). */
  busy = 0;
  cmd = 0;
  /** Latched by UPDATE. */
  mode = R.MALI_TRANSTAB_ADRMODE_UNMAPPED;
  cfg: LpaeWalkConfig | null = null;
  latchedTranstab = 0n;
  latchedMemattr = 0n;
  locked = false;
  lockStart = 0;
  lockEnd = 0;
  /** This AS's context handles in the shared TLB and in the walk cache (−1 without one). */
  constructor(
    readonly ctx: number,
    readonly wctx: number,
  ) {}
}

/** One reusable WalkAccess per access type, indexed by MALI_FAULT_ACCESS_*. */
const ACCESSES: readonly WalkAccess[] = [
  { write: true, exec: false, priv: false }, // atomic: needs write (and read, checked apart)
  { write: false, exec: true, priv: false },
  { write: false, exec: false, priv: false },
  { write: true, exec: false, priv: false },
];

/**
 * Per access type, the permission bits a leaf must grant for the miss to be served in one step
 * (`SetTlb.fillLeaf`): what `permits` checks, plus read for an atomic (else the general path
 * takes the miss and reports the fault).
 */
const ACCESS_NEED: readonly number[] = ACCESSES.map((a, i) => permBit(a) | (i === R.MALI_FAULT_ACCESS_ATOMIC ? PERM_USER_R : 0));

export class MaliMmu {
  readonly spaces: readonly AddressSpace[];
  /** Cached translations of every AS (context (0, AS number)). */
  readonly tlb: SetTlb;
  /** Cached walks of every AS (context (0, AS number)); null when turned off. */
  readonly wc: WalkCache | null;
  readonly asPresent: number;
  readonly vaBits: number;
  readonly paBits: number;
  private readonly vaLimit: number;
  /** `vaLimit` as u32 halves (the low one 0 unless vaBits < 32). */
  private readonly vaLimitHi: number;
  private readonly vaLimitLo: number;
  private readonly lockMinLog2: number;
  commandLatency: number;
  rawstat = 0;
  mask = 0;
  /** Commands in flight (to skip the per-access tick when idle). */
  private inFlight = 0;
  /** Exception code of the fault that made the last translate() stall (0: lock/busy stall). */
  stallCode = 0;
  readonly stats: MaliMmuStats = {
    translations: 0,
    tlbHits: 0,
    tlbMisses: 0,
    walks: 0,
    faults: 0,
    busErrors: 0,
    stalls: 0,
    tlbInvalidated: 0,
    commands: {},
    commandsDropped: 0,
    badLocks: 0,
    flushesWithoutLock: 0,
  };
  /** The last faults (at most `faultLogSize`, oldest first). */
  readonly faultLog: MaliFaultRecord[] = [];
  faultLogSize = 256;
  private readonly wr = createWalkResult();
  private readonly cursor = createLpaeCursor();
  /**
   * Per AS, its TLB context when a hit may be served by the hot part of `translateParts`
   * (the AS idle, no region locked, translating through tables), else −1. Set by the
   * out-of-line path when it finds the AS so, cleared by every AS_COMMAND written to the AS
   * (which is what makes it busy, locks a region or latches a new configuration) and by reset.
   */
  private readonly fastCtx = new Int32Array(R.MALI_MAX_AS).fill(-1);

  constructor(
    private readonly mem: PhysMem,
    opts: MaliMmuOptions,
    private readonly host: MaliMmuHost,
  ) {
    this.asPresent = opts.asPresent & 0xffff;
    this.vaBits = opts.vaBits;
    this.paBits = opts.paBits;
    this.vaLimit = 2 ** opts.vaBits;
    this.vaLimitHi = opts.vaBits >= 32 ? 2 ** (opts.vaBits - 32) : 0;
    this.vaLimitLo = opts.vaBits >= 32 ? 0 : 2 ** opts.vaBits;
    this.lockMinLog2 = opts.lockMinLog2;
    this.commandLatency = opts.commandLatency;
    this.tlb = new SetTlb({ capacity: opts.tlbCapacity ?? 65536 });
    const wc = opts.walkCache === false ? null : new WalkCache({ capacity: opts.walkCacheCapacity ?? WALK_CACHE_DEFAULT_CAPACITY });
    this.wc = wc;
    const spaces: AddressSpace[] = [];
    for (let i = 0; i < R.MALI_MAX_AS; i++) spaces.push(new AddressSpace(this.tlb.context(0, i), wc === null ? -1 : wc.context(0, i)));
    this.spaces = spaces;
  }

  present(as: number): boolean {
    return as >= 0 && as < R.MALI_MAX_AS && ((this.asPresent >>> as) & 1) === 1;
  }

  /**
   * The address space `as` for the inspection methods below: a RangeError naming the bad number
   * for anything but an integer AS of this MMU (the register and translation paths never get one).
   */
  private space(as: number): AddressSpace {
    const s = Number.isInteger(as) ? this.spaces[as] : undefined;
    if (s === undefined) throw new RangeError(`Mali MMU: no address space ${String(as)} (AS 0..${R.MALI_MAX_AS - 1})`);
    return s;
  }

  /** True when the AS's latched mode translates nothing (unmapped or the reserved mode 1). */
  unmapped(as: number): boolean {
    const m = this.space(as).mode;
    return m !== R.MALI_TRANSTAB_ADRMODE_TABLE && m !== R.MALI_TRANSTAB_ADRMODE_IDENTITY;
  }

  /** Number of cached translations of an AS. */
  tlbSize(as: number): number {
    return this.tlb.contextSize(this.space(as).ctx);
  }

  /** Whether this MMU caches walks (MaliMmuOptions.walkCache). */
  get walkCacheEnabled(): boolean {
    return this.wc !== null;
  }

  /** The walk cache's counters (null when it is off). */
  walkCacheCounters(): TlbCounters | null {
    return this.wc === null ? null : this.wc.counters();
  }

  /** Number of cached walks of an AS (0 without a walk cache). */
  walkCacheSize(as: number): number {
    return this.wc === null ? 0 : this.wc.contextSize(this.space(as).wctx);
  }

  /** AS_STATUS.AS_ACTIVE of an AS. */
  active(as: number): boolean {
    return this.space(as).busy > 0;
  }

  /** The region the last completed LOCK holds, or null. */
  lockedRegion(as: number): { start: number; end: number } | null {
    const s = this.space(as);
    return s.locked ? { start: s.lockStart, end: s.lockEnd } : null;
  }

  // ------------------------------------------------------------------------------ registers

  read(off: number): number {
    switch (off) {
      case R.MALI_MMU_IRQ_RAWSTAT: return this.rawstat;
      case R.MALI_MMU_IRQ_MASK: return this.mask;
      case R.MALI_MMU_IRQ_STATUS: return (this.rawstat & this.mask) >>> 0;
      case R.MALI_MMU_IRQ_CLEAR: return 0;
    }
    if (off < R.MALI_AS_BASE) return 0;
    const as = Math.floor((off - R.MALI_AS_BASE) / R.MALI_AS_STRIDE);
    if (!this.present(as)) return 0;
    const s = this.spaces[as]!;
    switch ((off - R.MALI_AS_BASE) % R.MALI_AS_STRIDE) {
      case R.MALI_AS_TRANSTAB_LO: return s.transtabLo;
      case R.MALI_AS_TRANSTAB_HI: return s.transtabHi;
      case R.MALI_AS_MEMATTR_LO: return s.memattrLo;
      case R.MALI_AS_MEMATTR_HI: return s.memattrHi;
      case R.MALI_AS_LOCKADDR_LO: return s.lockaddrLo;
      case R.MALI_AS_LOCKADDR_HI: return s.lockaddrHi;
      case R.MALI_AS_FAULTSTATUS: return s.faultStatus;
      case R.MALI_AS_FAULTADDRESS_LO: return s.faultAddress % TWO32;
      case R.MALI_AS_FAULTADDRESS_HI: return Math.floor(s.faultAddress / TWO32) >>> 0;
      case R.MALI_AS_STATUS: return s.busy > 0 ? R.MALI_AS_STATUS_ACTIVE : 0;
      case R.MALI_AS_TRANSCFG_LO: return s.transcfgLo;
      case R.MALI_AS_TRANSCFG_HI: return s.transcfgHi;
      default: return 0; // COMMAND and FAULTEXTRA read as zero
    }
  }

  write(off: number, v: number): void {
    switch (off) {
      case R.MALI_MMU_IRQ_CLEAR:
        this.rawstat = (this.rawstat & ~v) >>> 0;
        return;
      case R.MALI_MMU_IRQ_MASK:
        this.mask = v >>> 0;
        return;
      case R.MALI_MMU_IRQ_RAWSTAT:
      case R.MALI_MMU_IRQ_STATUS:
        return;
    }
    if (off < R.MALI_AS_BASE) return;
    const as = Math.floor((off - R.MALI_AS_BASE) / R.MALI_AS_STRIDE);
    if (!this.present(as)) return;
    const s = this.spaces[as]!;
    switch ((off - R.MALI_AS_BASE) % R.MALI_AS_STRIDE) {
      case R.MALI_AS_TRANSTAB_LO: s.transtabLo = v; break;
      case R.MALI_AS_TRANSTAB_HI: s.transtabHi = v; break;
      case R.MALI_AS_MEMATTR_LO: s.memattrLo = v; break;
      case R.MALI_AS_MEMATTR_HI: s.memattrHi = v; break;
      case R.MALI_AS_LOCKADDR_LO: s.lockaddrLo = v; break;
      case R.MALI_AS_LOCKADDR_HI: s.lockaddrHi = v; break;
      case R.MALI_AS_TRANSCFG_LO: s.transcfgLo = v; break;
      case R.MALI_AS_TRANSCFG_HI: s.transcfgHi = v; break;
      case R.MALI_AS_COMMAND: this.command(as, v); break;
      default: break; // read-only registers ignore writes
    }
  }

  private command(as: number, cmd: number): void {
    const s = this.spaces[as]!;
    this.fastCtx[as] = -1;
    const name = CMD_NAMES[cmd] ?? `UNKNOWN_${cmd}`;
    if (s.busy > 0) {
      this.stats.commandsDropped++;
      this.host.event(`AS${as}: ${name} written while AS_ACTIVE (${CMD_NAMES[s.cmd]} still running): ignored`);
      return;
    }
    this.stats.commands[name] = (this.stats.commands[name] ?? 0) + 1;
    if (cmd > R.MALI_AS_CMD_FLUSH_MEM) {
      this.host.event(`AS${as}: unknown AS_COMMAND ${cmd}: treated as NOP`);
      cmd = R.MALI_AS_CMD_NOP;
    }
    s.cmd = cmd;
    if (this.commandLatency <= 0) {
      this.complete(as);
      return;
    }
    s.busy = this.commandLatency;
    this.inFlight++;
  }

  /** Advances one register access: running commands count down and complete. */
  tick(): void {
    if (this.inFlight === 0) return;
    for (let as = 0; as < R.MALI_MAX_AS; as++) {
      const s = this.spaces[as]!;
      if (s.busy === 0) continue;
      if (--s.busy === 0) {
        this.inFlight--;
        this.complete(as);
      }
    }
  }

  /** Completes every running command now. */
  settle(): void {
    for (let as = 0; as < R.MALI_MAX_AS; as++) {
      const s = this.spaces[as]!;
      if (s.busy === 0) continue;
      s.busy = 0;
      this.inFlight--;
      this.complete(as);
    }
  }

  /** True while any AS command is running. */
  get busy(): boolean {
    return this.inFlight > 0;
  }

  private complete(as: number): void {
    const s = this.spaces[as]!;
    switch (s.cmd) {
      case R.MALI_AS_CMD_NOP:
        return;
      case R.MALI_AS_CMD_UPDATE:
        this.latch(as);
        break;
      case R.MALI_AS_CMD_LOCK:
        this.lock(as);
        return;
      default: {
        // UNLOCK, FLUSH_PT, FLUSH_MEM: flush the locked region from the TLB and unlock it.
        // (FLUSH_PT/FLUSH_MEM also clean the L2 / wait for memory traffic; the model has no
        // cache of memory contents and its jobs have no traffic in flight.)
        if (s.locked) {
          this.invalidate(s, s.lockStart, s.lockEnd);
          s.locked = false;
        } else {
          this.stats.flushesWithoutLock++;
          this.host.event(`AS${as}: ${CMD_NAMES[s.cmd]} with no locked region: nothing invalidated`);
        }
        break;
      }
    }
    this.host.mmuCommandCompleted(as, s.cmd);
  }

  /** UPDATE: the AS starts translating with the programmed TRANSTAB and MEMATTR. */
  private latch(as: number): void {
    const s = this.spaces[as]!;
    const transtab = (BigInt(s.transtabHi) << 32n) | BigInt(s.transtabLo);
    const memattr = (BigInt(s.memattrHi) << 32n) | BigInt(s.memattrLo);
    s.latchedTranstab = transtab;
    s.latchedMemattr = memattr;
    s.mode = s.transtabLo & R.MALI_TRANSTAB_ADRMODE_MASK;
    s.cfg = this.unmapped(as) ? null : maliConfig({ transtab, memattr, vaBits: this.vaBits, paBits: this.paBits });
    this.invalidate(s, 0, Infinity);
  }

  private invalidate(s: AddressSpace, start: number, end: number): void {
    const before = this.tlb.invalidated;
    this.tlb.invalidateContext(s.ctx, start, end);
    this.stats.tlbInvalidated += this.tlb.invalidated - before;
    // The same flush region drops the walks cached over it (tables may have been freed).
    if (this.wc !== null) this.wc.invalidateContext(s.wctx, start, end);
  }

  /** LOCK: decodes LOCKADDR (size code in [5:0], region start above it). */
  private lock(as: number): void {
    const s = this.spaces[as]!;
    const log2 = (s.lockaddrLo & R.MALI_LOCKADDR_WIDTH_MASK) + 1;
    if (log2 < this.lockMinLog2) {
      s.locked = false;
      this.stats.badLocks++;
      this.host.event(
        `AS${as}: LOCK of a 2^${log2}-byte region, below the 2^${this.lockMinLog2}-byte minimum: nothing locked`,
      );
      return;
    }
    let start: number;
    if (log2 >= 64) start = 0;
    else if (log2 >= 32) start = ((s.lockaddrHi & ~(2 ** (log2 - 32) - 1)) >>> 0) * TWO32;
    else start = s.lockaddrHi * TWO32 + ((s.lockaddrLo & ~(2 ** log2 - 1)) >>> 0);
    s.locked = true;
    s.lockStart = start;
    s.lockEnd = log2 >= 64 ? Infinity : start + 2 ** log2;
    if (start >= this.vaLimit) this.host.event(`AS${as}: LOCK region at 0x${start.toString(16)} is beyond the ${this.vaBits}-bit VA range`);
  }

  // ---------------------------------------------------------------------------- translation

  /**
   * Translates `va` in address space `as` for an access of type `access` (MALI_FAULT_ACCESS_*)
   * by `sourceId`. Returns MALI_TR_OK with the PA in `out.pa`; MALI_TR_STALL when the access
   * must wait (fault recorded and `stallCode` set, or a locked region / running command with
   * `stallCode` 0); or a positive exception code when it fails at once (an unmapped AS).
   * With `record` false (best-effort probes), nothing is recorded and faults return the code.
   */
  translate(as: number, va: number, access: number, sourceId: number, out: { pa: number }, record?: boolean): number {
    // Small enough for V8 to inline into its callers: the VA goes on as int32 halves, so the
    // call into the (large, never inlined) body boxes no double. GPU VAs are above 2^31, and
    // a double argument of a call that is not inlined becomes a heap number per access.
    const hi = Math.floor(va * INV_TWO32);
    return this.translateParts(as, hi | 0, (va - hi * TWO32) | 0, access, sourceId, out, record);
  }

  /**
   * `translate` with the VA as its 32-bit halves (int32 or u32 bit patterns). The whole hit and
   * miss path works on the halves; the VA as a number is formed only where a fault or a locked
   * region needs it.
   */
  translateParts(as: number, vaHi: number, vaLo: number, access: number, sourceId: number, out: { pa: number }, record?: boolean): number {
    // The hot part: a TLB hit in an address space remembered in `fastCtx` (idle, unlocked,
    // translating through tables: see `fastCtx`) for a VA below the top of the VA range's
    // high half, and nothing else. Kept small in bytecode so that V8 inlines it (with
    // `translate` and what it calls: `lookupSmall`, `perms`, `outputFlat`) into the callers'
    // loops and a hit makes no call. V8 inlines a function whose bytecode (its own plus, once
    // it has optimized code, everything that code inlined) times 1.2 fits 920 bytes per
    // compiled function: check with `--trace-turbo-inlining` after changing it. Everything
    // else goes to `translateSlow` with the VA as int32 halves.
    const ctx = this.fastCtx[as]!;
    let e = -3;
    if (ctx >= 0 && vaHi >>> 0 < this.vaLimitHi) {
      const tlb = this.tlb;
      e = tlb.lookupSmall(ctx, vaHi, vaLo);
      const need = ACCESS_NEED[access]!;
      if (e >= 0 && (tlb.perms(e) & need) === need) {
        const st = this.stats;
        st.translations++;
        st.tlbHits++;
        out.pa = tlb.outputFlat(e, vaHi, vaLo);
        return MALI_TR_OK;
      }
    }
    return this.translateSlow(as, vaHi, vaLo, access, sourceId, out, record, e);
  }

  /**
   * `translateParts` for everything its hot part does not do. `e` is what the hot part's probe
   * found (−2: a context `lookupOne` does not probe, −1: a miss, else the entry, which the
   * access may not use), or −3 when it did not probe (an AS not remembered, a VA beyond the
   * range's high half): then the AS's state is checked and, when it allows hits in the hot
   * part, the AS is remembered.
   */
  private translateSlow(as: number, vaHi: number, vaLo: number, access: number, sourceId: number, out: { pa: number }, rec: boolean | undefined, e: number): number {
    // The halves stay int32 for the calls below (a u32 above 2^31 would be a double, boxed
    // by every call V8 does not inline); `>>> 0` only inside comparisons and arithmetic.
    vaHi |= 0;
    vaLo |= 0;
    const s = this.spaces[as]!;
    const st = this.stats;
    st.translations++;
    const wc = this.wc;
    if (e === -1 && wc !== null) {
      // A miss in a remembered AS, first served as the common case in one step: a leaf in the
      // table the walk cache remembers, decoded (SetTlb.fillLeaf); it declines whatever the
      // code below would handle otherwise (which then does not try it again).
      const f = this.tlb.fillLeaf(s.ctx, s.ctx, s.wctx, 0, s.cfg!, vaHi, vaLo, ACCESS_NEED[access]!, wc.leaf, true);
      st.tlbMisses++;
      st.walks++;
      if (f >= 0) {
        out.pa = this.tlb.outputParts(f, vaHi, vaLo);
        return MALI_TR_OK;
      }
      return this.translateMiss(as, s, vaHi, vaLo, access, sourceId, out, rec !== false, false);
    }
    // `record` has no default value in the two parts above: a default costs bytecode there.
    const record = rec !== false;
    const tlb = this.tlb;
    if (e === -3) {
      if (s.busy > 0 || (s.locked && lockHolds(s, vaHi, vaLo))) {
        if (!record) return R.MALI_EXC_TRANSLATION_FAULT;
        st.stalls++;
        this.stallCode = 0;
        return MALI_TR_STALL;
      }
      if (s.cfg === null) {
        const code = R.MALI_EXC_TRANSLATION_FAULT;
        if (record) this.fault(as, vaFrom(vaHi, vaLo), code, access, sourceId, false);
        return code;
      }
      if (!s.locked) this.fastCtx[as] = s.ctx;
      if (vaHi >>> 0 >= this.vaLimitHi && (vaHi >>> 0 > this.vaLimitHi || vaLo >>> 0 >= this.vaLimitLo))
        return this.stall(as, vaFrom(vaHi, vaLo), R.MALI_EXC_ADDRESS_SIZE_FAULT_IN, access, sourceId, record);
      e = tlb.lookupParts(s.ctx, vaHi, vaLo);
    } else if (e === -2) {
      e = tlb.lookupParts(s.ctx, vaHi, vaLo);
    }
    if (e >= 0) {
      st.tlbHits++;
      const acc = ACCESSES[access]!;
      const perms = tlb.perms(e);
      if (!permits(perms, acc) || (access === R.MALI_FAULT_ACCESS_ATOMIC && (perms & PERM_USER_R) === 0))
        return this.stall(as, vaFrom(vaHi, vaLo), R.MALI_EXC_PERMISSION_FAULT + tlb.attr(e), access, sourceId, record);
      out.pa = tlb.outputParts(e, vaHi, vaLo);
      return MALI_TR_OK;
    }
    st.tlbMisses++;
    st.walks++;
    return this.translateMiss(as, s, vaHi, vaLo, access, sourceId, out, record, true);
  }

  /**
   * A TLB miss (counted) in an AS translating through tables, for a VA in range: the one-step
   * fill (unless `tryFill` is false: the caller tried it), the walk cache's leaf, the walk.
   */
  private translateMiss(as: number, s: AddressSpace, vaHi: number, vaLo: number, access: number, sourceId: number, out: { pa: number }, record: boolean, tryFill: boolean): number {
    const cfg = s.cfg!;
    const tlb = this.tlb;
    const acc = ACCESSES[access]!;
    const wc = this.wc;
    let we = -1;
    if (wc !== null) {
      // The common case, in one step: a leaf in the table the walk cache remembers, decoded
      // (SetTlb.fillLeaf); it declines whatever the code below would handle otherwise.
      if (tryFill) {
        const f = tlb.fillLeaf(s.ctx, s.ctx, s.wctx, 0, cfg, vaHi, vaLo, ACCESS_NEED[access]!, wc.leaf, true);
        if (f >= 0) {
          out.pa = tlb.outputParts(f, vaHi, vaLo);
          return MALI_TR_OK;
        }
      }
      // The same through the walk cache's lookup: a leaf in the table cached for the input's block.
      we = wc.lookupParts(s.wctx, vaHi, vaLo);
      if (we >= 0) {
        const words = wc.words(we);
        if (words !== null && this.cachedLeaf(s, wc.level(we), words, PhysMem.wordIndex(wc.table(we)), vaHi, vaLo, acc)) {
          wc.primeLeaf(s.wctx, 0, cfg, vaHi, vaLo);
          const perms = this.leafPerms;
          if (access === R.MALI_FAULT_ACCESS_ATOMIC && (perms & PERM_USER_R) === 0)
            return this.stall(as, vaFrom(vaHi, vaLo), R.MALI_EXC_PERMISSION_FAULT + wc.level(we), access, sourceId, record);
          out.pa = (this.leafOaHi >>> 0) * TWO32 + (this.leafOaLo >>> 0);
          return MALI_TR_OK;
        }
      }
    }
    const wr = this.wr;
    if (!(wc === null ? walkLpaeParts(this.mem, cfg, vaHi, vaLo, acc, wr) : this.walkCached(s, wc, we, vaHi, vaLo, acc, wr))) {
      let code: number;
      switch (wr.fault) {
        case 'permission': code = R.MALI_EXC_PERMISSION_FAULT; break;
        case 'access-flag': code = R.MALI_EXC_ACCESS_FLAG; break;
        case 'address-size': code = R.MALI_EXC_ADDRESS_SIZE_FAULT_OUT; break;
        case 'external': code = R.MALI_EXC_TRANSTAB_BUS_FAULT; break;
        default: code = R.MALI_EXC_TRANSLATION_FAULT; break;
      }
      return this.stall(as, vaFrom(vaHi, vaLo), code + (wr.level & 3), access, sourceId, record);
    }
    // Into the TLB as the leaf's block (attr: the leaf's level), every address as halves.
    const shift = tlbSizeShift(wr.size);
    if (shift < 0) throw new RangeError(`Mali MMU: walk returned a block of ${wr.size} bytes`);
    const oa = wr.oa;
    const oaHi = Math.floor(oa * INV_TWO32);
    tlb.insertHalves(s.ctx, vaHi, vaLo, shift, oaHi | 0, (oa - oaHi * TWO32) | 0, wr.perms, wr.level);
    // The step decoded on the table the walk reached, so that the next miss there is served
    // by `fillLeaf` above (as after a cached leaf).
    if (wc !== null) wc.primeLeaf(s.wctx, 0, cfg, vaHi, vaLo);
    if (access === R.MALI_FAULT_ACCESS_ATOMIC && (wr.perms & PERM_USER_R) === 0)
      return this.stall(as, vaFrom(vaHi, vaLo), R.MALI_EXC_PERMISSION_FAULT + wr.level, access, sourceId, record);
    out.pa = oa;
    return MALI_TR_OK;
  }

  // Result of `cachedLeaf` (fields, so that nothing is boxed or allocated per walk).
  private leafOaHi = 0;
  private leafOaLo = 0;
  private leafPerms = 0;

  /**
   * The descriptor for the input in a cached table of level `level` (its words at `wb` in
   * `words`), when it is a leaf the access may use: then the translation goes into the TLB
   * exactly as a full walk would put it (the leaf's block, permissions and level) and the
   * output address is in `leafOaHi`/`leafOaLo`. Anything else (a table descriptor, an invalid
   * one, a refused access, an output beyond the PA range) returns false for the full walker
   * to resume at this table and report. Mali leaves: 0b01 at level 3 (a page) and at levels
   * 1-2 (a block); bit 6 read, bit 7 write, bit 54 execute-never (execute needs read too); no
   * access flag, so the walk never writes a descriptor.
   */
  private cachedLeaf(s: AddressSpace, level: number, words: Uint32Array, wb: number, vaHi: number, vaLo: number, acc: WalkAccess): boolean {
    const cfg = s.cfg!;
    if (cfg.oaBits < 32) return false;
    const shift = 12 + 9 * (3 - level);
    const idx = ((vaLo >>> shift) | (vaHi << (32 - shift))) & 511;
    const wi = wb + 2 * idx;
    const lo = words[wi]!;
    const hi = words[wi + 1]!;
    if ((lo & 3) !== 1 || level < 1) return false;
    const oaHi = hi & 0xffff;
    if (oaHi >= cfg.oaHiLimit) return false;
    let perms = 0;
    if (lo & 0x40) perms |= PERM_PRIV_R | PERM_USER_R;
    if (lo & 0x80) perms |= PERM_PRIV_W | PERM_USER_W;
    if ((hi & (1 << 22)) === 0 && (lo & 0x40) !== 0) perms |= PERM_PRIV_X | PERM_USER_X;
    if (!permits(perms, acc)) return false;
    const mask = (1 << shift) - 1;
    const oaLo = (lo & ~mask) | (vaLo & mask);
    this.tlb.insertHalves(s.ctx, vaHi, vaLo, shift, oaHi, oaLo, perms, level);
    this.leafOaHi = oaHi;
    this.leafOaLo = oaLo;
    this.leafPerms = perms;
    return true;
  }

  /**
   * The full walk through the walk cache: resumes at the cached table `e` (−1: none) and
   * caches the last table the walk reached when it got below where it started.
   */
  private walkCached(s: AddressSpace, wc: WalkCache, e: number, vaHi: number, vaLo: number, acc: WalkAccess, wr: WalkResult): boolean {
    const cfg = s.cfg!;
    const cur = this.cursor;
    const from = wc.resumeCursor(e, 0, cfg, cur);
    const ok = walkLpaeParts(this.mem, cfg, vaHi, vaLo, acc, wr, undefined, cur);
    wc.fillFromCursor(s.wctx, vaHi, vaLo, 0, cfg, cur, from, this.mem);
    return ok;
  }

  private stall(as: number, va: number, code: number, access: number, sourceId: number, record: boolean): number {
    if (!record) return code;
    this.fault(as, va, code, access, sourceId, false);
    this.stats.stalls++;
    this.stallCode = code;
    return MALI_TR_STALL;
  }

  /**
   * Records a fault on `as`: the fault registers take it unless a fault of the same kind is
   * already pending there (its RAWSTAT bit set), and the RAWSTAT bit rises.
   */
  fault(as: number, va: number, code: number, access: number, sourceId: number, bus: boolean): void {
    const s = this.spaces[as]!;
    const bit = bus ? R.maliMmuIrqBusError(as) : R.maliMmuIrqPageFault(as);
    const status = ((code & 0xff) | ((access & 3) << R.MALI_FAULT_ACCESS_SHIFT) | ((sourceId & 0xffff) << R.MALI_FAULT_SOURCE_SHIFT)) >>> 0;
    const pending = (this.rawstat & (R.maliMmuIrqPageFault(as) | R.maliMmuIrqBusError(as))) !== 0;
    if (!pending) {
      s.faultStatus = status;
      s.faultAddress = va;
    }
    this.rawstat = (this.rawstat | bit) >>> 0;
    if (bus) this.stats.busErrors++;
    else this.stats.faults++;
    if (this.faultLog.length >= this.faultLogSize) this.faultLog.shift();
    this.faultLog.push({
      as,
      va,
      status,
      exceptionType: code & 0xff,
      exceptionName: R.maliExceptionName(code),
      accessType: access & 3,
      sourceId: sourceId & 0xffff,
      kind: bus ? 'bus' : 'page',
      latched: !pending,
      cycle: this.host.cycle,
    });
  }

  /** Power-on / soft-reset state: every register zero, TLBs empty, nothing locked or running. */
  reset(): void {
    for (const s of this.spaces) {
      s.transtabLo = s.transtabHi = s.memattrLo = s.memattrHi = 0;
      s.lockaddrLo = s.lockaddrHi = s.transcfgLo = s.transcfgHi = 0;
      s.faultStatus = 0;
      s.faultAddress = 0;
      s.busy = 0;
      s.cmd = 0;
      s.mode = R.MALI_TRANSTAB_ADRMODE_UNMAPPED;
      s.cfg = null;
      s.latchedTranstab = 0n;
      s.latchedMemattr = 0n;
      s.locked = false;
    }
    this.fastCtx.fill(-1);
    this.tlb.invalidateAll();
    if (this.wc !== null) this.wc.invalidateAll();
    this.inFlight = 0;
    this.rawstat = 0;
    this.mask = 0;
  }

  /** The TRANSTAB and MEMATTR the AS translates with (latched by the last UPDATE). */
  latched(as: number): { transtab: bigint; memattr: bigint; mode: number } {
    const s = this.space(as);
    return { transtab: s.latchedTranstab, memattr: s.latchedMemattr, mode: s.mode };
  }

  /** The walker configuration of an AS (null while unmapped), e.g. for dumpTables. */
  walkConfig(as: number): LpaeWalkConfig | null {
    return this.space(as).cfg;
  }
}
