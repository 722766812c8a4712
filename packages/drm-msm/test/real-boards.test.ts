/**
 * msm on the real SDM845 MTP tree of the repository's boards/ folder (compiled from DTS, as
 * the kernel's tree describes it, trimmed of clocks and power domains): the Adreno 630 and
 * its GMU are instantiated as models, arm_smmu binds the Adreno SMMU, and the GPU binds; and
 * the same on the SM8550 MTP tree, whose Adreno 740 is an a7xx part.
 */
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import ioPgtableArm from '@gki/format-arm-lpae';
import { Board, compileDtsFile } from '@gki/hw';
import { ioPgtableCoreModule } from '@gki/io-pgtable-core';
import { Kernel } from '@gki/kernel';
import armSmmu from '@gki/smmu';
import msm from '../src/index.js';

const boards = join(dirname(new URL(import.meta.url).pathname), '..', '..', '..', 'boards');

describe('msm on the real SDM845 MTP tree', () => {
  it('binds the Adreno 630 behind the Adreno SMMU', () => {
    const board = Board.fromDtb(compileDtsFile(join(boards, 'qcom/sdm845-mtp.dts')).dtb);
    expect([...board.models.keys()]).toEqual(expect.arrayContaining(['/soc@0/gpu@5000000', '/soc@0/gmu@506a000', '/soc@0/iommu@5040000']));
    const k = Kernel.boot(board, { builtin: [ioPgtableCoreModule], modules: [ioPgtableArm, armSmmu, msm], load: ['arm_smmu', 'msm'] });
    expect(k.drivers.findDevice('5040000.iommu')).toMatchObject({ state: 'bound' });
    const gpu = k.drivers.findDevice('5000000.gpu')!;
    expect(gpu.state).toBe('bound');
    expect(gpu.driver!.name).toBe('adreno');
    expect(k.log.grep(/Initialized msm .* for 5000000.gpu/)).toHaveLength(1);
    expect(k.log.all().filter((l) => l.level === 'crit')).toEqual([]);
  });
});

describe('msm on the real SM8550 MTP tree', () => {
  it('binds the Adreno 740 (a7xx gen2) behind the Adreno SMMU', () => {
    const board = Board.fromDtb(compileDtsFile(join(boards, 'qcom/sm8550-mtp.dts')).dtb);
    expect([...board.models.keys()]).toEqual(expect.arrayContaining(['/soc@0/gpu@3d00000', '/soc@0/gmu@3d6a000', '/soc@0/iommu@3da0000']));
    const k = Kernel.boot(board, { builtin: [ioPgtableCoreModule], modules: [ioPgtableArm, armSmmu, msm], load: ['arm_smmu', 'msm'] });
    expect(k.drivers.findDevice('3da0000.iommu')).toMatchObject({ state: 'bound' });
    const gpu = k.drivers.findDevice('3d00000.gpu')!;
    expect(gpu.state).toBe('bound');
    expect(gpu.driver!.name).toBe('adreno');
    expect(k.log.grep(/Initialized msm .* for 3d00000.gpu/)).toHaveLength(1);
    expect(k.log.all().filter((l) => l.level === 'crit' || l.level === 'err')).toEqual([]);
  });
});
