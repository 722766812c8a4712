/**
 * The job descriptor format the model executes.
 *
 * The 32-byte header keeps the fields of a real Mali job header where they sit (exception
 * status, fault pointer, descriptor-size bit, job type, next-job pointer); the payloads of the
 * job types below are the project's own (a real GPU runs shaders, the model moves bytes).
 * Every descriptor and every byte a job touches is read and written at GPU virtual
 * addresses through the job's address space, so DMA really flows through the page tables.
 *
 *   0x00 u32 exception status   written by the GPU: 0x01 DONE, or the code that stopped the job
 *   0x04 u32 first incomplete   written 0 by the GPU
 *   0x08 u64 fault pointer      written by the GPU when the job fails on a fault: the faulting VA
 *   0x10 u32 control            bit 0: 64-bit descriptor (must be 1); bits [7:1]: job type;
 *                               bit 8: barrier; bits [31:16]: job index (the last two ignored)
 *   0x14 u32 dependencies       ignored (jobs of a chain run in chain order)
 *   0x18 u64 next               VA of the next descriptor, 0 = end of chain (64-byte aligned)
 *   0x20 ... payload (below; unused fields ignored), 64 bytes per descriptor in all
 *
 * Descriptors must be 64-byte aligned. A bad descriptor (bit 0 clear, unknown type,
 * misaligned next pointer or write address) fails the chain with JOB_CONFIG_FAULT (0x40).
 */

/** Size and alignment of a descriptor. */
export const MALI_JOB_DESC_SIZE = 64;

/** Header fields (byte offsets). */
export const MALI_JOB_EXCEPTION_STATUS = 0x00;
export const MALI_JOB_FIRST_INCOMPLETE = 0x04;
export const MALI_JOB_FAULT_POINTER = 0x08;
export const MALI_JOB_CONTROL = 0x10;
export const MALI_JOB_DEPENDENCIES = 0x14;
export const MALI_JOB_NEXT = 0x18;

/** Control word: bit 0 marks a 64-bit descriptor; the type sits in bits [7:1]. */
export const MALI_JOB_CONTROL_64BIT = 1 << 0;
export const MALI_JOB_TYPE_SHIFT = 1;
export const MALI_JOB_TYPE_MASK = 0x7f;

/** Payload fields (byte offsets). */
export const MALI_JOB_SRC = 0x20;
export const MALI_JOB_DST = 0x28;
export const MALI_JOB_LENGTH = 0x30;
export const MALI_JOB_VALUE = 0x34;
/** WRITE_VALUE: target address, kind, 64-bit immediate. */
export const MALI_JOB_WV_ADDRESS = 0x20;
export const MALI_JOB_WV_KIND = 0x28;
export const MALI_JOB_WV_IMMEDIATE = 0x30;

/**
 * Job types. NULL and WRITE_VALUE use the numbers of the real job types; COPY .. ATOMIC_ADD
 * are the project's own, in a range real GPUs do not use.
 */
export const MALI_JOB_TYPE_NULL = 1;
/** Writes `immediate` (kind 6: 32 bits, 7: 64 bits) or zero (kind 3: 64 bits) at `address`. */
export const MALI_JOB_TYPE_WRITE_VALUE = 2;
/** Copies `length` bytes from `src` to `dst`. */
export const MALI_JOB_TYPE_COPY = 0x20;
/** Fills `length` bytes at `dst` with the little-endian 32-bit `value`, repeated. */
export const MALI_JOB_TYPE_FILL = 0x21;
/** FNV-1a (32-bit) of `length` bytes at `src`, written as a u32 at `dst` (4-byte aligned). */
export const MALI_JOB_TYPE_CHECKSUM = 0x22;
/** Fetches `length` bytes at `src` as instructions (execute accesses), writes nothing. */
export const MALI_JOB_TYPE_EXECUTE = 0x23;
/** Atomically adds `value` to the u32 at `dst` (4-byte aligned): an atomic access. */
export const MALI_JOB_TYPE_ATOMIC_ADD = 0x24;

/** WRITE_VALUE kinds. */
export const MALI_WRITE_VALUE_ZERO = 3;
export const MALI_WRITE_VALUE_IMMEDIATE_32 = 6;
export const MALI_WRITE_VALUE_IMMEDIATE_64 = 7;

/** Names of the job types (for logs). */
export const MALI_JOB_TYPE_NAMES: Readonly<Record<number, string>> = {
  [MALI_JOB_TYPE_NULL]: 'NULL',
  [MALI_JOB_TYPE_WRITE_VALUE]: 'WRITE_VALUE',
  [MALI_JOB_TYPE_COPY]: 'COPY',
  [MALI_JOB_TYPE_FILL]: 'FILL',
  [MALI_JOB_TYPE_CHECKSUM]: 'CHECKSUM',
  [MALI_JOB_TYPE_EXECUTE]: 'EXECUTE',
  [MALI_JOB_TYPE_ATOMIC_ADD]: 'ATOMIC_ADD',
};

/** A job as `encodeMaliJob` takes it (addresses are GPU VAs). */
export interface MaliJobSpec {
  type: number;
  /** VA of the next descriptor (0 or omitted: end of chain). */
  next?: number;
  src?: number;
  dst?: number;
  length?: number;
  /** FILL pattern / ATOMIC_ADD addend (u32). */
  value?: number;
  /** WRITE_VALUE target (defaults to `dst`). */
  address?: number;
  /** WRITE_VALUE kind (default 6, a 32-bit immediate). */
  kind?: number;
  /** WRITE_VALUE immediate. */
  immediate?: bigint | number;
}

function put32(b: Uint8Array, off: number, v: number): void {
  new DataView(b.buffer, b.byteOffset, b.byteLength).setUint32(off, v >>> 0, true);
}

function put64(b: Uint8Array, off: number, v: bigint | number): void {
  new DataView(b.buffer, b.byteOffset, b.byteLength).setBigUint64(off, BigInt.asUintN(64, BigInt(v)), true);
}

/**
 * The 64 bytes of a descriptor (for tests and tools; a driver builds its own). The GPU-written
 * fields start at zero.
 */
export function encodeMaliJob(j: MaliJobSpec): Uint8Array {
  const b = new Uint8Array(MALI_JOB_DESC_SIZE);
  put32(b, MALI_JOB_CONTROL, MALI_JOB_CONTROL_64BIT | ((j.type & MALI_JOB_TYPE_MASK) << MALI_JOB_TYPE_SHIFT));
  put64(b, MALI_JOB_NEXT, j.next ?? 0);
  if (j.type === MALI_JOB_TYPE_WRITE_VALUE) {
    put64(b, MALI_JOB_WV_ADDRESS, j.address ?? j.dst ?? 0);
    put32(b, MALI_JOB_WV_KIND, j.kind ?? MALI_WRITE_VALUE_IMMEDIATE_32);
    put64(b, MALI_JOB_WV_IMMEDIATE, j.immediate ?? 0);
  } else {
    put64(b, MALI_JOB_SRC, j.src ?? 0);
    put64(b, MALI_JOB_DST, j.dst ?? 0);
    put32(b, MALI_JOB_LENGTH, j.length ?? 0);
    put32(b, MALI_JOB_VALUE, j.value ?? 0);
  }
  return b;
}

/** FNV-1a 32-bit of `bytes`, the checksum a CHECKSUM job computes (for tests). */
export function maliChecksum(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (const x of bytes) {
    h ^= x;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
