import { EINVAL } from '../errno.js';
import { Device } from '../driver/device.js';

/*
 * The private interface between the Qualcomm Adreno SMMU implementation (in the arm_smmu
 * module) and the GPU driver (msm), Linux's include/linux/adreno-smmu-priv.h. The GPU
 * switches its SMMU context bank's TTBR0 itself (per-process page tables) while the SMMU
 * driver owns everything else; the two coordinate through this structure. Its types live in
 * the core kernel so that neither module imports the other.
 *
 * Linux keeps the structure in the GPU driver's state and makes it the GPU device's drvdata,
 * which the SMMU driver fills in when the GPU's paging domain is first attached. Here the
 * kernel keeps one slot per device instead of reusing drvdata (which the driver core clears
 * on every failed probe): `adrenoSmmuPrivSet(gpuDev, priv)` plays dev_set_drvdata, and
 * `adrenoSmmuPrivGet(gpuDev)` dev_get_drvdata. Either side may create the slot: a GPU driver
 * may register an empty structure before attaching (as msm does), or the SMMU driver creates
 * one when it sets up the GPU's context; the GPU reads it after its attach.
 */

/**
 * The page-table configuration the interface passes around: the part of io-pgtable's
 * `IoPgtableCfg` it uses, so that the io-pgtable type can be passed as is (structural typing)
 * without the kernel depending on io-pgtable-core.
 */
export interface AdrenoSmmuPgtableCfg {
  quirks: number;
  pgsizeBitmap: number;
  ias: number;
  oas: number;
  coherentWalk: boolean;
  /** The stage-1 LPAE outputs (TTBR, TCR fields, MAIR), as the ARM_64_LPAE_S1 format fills them. */
  armLpaeS1Cfg?: {
    ttbr: bigint;
    tcr: { ips: number; tg: number; sh: number; orgn: number; irgn: number; tsz: number };
    mair: bigint;
  };
}

/** struct adreno_smmu_fault_info: the context bank's fault registers, for the GPU's fault report. */
export interface AdrenoSmmuFaultInfo {
  /** FAR: the faulting IOVA (64-bit; upper-half addresses have their top bits set). */
  far: bigint;
  /** The TTBR0 register as programmed (table base and ASID). */
  ttbr0: bigint;
  contextidr: number;
  fsr: number;
  fsynr0: number;
  fsynr1: number;
  /** CBFRSYNRA of the context bank (the faulting stream ID). */
  cbfrsynra: number;
}

/** A blank fault-info record, for callers of getFaultInfo. */
export function adrenoSmmuFaultInfoInit(): AdrenoSmmuFaultInfo {
  return { far: 0n, ttbr0: 0n, contextidr: 0, fsr: 0, fsynr0: 0, fsynr1: 0, cbfrsynra: 0 };
}

/**
 * struct adreno_smmu_priv. Every callback takes the `cookie` the SMMU driver put here. The
 * callbacks are null until the SMMU driver has set up the GPU's context bank, and again after
 * it was torn down.
 */
export interface AdrenoSmmuPriv {
  cookie: unknown;
  /** The io-pgtable configuration of the context's TTBR1 (kernel) table. */
  getTtbr1Cfg: ((cookie: unknown) => Readonly<AdrenoSmmuPgtableCfg>) | null;
  /**
   * Installs `cfg`'s table as TTBR0 and enables TTBR0 walks (its TCR fields join TTBR1's);
   * null disables TTBR0 again. 0, or -EINVAL: the context has no split tables, TTBR0 is
   * already enabled (for a cfg) or already disabled (for null), or `cfg` is not a stage-1
   * LPAE configuration.
   */
  setTtbr0Cfg: ((cookie: unknown, cfg: Readonly<AdrenoSmmuPgtableCfg> | null) => number) | null;
  /** Reads the context bank's fault registers into `info`. */
  getFaultInfo: ((cookie: unknown, info: AdrenoSmmuFaultInfo) => void) | null;
  /** Stall (true) or terminate (false) on context faults; takes effect when the context is next written (setTtbr0Cfg). */
  setStall: ((cookie: unknown, enabled: boolean) => void) | null;
  /** Retries (terminate = false) or aborts (true) the transaction stalled on a fault. */
  resumeTranslation: ((cookie: unknown, terminate: boolean) => void) | null;
}

/** An empty interface structure (every callback null), as a GPU driver allocates it. */
export function adrenoSmmuPrivInit(): AdrenoSmmuPriv {
  return { cookie: null, getTtbr1Cfg: null, setTtbr0Cfg: null, getFaultInfo: null, setStall: null, resumeTranslation: null };
}

const slots = new WeakMap<Device, AdrenoSmmuPriv>();

/**
 * Makes `priv` the Adreno SMMU interface of GPU device `dev` (null removes it). 0, or
 * -EINVAL for something that is not a device or not an interface structure.
 */
export function adrenoSmmuPrivSet(dev: Device, priv: AdrenoSmmuPriv | null): number {
  if (!(dev instanceof Device)) return -EINVAL;
  if (priv === null) {
    slots.delete(dev);
    return 0;
  }
  if (typeof priv !== 'object' || !('getTtbr1Cfg' in priv) || !('setTtbr0Cfg' in priv)) return -EINVAL;
  slots.set(dev, priv);
  return 0;
}

/** The Adreno SMMU interface of GPU device `dev`, if one was set. */
export function adrenoSmmuPrivGet(dev: Device): AdrenoSmmuPriv | undefined {
  return dev instanceof Device ? slots.get(dev) : undefined;
}
