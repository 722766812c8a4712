/**
 * Device-tree glue of the Adreno models, from the properties the kernel's trees use:
 *
 * GPU (`qcom,adreno-XYZ.W` / `qcom,adreno-XXXXXXXX` / `qcom,adreno`): `reg` + `reg-names`
 * ("kgsl_3d0_reg_memory" is the GPU's register block, else the first entry; "cx_mem" and
 * "cx_dbgc" become plain register windows), the first interrupt, `iommus` (the SMMUv2 link
 * pass attaches the GPU as a master; this factory's link pass also gives the CP the SMMU's
 * register path for CP_SMMU_TABLE_UPDATE), `qcom,gmu` (pairs it with its GMU).
 *
 * GMU (`qcom,adreno-gmu-XYZ.W` / `qcom,adreno-gmu`): `reg` + `reg-names` ("gmu" is the GMU's
 * register block; "rscc" maps the RSCC registers; the rest, such as "gmu_pdc" and
 * "gmu_pdc_seq", are plain register windows), `interrupts` + `interrupt-names` ("hfi", "gmu"),
 * `iommus` (its own SMMU stream, for the HFI queues).
 *
 * GMU wrapper (`qcom,adreno-gmu-wrapper`, sm6115 and qcm2290): `reg` + `reg-names` ("gmu", the
 * GMU's register block without a microcontroller behind it; see `AdrenoGmuWrapper`).
 *
 * Overrides: `gki,chip-id` (the GPU's, or the GMU's chip id), `gki,cp-execution`
 * ("immediate" or "manual"), `gki,va-bits` (32..52), `gki,gmu-legacy` / `gki,gmu-hfi-v2` (the
 * GMU flavour).
 */
import type { Board, ModelFactory } from '../../board.js';
import type { MmioDevice } from '../../bus.js';
import { phandleArgsList } from '../../fdt/address.js';
import { compatibleOf, findByPhandleWithPath, hasProp, propString, propStrings, propU32, walkTree } from '../../fdt/read.js';
import { FdtError, type FdtNode, type FdtTree } from '../../fdt/types.js';
import { SmmuV2 } from '../smmu-v2/smmu.js';
import { AdrenoRegisterWindow } from './aux.js';
import { AdrenoGmu, AdrenoGmuWrapper } from './gmu.js';
import { AdrenoGpu } from './gpu.js';
import { Adreno3xxGpu } from './gpu3.js';
import { Adreno5xxGpu } from './gpu5.js';
import { adrenoChipIdFromCompatible, adrenoChipIdFromGmuCompatible, adrenoIsA5xx, ADRENO_630_CHIP_ID, ADRENO_GMU_WRAPPER_COMPATIBLE } from './presets.js';
import { A5XX_GPMU_RBCCU_PWR_CLK_STATUS, A6XX_GMU_RSCC_OFFSET } from './regs.js';

/** Smallest GPU register window: the RBBM and CP registers up to CP_ALWAYS_ON_COUNTER_HI. */
const GPU_MIN_REG_SIZE = 0x2608;
/** Smallest a5xx GPU register window: up to the GPMU's power status registers. */
const A5XX_GPU_MIN_REG_SIZE = (A5XX_GPMU_RBCCU_PWR_CLK_STATUS + 1) * 4;
/** Smallest GMU wrapper window: up to GPU_CX_BUSY_STATUS (0x23b0c - 0x1a800 words). */
const GMU_WRAPPER_MIN_REG_SIZE = 0x2_4c10;
/** Smallest GMU register window: up to the RSCC and always-on blocks of an a630-family GMU. */
const GMU_MIN_REG_SIZE = 0x27010;

function regIndex(node: FdtNode, path: string, count: number, name: string): number {
  const names = propStrings(node, 'reg-names', path);
  if (names === undefined) return -1;
  if (names.length !== count) throw new FdtError(-1, `reg-names lists ${names.length} names for ${count} reg entries`, path);
  return names.indexOf(name);
}

function hex(n: number): string {
  return '0x' + n.toString(16);
}

/** Maps every named `reg` entry except `skip` as a plain register window. */
function mapWindows(board: Board, node: FdtNode, path: string, regs: readonly { address: number; size: number }[], skip: readonly string[], into: Map<string, MmioDevice>, owner: string): void {
  const names = propStrings(node, 'reg-names', path) ?? [];
  regs.forEach((r, i) => {
    const name = names[i];
    if (name === undefined || skip.includes(name)) return;
    const w = new AdrenoRegisterWindow(`${owner}-${name}`, r.size);
    try {
      board.bus.map(r.address, r.size, w);
    } catch (e) {
      // A secondary window another device already decodes: the model does not need it.
      if (!(e instanceof RangeError)) throw e;
      board.notes.push({ level: 'warn', source: 'adreno', message: `${path}: "${name}" region not mapped: ${e.message}` });
      return;
    }
    into.set(name, w);
  });
}

