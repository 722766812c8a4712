/**
 * SMMUv1/v2 model, checked against the architecture (IHI 0062) and the published MMU-500
 * register reference values: identification and reset values, stream matching, translation per
 * context format, the TLB and each maintenance register, fault recording, stalls, syncs.
 */
import { describe, expect, it, vi } from 'vitest';
import { DMA_STATUS_DONE, DMA_STATUS_FAULT, DMA_STATUS_STALLED, DmaMaster, SMMUV2_PRESET_ADRENO, SMMUV2_PRESET_V1 } from '../src/index.js';
import {
  CB,
  MMIO,
  CTX_IRQ0,
  FSR_AFF,
  FSR_MULTI,
  FSR_PF,
  FSR_SS,
  FSR_TF,
  G,
  GFSR_ICF,
  GFSR_MULTI,
  GFSR_SMCF,
  GFSR_UCBF,
  GFSR_USF,
  GLOBAL_IRQ,
  LpaeTables,
  MAIR0,
  RAM,
  S1_ATTR,
  S1_RO,
  S2_ATTR,
  SCR0_GFIE,
  SCR0_USFCFG,
  SCTLR_AFE,
  SCTLR_CFCFG,
  SCTLR_CFIE,
  SCTLR_CFRE,
  SCTLR_HUPCF,
  SCTLR_M,
  SCTLR_TRE,
  V2Rig,
  V7sTables,
  slot,
} from './smmu-v2-helpers.js';

const SID = 0x10;
const DATA = RAM + 0x400_0000;
const FMT_AARCH64 = 2 << 9;
const FMT_LONG32 = 1 << 9;
const FMT_SHORT = 0;
const S1_ON = SCTLR_M | SCTLR_TRE | SCTLR_AFE | SCTLR_CFRE | SCTLR_CFIE;

function xlate(rig: V2Rig, sid: number, iova: number, write = false): number {
  const o = slot();
  if (!rig.smmu.translate(sid, iova, write, o)) return -1;
  return o.sink ? -2 : o.pa;
}

/** Bank 0: AArch64 stage 1, 48-bit, 4K, ASID 5, StreamID SID; returns its tables. */
function s1Rig(extra: Partial<Parameters<V2Rig['s1Aarch64']>[1]> = {}): { rig: V2Rig; t: LpaeTables } {
  const rig = new V2Rig();
  const t = new LpaeTables(rig, 12, 0);
  rig.enable();
  rig.stream(0, SID, 0, 0);
  rig.s1Aarch64(0, { ttbr0: t.root, asid: 5, ...extra });
  return { rig, t };
}

describe('SMMUv2 identification and reset', () => {
  it('MMU-500 reports the ID values of a published MMU-500 r2p1 integration', () => {
    // The Stratix 10 MMU-500 (64 SMRs, 32 context banks, 32 global pages) reads ID0 0xfc013e40,
    // ID1 0x40001f20, ID2 0x00005555, ID7 0x21. The model has no security extensions, so ID0.SES
    // and the ID1 security-state-determination fields (bits 12:8) read 0.
    const rig = new V2Rig({ numSmr: 64, numCb: 32 }, { numPage: 32 });
    expect(rig.gr0(G.IDR0) >>> 0).toBe((0xfc013e40 & ~(1 << 31)) >>> 0);
    expect(rig.gr0(G.IDR1) >>> 0).toBe((0x40001f20 & ~0x1f00) >>> 0);
    expect(rig.gr0(G.IDR2)).toBe(0x00005555);
    expect(rig.gr0(G.IDR7)).toBe(0x21);
    rig.setGr0(G.IDR0, 0); // read-only
    expect(rig.gr0(G.IDR0)).toBe(0x7c013e40);
  });

  it('has the MMU-500 reset values (sCR0, sACR, S2CR, CBAR, SCTLR, ACTLR)', () => {
    const rig = new V2Rig({ numSmr: 64, numCb: 32 }, { numPage: 32 });
    expect(rig.gr0(G.SCR0)).toBe(0x00200001); // CLIENTPD, SMCFCFG
    expect(rig.gr0(G.SACR)).toBe(0x0400001c); // CACHE_LOCK, IPA2PA_CEN, S2WC2EN, S1WC2EN
    for (const n of [0, 63]) expect(rig.gr0(G.S2CR + 4 * n)).toBe(0x00020000); // TYPE = fault
    for (const n of [0, 31]) expect(rig.gr1(4 * n)).toBe(0x00020000); // TYPE = S1 + S2 fault
    expect(rig.cb(0, CB.SCTLR)).toBe(0x100); // HUPCF
    expect(rig.cb(31, CB.ACTLR)).toBe(0x3); // CPRE | CMTLB
    expect(rig.gr0(G.SMR)).toBe(0);
  });

  it('keeps read-only sCR0 fields and masks SMR fields to the implemented StreamID bits', () => {
    const rig = new V2Rig();
    rig.setGr0(G.SCR0, 0xffffffff);
    const v = rig.gr0(G.SCR0) >>> 0;
    expect(v & (1 << 21)).toBe(1 << 21); // SMCFCFG RO 1
    expect(v & ((1 << 4) | (1 << 5) | (1 << 8) | (1 << 9) | (1 << 3))).toBe(0); // GCFGFRE/IE (RO on MMU-500), STALLD, GSE, EXIDENABLE
    expect(v >>> 31).toBe(0); // no VMID16 on MMU-500
    rig.setGr0(G.SCR0, 0);
    expect(rig.gr0(G.SCR0)).toBe(1 << 21);
    // Linux probes the writable SMR bits: 15-bit IDs and masks, VALID.
    rig.setGr0(G.SMR + 8, 0xffffffff);
    expect(rig.gr0(G.SMR + 8) >>> 0).toBe(0xffff7fff);
  });

  it('decodes geometry per preset: pages, context banks, formats, stages', () => {
    const v1 = new V2Rig({ ...SMMUV2_PRESET_V1 });
    const id0 = v1.gr0(G.IDR0) >>> 0;
    expect(id0 & (1 << 24)).toBe(0); // AArch32 short supported
    expect(id0 & (1 << 25)).toBe(0); // AArch32 (long) supported
    expect((id0 >>> 16) & 0xff).toBe(8); // NUMIRPT for IRPTNDX
    expect(v1.gr0(G.IDR2) >>> 12).toBe(0); // no AArch64 granules, no UBS
    v1.setGr1(0x800, 1); // no CBA2R on SMMUv1
    expect(v1.gr1(0x800)).toBe(0);
    const ad = new V2Rig({ ...SMMUV2_PRESET_ADRENO });
    const a0 = ad.gr0(G.IDR0) >>> 0;
    expect([(a0 >>> 30) & 1, (a0 >>> 29) & 1, (a0 >>> 28) & 1]).toEqual([1, 0, 0]); // S1 only
    const big = new V2Rig({ numCb: 64, pageSize: 65536 });
    const id1 = big.gr0(G.IDR1) >>> 0;
    expect([id1 >>> 31, (id1 >>> 28) & 7, id1 & 0xff]).toEqual([1, 5, 64]); // 64K pages, NUMPAGE 64, 64 CBs
    expect(big.smmu.mmioSize).toBe(2 * 64 * 65536);
    expect(big.smmu.contextBankOffset(3)).toBe((64 + 3) * 65536);
  });

  it('locks ACTLR while sACR.CACHE_LOCK is set (MMU-500)', () => {
    const rig = new V2Rig();
    rig.setCb(0, CB.ACTLR, 0);
    expect(rig.cb(0, CB.ACTLR)).toBe(3);
    rig.setGr0(G.SACR, rig.gr0(G.SACR) & ~(1 << 26));
    rig.setCb(0, CB.ACTLR, 0);
    expect(rig.cb(0, CB.ACTLR)).toBe(0);
  });
});

