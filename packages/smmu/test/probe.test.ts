import { describe, expect, it } from 'vitest';
import { prop, ref, SmmuV2 } from '@gki/hw';
import { ioPgtableCoreModule } from '@gki/io-pgtable-core';
import ioPgtableArm from '@gki/format-arm-lpae';
import { ENODEV, IOMMU_READ, IOMMU_WRITE, Kernel, iommuAttachDevice, iommuDetachDevice, iommuDomainAlloc, iommuDomainFree, iommuGetDomainForDev, iommuGroupGet, iommuMap, iommuUnmap } from '@gki/kernel';
import armSmmu, { ARM_SMMU_ALIASES, armSmmuConfigFromKconfig, armSmmuModuleFromKconfig, FEAT_FMT_AARCH32_L, FEAT_FMT_AARCH32_S, FEAT_FMT_AARCH64_4K, FEAT_FMT_AARCH64_16K, FEAT_FMT_AARCH64_64K, FEAT_STREAM_MATCH, FEAT_TRANS_NESTED, FEAT_TRANS_OPS, FEAT_TRANS_S1, FEAT_TRANS_S2, FEAT_VMID16, armSmmuFromDevice, armSmmuMasterOf, asArmSmmuDomain } from '../src/index.js';
import { bootFake, dmaTestModule, fakeBoard, ID2_DEFAULT, id1, mmu500Id0, SMMU_NAME } from './fake-regs.js';
import { boot, buffer, domain, SMMU_BASE } from './rig.js';

describe('module arm_smmu', () => {
  it('is a GKI module with soft dependencies on both io-pgtable formats and an alias per compatible', () => {
    expect(armSmmu.name).toBe('arm_smmu');
    expect(armSmmu.license).toBe('GPL v2');
    expect(armSmmu.softdep).toEqual({ pre: ['io-pgtable-arm', 'io-pgtable-arm-v7s'] });
    for (const c of ['arm,smmu-v1', 'arm,smmu-v2', 'arm,mmu-400', 'arm,mmu-401', 'arm,mmu-500', 'qcom,smmu-v2', 'qcom,smmu-500'])
      expect(ARM_SMMU_ALIASES).toContain(`of:N*T*C${c}`);
    expect(armSmmu.aliases).toEqual([...ARM_SMMU_ALIASES]);
  });
});