/**
 * Maps a model's main register window. Where a secondary window of another Adreno node
 * already decodes part of it (sm8450 and later: the GPU's "cx_mem" lies inside the GMU's
 * "gmu" range, both naming the same registers), that secondary window gives way, with a note.
 */
function mapMain(board: Board, path: string, base: number, size: number, dev: MmioDevice): void {
  for (const r of [...board.bus.list()]) {
    if (!(base < r.base + r.size && r.base < base + size) || !(r.device instanceof AdrenoRegisterWindow)) continue;
    for (const m of board.models.values())
      if (m instanceof AdrenoGpu || m instanceof AdrenoGmu)
        for (const [k, w] of m.windows) if (w === r.device) m.windows.delete(k);
    board.bus.unmap(r.device);
    board.notes.push({ level: 'warn', source: 'adreno', message: `${path}: "${r.device.name}" (${hex(r.base)}+${hex(r.size)}) lies inside this node's registers; it is decoded here` });
  }
  board.bus.map(base, size, dev);
}

function gpuChipId(node: FdtNode, path: string, compatibles: readonly string[]): number | undefined {
  const own = propU32(node, 'gki,chip-id', path);
  if (own !== undefined) return own;
  for (const c of compatibles) {
    const id = adrenoChipIdFromCompatible(c);
    if (id !== undefined) return id;
  }
  const legacy = propU32(node, 'qcom,chipid', path);
  return legacy;
}

/** The Adreno GPU factory (`ADRENO_GPU_MODEL` in `BUILTIN_MODELS`). */
export const createAdrenoGpuModel: ModelFactory = (board, node, regs, irqs, ctx) => {
  const path = ctx.path;
  if (regs.length === 0) throw new FdtError(-1, `${ctx.compatible} needs a CPU-addressable reg`, path);
  const named = regIndex(node, path, regs.length, 'kgsl_3d0_reg_memory');
  const win = regs[named >= 0 ? named : 0]!;
  if (win.size < GPU_MIN_REG_SIZE) throw new FdtError(-1, `${ctx.compatible} register window ${hex(win.size)} is below ${hex(GPU_MIN_REG_SIZE)}`, path);
  const compatibles = compatibleOf(node, path);
  const chipId = gpuChipId(node, path, compatibles);
  if (chipId === undefined) {
    // which GPU this is cannot be told from the tree: no model for it, the board still builds
    // (msm's find_chipid fails the same way: the GPU's probe fails, the rest of the system boots)
    board.notes.push({
      level: 'warn',
      source: 'adreno',
      message: `${path}: no chip id (no compatible of the form "qcom,adreno-XYZ.W" or "qcom,adreno-XXXXXXXX", no qcom,chipid; compatible: ${compatibles.join(', ')}); no GPU model`,
    });
    return undefined;
  }
  const core = chipId >>> 24;
  if (core < 3 || (core > 7 && core !== 0x43)) {
    // An a2xx behind the generic "qcom,adreno" (its own MMU and register map), or an a8xx
    // (core 8, or the hex-numbered 0x44xxxxxx ids of sm8750, kaanapali, glymur), whose
    // register map differs: not this model.
    board.notes.push({ level: 'info', source: 'adreno', message: `${path}: Adreno chip id 0x${chipId.toString(16)} is not an a3xx/a4xx/a5xx/a6xx/a7xx part; no GPU model` });
    return undefined;
  }
  const a5xx = adrenoIsA5xx(chipId);
  if (a5xx && win.size < A5XX_GPU_MIN_REG_SIZE) throw new FdtError(-1, `${ctx.compatible} register window ${hex(win.size)} is below ${hex(A5XX_GPU_MIN_REG_SIZE)} (an a5xx part)`, path);
  const exec = propString(node, 'gki,cp-execution', path);
  if (exec !== undefined && exec !== 'immediate' && exec !== 'manual')
    throw new FdtError(-1, `property 'gki,cp-execution' must be "immediate" or "manual", not "${exec}"`, path);
  const vaBits = propU32(node, 'gki,va-bits', path);
  if (vaBits !== undefined && (vaBits < 32 || vaBits > 52)) throw new FdtError(-1, `property 'gki,va-bits' = ${vaBits} is outside 32..52`, path);
  const first = hasProp(node, 'iommus') ? phandleArgsList(ctx.tree, node, path, 'iommus', '#iommu-cells')[0] : undefined;
  const opts = {
    name: node.name,
    chipId,
    streamId: first?.args[0],
    irq: irqs[0] === undefined || irqs[0] < 0 ? undefined : board.irq.line(irqs[0]),
    execution: exec as 'immediate' | 'manual' | undefined,
    vaBits,
  };
  const gpu = core === 3 || core === 4 ? new Adreno3xxGpu(board.mem, opts) : a5xx ? new Adreno5xxGpu(board.mem, opts) : new AdrenoGpu(board.mem, opts);
  board.bus.map(win.address, win.size, gpu);
  mapWindows(board, node, path, regs, ['kgsl_3d0_reg_memory'], gpu.windows, node.name);
  return gpu;
};

