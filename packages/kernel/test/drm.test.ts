/**
 * The DRM core: minor numbers as Linux hands them out (primary 0-63, render 128-191, then the
 * shared range from 192; lowest free first; a number held until its device's last reference
 * goes), DRM device registration and open/release with their module and device references,
 * the per-file handle table (idr from 1, lowest free, unknown handle -EINVAL), the timeout and
 * poll helpers over the board clock, and the module_platform_driver boilerplate.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Board, buildFdt, node, prop } from '@gki/hw';
import {
  DRIVER_GEM,
  DRIVER_RENDER,
  DRIVER_SYNCOBJ,
  DRM_MINOR_PRIMARY,
  DRM_MINOR_RENDER,
  DrmDevice,
  DrmHandleTable,
  DrmMinorTable,
  EBUSY,
  ECANCELED,
  EINVAL,
  ENODEV,
  ENOMEM,
  ETIMEDOUT,
  Kernel,
  NSEC_PER_MSEC,
  delayNs,
  DRM_FILE_PAGE_OFFSET_SIZE,
  DRM_FILE_PAGE_OFFSET_START,
  DrmVmaOffsetNode,
  EACCES,
  ENOSPC,
  drmGemCreateMmapOffset,
  drmGemCreateMmapOffsetSize,
  drmGemFreeMmapOffset,
  drmGemHandleCreate,
  drmGemHandleDelete,
  drmGemMmap,
  drmGemObjectRelease,
  drmVmaNodeIsAllowed,
  drmVmaNodeOffsetAddr,
  drmGemAllocBlocks,
  drmGemBlocksToRuns,
  drmGemFreeBlocks,
  drmGemRunsFill32,
  drmGemRunsPhys,
  drmGemRunsRead,
  drmGemRunsWrite,
  drmTimeoutAbsDeadline,
  drmTimeoutAbsToNs,
  errnoName,
  ktimeGetNs,
  modulePlatformDriver,
  ofModuleAliases,
  readxPollTimeout,
  WorkQueue,
  type Device,
  type DrmDriver,
  type KernelModule,
  type ModuleRef,
} from '@gki/kernel';

const TEST_DRM: DrmDriver = { name: 'testgpu', desc: 'Test GPU', date: '20240101', major: 1, minor: 3, patchlevel: 0, driverFeatures: DRIVER_GEM | DRIVER_RENDER | DRIVER_SYNCOBJ };
const TEST_KMS: DrmDriver = { name: 'testkms', desc: 'Test display', date: '20240102', major: 2, minor: 0, patchlevel: 1, driverFeatures: DRIVER_GEM };

class TestFile {
  constructor(readonly gpu: TestGpu) {}
}

/** A driver's device object owning a DRM device, as the GPU drivers have it. */
class TestGpu {
  readonly ddev: DrmDevice<TestFile>;
  constructor(dev: Device, drv: DrmDriver, owner: ModuleRef | null) {
    this.ddev = new DrmDevice<TestFile>(dev, drv, owner, this);
  }
  open(fail = 0): TestFile | number {
    return this.ddev.open(() => (fail < 0 ? fail : new TestFile(this)));
  }
  close(f: TestFile): void {
    this.ddev.release(f);
  }
}

/** A module with one platform driver for `compatible` that registers a DRM device per device. */
function gpuModule(name: string, compatible: string, drv: DrmDriver): KernelModule {
  return {
    name,
    version: '1.0.0',
    license: 'GPL v2',
    aliases: ofModuleAliases([{ compatible }]),
    ...modulePlatformDriver((ctx) => ({
      name,
      ofMatchTable: [{ compatible }],
      probe(dev: Device): number {
        if (dev.ofNode?.hasProperty('test,fail-probe')) return -ENOMEM;
        const gpu = new TestGpu(dev, drv, ctx.self);
        const r = gpu.ddev.register();
        if (r < 0) return r;
        dev.setDrvdata(gpu);
        return 0;
      },
      remove(dev: Device): void {
        const gpu = dev.getDrvdata<TestGpu>();
        gpu.ddev.unplug();
        gpu.ddev.put();
      },
    })),
  };
}

