/**
 * Register map of the SMMUv1/v2 model, written from the Arm SMMU architecture (IHI 0062) and
 * the MMU-500 register descriptions. This is the hardware's own table: the arm_smmu driver
 * keeps its register header separately, as a real driver does.
 *
 * Address map: the SMMU is a run of pages of 4 KiB or 64 KiB (ID1.PAGESIZE). The global
 * address space is NUMPAGE = 2^(ID1.NUMPAGENDXB + 1) pages: page 0 is global register space 0
 * (GR0), page 1 global register space 1 (GR1). Context bank n occupies page NUMPAGE + n, so the
 * whole SMMU spans 2 x NUMPAGE pages.
 */

// ---- Global register space 0 (page 0) ----------------------------------------------------
export const SMMU2_SCR0 = 0x000;
export const SMMU2_SCR1 = 0x004;
export const SMMU2_SCR2 = 0x008;
export const SMMU2_SACR = 0x010;
export const SMMU2_IDR0 = 0x020;
export const SMMU2_IDR1 = 0x024;
export const SMMU2_IDR2 = 0x028;
export const SMMU2_IDR3 = 0x02c;
export const SMMU2_IDR4 = 0x030;
export const SMMU2_IDR5 = 0x034;
export const SMMU2_IDR6 = 0x038;
export const SMMU2_IDR7 = 0x03c;
/** 64-bit global fault address. */
export const SMMU2_SGFAR = 0x040;
export const SMMU2_SGFSR = 0x048;
export const SMMU2_SGFSRRESTORE = 0x04c;
export const SMMU2_SGFSYNR0 = 0x050;
export const SMMU2_SGFSYNR1 = 0x054;
export const SMMU2_SGFSYNR2 = 0x058;
export const SMMU2_TLBIVMID = 0x064;
export const SMMU2_TLBIALLNSNH = 0x068;
export const SMMU2_TLBIALLH = 0x06c;
export const SMMU2_TLBGSYNC = 0x070;
export const SMMU2_TLBGSTATUS = 0x074;
/** Hypervisor TLB invalidate by VA (VA[31:12] for AArch32-style writes). */
export const SMMU2_TLBIVAH = 0x078;
/** Stream match registers n at 0x800 + 4n, stream-to-context registers at 0xc00 + 4n. */
export const SMMU2_SMR = 0x800;
export const SMMU2_S2CR = 0xc00;

// sCR0
export const SCR0_CLIENTPD = 1 << 0;
export const SCR0_GFRE = 1 << 1;
export const SCR0_GFIE = 1 << 2;
export const SCR0_EXIDENABLE = 1 << 3;
export const SCR0_GCFGFRE = 1 << 4;
export const SCR0_GCFGFIE = 1 << 5;
export const SCR0_TRANSIENTCFG_MASK = 3 << 6;
export const SCR0_STALLD = 1 << 8;
export const SCR0_GSE = 1 << 9;
/** 1: a transaction whose StreamID matches no SMR faults (sGFSR.USF); 0: it bypasses. */
export const SCR0_USFCFG = 1 << 10;
export const SCR0_VMIDPNE = 1 << 11;
export const SCR0_PTM = 1 << 12;
export const SCR0_FB = 1 << 13;
export const SCR0_BSU_MASK = 3 << 14;
export const SCR0_MEMATTR_MASK = 0xf << 16;
export const SCR0_MTCFG = 1 << 20;
/** Stream match conflicts raise sGFSR.SMCF (read-only 1 in this model, as on MMU-500). */
export const SCR0_SMCFCFG = 1 << 21;
export const SCR0_SHCFG_MASK = 3 << 22;
export const SCR0_RACFG_MASK = 3 << 24;
export const SCR0_WACFG_MASK = 3 << 26;
export const SCR0_NSCFG_MASK = 3 << 28;
export const SCR0_VMID16EN = 1 << 31;

// sCR2
export const SCR2_BPVMID_MASK = 0xff;

// sACR (IMPLEMENTATION DEFINED; the MMU-500 fields)
export const SACR_MMU500_S1WC2EN = 1 << 2;
export const SACR_MMU500_S2WC2EN = 1 << 3;
export const SACR_MMU500_IPA2PA_CEN = 1 << 4;
export const SACR_MMU500_SMTNMB_TLBEN = 1 << 8;
export const SACR_MMU500_MMUDISB_TLBEN = 1 << 9;
export const SACR_MMU500_S2CRB_TLBEN = 1 << 10;
/** While set, the context banks' ACTLR registers cannot be written. */
export const SACR_MMU500_CACHE_LOCK = 1 << 26;

