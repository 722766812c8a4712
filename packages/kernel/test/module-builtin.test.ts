import { describe, expect, it } from 'vitest';
import { EBUSY, EEXIST, ENODEV, ENOENT, ENOEXEC, INITCALL_LEVELS, KernelError, type KernelImage } from '@gki/kernel';
import { dmesg, mkKernel, mod } from './module-helpers.js';

describe('built-in modules', () => {
  it('runs initcalls level by level in image order, once each; failures are logged and boot goes on', () => {
    const k = mkKernel();
    const order: string[] = [];
    const b = (name: string, initcall: KernelImage['builtin'][number]['initcall'], ret = 0) =>
      mod(name, {
        initcall,
        init: () => {
          order.push(name);
          return ret;
        },
      });
    k.modules.setImage({
      builtin: [b('dev1', undefined), b('late1', 'late'), b('core1', 'core'), b('bad', 'subsys', -ENODEV), b('dev2', 'device'), b('core2', 'core')],
      modules: [],
    });
    for (const level of INITCALL_LEVELS) k.modules.runBuiltinInitcalls(level);
    expect(order).toEqual(['core1', 'core2', 'bad', 'dev1', 'dev2', 'late1']);
    expect(dmesg(k)).toContain('initcall bad returned -19');
    const bad = k.modules.list().find((m) => m.name === 'bad');
    expect(bad).toMatchObject({ builtin: true, state: 'live', initcallResult: -ENODEV });
    k.modules.runBuiltinInitcalls('core');
    expect(order).toHaveLength(6);
  });

  it('a built-in whose initcall throws is logged like a failing one', () => {
    const k = mkKernel();
    k.modules.setImage({ builtin: [mod('thrower', { init: () => { throw new KernelError(-EBUSY, 'busy'); } })], modules: [] });
    k.modules.runBuiltinInitcalls('device');
    expect(dmesg(k)).toContain('initcall thrower returned -16');
  });

  it('built-in exports are core symbols from setImage on, and never pin anything', () => {
    const k = mkKernel();
    const registerFn = () => 0;
    k.modules.setImage({
      builtin: [mod('io-pgtable', { initcall: 'core', exports: { io_pgtable_ops_register: { value: registerFn, gplOnly: true } } })],
      modules: [mod('io-pgtable-arm', { needs: ['io_pgtable_ops_register'] })],
    });
    expect(k.modules.coreSymbol('io_pgtable_ops_register')?.provider).toBe('io-pgtable');
    let got: unknown;
    expect(k.modules.load(mod('fmt', { needs: ['io_pgtable_ops_register'], init: (ctx) => { got = ctx.symbol('io_pgtable_ops_register'); return 0; } }))).toBe(0);
    expect(got).toBe(registerFn);
    const core = k.modules.list().find((m) => m.name === 'io-pgtable');
    expect(core).toMatchObject({ builtin: true, refcount: 0, usedBy: [], exports: ['io_pgtable_ops_register'] });
    expect(k.modules.list().find((m) => m.name === 'fmt')?.uses).toEqual([]);
    expect(k.modules.depmod().dep['io-pgtable-arm']).toEqual([]);
  });

  it('built-ins cannot be unloaded, are always found, and try_module_get on them always succeeds uncounted', () => {
    const k = mkKernel();
    k.modules.setImage({ builtin: [mod('io-pgtable', { aliases: ['iopt'] })], modules: [] });
    const ref = k.modules.find('io-pgtable')!;
    expect(ref).toMatchObject({ name: 'io-pgtable', builtin: true, state: 'live' });
    expect(k.modules.find('iopt')).toBe(ref);
    expect(k.modules.tryModuleGet(ref)).toBe(true);
    expect(ref.refcount).toBe(0);
    k.modules.modulePut(ref);
    const before = k.modules.snapshot();
    expect(k.modules.unload('io-pgtable')).toBe(-ENOENT);
    expect(dmesg(k)).toContain('rmmod: ERROR: Module io-pgtable is builtin.');
    expect(k.modules.load(mod('io_pgtable'))).toBe(-EEXIST);
    expect(k.modules.modprobe('io-pgtable')).toBe(0);
    expect(k.modules.snapshot()).toEqual(before);
  });

  it('a built-in sees only the core symbols it declares', () => {
    const k = mkKernel();
    k.modules.exportCore('core_a', { value: 'A' });
    k.modules.exportCore('core_b', { value: 'B' });
    let a: unknown;
    let bErr: unknown;
    k.modules.setImage({
      builtin: [
        mod('bi', {
          needs: ['core_a'],
          init: (ctx) => {
            a = ctx.symbol('core_a');
            try {
              ctx.symbol('core_b');
            } catch (e) {
              bErr = e;
            }
            return 0;
          },
        }),
      ],
      modules: [],
    });
    k.modules.runBuiltinInitcalls('device');
    expect(a).toBe('A');
    expect((bErr as KernelError).errno).toBe(-ENOENT);
  });
});

