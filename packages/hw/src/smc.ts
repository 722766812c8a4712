/**
 * The Secure Monitor Call conduit: what an `SMC #0` instruction reaches. The board's secure
 * firmware (when it has a model) handles the call; registers are numbers (x0 the SMC Calling
 * Convention function identifier, x1.. its arguments; values up to 2^53, which covers the
 * physical addresses and 32-bit arguments the modelled services take). A board without secure
 * firmware answers every call with SMCCC's NOT_SUPPORTED, as a monitor that does not know a
 * function does.
 */

/** SMCCC NOT_SUPPORTED: no service at this exception level answers the function ID (-1 in w0). */
export const SMCCC_RET_NOT_SUPPORTED = -1;

/** The result registers x0..x3 of a call (x0 signed, as the caller reads it as a long). */
export interface SmcResult {
  a0: number;
  a1: number;
  a2: number;
  a3: number;
}

/** Secure firmware reachable by SMC. */
export interface SecureMonitor {
  readonly name: string;
  /** Handles one call: `args[0]` is the function identifier; fills all of `res`. */
  smc(args: readonly number[], res: SmcResult): void;
}

/** A fresh result block (zeros). */
export function createSmcResult(): SmcResult {
  return { a0: 0, a1: 0, a2: 0, a3: 0 };
}

/** SMCCC function identifier fields. */
export const SMCCC_FAST_CALL = 0x8000_0000;
export const SMCCC_SMC64 = 0x4000_0000;
export const SMCCC_OWNER_SHIFT = 24;
export const SMCCC_OWNER_MASK = 0x3f;
/** Owner: silicon partner (SiP) services. */
export const SMCCC_OWNER_SIP = 2;
