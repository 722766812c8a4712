/**
 * The PCI side of the OF and IOMMU layers, anchored on Linux 6.12's behaviour:
 * - of_map_id (drivers/of/base.c): 4-cell entries, the mask, id-base/out-base/length, the
 *   target filter, its errors and messages, and "no match" = the ID untranslated, no target;
 * - enumeration (drivers/pci/probe.c) against a hand-built ECAM config space: vendor ID
 *   patterns, header type, multi-function scanning, BAR sizing (__pci_read_base) and assignment
 *   from the bridge's ranges, Linux's device names and messages, a window cut by the ECAM size;
 * - of_iommu for PCI: the fwspec carries the mapped requester ID; deferral until the IOMMU
 *   registers; no iommu-map or no matching entry leaves the function without an IOMMU.
 */
import { Board, compileDts, parseDtb, type MmioDevice } from '@gki/hw';
import { describe, expect, it } from 'vitest';
import {
  EFAULT,
  EINVAL,
  ENODEV,
  Kernel,
  PCI_ANY_ID,
  type Device,
  type KernelModule,
  KernelLog,
  OfTree,
  PciDev,
  devIsPci,
  dmaMapSingle,
  dmaUnmapSingle,
  DMA_BIDIRECTIONAL,
  ofMapId,
  pciEnableDeviceMem,
  pciReadConfigWord,
  pciSetMaster,
} from '../src/index.js';
import { fakeIommuModule, newFakeState } from './iommu-fake.js';

// ------------------------------------------------------------------ of_map_id

const MAP_DTS = `/dts-v1/;
/ {
  #address-cells = <1>; #size-cells = <1>;
  smmu: iommu@1000 { reg = <0x1000 0x100>; #iommu-cells = <1>; };
  its: msi@2000 { reg = <0x2000 0x100>; #msi-cells = <1>; };
  pci@a { reg = <0xa 1>; iommu-map = <0x0 &smmu 0x100 0x10>, <0x100 &its 0x800 0x8>, <0x100 &smmu 0x900 0x8>; iommu-map-mask = <0xfff8>; };
  plain@b { reg = <0xb 1>; };
  badlen@c { reg = <0xc 1>; iommu-map = <0x0 &smmu 0x0>; };
  empty@d { reg = <0xd 1>; iommu-map; };
  maskbase@e { reg = <0xe 1>; iommu-map = <0x0 &smmu 0x0 0x10>, <0x7 &smmu 0x0 0x1>; iommu-map-mask = <0xfff8>; };
  nophandle@f { reg = <0xf 1>; iommu-map = <0x0 0x4242 0x0 0x10>; };
  wrap@10 { reg = <0x10 1>; iommu-map = <0xfffffff0 &smmu 0x0 0x20>; };
};`;

function mapTree() {
  const tree = new OfTree(parseDtb(compileDts(MAP_DTS)));
  const log = new KernelLog({ now: () => 0 } as never);
  const n = (p: string) => tree.findByPath(p)!;
  return { tree, log, n };
}

