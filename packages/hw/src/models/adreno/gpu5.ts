/**
 * An Adreno a5xx GPU (a505..a540: msm8996's Adreno 530, msm8998's 540, sdm630's 508, sdm660's
 * 512) on the MMIO bus. It is the a6xx model's command processor and bus-master behaviour with
 * the a5xx register interface (regs.ts, A5XX_*): the RBBM interrupt and status registers at their
 * a5xx places, the CP's ringbuffer registers, the PFP/ME halt control in CP_PFP_ME_CNTL (the CP
 * runs once both halt bits are clear), the PFP debug read-out (CP_PFP_STAT_ADDR/DATA: an index,
 * then reads that walk it; entry 1 is the header of the packet an opcode error stopped on), the
 * a5xx CP_PROTECT layout, and the always-on counter in RBBM_ALWAYSON_COUNTER.
 *
 * a5xx has no GMU. The parts with a GPMU (a530, a540) keep their SP and RB/CCU power domains
 * behind GPMU_SP_POWER_CNTL and GPMU_RBCCU_POWER_CNTL: a non-zero write switches the domain on
 * and GPMU_*_PWR_CLK_STATUS reports it (bit 20), 0 switches it off. The GPMU microcontroller
 * itself (its firmware and message RAM) is not modelled: its registers are plain storage. The
 * VBIF halt handshake (VBIF_XIN_HALT_CTRL1 acknowledging the ports CTRL0 asks to halt) is
 * modelled. The GPU takes no CP_SMMU_TABLE_UPDATE from msm on a5xx (Linux gives a5xx no
 * per-process tables), but the packet exists on a5xx and works as on a6xx.
 */
import type { PhysMem } from '../../mem.js';
import { AdrenoGpu, type AdrenoGpuOptions } from './gpu.js';
import * as R from './regs.js';

const TWO32 = 2 ** 32;
/** GPMU_*_PWR_CLK_STATUS: the domain's power (and clock) is on. */
const PWR_ON = 1 << 20;
const ME_PFP_HALT = R.A5XX_CP_PFP_ME_CNTL_ME_HALT | R.A5XX_CP_PFP_ME_CNTL_PFP_HALT;

export class Adreno5xxGpu extends AdrenoGpu {
  /** The part has a GPMU (a530, a540): its SP and RB/CCU domains are switched through it. */
  readonly hasGpmu: boolean;
  private pfpMeCntl = ME_PFP_HALT;
  private pfpStatIndex = 0;
  private spPower = 0;
  private rbccuPower = 0;
  private protectCntl5 = 0;

  constructor(mem: PhysMem, opts: AdrenoGpuOptions = {}) {
    super(mem, opts);
    if (this.chipId >>> 24 !== 5) throw new RangeError(`chip id 0x${this.chipId.toString(16)} is not an a5xx part`);
    const minor = (this.chipId >>> 8) & 0xff;
    const major = (this.chipId >>> 16) & 0xff;
    // a530 (5.3.0.x) and a540 (5.4.0.x)
    this.hasGpmu = (major === 3 || major === 4) && minor === 0;
  }

  /** Whether the SP and RB/CCU domains are on (always true on parts without a GPMU). */
  get powered(): boolean {
    return !this.hasGpmu || (this.spPower !== 0 && this.rbccuPower !== 0);
  }

  override read32(offset: number): number {
    const v = super.read32(offset);
    // each CP_PFP_STAT_DATA read moves the read-out to the next entry
    if (offset === R.A5XX_CP_PFP_STAT_DATA * 4) this.pfpStatIndex++;
    return v;
  }

