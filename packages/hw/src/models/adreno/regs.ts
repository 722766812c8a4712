/**
 * The Adreno a6xx register interface and PM4 packet formats the model implements, as the
 * freedreno register database (a6xx.xml, a6xx_gmu.xml, adreno_pm4.xml, adreno_common.xml)
 * documents them. Register offsets are in 32-bit words from the start of the block, as in
 * that database; the byte offset on the bus is 4x (`a6xxRegOffset`).
 *
 * These are the model's own definitions. A driver keeps its own header, as a real one does.
 */

/** Byte offset on the bus of register `reg` (a word offset). */
export function a6xxRegOffset(reg: number): number {
  return reg * 4;
}

// =============================================================================================
// GPU ("kgsl_3d0_reg_memory") registers, word offsets

export const A6XX_RBBM_VBIF_CLIENT_QOS_CNTL = 0x0010;
export const A6XX_RBBM_GBIF_CLIENT_QOS_CNTL = 0x0011;
export const A6XX_RBBM_GBIF_HALT = 0x0016;
export const A6XX_RBBM_GBIF_HALT_ACK = 0x0017;
export const A6XX_RBBM_GPR0_CNTL = 0x0018;
export const A6XX_RBBM_INTERFACE_HANG_INT_CNTL = 0x001f;
export const A6XX_RBBM_INT_CLEAR_CMD = 0x0037;
export const A6XX_RBBM_INT_0_MASK = 0x0038;
export const A6XX_RBBM_SW_RESET_CMD = 0x0043;
export const A6XX_RBBM_BLOCK_SW_RESET_CMD = 0x0045;
export const A6XX_RBBM_BLOCK_SW_RESET_CMD2 = 0x0046;
export const A6XX_RBBM_CLOCK_CNTL = 0x00ae;
export const A6XX_RBBM_INT_0_STATUS = 0x0201;
export const A6XX_RBBM_STATUS = 0x0210;
export const A6XX_RBBM_STATUS1 = 0x0211;
export const A6XX_RBBM_STATUS2 = 0x0212;
export const A6XX_RBBM_STATUS3 = 0x0213;
/** RBBM_PERFCTR_CP(n): 64-bit counters at 0x400 + 2n. Counter 0 counts CP cycles in the model. */
export const A6XX_RBBM_PERFCTR_CP_0 = 0x0400;
export const A6XX_RBBM_PERFCTR_CNTL = 0x0500;
export const A6XX_RBBM_PERFCTR_SRAM_INIT_CMD = 0x050e;
export const A6XX_RBBM_PERFCTR_SRAM_INIT_STATUS = 0x050f;
export const A6XX_RBBM_SECVID_TRUST_CNTL = 0xf400;

export const A6XX_CP_RB_BASE = 0x0800;
export const A6XX_CP_RB_BASE_HI = 0x0801;
export const A6XX_CP_RB_CNTL = 0x0802;
export const A6XX_CP_RB_RPTR_ADDR = 0x0804;
export const A6XX_CP_RB_RPTR_ADDR_HI = 0x0805;
export const A6XX_CP_RB_RPTR = 0x0806;
export const A6XX_CP_RB_WPTR = 0x0807;
export const A6XX_CP_SQE_CNTL = 0x0808;
export const A6XX_CP_CP2GMU_STATUS = 0x0812;
export const A6XX_CP_HW_FAULT = 0x0821;
export const A6XX_CP_INTERRUPT_STATUS = 0x0823;
export const A6XX_CP_PROTECT_STATUS = 0x0824;
export const A6XX_CP_STATUS_1 = 0x0825;
export const A6XX_CP_SQE_INSTR_BASE = 0x0830;
export const A6XX_CP_SQE_INSTR_BASE_HI = 0x0831;
export const A6XX_CP_MISC_CNTL = 0x0840;
export const A6XX_CP_CHICKEN_DBG = 0x0841;
export const A6XX_CP_ADDR_MODE_CNTL = 0x0842;
export const A6XX_CP_APRIV_CNTL = 0x0844;
export const A6XX_CP_PROTECT_CNTL = 0x084f;
/** CP_PROTECT(n), n = 0..31. */
export const A6XX_CP_PROTECT_0 = 0x0850;
export const A6XX_CP_PROTECT_COUNT = 32;
/** CP_SCRATCH_REG(n), n = 0..7. */
export const A6XX_CP_SCRATCH_REG_0 = 0x0883;
export const A6XX_CP_SCRATCH_COUNT = 8;
export const A6XX_CP_SQE_STAT_ADDR = 0x0908;
export const A6XX_CP_SQE_STAT_DATA = 0x0909;
export const A6XX_CP_IB1_BASE = 0x0928;
export const A6XX_CP_IB1_BASE_HI = 0x0929;
export const A6XX_CP_IB1_REM_SIZE = 0x092a;
export const A6XX_CP_IB2_BASE = 0x092b;
export const A6XX_CP_IB2_BASE_HI = 0x092c;
export const A6XX_CP_IB2_REM_SIZE = 0x092d;
export const A6XX_CP_ALWAYS_ON_COUNTER = 0x0980;
export const A6XX_CP_ALWAYS_ON_COUNTER_HI = 0x0981;
export const A6XX_CP_AHB_CNTL = 0x098d;
export const A6XX_VBIF_XIN_HALT_CTRL0 = 0x3080;
export const A6XX_VBIF_XIN_HALT_CTRL1 = 0x3081;
export const A6XX_GBIF_HALT = 0x3c45;
export const A6XX_GBIF_HALT_ACK = 0x3c46;

/** Registers of the GPU block (kgsl_3d0_reg_memory is 0x40000 bytes on sdm845). */
export const A6XX_GPU_REG_WORDS = 0x10000;

