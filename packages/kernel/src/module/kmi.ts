import type { Kernel } from '../kernel.js';
import type { Driver } from '../driver/types.js';
import type { Device } from '../driver/device.js';
import { devErrProbe, freeIrq, requestIrq } from '../driver/core.js';
import { DrmDevice, type DrmDriver } from '../drm/device.js';
import {
  drmGemAllocBlocks,
  drmGemBlocksToRuns,
  drmGemCreateMmapOffset,
  drmGemCreateMmapOffsetSize,
  drmGemFreeBlocks,
  drmGemFreeMmapOffset,
  drmGemHandleCreate,
  drmGemHandleDelete,
  drmGemMmap,
  drmGemObjectRelease,
} from '../drm/gem.js';
import { DrmHandleTable } from '../drm/handles.js';
import { DrmMm, drmMmReserveNode, type DrmMmColorAdjust, type DrmMmNode } from '../drm/mm.js';
import { drmTimeoutAbsToNs } from '../drm/time.js';
import { DrmVmaOffsetManager, drmVmaNodeAllow, drmVmaNodeAllowOnce, drmVmaNodeIsAllowed, drmVmaNodeRevoke, type DrmVmaOffsetNode } from '../drm/vma-manager.js';
import {
  dmaAllocCoherent,
  dmaFreeCoherent,
  dmaMapSg,
  dmaMapSingle,
  dmaSetCoherentMask,
  dmaSetMask,
  dmaUnmapSg,
  dmaUnmapSingle,
} from '../dma/mapping.js';
import {
  devIommuPrivSet,
  genericDeviceGroup,
  pciDeviceGroup,
  iommuAttachDevice,
  iommuAttachGroup,
  iommuDetachDevice,
  iommuDetachGroup,
  iommuDeviceRegister,
  iommuDeviceUnregister,
  iommuDomainAlloc,
  iommuDomainFree,
  iommuFwspecAddIds,
  iommuFwspecInit,
  iommuGetDomainForDev,
  iommuGroupGet,
  iommuSetFaultHandler,
  iommuSetPgtableQuirks,
  reportIommuFault,
} from '../iommu/core.js';
import { iommuIovaToPhys, iommuMap, iommuUnmap, iommuUnmapFast } from '../iommu/map.js';
import { ofAddressToResource, ofGetAddress, ofNAddrCells, ofNSizeCells, ofTranslateAddress } from '../of/address.js';
import { ofIrqFindParent, ofIrqParse, ofIrqParseRaw } from '../of/irq.js';
import { ofCountPhandleWithArgs, ofFindNodeByPhandle, ofParsePhandleWithArgs } from '../of/phandle.js';
import { ofMapId } from '../of/map-id.js';
import { devmOfPlatformPopulate } from '../of/of.js';
import {
  qcomScmIommuSecurePtblInit,
  qcomScmIommuSecurePtblSize,
  qcomScmIsAvailable,
  qcomScmRestoreSecCfg,
  qcomScmRestoreSecCfgAvailable,
} from '../firmware/qcom-scm.js';
import {
  pciClearMaster,
  pciEnableDeviceMem,
  pciReadConfigByte,
  pciReadConfigDword,
  pciReadConfigWord,
  pciSetMaster,
  pciWriteConfigDword,
  pciWriteConfigWord,
} from '../pci/host.js';
import {
  ofDeviceIsAvailable,
  ofDeviceIsCompatible,
  ofMatchNode,
  ofPropertyCountU32Elems,
  ofPropertyMatchString,
  ofPropertyReadBool,
  ofPropertyReadString,
  ofPropertyReadStringArray,
  ofPropertyReadU32Array,
  ofPropertyReadU32Index,
  ofPropertyReadU64,
} from '../of/property.js';
import { delayNs, ktimeGetNs, NSEC_PER_USEC } from '../time.js';
import { WorkQueue } from '../workqueue.js';
import { EINVAL, KernelError } from '../errno.js';
import type { ModuleRef } from './types.js';

/*
 * The kernel's module interface (KMI): which functions vmlinux exports to modules, and how each
 * value this package publishes relates to them.
 *
 * In Linux a module calls into the core kernel through undefined symbols of its .ko that the
 * loader resolves against vmlinux's export table (EXPORT_SYMBOL / EXPORT_SYMBOL_GPL, optionally
 * in a namespace); modpost checks them at build time, Module.symvers lists them, and Android's
 * abi_gki symbol lists are made of them. Here a module package imports the core's functions
 * directly (the core is built into every image), and declares the symbols those functions stand
 * for in its descriptor's `needs`, which the loader resolves against the table below. A check
 * over each module package's source (see the gki app's tests) keeps `needs` and the imports in
 * step, using the classification in KERNEL_KMI.uses.
 *
 * Symbol names, licences and namespaces are those of mainline Linux around v6.17/v6.18 (the
 * version the page-table formats follow): where a C API is a static inline or a macro, the
 * symbol is the exported function it expands to (dma_map_single -> dma_map_page_attrs,
 * of_property_read_u32 -> of_property_read_variable_u32_array, request_irq from a devm driver
 * -> devm_request_threaded_irq, alloc_workqueue -> alloc_workqueue_noprof).
 */