describe('probe (arm_smmu_device_probe)', () => {
  it('reads the ID registers into features and logs the configuration as Linux does', () => {
    const r = bootFake();
    const s = r.smmu!;
    expect(r.smmuDev.state).toBe('bound');
    const f = s.features;
    for (const bit of [FEAT_TRANS_S1, FEAT_TRANS_S2, FEAT_TRANS_NESTED, FEAT_TRANS_OPS, FEAT_STREAM_MATCH, FEAT_VMID16, FEAT_FMT_AARCH32_L, FEAT_FMT_AARCH32_S, FEAT_FMT_AARCH64_4K, FEAT_FMT_AARCH64_64K])
      expect(f & bit).toBe(bit);
    expect(s.numContextBanks).toBe(8);
    expect(s.numMappingGroups).toBe(32);
    expect(s.pgshift).toBe(12);
    expect(s.numpage).toBe(16);
    expect(s.vaSize).toBe(48);
    // SZ_4K|64K|1M|16M (AArch32-S) | 4K|2M|1G | 64K|512M
    expect(s.pgsizeBitmap).toBe(0x1000 + 0x1_0000 + 0x10_0000 + 0x100_0000 + 0x20_0000 + 0x4000_0000 + 0x2000_0000);
    const log = r.k.log.dmesg();
    for (const line of [
      'probing hardware configuration...',
      'SMMUv2 with:',
      '\tstage 1 translation',
      '\tstage 2 translation',
      '\tnested translation',
      '\tstream matching with 32 register groups',
      '\t8 context banks (0 stage-2 only)',
      '\tSupported page sizes: 0x61311000',
      '\tStage-1: 48-bit VA -> 48-bit IPA',
    ])
      expect(log).toContain(line);
  });

  it('resets the SMMU: sGFSR cleared, SMRs invalid, S2CRs fault (disable_bypass), banks off, TLBs invalidated and synced, then sCR0', () => {
    const r = bootFake();
    const w = r.regs.writes;
    const first = (off: number) => w.findIndex((x) => x.off === off);
    // sCR0 is written last of the reset, after the global sync
    const scr0 = w.findIndex((x) => x.off === 0 && x.val !== 1);
    expect(scr0).toBeGreaterThan(first(0x070));
    expect(first(0x070)).toBeGreaterThan(first(0x068)); // TLBIALLNSNH before sTLBGSYNC
    expect(first(0x068)).toBeGreaterThan(first(0x06c)); // TLBIALLH first
    const v = w[scr0]!.val;
    // GFRE|GFIE|GCFGFRE|GCFGFIE, VMIDPNE|PTM, USFCFG, VMID16EN; CLIENTPD cleared
    expect(v).toBe((0x2 | 0x4 | 0x10 | 0x20 | 0x800 | 0x1000 | 0x400 | 0x8000_0000) >>> 0);
    // every S2CR was written (type fault) before its SMR (invalid)
    for (let i = 0; i < 32; i++) {
      expect(first(0xc00 + 4 * i)).toBeLessThan(first(0x800 + 4 * i));
    }
    // MMU-500 reset: sACR has SMTNMB_TLBEN|S2CRB_TLBEN, CACHE_LOCK cleared (r2); prefetcher off in every bank
    expect(r.regs.read32(0x010)).toBe(0x100 | 0x400);
    for (let cb = 0; cb < 8; cb++) expect(r.regs.cb(cb, 0x004) & 2).toBe(0);
    // banks: SCTLR = 0, FSR written with every fault bit
    expect(w.filter((x) => x.off === r.regs.cbBase + 0x058).map((x) => x.val)).toEqual([0xc000_01fe]);
  });

  it('probes the SMR ID and MASK widths through a free SMR', () => {
    const r = bootFake({ smrIdBits: 0x3ff, smrMaskBits: 0x7f });
    expect(r.smmu!.streamidMask).toBe(0x3ff);
    expect(r.smmu!.smrMaskMask).toBe(0x7f);
  });

  it('with MMU-500 r1 sACR.CACHE_LOCK is left alone; a prefetcher that stays on is warned about once', () => {
    const r = bootFake({ id7: 0x10, cpreLocked: true });
    expect(r.k.log.grep('Failed to disable prefetcher [errata #841119 and #826419], check ACR.CACHE_LOCK')).toHaveLength(1);
  });

  it('requests the global interrupt(s) and checks the context interrupts', () => {
    const r = bootFake({ globalIrqs: 2 });
    expect(r.smmuDev.state).toBe('bound');
    const irqs = r.k.drivers.snapshot().irqs.filter((i) => i.owners.includes(SMMU_NAME)).map((i) => i.irq);
    // SPI 100, 101: the global ones; 102..104: the context banks of the three default domains
    expect(irqs).toEqual([132, 133, 134, 135, 136]);
    expect(r.smmu!.numContextIrqs).toBe(8);
    const few = bootFake({ contextIrqs: 3 });
    expect(few.smmuDev.state).not.toBe('bound');
    expect(few.k.log.grep('found only 3 context irq(s) but 8 required')).toHaveLength(1);
    const none = bootFake({ globalIrqs: 1, contextIrqs: 0 });
    expect(none.k.log.grep('found 1 interrupts but expected at least 2')).toHaveLength(1);
  });

  it('refuses a node without #global-interrupts, an SMMU without translation, or SMRs without any', () => {
    const noGlobal = bootFake({ noGlobalInterruptsProp: true });
    expect(noGlobal.smmuDev.state).not.toBe('bound');
    expect(noGlobal.k.log.grep('missing #global-interrupts property')).toHaveLength(1);
    const noTrans = bootFake({ id0: mmu500Id0() & ~((1 << 30) | (1 << 29)) });
    expect(noTrans.smmuDev.state).not.toBe('bound');
    expect(noTrans.k.log.grep('\tno translation support!')).toHaveLength(1);
    const noSmr = bootFake({ id0: mmu500Id0(0) });
    expect(noSmr.k.log.grep('stream-matching supported, but no SMRs present!')).toHaveLength(1);
    const s2 = bootFake({ id1: id1(4, 6) });
    expect(s2.k.log.grep('impossible number of S2 context banks!')).toHaveLength(1);
    for (const x of [noGlobal, noTrans, noSmr, s2]) expect(x.masters.every((m) => iommuGroupGet(m) === undefined)).toBe(true);
  });

  it('warns when the register window and the ID registers disagree about the size', () => {
    const r = bootFake({ regSize: 0x4_0000 });
    expect(r.k.log.grep('SMMU address space size (0x20000) differs from mapped region size (0x40000)!')).toHaveLength(1);
    expect(r.smmuDev.state).toBe('bound');
  });
});

