/**
 * The a6xx GMU (graphics management unit) as the model needs it: a separate node and bus
 * master that is always ready. Power, clocks, votes and the GMU firmware are out of scope;
 * what is modelled is every handshake Linux's a6xx GMU code polls for, answered at once, so a
 * driver written from the kernel's behaviour neither hangs nor times out:
 *
 * - CM3_SYSRESET written 1 then 0 boots the "firmware": CM3_FW_INIT_RESULT reads 0xbabeface.
 *   The firmware takes the host's chip id from HFI_SFR_ADDR, or from GMU_GENERAL_10 on a gen7
 *   GMU (a730, a740, a750), and logs an event when it is not the one it expects.
 * - HFI_CTRL_INIT = 1 (after boot) sets HFI_CTRL_STATUS bit 0.
 * - HOST2GMU_INTR_SET bit 0 makes the GMU read the HFI command queue (at the queue table named
 *   by HFI_QTBL_ADDR, through the GMU's own SMMU context) and answer every message with an ACK
 *   on the response queue, then set GMU2HOST_INTR_INFO.MSGQ (and the "hfi" interrupt unless
 *   masked in GMU2HOST_INTR_MASK).
 * - OOB requests in HOST2GMU_INTR_SET are acknowledged in GMU2HOST_INTR_INFO: a630 family
 *   ("legacy") bits 16->24 GPU_SET, 17->25 PERFCOUNTER, 22->30 BOOT_SLUMBER, 23->31 DCVS;
 *   later a6xx bits 30->31 GPU_SET, 28->30 PERFCOUNTER. A BOOT_SLUMBER request with
 *   BOOT_SLUMBER_OPTION = 1 (or an HFI PREPARE_SLUMBER) puts RPMH_POWER_STATE at 0xf (slumber),
 *   with 0 back at 0 (active).
 * - SPTPRAC: GX_SPTPRAC_POWER_CONTROL 0x778000 -> SPTPRAC_PWR_CLK_STATUS 0x28 (GDSC on, GMU
 *   up), 0x778001 -> 0x24 (GDSC off); GX is always on (bits 6, 7 clear).
 * - RSCC: GMU_RSCC_CONTROL_ACK mirrors GMU_RSCC_CONTROL_REQ; RSC_STATUS0_DRV0 bit 16 is set
 *   while REQ bit 0 is; RSCC_SEQ_BUSY_DRV0 reads 0 and RSCC_TCSn_DRV0_STATUS 1 (idle).
 * - GPU_CX_BUSY_STATUS bit 23 follows the linked GPU's busy state.
 * Every other register is plain storage.
 */
import type { MmioDevice } from '../../bus.js';
import type { IrqLine } from '../../irq.js';
import type { PhysMem } from '../../mem.js';
import type { SmmuV2Translation } from '../smmu-v2/smmu.js';
import type { AdrenoTranslator } from './cp.js';
import { ADRENO_630_CHIP_ID, adrenoGmuChipId, adrenoGmuLegacy, adrenoIsGen7 } from './presets.js';
import * as R from './regs.js';

const TWO32 = 2 ** 32;
/** The RSCC block inside the "gmu" window of a630-family GMUs: bytes [0x23000, 0x24800). */
const RSCC_END = R.A6XX_GMU_RSCC_OFFSET + 0x1800;

const LEGACY_OOB: ReadonlyMap<number, number> = new Map([
  [16, 24],
  [17, 25],
  [22, 30],
  [23, 31],
]);
const NEW_OOB: ReadonlyMap<number, number> = new Map([
  [30, 31],
  [28, 30],
]);
const BOOT_SLUMBER_REQUEST = 22;

/** The GPU state the GMU reports (AdrenoGpu provides it). */
export interface AdrenoGmuGpuView {
  readonly chipId: number;
  readonly busy: boolean;
}

