import { describe, expect, it } from 'vitest';
import {
  Board,
  CERROR_ILL,
  CMD_CFGI_ALL,
  CMD_CFGI_CD,
  CMD_CFGI_STE,
  CMD_PREFETCH_CONFIG,
  CMD_SYNC,
  CMD_TLBI_NH_ASID,
  CMD_TLBI_NH_VA,
  CMD_TLBI_NSNH_ALL,
  CMD_TLBI_S12_VMALL,
  CMD_TLBI_S2_IPA,
  CR0_CMDQEN,
  CR0_EVTQEN,
  CR0_SMMUEN,
  DMA_STATUS_DONE,
  DMA_STATUS_FAULT,
  DmaMaster,
  EVT_C_BAD_CD,
  EVT_C_BAD_STE,
  EVT_C_BAD_STREAMID,
  EVT_C_BAD_SUBSTREAMID,
  EVT_CLASS_CD,
  EVT_CLASS_IN,
  EVT_F_ACCESS,
  EVT_F_ADDR_SIZE,
  EVT_F_PERMISSION,
  EVT_F_STE_FETCH,
  EVT_F_TRANSLATION,
  EVT_F_WALK_EABT,
  GBPA_ABORT,
  GBPA_UPDATE,
  GERROR_CMDQ_ERR,
  IRQ_CTRL_EVTQ_IRQEN,
  IRQ_CTRL_GERROR_IRQEN,
  Q_OVF_FLAG,
  SMMU_AIDR,
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
  SMMU_GBPA,
  SMMU_GERROR,
  SMMU_GERRORN,
  SMMU_IDR0,
  SMMU_IDR1,
  SMMU_IDR3,
  SMMU_IDR5,
  SMMU_IIDR,
  SMMU_IRQ_CTRL,
  SMMU_IRQ_CTRLACK,
  SMMU_MMIO_SIZE,
  SMMU_STRTAB_BASE,
  SMMU_STRTAB_BASE_CFG,
  SMMUV3_PRESET_FVP,
  SMMUV3_PRESET_MINIMAL,
  SMMUV3_PRESET_QEMU,
  SmmuV3,
  decodeSmmuEvent,
  decodeSmmuV3Caps,
  smmuV3Preset,
  type SmmuV3Preset,
  type WalkAccess,
} from '@gki/hw';

// ---------------------------------------------------------------------------------------------
// A tiny test "driver": programs the model through MMIO and memory, the way Linux does.

const RAM = 0x4000_0000;
const RAM_SIZE = 64 << 20;
const MMIO = 0x0900_0000;
const IRQ_EVTQ = 40;
const IRQ_GERROR = 41;
const IRQ_SYNC = 42;

const u64 = (v: bigint): bigint => BigInt.asUintN(64, v);
const READ: WalkAccess = { write: false, exec: false, priv: false };
const WRITE: WalkAccess = { write: true, exec: false, priv: false };

interface InitOpts {
  preset?: SmmuV3Preset;
  /** Two-level stream table with this SPLIT (else linear). */
  split?: number;
  sidBits?: number;
  cmdqLog2?: number;
  evtqLog2?: number;
  tlbCapacity?: number;
  tlbWays?: number;
}

class Driver {
  readonly board = new Board('t', [{ base: RAM, size: RAM_SIZE }]);
  readonly mem = this.board.mem;
  readonly smmu: SmmuV3;
  private next = RAM + 0x10_0000;
  strtab = 0;
  cmdq = 0;
  evtq = 0;
  cmdqLog2 = 8;
  evtqLog2 = 6;
  prod = 0;
  evCons = 0;
  gerrors = 0;
  evtIrqs = 0;
  syncIrqs = 0;

  constructor(readonly opts: InitOpts = {}) {
    const irq = this.board.irq;
    this.smmu = new SmmuV3(this.mem, {
      preset: opts.preset ?? SMMUV3_PRESET_QEMU,
      eventqIrq: irq.line(IRQ_EVTQ),
      gerrorIrq: irq.line(IRQ_GERROR),
      cmdqSyncIrq: irq.line(IRQ_SYNC),
      tlbCapacity: opts.tlbCapacity,
      tlbWays: opts.tlbWays,
    });
    this.board.bus.map(MMIO, SMMU_MMIO_SIZE, this.smmu);
    irq.onIrq(IRQ_GERROR, () => this.gerrors++);
    irq.onIrq(IRQ_EVTQ, () => this.evtIrqs++);
    irq.onIrq(IRQ_SYNC, () => this.syncIrqs++);
  }

  alloc(size: number, align = 4096): number {
    const a = Math.ceil(this.next / align) * align;
    this.next = a + size;
    this.mem.zero(a, size);
    return a;
  }

  r(off: number): number {
    return this.board.bus.read32(MMIO + off);
  }
  w(off: number, v: number): void {
    this.board.bus.write32(MMIO + off, v);
  }
  w64(off: number, v: bigint): void {
    this.board.bus.write64(MMIO + off, v);
  }

  /** Linux's reset/enable sequence, with the ACK polls. */
  init(): this {
    const o = this.opts;
    this.cmdqLog2 = o.cmdqLog2 ?? 8;
    this.evtqLog2 = o.evtqLog2 ?? 6;
    const sidBits = o.sidBits ?? 8;
    this.w(SMMU_CR0, 0);
    expect(this.r(SMMU_CR0ACK)).toBe(0);
    this.w(SMMU_CR1, 0xd75);
    this.w(SMMU_CR2, 0x6);
    if (o.split === undefined) {
      this.strtab = this.alloc(64 << sidBits, 64 << sidBits);
      this.w64(SMMU_STRTAB_BASE, (1n << 62n) | BigInt(this.strtab));
      this.w(SMMU_STRTAB_BASE_CFG, sidBits);
    } else {
      const l1 = 2 ** (sidBits - o.split);
      this.strtab = this.alloc(l1 * 8, 64);
      this.w64(SMMU_STRTAB_BASE, (1n << 62n) | BigInt(this.strtab));
      this.w(SMMU_STRTAB_BASE_CFG, (1 << 16) | (o.split << 6) | sidBits);
    }
    this.cmdq = this.alloc(16 << this.cmdqLog2, 16 << this.cmdqLog2);
    this.w64(SMMU_CMDQ_BASE, (1n << 62n) | BigInt(this.cmdq) | BigInt(this.cmdqLog2));
    this.w(SMMU_CMDQ_PROD, 0);
    this.w(SMMU_CMDQ_CONS, 0);
    this.w(SMMU_CR0, CR0_CMDQEN);
    expect(this.r(SMMU_CR0ACK)).toBe(CR0_CMDQEN);
    this.cmd(CMD_CFGI_ALL, 0n, 31n);
    this.sync();
    this.cmd(CMD_TLBI_NSNH_ALL);
    this.sync();
    this.evtq = this.alloc(32 << this.evtqLog2, 32 << this.evtqLog2);
    this.w64(SMMU_EVTQ_BASE, (1n << 62n) | BigInt(this.evtq) | BigInt(this.evtqLog2));
    this.w(SMMU_EVTQ_PROD, 0);
    this.w(SMMU_EVTQ_CONS, 0);
    this.w(SMMU_CR0, CR0_CMDQEN | CR0_EVTQEN);
    expect(this.r(SMMU_CR0ACK)).toBe(CR0_CMDQEN | CR0_EVTQEN);
    this.w(SMMU_IRQ_CTRL, 0);
    expect(this.r(SMMU_IRQ_CTRLACK)).toBe(0);
    this.w(SMMU_IRQ_CTRL, IRQ_CTRL_EVTQ_IRQEN | IRQ_CTRL_GERROR_IRQEN);
    expect(this.r(SMMU_IRQ_CTRLACK)).toBe(IRQ_CTRL_EVTQ_IRQEN | IRQ_CTRL_GERROR_IRQEN);
    this.w(SMMU_CR0, CR0_CMDQEN | CR0_EVTQEN | CR0_SMMUEN);
    expect(this.r(SMMU_CR0ACK)).toBe(CR0_CMDQEN | CR0_EVTQEN | CR0_SMMUEN);
    return this;
  }

