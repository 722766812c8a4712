/**
 * Hardware translation table walkers (independent of the io-pgtable format packages).
 */
import type { PhysMem } from '../mem.js';
import type { LpaeWalkConfig } from './lpae.js';
import { walkLpae } from './lpae.js';
import type { WalkAccess, WalkResult } from './types.js';
import type { V7sWalkConfig } from './v7s.js';
import { walkV7s } from './v7s.js';

export * from './types.js';
export * from './lpae.js';
export * from './v7s.js';
export * from './inspect.js';
export * from './regs.js';

/**
 * Translates `va` through any walker config (long- or short-descriptor); fills `out` and
 * returns true on success. Allocation-free for number addresses. For the TTBR1 range pass the
 * sign-extended address as a negative number (−0x1000 is 0xffff_ffff_ffff_f000) or a bigint.
 */
export function walk(mem: PhysMem, cfg: LpaeWalkConfig | V7sWalkConfig, va: number | bigint, access: WalkAccess, out: WalkResult): boolean {
  if (cfg.kind === 'v7s') return walkV7s(mem, cfg, typeof va === 'bigint' ? Number(BigInt.asUintN(64, va)) : va, access, out);
  return walkLpae(mem, cfg, va, access, out);
}
