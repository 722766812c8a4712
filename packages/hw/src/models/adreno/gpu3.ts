/**
 * An Adreno a3xx or a4xx GPU (msm8916/apq8016's Adreno 306, msm8939/apq8039's Adreno 405, and
 * the a305/a320/a330/a420/a430 of older SoCs) on the MMIO bus: the command processor of cp.ts in
 * its legacy form (type-0/2/3 packets, 32-bit GPU addresses), with that generation's register
 * interface (regs.ts, A3XX_REGS / A4XX_REGS): RBBM_INT_0 mask, status and clear; RBBM_STATUS
 * (GPU_BUSY, CP busy bits) while the CP has work; the software reset; the CP's ring registers
 * (base, CP_RB_CNTL, read and write pointers); CP_ME_CNTL, whose HALT bit (set out of reset)
 * holds the micro engine until software clears it; the microcode upload ports (ME RAM and PFP
 * ucode address/data pairs: the words are counted, not run); CP_PROTECT_CTRL and the 16
 * CP_PROTECT entries; CP_PROTECT_STATUS, CP_HW_FAULT and the IB1/IB2 base and size read-outs.
 *
 * The GPU has no per-process page tables and no CP_SMMU_TABLE_UPDATE; it reaches memory through
 * the translator its IOMMU gives it (qcom_iommu's context banks on msm8916/msm8939). There is
 * no always-on counter (a4xx's RBBM_PERFCTR_CP_0, which Linux sets to count always, reads the
 * model's tick count) and no CP interrupt-status register: CP errors latch their own
 * RBBM_INT_0 bits (CP_OPCODE_ERROR, CP_HW_FAULT, CP_REG_PROTECT_FAULT).
 */
import type { PhysMem } from '../../mem.js';
import { AdrenoGpu, type AdrenoGpuOptions } from './gpu.js';
import * as R from './regs.js';

export class Adreno3xxGpu extends AdrenoGpu {
  /** 3 or 4: which register map the part has. */
  readonly generation: 3 | 4;
  readonly regs: R.AdrenoLegacyRegs;
  private meCntl = R.AXXX_CP_ME_CNTL_HALT;
  private protectCtrl = 0;
  /** Microcode words written through CP_ME_RAM_DATA and CP_PFP_UCODE_DATA since their address was set. */
  meWords = 0;
  pfpWords = 0;

  constructor(mem: PhysMem, opts: AdrenoGpuOptions = {}) {
    super(mem, opts);
    const core = this.chipId >>> 24;
    if (core !== 3 && core !== 4) throw new RangeError(`chip id 0x${this.chipId.toString(16)} is not an a3xx/a4xx part`);
    this.generation = core;
    this.regs = core === 3 ? R.A3XX_REGS : R.A4XX_REGS;
  }

  /** Whether software released the micro engine (CP_ME_CNTL.HALT clear). */
  get meRunning(): boolean {
    return (this.meCntl & R.AXXX_CP_ME_CNTL_HALT) === 0;
  }

