/**
 * Test-side view of a Mali GPU: its register offsets and encodings as the hardware interface
 * documents them (the same numbers Linux's panfrost_regs.h and Arm's kbase use), written here
 * independently of the model's own register file, plus a board builder, a hand-written
 * ARM_MALI_LPAE page-table builder and a few driver-like sequences (reset, power-up, MMU
 * operations, job submission) done the way panfrost does them.
 */
import { Board, buildFdt, MaliGpu, node, prop, ref, writeDtb, type DraftProp, type MmioBus, type PhysMem } from '@gki/hw';

// ---- register map (facts) -------------------------------------------------------------------

export const REG = {
  GPU_ID: 0x000,
  L2_FEATURES: 0x004,
  CORE_FEATURES: 0x008,
  TILER_FEATURES: 0x00c,
  MEM_FEATURES: 0x010,
  MMU_FEATURES: 0x014,
  AS_PRESENT: 0x018,
  JS_PRESENT: 0x01c,
  GPU_INT_RAWSTAT: 0x020,
  GPU_INT_CLEAR: 0x024,
  GPU_INT_MASK: 0x028,
  GPU_INT_STAT: 0x02c,
  GPU_CMD: 0x030,
  GPU_STATUS: 0x034,
  LATEST_FLUSH: 0x038,
  THREAD_MAX_THREADS: 0x0a0,
  THREAD_FEATURES: 0x0ac,
  TEXTURE_FEATURES0: 0x0b0,
  JS_FEATURES0: 0x0c0,
  SHADER_PRESENT_LO: 0x100,
  TILER_PRESENT_LO: 0x110,
  L2_PRESENT_LO: 0x120,
  SHADER_READY_LO: 0x140,
  TILER_READY_LO: 0x150,
  L2_READY_LO: 0x160,
  SHADER_PWRON_LO: 0x180,
  TILER_PWRON_LO: 0x190,
  L2_PWRON_LO: 0x1a0,
  SHADER_PWROFF_LO: 0x1c0,
  TILER_PWROFF_LO: 0x1d0,
  L2_PWROFF_LO: 0x1e0,
  SHADER_PWRTRANS_LO: 0x200,
  L2_PWRTRANS_LO: 0x220,
  COHERENCY_FEATURES: 0x300,
  STACK_PRESENT_LO: 0xe00,
  JOB_INT_RAWSTAT: 0x1000,
  JOB_INT_CLEAR: 0x1004,
  JOB_INT_MASK: 0x1008,
  JOB_INT_STAT: 0x100c,
  JOB_INT_JS_STATE: 0x1010,
  MMU_INT_RAWSTAT: 0x2000,
  MMU_INT_CLEAR: 0x2004,
  MMU_INT_MASK: 0x2008,
  MMU_INT_STAT: 0x200c,
} as const;

export const GPU_IRQ_RESET_COMPLETED = 1 << 8;
export const GPU_IRQ_POWER_CHANGED = 1 << 9;
export const GPU_IRQ_POWER_CHANGED_ALL = 1 << 10;
export const GPU_IRQ_CLEAN_CACHES_COMPLETED = 1 << 17;
export const GPU_CMD_SOFT_RESET = 1;
export const GPU_CMD_CLEAN_INV_CACHES = 8;

export const js = (n: number, off: number): number => 0x1800 + n * 0x80 + off;
export const JS = {
  HEAD_LO: 0x00,
  HEAD_HI: 0x04,
  TAIL_LO: 0x08,
  TAIL_HI: 0x0c,
  AFFINITY_LO: 0x10,
  CONFIG: 0x18,
  COMMAND: 0x20,
  STATUS: 0x24,
  HEAD_NEXT_LO: 0x40,
  HEAD_NEXT_HI: 0x44,
  AFFINITY_NEXT_LO: 0x50,
  AFFINITY_NEXT_HI: 0x54,
  CONFIG_NEXT: 0x58,
  COMMAND_NEXT: 0x60,
} as const;
export const JS_CMD_START = 1;
export const JS_CMD_SOFT_STOP = 2;
export const JS_CMD_HARD_STOP = 3;
export const JS_CONFIG_DISABLE_DESCRIPTOR_WR_BK = 1 << 15;

