/**
 * The DragonBoard 410c (boards/qcom/apq8016-sbc.dts, MSM8916) on the default image: qcom_scm
 * binds the firmware node, qcom_iommu binds apps_iommu and gpu_iommu and their five context
 * banks, the masters (venus, camss, the Adreno 306) get groups and DMA domains on the context
 * bank their `iommus` cell names, the real-master DMA workload translates through those banks
 * (and faults after the unmap, logged by qcom_iommu as Linux logs it), msm binds the a306 (an
 * a3xx: one GPU address space on the qcom_iommu domain of banks 1 and 2) and the GPU workload's
 * copy jobs and deliberate fault run through it, and shutdown gives back every page except the
 * secure page table the firmware keeps.
 */
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { Adreno3xxGpu, Board, QcomIommu, QcomTrustZone, compileDts, compileDtsFile } from '@gki/hw';
import { msmDevices } from '@gki/drm-msm';
import { Kernel, iommuGetDomainForDev, iommuGroupGet } from '@gki/kernel';
import { QcomIommuDomain } from '@gki/qcom-iommu';
import { describe, expect, it } from 'vitest';
import { defaultImage } from '../src/image.js';
import { runRealMasters } from '../src/runtime/real-dma.js';
import { runGpu } from '../src/runtime/workloads.js';
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

  it('gives venus, camss and the GPU groups and domains on the banks their iommus name', () => {
    // venus and camss keep their default DMA domains; msm puts the GPU on a paging domain of
    // its own (msm_iommu_gpu_new: an unmanaged domain, attached in place of the DMA one)
    const want: [string, number[], string][] = [
      ['1d00000.video-codec', [5], 'dma'],
      ['1b0ac00.camss', [3], 'dma'],
      ['1c00000.gpu', [1, 2], 'unmanaged'],
    ];
    for (const [name, banks, type] of want) {
      const dev = k.drivers.findDevice(name)!;
      expect(iommuGroupGet(dev), name).toBeDefined();
      const d = iommuGetDomainForDev(dev);
      expect(d, name).toBeInstanceOf(QcomIommuDomain);
      expect((d as QcomIommuDomain).type, name).toBe(type);
      expect((d as QcomIommuDomain).ids).toEqual(banks);
    }
  });

  it('binds the Adreno 306 with msm (a3xx: Linux lists 3.0.6.0 as revn 307) on the GPU domain', () => {
    expect(k.log.grep(/Linux's msm drives this family/)).toEqual([]);
    expect(k.drivers.findDevice('1c00000.gpu')).toMatchObject({ state: 'bound' });
    expect(k.drivers.findDevice('1c00000.gpu')?.driver?.name).toBe('adreno');
    expect(k.log.grep('[drm] Initialized msm 1.12.0 20130625 for 1c00000.gpu on minor 0')).toHaveLength(1);
    const drm = msmDevices(k)[0]!;
    expect(drm.gpu.name).toBe('a307');
    // msm's address space sits on the group's DMA domain: the qcom_iommu domain of banks 1 and 2
    expect(drm.gpu.mmu.domain).toBe(iommuGetDomainForDev(k.drivers.findDevice('1c00000.gpu')!));
    const model = board.modelsOfType(Adreno3xxGpu)[0]!;
    expect(model.translated).toBe(true);
    expect(model.meRunning).toBe(true);
    expect(model.cp.stats.opcodes.CP_ME_INIT).toBe(1);
  });

  it('runs the GPU workload through context bank 1: copies checked, the deliberate write faults and is logged as msm logs it', () => {
    const model = board.modelsOfType(Adreno3xxGpu)[0]!;
    const cb1 = gpuIommu.contexts.find((c) => c.bank === 1)!;
    const before = { t: gpuIommu.stats.translations, f: gpuIommu.stats.contextFaults, packets: model.cp.stats.packets };
    const r = runGpu(k);
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.lines.some((l) => /1c00000\.gpu \(Adreno a307 \(renderD128\)\): 24\/24 copy jobs ok in 3 contexts \(sharing the GPU's one address space\)/.test(l))).toBe(true);
    expect(r.lines.some((l) => /deliberate write at GPU address 0x10000000: submit completed after the SMMU terminated the write/.test(l))).toBe(true);
    expect(gpuIommu.stats.translations).toBeGreaterThan(before.t);
    expect(gpuIommu.stats.contextFaults).toBe(before.f + 1);
    expect(model.cp.stats.packets).toBeGreaterThan(before.packets);
    // no GPU fault handler on a3xx: msm_fault_handler's own line; qcom_iommu, told the fault
    // was handled (0), adds none
    expect(k.log.grep('*** fault: iova=        10000000, flags=0')).toHaveLength(1);
    expect(k.log.grep(/Unhandled context fault: .*cb=1$/)).toEqual([]);
    // the fault came in on context bank 1 (gpu_iommu's first context page, 0x1f09000)
    expect(cb1).toBeDefined();
    expect(k.log.grep('qcom-iommu-ctx 1f09000.iommu-ctx: iommu fault at 0x10000000 flags 0x0: handler returned 0')).toHaveLength(1);
  });

  it('runs the real-master DMA workload through the context banks; the read after each unmap faults and is logged', () => {
    const before = apps.stats.translations + gpuIommu.stats.translations;
    const faults = apps.stats.contextFaults + gpuIommu.stats.contextFaults;
    const r = runRealMasters(k, board, 'dma');
    expect(r.problems).toEqual([]);
    // venus and camss: the GPU has a model of its own now (the GPU workload drives it)
    expect(r.translated).toBe(2);
    expect(r.failed).toBe(0);
    expect(r.faultsSeen).toBe(2);
    expect(apps.stats.translations + gpuIommu.stats.translations).toBeGreaterThan(before);
    expect(apps.stats.contextFaults + gpuIommu.stats.contextFaults).toBe(faults + 2);
    expect(k.log.grep(/qcom-iommu-ctx 1e25000\.iommu-ctx: Unhandled context fault: fsr=0x[0-9a-f]+, iova=0x00000000[0-9a-f]{8}, fsynr=0x[0-9a-f]+, cb=5/).length).toBe(1);
    expect(r.streams).toBe(0);
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

describe('an a4xx behind qcom_iommu: the DragonBoard 410c tree with its GPU named as msm8939 names its Adreno 405', () => {
  const file = join(boards, 'qcom/apq8016-sbc.dts');
  const src = readFileSync(file, 'utf8') + '\n&{/soc@0/gpu@1c00000} {\n\tcompatible = "qcom,adreno-405.0", "qcom,adreno";\n};\n';
  const board = Board.fromDtb(compileDts(src, { filename: file }));
  const k = Kernel.boot(board, defaultImage());

  it('binds the a405 with msm and runs the GPU workload through the GPU IOMMU; shutdown leaks nothing', () => {
    const drm = msmDevices(k)[0]!;
    expect(drm.gpu.name).toBe('a405');
    expect(board.modelsOfType(Adreno3xxGpu)[0]!.generation).toBe(4);
    const gpuIommu = board.models.get('/soc@0/iommu@1f08000') as QcomIommu;
    const before = gpuIommu.stats.translations;
    const r = runGpu(k);
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.lines.some((l) => /Adreno a405 \(renderD128\)\): 24\/24 copy jobs ok/.test(l))).toBe(true);
    expect(gpuIommu.stats.translations).toBeGreaterThan(before);
    expect(k.log.grep('*** fault: iova=        10000000, flags=0')).toHaveLength(1);
    const sd = shutdown(k);
    expect(sd.ok).toBe(true);
    expect(sd.pagesInUse).toBe(0);
  });
});
