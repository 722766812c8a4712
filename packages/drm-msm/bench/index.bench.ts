/**
 * msm through the whole stack, on the @gki/hw Adreno a6xx model behind the SMMUv2 model (the
 * sdm845 GPU subtree of test/rig.ts, booted with Kernel.boot and the default modules):
 *
 *  - process switches in the command stream: SUBMIT of a one-packet IB (CP_MEM_WRITE) to
 *    retirement, from one file (no TTBR0 switch) and alternating between two files (the kernel
 *    emits CP_SMMU_TABLE_UPDATE + CP_MEM_WRITE + CACHE_INVALIDATE and the CP rewrites TTBR0 and
 *    invalidates the context's TLB on each);
 *  - buffer map and unmap in a process table: the per-process page table's map (largest page
 *    sizes the alignment allows) and unmap (which ends with a full TLB flush of the GPU's
 *    context through the SMMU driver and the model's registers), 1 MiB in 4 KiB pages and 2 MiB
 *    in one block;
 *  - the GPU's memory traffic through the SMMU: a 1 MiB CP_MEMCPY between two buffers of a
 *    process, every 4 KiB piece translated by the SMMU model (TLB warm), mapped in 4 KiB pages
 *    and in 2 MiB blocks;
 *  - a5xx submits: the same SUBMIT-to-retirement batches on an Adreno 530 (msm8996's SMMU,
 *    no split tables) and an Adreno 508 (sdm630's, the shared space in the TTBR1 half), from
 *    one file and from two alternating files (which share the GPU's one address space on a5xx:
 *    no table switch either way).
 *
 * Every sample is checked (the data arrived, fences without error). Setup is not timed.
 *
 *   pnpm --filter @gki/drm-msm bench            (add --json for the root runner's rows;
 *   BENCH_RUNS=n samples per case, default 15)
 */
import { performance } from 'node:perf_hooks';
import { settleCompiler } from '@gki/testkit/settle';
import { IOMMU_READ, IOMMU_WRITE } from '@gki/kernel';
import { MsmIommuPagetable, type MsmFile } from '../src/index.js';
import { memWrite, newBuf, pkt7, submitStream, wait, type Buf } from '../test/client.js';
import { Board } from '@gki/hw';
import { Kernel } from '@gki/kernel';
import { msmDevices } from '../src/index.js';
import { bootModelOk, defaultImage, sdm845GpuDtb } from '../test/rig.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const JSON_OUT = process.argv.includes('--json');
const SZ_4K = 0x1000;
const SZ_1M = 0x10_0000;
const SZ_2M = 0x20_0000;

function check(cond: boolean, what: string): void {
  if (!cond) throw new Error(`drm-msm bench: ${what}`);
}

