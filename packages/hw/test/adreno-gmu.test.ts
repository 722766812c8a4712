/**
 * The GMU answers the handshakes Linux's a6xx GMU code polls: firmware start
 * (CM3_FW_INIT_RESULT), HFI start (HFI_CTRL_STATUS), OOB set/ack/clear, SPTPRAC power, RSCC
 * start/stop, slumber (RPMH_POWER_STATE), GPU busy (GPU_CX_BUSY_STATUS), and the HFI messages
 * of a6xx_hfi_start_v1 / a6xx_hfi_start exchanged through queues in memory that the GMU reads
 * through its own SMMU stream (5 on sdm845). The sequences and offsets below are the kernel's.
 */
import { describe, expect, it } from 'vitest';
import { AdrenoGmu, AdrenoGpu } from '../src/index.js';
import { LpaeTables, S1_ATTR, SCTLR_AFE, SCTLR_CFIE, SCTLR_CFRE, SCTLR_M, SCTLR_TRE, V2Rig } from './smmu-v2-helpers.js';

const GMU_BASE = 0x0506_a000;
const GMU = {
  CM3_ITCM_START: 0x1b400,
  CM3_DTCM_START: 0x1c400,
  BOOT_SLUMBER_OPTION: 0x1cbf8,
  GX_VOTE_IDX: 0x1cbf9,
  MX_VOTE_IDX: 0x1cbfa,
  CM3_SYSRESET: 0x1f800,
  CM3_BOOT_CONFIG: 0x1f801,
  CM3_FW_INIT_RESULT: 0x1f81c,
  SPTPRAC_PWR_CLK_STATUS: 0x1f8d0,
  GX_SPTPRAC_POWER_CONTROL: 0x1a881,
  RPMH_POWER_STATE: 0x1f8ec,
  HFI_CTRL_STATUS: 0x1f980,
  HFI_SFR_ADDR: 0x1f982,
  HFI_QTBL_INFO: 0x1f984,
  HFI_QTBL_ADDR: 0x1f985,
  HFI_CTRL_INIT: 0x1f986,
  GMU2HOST_INTR_CLR: 0x1f991,
  GMU2HOST_INTR_INFO: 0x1f992,
  GMU2HOST_INTR_MASK: 0x1f993,
  HOST2GMU_INTR_SET: 0x1f994,
  GENERAL_7: 0x1f9cc,
  AO_HOST_INTERRUPT_CLR: 0x23b04,
  AO_HOST_INTERRUPT_MASK: 0x23b06,
  RSCC_CONTROL_REQ: 0x23b07,
  RSCC_CONTROL_ACK: 0x23b08,
  CX_BUSY_STATUS: 0x23b0c,
} as const;
/** RSCC registers at byte 0x23000 of the gmu window on a630 (rscc = mmio + 0x23000). */
const RSCC = { RSC_STATUS0_DRV0: 0x0004, SEQ_BUSY_DRV0: 0x0101, TCS0_DRV0_STATUS: 0x0346, TCS3_DRV0_STATUS: 0x053e } as const;
const MSGQ = 1 << 0;
const CM3_FAULT = 1 << 23;
const HFI_IRQ = 336; // GIC SPI 304
/** GMU VA where msm maps the HFI queues (uncached_iova_base). */
const HFI_IOVA = 0x6000_0000;

class GmuRig {
  readonly v2 = new V2Rig({ numCb: 8 });
  readonly gmu: AdrenoGmu;
  readonly gpu: AdrenoGpu;
  readonly hfiPa: number;
  hfiIrqs = 0;
  private seq = 0;

  constructor(chipId = 0x06030002) {
    this.gmu = new AdrenoGmu(this.v2.mem, { chipId, hfiIrq: this.v2.irq.line(HFI_IRQ) });
    this.v2.bus.map(GMU_BASE, 0x30000, this.gmu);
    this.gpu = new AdrenoGpu(this.v2.mem, { chipId });
    this.gmu.attachGpu(this.gpu);
    this.v2.irq.onIrq(HFI_IRQ, () => {
      this.hfiIrqs++;
      this.w(GMU.GMU2HOST_INTR_CLR, this.r(GMU.GMU2HOST_INTR_INFO));
    });
    // The GMU's stream 5 -> context bank 1, a stage-1 table mapping the HFI pages.
    this.v2.enable();
    this.v2.stream(1, 5, 0, 1);
    const t = new LpaeTables(this.v2, 12, 0);
    this.hfiPa = this.v2.alloc(0x4000, 0x4000);
    for (let off = 0; off < 0x4000; off += 4096) t.map(HFI_IOVA + off, this.hfiPa + off, S1_ATTR);
    this.v2.s1Aarch64(1, { ttbr0: t.root, asid: 1, sctlr: SCTLR_M | SCTLR_TRE | SCTLR_AFE | SCTLR_CFRE | SCTLR_CFIE });
    this.v2.smmu.attachMaster(this.gmu, [5]);
    this.hfiInit();
  }