export interface AdrenoGmuOptions {
  readonly name?: string;
  /** Chip id of the GPU it serves (default Adreno 630 v2); decides the HFI/OOB flavour. */
  readonly chipId?: number;
  /** Override of the flavour: true for the a630-family HFI v1 and OOB bits. */
  readonly legacy?: boolean;
  readonly hfiIrq?: IrqLine;
  readonly gmuIrq?: IrqLine;
  /** StreamID of the GMU's own transactions (informational). */
  readonly streamId?: number;
}

/** One HFI message the GMU answered. */
export interface AdrenoHfiRecord {
  readonly id: number;
  readonly seqnum: number;
  readonly sizeWords: number;
}

/** The RSCC registers (a separate "rscc" window on newer SoCs, part of "gmu" on a630). */
export class AdrenoGmuRscc implements MmioDevice {
  readonly name: string;
  private readonly words = new Map<number, number>();

  constructor(private readonly gmu: AdrenoGmu) {
    this.name = `${gmu.name}-rscc`;
  }

  read32(offset: number): number {
    if (offset % 4 !== 0) return 0;
    const reg = offset / 4;
    switch (reg) {
      case R.A6XX_GPU_RSCC_RSC_STATUS0_DRV0:
        return ((this.words.get(reg) ?? 0) | ((this.gmu.rsccRequest & 1) !== 0 ? 1 << 16 : 0)) >>> 0;
      case R.A6XX_RSCC_SEQ_BUSY_DRV0:
        return 0;
      case R.A6XX_RSCC_TCS0_DRV0_STATUS:
      case R.A6XX_RSCC_TCS1_DRV0_STATUS:
      case R.A6XX_RSCC_TCS2_DRV0_STATUS:
      case R.A6XX_RSCC_TCS3_DRV0_STATUS:
        return 1;
      default:
        return this.words.get(reg) ?? 0;
    }
  }

  write32(offset: number, value: number): void {
    if (offset % 4 !== 0) return;
    this.words.set(offset / 4, value >>> 0);
  }
}

export class AdrenoGmu implements MmioDevice {
  readonly name: string;
  readonly chipId: number;
  private readonly legacyOverride: boolean | undefined;
  readonly rscc: AdrenoGmuRscc;
  /** Protocol events, newest last. */
  readonly events: string[] = [];
  eventLogSize = 256;
  /** HFI messages answered, newest last (at most 256). */
  readonly hfiLog: AdrenoHfiRecord[] = [];
  /** Secondary register windows of the node ("gmu_pdc", "gmu_pdc_seq", ...), by reg-name. */
  readonly windows = new Map<string, MmioDevice>();
  /** Counters. */
  readonly counts = { boots: 0, hfiMessages: 0, oobAcks: 0, faults: 0 };

  private readonly hfiIrq: IrqLine | undefined;
  private readonly gmuIrq: IrqLine | undefined;
  private translator: AdrenoTranslator | undefined;
  private readonly out: SmmuV2Translation = { pa: 0, stalled: false, sink: false };
  private gpu: AdrenoGmuGpuView | undefined;
  private readonly storage = new Map<number, number>();
  private ticks = 0;

  private sysreset = 0;
  private booted = false;
  private hfiReady = false;
  private g2hInfo = 0;
  private g2hMask = 0xffffffff;
  private aoStatus = 0;
  private aoMask = 0xffffffff;
  private sptpOn = true;
  /** GMU_RSCC_CONTROL_REQ (read by the RSCC block). */
  rsccRequest = 0;
  private powerState = 0;
  private respSeq = 0;
  /** The chip id the host wrote to HFI_SFR_ADDR before the last boot (undefined before one). */
  hostChipId: number | undefined;

  constructor(
    private readonly mem: PhysMem,
    opts: AdrenoGmuOptions = {},
  ) {
    this.chipId = (opts.chipId ?? ADRENO_630_CHIP_ID) >>> 0;
    this.legacyOverride = opts.legacy;
    this.name = opts.name ?? 'gmu';
    this.hfiIrq = opts.hfiIrq;
    this.gmuIrq = opts.gmuIrq;
    this.rscc = new AdrenoGmuRscc(this);
  }

  /** Installs (or removes) the SMMU translation of the GMU's own memory accesses (HFI queues). */
  setTranslator(fn: AdrenoTranslator | undefined): void {
    this.translator = fn;
  }

