import { describe, expect, it } from 'vitest';
import {
  EBUSY,
  EEXIST,
  EINVAL,
  ENODEV,
  ENOENT,
  ENOEXEC,
  ENOMEM,
  GPL_COMPATIBLE_LICENSES,
  KernelError,
  type ModuleContext,
  type ModuleRef,
} from '@gki/kernel';
import { dmesg, mkKernel, mod } from './module-helpers.js';

describe('load: symbol resolution', () => {
  it('binds core and module exports; ctx.symbol only serves declared needs', () => {
    const k = mkKernel();
    const coreFn = (x: number) => x * 2;
    k.modules.exportCore('core_double', { value: coreFn });
    expect(k.modules.load(mod('a', { exports: { a_value: { value: 41 } } }))).toBe(0);

    let seen: { dbl?: unknown; val?: unknown; self?: ModuleRef; kernelOk?: boolean; undeclared?: unknown } = {};
    const b = mod('b', {
      needs: ['core_double', 'a_value'],
      init(ctx: ModuleContext) {
        seen = {
          dbl: ctx.symbol('core_double'),
          val: ctx.symbol<number>('a_value'),
          self: ctx.self,
          kernelOk: ctx.kernel === k,
        };
        try {
          ctx.symbol('core_double_undeclared');
        } catch (e) {
          seen.undeclared = e;
        }
        return 0;
      },
    });
    expect(k.modules.load(b)).toBe(0);
    expect(seen.dbl).toBe(coreFn);
    expect(seen.val).toBe(41);
    expect(seen.kernelOk).toBe(true);
    expect(seen.self).toBe(k.modules.find('b'));
    expect(seen.undeclared).toBeInstanceOf(KernelError);
    expect((seen.undeclared as KernelError).errno).toBe(-ENOENT);

    const info = k.modules.list();
    expect(info.map((m) => [m.name, m.state, m.refcount, m.uses, m.usedBy])).toEqual([
      ['a', 'live', 1, [], ['b']],
      ['b', 'live', 0, ['a'], []],
    ]);
    // A core symbol never pins anything.
    expect(k.modules.symbolTable().find((s) => s.name === 'core_double')).toEqual({
      name: 'core_double',
      owner: 'vmlinux',
      modular: false,
      gplOnly: false,
      namespace: null,
    });
  });

  it('an unknown symbol fails with -ENOENT, reports every missing name, leaves nothing behind', () => {
    const k = mkKernel();
    k.modules.exportCore('present', { value: 1 });
    expect(k.modules.load(mod('dep', { exports: { dep_fn: { value: 2 } } }))).toBe(0);
    const before = k.modules.snapshot();
    let inited = false;
    const bad = mod('bad', {
      needs: ['present', 'missing_one', 'dep_fn', 'missing_two'],
      exports: { bad_export: { value: 3 } },
      init: () => {
        inited = true;
        return 0;
      },
    });
    expect(k.modules.load(bad)).toBe(-ENOENT);
    expect(inited).toBe(false);
    expect(k.modules.snapshot()).toEqual(before);
    expect(k.modules.find('bad')).toBeUndefined();
    const log = dmesg(k);
    expect(log).toContain('bad: Unknown symbol missing_one (err -2)');
    expect(log).toContain('bad: Unknown symbol missing_two (err -2)');
    expect(log).not.toContain('Unknown symbol present');
  });

  it('rejects a malformed descriptor with -ENOEXEC', () => {
    const k = mkKernel();
    const before = k.modules.snapshot();
    expect(k.modules.load({ name: '', version: '1', license: 'GPL', init: () => 0 })).toBe(-ENOEXEC);
    expect(k.modules.load({ name: 'x', version: '1', license: 'GPL' } as never)).toBe(-ENOEXEC);
    expect(k.modules.snapshot()).toEqual(before);
  });

  it('loading an already-loaded module is -EEXIST (names compare with - and _ equivalent)', () => {
    const k = mkKernel();
    expect(k.modules.load(mod('io-pgtable-arm'))).toBe(0);
    const before = k.modules.snapshot();
    expect(k.modules.load(mod('io-pgtable-arm'))).toBe(-EEXIST);
    expect(k.modules.load(mod('io_pgtable_arm'))).toBe(-EEXIST);
    expect(k.modules.snapshot()).toEqual(before);
    expect(k.modules.find('io_pgtable_arm')?.name).toBe('io-pgtable-arm');
  });

  it('a duplicate export fails with -ENOEXEC naming the owner (a module or the kernel)', () => {
    const k = mkKernel();
    k.modules.exportCore('core_sym', { value: 0 });
    expect(k.modules.load(mod('owner', { exports: { shared: { value: 1 } } }))).toBe(0);
    const before = k.modules.snapshot();
    expect(k.modules.load(mod('dup1', { exports: { mine: { value: 0 }, shared: { value: 2 } } }))).toBe(-ENOEXEC);
    expect(k.modules.load(mod('dup2', { exports: { core_sym: { value: 2 } } }))).toBe(-ENOEXEC);
    expect(k.modules.snapshot()).toEqual(before);
    const log = dmesg(k);
    expect(log).toContain('dup1: exports duplicate symbol shared (owned by owner)');
    expect(log).toContain('dup2: exports duplicate symbol core_sym (owned by kernel)');
  });
});

