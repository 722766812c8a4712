import { EBUSY, EEXIST, EINVAL, ENODEV, ENXIO, EPERM, EPROBE_DEFER, ETIMEDOUT, errnoName } from '../errno.js';
import { KERNEL_COSTS } from '../costs.js';
import type { Kernel } from '../kernel.js';
import type { OfNode } from '../of/node.js';
import { ofDeviceIsAvailable, ofDeviceIsCompatible, ofMatchNode } from '../of/property.js';
import { ofSupplierRefs } from '../of/supplier.js';
import { Device, IoMem, type DeviceOptions } from './device.js';
import type { BusType, DeviceInfo, DeviceLinkFlags, DeviceLinkStatus, DeviceState, Driver, IrqHandlerFn, Resource } from './types.js';

function hex(n: number): string {
  return '0x' + n.toString(16);
}

/**
 * The platform bus: a driver matches a device when one of its OF table compatibles is in the
 * device node's `compatible` list (the score prefers entries earlier in that list), or, for
 * devices without a node, when the driver's name equals the device's name.
 */
export const platformBus: BusType = {
  name: 'platform',
  match(dev: Device, drv: Driver): number {
    if (dev.ofNode && drv.ofMatchTable) {
      const m = ofMatchNode(drv.ofMatchTable, dev.ofNode);
      if (m) return ofDeviceIsCompatible(dev.ofNode, m.compatible);
    }
    return drv.name === dev.name ? 1 : 0;
  },
};

/**
 * A dependency between two devices: the consumer may probe only while the supplier is bound,
 * and is unbound before the supplier is. Inferred links come from DT phandles (fw_devlink).
 */
export class DeviceLink {
  /** No longer blocks probing or forces unbinding (a dependency cycle, or relaxed after the timeout). */
  relaxed = false;

  constructor(
    readonly consumer: Device,
    readonly supplier: Device,
    readonly stateless: boolean,
    /** The DT property it was inferred from ("iommus"), or null for an explicit link. */
    readonly inferredFrom: string | null,
  ) {}

  /** Does this link gate the consumer's probe and unbind? */
  get managed(): boolean {
    return !this.stateless && !this.relaxed;
  }

  get status(): DeviceLinkStatus {
    const s = this.supplier.state;
    if (s === 'removing') return 'supplier-unbind';
    if (s !== 'bound') return 'dormant';
    const c = this.consumer.state;
    if (c === 'bound' || c === 'removing') return 'active';
    if (c === 'probing') return 'consumer-probe';
    return 'available';
  }
}

/** A DT dependency whose supplier has no device yet (a fwnode link). */
interface FwnodeLink {
  readonly consumer: OfNode;
  readonly supplier: OfNode;
  readonly prop: string;
}

interface IrqAction {
  readonly dev: Device;
  readonly shared: boolean;
  readonly off: () => void;
  /** The dev_id cookie it was requested with (free_irq's second argument). */
  readonly devId: unknown;
  /** Its devres entry, removed again by free_irq. */
  devres: { readonly name: string; readonly release: () => void } | null;
}

interface IomemClaim {
  readonly start: number;
  readonly end: number;
  readonly dev: Device;
}

export interface RequestIrqOptions {
  /** IRQF_SHARED: other shared handlers may use the line too. */
  readonly shared?: boolean;
  /**
   * The dev_id cookie: tells apart several handlers one device put on a shared line, so
   * free_irq can remove the right one. Default: none.
   */
  readonly devId?: unknown;
}

/** Everything the driver core tracks, as plain data (for "state unchanged" assertions). */
export interface DriverCoreSnapshot {
  readonly devices: readonly {
    name: string;
    node: string | null;
    parent: string | null;
    driver: string | null;
    state: DeviceState;
    deferReason: string | null;
    resources: Resource[];
  }[];
  readonly drivers: readonly { name: string; bus: string; devices: string[] }[];
  readonly deferred: readonly string[];
  readonly links: readonly { consumer: string; supplier: string; status: DeviceLinkStatus; managed: boolean; from: string | null }[];
  readonly fwnodeLinks: readonly { consumer: string; supplier: string; prop: string }[];
  readonly iomem: readonly { start: number; end: number; owner: string }[];
  readonly irqs: readonly { irq: number; owners: string[] }[];
  readonly deferredProbe: { enabled: boolean; initcallsDone: boolean; timedOut: boolean };
}

/**
 * Hooks a subsystem installs around device probing and removal (the IOMMU core's
 * dma_configure and its BUS_NOTIFY_REMOVED_DEVICE handling).
 */
