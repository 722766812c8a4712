/**
 * Qualcomm's Secure Channel Manager interface (drivers/firmware/qcom/qcom_scm.c), built into
 * the kernel as GKI's arm64 image has it: a platform driver for the `qcom,scm` node under
 * /firmware and the calls other drivers make into the TrustZone firmware through it.
 *
 * Calls go out through the SMC conduit (`armSmcccSmc`), in the SMC Calling Convention's
 * 64-bit form, owner SiP, function number service << 8 | command, x1 the argument-info word
 * (argument count in bits 3:0, each argument's kind in two bits from bit 4), x2.. the
 * arguments. A non-zero x0 is the firmware's status, mapped to an errno as Linux does:
 * -1 -EIO, -2/-3 -EINVAL, -4 -EOPNOTSUPP, -5 -ENOMEM, -12 -EBUSY, anything else -EINVAL.
 *
 * Until the driver has probed, `qcomScmIsAvailable` is false (drivers that depend on the
 * firmware defer their probe on it). Linux's calls would dereference the missing device
 * there; the model answers -ENODEV instead.
 *
 * Left out: the legacy (pre-SMCCC) convention, the SMC32 fallback, the wait-queue and
 * interrupted-call retries, download mode, the TZ memory pool, every service other than the
 * IOMMU ones.
 */
import type { Device } from '../driver/device.js';
import type { Driver } from '../driver/types.js';
import { EBUSY, EINVAL, EIO, ENODEV, ENOMEM, EOPNOTSUPP, EPERM } from '../errno.js';
import type { Kernel } from '../kernel.js';
import { armSmcccSmc, ARM_SMCCC_OWNER_SIP, armSmcccCallVal, createSmcResult, type ArmSmcccRes } from './smccc.js';

const SVC_INFO = 0x06;
const INFO_IS_CALL_AVAIL = 0x01;
const SVC_MP = 0x0c;
const MP_RESTORE_SEC_CFG = 0x02;
const MP_IOMMU_SECURE_PTBL_SIZE = 0x03;
const MP_IOMMU_SECURE_PTBL_INIT = 0x04;

/** Argument kinds in the argument-info word. */
const SCM_VAL = 0;
const SCM_RW = 2;

/** The qcom_scm driver's name and match table. */
export const QCOM_SCM_DRIVER = 'qcom_scm';
export const QCOM_SCM_OF_MATCH: readonly { readonly compatible: string }[] = [{ compatible: 'qcom,scm' }];

/** Per-kernel state of the interface (Linux's static __scm). */
interface ScmState {
  dev: Device | null;
  driver: Driver | null;
  /** The convention answered the probe's availability query. */
  convention: 'smc arm 64' | null;
  /** Memory handed to the secure world (secure page tables): never the kernel's again. */
  readonly lent: { readonly address: number; readonly size: number }[];
}

const states = new WeakMap<Kernel, ScmState>();

function state(kernel: Kernel): ScmState {
  let s = states.get(kernel);
  if (!s) {
    s = { dev: null, driver: null, convention: null, lent: [] };
    states.set(kernel, s);
  }
  return s;
}

function remapError(err: number): number {
  switch (err) {
    case -1:
      return -EIO;
    case -2:
    case -3:
      return -EINVAL;
    case -4:
      return -EOPNOTSUPP;
    case -5:
      return -ENOMEM;
    case -12:
      return -EBUSY;
    default:
      return -EINVAL;
  }
}

function argInfo(kinds: readonly number[]): number {
  let v = kinds.length & 0xf;
  kinds.forEach((k, i) => (v |= (k & 3) << (4 + 2 * i)));
  return v >>> 0;
}

/** One SiP call: 0 or -errno; `res` holds x1..x3. */
function scmCall(kernel: Kernel, svc: number, cmd: number, kinds: readonly number[], args: readonly number[], res: ArmSmcccRes): number {
  const fnid = armSmcccCallVal(false, true, ARM_SMCCC_OWNER_SIP, ((svc & 0xff) << 8) | (cmd & 0xff));
  armSmcccSmc(kernel, [fnid, argInfo(kinds), ...args], res);
  return res.a0 !== 0 ? remapError(res.a0) : 0;
}

/** __qcom_scm_is_call_available: true when the firmware implements SiP function svc/cmd. */
function isCallAvailable(kernel: Kernel, svc: number, cmd: number): boolean {
  const res = createSmcResult();
  const fn = (((svc & 0xff) << 8) | (cmd & 0xff) | (ARM_SMCCC_OWNER_SIP << 24)) >>> 0;
  const r = scmCall(kernel, SVC_INFO, INFO_IS_CALL_AVAIL, [SCM_VAL], [fn], res);
  return r === 0 && res.a1 === 1;
}

