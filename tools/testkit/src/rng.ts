/**
 * Seeded random numbers for property tests and the soak campaign: every run can be replayed
 * from the seed it prints.
 */

/** A small, fast 32-bit PRNG (sfc32) seeded from one number. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(readonly seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    for (let i = 0; i < 15; i++) this.u32();
  }

  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** A uniform integer in [0, n) for n up to 2^53. */
  below(n: number): number {
    if (n <= 0x1_0000_0000) return Math.floor((this.u32() / 0x1_0000_0000) * n);
    return Math.floor(((this.u32() * 0x20_0000 + (this.u32() >>> 11)) / 2 ** 53) * n);
  }

  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + this.below(hi - lo + 1);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.u32() / 0x1_0000_0000 < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)]!;
  }

  /** A new generator whose seed is drawn from this one (for independent sub-streams). */
  fork(): Rng {
    return new Rng(this.u32());
  }
}

/**
 * The seed for a randomised run: the integer in environment variable `name` when set (to
 * replay a run), else a fresh random one. Either way it is printed with the line that replays
 * it, so any failure can be reproduced.
 */
export function seedFromEnv(name: string, what: string): number {
  const given = process.env[name];
  let seed: number;
  if (given !== undefined && given !== '') {
    seed = Number(given);
    if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) throw new RangeError(`${name}=${given} is not a 32-bit unsigned integer seed`);
  } else seed = Math.floor(Math.random() * 2 ** 32);
  console.log(`${what}: seed ${seed} (replay with ${name}=${seed})`);
  return seed;
}

/**
 * How many times to multiply a property test's run count: `GKI_SOAK_RUNS` (default 1). The
 * soak mode of the property tests sets it to thousands of runs in total.
 */
export function soakFactor(): number {
  const v = Number(process.env.GKI_SOAK_RUNS ?? '1');
  return Number.isFinite(v) && v >= 1 ? Math.floor(v) : 1;
}
