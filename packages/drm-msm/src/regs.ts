/**
 * The driver's own register header for the Adreno a6xx GPU and its GMU: register offsets in
 * 32-bit words (as the kernel's generated a6xx.xml.h / a6xx_gmu.xml.h give them; the byte
 * offset is the word offset times four), the interrupt and status bits msm looks at, and the
 * PM4 command-stream vocabulary (packet headers, opcodes, event types) of adreno_pm4.xml.h.
 * Written from those public facts; the hardware model keeps its own definitions.
 */

// ---------------------------------------------------------------------------- GPU: RBBM

export const A6XX_RBBM_VBIF_CLIENT_QOS_CNTL = 0x0010;
export const A6XX_RBBM_INTERFACE_HANG_INT_CNTL = 0x001f;
export const A6XX_RBBM_INT_CLEAR_CMD = 0x0037;
export const A6XX_RBBM_INT_0_MASK = 0x0038;
export const A6XX_RBBM_SW_RESET_CMD = 0x0043;
export const A6XX_RBBM_INT_0_STATUS = 0x0201;
export const A6XX_RBBM_STATUS = 0x0210;
export const A6XX_RBBM_STATUS3 = 0x0213;
/** RBBM_PERFCTR_CP_n (64-bit, LO then HI): counter n at 0x400 + 2n. */
export const A6XX_RBBM_PERFCTR_CP = (n: number): number => 0x0400 + 2 * n;
export const A6XX_RBBM_PERFCTR_CNTL = 0x0500;
export const A6XX_RBBM_PERFCTR_GPU_BUSY_MASKED = 0x050b;
export const A6XX_RBBM_SECVID_TRUST_CNTL = 0xf400;
export const A6XX_RBBM_SECVID_TSB_TRUSTED_BASE = 0xf800;
export const A6XX_RBBM_SECVID_TSB_TRUSTED_SIZE = 0xf802;
export const A6XX_RBBM_SECVID_TSB_CNTL = 0xf803;
export const A6XX_RBBM_SECVID_TSB_ADDR_MODE_CNTL = 0xf810;

/** RBBM_INT_0 bits (mask, status and clear share them). */
export const A6XX_RBBM_INT_0_MASK_CP_AHB_ERROR = 1 << 1;
export const A6XX_RBBM_INT_0_MASK_RBBM_ATB_ASYNCFIFO_OVERFLOW = 1 << 6;
export const A6XX_RBBM_INT_0_MASK_CP_HW_ERROR = 1 << 9;
export const A6XX_RBBM_INT_0_MASK_CP_IB2 = 1 << 13;
export const A6XX_RBBM_INT_0_MASK_CP_IB1 = 1 << 14;
export const A6XX_RBBM_INT_0_MASK_CP_RB = 1 << 15;
export const A6XX_RBBM_INT_0_MASK_CP_CACHE_FLUSH_TS = 1 << 20;
export const A6XX_RBBM_INT_0_MASK_RBBM_ATB_BUS_OVERFLOW = 1 << 22;
export const A6XX_RBBM_INT_0_MASK_RBBM_HANG_DETECT = 1 << 23;
export const A6XX_RBBM_INT_0_MASK_UCHE_OOB_ACCESS = 1 << 24;
export const A6XX_RBBM_INT_0_MASK_UCHE_TRAP_INTR = 1 << 25;

/** The interrupts a6xx enables (A6XX_INT_MASK). */
export const A6XX_INT_MASK =
  (A6XX_RBBM_INT_0_MASK_CP_AHB_ERROR |
    A6XX_RBBM_INT_0_MASK_RBBM_ATB_ASYNCFIFO_OVERFLOW |
    A6XX_RBBM_INT_0_MASK_CP_HW_ERROR |
    A6XX_RBBM_INT_0_MASK_CP_IB2 |
    A6XX_RBBM_INT_0_MASK_CP_IB1 |
    A6XX_RBBM_INT_0_MASK_CP_RB |
    A6XX_RBBM_INT_0_MASK_CP_CACHE_FLUSH_TS |
    A6XX_RBBM_INT_0_MASK_RBBM_ATB_BUS_OVERFLOW |
    A6XX_RBBM_INT_0_MASK_RBBM_HANG_DETECT |
    A6XX_RBBM_INT_0_MASK_UCHE_OOB_ACCESS |
    A6XX_RBBM_INT_0_MASK_UCHE_TRAP_INTR) >>>
  0;

