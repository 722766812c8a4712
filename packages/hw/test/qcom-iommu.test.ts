/**
 * The Qualcomm secure IOMMU model (qcom,msm-iommu-v1), driven by hand at register level on a
 * small tree shaped like msm8916.dtsi's apps_iommu: the local block, context bank pages at
 * `ranges` + N x 4 KiB, routing by the specifier's cell, an AArch32 long-descriptor (LPAE)
 * stage-1 table written here from the Arm architecture (VMSAv7 long descriptors), faults
 * recorded in FSR/FAR/FSYNR0 with the bank's interrupt, and TLB maintenance (TLBIVA with the
 * ASID in its low bits, TLBIASID, TLBSYNC/TLBSTATUS). Register offsets are the SMMU
 * architecture's context bank map (IHI 0062), written out as numbers here.
 */
import { describe, expect, it } from 'vitest';
import { Board, compileDts, PORT_FAULT, PORT_OK, QcomIommu } from '../src/index.js';

const DTS = `/dts-v1/;
/ {
  #address-cells = <1>; #size-cells = <1>;
  interrupt-parent = <&intc>;
  intc: interrupt-controller { interrupt-controller; #interrupt-cells = <1>; };
  memory@80000000 { device_type = "memory"; reg = <0x80000000 0x1000000>; };
  apps_iommu: iommu@1ef0000 {
    compatible = "qcom,msm8916-iommu", "qcom,msm-iommu-v1";
    #address-cells = <1>; #size-cells = <1>; #iommu-cells = <1>;
    ranges = <0 0x01e20000 0x20000>;
    reg = <0x01ef0000 0x3000>;
    qcom,iommu-secure-id = <17>;
    iommu-ctx@3000 { compatible = "qcom,msm-iommu-v1-sec"; reg = <0x3000 0x1000>; interrupts = <102>; };
    iommu-ctx@4000 { compatible = "qcom,msm-iommu-v1-ns"; reg = <0x4000 0x1000>; interrupts = <102>; };
    iommu-ctx@5000 { compatible = "qcom,msm-iommu-v1-sec"; reg = <0x5000 0x1000>; interrupts = <102>; };
  };
  mdp@1a01000 { compatible = "vendor,mdp"; reg = <0x01a01000 0x1000>; iommus = <&apps_iommu 4>; };
  venus@1d00000 { compatible = "vendor,venus"; reg = <0x01d00000 0x1000>; iommus = <&apps_iommu 5>; };
  bad@1c00000 { compatible = "vendor,bad"; reg = <0x01c00000 0x1000>; iommus = <&apps_iommu 7>; };
};
`;

const CB = 0x01e20000; // the children's window (ranges)
const cb = (n: number): number => CB + n * 0x1000;
// context bank registers (SMMU architecture, AArch32 long-descriptor view)
const SCTLR = 0x0;
const RESUME = 0x8;
const TTBR0 = 0x20;
const TCR = 0x30;
const MAIR0 = 0x38;
const FSR = 0x58;
const FAR = 0x60;
const FSYNR0 = 0x68;
const TLBIVA = 0x600;
const TLBIASID = 0x610;
const TLBSYNC = 0x7f0;
const TLBSTATUS = 0x7f4;
// SCTLR: M, TRE, AFE, CFRE, CFIE; TCR: EAE (long descriptors), T0SZ 0, EPD1
const SCTLR_ON = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 5) | (1 << 6);
const TCR_LPAE = (1 << 31) | (1 << 23);
const FSR_TF = 1 << 1;

const L1 = 0x8010_0000;
const L2 = 0x8010_1000;
const L3 = 0x8010_2000;
const DATA_A = 0x8020_0000;
const DATA_B = 0x8030_0000;
const IOVA = 0x1234_5000;

/** A stage-1 long-descriptor page entry: output address, AF, AP[1] (unprivileged access), nG, valid page. */
function pagePte(pa: number): [number, number] {
  return [((pa & 0xffff_f000) | (1 << 11) | (1 << 10) | (1 << 6) | 0b11) >>> 0, 0];
}

function buildTables(board: Board, dataPa: number): void {
  // 32-bit input, 4 KiB granule: the walk starts at level 1 (4 entries of 1 GiB)
  const i1 = Math.floor(IOVA / 2 ** 30);
  const i2 = Math.floor(IOVA / 2 ** 21) % 512;
  const i3 = Math.floor(IOVA / 4096) % 512;
  board.mem.write64parts(L1 + 8 * i1, (L2 | 0b11) >>> 0, 0);
  board.mem.write64parts(L2 + 8 * i2, (L3 | 0b11) >>> 0, 0);
  const [lo, hi] = pagePte(dataPa);
  board.mem.write64parts(L3 + 8 * i3, lo, hi);
}

function setup() {
  const board = Board.fromDtb(compileDts(DTS));
  const iommu = board.models.get('/iommu@1ef0000') as QcomIommu;
  const port = board.masterPort('/mdp@1a01000')!;
  board.mem.writeBytes(DATA_A, new Uint8Array([1, 2, 3, 4]));
  board.mem.writeBytes(DATA_B, new Uint8Array([5, 6, 7, 8]));
  return { board, iommu, port };
}

