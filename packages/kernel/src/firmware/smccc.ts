/**
 * The SMC conduit (include/linux/arm-smccc.h): how the kernel reaches the secure firmware, the
 * counterpart of the MMIO regions and interrupt lines it hands drivers. `armSmcccSmc` is the
 * `SMC #0` instruction: the board's secure monitor answers, or NOT_SUPPORTED when it has none.
 */
import { createSmcResult as hwCreateSmcResult, type SmcResult } from '@gki/hw';
import type { Kernel } from '../kernel.js';

/** struct arm_smccc_res: x0..x3 after the call. */
export type ArmSmcccRes = SmcResult;

export const ARM_SMCCC_OWNER_SIP = 2;

/** A zeroed result block. */
export function createSmcResult(): ArmSmcccRes {
  return hwCreateSmcResult();
}

/** ARM_SMCCC_CALL_VAL: the function identifier (fast or yielding call, SMC64 or SMC32, owner, number). */
export function armSmcccCallVal(fast: boolean, smc64: boolean, owner: number, fn: number): number {
  return ((fast ? 0x8000_0000 : 0) | (smc64 ? 0x4000_0000 : 0) | ((owner & 0x3f) << 24) | (fn & 0xffff)) >>> 0;
}

/** arm_smccc_smc: one SMC with `args` in x0.. (x0 the function identifier); fills `res`. */
export function armSmcccSmc(kernel: Kernel, args: readonly number[], res: ArmSmcccRes): void {
  kernel.board.smc(args, res);
}
