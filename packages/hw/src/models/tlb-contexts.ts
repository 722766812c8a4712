/**
 * The context registry both TLBs (`Tlb`, `SetTlb`) use: a context is a (group, tag) pair — for
 * the SMMU models (VMID, ASID) or a configuration's tag — and gets a dense handle 0, 1, 2, ...
 * on first use, never reused for the life of the TLB. The TLBs keep their per-context state in
 * arrays indexed by the handle; this class keeps only the names. Not on the per-access path.
 */
export class TlbContextIds {
  private readonly byGroup = new Map<number, Map<number, number>>();
  private readonly groups: number[] = [];
  private readonly tags: number[] = [];

  /** Handles given so far (the next new one is this). */
  get count(): number {
    return this.groups.length;
  }

  /**
   * The handle of (`group`, `tag`), created when it is new (then it equals the `count` before
   * the call). RangeError for a group or tag that is not a non-negative safe integer, or past
   * 2^24 contexts.
   */
  intern(group: number, tag: number): number {
    checkU('group', group);
    checkU('tag', tag);
    let byTag = this.byGroup.get(group);
    if (byTag === undefined) {
      byTag = new Map();
      this.byGroup.set(group, byTag);
    }
    let id = byTag.get(tag);
    if (id === undefined) {
      id = this.groups.length;
      if (id >= 1 << 24) throw new RangeError('TLB: too many contexts');
      this.groups.push(group);
      this.tags.push(tag);
      byTag.set(tag, id);
    }
    return id;
  }

  /** The handle of (`group`, `tag`) if it was ever created, else −1 (creates nothing). */
  find(group: number, tag: number): number {
    return this.byGroup.get(group)?.get(tag) ?? -1;
  }

  /** The handles of every context of `group` (none when the group was never seen). */
  ofGroup(group: number): Iterable<number> {
    return this.byGroup.get(group)?.values() ?? [];
  }

  group(ctx: number): number {
    return this.groups[ctx]!;
  }

  tag(ctx: number): number {
    return this.tags[ctx]!;
  }
}

function checkU(name: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`TLB: ${name} ${v} is not a non-negative integer`);
}
