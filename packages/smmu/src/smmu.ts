import {
  EINVAL,
  ENODEV,
  ENOSPC,
  ENXIO,
  EEXIST,
  devIommuFwspecGet,
  devIommuPrivGet,
  devIommuPrivSet,
  devIsPci,
  genericDeviceGroup,
  iommuDeviceRegister,
  iommuDeviceUnregister,
  iommuFwspecAddIds,
  iommuFwspecInit,
  iommuProbeDevice,
  ofParsePhandleWithArgs,
  ofPropertyReadU32,
  pciDeviceGroup,
  requestIrq,
} from '@gki/kernel';
import type { Device, IoMem, IommuDevice, IommuDomain, IommuDomainType, IommuGroup, IommuOps, Kernel, ModuleRef, OfNode } from '@gki/kernel';
import { ArmSmmuDomainImpl, createDomainOps } from './domain.js';
import { armSmmuImplInit, type ArmSmmuImpl } from './impl.js';
import { RateLimit } from './ratelimit.js';
import * as R from './regs.js';

/** Architecture version, as the match data gives it (enum arm_smmu_arch_version). */
export type ArmSmmuVersion = 'v1' | 'v1-64k' | 'v2';
/** Implementation, as the match data gives it (enum arm_smmu_implementation). */
export type ArmSmmuModel = 'generic' | 'mmu-500' | 'cavium' | 'qcom-v2' | 'qcom-mmu-500';

export interface ArmSmmuMatchData {
  readonly version: ArmSmmuVersion;
  readonly model: ArmSmmuModel;
}

/** The driver's OF match table (compatible -> version and implementation). */
export const ARM_SMMU_OF_MATCH: readonly { compatible: string; data: ArmSmmuMatchData }[] = [
  { compatible: 'arm,smmu-v1', data: { version: 'v1', model: 'generic' } },
  { compatible: 'arm,smmu-v2', data: { version: 'v2', model: 'generic' } },
  { compatible: 'arm,mmu-400', data: { version: 'v1', model: 'generic' } },
  { compatible: 'arm,mmu-401', data: { version: 'v1-64k', model: 'generic' } },
  { compatible: 'arm,mmu-500', data: { version: 'v2', model: 'mmu-500' } },
  { compatible: 'cavium,smmu-v2', data: { version: 'v2', model: 'cavium' } },
  { compatible: 'nvidia,smmu-500', data: { version: 'v2', model: 'mmu-500' } },
  { compatible: 'qcom,smmu-500', data: { version: 'v2', model: 'qcom-mmu-500' } },
  { compatible: 'qcom,smmu-v2', data: { version: 'v2', model: 'qcom-v2' } },
];

/** Feature bits (ARM_SMMU_FEAT_*). */
export const FEAT_COHERENT_WALK = 1 << 0;
export const FEAT_STREAM_MATCH = 1 << 1;
export const FEAT_TRANS_S1 = 1 << 2;
export const FEAT_TRANS_S2 = 1 << 3;
export const FEAT_TRANS_NESTED = 1 << 4;
export const FEAT_TRANS_OPS = 1 << 5;
export const FEAT_VMID16 = 1 << 6;
export const FEAT_FMT_AARCH64_4K = 1 << 7;
export const FEAT_FMT_AARCH64_16K = 1 << 8;
export const FEAT_FMT_AARCH64_64K = 1 << 9;
export const FEAT_FMT_AARCH32_L = 1 << 10;
export const FEAT_FMT_AARCH32_S = 1 << 11;
export const FEAT_EXIDS = 1 << 12;
export const FEAT_FMT_AARCH64 = FEAT_FMT_AARCH64_4K | FEAT_FMT_AARCH64_16K | FEAT_FMT_AARCH64_64K;

const SZ_4K = 0x1000;
const SZ_16K = 0x4000;
const SZ_64K = 0x1_0000;
const SZ_1M = 0x10_0000;
const SZ_2M = 0x20_0000;
const SZ_16M = 0x100_0000;
const SZ_32M = 0x200_0000;
const SZ_512M = 0x2000_0000;
const SZ_1G = 0x4000_0000;

/** Qualcomm firmware traps stores of the zero register: Linux writes all ones where the value does not matter. */
export const QCOM_DUMMY_VAL = 0xffff_ffff;

/** One stream match register as the driver tracks it (struct arm_smmu_smr). */
export interface ArmSmmuSmr {
  id: number;
  mask: number;
  valid: boolean;
}

/** One stream-to-context register (struct arm_smmu_s2cr). */
export interface ArmSmmuS2cr {
  group: IommuGroup | null;
  /** Masters using this entry. */
  count: number;
  type: R.S2crType;
  privcfg: number;
  cbndx: number;
}

/** Context formats (enum arm_smmu_context_fmt). */
export type ArmSmmuContextFmt = 'none' | 'aarch64' | 'aarch32-l' | 'aarch32-s';

/** A context bank's configuration (struct arm_smmu_cfg). */
export interface ArmSmmuCfg {
  cbndx: number;
  /** Index of its context interrupt among the context interrupts; ARM_SMMU_INVALID_IRPTNDX when none was obtained. */
  irptndx: number;
  asid: number;
  vmid: number;
  /** CBAR.TYPE. */
  cbar: number;
  fmt: ArmSmmuContextFmt;
  /** Walk invalidations by ASID instead of by VA (Qualcomm's choice). */
  flushWalkPreferTlbiasid: boolean;
}

export const ARM_SMMU_INVALID_IRPTNDX = 0xff;

/** A context bank's register values (struct arm_smmu_cb); 64-bit values as 32-bit halves. */
export interface ArmSmmuCb {
  cfg: ArmSmmuCfg | null;
  tcr: [number, number];
  ttbrLo: [number, number];
  ttbrHi: [number, number];
  mair: [number, number];
}

/** Per-master state (struct arm_smmu_master_cfg). */
export interface ArmSmmuMasterCfg {
  readonly dev: Device;
  readonly smmu: ArmSmmu;
  /** The fwspec IDs (SID | MASK << 16), in order. */
  readonly ids: readonly number[];
  /** Stream map entry index per ID (-1: not allocated). */
  readonly smendx: number[];
}

const INVALID_SMENDX = -1;

/** TLB maintenance kinds a test can make the driver skip (fault injection in its flush ops). */
export type ArmSmmuTlbOp = 'TLBIVA' | 'TLBIVAL' | 'TLBIASID' | 'TLBIIPAS2' | 'TLBIIPAS2L' | 'TLBIVMID' | 'TLBSYNC';

