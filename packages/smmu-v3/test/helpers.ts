import { Board, DmaMaster, SmmuV3, buildFdt, defaultBoardSpec, node, prop, ref, socOf, writeDtb } from '@gki/hw';
import ioPgtableArm from '@gki/format-arm-lpae';
import { ioPgtableCoreModule } from '@gki/io-pgtable-core';
import { Kernel, type Device, type Driver, type KernelImage, type KernelModule } from '@gki/kernel';
import armSmmuV3, { armSmmuV3FromDevice, type ArmSmmuV3 } from '../src/index.js';

/*
 * The test rig: the default board (1 GiB of RAM, three gki,dma-master engines) plus an
 * arm,smmu-v3 node; the masters' `iommus` point at it with StreamIDs 0x10, 0x11, 0x12.
 * Image: io-pgtable core built in, io-pgtable-arm, arm_smmu_v3 and a test driver for the
 * masters loadable; the masters' driver loads first, so they wait for their IOMMU.
 */

export const SMMU_BASE = 0x2b40_0000;
export const SMMU_NAME = '2b400000.iommu';
export const SIDS = [0x10, 0x11, 0x12] as const;
export const MASTER_NAMES = ['a000000.dma', 'a001000.dma', 'a002000.dma'] as const;
/** GIC SPIs 74/75/77 -> controller lines 106/107/109. */
export const EVTQ_LINE = 32 + 74;

export type Preset = 'fvp' | 'qemu' | 'minimal';

export interface BoardOptions {
  preset?: Preset;
  /** StreamIDs of the three masters (default SIDS). */
  sids?: readonly number[];
  /** False adds `gki,no-walk-cache` to the SMMU node (every TLB miss walks every level). */
  walkCache?: boolean;
  /** False leaves the `interrupts` property out (keeping `interrupt-names`): no line resolves. */
  interrupts?: boolean;
}

export function smmuBoard(opts: BoardOptions = {}): Board {
  const spec = defaultBoardSpec();
  const soc = socOf(spec);
  const sids = opts.sids ?? SIDS;
  soc.children.forEach((c, i) => {
    if (i < sids.length) c.props.push(prop.cells('iommus', ref('smmu'), sids[i]!));
  });
  soc.children.push(
    node(`smmu: iommu@${SMMU_BASE.toString(16)}`, [
      prop.string('compatible', 'arm,smmu-v3'),
      prop.reg(1, 1, [SMMU_BASE, 0x2_0000]),
      prop.u32('interrupt-parent', ref('gic')),
      ...(opts.interrupts === false ? [] : [prop.cells('interrupts', 0, 74, 4, 0, 75, 4, 0, 77, 4)]),
      prop.strings('interrupt-names', ['eventq', 'gerror', 'cmdq-sync']),
      prop.u32('#iommu-cells', 1),
      prop.string('gki,smmu-preset', opts.preset ?? 'fvp'),
      ...(opts.walkCache === false ? [prop.empty('gki,no-walk-cache')] : []),
    ]),
  );
  return Board.fromDtb(writeDtb(buildFdt(spec)));
}

/** A driver for the gki,dma-master engines that binds and does nothing else. */
export function dmaTestModule(probed: string[] = []): KernelModule {
  const drv: Driver = {
    name: 'dma-test',
    ofMatchTable: [{ compatible: 'gki,dma-master' }],
    probe(dev) {
      probed.push(dev.name);
      return 0;
    },
  };
  return {
    name: 'dma_test',
    version: '0.0.1',
    license: 'GPL v2',
    init: (ctx) => ctx.kernel.drivers.registerDriver(drv),
    exit: (ctx) => void ctx.kernel.drivers.unregisterDriver(drv),
  };
}

export interface Rig {
  board: Board;
  k: Kernel;
  model: SmmuV3;
  /** DMA engines in master order. */
  dmas: DmaMaster[];
  masters: Device[];
  smmuDev: Device;
  smmu: ArmSmmuV3;
  probed: string[];
}

export interface BootOptions extends BoardOptions {
  image?: (probed: string[]) => KernelImage;
}

export function defaultImage(probed: string[]): KernelImage {
  return {
    builtin: [ioPgtableCoreModule],
    modules: [ioPgtableArm, armSmmuV3, dmaTestModule(probed)],
    load: ['dma_test', 'arm_smmu_v3'],
  };
}

export function dmaOf(board: Board, i: number): DmaMaster {
  const dmas = board.modelsOfType(DmaMaster);
  return dmas[i]!;
}

/** Boots the rig; throws unless the SMMU driver bound. */
export function boot(opts: BootOptions = {}): Rig {
  const board = smmuBoard(opts);
  const probed: string[] = [];
  const k = Kernel.boot(board, (opts.image ?? defaultImage)(probed));
  const smmuDev = k.drivers.findDevice(SMMU_NAME);
  if (!smmuDev) throw new Error('no SMMU device');
  const smmu = armSmmuV3FromDevice(smmuDev);
  if (!smmu) throw new Error(`SMMU driver not bound: ${k.log.dmesg()}`);
  const masters = MASTER_NAMES.map((n) => {
    const d = k.drivers.findDevice(n);
    if (!d) throw new Error(`no device ${n}`);
    return d;
  });
  return { board, k, model: board.modelsOfType(SmmuV3)[0]!, dmas: board.modelsOfType(DmaMaster), masters, smmuDev, smmu, probed };
}

/** Zeroed pages for DMA buffers, from the kernel's allocator (so they never overlap its tables). */
export function buffer(k: Kernel, order = 0): number {
  const pa = k.pages.allocPages(order);
  if (pa < 0) throw new Error(`allocPages(${order}) failed: ${pa}`);
  return pa;
}

/** Fills `len` bytes at `pa` with a byte pattern derived from `seed`. */
export function pattern(k: Kernel, pa: number, len: number, seed: number): void {
  for (let i = 0; i < len; i += 4) k.mem.write32(pa + i, (seed * 0x9e37_79b1 + i) >>> 0);
}
