import { EINVAL, ENOENT } from '../errno.js';
import { be32, type OfNode, type OfTree } from './node.js';
import { ofPropertyReadU32 } from './property.js';

/** Most argument cells one phandle reference may carry (the kernel's MAX_PHANDLE_ARGS). */
export const MAX_PHANDLE_ARGS = 16;

/** A parsed `<&node arg0 arg1 ...>` reference (struct of_phandle_args). */
export interface OfPhandleArgs {
  readonly np: OfNode;
  readonly args: readonly number[];
}

/** of_find_node_by_phandle in the tree `node` belongs to (or in `tree`). */
export function ofFindNodeByPhandle(treeOrNode: OfTree | OfNode, phandle: number): OfNode | undefined {
  const tree = 'tree' in treeOrNode ? treeOrNode.tree : treeOrNode;
  return tree.findByPhandle(phandle);
}

/**
 * Walks the phandle list `listName` of `node` and calls `visit` for each entry (a null
 * `np` for an empty, zero-phandle entry). Returns 0 after the whole list, the value of
 * `visit` when it returns non-undefined, or -EINVAL for a malformed entry (unknown phandle,
 * target without `cellsName`, arguments running past the end). -ENOENT without the property.
 */
function walkPhandleList(
  node: OfNode,
  listName: string,
  cellsName: string | null,
  cellCount: number,
  visit: (i: number, np: OfNode | null, args: number[]) => number | undefined,
): number {
  const list = node.property(listName);
  if (list === undefined) return -ENOENT;
  const cells = Math.floor(list.length / 4); // a trailing partial cell is ignored

  let pos = 0;
  let i = 0;
  while (pos < cells) {
    const ph = be32(list, pos * 4);
    pos++;
    let np: OfNode | null = null;
    let count = 0;
    if (ph !== 0) {
      np = node.tree.findByPhandle(ph) ?? null;
      if (!np) return -EINVAL; // reference to a node that does not exist
      if (cellsName !== null) {
        const c = ofPropertyReadU32(np, cellsName);
        if (c >= 0) count = c;
        else if (cellCount >= 0) count = cellCount;
        else return -EINVAL; // target lacks #xxx-cells
      } else count = cellCount;
      if (count > MAX_PHANDLE_ARGS) return -EINVAL;
      if (pos + count > cells) return -EINVAL; // arguments longer than the property
    }
    const args: number[] = [];
    for (let k = 0; k < count; k++) args.push(be32(list, (pos + k) * 4));
    pos += count;
    const r = visit(i, np, args);
    if (r !== undefined) return r;
    i++;
  }
  return 0;
}

/**
 * of_parse_phandle_with_args: entry `index` of the list property `listName`, where each
 * entry is a phandle followed by as many cells as the target node's `cellsName` property
 * says (or `cellCount` when `cellsName` is null or, with `cellCount` >= 0, missing).
 *
 * Returns {np, args}; -ENOENT when the property is absent, the index is past the end or
 * the entry is an empty (zero) phandle; -EINVAL for a malformed list up to that entry.
 */
export function ofParsePhandleWithArgs(
  node: OfNode,
  listName: string,
  cellsName: string | null,
  index: number,
  cellCount = -1,
): OfPhandleArgs | number {
  if (!Number.isInteger(index) || index < 0) return -EINVAL;
  if (cellsName === null && cellCount < 0) cellCount = 0;
  let found: OfPhandleArgs | null = null;
  const r = walkPhandleList(node, listName, cellsName, cellCount, (i, np, args) => {
    if (i !== index) return undefined;
    if (!np) return -ENOENT;
    found = { np, args };
    return 0;
  });
  if (r < 0) return r;
  return found ?? -ENOENT;
}

/** of_parse_phandle_with_fixed_args: every entry has exactly `cellCount` argument cells. */
export function ofParsePhandleWithFixedArgs(node: OfNode, listName: string, cellCount: number, index: number): OfPhandleArgs | number {
  if (!Number.isInteger(cellCount) || cellCount < 0) return -EINVAL;
  return ofParsePhandleWithArgs(node, listName, null, index, cellCount);
}

/** of_parse_phandle: entry `index` of a plain phandle list, or undefined. */
export function ofParsePhandle(node: OfNode, name: string, index: number): OfNode | undefined {
  const r = ofParsePhandleWithArgs(node, name, null, index, 0);
  return typeof r === 'number' ? undefined : r.np;
}

/** of_count_phandle_with_args: entries in the list (empty ones included), or a negative errno. */
export function ofCountPhandleWithArgs(node: OfNode, listName: string, cellsName: string | null, cellCount = -1): number {
  if (cellsName === null && cellCount < 0) cellCount = 0;
  let n = 0;
  const r = walkPhandleList(node, listName, cellsName, cellCount, () => {
    n++;
    return undefined;
  });
  return r < 0 ? r : n;
}