describe('load: licences, GPL-only symbols and namespaces', () => {
  it('GPL-compatible licences see GPL-only symbols; a proprietary module does not', () => {
    const k = mkKernel();
    k.modules.exportCore('gpl_fn', { value: 'g', gplOnly: true });
    k.modules.exportCore('plain_fn', { value: 'p' });
    for (const [i, license] of GPL_COMPATIBLE_LICENSES.entries()) {
      expect(k.modules.load(mod(`ok${i}`, { license, needs: ['gpl_fn'] }))).toBe(0);
    }
    expect(k.modules.kernelTaints()).toEqual([]);
    const before = k.modules.snapshot();
    expect(k.modules.load(mod('blob', { license: 'Proprietary', needs: ['plain_fn', 'gpl_fn'] }))).toBe(-ENOENT);
    expect(k.modules.snapshot()).toEqual(before);
    const lines = dmesg(k).split('\n');
    const taint = lines.findIndex((l) => l.includes("blob: module license 'Proprietary' taints kernel."));
    const unknown = lines.findIndex((l) => l.includes('blob: Unknown symbol gpl_fn (err -2)'));
    expect(taint).toBeGreaterThanOrEqual(0);
    expect(unknown).toBeGreaterThan(taint);
    // As in Linux, the kernel taint is sticky even though the load failed.
    expect(k.modules.kernelTaints()).toEqual(['PROPRIETARY_MODULE']);
    // Without the GPL-only symbol the same proprietary module loads (tainted).
    expect(k.modules.load(mod('blob', { license: 'Proprietary', needs: ['plain_fn'] }))).toBe(0);
    expect(k.modules.list().find((m) => m.name === 'blob')?.proprietary).toBe(true);
  });

  it('a missing licence counts as proprietary', () => {
    const k = mkKernel();
    k.modules.exportCore('gpl_fn', { value: 1, gplOnly: true });
    expect(k.modules.load(mod('nolic', { license: '', needs: ['gpl_fn'] }))).toBe(-ENOENT);
    expect(dmesg(k)).toContain("nolic: module license 'unspecified' taints kernel.");
  });

  it('using a proprietary module inherits its taint, unless GPL-only symbols are used first', () => {
    const k = mkKernel();
    k.modules.exportCore('gpl_fn', { value: 1, gplOnly: true });
    expect(k.modules.load(mod('prop', { license: 'Proprietary', exports: { prop_fn: { value: 2 } } }))).toBe(0);
    const before = k.modules.snapshot();

    // GPL-only symbol first, then the proprietary one: refused.
    expect(k.modules.load(mod('m1', { needs: ['gpl_fn', 'prop_fn'] }))).toBe(-ENOENT);
    expect(dmesg(k)).toContain('m1: module using GPL-only symbols uses symbols prop_fn from proprietary module prop.');
    expect(dmesg(k)).toContain('m1: Unknown symbol prop_fn (err -2)');
    expect(k.modules.snapshot()).toEqual(before);

    // Proprietary symbol first: the module inherits the taint, then can no longer see GPL-only ones.
    expect(k.modules.load(mod('m2', { needs: ['prop_fn', 'gpl_fn'] }))).toBe(-ENOENT);
    expect(dmesg(k)).toContain('m2: module uses symbols prop_fn from proprietary module prop, inheriting taint.');
    expect(dmesg(k)).toContain('m2: Unknown symbol gpl_fn (err -2)');
    expect(k.modules.snapshot()).toEqual(before);

    // Only the proprietary symbol: loads, tainted, and pins its owner.
    expect(k.modules.load(mod('m3', { needs: ['prop_fn'] }))).toBe(0);
    const m3 = k.modules.list().find((m) => m.name === 'm3');
    expect(m3).toMatchObject({ proprietary: true, uses: ['prop'] });
  });

  it('a namespaced symbol needs the namespace import (-EINVAL otherwise)', () => {
    const k = mkKernel();
    k.modules.exportCore('dma_buf_get', { value: 1, namespace: 'DMA_BUF' });
    expect(k.modules.load(mod('ns_owner', { exports: { ns_fn: { value: 2, namespace: 'IOMMUFD', gplOnly: true } } }))).toBe(0);
    const before = k.modules.snapshot();
    expect(k.modules.load(mod('user1', { needs: ['dma_buf_get'] }))).toBe(-EINVAL);
    expect(k.modules.load(mod('user2', { needs: ['ns_fn'], importNamespaces: ['DMA_BUF'] }))).toBe(-EINVAL);
    expect(k.modules.snapshot()).toEqual(before);
    const log = dmesg(k);
    expect(log).toContain('user1: module uses symbol (dma_buf_get) from namespace DMA_BUF, but does not import it.');
    expect(log).toContain('user2: module uses symbol (ns_fn) from namespace IOMMUFD, but does not import it.');
    expect(log).toContain('user2: Unknown symbol ns_fn (err -22)');
    expect(k.modules.load(mod('user3', { needs: ['dma_buf_get', 'ns_fn'], importNamespaces: ['DMA_BUF', 'IOMMUFD'] }))).toBe(0);
    expect(k.modules.list().find((m) => m.name === 'ns_owner')?.usedBy).toEqual(['user3']);
  });
});

