import type { DriverCore } from '../driver/core.js';
import { Device, type DeviceOptions } from '../driver/device.js';
import type { BusType, Driver } from '../driver/types.js';
import type { OfNode } from '../of/node.js';
import { PCI_FUNC, PCI_SLOT } from './regs.js';

/** One entry of a PCI driver's id table (struct pci_device_id; PCI_ANY_ID = 0xffffffff). */
export interface PciDeviceId {
  readonly vendor: number;
  readonly device: number;
  /** Class code to match after `classMask` (default: any). */
  readonly classCode?: number;
  readonly classMask?: number;
}

export const PCI_ANY_ID = 0xffffffff;

/** A PCI driver: a Driver whose devices are matched by vendor/device/class. */
export interface PciDriver extends Driver {
  readonly idTable: readonly PciDeviceId[];
}

/** A resource of a PCI function (a BAR): CPU address range and flags as Linux prints them. */
export interface PciResource {
  /** BAR index (0..5). */
  readonly bar: number;
  start: number;
  end: number;
  readonly size: number;
  readonly is64: boolean;
  readonly prefetch: boolean;
  readonly io: boolean;
  /** True once the PCI core placed it in a host bridge window and wrote the BAR. */
  assigned: boolean;
}

/** The host bridge a function sits below (what the IOMMU and DMA code need of it). */
export interface PciHostRef {
  /** The host bridge's platform device. */
  readonly dev: Device;
  /** Its DT node: iommu-map, msi-map, dma-coherent are read here. */
  readonly node: OfNode;
  /** PCI domain (segment) number. */
  readonly domain: number;
  /** Config-space access to the functions below it: dword reads/writes, all ones / ignored when absent. */
  readConfig(bus: number, devfn: number, where: number): number;
  writeConfig(bus: number, devfn: number, where: number, value: number): void;
}

export interface PciDevOptions extends DeviceOptions {
  readonly host: PciHostRef;
  readonly busNr: number;
  readonly devfn: number;
  readonly vendor: number;
  readonly device: number;
  readonly classCode: number;
  readonly revision: number;
  readonly hdrType: number;
  readonly multifunction: boolean;
  /** False when the function's DT node says status = "disabled": enumerated, but no driver binds. */
  readonly matchDriver: boolean;
}

/** pci_name: "dddd:bb:dd.f". */
export function pciName(domain: number, bus: number, devfn: number): string {
  const h = (n: number, w: number) => n.toString(16).padStart(w, '0');
  return `${h(domain, 4)}:${h(bus, 2)}:${h(PCI_SLOT(devfn), 2)}.${PCI_FUNC(devfn)}`;
}

/** struct pci_dev: a PCI function found by enumeration. */
export class PciDev extends Device {
  readonly host: PciHostRef;
  readonly busNr: number;
  readonly devfn: number;
  readonly vendor: number;
  readonly deviceId: number;
  readonly classCode: number;
  readonly revision: number;
  readonly hdrType: number;
  readonly multifunction: boolean;
  readonly matchDriver: boolean;
  /** @internal The BARs enumeration found (pci_dev->resource[0..5]). */
  readonly barList: PciResource[] = [];

  constructor(core: DriverCore, bus: BusType, opts: PciDevOptions) {
    super(core, bus, opts);
    this.host = opts.host;
    this.busNr = opts.busNr;
    this.devfn = opts.devfn;
    this.vendor = opts.vendor;
    this.deviceId = opts.device;
    this.classCode = opts.classCode;
    this.revision = opts.revision;
    this.hdrType = opts.hdrType;
    this.multifunction = opts.multifunction;
    this.matchDriver = opts.matchDriver;
  }

  /** Requester ID: bus << 8 | devfn (PCI_DEVID). */
  get rid(): number {
    return (this.busNr << 8) | this.devfn;
  }

  /** The function's BARs (as sized and assigned at enumeration). */
  get bars(): readonly PciResource[] {
    return this.barList;
  }
}

/** dev_is_pci. */
export function devIsPci(dev: Device): dev is PciDev {
  return dev instanceof PciDev;
}

function idMatches(id: PciDeviceId, dev: PciDev): boolean {
  if (id.vendor !== PCI_ANY_ID && id.vendor !== dev.vendor) return false;
  if (id.device !== PCI_ANY_ID && id.device !== dev.deviceId) return false;
  if (id.classCode !== undefined && ((id.classCode ^ dev.classCode) & (id.classMask ?? 0xffffff)) !== 0) return false;
  return true;
}

/**
 * The PCI bus type: a PCI driver matches a function its id table names, unless the
 * function's DT node is disabled (pci_bus_add_device leaves match_driver false then).
 */
export const pciBusType: BusType = {
  name: 'pci',
  match(dev: Device, drv: Driver): number {
    if (!(dev instanceof PciDev) || !dev.matchDriver) return 0;
    const table = (drv as Partial<PciDriver>).idTable;
    if (!Array.isArray(table)) return 0;
    return table.some((id) => idMatches(id, dev)) ? 1 : 0;
  },
};
