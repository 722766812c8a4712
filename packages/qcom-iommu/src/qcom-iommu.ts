/**
 * qcom_iommu: Linux v6.12's driver for Qualcomm's "secure" IOMMUs (drivers/iommu/arm/arm-smmu/
 * qcom_iommu.c), rewritten for the model. The SMMU's global space belongs to the TrustZone
 * firmware; the driver owns only the context banks, one child device each, and asks the
 * firmware (qcom_scm) to set up the rest:
 *
 * - the IOMMU device (`qcom,msm-iommu-v1` / `-v2`) probes once qcom_scm is available, hands the
 *   firmware its secure page table memory when a context is `-sec`, populates its context
 *   children, registers with the IOMMU core and routes every context interrupt to the
 *   non-secure side (SMMU_INTR_SEL_NS);
 * - each context device (`qcom,msm-iommu-v1-ns`, `-v1-sec`, `-v2-ns`, `-v2-sec`) maps its bank,
 *   clears a fault left by the boot loader, requests its fault interrupt and takes ASID =
 *   `reg` / 0x1000 (or `qcom,ctx-asid`);
 * - a master's `iommus = <&iommu N>` names context bank N (of_xlate);
 * - a domain is finalised at its first attach: an ARM_32_LPAE_S1 table (page sizes 4K, 64K,
 *   1M, 16M asked, 32-bit input, 40-bit output), restore_sec_cfg for each context not yet
 *   initialised, then the bank programmed (TTBR0 with the ASID, TCR2/TCR with EAE, MAIRs,
 *   SCTLR with M, fault reporting and stall-on-fault). `-v2-sec` banks are left to the firmware.
 * - TLB maintenance by TLBIASID / TLBIVA(L) (VA[31:12] | ASID) and TLBSYNC polled on TLBSTATUS.
 *
 * Differences from Linux, on purpose: no clocks or runtime PM (the model has neither), no
 * device link to the master; the probe defers while qcom_scm is not available (Linux would
 * call into a missing firmware interface); a failed restore_sec_cfg frees the page table
 * Linux leaks on that path.
 */
import { allocIoPgtableOps, freeIoPgtableOps } from '@gki/io-pgtable-core';
import type { IommuFlushOps, IoPgtableCfg, IoPgtableOps } from '@gki/io-pgtable-core';
import {
  EINVAL,
  ENODEV,
  ENOMEM,
  ENXIO,
  EOPNOTSUPP,
  EPROBE_DEFER,
  devIommuFwspecGet,
  devIommuPrivGet,
  devIommuPrivSet,
  devmOfPlatformPopulate,
  dmaAllocCoherent,
  dmaFreeCoherent,
  genericDeviceGroup,
  iommuDeviceRegister,
  iommuDeviceUnregister,
  iommuFwspecAddIds,
  iommuGetDomainForDev,
  ofDeviceIsCompatible,
  ofPropertyReadU32,
  ofPropertyReadU32Index,
  qcomScmIommuSecurePtblInit,
  qcomScmIommuSecurePtblSize,
  qcomScmIsAvailable,
  qcomScmRestoreSecCfg,
  ktimeGetNs,
  delayNs,
  reportIommuFault,
  requestIrq,
} from '@gki/kernel';
import type { Device, Driver, IoMem, IommuDevice, IommuDomain, IommuDomainGeometry, IommuDomainOps, IommuDomainType, IommuGroup, IommuOps, Kernel, ModuleRef, OfNode } from '@gki/kernel';
import * as R from './regs.js';

/** The page sizes qcom_iommu_ops advertises: 4K | 64K | 1M | 16M. */
export const QCOM_IOMMU_PGSIZE_BITMAP = 0x1000 + 0x10000 + 0x100000 + 0x1000000;

