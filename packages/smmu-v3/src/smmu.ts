import {
  EBUSY,
  EINVAL,
  ENODEV,
  ENOMEM,
  ENOSPC,
  ENXIO,
  ERANGE,
  ETIMEDOUT,
  IOMMU_FAULT_READ,
  IOMMU_FAULT_WRITE,
  devIommuFwspecGet,
  iommuDeviceRegister,
  iommuDeviceUnregister,
  iommuFwspecAddIds,
  requestIrq,
} from '@gki/kernel';
import type { Device, IoMem, IommuDevice, IommuDomain, IommuDomainType, IommuOps, Kernel, ModuleRef } from '@gki/kernel';
import { ArmSmmuCmdq } from './cmdq.js';
import { ENTRY_WORDS, EntryWriter, cdUsedBits, steUsedBits } from './entry.js';
import { applyIidrErrata, decodeIdRegs, type ArmSmmuV3Features } from './features.js';
import { ArmSmmuV3DomainImpl, createDomainOps, type ArmSmmuV3Domain, type ArmSmmuV3Stage } from './domain.js';
import * as R from './regs.js';

type PhysMemLike = Kernel['mem'];

const TWO32 = 2 ** 32;
const PAGE_SIZE = 4096;
/** Register polls (CR0ACK, IRQ_CTRLACK, GBPA.UPDATE) give up after this many reads. */
const ACK_POLL_LIMIT = 1000;
/** Queue sizes the driver allocates, at most (4 KiB each). */
const CMDQ_MAX_SHIFT = 8;
const EVTQ_MAX_SHIFT = 7;

/** Counters the driver keeps; plain data. */
export interface ArmSmmuV3Stats {
  /** Event records consumed from the event queue. */
  events: number;
  /** Translation faults passed to reportIommuFault (handled or not). */
  faultsReported: number;
  /** Faults whose domain handler did not handle them (logged instead). */
  faultsUnhandled: number;
  /** Events lost to an event queue overflow (times OVFLG toggled). */
  evtqOverflows: number;
  /** Global error interrupts that found an active error. */
  gerrors: number;
  /** Command errors skipped or retried. */
  cmdqErrors: number;
  commands: number;
  syncs: number;
}

/** Per-master state (struct arm_smmu_master). */
export interface ArmSmmuV3Master {
  readonly dev: Device;
  readonly smmu: ArmSmmuV3;
  readonly sids: readonly number[];
  /** The domain its STEs point at now, or null (abort). */
  domain: ArmSmmuV3Domain | null;
  /** PA of its one-entry context-descriptor table, or -1 before its first stage-1 attach. */
  cdTable: number;
}

function hi32(x: number): number {
  return Math.floor(x / TWO32) >>> 0;
}
function lo32(x: number): number {
  return (x % TWO32) >>> 0;
}
function hex(x: number): string {
  return '0x' + x.toString(16);
}
function orderFor(bytes: number): number {
  let order = 0;
  while (PAGE_SIZE * 2 ** order < bytes) order++;
  return order;
}

/** Every bound SMMU instance by device, for the helpers that start from a master. */
const masterOf = new WeakMap<Device, ArmSmmuV3Master>();

/**
 * One SMMUv3 instance as the driver sees it (struct arm_smmu_device): its registers, queues,
 * stream table, masters, ASID/VMID spaces and the IommuOps it registered. Created by the
 * platform driver's probe; everything it owns is released when the device unbinds.
 */
export class ArmSmmuV3 {
  readonly kernel: Kernel;
  readonly mem: PhysMemLike;
  features!: ArmSmmuV3Features;
  /** Set once the hardware has been reset and enabled; cleared when the device goes away. */
  private live = false;
  cmdq!: ArmSmmuCmdq;
  private evtqBase = 0;
  private evtqShift = 0;
  private evtqCons = 0;
  /** Stream table: linear or two-level (L1 descriptors pointing at 256-STE L2 tables). */
  private strtabBase = 0;
  private strtabTwoLevel = false;
  /** log2 of the number of StreamIDs the table covers. */
  sidBits = 0;
  private readonly l2Tables = new Map<number, number>();
  /** Pages this instance allocated and still owns: PA -> order. */
  private readonly pages = new Map<number, number>();
  readonly masters = new Map<Device, ArmSmmuV3Master>();
  private readonly sidOwner = new Map<number, ArmSmmuV3Master>();
  private readonly asids = new Set<number>();
  private readonly vmids = new Set<number>();
  private readonly writer: EntryWriter;
  private readonly steBuf = new Uint32Array(ENTRY_WORDS);
  private readonly cdBuf = new Uint32Array(ENTRY_WORDS);
  private readonly evt = new Uint32Array(8);
  readonly ops: IommuOps;
  readonly domainOps = createDomainOps();
  iommu: IommuDevice | null = null;
  /** Stage for the next paging domain allocation (0: the default, stage 1 when present). */
  pendingStage: 0 | ArmSmmuV3Stage = 0;
  readonly stats: ArmSmmuV3Stats = {
    events: 0,
    faultsReported: 0,
    faultsUnhandled: 0,
    evtqOverflows: 0,
    gerrors: 0,
    cmdqErrors: 0,
    commands: 0,
    syncs: 0,
  };