  /** Queues one command (dw0 = opcode | fields0, dw1) without publishing PROD. */
  put(op: number, dw0 = 0n, dw1 = 0n): void {
    const n = 2 ** this.cmdqLog2;
    const a = this.cmdq + (this.prod & (n - 1)) * 16;
    this.mem.write64(a, u64(BigInt(op) | dw0));
    this.mem.write64(a + 8, u64(dw1));
    this.prod = (this.prod + 1) & (2 * n - 1);
  }
  publish(): void {
    this.w(SMMU_CMDQ_PROD, this.prod);
  }
  cmd(op: number, dw0 = 0n, dw1 = 0n): void {
    this.put(op, dw0, dw1);
    this.publish();
  }
  sync(cs = 0): void {
    this.cmd(CMD_SYNC, BigInt(cs) << 12n);
    expect(this.r(SMMU_CMDQ_CONS)).toBe(this.prod);
  }
  cfgiSte(sid: number): void {
    this.cmd(CMD_CFGI_STE, BigInt(sid) << 32n, 1n);
    this.sync();
  }

  steAddr(sid: number): number {
    if (this.opts.split === undefined) return this.strtab + sid * 64;
    const split = this.opts.split;
    const l1 = this.strtab + Math.floor(sid / 2 ** split) * 8;
    let l1d = this.mem.read64(l1);
    if ((l1d & 0x1fn) === 0n) {
      const l2 = this.alloc(64 << split, 64 << split);
      l1d = BigInt(l2) | BigInt(split + 1);
      this.mem.write64(l1, l1d);
    }
    return Number(l1d & 0x000f_ffff_ffff_ffc0n) + (sid % 2 ** split) * 64;
  }
  writeSte(sid: number, dws: readonly bigint[]): void {
    const a = this.steAddr(sid);
    for (let i = 0; i < 8; i++) this.mem.write64(a + i * 8, u64(dws[i] ?? 0n));
  }

  /** Reads and consumes the pending event records (the driver's event IRQ thread). */
  drainEvents(): ReturnType<typeof decodeSmmuEvent>[] {
    const out: ReturnType<typeof decodeSmmuEvent>[] = [];
    const n = 2 ** this.evtqLog2;
    const wmask = 2 * n - 1;
    let prod = this.r(SMMU_EVTQ_PROD);
    for (; (this.evCons & wmask) !== (prod & wmask); this.evCons = (this.evCons & ~wmask) | (((this.evCons & wmask) + 1) & wmask)) {
      const a = this.evtq + (this.evCons & (n - 1)) * 32;
      const words: number[] = [];
      for (let i = 0; i < 8; i++) words.push(this.mem.read32(a + 4 * i));
      out.push(decodeSmmuEvent(words));
    }
    prod = this.r(SMMU_EVTQ_PROD);
    // Acknowledge any overflow by copying OVFLG into OVACKFLG.
    this.evCons = ((this.evCons & ~Q_OVF_FLAG) | (prod & Q_OVF_FLAG)) >>> 0;
    this.w(SMMU_EVTQ_CONS, this.evCons);
    return out;
  }
}

// ---- page tables (4K granule), built by hand ----

const S1_PAGE = 0x3n | (1n << 10n) | (3n << 8n) | (1n << 6n); // page, AF, inner shareable, AP[1] (user), AttrIndx 0
const S1_RO = 1n << 7n;
const S2_PAGE = 0x3n | (1n << 10n) | (3n << 8n) | (3n << 6n) | (0xfn << 2n); // page, AF, ISH, S2AP RW, normal WB

/** A 4K-granule table tree for a `bits`-bit input space. */
class Tables {
  readonly root: number;
  readonly startLevel: number;
  /** The next-level tables created so far (below the root). */
  readonly tables: number[] = [];
  constructor(
    private readonly d: Driver,
    readonly bits: number,
  ) {
    this.startLevel = 4 - Math.ceil((bits - 12) / 9);
    this.root = d.alloc(4096);
  }
  /** Writes the leaf descriptor for `va` (creating tables), returns its address. */
  leafAddr(va: number): number {
    let table = this.root;
    for (let level = this.startLevel; ; level++) {
      const shift = 12 + 9 * (3 - level);
      const idx = Math.floor(va / 2 ** shift) % 512;
      const a = table + idx * 8;
      if (level === 3) return a;
      let desc = this.d.mem.read64(a);
      if ((desc & 3n) !== 3n) {
        const t = this.d.alloc(4096);
        this.tables.push(t);
        desc = BigInt(t) | 3n;
        this.d.mem.write64(a, desc);
      }
      table = Number(desc & 0x0000_ffff_ffff_f000n);
    }
  }
  map(va: number, pa: number, attrs: bigint): number {
    const a = this.leafAddr(va);
    this.d.mem.write64(a, BigInt(pa) | attrs);
    return a;
  }
}

/** Linux-style stage-1 CD: T0SZ from `bits`, 4K, WBWA, ISH, EPD1, V, IPS, AA64, R, A, ASET, ASID. */
function cdWords(ttb0: number, asid: number, bits = 39, opts: { record?: boolean; valid?: boolean } = {}): bigint[] {
  let dw0 = BigInt(64 - bits) | (1n << 8n) | (1n << 10n) | (3n << 12n) | (1n << 30n);
  if (opts.valid ?? true) dw0 |= 1n << 31n;
  dw0 |= 4n << 32n; // IPS 44 bits
  dw0 |= (1n << 41n) | (1n << 46n) | (1n << 47n);
  if (opts.record ?? true) dw0 |= 1n << 45n;
  dw0 |= BigInt(asid) << 48n;
  return [dw0, BigInt(ttb0), 0n, 0xffn];
}

function writeCd(d: Driver, at: number, words: readonly bigint[]): void {
  for (let i = 0; i < 8; i++) d.mem.write64(at + 8 * i, words[i] ?? 0n);
}

const steS1 = (cdTable: number, opts: { cdMax?: number; s1dss?: number; vmid?: number } = {}): bigint[] => [
  1n | (5n << 1n) | BigInt(cdTable) | (BigInt(opts.cdMax ?? 0) << 59n),
  BigInt(opts.s1dss ?? 2) | (1n << 2n) | (1n << 4n) | (3n << 6n),
  BigInt(opts.vmid ?? 0),
  0n,
];