  r(reg: number): number {
    return this.v2.bus.read32(GMU_BASE + (reg - 0x1a800) * 4);
  }
  w(reg: number, v: number): void {
    this.v2.bus.write32(GMU_BASE + (reg - 0x1a800) * 4, v);
  }
  rscc(reg: number): number {
    return this.v2.bus.read32(GMU_BASE + 0x23000 + reg * 4);
  }
  m(off: number): number {
    return this.v2.mem.read32(this.hfiPa + off);
  }
  setM(off: number, v: number): void {
    this.v2.mem.write32(this.hfiPa + off, v);
  }

  /** gmu_poll_timeout: true when `cond` holds within a bounded number of reads. */
  poll(reg: number, cond: (v: number) => boolean): boolean {
    for (let i = 0; i < 100; i++) if (cond(this.r(reg))) return true;
    return false;
  }

  /** a6xx_hfi_init: the table header, then two queue headers of 12 words, queues at 4K and 8K. */
  private hfiInit(): void {
    const words = [0, 6 + 2 * 12, 6, 12, 2, 2];
    words.forEach((v, i) => this.setM(4 * i, v));
    for (const [q, off, id] of [
      [0, 0x1000, 0],
      [1, 0x2000, this.gmu.legacy ? 4 : 1],
    ] as const) {
      const h = 24 + q * 48;
      const hdr = [1, HFI_IOVA + off, (10 << 8) | id, 1024, 0, 0, 1, 1, 1, 0, 0, 0];
      hdr.forEach((v, i) => this.setM(h + 4 * i, v));
    }
  }

  /** a6xx_gmu_fw_start(COLD_BOOT) through a6xx_gmu_hfi_start; returns false where the kernel times out. */
  fwStart(chipidForGmu: number): boolean {
    this.w(GMU.GENERAL_7, 1);
    this.w(GMU.CM3_ITCM_START, 0x12345678); // firmware image words
    this.w(GMU.CM3_FW_INIT_RESULT, 0);
    this.w(GMU.CM3_BOOT_CONFIG, 0x02);
    this.w(GMU.HFI_QTBL_ADDR, HFI_IOVA);
    this.w(GMU.HFI_QTBL_INFO, 1);
    this.w(GMU.HFI_SFR_ADDR, chipidForGmu);
    // a6xx_gmu_start: the firmware version word in DTCM decides what to wait for.
    const ver = this.r(GMU.CM3_DTCM_START + 0xff8);
    const [mask, reset] = ver <= 0x20010004 ? [0xffffffff, 0xbabeface] : [0x1ff, 0x100];
    this.w(GMU.CM3_SYSRESET, 1);
    this.w(GMU.CM3_SYSRESET, 0);
    if (!this.poll(GMU.CM3_FW_INIT_RESULT, (v) => ((v & mask) >>> 0) === reset)) return false;
    // a6xx_gmu_gfx_rail_on (legacy GMUs only)
    if (this.gmu.legacy) {
      this.w(GMU.BOOT_SLUMBER_OPTION, 0);
      this.w(GMU.GX_VOTE_IDX, 3);
      this.w(GMU.MX_VOTE_IDX, 3);
      if (!this.setOob(22, 30)) return false;
    }
    // a6xx_sptprac_enable
    this.w(GMU.GX_SPTPRAC_POWER_CONTROL, 0x778000);
    if (!this.poll(GMU.SPTPRAC_PWR_CLK_STATUS, (v) => (v & 0x38) === 0x28)) return false;
    // a6xx_gmu_hfi_start
    this.w(GMU.GMU2HOST_INTR_MASK, this.r(GMU.GMU2HOST_INTR_MASK) & ~MSGQ);
    this.w(GMU.HFI_CTRL_INIT, 1);
    return this.poll(GMU.HFI_CTRL_STATUS, (v) => (v & 1) !== 0);
  }

  setOob(request: number, ack: number): boolean {
    this.w(GMU.HOST2GMU_INTR_SET, 1 << request);
    const ok = this.poll(GMU.GMU2HOST_INTR_INFO, (v) => (v & (1 << ack)) !== 0);
    this.w(GMU.GMU2HOST_INTR_CLR, 1 << ack);
    return ok;
  }