  constructor(
    readonly dev: Device,
    readonly regs: IoMem,
    owner: ModuleRef | null,
  ) {
    this.kernel = dev.core.kernel;
    this.mem = this.kernel.mem;
    this.writer = new EntryWriter(this.mem);
    const self = this;
    this.ops = {
      owner,
      get pgsizeBitmap() {
        return self.features?.pgsizeBitmap ?? 0;
      },
      probeDevice: (d) => this.probeDevice(d),
      releaseDevice: (d) => this.releaseDevice(d),
      ofXlate: (d, args) => this.ofXlate(d, args),
      domainAlloc: (type, d) => this.domainAlloc(type, d),
    };
  }

  get isLive(): boolean {
    return this.live && this.regs.mapped;
  }

  // ------------------------------------------------------------------ probe

  /**
   * arm_smmu_device_probe after the registers are mapped: reads the ID registers, allocates
   * the queues and the stream table, resets and enables the SMMU, requests its interrupts and
   * registers with the IOMMU core. 0 or -errno; on failure the caller's devres releases
   * whatever was set up (interrupts, the disable action, pages).
   */
  probe(): number {
    const dev = this.dev;
    const idr: number[] = [];
    for (let i = 0; i < 6; i++) idr.push(this.regs.read32(R.ARM_SMMU_IDR0 + 4 * i) >>> 0);
    const f = decodeIdRegs(idr);
    if (typeof f === 'string') {
      dev.err(f);
      return -ENXIO;
    }
    this.features = applyIidrErrata(f, this.regs.read32(R.ARM_SMMU_IIDR) >>> 0);
    dev.devmAdd('arm-smmu-v3 memory', () => this.freeAllPages());
    let r = this.initStructures();
    if (r < 0) return r;
    dev.devmAdd('arm-smmu-v3 disable', () => this.deviceDisable());
    r = this.deviceReset();
    if (r < 0) return r;
    this.iommu = { dev, ops: this.ops, fwnode: dev.ofNode };
    r = iommuDeviceRegister(this.kernel, this.iommu);
    if (r < 0) {
      dev.err(`failed to register iommu: ${r}`);
      this.iommu = null;
      return r;
    }
    const stages = f.s1 && f.s2 ? 'stage 1 and 2' : f.s1 ? 'stage 1' : 'stage 2';
    dev.info(
      `${stages}, ${f.oas}-bit OAS, ${f.asidBits}-bit ASID, ${f.vmidBits}-bit VMID, ${this.sidBits}-bit SID ` +
        `(${this.strtabTwoLevel ? '2-level' : 'linear'} stream table)${f.ril ? ', range invalidation' : ''}`,
    );
    return 0;
  }

  /** arm_smmu_device_remove: unregisters from the IOMMU core; devres then disables and frees. */
  remove(): void {
    if (this.iommu) iommuDeviceUnregister(this.kernel, this.iommu);
    this.iommu = null;
  }

  private allocPages(bytes: number): number {
    const order = orderFor(bytes);
    const pa = this.kernel.pages.allocPages(order);
    if (pa < 0) return pa;
    this.pages.set(pa, order);
    return pa;
  }

  private freePages(pa: number): void {
    const order = this.pages.get(pa);
    if (order === undefined) return;
    this.pages.delete(pa);
    this.kernel.pages.freePages(pa, order);
  }

  private freeAllPages(): void {
    for (const [pa, order] of this.pages) this.kernel.pages.freePages(pa, order);
    this.pages.clear();
    this.l2Tables.clear();
  }

