/**
 * Register map of the Arm Mali job-manager GPUs (Midgard, Bifrost, Valhall-JM) as the model
 * implements it: the GPU control block, the job control block, the MMU block with one window
 * per address space, and the bit fields software programs. Offsets and encodings are facts
 * of the hardware interface (the same ones Linux's panfrost and Arm's kbase program); the
 * names below are this model's own. A driver keeps its own register header: it never imports
 * this file.
 */

// ---------------------------------------------------------------------------------------------
// GPU control (0x0000 - 0x0fff)

export const MALI_GPU_ID = 0x000;
export const MALI_L2_FEATURES = 0x004;
export const MALI_CORE_FEATURES = 0x008;
export const MALI_TILER_FEATURES = 0x00c;
export const MALI_MEM_FEATURES = 0x010;
/** VA bits in [7:0], PA bits in [15:8]. */
export const MALI_MMU_FEATURES = 0x014;
export const MALI_AS_PRESENT = 0x018;
export const MALI_JS_PRESENT = 0x01c;
export const MALI_GPU_IRQ_RAWSTAT = 0x020;
export const MALI_GPU_IRQ_CLEAR = 0x024;
export const MALI_GPU_IRQ_MASK = 0x028;
export const MALI_GPU_IRQ_STATUS = 0x02c;
export const MALI_GPU_COMMAND = 0x030;
export const MALI_GPU_STATUS = 0x034;
export const MALI_LATEST_FLUSH = 0x038;
export const MALI_GPU_FAULTSTATUS = 0x03c;
export const MALI_GPU_FAULTADDRESS_LO = 0x040;
export const MALI_GPU_FAULTADDRESS_HI = 0x044;
export const MALI_AFBC_FEATURES = 0x04c;
export const MALI_PWR_KEY = 0x050;
export const MALI_PWR_OVERRIDE0 = 0x054;
export const MALI_PWR_OVERRIDE1 = 0x058;
export const MALI_PRFCNT_BASE_LO = 0x060;
export const MALI_PRFCNT_BASE_HI = 0x064;
export const MALI_PRFCNT_CONFIG = 0x068;
export const MALI_PRFCNT_JM_EN = 0x06c;
export const MALI_PRFCNT_SHADER_EN = 0x070;
export const MALI_PRFCNT_TILER_EN = 0x074;
export const MALI_PRFCNT_MMU_L2_EN = 0x07c;
export const MALI_CYCLE_COUNT_LO = 0x090;
export const MALI_CYCLE_COUNT_HI = 0x094;
export const MALI_TIMESTAMP_LO = 0x098;
export const MALI_TIMESTAMP_HI = 0x09c;
export const MALI_THREAD_MAX_THREADS = 0x0a0;
export const MALI_THREAD_MAX_WORKGROUP_SIZE = 0x0a4;
export const MALI_THREAD_MAX_BARRIER_SIZE = 0x0a8;
export const MALI_THREAD_FEATURES = 0x0ac;
/** TEXTURE_FEATURES_n at 0x0b0 + 4n, n = 0..3. */
export const MALI_TEXTURE_FEATURES_0 = 0x0b0;
/** JS_FEATURES_n at 0x0c0 + 4n, n = 0..15. */
export const MALI_JS_FEATURES_0 = 0x0c0;
export const MALI_SHADER_PRESENT_LO = 0x100;
export const MALI_SHADER_PRESENT_HI = 0x104;
export const MALI_TILER_PRESENT_LO = 0x110;
export const MALI_TILER_PRESENT_HI = 0x114;
export const MALI_L2_PRESENT_LO = 0x120;
export const MALI_L2_PRESENT_HI = 0x124;
export const MALI_SHADER_READY_LO = 0x140;
export const MALI_SHADER_READY_HI = 0x144;
export const MALI_TILER_READY_LO = 0x150;
export const MALI_TILER_READY_HI = 0x154;
export const MALI_L2_READY_LO = 0x160;
export const MALI_L2_READY_HI = 0x164;
export const MALI_SHADER_PWRON_LO = 0x180;
export const MALI_SHADER_PWRON_HI = 0x184;
export const MALI_TILER_PWRON_LO = 0x190;
export const MALI_TILER_PWRON_HI = 0x194;
export const MALI_L2_PWRON_LO = 0x1a0;
export const MALI_L2_PWRON_HI = 0x1a4;
export const MALI_SHADER_PWROFF_LO = 0x1c0;
export const MALI_SHADER_PWROFF_HI = 0x1c4;
export const MALI_TILER_PWROFF_LO = 0x1d0;
export const MALI_TILER_PWROFF_HI = 0x1d4;
export const MALI_L2_PWROFF_LO = 0x1e0;
export const MALI_L2_PWROFF_HI = 0x1e4;
export const MALI_SHADER_PWRTRANS_LO = 0x200;
export const MALI_SHADER_PWRTRANS_HI = 0x204;
export const MALI_TILER_PWRTRANS_LO = 0x210;
export const MALI_TILER_PWRTRANS_HI = 0x214;
export const MALI_L2_PWRTRANS_LO = 0x220;
export const MALI_L2_PWRTRANS_HI = 0x224;
export const MALI_SHADER_PWRACTIVE_LO = 0x240;
export const MALI_SHADER_PWRACTIVE_HI = 0x244;
export const MALI_TILER_PWRACTIVE_LO = 0x250;
export const MALI_TILER_PWRACTIVE_HI = 0x254;
export const MALI_L2_PWRACTIVE_LO = 0x260;
export const MALI_L2_PWRACTIVE_HI = 0x264;
export const MALI_COHERENCY_FEATURES = 0x300;
export const MALI_COHERENCY_ENABLE = 0x304;
export const MALI_THREAD_TLS_ALLOC = 0x310;
/** Core stacks (Bifrost and later). */
export const MALI_STACK_PRESENT_LO = 0xe00;
export const MALI_STACK_PRESENT_HI = 0xe04;
export const MALI_STACK_READY_LO = 0xe10;
export const MALI_STACK_READY_HI = 0xe14;
export const MALI_STACK_PWRON_LO = 0xe20;
export const MALI_STACK_PWRON_HI = 0xe24;
export const MALI_STACK_PWROFF_LO = 0xe30;
export const MALI_STACK_PWROFF_HI = 0xe34;
export const MALI_STACK_PWRTRANS_LO = 0xe40;
export const MALI_STACK_PWRTRANS_HI = 0xe44;
/** Implementation-specific configuration registers (read/write storage in the model). */
export const MALI_JM_CONFIG = 0xf00;
export const MALI_SHADER_CONFIG = 0xf04;
export const MALI_TILER_CONFIG = 0xf08;
export const MALI_L2_MMU_CONFIG = 0xf0c;

