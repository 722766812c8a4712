/**
 * The PCI core's own configuration-space definitions (include/uapi/linux/pci_regs.h's facts,
 * written for this package; the hardware model keeps its own).
 */
export const PCI_VENDOR_ID = 0x00;
export const PCI_DEVICE_ID = 0x02;
export const PCI_COMMAND = 0x04;
export const PCI_COMMAND_IO = 0x1;
export const PCI_COMMAND_MEMORY = 0x2;
export const PCI_COMMAND_MASTER = 0x4;
export const PCI_STATUS = 0x06;
export const PCI_CLASS_REVISION = 0x08;
export const PCI_HEADER_TYPE = 0x0e;
export const PCI_HEADER_TYPE_MASK = 0x7f;
export const PCI_HEADER_TYPE_MFD = 0x80;
export const PCI_HEADER_TYPE_NORMAL = 0;
export const PCI_HEADER_TYPE_BRIDGE = 1;
export const PCI_HEADER_TYPE_CARDBUS = 2;
export const PCI_BASE_ADDRESS_0 = 0x10;
export const PCI_BASE_ADDRESS_SPACE_IO = 0x1;
export const PCI_BASE_ADDRESS_MEM_TYPE_MASK = 0x6;
export const PCI_BASE_ADDRESS_MEM_TYPE_64 = 0x4;
export const PCI_BASE_ADDRESS_MEM_PREFETCH = 0x8;
export const PCI_ROM_ADDRESS = 0x30;
export const PCI_ROM_ADDRESS1 = 0x38;
export const PCI_SECONDARY_BUS = 0x19;

/** Number of BARs of a type 0 header, of a type 1 header. */
export const PCI_STD_NUM_BARS = 6;
export const PCI_BRIDGE_NUM_BARS = 2;

/** Function-number helpers (PCI_SLOT, PCI_FUNC, PCI_DEVFN). */
export function PCI_SLOT(devfn: number): number {
  return (devfn >>> 3) & 0x1f;
}
export function PCI_FUNC(devfn: number): number {
  return devfn & 7;
}
export function PCI_DEVFN(slot: number, fn: number): number {
  return ((slot & 0x1f) << 3) | (fn & 7);
}

/** PCIBIOS return codes of config accessors. */
export const PCIBIOS_SUCCESSFUL = 0;
export const PCIBIOS_DEVICE_NOT_FOUND = 0x86;
export const PCIBIOS_BAD_REGISTER_NUMBER = 0x87;

/** Root-complex `ranges` space codes (phys.hi bits 25:24, the OF PCI binding). */
export const OF_PCI_SPACE_CONFIG = 0;
export const OF_PCI_SPACE_IO = 1;
export const OF_PCI_SPACE_MEM32 = 2;
export const OF_PCI_SPACE_MEM64 = 3;
/** phys.hi bit 30: prefetchable. */
export const OF_PCI_PREFETCH = 0x4000_0000;