  get translated(): boolean {
    return this.translator !== undefined;
  }

  /** Links the GPU whose busy state and chip id the GMU reports. */
  attachGpu(gpu: AdrenoGmuGpuView | undefined): void {
    this.gpu = gpu;
  }

  get linkedGpu(): AdrenoGmuGpuView | undefined {
    return this.gpu;
  }

  /**
   * The a630-family flavour (HFI v1, the first OOB bit assignment): the override if one was
   * given, else decided like `gen7` by the linked GPU's chip id, else the GMU's own. A GMU whose
   * compatible names no number ("qcom,adreno-gmu-x185.1" on x1e80100) thus follows its GPU.
   */
  get legacy(): boolean {
    return this.legacyOverride ?? adrenoGmuLegacy(this.gpu?.chipId ?? this.chipId);
  }

  /**
   * A gen7 GMU (that of an a730, a740 or a750: the linked GPU's chip id decides, else the
   * GMU's own): it reads the host's chip id from GMU_GENERAL_10 instead of HFI_SFR_ADDR.
   */
  get gen7(): boolean {
    return adrenoIsGen7(this.gpu?.chipId ?? this.chipId);
  }

  /** The chip id in the form the driver is expected to write (HFI_SFR_ADDR, GMU_GENERAL_10 on gen7). */
  get expectedHostChipId(): number {
    return adrenoGmuChipId(this.gpu?.chipId ?? this.chipId);
  }

  get firmwareRunning(): boolean {
    return this.booted;
  }

  get hfiStarted(): boolean {
    return this.hfiReady;
  }

  /** GPU_GMU_CX_GMU_RPMH_POWER_STATE: 0 active, 0xf slumber. */
  get rpmhPowerState(): number {
    return this.powerState;
  }

  private event(m: string): void {
    if (this.events.length >= this.eventLogSize) this.events.shift();
    this.events.push(m);
  }

  // ------------------------------------------------------------------------------- MMIO

  read32(offset: number): number {
    if (offset % 4 !== 0) return 0;
    this.ticks++;
    if (offset >= R.A6XX_GMU_RSCC_OFFSET && offset < RSCC_END) return this.rscc.read32(offset - R.A6XX_GMU_RSCC_OFFSET);
    const reg = offset / 4 + R.A6XX_GMU_BASE_WORD;
    switch (reg) {
      case R.A6XX_GMU_HFI_CTRL_STATUS: return this.hfiReady ? 1 : 0;
      case R.A6XX_GMU_GMU2HOST_INTR_INFO: return this.g2hInfo;
      case R.A6XX_GMU_GMU2HOST_INTR_MASK: return this.g2hMask;
      case R.A6XX_GMU_AO_HOST_INTERRUPT_STATUS: return this.aoStatus;
      case R.A6XX_GMU_AO_HOST_INTERRUPT_MASK: return this.aoMask;
      case R.A6XX_GMU_SPTPRAC_PWR_CLK_STATUS:
        return R.A6XX_GMU_SPTPRAC_GMU_UP_POWER_STATE | (this.sptpOn ? R.A6XX_GMU_SPTPRAC_GDSC_POWER_ON : R.A6XX_GMU_SPTPRAC_GDSC_POWER_OFF);
      case R.A6XX_GMU_RSCC_CONTROL_REQ: return this.rsccRequest;
      case R.A6XX_GMU_RSCC_CONTROL_ACK: return this.rsccRequest;
      case R.A6XX_GPU_GMU_CX_GMU_RPMH_POWER_STATE: return this.powerState;
      case R.A6XX_GPU_GMU_AO_GPU_CX_BUSY_STATUS: return this.gpu?.busy ? R.A6XX_GPU_GMU_AO_GPU_CX_BUSY_STATUS_GPUBUSYIGNAHB : 0;
      case R.A6XX_GPU_GMU_AO_GPU_CX_BUSY_STATUS2: return 0;
      case R.A6XX_GMU_DCVS_RETURN: return 0;
      case R.A6XX_GMU_CM3_SYSRESET: return this.sysreset;
      case R.A6XX_GMU_ALWAYS_ON_COUNTER_L: return this.ticks % TWO32 >>> 0;
      case R.A6XX_GMU_ALWAYS_ON_COUNTER_H: return Math.floor(this.ticks / TWO32) >>> 0;
      default: return this.storage.get(reg) ?? 0;
    }
  }

