import { describe, expect, it } from 'vitest';
import { Board, SmmuV2 } from '@gki/hw';
import ioPgtableArm from '@gki/format-arm-lpae';
import ioPgtableArmV7s from '@gki/format-arm-v7s';
import { ioPgtableCoreModule } from '@gki/io-pgtable-core';
import { IOMMU_READ, IOMMU_WRITE, Kernel, iommuGetDomainForDev, iommuGroupGet, iommuMap, type Device } from '@gki/kernel';
import armSmmu, { armSmmuFromDevice, armSmmuMasterOf, asArmSmmuDomain } from '../src/index.js';
import { gpuModule, type FakeGpu } from './fake-gpu.js';
import {
  ADRENO_SMMU_BASE,
  ADRENO_SMMU_PATH,
  APPS_SMMU_BASE,
  APPS_SMMU_PATH,
  SDM845_ADRENO_MASTERS,
  SDM845_APPS_MASTERS,
  sdm845Dtb,
} from './sdm845.js';

/*
 * A real SoC tree (SDM845, trimmed of clocks and power domains) with the default
 * configuration: io-pgtable core built in, the formats and arm_smmu as modules. No master has
 * a driver at boot: they get their stream map entries, groups and default domains when their
 * SMMU registers, as Linux's bus_iommu_probe gives them.
 */

function bootSdm845(extraModules = false) {
  const board = Board.fromDtb(sdm845Dtb());
  const gpus: FakeGpu[] = [];
  const k = Kernel.boot(board, {
    builtin: [ioPgtableCoreModule],
    modules: [ioPgtableArm, ioPgtableArmV7s, armSmmu, ...(extraModules ? [gpuModule(gpus)] : [])],
    load: ['arm_smmu'],
  });
  const dev = (path: string): Device | undefined => {
    const node = k.of.findNodeByPath(path);
    return node ? k.drivers.deviceForNode(node) : undefined;
  };
  return { board, k, dev, gpus };
}

/** The valid SMRs of an SMMU as its registers hold them: [ID, MASK] pairs in index order. */
function hwSmrs(board: Board, base: number, n: number): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < n; i++) {
    const v = board.bus.read32(base + 0x800 + 4 * i) >>> 0;
    if (v & 0x8000_0000) out.push([v & 0x7fff, (v >>> 16) & 0x7fff]);
  }
  return out;
}

function sortPairs(p: [number, number][]): [number, number][] {
  return [...p].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
}

