/**
 * Device-tree glue of the SMMUv1/v2 model: the factory for the compatibles Linux's arm-smmu
 * driver matches, the implementation chosen from the node's whole compatible list, the register
 * geometry derived from `reg`, the interrupts split by `#global-interrupts`, and the `link`
 * pass that attaches every master whose `iommus` points at an SMMUv2.
 */
import type { Board, ModelFactory } from '../../board.js';
import { phandleArgsList } from '../../fdt/address.js';
import { compatibleOf, getProp, hasProp, propCells, propString, propU32, walkTree } from '../../fdt/read.js';
import { FdtError, type FdtNode, type FdtTree } from '../../fdt/types.js';
import {
  SMMUV2_PRESET_ADRENO,
  SMMUV2_PRESET_MMU400,
  SMMUV2_PRESET_MMU401,
  SMMUV2_PRESET_MMU500,
  SMMUV2_PRESET_QCOM_MMU500,
  SMMUV2_PRESET_V1,
  SMMUV2_PRESET_V2,
  SMMUV2_PRESETS,
  smmuV2Config,
  type SmmuV2Preset,
} from './presets.js';
import { SmmuV2, type SmmuV2Master } from './smmu.js';

/** The compatibles Linux's arm-smmu driver binds (the Qualcomm SoC names match by pattern). */
export const SMMUV2_COMPATIBLES: readonly string[] = [
  'arm,smmu-v1',
  'arm,smmu-v2',
  'arm,mmu-400',
  'arm,mmu-401',
  'arm,mmu-500',
  'cavium,smmu-v2',
  'nvidia,smmu-500',
  'qcom,smmu-v2',
  'qcom,smmu-500',
  'qcom,adreno-smmu',
];

const QCOM_SOC = /^qcom,[a-z0-9]+-smmu-(500|v2)$/;

/** True for a compatible string the SMMUv2 model is instantiated for. */
export function isSmmuV2Compatible(compatible: string): boolean {
  return SMMUV2_COMPATIBLES.includes(compatible) || QCOM_SOC.test(compatible);
}

/**
 * The implementation a node describes, from its whole compatible list (real trees put the SoC
 * name first): a Qualcomm Adreno SMMU, a Qualcomm MMU-500, an MMU-500, an SMMUv2, MMU-401,
 * MMU-400 or SMMUv1.
 */
export function smmuV2PresetFor(compatibles: readonly string[]): SmmuV2Preset {
  const has = (c: string): boolean => compatibles.includes(c);
  const mmu500 = has('arm,mmu-500') || has('qcom,smmu-500') || has('nvidia,smmu-500') || compatibles.some((c) => /^(qcom|nvidia),[a-z0-9]+-smmu-500$/.test(c));
  const qcom = compatibles.some((c) => c.startsWith('qcom,'));
  if (has('qcom,adreno-smmu')) return mmu500 ? { ...SMMUV2_PRESET_MMU500, name: 'qcom-adreno-mmu-500' } : SMMUV2_PRESET_ADRENO;
  if (mmu500) return qcom ? SMMUV2_PRESET_QCOM_MMU500 : SMMUV2_PRESET_MMU500;
  if (has('arm,mmu-401')) return SMMUV2_PRESET_MMU401;
  if (has('arm,mmu-400')) return SMMUV2_PRESET_MMU400;
  if (has('arm,smmu-v1')) return SMMUV2_PRESET_V1;
  return SMMUV2_PRESET_V2;
}

function flag(node: FdtNode, name: string): boolean {
  return hasProp(node, name);
}

/**
 * The `gki,*` overrides of a node applied to a preset. Honoured: gki,smmu-preset,
 * gki,num-context-banks, gki,num-s2-context-banks, gki,num-smr, gki,stream-id-bits,
 * gki,stream-indexing, gki,page-size, gki,ias, gki,oas, gki,ubs, gki,no-stage1, gki,no-stage2,
 * gki,no-nested, gki,no-aarch32-short, gki,no-aarch32-long, gki,aarch64-granules (list of
 * granule sizes in bytes, empty = none), gki,vmid16.
 */
