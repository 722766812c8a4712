import { Board, buildFdt, defaultBoardSpec, node, prop, ref, socOf, writeDtb, type DraftNode } from '@gki/hw';
import ioPgtableArm from '@gki/format-arm-lpae';
import { ioPgtableCoreModule } from '@gki/io-pgtable-core';
import { Kernel, type KernelImage } from '@gki/kernel';
import panfrost, { panfrostDevices, type PanfrostDevice, type PanfrostFile } from '../src/index.js';
import { FakeMali, type FakeMaliOptions } from './fake-mali.js';

/** Where the test boards put the GPU: /soc/gpu@2d000000, 64 KiB, GIC SPIs 19/20/21 (job/mmu/gpu). */
export const GPU_BASE = 0x2d00_0000;
export const GPU_NAME = '2d000000.gpu';
export const GPU_SPIS = { job: 19, mmu: 20, gpu: 21 } as const;
/** Interrupt controller lines of those SPIs (32 + SPI). */
export const GPU_LINES = { job: 32 + 19, mmu: 32 + 20, gpu: 32 + 21 } as const;

export interface GpuNodeOptions {
  compatible?: readonly string[];
  /** Override of interrupt-names (default job, mmu, gpu). */
  interruptNames?: readonly string[];
  extraProps?: ReturnType<typeof prop.empty>[];
  /** `reg` size (default 64 KiB). */
  regSize?: number;
}

/** The GPU node of the test boards (3-cell GIC specifiers, level high). */
export function gpuNode(opts: GpuNodeOptions = {}): DraftNode {
  return node(`gpu@${GPU_BASE.toString(16)}`, [
    prop.strings('compatible', [...(opts.compatible ?? ['rockchip,rk3399-mali', 'arm,mali-t860'])]),
    prop.reg(1, 1, [GPU_BASE, opts.regSize ?? 0x1_0000]),
    prop.u32('interrupt-parent', ref('gic')),
    prop.cells('interrupts', 0, GPU_SPIS.job, 4, 0, GPU_SPIS.mmu, 4, 0, GPU_SPIS.gpu, 4),
    prop.strings('interrupt-names', [...(opts.interruptNames ?? ['job', 'mmu', 'gpu'])]),
    ...(opts.extraProps ?? []),
  ]);
}

export function defaultImage(): KernelImage {
  return { builtin: [ioPgtableCoreModule], modules: [ioPgtableArm, panfrost], load: ['panfrost'] };
}

export interface FakeRig {
  board: Board;
  k: Kernel;
  fake: FakeMali;
  pfdev: PanfrostDevice;
}

export interface FakeRigOptions extends FakeMaliOptions, GpuNodeOptions {
  image?: KernelImage;
  /** Do not require the driver to bind (for probe-failure tests). */
  allowUnbound?: boolean;
}

/**
 * The default board's RAM and GIC with a GPU node whose registers are the scripted FakeMali
 * (no device models), booted with io-pgtable core built in and io-pgtable-arm + panfrost as
 * modules.
 */
export function fakeRig(opts: FakeRigOptions = {}): FakeRig & { pfdev: PanfrostDevice } {
  const spec = defaultBoardSpec();
  const soc = socOf(spec);
  soc.children.length = 0;
  soc.children.push(gpuNode(opts));
  const board = Board.fromDtb(writeDtb(buildFdt(spec)), { models: false });
  const fake = new FakeMali(opts);
  board.bus.map(GPU_BASE, opts.regSize ?? 0x1_0000, fake);
  fake.lines = { job: board.irq.line(GPU_LINES.job), mmu: board.irq.line(GPU_LINES.mmu), gpu: board.irq.line(GPU_LINES.gpu) };
  const k = Kernel.boot(board, opts.image ?? defaultImage());
  const pfdev = panfrostDevices(k)[0];
  if (!pfdev && !opts.allowUnbound) throw new Error(`panfrost did not bind:\n${k.log.dmesg()}`);
  return { board, k, fake, pfdev: pfdev as PanfrostDevice };
}

/** Opens a file or throws. */
export function openFile(pfdev: PanfrostDevice): PanfrostFile {
  const f = pfdev.open();
  if (typeof f === 'number') throw new Error(`open failed: ${f}`);
  return f;
}

/** Creates a buffer or throws. */
export function createBo(file: PanfrostFile, size: number, flags = 0): { handle: number; offset: number } {
  const r = file.createBo({ size, flags });
  if (typeof r === 'number') throw new Error(`CREATE_BO(${size}, ${flags}) failed: ${r}`);
  return r;
}
