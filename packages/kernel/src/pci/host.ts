/**
 * The PCI core of the model (drivers/pci/probe.c, setup-bus.c, bus.c in a small form) and the
 * generic ECAM host driver (drivers/pci/controller/pci-host-generic.c with pci-host-common.c
 * and ecam.c): the host bridge's `bus-range`, `ranges` and ECAM window, enumeration of the root
 * bus (vendor ID, header type, multi-function devices), BAR sizing and assignment from the
 * bridge's memory windows, one `pci` bus device per function named as Linux names it
 * ("0000:00:01.0"), and the IOMMU configuration each function gets when it is added (its
 * requester ID through the bridge's `iommu-map`, see IommuCore).
 *
 * Deliberately left out: bridges' secondary buses (a type 1 function is enumerated but what is
 * behind it is not), I/O space, expansion ROMs, capabilities (MSI, PCIe, ACS, ATS), interrupts,
 * DMA aliases other than the function's own requester ID, hotplug, and `msi-map` (parsed by
 * nobody: the model has no ITS).
 */
import { BusError } from '@gki/hw';
import { EINVAL, ENODEV, errnoName } from '../errno.js';
import type { Device, IoMem } from '../driver/device.js';
import type { Driver } from '../driver/types.js';
import type { Kernel } from '../kernel.js';
import { ofTranslateAddress } from '../of/address.js';
import type { OfNode } from '../of/node.js';
import { be32 } from '../of/node.js';
import { ofDeviceIsAvailable, ofPropertyReadU32, ofReadNumber } from '../of/property.js';
import { PciDev, pciBusType, pciName, type PciDriver, type PciHostRef, type PciResource } from './device.js';
import * as P from './regs.js';

/** A root-bus window from the bridge's `ranges`: CPU and PCI addresses of one aperture. */
export interface PciHostWindow {
  readonly space: 'io' | 'mem' | 'mem64';
  readonly prefetch: boolean;
  readonly cpuStart: number;
  readonly pciStart: number;
  readonly size: number;
}

/** ECAM: 4 KiB of config space per function, 1 MiB per bus. */
const ECAM_BUS_SHIFT = 20;
const ECAM_DEVFN_SHIFT = 12;

function hexw(n: number, w: number): string {
  return '0x' + n.toString(16).padStart(w, '0');
}

/** %pR of a memory range: "[mem 0x50000000-0x50000fff 64bit pref]". */
export function fmtMem(start: number, end: number, is64 = false, pref = false): string {
  return `[mem ${hexw(start, 8)}-${hexw(end, 8)}${is64 ? ' 64bit' : ''}${pref ? ' pref' : ''}]`;
}

/** %pR of a bus range: "[bus 00-ff]". */
export function fmtBus(start: number, end: number): string {
  const h = (n: number) => n.toString(16).padStart(2, '0');
  return `[bus ${h(start)}-${h(end)}]`;
}

/** One PCI host bridge the generic driver probed: its windows, ECAM mapping and functions. */
export class PciHostBridge implements PciHostRef {
  readonly devices: PciDev[] = [];
  /** Allocation cursors of the windows, for BAR assignment (bottom-up first fit). */
  private readonly cursors: number[];

  constructor(
    readonly core: PciCore,
    readonly dev: Device,
    readonly node: OfNode,
    readonly domain: number,
    readonly busStart: number,
    readonly busEnd: number,
    readonly windows: readonly PciHostWindow[],
    private readonly cfg: IoMem,
  ) {
    this.cursors = windows.map((w) => w.cpuStart);
  }

  /** pci_ecam_map_bus + a dword read: all ones for a bus outside the range or a function nobody decodes. */
  readConfig(bus: number, devfn: number, where: number): number {
    if (bus < this.busStart || bus > this.busEnd || where < 0 || where > 0xffc || !this.cfg.mapped) return 0xffffffff;
    const off = ((bus - this.busStart) << ECAM_BUS_SHIFT) | ((devfn & 0xff) << ECAM_DEVFN_SHIFT) | (where & 0xffc);
    try {
      return this.cfg.read32(off) >>> 0;
    } catch (e) {
      if (e instanceof BusError) return 0xffffffff; // a master abort
      throw e;
    }
  }