/** qcom_scm_is_available: true once the qcom_scm driver has probed. */
export function qcomScmIsAvailable(kernel: Kernel): boolean {
  return state(kernel).dev !== null;
}

/** qcom_scm_restore_sec_cfg_available: the firmware implements restore_sec_cfg. */
export function qcomScmRestoreSecCfgAvailable(kernel: Kernel): boolean {
  if (!qcomScmIsAvailable(kernel)) return false;
  return isCallAvailable(kernel, SVC_MP, MP_RESTORE_SEC_CFG);
}

/**
 * qcom_scm_restore_sec_cfg: asks the firmware to restore the secure configuration of device
 * `deviceId` (an IOMMU's qcom,iommu-secure-id). 0, the call's -errno, or the firmware's result.
 */
export function qcomScmRestoreSecCfg(kernel: Kernel, deviceId: number, spare: number): number {
  if (!qcomScmIsAvailable(kernel)) return -ENODEV;
  const res = createSmcResult();
  const r = scmCall(kernel, SVC_MP, MP_RESTORE_SEC_CFG, [SCM_VAL, SCM_VAL], [deviceId >>> 0, spare >>> 0], res);
  return r !== 0 ? r : res.a1;
}

/**
 * qcom_scm_iommu_secure_ptbl_size: the bytes of secure page table memory the firmware needs,
 * stored in `out.size` (whatever the outcome, as Linux stores result[0]); 0, the call's
 * -errno, or the firmware's second result.
 */
export function qcomScmIommuSecurePtblSize(kernel: Kernel, spare: number, out: { size: number }): number {
  if (!qcomScmIsAvailable(kernel)) return -ENODEV;
  const res = createSmcResult();
  const r = scmCall(kernel, SVC_MP, MP_IOMMU_SECURE_PTBL_SIZE, [SCM_VAL], [spare >>> 0], res);
  out.size = res.a1;
  return r !== 0 ? r : res.a2;
}

/**
 * qcom_scm_iommu_secure_ptbl_init: hands `size` bytes at physical `addr` to the firmware for
 * its secure page tables. 0 (also when the call answers -EPERM, "already initialised") or
 * -errno.
 */
export function qcomScmIommuSecurePtblInit(kernel: Kernel, addr: number, size: number, spare: number): number {
  if (!qcomScmIsAvailable(kernel)) return -ENODEV;
  const res = createSmcResult();
  const r = scmCall(kernel, SVC_MP, MP_IOMMU_SECURE_PTBL_INIT, [SCM_RW, SCM_VAL, SCM_VAL], [addr, size >>> 0, spare >>> 0], res);
  if (r === 0) state(kernel).lent.push({ address: addr, size: size >>> 0 });
  return r === -EPERM ? 0 : r;
}

/**
 * The memory the kernel handed to the secure world through qcom_scm (the IOMMU secure page
 * table): allocated from the kernel and never freed, as in Linux, because the firmware owns
 * it. Accounting (a shutdown that finds these pages in use has leaked nothing), not a Linux API.
 */
export function qcomScmLentMemory(kernel: Kernel): readonly { readonly address: number; readonly size: number }[] {
  return state(kernel).lent;
}

function scmProbe(dev: Device): number {
  const kernel = dev.core.kernel;
  const s = state(kernel);
  if (s.dev) {
    // one firmware interface per system
    dev.err('qcom_scm already probed');
    return -EINVAL;
  }
  // __get_convention: the SMC64 availability query decides (the model has no other convention)
  if (isCallAvailable(kernel, SVC_INFO, INFO_IS_CALL_AVAIL)) {
    s.convention = 'smc arm 64';
    kernel.log.info('qcom_scm', 'convention: smc arm 64');
  } else {
    s.convention = null;
    dev.warn('the secure firmware answered no SMC convention query; its calls will fail');
  }
  s.dev = dev;
  return 0;
}

function scmRemove(dev: Device): void {
  const s = state(dev.core.kernel);
  if (s.dev === dev) s.dev = null;
}

/**
 * Registers the built-in qcom_scm platform driver (a subsys initcall in Linux). 0 or -errno;
 * registering twice is a no-op.
 */
export function qcomScmRegisterDriver(kernel: Kernel): number {
  const s = state(kernel);
  if (s.driver) return 0;
  const drv: Driver = {
    name: QCOM_SCM_DRIVER,
    ofMatchTable: QCOM_SCM_OF_MATCH,
    suppressBindAttrs: true,
    probe: scmProbe,
    remove: scmRemove,
  };
  const r = kernel.drivers.registerDriver(drv);
  if (r === 0) s.driver = drv;
  return r;
}
