import { describe, expect, it } from 'vitest';
import { buildFdt, defaultBoardDtb, FdtError, node, parseDtb, prop, ref, writeDtb, type FdtTree } from '@gki/hw';
import { ascii, assemble, rng, tok } from './fdt-helpers.js';

/** Valid seeds of different shapes: the default board, a deep tree, a v16 blob with NOPs, reservations. */
function seeds(): Uint8Array[] {
  const deep = buildFdt({
    reservations: [{ address: 0x1000, size: 0x2000 }, { address: 2 ** 44, size: 2 ** 32 }],
    root: node('', [prop.u32('#address-cells', 1), prop.strings('compatible', ['a,b', 'c'])], [
      node('x: a@1', [prop.u64('v', 2 ** 50)], [node('b', [prop.empty('e')], [node('c@ff', [prop.u32('p', ref('x'))])])]),
      node('d', [prop.bytes('raw', [1, 2, 3, 4, 5, 6, 7])]),
    ]),
  });
  return [
    defaultBoardDtb(),
    writeDtb(deep),
    assemble([tok.nop(), tok.begin(''), tok.prop(0, ascii('q\0')), tok.nop(), tok.begin('n'), tok.end(), tok.end(), tok.fin()], {
      version: 16,
      lastComp: 16,
    }).blob,
    assemble([tok.begin(''), tok.end(), tok.fin()], { rsv: [[0, 0x4000_0000, 0, 0x1000]] }).blob,
  ];
}

const HEADER_FIELDS = 10;
/** FDT_FUZZ_CASES / FDT_FUZZ_SEED allow longer runs by hand; the default run is fixed and fast. */
const CASES = Number(process.env.FDT_FUZZ_CASES ?? 12_000);
const SEED = Number(process.env.FDT_FUZZ_SEED ?? 0x5eedf0d7);
const TOKENS = [1, 2, 3, 4, 9];

/** One random mutation of `b` (a new array). */
function mutate(b: Uint8Array, r: () => number): Uint8Array {
  const int = (n: number): number => Math.floor(r() * n);
  const kind = int(7);
  const out = b.slice();
  const dv = new DataView(out.buffer);
  switch (kind) {
    case 0: {
      // flip a few bytes to random values
      const n = 1 + int(4);
      for (let i = 0; i < n; i++) out[int(out.length)] = int(256);
      return out;
    }
    case 1: {
      // flip single bits
      const n = 1 + int(3);
      for (let i = 0; i < n; i++) out[int(out.length)]! ^= 1 << int(8);
      return out;
    }
    case 2:
      // truncate
      return out.slice(0, int(out.length));
    case 3: {
      // a header field set to something random or slightly off
      const f = int(HEADER_FIELDS) * 4;
      if (f + 4 > out.length) return out;
      const old = dv.getUint32(f, false);
      const choice = int(4);
      const v = choice === 0 ? Math.floor(r() * 2 ** 32) : choice === 1 ? old + (int(17) - 8) : choice === 2 ? int(out.length + 8) : 0xffff_ffff;
      dv.setUint32(f, v >>> 0, false);
      return out;
    }
    case 4: {
      // insert random bytes
      const at = int(out.length + 1);
      const ins = Uint8Array.from({ length: 1 + int(8) }, () => int(256));
      const res = new Uint8Array(out.length + ins.length);
      res.set(out.subarray(0, at));
      res.set(ins, at);
      res.set(out.subarray(at), at + ins.length);
      return res;
    }
    case 5: {
      // delete a range
      const at = int(out.length);
      const end = Math.min(out.length, at + 1 + int(12));
      const res = new Uint8Array(out.length - (end - at));
      res.set(out.subarray(0, at));
      res.set(out.subarray(end), at);
      return res;
    }
    default: {
      // overwrite an aligned word after the header with a token value or a small number
      if (out.length < 44) return out;
      const w = 40 + int((out.length - 40) >> 2) * 4;
      if (w + 4 > out.length) return out;
      dv.setUint32(w, r() < 0.6 ? TOKENS[int(TOKENS.length)]! : int(64), false);
      return out;
    }
  }
}

function normalise(t: FdtTree): FdtTree {
  return { ...t, version: 17 };
}

describe('parseDtb fuzzing', () => {
  it(`parses or throws FdtError with an in-range offset for ${CASES} mutated blobs (seed 0x${SEED.toString(16)})`, () => {
    const base = seeds();
    for (const b of base) expect(() => parseDtb(b)).not.toThrow();
    const r = rng(SEED);
    let parsed = 0;
    let rejected = 0;
    const reasons = new Set<string>();
    for (let i = 0; i < CASES; i++) {
      let blob = base[i % base.length]!;
      const rounds = 1 + Math.floor(r() * 3);
      for (let k = 0; k < rounds; k++) blob = mutate(blob, r);
      let tree: FdtTree | undefined;
      try {
        tree = parseDtb(blob);
      } catch (e) {
        if (!(e instanceof FdtError)) throw new Error(`case ${i}: ${String(e)} is not an FdtError`);
        if (!(e.offset >= 0 && e.offset <= blob.length))
          throw new Error(`case ${i}: offset ${e.offset} outside [0, ${blob.length}] (${e.reason})`);
        rejected++;
        reasons.add(e.reason.replace(/0x[0-9a-f]+|\d+|'[^']*'/g, '#'));
        continue;
      }
      parsed++;
      // Whatever parses is a tree the writer can encode and that survives a round trip.
      const again = parseDtb(writeDtb(tree));
      if (JSON.stringify(normalise(again)) !== JSON.stringify(normalise(tree))) throw new Error(`case ${i}: round trip differs`);
    }
    expect(CASES).toBeGreaterThanOrEqual(10_000);
    // The mutator must really exercise both outcomes and many distinct checks.
    expect(parsed).toBeGreaterThan(200);
    expect(rejected).toBeGreaterThan(CASES / 2);
    expect(reasons.size).toBeGreaterThan(15);
  });
});
