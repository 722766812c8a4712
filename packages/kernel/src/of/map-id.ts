import { EFAULT, EINVAL, ENODEV } from '../errno.js';
import type { KernelLog } from '../log.js';
import { be32, type OfNode } from './node.js';
import { ofPropertyReadU32 } from './property.js';

/** What of_map_id found: the target node of the matching entry (null when none was asked for or matched) and the output ID. */
export interface OfMapIdResult {
  readonly target: OfNode | null;
  readonly id: number;
}

function hex8(n: number): string {
  return (n >>> 0).toString(16).padStart(8, '0');
}

/**
 * of_map_id (drivers/of/base.c, as in Linux 6.12): translates `id` through the map property
 * `mapName` of `np` ("iommu-map" or "msi-map": entries of exactly four cells, id-base,
 * target phandle, out-base, length) after ANDing it with the `mapMaskName` property (default
 * all ones).
 *
 * `target` says what the caller wants: `undefined` for the ID only (Linux's NULL target
 * pointer), `null` to receive the target node of the first matching entry, or a node to match
 * only entries that point at that node.
 *
 * Results, with Linux's messages ("OF: ..." in the log when `log` is given):
 * - no map property: -ENODEV when a target is wanted, else the ID unchanged;
 * - a map that is empty or not a whole number of 4-cell entries: -EINVAL ("Error: Bad
 *   iommu-map length: N", N in bytes);
 * - an entry whose id-base has bits the mask clears: -EFAULT ("Invalid iommu-map translation
 *   - iommu-map-mask (0x..) ignores id-base (0x..)");
 * - a matching entry whose phandle names no node: -ENODEV;
 * - a match: out-base + (masked id - id-base), and its target;
 * - no entry matches: 0 with the ID unchanged and no target ("no iommu-map translation for id
 *   0x.. on (null)"): the caller decides what an untranslated ID means (for iommu-map, of_iommu
 *   then finds no IOMMU: the device is not behind one).
 */
export function ofMapId(
  np: OfNode,
  id: number,
  mapName: string,
  mapMaskName: string | null,
  target: OfNode | null | undefined,
  log?: KernelLog,
): OfMapIdResult | number {
  if (!np || !mapName || !Number.isInteger(id) || id < 0 || id > 0xffffffff) return -EINVAL;
  const map = np.property(mapName);
  if (map === undefined) {
    if (target !== undefined) return -ENODEV;
    return { target: null, id }; // no map: no translation
  }
  if (map.length === 0 || map.length % 16 !== 0) {
    log?.err('OF', `${np.fullName}: Error: Bad ${mapName} length: ${map.length}`);
    return -EINVAL;
  }
  let mask = 0xffffffff;
  if (mapMaskName) {
    const m = ofPropertyReadU32(np, mapMaskName);
    if (m >= 0) mask = m;
  }
  const masked = (id & mask) >>> 0;
  let want = target ?? null;
  for (let off = 0; off < map.length; off += 16) {
    const idBase = be32(map, off);
    const phandle = be32(map, off + 4);
    const outBase = be32(map, off + 8);
    const idLen = be32(map, off + 12);
    if ((idBase & ~mask) !== 0) {
      log?.err('OF', `${np.fullName}: Invalid ${mapName} translation - ${mapName}-mask (0x${(mask >>> 0).toString(16)}) ignores id-base (0x${idBase.toString(16)})`);
      return -EFAULT;
    }
    // u32 arithmetic, as Linux: an id-base + length that wraps past 2^32 matches nothing
    if (masked < idBase || masked >= ((idBase + idLen) >>> 0)) continue;
    const node = np.tree.findByPhandle(phandle);
    if (!node) return -ENODEV;
    if (target !== undefined) {
      if (want === null) want = node;
      if (want !== node) continue;
    }
    const out = (masked - idBase + outBase) >>> 0;
    log?.debug('OF', `${np.fullName}: ${mapName}, using mask ${hex8(mask)}, id-base: ${hex8(idBase)}, out-base: ${hex8(outBase)}, length: ${hex8(idLen)}, id: ${hex8(id)} -> ${hex8(out)}`);
    return { target: target !== undefined ? node : null, id: out };
  }
  log?.info('OF', `${np.fullName}: no ${mapName} translation for id 0x${(id >>> 0).toString(16)} on ${want ? want.fullName : '(null)'}`);
  return { target: null, id }; // bypasses translation
}

/** of_map_id with "iommu-map" / "iommu-map-mask", wanting the target (what of_iommu does for a PCI requester ID). */
export function ofMapIommuId(np: OfNode, rid: number, log?: KernelLog): OfMapIdResult | number {
  return ofMapId(np, rid, 'iommu-map', 'iommu-map-mask', null, log);
}