export interface DeviceLifecycleHooks {
  /** Runs before each probe with the driver set (bus dma_configure): 0, or -errno to fail (-EPROBE_DEFER: defer). */
  beforeProbe?(dev: Device): number;
  /** Runs after a device was unregistered. */
  removed?(dev: Device): void;
}

/** Cap on deferred-probe retry passes in one trigger (each pass follows at least one bind). */
const MAX_TRIGGER_PASSES = 10_000;

/**
 * The driver core: buses, devices, drivers, matching and probing, deferred probe, device
 * links (explicit and inferred from DT by fw_devlink), and the managed (devres) resources
 * drivers take while bound: MMIO mappings and interrupt handlers.
 */
export class DriverCore {
  readonly platformBus = platformBus;
  /**
   * deferred_probe_timeout, in seconds. 0 (the default) expires it at the end of
   * `deferredProbeInitcall()`; a positive value arms a deadline on the board's clock that
   * `pollDeferredProbeTimeout()` checks, pushed back each time a driver registers.
   */
  deferredProbeTimeoutSecs = 0;

  private readonly devices: Device[] = [];
  private readonly byName = new Map<string, Device>();
  private readonly byNode = new Map<OfNode, Device>();
  private readonly drivers: { drv: Driver; bus: BusType; bound: Device[] }[] = [];
  private readonly deferred: Device[] = [];
  /** The devices the running trigger has still to retry (deferred_probe_active_list). */
  private readonly active: Device[] = [];
  private readonly links: DeviceLink[] = [];
  private readonly fwLinks: FwnodeLink[] = [];
  private readonly parsedNodes = new Set<OfNode>();
  private readonly iomem: IomemClaim[] = [];
  private readonly irqActions = new Map<number, IrqAction[]>();
  private readonly hooks: DeviceLifecycleHooks[] = [];

  private probeEnabled = false;
  private initcallsDone = false;
  private timedOut = false;
  private timeoutDeadline: number | null = null;
  private triggerCount = 0;
  private inTrigger = false;
  private rerun = false;

  constructor(readonly kernel: Kernel) {}

  /** Installs subsystem hooks (see DeviceLifecycleHooks), run in installation order. */
  addLifecycleHooks(h: DeviceLifecycleHooks): void {
    this.hooks.push(h);
  }

  // ---------------------------------------------------------------- drivers

  /**
   * driver_register: adds `drv` to `bus` and probes every unbound device it matches.
   * -EINVAL for a nameless driver or one without probe, -EBUSY when a driver of that name is
   * already registered on the bus (nothing changes then).
   */
  registerDriver(drv: Driver, bus: BusType = platformBus): number {
    if (!drv || typeof drv.name !== 'string' || drv.name === '' || typeof drv.probe !== 'function') return -EINVAL;
    if (this.drivers.some((d) => d.bus === bus && (d.drv === drv || d.drv.name === drv.name))) {
      this.kernel.log.err('driver core', `Error: Driver '${drv.name}' is already registered, aborting...`);
      return -EBUSY;
    }
    this.pollDeferredProbeTimeout();
    this.drivers.push({ drv, bus, bound: [] });
    if (this.timeoutDeadline !== null) this.timeoutDeadline = this.now() + this.deferredProbeTimeoutSecs * 1e9;
    this.driverAttach(drv, bus);
    return 0;
  }

  /**
   * driver_unregister: unbinds every device bound to `drv` (newest first; each one's
   * consumers before it), then removes the driver. -ENODEV when it is not registered.
   */
  unregisterDriver(drv: Driver): number {
    const i = this.drivers.findIndex((d) => d.drv === drv);
    if (i < 0) {
      this.kernel.log.warn('driver core', `Unexpected driver unregister of '${drv?.name}'`);
      return -ENODEV;
    }
    const entry = this.drivers[i]!;
    for (const dev of [...entry.bound].reverse()) this.releaseDriver(dev);
    this.drivers.splice(this.drivers.indexOf(entry), 1);
    return 0;
  }

  findDriver(name: string, bus: BusType = platformBus): Driver | undefined {
    return this.drivers.find((d) => d.bus === bus && d.drv.name === name)?.drv;
  }

  // ---------------------------------------------------------------- devices

  /** device_initialize: a device not yet on any list (register it with `registerDevice`). */
  createDevice(opts: DeviceOptions, bus: BusType = platformBus): Device {
    return new Device(this, bus, opts);
  }