describe('load: init and rollback', () => {
  it('init runs in state coming with exports visible; success makes it live', () => {
    const k = mkKernel();
    let stateInInit = '';
    let exportedInInit = false;
    const m = mod('m', {
      exports: { m_fn: { value: 1 } },
      init(ctx) {
        stateInInit = ctx.self.state;
        exportedInInit = k.modules.symbolTable().some((s) => s.name === 'm_fn' && s.owner === 'm');
        return 0;
      },
    });
    expect(k.modules.load(m)).toBe(0);
    expect(stateInInit).toBe('coming');
    expect(exportedInInit).toBe(true);
    expect(k.modules.find('m')?.state).toBe('live');
    expect(dmesg(k)).toContain("m: module loaded (version 1.0.0, license 'GPL v2')");
  });

  it.each([
    ['returns -ENOMEM', () => -ENOMEM, -ENOMEM],
    ['throws KernelError(-ENODEV)', () => { throw new KernelError(-ENODEV, 'no device'); }, -ENODEV],
    ['throws a plain Error', () => { throw new TypeError('oops'); }, -EINVAL],
  ])('a failing init (%s) rolls everything back and returns its errno', (_what, fail, errno) => {
    const k = mkKernel();
    expect(k.modules.load(mod('dep', { exports: { dep_fn: { value: 1 } } }))).toBe(0);
    const before = k.modules.snapshot();
    let exitCalled = false;
    let self: ModuleRef | undefined;
    const registry = new Set<string>();
    const m = mod('failing', {
      needs: ['dep_fn'],
      exports: { failing_fn: { value: 2 } },
      init(ctx) {
        self = ctx.self;
        expect(k.modules.find('dep')?.refcount).toBe(1);
        registry.add('failing');
        // The module cleans up its own partial work (Linux never calls exit after a failed init).
        registry.delete('failing');
        return fail();
      },
      exit: () => {
        exitCalled = true;
      },
    });
    expect(k.modules.load(m)).toBe(errno);
    expect(exitCalled).toBe(false);
    expect(registry.size).toBe(0);
    expect(self?.state).toBe('gone');
    expect(k.modules.snapshot()).toEqual(before);
    expect(k.modules.find('dep')?.refcount).toBe(0);
    expect(dmesg(k)).toContain(`failing: module init failed: ${errno}`);
    // The name is free again.
    expect(k.modules.load(mod('failing', { needs: ['dep_fn'] }))).toBe(0);
  });

  it('a positive init return is warned about and treated as success', () => {
    const k = mkKernel();
    expect(k.modules.load(mod('pos', { init: () => 1 }))).toBe(0);
    expect(k.modules.find('pos')?.state).toBe('live');
    expect(dmesg(k)).toContain("'pos'->init suspiciously returned 1, it should follow 0/-E convention");
  });

  it('a module loaded during an init cannot bind the initialising module (-EBUSY)', () => {
    const k = mkKernel();
    let inner = 0;
    const parent = mod('parent', {
      exports: { parent_fn: { value: 1 } },
      init: () => {
        inner = k.modules.load(mod('child', { needs: ['parent_fn'] }));
        return 0;
      },
    });
    expect(k.modules.load(parent)).toBe(0);
    expect(inner).toBe(-EBUSY);
    expect(dmesg(k)).toContain('child: Unknown symbol parent_fn (err -16)');
    expect(k.modules.list().map((m) => m.name)).toEqual(['parent']);
    // Once live, the same child loads and pins it.
    expect(k.modules.load(mod('child', { needs: ['parent_fn'] }))).toBe(0);
    expect(k.modules.find('parent')?.refcount).toBe(1);
  });
});