// ---- RBBM_INT_0 bits (RBBM_INT_0_MASK / _STATUS / RBBM_INT_CLEAR_CMD) ----
export const A6XX_INT_RBBM_GPU_IDLE = 1 << 0;
export const A6XX_INT_CP_AHB_ERROR = 1 << 1;
export const A6XX_INT_RBBM_ATB_ASYNCFIFO_OVERFLOW = 1 << 6;
export const A6XX_INT_RBBM_GPC_ERROR = 1 << 7;
export const A6XX_INT_CP_SW = 1 << 8;
export const A6XX_INT_CP_HW_ERROR = 1 << 9;
export const A6XX_INT_CP_CCU_FLUSH_DEPTH_TS = 1 << 10;
export const A6XX_INT_CP_CCU_FLUSH_COLOR_TS = 1 << 11;
export const A6XX_INT_CP_CCU_RESOLVE_TS = 1 << 12;
export const A6XX_INT_CP_IB2 = 1 << 13;
export const A6XX_INT_CP_IB1 = 1 << 14;
export const A6XX_INT_CP_RB = 1 << 15;
export const A6XX_INT_CP_RB_DONE_TS = 1 << 17;
export const A6XX_INT_CP_WT_DONE_TS = 1 << 18;
export const A6XX_INT_CP_CACHE_FLUSH_TS = 1 << 20;
export const A6XX_INT_RBBM_ATB_BUS_OVERFLOW = 1 << 22;
export const A6XX_INT_RBBM_HANG_DETECT = 1 << 23;
export const A6XX_INT_UCHE_OOB_ACCESS = 1 << 24;
export const A6XX_INT_UCHE_TRAP_INTR = 1 << 25;

// ---- CP_INTERRUPT_STATUS bits ----
export const A6XX_CP_INT_OPCODE_ERROR = 1 << 0;
export const A6XX_CP_INT_UCODE_ERROR = 1 << 1;
export const A6XX_CP_INT_HW_FAULT_ERROR = 1 << 2;
export const A6XX_CP_INT_REGISTER_PROTECTION_ERROR = 1 << 4;
export const A6XX_CP_INT_AHB_ERROR = 1 << 5;
export const A6XX_CP_INT_VSD_PARITY_ERROR = 1 << 6;
export const A6XX_CP_INT_ILLEGAL_INSTR_ERROR = 1 << 7;

// ---- RBBM_STATUS / RBBM_STATUS3 bits ----
export const A6XX_RBBM_STATUS_CP_AHB_BUSY_CX_MASTER = 1 << 0;
export const A6XX_RBBM_STATUS_CP_BUSY = 1 << 2;
export const A6XX_RBBM_STATUS_GPU_BUSY_IGN_AHB_CP = 1 << 22;
export const A6XX_RBBM_STATUS_GPU_BUSY_IGN_AHB = 1 << 23;
export const A6XX_RBBM_STATUS3_SMMU_STALLED_ON_FAULT = 1 << 24;

// ---- CP_RB_CNTL (adreno_common.xml AXXX_CP_RB_CNTL) ----
/** BUFSZ [5:0]: ring size is 2^(BUFSZ + 1) 32-bit words (= 8 << BUFSZ bytes). */
export const AXXX_CP_RB_CNTL_BUFSZ_MASK = 0x3f;
export const AXXX_CP_RB_CNTL_BLKSZ_SHIFT = 8;
export const AXXX_CP_RB_CNTL_BLKSZ_MASK = 0x3f00;
/** Do not write the read pointer to CP_RB_RPTR_ADDR. */
export const AXXX_CP_RB_CNTL_NO_UPDATE = 1 << 27;
export const AXXX_CP_RB_CNTL_RPTR_WR_ENA = 1 << 31;

// ---- CP_PROTECT_CNTL / CP_PROTECT(n) ----
export const A6XX_CP_PROTECT_CNTL_ACCESS_PROT_EN = 1 << 0;
export const A6XX_CP_PROTECT_CNTL_ACCESS_FAULT_ON_VIOL_EN = 1 << 1;
export const A6XX_CP_PROTECT_CNTL_LAST_SPAN_INF_RANGE = 1 << 3;
/** CP_PROTECT(n): BASE [17:0], LEN [30:18] (the span is BASE..BASE+LEN), READ [31] (reads are protected too). */
export const A6XX_CP_PROTECT_BASE_MASK = 0x3ffff;
export const A6XX_CP_PROTECT_LEN_SHIFT = 18;
export const A6XX_CP_PROTECT_LEN_MASK = 0x1fff;
export const A6XX_CP_PROTECT_READ = 1 << 31;
/** CP_PROTECT_STATUS: the register [17:0], set with READ [20] for a read that faulted. */
export const A6XX_CP_PROTECT_STATUS_READ = 1 << 20;

/**
 * CP_HW_FAULT values the model reports with CP_INTERRUPT_STATUS.HW_FAULT_ERROR. The encoding
 * of this status is not documented publicly; these values are the model's own.
 */
export const A6XX_CP_HW_FAULT_IB_NESTING = 0x1;
export const A6XX_CP_HW_FAULT_SMMU_SYNC_TIMEOUT = 0x2;
export const A6XX_CP_HW_FAULT_RB_SIZE = 0x3;

// =============================================================================================
// PM4 packets

/** Type-4 header: 0x4 in [31:28]; register in [26:8]; count in [6:0]; odd parity bits 7 and 27. */
export const CP_TYPE4_PKT = 0x40000000;
/** Type-7 header: 0x7 in [31:28]; opcode in [22:16]; count in [14:0]; odd parity bits 15 and 23. */
export const CP_TYPE7_PKT = 0x70000000;

/**
 * The parity bit the PM4 headers carry for a field: 1 when the field has an even number of
 * set bits (so field + bit has odd parity).
 */
export function pm4Parity(v: number): number {
  let x = v >>> 0;
  x ^= x >>> 16;
  x ^= x >>> 8;
  x ^= x >>> 4;
  return (0x9669 >>> (x & 0xf)) & 1;
}

/** A type-4 header writing `count` (1..127) consecutive registers from `reg`. */
export function pm4Type4(reg: number, count: number): number {
  if (!Number.isInteger(reg) || reg < 0 || reg > 0x3ffff) throw new RangeError(`PM4 type-4 register 0x${reg.toString(16)} is outside 0..0x3ffff`);
  if (!Number.isInteger(count) || count < 0 || count > 127) throw new RangeError(`PM4 type-4 count ${count} is outside 0..127`);
  return (CP_TYPE4_PKT | count | (pm4Parity(count) << 7) | (reg << 8) | (pm4Parity(reg) << 27)) >>> 0;
}