  /**
   * device_add: makes the device visible, links it to its DT suppliers and probes it.
   * -EINVAL for a foreign or nameless device, -EEXIST when it (or its name) is already
   * registered, -ENODEV when its parent is not registered.
   */
  registerDevice(dev: Device): number {
    if (!(dev instanceof Device) || dev.core !== this || !dev.name) return -EINVAL;
    if (dev.p.registered) return -EEXIST;
    if (this.byName.has(dev.name)) {
      this.kernel.log.err('driver core', `${dev.bus.name}: cannot add duplicate device name '${dev.name}'`);
      return -EEXIST;
    }
    if (dev.ofNode && this.byNode.has(dev.ofNode)) return -EEXIST;
    if (dev.parent && !dev.parent.p.registered) return -ENODEV;
    this.kernel.board.clock.advance(KERNEL_COSTS.deviceAddNs);
    dev.p.registered = true;
    this.devices.push(dev);
    this.byName.set(dev.name, dev);
    if (dev.ofNode) this.byNode.set(dev.ofNode, dev);
    this.fwDevlinkLink(dev);
    this.deviceAttach(dev);
    return 0;
  }

  /** create + register in one step (platform_device_register_full): the device or -errno. */
  addDevice(opts: DeviceOptions): Device | number {
    const dev = this.createDevice(opts);
    const r = this.registerDevice(dev);
    return r < 0 ? r : dev;
  }

  /**
   * device_unregister: removes the device's children (newest first), unbinds it (its
   * consumers first), drops its links and takes it off every list. -ENODEV when it is not
   * registered, -EBUSY while its probe or remove is running.
   */
  unregisterDevice(dev: Device): number {
    if (!(dev instanceof Device) || dev.core !== this || !dev.p.registered) return -ENODEV;
    if (dev.p.state === 'probing' || dev.p.state === 'removing') return -EBUSY;
    for (const child of this.devices.filter((d) => d.parent === dev).reverse()) this.unregisterDevice(child);
    this.releaseDriver(dev);
    for (let i = this.links.length - 1; i >= 0; i--) {
      const l = this.links[i]!;
      if (l.consumer === dev || l.supplier === dev) this.links.splice(i, 1);
    }
    if (dev.ofNode) {
      const node = dev.ofNode;
      for (let i = this.fwLinks.length - 1; i >= 0; i--) if (this.fwLinks[i]!.consumer === node) this.fwLinks.splice(i, 1);
      this.parsedNodes.delete(node);
      this.byNode.delete(node);
    }
    this.delDeferred(dev);
    this.devices.splice(this.devices.indexOf(dev), 1);
    this.byName.delete(dev.name);
    dev.p.registered = false;
    dev.p.state = 'unbound';
    dev.p.deferReason = null;
    dev.p.canMatch = false;
    dev.p.probeError = null;
    for (const h of this.hooks) h.removed?.(dev);
    return 0;
  }

  findDevice(name: string): Device | undefined {
    return this.byName.get(name);
  }

  /** The device created for a DT node, if any (of_find_device_by_node). */
  deviceForNode(node: OfNode): Device | undefined {
    return this.byNode.get(node);
  }

  /** Registered devices in registration order. */
  allDevices(): readonly Device[] {
    return this.devices;
  }

  listDevices(): DeviceInfo[] {
    return this.devices.map((d) => ({
      name: d.name,
      node: d.ofNode?.fullName ?? null,
      driver: d.p.driver?.name ?? null,
      state: d.p.state,
      deferReason: d.p.deferReason,
      probeError: d.p.probeError,
    }));
  }

  /**
   * Manual bind (sysfs `bind`): probes `dev` with the driver called `drvName`.
   * -ENODEV for an unknown device or driver or no match, -EBUSY when already bound, -EPERM
   * for drivers that suppress bind attributes; otherwise the probe's result.
   */
  bindDevice(dev: Device, drvName: string): number {
    if (!(dev instanceof Device) || dev.core !== this || !dev.p.registered) return -ENODEV;
    const entry = this.drivers.find((d) => d.bus === dev.bus && d.drv.name === drvName);
    if (!entry) return -ENODEV;
    if (entry.drv.suppressBindAttrs) return -EPERM;
    if (dev.p.driver || dev.p.state === 'probing' || dev.p.state === 'removing') return -EBUSY;
    if (dev.bus.match(dev, entry.drv) <= 0) return -ENODEV;
    const r = this.probeWith(entry.drv, dev);
    return r === 0 ? 0 : -Math.abs(r);
  }

  /**
   * Manual unbind (sysfs `unbind`): releases the driver (consumers first).
   * -ENODEV when not registered or not bound, -EPERM when the driver suppresses bind attributes.
   */
  unbindDevice(dev: Device): number {
    if (!(dev instanceof Device) || dev.core !== this || !dev.p.registered || !dev.p.driver) return -ENODEV;
    if (dev.p.driver.suppressBindAttrs) return -EPERM;
    if (dev.p.state !== 'bound') return -EBUSY;
    this.releaseDriver(dev);
    return 0;
  }

