/**
 * The TrustZone firmware of a Qualcomm SoC, as far as the normal world's IOMMU drivers see it:
 * the SiP services Linux's qcom_scm reaches by SMC (SMC Calling Convention, owner SiP, function
 * number = service << 8 | command; x1 the argument-info word, x2.. the arguments; a status in
 * x0, 0 for success or one of the firmware's negative codes, results in x1..x3):
 *
 * - INFO (6) / IS_CALL_AVAIL (1): x2 = the function number asked about; x1 = 1 when implemented.
 * - MP (0xc) / RESTORE_SEC_CFG (2): x2 = an IOMMU's secure id (`qcom,iommu-secure-id`), x3 =
 *   spare. The firmware (re)programs that IOMMU's global space: every context bank stage 1,
 *   its stream routed to it (see QcomIommu). x1 = 0. An unknown id: EINVAL_ARG.
 * - MP / IOMMU_SECURE_PTBL_SIZE (3): x2 = spare; x1 = the bytes the firmware needs for its
 *   secure page tables, x2 = 0.
 * - MP / IOMMU_SECURE_PTBL_INIT (4): x2 = the physical address of that memory, x3 = its size,
 *   x4 = spare. The firmware takes the memory for itself; a region not in RAM or not 4 KiB
 *   aligned is EINVAL_ADDR, one smaller than the size it asked for EINVAL_ARG, a second
 *   initialisation ERROR.
 *
 * Other SiP calls answer EOPNOTSUPP; calls for other owners NOT_SUPPORTED. Both the SMC32
 * and SMC64 forms are accepted (MSM8916's firmware speaks the older convention; the register
 * contents the services take are the same here).
 */
import type { PhysMem } from '../../mem.js';
import { SMCCC_OWNER_MASK, SMCCC_OWNER_SHIFT, SMCCC_OWNER_SIP, SMCCC_RET_NOT_SUPPORTED, type SecureMonitor, type SmcResult } from '../../smc.js';
import type { QcomIommu } from '../qcom-iommu/iommu.js';

/** Firmware status codes (x0). */
export const QCOM_TZ_ERROR = -1;
export const QCOM_TZ_EINVAL_ARG = -2;
export const QCOM_TZ_EINVAL_ADDR = -3;
export const QCOM_TZ_EOPNOTSUPP = -4;

export const QCOM_TZ_SVC_INFO = 0x06;
export const QCOM_TZ_INFO_IS_CALL_AVAIL = 0x01;
export const QCOM_TZ_SVC_MP = 0x0c;
export const QCOM_TZ_MP_RESTORE_SEC_CFG = 0x02;
export const QCOM_TZ_MP_IOMMU_SECURE_PTBL_SIZE = 0x03;
export const QCOM_TZ_MP_IOMMU_SECURE_PTBL_INIT = 0x04;

/** Secure page table memory the firmware asks for by default (256 KiB; `gki,secure-ptbl-size` overrides). */
export const QCOM_TZ_DEFAULT_PTBL_SIZE = 0x40000;

const IMPLEMENTED = new Set([
  (QCOM_TZ_SVC_INFO << 8) | QCOM_TZ_INFO_IS_CALL_AVAIL,
  (QCOM_TZ_SVC_MP << 8) | QCOM_TZ_MP_RESTORE_SEC_CFG,
  (QCOM_TZ_SVC_MP << 8) | QCOM_TZ_MP_IOMMU_SECURE_PTBL_SIZE,
  (QCOM_TZ_SVC_MP << 8) | QCOM_TZ_MP_IOMMU_SECURE_PTBL_INIT,
]);

export interface QcomTrustZoneOptions {
  readonly name?: string;
  /** Bytes of secure page table memory the firmware asks for (a multiple of 4 KiB). */
  readonly securePtblSize?: number;
}

export interface QcomTrustZoneStats {
  /** Calls by function number (service << 8 | command), as hex strings. */
  readonly calls: Record<string, number>;
  restores: number;
}