describe('setImage and exportCore rejections leave state unchanged', () => {
  it.each<[string, KernelImage, number]>([
    ['duplicate module names', { builtin: [mod('a')], modules: [mod('a')] }, -EEXIST],
    ['names equal up to - and _', { builtin: [], modules: [mod('a-b'), mod('a_b')] }, -EEXIST],
    ['duplicate built-in exports', { builtin: [mod('x', { exports: { s: { value: 1 } } }), mod('y', { exports: { s: { value: 2 } } })], modules: [] }, -EEXIST],
    ['a built-in export clashing with a core symbol', { builtin: [mod('x', { exports: { core_sym: { value: 1 } } })], modules: [] }, -EEXIST],
    ['a built-in needing a missing symbol', { builtin: [mod('x', { needs: ['nowhere'] })], modules: [] }, -ENOENT],
    ['a malformed descriptor', { builtin: [], modules: [{ name: 'x', version: '1', license: 'GPL' } as never] }, -ENOEXEC],
  ])('%s', (_what, image, errno) => {
    const k = mkKernel();
    k.modules.exportCore('core_sym', { value: 0 });
    const before = k.modules.snapshot();
    let thrown: unknown;
    try {
      k.modules.setImage(image);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(KernelError);
    expect((thrown as KernelError).errno).toBe(errno);
    expect(k.modules.snapshot()).toEqual(before);
    expect(k.modules.depmod().builtin).toEqual([]);
    // The rejected image was not half-installed: a valid one is still accepted.
    k.modules.setImage({ builtin: [mod('ok')], modules: [] });
    expect(k.modules.find('ok')?.builtin).toBe(true);
  });

  it('a second image and duplicate core exports are refused', () => {
    const k = mkKernel();
    k.modules.setImage({ builtin: [], modules: [] });
    expect(() => k.modules.setImage({ builtin: [mod('late')], modules: [] })).toThrow(KernelError);
    k.modules.exportCore('s', { value: 1 });
    const before = k.modules.snapshot();
    expect(() => k.modules.exportCore('s', { value: 2 })).toThrow(/duplicate symbol s/);
    expect(k.modules.snapshot()).toEqual(before);
  });
});

describe('boot sequence', () => {
  it('built-ins by level, then the load list through modprobe, with the log telling the story', () => {
    const k = mkKernel();
    const order: string[] = [];
    const push = (n: string) => () => {
      order.push(n);
      return 0;
    };
    const image: KernelImage = {
      builtin: [mod('io-pgtable', { initcall: 'core', exports: { io_pgtable_ops_register: { value: 0 } }, init: push('io-pgtable') })],
      modules: [
        mod('io-pgtable-arm', { needs: ['io_pgtable_ops_register'], aliases: ['io-pgtable-fmt-ARM_64_LPAE_S1'], init: push('io-pgtable-arm') }),
        mod('panfrost', { softdep: { pre: ['io-pgtable-arm'] }, init: push('panfrost') }),
      ],
      load: ['panfrost', 'io-pgtable-arm'],
    };
    // What Kernel.boot does with the loader, without the driver core / OF steps.
    k.modules.setImage(image);
    for (const level of INITCALL_LEVELS) k.modules.runBuiltinInitcalls(level);
    for (const name of image.load ?? []) expect(k.modules.modprobe(name)).toBe(0);
    expect(order).toEqual(['io-pgtable', 'io-pgtable-arm', 'panfrost']);
    expect(k.modules.list().map((m) => [m.name, m.builtin, m.state])).toEqual([
      ['io-pgtable', true, 'live'],
      ['io-pgtable-arm', false, 'live'],
      ['panfrost', false, 'live'],
    ]);
    expect(k.log.grep('module loaded')).toHaveLength(2);
  });
});