/** Bits of ArmSmmu.skipTlb (one per ArmSmmuTlbOp). */
export const SKIP_TLB: Readonly<Record<ArmSmmuTlbOp, number>> = {
  TLBIVA: 1 << 0,
  TLBIVAL: 1 << 1,
  TLBIASID: 1 << 2,
  TLBIIPAS2: 1 << 3,
  TLBIIPAS2L: 1 << 4,
  TLBIVMID: 1 << 5,
  TLBSYNC: 1 << 6,
};

/** Counters the driver keeps; plain data. */
export interface ArmSmmuStats {
  contextFaults: number;
  /** Context faults no domain handler took (-ENOSYS: logged, ratelimited). */
  contextFaultsUnhandled: number;
  globalFaults: number;
  tlbSyncs: number;
  tlbSyncTimeouts: number;
  /** TLB invalidation register writes, by kind. */
  tlbi: Record<Exclude<ArmSmmuTlbOp, 'TLBSYNC'>, number>;
  /** Stalled transactions retried / terminated through RESUME by the driver or the Adreno interface. */
  resumes: number;
  terminates: number;
}

/** Per-kernel state the Linux driver keeps in statics: which DT binding flavour is in use. */
interface DriverGlobals {
  usingLegacyBinding: boolean;
  usingGenericBinding: boolean;
}
const globalsByKernel = new WeakMap<Kernel, DriverGlobals>();
export function driverGlobals(k: Kernel): DriverGlobals {
  let g = globalsByKernel.get(k);
  if (!g) {
    g = { usingLegacyBinding: false, usingGenericBinding: false };
    globalsByKernel.set(k, g);
  }
  return g;
}

const TWO32 = 2 ** 32;
function hex(x: number): string {
  return '0x' + (x >>> 0).toString(16);
}
function hex8(x: number): string {
  return (x >>> 0).toString(16).padStart(8, '0');
}

/** Every bound SMMU instance by its device. */
const byDevice = new WeakMap<Device, ArmSmmu>();

/**
 * One SMMUv1/v2 instance as the driver sees it (struct arm_smmu_device): its register pages,
 * features, stream map, context banks, interrupts, implementation hooks and the IommuOps it
 * registers. Created by the platform driver's probe.
 */
/**
 * The compiled-in options of an arm_smmu build (Kconfig sub-options of ARM_SMMU). Every field
 * defaults to what a GKI build has.
 */
export interface ArmSmmuConfig {
  /** CONFIG_ARM_SMMU_LEGACY_DT_BINDINGS (only meaningful built in): accept "mmu-masters". Default true. */
  readonly legacyDtBindings?: boolean;
  /** CONFIG_ARM_SMMU_DISABLE_BYPASS_BY_DEFAULT: unmatched streams fault instead of bypassing. Default true. */
  readonly disableBypass?: boolean;
  /** CONFIG_ARM_SMMU_QCOM: the Qualcomm implementation (and the Adreno interface). Default true. */
  readonly qcom?: boolean;
}

export class ArmSmmu {
  readonly kernel: Kernel;
  version: ArmSmmuVersion;
  model: ArmSmmuModel;
  impl: ArmSmmuImpl | null = null;
  /** Implementation-private state (Qualcomm stall bits, Cavium ID base, ...). */
  implData: Record<string, unknown> = {};
  features = 0;
  /** log2 of the register page size (12 or 16). */
  pgshift = 12;
  /** NUMPAGE: the global pages; context bank n is page numpage + n. Holds the resource size until cfgProbe. */
  numpage = 0;
  numContextBanks = 0;
  numS2ContextBanks = 0;
  /** context_map: bank n in use. */
  readonly contextMap: boolean[] = [];
  cbs: ArmSmmuCb[] = [];
  private irptndxCounter = 0;
  numMappingGroups = 0;
  streamidMask = 0;
  smrMaskMask = 0;
  /** Null for stream indexing. */
  smrs: ArmSmmuSmr[] | null = null;
  s2crs: ArmSmmuS2cr[] = [];
  vaSize = 0;
  ipaSize = 0;
  paSize = 0;
  pgsizeBitmap = 0;
  numGlobalIrqs = 0;
  numContextIrqs = 0;
  irqs: number[] = [];
  /** disable_bypass (Linux's default, CONFIG_ARM_SMMU_DISABLE_BYPASS_BY_DEFAULT=y): unmatched and unattached streams fault. */
  readonly disableBypass: boolean;
  /** The compiled-in options this instance was built with (see ArmSmmuConfig). */
  readonly config: Required<ArmSmmuConfig>;
  readonly masters = new Map<Device, ArmSmmuMasterCfg>();
  readonly ops: IommuOps;
  readonly domainOps = createDomainOps();
  iommu: IommuDevice | null = null;
  usingLegacyBinding = false;
  /** Fault injection: ArmSmmuTlbOp bits the flush ops skip (see SKIP_TLB). */
  skipTlb = 0;
  readonly stats: ArmSmmuStats = {
    contextFaults: 0,
    contextFaultsUnhandled: 0,
    globalFaults: 0,
    tlbSyncs: 0,
    tlbSyncTimeouts: 0,
    tlbi: { TLBIVA: 0, TLBIVAL: 0, TLBIASID: 0, TLBIIPAS2: 0, TLBIIPAS2L: 0, TLBIVMID: 0 },
    resumes: 0,
    terminates: 0,
  };
  readonly rlContext: RateLimit;
  readonly rlGlobal: RateLimit;
  readonly rlSync: RateLimit;
  private warnedPrefetch = false;
  private readonly par = { lo: 0, hi: 0 };

  constructor(
    readonly dev: Device,
    readonly regs: IoMem,
    match: ArmSmmuMatchData,
    owner: ModuleRef | null,
    config: ArmSmmuConfig = {},
  ) {
    this.kernel = dev.core.kernel;
    this.config = { legacyDtBindings: config.legacyDtBindings ?? true, disableBypass: config.disableBypass ?? true, qcom: config.qcom ?? true };
    this.disableBypass = this.config.disableBypass;
    this.version = match.version;
    this.model = match.model;
    this.rlContext = new RateLimit(this.kernel, 'arm_smmu_context_fault');
    this.rlGlobal = new RateLimit(this.kernel, 'arm_smmu_global_fault');
    this.rlSync = new RateLimit(this.kernel, '__arm_smmu_tlb_sync');
    const self = this;
    this.ops = {
      owner,
      get pgsizeBitmap() {
        return self.pgsizeBitmap;
      },
      probeDevice: (d) => this.probeDevice(d),
      releaseDevice: (d) => this.releaseDevice(d),
      deviceGroup: (d) => this.deviceGroup(d),
      ofXlate: (d, args) => this.ofXlate(d, args),
      domainAlloc: (type, d) => this.domainAlloc(type, d),
      defDomainType: (d) => this.defDomainType(d),
    };
  }