  // ---------------------------------------------------------------- links

  /**
   * device_link_add: `consumer` depends on `supplier`. Returns the (possibly existing) link,
   * or -EINVAL when either is unregistered, they are the same device, or the link would
   * close a dependency cycle (the supplier already depends on the consumer).
   */
  deviceLinkAdd(consumer: Device, supplier: Device, flags: DeviceLinkFlags = {}): DeviceLink | number {
    if (!(consumer instanceof Device) || !(supplier instanceof Device)) return -EINVAL;
    if (!consumer.p.registered || !supplier.p.registered || consumer === supplier) return -EINVAL;
    if (consumer.core !== this || supplier.core !== this) return -EINVAL;
    const existing = this.links.find((l) => l.consumer === consumer && l.supplier === supplier);
    if (existing) return existing;
    if (this.dependsOn(supplier, consumer)) return -EINVAL;
    const link = new DeviceLink(consumer, supplier, flags.stateless === true, null);
    this.links.push(link);
    return link;
  }

  /** device_link_del: 0, or -EINVAL when the link is not known. */
  deviceLinkDel(link: DeviceLink): number {
    const i = this.links.indexOf(link);
    if (i < 0) return -EINVAL;
    this.links.splice(i, 1);
    return 0;
  }

  /** The links in which `dev` is the consumer (`suppliers`) or the supplier (`consumers`). */
  linksOf(dev: Device): { suppliers: DeviceLink[]; consumers: DeviceLink[] } {
    return {
      suppliers: this.links.filter((l) => l.consumer === dev),
      consumers: this.links.filter((l) => l.supplier === dev),
    };
  }

  // ---------------------------------------------------------------- deferred probe

  /**
   * deferred_probe_initcall (late_initcall): enables deferred probing, retries every pending
   * device, marks initcalls done, then lets the timeout expire (timeout 0) or arms it.
   */
  deferredProbeInitcall(): void {
    this.probeEnabled = true;
    this.deferredProbeTrigger();
    this.initcallsDone = true;
    if (this.deferredProbeTimeoutSecs > 0) this.timeoutDeadline = this.now() + this.deferredProbeTimeoutSecs * 1e9;
    else this.deferredProbeTimeout();
  }

  /**
   * The deferred-probe timeout expiring: fw_devlink stops waiting for suppliers that no
   * driver ever matched, every pending device is retried (from now on
   * `deferredProbeCheckState` answers -ETIMEDOUT), and each device still pending is logged
   * with its reason. Runs once; later calls do nothing. Drivers registered afterwards still
   * bind normally, and pending devices are still retried on every bind.
   */
  deferredProbeTimeout(): void {
    if (this.timedOut) return;
    this.timedOut = true;
    this.timeoutDeadline = null;
    this.probeEnabled = true;
    this.initcallsDone = true;
    this.fwDevlinkDriversDone();
    this.deferredProbeTrigger();
    for (const dev of this.deferred)
      this.kernel.log.warn(`${dev.driverString} ${dev.name}`, `deferred probe pending: ${dev.p.deferReason ?? '(reason unknown)'}`);
  }

  /** Fires the armed timeout once the board clock has reached its deadline. */
  pollDeferredProbeTimeout(): void {
    if (this.timeoutDeadline !== null && this.now() >= this.timeoutDeadline) this.deferredProbeTimeout();
  }

  /**
   * driver_deferred_probe_check_state: for subsystems waiting on an optional supplier (an
   * IOMMU, a power domain). -EPROBE_DEFER until the timeout has expired, then -ETIMEDOUT
   * with "deferred probe timeout, ignoring dependency" logged for `dev`.
   */
  deferredProbeCheckState(dev: Device): number {
    if (this.initcallsDone && this.timedOut) {
      dev.warn('deferred probe timeout, ignoring dependency');
      return -ETIMEDOUT;
    }
    return -EPROBE_DEFER;
  }

  /** True once the deferred-probe timeout has expired (check-state answers -ETIMEDOUT). */
  get deferredProbeTimedOut(): boolean {
    return this.initcallsDone && this.timedOut;
  }

