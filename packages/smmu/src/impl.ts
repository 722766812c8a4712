import { IO_PGTABLE_QUIRK_ARM_TTBR1, ioPgtableOpsInfo } from '@gki/io-pgtable-core';
import type { IoPgtableCfg } from '@gki/io-pgtable-core';
import {
  EINVAL,
  ENODEV,
  ENOSPC,
  adrenoSmmuPrivGet,
  adrenoSmmuPrivInit,
  adrenoSmmuPrivSet,
  devIommuFwspecGet,
  ofDeviceIsCompatible,
  ofMatchNode,
} from '@gki/kernel';
import type { AdrenoSmmuFaultInfo, AdrenoSmmuPgtableCfg, Device, IoMem, IommuDomainType, OfDeviceId } from '@gki/kernel';
import { ArmSmmuDomainImpl, lpaeTcr } from './domain.js';
import * as R from './regs.js';
import { FEAT_FMT_AARCH64, FEAT_FMT_AARCH64_16K, type ArmSmmu } from './smmu.js';

/**
 * Implementation hooks (struct arm_smmu_impl), chosen by compatible as Linux's
 * arm-smmu-impl.c and arm-smmu-qcom.c choose them. Every hook is optional.
 */
export interface ArmSmmuImpl {
  readonly name: string;
  /** After the ID registers are read: adjust features or reserve resources. 0 or -errno. */
  cfgProbe?(smmu: ArmSmmu): number;
  /** During reset, before the final sync and sCR0 write. */
  reset?(smmu: ArmSmmu): number;
  /** When a context is set up, before its page table is built: may add quirks. 0 or -errno. */
  initContext?(domain: ArmSmmuDomainImpl, cfg: IoPgtableCfg, dev: Device): number;
  defDomainType?(dev: Device): IommuDomainType | null;
  /** Picks the context bank for `domain` (default: the first free one from `start`). */
  allocContextBank?(domain: ArmSmmuDomainImpl, smmu: ArmSmmu, dev: Device, start: number): number;
  writeS2cr?(smmu: ArmSmmu, idx: number): void;
  writeSctlr?(smmu: ArmSmmu, idx: number, reg: number): void;
  /** True when stall-on-fault of bank `idx` is owned by a client (the Adreno interface). */
  stallEnabled?(smmu: ArmSmmu, idx: number): boolean;
  /** 64-bit registers accessed as two 32-bit halves, high word first (Marvell AP806 erratum #582743). */
  readonly splitWriteq?: boolean;
}

// ---------------------------------------------------------------- Arm MMU-500

/**
 * arm_mmu500_reset: on r2p0 and later clear sACR.CACHE_LOCK so that the context banks' ACTLR
 * writes stick; let unmatched streams and bypass S2CRs allocate TLB entries (SMTNMB_TLBEN,
 * S2CRB_TLBEN); turn off the next-page prefetcher (ACTLR.CPRE) of every context bank for
 * errata 841119 and 826419, warning once if it does not turn off.
 */
export function armMmu500Reset(smmu: ArmSmmu): number {
  const major = (smmu.gr0Read(R.GR0_ID7) >>> R.ID7_MAJOR_SHIFT) & 0xf;
  let reg = smmu.gr0Read(R.GR0_SACR);
  if (major >= 2) reg &= ~R.MMU500_ACR_CACHE_LOCK;
  reg |= R.MMU500_ACR_SMTNMB_TLBEN | R.MMU500_ACR_S2CRB_TLBEN;
  smmu.gr0Write(R.GR0_SACR, reg >>> 0);
  for (let i = 0; i < smmu.numContextBanks; i++) {
    reg = smmu.cbRead(i, R.CB_ACTLR);
    reg &= ~R.MMU500_ACTLR_CPRE;
    smmu.cbWrite(i, R.CB_ACTLR, reg >>> 0);
    if (smmu.cbRead(i, R.CB_ACTLR) & R.MMU500_ACTLR_CPRE) smmu.warnPrefetchOnce();
  }
  return 0;
}

const ARM_MMU500_IMPL: ArmSmmuImpl = { name: 'arm-mmu500', reset: armMmu500Reset };

// ---------------------------------------------------------------- Cavium ThunderX (erratum 27704)

