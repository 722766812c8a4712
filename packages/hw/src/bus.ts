import { BusError, PhysMem } from './mem.js';

/** A device model's register interface. Offsets are relative to the region's base. */
export interface MmioDevice {
  readonly name: string;
  read32(offset: number): number;
  write32(offset: number, value: number): void;
  /** Optional native 64-bit access; otherwise the bus splits it into two 32-bit accesses (low first). */
  read64?(offset: number): bigint;
  write64?(offset: number, value: bigint): void;
  /**
   * Optional native 64-bit access with the value as two 32-bit halves, for hot paths that
   * must not allocate (a 64-bit TLB invalidation register written per page). Without it the
   * bus uses write64 (or the two 32-bit writes).
   */
  write64parts?(offset: number, lo: number, hi: number): void;
  /** Reads a 64-bit register into `out` (lo, hi) without allocating; see write64parts. */
  read64parts?(offset: number, out: { lo: number; hi: number }): void;
}

export interface MmioRegion {
  readonly base: number;
  readonly size: number;
  readonly device: MmioDevice;
}

function hex(n: number): string {
  return '0x' + n.toString(16);
}

function routeError(pa: number, len: number, write: boolean): BusError {
  return new BusError(pa, len, write, pa % len ? `misaligned ${len * 8}-bit MMIO access` : 'no device decodes this address');
}

/** The MMIO bus: routes register accesses to the device whose region decodes the address. */
export class MmioBus {
  private readonly regions: MmioRegion[] = [];

  constructor(private readonly mem?: PhysMem) {}

  map(base: number, size: number, device: MmioDevice): MmioRegion {
    if (!Number.isSafeInteger(base) || !Number.isSafeInteger(size) || base < 0 || size <= 0)
      throw new RangeError(`bad MMIO region for ${device.name}: base=${base} size=${size}`);
    for (const r of this.regions)
      if (base < r.base + r.size && r.base < base + size)
        throw new RangeError(`MMIO region ${hex(base)}+${hex(size)} (${device.name}) overlaps ${r.device.name} at ${hex(r.base)}`);
    if (this.mem && this.mem.regions.some((r) => base < r.base + r.size && r.base < base + size))
      throw new RangeError(`MMIO region ${hex(base)}+${hex(size)} (${device.name}) overlaps RAM`);
    const region = { base, size, device };
    this.regions.push(region);
    this.regions.sort((a, b) => a.base - b.base);
    return region;
  }

  unmap(device: MmioDevice): void {
    for (let i = this.regions.length - 1; i >= 0; i--) if (this.regions[i]!.device === device) this.regions.splice(i, 1);
  }

  /** The region decoding [pa, pa+len), or undefined. */
  find(pa: number, len = 4): MmioRegion | undefined {
    // An indexed loop, not for-of: this is on every register access, and for-of's iterator
    // protocol is most of the bytecode V8 counts against a caller's inlining budget.
    const rs = this.regions;
    for (let i = 0; i < rs.length; i++) {
      const r = rs[i]!;
      if (pa >= r.base && pa + len <= r.base + r.size) return r;
    }
    return undefined;
  }

  list(): readonly MmioRegion[] {
    return this.regions;
  }

  /**
   * The region an access goes to. Kept small (the errors are built out of line): V8 inlines
   * this, find and the device's read32 into read32, and a caller's loop then inlines read32
   * only while the bytecode read32's optimized code already inlined fits the caller's budget
   * (BENCHMARKS.md, "mmioread"): past it each access is an out-of-line call, ~1.5x slower.
   */
  private route(pa: number, len: number, write: boolean): MmioRegion {
    const r = pa % len ? undefined : this.find(pa, len);
    if (r === undefined) throw routeError(pa, len, write);
    return r;
  }

  read32(pa: number): number {
    const r = this.route(pa, 4, false);
    return r.device.read32(pa - r.base) >>> 0;
  }

  write32(pa: number, value: number): void {
    const r = this.route(pa, 4, true);
    r.device.write32(pa - r.base, value >>> 0);
  }

  read64(pa: number): bigint {
    const r = this.route(pa, 8, false);
    const off = pa - r.base;
    if (r.device.read64) return BigInt.asUintN(64, r.device.read64(off));
    const lo = r.device.read32(off) >>> 0;
    const hi = r.device.read32(off + 4) >>> 0;
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  /**
   * A 64-bit write given as halves: the device's write64parts when it has one, else its
   * write64 (one BigInt), else two 32-bit writes, low first, as `write64` splits them.
   */
  write64parts(pa: number, lo: number, hi: number): void {
    const r = this.route(pa, 8, true);
    const off = pa - r.base;
    const d = r.device;
    if (d.write64parts) return d.write64parts(off, lo >>> 0, hi >>> 0);
    if (d.write64) return d.write64(off, (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0));
    d.write32(off, lo >>> 0);
    d.write32(off + 4, hi >>> 0);
  }

  /** A 64-bit read into `out` as halves (read64parts, else read64, else two 32-bit reads, low first). */
  read64parts(pa: number, out: { lo: number; hi: number }): void {
    const r = this.route(pa, 8, false);
    const off = pa - r.base;
    const d = r.device;
    if (d.read64parts) {
      d.read64parts(off, out);
      out.lo >>>= 0;
      out.hi >>>= 0;
      return;
    }
    if (d.read64) {
      const v = BigInt.asUintN(64, d.read64(off));
      out.lo = Number(v & 0xffffffffn);
      out.hi = Number(v >> 32n);
      return;
    }
    out.lo = d.read32(off) >>> 0;
    out.hi = d.read32(off + 4) >>> 0;
  }

  write64(pa: number, value: bigint): void {
    const r = this.route(pa, 8, true);
    const off = pa - r.base;
    const v = BigInt.asUintN(64, value);
    if (r.device.write64) return r.device.write64(off, v);
    r.device.write32(off, Number(v & 0xffffffffn));
    r.device.write32(off + 4, Number(v >> 32n));
  }
}