  writeConfig(bus: number, devfn: number, where: number, value: number): void {
    if (bus < this.busStart || bus > this.busEnd || where < 0 || where > 0xffc || !this.cfg.mapped) return;
    const off = ((bus - this.busStart) << ECAM_BUS_SHIFT) | ((devfn & 0xff) << ECAM_DEVFN_SHIFT) | (where & 0xffc);
    try {
      this.cfg.write32(off, value >>> 0);
    } catch (e) {
      if (!(e instanceof BusError)) throw e;
    }
  }

  /** Places a BAR in the first window of its kind with room (aligned to its size). The CPU start, or -1. */
  allocate(r: PciResource): number {
    for (let i = 0; i < this.windows.length; i++) {
      const w = this.windows[i]!;
      if (w.space === 'io' || r.io) continue;
      if (w.prefetch && !r.prefetch) continue; // a non-prefetchable BAR never goes in a prefetchable window
      const at = Math.ceil(this.cursors[i]! / r.size) * r.size;
      if (at + r.size > w.cpuStart + w.size) continue;
      // a 32-bit BAR must get a PCI address below 4 GiB
      if (!r.is64 && at - w.cpuStart + w.pciStart + r.size > 2 ** 32) continue;
      this.cursors[i] = at + r.size;
      return at;
    }
    return -1;
  }

  /** The PCI bus address a CPU address of a window corresponds to. */
  busAddress(cpu: number): number {
    for (const w of this.windows) if (cpu >= w.cpuStart && cpu < w.cpuStart + w.size) return cpu - w.cpuStart + w.pciStart;
    return cpu;
  }
}

// ------------------------------------------------------------------ config accessors

/** pci_read_config_dword. */
export function pciReadConfigDword(pdev: PciDev, where: number): number {
  return pdev.host.readConfig(pdev.busNr, pdev.devfn, where & ~3);
}

/** pci_read_config_word: the half-word at `where` (2-byte aligned) out of its dword. */
export function pciReadConfigWord(pdev: PciDev, where: number): number {
  return (pciReadConfigDword(pdev, where) >>> ((where & 2) * 8)) & 0xffff;
}

/** pci_read_config_byte. */
export function pciReadConfigByte(pdev: PciDev, where: number): number {
  return (pciReadConfigDword(pdev, where) >>> ((where & 3) * 8)) & 0xff;
}

/** pci_write_config_dword. */
export function pciWriteConfigDword(pdev: PciDev, where: number, value: number): void {
  pdev.host.writeConfig(pdev.busNr, pdev.devfn, where & ~3, value);
}

/**
 * pci_write_config_word through a dword-only window: read, merge, write back (as Linux's
 * pci_generic_config_write32 does, with its caveat that write-one-to-clear bits in the other
 * half are written back as read).
 */
export function pciWriteConfigWord(pdev: PciDev, where: number, value: number): void {
  const sh = (where & 2) * 8;
  const old = pciReadConfigDword(pdev, where);
  pciWriteConfigDword(pdev, where, ((old & ~(0xffff << sh)) | ((value & 0xffff) << sh)) >>> 0);
}

function setCommandBits(pdev: PciDev, set: number, clear: number): number {
  const old = pciReadConfigWord(pdev, P.PCI_COMMAND);
  const cmd = (old | set) & ~clear & 0xffff;
  if (cmd !== old) pciWriteConfigWord(pdev, P.PCI_COMMAND, cmd);
  return old;
}

/** pci_enable_device_mem: lets the function decode its memory BARs. 0, or -EINVAL when it has an unassigned one. */
export function pciEnableDeviceMem(pdev: PciDev): number {
  for (const r of pdev.bars) {
    if (!r.io && !r.assigned) {
      pdev.err(`BAR ${r.bar} ${fmtMem(0, r.size - 1, r.is64, r.prefetch)}: not assigned; can't enable device`);
      return -EINVAL;
    }
  }
  const old = setCommandBits(pdev, P.PCI_COMMAND_MEMORY, 0);
  if (!(old & P.PCI_COMMAND_MEMORY)) pdev.info(`enabling device (${hexw(old, 4).slice(2)} -> ${hexw(old | P.PCI_COMMAND_MEMORY, 4).slice(2)})`);
  return 0;
}