export const as = (n: number, off: number): number => 0x2400 + n * 0x40 + off;
export const AS = {
  TRANSTAB_LO: 0x00,
  TRANSTAB_HI: 0x04,
  MEMATTR_LO: 0x08,
  MEMATTR_HI: 0x0c,
  LOCKADDR_LO: 0x10,
  LOCKADDR_HI: 0x14,
  COMMAND: 0x18,
  FAULTSTATUS: 0x1c,
  FAULTADDRESS_LO: 0x20,
  FAULTADDRESS_HI: 0x24,
  STATUS: 0x28,
} as const;
export const AS_CMD = { NOP: 0, UPDATE: 1, LOCK: 2, UNLOCK: 3, FLUSH_PT: 4, FLUSH_MEM: 5 } as const;
export const AS_ACTIVE = 1;
export const ADRMODE_UNMAPPED = 0;
export const ADRMODE_IDENTITY = 2;
export const ADRMODE_TABLE = 3;
export const TRANSTAB_READ_INNER = 1 << 2;
/** The MEMATTR value Linux's ARM_MALI_LPAE format programs (IMPL_DEF x2, write-alloc, ...). */
export const LINUX_MALI_MEMATTR = 0x888d88n;

/** Exception codes (JS_STATUS and AS_FAULTSTATUS[7:0]). */
export const EXC = {
  DONE: 0x01,
  STOPPED: 0x03,
  TERMINATED: 0x04,
  ACTIVE: 0x08,
  JOB_CONFIG_FAULT: 0x40,
  JOB_POWER_FAULT: 0x41,
  JOB_BUS_FAULT: 0x48,
  TRANSLATION_FAULT_0: 0xc0,
  PERMISSION_FAULT_0: 0xc8,
  TRANSTAB_BUS_FAULT_0: 0xd0,
  ADDR_SIZE_FAULT_IN0: 0xe0,
  ADDR_SIZE_FAULT_OUT0: 0xe4,
} as const;
export const ACCESS = { ATOMIC: 0, EXECUTE: 1, READ: 2, WRITE: 3 } as const;

// ---- boards -----------------------------------------------------------------------------------

export interface MaliBoardOptions {
  /** The gpu node's compatible list (SoC first). */
  compatible: string[];
  /** Root compatible (board, SoC). */
  rootCompatible?: string[];
  /** GIC #interrupt-cells: 3, or 4 with the PPI-partition cell (RK3399, MT8183). */
  gicCells?: 3 | 4;
  /** interrupt-names and the SPI of each (same order). */
  irqs?: [string, number][];
  extra?: DraftProp[];
  /** Register base and size of the gpu node. */
  base?: number;
  size?: number;
}

export const RAM_BASE = 0;
export const RAM_SIZE = 0x4000_0000;

/** A trimmed SoC tree: RAM, a GICv3 and a Mali gpu node (no clocks, no power domains). */
export function maliDtb(o: MaliBoardOptions): Uint8Array {
  const cells = o.gicCells ?? 3;
  const irqs = o.irqs ?? [
    ['job', 20],
    ['mmu', 21],
    ['gpu', 19],
  ];
  const spec = (spi: number): number[] => (cells === 4 ? [0, spi, 4, 0] : [0, spi, 4]);
  const base = o.base ?? 0xff9a_0000;
  return writeDtb(
    buildFdt({
      root: node(
        '',
        [
          prop.u32('#address-cells', 2),
          prop.u32('#size-cells', 2),
          prop.strings('compatible', o.rootCompatible ?? ['test,board']),
          prop.u32('interrupt-parent', ref('gic')),
        ],
        [
          node('memory@0', [prop.string('device_type', 'memory'), prop.reg(2, 2, [RAM_BASE, RAM_SIZE])]),
          node('gic: interrupt-controller@fee00000', [
            prop.string('compatible', 'arm,gic-v3'),
            prop.empty('interrupt-controller'),
            prop.u32('#interrupt-cells', cells),
            prop.reg(2, 2, [0xfee0_0000, 0x1_0000]),
          ]),
          node(`gpu@${base.toString(16)}`, [
            prop.strings('compatible', o.compatible),
            prop.reg(2, 2, [base, o.size ?? 0x1_0000]),
            prop.cells('interrupts', ...irqs.flatMap(([, spi]) => spec(spi))),
            prop.strings('interrupt-names', irqs.map(([n]) => n)),
            ...(o.extra ?? []),
          ]),
        ],
      ),
    }),
  );
}