describe('SMMUv2 stream mapping', () => {
  it('bypasses everything while sCR0.CLIENTPD is set (reset)', () => {
    const rig = new V2Rig();
    expect(xlate(rig, 0x1234, DATA + 0x40)).toBe(DATA + 0x40);
  });

  it('matches SMRs with masks: ID bits under MASK are ignored', () => {
    const { rig, t } = s1Rig();
    t.map(0x1000, DATA, S1_ATTR);
    rig.stream(1, 0x40, 0x0f, 0); // 0x40..0x4f
    expect(xlate(rig, 0x43, 0x1008)).toBe(DATA + 8);
    expect(xlate(rig, 0x4f, 0x1008)).toBe(DATA + 8);
    expect(xlate(rig, SID, 0x1008)).toBe(DATA + 8);
    expect(xlate(rig, 0x50, 0x1008)).toBe(-1); // unmatched: USFCFG faults
    expect(rig.gr0(G.SGFSR)).toBe(GFSR_USF);
    expect(rig.gr0(G.SGFSYNR1)).toBe(0x50);
    expect(Number(rig.bus.read64(0x1500_0000 + G.SGFAR))).toBe(0x1008);
  });

  it('reports a stream match conflict as sGFSR.SMCF and never picks one of the SMRs', () => {
    const { rig, t } = s1Rig();
    t.map(0x1000, DATA, S1_ATTR);
    rig.stream(1, 0x10, 0xf, 0, 1); // overlaps SMR0 for SID 0x10; S2CR1 would bypass
    const line = rig.irq.line(GLOBAL_IRQ);
    let seen = 0;
    rig.irq.onIrq(GLOBAL_IRQ, () => seen++);
    expect(xlate(rig, SID, 0x1000)).toBe(-1);
    expect(rig.gr0(G.SGFSR)).toBe(GFSR_SMCF);
    expect(rig.gr0(G.SGFSYNR1)).toBe(SID);
    expect(line.level).toBe(true);
    expect(seen).toBe(1);
    expect(xlate(rig, 0x11, 0x1000)).toBe(0x1000); // only SMR1 matches: bypass
    rig.setGr0(G.SGFSR, GFSR_SMCF); // write 1 to clear
    expect(rig.gr0(G.SGFSR)).toBe(0);
    expect(line.level).toBe(false);
    rig.setGr0(G.SMR + 4, 0); // invalidate SMR1: the conflict is gone
    expect(xlate(rig, SID, 0x1000)).toBe(DATA);
  });

  it('unmatched streams bypass when USFCFG = 0; a second global fault sets MULTI', () => {
    const rig = new V2Rig();
    rig.enable(false);
    expect(xlate(rig, 0x77, 0x5000)).toBe(0x5000);
    rig.enable(true);
    expect(xlate(rig, 0x77, 0x5000)).toBe(-1);
    expect(xlate(rig, 0x78, 0x6000)).toBe(-1);
    expect(rig.gr0(G.SGFSR) >>> 0).toBe((GFSR_USF | GFSR_MULTI) >>> 0);
    expect(rig.gr0(G.SGFSYNR1)).toBe(0x77); // the first fault's syndrome is kept
    rig.setGr0(G.SCR0, SCR0_USFCFG | SCR0_GFIE); // GFRE = 0: terminated without an abort
    rig.setGr0(G.SGFSR, 0xffffffff);
    expect(xlate(rig, 0x79, 0x6000)).toBe(-2);
    expect(rig.gr0(G.SGFSR)).toBe(GFSR_USF);
  });

  it('S2CR types: bypass passes through, fault aborts, an unimplemented bank is UCBF, a bad nested bank ICF', () => {
    const rig = new V2Rig();
    rig.enable();
    rig.stream(0, 0x1, 0, 0, 1);
    rig.stream(1, 0x2, 0, 0, 2);
    rig.stream(2, 0x3, 0, 200, 0);
    expect(xlate(rig, 0x1, 0x9000)).toBe(0x9000);
    expect(xlate(rig, 0x2, 0x9000)).toBe(-1);
    expect(rig.gr0(G.SGFSR)).toBe(0);
    expect(xlate(rig, 0x3, 0x9000)).toBe(-1);
    expect(rig.gr0(G.SGFSR)).toBe(GFSR_UCBF);
    rig.setGr0(G.SGFSR, 0xffffffff);
    rig.bank(1, 3, 4, true); // nested over bank 4, which is not a stage-2 bank
    rig.setCb(1, CB.SCTLR, S1_ON);
    rig.stream(3, 0x4, 0, 1, 0);
    expect(xlate(rig, 0x4, 0x9000)).toBe(-1);
    expect(rig.gr0(G.SGFSR)).toBe(GFSR_ICF);
  });

  it('indexes S2CRs by StreamID when ID0.SMS = 0', () => {
    const rig = new V2Rig({ sms: false, streamIdBits: 6 });
    expect(rig.gr0(G.IDR0) & ((1 << 27) | 0xff)).toBe(0);
    rig.enable();
    rig.setGr0(G.S2CR + 4 * 5, 1 << 16); // SID 5: bypass
    expect(xlate(rig, 5, 0x3000)).toBe(0x3000);
    expect(xlate(rig, 6, 0x3000)).toBe(-1); // S2CR reset = fault
    expect(xlate(rig, 64, 0x3000)).toBe(-1); // beyond the StreamID bits: unidentified
    expect(rig.gr0(G.SGFSR)).toBe(GFSR_USF);
  });
});

