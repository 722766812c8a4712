/*
 * The driver's register header for SMMUv1/v2 (MMU-400/401/500): offsets inside the global
 * register pages (GR0, GR1) and the context bank pages, and their fields. Written from the
 * facts Linux's arm-smmu.h and the Arm SMMU architecture (IHI 0062) give; the hardware model
 * in @gki/hw keeps its own definitions, as a real driver and a real SMMU do.
 */

// ---------------------------------------------------------------- GR0: global space 0

export const GR0_SCR0 = 0x000;
export const SCR0_CLIENTPD = 1 << 0;
export const SCR0_GFRE = 1 << 1;
export const SCR0_GFIE = 1 << 2;
export const SCR0_EXIDENABLE = 1 << 3;
export const SCR0_GCFGFRE = 1 << 4;
export const SCR0_GCFGFIE = 1 << 5;
export const SCR0_USFCFG = 1 << 10;
export const SCR0_VMIDPNE = 1 << 11;
export const SCR0_PTM = 1 << 12;
export const SCR0_FB = 1 << 13;
export const SCR0_BSU_MASK = 3 << 14;
export const SCR0_VMID16EN = 1 << 31;

/** Auxiliary configuration register (IMPLEMENTATION DEFINED; MMU-500 fields below). */
export const GR0_SACR = 0x010;
export const MMU500_ACR_SMTNMB_TLBEN = 1 << 8;
export const MMU500_ACR_S2CRB_TLBEN = 1 << 10;
export const MMU500_ACR_CACHE_LOCK = 1 << 26;

export const GR0_ID0 = 0x020;
export const ID0_NUMSMRG_MASK = 0xff;
export const ID0_EXIDS = 1 << 8;
export const ID0_NUMSIDB_SHIFT = 9;
export const ID0_NUMSIDB_MASK = 0xf;
export const ID0_CTTW = 1 << 14;
export const ID0_NUMIRPT_SHIFT = 16;
export const ID0_PTFS_NO_AARCH32S = 1 << 24;
export const ID0_PTFS_NO_AARCH32 = 1 << 25;
export const ID0_ATOSNS = 1 << 26;
export const ID0_SMS = 1 << 27;
export const ID0_NTS = 1 << 28;
export const ID0_S2TS = 1 << 29;
export const ID0_S1TS = 1 << 30;

export const GR0_ID1 = 0x024;
export const ID1_NUMCB_MASK = 0xff;
export const ID1_NUMS2CB_SHIFT = 16;
export const ID1_NUMS2CB_MASK = 0xff;
export const ID1_NUMPAGENDXB_SHIFT = 28;
export const ID1_NUMPAGENDXB_MASK = 0x7;
export const ID1_PAGESIZE = 1 << 31;

export const GR0_ID2 = 0x028;
export const ID2_IAS_MASK = 0xf;
export const ID2_OAS_SHIFT = 4;
export const ID2_UBS_SHIFT = 8;
export const ID2_PTFS_4K = 1 << 12;
export const ID2_PTFS_16K = 1 << 13;
export const ID2_PTFS_64K = 1 << 14;
export const ID2_VMID16 = 1 << 15;

export const GR0_ID7 = 0x03c;
export const ID7_MAJOR_SHIFT = 4;

export const GR0_SGFSR = 0x048;
export const SGFSR_ICF = 1 << 0;
export const SGFSR_USF = 1 << 1;
export const SGFSR_SMCF = 1 << 2;
export const SGFSR_UCBF = 1 << 3;
export const SGFSR_UCIF = 1 << 4;
export const SGFSR_CAF = 1 << 5;
export const SGFSR_EF = 1 << 6;
export const SGFSR_PF = 1 << 7;
export const SGFSR_MULTI = 1 << 31;
export const GR0_SGFSYNR0 = 0x050;
export const GR0_SGFSYNR1 = 0x054;
export const GR0_SGFSYNR2 = 0x058;

export const GR0_TLBIVMID = 0x064;
export const GR0_TLBIALLNSNH = 0x068;
export const GR0_TLBIALLH = 0x06c;
export const GR0_STLBGSYNC = 0x070;
export const GR0_STLBGSTATUS = 0x074;
export const STLBGSTATUS_GSACTIVE = 1 << 0;

/** Stream match register n. */
export function gr0Smr(n: number): number {
  return 0x800 + 4 * n;
}
export const SMR_ID_MASK = 0xffff;
export const SMR_MASK_SHIFT = 16;
export const SMR_VALID = 1 << 31;

/** Stream-to-context register n. */
export function gr0S2cr(n: number): number {
  return 0xc00 + 4 * n;
}
export const S2CR_CBNDX_MASK = 0xff;
export const S2CR_EXIDVALID = 1 << 10;
export const S2CR_TYPE_SHIFT = 16;
export const S2CR_TYPE_MASK = 3;
export const S2CR_PRIVCFG_SHIFT = 24;

export const S2CR_TYPE_TRANS = 0;
export const S2CR_TYPE_BYPASS = 1;
export const S2CR_TYPE_FAULT = 2;
export type S2crType = 0 | 1 | 2;
export const S2CR_PRIVCFG_DEFAULT = 0;

// ---------------------------------------------------------------- GR1: global space 1

export function gr1Cbar(n: number): number {
  return 0x000 + 4 * n;
}
export const CBAR_VMID_MASK = 0xff;
export const CBAR_S1_BPSHCFG_SHIFT = 8;
export const CBAR_S1_BPSHCFG_NSH = 3;
export const CBAR_S1_MEMATTR_SHIFT = 12;
export const CBAR_S1_MEMATTR_WB = 0xf;
export const CBAR_TYPE_SHIFT = 16;
export const CBAR_IRPTNDX_SHIFT = 24;

