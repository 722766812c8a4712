/**
 * One PCI function's configuration space as the PCI Local Bus specification (3.0, chapter 6)
 * lays out a type 0 header: vendor and device IDs, the command register (memory space and
 * bus master enable are the bits that matter here), class code, header type with the
 * multi-function bit, Base Address Registers that report their size by returning zeros in the
 * address bits below it after software writes all ones, and the interrupt line/pin bytes.
 * Extended configuration space (0x100..0xfff) is implemented as reads of zero: the function has
 * no capabilities (the capabilities-list status bit is clear).
 *
 * Its DMA goes out through a BusMasterPort (the IOMMU the host bridge's `iommu-map` names,
 * with the stream ID that map gives for its requester ID, or no IOMMU at all); while the
 * command register's bus master enable bit is clear the function issues no request.
 */
import type { BusMasterPort } from '../bus-master-port.js';

/** Config-space register offsets of a type 0 header (PCI 3.0 section 6.1). */
export const PCI_CFG_VENDOR_DEVICE = 0x00;
export const PCI_CFG_COMMAND_STATUS = 0x04;
export const PCI_CFG_CLASS_REVISION = 0x08;
export const PCI_CFG_HEADER = 0x0c;
export const PCI_CFG_BAR0 = 0x10;
export const PCI_CFG_SUBSYSTEM = 0x2c;
export const PCI_CFG_ROM = 0x30;
export const PCI_CFG_CAP_PTR = 0x34;
export const PCI_CFG_INTERRUPT = 0x3c;

/** Command register bits (PCI 3.0 section 6.2.2). */
export const PCI_CMD_IO_SPACE = 1 << 0;
export const PCI_CMD_MEMORY_SPACE = 1 << 1;
export const PCI_CMD_BUS_MASTER = 1 << 2;
export const PCI_CMD_PARITY = 1 << 6;
export const PCI_CMD_SERR = 1 << 8;
export const PCI_CMD_INTX_DISABLE = 1 << 10;
/** The command bits this model implements as read/write; the others read as zero. */
const CMD_WRITABLE = PCI_CMD_MEMORY_SPACE | PCI_CMD_BUS_MASTER | PCI_CMD_PARITY | PCI_CMD_SERR | PCI_CMD_INTX_DISABLE;

/** Header type byte: bit 7 is the multi-function flag, the low bits the layout (0: endpoint). */
export const PCI_HEADER_MULTIFUNCTION = 0x80;

/** What a function is, as the board describes it. */
export interface PciFunctionSpec {
  /** Requester ID: bus << 8 | device << 3 | function. */
  readonly rid: number;
  readonly vendor: number;
  readonly device: number;
  /** 24-bit class code (base class, sub-class, programming interface). */
  readonly classCode: number;
  /** Size of BAR0/1, a 64-bit non-prefetchable memory BAR (power of two, at least 4 KiB; 0: none). */
  readonly bar0Size?: number;
  /** Where the description came from, for listings (`/pci@40000000/ethernet@0,0`, `default`, `gki,pci-endpoints`). */
  readonly source: string;
}

function hex4(n: number): string {
  return n.toString(16).padStart(4, '0');
}

/** "bb:dd.f" for a requester ID. */
export function pciBdf(rid: number): string {
  return `${(rid >>> 8).toString(16).padStart(2, '0')}:${((rid >>> 3) & 0x1f).toString(16).padStart(2, '0')}.${rid & 7}`;
}

export class PciFunction {
  readonly rid: number;
  readonly vendor: number;
  readonly device: number;
  readonly classCode: number;
  readonly bar0Size: number;
  readonly source: string;
  /** Set by the host when another function of the same device exists (function 0 then reports it). */
  multiFunction = false;
  private command = 0;
  private cacheLine = 0;
  private latency = 0;
  private intLine = 0;
  /** BAR0 (low, with the type bits) and BAR1 (the upper half of the 64-bit address). */
  private bar0 = 0;
  private bar1 = 0;
  /**
   * The port its DMA goes out through (attached to its IOMMU model by the host's link pass),
   * or undefined while unlinked or when its IOMMU has no model on the board.
   */
  port: BusMasterPort | undefined;
  /** The IOMMU node its requester ID maps to ('' for none: DMA is untranslated). */
  iommu = '';
  /** The stream ID the IOMMU sees (the requester ID mapped through `iommu-map`), -1 without an IOMMU. */
  streamId = -1;