  write32(offset: number, value: number): void {
    if (offset % 4 !== 0) return;
    this.ticks++;
    if (offset >= R.A6XX_GMU_RSCC_OFFSET && offset < RSCC_END) {
      this.rscc.write32(offset - R.A6XX_GMU_RSCC_OFFSET, value);
      return;
    }
    const v = value >>> 0;
    const reg = offset / 4 + R.A6XX_GMU_BASE_WORD;
    switch (reg) {
      case R.A6XX_GMU_CM3_SYSRESET:
        if ((this.sysreset & 1) !== 0 && (v & 1) === 0) this.boot();
        else if ((v & 1) !== 0) {
          this.booted = false;
          this.hfiReady = false;
        }
        this.sysreset = v & 1;
        break;
      case R.A6XX_GMU_HFI_CTRL_INIT:
        if ((v & 1) !== 0) {
          if (this.booted) this.hfiReady = true;
          else this.event('HFI_CTRL_INIT written before the GMU firmware was started (CM3_SYSRESET 1 then 0): HFI stays down');
        }
        this.storage.set(reg, v);
        break;
      case R.A6XX_GMU_HOST2GMU_INTR_SET: this.host2gmu(v); break;
      case R.A6XX_GMU_GMU2HOST_INTR_CLR: this.g2hInfo = (this.g2hInfo & ~v) >>> 0; break;
      case R.A6XX_GMU_GMU2HOST_INTR_SET: this.g2hInfo = (this.g2hInfo | v) >>> 0; break;
      case R.A6XX_GMU_GMU2HOST_INTR_MASK: this.g2hMask = v; break;
      case R.A6XX_GMU_AO_HOST_INTERRUPT_CLR: this.aoStatus = (this.aoStatus & ~v) >>> 0; break;
      case R.A6XX_GMU_AO_HOST_INTERRUPT_MASK: this.aoMask = v; break;
      case R.A6XX_GMU_GX_SPTPRAC_POWER_CONTROL:
        if (v === 0x778000) this.sptpOn = true;
        else if (v === 0x778001) this.sptpOn = false;
        this.storage.set(reg, v);
        break;
      case R.A6XX_GMU_RSCC_CONTROL_REQ: this.rsccRequest = v; break;
      case R.A6XX_GMU_HFI_CTRL_STATUS:
      case R.A6XX_GMU_GMU2HOST_INTR_INFO:
      case R.A6XX_GMU_AO_HOST_INTERRUPT_STATUS:
      case R.A6XX_GMU_SPTPRAC_PWR_CLK_STATUS:
      case R.A6XX_GMU_RSCC_CONTROL_ACK:
      case R.A6XX_GPU_GMU_CX_GMU_RPMH_POWER_STATE:
      case R.A6XX_GPU_GMU_AO_GPU_CX_BUSY_STATUS:
      case R.A6XX_GPU_GMU_AO_GPU_CX_BUSY_STATUS2:
      case R.A6XX_GMU_ALWAYS_ON_COUNTER_L:
      case R.A6XX_GMU_ALWAYS_ON_COUNTER_H:
        break; // read-only
      default:
        this.storage.set(reg, v);
    }
    this.updateIrqs();
  }

