/**
 * A memory bank that reaches beyond the 52-bit physical address space (a typo in a user's tree,
 * or what the soak's DTB fuzzer made: reg = <0x0 0x40000000 0x100000 0x0>): arm64's memblock
 * drops the part above the PA space with a warning and boots on the rest; Board.fromDtb used to
 * throw a RangeError from the RAM model instead of building (or refusing with an FdtError).
 */
import { describe, expect, it } from 'vitest';
import { Board, compileDts, FdtError } from '../src/index.js';

const tree = (memory: string) => `/dts-v1/;
/ {
  #address-cells = <2>; #size-cells = <2>;
  ${memory}
};`;

describe('RAM beyond the 52-bit physical address space', () => {
  it('a bank that crosses the top is clipped to it, with a warning naming the range dropped', () => {
    const b = Board.fromDtb(compileDts(tree('memory@40000000 { device_type = "memory"; reg = <0x0 0x40000000 0x100000 0x0>; };')));
    expect(b.mem.regions).toEqual([{ base: 0x4000_0000, size: 2 ** 52 - 0x4000_0000 }]);
    expect(b.notes.map((n) => n.message)).toContain('Ignoring memory range 0x10000000000000 - 0x10000040000000 (beyond the 52-bit physical address space)');
  });

  it('a bank wholly above it is dropped; with nothing left the tree is refused with an FdtError', () => {
    const two = Board.fromDtb(
      compileDts(tree('memory@40000000 { device_type = "memory"; reg = <0x0 0x40000000 0x0 0x1000000>, <0x100000 0x0 0x0 0x1000000>; };')),
    );
    expect(two.mem.regions).toEqual([{ base: 0x4000_0000, size: 0x100_0000 }]);
    expect(() => Board.fromDtb(compileDts(tree('memory@10000000000000 { device_type = "memory"; reg = <0x100000 0x0 0x0 0x1000000>; };')))).toThrow(FdtError);
  });
});