/** CBAR.TYPE. */
export const CBAR_TYPE_S2_TRANS = 0;
export const CBAR_TYPE_S1_TRANS_S2_BYPASS = 1;
export const CBAR_TYPE_S1_TRANS_S2_FAULT = 2;
export const CBAR_TYPE_S1_TRANS_S2_TRANS = 3;

export function gr1Cbfrsynra(n: number): number {
  return 0x400 + 4 * n;
}

export function gr1Cba2r(n: number): number {
  return 0x800 + 4 * n;
}
export const CBA2R_VA64 = 1 << 0;
export const CBA2R_VMID16_SHIFT = 16;

// ---------------------------------------------------------------- context bank

export const CB_SCTLR = 0x000;
export const SCTLR_M = 1 << 0;
export const SCTLR_TRE = 1 << 1;
export const SCTLR_AFE = 1 << 2;
export const SCTLR_E = 1 << 4;
export const SCTLR_CFRE = 1 << 5;
export const SCTLR_CFIE = 1 << 6;
export const SCTLR_CFCFG = 1 << 7;
export const SCTLR_HUPCF = 1 << 8;
export const SCTLR_S1_ASIDPNE = 1 << 12;

export const CB_ACTLR = 0x004;
/** MMU-500 ACTLR: next-page prefetcher. */
export const MMU500_ACTLR_CPRE = 1 << 1;

export const CB_RESUME = 0x008;
export const RESUME_TERMINATE = 1 << 0;

export const CB_TCR2 = 0x010;
export const TCR2_PASIZE_MASK = 0xf;
export const TCR2_AS = 1 << 4;
export const TCR2_SEP_SHIFT = 15;
export const TCR2_SEP_UPSTREAM = 7;

export const CB_TTBR0 = 0x020;
export const CB_TTBR1 = 0x028;
/** TTBRn.ASID occupies bits [63:48]: bits [31:16] of the high word. */
export const TTBR_ASID_HI_SHIFT = 16;

export const CB_TCR = 0x030;
export const TCR_T0SZ_MASK = 0x3f;
export const TCR_EPD0 = 1 << 7;
export const TCR_IRGN0_SHIFT = 8;
export const TCR_ORGN0_SHIFT = 10;
export const TCR_SH0_SHIFT = 12;
export const TCR_TG0_SHIFT = 14;
export const TCR_A1 = 1 << 22;
export const TCR_EPD1 = 1 << 23;
export const TCR_EAE = 1 << 31;
export const VTCR_SL0_SHIFT = 6;
export const VTCR_PS_SHIFT = 16;
export const VTCR_RES1 = 1 << 31;

export const CB_CONTEXTIDR = 0x034;
export const CB_S1_MAIR0 = 0x038;
export const CB_S1_MAIR1 = 0x03c;

export const CB_PAR = 0x050;
export const CB_PAR_F = 1 << 0;

export const CB_FSR = 0x058;
export const FSR_TF = 1 << 1;
export const FSR_AFF = 1 << 2;
export const FSR_PF = 1 << 3;
export const FSR_EF = 1 << 4;
export const FSR_TLBMCF = 1 << 5;
export const FSR_TLBLKF = 1 << 6;
export const FSR_ASF = 1 << 7;
export const FSR_UUT = 1 << 8;
export const FSR_SS = 1 << 30;
export const FSR_MULTI = 1 << 31;
export const FSR_IGN = FSR_AFF | FSR_ASF | FSR_TLBMCF | FSR_TLBLKF;
/** Every FSR bit that means "a fault is recorded". */
export const FSR_FAULT = (FSR_MULTI | FSR_SS | FSR_UUT | FSR_EF | FSR_PF | FSR_TF | FSR_IGN) >>> 0;

export const CB_FAR = 0x060;
export const CB_FSYNR0 = 0x068;
export const FSYNR0_WNR = 1 << 4;
export const CB_FSYNR1 = 0x06c;

export const CB_S1_TLBIVA = 0x600;
export const CB_S1_TLBIASID = 0x610;
export const CB_S1_TLBIVAL = 0x620;
export const CB_S2_TLBIIPAS2 = 0x630;
export const CB_S2_TLBIIPAS2L = 0x638;
export const CB_TLBSYNC = 0x7f0;
export const CB_TLBSTATUS = 0x7f4;
export const TLBSTATUS_SACTIVE = 1 << 0;
export const CB_ATS1PR = 0x800;
export const CB_ATSR = 0x8f0;
export const ATSR_ACTIVE = 1 << 0;

// ---------------------------------------------------------------- limits

/** Most context banks an SMMU can have (ID1.NUMCB is 8 bits, Linux's bitmap holds 128). */
export const ARM_SMMU_MAX_CBS = 128;
/** TLB sync: spins per delay step, and the total delay (us) before giving up: Linux's 1 s. */
export const TLB_SPIN_COUNT = 10;
export const TLB_LOOP_TIMEOUT_US = 1_000_000;
/** ATSR poll: Linux's readl_poll_timeout_atomic(…, 5 us, 50 us). */
export const ATSR_POLL_DELAY_US = 5;
export const ATSR_POLL_TIMEOUT_US = 50;

/** ID2 size codes (IAS, OAS, UBS) to bits (arm_smmu_id_size_to_bits). */
export function idSizeToBits(code: number): number {
  switch (code) {
    case 0:
      return 32;
    case 1:
      return 36;
    case 2:
      return 40;
    case 3:
      return 42;
    case 4:
      return 44;
    default:
      return 48;
  }
}
