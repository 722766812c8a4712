/**
 * The built-in board, 'gki-virt'. Its device tree is the single source of truth: the board
 * object is built by `Board.fromDtb(defaultBoardDtb())`, exactly as any other board.
 *
 * Physical map:
 *   0x0500_0000  Qualcomm Adreno 630 GPU gpu@5000000 (256 KiB), its Adreno SMMU iommu@5040000
 *                (64 KiB, MMU-500 style SMMUv2) and its GMU gmu@506a000 (192 KiB), as sdm845
 *   0x0800_0000  GICv3 distributor (64 KiB) and redistributors
 *   0x0a00_0000  DMA test masters dma@a000000 .. dma@a004000 (4 KiB each)
 *   0x0d00_0000  Arm MMU-500 iommu@d000000 (128 KiB: 2 x 16 register pages, 8 context banks)
 *   0x0e00_0000  Arm Mali-T860 GPU gpu@e000000 (64 KiB), with its own MMU
 *   0x2b40_0000  SMMUv3 iommu@2b400000 (128 KiB: register pages 0 and 1), Arm FVP preset
 *   0x4000_0000  RAM, 1 GiB (the last 1 MiB is reserved for firmware)
 * Everything below 1 GiB is the /soc simple-bus (32-bit addresses, identity `ranges`), so
 * more SMMUs and GPUs can be added there without touching the rest.
 *
 * DMA masters 0 and 1 sit behind the SMMUv3 (`iommus = <&smmu 0x10>`, `<&smmu 0x11>`); master
 * 2 has no `iommus` and reaches RAM directly; masters 3 and 4 sit behind the MMU-500
 * (`iommus = <&mmu500 0x13>`, `<&mmu500 0x14>`), so the board shows both IOMMU generations
 * and direct DMA. The Mali GPU translates through its own MMU (ARM_MALI_LPAE tables); the
 * Adreno GPU (stream ID 0) and its GMU (stream ID 5) sit behind the Adreno SMMU, with the
 * addresses, interrupts and stream IDs sdm845.dtsi gives them.
 */
import { Board } from '../board.js';
import { buildFdt, node, prop, ref, type DraftNode, type FdtSpec } from '../fdt/build.js';
import { writeDtb } from '../fdt/write.js';

