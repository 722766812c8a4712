import { describe, expect, it } from 'vitest';
import { BusError, InterruptController, MmioBus, PhysMem, type MmioDevice } from '@gki/hw';

const GiB = 2 ** 30;

describe('PhysMem', () => {
  it('reads zero from untouched RAM without allocating, and round-trips 32/64-bit values', () => {
    const m = new PhysMem([{ base: 0x8000_0000, size: GiB }]);
    expect(m.read32(0x8000_1000)).toBe(0);
    expect(m.framesTouched()).toBe(0);
    m.write32(0x8000_1004, 0xdeadbeef);
    expect(m.read32(0x8000_1004)).toBe(0xdeadbeef);
    m.write64(0x8000_2000, 0xfedc_ba98_7654_3210n);
    expect(m.read64(0x8000_2000)).toBe(0xfedc_ba98_7654_3210n);
    expect(m.read64lo(0x8000_2000)).toBe(0x7654_3210);
    expect(m.read64hi(0x8000_2000)).toBe(0xfedc_ba98);
    expect(m.framesTouched()).toBe(2);
  });

  it('keeps bits above 2^53 exact (no float round trip)', () => {
    const m = new PhysMem([{ base: 0, size: 1 << 20 }]);
    const v = (1n << 63n) | (1n << 54n) | 0xfffn; // NSTable | XN | low bits
    m.write64(0x100, v);
    expect(m.read64(0x100)).toBe(v);
  });

  it('handles addresses above 4 GiB and up to 52 bits', () => {
    const base = 2 ** 51;
    const m = new PhysMem([{ base, size: 1 << 21 }]);
    m.write32(base + 0x1ffffc, 7);
    expect(m.read32(base + 0x1ffffc)).toBe(7);
    expect(() => m.read32(base - 4)).toThrow(BusError);
  });

  it('bytes, zeroing and bus errors', () => {
    const m = new PhysMem([{ base: 0x1000, size: 0x2000 }]);
    m.writeBytes(0x1ffe, new Uint8Array([1, 2, 3, 4]));
    expect([...m.readBytes(0x1ffe, 4)]).toEqual([1, 2, 3, 4]);
    m.zero(0x1000, 0x2000);
    expect([...m.readBytes(0x1ffe, 4)]).toEqual([0, 0, 0, 0]);
    expect(() => m.write32(0x3000, 1)).toThrow(/outside RAM/);
    expect(() => m.read32(0x1002)).toThrow(/misaligned/);
    expect(() => m.read64(0x1004)).toThrow(/misaligned/);
    expect(() => new PhysMem([{ base: 0, size: 0x2000 }, { base: 0x1000, size: 0x1000 }])).toThrow(/overlap/);
  });

  it('peekChunkParts gives what peekChunk gives, across regions, untouched chunks and bus errors', () => {
    // Two regions (one above 4 GiB, low halves at or above 2^31 as int32), more chunks than
    // the chunk cache holds, visited in an order that keeps switching region.
    const hiBase = 2 ** 36 + 2 ** 31;
    const m = new PhysMem([
      { base: 0x8000_0000, size: 24 << 20 },
      { base: hiBase, size: 24 << 20 },
    ]);
    const addrs: number[] = [];
    for (let i = 0; i < 12; i++) addrs.push(0x8000_0000 + i * (2 << 20) + 0x1234, hiBase + i * (2 << 20) + 0x5678);
    for (const [k, a] of addrs.entries()) if (k % 3 !== 0) m.write32(a - (a % 4), k + 1); // some chunks stay untouched
    const parts = (a: number) => m.peekChunkParts(Math.floor(a / 2 ** 32), (a % 2 ** 32) | 0);
    for (let round = 0; round < 2; round++)
      for (const [k, a] of addrs.entries()) {
        const c = parts(a);
        expect(c).toBe(m.peekChunk(a));
        expect(c[PhysMem.wordIndex(a)]).toBe(k % 3 !== 0 ? k + 1 : 0);
      }
    for (const bad of [0x7fff_fffc, 0x8000_0000 + (24 << 20), hiBase - 4, hiBase + (24 << 20), 2 ** 40]) {
      expect(() => m.peekChunk(bad)).toThrow(BusError);
      expect(() => parts(bad)).toThrow(new BusError(bad, 1, false, 'outside RAM'));
    }
    // A bus error leaves the fast path intact.
    expect(parts(addrs[1]!)).toBe(m.peekChunk(addrs[1]!));
  });

  it('reads and writes the last bytes of a region, and faults one byte past it', () => {
    const m = new PhysMem([{ base: 0x1000, size: 0x2000 }]);
    m.writeBytes(0x2000, new Uint8Array(0x1000).fill(7));
    expect(m.readBytes(0x2000, 0x1000).every((b) => b === 7)).toBe(true);
    m.writeBytes(0x2fff, new Uint8Array([9]));
    expect([...m.readBytes(0x2ffd, 3)]).toEqual([7, 7, 9]);
    expect(() => m.readBytes(0x2fff, 2)).toThrow(/outside RAM/);
    expect(() => m.writeBytes(0x3000, new Uint8Array([1]))).toThrow(/outside RAM/);
  });
});

