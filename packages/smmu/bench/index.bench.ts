/**
 * iommu_map / iommu_unmap through the whole stack: IOMMU core (page-size splitting, iotlb
 * gather and sync) -> arm_smmu domain ops -> io-pgtable (tables from the kernel's page
 * allocator) -> TLB invalidation register writes and TLB syncs taken by the SMMUv1/v2 model
 * (MMU-500 preset), on the test rig's board booted with Kernel.boot (test/rig.ts). The domain is
 * a fresh paging domain attached to the first DMA master, one per context format:
 *
 *   AArch64 S1   (arm64 kernel)            ARM_64_LPAE_S1, TLBIVAL per page on unmap
 *   AArch64 S2   (arm64, nesting request)  ARM_64_LPAE_S2, TLBIIPAS2L per page
 *   AArch32-L S1 (32-bit LPAE kernel)      ARM_32_LPAE_S1, TLBIVAL (32-bit writes)
 *   AArch32-S S1 (32-bit kernel)           ARM_V7S, TLBIVAL (32-bit writes)
 *
 * Rows: 4 KiB pages over 16 MiB, one page per call or the whole range in one call. Map samples
 * start from an empty range (the untimed whole-range unmap before frees the tables), so table
 * allocation is included; unmap samples start from a fully mapped range. Each sample is
 * checked: the mapping reached the page table (or is gone), and the invalidations the model took
 * are the ones the case implies.
 *
 *   pnpm --filter @gki/smmu bench                       one process
 *   pnpm --filter @gki/smmu bench -- --processes=7      median of 7 processes' medians
 *   (add --json for machine-readable output; BENCH_RUNS=n sets the samples per case, default 11)
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { settleCompiler } from '@gki/testkit/settle';
import { Bench } from 'tinybench';
import { IOMMU_CACHE, IOMMU_READ, IOMMU_WRITE, iommuAttachDevice, iommuDomainAlloc, iommuEnableNesting, iommuIovaToPhys, iommuMap, iommuUnmap, type IommuDomain, type KernelArchName } from '@gki/kernel';
import { asArmSmmuDomain } from '../src/index.js';
import { boot, type Rig } from '../test/rig.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 11);
/**
 * tinybench's `setup` hook: before each task's warm-up and before its timed samples, wait for
 * V8's compiler threads to go idle (@gki/testkit/settle), so that a loop's request for optimized
 * code is not dropped by a full compile queue, which leaves the loop in its slower
 * on-stack-replacement code for the process (BENCHMARKS.md, "the OSR rows").
 */
const setup = (): void => settleCompiler();
const PROCESSES = Number(process.argv.find((a) => a.startsWith('--processes='))?.split('=')[1] ?? 1);
const JSON_OUT = process.argv.includes('--json');

const PROT = IOMMU_READ | IOMMU_WRITE | IOMMU_CACHE;
const IOVA_BASE = 0x1000_0000;
const SZ_4K = 0x1000;
const COUNT = 4096;

interface Row {
  context: string;
  case: string;
  nsPerPage: number;
  min?: number;
  max?: number;
  /** TLB invalidation register writes and TLB syncs the model took per page in one sample. */
  tlbiPerPage: number;
  syncPerPage: number;
}

interface Ctx {
  label: string;
  arch: KernelArchName;
  nesting: boolean;
  fmt: string;
}
const CONTEXTS: Ctx[] = [
  { label: 'AArch64 S1', arch: 'arm64', nesting: false, fmt: 'ARM_64_LPAE_S1' },
  { label: 'AArch64 S2', arch: 'arm64', nesting: true, fmt: 'ARM_64_LPAE_S2' },
  { label: 'AArch32-L S1', arch: 'arm-lpae', nesting: false, fmt: 'ARM_32_LPAE_S1' },
  { label: 'AArch32-S S1', arch: 'arm', nesting: false, fmt: 'ARM_V7S' },
];

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

function check(cond: boolean, what: string): void {
  if (!cond) throw new Error(`smmu bench: ${what}`);
}

function mapRange(d: IommuDomain, pa: number, perCall: boolean): void {
  if (!perCall) {
    const ret = iommuMap(d, IOVA_BASE, pa, SZ_4K * COUNT, PROT);
    check(ret === 0, `iommu_map returned ${ret}`);
    return;
  }
  for (let i = 0; i < COUNT; i++) {
    const ret = iommuMap(d, IOVA_BASE + i * SZ_4K, pa + i * SZ_4K, SZ_4K, PROT);
    if (ret !== 0) throw new Error(`iommu_map returned ${ret}`);
  }
}

function unmapRange(d: IommuDomain, perCall: boolean): void {
  if (!perCall) {
    const n = iommuUnmap(d, IOVA_BASE, SZ_4K * COUNT);
    check(n === SZ_4K * COUNT, `iommu_unmap returned ${n}`);
    return;
  }
  for (let i = 0; i < COUNT; i++) {
    const n = iommuUnmap(d, IOVA_BASE + i * SZ_4K, SZ_4K);
    if (n !== SZ_4K) throw new Error(`iommu_unmap returned ${n}`);
  }
}

function tlbiCount(r: Rig): number {
  let n = 0;
  for (const [name, c] of Object.entries(r.model.stats.tlbi)) if (name.startsWith('TLBI') && !name.endsWith('SYNC')) n += c;
  return n;
}

