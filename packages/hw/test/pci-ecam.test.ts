/**
 * The ECAM host bridge model, anchored on the PCI specifications: ECAM offsets
 * ((bus - first bus) << 20 | device << 15 | function << 12), all ones for a function that does
 * not exist, the type 0 header (vendor/device, command, class, header type with the
 * multi-function bit, 64-bit memory BAR sizing by writing all ones), bus master enable gating
 * the function's DMA; and on the PCI IOMMU binding: the function's stream ID is its requester
 * ID through `iommu-map` after `iommu-map-mask`.
 */
import { describe, expect, it } from 'vitest';
import {
  Board,
  compileDts,
  PCI_CMD_BUS_MASTER,
  PCI_CMD_MEMORY_SPACE,
  PCI_TEST_ENDPOINT_DEVICE,
  PCI_TEST_ENDPOINT_VENDOR,
  PciEcamHost,
  PORT_DISABLED,
  PORT_OK,
  SmmuV3,
} from '../src/index.js';

const ECAM = 0x4000_0000;

function dts(hostExtra: string, children = ''): string {
  return `/dts-v1/;
/ {
  #address-cells = <2>; #size-cells = <2>;
  memory@80000000 { device_type = "memory"; reg = <0 0x80000000 0 0x1000000>; };
  smmu: iommu@2b400000 { compatible = "arm,smmu-v3"; reg = <0 0x2b400000 0 0x100000>; #iommu-cells = <1>; };
  pci@40000000 {
    compatible = "pci-host-ecam-generic"; device_type = "pci";
    #address-cells = <3>; #size-cells = <2>;
    reg = <0 0x40000000 0 0x1000000>;
    ranges = <0x2000000 0x0 0x50000000 0x0 0x50000000 0x0 0x10000000>;
    ${hostExtra}
    ${children}
  };
};
`;
}

function ecam(bus: number, dev: number, fn: number, reg: number): number {
  return ECAM + (bus << 20) + (dev << 15) + (fn << 12) + reg;
}

