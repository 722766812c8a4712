/**
 * How the SMMUv1/v2 model uses the shared translation fast path (`SetTlb`, ../set-tlb.ts): the
 * architected TLB tags of a context bank's entries, and the invalidations of the TLB
 * maintenance registers expressed on them.
 *
 * A TLB context is (group, tag) with group = the context bank that filled the entry (lookups
 * are per bank) and tag = VMID, hypervisor flag and ASID slot: the ASID of a non-global
 * stage-1 (or nested, combined) entry, SLOT_GLOBAL for global (nG = 0) entries, which match
 * every ASID, and SLOT_S2 for stage-2-only entries. Invalidations match these tags across every
 * bank, as a TLB indexed by VMID/ASID does.
 *
 * Beside it a walk cache (`WalkCache`, ../tlb.ts) holds the tables walks reach, under the
 * same (bank, tag) contexts: stage-1 walks under the context's ASID slot (table descriptors
 * have no nG: walk entries are per ASID), stage-2 walks under SLOT_S2. Every invalidation drops
 * the walk entries its TLB form drops, except the leaf-only forms (TLBIVAL, TLBIVAAL,
 * TLBIIPAS2L), which the architecture lets keep them.
 */
import { WALK_CACHE_DEFAULT_CAPACITY, WalkCache } from '../tlb.js';
import { SetTlb } from '../set-tlb.js';

/** ASID slot of global (nG = 0) stage-1 entries. */
export const SLOT_GLOBAL = 0x10000;
/** ASID slot of stage-2-only entries. */
export const SLOT_S2 = 0x10001;

const SLOT_BITS = 2 ** 17;
const HYP = 2 ** 17;
const VMID_MUL = 2 ** 18;

/** The tag of (VMID, hypervisor context, ASID slot). */
export function smmuV2Tag(vmid: number, hyp: boolean, slot: number): number {
  return vmid * VMID_MUL + (hyp ? HYP : 0) + slot;
}

const slotOf = (tag: number): number => tag % SLOT_BITS;
const hypOf = (tag: number): boolean => tag % VMID_MUL >= HYP;
const vmidOf = (tag: number): number => Math.floor(tag / VMID_MUL);

export class SmmuV2Tlb {
  readonly tlb: SetTlb;
  /** The walk cache (always an object; unused when `walkCacheOn` is false). */
  readonly wc: WalkCache;
  readonly walkCacheOn: boolean;

  constructor(capacity: number, walkCache = true, walkCacheCapacity = WALK_CACHE_DEFAULT_CAPACITY) {
    this.tlb = new SetTlb({ capacity });
    this.walkCacheOn = walkCache;
    this.wc = new WalkCache({ capacity: walkCache ? walkCacheCapacity : 1 });
  }

  /** The walk-cache context handle of bank `cb` for a tag (call when decoding). */
  walkContext(cb: number, vmid: number, hyp: boolean, slot: number): number {
    return this.wc.context(cb, smmuV2Tag(vmid, hyp, slot));
  }

  /** Runs `f` on the TLB and, unless `leafOnly`, on the walk cache. */
  private both(leafOnly: boolean, f: (t: SetTlb | WalkCache) => void): void {
    f(this.tlb);
    if (!leafOnly && this.walkCacheOn) f(this.wc);
  }

  get size(): number {
    return this.tlb.size;
  }

  /** The context handle of bank `cb` for a tag (call when decoding, not per access). */
  context(cb: number, vmid: number, hyp: boolean, slot: number): number {
    return this.tlb.context(cb, smmuV2Tag(vmid, hyp, slot));
  }

  /** TLBIALLNSNH (hyp = false) / TLBIALLH (hyp = true). */
  invalidateAll(hyp: boolean): void {
    this.both(false, (c) => c.invalidateWhere((_g, t) => hypOf(t) === hyp));
  }

  /** TLBIVMID: every non-hypervisor entry of a VMID, whatever its stage. */
  invalidateVmid(vmid: number): void {
    this.both(false, (c) => c.invalidateWhere((_g, t) => !hypOf(t) && vmidOf(t) === vmid));
  }

  /** Context TLBIALL of a stage-1 bank: its VMID's stage-1 (and combined) entries, or every hyp entry. */
  invalidateS1All(vmid: number, hyp: boolean): void {
    if (hyp) this.both(false, (c) => c.invalidateWhere((_g, t) => hypOf(t)));
    else this.both(false, (c) => c.invalidateWhere((_g, t) => !hypOf(t) && vmidOf(t) === vmid && slotOf(t) !== SLOT_S2));
  }

  /** TLBIASID: the non-global stage-1 entries of (VMID, ASID). */
  invalidateAsid(vmid: number, asid: number): void {
    this.both(false, (c) => c.invalidateWhere((_g, t) => !hypOf(t) && vmidOf(t) === vmid && slotOf(t) === asid));
  }

  /**
   * TLBIVA(L): entries covering `key` of (VMID, ASID) and global ones; TLBIVAA(L) with
   * asid < 0: any ASID. `leafOnly` (the L forms) keeps walk-cache entries.
   */
  invalidateVa(vmid: number, asid: number, key: number, hyp: boolean, leafOnly = false): void {
    this.both(leafOnly, (c) =>
      c.invalidateWhere((_g, t) => {
        if (hypOf(t) !== hyp || (!hyp && vmidOf(t) !== vmid)) return false;
        const s = slotOf(t);
        return s !== SLOT_S2 && (asid < 0 || s === asid || s === SLOT_GLOBAL);
      }, key, key + 1),
    );
  }

  /** TLBIIPAS2(L): stage-2-only entries covering IPA `key` of a VMID; `leafOnly` (TLBIIPAS2L) keeps walk entries. */
  invalidateIpa(vmid: number, key: number, leafOnly = false): void {
    this.both(leafOnly, (c) => c.invalidateWhere((_g, t) => !hypOf(t) && vmidOf(t) === vmid && slotOf(t) === SLOT_S2, key, key + 1));
  }

  /** Empties the TLB and the walk cache (reset). */
  reset(): void {
    this.tlb.invalidateAll();
    this.wc.invalidateAll();
  }
}
