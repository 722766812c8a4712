/**
 * The driver's own register header for the Adreno a5xx GPU (a505..a540): register offsets in
 * 32-bit words as the kernel's generated a5xx.xml.h gives them (byte offset = word x 4), the
 * interrupt and status bits msm looks at, and the a5xx-only PM4 opcodes of adreno_pm4.xml.
 * The PM4 packet headers and the opcodes a5xx shares with a6xx come from regs.ts. Written from
 * those public facts; the hardware model keeps its own definitions.
 */

// ---------------------------------------------------------------------------- RBBM

export const A5XX_RBBM_INTERFACE_HANG_INT_CNTL = 0x002f;
export const A5XX_RBBM_INT_CLEAR_CMD = 0x0037;
export const A5XX_RBBM_INT_0_MASK = 0x0038;
export const A5XX_RBBM_SW_RESET_CMD = 0x0043;
export const A5XX_RBBM_BLOCK_SW_RESET_CMD = 0x0045;
export const A5XX_RBBM_CLOCK_CNTL = 0x0067;
export const A5XX_RBBM_AHB_CNTL0 = 0x0093;
export const A5XX_RBBM_AHB_CNTL1 = 0x0094;
export const A5XX_RBBM_AHB_CNTL2 = 0x0095;
export const A5XX_RBBM_AHB_CMD = 0x0096;
/** RBBM_INTERFACE_HANG_MASK_CNTL11..18 (0x9c..0xa3). */
export const A5XX_RBBM_INTERFACE_HANG_MASK_CNTL = (n: number): number => 0x009c + (n - 11);
export const A5XX_RBBM_PERFCTR_CP_0_LO = 0x03a0;
export const A5XX_RBBM_PERFCTR_RBBM_0_LO = 0x03b0;
export const A5XX_RBBM_PERFCTR_CNTL = 0x0464;
export const A5XX_RBBM_PERFCTR_RBBM_SEL_0 = 0x046b;
export const A5XX_RBBM_PERFCTR_GPU_BUSY_MASKED = 0x046f;
export const A5XX_RBBM_ALWAYSON_COUNTER_LO = 0x04d2;
export const A5XX_RBBM_INT_0_STATUS = 0x04e1;
export const A5XX_RBBM_AHB_ME_SPLIT_STATUS = 0x04f0;
export const A5XX_RBBM_AHB_PFP_SPLIT_STATUS = 0x04f1;
export const A5XX_RBBM_AHB_ETS_SPLIT_STATUS = 0x04f3;
export const A5XX_RBBM_AHB_ERROR_STATUS = 0x04f4;
export const A5XX_RBBM_STATUS = 0x04f5;
export const A5XX_RBBM_STATUS3 = 0x0530;
export const A5XX_RBBM_ISDB_CNT = 0x0533;
export const A5XX_RBBM_SECVID_TRUST_CNTL = 0xf400;
export const A5XX_RBBM_SECVID_TSB_TRUSTED_BASE_LO = 0xf800;
export const A5XX_RBBM_SECVID_TSB_TRUSTED_SIZE = 0xf802;
export const A5XX_RBBM_SECVID_TSB_CNTL = 0xf803;
export const A5XX_RBBM_SECVID_TSB_ADDR_MODE_CNTL = 0xf810;

