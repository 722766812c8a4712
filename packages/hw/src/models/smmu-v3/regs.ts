/**
 * SMMUv3 architectural constants: register offsets, ID register fields, queue and table
 * layouts, command opcodes and event numbers (from the Arm SMMUv3 architecture, IHI 0070).
 * Bit positions of 64-bit fields are given for the u32 half they live in.
 */

// ---- register offsets (page 0; page 1 starts at SMMU_PAGE1) ----
export const SMMU_IDR0 = 0x000;
export const SMMU_IDR1 = 0x004;
export const SMMU_IDR2 = 0x008;
export const SMMU_IDR3 = 0x00c;
export const SMMU_IDR4 = 0x010;
export const SMMU_IDR5 = 0x014;
export const SMMU_IIDR = 0x018;
export const SMMU_AIDR = 0x01c;
export const SMMU_CR0 = 0x020;
export const SMMU_CR0ACK = 0x024;
export const SMMU_CR1 = 0x028;
export const SMMU_CR2 = 0x02c;
export const SMMU_STATUSR = 0x040;
export const SMMU_GBPA = 0x044;
export const SMMU_IRQ_CTRL = 0x050;
export const SMMU_IRQ_CTRLACK = 0x054;
export const SMMU_GERROR = 0x060;
export const SMMU_GERRORN = 0x064;
export const SMMU_GERROR_IRQ_CFG0 = 0x068;
export const SMMU_GERROR_IRQ_CFG1 = 0x070;
export const SMMU_GERROR_IRQ_CFG2 = 0x074;
export const SMMU_STRTAB_BASE = 0x080;
export const SMMU_STRTAB_BASE_CFG = 0x088;
export const SMMU_CMDQ_BASE = 0x090;
export const SMMU_CMDQ_PROD = 0x098;
export const SMMU_CMDQ_CONS = 0x09c;
export const SMMU_EVTQ_BASE = 0x0a0;
export const SMMU_EVTQ_IRQ_CFG0 = 0x0b0;
export const SMMU_EVTQ_IRQ_CFG1 = 0x0b8;
export const SMMU_EVTQ_IRQ_CFG2 = 0x0bc;
export const SMMU_PRIQ_BASE = 0x0c0;
export const SMMU_PRIQ_IRQ_CFG0 = 0x0d0;
export const SMMU_PRIQ_IRQ_CFG1 = 0x0d8;
export const SMMU_PRIQ_IRQ_CFG2 = 0x0dc;
export const SMMU_PAGE1 = 0x10000;
/** Event and PRI queue producer/consumer registers live in page 1. */
export const SMMU_EVTQ_PROD = SMMU_PAGE1 + 0x0a8;
export const SMMU_EVTQ_CONS = SMMU_PAGE1 + 0x0ac;
export const SMMU_PRIQ_PROD = SMMU_PAGE1 + 0x0c8;
export const SMMU_PRIQ_CONS = SMMU_PAGE1 + 0x0cc;
/** Size of the register window (two 64 KiB pages). */
export const SMMU_MMIO_SIZE = 0x20000;

// ---- IDR0 ----
export const IDR0_S2P = 1 << 0;
export const IDR0_S1P = 1 << 1;
export const IDR0_TTF_SHIFT = 2;
export const IDR0_COHACC = 1 << 4;
export const IDR0_BTM = 1 << 5;
export const IDR0_HTTU_SHIFT = 6;
export const IDR0_HYP = 1 << 9;
export const IDR0_ATS = 1 << 10;
export const IDR0_ASID16 = 1 << 12;
export const IDR0_MSI = 1 << 13;
export const IDR0_SEV = 1 << 14;
export const IDR0_ATOS = 1 << 15;
export const IDR0_PRI = 1 << 16;
export const IDR0_VMW = 1 << 17;
export const IDR0_VMID16 = 1 << 18;
export const IDR0_CD2L = 1 << 19;
export const IDR0_TTENDIAN_SHIFT = 21;
export const IDR0_STALL_MODEL_SHIFT = 24;
export const IDR0_TERM_MODEL = 1 << 26;
export const IDR0_ST_LEVEL_SHIFT = 27;

// ---- IDR1 ----
export const IDR1_SIDSIZE_SHIFT = 0;
export const IDR1_SSIDSIZE_SHIFT = 6;
export const IDR1_PRIQS_SHIFT = 11;
export const IDR1_EVENTQS_SHIFT = 16;
export const IDR1_CMDQS_SHIFT = 21;
export const IDR1_ATTR_PERMS_OVR = 1 << 26;
export const IDR1_ATTR_TYPES_OVR = 1 << 27;

