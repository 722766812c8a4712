import { EEXIST, EINVAL, errnoName } from '@gki/kernel';
import type { Kernel } from '@gki/kernel';
import { IO_PGTABLE_FORMATS, isIoPgtableFmt, type IoPgtableFmt, type IoPgtableInitFns, type IoPgtableOps } from './types.js';

/** Log prefix of every io-pgtable core message. */
export const IO_PGTABLE_LOG = 'io-pgtable';

/**
 * Per-kernel state of the io-pgtable core: the seed series' non-const init-fns table (one slot per
 * format, indexed like the kernel's enum, as Robin Murphy suggested instead of a locked list), and
 * the set of page tables currently handed out by allocIoPgtableOps.
 */
export interface CoreState {
  readonly kernel: Kernel;
  readonly slots: (IoPgtableInitFns | null)[];
  readonly live: Set<IoPgtableOps>;
}

const states = new WeakMap<Kernel, CoreState>();

/** The core's state for `kernel`, created on first use. */
export function coreState(kernel: Kernel): CoreState {
  let s = states.get(kernel);
  if (!s) {
    s = { kernel, slots: IO_PGTABLE_FORMATS.map(() => null), live: new Set() };
    states.set(kernel, s);
  }
  return s;
}

function fmtIndex(fmt: IoPgtableFmt): number {
  return (IO_PGTABLE_FORMATS as readonly string[]).indexOf(fmt);
}

/**
 * io_pgtable_ops_register for one kernel: 0, -EINVAL for an unknown format or init fns without
 * alloc/free, -EEXIST when another module already implements the format. Logs the format either
 * way (Georgi Djakov's review asked that a failure names the format).
 */
export function ioPgtableOpsRegister(kernel: Kernel, fmt: IoPgtableFmt, fns: IoPgtableInitFns): number {
  const log = kernel.log;
  if (typeof fmt !== 'string' || !isIoPgtableFmt(fmt)) {
    log.err(IO_PGTABLE_LOG, `failed to register format ${String(fmt)}: unknown format (${errnoName(EINVAL)})`);
    return -EINVAL;
  }
  if (!fns || typeof fns.alloc !== 'function' || typeof fns.free !== 'function') {
    log.err(IO_PGTABLE_LOG, `failed to register format ${fmt}: init fns need alloc and free (${errnoName(EINVAL)})`);
    return -EINVAL;
  }
  const s = coreState(kernel);
  const i = fmtIndex(fmt);
  const cur = s.slots[i];
  if (cur) {
    const by = cur.owner ? ` by ${cur.owner.name}` : '';
    log.err(IO_PGTABLE_LOG, `failed to register format ${fmt}: already registered${by} (${errnoName(EEXIST)})`);
    return -EEXIST;
  }
  s.slots[i] = fns;
  log.info(IO_PGTABLE_LOG, `registered format ${fmt}${fns.owner ? ` (${fns.owner.name})` : ''}`);
  return 0;
}

/** io_pgtable_ops_unregister for one kernel: clears the format's slot (a no-op if it is empty). */
export function ioPgtableOpsUnregister(kernel: Kernel, fmt: IoPgtableFmt): void {
  if (typeof fmt !== 'string' || !isIoPgtableFmt(fmt)) {
    kernel.log.warn(IO_PGTABLE_LOG, `unregister of unknown format ${String(fmt)} ignored`);
    return;
  }
  const s = coreState(kernel);
  const i = fmtIndex(fmt);
  if (!s.slots[i]) {
    kernel.log.warn(IO_PGTABLE_LOG, `unregister of format ${fmt}, which is not registered, ignored`);
    return;
  }
  s.slots[i] = null;
  kernel.log.info(IO_PGTABLE_LOG, `unregistered format ${fmt}`);
}

/** The init fns registered for `fmt` in `kernel`, if any. */
export function ioPgtableInitFns(kernel: Kernel, fmt: IoPgtableFmt): IoPgtableInitFns | null {
  if (!isIoPgtableFmt(fmt)) return null;
  return states.get(kernel)?.slots[fmtIndex(fmt)] ?? null;
}

/** True when a module has registered an implementation of `fmt` in `kernel`. */
export function ioPgtableRegistered(kernel: Kernel, fmt: IoPgtableFmt): boolean {
  return ioPgtableInitFns(kernel, fmt) !== null;
}

/** The formats currently registered in `kernel`, in enum order. */
export function ioPgtableRegisteredFormats(kernel: Kernel): IoPgtableFmt[] {
  const s = states.get(kernel);
  if (!s) return [];
  return IO_PGTABLE_FORMATS.filter((_, i) => s.slots[i] !== null);
}