/** pci_set_master: sets bus master enable, so the function may issue DMA. */
export function pciSetMaster(pdev: PciDev): void {
  const old = setCommandBits(pdev, P.PCI_COMMAND_MASTER, 0);
  if (!(old & P.PCI_COMMAND_MASTER)) pdev.dbg('enabling bus mastering');
}

/** pci_clear_master. */
export function pciClearMaster(pdev: PciDev): void {
  setCommandBits(pdev, 0, P.PCI_COMMAND_MASTER);
}

// ------------------------------------------------------------------ enumeration

/** pci_bus_read_dev_vendor_id: false for the patterns that mean "nothing there". */
function vendorPresent(l: number): boolean {
  return !(l === 0xffffffff || l === 0 || l === 0x0000ffff || l === 0xffff0000);
}

/** pci_type_str for a function without a PCIe capability. */
function typeStr(hdrType: number): string {
  if (hdrType === P.PCI_HEADER_TYPE_BRIDGE) return 'conventional PCI bridge';
  if (hdrType === P.PCI_HEADER_TYPE_CARDBUS) return 'CardBus bridge';
  return 'conventional PCI endpoint';
}

/** of_pci_find_child_device: the child of the bridge node whose `reg` names `devfn`. */
function findChildNode(host: OfNode, devfn: number): OfNode | null {
  for (const c of host.children) {
    const reg = c.property('reg');
    if (!reg || reg.length < 20) continue;
    if (((be32(reg, 0) >>> 8) & 0xff) === devfn) return c;
  }
  return null;
}

/**
 * __pci_read_base for BARs 0..n-1 (decoding switched off while sizing, as pci_read_bases
 * does): writes all ones, reads back the size mask, restores the value.
 */
function readBases(host: PciHostBridge, bus: number, devfn: number, count: number): PciResource[] {
  const rd = (w: number) => host.readConfig(bus, devfn, w);
  const wr = (w: number, v: number) => host.writeConfig(bus, devfn, w, v);
  const cmdDword = rd(P.PCI_COMMAND);
  const decode = cmdDword & (P.PCI_COMMAND_MEMORY | P.PCI_COMMAND_IO);
  if (decode) wr(P.PCI_COMMAND, (cmdDword & ~decode & 0xffff) >>> 0);
  const out: PciResource[] = [];
  for (let i = 0; i < count; i++) {
    const reg = P.PCI_BASE_ADDRESS_0 + 4 * i;
    const l = rd(reg);
    wr(reg, 0xffffffff);
    let sz = rd(reg);
    wr(reg, l);
    if (sz === 0xffffffff) sz = 0;
    const lv = l === 0xffffffff ? 0 : l;
    if (sz === 0) continue;
    const io = (lv & P.PCI_BASE_ADDRESS_SPACE_IO) !== 0;
    const is64 = !io && (lv & P.PCI_BASE_ADDRESS_MEM_TYPE_MASK) === P.PCI_BASE_ADDRESS_MEM_TYPE_64;
    const prefetch = !io && (lv & P.PCI_BASE_ADDRESS_MEM_PREFETCH) !== 0;
    const mask = io ? 0xfffffffc : 0xfffffff0;
    const lo = (sz & mask) >>> 0;
    let hi = 0;
    let baseHi = 0;
    if (is64 && i + 1 < count) {
      const reg2 = reg + 4;
      const l2 = rd(reg2);
      wr(reg2, 0xffffffff);
      hi = rd(reg2);
      wr(reg2, l2);
      baseHi = l2;
      i++;
    }
    // the size is the lowest set bit of the mask (pci_size)
    let size: number;
    if (lo !== 0) size = (lo & -lo) >>> 0;
    else if (hi !== 0) size = ((hi & -hi) >>> 0) * 2 ** 32;
    else continue;
    const start = baseHi * 2 ** 32 + ((lv & mask) >>> 0);
    out.push({ bar: is64 ? i - 1 : i, start, end: start + size - 1, size, is64, prefetch, io, assigned: false });
  }
  if (decode) wr(P.PCI_COMMAND, cmdDword & 0xffff);
  return out;
}

/** The PCI core: host bridges, enumeration, and the built-in generic ECAM host driver. */
export class PciCore {
  private readonly hosts: PciHostBridge[] = [];
  private nextDomain = 0;
  private hostDriver: Driver | null = null;

