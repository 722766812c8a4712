/**
 * The driver's own register header for the Adreno a3xx GPU (a305..a330): register offsets in
 * 32-bit words as the kernel's generated a3xx.xml.h and adreno_common.xml.h give them, the
 * interrupt and status bits msm looks at, and the PM4 type-0/type-2/type-3 packet headers of
 * that generation (adreno_pm4.xml). Written from those public facts; the hardware model keeps
 * its own definitions.
 */

// ---------------------------------------------------------------------------- RBBM

export const A3XX_RBBM_CLOCK_CTL = 0x0010;
export const A3XX_RBBM_SP_HYST_CNT = 0x0012;
export const A3XX_RBBM_SW_RESET_CMD = 0x0018;
export const A3XX_RBBM_AHB_CTL0 = 0x0020;
export const A3XX_RBBM_AHB_CTL1 = 0x0021;
export const A3XX_RBBM_STATUS = 0x0030;
export const A3XX_RBBM_WAIT_IDLE_CLOCKS_CTL = 0x0033;
export const A3XX_RBBM_INTERFACE_HANG_INT_CTL = 0x0050;
export const A3XX_RBBM_INT_CLEAR_CMD = 0x0061;
export const A3XX_RBBM_INT_0_MASK = 0x0063;
export const A3XX_RBBM_INT_0_STATUS = 0x0064;
export const A3XX_RBBM_PERFCTR_CTL = 0x0080;
export const A3XX_RBBM_GPU_BUSY_MASKED = 0x0088;
export const A3XX_RBBM_RBBM_CTL = 0x0100;
export const A3XX_RBBM_GPR0_CTL = 0x002e;

/** RBBM_STATUS.GPU_BUSY. */
export const A3XX_RBBM_STATUS_GPU_BUSY = 0x8000_0000;

// RBBM_INT_0 bits (A3XX_INT0)
export const A3XX_INT0_RBBM_AHB_ERROR = 1 << 1;
export const A3XX_INT0_RBBM_ATB_BUS_OVERFLOW = 1 << 5;
export const A3XX_INT0_CP_T0_PACKET_IN_IB = 1 << 8;
export const A3XX_INT0_CP_OPCODE_ERROR = 1 << 9;
export const A3XX_INT0_CP_RESERVED_BIT_ERROR = 1 << 10;
export const A3XX_INT0_CP_HW_FAULT = 1 << 11;
export const A3XX_INT0_CP_IB2_INT = 1 << 13;
export const A3XX_INT0_CP_IB1_INT = 1 << 14;
export const A3XX_INT0_CP_RB_INT = 1 << 15;
export const A3XX_INT0_CP_REG_PROTECT_FAULT = 1 << 16;
export const A3XX_INT0_CACHE_FLUSH_TS = 1 << 20;
export const A3XX_INT0_CP_AHB_ERROR_HALT = 1 << 21;
export const A3XX_INT0_UCHE_OOB_ACCESS = 1 << 25;

/** The interrupts msm unmasks on a3xx (A3XX_INT0_MASK). */
export const A3XX_INT0_MASK = (A3XX_INT0_RBBM_AHB_ERROR |
  A3XX_INT0_RBBM_ATB_BUS_OVERFLOW |
  A3XX_INT0_CP_T0_PACKET_IN_IB |
  A3XX_INT0_CP_OPCODE_ERROR |
  A3XX_INT0_CP_RESERVED_BIT_ERROR |
  A3XX_INT0_CP_HW_FAULT |
  A3XX_INT0_CP_IB1_INT |
  A3XX_INT0_CP_IB2_INT |
  A3XX_INT0_CP_RB_INT |
  A3XX_INT0_CP_REG_PROTECT_FAULT |
  A3XX_INT0_CP_AHB_ERROR_HALT |
  A3XX_INT0_CACHE_FLUSH_TS |
  A3XX_INT0_UCHE_OOB_ACCESS) >>> 0;

// ---------------------------------------------------------------------------- CP (AXXX: common to a2xx..a4xx)

export const AXXX_CP_RB_BASE = 0x01c0;
export const AXXX_CP_RB_CNTL = 0x01c1;
export const AXXX_CP_RB_RPTR = 0x01c4;
export const AXXX_CP_RB_WPTR = 0x01c5;
export const AXXX_CP_QUEUE_THRESHOLDS = 0x01d5;
export const AXXX_CP_ME_CNTL = 0x01f6;
export const AXXX_CP_ME_RAM_WADDR = 0x01f8;
export const AXXX_CP_ME_RAM_DATA = 0x01fa;
export const AXXX_CP_DEBUG = 0x01fc;
/** CP_SCRATCH_REG0..7. */
export const AXXX_CP_SCRATCH_REG = (n: number): number => 0x0578 + n;

export const AXXX_CP_DEBUG_DYNAMIC_CLK_DISABLE = 1 << 27;
export const AXXX_CP_DEBUG_MIU_128BIT_WRITE_ENABLE = 1 << 25;
/** CP_QUEUE_THRESHOLDS fields: IB1 start [3:0], IB2 start [11:8], ST start [19:16]. */
export const AXXX_CP_QUEUE_THRESHOLDS_VALUE = (ib1: number, ib2: number, st: number): number => ((ib1 & 0xf) | ((ib2 & 0xf) << 8) | ((st & 0xf) << 16)) >>> 0;

export const A3XX_CP_PFP_UCODE_ADDR = 0x01c9;
export const A3XX_CP_PFP_UCODE_DATA = 0x01ca;
export const A3XX_CP_HW_FAULT = 0x045c;
export const A3XX_CP_PROTECT_CTRL = 0x045e;
export const A3XX_CP_PROTECT_STATUS = 0x045f;
/** CP_PROTECT(0..15). */
export const A3XX_CP_PROTECT = (n: number): number => 0x0460 + n;
export const A3XX_CP_IB1_BASE = 0x0458;
export const A3XX_CP_IB1_BUFSZ = 0x0459;