  // ------------------------------------------------------------------ register access

  /** Byte offset of register page n. */
  page(n: number): number {
    return n * 2 ** this.pgshift;
  }
  cbPage(idx: number): number {
    return this.page(this.numpage + idx);
  }
  /**
   * Further register instances programmed in lockstep with `regs` (NVIDIA Tegra's two or
   * three interleaved MMU-500s): every write goes to each, reads come from the first.
   */
  mirrors: readonly IoMem[] = [];

  private write32(at: number, v: number): void {
    this.regs.write32(at, v >>> 0);
    for (const m of this.mirrors) m.write32(at, v >>> 0);
  }
  gr0Read(off: number): number {
    return this.regs.read32(off) >>> 0;
  }
  gr0Write(off: number, v: number): void {
    this.write32(off, v);
  }
  gr1Read(off: number): number {
    return this.regs.read32(this.page(1) + off) >>> 0;
  }
  gr1Write(off: number, v: number): void {
    this.write32(this.page(1) + off, v);
  }
  cbRead(idx: number, off: number): number {
    return this.regs.read32(this.cbPage(idx) + off) >>> 0;
  }
  cbWrite(idx: number, off: number, v: number): void {
    this.write32(this.cbPage(idx) + off, v);
  }
  /** A 64-bit context bank register written from halves (writeq, or hi-lo 32-bit writes where the implementation needs it). */
  cbWriteq(idx: number, off: number, lo: number, hi: number): void {
    const at = this.cbPage(idx) + off;
    if (this.impl?.splitWriteq) {
      this.write32(at + 4, hi);
      this.write32(at, lo);
      return;
    }
    this.regs.write64parts(at, lo >>> 0, hi >>> 0);
    for (const m of this.mirrors) m.write64parts(at, lo >>> 0, hi >>> 0);
  }
  /** A 64-bit context bank register read into `out` as halves. */
  cbReadq(idx: number, off: number, out: { lo: number; hi: number }): void {
    const at = this.cbPage(idx) + off;
    if (this.impl?.splitWriteq) {
      out.hi = this.regs.read32(at + 4) >>> 0;
      out.lo = this.regs.read32(at) >>> 0;
      return;
    }
    this.regs.read64parts(at, out);
  }

  /** udelay on the board's clock (the model has no other notion of time). */
  udelay(us: number): void {
    this.kernel.board.clock.advance(us * 1000);
  }

  // ------------------------------------------------------------------ probe

  /**
   * arm_smmu_device_probe after the match data and registers: the DT properties, the
   * implementation, the interrupts, the ID registers, the reset, the SMR mask test and the
   * registration with the IOMMU core. 0 or -errno; devres releases what was taken on failure.
   */
  probe(builtin: boolean): number {
    const dev = this.dev;
    const node = dev.ofNode;
    const g = driverGlobals(this.kernel);
    // arm_smmu_device_dt_probe
    const nglobal = node ? ofPropertyReadU32(node, '#global-interrupts') : -EINVAL;
    if (nglobal < 0) {
      dev.err('missing #global-interrupts property');
      return -ENODEV;
    }
    this.numGlobalIrqs = nglobal;
    const legacy = node?.hasProperty('mmu-masters') ?? false;
    if (legacy && !g.usingGenericBinding) {
      const legacyOk = builtin && this.config.legacyDtBindings;
      if (!g.usingLegacyBinding)
        this.kernel.log.log('notice', 'arm-smmu', `deprecated "mmu-masters" DT property in use; ${legacyOk ? 'DMA API' : 'SMMU'} support unavailable`);
      if (!builtin) {
        dev.err('the legacy "mmu-masters" binding needs arm_smmu built in (ARM_SMMU_LEGACY_DT_BINDINGS depends on ARM_SMMU=y): not probing');
        return -ENODEV;
      }
      if (!legacyOk) {
        dev.err('the legacy "mmu-masters" binding is not compiled in (CONFIG_ARM_SMMU_LEGACY_DT_BINDINGS is not set): not probing');
        return -ENODEV;
      }
      g.usingLegacyBinding = true;
      this.usingLegacyBinding = true;
    } else if (!legacy && !g.usingLegacyBinding) {
      g.usingGenericBinding = true;
    } else {
      dev.err('not probing due to mismatched DT properties');
      return -ENODEV;
    }
    if (node?.hasProperty('dma-coherent')) this.features |= FEAT_COHERENT_WALK;

    const impl = armSmmuImplInit(this);
    if (typeof impl === 'number') return impl;
    this.impl = impl;

    let numIrqs = 0;
    for (;;) {
      const r = dev.irqOptional(numIrqs);
      if (r < 0) {
        if (r !== -ENXIO && r !== -EINVAL) return r; // -EPROBE_DEFER: the controller is not ready
        break;
      }
      numIrqs++;
      if (numIrqs > this.numGlobalIrqs) this.numContextIrqs++;
    }
    if (this.numContextIrqs === 0) {
      dev.err(`found ${numIrqs} interrupts but expected at least ${this.numGlobalIrqs + 1}`);
      return -ENODEV;
    }
    for (let i = 0; i < numIrqs; i++) this.irqs.push(dev.irq(i));

    let r = this.cfgProbe();
    if (r < 0) return r;
    if (this.version === 'v2') {
      if (this.numContextBanks > this.numContextIrqs) {
        dev.err(`found only ${this.numContextIrqs} context irq(s) but ${this.numContextBanks} required`);
        return -ENODEV;
      }
      this.numContextIrqs = this.numContextBanks; // superfluous ones are ignored
    }
    for (let i = 0; i < this.numGlobalIrqs; i++) {
      r = requestIrq(dev, this.irqs[i]!, () => this.globalFault(), { shared: true });
      if (r < 0) {
        dev.err(`failed to request global IRQ ${i} (${this.irqs[i]})`);
        return r;
      }
    }
    byDevice.set(dev, this);
    dev.devmAdd('arm-smmu instance', () => byDevice.delete(dev));
    this.deviceReset();
    this.testSmrMasks();
    this.iommu = { dev, ops: this.ops, fwnode: node };
    r = iommuDeviceRegister(this.kernel, this.iommu);
    if (r < 0) {
      dev.err('Failed to register iommu');
      this.iommu = null;
      return r;
    }
    if (this.usingLegacyBinding) this.registerLegacyMasters();
    return 0;
  }

