/**
 * The report of `gki run`: plain data (what `--json` prints, schema `gki-run-report/1`,
 * documented in the README and in run-report.schema.json) and its text form.
 */
import { errnoName, type LogRecord } from '@gki/kernel';
import { packageVersion } from '../compose/catalogue.js';
import { tlbCounters, tlbDelta, type TlbCounter } from './counters.js';
import { deviceTable, isErrorRecord, shutdown, type DeviceRow, type System } from './system.js';
import type { FaultRecord, WorkloadResult } from './workloads.js';

export const RUN_REPORT_SCHEMA = 'gki-run-report/1';

export interface LogEntry {
  readonly t: number;
  readonly level: string;
  readonly who: string;
  readonly msg: string;
}

export interface RunReport {
  readonly schema: typeof RUN_REPORT_SCHEMA;
  readonly gki: string;
  readonly workload: string;
  readonly seed: number;
  readonly board: { readonly name: string; readonly source: string; readonly kind: string };
  readonly image: { readonly label: string; readonly builtin: string[]; readonly modules: string[]; readonly load: string[] };
  readonly boot: {
    readonly cpuMs: number;
    readonly wallMs: number;
    readonly simNs: number;
    readonly errors: number;
    readonly devices: DeviceRow[];
    readonly counts: Record<DeviceRow['state'], number>;
    readonly modules: { name: string; builtin: boolean; state: string; refcount: number; usedBy: string[] }[];
  };
  readonly workloads: (Omit<WorkloadResult, 'expectedErrorWindows' | 'faults'> & { opsPerSec: number; bytesPerSec: number })[];
  readonly faults: FaultRecord[];
  readonly tlb: TlbCounter[];
  readonly memory: {
    readonly totalPages: number;
    /** After the workloads, before shutdown. */
    readonly pagesInUse: number;
    readonly highWater: number;
    /** After shutdown (every device unregistered, every module unloaded): 0 unless something leaked. */
    readonly pagesAfterShutdown: number;
    readonly shutdownOk: boolean;
  };
  /** Error-level log records outside the deliberate faults' windows. */
  readonly unexpectedErrors: LogEntry[];
  readonly log: LogEntry[];
  readonly ok: boolean;
}

function entry(r: LogRecord): LogEntry {
  return { t: r.t, level: r.level, who: r.who, msg: r.msg };
}