/** GPU_IRQ bits. */
export const MALI_GPU_IRQ_FAULT = 1 << 0;
export const MALI_GPU_IRQ_MULTIPLE_FAULT = 1 << 7;
export const MALI_GPU_IRQ_RESET_COMPLETED = 1 << 8;
export const MALI_GPU_IRQ_POWER_CHANGED = 1 << 9;
export const MALI_GPU_IRQ_POWER_CHANGED_ALL = 1 << 10;
export const MALI_GPU_IRQ_PERFCNT_SAMPLE_COMPLETED = 1 << 16;
export const MALI_GPU_IRQ_CLEAN_CACHES_COMPLETED = 1 << 17;
/** Every GPU_IRQ bit the model can raise. */
export const MALI_GPU_IRQ_ALL =
  MALI_GPU_IRQ_FAULT |
  MALI_GPU_IRQ_MULTIPLE_FAULT |
  MALI_GPU_IRQ_RESET_COMPLETED |
  MALI_GPU_IRQ_POWER_CHANGED |
  MALI_GPU_IRQ_POWER_CHANGED_ALL |
  MALI_GPU_IRQ_PERFCNT_SAMPLE_COMPLETED |
  MALI_GPU_IRQ_CLEAN_CACHES_COMPLETED;

/** GPU_COMMAND values. */
export const MALI_GPU_CMD_NOP = 0x00;
export const MALI_GPU_CMD_SOFT_RESET = 0x01;
export const MALI_GPU_CMD_HARD_RESET = 0x02;
export const MALI_GPU_CMD_PERFCNT_CLEAR = 0x03;
export const MALI_GPU_CMD_PERFCNT_SAMPLE = 0x04;
export const MALI_GPU_CMD_CYCLE_COUNT_START = 0x05;
export const MALI_GPU_CMD_CYCLE_COUNT_STOP = 0x06;
export const MALI_GPU_CMD_CLEAN_CACHES = 0x07;
export const MALI_GPU_CMD_CLEAN_INV_CACHES = 0x08;