  /** Queues and stream table (arm_smmu_init_structures). */
  private initStructures(): number {
    const f = this.features;
    const cmdqShift = Math.min(f.cmdqShift, CMDQ_MAX_SHIFT);
    const cmdqPa = this.allocPages(2 ** cmdqShift * R.CMDQ_ENT_SIZE);
    if (cmdqPa < 0) return this.dev.errProbe(-ENOMEM, 'failed to allocate the command queue');
    this.cmdq = new ArmSmmuCmdq(
      {
        regs: this.regs,
        mem: this.mem,
        handleGerror: () => this.gerrorHandler(),
        warn: (m) => this.dev.warn(m),
        err: (m) => this.dev.err(m),
      },
      cmdqPa,
      cmdqShift,
      f.sev,
    );
    this.evtqShift = Math.min(f.evtqShift, EVTQ_MAX_SHIFT);
    const evtqPa = this.allocPages(2 ** this.evtqShift * R.EVTQ_ENT_SIZE);
    if (evtqPa < 0) return this.dev.errProbe(-ENOMEM, 'failed to allocate the event queue');
    this.evtqBase = evtqPa;
    if (f.twoLevelStrtab && f.sidBits > R.STRTAB_SPLIT) {
      const l1Shift = Math.min(f.sidBits - R.STRTAB_SPLIT, R.STRTAB_L1_MAX_LOG2);
      this.sidBits = l1Shift + R.STRTAB_SPLIT;
      const pa = this.allocPages(2 ** l1Shift * R.STRTAB_L1_DESC_SIZE);
      if (pa < 0) return this.dev.errProbe(-ENOMEM, 'failed to allocate l1 stream table');
      this.strtabBase = pa;
      this.strtabTwoLevel = true;
      // Zeroed L1 descriptors have Span = 0: every StreamID is invalid until a master appears.
    } else {
      this.sidBits = f.sidBits;
      const n = 2 ** f.sidBits;
      const pa = this.allocPages(n * R.STRTAB_STE_SIZE);
      if (pa < 0) return this.dev.errProbe(-ENOMEM, `failed to allocate linear stream table of ${n} entries`);
      this.strtabBase = pa;
      this.fillAbortStes(pa, n);
    }
    return 0;
  }

  /** Makes `n` STEs at `pa` valid abort entries (the table is not live yet: plain writes). */
  private fillAbortStes(pa: number, n: number): void {
    for (let i = 0; i < n; i++) this.mem.write64parts(pa + i * R.STRTAB_STE_SIZE, R.STE_V | (R.STE_CFG_ABORT << R.STE_CFG_SHIFT), 0);
  }

  private write64(off: number, lo: number, hi: number): void {
    this.regs.write32(off, lo >>> 0);
    this.regs.write32(off + 4, hi >>> 0);
  }

  /** Polls `off` until it reads `want` (under `mask`); 0 or -ETIMEDOUT. */
  private pollReg(off: number, mask: number, want: number, what: string): number {
    for (let i = 0; i < ACK_POLL_LIMIT; i++) if (((this.regs.read32(off) & mask) >>> 0) === want >>> 0) return 0;
    this.dev.err(`timed out waiting for ${what}`);
    return -ETIMEDOUT;
  }

  private writeCr0(val: number): number {
    this.regs.write32(R.ARM_SMMU_CR0, val);
    return this.pollReg(R.ARM_SMMU_CR0ACK, 0xffff_ffff, val, 'CR0ACK');
  }

  private writeIrqCtrl(val: number): number {
    this.regs.write32(R.ARM_SMMU_IRQ_CTRL, val);
    return this.pollReg(R.ARM_SMMU_IRQ_CTRLACK, 0xffff_ffff, val, 'IRQ_CTRLACK');
  }

  /** GBPA update handshake: sets ABORT (incoming traffic aborts while SMMUEN = 0). */
  private gbpaAbort(): number {
    const v = this.regs.read32(R.ARM_SMMU_GBPA);
    this.regs.write32(R.ARM_SMMU_GBPA, (v | R.GBPA_ABORT | R.GBPA_UPDATE) >>> 0);
    return this.pollReg(R.ARM_SMMU_GBPA, R.GBPA_UPDATE, 0, 'GBPA update');
  }