/** Programs context bank 4 as Linux's driver does for an ARM_32_LPAE_S1 domain with ASID 4. */
function programBank(board: Board, asid: number): void {
  const b = cb(4);
  board.bus.write32(b + SCTLR, 0);
  board.bus.write32(b + TTBR0, L1);
  board.bus.write32(b + TTBR0 + 4, asid << 16); // ASID in TTBR0[55:48]
  board.bus.write32(b + TCR, TCR_LPAE >>> 0);
  board.bus.write32(b + MAIR0, 0x0004ff44);
  board.bus.write32(b + SCTLR, SCTLR_ON);
}

describe('qcom,msm-iommu-v1 model', () => {
  it('builds one context bank per child, numbered reg / 0x1000, and maps only the local block and the bank pages', () => {
    const { board, iommu } = setup();
    expect(iommu).toBeInstanceOf(QcomIommu);
    expect(iommu.secureId).toBe(17);
    expect(iommu.contexts.map((c) => [c.bank, c.secure])).toEqual([
      [3, true],
      [4, false],
      [5, true],
    ]);
    // the local block: SMMU_INTR_SEL_NS (0x2000) holds what is written, the rest is RAZ/WI
    board.bus.write32(0x01ef0000 + 0x2000, 0xffffffff);
    expect(board.bus.read32(0x01ef0000 + 0x2000)).toBe(0xffffffff);
    board.bus.write32(0x01ef0000 + 0x10, 0x1234);
    expect(board.bus.read32(0x01ef0000 + 0x10)).toBe(0);
    // the SMMU's global space (below the context banks) is not on the normal world's bus
    expect(() => board.bus.read32(CB)).toThrow();
    // a context bank page: its registers read back
    board.bus.write32(cb(3) + MAIR0, 0xabcd);
    expect(board.bus.read32(cb(3) + MAIR0)).toBe(0xabcd);
    // the masters: routed to the bank their specifier names
    expect(board.masterPort('/mdp@1a01000')!.streamIds).toEqual([4]);
    expect(iommu.attachedMasters).toContain(board.masterPort('/mdp@1a01000'));
    expect(() => board.masterPort('/bad@1c00000')).toThrow(/no context bank 7/);
  });

  it('passes transactions untranslated until the firmware restores the secure configuration, then translates through the bank', () => {
    const { board, iommu, port } = setup();
    buildTables(board, DATA_A);
    programBank(board, 4);
    const got = new Uint8Array(4);
    // reset state: sCR0.CLIENTPD, every transaction bypasses (the IOVA is taken as the address)
    expect(iommu.secureConfigured).toBe(false);
    expect(port.read(DATA_B, got)).toBe(PORT_OK);
    expect([...got]).toEqual([5, 6, 7, 8]);
    iommu.secure().restoreSecureConfig();
    expect(iommu.secureConfigured).toBe(true);
    expect(port.read(IOVA, got)).toBe(PORT_OK);
    expect([...got]).toEqual([1, 2, 3, 4]);
    // the other banks' masters do not use bank 4's table
    const venus = board.masterPort('/venus@1d00000')!;
    const bypassed = iommu.stats.bypassed;
    expect(venus.read(DATA_B, got)).toBe(PORT_OK); // bank 5 is off (SCTLR.M = 0): stage 1 bypassed
    expect([...got]).toEqual([5, 6, 7, 8]);
    expect(iommu.stats.bypassed).toBe(bypassed + 1);
  });

  it('records a translation fault in FSR/FAR/FSYNR0 and raises the bank interrupt; writing FSR back clears it', () => {
    const { board, iommu, port } = setup();
    buildTables(board, DATA_A);
    programBank(board, 4);
    iommu.secure().restoreSecureConfig();
    let irqs = 0;
    board.irq.onIrq(102, () => irqs++);
    const bad = 0x4000_0000; // level-1 entry 1 is invalid
    expect(port.write(bad + 0x10, new Uint8Array([1]))).toBe(PORT_FAULT);
    const fsr = board.bus.read32(cb(4) + FSR);
    expect(fsr & FSR_TF).toBe(FSR_TF);
    expect(board.bus.read32(cb(4) + FAR)).toBe(bad + 0x10);
    expect(board.bus.read32(cb(4) + FAR + 4)).toBe(0);
    expect(board.bus.read32(cb(4) + FSYNR0) & (1 << 4)).toBe(1 << 4); // WNR: a write
    expect(irqs).toBe(1);
    // the other banks saw nothing
    expect(board.bus.read32(cb(3) + FSR)).toBe(0);
    expect((fsr >>> 9) & 3).toBe(1); // FSR.FORMAT: AArch32 long descriptor
    board.bus.write32(cb(4) + FSR, fsr);
    expect(board.bus.read32(cb(4) + FSR) & 0x1ff).toBe(0); // the fault bits are write-1-to-clear
    board.bus.write32(cb(4) + RESUME, 1); // terminate (nothing stalled: ignored)
    expect(port.read(IOVA, new Uint8Array(4))).toBe(PORT_OK);
  });

  it('keeps a stale translation until TLBIVA (VA[31:12] | ASID) or TLBIASID and a TLBSYNC', () => {
    const { board, iommu, port } = setup();
    buildTables(board, DATA_A);
    programBank(board, 4);
    iommu.secure().restoreSecureConfig();
    const got = new Uint8Array(4);
    expect(port.read(IOVA, got)).toBe(PORT_OK);
    expect([...got]).toEqual([1, 2, 3, 4]);
    buildTables(board, DATA_B); // the PTE now points elsewhere, nothing invalidated
    expect(port.read(IOVA, got)).toBe(PORT_OK);
    expect([...got]).toEqual([1, 2, 3, 4]); // stale
    // TLBIVA for another ASID leaves it
    board.bus.write32(cb(4) + TLBIVA, (IOVA | 3) >>> 0);
    board.bus.write32(cb(4) + TLBSYNC, 0);
    expect(board.bus.read32(cb(4) + TLBSTATUS) & 1).toBe(0);
    expect(port.read(IOVA, got)).toBe(PORT_OK);
    expect([...got]).toEqual([1, 2, 3, 4]);
    board.bus.write32(cb(4) + TLBIVA, (IOVA | 4) >>> 0);
    board.bus.write32(cb(4) + TLBSYNC, 0);
    expect(board.bus.read32(cb(4) + TLBSTATUS) & 1).toBe(0);
    expect(port.read(IOVA, got)).toBe(PORT_OK);
    expect([...got]).toEqual([5, 6, 7, 8]);
    // back to A, then TLBIASID 4
    buildTables(board, DATA_A);
    expect(port.read(IOVA, got)).toBe(PORT_OK);
    expect([...got]).toEqual([5, 6, 7, 8]);
    board.bus.write32(cb(4) + TLBIASID, 4);
    board.bus.write32(cb(4) + TLBSYNC, 0);
    expect(port.read(IOVA, got)).toBe(PORT_OK);
    expect([...got]).toEqual([1, 2, 3, 4]);
    expect(iommu.stats.tlbi.TLBIASID).toBe(1);
  });

  it('stuckSync (fault injection, off by default): a started TLB sync stays active on every bank until it is cleared', () => {
    const { board, iommu } = setup();
    programBank(board, 4);
    iommu.secure().restoreSecureConfig();
    expect(iommu.stuckSync).toBe(false);
    board.bus.write32(cb(4) + TLBSYNC, 0);
    expect(board.bus.read32(cb(4) + TLBSTATUS) & 1).toBe(0);
    iommu.stuckSync = true;
    for (const n of [3, 4, 5]) {
      board.bus.write32(cb(n) + TLBSYNC, 0);
      for (let i = 0; i < 1000; i++) expect(board.bus.read32(cb(n) + TLBSTATUS) & 1, `bank ${n}`).toBe(1);
    }
    // a reset leaves the knob as it was (it is not register state)
    iommu.reset();
    expect(iommu.stuckSync).toBe(true);
    iommu.secure().restoreSecureConfig();
    programBank(board, 4);
    board.bus.write32(cb(4) + TLBSYNC, 0);
    expect(board.bus.read32(cb(4) + TLBSTATUS) & 1).toBe(1);
    iommu.stuckSync = false;
    expect(board.bus.read32(cb(4) + TLBSTATUS) & 1).toBe(0);
    board.bus.write32(cb(5) + TLBSYNC, 0);
    expect(board.bus.read32(cb(5) + TLBSTATUS) & 1).toBe(0);
  });

  it('refuses trees it cannot model, naming the node', () => {
    const noCtx = DTS.replace(/iommu-ctx@3000[^\n]*\n/, '').replace(/iommu-ctx@4000[^\n]*\n/, '').replace(/iommu-ctx@5000[^\n]*\n/, '').replace(/iommus = <&apps_iommu \d>;/g, '');
    expect(() => Board.fromDtb(compileDts(noCtx))).toThrow(/no context bank children/);
    const dup = DTS.replace('iommu-ctx@5000 { compatible = "qcom,msm-iommu-v1-sec";', 'iommu-ctx@5000 { compatible = "qcom,msm-iommu-v1-sec"; qcom,ctx-asid = <4>;');
    expect(() => Board.fromDtb(compileDts(dup))).toThrow(/two context nodes name context bank 4/);
    const cells = DTS.replace('iommus = <&apps_iommu 4>;', 'iommus = <&apps_iommu 4 0>;').replace('#iommu-cells = <1>;', '#iommu-cells = <2>;').replace(/iommus = <&apps_iommu ([57])>;/g, 'iommus = <&apps_iommu $1 0>;');
    const b = Board.fromDtb(compileDts(cells));
    expect(b.models.get('/iommu@1ef0000')).toBeInstanceOf(QcomIommu);
    const noId = DTS.replace('qcom,iommu-secure-id = <17>;', '');
    const b2 = Board.fromDtb(compileDts(noId));
    expect(b2.notes.some((n) => /no qcom,iommu-secure-id/.test(n.message))).toBe(true);
  });
});
