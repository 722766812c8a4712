import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DMA_STATUS_FAULT, SMMU_CR0 } from '@gki/hw';
import ioPgtableArm from '@gki/format-arm-lpae';
import { ioPgtableCoreModule } from '@gki/io-pgtable-core';
import { EBUSY, ENODEV, EPROBE_DEFER, Kernel, iommuAttachDevice, iommuDetachDevice, iommuDomainAlloc, iommuDomainFree, iommuGetDomainForDev } from '@gki/kernel';
import armSmmuV3 from '../src/index.js';
import { SMMU_BASE, SMMU_NAME, boot, dmaTestModule, smmuBoard } from './helpers.js';

describe('module arm_smmu_v3', () => {
  it('describes itself as a GKI module with a soft dependency on io-pgtable-arm', () => {
    expect(armSmmuV3.name).toBe('arm_smmu_v3');
    expect(armSmmuV3.license).toBe('GPL v2');
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(armSmmuV3.version).toBe(pkg.version); // generated from package.json at build time
    expect(armSmmuV3.softdep).toEqual({ pre: ['io-pgtable-arm'] });
    expect(armSmmuV3.aliases).toEqual(['of:N*T*Carm,smmu-v3']);
  });

  it('unloading io-pgtable-arm while a domain exists is -EBUSY', () => {
    const r = boot();
    expect(r.k.modules.unload('io-pgtable-arm')).toBe(-EBUSY);
    const d = iommuDomainAlloc(r.masters[0]!);
    expect(typeof d).toBe('object');
    expect(r.k.modules.unload('io-pgtable-arm')).toBe(-EBUSY);
    expect(r.k.modules.find('io-pgtable-arm')?.state).toBe('live');
  });

  it('rmmod is -EBUSY while masters are probed; after they go it unloads and leaks nothing', () => {
    const r = boot();
    const pagesAtBoot = r.k.pages.stats().pagesInUse;
    const d = iommuDomainAlloc(r.masters[0]!);
    if (typeof d === 'number') throw new Error(String(d));
    expect(iommuAttachDevice(d, r.masters[0]!)).toBe(0);
    expect(r.k.modules.unload('arm_smmu_v3')).toBe(-EBUSY);
    expect(r.smmuDev.state).toBe('bound');
    expect(iommuDetachDevice(d, r.masters[0]!)).toBe(0);
    expect(iommuDomainFree(d)).toBe(0);
    expect(r.k.pages.stats().pagesInUse).toBe(pagesAtBoot);
    expect(r.k.modules.unload('arm_smmu_v3')).toBe(-EBUSY); // masters still hold it
    for (const m of r.masters) expect(r.k.drivers.unregisterDevice(m)).toBe(0);
    const ref = r.k.modules.find('io-pgtable-arm')!;
    expect(ref.refcount).toBe(0); // every default domain's page table is gone
    expect(r.k.modules.unload('arm_smmu_v3')).toBe(0);
    expect(r.smmuDev.state).toBe('unbound');
    expect(r.board.bus.read32(SMMU_BASE + SMMU_CR0)).toBe(0);
    expect(r.k.iommu.snapshot().iommus).toEqual([]);
    // Stream table, queues, CD tables and page tables all returned.
    expect(r.k.pages.stats().pagesInUse).toBe(0);
    // With SMMUEN clear and GBPA.ABORT set, DMA no longer reaches memory.
    expect(r.dmas[0]!.fill(0x4100_0000, 4, 1) & DMA_STATUS_FAULT).toBeTruthy();
    expect(r.k.modules.unload('io-pgtable-arm')).toBe(0);
  });

  it('without io-pgtable-arm in the image, domain allocation fails with -ENODEV', () => {
    const r = boot({
      image: (probed) => ({ builtin: [ioPgtableCoreModule], modules: [armSmmuV3, dmaTestModule(probed)], load: ['dma_test', 'arm_smmu_v3'] }),
    });
    expect(r.k.log.grep(/failed to allocate default IOMMU domain of type dma: ENODEV$/).length).toBe(3);
    // The driver's own allocation says -ENODEV and holds nothing afterwards (ASID 1 is free again).
    const pages = r.k.pages.stats().pagesInUse;
    expect(r.smmu.ops.domainAlloc('unmanaged', null)).toBe(-ENODEV);
    expect(r.k.pages.stats().pagesInUse).toBe(pages);
    expect(r.smmu.allocId(1)).toBe(1);
    // The masters probe without translation; the SMMU keeps their streams aborted.
    for (const m of r.masters) {
      expect(m.state).toBe('bound');
      expect(iommuGetDomainForDev(m)).toBeUndefined();
    }
    expect(r.dmas[0]!.fill(0x4100_0000, 4, 1) & DMA_STATUS_FAULT).toBeTruthy();
    expect(r.k.pages.stats().pagesInUse).toBeGreaterThan(0);
  });

  it('with io-pgtable-arm in the image but not loadable, the masters defer', () => {
    // A GPL-incompatible build of io-pgtable-arm cannot resolve the GPL-only io_pgtable_ops_register.
    const unloadable = { ...ioPgtableArm, license: 'Proprietary' };
    const r = boot({
      image: (probed) => ({ builtin: [ioPgtableCoreModule], modules: [unloadable, armSmmuV3, dmaTestModule(probed)], load: ['dma_test', 'arm_smmu_v3'] }),
    });
    expect(r.k.log.grep('io-pgtable-arm: Unknown symbol io_pgtable_ops_register (err -2)').length).toBeGreaterThan(0);
    expect(r.probed).toEqual([]);
    for (const m of r.masters) expect(m.state).not.toBe('bound');
    expect(r.k.log.grep(/failed to allocate default IOMMU domain of type dma: EPROBE_DEFER$/).length).toBeGreaterThanOrEqual(3);
    expect(r.k.log.grep(/ENODEV/).length).toBe(0);
    expect(r.smmu.ops.domainAlloc('dma', null)).toBe(-EPROBE_DEFER);
    expect(r.k.drivers.devicesDeferred().map((d) => d.name)).toEqual(r.masters.map((m) => m.name));
  });

  it('declares the kernel symbols it calls; without the io-pgtable core it cannot load at all', () => {
    expect(armSmmuV3.needs).toEqual(expect.arrayContaining(['alloc_io_pgtable_ops', 'iommu_device_register', '__platform_driver_register']));
    const k = Kernel.boot(smmuBoard(), { builtin: [], modules: [ioPgtableArm, armSmmuV3], load: ['arm_smmu_v3'] });
    expect(k.modules.find('arm_smmu_v3')).toBeUndefined();
    expect(k.log.grep('arm_smmu_v3: Unknown symbol alloc_io_pgtable_ops (err -2)')).toHaveLength(1);
    expect(k.log.grep('arm_smmu_v3: Unknown symbol free_io_pgtable_ops (err -2)')).toHaveLength(1);
    expect(k.drivers.findDevice(SMMU_NAME)?.state).not.toBe('bound');
  });

  it('a GPL-incompatible build fails to load: the IOMMU API is EXPORT_SYMBOL_GPL', () => {
    const blob = { ...armSmmuV3, license: 'Proprietary' };
    const k = Kernel.boot(smmuBoard(), { builtin: [ioPgtableCoreModule], modules: [blob], load: ['arm_smmu_v3'] });
    expect(k.modules.find('arm_smmu_v3')).toBeUndefined();
    expect(k.log.grep("arm_smmu_v3: module license 'Proprietary' taints kernel.")).toHaveLength(1);
    for (const s of ['iommu_device_register', 'alloc_io_pgtable_ops', '__platform_driver_register', 'report_iommu_fault'])
      expect(k.log.grep(`arm_smmu_v3: Unknown symbol ${s} (err -2)`), s).toHaveLength(1);
    // devm_request_threaded_irq is a plain EXPORT_SYMBOL: a proprietary module resolves it
    expect(k.log.grep('Unknown symbol devm_request_threaded_irq')).toHaveLength(0);
    expect(k.drivers.findDevice(SMMU_NAME)?.state).not.toBe('bound');
  });
});