/** A type-7 header of `opcode` (0..127) followed by `count` (0..0x3fff) payload words. */
export function pm4Type7(opcode: number, count: number): number {
  if (!Number.isInteger(opcode) || opcode < 0 || opcode > 0x7f) throw new RangeError(`PM4 type-7 opcode 0x${opcode.toString(16)} is outside 0..0x7f`);
  if (!Number.isInteger(count) || count < 0 || count > 0x3fff) throw new RangeError(`PM4 type-7 count ${count} is outside 0..0x3fff`);
  return (CP_TYPE7_PKT | count | (pm4Parity(count) << 15) | (opcode << 16) | (pm4Parity(opcode) << 23)) >>> 0;
}

// ---- type-7 opcodes (adreno_pm4.xml) the model executes ----
export const CP_NOP = 0x10;
export const CP_WAIT_MEM_WRITES = 0x12;
export const CP_WAIT_FOR_ME = 0x13;
export const CP_WAIT_MEM_GTE = 0x14;
export const CP_REG_RMW = 0x21;
export const CP_WAIT_FOR_IDLE = 0x26;
export const CP_WAIT_REG_MEM = 0x3c;
export const CP_MEM_WRITE = 0x3d;
export const CP_REG_TO_MEM = 0x3e;
export const CP_INDIRECT_BUFFER = 0x3f;
export const CP_INTERRUPT = 0x40;
export const CP_EVENT_WRITE = 0x46;
export const CP_ME_INIT = 0x48;
export const CP_SMMU_TABLE_UPDATE = 0x53;
export const CP_INDIRECT_BUFFER_CHAIN = 0x57;
export const CP_SET_PROTECTED_MODE = 0x5f;
export const CP_WHERE_AM_I = 0x62;
export const CP_SET_MARKER = 0x65;
export const CP_SET_SECURE_MODE = 0x66;
export const CP_REG_WRITE = 0x6d;
export const CP_MEM_TO_MEM = 0x73;
export const CP_MEMCPY = 0x75;

/**
 * Project-specific packets (not a6xx packets): opcodes 0x7a and 0x7b are unused by every
 * Adreno generation in the register database, so a stream that uses them is clearly a model
 * workload. Payloads:
 *   GKI_FILL     dst lo, dst hi, byte count, 32-bit pattern (little-endian, repeated)
 *   GKI_CHECKSUM src lo, src hi, byte count, dst lo, dst hi: FNV-1a 32-bit of the bytes,
 *                written as one 32-bit word at dst (4-byte aligned)
 */
export const CP_GKI_FILL = 0x7a;
export const CP_GKI_CHECKSUM = 0x7b;

/**
 * Other a6xx type-7 opcodes: accepted and skipped (payload consumed, no effect beyond what the
 * README lists). Draw, state-load and binning packets belong to the 3D pipeline the model does
 * not have; conditional-execution packets run their body unconditionally.
 */
export const A6XX_SKIPPED_OPCODES: readonly number[] = [
  0x11, 0x17, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x22, 0x23, 0x24, 0x25, 0x27, 0x28, 0x29, 0x2a, 0x2c, 0x2d, 0x2e,
  0x2f, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x3b, 0x41, 0x42, 0x43, 0x44, 0x45, 0x47, 0x49,
  0x4a, 0x4b, 0x4c, 0x4d, 0x4e, 0x4f, 0x50, 0x51, 0x52, 0x54, 0x55, 0x56, 0x58, 0x59, 0x5c, 0x5d, 0x5e, 0x63, 0x64, 0x69,
  0x6a, 0x6b, 0x6c, 0x6e, 0x6f, 0x70, 0x71, 0x72, 0x74, 0x78,
];

// ---- CP_EVENT_WRITE ----
export const CP_EVENT_WRITE_EVENT_MASK = 0xff;
/** Write the always-on timestamp (64 bits) instead of the packet's value. */
export const CP_EVENT_WRITE_TIMESTAMP = 1 << 30;
/** Raise the event's interrupt once done. */
export const CP_EVENT_WRITE_IRQ = 1 << 31;
/** vgt_event_type values with a timestamp write and an interrupt of their own. */
export const EV_CACHE_FLUSH_TS = 0x04;
export const EV_WT_DONE_TS = 0x08;
export const EV_RB_DONE_TS = 0x16;
export const EV_PC_CCU_RESOLVE_TS = 0x1a;
export const EV_PC_CCU_FLUSH_DEPTH_TS = 0x1c;
export const EV_PC_CCU_FLUSH_COLOR_TS = 0x1d;
export const EV_CACHE_INVALIDATE = 0x31;

// ---- CP_SMMU_TABLE_UPDATE payload ----
/** Word 1: TTBR0_HI [15:0], ASID [31:16]. */
export const CP_SMMU_TABLE_UPDATE_1_TTBR0_HI_MASK = 0xffff;
export const CP_SMMU_TABLE_UPDATE_1_ASID_SHIFT = 16;

// ---- CP_REG_TO_MEM / CP_MEM_TO_MEM / CP_WAIT_REG_MEM / CP_REG_RMW fields ----
export const CP_REG_TO_MEM_0_REG_MASK = 0x3ffff;
export const CP_REG_TO_MEM_0_CNT_SHIFT = 18;
export const CP_REG_TO_MEM_0_CNT_MASK = 0xfff;
export const CP_REG_TO_MEM_0_64B = 1 << 30;
export const CP_REG_TO_MEM_0_ACCUMULATE = 1 << 31;
export const CP_MEM_TO_MEM_0_NEG_A = 1 << 0;
export const CP_MEM_TO_MEM_0_NEG_B = 1 << 1;
export const CP_MEM_TO_MEM_0_NEG_C = 1 << 2;
export const CP_MEM_TO_MEM_0_DOUBLE = 1 << 29;
export const CP_WAIT_REG_MEM_0_FUNCTION_MASK = 0x7;
export const CP_WAIT_REG_MEM_0_SIGNED_COMPARE = 1 << 3;
export const CP_WAIT_REG_MEM_0_POLL_SHIFT = 4;
/** cp_cond_function */
export const WRITE_ALWAYS = 0;
export const WRITE_LT = 1;
export const WRITE_LE = 2;
export const WRITE_EQ = 3;
export const WRITE_NE = 4;
export const WRITE_GE = 5;
export const WRITE_GT = 6;
/** poll_memory_type */
export const POLL_REGISTER = 0;
export const POLL_MEMORY = 1;
export const CP_REG_RMW_0_DST_REG_MASK = 0x3ffff;
export const CP_REG_RMW_0_ROTATE_SHIFT = 24;
export const CP_REG_RMW_0_SRC1_ADD = 1 << 29;
export const CP_REG_RMW_0_SRC1_IS_REG = 1 << 30;
export const CP_REG_RMW_0_SRC0_IS_REG = 1 << 31;
export const CP_INDIRECT_BUFFER_2_IB_SIZE_MASK = 0xfffff;

