/**
 * Which properties the project reads, for the DTS compiler's handling of macros nobody
 * defined. Kernel trees trimmed for this model keep their `#include <dt-bindings/...>` lines,
 * and headers this package does not ship (clock, reset, power-domain, interconnect IDs) may
 * still be used by properties that survived trimming (`interconnects = <&noc MASTER_GPU 0 ...>`).
 * In a property nothing here reads, such a macro compiles to 0 with a warning naming the
 * macro, the missing headers and the place; in a property listed here (addresses, interrupts,
 * IOMMU specifiers, cell counts, memory, status, the model's `gki,*` overrides) it stays an
 * error, since a made-up 0 there would silently describe different hardware, unless the
 * value cannot matter (see judgeMacroUses).
 */
import { GIC_COMPATIBLE_PREFIXES, GIC_STACKED_COMPATIBLES } from '../irq.js';
import { getNodeByRef, type LMacroUse, type LNode, type LProp } from './livetree.js';

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

/** The strings of a live node's `compatible`. */
function compatibles(n: LNode): string[] {
  const p = n.getProp('compatible');
  if (!p) return [];
  return String.fromCharCode(...p.data.bytes).split('\0').filter((s) => s !== '');
}

function u32At(p: LProp, off: number): number | undefined {
  const b = p.data.bytes;
  if (off + 4 > b.length) return undefined;
  return ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
}

function nodeByPhandle(root: LNode, ph: number): LNode | undefined {
  const stack = [root];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (n.phandle === ph) return n;
    for (const c of n.children) if (!c.deleted) stack.push(c);
  }
  return undefined;
}

/** The node a phandle property's first cell names (a &reference, or a number). */
function phandleTarget(root: LNode, p: LProp, off: number): LNode | undefined {
  const m = p.data.markers.find((x) => x.kind === 'phandle' && x.offset === off);
  if (m) return getNodeByRef(root, m.ref);
  const ph = u32At(p, off);
  return ph === undefined ? undefined : nodeByPhandle(root, ph);
}

/** The node the phandle entry holding the cell at `off` points at (the last reference before it). */
function entryTarget(root: LNode, p: LProp, off: number): LNode | undefined {
  let best: { offset: number; ref: string } | undefined;
  for (const m of p.data.markers) if (m.kind === 'phandle' && m.offset < off && (!best || m.offset > best.offset)) best = m;
  return best ? getNodeByRef(root, best.ref) : undefined;
}

/** of_irq_find_parent: `interrupt-parent`, else the parent node, until one has #interrupt-cells. */
function interruptParent(root: LNode, node: LNode): LNode | undefined {
  let child: LNode | null = node;
  for (let guard = 0; child && guard < 256; guard++) {
    const ip = child.getProp('interrupt-parent');
    const p: LNode | null | undefined = ip ? phandleTarget(root, ip, 0) : child.parent;
    if (!p) return undefined;
    if (p.getProp('#interrupt-cells')) return p;
    child = p;
  }
  return undefined;
}

/** Interrupt controllers whose specifiers the board and the kernel decode (the GIC family and those stacked on it). */
function isDecodedInterruptController(n: LNode): boolean {
  return compatibles(n).some(
    (c) => GIC_STACKED_COMPATIBLES.includes(c) || (c !== 'arm,gic-v3-its' && c !== 'arm,gic-v2m-frame' && GIC_COMPATIBLE_PREFIXES.some((re) => re.test(c))),
  );
}

/** IOMMUs whose specifiers the models and drivers read: the Arm SMMU family (v1, v2, MMU-4x0/500, v3). */
export function isSpecifierReadingIommu(compatible: string): boolean {
  return /(^|[,-])smmu([,-]|$)/.test(compatible) || /(^|[,-])smmu-v[123]$/.test(compatible) || /^arm,mmu-[45]0[01]$/.test(compatible);
}

/**
 * Judges each undefined macro standing as 0 in the final tree (LProp.macros), in tree order:
 * `report(use, property, reason)` gets why the 0 is harmless, or null when it is not (the
 * caller then fails). Harmless: any property the project does not read; a `reg` that is an ID
 * rather than an address (its parent has #size-cells = <0>: power-domain, SPMI, APR children)
 * or an offset that does not translate to a CPU address (its parent has no `ranges`: NVMEM
 * cells);
 * interrupt specifiers of a controller the board does not decode (a GPIO or mailbox
 * controller, Apple's AIC); IOMMU specifiers of an IOMMU nothing here models (MediaTek M4U,
 * Tegra's older memory controller). Properties later replaced or deleted are not judged.
 */
export function judgeMacroUses(root: LNode, report: (use: LMacroUse, prop: string, reason: string | null) => void): void {
  const stack = [root];
  while (stack.length > 0) {
    const n = stack.pop()!;
    for (const p of n.props) {
      if (p.deleted || !p.macros) continue;
      for (const use of p.macros) report(use, p.name, whyHarmless(root, n, p, use));
    }
    for (let i = n.children.length - 1; i >= 0; i--) if (!n.children[i]!.deleted) stack.push(n.children[i]!);
  }
}

function whyHarmless(root: LNode, n: LNode, p: LProp, use: LMacroUse): string | null {
  if (!isInterpretedProperty(p.name)) return `'${p.name}' is not a property this project reads`;
  if (use.string) return null;
  switch (p.name) {
    case 'reg': {
      const parent = n.parent;
      if (!parent) return null;
      const sc = parent.getProp('#size-cells');
      if (sc && u32At(sc, 0) === 0) return `this 'reg' is an ID, not an address (#size-cells = <0> in ${parent.fullPath})`;
      // an offset inside a device (NVMEM cells, a syscon's fields): no CPU address to get wrong
      if (parent.parent && !parent.getProp('ranges')) return `this 'reg' is not a CPU address (${parent.fullPath} has no ranges)`;
      return null;
    }
    case 'interrupts': {
      const ctl = interruptParent(root, n);
      return ctl && !isDecodedInterruptController(ctl) ? `the interrupt controller ${ctl.fullPath} is not one the board decodes` : null;
    }
    case 'interrupts-extended': {
      const ctl = entryTarget(root, p, use.offset);
      return ctl && !isDecodedInterruptController(ctl) ? `the interrupt controller ${ctl.fullPath} is not one the board decodes` : null;
    }
    case 'iommu-map':
    case 'iommus': {
      const mmu = entryTarget(root, p, use.offset);
      return mmu && !compatibles(mmu).some(isSpecifierReadingIommu) ? `the IOMMU ${mmu.fullPath} is not one this project models` : null;
    }
    default:
      return null;
  }
}
