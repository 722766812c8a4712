import { EINVAL, ENODEV, ENOENT, EPROBE_DEFER, KernelError, errnoName, globMatch } from '@gki/kernel';
import type { Kernel, ModuleRef } from '@gki/kernel';
import { IO_PGTABLE_LOG, coreState, ioPgtableInitFns } from './registry.js';
import {
  IO_PGTABLE_CAP_CUSTOM_ALLOCATOR,
  isIoPgtableFmt,
  type IoPgtableCfg,
  type IoPgtableFmt,
  type IoPgtableInitFns,
  type IoPgtableOps,
} from './types.js';

/** The alias a format module carries so request_module can find it: 'io-pgtable-fmt-ARM_V7S'. */
export function ioPgtableFmtAlias(fmt: IoPgtableFmt): string {
  return `io-pgtable-fmt-${fmt}`;
}

/** What the core remembers about one live table (the kernel's struct io_pgtable minus the ops). */
interface Bookkeeping {
  /** The kernel whose core allocated the table; null for a table a format created standalone. */
  readonly kernel: Kernel | null;
  readonly fmt: IoPgtableFmt;
  readonly cookie: unknown;
  /** A copy of the cfg as the format left it (restricted bitmap, clamped ias/oas, outputs). */
  readonly cfg: Readonly<IoPgtableCfg>;
  readonly fns: IoPgtableInitFns;
  readonly owner: ModuleRef | null;
}

const tables = new WeakMap<IoPgtableOps, Bookkeeping>();
/** Tables freed through freeIoPgtableOps, with their format: a second free says "double free". */
const freedTables = new WeakMap<IoPgtableOps, IoPgtableFmt>();

/** One table handed out and not yet freed. */
export interface IoPgtableLiveTable {
  readonly ops: IoPgtableOps;
  readonly fmt: IoPgtableFmt;
  /** The module implementing it (null for a format without an owner). */
  readonly owner: string | null;
}

function copyCfg(cfg: IoPgtableCfg): IoPgtableCfg {
  const c: IoPgtableCfg = { ...cfg };
  if (cfg.armLpaeS1Cfg) c.armLpaeS1Cfg = { ...cfg.armLpaeS1Cfg, tcr: { ...cfg.armLpaeS1Cfg.tcr } };
  if (cfg.armLpaeS2Cfg) c.armLpaeS2Cfg = { ...cfg.armLpaeS2Cfg, vtcr: { ...cfg.armLpaeS2Cfg.vtcr } };
  if (cfg.armV7sCfg) c.armV7sCfg = { ...cfg.armV7sCfg };
  if (cfg.armMaliLpaeCfg) c.armMaliLpaeCfg = { ...cfg.armMaliLpaeCfg };
  return c;
}

/** True when some loadable module of the image (or a built-in) carries `alias`. */
function imageProvides(kernel: Kernel, alias: string): boolean {
  if (kernel.modules.find(alias)) return true;
  return kernel.modules.depmod().alias.some((a) => globMatch(a.pattern, alias));
}

/**
 * Makes sure `fmt` is registered, loading its module on demand through the alias
 * 'io-pgtable-fmt-FMT'. Returns the init fns or a negative errno:
 * -ENODEV when no module in the image provides the format (retrying cannot help),
 * -EPROBE_DEFER when one exists but could not be loaded now or did not register the format.
 */
function findOrLoad(kernel: Kernel, fmt: IoPgtableFmt): IoPgtableInitFns | number {
  const have = ioPgtableInitFns(kernel, fmt);
  if (have) return have;
  const alias = ioPgtableFmtAlias(fmt);
  const err = kernel.modules.requestModule(alias);
  // request_module says -ENOENT both when nothing provides the alias and when the provider's load
  // failed with -ENOENT (an unknown symbol): the image's alias table tells the two apart.
  if (err === -ENOENT && !imageProvides(kernel, alias)) {
    kernel.log.err(IO_PGTABLE_LOG, `format ${fmt}: no module in the image provides ${alias} (${errnoName(ENODEV)})`);
    return -ENODEV;
  }
  if (err < 0) {
    kernel.log.err(IO_PGTABLE_LOG, `format ${fmt}: loading ${alias} failed with ${err} (${errnoName(err)}), deferring (${errnoName(EPROBE_DEFER)})`);
    return -EPROBE_DEFER;
  }
  const fns = ioPgtableInitFns(kernel, fmt);
  if (!fns) {
    kernel.log.err(IO_PGTABLE_LOG, `format ${fmt}: ${alias} loaded but did not register the format (${errnoName(EPROBE_DEFER)})`);
    return -EPROBE_DEFER;
  }
  return fns;
}

