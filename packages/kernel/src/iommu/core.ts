import { EBUSY, EEXIST, EINVAL, ENODEV, ENOENT, ENOSYS, EPROBE_DEFER, ETIMEDOUT, errnoName } from '../errno.js';
import { Device } from '../driver/device.js';
import type { Kernel } from '../kernel.js';
import type { OfNode } from '../of/node.js';
import { ofMapIommuId } from '../of/map-id.js';
import { ofParsePhandleWithArgs } from '../of/phandle.js';
import { PciDev } from '../pci/device.js';
import { ofDeviceIsAvailable } from '../of/property.js';
import { IovaDomain } from '../dma/iova.js';
import { IommuGroup } from './group.js';
import { iommuDomainSetPgtblOps, iommuMinPageSize } from './map.js';
import {
  iommuIsPagingDomain,
  type IommuDevice,
  type IommuDomain,
  type IommuDomainType,
  type IommuFaultHandler,
  type IommuFwspec,
  type IommuOps,
} from './types.js';

/** A registered IOMMU instance. */
interface IommuRec {
  readonly iommu: IommuDevice;
  readonly fwnode: OfNode | null;
}

/** dev->iommu: the master's fwspec, the IOMMU that probed it, its group and driver data. */
interface DevIommu {
  fwspec: { iommuFwnode: OfNode; ids: number[] } | null;
  rec: IommuRec | null;
  group: IommuGroup | null;
  priv: unknown;
}

/** What the core keeps per domain it handed out. */
interface DomainState {
  readonly id: number;
  readonly core: IommuCore;
  readonly rec: IommuRec;
  readonly groups: Set<IommuGroup>;
  handler: IommuFaultHandler | null;
  handlerToken: unknown;
  /** The DMA API's IOVA allocator (iommu_dma_cookie), for DMA domains. */
  cookie: IovaDomain | null;
  isDefault: boolean;
}

/** The core's state per domain, keyed by the driver's domain object. */
const domainStates = new WeakMap<IommuDomain, DomainState>();

/** Everything the IOMMU core tracks, as plain data (for "state unchanged" assertions). */
export interface IommuCoreSnapshot {
  readonly iommus: readonly { dev: string; fwnode: string | null }[];
  readonly masters: readonly { dev: string; iommu: string | null; ids: number[]; group: number | null }[];
  readonly groups: readonly { id: number; devices: string[]; defaultDomain: number | null; domain: number | null }[];
  readonly domains: readonly { id: number; type: IommuDomainType; iommu: string; groups: number[]; isDefault: boolean; handler: boolean; iovas: { pfnLo: number; pfnHi: number }[] }[];
}

function hex(n: number): string {
  return '0x' + n.toString(16);
}

/**
 * The IOMMU core (drivers/iommu/iommu.c and of_iommu.c): registered IOMMU instances,
 * masters configured from DT `iommus` before they probe, groups, default domains and
 * domain attach/detach. Page tables are the drivers' business: the core only calls their
 * IommuOps / IommuDomainOps. Mapping helpers that need only a domain live in map.ts.
 */
export class IommuCore {
  private readonly iommus: IommuRec[] = [];
  private readonly devs = new Map<Device, DevIommu>();
  private readonly groups: IommuGroup[] = [];
  private readonly domains: IommuDomain[] = [];
  private nextGroupId = 0;
  private nextDomainId = 1;
  /**
   * @internal Changes whenever an entry of `devs` is added or removed, an entry's group is set
   * or cleared, or a group's default domain is set or cleared (the only places these change),
   * so that the DMA API can keep what it read of them for a device (its entry, and the default
   * domain it maps through) and trust it while this number stays the same.
   */
  devsEpoch = 0;

  constructor(readonly kernel: Kernel) {
    kernel.drivers.addLifecycleHooks({
      beforeProbe: (dev) => this.dmaConfigure(dev),
      removed: (dev) => this.releaseDevice(dev),
    });
  }

  // ---------------------------------------------------------------- IOMMU instances

  /**
   * iommu_device_register: makes `iommu` the IOMMU for masters whose `iommus` point at its
   * fwnode. -EINVAL for a malformed registration (no device, ops without probeDevice or
   * domainAlloc), -EEXIST when it or another IOMMU with the same fwnode is registered.
   */
  deviceRegister(iommu: IommuDevice): number {
    if (!iommu || !(iommu.dev instanceof Device) || iommu.dev.core !== this.kernel.drivers) return -EINVAL;
    const ops = iommu.ops;
    if (!ops || typeof ops.probeDevice !== 'function' || typeof ops.domainAlloc !== 'function') return -EINVAL;
    const fwnode = iommu.fwnode ?? iommu.dev.ofNode;
    if (this.iommus.some((r) => r.iommu === iommu || (fwnode !== null && r.fwnode === fwnode))) return -EEXIST;
    const rec: IommuRec = { iommu, fwnode };
    this.iommus.push(rec);
    this.kernel.log.debug(`iommu ${iommu.dev.name}`, 'registered');
    if (fwnode) this.busProbe(rec);
    return 0;
  }