/** A kernel with GPU nodes at 0xa000000 + i * 0x1000 (compatible per entry) populated. */
function boot(gpus: { compatible: string; failProbe?: boolean }[]): Kernel {
  const k = new Kernel(new Board('drm-test', [{ base: 0x4000_0000, size: 16 << 20 }]));
  const root = node('', [prop.u32('#address-cells', 1), prop.u32('#size-cells', 1), prop.string('compatible', 'gki,test')], [
    node(
      'soc',
      [prop.string('compatible', 'simple-bus'), prop.u32('#address-cells', 1), prop.u32('#size-cells', 1), prop.empty('ranges')],
      gpus.map((g, i) =>
        node(`gpu@${(0xa00_0000 + i * 0x1000).toString(16)}`, [
          prop.string('compatible', g.compatible),
          prop.cells('reg', 0xa00_0000 + i * 0x1000, 0x1000),
          ...(g.failProbe ? [prop.empty('test,fail-probe')] : []),
        ]),
      ),
    ),
  ]);
  k.of.loadTree(buildFdt({ root }));
  k.of.populate();
  return k;
}

function gpuAt(k: Kernel, i: number): TestGpu {
  return k.drivers.findDevice(`${(0xa00_0000 + i * 0x1000).toString(16)}.gpu`)!.getDrvdata<TestGpu>();
}