  private boot(): void {
    this.counts.boots++;
    this.booted = true;
    this.hfiReady = false;
    this.powerState = 0;
    this.storage.set(R.A6XX_GMU_CM3_FW_INIT_RESULT, R.A6XX_GMU_FW_INIT_DONE);
    // gen7 firmware takes the host's chip id from GMU_GENERAL_10, a6xx firmware from HFI_SFR_ADDR
    const reg = this.gen7 ? R.A7XX_GMU_GENERAL_10 : R.A6XX_GMU_HFI_SFR_ADDR;
    const sfr = this.storage.get(reg);
    this.hostChipId = sfr;
    const want = this.expectedHostChipId;
    if (sfr !== want)
      this.event(`GMU started with ${this.gen7 ? 'GMU_GENERAL_10' : 'HFI_SFR_ADDR'} 0x${(sfr ?? 0).toString(16)}; the chip id in the GMU's form is 0x${want.toString(16)}`);
  }

  private host2gmu(v: number): void {
    if ((v & 1) !== 0) this.processHfi();
    const table = this.legacy ? LEGACY_OOB : NEW_OOB;
    for (let bit = 1; bit < 32; bit++) {
      if ((v & (1 << bit)) === 0) continue;
      const ack = table.get(bit);
      if (ack === undefined) continue; // an OOB clear, or a bit the firmware ignores
      if (bit === BOOT_SLUMBER_REQUEST && this.legacy) {
        this.powerState = (this.storage.get(R.A6XX_GMU_BOOT_SLUMBER_OPTION) ?? 0) === 1 ? R.A6XX_GMU_RPMH_POWER_STATE_SLUMBER : 0;
      }
      this.counts.oobAcks++;
      this.g2hInfo = (this.g2hInfo | (1 << ack)) >>> 0;
    }
  }

  private updateIrqs(): void {
    const hfi = this.hfiIrq;
    if (hfi !== undefined) {
      if ((this.g2hInfo & ~this.g2hMask) !== 0) hfi.raise();
      else hfi.lower();
    }
    const g = this.gmuIrq;
    if (g !== undefined) {
      if ((this.aoStatus & ~this.aoMask) !== 0) g.raise();
      else g.lower();
    }
  }

  // ------------------------------------------------------------------------------- HFI

  /** A GMU-side word access through the GMU's SMMU context; undefined when it faulted. */
  private gmuPa(va: number, write: boolean): number | undefined {
    const tr = this.translator;
    let pa = va;
    if (tr !== undefined) {
      const out = this.out;
      out.stalled = false;
      out.sink = false;
      if (!tr(0, va, write, out) || out.sink) return undefined;
      pa = out.pa;
    }
    if (!Number.isSafeInteger(pa) || pa < 0 || pa % 4 !== 0 || !this.mem.contains(pa, 4)) return undefined;
    return pa;
  }

  private fault(what: string, va: number): void {
    this.counts.faults++;
    this.g2hInfo = (this.g2hInfo | R.A6XX_GMU_GMU2HOST_INTR_INFO_CM3_FAULT) >>> 0;
    this.event(`GMU firmware fault: ${what} at GMU address 0x${va.toString(16)} could not be accessed`);
  }

  private rd(va: number, what: string): number | undefined {
    const pa = this.gmuPa(va, false);
    if (pa === undefined) {
      this.fault(`reading ${what}`, va);
      return undefined;
    }
    return this.mem.read32(pa);
  }

  private wr(va: number, v: number, what: string): boolean {
    const pa = this.gmuPa(va, true);
    if (pa === undefined) {
      this.fault(`writing ${what}`, va);
      return false;
    }
    this.mem.write32(pa, v >>> 0);
    return true;
  }

