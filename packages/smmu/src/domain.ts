import { IO_PGTABLE_QUIRK_ARM_TTBR1, allocIoPgtableOps, freeIoPgtableOps } from '@gki/io-pgtable-core';
import type { IommuFlushOps, IoPgtableCfg, IoPgtableFmt, IoPgtableOps } from '@gki/io-pgtable-core';
import {
  EAGAIN,
  EINVAL,
  ENODEV,
  ENOMEM,
  ENOSYS,
  ENXIO,
  EPERM,
  EPROBE_DEFER,
  IOMMU_FAULT_READ,
  IOMMU_FAULT_WRITE,
  errnoName,
  freeIrq,
  iommuDomainSetPgtblOps,
  reportIommuFault,
  requestIrq,
} from '@gki/kernel';
import type { AdrenoSmmuPgtableCfg, AdrenoSmmuPriv, Device, IommuDomain, IommuDomainGeometry, IommuDomainOps, IommuDomainType } from '@gki/kernel';
import * as R from './regs.js';
import {
  ARM_SMMU_INVALID_IRPTNDX,
  FEAT_COHERENT_WALK,
  FEAT_FMT_AARCH32_L,
  FEAT_FMT_AARCH32_S,
  FEAT_FMT_AARCH64,
  FEAT_TRANS_OPS,
  FEAT_TRANS_S1,
  FEAT_TRANS_S2,
  SKIP_TLB,
  armSmmuMasterOf,
  type ArmSmmu,
  type ArmSmmuCfg,
} from './smmu.js';

/** Translation stage of a domain (enum arm_smmu_domain_stage); identity domains are 'bypass'. */
export type ArmSmmuStage = 's1' | 's2' | 'nested' | 'bypass';

const TWO32 = 2 ** 32;

/** arm_smmu_lpae_tcr: TCR from a stage-1 LPAE config (shifted into the TTBR1 half, EPD0 set, for the TTBR1 quirk). */
export function lpaeTcr(cfg: Readonly<AdrenoSmmuPgtableCfg>): number {
  const t = cfg.armLpaeS1Cfg!.tcr;
  let tcr = (t.tg << R.TCR_TG0_SHIFT) | (t.sh << R.TCR_SH0_SHIFT) | (t.orgn << R.TCR_ORGN0_SHIFT) | (t.irgn << R.TCR_IRGN0_SHIFT) | (t.tsz & R.TCR_T0SZ_MASK);
  if (cfg.quirks & IO_PGTABLE_QUIRK_ARM_TTBR1) {
    tcr = (tcr << 16) & ~R.TCR_A1;
    tcr |= R.TCR_EPD0;
  } else {
    tcr |= R.TCR_EPD1;
  }
  return tcr >>> 0;
}

/** arm_smmu_lpae_tcr2: PASIZE and sign extension from the upstream bus. */
export function lpaeTcr2(cfg: Readonly<IoPgtableCfg>): number {
  return ((cfg.armLpaeS1Cfg!.tcr.ips & R.TCR2_PASIZE_MASK) | (R.TCR2_SEP_UPSTREAM << R.TCR2_SEP_SHIFT)) >>> 0;
}

/** arm_smmu_lpae_vtcr: the stage-2 TCR from an LPAE stage-2 config. */
export function lpaeVtcr(cfg: Readonly<IoPgtableCfg>): number {
  const v = cfg.armLpaeS2Cfg!.vtcr;
  return (
    (R.VTCR_RES1 |
      (v.ps << R.VTCR_PS_SHIFT) |
      (v.tg << R.TCR_TG0_SHIFT) |
      (v.sh << R.TCR_SH0_SHIFT) |
      (v.orgn << R.TCR_ORGN0_SHIFT) |
      (v.irgn << R.TCR_IRGN0_SHIFT) |
      (v.sl << R.VTCR_SL0_SHIFT) |
      (v.tsz & R.TCR_T0SZ_MASK)) >>>
    0
  );
}