/** Stage-2 STE words: 39-bit IPA, 4K, SL0 = 1 (start level 1), PS 44 bits, AA64, PTW, S2R. */
function s2Fields(vmid: number, ttb: number, s2r = true): [bigint, bigint] {
  const dw2 =
    BigInt(vmid) | (25n << 32n) | (1n << 38n) | (1n << 40n) | (1n << 42n) | (3n << 44n) | (4n << 48n) | (1n << 51n) | (1n << 54n) | (s2r ? 1n << 58n : 0n);
  return [dw2, BigInt(ttb)];
}
const steS2 = (vmid: number, ttb: number, s2r = true): bigint[] => {
  const [dw2, dw3] = s2Fields(vmid, ttb, s2r);
  return [1n | (6n << 1n), 0n, dw2, dw3];
};

/** A driver with a stage-1 domain on `sid`: CD table of one CD, ASID `asid`. */
function s1Setup(opts: InitOpts = {}, sid = 3, asid = 7) {
  const d = new Driver(opts).init();
  const pt = new Tables(d, 39);
  const cd = d.alloc(64, 64);
  writeCd(d, cd, cdWords(pt.root, asid));
  d.writeSte(sid, steS1(cd));
  d.cfgiSte(sid);
  return { d, pt, cd, sid, asid };
}

function tr(s: SmmuV3, sid: number, iova: number, access: WalkAccess = READ, ssid = -1): number | null {
  const out = { pa: -1 };
  return s.translate(sid, ssid, iova, access, out) ? out.pa : null;
}

// ---------------------------------------------------------------------------------------------

describe('SMMUv3 identification', () => {
  it('the FVP preset advertises only what the model implements', () => {
    const d = new Driver({ preset: SMMUV3_PRESET_FVP });
    const idr0 = d.r(SMMU_IDR0);
    const idr1 = d.r(SMMU_IDR1);
    // IDR0: TTF[3:2] = AArch64 only, BTM[5] = 0, ATS[10] = 0, ATOS[15] = 0, PRI[16] = 0,
    // VMW[17] = 0, TTENDIAN[22:21] = little-endian, STALL_MODEL[25:24] = no stalls
    expect((idr0 >>> 2) & 3).toBe(2);
    expect(idr0 & ((1 << 5) | (1 << 10) | (1 << 15) | (1 << 16) | (1 << 17))).toBe(0);
    expect((idr0 >>> 21) & 3).toBe(2);
    expect((idr0 >>> 24) & 3).toBe(1);
    // IDR1: no attribute overrides [27:26], no PRI queue [15:11]
    expect((idr1 >>> 26) & 3).toBe(0);
    expect((idr1 >>> 11) & 0x1f).toBe(0);
    expect(d.r(SMMU_IIDR)).toBe(0x4830_043b); // Arm MMU-600 r0p0
    expect(d.r(SMMU_AIDR)).toBe(1);
    const c = decodeSmmuV3Caps(SMMUV3_PRESET_FVP);
    expect(c).toMatchObject({ s1: true, s2: true, ats: false, pri: false, ttf: 2, asidBits: 8, vmidBits: 16, sidBits: 16, ssidBits: 20, oasBits: 48, gran4k: true, gran16k: false, gran64k: true, ril: false, httu: 2, twoLevelStrtab: true, cd2l: true, msi: true });
  });

  it('refuses to build presets claiming features the model lacks', () => {
    expect(() => smmuV3Preset({ ats: true })).toThrow(/ATS/);
    expect(() => smmuV3Preset({ pri: true })).toThrow(/PRI/);
    expect(() => smmuV3Preset({ ttf: 'both' })).toThrow(/AArch64 tables only/);
  });

  it('builds ID registers from features', () => {
    const c = decodeSmmuV3Caps(SMMUV3_PRESET_MINIMAL);
    expect(c).toMatchObject({ s1: true, s2: false, twoLevelStrtab: false, sidBits: 8, oasBits: 40, gran4k: true, gran64k: false, ril: false });
    const p = smmuV3Preset({ s1: false, s2: true, vmid16: true, oas: 52, ril: true, ssidSize: 5, sidSize: 20, gran16k: true });
    expect(p.idr[0] & 3).toBe(1);
    expect(decodeSmmuV3Caps(p)).toMatchObject({ s1: false, s2: true, vmidBits: 16, oasBits: 52, ril: true, ssidBits: 5, sidBits: 20, gran16k: true });
    expect(() => smmuV3Preset({ oas: 47 })).toThrow(RangeError);
  });
});

describe('SMMUv3 registers', () => {
  it('acknowledges CR0 and IRQ_CTRL, applies GBPA only with UPDATE', () => {
    const d = new Driver();
    d.w(SMMU_CR0, CR0_CMDQEN | 0x8000_0000);
    expect(d.r(SMMU_CR0)).toBe(CR0_CMDQEN);
    expect(d.r(SMMU_CR0ACK)).toBe(CR0_CMDQEN);
    d.w(SMMU_IRQ_CTRL, 0xff);
    expect(d.r(SMMU_IRQ_CTRLACK)).toBe(7);
    d.w(SMMU_GBPA, GBPA_ABORT);
    expect(d.r(SMMU_GBPA)).toBe(0);
    d.w(SMMU_GBPA, GBPA_UPDATE | GBPA_ABORT);
    expect(d.r(SMMU_GBPA)).toBe(GBPA_ABORT); // UPDATE reads back 0: the update completed
  });

  it('bypasses or aborts by GBPA while SMMUEN = 0', () => {
    const d = new Driver();
    expect(tr(d.smmu, 5, 0x1234_5000)).toBe(0x1234_5000);
    d.w(SMMU_GBPA, GBPA_UPDATE | GBPA_ABORT);
    expect(tr(d.smmu, 5, 0x1234_5000)).toBeNull();
    expect(d.smmu.stats.events).toBe(0);
  });

  it('reads page-1 queue pointers and aliases them in page 0', () => {
    const d = new Driver().init();
    expect(d.r(SMMU_EVTQ_PROD)).toBe(0);
    expect(d.r(0xa8)).toBe(d.r(SMMU_EVTQ_PROD));
  });
});

