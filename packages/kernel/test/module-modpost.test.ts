import { describe, expect, it } from 'vitest';
import { depmodImage, modpostImage } from '@gki/kernel';
import { mkKernel, mod } from './module-helpers.js';

describe('depmodImage (the pure depmod the loader and the composer share)', () => {
  it('agrees with the loader on an image, core exports included', () => {
    const image = {
      builtin: [mod('io-pgtable', { exports: { io_pgtable_ops_register: { value: 0 } } })],
      modules: [
        mod('panfrost', { needs: ['io_pgtable_ops_register', 'drm_fn', 'core_fn'], softdep: { pre: ['io-pgtable-arm'] } }),
        mod('drm', { needs: ['shmem_fn'], exports: { drm_fn: { value: 1 } } }),
        mod('shmem', { exports: { shmem_fn: { value: 2 } } }),
      ],
    };
    const k = mkKernel();
    k.modules.exportCore('core_fn', { value: 3 });
    k.modules.setImage(image);
    const pure = depmodImage({ ...image, coreExports: [['core_fn', { value: 3 }]] });
    expect(pure).toEqual(k.modules.depmod());
    expect(pure.dep.panfrost).toEqual(['shmem', 'drm']);
    // without the core export, core_fn is unresolved
    expect(depmodImage(image).unresolved).toEqual({ panfrost: ['core_fn'] });
  });
});

describe('modpostImage', () => {
  it('finds nothing wrong in a consistent image', () => {
    expect(
      modpostImage({
        builtin: [mod('core', { exports: { a: { value: 0, gplOnly: true, namespace: 'NS' } } })],
        modules: [mod('user', { needs: ['a'], importNamespaces: ['NS'] })],
      }),
    ).toEqual([]);
  });

  it('reports undefined, GPL-only, namespace, licence, duplicate and vmlinux-links-to-module problems in modpost wording', () => {
    const found = modpostImage({
      builtin: [
        mod('core', { exports: { gpl_sym: { value: 0, gplOnly: true }, ns_sym: { value: 0, namespace: 'IOMMUFD' } } }),
        mod('bi', { needs: ['mod_sym', 'nowhere_sym'] }),
      ],
      modules: [
        mod('prop', { license: 'Proprietary', needs: ['gpl_sym', 'ns_sym', 'missing_sym'] }),
        mod('exp', { exports: { mod_sym: { value: 1 } } }),
        mod('dup', { exports: { mod_sym: { value: 2 }, gpl_sym: { value: 3 } } }),
        mod('nolic', { license: '' }),
      ],
    });
    const msgs = found.map((f) => f.message);
    expect(msgs).toContain(`vmlinux: undefined reference to 'mod_sym' from built-in bi: only module exp exports it, and the kernel cannot link against a module`);
    expect(msgs).toContain(`vmlinux: undefined reference to 'nowhere_sym' from built-in bi`);
    expect(msgs).toContain(`GPL-incompatible module prop.ko uses GPL-only symbol 'gpl_sym'`);
    expect(msgs).toContain('module prop uses symbol ns_sym from namespace IOMMUFD, but does not import it.');
    expect(msgs).toContain('"missing_sym" [prop.ko] undefined!');
    expect(msgs).toContain(`dup.ko: 'mod_sym' exported twice. Previous export was in exp.ko`);
    expect(msgs).toContain(`dup.ko: 'gpl_sym' exported twice. Previous export was in vmlinux`);
    expect(msgs).toContain('missing MODULE_LICENSE() in nolic.o');
    expect(found.map((f) => f.kind).sort()).toEqual(
      ['builtin-needs-module', 'duplicate-export', 'duplicate-export', 'gpl-only', 'namespace', 'no-license', 'undefined', 'undefined'].sort(),
    );
  });
});