  protected override regValue(reg: number): number {
    const cp = this.cp;
    switch (reg) {
      case R.A5XX_RBBM_INT_0_MASK: return this.intMask;
      case R.A5XX_RBBM_INT_0_STATUS: return (this.intRaw & this.intMask) >>> 0;
      case R.A5XX_RBBM_INT_CLEAR_CMD: return 0;
      case R.A5XX_RBBM_STATUS:
        return cp.busy ? (R.A5XX_RBBM_STATUS_GPU_BUSY_IGN_AHB | R.A5XX_RBBM_STATUS_GPU_BUSY_IGN_AHB_CP | R.A5XX_RBBM_STATUS_CP_BUSY | R.A5XX_RBBM_STATUS_CP_ME_BUSY) >>> 0 : 0;
      case R.A5XX_RBBM_STATUS3: return cp.state === 'stalled' ? R.A5XX_RBBM_STATUS3_SMMU_STALLED_ON_FAULT : 0;
      case R.A5XX_RBBM_SW_RESET_CMD: return this.swReset;
      case R.A5XX_RBBM_AHB_ERROR_STATUS: return 0;
      case R.A5XX_RBBM_ALWAYSON_COUNTER_LO: return this.ticks % TWO32 >>> 0;
      case R.A5XX_RBBM_ALWAYSON_COUNTER_HI: return Math.floor(this.ticks / TWO32) >>> 0;
      case R.A5XX_RBBM_PERFCTR_CP_0_LO: return cp.stats.packets % TWO32 >>> 0;
      case R.A5XX_RBBM_PERFCTR_CP_0_HI: return Math.floor(cp.stats.packets / TWO32) >>> 0;
      case R.A5XX_VBIF_XIN_HALT_CTRL0: return this.vbifHalt;
      case R.A5XX_VBIF_XIN_HALT_CTRL1: return this.vbifHalt;

      case R.A5XX_CP_RB_BASE: return cp.rbBase % TWO32 >>> 0;
      case R.A5XX_CP_RB_BASE_HI: return Math.floor(cp.rbBase / TWO32) >>> 0;
      case R.A5XX_CP_RB_CNTL: return cp.rbCntl;
      case R.A5XX_CP_RB_RPTR_ADDR: return cp.rptrAddr % TWO32 >>> 0;
      case R.A5XX_CP_RB_RPTR_ADDR_HI: return Math.floor(cp.rptrAddr / TWO32) >>> 0;
      case R.A5XX_CP_RB_RPTR: return cp.rptr;
      case R.A5XX_CP_RB_WPTR: return cp.wptr;
      case R.A5XX_CP_PFP_ME_CNTL: return this.pfpMeCntl;
      case R.A5XX_CP_PFP_STAT_ADDR: return this.pfpStatIndex;
      case R.A5XX_CP_PFP_STAT_DATA: return this.pfpStatIndex === 1 ? cp.badHeader : 0;
      case R.A5XX_CP_INTERRUPT_STATUS: return cp.interruptStatus;
      case R.A5XX_CP_HW_FAULT: return cp.hwFault;
      case R.A5XX_CP_AHB_FAULT: return 0;
      case R.A5XX_CP_PROTECT_STATUS: return cp.protectStatus;
      case R.A5XX_CP_PROTECT_CNTL: return this.protectCntl5;
      case R.A5XX_CP_IB1_BASE: return cp.depth >= 1 ? cp.ibBase[1]! % TWO32 >>> 0 : 0;
      case R.A5XX_CP_IB1_BASE_HI: return cp.depth >= 1 ? Math.floor(cp.ibBase[1]! / TWO32) >>> 0 : 0;
      case R.A5XX_CP_IB1_BUFSZ: return cp.ibRemaining(1);
      case R.A5XX_CP_IB2_BASE: return cp.depth >= 2 ? cp.ibBase[2]! % TWO32 >>> 0 : 0;
      case R.A5XX_CP_IB2_BASE_HI: return cp.depth >= 2 ? Math.floor(cp.ibBase[2]! / TWO32) >>> 0 : 0;
      case R.A5XX_CP_IB2_BUFSZ: return cp.ibRemaining(2);

      case R.A5XX_GPMU_SP_PWR_CLK_STATUS: return this.hasGpmu && this.spPower !== 0 ? PWR_ON : 0;
      case R.A5XX_GPMU_RBCCU_PWR_CLK_STATUS: return this.hasGpmu && this.rbccuPower !== 0 ? PWR_ON : 0;
      case R.A5XX_GPMU_SP_POWER_CNTL: return this.spPower;
      case R.A5XX_GPMU_RBCCU_POWER_CNTL: return this.rbccuPower;
      default:
        if (reg >= R.A5XX_CP_PROTECT_0 && reg < R.A5XX_CP_PROTECT_0 + R.A5XX_CP_PROTECT_COUNT) return cp.protect[reg - R.A5XX_CP_PROTECT_0]!;
        return this.storage.get(reg) ?? 0;
    }
  }

