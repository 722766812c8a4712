import { EINVAL, ENOENT } from '../errno.js';
import { be32, type OfNode } from './node.js';
import { MAX_PHANDLE_ARGS, ofParsePhandleWithArgs, type OfPhandleArgs } from './phandle.js';
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

/** Hops an interrupt translation may take before it is declared looping. */
const MAX_IRQ_HOPS = 64;

function cellsOf(node: OfNode, name: string): number[] | undefined {
  const v = node.property(name);
  if (v === undefined) return undefined;
  const out: number[] = [];
  for (let i = 0; i + 4 <= v.length; i += 4) out.push(be32(v, i));
  return out;
}

/**
 * of_irq_parse_raw: follows the specifier `args` from interrupt parent `ipar` to an
 * interrupt controller, through `interrupt-map` nexus nodes (the key is the device's unit
 * address `addr` plus the specifier, masked with `interrupt-map-mask`; an `interrupt-map`
 * takes precedence over `interrupt-controller`, as in the kernel). -EINVAL when no
 * controller is reached (no matching map entry, a dangling phandle, a loop).
 */
export function ofIrqParseRaw(ipar: OfNode, args: readonly number[], addr: readonly number[]): OfPhandleArgs | number {
  let cur: OfNode | null = ipar;
  let spec = [...args];
  let intsize = ofPropertyReadU32(ipar, '#interrupt-cells');
  if (intsize < 0) intsize = spec.length;
  // the first parent's #address-cells, looked up through its ancestors (2 when none says)
  let addrsize = 2;
  for (let n: OfNode | null = ipar; n; n = n.parent) {
    const ac = ofPropertyReadU32(n, '#address-cells');
    if (ac >= 0) {
      addrsize = ac;
      break;
    }
  }
  let key = [...Array.from({ length: addrsize }, (_, i) => addr[i] ?? 0), ...spec];
  for (let hop = 0; cur && hop < MAX_IRQ_HOPS; hop++) {
    const map = cellsOf(cur, 'interrupt-map');
    if (cur.hasProperty('interrupt-controller') && !map) return { np: cur, args: spec };
    if (!map) {
      cur = ofIrqFindParent(cur);
      continue;
    }
    const width = addrsize + intsize;
    const mask = cellsOf(cur, 'interrupt-map-mask') ?? [];
    let next: { np: OfNode; key: number[]; args: number[]; addrsize: number; intsize: number } | undefined;
    let i = 0;
    while (i + width < map.length && !next) {
      let match = true;
      for (let k = 0; k < width; k++) if (((key[k] ?? 0) & (mask[k] ?? 0xffffffff)) >>> 0 !== map[i + k]) match = false;
      const np = cur.tree.findByPhandle(map[i + width]!);
      if (!np) return -EINVAL;
      const pint = ofPropertyReadU32(np, '#interrupt-cells');
      if (pint < 0) return -EINVAL;
      let paddr = ofPropertyReadU32(np, '#address-cells');
      if (paddr < 0) paddr = 0;
      const start = i + width + 1;
      if (start + paddr + pint > map.length || paddr + pint > MAX_PHANDLE_ARGS) return -EINVAL;
      if (match) {
        const pkey = map.slice(start, start + paddr + pint);
        next = { np, key: pkey, args: pkey.slice(paddr), addrsize: paddr, intsize: pint };
      }
      i = start + paddr + pint;
    }
    if (!next) return -EINVAL;
    cur = next.np;
    key = next.key;
    spec = next.args;
    addrsize = next.addrsize;
    intsize = next.intsize;
  }
  return -EINVAL;
}

/** The device's unit address: the first #address-cells cells of its `reg` (for interrupt maps). */
function unitAddress(node: OfNode): number[] {
  let ac = node.parent ? ofPropertyReadU32(node.parent, '#address-cells') : -1;
  if (ac < 0) ac = 2;
  return (cellsOf(node, 'reg') ?? []).slice(0, ac);
}

/**
 * of_irq_parse_one: interrupt specifier `index` of `node`, from `interrupts-extended` if
 * present, otherwise from `interrupts` with the (inherited) interrupt parent, translated
 * through interrupt maps to the controller that handles it. The result names that controller
 * and its specifier cells (a GIC's may have 3 or 4). -EINVAL when there is no such interrupt
 * or it cannot be followed to a controller.
 */
export function ofIrqParse(node: OfNode, index: number): OfPhandleArgs | number {
  if (!Number.isInteger(index) || index < 0) return -EINVAL;
  if (node.hasProperty('interrupts-extended')) {
    const r = ofParsePhandleWithArgs(node, 'interrupts-extended', '#interrupt-cells', index);
    if (typeof r === 'number') return -EINVAL;
    return ofIrqParseRaw(r.np, r.args, unitAddress(node));
  }
  const ints = node.property('interrupts');
  if (ints === undefined) return -EINVAL;
  const parent = ofIrqFindParent(node);
  if (!parent) return -EINVAL;
  const cells = ofPropertyReadU32(parent, '#interrupt-cells');
  if (cells < 1) return -EINVAL;
  if ((index + 1) * cells * 4 > ints.length) return -EINVAL;
  const args: number[] = [];
  for (let i = 0; i < cells; i++) args.push(be32(ints, (index * cells + i) * 4));
  return ofIrqParseRaw(parent, args, unitAddress(node));
}

/**
 * How many specifiers `node`'s `interrupts-extended` or `interrupts` holds, whether or not
 * each can be translated (so that one unresolvable interrupt does not hide the ones after it).
 */