/**
 * alloc_io_pgtable_ops: builds a page table of format `fmt` for `cfg` (which the format updates in
 * place, as in the kernel) and returns its ops, or a negative errno where the kernel returns NULL:
 * -EINVAL (unknown format, bad custom allocator, or the format rejected the config),
 * -ENODEV (no module provides the format, or it is being unloaded),
 * -EPROBE_DEFER (the format's module exists but could not be loaded).
 * Holds a reference on the format's module until freeIoPgtableOps.
 */
export function allocIoPgtableOps(kernel: Kernel, fmt: IoPgtableFmt, cfg: IoPgtableCfg, cookie: unknown): IoPgtableOps | number {
  if (kernel === null || typeof kernel !== 'object' || !('modules' in kernel))
    throw new TypeError(`allocIoPgtableOps(kernel, fmt, cfg, cookie): kernel is not a Kernel (got ${describe(kernel)})`);
  const log = kernel.log;
  if (typeof fmt !== 'string' || !isIoPgtableFmt(fmt)) {
    log.err(IO_PGTABLE_LOG, `alloc: unknown format ${String(fmt)}`);
    return -EINVAL;
  }
  const bad = ioPgtableCfgTypeError(cfg);
  if (bad) {
    log.err(IO_PGTABLE_LOG, `alloc ${fmt}: ${bad}`);
    return -EINVAL;
  }
  const a = cfg.allocator;
  const custom = a !== null && a !== undefined && (a.alloc !== undefined || a.free !== undefined);
  if (custom && (typeof a.alloc !== 'function' || typeof a.free !== 'function')) {
    log.err(IO_PGTABLE_LOG, `alloc ${fmt}: a custom allocator needs both alloc and free`);
    return -EINVAL;
  }
  const found = findOrLoad(kernel, fmt);
  if (typeof found === 'number') return found;
  const fns = found;
  if (custom && ((fns.caps ?? 0) & IO_PGTABLE_CAP_CUSTOM_ALLOCATOR) === 0) {
    log.err(IO_PGTABLE_LOG, `alloc ${fmt}: format does not support a custom allocator`);
    return -EINVAL;
  }
  const owner = fns.owner ?? null;
  if (!kernel.modules.tryModuleGet(owner)) {
    // The module is being unloaded: its exit is about to clear the slot. Linux returns NULL; we
    // say -ENODEV rather than -EPROBE_DEFER because nothing promises the module will come back,
    // and a caller that defers would wait for an event that may never happen.
    log.err(IO_PGTABLE_LOG, `alloc ${fmt}: module ${owner?.name ?? '?'} is going away (${errnoName(ENODEV)})`);
    return -ENODEV;
  }
  let ops: IoPgtableOps | null;
  try {
    ops = fns.alloc(cfg, cookie);
  } catch (e) {
    kernel.modules.modulePut(owner);
    throw e;
  }
  if (!ops) {
    kernel.modules.modulePut(owner);
    log.err(IO_PGTABLE_LOG, `alloc ${fmt}: format rejected the configuration (${errnoName(EINVAL)})`);
    return -EINVAL;
  }
  const prev = tables.get(ops);
  if (prev && prev.kernel !== null) {
    // A format handing out the same ops twice is a bug in the format; refuse to track it twice.
    kernel.modules.modulePut(owner);
    throw new KernelError(-EINVAL, `io-pgtable: format ${fmt} returned ops that are already live`);
  }
  tables.set(ops, { kernel, fmt, cookie, cfg: copyCfg(cfg), fns, owner });
  coreState(kernel).live.add(ops);
  return ops;
}

/**
 * free_io_pgtable_ops(ops): flushes the whole TLB for the table's cookie, has the format free
 * every table page, and drops the reference on the format's module. The ops know their kernel,
 * so the kernel's one-argument call works; `freeIoPgtableOps(kernel, ops)` is also accepted and
 * then checks that a table allocated by a kernel's core belongs to that `kernel`. Tables a format created standalone (e.g.
 * `createArmLpaeOps(host, ...)`) are freed the same way, without a module reference.
 * `null`/`undefined` ops are a no-op, as in the kernel. Throws KernelError(-EINVAL), changing
 * nothing, for a table already freed, ops no format handed out, or another kernel's table;
 * TypeError for arguments of the wrong type.
 */