describe('masters from the generic iommus binding', () => {
  it('every master gets stream map entries, a group and a default DMA domain', () => {
    const r = bootFake();
    expect(r.probed).toEqual(r.masters.map((m) => m.name));
    const s = r.smmu!;
    for (const [i, m] of r.masters.entries()) {
      const cfg = armSmmuMasterOf(m)!;
      expect(cfg.ids).toEqual([0x10 + i]);
      expect(s.smrs![cfg.smendx[0]!]).toEqual({ id: 0x10 + i, mask: 0, valid: true });
      expect(iommuGetDomainForDev(m)?.type).toBe('dma');
    }
    expect(new Set(r.masters.map((m) => iommuGroupGet(m))).size).toBe(3);
  });

  it('two cells give SID and mask; one cell takes the mask from stream-match-mask', () => {
    const two = bootFake({ iommuCells: 2, iommus: [[0x400, 0x3], [0x800, 0], null] });
    expect(armSmmuMasterOf(two.masters[0]!)!.ids).toEqual([0x0003_0400]);
    expect(two.smmu!.smrs!.filter((x) => x.valid).map((x) => [x.id, x.mask])).toEqual([
      [0x400, 0x3],
      [0x800, 0],
    ]);
    const one = bootFake({ smmuProps: [prop.u32('stream-match-mask', 0x7f80)] });
    expect(armSmmuMasterOf(one.masters[1]!)!.ids).toEqual([0x7f80_0011]);
  });

  it('masters whose IDs differ only in masked bits share one SMR and one group', () => {
    const r = bootFake({ iommuCells: 2, iommus: [[0x100, 0xf], [0x105, 0x0], [0x200, 0x0]] });
    const [a, b] = r.masters;
    const ca = armSmmuMasterOf(a!)!;
    const cb = armSmmuMasterOf(b!)!;
    expect(cb.smendx).toEqual(ca.smendx);
    expect(r.smmu!.s2crs[ca.smendx[0]!]!.count).toBe(2);
    expect(iommuGroupGet(a!)).toBe(iommuGroupGet(b!));
    expect(r.smmu!.smrs!.filter((x) => x.valid)).toHaveLength(2);
  });

  it('a partial overlap is refused (-EINVAL) and leaves the master untranslated with nothing allocated', () => {
    const r = bootFake({ iommuCells: 2, iommus: [[0x100, 0x1], [0x102, 0x3], [0x200, 0x0]] });
    expect(iommuGroupGet(r.masters[1]!)).toBeUndefined();
    expect(r.k.log.grep('iommu configuration for device failed with EINVAL')).toHaveLength(1);
    expect(r.smmu!.smrs!.filter((x) => x.valid).map((x) => x.id)).toEqual([0x100, 0x200]);
  });

  it('IDs or masks beyond the implemented bits are refused with Linux messages', () => {
    const r = bootFake({ iommuCells: 2, smrIdBits: 0xff, smrMaskBits: 0xf, iommus: [[0x1ff, 0], [0x10, 0x30], [0x11, 0]] });
    expect(r.k.log.grep('stream ID 0x1ff out of range for SMMU (0xff)')).toHaveLength(1);
    expect(r.k.log.grep('SMR mask 0x30 out of range for SMMU (0xf)')).toHaveLength(1);
    expect(iommuGroupGet(r.masters[2]!)).toBeDefined();
  });

  it('runs out of SMRs with -ENOSPC', () => {
    const r = bootFake({ id0: mmu500Id0(2) });
    expect(iommuGroupGet(r.masters[0]!)).toBeDefined();
    expect(iommuGroupGet(r.masters[1]!)).toBeDefined();
    expect(iommuGroupGet(r.masters[2]!)).toBeUndefined();
    expect(r.k.log.grep('iommu configuration for device failed with ENOSPC')).toHaveLength(1);
  });

  it('stream indexing (no SMRs): the SID is the S2CR index', () => {
    const indexing = (mmu500Id0() & ~(1 << 27) & ~(0xf << 9)) >>> 0;
    const r = bootFake({ id0: (indexing | (8 << 9)) >>> 0 });
    expect(r.smmu!.smrs).toBeNull();
    expect(r.smmu!.numMappingGroups).toBe(256);
    expect(armSmmuMasterOf(r.masters[2]!)!.smendx).toEqual([0x12]);
    expect((r.regs.read32(0xc00 + 4 * 0x12) >>> 16) & 3).toBe(0); // translate
    // 2^15 S2CRs would not fit the 4 KiB GR0 page: refused instead of writing past it
    const big = bootFake({ id0: (indexing | (15 << 9)) >>> 0 });
    expect(big.smmuDev.state).not.toBe('bound');
    expect(big.k.log.grep('32768 stream-to-context registers do not fit the global register page')).toHaveLength(1);
  });
});

