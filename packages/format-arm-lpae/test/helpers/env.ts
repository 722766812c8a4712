import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Board } from '@gki/hw';
import { Kernel } from '@gki/kernel';
import type { IoPgtableCfg, IoPgtableFmt, IoPgtableLeaf, IoPgtableOps } from '@gki/io-pgtable-core';
import { readVectorFile, type ReplayEnv, type VectorCase } from '@gki/io-pgtable-core/vectors';
import { ArmLpaeIoPgtable, createArmLpaeOps, isArmLpaeFmt } from '../../src/index.js';

/** The golden vectors recorded from the kernel (the repository's vectors/ folder, or GKI_VECTORS_DIR). */
export const VECTORS_DIR =
  process.env.GKI_VECTORS_DIR ?? fileURLToPath(new URL('../../../../vectors/', import.meta.url));

export const RAM_BASE = 0x4000_0000;

/** A kernel on a bare board with `ramMiB` of RAM (no boot: tests drive the format directly). */
export function makeKernel(ramMiB = 64): Kernel {
  return new Kernel(new Board('lpae-test', [{ base: RAM_BASE, size: ramMiB * 2 ** 20 }]));
}

/** Every LPAE case of every vector file (ARM_V7S cases belong to the v7s package). */
export function lpaeCases(): { file: string; c: VectorCase }[] {
  const out: { file: string; c: VectorCase }[] = [];
  for (const file of readdirSync(VECTORS_DIR).filter((f) => f.endsWith('.jsonl')).sort())
    for (const c of readVectorFile(join(VECTORS_DIR, file))) if (isArmLpaeFmt(c.format)) out.push({ file, c });
  return out;
}

/**
 * A replay environment that allocates straight from the format (no module loader): free does
 * what free_io_pgtable_ops does (tlb_flush_all with the cookie, then the format's free).
 */
export function directEnv(kernel: Kernel): ReplayEnv {
  const info = new Map<IoPgtableOps, { cfg: IoPgtableCfg; cookie: unknown }>();
  return {
    alloc(fmt: IoPgtableFmt, cfg: IoPgtableCfg, cookie: unknown) {
      if (!isArmLpaeFmt(fmt)) return -22;
      const ops = createArmLpaeOps(kernel, fmt, cfg, cookie);
      if (!ops) return -22;
      info.set(ops, { cfg, cookie });
      return ops;
    },
    free(ops: IoPgtableOps) {
      const i = info.get(ops)!;
      i.cfg.tlb?.tlbFlushAll?.(i.cookie);
      (ops as ArmLpaeIoPgtable).free();
      info.delete(ops);
    },
    pagesInUse: () => kernel.pages.stats().pagesInUse,
  };
}

/** All leaves as comparable strings. */
export function leavesOf(ops: IoPgtableOps): string[] {
  const out: string[] = [];
  ops.walkLeaves!((l: IoPgtableLeaf) => out.push(`${l.level}:${l.iova.toString(16)}:${l.size.toString(16)}:${l.pte.toString(16)}`));
  return out;
}