describe('DRM minors', () => {
  it('numbers devices in probe order: card0/renderD128, card1/renderD129, with the Initialized line', () => {
    const k = boot([{ compatible: 'test,gpu' }, { compatible: 'test,gpu' }]);
    expect(k.modules.load(gpuModule('testgpu', 'test,gpu', TEST_DRM))).toBe(0);
    const [a, b] = [gpuAt(k, 0), gpuAt(k, 1)];
    expect([a.ddev.primary?.name, a.ddev.renderNode, a.ddev.index]).toEqual(['card0', 'renderD128', 0]);
    expect([b.ddev.primary?.name, b.ddev.renderNode, b.ddev.index]).toEqual(['card1', 'renderD129', 1]);
    expect(k.drm.nodes().map((m) => m.name)).toEqual(['card0', 'card1', 'renderD128', 'renderD129']);
    expect(k.drm.devices()).toEqual([a.ddev, b.ddev]);
    expect(k.log.grep('testgpu a000000.gpu: [drm] Initialized testgpu 1.3.0 20240101 for a000000.gpu on minor 0')).toHaveLength(1);
    expect(k.log.grep('testgpu a001000.gpu: [drm] Initialized testgpu 1.3.0 20240101 for a001000.gpu on minor 1')).toHaveLength(1);
    expect(k.drm.minor(129)?.dev).toBe(b.ddev);
    expect(k.drm.minor(1)?.type).toBe(DRM_MINOR_PRIMARY);
    expect(k.drm.minor(129)?.type).toBe(DRM_MINOR_RENDER);
    expect(k.drm.minor(130)).toBeUndefined();
  });

  it('shares one numbering between drivers; a driver without DRIVER_RENDER gets a card node only', () => {
    const k = boot([{ compatible: 'test,gpu' }, { compatible: 'test,kms' }, { compatible: 'test,gpu' }]);
    expect(k.modules.load(gpuModule('testkms', 'test,kms', TEST_KMS))).toBe(0);
    expect(k.modules.load(gpuModule('testgpu', 'test,gpu', TEST_DRM))).toBe(0);
    const kms = gpuAt(k, 1);
    expect([kms.ddev.primary?.name, kms.ddev.render, kms.ddev.renderNode]).toEqual(['card0', null, '']);
    expect([gpuAt(k, 0).ddev.primary?.name, gpuAt(k, 0).ddev.renderNode]).toEqual(['card1', 'renderD128']);
    expect([gpuAt(k, 2).ddev.primary?.name, gpuAt(k, 2).ddev.renderNode]).toEqual(['card2', 'renderD129']);
    expect(k.drm.devices().map((d) => d.driver.name)).toEqual(['testkms', 'testgpu', 'testgpu']);
  });

  it('a failed probe holds no number; an unbound device frees its numbers and the lowest free is reused', () => {
    const k = boot([{ compatible: 'test,gpu', failProbe: true }, { compatible: 'test,gpu' }, { compatible: 'test,gpu' }]);
    expect(k.modules.load(gpuModule('testgpu', 'test,gpu', TEST_DRM))).toBe(0);
    expect(gpuAt(k, 1).ddev.renderNode).toBe('renderD128');
    expect(gpuAt(k, 2).ddev.renderNode).toBe('renderD129');
    const first = k.drivers.findDevice('a001000.gpu')!;
    const gone = gpuAt(k, 1).ddev;
    expect(k.drivers.unbindDevice(first)).toBe(0);
    expect(gone.isRegistered).toBe(false);
    expect(gone.index).toBe(-1);
    expect(k.drm.minors.all().map((m) => m.name)).toEqual(['card1', 'renderD129']);
    expect(k.drm.devices().map((d) => d.renderNode)).toEqual(['renderD129']);
    expect(k.drivers.bindDevice(first, 'testgpu')).toBe(0);
    expect([gpuAt(k, 1).ddev.primary?.name, gpuAt(k, 1).ddev.renderNode]).toEqual(['card0', 'renderD128']);
    expect(k.drm.devices().map((d) => d.renderNode)).toEqual(['renderD128', 'renderD129']);
  });

  it('an open file keeps its device and numbers alive after unbind; the numbers go with the last close', () => {
    const k = boot([{ compatible: 'test,gpu' }, { compatible: 'test,gpu' }]);
    expect(k.modules.load(gpuModule('testgpu', 'test,gpu', TEST_DRM))).toBe(0);
    const owner = k.modules.find('testgpu')!;
    const gpu = gpuAt(k, 0);
    const f = gpu.open();
    if (typeof f === 'number') throw new Error(`open: ${f}`);
    expect(gpu.ddev.files.has(f)).toBe(true);
    expect(owner.refcount).toBe(1);
    const dev = k.drivers.findDevice('a000000.gpu')!;
    expect(k.drivers.unbindDevice(dev)).toBe(0);
    // unregistered: the node cannot be opened, but the number is still held by the open file
    expect(gpu.open()).toBe(-ENODEV);
    expect(k.drm.minor(128)).toBeUndefined();
    expect(k.drm.minors.get(128)?.dev).toBe(gpu.ddev);
    expect(k.drivers.bindDevice(dev, 'testgpu')).toBe(0);
    expect([gpuAt(k, 0).ddev.primary?.name, gpuAt(k, 0).ddev.renderNode]).toEqual(['card2', 'renderD130']);
    gpu.close(f);
    expect(owner.refcount).toBe(0);
    expect(k.drm.minors.all().map((m) => m.index)).toEqual([1, 2, 129, 130]);
    gpu.close(f); // a second release of the same file changes nothing
    expect(owner.refcount).toBe(0);
  });

  it('open pins the module (rmmod -EBUSY) and the device; a failing driver open keeps nothing', () => {
    const k = boot([{ compatible: 'test,gpu' }]);
    expect(k.modules.load(gpuModule('testgpu', 'test,gpu', TEST_DRM))).toBe(0);
    const owner = k.modules.find('testgpu')!;
    const gpu = gpuAt(k, 0);
    expect(gpu.open(-ENOMEM)).toBe(-ENOMEM);
    expect(owner.refcount).toBe(0);
    expect(gpu.ddev.files.size).toBe(0);
    const f = gpu.open();
    if (typeof f === 'number') throw new Error(`open: ${f}`);
    expect(k.modules.unload('testgpu')).toBe(-EBUSY);
    gpu.close(f);
    expect(k.modules.unload('testgpu')).toBe(0);
    // rmmod unregistered the driver: its device went, and its numbers with it
    expect(k.drm.devices()).toEqual([]);
    expect(k.drm.minors.all()).toEqual([]);
    expect(k.drivers.findDevice('a000000.gpu')?.driver).toBeNull();
  });

  it('register twice, or after unplug, is -EINVAL with nothing taken', () => {
    const k = boot([{ compatible: 'test,gpu' }]);
    expect(k.modules.load(gpuModule('testgpu', 'test,gpu', TEST_DRM))).toBe(0);
    const gpu = gpuAt(k, 0);
    expect(gpu.ddev.register()).toBe(-EINVAL);
    expect(k.drm.minors.all()).toHaveLength(2);
    const other = new DrmDevice(k.drivers.findDevice('a000000.gpu')!, TEST_DRM, null, null);
    other.unplug();
    expect(other.register()).toBe(-EINVAL);
    expect(k.drm.minors.all()).toHaveLength(2);
  });

  it('fills each window lowest-first, then takes numbers from 192 up for both kinds', () => {
    const t = new DrmMinorTable();
    const dev = new DrmDevice(boot([{ compatible: 'x' }]).drivers.findDevice('a000000.gpu')!, TEST_DRM, null, null);
    const render: number[] = [];
    const primary: number[] = [];
    for (let i = 0; i < 65; i++) {
      const r = t.alloc(dev, DRM_MINOR_RENDER);
      const p = t.alloc(dev, DRM_MINOR_PRIMARY);
      if (typeof r === 'number' || typeof p === 'number') throw new Error('alloc failed');
      render.push(r.index);
      primary.push(p.index);
    }
    expect(render.slice(0, 64)).toEqual(Array.from({ length: 64 }, (_, i) => 128 + i));
    expect(primary.slice(0, 64)).toEqual(Array.from({ length: 64 }, (_, i) => i));
    expect([render[64], primary[64]]).toEqual([192, 193]);
    expect(t.get(192)?.name).toBe('renderD192');
    expect(t.get(193)?.name).toBe('card193');
    // a number freed inside a window is the next one that window hands out
    t.free(t.get(140)!);
    t.free(t.get(5)!);
    expect((t.alloc(dev, DRM_MINOR_RENDER) as { index: number }).index).toBe(140);
    expect((t.alloc(dev, DRM_MINOR_PRIMARY) as { index: number }).index).toBe(5);
    expect((t.alloc(dev, DRM_MINOR_PRIMARY) as { index: number }).index).toBe(194);
  });
});