describe('SMMUv2 translation per context format', () => {
  it('AArch64 stage 1, 4K granule, 48-bit input, 4 levels', () => {
    const { rig, t } = s1Rig();
    const va = 0x12_3456_7000;
    t.map(va, DATA + 0x3000, S1_ATTR);
    expect(xlate(rig, SID, va + 0x123, true)).toBe(DATA + 0x3123);
    expect(rig.smmu.stats.walks).toBe(1);
    expect(xlate(rig, SID, va + 0x456)).toBe(DATA + 0x3456);
    expect(rig.smmu.stats.tlbHits).toBe(1);
  });

  it('AArch64 stage 1, 64K granule (start level 1, 64-entry root) and a 512 MiB block', () => {
    const rig = new V2Rig();
    const t = new LpaeTables(rig, 16, 1);
    rig.enable();
    rig.stream(0, SID, 0, 0);
    rig.s1Aarch64(0, { ttbr0: t.root, asid: 1, tg0: 1 });
    t.map(0x5_0001_0000, DATA + 0x10000, S1_ATTR, 0, 3, 6);
    t.map(0x2000_0000, 0x2000_0000 + RAM, S1_ATTR, 0, 2, 6); // 512 MiB block at level 2
    expect(xlate(rig, SID, 0x5_0001_0abc)).toBe(DATA + 0x10abc);
    expect(xlate(rig, SID, 0x2abc_0000)).toBe(RAM + 0x2abc_0000);
  });

  it('refuses a granule the implementation lacks (16K on MMU-500) with a translation fault', () => {
    const rig = new V2Rig();
    const t = new LpaeTables(rig, 14, 1);
    rig.enable();
    rig.stream(0, SID, 0, 0);
    rig.s1Aarch64(0, { ttbr0: t.root, asid: 1, tg0: 2 });
    t.map(0x4000, DATA, S1_ATTR, 0, 3, 11);
    expect(xlate(rig, SID, 0x4000)).toBe(-1);
    expect(rig.cb(0, CB.FSR)).toBe(FSR_TF | FMT_AARCH64);
    const gen = new V2Rig({ aarch64_16k: true });
    const t2 = new LpaeTables(gen, 14, 1);
    gen.enable();
    gen.stream(0, SID, 0, 0);
    gen.s1Aarch64(0, { ttbr0: t2.root, asid: 1, tg0: 2, bits: 47 }); // 47-bit: start level 1
    t2.map(0x4000, DATA, S1_ATTR, 0, 3, 11);
    expect(xlate(gen, SID, 0x4008)).toBe(DATA + 8);
  });

  it('AArch32 long-descriptor stage 1 (TCR.EAE, 32-bit VA, 4 level-1 entries)', () => {
    const rig = new V2Rig();
    const t = new LpaeTables(rig, 12, 1, 32);
    rig.enable();
    rig.stream(0, SID, 0, 0);
    rig.bank(0, 1, 0, false);
    rig.setCb(0, CB.TCR, ((1 << 31) | (1 << 23) | (3 << 12) | (1 << 10) | (1 << 8)) >>> 0); // EAE, EPD1, T0SZ 0
    rig.setCb64(0, CB.TTBR0, BigInt(t.root) | (7n << 48n));
    rig.setCb(0, CB.MAIR0, MAIR0);
    rig.setCb(0, CB.SCTLR, S1_ON);
    t.map(0xc012_3000, DATA + 0x5000, S1_ATTR, 0, 3, 2);
    expect(xlate(rig, SID, 0xc012_3010)).toBe(DATA + 0x5010);
    expect(xlate(rig, SID, 0x1_0000_0000)).toBe(-1); // beyond the 32-bit VA
    expect(rig.cb(0, CB.FSR)).toBe(FSR_TF | FMT_LONG32);
  });

  it('AArch32 short descriptor (v7s) stage 1: small page and section, ASID from CONTEXTIDR', () => {
    const rig = new V2Rig();
    const t = new V7sTables(rig);
    rig.enable();
    rig.stream(0, SID, 0, 0);
    rig.bank(0, 1, 0, false);
    rig.setCb(0, CB.TCR, 0); // TTBCR: N = 0, EAE = 0
    rig.setCb(0, CB.TTBR0, t.root);
    rig.setCb(0, CB.CONTEXTIDR, 9);
    rig.setCb(0, CB.MAIR0, 0xff0a81a8); // PRRR
    rig.setCb(0, CB.MAIR1, 0x40e040e0); // NMRR
    rig.setCb(0, CB.SCTLR, S1_ON);
    t.mapSmall(0x1234_5000, DATA + 0x7000);
    t.mapSection(0x4010_0000, RAM + 0x0010_0000);
    t.mapSmall(0x1234_6000, DATA + 0x8000, { ro: true });
    expect(xlate(rig, SID, 0x1234_5678)).toBe(DATA + 0x7678);
    expect(xlate(rig, SID, 0x401f_fff0)).toBe(RAM + 0x001f_fff0);
    expect(xlate(rig, SID, 0x1234_6000, true)).toBe(-1);
    expect(rig.cb(0, CB.FSR)).toBe(FSR_PF | FMT_SHORT);
    expect(rig.cb(0, CB.FSYNR0) & 0x13).toBe(0x12); // WNR, level 2
  });

  it('AArch64 stage 2 (VTCR: SL0 = 1, 39-bit IPA) and AArch32 stage 2 (signed T0SZ)', () => {
    const rig = new V2Rig();
    const t = new LpaeTables(rig, 12, 1);
    rig.enable();
    rig.stream(0, 0x20, 0, 1);
    rig.s2Aarch64(1, { vttbr: t.root, vmid: 3 });
    t.map(0x40_1000, DATA + 0x1000, S2_ATTR);
    expect(xlate(rig, 0x20, 0x40_1044, true)).toBe(DATA + 0x1044);
    // AArch32 stage 2 in bank 2: T0SZ = 0 (32-bit IPA), SL0 = 1 (level 1, 4 entries).
    const t2 = new LpaeTables(rig, 12, 1, 32);
    rig.stream(1, 0x21, 0, 2);
    rig.bank(2, 0, 4, false);
    rig.setCb(2, CB.TCR, ((1 << 31) | (1 << 6)) >>> 0);
    rig.setCb64(2, CB.TTBR0, BigInt(t2.root));
    rig.setCb(2, CB.SCTLR, SCTLR_M | SCTLR_CFRE);
    t2.map(0x8000_2000, DATA + 0x2000, S2_ATTR, 0, 3, 2);
    expect(xlate(rig, 0x21, 0x8000_2004)).toBe(DATA + 0x2004);
    expect(xlate(rig, 0x21, 0x8000_3004)).toBe(-1);
    expect(rig.cb(2, CB.FSR)).toBe(FSR_TF | FMT_LONG32);
    expect(Number(rig.cb64(2, CB.FAR))).toBe(0x8000_3004);
  });

  it('nested: stage-1 table fetches and the output go through stage 2', () => {
    const rig = new V2Rig();
    const DELTA = 0x1000_0000; // stage-1 tables sit at IPA = PA - DELTA, outside RAM
    const s1 = new LpaeTables(rig, 12, 0, 4096, DELTA);
    const s2 = new LpaeTables(rig, 12, 1);
    rig.enable();
    rig.stream(0, SID, 0, 2);
    rig.s2Aarch64(1, { vttbr: s2.root, vmid: 7 });
    rig.bank(2, 3, 1, true); // stage 1 of bank 2 nested over bank 1
    rig.setCb(2, CB.TCR2, 5 | (1 << 4) | (7 << 15));
    rig.setCb(2, CB.TCR, (16 | (1 << 8) | (1 << 10) | (3 << 12) | (1 << 23)) >>> 0);
    rig.setCb64(2, CB.TTBR0, BigInt(s1.base) | (3n << 48n));
    rig.setCb(2, CB.MAIR0, MAIR0);
    rig.setCb(2, CB.SCTLR, S1_ON);
    const va = 0x7f_0000_3000;
    const ipa = 0x40_0000;
    s1.map(va, ipa, S1_ATTR);
    s2.map(ipa, DATA + 0x9000, S2_ATTR);
    for (const f of [s1.root, ...s1.frames]) s2.map(f - DELTA, f, S2_ATTR);
    expect(xlate(rig, SID, va + 0x10)).toBe(DATA + 0x9010);
    // Without stage 2 mapping a stage-1 table, the walk faults at stage 2 (recorded in bank 1).
    const va2 = 0x7f_4000_0000; // needs a new level-2 table below the root's existing level-1
    const before = s1.frames.length;
    s1.map(va2, ipa, S1_ATTR);
    const fresh = s1.frames[before]!; // the new level-2 table: the first fetch stage 2 cannot translate
    expect(xlate(rig, SID, va2)).toBe(-1);
    const fsynr0 = rig.cb(1, CB.FSYNR0);
    expect(rig.cb(1, CB.FSR)).toBe(FSR_TF | FMT_AARCH64);
    expect(fsynr0 & (1 << 10)).toBe(1 << 10); // PTWF: on a table walk
    expect((fsynr0 >>> 16) & 0xff).toBe(2); // S1CBNDX
    expect(Number(rig.cb64(1, CB.FAR))).toBe(va2);
    expect(Math.floor(Number(rig.cb64(1, CB.IPAFAR)) / 4096)).toBe((fresh - DELTA) / 4096);
    expect(rig.cb(2, CB.FSR)).toBe(0);
    // The combined entry is tagged with the stage-2 VMID: stale until TLBIVMID of VMID 7.
    rig.setCb(1, CB.FSR, 0xffffffff); // clear the stage-2 fault (HUPCF = 0 would hold the context)
    s1.remap(va, ipa + 0x1000, S1_ATTR);
    s2.map(ipa + 0x1000, DATA + 0xa000, S2_ATTR);
    expect(xlate(rig, SID, va)).toBe(DATA + 0x9000);
    rig.setGr0(G.TLBIVMID, 0); // the stage-1 bank's own CBAR VMID field: not the nested tag
    expect(xlate(rig, SID, va)).toBe(DATA + 0x9000);
    rig.setGr0(G.TLBIVMID, 7);
    expect(xlate(rig, SID, va)).toBe(DATA + 0xa000);
  });

  it('splits AArch64 input between TTBR0 and TTBR1 with TCR2.SEP (upstream bit 48)', () => {
    const rig = new V2Rig();
    const t0 = new LpaeTables(rig, 12, 0);
    const t1 = new LpaeTables(rig, 12, 0);
    rig.enable();
    rig.stream(0, SID, 0, 0);
    rig.s1Aarch64(0, { ttbr0: t0.root, ttbr1: t1.root, asid: 2, t1sz: 16, tg1: 2, sep: 7 });
    const low = 0xffff_f000_0000; // same low 48 bits in both halves
    t0.map(low, DATA, S1_ATTR);
    t1.map(low, DATA + 0x10_0000, S1_ATTR);
    expect(xlate(rig, SID, low + 4)).toBe(DATA + 4);
    expect(xlate(rig, SID, 2 ** 48 + low + 4)).toBe(DATA + 0x10_0004); // 0xffff_ffff_f000_0004
    // SEP = 47: the sign comes from bit 47, so 0x8000_0000_0000 and up is the TTBR1 half.
    rig.setCb(0, CB.TCR2, 5 | (1 << 4) | (5 << 15));
    t1.map(0x8000_0000_0000 % 2 ** 48, DATA + 0x20_0000, S1_ATTR);
    expect(xlate(rig, SID, 0x8000_0000_0040)).toBe(DATA + 0x20_0040);
    // AArch32 long descriptor: TTBR1 covers the top 2^(32 - T1SZ) bytes.
    const a0 = new LpaeTables(rig, 12, 1, 32);
    const a1 = new LpaeTables(rig, 12, 2);
    rig.stream(1, 0x30, 0, 3);
    rig.bank(3, 1, 0, false);
    rig.setCb(3, CB.TCR, ((1 << 31) | (2 << 16) | 0) >>> 0); // T1SZ = 2: TTBR1 for 0xc000_0000+
    rig.setCb64(3, CB.TTBR0, BigInt(a0.root));
    rig.setCb64(3, CB.TTBR1, BigInt(a1.root));
    rig.setCb(3, CB.MAIR0, MAIR0);
    rig.setCb(3, CB.SCTLR, S1_ON);
    a0.map(0x1000_0000, DATA + 0x1000, S1_ATTR, 0, 3, 2);
    a1.map(0xc000_0000 % 2 ** 30, DATA + 0x2000, S1_ATTR);
    expect(xlate(rig, 0x30, 0x1000_0010)).toBe(DATA + 0x1010);
    expect(xlate(rig, 0x30, 0xc000_0010)).toBe(DATA + 0x2010);
  });
});

