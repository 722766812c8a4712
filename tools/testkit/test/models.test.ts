import { describe, expect, it } from 'vitest';
import { LpaeRef, LPAE_REF_EEXIST, LPAE_REF_ENOENT, LPAE_REF_ENOMEM, Rng } from '../src/index.js';

const K4 = 0x1000;
const M2 = 0x20_0000;
const G1 = 0x4000_0000;
const geo4k = { granule: K4, startLevel: 0, pgdEntries: 512 };

describe('LpaeRef (kernel semantics, independent of the format code)', () => {
  it('maps at most to the end of a table per call', () => {
    const m = new LpaeRef(geo4k);
    expect(m.map(510 * K4, 0x8000_0000, K4, 5, 3)).toEqual([0, 2 * K4]);
    expect(m.tables).toBe(4); // PGD + three tables down to level 3
    expect(m.translate(511 * K4 + 5)).toBe(0x8000_1005);
  });

  it('refuses a leaf over a leaf, a page inside a block; replaces a table with a block', () => {
    const m = new LpaeRef(geo4k);
    expect(m.map(0, 0, K4, 1, 3)).toEqual([0, K4]);
    expect(m.map(0, 0x1000, K4, 1, 3)).toEqual([LPAE_REF_EEXIST, 0]);
    expect(m.map(M2, 0x40_0000, M2, 1, 3)).toEqual([0, M2]);
    expect(m.map(M2 + K4, 0, K4, 1, 3)).toEqual([LPAE_REF_EEXIST, 0]);
    const before = m.tables;
    expect(m.map(0, 0x60_0000, M2, 1, 3)).toEqual([0, M2]); // the level-3 table holding page 0 goes
    expect(m.tables).toBe(before - 1);
    expect(m.leaves()).toEqual([
      [2, 0, M2, 0x60_0000],
      [2, M2, M2, 0x40_0000],
    ]);
  });

  it('a block run stops with -EEXIST at a leaf, after tearing down the tables before it', () => {
    const m = new LpaeRef(geo4k);
    m.map(0, 0, K4, 1, 3); // a table at slot 0 of level 2
    m.map(M2, 0, M2, 1, 3); // a block at slot 1
    expect(m.map(0, 0, M2, 2, 3)).toEqual([LPAE_REF_EEXIST, 0]);
    expect(m.leaves()).toEqual([[2, M2, M2, 0]]);
  });

  it('unmap: hole -ENOENT, part of a block 0, a table under a block-sized unmap counts whole', () => {
    const m = new LpaeRef(geo4k);
    expect(m.unmap(0, K4, 1)).toBe(LPAE_REF_ENOENT);
    m.map(G1, 0, M2, 1, 3);
    expect(m.unmap(G1 + K4, K4, 1)).toBe(0);
    m.map(0, 0, K4, 3, 3);
    expect(m.unmap(0, M2, 1)).toBe(M2);
    expect(m.unmap(G1, M2, 4)).toBe(M2); // stops at the hole after the block
  });

  it('fail-nth: the failing table allocation is -ENOMEM and the tables made before it stay', () => {
    const m = new LpaeRef(geo4k);
    m.failAttempt = 3;
    expect(m.map(0, 0, K4, 1, 3)).toEqual([LPAE_REF_ENOMEM, 0]);
    expect(m.tables).toBe(3);
    m.failAttempt = 0;
    expect(m.map(0, 0, K4, 1, 3)).toEqual([0, K4]);
    expect(m.tables).toBe(4);
  });
});

describe('Rng', () => {
  it('is deterministic per seed and stays in range', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const xs = Array.from({ length: 100 }, () => a.below(1000));
    expect(Array.from({ length: 100 }, () => b.below(1000))).toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1000)).toBe(true);
    expect(new Set(xs).size).toBeGreaterThan(50);
    const big = new Rng(1);
    for (let i = 0; i < 1000; i++) {
      const v = big.below(2 ** 52);
      expect(Number.isInteger(v) && v >= 0 && v < 2 ** 52).toBe(true);
    }
  });
});
