import type { Board } from '@gki/hw';
import { DriverCore } from './driver/core.js';
import { DrmCore } from './drm/device.js';
import { IommuCore } from './iommu/core.js';
import { KernelLog, type LogRecord } from './log.js';
import { exportKernelSymbols } from './module/kmi.js';
import { ModuleLoader } from './module/loader.js';
import { kernelArch, type InitcallLevel, type KernelArch, type KernelImage } from './module/types.js';
import { OfLayer } from './of/of.js';
import { MAX_MANAGED_BYTES, PageAllocator } from './page-alloc.js';
import { PciCore } from './pci/host.js';
import { qcomScmRegisterDriver } from './firmware/qcom-scm.js';

export { KERNEL_COSTS } from './costs.js';

/** Initcall levels in the order the kernel runs them. */
export const INITCALL_LEVELS: readonly InitcallLevel[] = [
  'pure', 'core', 'postcore', 'arch', 'subsys', 'fs', 'device', 'late',
];

/** One step of `Kernel.boot`, reported to `KernelBootOptions.onStep` as it completes. */
export type KernelBootStep =
  | { readonly kind: 'initcalls'; readonly level: InitcallLevel }
  | { readonly kind: 'populate'; readonly devices: number }
  | { readonly kind: 'modprobe'; readonly module: string; readonly index: number; readonly count: number; readonly err: number }
  | { readonly kind: 'deferred-probe' };

/** Observers of a boot in progress (for a tool that shows progress while it boots). */
export interface KernelBootOptions {
  /** Called after each step, with the kernel as it is at that point. */
  readonly onStep?: (step: KernelBootStep, kernel: Kernel) => void;
  /** Called for every log record as it is logged, from the first one. */
  readonly onLog?: (record: LogRecord) => void;
}

/** The running kernel: every subsystem a module reaches through `ctx.kernel`. */
export class Kernel {
  readonly log: KernelLog;
  readonly pages: PageAllocator;
  readonly modules: ModuleLoader;
  readonly drivers: DriverCore;
  readonly of: OfLayer;
  readonly iommu: IommuCore;
  /** The DRM core: minor numbers and registered DRM devices. */
  readonly drm: DrmCore;
  /** The PCI core: host bridges and the functions enumerated below them. */
  readonly pci: PciCore;
  /** The build architecture (KernelImage.arch; 'arm64' unless the image says otherwise). */
  arch: KernelArch = kernelArch('arm64');

  constructor(readonly board: Board) {
    this.log = new KernelLog(board.clock);
    // the page allocator gets RAM minus the firmware's reservations (no-map, /memreserve/, ...)
    this.pages = new PageAllocator(board.mem, board.usableRam());
    if (this.pages.unmanagedBytes > 0)
      this.log.warn('memory', `${this.pages.unmanagedBytes / 2 ** 20} MiB of RAM beyond the model's ${MAX_MANAGED_BYTES / 2 ** 30} GiB limit left unused`);
    this.modules = new ModuleLoader(this);
    // vmlinux's export table exists from the first instruction: modules' needs resolve against it
    exportKernelSymbols(this.modules);
    this.drivers = new DriverCore(this);
    this.of = new OfLayer(this);
    this.iommu = new IommuCore(this);
    this.drm = new DrmCore(this);
    this.pci = new PciCore(this);
  }

  /**
   * The memory layout at boot, as early boot reports it: the board's notes (a RAM size it had
   * to choose, where dynamic reservations went), each reserved region, and the page count.
   */
  private logMemoryMap(): void {
    const hex = (n: number): string => '0x' + n.toString(16).padStart(9, '0');
    for (const n of this.board.notes) {
      if (n.level === 'warn') this.log.warn(n.source, n.message);
      else this.log.info(n.source, n.message);
    }
    for (const r of this.board.reservedMemory) {
      const flags = [r.noMap ? 'no-map' : '', r.reusable ? 'reusable' : '', r.dynamic ? 'dynamic' : ''].filter(Boolean).join(' ');
      this.log.info('OF', `reserved mem: ${hex(r.address)}..${hex(r.address + r.size - 1)} (${Math.ceil(r.size / 1024)} KiB) ${flags || 'map'} ${r.name}`);
    }
    const total = this.board.mem.regions.reduce((n, r) => n + r.size, 0);
    const usable = this.pages.stats().totalPages * 4096;
    this.log.info('kernel', `Memory: ${usable / 1024}K/${total / 1024}K available (${(total - usable) / 1024}K reserved)`);
  }

  /** RAM as the kernel sees it (the linear map): page tables are read and written here. */
  get mem() {
    return this.board.mem;
  }

  /**
   * Boots `image` on `board`: built-in initcalls level by level (devices are populated from the
   * DTB after the arch level, as arm64 does), then the image's modules are modprobed in order,
   * then late deferred-probe handling runs (retry, then the timeout fails what still waits).
   * `opts` observes the boot as it goes (steps and log records); it changes nothing.
   */
  static boot(board: Board, image: KernelImage, opts: KernelBootOptions = {}): Kernel {
    const k = new Kernel(board);
    if (opts.onLog) k.log.subscribe(opts.onLog);
    const step = (s: KernelBootStep): void => opts.onStep?.(s, k);
    k.arch = kernelArch(image.arch ?? 'arm64');
    k.log.info('kernel', `Booting GKI model on board '${board.name}' (${k.arch.name})`);
    k.logMemoryMap();
    k.modules.setImage(image);
    for (const level of INITCALL_LEVELS) {
      k.modules.runBuiltinInitcalls(level);
      // qcom_scm is built into vmlinux (a subsys initcall): the firmware interface drivers call
      if (level === 'subsys') qcomScmRegisterDriver(k);
      // pci-host-generic is builtin_platform_driver: a device initcall of vmlinux
      if (level === 'device') k.pci.registerHostDriver();
      step({ kind: 'initcalls', level });
      if (level === 'arch') {
        k.of.populate();
        step({ kind: 'populate', devices: k.drivers.allDevices().length });
      }
    }
    const load = image.load ?? [];
    load.forEach((name, index) => {
      const err = k.modules.modprobe(name);
      if (err < 0) k.log.err('kernel', `modprobe ${name} failed: ${err}`);
      step({ kind: 'modprobe', module: name, index, count: load.length, err });
    });
    k.drivers.deferredProbeInitcall();
    step({ kind: 'deferred-probe' });
    return k;
  }
}