  /** arm_smmu_device_reset: the enable sequence, ending with SMMUEN. */
  private deviceReset(): number {
    const f = this.features;
    let r: number;
    if (this.regs.read32(R.ARM_SMMU_CR0) & R.CR0_SMMUEN) {
      this.dev.warn('SMMU currently enabled! Resetting...');
      r = this.gbpaAbort();
      if (r < 0) return r;
    }
    r = this.writeCr0(0);
    if (r < 0) return r;
    const cr1 =
      (R.CR1_CACHE_WB << R.CR1_QUEUE_IC_SHIFT) |
      (R.CR1_CACHE_WB << R.CR1_QUEUE_OC_SHIFT) |
      (R.CR1_SH_ISH << R.CR1_QUEUE_SH_SHIFT) |
      (R.CR1_CACHE_WB << R.CR1_TABLE_IC_SHIFT) |
      (R.CR1_CACHE_WB << R.CR1_TABLE_OC_SHIFT) |
      (R.CR1_SH_ISH << R.CR1_TABLE_SH_SHIFT);
    this.regs.write32(R.ARM_SMMU_CR1, cr1);
    this.regs.write32(R.ARM_SMMU_CR2, R.CR2_PTM | R.CR2_RECINVSID);
    // Stream table.
    this.write64(R.ARM_SMMU_STRTAB_BASE, lo32(this.strtabBase), hi32(this.strtabBase) | R.BASE_HI_RA);
    const cfg = this.strtabTwoLevel
      ? (R.STRTAB_FMT_2LVL << R.STRTAB_BASE_CFG_FMT_SHIFT) | (R.STRTAB_SPLIT << R.STRTAB_BASE_CFG_SPLIT_SHIFT) | this.sidBits
      : (R.STRTAB_FMT_LINEAR << R.STRTAB_BASE_CFG_FMT_SHIFT) | this.sidBits;
    this.regs.write32(R.ARM_SMMU_STRTAB_BASE_CFG, cfg);
    // Command queue, then invalidate whatever the SMMU may have cached.
    const q = this.cmdq;
    this.write64(R.ARM_SMMU_CMDQ_BASE, (lo32(q.base) | q.log2) >>> 0, hi32(q.base) | R.BASE_HI_RA);
    this.regs.write32(R.ARM_SMMU_CMDQ_PROD, 0);
    this.regs.write32(R.ARM_SMMU_CMDQ_CONS, 0);
    let en = R.CR0_CMDQEN;
    r = this.writeCr0(en);
    if (r < 0) return r;
    this.live = true;
    r = this.cmdOne(R.CMD_CFGI_ALL, 0, R.CFGI_RANGE_ALL, 0);
    if (r >= 0 && f.hyp) r = this.cmdOne(R.CMD_TLBI_EL2_ALL, 0, 0, 0);
    if (r >= 0) r = this.cmdOne(R.CMD_TLBI_NSNH_ALL, 0, 0, 0);
    if (r < 0) {
      this.live = false;
      return r;
    }
    // Event queue.
    this.write64(R.ARM_SMMU_EVTQ_BASE, (lo32(this.evtqBase) | this.evtqShift) >>> 0, hi32(this.evtqBase) | R.BASE_HI_RA);
    this.regs.write32(R.ARM_SMMU_EVTQ_PROD, 0);
    this.regs.write32(R.ARM_SMMU_EVTQ_CONS, 0);
    this.evtqCons = 0;
    en |= R.CR0_EVTQEN;
    r = this.writeCr0(en);
    if (r >= 0) r = this.setupIrqs();
    if (r >= 0) r = this.writeCr0(en | R.CR0_SMMUEN);
    if (r < 0) this.live = false;
    return r;
  }

  /** Disables interrupts, requests the wired lines, then enables the ones it got. */
  private setupIrqs(): number {
    let r = this.writeIrqCtrl(0);
    if (r < 0) return r;
    const dev = this.dev;
    const names = dev.ofNode ? this.kernel.of.stringList(dev.ofNode, 'interrupt-names') : [];
    const lookup = (name: string): number => {
      const i = names.indexOf(name);
      // platform_get_irq_byname_optional: a named line that does not resolve is not an error
      // here (the caller warns that events or errors will not be reported).
      return i >= 0 ? dev.irqOptional(i) : -ENXIO;
    };
    let irqen = 0;
    const evtq = lookup('eventq');
    if (evtq >= 0) {
      r = requestIrq(dev, evtq, () => this.evtqHandler());
      if (r < 0) return dev.errProbe(r, `failed to enable evtq irq ${evtq}`);
      irqen |= R.IRQ_CTRL_EVTQ_IRQEN;
    } else {
      dev.warn('no evtq irq - events will not be reported!');
    }
    const gerr = lookup('gerror');
    if (gerr >= 0) {
      r = requestIrq(dev, gerr, () => this.gerrorHandler());
      if (r < 0) return dev.errProbe(r, `failed to enable gerror irq ${gerr}`);
      irqen |= R.IRQ_CTRL_GERROR_IRQEN;
    } else {
      dev.warn('no gerr irq - errors will not be reported!');
    }
    return this.writeIrqCtrl(irqen);
  }

  /** Turns the SMMU off with incoming traffic aborting (device teardown). */
  private deviceDisable(): void {
    if (!this.regs.mapped) return;
    this.live = false;
    this.regs.write32(R.ARM_SMMU_IRQ_CTRL, 0);
    this.gbpaAbort();
    this.writeCr0(0);
  }

  // ------------------------------------------------------------------ commands

  /** Issues one command followed by a CMD_SYNC. 0 or -errno. */
  cmdOne(w0: number, w1: number, w2: number, w3: number): number {
    if (!this.isLive) return -ENODEV;
    const r = this.cmdq.add(w0, w1, w2, w3);
    return r < 0 ? r : this.syncCmdq();
  }

  /** Queues a command (no sync); 0 or -errno. */
  cmdAdd(w0: number, w1: number, w2: number, w3: number): number {
    if (!this.isLive) return -ENODEV;
    return this.cmdq.add(w0, w1, w2, w3);
  }

