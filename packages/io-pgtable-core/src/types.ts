import { IOMMU_CACHE, IOMMU_MMIO, IOMMU_NOEXEC, IOMMU_PRIV, IOMMU_READ, IOMMU_WRITE } from '@gki/kernel';
import type { IommuIotlbGather, IommuMappedOut, ModuleRef } from '@gki/kernel';

/**
 * The io-pgtable interface types: formats, prot flags, quirks, the config a driver fills and
 * a format completes, the TLB callbacks, the iotlb gather and the ops a format returns.
 * Names follow include/linux/io-pgtable.h and iommu.h so a reader can look them up there.
 */

/** The io-pgtable formats this model knows (the kernel's enum io_pgtable_fmt, by name). */
export const IO_PGTABLE_FORMATS = [
  'ARM_32_LPAE_S1',
  'ARM_32_LPAE_S2',
  'ARM_64_LPAE_S1',
  'ARM_64_LPAE_S2',
  'ARM_V7S',
  'ARM_MALI_LPAE',
] as const;
export type IoPgtableFmt = (typeof IO_PGTABLE_FORMATS)[number];

export function isIoPgtableFmt(s: string): s is IoPgtableFmt {
  return (IO_PGTABLE_FORMATS as readonly string[]).includes(s);
}

/**
 * IOMMU_* prot flags, the iotlb gather and `size_t *mapped` live in the kernel's IOMMU core
 * (include/linux/iommu.h); io-pgtable uses the same definitions.
 */
export { IOMMU_READ, IOMMU_WRITE, IOMMU_CACHE, IOMMU_NOEXEC, IOMMU_MMIO, IOMMU_PRIV, iommuIotlbGatherInit } from '@gki/kernel';
export type { IommuIotlbGather } from '@gki/kernel';

export const IOMMU_PROT_NAMES: Readonly<Record<string, number>> = {
  READ: IOMMU_READ,
  WRITE: IOMMU_WRITE,
  CACHE: IOMMU_CACHE,
  NOEXEC: IOMMU_NOEXEC,
  MMIO: IOMMU_MMIO,
  PRIV: IOMMU_PRIV,
};

/** IO_PGTABLE_QUIRK_* bits (current mainline assignment). */
export const IO_PGTABLE_QUIRK_ARM_NS = 1 << 0;
export const IO_PGTABLE_QUIRK_NO_PERMS = 1 << 1;
export const IO_PGTABLE_QUIRK_ARM_MTK_EXT = 1 << 3;
export const IO_PGTABLE_QUIRK_ARM_MTK_TTBR_EXT = 1 << 4;
export const IO_PGTABLE_QUIRK_ARM_TTBR1 = 1 << 5;
export const IO_PGTABLE_QUIRK_ARM_OUTER_WBWA = 1 << 6;
export const IO_PGTABLE_QUIRK_ARM_HD = 1 << 7;
export const IO_PGTABLE_QUIRK_ARM_S2FWB = 1 << 8;
export const IO_PGTABLE_QUIRK_NO_WARN = 1 << 9;

/** Quirk names as the vectors spell them (without the IO_PGTABLE_QUIRK_ prefix). */
export const IO_PGTABLE_QUIRK_NAMES: Readonly<Record<string, number>> = {
  ARM_NS: IO_PGTABLE_QUIRK_ARM_NS,
  NO_PERMS: IO_PGTABLE_QUIRK_NO_PERMS,
  ARM_MTK_EXT: IO_PGTABLE_QUIRK_ARM_MTK_EXT,
  ARM_MTK_TTBR_EXT: IO_PGTABLE_QUIRK_ARM_MTK_TTBR_EXT,
  ARM_TTBR1: IO_PGTABLE_QUIRK_ARM_TTBR1,
  ARM_OUTER_WBWA: IO_PGTABLE_QUIRK_ARM_OUTER_WBWA,
  ARM_HD: IO_PGTABLE_QUIRK_ARM_HD,
  ARM_S2FWB: IO_PGTABLE_QUIRK_ARM_S2FWB,
  NO_WARN: IO_PGTABLE_QUIRK_NO_WARN,
};

/** IOMMU_DIRTY_NO_CLEAR for readAndClearDirty. */
export const IOMMU_DIRTY_NO_CLEAR = 1 << 0;

/** struct iommu_flush_ops. Every callback is optional (the kernel's wrappers NULL-check). */
export interface IommuFlushOps {
  tlbFlushAll?(cookie: unknown): void;
  tlbFlushWalk?(iova: number, size: number, granule: number, cookie: unknown): void;
  tlbAddPage?(gather: IommuIotlbGather | null, iova: number, granule: number, cookie: unknown): void;
}

