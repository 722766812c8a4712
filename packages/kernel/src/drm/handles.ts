import { EINVAL, ENOSPC } from '../errno.js';

/** The largest handle an idr allocated with end 0 hands out (INT_MAX). */
export const DRM_HANDLE_MAX = 0x7fff_ffff;

/**
 * A per-file handle table with the semantics of the idr the DRM core keeps per open file
 * (file->object_idr for GEM objects, file->syncobj_idr for syncobjs): handles are allocated
 * from 1 upwards, always the lowest free one, so a closed handle is the next one handed out;
 * 0 is never a handle. Lookups take whatever user space passed: anything that is not a u32
 * integer naming a live handle finds nothing.
 */
export class DrmHandleTable<T extends object> {
  private readonly map = new Map<number, T>();
  /** Freed handles below `next`, ascending. */
  private readonly holes: number[] = [];
  /** One past the highest handle ever live (handles >= next are all free). */
  private next = 1;

  /** Live handles. */
  get size(): number {
    return this.map.size;
  }

  /** idr_alloc(idr, obj, 1, 0): the lowest free handle, now naming `obj`; -ENOSPC when none is left. */
  alloc(obj: T): number {
    let h: number;
    if (this.holes.length > 0) h = this.holes.shift()!;
    else {
      if (this.next > DRM_HANDLE_MAX) return -ENOSPC;
      h = this.next++;
    }
    this.map.set(h, obj);
    return h;
  }

  /** The object a handle names, if `handle` is a live handle. */
  lookup(handle: unknown): T | undefined {
    return typeof handle === 'number' && Number.isInteger(handle) && handle > 0 && handle <= DRM_HANDLE_MAX ? this.map.get(handle) : undefined;
  }

  has(handle: unknown): boolean {
    return this.lookup(handle) !== undefined;
  }

  /**
   * idr_remove for drm_gem_handle_delete / DRM_IOCTL_GEM_CLOSE: the handle goes and its object
   * is returned; -EINVAL (nothing changed) when `handle` names nothing.
   */
  remove(handle: unknown): T | number {
    const obj = this.lookup(handle);
    if (obj === undefined) return -EINVAL;
    const h = handle as number;
    this.map.delete(h);
    if (h === this.next - 1) {
      this.next--;
      while (this.holes.length > 0 && this.holes[this.holes.length - 1] === this.next - 1) {
        this.holes.pop();
        this.next--;
      }
    } else {
      let i = this.holes.length;
      while (i > 0 && this.holes[i - 1]! > h) i--;
      this.holes.splice(i, 0, h);
    }
    return obj;
  }

  /** Live handles, ascending (the order idr_for_each visits them in). */
  handles(): number[] {
    return [...this.map.keys()].sort((a, b) => a - b);
  }

  /** The live objects (in no particular order; one entry per handle). */
  values(): IterableIterator<T> {
    return this.map.values();
  }
}