function withOverrides(p: SmmuV2Preset, node: FdtNode, path: string): SmmuV2Preset {
  const u = (name: string): number | undefined => propU32(node, name, path);
  const q: { -readonly [K in keyof SmmuV2Preset]: SmmuV2Preset[K] } = { ...p };
  const numCb = u('gki,num-context-banks');
  if (numCb !== undefined) q.numCb = numCb;
  const numS2 = u('gki,num-s2-context-banks');
  if (numS2 !== undefined) q.numS2Cb = numS2;
  const numSmr = u('gki,num-smr');
  if (numSmr !== undefined) q.numSmr = numSmr;
  const sidBits = u('gki,stream-id-bits');
  if (sidBits !== undefined) q.streamIdBits = sidBits;
  if (flag(node, 'gki,stream-indexing')) q.sms = false;
  const ps = u('gki,page-size');
  if (ps !== undefined) q.pageSize = ps;
  for (const k of ['ias', 'oas', 'ubs'] as const) {
    const v = u(`gki,${k}`);
    if (v !== undefined) q[k] = v;
  }
  if (flag(node, 'gki,no-stage1')) q.s1 = false;
  if (flag(node, 'gki,no-stage2')) q.s2 = false;
  if (flag(node, 'gki,no-nested') || !q.s1 || !q.s2) q.nested = false;
  if (flag(node, 'gki,no-aarch32-short')) q.aarch32Short = false;
  if (flag(node, 'gki,no-aarch32-long')) q.aarch32Long = false;
  if (flag(node, 'gki,vmid16')) q.vmid16 = true;
  const gran = getProp(node, 'gki,aarch64-granules') ? (propCells(node, 'gki,aarch64-granules', path) ?? []) : undefined;
  if (gran !== undefined) {
    for (const g of gran) if (g !== 4096 && g !== 16384 && g !== 65536) throw new FdtError(-1, `gki,aarch64-granules: ${g} is not 4096, 16384 or 65536`, path);
    q.aarch64_4k = gran.includes(4096);
    q.aarch64_16k = gran.includes(16384);
    q.aarch64_64k = gran.includes(65536);
  }
  if (!q.s1) q.numS2Cb = q.numCb;
  return q;
}

/**
 * The SMMUv1/v2 factory. Geometry: the `reg` window is the whole SMMU, 2 x NUMPAGE register
 * pages (4 KiB unless gki,page-size, or 64 KiB when 4 KiB pages cannot fill the window), so
 * NUMPAGE = size / page / 2, a power of two (a window that is not such a size gets the largest
 * SMMU that fits, with a board note). The
 * first `#global-interrupts` (default 1) interrupts are global, the rest context interrupts in
 * order. Context banks: gki,num-context-banks, else (SMMUv2) one per context interrupt, at most
 * NUMPAGE, else the preset's count.
 */
