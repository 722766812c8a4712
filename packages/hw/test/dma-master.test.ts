import { describe, expect, it } from 'vitest';
import {
  Board,
  DMA_CMD_CHECKSUM,
  DMA_CMD_COPY,
  DMA_CMD_FILL,
  DMA_IRQ_DONE,
  DMA_IRQ_ERROR,
  DMA_IRQ_FAULT,
  DMA_REG_CHECKSUM,
  DMA_REG_CMD,
  DMA_REG_DST_HI,
  DMA_REG_DST_LO,
  DMA_REG_FAULT_ADDR_HI,
  DMA_REG_FAULT_ADDR_LO,
  DMA_REG_IRQ_ACK,
  DMA_REG_IRQ_STATUS,
  DMA_REG_LEN,
  DMA_REG_PATTERN,
  DMA_REG_SRC_HI,
  DMA_REG_SRC_LO,
  DMA_REG_STATUS,
  DMA_REG_XFER_COUNT,
  DMA_STATUS_DONE,
  DMA_STATUS_ERROR,
  DMA_STATUS_FAULT,
  DMA_STATUS_FAULT_BUS,
  DMA_STATUS_FAULT_WRITE,
  DmaMaster,
  type DmaTranslation,
} from '@gki/hw';

const RAM = 0x4000_0000;
const HIGH_RAM = 2 ** 36; // a second region above 4 GiB
const MMIO = 0x0a00_0000;
const LINE = 40;

function setup(): { board: Board; dma: DmaMaster } {
  const board = new Board('t', [
    { base: RAM, size: 16 << 20 },
    { base: HIGH_RAM, size: 1 << 20 },
  ]);
  const dma = new DmaMaster(board.mem, { name: 'dma0', streamId: 7, irq: board.irq.line(LINE) });
  board.bus.map(MMIO, 0x1000, dma);
  return { board, dma };
}

function randomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Independent FNV-1a reference. */
function fnv1a(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (const b of bytes) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

function program(board: Board, src: number, dst: number, len: number, cmd: number, pattern = 0): void {
  const w = (r: number, v: number): void => board.bus.write32(MMIO + r, v);
  w(DMA_REG_SRC_LO, src % 2 ** 32);
  w(DMA_REG_SRC_HI, Math.floor(src / 2 ** 32));
  w(DMA_REG_DST_LO, dst % 2 ** 32);
  w(DMA_REG_DST_HI, Math.floor(dst / 2 ** 32));
  w(DMA_REG_LEN, len);
  w(DMA_REG_PATTERN, pattern);
  w(DMA_REG_CMD, cmd);
}

const reg = (board: Board, r: number): number => board.bus.read32(MMIO + r);

describe('DmaMaster over MMIO', () => {
  it('copies across page boundaries at unaligned offsets and raises its IRQ until acknowledged', () => {
    const { board } = setup();
    const data = randomBytes(3 * 4096 + 123, 42);
    const src = RAM + 0x1000 - 5;
    const dst = RAM + 0x20_0000 + 0x7f3;
    board.mem.writeBytes(src, data);
    const before = board.mem.readBytes(dst - 4, 4);
    const after = board.mem.readBytes(dst + data.length, 4);

    const seen: number[] = [];
    board.irq.onIrq(LINE, () => seen.push(reg(board, DMA_REG_IRQ_STATUS)));
    program(board, src, dst, data.length, DMA_CMD_COPY);

    expect(board.mem.readBytes(dst, data.length)).toEqual(data);
    expect(board.mem.readBytes(dst - 4, 4)).toEqual(before); // neighbours untouched
    expect(board.mem.readBytes(dst + data.length, 4)).toEqual(after);
    expect(reg(board, DMA_REG_STATUS)).toBe(DMA_STATUS_DONE);
    expect(reg(board, DMA_REG_XFER_COUNT)).toBe(data.length);
    expect(seen).toEqual([DMA_IRQ_DONE]);
    expect(board.irq.line(LINE).level).toBe(true);
    board.bus.write32(MMIO + DMA_REG_IRQ_ACK, DMA_IRQ_DONE);
    expect(reg(board, DMA_REG_IRQ_STATUS)).toBe(0);
    expect(board.irq.line(LINE).level).toBe(false);
  });

  it('copies word-aligned buffers and reaches RAM above 4 GiB through the HI registers', () => {
    const { board } = setup();
    const data = randomBytes(8192, 7);
    board.mem.writeBytes(RAM, data);
    program(board, RAM, HIGH_RAM + 0x800, data.length, DMA_CMD_COPY);
    expect(reg(board, DMA_REG_STATUS)).toBe(DMA_STATUS_DONE);
    expect(board.mem.readBytes(HIGH_RAM + 0x800, data.length)).toEqual(data);
  });

  it('copies, fills and checksums at unaligned offsets in RAM at 2^31 and above 4 GiB (the engine carries PAs as 32-bit halves)', () => {
    // RAM at 2^31 (low halves negative as int32) and above 4 GiB (a non-zero high half).
    const LOW2G = 2 ** 31;
    const board = new Board('t', [
      { base: LOW2G, size: 1 << 20 },
      { base: HIGH_RAM, size: 1 << 20 },
    ]);
    const dma = new DmaMaster(board.mem, { name: 'dma0', streamId: 7 });
    const data = randomBytes(3 * 4096 + 5, 21);
    board.mem.writeBytes(HIGH_RAM + 0x1ffd, data);
    // Unaligned on both sides, pieces crossing pages at different offsets: above 4 GiB -> 2^31.
    expect(dma.copy(HIGH_RAM + 0x1ffd, LOW2G + 0x3002, data.length)).toBe(DMA_STATUS_DONE);
    expect(board.mem.readBytes(LOW2G + 0x3002, data.length)).toEqual(data);
    expect(board.mem.readBytes(LOW2G + 0x3001, 1)[0]).toBe(0);
    expect(board.mem.readBytes(LOW2G + 0x3002 + data.length, 1)[0]).toBe(0);
    // And back, word-aligned, to another place above 4 GiB.
    expect(dma.copy(LOW2G + 0x3000, HIGH_RAM + 0x8000, 2 * 4096)).toBe(DMA_STATUS_DONE);
    expect(board.mem.readBytes(HIGH_RAM + 0x8000, 2)).toEqual(new Uint8Array(2));
    expect(board.mem.readBytes(HIGH_RAM + 0x8002, 2 * 4096 - 2)).toEqual(data.subarray(0, 2 * 4096 - 2));
    expect(dma.fill(HIGH_RAM + 0x2_0ffe, 4099, 0x4433_2211)).toBe(DMA_STATUS_DONE);
    const got = board.mem.readBytes(HIGH_RAM + 0x2_0ffe, 4099);
    for (let i = 0; i < got.length; i++) expect(got[i]).toBe(0x11 * ((i % 4) + 1));
    expect(board.mem.readBytes(HIGH_RAM + 0x2_0ffd, 1)[0]).toBe(0);
    expect(dma.checksum(LOW2G + 0x3002, data.length)).toBe(DMA_STATUS_DONE);
    expect(dma.checksumValue).toBe(fnv1a(data));
    expect(dma.checksum(HIGH_RAM + 0x1ffd, data.length)).toBe(DMA_STATUS_DONE);
    expect(dma.checksumValue).toBe(fnv1a(data));
  });

  it('fills with a repeated little-endian pattern from an unaligned start', () => {
    const { board } = setup();
    const dst = RAM + 0x3001;
    program(board, 0, dst, 4099, DMA_CMD_FILL, 0x4433_2211);
    expect(reg(board, DMA_REG_STATUS)).toBe(DMA_STATUS_DONE);
    const got = board.mem.readBytes(dst, 4099);
    for (let i = 0; i < got.length; i++) expect(got[i]).toBe(0x11 * ((i % 4) + 1));
    expect(board.mem.readBytes(dst - 1, 1)[0]).toBe(0);
    expect(board.mem.readBytes(dst + 4099, 1)[0]).toBe(0);
  });

  it('checksums a range with FNV-1a', () => {
    const { board, dma } = setup();
    const data = randomBytes(10_000, 99);
    board.mem.writeBytes(RAM + 0x10_0003, data);
    program(board, RAM + 0x10_0003, 0, data.length, DMA_CMD_CHECKSUM);
    expect(reg(board, DMA_REG_STATUS)).toBe(DMA_STATUS_DONE);
    expect(reg(board, DMA_REG_CHECKSUM)).toBe(fnv1a(data));
    data[5000]! ^= 1;
    board.mem.writeBytes(RAM + 0x10_0003, data);
    expect(dma.checksum(RAM + 0x10_0003, data.length)).toBe(DMA_STATUS_DONE);
    expect(dma.checksumValue).toBe(fnv1a(data));
  });

  it('reports a bus error on an address outside RAM, after copying what came before', () => {
    const { board } = setup();
    const end = RAM + (16 << 20);
    const data = randomBytes(4096, 3);
    board.mem.writeBytes(RAM, data);
    let irqs = 0;
    board.irq.onIrq(LINE, () => irqs++);
    program(board, RAM, end - 4096, 8192, DMA_CMD_COPY); // second destination page is past the end
    expect(reg(board, DMA_REG_STATUS)).toBe(DMA_STATUS_FAULT | DMA_STATUS_FAULT_WRITE | DMA_STATUS_FAULT_BUS);
    expect(reg(board, DMA_REG_FAULT_ADDR_LO)).toBe(end);
    expect(reg(board, DMA_REG_FAULT_ADDR_HI)).toBe(0);
    expect(reg(board, DMA_REG_XFER_COUNT)).toBe(4096);
    // (PhysMem.readBytes cannot read the last 3 bytes of RAM, so compare word by word)
    for (let i = 0; i < 4096; i += 4)
      expect(board.mem.read32(end - 4096 + i)).toBe((data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24)) >>> 0);
    expect(reg(board, DMA_REG_IRQ_STATUS)).toBe(DMA_IRQ_FAULT);
    expect(irqs).toBe(1);

    // a read fault from an MMIO hole, at a 64-bit address
    board.bus.write32(MMIO + DMA_REG_IRQ_ACK, DMA_IRQ_FAULT);
    program(board, 2 ** 40 + 0x10, RAM, 16, DMA_CMD_COPY);
    expect(reg(board, DMA_REG_STATUS)).toBe(DMA_STATUS_FAULT | DMA_STATUS_FAULT_BUS);
    expect(reg(board, DMA_REG_FAULT_ADDR_HI)).toBe(0x100);
    expect(reg(board, DMA_REG_FAULT_ADDR_LO)).toBe(0x10);
    expect(irqs).toBe(2);
  });

  it('reaches the very last bytes of RAM', () => {
    const { board, dma } = setup();
    const end = RAM + (16 << 20);
    expect(dma.fill(end - 3, 3, 0xaabb_ccdd)).toBe(DMA_STATUS_DONE);
    expect(board.mem.read32(end - 4)).toBe(0xbbccdd00);
    expect(dma.copy(end - 1, RAM + 2, 1)).toBe(DMA_STATUS_DONE);
    expect(board.mem.read32(RAM)).toBe(0x00bb0000);
    expect(dma.checksum(end - 2, 2)).toBe(DMA_STATUS_DONE);
    expect(dma.checksumValue).toBe(fnv1a(Uint8Array.of(0xcc, 0xbb)));
    expect(dma.copy(end - 1, RAM, 2)).toBe(DMA_STATUS_FAULT | DMA_STATUS_FAULT_BUS);
    // the first byte is the last of its page and of RAM, and moves; the next page faults
    expect(dma.faultAddress).toBe(end);
    expect(dma.transferred).toBe(1);
  });

  it('flags an unknown command as an error without touching memory', () => {
    const { board, dma } = setup();
    program(board, RAM, RAM + 0x1000, 16, 0x7);
    expect(reg(board, DMA_REG_STATUS)).toBe(DMA_STATUS_ERROR);
    expect(reg(board, DMA_REG_IRQ_STATUS)).toBe(DMA_IRQ_ERROR);
    expect(board.mem.framesTouched()).toBe(0);
    expect(dma.faults).toBe(0);
  });

  it('reads back its programmed registers and ignores writes to read-only ones', () => {
    const { board } = setup();
    program(board, 0x1_2345_6789, 0x2_0000_0004, 0, DMA_CMD_COPY, 0xabcd);
    expect(reg(board, DMA_REG_SRC_LO)).toBe(0x2345_6789);
    expect(reg(board, DMA_REG_SRC_HI)).toBe(1);
    expect(reg(board, DMA_REG_DST_HI)).toBe(2);
    expect(reg(board, DMA_REG_PATTERN)).toBe(0xabcd);
    expect(reg(board, DMA_REG_STATUS)).toBe(DMA_STATUS_DONE); // zero-length: done at once
    board.bus.write32(MMIO + DMA_REG_STATUS, 0xffff_ffff);
    expect(reg(board, DMA_REG_STATUS)).toBe(DMA_STATUS_DONE);
    expect(reg(board, DMA_REG_CMD)).toBe(0);
  });
});

