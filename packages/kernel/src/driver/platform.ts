import type { KernelModule, ModuleContext, ModuleRef } from '../module/types.js';
import type { Driver } from './types.js';

/**
 * module_platform_driver: the `init` and `exit` of a module whose only job is one platform
 * driver. `init` builds the driver for the loading instance of the module (`makeDriver` gets
 * its context, so the driver can name `ctx.self` as the owner its files and domains pin) and
 * registers it, returning what registration returns; `exit` unregisters it. Each kernel that
 * loads the module gets its own registration.
 */
export function modulePlatformDriver(makeDriver: (ctx: ModuleContext) => Driver): Required<Pick<KernelModule, 'init' | 'exit'>> {
  const registered = new WeakMap<ModuleRef, Driver>();
  return {
    init(ctx: ModuleContext): number {
      const drv = makeDriver(ctx);
      const r = ctx.kernel.drivers.registerDriver(drv);
      if (r < 0) return r;
      registered.set(ctx.self, drv);
      return 0;
    },
    exit(ctx: ModuleContext): void {
      const drv = registered.get(ctx.self);
      if (drv) ctx.kernel.drivers.unregisterDriver(drv);
      registered.delete(ctx.self);
    },
  };
}

/**
 * MODULE_DEVICE_TABLE(of, table): the module aliases modpost writes for an OF match table, two
 * per compatible: one for a node whose compatible list ends with it (`of:N*T*C<compatible>`)
 * and one for a list that goes on (`of:N*T*C<compatible>C*`).
 */
export function ofModuleAliases(table: readonly { readonly compatible: string }[]): string[] {
  return table.flatMap((m) => [`of:N*T*C${m.compatible}`, `of:N*T*C${m.compatible}C*`]);
}
