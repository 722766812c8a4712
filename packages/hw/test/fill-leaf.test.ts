/**
 * `SetTlb.fillLeaf` (the common TLB miss in one step, on the walk cache's remembered table as
 * `WalkCache.primeLeaf` decodes it) against the path the models took before it: the walk
 * cache's `fastLeaf`, then `SetTlb.insertHalves` of its result, in the context the leaf's nG
 * picks. Two identical systems (memory, walk cache, TLB) are driven through the same random
 * sequence of walks, runs of translations (every access type), TLB and walk-cache
 * invalidations and descriptor rewrites behind the caches' back; after every step they must
 * agree on the answer, the TLB entry it made (output, perms, attr, size, context) and every
 * counter of both caches. A served leaf must also be what a full walk from the top gives. The
 * Mali leaf rules (type 0b01 at level 3, no access flag, attr = level) are checked the same
 * way against the full walker.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PhysMem } from '../src/mem.js';
import { SetTlb } from '../src/models/set-tlb.js';
import { WalkCache } from '../src/models/tlb.js';
import {
  createLpaeCursor,
  CUR_LEVEL,
  FAST_DESC_LO,
  FAST_OA_HI,
  FAST_OA_LO,
  FAST_PERMS,
  FAST_SHIFT,
  FAST_SLOTS,
  lpaeLeafPermIndex,
  lpaeLeafPermTable,
  lpaeS1Config,
  lpaeS2Config,
  maliConfig,
  walkLpaeParts,
  type LpaeWalkConfig,
} from '../src/walk/lpae.js';
import { createWalkResult, permBit, PERM_USER_R, type WalkAccess } from '../src/walk/types.js';

const RAM = 0x4000_0000;

const TWO32 = 2 ** 32;

/** Every combination of the three access flags. */
const ACCESSES: WalkAccess[] = [];
for (let i = 0; i < 8; i++) ACCESSES.push({ write: (i & 1) !== 0, exec: (i & 2) !== 0, priv: (i & 4) !== 0 });

type Kind = 's1' | 's2' | 'mali';

interface Tree {
  mem: PhysMem;
  cfg: LpaeWalkConfig;
  /** Input of the start of level-2 slot i (0..8): [hi, lo] halves. */
  slot: (i: number) => [number, number];
  /** Address of the level-3 table of slot i (0..7; −1 when slots hold blocks). */
  l3: (i: number) => number;
}

/**
 * A tree for one GiB of input at a base above 2^32 (so the high half is not 0): level-2 slots
 * 0..7 point at level-3 tables of pages with random permission bits (AP[2:1] / S2AP or Mali's
 * read/write, UXN/XN, PXN, nG), a few invalid, with AF clear, of the wrong type, or with an
 * output beyond the PA size; slot 8 is a 2 MiB block. With `blocks`, slots 0..8 are all 2 MiB
 * blocks with random bits (then the walk cache remembers the level-2 table).
 */