// ID0
export const ID0_NUMSMRG_MASK = 0xff;
export const ID0_EXIDS = 1 << 8;
export const ID0_NUMSIDB_SHIFT = 9;
export const ID0_NUMSIDB_MASK = 0xf << 9;
export const ID0_BTM = 1 << 13;
export const ID0_CTTW = 1 << 14;
export const ID0_NUMIRPT_SHIFT = 16;
export const ID0_NUMIRPT_MASK = 0xff << 16;
/** PTFS[25:24]: bit 24 set = no AArch32 short-descriptor; bit 25 set = no AArch32 at all. */
export const ID0_PTFS_NO_AARCH32S = 1 << 24;
export const ID0_PTFS_NO_AARCH32 = 1 << 25;
/** Address translation operations are NOT supported (non-secure). */
export const ID0_ATOSNS = 1 << 26;
export const ID0_SMS = 1 << 27;
export const ID0_NTS = 1 << 28;
export const ID0_S2TS = 1 << 29;
export const ID0_S1TS = 1 << 30;
export const ID0_SES = 1 << 31;

// ID1
export const ID1_NUMCB_MASK = 0xff;
export const ID1_NUMSSDNDXB_SHIFT = 8;
export const ID1_SSDTP_SHIFT = 12;
export const ID1_SMCD = 1 << 15;
export const ID1_NUMS2CB_SHIFT = 16;
export const ID1_NUMS2CB_MASK = 0xff << 16;
export const ID1_NUMPAGENDXB_SHIFT = 28;
export const ID1_NUMPAGENDXB_MASK = 7 << 28;
/** 0: 4 KiB register pages; 1: 64 KiB. */
export const ID1_PAGESIZE = 1 << 31;

// ID2
export const ID2_IAS_MASK = 0xf;
export const ID2_OAS_SHIFT = 4;
export const ID2_UBS_SHIFT = 8;
export const ID2_PTFS_4K = 1 << 12;
export const ID2_PTFS_16K = 1 << 13;
export const ID2_PTFS_64K = 1 << 14;
export const ID2_VMID16 = 1 << 15;

// ID7
export const ID7_MINOR_MASK = 0xf;
export const ID7_MAJOR_SHIFT = 4;

/** Address size codes of ID2.IAS/OAS/UBS and TCR2.PASIZE: 0..5 = 32, 36, 40, 42, 44, 48 bits. */
export const SMMU2_SIZE_BITS: readonly number[] = [32, 36, 40, 42, 44, 48];

// sGFSR (write 1 to clear)
export const GFSR_ICF = 1 << 0;
export const GFSR_USF = 1 << 1;
export const GFSR_SMCF = 1 << 2;
export const GFSR_UCBF = 1 << 3;
export const GFSR_UCIF = 1 << 4;
export const GFSR_CAF = 1 << 5;
export const GFSR_EF = 1 << 6;
export const GFSR_PF = 1 << 7;
export const GFSR_UUT = 1 << 8;
export const GFSR_MULTI = 1 << 31;
/** The fault bits (everything but MULTI). */
export const GFSR_FAULTS = 0x1ff;
/** Global configuration faults (reported under GCFGFRE/GCFGFIE where implemented). */
export const GFSR_CONFIG_FAULTS = GFSR_ICF | GFSR_UCBF | GFSR_UCIF | GFSR_CAF;

// sGFSYNR0
export const GFSYNR0_NESTED = 1 << 0;
export const GFSYNR0_WNR = 1 << 1;
export const GFSYNR0_PNU = 1 << 2;
export const GFSYNR0_IND = 1 << 3;
export const GFSYNR0_NSSTATE = 1 << 4;
export const GFSYNR0_NSATTR = 1 << 5;

// TLBGSTATUS / TLBSTATUS
export const TLBSTATUS_ACTIVE = 1 << 0;

// SMR
export const SMR_ID_MASK = 0xffff;
export const SMR_MASK_SHIFT = 16;
export const SMR_VALID = 1 << 31;

