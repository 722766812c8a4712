/**
 * iommu_map / iommu_unmap through the whole stack: IOMMU core (page-size splitting, iotlb
 * gather and sync) -> arm_smmu_v3 domain ops -> io-pgtable-arm (ARM_64_LPAE_S1, tables from
 * the kernel's page allocator) -> TLB invalidation commands and CMD_SYNC consumed by the SMMUv3
 * model, on the test rig's board booted with Kernel.boot (test/helpers.ts). The domain is a
 * fresh stage-1 paging domain attached to the first DMA master.
 *
 * Rows: 4 KiB pages over 16 MiB and 2 MiB blocks over 1 GiB, one page per iommu_map /
 * iommu_unmap call or the whole range in one call, on the FVP preset (no range invalidation:
 * one TLBI_NH_VA per page, or TLBI_NH_ASID past 512 pages) and on the QEMU preset (RIL: range
 * TLBI commands). Every map sample starts from an empty range (the untimed whole-range unmap
 * before it frees the level-3 tables, as Linux's io-pgtable does when a table's whole range is
 * unmapped), so table allocation is included; every unmap sample starts from a fully mapped
 * range. The other half of each pair runs untimed. Each sample is checked: the mapping reached the page table,
 * and the commands the SMMU consumed are the ones the case implies.
 *
 *   pnpm --filter @gki/smmu-v3 bench                       one process
 *   pnpm --filter @gki/smmu-v3 bench -- --processes=7      median of 7 processes' medians
 *   (add --json for machine-readable output; BENCH_RUNS=n sets the samples per case, default 11)
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Bench } from 'tinybench';
import { IOMMU_CACHE, IOMMU_READ, IOMMU_WRITE, iommuAttachDevice, iommuDomainAlloc, iommuIovaToPhys, iommuMap, iommuUnmap, type IommuDomain } from '@gki/kernel';
import { boot, type Preset, type Rig } from '../test/helpers.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 11);
const PROCESSES = Number(process.argv.find((a) => a.startsWith('--processes='))?.split('=')[1] ?? 1);
const JSON_OUT = process.argv.includes('--json');

const PROT = IOMMU_READ | IOMMU_WRITE | IOMMU_CACHE;
const IOVA_BASE = 2 ** 32;
const PA_BASE = 2 ** 36;
const SZ_4K = 0x1000;
const SZ_2M = 0x20_0000;

interface Row {
  preset: string;
  case: string;
  nsPerPage: number;
  min?: number;
  max?: number;
  /** TLBI commands and CMD_SYNCs the SMMU consumed per page in one sample. */
  tlbiPerPage: number;
  syncPerPage: number;
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

interface Shape {
  label: string;
  size: number;
  count: number;
  /** PA offset that keeps iommu_map from using larger pages than `size`. */
  paSkew: number;
}
const SHAPES: Shape[] = [
  { label: '4K pages over 16 MiB', size: SZ_4K, count: 4096, paSkew: SZ_4K },
  { label: '2M blocks over 1 GiB', size: SZ_2M, count: 512, paSkew: SZ_2M },
];

function check(cond: boolean, what: string): void {
  if (!cond) throw new Error(`smmu-v3 bench: ${what}`);
}

function mapRange(d: IommuDomain, s: Shape, perCall: boolean): void {
  const pa = PA_BASE + s.paSkew;
  if (!perCall) {
    const ret = iommuMap(d, IOVA_BASE, pa, s.size * s.count, PROT);
    check(ret === 0, `iommu_map returned ${ret}`);
    return;
  }
  for (let i = 0; i < s.count; i++) {
    const ret = iommuMap(d, IOVA_BASE + i * s.size, pa + i * s.size, s.size, PROT);
    if (ret !== 0) throw new Error(`iommu_map returned ${ret}`);
  }
}

function unmapRange(d: IommuDomain, s: Shape, perCall: boolean): void {
  if (!perCall) {
    const n = iommuUnmap(d, IOVA_BASE, s.size * s.count);
    check(n === s.size * s.count, `iommu_unmap returned ${n}`);
    return;
  }
  for (let i = 0; i < s.count; i++) {
    const n = iommuUnmap(d, IOVA_BASE + i * s.size, s.size);
    if (n !== s.size) throw new Error(`iommu_unmap returned ${n}`);
  }
}

function tlbiCount(r: Rig): number {
  let n = 0;
  for (const [name, c] of Object.entries(r.model.stats.commands)) if (name.startsWith('TLBI_')) n += c;
  return n;
}

