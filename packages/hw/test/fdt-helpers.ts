/**
 * Test-only DTB assembler: builds blobs token by token so tests can produce exactly the
 * malformation they want, independently of the package's writer.
 */
export const BEGIN = 1;
export const END_NODE = 2;
export const PROP = 3;
export const NOP = 4;
export const END = 9;

export type Piece = Uint8Array;

function be32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, false);
  return b;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

function pad4(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(b.length / 4) * 4);
  out.set(b);
  return out;
}

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));

export const tok = {
  word: (v: number): Piece => be32(v),
  begin: (name: string): Piece => concat([be32(BEGIN), pad4(concat([ascii(name), new Uint8Array(1)]))]),
  /** BEGIN_NODE with a name that has no NUL (raw bytes, not padded). */
  beginRaw: (bytes: Uint8Array): Piece => concat([be32(BEGIN), bytes]),
  prop: (nameoff: number, value: Uint8Array, lenOverride?: number): Piece =>
    concat([be32(PROP), be32(lenOverride ?? value.length), be32(nameoff), pad4(value)]),
  end: (): Piece => be32(END_NODE),
  nop: (): Piece => be32(NOP),
  fin: (): Piece => be32(END),
};

export interface RawOpts {
  /** Strings block contents (default "compatible\0"). */
  strings?: Uint8Array;
  /** Reservation entries [addrHi, addrLo, sizeHi, sizeLo]; a 0,0 terminator is appended unless `noTerminator`. */
  rsv?: [number, number, number, number][];
  noTerminator?: boolean;
  version?: number;
  lastComp?: number;
}

export interface RawBlob {
  blob: Uint8Array;
  offRsv: number;
  offStruct: number;
  offStrings: number;
  structSize: number;
}

/** header(40) | rsvmap | struct | strings, the layout the specification recommends. */
export function assemble(struct: readonly Piece[], opts: RawOpts = {}): RawBlob {
  const strings = opts.strings ?? ascii('compatible\0');
  const rsvParts: Uint8Array[] = [];
  for (const e of opts.rsv ?? []) rsvParts.push(...e.map(be32));
  if (!opts.noTerminator) rsvParts.push(new Uint8Array(16));
  const rsv = concat(rsvParts);
  const st = concat(struct);
  const offRsv = 40;
  const offStruct = offRsv + rsv.length;
  const offStrings = offStruct + st.length;
  const total = offStrings + strings.length;
  const header = concat(
    [0xd00dfeed, total, offStruct, offStrings, offRsv, opts.version ?? 17, opts.lastComp ?? 16, 0, strings.length, st.length].map(be32),
  );
  return { blob: concat([header, rsv, st, strings]), offRsv, offStruct, offStrings, structSize: st.length };
}

/** Overwrites the big-endian u32 at `off` (returns a copy). */
export function patch32(blob: Uint8Array, off: number, v: number): Uint8Array {
  const out = blob.slice();
  new DataView(out.buffer).setUint32(off, v >>> 0, false);
  return out;
}

/** A deterministic PRNG (mulberry32) for the fuzzer. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export { ascii, be32, concat };