export const QCOM_IOMMU_DRIVER = 'qcom-iommu';
export const QCOM_IOMMU_CTX_DRIVER = 'qcom-iommu-ctx';
export const QCOM_IOMMU_OF_MATCH: readonly { readonly compatible: string }[] = [{ compatible: 'qcom,msm-iommu-v1' }, { compatible: 'qcom,msm-iommu-v2' }];
export const QCOM_IOMMU_CTX_OF_MATCH: readonly { readonly compatible: string }[] = [
  { compatible: 'qcom,msm-iommu-v1-ns' },
  { compatible: 'qcom,msm-iommu-v1-sec' },
  { compatible: 'qcom,msm-iommu-v2-ns' },
  { compatible: 'qcom,msm-iommu-v2-sec' },
];

const TWO32 = 2 ** 32;

/** Ratelimit of the fault message: at most 10 per 5 s of the board's clock (DEFAULT_RATELIMIT_*). */
class RateLimit {
  private begin = -1;
  private printed = 0;
  constructor(private readonly kernel: Kernel) {}
  allow(): boolean {
    const now = this.kernel.board.clock.now();
    if (this.begin < 0 || now - this.begin >= 5e9) {
      this.begin = now;
      this.printed = 0;
    }
    if (this.printed >= 10) return false;
    this.printed++;
    return true;
  }
}

/** struct qcom_iommu_ctx: one context bank. */
export class QcomIommuCtx {
  secureInit = false;
  domain: QcomIommuDomain | null = null;
  private readonly far = { lo: 0, hi: 0 };

  constructor(
    readonly dev: Device,
    readonly base: IoMem,
    readonly asid: number,
    readonly securedCtx: boolean,
    private readonly rl: RateLimit,
  ) {}

  writel(reg: number, v: number): void {
    this.base.write32(reg, v >>> 0);
  }

  readl(reg: number): number {
    return this.base.read32(reg) >>> 0;
  }

  writeq(reg: number, lo: number, hi: number): void {
    this.base.write64parts(reg, lo >>> 0, hi >>> 0);
  }

  /** qcom_iommu_fault: true when the bank had a fault (IRQ_HANDLED). */
  fault(): boolean {
    const fsr = this.readl(R.CB_FSR);
    if (!(fsr & R.FSR_FAULT)) return false;
    const fsynr = this.readl(R.CB_FSYNR0);
    this.base.read64parts(R.CB_FAR, this.far);
    const iova = (this.far.hi >>> 0) * TWO32 + (this.far.lo >>> 0);
    const dom = this.domain;
    const ret = dom ? reportIommuFault(dom, this.dev, iova, 0) : -ENODEV;
    if (ret !== 0 && this.rl.allow())
      this.dev.err(
        `Unhandled context fault: fsr=0x${fsr.toString(16)}, iova=0x${(this.far.hi >>> 0).toString(16).padStart(8, '0')}${(this.far.lo >>> 0).toString(16).padStart(8, '0')}, fsynr=0x${fsynr.toString(16)}, cb=${this.asid}`,
      );
    this.writel(R.CB_FSR, fsr);
    this.writel(R.CB_RESUME, R.RESUME_TERMINATE);
    return true;
  }
}

/** The secure page table memory is handed over once per boot (Linux's static `allocated`). */
const securePtblDone = new WeakMap<Kernel, boolean>();

/** struct qcom_iommu_dev. */
export class QcomIommuDev {
  readonly kernel: Kernel;
  secId = 0;
  maxAsid = 0;
  ctxs: (QcomIommuCtx | null)[] = [];
  localBase: IoMem | null = null;
  readonly ops: IommuOps;
  readonly domainOps: IommuDomainOps;
  readonly identityDomain: IommuDomain;
  readonly rl: RateLimit;
  iommu: IommuDevice | null = null;

