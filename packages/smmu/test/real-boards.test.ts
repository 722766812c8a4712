/**
 * arm_smmu on the real kernel trees of the repository's boards/ folder: the SDM845's MMU-500
 * (qcom,sdm845-smmu-500) and Adreno SMMU (qcom,adreno-smmu), and the Juno's MMU-401s, each
 * instantiated as a model by Board.fromDtb and bound by the driver.
 */
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import ioPgtableArm from '@gki/format-arm-lpae';
import { Board, compileDtsFile } from '@gki/hw';
import { ioPgtableCoreModule } from '@gki/io-pgtable-core';
import { Kernel } from '@gki/kernel';
import armSmmu from '../src/index.js';

const boards = join(dirname(new URL(import.meta.url).pathname), '..', '..', '..', 'boards');

function boot(file: string): { board: Board; k: Kernel } {
  const board = Board.fromDtb(compileDtsFile(join(boards, file)).dtb);
  const k = Kernel.boot(board, { builtin: [ioPgtableCoreModule], modules: [ioPgtableArm, armSmmu], load: ['arm_smmu'] });
  return { board, k };
}

function boundTo(k: Kernel, driver: string): string[] {
  return k.drivers
    .listDevices()
    .filter((d) => d.driver === driver && d.state === 'bound')
    .map((d) => d.name);
}

describe('arm_smmu on real kernel trees', () => {
  it('SDM845 MTP: apps_smmu (MMU-500) and adreno_smmu bind', () => {
    const { board, k } = boot('qcom/sdm845-mtp.dts');
    // the two SMMUs, and the Adreno GPU and GMU behind the Adreno SMMU
    // and the TrustZone behind qcom,scm (the board's secure monitor)
    expect([...board.models.keys()].sort()).toEqual(['/firmware/scm', '/soc@0/gmu@506a000', '/soc@0/gpu@5000000', '/soc@0/iommu@15000000', '/soc@0/iommu@5040000']);
    expect(boundTo(k, 'arm-smmu').sort()).toEqual(['15000000.iommu', '5040000.iommu']);
    expect(k.log.all().filter((l) => l.level === 'crit')).toEqual([]);
  });

  it('Juno: the enabled MMU-401s bind, the disabled MMU-400/401 do not exist', () => {
    const { k } = boot('arm/juno.dts');
    expect(boundTo(k, 'arm-smmu').sort()).toEqual(['2b600000.iommu', '7fb00000.iommu', '7fb10000.iommu', '7fb20000.iommu', '7fb30000.iommu']);
    expect(k.drivers.findDevice('2b400000.iommu')).toBeUndefined();
    expect(k.drivers.findDevice('2b500000.iommu')).toBeUndefined();
    expect(k.log.all().filter((l) => l.level === 'crit')).toEqual([]);
  });
});
