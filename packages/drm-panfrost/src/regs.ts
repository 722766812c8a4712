/**
 * The Mali job-manager GPU's programming interface as panfrost uses it: register offsets inside
 * the GPU's one MMIO window, their bit fields and command values. This is the driver's own
 * header (facts from the Midgard/Bifrost register map that Linux's panfrost_regs.h also
 * records); it shares nothing with any device model. All registers are 32 bits wide; 64-bit
 * quantities are split into _LO / _HI words.
 */

// ---------------------------------------------------------------- GPU control block
export const GPU_ID = 0x000;
export const GPU_L2_FEATURES = 0x004;
export const GPU_CORE_FEATURES = 0x008;
export const GPU_TILER_FEATURES = 0x00c;
export const GPU_MEM_FEATURES = 0x010;
/** [7:0] virtual address bits, [15:8] physical address bits. */
export const GPU_MMU_FEATURES = 0x014;
export const GPU_AS_PRESENT = 0x018;
export const GPU_JS_PRESENT = 0x01c;

export const GPU_INT_RAWSTAT = 0x020;
export const GPU_INT_CLEAR = 0x024;
export const GPU_INT_MASK = 0x028;
export const GPU_INT_STAT = 0x02c;
export const GPU_IRQ_FAULT = 1 << 0;
export const GPU_IRQ_MULTIPLE_FAULT = 1 << 7;
export const GPU_IRQ_RESET_COMPLETED = 1 << 8;
export const GPU_IRQ_POWER_CHANGED = 1 << 9;
export const GPU_IRQ_POWER_CHANGED_ALL = 1 << 10;
export const GPU_IRQ_PERFCNT_SAMPLE_COMPLETED = 1 << 16;
export const GPU_IRQ_CLEAN_CACHES_COMPLETED = 1 << 17;
export const GPU_IRQ_MASK_ALL =
  GPU_IRQ_FAULT |
  GPU_IRQ_MULTIPLE_FAULT |
  GPU_IRQ_RESET_COMPLETED |
  GPU_IRQ_POWER_CHANGED |
  GPU_IRQ_POWER_CHANGED_ALL |
  GPU_IRQ_PERFCNT_SAMPLE_COMPLETED |
  GPU_IRQ_CLEAN_CACHES_COMPLETED;
export const GPU_IRQ_MASK_ERROR = GPU_IRQ_FAULT | GPU_IRQ_MULTIPLE_FAULT;

export const GPU_CMD = 0x030;
export const GPU_CMD_SOFT_RESET = 0x01;
export const GPU_CMD_HARD_RESET = 0x02;
export const GPU_STATUS = 0x034;
export const GPU_LATEST_FLUSH_ID = 0x038;
export const GPU_FAULT_STATUS = 0x03c;
export const GPU_FAULT_ADDRESS_LO = 0x040;
export const GPU_FAULT_ADDRESS_HI = 0x044;
export const GPU_AFBC_FEATURES = 0x04c;

export const GPU_THREAD_MAX_THREADS = 0x0a0;
export const GPU_THREAD_MAX_WORKGROUP_SIZE = 0x0a4;
export const GPU_THREAD_MAX_BARRIER_SIZE = 0x0a8;
export const GPU_THREAD_FEATURES = 0x0ac;
export const GPU_TEXTURE_FEATURES = (n: number): number => 0x0b0 + n * 4;
export const GPU_JS_FEATURES = (n: number): number => 0x0c0 + n * 4;

export const GPU_SHADER_PRESENT_LO = 0x100;
export const GPU_SHADER_PRESENT_HI = 0x104;
export const GPU_TILER_PRESENT_LO = 0x110;
export const GPU_TILER_PRESENT_HI = 0x114;
export const GPU_L2_PRESENT_LO = 0x120;
export const GPU_L2_PRESENT_HI = 0x124;

export const SHADER_READY_LO = 0x140;
export const TILER_READY_LO = 0x150;
export const L2_READY_LO = 0x160;
export const SHADER_PWRON_LO = 0x180;
export const TILER_PWRON_LO = 0x190;
export const L2_PWRON_LO = 0x1a0;
export const SHADER_PWROFF_LO = 0x1c0;
export const TILER_PWROFF_LO = 0x1d0;
export const L2_PWROFF_LO = 0x1e0;
export const SHADER_PWRTRANS_LO = 0x200;
export const TILER_PWRTRANS_LO = 0x210;
export const L2_PWRTRANS_LO = 0x220;

export const GPU_COHERENCY_FEATURES = 0x300;
export const GPU_THREAD_TLS_ALLOC = 0x310;
export const GPU_STACK_PRESENT_LO = 0xe00;
export const GPU_STACK_PRESENT_HI = 0xe04;

// ---------------------------------------------------------------- job control
export const JOB_INT_RAWSTAT = 0x1000;
export const JOB_INT_CLEAR = 0x1004;
export const JOB_INT_MASK = 0x1008;
export const JOB_INT_STAT = 0x100c;
export const JOB_INT_JS_STATE = 0x1010;

/** Job slots the driver schedules on (JS0 fragment, JS1 vertex/tiler/compute, JS2 unused). */
export const NUM_JOB_SLOTS = 3;
/** Interrupt bits of slot `j`: DONE at bit j, error at bit 16 + j. */
export const MK_JS_MASK = (j: number): number => (0x10001 << j) >>> 0;
export const JOB_INT_MASK_DONE = (j: number): number => (1 << j) >>> 0;
export const JOB_INT_MASK_ERR = (j: number): number => (1 << (16 + j)) >>> 0;
/** All interrupt bits of the slots the driver uses. */
export const ALL_JS_INT_MASK = ((((1 << NUM_JOB_SLOTS) - 1) << 16) | ((1 << NUM_JOB_SLOTS) - 1)) >>> 0;