  constructor(readonly kernel: Kernel) {}

  /** The host bridges probed so far. */
  hostBridges(): readonly PciHostBridge[] {
    return this.hosts;
  }

  /** Every PCI function enumerated, in bus order. */
  devices(): PciDev[] {
    return this.hosts.flatMap((h) => h.devices);
  }

  /** pci_register_driver: a driver for PCI functions (matched on its id table). */
  registerDriver(drv: PciDriver): number {
    if (!drv || !Array.isArray(drv.idTable)) return -EINVAL;
    return this.kernel.drivers.registerDriver(drv, pciBusType);
  }

  /**
   * Registers the built-in `pci-host-generic` platform driver (builtin_platform_driver: a
   * device initcall). Idempotent.
   */
  registerHostDriver(): number {
    if (this.hostDriver) return 0;
    const core = this;
    const drv: Driver = {
      name: 'pci-host-generic',
      ofMatchTable: [{ compatible: 'pci-host-ecam-generic' }],
      suppressBindAttrs: true,
      probe: (dev) => core.hostProbe(dev),
      remove: (dev) => core.hostRemove(dev),
    };
    const r = this.kernel.drivers.registerDriver(drv);
    if (r === 0) this.hostDriver = drv;
    return r;
  }

  /** pci_host_common_probe for an ECAM bridge. */
  private hostProbe(dev: Device): number {
    const node = dev.ofNode;
    if (!node) return -ENODEV;
    // bus-range, or 0-255 (devm_of_pci_get_host_bridge_resources)
    let busStart = 0;
    let busEnd = 0xff;
    const br = node.property('bus-range');
    if (br && br.length === 8 && be32(br, 0) <= be32(br, 4) && be32(br, 4) <= 0xff) {
      busStart = be32(br, 0);
      busEnd = be32(br, 4);
    } else {
      dev.info(`  No bus range found for ${node.fullName}, using ${fmtBus(0, 0xff)}`);
    }
    const windows = this.parseRanges(dev, node);
    if (typeof windows === 'number') return windows;
    const cfgRes = dev.resource('mem', 0);
    if (!cfgRes) {
      dev.err('missing "reg" property');
      return -EINVAL;
    }
    // pci_ecam_create: the window must hold the bus range, else the range is cut
    const size = cfgRes.end - cfgRes.start + 1;
    const maxBuses = Math.floor(size / 2 ** ECAM_BUS_SHIFT);
    if (maxBuses < 1) {
      dev.err(`ECAM area ${fmtMem(cfgRes.start, cfgRes.end)} holds no bus`);
      return -EINVAL;
    }
    if (busEnd - busStart + 1 > maxBuses) {
      const want = fmtBus(busStart, busEnd);
      busEnd = busStart + maxBuses - 1;
      dev.warn(`ECAM area ${fmtMem(cfgRes.start, cfgRes.end)} can only accommodate ${fmtBus(busStart, busEnd)} (reduced from ${want} desired)`);
    }
    const cfgLen = (busEnd - busStart + 1) * 2 ** ECAM_BUS_SHIFT;
    const cfg = this.kernel.drivers.ioremapResource(dev, { kind: 'mem', start: cfgRes.start, end: cfgRes.start + cfgLen - 1, name: cfgRes.name });
    if (typeof cfg === 'number') return cfg;
    dev.info(`ECAM at ${fmtMem(cfgRes.start, cfgRes.start + cfgLen - 1)} for ${fmtBus(busStart, busEnd)}`);
    const dom = ofPropertyReadU32(node, 'linux,pci-domain');
    const domain = dom >= 0 ? dom : this.nextDomain++;
    const host = new PciHostBridge(this, dev, node, domain, busStart, busEnd, windows, cfg);
    const busName = `${domain.toString(16).padStart(4, '0')}:${busStart.toString(16).padStart(2, '0')}`;
    dev.info(`PCI host bridge to bus ${busName}`);
    this.kernel.log.info(`pci_bus ${busName}`, `root bus resource ${fmtBus(busStart, busEnd)}`);
    for (const w of windows) {
      if (w.space === 'io') continue;
      const off = w.cpuStart !== w.pciStart ? ` (bus address [${hexw(w.pciStart, 8)}-${hexw(w.pciStart + w.size - 1, 8)}])` : '';
      this.kernel.log.info(`pci_bus ${busName}`, `root bus resource ${fmtMem(w.cpuStart, w.cpuStart + w.size - 1, false, w.prefetch)}${off}`);
    }
    const found = this.scanBus(host, busStart);
    this.assignResources(host, found);
    this.hosts.push(host);
    dev.setDrvdata(host);
    // pci_bus_add_devices: each function becomes visible, gets its IOMMU, may bind a driver
    for (const pdev of found) {
      const r = this.kernel.drivers.registerDevice(pdev);
      if (r < 0) {
        pdev.err(`device_add failed: ${errnoName(r)}`);
        continue;
      }
      host.devices.push(pdev);
      this.kernel.iommu.deviceAdded(pdev);
    }
    return 0;
  }