  /**
   * driver_deferred_probe_trigger: retries every pending device (once deferred probing is
   * enabled), repeating while binds keep happening.
   */
  deferredProbeTrigger(): void {
    if (!this.probeEnabled) return;
    this.triggerCount++;
    if (this.inTrigger) {
      this.rerun = true;
      return;
    }
    this.inTrigger = true;
    try {
      let passes = 0;
      do {
        this.rerun = false;
        // the active list: a device stays on it (and off the pending list) until its turn
        this.active.push(...this.deferred.splice(0));
        for (let dev = this.active.shift(); dev; dev = this.active.shift()) {
          if (!dev.p.registered || dev.p.driver || dev.p.state === 'probing' || dev.p.state === 'removing') continue;
          dev.p.state = 'unbound';
          this.deviceAttach(dev);
        }
      } while (this.rerun && ++passes < MAX_TRIGGER_PASSES);
      if (this.rerun) this.kernel.log.warn('driver core', 'deferred probe: giving up after too many retry passes');
    } finally {
      // a probe that threw leaves the rest of the active list: back onto the pending one
      this.deferred.push(...this.active.splice(0).filter((d) => !this.deferred.includes(d)));
      this.inTrigger = false;
      this.rerun = false;
    }
  }

  /** The pending list with reasons (debugfs devices_deferred). */
  devicesDeferred(): { name: string; reason: string | null }[] {
    return this.deferred.map((d) => ({ name: d.name, reason: d.p.deferReason }));
  }

  /** dev_err_probe (see Device.errProbe). */
  devErrProbe(dev: Device, err: number, msg: string): number {
    if (err === -EPROBE_DEFER) {
      dev.p.deferReason = `${dev.driverString}: ${msg}`;
      dev.dbg(msg);
    } else {
      dev.err(`error ${err < 0 ? '-' + errnoName(err) : String(err)}: ${msg}`);
    }
    return err;
  }

  // ---------------------------------------------------------------- managed resources

  /**
   * Claims `r` for `dev` and maps it (devm_ioremap_resource). -EINVAL unless `dev` is
   * probing or bound, -EBUSY when the range overlaps one another device claimed.
   */
  ioremapResource(dev: Device, r: Resource): IoMem | number {
    if (dev.core !== this || (dev.p.state !== 'probing' && dev.p.state !== 'bound') || r.kind !== 'mem') return -EINVAL;
    if (!(r.end >= r.start)) return -EINVAL;
    const clash = this.iomem.find((c) => r.start <= c.end && c.start <= r.end);
    if (clash) {
      dev.err(`can't request region for resource [mem ${hex(r.start)}-${hex(r.end)}]: busy (${clash.dev.name})`);
      return -EBUSY;
    }
    const claim: IomemClaim = { start: r.start, end: r.end, dev };
    this.iomem.push(claim);
    const io = new IoMem(this.kernel.board.bus, r.start, r.end - r.start + 1, `${dev.name} ${r.name}`);
    dev.devmAdd(`iomem ${hex(r.start)}`, () => {
      io.unmap();
      const i = this.iomem.indexOf(claim);
      if (i >= 0) this.iomem.splice(i, 1);
    });
    return io;
  }

  /**
   * devm_request_irq: runs `handler(irq, dev)` whenever interrupt line `irq` is raised, until
   * `freeIrq` or the driver unbinds. -EINVAL for a bad line, handler, or a device that is
   * not probing/bound; -EBUSY when the line is taken (and not shared by both).
   */
  requestIrq(dev: Device, irq: number, handler: IrqHandlerFn, opts: RequestIrqOptions = {}): number {
    if (!(dev instanceof Device) || dev.core !== this || (dev.p.state !== 'probing' && dev.p.state !== 'bound')) return -EINVAL;
    const ctrl = this.kernel.board.irq;
    if (!Number.isInteger(irq) || irq < 0 || irq >= ctrl.numLines || typeof handler !== 'function') return -EINVAL;
    const shared = opts.shared === true;
    const actions = this.irqActions.get(irq) ?? [];
    if (actions.length > 0 && (!shared || actions.some((a) => !a.shared))) return -EBUSY;
    const off = ctrl.onIrq(irq, (n) => handler(n, dev));
    const action: IrqAction = { dev, shared, off, devId: opts.devId, devres: null };
    actions.push(action);
    this.irqActions.set(irq, actions);
    dev.devmAdd(`irq ${irq}`, () => this.dropIrqAction(irq, action));
    action.devres = dev.p.devres[dev.p.devres.length - 1]!;
    return 0;
  }

  /**
   * free_irq: 0, or -EINVAL when `dev` did not request `irq` (with `devId`, when given: the
   * cookie tells apart several handlers of one device on a shared line).
   */
  freeIrq(dev: Device, irq: number, devId?: unknown): number {
    const action = this.irqActions.get(irq)?.find((a) => a.dev === dev && (devId === undefined || a.devId === devId));
    if (!action) return -EINVAL;
    this.dropIrqAction(irq, action);
    const i = action.devres ? dev.p.devres.indexOf(action.devres) : -1;
    if (i >= 0) dev.p.devres.splice(i, 1);
    return 0;
  }