describe('SMMUv3 command queue', () => {
  it('consumes commands, counts them and completes CMD_SYNC by advancing CONS', () => {
    const d = new Driver().init();
    const before = d.smmu.stats.syncs;
    d.put(CMD_PREFETCH_CONFIG, 3n << 32n);
    d.put(CMD_TLBI_NH_ASID, 5n << 48n);
    d.put(CMD_SYNC, 2n << 12n); // CS = SEV
    d.publish();
    expect(d.r(SMMU_CMDQ_CONS)).toBe(d.prod);
    expect(d.smmu.stats.syncs).toBe(before + 1);
    expect(d.smmu.stats.sevs).toBe(1);
    expect(d.smmu.stats.commands).toMatchObject({ PREFETCH_CONFIG: 1, TLBI_NH_ASID: 1, CFGI_STE_RANGE: 1, TLBI_NSNH_ALL: 1 });
  });

  it('handles the wrap bit of PROD/CONS', () => {
    const d = new Driver({ cmdqLog2: 2 }).init();
    for (let i = 0; i < 11; i++) d.sync();
    expect(d.prod & 4).toBe(4);
    expect(d.r(SMMU_CMDQ_CONS)).toBe(d.prod);
  });

  it('CMD_SYNC with CS = IRQ pulses the wired line without MSI, or writes MSIData with MSI', () => {
    const d = new Driver().init();
    d.sync(1);
    expect(d.syncIrqs).toBe(1);
    const f = new Driver({ preset: SMMUV3_PRESET_FVP, split: 8, sidBits: 16 }).init();
    const slot = f.alloc(8);
    f.mem.write32(slot, 0xdead);
    f.cmd(CMD_SYNC, (1n << 12n) | (0x1234n << 32n), BigInt(slot));
    expect(f.mem.read32(slot)).toBe(0x1234);
    expect(f.smmu.stats.msiWrites).toBe(1);
    expect(f.syncIrqs).toBe(0);
  });

  it('stops at an illegal command with CERROR_ILL and resumes after the GERRORN acknowledgement', () => {
    const { d, pt, sid } = s1Setup();
    pt.map(0x1000, RAM + 0x80_0000, S1_PAGE);
    expect(tr(d.smmu, sid, 0x1000)).toBe(RAM + 0x80_0000);
    pt.map(0x1000, RAM + 0x90_0000, S1_PAGE);
    const bad = d.prod;
    d.put(0x7f); // no such opcode
    d.put(CMD_TLBI_NH_ASID, 7n << 48n);
    d.put(CMD_SYNC);
    d.publish();
    const cons = d.r(SMMU_CMDQ_CONS);
    expect(cons & 0xffff).toBe(bad);
    expect((cons >>> 24) & 0x7f).toBe(CERROR_ILL);
    expect(d.r(SMMU_GERROR) ^ d.r(SMMU_GERRORN)).toBe(GERROR_CMDQ_ERR);
    expect(d.gerrors).toBe(1);
    // Nothing after the bad command ran: the old translation is still cached.
    expect(tr(d.smmu, sid, 0x1000)).toBe(RAM + 0x90_0000 - 0x10_0000);
    // More commands wait too.
    d.cmd(CMD_SYNC);
    expect(d.r(SMMU_CMDQ_CONS) & 0xffff).toBe(bad);
    // Linux: overwrite the bad entry with a CMD_SYNC, then acknowledge.
    d.mem.write64(d.cmdq + bad * 16, BigInt(CMD_SYNC));
    d.mem.write64(d.cmdq + bad * 16 + 8, 0n);
    d.w(SMMU_GERRORN, d.r(SMMU_GERROR));
    expect(d.r(SMMU_CMDQ_CONS) & 0xffff).toBe(d.prod);
    expect(tr(d.smmu, sid, 0x1000)).toBe(RAM + 0x90_0000);
  });

  it('lets the driver move CONS past a bad command before acknowledging', () => {
    const d = new Driver().init();
    const bad = d.prod;
    d.put(0x03, 1n << 10n); // CFGI_STE with SSec: illegal without secure state
    d.put(CMD_SYNC);
    d.publish();
    expect((d.r(SMMU_CMDQ_CONS) >>> 24) & 0x7f).toBe(CERROR_ILL);
    d.w(SMMU_CMDQ_CONS, bad + 1);
    d.w(SMMU_GERRORN, d.r(SMMU_GERROR));
    expect(d.r(SMMU_CMDQ_CONS) & 0xffff).toBe(d.prod);
    // A second error toggles GERROR again.
    d.cmd(0x7e);
    expect(d.r(SMMU_GERROR) ^ d.r(SMMU_GERRORN)).toBe(GERROR_CMDQ_ERR);
    expect(d.gerrors).toBe(2);
  });

  it('rejects stage-2 commands on a stage-1-only SMMU and the reserved range encoding', () => {
    const d = new Driver({ preset: SMMUV3_PRESET_MINIMAL }).init();
    d.cmd(CMD_TLBI_S12_VMALL);
    expect((d.r(SMMU_CMDQ_CONS) >>> 24) & 0x7f).toBe(CERROR_ILL);
    const q = new Driver().init();
    q.cmd(CMD_TLBI_NH_VA, 0n, 1n << 10n); // TG = 4K with NUM = SCALE = TTL = 0
    expect((q.r(SMMU_CMDQ_CONS) >>> 24) & 0x7f).toBe(CERROR_ILL);
  });
});

describe('SMMUv3 stage-1 translation and caches', () => {
  it('translates DMA through an STE and a CD, hitting the TLB afterwards', () => {
    const { d, pt, sid } = s1Setup();
    const src = RAM + 0x80_0000;
    const dst = RAM + 0x81_0000;
    pt.map(0x10_0000, src, S1_PAGE);
    pt.map(0x20_0000, dst, S1_PAGE);
    d.mem.write32(src, 0xcafe_f00d);
    const dma = new DmaMaster(d.mem, { streamId: sid });
    d.smmu.attachMaster(dma);
    expect(dma.copy(0x10_0000, 0x20_0000, 256)).toBe(DMA_STATUS_DONE);
    expect(d.mem.read32(dst)).toBe(0xcafe_f00d);
    const walks = d.smmu.stats.walks;
    expect(dma.copy(0x10_0000, 0x20_0000, 256)).toBe(DMA_STATUS_DONE);
    expect(d.smmu.stats.walks).toBe(walks);
    expect(d.smmu.stats.tlbHits).toBeGreaterThanOrEqual(2);
    // An unmapped bus address faults the master and records F_TRANSLATION.
    expect(dma.copy(0x30_0000, 0x20_0000, 4) & DMA_STATUS_FAULT).toBeTruthy();
    expect(d.drainEvents().map((e) => e.type)).toEqual([EVT_F_TRANSLATION]);
  });

  it('keeps a stale translation until TLBI_NH_VA / TLBI_NH_ASID', () => {
    const { d, pt, sid, asid } = s1Setup();
    pt.map(0x4000, RAM + 0x80_0000, S1_PAGE);
    pt.map(0x5000, RAM + 0x81_0000, S1_PAGE);
    expect(tr(d.smmu, sid, 0x4010)).toBe(RAM + 0x80_0010);
    expect(tr(d.smmu, sid, 0x5000)).toBe(RAM + 0x81_0000);
    pt.map(0x4000, RAM + 0x82_0000, S1_PAGE);
    pt.map(0x5000, RAM + 0x83_0000, S1_PAGE);
    expect(tr(d.smmu, sid, 0x4010)).toBe(RAM + 0x80_0010); // stale
    d.cmd(CMD_TLBI_NH_VA, BigInt(asid) << 48n, 0x4000n | 1n);
    d.sync();
    expect(tr(d.smmu, sid, 0x4010)).toBe(RAM + 0x82_0010);
    expect(tr(d.smmu, sid, 0x5000)).toBe(RAM + 0x81_0000); // other page still stale
    // Wrong ASID: no effect.
    d.cmd(CMD_TLBI_NH_ASID, BigInt(asid + 1) << 48n);
    d.sync();
    expect(tr(d.smmu, sid, 0x5000)).toBe(RAM + 0x81_0000);
    d.cmd(CMD_TLBI_NH_ASID, BigInt(asid) << 48n);
    d.sync();
    expect(tr(d.smmu, sid, 0x5000)).toBe(RAM + 0x83_0000);
  });

  it('range invalidation covers (NUM+1) << SCALE pages when RIL', () => {
    const { d, pt, sid, asid } = s1Setup();
    for (let i = 0; i < 8; i++) pt.map(0x10_0000 + i * 4096, RAM + 0x80_0000 + i * 4096, S1_PAGE);
    for (let i = 0; i < 8; i++) expect(tr(d.smmu, sid, 0x10_0000 + i * 4096)).toBe(RAM + 0x80_0000 + i * 4096);
    for (let i = 0; i < 8; i++) pt.map(0x10_0000 + i * 4096, RAM + 0x90_0000 + i * 4096, S1_PAGE);
    // NUM = 2, SCALE = 1: 6 pages from 0x10_1000; TG = 4K, TTL = 3, Leaf.
    d.cmd(CMD_TLBI_NH_VA, (BigInt(asid) << 48n) | (2n << 12n) | (1n << 20n), 0x10_1000n | (1n << 10n) | (3n << 8n) | 1n);
    d.sync();
    const got = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => (tr(d.smmu, sid, 0x10_0000 + i * 4096)! - RAM) >>> 20);
    expect(got).toEqual([8, 9, 9, 9, 9, 9, 9, 8]);
  });

  it('keeps a stale STE and CD until CFGI_STE / CFGI_CD', () => {
    const { d, pt, cd, sid } = s1Setup();
    pt.map(0x1000, RAM + 0x80_0000, S1_PAGE);
    expect(tr(d.smmu, sid, 0x1000)).toBe(RAM + 0x80_0000);
    // New CD contents (another ASID and table): not seen before CFGI_CD.
    const pt2 = new Tables(d, 39);
    pt2.map(0x1000, RAM + 0x88_0000, S1_PAGE);
    writeCd(d, cd, cdWords(pt2.root, 9));
    expect(tr(d.smmu, sid, 0x1000)).toBe(RAM + 0x80_0000);
    d.cmd(CMD_CFGI_CD, BigInt(sid) << 32n, 1n);
    d.sync();
    expect(tr(d.smmu, sid, 0x1000)).toBe(RAM + 0x88_0000);
    // STE switched to abort: ignored until CFGI_STE, then traffic aborts silently.
    d.writeSte(sid, [1n]);
    expect(tr(d.smmu, sid, 0x1000)).toBe(RAM + 0x88_0000);
    d.cfgiSte(sid);
    const events = d.smmu.stats.events;
    expect(tr(d.smmu, sid, 0x1000)).toBeNull();
    expect(d.smmu.stats.events).toBe(events);
    // Bypass STE.
    d.writeSte(sid, [1n | (4n << 1n)]);
    d.cfgiSte(sid);
    expect(tr(d.smmu, sid, 0x1234_5678)).toBe(0x1234_5678);
    expect(d.smmu.configCacheSize.ste).toBe(1);
  });
});