  /** Reads every message of the command queue and answers each with an ACK on the response queue. */
  private processHfi(): void {
    if (!this.hfiReady) {
      this.event('HFI message signalled before HFI_CTRL_STATUS was up: ignored');
      return;
    }
    const qtbl = this.storage.get(R.A6XX_GMU_HFI_QTBL_ADDR) ?? 0;
    // Every read stops the processing at the first access the GMU cannot make (one CM3 fault).
    const words: number[] = [];
    const need = (va: number, what: string): boolean => {
      const v = this.rd(va, what);
      if (v === undefined) return false;
      words.push(v);
      return true;
    };
    if (!need(qtbl + 4 * R.HFI_QTBL_QHDR0_OFFSET, 'the HFI queue table') || !need(qtbl + 4 * R.HFI_QTBL_QHDR_SIZE, 'the HFI queue table') || !need(qtbl + 4 * R.HFI_QTBL_NUM_QUEUES, 'the HFI queue table')) return;
    const [q0, qsz, nq] = words as [number, number, number];
    if (nq < 2) {
      this.event(`HFI queue table at 0x${qtbl.toString(16)} lists ${nq} queue(s); the GMU needs a command and a response queue`);
      return;
    }
    const cmdHdr = qtbl + 4 * q0;
    const rspHdr = cmdHdr + 4 * qsz;
    words.length = 0;
    for (const [hdr, field, what] of [
      [cmdHdr, R.HFI_QHDR_IOVA, 'the command queue header'],
      [cmdHdr, R.HFI_QHDR_SIZE, 'the command queue header'],
      [cmdHdr, R.HFI_QHDR_READ_INDEX, 'the command queue header'],
      [cmdHdr, R.HFI_QHDR_WRITE_INDEX, 'the command queue header'],
      [rspHdr, R.HFI_QHDR_IOVA, 'the response queue header'],
      [rspHdr, R.HFI_QHDR_SIZE, 'the response queue header'],
      [rspHdr, R.HFI_QHDR_READ_INDEX, 'the response queue header'],
      [rspHdr, R.HFI_QHDR_WRITE_INDEX, 'the response queue header'],
    ] as const)
      if (!need(hdr + 4 * field, what)) return;
    const [cmdData, cmdSize, read0, write, rspData, rspSize, rspRead] = words as [number, number, number, number, number, number, number];
    let read = read0;
    let rspWrite = words[7]!;
    if (cmdSize === 0 || rspSize === 0 || read >= cmdSize || write >= cmdSize || rspWrite >= rspSize) {
      this.event('HFI queue headers hold an impossible size or index: messages not read');
      return;
    }
    let answered = 0;
    while (read !== write) {
      const header = this.rd(cmdData + 4 * read, 'an HFI message');
      if (header === undefined) return;
      const size = (header >>> 8) & 0xff;
      if (size === 0) {
        this.event(`HFI message header 0x${header.toString(16)} has size 0: the rest of the queue is dropped`);
        read = write;
        break;
      }
      const id = header & 0xff;
      const seqnum = header >>> 20;
      const payload0 = size > 1 ? this.rd(cmdData + 4 * ((read + 1) % cmdSize), 'an HFI message') : 0;
      if (payload0 === undefined) return;
      read = (read + size) % cmdSize;
      if (!this.legacy) read = (Math.ceil(read / 4) * 4) % cmdSize;
      this.counts.hfiMessages++;
      if (this.hfiLog.length >= 256) this.hfiLog.shift();
      this.hfiLog.push({ id, seqnum, sizeWords: size });
      if (id === R.HFI_H2F_MSG_PREPARE_SLUMBER) this.powerState = R.A6XX_GMU_RPMH_POWER_STATE_SLUMBER;
      // The ACK: header, the command's header, error 0, one payload word (FW_VERSION: the
      // version the host asked for).
      const resp = [
        R.hfiHeader(R.HFI_F2H_MSG_ACK, 4, this.legacy ? R.HFI_MSG_ACK_V1 : R.HFI_MSG_ACK, this.respSeq++ & 0xfff),
        header,
        0,
        id === R.HFI_H2F_MSG_FW_VERSION ? payload0 : 0,
      ];
      const space = (rspRead - rspWrite - 1 + rspSize) % rspSize;
      if (space < resp.length) {
        const dropped = this.rd(rspHdr + 4 * R.HFI_QHDR_DROPPED, 'the response queue header');
        if (dropped === undefined || !this.wr(rspHdr + 4 * R.HFI_QHDR_DROPPED, dropped + 1, 'the response queue header')) return;
        this.event(`HFI response queue full: the answer to message ${id} seq ${seqnum} is dropped`);
        continue;
      }
      for (const w of resp) {
        if (!this.wr(rspData + 4 * rspWrite, w, 'the HFI response queue')) return;
        rspWrite = (rspWrite + 1) % rspSize;
      }
      answered++;
    }
    if (!this.wr(cmdHdr + 4 * R.HFI_QHDR_READ_INDEX, read, 'the command queue header')) return;
    if (!this.wr(rspHdr + 4 * R.HFI_QHDR_WRITE_INDEX, rspWrite, 'the response queue header')) return;
    if (answered > 0) this.g2hInfo = (this.g2hInfo | R.A6XX_GMU_GMU2HOST_INTR_INFO_MSGQ) >>> 0;
  }
}