  constructor(
    readonly dev: Device,
    owner: ModuleRef | null,
  ) {
    this.kernel = dev.core.kernel;
    this.rl = new RateLimit(this.kernel);
    this.ops = {
      owner,
      pgsizeBitmap: QCOM_IOMMU_PGSIZE_BITMAP,
      probeDevice: (d) => this.probeDevice(d),
      deviceGroup: (d): IommuGroup => genericDeviceGroup(d),
      ofXlate: (d, args) => this.ofXlate(d, args),
      domainAlloc: (type, d) => this.domainAlloc(type, d),
    };
    this.domainOps = createDomainOps();
    this.identityDomain = {
      type: 'identity',
      ops: {
        attachDev: (_dom, d) => identityAttach(this, d),
        mapPages: () => -ENODEV,
        unmapPages: () => 0,
        iovaToPhys: (_dom, iova) => iova,
        free: () => {},
      },
      pgsizeBitmap: QCOM_IOMMU_PGSIZE_BITMAP,
      geometry: { apertureStart: 0, apertureEnd: 0, forceAperture: false },
    };
  }

  ctx(asid: number): QcomIommuCtx | null {
    return this.ctxs[asid] ?? null;
  }

  // ------------------------------------------------------------------ probe

  /** qcom_iommu_device_probe. */
  probe(): number {
    const dev = this.dev;
    const node = dev.ofNode!;
    // the firmware interface must be there before anything else (see the file comment)
    if (!qcomScmIsAvailable(this.kernel)) return -EPROBE_DEFER;
    let max = 0;
    for (const child of node.children) max = Math.max(max, getAsid(child));
    this.maxAsid = max;
    this.ctxs = new Array<QcomIommuCtx | null>(max + 1).fill(null);
    if (dev.resource('mem', 0)) {
      const base = dev.ioremap(0);
      if (typeof base === 'number') return base;
      this.localBase = base;
    }
    const sec = ofPropertyReadU32(node, 'qcom,iommu-secure-id');
    if (sec < 0) {
      dev.err('missing qcom,iommu-secure-id property');
      return -ENODEV;
    }
    this.secId = sec;
    if (node.children.some((c) => ofDeviceIsCompatible(c, 'qcom,msm-iommu-v1-sec') > 0 || ofDeviceIsCompatible(c, 'qcom,msm-iommu-v2-sec') > 0)) {
      const r = this.secPtblInit();
      if (r < 0) {
        dev.err(`cannot init secure pg table(${r})`);
        return r;
      }
    }
    dev.setDrvdata(this);
    let r = devmOfPlatformPopulate(dev);
    if (r < 0) {
      dev.err('Failed to populate iommu contexts');
      return r;
    }
    this.iommu = { dev, ops: this.ops, fwnode: node };
    r = iommuDeviceRegister(this.kernel, this.iommu);
    if (r < 0) {
      dev.err('Failed to register iommu');
      this.iommu = null;
      return r;
    }
    if (this.localBase) this.localBase.write32(R.SMMU_INTR_SEL_NS, 0xffffffff);
    return 0;
  }

  /** qcom_iommu_device_remove. */
  remove(): void {
    if (this.iommu) iommuDeviceUnregister(this.kernel, this.iommu);
    this.iommu = null;
  }

  /** qcom_iommu_sec_ptbl_init: once per boot, the firmware gets the memory it asks for. */
  private secPtblInit(): number {
    const dev = this.dev;
    if (securePtblDone.get(this.kernel)) return 0;
    const out = { size: 0 };
    let r = qcomScmIommuSecurePtblSize(this.kernel, 0, out);
    if (r) {
      dev.err(`failed to get iommu secure pgtable size (${r})`);
      return r;
    }
    dev.info(`iommu sec: pgtable size: ${out.size}`);
    const buf = dmaAllocCoherent(dev, out.size);
    if (typeof buf === 'number') {
      dev.err(`failed to allocate ${out.size} bytes for pgtable`);
      return -ENOMEM;
    }
    r = qcomScmIommuSecurePtblInit(this.kernel, buf.dmaAddr, out.size, 0);
    if (r) {
      dev.err(`failed to init iommu pgtable (${r})`);
      dmaFreeCoherent(dev, out.size, buf.cpuPa, buf.dmaAddr);
      return r;
    }
    // the memory now belongs to the secure world: never freed
    securePtblDone.set(this.kernel, true);
    return 0;
  }