function tree(seed: number, kind: Kind, blocks: boolean, ctl = false): Tree {
  const mem = new PhysMem([{ base: RAM, size: 8 << 20 }]);
  let x = seed >>> 0 || 1;
  const rnd = (): number => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  const mali = kind === 'mali';
  // Input base: 48-bit inputs at 0x85_4000_0000 (stage 1, Mali); 39-bit IPAs at 0x45_4000_0000.
  const baseHi = kind === 's2' ? 0x45 : 0x85;
  const baseLo = 0x4000_0000;
  const t = (n: number) => RAM + n * 4096;
  let n = 0;
  const root = t(n++);
  const tableLo = (a: number) => (a | 3) >>> 0;
  let l1: number;
  if (kind !== 's2') {
    l1 = t(n++);
    mem.write64parts(root + ((baseHi >>> 7) & 511) * 8, tableLo(l1), 0); // level 0 -> level 1
  } else l1 = root; // stage 2 starts at level 1 (SL0 = 1, 39-bit IPA)
  const l2 = t(n++);
  mem.write64parts(l1 + (((baseHi << 2) | (baseLo >>> 30)) & 511) * 8, tableLo(l2), 0);
  const first = n;
  const l3 = (i: number) => (blocks ? -1 : t(first + i));
  const attrs = (r: number, level3: boolean): [number, number] => {
    const k = r & 15;
    // type: a page (0b11, Mali 0b01), a block (0b01), or wrong; AF set except for k === 1
    const type = k === 2 ? (level3 ? (mali ? 3 : 1) : 3) : level3 && !mali ? 3 : 1;
    const lo = k === 0 ? 0 : (r & 0x9c0) | (k === 1 ? 0 : 0x400) | type; // AP/S2AP bits 7:6, nG bit 11, AF bit 10
    const hi = ((r >>> 8) & 0x0060_0000) | (k === 3 ? 0x100 : 0); // UXN/XN, PXN; k = 3: output beyond 40 bits
    return [lo >>> 0, hi];
  };
  for (let i = 0; i < 9; i++) {
    if (blocks || i === 8) {
      const [lo, hi] = attrs(rnd(), false);
      const [lo2, hi2] = i === 8 ? [(0x401 | 0xc0) >>> 0, 0] : [lo, hi]; // slot 8: a good block
      mem.write64parts(l2 + i * 8, ((0x20_0000 * (16 + i)) | lo2) >>> 0, hi2);
      continue;
    }
    // With `ctl` (stage 1): random table controls (APTable, XNTable, PXNTable) per level-3 table.
    mem.write64parts(l2 + i * 8, tableLo(l3(i)), ctl && kind === 's1' ? (rnd() & 0xf) << 27 : 0);
    for (let p = 0; p < 512; p++) {
      const [lo, hi] = attrs(rnd(), true);
      mem.write64parts(l3(i) + p * 8, (lo === 0 ? 0 : (0x100_0000 + ((i * 512 + p) << 12)) | lo) >>> 0, hi);
    }
  }
  const cfg =
    kind === 's1'
      ? lpaeS1Config({ ttbr0: root, t0sz: 16, ips: 2, mair: 0xff04n })
      : kind === 's2'
        ? lpaeS2Config({ vttbr: root, t0sz: 25, sl0: 1, ps: 2 })
        : maliConfig({ transtab: BigInt(root) | 3n, memattr: 0x88n, paBits: 40 });
  const slot = (i: number): [number, number] => [baseHi, (baseLo + i * 0x20_0000) | 0];
  return { mem, cfg, slot, l3 };
}

/** A system: memory shared by both, its own walk cache and TLB, two TLB contexts (nG / global). */
interface Sys {
  wc: WalkCache;
  tlb: SetTlb;
  wctx: number;
  ctxNg: number;
  ctxG: number;
}

function sys(wcCap: number, tlbCap: number, ways: number, eviction: 'flush' | 'round-robin'): Sys {
  const wc = new WalkCache({ capacity: wcCap });
  const tlb = new SetTlb({ capacity: tlbCap, ways, eviction });
  return { wc, tlb, wctx: wc.context(0, 1), ctxNg: tlb.context(0, 1), ctxG: tlb.context(0, 2) };
}

/** Every counter of a system's TLB and walk cache, and its contexts' sizes. */
function counts(s: Sys): number[] {
  const t = s.tlb.counters();
  const w = s.wc.counters();
  return [t.hits, t.misses, t.inserts, t.evictions, t.flushes, t.invalidated, t.entries, w.hits, w.misses, w.inserts, w.evictions, w.flushes, w.invalidated, w.entries, s.tlb.contextSize(s.ctxNg), s.tlb.contextSize(s.ctxG)];
}

/** The entry `e` of a TLB as a comparable record. */
function entry(t: SetTlb, e: number, hi: number, lo: number): number[] {
  return [t.outputParts(e, hi, lo), t.perms(e), t.attr(e), t.shift(e), t.entryContext(e)];
}