/** A 64-bit bigint register value as halves. */
function split64(v: bigint): [number, number] {
  const u = BigInt.asUintN(64, v);
  return [Number(u & 0xffff_ffffn), Number(u >> 32n)];
}

/** An arm_smmu domain as other code may inspect it. */
export interface ArmSmmuDomain extends IommuDomain {
  /** The SMMU it was finalised on (first attach); null before. */
  readonly smmu: ArmSmmu | null;
  readonly stage: ArmSmmuStage;
  readonly cfg: Readonly<ArmSmmuCfg>;
  /** The io-pgtable format its context uses, once finalised. */
  readonly fmt: IoPgtableFmt | null;
  readonly pgtbl: IoPgtableOps | null;
  /** The io-pgtable configuration as the format completed it, once finalised. */
  readonly pgtblCfg: Readonly<IoPgtableCfg> | null;
}

/** The io-pgtable TLB callbacks per stage; the cookie is the domain. */
const S1_TLB_OPS: IommuFlushOps = {
  tlbFlushAll: (c) => (c as ArmSmmuDomainImpl).tlbInvContextS1(),
  tlbFlushWalk: (iova, size, granule, c) => {
    const d = c as ArmSmmuDomainImpl;
    if (d.cfg.flushWalkPreferTlbiasid) return d.tlbInvContextS1();
    d.tlbInvRangeS1(iova, size, granule, false);
    d.tlbSyncContext();
  },
  tlbAddPage: (_g, iova, granule, c) => (c as ArmSmmuDomainImpl).tlbInvRangeS1(iova, granule, granule, true),
};

const S2_TLB_OPS_V2: IommuFlushOps = {
  tlbFlushAll: (c) => (c as ArmSmmuDomainImpl).tlbInvContextS2(),
  tlbFlushWalk: (iova, size, granule, c) => {
    const d = c as ArmSmmuDomainImpl;
    d.tlbInvRangeS2(iova, size, granule, false);
    d.tlbSyncContext();
  },
  tlbAddPage: (_g, iova, granule, c) => (c as ArmSmmuDomainImpl).tlbInvRangeS2(iova, granule, granule, true),
};

/** SMMUv1 has no per-IPA invalidation: everything is by VMID. */
const S2_TLB_OPS_V1: IommuFlushOps = {
  tlbFlushAll: (c) => (c as ArmSmmuDomainImpl).tlbInvContextS2(),
  tlbFlushWalk: (_i, _s, _g, c) => (c as ArmSmmuDomainImpl).tlbInvContextS2(),
  tlbAddPage: (_g, _i, _gr, c) => {
    const d = c as ArmSmmuDomainImpl;
    if (d.smmu?.regs.mapped) d.smmu.tlbiVmid(d.cfg.vmid);
  },
};

/** The domain object (struct arm_smmu_domain). */
export class ArmSmmuDomainImpl implements ArmSmmuDomain {
  readonly ops: IommuDomainOps;
  pgsizeBitmap = 0;
  geometry: IommuDomainGeometry = { apertureStart: 0, apertureEnd: 0, forceAperture: true };
  smmu: ArmSmmu | null = null;
  stage: ArmSmmuStage = 's1';
  readonly cfg: ArmSmmuCfg = {
    cbndx: -1,
    irptndx: ARM_SMMU_INVALID_IRPTNDX,
    asid: 0,
    vmid: 0,
    cbar: 0,
    fmt: 'none',
    flushWalkPreferTlbiasid: false,
  };
  fmt: IoPgtableFmt | null = null;
  pgtbl: IoPgtableOps | null = null;
  /** The published page table (IommuDomain.pgtblOps): `pgtbl` while the domain is live. */
  pgtblOps: IoPgtableOps | null = null;
  /** The io-pgtable configuration as the format completed it (TTBR, TCR, MAIR). */
  pgtblCfg: IoPgtableCfg | null = null;
  /** iommu_set_pgtable_quirks before the first attach. */
  pgtblQuirks = 0;
  flushOps: IommuFlushOps | null = null;
  /** The Adreno interface this context filled, if it is the GPU's. */
  adrenoPriv: AdrenoSmmuPriv | null = null;
  freed = false;
  private irq = -1;
  private readonly far = { lo: 0, hi: 0 };

