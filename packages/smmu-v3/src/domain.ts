import { allocIoPgtableOps, freeIoPgtableOps } from '@gki/io-pgtable-core';
import type { IommuFlushOps, IoPgtableCfg, IoPgtableFmt, IoPgtableOps } from '@gki/io-pgtable-core';
import { EINVAL, ENODEV, iommuDomainSetPgtblOps, iommuIotlbGatherAddPage, lowestBit, reportIommuFault } from '@gki/kernel';
import type { Device, IommuDomain, IommuDomainGeometry, IommuDomainOps, IommuDomainType, IommuIotlbGather } from '@gki/kernel';
import type { ArmSmmuV3, ArmSmmuV3Master } from './smmu.js';
import {
  CD_W0_EPD1,
  CD_W0_IRGN0_SHIFT,
  CD_W0_ORGN0_SHIFT,
  CD_W0_SH0_SHIFT,
  CD_W0_T0SZ_SHIFT,
  CD_W0_TG0_SHIFT,
  CD_W0_V,
  CD_W1_A,
  CD_W1_AA64,
  CD_W1_ASET,
  CD_W1_ASID_SHIFT,
  CD_W1_IPS_SHIFT,
  CD_W1_R,
  CMD_TLBI_NH_ASID,
  CMD_TLBI_NH_VA,
  CMD_TLBI_S12_VMALL,
  CMD_TLBI_S2_IPA,
} from './regs.js';

/** Translation stage of a paging domain. */
export type ArmSmmuV3Stage = 1 | 2;

const TWO32 = 2 ** 32;
/**
 * Without range invalidation, a range needing more per-granule commands than this is
 * invalidated by ASID/VMID instead (one page of commands, as Linux limits it).
 */
export const CMDQ_MAX_TLBI_OPS = 512;
/**
 * The kernel's VA_BITS (arm64 with 4 KiB pages and 48-bit virtual addresses): the stage-1
 * input size never exceeds what the CPU's page tables can address.
 */
const VA_BITS = 48;

function hi32(x: number): number {
  return Math.floor(x / TWO32) >>> 0;
}
function lo32(x: number): number {
  return (x % TWO32) >>> 0;
}

/** Stage-1 translation controls of a domain, as its CD encodes them. */
interface S1Ctx {
  tsz: number;
  tg: number;
  irgn: number;
  orgn: number;
  sh: number;
  ips: number;
  ttbr: number;
  mairLo: number;
  mairHi: number;
}

/** Stage-2 translation controls, as the STE encodes them. */
export interface S2Ctx {
  tsz: number;
  sl: number;
  irgn: number;
  orgn: number;
  sh: number;
  tg: number;
  ps: number;
  vttbr: number;
}

/** An arm_smmu_v3 domain as other code may inspect it. */
export interface ArmSmmuV3Domain extends IommuDomain {
  /** 1 or 2 for paging domains, 0 for identity/blocked. */
  readonly stage: 0 | ArmSmmuV3Stage;
  /** ASID of a stage-1 domain (0 otherwise). */
  readonly asid: number;
  /** VMID of a stage-2 domain (0 otherwise). */
  readonly vmid: number;
  /** Masters whose STEs point at it. */
  readonly masters: Set<ArmSmmuV3Master>;
  /** Hands a fault to the IOMMU core's handler for this domain (reportIommuFault). */
  report(dev: Device, iova: number, flags: number): number;
}

/** The io-pgtable TLB callbacks; the cookie is the domain. */
const FLUSH_OPS: IommuFlushOps = {
  tlbFlushAll(cookie) {
    (cookie as ArmSmmuV3DomainImpl).tlbInvContext();
  },
  tlbFlushWalk(iova, size, granule, cookie) {
    (cookie as ArmSmmuV3DomainImpl).tlbInvRange(iova, size, granule, false);
  },
  tlbAddPage(gather, iova, granule, cookie) {
    if (gather) iommuIotlbGatherAddPage(cookie as ArmSmmuV3DomainImpl, gather, iova, granule);
  },
};

/** The domain object (struct arm_smmu_domain). */
export class ArmSmmuV3DomainImpl implements ArmSmmuV3Domain {
  readonly ops: IommuDomainOps;
  pgsizeBitmap = 0;
  geometry: IommuDomainGeometry = { apertureStart: 0, apertureEnd: 0, forceAperture: true };
  pgtbl: IoPgtableOps | null = null;
  /** The published page table (IommuDomain.pgtblOps): `pgtbl` while the domain is live. */
  pgtblOps: IoPgtableOps | null = null;
  asid = 0;
  vmid = 0;
  s1: S1Ctx | null = null;
  s2: S2Ctx | null = null;
  readonly masters = new Set<ArmSmmuV3Master>();
  freed = false;

  constructor(
    readonly smmu: ArmSmmuV3,
    readonly type: IommuDomainType,
    readonly stage: 0 | ArmSmmuV3Stage,
  ) {
    this.ops = smmu.domainOps;
  }