describe('SMMUv2 TLB maintenance: stale until the right invalidation', () => {
  const VA = 0x40_0000_5000;

  /** Fills the TLB, changes the leaf, and checks the old translation survives `wrong` and goes with `right`. */
  function check(rig: V2Rig, sid: number, iova: number, remap: () => void, oldPa: number, newPa: number, wrong: (() => void)[], right: () => void): void {
    expect(xlate(rig, sid, iova)).toBe(oldPa);
    remap();
    expect(xlate(rig, sid, iova)).toBe(oldPa); // stale
    for (const w of wrong) {
      w();
      expect(xlate(rig, sid, iova)).toBe(oldPa);
    }
    right();
    expect(xlate(rig, sid, iova)).toBe(newPa);
  }

  function s1(): { rig: V2Rig; t: LpaeTables; remap: () => void } {
    const { rig, t } = s1Rig({ vmid: 0 });
    t.map(VA, DATA, S1_ATTR);
    rig.bank(3, 1, 9, true); // another context with VMID 9 for "wrong" context-wide operations
    return { rig, t, remap: () => t.remap(VA, DATA + 0x1000, S1_ATTR) };
  }

  const vaOp = (va: number, asid: number): bigint => (BigInt(va) >> 12n) | (BigInt(asid) << 48n);

  for (const [name, off] of [['TLBIVA', CB.TLBIVA], ['TLBIVAL', CB.TLBIVAL]] as const) {
    it(`${name} removes (VA, ASID) only`, () => {
      const { rig, remap } = s1();
      check(rig, SID, VA, remap, DATA, DATA + 0x1000, [() => rig.setCb64(0, off, vaOp(VA, 6)), () => rig.setCb64(0, off, vaOp(VA + 0x1000, 5))], () =>
        rig.setCb64(0, off, vaOp(VA, 5)),
      );
      expect(rig.smmu.stats.tlbi[name]).toBe(3);
    });
  }

  for (const [name, off] of [['TLBIVAA', CB.TLBIVAA], ['TLBIVAAL', CB.TLBIVAAL]] as const) {
    it(`${name} removes the VA for every ASID`, () => {
      const { rig, remap } = s1();
      check(rig, SID, VA, remap, DATA, DATA + 0x1000, [() => rig.setCb64(0, off, vaOp(VA + 0x2000, 0))], () => rig.setCb64(0, off, vaOp(VA, 0x77)));
    });
  }

  it('TLBIVA written as two 32-bit halves (AArch64 context) acts on the high-half write', () => {
    const { rig, remap } = s1();
    const op = vaOp(VA, 5);
    check(rig, SID, VA, remap, DATA, DATA + 0x1000, [() => rig.setCb(0, CB.TLBIVA, Number(op & 0xffffffffn))], () =>
      rig.setCb(0, CB.TLBIVA + 4, Number(op >> 32n)),
    );
  });

  it('a 64-bit TLBIVA given as halves (write64parts) is one access: it acts at once, without a BigInt', () => {
    const { rig, remap } = s1();
    const wide = vi.spyOn(rig.smmu, 'write64');
    const at = (n: number, off: number): number => MMIO + rig.smmu.contextBankOffset(n) + off;
    // operand: VA[55:12] in [43:0], ASID in [63:48]
    const parts = (va: number, asid: number): [number, number] => [(va / 0x1000) % 2 ** 32 >>> 0, ((asid << 16) | Math.floor(va / 0x1000 / 2 ** 32)) >>> 0];
    check(rig, SID, VA, remap, DATA, DATA + 0x1000, [() => rig.bus.write64parts(at(0, CB.TLBIVA), ...parts(VA, 6))], () =>
      rig.bus.write64parts(at(0, CB.TLBIVA), ...parts(VA, 5)),
    );
    expect(rig.smmu.stats.tlbi['TLBIVA']).toBe(2);
    expect(wide).not.toHaveBeenCalled();
  });

  it('write64parts and read64parts reach both halves of a context bank\'s 64-bit registers', () => {
    const rig = new V2Rig();
    const at = MMIO + rig.smmu.contextBankOffset(2) + CB.TTBR0;
    // ASID 0x1234 in TTBR0[63:48], a base address above 4 GiB
    rig.bus.write64parts(at, 0x8765_4000, 0x1234_0001);
    expect([rig.cb(2, CB.TTBR0) >>> 0, rig.cb(2, CB.TTBR0 + 4) >>> 0]).toEqual([0x8765_4000, 0x1234_0001]);
    const out = { lo: 0, hi: 0 };
    rig.bus.read64parts(at, out);
    expect(out).toEqual({ lo: 0x8765_4000, hi: 0x1234_0001 });
    expect(rig.cb64(2, CB.TTBR0)).toBe(0x1234_0001_8765_4000n);
    // the BigInt write lands the same
    rig.setCb64(2, CB.TTBR1, 0xabcd_0002_0000_1000n);
    rig.bus.read64parts(MMIO + rig.smmu.contextBankOffset(2) + CB.TTBR1, out);
    expect(out).toEqual({ lo: 0x0000_1000, hi: 0xabcd_0002 });
  });

  it('TLBIASID removes the ASID only, and not global entries', () => {
    const { rig, t, remap } = s1();
    check(rig, SID, VA, remap, DATA, DATA + 0x1000, [() => rig.setCb(0, CB.TLBIASID, 6)], () => rig.setCb(0, CB.TLBIASID, 5));
    const g = VA + 0x10_0000;
    t.map(g, DATA + 0x5000, S1_ATTR & ~0x800); // nG = 0: global
    expect(xlate(rig, SID, g)).toBe(DATA + 0x5000);
    t.remap(g, DATA + 0x6000, S1_ATTR & ~0x800);
    rig.setCb(0, CB.TLBIASID, 5);
    expect(xlate(rig, SID, g)).toBe(DATA + 0x5000); // global entries survive TLBIASID
    rig.setCb64(0, CB.TLBIVA, vaOp(g, 0x33)); // TLBIVA removes a global entry whatever the ASID
    expect(xlate(rig, SID, g)).toBe(DATA + 0x6000);
  });

  it('TLBIALL (context) removes the stage-1 entries of its VMID', () => {
    const { rig, remap } = s1();
    check(rig, SID, VA, remap, DATA, DATA + 0x1000, [() => rig.setCb(3, CB.TLBIALL, 0)], () => rig.setCb(0, CB.TLBIALL, 0));
  });

  it('TLBIVMID and TLBIALLNSNH (global space)', () => {
    const a = s1();
    check(a.rig, SID, VA, a.remap, DATA, DATA + 0x1000, [() => a.rig.setGr0(G.TLBIVMID, 9), () => a.rig.setGr0(G.TLBIALLH, 0)], () => a.rig.setGr0(G.TLBIVMID, 0));
    const b = s1();
    check(b.rig, SID, VA, b.remap, DATA, DATA + 0x1000, [], () => b.rig.setGr0(G.TLBIALLNSNH, 0));
  });

  it('an ASID change without invalidation misses the old entries (tags, not a flush)', () => {
    const { rig, t, remap } = s1();
    expect(xlate(rig, SID, VA)).toBe(DATA);
    remap();
    rig.setCb64(0, CB.TTBR0, BigInt(t.root) | (6n << 48n)); // new ASID
    expect(xlate(rig, SID, VA)).toBe(DATA + 0x1000);
    rig.setCb64(0, CB.TTBR0, BigInt(t.root) | (5n << 48n)); // back: the ASID 5 entry is still there
    expect(xlate(rig, SID, VA)).toBe(DATA);
  });

  for (const [name, off] of [['TLBIIPAS2', CB.TLBIIPAS2], ['TLBIIPAS2L', CB.TLBIIPAS2L]] as const) {
    it(`${name} removes a stage-2 IPA; stage-1 operations leave stage 2 alone`, () => {
      const rig = new V2Rig();
      const t = new LpaeTables(rig, 12, 1);
      rig.enable();
      rig.stream(0, 0x20, 0, 1);
      rig.s2Aarch64(1, { vttbr: t.root, vmid: 3 });
      const ipa = 0x12_3000;
      t.map(ipa, DATA, S2_ATTR);
      const op = (x: number): bigint => BigInt(x) >> 12n;
      check(
        rig,
        0x20,
        ipa,
        () => t.remap(ipa, DATA + 0x1000, S2_ATTR),
        DATA,
        DATA + 0x1000,
        [() => rig.setCb64(1, off, op(ipa + 0x1000)), () => rig.setCb64(1, CB.TLBIVAA, op(ipa)), () => rig.setCb(1, CB.TLBIALL, 0)],
        () => rig.setCb64(1, off, op(ipa)),
      );
    });
  }

  it('AArch32 contexts take 32-bit TLBIVA operands (VA[31:12] | ASID)', () => {
    const rig = new V2Rig();
    const t = new V7sTables(rig);
    rig.enable();
    rig.stream(0, SID, 0, 0);
    rig.bank(0, 1, 0, false);
    rig.setCb(0, CB.TTBR0, t.root);
    rig.setCb(0, CB.CONTEXTIDR, 4);
    rig.setCb(0, CB.SCTLR, S1_ON);
    t.mapSmall(0x1000_0000, DATA);
    check(rig, SID, 0x1000_0000, () => t.mapSmall(0x1000_0000, DATA + 0x1000), DATA, DATA + 0x1000, [() => rig.setCb(0, CB.TLBIVA, 0x1000_0000 | 3)], () =>
      rig.setCb(0, CB.TLBIVA, 0x1000_0000 | 4),
    );
  });
});

