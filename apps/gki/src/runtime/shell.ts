/**
 * The interactive session of `gki shell`: commands on a booted kernel, answered as the kernel
 * and kmod do. `ShellSession.exec(line)` takes one command line and returns its output lines,
 * so the session is tested without a terminal; `commands/shell.ts` puts a readline on it.
 */
import { ioPgtableLiveTables, ioPgtableOpsInfo, type IoPgtableOps } from '@gki/io-pgtable-core';
import { ENOENT, errnoName, formatRecord, type IommuDomain, type Kernel, type LogRecord } from '@gki/kernel';
import { dmaTestRun } from '../drivers/dma-test.js';
import { dumpTree } from '../pgtable/dump.js';
import { tlbCounters, tlbDelta } from './counters.js';
import { deviceTable, formatDeviceTable, isErrorRecord, moduleLines, type System } from './system.js';
import { dmaMasters, runDma, runGpu, runStress, WORKLOADS, type WorkloadName, type WorkloadResult } from './workloads.js';

export interface ShellResult {
  readonly lines: string[];
  /** The command asked to leave the shell. */
  readonly quit?: boolean;
  /** The command failed (an unknown command, bad arguments, or the kernel said no). */
  readonly failed?: boolean;
}

interface ShellCommand {
  readonly name: string;
  readonly args: string;
  readonly help: string;
  run(args: string[]): ShellResult;
}

const TOOLS = new Set(['modprobe', 'rmmod', 'insmod']);

function hex(n: number): string {
  return '0x' + n.toString(16);
}

function intArg(s: string | undefined): number | undefined {
  return s !== undefined && /^\d+$/.test(s) ? Number(s) : undefined;
}

/** One shell on one booted system. */
export class ShellSession {
  private readonly commands: ShellCommand[];
  private readonly kernel: Kernel;

  constructor(readonly system: System) {
    this.kernel = system.kernel;
    this.commands = [
      { name: 'help', args: '[COMMAND]', help: 'list the commands, or explain one', run: (a) => this.help(a) },
      { name: 'lsmod', args: '', help: 'the loaded modules: refcount and users (built-ins too, marked)', run: () => this.lsmod() },
      {
        name: 'modprobe',
        args: '[-r] NAME|ALIAS',
        help: 'load a module with its dependencies and softdeps (modprobe -r: unload it and what it no longer needs)',
        run: (a) => this.modprobe(a),
      },
      { name: 'insmod', args: 'NAME', help: 'load one module of the image alone: no dependencies, no softdeps', run: (a) => this.insmod(a) },
      { name: 'rmmod', args: 'NAME', help: 'unload a module (-EBUSY while something uses it); its drivers unbind first', run: (a) => this.rmmod(a) },
      { name: 'dmesg', args: '[-d] [-n N]', help: 'the kernel log (-d with debug records, -n N the last N lines)', run: (a) => this.dmesg(a) },
      { name: 'devices', args: '', help: 'the device table: bound, deferred (what it waits for), failed, unbound', run: () => ({ lines: formatDeviceTable(deviceTable(this.kernel)) }) },
      { name: 'domains', args: '', help: 'IOMMU domains and groups, with their page tables; every live io-pgtable', run: () => this.domains() },
      { name: 'pgtable', args: 'dump N', help: 'print live page table N (see domains) as the hardware walker decodes it', run: (a) => this.pgtable(a) },
      { name: 'dma', args: '[DEVICE]', help: 'the DMA self-test on one DMA master (or all): a copy through the DMA API and one deliberate fault', run: (a) => this.dma(a) },
      { name: 'run', args: `${WORKLOADS.join('|')} [--ops N] [--seed N]`, help: 'run a workload on the running system (as gki run, without the shutdown)', run: (a) => this.runWorkload(a) },
      {
        name: 'sysctl',
        args: 'kernel.modprobe[=PATH]',
        help: 'show or set the modprobe helper; empty (kernel.modprobe=) disables module autoloading (request_module)',
        run: (a) => this.sysctl(a),
      },
      {
        name: 'sleep',
        args: 'SECONDS',
        help: "let the board's clock run SECONDS (up to 3600): what falls due fires, as the deferred-probe timeout (10 s after a --no-load boot)",
        run: (a) => this.sleep(a),
      },
      { name: 'exit', args: '', help: 'leave the shell (also quit, or end of input)', run: () => ({ lines: [], quit: true }) },
      { name: 'quit', args: '', help: 'leave the shell', run: () => ({ lines: [], quit: true }) },
    ];
  }

  /** Command names, for completion. */
  get commandNames(): string[] {
    return this.commands.map((c) => c.name);
  }

