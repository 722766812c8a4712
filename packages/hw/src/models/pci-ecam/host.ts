/**
 * A PCI host bridge with an ECAM configuration window (PCI Express Base specification,
 * "Enhanced Configuration Access Mechanism"): the window starts at the first bus of the
 * bridge's bus range and gives each function 4 KiB of configuration space at
 * (bus - first bus) << 20 | device << 15 | function << 12. A read of a function that does
 * not exist returns all ones (the vendor ID 0xffff software looks for); writes to it are
 * dropped. Only dword accesses reach the model (the board's MMIO bus is 32/64-bit): software
 * reads a byte or a half-word out of the dword, as ECAM hosts limited to 32-bit accesses do.
 *
 * The endpoint functions are flat on the root bus range (no bridges): see factory.ts for where
 * they come from.
 */
import type { MmioDevice } from '../../bus.js';
import { PciFunction, pciBdf } from './function.js';

/** ECAM: 4 KiB per function, 8 functions per device, 32 devices per bus. */
export const ECAM_BUS_SHIFT = 20;
export const ECAM_DEVFN_SHIFT = 12;

export interface PciEcamHostOptions {
  readonly name: string;
  /** The host bridge's device-tree path (its `iommu-map` is read from there). */
  readonly path?: string;
  /** First and last bus number of the bridge (its `bus-range`). */
  readonly busStart: number;
  readonly busEnd: number;
  /** Bytes of ECAM window mapped (whole buses). */
  readonly windowSize: number;
}

export class PciEcamHost implements MmioDevice {
  readonly name: string;
  readonly path: string;
  readonly busStart: number;
  readonly busEnd: number;
  readonly windowSize: number;
  private readonly byRid = new Map<number, PciFunction>();
  /** Config-space accesses served (reads, writes), for tests and reports. */
  configReads = 0;
  configWrites = 0;

  constructor(opts: PciEcamHostOptions) {
    if (!(opts.busStart >= 0 && opts.busEnd <= 0xff && opts.busStart <= opts.busEnd)) throw new RangeError(`${opts.name}: bad bus range ${opts.busStart}-${opts.busEnd}`);
    if (opts.windowSize < 1 << ECAM_BUS_SHIFT || opts.windowSize % (1 << ECAM_BUS_SHIFT) !== 0)
      throw new RangeError(`${opts.name}: ECAM window of ${opts.windowSize} bytes is not a whole number of 1 MiB buses`);
    this.name = opts.name;
    this.path = opts.path ?? opts.name;
    this.busStart = opts.busStart;
    this.busEnd = opts.busEnd;
    this.windowSize = opts.windowSize;
  }

  /** Adds a function; throws RangeError for a requester ID outside the bus range or the window, or taken twice. */
  addFunction(fn: PciFunction): void {
    const bus = fn.rid >>> 8;
    if (bus < this.busStart || bus > this.busEnd) throw new RangeError(`${this.name}: function ${pciBdf(fn.rid)} is outside the bus range ${this.busStart}-${this.busEnd}`);
    if ((bus - this.busStart) << ECAM_BUS_SHIFT >= this.windowSize) throw new RangeError(`${this.name}: function ${pciBdf(fn.rid)} is beyond the ECAM window`);
    if (this.byRid.has(fn.rid)) throw new RangeError(`${this.name}: two functions at ${pciBdf(fn.rid)}`);
    this.byRid.set(fn.rid, fn);
    // PCI: function 0 of a device with more functions reports the multi-function bit
    const f0 = this.byRid.get(fn.rid & ~7);
    if (f0) f0.multiFunction = [...this.byRid.keys()].some((r) => r !== f0.rid && (r & ~7) === f0.rid);
  }

  /** The function at requester ID `rid`, if any. */
  functionAt(rid: number): PciFunction | undefined {
    return this.byRid.get(rid);
  }

  /** Functions in requester-ID order. */
  functions(): PciFunction[] {
    return [...this.byRid.values()].sort((a, b) => a.rid - b.rid);
  }

  private decode(offset: number): PciFunction | undefined {
    const rid = ((offset >>> ECAM_DEVFN_SHIFT) & 0xff) | (((offset >>> ECAM_BUS_SHIFT) + this.busStart) << 8);
    return this.byRid.get(rid);
  }

  read32(offset: number): number {
    this.configReads++;
    const fn = this.decode(offset);
    return fn ? fn.read(offset & 0xffc) : 0xffffffff;
  }

  write32(offset: number, value: number): void {
    this.configWrites++;
    this.decode(offset)?.write(offset & 0xffc, value >>> 0);
  }

  /** Resets every function (a hot reset of the hierarchy). */
  reset(): void {
    for (const f of this.byRid.values()) f.reset();
  }
}
