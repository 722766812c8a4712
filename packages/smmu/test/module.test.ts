import { describe, expect, it } from 'vitest';
import { DMA_STATUS_DONE, DMA_STATUS_FAULT, node, prop, ref } from '@gki/hw';
import ioPgtableArm from '@gki/format-arm-lpae';
import ioPgtableArmV7s from '@gki/format-arm-v7s';
import { ioPgtableCoreModule, ioPgtableLiveTables } from '@gki/io-pgtable-core';
import { EBUSY, IOMMU_READ, IOMMU_WRITE, iommuAttachDevice, iommuDetachDevice, iommuDomainFree, iommuGetDomainForDev, iommuGroupGet, iommuMap } from '@gki/kernel';
import armSmmu, { asArmSmmuDomain, armSmmuFromDevice } from '../src/index.js';
import { SMMU_BASE, boot, dmaTestModule, domain } from './rig.js';

const RW = IOMMU_READ | IOMMU_WRITE;
const SZ_4K = 0x1000;

describe('unload rules', () => {
  it('io-pgtable-arm cannot go while one of its contexts is live; arm_smmu cannot go while masters are attached', () => {
    const r = boot();
    const k = r.k;
    expect(ioPgtableLiveTables(k).map((t) => t.owner)).toEqual(['io-pgtable-arm', 'io-pgtable-arm', 'io-pgtable-arm']);
    expect(k.modules.unload('io-pgtable-arm')).toBe(-EBUSY);
    expect(k.modules.unload('arm_smmu')).toBe(-EBUSY);
    expect(k.log.grep('rmmod: ERROR: Module arm_smmu is in use')).toHaveLength(1);
    // an extra domain with mappings, attached and then released again
    const d = domain(r.masters[0]!);
    expect(iommuAttachDevice(d, r.masters[0]!)).toBe(0);
    const buf = k.pages.allocPages(0);
    expect(iommuMap(d, 0x10_0000, buf, SZ_4K, RW)).toBe(0);
    expect(r.dmas[0]!.fill(0x10_0000, 4, 1) & DMA_STATUS_DONE).toBeTruthy();
    expect(iommuDetachDevice(d, r.masters[0]!)).toBe(0);
    expect(iommuDomainFree(d)).toBe(0);
    k.pages.freePages(buf, 0);
    expect(k.modules.unload('arm_smmu')).toBe(-EBUSY); // the masters still hold it
    for (const m of r.masters) expect(k.drivers.unregisterDevice(m)).toBe(0);
    // every context went with its master: no page table, no page left
    expect(ioPgtableLiveTables(k)).toEqual([]);
    expect(k.pages.stats().pagesInUse).toBe(0);
    expect(r.smmu.contextMap.every((x) => !x)).toBe(true);
    expect(k.modules.unload('arm_smmu')).toBe(0);
    expect(r.smmuDev.state).toBe('unbound');
    expect(armSmmuFromDevice(r.smmuDev)).toBeUndefined();
    // the driver left the SMMU with client accesses disabled (sCR0.CLIENTPD)
    expect(r.board.bus.read32(SMMU_BASE) & 1).toBe(1);
    expect(k.modules.unload('io-pgtable-arm')).toBe(0);
  });

  it('io-pgtable-arm-v7s cannot go while a short-descriptor context is live', () => {
    const r = boot({ arch: 'arm' });
    const def = asArmSmmuDomain(iommuGetDomainForDev(r.masters[0]!))!;
    expect(def.fmt).toBe('ARM_V7S');
    expect(r.k.modules.unload('io-pgtable-arm-v7s')).toBe(-EBUSY);
    expect(r.k.modules.find('io-pgtable-arm-v7s')!.refcount).toBe(3);
    // io-pgtable-arm holds no table here and may go
    expect(r.k.modules.unload('io-pgtable-arm')).toBe(0);
    for (const m of r.masters) r.k.drivers.unregisterDevice(m);
    expect(r.k.modules.unload('io-pgtable-arm-v7s')).toBe(0);
  });
});