/**
 * A GMU wrapper (`qcom,adreno-gmu-wrapper`: sm6115's a610, qcm2290's a702): the GMU's register
 * block on SoCs whose GPU has no GMU microcontroller. Nothing runs behind it, so nothing
 * answers: a CM3 reset boots nothing, out-of-band requests in HOST2GMU_INTR_SET are never
 * acknowledged, the HFI never comes up (each such attempt is logged in `events`). What the CX
 * side still does: GPU_CX_BUSY_STATUS bit 23 follows the linked GPU's busy state, and the
 * always-on counter counts. Every other register is plain storage.
 */
export class AdrenoGmuWrapper implements MmioDevice {
  readonly name: string;
  readonly events: string[] = [];
  eventLogSize = 256;
  /** Register writes received. */
  writes = 0;
  private gpu: AdrenoGmuGpuView | undefined;
  private readonly storage = new Map<number, number>();
  private ticks = 0;

  constructor(opts: { readonly name?: string } = {}) {
    this.name = opts.name ?? 'gmu-wrapper';
  }

  /** Links the GPU whose busy state the CX block reports. */
  attachGpu(gpu: AdrenoGmuGpuView | undefined): void {
    this.gpu = gpu;
  }

  get linkedGpu(): AdrenoGmuGpuView | undefined {
    return this.gpu;
  }

  /** The value last written to register `reg` (a word offset in the GPU's numbering), 0 if none. */
  register(reg: number): number {
    return this.storage.get(reg) ?? 0;
  }

  private event(m: string): void {
    if (this.events.length >= this.eventLogSize) this.events.shift();
    this.events.push(m);
  }

  read32(offset: number): number {
    if (offset % 4 !== 0) return 0;
    this.ticks++;
    const reg = offset / 4 + R.A6XX_GMU_BASE_WORD;
    switch (reg) {
      case R.A6XX_GPU_GMU_AO_GPU_CX_BUSY_STATUS: return this.gpu?.busy ? R.A6XX_GPU_GMU_AO_GPU_CX_BUSY_STATUS_GPUBUSYIGNAHB : 0;
      case R.A6XX_GMU_ALWAYS_ON_COUNTER_L: return this.ticks % TWO32 >>> 0;
      case R.A6XX_GMU_ALWAYS_ON_COUNTER_H: return Math.floor(this.ticks / TWO32) >>> 0;
      default: return this.storage.get(reg) ?? 0;
    }
  }

  write32(offset: number, value: number): void {
    if (offset % 4 !== 0) return;
    this.ticks++;
    this.writes++;
    const reg = offset / 4 + R.A6XX_GMU_BASE_WORD;
    const v = value >>> 0;
    if (reg === R.A6XX_GMU_HOST2GMU_INTR_SET && v !== 0) this.event(`HOST2GMU_INTR_SET 0x${v.toString(16)}: no GMU behind the wrapper, nothing will answer`);
    else if (reg === R.A6XX_GMU_CM3_SYSRESET) this.event('CM3_SYSRESET written: a GMU wrapper has no CM3 to start');
    else if (reg === R.A6XX_GMU_HFI_CTRL_INIT && (v & 1) !== 0) this.event('HFI_CTRL_INIT written: a GMU wrapper has no HFI');
    if (reg === R.A6XX_GPU_GMU_AO_GPU_CX_BUSY_STATUS || reg === R.A6XX_GMU_ALWAYS_ON_COUNTER_L || reg === R.A6XX_GMU_ALWAYS_ON_COUNTER_H) return;
    this.storage.set(reg, v);
  }
}