// =============================================================================================
// GMU registers: word offsets from the GPU register base, as a6xx_gmu.xml numbers them. The
// GMU's own window (reg-name "gmu") starts at word 0x1a800 of that space, so the byte offset in
// the window is 4 * (reg - A6XX_GMU_BASE_WORD) (`a6xxGmuOffset`).

export const A6XX_GMU_BASE_WORD = 0x1a800;

/** Byte offset in the "gmu" window of GMU register `reg`. */
export function a6xxGmuOffset(reg: number): number {
  return (reg - A6XX_GMU_BASE_WORD) * 4;
}

export const A6XX_GPU_GMU_GX_SPTPRAC_CLOCK_CONTROL = 0x1a880;
export const A6XX_GMU_GX_SPTPRAC_POWER_CONTROL = 0x1a881;
export const A6XX_GMU_CM3_ITCM_START = 0x1b400;
export const A6XX_GMU_CM3_DTCM_START = 0x1c400;
export const A6XX_GMU_NMI_CONTROL_STATUS = 0x1cbf0;
export const A6XX_GMU_BOOT_SLUMBER_OPTION = 0x1cbf8;
export const A6XX_GMU_GX_VOTE_IDX = 0x1cbf9;
export const A6XX_GMU_MX_VOTE_IDX = 0x1cbfa;
export const A6XX_GMU_DCVS_ACK_OPTION = 0x1cbfc;
export const A6XX_GMU_DCVS_PERF_SETTING = 0x1cbfd;
export const A6XX_GMU_DCVS_BW_SETTING = 0x1cbfe;
export const A6XX_GMU_DCVS_RETURN = 0x1cbff;
export const A6XX_GMU_CORE_FW_VERSION = 0x1d3f8;
export const A6XX_GMU_CM3_SYSRESET = 0x1f800;
export const A6XX_GMU_CM3_BOOT_CONFIG = 0x1f801;
export const A6XX_GMU_CM3_FW_BUSY = 0x1f81a;
export const A6XX_GMU_CM3_FW_INIT_RESULT = 0x1f81c;
export const A6XX_GMU_CX_GMU_POWER_COUNTER_ENABLE = 0x1f840;
export const A6XX_GMU_ALWAYS_ON_COUNTER_L = 0x1f888;
export const A6XX_GMU_ALWAYS_ON_COUNTER_H = 0x1f889;
export const A6XX_GMU_PWR_COL_INTER_FRAME_CTRL = 0x1f8c0;
export const A6XX_GMU_SPTPRAC_PWR_CLK_STATUS = 0x1f8d0;
export const A6XX_GMU_RPMH_CTRL = 0x1f8e8;
export const A6XX_GPU_GMU_CX_GMU_RPMH_POWER_STATE = 0x1f8ec;
export const A6XX_GMU_HFI_CTRL_STATUS = 0x1f980;
export const A6XX_GMU_HFI_VERSION_INFO = 0x1f981;
export const A6XX_GMU_HFI_SFR_ADDR = 0x1f982;
export const A6XX_GMU_HFI_MMAP_ADDR = 0x1f983;
export const A6XX_GMU_HFI_QTBL_INFO = 0x1f984;
export const A6XX_GMU_HFI_QTBL_ADDR = 0x1f985;
export const A6XX_GMU_HFI_CTRL_INIT = 0x1f986;
export const A6XX_GMU_GMU2HOST_INTR_SET = 0x1f990;
export const A6XX_GMU_GMU2HOST_INTR_CLR = 0x1f991;
export const A6XX_GMU_GMU2HOST_INTR_INFO = 0x1f992;
export const A6XX_GMU_GMU2HOST_INTR_MASK = 0x1f993;
export const A6XX_GMU_HOST2GMU_INTR_SET = 0x1f994;
export const A6XX_GMU_HOST2GMU_INTR_CLR = 0x1f995;
export const A6XX_GMU_HOST2GMU_INTR_RAW_INFO = 0x1f996;
export const A6XX_GMU_GENERAL_7 = 0x1f9cc;
export const A6XX_GMU_AO_INTERRUPT_EN = 0x23b03;
export const A6XX_GMU_AO_HOST_INTERRUPT_CLR = 0x23b04;
export const A6XX_GMU_AO_HOST_INTERRUPT_STATUS = 0x23b05;
export const A6XX_GMU_AO_HOST_INTERRUPT_MASK = 0x23b06;
export const A6XX_GMU_RSCC_CONTROL_REQ = 0x23b07;
export const A6XX_GMU_RSCC_CONTROL_ACK = 0x23b08;
export const A6XX_GPU_GMU_AO_GPU_CX_BUSY_STATUS = 0x23b0c;
export const A6XX_GPU_GMU_AO_GPU_CX_BUSY_STATUS2 = 0x23b0d;
export const A6XX_GMU_AO_AHB_FENCE_CTRL = 0x23b10;
export const A6XX_GMU_AHB_FENCE_STATUS = 0x23b13;
export const A6XX_GPU_CC_GX_GDSCR = 0x24403;

/** RSCC registers: word offsets from the RSCC block, which sits at byte 0x23000 of the "gmu" window on a630-family GMUs. */
export const A6XX_GMU_RSCC_OFFSET = 0x23000;
export const A6XX_GPU_RSCC_RSC_STATUS0_DRV0 = 0x0004;
export const A6XX_RSCC_SEQ_BUSY_DRV0 = 0x0101;
export const A6XX_RSCC_TCS0_DRV0_STATUS = 0x0346;
export const A6XX_RSCC_TCS1_DRV0_STATUS = 0x03ee;
export const A6XX_RSCC_TCS2_DRV0_STATUS = 0x0496;
export const A6XX_RSCC_TCS3_DRV0_STATUS = 0x053e;

