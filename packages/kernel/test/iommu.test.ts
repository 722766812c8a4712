import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  EBUSY,
  EEXIST,
  EINVAL,
  ENODEV,
  ENOMEM,
  ENOSYS,
  EPROBE_DEFER,
  ETIMEDOUT,
  IOMMU_FAULT_WRITE,
  Kernel,
  IOMMU_READ,
  IOMMU_WRITE,
  iommuAttachDevice,
  iommuDeviceRegister,
  iommuDeviceUnregister,
  iommuAttachGroup,
  iommuDetachDevice,
  iommuDomainAlloc,
  iommuDomainFree,
  iommuGetDomainForDev,
  iommuGroupGet,
  iommuIotlbGatherAddPage,
  iommuIotlbGatherInit,
  iommuIovaToPhys,
  iommuMap,
  iommuPgsize,
  iommuSetFaultHandler,
  iommuUnmap,
  reportIommuFault,
  type IommuDomain,
} from '@gki/kernel';
import { bootFake, dev, fakeBoard, fakeIommuModule, masterModule, newFakeState, PGSIZES, SZ_1G, SZ_2M, SZ_4K, type FakeDomain } from './iommu-fake.js';

const RW = IOMMU_READ | IOMMU_WRITE;

/** Pages mapped per size, from the fake driver's map calls. */
function pagesPerSize(calls: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of calls) {
    const m = /^map \S+ (\S+) x(\d+)$/.exec(c);
    if (m) out[m[1]!] = (out[m[1]!] ?? 0) + Number(m[2]);
  }
  return out;
}

/** A kernel with devices populated and a 10 s deferred-probe timeout still pending; no module loaded. */
function armedKernel() {
  const st = newFakeState();
  const events: string[] = [];
  const k = new Kernel(fakeBoard());
  k.drivers.deferredProbeTimeoutSecs = 10;
  k.modules.setImage({ builtin: [], modules: [masterModule(events), fakeIommuModule(st)] });
  k.of.populate();
  k.drivers.deferredProbeInitcall();
  return { k, st, events };
}

function modRefs(k: ReturnType<typeof bootFake>['k'], name: string): number {
  return k.modules.list().find((m) => m.name === name)!.dynamicRefs;
}