/**
 * Links every Adreno GPU of `board` to the SMMUv2 its first `iommus` entry names (the CP's
 * register path for CP_SMMU_TABLE_UPDATE) and to the GMU its `qcom,gmu` names.
 */
export function linkAdrenoGpus(board: Board, tree: FdtTree): void {
  walkTree(tree, (node, path) => {
    const gpu = board.models.get(path);
    if (!(gpu instanceof AdrenoGpu)) return undefined;
    if (hasProp(node, 'iommus')) {
      const ref = phandleArgsList(tree, node, path, 'iommus', '#iommu-cells')[0];
      const smmu = ref ? board.models.get(ref.path) : undefined;
      if (smmu instanceof SmmuV2) gpu.attachSmmu(smmu);
    }
    const ph = propU32(node, 'qcom,gmu', path);
    if (ph !== undefined) {
      const target = findByPhandleWithPath(tree, ph);
      if (!target) throw new FdtError(-1, `qcom,gmu phandle ${ph} names no node`, path);
      const gmu = board.models.get(target.path);
      if (gmu instanceof AdrenoGmu || gmu instanceof AdrenoGmuWrapper) gmu.attachGpu(gpu);
    }
    return undefined;
  });
}

createAdrenoGpuModel.link = linkAdrenoGpus;

/** The Adreno GMU factory (`ADRENO_GMU_MODEL` in `BUILTIN_MODELS`). */
export const createAdrenoGmuModel: ModelFactory = (board, node, regs, irqs, ctx) => {
  const path = ctx.path;
  if (regs.length === 0) throw new FdtError(-1, `${ctx.compatible} needs a CPU-addressable reg`, path);
  const named = regIndex(node, path, regs.length, 'gmu');
  const win = regs[named >= 0 ? named : 0]!;
  if (compatibleOf(node, path).includes(ADRENO_GMU_WRAPPER_COMPATIBLE)) {
    // the GMU's register block with no GMU behind it: no RSCC, no interrupts, no IOMMU stream
    if (win.size < GMU_WRAPPER_MIN_REG_SIZE) throw new FdtError(-1, `${ctx.compatible} register window ${hex(win.size)} is below ${hex(GMU_WRAPPER_MIN_REG_SIZE)}`, path);
    const wrapper = new AdrenoGmuWrapper({ name: node.name });
    board.bus.map(win.address, win.size, wrapper);
    return wrapper;
  }
  const rsccIdx = regIndex(node, path, regs.length, 'rscc');
  // Without a separate "rscc" region the RSCC registers sit inside the "gmu" window.
  const min = rsccIdx >= 0 ? 0x13000 : GMU_MIN_REG_SIZE;
  if (win.size < min) throw new FdtError(-1, `${ctx.compatible} register window ${hex(win.size)} is below ${hex(min)}`, path);
  const compatibles = compatibleOf(node, path);
  let chipId = propU32(node, 'gki,chip-id', path);
  for (const c of compatibles) if (chipId === undefined) chipId = adrenoChipIdFromGmuCompatible(c);
  const legacyFlag = hasProp(node, 'gki,gmu-legacy');
  const v2Flag = hasProp(node, 'gki,gmu-hfi-v2');
  if (legacyFlag && v2Flag) throw new FdtError(-1, 'gki,gmu-legacy and gki,gmu-hfi-v2 are exclusive', path);
  const names = propStrings(node, 'interrupt-names', path);
  if (names !== undefined && names.length !== irqs.length) throw new FdtError(-1, `interrupt-names lists ${names.length} names for ${irqs.length} interrupts`, path);
  const line = (name: string, dflt: number) => {
    const i = names ? names.indexOf(name) : dflt;
    const n = i >= 0 ? irqs[i] : undefined;
    return n === undefined || n < 0 ? undefined : board.irq.line(n);
  };
  const gmu = new AdrenoGmu(board.mem, {
    name: node.name,
    chipId: chipId ?? ADRENO_630_CHIP_ID,
    legacy: legacyFlag ? true : v2Flag ? false : undefined,
    hfiIrq: line('hfi', 0),
    gmuIrq: line('gmu', 1),
  });
  mapMain(board, path, win.address, win.size, gmu);
  if (rsccIdx >= 0) {
    const r = regs[rsccIdx]!;
    board.bus.map(r.address, r.size, gmu.rscc);
    gmu.windows.set('rscc', gmu.rscc);
  } else if (win.size < A6XX_GMU_RSCC_OFFSET) {
    throw new FdtError(-1, `${ctx.compatible}: no "rscc" region and the "gmu" window does not reach the RSCC block`, path);
  }
  mapWindows(board, node, path, regs, ['gmu', 'rscc'], gmu.windows, node.name);
  return gmu;
};