/** ASIDs/VMIDs must be unique across all SMMUs: each instance offsets them by the banks of those before it. */
const CAVIUM_IMPL: ArmSmmuImpl = {
  name: 'cavium',
  cfgProbe(smmu) {
    const base = cavium(smmu);
    smmu.implData.idBase = base.count;
    base.count += smmu.numContextBanks;
    smmu.dev.info('\tenabling workaround for Cavium erratum 27704');
    return 0;
  },
  initContext(domain) {
    const base = (domain.smmu!.implData.idBase as number) ?? 0;
    if (domain.stage === 's2') domain.cfg.vmid += base;
    else domain.cfg.asid += base;
    return 0;
  },
};
const caviumCounts = new WeakMap<object, { count: number }>();
function cavium(smmu: ArmSmmu): { count: number } {
  let c = caviumCounts.get(smmu.kernel);
  if (!c) {
    c = { count: 0 };
    caviumCounts.set(smmu.kernel, c);
  }
  return c;
}

// ---------------------------------------------------------------- Marvell AP806 (erratum 582743)

/** Hides the AArch64 formats (so 32-bit interconnect accesses suffice) and splits 64-bit accesses. */
const MRVL_MMU500_IMPL: ArmSmmuImpl = {
  name: 'mrvl-mmu500',
  splitWriteq: true,
  cfgProbe(smmu) {
    smmu.features &= ~FEAT_FMT_AARCH64;
    return 0;
  },
  reset: armMmu500Reset,
};

// ---------------------------------------------------------------- Qualcomm

/** Devices the Qualcomm implementations give identity default domains (qcom_smmu_client_of_match). */
export const QCOM_SMMU_CLIENT_OF_MATCH: readonly OfDeviceId[] = [
  'qcom,adreno',
  'qcom,adreno-gmu',
  'qcom,mdp4',
  'qcom,mdss',
  'qcom,qcm2290-mdss',
  'qcom,sc7180-mdss',
  'qcom,sc7180-mss-pil',
  'qcom,sc7280-mdss',
  'qcom,sc7280-mss-pil',
  'qcom,sc8180x-mdss',
  'qcom,sc8280xp-mdss',
  'qcom,sdm670-mdss',
  'qcom,sdm845-mdss',
  'qcom,sdm845-mss-pil',
  'qcom,sm6350-mdss',
  'qcom,sm6375-mdss',
  'qcom,sm8150-mdss',
  'qcom,sm8250-mdss',
  'qcom,x1e80100-mdss',
].map((compatible) => ({ compatible }));

interface QcomState {
  /** Context banks with stall-on-fault enabled through the Adreno interface. */
  stallEnabled: Set<number>;
  /** Firmware that turns S2CR bypass writes into fault: bypass is emulated through a reserved bank. */
  bypassQuirk: boolean;
  bypassCbndx: number;
}

function qcom(smmu: ArmSmmu): QcomState {
  let q = smmu.implData.qcom as QcomState | undefined;
  if (!q) {
    q = { stallEnabled: new Set(), bypassQuirk: false, bypassCbndx: -1 };
    smmu.implData.qcom = q;
  }
  return q;
}

function qcomDefDomainType(dev: Device): IommuDomainType | null {
  return dev.ofNode && ofMatchNode(QCOM_SMMU_CLIENT_OF_MATCH, dev.ofNode) ? 'identity' : null;
}

/** qcom_smmu_init_context: walk invalidations by ASID. */
function qcomInitContext(domain: ArmSmmuDomainImpl): number {
  domain.cfg.flushWalkPreferTlbiasid = true;
  return 0;
}

/**
 * qcom_smmu_cfg_probe: at most 128 stream match groups; detects firmware that writes FAULT
 * for a BYPASS S2CR (then reserves the last context bank to emulate bypass); keeps SMRs the
 * boot firmware left valid, as bypass entries.
 */
/** Hides the context banks past `n` (banks the secure world keeps, or that crash when touched). */
function limitContextBanks(smmu: ArmSmmu, n: number): void {
  smmu.numContextBanks = n;
  smmu.cbs.length = n;
  smmu.contextMap.length = n;
}

function isCompatible(smmu: ArmSmmu, compatible: string): boolean {
  const np = smmu.dev.ofNode;
  return np !== null && np !== undefined && ofDeviceIsCompatible(np, compatible) > 0;
}

