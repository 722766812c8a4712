import { describe, expect, it } from 'vitest';
import { main, type Io } from '../src/main.js';

function capture(): Io & { lines: string[]; errs: string[] } {
  const lines: string[] = [];
  const errs: string[] = [];
  return { lines, errs, out: (s) => lines.push(...s.split('\n')), err: (s) => errs.push(...s.split('\n')) };
}

describe('gki boot', () => {
  it('boots the default image on the default board and reports modules, devices and memory', async () => {
    const io = capture();
    const status = await main(['boot'], io);
    expect(io.errs).toEqual([]);
    expect(status).toBe(0);
    const text = io.lines.join('\n');
    expect(text).toMatch(/io-pgtable-arm\s+loadable\s+live/);
    expect(text).toMatch(/io-pgtable-arm-v7s\s+loadable\s+live/);
    expect(text).toMatch(/io-pgtable\s+built-in\s+live/);
    expect(text).toMatch(/gki_dma_test\s+loadable\s+live/);
    // arm_smmu_v3 holds one reference per probed master (2) and per domain (2)
    expect(text).toMatch(/arm_smmu_v3\s+loadable\s+live\s+refcnt 4/);
    // the boot-time page-table check: allocated through the core, agreed with the walker, no leak
    expect(text).toMatch(/ARM_64_LPAE_S1: ok\n.*io-pgtable-arm refcount 2 -> 3 while the table lives/);
    expect(text).toMatch(/ARM_V7S: ok\n.*io-pgtable-arm-v7s refcount 0 -> 1 while the table lives/);
    expect(text).toMatch(/1040 pages agree with the walker/);
    expect(text).toMatch(/pages in use back to \d+; io-pgtable-arm refcount back to 2/);
    expect(io.lines.at(-1)).toBe('boot: OK');
  });

  it('tells the SMMUv3 story: modules, masters after their IOMMU, translated DMA, one fault, no leak', async () => {
    const io = capture();
    expect(await main(['boot'], io)).toBe(0);
    const lines = io.lines;
    const text = lines.join('\n');
    const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
    // load order in dmesg (modules.load of the default configuration): the DMA test driver
    // (master 2 probes at once: no IOMMU), io-pgtable-arm (arm_smmu_v3's pre-softdep), the
    // SMMUv3 driver, then the two masters that waited for it
    const lpae = at(/io-pgtable-arm: module loaded/);
    const v7s = at(/io-pgtable-arm-v7s: module loaded/);
    const m2 = at(/dma-test a002000\.dma: DMA engine, stream ID 0x12, irq 50, direct DMA/);
    const smmu = at(/arm-smmu-v3 2b400000\.iommu: /);
    const smmuMod = at(/arm_smmu_v3: module loaded/);
    const m0 = at(/dma-test a000000\.dma: DMA engine, stream ID 0x10, irq 48, behind an IOMMU \(dma domain\)/);
    const m1 = at(/dma-test a001000\.dma: DMA engine, stream ID 0x11, irq 49, behind an IOMMU \(dma domain\)/);
    expect(m2).toBeGreaterThan(0);
    expect(v7s).toBeGreaterThan(lpae);
    expect([m2 < lpae, lpae < smmu, smmu < smmuMod, smmuMod < m0, m0 < m1]).toEqual([true, true, true, true, true]);
    // devices with their drivers and IOMMU groups/domains
    expect(text).toMatch(/a000000\.dma\s+dma-test\s+bound\s+iommu 2b400000\.iommu sid 0x10 group \d+ domain \d+ \(dma\)/);
    expect(text).toMatch(/a001000\.dma\s+dma-test\s+bound\s+iommu 2b400000\.iommu sid 0x11 group \d+ domain \d+ \(dma\)/);
    expect(text).toMatch(/a002000\.dma\s+dma-test\s+bound\s+no IOMMU \(direct DMA\)/);
    expect(text).toMatch(/2b400000\.iommu\s+arm-smmu-v3\s+bound/);
    // the DMA self-test: translated copies, the deliberate faults, the direct master
    const dma = lines.slice(at(/^== DMA self-test/));
    const dmaText = dma.join('\n');
    expect(dmaText).toMatch(/dma-test a000000\.dma: copy of 8483 bytes via IOVA 0x[0-9a-f]+ -> 0x[0-9a-f]+ ok/);
    expect(dmaText).toMatch(/a000000\.dma: translated copy of 8483 bytes ok .*; deliberate fault at 0xdead0000 reported by the engine and the IOMMU core/);
    expect(dmaText).toMatch(/a001000\.dma: translated copy of 8483 bytes ok .*; deliberate fault at 0xdead0000 reported by the engine and the IOMMU core/);
    expect(dmaText).toMatch(/a002000\.dma: direct copy of 8483 bytes ok .*; deliberate fault at 0xdead0000 reported by the engine \(bus error\)/);
    expect(dmaText).toMatch(/IOMMU fault handler: write at IOVA 0xdead0000/);
    // pages: the report's verdict line (its numbers are checked against the kernel's API in
    // boot-state.test.ts, on an identical boot)
    expect(dmaText).toMatch(/pages in use: \d+ before the DMA test, \d+ after its buffers were freed: every buffer page returned; \d+ page\(s\) are page-table levels the 2 DMA domain\(s\) keep/);
    // shutdown: everything unloads and the allocator is back at zero
    for (const step of ['rmmod gki_dma_test', 'of_platform_depopulate /soc', 'rmmod arm_smmu_v3', 'rmmod io-pgtable-arm-v7s', 'rmmod io-pgtable-arm'])
      expect(lines).toContain(`${step}: ok`);
    expect(text).toContain('pages in use: 0 (the allocator ends where it began)');
    expect(text).not.toMatch(/FAILED|NOT /);
  });

  it('rejects an unknown option with usage and status 2', async () => {
    const io = capture();
    expect(await main(['boot', '--bogus'], io)).toBe(2);
    expect(io.errs.join('\n')).toContain("unknown option '--bogus'");
  });

  it('prints usage for no command (status 2) and for help (status 0)', async () => {
    const a = capture();
    expect(await main([], a)).toBe(2);
    expect(a.errs.join('\n')).toContain('usage: gki');
    const b = capture();
    expect(await main(['help'], b)).toBe(0);
    const c = capture();
    expect(await main(['frobnicate'], c)).toBe(2);
    expect(c.errs.join('\n')).toContain("unknown command 'frobnicate'");
  });
});