describe('of_map_id', () => {
  it('translates through the first covering entry after the mask: out-base + (masked id - id-base)', () => {
    const { n, log } = mapTree();
    const pci = n('/pci@a');
    const smmu = n('/iommu@1000');
    // 0x0d & 0xfff8 = 0x08: entry 0 -> 0x100 + 8
    expect(ofMapId(pci, 0x0d, 'iommu-map', 'iommu-map-mask', null, log)).toEqual({ target: smmu, id: 0x108 });
    // without the mask name the mask is all ones
    expect(ofMapId(pci, 0x0d, 'iommu-map', null, null, log)).toEqual({ target: smmu, id: 0x10d });
    // length: 0x10 IDs from 0; 0x10 is outside entry 0
    expect(ofMapId(pci, 0x0f, 'iommu-map', null, null, log)).toEqual({ target: smmu, id: 0x10f });
    // the first entry covering 0x103 points at the ITS; asked for the SMMU only, the third matches
    expect(ofMapId(pci, 0x103, 'iommu-map', 'iommu-map-mask', null, log)).toEqual({ target: n('/msi@2000'), id: 0x800 });
    expect(ofMapId(pci, 0x103, 'iommu-map', 'iommu-map-mask', smmu, log)).toEqual({ target: smmu, id: 0x900 });
    // the ID only (no target wanted)
    expect(ofMapId(pci, 0x0d, 'iommu-map', 'iommu-map-mask', undefined, log)).toEqual({ target: null, id: 0x108 });
    expect(log.all().filter((r) => r.level === 'debug')[0]!.msg).toBe(
      '/pci@a: iommu-map, using mask 0000fff8, id-base: 00000000, out-base: 00000100, length: 00000010, id: 0000000d -> 00000108',
    );
  });

  it('no entry covers the ID: 0, the ID unchanged and no target, with Linux\'s message', () => {
    const { n, log } = mapTree();
    expect(ofMapId(n('/pci@a'), 0x200, 'iommu-map', 'iommu-map-mask', null, log)).toEqual({ target: null, id: 0x200 });
    expect(log.all().at(-1)).toMatchObject({ level: 'info', who: 'OF', msg: '/pci@a: no iommu-map translation for id 0x200 on (null)' });
    // with a target filter the message names it
    ofMapId(n('/pci@a'), 0x200, 'iommu-map', 'iommu-map-mask', n('/iommu@1000'), log);
    expect(log.all().at(-1)!.msg).toBe('/pci@a: no iommu-map translation for id 0x200 on /iommu@1000');
    // an id-base + length that wraps past 2^32 matches nothing (u32 arithmetic)
    expect(ofMapId(n('/wrap@10'), 0xfffffff4, 'iommu-map', null, null, log)).toEqual({ target: null, id: 0xfffffff4 });
  });

  it('no map: -ENODEV when a target is wanted, else the ID passes through', () => {
    const { n } = mapTree();
    expect(ofMapId(n('/plain@b'), 5, 'iommu-map', 'iommu-map-mask', null)).toBe(-ENODEV);
    expect(ofMapId(n('/plain@b'), 5, 'iommu-map', 'iommu-map-mask', undefined)).toEqual({ target: null, id: 5 });
  });

  it('malformed maps: bad length -EINVAL, a mask that drops id-base bits -EFAULT, an unknown phandle -ENODEV', () => {
    const { n, log } = mapTree();
    expect(ofMapId(n('/badlen@c'), 0, 'iommu-map', null, null, log)).toBe(-EINVAL);
    expect(log.all().at(-1)).toMatchObject({ level: 'err', msg: '/badlen@c: Error: Bad iommu-map length: 12' });
    expect(ofMapId(n('/empty@d'), 0, 'iommu-map', null, null, log)).toBe(-EINVAL);
    expect(log.all().at(-1)!.msg).toBe('/empty@d: Error: Bad iommu-map length: 0');
    // entry 0 matches 0x3 first; 0x7's entry is only reached for IDs entry 0 does not cover, but
    // the id-base check runs entry by entry before the range check
    expect(ofMapId(n('/maskbase@e'), 0x3, 'iommu-map', 'iommu-map-mask', null, log)).toEqual({ target: n('/iommu@1000'), id: 0 });
    expect(ofMapId(n('/maskbase@e'), 0x13, 'iommu-map', 'iommu-map-mask', null, log)).toBe(-EFAULT);
    expect(log.all().at(-1)!.msg).toBe('/maskbase@e: Invalid iommu-map translation - iommu-map-mask (0xfff8) ignores id-base (0x7)');
    expect(ofMapId(n('/nophandle@f'), 1, 'iommu-map', null, null, log)).toBe(-ENODEV);
    expect(ofMapId(n('/pci@a'), -1, 'iommu-map', null, null, log)).toBe(-EINVAL);
  });
});

// ------------------------------------------------------------------ enumeration

