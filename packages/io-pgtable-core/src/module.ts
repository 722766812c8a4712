import type { KernelModule, ModuleContext } from '@gki/kernel';
import { allocIoPgtableOps, freeIoPgtableOps } from './alloc.js';
import { ALLOC_IO_PGTABLE_OPS, FREE_IO_PGTABLE_OPS } from './kmi.js';
import { IO_PGTABLE_LOG, coreState, ioPgtableOpsRegister, ioPgtableOpsUnregister } from './registry.js';
import { IO_PGTABLE_OPS_REGISTER, IO_PGTABLE_OPS_UNREGISTER, type IoPgtableOpsRegisterFn, type IoPgtableOpsUnregisterFn } from './types.js';
import { PACKAGE_VERSION } from './version.js';

/**
 * The io-pgtable core as a built-in module (drivers/iommu/io-pgtable.c stays in the core kernel
 * in the seed series): it exports alloc_io_pgtable_ops / free_io_pgtable_ops for the IOMMU and
 * GPU drivers, and the registration functions format modules call from their init and exit,
 * each bound to the kernel whose symbol table holds it; all GPL-only. Its initcall runs at core
 * level, before any format can register.
 */
export const ioPgtableCoreModule: KernelModule = {
  name: 'io-pgtable',
  version: PACKAGE_VERSION,
  license: 'GPL v2',
  description: 'IO page-table core: format registry and allocation',
  initcall: 'core',
  exports: {
    [ALLOC_IO_PGTABLE_OPS]: { value: allocIoPgtableOps, gplOnly: true },
    [FREE_IO_PGTABLE_OPS]: { value: freeIoPgtableOps, gplOnly: true },
    [IO_PGTABLE_OPS_REGISTER]: {
      value: undefined,
      bind: (k): IoPgtableOpsRegisterFn => (fmt, fns) => ioPgtableOpsRegister(k, fmt, fns),
      gplOnly: true,
    },
    [IO_PGTABLE_OPS_UNREGISTER]: {
      value: undefined,
      bind: (k): IoPgtableOpsUnregisterFn => (fmt) => ioPgtableOpsUnregister(k, fmt),
      gplOnly: true,
    },
  },
  init(ctx: ModuleContext): number {
    coreState(ctx.kernel);
    ctx.kernel.log.debug(IO_PGTABLE_LOG, 'format registry ready');
    return 0;
  },
};
