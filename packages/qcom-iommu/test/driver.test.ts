/**
 * Module qcom_iommu on the Qualcomm secure IOMMU model, anchored on Linux v6.12's
 * qcom_iommu.c: probe of the IOMMU and its context children (ASID = reg / 0x1000), the secure
 * page table handed to the firmware ("iommu sec: pgtable size: N"), SMMU_INTR_SEL_NS set to all
 * ones, restore_sec_cfg at a context's first attach, ARM_32_LPAE_S1 domains (4 KiB pages once
 * the format restricts 4K|64K|1M|16M, a 32-bit aperture), map/unmap with TLBIVA(L) + TLBSYNC,
 * the fault message, of_xlate's checks and deferral until qcom_scm is there.
 */
import ioPgtableArm from '@gki/format-arm-lpae';
import { Board, compileDts, DMA_STATUS_DONE, DMA_STATUS_FAULT, DmaMaster, QcomIommu, QcomTrustZone } from '@gki/hw';
import { ioPgtableCoreModule } from '@gki/io-pgtable-core';
import {
  DMA_BIDIRECTIONAL,
  IOMMU_READ,
  IOMMU_WRITE,
  Kernel,
  dmaMapSingle,
  iommuAttachDevice,
  iommuDetachDevice,
  iommuDomainAlloc,
  iommuDomainFree,
  iommuGetDomainForDev,
  iommuGroupGet,
  iommuIovaToPhys,
  iommuMap,
  iommuUnmap,
  type Driver,
  type IommuDomain,
  type KernelModule,
} from '@gki/kernel';
import { describe, expect, it } from 'vitest';
import qcomIommu, { QcomIommuDomain, qcomIommuFromDevice } from '../src/index.js';

