import { describe, expect, it } from 'vitest';
import {
  EINVAL,
  EPERM,
  IOMMU_READ,
  IOMMU_WRITE,
  Kernel,
  adrenoSmmuFaultInfoInit,
  adrenoSmmuPrivGet,
  adrenoSmmuPrivInit,
  adrenoSmmuPrivSet,
  iommuDomainAlloc,
  iommuEnableNesting,
  iommuGetDomainForDev,
  iommuGroupGet,
  iommuIotlbGatherAddRange,
  iommuIotlbGatherEmpty,
  iommuIotlbGatherInit,
  iommuMap,
  iommuSetPgtableQuirks,
  iommuUnmap,
  kernelArch,
  type IommuDomain,
} from '@gki/kernel';
import { dev, fakeBoard, fakeIommuModule, masterModule, newFakeState, SZ_2M, SZ_4K, type FakeDomain } from './iommu-fake.js';

const RW = IOMMU_READ | IOMMU_WRITE;
const MASTERS = ['a000000.dma', 'a001000.dma', 'a002000.dma'];

describe('an IOMMU registering probes the masters already on the bus (bus_iommu_probe)', () => {
  it('masters without a driver get their fwspec, group and default domain', () => {
    const st = newFakeState();
    const k = Kernel.boot(fakeBoard(), { builtin: [], modules: [fakeIommuModule(st)], load: ['fake_iommu'] });
    expect(st.probed).toEqual(MASTERS);
    for (const name of MASTERS) {
      const d = dev(k, name);
      expect(d.driver).toBeNull();
      expect(iommuGroupGet(d)).toBeDefined();
      expect(iommuGetDomainForDev(d)?.type).toBe('dma');
    }
    // a000000 and a001000 share stream ID 7: the driver puts them in one group
    expect(iommuGroupGet(dev(k, MASTERS[0]!))).toBe(iommuGroupGet(dev(k, MASTERS[1]!)));
    expect(k.iommu.allGroups().length).toBe(2);
    // the master without `iommus` is not touched
    expect(k.iommu.fwspec(dev(k, 'a003000.dma'))).toBeUndefined();
    // the module is pinned once per probed master (plus once per default domain)
    expect(k.modules.find('fake_iommu')!.refcount).toBe(3 + 2);
  });

  it('a driver loading later binds the already-probed masters without probing them again', () => {
    const st = newFakeState();
    const events: string[] = [];
    const k = Kernel.boot(fakeBoard(), { builtin: [], modules: [fakeIommuModule(st), masterModule(events)], load: ['fake_iommu'] });
    const groups = MASTERS.map((n) => iommuGroupGet(dev(k, n)));
    expect(k.modules.modprobe('test_dma')).toBe(0);
    expect(events.filter((e) => e.startsWith('probe'))).toHaveLength(4);
    expect(st.probed).toEqual(MASTERS);
    expect(MASTERS.map((n) => iommuGroupGet(dev(k, n)))).toEqual(groups);
  });
});

describe('iommu_enable_nesting and iommu_set_pgtable_quirks', () => {
  function setup() {
    const st = newFakeState();
    const k = Kernel.boot(fakeBoard(), { builtin: [], modules: [fakeIommuModule(st)], load: ['fake_iommu'] });
    const d = iommuDomainAlloc(dev(k, MASTERS[2]!));
    if (typeof d === 'number') throw new Error(String(d));
    return { k, st, d: d as FakeDomain };
  }

  it('are -EINVAL when the driver lacks the op, for non-unmanaged domains and unknown domains', () => {
    const { k, d } = setup();
    expect(iommuEnableNesting(d)).toBe(-EINVAL);
    expect(iommuSetPgtableQuirks(d, 1 << 5)).toBe(-EINVAL);
    const def = iommuGetDomainForDev(dev(k, MASTERS[2]!))!;
    (def.ops as { enableNesting?: () => number }).enableNesting = () => 0;
    expect(iommuEnableNesting(def)).toBe(-EINVAL); // a DMA domain
    const stray: IommuDomain = { type: 'unmanaged', ops: d.ops, pgsizeBitmap: 0, geometry: d.geometry };
    expect(iommuEnableNesting(stray)).toBe(-EINVAL);
    expect(iommuSetPgtableQuirks(stray, 0)).toBe(-EINVAL);
  });

  it('pass the driver answer through', () => {
    const { d } = setup();
    const seen: number[] = [];
    let attached = false;
    d.ops.enableNesting = () => (attached ? -EPERM : 0);
    d.ops.setPgtableQuirks = (_dom, q) => {
      if (attached) return -EPERM;
      seen.push(q);
      return 0;
    };
    expect(iommuEnableNesting(d)).toBe(0);
    expect(iommuSetPgtableQuirks(d, 0x20)).toBe(0);
    expect(iommuSetPgtableQuirks(d, -1)).toBe(-EINVAL);
    expect(iommuSetPgtableQuirks(d, 1.5)).toBe(-EINVAL);
    expect(seen).toEqual([0x20]);
    attached = true;
    expect(iommuEnableNesting(d)).toBe(-EPERM);
    expect(iommuSetPgtableQuirks(d, 0x20)).toBe(-EPERM);
  });
});