/** A BAR of the fake: its size and low type bits (PCI 3.0 6.2.5.1). */
interface FakeBar {
  size: number;
  type: number;
}

/** One function of the hand-built config space: raw header dwords and BAR definitions. */
class FakeFunction {
  readonly regs = new Uint32Array(64);
  readonly bars: (FakeBar | null)[] = [null, null, null, null, null, null];
  constructor(vendor: number, device: number, classCode: number, header: number) {
    this.regs[0] = ((device << 16) | vendor) >>> 0;
    this.regs[2] = ((classCode << 8) | 2) >>> 0;
    this.regs[3] = header << 16;
  }
  bar(i: number, size: number, type: number): this {
    this.bars[i] = { size, type };
    this.regs[4 + i] = type;
    if (type & 4) this.bars[i + 1] = { size: 0, type: -1 }; // the upper half
    return this;
  }
  read(reg: number): number {
    return this.regs[reg >>> 2]!;
  }
  write(reg: number, v: number): void {
    const i = reg >>> 2;
    if (i === 1) this.regs[1] = v & 0x0547;
    else if (i >= 4 && i < 10) {
      const b = this.bars[i - 4];
      if (!b) return;
      if (b.type === -1) {
        const lo = this.bars[i - 5]!;
        this.regs[i] = lo.size > 2 ** 32 ? v & ~((lo.size / 2 ** 32) - 1) : v;
      } else this.regs[i] = ((v & ~(b.size - 1) & ~0xf) | b.type) >>> 0;
    }
  }
}

class FakeEcam implements MmioDevice {
  readonly name = 'fake-ecam';
  readonly fns = new Map<number, FakeFunction>();
  reads = 0;
  read32(off: number): number {
    this.reads++;
    const f = this.fns.get(off >>> 12);
    return f ? f.read(off & 0xfff) : 0xffffffff;
  }
  write32(off: number, v: number): void {
    this.fns.get(off >>> 12)?.write(off & 0xfff, v);
  }
}

const ECAM_DTS = (host: string) => `/dts-v1/;
/ {
  #address-cells = <2>; #size-cells = <2>;
  memory@80000000 { device_type = "memory"; reg = <0 0x80000000 0 0x1000000>; };
  smmu: iommu@2b400000 { compatible = "gki,fake-iommu"; reg = <0 0x2b400000 0 0x20000>; #iommu-cells = <1>; };
  pcie@40000000 {
    compatible = "pci-host-ecam-generic"; device_type = "pci";
    #address-cells = <3>; #size-cells = <2>;
    reg = <0 0x40000000 0 0x200000>;
    ranges = <0x02000000 0x0 0x10000000 0x0 0x50000000 0x0 0x100000>,
             <0x43000000 0x1 0x00000000 0x1 0x00000000 0x0 0x1000000>;
    ${host}
  };
};`;

function bootEcam(host: string, fill: (e: FakeEcam) => void, load: string[] = []): { k: Kernel; ecam: FakeEcam; st: ReturnType<typeof newFakeState> } {
  const board = Board.fromDtb(compileDts(ECAM_DTS(host)), { models: false });
  const ecam = new FakeEcam();
  fill(ecam);
  board.bus.map(0x4000_0000, 0x20_0000, ecam);
  const st = newFakeState();
  const k = Kernel.boot(board, { builtin: [], modules: [fakeIommuModule(st)], load });
  return { k, ecam, st };
}

/** ECAM index of bus/device/function: bus << 8 | dev << 3 | fn (4 KiB each). */
const at = (bus: number, dev: number, fn: number) => (bus << 8) | (dev << 3) | fn;

