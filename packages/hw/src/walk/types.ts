/**
 * Shared vocabulary of the hardware table walkers: the access being translated, the result
 * record a walk fills (reused by the caller, so a walk allocates nothing), fault kinds and the
 * permission bit mask.
 */

/** Why a walk failed, as the architecture classifies it. */
export type WalkFaultKind =
  | 'translation'
  | 'access-flag'
  | 'permission'
  | 'address-size'
  /** Synchronous external abort on a translation table walk (table read outside RAM). */
  | 'external'
  /** VMSAv7 short-descriptor only: DACR says "no access" (or reserved) for the domain. */
  | 'domain';

/** The access a device (or CPU) performs. Reuse one object per caller. */
export interface WalkAccess {
  write: boolean;
  /** Instruction fetch (implies a read). */
  exec: boolean;
  /** Privileged (EL1 / PL1 / SMMU "privileged" attribute) rather than unprivileged. */
  priv: boolean;
}

/**
 * Nested translation: the stage-2 translation of a stage-1 walk's own table accesses. The
 * stage-1 table base and every next-level table address are IPAs; the walker asks for the PA
 * of each descriptor it reads, as u32 halves both ways (a double crossing a call that is not
 * inlined is a heap number: the IPAs of a nested guest are above 2^31). Returns true with the PA
 * in `paHi`/`paLo`, or false when stage 2 faults: the walk then stops with a 'translation'
 * fault at that level and the translator keeps the stage-2 details.
 * Must not allocate (it runs on every descriptor fetch of a TLB miss).
 */
export interface WalkTableTranslator {
  /** `ipaLo` is the low word as an int32 (`x | 0`), `ipaHi` the high word. */
  tableAddress(ipaHi: number, ipaLo: number, level: number): boolean;
  /**
   * Optional: called before the walker writes a descriptor it read from the table at IPA
   * (`ipaHi`, `ipaLo`) (a hardware access-flag or dirty-state update of the leaf). The update is
   * a write of the stage-1 table, so it is a stage-2 translated access that stage 2 must permit
   * as a write (and a stage 2 with HTTU updates its own descriptor's AF/dirty state for it).
   * Returns true to let the update go to the PA the read used, or false when stage 2 faults:
   * the walk then stops with a 'translation' fault at that level, the descriptor unchanged, and
   * the translator keeps the stage-2 details. Without it, updates need no further check.
   */
  tableWrite?(ipaHi: number, ipaLo: number, level: number): boolean;
  /** The PA of the last successful `tableAddress`: high word and low word (any 32-bit form). */
  paHi: number;
  paLo: number;
}

/** Permission bits in `WalkResult.perms`. Stage 2 and Mali set the priv and user bits alike. */
export const PERM_PRIV_R = 1 << 0;
export const PERM_PRIV_W = 1 << 1;
export const PERM_PRIV_X = 1 << 2;
export const PERM_USER_R = 1 << 3;
export const PERM_USER_W = 1 << 4;
export const PERM_USER_X = 1 << 5;
export const PERM_ALL = 0x3f;

/** Shareability codes in `WalkResult.sh` (the LPAE SH field encoding). */
export const SH_NON = 0;
export const SH_OUTER = 2;
export const SH_INNER = 3;

/**
 * Everything a walk reports. On success `fault` is null and the translation fields are valid;
 * on failure `fault`/`level`/`descAddr` say where it stopped and the other fields are reset.
 */