  /**
   * bus_iommu_probe: once an IOMMU registers, every device already on the bus whose
   * `iommus` names it and that has no driver yet is configured and probed by it, so masters
   * nobody drives still get their stream IDs, group and default domain (Linux runs the bus's
   * dma_configure for driverless devices from here). Devices being probed, and devices on the
   * deferred-probe list (a driver matched them; their retry runs dma_configure), are left to
   * their own dma_configure.
   */
  private busProbe(rec: IommuRec): void {
    for (const dev of [...this.kernel.drivers.allDevices()]) {
      if (dev.driver || dev.state === 'deferred' || this.devs.get(dev)?.rec || !this.pointsAt(dev, rec.fwnode!)) continue;
      const r = this.ofIommuConfigure(dev);
      if (r === 0) continue;
      if (r === -EPROBE_DEFER) dev.dbg('IOMMU probe deferred: another of its IOMMUs has no driver yet');
      else dev.err(`iommu configuration for device failed with ${errnoName(r)}`);
    }
  }

  /** True when one of dev's `iommus` entries names `np` (for a PCI function: its requester ID's iommu-map entry). */
  private pointsAt(dev: Device, np: OfNode): boolean {
    if (dev instanceof PciDev) {
      const m = ofMapIommuId(dev.host.node, dev.rid);
      return typeof m !== 'number' && m.target === np;
    }
    const node = dev.ofNode;
    if (!node?.hasProperty('iommus')) return false;
    for (let i = 0; ; i++) {
      const spec = ofParsePhandleWithArgs(node, 'iommus', '#iommu-cells', i);
      if (typeof spec === 'number') return false;
      if (spec.np === np) return true;
    }
  }

  /**
   * iommu_device_unregister: every master probed through `iommu` is released from it (its
   * group left, default domain freed with the last member, driver releaseDevice called).
   * Masters should already be unbound (device links do that when the IOMMU unbinds); one
   * still bound is warned about. -ENODEV when `iommu` is not registered.
   */
  deviceUnregister(iommu: IommuDevice): number {
    const i = this.iommus.findIndex((r) => r.iommu === iommu);
    if (i < 0) return -ENODEV;
    const rec = this.iommus[i]!;
    for (const [dev, st] of [...this.devs]) {
      if (st.rec !== rec) continue;
      if (dev.state === 'bound') dev.warn(`IOMMU ${iommu.dev.name} going away while the device is bound`);
      this.releaseDevice(dev);
    }
    this.iommus.splice(this.iommus.indexOf(rec), 1);
    this.kernel.log.debug(`iommu ${iommu.dev.name}`, 'unregistered');
    return 0;
  }

  /** The registered IOMMU for a DT node (iommu_ops_from_fwnode), if any. */
  iommuForFwnode(node: OfNode): IommuDevice | undefined {
    return this.iommus.find((r) => r.fwnode === node)?.iommu;
  }

  // ---------------------------------------------------------------- masters

  /**
   * The bus's dma_configure step, run by the driver core before every probe: configures the
   * device's IOMMU from DT. Only -EPROBE_DEFER (the IOMMU's driver has not registered yet)
   * holds the probe back; any other failure is logged and the device probes untranslated.
   */
  dmaConfigure(dev: Device): number {
    // not behind an IOMMU: nothing to say (a PCI function asks its host bridge's iommu-map)
    if (!(dev instanceof PciDev) && !dev.ofNode?.hasProperty('iommus')) return 0;
    const r = this.ofIommuConfigure(dev);
    if (r === -EPROBE_DEFER) return dev.errProbe(r, 'waiting for its IOMMU driver');
    if (r === -ENODEV) dev.dbg('device is not behind an iommu');
    else if (r === -ETIMEDOUT) dev.warn('IOMMU driver never registered (deferred probe timeout): DMA is untranslated');
    else if (r < 0) dev.err(`iommu configuration for device failed with ${errnoName(r)}`);
    return 0;
  }