  /** Runs one command line. */
  exec(line: string): ShellResult {
    const words = line.trim().split(/\s+/).filter(Boolean);
    if (words.length === 0 || words[0]!.startsWith('#')) return { lines: [] };
    const [name, ...args] = words;
    const cmd = this.commands.find((c) => c.name === name);
    if (!cmd) return { lines: [`${name}: command not found (try help)`], failed: true };
    try {
      return cmd.run(args);
    } catch (e) {
      return { lines: [`${name}: ${e instanceof Error ? e.message : String(e)}`], failed: true };
    }
  }

  private help(args: string[]): ShellResult {
    if (args[0] !== undefined) {
      const c = this.commands.find((x) => x.name === args[0]);
      if (!c) return { lines: [`help: no command '${args[0]}'`], failed: true };
      return { lines: [`${c.name} ${c.args}`.trim(), `  ${c.help}`] };
    }
    const w = Math.max(...this.commands.map((c) => `${c.name} ${c.args}`.trim().length)) + 2;
    return { lines: this.commands.map((c) => `${`${c.name} ${c.args}`.trim().padEnd(w)}${c.help}`) };
  }

  private lsmod(): ShellResult {
    const lines = ['Module                  State    Refs  Used by'];
    for (const m of this.kernel.modules.list()) {
      lines.push(`${m.name.padEnd(22)}  ${(m.builtin ? 'builtin' : m.state).padEnd(7)}  ${String(m.refcount).padEnd(4)}  ${m.usedBy.join(',')}`.trimEnd());
    }
    return { lines };
  }

  /** Runs a loader call and reports what it printed: tool messages as the tool does, the rest as dmesg. */
  private withLog(tool: string, what: string, fn: () => number): ShellResult {
    const from = this.kernel.log.all().length;
    const state = (r: { state: string; driver: string | null; detail: string }) => `${r.state}${r.driver ? ` (${r.driver})` : ''}${r.state === 'deferred' ? `: ${r.detail}` : ''}`;
    const before = new Map(deviceTable(this.kernel).map((r) => [r.name, state(r)] as const));
    const err = fn();
    const lines: string[] = [];
    for (const r of this.kernel.log.all().slice(from)) {
      if (r.level === 'debug') continue;
      if (TOOLS.has(r.who)) lines.push(`${r.who}: ${r.msg}`);
      else lines.push(formatRecord(r));
    }
    for (const r of deviceTable(this.kernel)) {
      const was = before.get(r.name);
      const now = state(r);
      if (was !== now) lines.push(`device ${r.name}: ${was ?? 'new'} -> ${now}`);
    }
    if (err < 0) lines.push(`${tool} ${what}: ${err} (${errnoName(err)})`);
    return { lines, failed: err < 0 };
  }

  /**
   * Time passing with nothing else to do (the model's clock moves only when something waits): the
   * board clock runs on by SECONDS and the driver core's deferred-probe timeout fires if it fell
   * due, with what that does to the waiting devices.
   */
  private sleep(args: string[]): ShellResult {
    const s = args.length === 1 && /^(\d+(\.\d*)?|\.\d+)$/.test(args[0]!) ? Number(args[0]) : NaN;
    if (!(s > 0 && s <= 3600)) return { lines: ['usage: sleep SECONDS   (a number above 0, at most 3600)'], failed: true };
    return this.withLog('sleep', args[0]!, () => {
      this.kernel.board.clock.advance(Math.round(s * 1e9));
      this.kernel.drivers.pollDeferredProbeTimeout();
      return 0;
    });
  }

  private modprobe(args: string[]): ShellResult {
    const remove = args[0] === '-r';
    const name = remove ? args[1] : args[0];
    if (!name || args.length > (remove ? 2 : 1)) return { lines: ['usage: modprobe [-r] NAME|ALIAS'], failed: true };
    return this.withLog(remove ? 'modprobe -r' : 'modprobe', name, () => (remove ? this.kernel.modules.modprobeRemove(name) : this.kernel.modules.modprobe(name)));
  }

  private insmod(args: string[]): ShellResult {
    const name = args[0];
    if (!name || args.length > 1) return { lines: ['usage: insmod NAME'], failed: true };
    const key = name.replace(/-/g, '_');
    const def = this.system.image.modules.find((m) => m.name.replace(/-/g, '_') === key);
    if (!def) {
      const builtin = this.system.image.builtin.some((m) => m.name.replace(/-/g, '_') === key);
      // no .ko in the image for it (a built-in has none either): what the tool says, then the errno, as for the other commands
      return {
        lines: [`insmod: ERROR: could not load module ${name}: ${builtin ? 'it is built into the kernel' : 'No such file or directory (not in the image)'}`, `insmod ${name}: ${-ENOENT} (ENOENT)`],
        failed: true,
      };
    }
    return this.withLog('insmod', name, () => this.kernel.modules.load(def));
  }