describe('DRM handle table (idr from 1)', () => {
  it('hands out 1, 2, 3, reuses the lowest free handle, and rejects unknown handles with -EINVAL', () => {
    const t = new DrmHandleTable<{ n: number }>();
    const objs = [1, 2, 3, 4].map((n) => ({ n }));
    expect(objs.map((o) => t.alloc(o))).toEqual([1, 2, 3, 4]);
    expect(t.remove(2)).toBe(objs[1]);
    expect(t.remove(3)).toBe(objs[2]);
    expect(t.remove(3)).toBe(-EINVAL);
    expect(t.handles()).toEqual([1, 4]);
    expect(t.alloc({ n: 5 })).toBe(2);
    expect(t.alloc({ n: 6 })).toBe(3);
    expect(t.alloc({ n: 7 })).toBe(5);
    // the highest handle freed is handed out again
    expect(t.remove(5)).toEqual({ n: 7 });
    expect(t.alloc({ n: 8 })).toBe(5);
    expect(t.size).toBe(5);
    for (const bad of [0, -1, 1.5, '1', 2 ** 32 + 1, Number.NaN, null, undefined]) {
      expect(t.lookup(bad)).toBeUndefined();
      expect(t.remove(bad)).toBe(-EINVAL);
    }
    expect(t.handles()).toEqual([1, 2, 3, 4, 5]);
    expect(t.lookup(4)).toBe(objs[3]);
  });

  it('always gives the lowest free handle (against a plain reference)', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 40 })), { maxLength: 200 }), (ops) => {
        const t = new DrmHandleTable<object>();
        const ref = new Set<number>();
        for (const op of ops) {
          if (op < 0) {
            let want = 1;
            while (ref.has(want)) want++;
            expect(t.alloc({})).toBe(want);
            ref.add(want);
          } else {
            const had = ref.delete(op);
            expect(typeof t.remove(op) === 'number' ? -1 : 1).toBe(had ? 1 : -1);
          }
        }
        expect(t.handles()).toEqual([...ref].sort((a, b) => a - b));
      }),
    );
  });
});

