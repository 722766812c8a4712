import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EBUSY, EEXIST, EINVAL, ENODEV, ENOMEM, EPROBE_DEFER, KernelError } from '@gki/kernel';
import type { Kernel } from '@gki/kernel';
import {
  allocIoPgtableOps,
  freeIoPgtableOps,
  ioPgtableCoreModule,
  ioPgtableLiveTables,
  ioPgtableOpsInfo,
  ioPgtableOpsRegister,
  ioPgtableOpsUnregister,
  ioPgtableRegistered,
  ioPgtableRegisteredFormats,
  type IoPgtableInitFns,
  type IoPgtableOps,
} from '../src/index.js';
import { baseCfg, bootImage, fakeFormatModule, imageWith, stateOf, type FakeTable } from './helpers.js';

const dummyFns: IoPgtableInitFns = { alloc: () => null, free: () => undefined };

function msgs(k: Kernel, needle: string): string[] {
  return k.log.grep(needle).map((r) => r.msg);
}

function refcountOf(k: Kernel, name: string): number | undefined {
  return k.modules.snapshot().modules.find((m) => m.name === name)?.refcount;
}

describe('io-pgtable core module', () => {
  it('is a built-in core initcall exporting the GPL-only allocation and registration symbols', () => {
    expect(ioPgtableCoreModule.name).toBe('io-pgtable');
    expect(ioPgtableCoreModule.license).toBe('GPL v2');
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(ioPgtableCoreModule.version).toBe(pkg.version); // generated from package.json at build time
    expect(ioPgtableCoreModule.initcall).toBe('core');
    expect(Object.keys(ioPgtableCoreModule.exports ?? {}).sort()).toEqual(['alloc_io_pgtable_ops', 'free_io_pgtable_ops', 'io_pgtable_ops_register', 'io_pgtable_ops_unregister']);
    const k = bootImage(imageWith([]));
    const syms = k.modules.snapshot().symbols.filter((s) => s.owner === 'io-pgtable');
    expect(syms.map((s) => [s.name, s.gplOnly])).toEqual([
      ['alloc_io_pgtable_ops', true],
      ['free_io_pgtable_ops', true],
      ['io_pgtable_ops_register', true],
      ['io_pgtable_ops_unregister', true],
    ]);
  });
});