describe('SMMUv2 context faults', () => {
  it('records FSR/FAR/FSYNR0/CBFRSYNRA, raises the bank interrupt, clears by write-1-to-clear', () => {
    const { rig, t } = s1Rig();
    t.map(0x7000, DATA, S1_ATTR); // level-3 table exists, 0x8000 has no leaf
    const line = rig.irq.line(CTX_IRQ0);
    let irqs = 0;
    rig.irq.onIrq(CTX_IRQ0, () => irqs++);
    expect(xlate(rig, SID, 0x8010, true)).toBe(-1);
    expect(rig.cb(0, CB.FSR)).toBe(FSR_TF | FMT_AARCH64);
    expect(Number(rig.cb64(0, CB.FAR))).toBe(0x8010);
    expect(rig.cb(0, CB.FSYNR0)).toBe((1 << 4) | 3); // WNR, level 3
    expect(rig.gr1(0x400)).toBe(SID); // CBFRSYNRA0
    expect(line.level).toBe(true);
    expect(irqs).toBe(1);
    rig.setCb(0, CB.FSR, FSR_TF);
    expect(rig.cb(0, CB.FSR)).toBe(FMT_AARCH64); // FORMAT is not a fault bit
    expect(line.level).toBe(false);
    // Without CFIE the fault is recorded but no interrupt.
    rig.setCb(0, CB.SCTLR, S1_ON & ~SCTLR_CFIE);
    expect(xlate(rig, SID, 0x8000)).toBe(-1);
    expect(rig.cb(0, CB.FSR) & FSR_TF).toBe(FSR_TF);
    expect(line.level).toBe(false);
    rig.setCb(0, CB.SCTLR, S1_ON); // enabling CFIE with a fault outstanding raises the line
    expect(line.level).toBe(true);
  });

  it('permission and access-flag faults; CFRE = 0 terminates without an abort', () => {
    const { rig, t } = s1Rig({ sctlr: S1_ON | SCTLR_HUPCF });
    t.map(0x1000, DATA, S1_ATTR | S1_RO);
    t.map(0x2000, DATA, S1_ATTR & ~0x400);
    expect(xlate(rig, SID, 0x1000)).toBe(DATA);
    expect(xlate(rig, SID, 0x1000, true)).toBe(-1);
    expect(rig.cb(0, CB.FSR)).toBe(FSR_PF | FMT_AARCH64);
    rig.setCb(0, CB.FSR, 0xffffffff);
    expect(xlate(rig, SID, 0x2000)).toBe(-1);
    expect(rig.cb(0, CB.FSR)).toBe(FSR_AFF | FMT_AARCH64);
    rig.setCb(0, CB.FSR, 0xffffffff);
    rig.setCb(0, CB.SCTLR, (S1_ON | SCTLR_HUPCF) & ~SCTLR_CFRE);
    expect(xlate(rig, SID, 0x9000)).toBe(-2);
    expect(rig.cb(0, CB.FSR)).toBe(FSR_TF | FMT_AARCH64);
  });

  it('a fault storm sets MULTI and keeps the first record; HUPCF decides whether other traffic proceeds', () => {
    const { rig, t } = s1Rig(); // HUPCF = 0
    t.map(0x1000, DATA, S1_ATTR);
    expect(xlate(rig, SID, 0x1000)).toBe(DATA);
    for (let i = 0; i < 100; i++) expect(xlate(rig, SID, 0x10_0000 + i * 4096)).toBe(-1);
    expect(rig.cb(0, CB.FSR) >>> 0).toBe((FSR_TF | FMT_AARCH64 | FSR_MULTI) >>> 0);
    expect(Number(rig.cb64(0, CB.FAR))).toBe(0x10_0000);
    expect(rig.smmu.stats.contextFaults).toBe(1); // later ones met the outstanding fault (HUPCF = 0)
    // With the fault outstanding and HUPCF = 0, even a TLB hit is terminated.
    expect(xlate(rig, SID, 0x1000)).toBe(-1);
    expect(rig.smmu.stats.hupcfTerminated).toBeGreaterThan(0);
    rig.setCb(0, CB.SCTLR, S1_ON | SCTLR_HUPCF);
    expect(xlate(rig, SID, 0x1000)).toBe(DATA);
    rig.setCb(0, CB.SCTLR, S1_ON);
    rig.setCb(0, CB.FSR, 0xffffffff);
    expect(xlate(rig, SID, 0x1000)).toBe(DATA);
    expect(rig.irq.line(CTX_IRQ0).level).toBe(false);
  });

  it('FSRRESTORE sets FSR (fault injection) and raises the interrupt', () => {
    const rig = new V2Rig();
    rig.setCb(2, CB.SCTLR, SCTLR_CFIE);
    rig.setCb(2, CB.FSRRESTORE, FSR_PF);
    expect(rig.cb(2, CB.FSR)).toBe(FSR_PF);
    expect(rig.irq.line(CTX_IRQ0 + 2).level).toBe(true);
  });
});