  constructor(
    /** The SMMU whose ops allocated it. */
    readonly owner: ArmSmmu,
    readonly type: IommuDomainType,
  ) {
    this.ops = owner.domainOps;
  }

  get isPaging(): boolean {
    return this.type === 'unmanaged' || this.type === 'dma';
  }

  // ------------------------------------------------------------------ context

  /**
   * arm_smmu_init_domain_context, run at the first attach (the master decides which SMMU and,
   * for Qualcomm's Adreno, which context bank): chooses the stage and the context format as
   * Linux does, takes a context bank, builds the page table through io-pgtable, programs the
   * bank and requests its fault interrupt. 0 or -errno with nothing held: -EINVAL (no usable
   * format), -ENOSPC (no free context bank), -EPROBE_DEFER (the format's module exists but
   * cannot load yet), -ENOMEM (any other page-table failure, Linux's answer for a NULL
   * alloc_io_pgtable_ops, e.g. io-pgtable-arm-v7s missing from the image).
   */
  initContext(smmu: ArmSmmu, dev: Device): number {
    if (this.smmu) return 0;
    if (this.type === 'identity' || this.type === 'blocked') {
      this.stage = 'bypass';
      this.smmu = smmu;
      return 0;
    }
    const cfg = this.cfg;
    const f = smmu.features;
    if (!(f & FEAT_TRANS_S1)) this.stage = 's2';
    if (!(f & FEAT_TRANS_S2)) this.stage = 's1';

    // The context format: AArch32-L when there is one; the short format on a 32-bit kernel
    // without LPAE for stage 1 (IOMMU_IO_PGTABLE_ARMV7S is enabled in GKI's config);
    // AArch64 on a 64-bit kernel, or when nothing else fits.
    const arch = smmu.kernel.arch;
    let fmt: ArmSmmuCfg['fmt'] = 'none';
    if (f & FEAT_FMT_AARCH32_L) fmt = 'aarch32-l';
    if (!arch.is64bit && !arch.lpae && f & FEAT_FMT_AARCH32_S && this.stage === 's1') fmt = 'aarch32-s';
    if ((arch.is64bit || fmt === 'none') && f & FEAT_FMT_AARCH64) fmt = 'aarch64';
    if (fmt === 'none') {
      smmu.dev.err('no usable context format');
      return -EINVAL;
    }
    cfg.fmt = fmt;

    let ias: number;
    let oas: number;
    let start: number;
    let pfmt: IoPgtableFmt;
    if (this.stage === 's1') {
      cfg.cbar = R.CBAR_TYPE_S1_TRANS_S2_BYPASS;
      start = smmu.numS2ContextBanks;
      ias = smmu.vaSize;
      oas = smmu.ipaSize;
      if (fmt === 'aarch64') pfmt = 'ARM_64_LPAE_S1';
      else if (fmt === 'aarch32-l') {
        pfmt = 'ARM_32_LPAE_S1';
        ias = Math.min(ias, 32);
        oas = Math.min(oas, 40);
      } else {
        pfmt = 'ARM_V7S';
        ias = Math.min(ias, 32);
        oas = Math.min(oas, 32);
      }
      this.flushOps = S1_TLB_OPS;
    } else {
      // stage 2, and nested requests, which this driver serves with stage 2
      cfg.cbar = R.CBAR_TYPE_S2_TRANS;
      start = 0;
      ias = smmu.ipaSize;
      oas = smmu.paSize;
      if (fmt === 'aarch64') pfmt = 'ARM_64_LPAE_S2';
      else {
        pfmt = 'ARM_32_LPAE_S2';
        ias = Math.min(ias, 40);
        oas = Math.min(oas, 40);
      }
      this.flushOps = smmu.version === 'v2' ? S2_TLB_OPS_V2 : S2_TLB_OPS_V1;
    }

    const cb = smmu.impl?.allocContextBank ? smmu.impl.allocContextBank(this, smmu, dev, start) : smmu.allocContextBank(start, smmu.numContextBanks);
    if (cb < 0) {
      this.flushOps = null;
      return cb;
    }
    this.smmu = smmu;
    cfg.cbndx = cb;
    cfg.irptndx = smmu.version !== 'v2' ? smmu.nextIrptndx() : cb;
    if (this.stage === 's1') cfg.asid = cb;
    else cfg.vmid = cb + 1;

    const pgtblCfg: IoPgtableCfg = {
      quirks: 0,
      pgsizeBitmap: smmu.pgsizeBitmap,
      ias,
      oas,
      coherentWalk: (f & FEAT_COHERENT_WALK) !== 0,
      tlb: this.flushOps,
      iommuDev: smmu.dev,
    };
    if (smmu.impl?.initContext) {
      const r = smmu.impl.initContext(this, pgtblCfg, dev);
      if (r < 0) return this.undoInit(r);
    }
    pgtblCfg.quirks |= this.pgtblQuirks;
    const ops = allocIoPgtableOps(smmu.kernel, pfmt, pgtblCfg, this);
    if (typeof ops === 'number') {
      smmu.dev.err(`failed to allocate ${pfmt} page table for context bank ${cb}: ${errnoName(ops)}`);
      return this.undoInit(ops === -EPROBE_DEFER ? ops : -ENOMEM);
    }
    this.fmt = pfmt;
    this.pgtblCfg = pgtblCfg;
    this.pgsizeBitmap = pgtblCfg.pgsizeBitmap;
    if (pgtblCfg.quirks & IO_PGTABLE_QUIRK_ARM_TTBR1) this.geometry = { apertureStart: -(2 ** pgtblCfg.ias), apertureEnd: -1, forceAperture: true };
    else this.geometry = { apertureStart: 0, apertureEnd: 2 ** pgtblCfg.ias - 1, forceAperture: true };

    this.initContextBank(pgtblCfg);
    smmu.writeContextBank(cb);

    const irq = smmu.irqs[smmu.numGlobalIrqs + cfg.irptndx];
    const r = irq === undefined ? -ENXIO : requestIrq(smmu.dev, irq, () => this.contextFault(), { shared: true, devId: this });
    if (r < 0) {
      smmu.dev.err(`failed to request context IRQ ${cfg.irptndx} (${irq})`);
      cfg.irptndx = ARM_SMMU_INVALID_IRPTNDX;
    } else {
      this.irq = irq!;
    }
    this.pgtbl = ops;
    // mapPages / unmapPages (createDomainOps) forward to this table and do nothing else
    iommuDomainSetPgtblOps(this, ops);
    return 0;
  }

