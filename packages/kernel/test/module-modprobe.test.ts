import { describe, expect, it } from 'vitest';
import { EBUSY, ELOOP, ENOENT, ENOMEM, globMatch, type KernelModule } from '@gki/kernel';
import { dmesg, mkKernel, mod } from './module-helpers.js';

/** Modules whose init appends their name to `order`. */
function tracked(order: string[]) {
  return (name: string, extra: Partial<KernelModule> = {}): KernelModule =>
    mod(name, {
      init: () => {
        order.push(name);
        return 0;
      },
      ...extra,
    });
}

describe('modprobe: dependencies and softdeps', () => {
  it('loads symbol dependencies first, recursively, and records the holders', () => {
    const k = mkKernel();
    const order: string[] = [];
    const t = tracked(order);
    k.modules.setImage({
      builtin: [mod('core', { exports: { core_fn: { value: 0 } } })],
      modules: [
        t('top', { needs: ['core_fn', 'mid_fn', 'base_fn'] }),
        t('mid', { needs: ['base_fn'], exports: { mid_fn: { value: 1 } } }),
        t('base', { exports: { base_fn: { value: 2 } } }),
        t('unrelated'),
      ],
    });
    expect(k.modules.modprobe('top')).toBe(0);
    expect(order).toEqual(['base', 'mid', 'top']);
    const byName = Object.fromEntries(k.modules.list().map((m) => [m.name, m]));
    expect(byName.base?.usedBy).toEqual(['mid', 'top']);
    expect(byName.mid?.usedBy).toEqual(['top']);
    expect(byName.unrelated).toBeUndefined();
    // Already live: 0 and nothing runs again.
    expect(k.modules.modprobe('top')).toBe(0);
    expect(order).toEqual(['base', 'mid', 'top']);
  });

  it('loads softdep pre modules before and post modules after; missing ones are ignored', () => {
    const k = mkKernel();
    const order: string[] = [];
    const t = tracked(order);
    k.modules.setImage({
      builtin: [],
      modules: [
        t('arm_smmu', { softdep: { pre: ['io-pgtable-arm', 'absent-module', 'io-pgtable-fmt-ARM_V7S'], post: ['smmu-post'] } }),
        t('io-pgtable-arm'),
        t('io-pgtable-arm-v7s', { aliases: ['io-pgtable-fmt-ARM_V7S'] }),
        t('smmu-post'),
      ],
    });
    expect(k.modules.modprobe('arm_smmu')).toBe(0);
    expect(order).toEqual(['io-pgtable-arm', 'io-pgtable-arm-v7s', 'arm_smmu', 'smmu-post']);
    // A softdep creates no holder link.
    expect(k.modules.list().every((m) => m.usedBy.length === 0 && m.refcount === 0)).toBe(true);
    expect(k.modules.unload('io-pgtable-arm')).toBe(0);
    expect(dmesg(k)).not.toContain('FATAL');
  });

  it('a failing softdep does not stop the main module', () => {
    const k = mkKernel();
    k.modules.setImage({
      builtin: [],
      modules: [mod('main', { softdep: { pre: ['broken'], post: ['broken2'] } }), mod('broken', { init: () => -ENOMEM }), mod('broken2', { needs: ['nowhere'] })],
    });
    expect(k.modules.modprobe('main')).toBe(0);
    expect(k.modules.list().map((m) => m.name)).toEqual(['main']);
  });

  it('a failing hard dependency aborts the whole modprobe and leaves nothing behind', () => {
    const k = mkKernel();
    const order: string[] = [];
    const t = tracked(order);
    k.modules.setImage({
      builtin: [],
      modules: [
        t('top', { needs: ['ok_fn', 'bad_fn'], softdep: { pre: ['pre'] } }),
        t('ok', { exports: { ok_fn: { value: 1 } } }),
        t('bad', { exports: { bad_fn: { value: 2 } }, init: () => -ENOMEM }),
        t('pre'),
      ],
    });
    // 'ok' loads before 'bad' fails; like modprobe, it stays loaded (it is a valid module).
    expect(k.modules.modprobe('top')).toBe(-ENOMEM);
    expect(order).toEqual(['ok']);
    expect(k.modules.list().map((m) => m.name)).toEqual(['ok']);
    expect(dmesg(k)).toContain("modprobe: ERROR: could not insert 'bad': ENOMEM");
    const before = k.modules.snapshot();
    expect(k.modules.modprobe('top')).toBe(-ENOMEM);
    expect(k.modules.snapshot()).toEqual(before);
  });

  it('an unresolvable symbol surfaces as the module load error', () => {
    const k = mkKernel();
    k.modules.setImage({ builtin: [], modules: [mod('needy', { needs: ['not_anywhere'] })] });
    const before = k.modules.snapshot();
    expect(k.modules.modprobe('needy')).toBe(-ENOENT);
    expect(k.modules.snapshot()).toEqual(before);
    expect(dmesg(k)).toContain("modprobe: ERROR: could not insert 'needy': Unknown symbol in module");
    expect(k.modules.depmod().unresolved).toEqual({ needy: ['not_anywhere'] });
  });

  it('a module not in the image is -ENOENT with the modprobe message', () => {
    const k = mkKernel();
    k.modules.setImage({ builtin: [], modules: [mod('present')] });
    const before = k.modules.snapshot();
    expect(k.modules.modprobe('absent')).toBe(-ENOENT);
    expect(k.modules.snapshot()).toEqual(before);
    expect(dmesg(k)).toContain('modprobe: FATAL: Module absent not found');
  });

  it('works without an image for modules loaded by hand, and built-ins count as present', () => {
    const k = mkKernel();
    expect(k.modules.modprobe('anything')).toBe(-ENOENT);
    expect(k.modules.load(mod('by-hand', { aliases: ['hand:*'] }))).toBe(0);
    expect(k.modules.modprobe('by_hand')).toBe(0);
    expect(k.modules.modprobe('hand:x')).toBe(0);
  });
});