  /** a6xx_hfi_send_msg: queue write (cookified on HFI v2), doorbell, wait for the ack and check it. */
  send(id: number, payload: number[]): { ok: boolean; resp?: number[] } {
    const seqnum = ++this.seq % 0xfff;
    const dwords = 1 + payload.length;
    const msg = [((seqnum << 20) | (0 << 16) | (dwords << 8) | id) >>> 0, ...payload];
    const cmd = 24;
    let wi = this.m(cmd + 44);
    for (const v of msg) {
      this.setM(0x1000 + 4 * wi, v);
      wi = (wi + 1) % 1024;
    }
    if (!this.gmu.legacy) for (; wi % 4; wi = (wi + 1) % 1024) this.setM(0x1000 + 4 * wi, 0xfafafafa);
    this.setM(cmd + 44, wi);
    this.w(GMU.HOST2GMU_INTR_SET, 1);
    // a6xx_hfi_wait_for_ack (the test's IRQ handler may already have cleared MSGQ: the queue tells).
    const rsp = 24 + 48;
    const pending = this.poll(GMU.GMU2HOST_INTR_INFO, (v) => (v & MSGQ) !== 0) || this.m(rsp + 40) !== this.m(rsp + 44);
    if (!pending) return { ok: false };
    this.w(GMU.GMU2HOST_INTR_CLR, MSGQ);
    let ri = this.m(rsp + 40);
    if (ri === this.m(rsp + 44)) return { ok: false };
    const hdr = this.m(0x2000 + 4 * ri);
    const size = (hdr >>> 8) & 0xff;
    const resp: number[] = [];
    for (let i = 0; i < size; i++) {
      resp.push(this.m(0x2000 + 4 * ri));
      ri = (ri + 1) % 1024;
    }
    if (!this.gmu.legacy) ri = (Math.ceil(ri / 4) * 4) % 1024;
    this.setM(rsp + 40, ri);
    const ok = (resp[0]! & 0xff) === 126 && resp[1]! >>> 20 === seqnum && resp[2] === 0;
    return { ok, resp };
  }
}