  private undoInit(err: number): number {
    const smmu = this.smmu!;
    smmu.freeContextBank(this.cfg.cbndx);
    this.cfg.cbndx = -1;
    this.smmu = null;
    this.flushOps = null;
    if (this.adrenoPriv) this.clearAdrenoPriv();
    return err;
  }

  /** arm_smmu_init_context_bank: the register values of the bank, from the page-table config. */
  private initContextBank(pc: IoPgtableCfg): void {
    const smmu = this.smmu!;
    const cfg = this.cfg;
    const cb = smmu.cbs[cfg.cbndx]!;
    cb.cfg = cfg;
    const stage1 = cfg.cbar !== R.CBAR_TYPE_S2_TRANS;
    cb.tcr = [0, 0];
    cb.ttbrLo = [0, 0];
    cb.ttbrHi = [0, 0];
    cb.mair = [0, 0];
    if (stage1) {
      if (cfg.fmt === 'aarch32-s') {
        const v = pc.armV7sCfg!;
        cb.tcr[0] = v.tcr >>> 0;
        cb.ttbrLo = [v.ttbr >>> 0, 0];
        cb.mair = [v.prrr >>> 0, v.nmrr >>> 0];
      } else {
        const s1 = pc.armLpaeS1Cfg!;
        cb.tcr[0] = lpaeTcr(pc);
        cb.tcr[1] = lpaeTcr2(pc);
        if (cfg.fmt === 'aarch64') cb.tcr[1] = (cb.tcr[1] | R.TCR2_AS) >>> 0;
        else cb.tcr[0] = (cb.tcr[0] | R.TCR_EAE) >>> 0;
        const asidHi = ((cfg.asid & 0xffff) << R.TTBR_ASID_HI_SHIFT) >>> 0;
        const [lo, hi] = split64(s1.ttbr);
        cb.ttbrHi = [asidHi, asidHi];
        if (pc.quirks & IO_PGTABLE_QUIRK_ARM_TTBR1) {
          cb.ttbrLo[1] = lo;
          cb.ttbrHi[1] = (asidHi | hi) >>> 0;
        } else {
          cb.ttbrLo[0] = lo;
          cb.ttbrHi[0] = (asidHi | hi) >>> 0;
        }
        const [m0, m1] = split64(s1.mair);
        cb.mair = [m0, m1];
      }
    } else {
      const s2 = pc.armLpaeS2Cfg!;
      cb.tcr[0] = lpaeVtcr(pc);
      const [lo, hi] = split64(s2.vttbr);
      cb.ttbrLo[0] = lo;
      cb.ttbrHi[0] = hi;
    }
  }

