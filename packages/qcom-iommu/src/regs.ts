/**
 * The register definitions qcom_iommu uses (its own header, as the Linux driver takes them
 * from arm-smmu.h): the context bank registers of the Arm SMMU architecture at their offsets
 * in a bank's page, the bits the driver programs, and Qualcomm's local SMMU_INTR_SEL_NS.
 */

/** Qualcomm local block: which context interrupts go to the non-secure side. */
export const SMMU_INTR_SEL_NS = 0x2000;

// context bank registers
export const CB_SCTLR = 0x000;
export const CB_RESUME = 0x008;
export const CB_TCR2 = 0x010;
export const CB_TTBR0 = 0x020;
export const CB_TTBR1 = 0x028;
export const CB_TCR = 0x030;
export const CB_S1_MAIR0 = 0x038;
export const CB_S1_MAIR1 = 0x03c;
export const CB_FSR = 0x058;
export const CB_FAR = 0x060;
export const CB_FSYNR0 = 0x068;
export const CB_S1_TLBIVA = 0x600;
export const CB_S1_TLBIASID = 0x610;
export const CB_S1_TLBIVAL = 0x620;
export const CB_TLBSYNC = 0x7f0;
export const CB_TLBSTATUS = 0x7f4;

// SCTLR
export const SCTLR_M = 1 << 0;
export const SCTLR_TRE = 1 << 1;
export const SCTLR_AFE = 1 << 2;
export const SCTLR_CFRE = 1 << 5;
export const SCTLR_CFIE = 1 << 6;
export const SCTLR_CFCFG = 1 << 7;
export const SCTLR_S1_ASIDPNE = 1 << 12;

// RESUME
export const RESUME_TERMINATE = 1 << 0;

// TTBRn: the ASID in bits 63:48 (bits 31:16 of the high word)
export const TTBR_ASID_HI_SHIFT = 16;

// TCR (AArch32 long-descriptor / LPAE view)
export const TCR_EAE = 1 << 31;
export const TCR_EPD1 = 1 << 23;
export const TCR_TG0_SHIFT = 14;
export const TCR_SH0_SHIFT = 12;
export const TCR_ORGN0_SHIFT = 10;
export const TCR_IRGN0_SHIFT = 8;
export const TCR_T0SZ_MASK = 0x3f;

// TCR2
export const TCR2_SEP_SHIFT = 15;
export const TCR2_SEP_UPSTREAM = 0x7;
export const TCR2_PASIZE_MASK = 0x7;

// FSR
export const FSR_MULTI = 1 << 31;
export const FSR_SS = 1 << 30;
export const FSR_UUT = 1 << 8;
export const FSR_ASF = 1 << 7;
export const FSR_TLBLKF = 1 << 6;
export const FSR_TLBMCF = 1 << 5;
export const FSR_EF = 1 << 4;
export const FSR_PF = 1 << 3;
export const FSR_AFF = 1 << 2;
export const FSR_TF = 1 << 1;
/** Every fault bit, MULTI and SS: what the driver tests and clears. */
export const FSR_FAULT = (FSR_MULTI | FSR_SS | FSR_UUT | FSR_EF | FSR_PF | FSR_TF | FSR_TLBLKF | FSR_TLBMCF | FSR_AFF | FSR_ASF) >>> 0;

// TLBSTATUS
export const TLBSTATUS_SACTIVE = 1 << 0;