describe('SMMUv3 fault events', () => {
  it('writes field-exact F_TRANSLATION, F_PERMISSION, F_ACCESS and F_ADDR_SIZE records', () => {
    const { d, pt, sid } = s1Setup();
    pt.map(0x2000, RAM + 0x80_0000, S1_PAGE | S1_RO);
    pt.map(0x3000, RAM + 0x81_0000, S1_PAGE & ~(1n << 10n));
    pt.map(0x4000, 2 ** 45, S1_PAGE); // beyond the 44-bit IPS
    expect(tr(d.smmu, sid, 0x1_0000_8000, WRITE)).toBeNull();
    expect(tr(d.smmu, sid, 0x2000, READ)).toBe(RAM + 0x80_0000);
    expect(tr(d.smmu, sid, 0x2004, WRITE)).toBeNull();
    expect(tr(d.smmu, sid, 0x3008, { write: false, exec: true, priv: true })).toBeNull();
    expect(tr(d.smmu, sid, 0x4000)).toBeNull();
    expect(d.evtIrqs).toBeGreaterThan(0);
    const ev = d.drainEvents();
    const common = { ssv: false, ssid: 0, sid, stag: 0, stall: false, s2: false, cls: 0, ttrnw: false, dw3: 0 };
    expect(ev).toEqual([
      { ...common, type: EVT_F_TRANSLATION, inputAddr: 0x1_0000_8000, pnu: false, ind: false, rnw: false },
      { ...common, type: EVT_F_PERMISSION, inputAddr: 0x2004, pnu: false, ind: false, rnw: false },
      { ...common, type: EVT_F_ACCESS, inputAddr: 0x3008, pnu: true, ind: true, rnw: true },
      { ...common, type: EVT_F_ADDR_SIZE, inputAddr: 0x4000, pnu: false, ind: false, rnw: true },
    ]);
  });

  it('does not record translation faults when CD.R = 0', () => {
    const d = new Driver().init();
    const pt = new Tables(d, 39);
    const cd = d.alloc(64, 64);
    writeCd(d, cd, cdWords(pt.root, 1, 39, { record: false }));
    d.writeSte(1, steS1(cd));
    d.cfgiSte(1);
    expect(tr(d.smmu, 1, 0x1000)).toBeNull();
    expect(d.drainEvents()).toEqual([]);
  });

  it('records C_BAD_STREAMID for an out-of-range StreamID only when CR2.RECINVSID is set', () => {
    const { d, sid, pt } = s1Setup({ sidBits: 6 });
    pt.map(0x1000, RAM + 0x80_0000, S1_PAGE);
    expect(tr(d.smmu, 64, 0x1000)).toBeNull();
    expect(d.drainEvents().map((e) => [e.type, e.sid])).toEqual([[EVT_C_BAD_STREAMID, 64]]);
    const cr0 = d.r(SMMU_CR0);
    d.w(SMMU_CR0, cr0 & ~1); // CR2 is guarded by SMMUEN
    d.w(SMMU_CR2, d.r(SMMU_CR2) & ~2);
    d.w(SMMU_CR0, cr0);
    expect(tr(d.smmu, 64, 0x1000)).toBeNull(); // still terminated
    expect(tr(d.smmu, sid, 0x1000)).not.toBeNull();
    expect(d.drainEvents().map((e) => [e.type, e.sid])).toEqual([]); // but not recorded
    expect(d.smmu.programmingViolations).toEqual([]);
  });

  it('ignores the low bits of a base not aligned to its table or queue, and records it', () => {
    const { d, sid, pt } = s1Setup({ sidBits: 6 });
    pt.map(0x1000, RAM + 0x80_0000, S1_PAGE);
    const cr0 = d.r(SMMU_CR0);
    // the same command queue, its base given 0x100 bytes too far: the SMMU still uses the aligned base
    d.w(SMMU_CR0, cr0 & ~8); // CMDQEN off
    const base = d.r(SMMU_CMDQ_BASE);
    d.w(SMMU_CMDQ_BASE, (base + 0x100) >>> 0);
    d.w(SMMU_CR0, cr0);
    expect(d.smmu.programmingViolations.map((v) => [v.register, /not aligned to the 4096-byte command queue/.test(v.reason)])).toEqual([['SMMU_CMDQ_BASE', true]]);
    d.cmd(CMD_CFGI_ALL, 0n, 31n);
    d.sync();
    expect(tr(d.smmu, sid, 0x1000)).not.toBeNull();
    expect(d.r(SMMU_GERROR) & 1).toBe(0); // no command error: the queue was read where it is
  });

  it('reports configuration errors: C_BAD_STREAMID, C_BAD_STE, C_BAD_CD, C_BAD_SUBSTREAMID, F_STE_FETCH', () => {
    const { d, cd, sid } = s1Setup({ sidBits: 6 });
    d.writeSte(9, [0n, 0n, 0n, 0n]); // V = 0
    d.writeSte(10, [1n | (2n << 1n)]); // reserved Config
    const cd2 = d.alloc(64, 64);
    writeCd(d, cd2, cdWords(0x4000_0000, 3, 39, { valid: false }));
    d.writeSte(11, steS1(cd2));
    expect(tr(d.smmu, 64, 0x1000)).toBeNull();
    expect(tr(d.smmu, 9, 0x1000)).toBeNull();
    expect(tr(d.smmu, 10, 0x1000)).toBeNull();
    expect(tr(d.smmu, 11, 0x1000, WRITE)).toBeNull();
    expect(tr(d.smmu, sid, 0x1000, READ, 1)).toBeNull(); // SSID with S1CDMax = 0
    void cd;
    const ev = d.drainEvents();
    expect(ev.map((e) => [e.type, e.sid, e.ssv, e.ssid])).toEqual([
      [EVT_C_BAD_STREAMID, 64, false, 0],
      [EVT_C_BAD_STE, 9, false, 0],
      [EVT_C_BAD_STE, 10, false, 0],
      [EVT_C_BAD_CD, 11, false, 0],
      [EVT_C_BAD_SUBSTREAMID, sid, true, 1],
    ]);
    // A bad STE is not cached: fixing it in memory works without CFGI.
    d.writeSte(9, [1n | (4n << 1n)]);
    expect(tr(d.smmu, 9, 0x1000)).toBe(0x1000);
    // Moving the stream table while SMMUEN is set is refused (a guarded register) and recorded.
    expect(d.smmu.programmingViolations).toEqual([]);
    d.w64(SMMU_STRTAB_BASE, 0x1_0000_0000n);
    expect(d.smmu.programmingViolations.map((v) => v.register)).toEqual(['SMMU_STRTAB_BASE', 'SMMU_STRTAB_BASE']);
    expect(d.smmu.programmingViolations[0]!.reason).toMatch(/while SMMUEN is set/);
    expect(tr(d.smmu, 9, 0x1000)).toBe(0x1000); // still the old table
    // With SMMUEN clear the move takes effect: outside RAM, F_STE_FETCH with the STE address.
    const cr0 = d.r(SMMU_CR0);
    d.w(SMMU_CR0, cr0 & ~1);
    d.w64(SMMU_STRTAB_BASE, 0x1_0000_0000n);
    d.w(SMMU_CR0, cr0);
    expect(d.smmu.programmingViolations).toHaveLength(2);
    d.cmd(CMD_CFGI_ALL, 0n, 31n);
    d.sync();
    expect(tr(d.smmu, 2, 0x1000)).toBeNull();
    expect(d.drainEvents()).toEqual([expect.objectContaining({ type: EVT_F_STE_FETCH, sid: 2, dw3: 0x1_0000_0000 + 2 * 64 })]);
  });

  it('reports F_WALK_EABT with the descriptor address for a table outside RAM', () => {
    const { d, pt, sid } = s1Setup();
    const l1 = pt.leafAddr(0x1000) - 0; // make sure tables exist, then corrupt the level-1 entry
    void l1;
    const l1entry = pt.root; // index 0 of the level-1 table
    d.mem.write64(l1entry, 0x1_0000_0000n | 3n);
    expect(tr(d.smmu, sid, 0x1000)).toBeNull();
    expect(d.drainEvents()).toEqual([
      expect.objectContaining({ type: EVT_F_WALK_EABT, sid, inputAddr: 0x1000, ttrnw: true, dw3: 0x1_0000_0000 }),
    ]);
  });

  it('drops records on a full event queue and toggles EVTQ_PROD.OVFLG once per overflow', () => {
    const { d, sid } = s1Setup({ evtqLog2: 1 });
    for (let i = 0; i < 4; i++) expect(tr(d.smmu, sid, 0x1000 * (i + 1))).toBeNull();
    expect(d.smmu.stats.eventsLost).toBe(2);
    expect(d.r(SMMU_EVTQ_PROD) >>> 0).toBe((Q_OVF_FLAG | 2) >>> 0);
    const got = d.drainEvents();
    expect(got.map((e) => e.inputAddr)).toEqual([0x1000, 0x2000]);
    expect(d.r(SMMU_EVTQ_CONS) >>> 0).toBe((Q_OVF_FLAG | 2) >>> 0); // OVACKFLG copied
    for (let i = 0; i < 3; i++) tr(d.smmu, sid, 0x9000);
    expect(d.r(SMMU_EVTQ_PROD) >>> 0).toBe(0); // wrapped twice (index 0, wrap 0), OVFLG toggled back
    expect(d.smmu.stats.eventsLost).toBe(3);
  });
});

