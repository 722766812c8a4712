/**
 * The SMMUv3 programming interface as the driver uses it: register offsets, ID register
 * fields, queue and stream-table encodings, command opcodes and event numbers (facts from
 * the Arm SMMUv3 architecture, IHI 0070). The driver reaches the SMMU only through these
 * offsets on its ioremapped window, never through a device model.
 *
 * 64-bit in-memory structures (STE, CD, commands, events) are handled as little-endian u32
 * halves: word 2n is bits [31:0] of doubleword n, word 2n+1 bits [63:32].
 */

// ---- registers, page 0 ----
export const ARM_SMMU_IDR0 = 0x000;
export const ARM_SMMU_IDR1 = 0x004;
export const ARM_SMMU_IDR2 = 0x008;
export const ARM_SMMU_IDR3 = 0x00c;
export const ARM_SMMU_IDR4 = 0x010;
export const ARM_SMMU_IDR5 = 0x014;
export const ARM_SMMU_IIDR = 0x018;
export const ARM_SMMU_AIDR = 0x01c;
export const ARM_SMMU_CR0 = 0x020;
export const ARM_SMMU_CR0ACK = 0x024;
export const ARM_SMMU_CR1 = 0x028;
export const ARM_SMMU_CR2 = 0x02c;
export const ARM_SMMU_GBPA = 0x044;
export const ARM_SMMU_IRQ_CTRL = 0x050;
export const ARM_SMMU_IRQ_CTRLACK = 0x054;
export const ARM_SMMU_GERROR = 0x060;
export const ARM_SMMU_GERRORN = 0x064;
export const ARM_SMMU_STRTAB_BASE = 0x080;
export const ARM_SMMU_STRTAB_BASE_CFG = 0x088;
export const ARM_SMMU_CMDQ_BASE = 0x090;
export const ARM_SMMU_CMDQ_PROD = 0x098;
export const ARM_SMMU_CMDQ_CONS = 0x09c;
export const ARM_SMMU_EVTQ_BASE = 0x0a0;
/** Page 1 starts 64 KiB in: the event queue pointers live there. */
export const ARM_SMMU_PAGE1 = 0x1_0000;
export const ARM_SMMU_EVTQ_PROD = ARM_SMMU_PAGE1 + 0x0a8;
export const ARM_SMMU_EVTQ_CONS = ARM_SMMU_PAGE1 + 0x0ac;
/** The register window the driver maps: two 64 KiB pages. */
export const ARM_SMMU_REG_WINDOW = 0x2_0000;

// ---- IDR0 ----
export const IDR0_S2P = 1 << 0;
export const IDR0_S1P = 1 << 1;
/** TTF[3:2]: bit 3 set means AArch64 tables are supported. */
export const IDR0_TTF_AARCH64 = 1 << 3;
export const IDR0_COHACC = 1 << 4;
export const IDR0_BTM = 1 << 5;
export const IDR0_HYP = 1 << 9;
export const IDR0_ASID16 = 1 << 12;
export const IDR0_MSI = 1 << 13;
export const IDR0_SEV = 1 << 14;
export const IDR0_VMID16 = 1 << 18;
/** STALL_MODEL[25:24]: 0 stall and terminate, 1 terminate only, 2 stall forced. */
export const IDR0_STALL_MODEL_SHIFT = 24;
/** ST_LEVEL[28:27]: 1 = two-level stream tables. */
export const IDR0_ST_LEVEL_SHIFT = 27;

// ---- IDR1 ----
export const IDR1_SIDSIZE_MASK = 0x3f;
export const IDR1_EVENTQS_SHIFT = 16;
export const IDR1_CMDQS_SHIFT = 21;
export const IDR1_QS_MASK = 0x1f;
export const IDR1_ATTR_TYPES_OVR = 1 << 27;
export const IDR1_TABLES_PRESET = 1 << 30;
export const IDR1_QUEUES_PRESET = 1 << 29;

// ---- IDR3 ----
export const IDR3_RIL = 1 << 10;

