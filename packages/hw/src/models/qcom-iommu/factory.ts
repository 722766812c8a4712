/**
 * Device-tree glue of the Qualcomm secure IOMMU model (`qcom,msm-iommu-v1`, `-v2`): the
 * context banks come from the node's children, the local block from its own `reg`, and the
 * `link` pass attaches every master whose `iommus` names the IOMMU, the specifier's cell being
 * the context bank number.
 */
import type { Board, ModelFactory } from '../../board.js';
import { phandleArgsList, translatedRegs } from '../../fdt/address.js';
import { boardInterrupts, FdtIndex } from '../../fdt/irq.js';
import { compatibleOf, hasProp, isEnabled, joinPath, propCells, propU32, walkTree } from '../../fdt/read.js';
import { FdtError, type FdtTree } from '../../fdt/types.js';
import type { SmmuV2Master } from '../smmu-v2/smmu.js';
import { QCOM_IOMMU_CB_SIZE, QcomIommu, type QcomIommuContextDesc } from './iommu.js';

/** The compatibles of the IOMMU node. */
export const QCOM_IOMMU_COMPATIBLES: readonly string[] = ['qcom,msm-iommu-v1', 'qcom,msm-iommu-v2'];
/** The compatibles of its context bank children. */
export const QCOM_IOMMU_CTX_COMPATIBLES: readonly string[] = ['qcom,msm-iommu-v1-ns', 'qcom,msm-iommu-v1-sec', 'qcom,msm-iommu-v2-ns', 'qcom,msm-iommu-v2-sec'];

/**
 * The Qualcomm IOMMU factory. Each enabled child with a context compatible is one context
 * bank: its number is `qcom,ctx-asid` when present, else the first cell of its `reg` divided
 * by 0x1000; its page is mapped at the child's `reg` (translated through the parent's
 * `ranges`); its first interrupt is the bank's fault line. The node's own `reg`, when present,
 * is the local block (see QcomIommu). `qcom,iommu-secure-id` names the IOMMU to the firmware;
 * without it the firmware cannot configure the IOMMU (a board note says so).
 */
export const createQcomIommuModel: ModelFactory = (board, node, regs, _irqs, ctx) => {
  const path = ctx.path;
  const idx = new FdtIndex(ctx.tree);
  const contexts: (QcomIommuContextDesc & { readonly address?: number })[] = [];
  for (const child of node.children) {
    const cpath = joinPath(path, child.name);
    if (!isEnabled(child, cpath)) continue;
    const compat = compatibleOf(child, cpath);
    const which = compat.find((c) => QCOM_IOMMU_CTX_COMPATIBLES.includes(c));
    if (!which) continue;
    const raw = propCells(child, 'reg', cpath);
    if (!raw || raw.length === 0) throw new FdtError(-1, 'context bank node has no reg', cpath);
    const asid = propU32(child, 'qcom,ctx-asid', cpath);
    const bank = asid ?? Math.floor(raw[0]! / QCOM_IOMMU_CB_SIZE);
    const wired = boardInterrupts(idx, child);
    const line = wired.lines[0];
    const cregs = translatedRegs(ctx.tree, cpath);
    const win = cregs?.[0];
    if (win && win.size < QCOM_IOMMU_CB_SIZE) throw new FdtError(-1, `context bank reg size 0x${win.size.toString(16)} is smaller than one 4 KiB page`, cpath);
    contexts.push({
      bank,
      path: cpath,
      secure: which.endsWith('-sec'),
      secureOwned: which === 'qcom,msm-iommu-v2-sec',
      irq: line !== undefined && line >= 0 ? board.irq.line(line) : undefined,
      address: win?.address,
    });
    if (!win) board.notes.push({ level: 'warn', source: 'OF', message: `${cpath}: reg not reachable from the CPU (no ranges); context bank ${bank} left unmapped` });
  }
  if (contexts.length === 0) throw new FdtError(-1, `${ctx.compatible} has no context bank children`, path);
  const secureId = propU32(node, 'qcom,iommu-secure-id', path);
  if (secureId === undefined) board.notes.push({ level: 'warn', source: 'OF', message: `${path}: no qcom,iommu-secure-id; the firmware cannot configure this IOMMU` });
  let iommu: QcomIommu;
  try {
    iommu = new QcomIommu(board.mem, { name: node.name, secureId, contexts, tlbCapacity: propU32(node, 'gki,tlb-capacity', path) });
  } catch (e) {
    if (e instanceof RangeError) throw new FdtError(-1, e.message, path);
    throw e;
  }
  const local = regs[0];
  if (local) board.bus.map(local.address, local.size, iommu);
  for (const c of contexts) if (c.address !== undefined) board.bus.map(c.address, QCOM_IOMMU_CB_SIZE, iommu.contextWindow(c.bank));
  return iommu;
};

function isMaster(m: unknown): m is SmmuV2Master {
  return typeof m === 'object' && m !== null && typeof (m as { setTranslator?: unknown }).setTranslator === 'function';
}

/**
 * Attaches every model of `board` whose node's `iommus` names a Qualcomm IOMMU of the board
 * (its first such IOMMU; the cells of all its entries there are its context banks). Returns
 * how many masters it attached.
 */
export function attachQcomIommuMasters(board: Board, tree: FdtTree): number {
  let n = 0;
  walkTree(tree, (node, path) => {
    if (!hasProp(node, 'iommus')) return undefined;
    const master = board.models.get(path);
    if (!isMaster(master)) return undefined;
    let target: QcomIommu | undefined;
    const banks: number[] = [];
    for (const ref of phandleArgsList(tree, node, path, 'iommus', '#iommu-cells')) {
      const m = board.models.get(ref.path);
      if (!(m instanceof QcomIommu)) continue;
      if (target && m !== target) continue;
      if (ref.args.length !== 1) {
        // Linux's driver refuses such a master too; the board keeps going without attaching it
        board.notes.push({ level: 'warn', source: 'OF', message: `${path}: iommus entry for ${ref.path} has ${ref.args.length} cells; a Qualcomm IOMMU takes one (the context bank); not attached` });
        return undefined;
      }
      target = m;
      banks.push(ref.args[0]!);
    }
    if (!target || target.attachedMasters.includes(master)) return undefined;
    try {
      target.attachMaster(master, banks);
    } catch (e) {
      if (!(e instanceof RangeError)) throw e;
      // a bank the IOMMU lacks: Linux's of_xlate refuses the master as well
      board.notes.push({ level: 'warn', source: 'OF', message: `${path}: ${e.message}; not attached` });
      return undefined;
    }
    n++;
    return undefined;
  });
  return n;
}

createQcomIommuModel.link = (board, tree) => {
  attachQcomIommuMasters(board, tree);
};