describe('SMMUv3 two-level stream table', () => {
  it('finds STEs through L1 descriptors and rejects missing or too-small L2 tables', () => {
    const d = new Driver({ split: 6, sidBits: 12 }).init();
    const pt = new Tables(d, 39);
    pt.map(0x1000, RAM + 0x80_0000, S1_PAGE);
    const cd = d.alloc(64, 64);
    writeCd(d, cd, cdWords(pt.root, 2));
    const sid = (5 << 6) | 17;
    d.writeSte(sid, steS1(cd));
    d.cfgiSte(sid);
    expect(tr(d.smmu, sid, 0x1000)).toBe(RAM + 0x80_0000);
    expect(tr(d.smmu, 7 << 6, 0x1000)).toBeNull(); // L1 Span = 0
    // An L2 table of 2^(Span-1) = 16 STEs: index 17 lies outside.
    const l2 = d.alloc(64 * 16, 1024);
    d.mem.write64(d.strtab + 9 * 8, BigInt(l2) | 5n);
    expect(tr(d.smmu, (9 << 6) | 17, 0x1000)).toBeNull();
    expect(d.drainEvents().map((e) => e.type)).toEqual([EVT_C_BAD_STREAMID, EVT_C_BAD_STE]);
  });
});

describe('SMMUv3 stage 2 and nesting', () => {
  it('translates with a stage-2 STE, invalidates by VMID and IPA, reports S2 faults', () => {
    const d = new Driver().init();
    const s2 = new Tables(d, 39);
    s2.map(0x8000_0000, RAM + 0x80_0000, S2_PAGE);
    s2.map(0x8000_1000, RAM + 0x81_0000, S2_PAGE);
    d.writeSte(4, steS2(12, s2.root));
    d.cfgiSte(4);
    expect(tr(d.smmu, 4, 0x8000_0010)).toBe(RAM + 0x80_0010);
    expect(tr(d.smmu, 4, 0x8000_1010)).toBe(RAM + 0x81_0010);
    s2.map(0x8000_0000, RAM + 0x90_0000, S2_PAGE);
    s2.map(0x8000_1000, RAM + 0x91_0000, S2_PAGE);
    d.cmd(CMD_TLBI_S2_IPA, 12n << 32n, 0x8000_0000n | 1n);
    d.sync();
    expect(tr(d.smmu, 4, 0x8000_0010)).toBe(RAM + 0x90_0010);
    expect(tr(d.smmu, 4, 0x8000_1010)).toBe(RAM + 0x81_0010);
    d.cmd(CMD_TLBI_S12_VMALL, 12n << 32n);
    d.sync();
    expect(tr(d.smmu, 4, 0x8000_1010)).toBe(RAM + 0x91_0010);
    expect(tr(d.smmu, 4, 0x8000_5000, WRITE)).toBeNull();
    expect(d.drainEvents()).toEqual([
      { type: EVT_F_TRANSLATION, ssv: false, ssid: 0, sid: 4, stag: 0, stall: false, pnu: false, ind: false, rnw: false, s2: true, cls: EVT_CLASS_IN, ttrnw: false, inputAddr: 0x8000_5000, dw3: 0x8000_5000 },
    ]);
  });

  it('nests stage 1 over stage 2: CD pointer and TTB0 are IPAs, output IPA goes through stage 2', () => {
    const d = new Driver().init();
    const s2 = new Tables(d, 39);
    const s1 = new Tables(d, 39);
    const cdPa = d.alloc(4096);
    const cdIpa = 0x7_0000_0000;
    s2.map(cdIpa, cdPa, S2_PAGE);
    const ttbIpa = 0x7_0001_0000;
    s2.map(ttbIpa, s1.root, S2_PAGE);
    // The stage-1 next-level table addresses are IPAs too: stage 2 maps them at their own
    // addresses here (a non-identity layout is tested in smmu-v3-nested.test.ts).
    s1.leafAddr(0x40_0000);
    s1.leafAddr(0x40_1000);
    for (const t of s1.tables) s2.map(t, t, S2_PAGE);
    s1.map(0x40_0000, 0x6_0000_0000, S1_PAGE); // VA -> IPA
    s2.map(0x6_0000_0000, RAM + 0xa0_0000, S2_PAGE); // IPA -> PA
    writeCd(d, cdPa, cdWords(ttbIpa, 5));
    const [dw2, dw3] = s2Fields(3, s2.root);
    d.writeSte(6, [1n | (7n << 1n) | BigInt(cdIpa), (2n | (1n << 2n) | (1n << 4n) | (3n << 6n)), dw2, dw3]);
    d.cfgiSte(6);
    expect(tr(d.smmu, 6, 0x40_0123)).toBe(RAM + 0xa0_0123);
    // An IPA that stage 2 does not map: S2 fault with CLASS = IN and the IPA.
    s1.map(0x40_1000, 0x6_0000_5000, S1_PAGE);
    expect(tr(d.smmu, 6, 0x40_1008, WRITE)).toBeNull();
    const ev = d.drainEvents();
    expect(ev).toEqual([expect.objectContaining({ type: EVT_F_TRANSLATION, sid: 6, s2: true, cls: EVT_CLASS_IN, inputAddr: 0x40_1008, dw3: 0x6_0000_5000, rnw: false })]);
    // S12_VMALL drops the combined entries of VMID 3.
    s2.map(0x6_0000_0000, RAM + 0xb0_0000, S2_PAGE);
    expect(tr(d.smmu, 6, 0x40_0123)).toBe(RAM + 0xa0_0123);
    d.cmd(CMD_TLBI_S12_VMALL, 3n << 32n);
    d.sync();
    expect(tr(d.smmu, 6, 0x40_0123)).toBe(RAM + 0xb0_0123);
    // A CD pointer stage 2 does not map: S2 fault with CLASS = CD.
    d.writeSte(8, [1n | (7n << 1n) | 0x7_1000_0000n, 2n, dw2, dw3]);
    expect(tr(d.smmu, 8, 0x40_0000)).toBeNull();
    expect(d.drainEvents()).toEqual([expect.objectContaining({ type: EVT_F_TRANSLATION, sid: 8, s2: true, cls: EVT_CLASS_CD, dw3: 0x7_1000_0000 })]);
  });
});