// ---- IDR5 ----
export const IDR5_OAS_MASK = 7;
export const IDR5_GRAN4K = 1 << 4;
export const IDR5_GRAN16K = 1 << 5;
export const IDR5_GRAN64K = 1 << 6;
/** VAX[11:10]: 1 = 52-bit virtual addresses. */
export const IDR5_VAX_SHIFT = 10;
/** Output-address-size encodings 0..6 (IDR5.OAS, CD.IPS, STE.S2PS) in bits. */
export const ADDR_SIZE_BITS: readonly number[] = [32, 36, 40, 42, 44, 48, 52];

// ---- CR0 / CR1 / CR2 / GBPA / IRQ_CTRL / GERROR ----
export const CR0_SMMUEN = 1 << 0;
export const CR0_EVTQEN = 1 << 2;
export const CR0_CMDQEN = 1 << 3;
/** Cacheability and shareability codes for CR1 fields. */
export const CR1_CACHE_WB = 1;
export const CR1_SH_ISH = 3;
export const CR1_QUEUE_IC_SHIFT = 0;
export const CR1_QUEUE_OC_SHIFT = 2;
export const CR1_QUEUE_SH_SHIFT = 4;
export const CR1_TABLE_IC_SHIFT = 6;
export const CR1_TABLE_OC_SHIFT = 8;
export const CR1_TABLE_SH_SHIFT = 10;
export const CR2_RECINVSID = 1 << 1;
export const CR2_PTM = 1 << 2;
export const GBPA_UPDATE = 1 << 31;
export const GBPA_ABORT = 1 << 20;
export const IRQ_CTRL_GERROR_IRQEN = 1 << 0;
export const IRQ_CTRL_EVTQ_IRQEN = 1 << 2;
export const GERROR_CMDQ_ERR = 1 << 0;
export const GERROR_EVTQ_ABT_ERR = 1 << 2;
export const GERROR_PRIQ_ABT_ERR = 1 << 3;
export const GERROR_MSI_CMDQ_ABT_ERR = 1 << 4;
export const GERROR_MSI_EVTQ_ABT_ERR = 1 << 5;
export const GERROR_MSI_PRIQ_ABT_ERR = 1 << 6;
export const GERROR_MSI_GERROR_ABT_ERR = 1 << 7;
export const GERROR_SFM_ERR = 1 << 8;
export const GERROR_ERR_MASK = 0x1fd;

/** Read-allocate / write-allocate hint in the high word of a queue or table base (bit 62). */
export const BASE_HI_RA = 1 << 30;

// ---- stream table ----
export const STRTAB_BASE_CFG_FMT_SHIFT = 16;
export const STRTAB_BASE_CFG_SPLIT_SHIFT = 6;
export const STRTAB_FMT_LINEAR = 0;
export const STRTAB_FMT_2LVL = 1;
/** SIDs per level-2 table: 2^8 STEs (16 KiB), as Linux uses. */
export const STRTAB_SPLIT = 8;
/** The level-1 table is capped at 2^17 descriptors (1 MiB). */
export const STRTAB_L1_MAX_LOG2 = 17;
export const STRTAB_L1_DESC_SIZE = 8;
export const STRTAB_STE_SIZE = 64;
export const CD_SIZE = 64;

// ---- queues ----
export const CMDQ_ENT_SIZE = 16;
export const EVTQ_ENT_SIZE = 32;
export const CMDQ_CONS_ERR_SHIFT = 24;
export const CMDQ_CONS_ERR_MASK = 0x7f;
export const CMDQ_ERR_NONE = 0;
export const CMDQ_ERR_ILL = 1;
export const CMDQ_ERR_ABT = 2;
export const CMDQ_ERR_ATC_INV_SYNC = 3;
/** EVTQ_PROD.OVFLG / EVTQ_CONS.OVACKFLG. */
export const Q_OVERFLOW_FLAG = 1 << 31;

