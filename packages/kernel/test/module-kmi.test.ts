import { describe, expect, it } from 'vitest';
import * as kernelPkg from '@gki/kernel';
import { ENOENT, dmaMapSingle, iommuMap, kernelKmi, kmiSymbolsOf, type ModuleContext } from '@gki/kernel';
import { dmesg, mkKernel, mod } from './module-helpers.js';

const table = kernelKmi();
const published = Object.entries(kernelPkg as Record<string, unknown>);
const functions = published.filter(([, v]) => typeof v === 'function').map(([n]) => n);

describe("the core kernel's KMI table", () => {
  it('classifies every function and class the package publishes, and nothing else', () => {
    const unclassified = functions.filter((n) => !(n in table.uses));
    expect(unclassified).toEqual([]);
    const stale = Object.keys(table.uses).filter((n) => typeof (kernelPkg as Record<string, unknown>)[n] !== 'function');
    expect(stale).toEqual([]);
    for (const [n, u] of Object.entries(table.uses)) {
      if (u.kind === 'symbols') expect(u.symbols.length, n).toBeGreaterThan(0);
      else expect(u.why.length, n).toBeGreaterThan(10);
    }
  });

  it('exports exactly the symbols the classification names, once each, sorted, with their Linux source file', () => {
    const names = table.symbols().map((s) => s.name);
    expect(names).toEqual([...names].sort());
    expect(new Set(names).size).toBe(names.length);
    const named = new Set(Object.values(table.uses).flatMap((u) => (u.kind === 'symbols' ? u.symbols : [])));
    expect([...named].sort()).toEqual(names);
    for (const s of table.symbols()) {
      expect(s.name).toMatch(/^[a-z_][a-z0-9_]*$/);
      expect(s.source).toMatch(/^(drivers|kernel|lib|mm)\/[\w/-]+\.c$/);
      expect(typeof s.value, s.name).toBe('function');
    }
    // 107 + devm_of_platform_populate + the five qcom_scm calls the IOMMU drivers make
    expect(names.length).toBe(113);
    for (const s of table.symbols().filter((x) => x.name.startsWith('qcom_scm_'))) expect([s.gplOnly, s.source], s.name).toEqual([true, 'drivers/firmware/qcom/qcom_scm.c']);
  });

  it('uses the symbols Linux modules actually link against (facts from the kernel tree)', () => {
    const by = new Map(table.symbols().map((s) => [s.name, s]));
    // dma_map_single / dma_map_single_attrs are static inlines over dma_map_page_attrs (EXPORT_SYMBOL)
    expect(kmiSymbolsOf(table, 'dmaMapSingle')).toEqual(['dma_map_page_attrs']);
    expect(by.has('dma_map_single')).toBe(false);
    expect(by.get('dma_map_page_attrs')?.gplOnly).toBe(false);
    // of_property_read_u32 -> of_property_read_u32_array -> of_property_read_variable_u32_array (EXPORT_SYMBOL_GPL)
    expect(kmiSymbolsOf(table, 'ofPropertyReadU32')).toEqual(['of_property_read_variable_u32_array']);
    expect(by.get('of_property_read_variable_u32_array')?.gplOnly).toBe(true);
    // module_platform_driver references both halves of the registration, both EXPORT_SYMBOL_GPL
    expect(kmiSymbolsOf(table, 'modulePlatformDriver')).toEqual(['__platform_driver_register', 'platform_driver_unregister']);
    expect(by.get('__platform_driver_register')?.gplOnly).toBe(true);
    // the whole IOMMU API is EXPORT_SYMBOL_GPL; domains come from iommu_paging_domain_alloc_flags
    for (const s of table.symbols().filter((x) => x.source === 'drivers/iommu/iommu.c')) expect(s.gplOnly, s.name).toBe(true);
    expect(kmiSymbolsOf(table, 'iommuDomainAlloc')).toEqual(['iommu_paging_domain_alloc_flags']);
    // static inlines and non-exported functions create no reference
    expect(kmiSymbolsOf(table, 'devIommuFwspecGet')).toEqual([]);
    expect(kmiSymbolsOf(table, 'iommuPgsize')).toEqual([]);
    // kernel internals are not for modules at all
    expect(kmiSymbolsOf(table, 'Kernel')).toBeUndefined();
    expect(kmiSymbolsOf(table, 'iommuEnableNesting')).toBeUndefined();
    // drm_mm.c exports its API with plain EXPORT_SYMBOL; drm_mm_insert_node_generic and
    // drm_mm_insert_node are static inlines over drm_mm_insert_node_in_range, and
    // drm_mm_reserve_node is referenced only by a module that reserves
    for (const n of ['drm_mm_init', 'drm_mm_insert_node_in_range', 'drm_mm_reserve_node', 'drm_mm_remove_node', 'drm_mm_takedown'])
      expect(by.get(n)?.gplOnly, n).toBe(false);
    expect(kmiSymbolsOf(table, 'DrmMm')).toEqual(['drm_mm_init', 'drm_mm_insert_node_in_range', 'drm_mm_remove_node', 'drm_mm_takedown']);
    expect(kmiSymbolsOf(table, 'drmMmReserveNode')).toEqual(['drm_mm_reserve_node']);
    expect(kmiSymbolsOf(table, 'DrmMmNode')).toEqual([]);
    // drm_vma_manager.c and drm_gem.c's mmap-offset and handle helpers are plain EXPORT_SYMBOL;
    // drm_vma_node_offset_addr / _start / _size and the exact lookup are static inlines
    for (const n of [
      'drm_vma_offset_manager_init',
      'drm_vma_offset_manager_destroy',
      'drm_vma_offset_add',
      'drm_vma_offset_remove',
      'drm_vma_offset_lookup_locked',
      'drm_vma_node_allow',
      'drm_vma_node_allow_once',
      'drm_vma_node_revoke',
      'drm_vma_node_is_allowed',
      'drm_gem_create_mmap_offset',
      'drm_gem_create_mmap_offset_size',
      'drm_gem_free_mmap_offset',
      'drm_gem_object_release',
      'drm_gem_handle_create',
      'drm_gem_handle_delete',
      'drm_gem_mmap',
    ])
      expect(by.get(n)?.gplOnly, n).toBe(false);
    expect(by.get('drm_vma_offset_add')?.source).toBe('drivers/gpu/drm/drm_vma_manager.c');
    expect(by.get('drm_gem_create_mmap_offset')?.source).toBe('drivers/gpu/drm/drm_gem.c');
    expect(kmiSymbolsOf(table, 'drmVmaNodeOffsetAddr')).toEqual([]);
    expect(by.has('drm_vma_node_offset_addr')).toBe(false);
    expect(by.has('drm_vma_offset_exact_lookup_locked')).toBe(false);
    // none of these exports lives in a symbol namespace
    expect(table.symbols().filter((s) => s.namespace !== undefined)).toEqual([]);
  });
});