/** GMU2HOST_INTR_INFO bits. */
export const A6XX_GMU_GMU2HOST_INTR_INFO_MSGQ = 1 << 0;
export const A6XX_GMU_GMU2HOST_INTR_INFO_CM3_FAULT = 1 << 23;
/** SPTPRAC_PWR_CLK_STATUS bits. */
export const A6XX_GMU_SPTPRAC_GDSC_POWER_OFF = 1 << 2;
export const A6XX_GMU_SPTPRAC_GDSC_POWER_ON = 1 << 3;
export const A6XX_GMU_SPTPRAC_GMU_UP_POWER_STATE = 1 << 5;
export const A6XX_GMU_SPTPRAC_GX_HM_GDSC_POWER_OFF = 1 << 6;
export const A6XX_GMU_SPTPRAC_GX_HM_CLK_OFF = 1 << 7;
/** GPU_CX_BUSY_STATUS bit 23. */
export const A6XX_GPU_GMU_AO_GPU_CX_BUSY_STATUS_GPUBUSYIGNAHB = 1 << 23;
/** Value the GMU firmware leaves in CM3_FW_INIT_RESULT once booted (a6xx firmware). */
export const A6XX_GMU_FW_INIT_DONE = 0xbabeface;
/** GPU_GMU_CX_GMU_RPMH_POWER_STATE once the GMU has put the GPU into slumber. */
export const A6XX_GMU_RPMH_POWER_STATE_SLUMBER = 0x0f;

// ---- HFI (a6xx_hfi.h layouts) ----
export const HFI_MSG_CMD = 0;
export const HFI_MSG_ACK = 1;
export const HFI_MSG_ACK_V1 = 2;
export const HFI_F2H_MSG_ACK = 126;
export const HFI_F2H_MSG_ERROR = 100;
export const HFI_H2F_MSG_INIT = 0;
export const HFI_H2F_MSG_FW_VERSION = 1;
export const HFI_H2F_MSG_BW_TABLE = 3;
export const HFI_H2F_MSG_PERF_TABLE = 4;
export const HFI_H2F_MSG_TEST = 5;
export const HFI_H2F_MSG_START = 10;
export const HFI_H2F_MSG_CORE_FW_START = 14;
export const HFI_H2F_MSG_GX_BW_PERF_VOTE = 30;
export const HFI_H2F_MSG_PREPARE_SLUMBER = 33;
/** A message header: id [7:0], size in words [15:8], type [19:16], sequence number [31:20]. */
export function hfiHeader(id: number, sizeWords: number, type: number, seqnum: number): number {
  return ((id & 0xff) | ((sizeWords & 0xff) << 8) | ((type & 0xf) << 16) | ((seqnum & 0xfff) << 20)) >>> 0;
}
/** Queue table header: version, size, qhdr0_offset (words), qhdr_size (words), num_queues, active_queues. */
export const HFI_QTBL_QHDR0_OFFSET = 2;
export const HFI_QTBL_QHDR_SIZE = 3;
export const HFI_QTBL_NUM_QUEUES = 4;
/** Queue header words. */
export const HFI_QHDR_STATUS = 0;
export const HFI_QHDR_IOVA = 1;
export const HFI_QHDR_TYPE = 2;
export const HFI_QHDR_SIZE = 3;
export const HFI_QHDR_DROPPED = 5;
export const HFI_QHDR_RX_REQUEST = 8;
export const HFI_QHDR_READ_INDEX = 10;
export const HFI_QHDR_WRITE_INDEX = 11;

// =============================================================================================
// Gen7 (a730, a740, a750): what differs from a6xx on the paths the model covers. Word offsets
// and fields from the register database's a7xx variants (a6xx.xml, a6xx_gmu.xml,
// adreno_pm4.xml).

/** RBBM_PERFCTR_CP(n) moved: 64-bit counters at 0x300 + 2n on gen7 (0x400 holds other counters). */
export const A7XX_RBBM_PERFCTR_CP_0 = 0x0300;
/** BV (visibility thread) copies of the CP status registers. */
export const A7XX_CP_BV_PROTECT_STATUS = 0x0a61;
export const A7XX_CP_BV_HW_FAULT = 0x0a64;
export const A7XX_CP_BV_SQE_STAT_ADDR = 0x0a87;
export const A7XX_CP_BV_SQE_STAT_DATA = 0x0a88;
/** The BV thread's read-pointer shadow address (64-bit, LO then HI). */
export const A7XX_CP_BV_RB_RPTR_ADDR = 0x0a98;
export const A7XX_CP_BV_APRIV_CNTL = 0x0ad0;
export const A7XX_CP_LPAC_APRIV_CNTL = 0x0b31;

/** Gen7 RBBM_INT_0 names for bits the a6xx names differently (same positions). */
export const A7XX_INT_CCU_CLEAN_DEPTH_TS = 1 << 10;
export const A7XX_INT_CCU_CLEAN_COLOR_TS = 1 << 11;
export const A7XX_INT_CCU_RESOLVE_CLEAN_TS = 1 << 12;
/** PM4CPINTERRUPT: CP_INTERRUPT from the command stream (bit 15, a6xx's CP_RB). */
export const A7XX_INT_PM4CPINTERRUPT = 1 << 15;
export const A7XX_INT_RB_DONE_TS = 1 << 17;
/** CACHE_CLEAN_TS: a CACHE_CLEAN (or CACHE_FLUSH_TS) event with IRQ completed (bit 20). */
export const A7XX_INT_CACHE_CLEAN_TS = 1 << 20;
export const A7XX_INT_TSBWRITEERROR = 1 << 28;
export const A7XX_INT_SWFUSEVIOLATION = 1 << 29;

/** Gen7 type-7 opcodes that reuse or add numbers. */
export const A7XX_CP_WAIT_TIMESTAMP = 0x14;
export const A7XX_CP_THREAD_CONTROL = 0x17;
export const A7XX_CP_RESET_CONTEXT_STATE = 0x1f;
/** Gen7 opcodes accepted and skipped (timestamps, resource lists, BV/BR counters, draw tables). */
export const A7XX_SKIPPED_OPCODES: readonly number[] = [0x15, 0x16, 0x18, 0x1b, 0x7f];

