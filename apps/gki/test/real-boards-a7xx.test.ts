/**
 * The Adreno 740 of the real SM8550 tree (boards/qcom/sm8550-mtp.dts, booted with the default
 * image) is usable, not just bound: msm opens a file, allocates GEM buffers mapped through the
 * Adreno SMMU, and a submit of CP_MEM_TO_MEM packets runs on the model's gen7 command processor,
 * which really reads and writes memory through the SMMU (the translations are counted there),
 * without a fault; the ring's fence comes back done. The a730 (gen1), the a750 (gen3) and the
 * X1-85 (gen2, x1e80100) run on their own SoC trees (listed below) too; the a730 and a750 also
 * run in the SM8550 layout with the GPU's and GMU's compatibles overridden to theirs.
 */
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AdrenoGpu, Board, SmmuV2, compileDts, compileDtsFile } from '@gki/hw';
import { Kernel } from '@gki/kernel';
import { defaultImage } from '../src/image.js';
import { gpuTargets } from '../src/runtime/gpu.js';

const boards = join(dirname(new URL(import.meta.url).pathname), '..', '..', '..', 'boards');

describe('qcom/sm8550-mtp.dts: the Adreno 740 runs work', () => {
  const board = Board.fromDtb(compileDtsFile(join(boards, 'qcom/sm8550-mtp.dts')).dtb);
  const k = Kernel.boot(board, defaultImage());
  const gpu = board.models.get('/soc@0/gpu@3d00000') as AdrenoGpu;
  const smmu = board.models.get('/soc@0/iommu@3da0000') as SmmuV2;

  it('is modelled as a gen7 part and bound by msm as an Adreno 740', () => {
    expect(gpu).toBeInstanceOf(AdrenoGpu);
    expect(gpu.gen7).toBe(true);
    const targets = gpuTargets(k).filter((t) => t.device === '3d00000.gpu');
    expect(targets.map((t) => t.driver)).toEqual(['msm']);
    expect(targets[0]!.name).toMatch(/^Adreno a740 /);
  });

  it('copies a buffer on the GPU through the Adreno SMMU without a fault', () => {
    const target = gpuTargets(k).find((t) => t.device === '3d00000.gpu')!;
    const faults = target.faultCount();
    const translations = smmu.stats.translations;
    const before = { ...gpu.cp.stats.opcodes };
    const ran = (op: string): number => (gpu.cp.stats.opcodes[op] ?? 0) - (before[op] ?? 0);
    const errors = gpu.cp.stats.opcodeErrors;
    const ctx = target.open();
    expect(typeof ctx).not.toBe('number');
    if (typeof ctx === 'number') return;
    const n = 0x3000 - 24;
    expect(ctx.copy(n, 0x5eed)).toBe(n);
    expect(ctx.close()).toBe(0);
    // one CP_MEM_TO_MEM per dword, each read and write translated by the SMMU model
    expect(ran('CP_MEM_TO_MEM')).toBe(n / 4);
    // the a7xx forms: the process's table switched under CP_THREAD_CONTROL, the fence written
    // by CP_EVENT_WRITE7, BV held back by CP_WAIT_TIMESTAMP; none refused by the CP
    expect(ran('CP_SMMU_TABLE_UPDATE')).toBeGreaterThanOrEqual(1);
    expect(ran('CP_THREAD_CONTROL')).toBeGreaterThanOrEqual(1);
    expect(ran('CP_EVENT_WRITE7')).toBeGreaterThanOrEqual(1);
    expect(ran('CP_WAIT_TIMESTAMP')).toBeGreaterThanOrEqual(1);
    expect(gpu.cp.stats.opcodeErrors).toBe(errors);
    expect(smmu.stats.translations - translations).toBeGreaterThanOrEqual(n / 4);
    expect(target.faultCount()).toBe(faults);
    expect(smmu.stats.contextFaults).toBe(0);
  });
});

describe('the SM8550 layout with an a730 or an a750 in it (compatibles overridden)', () => {
  for (const part of [
    { name: 'a730', gpu: 'qcom,adreno-730.1', gmu: 'qcom,adreno-gmu-730.1' },
    { name: 'a750', gpu: 'qcom,adreno-43051401', gmu: 'qcom,adreno-gmu-750.1' },
  ])
    it(`${part.name}: bound by msm, copies through the Adreno SMMU`, () => {
      const src = `#include "sm8550-mtp.dts"\n&gpu { compatible = "${part.gpu}", "qcom,adreno"; };\n&gmu { compatible = "${part.gmu}", "qcom,adreno-gmu"; };\n`;
      const board = Board.fromDtb(compileDts(src, { filename: join(boards, 'qcom', `sm8550-${part.name}.dts`) }));
      const k = Kernel.boot(board, defaultImage());
      const gpu = board.models.get('/soc@0/gpu@3d00000') as AdrenoGpu;
      expect(gpu.gen7).toBe(true);
      expect(k.log.grep(/Initialized msm .* for 3d00000.gpu/)).toHaveLength(1);
      const target = gpuTargets(k).find((t) => t.device === '3d00000.gpu')!;
      expect(target.name).toMatch(new RegExp(`^Adreno ${part.name} `));
      const ctx = target.open();
      if (typeof ctx === 'number') throw new Error(`open: ${ctx}`);
      expect(ctx.copy(0x1000, 0x730)).toBe(0x1000);
      expect(ctx.close()).toBe(0);
      expect(target.faultCount()).toBe(0);
      expect(gpu.cp.stats.opcodes['CP_EVENT_WRITE7'] ?? 0).toBeGreaterThan(0);
    });
});

describe('the a7xx parts on their own SoC trees', () => {
  for (const part of [
    { file: 'qcom/sm8450-hdk.dts', name: 'a730' },
    { file: 'qcom/sm8650-hdk.dts', name: 'a750' },
    { file: 'qcom/x1e80100-crd.dts', name: 'x185' },
  ])
    it(`${part.file}: the ${part.name} is a gen7 model, bound by msm, and copies through the Adreno SMMU`, () => {
      const board = Board.fromDtb(compileDtsFile(join(boards, part.file)).dtb);
      const k = Kernel.boot(board, defaultImage());
      const gpu = board.models.get('/soc@0/gpu@3d00000') as AdrenoGpu;
      const smmu = board.models.get('/soc@0/iommu@3da0000') as SmmuV2;
      expect(gpu).toBeInstanceOf(AdrenoGpu);
      expect(gpu.gen7).toBe(true);
      const target = gpuTargets(k).find((t) => t.device === '3d00000.gpu')!;
      expect(target.driver).toBe('msm');
      expect(target.name).toMatch(new RegExp(`^Adreno ${part.name} `));
      const translations = smmu.stats.translations;
      const ctx = target.open();
      if (typeof ctx === 'number') throw new Error(`open: ${ctx}`);
      expect(ctx.copy(0x1000, 0x8450)).toBe(0x1000);
      expect(ctx.close()).toBe(0);
      expect(target.faultCount()).toBe(0);
      expect(smmu.stats.contextFaults).toBe(0);
      expect(smmu.stats.translations - translations).toBeGreaterThanOrEqual(0x1000 / 4);
      expect(gpu.cp.stats.opcodes['CP_EVENT_WRITE7'] ?? 0).toBeGreaterThan(0);
    });
});
