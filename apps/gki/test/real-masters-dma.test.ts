/**
 * The dma workload on real kernel trees: the devices that have an IOMMU group on a bound SMMU
 * but no device model of their own (SDHCI, UFS, USB, GENI, BAM, display, video, ...) get two
 * buffers mapped through the kernel's DMA API; the board's bus master port for each device
 * reads the first at its IOVA through the SMMU model with the device's stream ID and writes a
 * transformed copy into the second; the CPU checks the bytes; after the unmap a read at the
 * old IOVA must fault in the SMMU model. Identity (bypass) domains are counted as such. And
 * the check can fail: an SMR the model no longer matches makes the workload name the device.
 */
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PORT_FAULT, PORT_OK, SmmuV2, SmmuV3, type Board } from '@gki/hw';
import { DMA_BIDIRECTIONAL, dmaMapSingle, dmaUnmapSingle, iommuIovaToPhys, type Kernel } from '@gki/kernel';
import { loadBoard, loadImage } from '../src/runtime/inputs.js';
import { bootSystem, shutdown } from '../src/runtime/system.js';
import { runDma } from '../src/runtime/workloads.js';

const BOARDS = join(dirname(new URL(import.meta.url).pathname), '..', '..', '..', 'boards');

function boot(file: string): { k: Kernel; board: Board } {
  const sys = bootSystem(loadBoard(join(BOARDS, file)), loadImage(undefined));
  return { k: sys.kernel, board: sys.board };
}

function translations(board: Board, path: string): number {
  return (board.models.get(path) as SmmuV2).stats.translations;
}

interface Case {
  readonly file: string;
  /** The SMMU node whose real masters the workload must exercise, and devices that must be among them. */
  readonly smmu: string;
  readonly masters: readonly string[];
  readonly minTranslated: number;
  readonly minBypass?: number;
  readonly minExtraStreams: number;
}

const CASES: readonly Case[] = [
  // MMU-500 apps SMMU with 2-cell iommus (StreamID, SMR mask); MDSS left in an identity domain (qcom's default)
  { file: 'qcom/sdm845-mtp.dts', smmu: '/soc@0/iommu@15000000', masters: ['8804000.sdhci', '17184000.dma-controller', '8c0000.geniqup'], minTranslated: 3, minBypass: 1, minExtraStreams: 4 },
  // many masters: UFS (two streams), GENI QUPs, the crypto BAM and the crypto engine sharing a group, video
  { file: 'qcom/sm8250-mtp.dts', smmu: '/soc@0/iommu@15000000', masters: ['1d84000.ufshc', '1dfa000.crypto', 'aa00000.video-codec'], minTranslated: 7, minExtraStreams: 14 },
  { file: 'qcom/sc7280-idp.dts', smmu: '/soc@0/iommu@15000000', masters: [], minTranslated: 10, minExtraStreams: 10 },
];