export const createSmmuV2Model: ModelFactory = (board, node, regs, irqs, ctx) => {
  const path = ctx.path;
  const win = regs[0];
  if (!win) throw new FdtError(-1, `${ctx.compatible} needs a CPU-addressable reg`, path);
  const compatibles = compatibleOf(node, path);
  const presetName = propString(node, 'gki,smmu-preset', path);
  let preset: SmmuV2Preset;
  if (presetName !== undefined) {
    const p = SMMUV2_PRESETS[presetName];
    if (!p) throw new FdtError(-1, `unknown gki,smmu-preset "${presetName}" (one of ${Object.keys(SMMUV2_PRESETS).join(', ')})`, path);
    preset = p;
  } else {
    preset = smmuV2PresetFor(compatibles);
  }
  const cells = propU32(node, '#iommu-cells', path);
  if (cells !== undefined && cells !== 1 && cells !== 2) throw new FdtError(-1, `#iommu-cells = ${cells}: an SMMU takes 1 (StreamID) or 2 (StreamID, SMR mask)`, path);
  let p = withOverrides(preset, node, path);
  // a window too large for 2 x 256 pages of 4 KiB is an SMMU with 64 KiB register pages
  // (ID1.PAGESIZE): MMU-500s with 128 context banks decode 8 MiB (Layerscape, Tegra 186)
  if (propU32(node, 'gki,page-size', path) === undefined && win.size / p.pageSize > 512 && win.size % 65536 === 0) p = { ...p, pageSize: 65536 };
  const fit = Math.floor(win.size / p.pageSize);
  if (fit < 4)
    throw new FdtError(-1, `reg size 0x${win.size.toString(16)} cannot hold 2 x NUMPAGE pages of ${p.pageSize} bytes (NUMPAGE a power of two, 2..256)`, path);
  // the SMMU spans 2 x NUMPAGE pages (a power of two); a larger window leaves the rest undecoded
  let pages = 4;
  while (pages * 2 <= Math.min(fit, 512)) pages *= 2;
  if (pages * p.pageSize !== win.size)
    board.notes.push({
      level: 'warn',
      source: 'OF',
      message: `${path}: reg size 0x${win.size.toString(16)} is not 2 x NUMPAGE pages of ${p.pageSize} bytes; the SMMU model decodes the first 0x${(pages * p.pageSize).toString(16)} bytes (NUMPAGE ${pages / 2})`,
    });
  const numPage = pages / 2;
  const nGlobal = Math.min(propU32(node, '#global-interrupts', path) ?? 1, irqs.length);
  const ctxIrqs = irqs.slice(nGlobal);
  const explicitCb = propU32(node, 'gki,num-context-banks', path) !== undefined;
  let numCb = p.numCb;
  if (!explicitCb) numCb = p.version === 2 && ctxIrqs.length > 0 ? Math.min(ctxIrqs.length, numPage) : Math.min(p.numCb, numPage);
  let config;
  try {
    config = smmuV2Config({ ...p, numCb, numS2Cb: p.s1 ? Math.min(p.numS2Cb, numCb) : numCb }, numPage);
  } catch (e) {
    if (e instanceof RangeError) throw new FdtError(-1, `${ctx.compatible}: ${e.message}`, path);
    throw e;
  }
  const tlbCapacity = propU32(node, 'gki,tlb-capacity', path);
  const syncLatencyReads = propU32(node, 'gki,sync-latency', path);
  const walkCache = !hasProp(node, 'gki,no-walk-cache');
  const smmu = new SmmuV2(board.mem, {
    name: node.name,
    config,
    globalIrqs: irqs.slice(0, nGlobal).map((n) => board.irq.line(n)),
    contextIrqs: ctxIrqs.map((n) => board.irq.line(n)),
    tlbCapacity,
    syncLatencyReads,
    walkCache,
  });
  board.bus.map(win.address, smmu.mmioSize, smmu);
  // NVIDIA Tegra186/194/234: two or three MMU-500s behind one node, one `reg` window each,
  // programmed in lockstep by software. The first translates for the masters; the others
  // are identical SMMUs that take the same programming (and see no traffic here).
  if (compatibles.some((c) => /^nvidia,tegra(186|194|234)-smmu$/.test(c)))
    for (let i = 1; i < Math.min(regs.length, 3); i++) {
      const extra = new SmmuV2(board.mem, { name: `${node.name}#${i}`, config, tlbCapacity, syncLatencyReads, walkCache });
      board.bus.map(regs[i]!.address, extra.mmioSize, extra);
    }
  return smmu;
};

function isMaster(m: unknown): m is SmmuV2Master {
  return typeof m === 'object' && m !== null && typeof (m as { setTranslator?: unknown }).setTranslator === 'function';
}

/**
 * Attaches every model of `board` whose node's `iommus` names an SMMUv2 of the board: any
 * model with `setTranslator` (DmaMaster, GPU models). Its transactions carry the StreamID of
 * its first entry for that SMMU; further entries are recorded. Returns how many masters it
 * attached; masters already attached are left alone.
 */
export function attachSmmuV2Masters(board: Board, tree: FdtTree): number {
  let n = 0;
  walkTree(tree, (node, path) => {
    if (!hasProp(node, 'iommus')) return undefined;
    const master = board.models.get(path);
    if (!isMaster(master)) return undefined;
    const bySmmu = new Map<SmmuV2, number[]>();
    for (const ref of phandleArgsList(tree, node, path, 'iommus', '#iommu-cells')) {
      const smmu = board.models.get(ref.path);
      if (!(smmu instanceof SmmuV2)) continue;
      if (ref.args.length < 1) throw new FdtError(-1, `iommus entry for ${ref.path} has no StreamID cell`, path);
      const list = bySmmu.get(smmu) ?? [];
      list.push(ref.args[0]!);
      bySmmu.set(smmu, list);
    }
    for (const [smmu, sids] of bySmmu) {
      if (smmu.attachedMasters.includes(master)) continue;
      try {
        smmu.attachMaster(master, sids);
      } catch (e) {
        if (e instanceof RangeError) throw new FdtError(-1, e.message, path);
        throw e;
      }
      n++;
      break; // one translation path per master: the first SMMU it names
    }
    return undefined;
  });
  return n;
}

createSmmuV2Model.link = (board, tree) => {
  attachSmmuV2Masters(board, tree);
};
