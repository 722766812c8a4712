import {
  IOMMU_CACHE,
  IOMMU_MMIO,
  IOMMU_NOEXEC,
  IOMMU_PRIV,
  IOMMU_READ,
  IOMMU_WRITE,
  IO_PGTABLE_QUIRK_ARM_HD,
  IO_PGTABLE_QUIRK_ARM_NS,
  IO_PGTABLE_QUIRK_ARM_S2FWB,
} from '@gki/io-pgtable-core';

/**
 * LPAE descriptor bits, split by 32-bit half. A descriptor is kept as (lo, hi): lo holds
 * bits 31:0, hi bits 63:32, so bit n >= 32 is `1 << (n - 32)` in `hi`.
 */

// type field, bits 1:0
export const PTE_TYPE_MASK = 0x3;
export const PTE_TYPE_BLOCK = 0x1;
export const PTE_TYPE_TABLE = 0x3;
export const PTE_TYPE_PAGE = 0x3;

// lower attributes (lo half)
export const PTE_NS = 1 << 5;
export const PTE_AP_UNPRIV = 1 << 6;
export const PTE_AP_RDONLY = 1 << 7;
export const PTE_HAP_READ = 1 << 6;
export const PTE_HAP_WRITE = 1 << 7;
export const PTE_SH_OS = 2 << 8;
export const PTE_SH_IS = 3 << 8;
export const PTE_AF = 1 << 10;
export const PTE_NG = 1 << 11;
export const PTE_ATTRINDX_SHIFT = 2;
export const MAIR_IDX_NC = 0;
export const MAIR_IDX_CACHE = 1;
export const MAIR_IDX_DEV = 2;
/** Stage-2 MemAttr[3:0] in bits 5:2. */
export const PTE_MEMATTR_OIWB = 0xf << 2;
export const PTE_MEMATTR_NC = 0x5 << 2;
export const PTE_MEMATTR_DEV = 0x1 << 2;
export const PTE_MEMATTR_FWB_WB = 0x6 << 2;

// upper attributes (hi half)
/** DBM, bit 51. */
export const PTE_HI_DBM = 1 << (51 - 32);
/** XN (UXN|PXN), bits 54:53. */
export const PTE_HI_XN = 3 << (53 - 32);
/** Software bit 55: "this table entry has been cleaned to memory" (non-coherent walks). */
export const PTE_HI_SW_SYNC = 1 << (55 - 32);
/** NSTable, bit 63. */
export const PTE_HI_NSTABLE = 1 << (63 - 32);

/**
 * Output-address field: bits 47:12 (bits 31:12 in lo, 47:32 in hi). The low mask is kept as
 * its int32 value (-4096): every use is a bitwise operator, which sees the same bits, and an
 * imported constant at or above 2^31 is a heap number V8 reloads and converts to int32 each
 * time a hot loop uses it.
 */
export const PTE_ADDR_LO_MASK = 0xfffff000 | 0;
export const PTE_ADDR_HI_MASK = 0xffff;

/** The four MAIR attributes (NC, WB RW-alloc, Device-nGnRE, inner-NC/outer-WB) as the kernel computes
 *  them: in int arithmetic, so attribute 3 (0xf4 << 24) is negative and sign-extends into bits 63:32. */
export const ARM_LPAE_MAIR = 0xfffffffff404ff44n;
/** Mali MEMATTR: idx0 = 0x88 (implementation defined, used as NC), idx1 = 0x8d (write-alloc), idx2 = 0x88. */
export const ARM_MALI_LPAE_MEMATTR = 0x888d88n;

/** Which family of attribute encoding a format uses. */
export type AttrKind = 's1' | 's2' | 'mali';

/**
 * The attribute template (type bits excluded) for every prot value 0..63, as (lo, hi) pairs:
 * `out[2 * prot]` = lo, `out[2 * prot + 1]` = hi. Computed once per table.
 */
export function buildProtTemplates(kind: AttrKind, quirks: number): Uint32Array {
  const out = new Uint32Array(128);
  for (let prot = 0; prot < 64; prot++) {
    let lo = 0;
    let hi = 0;
    if (kind === 's1') {
      lo |= PTE_NG;
      if (!(prot & IOMMU_WRITE) && prot & IOMMU_READ) lo |= PTE_AP_RDONLY;
      else if (quirks & IO_PGTABLE_QUIRK_ARM_HD) hi |= PTE_HI_DBM;
      if (!(prot & IOMMU_PRIV)) lo |= PTE_AP_UNPRIV;
    } else {
      // stage-2 style permissions (also Mali's)
      if (prot & IOMMU_READ) lo |= PTE_HAP_READ;
      if (prot & IOMMU_WRITE) lo |= PTE_HAP_WRITE;
    }
    if (kind === 's2') {
      if (prot & IOMMU_MMIO) lo |= PTE_MEMATTR_DEV;
      else if (prot & IOMMU_CACHE) lo |= quirks & IO_PGTABLE_QUIRK_ARM_S2FWB ? PTE_MEMATTR_FWB_WB : PTE_MEMATTR_OIWB;
      else lo |= PTE_MEMATTR_NC;
    } else {
      if (prot & IOMMU_MMIO) lo |= MAIR_IDX_DEV << PTE_ATTRINDX_SHIFT;
      else if (prot & IOMMU_CACHE) lo |= MAIR_IDX_CACHE << PTE_ATTRINDX_SHIFT;
    }
    // Mali's shareability domains differ: it is always "outer" (outside the GPU)
    lo |= prot & IOMMU_CACHE && kind !== 'mali' ? PTE_SH_IS : PTE_SH_OS;
    if (prot & IOMMU_NOEXEC) hi |= PTE_HI_XN;
    if (quirks & IO_PGTABLE_QUIRK_ARM_NS) lo |= PTE_NS;
    if (kind !== 'mali') lo |= PTE_AF;
    out[2 * prot] = lo >>> 0;
    out[2 * prot + 1] = hi >>> 0;
  }
  return out;
}

/** A 64-bit descriptor from its halves (inspection only, never on a hot path). */
export function pteToBigint(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}