/**
 * qcom_smmu_cfg_probe's per-SoC bank counts: msm8998's LPASS SMMU reports 13 banks but the last
 * one crashes the system when touched (12 are used); sdm630/sdm660's A2NOC SMMU reports 21 of
 * which 7 are usable, their LPASS SMMU 14 of which 13.
 */
function qcomLimitContextBanks(smmu: ArmSmmu): void {
  if (isCompatible(smmu, 'qcom,msm8998-smmu-v2') && smmu.numContextBanks === 13) limitContextBanks(smmu, 12);
  else if (isCompatible(smmu, 'qcom,sdm630-smmu-v2')) {
    if (smmu.numContextBanks === 21) limitContextBanks(smmu, 7);
    else if (smmu.numContextBanks === 14) limitContextBanks(smmu, 13);
  }
}

/**
 * qcom_adreno_smmuv2_cfg_probe: the 16 KiB AArch64 granule some of these SMMUs advertise does not
 * work, so it is withdrawn; on sdm630/sdm660 the secure world keeps the last 3 of the GPU SMMU's
 * 5 context banks (2 are left).
 */
function qcomAdrenoSmmuV2CfgProbe(smmu: ArmSmmu): number {
  smmu.features &= ~FEAT_FMT_AARCH64_16K;
  if (isCompatible(smmu, 'qcom,sdm630-smmu-v2') && smmu.numContextBanks === 5) limitContextBanks(smmu, 2);
  return 0;
}

function qcomCfgProbe(smmu: ArmSmmu): number {
  const q = qcom(smmu);
  qcomLimitContextBanks(smmu);
  if (smmu.numMappingGroups > 128) {
    smmu.dev.info('\tLimiting the stream matching groups to 128');
    smmu.numMappingGroups = 128;
    smmu.s2crs.length = 128;
    if (smmu.smrs) smmu.smrs.length = 128;
  }
  const last = R.gr0S2cr(smmu.numMappingGroups - 1);
  let reg = (R.S2CR_TYPE_BYPASS << R.S2CR_TYPE_SHIFT) | 0xff | (R.S2CR_PRIVCFG_DEFAULT << R.S2CR_PRIVCFG_SHIFT);
  smmu.gr0Write(last, reg);
  reg = smmu.gr0Read(last);
  if (((reg >>> R.S2CR_TYPE_SHIFT) & R.S2CR_TYPE_MASK) !== R.S2CR_TYPE_BYPASS) {
    q.bypassQuirk = true;
    q.bypassCbndx = smmu.numContextBanks - 1;
    smmu.contextMap[q.bypassCbndx] = true;
    smmu.cbWrite(q.bypassCbndx, R.CB_SCTLR, 0);
    smmu.gr1Write(R.gr1Cbar(q.bypassCbndx), R.CBAR_TYPE_S1_TRANS_S2_BYPASS << R.CBAR_TYPE_SHIFT);
  }
  if (!smmu.smrs) return 0;
  for (let i = 0; i < smmu.numMappingGroups; i++) {
    const smr = smmu.gr0Read(R.gr0Smr(i));
    if (!(smr & R.SMR_VALID)) continue;
    smmu.smrs[i] = { id: smr & R.SMR_ID_MASK, mask: (smr >>> R.SMR_MASK_SHIFT) & 0x7fff, valid: true };
    smmu.s2crs[i] = { group: null, count: 0, type: R.S2CR_TYPE_BYPASS, privcfg: R.S2CR_PRIVCFG_DEFAULT, cbndx: 0xff };
  }
  return 0;
}

/** qcom_smmu_write_s2cr: with the bypass quirk, bypass goes through the reserved bank and fault is written as bypass. */
function qcomWriteS2cr(smmu: ArmSmmu, idx: number): void {
  const s2cr = smmu.s2crs[idx]!;
  const q = qcom(smmu);
  let type: number = s2cr.type;
  let cbndx = s2cr.cbndx;
  if (q.bypassQuirk) {
    if (type === R.S2CR_TYPE_BYPASS) {
      type = R.S2CR_TYPE_TRANS;
      cbndx = q.bypassCbndx;
    } else if (type === R.S2CR_TYPE_FAULT) {
      type = R.S2CR_TYPE_BYPASS;
      cbndx = 0xff;
    }
  }
  smmu.gr0Write(R.gr0S2cr(idx), ((type << R.S2CR_TYPE_SHIFT) | (cbndx & R.S2CR_CBNDX_MASK) | (s2cr.privcfg << R.S2CR_PRIVCFG_SHIFT)) >>> 0);
}

