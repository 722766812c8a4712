/**
 * A booted system as the CLI shows it: the boot with its progress, the device table (bound with
 * driver and IOMMU group/domain, deferred with what it waits for, failed with errno and reason,
 * unbound when no driver matched), the module list, and the shutdown that unloads everything
 * and must give every page back. Plain functions over a Kernel, so they are tested without
 * spawning anything.
 */
import type { Board } from '@gki/hw';
import { errnoName, formatRecord, Kernel, qcomScmLentMemory, type Device, type KernelBootStep, type KernelImage, type LogRecord } from '@gki/kernel';
import { panfrostDevices } from '@gki/drm-panfrost';
import { msmDevices } from '@gki/drm-msm';
import type { LoadedBoard, LoadedImage } from './inputs.js';

export interface System {
  readonly kernel: Kernel;
  readonly board: Board;
  readonly image: KernelImage;
  readonly boardInfo: LoadedBoard;
  readonly imageInfo: LoadedImage;
  /** Process CPU time and wall time the boot took, in milliseconds (host, not simulated). */
  readonly bootCpuMs: number;
  readonly bootWallMs: number;
}

export interface BootObserver {
  /** One progress line per boot step, as it completes. */
  progress?(line: string): void;
  /** Every log record, as it is logged. */
  log?(record: LogRecord): void;
}

