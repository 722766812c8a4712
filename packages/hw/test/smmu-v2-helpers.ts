/**
 * Test rig for the SMMUv1/v2 model: RAM, an interrupt controller, the SMMU mapped on a bus, a
 * bump allocator for tables, and page-table writers written here from the descriptor formats
 * (not through the model's walkers), so a test states the tables the way a driver would.
 */
import {
  InterruptController,
  MmioBus,
  PhysMem,
  SmmuV2,
  smmuV2Config,
  SMMUV2_PRESET_MMU500,
  type SmmuV2Preset,
} from '../src/index.js';

export const RAM = 0x8000_0000;
/** Where tests and benchmarks put translated data (above the tables). */
export const DATA_BASE = RAM + 0x400_0000;
export const RAM_SIZE = 0x1000_0000;
export const MMIO = 0x1500_0000;
export const GLOBAL_IRQ = 65;
export const CTX_IRQ0 = 96;

// Register offsets as the architecture defines them (the test's own copy).
export const G = {
  SCR0: 0x0, SACR: 0x10, IDR0: 0x20, IDR1: 0x24, IDR2: 0x28, IDR7: 0x3c,
  SGFAR: 0x40, SGFSR: 0x48, SGFSYNR0: 0x50, SGFSYNR1: 0x54,
  TLBIVMID: 0x64, TLBIALLNSNH: 0x68, TLBIALLH: 0x6c, TLBGSYNC: 0x70, TLBGSTATUS: 0x74,
  SMR: 0x800, S2CR: 0xc00,
} as const;
export const CB = {
  SCTLR: 0x0, ACTLR: 0x4, RESUME: 0x8, TCR2: 0x10, TTBR0: 0x20, TTBR1: 0x28, TCR: 0x30, CONTEXTIDR: 0x34,
  MAIR0: 0x38, MAIR1: 0x3c, FSR: 0x58, FSRRESTORE: 0x5c, FAR: 0x60, FSYNR0: 0x68, IPAFAR: 0x70,
  TLBIVA: 0x600, TLBIVAA: 0x608, TLBIASID: 0x610, TLBIALL: 0x618, TLBIVAL: 0x620, TLBIVAAL: 0x628,
  TLBIIPAS2: 0x630, TLBIIPAS2L: 0x638, TLBSYNC: 0x7f0, TLBSTATUS: 0x7f4,
} as const;

export const SCTLR_M = 1 << 0, SCTLR_TRE = 1 << 1, SCTLR_AFE = 1 << 2, SCTLR_CFRE = 1 << 5, SCTLR_CFIE = 1 << 6, SCTLR_CFCFG = 1 << 7, SCTLR_HUPCF = 1 << 8;
export const FSR_TF = 1 << 1, FSR_AFF = 1 << 2, FSR_PF = 1 << 3, FSR_EF = 1 << 4, FSR_SS = 1 << 30, FSR_MULTI = 1 << 31;
export const SCR0_CLIENTPD = 1, SCR0_GFRE = 2, SCR0_GFIE = 4, SCR0_USFCFG = 1 << 10;
export const GFSR_USF = 2, GFSR_SMCF = 4, GFSR_UCBF = 8, GFSR_ICF = 1, GFSR_MULTI = 1 << 31;

/** Linux io-pgtable's MAIR: index 0 NC, 1 WB, 2 device. */
export const MAIR0 = 0xf404ff44 >>> 0;

/** Stage-1 LPAE leaf attributes: AF | inner shareable | AP[1] (EL0 access) | AttrIndx 1 | nG. */
export const S1_ATTR = 0x400 | 0x300 | 0x40 | (1 << 2) | 0x800;
export const S1_RO = 0x80;
/** Stage-2 leaf attributes: AF | inner shareable | S2AP RW | MemAttr normal WB. */
export const S2_ATTR = 0x400 | 0x300 | 0xc0 | (0xf << 2);

export class V2Rig {
  readonly mem = new PhysMem([{ base: RAM, size: RAM_SIZE }]);
  readonly bus = new MmioBus(this.mem);
  readonly irq = new InterruptController();
  readonly smmu: SmmuV2;
  private next = RAM + 0x10_0000;

  constructor(preset: Partial<SmmuV2Preset> = {}, opts: { numPage?: number; syncLatencyReads?: number; tlbCapacity?: number; walkCache?: boolean } = {}) {
    const config = smmuV2Config({ ...SMMUV2_PRESET_MMU500, ...preset }, opts.numPage);
    this.smmu = new SmmuV2(this.mem, {
      config,
      globalIrqs: [this.irq.line(GLOBAL_IRQ)],
      contextIrqs: Array.from({ length: config.numCb }, (_, i) => this.irq.line(CTX_IRQ0 + i)),
      syncLatencyReads: opts.syncLatencyReads,
      tlbCapacity: opts.tlbCapacity,
      walkCache: opts.walkCache,
    });
    this.bus.map(MMIO, this.smmu.mmioSize, this.smmu);
  }