function syncCount(r: Rig): number {
  return (r.model.stats.tlbi.TLBSYNC ?? 0) + (r.model.stats.tlbi.TLBGSYNC ?? 0);
}

function runContext(c: Ctx): Row[] {
  const r = boot({ arch: c.arch });
  const d = iommuDomainAlloc(r.masters[0]!);
  if (typeof d === 'number') throw new Error(`domain alloc: ${d}`);
  if (c.nesting) check(iommuEnableNesting(d) === 0, 'enable nesting');
  check(iommuAttachDevice(d, r.masters[0]!) === 0, 'attach failed');
  check(asArmSmmuDomain(d)!.fmt === c.fmt, `format ${asArmSmmuDomain(d)!.fmt}`);
  // targets below 4 GiB (the short format's output size), skewed by a page so that nothing
  // maps as a block; no DMA runs, so they need not be allocated
  const pa = 0x6000_0000 + SZ_4K;
  const bench = new Bench({ iterations: RUNS, time: 0, warmupIterations: 2, warmupTime: 0, setup });
  const cost = new Map<string, { tlbi: number; sync: number }>();
  let mark = { tlbi: 0, sync: 0 };
  const last = IOVA_BASE + (COUNT - 1) * SZ_4K + 0x10;
  const lastPa = pa + (COUNT - 1) * SZ_4K + 0x10;
  for (const perCall of [true, false]) {
    const how = perCall ? '1 page per call' : '16 MiB in one call';
    const begin = () => void (mark = { tlbi: tlbiCount(r), sync: syncCount(r) });
    const end = (name: string) => cost.set(name, { tlbi: tlbiCount(r) - mark.tlbi, sync: syncCount(r) - mark.sync });
    const mapName = `iommu_map, ${how}`;
    bench.add(mapName, () => mapRange(d, pa, perCall), {
      beforeEach: begin,
      afterEach: () => {
        end(mapName);
        check(iommuIovaToPhys(d, last) === lastPa, 'mapping missing after map');
        unmapRange(d, false);
      },
    });
    const unmapName = `iommu_unmap, ${how}`;
    bench.add(unmapName, () => unmapRange(d, perCall), {
      beforeEach: () => {
        mapRange(d, pa, false);
        begin();
      },
      afterEach: () => {
        end(unmapName);
        check(iommuIovaToPhys(d, last) === 0, 'mapping left after unmap');
        const k = cost.get(unmapName)!;
        check(k.tlbi >= COUNT && k.sync >= (perCall ? COUNT : 1), `unmap took ${k.tlbi} TLBIs and ${k.sync} syncs`);
      },
    });
  }
  bench.runSync();
  const rows: Row[] = [];
  for (const t of bench.tasks) {
    const res = t.result;
    if (res.state !== 'completed') throw new Error(`${t.name}: ${res.state}`, { cause: res.state === 'errored' ? res.error : undefined });
    const k = cost.get(t.name)!;
    const per = (ms: number) => (ms * 1e6) / COUNT;
    rows.push({ context: c.label, case: t.name, nsPerPage: per(res.latency.p50), min: per(res.latency.min), max: per(res.latency.max), tlbiPerPage: k.tlbi / COUNT, syncPerPage: k.sync / COUNT });
  }
  return rows;
}

function report(rows: Row[], what: string): void {
  if (JSON_OUT) {
    console.log(JSON.stringify({ runs: RUNS, processes: PROCESSES, node: process.version, rows }, null, 2));
    return;
  }
  console.log(`arm_smmu iommu_map/iommu_unmap, ns per 4 KiB page incl. TLB invalidation + sync (${what})`);
  for (const c of [...new Set(rows.map((r) => r.context))]) {
    console.log(`\n${c}`);
    for (const r of rows.filter((x) => x.context === c)) {
      const range = r.min !== undefined ? `(${r.min.toFixed(0)}-${r.max!.toFixed(0)})` : '';
      console.log(`  ${r.case.padEnd(34)} ${r.nsPerPage.toFixed(0).padStart(7)} ns ${range.padEnd(14)} TLBI/page ${r.tlbiPerPage.toFixed(3).padStart(6)}  SYNC/page ${r.syncPerPage.toFixed(3)}`);
    }
  }
}

if (PROCESSES > 1) {
  const script = fileURLToPath(import.meta.url);
  const all: Row[][] = [];
  for (let p = 0; p < PROCESSES; p++) {
    const res = spawnSync(process.execPath, [...process.execArgv, script, '--json'], { encoding: 'utf8', env: process.env });
    if (res.status !== 0) throw new Error(`bench process failed: ${res.stderr}`);
    all.push((JSON.parse(res.stdout) as { rows: Row[] }).rows);
  }
  const rows = all[0]!.map((r0, j) => {
    const v = all.map((rs) => rs[j]!.nsPerPage);
    return { ...r0, nsPerPage: median(v), min: Math.min(...v), max: Math.max(...v) };
  });
  report(rows, `median of ${PROCESSES} processes x ${RUNS} samples, min-max over processes in brackets`);
} else {
  report(CONTEXTS.flatMap(runContext), `median of ${RUNS} samples, min-max in brackets`);
}
