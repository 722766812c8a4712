/**
 * Random SMMUv3 driver traffic on the default board (its SMMUv3 model with DMA masters), with
 * one kind of invalidation command dropped in turn between the driver and the command queue,
 * as a driver that forgot it would. The traffic keeps its own record of what each IOVA should
 * reach; every DMA is checked against it, so a stale TLB entry or a stale cached STE/CD shows up
 * as DMA that reaches the wrong page, or does not fault where it must. With nothing dropped the
 * same traffic must see no difference at all (the control run).
 */
import { DMA_STATUS_DONE, DMA_STATUS_FAULT, DmaMaster, SmmuV3, createDefaultBoard } from '@gki/hw';
import {
  IOMMU_READ,
  IOMMU_WRITE,
  Kernel,
  iommuAttachDevice,
  iommuDetachDevice,
  iommuDomainAlloc,
  iommuFlushIotlbAll,
  iommuMap,
  iommuUnmap,
  type Device,
  type IommuDomain,
  type KernelImage,
  type KernelModule,
} from '@gki/kernel';
import { ioPgtableCoreModule } from '@gki/io-pgtable-core';
import ioPgtableArm from '@gki/format-arm-lpae';
import armSmmuV3, {
  CMD_CFGI_CD,
  CMD_CFGI_STE,
  CMD_TLBI_NH_ASID,
  CMD_TLBI_NH_VA,
  CMD_TLBI_S12_VMALL,
  CMD_TLBI_S2_IPA,
  armSmmuV3DomainAllocS2,
  armSmmuV3FromDevice,
} from '@gki/smmu-v3';
import { Rng } from '@gki/testkit';
import type { SoakFailure } from './pgtable.js';

/** The invalidations the driver issues, by name and opcode. */
export const INVALIDATIONS: Readonly<Record<string, number>> = {
  TLBI_NH_VA: CMD_TLBI_NH_VA,
  TLBI_NH_ASID: CMD_TLBI_NH_ASID,
  TLBI_S2_IPA: CMD_TLBI_S2_IPA,
  TLBI_S12_VMALL: CMD_TLBI_S12_VMALL,
  CFGI_STE: CMD_CFGI_STE,
  CFGI_CD: CMD_CFGI_CD,
};

export interface SmmuDropResult {
  /** The dropped command, or 'none' for the control run. */
  readonly dropped: string;
  readonly seed: number;
  readonly ops: number;
  readonly dmas: number;
  /** Commands of that kind swallowed. */
  readonly drops: number;
  /** Operation at which the traffic first saw the effect of a drop (-1: never). */
  readonly detectedAt: number;
  readonly detail: string;
  readonly failures: SoakFailure[];
}

/** A driver that binds the DMA masters and does nothing else (their IOMMU setup is the core's). */
const bindMasters: KernelModule = {
  name: 'soak_masters',
  version: '0.0.0',
  license: 'GPL v2',
  init: (ctx) => ctx.kernel.drivers.registerDriver({ name: 'soak-master', ofMatchTable: [{ compatible: 'gki,dma-master' }], probe: () => 0 }),
};

function image(): KernelImage {
  return { builtin: [ioPgtableCoreModule], modules: [ioPgtableArm, armSmmuV3, bindMasters], load: ['soak_masters', 'arm_smmu_v3'] };
}

const SZ_4K = 0x1000;
const RW = IOMMU_READ | IOMMU_WRITE;
const ok = (st: number) => (st & (DMA_STATUS_DONE | DMA_STATUS_FAULT)) === DMA_STATUS_DONE;

class Detected extends Error {}

/**
 * Runs `ops` random operations (map, unmap, DMA, domain switches, flush-all) with the
 * invalidation `dropped` (a key of INVALIDATIONS, or 'none') swallowed after boot.
 */