describe('GEM backing pages and CPU access', () => {
  it('takes the largest naturally aligned blocks first, smaller ones when a large one fails', () => {
    const k = boot([]);
    const before = k.pages.stats().pagesInUse;
    const b = drmGemAllocBlocks(k, 3 << 20);
    if (typeof b === 'number') throw new Error(`alloc: ${b}`);
    expect(b.map((x) => x.order)).toEqual([9, 8]);
    for (const x of b) expect(x.pa % (0x1000 << x.order)).toBe(0);
    expect(k.pages.stats().pagesInUse - before).toBe(768);
    drmGemFreeBlocks(k, b);
    expect(k.pages.stats().pagesInUse).toBe(before);
    // the first (2 MiB) request fails: two 1 MiB blocks instead
    k.pages.injectFaults({ nth: 1 });
    const c = drmGemAllocBlocks(k, 2 << 20);
    if (typeof c === 'number') throw new Error(`alloc: ${c}`);
    expect(c.map((x) => x.order)).toEqual([8, 8]);
    drmGemFreeBlocks(k, c);
  });

  it('-ENOMEM gives back what it had taken', () => {
    const k = boot([]);
    const before = k.pages.stats().pagesInUse;
    const free = k.pages.stats().totalPages - before;
    expect(drmGemAllocBlocks(k, (free + 1) * 0x1000)).toBe(-ENOMEM);
    expect(k.pages.stats().pagesInUse).toBe(before);
  });

  it('merges adjacent blocks into runs, and reads, writes and fills across separate runs', () => {
    expect(drmGemBlocksToRuns([{ pa: 0x4000_0000, order: 0 }, { pa: 0x4000_1000, order: 1 }, { pa: 0x4001_0000, order: 0 }])).toEqual([
      { pa: 0x4000_0000, len: 0x3000 },
      { pa: 0x4001_0000, len: 0x1000 },
    ]);
    const k = boot([]);
    const p1 = k.pages.allocPages(0);
    const gap = k.pages.allocPages(0);
    const p3 = k.pages.allocPages(0);
    expect([p1, gap, p3].every((p) => p > 0)).toBe(true);
    const runs = drmGemBlocksToRuns([{ pa: p1, order: 0 }, { pa: p3, order: 0 }]);
    expect(runs).toHaveLength(2);
    expect(drmGemRunsPhys(runs, 0x1004)).toBe(p3 + 4);
    expect(drmGemRunsPhys(runs, 0x2000)).toBe(-1);
    const data = Uint8Array.from({ length: 0x1000 }, (_, i) => (i * 7) & 0xff);
    drmGemRunsWrite(k, runs, 0x800, data);
    expect(drmGemRunsRead(k, runs, 0x800, 0x1000)).toEqual(data);
    expect(k.mem.readBytes(p3, 0x800)).toEqual(data.subarray(0x800));
    expect(k.mem.read32(gap)).toBe(0);
    drmGemRunsFill32(k, runs, 0xff8, 0x10, 0xdead_beef);
    expect([0xff8, 0xffc, 0x1000, 0x1004, 0x1008].map((o) => k.mem.read32(drmGemRunsPhys(runs, o)) >>> 0)).toEqual([
      0xdead_beef, 0xdead_beef, 0xdead_beef, 0xdead_beef, (data[0x808]! | (data[0x809]! << 8) | (data[0x80a]! << 16) | (data[0x80b]! << 24)) >>> 0,
    ]);
  });
});