describe('modprobe: cycles', () => {
  it('a hard-dependency cycle is -ELOOP naming the cycle, with nothing loaded', () => {
    const k = mkKernel();
    k.modules.setImage({
      builtin: [],
      modules: [
        mod('a', { needs: ['b_fn'], exports: { a_fn: { value: 1 } } }),
        mod('b', { needs: ['c_fn'], exports: { b_fn: { value: 2 } } }),
        mod('c', { needs: ['a_fn'], exports: { c_fn: { value: 3 } } }),
      ],
    });
    const before = k.modules.snapshot();
    expect(k.modules.modprobe('a')).toBe(-ELOOP);
    expect(k.modules.snapshot()).toEqual(before);
    expect(dmesg(k)).toContain('modprobe: ERROR: Cycle detected: a -> b -> c -> a');
    expect(k.modules.requestModule('b')).toBe(-ELOOP);
    expect(k.modules.depmod().cycles).toEqual([['a', 'b', 'c', 'a']]);
  });

  it('a softdep cycle is not an error: each module loads once', () => {
    const k = mkKernel();
    const order: string[] = [];
    const t = tracked(order);
    k.modules.setImage({
      builtin: [],
      modules: [t('x', { softdep: { pre: ['y'] } }), t('y', { softdep: { pre: ['x'], post: ['x'] } })],
    });
    expect(k.modules.modprobe('x')).toBe(0);
    expect(order).toEqual(['y', 'x']);
  });

  it('a pre-softdep on a module that needs us fails quietly; as post it loads after us', () => {
    const order: string[] = [];
    const t = tracked(order);
    const k1 = mkKernel();
    k1.modules.setImage({
      builtin: [],
      modules: [t('host', { exports: { host_fn: { value: 1 } }, softdep: { pre: ['plugin'] } }), t('plugin', { needs: ['host_fn'] })],
    });
    expect(k1.modules.modprobe('host')).toBe(0);
    expect(k1.modules.list().map((m) => m.name)).toEqual(['host']);
    expect(dmesg(k1)).toContain('plugin: Unknown symbol host_fn (err -2)');

    order.length = 0;
    const k2 = mkKernel();
    k2.modules.setImage({
      builtin: [],
      modules: [t('host', { exports: { host_fn: { value: 1 } }, softdep: { post: ['plugin'] } }), t('plugin', { needs: ['host_fn'] })],
    });
    expect(k2.modules.modprobe('host')).toBe(0);
    expect(order).toEqual(['host', 'plugin']);
    expect(k2.modules.list().find((m) => m.name === 'host')?.usedBy).toEqual(['plugin']);
  });
});

