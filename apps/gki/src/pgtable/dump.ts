import { dumpTables, formatTableTree, walkConfigFromIoPgtableCfg, type PhysMem } from '@gki/hw';
import type { IoPgtableCfg, IoPgtableFmt, IoPgtableLeaf, IoPgtableOps } from '@gki/io-pgtable-core';
import { describeDesc, dumpGeometry, indexAt, isTableDesc, nextTable, type DumpGeometry } from './decode.js';

function hex(n: number | bigint, width = 0): string {
  return '0x' + n.toString(16).padStart(width, '0');
}

function readDesc(mem: PhysMem, geo: DumpGeometry, pa: number): bigint | null {
  try {
    return geo.descBytes === 8 ? mem.read64(pa) : BigInt(mem.read32(pa) >>> 0);
  } catch {
    return null;
  }
}

/**
 * The live table as a tree: one line per table descriptor on the way to a leaf (read from RAM,
 * starting at the table address the format wrote into cfg) and one per leaf slot (from the
 * format's walkLeaves). Each line: level, index, IOVA range, descriptor, decoded fields.
 */
export function dumpTable(mem: PhysMem, fmt: IoPgtableFmt, cfg: IoPgtableCfg, ops: IoPgtableOps): string[] {
  const leaves: IoPgtableLeaf[] = [];
  ops.walkLeaves?.((l) => leaves.push({ ...l }));
  const minLevel = leaves.reduce((m, l) => Math.min(m, l.level), 3);
  const geo = dumpGeometry(fmt, cfg, minLevel);
  const width = geo.kind === 'v7s' ? 8 : 12;
  const out: string[] = [
    `${fmt}: ias ${cfg.ias} oas ${cfg.oas} pgsize_bitmap ${hex(cfg.pgsizeBitmap)} granule ${hex(2 ** geo.granuleShift)}, ` +
      `start level ${geo.startLevel}, top table at ${hex(geo.topTable)}, ${leaves.length} leaf slot(s)`,
  ];
  if (!ops.walkLeaves) out.push('(this format has no walkLeaves: leaves not shown)');
  // the table path printed last, per level: a new line only where the path changes
  const shown: (string | undefined)[] = [];
  for (const leaf of leaves) {
    // IOVAs as unsigned 64-bit values: TTBR1 addresses are sign-extended and exceed 2^53
    const iova = BigInt(leaf.iova) & 0xffff_ffff_ffff_ffffn;
    let table = geo.topTable;
    for (let l = geo.startLevel; l < leaf.level; l++) {
      const idx = indexAt(geo, iova, l);
      const span = 1n << BigInt(geo.shift(l));
      const start = (iova / span) * span;
      const key = `${table}:${idx}`;
      const d = readDesc(mem, geo, table + idx * geo.descBytes);
      if (shown[l] !== key) {
        shown[l] = key;
        for (let j = l + 1; j < shown.length; j++) shown[j] = undefined;
        const text = d === null ? 'unreadable' : isTableDesc(geo, d, l) ? describeDesc(geo, d, l, false) : 'not a table?';
        out.push(
          `${'  '.repeat(l - geo.startLevel)}L${l}[${idx}] ${hex(start, width)}-${hex(start + span - 1n, width)} ` +
            `${d === null ? '-' : hex(d, geo.descBytes * 2)} ${text}`,
        );
      }
      if (d === null || !isTableDesc(geo, d, l)) break;
      table = nextTable(geo, d);
    }
    const idx = indexAt(geo, iova, leaf.level);
    out.push(
      `${'  '.repeat(Math.max(leaf.level - geo.startLevel, 0))}L${leaf.level}[${idx}] ${hex(iova, width)}-${hex(iova + BigInt(leaf.size) - 1n, width)} ` +
        `${hex(leaf.pte, geo.descBytes * 2)} ${describeDesc(geo, leaf.pte, leaf.level, true)}`,
    );
  }
  return out;
}

/**
 * The dump `gki pgtable dump` prints: the hardware walker's decoded tree of everything reachable
 * from the table address the format programmed (configured as a driver would from cfg), or,
 * when the walker cannot be configured for this cfg, the leaf-based tree of dumpTable.
 */
export function dumpTree(mem: PhysMem, fmt: IoPgtableFmt, cfg: IoPgtableCfg, ops: IoPgtableOps): string[] {
  let lines: string[];
  try {
    lines = formatTableTree(dumpTables(mem, walkConfigFromIoPgtableCfg(fmt, cfg)));
  } catch (e) {
    return [`(hardware walker unavailable: ${(e as Error).message}; leaf view)`, ...dumpTable(mem, fmt, cfg, ops)];
  }
  let leaves = 0;
  ops.walkLeaves?.(() => leaves++);
  return [
    `${fmt}: ias ${cfg.ias} oas ${cfg.oas} pgsize_bitmap ${hex(cfg.pgsizeBitmap)}, ${leaves} leaf slot(s) (decoded by the hardware walker)`,
    ...lines,
  ];
}
