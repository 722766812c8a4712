/**
 * Boards for the end-to-end tests: device trees shaped like the kernel's own, with the Mali
 * node as the kernel's SoC .dtsi files write it, trimmed of clocks, power domains, regulators
 * and OPP tables (facts copied by hand: node name, reg, interrupt specifiers and names,
 * compatibles). The GPU is the @gki/hw Mali model that Board.fromDtb instantiates for them.
 *
 *  - rk3399: gpu@ff9a0000 at the root, "rockchip,rk3399-mali", "arm,mali-t860"
 *    (Mali-T860 MP4, Midgard), GIC-v3 with four interrupt cells, job/mmu/gpu on SPI 20/21/19.
 *  - mt8186: /soc/gpu@13040000, "mediatek,mt8186-mali", "arm,mali-bifrost" (Mali-G52, Bifrost),
 *    GIC-v3 with four interrupt cells, job/mmu/gpu on SPI 276/275/274.
 *  - the default board with a T860 node under /soc (three-cell GIC), for the bulk of the tests.
 */
import { Board, buildFdt, defaultBoardSpec, MaliGpu, node, prop, ref, socOf, writeDtb, type DraftProp } from '@gki/hw';
import ioPgtableArm from '@gki/format-arm-lpae';
import { ioPgtableCoreModule } from '@gki/io-pgtable-core';
import { Kernel, type KernelImage } from '@gki/kernel';
import panfrost, { panfrostDevices, type PanfrostDevice } from '../src/index.js';

const GIC_SPI = 0;
const IRQ_TYPE_LEVEL_HIGH = 4;

export interface ModelRig {
  board: Board;
  k: Kernel;
  gpu: MaliGpu;
  pfdev: PanfrostDevice;
}

export function modelImage(): KernelImage {
  return { builtin: [ioPgtableCoreModule], modules: [ioPgtableArm, panfrost], load: ['panfrost'] };
}

function boot(dtb: Uint8Array, image: KernelImage = modelImage()): ModelRig {
  const board = Board.fromDtb(dtb);
  const k = Kernel.boot(board, image);
  const gpus = board.modelsOfType(MaliGpu);
  if (gpus.length !== 1) throw new Error(`expected one Mali model, got ${gpus.length}`);
  const pfdev = panfrostDevices(k)[0];
  if (!pfdev) throw new Error(`panfrost did not bind:\n${k.log.dmesg()}`);
  return { board, k, gpu: gpus[0]!, pfdev };
}

/** Rockchip RK3399 (trimmed): 1 GiB of RAM from 2 MiB, GIC-v3 with 4 cells, the T860 node. */
export function rk3399Dtb(gpuExtra: DraftProp[] = []): Uint8Array {
  const spi = (n: number): number[] => [GIC_SPI, n, IRQ_TYPE_LEVEL_HIGH, 0];
  const root = node(
    '',
    [
      prop.string('model', 'Radxa ROCK Pi 4B'),
      prop.strings('compatible', ['radxa,rockpi4b', 'radxa,rockpi4', 'rockchip,rk3399']),
      prop.u32('#address-cells', 2),
      prop.u32('#size-cells', 2),
      prop.u32('interrupt-parent', ref('gic')),
    ],
    [
      node('cpus', [prop.u32('#address-cells', 2), prop.u32('#size-cells', 0)], [
        node('cpu@0', [prop.string('device_type', 'cpu'), prop.string('compatible', 'arm,cortex-a53'), prop.cells('reg', 0, 0)]),
      ]),
      node('memory@200000', [prop.string('device_type', 'memory'), prop.reg(2, 2, [0x20_0000, 0x4000_0000 - 0x20_0000])]),
      node('gic: interrupt-controller@fee00000', [
        prop.string('compatible', 'arm,gic-v3'),
        prop.u32('#interrupt-cells', 4),
        prop.u32('#address-cells', 2),
        prop.u32('#size-cells', 2),
        prop.empty('ranges'),
        prop.empty('interrupt-controller'),
        prop.reg(2, 2, [0xfee0_0000, 0x1_0000], [0xfef0_0000, 0xc_0000], [0xfff0_0000, 0x1_0000], [0xfff1_0000, 0x1_0000], [0xfff2_0000, 0x1_0000]),
      ]),
      node('gpu@ff9a0000', [
        prop.strings('compatible', ['rockchip,rk3399-mali', 'arm,mali-t860']),
        prop.reg(2, 2, [0xff9a_0000, 0x1_0000]),
        prop.cells('interrupts', ...spi(20), ...spi(21), ...spi(19)),
        prop.strings('interrupt-names', ['job', 'mmu', 'gpu']),
        prop.u32('#cooling-cells', 2),
        ...gpuExtra,
      ]),
    ],
  );
  return writeDtb(buildFdt({ root, bootCpuid: 0, reservations: [] }));
}

