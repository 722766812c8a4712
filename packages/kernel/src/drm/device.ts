import { EINVAL, ENODEV } from '../errno.js';
import type { Device } from '../driver/device.js';
import type { Kernel } from '../kernel.js';
import type { ModuleRef } from '../module/types.js';
import { DRM_MINOR_PRIMARY, DRM_MINOR_RENDER, DrmMinorTable, type DrmMinor, type DrmMinorType } from './minor.js';
import { DRM_FILE_PAGE_OFFSET_SIZE, DRM_FILE_PAGE_OFFSET_START, DrmVmaOffsetManager } from './vma-manager.js';

/** enum drm_driver_feature bits (the ones the model's drivers state). */
export const DRIVER_GEM = 1 << 0;
export const DRIVER_MODESET = 1 << 1;
export const DRIVER_RENDER = 1 << 3;
export const DRIVER_ATOMIC = 1 << 4;
export const DRIVER_SYNCOBJ = 1 << 5;

/** What a DRM driver tells the core about itself (the identity part of struct drm_driver). */
export interface DrmDriver {
  /** DRM driver name ("panfrost", "msm"): what DRM_IOCTL_VERSION reports. */
  readonly name: string;
  readonly desc: string;
  readonly date: string;
  readonly major: number;
  readonly minor: number;
  readonly patchlevel: number;
  /** DRIVER_* bits; DRIVER_RENDER gives the device a render node. */
  readonly driverFeatures: number;
}

/**
 * A DRM device (struct drm_device) as the core keeps it for a driver: the parent device it was
 * made for, the driver's identity, the module that owns the driver (each open file pins it,
 * as the DRM file operations' owner does), its minors, its open files and its life cycle.
 *
 * - `register()` (drm_dev_register) takes its minors, a render node first when the driver has
 *   DRIVER_RENDER, then the primary node, and publishes them; the model's probes run one at a
 *   time, so taking the numbers here rather than in drm_dev_alloc gives the same numbers, and a
 *   probe that fails before registering holds none.
 * - `unplug()` (drm_dev_unplug) makes the nodes unopenable and entry points fail; open files
 *   stay until closed.
 * - the numbers stay taken until the last reference goes: the driver's own (dropped with
 *   `put()` when it lets go of the device) and one per open file (dropped by `release()`).
 *
 * `F` is the driver's file type (struct drm_file plus its driver_priv); `priv` is the driver's
 * own device object (dev_private).
 */
export class DrmDevice<F extends object = object> {
  readonly kernel: Kernel;
  primary: DrmMinor | null = null;
  render: DrmMinor | null = null;
  private registered = false;
  private unplugged = false;
  private released = false;
  private refs = 1;
  private readonly openFiles = new Set<F>();
  /**
   * The device's mmap offset manager (dev->vma_offset_manager): made by drm_gem_init when the
   * driver has DRIVER_GEM, over DRM_FILE_PAGE_OFFSET_START/SIZE; null otherwise. Destroyed
   * (drm_vma_offset_manager_destroy, which WARNs when offsets are left) with the last reference.
   */
  readonly vmaOffsetManager: DrmVmaOffsetManager | null;

  constructor(
    /** The device the driver bound (drm->dev): the prefix of the core's log lines. */
    readonly dev: Device,
    readonly driver: DrmDriver,
    /** The module owning the driver: each open file holds a reference on it. */
    readonly owner: ModuleRef | null,
    /** The driver's own device object. */
    readonly priv: unknown,
  ) {
    this.kernel = dev.core.kernel;
    this.vmaOffsetManager = driver.driverFeatures & DRIVER_GEM ? new DrmVmaOffsetManager(DRM_FILE_PAGE_OFFSET_START, DRM_FILE_PAGE_OFFSET_SIZE) : null;
  }

  /** Published and not unplugged: its nodes can be opened. */
  get isRegistered(): boolean {
    return this.registered;
  }

  get isUnplugged(): boolean {
    return this.unplugged;
  }

  /** The open files (drm_device's filelist). */
  get files(): ReadonlySet<F> {
    return this.openFiles;
  }

  /** The number the core logs as "on minor N": the primary node's, -1 while not registered. */
  get index(): number {
    if (!this.registered) return -1;
    return (this.primary ?? this.render)?.index ?? -1;
  }

  /** The render node's name ("renderD128"), '' when the device has none. */
  get renderNode(): string {
    return this.render?.name ?? '';
  }