// ---------------------------------------------------------------------------- VBIF, UCHE

export const A3XX_VBIF_ROUND_ROBIN_QOS_ARB = 0x3049;
export const A3XX_VBIF_OUT_RD_LIM_CONF0 = 0x3034;
export const A3XX_VBIF_OUT_WR_LIM_CONF0 = 0x3035;
export const A3XX_UCHE_CACHE_MODE_CONTROL_REG = 0x0e82;

// ---------------------------------------------------------------------------- PM4 of this generation

/** Type-0: write `cnt` registers from `reg` (count - 1 in [29:16], the register in [15:0]). */
export function pkt0(reg: number, cnt: number): number {
  return ((((cnt - 1) & 0x3fff) << 16) | (reg & 0xffff)) >>> 0;
}

/** Type-2: a one-word filler. */
export const CP_TYPE2_PKT = 0x8000_0000;

/** Type-3: `opcode` with `cnt` payload words (count - 1 in [29:16], opcode in [15:8]). */
export function pkt3(opcode: number, cnt: number): number {
  return (0xc000_0000 | (((cnt - 1) & 0x3fff) << 16) | ((opcode & 0xff) << 8)) >>> 0;
}

/** CP_INDIRECT_BUFFER_PFD: the IB call a3xx_submit uses. */
export const CP_INDIRECT_BUFFER_PFD = 0x37;
/** The CP_EVENT_WRITE event that flushes the HLSQ's lazy state. */
export const HLSQ_FLUSH = 7;

// ---------------------------------------------------------------------------- a4xx (a4xx.xml)

export const A4XX_RBBM_SP_HYST_CNT = 0x0021;
export const A4XX_RBBM_SW_RESET_CMD = 0x0022;
export const A4XX_RBBM_AHB_CTL0 = 0x0023;
export const A4XX_RBBM_AHB_CTL1 = 0x0024;
export const A4XX_RBBM_WAIT_IDLE_CLOCKS_CTL = 0x002b;
export const A4XX_RBBM_INTERFACE_HANG_INT_CTL = 0x002f;
export const A4XX_RBBM_INT_CLEAR_CMD = 0x0036;
export const A4XX_RBBM_INT_0_MASK = 0x0037;
export const A4XX_RBBM_RBBM_CTL = 0x003e;
export const A4XX_RBBM_SP_REGFILE_SLEEP_CNTL_0 = 0x0099;
export const A4XX_RBBM_SP_REGFILE_SLEEP_CNTL_1 = 0x009a;
export const A4XX_RBBM_PERFCTR_CP_0_LO = 0x009c;
export const A4XX_RBBM_PERFCTR_CTL = 0x0170;
export const A4XX_RBBM_GPU_BUSY_MASKED = 0x017a;
export const A4XX_RBBM_INT_0_STATUS = 0x017d;
export const A4XX_RBBM_STATUS = 0x0191;
export const A4XX_RBBM_WAIT_IDLE_CLOCKS_CTL2 = 0x01b8;
/** RBBM_STATUS.GPU_BUSY (bit 31, as on a3xx). */
export const A4XX_RBBM_STATUS_GPU_BUSY = 0x8000_0000;

export const A4XX_CP_RB_BASE = 0x0200;
export const A4XX_CP_RB_CNTL = 0x0201;
export const A4XX_CP_RB_RPTR = 0x0204;
export const A4XX_CP_RB_WPTR = 0x0205;
export const A4XX_CP_PFP_UCODE_ADDR = 0x0223;
export const A4XX_CP_PFP_UCODE_DATA = 0x0224;
export const A4XX_CP_ME_RAM_WADDR = 0x0225;
export const A4XX_CP_ME_RAM_DATA = 0x0227;
export const A4XX_CP_ME_CNTL = 0x022d;
export const A4XX_CP_DEBUG = 0x022e;
/** CP_PROTECT(0..15). */
export const A4XX_CP_PROTECT = (n: number): number => 0x0240 + n;
export const A4XX_CP_PROTECT_CTRL = 0x0250;
export const A4XX_CP_PROTECT_STATUS = 0x04da;
export const A4XX_CP_PERFCTR_CP_SEL_0 = 0x0500;
export const A4XX_RB_GMEM_BASE_ADDR = 0x0cc0;
export const A4XX_UCHE_TRAP_BASE_LO = 0x0e83;
export const A4XX_UCHE_TRAP_BASE_HI = 0x0e84;
export const A4XX_UCHE_CACHE_WAYS_VFD = 0x0e8c;
export const A4XX_VBIF_ABIT_SORT = 0x301c;
export const A4XX_VBIF_ABIT_SORT_CONF = 0x301d;
export const A4XX_VBIF_GATE_OFF_WRREQ_EN = 0x302a;
export const A4XX_VBIF_IN_RD_LIM_CONF0 = 0x302c;
export const A4XX_VBIF_IN_RD_LIM_CONF1 = 0x302d;
export const A4XX_VBIF_IN_WR_LIM_CONF0 = 0x3030;
export const A4XX_VBIF_IN_WR_LIM_CONF1 = 0x3031;
export const A4XX_VBIF_ROUND_ROBIN_QOS_ARB = 0x3049;

/** A4XX_INT0: the same bit positions as a3xx's; msm unmasks the same set. */
export const A4XX_INT0_CP_REG_PROTECT_FAULT = 1 << 16;
export const A4XX_INT0_MASK = A3XX_INT0_MASK;