describe('DmaMaster translation hook', () => {
  /** A toy IOMMU: a page map per stream, iova page -> pa page. */
  function pageMap(board: Board, dma: DmaMaster, map: Map<number, number>, log: [number, number, boolean][]): void {
    dma.setTranslator((sid, iova, write, out: DmaTranslation) => {
      log.push([sid, iova, write]);
      const pa = map.get(Math.floor(iova / 4096));
      if (pa === undefined) return false;
      out.pa = pa * 4096 + (iova % 4096);
      return true;
    });
    void board;
  }

  it('follows scattered pages and passes its stream ID', () => {
    const { board, dma } = setup();
    const map = new Map<number, number>([
      [0x100, (RAM >> 12) + 0x50],
      [0x101, (RAM >> 12) + 0x20],
      [0x102, (RAM >> 12) + 0x90],
      [0x200, (RAM >> 12) + 0x300],
      [0x201, (RAM >> 12) + 0x301],
      [0x202, (RAM >> 12) + 0x100],
    ]);
    const log: [number, number, boolean][] = [];
    pageMap(board, dma, map, log);
    expect(dma.translated).toBe(true);
    const data = randomBytes(3 * 4096, 11);
    for (let p = 0; p < 3; p++) board.mem.writeBytes(map.get(0x100 + p)! * 4096, data.subarray(p * 4096, (p + 1) * 4096));
    expect(dma.copy(0x100 * 4096, 0x200 * 4096, data.length)).toBe(DMA_STATUS_DONE);
    for (let p = 0; p < 3; p++) expect(board.mem.readBytes(map.get(0x200 + p)! * 4096, 4096)).toEqual(data.subarray(p * 4096, (p + 1) * 4096));
    expect(log.every(([sid]) => sid === 7)).toBe(true);
    expect(log.filter(([, , w]) => !w).map(([, a]) => a)).toEqual([0x100000, 0x101000, 0x102000]);
    expect(log.filter(([, , w]) => w).map(([, a]) => a)).toEqual([0x200000, 0x201000, 0x202000]);
  });

  it('reports a translation fault with the IOVA and direction, and goes physical again without a hook', () => {
    const { board, dma } = setup();
    const map = new Map<number, number>([[0x10, RAM >> 12]]);
    pageMap(board, dma, map, []);
    const status = dma.copy(0x10 * 4096, 0x99 * 4096 + 8, 64);
    expect(status).toBe(DMA_STATUS_FAULT | DMA_STATUS_FAULT_WRITE);
    expect(status & DMA_STATUS_FAULT_BUS).toBe(0);
    expect(dma.faultAddress).toBe(0x99 * 4096 + 8);
    expect(dma.lastFaultPa).toBeUndefined();
    expect(dma.irqPending).toBe(DMA_IRQ_FAULT);
    expect(dma.fill(0x11 * 4096, 4, 1)).toBe(DMA_STATUS_FAULT | DMA_STATUS_FAULT_WRITE);
    expect(dma.checksum(0x12 * 4096, 4)).toBe(DMA_STATUS_FAULT);

    // a translation to a PA outside RAM is a bus error carrying the PA
    map.set(0x20, 0x1234);
    expect(dma.copy(0x20 * 4096, 0x10 * 4096, 4)).toBe(DMA_STATUS_FAULT | DMA_STATUS_FAULT_BUS);
    expect(dma.lastFaultPa).toBe(0x1234 * 4096);
    expect(dma.faults).toBe(4);

    dma.setTranslator(undefined);
    expect(dma.translated).toBe(false);
    expect(dma.fill(RAM + 0x5000, 8, 0xdead_beef)).toBe(DMA_STATUS_DONE);
    expect(board.mem.read32(RAM + 0x5004)).toBe(0xdead_beef);
  });

  it('prefers the halves form of the hook, which sees the same addresses split in 32-bit halves', () => {
    const { board, dma } = setup();
    const seen: [number, number, number, boolean][] = [];
    let wholeCalls = 0;
    const base = 0x3_8000_0000; // bus addresses above 2^32, low halves above 2^31
    dma.setTranslator(
      () => {
        wholeCalls++;
        return false;
      },
      (sid, hi, lo, write, out: DmaTranslation) => {
        seen.push([sid, hi, lo >>> 0, write]);
        const iova = hi * 2 ** 32 + (lo >>> 0);
        if (iova < base || iova >= base + 0x2000) return false;
        out.pa = RAM + 0x4_0000 + (iova - base);
        return true;
      },
    );
    board.mem.write32(RAM + 0x4_0000 + 0xffc, 0x5eed_f00d);
    expect(dma.copy(base + 0xffc, base + 0x1000, 4)).toBe(DMA_STATUS_DONE);
    expect(board.mem.read32(RAM + 0x4_1000)).toBe(0x5eed_f00d);
    expect(seen).toEqual([
      [7, 3, 0x8000_0ffc, false],
      [7, 3, 0x8000_1000, true],
    ]);
    expect(wholeCalls).toBe(0);
    // A fault through the halves form reports the whole address.
    expect(dma.copy(base + 0x2000, base, 4)).toBe(DMA_STATUS_FAULT);
    expect(dma.faultAddress).toBe(base + 0x2000);
    // Removing the hook drops both forms.
    dma.setTranslator(undefined, () => true);
    expect(dma.translated).toBe(false);
    expect(dma.fill(RAM + 0x5000, 4, 1)).toBe(DMA_STATUS_DONE);
  });

  it('rejects programmatic arguments that are not bus addresses', () => {
    const { dma } = setup();
    expect(() => dma.copy(-1, RAM, 4)).toThrow(RangeError);
    expect(() => dma.copy(RAM, 2 ** 53, 4)).toThrow(RangeError);
    expect(() => dma.fill(RAM, 2 ** 32, 0)).toThrow(RangeError);
    expect(() => new DmaMaster(setup().board.mem, { streamId: -1 })).toThrow(RangeError);
  });
});
