import { ETIMEDOUT } from './errno.js';
import type { Kernel } from './kernel.js';

/** Time unit conversions (linux/time64.h). */
export const NSEC_PER_USEC = 1_000;
export const NSEC_PER_MSEC = 1_000_000;
export const NSEC_PER_SEC = 1_000_000_000;

/**
 * ktime_get_ns: the monotonic clock as a driver reads it, which in the model is the board's
 * simulated clock (ns since the board was made).
 */
export function ktimeGetNs(kernel: Kernel): number {
  return kernel.board.clock.now();
}

/**
 * A busy-wait or sleep of `ns` nanoseconds (ndelay/udelay/usleep_range). Nothing else runs on
 * the model's CPU, so waiting is the one thing that lets simulated time pass: the board clock
 * moves forward by `ns` (nothing happens for 0 or less).
 */
export function delayNs(kernel: Kernel, ns: number): void {
  if (ns > 0) kernel.board.clock.advance(ns);
}

/**
 * readx_poll_timeout (linux/iopoll.h): calls `read` until `done(value)` holds, sleeping `sleepUs`
 * (at least 1 µs, so the clock always moves) between reads, for at most `timeoutUs`. Once the
 * deadline is reached one more read decides, as in the kernel, so a condition that came true
 * during the last sleep is not reported as a timeout. 0, or -ETIMEDOUT.
 */
export function readxPollTimeout(kernel: Kernel, read: () => number, done: (v: number) => boolean, sleepUs: number, timeoutUs: number): number {
  const deadline = ktimeGetNs(kernel) + timeoutUs * NSEC_PER_USEC;
  for (;;) {
    if (done(read())) return 0;
    if (ktimeGetNs(kernel) >= deadline) return done(read()) ? 0 : -ETIMEDOUT;
    delayNs(kernel, Math.max(1, sleepUs) * NSEC_PER_USEC);
  }
}