  /** CMD_SYNC for what is queued. */
  syncCmdq(): number {
    if (!this.isLive) return -ENODEV;
    const r = this.cmdq.sync();
    this.stats.commands = this.cmdq.commands;
    this.stats.syncs = this.cmdq.syncs;
    return r;
  }

  /**
   * Debugging hook: queues an arbitrary command (four u32 words) and a CMD_SYNC, as a
   * misbehaving caller would. Returns the sync's result: 0 even for an illegal command,
   * which the command-error recovery replaces.
   */
  issueRawCommand(w0: number, w1: number, w2: number, w3: number): number {
    return this.cmdOne(w0, w1, w2, w3);
  }

  private syncSte(sid: number): number {
    const r = this.cmdAdd(R.CMD_CFGI_STE, sid, 1 /* Leaf */, 0);
    return r < 0 ? r : this.syncCmdq();
  }

  private syncCd(m: ArmSmmuV3Master): number {
    for (const sid of m.sids) {
      const r = this.cmdAdd(R.CMD_CFGI_CD /* SSID 0 */, sid, 1 /* Leaf */, 0);
      if (r < 0) return r;
    }
    return this.syncCmdq();
  }

  // ------------------------------------------------------------------ stream table

  /** PA of the STE for `sid` (its L2 table must exist for a two-level table). */
  private steAddr(sid: number): number {
    if (!this.strtabTwoLevel) return this.strtabBase + sid * R.STRTAB_STE_SIZE;
    const l2 = this.l2Tables.get(Math.floor(sid / 2 ** R.STRTAB_SPLIT))!;
    return l2 + (sid % 2 ** R.STRTAB_SPLIT) * R.STRTAB_STE_SIZE;
  }

  /**
   * Makes sure the L2 table covering `sid` exists: a new one is filled with abort STEs before
   * its L1 descriptor (Span = SPLIT + 1, L2Ptr) is written with one 64-bit store. Returns the
   * L1 index it allocated, -1 when nothing was needed, or -ENOMEM.
   */
  private ensureL2(sid: number): number {
    if (!this.strtabTwoLevel) return -1;
    const idx = Math.floor(sid / 2 ** R.STRTAB_SPLIT);
    if (this.l2Tables.has(idx)) return -1;
    const n = 2 ** R.STRTAB_SPLIT;
    const pa = this.allocPages(n * R.STRTAB_STE_SIZE);
    if (pa < 0) return -ENOMEM;
    this.fillAbortStes(pa, n);
    this.l2Tables.set(idx, pa);
    const span = R.STRTAB_SPLIT + 1;
    this.mem.write64parts(this.strtabBase + idx * R.STRTAB_L1_DESC_SIZE, (lo32(pa) | span) >>> 0, hi32(pa));
    return idx;
  }

  /** Undoes ensureL2 for a table no master uses yet. */
  private dropL2(idx: number): void {
    const pa = this.l2Tables.get(idx);
    if (pa === undefined) return;
    this.mem.write64parts(this.strtabBase + idx * R.STRTAB_L1_DESC_SIZE, 0, 0);
    this.l2Tables.delete(idx);
    this.freePages(pa);
  }

  /** Abort STE into `w`. */
  private makeAbortSte(w: Uint32Array): void {
    w.fill(0);
    w[0] = R.STE_V | (R.STE_CFG_ABORT << R.STE_CFG_SHIFT);
  }

  private shcfg(): number {
    return this.features.attrTypesOvr ? R.STE_W3_SHCFG_INCOMING : 0;
  }