describe('the legacy mmu-masters binding', () => {
  function legacy(builtin: boolean) {
    return bootFake({
      iommus: [null, null, null],
      masterProps: [[prop.u32('#stream-id-cells', 1)]],
      smmuProps: [prop.cells('mmu-masters', ref('dma0'), 0x21)],
      image: (probed) =>
        builtin
          ? { builtin: [ioPgtableCoreModule, ioPgtableArm, armSmmu], modules: [dmaTestModule(probed)], load: ['dma_test'] }
          : { builtin: [ioPgtableCoreModule], modules: [ioPgtableArm, armSmmu, dmaTestModule(probed)], load: ['dma_test', 'arm_smmu'] },
    });
  }

  it('is refused when arm_smmu is a module, with the notice and a clear reason', () => {
    const r = legacy(false);
    expect(r.smmuDev.state).not.toBe('bound');
    expect(r.k.log.grep('deprecated "mmu-masters" DT property in use; SMMU support unavailable')).toHaveLength(1);
    expect(r.k.log.grep(/needs arm_smmu built in/)).toHaveLength(1);
    expect(r.k.log.grep(`probe of ${SMMU_NAME} rejects match -${ENODEV}`)).toHaveLength(1);
    expect(r.masters.every((m) => iommuGroupGet(m) === undefined)).toBe(true);
  });

  it('built in without CONFIG_ARM_SMMU_LEGACY_DT_BINDINGS it is refused too', () => {
    const r = bootFake({
      iommus: [null, null, null],
      masterProps: [[prop.u32('#stream-id-cells', 1)]],
      smmuProps: [prop.cells('mmu-masters', ref('dma0'), 0x21)],
      image: (probed) => ({ builtin: [ioPgtableCoreModule, ioPgtableArm, armSmmuModuleFromKconfig({ ARM_SMMU_LEGACY_DT_BINDINGS: 'n' })], modules: [dmaTestModule(probed)], load: ['dma_test'] }),
    });
    expect(r.smmuDev.state).not.toBe('bound');
    expect(r.k.log.grep('deprecated "mmu-masters" DT property in use; SMMU support unavailable')).toHaveLength(1);
    expect(r.k.log.grep(/CONFIG_ARM_SMMU_LEGACY_DT_BINDINGS is not set/)).toHaveLength(1);
  });

  it('works when arm_smmu is built in: the listed master gets an identity default domain', () => {
    const r = legacy(true);
    expect(r.smmuDev.state).toBe('bound');
    expect(r.k.log.grep('deprecated "mmu-masters" DT property in use; DMA API support unavailable')).toHaveLength(1);
    const m = r.masters[0]!;
    expect(armSmmuMasterOf(m)!.ids).toEqual([0x21]);
    expect(iommuGetDomainForDev(m)?.type).toBe('identity');
    expect(iommuGroupGet(r.masters[1]!)).toBeUndefined();
  });
});

