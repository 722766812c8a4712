import { EBUSY } from '../errno.js';
import type { DrmDevice } from './device.js';

/** enum drm_minor_type: the node kinds whose numbers follow the kernel's fixed windows. */
export const DRM_MINOR_PRIMARY = 0;
export const DRM_MINOR_RENDER = 2;
export type DrmMinorType = typeof DRM_MINOR_PRIMARY | typeof DRM_MINOR_RENDER;

/** Minors per node kind in the classic numbering (primary 0-63, render 128-191). */
export const DRM_MINORS_PER_TYPE = 64;
/** First minor of the shared overflow range used once a kind's window is full. */
export const DRM_EXTENDED_MINOR_FIRST = 192;
/** MINORBITS (20): the char-dev minor numbers that exist. */
export const DRM_MINOR_MAX = (1 << 20) - 1;

/** One DRM minor (a node under /dev/dri): its kind, number and device. */
export interface DrmMinor {
  readonly type: DrmMinorType;
  readonly index: number;
  readonly dev: DrmDevice;
  /** The node's name: `card<index>` for a primary node, `renderD<index>` for a render node. */
  readonly name: string;
  /** Set between drm_minor_register and drm_minor_unregister: only then can it be opened. */
  registered: boolean;
}

/**
 * The kernel's table of DRM minor numbers (drm_minors_xa), one per kernel. A minor is taken in
 * its kind's window, the lowest free number first: primary nodes 64*0 .. 64*0+63 (card0..63),
 * render nodes 64*2 .. 64*2+63 (renderD128..191); when that window is full the number comes from
 * the range both kinds share, 192 .. 2^20-1, again lowest first. Freed numbers are reused.
 */
export class DrmMinorTable {
  private readonly byIndex = new Map<number, DrmMinor>();

  /**
   * drm_minor_alloc: a minor of `type` for `dev`, or -EBUSY when every number it could have is
   * taken (nothing changes then).
   */
  alloc(dev: DrmDevice, type: DrmMinorType): DrmMinor | number {
    const first = DRM_MINORS_PER_TYPE * type;
    let index = this.lowestFree(first, first + DRM_MINORS_PER_TYPE - 1);
    if (index < 0) index = this.lowestFree(DRM_EXTENDED_MINOR_FIRST, DRM_MINOR_MAX);
    if (index < 0) return -EBUSY;
    const minor: DrmMinor = { type, index, dev, name: `${type === DRM_MINOR_RENDER ? 'renderD' : 'card'}${index}`, registered: false };
    this.byIndex.set(index, minor);
    return minor;
  }

  private lowestFree(lo: number, hi: number): number {
    for (let i = lo; i <= hi; i++) if (!this.byIndex.has(i)) return i;
    return -1;
  }

  /** Gives the number back (the minor's device released it); a minor not in the table is ignored. */
  free(minor: DrmMinor): void {
    if (this.byIndex.get(minor.index) === minor) this.byIndex.delete(minor.index);
    minor.registered = false;
  }

  /** The minor numbered `index` whether registered or not (what holds the number). */
  get(index: number): DrmMinor | undefined {
    return this.byIndex.get(index);
  }

  /** Every minor number in use, in order. */
  all(): DrmMinor[] {
    return [...this.byIndex.values()].sort((a, b) => a.index - b.index);
  }
}