/** One function vmlinux exports to modules, as Module.symvers lists it. */
export interface CoreSymbol {
  /** The exported symbol name (what a module's .ko references). */
  readonly name: string;
  /** EXPORT_SYMBOL_GPL: only GPL-compatible modules resolve it. */
  readonly gplOnly: boolean;
  /** EXPORT_SYMBOL_NS[_GPL]: the namespace a user must import (none of this table's are). */
  readonly namespace?: string;
  /** The file of the Linux tree that exports it. */
  readonly source: string;
  /** The model's implementation (what `ctx.symbol(name)` returns), in the model's calling convention. */
  readonly value: unknown;
}

/**
 * How one published function (or class) of a core package relates to the exports:
 * - `symbols`: using it references these exported symbols (it is the exported function, a
 *   static inline or macro expanding to calls of them, or a class standing for their calls);
 * - `none`: it creates no symbol reference (a static inline, a macro, a build-time table, or a
 *   model-only helper with no counterpart in C), with the reason;
 * - `internal`: kernel infrastructure that Linux does not offer modules at all; a module that
 *   imports it has a bug, and the check says so.
 */
export type KmiUse =
  | { readonly kind: 'symbols'; readonly symbols: readonly string[] }
  | { readonly kind: 'none'; readonly why: string }
  | { readonly kind: 'internal'; readonly why: string };

/** A core package's KMI: its exported symbols and the classification of its published functions. */
export interface KmiTable {
  /** The npm package ('@gki/kernel'). */
  readonly package: string;
  /** Its exported symbols, sorted by name. */
  symbols(): readonly CoreSymbol[];
  /**
   * Every function and class the package's root entry point publishes, by export name.
   * Non-function exports (constants, enums, string tables) are #defines and enums in C and
   * create no symbol references; they are not listed.
   */
  readonly uses: Readonly<Record<string, KmiUse>>;
}

type Row = readonly [name: string, gplOnly: boolean, source: string, value: () => unknown];

const IOMMU_C = 'drivers/iommu/iommu.c';
const MAPPING_C = 'kernel/dma/mapping.c';
const OF_BASE_C = 'drivers/of/base.c';
const PCI_ACCESS_C = 'drivers/pci/access.c';
const PCI_C = 'drivers/pci/pci.c';
const OF_PROPERTY_C = 'drivers/of/property.c';
const OF_ADDRESS_C = 'drivers/of/address.c';
const OF_IRQ_C = 'drivers/of/irq.c';
const DRM_DRV_C = 'drivers/gpu/drm/drm_drv.c';
const DRM_FILE_C = 'drivers/gpu/drm/drm_file.c';
const WORKQUEUE_C = 'kernel/workqueue.c';
const IDR_C = 'lib/idr.c';
const DRM_MM_C = 'drivers/gpu/drm/drm_mm.c';
const DRM_GEM_C = 'drivers/gpu/drm/drm_gem.c';
const DRM_VMA_C = 'drivers/gpu/drm/drm_vma_manager.c';
const QCOM_SCM_C = 'drivers/firmware/qcom/qcom_scm.c';

// The values of exports the model implements as class methods or through another subsystem.
const platformDriverRegister = (kernel: Kernel, drv: Driver): number => kernel.drivers.registerDriver(drv);
const platformDriverUnregister = (kernel: Kernel, drv: Driver): number => kernel.drivers.unregisterDriver(drv);
const drmDevAlloc = (dev: Device, driver: DrmDriver, owner: ModuleRef | null, priv: unknown): DrmDevice => new DrmDevice(dev, driver, owner, priv);
const drmMmRemoveNode = (node: DrmMmNode): void => {
  if (!node.mm) throw new KernelError(-EINVAL, 'drm_mm_remove_node: the node is not allocated');
  node.mm.removeNode(node);
};
const usleepRangeState = (kernel: Kernel, minUs: number): void => delayNs(kernel, minUs * NSEC_PER_USEC);

