import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Board } from '@gki/hw';
import { EBUSY, EEXIST, Kernel, type KernelModule } from '@gki/kernel';
import {
  IO_PGTABLE_CAP_CUSTOM_ALLOCATOR,
  IOMMU_READ,
  IOMMU_WRITE,
  allocIoPgtableOps,
  freeIoPgtableOps,
  ioPgtableCoreModule,
  ioPgtableInitFns,
  ioPgtableRegistered,
  type IoPgtableCfg,
  type IoPgtableOps,
} from '@gki/io-pgtable-core';
import { replayCase, readVectorFile } from '@gki/io-pgtable-core/vectors';
import lpaeModule, { ARM_LPAE_FORMATS, ArmLpaeIoPgtable, IO_PGTABLE_ARM_VERSION } from '../src/index.js';
import { RAM_BASE, VECTORS_DIR } from './helpers/env.js';

function boot(image: { builtin: KernelModule[]; modules: KernelModule[]; load?: string[] }): Kernel {
  return Kernel.boot(new Board('lpae-module-test', [{ base: RAM_BASE, size: 64 * 2 ** 20 }]), image);
}

const cfg = (): IoPgtableCfg => ({ quirks: 0, pgsizeBitmap: 0x40201000, ias: 48, oas: 48, coherentWalk: true });

describe('module io-pgtable-arm', () => {
  it('describes itself as the kernel module does', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(lpaeModule.name).toBe('io-pgtable-arm');
    expect(lpaeModule.version).toBe(pkg.version);
    expect(IO_PGTABLE_ARM_VERSION).toBe(pkg.version);
    expect(lpaeModule.license).toBe('GPL v2');
    expect(lpaeModule.initcall).toBe('core');
    expect(lpaeModule.needs).toEqual(['io_pgtable_ops_register', 'io_pgtable_ops_unregister']);
    expect(lpaeModule.aliases).toEqual([
      'io-pgtable-fmt-ARM_64_LPAE_S1',
      'io-pgtable-fmt-ARM_64_LPAE_S2',
      'io-pgtable-fmt-ARM_32_LPAE_S1',
      'io-pgtable-fmt-ARM_32_LPAE_S2',
      'io-pgtable-fmt-ARM_MALI_LPAE',
    ]);
  });

  it('registers the five formats when loaded, with the custom-allocator cap and itself as owner', () => {
    const k = boot({ builtin: [ioPgtableCoreModule], modules: [lpaeModule], load: ['io-pgtable-arm'] });
    for (const fmt of ARM_LPAE_FORMATS) {
      expect(ioPgtableRegistered(k, fmt)).toBe(true);
      const fns = ioPgtableInitFns(k, fmt)!;
      expect(fns.caps! & IO_PGTABLE_CAP_CUSTOM_ALLOCATOR).toBeTruthy();
      expect(fns.owner?.name).toBe('io-pgtable-arm');
    }
    expect(ioPgtableRegistered(k, 'ARM_V7S')).toBe(false);
  });

  it('works built in (core initcall level, after the io-pgtable core)', () => {
    const k = boot({ builtin: [ioPgtableCoreModule, lpaeModule], modules: [] });
    expect(ioPgtableRegistered(k, 'ARM_MALI_LPAE')).toBe(true);
    const ops = allocIoPgtableOps(k, 'ARM_MALI_LPAE', { ...cfg(), oas: 40 }, null);
    expect(ops).toBeInstanceOf(ArmLpaeIoPgtable);
    freeIoPgtableOps(k, ops as IoPgtableOps);
  });

  it('is loaded on demand by allocIoPgtableOps, pinned while a table lives, unloadable after', () => {
    const k = boot({ builtin: [ioPgtableCoreModule], modules: [lpaeModule] });
    expect(k.modules.find('io-pgtable-arm')).toBeUndefined();
    const c = cfg();
    const ops = allocIoPgtableOps(k, 'ARM_64_LPAE_S1', c, 'cookie');
    expect(typeof ops).toBe('object');
    const table = ops as IoPgtableOps;
    expect(c.armLpaeS1Cfg?.mair).toBe(0xfffffffff404ff44n);
    expect(table.mapPages(0x1000, 0x8000_0000, 0x1000, 1, IOMMU_READ | IOMMU_WRITE, { mapped: 0 })).toBe(0);
    expect(table.iovaToPhys(0x1abc)).toBe(0x8000_0abc);
    expect(k.modules.find('io-pgtable-arm')?.refcount).toBe(1);
    expect(k.modules.unload('io-pgtable-arm')).toBe(-EBUSY);
    const used = k.pages.stats().pagesInUse;
    expect(used).toBeGreaterThan(0);
    freeIoPgtableOps(k, table);
    expect(k.pages.stats().pagesInUse).toBe(0);
    expect(k.modules.unload('io-pgtable-arm')).toBe(0);
    expect(ioPgtableRegistered(k, 'ARM_64_LPAE_S1')).toBe(false);
  });

  it('unregisters what it registered when a registration fails', () => {
    const k = boot({ builtin: [ioPgtableCoreModule], modules: [lpaeModule] });
    // someone else already owns ARM_32_LPAE_S2: the third registration fails with -EEXIST
    const other: KernelModule = {
      name: 'squatter',
      version: '0.0.1',
      license: 'GPL v2',
      needs: ['io_pgtable_ops_register', 'io_pgtable_ops_unregister'],
      init(ctx) {
        const reg = ctx.symbol<(f: string, fns: unknown) => number>('io_pgtable_ops_register');
        return reg('ARM_32_LPAE_S2', { alloc: () => null, free: () => {} });
      },
    };
    expect(k.modules.load(other)).toBe(0);
    expect(k.modules.load(lpaeModule)).toBe(-EEXIST);
    for (const fmt of ['ARM_64_LPAE_S1', 'ARM_64_LPAE_S2', 'ARM_32_LPAE_S1', 'ARM_MALI_LPAE'] as const)
      expect(ioPgtableRegistered(k, fmt)).toBe(false);
    expect(ioPgtableRegistered(k, 'ARM_32_LPAE_S2')).toBe(true);
  });

  it('replays a vector file through the loader and the core (allocIoPgtableOps/freeIoPgtableOps)', () => {
    const k = boot({ builtin: [ioPgtableCoreModule], modules: [lpaeModule] });
    const env = {
      alloc: (fmt: Parameters<typeof allocIoPgtableOps>[1], c: IoPgtableCfg, cookie: unknown) => allocIoPgtableOps(k, fmt, c, cookie),
      free: (ops: IoPgtableOps) => freeIoPgtableOps(k, ops),
      pagesInUse: () => k.pages.stats().pagesInUse,
    };
    let n = 0;
    for (const c of readVectorFile(join(VECTORS_DIR, 'overlap.jsonl'))) {
      if (c.format === 'ARM_V7S') continue;
      expect(replayCase(c, env).mismatches).toEqual([]);
      n++;
    }
    expect(n).toBeGreaterThan(5);
    expect(k.modules.find('io-pgtable-arm')?.refcount).toBe(0);
  });
});
