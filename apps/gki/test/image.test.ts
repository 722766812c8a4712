import { describe, expect, it } from 'vitest';
import { Board, buildFdt, defaultBoardSpec, node, prop, ref, socOf, writeDtb } from '@gki/hw';
import { Kernel, iommuGetDomainForDev } from '@gki/kernel';
import { defaultImage } from '../src/index.js';

describe('the default image', () => {
  it('binds an MMU-500 with arm_smmu and gives its masters DMA domains', () => {
    const spec = defaultBoardSpec();
    const soc = socOf(spec);
    soc.children[0]!.props.push(prop.cells('iommus', ref('smmu'), 0x40));
    const irqs = Array.from({ length: 9 }, (_, i) => [0, 100 + i, 4]).flat();
    soc.children.push(
      node('smmu: iommu@2b400000', [
        prop.strings('compatible', ['qcom,sdm845-smmu-500', 'arm,mmu-500']),
        prop.reg(1, 1, [0x2b40_0000, 0x2_0000]),
        prop.u32('interrupt-parent', ref('gic')),
        prop.cells('interrupts', ...irqs),
        prop.u32('#global-interrupts', 1),
        prop.u32('#iommu-cells', 1),
      ]),
    );
    const k = Kernel.boot(Board.fromDtb(writeDtb(buildFdt(spec))), defaultImage());
    const smmu = k.drivers.findDevice('2b400000.iommu')!;
    expect([smmu.driver?.name, smmu.state]).toEqual(['arm-smmu', 'bound']);
    const m = k.drivers.findDevice('a000000.dma')!;
    expect(iommuGetDomainForDev(m)?.type).toBe('dma');
    expect(k.modules.find('arm_smmu')!.refcount).toBe(2); // one master, one default domain
  });
});