  private rmmod(args: string[]): ShellResult {
    const name = args[0];
    if (!name || args.length > 1) return { lines: ['usage: rmmod NAME'], failed: true };
    return this.withLog('rmmod', name, () => this.kernel.modules.unload(name));
  }

  private dmesg(args: string[]): ShellResult {
    let debug = false;
    let last: number | undefined;
    for (let i = 0; i < args.length; i++) {
      if (args[i] === '-d') debug = true;
      else if (args[i] === '-n' && intArg(args[i + 1]) !== undefined) last = intArg(args[++i]);
      else return { lines: ['usage: dmesg [-d] [-n N]'], failed: true };
    }
    let recs: readonly LogRecord[] = this.kernel.log.all().filter((r) => debug || r.level !== 'debug');
    if (last !== undefined) recs = recs.slice(Math.max(0, recs.length - last));
    return { lines: recs.map(formatRecord) };
  }

  /**
   * Every domain the IOMMU core tracks, by its id, with the driver's domain object: attached or
   * not (a group's default domain stays, with its page table, while the group is on another).
   */
  private domainObjects(): Map<number, IommuDomain> {
    const snap = this.kernel.iommu.snapshot();
    const all = this.kernel.iommu.allDomains(); // the snapshot lists them in this order
    return new Map(snap.domains.map((d, i) => [d.id, all[i]!] as const));
  }

  private tables(): { ops: IoPgtableOps; fmt: string; owner: string | null; domain: number | null }[] {
    const objs = this.domainObjects();
    return ioPgtableLiveTables(this.kernel).map((t) => {
      const cookie = ioPgtableOpsInfo(t.ops)?.cookie;
      let domain: number | null = null;
      for (const [id, d] of objs) if (cookie === d) domain = id;
      return { ops: t.ops, fmt: t.fmt, owner: t.owner, domain };
    });
  }

  private domains(): ShellResult {
    const snap = this.kernel.iommu.snapshot();
    const lines: string[] = [];
    const tables = this.tables();
    lines.push(`${snap.domains.length} IOMMU domain(s):`);
    for (const d of snap.domains) {
      const devs = snap.groups.filter((g) => d.groups.includes(g.id)).flatMap((g) => g.devices);
      const t = tables.findIndex((x) => x.domain === d.id);
      const iovas = d.iovas.length ? `, ${d.iovas.length} IOVA range(s) allocated` : '';
      lines.push(
        `  domain ${d.id}: ${d.type}${d.isDefault ? ' (default)' : ''} on ${d.iommu}, group(s) ${d.groups.join(',') || '-'} [${devs.join(', ') || 'no device'}]` +
          `${t >= 0 ? `, page table ${t} (${tables[t]!.fmt})` : ''}${iovas}${d.handler ? ', fault handler set' : ''}`,
      );
    }
    lines.push(`${snap.groups.length} IOMMU group(s):`);
    for (const g of snap.groups) lines.push(`  group ${g.id}: ${g.devices.join(', ') || '-'}; domain ${g.domain ?? '-'} (default ${g.defaultDomain ?? '-'})`);
    lines.push(`${tables.length} live io-pgtable(s):`);
    tables.forEach((t, i) => lines.push(`  ${i}: ${t.fmt} from ${t.owner ?? 'a built-in format'}${t.domain !== null ? `, domain ${t.domain}` : ', not an IOMMU domain (a GPU address space)'}`));
    return { lines };
  }

  private pgtable(args: string[]): ShellResult {
    const n = intArg(args[1]);
    if (args[0] !== 'dump' || n === undefined || args.length !== 2) return { lines: ['usage: pgtable dump N   (N from the domains list)'], failed: true };
    const tables = this.tables();
    const t = tables[n];
    if (!t) return { lines: [`pgtable: no live page table ${n} (there are ${tables.length})`], failed: true };
    const info = ioPgtableOpsInfo(t.ops);
    if (!info) return { lines: [`pgtable: table ${n} is not live`], failed: true };
    return { lines: dumpTree(this.kernel.mem, info.fmt, info.cfg as Parameters<typeof dumpTree>[2], t.ops) };
  }