  private dropIrqAction(irq: number, action: IrqAction): void {
    const list = this.irqActions.get(irq);
    const i = list ? list.indexOf(action) : -1;
    if (!list || i < 0) return;
    action.off();
    list.splice(i, 1);
    if (list.length === 0) this.irqActions.delete(irq);
  }

  // ---------------------------------------------------------------- snapshot

  snapshot(): DriverCoreSnapshot {
    return {
      devices: this.devices.map((d) => ({
        name: d.name,
        node: d.ofNode?.fullName ?? null,
        parent: d.parent?.name ?? null,
        driver: d.p.driver?.name ?? null,
        state: d.p.state,
        deferReason: d.p.deferReason,
        resources: d.resources.map((r) => ({ ...r })),
      })),
      drivers: this.drivers.map((d) => ({ name: d.drv.name, bus: d.bus.name, devices: d.bound.map((x) => x.name) })),
      deferred: this.deferred.map((d) => d.name),
      links: this.links.map((l) => ({
        consumer: l.consumer.name,
        supplier: l.supplier.name,
        status: l.status,
        managed: l.managed,
        from: l.inferredFrom,
      })),
      fwnodeLinks: this.fwLinks.map((f) => ({ consumer: f.consumer.fullName, supplier: f.supplier.fullName, prop: f.prop })),
      iomem: this.iomem.map((c) => ({ start: c.start, end: c.end, owner: c.dev.name })),
      irqs: [...this.irqActions].map(([irq, acts]) => ({ irq, owners: acts.map((a) => a.dev.name) })).sort((a, b) => a.irq - b.irq),
      deferredProbe: { enabled: this.probeEnabled, initcallsDone: this.initcallsDone, timedOut: this.timedOut },
    };
  }

  // ---------------------------------------------------------------- internals

  private now(): number {
    return this.kernel.board.clock.now();
  }

  private driverEntry(drv: Driver): { drv: Driver; bus: BusType; bound: Device[] } | undefined {
    return this.drivers.find((d) => d.drv === drv);
  }

  /** bus_probe_device / __device_attach: try the bus's drivers in registration order. */
  private deviceAttach(dev: Device): void {
    if (!dev.p.registered || dev.p.driver || dev.p.state === 'probing' || dev.p.state === 'removing') return;
    for (const entry of [...this.drivers]) {
      if (entry.bus !== dev.bus || !this.drivers.includes(entry)) continue;
      const m = dev.bus.match(dev, entry.drv);
      if (m === 0) continue;
      if (m < 0) {
        dev.p.canMatch = true;
        this.addDeferred(dev);
        return;
      }
      const r = this.probeWith(entry.drv, dev);
      // bound, or held back by its suppliers: stop; a failed probe lets the next driver try
      if (r <= 0 || dev.p.driver) return;
    }
  }

  /** driver_attach: offer every unbound device on the bus to a newly registered driver. */
  private driverAttach(drv: Driver, bus: BusType): void {
    for (const dev of [...this.devices]) {
      if (!this.driverEntry(drv)) return; // unregistered by a probe meanwhile
      if (dev.bus !== bus || !dev.p.registered || dev.p.driver) continue;
      if (dev.p.state === 'probing' || dev.p.state === 'removing') continue;
      const m = bus.match(dev, drv);
      if (m === 0) continue;
      if (m < 0) {
        dev.p.canMatch = true;
        this.addDeferred(dev);
        continue;
      }
      this.probeWith(drv, dev);
    }
  }