/** RBBM_STATUS: the only bit allowed while idle (an AHB access by the CX master, i.e. us). */
export const A6XX_RBBM_STATUS_CP_AHB_BUSY_CX_MASTER = 1 << 0;
/** RBBM_STATUS3: the SMMU holds a GPU transaction stalled on a fault. */
export const A6XX_RBBM_STATUS3_SMMU_STALLED_ON_FAULT = 1 << 24;

// ---------------------------------------------------------------------------- GPU: CP

export const A6XX_CP_RB_BASE = 0x0800;
export const A6XX_CP_RB_BASE_HI = 0x0801;
export const A6XX_CP_RB_CNTL = 0x0802;
export const A6XX_CP_RB_RPTR_ADDR = 0x0804;
export const A6XX_CP_RB_RPTR = 0x0806;
export const A6XX_CP_RB_WPTR = 0x0807;
export const A6XX_CP_SQE_CNTL = 0x0808;
export const A6XX_CP_HW_FAULT = 0x0821;
export const A6XX_CP_INTERRUPT_STATUS = 0x0823;
export const A6XX_CP_PROTECT_STATUS = 0x0824;
export const A6XX_CP_SQE_INSTR_BASE = 0x0830;
export const A6XX_CP_MISC_CNTL = 0x0840;
export const A6XX_CP_ADDR_MODE_CNTL = 0x0842;
export const A6XX_CP_PROTECT_CNTL = 0x084f;
export const A6XX_CP_SCRATCH_REG = (n: number): number => 0x0883 + n;
export const A6XX_CP_PERFCTR_CP_SEL = (n: number): number => 0x08d0 + n;
export const A6XX_CP_SQE_STAT_ADDR = 0x0908;
export const A6XX_CP_SQE_STAT_DATA = 0x0909;
export const A6XX_CP_IB1_BASE = 0x0928;
export const A6XX_CP_IB1_REM_SIZE = 0x092a;
export const A6XX_CP_IB2_BASE = 0x092b;
export const A6XX_CP_IB2_REM_SIZE = 0x092d;
export const A6XX_CP_ALWAYS_ON_COUNTER = 0x0980;
export const A6XX_CP_AHB_CNTL = 0x098d;
export const A6XX_VSC_ADDR_MODE_CNTL = 0x0c01;
/** UCHE_CLIENT_PF: which UCHE client a pagefault came from (read by the fault handler). */
export const A6XX_UCHE_CLIENT_PF = 0x0e19;

/** CP_INTERRUPT_STATUS bits. */
export const A6XX_CP_INT_CP_OPCODE_ERROR = 1 << 0;
export const A6XX_CP_INT_CP_UCODE_ERROR = 1 << 1;
export const A6XX_CP_INT_CP_HW_FAULT_ERROR = 1 << 2;
export const A6XX_CP_INT_CP_REGISTER_PROTECTION_ERROR = 1 << 4;
export const A6XX_CP_INT_CP_AHB_ERROR = 1 << 5;
export const A6XX_CP_INT_CP_VSD_PARITY_ERROR = 1 << 6;
export const A6XX_CP_INT_CP_ILLEGAL_INSTR_ERROR = 1 << 7;

/** CP_RB_CNTL fields: ring size and block size as log2 of their size in quadwords. */
export const AXXX_CP_RB_CNTL_BUFSZ = (log2qw: number): number => log2qw & 0x3f;
export const AXXX_CP_RB_CNTL_BLKSZ = (log2qw: number): number => (log2qw & 0x3f) << 8;
/** The CP does not write its read pointer back to memory (no RPTR shadow). */
export const AXXX_CP_RB_CNTL_NO_UPDATE = 0x0800_0000;

/** CP_SQE_CNTL: 1 starts the SQE (the CP's microcontroller); 3 halts it (recovery). */
export const A6XX_CP_SQE_CNTL_START = 1;
export const A6XX_CP_SQE_CNTL_HALT = 3;

// ---------------------------------------------------------------------------- GMU

