/**
 * Device-tree glue of the Mali model: the factory for the Midgard, Bifrost and Valhall-JM
 * compatibles the kernel's trees use. The preset comes from the node's compatible list (SoC
 * compatible first, then the generic `arm,mali-*`), optionally overridden by `gki,*`
 * properties; the `job`, `mmu` and `gpu` interrupts are taken by `interrupt-names`.
 */
import type { ModelFactory } from '../../board.js';
import { compatibleOf, hasProp, propString, propStrings, propU32 } from '../../fdt/read.js';
import { FdtError } from '../../fdt/types.js';
import { MaliGpu } from './gpu.js';
import { MALI_PRESETS, maliPresetForCompatibles } from './presets.js';
import { MALI_MMIO_SIZE } from './regs.js';

/** Interrupt names of the Mali bindings, in the order the bindings list them. */
export const MALI_IRQ_NAMES = ['job', 'mmu', 'gpu'] as const;

/**
 * The Mali model factory. Properties read besides `reg`, `interrupts` and `interrupt-names`:
 *
 * | property | meaning |
 * | --- | --- |
 * | `gki,mali-preset` | preset name (`mali-t860`, `mali-g52`, ...) instead of the compatible's |
 * | `gki,gpu-id` | GPU_ID value |
 * | `gki,as-present` | AS_PRESENT mask (1..16 address spaces) |
 * | `gki,js-present` | JS_PRESENT mask |
 * | `gki,va-bits`, `gki,pa-bits` | MMU_FEATURES VA / PA bits (13..48) |
 * | `gki,shader-present`, `gki,l2-present`, `gki,tiler-present` | core masks |
 * | `gki,mmu-latency`, `gki,power-latency`, `gki,reset-latency` | register accesses those operations take |
 * | `gki,job-execution` | `immediate` (default) or `manual` |
 * | `gki,no-walk-cache` | turn the MMU's walk cache off (every TLB miss walks all levels) |
 */
export const createMaliModel: ModelFactory = (board, node, regs, irqs, ctx) => {
  const path = ctx.path;
  const win = regs[0];
  if (!win) throw new FdtError(-1, `${ctx.compatible} needs a CPU-addressable reg`, path);
  if (win.size < MALI_MMIO_SIZE)
    throw new FdtError(-1, `${ctx.compatible} reg size 0x${win.size.toString(16)} is below 0x${MALI_MMIO_SIZE.toString(16)}`, path);

  const presetName = propString(node, 'gki,mali-preset', path);
  const preset = presetName !== undefined ? MALI_PRESETS[presetName] : maliPresetForCompatibles(compatibleOf(node, path), compatibleOf(ctx.tree.root, '/'));
  if (!preset)
    throw new FdtError(
      -1,
      presetName !== undefined
        ? `unknown gki,mali-preset "${presetName}" (known: ${Object.keys(MALI_PRESETS).join(', ')})`
        : `no Mali preset for compatible ${compatibleOf(node, path).join(', ')}`,
      path,
    );

  const names = propStrings(node, 'interrupt-names', path);
  if (names !== undefined && names.length !== irqs.length)
    throw new FdtError(-1, `interrupt-names lists ${names.length} names for ${irqs.length} interrupts`, path);
  const line = (name: (typeof MALI_IRQ_NAMES)[number]) => {
    const i = (names ?? MALI_IRQ_NAMES).indexOf(name);
    return i >= 0 && irqs[i] !== undefined ? board.irq.line(irqs[i]!) : undefined;
  };

  const u32 = (name: string, min: number, max: number): number | undefined => {
    const v = propU32(node, name, path);
    if (v !== undefined && (v < min || v > max)) throw new FdtError(-1, `property '${name}' = ${v} is outside ${min}..${max}`, path);
    return v;
  };
  const exec = propString(node, 'gki,job-execution', path);
  if (exec !== undefined && exec !== 'immediate' && exec !== 'manual')
    throw new FdtError(-1, `property 'gki,job-execution' must be "immediate" or "manual", not "${exec}"`, path);

  const gpu = new MaliGpu(board.mem, {
    name: node.name,
    preset,
    gpuId: u32('gki,gpu-id', 0, 0xffffffff),
    asPresent: u32('gki,as-present', 1, 0xffff),
    jsPresent: u32('gki,js-present', 1, 0xffff),
    vaBits: u32('gki,va-bits', 13, 48),
    paBits: u32('gki,pa-bits', 13, 48),
    shaderPresent: u32('gki,shader-present', 1, 0xffffffff),
    l2Present: u32('gki,l2-present', 1, 0xffffffff),
    tilerPresent: u32('gki,tiler-present', 1, 0xffffffff),
    commandLatency: u32('gki,mmu-latency', 0, 1 << 20),
    powerLatency: u32('gki,power-latency', 0, 1 << 20),
    resetLatency: u32('gki,reset-latency', 0, 1 << 20),
    walkCache: !hasProp(node, 'gki,no-walk-cache'),
    jobExecution: exec as 'immediate' | 'manual' | undefined,
    jobIrq: line('job'),
    mmuIrq: line('mmu'),
    gpuIrq: line('gpu'),
  });
  board.bus.map(win.address, win.size, gpu);
  return gpu;
};