describe('registration', () => {
  it('a format module registers at load and unregisters at unload, with log lines naming the format', () => {
    const k = bootImage(imageWith([fakeFormatModule({ formats: ['ARM_64_LPAE_S1', 'ARM_MALI_LPAE'] })], ['fake-pgtable']));
    expect(ioPgtableRegisteredFormats(k)).toEqual(['ARM_64_LPAE_S1', 'ARM_MALI_LPAE']);
    expect(msgs(k, 'registered format ARM_MALI_LPAE')).toHaveLength(1);
    expect(k.modules.unload('fake-pgtable')).toBe(0);
    expect(ioPgtableRegisteredFormats(k)).toEqual([]);
    expect(msgs(k, 'unregistered format ARM_64_LPAE_S1')).toHaveLength(1);
  });

  it('rejects unknown formats and incomplete init fns with -EINVAL, taken slots with -EEXIST', () => {
    const k = bootImage(imageWith([]));
    expect(ioPgtableOpsRegister(k, 'ARM_V7S', dummyFns)).toBe(0);
    const before = ioPgtableRegisteredFormats(k);
    expect(ioPgtableOpsRegister(k, 'APPLE_DART' as never, dummyFns)).toBe(-EINVAL);
    expect(ioPgtableOpsRegister(k, 'ARM_V7S', { ...dummyFns })).toBe(-EEXIST);
    expect(ioPgtableOpsRegister(k, 'ARM_32_LPAE_S2', { free: () => undefined } as unknown as IoPgtableInitFns)).toBe(-EINVAL);
    expect(ioPgtableOpsRegister(k, 'ARM_32_LPAE_S2', null as unknown as IoPgtableInitFns)).toBe(-EINVAL);
    expect(ioPgtableRegisteredFormats(k)).toEqual(before);
    const failures = k.log.all().filter((r) => r.level === 'err' && r.msg.startsWith('failed to register format'));
    expect(failures.map((r) => r.msg.split(':')[0])).toEqual([
      'failed to register format APPLE_DART',
      'failed to register format ARM_V7S',
      'failed to register format ARM_32_LPAE_S2',
      'failed to register format ARM_32_LPAE_S2',
    ]);
    ioPgtableOpsUnregister(k, 'ARM_V7S');
    expect(ioPgtableRegistered(k, 'ARM_V7S')).toBe(false);
    // unregistering an empty slot only warns
    ioPgtableOpsUnregister(k, 'ARM_V7S');
    expect(msgs(k, 'which is not registered')).toHaveLength(1);
  });

  it('a second module implementing a registered format fails to load with -EEXIST and changes nothing', () => {
    const other = fakeFormatModule({ name: 'other-pgtable', formats: ['ARM_V7S', 'ARM_64_LPAE_S1'] });
    const k = bootImage(imageWith([fakeFormatModule(), other], ['fake-pgtable']));
    const before = stateOf(k);
    // insmod reports init's errno (modprobe, like kmod, would count -EEXIST as "already there")
    expect(k.modules.load(other)).toBe(-EEXIST);
    expect(stateOf(k)).toEqual(before);
    // its partial registration of ARM_V7S was undone by its init, the first module keeps its slot
    expect(ioPgtableRegisteredFormats(k)).toEqual(['ARM_64_LPAE_S1']);
    expect(msgs(k, 'failed to register format ARM_64_LPAE_S1: already registered by fake-pgtable')).toHaveLength(1);
  });

  it('each kernel has its own registry, even when the modules are shared objects', () => {
    const mod = fakeFormatModule();
    const k1 = bootImage(imageWith([mod]));
    const k2 = bootImage(imageWith([mod]));
    expect(k1.modules.modprobe('fake-pgtable')).toBe(0);
    expect(ioPgtableRegistered(k1, 'ARM_64_LPAE_S1')).toBe(true);
    expect(ioPgtableRegistered(k2, 'ARM_64_LPAE_S1')).toBe(false);
    expect(k2.modules.modprobe('fake-pgtable')).toBe(0);
    expect(k1.modules.unload('fake-pgtable')).toBe(0);
    expect(ioPgtableRegistered(k1, 'ARM_64_LPAE_S1')).toBe(false);
    expect(ioPgtableRegistered(k2, 'ARM_64_LPAE_S1')).toBe(true);
  });
});