  /** arm_smmu_device_remove: unregisters from the IOMMU core and turns translation off (CLIENTPD). */
  remove(): void {
    if (this.contextMap.some((x) => x)) this.dev.info('disabling translation');
    if (this.iommu) iommuDeviceUnregister(this.kernel, this.iommu);
    this.iommu = null;
    if (this.regs.mapped) this.gr0Write(R.GR0_SCR0, R.SCR0_CLIENTPD);
  }

  /** arm_smmu_device_cfg_probe: the ID registers. 0 or -ENODEV. */
  private cfgProbe(): number {
    const dev = this.dev;
    dev.info('probing hardware configuration...');
    dev.info(`SMMUv${this.version === 'v2' ? 2 : 1} with:`);
    let id = this.gr0Read(R.GR0_ID0);
    if (id & R.ID0_S1TS) {
      this.features |= FEAT_TRANS_S1;
      dev.info('\tstage 1 translation');
    }
    if (id & R.ID0_S2TS) {
      this.features |= FEAT_TRANS_S2;
      dev.info('\tstage 2 translation');
    }
    if (id & R.ID0_NTS) {
      this.features |= FEAT_TRANS_NESTED;
      dev.info('\tnested translation');
    }
    if (!(this.features & (FEAT_TRANS_S1 | FEAT_TRANS_S2))) {
      dev.err('\tno translation support!');
      return -ENODEV;
    }
    if (id & R.ID0_S1TS && (this.version !== 'v2' || !(id & R.ID0_ATOSNS))) {
      this.features |= FEAT_TRANS_OPS;
      dev.info('\taddress translation ops');
    }
    const cttwFw = (this.features & FEAT_COHERENT_WALK) !== 0;
    const cttwReg = (id & R.ID0_CTTW) !== 0;
    if (cttwFw || cttwReg) dev.info(`\t${cttwFw ? '' : 'non-'}coherent table walk`);
    if (cttwFw !== cttwReg) dev.info('\t(IDR0.CTTW overridden by FW configuration)');

    let size: number;
    if (this.version === 'v2' && id & R.ID0_EXIDS) {
      this.features |= FEAT_EXIDS;
      size = 1 << 16;
    } else {
      size = 1 << ((id >>> R.ID0_NUMSIDB_SHIFT) & R.ID0_NUMSIDB_MASK);
    }
    this.streamidMask = size - 1;
    if (id & R.ID0_SMS) {
      this.features |= FEAT_STREAM_MATCH;
      size = id & R.ID0_NUMSMRG_MASK;
      if (size === 0) {
        dev.err('stream-matching supported, but no SMRs present!');
        return -ENODEV;
      }
      this.smrs = [];
      for (let i = 0; i < size; i++) this.smrs.push({ id: 0, mask: 0, valid: false });
      dev.info(`\tstream matching with ${size} register groups`);
    }
    // (a model check: Linux trusts the ID registers) the S2CRs must fit in the GR0 page
    const gr0Size = (this.gr0Read(R.GR0_ID1) & R.ID1_PAGESIZE ? 2 ** 16 : 2 ** 12);
    if (R.gr0S2cr(size) > gr0Size) {
      dev.err(`${size} stream-to-context registers do not fit the global register page`);
      return -ENODEV;
    }
    this.s2crs = [];
    for (let i = 0; i < size; i++) this.s2crs.push(this.s2crInitVal());
    this.numMappingGroups = size;
    if (this.version !== 'v2' || !(id & R.ID0_PTFS_NO_AARCH32)) {
      this.features |= FEAT_FMT_AARCH32_L;
      if (!(id & R.ID0_PTFS_NO_AARCH32S)) this.features |= FEAT_FMT_AARCH32_S;
    }

    // ID1
    id = this.gr0Read(R.GR0_ID1);
    this.pgshift = id & R.ID1_PAGESIZE ? 16 : 12;
    size = 1 << (((id >>> R.ID1_NUMPAGENDXB_SHIFT) & R.ID1_NUMPAGENDXB_MASK) + 1);
    const span = 2 * size * 2 ** this.pgshift;
    if (this.numpage !== span) dev.warn(`SMMU address space size (${hex(span)}) differs from mapped region size (${hex(this.numpage)})!`);
    if (span > this.regs.size) {
      dev.err(`SMMU address space (${hex(span)}) does not fit the ${hex(this.regs.size)}-byte register window`);
      return -ENODEV;
    }
    this.numpage = size;
    this.numS2ContextBanks = (id >>> R.ID1_NUMS2CB_SHIFT) & R.ID1_NUMS2CB_MASK;
    this.numContextBanks = id & R.ID1_NUMCB_MASK;
    if (this.numS2ContextBanks > this.numContextBanks) {
      dev.err('impossible number of S2 context banks!');
      return -ENODEV;
    }
    if (this.numContextBanks > this.numpage) {
      dev.err(`${this.numContextBanks} context banks do not fit ${this.numpage} context bank pages`);
      return -ENODEV;
    }
    dev.info(`\t${this.numContextBanks} context banks (${this.numS2ContextBanks} stage-2 only)`);
    this.cbs = [];
    this.contextMap.length = 0;
    for (let i = 0; i < this.numContextBanks; i++) {
      this.cbs.push({ cfg: null, tcr: [0, 0], ttbrLo: [0, 0], ttbrHi: [0, 0], mair: [0, 0] });
      this.contextMap.push(false);
    }

    // ID2
    id = this.gr0Read(R.GR0_ID2);
    this.ipaSize = R.idSizeToBits(id & R.ID2_IAS_MASK);
    this.paSize = R.idSizeToBits((id >>> R.ID2_OAS_SHIFT) & 0xf);
    if (id & R.ID2_VMID16) this.features |= FEAT_VMID16;
    if (this.version !== 'v2') {
      this.vaSize = this.ipaSize;
      if (this.version === 'v1-64k') this.features |= FEAT_FMT_AARCH64_64K;
    } else {
      this.vaSize = R.idSizeToBits((id >>> R.ID2_UBS_SHIFT) & 0xf);
      if (id & R.ID2_PTFS_4K) this.features |= FEAT_FMT_AARCH64_4K;
      if (id & R.ID2_PTFS_16K) this.features |= FEAT_FMT_AARCH64_16K;
      if (id & R.ID2_PTFS_64K) this.features |= FEAT_FMT_AARCH64_64K;
    }
    if (this.impl?.cfgProbe) {
      const r = this.impl.cfgProbe(this);
      if (r < 0) return r;
    }
    let bm = 0;
    const add = (...sizes: number[]) => {
      for (const s of sizes) if (!hasSize(bm, s)) bm += s;
    };
    if (this.features & FEAT_FMT_AARCH32_S) add(SZ_4K, SZ_64K, SZ_1M, SZ_16M);
    if (this.features & (FEAT_FMT_AARCH32_L | FEAT_FMT_AARCH64_4K)) add(SZ_4K, SZ_2M, SZ_1G);
    if (this.features & FEAT_FMT_AARCH64_16K) add(SZ_16K, SZ_32M);
    if (this.features & FEAT_FMT_AARCH64_64K) add(SZ_64K, SZ_512M);
    this.pgsizeBitmap = bm;
    dev.info(`\tSupported page sizes: 0x${hex8(bm)}`);
    if (this.features & FEAT_TRANS_S1) dev.info(`\tStage-1: ${this.vaSize}-bit VA -> ${this.ipaSize}-bit IPA`);
    if (this.features & FEAT_TRANS_S2) dev.info(`\tStage-2: ${this.ipaSize}-bit IPA -> ${this.paSize}-bit PA`);
    return 0;
  }