export class QcomTrustZone implements SecureMonitor {
  readonly name: string;
  readonly securePtblSize: number;
  /** The secure page table memory the normal world handed over, once it did. */
  securePtbl: { readonly address: number; readonly size: number } | null = null;
  readonly stats: QcomTrustZoneStats = { calls: {}, restores: 0 };
  private readonly iommus = new Map<number, QcomIommu>();

  constructor(
    private readonly mem: PhysMem,
    opts: QcomTrustZoneOptions = {},
  ) {
    this.name = opts.name ?? 'qcom-tz';
    const size = opts.securePtblSize ?? QCOM_TZ_DEFAULT_PTBL_SIZE;
    if (!Number.isInteger(size) || size <= 0 || size % 4096 !== 0 || size > 2 ** 31) throw new RangeError(`${this.name}: secure page table size ${size} is not a positive multiple of 4096`);
    this.securePtblSize = size;
  }

  /** Makes `iommu` known to the firmware under its secure id (what the firmware was built with). */
  addIommu(iommu: QcomIommu): void {
    const id = iommu.secureId;
    if (id === undefined) throw new RangeError(`${this.name}: ${iommu.name} has no secure id`);
    const have = this.iommus.get(id);
    if (have && have !== iommu) throw new RangeError(`${this.name}: ${iommu.name} and ${have.name} both have secure id ${id}`);
    this.iommus.set(id, iommu);
  }

  /** The IOMMU with secure id `id`, if the firmware knows one. */
  iommu(id: number): QcomIommu | undefined {
    return this.iommus.get(id);
  }

  smc(args: readonly number[], res: SmcResult): void {
    res.a0 = res.a1 = res.a2 = res.a3 = 0;
    const fnid = (args[0] ?? 0) >>> 0;
    if (((fnid >>> SMCCC_OWNER_SHIFT) & SMCCC_OWNER_MASK) !== SMCCC_OWNER_SIP) {
      res.a0 = SMCCC_RET_NOT_SUPPORTED;
      return;
    }
    const fn = fnid & 0xffff;
    const key = '0x' + fn.toString(16);
    this.stats.calls[key] = (this.stats.calls[key] ?? 0) + 1;
    const arg = (i: number): number => args[2 + i] ?? 0;
    switch (fn) {
      case (QCOM_TZ_SVC_INFO << 8) | QCOM_TZ_INFO_IS_CALL_AVAIL:
        res.a1 = IMPLEMENTED.has(arg(0) & 0xffff) && ((arg(0) >>> SMCCC_OWNER_SHIFT) & SMCCC_OWNER_MASK) === SMCCC_OWNER_SIP ? 1 : 0;
        return;
      case (QCOM_TZ_SVC_MP << 8) | QCOM_TZ_MP_RESTORE_SEC_CFG: {
        const iommu = this.iommus.get(arg(0) >>> 0);
        if (!iommu) {
          res.a0 = QCOM_TZ_EINVAL_ARG;
          return;
        }
        iommu.secure().restoreSecureConfig();
        this.stats.restores++;
        return;
      }
      case (QCOM_TZ_SVC_MP << 8) | QCOM_TZ_MP_IOMMU_SECURE_PTBL_SIZE:
        res.a1 = this.securePtblSize;
        return;
      case (QCOM_TZ_SVC_MP << 8) | QCOM_TZ_MP_IOMMU_SECURE_PTBL_INIT: {
        const addr = arg(0);
        const size = arg(1) >>> 0;
        if (this.securePtbl) {
          res.a0 = QCOM_TZ_ERROR;
          return;
        }
        if (!Number.isInteger(addr) || addr % 4096 !== 0 || !this.inRam(addr, size)) {
          res.a0 = QCOM_TZ_EINVAL_ADDR;
          return;
        }
        if (size < this.securePtblSize) {
          res.a0 = QCOM_TZ_EINVAL_ARG;
          return;
        }
        this.securePtbl = { address: addr, size };
        return;
      }
      default:
        res.a0 = QCOM_TZ_EOPNOTSUPP;
    }
  }

  private inRam(addr: number, size: number): boolean {
    if (size === 0) return false;
    return this.mem.regions.some((r) => addr >= r.base && addr + size <= r.base + r.size);
  }
}