  /** The STE `domain` needs for master `m`, into `w`. */
  private makeSte(w: Uint32Array, domain: ArmSmmuV3DomainImpl, m: ArmSmmuV3Master): void {
    w.fill(0);
    if (domain.type === 'blocked') return this.makeAbortSte(w);
    if (domain.type === 'identity') {
      w[0] = R.STE_V | (R.STE_CFG_BYPASS << R.STE_CFG_SHIFT);
      w[3] = this.shcfg();
      return;
    }
    if (domain.stage === 1) {
      const cd = m.cdTable;
      w[0] = (R.STE_V | (R.STE_CFG_S1_TRANS << R.STE_CFG_SHIFT) | (lo32(cd) & 0xffff_ffc0)) >>> 0; // S1Fmt linear
      w[1] = hi32(cd) & 0xf_ffff; // S1CDMax = 0: one CD, no substreams
      w[2] = (R.STE_W2_S1CIR_WBRA | R.STE_W2_S1COR_WBRA | R.STE_W2_S1CSH_ISH | (this.features.stallsSupported ? R.STE_W2_S1STALLD : 0)) >>> 0;
      // S1DSS = SSID0 (0): SHCFG is not used, so Linux's arm_smmu_make_cdtable_ste leaves it 0
      w[4] = 0; // VMID 0 tags stage-1-only translations
      return;
    }
    const s2 = domain.s2!;
    w[0] = R.STE_V | (R.STE_CFG_S2_TRANS << R.STE_CFG_SHIFT);
    w[3] = this.shcfg();
    w[4] = domain.vmid & 0xffff;
    w[5] =
      ((s2.tsz << R.STE_W5_S2T0SZ_SHIFT) |
        (s2.sl << R.STE_W5_S2SL0_SHIFT) |
        (s2.irgn << R.STE_W5_S2IR0_SHIFT) |
        (s2.orgn << R.STE_W5_S2OR0_SHIFT) |
        (s2.sh << R.STE_W5_S2SH0_SHIFT) |
        (s2.tg << R.STE_W5_S2TG_SHIFT) |
        (s2.ps << R.STE_W5_S2PS_SHIFT) |
        R.STE_W5_S2AA64 |
        R.STE_W5_S2PTW |
        R.STE_W5_S2R) >>>
      0;
    w[6] = (lo32(s2.vttbr) & 0xffff_fff0) >>> 0;
    w[7] = hi32(s2.vttbr) & 0xf_ffff;
  }

  private writeMasterStes(m: ArmSmmuV3Master, w: Uint32Array): void {
    for (const sid of m.sids) {
      const r = this.writer.write(this.steAddr(sid), w, steUsedBits, () => this.syncSte(sid));
      if (r < 0) this.dev.err(`STE update for SID ${hex(sid)} did not complete: ${r}`);
    }
  }

  private writeMasterCd(m: ArmSmmuV3Master, w: Uint32Array): void {
    const r = this.writer.write(m.cdTable, w, cdUsedBits, () => this.syncCd(m));
    if (r < 0) this.dev.err(`CD update for ${m.dev.name} did not complete: ${r}`);
  }

  // ------------------------------------------------------------------ masters

  private ofXlate(dev: Device, args: readonly number[]): number {
    if (args.length < 1 || !Number.isInteger(args[0]) || args[0]! < 0) return -EINVAL;
    return iommuFwspecAddIds(dev, [args[0]!]);
  }

  /**
   * arm_smmu_probe_device: checks the master's StreamIDs (in range, not already owned),
   * makes their L2 tables exist and points their STEs at abort until a domain is attached.
   * -ENODEV without a fwspec, -ERANGE for a StreamID beyond the table, -EBUSY for one another
   * master owns, -ENOMEM; nothing changes on failure.
   */
  private probeDevice(dev: Device): number {
    if (!this.isLive) return -ENODEV;
    const fw = devIommuFwspecGet(dev);
    if (!fw || fw.ids.length === 0) return -ENODEV;
    if (this.masters.has(dev)) return -EBUSY;
    const sids = [...new Set(fw.ids)];
    for (const sid of sids) {
      if (!Number.isInteger(sid) || sid < 0 || sid >= 2 ** this.sidBits) {
        dev.err(`stream ID ${hex(sid)} is out of range for the ${this.sidBits}-bit stream table`);
        return -ERANGE;
      }
      if (this.sidOwner.has(sid)) {
        dev.warn(`stream ${hex(sid)} already in use by ${this.sidOwner.get(sid)!.dev.name}`);
        return -EBUSY;
      }
    }
    const added: number[] = [];
    for (const sid of sids) {
      const idx = this.ensureL2(sid);
      if (idx === -ENOMEM) {
        for (const i of added) this.dropL2(i);
        return dev.errProbe(-ENOMEM, 'failed to allocate l2 stream table');
      }
      if (idx >= 0) added.push(idx);
    }
    const m: ArmSmmuV3Master = { dev, smmu: this, sids, domain: null, cdTable: -1 };
    this.masters.set(dev, m);
    for (const sid of sids) this.sidOwner.set(sid, m);
    masterOf.set(dev, m);
    this.makeAbortSte(this.steBuf);
    this.writeMasterStes(m, this.steBuf);
    return 0;
  }

  /** arm_smmu_release_device: STEs back to abort, the CD table freed, the SIDs forgotten. */
  private releaseDevice(dev: Device): void {
    const m = this.masters.get(dev);
    if (!m) return;
    if (this.isLive) {
      this.makeAbortSte(this.steBuf);
      this.writeMasterStes(m, this.steBuf);
    }
    m.domain?.masters.delete(m);
    m.domain = null;
    if (m.cdTable >= 0) this.freePages(m.cdTable);
    m.cdTable = -1;
    for (const sid of m.sids) this.sidOwner.delete(sid);
    this.masters.delete(dev);
    masterOf.delete(dev);
  }