  /** The reset value of an S2CR (s2cr_init_val): fault when bypass is disabled, else bypass. */
  s2crInitVal(): ArmSmmuS2cr {
    return { group: null, count: 0, type: this.disableBypass ? R.S2CR_TYPE_FAULT : R.S2CR_TYPE_BYPASS, privcfg: R.S2CR_PRIVCFG_DEFAULT, cbndx: 0 };
  }

  /**
   * arm_smmu_device_reset: clears the global fault status, writes every stream map entry and
   * context bank, invalidates the TLBs, lets the implementation reset, syncs and finally
   * enables the SMMU through sCR0.
   */
  deviceReset(): void {
    this.gr0Write(R.GR0_SGFSR, this.gr0Read(R.GR0_SGFSR));
    for (let i = 0; i < this.numMappingGroups; i++) this.writeSme(i);
    for (let i = 0; i < this.numContextBanks; i++) {
      this.writeContextBank(i);
      this.cbWrite(i, R.CB_FSR, R.FSR_FAULT);
    }
    this.gr0Write(R.GR0_TLBIALLH, QCOM_DUMMY_VAL);
    this.gr0Write(R.GR0_TLBIALLNSNH, QCOM_DUMMY_VAL);
    let reg = this.gr0Read(R.GR0_SCR0);
    reg |= R.SCR0_GFRE | R.SCR0_GFIE | R.SCR0_GCFGFRE | R.SCR0_GCFGFIE;
    reg |= R.SCR0_VMIDPNE | R.SCR0_PTM;
    reg &= ~R.SCR0_CLIENTPD;
    if (this.disableBypass) reg |= R.SCR0_USFCFG;
    else reg &= ~R.SCR0_USFCFG;
    reg &= ~R.SCR0_FB;
    reg &= ~R.SCR0_BSU_MASK;
    if (this.features & FEAT_VMID16) reg |= R.SCR0_VMID16EN;
    if (this.features & FEAT_EXIDS) reg |= R.SCR0_EXIDENABLE;
    this.impl?.reset?.(this);
    this.tlbSyncGlobal();
    this.gr0Write(R.GR0_SCR0, reg >>> 0);
  }

  /** MMU-500 erratum workaround helper: warn once when the prefetcher could not be disabled. */
  warnPrefetchOnce(): void {
    if (this.warnedPrefetch) return;
    this.warnedPrefetch = true;
    this.dev.warn('Failed to disable prefetcher [errata #841119 and #826419], check ACR.CACHE_LOCK');
  }

  /**
   * arm_smmu_test_smr_masks: which SMR ID and MASK bits are implemented, probed through a free
   * SMR (after sCR0 is written, as EXIDENABLE changes the widths). Masters claiming other bits
   * are refused.
   */
  private testSmrMasks(): void {
    if (!this.smrs) return;
    const i = this.smrs.findIndex((s) => !s.valid);
    if (i < 0) return;
    this.gr0Write(R.gr0Smr(i), this.streamidMask & R.SMR_ID_MASK);
    this.streamidMask = this.gr0Read(R.gr0Smr(i)) & R.SMR_ID_MASK;
    this.gr0Write(R.gr0Smr(i), (this.streamidMask << R.SMR_MASK_SHIFT) >>> 0);
    this.smrMaskMask = (this.gr0Read(R.gr0Smr(i)) >>> R.SMR_MASK_SHIFT) & 0xffff;
  }

  // ------------------------------------------------------------------ stream map

  writeSmr(idx: number): void {
    const smr = this.smrs![idx]!;
    let reg = (smr.id & R.SMR_ID_MASK) | ((smr.mask & 0xffff) << R.SMR_MASK_SHIFT);
    if (!(this.features & FEAT_EXIDS) && smr.valid) reg |= R.SMR_VALID;
    this.gr0Write(R.gr0Smr(idx), reg >>> 0);
  }

  writeS2cr(idx: number): void {
    if (this.impl?.writeS2cr) return this.impl.writeS2cr(this, idx);
    const s2cr = this.s2crs[idx]!;
    let reg = (s2cr.type << R.S2CR_TYPE_SHIFT) | (s2cr.cbndx & R.S2CR_CBNDX_MASK) | (s2cr.privcfg << R.S2CR_PRIVCFG_SHIFT);
    if (this.features & FEAT_EXIDS && this.smrs && this.smrs[idx]!.valid) reg |= R.S2CR_EXIDVALID;
    this.gr0Write(R.gr0S2cr(idx), reg >>> 0);
  }

  /** S2CR then SMR, so that a newly valid SMR never points at a stale S2CR. */
  writeSme(idx: number): void {
    this.writeS2cr(idx);
    if (this.smrs) this.writeSmr(idx);
  }

