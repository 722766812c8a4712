/** The board's simulated clock, in nanoseconds. Nothing advances it but its owner. */
export class SimClock {
  private t = 0;
  now(): number {
    return this.t;
  }
  advance(ns: number): void {
    if (!(ns >= 0)) throw new RangeError(`clock cannot go back (${ns} ns)`);
    this.t += ns;
  }
}
