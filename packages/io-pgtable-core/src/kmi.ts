import type { CoreSymbol, KmiTable, KmiUse } from '@gki/kernel';
import { allocIoPgtableOps, freeIoPgtableOps } from './alloc.js';
import { ioPgtableOpsRegister, ioPgtableOpsUnregister } from './registry.js';
import { IO_PGTABLE_OPS_REGISTER, IO_PGTABLE_OPS_UNREGISTER } from './types.js';

/*
 * The io-pgtable core's part of the kernel's module interface: drivers/iommu/io-pgtable.c is
 * built into the kernel (in the seed series as in mainline), so its exports are vmlinux's. The
 * built-in module ioPgtableCoreModule exports them; a module calling allocIoPgtableOps declares
 * 'alloc_io_pgtable_ops' in its needs, as its .ko would reference the symbol. The kernel's own
 * table and the types are in @gki/kernel (kernelKmi).
 */

/** EXPORT_SYMBOL_GPL(alloc_io_pgtable_ops). */
export const ALLOC_IO_PGTABLE_OPS = 'alloc_io_pgtable_ops';
/** EXPORT_SYMBOL_GPL(free_io_pgtable_ops). */
export const FREE_IO_PGTABLE_OPS = 'free_io_pgtable_ops';

const IO_PGTABLE_C = 'drivers/iommu/io-pgtable.c';
const MODEL_ONLY = 'model-only: no counterpart in C';

const USES: Readonly<Record<string, KmiUse>> = {
  allocIoPgtableOps: { kind: 'symbols', symbols: [ALLOC_IO_PGTABLE_OPS] },
  freeIoPgtableOps: { kind: 'symbols', symbols: [FREE_IO_PGTABLE_OPS] },
  ioPgtableOpsRegister: { kind: 'symbols', symbols: [IO_PGTABLE_OPS_REGISTER] },
  ioPgtableOpsUnregister: { kind: 'symbols', symbols: [IO_PGTABLE_OPS_UNREGISTER] },
  iommuIotlbGatherInit: { kind: 'none', why: 'iommu_iotlb_gather_init: a static inline in include/linux/iommu.h' },
  isIoPgtableFmt: { kind: 'none', why: 'a range check of enum io_pgtable_fmt: the C compiler and the caller do it, no call' },
  ioPgtableOpsInfo: { kind: 'none', why: 'io_pgtable_ops_to_pgtable: a container_of macro, no call' },
  ioPgtableCfgTypeError: { kind: 'none', why: `${MODEL_ONLY} (the type checks the C compiler does on a struct io_pgtable_cfg)` },
  ioPgtableTrackStandalone: {
    kind: 'none',
    why: `${MODEL_ONLY}: bookkeeping that lets free_io_pgtable_ops take a table a format package created outside alloc_io_pgtable_ops (its standalone library entry point; Linux's formats have none)`,
  },
  ioPgtableFmtAlias: { kind: 'internal', why: "the alias the core asks request_module for ('io-pgtable-fmt-<FMT>'): the core's own" },
  ioPgtableInitFns: { kind: 'internal', why: "the core's registry (io_pgtable_init_table), read by the core only" },
  ioPgtableRegistered: { kind: 'internal', why: "introspection of the core's registry, for tools and tests" },
  ioPgtableRegisteredFormats: { kind: 'internal', why: "introspection of the core's registry, for tools and tests" },
  ioPgtableLiveTables: { kind: 'internal', why: "introspection of the core's live tables, for tools and tests" },
  coreState: { kind: 'internal', why: "the core's per-kernel state" },
  mapRange: { kind: 'internal', why: 'a library helper for page tables outside a kernel; in one, drivers map through iommu_map' },
  unmapRange: { kind: 'internal', why: 'a library helper for page tables outside a kernel; in one, drivers unmap through iommu_unmap' },
  ioPgtableKmi: { kind: 'internal', why: 'the KMI table itself, for the build tools and checks' },
};

let symbols: readonly CoreSymbol[] | undefined;

const TABLE: KmiTable = {
  package: '@gki/io-pgtable-core',
  symbols(): readonly CoreSymbol[] {
    symbols ??= [
      { name: ALLOC_IO_PGTABLE_OPS, gplOnly: true, source: IO_PGTABLE_C, value: allocIoPgtableOps },
      { name: FREE_IO_PGTABLE_OPS, gplOnly: true, source: IO_PGTABLE_C, value: freeIoPgtableOps },
      // the seed series' registration functions, exported GPL-only as its patches did
      { name: IO_PGTABLE_OPS_REGISTER, gplOnly: true, source: IO_PGTABLE_C, value: ioPgtableOpsRegister },
      { name: IO_PGTABLE_OPS_UNREGISTER, gplOnly: true, source: IO_PGTABLE_C, value: ioPgtableOpsUnregister },
    ];
    return symbols;
  },
  uses: USES,
};

/** The io-pgtable core's KMI (its exports and the classification of its published functions). */
export function ioPgtableKmi(): KmiTable {
  return TABLE;
}