describe('SMMUv2 stall model', () => {
  function stallRig(): { rig: V2Rig; t: LpaeTables; dma: DmaMaster } {
    const { rig, t } = s1Rig({ sctlr: S1_ON | SCTLR_CFCFG });
    const dma = new DmaMaster(rig.mem, { name: 'dma', streamId: SID });
    rig.smmu.attachMaster(dma, [SID]);
    t.map(0x1000, DATA, S1_ATTR);
    rig.mem.writeBytes(DATA, Uint8Array.from({ length: 64 }, (_, i) => i + 1));
    return { rig, t, dma };
  }

  it('suspends the transfer until RESUME retries it, then completes it', () => {
    const { rig, t, dma } = stallRig();
    const st = dma.copy(0x1000, 0x2000, 64);
    expect(st).toBe(1 | DMA_STATUS_STALLED); // BUSY | STALLED
    expect(rig.cb(0, CB.FSR) >>> 0).toBe((FSR_TF | FSR_SS | FMT_AARCH64) >>> 0);
    expect(Number(rig.cb64(0, CB.FAR))).toBe(0x2000);
    expect(rig.smmu.stalledCount(0)).toBe(1);
    // A TLB sync cannot complete while a transaction is stalled.
    rig.setCb(0, CB.TLBSYNC, 0);
    expect(rig.cb(0, CB.TLBSTATUS)).toBe(1);
    rig.setGr0(G.TLBGSYNC, 0);
    expect(rig.gr0(G.TLBGSTATUS)).toBe(1);
    t.map(0x2000, DATA + 0x1000, S1_ATTR);
    rig.setCb(0, CB.FSR, FSR_TF); // SS is not cleared by FSR writes
    expect(rig.cb(0, CB.FSR) & FSR_SS).toBe(FSR_SS);
    rig.setCb(0, CB.RESUME, 0); // retry
    expect(dma.statusValue).toBe(DMA_STATUS_DONE);
    expect(rig.mem.readBytes(DATA + 0x1000, 64)).toEqual(rig.mem.readBytes(DATA, 64));
    expect(rig.cb(0, CB.FSR)).toBe(FMT_AARCH64);
    expect(rig.cb(0, CB.TLBSTATUS)).toBe(0);
    expect(rig.gr0(G.TLBGSTATUS)).toBe(0);
    expect(rig.smmu.stats.retries).toBe(1);
  });

  it('RESUME with TnR terminates the stalled transaction: the master sees a fault', () => {
    const { rig, dma } = stallRig();
    dma.copy(0x1000, 0x2000, 64);
    rig.setCb(0, CB.FSR, FSR_TF);
    rig.setCb(0, CB.RESUME, 1);
    expect(dma.statusValue & DMA_STATUS_FAULT).toBe(DMA_STATUS_FAULT);
    expect(dma.faultAddress).toBe(0x2000);
    expect(dma.stalled).toBe(false);
    rig.setCb(0, CB.RESUME, 0); // nothing stalled: ignored
    expect(rig.smmu.stats.resumeIgnored).toBe(1);
  });

  it('a handler that fixes the mapping and resumes from the interrupt completes the transfer at once', () => {
    const { rig, t, dma } = stallRig();
    rig.irq.onIrq(CTX_IRQ0, () => {
      const fsr = rig.cb(0, CB.FSR);
      t.map(Number(rig.cb64(0, CB.FAR)) & ~0xfff, DATA + 0x3000, S1_ATTR);
      rig.setCb(0, CB.FSR, fsr);
      rig.setCb(0, CB.RESUME, 0);
    });
    expect(dma.copy(0x1000, 0x2000, 64)).toBe(DMA_STATUS_DONE);
    expect(rig.mem.readBytes(DATA + 0x3000, 64)).toEqual(rig.mem.readBytes(DATA, 64));
    expect(rig.smmu.stats.stalls).toBe(1);
  });
});