  /**
   * arm_smmu_destroy_domain_context: the bank is disabled, its interrupt freed, the page table
   * freed (io-pgtable flushes the context's TLB entries first) and the bank released.
   */
  destroy(): void {
    if (this.freed) return;
    this.freed = true;
    iommuDomainSetPgtblOps(this, null);
    const smmu = this.smmu;
    if (!smmu || this.stage === 'bypass') return;
    const cbndx = this.cfg.cbndx;
    smmu.cbs[cbndx]!.cfg = null;
    if (smmu.regs.mapped) smmu.writeContextBank(cbndx);
    if (this.irq >= 0) freeIrq(smmu.dev, this.irq, this);
    this.irq = -1;
    if (this.pgtbl) freeIoPgtableOps(smmu.kernel, this.pgtbl);
    this.pgtbl = null;
    smmu.freeContextBank(cbndx);
    if (this.adrenoPriv) this.clearAdrenoPriv();
  }

  /** Withdraws the Adreno interface callbacks this context installed. */
  clearAdrenoPriv(): void {
    const p = this.adrenoPriv!;
    if (p.cookie === this) {
      p.cookie = null;
      p.getTtbr1Cfg = null;
      p.setTtbr0Cfg = null;
      p.getFaultInfo = null;
      p.setStall = null;
      p.resumeTranslation = null;
    }
    this.adrenoPriv = null;
  }

  // ------------------------------------------------------------------ attach

  /**
   * arm_smmu_attach_dev: finalises the domain on the master's SMMU at the first attach, then
   * points the master's stream map entries at it (translate to its bank; bypass for identity
   * domains, fault for blocked ones). -ENXIO for a device this driver did not probe, -EINVAL
   * for a domain finalised on another SMMU or freed, or the context's error.
   */
  attach(dev: Device): number {
    const mc = armSmmuMasterOf(dev);
    if (!mc) {
      dev.err('cannot attach to SMMU, is it on the same bus?');
      return -ENXIO;
    }
    if (this.freed) return -EINVAL;
    const smmu = mc.smmu;
    if (!smmu.isLive) return -ENODEV;
    const r = this.initContext(smmu, dev);
    if (r < 0) return r;
    if (this.smmu !== smmu) {
      dev.err(`cannot attach to SMMU ${this.smmu!.dev.name} whilst already attached to domain on SMMU ${smmu.dev.name}`);
      return -EINVAL;
    }
    if (this.type === 'identity') smmu.installS2crs(mc, R.S2CR_TYPE_BYPASS, 0);
    else if (this.type === 'blocked') smmu.installS2crs(mc, R.S2CR_TYPE_FAULT, 0);
    else smmu.installS2crs(mc, R.S2CR_TYPE_TRANS, this.cfg.cbndx);
    return 0;
  }

