import type { Kernel } from '../kernel.js';
import { ktimeGetNs } from '../time.js';

/**
 * drm_timeout_abs_to_jiffies without the jiffies: how long an ioctl given an absolute timeout
 * (CLOCK_MONOTONIC ns, as DRM uapi structs carry it) may wait, in ns from now. 0 means poll:
 * a timeout of 0, or one that is not after now. The model keeps ns where the kernel rounds up
 * to whole jiffies.
 */
export function drmTimeoutAbsToNs(kernel: Kernel, timeoutNs: number): number {
  if (timeoutNs === 0) return 0;
  const now = ktimeGetNs(kernel);
  return timeoutNs > now ? timeoutNs - now : 0;
}

/** The absolute deadline such a wait ends at: the timeout itself, or now for a poll. */
export function drmTimeoutAbsDeadline(kernel: Kernel, timeoutNs: number): number {
  return ktimeGetNs(kernel) + drmTimeoutAbsToNs(kernel, timeoutNs);
}