export interface MaliRig {
  board: Board;
  gpu: MaliGpu;
  bus: MmioBus;
  mem: PhysMem;
  base: number;
  r32(off: number): number;
  w32(off: number, v: number): void;
}

export function maliRig(o: MaliBoardOptions): MaliRig {
  const board = Board.fromDtb(maliDtb(o));
  const [gpu] = board.modelsOfType(MaliGpu);
  if (!gpu) throw new Error('no Mali model was instantiated');
  const base = o.base ?? 0xff9a_0000;
  return {
    board,
    gpu,
    bus: board.bus,
    mem: board.mem,
    base,
    r32: (off) => board.bus.read32(base + off),
    w32: (off, v) => board.bus.write32(base + off, v),
  };
}

/** The RK3399 node as its dtsi writes it: 4-cell GIC, SPI 20/21/19 named job/mmu/gpu. */
export function rk3399(extra: DraftProp[] = []): MaliRig {
  return maliRig({ compatible: ['rockchip,rk3399-mali', 'arm,mali-t860'], rootCompatible: ['rockchip,rk3399'], gicCells: 4, extra });
}

// ---- driver-like sequences (as panfrost does them) ---------------------------------------------

/** Polls `off` until `done(value)`; throws after `limit` reads (a driver's timeout). */
export function poll(r: MaliRig, off: number, done: (v: number) => boolean, limit = 100): number {
  for (let i = 0; i < limit; i++) {
    const v = r.r32(off);
    if (done(v)) return i + 1;
  }
  throw new Error(`register 0x${off.toString(16)} did not reach the expected value after ${limit} reads`);
}

/** Soft reset, then L2, shader and tiler power-up with READY polling. Returns the number of polls. */
export function resetAndPowerUp(r: MaliRig): number {
  let polls = 0;
  r.w32(REG.GPU_INT_MASK, 0);
  r.w32(REG.GPU_INT_CLEAR, GPU_IRQ_RESET_COMPLETED);
  r.w32(REG.GPU_CMD, GPU_CMD_SOFT_RESET);
  polls += poll(r, REG.GPU_INT_RAWSTAT, (v) => (v & GPU_IRQ_RESET_COMPLETED) !== 0);
  r.w32(REG.GPU_INT_CLEAR, 0xffffffff);
  const l2 = r.r32(REG.L2_PRESENT_LO);
  const shader = r.r32(REG.SHADER_PRESENT_LO);
  const tiler = r.r32(REG.TILER_PRESENT_LO);
  r.w32(REG.L2_PWRON_LO, l2);
  polls += poll(r, REG.L2_READY_LO, (v) => v === l2);
  r.w32(REG.SHADER_PWRON_LO, shader);
  polls += poll(r, REG.SHADER_READY_LO, (v) => v === shader);
  r.w32(REG.TILER_PWRON_LO, tiler);
  polls += poll(r, REG.TILER_READY_LO, (v) => v === tiler);
  r.w32(REG.MMU_INT_MASK, 0xffffffff);
  r.w32(REG.JOB_INT_MASK, 0xffffffff);
  return polls;
}

export function waitReady(r: MaliRig, n: number): number {
  return poll(r, as(n, AS.STATUS), (v) => (v & AS_ACTIVE) === 0);
}

export function writeCmd(r: MaliRig, n: number, cmd: number): void {
  waitReady(r, n);
  r.w32(as(n, AS.COMMAND), cmd);
}

