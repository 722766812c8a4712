/**
 * Bench-side "driver" for the SMMUv3 model: programs it through MMIO and memory the way the
 * hand-written driver in test/smmu-v3.test.ts does (linear stream table, command and event
 * queues, Linux's enable sequence), and builds 4K-granule LPAE tables in PhysMem by hand.
 * Setup code only: it uses BigInt freely; nothing here runs in a timed loop except `tlbi*`
 * (which the benchmarks call outside the timed region).
 */
import {
  Board,
  CMD_CFGI_ALL,
  CMD_CFGI_STE,
  CMD_SYNC,
  CMD_TLBI_NH_ASID,
  CMD_TLBI_NSNH_ALL,
  CMD_TLBI_S12_VMALL,
  CR0_CMDQEN,
  CR0_EVTQEN,
  CR0_SMMUEN,
  SMMU_CMDQ_BASE,
  SMMU_CMDQ_CONS,
  SMMU_CMDQ_PROD,
  SMMU_CR0,
  SMMU_CR0ACK,
  SMMU_CR1,
  SMMU_CR2,
  SMMU_EVTQ_BASE,
  SMMU_EVTQ_CONS,
  SMMU_EVTQ_PROD,
  SMMU_MMIO_SIZE,
  SMMU_STRTAB_BASE,
  SMMU_STRTAB_BASE_CFG,
  SMMUV3_PRESET_QEMU,
  SmmuV3,
  type PhysMem,
  type SmmuV3Preset,
} from '@gki/hw';

export const RAM = 0x4000_0000;
const MMIO = 0x0900_0000;
const SID_BITS = 8;
const CMDQ_LOG2 = 8;
const EVTQ_LOG2 = 6;

const u64 = (v: bigint): bigint => BigInt.asUintN(64, v);

/** Stage-1 page: AF, inner shareable, AP[1] (EL0 access), AttrIndx 0. */
export const S1_PAGE = 0x3n | (1n << 10n) | (3n << 8n) | (1n << 6n);
/** Stage-2 page: AF, inner shareable, S2AP read/write, MemAttr normal write-back. */
export const S2_PAGE = 0x3n | (1n << 10n) | (3n << 8n) | (3n << 6n) | (0xfn << 2n);

function check(cond: boolean, what: string): void {
  if (!cond) throw new Error(`smmu bench setup: ${what}`);
}

/** A board with one SMMUv3 and a bump allocator for tables, queues and data buffers. */
export class SmmuRig {
  readonly board: Board;
  readonly mem: PhysMem;
  readonly smmu: SmmuV3;
  private next: number;
  private strtab = 0;
  private cmdq = 0;
  private prod = 0;

  constructor(ramSize: number, tlbCapacity?: number, walkCache = true, preset: SmmuV3Preset = SMMUV3_PRESET_QEMU) {
    this.board = new Board('smmu-bench', [{ base: RAM, size: ramSize }]);
    this.mem = this.board.mem;
    this.next = RAM + 0x10_0000;
    this.smmu = new SmmuV3(this.mem, { preset, tlbCapacity, walkCache });
    this.board.bus.map(MMIO, SMMU_MMIO_SIZE, this.smmu);
    this.init();
  }

  /** `size` zeroed bytes aligned to `align`. */
  alloc(size: number, align = 4096): number {
    const a = Math.ceil(this.next / align) * align;
    check(this.mem.contains(a, size), 'out of RAM');
    this.next = a + size;
    this.mem.zero(a, size);
    return a;
  }

  private r(off: number): number {
    return this.board.bus.read32(MMIO + off);
  }
  private w(off: number, v: number): void {
    this.board.bus.write32(MMIO + off, v);
  }
  private w64(off: number, v: bigint): void {
    this.board.bus.write64(MMIO + off, v);
  }
  private enable(bits: number): void {
    this.w(SMMU_CR0, bits);
    check(this.r(SMMU_CR0ACK) === bits, `CR0ACK != ${bits}`);
  }

  private init(): void {
    this.enable(0);
    this.w(SMMU_CR1, 0xd75);
    this.w(SMMU_CR2, 0x6);
    this.strtab = this.alloc(64 << SID_BITS, 64 << SID_BITS);
    this.w64(SMMU_STRTAB_BASE, (1n << 62n) | BigInt(this.strtab));
    this.w(SMMU_STRTAB_BASE_CFG, SID_BITS);
    this.cmdq = this.alloc(16 << CMDQ_LOG2, 16 << CMDQ_LOG2);
    this.w64(SMMU_CMDQ_BASE, (1n << 62n) | BigInt(this.cmdq) | BigInt(CMDQ_LOG2));
    this.w(SMMU_CMDQ_PROD, 0);
    this.w(SMMU_CMDQ_CONS, 0);
    this.enable(CR0_CMDQEN);
    this.cmd(CMD_CFGI_ALL, 0n, 31n);
    this.cmd(CMD_TLBI_NSNH_ALL);
    const evtq = this.alloc(32 << EVTQ_LOG2, 32 << EVTQ_LOG2);
    this.w64(SMMU_EVTQ_BASE, (1n << 62n) | BigInt(evtq) | BigInt(EVTQ_LOG2));
    this.w(SMMU_EVTQ_PROD, 0);
    this.w(SMMU_EVTQ_CONS, 0);
    this.enable(CR0_CMDQEN | CR0_EVTQEN);
    this.enable(CR0_CMDQEN | CR0_EVTQEN | CR0_SMMUEN);
  }

