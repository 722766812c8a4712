/**
 * Device resources from the tree: `reg` translated through the parents' `ranges` to CPU
 * physical addresses, interrupt specifiers resolved to interrupt controller line numbers,
 * and phandle-with-arguments lists (`iommus`, `interrupts-extended`).
 */
import {
  addressCells,
  cellsToNumber,
  compatibleOf,
  decodeReg,
  findByPhandleWithPath,
  getProp,
  nodesOnPath,
  propCells,
  propU32,
  sizeCells,
  type FdtRegEntry,
  type FdtRootLike,
} from './read.js';
import { FdtError, type FdtNode, type FdtTree } from './types.js';
import { boardInterrupts, FdtIndex } from './irq.js';

/** GIC interrupt specifier types (first cell). */
export const GIC_SPI = 0;
export const GIC_PPI = 1;

/** Full paths of the nodes of a root-to-node chain. */
function pathsOf(chain: readonly FdtNode[]): string[] {
  const out = ['/'];
  let p = '';
  for (let i = 1; i < chain.length; i++) {
    p += '/' + chain[i]!.name;
    out.push(p);
  }
  return out;
}

/**
 * Translates a bus address of a child of `chain[level]` up to the root's address space.
 * Returns undefined when a bus on the way has no `ranges` (its addresses are not CPU
 * visible) or no range covers the address.
 */
function translateUp(chain: readonly FdtNode[], paths: readonly string[], level: number, addr: number): number | undefined {
  let a = addr;
  for (let i = level; i >= 1; i--) {
    const bus = chain[i]!;
    const ranges = getProp(bus, 'ranges');
    if (!ranges) return undefined;
    if (ranges.value.length === 0) continue; // identity mapping
    const cac = addressCells(bus, paths[i]);
    const pac = addressCells(chain[i - 1]!, paths[i - 1]);
    const sc = sizeCells(bus, paths[i]);
    const cells = propCells(bus, 'ranges', paths[i])!;
    const per = cac + pac + sc;
    if (per === 0 || cells.length % per)
      throw new FdtError(-1, `property 'ranges' has ${cells.length} cells, not a multiple of ${cac}+${pac}+${sc}`, paths[i]);
    let hit: number | undefined;
    for (let j = 0; j < cells.length && hit === undefined; j += per) {
      const child = cellsToNumber(cells, j, cac, "property 'ranges' child address", paths[i]);
      const parent = cellsToNumber(cells, j + cac, pac, "property 'ranges' parent address", paths[i]);
      const size = cellsToNumber(cells, j + cac + pac, sc, "property 'ranges' size", paths[i]);
      if (a >= child && a < child + size) hit = parent + (a - child);
    }
    if (hit === undefined) return undefined;
    a = hit;
  }
  return a;
}

/**
 * The node's `reg` entries as CPU physical addresses. Entries whose address cannot be
 * translated (a parent bus without `ranges`, an address outside every range) are left out.
 * Returns undefined when `path` names no node.
 */
export function translatedRegs(t: FdtRootLike, path: string): FdtRegEntry[] | undefined {
  const chain = nodesOnPath(t, path);
  if (!chain) return undefined;
  if (chain.length < 2) return [];
  const paths = pathsOf(chain);
  const node = chain[chain.length - 1]!;
  const parent = chain[chain.length - 2]!;
  const nodePath = paths[paths.length - 1]!;
  const raw = decodeReg(node, addressCells(parent, paths[paths.length - 2]), sizeCells(parent, paths[paths.length - 2]), nodePath);
  const out: FdtRegEntry[] = [];
  for (const r of raw) {
    const a = translateUp(chain, paths, chain.length - 2, r.address);
    if (a !== undefined) out.push({ address: a, size: r.size });
  }
  return out;
}

export interface FdtPhandleArgs {
  readonly node: FdtNode;
  readonly path: string;
  readonly args: number[];
}

/**
 * Decodes a phandle-with-arguments list such as `iommus = <&smmu 0x10>, <&smmu 0x11>`: each
 * entry is a phandle followed by as many cells as the target's `cellsName` property says.
 */
export function phandleArgsList(t: FdtRootLike, node: FdtNode, path: string, prop: string, cellsName: string): FdtPhandleArgs[] {
  const cells = propCells(node, prop, path);
  if (!cells) return [];
  const out: FdtPhandleArgs[] = [];
  let i = 0;
  while (i < cells.length) {
    const ph = cells[i]!;
    const target = findByPhandleWithPath(t, ph);
    if (!target) throw new FdtError(-1, `property '${prop}' refers to unknown phandle 0x${ph.toString(16)}`, path);
    const n = propU32(target.node, cellsName, target.path);
    if (n === undefined) throw new FdtError(-1, `property '${prop}': target ${target.path} has no '${cellsName}'`, path);
    if (i + 1 + n > cells.length) throw new FdtError(-1, `property '${prop}' is too short for ${cellsName}=${n}`, path);
    out.push({ node: target.node, path: target.path, args: cells.slice(i + 1, i + 1 + n) });
    i += 1 + n;
  }
  return out;
}

/**
 * The node's interrupts as board interrupt line numbers (for a GIC: SPI n is line 32+n, PPI
 * n is line 16+n, with 3 or 4 specifier cells). Reads `interrupts-extended` when present,
 * else `interrupts` with the interrupt parent, and follows `interrupt-map` nexus nodes (see
 * ./irq.ts). Throws FdtError when an interrupt cannot be resolved; `boardInterrupts` is the
 * lenient form. Returns undefined when `path` names no node.
 */
export function resolveInterrupts(t: FdtRootLike, path: string): number[] | undefined {
  const tree: FdtTree = 'root' in t ? t : { version: 17, bootCpuid: 0, reservations: [], root: t };
  const idx = new FdtIndex(tree);
  const node = nodesOnPath(t, path)?.at(-1);
  if (!node) return undefined;
  const r = boardInterrupts(idx, node);
  const bad = r.unresolved[0];
  if (bad) throw new FdtError(-1, `interrupt ${bad.index}: ${bad.reason}`, path);
  return r.lines;
}