describe('implementation quirks chosen by compatible', () => {
  it('hides the context banks Linux hides on msm8998 and sdm630 (qcom_smmu_cfg_probe), and only there', () => {
    const banks = (compatible: string[], ncb: number): number => {
      const r = bootFake({ compatible, id1: id1(ncb, 0, 4), regSize: 0x4_0000 });
      expect(r.smmu, compatible.join(',')).toBeDefined();
      expect(r.k.log.grep(`${ncb} context banks (0 stage-2 only)`), compatible.join(',')).toHaveLength(1);
      return r.smmu!.numContextBanks;
    };
    // msm8998's LPASS SMMU: 13 reported, the last one crashes the system when touched
    expect(banks(['qcom,msm8998-smmu-v2', 'qcom,smmu-v2'], 13)).toBe(12);
    expect(banks(['qcom,msm8998-smmu-v2', 'qcom,smmu-v2'], 8)).toBe(8);
    // sdm630/sdm660: the A2NOC SMMU keeps 7 of 21, LPASS 13 of 14
    expect(banks(['qcom,sdm630-smmu-v2', 'qcom,smmu-v2'], 21)).toBe(7);
    expect(banks(['qcom,sdm630-smmu-v2', 'qcom,smmu-v2'], 14)).toBe(13);
    expect(banks(['qcom,sdm845-smmu-v2', 'qcom,smmu-v2'], 14)).toBe(14);
  });

  it("the Adreno SMMU-v2 withdraws the 16 KiB granule and leaves sdm630's GPU 2 of its 5 banks (qcom_adreno_smmuv2_cfg_probe)", () => {
    const id2 = (ID2_DEFAULT | (1 << 13)) >>> 0; // PTFS_16K advertised
    const gpu = bootFake({ compatible: ['qcom,sdm630-smmu-v2', 'qcom,adreno-smmu', 'qcom,smmu-v2'], id1: id1(5), id2 });
    expect(gpu.smmu!.impl?.name).toBe('qcom-adreno-smmu-v2');
    expect(gpu.smmu!.numContextBanks).toBe(2);
    expect(gpu.smmu!.features & FEAT_FMT_AARCH64_16K).toBe(0);
    expect(gpu.k.log.grep(/Supported page sizes: 0x([0-9a-f]+)/)[0]!.msg).not.toMatch(/0x[0-9a-f]*[4567cdef][0-9a-f]{3}$/);
    // the plain Qualcomm SMMU-v2 keeps what the hardware reports
    const plain = bootFake({ compatible: ['qcom,sdm630-smmu-v2', 'qcom,smmu-v2'], id1: id1(5), id2 });
    expect(plain.smmu!.numContextBanks).toBe(5);
    expect(plain.smmu!.features & FEAT_FMT_AARCH64_16K).toBe(FEAT_FMT_AARCH64_16K);
  });

  it('Qualcomm firmware that turns bypass S2CRs into fault: bypass goes through a reserved context bank', () => {
    const r = bootFake({ compatible: ['qcom,sm8150-smmu-500', 'qcom,smmu-500', 'arm,mmu-500'], s2crBypassBecomesFault: true });
    const s = r.smmu!;
    expect(s.impl?.name).toBe('qcom-smmu-500');
    expect(s.contextMap[7]).toBe(true); // the last bank, reserved
    const m = r.masters[0]!;
    const id = iommuDomainAlloc(m, 'identity');
    if (typeof id === 'number') throw new Error(String(id));
    expect(iommuAttachDevice(id, m)).toBe(0);
    const idx = armSmmuMasterOf(m)!.smendx[0]!;
    // written as "translate through bank 7", whose SCTLR.M is off (so: bypass)
    expect(r.regs.read32(0xc00 + 4 * idx)).toBe(7);
    expect(r.regs.cb(7, 0)).toBe(0);
  });

  it('Qualcomm keeps the SMRs the boot firmware left valid, as bypass entries', () => {
    const { board, regs } = fakeBoard({ compatible: ['qcom,sdm845-smmu-500', 'arm,mmu-500'] });
    regs().write32(0x800 + 4 * 5, (0x8000_0000 | 0x420) >>> 0);
    const k = Kernel.boot(board, { builtin: [ioPgtableCoreModule], modules: [ioPgtableArm, armSmmu, dmaTestModule()], load: ['arm_smmu'] });
    const s = armSmmuFromDevice(k.drivers.findDevice(SMMU_NAME)!)!;
    expect(s.smrs![5]).toEqual({ id: 0x420, mask: 0, valid: true });
    expect((regs().read32(0xc00 + 4 * 5) >>> 16) & 3).toBe(1);
    expect(regs().read32(0x800 + 4 * 5) >>> 0).toBe((0x8000_0000 | 0x420) >>> 0);
  });

  it('Marvell AP806 hides the AArch64 formats and splits 64-bit accesses high word first (erratum 582743)', () => {
    const r = bootFake({ compatible: ['marvell,ap806-smmu-500', 'arm,mmu-500'] });
    const s = r.smmu!;
    expect(s.impl?.name).toBe('mrvl-mmu500');
    const d = asArmSmmuDomain(iommuGetDomainForDev(r.masters[0]!))!;
    expect(d.fmt).toBe('ARM_32_LPAE_S1');
    const ttbr0 = r.regs.cbBase + d.cfg.cbndx * 0x1000 + 0x20;
    const w = r.regs.writes.filter((x) => x.off === ttbr0 || x.off === ttbr0 + 4);
    expect(w.map((x) => x.off)).toEqual([ttbr0 + 4, ttbr0]);
  });

  it('Cavium ThunderX offsets ASIDs and VMIDs by the banks of the SMMUs probed before (erratum 27704)', () => {
    const r = bootFake({ compatible: ['cavium,smmu-v2'] });
    expect(r.k.log.grep('\tenabling workaround for Cavium erratum 27704')).toHaveLength(1);
    const d = asArmSmmuDomain(iommuGetDomainForDev(r.masters[0]!))!;
    expect(d.cfg.asid).toBe(d.cfg.cbndx); // the first SMMU: base 0
  });

  it('NVIDIA Tegra dual-instance SMMUs: every write reaches both instances, a TLB sync waits for both', () => {
    const second = SMMU_BASE + 0x100_0000;
    const r = boot({ compatible: ['nvidia,tegra194-smmu', 'nvidia,smmu-500'], moreRegs: [second] });
    expect(r.smmu.mirrors).toHaveLength(1);
    expect(r.k.log.grep(/NVIDIA Tegra SMMU: 2 instance\(s\) programmed in lockstep/)).toHaveLength(1);
    const inst1 = r.board.bus.find(second)!.device as SmmuV2;
    expect(inst1).toBeInstanceOf(SmmuV2);
    expect(inst1).not.toBe(r.model);
    // the same global and stream-matching state on both (sCR0, the masters' SMRs and S2CRs)
    const gr0 = (base: number, off: number) => r.board.bus.read32(base + off);
    expect(gr0(second, 0)).toBe(gr0(SMMU_BASE, 0));
    for (let i = 0; i < 4; i++) {
      expect(gr0(second, 0x800 + 4 * i), `SMR${i}`).toBe(gr0(SMMU_BASE, 0x800 + 4 * i));
      expect(gr0(second, 0xc00 + 4 * i), `S2CR${i}`).toBe(gr0(SMMU_BASE, 0xc00 + 4 * i));
    }
    // a mapping's TLB maintenance goes to both; DMA translates through the first
    const d = domain(r.masters[0]!);
    expect(iommuAttachDevice(d, r.masters[0]!)).toBe(0);
    const before = { ...inst1.stats.tlbi };
    expect(iommuMap(d, 0x10_0000, buffer(r.k), 0x1000, IOMMU_READ | IOMMU_WRITE)).toBe(0);
    expect(iommuUnmap(d, 0x10_0000, 0x1000)).toBe(0x1000);
    expect(inst1.stats.tlbi).not.toEqual(before);
    expect(inst1.stats.tlbi).toEqual(r.model.stats.tlbi);
    // a sync that never completes on the second instance times out, though the first is done
    inst1.stuckSync = true;
    expect(r.smmu.tlbSyncGlobal()).toBe(-110);
    expect(r.k.log.grep('TLB sync timed out -- SMMU may be deadlocked').length).toBeGreaterThan(0);
    inst1.stuckSync = false;
    expect(r.smmu.tlbSyncGlobal()).toBe(0);
    iommuDetachDevice(d, r.masters[0]!);
    iommuDomainFree(d);
  });
});

