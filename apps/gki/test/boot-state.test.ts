/**
 * The state `gki boot` reports, checked through the kernel's API on an identical boot (the
 * boot is deterministic) instead of through the app's own verdict lines: modules and their
 * references, bound devices with their IOMMU groups and domains, live page tables counted by
 * the hardware inspector of @gki/hw, the DMA self-test's page balance, the SMMUv3 model's
 * verdict on the driver's programming, and the allocator at zero after shutdown.
 */
import { describe, expect, it } from 'vitest';
import { SMMU_CR0, SmmuV3, createDefaultBoard, dumpTables, walkConfigFromIoPgtableCfg, type TableNode } from '@gki/hw';
import { Kernel, iommuGetDomainForDev } from '@gki/kernel';
import { ioPgtableLiveTables, ioPgtableOpsInfo } from '@gki/io-pgtable-core';
import { defaultImage } from '../src/image.js';
import { dmaTestChannel, dmaTestRun } from '../src/drivers/dma-test.js';
import { main, type Io } from '../src/main.js';

/** Table pages of every live io-pgtable table, as the hardware inspector finds them in RAM. */
function tablePages(k: Kernel): number {
  let n = 0;
  const count = (nodes: TableNode[]) => {
    for (const x of nodes) {
      if (x.type === 'table') n++;
      if (x.children) count(x.children);
    }
  };
  for (const t of ioPgtableLiveTables(k)) {
    const info = ioPgtableOpsInfo(t.ops)!;
    const tree = dumpTables(k.mem, walkConfigFromIoPgtableCfg(t.fmt, info.cfg));
    n += tree.roots.length; // the PGD (one page for these 48-bit, 4K tables)
    for (const r of tree.roots) count(r.nodes);
  }
  return n;
}

function bootDefault() {
  const board = createDefaultBoard();
  const k = Kernel.boot(board, defaultImage());
  return { board, k, smmu: board.modelsOfType(SmmuV3)[0]! };
}

describe('the default boot, through the API', () => {
  it('has the modules, references, devices, groups, domains and tables gki boot reports', () => {
    const { board, k, smmu } = bootDefault();
    const mods = new Map(k.modules.list().map((m) => [m.name, m]));
    expect(mods.get('io-pgtable')).toMatchObject({ builtin: true, state: 'live' });
    expect(mods.get('io-pgtable-arm-v7s')).toMatchObject({ builtin: false, state: 'live', refcount: 0 });
    expect(mods.get('gki_dma_test')).toMatchObject({ builtin: false, state: 'live' });
    // arm_smmu_v3: one reference per probed master (2) and per domain (2);
    // io-pgtable-arm: one per live table: the four DMA domains (two on the SMMUv3, two on the
    // MMU-500), the Adreno GPU's domain on the Adreno SMMU and the GMU's
    expect(mods.get('arm_smmu_v3')).toMatchObject({ state: 'live', refcount: 4 });
    const tables = ioPgtableLiveTables(k);
    expect(mods.get('io-pgtable-arm')).toMatchObject({ state: 'live', refcount: tables.length });
    expect(tables.map((t) => [t.fmt, t.owner])).toEqual(Array.from({ length: 6 }, () => ['ARM_64_LPAE_S1', 'io-pgtable-arm']));
    // devices: the SMMU bound and enabled, two masters behind it in their own DMA domains
    expect(k.drivers.findDevice('2b400000.iommu')?.driver?.name).toBe('arm-smmu-v3');
    expect(smmu.read32(SMMU_CR0) & 1).toBe(1);
    const snap = k.iommu.snapshot();
    const domains = new Set<number>();
    for (const [name, sid] of [['a000000.dma', 0x10], ['a001000.dma', 0x11]] as const) {
      const dev = k.drivers.findDevice(name)!;
      expect(dev.driver?.name).toBe('dma-test');
      expect(dmaTestChannel(dev)).toBeDefined();
      const m = snap.masters.find((x) => x.dev === name)!;
      expect(m).toMatchObject({ iommu: '2b400000.iommu', ids: [sid] });
      const g = snap.groups.find((x) => x.id === m.group)!;
      const d = snap.domains.find((x) => x.id === g.domain)!;
      expect(d.type).toBe('dma');
      expect(iommuGetDomainForDev(dev)?.type).toBe('dma');
      domains.add(d.id);
    }
    expect(domains.size).toBe(2);
    const direct = k.drivers.findDevice('a002000.dma')!;
    expect(direct.driver?.name).toBe('dma-test');
    expect(snap.masters.some((x) => x.dev === 'a002000.dma')).toBe(false);
    expect(iommuGetDomainForDev(direct)).toBeUndefined();
    // the model saw no misprogramming
    expect(smmu.hitlessViolations).toEqual([]);
    expect(smmu.programmingViolations).toEqual([]);
    expect(k.log.all().filter((r) => r.level === 'err')).toEqual([]);
    void board;
  });

  it('the DMA self-test returns every buffer page; what stays are the table pages the inspector finds', () => {
    const { k } = bootDefault();
    const pagesBefore = k.pages.stats().pagesInUse;
    const tablesBefore = tablePages(k);
    const devs = k.drivers.allDevices().filter((d) => dmaTestChannel(d) !== undefined);
    expect(devs).toHaveLength(5);
    const results = devs.map((d) => dmaTestRun(d));
    expect(results.map((r) => [r.dev, r.translated, r.ok, r.freed])).toEqual([
      ['a000000.dma', true, true, true],
      ['a001000.dma', true, true, true],
      ['a002000.dma', false, true, true],
      ['a003000.dma', true, true, true],
      ['a004000.dma', true, true, true],
    ]);
    const held = k.pages.stats().pagesInUse - pagesBefore;
    expect(held).toBeGreaterThan(0);
    expect(held).toBe(tablePages(k) - tablesBefore);
    // no IOVA is left mapped once the buffers are unmapped
    for (const r of results.filter((x) => x.translated)) {
      const dom = iommuGetDomainForDev(k.drivers.findDevice(r.dev)!)!;
      expect(dom.ops.iovaToPhys(dom, r.srcDma)).toBe(0);
      expect(dom.ops.iovaToPhys(dom, r.dstDma)).toBe(0);
    }
  });

  it('gki boot prints the numbers the API gives on the same boot', async () => {
    const { k } = bootDefault();
    const lines: string[] = [];
    const io: Io = { out: (s) => lines.push(...s.split('\n')), err: (s) => lines.push(...s.split('\n')) };
    expect(await main(['boot'], io)).toBe(0);
    const text = lines.join('\n');
    const st = k.pages.stats();
    expect(text).toContain(`simulated clock ${(k.board.clock.now() / 1e9).toFixed(6)} s`);
    const bound = k.drivers.allDevices().filter((d) => d.state === 'bound').length;
    expect(text).toContain(`${k.drivers.allDevices().length} device(s): ${bound} bound, 0 deferred, 0 failed, 1 unbound (no driver)`);
    expect(st.pagesInUse).toBeGreaterThan(0);
    // shutdown through the API: everything unloads, the allocator is back at zero
    expect(k.modules.unload('gki_dma_test')).toBe(0);
    k.of.platformDepopulate(k.drivers.findDevice('soc')!);
    for (const m of ['panfrost', 'msm', 'arm_smmu_v3', 'arm_smmu', 'io-pgtable-arm-v7s', 'io-pgtable-arm']) expect(k.modules.unload(m), m).toBe(0);
    expect(ioPgtableLiveTables(k)).toEqual([]);
    expect(k.pages.stats().pagesInUse).toBe(0);
  });
});