// S2CR
export const S2CR_CBNDX_MASK = 0xff;
export const S2CR_SHCFG_SHIFT = 8;
export const S2CR_EXIDVALID = 1 << 10;
export const S2CR_MTCFG = 1 << 11;
export const S2CR_MEMATTR_SHIFT = 12;
export const S2CR_TYPE_SHIFT = 16;
export const S2CR_TYPE_MASK = 3 << 16;
export const S2CR_TYPE_TRANS = 0;
export const S2CR_TYPE_BYPASS = 1;
export const S2CR_TYPE_FAULT = 2;
export const S2CR_NSCFG_SHIFT = 18;
export const S2CR_RACFG_SHIFT = 20;
export const S2CR_WACFG_SHIFT = 22;
export const S2CR_PRIVCFG_SHIFT = 24;
export const S2CR_PRIVCFG_MASK = 3 << 24;
export const S2CR_PRIVCFG_DEFAULT = 0;
export const S2CR_PRIVCFG_DIPAN = 1;
export const S2CR_PRIVCFG_UNPRIV = 2;
export const S2CR_PRIVCFG_PRIV = 3;
export const S2CR_INSTCFG_SHIFT = 26;
export const S2CR_INSTCFG_MASK = 3 << 26;
export const S2CR_TRANSIENTCFG_SHIFT = 28;
/** Reset value: TYPE = fault (as MMU-500). */
export const S2CR_RESET = S2CR_TYPE_FAULT << S2CR_TYPE_SHIFT;

// ---- Global register space 1 (page 1) ----------------------------------------------------
/** CBARn at 0x000 + 4n, CBFRSYNRAn at 0x400 + 4n, CBA2Rn at 0x800 + 4n. */
export const SMMU2_CBAR = 0x000;
export const SMMU2_CBFRSYNRA = 0x400;
export const SMMU2_CBA2R = 0x800;

// CBAR
export const CBAR_VMID_MASK = 0xff;
export const CBAR_BPSHCFG_SHIFT = 8;
export const CBAR_HYPC = 1 << 10;
export const CBAR_FB = 1 << 11;
export const CBAR_MEMATTR_SHIFT = 12;
/** TYPE = 3 (nested): bits [15:8] hold the index of the stage-2 context bank. */
export const CBAR_S2CBNDX_SHIFT = 8;
export const CBAR_S2CBNDX_MASK = 0xff << 8;
export const CBAR_TYPE_SHIFT = 16;
export const CBAR_TYPE_MASK = 3 << 16;
export const CBAR_TYPE_S2 = 0;
export const CBAR_TYPE_S1_S2BYPASS = 1;
export const CBAR_TYPE_S1_S2FAULT = 2;
export const CBAR_TYPE_S1_S2NESTED = 3;
export const CBAR_BSU_SHIFT = 18;
export const CBAR_RACFG_SHIFT = 20;
export const CBAR_WACFG_SHIFT = 22;
/** SMMUv1: the context interrupt this bank signals. */
export const CBAR_IRPTNDX_SHIFT = 24;
/** Reset value: TYPE = stage 1 with stage 2 fault (as MMU-500). */
export const CBAR_RESET = CBAR_TYPE_S1_S2FAULT << CBAR_TYPE_SHIFT;

// CBFRSYNRA
export const CBFRSYNRA_SID_MASK = 0xffff;

// CBA2R
export const CBA2R_VA64 = 1 << 0;
export const CBA2R_MONC = 1 << 1;
export const CBA2R_VMID16_SHIFT = 16;

// ---- Context bank (page NUMPAGE + n) -----------------------------------------------------
export const CB_SCTLR = 0x000;
export const CB_ACTLR = 0x004;
export const CB_RESUME = 0x008;
export const CB_TCR2 = 0x010;
export const CB_TTBR0 = 0x020;
export const CB_TTBR1 = 0x028;
export const CB_TCR = 0x030;
export const CB_CONTEXTIDR = 0x034;
/** MAIR0 (long descriptors) or PRRR (short descriptor). */
export const CB_MAIR0 = 0x038;
/** MAIR1 (long descriptors) or NMRR (short descriptor). */
export const CB_MAIR1 = 0x03c;
export const CB_PAR = 0x050;
/** PAR.F: the address translation operation faulted (long-descriptor PAR format). */
export const PAR_F = 1 << 0;
/** ATS1PR, ATS1PW, ATS1UR, ATS1UW: stage-1 address translation operations (64-bit registers). */
export const CB_ATS1PR = 0x800;
export const CB_ATS1PW = 0x808;
export const CB_ATS1UR = 0x810;
export const CB_ATS1UW = 0x818;
/** ATSR.ACTIVE: an address translation operation is in progress (never seen set here). */
export const CB_ATSR = 0x8f0;
export const CB_FSR = 0x058;
export const CB_FSRRESTORE = 0x05c;
export const CB_FAR = 0x060;
export const CB_FSYNR0 = 0x068;
export const CB_FSYNR1 = 0x06c;
export const CB_IPAFAR = 0x070;
export const CB_TLBIVA = 0x600;
export const CB_TLBIVAA = 0x608;
export const CB_TLBIASID = 0x610;
export const CB_TLBIALL = 0x618;
export const CB_TLBIVAL = 0x620;
export const CB_TLBIVAAL = 0x628;
export const CB_TLBIIPAS2 = 0x630;
export const CB_TLBIIPAS2L = 0x638;
export const CB_TLBSYNC = 0x7f0;
export const CB_TLBSTATUS = 0x7f4;

