/**
 * The SMMUv1/v2 model's TLB: cached translations of each context bank, tagged the way the
 * architecture tags them (VMID, ASID or global, hypervisor context), filled on a miss and
 * removed only by the TLB maintenance registers. It caches leaf translations only (no walk
 * cache), which the architecture allows: a leaf-only invalidation (TLBIVAL, TLBIIPAS2L) then
 * behaves as its full form.
 *
 * Lookups are per context bank; invalidations match on the tags across every bank, as
 * hardware whose TLB is indexed by VMID/ASID does. Entries are keyed by the base of the page or
 * block they cover (input address / 4096) in one map per block size in use, so a lookup costs
 * one Map.get per size and allocates nothing.
 */

/** Slot of global (nG = 0) stage-1 entries, which match every ASID. */
export const TLB_SLOT_GLOBAL = 0x10000;
/** Slot of stage-2-only entries (no ASID). */
export const TLB_SLOT_S2 = 0x10001;

export const TLB_STAGE1 = 1;
export const TLB_STAGE2 = 2;
/** A nested (stage 1 then stage 2) translation cached as one combined entry. */
export const TLB_NESTED = 3;

export interface SmmuV2TlbEntry {
  /** Input address key of the first byte covered (a multiple of 2^shift). */
  base: number;
  shift: number;
  /** Output PA of `base`. */
  oa: number;
  /** Combined PERM_* mask of every stage. */
  perms: number;
  vmid: number;
  /** ASID of a non-global stage-1 entry; -1 otherwise. */
  asid: number;
  global: boolean;
  hyp: boolean;
  stage: number;
}

interface Slot {
  shifts: number[];
  maps: Map<number, SmmuV2TlbEntry>[];
}

const PAGE = 4096;

export class SmmuV2Tlb {
  /** Per context bank: ASID slot -> per-size maps. */
  private readonly banks: Map<number, Slot>[];
  private count = 0;
  /** Times a full TLB was emptied to make room. */
  flushes = 0;

  constructor(
    numCb: number,
    readonly capacity: number,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`bad TLB capacity ${capacity}`);
    this.banks = [];
    for (let i = 0; i < numCb; i++) this.banks.push(new Map());
  }

  get size(): number {
    return this.count;
  }

  /** The entry of bank `cb` in `slot` covering input `key` with a matching VMID, or undefined. */
  lookup(cb: number, slot: number, vmid: number, key: number): SmmuV2TlbEntry | undefined {
    const s = this.banks[cb]!.get(slot);
    if (s === undefined) return undefined;
    const shifts = s.shifts;
    for (let i = 0; i < shifts.length; i++) {
      const sh = shifts[i]!;
      const size = sh < 31 ? 1 << sh : 2 ** sh;
      const e = s.maps[i]!.get((key - (key % size)) / PAGE);
      if (e !== undefined && e.vmid === vmid) return e;
    }
    return undefined;
  }

  insert(cb: number, slot: number, e: SmmuV2TlbEntry): void {
    if (this.count >= this.capacity) this.clearAll(true);
    const bank = this.banks[cb]!;
    let s = bank.get(slot);
    if (s === undefined) {
      s = { shifts: [], maps: [] };
      bank.set(slot, s);
    }
    let i = s.shifts.indexOf(e.shift);
    if (i < 0) {
      i = s.shifts.length;
      s.shifts.push(e.shift);
      s.maps.push(new Map());
    }
    const m = s.maps[i]!;
    const k = e.base / PAGE;
    if (!m.has(k)) this.count++;
    m.set(k, e);
  }

  private clearAll(eviction: boolean): void {
    for (const b of this.banks) b.clear();
    this.count = 0;
    if (eviction) this.flushes++;
  }

  /** Removes every entry for which `match` holds. */
  private removeWhere(match: (e: SmmuV2TlbEntry) => boolean, slotFilter?: (slot: number) => boolean): void {
    for (const bank of this.banks) {
      for (const [slot, s] of bank) {
        if (slotFilter && !slotFilter(slot)) continue;
        for (const m of s.maps) {
          for (const [k, e] of m) {
            if (match(e)) {
              m.delete(k);
              this.count--;
            }
          }
        }
      }
    }
  }

  /** Removes the entries covering input `key` in the given slots for which `match` holds. */
  private removeAt(key: number, slots: readonly number[] | null, match: (e: SmmuV2TlbEntry) => boolean): void {
    for (const bank of this.banks) {
      for (const [slot, s] of bank) {
        if (slots !== null && !slots.includes(slot)) continue;
        for (let i = 0; i < s.shifts.length; i++) {
          const size = 2 ** s.shifts[i]!;
          const k = (key - (key % size)) / PAGE;
          const m = s.maps[i]!;
          const e = m.get(k);
          if (e !== undefined && match(e)) {
            m.delete(k);
            this.count--;
          }
        }
      }
    }
  }

  /** TLBIALLNSNH (hyp = false) / TLBIALLH (hyp = true). */
  invalidateAll(hyp: boolean): void {
    this.removeWhere((e) => e.hyp === hyp);
  }

  /** TLBIVMID: every non-hypervisor entry of a VMID, whatever its stage. */
  invalidateVmid(vmid: number): void {
    this.removeWhere((e) => !e.hyp && e.vmid === vmid);
  }

  /** Context TLBIALL of a stage-1 bank: its VMID's stage-1 (and combined) entries, or every hyp entry. */
  invalidateS1All(vmid: number, hyp: boolean): void {
    if (hyp) this.removeWhere((e) => e.hyp);
    else this.removeWhere((e) => !e.hyp && e.vmid === vmid && e.stage !== 2);
  }

  /** TLBIASID: the non-global stage-1 entries of (VMID, ASID). */
  invalidateAsid(vmid: number, asid: number): void {
    this.removeWhere((e) => !e.hyp && e.vmid === vmid && e.asid === asid && !e.global, (slot) => slot === asid);
  }

  /** TLBIVA(L): entries covering `key` of (VMID, ASID) and global ones; TLBIVAA(L) with asid < 0: any ASID. */
  invalidateVa(vmid: number, asid: number, key: number, hyp: boolean): void {
    const slots = asid < 0 ? null : [asid, TLB_SLOT_GLOBAL];
    this.removeAt(key, slots, (e) => e.hyp === hyp && (hyp || e.vmid === vmid) && e.stage !== 2);
  }

  /** TLBIIPAS2(L): stage-2-only entries covering IPA `key` of a VMID. */
  invalidateIpa(vmid: number, key: number): void {
    this.removeAt(key, [TLB_SLOT_S2], (e) => !e.hyp && e.vmid === vmid && e.stage === 2);
  }

  /** Empties the TLB (reset). */
  reset(): void {
    this.clearAll(false);
  }
}