  protected override regValue(reg: number): number {
    const cp = this.cp;
    const g = this.regs;
    switch (reg) {
      case g.rbbmInt0Mask: return this.intMask;
      case g.rbbmInt0Status: return (this.intRaw & this.intMask) >>> 0;
      case g.rbbmIntClearCmd: return 0;
      case g.rbbmStatus:
        return cp.busy ? (R.A3XX_RBBM_STATUS_GPU_BUSY | R.A3XX_RBBM_STATUS_HI_BUSY | R.A3XX_RBBM_STATUS_CP_ME_BUSY | R.A3XX_RBBM_STATUS_CP_PFP_BUSY) >>> 0 : 0;
      case g.rbbmSwResetCmd: return this.swReset;
      case g.rbbmAhbErrorStatus: return 0;
      case g.cpRbBase: return cp.rbBase >>> 0;
      case g.cpRbCntl: return cp.rbCntl;
      case g.cpRbRptrAddr: return cp.rptrAddr >>> 0;
      case g.cpRbRptr: return cp.rptr;
      case g.cpRbWptr: return cp.wptr;
      case g.cpMeCntl: return this.meCntl;
      case g.cpProtectCtrl: return this.protectCtrl;
      case g.cpProtectStatus: return cp.protectStatus;
      case g.cpHwFault: return cp.hwFault;
      case g.cpIb1Base: return cp.depth >= 1 ? cp.ibBase[1]! >>> 0 : 0;
      case g.cpIb1Bufsz: return cp.ibRemaining(1);
      case g.cpIb2Base: return cp.depth >= 2 ? cp.ibBase[2]! >>> 0 : 0;
      case g.cpIb2Bufsz: return cp.ibRemaining(2);
      case g.perfctrCp0Lo: return this.ticks % 2 ** 32 >>> 0;
      case g.perfctrCp0Hi: return Math.floor(this.ticks / 2 ** 32) >>> 0;
      default:
        if (reg >= g.cpProtect0 && reg < g.cpProtect0 + R.AXXX_CP_PROTECT_COUNT) return cp.protect[reg - g.cpProtect0]!;
        return this.storage.get(reg) ?? 0;
    }
  }

  protected override writeReg(reg: number, v: number): void {
    const cp = this.cp;
    const g = this.regs;
    switch (reg) {
      case g.rbbmInt0Mask: this.intMask = v; return;
      case g.rbbmIntClearCmd: this.intRaw = (this.intRaw & ~v) >>> 0; return;
      case g.rbbmInt0Status:
      case g.rbbmStatus:
      case g.rbbmAhbErrorStatus:
      case g.cpRbRptr:
      case g.cpProtectStatus:
      case g.cpHwFault:
      case g.cpIb1Base:
      case g.cpIb1Bufsz:
      case g.cpIb2Base:
      case g.cpIb2Bufsz:
        return; // read-only
      case g.rbbmSwResetCmd:
        if ((v & 1) !== 0 && (this.swReset & 1) === 0) this.softReset();
        this.swReset = v & 1;
        return;
      case g.cpRbBase: cp.setRbBase(v, 0); return;
      case g.cpRbCntl: cp.setRbCntl(v); return;
      case g.cpRbRptrAddr: cp.rptrAddr = v >>> 0; return;
      case g.cpRbWptr:
        cp.setWptr(v);
        if (this.execution === 'immediate') cp.run();
        return;
      case g.cpMeCntl:
        this.meCntl = v >>> 0;
        if ((v & R.AXXX_CP_ME_CNTL_HALT) !== 0) {
          cp.setSqeCntl(0);
          return;
        }
        cp.setSqeCntl(1);
        if (this.execution === 'immediate') cp.run();
        return;
      case g.cpMeRamWaddr: this.meWords = 0; this.storage.set(reg, v); return;
      case g.cpMeRamData: this.meWords++; return;
      case g.cpPfpUcodeAddr: this.pfpWords = 0; this.storage.set(reg, v); return;
      case g.cpPfpUcodeData: this.pfpWords++; return;
      case g.cpProtectCtrl:
        this.protectCtrl = v;
        cp.protectCntl = v;
        return;
      default:
        if (reg >= g.cpProtect0 && reg < g.cpProtect0 + R.AXXX_CP_PROTECT_COUNT) {
          cp.protect[reg - g.cpProtect0] = v;
          return;
        }
        this.storage.set(reg, v);
    }
  }

  /** RBBM_SW_RESET_CMD: the CP halts (CP_ME_CNTL.HALT), loses its state, protection off. */
  protected override softReset(): void {
    super.softReset();
    this.meCntl = R.AXXX_CP_ME_CNTL_HALT;
    this.protectCtrl = 0;
    this.cp.protectCntl = 0;
  }
}
