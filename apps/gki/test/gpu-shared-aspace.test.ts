/**
 * The GPU workload on an Adreno whose SMMU has no Adreno implementation: v6.12's
 * sdm845-cheza.dtsi rewrites the GPU SMMU's compatible to "qcom,sdm845-smmu-v2",
 * "qcom,smmu-v2" (no "qcom,adreno-smmu"). Linux then gives msm no per-process page tables
 * (every file shares the GPU's address space, MSM_PARAM_VA_START is -EINVAL) and no fault
 * information: a faulting write is terminated by the SMMU, msm does not recover the GPU, and
 * the submit completes. The deliberate fault must still be seen, and the run be OK; with the
 * Adreno SMMU (the MTP's own tree) the submit must still fail.
 *
 * The board is the committed sdm845-mtp tree with that one compatible overridden.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Board, compileDts } from '@gki/hw';
import { Kernel } from '@gki/kernel';
import { MSM_PARAM_VA_START, MSM_PIPE_3D0, msmDevices } from '@gki/drm-msm';
import { defaultImage } from '../src/image.js';
import { runGpu } from '../src/runtime/workloads.js';

const file = join(dirname(new URL(import.meta.url).pathname), '..', '..', '..', 'boards', 'qcom', 'sdm845-mtp.dts');

function boot(plainSmmu: boolean): Kernel {
  let src = readFileSync(file, 'utf8');
  if (plainSmmu) src += '\n&iommu_5040000 {\n\tcompatible = "qcom,sdm845-smmu-v2", "qcom,smmu-v2";\n};\n';
  return Kernel.boot(Board.fromDtb(compileDts(src, { filename: file })), defaultImage());
}

describe('the GPU workload when the Adreno SMMU has no Adreno implementation (sdm845-cheza)', () => {
  it('shares one GPU address space, sees the deliberate fault and passes, the submit having completed', () => {
    const k = boot(true);
    const drm = msmDevices(k)[0]!;
    expect(drm).toBeDefined();
    const f = drm.open({ pid: 9, comm: 'probe' });
    if (typeof f === 'number') throw new Error(`open: ${f}`);
    expect(f.getParam({ pipe: MSM_PIPE_3D0, param: MSM_PARAM_VA_START })).toBeLessThan(0);
    f.close();
    const r = runGpu(k);
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.lines.some((l) => /deliberate write at GPU address 0x10000000: submit completed after the SMMU terminated the write/.test(l))).toBe(true);
    expect(r.lines.some((l) => /copy jobs ok in 3 contexts \(sharing the GPU's one address space\)/.test(l))).toBe(true);
    expect(r.faults.filter((x) => x.address === 0x1000_0000 && x.access === 'write')).toHaveLength(1);
  });

  it('still requires the submit to fail behind the Adreno SMMU (process page tables, stall and recovery)', () => {
    const r = runGpu(boot(false));
    expect(r.ok).toBe(true);
    expect(r.lines.some((l) => /copy jobs ok in 3 contexts \(each its own GPU address space\)/.test(l))).toBe(true);
    expect(r.lines.some((l) => /deliberate write at GPU address 0x10000000: submit ended with -\d+/.test(l))).toBe(true);
  });
});