describe('SMMUv3 hitless-update check', () => {
  it('accepts the Linux sequence (unused words, then the critical word, a SYNC between)', () => {
    const { d, pt, sid } = s1Setup();
    pt.map(0x1000, RAM + 0x80_0000, S1_PAGE);
    expect(tr(d.smmu, sid, 0x1000)).toBe(RAM + 0x80_0000);
    // S1 -> S2: write dw2/dw3 (unused by the S1 config), sync; then dw0/dw1... dw1 still used:
    // step 1: words unused by the current config.
    const s2 = new Tables(d, 39);
    const [dw2, dw3] = s2Fields(0, s2.root);
    const a = d.steAddr(sid);
    d.mem.write64(a + 16, dw2); // VMID 0 unchanged: the S1 config uses nothing else here
    d.mem.write64(a + 24, dw3);
    d.cfgiSte(sid);
    // step 2: the critical word dw0 (Config), which also makes dw1's S1 fields unused.
    d.mem.write64(a, 1n | (6n << 1n));
    d.cfgiSte(sid);
    // step 3: clean up dw1.
    d.mem.write64(a + 8, 0n);
    d.cfgiSte(sid);
    expect(d.smmu.hitlessViolations).toEqual([]);
    expect(d.smmu.stats.syncs).toBeGreaterThan(3);
  });

  it('records an update that changes two used words between syncs', () => {
    const d = new Driver().init();
    const s2a = new Tables(d, 39);
    const s2b = new Tables(d, 39);
    s2a.map(0x1000, RAM + 0x80_0000, S2_PAGE);
    d.writeSte(2, steS2(1, s2a.root));
    d.cfgiSte(2);
    expect(tr(d.smmu, 2, 0x1000)).toBe(RAM + 0x80_0000);
    const syncs = d.smmu.stats.syncs;
    // New VMID (dw2) and new S2TTB (dw3) at once: a fetch between the two writes mixes them.
    const [dw2, dw3] = s2Fields(2, s2b.root);
    const a = d.steAddr(2);
    d.mem.write64(a + 16, dw2);
    d.mem.write64(a + 24, dw3);
    d.cfgiSte(2);
    expect(d.smmu.hitlessViolations).toHaveLength(1);
    expect(d.smmu.hitlessViolations[0]).toMatchObject({ sync: syncs + 1, kind: 'ste', sid: 2, ssid: -1, addr: a });
  });

  it('records a CD whose ASID and TTB0 change together, and forgets CDs no longer referenced', () => {
    const { d, cd, sid } = s1Setup();
    expect(tr(d.smmu, sid, 0x1000)).toBeNull(); // fetch STE and CD
    const other = new Tables(d, 39);
    writeCd(d, cd, cdWords(other.root, 99));
    d.cmd(CMD_CFGI_CD, BigInt(sid) << 32n, 1n);
    d.sync();
    expect(d.smmu.hitlessViolations.map((v) => v.kind)).toEqual(['cd']);
    // STE to abort (only dw0 changes: hitless): the CD is unreachable and may be freely rewritten.
    d.mem.write64(d.steAddr(sid), 1n);
    d.cfgiSte(sid);
    writeCd(d, cd, [0n, 0n, 0n, 0n]);
    d.sync();
    expect(d.smmu.hitlessViolations).toHaveLength(1);
  });
});

