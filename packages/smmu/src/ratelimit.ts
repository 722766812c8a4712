import type { Kernel } from '@gki/kernel';

/** DEFAULT_RATELIMIT_INTERVAL (5 s) and DEFAULT_RATELIMIT_BURST (10). */
export const RATELIMIT_INTERVAL_NS = 5e9;
export const RATELIMIT_BURST = 10;

/**
 * A ratelimit state on the board's simulated clock, like the kernel's __ratelimit(): at most
 * `burst` messages per `interval`; when an interval with suppressed messages ends, the next
 * allowed message is preceded by "<name>: N callbacks suppressed".
 */
export class RateLimit {
  private begin = -1;
  private printed = 0;
  /** Messages suppressed in the current interval. */
  missed = 0;
  /** Messages suppressed in total. */
  suppressed = 0;

  constructor(
    private readonly kernel: Kernel,
    readonly name: string,
    private readonly interval = RATELIMIT_INTERVAL_NS,
    private readonly burst = RATELIMIT_BURST,
  ) {}

  /** True when the caller may print now. */
  allow(): boolean {
    const now = this.kernel.board.clock.now();
    if (this.begin < 0) this.begin = now;
    if (now - this.begin >= this.interval) {
      if (this.missed > 0) this.kernel.log.warn('', `${this.name}: ${this.missed} callbacks suppressed`);
      this.begin = now;
      this.printed = 0;
      this.missed = 0;
    }
    if (this.printed < this.burst) {
      this.printed++;
      return true;
    }
    this.missed++;
    this.suppressed++;
    return false;
  }
}
