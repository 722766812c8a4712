import { Board } from '@gki/hw';
import { Kernel, type KernelImage } from '@gki/kernel';
import { allocIoPgtableOps, freeIoPgtableOps, ioPgtableCoreModule, type IoPgtableCfg, type IoPgtableFmt, type IoPgtableOps } from '@gki/io-pgtable-core';
import type { ReplayEnv } from '@gki/io-pgtable-core/vectors';
import armLpae from '@gki/format-arm-lpae';
import armV7s from '@gki/format-arm-v7s';

/** RAM of the replay board: 256 MiB at 1 GiB, below 4 GiB so every format can point at its tables. */
export const REPLAY_RAM = { base: 0x4000_0000, size: 256 << 20 } as const;

/**
 * The image `gki pgtable` boots: the io-pgtable core built in, both format modules shipped but
 * not loaded, so the first allocation of each format loads its module through the
 * 'io-pgtable-fmt-FMT' alias, as in the seed series' dynamic mode.
 */
export function replayImage(): KernelImage {
  return { builtin: [ioPgtableCoreModule], modules: [armLpae, armV7s], load: [] };
}

export function bootReplayKernel(): Kernel {
  return Kernel.boot(new Board('pgtable-replay', [REPLAY_RAM]), replayImage());
}

/** The replay environment over a kernel: the core's alloc/free and its page accounting. */
export function kernelReplayEnv(kernel: Kernel, check?: ReplayEnv['check']): ReplayEnv {
  return {
    alloc: (fmt: IoPgtableFmt, cfg: IoPgtableCfg, cookie: unknown) => allocIoPgtableOps(kernel, fmt, cfg, cookie),
    free: (ops: IoPgtableOps) => freeIoPgtableOps(kernel, ops),
    pagesInUse: () => kernel.pages.stats().pagesInUse,
    ...(check ? { check } : {}),
  };
}