describe("vmlinux's export table at boot", () => {
  it('every core symbol is in a new kernel\'s symbol table, owned by vmlinux, with its licence flag', () => {
    const k = mkKernel();
    const st = new Map(k.modules.symbolTable().map((s) => [s.name, s]));
    for (const s of table.symbols()) {
      expect(st.get(s.name), s.name).toEqual({ name: s.name, owner: 'vmlinux', modular: false, gplOnly: s.gplOnly, namespace: null });
    }
    // depmod sees them as core symbols: a module needing them has no dependency and nothing unresolved
    const m = mod('user', { needs: ['iommu_map', 'dma_map_page_attrs'] });
    expect(k.modules.load(m)).toBe(0);
    expect(k.modules.list().find((x) => x.name === 'user')?.uses).toEqual([]);
  });

  it("a module's needs resolve to the model's functions", () => {
    const k = mkKernel();
    let got: unknown[] = [];
    const m = mod('user', {
      needs: ['iommu_map', 'dma_map_page_attrs'],
      init(ctx: ModuleContext) {
        got = [ctx.symbol('iommu_map'), ctx.symbol('dma_map_page_attrs')];
        return 0;
      },
    });
    expect(k.modules.load(m)).toBe(0);
    expect(got).toEqual([iommuMap, dmaMapSingle]);
  });

  it('a module with a GPL-incompatible licence cannot resolve a GPL-only core symbol, and nothing changes', () => {
    const k = mkKernel();
    const before = k.modules.snapshot();
    expect(k.modules.load(mod('blob', { license: 'Proprietary', needs: ['dma_map_page_attrs', 'iommu_map'] }))).toBe(-ENOENT);
    expect(k.modules.snapshot()).toEqual(before);
    expect(dmesg(k)).toContain('blob: Unknown symbol iommu_map (err -2)');
    expect(dmesg(k)).not.toContain('Unknown symbol dma_map_page_attrs');
    // the plain EXPORT_SYMBOL is enough for it
    expect(k.modules.load(mod('blob', { license: 'Proprietary', needs: ['dma_map_page_attrs'] }))).toBe(0);
  });
});