describe('SMMUv3 substreams', () => {
  it('selects CDs by SubstreamID and uses CD 0 for untagged traffic (S1DSS = 2)', () => {
    const d = new Driver({ preset: SMMUV3_PRESET_FVP }).init();
    const a = new Tables(d, 39);
    const b = new Tables(d, 39);
    a.map(0x1000, RAM + 0x80_0000, S1_PAGE);
    b.map(0x1000, RAM + 0x81_0000, S1_PAGE);
    const table = d.alloc(64 * 4, 256);
    writeCd(d, table, cdWords(a.root, 1));
    writeCd(d, table + 64 * 2, cdWords(b.root, 2));
    d.writeSte(1, steS1(table, { cdMax: 2, s1dss: 2 }));
    d.cfgiSte(1);
    expect(tr(d.smmu, 1, 0x1000)).toBe(RAM + 0x80_0000);
    expect(tr(d.smmu, 1, 0x1000, READ, 2)).toBe(RAM + 0x81_0000);
    expect(tr(d.smmu, 1, 0x1000, READ, 4)).toBeNull();
    expect(tr(d.smmu, 1, 0x1000, READ, 1)).toBeNull();
    expect(d.drainEvents().map((e) => [e.type, e.ssid])).toEqual([
      [EVT_C_BAD_SUBSTREAMID, 4],
      [EVT_C_BAD_CD, 1],
    ]);
  });
});

describe('SMMUv3 invalidation scope and limits', () => {
  it('CFGI_STE_RANGE drops an aligned block of 2^(Range+1) STEs only', () => {
    const d = new Driver().init();
    for (let sid = 0; sid < 8; sid++) d.writeSte(sid, [1n | (4n << 1n)]);
    d.cfgiSte(0);
    for (let sid = 0; sid < 8; sid++) expect(tr(d.smmu, sid, 0x5000)).toBe(0x5000);
    for (let sid = 0; sid < 8; sid++) d.writeSte(sid, [1n]); // abort
    d.cmd(CMD_CFGI_ALL, 5n << 32n, 1n); // Range 1: SIDs 4..7
    d.sync();
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((sid) => tr(d.smmu, sid, 0x5000))).toEqual([0x5000, 0x5000, 0x5000, 0x5000, null, null, null, null]);
  });

  it('TLBI_NSNH_ALL empties the TLB; EL2 commands are illegal without IDR0.HYP', () => {
    const { d, pt, sid } = s1Setup();
    pt.map(0x1000, RAM + 0x80_0000, S1_PAGE);
    expect(tr(d.smmu, sid, 0x1000)).toBe(RAM + 0x80_0000);
    expect(d.smmu.tlbSize).toBe(1);
    d.cmd(CMD_TLBI_NSNH_ALL);
    d.sync();
    expect(d.smmu.tlbSize).toBe(0);
    d.cmd(0x20); // TLBI_EL2_ALL
    expect((d.r(SMMU_CMDQ_CONS) >>> 24) & 0x7f).toBe(CERROR_ILL);
  });

  it('empties a full TLB before inserting', () => {
    expect(() => new SmmuV3(new Board('x', [{ base: RAM, size: 1 << 20 }]).mem, { tlbCapacity: 0 })).toThrow(RangeError);
    const { d, pt, sid } = s1Setup({ tlbCapacity: 2 });
    for (let i = 0; i < 3; i++) pt.map(0x1000 * (i + 1), RAM + 0x80_0000 + i * 4096, S1_PAGE);
    for (let i = 0; i < 2; i++) tr(d.smmu, sid, 0x1000 * (i + 1));
    expect(d.smmu.tlbSize).toBe(2);
    expect(tr(d.smmu, sid, 0x3000)).toBe(RAM + 0x80_2000);
    expect(d.smmu.tlbSize).toBe(1);
    expect(d.smmu.stats.tlbFlushes).toBe(1);
    // The evicted page is walked again (and sees the current table).
    pt.map(0x1000, RAM + 0x90_0000, S1_PAGE);
    expect(tr(d.smmu, sid, 0x1000)).toBe(RAM + 0x90_0000);
  });

  it('keeps a stale entry in a direct-mapped TLB (tlbWays 1) until a TLBI, and refuses bad ways', () => {
    expect(() => new SmmuV3(new Board('x', [{ base: RAM, size: 1 << 20 }]).mem, { tlbWays: 3 })).toThrow(/bad TLB ways 3/);
    const { d, pt, sid } = s1Setup({ tlbCapacity: 64, tlbWays: 1 });
    for (let i = 0; i < 8; i++) pt.map(0x1000 * (i + 1), RAM + 0x80_0000 + i * 4096, S1_PAGE);
    for (let i = 0; i < 8; i++) expect(tr(d.smmu, sid, 0x1000 * (i + 1))).toBe(RAM + 0x80_0000 + i * 4096);
    expect(d.smmu.tlbSize).toBe(8); // eight consecutive pages: eight different sets
    pt.map(0x3000, RAM + 0x90_0000, S1_PAGE); // remapped without invalidation
    expect(tr(d.smmu, sid, 0x3000)).toBe(RAM + 0x80_2000);
    d.cmd(CMD_TLBI_NSNH_ALL);
    d.sync();
    expect(tr(d.smmu, sid, 0x3000)).toBe(RAM + 0x90_0000);
  });

  it('terminates untagged traffic with S1DSS = 0 and drops events while EVTQEN = 0', () => {
    const d = new Driver({ preset: SMMUV3_PRESET_FVP }).init();
    const cd = d.alloc(256, 256);
    d.writeSte(1, steS1(cd, { cdMax: 2, s1dss: 0 }));
    d.cfgiSte(1);
    expect(tr(d.smmu, 1, 0x1000)).toBeNull();
    expect(d.drainEvents().map((e) => e.type)).toEqual([0x06]); // F_STREAM_DISABLED
    d.w(SMMU_CR0, CR0_CMDQEN | CR0_SMMUEN);
    expect(tr(d.smmu, 1, 0x1000)).toBeNull();
    expect(d.smmu.stats.eventsDropped).toBe(1);
    expect(d.drainEvents()).toEqual([]);
  });
});

describe('SMMUv3 two-level CD tables', () => {
  it('follows L1CD descriptors (64K leaves of 1024 CDs) and honours CFGI_CD_ALL', () => {
    const d = new Driver({ preset: SMMUV3_PRESET_FVP }).init();
    const a = new Tables(d, 39);
    const b = new Tables(d, 39);
    a.map(0x1000, RAM + 0x80_0000, S1_PAGE);
    b.map(0x1000, RAM + 0x81_0000, S1_PAGE);
    const l1 = d.alloc(8 * 4, 64);
    const leaf = d.alloc(64 * 1024, 4096);
    d.mem.write64(l1 + 8 * 1, BigInt(leaf) | 1n); // SSIDs 1024..2047
    writeCd(d, leaf + 64 * 5, cdWords(a.root, 1));
    const ste = steS1(l1, { cdMax: 12, s1dss: 0 });
    ste[0] = ste[0]! | (2n << 4n); // S1Fmt = 2
    d.writeSte(2, ste);
    d.cfgiSte(2);
    expect(tr(d.smmu, 2, 0x1000, READ, 1024 + 5)).toBe(RAM + 0x80_0000);
    expect(tr(d.smmu, 2, 0x1000, READ, 5)).toBeNull(); // L1CD 0 not valid
    expect(d.drainEvents().map((e) => [e.type, e.ssid])).toEqual([[EVT_C_BAD_CD, 5]]);
    writeCd(d, leaf + 64 * 5, cdWords(b.root, 2));
    expect(tr(d.smmu, 2, 0x1000, READ, 1024 + 5)).toBe(RAM + 0x80_0000); // cached CD
    d.cmd(0x06, 2n << 32n); // CFGI_CD_ALL
    d.sync();
    expect(tr(d.smmu, 2, 0x1000, READ, 1024 + 5)).toBe(RAM + 0x81_0000);
  });
});