export const A6XX_GMU_CM3_ITCM_START = 0x0c00;
export const A6XX_GMU_CM3_DTCM_START = 0x1c00;
export const A6XX_GMU_BOOT_SLUMBER_OPTION = 0x23f8;
export const A6XX_GMU_GX_VOTE_IDX = 0x23f9;
export const A6XX_GMU_MX_VOTE_IDX = 0x23fa;
export const A6XX_GMU_SYS_BUS_CONFIG = 0x4c0f;
export const A6XX_GMU_CM3_SYSRESET = 0x5000;
export const A6XX_GMU_CM3_BOOT_CONFIG = 0x5001;
export const A6XX_GMU_CM3_FW_INIT_RESULT = 0x501c;
export const A6XX_GMU_CX_GMU_POWER_COUNTER_ENABLE = 0x5040;
export const A6XX_GMU_CX_GMU_POWER_COUNTER_SELECT_0 = 0x5041;
export const A6XX_GMU_PWR_COL_INTER_FRAME_CTRL = 0x50c0;
export const A6XX_GMU_PWR_COL_INTER_FRAME_HYST = 0x50c1;
export const A6XX_GMU_PWR_COL_SPTPRAC_HYST = 0x50c2;
export const A6XX_GMU_SPTPRAC_PWR_CLK_STATUS = 0x50d0;
export const A6XX_GMU_RPMH_CTRL = 0x50e8;
export const A6XX_GPU_GMU_CX_GMU_RPMH_POWER_STATE = 0x50ec;
export const A6XX_GMU_HFI_CTRL_STATUS = 0x5180;
export const A6XX_GMU_HFI_VERSION_INFO = 0x5181;
export const A6XX_GMU_HFI_SFR_ADDR = 0x5182;
export const A6XX_GMU_HFI_QTBL_INFO = 0x5184;
export const A6XX_GMU_HFI_QTBL_ADDR = 0x5185;
export const A6XX_GMU_HFI_CTRL_INIT = 0x5186;
export const A6XX_GMU_GMU2HOST_INTR_SET = 0x5190;
export const A6XX_GMU_GMU2HOST_INTR_CLR = 0x5191;
export const A6XX_GMU_GMU2HOST_INTR_INFO = 0x5192;
export const A6XX_GMU_GMU2HOST_INTR_MASK = 0x5193;
export const A6XX_GMU_HOST2GMU_INTR_SET = 0x5194;
export const A6XX_GMU_GENERAL_7 = 0x51cc;
export const A6XX_GMU_AO_HOST_INTERRUPT_CLR = 0x9304;
export const A6XX_GMU_AO_HOST_INTERRUPT_STATUS = 0x9305;
export const A6XX_GMU_AO_HOST_INTERRUPT_MASK = 0x9306;
export const A6XX_GMU_RSCC_CONTROL_REQ = 0x9307;
export const A6XX_GMU_RSCC_CONTROL_ACK = 0x9308;
export const A6XX_GPU_GMU_AO_GPU_CX_BUSY_STATUS = 0x930c;
export const A6XX_GPU_GMU_AO_GPU_CX_BUSY_MASK = 0x930e;
export const A6XX_GMU_AO_AHB_FENCE_CTRL = 0x9310;
export const A6XX_GMU_AHB_FENCE_RANGE_0 = 0x9311;

/** GMU2HOST_INTR_INFO bits besides the OOB acks. */
export const A6XX_GMU_GMU2HOST_INTR_INFO_MSGQ = 1 << 0;
export const A6XX_GMU_GMU2HOST_INTR_INFO_CM3_FAULT = 1 << 23;
/** GMU_AO_HOST_INTERRUPT_STATUS bits. */
export const A6XX_GMU_AO_HOST_INTERRUPT_STATUS_WDOG_BITE = 1 << 0;
export const A6XX_GMU_AO_HOST_INTERRUPT_STATUS_HOST_AHB_BUS_ERROR = 1 << 5;
export const A6XX_GMU_AO_HOST_INTERRUPT_STATUS_FENCE_ERR = 1 << 3;
/** GPU_CX_BUSY_STATUS: the GPU is busy (ignoring AHB accesses). */
export const A6XX_GPU_GMU_AO_GPU_CX_BUSY_STATUS_GPUBUSYIGNAHB = 1 << 23;
/** GMU_RPMH_CTRL enables. */
export const A6XX_GMU_RPMH_CTRL_RPMH_INTERFACE_ENABLE = 1 << 0;
export const A6XX_GMU_RPMH_CTRL_LLC_VOTE_ENABLE = 1 << 4;
export const A6XX_GMU_RPMH_CTRL_DDR_VOTE_ENABLE = 1 << 8;
export const A6XX_GMU_RPMH_CTRL_MX_VOTE_ENABLE = 1 << 9;
export const A6XX_GMU_RPMH_CTRL_CX_VOTE_ENABLE = 1 << 10;
export const A6XX_GMU_RPMH_CTRL_GFX_VOTE_ENABLE = 1 << 11;