/** A GEM object as a driver embeds the core's parts: size and offset node. */
class TestBo {
  readonly vmaNode = new DrmVmaOffsetNode<TestBo>(this);
  constructor(readonly size: number) {}
}

describe('GEM mmap offsets over the device offset manager (drm_gem.c)', () => {
  it('drm_gem_init gives a DRIVER_GEM device one manager over DRM_FILE_PAGE_OFFSET_START/SIZE; a device without DRIVER_GEM has none', () => {
    const k = boot([{ compatible: 'test,gpu' }]);
    expect(k.modules.load(gpuModule('testgpu', 'test,gpu', TEST_DRM))).toBe(0);
    const m = gpuAt(k, 0).ddev.vmaOffsetManager!;
    expect([m.start, m.end]).toEqual([DRM_FILE_PAGE_OFFSET_START, DRM_FILE_PAGE_OFFSET_START + DRM_FILE_PAGE_OFFSET_SIZE]);
    const nogem = new DrmDevice(gpuAt(k, 0).ddev.dev, { ...TEST_DRM, driverFeatures: DRIVER_RENDER }, null, null);
    expect(nogem.vmaOffsetManager).toBeNull();
    expect(() => drmGemCreateMmapOffset(nogem, new TestBo(0x1000))).toThrow(/no GEM offset manager/);
  });

  it('create_mmap_offset is idempotent; offsets are bytes from 4 GiB, page-sized per object; free gives them back', () => {
    const k = boot([{ compatible: 'test,gpu' }]);
    k.modules.load(gpuModule('testgpu', 'test,gpu', TEST_DRM));
    const ddev = gpuAt(k, 0).ddev;
    const a = new TestBo(0x3000);
    const b = new TestBo(0x1000);
    expect(drmVmaNodeOffsetAddr(a.vmaNode)).toBe(0);
    expect(drmGemCreateMmapOffset(ddev, a)).toBe(0);
    expect(drmGemCreateMmapOffset(ddev, b)).toBe(0);
    expect(drmVmaNodeOffsetAddr(a.vmaNode)).toBe(0x1_0000_0000);
    expect(drmVmaNodeOffsetAddr(b.vmaNode)).toBe(0x1_0000_3000);
    expect(drmGemCreateMmapOffset(ddev, a)).toBe(0);
    expect(drmVmaNodeOffsetAddr(a.vmaNode)).toBe(0x1_0000_0000);
    drmGemFreeMmapOffset(ddev, a);
    expect(drmVmaNodeOffsetAddr(a.vmaNode)).toBe(0);
    drmGemObjectRelease(ddev, b);
    expect(ddev.vmaOffsetManager!.clean).toBe(true);
    // a size larger than the offset space: -ENOSPC, nothing kept
    const huge = new TestBo(0x1000);
    expect(drmGemCreateMmapOffsetSize(ddev, huge, (DRM_FILE_PAGE_OFFSET_SIZE + 1) * 0x1000)).toBe(-ENOSPC);
    expect(ddev.vmaOffsetManager!.clean).toBe(true);
  });

  it('drm_gem_mmap: exact offset and length inside the object, only for files holding a handle (allow at handle create, revoke at delete)', () => {
    const k = boot([{ compatible: 'test,gpu' }]);
    k.modules.load(gpuModule('testgpu', 'test,gpu', TEST_DRM));
    const gpu = gpuAt(k, 0);
    const ddev = gpu.ddev;
    const f1 = gpu.open() as TestFile;
    const f2 = gpu.open() as TestFile;
    const h1 = new DrmHandleTable<TestBo>();
    const h2 = new DrmHandleTable<TestBo>();
    const bo = new TestBo(0x2000);
    const handle = drmGemHandleCreate(f1, h1, bo);
    expect(handle).toBe(1);
    expect(drmVmaNodeIsAllowed(bo.vmaNode, f1)).toBe(true);
    expect(drmGemCreateMmapOffset(ddev, bo)).toBe(0);
    const off = drmVmaNodeOffsetAddr(bo.vmaNode);
    expect(drmGemMmap<TestBo>(ddev, f1, off, 0x2000)).toBe(bo);
    expect(drmGemMmap<TestBo>(ddev, f1, off, 1)).toBe(bo); // one page, rounded up
    expect(drmGemMmap(ddev, f1, off, 0x2001)).toBe(-EINVAL); // three pages: not covered
    expect(drmGemMmap(ddev, f1, off + 0x1000, 0x1000)).toBe(-EINVAL); // inside, not at the start
    expect(drmGemMmap(ddev, f1, off + 0x4000, 0x1000)).toBe(-EINVAL); // no object there
    expect(drmGemMmap(ddev, f1, off + 1, 0x1000)).toBe(-EINVAL); // mmap(2): unaligned offset
    expect(drmGemMmap(ddev, f1, off, 0)).toBe(-EINVAL);
    expect(drmGemMmap(ddev, f2, off, 0x1000)).toBe(-EACCES);
    // a second handle in f2 (flink/prime open): allowed; two handles in f1 need two deletes
    expect(drmGemHandleCreate(f2, h2, bo)).toBe(1);
    expect(drmGemMmap<TestBo>(ddev, f2, off, 0x1000)).toBe(bo);
    expect(drmGemHandleCreate(f1, h1, bo)).toBe(2);
    expect(drmGemHandleDelete(f1, h1, 1)).toBe(bo);
    expect(drmGemMmap<TestBo>(ddev, f1, off, 0x1000)).toBe(bo);
    expect(drmGemHandleDelete(f1, h1, 2)).toBe(bo);
    expect(drmGemMmap(ddev, f1, off, 0x1000)).toBe(-EACCES);
    expect(drmGemHandleDelete(f1, h1, 2)).toBe(-EINVAL);
    expect(drmGemMmap<TestBo>(ddev, f2, off, 0x1000)).toBe(bo);
    ddev.unplug();
    expect(drmGemMmap(ddev, f2, off, 0x1000)).toBe(-ENODEV);
  });

  it("the device's last reference destroys the manager: an object still holding an offset is drm_mm_takedown's WARN", () => {
    const k = boot([{ compatible: 'test,gpu' }, { compatible: 'test,gpu' }]);
    k.modules.load(gpuModule('testgpu', 'test,gpu', TEST_DRM));
    const [a, b] = [gpuAt(k, 0), gpuAt(k, 1)];
    const leak = new TestBo(0x1000);
    const fine = new TestBo(0x1000);
    drmGemCreateMmapOffset(a.ddev, leak);
    drmGemCreateMmapOffset(b.ddev, fine);
    // each device has its own offset space: both objects sit at the first offset
    expect(drmVmaNodeOffsetAddr(leak.vmaNode)).toBe(drmVmaNodeOffsetAddr(fine.vmaNode));
    drmGemFreeMmapOffset(b.ddev, fine);
    expect(k.modules.unload('testgpu')).toBe(0);
    expect(k.log.grep('Memory manager not clean during takedown.')).toHaveLength(1);
  });
});

