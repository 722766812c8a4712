import { ETIMEDOUT } from '@gki/kernel';
import type { Kernel } from '@gki/kernel';

/**
 * Kernel time as the driver sees it: the board's simulated clock in ns (ktime_get). A delay
 * moves the clock forward: in the model the CPU is the only thing that lets time pass.
 */
export function ktimeNs(kernel: Kernel): number {
  return kernel.board.clock.now();
}

export function delayNs(kernel: Kernel, ns: number): void {
  if (ns > 0) kernel.board.clock.advance(ns);
}

/**
 * readl_poll_timeout: reads until `done(value)` holds, sleeping `delayUs` between reads, for at
 * most `timeoutUs`; after the deadline one last read decides. 0, or -ETIMEDOUT.
 */
export function pollTimeout(kernel: Kernel, read: () => number, done: (v: number) => boolean, delayUs: number, timeoutUs: number): number {
  const deadline = ktimeNs(kernel) + timeoutUs * 1000;
  for (;;) {
    if (done(read())) return 0;
    if (ktimeNs(kernel) >= deadline) return done(read()) ? 0 : -ETIMEDOUT;
    delayNs(kernel, Math.max(1, delayUs) * 1000);
  }
}

export const NSEC_PER_MSEC = 1_000_000;