/** CP_THREAD_CONTROL dword 0: THREAD [1:0] (1 BR, 2 BV, 3 both), CONCURRENT_BIN_DISABLE [27], SYNC_THREADS [31]. */
export const A7XX_CP_THREAD_MASK = 0x3;
export const A7XX_CP_SET_THREAD_BR = 1;
export const A7XX_CP_SET_THREAD_BV = 2;
export const A7XX_CP_SET_THREAD_BOTH = 3;
export const A7XX_CP_THREAD_CONTROL_CONCURRENT_BIN_DISABLE = 1 << 27;
export const A7XX_CP_THREAD_CONTROL_SYNC_THREADS = 1 << 31;

/**
 * CP_EVENT_WRITE7 dword 0: EVENT [7:0], WRITE_SRC [22:20], WRITE_DST [24] (0 memory, 1
 * on-chip), WRITE_ENABLED [27], IRQ [31]; dwords 1-2 the address, 3-4 the payload.
 */
export const A7XX_CP_EVENT_WRITE7_WRITE_SRC_SHIFT = 20;
export const A7XX_CP_EVENT_WRITE7_WRITE_SRC_MASK = 0x7;
export const A7XX_CP_EVENT_WRITE7_WRITE_DST_ONCHIP = 1 << 24;
export const A7XX_CP_EVENT_WRITE7_WRITE_ENABLED = 1 << 27;
export const A7XX_CP_EVENT_WRITE7_IRQ = 1 << 31;
export const A7XX_EV_WRITE_USER_32B = 0;
export const A7XX_EV_WRITE_USER_64B = 1;
export const A7XX_EV_WRITE_TIMESTAMP_SUM = 2;
export const A7XX_EV_WRITE_ALWAYSON = 3;
export const A7XX_EV_WRITE_REGS_CONTENT = 4;
/** Gen7 event numbers with an interrupt of their own. */
export const A7XX_EV_CCU_RESOLVE_CLEAN = 0x1a;
export const A7XX_EV_CCU_CLEAN_DEPTH = 0x20;
export const A7XX_EV_CCU_CLEAN_COLOR = 0x21;
export const A7XX_EV_CACHE_CLEAN = 0x31;

/**
 * CP_WAIT_TIMESTAMP dword 0: WAIT_VALUE_SRC [1:0] (0: the 32-bit value at ADDR >= SRC_0,
 * signed; 1: the 64-bit value >= SRC_1:SRC_0, unsigned; 2: the on-chip timestamp sum),
 * WAIT_DST [4] (0 memory, 1 on-chip); dwords 1-2 ADDR, 3 SRC_0, 4 SRC_1.
 */
export const A7XX_TS_WAIT_GE_32B = 0;
export const A7XX_TS_WAIT_GE_64B = 1;
export const A7XX_TS_WAIT_GE_TIMESTAMP_SUM = 2;
export const A7XX_TS_WAIT_ONCHIP = 1 << 4;

/** GMU_GENERAL_8..10 (gen7): the log buffer, the log write index, the chip id for the firmware. */
export const A7XX_GMU_GENERAL_8 = 0x1f9cd;
export const A7XX_GMU_GENERAL_9 = 0x1f9ce;
export const A7XX_GMU_GENERAL_10 = 0x1f9cf;

// =============================================================================================
// Adreno a5xx (a505..a540): the register interface as the freedreno register database's
// a5xx.xml documents it. The PM4 packet formats are the a6xx ones above (type 4 and type 7);
// the RBBM_INT_0 and CP_INTERRUPT_STATUS bits the CP raises sit where the a6xx ones do.

export const A5XX_RBBM_INTERFACE_HANG_INT_CNTL = 0x002f;
export const A5XX_RBBM_INT_CLEAR_CMD = 0x0037;
export const A5XX_RBBM_INT_0_MASK = 0x0038;
export const A5XX_RBBM_SW_RESET_CMD = 0x0043;
export const A5XX_RBBM_BLOCK_SW_RESET_CMD = 0x0045;
export const A5XX_RBBM_CLOCK_CNTL = 0x0067;
export const A5XX_RBBM_AHB_CMD = 0x0096;
/** RBBM_PERFCTR_CP_0 (LO, HI): counts CP cycles; the model counts executed packets. */
export const A5XX_RBBM_PERFCTR_CP_0_LO = 0x03a0;
export const A5XX_RBBM_PERFCTR_CP_0_HI = 0x03a1;
export const A5XX_RBBM_ALWAYSON_COUNTER_LO = 0x04d2;
export const A5XX_RBBM_ALWAYSON_COUNTER_HI = 0x04d3;
export const A5XX_RBBM_INT_0_STATUS = 0x04e1;
export const A5XX_RBBM_AHB_ERROR_STATUS = 0x04f4;
export const A5XX_RBBM_STATUS = 0x04f5;
export const A5XX_RBBM_STATUS3 = 0x0530;
export const A5XX_RBBM_SECVID_TRUST_CNTL = 0xf400;