/** GPU_STATUS bits. */
export const MALI_GPU_STATUS_ACTIVE = 1 << 0;

/** Value that unlocks the PWR_OVERRIDE registers when written to PWR_KEY. */
export const MALI_PWR_KEY_UNLOCK = 0x2968a819;

// ---------------------------------------------------------------------------------------------
// Job control (0x1000 - 0x1fff)

export const MALI_JOB_IRQ_RAWSTAT = 0x1000;
export const MALI_JOB_IRQ_CLEAR = 0x1004;
export const MALI_JOB_IRQ_MASK = 0x1008;
export const MALI_JOB_IRQ_STATUS = 0x100c;
/** Bit n: slot n is running a chain; bit 16+n: a chain waits in slot n's NEXT registers. */
export const MALI_JOB_IRQ_JS_STATE = 0x1010;
export const MALI_JOB_IRQ_THROTTLE = 0x1014;

/** JOB_IRQ bit for a chain that completed in slot `js`. */
export const maliJobIrqDone = (js: number): number => (1 << js) >>> 0;
/** JOB_IRQ bit for a chain that failed (fault, stop) in slot `js`. */
export const maliJobIrqFail = (js: number): number => (1 << (16 + js)) >>> 0;

/** Slot n's registers start at JS_BASE + n * JS_STRIDE. */
export const MALI_JS_BASE = 0x1800;
export const MALI_JS_STRIDE = 0x80;
/** Offsets inside a slot window. */
export const MALI_JS_HEAD_LO = 0x00;
export const MALI_JS_HEAD_HI = 0x04;
export const MALI_JS_TAIL_LO = 0x08;
export const MALI_JS_TAIL_HI = 0x0c;
export const MALI_JS_AFFINITY_LO = 0x10;
export const MALI_JS_AFFINITY_HI = 0x14;
export const MALI_JS_CONFIG = 0x18;
export const MALI_JS_XAFFINITY = 0x1c;
export const MALI_JS_COMMAND = 0x20;
export const MALI_JS_STATUS = 0x24;
export const MALI_JS_HEAD_NEXT_LO = 0x40;
export const MALI_JS_HEAD_NEXT_HI = 0x44;
export const MALI_JS_AFFINITY_NEXT_LO = 0x50;
export const MALI_JS_AFFINITY_NEXT_HI = 0x54;
export const MALI_JS_CONFIG_NEXT = 0x58;
export const MALI_JS_XAFFINITY_NEXT = 0x5c;
export const MALI_JS_COMMAND_NEXT = 0x60;
export const MALI_JS_FLUSH_ID_NEXT = 0x70;

/** Absolute offset of a slot register. */
export const maliJsReg = (js: number, reg: number): number => MALI_JS_BASE + js * MALI_JS_STRIDE + reg;

/** JS_CONFIG fields. The address space number is in bits [3:0]. */
export const MALI_JS_CONFIG_AS_MASK = 0xf;
export const MALI_JS_CONFIG_START_FLUSH_CLEAN = 1 << 8;
export const MALI_JS_CONFIG_START_FLUSH_CLEAN_INVALIDATE = 3 << 8;
export const MALI_JS_CONFIG_START_MMU = 1 << 10;
export const MALI_JS_CONFIG_JOB_CHAIN_FLAG = 1 << 11;
export const MALI_JS_CONFIG_END_FLUSH_CLEAN = 1 << 12;
export const MALI_JS_CONFIG_END_FLUSH_CLEAN_INVALIDATE = 3 << 12;
export const MALI_JS_CONFIG_ENABLE_FLUSH_REDUCTION = 1 << 14;
/** Do not write the exception status back into the job descriptors. */
export const MALI_JS_CONFIG_DISABLE_DESCRIPTOR_WR_BK = 1 << 15;
export const maliJsConfigThreadPri = (n: number): number => (n & 0xf) << 16;