const ROWS: readonly Row[] = [
  // drivers/iommu/iommu.c: the IOMMU core API (all EXPORT_SYMBOL_GPL)
  ['iommu_device_register', true, IOMMU_C, () => iommuDeviceRegister],
  ['iommu_device_unregister', true, IOMMU_C, () => iommuDeviceUnregister],
  ['iommu_fwspec_init', true, IOMMU_C, () => iommuFwspecInit],
  ['iommu_fwspec_add_ids', true, IOMMU_C, () => iommuFwspecAddIds],
  ['dev_iommu_priv_set', true, IOMMU_C, () => devIommuPrivSet],
  ['generic_device_group', true, IOMMU_C, () => genericDeviceGroup],
  ['pci_device_group', true, IOMMU_C, () => pciDeviceGroup],
  ['iommu_group_get', true, IOMMU_C, () => iommuGroupGet],
  ['iommu_paging_domain_alloc_flags', true, IOMMU_C, () => iommuDomainAlloc],
  ['iommu_domain_free', true, IOMMU_C, () => iommuDomainFree],
  ['iommu_attach_device', true, IOMMU_C, () => iommuAttachDevice],
  ['iommu_detach_device', true, IOMMU_C, () => iommuDetachDevice],
  ['iommu_attach_group', true, IOMMU_C, () => iommuAttachGroup],
  ['iommu_detach_group', true, IOMMU_C, () => iommuDetachGroup],
  ['iommu_get_domain_for_dev', true, IOMMU_C, () => iommuGetDomainForDev],
  ['iommu_set_fault_handler', true, IOMMU_C, () => iommuSetFaultHandler],
  ['report_iommu_fault', true, IOMMU_C, () => reportIommuFault],
  ['iommu_set_pgtable_quirks', true, IOMMU_C, () => iommuSetPgtableQuirks],
  ['iommu_map', true, IOMMU_C, () => iommuMap],
  ['iommu_unmap', true, IOMMU_C, () => iommuUnmap],
  ['iommu_unmap_fast', true, IOMMU_C, () => iommuUnmapFast],
  ['iommu_iova_to_phys', true, IOMMU_C, () => iommuIovaToPhys],
  // kernel/dma/mapping.c: the DMA API (EXPORT_SYMBOL)
  ['dma_map_page_attrs', false, MAPPING_C, () => dmaMapSingle],
  ['dma_unmap_page_attrs', false, MAPPING_C, () => dmaUnmapSingle],
  ['dma_map_sg_attrs', false, MAPPING_C, () => dmaMapSg],
  ['dma_unmap_sg_attrs', false, MAPPING_C, () => dmaUnmapSg],
  ['dma_alloc_attrs', false, MAPPING_C, () => dmaAllocCoherent],
  ['dma_free_attrs', false, MAPPING_C, () => dmaFreeCoherent],
  ['dma_set_mask', false, MAPPING_C, () => dmaSetMask],
  ['dma_set_coherent_mask', false, MAPPING_C, () => dmaSetCoherentMask],
  // interrupts and the driver core
  ['devm_request_threaded_irq', false, 'kernel/irq/devres.c', () => requestIrq],
  ['devm_free_irq', false, 'kernel/irq/devres.c', () => freeIrq],
  ['__platform_driver_register', true, 'drivers/base/platform.c', () => platformDriverRegister],
  ['platform_driver_unregister', true, 'drivers/base/platform.c', () => platformDriverUnregister],
  ['dev_err_probe', true, 'drivers/base/core.c', () => devErrProbe],
  // drivers/of: the device-tree API
  ['of_device_is_compatible', false, OF_BASE_C, () => ofDeviceIsCompatible],
  ['of_device_is_available', false, OF_BASE_C, () => ofDeviceIsAvailable],
  ['of_match_node', false, OF_BASE_C, () => ofMatchNode],
  ['__of_parse_phandle_with_args', false, OF_BASE_C, () => ofParsePhandleWithArgs],
  ['of_map_id', true, OF_BASE_C, () => ofMapId],
  // drivers/pci: config accessors and the command-register helpers PCI drivers call
  ['pci_read_config_byte', false, PCI_ACCESS_C, () => pciReadConfigByte],
  ['pci_read_config_word', false, PCI_ACCESS_C, () => pciReadConfigWord],
  ['pci_read_config_dword', false, PCI_ACCESS_C, () => pciReadConfigDword],
  ['pci_write_config_word', false, PCI_ACCESS_C, () => pciWriteConfigWord],
  ['pci_write_config_dword', false, PCI_ACCESS_C, () => pciWriteConfigDword],
  ['pci_enable_device_mem', false, PCI_C, () => pciEnableDeviceMem],
  ['pci_set_master', false, PCI_C, () => pciSetMaster],
  ['pci_clear_master', false, PCI_C, () => pciClearMaster],
  ['of_count_phandle_with_args', false, OF_BASE_C, () => ofCountPhandleWithArgs],
  ['of_find_node_by_phandle', false, OF_BASE_C, () => ofFindNodeByPhandle],
  ['of_find_property', false, OF_BASE_C, () => ofPropertyReadBool],
  ['of_n_addr_cells', false, OF_BASE_C, () => ofNAddrCells],
  ['of_n_size_cells', false, OF_BASE_C, () => ofNSizeCells],
  ['of_property_read_variable_u32_array', true, OF_PROPERTY_C, () => ofPropertyReadU32Array],
  ['of_property_read_u32_index', true, OF_PROPERTY_C, () => ofPropertyReadU32Index],
  ['of_property_count_elems_of_size', true, OF_PROPERTY_C, () => ofPropertyCountU32Elems],
  ['of_property_read_u64', true, OF_PROPERTY_C, () => ofPropertyReadU64],
  ['of_property_read_string', true, OF_PROPERTY_C, () => ofPropertyReadString],
  ['of_property_read_string_helper', true, OF_PROPERTY_C, () => ofPropertyReadStringArray],
  ['of_property_match_string', true, OF_PROPERTY_C, () => ofPropertyMatchString],
  ['__of_get_address', false, OF_ADDRESS_C, () => ofGetAddress],
  ['of_translate_address', false, OF_ADDRESS_C, () => ofTranslateAddress],
  ['of_address_to_resource', true, OF_ADDRESS_C, () => ofAddressToResource],
  ['of_irq_find_parent', true, OF_IRQ_C, () => ofIrqFindParent],
  ['of_irq_parse_one', true, OF_IRQ_C, () => ofIrqParse],
  ['of_irq_parse_raw', true, OF_IRQ_C, () => ofIrqParseRaw],
  ['devm_of_platform_populate', true, 'drivers/of/platform.c', () => devmOfPlatformPopulate],
  // drivers/firmware/qcom/qcom_scm.c (built in; EXPORT_SYMBOL_GPL)
  ['qcom_scm_is_available', true, QCOM_SCM_C, () => qcomScmIsAvailable],
  ['qcom_scm_restore_sec_cfg_available', true, QCOM_SCM_C, () => qcomScmRestoreSecCfgAvailable],
  ['qcom_scm_restore_sec_cfg', true, QCOM_SCM_C, () => qcomScmRestoreSecCfg],
  ['qcom_scm_iommu_secure_ptbl_size', true, QCOM_SCM_C, () => qcomScmIommuSecurePtblSize],
  ['qcom_scm_iommu_secure_ptbl_init', true, QCOM_SCM_C, () => qcomScmIommuSecurePtblInit],
  // time
  ['ktime_get', true, 'kernel/time/timekeeping.c', () => ktimeGetNs],
  ['usleep_range_state', false, 'kernel/time/sleep_timeout.c', () => usleepRangeState],
  // workqueues and IDs
  ['alloc_workqueue_noprof', true, WORKQUEUE_C, () => () => new WorkQueue()],
  ['queue_work_on', false, WORKQUEUE_C, () => (_cpu: number, wq: WorkQueue, fn: () => void) => wq.queue(fn)],
  ['__flush_workqueue', false, WORKQUEUE_C, () => (wq: WorkQueue) => wq.flush()],
  ['destroy_workqueue', true, WORKQUEUE_C, () => (wq: WorkQueue) => wq.flush()],
  ['idr_alloc', true, IDR_C, () => <T extends object>(idr: DrmHandleTable<T>, obj: T) => idr.alloc(obj)],
  ['idr_find', true, IDR_C, () => <T extends object>(idr: DrmHandleTable<T>, id: number) => idr.lookup(id)],
  ['idr_remove', true, IDR_C, () => <T extends object>(idr: DrmHandleTable<T>, id: number) => idr.remove(id)],
  // the DRM core (built in: GKI sets CONFIG_DRM=y)
  ['drm_dev_alloc', false, DRM_DRV_C, () => drmDevAlloc],
  ['drm_dev_register', false, DRM_DRV_C, () => (ddev: DrmDevice) => ddev.register()],
  ['drm_dev_unregister', false, DRM_DRV_C, () => (ddev: DrmDevice) => ddev.unregister()],
  ['drm_dev_unplug', false, DRM_DRV_C, () => (ddev: DrmDevice) => ddev.unplug()],
  ['drm_dev_put', false, DRM_DRV_C, () => (ddev: DrmDevice) => ddev.put()],
  ['drm_open', false, DRM_FILE_C, () => <F extends object>(ddev: DrmDevice<F>, create: () => F | number) => ddev.open(create)],
  ['drm_release', false, DRM_FILE_C, () => <F extends object>(ddev: DrmDevice<F>, file: F) => ddev.release(file)],
  ['drm_gem_get_pages', false, 'drivers/gpu/drm/drm_gem.c', () => drmGemAllocBlocks],
  ['drm_gem_put_pages', false, 'drivers/gpu/drm/drm_gem.c', () => drmGemFreeBlocks],
  ['drm_prime_pages_to_sg', false, 'drivers/gpu/drm/drm_prime.c', () => drmGemBlocksToRuns],
  ['drm_timeout_abs_to_jiffies', false, 'drivers/gpu/drm/drm_syncobj.c', () => drmTimeoutAbsToNs],
  // drivers/gpu/drm/drm_mm.c: the range allocator (EXPORT_SYMBOL); drm_mm_init returns the
  // allocator here where C initialises the caller's struct
  ['drm_mm_init', false, DRM_MM_C, () => (start: number, size: number, colorAdjust?: DrmMmColorAdjust | null) => new DrmMm(start, size, colorAdjust ?? null)],
  [
    'drm_mm_insert_node_in_range',
    false,
    DRM_MM_C,
    () => (mm: DrmMm, node: DrmMmNode, size: number, alignment: number, color: number, rangeStart: number, rangeEnd: number, mode: number) =>
      mm.insertNodeInRange(node, size, alignment, color, rangeStart, rangeEnd, mode),
  ],
  ['drm_mm_reserve_node', false, DRM_MM_C, () => drmMmReserveNode],
  ['drm_mm_remove_node', false, DRM_MM_C, () => drmMmRemoveNode],
  ['drm_mm_takedown', false, DRM_MM_C, () => (mm: DrmMm) => mm.takedown()],
  // drivers/gpu/drm/drm_vma_manager.c (EXPORT_SYMBOL): the mmap offset manager; init returns the
  // manager here where C initialises the caller's struct
  ['drm_vma_offset_manager_init', false, DRM_VMA_C, () => (pageOffset: number, size: number) => new DrmVmaOffsetManager(pageOffset, size)],
  ['drm_vma_offset_manager_destroy', false, DRM_VMA_C, () => (mgr: DrmVmaOffsetManager) => mgr.destroy()],
  ['drm_vma_offset_lookup_locked', false, DRM_VMA_C, () => (mgr: DrmVmaOffsetManager, start: number, pages: number) => mgr.lookup(start, pages)],
  ['drm_vma_offset_add', false, DRM_VMA_C, () => (mgr: DrmVmaOffsetManager, node: DrmVmaOffsetNode, pages: number) => mgr.add(node, pages)],
  ['drm_vma_offset_remove', false, DRM_VMA_C, () => (mgr: DrmVmaOffsetManager, node: DrmVmaOffsetNode) => mgr.remove(node)],
  ['drm_vma_node_allow', false, DRM_VMA_C, () => drmVmaNodeAllow],
  ['drm_vma_node_allow_once', false, DRM_VMA_C, () => drmVmaNodeAllowOnce],
  ['drm_vma_node_revoke', false, DRM_VMA_C, () => drmVmaNodeRevoke],
  ['drm_vma_node_is_allowed', false, DRM_VMA_C, () => drmVmaNodeIsAllowed],
  // drivers/gpu/drm/drm_gem.c (EXPORT_SYMBOL): GEM mmap offsets, handles and the mmap entry
  ['drm_gem_create_mmap_offset', false, DRM_GEM_C, () => drmGemCreateMmapOffset],
  ['drm_gem_create_mmap_offset_size', false, DRM_GEM_C, () => drmGemCreateMmapOffsetSize],
  ['drm_gem_free_mmap_offset', false, DRM_GEM_C, () => drmGemFreeMmapOffset],
  ['drm_gem_object_release', false, DRM_GEM_C, () => drmGemObjectRelease],
  ['drm_gem_handle_create', false, DRM_GEM_C, () => drmGemHandleCreate],
  ['drm_gem_handle_delete', false, DRM_GEM_C, () => drmGemHandleDelete],
  ['drm_gem_mmap', false, DRM_GEM_C, () => drmGemMmap],
];