describe('aliases and request_module', () => {
  it('glob matching follows fnmatch', () => {
    expect(globMatch('of:N*T*Carm,smmu-v3', 'of:NiommuT(null)Carm,smmu-v3')).toBe(true);
    expect(globMatch('of:N*T*Carm,smmu-v3', 'of:NiommuT(null)Carm,smmu-v2')).toBe(false);
    expect(globMatch('of:N*T*Carm,smmu-v3C*', 'of:NiommuT(null)Carm,smmu-v3Cfallback')).toBe(true);
    expect(globMatch('fmt-ARM_?', 'fmt-ARM_7')).toBe(true);
    expect(globMatch('fmt-ARM_?', 'fmt-ARM_70')).toBe(false);
    expect(globMatch('pci:v[0-9]*', 'pci:v1af4')).toBe(true);
    expect(globMatch('pci:v[!0-9]*', 'pci:v1af4')).toBe(false);
    expect(globMatch('pci:v[!0-9]*', 'pci:vx')).toBe(true);
    expect(globMatch('a.b', 'aXb')).toBe(false);
    expect(globMatch('a\\*b', 'a*b')).toBe(true);
    expect(globMatch('a\\*b', 'axb')).toBe(false);
    expect(globMatch('[unterminated', '[unterminated')).toBe(true);
  });

  it('modprobe by alias (exact and glob) and by symbol:', () => {
    const k = mkKernel();
    k.modules.setImage({
      builtin: [],
      modules: [
        mod('arm_smmu_v3', { aliases: ['of:N*T*Carm,smmu-v3', 'of:N*T*Carm,smmu-v3C*'] }),
        mod('io-pgtable-arm', { aliases: ['io-pgtable-fmt-ARM_64_LPAE_S1'], exports: { lpae_fn: { value: 1 } } }),
      ],
    });
    expect(k.modules.modprobe('of:Niommu@2b400000T(null)Carm,smmu-v3')).toBe(0);
    expect(k.modules.find('arm_smmu_v3')?.state).toBe('live');
    expect(k.modules.find('of:NxT(null)Carm,smmu-v3')?.name).toBe('arm_smmu_v3');
    expect(k.modules.modprobe('symbol:lpae_fn')).toBe(0);
    expect(k.modules.find('io-pgtable-fmt-ARM_64_LPAE_S1')?.name).toBe('io-pgtable-arm');
    expect(k.modules.modprobe('symbol:nobody_exports_this')).toBe(-ENOENT);
  });

  it('an alias matching several modules loads each of them', () => {
    const k = mkKernel();
    k.modules.setImage({ builtin: [], modules: [mod('one', { aliases: ['platform:*'] }), mod('two', { aliases: ['platform:dw*'] }), mod('three', { aliases: ['usb:*'] })] });
    expect(k.modules.modprobe('platform:dwc3')).toBe(0);
    expect(k.modules.list().map((m) => m.name)).toEqual(['one', 'two']);
  });

  it('requestModule: 0 when a provider is live afterwards, -ENOENT when none, else the load errno', () => {
    const k = mkKernel();
    k.modules.setImage({
      builtin: [mod('io-pgtable', { aliases: ['io-pgtable-core-alias'] })],
      modules: [
        mod('io-pgtable-arm', { aliases: ['io-pgtable-fmt-ARM_64_LPAE_S1', 'io-pgtable-fmt-ARM_32_LPAE_S*'] }),
        mod('io-pgtable-arm-v7s', { aliases: ['io-pgtable-fmt-ARM_V7S'], init: () => -ENOMEM }),
        mod('needs-missing', { aliases: ['io-pgtable-fmt-APPLE_DART'], needs: ['dart_fn'] }),
      ],
    });
    expect(k.modules.requestModule('io-pgtable-fmt-ARM_32_LPAE_S2')).toBe(0);
    expect(k.modules.find('io-pgtable-arm')?.state).toBe('live');
    expect(k.modules.requestModule('io-pgtable-fmt-ARM_64_LPAE_S1')).toBe(0);

    const before = k.modules.snapshot();
    expect(k.modules.requestModule('io-pgtable-fmt-ARM_MALI_LPAE')).toBe(-ENOENT);
    expect(k.modules.requestModule('io-pgtable-fmt-ARM_V7S')).toBe(-ENOMEM);
    expect(k.modules.requestModule('io-pgtable-fmt-APPLE_DART')).toBe(-ENOENT);
    expect(k.modules.snapshot()).toEqual(before);
    // Built-ins (by name or alias) are always present.
    expect(k.modules.requestModule('io-pgtable')).toBe(0);
    expect(k.modules.requestModule('io-pgtable-core-alias')).toBe(0);
  });

  it('requestModule from inside an init loads the provider (nested modprobe)', () => {
    const k = mkKernel();
    let inner = 1;
    k.modules.setImage({
      builtin: [],
      modules: [
        mod('consumer', {
          init: () => {
            inner = k.modules.requestModule('fmt-X');
            return inner;
          },
        }),
        mod('provider', { aliases: ['fmt-*'] }),
      ],
    });
    expect(k.modules.modprobe('consumer')).toBe(0);
    expect(inner).toBe(0);
    expect(k.modules.list().map((m) => m.name)).toEqual(['consumer', 'provider']);
  });
});