  alloc(size: number, align = size): number {
    const a = Math.ceil(this.next / align) * align;
    this.next = a + size;
    this.mem.zero(a, size);
    return a;
  }

  gr0(off: number): number {
    return this.bus.read32(MMIO + off);
  }
  setGr0(off: number, v: number): void {
    this.bus.write32(MMIO + off, v);
  }
  gr1(off: number): number {
    return this.bus.read32(MMIO + this.smmu.gr1Offset + off);
  }
  setGr1(off: number, v: number): void {
    this.bus.write32(MMIO + this.smmu.gr1Offset + off, v);
  }
  cb(n: number, off: number): number {
    return this.bus.read32(MMIO + this.smmu.contextBankOffset(n) + off);
  }
  setCb(n: number, off: number, v: number): void {
    this.bus.write32(MMIO + this.smmu.contextBankOffset(n) + off, v);
  }
  setCb64(n: number, off: number, v: bigint): void {
    this.bus.write64(MMIO + this.smmu.contextBankOffset(n) + off, v);
  }
  cb64(n: number, off: number): bigint {
    return this.bus.read64(MMIO + this.smmu.contextBankOffset(n) + off);
  }

  /** Clears CLIENTPD with global fault reporting; unmatched streams fault when `usfcfg`. */
  enable(usfcfg = true): void {
    this.setGr0(G.SCR0, SCR0_GFRE | SCR0_GFIE | (usfcfg ? SCR0_USFCFG : 0));
  }

  /** SMR n = (id, mask, valid) and S2CR n = translate to `cbndx` (or `type`). */
  stream(n: number, id: number, mask: number, cbndx: number, type = 0): void {
    this.setGr0(G.S2CR + 4 * n, (type << 16) | cbndx);
    this.setGr0(G.SMR + 4 * n, ((1 << 31) | (mask << 16) | id) >>> 0);
  }

  /** CBAR type (0 S2, 1 S1, 3 nested) with VMID or nested stage-2 bank, CBA2R.VA64. */
  bank(n: number, type: number, vmidOrS2: number, va64: boolean): void {
    this.setGr1(0x800 + 4 * n, va64 ? 1 : 0);
    this.setGr1(4 * n, (type << 16) | (type === 3 ? vmidOrS2 << 8 : vmidOrS2));
  }

  /** AArch64 stage-1 context: 4K granule, T0SZ = 64 - bits, TTBR1 disabled unless given. */
  s1Aarch64(n: number, o: { ttbr0: number; asid: number; bits?: number; tg0?: number; ttbr1?: number; t1sz?: number; tg1?: number; sep?: number; sctlr?: number; vmid?: number }): void {
    this.bank(n, 1, o.vmid ?? 0, true);
    const t0sz = 64 - (o.bits ?? 48);
    let tcr = t0sz | (1 << 8) | (1 << 10) | (3 << 12) | ((o.tg0 ?? 0) << 14);
    if (o.ttbr1 === undefined) tcr |= 1 << 23; // EPD1
    else tcr |= ((o.t1sz ?? 16) << 16) | ((o.tg1 ?? 2) << 30);
    this.setCb(n, CB.TCR2, 5 | (1 << 4) | ((o.sep ?? 7) << 15)); // PASIZE 48, AS, SEP
    this.setCb(n, CB.TCR, tcr >>> 0);
    this.setCb64(n, CB.TTBR0, BigInt(o.ttbr0) | (BigInt(o.asid) << 48n));
    this.setCb64(n, CB.TTBR1, BigInt(o.ttbr1 ?? 0) | (BigInt(o.asid) << 48n));
    this.setCb(n, CB.MAIR0, MAIR0);
    this.setCb(n, CB.MAIR1, 0);
    this.setCb(n, CB.SCTLR, o.sctlr ?? SCTLR_M | SCTLR_TRE | SCTLR_AFE | SCTLR_CFRE | SCTLR_CFIE);
  }

  /** AArch64 stage-2 context: 4K granule, `bits`-bit IPA starting at level 1 (SL0 = 1), PS 48. */
  s2Aarch64(n: number, o: { vttbr: number; vmid: number; bits?: number; sctlr?: number }): void {
    this.bank(n, 0, o.vmid, true);
    const vtcr = (64 - (o.bits ?? 39)) | (1 << 6) | (1 << 8) | (1 << 10) | (3 << 12) | (5 << 16) | (1 << 31);
    this.setCb(n, CB.TCR, vtcr >>> 0);
    this.setCb64(n, CB.TTBR0, BigInt(o.vttbr));
    this.setCb(n, CB.SCTLR, o.sctlr ?? SCTLR_M | SCTLR_CFRE | SCTLR_CFIE);
  }
}

/** A long-descriptor table tree (any granule), written entry by entry. */
export class LpaeTables {
  readonly root: number;
  private readonly bpl: number;

