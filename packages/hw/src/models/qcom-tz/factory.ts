/**
 * Device-tree glue of the Qualcomm TrustZone model: the `qcom,scm` node (under /firmware)
 * tells the normal world the firmware is there; its model becomes the board's secure monitor,
 * and the `link` pass introduces every Qualcomm secure IOMMU of the board to it by its
 * `qcom,iommu-secure-id`.
 */
import type { ModelFactory } from '../../board.js';
import { propU32 } from '../../fdt/read.js';
import { FdtError } from '../../fdt/types.js';
import { QcomIommu } from '../qcom-iommu/iommu.js';
import { QcomTrustZone } from './tz.js';

export const QCOM_TZ_COMPATIBLES: readonly string[] = ['qcom,scm'];

/** The TrustZone factory; `gki,secure-ptbl-size` sets the secure page table size the firmware asks for. */
export const createQcomTrustZoneModel: ModelFactory = (board, node, _regs, _irqs, ctx) => {
  if (board.secureMonitor) {
    board.notes.push({ level: 'warn', source: 'OF', message: `${ctx.path}: a second secure firmware node; the first one (${board.secureMonitor.name}) answers SMCs` });
    return undefined;
  }
  let tz: QcomTrustZone;
  try {
    tz = new QcomTrustZone(board.mem, { name: node.name, securePtblSize: propU32(node, 'gki,secure-ptbl-size', ctx.path) });
  } catch (e) {
    if (e instanceof RangeError) throw new FdtError(-1, e.message, ctx.path);
    throw e;
  }
  board.secureMonitor = tz;
  return tz;
};

createQcomTrustZoneModel.link = (board) => {
  const tz = board.secureMonitor;
  if (!(tz instanceof QcomTrustZone)) return;
  for (const iommu of board.modelsOfType(QcomIommu)) {
    if (iommu.secureId === undefined) continue;
    try {
      tz.addIommu(iommu);
    } catch (e) {
      if (!(e instanceof RangeError)) throw e;
      board.notes.push({ level: 'warn', source: 'OF', message: `${tz.name}: ${e.message}` });
    }
  }
};