const JS_BASE = 0x1800;
const JS_SLOT_STRIDE = 0x80;
const js = (n: number, off: number): number => JS_BASE + n * JS_SLOT_STRIDE + off;
export const JS_HEAD_LO = (n: number): number => js(n, 0x00);
export const JS_HEAD_HI = (n: number): number => js(n, 0x04);
export const JS_TAIL_LO = (n: number): number => js(n, 0x08);
export const JS_TAIL_HI = (n: number): number => js(n, 0x0c);
export const JS_AFFINITY_LO = (n: number): number => js(n, 0x10);
export const JS_AFFINITY_HI = (n: number): number => js(n, 0x14);
export const JS_CONFIG = (n: number): number => js(n, 0x18);
export const JS_COMMAND = (n: number): number => js(n, 0x20);
export const JS_STATUS = (n: number): number => js(n, 0x24);
export const JS_HEAD_NEXT_LO = (n: number): number => js(n, 0x40);
export const JS_HEAD_NEXT_HI = (n: number): number => js(n, 0x44);
export const JS_AFFINITY_NEXT_LO = (n: number): number => js(n, 0x50);
export const JS_AFFINITY_NEXT_HI = (n: number): number => js(n, 0x54);
export const JS_CONFIG_NEXT = (n: number): number => js(n, 0x58);
export const JS_COMMAND_NEXT = (n: number): number => js(n, 0x60);
export const JS_FLUSH_ID_NEXT = (n: number): number => js(n, 0x70);

export const JS_CONFIG_START_FLUSH_CLEAN_INVALIDATE = 3 << 8;
export const JS_CONFIG_START_MMU = 1 << 10;
export const JS_CONFIG_END_FLUSH_CLEAN_INVALIDATE = 3 << 12;
export const JS_CONFIG_ENABLE_FLUSH_REDUCTION = 1 << 14;
export const JS_CONFIG_THREAD_PRI = (n: number): number => n << 16;

export const JS_COMMAND_NOP = 0x00;
export const JS_COMMAND_START = 0x01;
export const JS_COMMAND_SOFT_STOP = 0x02;
export const JS_COMMAND_HARD_STOP = 0x03;

// ---------------------------------------------------------------- MMU
export const MMU_INT_RAWSTAT = 0x2000;
export const MMU_INT_CLEAR = 0x2004;
export const MMU_INT_MASK = 0x2008;
export const MMU_INT_STAT = 0x200c;

/** Address-space window of slot `as`: 0x40 bytes each from 0x2400. */
export const MMU_AS = (as: number): number => 0x2400 + (as << 6);
export const AS_TRANSTAB_LO = (as: number): number => MMU_AS(as) + 0x00;
export const AS_TRANSTAB_HI = (as: number): number => MMU_AS(as) + 0x04;
export const AS_MEMATTR_LO = (as: number): number => MMU_AS(as) + 0x08;
export const AS_MEMATTR_HI = (as: number): number => MMU_AS(as) + 0x0c;
export const AS_LOCKADDR_LO = (as: number): number => MMU_AS(as) + 0x10;
export const AS_LOCKADDR_HI = (as: number): number => MMU_AS(as) + 0x14;
export const AS_COMMAND = (as: number): number => MMU_AS(as) + 0x18;
export const AS_FAULTSTATUS = (as: number): number => MMU_AS(as) + 0x1c;
export const AS_FAULTADDRESS_LO = (as: number): number => MMU_AS(as) + 0x20;
export const AS_FAULTADDRESS_HI = (as: number): number => MMU_AS(as) + 0x24;
export const AS_STATUS = (as: number): number => MMU_AS(as) + 0x28;

export const AS_COMMAND_NOP = 0x00;
/** Broadcast TRANSTAB/MEMATTR to the MMUs: what makes an address space (re)live. */
export const AS_COMMAND_UPDATE = 0x01;
export const AS_COMMAND_LOCK = 0x02;
export const AS_COMMAND_UNLOCK = 0x03;
/** Flush the L2 caches, then flush (and unlock) the locked region. */
export const AS_COMMAND_FLUSH_PT = 0x04;
/** Wait for memory accesses, flush L1s and L2s, then flush (and unlock) the locked region. */
export const AS_COMMAND_FLUSH_MEM = 0x05;

export const AS_STATUS_AS_ACTIVE = 0x01;

export const AS_FAULTSTATUS_ACCESS_TYPE_MASK = 0x3 << 8;
export const AS_FAULTSTATUS_ACCESS_TYPE_ATOMIC = 0x0 << 8;
export const AS_FAULTSTATUS_ACCESS_TYPE_EX = 0x1 << 8;
export const AS_FAULTSTATUS_ACCESS_TYPE_READ = 0x2 << 8;
export const AS_FAULTSTATUS_ACCESS_TYPE_WRITE = 0x3 << 8;
/** Bit 10 of FAULTSTATUS: the fault was raised by the decoder rather than a slave. */
export const AS_FAULTSTATUS_DECODER_FAULT = 1 << 10;

/** The smallest region LOCK accepts: 32 KiB (log2 15). */
export const AS_LOCK_REGION_MIN_SIZE_LOG2 = 15;

/** MMU interrupt bits of slot `as`: page fault at bit as, bus error at bit 16 + as. */
export const MMU_AS_FAULT_BIT = (as: number): number => (1 << as) >>> 0;
export const MMU_AS_BUS_ERROR_BIT = (as: number): number => (1 << (16 + as)) >>> 0;

/** Bytes of the register window the driver needs (up to the last AS window and the stack regs). */
export const PANFROST_REG_WINDOW = 0x4000;