  /** The master a StreamID belongs to. */
  masterForSid(sid: number): ArmSmmuV3Master | undefined {
    return this.sidOwner.get(sid);
  }

  // ------------------------------------------------------------------ domains

  /**
   * domain_alloc: identity and blocked domains are STE configurations; paging domains
   * (unmanaged, dma) get a page table from io-pgtable at once, stage 1 (ASID, one CD) when
   * the SMMU has it, else stage 2 (VMID). The page-table errors pass through: -ENODEV when no
   * module provides the format, -EPROBE_DEFER when its module exists but cannot load now.
   */
  private domainAlloc(type: IommuDomainType, _dev: Device | null): IommuDomain | number {
    if (type === 'identity' || type === 'blocked') return new ArmSmmuV3DomainImpl(this, type, 0);
    if (type !== 'unmanaged' && type !== 'dma') return -EINVAL;
    const f = this.features;
    const stage: ArmSmmuV3Stage = this.pendingStage !== 0 ? this.pendingStage : f.s1 ? 1 : 2;
    if ((stage === 1 && !f.s1) || (stage === 2 && !f.s2)) return -EINVAL;
    const d = new ArmSmmuV3DomainImpl(this, type, stage);
    const r = d.finalise();
    return r < 0 ? r : d;
  }

  /** Allocates an ASID (stage 1) or VMID (stage 2); -ENOSPC when they are all in use. 0 is reserved. */
  allocId(stage: ArmSmmuV3Stage): number {
    const set = stage === 1 ? this.asids : this.vmids;
    const limit = 2 ** (stage === 1 ? this.features.asidBits : this.features.vmidBits);
    for (let id = 1; id < limit; id++) {
      if (!set.has(id)) {
        set.add(id);
        return id;
      }
    }
    return -ENOSPC;
  }

  freeId(stage: ArmSmmuV3Stage, id: number): void {
    (stage === 1 ? this.asids : this.vmids).delete(id);
  }

  /**
   * attach_dev: points the master's STEs at `domain`. For stage 1 the master's CD table is
   * allocated on first use and CD 0 written before the STE; when the master leaves stage 1,
   * CD 0 is cleared after the STE stopped using it. -EINVAL for a domain of another SMMU or
   * a freed one, -ENODEV for a device this SMMU did not probe, -ENOMEM (nothing changed).
   */
  attach(domain: ArmSmmuV3DomainImpl, dev: Device): number {
    const m = this.masters.get(dev);
    if (!m) return -ENODEV;
    if (domain.smmu !== this || domain.freed) return -EINVAL;
    if (!this.isLive) return -ENODEV;
    const old = m.domain;
    if (old === domain) return 0;
    if (domain.stage === 1) {
      if (m.cdTable < 0) {
        const pa = this.allocPages(R.CD_SIZE);
        if (pa < 0) return -ENOMEM;
        m.cdTable = pa;
      }
      domain.makeCd(this.cdBuf);
      this.writeMasterCd(m, this.cdBuf);
    }
    this.makeSte(this.steBuf, domain, m);
    this.writeMasterStes(m, this.steBuf);
    if (old?.stage === 1 && domain.stage !== 1 && m.cdTable >= 0) {
      this.cdBuf.fill(0);
      this.writeMasterCd(m, this.cdBuf);
    }
    old?.masters.delete(m);
    domain.masters.add(m);
    m.domain = domain;
    return 0;
  }

  /** Points a master that is losing its domain at abort (domain free, device release). */
  blockMaster(m: ArmSmmuV3Master): void {
    if (this.isLive) {
      this.makeAbortSte(this.steBuf);
      this.writeMasterStes(m, this.steBuf);
      if (m.domain?.stage === 1 && m.cdTable >= 0) {
        this.cdBuf.fill(0);
        this.writeMasterCd(m, this.cdBuf);
      }
    }
    m.domain?.masters.delete(m);
    m.domain = null;
  }

  // ------------------------------------------------------------------ interrupts

