/**
 * Which properties the project reads, for the DTS compiler's handling of macros nobody
 * defined. Kernel trees trimmed for this model keep their `#include <dt-bindings/...>` lines,
 * and headers this package does not ship (clock, reset, power-domain, interconnect IDs) may
 * still be used by properties that survived trimming (`interconnects = <&noc MASTER_GPU 0 ...>`).
 * In a property nothing here reads, such a macro compiles to 0 with a warning naming the
 * macro, the missing headers and the place; in a property listed here (addresses, interrupts,
 * IOMMU specifiers, cell counts, memory, status, the model's `gki,*` overrides) it stays an
 * error, since a made-up 0 there would silently describe different hardware.
 */

/** Properties the board, the OF layer, the models or the drivers read (besides `#...` and `gki,...`). */
export const INTERPRETED_PROPERTIES: ReadonlySet<string> = new Set([
  // addresses and buses
  'reg', 'ranges', 'dma-ranges', 'mask',
  // interrupts
  'interrupts', 'interrupts-extended', 'interrupt-parent', 'interrupt-map', 'interrupt-map-mask',
  // IOMMUs and their masters
  'iommus', 'iommu-map', 'iommu-map-mask', 'mmu-masters', 'stream-match-mask',
  // memory and reserved memory
  'memory-region', 'size', 'alignment', 'alloc-ranges', 'linux,usable-memory',
  // identity and state
  'status', 'compatible', 'device_type', 'model', 'phandle', 'linux,phandle', 'qcom,chipid',
]);

/**
 * True when `name` is a property the project interprets: an unknown macro in it is an error.
 * Cell counts (`#address-cells`, `#iommu-cells`, `#global-interrupts`, ...) and `gki,*`
 * overrides count as interpreted.
 */
export function isInterpretedProperty(name: string): boolean {
  return name.startsWith('#') || name.startsWith('gki,') || INTERPRETED_PROPERTIES.has(name);
}
