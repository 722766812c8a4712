import {
  IOMMU_CACHE,
  IOMMU_MMIO,
  IOMMU_NOEXEC,
  IOMMU_PRIV,
  IOMMU_WRITE,
  IO_PGTABLE_QUIRK_ARM_NS,
  IO_PGTABLE_QUIRK_NO_PERMS,
} from '@gki/io-pgtable-core';

/**
 * ARMv7 short-descriptor (VMSAv7 "v7s") descriptor layout, as Linux's io-pgtable-arm-v7s
 * builds it. Descriptors are 32 bits and are handled as plain numbers kept unsigned with
 * `>>> 0`. Levels use the kernel's numbering: 1 (1 MiB slots) and 2 (4 KiB slots).
 */

/** Size of one level-1 slot (a section) and one level-2 slot (a small page). */
export const V7S_L1_SHIFT = 20;
export const V7S_L2_SHIFT = 12;
export const V7S_L1_SLOT = 2 ** V7S_L1_SHIFT;
export const V7S_L2_SLOT = 2 ** V7S_L2_SHIFT;
/** Entries in a level-2 table (index = iova[19:12]) and its size in bytes (1 KiB). */
export const V7S_L2_ENTRIES = 256;
export const V7S_L2_TABLE_BYTES = V7S_L2_ENTRIES * 4;
/** Large pages and supersections are this many identical consecutive slots. */
export const V7S_CONT_ENTRIES = 16;

/** Supported page sizes: 4K small page, 64K large page, 1M section, 16M supersection. */
export const V7S_PGSIZES = 0x1000 | 0x10000 | 0x100000 | 0x1000000;

/** Plain (non-MTK) address limits, and the MediaTek 4 GiB-mode limits. */
export const V7S_ADDR_BITS = 32;
export const V7S_MTK_IAS_MAX = 34;
export const V7S_MTK_OAS_MAX = 35;

// Descriptor type field, bits[1:0].
export const V7S_TYPE_MASK = 0x3;
export const V7S_TYPE_TABLE = 0x1; // level 1 only
export const V7S_TYPE_PAGE = 0x2; // section at level 1, small page at level 2 (bit 0 = XN there)
export const V7S_TYPE_CONT_PAGE = 0x1; // large page at level 2

/** Level-1 table descriptor: bit 3 marks the next-level table non-secure (ARM_NS). */
export const V7S_TABLE_NS = 1 << 3;
/** Level-2 table address field of a level-1 table descriptor, bits[31:10]. */
export const V7S_TABLE_ADDR_MASK = 0xfffffc00;
/** Level-1 section: bit 18 turns a section into a supersection. */
export const V7S_CONT_SECTION = 1 << 18;
/** Level-1 section: bit 19 = NS (ARM_NS quirk). */
export const V7S_SECTION_NS = 1 << 19;

// Memory-type bits, at the same place at both levels.
export const V7S_ATTR_B = 1 << 2;
export const V7S_ATTR_C = 1 << 3;

/**
 * The attribute byte (before it is moved into place): AP0/AF = 0, AP1 (unprivileged) = 1,
 * TEX = 4:2, AP2 (read-only) = 5, S = 6, nG = 7. It sits at bit 10 in a section and at
 * bit 4 in a small page.
 */
const ATTR_AF = 1 << 0;
const ATTR_AP_UNPRIV = 1 << 1;
const ATTR_TEX1 = 1 << 2;
const ATTR_AP_RDONLY = 1 << 5;
const ATTR_S = 1 << 6;
const ATTR_NG = 1 << 7;
export const V7S_ATTR_SHIFT_L1 = 10;
export const V7S_ATTR_SHIFT_L2 = 4;

/** XN: bit 4 in a section, bit 0 in a small page. */
export const V7S_XN_L1 = 1 << 4;
export const V7S_XN_L2 = 1 << 0;

/** Large page: TEX moves from bits 8:6 to 14:12 and XN from bit 0 to bit 15. */
const SMALL_TEX_MASK = 0x7 << 6;
const LARGE_TEX_SHIFT = 6;
const LARGE_XN = 1 << 15;

/** MediaTek 4 GiB mode: PA bits 32/33/34 are stored in descriptor bits 9/4/5. */
export const V7S_MTK_PA_BIT32 = 1 << 9;
export const V7S_MTK_PA_BIT33 = 1 << 4;
export const V7S_MTK_PA_BIT34 = 1 << 5;