  /**
   * of_iommu_configure: for each `iommus` entry of dev's node, the IOMMU's ofXlate records
   * the specifier in dev's fwspec; then the device is probed by that IOMMU (iommuProbeDevice).
   * 0 when the device is behind a working IOMMU (or already was), -ENODEV when it is not
   * behind one (no `iommus`, IOMMU disabled, ops without ofXlate), -EPROBE_DEFER while the
   * IOMMU's driver has not registered (until the deferred-probe timeout, then -ETIMEDOUT),
   * or another -errno. On failure dev's fwspec is dropped again.
   */
  ofIommuConfigure(dev: Device): number {
    if (dev instanceof PciDev) return this.ofPciIommuConfigure(dev);
    const node = dev.ofNode;
    if (!node || !node.hasProperty('iommus')) return -ENODEV;
    if (this.devs.get(dev)?.rec) return 0;
    this.dropFwspec(dev); // a half-configured earlier attempt starts over
    let err = 0;
    for (let i = 0; ; i++) {
      const spec = ofParsePhandleWithArgs(node, 'iommus', '#iommu-cells', i);
      if (typeof spec === 'number') {
        if (spec !== -ENOENT || i === 0) err = spec === -ENOENT ? -ENODEV : spec;
        break;
      }
      err = this.ofIommuXlate(dev, spec.np, spec.args);
      if (err < 0) break;
    }
    if (err < 0) {
      this.dropFwspec(dev);
      return err;
    }
    const r = this.probeDevice(dev);
    if (r < 0) this.dropFwspec(dev);
    return r;
  }

  /**
   * of_iommu_configure for a PCI function (of_pci_iommu_init over its DMA aliases, here its
   * own requester ID): of_map_id through the host bridge's `iommu-map` / `iommu-map-mask`
   * gives the IOMMU node and the stream ID, which the IOMMU's ofXlate records; then the
   * function is probed by that IOMMU. A bridge without `iommu-map` means no IOMMU (-ENODEV);
   * a requester ID outside every entry is logged by of_map_id ("no iommu-map translation for
   * id ...") and also means no IOMMU: the function's DMA is untranslated (dma-direct), as in
   * Linux. A malformed map gives of_map_id's error.
   */
  private ofPciIommuConfigure(dev: PciDev): number {
    if (this.devs.get(dev)?.rec) return 0;
    this.dropFwspec(dev);
    const m = ofMapIommuId(dev.host.node, dev.rid, this.kernel.log);
    if (typeof m === 'number') return m;
    if (!m.target) return -ENODEV;
    let err = this.ofIommuXlate(dev, m.target, [m.id]);
    if (err === 0) err = this.probeDevice(dev);
    if (err < 0) this.dropFwspec(dev);
    return err;
  }

  /**
   * BUS_NOTIFY_ADD_DEVICE for a PCI function (iommu_probe_device from the bus notifier):
   * configures its IOMMU as soon as it exists, whether or not a driver will bind it. An IOMMU
   * whose driver has not registered yet picks the function up when it registers.
   */
  deviceAdded(dev: Device): void {
    if (this.devs.get(dev)?.rec) return;
    const r = this.ofIommuConfigure(dev);
    if (r === 0 || r === -ENODEV) return;
    if (r === -EPROBE_DEFER) dev.dbg('IOMMU probe deferred: its IOMMU has no driver yet');
    else dev.dbg(`Adding to IOMMU failed: ${errnoName(r)}`);
  }

  private ofIommuXlate(dev: Device, np: OfNode, args: readonly number[]): number {
    const rec = this.iommus.find((r) => r.fwnode === np);
    if ((rec && typeof rec.iommu.ops.ofXlate !== 'function') || !ofDeviceIsAvailable(np)) return -ENODEV;
    const st = this.state(dev);
    if (st.fwspec && st.fwspec.iommuFwnode !== np) return -EINVAL; // one IOMMU per master
    if (!st.fwspec) st.fwspec = { iommuFwnode: np, ids: [] };
    if (!rec) return this.waitForIommu(np);
    const owner = rec.iommu.ops.owner;
    if (!this.kernel.modules.tryModuleGet(owner)) return -ENODEV;
    try {
      return rec.iommu.ops.ofXlate!(dev, args);
    } finally {
      this.kernel.modules.modulePut(owner);
    }
  }

  /**
   * No driver has registered IOMMU ops for `np`. Like driver_deferred_probe_check_state:
   * -EPROBE_DEFER until the deferred-probe timeout, -ETIMEDOUT after it (the caller then
   * probes the master untranslated). One deliberate difference from Linux: when `np`'s
   * device is already bound, its driver evidently is not an IOMMU driver (a real one
   * registers from probe), so the answer is -ENODEV (no IOMMU) instead of a wait that could
   * only end with the timeout.
   */
  private waitForIommu(np: OfNode): number {
    if (this.kernel.drivers.deviceForNode(np)?.state === 'bound') return -ENODEV;
    return this.kernel.drivers.deferredProbeTimedOut ? -ETIMEDOUT : -EPROBE_DEFER;
  }

