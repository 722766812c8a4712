/**
 * A bus master port (the board's test probe, what a PCI function uses) and the DMA test master,
 * given an address that is not one (negative, beyond 2^53, NaN, a BigInt from code that keeps
 * descriptors as BigInts): a RangeError that names what was passed, a BigInt as a BigInt, and
 * nothing counted or changed.
 */
import { describe, expect, it } from 'vitest';
import { Board, compileDts, DmaMaster } from '../src/index.js';

const DTS = `/dts-v1/;
/ {
  #address-cells = <1>; #size-cells = <1>;
  interrupt-parent = <&gic>;
  gic: interrupt-controller@8000000 { compatible = "arm,gic-400"; interrupt-controller; #interrupt-cells = <3>;
    reg = <0x08000000 0x1000>, <0x08010000 0x1000>; };
  memory@40000000 { device_type = "memory"; reg = <0x40000000 0x1000000>; };
  dma@9000000 { compatible = "gki,dma-master"; reg = <0x09000000 0x1000>; interrupts = <0 10 4>; };
  pci@10000000 { compatible = "pci-host-ecam-generic"; device_type = "pci"; reg = <0x10000000 0x100000>;
    bus-range = <0 0>; #address-cells = <3>; #size-cells = <2>; ranges = <0x02000000 0 0x20000000 0x20000000 0 0x1000000>; };
};`;

describe('bus addresses that are not numbers', () => {
  it('BusMasterPort.read/write: a RangeError naming the value, nothing counted', () => {
    const board = Board.fromDtb(compileDts(DTS));
    const port = board.masterPortForRid('/pci@10000000', 0x08)!;
    const buf = new Uint8Array(8);
    board.bus.write32(0x1000_8004, 0x4); // 00:01.0: bus master enable
    expect(port.read(0x4000_0000, buf)).toBe(0);
    const [reads, writes] = [port.reads, port.writes];
    expect(() => port.read(0x4000_0000n as unknown as number, buf)).toThrow(new RangeError(`${port.name}: 1073741824n (a BigInt; bus addresses are numbers) is not a bus address`));
    expect(() => port.write(-1, buf)).toThrow(new RangeError(`${port.name}: -1 is not a bus address`));
    expect(() => port.read(NaN, buf)).toThrow(RangeError);
    expect(() => port.write(2 ** 60, buf)).toThrow(RangeError);
    expect([port.reads, port.writes]).toEqual([reads, writes]);
  });

  it('DmaMaster.copy: a BigInt source is named as one', () => {
    const board = Board.fromDtb(compileDts(DTS));
    const m = board.modelsOfType(DmaMaster)[0]!;
    expect(() => m.copy(0x4000_0000n as unknown as number, 0x4000_1000, 16)).toThrow(/source 1073741824n \(a BigInt; bus addresses are numbers\) is not a bus address/);
  });
});