describe('PCI enumeration of a generic ECAM host', () => {
  function standard(e: FakeEcam): void {
    // 00:00.0 multi-function, with functions 1 and 3
    e.fns.set(at(0, 0, 0), new FakeFunction(0x1af4, 0x1000, 0x020000, 0x80).bar(0, 0x10000, 0x0).bar(2, 0x200000, 0xc));
    e.fns.set(at(0, 0, 1), new FakeFunction(0x1af4, 0x1001, 0x010802, 0x00).bar(0, 0x1000, 0x4));
    e.fns.set(at(0, 0, 3), new FakeFunction(0x1af4, 0x1002, 0x0c0330, 0x00));
    // 00:02.0 single-function: its function 1 must not be looked at
    e.fns.set(at(0, 2, 0), new FakeFunction(0x8086, 0x1234, 0xff0000, 0x00));
    e.fns.set(at(0, 2, 1), new FakeFunction(0x8086, 0x1235, 0xff0000, 0x00));
    // 00:03.x: no function 0, so nothing
    e.fns.set(at(0, 3, 1), new FakeFunction(0x8086, 0x1236, 0xff0000, 0x00));
    // 00:04.0 a PCI bridge (type 1); 00:05.0 an unknown header type
    e.fns.set(at(0, 4, 0), new FakeFunction(0x10de, 0x0001, 0x060400, 0x01));
    e.fns.set(at(0, 5, 0), new FakeFunction(0x10de, 0x0002, 0xff0000, 0x7e));
    // bus 1 exists in config space but is outside a bus-range of 0-0
    e.fns.set(at(1, 0, 0), new FakeFunction(0x1af4, 0x1003, 0xff0000, 0x00));
  }

  it('finds the functions Linux finds, names them, sizes and assigns their BARs, logs as Linux does', () => {
    const { k, ecam } = bootEcam('bus-range = <0x0 0x0>;', standard);
    const names = k.drivers.allDevices().filter(devIsPci).map((d) => d.name);
    expect(names).toEqual(['0000:00:00.0', '0000:00:00.1', '0000:00:00.3', '0000:00:02.0', '0000:00:04.0']);
    const d0 = k.drivers.findDevice('0000:00:00.0') as PciDev;
    expect([d0.vendor, d0.deviceId, d0.classCode, d0.revision, d0.multifunction, d0.rid, d0.parent?.name]).toEqual([0x1af4, 0x1000, 0x020000, 2, true, 0, '40000000.pcie']);
    // 64 KiB 32-bit BAR0 and a 2 MiB 64-bit prefetchable BAR2 (BAR3 is its upper half)
    expect(d0.bars.map((b) => [b.bar, b.size, b.is64, b.prefetch, b.assigned])).toEqual([
      [0, 0x10000, false, false, true],
      [2, 0x200000, true, true, true],
    ]);
    // non-prefetchable BARs from the 32-bit window at CPU 0x50000000 (PCI 0x10000000); the
    // prefetchable one from the 64-bit prefetchable window
    expect(d0.bars[0]!.start).toBe(0x5000_0000);
    expect(d0.bars[1]!.start).toBe(0x1_0000_0000);
    // what the function holds is the PCI bus address, with its type bits
    expect(ecam.fns.get(at(0, 0, 0))!.regs[4]).toBe(0x1000_0000);
    expect([ecam.fns.get(at(0, 0, 0))!.regs[6], ecam.fns.get(at(0, 0, 0))!.regs[7]]).toEqual([0xc, 1]);
    const d1 = k.drivers.findDevice('0000:00:00.1') as PciDev;
    expect([d1.bars[0]!.start, d1.bars[0]!.size, d1.bars[0]!.is64]).toEqual([0x5001_0000, 0x1000, true]);
    const msgs = k.log.all().map((r) => `${r.who}: ${r.msg}`);
    for (const line of [
      'pci-host-generic 40000000.pcie: host bridge /pcie@40000000 ranges:',
      'pci-host-generic 40000000.pcie:      MEM 0x0050000000..0x00500fffff -> 0x0010000000',
      'pci-host-generic 40000000.pcie: ECAM at [mem 0x40000000-0x400fffff] for [bus 00]'.replace('[bus 00]', '[bus 00-00]'),
      'pci-host-generic 40000000.pcie: PCI host bridge to bus 0000:00',
      'pci_bus 0000:00: root bus resource [bus 00-00]',
      'pci_bus 0000:00: root bus resource [mem 0x50000000-0x500fffff] (bus address [0x10000000-0x100fffff])',
      'pci 0000:00:00.0: [1af4:1000] type 00 class 0x020000 conventional PCI endpoint',
      'pci 0000:00:00.0: BAR 0 [mem 0x00000000-0x0000ffff]',
      'pci 0000:00:00.0: BAR 2 [mem 0x00000000-0x001fffff 64bit pref]',
      'pci 0000:00:00.0: BAR 2 [mem 0x100000000-0x1001fffff 64bit pref]: assigned',
      'pci 0000:00:04.0: [10de:0001] type 01 class 0x060400 conventional PCI bridge',
      'pci 0000:00:05.0: unknown header type 7e, ignoring device',
    ])
      expect(msgs).toContain(line);
    // enumeration left decoding off; a driver turns it on
    expect(pciReadConfigWord(d0, 4)).toBe(0);
    expect(pciEnableDeviceMem(d0)).toBe(0);
    pciSetMaster(d0);
    expect(pciReadConfigWord(d0, 4) & 0x6).toBe(0x6);
    // no iommu-map: not behind an IOMMU
    expect(k.iommu.fwspec(d0)).toBeUndefined();
  });

  it('cuts a bus range the ECAM window cannot hold, and scans the buses it keeps', () => {
    const { k } = bootEcam('bus-range = <0x0 0xff>; linux,pci-domain = <3>;', standard);
    expect(k.log.all().some((r) => r.level === 'warn' && r.msg === 'ECAM area [mem 0x40000000-0x401fffff] can only accommodate [bus 00-01] (reduced from [bus 00-ff] desired)')).toBe(true);
    // the root bus only (no bridges are followed): bus 1's function is not a child of the root bus
    const names = k.drivers.allDevices().filter(devIsPci).map((d) => d.name);
    expect(names[0]).toBe('0003:00:00.0');
    expect(names).not.toContain('0003:01:00.0');
  });

  it('without bus-range uses 00-ff as Linux does, saying so', () => {
    const { k } = bootEcam('', standard);
    expect(k.log.all().some((r) => r.msg === `  No bus range found for /pcie@40000000, using [bus 00-ff]`)).toBe(true);
  });
});