  /**
   * really_probe. Returns 0 when bound; -EPROBE_DEFER when the device's suppliers are not
   * ready (no other driver should try); a positive errno when the driver's probe failed,
   * deferred or rejected the device (the next matching driver may try).
   */
  private probeWith(drv: Driver, dev: Device): number {
    const entry = this.driverEntry(drv);
    if (!entry) return ENODEV;
    dev.p.canMatch = true;
    const blocked = this.supplierBlock(dev);
    if (blocked) {
      dev.p.deferReason = `${dev.bus.name}: ${blocked}`;
      this.kernel.log.debug(`${dev.bus.name} ${dev.name}`, `probe deferral - ${blocked}`);
      this.addDeferred(dev);
      return -EPROBE_DEFER;
    }
    const triggerBefore = this.triggerCount;
    this.kernel.board.clock.advance(KERNEL_COSTS.probeNs);
    dev.p.driver = drv;
    dev.p.state = 'probing';
    dev.p.matchData = dev.ofNode ? ofMatchNode(drv.ofMatchTable, dev.ofNode)?.data : undefined;
    let ret: number;
    try {
      ret = 0;
      for (const h of this.hooks) if (ret === 0 && h.beforeProbe) ret = h.beforeProbe(dev);
      if (ret === 0) ret = drv.probe(dev);
    } catch (e) {
      this.kernel.log.log('crit', drv.name, `probe of ${dev.name} crashed: ${e instanceof Error ? e.message : String(e)}`);
      ret = -EINVAL;
    }
    if (ret === 0) {
      dev.p.state = 'bound';
      dev.p.deferReason = null;
      dev.p.deferrals = 0;
      dev.p.probeError = null;
      entry.bound.push(dev);
      this.kernel.log.debug(`${drv.name} ${dev.name}`, `bound to driver ${drv.name}`);
      this.driverBound(dev);
      return 0;
    }
    this.releaseResources(dev);
    dev.p.driver = null;
    dev.p.matchData = undefined;
    dev.p.driverData = undefined;
    if (ret === -EPROBE_DEFER) {
      dev.p.deferrals++;
      this.kernel.log.debug(`${dev.bus.name} ${dev.name}`, `Driver ${drv.name} requests probe deferral`);
      dev.p.state = 'unbound';
      this.addDeferred(dev);
      // a bind that happened while this probe ran must not be missed
      if (triggerBefore !== this.triggerCount) this.deferredProbeTrigger();
      return EPROBE_DEFER;
    }
    // still pending when another driver deferred it earlier in this same attach
    const pending = this.deferred.includes(dev);
    dev.p.probeError = { driver: drv.name, err: ret };
    if (ret === -ENODEV || ret === -ENXIO) {
      this.kernel.log.debug(drv.name, `probe of ${dev.name} rejects match ${ret}`);
      dev.p.state = pending ? 'deferred' : 'unbound';
      return -ret;
    }
    this.kernel.log.err(drv.name, `probe of ${dev.name} failed with error ${ret}`);
    dev.p.state = pending ? 'deferred' : 'failed';
    return Math.abs(ret) || EINVAL;
  }

  /** The reason `dev` may not probe yet because of its suppliers, or null. */
  private supplierBlock(dev: Device): string | null {
    const node = dev.ofNode;
    if (node) {
      const fw = this.fwLinks.find((f) => f.consumer === node);
      if (fw) return `wait for supplier ${fw.supplier.fullName}`;
    }
    for (const l of this.links)
      if (l.consumer === dev && l.managed && l.supplier.p.state !== 'bound') return `supplier ${l.supplier.name} not ready`;
    return null;
  }

  /** driver_bound: consumers waiting on this device are queued, then the pending list is retried. */
  private driverBound(dev: Device): void {
    this.delDeferred(dev);
    for (const l of this.links) {
      const c = l.consumer;
      if (l.supplier !== dev || !l.managed || !c.p.registered || c.p.driver) continue;
      if (c.p.state === 'probing' || c.p.state === 'removing') continue;
      this.addDeferred(c);
    }
    this.deferredProbeTrigger();
  }

  /** device_release_driver: consumers first, then the driver's remove, then devres. */
  private releaseDriver(dev: Device): void {
    const drv = dev.p.driver;
    if (!drv || dev.p.state !== 'bound') return;
    dev.p.state = 'removing';
    for (const l of [...this.links]) if (l.supplier === dev && l.managed && l.consumer.p.driver) this.releaseDriver(l.consumer);
    try {
      drv.remove?.(dev);
    } catch (e) {
      this.kernel.log.log('crit', drv.name, `remove of ${dev.name} crashed: ${e instanceof Error ? e.message : String(e)}`);
    }
    this.releaseResources(dev);
    const entry = this.driverEntry(drv);
    if (entry) entry.bound.splice(entry.bound.indexOf(dev), 1);
    dev.p.driver = null;
    dev.p.matchData = undefined;
    dev.p.driverData = undefined;
    dev.p.state = 'unbound';
    this.kernel.log.debug(`${dev.bus.name} ${dev.name}`, `unbound from driver ${drv.name}`);
  }

  /** devres_release_all: newest first. */
  private releaseResources(dev: Device): void {
    const list = dev.p.devres.splice(0);
    for (let i = list.length - 1; i >= 0; i--) list[i]!.release();
  }

  /** driver_deferred_probe_add: onto the pending list, unless already on it or on the active one. */
  private addDeferred(dev: Device): void {
    if (!dev.p.canMatch) return;
    dev.p.state = 'deferred';
    if (!this.deferred.includes(dev) && !this.active.includes(dev)) this.deferred.push(dev);
  }

