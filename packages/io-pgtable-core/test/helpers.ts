import { Board } from '@gki/hw';
import { Kernel, type KernelImage, type KernelModule, type ModuleContext } from '@gki/kernel';
import {
  IO_PGTABLE_CAP_CUSTOM_ALLOCATOR,
  IO_PGTABLE_OPS_REGISTER,
  IO_PGTABLE_OPS_UNREGISTER,
  ioPgtableCoreModule,
  type IoPgtableCfg,
  type IoPgtableFmt,
  type IoPgtableOps,
  type IoPgtableOpsRegisterFn,
  type IoPgtableOpsUnregisterFn,
} from '../src/index.js';

/** Boots `image` on a small board (16 MiB of RAM) with the real Kernel.boot. */
export function bootImage(image: KernelImage): Kernel {
  return Kernel.boot(new Board('iopgt-test', [{ base: 0x4000_0000, size: 16 << 20 }]), image);
}

export function imageWith(modules: KernelModule[], load: string[] = []): KernelImage {
  return { builtin: [ioPgtableCoreModule], modules, load };
}

export interface FakeFormatOptions {
  name?: string;
  formats?: IoPgtableFmt[];
  /** init returns this errno after registering (and unregisters first, as a module must). */
  initError?: number;
  /** Extra symbols in `needs` (e.g. one nobody exports). */
  extraNeeds?: string[];
  /** Do not register anything in init. */
  registerNothing?: boolean;
  caps?: number;
  /** Called at the start of exit (before unregistering). */
  onExit?(ctx: ModuleContext): void;
}

/** What a fake table remembers; one page-allocator page stands for its top-level table. */
export interface FakeTable extends IoPgtableOps {
  readonly pgd: number;
  readonly cfg: IoPgtableCfg;
}

/**
 * A minimal format module: registers init fns for `formats`; alloc takes one page from the page
 * allocator (so leaks show), halves ias (to show the core keeps the format-modified cfg), rejects
 * ias 0 (returns null); free returns the page.
 */
export function fakeFormatModule(o: FakeFormatOptions = {}): KernelModule {
  const formats = o.formats ?? ['ARM_64_LPAE_S1'];
  const name = o.name ?? 'fake-pgtable';
  return {
    name,
    version: '0.0.1',
    license: 'GPL v2',
    needs: [IO_PGTABLE_OPS_REGISTER, IO_PGTABLE_OPS_UNREGISTER, ...(o.extraNeeds ?? [])],
    aliases: formats.map((f) => `io-pgtable-fmt-${f}`),
    init(ctx) {
      if (o.registerNothing) return 0;
      const reg = ctx.symbol<IoPgtableOpsRegisterFn>(IO_PGTABLE_OPS_REGISTER);
      const unreg = ctx.symbol<IoPgtableOpsUnregisterFn>(IO_PGTABLE_OPS_UNREGISTER);
      const done: IoPgtableFmt[] = [];
      for (const fmt of formats) {
        const ret = reg(fmt, {
          caps: o.caps ?? IO_PGTABLE_CAP_CUSTOM_ALLOCATOR,
          owner: ctx.self,
          alloc(cfg) {
            if (cfg.ias === 0) return null;
            const pgd = ctx.kernel.pages.allocPages(0);
            if (pgd < 0) return null;
            cfg.ias = Math.floor(cfg.ias / 2);
            const t: FakeTable = {
              pgd,
              cfg,
              mapPages: () => 0,
              unmapPages: () => 0,
              iovaToPhys: () => 0,
            };
            return t;
          },
          free(ops) {
            ctx.kernel.pages.freePages((ops as FakeTable).pgd, 0);
          },
        });
        if (ret < 0) {
          for (const d of done) unreg(d);
          return ret;
        }
        done.push(fmt);
      }
      if (o.initError) {
        for (const d of done) unreg(d);
        return o.initError;
      }
      return 0;
    },
    exit(ctx) {
      o.onExit?.(ctx);
      const unreg = ctx.symbol<IoPgtableOpsUnregisterFn>(IO_PGTABLE_OPS_UNREGISTER);
      for (const fmt of formats) unreg(fmt);
    },
  };
}

export function baseCfg(over: Partial<IoPgtableCfg> = {}): IoPgtableCfg {
  return { quirks: 0, pgsizeBitmap: 0x40201000, ias: 48, oas: 48, coherentWalk: true, ...over };
}

/** Loader and page-allocator state, to compare before/after a rejected call. */
export function stateOf(k: Kernel): unknown {
  return { loader: k.modules.snapshot(), pages: k.pages.snapshot(), inUse: k.pages.stats().pagesInUse };
}