const sym = (...symbols: string[]): KmiUse => ({ kind: 'symbols', symbols });
const none = (why: string): KmiUse => ({ kind: 'none', why });
const internal = (why: string): KmiUse => ({ kind: 'internal', why });

const INLINE = 'a static inline in the Linux headers: compiled into the caller, no symbol';
const MODEL_ONLY = 'model-only: no counterpart in C (the model checks or converts what the C compiler or the caller would)';
const CORE_OBJECT = 'a core kernel object the driver core, OF layer or IOMMU core creates; drivers only receive one';

/**
 * Every function and class `@gki/kernel` publishes, classified (see KmiUse). The package's test
 * fails when a published function is missing here, so a new one has to be placed.
 */
const KERNEL_USES: Readonly<Record<string, KmiUse>> = {
  // IOMMU core
  iommuDeviceRegister: sym('iommu_device_register'),
  iommuDeviceUnregister: sym('iommu_device_unregister'),
  iommuFwspecInit: sym('iommu_fwspec_init'),
  iommuFwspecAddIds: sym('iommu_fwspec_add_ids'),
  devIommuPrivSet: sym('dev_iommu_priv_set'),
  genericDeviceGroup: sym('generic_device_group'),
  pciDeviceGroup: sym('pci_device_group'),
  iommuGroupGet: sym('iommu_group_get'),
  iommuDomainAlloc: sym('iommu_paging_domain_alloc_flags'),
  iommuDomainFree: sym('iommu_domain_free'),
  iommuAttachDevice: sym('iommu_attach_device'),
  iommuDetachDevice: sym('iommu_detach_device'),
  iommuAttachGroup: sym('iommu_attach_group'),
  iommuDetachGroup: sym('iommu_detach_group'),
  iommuGetDomainForDev: sym('iommu_get_domain_for_dev'),
  iommuSetFaultHandler: sym('iommu_set_fault_handler'),
  reportIommuFault: sym('report_iommu_fault'),
  iommuSetPgtableQuirks: sym('iommu_set_pgtable_quirks'),
  iommuMap: sym('iommu_map'),
  iommuUnmap: sym('iommu_unmap'),
  iommuUnmapFast: sym('iommu_unmap_fast'),
  iommuIovaToPhys: sym('iommu_iova_to_phys'),
  iommuMapPage: internal('iommu_map of one page with frame-number arguments: the DMA API\'s one-page path (dma-iommu.c calls iommu_map directly)'),
  iommuUnmapPage: internal('iommu_unmap of one page with a frame-number argument: the DMA API\'s one-page path'),
  iommuDomainSetPgtblOps: none(
    'model-only: a driver records in its domain the io_pgtable_ops its map_pages/unmap_pages forward to, so that the core\'s one-page iommu_map/iommu_unmap call them directly; a store into the domain, no symbol (in C the extra indirect call through the driver\'s op is not worth avoiding)',
  ),
  devIommuFwspecGet: none(`dev_iommu_fwspec_get: ${INLINE}`),
  devIommuPrivGet: none(`dev_iommu_priv_get: ${INLINE}`),
  iommuFlushIotlbAll: none(`iommu_flush_iotlb_all: ${INLINE} (it calls the domain's own op)`),
  iommuIotlbSync: none(`iommu_iotlb_sync: ${INLINE} (it calls the domain's own op)`),
  iommuIotlbGatherInit: none(`iommu_iotlb_gather_init: ${INLINE}`),
  iommuIotlbGatherAddPage: none(`iommu_iotlb_gather_add_page: ${INLINE}`),
  iommuIotlbGatherAddRange: none(`iommu_iotlb_gather_add_range: ${INLINE}`),
  iommuIotlbGatherEmpty: none(`the gather's empty test (gather->end == 0 in iommu_iotlb_gather_add_page): ${INLINE}`),
  iommuIsPagingDomain: none(`the __IOMMU_DOMAIN_PAGING test on a domain type: ${INLINE}`),
  iommuMinPageSize: none(`__ffs(pgsize_bitmap), the smallest page size: ${INLINE}`),
  iommuPgsize: none('iommu_pgsize is static in drivers/iommu/iommu.c, never exported; msm, the one module that needs the split, carries its own copy (calc_pgsize), which the model shares instead of duplicating'),
  iommuProbeDevice: none('iommu_probe_device is not exported; arm_smmu calls it only on its legacy "mmu-masters" path, which exists only when the driver is built in (ARM_SMMU_LEGACY_DT_BINDINGS needs ARM_SMMU=y) and then links against vmlinux directly'),
  iommuEnableNesting: internal('iommu_enable_nesting was removed upstream (v6.11, replaced by IOMMU_HWPT_ALLOC_NEST_PARENT); no module can link against it'),
  adrenoSmmuPrivGet: none(`dev_get_drvdata of the GPU device (include/linux/adreno-smmu-priv.h): ${INLINE}`),
  adrenoSmmuPrivSet: none(`dev_set_drvdata of the GPU device: ${INLINE}`),
  adrenoSmmuPrivInit: none('initialises a struct adreno_smmu_priv (C: a zeroed struct), no call'),
  adrenoSmmuFaultInfoInit: none('initialises a struct adreno_smmu_fault_info (C: a zeroed struct), no call'),
  lowestBit: none(`__ffs: ${INLINE}`),
  highestBit: none(`__fls / fls64: ${INLINE}`),
  // DMA API
  dmaMapSingle: sym('dma_map_page_attrs'),
  dmaUnmapSingle: sym('dma_unmap_page_attrs'),
  dmaMapSg: sym('dma_map_sg_attrs'),
  dmaUnmapSg: sym('dma_unmap_sg_attrs'),
  dmaAllocCoherent: sym('dma_alloc_attrs'),
  dmaFreeCoherent: sym('dma_free_attrs'),
  dmaSetMask: sym('dma_set_mask'),
  dmaSetCoherentMask: sym('dma_set_coherent_mask'),
  dmaSetMaskAndCoherent: sym('dma_set_mask', 'dma_set_coherent_mask'),
  dmaGetMask: none(`dma_get_mask: ${INLINE}`),
  dmaSetMaxSegSize: none(`dma_set_max_seg_size: ${INLINE}`),
  dmaMappingError: none(`dma_mapping_error: ${INLINE}`),
  devIsDmaCoherent: none(`dev_is_dma_coherent: ${INLINE}`),
  DMA_BIT_MASK: none('DMA_BIT_MASK is a macro'),
  dmaDirectionToProt: internal('dma_info_to_prot is static in drivers/iommu/dma-iommu.c'),
  dmaDebugEntries: internal('the dma-debug view of a device\'s mappings (debugfs), not an API'),
  // interrupts, driver core
  requestIrq: sym('devm_request_threaded_irq'),
  freeIrq: sym('devm_free_irq'),
  modulePlatformDriver: sym('__platform_driver_register', 'platform_driver_unregister'),
  devErrProbe: sym('dev_err_probe'),
  ofModuleAliases: none('MODULE_DEVICE_TABLE(of, ...): modpost turns the match table into module aliases at build time, no call'),
  Device: internal(`struct device: ${CORE_OBJECT}`),
  DeviceLink: internal(`struct device_link: ${CORE_OBJECT}`),
  DriverCore: internal('the driver core itself (drivers/base)'),
  IoMem: internal('an ioremap()ed region: drivers get one from their device (devm_platform_ioremap_resource)'),
  // OF
  ofDeviceIsCompatible: sym('of_device_is_compatible'),
  ofDeviceIsAvailable: sym('of_device_is_available'),
  ofMatchNode: sym('of_match_node'),
  ofParsePhandleWithArgs: sym('__of_parse_phandle_with_args'),
  ofParsePhandleWithFixedArgs: sym('__of_parse_phandle_with_args'),
  ofParsePhandle: sym('__of_parse_phandle_with_args'),
  ofCountPhandleWithArgs: sym('of_count_phandle_with_args'),
  ofMapId: sym('of_map_id'),
  ofMapIommuId: sym('of_map_id'),
  // PCI
  pciReadConfigByte: sym('pci_read_config_byte'),
  pciReadConfigWord: sym('pci_read_config_word'),
  pciReadConfigDword: sym('pci_read_config_dword'),
  pciWriteConfigWord: sym('pci_write_config_word'),
  pciWriteConfigDword: sym('pci_write_config_dword'),
  pciEnableDeviceMem: sym('pci_enable_device_mem'),
  pciSetMaster: sym('pci_set_master'),
  pciClearMaster: sym('pci_clear_master'),
  pciName: none(`pci_name: ${INLINE}`),
  devIsPci: none(`dev_is_pci: a macro comparing dev->bus with pci_bus_type, no call`),
  PCI_SLOT: none('PCI_SLOT: a macro'),
  PCI_FUNC: none('PCI_FUNC: a macro'),
  PCI_DEVFN: none('PCI_DEVFN: a macro'),
  fmtMem: none('the text printk prints for %pR: a format specifier, no call'),
  fmtBus: none('the text printk prints for %pR of a bus range: a format specifier, no call'),
  PciDev: internal(`struct pci_dev: ${CORE_OBJECT}`),
  PciCore: internal('the PCI core itself (drivers/pci)'),
  PciHostBridge: internal('a probed host bridge (struct pci_host_bridge): the PCI core\'s own'),
  ofFindNodeByPhandle: sym('of_find_node_by_phandle'),
  ofPropertyReadBool: sym('of_find_property'),
  ofNAddrCells: sym('of_n_addr_cells'),
  ofNSizeCells: sym('of_n_size_cells'),
  ofPropertyReadU32: sym('of_property_read_variable_u32_array'),
  ofPropertyReadU32Array: sym('of_property_read_variable_u32_array'),
  ofPropertyReadU32Index: sym('of_property_read_u32_index'),
  ofPropertyCountU32Elems: sym('of_property_count_elems_of_size'),
  ofPropertyReadU64: sym('of_property_read_u64'),
  ofPropertyReadString: sym('of_property_read_string'),
  ofPropertyReadStringArray: sym('of_property_read_string_helper'),
  ofPropertyMatchString: sym('of_property_match_string'),
  ofGetAddress: sym('__of_get_address'),
  ofTranslateAddress: sym('of_translate_address'),
  ofAddressToResource: sym('of_address_to_resource'),
  ofIrqFindParent: sym('of_irq_find_parent'),
  ofIrqParse: sym('of_irq_parse_one'),
  ofIrqParseRaw: sym('of_irq_parse_raw'),
  ofReadNumber: none(`of_read_number: ${INLINE}`),
  be32: none(`be32_to_cpup: ${INLINE}`),
  ofIrqCount: internal('of_irq_count is not exported (drivers count with platform_irq_count)'),
  ofRegCount: internal('counting a node\'s reg entries while the OF layer creates platform devices'),
  ofIrqSpecifierCount: internal('the OF layer\'s count of a node\'s interrupt specifiers'),
  ofDeviceMakeBusId: internal('of_device_make_bus_id is static in drivers/of/platform.c'),
  ofSupplierRefs: internal('fw_devlink\'s parsing of supplier properties, static in drivers/of/property.c'),
  ofIsGic: internal('interrupt controller matching of the model\'s irqchip layer'),
  ofGicStacked: internal('interrupt controller matching of the model\'s irqchip layer'),
  gicXlate: internal('an irq_domain xlate of the model\'s irqchip layer'),
  onecellXlate: internal('an irq_domain xlate of the model\'s irqchip layer'),
  stackedXlate: internal('an irq_domain xlate of the model\'s irqchip layer'),
  OfLayer: internal('the OF core itself (drivers/of)'),
  devmOfPlatformPopulate: sym('devm_of_platform_populate'),
  // firmware: qcom_scm and the SMC conduit
  qcomScmIsAvailable: sym('qcom_scm_is_available'),
  qcomScmRestoreSecCfgAvailable: sym('qcom_scm_restore_sec_cfg_available'),
  qcomScmRestoreSecCfg: sym('qcom_scm_restore_sec_cfg'),
  qcomScmIommuSecurePtblSize: sym('qcom_scm_iommu_secure_ptbl_size'),
  qcomScmIommuSecurePtblInit: sym('qcom_scm_iommu_secure_ptbl_init'),
  qcomScmLentMemory: internal('the model\'s record of memory lent to the secure world, for shutdown accounting'),
  qcomScmRegisterDriver: internal('the built-in qcom_scm driver\'s subsys initcall'),
  armSmcccSmc: internal('arm_smccc_smc: the SMC instruction itself, used by the built-in firmware drivers'),
  armSmcccCallVal: none('ARM_SMCCC_CALL_VAL: a macro'),
  createSmcResult: none('a zeroed struct arm_smccc_res, no call'),
  OfNode: internal(`struct device_node: ${CORE_OBJECT}`),
  OfTree: internal('the unflattened device tree'),
  // time, workqueues, IDs
  ktimeGetNs: sym('ktime_get'),
  delayNs: sym('usleep_range_state'),
  readxPollTimeout: sym('ktime_get', 'usleep_range_state'),
  WorkQueue: sym('alloc_workqueue_noprof', 'queue_work_on', '__flush_workqueue', 'destroy_workqueue'),
  DrmHandleTable: sym('idr_alloc', 'idr_find', 'idr_remove'),
  // DRM
  DrmDevice: sym('drm_dev_alloc', 'drm_dev_register', 'drm_dev_unregister', 'drm_dev_unplug', 'drm_dev_put', 'drm_open', 'drm_release'),
  drmGemAllocBlocks: sym('drm_gem_get_pages'),
  drmGemFreeBlocks: sym('drm_gem_put_pages'),
  drmGemBlocksToRuns: sym('drm_prime_pages_to_sg'),
  drmTimeoutAbsToNs: sym('drm_timeout_abs_to_jiffies'),
  drmTimeoutAbsDeadline: sym('drm_timeout_abs_to_jiffies', 'ktime_get'),
  DrmMm: sym('drm_mm_init', 'drm_mm_insert_node_in_range', 'drm_mm_remove_node', 'drm_mm_takedown'),
  DrmMmNode: none('struct drm_mm_node: the caller embeds one (a zeroed struct), no call'),
  drmMmReserveNode: sym('drm_mm_reserve_node'),
  drmGemRunsPhys: none(`walking a GEM object's sg_table (for_each_sgtable_dma_sg, sg_dma_address): ${INLINE}`),
  drmGemRunsRead: none('model-only: stands for user space reading the object through its mmap, not a kernel call'),
  drmGemRunsWrite: none('model-only: stands for user space writing the object through its mmap, not a kernel call'),
  drmGemRunsFill32: none('model-only: stands for user space filling the object through its mmap, not a kernel call'),
  // DRM mmap offsets (drm_vma_manager.c) and the GEM helpers over them (drm_gem.c)
  DrmVmaOffsetManager: sym('drm_vma_offset_manager_init', 'drm_vma_offset_add', 'drm_vma_offset_remove', 'drm_vma_offset_lookup_locked', 'drm_vma_offset_manager_destroy'),
  DrmVmaOffsetNode: none('struct drm_vma_offset_node: embedded in a GEM object and reset by drm_vma_node_reset, a static inline'),
  drmVmaNodeAllow: sym('drm_vma_node_allow'),
  drmVmaNodeAllowOnce: sym('drm_vma_node_allow_once'),
  drmVmaNodeRevoke: sym('drm_vma_node_revoke'),
  drmVmaNodeIsAllowed: sym('drm_vma_node_is_allowed'),
  drmVmaNodeVerifyAccess: sym('drm_vma_node_is_allowed'),
  drmVmaNodeStart: none(`drm_vma_node_start: ${INLINE}`),
  drmVmaNodeSize: none(`drm_vma_node_size: ${INLINE}`),
  drmVmaNodeOffsetAddr: none(`drm_vma_node_offset_addr: ${INLINE}`),
  drmVmaNodeHasOffset: none(`drm_vma_node_has_offset: ${INLINE}`),
  drmGemCreateMmapOffset: sym('drm_gem_create_mmap_offset'),
  drmGemCreateMmapOffsetSize: sym('drm_gem_create_mmap_offset_size'),
  drmGemFreeMmapOffset: sym('drm_gem_free_mmap_offset'),
  drmGemObjectRelease: sym('drm_gem_object_release'),
  drmGemHandleCreate: sym('drm_gem_handle_create'),
  drmGemHandleDelete: sym('drm_gem_handle_delete'),
  drmGemMmap: sym('drm_gem_mmap'),
  DrmCore: internal('the DRM core\'s device and minor registry'),
  DrmMinorTable: internal('the DRM core\'s minor-number allocator'),
  // errors, logging, hosts
  errnoName: none('the name printk prints for %pe: a format specifier, no call'),
  isErr: none(`IS_ERR_VALUE: ${INLINE}`),
  KernelError: none(`${MODEL_ONLY}: C returns a negative errno where the model throws this at API edges`),
  isIoPgtableHost: none(`${MODEL_ONLY}: the type guard of a page-table host`),
  createIoPgtableHost: internal('a host for page tables outside any kernel (library use), never inside one'),
  formatRecord: internal('dmesg\'s formatting of the kernel log'),
  KernelLog: internal('the kernel log buffer (drivers log through their device)'),
  PageAllocator: internal('the page allocator itself (modules reach it through ctx.kernel)'),
  Kernel: internal('the running kernel (modules get theirs as ctx.kernel)'),
  IommuCore: internal('the IOMMU core itself'),
  IommuGroup: internal(`struct iommu_group: ${CORE_OBJECT}`),
  IovaDomain: internal('the IOVA allocator of the DMA API\'s IOMMU layer (drivers/iommu/dma-iommu.c)'),
  // the module loader and build tools
  ModuleLoader: internal('the module loader'),
  kernelArch: internal('the build architecture, fixed when the image is built'),
  licenseIsGplCompatible: internal('the loader\'s licence test (license_is_gpl_compatible is static)'),
  depmodImage: internal('depmod, a build tool'),
  modpostImage: internal('modpost, a build tool'),
  globMatch: internal('kmod\'s alias matching (user space)'),
  globToRegExp: internal('kmod\'s alias matching (user space)'),
  isGlob: internal('kmod\'s alias matching (user space)'),
  kernelKmi: internal('the KMI table itself, for the build tools and checks'),
  exportKernelSymbols: internal('boot: fills vmlinux\'s export table'),
  kmiSymbolsOf: internal('a reader of KMI tables, for build tools'),
};

