import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EBUSY, EINVAL, INITCALL_LEVELS, KernelError, type ModuleContext, type ModuleRef } from '@gki/kernel';
import {
  IOMMU_READ,
  IOMMU_WRITE,
  IO_PGTABLE_OPS_REGISTER,
  IO_PGTABLE_OPS_UNREGISTER,
  allocIoPgtableOps,
  freeIoPgtableOps,
  ioPgtableCoreModule,
  ioPgtableInitFns,
  ioPgtableRegistered,
  type IoPgtableInitFns,
  type IoPgtableOps,
} from '@gki/io-pgtable-core';
import armV7sModule, { ArmV7sIoPgtable, armV7sInitFns } from '../src/index.js';
import { bootWithV7s, makeKernel, v7sCfg } from './helpers.js';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

describe('module io-pgtable-arm-v7s', () => {
  it('describes itself as the kernel module does', () => {
    expect(armV7sModule.name).toBe('io-pgtable-arm-v7s');
    expect(armV7sModule.version).toBe(pkg.version); // generated from package.json at build time
    expect(armV7sModule.license).toBe('GPL v2');
    expect(armV7sModule.needs).toEqual([IO_PGTABLE_OPS_REGISTER, IO_PGTABLE_OPS_UNREGISTER]);
    expect(armV7sModule.aliases).toEqual(['io-pgtable-fmt-ARM_V7S']);
    expect(armV7sModule.initcall).toBe('core');
    expect(armV7sModule.exports ?? {}).toEqual({});
  });

  it('registers ARM_V7S without the custom-allocator cap, owned by the module', () => {
    const k = bootWithV7s();
    expect(ioPgtableRegistered(k, 'ARM_V7S')).toBe(true);
    const fns = ioPgtableInitFns(k, 'ARM_V7S')!;
    expect(fns.caps ?? 0).toBe(0);
    expect(fns.owner?.name).toBe('io-pgtable-arm-v7s');
    // only its own format
    expect(ioPgtableRegistered(k, 'ARM_64_LPAE_S1')).toBe(false);
  });

  it('a live table pins the module; after free it unloads and unregisters', () => {
    const k = bootWithV7s();
    const cfg = v7sCfg();
    const ops = allocIoPgtableOps(k, 'ARM_V7S', cfg, null);
    expect(ops).toBeInstanceOf(ArmV7sIoPgtable);
    const table = ops as IoPgtableOps;
    expect(k.modules.find('io-pgtable-arm-v7s')!.refcount).toBe(1);
    expect(table.mapPages(0x100000, 0x200000, 0x1000, 1, IOMMU_READ | IOMMU_WRITE, { mapped: 0 })).toBe(0);
    expect(k.modules.unload('io-pgtable-arm-v7s')).toBe(-EBUSY);
    const used = k.pages.stats().pagesInUse;
    freeIoPgtableOps(k, table);
    // the level-1 table (4 pages) and the one slab page are returned
    expect(k.pages.stats().pagesInUse).toBe(used - 5);
    expect(k.modules.find('io-pgtable-arm-v7s')!.refcount).toBe(0);
    expect(k.modules.unload('io-pgtable-arm-v7s')).toBe(0);
    expect(ioPgtableRegistered(k, 'ARM_V7S')).toBe(false);
  });

  it('is loaded on demand through its alias when a driver asks for ARM_V7S', () => {
    const k = makeKernel();
    k.modules.setImage({ builtin: [ioPgtableCoreModule], modules: [armV7sModule] });
    for (const level of INITCALL_LEVELS) k.modules.runBuiltinInitcalls(level);
    expect(ioPgtableRegistered(k, 'ARM_V7S')).toBe(false);
    const ops = allocIoPgtableOps(k, 'ARM_V7S', v7sCfg(), null);
    expect(typeof ops).toBe('object');
    expect(ioPgtableRegistered(k, 'ARM_V7S')).toBe(true);
    freeIoPgtableOps(k, ops as IoPgtableOps);
  });

  it('the core refuses a custom allocator for v7s (caps 0) and leaks nothing', () => {
    const k = bootWithV7s();
    const used = k.pages.stats().pagesInUse;
    const cfg = v7sCfg({ allocator: { alloc: () => 0, free: () => undefined } });
    expect(allocIoPgtableOps(k, 'ARM_V7S', cfg, null)).toBe(-EINVAL);
    expect(k.pages.stats().pagesInUse).toBe(used);
    expect(cfg.armV7sCfg).toBeUndefined();
  });

  it('a rejected configuration returns -EINVAL through the core and drops the module reference', () => {
    const k = bootWithV7s();
    expect(allocIoPgtableOps(k, 'ARM_V7S', v7sCfg({ ias: 33 }), null)).toBe(-EINVAL);
    expect(k.modules.find('io-pgtable-arm-v7s')!.refcount).toBe(0);
  });

  it('init returns the register errno (e.g. format already taken) and exit unregisters', () => {
    const calls: string[] = [];
    const fake = (ret: number): ModuleContext => ({
      kernel: makeKernel(),
      self: { name: 'io-pgtable-arm-v7s', builtin: false, state: 'coming', refcount: 0 } as ModuleRef,
      symbol<T>(name: string): T {
        if (name === IO_PGTABLE_OPS_REGISTER)
          return ((fmt: string, fns: IoPgtableInitFns) => {
            calls.push(`register ${fmt} caps=${fns.caps} owner=${fns.owner?.name}`);
            return ret;
          }) as T;
        if (name === IO_PGTABLE_OPS_UNREGISTER) return ((fmt: string) => calls.push(`unregister ${fmt}`)) as T;
        throw new Error(`undeclared symbol ${name}`);
      },
    });
    expect(armV7sModule.init(fake(-17))).toBe(-17);
    const ctx = fake(0);
    expect(armV7sModule.init(ctx)).toBe(0);
    armV7sModule.exit!(ctx);
    expect(calls).toEqual([
      'register ARM_V7S caps=0 owner=io-pgtable-arm-v7s',
      'register ARM_V7S caps=0 owner=io-pgtable-arm-v7s',
      'unregister ARM_V7S',
    ]);
  });

  it('the init fns refuse to free ops of another format', () => {
    const fns = armV7sInitFns(makeKernel());
    const foreign: IoPgtableOps = { mapPages: () => 0, unmapPages: () => 0, iovaToPhys: () => 0 };
    expect(() => fns.free(foreign)).toThrow(KernelError);
  });
});
