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
  readonly kernel: Kernel;
  readonly fmt: IoPgtableFmt;
  readonly cookie: unknown;
  /** A copy of the cfg as the format left it (restricted bitmap, clamped ias/oas, outputs). */
  readonly cfg: Readonly<IoPgtableCfg>;
  readonly fns: IoPgtableInitFns;
  readonly owner: ModuleRef | null;
}

const tables = new WeakMap<IoPgtableOps, Bookkeeping>();

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
    kernel.log.err(IO_PGTABLE_LOG, `format ${fmt}: loading ${alias} failed with ${err} (${errnoName(EPROBE_DEFER)})`);
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
  const log = kernel.log;
  if (typeof fmt !== 'string' || !isIoPgtableFmt(fmt)) {
    log.err(IO_PGTABLE_LOG, `alloc: unknown format ${String(fmt)}`);
    return -EINVAL;
  }
  if (!cfg || typeof cfg !== 'object') {
    log.err(IO_PGTABLE_LOG, `alloc ${fmt}: no cfg`);
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
  if (tables.has(ops)) {
    // A format handing out the same ops twice is a bug in the format; refuse to track it twice.
    kernel.modules.modulePut(owner);
    throw new KernelError(-EINVAL, `io-pgtable: format ${fmt} returned ops that are already live`);
  }
  tables.set(ops, { kernel, fmt, cookie, cfg: copyCfg(cfg), fns, owner });
  coreState(kernel).live.add(ops);
  return ops;
}

/**
 * free_io_pgtable_ops: flushes the whole TLB for the table's cookie, has the format free every
 * table page, and drops the module reference. `null` is a no-op (as in the kernel); ops that are
 * not live in `kernel` (already freed, or never allocated) throw KernelError(-EINVAL).
 */
export function freeIoPgtableOps(kernel: Kernel, ops: IoPgtableOps | null | undefined): void {
  if (ops === null || ops === undefined) return;
  const b = tables.get(ops);
  if (!b || b.kernel !== kernel) throw new KernelError(-EINVAL, 'io-pgtable: freeing ops that are not live (double free?)');
  b.cfg.tlb?.tlbFlushAll?.(b.cookie);
  b.fns.free(ops);
  tables.delete(ops);
  coreState(kernel).live.delete(ops);
  kernel.modules.modulePut(b.owner);
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