describe('pci-host-ecam-generic model', () => {
  it('serves a type 0 header for the default test endpoint at 00:01.0 and all ones elsewhere', () => {
    const board = Board.fromDtb(compileDts(dts('bus-range = <0x0 0xff>; iommu-map = <0x0 &smmu 0x0 0x10000>;')));
    const host = board.models.get('/pci@40000000') as PciEcamHost;
    expect(host).toBeInstanceOf(PciEcamHost);
    // the 16 MiB window holds 16 buses: the bus range is cut to what it decodes
    expect([host.busStart, host.busEnd]).toEqual([0, 15]);
    const bus = board.bus;
    expect(bus.read32(ecam(0, 1, 0, 0))).toBe(((PCI_TEST_ENDPOINT_DEVICE << 16) | PCI_TEST_ENDPOINT_VENDOR) >>> 0);
    // nothing at 00:00.0, at 00:01.1 or on bus 1: a master abort reads all ones
    expect(bus.read32(ecam(0, 0, 0, 0))).toBe(0xffffffff);
    expect(bus.read32(ecam(0, 1, 1, 0))).toBe(0xffffffff);
    expect(bus.read32(ecam(1, 1, 0, 0))).toBe(0xffffffff);
    bus.write32(ecam(0, 0, 0, 4), 0xffff); // dropped
    // class code in bits 31:8, revision 7:0; header type 0, single function
    expect(bus.read32(ecam(0, 1, 0, 8)) >>> 8).toBe(0xff0000);
    expect((bus.read32(ecam(0, 1, 0, 0xc)) >>> 16) & 0xff).toBe(0);
    // command register: at reset no decoding and no bus mastering
    expect(bus.read32(ecam(0, 1, 0, 4)) & 0xffff).toBe(0);
    bus.write32(ecam(0, 1, 0, 4), 0xffff);
    expect(bus.read32(ecam(0, 1, 0, 4)) & 0x7).toBe(PCI_CMD_MEMORY_SPACE | PCI_CMD_BUS_MASTER); // no I/O space BAR: IO enable reads 0
    // extended configuration space: no capabilities
    expect(bus.read32(ecam(0, 1, 0, 0x100))).toBe(0);
  });

  it('sizes a 64-bit memory BAR by the all-ones write and keeps what software assigns', () => {
    const board = Board.fromDtb(compileDts(dts('')));
    const bus = board.bus;
    const bar0 = ecam(0, 1, 0, 0x10);
    // type bits: memory (bit 0 clear), 64-bit (bits 2:1 = 10b), not prefetchable (bit 3 clear)
    expect(bus.read32(bar0) & 0xf).toBe(0x4);
    bus.write32(bar0, 0xffffffff);
    bus.write32(bar0 + 4, 0xffffffff);
    // 4 KiB: address bits 11:4 hardwired to zero
    expect(bus.read32(bar0)).toBe(0xfffff004);
    expect(bus.read32(bar0 + 4)).toBe(0xffffffff);
    bus.write32(bar0, 0x5000_0000);
    bus.write32(bar0 + 4, 0x1);
    expect(bus.read32(bar0)).toBe(0x5000_0004);
    const fn = (board.models.get('/pci@40000000') as PciEcamHost).functionAt(0x08)!;
    expect(fn.bar0Address).toBe(0x1_5000_0000);
    // BAR2..5 are absent (hardwired to zero): they read zero whatever is written
    bus.write32(ecam(0, 1, 0, 0x18), 0xffffffff);
    expect(bus.read32(ecam(0, 1, 0, 0x18))).toBe(0);
  });

  it('DMA goes out with the stream ID iommu-map gives, only while bus master enable is set', () => {
    const board = Board.fromDtb(compileDts(dts('iommu-map-mask = <0xfff8>; iommu-map = <0x0 &smmu 0x100 0x40>;')));
    const host = board.models.get('/pci@40000000') as PciEcamHost;
    const smmu = board.models.get('/iommu@2b400000') as SmmuV3;
    const fn = host.functionAt(0x08)!;
    expect([fn.iommu, fn.streamId]).toEqual(['/iommu@2b400000', 0x108]);
    const port = board.masterPortForRid('/pci@40000000', 0x08)!;
    expect(port).toBe(fn.port);
    expect(smmu.attachedMasters).toContain(port);
    const buf = new Uint8Array(8);
    // bus master enable clear: the function issues nothing (the SMMU sees no transaction)
    const t0 = smmu.stats.translations;
    expect(port.read(0x8000_0000, buf)).toBe(PORT_DISABLED);
    expect(smmu.stats.translations).toBe(t0);
    board.bus.write32(ecam(0, 1, 0, 4), PCI_CMD_BUS_MASTER);
    // the SMMU at reset (SMMUEN clear) lets it through by its bypass attribute
    board.mem.writeBytes(0x8000_0000, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
    expect(port.read(0x8000_0000, buf)).toBe(PORT_OK);
    expect([...buf]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    board.bus.write32(ecam(0, 1, 0, 4), 0);
    expect(port.read(0x8000_0000, buf)).toBe(PORT_DISABLED);
  });

  it('a requester ID outside every iommu-map entry reaches memory untranslated', () => {
    const board = Board.fromDtb(compileDts(dts('iommu-map = <0x0 &smmu 0x0 0x8>;')));
    const fn = (board.models.get('/pci@40000000') as PciEcamHost).functionAt(0x08)!;
    expect([fn.iommu, fn.streamId]).toEqual(['', -1]);
    expect(fn.port!.iommu).toBe('');
    expect((board.models.get('/iommu@2b400000') as SmmuV3).attachedMasters).not.toContain(fn.port);
    board.bus.write32(ecam(0, 1, 0, 4), PCI_CMD_BUS_MASTER);
    board.mem.writeBytes(0x8000_1000, new Uint8Array([9, 9]));
    const got = new Uint8Array(2);
    expect(fn.port!.read(0x8000_1000, got)).toBe(PORT_OK);
    expect([...got]).toEqual([9, 9]);
  });

  it('takes its functions from child nodes (pciVVVV,DDDD, pciclass, disabled ones too) and sets the multi-function bit', () => {
    const children = `
      ethernet@0,0 { compatible = "pci1957,e100", "fsl,enetc"; reg = <0x000000 0 0 0 0>; status = "disabled"; };
      ethernet@0,2 { compatible = "pci1957,e100", "pciclass,020000"; reg = <0x000200 0 0 0 0>; };
      rcec@1f,0 { reg = <0x00f800 0 0 0 0>; };
      ports { #address-cells = <1>; };`;
    const board = Board.fromDtb(compileDts(dts('bus-range = <0x0 0x0>; iommu-map = <0 &smmu 0x17 0xe>;', children)));
    const host = board.models.get('/pci@40000000') as PciEcamHost;
    expect(host.functions().map((f) => f.rid)).toEqual([0x00, 0x02, 0xf8]);
    expect([host.busStart, host.busEnd]).toEqual([0, 0]);
    const bus = board.bus;
    expect(bus.read32(ecam(0, 0, 0, 0))).toBe(0xe1001957);
    expect(bus.read32(ecam(0, 0, 2, 8)) >>> 8).toBe(0x020000);
    // function 0 of device 0 has a sibling: multi-function; device 0x1f has one function
    expect((bus.read32(ecam(0, 0, 0, 0xc)) >>> 16) & 0x80).toBe(0x80);
    expect((bus.read32(ecam(0, 0x1f, 0, 0xc)) >>> 16) & 0x80).toBe(0);
    expect(host.functionAt(0x02)!.streamId).toBe(0x19);
    // 0xf8 is outside the 14 IDs the map covers
    expect(host.functionAt(0xf8)!.iommu).toBe('');
  });

  it('gki,pci-endpoints overrides the default; bad entries are rejected naming the host', () => {
    const board = Board.fromDtb(compileDts(dts('gki,pci-endpoints = <0x10 0x00011af4 0x010000>, <0x11 0x00021af4 0x020000>;')));
    const host = board.models.get('/pci@40000000') as PciEcamHost;
    expect(host.functions().map((f) => [f.rid, f.vendor, f.device, f.classCode])).toEqual([
      [0x10, 0x1af4, 0x0001, 0x010000],
      [0x11, 0x1af4, 0x0002, 0x020000],
    ]);
    expect(Board.fromDtb(compileDts(dts('gki,pci-endpoints;'))).models.get('/pci@40000000')).toBeInstanceOf(PciEcamHost);
    expect((Board.fromDtb(compileDts(dts('gki,pci-endpoints;'))).models.get('/pci@40000000') as PciEcamHost).functions()).toEqual([]);
    expect(() => Board.fromDtb(compileDts(dts('gki,pci-endpoints = <0x10 0xffff 0>;')))).toThrow(/pci@40000000.*vendor/);
    expect(() => Board.fromDtb(compileDts(dts('gki,pci-endpoints = <0x10 0x00011af4>;')))).toThrow(/triples/);
    // a requester ID on a bus the window does not decode
    expect(() => Board.fromDtb(compileDts(dts('gki,pci-endpoints = <0x2000 0x00011af4 0>;')))).toThrow(/outside the bus range/);
  });

  it('a window over RAM leaves the bridge unmodelled with a note; a bus-range it cannot parse means 0-255', () => {
    const over = dts('').replace('reg = <0 0x40000000 0 0x1000000>;', 'reg = <0 0x80000000 0 0x100000>;');
    const b1 = Board.fromDtb(compileDts(over));
    expect(b1.models.has('/pci@40000000')).toBe(false);
    expect(b1.notes.some((n) => n.level === 'warn' && /pci@40000000: ECAM window not modelled/.test(n.message))).toBe(true);
    const b2 = Board.fromDtb(compileDts(dts('bus-range = <0x5 0x2>;')));
    const host = b2.models.get('/pci@40000000') as PciEcamHost;
    expect([host.busStart, host.busEnd]).toEqual([0, 15]);
    expect(b2.notes.some((n) => /bus-range is not/.test(n.message))).toBe(true);
  });
});