/**
 * Out-of-band requests to the GMU: the request bit the host sets in HOST2GMU_INTR_SET, the
 * bit the GMU acknowledges in GMU2HOST_INTR_INFO, and the bit the host sets in
 * HOST2GMU_INTR_SET to withdraw the request. A "legacy" GMU (the a630 family's firmware, HFI
 * v1) uses the first set; later GMUs (a640 on) use the `*New` bits and have no BOOT_SLUMBER
 * or DCVS request at all.
 */
export interface GmuOob {
  readonly name: string;
  readonly request: number;
  readonly ack: number;
  readonly clear: number;
  readonly requestNew?: number;
  readonly ackNew?: number;
  readonly clearNew?: number;
}
export const GMU_OOB = {
  BOOT_SLUMBER: { name: 'BOOT_SLUMBER', request: 22, ack: 30, clear: 30 },
  GPU_SET: { name: 'GPU_SET', request: 16, ack: 24, clear: 24, requestNew: 30, ackNew: 31, clearNew: 31 },
  DCVS_SET: { name: 'GPU_DCVS', request: 23, ack: 31, clear: 31 },
} as const satisfies Record<string, GmuOob>;

/** CM3 firmware "boot done" value in FW_INIT_RESULT, for firmware versions up to 0x20010004. */
export const GMU_FW_INIT_DONE_LEGACY = 0xbabe_face;
/** ... and for later versions (masked with 0x1ff). */
export const GMU_FW_INIT_DONE = 0x100;

// ---------------------------------------------------------------------------- PM4

export const CP_TYPE4_PKT = 0x4000_0000;
export const CP_TYPE7_PKT = 0x7000_0000;

/** Type-7 opcodes. */
export const CP_NOP = 0x10;
export const CP_WAIT_FOR_IDLE = 0x26;
export const CP_WAIT_REG_MEM = 0x3c;
export const CP_MEM_WRITE = 0x3d;
export const CP_REG_TO_MEM = 0x3e;
export const CP_INDIRECT_BUFFER_PFE = 0x3f;
export const CP_EVENT_WRITE = 0x46;
export const CP_ME_INIT = 0x48;
export const CP_SMMU_TABLE_UPDATE = 0x53;
export const CP_SET_PROTECTED_MODE = 0x5f;
export const CP_SET_SECURE_MODE = 0x66;
export const CP_MEM_TO_MEM = 0x73;

/** Event types written by CP_EVENT_WRITE (vgt_event_type). */
export const CACHE_FLUSH_TS = 4;
export const PC_CCU_INVALIDATE_DEPTH = 24;
export const PC_CCU_INVALIDATE_COLOR = 25;
export const CACHE_INVALIDATE = 0x31;
/** CP_EVENT_WRITE dword 0: raise the CACHE_FLUSH_TS interrupt once the timestamp is written. */
export const CP_EVENT_WRITE_0_IRQ = 0x8000_0000;

/** CP_REG_TO_MEM dword 0: register, count, 64-bit destination. */
export const CP_REG_TO_MEM_0_REG = (reg: number): number => reg & 0x3ffff;
export const CP_REG_TO_MEM_0_CNT = (n: number): number => (n & 0xfff) << 18;
export const CP_REG_TO_MEM_0_64B = 1 << 30;

/** CP_SMMU_TABLE_UPDATE dword 1: TTBR0[47:32] and the ASID. */
export const CP_SMMU_TABLE_UPDATE_1_TTBR0_HI = (hi: number): number => hi & 0xffff;
export const CP_SMMU_TABLE_UPDATE_1_ASID = (asid: number): number => ((asid & 0xffff) << 16) >>> 0;
export const CP_SMMU_TABLE_UPDATE_3_CONTEXTBANK = (cb: number): number => cb & 0x1f;