/** Runs `workloads` (already a list of closures) on a booted system and builds the report; shuts the system down at the end. */
export function buildReport(
  system: System,
  workloadName: string,
  seed: number,
  run: () => WorkloadResult[],
): RunReport {
  const k = system.kernel;
  const bootErrors = k.log.all().filter(isErrorRecord).length;
  const devices = deviceTable(k);
  const counts = { bound: 0, deferred: 0, failed: 0, unbound: 0 };
  for (const d of devices) counts[d.state]++;
  const modules = k.modules.list().map((m) => ({ name: m.name, builtin: m.builtin, state: m.state, refcount: m.refcount, usedBy: m.usedBy }));
  const bootLogEnd = k.log.all().length;
  const tlbBefore = tlbCounters(system.board);
  const results = run();
  const tlb = tlbDelta(tlbBefore, tlbCounters(system.board));
  const st = k.pages.stats();
  const windows = results.flatMap((r) => r.expectedErrorWindows);
  const unexpected = k.log
    .all()
    .map((r, i) => [r, i] as const)
    .filter(([r, i]) => isErrorRecord(r) && !(i >= bootLogEnd && windows.some(([a, b]) => i >= a && i < b)))
    .map(([r]) => entry(r));
  const sd = shutdown(k);
  const workloads = results.map(({ expectedErrorWindows: _w, faults: _f, ...r }) => ({
    ...r,
    opsPerSec: r.cpuMs > 0 ? Math.round((r.ops * 1000) / r.cpuMs) : 0,
    bytesPerSec: r.cpuMs > 0 ? Math.round((r.bytes * 1000) / r.cpuMs) : 0,
  }));
  const img = system.image;
  return {
    schema: RUN_REPORT_SCHEMA,
    gki: packageVersion('gki'),
    workload: workloadName,
    seed,
    board: { name: system.boardInfo.name, source: system.boardInfo.source, kind: system.boardInfo.kind },
    image: { label: system.imageInfo.label, builtin: img.builtin.map((m) => m.name), modules: img.modules.map((m) => m.name), load: [...(img.load ?? [])] },
    boot: { cpuMs: round(system.bootCpuMs), wallMs: round(system.bootWallMs), simNs: k.board.clock.now(), errors: bootErrors, devices, counts, modules },
    workloads: workloads.map((w) => ({ ...w, cpuMs: round(w.cpuMs), wallMs: round(w.wallMs) })),
    faults: results.flatMap((r) => r.faults),
    tlb,
    memory: { totalPages: st.totalPages, pagesInUse: st.pagesInUse, highWater: st.highWater, pagesAfterShutdown: sd.pagesInUse, shutdownOk: sd.ok },
    unexpectedErrors: unexpected,
    log: k.log.all().map(entry),
    ok: results.every((r) => r.ok) && unexpected.length === 0 && sd.ok,
  };
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

function mb(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(2);
}

/** The report's summary as text (after the workloads' own lines). */
export function formatReport(r: RunReport): string[] {
  const out: string[] = [];
  out.push('== report ==');
  out.push('WORKLOAD  RESULT  OPS      MiB      CPU ms   OPS/s     MiB/s    SIM ms');
  for (const w of r.workloads) {
    out.push(
      `${w.name.padEnd(8)}  ${(w.ok ? 'ok' : 'FAILED').padEnd(6)}  ${String(w.ops).padEnd(7)}  ${mb(w.bytes).padEnd(7)}  ${w.cpuMs.toFixed(1).padEnd(7)}  ` +
        `${String(w.opsPerSec).padEnd(8)}  ${mb(w.bytesPerSec).padEnd(7)}  ${(w.simNs / 1e6).toFixed(3)}`,
    );
  }
  out.push('(throughput per second of process time; SIM ms is the board clock)');
  out.push('');
  out.push(`faults (${r.faults.length}):`);
  for (const f of r.faults) out.push(`  [${f.workload}] ${f.device}: ${f.decoded}${f.deliberate ? ' (deliberate)' : ''}`);
  out.push('');
  out.push('TLB invalidations during the workloads (model counters):');
  for (const t of r.tlb) {
    const by = Object.entries(t.invalidations)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    out.push(`  ${t.path} (${t.model}): ${t.total}${by ? ` (${by})` : ''}; ${t.translations} translations`);
  }
  if (r.tlb.length === 0) out.push('  (no IOMMU or GPU MMU model on this board)');
  out.push('');
  const m = r.memory;
  out.push(
    `page allocator: ${m.totalPages} pages, ${m.pagesInUse} in use after the workloads, high-water ${m.highWater}; ` +
      `${m.pagesAfterShutdown} in use after shutdown${m.pagesAfterShutdown === 0 ? ' (nothing leaked)' : ' (LEAKED)'}`,
  );
  for (const e of r.unexpectedErrors) out.push(`unexpected error: [${(e.t / 1e9).toFixed(6)}] ${e.who}: ${e.msg}`);
  for (const w of r.workloads) for (const p of w.problems) out.push(`problem (${w.name}): ${p}`);
  if (!m.shutdownOk) out.push('shutdown did not give everything back');
  const why = [
    ...r.workloads.filter((w) => !w.ok).map((w) => `${w.name} failed`),
    r.unexpectedErrors.length ? `${r.unexpectedErrors.length} unexpected error(s) logged` : '',
    m.shutdownOk ? '' : 'shutdown incomplete',
  ].filter(Boolean);
  out.push(r.ok ? `run: OK` : `run: ${why.join(', ')}`);
  return out;
}

export { errnoName };
