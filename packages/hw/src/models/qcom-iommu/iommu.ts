/**
 * Qualcomm's "secure" IOMMU of MSM8916 / MSM8939 / MSM8953 (`qcom,msm-iommu-v1`): an Arm
 * SMMU whose global register space (sCR0, the ID registers, SMR/S2CR stream mapping, CBAR,
 * CBA2R) belongs to the secure world. The normal world sees only
 *
 * - the node's own `reg`, a small Qualcomm "local" block: SMMU_INTR_SEL_NS (offset 0x2000)
 *   holds what software wrote to it (which context interrupts go to the non-secure side);
 *   every other offset reads as zero and ignores writes;
 * - one context bank page per child node (`qcom,msm-iommu-v1-ns` / `-sec`, `reg` in the
 *   parent's `ranges`): the architected SMMUv2 context bank registers (SCTLR, TCR/TCR2,
 *   TTBR0/1, MAIR0/1, CONTEXTIDR, FSR/FSRRESTORE, FAR, FSYNR0, RESUME, TLBIVA/TLBIVAL/
 *   TLBIASID/TLBIALL, TLBSYNC/TLBSTATUS), context bank N being the page at N x 4 KiB of that
 *   window (the bank number is also its ASID, as Linux's driver assumes);
 * - its context fault interrupts, one `interrupts` entry per child (several banks may share
 *   one line).
 *
 * The translation engine underneath is this package's SMMUv2 model (stage 1 only, AArch32
 * long and short descriptor formats, 32-bit input, 40-bit output): the same walkers, TLB,
 * fault records and invalidation semantics. Its global space is reachable only through
 * `secure()`, the handle the board's TrustZone model programs it with.
 *
 * Routing: a master whose `iommus` says `<&iommu N>` issues its transactions on the stream the
 * firmware routes to context bank N. Until the firmware has restored the secure configuration
 * (`restoreSecureConfig`, what the SCM call restore_sec_cfg does), the SMMU is in its
 * architected reset state, sCR0.CLIENTPD set: every transaction passes untranslated.
 */
import type { MmioDevice } from '../../bus.js';
import { InterruptController, type IrqLine } from '../../irq.js';
import type { PhysMem } from '../../mem.js';
import { SMMUV2_PRESET_V2, smmuV2Config, type SmmuV2Preset } from '../smmu-v2/presets.js';
import * as R from '../smmu-v2/regs.js';
import { SmmuV2, type SmmuV2Master, type SmmuV2Stats } from '../smmu-v2/smmu.js';

/** Offset of SMMU_INTR_SEL_NS in the local block (the node's `reg`). */
export const QCOM_IOMMU_INTR_SEL_NS = 0x2000;
/** Size of one context bank page. */
export const QCOM_IOMMU_CB_SIZE = 0x1000;

/**
 * The SMMU behind a qcom,msm-iommu-v1: SMMUv2 architecture, stage 1 only, AArch32 long and
 * short descriptors (no AArch64 contexts: the masters issue 32-bit addresses), 40-bit output.
 */
export const QCOM_IOMMU_V1_PRESET: SmmuV2Preset = {
  ...SMMUV2_PRESET_V2,
  name: 'qcom-msm-iommu-v1',
  s1: true,
  s2: false,
  nested: false,
  sms: true,
  streamIdBits: 8,
  numS2Cb: 0,
  aarch32Long: true,
  aarch32Short: true,
  aarch64_4k: false,
  aarch64_16k: false,
  aarch64_64k: false,
  ias: 32,
  oas: 40,
  ubs: 32,
  vmid16: false,
};

/** One context bank a child node describes. */
export interface QcomIommuContextDesc {
  /** Context bank number (= ASID): `reg` / 0x1000, or `qcom,ctx-asid`. */
  readonly bank: number;
  /** DT path of the child node. */
  readonly path: string;
  /** `qcom,msm-iommu-v1-sec` / `-v2-sec`: a context the secure world also uses. */
  readonly secure: boolean;
  /**
   * `qcom,msm-iommu-v2-sec`: a bank the secure world programs itself. Its page reads as zero
   * and ignores normal-world writes (what the secure world does with it is not modelled).
   */
  readonly secureOwned?: boolean;
  /** The context fault interrupt line, or undefined when not wired. */
  readonly irq?: IrqLine;
}