  /**
   * arm_smmu_find_sme: the entry for (id, mask): an existing valid SMR that covers it entirely
   * (reused), else the first free one. -EINVAL when it partly overlaps a valid SMR (some
   * stream would match two), -ENOSPC when none is free. With stream indexing, the ID itself.
   */
  findSme(id: number, mask: number): number {
    const smrs = this.smrs;
    if (!smrs) return id;
    let free = -ENOSPC;
    for (let i = 0; i < this.numMappingGroups; i++) {
      const s = smrs[i]!;
      if (!s.valid) {
        if (free < 0) free = i;
        continue;
      }
      if ((mask & s.mask) === mask && ((id ^ s.id) & ~s.mask & 0xffff) === 0) return i;
      if (((id ^ s.id) & ~(s.mask | mask) & 0xffff) === 0) return -EINVAL;
    }
    return free;
  }

  /** arm_smmu_free_sme: drops one user; true when the entry went back to its reset value. */
  private freeSme(idx: number): boolean {
    const s2cr = this.s2crs[idx]!;
    if (--s2cr.count > 0) return false;
    this.s2crs[idx] = this.s2crInitVal();
    if (this.smrs) this.smrs[idx]!.valid = false;
    return true;
  }

  /** arm_smmu_master_alloc_smes: an entry per ID, all or nothing; then the hardware is written. */
  private allocSmes(cfg: ArmSmmuMasterCfg): number {
    const smrs = this.smrs;
    let i = 0;
    for (; i < cfg.ids.length; i++) {
      const fw = cfg.ids[i]!;
      const sid = fw & R.SMR_ID_MASK;
      const mask = (fw >>> R.SMR_MASK_SHIFT) & 0xffff;
      let err = 0;
      if (cfg.smendx[i] !== INVALID_SMENDX) err = -EEXIST;
      else {
        const idx = this.findSme(sid, mask);
        if (idx < 0) err = idx;
        else {
          if (smrs && this.s2crs[idx]!.count === 0) smrs[idx] = { id: sid, mask, valid: true };
          this.s2crs[idx]!.count++;
          cfg.smendx[i] = idx;
        }
      }
      if (err < 0) {
        while (i-- > 0) {
          this.freeSme(cfg.smendx[i]!);
          cfg.smendx[i] = INVALID_SMENDX;
        }
        return err;
      }
    }
    for (const idx of cfg.smendx) this.writeSme(idx);
    return 0;
  }

  private freeSmes(cfg: ArmSmmuMasterCfg): void {
    for (let i = 0; i < cfg.smendx.length; i++) {
      const idx = cfg.smendx[i]!;
      if (idx === INVALID_SMENDX) continue;
      if (this.freeSme(idx)) this.writeSme(idx);
      cfg.smendx[i] = INVALID_SMENDX;
    }
  }

  /**
   * Points every stream map entry of `cfg` at `type` / context bank `cbndx`
   * (arm_smmu_master_install_s2crs), writing only the entries that change.
   */
  installS2crs(cfg: ArmSmmuMasterCfg, type: R.S2crType, cbndx: number): void {
    for (const idx of cfg.smendx) {
      const s2cr = this.s2crs[idx]!;
      if (s2cr.type === type && s2cr.cbndx === cbndx) continue;
      s2cr.type = type;
      s2cr.privcfg = R.S2CR_PRIVCFG_DEFAULT;
      s2cr.cbndx = cbndx;
      this.writeS2cr(idx);
    }
  }

  // ------------------------------------------------------------------ masters

  /** arm_smmu_of_xlate: SID in bits [15:0], mask in [31:16] from the second cell or `stream-match-mask`. */
  private ofXlate(dev: Device, args: readonly number[]): number {
    let fwid = 0;
    if (args.length > 0) fwid |= args[0]! & R.SMR_ID_MASK;
    if (args.length > 1) fwid |= (args[1]! & 0xffff) << R.SMR_MASK_SHIFT;
    else {
      const m = this.dev.ofNode ? ofPropertyReadU32(this.dev.ofNode, 'stream-match-mask') : -EINVAL;
      if (m >= 0) fwid |= (m & 0xffff) << R.SMR_MASK_SHIFT;
    }
    return iommuFwspecAddIds(dev, [fwid >>> 0]);
  }

  /**
   * arm_smmu_probe_device: checks the master's IDs against the implemented SID and mask bits,
   * then allocates its stream map entries (shared with identical or covering ones). -ENODEV
   * without a fwspec, -EINVAL for an ID out of range or a partial overlap, -ENOSPC when the
   * SMRs are exhausted; nothing changes on failure.
   */
  private probeDevice(dev: Device): number {
    const fw = devIommuFwspecGet(dev);
    if (!fw || fw.iommuFwnode !== this.dev.ofNode || fw.ids.length === 0) return -ENODEV;
    if (this.masters.has(dev)) return -EEXIST;
    for (const id of fw.ids) {
      const sid = id & R.SMR_ID_MASK;
      const mask = (id >>> R.SMR_MASK_SHIFT) & 0xffff;
      if (sid & ~this.streamidMask) {
        dev.err(`stream ID ${hex(sid)} out of range for SMMU (${hex(this.streamidMask)})`);
        return -EINVAL;
      }
      if (mask & ~this.smrMaskMask) {
        dev.err(`SMR mask ${hex(mask)} out of range for SMMU (${hex(this.smrMaskMask)})`);
        return -EINVAL;
      }
    }
    const cfg: ArmSmmuMasterCfg = { dev, smmu: this, ids: [...fw.ids], smendx: fw.ids.map(() => INVALID_SMENDX) };
    const r = this.allocSmes(cfg);
    if (r < 0) return r;
    devIommuPrivSet(dev, cfg);
    this.masters.set(dev, cfg);
    return 0;
  }

  /** arm_smmu_release_device: frees the master's stream map entries. */
  private releaseDevice(dev: Device): void {
    const cfg = this.masters.get(dev);
    if (!cfg) return;
    if (this.regs.mapped) this.freeSmes(cfg);
    this.masters.delete(dev);
    devIommuPrivSet(dev, undefined);
  }

  /** arm_smmu_device_group: masters sharing a stream map entry share a group. */
  private deviceGroup(dev: Device): IommuGroup | number {
    const cfg = this.masters.get(dev);
    if (!cfg) return -ENODEV;
    let group: IommuGroup | null = null;
    for (const idx of cfg.smendx) {
      const g = this.s2crs[idx]!.group;
      if (group && g && g !== group) return -EINVAL;
      if (g) group = g;
    }
    if (group) return group;
    // arm_smmu_device_group: PCI functions are grouped by the PCI rules (aliases, ACS)
    group = devIsPci(dev) ? pciDeviceGroup(dev) : genericDeviceGroup(dev);
    for (const idx of cfg.smendx) this.s2crs[idx]!.group = group;
    return group;
  }