describe('modprobe -r', () => {
  it('removes post-softdeps, the module, its now-unused dependencies, then pre-softdeps', () => {
    const k = mkKernel();
    const gone: string[] = [];
    const m = (name: string, extra: Partial<KernelModule> = {}) => mod(name, { exit: () => void gone.push(name), ...extra });
    k.modules.setImage({
      builtin: [],
      modules: [
        m('c', { needs: ['lib_fn', 'shared_fn'], softdep: { pre: ['a', 'b'], post: ['d', 'e'] } }),
        m('a'),
        m('b'),
        m('d'),
        m('e'),
        m('lib', { needs: ['base_fn'], exports: { lib_fn: { value: 1 } } }),
        m('base', { exports: { base_fn: { value: 2 } } }),
        m('shared', { exports: { shared_fn: { value: 3 } } }),
        m('other', { needs: ['shared_fn'] }),
      ],
    });
    expect(k.modules.modprobe('other')).toBe(0);
    expect(k.modules.modprobe('c')).toBe(0);
    expect(k.modules.modprobeRemove('c')).toBe(0);
    expect(gone).toEqual(['d', 'e', 'c', 'lib', 'base', 'a', 'b']);
    // 'shared' is still used by 'other', so it stays.
    expect(k.modules.list().map((x) => x.name)).toEqual(['shared', 'other']);
  });

  it('refuses like rmmod when the module is in use, built in or absent, changing nothing', () => {
    const k = mkKernel();
    k.modules.setImage({ builtin: [mod('bi')], modules: [mod('lib', { exports: { f: { value: 1 } }, aliases: ['lib-alias'] }), mod('user', { needs: ['f'], softdep: { post: ['x'] } }), mod('x')] });
    expect(k.modules.modprobe('user')).toBe(0);
    const before = k.modules.snapshot();
    expect(k.modules.modprobeRemove('lib-alias')).toBe(-EBUSY);
    expect(k.modules.modprobeRemove('bi')).toBe(-ENOENT);
    expect(k.modules.modprobeRemove('absent')).toBe(-ENOENT);
    const ref = k.modules.find('user')!;
    expect(k.modules.tryModuleGet(ref)).toBe(true);
    const held = k.modules.snapshot();
    expect(k.modules.modprobeRemove('user')).toBe(-EBUSY);
    expect(k.modules.snapshot()).toEqual(held);
    k.modules.modulePut(ref);
    expect(k.modules.snapshot()).toEqual(before);
    expect(dmesg(k)).toContain('modprobe: ERROR: Module lib is in use by: user');
  });
});

describe('depmod', () => {
  it('computes modules.dep (transitive, dependencies first), softdep, alias, symbols and builtin', () => {
    const k = mkKernel();
    k.modules.setImage({
      builtin: [mod('io-pgtable', { exports: { io_pgtable_ops_register: { value: 0 } } })],
      modules: [
        mod('panfrost', { needs: ['io_pgtable_ops_register', 'drm_fn'], softdep: { pre: ['io-pgtable-arm'] }, aliases: ['of:N*T*Carm,mali-bifrost'] }),
        mod('drm', { needs: ['shmem_fn'], exports: { drm_fn: { value: 1 } } }),
        mod('shmem', { exports: { shmem_fn: { value: 2 } } }),
        mod('io-pgtable-arm', { needs: ['io_pgtable_ops_register'], aliases: ['io-pgtable-fmt-ARM_64_LPAE_S1'] }),
      ],
    });
    expect(k.modules.depmod()).toEqual({
      dep: { panfrost: ['shmem', 'drm'], drm: ['shmem'], shmem: [], 'io-pgtable-arm': [] },
      softdep: { panfrost: { pre: ['io-pgtable-arm'], post: [] } },
      alias: [
        { pattern: 'of:N*T*Carm,mali-bifrost', module: 'panfrost' },
        { pattern: 'io-pgtable-fmt-ARM_64_LPAE_S1', module: 'io-pgtable-arm' },
      ],
      symbols: { drm_fn: 'drm', shmem_fn: 'shmem' },
      builtin: ['io-pgtable'],
      unresolved: {},
      cycles: [],
    });
  });
});