function runPreset(preset: Preset): Row[] {
  const r = boot({ preset });
  const d = iommuDomainAlloc(r.masters[0]!);
  if (typeof d === 'number') throw new Error(`domain alloc: ${d}`);
  check(iommuAttachDevice(d, r.masters[0]!) === 0, 'attach failed');

  const bench = new Bench({ iterations: RUNS, time: 0, warmupIterations: 2, warmupTime: 0 });
  const cost = new Map<string, { tlbi: number; sync: number; pages: number }>();
  let mark = { tlbi: 0, sync: 0 };
  const lastPage = (s: Shape) => IOVA_BASE + (s.count - 1) * s.size + 0x10;
  const lastPa = (s: Shape) => PA_BASE + s.paSkew + (s.count - 1) * s.size + 0x10;
  for (const s of SHAPES) {
    for (const perCall of [true, false]) {
      const how = perCall ? `1 ${s.size === SZ_4K ? 'page' : 'block'} per call` : 'whole range in one call';
      const begin = () => void (mark = { tlbi: tlbiCount(r), sync: r.model.stats.syncs });
      const end = (name: string) => () => {
        cost.set(name, { tlbi: tlbiCount(r) - mark.tlbi, sync: r.model.stats.syncs - mark.sync, pages: s.count });
      };
      const mapName = `${s.label}|iommu_map, ${how}`;
      bench.add(mapName, () => mapRange(d, s, perCall), {
        beforeEach: begin,
        afterEach: () => {
          end(mapName)();
          check(iommuIovaToPhys(d, lastPage(s)) === lastPa(s), 'mapping missing after map');
          unmapRange(d, s, false);
        },
      });
      const unmapName = `${s.label}|iommu_unmap, ${how}`;
      bench.add(unmapName, () => unmapRange(d, s, perCall), {
        beforeEach: () => {
          mapRange(d, s, false);
          begin();
        },
        afterEach: () => {
          end(unmapName)();
          check(iommuIovaToPhys(d, lastPage(s)) === 0, 'mapping left after unmap');
          const c = cost.get(unmapName)!;
          // Every unmap call ends in a CMD_SYNC, after at least one TLBI (a whole-range unmap
          // may sync more often: io-pgtable flushes each freed table's walk on its own).
          check((perCall ? c.sync === s.count : c.sync >= 1) && c.tlbi >= c.sync, `unmap consumed ${c.tlbi} TLBIs and ${c.sync} syncs`);
        },
      });
    }
  }
  bench.runSync();
  check(r.model.hitlessViolations.length === 0, 'hitless violations');

  const rows: Row[] = [];
  for (const t of bench.tasks) {
    const res = t.result;
    if (res.state !== 'completed') throw new Error(`${t.name}: ${res.state}`, { cause: res.state === 'errored' ? res.error : undefined });
    const [label, op] = t.name.split('|') as [string, string];
    const c = cost.get(t.name)!;
    const per = (ms: number) => (ms * 1e6) / c.pages;
    rows.push({ preset, case: `${label}, ${op}`, nsPerPage: per(res.latency.p50), min: per(res.latency.min), max: per(res.latency.max), tlbiPerPage: c.tlbi / c.pages, syncPerPage: c.sync / c.pages });
  }
  return rows;
}

function report(rows: Row[], what: string): void {
  if (JSON_OUT) {
    console.log(JSON.stringify({ runs: RUNS, processes: PROCESSES, node: process.version, rows }, null, 2));
    return;
  }
  console.log(`arm_smmu_v3 iommu_map/iommu_unmap, ns per page incl. TLBI + CMD_SYNC (${what})`);
  for (const p of [...new Set(rows.map((r) => r.preset))]) {
    console.log(`\npreset ${p}`);
    for (const r of rows.filter((x) => x.preset === p)) {
      const range = r.min !== undefined ? `(${r.min.toFixed(0)}-${r.max!.toFixed(0)})` : '';
      console.log(`  ${r.case.padEnd(60)} ${r.nsPerPage.toFixed(0).padStart(7)} ns ${range.padEnd(14)} TLBI/page ${r.tlbiPerPage.toFixed(3).padStart(6)}  SYNC/page ${r.syncPerPage.toFixed(3)}`);
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
  report([...runPreset('fvp'), ...runPreset('qemu')], `median of ${RUNS} samples, min-max in brackets`);
}