  private state(dev: Device): DevIommu {
    let st = this.devs.get(dev);
    if (!st) {
      st = { fwspec: null, rec: null, group: null, priv: undefined };
      this.devs.set(dev, st);
      this.devsEpoch++;
    }
    return st;
  }

  /** @internal Forgets the fwspec of a device that was never probed (iommu_fwspec_free). */
  dropUnprobedFwspec(dev: Device): void {
    this.dropFwspec(dev);
  }

  private dropFwspec(dev: Device): void {
    const st = this.devs.get(dev);
    if (st && !st.rec) {
      this.devs.delete(dev);
      this.devsEpoch++;
    }
  }

  /** dev_iommu_fwspec_get: the IOMMU and IDs recorded for `dev`, if any. */
  fwspec(dev: Device): IommuFwspec | undefined {
    const f = this.devs.get(dev)?.fwspec;
    return f ? { iommuFwnode: f.iommuFwnode, ids: [...f.ids] } : undefined;
  }

  /**
   * iommu_fwspec_init: records that `dev` sits behind the IOMMU whose node is `fwnode`, for
   * drivers that find their masters themselves (the legacy "mmu-masters" binding). 0 (also
   * when it already points there), -EINVAL when it points at another IOMMU.
   */
  fwspecInit(dev: Device, fwnode: OfNode): number {
    if (!(dev instanceof Device) || dev.core !== this.kernel.drivers || !fwnode) return -EINVAL;
    const st = this.state(dev);
    if (st.fwspec && st.fwspec.iommuFwnode !== fwnode) return -EINVAL;
    if (!st.fwspec) st.fwspec = { iommuFwnode: fwnode, ids: [] };
    return 0;
  }

  /** iommu_fwspec_add_ids: for a driver's ofXlate. -EINVAL when `dev` has no fwspec or an ID is bad. */
  fwspecAddIds(dev: Device, ids: readonly number[]): number {
    const f = this.devs.get(dev)?.fwspec;
    if (!f || !Array.isArray(ids) || !ids.every((id) => Number.isInteger(id) && id >= 0 && id <= 0xffff_ffff)) return -EINVAL;
    f.ids.push(...ids);
    return 0;
  }

  /** dev_iommu_priv_get / _set: the IOMMU driver's per-master data. */
  privGet<T>(dev: Device): T | undefined {
    return this.devs.get(dev)?.priv as T | undefined;
  }

  privSet(dev: Device, priv: unknown): number {
    const st = this.devs.get(dev);
    if (!st) return -ENODEV;
    st.priv = priv;
    return 0;
  }

  /** The IOMMU that probed `dev` (dev->iommu->iommu_dev), if any. */
  iommuOf(dev: Device): IommuDevice | undefined {
    return this.devs.get(dev)?.rec?.iommu;
  }

  /**
   * iommu_probe_device: the IOMMU named by dev's fwspec sets the master up, puts it in a
   * group (the driver's deviceGroup, or one of its own) and attaches the group's domain,
   * allocating the default domain for a new group (the driver's defDomainType, else DMA).
   * Holds a reference on the driver's module while the master stays probed. 0 (also when
   * already probed) or -errno, with everything undone.
   */
  probeDevice(dev: Device): number {
    const st = this.devs.get(dev);
    if (!st?.fwspec) return -ENODEV;
    if (st.rec) return 0;
    const rec = this.iommus.find((r) => r.fwnode === st.fwspec!.iommuFwnode);
    if (!rec) return -ENODEV;
    const ops = rec.iommu.ops;
    if (!this.kernel.modules.tryModuleGet(ops.owner)) return -EINVAL;
    let r = ops.probeDevice(dev);
    if (r < 0) {
      this.kernel.modules.modulePut(ops.owner);
      return r;
    }
    st.rec = rec;
    const g = ops.deviceGroup ? ops.deviceGroup(dev) : dev instanceof PciDev ? this.pciDeviceGroup(dev) : this.genericDeviceGroup(dev);
    if (typeof g === 'number' || !(g instanceof IommuGroup)) r = typeof g === 'number' && g < 0 ? g : -EINVAL;
    else r = this.groupAddDevice(g, dev, rec);
    if (r < 0) {
      st.rec = null;
      st.group = null;
      this.devsEpoch++;
      ops.releaseDevice?.(dev);
      this.kernel.modules.modulePut(ops.owner);
      return r;
    }
    dev.dbg(`Adding to iommu group ${st.group!.id}`);
    return 0;
  }