describe('unload and references', () => {
  it('rejects with -ENOENT when not loaded, leaving state unchanged', () => {
    const k = mkKernel();
    expect(k.modules.load(mod('x'))).toBe(0);
    const before = k.modules.snapshot();
    expect(k.modules.unload('nope')).toBe(-ENOENT);
    expect(k.modules.snapshot()).toEqual(before);
    expect(dmesg(k)).toContain('rmmod: ERROR: Module nope is not currently loaded');
  });

  it('-EBUSY while other modules use its symbols; the holders are named', () => {
    const k = mkKernel();
    expect(k.modules.load(mod('lib', { exports: { lib_fn: { value: 1 } } }))).toBe(0);
    expect(k.modules.load(mod('user_b', { needs: ['lib_fn'] }))).toBe(0);
    expect(k.modules.load(mod('user_a', { needs: ['lib_fn'] }))).toBe(0);
    expect(k.modules.find('lib')?.refcount).toBe(2);
    const before = k.modules.snapshot();
    expect(k.modules.unload('lib')).toBe(-EBUSY);
    expect(k.modules.snapshot()).toEqual(before);
    expect(dmesg(k)).toContain('rmmod: ERROR: Module lib is in use by: user_a user_b');
    expect(k.modules.unload('user_a')).toBe(0);
    expect(k.modules.unload('lib')).toBe(-EBUSY);
    expect(k.modules.unload('user_b')).toBe(0);
    expect(k.modules.find('lib')?.refcount).toBe(0);
    expect(k.modules.unload('lib')).toBe(0);
    // back to what a kernel holds at boot: no module, only vmlinux's own exports
    const boot = mkKernel().modules.snapshot();
    expect(boot.modules).toEqual([]);
    expect(boot.symbols.every((s) => s.owner === 'vmlinux')).toBe(true);
    expect(k.modules.snapshot()).toEqual(boot);
  });

  it('-EBUSY while try_module_get references are held; 0 once they are put', () => {
    const k = mkKernel();
    expect(k.modules.load(mod('fmt'))).toBe(0);
    const ref = k.modules.find('fmt')!;
    expect(k.modules.tryModuleGet(ref)).toBe(true);
    expect(k.modules.tryModuleGet(ref)).toBe(true);
    expect(ref.refcount).toBe(2);
    const before = k.modules.snapshot();
    expect(k.modules.unload('fmt')).toBe(-EBUSY);
    expect(k.modules.snapshot()).toEqual(before);
    expect(dmesg(k)).toContain('rmmod: ERROR: Module fmt is in use');
    k.modules.modulePut(ref);
    expect(k.modules.unload('fmt')).toBe(-EBUSY);
    k.modules.modulePut(ref);
    expect(ref.refcount).toBe(0);
    expect(k.modules.unload('fmt')).toBe(0);
  });

  it('a module without exit cannot be unloaded (-EBUSY)', () => {
    const k = mkKernel();
    const { exit: _drop, ...noExit } = mod('sticky');
    expect(k.modules.load(noExit)).toBe(0);
    const before = k.modules.snapshot();
    expect(k.modules.unload('sticky')).toBe(-EBUSY);
    expect(k.modules.snapshot()).toEqual(before);
  });

  it('unload runs exit while going, withdraws exports, drops uses; reload gives a new ref', () => {
    const k = mkKernel();
    expect(k.modules.load(mod('lib', { exports: { lib_fn: { value: 1 } } }))).toBe(0);
    const before = k.modules.snapshot();
    let stateInExit = '';
    let getInExit: boolean | undefined;
    const user = mod('user', {
      needs: ['lib_fn'],
      exports: { user_fn: { value: 2 } },
      exit(ctx) {
        stateInExit = ctx.self.state;
        getInExit = k.modules.tryModuleGet(ctx.self);
      },
    });
    expect(k.modules.load(user)).toBe(0);
    const ref = k.modules.find('user')!;
    expect(k.modules.unload('user')).toBe(0);
    expect(stateInExit).toBe('going');
    expect(getInExit).toBe(false);
    expect(ref.state).toBe('gone');
    expect(k.modules.tryModuleGet(ref)).toBe(false);
    expect(k.modules.snapshot()).toEqual(before);
    expect(dmesg(k)).toContain('user: module unloaded');
    expect(k.modules.load(user)).toBe(0);
    expect(k.modules.find('user')).not.toBe(ref);
  });

  it('an exit that throws is logged and the unload still completes', () => {
    const k = mkKernel();
    expect(k.modules.load(mod('boom', { exit: () => { throw new Error('bad exit'); } }))).toBe(0);
    expect(k.modules.unload('boom')).toBe(0);
    expect(k.modules.list()).toEqual([]);
    expect(dmesg(k)).toContain('boom: exit threw: bad exit');
  });

  it('try_module_get: NULL owner succeeds, coming succeeds, unbalanced put only warns', () => {
    const k = mkKernel();
    expect(k.modules.tryModuleGet(null)).toBe(true);
    expect(k.modules.tryModuleGet(undefined)).toBe(true);
    k.modules.modulePut(null);
    let getInInit: boolean | undefined;
    expect(
      k.modules.load(
        mod('m', {
          init(ctx) {
            getInInit = k.modules.tryModuleGet(ctx.self);
            k.modules.modulePut(ctx.self);
            return 0;
          },
        }),
      ),
    ).toBe(0);
    expect(getInInit).toBe(true);
    const ref = k.modules.find('m')!;
    const before = k.modules.snapshot();
    k.modules.modulePut(ref);
    expect(k.modules.snapshot()).toEqual(before);
    expect(dmesg(k)).toContain('m: module_put: reference count underflow');
  });

  it('refs from another kernel or forged objects are rejected with KernelError(-EINVAL)', () => {
    const k1 = mkKernel();
    const k2 = mkKernel();
    expect(k1.modules.load(mod('m'))).toBe(0);
    const ref = k1.modules.find('m')!;
    expect(k1.modules.owns(ref)).toBe(true);
    expect(k2.modules.owns(ref)).toBe(false);
    expect(k1.modules.owns(null)).toBe(false);
    expect(() => k2.modules.tryModuleGet(ref)).toThrow(KernelError);
    const forged: ModuleRef = { name: 'm', builtin: false, state: 'live', refcount: 0 };
    expect(() => k1.modules.modulePut(forged)).toThrow(/not a module of this kernel/);
    expect(ref.refcount).toBe(0);
  });
});