// ------------------------------------------------------------------ IOMMU configuration

describe('of_iommu for PCI functions', () => {
  const two = (e: FakeEcam) => {
    e.fns.set(at(0, 1, 0), new FakeFunction(0x1af4, 0x1000, 0xff0000, 0x00));
    e.fns.set(at(0, 2, 0), new FakeFunction(0x1af4, 0x1001, 0xff0000, 0x00));
  };

  it('the fwspec holds the requester ID mapped through iommu-map; the function waits for its IOMMU driver', () => {
    // RIDs 0x08 and 0x10; the map covers 0x00..0x0f only
    const { k, st } = bootEcam('bus-range = <0 0>; iommu-map = <0x0 &smmu 0x40 0x10>;', two, ['fake_iommu']);
    const a = k.drivers.findDevice('0000:00:01.0')!;
    const b = k.drivers.findDevice('0000:00:02.0')!;
    // the host probed at the device initcall, before the IOMMU module: the IOMMU's registration configured 01.0
    expect(k.iommu.fwspec(a)).toEqual({ iommuFwnode: k.of.findNodeByPath('/iommu@2b400000'), ids: [0x48] });
    expect(st.probed).toEqual(['0000:00:01.0']);
    expect(k.iommu.groupOf(a)).toBeDefined();
    // 0x10 is outside every entry: no IOMMU, and of_map_id said so
    expect(k.iommu.fwspec(b)).toBeUndefined();
    expect(k.iommu.groupOf(b)).toBeUndefined();
    expect(k.log.all().some((r) => r.who === 'OF' && r.msg === '/pcie@40000000: no iommu-map translation for id 0x10 on (null)')).toBe(true);
    // DMA: IOVAs from the default domain for 01.0, physical addresses for 02.0 (dma-direct)
    const pa = k.pages.allocPages(0);
    const ia = dmaMapSingle(a, pa, 64, DMA_BIDIRECTIONAL);
    const ib = dmaMapSingle(b, pa, 64, DMA_BIDIRECTIONAL);
    expect(ia).not.toBe(pa);
    expect(st.domains[0]!.pt.get(ia - (ia % 0x1000))?.pa).toBe(pa);
    expect(ib).toBe(pa);
    expect(dmaUnmapSingle(a, ia, 64, DMA_BIDIRECTIONAL)).toBe(0);
    expect(dmaUnmapSingle(b, ib, 64, DMA_BIDIRECTIONAL)).toBe(0);
    k.pages.freePages(pa, 0);
  });

  it('a PCI driver defers until the IOMMU registers, then probes with the function in its group; a disabled node is never matched', () => {
    const host = `bus-range = <0 0>; iommu-map = <0x0 &smmu 0x40 0x100>;
      ep@2,0 { reg = <0x1000 0 0 0 0>; status = "disabled"; };`;
    const board = Board.fromDtb(compileDts(ECAM_DTS(host)), { models: false });
    const ecam = new FakeEcam();
    two(ecam);
    board.bus.map(0x4000_0000, 0x20_0000, ecam);
    const st = newFakeState();
    const probes: string[] = [];
    const pciDrv = {
      name: 'test-pci',
      idTable: [{ vendor: 0x1af4, device: PCI_ANY_ID }],
      probe(d: Device): number {
        probes.push(`${d.name} group=${d.core.kernel.iommu.groupOf(d) ? 'yes' : 'no'}`);
        return 0;
      },
    };
    const mod: KernelModule = {
      name: 'test_pci',
      version: '0.0.1',
      license: 'GPL v2',
      init: (ctx) => ctx.kernel.pci.registerDriver(pciDrv),
      exit: (ctx) => void ctx.kernel.drivers.unregisterDriver(pciDrv),
    };
    // the PCI driver loads before the IOMMU driver: its probe of 01.0 must wait
    const k = Kernel.boot(board, { builtin: [], modules: [mod, fakeIommuModule(st)], load: ['test_pci', 'fake_iommu'] });
    const a = k.drivers.findDevice('0000:00:01.0')!;
    const b = k.drivers.findDevice('0000:00:02.0') as PciDev;
    expect(b.ofNode?.fullName).toBe('/pcie@40000000/ep@2,0');
    expect(b.matchDriver).toBe(false);
    expect(probes).toEqual(['0000:00:01.0 group=yes']);
    expect([a.state, a.driver?.name, b.state, b.driver]).toEqual(['bound', 'test-pci', 'unbound', null]);
    // the disabled function is enumerated and behind its IOMMU all the same
    expect(k.iommu.fwspec(b)?.ids).toEqual([0x50]);
    // before the IOMMU registered the probe was deferred for it
    expect(k.log.all().some((r) => r.who === 'test-pci 0000:00:01.0' && /waiting for its IOMMU driver/.test(r.msg))).toBe(true);
  });

  it('an IOMMU that never registers leaves the functions without one', () => {
    const { k, st } = bootEcam('bus-range = <0 0>; iommu-map = <0x0 &smmu 0x40 0x100>;', two, []);
    expect(st.probed).toEqual([]);
    for (const n of ['0000:00:01.0', '0000:00:02.0']) expect(k.iommu.groupOf(k.drivers.findDevice(n)!)).toBeUndefined();
  });

  it('a malformed iommu-map leaves the functions without an IOMMU and is reported', () => {
    const { k, st } = bootEcam('bus-range = <0 0>; iommu-map = <0x0 &smmu 0x40>;', two, ['fake_iommu']);
    expect(st.probed).toEqual([]);
    expect(k.log.all().some((r) => r.level === 'err' && r.msg === '/pcie@40000000: Error: Bad iommu-map length: 12')).toBe(true);
  });
});