  /**
   * iommu_release_device: takes `dev` out of its group (freeing the default domain with the
   * last member), lets the driver release it and drops the module reference. Called when
   * the device is unregistered and when its IOMMU goes away; a no-op for other devices.
   */
  releaseDevice(dev: Device): void {
    const st = this.devs.get(dev);
    if (!st) return;
    this.devs.delete(dev);
    this.devsEpoch++;
    const rec = st.rec;
    if (!rec) return;
    const g = st.group;
    if (g) {
      g.devices.splice(g.devices.indexOf(dev), 1);
      if (g.devices.length === 0) this.groupRelease(g);
    }
    rec.iommu.ops.releaseDevice?.(dev);
    this.kernel.modules.modulePut(rec.iommu.ops.owner);
  }

  // ---------------------------------------------------------------- groups

  /** iommu_group_alloc: a new, empty group. */
  groupAlloc(): IommuGroup {
    return new IommuGroup(this.nextGroupId++);
  }

  /** generic_device_group: a new group holding only `dev`. */
  genericDeviceGroup(_dev: Device): IommuGroup {
    return this.groupAlloc();
  }

  /**
   * pci_device_group for functions on a root bus: a function of a multi-function device
   * without ACS (the model's functions have no ACS capability) shares the group of the other
   * functions of its slot that already have one (get_pci_function_alias_group); otherwise it
   * gets a group of its own.
   */
  pciDeviceGroup(dev: Device): IommuGroup {
    if (dev instanceof PciDev && dev.multifunction) {
      for (const [other, st] of this.devs) {
        if (other === dev || !(other instanceof PciDev) || !st.group || !other.multifunction) continue;
        if (other.host === dev.host && other.busNr === dev.busNr && other.devfn >>> 3 === dev.devfn >>> 3) return st.group;
      }
    }
    return this.groupAlloc();
  }

  /** iommu_group_get: the group `dev` belongs to, if it is behind an IOMMU. */
  groupOf(dev: Device): IommuGroup | undefined {
    return this.devs.get(dev)?.group ?? undefined;
  }

  /** Groups in creation order. */
  allGroups(): readonly IommuGroup[] {
    return this.groups;
  }

  private groupAddDevice(g: IommuGroup, dev: Device, rec: IommuRec): number {
    const st = this.devs.get(dev)!;
    if (g.devices.length > 0) {
      const other = this.devs.get(g.devices[0]!);
      if (other?.rec !== rec) return -EINVAL; // a group never spans two IOMMUs
    }
    const isNew = !this.groups.includes(g);
    if (g.domain) {
      const r = g.domain.ops.attachDev(g.domain, dev);
      if (r < 0) return r;
    } else {
      const type = rec.iommu.ops.defDomainType?.(dev) ?? 'dma';
      const dom = this.allocDomain(rec, type, dev);
      if (typeof dom === 'number') {
        dev.err(`failed to allocate default IOMMU domain of type ${type}: ${errnoName(dom)}`);
        return dom;
      }
      const r = dom.ops.attachDev(dom, dev);
      if (r < 0) {
        this.freeDomain(dom);
        return r;
      }
      domainStates.get(dom)!.isDefault = true;
      domainStates.get(dom)!.groups.add(g);
      g.defaultDomain = dom;
      g.domain = dom;
    }
    g.devices.push(dev);
    st.group = g;
    this.devsEpoch++;
    if (isNew) this.groups.push(g);
    return 0;
  }

  private groupRelease(g: IommuGroup): void {
    const i = this.groups.indexOf(g);
    if (i >= 0) this.groups.splice(i, 1);
    if (g.domain && g.domain !== g.defaultDomain) {
      this.kernel.log.warn('iommu', `${g}: last device left while attached to a non-default domain`);
      domainStates.get(g.domain)?.groups.delete(g);
    }
    g.domain = null;
    const def = g.defaultDomain;
    g.defaultDomain = null;
    this.devsEpoch++;
    if (def) {
      const ds = domainStates.get(def);
      ds?.groups.delete(g);
      this.freeDomain(def);
    }
  }

  // ---------------------------------------------------------------- domains

