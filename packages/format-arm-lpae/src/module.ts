import type { KernelModule, ModuleContext } from '@gki/kernel';
import {
  IO_PGTABLE_CAP_CUSTOM_ALLOCATOR,
  IO_PGTABLE_OPS_REGISTER,
  IO_PGTABLE_OPS_UNREGISTER,
  type IoPgtableInitFns,
  type IoPgtableOps,
  type IoPgtableOpsRegisterFn,
  type IoPgtableOpsUnregisterFn,
} from '@gki/io-pgtable-core';
import { KernelError, EINVAL } from '@gki/kernel';
import { ARM_LPAE_FORMATS, type ArmLpaeFmt } from './geometry.js';
import { ArmLpaeIoPgtable, LPAE_LOG, createArmLpaeOps } from './ops.js';
import { PACKAGE_VERSION } from './version.js';

/** The package version, shown in the image manifest (generated from package.json at build time). */
export const IO_PGTABLE_ARM_VERSION: string = PACKAGE_VERSION;

/** The init fns the module registers for one format, allocating from `ctx.kernel`. */
export function armLpaeInitFns(ctx: ModuleContext, fmt: ArmLpaeFmt): IoPgtableInitFns {
  return {
    alloc: (cfg, cookie) => createArmLpaeOps(ctx.kernel, fmt, cfg, cookie),
    free: (ops: IoPgtableOps) => {
      if (!(ops instanceof ArmLpaeIoPgtable) || ops.fmt !== fmt)
        throw new KernelError(-EINVAL, `${LPAE_LOG}: free of ops that are not an ${fmt} table`);
      ops.free();
    },
    caps: IO_PGTABLE_CAP_CUSTOM_ALLOCATOR,
    owner: ctx.self,
  };
}

/**
 * Module io-pgtable-arm: registers the five LPAE formats with io-pgtable-core when it loads and
 * unregisters them when it goes. Built in, it runs at the 'core' initcall level.
 */
export const ioPgtableArmModule: KernelModule = {
  name: 'io-pgtable-arm',
  version: IO_PGTABLE_ARM_VERSION,
  license: 'GPL v2',
  description: 'ARM LPAE io-pgtable formats (ARM_{32,64}_LPAE_S{1,2}, ARM_MALI_LPAE)',
  needs: [IO_PGTABLE_OPS_REGISTER, IO_PGTABLE_OPS_UNREGISTER],
  aliases: ARM_LPAE_FORMATS.map((f) => `io-pgtable-fmt-${f}`),
  initcall: 'core',
  init(ctx: ModuleContext): number {
    const register = ctx.symbol<IoPgtableOpsRegisterFn>(IO_PGTABLE_OPS_REGISTER);
    const unregister = ctx.symbol<IoPgtableOpsUnregisterFn>(IO_PGTABLE_OPS_UNREGISTER);
    const done: ArmLpaeFmt[] = [];
    for (const fmt of ARM_LPAE_FORMATS) {
      const err = register(fmt, armLpaeInitFns(ctx, fmt));
      if (err < 0) {
        ctx.kernel.log.err(LPAE_LOG, `failed to register format ${fmt}: ${err}`);
        for (const f of done.reverse()) unregister(f);
        return err;
      }
      done.push(fmt);
    }
    return 0;
  },
  exit(ctx: ModuleContext): void {
    const unregister = ctx.symbol<IoPgtableOpsUnregisterFn>(IO_PGTABLE_OPS_UNREGISTER);
    for (const fmt of ARM_LPAE_FORMATS) unregister(fmt);
  },
};