describe('allocIoPgtableOps / freeIoPgtableOps', () => {
  it('takes a module reference per table: rmmod is -EBUSY while one exists and succeeds after free', () => {
    const k = bootImage(imageWith([fakeFormatModule()], ['fake-pgtable']));
    const flushes: unknown[] = [];
    const cookie = { domain: 1 };
    const cfg = baseCfg({ tlb: { tlbFlushAll: (c) => flushes.push(c) } });
    const ops = allocIoPgtableOps(k, 'ARM_64_LPAE_S1', cfg, cookie);
    expect(typeof ops).toBe('object');
    const table = ops as FakeTable;
    expect(refcountOf(k, 'fake-pgtable')).toBe(1);
    expect(k.pages.stats().pagesInUse).toBe(1);
    // the format modified the caller's cfg in place; the core keeps a copy of the result
    expect(cfg.ias).toBe(24);
    const info = ioPgtableOpsInfo(table)!;
    expect(info.fmt).toBe('ARM_64_LPAE_S1');
    expect(info.cfg.ias).toBe(24);
    expect(info.cfg).not.toBe(cfg);
    cfg.ias = 7;
    expect(ioPgtableOpsInfo(table)!.cfg.ias).toBe(24);
    expect(ioPgtableLiveTables(k)).toEqual([{ ops: table, fmt: 'ARM_64_LPAE_S1', owner: 'fake-pgtable' }]);

    expect(k.modules.unload('fake-pgtable')).toBe(-EBUSY);
    expect(ioPgtableRegistered(k, 'ARM_64_LPAE_S1')).toBe(true);

    freeIoPgtableOps(k, table);
    expect(flushes).toEqual([cookie]);
    expect(k.pages.stats().pagesInUse).toBe(0);
    expect(refcountOf(k, 'fake-pgtable')).toBe(0);
    expect(ioPgtableLiveTables(k)).toEqual([]);
    expect(ioPgtableOpsInfo(table)).toBeUndefined();
    expect(k.modules.unload('fake-pgtable')).toBe(0);
  });

  it('calls tlbFlushAll before the format frees the tables', () => {
    const order: string[] = [];
    const mod = fakeFormatModule();
    const k = bootImage(imageWith([mod], ['fake-pgtable']));
    const ops = allocIoPgtableOps(k, 'ARM_64_LPAE_S1', baseCfg({ tlb: { tlbFlushAll: () => order.push(`flush ${k.pages.stats().pagesInUse}`) } }), null);
    freeIoPgtableOps(k, ops as IoPgtableOps);
    order.push(`after ${k.pages.stats().pagesInUse}`);
    expect(order).toEqual(['flush 1', 'after 0']);
  });

  it('a double free, a foreign ops or another kernel\'s ops throws KernelError(-EINVAL); null is a no-op', () => {
    const mod = fakeFormatModule();
    const k = bootImage(imageWith([mod], ['fake-pgtable']));
    const k2 = bootImage(imageWith([mod], ['fake-pgtable']));
    const ops = allocIoPgtableOps(k, 'ARM_64_LPAE_S1', baseCfg(), null) as IoPgtableOps;
    expect(() => freeIoPgtableOps(k2, ops)).toThrow(KernelError);
    expect(ioPgtableLiveTables(k)).toHaveLength(1);
    freeIoPgtableOps(k, ops);
    const before = stateOf(k);
    let err: unknown;
    try {
      freeIoPgtableOps(k, ops);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KernelError);
    expect((err as KernelError).errno).toBe(-EINVAL);
    expect(() => freeIoPgtableOps(k, { mapPages: () => 0, unmapPages: () => 0, iovaToPhys: () => 0 })).toThrow(KernelError);
    freeIoPgtableOps(k, null);
    expect(stateOf(k)).toEqual(before);
  });

  it('freeIoPgtableOps(ops), shaped like free_io_pgtable_ops(ops), frees and drops the module reference', () => {
    const k = bootImage(imageWith([fakeFormatModule()], ['fake-pgtable']));
    const flushed: unknown[] = [];
    const ops = allocIoPgtableOps(k, 'ARM_64_LPAE_S1', baseCfg({ tlb: { tlbFlushAll: (c) => flushed.push(c) } }), 'cookie') as IoPgtableOps;
    expect(refcountOf(k, 'fake-pgtable')).toBe(1);
    expect(k.pages.stats().pagesInUse).toBe(1);
    freeIoPgtableOps(ops);
    expect(flushed).toEqual(['cookie']);
    expect(refcountOf(k, 'fake-pgtable')).toBe(0);
    expect(k.pages.stats().pagesInUse).toBe(0);
    expect(ioPgtableLiveTables(k)).toEqual([]);
    // the second free says what happened, and changes nothing
    const before = stateOf(k);
    expect(() => freeIoPgtableOps(ops)).toThrow(/double free of a ARM_64_LPAE_S1 table/);
    expect(() => freeIoPgtableOps(k, ops)).toThrow(/double free/);
    expect(stateOf(k)).toEqual(before);
    // ops no format handed out are not called a double free
    expect(() => freeIoPgtableOps(k, { mapPages: () => 0, unmapPages: () => 0, iovaToPhys: () => 0 })).toThrow(/no format handed out/);
  });

  it('rejects a cfg of the wrong shape with -EINVAL and a message naming the field', () => {
    const k = bootImage(imageWith([fakeFormatModule()], ['fake-pgtable']));
    const before = stateOf(k);
    expect(allocIoPgtableOps(k, 'ARM_64_LPAE_S1', { ...baseCfg(), ias: '48' as never }, null)).toBe(-EINVAL);
    expect(allocIoPgtableOps(k, 'ARM_64_LPAE_S1', { ...baseCfg(), coherentWalk: 1 as never }, null)).toBe(-EINVAL);
    expect(allocIoPgtableOps(k, 'ARM_64_LPAE_S1', baseCfg({ tlb: { tlbAddPage: 'x' as never } }), null)).toBe(-EINVAL);
    expect(allocIoPgtableOps(k, 'ARM_64_LPAE_S1', null as never, null)).toBe(-EINVAL);
    expect(msgs(k, 'cfg.ias must be a number')).toHaveLength(1);
    expect(msgs(k, 'cfg.coherentWalk must be a boolean')).toHaveLength(1);
    expect(msgs(k, 'cfg.tlb.tlbAddPage must be a function')).toHaveLength(1);
    expect(msgs(k, 'cfg must be an object')).toHaveLength(1);
    expect(stateOf(k)).toEqual(before);
    expect(() => allocIoPgtableOps(undefined as never, 'ARM_64_LPAE_S1', baseCfg(), null)).toThrow(/kernel is not a Kernel/);
  });

  it('loads the format module on demand through its alias io-pgtable-fmt-FMT', () => {
    const k = bootImage(imageWith([fakeFormatModule({ formats: ['ARM_MALI_LPAE'] })]));
    expect(k.modules.find('fake-pgtable')).toBeUndefined();
    const ops = allocIoPgtableOps(k, 'ARM_MALI_LPAE', baseCfg(), null);
    expect(typeof ops).toBe('object');
    expect(k.modules.find('fake-pgtable')?.state).toBe('live');
    expect(refcountOf(k, 'fake-pgtable')).toBe(1);
    freeIoPgtableOps(k, ops as IoPgtableOps);
  });

  it('returns -ENODEV, changing nothing, when no module in the image provides the format', () => {
    const k = bootImage(imageWith([fakeFormatModule({ formats: ['ARM_V7S'] })]));
    const before = stateOf(k);
    expect(allocIoPgtableOps(k, 'ARM_64_LPAE_S2', baseCfg(), null)).toBe(-ENODEV);
    expect(stateOf(k)).toEqual(before);
    expect(msgs(k, 'no module in the image provides io-pgtable-fmt-ARM_64_LPAE_S2')).toHaveLength(1);
  });

  it('returns -EPROBE_DEFER, changing nothing, when the module is in the image but cannot load', () => {
    for (const mod of [fakeFormatModule({ initError: -ENOMEM }), fakeFormatModule({ extraNeeds: ['symbol_nobody_exports'] })]) {
      const k = bootImage(imageWith([mod]));
      const before = stateOf(k);
      expect(allocIoPgtableOps(k, 'ARM_64_LPAE_S1', baseCfg(), null)).toBe(-EPROBE_DEFER);
      expect(stateOf(k)).toEqual(before);
      expect(ioPgtableRegistered(k, 'ARM_64_LPAE_S1')).toBe(false);
    }
    // the log names the load's own errno, then the deferral (not "-12 (EPROBE_DEFER)")
    const k = bootImage(imageWith([fakeFormatModule({ initError: -ENOMEM })]));
    allocIoPgtableOps(k, 'ARM_64_LPAE_S1', baseCfg(), null);
    expect(msgs(k, 'loading io-pgtable-fmt-ARM_64_LPAE_S1 failed with -12 (ENOMEM), deferring (EPROBE_DEFER)')).toHaveLength(1);
  });

  it('returns -EPROBE_DEFER when the module loads but does not register the format', () => {
    const k = bootImage(imageWith([fakeFormatModule({ registerNothing: true })]));
    const pages = k.pages.snapshot();
    expect(allocIoPgtableOps(k, 'ARM_64_LPAE_S1', baseCfg(), null)).toBe(-EPROBE_DEFER);
    expect(k.modules.find('fake-pgtable')?.refcount).toBe(0);
    expect(k.pages.snapshot()).toEqual(pages);
    expect(msgs(k, 'loaded but did not register the format')).toHaveLength(1);
  });

  it('rejects bad arguments with -EINVAL and leaves loader, allocator and registry unchanged', () => {
    const k = bootImage(imageWith([fakeFormatModule({ formats: ['ARM_64_LPAE_S1', 'ARM_V7S'], caps: 0 })], ['fake-pgtable']));
    const before = stateOf(k);
    const allocator = { alloc: () => -ENOMEM, free: () => undefined };
    expect(allocIoPgtableOps(k, 'AMD_IOMMU_V1' as never, baseCfg(), null)).toBe(-EINVAL);
    // custom allocator: both or neither
    expect(allocIoPgtableOps(k, 'ARM_64_LPAE_S1', baseCfg({ allocator: { alloc: allocator.alloc } as never }), null)).toBe(-EINVAL);
    // this format does not advertise IO_PGTABLE_CAP_CUSTOM_ALLOCATOR
    expect(allocIoPgtableOps(k, 'ARM_V7S', baseCfg({ allocator }), null)).toBe(-EINVAL);
    // the format rejects the configuration: its module reference is dropped again
    expect(allocIoPgtableOps(k, 'ARM_64_LPAE_S1', baseCfg({ ias: 0 }), null)).toBe(-EINVAL);
    expect(stateOf(k)).toEqual(before);
    expect(refcountOf(k, 'fake-pgtable')).toBe(0);
    expect(ioPgtableLiveTables(k)).toEqual([]);
  });

  it('accepts a custom allocator when the format has the capability', () => {
    const k = bootImage(imageWith([fakeFormatModule()], ['fake-pgtable']));
    const allocator = { alloc: () => -ENOMEM, free: () => undefined };
    const ops = allocIoPgtableOps(k, 'ARM_64_LPAE_S1', baseCfg({ allocator }), null);
    expect(typeof ops).toBe('object');
    freeIoPgtableOps(k, ops as IoPgtableOps);
  });

  it('returns -ENODEV while the format module is going away', () => {
    let seen: number | IoPgtableOps | undefined;
    let kernel: Kernel | undefined;
    const mod = fakeFormatModule({
      onExit: () => {
        // the module is 'going' but its format is still registered: try_module_get must fail
        seen = allocIoPgtableOps(kernel!, 'ARM_64_LPAE_S1', baseCfg(), null);
      },
    });
    kernel = bootImage(imageWith([mod], ['fake-pgtable']));
    expect(kernel.modules.unload('fake-pgtable')).toBe(0);
    expect(seen).toBe(-ENODEV);
    expect(kernel.pages.stats().pagesInUse).toBe(0);
  });
});

describe('several kernels in one process', () => {
  it('binds the registration symbols per kernel: each kernel sees only its own formats', () => {
    const a = bootImage(imageWith([fakeFormatModule({ name: 'fmt-a', formats: ['ARM_64_LPAE_S1'] })], ['fmt-a']));
    const b = bootImage(imageWith([fakeFormatModule({ name: 'fmt-b', formats: ['ARM_V7S'] })], ['fmt-b']));
    expect(ioPgtableRegisteredFormats(a)).toEqual(['ARM_64_LPAE_S1']);
    expect(ioPgtableRegisteredFormats(b)).toEqual(['ARM_V7S']);
    // unloading in one kernel leaves the other untouched
    expect(a.modules.unload('fmt-a')).toBe(0);
    expect(ioPgtableRegisteredFormats(a)).toEqual([]);
    expect(ioPgtableRegisteredFormats(b)).toEqual(['ARM_V7S']);
  });
});