  private allocDomain(rec: IommuRec, type: IommuDomainType, dev: Device | null): IommuDomain | number {
    const ops = rec.iommu.ops;
    if (!this.kernel.modules.tryModuleGet(ops.owner)) return -ENODEV;
    let dom: IommuDomain | number;
    try {
      dom = ops.domainAlloc(type, dev);
    } catch (e) {
      this.kernel.modules.modulePut(ops.owner);
      throw e;
    }
    if (typeof dom === 'number' || !dom || dom.type !== type || !dom.ops) {
      if (typeof dom === 'object' && dom?.ops) dom.ops.free(dom);
      this.kernel.modules.modulePut(ops.owner);
      return typeof dom === 'number' && dom < 0 ? dom : -EINVAL;
    }
    if (!(dom.pgsizeBitmap > 0) && ops.pgsizeBitmap) dom.pgsizeBitmap = ops.pgsizeBitmap;
    let cookie: IovaDomain | null = null;
    if (type === 'dma') {
      const gran = iommuMinPageSize(dom.pgsizeBitmap);
      if (gran <= 0) {
        dom.ops.free(dom);
        this.kernel.modules.modulePut(ops.owner);
        return -ENODEV;
      }
      cookie = new IovaDomain(gran, Math.max(1, Math.floor(dom.geometry.apertureStart / gran)));
    }
    domainStates.set(dom, {
      id: this.nextDomainId++,
      core: this,
      rec,
      groups: new Set(),
      handler: null,
      handlerToken: undefined,
      cookie,
      isDefault: false,
    });
    this.domains.push(dom);
    return dom;
  }

  private freeDomain(dom: IommuDomain): void {
    const st = domainStates.get(dom);
    if (!st) return;
    domainStates.delete(dom);
    this.domains.splice(this.domains.indexOf(dom), 1);
    dom.ops.free(dom);
    // the driver withdraws its published page table in free; a freed domain never keeps one
    iommuDomainSetPgtblOps(dom, null);
    this.kernel.modules.modulePut(st.rec.iommu.ops.owner);
  }

  /**
   * iommu_paging_domain_alloc / iommu_domain_alloc: a new domain (unmanaged by default) from
   * the IOMMU `dev` sits behind. -ENODEV when `dev` is not behind one (or the driver's
   * module is going away), -EINVAL for a bad type, the driver's error otherwise.
   */
  domainAlloc(dev: Device, type: IommuDomainType = 'unmanaged'): IommuDomain | number {
    const rec = this.devs.get(dev)?.rec;
    if (!rec) return -ENODEV;
    if (type !== 'unmanaged' && type !== 'dma' && type !== 'identity' && type !== 'blocked') return -EINVAL;
    return this.allocDomain(rec, type, dev);
  }

  /**
   * iommu_domain_free: 0; -EBUSY (nothing changes) while a group is attached to it or it is
   * a group's default domain; -EINVAL for a domain this core did not hand out (or freed).
   */
  domainFree(dom: IommuDomain): number {
    const st = domainStates.get(dom);
    if (!st || st.core !== this) return -EINVAL;
    if (st.groups.size > 0 || st.isDefault) return -EBUSY;
    this.freeDomain(dom);
    return 0;
  }

  /**
   * iommu_attach_group: every device of `g` moves to `dom`. -EINVAL when `dom` belongs to
   * another IOMMU, -EBUSY when the group is already attached to a non-default domain; a
   * driver error rolls the devices already moved back to the old domain.
   */
  attachGroup(dom: IommuDomain, g: IommuGroup): number {
    const st = domainStates.get(dom);
    if (!st || st.core !== this || !(g instanceof IommuGroup) || !this.groups.includes(g)) return -EINVAL;
    const first = this.devs.get(g.devices[0]!);
    if (first?.rec !== st.rec) return -EINVAL;
    if (g.domain === dom) return 0;
    if (g.domain && g.domain !== g.defaultDomain) return -EBUSY;
    return this.setGroupDomain(g, dom);
  }

  /** iommu_detach_group: back to the default domain. -EINVAL when `g` is not attached to `dom`. */
  detachGroup(dom: IommuDomain, g: IommuGroup): number {
    if (!(g instanceof IommuGroup) || !this.groups.includes(g) || g.domain !== dom || dom === g.defaultDomain) return -EINVAL;
    if (!g.defaultDomain) return -ENODEV;
    return this.setGroupDomain(g, g.defaultDomain);
  }

  /** iommu_attach_device: attachGroup for a device alone in its group (-EINVAL otherwise). */
  attachDevice(dom: IommuDomain, dev: Device): number {
    const g = this.devs.get(dev)?.group;
    if (!g) return -ENODEV;
    if (g.devices.length !== 1) return -EINVAL;
    return this.attachGroup(dom, g);
  }

  /** iommu_detach_device: detachGroup for a device alone in its group. */
  detachDevice(dom: IommuDomain, dev: Device): number {
    const g = this.devs.get(dev)?.group;
    if (!g) return -ENODEV;
    if (g.devices.length !== 1) return -EINVAL;
    return this.detachGroup(dom, g);
  }