/** Output address masks per level, and the 16x masks of contiguous entries. */
export const V7S_L1_ADDR_MASK = 0xfff00000;
export const V7S_L2_ADDR_MASK = 0xfffff000;
export const V7S_SUPERSECTION_ADDR_MASK = 0xff000000;
export const V7S_LARGE_ADDR_MASK = 0xffff0000;

/** Register values the format reports (TEX remap and TTBR attributes). */
export const V7S_PRRR = 0x800b8204;
export const V7S_NMRR = 0x40004000;
/** TTBR attribute bits: S, NOS, IRGN=WBWA, RGN=WBWA (coherent walk) or S alone (non-coherent). */
export const V7S_TTBR_ATTRS_COHERENT = 0x6a;
export const V7S_TTBR_ATTRS_NONCOHERENT = 0x02;

export function isValid(pte: number): boolean {
  return (pte & V7S_TYPE_MASK) !== 0;
}

export function isL1Table(pte: number): boolean {
  return (pte & V7S_TYPE_MASK) === V7S_TYPE_TABLE;
}

/** True for a supersection (level 1) or a large page (level 2); the caller knows pte is valid. */
export function isCont(pte: number, lvl: number): boolean {
  if (lvl === 1) return (pte & V7S_TYPE_MASK) !== V7S_TYPE_TABLE && (pte & V7S_CONT_SECTION) !== 0;
  return (pte & V7S_TYPE_PAGE) === 0;
}

/**
 * The attribute part of a leaf for `prot` at level `lvl` (no output address, no contiguous
 * conversion). Same rules as the kernel: nG and S always; TEX=1 unless MMIO; with
 * permissions, AF always, AP1 unless PRIV, AP2 unless WRITE, XN for NOEXEC; B for MMIO,
 * B|C for CACHE; NS on level-1 leaves with the ARM_NS quirk.
 */
export function protToPte(prot: number, lvl: number, quirks: number): number {
  const perms = (quirks & IO_PGTABLE_QUIRK_NO_PERMS) === 0;
  let attr = ATTR_NG | ATTR_S;
  if ((prot & IOMMU_MMIO) === 0) attr |= ATTR_TEX1;
  if (perms) {
    attr |= ATTR_AF;
    if ((prot & IOMMU_PRIV) === 0) attr |= ATTR_AP_UNPRIV;
    if ((prot & IOMMU_WRITE) === 0) attr |= ATTR_AP_RDONLY;
  }
  let pte = attr << (lvl === 1 ? V7S_ATTR_SHIFT_L1 : V7S_ATTR_SHIFT_L2);
  if (perms && (prot & IOMMU_NOEXEC) !== 0) pte |= lvl === 1 ? V7S_XN_L1 : V7S_XN_L2;
  if ((prot & IOMMU_MMIO) !== 0) pte |= V7S_ATTR_B;
  else if ((prot & IOMMU_CACHE) !== 0) pte |= V7S_ATTR_B | V7S_ATTR_C;
  pte |= V7S_TYPE_PAGE;
  if (lvl === 1 && (quirks & IO_PGTABLE_QUIRK_ARM_NS) !== 0) pte |= V7S_SECTION_NS;
  return pte >>> 0;
}

/** Converts a single-slot leaf into the encoding of a 16-slot one (supersection / large page). */
export function toCont(pte: number, lvl: number): number {
  if (lvl === 1) return (pte | V7S_CONT_SECTION) >>> 0;
  const xn = pte & V7S_XN_L2;
  const tex = pte & SMALL_TEX_MASK;
  let out = pte & ~(xn | tex | V7S_TYPE_PAGE);
  out |= (xn === 0 ? 0 : LARGE_XN) | (tex << LARGE_TEX_SHIFT) | V7S_TYPE_CONT_PAGE;
  return out >>> 0;
}

/** PA bits 32..34 folded into descriptor bits 9/4/5 (MediaTek). `hi` is PA >> 32. */
export function mtkBits(hi: number): number {
  let b = 0;
  if (hi & 1) b |= V7S_MTK_PA_BIT32;
  if (hi & 2) b |= V7S_MTK_PA_BIT33;
  if (hi & 4) b |= V7S_MTK_PA_BIT34;
  return b;
}

/** The PA bits above 32 encoded by a MediaTek descriptor, as a number (0 .. 7 * 2^32). */
export function mtkHigh(pte: number): number {
  let hi = 0;
  if (pte & V7S_MTK_PA_BIT32) hi += 1;
  if (pte & V7S_MTK_PA_BIT33) hi += 2;
  if (pte & V7S_MTK_PA_BIT34) hi += 4;
  return hi * 4294967296;
}