let symbols: readonly CoreSymbol[] | undefined;

/** The core kernel's KMI. */
export function kernelKmi(): KmiTable {
  return KERNEL_KMI;
}

const KERNEL_KMI: KmiTable = {
  package: '@gki/kernel',
  symbols(): readonly CoreSymbol[] {
    symbols ??= ROWS.map(([name, gplOnly, source, value]) => ({ name, gplOnly, source, value: value() })).sort((a, b) => (a.name < b.name ? -1 : 1));
    return symbols;
  },
  uses: KERNEL_USES,
};

/**
 * The symbols a module's use of `name` (a published value of `table`'s package) references:
 * its symbols, [] for a 'none' entry, and undefined for an internal or unknown name.
 */
export function kmiSymbolsOf(table: KmiTable, name: string): readonly string[] | undefined {
  const u = table.uses[name];
  if (!u || u.kind === 'internal') return undefined;
  return u.kind === 'symbols' ? u.symbols : [];
}

/**
 * Fills a kernel's export table with the core's symbols (what vmlinux's __ksymtab holds from
 * the moment it boots), so modules' `needs` resolve against them with the GPL-only and
 * namespace rules, as the loader resolves a .ko's undefined symbols.
 */
export function exportKernelSymbols(loader: { exportCore(name: string, sym: { value: unknown; gplOnly?: boolean; namespace?: string }): void }): void {
  for (const s of KERNEL_KMI.symbols()) {
    loader.exportCore(s.name, { value: s.value, gplOnly: s.gplOnly, ...(s.namespace ? { namespace: s.namespace } : {}) });
  }
}