export interface QcomIommuOptions {
  readonly name?: string;
  /** `qcom,iommu-secure-id`: how the firmware names this IOMMU (undefined: the firmware does not know it). */
  readonly secureId?: number;
  readonly contexts: readonly QcomIommuContextDesc[];
  /** TLB capacity in entries (SmmuV2Options.tlbCapacity). */
  readonly tlbCapacity?: number;
}

/** What the secure world may do to the IOMMU (the board's TrustZone model holds it). */
export interface QcomIommuSecureHandle {
  /** Programs the global space: every context bank as stage 1 (stage 2 bypassed, AArch32), its stream routed to it. */
  restoreSecureConfig(): void;
  /** Global register access (page 0 / page 1 of the SMMU). */
  read32(offset: number): number;
  write32(offset: number, value: number): void;
}

/** The view of one context bank page (a child node's `reg`). */
class ContextWindow implements MmioDevice {
  constructor(
    readonly name: string,
    private readonly smmu: SmmuV2,
    private readonly base: number,
  ) {}

  read32(offset: number): number {
    return this.smmu.read32(this.base + offset);
  }

  write32(offset: number, value: number): void {
    this.smmu.write32(this.base + offset, value);
  }

  read64parts(offset: number, out: { lo: number; hi: number }): void {
    this.smmu.read64parts(this.base + offset, out);
  }

  write64parts(offset: number, lo: number, hi: number): void {
    this.smmu.write64parts(this.base + offset, lo, hi);
  }

  read64(offset: number): bigint {
    return this.smmu.read64(this.base + offset);
  }

  write64(offset: number, value: bigint): void {
    this.smmu.write64(this.base + offset, value);
  }
}

/** A context bank page the secure world owns: RAZ/WI to the normal world. */
class SecureWindow implements MmioDevice {
  constructor(readonly name: string) {}

  read32(): number {
    return 0;
  }

  write32(): void {}
}

export class QcomIommu implements MmioDevice {
  readonly name: string;
  readonly secureId: number | undefined;
  readonly contexts: readonly QcomIommuContextDesc[];
  /** Local block: SMMU_INTR_SEL_NS as last written. */
  intrSelNs = 0;
  /** Number of times the secure world restored the global configuration. */
  restores = 0;

  private readonly smmu: SmmuV2;
  private readonly windows = new Map<number, MmioDevice>();
  private readonly secureHandle: QcomIommuSecureHandle;

  constructor(mem: PhysMem, opts: QcomIommuOptions) {
    this.name = opts.name ?? 'qcom-iommu';
    if (opts.secureId !== undefined && (!Number.isInteger(opts.secureId) || opts.secureId < 0 || opts.secureId > 0xffffffff)) throw new RangeError(`${this.name}: bad secure id ${opts.secureId}`);
    if (opts.contexts.length === 0) throw new RangeError(`${this.name}: no context banks`);
    this.secureId = opts.secureId;
    const seen = new Set<number>();
    let maxBank = 0;
    for (const c of opts.contexts) {
      if (!Number.isInteger(c.bank) || c.bank < 0 || c.bank > 127) throw new RangeError(`${this.name}: context bank ${c.bank} (${c.path}) is outside 0..127`);
      if (seen.has(c.bank)) throw new RangeError(`${this.name}: two context nodes name context bank ${c.bank}`);
      seen.add(c.bank);
      maxBank = Math.max(maxBank, c.bank);
    }
    this.contexts = [...opts.contexts].sort((a, b) => a.bank - b.bank);
    const numCb = maxBank + 1;
    const config = smmuV2Config({ ...QCOM_IOMMU_V1_PRESET, numCb, numSmr: Math.max(numCb, 1) });
    // banks without a child (or without an interrupt) get a line nothing listens to
    const unwired = new InterruptController(`${this.name}-unwired`, numCb);
    const contextIrqs: IrqLine[] = [];
    for (let n = 0; n < numCb; n++) contextIrqs.push(unwired.line(n));
    for (const c of this.contexts) if (c.irq) contextIrqs[c.bank] = c.irq;
    this.smmu = new SmmuV2(mem, { name: `${this.name}.smmu`, config, contextIrqs, tlbCapacity: opts.tlbCapacity });
    for (const c of this.contexts)
      this.windows.set(c.bank, c.secureOwned ? new SecureWindow(`${this.name}.cb${c.bank}`) : new ContextWindow(`${this.name}.cb${c.bank}`, this.smmu, this.smmu.contextBankOffset(c.bank)));
    const smmu = this.smmu;
    this.secureHandle = {
      restoreSecureConfig: () => this.restore(),
      read32: (off) => (off >= 0 && off < 2 * config.pageSize ? smmu.read32(off) : 0),
      write32: (off, v) => {
        if (off >= 0 && off < 2 * config.pageSize) smmu.write32(off, v);
      },
    };
  }