/** Type-4 packets carry at most this many register values. */
export const TYPE4_MAX_PAYLOAD = 127;

/**
 * The odd-parity bit of a 32-bit value as PM4 headers use it: 1 when the value has an even
 * number of set bits (so that value plus bit hold an odd count).
 */
export function pm4Parity(v: number): number {
  let x = v >>> 0;
  x ^= x >>> 16;
  x ^= x >>> 8;
  x ^= x >>> 4;
  x &= 0xf;
  // bits set in the folded nibble
  const ones = (x & 1) + ((x >>> 1) & 1) + ((x >>> 2) & 1) + ((x >>> 3) & 1);
  return ones & 1 ? 0 : 1;
}

/** A type-4 header: write `cnt` consecutive registers from `reg`. */
export function pkt4(reg: number, cnt: number): number {
  return (CP_TYPE4_PKT | (cnt & 0x7f) | (pm4Parity(cnt) << 7) | ((reg & 0x3ffff) << 8) | (pm4Parity(reg) << 27)) >>> 0;
}

/** A type-7 header: `opcode` with `cnt` payload dwords. */
export function pkt7(opcode: number, cnt: number): number {
  return (CP_TYPE7_PKT | (cnt & 0x7fff) | (pm4Parity(cnt) << 15) | ((opcode & 0x7f) << 16) | (pm4Parity(opcode) << 23)) >>> 0;
}

/** FSR bits the fault report classifies (ARM SMMU context-bank FSR). */
export const ARM_SMMU_FSR_TF = 1 << 1;
export const ARM_SMMU_FSR_PF = 1 << 3;
export const ARM_SMMU_FSR_EF = 1 << 4;

// ---------------------------------------------------------------------------- a7xx (gen7)
// What msm programs differently on a730/a740/a750, from the a7xx variants of a6xx.xml,
// a6xx_gmu.xml and adreno_pm4.xml (word offsets, as above).

export const A6XX_RBBM_GBIF_CLIENT_QOS_CNTL = 0x0011;
/** RBBM_PERFCTR_CP_n on a7xx: counter n at 0x300 + 2n. */
export const A7XX_RBBM_PERFCTR_CP = (n: number): number => 0x0300 + 2 * n;
export const A6XX_RBBM_PERFCTR_SRAM_INIT_CMD = 0x050e;
export const A6XX_RBBM_PERFCTR_SRAM_INIT_STATUS = 0x050f;
export const A6XX_CP_RB_RPTR_ADDR_HI = 0x0805;
export const A6XX_CP_APRIV_CNTL = 0x0844;
export const A7XX_CP_BV_PROTECT_STATUS = 0x0a61;
export const A7XX_CP_BV_HW_FAULT = 0x0a64;
export const A7XX_CP_BV_SQE_STAT_ADDR = 0x0a87;
export const A7XX_CP_BV_SQE_STAT_DATA = 0x0a88;
export const A7XX_CP_BV_RB_RPTR_ADDR = 0x0a98;
export const A7XX_CP_BV_APRIV_CNTL = 0x0ad0;
export const A7XX_CP_LPAC_APRIV_CNTL = 0x0b31;
export const A6XX_UCHE_GBIF_GX_CONFIG = 0x0e3a;

/** RBBM_INT_0 bits a7xx enables besides the a6xx ones. */
export const A6XX_RBBM_INT_0_MASK_RBBM_GPC_ERROR = 1 << 7;
export const A6XX_RBBM_INT_0_MASK_CP_SW = 1 << 8;
/** Bit 15 is CP_RB on a6xx, PM4CPINTERRUPT on a7xx. */
export const A6XX_RBBM_INT_0_MASK_PM4CPINTERRUPT = 1 << 15;
export const A6XX_RBBM_INT_0_MASK_CP_RB_DONE_TS = 1 << 17;
export const A6XX_RBBM_INT_0_MASK_TSBWRITEERROR = 1 << 28;
export const A6XX_RBBM_INT_0_MASK_SWFUSEVIOLATION = 1 << 29;

