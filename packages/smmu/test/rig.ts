import { ADRENO_GPU_MODEL, BUILTIN_MODELS, Board, DmaMaster, SmmuV2, buildFdt, defaultBoardSpec, node, prop, ref, socOf, writeDtb, type DraftNode } from '@gki/hw';
import ioPgtableArm from '@gki/format-arm-lpae';
import ioPgtableArmV7s from '@gki/format-arm-v7s';
import { ioPgtableCoreModule } from '@gki/io-pgtable-core';
import { Kernel, iommuDomainAlloc, type Device, type Driver, type IommuDomain, type KernelArchName, type KernelImage, type KernelModule } from '@gki/kernel';
import armSmmu, { armSmmuFromDevice, type ArmSmmu } from '../src/index.js';

/*
 * The end-to-end rig: the default board (1 GiB of RAM at 0x40000000, three gki,dma-master
 * engines) plus an SMMUv1/v2 node driven by the hardware model of @gki/hw. The masters'
 * `iommus` point at it; the image has the io-pgtable core built in and io-pgtable-arm,
 * io-pgtable-arm-v7s, arm_smmu and a test driver for the masters as modules.
 */

export const SMMU_BASE = 0x2b40_0000;
export const SMMU_NAME = '2b400000.iommu';
export const MASTER_NAMES = ['a000000.dma', 'a001000.dma', 'a002000.dma'] as const;
/** Controller line of GIC SPI n. */
export const spi = (n: number) => 32 + n;

export interface RigOptions {
  compatible?: string[];
  /** `iommus` cells per master (null: no iommus); default one cell, SID 0x10 + n. */
  iommus?: (number[] | null)[];
  iommuCells?: number;
  /** Label of the IOMMU each master's `iommus` names (default 'smmu'). */
  iommuLabels?: string[];
  globalIrqs?: number;
  /** Context interrupts (default 8). */
  contextIrqs?: number;
  /** Size of the register window (default 0x20000: 16 + 16 pages of 4 KiB). */
  regSize?: number;
  /** Bases of further register windows of the same size (NVIDIA's lockstep instances). */
  moreRegs?: number[];
  /** Extra properties on the SMMU node (gki,* overrides, stream-match-mask, ...). */
  smmuProps?: ReturnType<typeof prop.empty>[];
  /** Extra nodes under /soc. */
  extra?: DraftNode[];
  arch?: KernelArchName;
  /** Leave io-pgtable-arm-v7s out of the image. */
  noV7s?: boolean;
  image?: (probed: string[]) => KernelImage;
}

export function rigBoard(opts: RigOptions = {}): Board {
  const spec = defaultBoardSpec();
  const soc = socOf(spec);
  soc.children.forEach((c, i) => {
    const cells = opts.iommus ? opts.iommus[i] : [0x10 + i];
    if (cells) c.props.push(prop.cells('iommus', ref(opts.iommuLabels?.[i] ?? 'smmu'), ...cells));
  });
  const nglobal = opts.globalIrqs ?? 1;
  const nctx = opts.contextIrqs ?? 8;
  const irq: number[] = [];
  for (let i = 0; i < nglobal + nctx; i++) irq.push(0, 100 + i, 4);
  soc.children.push(
    node(`smmu: iommu@${SMMU_BASE.toString(16)}`, [
      prop.strings('compatible', opts.compatible ?? ['arm,mmu-500']),
      prop.reg(1, 1, [SMMU_BASE, opts.regSize ?? 0x2_0000], ...(opts.moreRegs ?? []).map((b) => [b, opts.regSize ?? 0x2_0000] as [number, number])),
      prop.u32('interrupt-parent', ref('gic')),
      prop.cells('interrupts', ...irq),
      prop.u32('#global-interrupts', nglobal),
      prop.u32('#iommu-cells', opts.iommuCells ?? 1),
      ...(opts.smmuProps ?? []),
    ]),
    ...(opts.extra ?? []),
  );
  // GPU stand-ins here are DMA engines (compatible "qcom,adreno-630.2", ..., "gki,dma-master"):
  // leave the Adreno GPU model out so their last compatible picks the engine.
  return Board.fromDtb(writeDtb(buildFdt(spec)), { models: BUILTIN_MODELS.filter((d) => d !== ADRENO_GPU_MODEL) });
}

/** A driver for the gki,dma-master engines that binds and records probes. */
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

export function rigImage(opts: RigOptions, probed: string[]): KernelImage {
  if (opts.image) return opts.image(probed);
  const formats = opts.noV7s ? [ioPgtableArm] : [ioPgtableArm, ioPgtableArmV7s];
  return {
    builtin: [ioPgtableCoreModule],
    modules: [...formats, armSmmu, dmaTestModule(probed)],
    load: ['dma_test', 'arm_smmu'],
    arch: opts.arch,
  };
}

export interface Rig {
  board: Board;
  k: Kernel;
  model: SmmuV2;
  dmas: DmaMaster[];
  masters: Device[];
  smmuDev: Device;
  smmu: ArmSmmu;
  probed: string[];
}

/** Boots the rig; throws unless the SMMU driver bound. */
export function boot(opts: RigOptions = {}): Rig {
  const board = rigBoard(opts);
  const probed: string[] = [];
  const k = Kernel.boot(board, rigImage(opts, probed));
  const smmuDev = k.drivers.findDevice(SMMU_NAME);
  if (!smmuDev) throw new Error('no SMMU device');
  const smmu = armSmmuFromDevice(smmuDev);
  if (!smmu) throw new Error(`SMMU driver not bound:\n${k.log.dmesg()}`);
  return {
    board,
    k,
    model: board.modelsOfType(SmmuV2)[0]!,
    dmas: board.modelsOfType(DmaMaster),
    masters: MASTER_NAMES.map((n) => k.drivers.findDevice(n)!),
    smmuDev,
    smmu,
    probed,
  };
}

/** An unmanaged domain for `dev`; throws on failure. */
export function domain(dev: Device): IommuDomain {
  const d = iommuDomainAlloc(dev);
  if (typeof d === 'number') throw new Error(`domain alloc: ${d}`);
  return d;
}

/** Zeroed pages for DMA buffers from the kernel's allocator (never overlapping its tables). */
export function buffer(k: Kernel, order = 0): number {
  const pa = k.pages.allocPages(order);
  if (pa < 0) throw new Error(`allocPages(${order}) failed: ${pa}`);
  return pa;
}

/** Fills `len` bytes at `pa` with a pattern derived from `seed`. */
export function pattern(k: Kernel, pa: number, len: number, seed: number): void {
  for (let i = 0; i < len; i += 4) k.mem.write32(pa + i, (seed * 0x9e37_79b1 + i) >>> 0);
}