  /** The master state of `dev`, if this SMMU probed it. */
  masterCfg(dev: Device): ArmSmmuMasterCfg | undefined {
    return devIommuPrivGet<ArmSmmuMasterCfg>(dev) ?? this.masters.get(dev);
  }

  /** The master whose stream map entries match stream `sid` and point at context bank `cbndx` (for fault reports). */
  masterForStream(sid: number, cbndx: number): Device | undefined {
    for (const cfg of this.masters.values()) {
      for (const idx of cfg.smendx) {
        const s2cr = this.s2crs[idx]!;
        if (s2cr.type !== R.S2CR_TYPE_TRANS || s2cr.cbndx !== cbndx) continue;
        const smr = this.smrs?.[idx];
        if (smr ? ((sid ^ smr.id) & ~smr.mask & 0xffff) === 0 : idx === sid) return cfg.dev;
      }
    }
    return undefined;
  }

  private defDomainType(dev: Device): IommuDomainType | null {
    if (this.usingLegacyBinding) return 'identity';
    return this.impl?.defDomainType?.(dev) ?? null;
  }

  /**
   * The legacy binding (built-in driver only): every phandle of the SMMU's `mmu-masters`,
   * with its `#stream-id-cells` IDs, becomes a master probed at once (what Linux does from
   * its device_initcall_sync bus setup). Masters get identity default domains.
   */
  private registerLegacyMasters(): void {
    const node = this.dev.ofNode!;
    for (let i = 0; ; i++) {
      const spec = ofParsePhandleWithArgs(node, 'mmu-masters', '#stream-id-cells', i);
      if (typeof spec === 'number') break;
      const master = this.kernel.drivers.deviceForNode(spec.np);
      if (!master) {
        this.dev.warn(`legacy master ${spec.np.fullName} has no device`);
        continue;
      }
      let r = iommuFwspecInit(master, node);
      if (r === 0) r = iommuFwspecAddIds(master, spec.args.map((a) => a & R.SMR_ID_MASK));
      if (r === 0) r = iommuProbeDevice(master);
      if (r < 0) master.err(`legacy mmu-masters registration failed with ${r}`);
    }
  }

  // ------------------------------------------------------------------ domains

  private domainAlloc(type: IommuDomainType, _dev: Device | null): IommuDomain | number {
    if (type !== 'unmanaged' && type !== 'dma' && type !== 'identity' && type !== 'blocked') return -EINVAL;
    if (type === 'dma' && this.usingLegacyBinding) return -EINVAL;
    return new ArmSmmuDomainImpl(this, type);
  }

  /** __arm_smmu_alloc_bitmap over the context map: the first free bank in [start, end), or -ENOSPC. */
  allocContextBank(start: number, end: number): number {
    for (let i = start; i < end && i < this.numContextBanks; i++) {
      if (!this.contextMap[i]) {
        this.contextMap[i] = true;
        return i;
      }
    }
    return -ENOSPC;
  }

  freeContextBank(idx: number): void {
    if (idx >= 0 && idx < this.contextMap.length) this.contextMap[idx] = false;
  }

  /** The next context interrupt index on SMMUv1 (round robin). */
  nextIrptndx(): number {
    this.irptndxCounter++;
    return this.irptndxCounter % this.numContextIrqs;
  }

  /**
   * arm_smmu_write_context_bank: CBA2R, CBAR, TCR2/TCR, TTBRs (CONTEXTIDR for the short
   * format), MAIRs, then SCTLR, which turns the context on. A bank without configuration
   * only gets SCTLR = 0.
   */
  writeContextBank(idx: number): void {
    const cb = this.cbs[idx]!;
    const cfg = cb.cfg;
    if (!cfg) {
      this.cbWrite(idx, R.CB_SCTLR, 0);
      return;
    }
    const stage1 = cfg.cbar !== R.CBAR_TYPE_S2_TRANS;
    // CBA2R and TCR2 exist from the 64 KiB supplement on (Linux: version > ARM_SMMU_V1), so an
    // MMU-401's AArch64 contexts get VA64 and their TCR2.
    if (this.version !== 'v1') {
      let reg = cfg.fmt === 'aarch64' ? R.CBA2R_VA64 : 0;
      if (this.features & FEAT_VMID16) reg |= (cfg.vmid & 0xffff) << R.CBA2R_VMID16_SHIFT;
      this.gr1Write(R.gr1Cba2r(idx), reg >>> 0);
    }
    let reg = cfg.cbar << R.CBAR_TYPE_SHIFT;
    if (this.version !== 'v2') reg |= (cfg.irptndx & 0xff) << R.CBAR_IRPTNDX_SHIFT;
    if (stage1) reg |= (R.CBAR_S1_BPSHCFG_NSH << R.CBAR_S1_BPSHCFG_SHIFT) | (R.CBAR_S1_MEMATTR_WB << R.CBAR_S1_MEMATTR_SHIFT);
    else if (!(this.features & FEAT_VMID16)) reg |= cfg.vmid & R.CBAR_VMID_MASK;
    this.gr1Write(R.gr1Cbar(idx), reg >>> 0);
    if (stage1 && this.version !== 'v1') this.cbWrite(idx, R.CB_TCR2, cb.tcr[1]);
    this.cbWrite(idx, R.CB_TCR, cb.tcr[0]);
    if (cfg.fmt === 'aarch32-s') {
      this.cbWrite(idx, R.CB_CONTEXTIDR, cfg.asid);
      this.cbWrite(idx, R.CB_TTBR0, cb.ttbrLo[0]);
      this.cbWrite(idx, R.CB_TTBR1, cb.ttbrLo[1]);
    } else {
      this.cbWriteq(idx, R.CB_TTBR0, cb.ttbrLo[0], cb.ttbrHi[0]);
      if (stage1) this.cbWriteq(idx, R.CB_TTBR1, cb.ttbrLo[1], cb.ttbrHi[1]);
    }
    if (stage1) {
      this.cbWrite(idx, R.CB_S1_MAIR0, cb.mair[0]);
      this.cbWrite(idx, R.CB_S1_MAIR1, cb.mair[1]);
    }
    let sctlr = R.SCTLR_CFIE | R.SCTLR_CFRE | R.SCTLR_AFE | R.SCTLR_TRE | R.SCTLR_M;
    if (stage1) sctlr |= R.SCTLR_S1_ASIDPNE;
    if (this.impl?.writeSctlr) this.impl.writeSctlr(this, idx, sctlr >>> 0);
    else this.cbWrite(idx, R.CB_SCTLR, sctlr >>> 0);
  }