/** JS_COMMAND / JS_COMMAND_NEXT values. */
export const MALI_JS_COMMAND_NOP = 0x00;
export const MALI_JS_COMMAND_START = 0x01;
export const MALI_JS_COMMAND_SOFT_STOP = 0x02;
export const MALI_JS_COMMAND_HARD_STOP = 0x03;
export const MALI_JS_COMMAND_SOFT_STOP_0 = 0x04;
export const MALI_JS_COMMAND_HARD_STOP_0 = 0x05;
export const MALI_JS_COMMAND_SOFT_STOP_1 = 0x06;
export const MALI_JS_COMMAND_HARD_STOP_1 = 0x07;

// ---------------------------------------------------------------------------------------------
// Exception codes (JS_STATUS, AS_FAULTSTATUS[7:0], job descriptor exception status)

export const MALI_EXC_OK = 0x00;
export const MALI_EXC_DONE = 0x01;
export const MALI_EXC_INTERRUPTED = 0x02;
export const MALI_EXC_STOPPED = 0x03;
export const MALI_EXC_TERMINATED = 0x04;
export const MALI_EXC_ACTIVE = 0x08;
export const MALI_EXC_JOB_CONFIG_FAULT = 0x40;
export const MALI_EXC_JOB_POWER_FAULT = 0x41;
export const MALI_EXC_JOB_READ_FAULT = 0x42;
export const MALI_EXC_JOB_WRITE_FAULT = 0x43;
export const MALI_EXC_JOB_AFFINITY_FAULT = 0x44;
export const MALI_EXC_JOB_BUS_FAULT = 0x48;
export const MALI_EXC_DATA_INVALID_FAULT = 0x58;
/** MMU exception families; add the translation level (0..3). */
export const MALI_EXC_TRANSLATION_FAULT = 0xc0;
export const MALI_EXC_TRANSLATION_FAULT_IDENTITY = 0xc7;
export const MALI_EXC_PERMISSION_FAULT = 0xc8;
export const MALI_EXC_TRANSTAB_BUS_FAULT = 0xd0;
export const MALI_EXC_ACCESS_FLAG = 0xd8;
export const MALI_EXC_ADDRESS_SIZE_FAULT_IN = 0xe0;
export const MALI_EXC_ADDRESS_SIZE_FAULT_OUT = 0xe4;
export const MALI_EXC_MEMORY_ATTRIBUTE_FAULT = 0xe8;

/** Names of the exception codes the model produces or reports (for logs and tests). */
export const MALI_EXCEPTION_NAMES: Readonly<Record<number, string>> = (() => {
  const n: Record<number, string> = {
    0x00: 'OK',
    0x01: 'DONE',
    0x02: 'INTERRUPTED',
    0x03: 'STOPPED',
    0x04: 'TERMINATED',
    0x08: 'ACTIVE',
    0x40: 'JOB_CONFIG_FAULT',
    0x41: 'JOB_POWER_FAULT',
    0x42: 'JOB_READ_FAULT',
    0x43: 'JOB_WRITE_FAULT',
    0x44: 'JOB_AFFINITY_FAULT',
    0x48: 'JOB_BUS_FAULT',
    0x58: 'DATA_INVALID_FAULT',
    0xc7: 'TRANSLATION_FAULT_IDENTITY',
  };
  for (let l = 0; l < 4; l++) {
    n[0xc0 + l] = `TRANSLATION_FAULT_${l}`;
    n[0xc8 + l] = `PERMISSION_FAULT_${l}`;
    n[0xd0 + l] = `TRANSTAB_BUS_FAULT_${l}`;
    n[0xd8 + l] = `ACCESS_FLAG_${l}`;
    n[0xe0 + l] = `ADDRESS_SIZE_FAULT_IN${l}`;
    n[0xe4 + l] = `ADDRESS_SIZE_FAULT_OUT${l}`;
    n[0xe8 + l] = `MEMORY_ATTRIBUTE_FAULT_${l}`;
  }
  return n;
})();

/** Name of an exception code, or "UNKNOWN(0x..)". */
export function maliExceptionName(code: number): string {
  return MALI_EXCEPTION_NAMES[code & 0xff] ?? `UNKNOWN(0x${(code & 0xff).toString(16)})`;
}

