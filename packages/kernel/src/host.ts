import { PAGE_SIZE, PhysMem, SimClock } from '@gki/hw';
import { KernelLog, formatRecord, type LogLevel, type LogRecord } from './log.js';
import { PageAllocator } from './page-alloc.js';

/**
 * The three kernel services a page-table format needs, and nothing else: the RAM its tables
 * live in (the kernel's linear map), the page allocator they come from, and the log its
 * warnings go to. A booted `Kernel` has all three; `createIoPgtableHost` builds them alone,
 * for using a format package without booting anything.
 */
export interface IoPgtableHost {
  readonly mem: PhysMem;
  readonly pages: PageAllocator;
  readonly log: KernelLog;
}

export interface IoPgtableHostOptions {
  /** Physical base of the RAM (default 0x4000_0000, page aligned). */
  readonly ramBase?: number;
  /** RAM size in bytes (default 64 MiB, a multiple of 4 KiB). */
  readonly ramSize?: number;
  /**
   * Print log records at this level or more severe to `console.error` as they are logged
   * (e.g. 'warn' to see why an allocation returned null). Default: print nothing; read
   * `host.log.dmesg()` instead.
   */
  readonly echo?: LogLevel;
  /**
   * The page allocator's per-CPU page lists (default true, as Linux): a freed page is the next
   * one handed out. false: the buddy alone, lowest free address first.
   */
  readonly pcp?: boolean;
}

const SEVERITY: Record<LogLevel, number> = { emerg: 0, alert: 1, crit: 2, err: 3, warn: 4, notice: 5, info: 6, debug: 7 };

/**
 * A standalone host for io-pgtable formats: RAM (`ramSize` bytes at `ramBase`), a page
 * allocator over all of it and a kernel log. Throws TypeError for options of the wrong type
 * and RangeError for a RAM region that cannot exist (misaligned, beyond 52 bits).
 */
export function createIoPgtableHost(opts: IoPgtableHostOptions = {}): IoPgtableHost {
  if (opts === null || typeof opts !== 'object') throw new TypeError(`createIoPgtableHost: options must be an object (got ${typeof opts})`);
  const base = opts.ramBase ?? 0x4000_0000;
  const size = opts.ramSize ?? 64 * 2 ** 20;
  if (typeof base !== 'number') throw new TypeError(`createIoPgtableHost: ramBase must be a number (got ${typeof base})`);
  if (typeof size !== 'number') throw new TypeError(`createIoPgtableHost: ramSize must be a number (got ${typeof size})`);
  if (size < PAGE_SIZE) throw new RangeError(`createIoPgtableHost: ramSize ${size} is smaller than one ${PAGE_SIZE}-byte page`);
  const echo = opts.echo;
  if (echo !== undefined && !(typeof echo === 'string' && echo in SEVERITY))
    throw new TypeError(`createIoPgtableHost: echo must be one of ${Object.keys(SEVERITY).join(', ')} (got ${String(echo)})`);
  if (opts.pcp !== undefined && typeof opts.pcp !== 'boolean') throw new TypeError(`createIoPgtableHost: pcp must be a boolean (got ${String(opts.pcp)})`);
  const mem = new PhysMem([{ base, size }]);
  const log = new KernelLog(new SimClock());
  if (echo !== undefined) {
    const max = SEVERITY[echo];
    log.subscribe((r: LogRecord) => {
      if (SEVERITY[r.level] <= max) console.error(formatRecord(r));
    });
  }
  return { mem, pages: new PageAllocator(mem, undefined, { pcp: opts.pcp ?? true }), log };
}

/** True when `host` has the shape of an IoPgtableHost (a booted Kernel qualifies). */
export function isIoPgtableHost(host: unknown): host is IoPgtableHost {
  if (host === null || typeof host !== 'object') return false;
  const h = host as { mem?: { chunk?: unknown }; pages?: { allocPages?: unknown; freePages?: unknown }; log?: { warn?: unknown } };
  // by shape, not instanceof: a consumer may hold two copies of the packages
  return (
    typeof h.mem?.chunk === 'function' &&
    typeof h.pages?.allocPages === 'function' &&
    typeof h.pages.freePages === 'function' &&
    typeof h.log?.warn === 'function'
  );
}