/** The GPU always uses stream ID 0: that is how the Adreno SMMU implementation recognises it. */
const QCOM_ADRENO_SMMU_GPU_SID = 0;

function isGpuDevice(dev: Device): boolean {
  const fw = devIommuFwspecGet(dev);
  return fw !== undefined && fw.ids.some((id) => (id & R.SMR_ID_MASK) === QCOM_ADRENO_SMMU_GPU_SID);
}

/** The GPU's context bank must be bank 0 (the GPU switches its TTBR0 itself); other masters use the rest. */
function adrenoAllocContextBank(_d: ArmSmmuDomainImpl, smmu: ArmSmmu, dev: Device): number {
  if (isGpuDevice(dev)) return smmu.allocContextBank(0, 1);
  const r = smmu.allocContextBank(1, smmu.numContextBanks);
  return r < 0 ? -ENOSPC : r;
}

/** Keeps the GPU going after a fault (HUPCF), and stalls on faults when its driver asked for it. */
function adrenoWriteSctlr(smmu: ArmSmmu, idx: number, reg: number): void {
  let v = reg | R.SCTLR_HUPCF;
  if (qcom(smmu).stallEnabled.has(idx)) v |= R.SCTLR_CFCFG;
  smmu.cbWrite(idx, R.CB_SCTLR, v >>> 0);
}

function adrenoCanDoTtbr1(smmu: ArmSmmu): boolean {
  const np = smmu.dev.ofNode;
  return !(np && ofDeviceIsCompatible(np, 'qcom,msm8996-smmu-v2') > 0);
}

function cookieDomain(cookie: unknown): ArmSmmuDomainImpl | null {
  return cookie instanceof ArmSmmuDomainImpl && !cookie.freed && cookie.smmu !== null && cookie.smmu.regs.mapped ? cookie : null;
}

/** get_ttbr1_cfg: the page-table configuration of the GPU context's TTBR1 (kernel) table. */
function adrenoGetTtbr1Cfg(cookie: unknown): Readonly<AdrenoSmmuPgtableCfg> {
  const d = cookie as ArmSmmuDomainImpl;
  const info = d.pgtbl ? ioPgtableOpsInfo(d.pgtbl) : undefined;
  return (info?.cfg ?? d.pgtblCfg)!;
}

/**
 * set_ttbr0_cfg (qcom_adreno_smmu_set_ttbr0_cfg): with `cfg`, its table goes into TTBR0
 * (with the context's ASID) and TCR gets its TTBR0 fields with both walks enabled; with null,
 * TCR and TTBR0 return to the TTBR1-only configuration. The bank is rewritten. -EINVAL when
 * the context has no split tables (EPD1 set), when TTBR0 is already enabled (cfg) or already
 * disabled (null), or for a cfg that is not a stage-1 LPAE configuration.
 */
function adrenoSetTtbr0Cfg(cookie: unknown, cfg: Readonly<AdrenoSmmuPgtableCfg> | null): number {
  const d = cookieDomain(cookie);
  if (!d) return -ENODEV;
  const smmu = d.smmu!;
  const cb = smmu.cbs[d.cfg.cbndx]!;
  if (cb.tcr[0] & R.TCR_EPD1) return -EINVAL;
  const asidHi = ((d.cfg.asid & 0xffff) << R.TTBR_ASID_HI_SHIFT) >>> 0;
  if (!cfg) {
    if (cb.tcr[0] & R.TCR_EPD0) return -EINVAL;
    cb.tcr[0] = lpaeTcr(adrenoGetTtbr1Cfg(d));
    cb.ttbrLo[0] = 0;
    cb.ttbrHi[0] = asidHi;
  } else {
    if (!(cb.tcr[0] & R.TCR_EPD0)) return -EINVAL;
    if (!cfg.armLpaeS1Cfg || cfg.quirks & IO_PGTABLE_QUIRK_ARM_TTBR1) return -EINVAL;
    let tcr = cb.tcr[0] | lpaeTcr(cfg);
    tcr &= ~(R.TCR_EPD0 | R.TCR_EPD1);
    const ttbr = BigInt.asUintN(64, cfg.armLpaeS1Cfg.ttbr);
    cb.tcr[0] = tcr >>> 0;
    cb.ttbrLo[0] = Number(ttbr & 0xffff_ffffn);
    cb.ttbrHi[0] = (Number(ttbr >> 32n) | asidHi) >>> 0;
  }
  smmu.writeContextBank(d.cfg.cbndx);
  return 0;
}