  // ------------------------------------------------------------------ TLB maintenance

  private liveSmmu(): ArmSmmu | null {
    const s = this.smmu;
    return s && s.regs.mapped && this.cfg.cbndx >= 0 ? s : null;
  }

  tlbSyncContext(): void {
    const s = this.liveSmmu();
    if (s) s.tlbSyncContext(this.cfg.cbndx);
  }

  /** arm_smmu_tlb_inv_context_s1: TLBIASID, then a context sync. */
  tlbInvContextS1(): void {
    const s = this.liveSmmu();
    if (!s) return;
    if (!(s.skipTlb & SKIP_TLB.TLBIASID)) {
      s.stats.tlbi.TLBIASID++;
      s.cbWrite(this.cfg.cbndx, R.CB_S1_TLBIASID, this.cfg.asid);
    }
    s.tlbSyncContext(this.cfg.cbndx);
  }

  /** arm_smmu_tlb_inv_context_s2: TLBIVMID (global register), then a global sync. */
  tlbInvContextS2(): void {
    const s = this.liveSmmu();
    if (!s) return;
    s.tlbiVmid(this.cfg.vmid);
    s.tlbSyncGlobal();
  }

  /**
   * arm_smmu_tlb_inv_range_s1: one TLBIVA (or, for `leaf`, TLBIVAL) per granule of
   * [iova, iova + size), no sync. AArch64 contexts write VA[55:12] | ASID << 48 (upper-half
   * IOVAs keep only their VA bits there, so the ASID field stays intact); AArch32 contexts
   * VA[31:12] | ASID. Allocates nothing.
   */
  tlbInvRangeS1(iova: number, size: number, granule: number, leaf: boolean): void {
    const s = this.liveSmmu();
    if (!s || !(granule > 0)) return;
    const kind = leaf ? 'TLBIVAL' : 'TLBIVA';
    if (s.skipTlb & SKIP_TLB[kind]) return;
    const off = leaf ? R.CB_S1_TLBIVAL : R.CB_S1_TLBIVA;
    const idx = this.cfg.cbndx;
    const asid = this.cfg.asid & 0xffff;
    const n = Math.max(1, Math.ceil(size / granule));
    s.stats.tlbi[kind] += n;
    if (this.cfg.fmt !== 'aarch64') {
      let va = iova >>> 0;
      for (let i = 0; i < n; i++) {
        s.cbWrite(idx, off, ((va & 0xffff_f000) | asid) >>> 0);
        va = (va + granule) >>> 0;
      }
      return;
    }
    const page = Math.floor(iova / 4096);
    let lo = page >>> 0;
    let hi = Math.floor(page / TWO32) & 0xfff;
    const asidHi = (asid << R.TTBR_ASID_HI_SHIFT) >>> 0;
    const step = granule / 4096;
    for (let i = 0; i < n; i++) {
      s.cbWriteq(idx, off, lo, (hi | asidHi) >>> 0);
      lo += step;
      if (lo >= TWO32) {
        lo -= TWO32;
        hi = (hi + 1) & 0xfff;
      }
    }
  }

  /** arm_smmu_tlb_inv_range_s2: one TLBIIPAS2 (TLBIIPAS2L for `leaf`) per granule, IPA >> 12, no sync. */
  tlbInvRangeS2(iova: number, size: number, granule: number, leaf: boolean): void {
    const s = this.liveSmmu();
    if (!s || !(granule > 0)) return;
    const kind = leaf ? 'TLBIIPAS2L' : 'TLBIIPAS2';
    if (s.skipTlb & SKIP_TLB[kind]) return;
    const off = leaf ? R.CB_S2_TLBIIPAS2L : R.CB_S2_TLBIIPAS2;
    const idx = this.cfg.cbndx;
    const n = Math.max(1, Math.ceil(size / granule));
    s.stats.tlbi[kind] += n;
    const page = Math.floor(iova / 4096);
    let lo = page >>> 0;
    let hi = Math.floor(page / TWO32) >>> 0;
    const step = granule / 4096;
    const wide = this.cfg.fmt === 'aarch64';
    for (let i = 0; i < n; i++) {
      if (wide) s.cbWriteq(idx, off, lo, hi);
      else s.cbWrite(idx, off, lo);
      lo += step;
      if (lo >= TWO32) {
        lo -= TWO32;
        hi = (hi + 1) >>> 0;
      }
    }
  }