export const DEFAULT_BOARD_NAME = 'gki-virt';
export const DEFAULT_RAM_BASE = 0x4000_0000;
export const DEFAULT_RAM_SIZE = 2 ** 30;
/** The firmware reservation (DTB memory reservation block): the last MiB of RAM. */
export const DEFAULT_RESERVED_BASE = DEFAULT_RAM_BASE + DEFAULT_RAM_SIZE - 0x10_0000;
export const DEFAULT_RESERVED_SIZE = 0x10_0000;
export const DEFAULT_GIC_BASE = 0x0800_0000;
/** DMA master n lives at DEFAULT_DMA_BASE + n * DEFAULT_DMA_STRIDE (DEFAULT_DMA_COUNT on the bare board, two more on the full one). */
export const DEFAULT_DMA_BASE = 0x0a00_0000;
export const DEFAULT_DMA_STRIDE = 0x1000;
export const DEFAULT_DMA_COUNT = 3;
/** DMA master n signals GIC SPI DEFAULT_DMA_SPI + n (controller line 32 + that). */
export const DEFAULT_DMA_SPI = 16;
/** DMA master n issues stream ID DEFAULT_DMA_STREAM_ID + n. */
export const DEFAULT_DMA_STREAM_ID = 0x10;
/** The SMMUv3 node: `/soc/iommu@2b400000`, label `smmu`, one StreamID cell per `iommus` entry. */
export const DEFAULT_SMMU_BASE = 0x2b40_0000;
export const DEFAULT_SMMU_SIZE = 0x2_0000;
export const DEFAULT_SMMU_PATH = '/soc/iommu@2b400000';
/** Its `gki,smmu-preset` (the Arm FVP Base RevC identification registers). */
export const DEFAULT_SMMU_PRESET = 'fvp';
/** GIC SPIs of its wired interrupts, in `interrupt-names` order (controller line 32 + SPI). */
export const DEFAULT_SMMU_SPIS: Readonly<Record<'eventq' | 'gerror' | 'cmdq-sync', number>> = {
  eventq: 74,
  gerror: 75,
  'cmdq-sync': 77,
};
/** How many DMA masters (from master 0) sit behind the SMMU; the others do direct DMA. */
export const DEFAULT_SMMU_MASTERS = 2;
/** The MMU-500 node: `/soc/iommu@d000000`, label `mmu500`, one StreamID cell per `iommus` entry. */
export const DEFAULT_MMU500_BASE = 0x0d00_0000;
export const DEFAULT_MMU500_SIZE = 0x2_0000;
export const DEFAULT_MMU500_PATH = '/soc/iommu@d000000';
/** Its global fault interrupt (GIC SPI) and its context interrupts, one per context bank. */
export const DEFAULT_MMU500_GLOBAL_SPI = 80;
export const DEFAULT_MMU500_CONTEXT_SPIS: readonly number[] = [81, 82, 83, 84, 85, 86, 87, 88];
/** The DMA masters behind the MMU-500 (on the full board): DMA master n for each n here. */
export const DEFAULT_MMU500_MASTERS: readonly number[] = [3, 4];
/** The Mali GPU node: `/soc/gpu@e000000`, a Mali-T860 with its `job`, `mmu` and `gpu` interrupts. */
export const DEFAULT_GPU_BASE = 0x0e00_0000;
export const DEFAULT_GPU_SIZE = 0x1_0000;
export const DEFAULT_GPU_PATH = '/soc/gpu@e000000';
export const DEFAULT_GPU_SPIS: Readonly<Record<'job' | 'mmu' | 'gpu', number>> = { job: 90, mmu: 91, gpu: 92 };
/** The Adreno cluster (full board): GPU, Adreno SMMU and GMU at sdm845's addresses, interrupts and stream IDs. */
export const DEFAULT_ADRENO_PATH = '/soc/gpu@5000000';
export const DEFAULT_ADRENO_SMMU_PATH = '/soc/iommu@5040000';
export const DEFAULT_GMU_PATH = '/soc/gmu@506a000';
export const DEFAULT_BOOTARGS = 'console=ttyAMA0 earlycon loglevel=7';

/** GIC specifier cells: SPI, level-high. */
const GIC_SPI = 0;
const IRQ_TYPE_LEVEL_HIGH = 4;

export interface DefaultBoardOptions {
  /**
   * The full built-in board: the SMMUv3 with DMA masters 0 and 1 behind it, the MMU-500 with
   * DMA masters 3 and 4 behind it, and the Mali GPU. `defaultBoardDtb` and
   * `createDefaultBoard` default to true (the built-in board); `defaultBoardSpec` defaults to
   * false (three DMA masters, no IOMMU, no GPU), because its callers build variants that bring
   * their own IOMMU or GPU node.
   */
  readonly smmu?: boolean;
}

/** The MMU-500 node of the full board: one global interrupt, then one per context bank. */
function mmu500Node(): DraftNode {
  const irqs: number[] = [GIC_SPI, DEFAULT_MMU500_GLOBAL_SPI, IRQ_TYPE_LEVEL_HIGH];
  for (const spi of DEFAULT_MMU500_CONTEXT_SPIS) irqs.push(GIC_SPI, spi, IRQ_TYPE_LEVEL_HIGH);
  return node(`mmu500: iommu@${DEFAULT_MMU500_BASE.toString(16)}`, [
    prop.string('compatible', 'arm,mmu-500'),
    prop.reg(1, 1, [DEFAULT_MMU500_BASE, DEFAULT_MMU500_SIZE]),
    prop.u32('interrupt-parent', ref('gic')),
    prop.cells('interrupts', ...irqs),
    prop.u32('#global-interrupts', 1),
    prop.u32('#iommu-cells', 1),
  ]);
}

function spis(...n: number[]): number[] {
  return n.flatMap((x) => [GIC_SPI, x, IRQ_TYPE_LEVEL_HIGH]);
}