const faultTmp = { lo: 0, hi: 0 };

/** get_fault_info: the bank's FSR, FSYNR0/1, FAR, CBFRSYNRA, TTBR0 and CONTEXTIDR. */
function adrenoGetFaultInfo(cookie: unknown, info: AdrenoSmmuFaultInfo): void {
  const d = cookieDomain(cookie);
  if (!d) return;
  const s = d.smmu!;
  const idx = d.cfg.cbndx;
  info.fsr = s.cbRead(idx, R.CB_FSR);
  info.fsynr0 = s.cbRead(idx, R.CB_FSYNR0);
  info.fsynr1 = s.cbRead(idx, R.CB_FSYNR1);
  s.cbReadq(idx, R.CB_FAR, faultTmp);
  info.far = (BigInt(faultTmp.hi) << 32n) | BigInt(faultTmp.lo);
  info.cbfrsynra = s.gr1Read(R.gr1Cbfrsynra(idx));
  s.cbReadq(idx, R.CB_TTBR0, faultTmp);
  info.ttbr0 = (BigInt(faultTmp.hi) << 32n) | BigInt(faultTmp.lo);
  info.contextidr = s.cbRead(idx, R.CB_CONTEXTIDR);
}

/** set_stall: stall-on-fault for the GPU's bank; SCTLR is updated at once (the context is live here). */
function adrenoSetStall(cookie: unknown, enabled: boolean): void {
  const d = cookieDomain(cookie);
  if (!d) return;
  const s = d.smmu!;
  const q = qcom(s);
  const idx = d.cfg.cbndx;
  if (enabled) q.stallEnabled.add(idx);
  else q.stallEnabled.delete(idx);
  const reg = s.cbRead(idx, R.CB_SCTLR);
  s.cbWrite(idx, R.CB_SCTLR, (enabled ? reg | R.SCTLR_CFCFG : reg & ~R.SCTLR_CFCFG) >>> 0);
}

/** resume_translation: RESUME retries (terminate = false) or aborts the stalled transaction. */
function adrenoResumeTranslation(cookie: unknown, terminate: boolean): void {
  const d = cookieDomain(cookie);
  if (!d) return;
  const s = d.smmu!;
  if (terminate) s.stats.terminates++;
  else s.stats.resumes++;
  s.cbWrite(d.cfg.cbndx, R.CB_RESUME, terminate ? R.RESUME_TERMINATE : 0);
}

/**
 * qcom_adreno_smmu_init_context: ASID walk invalidation for every context; for the GPU
 * (stream ID 0), split page tables (the TTBR1 quirk: kernel buffers in the upper half)
 * when the context is AArch64 stage 1, and the Adreno interface filled in for the GPU driver.
 */
function adrenoInitContext(domain: ArmSmmuDomainImpl, cfg: IoPgtableCfg, dev: Device): number {
  domain.cfg.flushWalkPreferTlbiasid = true;
  if (!isGpuDevice(dev)) return 0;
  const smmu = domain.smmu!;
  if (adrenoCanDoTtbr1(smmu) && domain.stage === 's1' && domain.cfg.fmt === 'aarch64') cfg.quirks |= IO_PGTABLE_QUIRK_ARM_TTBR1;
  let priv = adrenoSmmuPrivGet(dev);
  if (!priv) {
    priv = adrenoSmmuPrivInit();
    adrenoSmmuPrivSet(dev, priv);
  }
  priv.cookie = domain;
  priv.getTtbr1Cfg = adrenoGetTtbr1Cfg;
  priv.setTtbr0Cfg = adrenoSetTtbr0Cfg;
  priv.getFaultInfo = adrenoGetFaultInfo;
  priv.setStall = adrenoSetStall;
  priv.resumeTranslation = adrenoResumeTranslation;
  domain.adrenoPriv = priv;
  return 0;
}