  private dma(args: string[]): ShellResult {
    const masters = dmaMasters(this.kernel);
    const pick = args[0] === undefined ? masters : masters.filter((d) => d.name === args[0]);
    if (args[0] !== undefined && pick.length === 0) {
      const dev = this.kernel.drivers.findDevice(args[0]);
      return { lines: [`dma: ${args[0]}: ${dev ? `not bound to the dma-test driver (${dev.state})` : 'no such device'}`], failed: true };
    }
    if (pick.length === 0) return { lines: ['dma: no device is bound to the dma-test driver'], failed: true };
    const lines: string[] = [];
    let failed = false;
    for (const d of pick) {
      const from = this.kernel.log.all().length;
      const r = dmaTestRun(d);
      for (const rec of this.kernel.log.all().slice(from)) if (rec.level !== 'debug') lines.push(formatRecord(rec));
      lines.push(
        `${d.name}: ${r.translated ? 'translated' : 'direct'} copy of ${r.len} bytes ${r.copyOk ? 'ok' : 'FAILED'} (${hex(r.srcDma)} -> ${hex(r.dstDma)}); ` +
          `deliberate fault ${r.faultOk ? 'seen' : 'NOT seen'}; buffers ${r.freed ? 'freed' : 'NOT freed'}`,
      );
      failed ||= !r.ok;
    }
    return { lines, failed };
  }

  private runWorkload(args: string[]): ShellResult {
    const name = args[0] as WorkloadName | undefined;
    if (!name || !WORKLOADS.includes(name)) return { lines: [`usage: run ${WORKLOADS.join('|')} [--ops N] [--seed N]`], failed: true };
    let ops: number | undefined;
    let seed = 1;
    for (let i = 1; i < args.length; i += 2) {
      const v = intArg(args[i + 1]);
      if (args[i] === '--ops' && v !== undefined && v > 0) ops = v;
      else if (args[i] === '--seed' && v !== undefined) seed = v;
      else return { lines: [`run: bad argument '${args[i]}' (--ops N, --seed N)`], failed: true };
    }
    const k = this.kernel;
    const from = k.log.all().length;
    const before = tlbCounters(this.system.board);
    const results: WorkloadResult[] = [];
    if (name === 'dma' || name === 'all') results.push(runDma(k));
    if (name === 'gpu' || name === 'all') results.push(runGpu(k));
    if (name === 'stress' || name === 'all') results.push(runStress(k, { seed, ...(ops !== undefined ? { ops } : {}) }));
    const lines: string[] = [];
    for (const r of results) {
      lines.push(`== ${r.name}: ${r.ok ? 'ok' : 'FAILED'}, ${r.ops} ops, ${(r.bytes / 2 ** 20).toFixed(2)} MiB in ${r.cpuMs.toFixed(0)} ms of process time`);
      for (const l of r.lines) lines.push(`  ${l}`);
      for (const f of r.faults) lines.push(`  fault: ${f.device}: ${f.decoded}`);
      for (const p of r.problems) lines.push(`  problem: ${p}`);
    }
    for (const t of tlbDelta(before, tlbCounters(this.system.board))) lines.push(`  TLB invalidations ${t.path}: ${t.total}`);
    const windows = results.flatMap((r) => r.expectedErrorWindows);
    const unexpected = k.log
      .all()
      .slice(from)
      .filter((r, i) => isErrorRecord(r) && !windows.some(([a, b]) => from + i >= a && from + i < b));
    for (const r of unexpected) lines.push(`  unexpected: ${formatRecord(r)}`);
    const st = k.pages.stats();
    lines.push(`  pages in use ${st.pagesInUse}, high-water ${st.highWater}`);
    return { lines, failed: results.some((r) => !r.ok) || unexpected.length > 0 };
  }

  private sysctl(args: string[]): ShellResult {
    const a = args[0];
    if (!a || args.length > 1 || !a.startsWith('kernel.modprobe')) return { lines: ['usage: sysctl kernel.modprobe[=PATH]'], failed: true };
    const eq = a.indexOf('=');
    if (eq < 0) {
      if (a !== 'kernel.modprobe') return { lines: [`sysctl: cannot stat ${a}: No such file or directory`], failed: true };
      return { lines: [`kernel.modprobe = ${this.kernel.modules.modprobePath}`] };
    }
    if (a.slice(0, eq) !== 'kernel.modprobe') return { lines: [`sysctl: cannot stat ${a.slice(0, eq)}: No such file or directory`], failed: true };
    this.kernel.modules.modprobePath = a.slice(eq + 1);
    return { lines: [`kernel.modprobe = ${this.kernel.modules.modprobePath}${this.kernel.modules.modprobePath === '' ? '   (module autoloading disabled)' : ''}`] };
  }
}

/** The module list in the form `gki boot` prints (for the shell's banner). */
export { moduleLines };