  /** driver_deferred_probe_del: off whichever deferred list it is on. */
  private delDeferred(dev: Device): void {
    const i = this.deferred.indexOf(dev);
    if (i >= 0) this.deferred.splice(i, 1);
    const j = this.active.indexOf(dev);
    if (j >= 0) this.active.splice(j, 1);
  }

  /** True when `a` depends on `b` through managed links or by being one of its descendants. */
  private dependsOn(a: Device, b: Device): boolean {
    const seen = new Set<Device>();
    const stack = [a];
    while (stack.length > 0) {
      const d = stack.pop()!;
      if (d === b) return true;
      if (seen.has(d)) continue;
      seen.add(d);
      if (d.parent) stack.push(d.parent);
      for (const l of this.links) if (l.consumer === d && l.managed) stack.push(l.supplier);
    }
    return false;
  }

  /** The node that will stand for `np` as a supplier, or null when it cannot be one. */
  private supplierNode(np: OfNode, consumer: OfNode): OfNode | null {
    let n: OfNode | null = np;
    while (n && n.parent && !n.hasProperty('compatible')) n = n.parent;
    if (!n || !n.parent) return null; // the root never becomes a device
    if (!ofDeviceIsAvailable(n)) return null;
    if (n.isDescendantOf(consumer)) return null; // itself or one of its own children
    if (this.kernel.of.isEarlyNode(n)) return null; // set up before devices exist (irqchips, fixed clocks)
    return n;
  }

  /** fw_devlink at device_add: record DT dependencies, and turn those with both ends present into links. */
  private fwDevlinkLink(dev: Device): void {
    const node = dev.ofNode;
    if (!node) return;
    if (!this.parsedNodes.has(node)) {
      this.parsedNodes.add(node);
      for (const ref of ofSupplierRefs(node)) {
        const sup = this.supplierNode(ref.np, node);
        if (!sup || this.fwLinks.some((f) => f.consumer === node && f.supplier === sup)) continue;
        this.fwLinks.push({ consumer: node, supplier: sup, prop: ref.prop });
      }
    }
    for (let i = 0; i < this.fwLinks.length; ) {
      const f = this.fwLinks[i]!;
      const con = f.consumer === node ? dev : f.supplier === node ? this.byNode.get(f.consumer) : undefined;
      const sup = f.supplier === node ? dev : f.consumer === node ? this.byNode.get(f.supplier) : undefined;
      if (con && sup) {
        this.fwLinks.splice(i, 1);
        this.addInferredLink(con, sup, f.prop);
      } else i++;
    }
  }

  private addInferredLink(con: Device, sup: Device, prop: string): void {
    if (this.links.some((l) => l.consumer === con && l.supplier === sup)) return;
    const link = new DeviceLink(con, sup, false, prop);
    if (this.dependsOn(sup, con)) {
      link.relaxed = true;
      this.kernel.log.info(`${con.bus.name} ${con.name}`, `Fixed dependency cycle(s) with ${sup.ofNode?.fullName ?? sup.name}`);
    }
    this.links.push(link);
  }

  /**
   * fw_devlink_drivers_done: suppliers that no driver ever matched stop holding their
   * consumers back, and DT suppliers that never became devices are forgotten.
   */
  private fwDevlinkDriversDone(): void {
    for (const l of this.links) {
      if (!l.managed || l.supplier.p.driver || l.supplier.p.canMatch) continue;
      l.relaxed = true;
      this.kernel.log.debug(`${l.consumer.bus.name} ${l.consumer.name}`, `Relaxing link with ${l.supplier.name}`);
    }
    for (const f of this.fwLinks.splice(0)) {
      const dev = this.byNode.get(f.consumer);
      this.kernel.log.debug(`${dev?.bus.name ?? 'platform'} ${dev?.name ?? f.consumer.fullName}`, `Not waiting for supplier ${f.supplier.fullName} any more`);
    }
  }
}

/** devm_request_irq, for drivers: see DriverCore.requestIrq. */
export function requestIrq(dev: Device, irq: number, handler: IrqHandlerFn, opts?: RequestIrqOptions): number {
  return dev.core.requestIrq(dev, irq, handler, opts);
}

/** free_irq, for drivers: see DriverCore.freeIrq. */
export function freeIrq(dev: Device, irq: number, devId?: unknown): number {
  return dev.core.freeIrq(dev, irq, devId);
}

/** dev_err_probe, for drivers: see Device.errProbe. */
export function devErrProbe(dev: Device, err: number, msg: string): number {
  return dev.core.devErrProbe(dev, err, msg);
}