/** RBBM_INT_0 bits. */
export const A5XX_RBBM_INT_0_MASK_RBBM_AHB_ERROR = 1 << 1;
export const A5XX_RBBM_INT_0_MASK_RBBM_TRANSFER_TIMEOUT = 1 << 2;
export const A5XX_RBBM_INT_0_MASK_RBBM_ME_MS_TIMEOUT = 1 << 3;
export const A5XX_RBBM_INT_0_MASK_RBBM_PFP_MS_TIMEOUT = 1 << 4;
export const A5XX_RBBM_INT_0_MASK_RBBM_ETS_MS_TIMEOUT = 1 << 5;
export const A5XX_RBBM_INT_0_MASK_RBBM_ATB_ASYNC_OVERFLOW = 1 << 6;
export const A5XX_RBBM_INT_0_MASK_CP_SW = 1 << 8;
export const A5XX_RBBM_INT_0_MASK_CP_HW_ERROR = 1 << 9;
export const A5XX_RBBM_INT_0_MASK_CP_CACHE_FLUSH_TS = 1 << 20;
export const A5XX_RBBM_INT_0_MASK_RBBM_ATB_BUS_OVERFLOW = 1 << 22;
export const A5XX_RBBM_INT_0_MASK_MISC_HANG_DETECT = 1 << 23;
export const A5XX_RBBM_INT_0_MASK_UCHE_OOB_ACCESS = 1 << 24;
export const A5XX_RBBM_INT_0_MASK_GPMU_VOLTAGE_DROOP = 1 << 28;

/** The interrupts a5xx enables (A5XX_INT_MASK). */
export const A5XX_INT_MASK =
  (A5XX_RBBM_INT_0_MASK_RBBM_AHB_ERROR |
    A5XX_RBBM_INT_0_MASK_RBBM_TRANSFER_TIMEOUT |
    A5XX_RBBM_INT_0_MASK_RBBM_ME_MS_TIMEOUT |
    A5XX_RBBM_INT_0_MASK_RBBM_PFP_MS_TIMEOUT |
    A5XX_RBBM_INT_0_MASK_RBBM_ETS_MS_TIMEOUT |
    A5XX_RBBM_INT_0_MASK_RBBM_ATB_ASYNC_OVERFLOW |
    A5XX_RBBM_INT_0_MASK_CP_HW_ERROR |
    A5XX_RBBM_INT_0_MASK_MISC_HANG_DETECT |
    A5XX_RBBM_INT_0_MASK_CP_SW |
    A5XX_RBBM_INT_0_MASK_CP_CACHE_FLUSH_TS |
    A5XX_RBBM_INT_0_MASK_UCHE_OOB_ACCESS |
    A5XX_RBBM_INT_0_MASK_GPMU_VOLTAGE_DROOP) >>>
  0;

/** The RBBM errors a5xx_rbbm_err_irq reports. */
export const A5XX_RBBM_ERROR_MASK =
  (A5XX_RBBM_INT_0_MASK_RBBM_AHB_ERROR |
    A5XX_RBBM_INT_0_MASK_RBBM_TRANSFER_TIMEOUT |
    A5XX_RBBM_INT_0_MASK_RBBM_ME_MS_TIMEOUT |
    A5XX_RBBM_INT_0_MASK_RBBM_PFP_MS_TIMEOUT |
    A5XX_RBBM_INT_0_MASK_RBBM_ETS_MS_TIMEOUT |
    A5XX_RBBM_INT_0_MASK_RBBM_ATB_ASYNC_OVERFLOW) >>>
  0;

/** RBBM_STATUS: HI_BUSY is the only bit allowed while idle. */
export const A5XX_RBBM_STATUS_HI_BUSY = 1 << 0;
/** RBBM_STATUS3: the SMMU holds a GPU transaction stalled on a fault. */
export const A5XX_RBBM_STATUS3_SMMU_STALLED_ON_FAULT = 1 << 24;

// ---------------------------------------------------------------------------- CP