  private hostRemove(dev: Device): void {
    const i = this.hosts.findIndex((h) => h.dev === dev);
    if (i < 0) return;
    const host = this.hosts[i]!;
    for (const pdev of [...host.devices].reverse()) this.kernel.drivers.unregisterDevice(pdev);
    host.devices.length = 0;
    this.hosts.splice(i, 1);
  }

  /** devm_of_pci_get_host_bridge_resources: the `ranges` windows, logged as Linux lists them. */
  private parseRanges(dev: Device, node: OfNode): PciHostWindow[] | number {
    const out: PciHostWindow[] = [];
    const ranges = node.property('ranges');
    if (!ranges) return out;
    const na = 3;
    const pna = (() => {
      for (let n = node.parent; n; n = n.parent) {
        const v = ofPropertyReadU32(n, '#address-cells');
        if (v >= 0) return v;
      }
      return 2;
    })();
    const ns = Math.max(1, ofPropertyReadU32(node, '#size-cells'));
    const one = (na + pna + ns) * 4;
    if (ranges.length % one !== 0) {
      dev.err(`${node.fullName}: bad ranges length ${ranges.length}`);
      return -EINVAL;
    }
    dev.info(`host bridge ${node.fullName} ranges:`);
    for (let off = 0; off < ranges.length; off += one) {
      const hi = be32(ranges, off);
      const pci = ofReadNumber(ranges, off + 4, 2);
      const parent = ofReadNumber(ranges, off + 12, pna);
      const size = ofReadNumber(ranges, off + 12 + pna * 4, ns);
      if (pci === undefined || parent === undefined || size === undefined || size === 0) continue;
      const cpu = ofTranslateAddress(node, parent);
      const code = (hi >>> 24) & 3;
      if (code === P.OF_PCI_SPACE_CONFIG) continue;
      const space = code === P.OF_PCI_SPACE_IO ? 'io' : code === P.OF_PCI_SPACE_MEM64 ? 'mem64' : 'mem';
      const prefetch = (hi & P.OF_PCI_PREFETCH) !== 0;
      if (cpu < 0) {
        dev.err(`  failed to translate ${hexw(parent, 10)} (${space})`);
        continue;
      }
      const kind = space === 'io' ? 'IO' : 'MEM';
      dev.info(`  ${kind.padStart(6)} ${hexw(cpu, 10)}..${hexw(cpu + size - 1, 10)} -> ${hexw(pci, 10)}`);
      out.push({ space, prefetch, cpuStart: cpu, pciStart: pci, size });
    }
    return out;
  }

  /** pci_scan_child_bus for the root bus: slots 0..31, functions as the multi-function bit allows. */
  private scanBus(host: PciHostBridge, bus: number): PciDev[] {
    const found: PciDev[] = [];
    for (let slot = 0; slot < 32; slot++) {
      for (let fn = 0; fn < 8; fn++) {
        const devfn = P.PCI_DEVFN(slot, fn);
        const pdev = this.scanDevice(host, bus, devfn, fn > 0);
        if (!pdev) {
          if (fn === 0) break; // function 0 is required
          continue;
        }
        found.push(pdev);
        if (fn === 0 && !pdev.multifunction) break; // only multi-function devices have more functions
      }
    }
    return found;
  }