export function runSmmuDrop(dropped: string, seed: number, ops: number): SmmuDropResult {
  const rng = new Rng(seed);
  const board = createDefaultBoard();
  const k = Kernel.boot(board, image());
  const model = board.modelsOfType(SmmuV3)[0]!;
  const dma = board.modelsOfType(DmaMaster)[0]!;
  const dev = k.drivers.findDevice('a000000.dma') as Device;
  const smmu = armSmmuV3FromDevice(k.drivers.findDevice('2b400000.iommu')!);
  const failures: SoakFailure[] = [];
  if (!smmu || !dev) throw new Error(`SMMU or master missing: ${k.log.dmesg()}`);
  // swallow the chosen command on its way into the queue
  const opcode = dropped === 'none' ? -1 : INVALIDATIONS[dropped];
  if (opcode === undefined) throw new RangeError(`unknown invalidation ${dropped}`);
  const cmdq = (smmu as unknown as { cmdq: { add(w0: number, w1: number, w2: number, w3: number): number } }).cmdq;
  const realAdd = cmdq.add.bind(cmdq);
  let drops = 0;
  cmdq.add = (w0, w1, w2, w3) => {
    if ((w0 & 0xff) === opcode) {
      drops++;
      return 0;
    }
    return realAdd(w0, w1, w2, w3);
  };

  // two stage-1 domains and, with stage 2, a stage-2 domain; the master moves between them
  const doms: IommuDomain[] = [];
  for (let i = 0; i < 2; i++) {
    const d = iommuDomainAlloc(dev);
    if (typeof d === 'number') throw new Error(`domain: ${d}`);
    doms.push(d);
  }
  if (smmu.features.s2) {
    const d = armSmmuV3DomainAllocS2(dev);
    if (typeof d !== 'number') doms.push(d);
  }
  /** Per domain: IOVA page -> PA page. */
  const maps = doms.map(() => new Map<number, number>());
  let cur = 0;
  const pages: number[] = [];
  for (let i = 0; i < 64; i++) {
    const pa = k.pages.allocPages(0);
    if (pa < 0) throw new Error('out of pages');
    pages.push(pa);
  }
  const IOVA_PAGES = 256; // a 1 MiB IOVA window
  let dmas = 0;
  let detectedAt = -1;
  let detail = '';
  let op = 0;
  const check = (iova: number, what: string) => {
    const want = maps[cur]!.get(iova);
    const value = rng.u32();
    const st = dma.fill(iova, 4, value);
    dmas++;
    if (want === undefined) {
      if (ok(st)) throw new Detected(`${what}: DMA to unmapped IOVA 0x${iova.toString(16)} in domain ${cur} succeeded (stale translation)`);
      return;
    }
    if (!ok(st)) throw new Detected(`${what}: DMA to IOVA 0x${iova.toString(16)} in domain ${cur} faulted, expected PA 0x${want.toString(16)}`);
    const got = k.mem.read32(want);
    if (got !== value) throw new Detected(`${what}: DMA to IOVA 0x${iova.toString(16)} in domain ${cur} did not reach PA 0x${want.toString(16)} (went through a stale translation)`);
  };
  try {
    if (iommuAttachDevice(doms[0]!, dev) !== 0) throw new Error('attach failed');
    for (; op < ops; op++) {
      const roll = rng.below(100);
      const m = maps[cur]!;
      const d = doms[cur]!;
      if (roll < 35) {
        const iova = rng.below(IOVA_PAGES) * SZ_4K;
        if (m.has(iova)) continue;
        const pa = pages[rng.below(pages.length)]!;
        if (iommuMap(d, iova, pa, SZ_4K, RW) !== 0) throw new Error(`map 0x${iova.toString(16)} failed`);
        m.set(iova, pa);
        check(iova, 'after map');
      } else if (roll < 60) {
        const keys = [...m.keys()];
        if (keys.length === 0) continue;
        const iova = keys[rng.below(keys.length)]!;
        check(iova, 'before unmap'); // the translation is in the TLB now
        if (iommuUnmap(d, iova, SZ_4K) !== SZ_4K) throw new Error(`unmap 0x${iova.toString(16)} failed`);
        m.delete(iova);
        check(iova, 'after unmap');
      } else if (roll < 63) {
        // a large unmap: more pages than the driver invalidates one by one (512), so it
        // invalidates the whole ASID/VMID instead (without range invalidation); the run starts
        // off a 2 MiB boundary so that iommu_unmap keeps to 4 KiB pages (a 2 MiB step would
        // remove a whole table with a walk flush instead)
        const base = 0x1000_1000;
        const n = 520 + rng.below(100);
        for (let i = 0; i < n; i++) {
          const pa = pages[rng.below(pages.length)]!;
          if (iommuMap(d, base + i * SZ_4K, pa, SZ_4K, RW) !== 0) throw new Error('map failed');
          m.set(base + i * SZ_4K, pa);
        }
        const probe = [0, 1 + rng.below(n - 2), n - 1].map((i) => base + i * SZ_4K);
        for (const iova of probe) check(iova, 'before range unmap');
        if (iommuUnmap(d, base, n * SZ_4K) !== n * SZ_4K) throw new Error('range unmap failed');
        for (let i = 0; i < n; i++) m.delete(base + i * SZ_4K);
        for (const iova of probe) check(iova, 'after range unmap');
      } else if (roll < 78) {
        // move the master to another domain (STE, and CD for stage 1, change)
        const next = (cur + 1 + rng.below(doms.length - 1)) % doms.length;
        const keys = [...m.keys()];
        if (keys.length) check(keys[rng.below(keys.length)]!, 'before switch');
        iommuDetachDevice(d, dev);
        if (iommuAttachDevice(doms[next]!, dev) !== 0) throw new Error('attach failed');
        cur = next;
        const nk = [...maps[cur]!.keys()];
        for (const iova of nk.slice(0, 4)) check(iova, 'after switch');
        if (keys.length) check(keys[0]!, 'after switch (old IOVA)');
      } else if (roll < 80) {
        iommuFlushIotlbAll(d);
      } else {
        const iova = rng.below(IOVA_PAGES) * SZ_4K;
        check(iova, 'lookup');
      }
    }
  } catch (e) {
    if (!(e instanceof Detected)) throw e;
    detectedAt = op;
    detail = e.message;
  }
  if (dropped === 'none' && detectedAt >= 0) failures.push({ what: 'SMMUv3 control run (nothing dropped)', seed, op: detectedAt, detail });
  if (dropped !== 'none' && detectedAt < 0)
    failures.push({ what: `SMMUv3 dropped ${dropped}`, seed, op: ops, detail: drops ? `${drops} dropped and never noticed in ${ops} operations` : 'the traffic never issued it' });
  if (model.hitlessViolations.length) failures.push({ what: 'SMMUv3 hitless', seed, op, detail: JSON.stringify(model.hitlessViolations[0]) });
  return { dropped, seed, ops: op, dmas, drops, detectedAt, detail, failures };
}