/** The interrupts a7xx enables (A7XX_INT_MASK). */
export const A7XX_INT_MASK =
  (A6XX_RBBM_INT_0_MASK_CP_AHB_ERROR |
    A6XX_RBBM_INT_0_MASK_RBBM_ATB_ASYNCFIFO_OVERFLOW |
    A6XX_RBBM_INT_0_MASK_RBBM_GPC_ERROR |
    A6XX_RBBM_INT_0_MASK_CP_SW |
    A6XX_RBBM_INT_0_MASK_CP_HW_ERROR |
    A6XX_RBBM_INT_0_MASK_PM4CPINTERRUPT |
    A6XX_RBBM_INT_0_MASK_CP_RB_DONE_TS |
    A6XX_RBBM_INT_0_MASK_CP_CACHE_FLUSH_TS |
    A6XX_RBBM_INT_0_MASK_RBBM_ATB_BUS_OVERFLOW |
    A6XX_RBBM_INT_0_MASK_RBBM_HANG_DETECT |
    A6XX_RBBM_INT_0_MASK_UCHE_OOB_ACCESS |
    A6XX_RBBM_INT_0_MASK_UCHE_TRAP_INTR |
    A6XX_RBBM_INT_0_MASK_TSBWRITEERROR |
    A6XX_RBBM_INT_0_MASK_SWFUSEVIOLATION) >>>
  0;

/** CP_APRIV_CNTL bits: which CP transactions are privileged by default. */
export const A6XX_CP_APRIV_CNTL_ICACHE = 1 << 0;
export const A6XX_CP_APRIV_CNTL_RBFETCH = 1 << 1;
export const A6XX_CP_APRIV_CNTL_RBPRIVLEVEL = 1 << 2;
export const A6XX_CP_APRIV_CNTL_RBRPWB = 1 << 3;
export const A6XX_CP_APRIV_CNTL_CDREAD = 1 << 5;
export const A6XX_CP_APRIV_CNTL_CDWRITE = 1 << 6;
export const A7XX_APRIV_MASK = A6XX_CP_APRIV_CNTL_ICACHE | A6XX_CP_APRIV_CNTL_RBFETCH | A6XX_CP_APRIV_CNTL_RBPRIVLEVEL | A6XX_CP_APRIV_CNTL_RBRPWB;
export const A7XX_BR_APRIVMASK = A7XX_APRIV_MASK | A6XX_CP_APRIV_CNTL_CDREAD | A6XX_CP_APRIV_CNTL_CDWRITE;

/** CP_INTERRUPT_STATUS bits of the BV thread (a7xx). */
export const A7XX_CP_INT_CP_OPCODE_ERROR_BV = 1 << 13;
export const A7XX_CP_INT_CP_UCODE_ERROR_BV = 1 << 14;
export const A7XX_CP_INT_CP_HW_FAULT_ERROR_BV = 1 << 15;
export const A7XX_CP_INT_CP_REGISTER_PROTECTION_ERROR_BV = 1 << 16;
export const A7XX_CP_INT_CP_ILLEGAL_INSTR_ERROR_BV = 1 << 17;

/** a7xx GMU registers (window-relative words): the GMU firmware's log, its write index, the chip id. */
export const A6XX_GMU_CX_GMU_POWER_COUNTER_SELECT_1 = 0x5042;
export const A7XX_GMU_GENERAL_8 = 0x51cd;
export const A7XX_GMU_GENERAL_9 = 0x51ce;
export const A7XX_GMU_GENERAL_10 = 0x51cf;

/** a7xx type-7 opcodes and fields. */
export const CP_WAIT_TIMESTAMP = 0x14;
export const CP_THREAD_CONTROL = 0x17;
export const CP_SET_MARKER = 0x65;
export const CP_SET_THREAD_BR = 1;
export const CP_SET_THREAD_BV = 2;
export const CP_SET_THREAD_BOTH = 3;
export const CP_THREAD_CONTROL_0_CONCURRENT_BIN_DISABLE = 1 << 27;
export const CP_THREAD_CONTROL_0_SYNC_THREADS = 0x8000_0000;
/** a7xx event numbers (vgt_event_type, A7XX variants). */
export const CCU_INVALIDATE_DEPTH = 24;
export const CCU_INVALIDATE_COLOR = 25;
export const CACHE_CLEAN = 0x31;
/** CP_EVENT_WRITE7 dword 0: WRITE_ENABLED (write the payload to the address). */
export const CP_EVENT_WRITE7_0_WRITE_ENABLED = 1 << 27;
/** CP_WAIT_REG_MEM dword 0: the compare function (WRITE_EQ). */
export const WRITE_EQ = 3;