export function freeIoPgtableOps(ops: IoPgtableOps | null | undefined): void;
export function freeIoPgtableOps(kernel: Kernel, ops: IoPgtableOps | null | undefined): void;
export function freeIoPgtableOps(a: Kernel | IoPgtableOps | null | undefined, b?: IoPgtableOps | null): void {
  let kernel: Kernel | undefined;
  let ops: IoPgtableOps | null | undefined;
  if (arguments.length >= 2) {
    if (a === null || typeof a !== 'object' || !('modules' in a))
      throw new TypeError(`freeIoPgtableOps(kernel, ops): kernel is not a Kernel (got ${describe(a)})`);
    kernel = a as Kernel;
    ops = b;
  } else ops = a as IoPgtableOps | null | undefined;
  if (ops === null || ops === undefined) return;
  if (typeof ops !== 'object') throw new TypeError(`freeIoPgtableOps: ops must be an object (got ${describe(ops)})`);
  const b2 = tables.get(ops);
  if (!b2) {
    const fmt = freedTables.get(ops);
    if (fmt !== undefined) throw new KernelError(-EINVAL, `io-pgtable: double free of a ${fmt} table (freeIoPgtableOps was already called on it)`);
    throw new KernelError(-EINVAL, 'io-pgtable: freeIoPgtableOps was given ops that no format handed out (not from allocIoPgtableOps or a format\'s create function)');
  }
  if (kernel && b2.kernel !== null && b2.kernel !== kernel)
    throw new KernelError(-EINVAL, `io-pgtable: freeIoPgtableOps(kernel, ops): this ${b2.fmt} table was allocated by another kernel`);
  b2.cfg.tlb?.tlbFlushAll?.(b2.cookie);
  b2.fns.free(ops);
  tables.delete(ops);
  freedTables.set(ops, b2.fmt);
  if (b2.kernel) {
    coreState(b2.kernel).live.delete(ops);
    b2.kernel.modules.modulePut(b2.owner);
  }
}

/**
 * For format packages: records a table the format created outside allocIoPgtableOps (its
 * standalone create function), so that freeIoPgtableOps(ops) and ioPgtableOpsInfo(ops) work on
 * it as on any other. `free` releases its tables (called after tlbFlushAll). If the core later
 * adopts the same ops (allocIoPgtableOps called the create function), its record replaces this one.
 */
export function ioPgtableTrackStandalone(ops: IoPgtableOps, fmt: IoPgtableFmt, cfg: IoPgtableCfg, cookie: unknown, free: (ops: IoPgtableOps) => void): void {
  if (tables.has(ops)) throw new KernelError(-EINVAL, `io-pgtable: a ${fmt} table is already tracked`);
  tables.set(ops, { kernel: null, fmt, cookie, cfg: copyCfg(cfg), fns: { alloc: () => null, free }, owner: null });
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '...' : v)}`;
  if (typeof v === 'object' || typeof v === 'function') return typeof v;
  return `${typeof v} ${String(v)}`;
}

/**
 * Why `cfg` cannot be an io_pgtable_cfg at all (a field of the wrong JavaScript type, which C
 * would not compile), or null when every field has the right type. Values of the right type
 * that a format rejects (an ias of 70) are the format's business, not this check's.
 */
export function ioPgtableCfgTypeError(cfg: unknown): string | null {
  if (cfg === null || typeof cfg !== 'object') return `cfg must be an object (got ${describe(cfg)})`;
  const c = cfg as Record<string, unknown>;
  for (const k of ['quirks', 'pgsizeBitmap', 'ias', 'oas'] as const)
    if (typeof c[k] !== 'number') return `cfg.${k} must be a number (got ${describe(c[k])})`;
  if (typeof c.coherentWalk !== 'boolean') return `cfg.coherentWalk must be a boolean (got ${describe(c.coherentWalk)})`;
  const tlb = c.tlb;
  if (tlb !== undefined && tlb !== null) {
    if (typeof tlb !== 'object') return `cfg.tlb must be an object of callbacks (got ${describe(tlb)})`;
    for (const k of ['tlbFlushAll', 'tlbFlushWalk', 'tlbAddPage'] as const) {
      const f = (tlb as Record<string, unknown>)[k];
      if (f !== undefined && f !== null && typeof f !== 'function') return `cfg.tlb.${k} must be a function (got ${describe(f)})`;
    }
  }
  const a = c.allocator;
  if (a !== undefined && a !== null) {
    if (typeof a !== 'object') return `cfg.allocator must be an object with alloc and free (got ${describe(a)})`;
    for (const k of ['alloc', 'free'] as const) {
      const f = (a as Record<string, unknown>)[k];
      if (f !== undefined && typeof f !== 'function') return `cfg.allocator.${k} must be a function (got ${describe(f)})`;
    }
  }
  return null;
}

/** The format and the (format-completed) cfg of live ops, for drivers and dumps; undefined if not live. */
export function ioPgtableOpsInfo(ops: IoPgtableOps): { fmt: IoPgtableFmt; cfg: Readonly<IoPgtableCfg>; cookie: unknown } | undefined {
  const b = tables.get(ops);
  return b ? { fmt: b.fmt, cfg: b.cfg, cookie: b.cookie } : undefined;
}

/** Every table of `kernel` allocated and not yet freed, in allocation order. */
export function ioPgtableLiveTables(kernel: Kernel): IoPgtableLiveTable[] {
  const out: IoPgtableLiveTable[] = [];
  for (const ops of coreState(kernel).live) {
    const b = tables.get(ops)!;
    out.push({ ops, fmt: b.fmt, owner: b.owner?.name ?? null });
  }
  return out;
}