describe('SMMUv2 fault responses seen by a master', () => {
  it('CFRE = 0: a faulting read returns zeros and a faulting write is dropped, the fault is recorded', () => {
    const { rig, t } = s1Rig({ sctlr: (S1_ON | SCTLR_HUPCF) & ~SCTLR_CFRE });
    const dma = new DmaMaster(rig.mem, { streamId: SID });
    rig.smmu.attachMaster(dma, [SID]);
    t.map(0x1000, DATA, S1_ATTR);
    rig.mem.writeBytes(DATA, Uint8Array.of(9, 9, 9, 9));
    expect(dma.copy(0x5000, 0x1000, 4)).toBe(DMA_STATUS_DONE); // unmapped source
    expect([...rig.mem.readBytes(DATA, 4)]).toEqual([0, 0, 0, 0]);
    expect(rig.cb(0, CB.FSR)).toBe(FSR_TF | FMT_AARCH64);
    rig.setCb(0, CB.FSR, 0xffffffff);
    rig.mem.writeBytes(DATA, Uint8Array.of(7, 7, 7, 7));
    expect(dma.fill(0x6000, 4, 0x01020304)).toBe(DMA_STATUS_DONE); // unmapped destination
    expect([...rig.mem.readBytes(DATA, 4)]).toEqual([7, 7, 7, 7]);
    expect(Number(rig.cb64(0, CB.FAR))).toBe(0x6000);
  });

  it('CFCFG with a master that cannot wait: the transaction is terminated, nothing is stalled', () => {
    const { rig } = s1Rig({ sctlr: S1_ON | SCTLR_CFCFG });
    const o = slot();
    expect(rig.smmu.translate(SID, 0x7000, false, o)).toBe(false);
    expect(o.stalled).toBe(false);
    expect(rig.cb(0, CB.FSR)).toBe(FSR_TF | FMT_AARCH64);
    expect(rig.smmu.stalledCount(0)).toBe(0);
  });
});