  /** Queues one command followed by CMD_SYNC, publishes PROD and checks that both completed. */
  cmd(op: number, dw0 = 0n, dw1 = 0n): void {
    this.put(op, dw0, dw1);
    this.put(CMD_SYNC);
    this.w(SMMU_CMDQ_PROD, this.prod);
    check(this.r(SMMU_CMDQ_CONS) === this.prod, `command 0x${op.toString(16)} did not complete`);
  }

  private put(op: number, dw0 = 0n, dw1 = 0n): void {
    const n = 2 ** CMDQ_LOG2;
    const a = this.cmdq + (this.prod & (n - 1)) * 16;
    this.mem.write64(a, u64(BigInt(op) | dw0));
    this.mem.write64(a + 8, u64(dw1));
    this.prod = (this.prod + 1) & (2 * n - 1);
  }

  writeSte(sid: number, dws: readonly bigint[]): void {
    const a = this.strtab + sid * 64;
    for (let i = 0; i < 8; i++) this.mem.write64(a + i * 8, u64(dws[i] ?? 0n));
    this.cmd(CMD_CFGI_STE, BigInt(sid) << 32n, 1n);
  }

  /** Invalidates every stage-1 entry of `asid` (non-nested, VMID 0 on a stage-1-only STE). */
  tlbiAsid(asid: number): void {
    this.cmd(CMD_TLBI_NH_ASID, BigInt(asid) << 48n);
  }

  /** Invalidates every entry (stage 2 and nested) of `vmid`. */
  tlbiVmid(vmid: number): void {
    this.cmd(CMD_TLBI_S12_VMALL, BigInt(vmid) << 32n);
  }
}

/** A 4K-granule table tree for a `bits`-bit input space, built by hand in PhysMem. */
export class Tables {
  readonly root: number;
  readonly startLevel: number;
  /** The next-level tables created so far (below the root), in creation order. */
  readonly tables: number[] = [];
  constructor(
    private readonly rig: SmmuRig,
    readonly bits: number,
  ) {
    this.startLevel = 4 - Math.ceil((bits - 12) / 9);
    this.root = rig.alloc(4096);
  }

  /** Address of the leaf slot for `va`, creating next-level tables on the way. */
  leafAddr(va: number): number {
    const mem = this.rig.mem;
    let table = this.root;
    for (let level = this.startLevel; ; level++) {
      const shift = 12 + 9 * (3 - level);
      const a = table + (Math.floor(va / 2 ** shift) % 512) * 8;
      if (level === 3) return a;
      let desc = mem.read64(a);
      if ((desc & 3n) !== 3n) {
        const t = this.rig.alloc(4096);
        this.tables.push(t);
        desc = BigInt(t) | 3n;
        mem.write64(a, desc);
      }
      table = Number(desc & 0x0000_ffff_ffff_f000n);
    }
  }

  /** Maps `count` 4 KiB pages from `va` to `pa` with the leaf attributes `attrs`. */
  mapRange(va: number, pa: number, count: number, attrs: bigint): void {
    for (let i = 0; i < count; i++) this.rig.mem.write64(this.leafAddr(va + i * 4096), BigInt(pa + i * 4096) | attrs);
  }
}

/** Linux-style stage-1 CD: T0SZ = 64 - bits, 4K, WBWA, ISH, EPD1, V, IPS 44, AA64, R, A, ASET, ASID. */
export function cdWords(ttb0: number, asid: number, bits: number): bigint[] {
  let dw0 = BigInt(64 - bits) | (1n << 8n) | (1n << 10n) | (3n << 12n) | (1n << 30n) | (1n << 31n);
  dw0 |= 4n << 32n;
  dw0 |= (1n << 41n) | (1n << 45n) | (1n << 46n) | (1n << 47n);
  dw0 |= BigInt(asid) << 48n;
  return [dw0, BigInt(ttb0), 0n, 0xffn];
}

export function writeCd(rig: SmmuRig, at: number, words: readonly bigint[]): void {
  for (let i = 0; i < 8; i++) rig.mem.write64(at + 8 * i, u64(words[i] ?? 0n));
}

/** STE dw0/dw1 for stage 1 only (Config = 5), one CD, S1DSS = SSID0. */
export function steS1(cdTable: number): bigint[] {
  return [1n | (5n << 1n) | BigInt(cdTable), 2n | (1n << 2n) | (1n << 4n) | (3n << 6n), 0n, 0n];
}

/** STE dw2/dw3 for stage 2: 39-bit IPA, 4K, SL0 = 1 (3 levels), PS 44 bits, AA64, PTW, S2R. */
export function s2Fields(vmid: number, ttb: number): [bigint, bigint] {
  const dw2 = BigInt(vmid) | (25n << 32n) | (1n << 38n) | (1n << 40n) | (1n << 42n) | (3n << 44n) | (4n << 48n) | (1n << 51n) | (1n << 54n) | (1n << 58n);
  return [dw2, BigInt(ttb)];
}

export function steS2(vmid: number, ttb: number): bigint[] {
  const [dw2, dw3] = s2Fields(vmid, ttb);
  return [1n | (6n << 1n), 0n, dw2, dw3];
}

/** Nested STE (Config = 7): the CD pointer is an IPA, stage 2 as `s2Fields`. */
export function steNested(cdIpa: number, vmid: number, s2ttb: number): bigint[] {
  const [dw2, dw3] = s2Fields(vmid, s2ttb);
  return [1n | (7n << 1n) | BigInt(cdIpa), 2n | (1n << 2n) | (1n << 4n) | (3n << 6n), dw2, dw3];
}