describe('SetTlb.fillLeaf', () => {
  type Op =
    | { op: 'walk'; i: number; tag: number }
    | { op: 'run'; i: number; page: number; n: number; acc: number; tag: number; two: boolean; missed: boolean }
    | { op: 'tlbi'; i: number; all: boolean; g: boolean }
    | { op: 'wci'; i: number }
    | { op: 'write'; i: number; page: number; v: number; w: number };

  const opArb: fc.Arbitrary<Op> = fc.oneof(
    { weight: 3, arbitrary: fc.record({ op: fc.constant('walk' as const), i: fc.nat(8), tag: fc.nat(1) }) },
    { weight: 10, arbitrary: fc.record({ op: fc.constant('run' as const), i: fc.nat(8), page: fc.nat(511), n: fc.integer({ min: 1, max: 40 }), acc: fc.nat(7), tag: fc.nat(1), two: fc.boolean(), missed: fc.boolean() }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('tlbi' as const), i: fc.nat(8), all: fc.boolean(), g: fc.boolean() }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('wci' as const), i: fc.nat(8) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('write' as const), i: fc.nat(8), page: fc.nat(511), v: fc.nat(), w: fc.nat() }) },
  );

  it('serves exactly the misses WalkCache.fastLeaf serves, with the same TLB entry and the same counters, on random tables, accesses and invalidations', () => {
    let served = 0;
    let declined = 0;
    let blockServed = 0;
    let armedByWalk = 0;
    let declinedArmed = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 31 }),
        fc.constantFrom<Kind>('s1', 's2'),
        fc.boolean(),
        fc.boolean(),
        fc.array(opArb, { minLength: 20, maxLength: 70 }),
        fc.constantFrom(2, 8, 64),
        fc.constantFrom(4, 64, 4096),
        fc.constantFrom(1, 2, 4),
        fc.constantFrom<'flush' | 'round-robin'>('flush', 'round-robin'),
        (seed, kind, blocks, ctl, ops, wcCap, tlbCap, ways, eviction) => {
          const { mem, cfg, slot, l3 } = tree(seed, kind, blocks, ctl);
          // `a` as the models missed before fillLeaf; `b` as they miss now.
          const a = sys(wcCap, tlbCap, ways, eviction);
          const b = sys(wcCap, tlbCap, ways, eviction);
          const cur = createLpaeCursor();
          const out = createWalkResult();
          const full = createWalkResult();
          const res = new Int32Array(FAST_SLOTS);
          for (const o of ops) {
            const [hi, base] = slot(o.i);
            if (o.op === 'walk') {
              // A full walk from the top; the table it reached goes into both walk caches.
              cur[CUR_LEVEL] = -1;
              walkLpaeParts(mem, cfg, hi, base, ACCESSES[4]!, out, undefined, cur);
              a.wc.fillFromCursor(a.wctx, hi, base, o.tag, cfg, cur, -1, mem);
              b.wc.fillFromCursor(b.wctx, hi, base, o.tag, cfg, cur, -1, mem);
              // b primes the step after a walk, as the SMMUv3 and Mali models do.
              b.wc.primeLeaf(b.wctx, o.tag, cfg, hi, base);
              if (b.wc.leaf.wctx >= 0) armedByWalk++;
            } else if (o.op === 'tlbi') {
              for (const s of [a, b]) s.tlb.invalidateContext(o.g ? s.ctxG : s.ctxNg, o.all ? 0 : hi * TWO32 + (base >>> 0), o.all ? Infinity : hi * TWO32 + (base >>> 0) + 0x20_0000);
            } else if (o.op === 'wci') {
              for (const s of [a, b]) s.wc.invalidateContext(s.wctx, hi * TWO32 + (base >>> 0), hi * TWO32 + (base >>> 0) + 1);
            } else if (o.op === 'write') {
              // A descriptor rewritten behind the caches' back (they read live words).
              const at = l3(o.i) >= 0 && o.i < 8 ? l3(o.i) + o.page * 8 : 0;
              if (at !== 0) mem.write64parts(at, o.v >>> 0, o.w & 0x0060_ffff);
            } else {
              const access = ACCESSES[o.acc]!;
              for (let k = 0; k < o.n; k++) {
                // A run of pages; over 2 MiB blocks, one page of each block in turn.
                const lo = blocks ? (slot((o.i + k) % 9)[1] + o.page * 0x1000 + 0x18) | 0 : (base + ((o.page + k) & 511) * 0x1000 + 0x18) | 0;
                // The model's lookup (SMMUv2 probes the ASID context, then the global one).
                const ea = a.tlb.lookupParts(a.ctxNg, hi, lo);
                const eb = b.tlb.lookupParts(b.ctxNg, hi, lo);
                let ha = ea;
                let hb = eb;
                if (o.two && ea < 0) ha = a.tlb.lookupParts(a.ctxG, hi, lo);
                if (o.two && eb < 0) hb = b.tlb.lookupParts(b.ctxG, hi, lo);
                expect(hb >= 0).toBe(ha >= 0);
                if (ha >= 0) {
                  expect(entry(b.tlb, hb, hi, lo)).toEqual(entry(a.tlb, ha, hi, lo));
                  continue;
                }
                const ctxG = (s: Sys) => (o.two ? s.ctxG : s.ctxNg);
                // a: fastLeaf, then the fill of its result.
                let fa = -1;
                if (a.wc.fastLeaf(a.wctx, o.tag, cfg, hi, lo, access, res)) {
                  const ctx = (res[FAST_DESC_LO]! & 0x800) === 0 ? ctxG(a) : a.ctxNg;
                  fa = a.tlb.insertHalves(ctx, hi, lo, res[FAST_SHIFT]!, res[FAST_OA_HI]!, res[FAST_OA_LO]!, res[FAST_PERMS]!, 0);
                }
                // b: fillLeaf; when it declines, the same as a, then primed for the next.
                // (Both contexts were looked up and missed: `missed` may be true; false checks the ways.)
                const armedHere = b.wc.leaf.wctx === b.wctx && b.wc.leaf.tag === o.tag && b.wc.leaf.cfg === cfg;
                let fb = b.tlb.fillLeaf(b.ctxNg, ctxG(b), b.wctx, o.tag, cfg, hi, lo, permBit(access), b.wc.leaf, o.missed);
                if (fb >= 0) {
                  served++;
                  if (b.tlb.shift(fb) === 21) blockServed++;
                }
                else if (b.wc.fastLeaf(b.wctx, o.tag, cfg, hi, lo, access, res)) {
                  // Never when the step was armed for this context and config: then it
                  // declines exactly where fastLeaf does (the SMMUv3 model skips fastLeaf then).
                  expect(armedHere).toBe(false);
                  b.wc.primeLeaf(b.wctx, o.tag, cfg, hi, lo);
                  const ctx = (res[FAST_DESC_LO]! & 0x800) === 0 ? ctxG(b) : b.ctxNg;
                  fb = b.tlb.insertHalves(ctx, hi, lo, res[FAST_SHIFT]!, res[FAST_OA_HI]!, res[FAST_OA_LO]!, res[FAST_PERMS]!, 0);
                } else {
                  declined++;
                  if (armedHere) declinedArmed++;
                }
                expect(fb >= 0).toBe(fa >= 0);
                if (fb < 0) {
                  // Both walk, as the models do then: resumed at the walk cache's table, which
                  // caches the table the walk reached; a translation goes into the TLB.
                  for (const s of [a, b]) {
                    const from = s.wc.resumeCursor(s.wc.lookupParts(s.wctx, hi, lo), o.tag, cfg, cur);
                    const ok = walkLpaeParts(mem, cfg, hi, lo, access, out, undefined, cur);
                    s.wc.fillFromCursor(s.wctx, hi, lo, o.tag, cfg, cur, from, mem);
                    if (ok) {
                      const oaHi = Math.floor(out.oa / TWO32);
                      s.tlb.insertHalves(out.nG ? s.ctxNg : ctxG(s), hi, lo, Math.log2(out.size), oaHi, (out.oa - oaHi * TWO32) | 0, out.perms, 0);
                    }
                  }
                  // b then primes the step on the table the walk reached (the models do, so
                  // that the next miss there is served in one step rather than by fastLeaf).
                  b.wc.primeLeaf(b.wctx, o.tag, cfg, hi, lo);
                  if (b.wc.leaf.wctx >= 0) armedByWalk++;
                }
                if (fb >= 0) {
                  expect(entry(b.tlb, fb, hi, lo)).toEqual(entry(a.tlb, fa, hi, lo));
                  // What a full walk from the top gives (the tables above did not change).
                  expect(walkLpaeParts(mem, cfg, hi, lo, access, full)).toBe(true);
                  expect([b.tlb.outputParts(fb, hi, lo), 2 ** b.tlb.shift(fb), b.tlb.perms(fb)]).toEqual([full.oa, full.size, full.perms]);
                }
                // Every counter of both caches and the context sizes (compared field by field;
                // `expect` only on a difference, to show it).
                const ka = counts(a);
                const kb = counts(b);
                if (ka.some((v, x) => v !== kb[x])) expect(kb).toEqual(ka);
              }
            }
          }
        },
      ),
      { numRuns: 100 },
    );
    // Both outcomes were exercised, and 2 MiB blocks were served too.
    expect(served).toBeGreaterThan(3000);
    expect(declined).toBeGreaterThan(3000);
    expect(blockServed).toBeGreaterThan(300);
    expect(armedByWalk).toBeGreaterThan(300);
    expect(declinedArmed).toBeGreaterThan(300);
  }, 150_000); // ~1.5 s alone; the shared 2-core machine runs it beside every other suite

  it('serves Mali leaves (0b01 at level 3, no access flag, attr = level) exactly as a full walk from the top gives them, and declines the others', () => {
    let served = 0;
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 }), fc.boolean(), fc.array(fc.record({ i: fc.nat(8), page: fc.nat(511), n: fc.integer({ min: 1, max: 16 }), acc: fc.nat(3) }), { minLength: 5, maxLength: 30 }), (seed, blocks, runs) => {
        const { mem, cfg, slot } = tree(seed, 'mali', blocks);
        const s = sys(64, 4096, 4, 'flush');
        const cur = createLpaeCursor();
        const full = createWalkResult();
        // Mali access types: atomic (write, and read too), execute, read, write.
        const mAcc: WalkAccess[] = [ACCESSES[1]!, ACCESSES[2]!, ACCESSES[0]!, ACCESSES[1]!];
        for (const r of runs) {
          const [hi, base] = slot(r.i);
          cur[CUR_LEVEL] = -1;
          walkLpaeParts(mem, cfg, hi, base, mAcc[2]!, full, undefined, cur);
          s.wc.fillFromCursor(s.wctx, hi, base, 0, cfg, cur, -1, mem);
          s.tlb.invalidateContext(s.ctxNg);
          const need = permBit(mAcc[r.acc]!) | (r.acc === 0 ? PERM_USER_R : 0);
          for (let k = 0; k < r.n; k++) {
            const lo = (base + ((r.page + k) & 511) * 0x1000 + 0x18) | 0;
            if (s.tlb.lookupParts(s.ctxNg, hi, lo) >= 0) continue;
            const walked = walkLpaeParts(mem, cfg, hi, lo, mAcc[r.acc]!, full) && (r.acc !== 0 || (full.perms & PERM_USER_R) !== 0);
            // Arm the step on the walk cache's entry for the input (as the model does after
            // serving a miss there), then ask it.
            s.wc.lookupParts(s.wctx, hi, lo);
            s.wc.primeLeaf(s.wctx, 0, cfg, hi, lo);
            const f = s.tlb.fillLeaf(s.ctxNg, s.ctxNg, s.wctx, 0, cfg, hi, lo, need, s.wc.leaf, true);
            if (f < 0) continue;
            served++;
            expect(walked).toBe(true);
            expect([s.tlb.outputParts(f, hi, lo), 2 ** s.tlb.shift(f), s.tlb.perms(f), s.tlb.attr(f)]).toEqual([full.oa, full.size, full.perms, full.level]);
          }
        }
      }),
      { numRuns: 120 },
    );
    expect(served).toBeGreaterThan(1000);
  });

  it('primeLeaf after a walk arms the step only for the input\'s own cached table, context and config tag (the models call it after every walk)', () => {
    const { mem, cfg, slot } = tree(11, 's1', false);
    const s = sys(64, 4096, 4, 'flush');
    const other = s.wc.context(0, 7);
    const cur = createLpaeCursor();
    const out = createWalkResult();
    const walk = (wctx: number, tag: number, i: number) => {
      const [hi, base] = slot(i);
      cur[CUR_LEVEL] = -1;
      walkLpaeParts(mem, cfg, hi, base, ACCESSES[4]!, out, undefined, cur);
      s.wc.fillFromCursor(wctx, hi, base, tag, cfg, cur, -1, mem);
    };
    const [hi0, base0] = slot(0);
    const [hi1, base1] = slot(1);
    // The table of slot 0 cached under tag 0: primed for tag 0, not for tag 1.
    walk(s.wctx, 0, 0);
    s.wc.primeLeaf(s.wctx, 1, cfg, hi0, base0);
    expect(s.wc.leaf.wctx).toBe(-1);
    s.wc.primeLeaf(s.wctx, 0, cfg, hi0, base0);
    expect(s.wc.leaf.wctx).toBe(s.wctx);
    // An input of another block (slot 1, not cached): not armed on slot 0's table.
    s.wc.primeLeaf(s.wctx, 0, cfg, hi1, base1);
    expect(s.wc.leaf.wctx).toBe(-1);
    // Another context's walk (same tables): the first context's prime of it is refused.
    walk(other, 0, 1);
    s.wc.primeLeaf(s.wctx, 0, cfg, hi1, base1);
    expect(s.wc.leaf.wctx).toBe(-1);
    s.wc.primeLeaf(other, 0, cfg, hi1, base1);
    expect(s.wc.leaf.wctx).toBe(other);
    // A walk that cached nothing new (a 2 MiB block: slot 8, reached in the level-2 table,
    // which is above the level-3 ones cached) leaves the remembered entry another block's.
    walk(s.wctx, 0, 8);
    const [hi8, base8] = slot(8);
    s.wc.primeLeaf(s.wctx, 0, cfg, hi8, base8);
    expect(s.wc.leaf.wctx).toBe(-1);
  });

  it('a fill whose block another way of its set holds replaces that entry in place (unless the caller says its lookup just missed)', () => {
    const { mem, cfg, slot } = tree(7, 's1', false);
    // One set of four ways: every block meets every other.
    const s = sys(64, 4, 4, 'flush');
    const other = s.tlb.context(0, 3);
    const [hi, base] = slot(0);
    const cur = createLpaeCursor();
    const out = createWalkResult();
    const res = new Int32Array(FAST_SLOTS);
    const read = ACCESSES[4]!; // privileged read: every valid leaf of this tree grants it
    // A good leaf (AF set, a page) in slot 0's table, and the walk cache armed there.
    let lo = 0;
    for (let p = 0; p < 512 && lo === 0; p++) {
      const va = (base + p * 0x1000) | 0;
      if (walkLpaeParts(mem, cfg, hi, va, read, out) && out.size === 0x1000) lo = va;
    }
    expect(lo).not.toBe(0);
    cur[CUR_LEVEL] = -1;
    walkLpaeParts(mem, cfg, hi, lo, read, out, undefined, cur);
    s.wc.fillFromCursor(s.wctx, hi, lo, 0, cfg, cur, -1, mem);
    expect(s.wc.fastLeaf(s.wctx, 0, cfg, hi, lo, read, res)).toBe(true);
    s.wc.primeLeaf(s.wctx, 0, cfg, hi, lo);
    const ctx = (res[FAST_DESC_LO]! & 0x800) === 0 ? s.ctxG : s.ctxNg;
    for (const afterMiss of [false, true]) {
      s.tlb.invalidateAll();
      // Way 0 holds another context's entry; the input's block goes to way 1; then way 0 dies.
      s.tlb.insertHalves(other, 0, 0x7000_0000, 12, 0, 0x1000, 1, 0);
      if (afterMiss) expect(s.tlb.lookupParts(ctx, hi, lo)).toBe(-1);
      const e1 = s.tlb.insertHalves(ctx, hi, lo, 12, 0x55, 0x1000, 1, 0);
      expect(e1).toBe(1);
      s.tlb.invalidateContext(other);
      if (afterMiss) expect(s.tlb.lookupParts(ctx === s.ctxNg ? s.ctxG : s.ctxNg, hi, lo)).toBe(-1);
      const before = s.tlb.counters();
      // Not `missed`: the block was filled after the input's lookup.
      const f = s.tlb.fillLeaf(s.ctxNg, s.ctxG, s.wctx, 0, cfg, hi, lo, permBit(read), s.wc.leaf, false);
      expect(f).toBe(1); // replaced in place, not a second entry in way 0
      expect(s.tlb.contextSize(ctx)).toBe(1);
      expect(s.tlb.size).toBe(1);
      expect(s.tlb.outputParts(f, hi, lo)).toBe(res[FAST_OA_HI]! * TWO32 + (res[FAST_OA_LO]! >>> 0));
      expect(s.tlb.counters().inserts).toBe(before.inserts + 1);
    }
  });

  it('lpaeLeafPermTable gives the walkers\' permissions for every leaf bit combination and table control', () => {
    const cfgs = [lpaeS1Config({ ttbr0: RAM, t0sz: 16, ips: 2, mair: 0xffn }), lpaeS2Config({ vttbr: RAM, t0sz: 25, sl0: 1, ps: 2 }), maliConfig({ transtab: BigInt(RAM) | 3n, memattr: 0n })];
    const mem = new PhysMem([{ base: RAM, size: 1 << 20 }]);
    const out = createWalkResult();
    const table = new Int32Array(16);
    for (const cfg of cfgs) {
      // A one-entry walk: a level-1 block (stage 1: level 0 -> level 1 table) with the bits.
      for (let tbl = 0; tbl < 16; tbl++) {
        const tblHi = cfg.stage === 1 && cfg.regime !== 'mali' ? tbl << 27 : 0; // PXNTable, XNTable, APTable[1:0]
        lpaeLeafPermTable(cfg, tblHi, table);
        for (let bits = 0; bits < 16; bits++) {
          const lo = (((bits & 3) << 6) | 0x401 | 0x4000_0000) >>> 0;
          const hi = ((bits >>> 2) & 3) << 21;
          expect(lpaeLeafPermIndex(lo, hi)).toBe(bits);
          const start = cfg.ranges[0]!.startLevel;
          let at = RAM;
          for (let l = start; l < 1; l++) {
            mem.write64parts(at, (RAM + 0x1000) | 3, tblHi);
            at = RAM + 0x1000;
          }
          mem.write64parts(at, lo, hi);
          // Every access: the walk succeeds exactly when the table's entry grants it, and then
          // reports that entry as the leaf's permissions.
          let granted = 0;
          for (const acc of ACCESSES) {
            const ok = walkLpaeParts(mem, cfg, 0, 0x123, acc, out);
            expect(ok, `${cfg.regime} bits ${bits} table ${tbl}`).toBe((table[bits]! & permBit(acc)) !== 0);
            expect(ok || out.fault === 'permission').toBe(true);
            if (ok) {
              expect(out.perms).toBe(table[bits]);
              granted++;
            }
          }
          if (table[bits] !== 0) expect(granted).toBeGreaterThan(0);
        }
        if (cfg.stage === 2 || cfg.regime === 'mali') break;
      }
    }
  });
});