  // ------------------------------------------------------------------ TLB maintenance

  /**
   * __arm_smmu_tlb_sync: writes the sync register, then polls the status register, spinning
   * TLB_SPIN_COUNT times per step and backing off exponentially (on the board clock) up to
   * Linux's 1 s, then reports "TLB sync timed out -- SMMU may be deadlocked" (ratelimited).
   * Returns 0 or -ETIMEDOUT.
   */
  tlbSync(pageOff: number, syncOff: number, statusOff: number): number {
    if (this.skipTlb & SKIP_TLB.TLBSYNC) return 0;
    this.stats.tlbSyncs++;
    this.write32(pageOff + syncOff, QCOM_DUMMY_VAL);
    for (let delay = 1; delay < R.TLB_LOOP_TIMEOUT_US; delay *= 2) {
      for (let spin = R.TLB_SPIN_COUNT; spin > 0; spin--) {
        // with mirrored instances (NVIDIA), done when every instance is done
        let status = this.regs.read32(pageOff + statusOff);
        for (const m of this.mirrors) status |= m.read32(pageOff + statusOff);
        if (!(status & R.STLBGSTATUS_GSACTIVE)) return 0;
      }
      this.udelay(delay);
    }
    this.stats.tlbSyncTimeouts++;
    if (this.rlSync.allow()) this.dev.err('TLB sync timed out -- SMMU may be deadlocked');
    return -110;
  }

  tlbSyncGlobal(): number {
    return this.tlbSync(0, R.GR0_STLBGSYNC, R.GR0_STLBGSTATUS);
  }

  tlbSyncContext(cbndx: number): number {
    return this.tlbSync(this.cbPage(cbndx), R.CB_TLBSYNC, R.CB_TLBSTATUS);
  }

  /** TLBIVMID (GR0), unless fault injection skips it. */
  tlbiVmid(vmid: number): void {
    if (this.skipTlb & SKIP_TLB.TLBIVMID) return;
    this.stats.tlbi.TLBIVMID++;
    this.gr0Write(R.GR0_TLBIVMID, vmid);
  }

  // ------------------------------------------------------------------ faults

  /**
   * The global fault interrupt (arm_smmu_global_fault): reads sGFSR and the syndromes; an
   * unidentified stream blocked by disable_bypass names its stream ID, anything else is an
   * "Unexpected global fault"; both ratelimited; sGFSR is written back to clear it.
   */
  globalFault(): void {
    if (!this.regs.mapped) return;
    const gfsr = this.gr0Read(R.GR0_SGFSR);
    const gfsynr0 = this.gr0Read(R.GR0_SGFSYNR0);
    const gfsynr1 = this.gr0Read(R.GR0_SGFSYNR1);
    const gfsynr2 = this.gr0Read(R.GR0_SGFSYNR2);
    if (!gfsr) return;
    this.stats.globalFaults++;
    if (this.rlGlobal.allow()) {
      if (this.disableBypass && gfsr & R.SGFSR_USF)
        this.dev.err(
          `Blocked unknown Stream ID ${hex(gfsynr1 & 0xffff)}; boot with "arm-smmu.disable_bypass=0" to allow, but this may have security implications`,
        );
      else this.dev.err('Unexpected global fault, this could be serious');
      this.dev.err(`\tGFSR 0x${hex8(gfsr)}, GFSYNR0 0x${hex8(gfsynr0)}, GFSYNR1 0x${hex8(gfsynr1)}, GFSYNR2 0x${hex8(gfsynr2)}`);
    }
    this.gr0Write(R.GR0_SGFSR, gfsr);
  }

  /** arm_smmu_iova_to_phys_hard's translation: ATS1PR, poll ATSR, read PAR; -1 to fall back to the software walk. */
  hardTranslate(cbndx: number, fmt: ArmSmmuContextFmt, iova: number): number {
    const va = iova - (((iova % 4096) + 4096) % 4096);
    if (fmt === 'aarch64') this.cbWriteq(cbndx, R.CB_ATS1PR, va >>> 0, Math.floor(va / TWO32) >>> 0);
    else this.cbWrite(cbndx, R.CB_ATS1PR, va >>> 0);
    let ok = false;
    for (let t = 0; t <= R.ATSR_POLL_TIMEOUT_US; t += R.ATSR_POLL_DELAY_US) {
      if (!(this.cbRead(cbndx, R.CB_ATSR) & R.ATSR_ACTIVE)) {
        ok = true;
        break;
      }
      this.udelay(R.ATSR_POLL_DELAY_US);
    }
    if (!ok) {
      this.dev.err(`iova to phys timed out on ${hex(iova)}. Falling back to software table walk.`);
      return -1;
    }
    this.cbReadq(cbndx, R.CB_PAR, this.par);
    if (this.par.lo & R.CB_PAR_F) {
      this.dev.err('translation fault!');
      this.dev.err(`PAR = 0x${hex8(this.par.hi)}${hex8(this.par.lo)}`);
      return 0;
    }
    // PA bits [39:12] of PAR, as Linux takes them
    const pa = (this.par.hi & 0xff) * TWO32 + (this.par.lo & 0xffff_f000);
    return pa + (((iova % 4096) + 4096) % 4096);
  }

  /** True while the SMMU is bound: registers mapped and registered with the IOMMU core. */
  get isLive(): boolean {
    return this.regs.mapped && this.iommu !== null;
  }

  /** Writes an arbitrary value to a GR0 register: a debugging hook that lets tests program the SMMU wrongly. */
  debugGr0Write(off: number, value: number): void {
    this.gr0Write(off, value);
  }
}

function hasSize(bitmap: number, size: number): boolean {
  return Math.floor(bitmap / size) % 2 === 1;
}

/** The SMMU instance bound to `dev` (the SMMU's own device), if any. */
export function armSmmuFromDevice(dev: Device): ArmSmmu | undefined {
  return byDevice.get(dev);
}

/** The driver's state for a master it probed, if any. */
export function armSmmuMasterOf(dev: Device): ArmSmmuMasterCfg | undefined {
  const cfg = devIommuPrivGet<ArmSmmuMasterCfg>(dev);
  return cfg && typeof cfg === 'object' && 'smendx' in cfg && 'smmu' in cfg ? cfg : undefined;
}

/** True when `np` is the node of an SMMU this driver instance bound. */
export function isArmSmmuNode(k: Kernel, np: OfNode): boolean {
  const d = k.drivers.deviceForNode(np);
  return d !== undefined && byDevice.has(d);
}