const QCOM_SMMU_V2_IMPL: ArmSmmuImpl = {
  name: 'qcom-smmu-v2',
  initContext: qcomInitContext,
  cfgProbe: qcomCfgProbe,
  defDomainType: qcomDefDomainType,
  writeS2cr: qcomWriteS2cr,
};

const QCOM_SMMU_500_IMPL: ArmSmmuImpl = {
  name: 'qcom-smmu-500',
  initContext: qcomInitContext,
  cfgProbe: qcomCfgProbe,
  defDomainType: qcomDefDomainType,
  reset: armMmu500Reset,
  writeS2cr: qcomWriteS2cr,
};

/**
 * sdm845's MMU-500 reset also asks the secure firmware to turn off the "wait-for-safe" logic
 * (an SCM call the model has no firmware for: only the MMU-500 part is done).
 */
const SDM845_SMMU_500_IMPL: ArmSmmuImpl = { ...QCOM_SMMU_500_IMPL, name: 'qcom-sdm845-smmu-500' };

const stallEnabled = (smmu: ArmSmmu, idx: number) => qcom(smmu).stallEnabled.has(idx);

const QCOM_ADRENO_SMMU_V2_IMPL: ArmSmmuImpl = {
  name: 'qcom-adreno-smmu-v2',
  initContext: adrenoInitContext,
  cfgProbe: qcomAdrenoSmmuV2CfgProbe,
  defDomainType: qcomDefDomainType,
  allocContextBank: adrenoAllocContextBank,
  writeSctlr: adrenoWriteSctlr,
  stallEnabled,
};

/** The MMU-500 flavour has no cfg_probe of its own (Linux: no qcom_adreno_smmuv2_cfg_probe there). */
const QCOM_ADRENO_SMMU_500_IMPL: ArmSmmuImpl = { ...QCOM_ADRENO_SMMU_V2_IMPL, name: 'qcom-adreno-smmu-500', reset: armMmu500Reset, cfgProbe: undefined };

interface QcomMatchData {
  readonly impl: ArmSmmuImpl | null;
  readonly adreno: ArmSmmuImpl | null;
}
const MSM8996_DATA: QcomMatchData = { impl: null, adreno: QCOM_ADRENO_SMMU_V2_IMPL };
const QCOM_V2_DATA: QcomMatchData = { impl: QCOM_SMMU_V2_IMPL, adreno: QCOM_ADRENO_SMMU_V2_IMPL };
const SDM845_500_DATA: QcomMatchData = { impl: SDM845_SMMU_500_IMPL, adreno: null };
const QCOM_500_DATA: QcomMatchData = { impl: QCOM_SMMU_500_IMPL, adreno: QCOM_ADRENO_SMMU_500_IMPL };

/** qcom_smmu_impl_of_match. */
export const QCOM_SMMU_IMPL_OF_MATCH: readonly { compatible: string; data: QcomMatchData }[] = [
  { compatible: 'qcom,msm8996-smmu-v2', data: MSM8996_DATA },
  { compatible: 'qcom,msm8998-smmu-v2', data: QCOM_V2_DATA },
  { compatible: 'qcom,qcm2290-smmu-500', data: QCOM_500_DATA },
  { compatible: 'qcom,qdu1000-smmu-500', data: QCOM_500_DATA },
  { compatible: 'qcom,sc7180-smmu-500', data: QCOM_500_DATA },
  { compatible: 'qcom,sc7180-smmu-v2', data: QCOM_V2_DATA },
  { compatible: 'qcom,sc7280-smmu-500', data: QCOM_500_DATA },
  { compatible: 'qcom,sc8180x-smmu-500', data: QCOM_500_DATA },
  { compatible: 'qcom,sc8280xp-smmu-500', data: QCOM_500_DATA },
  { compatible: 'qcom,sdm630-smmu-v2', data: QCOM_V2_DATA },
  { compatible: 'qcom,sdm845-smmu-v2', data: QCOM_V2_DATA },
  { compatible: 'qcom,sdm845-smmu-500', data: SDM845_500_DATA },
  { compatible: 'qcom,sm6115-smmu-500', data: QCOM_500_DATA },
  { compatible: 'qcom,sm6125-smmu-500', data: QCOM_500_DATA },
  { compatible: 'qcom,sm6350-smmu-v2', data: QCOM_V2_DATA },
  { compatible: 'qcom,sm6350-smmu-500', data: QCOM_500_DATA },
  { compatible: 'qcom,sm6375-smmu-v2', data: QCOM_V2_DATA },
  { compatible: 'qcom,sm6375-smmu-500', data: QCOM_500_DATA },
  { compatible: 'qcom,sm7150-smmu-v2', data: QCOM_V2_DATA },
  { compatible: 'qcom,sm8150-smmu-500', data: QCOM_500_DATA },
  { compatible: 'qcom,sm8250-smmu-500', data: QCOM_500_DATA },
  { compatible: 'qcom,sm8350-smmu-500', data: QCOM_500_DATA },
  { compatible: 'qcom,sm8450-smmu-500', data: QCOM_500_DATA },
  { compatible: 'qcom,smmu-500', data: QCOM_500_DATA },
];

