/**
 * Exception codes the GPU reports in JS_STATUS, GPU_FAULT_STATUS and AS_FAULTSTATUS[7:0], with
 * the names panfrost prints for them (its table is keyed by the uapi exception enum; every name
 * is the enum member's suffix). Codes up to 0x3f are events, not faults.
 */

export const EXCEPTION_OK = 0x00;
export const EXCEPTION_DONE = 0x01;
export const EXCEPTION_STOPPED = 0x03;
export const EXCEPTION_TERMINATED = 0x04;
export const EXCEPTION_MAX_NON_FAULT = 0x3f;
export const EXCEPTION_JOB_BUS_FAULT = 0x48;

const NAMES: Record<number, string> = {
  0x00: 'OK',
  0x01: 'DONE',
  0x02: 'INTERRUPTED',
  0x03: 'STOPPED',
  0x04: 'TERMINATED',
  0x05: 'KABOOM',
  0x06: 'EUREKA',
  0x08: 'ACTIVE',
  0x40: 'JOB_CONFIG_FAULT',
  0x41: 'JOB_POWER_FAULT',
  0x42: 'JOB_READ_FAULT',
  0x43: 'JOB_WRITE_FAULT',
  0x44: 'JOB_AFFINITY_FAULT',
  0x48: 'JOB_BUS_FAULT',
  0x50: 'INSTR_INVALID_PC',
  0x51: 'INSTR_INVALID_ENC',
  0x52: 'INSTR_TYPE_MISMATCH',
  0x53: 'INSTR_OPERAND_FAULT',
  0x54: 'INSTR_TLS_FAULT',
  0x55: 'INSTR_BARRIER_FAULT',
  0x56: 'INSTR_ALIGN_FAULT',
  0x58: 'DATA_INVALID_FAULT',
  0x59: 'TILE_RANGE_FAULT',
  0x5a: 'ADDR_RANGE_FAULT',
  0x5b: 'IMPRECISE_FAULT',
  0x60: 'OOM',
  0x61: 'OOM_AFBC',
  0x7f: 'UNKNOWN',
  0x80: 'DELAYED_BUS_FAULT',
  0x88: 'GPU_SHAREABILITY_FAULT',
  0x89: 'SYS_SHAREABILITY_FAULT',
  0x8a: 'GPU_CACHEABILITY_FAULT',
  0xc0: 'TRANSLATION_FAULT_0',
  0xc1: 'TRANSLATION_FAULT_1',
  0xc2: 'TRANSLATION_FAULT_2',
  0xc3: 'TRANSLATION_FAULT_3',
  0xc4: 'TRANSLATION_FAULT_4',
  0xc7: 'TRANSLATION_FAULT_IDENTITY',
  0xc8: 'PERM_FAULT_0',
  0xc9: 'PERM_FAULT_1',
  0xca: 'PERM_FAULT_2',
  0xcb: 'PERM_FAULT_3',
  0xd0: 'TRANSTAB_BUS_FAULT_0',
  0xd1: 'TRANSTAB_BUS_FAULT_1',
  0xd2: 'TRANSTAB_BUS_FAULT_2',
  0xd3: 'TRANSTAB_BUS_FAULT_3',
  0xd8: 'ACCESS_FLAG_0',
  0xd9: 'ACCESS_FLAG_1',
  0xda: 'ACCESS_FLAG_2',
  0xdb: 'ACCESS_FLAG_3',
  0xe0: 'ADDR_SIZE_FAULT_IN0',
  0xe1: 'ADDR_SIZE_FAULT_IN1',
  0xe2: 'ADDR_SIZE_FAULT_IN2',
  0xe3: 'ADDR_SIZE_FAULT_IN3',
  0xe4: 'ADDR_SIZE_FAULT_OUT0',
  0xe5: 'ADDR_SIZE_FAULT_OUT1',
  0xe6: 'ADDR_SIZE_FAULT_OUT2',
  0xe7: 'ADDR_SIZE_FAULT_OUT3',
  0xe8: 'MEM_ATTR_FAULT_0',
  0xe9: 'MEM_ATTR_FAULT_1',
  0xea: 'MEM_ATTR_FAULT_2',
  0xeb: 'MEM_ATTR_FAULT_3',
  0xec: 'MEM_ATTR_NONCACHE_0',
  0xed: 'MEM_ATTR_NONCACHE_1',
  0xee: 'MEM_ATTR_NONCACHE_2',
  0xef: 'MEM_ATTR_NONCACHE_3',
};

/** panfrost_exception_name: the code's name, or "Unknown exception type". */
export function panfrostExceptionName(code: number): string {
  return NAMES[code >>> 0] ?? 'Unknown exception type';
}

/** panfrost_exception_is_fault: codes above 0x3f are faults, the rest are events. */
export function panfrostExceptionIsFault(code: number): boolean {
  return code >>> 0 > EXCEPTION_MAX_NON_FAULT;
}

/** An MMU exception type (AS_FAULTSTATUS[7:0]) that is a translation fault, 0xC0..0xC7. */
export function isTranslationFault(exceptionType: number): boolean {
  return (exceptionType & 0xf8) === 0xc0;
}

/**
 * The access type (AS_FAULTSTATUS[9:8]) as the fault report names it. ATOMIC (0) exists only on
 * MMUs with the AArch64 feature; older ones report "UNKNOWN" for it.
 */
export function accessTypeName(faultStatus: number, aarch64Mmu: boolean): string {
  switch ((faultStatus >>> 8) & 3) {
    case 0:
      return aarch64Mmu ? 'ATOMIC' : 'UNKNOWN';
    case 1:
      return 'EXECUTE';
    case 2:
      return 'READ';
    default:
      return 'WRITE';
  }
}

/** A decoded AS_FAULTSTATUS. */
export interface PanfrostFaultStatus {
  readonly raw: number;
  /** [7:0] */
  readonly exceptionType: number;
  readonly exceptionName: string;
  /** [9:8]: 0 atomic, 1 execute, 2 read, 3 write. */
  readonly accessType: number;
  readonly accessName: string;
  /** Bit 10. */
  readonly decoderFault: boolean;
  /** [31:16] */
  readonly sourceId: number;
}

export function decodeFaultStatus(raw: number, aarch64Mmu: boolean): PanfrostFaultStatus {
  const v = raw >>> 0;
  return {
    raw: v,
    exceptionType: v & 0xff,
    exceptionName: panfrostExceptionName(v & 0xff),
    accessType: (v >>> 8) & 3,
    accessName: accessTypeName(v, aarch64Mmu),
    decoderFault: (v & (1 << 10)) !== 0,
    sourceId: v >>> 16,
  };
}
