import type { SimClock } from '@gki/hw';

export type LogLevel = 'emerg' | 'alert' | 'crit' | 'err' | 'warn' | 'notice' | 'info' | 'debug';

export interface LogRecord {
  /** Simulated time in nanoseconds. */
  readonly t: number;
  readonly level: LogLevel;
  /** Subsystem or device prefix ("arm-smmu-v3 2b400000.iommu"), may be empty. */
  readonly who: string;
  readonly msg: string;
}

/** The kernel log ring (dmesg), stamped with the board's simulated clock. */
export class KernelLog {
  private readonly records: LogRecord[] = [];
  private readonly listeners: ((r: LogRecord) => void)[] = [];

  constructor(private readonly clock: SimClock) {}

  log(level: LogLevel, who: string, msg: string): void {
    const r = { t: this.clock.now(), level, who, msg };
    this.records.push(r);
    for (const l of this.listeners) l(r);
  }

  info(who: string, msg: string): void {
    this.log('info', who, msg);
  }
  warn(who: string, msg: string): void {
    this.log('warn', who, msg);
  }
  err(who: string, msg: string): void {
    this.log('err', who, msg);
  }
  debug(who: string, msg: string): void {
    this.log('debug', who, msg);
  }

  /** Subscribes to new records; returns an unsubscribe function. */
  subscribe(fn: (r: LogRecord) => void): () => void {
    this.listeners.push(fn);
    return () => {
      const i = this.listeners.indexOf(fn);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  all(): readonly LogRecord[] {
    return this.records;
  }

  /** Messages containing `needle` (for tests and the CLI). */
  grep(needle: string | RegExp): LogRecord[] {
    return this.records.filter((r) => (typeof needle === 'string' ? formatRecord(r).includes(needle) : needle.test(formatRecord(r))));
  }

  /** dmesg-style text: `[    0.000123] who: msg`, debug records only when asked. */
  dmesg(opts: { debug?: boolean } = {}): string {
    return this.records
      .filter((r) => opts.debug || r.level !== 'debug')
      .map(formatRecord)
      .join('\n');
  }
}

export function formatRecord(r: LogRecord): string {
  const s = r.t / 1e9;
  const stamp = s.toFixed(6).padStart(12, ' ');
  return `[${stamp}] ${r.who ? r.who + ': ' : ''}${r.msg}`;
}