  // ------------------------------------------------------------------ local block (normal world)

  read32(offset: number): number {
    return offset === QCOM_IOMMU_INTR_SEL_NS ? this.intrSelNs >>> 0 : 0;
  }

  write32(offset: number, value: number): void {
    if (offset === QCOM_IOMMU_INTR_SEL_NS) this.intrSelNs = value >>> 0;
  }

  /** The MMIO device of context bank `bank`'s page (mapped at the child's `reg`). */
  contextWindow(bank: number): MmioDevice {
    const w = this.windows.get(bank);
    if (!w) throw new RangeError(`${this.name}: no context bank ${bank}`);
    return w;
  }

  // ------------------------------------------------------------------ secure world

  /** The secure world's access (the TrustZone model); nothing in the normal world has it. */
  secure(): QcomIommuSecureHandle {
    return this.secureHandle;
  }

  /** True once the secure world has configured the global space (sCR0.CLIENTPD clear). */
  get secureConfigured(): boolean {
    return (this.smmu.read32(R.SMMU2_SCR0) & R.SCR0_CLIENTPD) === 0;
  }

  private restore(): void {
    const s = this.smmu;
    const gr1 = s.gr1Offset;
    for (const c of this.contexts) {
      const n = c.bank;
      // stream n -> context bank n, translating; the bank is stage 1 with stage 2 bypassed, AArch32
      s.write32(R.SMMU2_SMR + 4 * n, (R.SMR_VALID | (n & R.SMR_ID_MASK)) >>> 0);
      s.write32(R.SMMU2_S2CR + 4 * n, ((R.S2CR_TYPE_TRANS << R.S2CR_TYPE_SHIFT) | (n & R.S2CR_CBNDX_MASK)) >>> 0);
      s.write32(gr1 + R.SMMU2_CBA2R + 4 * n, 0);
      s.write32(gr1 + R.SMMU2_CBAR + 4 * n, (R.CBAR_TYPE_S1_S2BYPASS << R.CBAR_TYPE_SHIFT) >>> 0);
    }
    // client ports on, unidentified streams fault, global faults reported
    s.write32(R.SMMU2_SCR0, (R.SCR0_USFCFG | R.SCR0_GFRE | R.SCR0_GFIE) >>> 0);
    this.restores++;
  }

  // ------------------------------------------------------------------ masters, state

  /**
   * Attaches a bus master whose `iommus` names context banks `banks` (first = the one its
   * transactions use). RangeError for a bank this IOMMU does not have.
   */
  attachMaster(master: SmmuV2Master, banks: readonly number[]): void {
    if (banks.length === 0) throw new RangeError(`${this.name}: a master needs a context bank`);
    for (const b of banks) if (!this.windows.has(b)) throw new RangeError(`${this.name}: no context bank ${b} (its context nodes name ${[...this.windows.keys()].join(', ')})`);
    this.smmu.attachMaster(master, banks);
  }

  detachMaster(master: SmmuV2Master): void {
    this.smmu.detachMaster(master);
  }

  get attachedMasters(): readonly SmmuV2Master[] {
    return this.smmu.attachedMasters;
  }

  /** Translation counters of the engine (TLB hits, walks, faults, TLBI writes). */
  get stats(): SmmuV2Stats {
    return this.smmu.stats;
  }

  /** Cached translations. */
  get tlbSize(): number {
    return this.smmu.tlbSize;
  }

  /**
   * Fault injection (tests only; false at construction): while true, a TLB sync started on any
   * context bank never completes, TLBSTATUS.SACTIVE reading 1 however long software polls (a
   * wedged SMMU). Setting it back to false lets the outstanding and later syncs complete. It
   * is the engine's `SmmuV2.stuckSync` (the same name as there); reset does not change it.
   */
  get stuckSync(): boolean {
    return this.smmu.stuckSync;
  }

  set stuckSync(on: boolean) {
    this.smmu.stuckSync = on;
  }

  /** Power-on reset: the secure configuration is lost with everything else. */
  reset(): void {
    this.smmu.reset();
    this.intrSelNs = 0;
  }
}