  /** qcom_iommu_ctx_probe, for the context child `cdev`. */
  ctxProbe(cdev: Device): number {
    const base = cdev.ioremap(0);
    if (typeof base === 'number') return base;
    const irq = cdev.irq(0);
    if (irq < 0) return irq;
    const node = cdev.ofNode!;
    const secured = ofDeviceIsCompatible(node, 'qcom,msm-iommu-v2-sec') > 0;
    const asid = getAsid(node);
    const ctx = new QcomIommuCtx(cdev, base, asid < 0 ? 0 : asid, secured, this.rl);
    // clear a fault the boot loader may have left before the handler goes in
    if (!secured) ctx.writel(R.CB_FSR, ctx.readl(R.CB_FSR));
    const r = requestIrq(cdev, irq, () => void ctx.fault(), { shared: true, devId: ctx });
    if (r < 0) {
      cdev.err(`failed to request IRQ ${irq}`);
      return r;
    }
    if (asid < 0) {
      cdev.err('missing reg property');
      return asid;
    }
    cdev.dbg(`found asid ${asid}`);
    if (asid >= this.ctxs.length) this.ctxs.length = asid + 1;
    this.ctxs[asid] = ctx;
    cdev.setDrvdata(ctx);
    return 0;
  }

  /** qcom_iommu_ctx_remove. */
  ctxRemove(cdev: Device): void {
    const ctx = cdev.getDrvdata<unknown>();
    cdev.setDrvdata(undefined);
    if (ctx instanceof QcomIommuCtx && this.ctxs[ctx.asid] === ctx) this.ctxs[ctx.asid] = null;
  }

  // ------------------------------------------------------------------ iommu_ops

  /** qcom_iommu_of_xlate: one cell, a context bank this IOMMU has; one IOMMU per master. */
  private ofXlate(dev: Device, args: readonly number[]): number {
    if (args.length !== 1) {
      dev.err(`incorrect number of iommu params found for ${this.dev.ofNode?.fullName ?? this.dev.name} (found ${args.length}, expected 1)`);
      return -EINVAL;
    }
    const asid = args[0]! >>> 0;
    if (asid > this.maxAsid || !this.ctxs[asid]) {
      this.kernel.log.warn('qcom_iommu', `WARNING: qcom_iommu_of_xlate: ${dev.name}: asid ${asid} is not a context bank of ${this.dev.name}`);
      return -EINVAL;
    }
    const priv = devIommuPrivGet<QcomIommuDev>(dev);
    if (!priv) devIommuPrivSet(dev, this);
    else if (priv !== this) {
      this.kernel.log.warn('qcom_iommu', `WARNING: qcom_iommu_of_xlate: ${dev.name} names context banks of two IOMMUs`);
      return -EINVAL;
    }
    return iommuFwspecAddIds(dev, [asid]);
  }

  /** qcom_iommu_probe_device. */
  private probeDevice(dev: Device): number {
    return devIommuPrivGet<QcomIommuDev>(dev) ? 0 : -ENODEV;
  }

  private domainAlloc(type: IommuDomainType, _dev: Device | null): IommuDomain | number {
    if (type === 'identity') return this.identityDomain;
    if (type !== 'unmanaged' && type !== 'dma') return -EOPNOTSUPP;
    return new QcomIommuDomain(type, this.domainOps);
  }
}

/** get_asid: `qcom,ctx-asid`, else the first cell of `reg` / 0x1000; -ENODEV without a reg. */
function getAsid(node: OfNode): number {
  const reg = ofPropertyReadU32Index(node, 'reg', 0);
  if (reg < 0) return -ENODEV;
  const asid = ofPropertyReadU32(node, 'qcom,ctx-asid');
  return asid >= 0 ? asid : Math.floor(reg / 0x1000);
}