/** The Adreno 630, its Adreno SMMU and its GMU, as sdm845.dtsi writes them (less clocks, power and OPPs). */
function adrenoNodes(): DraftNode[] {
  return [
    node('gpu@5000000', [
      prop.strings('compatible', ['qcom,adreno-630.2', 'qcom,adreno']),
      prop.reg(1, 1, [0x0500_0000, 0x4_0000]),
      prop.strings('reg-names', ['kgsl_3d0_reg_memory']),
      prop.u32('interrupt-parent', ref('gic')),
      prop.cells('interrupts', ...spis(300)),
      prop.cells('iommus', ref('adreno_smmu'), 0),
      prop.u32('qcom,gmu', ref('gmu')),
    ]),
    node('adreno_smmu: iommu@5040000', [
      prop.strings('compatible', ['qcom,sdm845-smmu-v2', 'qcom,adreno-smmu', 'qcom,smmu-v2']),
      prop.reg(1, 1, [0x0504_0000, 0x1_0000]),
      prop.u32('#iommu-cells', 1),
      prop.u32('#global-interrupts', 2),
      prop.u32('interrupt-parent', ref('gic')),
      prop.cells('interrupts', ...spis(229, 231, 364, 365, 366, 367, 368, 369, 370, 371)),
    ]),
    node('gmu: gmu@506a000', [
      prop.strings('compatible', ['qcom,adreno-gmu-630.2', 'qcom,adreno-gmu']),
      prop.reg(1, 1, [0x0506_a000, 0x3_0000]),
      prop.strings('reg-names', ['gmu']),
      prop.u32('interrupt-parent', ref('gic')),
      prop.cells('interrupts', ...spis(304, 305)),
      prop.strings('interrupt-names', ['hfi', 'gmu']),
      prop.cells('iommus', ref('adreno_smmu'), 5),
    ]),
  ];
}

/** The Mali-T860 node of the full board, written as the kernel's bindings have it. */
function gpuNode(): DraftNode {
  const s = DEFAULT_GPU_SPIS;
  return node(`gpu: gpu@${DEFAULT_GPU_BASE.toString(16)}`, [
    prop.string('compatible', 'arm,mali-t860'),
    prop.reg(1, 1, [DEFAULT_GPU_BASE, DEFAULT_GPU_SIZE]),
    prop.u32('interrupt-parent', ref('gic')),
    prop.cells('interrupts', GIC_SPI, s.job, IRQ_TYPE_LEVEL_HIGH, GIC_SPI, s.mmu, IRQ_TYPE_LEVEL_HIGH, GIC_SPI, s.gpu, IRQ_TYPE_LEVEL_HIGH),
    prop.strings('interrupt-names', ['job', 'mmu', 'gpu']),
  ]);
}

/** The SMMUv3 node of the default board. */
function smmuNode(): DraftNode {
  const spis = DEFAULT_SMMU_SPIS;
  return node(`smmu: iommu@${DEFAULT_SMMU_BASE.toString(16)}`, [
    prop.string('compatible', 'arm,smmu-v3'),
    prop.reg(1, 1, [DEFAULT_SMMU_BASE, DEFAULT_SMMU_SIZE]),
    prop.u32('interrupt-parent', ref('gic')),
    prop.cells(
      'interrupts',
      GIC_SPI, spis.eventq, IRQ_TYPE_LEVEL_HIGH,
      GIC_SPI, spis.gerror, IRQ_TYPE_LEVEL_HIGH,
      GIC_SPI, spis['cmdq-sync'], IRQ_TYPE_LEVEL_HIGH,
    ),
    prop.strings('interrupt-names', ['eventq', 'gerror', 'cmdq-sync']),
    prop.u32('#iommu-cells', 1),
    prop.string('gki,smmu-preset', DEFAULT_SMMU_PRESET),
  ]);
}

/**
 * The default board as an editable description. Each call returns a fresh copy, so a caller
 * may add nodes under `/soc` before building it. Without `{ smmu: true }` it is the board
 * without its SMMUv3 (no IOMMU node, no `iommus`), the base for variants with their own IOMMU:
 *
 *   const spec = defaultBoardSpec();
 *   socOf(spec).children.push(node('iommu@2b400000', [...]));
 *   const board = Board.fromDtb(writeDtb(buildFdt(spec)));
 *
 * `buildFdt(defaultBoardSpec({ smmu: true }))` is exactly the built-in board's tree.
 */
