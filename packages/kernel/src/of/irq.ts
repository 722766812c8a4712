import { EINVAL } from '../errno.js';
import { be32, type OfNode } from './node.js';
import { ofParsePhandleWithArgs, type OfPhandleArgs } from './phandle.js';
import { ofDeviceIsCompatible, ofPropertyReadU32 } from './property.js';

/**
 * of_irq_find_parent: follows `interrupt-parent` (or, without one, the tree parent) until a
 * node with `#interrupt-cells`. Returns null when none is found.
 */
export function ofIrqFindParent(node: OfNode): OfNode | null {
  let child: OfNode | null = node;
  // Bounded: a malformed interrupt-parent cycle cannot spin forever.
  for (let guard = 0; child && guard < 256; guard++) {
    const ph = ofPropertyReadU32(child, 'interrupt-parent');
    const p: OfNode | null = ph >= 0 ? (child.tree.findByPhandle(ph) ?? null) : child.parent;
    if (!p || p.hasProperty('#interrupt-cells')) return p;
    child = p;
  }
  return null;
}

/**
 * of_irq_parse_one: interrupt specifier `index` of `node`, from `interrupts-extended` if
 * present, otherwise from `interrupts` with the (inherited) interrupt parent. The result
 * names the interrupt controller and its specifier cells. -EINVAL when there is no such
 * interrupt or it cannot be parsed; interrupt nexus nodes (`interrupt-map`) are not
 * modelled and give -EINVAL too.
 */
export function ofIrqParse(node: OfNode, index: number): OfPhandleArgs | number {
  if (!Number.isInteger(index) || index < 0) return -EINVAL;
  let spec: OfPhandleArgs;
  if (node.hasProperty('interrupts-extended')) {
    const r = ofParsePhandleWithArgs(node, 'interrupts-extended', '#interrupt-cells', index);
    if (typeof r === 'number') return -EINVAL;
    spec = r;
  } else {
    const ints = node.property('interrupts');
    if (ints === undefined) return -EINVAL;
    const parent = ofIrqFindParent(node);
    if (!parent) return -EINVAL;
    const cells = ofPropertyReadU32(parent, '#interrupt-cells');
    if (cells < 1) return -EINVAL;
    if ((index + 1) * cells * 4 > ints.length) return -EINVAL;
    const args: number[] = [];
    for (let i = 0; i < cells; i++) args.push(be32(ints, (index * cells + i) * 4));
    spec = { np: parent, args };
  }
  if (!spec.np.hasProperty('interrupt-controller')) return -EINVAL;
  return spec;
}

/** Number of interrupt specifiers `node` has (of_irq_count). */
export function ofIrqCount(node: OfNode): number {
  let n = 0;
  while (n < 1024 && typeof ofIrqParse(node, n) !== 'number') n++;
  return n;
}

/**
 * Translates a specifier to a hardware interrupt number (an irq_domain's xlate), or
 * returns -EINVAL for a specifier it cannot decode.
 */
export type IrqXlate = (spec: OfPhandleArgs) => number;

/** GIC specifier type cells (include/dt-bindings/interrupt-controller/arm-gic.h). */
export const GIC_SPI = 0;
export const GIC_PPI = 1;

/**
 * The GIC binding's translation: <type number flags>; SPI n is interrupt ID 32 + n, PPI n is
 * ID 16 + n (SPIs 0..987, PPIs 0..15). This is the number of the board's interrupt line.
 */
export const gicXlate: IrqXlate = (spec) => {
  if (spec.args.length < 3) return -EINVAL;
  const [type, num] = spec.args as [number, number];
  if (type === GIC_SPI && num < 988) return num + 32;
  if (type === GIC_PPI && num < 16) return num + 16;
  return -EINVAL;
};

/** The simplest binding: the first cell is the interrupt number. */
export const onecellXlate: IrqXlate = (spec) => (spec.args.length >= 1 ? spec.args[0]! : -EINVAL);

/** Compatibles of GIC-style controllers the kernel initialises early (IRQCHIP_DECLARE). */
export const GIC_COMPATIBLES: readonly string[] = [
  'arm,gic-v3',
  'arm,gic-400',
  'arm,cortex-a15-gic',
  'arm,cortex-a9-gic',
  'arm,cortex-a7-gic',
  'arm,arm11mp-gic',
  'qcom,msm-qgic2',
];

/** True when `node` is a GIC-style interrupt controller. */
export function ofIsGic(node: OfNode): boolean {
  return node.hasProperty('interrupt-controller') && GIC_COMPATIBLES.some((c) => ofDeviceIsCompatible(node, c) > 0);
}