// ---- IDR3 ----
export const IDR3_HAD = 1 << 2;
export const IDR3_XNX = 1 << 4;
export const IDR3_FWB = 1 << 8;
export const IDR3_RIL = 1 << 10;
export const IDR3_BBML_SHIFT = 11;

// ---- IDR5 ----
export const IDR5_OAS_MASK = 7;
export const IDR5_GRAN4K = 1 << 4;
export const IDR5_GRAN16K = 1 << 5;
export const IDR5_GRAN64K = 1 << 6;
export const IDR5_STALL_MAX_SHIFT = 16;

// ---- CR0 / IRQ_CTRL / GBPA / GERROR ----
export const CR0_SMMUEN = 1 << 0;
export const CR0_PRIQEN = 1 << 1;
export const CR0_EVTQEN = 1 << 2;
export const CR0_CMDQEN = 1 << 3;
export const CR0_ATSCHK = 1 << 4;
/** Bits of CR0 the model implements (VMW is [8:6]). */
export const CR0_MASK = 0x1df;
export const CR1_MASK = 0xfff;
export const CR2_MASK = 0x7;
/** CR2.RECINVSID: record C_BAD_STREAMID for out-of-range StreamIDs. */
export const CR2_RECINVSID = 1 << 1;
export const IRQ_CTRL_GERROR_IRQEN = 1 << 0;
export const IRQ_CTRL_PRIQ_IRQEN = 1 << 1;
export const IRQ_CTRL_EVTQ_IRQEN = 1 << 2;
export const GBPA_UPDATE = 1 << 31;
export const GBPA_ABORT = 1 << 20;
/** Writable GBPA fields: MemAttr[3:0], MTCFG 4, ALLOCCFG[11:8], SHCFG[13:12], PRIVCFG[17:16], INSTCFG[19:18], ABORT 20. */
export const GBPA_FIELDS = 0x001f_3f1f;
export const GERROR_CMDQ_ERR = 1 << 0;
export const GERROR_EVTQ_ABT_ERR = 1 << 2;
export const GERROR_PRIQ_ABT_ERR = 1 << 3;
export const GERROR_MSI_CMDQ_ABT_ERR = 1 << 4;
export const GERROR_MSI_EVTQ_ABT_ERR = 1 << 5;
export const GERROR_MSI_PRIQ_ABT_ERR = 1 << 6;
export const GERROR_MSI_GERROR_ABT_ERR = 1 << 7;
export const GERROR_SFM_ERR = 1 << 8;
export const GERROR_MASK = 0x1fd;

// ---- STRTAB_BASE_CFG ----
export const STRTAB_FMT_LINEAR = 0;
export const STRTAB_FMT_2LVL = 1;

// ---- queues ----
/** CMDQ_CONS.ERR field: bits [30:24]. */
export const CMDQ_CONS_ERR_SHIFT = 24;
export const CMDQ_CONS_ERR_MASK = 0x7f << 24;
export const CERROR_NONE = 0;
export const CERROR_ILL = 1;
export const CERROR_ABT = 2;
export const CERROR_ATC_INV_SYNC = 3;
/** EVTQ_PROD.OVFLG and EVTQ_CONS.OVACKFLG. */
export const Q_OVF_FLAG = 1 << 31;
export const CMD_SIZE = 16;
export const EVT_SIZE = 32;

// ---- commands (opcode in dw0[7:0]) ----
export const CMD_PREFETCH_CONFIG = 0x01;
export const CMD_PREFETCH_ADDR = 0x02;
export const CMD_CFGI_STE = 0x03;
/** CFGI_STE_RANGE; with Range = 31 it is CFGI_ALL. */
export const CMD_CFGI_STE_RANGE = 0x04;
export const CMD_CFGI_ALL = 0x04;
export const CMD_CFGI_CD = 0x05;
export const CMD_CFGI_CD_ALL = 0x06;
export const CMD_TLBI_NH_ALL = 0x10;
export const CMD_TLBI_NH_ASID = 0x11;
export const CMD_TLBI_NH_VA = 0x12;
export const CMD_TLBI_NH_VAA = 0x13;
export const CMD_TLBI_EL3_ALL = 0x18;
export const CMD_TLBI_EL3_VA = 0x1a;
export const CMD_TLBI_EL2_ALL = 0x20;
export const CMD_TLBI_EL2_ASID = 0x21;
export const CMD_TLBI_EL2_VA = 0x22;
export const CMD_TLBI_EL2_VAA = 0x23;
export const CMD_TLBI_S12_VMALL = 0x28;
export const CMD_TLBI_S2_IPA = 0x2a;
export const CMD_TLBI_NSNH_ALL = 0x30;
export const CMD_ATC_INV = 0x40;
export const CMD_PRI_RESP = 0x41;
export const CMD_RESUME = 0x44;
export const CMD_STALL_TERM = 0x45;
export const CMD_SYNC = 0x46;

