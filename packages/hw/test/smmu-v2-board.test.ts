/**
 * SMMUv2 models instantiated from device trees: a trimmed Qualcomm SDM845 fragment (its
 * apps_smmu MMU-500 and adreno_smmu SMMU-v2 nodes as the kernel's sdm845.dtsi writes them,
 * without clocks and power domains) with DMA masters standing in for the devices, plus the
 * generic compatibles and the gki,* overrides.
 */
import { describe, expect, it } from 'vitest';
import { Board, buildFdt, DmaMaster, FdtError, node, prop, ref, SmmuV2, writeDtb, type DraftNode, type DraftProp } from '../src/index.js';

const GIC_SPI = 0;
const LEVEL_HIGH = 4;
const EDGE_RISING = 1;
const spi = (n: number, type = LEVEL_HIGH): number[] => [GIC_SPI, n, type];

/** sdm845 apps_smmu: 1 global + 64 context interrupts (SPI 65, 96..118, 181..192, 315..343). */
const APPS_SPIS = [65, ...Array.from({ length: 23 }, (_, i) => 96 + i), ...Array.from({ length: 12 }, (_, i) => 181 + i), ...Array.from({ length: 29 }, (_, i) => 315 + i)];

function dma(name: string, base: number, iommus: (number | ReturnType<typeof ref>)[]): DraftNode {
  return node(name, [prop.string('compatible', 'gki,dma-master'), prop.reg(2, 2, [base, 0x1000]), prop.cells('iommus', ...iommus)]);
}

function sdm845(opts: { appsCompat?: string[]; appsExtra?: DraftProp[]; appsSize?: number } = {}): Board {
  const tree = buildFdt({
    root: node('', [prop.u32('#address-cells', 2), prop.u32('#size-cells', 2), prop.u32('interrupt-parent', ref('intc')), prop.string('model', 'sdm845 fragment')], [
      node('memory@80000000', [prop.string('device_type', 'memory'), prop.reg(2, 2, [0x8000_0000, 0x1000_0000])]),
      node('soc', [prop.u32('#address-cells', 2), prop.u32('#size-cells', 2), prop.empty('ranges'), prop.string('compatible', 'simple-bus')], [
        node('intc: interrupt-controller@17a00000', [
          prop.string('compatible', 'arm,gic-v3'),
          prop.u32('#interrupt-cells', 3),
          prop.empty('interrupt-controller'),
          prop.reg(2, 2, [0x17a0_0000, 0x1_0000]),
        ]),
        node('adreno_smmu: iommu@5040000', [
          prop.strings('compatible', ['qcom,sdm845-smmu-v2', 'qcom,adreno-smmu', 'qcom,smmu-v2']),
          prop.reg(2, 2, [0x0504_0000, 0x1_0000]),
          prop.u32('#iommu-cells', 1),
          prop.u32('#global-interrupts', 2),
          prop.cells('interrupts', ...spi(229), ...spi(231), ...[364, 365, 366, 367, 368, 369, 370, 371].flatMap((n) => spi(n, EDGE_RISING))),
        ]),
        node('apps_smmu: iommu@15000000', [
          prop.strings('compatible', opts.appsCompat ?? ['qcom,sdm845-smmu-500', 'arm,mmu-500']),
          prop.reg(2, 2, [0x1500_0000, opts.appsSize ?? 0x8_0000]),
          prop.u32('#iommu-cells', 2),
          prop.u32('#global-interrupts', 1),
          prop.cells('interrupts', ...APPS_SPIS.flatMap((n) => spi(n))),
          ...(opts.appsExtra ?? []),
        ]),
        // Stand-ins for devices of the real tree, with their iommus as sdm845.dtsi lists them.
        dma('gpu@5000000', 0x0500_0000, [ref('adreno_smmu'), 0]),
        dma('gmu@506a000', 0x0506_a000, [ref('adreno_smmu'), 5]),
        dma('mdss@ae00000', 0x0ae0_0000, [ref('apps_smmu'), 0x880, 0x8, ref('apps_smmu'), 0xc80, 0x8]),
        dma('dma-controller@17184000', 0x1718_4000, [ref('apps_smmu'), 0x1806, 0x0]),
        dma('wifi@18800000', 0x1880_0000, [ref('apps_smmu'), 0x0040, 0x1]),
      ]),
    ]),
  });
  return Board.fromDtb(writeDtb(tree));
}