  /** arm_smmu_iotlb_sync: a context sync (v2, or stage 1), else a global one. */
  iotlbSync(): void {
    const s = this.liveSmmu();
    if (!s || this.stage === 'bypass') return;
    if (s.version === 'v2' || this.stage === 's1') s.tlbSyncContext(this.cfg.cbndx);
    else s.tlbSyncGlobal();
  }

  // ------------------------------------------------------------------ faults

  /**
   * arm_smmu_context_fault: reads FSR (not ours without a fault bit), FSYNR0, FAR and
   * CBFRSYNRA, reports the fault to the IOMMU core's handler for this domain; unhandled
   * (-ENOSYS) faults are logged, ratelimited: "Unhandled context fault: fsr=…, iova=…,
   * fsynr=…, cbfrsynra=…, cb=…". FSR is written back; a stalled transaction (FSR.SS) is
   * retried when the handler answered -EAGAIN, left to the GPU driver when the Adreno
   * interface enabled stalls on this bank (it resumes through resume_translation), and
   * terminated otherwise.
   */
  contextFault(): void {
    const s = this.liveSmmu();
    if (!s || this.freed) return;
    const idx = this.cfg.cbndx;
    const fsr = s.cbRead(idx, R.CB_FSR);
    if (!(fsr & R.FSR_FAULT)) return;
    const fsynr = s.cbRead(idx, R.CB_FSYNR0);
    s.cbReadq(idx, R.CB_FAR, this.far);
    const cbfrsynra = s.gr1Read(R.gr1Cbfrsynra(idx));
    s.stats.contextFaults++;
    const iova = this.farToIova(this.far.lo, this.far.hi);
    const who = s.masterForStream(cbfrsynra & 0xffff, idx) ?? s.dev;
    const ret = reportIommuFault(this, who, iova, fsynr & R.FSYNR0_WNR ? IOMMU_FAULT_WRITE : IOMMU_FAULT_READ);
    if (ret === -ENOSYS) {
      s.stats.contextFaultsUnhandled++;
      if (s.rlContext.allow())
        s.dev.err(
          `Unhandled context fault: fsr=0x${(fsr >>> 0).toString(16)}, iova=${farText(this.far.lo, this.far.hi)}, fsynr=0x${(fsynr >>> 0).toString(16)}, cbfrsynra=0x${(cbfrsynra >>> 0).toString(16)}, cb=${idx}`,
        );
    }
    s.cbWrite(idx, R.CB_FSR, fsr);
    if (fsr & R.FSR_SS) {
      if (ret === -EAGAIN) {
        s.stats.resumes++;
        s.cbWrite(idx, R.CB_RESUME, 0);
      } else if (!this.stallOwnedByGpu()) {
        s.stats.terminates++;
        s.cbWrite(idx, R.CB_RESUME, R.RESUME_TERMINATE);
      }
    }
  }

  /** True when the Adreno interface enabled stall-on-fault for this bank: the GPU driver resumes. */
  private stallOwnedByGpu(): boolean {
    return this.adrenoPriv !== null && this.smmu?.impl?.stallEnabled?.(this.smmu, this.cfg.cbndx) === true;
  }

  /**
   * FAR as an IOVA number. For a TTBR1 domain, upper-half addresses become negative (2^64 - x
   * is -x), whether FAR holds them sign-extended to 64 bits or as the upstream bus carried
   * them (49 bits, sign bit 48: TCR2.SEP is "upstream").
   */
  farToIova(lo: number, hi: number): number {
    if (this.geometry.apertureStart < 0) {
      if (hi >= 0x8000_0000) return (hi | 0) * TWO32 + lo;
      if (hi & 0x1_0000) return (hi & 0xffff) * TWO32 + lo - 2 ** 48;
    }
    if (this.cfg.fmt !== 'aarch64') return lo;
    return hi * TWO32 + lo;
  }