describe('SMMUv2 TLB sync', () => {
  it('TLBSYNC / TLBGSYNC report active for the configured number of reads, then complete', () => {
    const rig = new V2Rig({}, { syncLatencyReads: 2 });
    rig.setGr0(G.TLBGSYNC, 0);
    expect([rig.gr0(G.TLBGSTATUS), rig.gr0(G.TLBGSTATUS), rig.gr0(G.TLBGSTATUS)]).toEqual([1, 1, 0]);
    rig.setCb(1, CB.TLBSYNC, 0);
    expect([rig.cb(1, CB.TLBSTATUS), rig.cb(1, CB.TLBSTATUS), rig.cb(1, CB.TLBSTATUS)]).toEqual([1, 1, 0]);
    expect(rig.smmu.stats.syncBusyReads).toBe(4);
  });

  it('a stuck sync (fault injection) never completes', () => {
    const rig = new V2Rig();
    rig.smmu.stuckSync = true;
    rig.setGr0(G.TLBGSYNC, 0);
    for (let i = 0; i < 1000; i++) expect(rig.gr0(G.TLBGSTATUS)).toBe(1);
    rig.smmu.stuckSync = false;
    expect(rig.gr0(G.TLBGSTATUS)).toBe(0);
  });
});

describe('SMMUv1 specifics', () => {
  it('routes a context fault to the interrupt CBAR.IRPTNDX names; an unimplemented index is UCIF', () => {
    const rig = new V2Rig({ ...SMMUV2_PRESET_V1, numIrpt: 2 });
    const t = new V7sTables(rig);
    rig.enable();
    rig.stream(0, SID, 0, 1);
    rig.setGr1(4 * 1, (1 << 16) | (1 << 24)); // S1, IRPTNDX 1
    rig.setCb(1, CB.TTBR0, t.root);
    rig.setCb(1, CB.SCTLR, S1_ON);
    expect(rig.gr1(4) >>> 24).toBe(1);
    expect(xlate(rig, SID, 0x5000)).toBe(-1);
    expect(rig.irq.line(CTX_IRQ0 + 1).level).toBe(true);
    expect(rig.irq.line(CTX_IRQ0).level).toBe(false);
    rig.setCb(1, CB.FSR, 0xffffffff);
    rig.setGr1(4 * 1, (1 << 16) | (5 << 24)); // IRPTNDX beyond NUMIRPT
    expect(xlate(rig, SID, 0x5000)).toBe(-1);
    expect(rig.gr0(G.SGFSR)).toBe(1 << 4); // UCIF
  });
});