  /**
   * drm_dev_register: takes the device's minors and publishes them, then logs the kernel's
   * "Initialized" line. -EINVAL when already registered or unplugged, -EBUSY when no minor
   * number is left (nothing kept then).
   */
  register(): number {
    if (this.registered || this.unplugged || this.released) return -EINVAL;
    const table = this.kernel.drm.minors;
    const taken: DrmMinor[] = [];
    const take = (type: DrmMinorType): number => {
      const m = table.alloc(this, type);
      if (typeof m === 'number') return m;
      taken.push(m);
      if (type === DRM_MINOR_RENDER) this.render = m;
      else this.primary = m;
      return 0;
    };
    let r = 0;
    if (this.driver.driverFeatures & DRIVER_RENDER) r = take(DRM_MINOR_RENDER);
    if (r === 0) r = take(DRM_MINOR_PRIMARY);
    if (r < 0) {
      for (const m of taken) table.free(m);
      this.primary = null;
      this.render = null;
      return r;
    }
    for (const m of taken) m.registered = true;
    this.registered = true;
    this.kernel.drm.attach(this);
    const d = this.driver;
    this.dev.info(`[drm] Initialized ${d.name} ${d.major}.${d.minor}.${d.patchlevel} ${d.date} for ${this.dev.name} on minor ${this.index}`);
    return 0;
  }

  /** drm_dev_unregister: the nodes can no longer be opened; open files keep working. */
  unregister(): void {
    if (!this.registered) return;
    this.registered = false;
    if (this.primary) this.primary.registered = false;
    if (this.render) this.render.registered = false;
    this.kernel.drm.detach(this);
  }

  /** drm_dev_unplug: unregistered, and marked gone for every entry point (drm_dev_enter fails). */
  unplug(): void {
    this.unplugged = true;
    this.unregister();
  }

  /** drm_dev_get. */
  get(): void {
    this.refs++;
  }

  /**
   * drm_dev_put: the last reference frees the minor numbers for reuse and runs the managed
   * release actions: drm_gem_init's destroys the offset manager (drm_mm_takedown's WARN,
   * "Memory manager not clean during takedown.", when an object still has an offset).
   */
  put(): void {
    if (this.released || --this.refs > 0) return;
    this.released = true;
    this.unregister();
    this.vmaOffsetManager?.destroy(this.kernel.log);
    const table = this.kernel.drm.minors;
    if (this.primary) table.free(this.primary);
    if (this.render) table.free(this.render);
  }

  /**
   * Opening a node of the device (drm_open): -ENODEV when it is not registered (or unplugged)
   * or its module is going away; otherwise `create` (the driver's open) makes the file, and on
   * success the file holds a reference on the module and on the device. A failing `create`
   * returns its error with nothing kept.
   */
  open(create: () => F | number): F | number {
    if (!this.registered || this.unplugged) return -ENODEV;
    if (!this.kernel.modules.tryModuleGet(this.owner)) return -ENODEV;
    const file = create();
    if (typeof file === 'number') {
      this.kernel.modules.modulePut(this.owner);
      return file;
    }
    this.openFiles.add(file);
    this.get();
    return file;
  }

  /** drm_release's end: the file leaves the device, dropping its module and device references. */
  release(file: F): void {
    if (!this.openFiles.delete(file)) return;
    this.kernel.modules.modulePut(this.owner);
    this.put();
  }
}

/**
 * The kernel's DRM core (built in): the minor numbers of every DRM device and the devices whose
 * nodes are published, in minor order.
 */
export class DrmCore {
  readonly minors = new DrmMinorTable();
  private readonly list: DrmDevice[] = [];

  constructor(readonly kernel: Kernel) {}

  /** Registered DRM devices, in the order of their numbers (card0, card1, ...). */
  devices(): readonly DrmDevice[] {
    return this.list;
  }

  /**
   * drm_minor_acquire: the minor numbered `index` if it can be opened now (registered, its
   * device not unplugged), else undefined (the open would be -ENODEV).
   */
  minor(index: number): DrmMinor | undefined {
    const m = this.minors.get(index);
    return m && m.registered && !m.dev.isUnplugged ? m : undefined;
  }

  /** The nodes under /dev/dri that can be opened, in number order. */
  nodes(): DrmMinor[] {
    return this.minors.all().filter((m) => m.registered);
  }

  /** @internal drm_dev_register's end. */
  attach(dev: DrmDevice): void {
    if (this.list.includes(dev)) return;
    this.list.push(dev);
    this.list.sort((a, b) => a.index - b.index);
  }

  /** @internal drm_dev_unregister. */
  detach(dev: DrmDevice): void {
    const i = this.list.indexOf(dev);
    if (i >= 0) this.list.splice(i, 1);
  }
}