describe('PhysMem: an emulator author\'s slips get clear errors and change nothing', () => {
  it('a bigint address, a number for write64, a negative length', () => {
    const m = new PhysMem([{ base: 0x4000_0000, size: 1 << 20 }]);
    const big = 0x4000_0000n as unknown as number;
    expect(() => m.read32(big)).toThrow(new BusError(big, 4, false, 'not a physical address (a bigint; addresses are numbers)'));
    expect(() => m.read32(big)).toThrow('bus error: read of 4 byte(s) at 1073741824n: not a physical address (a bigint; addresses are numbers)');
    expect(() => m.write64parts(big, 1, 2)).toThrow(BusError);
    expect(() => m.read64(big)).toThrow(BusError);
    expect(() => m.write64(0x4000_0000, 5 as unknown as bigint)).toThrow(
      new TypeError('write64: the value must be a bigint (got number); write64parts(pa, lo, hi) takes two 32-bit halves'),
    );
    expect(() => m.readBytes(0x4000_0000, -1)).toThrow(new RangeError('readBytes: bad length -1'));
    expect(() => m.read32(-4)).toThrow('bus error: read of 1 byte(s) at -4: not a physical address');
    expect(m.framesTouched()).toBe(0);
  });
});

describe('MmioBus and interrupts', () => {
  class Regs implements MmioDevice {
    readonly name = 'regs';
    r = new Uint32Array(4);
    read32(o: number) {
      return this.r[o / 4]!;
    }
    write32(o: number, v: number) {
      this.r[o / 4] = v;
    }
  }
  it('dispatches to the owning device, splits 64-bit accesses, rejects undecoded addresses', () => {
    const bus = new MmioBus();
    const d = new Regs();
    bus.map(0x1000_0000, 0x10, d);
    bus.write64(0x1000_0008, 0x1_0000_0002n);
    expect([...d.r]).toEqual([0, 0, 2, 1]);
    expect(bus.read64(0x1000_0008)).toBe(0x1_0000_0002n);
    expect(() => bus.read32(0x1000_0010)).toThrow(/no device decodes/);
    expect(() => bus.map(0x1000_0008, 0x10, new Regs())).toThrow(/overlaps/);
  });
  it('64-bit accesses as 32-bit halves use the native path the device offers, else split low first', () => {
    const bus = new MmioBus();
    const split = new Regs();
    bus.map(0x1000_0000, 0x10, split);
    bus.write64parts(0x1000_0008, 0x2, 0xffff_0001);
    expect([...split.r]).toEqual([0, 0, 2, 0xffff_0001]);
    const out = { lo: 0, hi: 0 };
    bus.read64parts(0x1000_0008, out);
    expect(out).toEqual({ lo: 2, hi: 0xffff_0001 });
    const calls: string[] = [];
    const wide: MmioDevice = {
      name: 'wide',
      read32: () => 0,
      write32: (o, v) => void calls.push(`w32 ${o} ${v}`),
      read64: () => 0xfedc_ba98_7654_3210n,
      write64: (o, v) => void calls.push(`w64 ${o} ${v.toString(16)}`),
    };
    bus.map(0x2000_0000, 0x10, wide);
    bus.write64parts(0x2000_0008, 0x7654_3210, 0xfedc_ba98);
    bus.read64parts(0x2000_0008, out);
    expect(out).toEqual({ lo: 0x7654_3210, hi: 0xfedc_ba98 });
    const parts: MmioDevice = { ...wide, name: 'parts', write64parts: (o, lo, hi) => void calls.push(`parts ${o} ${lo} ${hi}`), read64parts: (_o, o2) => Object.assign(o2, { lo: -1, hi: 5 }) };
    bus.map(0x3000_0000, 0x10, parts);
    bus.write64parts(0x3000_0000, 1, 2);
    bus.read64parts(0x3000_0000, out);
    expect(out).toEqual({ lo: 0xffff_ffff, hi: 5 });
    expect(calls).toEqual(['w64 8 fedcba9876543210', 'parts 0 1 2']);
    expect(() => bus.write64parts(0x1000_0004, 0, 0)).toThrow(/misaligned/);
  });
  it('delivers a raised line to its handler and counts it', () => {
    const ic = new InterruptController();
    const seen: number[] = [];
    const off = ic.onIrq(42, (n) => seen.push(n));
    ic.line(42).raise();
    ic.line(42).raise(); // already high: no new edge
    ic.line(42).lower();
    ic.line(42).raise();
    off();
    ic.line(42).lower();
    ic.line(42).raise();
    expect(seen).toEqual([42, 42]);
    expect(ic.count(42)).toBe(2);
    expect(() => ic.line(5000)).toThrow(/no interrupt line/);
  });
});