/** qcom_iommu_identity_attach: the banks of the domain the master leaves are turned off. */
function identityAttach(q: QcomIommuDev, dev: Device): number {
  const cur = iommuGetDomainForDev(dev);
  if (!cur || cur === q.identityDomain) return 0;
  if (!(cur instanceof QcomIommuDomain) || !cur.iommu) {
    q.kernel.log.warn('qcom_iommu', `WARNING: qcom_iommu_identity_attach: ${dev.name}'s domain was never finalised`);
    return -EINVAL;
  }
  const fw = devIommuFwspecGet(dev);
  for (const id of fw?.ids ?? []) {
    const ctx = cur.iommu.ctx(id);
    if (!ctx) continue;
    ctx.writel(R.CB_SCTLR, 0);
    ctx.domain = null;
  }
  return 0;
}

// ------------------------------------------------------------------ domains

const FLUSH_OPS: IommuFlushOps = {
  tlbFlushAll: (c) => (c as QcomIommuDomain).tlbInvContext(),
  tlbFlushWalk: (iova, size, granule, c) => {
    const d = c as QcomIommuDomain;
    d.tlbInvRangeNosync(iova, size, granule, false);
    d.tlbSync();
  },
  tlbAddPage: (_g, iova, granule, c) => (c as QcomIommuDomain).tlbInvRangeNosync(iova, granule, granule, true),
};

/** struct qcom_iommu_domain. */
export class QcomIommuDomain implements IommuDomain {
  pgsizeBitmap = QCOM_IOMMU_PGSIZE_BITMAP;
  geometry: IommuDomainGeometry = { apertureStart: 0, apertureEnd: 0, forceAperture: false };
  iommu: QcomIommuDev | null = null;
  /** The context banks of the master that finalised the domain (its fwspec IDs). */
  ids: readonly number[] = [];
  pgtbl: IoPgtableOps | null = null;
  pgtblCfg: IoPgtableCfg | null = null;
  freed = false;

  constructor(
    readonly type: IommuDomainType,
    readonly ops: IommuDomainOps,
  ) {}

  /** qcom_iommu_init_domain: 0 or -errno; does nothing once finalised. */
  init(q: QcomIommuDev, dev: Device): number {
    if (this.iommu) return 0;
    const fw = devIommuFwspecGet(dev);
    if (!fw) return -ENODEV;
    const cfg: IoPgtableCfg = { quirks: 0, pgsizeBitmap: QCOM_IOMMU_PGSIZE_BITMAP, ias: 32, oas: 40, coherentWalk: false, tlb: FLUSH_OPS, iommuDev: q.dev };
    this.iommu = q;
    this.ids = [...fw.ids];
    const ops = allocIoPgtableOps(q.kernel, 'ARM_32_LPAE_S1', cfg, this);
    if (typeof ops === 'number') {
      q.dev.err('failed to allocate pagetable ops');
      this.iommu = null;
      this.ids = [];
      return ops === -EPROBE_DEFER ? ops : -ENOMEM;
    }
    this.pgsizeBitmap = cfg.pgsizeBitmap;
    this.geometry = { apertureStart: 0, apertureEnd: 2 ** cfg.ias - 1, forceAperture: true };
    for (const id of this.ids) {
      const ctx = q.ctx(id)!;
      if (!ctx.secureInit) {
        const r = qcomScmRestoreSecCfg(q.kernel, q.secId, ctx.asid);
        if (r) {
          q.dev.err(`secure init failed: ${r}`);
          freeIoPgtableOps(q.kernel, ops);
          this.iommu = null;
          this.ids = [];
          return r;
        }
        ctx.secureInit = true;
      }
      if (ctx.securedCtx) {
        ctx.domain = this;
        continue;
      }
      programContext(ctx, cfg);
      ctx.domain = this;
    }
    this.pgtblCfg = cfg;
    this.pgtbl = ops;
    return 0;
  }