describe('masters find their IOMMU through DT iommus', () => {
  it('defer until the IOMMU registers, then get groups and a default DMA domain', () => {
    const { k, st, events } = bootFake();
    // test_dma loaded first: its masters behind the IOMMU waited, the direct one did not
    expect(k.log.grep('probe deferral - supplier 2b400000.iommu not ready')).toHaveLength(3);
    expect(events).toEqual(['probe a003000.dma', 'probe a000000.dma', 'probe a001000.dma', 'probe a002000.dma']);
    expect(st.probed).toEqual(['a000000.dma', 'a001000.dma', 'a002000.dma']);
    expect(k.iommu.fwspec(dev(k, 'a000000.dma'))?.ids).toEqual([7]);
    expect(k.iommu.fwspec(dev(k, 'a002000.dma'))?.ids).toEqual([8]);
    expect(k.iommu.fwspec(dev(k, 'a003000.dma'))).toBeUndefined();

    // same stream ID: one group; the others alone; the direct master has none
    const g0 = iommuGroupGet(dev(k, 'a000000.dma'))!;
    expect(iommuGroupGet(dev(k, 'a001000.dma'))).toBe(g0);
    const g2 = iommuGroupGet(dev(k, 'a002000.dma'))!;
    expect(g2).not.toBe(g0);
    expect(iommuGroupGet(dev(k, 'a003000.dma'))).toBeUndefined();
    expect(g0.devices.map((d) => d.name)).toEqual(['a000000.dma', 'a001000.dma']);

    // each group got a DMA default domain with the driver's page sizes, attached to all members
    for (const g of [g0, g2]) {
      expect(g.defaultDomain?.type).toBe('dma');
      expect(g.domain).toBe(g.defaultDomain);
      expect(g.defaultDomain!.pgsizeBitmap).toBe(PGSIZES);
    }
    expect([...(g0.domain as FakeDomain).attached].map((d) => d.name)).toEqual(['a000000.dma', 'a001000.dma']);
    expect(st.domains).toHaveLength(2);
    // the driver's module is held once per master and once per domain
    expect(modRefs(k, 'fake_iommu')).toBe(3 + 2);
    expect(k.modules.unload('fake_iommu')).toBeLessThan(0);
  });

  it('without the IOMMU driver, masters probe untranslated once the timeout expired', () => {
    const { k } = bootFake(['test_dma']);
    const m = dev(k, 'a002000.dma');
    // boot already expired the timeout (0 s): the link was relaxed and the master bound untranslated
    expect(m.state).toBe('bound');
    expect(iommuGroupGet(m)).toBeUndefined();
    expect(k.log.grep('a002000.dma: IOMMU driver never registered')).toHaveLength(1);
    expect(k.iommu.ofIommuConfigure(m)).toBe(-ETIMEDOUT);
    expect(k.iommu.fwspec(m)).toBeUndefined(); // the failed attempt left no fwspec
    // a device not behind an IOMMU
    expect(k.iommu.ofIommuConfigure(dev(k, 'a003000.dma'))).toBe(-ENODEV);
  });

  it('of_iommu defers while no IOMMU driver registered and the timeout is pending', () => {
    const { k, st, events } = armedKernel();
    k.modules.modprobe('test_dma');
    const m = dev(k, 'a000000.dma');
    expect(m.state).toBe('deferred');
    // the dma_configure step itself: the IOMMU node has no registered ops yet
    expect(k.iommu.ofIommuConfigure(m)).toBe(-EPROBE_DEFER);
    expect(k.iommu.snapshot().masters).toEqual([]);
    expect(k.modules.modprobe('fake_iommu')).toBe(0);
    expect(st.iommu?.dev.name).toBe('2b400000.iommu');
    expect(events).toEqual(['probe a003000.dma', 'probe a000000.dma', 'probe a001000.dma', 'probe a002000.dma']);
    expect(k.iommu.snapshot().masters.map((x) => `${x.dev} ${x.iommu} ${x.ids} ${x.group}`)).toEqual([
      'a000000.dma 2b400000.iommu 7 0',
      'a001000.dma 2b400000.iommu 7 0',
      'a002000.dma 2b400000.iommu 8 1',
    ]);
  });

  it('unbinding the IOMMU unbinds its masters first and releases everything', () => {
    const { k, st, events } = bootFake();
    const before = k.pages.stats().pagesInUse;
    expect(k.drivers.unregisterDevice(dev(k, '2b400000.iommu'))).toBe(0);
    expect(events.slice(4).sort()).toEqual(['remove a000000.dma', 'remove a001000.dma', 'remove a002000.dma']);
    expect(st.released.sort()).toEqual(['a000000.dma', 'a001000.dma', 'a002000.dma']);
    expect(k.iommu.snapshot()).toEqual({ iommus: [], masters: [], groups: [], domains: [] });
    expect(st.domains).toEqual([]);
    expect(modRefs(k, 'fake_iommu')).toBe(0);
    expect(k.pages.stats().pagesInUse).toBe(before);
    expect(k.modules.unload('fake_iommu')).toBe(0);
  });

  it('a master removed from the bus leaves its group; the last one frees the default domain', () => {
    const { k, st } = bootFake();
    const g0 = iommuGroupGet(dev(k, 'a000000.dma'))!;
    const def = g0.defaultDomain as FakeDomain;
    expect(k.drivers.unregisterDevice(dev(k, 'a000000.dma'))).toBe(0);
    expect(g0.devices.map((d) => d.name)).toEqual(['a001000.dma']);
    expect(def.freed).toBe(false);
    expect(k.drivers.unregisterDevice(dev(k, 'a001000.dma'))).toBe(0);
    expect(def.freed).toBe(true);
    expect(k.iommu.allGroups()).toHaveLength(1);
    expect(st.released).toEqual(['a000000.dma', 'a001000.dma']);
    expect(modRefs(k, 'fake_iommu')).toBe(1 + 1);
  });

  it('a failing default-domain allocation leaves the master untranslated and nothing behind', () => {
    const st0 = bootFake([]);
    const { k, st } = st0;
    st.refuseTypes.add('dma');
    expect(k.modules.modprobe('fake_iommu')).toBe(0);
    expect(k.modules.modprobe('test_dma')).toBe(0);
    expect(dev(k, 'a000000.dma').state).toBe('bound');
    expect(iommuGroupGet(dev(k, 'a000000.dma'))).toBeUndefined();
    // each master fails twice: when the IOMMU registers (bus probe) and at its own probe
    expect(k.log.grep('iommu configuration for device failed with EOPNOTSUPP')).toHaveLength(6);
    expect(k.iommu.snapshot().masters).toEqual([]);
    const masters = ['a000000.dma', 'a001000.dma', 'a002000.dma'];
    expect(st.released).toEqual([...masters, ...masters]);
    expect(modRefs(k, 'fake_iommu')).toBe(0);
  });
});