  /**
   * arm_smmu_domain_finalise: takes an ASID/VMID and builds the page table, sized from the
   * SMMU's OAS and page sizes (stage 1: 48-bit input, output up to the OAS; stage 2: input
   * and output the OAS). 0 or -errno with nothing held.
   */
  finalise(): number {
    const stage = this.stage;
    if (stage === 0) return 0;
    const smmu = this.smmu;
    const f = smmu.features;
    const id = smmu.allocId(stage);
    if (id < 0) {
      smmu.dev.err(`no free ${stage === 1 ? 'ASID' : 'VMID'}`);
      return id;
    }
    const fmt: IoPgtableFmt = stage === 1 ? 'ARM_64_LPAE_S1' : 'ARM_64_LPAE_S2';
    const cfg: IoPgtableCfg = {
      quirks: 0,
      pgsizeBitmap: f.pgsizeBitmap,
      // arm_smmu_domain_finalise: stage 1 takes min(VAX ? 52 : 48, VA_BITS) in and smmu->ias
      // out; stage 2 takes smmu->ias in and the OAS out
      ias: stage === 1 ? Math.min(f.vax ? 52 : 48, VA_BITS) : f.ias,
      oas: stage === 1 ? f.ias : f.oas,
      coherentWalk: f.coherent,
      tlb: FLUSH_OPS,
      iommuDev: smmu.dev,
    };
    const ops = allocIoPgtableOps(smmu.kernel, fmt, cfg, this);
    if (typeof ops === 'number') {
      smmu.freeId(stage, id);
      return ops;
    }
    if (stage === 1) {
      const c = cfg.armLpaeS1Cfg;
      if (!c) {
        freeIoPgtableOps(smmu.kernel, ops);
        smmu.freeId(stage, id);
        return -EINVAL;
      }
      const ttbr = Number(c.ttbr);
      this.s1 = {
        tsz: c.tcr.tsz,
        tg: c.tcr.tg,
        irgn: c.tcr.irgn,
        orgn: c.tcr.orgn,
        sh: c.tcr.sh,
        ips: c.tcr.ips,
        ttbr,
        mairLo: Number(c.mair & 0xffff_ffffn),
        mairHi: Number((c.mair >> 32n) & 0xffff_ffffn),
      };
      this.asid = id;
    } else {
      const c = cfg.armLpaeS2Cfg;
      if (!c) {
        freeIoPgtableOps(smmu.kernel, ops);
        smmu.freeId(stage, id);
        return -EINVAL;
      }
      const v = c.vtcr;
      this.s2 = { tsz: v.tsz, sl: v.sl, irgn: v.irgn, orgn: v.orgn, sh: v.sh, tg: v.tg, ps: v.ps, vttbr: Number(c.vttbr) };
      this.vmid = id;
    }
    this.pgtbl = ops;
    this.pgsizeBitmap = cfg.pgsizeBitmap;
    this.geometry = { apertureStart: 0, apertureEnd: 2 ** cfg.ias - 1, forceAperture: true };
    // mapPages / unmapPages (createDomainOps) forward to this table and do nothing else
    iommuDomainSetPgtblOps(this, ops);
    return 0;
  }

  /** The stage-1 context descriptor of this domain (CD 0 of each attached master), into `w`. */
  makeCd(w: Uint32Array): void {
    w.fill(0);
    const c = this.s1!;
    w[0] =
      ((c.tsz << CD_W0_T0SZ_SHIFT) |
        (c.tg << CD_W0_TG0_SHIFT) |
        (c.irgn << CD_W0_IRGN0_SHIFT) |
        (c.orgn << CD_W0_ORGN0_SHIFT) |
        (c.sh << CD_W0_SH0_SHIFT) |
        CD_W0_EPD1 |
        CD_W0_V) >>>
      0;
    w[1] = ((c.ips << CD_W1_IPS_SHIFT) | CD_W1_AA64 | CD_W1_R | CD_W1_A | CD_W1_ASET | (this.asid << CD_W1_ASID_SHIFT)) >>> 0;
    w[2] = (lo32(c.ttbr) & 0xffff_fff0) >>> 0;
    w[3] = hi32(c.ttbr) & 0xf_ffff;
    w[6] = c.mairLo >>> 0;
    w[7] = c.mairHi >>> 0;
  }

  report(dev: Device, iova: number, flags: number): number {
    return reportIommuFault(this, dev, iova, flags);
  }

  /** Invalidates every TLB entry of the domain: TLBI_NH_ASID or TLBI_S12_VMALL, then CMD_SYNC. */
  tlbInvContext(): void {
    const smmu = this.smmu;
    if (this.stage === 0 || !smmu.isLive) return;
    if (this.stage === 1) smmu.cmdOne(CMD_TLBI_NH_ASID, (this.asid << 16) >>> 0, 0, 0);
    else smmu.cmdOne(CMD_TLBI_S12_VMALL, this.vmid, 0, 0);
  }