  private setGroupDomain(g: IommuGroup, dom: IommuDomain): number {
    const old = g.domain;
    for (let i = 0; i < g.devices.length; i++) {
      const dev = g.devices[i]!;
      const r = dom.ops.attachDev(dom, dev);
      if (r < 0) {
        if (old) for (let j = 0; j < i; j++) old.ops.attachDev(old, g.devices[j]!);
        return r < 0 ? r : -EINVAL;
      }
    }
    if (old) domainStates.get(old)?.groups.delete(g);
    domainStates.get(dom)!.groups.add(g);
    g.domain = dom;
    return 0;
  }

  /** iommu_get_domain_for_dev: the domain dev's group is attached to now. */
  domainForDev(dev: Device): IommuDomain | undefined {
    return this.devs.get(dev)?.group?.domain ?? undefined;
  }

  /** iommu_get_dma_domain: dev's default domain, which the DMA API uses. */
  dmaDomainForDev(dev: Device): IommuDomain | undefined {
    return this.devs.get(dev)?.group?.defaultDomain ?? undefined;
  }

  /** @internal The core's entry for `dev` (valid while `devsEpoch` does not change), or null. */
  devEntry(dev: Device): { readonly group: IommuGroup | null } | null {
    return this.devs.get(dev) ?? null;
  }

  /** @internal The IOVA allocator of a DMA domain (its iommu_dma_cookie). */
  dmaCookie(dom: IommuDomain): IovaDomain | null {
    return domainStates.get(dom)?.cookie ?? null;
  }

  /** Live domains in allocation order. */
  allDomains(): readonly IommuDomain[] {
    return this.domains;
  }

  // ---------------------------------------------------------------- snapshot

  snapshot(): IommuCoreSnapshot {
    const id = (d: IommuDomain | null) => (d ? (domainStates.get(d)?.id ?? null) : null);
    return {
      iommus: this.iommus.map((r) => ({ dev: r.iommu.dev.name, fwnode: r.fwnode?.fullName ?? null })),
      masters: [...this.devs].map(([dev, st]) => ({
        dev: dev.name,
        iommu: st.rec?.iommu.dev.name ?? null,
        ids: [...(st.fwspec?.ids ?? [])],
        group: st.group?.id ?? null,
      })),
      groups: this.groups.map((g) => ({ id: g.id, devices: g.devices.map((d) => d.name), defaultDomain: id(g.defaultDomain), domain: id(g.domain) })),
      domains: this.domains.map((d) => {
        const st = domainStates.get(d)!;
        return {
          id: st.id,
          type: d.type,
          iommu: st.rec.iommu.dev.name,
          groups: [...st.groups].map((g) => g.id).sort((a, b) => a - b),
          isDefault: st.isDefault,
          handler: st.handler !== null,
          iovas: st.cookie?.list() ?? [],
        };
      }),
    };
  }
}

// -------------------------------------------------------------------- driver-facing functions

/** iommu_device_register (see IommuCore.deviceRegister). */
export function iommuDeviceRegister(kernel: Kernel, iommu: IommuDevice): number {
  return kernel.iommu.deviceRegister(iommu);
}

/** iommu_device_unregister (see IommuCore.deviceUnregister). */
export function iommuDeviceUnregister(kernel: Kernel, iommu: IommuDevice): number {
  return kernel.iommu.deviceUnregister(iommu);
}

/** iommu_fwspec_init (see IommuCore.fwspecInit). */
export function iommuFwspecInit(dev: Device, fwnode: OfNode): number {
  return dev.core.kernel.iommu.fwspecInit(dev, fwnode);
}

/**
 * iommu_probe_device: probes `dev` with the IOMMU its fwspec names (see IommuCore.probeDevice);
 * on failure a fwspec the device had not been probed with is dropped again.
 */
export function iommuProbeDevice(dev: Device): number {
  const core = dev.core.kernel.iommu;
  const r = core.probeDevice(dev);
  if (r < 0) core.dropUnprobedFwspec(dev);
  return r;
}

/** iommu_fwspec_add_ids, for ofXlate. */
export function iommuFwspecAddIds(dev: Device, ids: readonly number[]): number {
  return dev.core.kernel.iommu.fwspecAddIds(dev, ids);
}

/** dev_iommu_fwspec_get. */
export function devIommuFwspecGet(dev: Device): IommuFwspec | undefined {
  return dev.core.kernel.iommu.fwspec(dev);
}

/** dev_iommu_priv_get. */
export function devIommuPrivGet<T>(dev: Device): T | undefined {
  return dev.core.kernel.iommu.privGet<T>(dev);
}

/** dev_iommu_priv_set: 0, or -ENODEV when `dev` has no IOMMU state. */
export function devIommuPrivSet(dev: Device, priv: unknown): number {
  return dev.core.kernel.iommu.privSet(dev, priv);
}