  /**
   * Event queue interrupt: consumes every record, reporting translation, address-size,
   * access and permission faults to the domain of the master that caused them; other events
   * (and faults nobody handled) are logged. CONS is written back after each record; an
   * overflow (PROD.OVFLG differing from our OVACKFLG) is logged and acknowledged.
   */
  evtqHandler(): void {
    if (!this.isLive) return;
    const regs = this.regs;
    const n = 2 ** this.evtqShift;
    const ptrMask = 2 ** (this.evtqShift + 1) - 1;
    const w = this.evt;
    for (let guard = 0; guard < 4 * n; guard++) {
      const prod = regs.read32(R.ARM_SMMU_EVTQ_PROD) >>> 0;
      if (((prod ^ this.evtqCons) & R.Q_OVERFLOW_FLAG) !== 0) {
        this.stats.evtqOverflows++;
        this.dev.err('EVTQ overflow detected -- events lost');
        this.evtqCons = ((this.evtqCons & ~R.Q_OVERFLOW_FLAG) | (prod & R.Q_OVERFLOW_FLAG)) >>> 0;
        regs.write32(R.ARM_SMMU_EVTQ_CONS, this.evtqCons);
      }
      if ((prod & ptrMask) === (this.evtqCons & ptrMask)) return;
      const at = this.evtqBase + (this.evtqCons & (n - 1)) * R.EVTQ_ENT_SIZE;
      for (let i = 0; i < 8; i++) w[i] = this.mem.read32(at + 4 * i);
      const next = ((this.evtqCons & ptrMask) + 1) & ptrMask;
      this.evtqCons = ((this.evtqCons & R.Q_OVERFLOW_FLAG) | next) >>> 0;
      regs.write32(R.ARM_SMMU_EVTQ_CONS, this.evtqCons);
      this.stats.events++;
      this.handleEvent(w);
    }
  }

  private handleEvent(w: Uint32Array): void {
    const id = w[0]! & 0xff;
    const sid = w[1]! >>> 0;
    const read = (w[3]! & (1 << 3)) !== 0;
    const s2 = (w[3]! & (1 << 7)) !== 0;
    const iova = (w[5]! >>> 0) * TWO32 + (w[4]! >>> 0);
    const name = R.EVT_NAMES[id] ?? 'UNKNOWN';
    const m = this.sidOwner.get(sid);
    const isFault = id >= R.EVT_ID_TRANSLATION_FAULT && id <= R.EVT_ID_PERMISSION_FAULT;
    if (isFault && m?.domain) {
      this.stats.faultsReported++;
      const flags = read ? IOMMU_FAULT_READ : IOMMU_FAULT_WRITE;
      const r = m.domain.report(m.dev, iova, flags);
      if (r === 0) return;
      this.stats.faultsUnhandled++;
    }
    const who = m ? m.dev.name : 'unknown master';
    this.dev.err(
      `event 0x${id.toString(16).padStart(2, '0')} (${name}) received: sid ${hex(sid)} (${who}), ` +
        `iova ${hex(iova)}, ${read ? 'read' : 'write'}${s2 ? ', stage 2' : ''}`,
    );
  }

  /**
   * Global error interrupt: an error is active while its GERROR and GERRORN bits differ. A
   * command-queue error is recovered (see ArmSmmuCmdq.skipError); then every active error is
   * acknowledged by copying GERROR into GERRORN.
   */
  gerrorHandler(): void {
    if (!this.regs.mapped) return;
    const regs = this.regs;
    const gerror = regs.read32(R.ARM_SMMU_GERROR) >>> 0;
    const gerrorn = regs.read32(R.ARM_SMMU_GERRORN) >>> 0;
    const active = (gerror ^ gerrorn) & R.GERROR_ERR_MASK;
    if (active === 0) return;
    this.stats.gerrors++;
    this.dev.warn(`unexpected global error reported (0x${active.toString(16).padStart(8, '0')}), this could be serious`);
    if (active & R.GERROR_SFM_ERR) {
      this.dev.err('device has entered Service Failure Mode!');
      this.deviceDisable();
      return;
    }
    if (active & R.GERROR_MSI_GERROR_ABT_ERR) this.dev.warn('GERROR MSI write aborted');
    if (active & R.GERROR_MSI_PRIQ_ABT_ERR) this.dev.warn('PRIQ MSI write aborted');
    if (active & R.GERROR_MSI_EVTQ_ABT_ERR) this.dev.warn('EVTQ MSI write aborted');
    if (active & R.GERROR_MSI_CMDQ_ABT_ERR) this.dev.warn('CMDQ MSI write aborted');
    if (active & R.GERROR_PRIQ_ABT_ERR) this.dev.err('PRIQ write aborted -- events may have been lost');
    if (active & R.GERROR_EVTQ_ABT_ERR) this.dev.err('EVTQ write aborted -- events may have been lost');
    if (active & R.GERROR_CMDQ_ERR) {
      this.stats.cmdqErrors++;
      this.cmdq.skipError();
    }
    regs.write32(R.ARM_SMMU_GERRORN, gerror);
  }
}

/** The SMMU instance bound to `dev` (the arm,smmu-v3 device), if any. */
export function armSmmuV3FromDevice(dev: Device): ArmSmmuV3 | undefined {
  const d = dev.getDrvdata<unknown>();
  return d instanceof ArmSmmuV3 ? d : undefined;
}

/** The driver's state for a master it probed, if any. */
export function armSmmuV3MasterOf(dev: Device): ArmSmmuV3Master | undefined {
  return masterOf.get(dev);
}