describe('time helpers over the board clock', () => {
  it('drm_timeout_abs: 0 and past timeouts poll, a future one waits the difference', () => {
    const k = boot([]);
    const t0 = ktimeGetNs(k);
    delayNs(k, 5 * NSEC_PER_MSEC);
    const now = ktimeGetNs(k);
    expect(now - t0).toBe(5 * NSEC_PER_MSEC);
    expect(drmTimeoutAbsToNs(k, 0)).toBe(0);
    expect(drmTimeoutAbsToNs(k, now - 1)).toBe(0);
    expect(drmTimeoutAbsToNs(k, now)).toBe(0);
    expect(drmTimeoutAbsToNs(k, now + 1234)).toBe(1234);
    expect(drmTimeoutAbsDeadline(k, 0)).toBe(now);
    expect(drmTimeoutAbsDeadline(k, now + 1234)).toBe(now + 1234);
    delayNs(k, -10);
    expect(ktimeGetNs(k)).toBe(now);
  });

  it('readx_poll_timeout: 0 once the condition holds, -ETIMEDOUT after the timeout with one last read', () => {
    const k = boot([]);
    const t0 = ktimeGetNs(k);
    // true from 35 µs on: found on the read after the 40 µs sleep
    expect(readxPollTimeout(k, () => ktimeGetNs(k) - t0, (v) => v >= 35_000, 10, 1000)).toBe(0);
    expect(ktimeGetNs(k) - t0).toBe(40_000);
    const t1 = ktimeGetNs(k);
    expect(readxPollTimeout(k, () => 0, (v) => v === 1, 10, 100)).toBe(-ETIMEDOUT);
    expect(ktimeGetNs(k) - t1).toBe(100_000);
    // the read after the deadline decides: reads at 0, 50 and 100 µs fail, the extra one succeeds
    let calls = 0;
    expect(readxPollTimeout(k, () => (++calls >= 4 ? 1 : 0), (v) => v === 1, 50, 100)).toBe(0);
    expect(calls).toBe(4);
  });
});

