import { EEXIST, EINVAL, errnoName } from '@gki/kernel';
import type { Kernel, KernelModule, ModuleContext, ModuleRef } from '@gki/kernel';
import {
  IO_PGTABLE_FORMATS,
  IO_PGTABLE_OPS_REGISTER,
  IO_PGTABLE_OPS_UNREGISTER,
  isIoPgtableFmt,
  type IoPgtableFmt,
  type IoPgtableInitFns,
  type IoPgtableOps,
  type IoPgtableOpsRegisterFn,
  type IoPgtableOpsUnregisterFn,
} from './types.js';

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

/**
 * Kernels whose io-pgtable core initcall ran, most recent last. Weak references, so a test that
 * boots many kernels does not keep them alive.
 */
let bound: WeakRef<Kernel>[] = [];
/** Set while the core itself (allocIoPgtableOps) asks a kernel's loader for a module. */
const requesting: Kernel[] = [];

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

function aliveKernels(): Kernel[] {
  const out: Kernel[] = [];
  const keep: WeakRef<Kernel>[] = [];
  for (const r of bound) {
    const k = r.deref();
    if (k) {
      out.push(k);
      keep.push(r);
    }
  }
  bound = keep;
  return out;
}

/** Records that `kernel` runs this core (its initcall ran), making it the most recent one. */
function bindKernel(kernel: Kernel): void {
  bound = bound.filter((r) => {
    const k = r.deref();
    return k !== undefined && k !== kernel;
  });
  bound.push(new WeakRef(kernel));
  coreState(kernel);
}

/** Runs `fn` with `kernel` marked as the one whose loader the core is driving (request_module). */
export function withRequestingKernel<T>(kernel: Kernel, fn: () => T): T {
  requesting.push(kernel);
  try {
    return fn();
  } finally {
    requesting.pop();
  }
}

/**
 * True when `ref` is one of `kernel`'s modules. The loader refuses references to another
 * kernel's modules, so a balanced get/put is a side-effect-free membership test.
 */
function ownedBy(kernel: Kernel, ref: ModuleRef): boolean {
  try {
    if (kernel.modules.tryModuleGet(ref)) kernel.modules.modulePut(ref);
    return true;
  } catch {
    return false;
  }
}

/**
 * Which kernel a call of the exported symbols belongs to. In Linux there is one kernel per
 * machine; here one `KernelModule` object is shared by every booted Kernel, so its exported
 * functions have to find their kernel:
 * 1. register: the kernel whose loader owns `fns.owner` (the registering module's ctx.self);
 *    unregister: the kernel whose slot holds fns of a module that is going (its exit) or
 *    coming (the clean-up of its own failed init);
 * 2. the kernel whose loader the core is driving right now (on-demand load from an allocation);
 * 3. otherwise the kernel that ran the core's initcall most recently (boot, then modprobe).
 */
function resolveKernel(owner: ModuleRef | null | undefined, unregFmt?: IoPgtableFmt): Kernel | undefined {
  const kernels = aliveKernels();
  if (owner) {
    for (let j = kernels.length - 1; j >= 0; j--) if (ownedBy(kernels[j]!, owner)) return kernels[j];
  }
  if (unregFmt !== undefined) {
    const i = fmtIndex(unregFmt);
    for (let j = kernels.length - 1; j >= 0; j--) {
      const st = coreState(kernels[j]!).slots[i]?.owner?.state;
      if (st === 'going' || st === 'coming') return kernels[j];
    }
  }
  const top = requesting[requesting.length - 1];
  if (top) return top;
  return kernels[kernels.length - 1];
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

/** The function exported as 'io_pgtable_ops_register' (shared by every kernel, see resolveKernel). */
const registerSymbol: IoPgtableOpsRegisterFn = (fmt, fns) => {
  const k = resolveKernel(fns?.owner);
  if (!k) return -EINVAL; // no kernel runs the io-pgtable core: nothing can be registered
  return ioPgtableOpsRegister(k, fmt, fns);
};

/** The function exported as 'io_pgtable_ops_unregister'. */
const unregisterSymbol: IoPgtableOpsUnregisterFn = (fmt) => {
  const k = resolveKernel(null, isIoPgtableFmt(fmt) ? fmt : undefined);
  if (k) ioPgtableOpsUnregister(k, fmt);
};

/**
 * The io-pgtable core as a built-in module (drivers/iommu/io-pgtable.c stays in the core kernel
 * in the seed series): it exports the registration functions format modules call from their
 * init and exit. Its initcall runs at core level, before any format can register.
 */
export const ioPgtableCoreModule: KernelModule = {
  name: 'io-pgtable',
  version: '0.1.0',
  license: 'GPL v2',
  description: 'IO page-table core: format registry and allocation',
  initcall: 'core',
  exports: {
    [IO_PGTABLE_OPS_REGISTER]: { value: registerSymbol, gplOnly: true },
    [IO_PGTABLE_OPS_UNREGISTER]: { value: unregisterSymbol, gplOnly: true },
  },
  init(ctx: ModuleContext): number {
    bindKernel(ctx.kernel);
    ctx.kernel.log.debug(IO_PGTABLE_LOG, 'format registry ready');
    return 0;
  },
};