  constructor(spec: PciFunctionSpec) {
    const size = spec.bar0Size ?? 0x1000;
    if (size !== 0 && (size < 0x1000 || (size & (size - 1)) !== 0 || size > 2 ** 31))
      throw new RangeError(`${pciBdf(spec.rid)}: BAR0 size ${size} is not a power of two between 4 KiB and 2 GiB`);
    this.rid = spec.rid;
    this.vendor = spec.vendor & 0xffff;
    this.device = spec.device & 0xffff;
    this.classCode = spec.classCode & 0xffffff;
    this.bar0Size = size;
    this.source = spec.source;
    this.bar0 = size ? 0x4 : 0; // memory BAR, type 10b (64-bit), not prefetchable
  }

  get name(): string {
    return `${pciBdf(this.rid)} [${hex4(this.vendor)}:${hex4(this.device)}]`;
  }

  /** True while the command register lets the function master the bus. */
  get busMasterEnabled(): boolean {
    return (this.command & PCI_CMD_BUS_MASTER) !== 0;
  }

  get memorySpaceEnabled(): boolean {
    return (this.command & PCI_CMD_MEMORY_SPACE) !== 0;
  }

  /** The 64-bit address BAR0/1 hold now (what software assigned). */
  get bar0Address(): number {
    return this.bar1 * 2 ** 32 + ((this.bar0 & ~0xf) >>> 0);
  }

  /** A dword of configuration space (`reg` 4-byte aligned, below 0x1000). */
  read(reg: number): number {
    switch (reg) {
      case PCI_CFG_VENDOR_DEVICE:
        return ((this.device << 16) | this.vendor) >>> 0;
      case PCI_CFG_COMMAND_STATUS:
        return this.command; // status: no capabilities, nothing to report
      case PCI_CFG_CLASS_REVISION:
        return ((this.classCode << 8) | 0x01) >>> 0; // revision 1
      case PCI_CFG_HEADER:
        return ((this.multiFunction ? PCI_HEADER_MULTIFUNCTION : 0) << 16) | (this.latency << 8) | this.cacheLine;
      case PCI_CFG_BAR0:
        return this.bar0 >>> 0;
      case PCI_CFG_BAR0 + 4:
        return this.bar0Size ? this.bar1 >>> 0 : 0;
      case PCI_CFG_SUBSYSTEM:
        return ((this.device << 16) | this.vendor) >>> 0;
      case PCI_CFG_INTERRUPT:
        return (1 << 8) | this.intLine; // INTA#
      default:
        return 0; // unimplemented BARs, expansion ROM, capability pointer, extended space
    }
  }

  /** A dword write of configuration space; read-only fields and unimplemented registers ignore it. */
  write(reg: number, value: number): void {
    switch (reg) {
      case PCI_CFG_COMMAND_STATUS: {
        this.command = value & CMD_WRITABLE;
        if (this.port) this.port.enabled = this.busMasterEnabled;
        return;
      }
      case PCI_CFG_HEADER:
        this.cacheLine = value & 0xff;
        this.latency = (value >>> 8) & 0xff;
        return;
      case PCI_CFG_BAR0:
        // the address bits below the size are hardwired to zero: writing all ones reads back the size
        if (this.bar0Size) this.bar0 = ((value & ~(this.bar0Size - 1) & ~0xf) | 0x4) >>> 0;
        return;
      case PCI_CFG_BAR0 + 4:
        if (this.bar0Size) this.bar1 = value >>> 0;
        return;
      case PCI_CFG_INTERRUPT:
        this.intLine = value & 0xff;
        return;
      default:
        return;
    }
  }

  /** Back to the reset state (command register clear: no decoding, no bus mastering). */
  reset(): void {
    this.command = 0;
    this.cacheLine = 0;
    this.latency = 0;
    this.intLine = 0;
    this.bar0 = this.bar0Size ? 0x4 : 0;
    this.bar1 = 0;
    if (this.port) this.port.enabled = false;
  }
}