export const A5XX_CP_RB_BASE = 0x0800;
export const A5XX_CP_RB_CNTL = 0x0802;
export const A5XX_CP_RB_RPTR_ADDR = 0x0804;
export const A5XX_CP_RB_RPTR = 0x0806;
export const A5XX_CP_RB_WPTR = 0x0807;
export const A5XX_CP_PFP_STAT_ADDR = 0x0808;
export const A5XX_CP_PFP_STAT_DATA = 0x0809;
export const A5XX_CP_ROQ_THRESHOLDS_1 = 0x081f;
export const A5XX_CP_ROQ_THRESHOLDS_2 = 0x0820;
export const A5XX_CP_MEQ_THRESHOLDS = 0x0825;
export const A5XX_CP_MERCIU_SIZE = 0x0826;
export const A5XX_CP_PFP_ME_CNTL = 0x0832;
export const A5XX_CP_CHICKEN_DBG = 0x0833;
export const A5XX_CP_PFP_INSTR_BASE_LO = 0x0835;
export const A5XX_CP_ME_INSTR_BASE_LO = 0x0838;
export const A5XX_CP_CONTEXT_SWITCH_SAVE_ADDR_LO = 0x083e;
export const A5XX_CP_ADDR_MODE_CNTL = 0x0860;
export const A5XX_CP_PROTECT = (n: number): number => 0x0880 + n;
export const A5XX_CP_PROTECT_CNTL = 0x08a0;
export const A5XX_CP_INTERRUPT_STATUS = 0x0b18;
export const A5XX_CP_HW_FAULT = 0x0b1a;
export const A5XX_CP_AHB_FAULT = 0x0b1b;
export const A5XX_CP_PROTECT_STATUS = 0x0b1c;
export const A5XX_CP_IB1_BASE = 0x0b1f;
export const A5XX_CP_IB1_BUFSZ = 0x0b21;
export const A5XX_CP_IB2_BASE = 0x0b22;
export const A5XX_CP_IB2_BUFSZ = 0x0b24;
export const A5XX_CP_SCRATCH_REG = (n: number): number => 0x0b78 + n;
export const A5XX_CP_PERFCTR_CP_SEL_0 = 0x0bb0;
export const A5XX_VSC_ADDR_MODE_CNTL = 0x0bc1;

/** CP_INTERRUPT_STATUS bits. */
export const A5XX_CP_INT_CP_OPCODE_ERROR = 1 << 0;
export const A5XX_CP_INT_CP_RESERVED_BIT_ERROR = 1 << 1;
export const A5XX_CP_INT_CP_HW_FAULT_ERROR = 1 << 2;
export const A5XX_CP_INT_CP_DMA_ERROR = 1 << 3;
export const A5XX_CP_INT_CP_REGISTER_PROTECTION_ERROR = 1 << 4;
export const A5XX_CP_INT_CP_AHB_ERROR = 1 << 5;

/** CP_PROTECT_CNTL as msm programs it, and ADRENO_PROTECT_RW: trap reads and writes of `len` (a power of two) registers from `reg`. */
export const A5XX_CP_PROTECT_CNTL_VALUE = 0x7;
export function adrenoProtectRw(reg: number, len: number): number {
  return ((1 << 30) | (1 << 29) | ((Math.log2(len) & 0x1f) << 24) | ((reg << 2) & 0xfffff)) >>> 0;
}

/** PERF_CP_ALWAYS_COUNT: the CP cycle countable. */
export const PERF_CP_ALWAYS_COUNT = 0;

// ---------------------------------------------------------------------------- other blocks