describe('IOMMU registration', () => {
  it('rejects duplicates and malformed registrations without changing anything', () => {
    const { k, st } = bootFake();
    const iommu = st.iommu!;
    const snap = k.iommu.snapshot();
    expect(iommuDeviceRegister(k, iommu)).toBe(-EEXIST);
    expect(iommuDeviceRegister(k, { ...iommu })).toBe(-EEXIST); // same fwnode
    expect(iommuDeviceRegister(k, { dev: dev(k, 'a003000.dma'), ops: { ...iommu.ops, probeDevice: undefined as never } })).toBe(-EINVAL);
    expect(iommuDeviceUnregister(k, { ...iommu })).toBe(-ENODEV);
    expect(k.iommu.snapshot()).toEqual(snap);
    expect(snap.iommus).toEqual([{ dev: '2b400000.iommu', fwnode: '/soc/iommu@2b400000' }]);
    expect(k.iommu.iommuForFwnode(dev(k, '2b400000.iommu').ofNode!)).toBe(iommu);
  });
});

describe('iommu_map / iommu_unmap', () => {
  function domain(): { d: FakeDomain; k: ReturnType<typeof bootFake>['k'] } {
    const { k } = bootFake();
    const d = iommuDomainAlloc(dev(k, 'a002000.dma'));
    if (typeof d === 'number') throw new Error(`alloc ${d}`);
    return { d: d as FakeDomain, k };
  }

  it('iommu_pgsize picks the size and the run length', () => {
    const out = { pgsize: 0, count: 0 };
    expect(iommuPgsize(PGSIZES, 0x1000, 0x1000, 0x4020_0000, out)).toEqual({ pgsize: SZ_4K, count: 511 });
    expect(iommuPgsize(PGSIZES, 0x20_0000, 0x20_0000, 0x4000_1000, out)).toEqual({ pgsize: SZ_2M, count: 512 });
    // iova and paddr disagree modulo 2M: every 4K page in one run
    expect(iommuPgsize(PGSIZES, 0x20_0000, 0x20_1000, 0x40_0000, out)).toEqual({ pgsize: SZ_4K, count: 1024 });
    // above 4 GiB (bit operations would break here)
    expect(iommuPgsize(PGSIZES, 2 ** 40, 2 ** 41 + SZ_1G, 3 * SZ_1G, out)).toEqual({ pgsize: SZ_1G, count: 3 });
    expect(iommuPgsize(PGSIZES, 0x800, 0, 0x1000, out).pgsize).toBe(-EINVAL);
  });

  it('splits 0x1000..0x40201000 into 4K x511, 2M x512, 4K x1', () => {
    const { d } = domain();
    expect(iommuMap(d, 0x1000, 0x1000, 0x4020_0000, RW)).toBe(0);
    expect(d.calls).toEqual(['map 0x1000 0x1000 x511', 'map 0x200000 0x200000 x512', 'map 0x40200000 0x1000 x1']);
    expect(pagesPerSize(d.calls)).toEqual({ '0x1000': 512, '0x200000': 512 });
  });

  it('uses 1G pages once a whole one fits after the 2M run', () => {
    const { d } = domain();
    const pa = 0x8_0000_0000;
    expect(iommuMap(d, 0x1000, pa + 0x1000, 0x8020_0000, RW)).toBe(0);
    expect(d.calls).toEqual([
      'map 0x1000 0x1000 x511',
      'map 0x200000 0x200000 x511',
      'map 0x40000000 0x40000000 x1',
      'map 0x80000000 0x200000 x1',
      'map 0x80200000 0x1000 x1',
    ]);
    expect(iommuIovaToPhys(d, 0x1234)).toBe(pa + 0x1234);
    expect(iommuIovaToPhys(d, 0x4567_89ab)).toBe(pa + 0x4567_89ab);
    expect(iommuIovaToPhys(d, 0x8020_0fff)).toBe(pa + 0x8020_0fff);
    expect(iommuIovaToPhys(d, 0x8020_1000)).toBe(0);
    expect(d.pt.get(0x4000_0000)).toEqual({ pa: pa + SZ_1G, size: SZ_1G, prot: RW });
  });

  it('rejects misalignment and non-paging domains without calling the driver', () => {
    const { d, k } = domain();
    const snap = k.iommu.snapshot();
    expect(iommuMap(d, 0x1800, 0x1000, 0x1000, RW)).toBe(-EINVAL);
    expect(iommuMap(d, 0x1000, 0x1800, 0x1000, RW)).toBe(-EINVAL);
    expect(iommuMap(d, 0x1000, 0x1000, 0x1800, RW)).toBe(-EINVAL);
    expect(iommuMap(d, -0x1000, 0x1000, 0x1000, RW)).toBe(-EINVAL);
    expect(iommuMap(d, 2 ** 53 - 0x1000, 0, 0x2000, RW)).toBe(-EINVAL);
    expect(iommuUnmap(d, 0x1800, 0x1000)).toBe(0);
    const id = iommuDomainAlloc(dev(k, 'a002000.dma'), 'identity') as IommuDomain;
    expect(iommuMap(id, 0x1000, 0x1000, 0x1000, RW)).toBe(-EINVAL);
    expect(iommuIovaToPhys(id, 0x1234)).toBe(0x1234);
    expect(d.calls).toEqual([]);
    expect(d.pt.size).toBe(0);
    expect(iommuDomainFree(id)).toBe(0);
    expect(k.iommu.snapshot()).toEqual(snap);
  });

  it('a failure part way through unmaps what was mapped and returns the error', () => {
    const { d } = domain();
    d.failMapAfter = 600;
    expect(iommuMap(d, 0x1000, 0x1000, 0x4020_0000, RW)).toBe(-ENOMEM);
    expect(d.pt.size).toBe(0);
    expect(d.calls.filter((c) => c.startsWith('unmap'))).toEqual(['unmap 0x1000 0x1000 x511', 'unmap 0x200000 0x200000 x89']);
    expect(d.syncs).toEqual([{ start: 0x1000, end: 0x1000 + 511 * SZ_4K + 89 * SZ_2M - 1, pgsize: SZ_2M }]);
  });

  it('unmap walks the same runs, gathers, and syncs once', () => {
    const { d } = domain();
    expect(iommuMap(d, 0x1000, 0x1000, 0x4020_0000, RW)).toBe(0);
    d.calls.length = 0;
    expect(iommuUnmap(d, 0x1000, 0x4020_0000)).toBe(0x4020_0000);
    expect(d.calls).toEqual(['unmap 0x1000 0x1000 x511', 'unmap 0x200000 0x200000 x512', 'unmap 0x40200000 0x1000 x1']);
    expect(d.syncs).toEqual([{ start: 0x1000, end: 0x4020_0fff, pgsize: SZ_4K }]);
    expect(d.pt.size).toBe(0);
    // nothing mapped there: 0 bytes
    expect(iommuUnmap(d, 0x1000, 0x1000)).toBe(0);
  });

  it('any aligned range is tiled exactly by naturally aligned pages, and unmapped again (property)', () => {
    const { d } = domain();
    const frame = fc.integer({ min: 0, max: 2 ** 28 - 1 }).map((n) => n * SZ_4K); // below 2^40
    fc.assert(
      fc.property(frame, fc.boolean(), frame, fc.integer({ min: 1, max: 3 * 512 }), fc.integer({ min: 0, max: 2 }), (iova, samePhase, pa0, frames, gigs) => {
        // same 2M phase or not, and sometimes more than a gigabyte
        const paddr = samePhase ? pa0 - (pa0 % SZ_2M) + (iova % SZ_2M) : pa0;
        const size = frames * SZ_4K + (samePhase ? gigs * SZ_1G : 0);
        d.pt.clear();
        expect(iommuMap(d, iova, paddr, size, RW)).toBe(0);
        const ptes = [...d.pt].sort((a, b) => a[0] - b[0]);
        let at = iova;
        const bad: string[] = [];
        for (const [va, pte] of ptes) {
          if (va !== at || pte.pa !== paddr + (va - iova) || va % pte.size !== 0 || pte.pa % pte.size !== 0)
            bad.push(`${va.toString(16)} -> ${pte.pa.toString(16)} size ${pte.size.toString(16)}`);
          at += pte.size;
        }
        expect(bad).toEqual([]);
        expect(at).toBe(iova + size);
        expect(iommuUnmap(d, iova, size)).toBe(size);
        expect(d.pt.size).toBe(0);
      }),
      { numRuns: 60, seed: 5 },
    );
  });

  it('gather add_page syncs before a page of another size or a disjoint page', () => {
    const { d } = domain();
    const g = iommuIotlbGatherInit();
    iommuIotlbGatherAddPage(d, g, 0x1000, SZ_4K);
    iommuIotlbGatherAddPage(d, g, 0x2000, SZ_4K);
    expect(d.syncs).toEqual([]);
    iommuIotlbGatherAddPage(d, g, 0x10_0000, SZ_4K);
    expect(d.syncs).toEqual([{ start: 0x1000, end: 0x2fff, pgsize: SZ_4K }]);
    iommuIotlbGatherAddPage(d, g, 0x20_0000, SZ_2M);
    expect(d.syncs[1]).toEqual({ start: 0x10_0000, end: 0x10_0fff, pgsize: SZ_4K });
    expect(g).toMatchObject({ start: 0x20_0000, end: 0x3f_ffff, pgsize: SZ_2M });
  });
});