/** fls64 */
function fls(v: bigint): number {
  let n = 0;
  while (v > 0n) {
    v >>= 1n;
    n++;
  }
  return n;
}

/** LOCKADDR for [start, start+size): the smallest aligned power-of-two block covering it, >= 32 KiB. */
export function lockRegion(start: number, size: number): bigint {
  const s = BigInt(start);
  const end = s + BigInt(size);
  const width = Math.max(fls(s ^ (end - 1n)), 15) - 1;
  const masked = s & ~((1n << BigInt(width)) - 1n);
  return masked | BigInt(width);
}

/** LOCK [iova, iova+size), then `op`, then wait (panfrost's mmu_hw_do_operation_locked). */
export function mmuOp(r: MaliRig, n: number, iova: number, size: number, op: number): void {
  if (op !== AS_CMD.UNLOCK && size > 0) {
    const region = lockRegion(iova, size);
    r.w32(as(n, AS.LOCKADDR_LO), Number(region & 0xffffffffn));
    r.w32(as(n, AS.LOCKADDR_HI), Number(region >> 32n));
    writeCmd(r, n, AS_CMD.LOCK);
  }
  writeCmd(r, n, op);
  waitReady(r, n);
}

/** FLUSH_MEM over everything, TRANSTAB/MEMATTR, UPDATE (panfrost_mmu_enable). */
export function enableAs(r: MaliRig, n: number, transtab: bigint, memattr = LINUX_MALI_MEMATTR): void {
  mmuOp(r, n, 0, 2 ** 48, AS_CMD.FLUSH_MEM);
  r.w32(as(n, AS.TRANSTAB_LO), Number(transtab & 0xffffffffn));
  r.w32(as(n, AS.TRANSTAB_HI), Number(transtab >> 32n));
  r.w32(as(n, AS.MEMATTR_LO), Number(memattr & 0xffffffffn));
  r.w32(as(n, AS.MEMATTR_HI), Number(memattr >> 32n));
  writeCmd(r, n, AS_CMD.UPDATE);
  waitReady(r, n);
}

/** FLUSH_MEM, zeros, UPDATE (panfrost_mmu_disable). */
export function disableAs(r: MaliRig, n: number): void {
  mmuOp(r, n, 0, 2 ** 48, AS_CMD.FLUSH_MEM);
  for (const off of [AS.TRANSTAB_LO, AS.TRANSTAB_HI, AS.MEMATTR_LO, AS.MEMATTR_HI]) r.w32(as(n, off), 0);
  writeCmd(r, n, AS_CMD.UPDATE);
}

/** Programs slot `s`'s NEXT registers for a chain at `head` in AS `asn` and starts it. */
export function submit(r: MaliRig, s: number, asn: number, head: number, config = 0): void {
  const affinity = r.r32(REG.SHADER_PRESENT_LO);
  r.w32(js(s, JS.HEAD_NEXT_LO), head % 2 ** 32);
  r.w32(js(s, JS.HEAD_NEXT_HI), Math.floor(head / 2 ** 32));
  r.w32(js(s, JS.AFFINITY_NEXT_LO), affinity);
  r.w32(js(s, JS.AFFINITY_NEXT_HI), 0);
  r.w32(js(s, JS.CONFIG_NEXT), asn | (8 << 16) | (3 << 8) | (3 << 12) | config);
  r.w32(js(s, JS.COMMAND_NEXT), JS_CMD_START);
}

// ---- ARM_MALI_LPAE tables, by hand -------------------------------------------------------------

export interface Prot {
  read?: boolean;
  write?: boolean;
  /** false sets XN (bit 54). */
  exec?: boolean;
}

/**
 * A 4-level ARM_MALI_LPAE table (4 KiB granule) written by hand: table descriptors 0b11;
 * leaves (level-3 pages and level-1/2 blocks) 0b01 with AF (bit 10), outer shareable
 * (bits [9:8] = 2), AttrIndx in [4:2], read in bit 6, write in bit 7, execute-never in bit 54.
 */
export class MaliTables {
  readonly pgd: number;
  private next: number;
  private readonly end: number;