describe('SDM845 (trimmed sdm845.dtsi) with the default configuration', () => {
  it('binds both SMMUs with the Qualcomm implementations their compatibles select', () => {
    const { k, dev, board } = bootSdm845();
    const apps = dev(APPS_SMMU_PATH)!;
    const adreno = dev(ADRENO_SMMU_PATH)!;
    expect(apps.name).toBe('15000000.iommu');
    expect(adreno.name).toBe('5040000.iommu');
    expect([apps.state, adreno.state]).toEqual(['bound', 'bound']);
    const a = armSmmuFromDevice(apps)!;
    const g = armSmmuFromDevice(adreno)!;
    expect(a.impl?.name).toBe('qcom-sdm845-smmu-500');
    expect(g.impl?.name).toBe('qcom-adreno-smmu-v2');
    // MMU-500 with 64 context banks (one per context interrupt) and 128 SMRs; the Adreno SMMU 8 banks, stage 1 only
    expect([a.numContextBanks, a.numMappingGroups, a.numGlobalIrqs]).toEqual([64, 128, 1]);
    expect([g.numContextBanks, g.numGlobalIrqs]).toEqual([8, 2]);
    expect(board.modelsOfType(SmmuV2)).toHaveLength(2);
    expect(k.log.grep(/probe of .* failed/)).toEqual([]);
  });

  it('every master with iommus gets a group and a default domain, without any driver', () => {
    const { dev } = bootSdm845();
    const identity = new Set(['/soc@0/mdss@ae00000', '/soc@0/gpu@5000000', '/soc@0/gmu@506a000']);
    for (const path of [...Object.keys(SDM845_APPS_MASTERS), ...Object.keys(SDM845_ADRENO_MASTERS)]) {
      const d = dev(path);
      expect(d, path).toBeDefined();
      expect(d!.driver, path).toBeNull();
      expect(iommuGroupGet(d!), path).toBeDefined();
      // Qualcomm's client list (display, GPU, GMU) gets identity domains; the rest DMA domains
      expect(iommuGetDomainForDev(d!)?.type, path).toBe(identity.has(path) ? 'identity' : 'dma');
    }
  });

  it('masters with the same stream IDs share their SMRs and their group', () => {
    const { dev } = bootSdm845();
    const same = (a: string, b: string) => {
      const da = dev(a)!;
      const db = dev(b)!;
      expect(armSmmuMasterOf(db)!.smendx).toEqual(armSmmuMasterOf(da)!.smendx);
      expect(iommuGroupGet(da)).toBe(iommuGroupGet(db));
      expect(iommuGetDomainForDev(da)).toBe(iommuGetDomainForDev(db));
    };
    same('/soc@0/dma-controller@1dc4000', '/soc@0/crypto@1dfa000');
    same('/soc@0/slim@171c0000', '/soc@0/dma-controller@17184000');
    expect(iommuGroupGet(dev('/soc@0/ufshc@1d84000')!)).not.toBe(iommuGroupGet(dev('/soc@0/sdhci@8804000')!));
  });

  it('the SMRs hold exactly the IDs and masks of the tree', () => {
    const { board } = bootSdm845();
    const want = new Map<string, [number, number]>();
    for (const pairs of Object.values(SDM845_APPS_MASTERS)) for (const p of pairs) want.set(p.join(), [p[0], p[1]]);
    expect(sortPairs(hwSmrs(board, APPS_SMMU_BASE, 128))).toEqual(sortPairs([...want.values()]));
    expect(sortPairs(hwSmrs(board, ADRENO_SMMU_BASE, 16))).toEqual([
      [0, 0],
      [5, 0],
    ]);
  });

  it('S2CRs bypass for identity domains and translate through one context bank per DMA group', () => {
    const { board, dev, k } = bootSdm845();
    const a = armSmmuFromDevice(dev(APPS_SMMU_PATH)!)!;
    const banks = new Set<number>();
    for (const path of Object.keys(SDM845_APPS_MASTERS)) {
      const d = dev(path)!;
      const dom = iommuGetDomainForDev(d)!;
      for (const idx of armSmmuMasterOf(d)!.smendx) {
        const s2cr = board.bus.read32(APPS_SMMU_BASE + 0xc00 + 4 * idx) >>> 0;
        const type = (s2cr >>> 16) & 3;
        if (dom.type === 'identity') expect(type, path).toBe(1);
        else {
          expect(type, path).toBe(0);
          expect(s2cr & 0xff, path).toBe(asArmSmmuDomain(dom)!.cfg.cbndx);
          banks.add(s2cr & 0xff);
        }
      }
    }
    // 13 masters, 2 pairs sharing, mdss identity: 10 DMA groups, 10 banks
    expect(banks.size).toBe(10);
    expect(a.contextMap.filter((x) => x)).toHaveLength(10);
    // streams of unlisted IDs stay blocked: every other S2CR faults
    const used = new Set(Object.keys(SDM845_APPS_MASTERS).flatMap((p) => armSmmuMasterOf(dev(p)!)!.smendx));
    for (let i = 0; i < 128; i++) if (!used.has(i)) expect((board.bus.read32(APPS_SMMU_BASE + 0xc00 + 4 * i) >>> 16) & 3).toBe(2);
    expect(k.log.grep('iommu configuration for device failed')).toEqual([]);
  });

  it('nodes that are not devices (fastrpc compute banks) are left alone', () => {
    const { k } = bootSdm845();
    const cb = k.of.findNodeByPath('/remoteproc-cdsp/glink-edge/fastrpc/compute-cb@1')!;
    expect(cb).toBeDefined();
    expect(k.drivers.deviceForNode(cb)).toBeUndefined();
  });

  it('a GPU driver binding later gets the Adreno interface on context bank 0 with split tables', () => {
    const { k, dev, gpus } = bootSdm845(true);
    expect(k.modules.modprobe('fake_adreno')).toBe(0);
    expect(gpus).toHaveLength(1);
    const gpu = gpus[0]!;
    expect(gpu.dev).toBe(dev('/soc@0/gpu@5000000'));
    const d = asArmSmmuDomain(gpu.domain)!;
    expect(d.cfg.cbndx).toBe(0);
    expect(d.geometry.apertureStart).toBe(-(2 ** 48));
    const buf = k.pages.allocPages(0);
    expect(iommuMap(gpu.domain, -0x1000, buf, 0x1000, IOMMU_READ | IOMMU_WRITE)).toBe(0);
    expect(gpu.priv.getTtbr1Cfg!(gpu.priv.cookie).armLpaeS1Cfg!.ttbr).toBeGreaterThan(0n);
  });
});