  /**
   * Invalidates [iova, iova + size) (`leaf`: only last-level entries changed), then CMD_SYNC.
   * With range invalidation each command covers (NUM + 1) * 2^SCALE pages of the smallest
   * page size; otherwise one command per `granule`, or the whole context past
   * CMDQ_MAX_TLBI_OPS commands. Allocates nothing.
   */
  tlbInvRange(iova: number, size: number, granule: number, leaf: boolean): void {
    const smmu = this.smmu;
    if (this.stage === 0 || !smmu.isLive || !(size > 0)) return;
    const op = this.stage === 1 ? CMD_TLBI_NH_VA : CMD_TLBI_S2_IPA;
    const w1 = this.stage === 1 ? (this.asid << 16) >>> 0 : this.vmid;
    const leafBit = leaf ? 1 : 0;
    if (smmu.features.ril) {
      const tgShift = lowestBit(this.pgsizeBitmap);
      const tg = (tgShift - 10) / 2;
      let pages = Math.ceil(size / 2 ** tgShift);
      let ttl = 0;
      if (leaf && granule > 0) ttl = 4 - Math.floor((lowestBit(granule) - 3) / (tgShift - 3));
      // NUM = SCALE = TTL = 0 is reserved: cover one page more rather than encode it.
      else if (pages % 32 === 1) pages++;
      let addr = iova;
      while (pages > 0) {
        let scale = lowestBit(pages);
        let num: number;
        if (scale > 31) {
          scale = 31;
          num = 31;
        } else {
          num = (Math.floor(pages / 2 ** scale) % 32) - 1;
        }
        const w0 = (op | (num << 12) | (scale << 20)) >>> 0;
        const w2 = ((lo32(addr) & 0xffff_f000) | (tg << 10) | (ttl << 8) | leafBit) >>> 0;
        if (smmu.cmdAdd(w0, w1, w2, hi32(addr)) < 0) return;
        const covered = (num + 1) * 2 ** scale;
        pages -= covered;
        addr += covered * 2 ** tgShift;
      }
    } else {
      const step = granule > 0 ? granule : 2 ** lowestBit(this.pgsizeBitmap);
      const n = Math.ceil(size / step);
      if (n > CMDQ_MAX_TLBI_OPS) return this.tlbInvContext();
      for (let i = 0; i < n; i++) {
        const addr = iova + i * step;
        if (smmu.cmdAdd(op, w1, ((lo32(addr) & 0xffff_f000) | leafBit) >>> 0, hi32(addr)) < 0) return;
      }
    }
    smmu.syncCmdq();
  }

  /**
   * domain_free: masters still pointing at it are blocked first, then the page table is freed
   * (io-pgtable flushes the domain's TLB entries before that) and the ASID/VMID released.
   */
  destroy(): void {
    if (this.freed) return;
    iommuDomainSetPgtblOps(this, null);
    for (const m of [...this.masters]) this.smmu.blockMaster(m);
    if (this.pgtbl) freeIoPgtableOps(this.smmu.kernel, this.pgtbl);
    this.pgtbl = null;
    if (this.stage !== 0) this.smmu.freeId(this.stage, this.stage === 1 ? this.asid : this.vmid);
    this.freed = true;
  }
}

/*
 * `DOMAIN_PROTO.isPrototypeOf(d)` is `d instanceof ArmSmmuV3DomainImpl`, but stays cheap on
 * the map/unmap path when the package runs from source under tsx, whose keepNames transform
 * redefines each class's `name`: V8 then compiles `instanceof` to a generic lookup (~15 ns).
 */
const DOMAIN_PROTO = ArmSmmuV3DomainImpl.prototype;

function impl(domain: IommuDomain): ArmSmmuV3DomainImpl | null {
  return DOMAIN_PROTO.isPrototypeOf(domain) && !(domain as ArmSmmuV3DomainImpl).freed ? (domain as ArmSmmuV3DomainImpl) : null;
}

/** The IommuDomainOps shared by the domains of one SMMU. */
export function createDomainOps(): IommuDomainOps {
  return {
    attachDev(domain, dev) {
      const d = impl(domain);
      return d ? d.smmu.attach(d, dev) : -EINVAL;
    },
    mapPages(domain, iova, paddr, pgsize, pgcount, prot, mapped) {
      const p = impl(domain)?.pgtbl;
      return p ? p.mapPages(iova, paddr, pgsize, pgcount, prot, mapped) : -ENODEV;
    },
    unmapPages(domain, iova, pgsize, pgcount, gather: IommuIotlbGather) {
      const p = impl(domain)?.pgtbl;
      return p ? p.unmapPages(iova, pgsize, pgcount, gather) : 0;
    },
    iotlbSync(domain, gather) {
      const d = impl(domain);
      if (!d || gather.start > gather.end) return;
      d.tlbInvRange(gather.start, gather.end - gather.start + 1, gather.pgsize, true);
    },
    flushIotlbAll(domain) {
      impl(domain)?.tlbInvContext();
    },
    iovaToPhys(domain, iova) {
      const p = impl(domain)?.pgtbl;
      return p ? p.iovaToPhys(iova) : 0;
    },
    free(domain) {
      impl(domain)?.destroy();
    },
  };
}