// ---- commands (dw0[7:0]) ----
export const CMD_CFGI_STE = 0x03;
export const CMD_CFGI_ALL = 0x04;
export const CMD_CFGI_CD = 0x05;
export const CMD_TLBI_NH_ASID = 0x11;
export const CMD_TLBI_NH_VA = 0x12;
export const CMD_TLBI_EL2_ALL = 0x20;
export const CMD_TLBI_S12_VMALL = 0x28;
export const CMD_TLBI_S2_IPA = 0x2a;
export const CMD_TLBI_NSNH_ALL = 0x30;
export const CMD_SYNC = 0x46;
/** CFGI_ALL is CFGI_STE_RANGE with Range = 31. */
export const CFGI_RANGE_ALL = 31;
/** CMD_SYNC completion signal: CS[13:12]. */
export const SYNC_CS_NONE = 0;
export const SYNC_CS_SEV = 2;

// ---- events (dw0[7:0]) ----
export const EVT_ID_BAD_STREAMID = 0x02;
export const EVT_ID_BAD_STE = 0x04;
export const EVT_ID_TRANSLATION_FAULT = 0x10;
export const EVT_ID_ADDR_SIZE_FAULT = 0x11;
export const EVT_ID_ACCESS_FAULT = 0x12;
export const EVT_ID_PERMISSION_FAULT = 0x13;

/** Names of the event types, for the log. */
export const EVT_NAMES: Readonly<Record<number, string>> = {
  0x01: 'F_UUT',
  0x02: 'C_BAD_STREAMID',
  0x03: 'F_STE_FETCH',
  0x04: 'C_BAD_STE',
  0x05: 'F_BAD_ATS_TREQ',
  0x06: 'F_STREAM_DISABLED',
  0x07: 'F_TRANSL_FORBIDDEN',
  0x08: 'C_BAD_SUBSTREAMID',
  0x09: 'F_CD_FETCH',
  0x0a: 'C_BAD_CD',
  0x0b: 'F_WALK_EABT',
  0x10: 'F_TRANSLATION',
  0x11: 'F_ADDR_SIZE',
  0x12: 'F_ACCESS',
  0x13: 'F_PERMISSION',
  0x20: 'F_TLB_CONFLICT',
  0x21: 'F_CFG_CONFLICT',
};

// ---- STE (word indices are u32 halves) ----
export const STE_V = 1 << 0;
export const STE_CFG_SHIFT = 1;
export const STE_CFG_ABORT = 0;
export const STE_CFG_BYPASS = 4;
export const STE_CFG_S1_TRANS = 5;
export const STE_CFG_S2_TRANS = 6;
/** dw1: S1CIR/S1COR = write-back read-allocate, S1CSH = inner shareable. */
export const STE_W2_S1CIR_WBRA = 1 << 2;
export const STE_W2_S1COR_WBRA = 1 << 4;
export const STE_W2_S1CSH_ISH = 3 << 6;
export const STE_W2_S1STALLD = 1 << 27;
/** dw1[45:44] SHCFG = 1 (use incoming shareability), in word 3. */
export const STE_W3_SHCFG_INCOMING = 1 << 12;
/** dw2[63:32] (word 5) stage-2 fields. */
export const STE_W5_S2T0SZ_SHIFT = 0;
export const STE_W5_S2SL0_SHIFT = 6;
export const STE_W5_S2IR0_SHIFT = 8;
export const STE_W5_S2OR0_SHIFT = 10;
export const STE_W5_S2SH0_SHIFT = 12;
export const STE_W5_S2TG_SHIFT = 14;
export const STE_W5_S2PS_SHIFT = 16;
export const STE_W5_S2AA64 = 1 << 19;
export const STE_W5_S2PTW = 1 << 22;
export const STE_W5_S2R = 1 << 26;

// ---- CD ----
export const CD_W0_T0SZ_SHIFT = 0;
export const CD_W0_TG0_SHIFT = 6;
export const CD_W0_IRGN0_SHIFT = 8;
export const CD_W0_ORGN0_SHIFT = 10;
export const CD_W0_SH0_SHIFT = 12;
export const CD_W0_EPD0 = 1 << 14;
export const CD_W0_EPD1 = 1 << 30;
export const CD_W0_V = 1 << 31;
/** dw0[63:32] (word 1). */
export const CD_W1_IPS_SHIFT = 0;
export const CD_W1_AA64 = 1 << 9;
export const CD_W1_R = 1 << 13;
export const CD_W1_A = 1 << 14;
export const CD_W1_ASET = 1 << 15;
export const CD_W1_ASID_SHIFT = 16;