export function ofIrqSpecifierCount(node: OfNode): number {
  if (node.hasProperty('interrupts-extended')) {
    // entries up to the end, or up to and including the first malformed one
    let n = 0;
    for (; n < 1024; n++) {
      const r = ofParsePhandleWithArgs(node, 'interrupts-extended', '#interrupt-cells', n);
      if (r === -ENOENT) return n;
      if (r === -EINVAL) return n + 1;
    }
    return n;
  }
  const ints = node.property('interrupts');
  if (ints === undefined) return 0;
  const parent = ofIrqFindParent(node);
  const cells = parent ? ofPropertyReadU32(parent, '#interrupt-cells') : -1;
  if (cells < 1) return ints.length > 0 ? 1 : 0;
  return Math.floor(ints.length / (cells * 4));
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
 * The GIC binding's translation: <type number flags> (GICv3 trees may add a fourth cell, the
 * PPI partition phandle or 0, which does not change the number); SPI n is interrupt ID 32 + n,
 * PPI n is ID 16 + n (SPIs 0..987, PPIs 0..15). This is the number of the board's interrupt
 * line. Extended SPI/PPI ranges (types 2 and 3) are not wired to the board: -EINVAL.
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
  'arm,cortex-a5-gic',
  'arm,arm11mp-gic',
  'arm,eb11mp-gic',
  'arm,tc11mp-gic',
  'arm,pl390',
  'qcom,msm-qgic2',
  'qcom,msm-8660-qgic',
];

/** True when `node` is a GIC-style interrupt controller. */
export function ofIsGic(node: OfNode): boolean {
  return node.hasProperty('interrupt-controller') && GIC_COMPATIBLES.some((c) => ofDeviceIsCompatible(node, c) > 0);
}

/**
 * Interrupt controllers stacked on the GIC (hierarchical irq domains the kernel initialises
 * right after it, IRQCHIP_DECLARE): each hands a specifier on to its parent GIC. MediaTek's
 * SYSIRQ (mtk-sysirq), the i.MX GPC (irq-imx-gpcv2) and Tegra's legacy controller take
 * <GIC_SPI n flags> and pass SPI n; Qualcomm's PDC (qcom-pdc) takes <pin flags> and passes
 * the SPI its `qcom,pdc-ranges` triplets (pin base, SPI base, count) map the pin to; the MPM
 * (irq-qcom-mpm, QCM2290 and SM6375) takes <pin flags> and passes the SPI its
 * `qcom,mpm-pin-map` pairs (pin, SPI) give the pin. A pin with no pair only wakes the SoC
 * (Linux disconnects it from the GIC's hierarchy): no line of the board carries it, -EINVAL.
 */
export const OF_GIC_STACKED_IRQCHIPS: readonly { readonly compatible: string; readonly device: boolean }[] = [
  // `device`: the node still becomes a platform device (the PDC's irqchip is a platform
  // driver; the GPC's node also carries the power-domain driver), else it is OF_POPULATED
  { compatible: 'mediatek,mt6577-sysirq', device: false },
  { compatible: 'fsl,imx7d-gpc', device: true },
  { compatible: 'fsl,imx8mq-gpc', device: true },
  { compatible: 'nvidia,tegra30-ictlr', device: false },
  { compatible: 'nvidia,tegra210-ictlr', device: false },
  { compatible: 'qcom,pdc', device: true },
  // a platform driver too (IRQCHIP_PLATFORM_DRIVER); its node sits under the RPM processor
  { compatible: 'qcom,mpm', device: true },
];

/** The OF_GIC_STACKED_IRQCHIPS entry `node` matches, if it is an interrupt controller. */
export function ofGicStacked(node: OfNode): { readonly compatible: string; readonly device: boolean } | undefined {
  if (!node.hasProperty('interrupt-controller')) return undefined;
  return OF_GIC_STACKED_IRQCHIPS.find((c) => ofDeviceIsCompatible(node, c.compatible) > 0);
}

/**
 * The xlate of stacked controller `node` over a parent domain `parent` (the GIC's): the
 * specifier it would hand the GIC, translated by the parent. -EINVAL for a specifier the
 * controller does not take (not an SPI; a PDC pin outside every range).
 */
export function stackedXlate(node: OfNode, parent: IrqXlate): IrqXlate {
  if (ofDeviceIsCompatible(node, 'qcom,pdc') > 0) {
    const ranges = cellsOf(node, 'qcom,pdc-ranges') ?? [];
    return (spec) => {
      if (spec.args.length !== 2) return -EINVAL;
      const pin = spec.args[0]!;
      for (let i = 0; i + 3 <= ranges.length; i += 3) {
        const base = ranges[i]!;
        if (pin >= base && pin < base + ranges[i + 2]!) return parent({ np: spec.np, args: [GIC_SPI, ranges[i + 1]! + pin - base, spec.args[1]!] });
      }
      return -EINVAL;
    };
  }
  if (ofDeviceIsCompatible(node, 'qcom,mpm') > 0) {
    const pairs = cellsOf(node, 'qcom,mpm-pin-map') ?? [];
    const spiOfPin = new Map<number, number>();
    for (let i = 0; i + 1 < pairs.length; i += 2) spiOfPin.set(pairs[i]!, pairs[i + 1]!);
    return (spec) => {
      if (spec.args.length !== 2) return -EINVAL;
      const spi = spiOfPin.get(spec.args[0]!);
      return spi === undefined ? -EINVAL : parent({ np: spec.np, args: [GIC_SPI, spi, spec.args[1]!] });
    };
  }
  return (spec) => (spec.args.length === 3 && spec.args[0] === GIC_SPI ? parent({ np: spec.np, args: [GIC_SPI, spec.args[1]!, spec.args[2]!] }) : -EINVAL);
}