export function defaultBoardSpec(opts: DefaultBoardOptions = {}): FdtSpec {
  const withSmmu = opts.smmu === true;
  const dmas: DraftNode[] = [];
  const count = withSmmu ? DEFAULT_DMA_COUNT + DEFAULT_MMU500_MASTERS.length : DEFAULT_DMA_COUNT;
  for (let n = 0; n < count; n++) {
    const base = DEFAULT_DMA_BASE + n * DEFAULT_DMA_STRIDE;
    const props = [
      prop.string('compatible', 'gki,dma-master'),
      prop.reg(1, 1, [base, DEFAULT_DMA_STRIDE]),
      prop.u32('interrupt-parent', ref('gic')),
      prop.cells('interrupts', GIC_SPI, DEFAULT_DMA_SPI + n, IRQ_TYPE_LEVEL_HIGH),
      prop.u32('gki,stream-id', DEFAULT_DMA_STREAM_ID + n),
    ];
    if (withSmmu && n < DEFAULT_SMMU_MASTERS) props.push(prop.cells('iommus', ref('smmu'), DEFAULT_DMA_STREAM_ID + n));
    if (withSmmu && DEFAULT_MMU500_MASTERS.includes(n)) props.push(prop.cells('iommus', ref('mmu500'), DEFAULT_DMA_STREAM_ID + n));
    dmas.push(node(`dma@${base.toString(16)}`, props));
  }
  const socChildren = withSmmu ? [...adrenoNodes(), ...dmas, mmu500Node(), gpuNode(), smmuNode()] : dmas;
  const root = node(
    '',
    [
      prop.string('model', DEFAULT_BOARD_NAME),
      prop.string('compatible', 'gki,virt'),
      prop.u32('#address-cells', 2),
      prop.u32('#size-cells', 2),
      prop.u32('interrupt-parent', ref('gic')),
    ],
    [
      node('chosen', [prop.string('bootargs', DEFAULT_BOOTARGS)]),
      node('cpus', [prop.u32('#address-cells', 1), prop.u32('#size-cells', 0)], [
        node('cpu@0', [
          prop.string('device_type', 'cpu'),
          prop.string('compatible', 'arm,cortex-a55'),
          prop.u32('reg', 0),
        ]),
      ]),
      node(`memory@${DEFAULT_RAM_BASE.toString(16)}`, [
        prop.string('device_type', 'memory'),
        prop.reg(2, 2, [DEFAULT_RAM_BASE, DEFAULT_RAM_SIZE]),
      ]),
      node(`gic: interrupt-controller@${DEFAULT_GIC_BASE.toString(16)}`, [
        prop.string('compatible', 'arm,gic-v3'),
        prop.empty('interrupt-controller'),
        prop.u32('#interrupt-cells', 3),
        prop.reg(2, 2, [DEFAULT_GIC_BASE, 0x1_0000], [0x080a_0000, 0xf6_0000]),
      ]),
      node(
        'soc',
        [
          prop.strings('compatible', ['simple-bus']),
          prop.u32('#address-cells', 1),
          prop.u32('#size-cells', 1),
          // child 0..1 GiB (1 cell) -> parent 0..1 GiB (2 cells), size 1 GiB (1 cell)
          prop.cells('ranges', 0, 0, 0, DEFAULT_RAM_BASE),
        ],
        socChildren,
      ),
    ],
  );
  return {
    root,
    bootCpuid: 0,
    reservations: [{ address: DEFAULT_RESERVED_BASE, size: DEFAULT_RESERVED_SIZE }],
  };
}

/** The `/soc` node of a board description (where on-chip devices go). */
export function socOf(spec: FdtSpec): DraftNode {
  const soc = spec.root.children.find((c) => c.name === 'soc');
  if (!soc) throw new RangeError('board description has no /soc node');
  return soc;
}

/** The default board's DTB (version 17); `{ smmu: false }` leaves the SMMUv3 out. */
export function defaultBoardDtb(opts: DefaultBoardOptions = {}): Uint8Array {
  return writeDtb(buildFdt(defaultBoardSpec({ smmu: opts.smmu !== false })));
}

/** The default board, built from its DTB; `{ smmu: false }` leaves the SMMUv3 out. */
export function createDefaultBoard(opts: DefaultBoardOptions = {}): Board {
  return Board.fromDtb(defaultBoardDtb(opts));
}