  /**
   * `delta` (nested stage 1): table descriptors and the table base hold IPAs = PA - delta, so
   * the tables are only reachable through a stage 2 that maps those IPAs back.
   */
  constructor(
    private readonly rig: V2Rig,
    readonly granuleShift: number,
    readonly startLevel: number,
    rootSize = 2 ** granuleShift,
    readonly delta = 0,
  ) {
    this.bpl = granuleShift - 3;
    this.root = rig.alloc(rootSize, Math.max(rootSize, 64));
  }

  /** Every table frame allocated so far (for mapping them through a stage 2). */
  readonly frames: number[] = [];

  /** The table base as software programs it (an IPA when `delta`). */
  get base(): number {
    return this.root - this.delta;
  }

  private shiftOf(level: number): number {
    return this.granuleShift + this.bpl * (3 - level);
  }

  /** Maps `va` to `pa` with a leaf at `level` (3 = page), attributes lo/hi words. */
  map(va: number, pa: number, lo: number, hi = 0, level = 3, rootBits = this.bpl): void {
    const mem = this.rig.mem;
    let table = this.root;
    for (let l = this.startLevel; ; l++) {
      const shift = this.shiftOf(l);
      const bits = l === this.startLevel ? rootBits : this.bpl;
      const a = table + (Math.floor(va / 2 ** shift) % 2 ** bits) * 8;
      if (l === level) {
        mem.write64parts(a, ((pa % 2 ** 32) | lo | (l === 3 ? 3 : 1)) >>> 0, (Math.floor(pa / 2 ** 32) | hi) >>> 0);
        return;
      }
      if ((mem.read64lo(a) & 3) !== 3) {
        const t = this.rig.alloc(2 ** this.granuleShift);
        this.frames.push(t);
        const d = t - this.delta;
        mem.write64parts(a, (d % 2 ** 32 | 3) >>> 0, Math.floor(d / 2 ** 32));
      }
      table = this.delta + mem.read64hi(a) * 2 ** 32 + ((mem.read64lo(a) & ~(2 ** this.granuleShift - 1)) >>> 0);
    }
  }

  /** Rewrites the leaf for `va` (same path) to point at `pa`. */
  remap(va: number, pa: number, lo: number, hi = 0, level = 3, rootBits = this.bpl): void {
    this.map(va, pa, lo, hi, level, rootBits);
  }

  /** Clears the level-3 leaf for `va`. */
  unmap(va: number, level = 3, rootBits = this.bpl): void {
    const mem = this.rig.mem;
    let table = this.root;
    for (let l = this.startLevel; ; l++) {
      const shift = this.shiftOf(l);
      const bits = l === this.startLevel ? rootBits : this.bpl;
      const a = table + (Math.floor(va / 2 ** shift) % 2 ** bits) * 8;
      if (l === level) {
        mem.write64parts(a, 0, 0);
        return;
      }
      table = this.delta + mem.read64hi(a) * 2 ** 32 + ((mem.read64lo(a) & ~(2 ** this.granuleShift - 1)) >>> 0);
    }
  }
}

/** VMSAv7 short-descriptor tables: a 16 KiB first level and 1 KiB second-level tables. */
export class V7sTables {
  readonly root: number;

  constructor(private readonly rig: V2Rig) {
    this.root = rig.alloc(0x4000);
  }

  /** 4 KiB small page, AFE-style AP: AP[0] = access flag, AP[1] = user; nG, TEX/C/B = 0/1/1. */
  mapSmall(va: number, pa: number, opts: { ro?: boolean; af?: boolean } = {}): void {
    const mem = this.rig.mem;
    const l1 = this.root + Math.floor(va / 0x100000) * 4;
    let d1 = mem.read32(l1);
    if ((d1 & 3) !== 1) {
      const t = this.rig.alloc(0x400);
      d1 = (t | 1) >>> 0;
      mem.write32(l1, d1);
    }
    const l2 = ((d1 & 0xfffffc00) >>> 0) + ((va >>> 12) & 0xff) * 4;
    let d = (pa & 0xfffff000) | 2 | (1 << 3) | (1 << 2) | (1 << 11) | (1 << 5);
    if (opts.af ?? true) d |= 1 << 4;
    if (opts.ro) d |= 1 << 9;
    mem.write32(l2, d >>> 0);
  }

  /** 1 MiB section (AF set, user access, nG). */
  mapSection(va: number, pa: number): void {
    const d = (pa & 0xfff00000) | 2 | (1 << 3) | (1 << 2) | (1 << 10) | (1 << 11) | (1 << 17);
    this.rig.mem.write32(this.root + Math.floor(va / 0x100000) * 4, d >>> 0);
  }
}

/** A translation result slot like a master's. */
export function slot(): { pa: number; stalled: boolean; sink: boolean } {
  return { pa: -1, stalled: false, sink: false };
}
