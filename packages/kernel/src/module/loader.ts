import type { Kernel } from '../kernel.js';
import type { InitcallLevel, KernelImage, ModuleLoaderApi, ModuleRef } from './types.js';

/**
 * The module loader: symbol table, load/unload, refcounts, modprobe, request_module,
 * built-in initcalls. (Skeleton: filled in by the module-loader work.)
 */
export class ModuleLoader implements ModuleLoaderApi {
  constructor(readonly kernel: Kernel) {}

  /** Makes `image`'s built-ins and loadable modules known (before boot runs initcalls). */
  setImage(_image: KernelImage): void {
    throw new Error('ModuleLoader.setImage: not implemented yet');
  }
  /** Runs the init of every built-in module at `level`, in image order. */
  runBuiltinInitcalls(_level: InitcallLevel): void {
    throw new Error('ModuleLoader.runBuiltinInitcalls: not implemented yet');
  }
  /** modprobe NAME|ALIAS: 0 or -errno. */
  modprobe(_nameOrAlias: string): number {
    throw new Error('ModuleLoader.modprobe: not implemented yet');
  }
  tryModuleGet(_mod: ModuleRef | null | undefined): boolean {
    throw new Error('ModuleLoader.tryModuleGet: not implemented yet');
  }
  modulePut(_mod: ModuleRef | null | undefined): void {
    throw new Error('ModuleLoader.modulePut: not implemented yet');
  }
  requestModule(_alias: string): number {
    throw new Error('ModuleLoader.requestModule: not implemented yet');
  }
  find(_name: string): ModuleRef | undefined {
    throw new Error('ModuleLoader.find: not implemented yet');
  }
}