function stamp(ns: number): string {
  return `[${(ns / 1e9).toFixed(6).padStart(12, ' ')}]`;
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Counts of the device table's states. */
export function deviceCounts(kernel: Kernel): Record<DeviceRow['state'], number> {
  const c = { bound: 0, deferred: 0, failed: 0, unbound: 0 };
  for (const r of deviceTable(kernel)) c[r.state]++;
  return c;
}

function progressLine(step: KernelBootStep, k: Kernel, seen: { bound: number }): string | null {
  const t = stamp(k.board.clock.now());
  const bound = k.drivers.allDevices().filter((d) => d.state === 'bound').length;
  const newly = bound - seen.bound;
  seen.bound = bound;
  const plus = newly > 0 ? `, ${newly} more device(s) bound` : '';
  switch (step.kind) {
    case 'initcalls':
      return step.level === 'arch' || step.level === 'late' ? `${t} initcalls up to ${step.level} done${plus}` : null;
    case 'populate':
      return `${t} ${step.devices} device(s) populated from the device tree${plus}`;
    case 'modprobe':
      return `${t} [${step.index + 1}/${step.count}] modprobe ${step.module}: ${step.err === 0 ? 'ok' : `${step.err} (${errnoName(step.err)})`}${plus}`;
    case 'deferred-probe': {
      const c = deviceCounts(k);
      return `${t} deferred probe done${plus}: ${c.bound} bound, ${c.deferred} deferred, ${c.failed} failed, ${c.unbound} without a driver`;
    }
  }
}

export interface BootSettings {
  /**
   * deferred_probe_timeout in seconds (the kernel parameter): 0, the default, expires it at the
   * end of boot; N > 0 keeps devices waiting for N seconds of board time after boot, as Linux
   * with modules does (10 s), so modules loaded by hand afterwards still satisfy them.
   */
  readonly deferredProbeTimeoutSecs?: number;
}

/** Boots `image` on `board`, reporting progress as it goes. */
export function bootSystem(board: LoadedBoard, image: LoadedImage, obs: BootObserver = {}, settings: BootSettings = {}): System {
  const seen = { bound: 0 };
  const c0 = cpuMs();
  const w0 = performance.now();
  const kernel = Kernel.boot(board.board, image.image, {
    onStep: (s, k) => {
      // the late initcalls run before the load list and the deferred-probe initcall
      if (s.kind === 'initcalls' && s.level === 'late' && settings.deferredProbeTimeoutSecs !== undefined) k.drivers.deferredProbeTimeoutSecs = settings.deferredProbeTimeoutSecs;
      if (!obs.progress) return;
      const line = progressLine(s, k, seen);
      if (line) obs.progress(line);
    },
    ...(obs.log ? { onLog: obs.log } : {}),
  });
  return {
    kernel,
    board: board.board,
    image: image.image,
    boardInfo: board,
    imageInfo: image,
    bootCpuMs: cpuMs() - c0,
    bootWallMs: performance.now() - w0,
  };
}

/** One row of the device table. */
export interface DeviceRow {
  readonly name: string;
  readonly node: string | null;
  /** The node's most specific compatible. */
  readonly compatible: string | null;
  readonly state: 'bound' | 'deferred' | 'failed' | 'unbound';
  readonly driver: string | null;
  /** Behind an IOMMU: which, the IDs, the group and the domain it is attached to. */
  readonly iommu?: {
    readonly iommu: string | null;
    readonly ids: readonly number[];
    readonly group: number | null;
    readonly domain: number | null;
    readonly domainType: string | null;
  };
  /** deferred: what it waits for; failed: the driver, errno and reason; bound: extra facts. */
  readonly detail: string;
  /** failed: the -errno. */
  readonly errno?: number;
}

function hex(n: number): string {
  return '0x' + n.toString(16);
}

/** The last error-level message about `dev` in the log (its own lines, or a crash of its probe). */
function lastError(records: readonly LogRecord[], dev: Device): string | null {
  const suffix = ` ${dev.name}`;
  for (let i = records.length - 1; i >= 0; i--) {
    const r = records[i]!;
    if (r.level !== 'err' && r.level !== 'crit' && r.level !== 'alert' && r.level !== 'emerg') continue;
    if (r.who.endsWith(suffix)) return r.msg;
    if (r.msg.startsWith(`probe of ${dev.name} crashed`)) return r.msg;
  }
  return null;
}

function stripBus(reason: string): string {
  return reason.replace(/^platform: /, '');
}

/** The device table of a booted kernel, in registration order. */
export function deviceTable(kernel: Kernel): DeviceRow[] {
  const snap = kernel.iommu.snapshot();
  const records = kernel.log.all();
  const gpus = new Map<Device, string>(panfrostDevices(kernel).map((g) => [g.dev, `GPU ${g.features.name} with its own MMU, ${g.renderNode}`]));
  for (const g of msmDevices(kernel)) gpus.set(g.dev, `GPU ${g.gpu.name}, ${g.renderNode}`);
  const iommuDevs = new Set(snap.iommus.map((i) => i.dev));
  return kernel.drivers.allDevices().map((d): DeviceRow => {
    const compatible = d.ofNode ? (kernel.of.stringList(d.ofNode, 'compatible')[0] ?? null) : null;
    const base = { name: d.name, node: d.ofNode?.fullName ?? null, compatible, driver: d.driver?.name ?? null };
    const master = snap.masters.find((m) => m.dev === d.name);
    let iommu: DeviceRow['iommu'];
    if (master) {
      const group = snap.groups.find((g) => g.id === master.group);
      const domain = snap.domains.find((x) => x.id === group?.domain);
      iommu = { iommu: master.iommu, ids: master.ids, group: master.group, domain: domain?.id ?? null, domainType: domain?.type ?? null };
    }
    const withIommu = iommu ? { iommu } : {};
    if (d.state === 'bound') {
      let detail = '';
      if (iommu) {
        detail = `iommu ${iommu.iommu ?? '-'} id ${iommu.ids.map(hex).join(',') || '-'} group ${iommu.group ?? '-'}`;
        detail += iommu.domain !== null ? ` domain ${iommu.domain} (${iommu.domainType})` : ' no domain';
        if (gpus.has(d)) detail += `; ${gpus.get(d)}`;
      } else if (iommuDevs.has(d.name)) {
        const masters = snap.masters.filter((m) => m.iommu === d.name).length;
        detail = `IOMMU: ${masters} master(s)`;
      } else if (gpus.has(d)) detail = gpus.get(d)!;
      return { ...base, ...withIommu, state: 'bound', detail };
    }
    if (d.state === 'deferred') {
      return { ...base, ...withIommu, state: 'deferred', detail: `waits: ${stripBus(d.deferReason ?? 'reason unknown')}` };
    }
    const pe = d.probeError;
    if (d.state === 'failed' || pe) {
      const err = pe?.err ?? 0;
      const why = lastError(records, d);
      const drv = pe?.driver ?? '?';
      const detail = `${drv}: ${err ? `${err} (${errnoName(err)})` : 'probe failed'}${why ? `: ${why}` : ''}`;
      return { ...base, ...withIommu, driver: pe?.driver ?? null, state: 'failed', detail, errno: err };
    }
    return { ...base, ...withIommu, state: 'unbound', detail: 'no driver' };
  });
}

/** The device table as text: one line per device and a summary line. */
export function formatDeviceTable(rows: readonly DeviceRow[]): string[] {
  const w = (f: (r: DeviceRow) => string, min: number) => Math.min(Math.max(min, ...rows.map((r) => f(r).length)), 40);
  const wn = w((r) => r.name, 6);
  const wc = w((r) => r.compatible ?? '-', 10);
  const wd = w((r) => r.driver ?? '-', 6);
  const out = [`${'DEVICE'.padEnd(wn)}  ${'COMPATIBLE'.padEnd(wc)}  ${'STATE'.padEnd(8)}  ${'DRIVER'.padEnd(wd)}  DETAIL`];
  for (const r of rows) out.push(`${r.name.padEnd(wn)}  ${(r.compatible ?? '-').padEnd(wc)}  ${r.state.padEnd(8)}  ${(r.driver ?? '-').padEnd(wd)}  ${r.detail}`.trimEnd());
  const c = { bound: 0, deferred: 0, failed: 0, unbound: 0 };
  for (const r of rows) c[r.state]++;
  out.push(`${rows.length} device(s): ${c.bound} bound, ${c.deferred} deferred, ${c.failed} failed, ${c.unbound} unbound (no driver)`);
  return out;
}

/** The module list as `gki boot` and the shell's lsmod print it. */
export function moduleLines(kernel: Kernel): string[] {
  return kernel.modules.list().map((m) => {
    const kind = m.builtin ? 'built-in' : 'loadable';
    return `${m.name.padEnd(22)} ${kind.padEnd(9)} ${m.state.padEnd(7)} refcnt ${m.refcount}  used by: ${m.usedBy.join(',') || '-'}`;
  });
}

/** Log records at error level or worse. */
export function isErrorRecord(r: LogRecord): boolean {
  return r.level === 'err' || r.level === 'crit' || r.level === 'alert' || r.level === 'emerg';
}

export function errorRecords(kernel: Kernel, from = 0): LogRecord[] {
  return kernel.log.all().slice(from).filter(isErrorRecord);
}

export { formatRecord };

/** What shutdown did. */
export interface ShutdownResult {
  readonly steps: readonly { readonly what: string; readonly err: number }[];
  /** Pages in use once the pages lent to the secure firmware (`securePages`) are left out. */
  readonly pagesInUse: number;
  /** Pages the kernel lent to the secure firmware (qcom_scm), never given back by design. */
  readonly securePages: number;
  readonly ok: boolean;
}

/**
 * Shutdown: every device populated from the device tree is unregistered (newest first, so
 * consumers before their suppliers: the IOMMU drivers release their masters and free their
 * domains), then every loaded module is unloaded, newest first. A kernel allocates no page of
 * its own before its modules, so the page allocator must end at 0 pages in use.
 */
export function shutdown(kernel: Kernel): ShutdownResult {
  const steps: { what: string; err: number }[] = [];
  const tops = kernel.drivers.allDevices().filter((d) => d.parent === null && d.ofNode !== null);
  for (const d of [...tops].reverse()) steps.push({ what: `unregister ${d.name}`, err: kernel.drivers.unregisterDevice(d) });
  const loaded = () => kernel.modules.list().filter((m) => !m.builtin && m.state === 'live');
  // newest first, each once nothing holds it, as long as that frees more; what is left is tried
  // anyway, so the step list shows why it stays (-EBUSY)
  for (let pass = 0; pass < 16; pass++) {
    const ready = loaded().filter((m) => m.refcount === 0).reverse();
    if (ready.length === 0) break;
    for (const m of ready) steps.push({ what: `rmmod ${m.name}`, err: kernel.modules.unload(m.name) });
  }
  for (const m of loaded().reverse()) steps.push({ what: `rmmod ${m.name}`, err: kernel.modules.unload(m.name) });
  // memory the kernel lent to the secure world (qcom_scm's secure page table) stays allocated
  // for good, as in Linux: the firmware owns it; it is counted apart, not as a leak
  let securePages = 0;
  for (const r of qcomScmLentMemory(kernel)) {
    const order = kernel.pages.orderOf(r.address);
    if (order !== undefined) securePages += 2 ** order;
  }
  const pagesInUse = kernel.pages.stats().pagesInUse - securePages;
  return { steps, pagesInUse, securePages, ok: steps.every((s) => s.err === 0) && pagesInUse === 0 && loaded().length === 0 };
}