/** qcom_smmu_impl_init: the Qualcomm hooks for a node, the Adreno ones for `qcom,adreno-smmu`. */
function qcomSmmuImplInit(smmu: ArmSmmu, current: ArmSmmuImpl | null): ArmSmmuImpl | null {
  const np = smmu.dev.ofNode;
  if (!np) return current;
  const m = ofMatchNode(QCOM_SMMU_IMPL_OF_MATCH, np);
  if (m) {
    const impl = ofDeviceIsCompatible(np, 'qcom,adreno-smmu') > 0 ? m.data.adreno : m.data.impl;
    return impl ?? current;
  }
  if (ofDeviceIsCompatible(np, 'qcom,adreno-smmu') > 0)
    smmu.dev.warn(`Missing qcom_smmu_impl_of_match entry for: ${smmu.dev.name}: GPU per-process page tables will be broken`);
  return current;
}

/** MAX_SMMU_INSTANCES of arm-smmu-nvidia.c. */
const NVIDIA_MAX_INSTANCES = 3;

/**
 * nvidia_smmu_impl_init: Tegra186/194/234 integrate two or three MMU-500s that the kernel
 * programs as one: the node's further `reg` windows are mapped and every register write goes
 * to each instance, reads come from the first, and a TLB sync waits for all (see ArmSmmu's
 * `mirrors`). Left out: the memory controller's stream-ID override programming
 * (tegra_mc_probe_device), so the SMMU does not wait for a Tegra MC driver here. 0 or -errno.
 */
function nvidiaSmmuImplInit(smmu: ArmSmmu): number {
  const mirrors: IoMem[] = [];
  for (let i = 1; i < NVIDIA_MAX_INSTANCES; i++) {
    if (!smmu.dev.resource('mem', i)) break;
    const io = smmu.dev.ioremap(i);
    if (typeof io === 'number') return io;
    mirrors.push(io);
  }
  smmu.mirrors = mirrors;
  smmu.dev.info(`NVIDIA Tegra SMMU: ${mirrors.length + 1} instance(s) programmed in lockstep; memory-controller stream-ID overrides not modelled`);
  return 0;
}

/**
 * arm_smmu_impl_init: the model's hooks first (MMU-500, Cavium), then integration quirks by
 * compatible (NVIDIA Tegra, Qualcomm, Marvell). Returns the hooks (null: none) or -errno.
 */
export function armSmmuImplInit(smmu: ArmSmmu): ArmSmmuImpl | null | number {
  const np = smmu.dev.ofNode;
  let impl: ArmSmmuImpl | null = null;
  if (smmu.model === 'mmu-500' || smmu.model === 'qcom-mmu-500') impl = ARM_MMU500_IMPL;
  else if (smmu.model === 'cavium') return CAVIUM_IMPL;
  if (np && ['nvidia,tegra234-smmu', 'nvidia,tegra194-smmu', 'nvidia,tegra186-smmu'].some((c) => ofDeviceIsCompatible(np, c) > 0)) {
    const r = nvidiaSmmuImplInit(smmu);
    if (r < 0) return r;
  }
  if (np && ofDeviceIsCompatible(np, 'calxeda,smmu-secure-config-access') > 0) {
    smmu.dev.err('the Calxeda secure-config-access register layout is not modelled: not probing');
    return -EINVAL;
  }
  if (smmu.config.qcom) impl = qcomSmmuImplInit(smmu, impl);
  if (np && ofDeviceIsCompatible(np, 'marvell,ap806-smmu-500') > 0) impl = MRVL_MMU500_IMPL;
  return impl;
}