describe('SMMUv2 from a trimmed SDM845 device tree', () => {
  it('instantiates both SMMUs with geometry from reg and the interrupts', () => {
    const b = sdm845();
    const apps = b.models.get('/soc/iommu@15000000');
    const adreno = b.models.get('/soc/iommu@5040000');
    expect(apps).toBeInstanceOf(SmmuV2);
    expect(adreno).toBeInstanceOf(SmmuV2);
    const a = apps as SmmuV2;
    const g = adreno as SmmuV2;
    // apps_smmu: 0x80000 = 128 pages of 4 KiB -> NUMPAGE 64 (NUMPAGENDXB 5), 64 context banks.
    const id1 = b.bus.read32(0x1500_0000 + 0x24);
    expect([(id1 >>> 28) & 7, id1 & 0xff, id1 >>> 31]).toEqual([5, 64, 0]);
    expect(a.config.name).toBe('qcom-mmu-500');
    expect(b.bus.read32(0x1500_0000 + 0x3c)).toBe(0x21); // ID7: MMU-500 r2p1
    // adreno_smmu: 0x10000 = 16 pages -> NUMPAGE 8, 8 context banks, stage 1 only.
    const gid1 = b.bus.read32(0x0504_0000 + 0x24);
    expect([(gid1 >>> 28) & 7, gid1 & 0xff]).toEqual([2, 8]);
    expect((b.bus.read32(0x0504_0000 + 0x20) >>> 29) & 3).toBe(2); // S1TS, no S2TS
    expect(g.config.name).toBe('qcom-adreno-smmu-v2');
    expect(g.contextBankOffset(7)).toBe(15 * 0x1000);
  });

  it('wires the first #global-interrupts lines as global and the rest to the context banks in order', () => {
    const b = sdm845();
    // Adreno SMMU context bank 3 faults: its interrupt is the 4th context line, SPI 367.
    const base = 0x0504_0000;
    const cb3 = base + 11 * 0x1000;
    b.bus.write32(cb3 + 0x0, 1 << 6); // SCTLR.CFIE
    b.bus.write32(cb3 + 0x5c, 1 << 1); // FSRRESTORE: TF
    expect(b.irq.line(32 + 367).level).toBe(true);
    expect(b.irq.line(32 + 366).level).toBe(false);
    // A global fault raises the first global line (SPI 229).
    b.bus.write32(base, (1 << 2) | (1 << 1) | (1 << 10)); // GFIE, GFRE, USFCFG
    const dmaGpu = b.models.get('/soc/gpu@5000000') as DmaMaster;
    expect(dmaGpu.copy(0x8000_0000, 0x8000_1000, 16) & 4).toBe(4); // SID 0 unmatched: fault
    expect(b.bus.read32(base + 0x48)).toBe(1 << 1); // sGFSR.USF
    expect(b.bus.read32(base + 0x54)).toBe(0); // sGFSYNR1: StreamID 0
    expect(b.irq.line(32 + 229).level).toBe(true);
    // apps_smmu context bank 63 uses the last listed interrupt, SPI 343.
    const acb63 = 0x1500_0000 + (64 + 63) * 0x1000;
    b.bus.write32(acb63, 1 << 6);
    b.bus.write32(acb63 + 0x5c, 1 << 3);
    expect(b.irq.line(32 + 343).level).toBe(true);
  });

  it('attaches every master with iommus, with the StreamID of its first entry', () => {
    const b = sdm845();
    const apps = b.models.get('/soc/iommu@15000000') as SmmuV2;
    const adreno = b.models.get('/soc/iommu@5040000') as SmmuV2;
    const m = (p: string): DmaMaster => b.models.get(p) as DmaMaster;
    expect(adreno.masterStreamIds(m('/soc/gpu@5000000'))).toEqual([0]);
    expect(adreno.masterStreamIds(m('/soc/gmu@506a000'))).toEqual([5]);
    expect(apps.masterStreamIds(m('/soc/mdss@ae00000'))).toEqual([0x880, 0xc80]);
    expect(apps.masterStreamIds(m('/soc/dma-controller@17184000'))).toEqual([0x1806]);
    expect(apps.attachedMasters).toHaveLength(3);
    expect(m('/soc/mdss@ae00000').streamId).toBe(0x880); // 2-cell iommus: first cell is the SID
    // The master's traffic carries that StreamID: match it with SMR 0x880 mask 0x8, bypass.
    const base = 0x1500_0000;
    b.bus.write32(base + 0xc00, 1 << 16); // S2CR0 bypass
    b.bus.write32(base + 0x800, ((1 << 31) | (0x8 << 16) | 0x880) >>> 0);
    b.bus.write32(base, (1 << 1) | (1 << 10)); // GFRE, USFCFG; CLIENTPD clear
    b.mem.writeBytes(0x8000_0000, Uint8Array.of(1, 2, 3, 4));
    expect(m('/soc/mdss@ae00000').copy(0x8000_0000, 0x8000_2000, 4)).toBe(2); // DONE
    expect(m('/soc/dma-controller@17184000').copy(0x8000_0000, 0x8000_2000, 4) & 4).toBe(4); // SID 0x1806: unmatched
    expect(b.bus.read32(base + 0x54)).toBe(0x1806);
  });

  it('matches SoC-specific Qualcomm names without the generic fallback', () => {
    const b = sdm845({ appsCompat: ['qcom,sm8150-smmu-500'] });
    expect((b.models.get('/soc/iommu@15000000') as SmmuV2).config.name).toBe('qcom-mmu-500');
  });

  it('honours gki,* overrides; sizes itself to its reg window', () => {
    const b = sdm845({ appsExtra: [prop.u32('gki,num-context-banks', 16), prop.u32('gki,num-smr', 32), prop.u32('gki,stream-id-bits', 14)] });
    const id0 = b.bus.read32(0x1500_0000 + 0x20);
    expect([id0 & 0xff, (id0 >>> 9) & 0xf]).toEqual([32, 14]);
    expect(b.bus.read32(0x1500_0000 + 0x24) & 0xff).toBe(16);
    // ID1: PAGESIZE (bit 31), NUMPAGENDXB (30:28, NUMPAGE = 2^(n+1)), NUMCB (7:0)
    const id1 = (bb: Board): number[] => {
      const v = bb.bus.read32(0x1500_0000 + 0x24);
      return [v >>> 31, (v >>> 28) & 7, v & 0xff];
    };
    // 8 MiB, as Layerscape and Tegra 186 MMU-500s decode: 64 KiB pages, NUMPAGE 64
    const big = sdm845({ appsSize: 0x80_0000 });
    expect(id1(big)).toEqual([1, 5, 64]);
    expect(big.notes).toEqual([]);
    // not 2 x a power of two pages: the largest SMMU that fits (0x40000, NUMPAGE 32), with a note
    const odd = sdm845({ appsSize: 0x6_0000 });
    expect(id1(odd)).toEqual([0, 4, 32]);
    expect(odd.notes.map((n) => n.message)).toEqual([
      '/soc/iommu@15000000: reg size 0x60000 is not 2 x NUMPAGE pages of 4096 bytes; the SMMU model decodes the first 0x40000 bytes (NUMPAGE 32)',
    ]);
    expect(() => sdm845({ appsSize: 0x3000 })).toThrow(FdtError);
    expect(() => sdm845({ appsSize: 0x3000 })).toThrow(/reg size 0x3000 cannot hold 2 x NUMPAGE pages of 4096 bytes/);
    expect(() => sdm845({ appsExtra: [prop.u32('gki,num-context-banks', 65)] })).toThrow(/65 context banks do not fit in 64/);
    expect(() => sdm845({ appsExtra: [prop.string('gki,smmu-preset', 'nope')] })).toThrow(/unknown gki,smmu-preset "nope"/);
  });

  it('gives each register window of an NVIDIA Tegra SMMU node its own MMU-500 (tegra194.dtsi: two instances)', () => {
    const tree = buildFdt({
      root: node('', [prop.u32('#address-cells', 2), prop.u32('#size-cells', 2), prop.u32('interrupt-parent', ref('gic'))], [
        node('memory@80000000', [prop.string('device_type', 'memory'), prop.reg(2, 2, [0x8000_0000, 0x1000_0000])]),
        node('gic: interrupt-controller@3881000', [prop.string('compatible', 'arm,gic-400'), prop.u32('#interrupt-cells', 3), prop.empty('interrupt-controller'), prop.reg(2, 2, [0x0388_1000, 0x1000])]),
        node('smmu: iommu@12000000', [
          prop.strings('compatible', ['nvidia,tegra194-smmu', 'nvidia,smmu-500']),
          prop.reg(2, 2, [0x1200_0000, 0x80_0000], [0x1100_0000, 0x80_0000]),
          prop.cells('interrupts', ...spi(170), ...spi(232), ...spi(170), ...spi(170)),
          prop.u32('#global-interrupts', 2),
          prop.u32('#iommu-cells', 1),
        ]),
        dma('ethernet@2490000', 0x0249_0000, [ref('smmu'), 0x14]),
      ]),
    });
    const b = Board.fromDtb(writeDtb(tree));
    expect([...b.models.keys()]).toEqual(['/iommu@12000000', '/ethernet@2490000']);
    const first = b.models.get('/iommu@12000000') as SmmuV2;
    const second = b.bus.find(0x1100_0000)!.device as SmmuV2;
    expect(second).toBeInstanceOf(SmmuV2);
    expect(second).not.toBe(first);
    // identical parts (ID registers), each decoding its whole 8 MiB window
    for (const off of [0x20, 0x24, 0x28]) expect(b.bus.read32(0x1100_0000 + off)).toBe(b.bus.read32(0x1200_0000 + off));
    expect(b.bus.find(0x1180_0000 - 4)!.device).toBe(second);
    // the master translates through the first
    expect(first.masterStreamIds(b.models.get('/ethernet@2490000') as DmaMaster)).toEqual([0x14]);
  });

  it('builds SMMUv1 parts from their compatibles', () => {
    for (const [compat, name] of [['arm,mmu-400', 'mmu-400'], ['arm,mmu-401', 'mmu-401'], ['arm,smmu-v1', 'smmu-v1'], ['arm,smmu-v2', 'smmu-v2'], ['cavium,smmu-v2', 'smmu-v2']] as const) {
      const b = sdm845({ appsCompat: [compat] });
      const s = b.models.get('/soc/iommu@15000000') as SmmuV2;
      expect(s.config.name).toBe(name);
      expect(s.config.version).toBe(name.startsWith('mmu-4') || name === 'smmu-v1' ? 1 : 2);
    }
  });
});
