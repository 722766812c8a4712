/**
 * Device-tree glue of the SMMUv3 model: the `arm,smmu-v3` factory and the attachment of the
 * DMA masters whose `iommus` property points at an SMMU.
 */
import type { Board, ModelFactory } from '../../board.js';
import { phandleArgsList } from '../../fdt/address.js';
import { parseDtb } from '../../fdt/parse.js';
import { hasProp, propString, propStrings, walkTree } from '../../fdt/read.js';
import { FdtError, type FdtTree } from '../../fdt/types.js';
import { DmaMaster } from '../dma-master.js';
import { SMMUV3_PRESET_FVP, SMMUV3_PRESET_MINIMAL, SMMUV3_PRESET_QEMU, type SmmuV3Preset } from './presets.js';
import { SMMU_MMIO_SIZE } from './regs.js';
import { SmmuV3 } from './smmu.js';

/** Presets selectable from the device tree with `gki,smmu-preset = "fvp" | "minimal" | "qemu"`. */
export const SMMUV3_PRESETS: Readonly<Record<string, SmmuV3Preset>> = {
  fvp: SMMUV3_PRESET_FVP,
  minimal: SMMUV3_PRESET_MINIMAL,
  qemu: SMMUV3_PRESET_QEMU,
};

/**
 * Attaches every DMA master of `board` whose `iommus` names an SMMUv3 model of the board
 * (its first argument cell is the StreamID). Returns how many masters it attached.
 * Board.fromDtb runs it once all models exist (the factory's `link` pass), so masters are
 * attached wherever they sit in the tree; call it again after adding masters by hand.
 */
export function attachSmmuV3Masters(board: Board, tree?: FdtTree): number {
  const t = tree ?? parseDtb(board.dtb);
  let n = 0;
  walkTree(t, (node, path) => {
    if (!hasProp(node, 'iommus')) return undefined;
    const master = board.models.get(path);
    if (!(master instanceof DmaMaster)) return undefined;
    for (const ref of phandleArgsList(t, node, path, 'iommus', '#iommu-cells')) {
      const smmu = board.models.get(ref.path);
      if (!(smmu instanceof SmmuV3)) continue;
      if (smmu.attachedMasters.includes(master)) break;
      smmu.attachMaster(master, ref.args[0] ?? master.streamId);
      n++;
      break; // a master has one translation path
    }
    return undefined;
  });
  return n;
}

/**
 * The `arm,smmu-v3` factory: maps the 128 KiB register window, takes the interrupt lines
 * named by `interrupt-names` ("eventq", "gerror", "cmdq-sync", "priq"; unnamed lines are
 * taken in that order) and selects the preset from `gki,smmu-preset` (default "fvp");
 * `gki,no-walk-cache` turns the walk cache off (every TLB miss walks every level); its
 * `link` pass attaches the DMA masters that point at this node.
 */
export const createSmmuV3Model: ModelFactory = (board, node, regs, irqs, ctx) => {
  const win = regs[0];
  if (!win) throw new FdtError(-1, 'arm,smmu-v3 needs a CPU-addressable reg', ctx.path);
  if (win.size < SMMU_MMIO_SIZE)
    throw new FdtError(-1, `arm,smmu-v3 reg size 0x${win.size.toString(16)} is below 0x${SMMU_MMIO_SIZE.toString(16)}`, ctx.path);
  const presetName = propString(node, 'gki,smmu-preset', ctx.path) ?? 'fvp';
  const preset = SMMUV3_PRESETS[presetName];
  if (!preset) throw new FdtError(-1, `unknown gki,smmu-preset "${presetName}"`, ctx.path);
  const names = propStrings(node, 'interrupt-names', ctx.path) ?? ['eventq', 'gerror', 'cmdq-sync', 'priq'];
  const line = (name: string) => {
    const i = names.indexOf(name);
    return i >= 0 && irqs[i] !== undefined && irqs[i]! >= 0 ? board.irq.line(irqs[i]!) : undefined;
  };
  const smmu = new SmmuV3(board.mem, {
    name: node.name,
    preset,
    eventqIrq: line('eventq'),
    gerrorIrq: line('gerror'),
    cmdqSyncIrq: line('cmdq-sync'),
    priqIrq: line('priq'),
    walkCache: !hasProp(node, 'gki,no-walk-cache'),
  });
  board.bus.map(win.address, SMMU_MMIO_SIZE, smmu);
  return smmu;
};
createSmmuV3Model.link = (board, tree) => {
  attachSmmuV3Masters(board, tree);
};