export const A5XX_GRAS_ADDR_MODE_CNTL = 0x0c81;
export const A5XX_RB_DBG_ECO_CNTL = 0x0cc4;
export const A5XX_RB_ADDR_MODE_CNTL = 0x0cc5;
export const A5XX_RB_MODE_CNTL = 0x0cc6;
export const A5XX_PC_DBG_ECO_CNTL = 0x0d00;
export const A5XX_PC_ADDR_MODE_CNTL = 0x0d01;
export const A5XX_HLSQ_DBG_ECO_CNTL = 0x0e04;
export const A5XX_HLSQ_ADDR_MODE_CNTL = 0x0e05;
export const A5XX_VFD_ADDR_MODE_CNTL = 0x0e41;
export const A5XX_VPC_DBG_ECO_CNTL = 0x0e60;
export const A5XX_VPC_ADDR_MODE_CNTL = 0x0e61;
export const A5XX_UCHE_ADDR_MODE_CNTL = 0x0e80;
export const A5XX_UCHE_MODE_CNTL = 0x0e81;
export const A5XX_UCHE_WRITE_THRU_BASE_LO = 0x0e87;
export const A5XX_UCHE_WRITE_THRU_BASE_HI = 0x0e88;
export const A5XX_UCHE_TRAP_BASE_LO = 0x0e89;
export const A5XX_UCHE_TRAP_BASE_HI = 0x0e8a;
export const A5XX_UCHE_GMEM_RANGE_MIN_LO = 0x0e8b;
export const A5XX_UCHE_GMEM_RANGE_MIN_HI = 0x0e8c;
export const A5XX_UCHE_GMEM_RANGE_MAX_LO = 0x0e8d;
export const A5XX_UCHE_GMEM_RANGE_MAX_HI = 0x0e8e;
export const A5XX_UCHE_DBG_ECO_CNTL_2 = 0x0e8f;
export const A5XX_UCHE_CACHE_WAYS = 0x0e96;
export const A5XX_UCHE_TRAP_LOG_LO = 0x0eb1;
export const A5XX_UCHE_TRAP_LOG_HI = 0x0eb2;
export const A5XX_SP_ADDR_MODE_CNTL = 0x0ec1;
export const A5XX_TPL1_ADDR_MODE_CNTL = 0x0f01;
export const A5XX_TPL1_MODE_CNTL = 0x0f02;
export const A5XX_VBIF_GATE_OFF_WRREQ_EN = 0x302a;
export const A5XX_VBIF_ROUND_ROBIN_QOS_ARB = 0x3049;
export const A5XX_VBIF_XIN_HALT_CTRL0 = 0x3080;
export const A5XX_VBIF_XIN_HALT_CTRL1 = 0x3081;

// ---------------------------------------------------------------------------- GPMU (a530, a540)

export const A5XX_GPMU_SP_POWER_CNTL = 0xa881;
export const A5XX_GPMU_RBCCU_POWER_CNTL = 0xa887;
export const A5XX_GPMU_SP_PWR_CLK_STATUS = 0xa88b;
export const A5XX_GPMU_RBCCU_PWR_CLK_STATUS = 0xa88d;
/** GPMU_*_PWR_CLK_STATUS: the domain is powered. */
export const A5XX_GPMU_PWR_CLK_STATUS_PWR_ON = 1 << 20;
/** The value that switches a GPMU power domain on. */
export const A5XX_GPMU_POWER_ON = 0x0077_8000;
export const A5XX_GPMU_PWR_COL_STAGGER_DELAY = 0xa891;
export const A5XX_GPMU_PWR_COL_INTER_FRAME_CTRL = 0xa892;
export const A5XX_GPMU_PWR_COL_INTER_FRAME_HYST = 0xa893;
export const A5XX_GPMU_PWR_COL_BINNING_CTRL = 0xa894;
export const A5XX_GPMU_TEMP_SENSOR_ID = 0xac00;
export const A5XX_GPMU_TEMP_SENSOR_CONFIG = 0xac01;
export const A5XX_GPMU_DELTA_TEMP_THRESHOLD = 0xac03;
export const A5XX_GPMU_BASE_LEAKAGE = 0xac46;
export const A5XX_GPMU_GPMU_VOLTAGE = 0xac60;
export const A5XX_GPMU_GPMU_PWR_THRESHOLD = 0xac80;
export const A5XX_GDPM_CONFIG1 = 0xb80c;
export const A5XX_GPMU_BEC_ENABLE = 0xb9a0;

// ---------------------------------------------------------------------------- PM4 (a5xx only)

export const CP_YIELD_ENABLE = 0x1c;
export const CP_PREEMPT_ENABLE_GLOBAL = 0x69;
export const CP_PREEMPT_ENABLE_LOCAL = 0x6a;
export const CP_CONTEXT_SWITCH_YIELD = 0x6b;
export const CP_SET_RENDER_MODE = 0x6c;
/** vgt_event_type STAT_EVENT (the a530 sends one after init to start its counters). */
export const STAT_EVENT = 16;
