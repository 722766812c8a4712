import type { MmioBus } from '@gki/hw';
import { EFAULT, EINVAL, ENXIO, EPROBE_DEFER, KernelError } from '../errno.js';
import type { OfNode } from '../of/node.js';
import type { DriverCore } from './core.js';
import type { BusType, DeviceState, Driver, Resource } from './types.js';

function hex(n: number): string {
  return '0x' + n.toString(16);
}

/**
 * A mapped register window (what ioremap returns): accesses at byte offsets inside it go
 * through the board's MMIO bus to whatever device model decodes them. It stops working
 * (KernelError -EFAULT) once unmapped, which happens automatically when the device that
 * mapped it is unbound.
 */
export class IoMem {
  private live = true;

  constructor(
    private readonly bus: MmioBus,
    /** CPU physical base of the window. */
    readonly start: number,
    readonly size: number,
    readonly name: string,
  ) {}

  get mapped(): boolean {
    return this.live;
  }

  private pa(off: number, width: number): number {
    if (!this.live) throw new KernelError(-EFAULT, `${this.name}: access at +${hex(off)} after iounmap`);
    if (!Number.isInteger(off) || off < 0 || off + width > this.size)
      throw new KernelError(-EFAULT, `${this.name}: ${width * 8}-bit access at +${hex(off)} outside the ${hex(this.size)}-byte window`);
    return this.start + off;
  }

  read32(off: number): number {
    return this.bus.read32(this.pa(off, 4));
  }

  write32(off: number, value: number): void {
    this.bus.write32(this.pa(off, 4), value);
  }

  read64(off: number): bigint {
    return this.bus.read64(this.pa(off, 8));
  }

  write64(off: number, value: bigint): void {
    this.bus.write64(this.pa(off, 8), value);
  }

  /** A 64-bit write given as 32-bit halves (no BigInt: for per-page register writes). */
  write64parts(off: number, lo: number, hi: number): void {
    this.bus.write64parts(this.pa(off, 8), lo, hi);
  }

  /** A 64-bit read into `out` as 32-bit halves (no BigInt). */
  read64parts(off: number, out: { lo: number; hi: number }): void {
    this.bus.read64parts(this.pa(off, 8), out);
  }

  /** @internal iounmap: the driver core calls this when the mapping's owner goes away. */
  unmap(): void {
    this.live = false;
  }
}

/** A managed resource, released in reverse order when the device's driver goes away. */
interface Devres {
  readonly name: string;
  readonly release: () => void;
}

/**
 * The driver core's private bookkeeping for a device (the kernel's `device->p`).
 * Only the driver core changes it; drivers read the public getters on Device.
 */
export interface DevicePrivate {
  driver: Driver | null;
  state: DeviceState;
  deferReason: string | null;
  /** Some driver matched this device at least once (the kernel's `can_match`). */
  canMatch: boolean;
  matchData: unknown;
  driverData: unknown;
  devres: Devres[];
  registered: boolean;
  /** Deferrals since the device last bound. */
  deferrals: number;
  /** The last probe that failed or rejected the device (not a deferral), until a probe binds it. */
  probeError: { readonly driver: string; readonly err: number } | null;
}

/** Options for creating a device by hand (not from the device tree). */
export interface DeviceOptions {
  readonly name: string;
  readonly parent?: Device | null;
  readonly ofNode?: OfNode | null;
  readonly resources?: readonly Resource[];
}

/**
 * A device on a bus (a platform device here): its name, DT node, parent, resources and,
 * while bound, its driver and driver data. This is all a driver's probe sees of the
 * hardware: registers through `ioremap`, interrupts through `irq` + `requestIrq`.
 */
export class Device {
  readonly name: string;
  readonly ofNode: OfNode | null;
  readonly parent: Device | null;
  readonly resources: readonly Resource[];
  /** @internal */
  readonly p: DevicePrivate = {
    driver: null,
    state: 'unbound',
    deferReason: null,
    canMatch: false,
    matchData: undefined,
    driverData: undefined,
    devres: [],
    registered: false,
    deferrals: 0,
    probeError: null,
  };

  constructor(
    /** @internal */
    readonly core: DriverCore,
    readonly bus: BusType,
    opts: DeviceOptions,
  ) {
    this.name = opts.name;
    this.ofNode = opts.ofNode ?? null;
    this.parent = opts.parent ?? null;
    this.resources = [...(opts.resources ?? [])];
  }

  get driver(): Driver | null {
    return this.p.driver;
  }

  get state(): DeviceState {
    return this.p.state;
  }

  /** The reason recorded by the last deferral (dev_err_probe or the driver core), if any. */
  get deferReason(): string | null {
    return this.p.deferReason;
  }