describe('Adreno GMU (always ready)', () => {
  it('boots through a6xx_gmu_fw_start: firmware result, boot OOB, SPTPRAC, HFI ready', () => {
    const rig = new GmuRig();
    expect(rig.r(GMU.HFI_CTRL_STATUS)).toBe(0);
    expect(rig.fwStart(0x06030200)).toBe(true);
    expect(rig.r(GMU.CM3_FW_INIT_RESULT)).toBe(0xbabeface);
    expect(rig.gmu.firmwareRunning).toBe(true);
    expect(rig.gmu.hfiStarted).toBe(true);
    expect(rig.r(GMU.RPMH_POWER_STATE)).toBe(0);
    // The chip id in the GMU's form for 630.2: core 6, major 3, minor 0 << 12, patch 2 << 8.
    expect(rig.gmu.hostChipId).toBe(0x06030200);
    expect(rig.gmu.expectedHostChipId).toBe(0x06030200);
    expect(rig.gmu.events).toEqual([]);
    expect(rig.gmu.counts.oobAcks).toBe(1);
  });

  it('reports a chip id written in the wrong form', () => {
    const rig = new GmuRig();
    expect(rig.fwStart(0x06030002)).toBe(true);
    expect(rig.gmu.events.some((e) => e.includes('0x6030200'))).toBe(true);
  });

  it('does not start HFI before the firmware is started', () => {
    const rig = new GmuRig();
    rig.w(GMU.HFI_CTRL_INIT, 1);
    expect(rig.r(GMU.HFI_CTRL_STATUS)).toBe(0);
    expect(rig.gmu.events[0]).toMatch(/before the GMU firmware was started/);
  });

  it('answers a6xx_hfi_start_v1 (INIT, FW_VERSION, PERF_TABLE, BW_TABLE, TEST) through its SMMU stream', () => {
    const rig = new GmuRig();
    expect(rig.fwStart(0x06030200)).toBe(true);
    const init = rig.send(0, [0, 0x60400000, 0x4000, 0]);
    expect(init.ok).toBe(true);
    const ver = rig.send(1, [(1 << 28) | (1 << 19) | (1 << 17)]);
    expect(ver.ok).toBe(true);
    expect(ver.resp![3]).toBe(((1 << 28) | (1 << 19) | (1 << 17)) >>> 0);
    expect(rig.send(4, new Array(2 + 16 * 2 + 4 * 2).fill(0)).ok).toBe(true); // perf table v1
    expect(rig.send(3, new Array(5 + 6 + 12 + 8 + 128).fill(0)).ok).toBe(true); // bw table
    expect(rig.send(5, []).ok).toBe(true);
    expect(rig.gmu.hfiLog.map((m) => m.id)).toEqual([0, 1, 4, 3, 5]);
    // Both queues are empty again (a6xx_hfi_stop checks that).
    expect(rig.m(24 + 40)).toBe(rig.m(24 + 44));
    expect(rig.m(72 + 40)).toBe(rig.m(72 + 44));
    // The GMU went through the SMMU (stream 5, bank 1) for every queue access.
    expect(rig.v2.smmu.stats.translations).toBeGreaterThan(20);
    expect(rig.hfiIrqs).toBeGreaterThan(0);
  });

  it('HFI v2 (a640 and later): aligned queues, and the new OOB bits', () => {
    const rig = new GmuRig(0x06040001);
    expect(rig.gmu.legacy).toBe(false);
    expect(rig.fwStart(0x06040100)).toBe(true);
    for (let i = 0; i < 3; i++) expect(rig.send(10, []).ok).toBe(true); // START, 1 word, padded to 4
    expect(rig.m(24 + 40) % 4).toBe(0);
    expect(rig.setOob(30, 31)).toBe(true); // GPU_SET_NEW
    expect(rig.setOob(16, 24)).toBe(false); // the legacy GPU_SET bit is not answered
    expect(rig.setOob(22, 30)).toBe(false); // nor BOOT_SLUMBER, which only legacy GMUs take
  });

  it('goes into and out of slumber, and runs the RSCC start/stop handshakes', () => {
    const rig = new GmuRig();
    expect(rig.fwStart(0x06030200)).toBe(true);
    // a6xx_gmu_notify_slumber
    rig.w(GMU.BOOT_SLUMBER_OPTION, 1);
    expect(rig.setOob(22, 30)).toBe(true);
    rig.w(GMU.HOST2GMU_INTR_SET, 1 << 30); // clear
    expect(rig.r(GMU.RPMH_POWER_STATE)).toBe(0xf);
    // a6xx_rpmh_stop / a6xx_rpmh_start
    rig.w(GMU.RSCC_CONTROL_REQ, 1);
    expect(rig.rscc(RSCC.RSC_STATUS0_DRV0) & (1 << 16)).not.toBe(0);
    rig.w(GMU.RSCC_CONTROL_REQ, 0);
    rig.w(GMU.RSCC_CONTROL_REQ, 1 << 1);
    expect(rig.r(GMU.RSCC_CONTROL_ACK) & 2).toBe(2);
    expect(rig.rscc(RSCC.SEQ_BUSY_DRV0)).toBe(0);
    expect(rig.rscc(RSCC.TCS0_DRV0_STATUS) & 1).toBe(1);
    expect(rig.rscc(RSCC.TCS3_DRV0_STATUS) & 1).toBe(1);
    // Boot again: BOOT_SLUMBER with option 0 brings the power state back to active.
    rig.w(GMU.BOOT_SLUMBER_OPTION, 0);
    expect(rig.setOob(22, 30)).toBe(true);
    expect(rig.r(GMU.RPMH_POWER_STATE)).toBe(0);
    // SPTPRAC off: a6xx_sptprac_disable polls bit 2.
    rig.w(GMU.GX_SPTPRAC_POWER_CONTROL, 0x778001);
    expect(rig.r(GMU.SPTPRAC_PWR_CLK_STATUS) & 0x04).toBe(0x04);
    // GX stays on (a6xx_gmu_gx_is_on: bits 6 and 7 clear).
    expect(rig.r(GMU.SPTPRAC_PWR_CLK_STATUS) & 0xc0).toBe(0);
  });

  it('reports the linked GPU busy in GPU_CX_BUSY_STATUS bit 23', () => {
    const rig = new GmuRig();
    expect(rig.r(GMU.CX_BUSY_STATUS) & (1 << 23)).toBe(0);
    // A CP with a pending ring (SQE on, wptr ahead of rptr, manual execution not needed: the ring is unbacked).
    rig.gpu.write32(0x802 * 4, 12);
    rig.gpu.write32(0x808 * 4, 1);
    rig.gpu.write32(0x807 * 4, 4); // the CP fetches zeros from address 0 and stops on an opcode error: hung
    expect(rig.gpu.busy).toBe(true);
    expect(rig.r(GMU.CX_BUSY_STATUS) & (1 << 23)).toBe(1 << 23);
  });

  it('raises CM3_FAULT when its queues are not mapped in its SMMU context', () => {
    const rig = new GmuRig();
    expect(rig.fwStart(0x06030200)).toBe(true);
    rig.w(GMU.HFI_QTBL_ADDR, 0x7000_0000);
    rig.w(GMU.HOST2GMU_INTR_SET, 1);
    expect(rig.r(GMU.GMU2HOST_INTR_INFO) & CM3_FAULT).toBe(CM3_FAULT);
    expect(rig.gmu.counts.faults).toBe(1);
  });

  it('keeps the AO interrupt block quiet and storage registers as written', () => {
    const rig = new GmuRig();
    rig.w(GMU.AO_HOST_INTERRUPT_CLR, 0xffffffff);
    rig.w(GMU.AO_HOST_INTERRUPT_MASK, 0);
    expect(rig.r(0x23b05)).toBe(0);
    rig.w(GMU.GENERAL_7, 1);
    expect(rig.r(GMU.GENERAL_7)).toBe(1);
  });
});