/** generic_device_group, for a driver's deviceGroup. */
export function genericDeviceGroup(dev: Device): IommuGroup {
  return dev.core.kernel.iommu.genericDeviceGroup(dev);
}

/** pci_device_group, for a driver's deviceGroup (a PCI function; other devices get a group of their own). */
export function pciDeviceGroup(dev: Device): IommuGroup {
  return dev.core.kernel.iommu.pciDeviceGroup(dev);
}

/** iommu_group_get. */
export function iommuGroupGet(dev: Device): IommuGroup | undefined {
  return dev.core.kernel.iommu.groupOf(dev);
}

/** iommu_paging_domain_alloc (type 'unmanaged' unless given). */
export function iommuDomainAlloc(dev: Device, type: IommuDomainType = 'unmanaged'): IommuDomain | number {
  return dev.core.kernel.iommu.domainAlloc(dev, type);
}

/** iommu_domain_free (see IommuCore.domainFree). */
export function iommuDomainFree(domain: IommuDomain): number {
  const st = domainStates.get(domain);
  return st ? st.core.domainFree(domain) : -EINVAL;
}

/** iommu_attach_device. */
export function iommuAttachDevice(domain: IommuDomain, dev: Device): number {
  return dev.core.kernel.iommu.attachDevice(domain, dev);
}

/** iommu_detach_device. */
export function iommuDetachDevice(domain: IommuDomain, dev: Device): number {
  return dev.core.kernel.iommu.detachDevice(domain, dev);
}

/** iommu_attach_group. */
export function iommuAttachGroup(domain: IommuDomain, group: IommuGroup): number {
  const st = domainStates.get(domain);
  return st ? st.core.attachGroup(domain, group) : -EINVAL;
}

/** iommu_detach_group. */
export function iommuDetachGroup(domain: IommuDomain, group: IommuGroup): number {
  const st = domainStates.get(domain);
  return st ? st.core.detachGroup(domain, group) : -EINVAL;
}

/** iommu_get_domain_for_dev. */
export function iommuGetDomainForDev(dev: Device): IommuDomain | undefined {
  return dev.core.kernel.iommu.domainForDev(dev);
}

/**
 * iommu_set_fault_handler: `handler(domain, dev, iova, flags, token)` receives the faults a
 * driver reports for `domain` (null removes it). -EINVAL for a domain the core does not know.
 */
export function iommuSetFaultHandler(domain: IommuDomain, handler: IommuFaultHandler | null, token?: unknown): number {
  const st = domainStates.get(domain);
  if (!st || (handler !== null && typeof handler !== 'function')) return -EINVAL;
  st.handler = handler;
  st.handlerToken = token;
  return 0;
}

/**
 * report_iommu_fault: for drivers' fault interrupts. The handler's result (0: handled), or
 * -ENOSYS when the domain has no handler, in which case the driver logs the fault itself.
 */
export function reportIommuFault(domain: IommuDomain, dev: Device, iova: number, flags: number): number {
  const st = domainStates.get(domain);
  if (!st?.handler) return -ENOSYS;
  const r = st.handler(domain, dev, iova, flags, st.handlerToken);
  dev.dbg(`iommu fault at ${hex(iova)} flags ${hex(flags)}: handler returned ${r}`);
  return r;
}

/**
 * iommu_enable_nesting: asks the driver for a nesting-capable (stage-2) translation before
 * `domain` is first attached. -EINVAL for a domain the core did not hand out, one that is not
 * unmanaged, or a driver without the op; otherwise the driver's answer (-EPERM once attached).
 */
export function iommuEnableNesting(domain: IommuDomain): number {
  const st = domainStates.get(domain);
  if (!st || domain.type !== 'unmanaged' || typeof domain.ops.enableNesting !== 'function') return -EINVAL;
  return domain.ops.enableNesting(domain);
}

/**
 * iommu_set_pgtable_quirks: io-pgtable quirks for `domain`'s page table, before its first
 * attach. -EINVAL for a domain the core did not hand out, one that is not unmanaged, a
 * non-integer `quirks`, or a driver without the op; otherwise the driver's answer.
 */
export function iommuSetPgtableQuirks(domain: IommuDomain, quirks: number): number {
  const st = domainStates.get(domain);
  if (!st || domain.type !== 'unmanaged' || !Number.isInteger(quirks) || quirks < 0) return -EINVAL;
  if (typeof domain.ops.setPgtableQuirks !== 'function') return -EINVAL;
  return domain.ops.setPgtableQuirks(domain, quirks);
}

/** True for paging domains (map/unmap apply): re-exported helper for drivers. */
export { iommuIsPagingDomain };