describe('upper-half (TTBR1) IOVAs are negative numbers', () => {
  function ttbr1Domain() {
    const st = newFakeState();
    const k = Kernel.boot(fakeBoard(), { builtin: [], modules: [fakeIommuModule(st)], load: ['fake_iommu'] });
    const d = iommuDomainAlloc(dev(k, MASTERS[2]!)) as FakeDomain;
    d.geometry = { apertureStart: -(2 ** 48), apertureEnd: -1, forceAperture: true };
    return d;
  }

  it('map and unmap take negative IOVAs inside a negative aperture, with 64-bit alignment', () => {
    const d = ttbr1Domain();
    const base = -(2 ** 30); // 0xffff_ffff_c000_0000
    expect(iommuMap(d, base, 0x4000_0000, SZ_2M + SZ_4K, RW)).toBe(0);
    expect(d.calls).toEqual([`map 0x-40000000 0x200000 x1`, `map 0x-3fe00000 0x1000 x1`]);
    expect(iommuUnmap(d, base, SZ_2M + SZ_4K)).toBe(SZ_2M + SZ_4K);
    expect(d.syncs).toEqual([{ start: base, end: base + SZ_2M + SZ_4K - 1, pgsize: SZ_4K }]);
  });

  it('rejects negative IOVAs outside the aperture, ranges crossing zero and misalignment', () => {
    const d = ttbr1Domain();
    expect(iommuMap(d, -(2 ** 48) - SZ_4K, 0x4000_0000, SZ_4K, RW)).toBe(-EINVAL);
    expect(iommuMap(d, -SZ_4K, 0x4000_0000, 2 * SZ_4K, RW)).toBe(-EINVAL);
    expect(iommuMap(d, -SZ_4K - 0x800, 0x4000_0000, SZ_4K, RW)).toBe(-EINVAL);
    expect(iommuMap(d, -SZ_4K, 0x4000_0000, SZ_4K, RW)).toBe(0); // the very top page
    expect(iommuUnmap(d, -SZ_4K, 2 * SZ_4K)).toBe(0);
    d.geometry = { apertureStart: 0, apertureEnd: 2 ** 48 - 1, forceAperture: true };
    expect(iommuMap(d, -(2 ** 30), 0x4000_0000, SZ_4K, RW)).toBe(-EINVAL);
    expect(d.calls).toEqual(['map 0x-1000 0x1000 x1']);
  });

  it('an initialised gather holds the safe-integer bounds (written as literals in the source)', () => {
    expect(iommuIotlbGatherInit()).toEqual({ start: Number.MAX_SAFE_INTEGER, end: Number.MIN_SAFE_INTEGER, pgsize: 0, queued: false });
    expect(iommuIotlbGatherInit()).not.toBe(iommuIotlbGatherInit()); // a fresh object per call
  });

  it('an initialised gather is empty and widens over negative ranges', () => {
    const g = iommuIotlbGatherInit();
    expect(iommuIotlbGatherEmpty(g)).toBe(true);
    iommuIotlbGatherAddRange(g, -0x3000, 0x1000);
    expect(g).toMatchObject({ start: -0x3000, end: -0x2001 });
    expect(iommuIotlbGatherEmpty(g)).toBe(false);
  });
});

describe('the Adreno SMMU interface slot', () => {
  it('is set, read and cleared per device; bad arguments are -EINVAL', () => {
    const st = newFakeState();
    const k = Kernel.boot(fakeBoard(), { builtin: [], modules: [fakeIommuModule(st)], load: [] });
    const gpu = dev(k, MASTERS[0]!);
    expect(adrenoSmmuPrivGet(gpu)).toBeUndefined();
    const priv = adrenoSmmuPrivInit();
    expect(priv).toEqual({ cookie: null, getTtbr1Cfg: null, setTtbr0Cfg: null, getFaultInfo: null, setStall: null, resumeTranslation: null });
    expect(adrenoSmmuPrivSet(gpu, priv)).toBe(0);
    expect(adrenoSmmuPrivGet(gpu)).toBe(priv);
    expect(adrenoSmmuPrivGet(dev(k, MASTERS[1]!))).toBeUndefined();
    expect(adrenoSmmuPrivSet({} as never, priv)).toBe(-EINVAL);
    expect(adrenoSmmuPrivSet(gpu, { cookie: 1 } as never)).toBe(-EINVAL);
    expect(adrenoSmmuPrivGet(gpu)).toBe(priv);
    expect(adrenoSmmuPrivSet(gpu, null)).toBe(0);
    expect(adrenoSmmuPrivGet(gpu)).toBeUndefined();
    expect(adrenoSmmuFaultInfoInit()).toEqual({ far: 0n, ttbr0: 0n, contextidr: 0, fsr: 0, fsynr0: 0, fsynr1: 0, cbfrsynra: 0 });
  });
});

describe('the kernel build architecture', () => {
  it('is arm64 unless the image says otherwise', () => {
    const k = Kernel.boot(fakeBoard(), { builtin: [], modules: [] });
    expect(k.arch).toEqual({ name: 'arm64', is64bit: true, lpae: true });
    const k32 = Kernel.boot(fakeBoard(), { builtin: [], modules: [], arch: 'arm' });
    expect(k32.arch).toEqual({ name: 'arm', is64bit: false, lpae: false });
    expect(kernelArch('arm-lpae')).toEqual({ name: 'arm-lpae', is64bit: false, lpae: true });
    expect(() => kernelArch('x86' as never)).toThrow(RangeError);
  });
});
