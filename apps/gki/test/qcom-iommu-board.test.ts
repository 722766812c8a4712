/**
 * The DragonBoard 410c (boards/qcom/apq8016-sbc.dts, MSM8916) on the default image: qcom_scm
 * binds the firmware node, qcom_iommu binds apps_iommu and gpu_iommu and their five context
 * banks, the masters (venus, camss, the Adreno 306) get groups and DMA domains on the context
 * bank their `iommus` cell names, the real-master DMA workload translates through those banks
 * (and faults after the unmap, logged by qcom_iommu as Linux logs it), the a306 is still refused
 * by msm, and shutdown gives back every page except the secure page table the firmware keeps.
 */
import { join, dirname } from 'node:path';
import { Board, QcomIommu, QcomTrustZone, compileDtsFile } from '@gki/hw';
import { Kernel, iommuGetDomainForDev, iommuGroupGet } from '@gki/kernel';
import { QcomIommuDomain } from '@gki/qcom-iommu';
import { describe, expect, it } from 'vitest';
import { defaultImage } from '../src/image.js';
import { runRealMasters } from '../src/runtime/real-dma.js';
import { shutdown } from '../src/runtime/system.js';

const boards = join(dirname(new URL(import.meta.url).pathname), '..', '..', '..', 'boards');

describe('DragonBoard 410c (apq8016-sbc) with qcom_iommu', () => {
  const board = Board.fromDtb(compileDtsFile(join(boards, 'qcom/apq8016-sbc.dts')).dtb);
  const k = Kernel.boot(board, defaultImage());
  const apps = board.models.get('/soc@0/iommu@1ef0000') as QcomIommu;
  const gpuIommu = board.models.get('/soc@0/iommu@1f08000') as QcomIommu;
  const tz = board.secureMonitor as QcomTrustZone;

  it('binds both IOMMUs and their context banks through the firmware', () => {
    expect(apps.contexts.map((c) => [c.bank, c.secure])).toEqual([
      [3, true],
      [4, false],
      [5, true],
    ]);
    expect(gpuIommu.contexts.map((c) => c.bank)).toEqual([1, 2]);
    for (const n of ['1ef0000.iommu', 'soc@0:iommu@1f08000']) expect(k.drivers.findDevice(n)?.driver?.name, n).toBe('qcom-iommu');
    expect(k.drivers.allDevices().filter((d) => d.driver?.name === 'qcom-iommu-ctx' && d.state === 'bound').length).toBe(5);
    expect(tz.iommu(17)).toBe(apps);
    expect(tz.iommu(18)).toBe(gpuIommu);
    // restore_sec_cfg ran for both (their masters' default domains were attached)
    expect(apps.secureConfigured && gpuIommu.secureConfigured).toBe(true);
    expect(tz.securePtbl?.size).toBe(tz.securePtblSize);
    // SMMU_INTR_SEL_NS of apps_iommu's local block (gpu_iommu has no reg)
    expect(board.bus.read32(0x01ef0000 + 0x2000)).toBe(0xffffffff);
  });

  it('gives venus, camss and the GPU groups and DMA domains on the banks their iommus name', () => {
    const want: [string, number[]][] = [
      ['1d00000.video-codec', [5]],
      ['1b0ac00.camss', [3]],
      ['1c00000.gpu', [1, 2]],
    ];
    for (const [name, banks] of want) {
      const dev = k.drivers.findDevice(name)!;
      expect(iommuGroupGet(dev), name).toBeDefined();
      const d = iommuGetDomainForDev(dev);
      expect(d, name).toBeInstanceOf(QcomIommuDomain);
      expect((d as QcomIommuDomain).type).toBe('dma');
      expect((d as QcomIommuDomain).ids).toEqual(banks);
    }
  });

  it('still refuses the Adreno 306 with msm\'s line', () => {
    expect(k.log.grep("Adreno 3xx GPU (revision 3.0.6.0): Linux's msm drives this family, this model of it does not (a5xx, a6xx and a7xx only)").length).toBe(1);
    expect(k.drivers.findDevice('1c00000.gpu')).toMatchObject({ state: 'unbound', driver: null });
  });

  it('runs the real-master DMA workload through the context banks; the read after each unmap faults and is logged', () => {
    const before = apps.stats.translations + gpuIommu.stats.translations;
    const faults = apps.stats.contextFaults + gpuIommu.stats.contextFaults;
    const r = runRealMasters(k, board, 'dma');
    expect(r.problems).toEqual([]);
    expect(r.translated).toBe(3);
    expect(r.failed).toBe(0);
    expect(r.faultsSeen).toBe(3);
    expect(apps.stats.translations + gpuIommu.stats.translations).toBeGreaterThan(before);
    expect(apps.stats.contextFaults + gpuIommu.stats.contextFaults).toBe(faults + 3);
    expect(k.log.grep(/qcom-iommu-ctx 1e25000\.iommu-ctx: Unhandled context fault: fsr=0x[0-9a-f]+, iova=0x00000000[0-9a-f]{8}, fsynr=0x[0-9a-f]+, cb=5/).length).toBe(1);
    // the GPU's second bank (GFX3D_PRIV) shares the domain: the workload read it back too
    expect(r.streams).toBe(1);
  });

  it('shuts down leaking nothing: only the secure page table the firmware owns stays allocated', () => {
    const sd = shutdown(k);
    expect(sd.steps.filter((s) => s.err !== 0)).toEqual([]);
    expect(sd.pagesInUse).toBe(0);
    expect(sd.securePages).toBe(tz.securePtblSize / 4096);
    expect(k.pages.stats().pagesInUse).toBe(sd.securePages);
    expect(k.pages.isAllocated(tz.securePtbl!.address)).toBe(true);
    expect(sd.ok).toBe(true);
  });
});