export interface WalkResult {
  fault: WalkFaultKind | null;
  /** Level of the leaf, or of the lookup that faulted (architectural numbering; v7s 1 or 2). */
  level: number;
  /** PA of the descriptor read last (the leaf, or the one that faulted); -1 if none was read. */
  descAddr: number;
  /** The last descriptor read: low and high 32-bit halves (v7s: hi is 0). */
  descLo: number;
  descHi: number;
  /** Output address (PA, or IPA for a stage-1 walk feeding stage 2). */
  oa: number;
  /** Size of the page or block that translated the input (a contiguous v7s entry counts whole). */
  size: number;
  /**
   * Memory attributes as a MAIR-format byte (0x00 Device-nGnRnE, 0x04 Device-nGnRE,
   * 0x44 Normal NC, 0xff Normal WB RW-allocate, ...). Stage 1: MAIR[AttrIndx]; Mali:
   * MEMATTR[AttrIndx] (raw implementation-defined byte); stage 2: MemAttr converted;
   * v7s: the TEX/C/B (or TEX-remap) result converted.
   */
  memAttr: number;
  /** Raw attribute selector: AttrIndx (S1/Mali), MemAttr[3:0] (S2), TEX[0]:C:B or TEX:C:B (v7s). */
  attrIndx: number;
  /** Shareability, SH_* codes. */
  sh: number;
  /** Effective permissions after hierarchical (table) controls: PERM_* mask. */
  perms: number;
  /** Stage 2: the leaf's S2AP field; -1 for other regimes. */
  s2ap: number;
  /** Stage 1 (LPAE, v7s) non-global; false elsewhere. */
  nG: boolean;
  /** Non-secure output (NS bit of the leaf, or NSTable above it). */
  ns: boolean;
  /** Access flag as found in the descriptor before any hardware update. */
  af: boolean;
  /** Dirty-bit modifier (DBM, bit 51) of an LPAE leaf. */
  dbm: boolean;
  /** Contiguous hint (LPAE bit 52) or v7s large page / supersection. */
  contiguous: boolean;
  /** True when the walk itself updated the leaf (hardware AF or dirty-state update). */
  updated: boolean;
  /** Which table range translated: 0 = TTBR0/VTTBR/TRANSTAB, 1 = TTBR1. -1 if none. */
  ttbr: number;
}

/** A fresh result record (allocate once per caller, then reuse it for every walk). */
export function createWalkResult(): WalkResult {
  return {
    fault: null,
    level: 0,
    descAddr: -1,
    descLo: 0,
    descHi: 0,
    oa: 0,
    size: 0,
    memAttr: 0,
    attrIndx: 0,
    sh: 0,
    perms: 0,
    s2ap: -1,
    nG: false,
    ns: false,
    af: false,
    dbm: false,
    contiguous: false,
    updated: false,
    ttbr: -1,
  };
}

/** Clears `out` before a walk (no allocation). */
export function resetWalkResult(out: WalkResult): void {
  out.fault = null;
  out.level = 0;
  out.descAddr = -1;
  out.descLo = 0;
  out.descHi = 0;
  out.oa = 0;
  out.size = 0;
  out.memAttr = 0;
  out.attrIndx = 0;
  out.sh = 0;
  out.perms = 0;
  out.s2ap = -1;
  out.nG = false;
  out.ns = false;
  out.af = false;
  out.dbm = false;
  out.contiguous = false;
  out.updated = false;
  out.ttbr = -1;
}

/** Marks `out` as a fault at `level` (translation fields stay reset). */
export function setFault(out: WalkResult, kind: WalkFaultKind, level: number): false {
  out.fault = kind;
  out.level = level;
  out.oa = 0;
  out.size = 0;
  out.perms = 0;
  return false;
}

/** True when `perms` grant `access`. */
export function permits(perms: number, access: WalkAccess): boolean {
  if (access.exec) return (perms & (access.priv ? PERM_PRIV_X : PERM_USER_X)) !== 0;
  if (access.write) return (perms & (access.priv ? PERM_PRIV_W : PERM_USER_W)) !== 0;
  return (perms & (access.priv ? PERM_PRIV_R : PERM_USER_R)) !== 0;
}

/**
 * The one PERM_* bit `permits` tests for `access`: `permits(p, access)` is
 * `(p & permBit(access)) !== 0`.
 */
export function permBit(access: WalkAccess): number {
  if (access.exec) return access.priv ? PERM_PRIV_X : PERM_USER_X;
  if (access.write) return access.priv ? PERM_PRIV_W : PERM_USER_W;
  return access.priv ? PERM_PRIV_R : PERM_USER_R;
}

/** Renders a PERM_* mask as "priv:rwx user:r--". */
export function formatPerms(perms: number): string {
  const f = (r: number, w: number, x: number): string =>
    (perms & r ? 'r' : '-') + (perms & w ? 'w' : '-') + (perms & x ? 'x' : '-');
  return `priv:${f(PERM_PRIV_R, PERM_PRIV_W, PERM_PRIV_X)} user:${f(PERM_USER_R, PERM_USER_W, PERM_USER_X)}`;
}