/** MediaTek MT8186 (trimmed): 1 GiB of RAM at 1 GiB, GIC-v3 with 4 cells, the G52 node under /soc. */
export function mt8186Dtb(gpuExtra: DraftProp[] = []): Uint8Array {
  const spi = (n: number): number[] => [GIC_SPI, n, IRQ_TYPE_LEVEL_HIGH, 0];
  const root = node(
    '',
    [
      prop.string('model', 'Google Steelix board'),
      prop.strings('compatible', ['google,steelix', 'mediatek,mt8186']),
      prop.u32('#address-cells', 2),
      prop.u32('#size-cells', 2),
      prop.u32('interrupt-parent', ref('gic')),
    ],
    [
      node('memory@40000000', [prop.string('device_type', 'memory'), prop.reg(2, 2, [0x4000_0000, 0x4000_0000])]),
      node('soc', [prop.strings('compatible', ['simple-bus']), prop.u32('#address-cells', 2), prop.u32('#size-cells', 2), prop.empty('ranges')], [
        node('gic: interrupt-controller@c000000', [
          prop.string('compatible', 'arm,gic-v3'),
          prop.u32('#interrupt-cells', 4),
          prop.u32('#redistributor-regions', 1),
          prop.empty('interrupt-controller'),
          prop.reg(2, 2, [0x0c00_0000, 0x4_0000], [0x0c04_0000, 0x20_0000]),
        ]),
        node('gpu@13040000', [
          prop.strings('compatible', ['mediatek,mt8186-mali', 'arm,mali-bifrost']),
          prop.reg(2, 2, [0x1304_0000, 0x4000]),
          prop.cells('interrupts', ...spi(276), ...spi(275), ...spi(274)),
          prop.strings('interrupt-names', ['job', 'mmu', 'gpu']),
          prop.u32('#cooling-cells', 2),
          ...gpuExtra,
        ]),
      ]),
    ],
  );
  return writeDtb(buildFdt({ root, bootCpuid: 0, reservations: [] }));
}

/** The default board plus a T860 node under /soc (three-cell GIC), with optional `gki,*` overrides. */
export function defaultGpuDtb(gpuExtra: DraftProp[] = []): Uint8Array {
  const spec = defaultBoardSpec();
  socOf(spec).children.push(
    node('gpu@2d000000', [
      prop.strings('compatible', ['rockchip,rk3399-mali', 'arm,mali-t860']),
      prop.reg(1, 1, [0x2d00_0000, 0x1_0000]),
      prop.u32('interrupt-parent', ref('gic')),
      prop.cells('interrupts', GIC_SPI, 19, IRQ_TYPE_LEVEL_HIGH, GIC_SPI, 20, IRQ_TYPE_LEVEL_HIGH, GIC_SPI, 21, IRQ_TYPE_LEVEL_HIGH),
      prop.strings('interrupt-names', ['job', 'mmu', 'gpu']),
      ...gpuExtra,
    ]),
  );
  return writeDtb(buildFdt(spec));
}

export const rk3399 = (extra: DraftProp[] = [], image?: KernelImage): ModelRig => boot(rk3399Dtb(extra), image);
export const mt8186 = (extra: DraftProp[] = [], image?: KernelImage): ModelRig => boot(mt8186Dtb(extra), image);
export const defaultGpuBoard = (extra: DraftProp[] = [], image?: KernelImage): ModelRig => boot(defaultGpuDtb(extra), image);

/**
 * Leaves only single 4 KiB pages free in the kernel's page allocator: every 2 MiB block is
 * taken, `blocks` of them are given back, and every other page of those is held. Buffers then
 * get scattered pages (no 2 MiB block mappings): io-pgtable maps them with level-3 tables, and
 * panfrost's 2 MiB unmaps of 2 MiB-aligned buffers free those tables. About `blocks` MiB stay
 * free.
 */
export function fragmentPages(rig: ModelRig, blocks = 16): void {
  const pages = rig.k.pages;
  const big: number[] = [];
  for (let pa = pages.allocPages(9); pa >= 0; pa = pages.allocPages(9)) big.push(pa);
  for (const pa of big.slice(0, blocks)) pages.freePages(pa, 9);
  const small: number[] = [];
  for (let pa = pages.allocPages(0); pa >= 0; pa = pages.allocPages(0)) small.push(pa);
  small.forEach((pa, i) => i % 2 === 0 && pages.freePages(pa, 0));
}
