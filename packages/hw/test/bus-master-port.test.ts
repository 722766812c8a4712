/**
 * The board's bus master port: made on demand for a node with an `iommus` specifier (or a PCI
 * requester ID through a host bridge's `iommu-map`) and no model of its own, attached to the
 * SMMU model the specifier names, with the specifier's StreamID. Anchored on the device-tree
 * bindings (iommus, #iommu-cells, iommu-map, iommu-map-mask) and the SMMU architecture (sCR0
 * CLIENTPD bypasses every stream; with USFCFG an unmatched stream is a global fault).
 */
import { describe, expect, it } from 'vitest';
import { Board, compileDts, PORT_FAULT, PORT_OK, PORT_TERMINATED, SmmuV2 } from '../src/index.js';

const DTS = `/dts-v1/;
/ {
  #address-cells = <2>; #size-cells = <2>;
  memory@80000000 { device_type = "memory"; reg = <0 0x80000000 0 0x1000000>; };
  smmu: iommu@15000000 {
    compatible = "arm,mmu-500"; reg = <0 0x15000000 0 0x100000>;
    #iommu-cells = <2>; #global-interrupts = <1>;
  };
  ufs@1d84000 { compatible = "vendor,ufs"; reg = <0 0x1d84000 0 0x3000>; iommus = <&smmu 0xe0 0x0>, <&smmu 0x4e0 0x0>; };
  sdhci@8804000 { compatible = "vendor,sdhci"; reg = <0 0x8804000 0 0x1000>; iommus = <&smmu 0xa0 0xf>; };
  plain@1000 { compatible = "vendor,plain"; reg = <0 0x1000 0 0x100>; };
  pcie@40000000 {
    compatible = "pci-host-ecam-generic"; device_type = "pci"; reg = <0 0x40000000 0 0x1000000>;
    #address-cells = <3>; #size-cells = <2>;
    iommu-map-mask = <0xfff8>;
    iommu-map = <0x0 &smmu 0x100 0x0 0x100>, <0x100 &smmu 0x800 0x0 0x10>;
  };
};
`;

describe('BusMasterPort', () => {
  it('is made on demand from iommus: first cell of each entry for the SMMU, the first is what transactions carry', () => {
    const board = Board.fromDtb(compileDts(DTS));
    const port = board.masterPort('/ufs@1d84000')!;
    expect([...port.streamIds]).toEqual([0xe0, 0x4e0]);
    expect(port.streamId).toBe(0xe0);
    expect(port.iommu).toBe('/iommu@15000000');
    expect(board.masterPort('/ufs@1d84000')).toBe(port); // one port per device
    expect(board.models.has('/ufs@1d84000')).toBe(false); // a probe, not a device model
    expect((board.models.get('/iommu@15000000') as SmmuV2).attachedMasters).toContain(port);
    expect(board.masterPort('/plain@1000')).toBeUndefined();
    // a 2-cell specifier's mask: the ID with the masked bits set is a stream the device may issue too
    const sd = board.masterPort('/sdhci@8804000')!;
    expect([[...sd.streamIds], [...sd.maskVariants]]).toEqual([[0xa0, 0xaf], [0xaf]]);
    expect(sd.useStream(1).activeStreamId).toBe(0xaf);
    expect(() => sd.useStream(2)).toThrow(RangeError);
    expect(() => board.masterPort('/iommu@15000000')).toThrow(/device model of its own/);
    expect(() => board.masterPort('/nope')).toThrow(/no such node/);
  });

  it('goes through the SMMU model: bypass at reset (CLIENTPD), a global fault for an unmatched stream with USFCFG', () => {
    const board = Board.fromDtb(compileDts(DTS));
    const smmu = board.models.get('/iommu@15000000') as SmmuV2;
    const port = board.masterPort('/ufs@1d84000')!;
    const pa = 0x8000_0ffc; // crosses a 4 KiB boundary
    board.mem.writeBytes(pa, new Uint8Array([9, 8, 7, 6, 5, 4, 3, 2]));
    const got = new Uint8Array(8);
    expect(port.read(pa, got)).toBe(PORT_OK);
    expect([...got]).toEqual([9, 8, 7, 6, 5, 4, 3, 2]);
    expect(port.write(pa + 2, new Uint8Array([0xaa, 0xbb]))).toBe(PORT_OK);
    expect([...board.mem.readBytes(pa, 4)]).toEqual([9, 8, 0xaa, 0xbb]);
    const t = smmu.stats.translations;
    expect(t).toBeGreaterThanOrEqual(3);
    // sCR0 (GR0 offset 0): CLIENTPD (bit 0) clear, USFCFG (bit 10) set: no SMR matches 0xe0.
    // Without GFRE (bit 1) the transaction is terminated without an abort: the read gives zeros
    smmu.write32(0, 1 << 10);
    const g = smmu.stats.globalFaults;
    expect(port.read(pa, got)).toBe(PORT_TERMINATED);
    expect([...got]).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    // one per 4 KiB piece: the access crosses a page boundary
    expect(smmu.stats.globalFaults).toBe(g + 2);
    // with GFRE it is aborted
    smmu.write32(0, (1 << 10) | (1 << 1));
    smmu.write32(0x48, smmu.read32(0x48)); // sGFSR: write 1 to clear the recorded fault
    expect(port.read(pa, got)).toBe(PORT_FAULT);
    expect(port.lastFault).toEqual({ status: PORT_FAULT, address: pa, write: false });
    // the access stops at its first aborted piece
    expect(smmu.stats.globalFaults).toBe(g + 3);
    // outside RAM is a bus error, whatever the SMMU says
    smmu.write32(0, 1);
    expect(port.read(0x1000, got)).toBe(2);
  });

  it('follows a host bridge iommu-map after iommu-map-mask for PCI requester IDs', () => {
    const board = Board.fromDtb(compileDts(DTS));
    // mask 0xfff8: function bits dropped; 0x13 -> 0x10 -> 0x100 + 0x10
    expect(board.masterPortForRid('/pcie@40000000', 0x13)!.streamId).toBe(0x110);
    expect(board.masterPortForRid('/pcie@40000000', 0x10f)!.streamId).toBe(0x808);
    expect(board.masterPortForRid('/pcie@40000000', 0x200)).toBeUndefined();
    expect(board.masterPortForRid('/ufs@1d84000', 0)).toBeUndefined();
    expect(() => board.masterPortForRid('/pcie@40000000', 0x10000)).toThrow(/16-bit/);
  });
});