const dts = (o: { scm?: boolean; mdpCells?: string; appsCells?: number } = {}) => `/dts-v1/;
/ {
  #address-cells = <1>; #size-cells = <1>;
  interrupt-parent = <&intc>;
  intc: interrupt-controller@b000000 { compatible = "arm,gic-400"; interrupt-controller; #interrupt-cells = <3>; reg = <0x0b000000 0x1000>, <0x0b002000 0x1000>; };
  memory@80000000 { device_type = "memory"; reg = <0x80000000 0x4000000>; };
  ${o.scm === false ? '' : 'firmware { scm { compatible = "qcom,scm-msm8916", "qcom,scm"; }; };'}
  soc {
    compatible = "simple-bus"; #address-cells = <1>; #size-cells = <1>; ranges;
    mdp: dma@1a01000 { compatible = "gki,dma-master"; reg = <0x01a01000 0x1000>; iommus = <&apps_iommu ${o.mdpCells ?? '4'}>; };
    venus: dma@1d00000 { compatible = "gki,dma-master"; reg = <0x01d00000 0x1000>; iommus = <&apps_iommu 5${o.appsCells ? " 0" : ""}>; };
    gpu: dma@1c00000 { compatible = "gki,dma-master"; reg = <0x01c00000 0x1000>; iommus = <&gpu_iommu 1>, <&gpu_iommu 2>; };
    apps_iommu: iommu@1ef0000 {
      compatible = "qcom,msm8916-iommu", "qcom,msm-iommu-v1";
      #address-cells = <1>; #size-cells = <1>;
      ${o.appsCells ? '' : '#iommu-cells = <1>;'}
      ranges = <0 0x01e20000 0x20000>;
      reg = <0x01ef0000 0x3000>;
      qcom,iommu-secure-id = <17>;
      ${o.appsCells ? `#iommu-cells = <${o.appsCells}>;` : ''}
      iommu-ctx@3000 { compatible = "qcom,msm-iommu-v1-sec"; reg = <0x3000 0x1000>; interrupts = <0 70 4>; };
      iommu-ctx@4000 { compatible = "qcom,msm-iommu-v1-ns"; reg = <0x4000 0x1000>; interrupts = <0 70 4>; };
      iommu-ctx@5000 { compatible = "qcom,msm-iommu-v1-sec"; reg = <0x5000 0x1000>; interrupts = <0 70 4>; };
    };
    gpu_iommu: iommu@1f08000 {
      compatible = "qcom,msm8916-iommu", "qcom,msm-iommu-v1";
      #address-cells = <1>; #size-cells = <1>; #iommu-cells = <1>;
      ranges = <0 0x01f08000 0x10000>;
      qcom,iommu-secure-id = <18>;
      iommu-ctx@1000 { compatible = "qcom,msm-iommu-v1-ns"; reg = <0x1000 0x1000>; interrupts = <0 241 4>; };
      iommu-ctx@2000 { compatible = "qcom,msm-iommu-v1-ns"; reg = <0x2000 0x1000>; interrupts = <0 242 4>; };
    };
  };
};
`;

function dmaTest(): KernelModule {
  const drv: Driver = { name: 'dma-test', ofMatchTable: [{ compatible: 'gki,dma-master' }], probe: () => 0 };
  return { name: 'dma_test', version: '0', license: 'GPL v2', init: (c) => c.kernel.drivers.registerDriver(drv), exit: (c) => void c.kernel.drivers.unregisterDriver(drv) };
}

function boot(o: Parameters<typeof dts>[0] = {}, tweak?: (board: Board) => void) {
  const board = Board.fromDtb(compileDts(dts(o)));
  tweak?.(board);
  const k = Kernel.boot(board, { builtin: [ioPgtableCoreModule], modules: [ioPgtableArm, qcomIommu, dmaTest()], load: ['dma_test', 'qcom_iommu'] });
  const dev = (n: string) => k.drivers.findDevice(n)!;
  const dma = (name: string) => board.modelsOfType(DmaMaster).find((d) => d.name === name)!;
  return { board, k, dev, dma, apps: board.models.get('/soc/iommu@1ef0000') as QcomIommu, tz: board.secureMonitor as QcomTrustZone };
}

const ok = (st: number) => (st & (DMA_STATUS_DONE | DMA_STATUS_FAULT)) === DMA_STATUS_DONE;
const RW = IOMMU_READ | IOMMU_WRITE;

describe('qcom_iommu', () => {
  it('probes both IOMMUs and their context banks, hands the firmware its secure page table, routes interrupts to the non-secure side', () => {
    const { k, dev, board, tz } = boot();
    const apps = qcomIommuFromDevice(dev('1ef0000.iommu'))!;
    const gpu = qcomIommuFromDevice(dev('soc:iommu@1f08000'))!;
    expect(apps).toBeDefined();
    expect(gpu).toBeDefined();
    expect([apps.maxAsid, gpu.maxAsid]).toEqual([5, 2]);
    expect(apps.ctxs.map((c) => c?.asid ?? null)).toEqual([null, null, null, 3, 4, 5]);
    expect(gpu.ctxs.map((c) => c?.asid ?? null)).toEqual([null, 1, 2]);
    expect(k.drivers.allDevices().filter((d) => d.driver?.name === 'qcom-iommu-ctx').length).toBe(5);
    // only apps_iommu has -sec contexts: one secure page table, of the size the firmware asked
    expect(k.log.grep(`iommu sec: pgtable size: ${tz.securePtblSize}`).length).toBe(1);
    expect(tz.securePtbl?.size).toBe(tz.securePtblSize);
    expect(board.bus.read32(0x01ef0000 + 0x2000)).toBe(0xffffffff);
    // nothing restored before a domain is attached... but the DMA default domains were attached at probe
    expect(tz.stats.restores).toBeGreaterThan(0);
    for (const n of ['1a01000.dma', '1d00000.dma', '1c00000.dma']) {
      expect(iommuGroupGet(dev(n)), n).toBeDefined();
      expect(iommuGetDomainForDev(dev(n))).toBeInstanceOf(QcomIommuDomain);
    }
    const gd = iommuGetDomainForDev(dev('1c00000.dma')) as QcomIommuDomain;
    expect(gd.ids).toEqual([1, 2]);
    expect(gd.pgsizeBitmap).toBe(0x1000); // ARM_32_LPAE_S1 with 4 KiB pages keeps 4K of 4K|64K|1M|16M
    expect(gd.geometry).toEqual({ apertureStart: 0, apertureEnd: 2 ** 32 - 1, forceAperture: true });
  });

  it('the DMA API translates through the context bank the master names', () => {
    const { k, dev, dma, apps } = boot();
    const mdp = dev('1a01000.dma');
    const pa = k.pages.allocPages(0);
    const iova = dmaMapSingle(mdp, pa, 4096, DMA_BIDIRECTIONAL);
    expect(iova).toBeGreaterThan(0);
    expect(iova).not.toBe(pa);
    const before = apps.stats.walks;
    expect(ok(dma('dma@1a01000').fill(iova + 16, 8, 0xc0ffee11))).toBe(true);
    expect(k.mem.read32(pa + 16)).toBe(0xc0ffee11);
    expect(k.mem.read32(pa + 20)).toBe(0xc0ffee11);
    expect(apps.stats.walks).toBeGreaterThan(before);
    // the bank the driver programmed: TTBR0 carries ASID 4, TCR has EAE
    const cb4 = 0x01e20000 + 0x4000;
    const board = k.board;
    expect(board.bus.read32(cb4 + 0x24) >>> 16).toBe(4);
    expect(board.bus.read32(cb4 + 0x30) >>> 31).toBe(1);
    expect(board.bus.read32(cb4 + 0x0) & 1).toBe(1);
  });

  it('map, iova_to_phys, unmap with TLB invalidation; a fault afterwards is reported with Linux\'s message', () => {
    const { k, dev, dma, apps } = boot();
    const mdp = dev('1a01000.dma');
    const d = iommuDomainAlloc(mdp) as IommuDomain;
    expect(typeof d).toBe('object');
    expect(iommuAttachDevice(d, mdp)).toBe(0);
    const pa = k.pages.allocPages(0);
    expect(iommuMap(d, 0x100_0000, pa, 4096, RW)).toBe(0);
    expect(iommuIovaToPhys(d, 0x100_0123)).toBe(pa + 0x123);
    expect(ok(dma('dma@1a01000').fill(0x100_0000, 4, 0x1234_5678))).toBe(true);
    expect(k.mem.read32(pa)).toBe(0x1234_5678);
    const tlbiva = apps.stats.tlbi.TLBIVAL ?? 0;
    expect(iommuUnmap(d, 0x100_0000, 4096)).toBe(4096);
    expect(apps.stats.tlbi.TLBIVAL).toBe(tlbiva + 1); // a leaf invalidation per page, then the sync
    expect(iommuIovaToPhys(d, 0x100_0000)).toBe(0);
    // the stale TLB entry is gone: the DMA faults, the bank interrupt fires, the message names cb=4
    expect(dma('dma@1a01000').fill(0x100_0000, 4, 1) & DMA_STATUS_FAULT).toBe(DMA_STATUS_FAULT);
    const lines = k.log.grep(/Unhandled context fault: fsr=0x[0-9a-f]+, iova=0x0000000001000000, fsynr=0x[0-9a-f]+, cb=4/);
    expect(lines.length).toBe(1);
    // FSR was cleared by the handler
    expect(k.board.bus.read32(0x01e20000 + 0x4000 + 0x58) & 0x1ff).toBe(0);
    expect(iommuDetachDevice(d, mdp)).toBe(0);
    expect(iommuDomainFree(d)).toBe(0);
    k.pages.freePages(pa, 0);
  });

  it('of_xlate: one cell, a context bank the IOMMU has', () => {
    const two = boot({ mdpCells: '4 0', appsCells: 2 });
    expect(iommuGroupGet(two.dev('1a01000.dma'))).toBeUndefined();
    expect(two.k.log.grep('1a01000.dma: incorrect number of iommu params found for /soc/iommu@1ef0000 (found 2, expected 1)').length).toBe(1);
    const bad = boot({ mdpCells: '7' });
    expect(iommuGroupGet(bad.dev('1a01000.dma'))).toBeUndefined();
    expect(bad.k.log.grep(/asid 7 is not a context bank of 1ef0000.iommu/).length).toBe(1);
    // the other masters are fine
    expect(iommuGroupGet(bad.dev('1d00000.dma'))).toBeDefined();
  });

  it('defers while qcom_scm is not there: without the firmware node no IOMMU binds and no master gets a group', () => {
    const { k, dev, apps } = boot({ scm: false });
    expect(qcomIommuFromDevice(dev('1ef0000.iommu'))).toBeUndefined();
    expect(iommuGroupGet(dev('1a01000.dma'))).toBeUndefined();
    expect(apps.secureConfigured).toBe(false);
    expect(k.log.grep(/1ef0000.iommu.*deferred/).length + k.log.grep(/probe deferral/).length).toBeGreaterThan(0);
  });

  it('a firmware refusing restore_sec_cfg fails the attach with Linux\'s message, and the page table goes', () => {
    const { k, dev, apps } = boot({}, (board) => {
      const tz = board.secureMonitor!;
      board.secureMonitor = {
        name: 'refusing',
        smc(args, res) {
          if (((args[0] ?? 0) & 0xffff) === 0x0c02) {
            res.a0 = -2; // EINVAL_ARG
            res.a1 = res.a2 = res.a3 = 0;
            return;
          }
          tz.smc(args, res);
        },
      };
    });
    expect(k.log.grep('qcom-iommu 1ef0000.iommu: secure init failed: -22').length).toBeGreaterThan(0);
    expect(apps.secureConfigured).toBe(false);
    expect(iommuGetDomainForDev(dev('1a01000.dma'))).toBeUndefined();
    // what is left allocated: the secure page table the firmware took (64 pages), nothing else
    expect(k.pages.stats().pagesInUse).toBe(64);
  });

  it('without qcom,iommu-secure-id the IOMMU does not probe', () => {
    const board = Board.fromDtb(compileDts(dts().replace('qcom,iommu-secure-id = <17>;', '')));
    const k = Kernel.boot(board, { builtin: [ioPgtableCoreModule], modules: [ioPgtableArm, qcomIommu, dmaTest()], load: ['dma_test', 'qcom_iommu'] });
    expect(k.log.grep('qcom-iommu 1ef0000.iommu: missing qcom,iommu-secure-id property').length).toBe(1);
    expect(qcomIommuFromDevice(k.drivers.findDevice('1ef0000.iommu')!)).toBeUndefined();
    expect(iommuGroupGet(k.drivers.findDevice('1a01000.dma')!)).toBeUndefined();
    // the other IOMMU is unaffected
    expect(iommuGroupGet(k.drivers.findDevice('1c00000.dma')!)).toBeDefined();
  });

  // (5 million status reads per bank at the driver's 1 us poll step: seconds of CPU, hence the longer test timeout)
  it('a TLB sync that never completes: Linux\'s message per context bank after 5 s of polling each, and the driver carries on', () => {
    // qcom_iommu_tlb_sync writes TLBSYNC and polls TLBSTATUS (no sleep, 5 s) on each bank of
    // the domain in turn; on a timeout it logs dev_err(ctx->dev, "timeout waiting for TLB
    // SYNC") and goes on to the next bank. It returns nothing: unmap still returns what it
    // unmapped, and the next operations proceed as usual.
    const { k, dev, dma, board } = boot();
    const gpuIommu = board.models.get('/soc/iommu@1f08000') as QcomIommu;
    const gpu = dev('1c00000.dma');
    const d = iommuDomainAlloc(gpu) as IommuDomain;
    expect(iommuAttachDevice(d, gpu)).toBe(0);
    expect((d as QcomIommuDomain).ids).toEqual([1, 2]);
    const pa = k.pages.allocPages(0);
    expect(iommuMap(d, 0x200_0000, pa, 4096, RW)).toBe(0);
    expect(ok(dma('dma@1c00000').fill(0x200_0000, 4, 0x5a5a_0001))).toBe(true);
    const syncs = gpuIommu.stats.tlbi.TLBSYNC ?? 0;
    const msg = 'timeout waiting for TLB SYNC';
    expect(k.log.grep(msg)).toHaveLength(0);
    gpuIommu.stuckSync = true;
    const t0 = board.clock.now();
    expect(iommuUnmap(d, 0x200_0000, 4096)).toBe(4096);
    const t1 = board.clock.now();
    // both banks were synced (the second after the first timed out), each reported once, as
    // an error of its context device, each after the 5 s poll
    expect(gpuIommu.stats.tlbi.TLBSYNC).toBe(syncs + 2);
    const lines = k.log.grep(msg);
    expect(lines.map((l) => [l.level, l.who, l.msg])).toEqual([
      ['err', 'qcom-iommu-ctx 1f09000.iommu-ctx', msg],
      ['err', 'qcom-iommu-ctx 1f0a000.iommu-ctx', msg],
    ]);
    expect(lines[0]!.t - t0).toBeGreaterThanOrEqual(5e9);
    expect(lines[1]!.t - lines[0]!.t).toBeGreaterThanOrEqual(5e9);
    expect(t1 - t0).toBeLessThan(10e9 + 1e6);
    // the page is gone from the table; the driver and the domain go on working
    expect(iommuIovaToPhys(d, 0x200_0000)).toBe(0);
    expect(iommuMap(d, 0x200_0000, pa, 4096, RW)).toBe(0);
    expect(ok(dma('dma@1c00000').fill(0x200_0000, 4, 0x5a5a_0002))).toBe(true);
    expect(k.mem.read32(pa)).toBe(0x5a5a_0002);
    // the SMMU recovers: syncs complete again and nothing more is reported
    gpuIommu.stuckSync = false;
    const t2 = board.clock.now();
    expect(iommuUnmap(d, 0x200_0000, 4096)).toBe(4096);
    expect(board.clock.now() - t2).toBeLessThan(1e6);
    expect(k.log.grep(msg)).toHaveLength(2);
    expect(iommuDetachDevice(d, gpu)).toBe(0);
    expect(iommuDomainFree(d)).toBe(0);
    k.pages.freePages(pa, 0);
  }, 60_000);

  it('rmmod is refused while masters use it', () => {
    const { k } = boot();
    expect(k.modules.unload('qcom_iommu')).toBe(-16); // -EBUSY
    expect(k.modules.find('qcom_iommu')).toBeDefined();
  });
});