// ---------------------------------------------------------------------------------------------
// MMU (0x2000 - 0x2fff)

/** Bit n: page fault in address space n; bit 16+n: bus error in address space n. */
export const MALI_MMU_IRQ_RAWSTAT = 0x2000;
export const MALI_MMU_IRQ_CLEAR = 0x2004;
export const MALI_MMU_IRQ_MASK = 0x2008;
export const MALI_MMU_IRQ_STATUS = 0x200c;

export const maliMmuIrqPageFault = (as: number): number => (1 << as) >>> 0;
export const maliMmuIrqBusError = (as: number): number => (1 << (16 + as)) >>> 0;

/** Address space n's window starts at AS_BASE + n * AS_STRIDE (16 windows at most). */
export const MALI_AS_BASE = 0x2400;
export const MALI_AS_STRIDE = 0x40;
export const MALI_MAX_AS = 16;
export const MALI_AS_TRANSTAB_LO = 0x00;
export const MALI_AS_TRANSTAB_HI = 0x04;
export const MALI_AS_MEMATTR_LO = 0x08;
export const MALI_AS_MEMATTR_HI = 0x0c;
export const MALI_AS_LOCKADDR_LO = 0x10;
export const MALI_AS_LOCKADDR_HI = 0x14;
export const MALI_AS_COMMAND = 0x18;
export const MALI_AS_FAULTSTATUS = 0x1c;
export const MALI_AS_FAULTADDRESS_LO = 0x20;
export const MALI_AS_FAULTADDRESS_HI = 0x24;
export const MALI_AS_STATUS = 0x28;
export const MALI_AS_TRANSCFG_LO = 0x30;
export const MALI_AS_TRANSCFG_HI = 0x34;
export const MALI_AS_FAULTEXTRA_LO = 0x38;
export const MALI_AS_FAULTEXTRA_HI = 0x3c;

/** Absolute offset of an address-space register. */
export const maliAsReg = (as: number, reg: number): number => MALI_AS_BASE + as * MALI_AS_STRIDE + reg;

/** AS_COMMAND values. */
export const MALI_AS_CMD_NOP = 0;
export const MALI_AS_CMD_UPDATE = 1;
export const MALI_AS_CMD_LOCK = 2;
export const MALI_AS_CMD_UNLOCK = 3;
/** FLUSH on T60x has the same code. */
export const MALI_AS_CMD_FLUSH_PT = 4;
export const MALI_AS_CMD_FLUSH_MEM = 5;

/** AS_STATUS bit: a command is still being executed. */
export const MALI_AS_STATUS_ACTIVE = 1 << 0;

/** AS_TRANSTAB (LPAE mode) fields: address bits [47:12], mode in [1:0], hints in bits 2 and 4. */
export const MALI_TRANSTAB_ADRMODE_MASK = 0x3;
export const MALI_TRANSTAB_ADRMODE_UNMAPPED = 0x0;
export const MALI_TRANSTAB_ADRMODE_IDENTITY = 0x2;
export const MALI_TRANSTAB_ADRMODE_TABLE = 0x3;
export const MALI_TRANSTAB_READ_INNER = 1 << 2;
export const MALI_TRANSTAB_SHARE_OUTER = 1 << 4;

/** AS_FAULTSTATUS fields: [7:0] exception type, [9:8] access type, bit 10 decoder fault, [31:16] source id. */
export const MALI_FAULT_ACCESS_SHIFT = 8;
export const MALI_FAULT_ACCESS_ATOMIC = 0;
export const MALI_FAULT_ACCESS_EXECUTE = 1;
export const MALI_FAULT_ACCESS_READ = 2;
export const MALI_FAULT_ACCESS_WRITE = 3;
export const MALI_FAULT_DECODER = 1 << 10;
export const MALI_FAULT_SOURCE_SHIFT = 16;

/** LOCKADDR: the low 6 bits hold log2(region size) - 1; the region start sits above them. */
export const MALI_LOCKADDR_WIDTH_MASK = 0x3f;

/** Size of the register window the model decodes (every register above fits in 16 KiB). */
export const MALI_MMIO_SIZE = 0x4000;