describe('an image without io-pgtable-arm-v7s', () => {
  /**
   * A 32-bit short-descriptor kernel: stage-1 contexts take the short format (ARMV7S is
   * enabled in the config), so they fail the way Linux's policy answers a NULL
   * alloc_io_pgtable_ops (-ENOMEM); a stage-2-only SMMU next to it works.
   */
  it('fails the short-format contexts with -ENOMEM and a message, and everything else works', () => {
    const r = boot({
      arch: 'arm',
      iommuLabels: ['smmu', 'smmu', 'smmu2'],
      extra: [
        node('smmu2: iommu@2b600000', [
          prop.strings('compatible', ['arm,mmu-500']),
          prop.reg(1, 1, [0x2b60_0000, 0x2_0000]),
          prop.u32('interrupt-parent', ref('gic')),
          prop.cells('interrupts', 0, 120, 4, 0, 121, 4, 0, 122, 4),
          prop.u32('#global-interrupts', 1),
          prop.u32('#iommu-cells', 1),
          prop.empty('gki,no-stage1'),
        ]),
      ],
      image: (probed) => ({
        builtin: [ioPgtableCoreModule],
        modules: [ioPgtableArm, armSmmu, dmaTestModule(probed)],
        load: ['dma_test', 'arm_smmu'],
        arch: 'arm',
      }),
    });
    const k = r.k;
    expect(k.log.grep('modprobe: softdep io-pgtable-arm-v7s of arm_smmu not found, ignored')).toHaveLength(1);
    // masters 0 and 1: stage 1 on the first SMMU needs ARM_V7S
    expect(k.log.grep(/failed to allocate ARM_V7S page table for context bank \d: ENODEV$/)).toHaveLength(2);
    expect(k.log.grep('no module in the image provides io-pgtable-fmt-ARM_V7S')).toHaveLength(2);
    // the attach fails with Linux's -ENOMEM and the IOMMU core leaves the master untranslated
    expect(k.log.grep('iommu configuration for device failed with ENOMEM').map((l) => l.who)).toEqual(['dma-test a000000.dma', 'dma-test a001000.dma']);
    for (const m of r.masters.slice(0, 2)) {
      expect(m.state).toBe('bound');
      expect(iommuGroupGet(m)).toBeUndefined();
    }
    // their streams stay blocked (disable_bypass): DMA aborts instead of reaching memory untranslated
    expect(r.dmas[0]!.fill(0x4100_0000, 4, 1) & DMA_STATUS_FAULT).toBeTruthy();
    // no context bank was leaked by the failed attempts
    expect(r.smmu.contextMap.every((x) => !x)).toBe(true);
    // master 2 behind the stage-2-only SMMU got a working ARM_32_LPAE_S2 default domain
    const m2 = r.masters[2]!;
    const d2 = iommuGetDomainForDev(m2)!;
    expect(asArmSmmuDomain(d2)!.fmt).toBe('ARM_32_LPAE_S2');
    const buf = k.pages.allocPages(0);
    expect(iommuMap(d2, 0x20_0000, buf, SZ_4K, RW)).toBe(0);
    expect(r.dmas[2]!.fill(0x20_0000, 4, 0x7777_7777) & DMA_STATUS_DONE).toBeTruthy();
    expect(k.mem.read32(buf)).toBe(0x7777_7777);
  });

  it('with io-pgtable-arm-v7s in the image but not loadable, the masters defer', () => {
    const r = boot({
      arch: 'arm',
      image: (probed) => ({
        // GPL-incompatible builds of both formats: neither can resolve the GPL-only
        // io_pgtable_ops_register, so neither can register
        builtin: [ioPgtableCoreModule],
        modules: [{ ...ioPgtableArm, license: 'Proprietary' }, { ...ioPgtableArmV7s, license: 'Proprietary' }, armSmmu, dmaTestModule(probed)],
        load: ['dma_test', 'arm_smmu'],
        arch: 'arm',
      }),
    });
    expect(r.probed).toEqual([]);
    for (const m of r.masters) expect(m.state).not.toBe('bound');
    expect(r.k.drivers.devicesDeferred().map((d) => d.name)).toEqual(r.masters.map((m) => m.name));
    expect(r.k.log.grep('io-pgtable-arm-v7s: Unknown symbol io_pgtable_ops_register (err -2)').length).toBeGreaterThan(0);
    expect(r.k.log.grep(/failed to allocate ARM_V7S page table for context bank \d: EPROBE_DEFER$/).length).toBeGreaterThanOrEqual(3);
    expect(r.smmu.contextMap.every((x) => !x)).toBe(true);
  });
});