interface Row {
  id: string;
  group: string;
  case: string;
  value: number;
  unit: string;
  min: number;
  max: number;
  vs?: string;
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/**
 * Times `fn` RUNS times after two warm-up calls; `setup` (untimed) runs before each call. Before
 * the warm-up and before the timed calls the main thread waits for V8's compiler threads to go
 * idle (@gki/testkit/settle), as the tinybench benches' `setup` hook does: a loop whose request
 * for optimized code meets a full compile queue otherwise stays in its slower
 * on-stack-replacement code for the process (BENCHMARKS.md, "the OSR rows").
 */
function sample(fn: () => void, setup: () => void = () => {}): number[] {
  const out: number[] = [];
  for (let i = 0; i < RUNS + 2; i++) {
    if (i === 0 || i === 2) settleCompiler();
    setup();
    const t0 = performance.now();
    fn();
    const t = performance.now() - t0;
    if (i >= 2) out.push(t);
  }
  return out;
}

function row(id: string, group: string, name: string, samplesMs: number[], per: number, unit: 'us/op' | 'ns/page' | 'MB/s', bytes = 0, vs?: string): Row {
  const conv = (ms: number): number => (unit === 'us/op' ? (ms * 1000) / per : unit === 'ns/page' ? (ms * 1e6) / per : bytes / (ms / 1000) / 1e6);
  const vals = samplesMs.map(conv);
  return { id, group, case: name, value: median(vals), unit, min: Math.min(...vals), max: Math.max(...vals), ...(vs ? { vs } : {}) };
}

function open(r: ReturnType<typeof bootModelOk>, pid: number): MsmFile {
  const f = r.drm.open({ pid, comm: `bench${pid}` });
  if (typeof f === 'number') throw new Error(`open: ${f}`);
  return f;
}

// ---------------------------------------------------------------- process switches

function switches(): Row[] {
  const r = bootModelOk();
  const files = [open(r, 1), open(r, 2)];
  const bufs = files.map((f) => ({ out: newBuf(f, SZ_4K, 0x1_0010_0000), cmds: Array.from({ length: 8 }, (_, i) => newBuf(f, SZ_4K, 0x1_0000_0000 + i * SZ_4K)) }));
  const BATCH = 32;
  let n = 0;
  const run = (alternate: boolean) => () => {
    const fences: [MsmFile, number][] = [];
    for (let i = 0; i < BATCH; i++) {
      const which = alternate ? i % 2 : 0;
      const f = files[which]!;
      const b = bufs[which]!;
      n++;
      fences.push([f, submitStream(f, b.cmds[i % 8]!, memWrite(b.out.iova, [n]), [{ buf: b.out, write: true }])]);
    }
    for (const [f, fence] of fences) check(wait(f, fence) === 0 && f.fenceStatus(0, fence) === 1, 'a submit did not complete');
  };
  const s0 = r.drm.gpu.stats.ttbrSwitches;
  const same = sample(run(false));
  check(r.drm.gpu.stats.ttbrSwitches - s0 <= 1, 'a same-process batch switched tables');
  const alt = sample(run(true));
  check(r.drm.gpu.stats.ttbrSwitches - s0 >= BATCH * RUNS, 'alternating submits did not switch tables');
  return [
    row('submit-same', 'process switches in the command stream', 'SUBMIT + retire, one process (no TTBR0 switch)', same, BATCH, 'us/op'),
    row('submit-switch', 'process switches in the command stream', 'SUBMIT + retire, two processes alternating (TTBR0 switch each)', alt, BATCH, 'us/op', 0, 'submit-same'),
  ];
}

// ---------------------------------------------------------------- a5xx submits

function a5xx(): Row[] {
  const rows: Row[] = [];
  for (const [id, gpu, smmu, label] of [
    ['a530', 'qcom,adreno-530.2', ['qcom,msm8996-smmu-v2', 'qcom,adreno-smmu', 'qcom,smmu-v2'], 'a530 (msm8996 SMMU, TTBR0 space)'],
    ['a508', 'qcom,adreno-508.0', ['qcom,sdm630-smmu-v2', 'qcom,adreno-smmu', 'qcom,smmu-v2'], 'a508 (sdm630 SMMU, TTBR1 half)'],
  ] as const) {
    const k = Kernel.boot(Board.fromDtb(sdm845GpuDtb({ gpuCompat: [gpu, 'qcom,adreno'], noGmu: true, noGmuNode: true, smmuCompat: [...smmu] })), defaultImage());
    const drm = msmDevices(k)[0];
    check(drm !== undefined, `msm did not bind the ${id}`);
    const files = [1, 2].map((pid) => {
      const f = drm!.open({ pid, comm: `bench${pid}` });
      if (typeof f === 'number') throw new Error(`open: ${f}`);
      return f;
    });
    const bufs = files.map((f) => ({ out: newBuf(f, SZ_4K), cmds: Array.from({ length: 8 }, () => newBuf(f, SZ_4K)) }));
    const BATCH = 32;
    let n = 0;
    const run = (alternate: boolean) => () => {
      const fences: [MsmFile, number][] = [];
      for (let i = 0; i < BATCH; i++) {
        const which = alternate ? i % 2 : 0;
        const f = files[which]!;
        const b = bufs[which]!;
        n++;
        fences.push([f, submitStream(f, b.cmds[i % 8]!, memWrite(b.out.iova, [n]), [{ buf: b.out, write: true }])]);
      }
      for (const [f, fence] of fences) check(wait(f, fence) === 0 && f.fenceStatus(0, fence) === 1, 'an a5xx submit did not complete');
    };
    const same = sample(run(false));
    const alt = sample(run(true));
    check(drm!.gpu.stats.ttbrSwitches === 0, 'an a5xx submit switched tables');
    rows.push(row(`a5xx-${id}-same`, 'a5xx submits (one shared address space)', `${label}: SUBMIT + retire, one process`, same, BATCH, 'us/op', 0, 'submit-same'));
    rows.push(row(`a5xx-${id}-alt`, 'a5xx submits (one shared address space)', `${label}: SUBMIT + retire, two processes alternating`, alt, BATCH, 'us/op', 0, 'submit-same'));
  }
  return rows;
}

// ---------------------------------------------------------------- map / unmap

function mapUnmap(): Row[] {
  const r = bootModelOk();
  const f = open(r, 1);
  const pt = f.ctx.aspace.mmu as MsmIommuPagetable;
  const rows: Row[] = [];
  const prot = IOMMU_READ | IOMMU_WRITE;
  for (const [label, size, iova, pages] of [
    ['1 MiB in 4 KiB pages', SZ_1M, 0x1_0000_1000, SZ_1M / SZ_4K],
    ['2 MiB in one 2 MiB block', SZ_2M, 0x1_0020_0000, SZ_2M / SZ_4K],
  ] as const) {
    const order = Math.log2(size / SZ_4K);
    const pa = r.k.pages.allocPages(order);
    check(pa > 0 && pa % size === 0, 'no aligned block for the map bench');
    const runs = [{ pa, len: size }];
    let mapped = false;
    const map = sample(
      () => {
        check(pt.map(iova, runs, size, prot) === 0, 'map failed');
        mapped = true;
      },
      () => {
        if (mapped) pt.unmap(iova, size);
        mapped = false;
      },
    );
    if (mapped) pt.unmap(iova, size);
    const unmap = sample(
      () => check(pt.unmap(iova, size) === 0, 'unmap failed'),
      () => check(pt.map(iova, runs, size, prot) === 0, 'map failed'),
    );
    check(pt.ops.iovaToPhys(iova) === 0, 'still mapped');
    r.k.pages.freePages(pa, order);
    const key = size === SZ_1M ? '4k' : '2m';
    rows.push(row(`map-${key}`, 'buffer map/unmap in a process table', `map ${label}`, map, pages, 'ns/page'));
    rows.push(row(`unmap-${key}`, 'buffer map/unmap in a process table', `unmap ${label} (+ TLB flush of the context)`, unmap, pages, 'ns/page'));
  }
  return rows;
}

// ---------------------------------------------------------------- memory traffic

function memcpyStream(dst: number, src: number, bytes: number): number[] {
  const lo = (a: number) => a % 2 ** 32;
  const hi = (a: number) => Math.floor(a / 2 ** 32);
  return [pkt7(0x75, 5), bytes / 4, lo(src), hi(src), lo(dst), hi(dst)];
}

function traffic(): Row[] {
  const r = bootModelOk();
  const f = open(r, 1);
  const rows: Row[] = [];
  const copy = (src: Buf, dst: Buf, cmd: Buf, label: string, id: string) => {
    src.map.fill32(0, SZ_1M, 0x5eed_0000);
    let k = 0;
    const s = sample(
      () => {
        const fence = submitStream(f, cmd, memcpyStream(dst.iova, src.iova, SZ_1M), [{ buf: src }, { buf: dst, write: true }]);
        check(wait(f, fence) === 0, 'copy did not complete');
      },
      () => src.map.write32(0, ++k),
    );
    check(dst.map.read32(0) === k && dst.map.read32(SZ_1M - 4) === 0x5eed_0000, 'copy moved the wrong data');
    rows.push(row(id, 'the GPU\'s memory traffic through the SMMU', label, s, 1, 'MB/s', 2 * SZ_1M, id === 'copy-4k' ? undefined : 'copy-4k'));
  };
  const cmd = newBuf(f, SZ_4K, 0x1_0000_0000);
  copy(newBuf(f, SZ_1M, 0x1_0010_1000), newBuf(f, SZ_1M, 0x1_0030_1000), cmd, 'CP_MEMCPY 1 MiB, 4 KiB pages (read + write MB/s)', 'copy-4k');
  const cmd2 = newBuf(f, SZ_4K, 0x1_0000_1000);
  copy(newBuf(f, SZ_2M, 0x1_0060_0000), newBuf(f, SZ_2M, 0x1_0080_0000), cmd2, 'CP_MEMCPY 1 MiB, 2 MiB blocks (read + write MB/s)', 'copy-2m');
  return rows;
}

const rows = [...switches(), ...a5xx(), ...mapUnmap(), ...traffic()];
if (JSON_OUT) console.log(JSON.stringify({ runs: RUNS, node: process.version, rows }, null, 2));
else {
  console.log(`msm on the Adreno a6xx and a5xx models behind the SMMUv2 model (${RUNS} samples per case, median and min-max)`);
  let g = '';
  for (const x of rows) {
    if (x.group !== g) console.log(`\n${(g = x.group)}`);
    console.log(`  ${x.case.padEnd(70)} ${x.value.toFixed(1).padStart(9)} ${x.unit.padEnd(8)} (${x.min.toFixed(1)}-${x.max.toFixed(1)})`);
  }
}