  /** qcom_iommu_attach_dev. */
  attach(dev: Device): number {
    const q = devIommuPrivGet<QcomIommuDev>(dev);
    if (!(q instanceof QcomIommuDev)) {
      dev.err('cannot attach to IOMMU, is it on the same bus?');
      return -ENXIO;
    }
    const r = this.init(q, dev);
    if (r < 0) return r;
    if (this.iommu !== q) return -EINVAL;
    return 0;
  }

  // ---------------------------------------------------------------- TLB

  /** qcom_iommu_tlb_sync: TLBSYNC and a poll of TLBSTATUS on every bank of the domain. */
  tlbSync(): void {
    const q = this.iommu;
    if (!q) return;
    const ids = this.ids;
    for (let k = 0; k < ids.length; k++) {
      const ctx = q.ctx(ids[k]!);
      if (!ctx) continue;
      ctx.writel(R.CB_TLBSYNC, 0);
      // readl_poll_timeout(TLBSTATUS, !SACTIVE, no sleep, 5 s), without a closure per sync
      const deadline = ktimeGetNs(q.kernel) + 5e9;
      while (ctx.readl(R.CB_TLBSTATUS) & R.TLBSTATUS_SACTIVE) {
        if (ktimeGetNs(q.kernel) >= deadline) {
          if (ctx.readl(R.CB_TLBSTATUS) & R.TLBSTATUS_SACTIVE) ctx.dev.err('timeout waiting for TLB SYNC');
          break;
        }
        delayNs(q.kernel, 1000);
      }
    }
  }

  /** qcom_iommu_tlb_inv_context: TLBIASID on every bank, then a sync. */
  tlbInvContext(): void {
    const q = this.iommu;
    if (!q) return;
    const ids = this.ids;
    for (let k = 0; k < ids.length; k++) {
      const ctx = q.ctx(ids[k]!);
      if (ctx) ctx.writel(R.CB_S1_TLBIASID, ctx.asid);
    }
    this.tlbSync();
  }

  /**
   * qcom_iommu_tlb_inv_range_nosync: one TLBIVA (TLBIVAL for `leaf`) per granule, the page
   * address with the bank's ASID in its low bits. As in Linux, the address runs on from one
   * bank to the next (a master with two banks has the second one invalidated past the range).
   */
  tlbInvRangeNosync(iova: number, size: number, granule: number, leaf: boolean): void {
    const q = this.iommu;
    if (!q || !(granule > 0)) return;
    const reg = leaf ? R.CB_S1_TLBIVAL : R.CB_S1_TLBIVA;
    const n = Math.max(1, Math.ceil(size / granule));
    let va = iova;
    const ids = this.ids;
    for (let k = 0; k < ids.length; k++) {
      const ctx = q.ctx(ids[k]!);
      if (!ctx) continue;
      va = va - (va % 4096) + ctx.asid;
      for (let i = 0; i < n; i++) {
        ctx.writel(reg, va % TWO32);
        va += granule;
      }
    }
  }
}