export const A5XX_CP_RB_BASE = 0x0800;
export const A5XX_CP_RB_BASE_HI = 0x0801;
export const A5XX_CP_RB_CNTL = 0x0802;
export const A5XX_CP_RB_RPTR_ADDR = 0x0804;
export const A5XX_CP_RB_RPTR_ADDR_HI = 0x0805;
export const A5XX_CP_RB_RPTR = 0x0806;
export const A5XX_CP_RB_WPTR = 0x0807;
/** The PFP's debug read-out: an index written to ADDR, then DATA reads walk the entries. */
export const A5XX_CP_PFP_STAT_ADDR = 0x0808;
export const A5XX_CP_PFP_STAT_DATA = 0x0809;
export const A5XX_CP_PFP_ME_CNTL = 0x0832;
export const A5XX_CP_PFP_INSTR_BASE_LO = 0x0835;
export const A5XX_CP_ME_INSTR_BASE_LO = 0x0838;
/** CP_PROTECT(n), n = 0..31, and the control word. */
export const A5XX_CP_PROTECT_0 = 0x0880;
export const A5XX_CP_PROTECT_COUNT = 32;
export const A5XX_CP_PROTECT_CNTL = 0x08a0;
export const A5XX_CP_INTERRUPT_STATUS = 0x0b18;
export const A5XX_CP_HW_FAULT = 0x0b1a;
export const A5XX_CP_AHB_FAULT = 0x0b1b;
export const A5XX_CP_PROTECT_STATUS = 0x0b1c;
export const A5XX_CP_IB1_BASE = 0x0b1f;
export const A5XX_CP_IB1_BASE_HI = 0x0b20;
export const A5XX_CP_IB1_BUFSZ = 0x0b21;
export const A5XX_CP_IB2_BASE = 0x0b22;
export const A5XX_CP_IB2_BASE_HI = 0x0b23;
export const A5XX_CP_IB2_BUFSZ = 0x0b24;
/** CP_SCRATCH(n), n = 0..7. */
export const A5XX_CP_SCRATCH_0 = 0x0b78;
export const A5XX_VBIF_XIN_HALT_CTRL0 = 0x3080;
export const A5XX_VBIF_XIN_HALT_CTRL1 = 0x3081;
/** The GPMU's power switches of the SP and RB/CCU domains (a530, a540) and their status. */
export const A5XX_GPMU_SP_POWER_CNTL = 0xa881;
export const A5XX_GPMU_RBCCU_POWER_CNTL = 0xa887;
export const A5XX_GPMU_SP_PWR_CLK_STATUS = 0xa88b;
export const A5XX_GPMU_RBCCU_PWR_CLK_STATUS = 0xa88d;

/** Registers of the a5xx GPU block (kgsl_3d0_reg_memory is 0x3f000 bytes on msm8996, 0x40000 on msm8998). */
export const A5XX_GPU_REG_WORDS = 0xfc00;

// ---- RBBM_INT_0 bits of a5xx that differ in name or exist only there ----
export const A5XX_INT_RBBM_AHB_ERROR = 1 << 1;
export const A5XX_INT_MISC_HANG_DETECT = 1 << 23;
export const A5XX_INT_GPMU_VOLTAGE_DROOP = 1 << 28;

// ---- RBBM_STATUS bits ----
export const A5XX_RBBM_STATUS_HI_BUSY = 1 << 0;
export const A5XX_RBBM_STATUS_CP_ME_BUSY = 1 << 1;
export const A5XX_RBBM_STATUS_CP_PFP_BUSY = 1 << 2;
export const A5XX_RBBM_STATUS_CP_BUSY = 1 << 6;
export const A5XX_RBBM_STATUS_GPU_BUSY_IGN_AHB_CP = 1 << 30;
export const A5XX_RBBM_STATUS_GPU_BUSY_IGN_AHB = 1 << 31;
export const A5XX_RBBM_STATUS3_SMMU_STALLED_ON_FAULT = 1 << 24;

// ---- CP_PFP_ME_CNTL: its value out of reset (the micro engine and the prefetch parser halted) ----
export const A5XX_CP_PFP_ME_CNTL_PFP_HALT = 1 << 26;
export const A5XX_CP_PFP_ME_CNTL_ME_HALT = 1 << 28;

// ---- CP_PROTECT(n) (adreno_cp_protect): a span of 2^MASK_LEN registers from BASE_ADDR ----
/** BASE_ADDR: the first register's byte address (register << 2). */
export const A5XX_CP_PROTECT_BASE_MASK = 0xfffff;
export const A5XX_CP_PROTECT_MASK_LEN_SHIFT = 24;
export const A5XX_CP_PROTECT_MASK_LEN_MASK = 0x1f;
export const A5XX_CP_PROTECT_TRAP_WRITE = 1 << 29;
export const A5XX_CP_PROTECT_TRAP_READ = 1 << 30;
/** CP_PROTECT_CNTL: protection on; a violation stops the CP. */
export const A5XX_CP_PROTECT_CNTL_ENABLE = 1 << 0;
export const A5XX_CP_PROTECT_CNTL_FAULT_ON_VIOL = 1 << 1;
/** CP_PROTECT_STATUS: the byte address [19:0] of the register, WRITE [24] for a write. */
export const A5XX_CP_PROTECT_STATUS_WRITE = 1 << 24;

/** Type-7 opcodes of a6xx and later that an a5xx CP does not have (an opcode error there). */
export const A5XX_MISSING_OPCODES: readonly number[] = [CP_WAIT_MEM_GTE, CP_SET_MARKER, CP_REG_WRITE, CP_MEMCPY];

// =============================================================================================
// a3xx and a4xx (a305..a330, a405..a430): the PM4 generation before type-4/type-7 packets

/**
 * Type-0 header: 0 in [31:30]; count - 1 in [29:16]; the first register in [14:0] (bit 15:
 * write every word to that one register).
 */
export const CP_TYPE0_PKT = 0x0000_0000;
/** Type-2 header: a one-word filler (0x8 in [31:28], nothing else). */
export const CP_TYPE2_PKT = 0x8000_0000;
/** Type-3 header: 3 in [31:30]; count - 1 in [29:16]; opcode in [15:8]; bit 0 predicates it. */
export const CP_TYPE3_PKT = 0xc000_0000;
export const CP_TYPE0_ONE_REG = 1 << 15;

/** A type-0 header writing `count` (1..0x4000) consecutive registers from `reg` (0..0x7fff). */
export function pm4Type0(reg: number, count: number): number {
  if (!Number.isInteger(reg) || reg < 0 || reg > 0x7fff) throw new RangeError(`PM4 type-0 register 0x${reg.toString(16)} is outside 0..0x7fff`);
  if (!Number.isInteger(count) || count < 1 || count > 0x4000) throw new RangeError(`PM4 type-0 count ${count} is outside 1..0x4000`);
  return (CP_TYPE0_PKT | ((count - 1) << 16) | reg) >>> 0;
}

/** A type-3 header of `opcode` (0..0xff) followed by `count` (1..0x4000) payload words. */
export function pm4Type3(opcode: number, count: number): number {
  if (!Number.isInteger(opcode) || opcode < 0 || opcode > 0xff) throw new RangeError(`PM4 type-3 opcode 0x${opcode.toString(16)} is outside 0..0xff`);
  if (!Number.isInteger(count) || count < 1 || count > 0x4000) throw new RangeError(`PM4 type-3 count ${count} is outside 1..0x4000`);
  return (CP_TYPE3_PKT | ((count - 1) << 16) | (opcode << 8)) >>> 0;
}