  constructor(
    private readonly mem: PhysMem,
    base: number,
    size = 0x10_0000,
  ) {
    this.next = base;
    this.end = base + size;
    this.pgd = this.alloc();
  }

  private alloc(): number {
    if (this.next >= this.end) throw new Error('table pool exhausted');
    const pa = this.next;
    this.next += 4096;
    this.mem.zero(pa, 4096);
    return pa;
  }

  /** TRANSTAB value: PGD | ADRMODE_TABLE | READ_INNER (what io-pgtable's Mali format returns). */
  transtab(): bigint {
    return BigInt(this.pgd) | BigInt(ADRMODE_TABLE | TRANSTAB_READ_INNER);
  }

  private slot(va: number, level: number, create: boolean): number | undefined {
    let table = this.pgd;
    for (let l = 0; l < level; l++) {
      const idx = Math.floor(va / 2 ** (39 - 9 * l)) % 512;
      const a = table + idx * 8;
      const d = this.mem.read64(a);
      if ((d & 3n) === 3n) {
        table = Number(d & 0x0000_ffff_ffff_f000n);
        continue;
      }
      if (!create) return undefined;
      const t = this.alloc();
      this.mem.write64(a, BigInt(t) | 3n);
      table = t;
    }
    const idx = Math.floor(va / 2 ** (39 - 9 * level)) % 512;
    return table + idx * 8;
  }

  static leaf(pa: number, p: Prot = {}, attrIndx = 0): bigint {
    let d = BigInt(pa) | 1n | (1n << 10n) | (2n << 8n) | (BigInt(attrIndx) << 2n);
    if (p.read ?? true) d |= 1n << 6n;
    if (p.write ?? true) d |= 1n << 7n;
    if (p.exec === false) d |= 1n << 54n;
    return d;
  }

  /** Maps [va, va+size) to [pa, ...) with 4 KiB pages (or one 2 MiB block when `block`). */
  map(va: number, pa: number, size: number, p: Prot = {}, block = false): void {
    if (block) {
      for (let o = 0; o < size; o += 2 ** 21) this.mem.write64(this.slot(va + o, 2, true)!, MaliTables.leaf(pa + o, p));
      return;
    }
    for (let o = 0; o < size; o += 4096) this.mem.write64(this.slot(va + o, 3, true)!, MaliTables.leaf(pa + o, p));
  }

  unmap(va: number, size: number, block = false): void {
    const step = block ? 2 ** 21 : 4096;
    for (let o = 0; o < size; o += step) {
      const a = this.slot(va + o, block ? 2 : 3, false);
      if (a !== undefined) this.mem.write64(a, 0n);
    }
  }
}

// ---- job descriptors, by hand -----------------------------------------------------------------

export const JOB = { NULL: 1, WRITE_VALUE: 2, COPY: 0x20, FILL: 0x21, CHECKSUM: 0x22, EXECUTE: 0x23, ATOMIC_ADD: 0x24 } as const;

/** Writes a 64-byte descriptor at PA `pa` (header per the README's layout). */
export function writeJob(
  mem: PhysMem,
  pa: number,
  j: { type: number; next?: number; src?: number; dst?: number; length?: number; value?: number; kind?: number; imm?: bigint },
): void {
  mem.zero(pa, 64);
  mem.write32(pa + 0x10, 1 | (j.type << 1));
  mem.write64(pa + 0x18, BigInt(j.next ?? 0));
  if (j.type === JOB.WRITE_VALUE) {
    mem.write64(pa + 0x20, BigInt(j.dst ?? 0));
    mem.write32(pa + 0x28, j.kind ?? 6);
    mem.write64(pa + 0x30, j.imm ?? 0n);
    return;
  }
  mem.write64(pa + 0x20, BigInt(j.src ?? 0));
  mem.write64(pa + 0x28, BigInt(j.dst ?? 0));
  mem.write32(pa + 0x30, j.length ?? 0);
  mem.write32(pa + 0x34, j.value ?? 0);
}

export function fnv1a(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (const b of bytes) {
    h ^= b;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