/** The bank registers for a domain's table (the order Linux writes them in). */
function programContext(ctx: QcomIommuCtx, cfg: IoPgtableCfg): void {
  const s1 = cfg.armLpaeS1Cfg!;
  ctx.writel(R.CB_SCTLR, 0);
  ctx.writel(R.CB_FAR, 0);
  ctx.writel(R.CB_FSR, R.FSR_FAULT);
  const ttbr = BigInt.asUintN(64, s1.ttbr);
  const ttbrLo = Number(ttbr & 0xffff_ffffn);
  const ttbrHi = Number(ttbr >> 32n);
  ctx.writeq(R.CB_TTBR0, ttbrLo, (ttbrHi | ((ctx.asid & 0xffff) << R.TTBR_ASID_HI_SHIFT)) >>> 0);
  ctx.writeq(R.CB_TTBR1, 0, 0);
  const t = s1.tcr;
  ctx.writel(R.CB_TCR2, (t.ips & R.TCR2_PASIZE_MASK) | (R.TCR2_SEP_UPSTREAM << R.TCR2_SEP_SHIFT));
  const tcr = (t.tg << R.TCR_TG0_SHIFT) | (t.sh << R.TCR_SH0_SHIFT) | (t.orgn << R.TCR_ORGN0_SHIFT) | (t.irgn << R.TCR_IRGN0_SHIFT) | (t.tsz & R.TCR_T0SZ_MASK) | R.TCR_EPD1;
  ctx.writel(R.CB_TCR, (tcr | R.TCR_EAE) >>> 0);
  const mair = BigInt.asUintN(64, s1.mair);
  ctx.writel(R.CB_S1_MAIR0, Number(mair & 0xffff_ffffn));
  ctx.writel(R.CB_S1_MAIR1, Number(mair >> 32n));
  ctx.writel(R.CB_SCTLR, R.SCTLR_CFIE | R.SCTLR_CFRE | R.SCTLR_AFE | R.SCTLR_TRE | R.SCTLR_M | R.SCTLR_S1_ASIDPNE | R.SCTLR_CFCFG);
}

const DOMAIN_PROTO = QcomIommuDomain.prototype;

function impl(domain: IommuDomain): QcomIommuDomain | null {
  return DOMAIN_PROTO.isPrototypeOf(domain) && !(domain as QcomIommuDomain).freed ? (domain as QcomIommuDomain) : null;
}

/** The default_domain_ops of qcom_iommu_ops. */
function createDomainOps(): IommuDomainOps {
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
    flushIotlbAll(domain) {
      const d = impl(domain);
      if (d?.pgtbl) d.tlbSync();
    },
    iotlbSync(domain) {
      const d = impl(domain);
      if (d?.pgtbl) d.tlbSync();
    },
    iovaToPhys(domain, iova) {
      const p = impl(domain)?.pgtbl;
      return p ? p.iovaToPhys(iova) : 0;
    },
    free(domain) {
      const d = impl(domain);
      if (!d) return;
      d.freed = true;
      if (d.iommu && d.pgtbl) freeIoPgtableOps(d.iommu.kernel, d.pgtbl);
      d.pgtbl = null;
    },
  };
}

/** The two platform drivers of module qcom_iommu, owned by `owner`. */
export function qcomIommuDrivers(owner: ModuleRef | null): { ctx: Driver; iommu: Driver } {
  const ctx: Driver = {
    name: QCOM_IOMMU_CTX_DRIVER,
    ofMatchTable: QCOM_IOMMU_CTX_OF_MATCH,
    probe(dev) {
      const q = dev.parent?.getDrvdata<unknown>();
      if (!(q instanceof QcomIommuDev)) return -ENODEV;
      return q.ctxProbe(dev);
    },
    remove(dev) {
      const q = dev.parent?.getDrvdata<unknown>();
      if (q instanceof QcomIommuDev) q.ctxRemove(dev);
    },
  };
  const iommu: Driver = {
    name: QCOM_IOMMU_DRIVER,
    ofMatchTable: QCOM_IOMMU_OF_MATCH,
    probe(dev) {
      if (!dev.ofNode) return -ENODEV;
      const q = new QcomIommuDev(dev, owner);
      const r = q.probe();
      if (r < 0) dev.setDrvdata(undefined);
      return r;
    },
    remove(dev) {
      const q = dev.getDrvdata<unknown>();
      if (q instanceof QcomIommuDev) q.remove();
      dev.setDrvdata(undefined);
    },
  };
  return { ctx, iommu };
}

/** The qcom_iommu instance bound to `dev`, if any. */
export function qcomIommuFromDevice(dev: Device): QcomIommuDev | undefined {
  const q = dev.getDrvdata<unknown>();
  return q instanceof QcomIommuDev ? q : undefined;
}