// SCTLR
export const SCTLR_M = 1 << 0;
export const SCTLR_TRE = 1 << 1;
export const SCTLR_AFE = 1 << 2;
export const SCTLR_AFFD = 1 << 3;
export const SCTLR_E = 1 << 4;
export const SCTLR_CFRE = 1 << 5;
export const SCTLR_CFIE = 1 << 6;
/** 1: a context fault stalls the transaction (until RESUME); 0: it is terminated. */
export const SCTLR_CFCFG = 1 << 7;
/** Hit under previous context fault: 1 = later transactions ignore an outstanding fault. */
export const SCTLR_HUPCF = 1 << 8;
export const SCTLR_WXN = 1 << 9;
export const SCTLR_UWXN = 1 << 10;
export const SCTLR_ASIDPNE = 1 << 12;

// ACTLR (MMU-500)
export const ACTLR_MMU500_CMTLB = 1 << 0;
export const ACTLR_MMU500_CPRE = 1 << 1;

// RESUME
/** 1: terminate the stalled transaction; 0: retry it. */
export const RESUME_TNR = 1 << 0;

// TCR2
export const TCR2_PASIZE_MASK = 7;
export const TCR2_AS = 1 << 4;
export const TCR2_TBI0 = 1 << 5;
export const TCR2_TBI1 = 1 << 6;
export const TCR2_SEP_SHIFT = 15;
export const TCR2_SEP_MASK = 7 << 15;
/** SEP = 7: the sign bit is the upstream address bit 48. */
export const TCR2_SEP_UPSTREAM = 7;

// TCR (stage 1 long descriptor; stage 2 is the VTCR layout; short descriptor is TTBCR)
export const TCR_EPD0 = 1 << 7;
export const TCR_A1 = 1 << 22;
export const TCR_EPD1 = 1 << 23;
/** AArch32 contexts: 1 = long-descriptor (LPAE) format, 0 = short descriptor. */
export const TCR_EAE = 1 << 31;

// FSR (write 1 to clear, except SS)
export const FSR_TF = 1 << 1;
export const FSR_AFF = 1 << 2;
export const FSR_PF = 1 << 3;
export const FSR_EF = 1 << 4;
export const FSR_TLBMCF = 1 << 5;
export const FSR_TLBLKF = 1 << 6;
export const FSR_ASF = 1 << 7;
export const FSR_UUT = 1 << 8;
export const FSR_FORMAT_SHIFT = 9;
export const FSR_FORMAT_MASK = 3 << 9;
export const FSR_FORMAT_AARCH32_SHORT = 0;
export const FSR_FORMAT_AARCH32_LONG = 1;
export const FSR_FORMAT_AARCH64 = 2;
export const FSR_SS = 1 << 30;
export const FSR_MULTI = 1 << 31;
/** The fault bits; any of them set means an outstanding context fault. */
export const FSR_FAULTS = FSR_TF | FSR_AFF | FSR_PF | FSR_EF | FSR_TLBMCF | FSR_TLBLKF | FSR_ASF | FSR_UUT;

// FSYNR0
export const FSYNR0_PLVL_MASK = 3;
export const FSYNR0_WNR = 1 << 4;
export const FSYNR0_PNU = 1 << 5;
export const FSYNR0_IND = 1 << 6;
export const FSYNR0_NSSTATE = 1 << 7;
export const FSYNR0_NSATTR = 1 << 8;
export const FSYNR0_ATOF = 1 << 9;
/** The fault happened on a translation table walk access. */
export const FSYNR0_PTWF = 1 << 10;
export const FSYNR0_AFR = 1 << 11;
export const FSYNR0_S1CBNDX_SHIFT = 16;