describe('the compiled-in options (Kconfig sub-options of ARM_SMMU)', () => {
  it('maps Kconfig values to the build config; options not given keep the GKI defaults', () => {
    expect(armSmmuConfigFromKconfig({})).toEqual({});
    expect(armSmmuConfigFromKconfig({ ARM_SMMU_QCOM: 'm', ARM_SMMU_DISABLE_BYPASS_BY_DEFAULT: 'n', ARM_SMMU_LEGACY_DT_BINDINGS: 'y' })).toEqual({
      qcom: true,
      disableBypass: false,
      legacyDtBindings: true,
    });
    expect(armSmmuModuleFromKconfig({}).name).toBe('arm_smmu');
  });

  it('without ARM_SMMU_DISABLE_BYPASS_BY_DEFAULT unmatched streams bypass: sCR0.USFCFG clear, free S2CRs bypass', () => {
    const image = (probed: string[]) => ({
      builtin: [ioPgtableCoreModule],
      modules: [ioPgtableArm, armSmmuModuleFromKconfig({ ARM_SMMU_DISABLE_BYPASS_BY_DEFAULT: 'n' }), dmaTestModule(probed)],
      load: ['dma_test', 'arm_smmu'],
    });
    const r = bootFake({ image });
    expect(r.smmu!.disableBypass).toBe(false);
    expect(r.regs.read32(0) & 0x400).toBe(0);
    expect(r.regs.read32(0xc00 + 4 * 31) & 0x3_0000).toBe(0x1_0000); // S2CR.TYPE = bypass
  });

  it('without ARM_SMMU_QCOM a Qualcomm MMU-500 gets the plain MMU-500 hooks', () => {
    const image = (probed: string[]) => ({
      builtin: [ioPgtableCoreModule],
      modules: [ioPgtableArm, armSmmuModuleFromKconfig({ ARM_SMMU_QCOM: 'n' }), dmaTestModule(probed)],
      load: ['dma_test', 'arm_smmu'],
    });
    const r = bootFake({ compatible: ['qcom,sm8150-smmu-500', 'qcom,smmu-500', 'arm,mmu-500'], image });
    expect(r.smmuDev.state).toBe('bound');
    expect(r.smmu!.impl?.name).toBe('arm-mmu500');
  });
});