describe('gki run --workload dma on the real masters of real trees', () => {
  for (const c of CASES)
    it(`${c.file}: every real master behind ${c.smmu} is mapped, read, written and checked through the SMMU model; the after-unmap read faults; nothing leaks`, () => {
      const { k, board } = boot(c.file);
      const t0 = translations(board, c.smmu);
      const r = runDma(k, { copies: 1 });
      expect(r.problems).toEqual([]);
      expect(r.ok).toBe(true);
      const n = r.counts!;
      expect(n['real masters translated']).toBeGreaterThanOrEqual(c.minTranslated);
      expect(n['real masters bypass']).toBeGreaterThanOrEqual(c.minBypass ?? 0);
      expect(n['real masters failed']).toBe(0);
      // every translated master's old IOVA faulted after the unmap, recorded by the model
      expect(n['real faults seen']).toBe(n['real masters translated']);
      expect(r.faults.filter((f) => f.source === 'iommu' && f.deliberate)).toHaveLength(n['real masters translated']!);
      expect(n['real bytes translated']).toBe(2 * 0x1340 * n['real masters exercised']! + 64 * n['real extra streams checked']!);
      expect(r.bytes).toBe(n['real bytes translated']);
      // the SMMU model translated them (read + write per master, plus the faulting read)
      expect(translations(board, c.smmu) - t0).toBeGreaterThanOrEqual(3 * n['real masters translated']!);
      // the further stream IDs (more iommus entries, IDs the SMR masks also match) reach the same buffers
      expect(n['real extra streams checked']).toBeGreaterThanOrEqual(c.minExtraStreams);
      for (const m of c.masters) expect(r.lines.some((l) => l.startsWith(`${m}: stream 0x`) && l.includes('DMA domain: IOVAs') && l.includes('checked; read after unmap: fault')), m).toBe(true);
      // the deliberate faults logged errors only inside the workload's windows
      const errs = k.log.all().map((x, i) => [x, i] as const).filter(([x]) => x.level === 'err');
      for (const [, i] of errs) expect(r.expectedErrorWindows.some(([a, b]) => i >= a && i < b)).toBe(true);
      const sd = shutdown(k);
      expect(sd.pagesInUse).toBe(0);
      expect(sd.ok).toBe(true);
    });

  it('arm/juno.dts: the masters behind the MMU-401s (SMMUv1 with the 64 KiB supplement) translate through the AArch64 4 KiB-granule contexts Linux programs there (CBA2R.VA64 and TCR2 written, as for version > SMMUv1), and iommu_iova_to_phys answers through the address translation operations SMMUv1 always has', () => {
    const { k, board } = boot('arm/juno.dts');
    const r = runDma(k, { copies: 1 });
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
    const n = r.counts!;
    expect(n['real masters translated']).toBeGreaterThanOrEqual(5);
    expect(n['real masters failed']).toBe(0);
    expect(n['real faults seen']).toBe(n['real masters translated']);
    // SMMU architecture: CBA2Rn at GR1 + 0x800 + 4n, VA64 in bit 0 (GR1 is the second 4 KiB page)
    const smmu = board.models.get('/iommu@7fb00000') as SmmuV2;
    expect(smmu.read32(0x1000 + 0x800) & 1).toBe(1);
    const dma = k.drivers.allDevices().find((d) => d.name === '7ff00000.dma')!;
    const pa = k.pages.allocPages(0);
    const iova = dmaMapSingle(dma, pa + 0x123, 64, DMA_BIDIRECTIONAL);
    const dom = k.iommu.dmaDomainForDev(dma)!;
    const writes = smmu.stats.translations;
    expect(iommuIovaToPhys(dom, iova)).toBe(pa + 0x123);
    expect(smmu.stats.translations).toBe(writes); // ATS1PR walks the tables; it is no DMA translation
    expect(dmaUnmapSingle(dma, iova, 64, DMA_BIDIRECTIONAL)).toBe(0);
    const from = k.log.all().length;
    expect(iommuIovaToPhys(dom, iova)).toBe(0); // PAR.F: Linux logs it and answers 0
    expect(k.log.all().slice(from).some((x) => x.level === 'err' && /translation fault!/.test(x.msg))).toBe(true);
    k.pages.freePages(pa, 0);
    expect(shutdown(k).pagesInUse).toBe(0);
  });

  it('the port really goes through the driver-programmed stream: a live mapping reads back, an unmapped IOVA faults, a bypassed stream uses physical addresses', () => {
    const { k, board } = boot('qcom/sdm845-mtp.dts');
    const sdhci = k.drivers.allDevices().find((d) => d.name === '8804000.sdhci')!;
    const port = board.masterPort('/soc@0/sdhci@8804000')!;
    // sdm845: iommus = <&apps_smmu 0xa0 0xf>: StreamID 0xa0 (the mask is the SMR's, not the ID's)
    expect([port.streamId, port.iommu]).toEqual([0xa0, '/soc@0/iommu@15000000']);
    // the mask 0xf lets the SDHCI also issue 0xaf: the SMR the driver wrote must match it
    expect([...port.streamIds]).toEqual([0xa0, 0xaf]);
    expect([...port.maskVariants]).toEqual([0xaf]);
    const pa = k.pages.allocPages(0);
    board.mem.writeBytes(pa, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
    const iova = dmaMapSingle(sdhci, pa, 8, DMA_BIDIRECTIONAL);
    expect(iova).not.toBe(pa); // a DMA domain: an IOVA, not the physical address
    const got = new Uint8Array(8);
    expect(port.read(iova, got)).toBe(PORT_OK);
    expect([...got]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    got.fill(0);
    expect(port.useStream(1).read(iova, got)).toBe(PORT_OK);
    expect([...got]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    port.useStream(0);
    // the physical address itself is not mapped for the device
    expect(port.read(pa, got)).toBe(PORT_FAULT);
    expect(dmaUnmapSingle(sdhci, iova, 8, DMA_BIDIRECTIONAL)).toBe(0);
    expect(port.read(iova, got)).toBe(PORT_FAULT);
    k.pages.freePages(pa, 0);
    // a modelled device is its own master; a node without iommus has no port
    expect(() => board.masterPort('/soc@0/gpu@5000000')).toThrow(/device model of its own/);
    expect(board.masterPort('/soc@0/pinctrl@3400000')).toBeUndefined();
    expect(() => board.masterPort('/soc@0/nothing@0')).toThrow(/no such node/);
    expect(shutdown(k).pagesInUse).toBe(0);
  });

  it('PCI requester IDs reach their SMMU through the host bridge iommu-map (FVP: SMMUv3; LS1028A: MMU-500, one-cell iommus); a requester ID no enumerated function uses is aborted by what the driver programmed', () => {
    for (const c of [
      // iommu-map = <0x0 &iommu 0x0 0x10000>: StreamID = RID; bus 1 has no function, so no STE
      { file: 'arm/fvp-base-revc.dts', host: '/pci@40000000', rid: 0x100, sid: 0x100, smmu: '/iommu@2b400000', log: /sid 0x100/ },
      // iommu-map = <0 &smmu 0x17 0xe>: StreamID = 0x17 + RID; 00:01.0 is not a function of the tree
      { file: 'freescale/fsl-ls1028a-rdb.dts', host: '/soc/pcie@1f0000000', rid: 0x8, sid: 0x1f, smmu: '/soc/iommu@5000000', log: /Blocked unknown Stream ID 0x1f/ },
    ]) {
      const { k, board } = boot(c.file);
      // the workload exercises the enumerated functions (see pci-boards.test.ts)
      const r = runDma(k, { copies: 1 });
      expect(r.ok).toBe(true);
      expect(r.counts!['real masters exercised']).toBeGreaterThan(0);
      const port = board.masterPortForRid(c.host, c.rid)!;
      expect([port.streamId, port.iommu]).toEqual([c.sid, c.smmu]);
      // a requester ID outside the map has no path (LS1028A maps 14 IDs), inside it has
      expect(board.masterPortForRid(c.host, 0x2e)?.streamId ?? -1).toBe(c.file.includes('fvp') ? 0x2e : -1);
      const m = board.models.get(c.smmu);
      const before = m instanceof SmmuV3 ? m.stats.events : (m as SmmuV2).stats.globalFaults;
      const from = k.log.all().length;
      expect(port.read(0x1000, new Uint8Array(16))).toBe(PORT_FAULT);
      expect((m instanceof SmmuV3 ? m.stats.events : (m as SmmuV2).stats.globalFaults) - before).toBe(1);
      expect(k.log.all().slice(from).some((x) => x.level === 'err' && c.log.test(x.msg))).toBe(true);
      expect(shutdown(k).pagesInUse).toBe(0);
    }
  });

  it('fails naming the device when the model no longer matches its stream (an SMR invalidated behind the driver)', () => {
    const { k, board } = boot('qcom/sdm845-mtp.dts');
    const smmu = board.models.get('/soc@0/iommu@15000000') as SmmuV2;
    // SMMU architecture: SMRn at GR0 + 0x800 + 4n, VALID in bit 31, ID in the low bits
    let hit = -1;
    for (let i = 0; i < smmu.config.numSmr; i++) {
      const smr = smmu.read32(0x800 + 4 * i);
      if (smr >>> 31 === 1 && (smr & 0x7fff) === 0xa0) hit = i;
    }
    expect(hit).toBeGreaterThanOrEqual(0);
    smmu.write32(0x800 + 4 * hit, 0);
    const r = runDma(k, { copies: 1 });
    expect(r.ok).toBe(false);
    expect(r.problems.some((p) => p.startsWith('8804000.sdhci (/soc@0/sdhci@8804000, stream 0xa0 on 15000000.iommu): device read'))).toBe(true);
    expect(r.counts!['real masters failed']).toBe(1);
    // the others still pass
    expect(r.counts!['real masters translated']).toBeGreaterThanOrEqual(2);
    expect(shutdown(k).pagesInUse).toBe(0);
  });

  it('fails naming the stream when an SMR mask is narrowed behind the driver: 0xa0 still matches, 0xaf no longer does', () => {
    const { k, board } = boot('qcom/sdm845-mtp.dts');
    const smmu = board.models.get('/soc@0/iommu@15000000') as SmmuV2;
    let hit = -1;
    for (let i = 0; i < smmu.config.numSmr; i++) {
      const smr = smmu.read32(0x800 + 4 * i);
      if (smr >>> 31 === 1 && (smr & 0x7fff) === 0xa0) hit = i;
    }
    expect(hit).toBeGreaterThanOrEqual(0);
    // the driver wrote MASK (bits 30:16) = 0xf from iommus = <&apps_smmu 0xa0 0xf>
    expect((smmu.read32(0x800 + 4 * hit) >>> 16) & 0x7fff).toBe(0xf);
    smmu.write32(0x800 + 4 * hit, (0x8000_0000 | 0xa0) >>> 0);
    const r = runDma(k, { copies: 1 });
    expect(r.ok).toBe(false);
    expect(r.problems.filter((p) => p.startsWith('8804000.sdhci ')).map((p) => p.replace(/^.*: device read/, 'device read'))).toEqual([
      expect.stringMatching(/^device read through its SMR-mask variant 0xaf at 0x[0-9a-f]+: (fault|terminated without abort)$/),
    ]);
    expect(shutdown(k).pagesInUse).toBe(0);
  });
});