/** CP_INDIRECT_BUFFER_PFD: the pre-a5xx IB call through the prefetch parser (a3xx_submit's). */
export const CP_INDIRECT_BUFFER_PFD = 0x37;

/**
 * The register places the a3xx/a4xx model uses. The two generations share the CP's packet
 * set and the CP_PROTECT entry layout (that of a5xx: base byte address, 2^len registers,
 * trap bits 29/30) and the RBBM_INT_0 bit positions, but not the register offsets.
 */
export interface AdrenoLegacyRegs {
  readonly rbbmSwResetCmd: number;
  readonly rbbmIntClearCmd: number;
  readonly rbbmInt0Mask: number;
  readonly rbbmInt0Status: number;
  readonly rbbmStatus: number;
  readonly rbbmAhbErrorStatus: number;
  readonly cpRbBase: number;
  readonly cpRbCntl: number;
  readonly cpRbRptrAddr: number;
  readonly cpRbRptr: number;
  readonly cpRbWptr: number;
  readonly cpIb1Base: number;
  readonly cpIb1Bufsz: number;
  readonly cpIb2Base: number;
  readonly cpIb2Bufsz: number;
  readonly cpMeCntl: number;
  readonly cpMeRamWaddr: number;
  readonly cpMeRamData: number;
  readonly cpPfpUcodeAddr: number;
  readonly cpPfpUcodeData: number;
  readonly cpProtect0: number;
  readonly cpProtectCtrl: number;
  readonly cpProtectStatus: number;
  readonly cpHwFault: number;
  /** CP_SCRATCH_REG0 (the common AXXX place on both). */
  readonly cpScratch0: number;
  /** RBBM_PERFCTR_CP_0 LO/HI where the generation has it as a 64-bit counter (a4xx); -1: none modelled. */
  readonly perfctrCp0Lo: number;
  readonly perfctrCp0Hi: number;
}

export const A3XX_REGS: AdrenoLegacyRegs = {
  rbbmSwResetCmd: 0x0018,
  rbbmIntClearCmd: 0x0061,
  rbbmInt0Mask: 0x0063,
  rbbmInt0Status: 0x0064,
  rbbmStatus: 0x0030,
  rbbmAhbErrorStatus: 0x0027,
  cpRbBase: 0x01c0,
  cpRbCntl: 0x01c1,
  cpRbRptrAddr: 0x01c3,
  cpRbRptr: 0x01c4,
  cpRbWptr: 0x01c5,
  cpIb1Base: 0x0458,
  cpIb1Bufsz: 0x0459,
  cpIb2Base: 0x045a,
  cpIb2Bufsz: 0x045b,
  cpMeCntl: 0x01f6,
  cpMeRamWaddr: 0x01f8,
  cpMeRamData: 0x01fa,
  cpPfpUcodeAddr: 0x01c9,
  cpPfpUcodeData: 0x01ca,
  cpProtect0: 0x0460,
  cpProtectCtrl: 0x045e,
  cpProtectStatus: 0x045f,
  cpHwFault: 0x045c,
  cpScratch0: 0x0578,
  perfctrCp0Lo: -1,
  perfctrCp0Hi: -1,
};

export const A4XX_REGS: AdrenoLegacyRegs = {
  rbbmSwResetCmd: 0x0022,
  rbbmIntClearCmd: 0x0036,
  rbbmInt0Mask: 0x0037,
  rbbmInt0Status: 0x017d,
  rbbmStatus: 0x0191,
  rbbmAhbErrorStatus: 0x018f,
  cpRbBase: 0x0200,
  cpRbCntl: 0x0201,
  cpRbRptrAddr: 0x0203,
  cpRbRptr: 0x0204,
  cpRbWptr: 0x0205,
  cpIb1Base: 0x0206,
  cpIb1Bufsz: 0x0207,
  cpIb2Base: 0x0208,
  cpIb2Bufsz: 0x0209,
  cpMeCntl: 0x022d,
  cpMeRamWaddr: 0x0225,
  cpMeRamData: 0x0227,
  cpPfpUcodeAddr: 0x0223,
  cpPfpUcodeData: 0x0224,
  cpProtect0: 0x0240,
  cpProtectCtrl: 0x0250,
  cpProtectStatus: 0x04da,
  cpHwFault: 0x04d8,
  cpScratch0: 0x0578,
  perfctrCp0Lo: 0x009c,
  perfctrCp0Hi: 0x009d,
};

/** CP_PROTECT entries on a3xx/a4xx. */
export const AXXX_CP_PROTECT_COUNT = 16;
/** CP_ME_CNTL.HALT: the micro engine is stopped (its state out of reset). */
export const AXXX_CP_ME_CNTL_HALT = 1 << 28;

// ---- RBBM_INT_0 bits (the same positions on a3xx and a4xx) ----
export const A3XX_INT_CP_OPCODE_ERROR = 1 << 9;
export const A3XX_INT_CP_HW_FAULT = 1 << 11;
export const A3XX_INT_CP_REG_PROTECT_FAULT = 1 << 16;
export const A3XX_INT_CACHE_FLUSH_TS = 1 << 20;

// ---- RBBM_STATUS bits ----
export const A3XX_RBBM_STATUS_HI_BUSY = 1 << 0;
export const A3XX_RBBM_STATUS_CP_ME_BUSY = 1 << 1;
export const A3XX_RBBM_STATUS_CP_PFP_BUSY = 1 << 2;
export const A3XX_RBBM_STATUS_GPU_BUSY = 1 << 31;

/** Type-3 opcodes of a5xx and later that an a3xx/a4xx CP does not have (an opcode error there). */
export const AXXX_MISSING_OPCODES: readonly number[] = [
  CP_WAIT_MEM_GTE,
  CP_SET_MARKER,
  CP_REG_WRITE,
  CP_MEMCPY,
  CP_SMMU_TABLE_UPDATE,
  CP_INDIRECT_BUFFER_CHAIN,
  CP_WHERE_AM_I,
  CP_SET_SECURE_MODE,
  CP_WAIT_MEM_WRITES,
  CP_WAIT_FOR_ME,
];
