import type { KernelModule, ModuleContext, ModuleRef } from '@gki/kernel';
import {
  IO_PGTABLE_OPS_REGISTER,
  IO_PGTABLE_OPS_UNREGISTER,
  type IoPgtableInitFns,
  type IoPgtableOps,
  type IoPgtableOpsRegisterFn,
  type IoPgtableOpsUnregisterFn,
} from '@gki/io-pgtable-core';
import { KernelError, EINVAL } from '@gki/kernel';
import { ArmV7sIoPgtable, createArmV7sOps, type V7sKernel } from './engine.js';
import { PACKAGE_VERSION } from './version.js';

/**
 * The init functions this format registers for 'ARM_V7S'. No caps: v7s does not support a
 * driver-provided table allocator, so the core refuses cfg.allocator for it.
 */
export function armV7sInitFns(kernel: V7sKernel, owner: ModuleRef | null = null): IoPgtableInitFns {
  return {
    alloc: (cfg, cookie) => createArmV7sOps(kernel, cfg, cookie),
    free: (ops: IoPgtableOps) => {
      if (!(ops instanceof ArmV7sIoPgtable))
        throw new KernelError(-EINVAL, 'io-pgtable-arm-v7s: asked to free ops it did not allocate');
      ops.free();
    },
    caps: 0,
    owner,
  };
}

/** module io-pgtable-arm-v7s: registers the ARM_V7S format with the io-pgtable core. */
const armV7sModule: KernelModule = {
  name: 'io-pgtable-arm-v7s',
  version: PACKAGE_VERSION,
  license: 'GPL v2',
  description: 'ARMv7 short-descriptor (v7s) io-pgtable format',
  needs: [IO_PGTABLE_OPS_REGISTER, IO_PGTABLE_OPS_UNREGISTER],
  aliases: ['io-pgtable-fmt-ARM_V7S'],
  initcall: 'core',
  init(ctx: ModuleContext): number {
    const register = ctx.symbol<IoPgtableOpsRegisterFn>(IO_PGTABLE_OPS_REGISTER);
    return register('ARM_V7S', armV7sInitFns(ctx.kernel, ctx.self));
  },
  exit(ctx: ModuleContext): void {
    ctx.symbol<IoPgtableOpsUnregisterFn>(IO_PGTABLE_OPS_UNREGISTER)('ARM_V7S');
  },
};

export default armV7sModule;