  /** The driver and -errno of the last probe that failed or rejected the device, null once one binds it. */
  get probeError(): { readonly driver: string; readonly err: number } | null {
    return this.p.probeError;
  }

  /** The matched OF table entry's `data` (of_device_get_match_data). */
  get matchData(): unknown {
    return this.p.matchData;
  }

  /** dev_get_drvdata. */
  getDrvdata<T>(): T {
    return this.p.driverData as T;
  }

  /** dev_set_drvdata: cleared automatically when the driver unbinds. */
  setDrvdata(data: unknown): void {
    this.p.driverData = data;
  }

  /** The driver name when bound (or probing), otherwise the bus name: the log-line prefix. */
  get driverString(): string {
    return this.p.driver?.name ?? this.bus.name;
  }

  /** platform_get_resource: the `index`th resource of `kind`. */
  resource(kind: Resource['kind'], index: number): Resource | undefined {
    let i = 0;
    for (const r of this.resources) if (r.kind === kind && i++ === index) return r;
    return undefined;
  }

  /** platform_get_resource_byname. */
  resourceByName(kind: Resource['kind'], name: string): Resource | undefined {
    return this.resources.find((r) => r.kind === kind && r.name === name);
  }

  /**
   * devm_platform_ioremap_resource: claims memory resource `index` and maps it.
   * -EINVAL when there is no such resource, -EBUSY when another device claimed an
   * overlapping range. Released (and the IoMem unmapped) when the driver unbinds.
   */
  ioremap(index: number): IoMem | number {
    const r = this.resource('mem', index);
    if (!r) {
      this.err(`invalid resource (mem ${index})`);
      return -EINVAL;
    }
    return this.core.ioremapResource(this, r);
  }

  /** devm_platform_ioremap_resource_byname (names from `reg-names`). */
  ioremapByName(name: string): IoMem | number {
    const r = this.resourceByName('mem', name);
    if (!r) {
      this.err(`invalid resource (mem "${name}")`);
      return -EINVAL;
    }
    return this.core.ioremapResource(this, r);
  }

  /**
   * platform_get_irq: the interrupt line number for interrupt `index`. -EPROBE_DEFER when the
   * interrupt controller is not ready yet, otherwise -ENXIO (logged) when there is none.
   */
  irq(index: number): number {
    const n = this.irqOptional(index);
    // dev_err_probe, as platform_get_irq: "error -ENXIO: IRQ index 0 not found"
    if (n < 0 && n !== -EPROBE_DEFER) this.errProbe(n, `IRQ index ${index} not found`);
    return n;
  }

  /** platform_get_irq_optional: like `irq` without the error message. */
  irqOptional(index: number): number {
    if (!Number.isInteger(index) || index < 0) return -EINVAL;
    if (this.ofNode) {
      const n = this.core.kernel.of.irqGet(this.ofNode, index);
      if (n === -EPROBE_DEFER || n >= 0) return n;
    }
    const r = this.resource('irq', index);
    return r ? r.start : -ENXIO;
  }

  /** platform_get_irq_byname (names from `interrupt-names`). */
  irqByName(name: string): number {
    const names = this.ofNode ? this.core.kernel.of.stringList(this.ofNode, 'interrupt-names') : [];
    const i = names.indexOf(name);
    if (i >= 0) return this.irq(i);
    const r = this.resourceByName('irq', name);
    if (r) return r.start;
    return this.errProbe(-ENXIO, `IRQ ${name} not found`);
  }

  /** platform_irq_count: how many interrupts this device describes. */
  irqCount(): number {
    let n = 0;
    for (;;) {
      const r = n < 1024 ? this.irqOptional(n) : -ENXIO;
      if (r === -ENXIO || r === -EINVAL) return n;
      n++;
    }
  }

  /**
   * dev_err_probe: returns `err` unchanged. For -EPROBE_DEFER it records `msg` as the
   * deferral reason (shown by the timeout's "deferred probe pending" line) and logs it at
   * debug level; for any other error it logs "error -EXXX: msg".
   */
  errProbe(err: number, msg: string): number {
    return this.core.devErrProbe(this, err, msg);
  }

  /** devm_add_action: `release` runs when the driver unbinds or its probe fails. */
  devmAdd(name: string, release: () => void): void {
    this.p.devres.push({ name, release });
  }

  info(msg: string): void {
    this.core.kernel.log.info(`${this.driverString} ${this.name}`, msg);
  }
  warn(msg: string): void {
    this.core.kernel.log.warn(`${this.driverString} ${this.name}`, msg);
  }
  err(msg: string): void {
    this.core.kernel.log.err(`${this.driverString} ${this.name}`, msg);
  }
  dbg(msg: string): void {
    this.core.kernel.log.debug(`${this.driverString} ${this.name}`, msg);
  }

  toString(): string {
    return this.name;
  }
}
