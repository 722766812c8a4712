import { ENOENT } from '../errno.js';
import type { OfNode } from './node.js';
import { ofParsePhandleWithArgs } from './phandle.js';

/**
 * The DT properties fw_devlink reads to find a node's suppliers, and the `#...-cells` name
 * that sizes each entry (null: a plain phandle list). `interrupts` / `interrupt-parent` are
 * deliberately absent: interrupt controllers are set up before devices exist.
 */
export const OF_SUPPLIER_BINDINGS: readonly { readonly prop: string; readonly cells: string | null }[] = [
  { prop: 'iommus', cells: '#iommu-cells' },
  { prop: 'clocks', cells: '#clock-cells' },
  { prop: 'power-domains', cells: '#power-domain-cells' },
  { prop: 'interconnects', cells: '#interconnect-cells' },
  { prop: 'resets', cells: '#reset-cells' },
  { prop: 'dmas', cells: '#dma-cells' },
  { prop: 'mboxes', cells: '#mbox-cells' },
  { prop: 'phys', cells: '#phy-cells' },
  { prop: 'pwms', cells: '#pwm-cells' },
  { prop: 'hwlocks', cells: '#hwlock-cells' },
  { prop: 'gpios', cells: '#gpio-cells' },
];

/** One supplier reference found in a consumer node. */
export interface OfSupplierRef {
  /** The property it came from ("iommus", "vdd-supply", ...). */
  readonly prop: string;
  /** The node the phandle points at. */
  readonly np: OfNode;
}

function pushList(node: OfNode, prop: string, cells: string | null, out: OfSupplierRef[]): void {
  // Each entry takes at least one cell, so the cell count bounds the number of entries.
  const maxEntries = Math.floor((node.property(prop)?.length ?? 0) / 4);
  for (let i = 0; i < maxEntries; i++) {
    const r = ofParsePhandleWithArgs(node, prop, cells, i);
    if (typeof r !== 'number') out.push({ prop, np: r.np });
    else if (r !== -ENOENT) return; // malformed from here on
    // -ENOENT: an empty (zero) entry, or past the end; keep looking until the bound
  }
}

/**
 * Every supplier reference of `node`, in property order: the bindings above plus
 * regulator `*-supply`, GPIO `*-gpios` and `pinctrl-N` phandle lists. Malformed entries end
 * that property's list (fw_devlink skips what it cannot parse).
 */
export function ofSupplierRefs(node: OfNode): OfSupplierRef[] {
  const out: OfSupplierRef[] = [];
  for (const b of OF_SUPPLIER_BINDINGS) if (node.hasProperty(b.prop)) pushList(node, b.prop, b.cells, out);
  for (const name of node.props.keys()) {
    if (name.endsWith('-supply')) pushList(node, name, null, out);
    else if (name.endsWith('-gpios') && name !== 'nr-gpios') pushList(node, name, '#gpio-cells', out);
    else if (/^pinctrl-[0-9]+$/.test(name)) pushList(node, name, null, out);
  }
  return out;
}