  /** pci_scan_device + pci_setup_device: the function at bus/devfn, or null when none answers. */
  private scanDevice(host: PciHostBridge, bus: number, devfn: number, laterFunction: boolean): PciDev | null {
    const id = host.readConfig(bus, devfn, P.PCI_VENDOR_ID);
    if (!vendorPresent(id)) return null;
    const hdr = (host.readConfig(bus, devfn, P.PCI_HEADER_TYPE & ~3) >>> 16) & 0xff;
    const type = hdr & P.PCI_HEADER_TYPE_MASK;
    const classRev = host.readConfig(bus, devfn, P.PCI_CLASS_REVISION);
    const name = pciName(host.domain, bus, devfn);
    const who = `pci ${name}`;
    if (type > P.PCI_HEADER_TYPE_CARDBUS) {
      this.kernel.log.err(who, `unknown header type ${type.toString(16).padStart(2, '0')}, ignoring device`);
      return null;
    }
    const vendor = id & 0xffff;
    const device = id >>> 16;
    const node = bus === host.busStart ? findChildNode(host.node, devfn) : null;
    const pdev = new PciDev(this.kernel.drivers, pciBusType, {
      name,
      parent: host.dev,
      ofNode: node,
      host,
      busNr: bus,
      devfn,
      vendor,
      device,
      classCode: classRev >>> 8,
      revision: classRev & 0xff,
      hdrType: type,
      // pci_scan_slot marks every function after 0 multi-function, whatever its own header says
      multifunction: (hdr & P.PCI_HEADER_TYPE_MFD) !== 0 || laterFunction,
      matchDriver: node ? ofDeviceIsAvailable(node) : true,
    });
    this.kernel.log.info(who, `[${vendor.toString(16).padStart(4, '0')}:${device.toString(16).padStart(4, '0')}] type ${type.toString(16).padStart(2, '0')} class ${hexw(classRev >>> 8, 6)} ${typeStr(type)}`);
    const nbars = type === P.PCI_HEADER_TYPE_NORMAL ? P.PCI_STD_NUM_BARS : type === P.PCI_HEADER_TYPE_BRIDGE ? P.PCI_BRIDGE_NUM_BARS : 1;
    for (const r of readBases(host, bus, devfn, nbars)) {
      pdev.barList.push(r);
      if (!r.io) this.kernel.log.info(who, `BAR ${r.bar} ${fmtMem(r.start, r.end, r.is64, r.prefetch)}`);
    }
    if (type === P.PCI_HEADER_TYPE_BRIDGE) this.kernel.log.info(who, 'PCI bridge: buses behind it are not scanned by this model');
    return pdev;
  }

  /** pci_bus_assign_resources: every memory BAR placed in a window and written to the function. */
  private assignResources(host: PciHostBridge, devs: readonly PciDev[]): void {
    for (const pdev of devs) {
      const who = `pci ${pdev.name}`;
      for (const r of pdev.barList) {
        if (r.io) {
          this.kernel.log.info(who, `BAR ${r.bar} [io  size ${hexw(r.size, 4)}]: can't assign; no space`);
          continue;
        }
        const at = host.allocate(r);
        if (at < 0) {
          this.kernel.log.info(who, `BAR ${r.bar} [mem size ${hexw(r.size, 8)}${r.is64 ? ' 64bit' : ''}${r.prefetch ? ' pref' : ''}]: can't assign; no space`);
          this.kernel.log.info(who, `BAR ${r.bar} [mem size ${hexw(r.size, 8)}${r.is64 ? ' 64bit' : ''}${r.prefetch ? ' pref' : ''}]: failed to assign`);
          continue;
        }
        r.start = at;
        r.end = at + r.size - 1;
        r.assigned = true;
        const busAddr = host.busAddress(at);
        const reg = P.PCI_BASE_ADDRESS_0 + 4 * r.bar;
        const lo = busAddr % 2 ** 32;
        const flags = host.readConfig(pdev.busNr, pdev.devfn, reg) & 0xf;
        host.writeConfig(pdev.busNr, pdev.devfn, reg, (lo | flags) >>> 0);
        if (r.is64) host.writeConfig(pdev.busNr, pdev.devfn, reg + 4, Math.floor(busAddr / 2 ** 32));
        this.kernel.log.info(who, `BAR ${r.bar} ${fmtMem(r.start, r.end, r.is64, r.prefetch)}: assigned`);
      }
    }
  }
}