  // ------------------------------------------------------------------ translation

  /** iova_to_phys: identity is itself; stage-1 contexts with ATOS ask the hardware (ATS1PR); else the software walk. */
  iovaToPhys(iova: number): number {
    if (this.type === 'identity') return iova;
    const p = this.pgtbl;
    if (!p) return 0;
    const s = this.liveSmmu();
    if (s && s.features & FEAT_TRANS_OPS && this.stage === 's1') {
      const pa = s.hardTranslate(this.cfg.cbndx, this.cfg.fmt, iova);
      if (pa >= 0) return pa;
    }
    return p.iovaToPhys(iova);
  }

  /** enable_nesting: before the first attach only (-EPERM after). */
  enableNesting(): number {
    if (this.smmu) return -EPERM;
    this.stage = 'nested';
    return 0;
  }

  /** set_pgtable_quirks: before the first attach only (-EPERM after). */
  setPgtableQuirks(quirks: number): number {
    if (this.smmu) return -EPERM;
    this.pgtblQuirks = quirks;
    return 0;
  }
}

function farText(lo: number, hi: number): string {
  if (hi === 0) return '0x' + (lo >>> 0).toString(16).padStart(8, '0');
  return '0x' + (hi >>> 0).toString(16) + (lo >>> 0).toString(16).padStart(8, '0');
}

/*
 * `DOMAIN_PROTO.isPrototypeOf(d)` is `d instanceof ArmSmmuDomainImpl`, but stays cheap on the
 * map/unmap path when the package runs from source under tsx, whose keepNames transform
 * redefines each class's `name`: V8 then compiles `instanceof` to a generic lookup (~15 ns).
 */
const DOMAIN_PROTO = ArmSmmuDomainImpl.prototype;

function impl(domain: IommuDomain): ArmSmmuDomainImpl | null {
  return DOMAIN_PROTO.isPrototypeOf(domain) && !(domain as ArmSmmuDomainImpl).freed ? (domain as ArmSmmuDomainImpl) : null;
}

/** The IommuDomainOps shared by the domains of one SMMU. */
export function createDomainOps(): IommuDomainOps {
  return {
    attachDev(domain, dev) {
      const d = impl(domain);
      return d ? d.attach(dev) : -EINVAL;
    },
    mapPages(domain, iova, paddr, pgsize, pgcount, prot, mapped) {
      const p = impl(domain)?.pgtbl;
      return p ? p.mapPages(iova, paddr, pgsize, pgcount, prot, mapped) : -ENODEV;
    },
    unmapPages(domain, iova, pgsize, pgcount, gather) {
      const p = impl(domain)?.pgtbl;
      return p ? p.unmapPages(iova, pgsize, pgcount, gather) : 0;
    },
    iotlbSync(domain) {
      impl(domain)?.iotlbSync();
    },
    flushIotlbAll(domain) {
      const d = impl(domain);
      d?.flushOps?.tlbFlushAll?.(d);
    },
    iovaToPhys(domain, iova) {
      const d = impl(domain);
      return d ? d.iovaToPhys(iova) : 0;
    },
    free(domain) {
      impl(domain)?.destroy();
    },
    enableNesting(domain) {
      const d = impl(domain);
      return d ? d.enableNesting() : -EINVAL;
    },
    setPgtableQuirks(domain, quirks) {
      const d = impl(domain);
      return d ? d.setPgtableQuirks(quirks) : -EINVAL;
    },
  };
}

/** `domain` as an arm_smmu domain (stage, format, context bank, ASID/VMID), or undefined. */
export function asArmSmmuDomain(domain: IommuDomain | undefined | null): ArmSmmuDomain | undefined {
  return domain instanceof ArmSmmuDomainImpl ? domain : undefined;
}