/** Stage-1 LPAE outputs (TCR as decoded fields, as in current kernels). */
export interface ArmLpaeS1Cfg {
  ttbr: bigint;
  tcr: { ips: number; tg: number; sh: number; orgn: number; irgn: number; tsz: number };
  mair: bigint;
}
export interface ArmLpaeS2Cfg {
  vttbr: bigint;
  vtcr: { ps: number; tg: number; sh: number; orgn: number; irgn: number; sl: number; tsz: number };
}
export interface ArmV7sCfg {
  ttbr: number;
  tcr: number;
  nmrr: number;
  prrr: number;
}
export interface ArmMaliLpaeCfg {
  transtab: bigint;
  memattr: bigint;
}

/** A custom table allocator (cfg->alloc / cfg->free): returns a PA or a negative errno. */
export interface IoPgtableAllocator {
  alloc(cookie: unknown, size: number): number;
  free(cookie: unknown, pa: number, size: number): void;
}

/**
 * struct io_pgtable_cfg. The driver fills the inputs; `allocIoPgtableOps` lets the format
 * restrict `pgsizeBitmap`, clamp `ias`/`oas` and fill its output block, in place, as the kernel does.
 * `pgsizeBitmap` is a plain number: sizes up to 2^52 are exact, use arithmetic, not `&`.
 */
export interface IoPgtableCfg {
  quirks: number;
  pgsizeBitmap: number;
  ias: number;
  oas: number;
  coherentWalk: boolean;
  tlb?: IommuFlushOps | null;
  /** The struct device the tables are DMA-mapped for (opaque to io-pgtable). */
  iommuDev?: unknown;
  allocator?: IoPgtableAllocator | null;
  armLpaeS1Cfg?: ArmLpaeS1Cfg;
  armLpaeS2Cfg?: ArmLpaeS2Cfg;
  armV7sCfg?: ArmV7sCfg;
  armMaliLpaeCfg?: ArmMaliLpaeCfg;
}

/** `size_t *mapped` of map_pages: the format ADDS the bytes it mapped; reuse one object in loops. */
export type MappedOut = IommuMappedOut;

/** A leaf visited by `walkLeaves` (a debug/inspection op, like the kernel's pgtable_walk). */
export interface IoPgtableLeaf {
  /** The kernel's level number for this format (LPAE 0..3, v7s 1..2). */
  level: number;
  iova: number;
  size: number;
  /** Descriptor value; LPAE: full 64 bits. */
  pte: bigint;
}

/**
 * struct io_pgtable_ops. Hot paths take and return plain numbers (IOVA and PA up to 52 bits).
 * `unmapPages` returns bytes unmapped, 0 on failure, or a negative errno where the kernel
 * returns `(size_t)-errno` (LPAE's -ENOENT for a hole).
 */
export interface IoPgtableOps {
  mapPages(iova: number, paddr: number, pgsize: number, pgcount: number, prot: number, mapped: MappedOut): number;
  unmapPages(iova: number, pgsize: number, pgcount: number, gather: IommuIotlbGather | null): number;
  /** 0 when there is no translation. A bigint IOVA is accepted for 64-bit (TTBR1) addresses. */
  iovaToPhys(iova: number | bigint): number;
  /** LPAE 64-bit S1 only; others return -EINVAL. Calls `record(iova, size)` for each dirty leaf. */
  readAndClearDirty?(iova: number, size: number, flags: number, record: (iova: number, size: number) => void): number;
  /** Every valid leaf in IOVA order (for dumps, replay and tests). */
  walkLeaves?(visit: (leaf: IoPgtableLeaf) => void): void;
}

/** The format supports a driver-provided table allocator (cfg.allocator). All LPAE formats; not v7s. */
export const IO_PGTABLE_CAP_CUSTOM_ALLOCATOR = 1 << 0;

/**
 * struct io_pgtable_init_fns as the seed series made it: what a format module registers for
 * each format it implements. `alloc` may modify `cfg` in place (restrict the bitmap, clamp
 * ias/oas, fill its output block) and returns null when it rejects the configuration.
 */
export interface IoPgtableInitFns {
  alloc(cfg: IoPgtableCfg, cookie: unknown): IoPgtableOps | null;
  /** Frees every table of `ops` (called by the core after tlbFlushAll). */
  free(ops: IoPgtableOps): void;
  caps?: number;
  /** The module implementing the format (ctx.self); the core takes a reference per live table. */
  owner?: ModuleRef | null;
}

/** Exported by the core as 'io_pgtable_ops_register': 0, -EINVAL (bad arguments), -EEXIST (taken). */
export type IoPgtableOpsRegisterFn = (fmt: IoPgtableFmt, fns: IoPgtableInitFns) => number;
/** Exported by the core as 'io_pgtable_ops_unregister'. */
export type IoPgtableOpsUnregisterFn = (fmt: IoPgtableFmt) => void;

/** The symbol names the core exports for format modules to `need`. */
export const IO_PGTABLE_OPS_REGISTER = 'io_pgtable_ops_register';
export const IO_PGTABLE_OPS_UNREGISTER = 'io_pgtable_ops_unregister';