describe('WorkQueue', () => {
  it('runs items in order, including those queued while it runs; a nested flush returns at once', () => {
    const wq = new WorkQueue();
    const ran: string[] = [];
    wq.queue(() => {
      ran.push('a');
      wq.queue(() => ran.push('c'));
      wq.flush(); // nested: returns without running 'c' here
      ran.push('a-end');
    });
    wq.queue(() => ran.push('b'));
    expect(wq.pending).toBe(2);
    wq.flush();
    expect(ran).toEqual(['a', 'a-end', 'b', 'c']);
    expect(wq.pending).toBe(0);
  });

  it('cancelAll drops queued items; a throwing item leaves the queue usable', () => {
    const wq = new WorkQueue();
    let n = 0;
    wq.queue(() => n++);
    wq.cancelAll();
    wq.flush();
    expect(n).toBe(0);
    wq.queue(() => {
      throw new Error('boom');
    });
    wq.queue(() => n++);
    expect(() => wq.flush()).toThrow('boom');
    wq.flush();
    expect(n).toBe(1);
  });
});

describe('errno and module boilerplate', () => {
  it('knows ECANCELED (125)', () => {
    expect(ECANCELED).toBe(125);
    expect(errnoName(-ECANCELED)).toBe('ECANCELED');
  });

  it('ofModuleAliases writes both modpost aliases per compatible', () => {
    expect(ofModuleAliases([{ compatible: 'arm,mali-t860' }, { compatible: 'qcom,adreno' }])).toEqual([
      'of:N*T*Carm,mali-t860',
      'of:N*T*Carm,mali-t860C*',
      'of:N*T*Cqcom,adreno',
      'of:N*T*Cqcom,adreno' + 'C*',
    ]);
  });

  it('modulePlatformDriver registers the driver at init, per kernel, and unregisters it at exit', () => {
    const a = boot([{ compatible: 'test,gpu' }]);
    const b = boot([{ compatible: 'test,gpu' }]);
    const m = gpuModule('testgpu', 'test,gpu', TEST_DRM);
    expect(a.modules.load(m)).toBe(0);
    expect(b.modules.load(m)).toBe(0);
    expect(a.drivers.findDriver('testgpu')).toBeDefined();
    expect(a.modules.unload('testgpu')).toBe(0);
    expect(a.drivers.findDriver('testgpu')).toBeUndefined();
    expect(b.drivers.findDriver('testgpu')).toBeDefined();
    expect(b.drm.devices()).toHaveLength(1);
    // a second driver of the same name is refused by the driver core, and init fails with it
    const dup = { ...gpuModule('testgpu2', 'test,gpu', TEST_DRM), ...modulePlatformDriver(() => ({ name: 'testgpu', probe: () => 0 })) };
    expect(b.modules.load(dup)).toBeLessThan(0);
    expect(b.modules.find('testgpu2')).toBeUndefined();
  });
});