describe('domains, attach and detach', () => {
  it('attach moves a singleton group; detach returns it to the default domain', () => {
    const { k, st } = bootFake();
    const m = dev(k, 'a002000.dma');
    const g = iommuGroupGet(m)!;
    const d = iommuDomainAlloc(m) as FakeDomain;
    expect(d.type).toBe('unmanaged');
    expect(modRefs(k, 'fake_iommu')).toBe(3 + 2 + 1);
    expect(iommuAttachDevice(d, m)).toBe(0);
    expect(iommuGetDomainForDev(m)).toBe(d);
    expect(d.attached.has(m)).toBe(true);
    // a second domain cannot take over, the domain cannot be freed while attached
    const d2 = iommuDomainAlloc(m) as FakeDomain;
    const snap = k.iommu.snapshot();
    expect(iommuAttachDevice(d2, m)).toBe(-EBUSY);
    expect(iommuDomainFree(d)).toBe(-EBUSY);
    expect(iommuDomainFree(g.defaultDomain!)).toBe(-EBUSY);
    expect(k.iommu.snapshot()).toEqual(snap);
    expect(iommuDetachDevice(d, m)).toBe(0);
    expect(iommuGetDomainForDev(m)).toBe(g.defaultDomain);
    expect((g.defaultDomain as FakeDomain).attached.has(m)).toBe(true);
    expect(iommuDetachDevice(d, m)).toBe(-EINVAL);
    expect(iommuDomainFree(d)).toBe(0);
    expect(iommuDomainFree(d)).toBe(-EINVAL);
    expect(iommuDomainFree(d2)).toBe(0);
    expect(st.domains).toHaveLength(2);
    expect(modRefs(k, 'fake_iommu')).toBe(3 + 2);
  });

  it('device attach needs a singleton group; group attach rolls back on a driver error', () => {
    const { k, st } = bootFake();
    const a = dev(k, 'a000000.dma');
    const g = iommuGroupGet(a)!;
    const d = iommuDomainAlloc(a) as FakeDomain;
    expect(iommuAttachDevice(d, a)).toBe(-EINVAL);
    st.failAttach.add('a001000.dma');
    const snap = k.iommu.snapshot();
    expect(iommuAttachGroup(d, g)).toBe(-5);
    expect(k.iommu.snapshot()).toEqual(snap);
    expect([...(g.defaultDomain as FakeDomain).attached].map((x) => x.name)).toEqual(['a001000.dma', 'a000000.dma']);
    expect(d.attached.size).toBe(0);
    st.failAttach.clear();
    expect(iommuAttachGroup(d, g)).toBe(0);
    expect([...d.attached].map((x) => x.name)).toEqual(['a000000.dma', 'a001000.dma']);
    expect(iommuDomainAlloc(dev(k, 'a003000.dma'))).toBe(-ENODEV);
  });
});

describe('fault reporting', () => {
  it('returns -ENOSYS without a handler and the handler result with one', () => {
    const { k } = bootFake();
    const m = dev(k, 'a002000.dma');
    const d = iommuGetDomainForDev(m)!;
    expect(reportIommuFault(d, m, 0x1234_5000, IOMMU_FAULT_WRITE)).toBe(-ENOSYS);
    const seen: unknown[] = [];
    expect(iommuSetFaultHandler(d, (dom, fdev, iova, flags, token) => {
      seen.push([dom === d, fdev.name, iova, flags, token]);
      return 0;
    }, 'tok')).toBe(0);
    expect(reportIommuFault(d, m, 0x1234_5000, IOMMU_FAULT_WRITE)).toBe(0);
    expect(seen).toEqual([[true, 'a002000.dma', 0x1234_5000, IOMMU_FAULT_WRITE, 'tok']]);
    expect(k.iommu.snapshot().domains.find((x) => x.isDefault && x.handler)).toBeDefined();
    expect(iommuSetFaultHandler(d, null)).toBe(0);
    expect(reportIommuFault(d, m, 0, 0)).toBe(-ENOSYS);
    expect(iommuSetFaultHandler({ ...d }, () => 0)).toBe(-EINVAL);
  });
});