/** Names of the opcodes the model accepts (for stats and traces). */
export const SMMU_CMD_NAMES: Readonly<Record<number, string>> = {
  [CMD_PREFETCH_CONFIG]: 'PREFETCH_CONFIG',
  [CMD_PREFETCH_ADDR]: 'PREFETCH_ADDR',
  [CMD_CFGI_STE]: 'CFGI_STE',
  [CMD_CFGI_STE_RANGE]: 'CFGI_STE_RANGE',
  [CMD_CFGI_CD]: 'CFGI_CD',
  [CMD_CFGI_CD_ALL]: 'CFGI_CD_ALL',
  [CMD_TLBI_NH_ALL]: 'TLBI_NH_ALL',
  [CMD_TLBI_NH_ASID]: 'TLBI_NH_ASID',
  [CMD_TLBI_NH_VA]: 'TLBI_NH_VA',
  [CMD_TLBI_NH_VAA]: 'TLBI_NH_VAA',
  [CMD_TLBI_EL2_ALL]: 'TLBI_EL2_ALL',
  [CMD_TLBI_EL2_ASID]: 'TLBI_EL2_ASID',
  [CMD_TLBI_EL2_VA]: 'TLBI_EL2_VA',
  [CMD_TLBI_EL2_VAA]: 'TLBI_EL2_VAA',
  [CMD_TLBI_S12_VMALL]: 'TLBI_S12_VMALL',
  [CMD_TLBI_S2_IPA]: 'TLBI_S2_IPA',
  [CMD_TLBI_NSNH_ALL]: 'TLBI_NSNH_ALL',
  [CMD_ATC_INV]: 'ATC_INV',
  [CMD_PRI_RESP]: 'PRI_RESP',
  [CMD_RESUME]: 'RESUME',
  [CMD_STALL_TERM]: 'STALL_TERM',
  [CMD_SYNC]: 'SYNC',
};

/** CMD_SYNC completion signal (dw0[13:12]). */
export const SYNC_CS_NONE = 0;
export const SYNC_CS_IRQ = 1;
export const SYNC_CS_SEV = 2;

// ---- STE ----
export const STE_CFG_ABORT = 0;
export const STE_CFG_BYPASS = 4;
export const STE_CFG_S1 = 5;
export const STE_CFG_S2 = 6;
export const STE_CFG_NESTED = 7;
export const STE_SIZE = 64;
export const CD_SIZE = 64;
/** S1DSS values: what traffic without a substream ID does when S1CDMax > 0. */
export const S1DSS_TERMINATE = 0;
export const S1DSS_BYPASS = 1;
export const S1DSS_SSID0 = 2;

// ---- events ----
export const EVT_F_UUT = 0x01;
export const EVT_C_BAD_STREAMID = 0x02;
export const EVT_F_STE_FETCH = 0x03;
export const EVT_C_BAD_STE = 0x04;
export const EVT_F_BAD_ATS_TREQ = 0x05;
export const EVT_F_STREAM_DISABLED = 0x06;
export const EVT_F_TRANSL_FORBIDDEN = 0x07;
export const EVT_C_BAD_SUBSTREAMID = 0x08;
export const EVT_F_CD_FETCH = 0x09;
export const EVT_C_BAD_CD = 0x0a;
export const EVT_F_WALK_EABT = 0x0b;
export const EVT_F_TRANSLATION = 0x10;
export const EVT_F_ADDR_SIZE = 0x11;
export const EVT_F_ACCESS = 0x12;
export const EVT_F_PERMISSION = 0x13;
export const EVT_F_TLB_CONFLICT = 0x20;
export const EVT_F_CFG_CONFLICT = 0x21;
/** Event CLASS field (dw1[41:40]): which access of the translation faulted at stage 2. */
export const EVT_CLASS_CD = 0;
export const EVT_CLASS_TT = 1;
export const EVT_CLASS_IN = 2;

/** OAS/IPS/PS encodings 0..6 in bits. */
export const SMMU_ADDR_BITS: readonly number[] = [32, 36, 40, 42, 44, 48, 52];