  protected override writeReg(reg: number, v: number): void {
    const cp = this.cp;
    switch (reg) {
      case R.A5XX_RBBM_INT_0_MASK: this.intMask = v; return;
      case R.A5XX_RBBM_INT_CLEAR_CMD: this.intRaw = (this.intRaw & ~v) >>> 0; return;
      case R.A5XX_RBBM_INT_0_STATUS:
      case R.A5XX_RBBM_STATUS:
      case R.A5XX_RBBM_STATUS3:
      case R.A5XX_RBBM_AHB_ERROR_STATUS:
      case R.A5XX_RBBM_ALWAYSON_COUNTER_LO:
      case R.A5XX_RBBM_ALWAYSON_COUNTER_HI:
      case R.A5XX_RBBM_PERFCTR_CP_0_LO:
      case R.A5XX_RBBM_PERFCTR_CP_0_HI:
      case R.A5XX_VBIF_XIN_HALT_CTRL1:
      case R.A5XX_CP_RB_RPTR:
      case R.A5XX_CP_PFP_STAT_DATA:
      case R.A5XX_CP_HW_FAULT:
      case R.A5XX_CP_AHB_FAULT:
      case R.A5XX_CP_PROTECT_STATUS:
      case R.A5XX_CP_IB1_BASE:
      case R.A5XX_CP_IB1_BASE_HI:
      case R.A5XX_CP_IB1_BUFSZ:
      case R.A5XX_CP_IB2_BASE:
      case R.A5XX_CP_IB2_BASE_HI:
      case R.A5XX_CP_IB2_BUFSZ:
      case R.A5XX_GPMU_SP_PWR_CLK_STATUS:
      case R.A5XX_GPMU_RBCCU_PWR_CLK_STATUS:
        return; // read-only
      case R.A5XX_RBBM_SW_RESET_CMD:
        if ((v & 1) !== 0 && (this.swReset & 1) === 0) this.softReset();
        this.swReset = v & 1;
        return;
      case R.A5XX_RBBM_AHB_CMD: return; // clears a latched AHB error; the model latches none
      case R.A5XX_VBIF_XIN_HALT_CTRL0: this.vbifHalt = v; return;
      case R.A5XX_CP_RB_BASE: cp.setRbBase(v, undefined); return;
      case R.A5XX_CP_RB_BASE_HI: cp.setRbBaseHi(v); return;
      case R.A5XX_CP_RB_CNTL: cp.setRbCntl(v); return;
      case R.A5XX_CP_RB_RPTR_ADDR: cp.rptrAddr = cp.addr(v, Math.floor(cp.rptrAddr / TWO32)); return;
      case R.A5XX_CP_RB_RPTR_ADDR_HI: cp.rptrAddr = cp.addr(cp.rptrAddr % TWO32, v); return;
      case R.A5XX_CP_RB_WPTR:
        cp.setWptr(v);
        if (this.execution === 'immediate') cp.run();
        return;
      case R.A5XX_CP_PFP_ME_CNTL:
        this.pfpMeCntl = v >>> 0;
        if (v !== 0) {
          cp.setSqeCntl(0);
          return;
        }
        if (!this.powered) {
          this.event('CP_PFP_ME_CNTL releases the CP while the GPMU has the SP or RB/CCU domain off: the CP stays halted');
          return;
        }
        cp.setSqeCntl(1);
        if (this.execution === 'immediate') cp.run();
        return;
      case R.A5XX_CP_PFP_STAT_ADDR: this.pfpStatIndex = v; return;
      case R.A5XX_CP_INTERRUPT_STATUS:
        cp.interruptStatus = (cp.interruptStatus & ~v) >>> 0;
        return;
      case R.A5XX_CP_PROTECT_CNTL:
        this.protectCntl5 = v;
        cp.protectCntl = v;
        return;
      case R.A5XX_GPMU_SP_POWER_CNTL: this.spPower = v; return;
      case R.A5XX_GPMU_RBCCU_POWER_CNTL: this.rbccuPower = v; return;
      default:
        if (reg >= R.A5XX_CP_PROTECT_0 && reg < R.A5XX_CP_PROTECT_0 + R.A5XX_CP_PROTECT_COUNT) {
          cp.protect[reg - R.A5XX_CP_PROTECT_0] = v;
          return;
        }
        this.storage.set(reg, v);
    }
  }

  /** RBBM_SW_RESET_CMD: the CP halts (PFP and ME), the interrupt block and the PFP read-out reset. */
  protected override softReset(): void {
    super.softReset();
    this.pfpMeCntl = ME_PFP_HALT;
    this.pfpStatIndex = 0;
    this.protectCntl5 = 0;
  }
}
