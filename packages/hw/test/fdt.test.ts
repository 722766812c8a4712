import { describe, expect, it } from 'vitest';
import {
  buildFdt,
  compatibleOf,
  decodeReg,
  FdtError,
  findByPhandle,
  findByPhandleWithPath,
  findNode,
  getProp,
  isEnabled,
  node,
  nodeBaseName,
  nodeUnitAddress,
  numCells,
  parseDtb,
  phandleArgsList,
  phandleOf,
  prop,
  propCells,
  propString,
  propStrings,
  propU32,
  propU64,
  ref,
  resolveInterrupts,
  translatedRegs,
  walkTree,
  writeDtb,
  type FdtTree,
} from '@gki/hw';
import { ascii, assemble, concat, patch32, tok } from './fdt-helpers.js';

function sampleTree(): FdtTree {
  return buildFdt({
    bootCpuid: 3,
    reservations: [
      { address: 0x4800_0000, size: 0x10_0000 },
      { address: 2 ** 40 + 0x1000, size: 2 ** 33 },
    ],
    root: node('', [prop.u32('#address-cells', 2), prop.u32('#size-cells', 2), prop.string('compatible', 'test,board')], [
      node('intc: intc@1000', [prop.empty('interrupt-controller'), prop.u32('#interrupt-cells', 1)]),
      node('smmu: iommu@2b400000', [prop.u32('#iommu-cells', 1), prop.string('compatible', 'arm,smmu-v3')]),
      node('soc', [prop.u32('#address-cells', 1), prop.u32('#size-cells', 1), prop.cells('ranges', 0x1000_0000, 0, 0x2000_0000, 0x100_0000)], [
        node('dev@10000', [
          prop.strings('compatible', ['vendor,dev-v2', 'vendor,dev']),
          prop.reg(1, 1, [0x1001_0000, 0x1000], [0x1002_0000, 0x100]),
          prop.u32('interrupt-parent', ref('intc')),
          prop.cells('interrupts', 7, 9),
          prop.cells('iommus', ref('smmu'), 0x42, ref('smmu'), 0x43),
          prop.u64('dma-mask', 2 ** 40 - 1),
          prop.bytes('blob', [1, 2, 3]),
          prop.string('status', 'okay'),
        ]),
        node('off@20000', [prop.string('status', 'disabled')]),
      ]),
    ]),
  });
}

describe('DTB writer and parser', () => {
  it('round-trips a tree through the blob (parse(write(t)) deep-equals t)', () => {
    const t = sampleTree();
    const blob = writeDtb(t);
    const back = parseDtb(blob);
    expect(back).toEqual(t);
    expect(back.version).toBe(17);
    expect(back.bootCpuid).toBe(3);
    expect(back.reservations).toEqual([
      { address: 0x4800_0000, size: 0x10_0000 },
      { address: 2 ** 40 + 0x1000, size: 2 ** 33 },
    ]);
  });

  it('writes byte-identical blobs again (write(parse(b)) === b)', () => {
    const blob = writeDtb(sampleTree());
    expect(writeDtb(parseDtb(blob))).toEqual(blob);
  });

  it('lays the blob out as the specification requires', () => {
    const blob = writeDtb(sampleTree());
    const dv = new DataView(blob.buffer);
    const h = (i: number): number => dv.getUint32(i * 4, false);
    expect(h(0)).toBe(0xd00dfeed);
    expect(h(1)).toBe(blob.length); // totalsize
    expect(h(5)).toBe(17); // version
    expect(h(6)).toBe(16); // last_comp_version
    expect(h(7)).toBe(3); // boot_cpuid_phys
    const [offStruct, offStrings, offRsv, sizeStrings, sizeStruct] = [h(2), h(3), h(4), h(8), h(9)];
    expect(offRsv % 8).toBe(0);
    expect(offRsv).toBeGreaterThanOrEqual(40);
    expect(offStruct % 4).toBe(0);
    expect(offStruct).toBe(offRsv + 3 * 16); // two entries and the terminator
    expect(offStrings).toBe(offStruct + sizeStruct);
    expect(offStrings + sizeStrings).toBe(blob.length);
    expect(dv.getUint32(offStruct + sizeStruct - 4, false)).toBe(9); // FDT_END
    // The strings block holds each name once ('#address-cells' is used twice, 'compatible' three times).
    const strings = new TextDecoder().decode(blob.subarray(offStrings)).split('\0').filter(Boolean);
    expect(new Set(strings).size).toBe(strings.length);
    expect(strings).toContain('#address-cells');
  });

  it('reads blobs written by another tool layout: NOPs, a v16 header, trailing bytes', () => {
    const { blob } = assemble(
      [tok.nop(), tok.begin(''), tok.nop(), tok.prop(0, ascii('x,y\0')), tok.begin('a@1'), tok.end(), tok.end(), tok.fin()],
      { version: 16, lastComp: 16 },
    );
    const withTail = concat([blob, new Uint8Array(12)]);
    const t = parseDtb(withTail);
    expect(t.version).toBe(16);
    expect(t.root.props).toEqual([{ name: 'compatible', value: ascii('x,y\0') }]);
    expect(t.root.children.map((c) => c.name)).toEqual(['a@1']);
  });

  it('copies property values out of the blob', () => {
    const blob = writeDtb(sampleTree());
    const t = parseDtb(blob);
    const before = propU32(t.root, '#address-cells');
    blob.fill(0xff);
    expect(propU32(t.root, '#address-cells')).toBe(before);
  });

  it('refuses trees no DTB can hold', () => {
    const t = sampleTree();
    const bad = (mut: (t: FdtTree) => FdtTree): FdtError => {
      try {
        writeDtb(mut(t));
      } catch (e) {
        expect(e).toBeInstanceOf(FdtError);
        return e as FdtError;
      }
      throw new Error('writeDtb accepted a bad tree');
    };
    expect(bad((x) => ({ ...x, root: { ...x.root, name: 'x' } })).reason).toMatch(/root/);
    const dupChild = { name: 'a', props: [], children: [] };
    expect(bad((x) => ({ ...x, root: { ...x.root, children: [dupChild, { ...dupChild }] } })).reason).toMatch(/duplicate node/);
    expect(bad((x) => ({ ...x, root: { ...x.root, children: [{ name: 'a/b', props: [], children: [] }] } })).path).toBe('/a/b');
    expect(bad((x) => ({ ...x, root: { ...x.root, props: [...x.root.props, x.root.props[0]!] } })).reason).toMatch(/duplicate property/);
    expect(bad((x) => ({ ...x, reservations: [{ address: -1, size: 1 }] })).reason).toMatch(/reservation/);
    expect(bad((x) => ({ ...x, bootCpuid: 2 ** 32 })).reason).toMatch(/boot_cpuid/);
  });
});

describe('builder', () => {
  it('assigns phandles to labelled nodes in document order and resolves references', () => {
    const t = sampleTree();
    const intc = findNode(t, '/intc@1000')!;
    const smmu = findNode(t, '/iommu@2b400000')!;
    expect(phandleOf(intc)).toBe(1);
    expect(phandleOf(smmu)).toBe(2);
    const dev = findNode(t, '/soc/dev@10000')!;
    expect(propU32(dev, 'interrupt-parent')).toBe(1);
    expect(propCells(dev, 'iommus')).toEqual([2, 0x42, 2, 0x43]);
  });

  it('keeps explicit phandles and skips their values when assigning', () => {
    const t = buildFdt({
      root: node('', [], [
        node('a: a', []),
        node('b: b', [prop.u32('phandle', 1)]),
        node('c', [prop.u32('ref', ref('a')), prop.u32('ref2', ref('b'))]),
      ]),
    });
    expect(phandleOf(findNode(t, '/a')!)).toBe(2);
    expect(phandleOf(findNode(t, '/b')!)).toBe(1);
    expect(propU32(findNode(t, '/c')!, 'ref')).toBe(2);
    expect(propU32(findNode(t, '/c')!, 'ref2')).toBe(1);
  });

  it('rejects unknown and duplicate labels, and values that do not fit a cell', () => {
    expect(() => buildFdt({ root: node('', [prop.u32('x', ref('nope'))]) })).toThrow(/unknown label '&nope'/);
    expect(() => buildFdt({ root: node('', [], [node('a: x'), node('a: y')]) })).toThrow(/duplicate label 'a'/);
    expect(() => prop.u32('x', 2 ** 32)).toThrow(RangeError);
    expect(() => prop.cells('x', 1, -1)).toThrow(RangeError);
    expect(() => numCells(2 ** 32, 1)).toThrow(RangeError);
    expect(numCells(0x1_2345_6789, 2)).toEqual([1, 0x2345_6789]);
    expect(prop.u64('x', 0xfedc_ba98_7654_3210n)).toEqual({ name: 'x', cells: [0xfedc_ba98, 0x7654_3210] });
  });
});

describe('read helpers', () => {
  const t = sampleTree();
  const dev = findNode(t, '/soc/dev@10000')!;

  it('finds nodes by path, with or without unit address, and by phandle', () => {
    expect(findNode(t, '/')).toBe(t.root);
    expect(findNode(t, '/soc/dev@10000')?.name).toBe('dev@10000');
    expect(findNode(t, '/soc/dev')).toBe(dev);
    expect(findNode(t, '/soc/dev@10001')).toBeUndefined();
    expect(findNode(t, 'soc')).toBeUndefined();
    expect(findByPhandle(t, 2)?.name).toBe('iommu@2b400000');
    expect(findByPhandleWithPath(t, 1)?.path).toBe('/intc@1000');
    expect(findByPhandle(t, 0)).toBeUndefined();
    expect(findByPhandle(t, 99)).toBeUndefined();
    expect(nodeBaseName('dev@10000')).toBe('dev');
    expect(nodeUnitAddress('dev@10000')).toBe('10000');
    expect(nodeUnitAddress('soc')).toBeUndefined();
  });

  it('walks in document order with full paths', () => {
    const paths: string[] = [];
    walkTree(t, (_n, p) => {
      paths.push(p);
    });
    expect(paths).toEqual(['/', '/intc@1000', '/iommu@2b400000', '/soc', '/soc/dev@10000', '/soc/off@20000']);
  });

  it('reads typed values', () => {
    expect(compatibleOf(dev)).toEqual(['vendor,dev-v2', 'vendor,dev']);
    expect(propString(dev, 'compatible')).toBe('vendor,dev-v2');
    expect(propStrings(dev, 'compatible')).toEqual(['vendor,dev-v2', 'vendor,dev']);
    expect(propU64(dev, 'dma-mask')).toBe(2 ** 40 - 1);
    expect(propCells(dev, 'interrupts')).toEqual([7, 9]);
    expect(getProp(dev, 'blob')?.value).toEqual(Uint8Array.from([1, 2, 3]));
    expect(propU32(dev, 'absent')).toBeUndefined();
    expect(decodeReg(dev, 1, 1)).toEqual([
      { address: 0x1001_0000, size: 0x1000 },
      { address: 0x1002_0000, size: 0x100 },
    ]);
    expect(isEnabled(dev)).toBe(true);
    expect(isEnabled(findNode(t, '/soc/off@20000')!)).toBe(false);
  });

  it('names the node path and property for a wrong-length value', () => {
    const err = (f: () => unknown): FdtError => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(FdtError);
        return e as FdtError;
      }
      throw new Error('no error');
    };
    let e = err(() => propU32(dev, 'blob', '/soc/dev@10000'));
    expect(e.offset).toBe(-1);
    expect(e.path).toBe('/soc/dev@10000');
    expect(e.message).toContain("'blob'");
    expect(e.message).toContain('/soc/dev@10000');
    e = err(() => propCells(dev, 'blob', '/soc/dev@10000'));
    expect(e.reason).toMatch(/3 bytes/);
    e = err(() => propU64(dev, 'reg', '/soc/dev@10000'));
    expect(e.reason).toMatch(/'reg' is 16 bytes, expected a 64-bit value/);
    e = err(() => propString(dev, 'interrupts', '/soc/dev@10000'));
    expect(e.reason).toMatch(/NUL-terminated/);
    e = err(() => decodeReg(dev, 1, 2, '/soc/dev@10000'));
    expect(e.reason).toMatch(/'reg' has 4 cells, not a multiple of 1\+2/);
    e = err(() => decodeReg(dev, 2, 2, '/soc/dev@10000'));
    expect(e.reason).toMatch(/'reg' address does not fit in 53 bits/);
  });

  it('translates reg through ranges and resolves interrupts and phandle lists', () => {
    // soc maps child 0x1000_0000.. to parent 0x2000_0000.. for 16 MiB
    expect(translatedRegs(t, '/soc/dev@10000')).toEqual([
      { address: 0x2001_0000, size: 0x1000 },
      { address: 0x2002_0000, size: 0x100 },
    ]);
    expect(resolveInterrupts(t, '/soc/dev@10000')).toEqual([7, 9]);
    const iommus = phandleArgsList(t, dev, '/soc/dev@10000', 'iommus', '#iommu-cells');
    expect(iommus.map((e) => [e.path, e.args])).toEqual([
      ['/iommu@2b400000', [0x42]],
      ['/iommu@2b400000', [0x43]],
    ]);
    expect(translatedRegs(t, '/nope')).toBeUndefined();
  });

  it('maps GIC specifiers to INTIDs and leaves untranslatable addresses out', () => {
    const g = buildFdt({
      root: node('', [prop.u32('#address-cells', 1), prop.u32('#size-cells', 1), prop.u32('interrupt-parent', ref('gic'))], [
        node('gic: gic@0', [prop.string('compatible', 'arm,gic-v3'), prop.u32('#interrupt-cells', 3), prop.empty('interrupt-controller')]),
        node('a@100', [prop.cells('reg', 0x100, 4), prop.cells('interrupts', 0, 5, 4, 1, 9, 4)]),
        node('bus', [prop.u32('#address-cells', 1), prop.u32('#size-cells', 1)], [node('b@0', [prop.cells('reg', 0, 4)])]),
        node('ext', [prop.cells('interrupts-extended', ref('gic'), 0, 1, 4)]),
      ]),
    });
    expect(resolveInterrupts(g, '/a@100')).toEqual([37, 25]);
    expect(resolveInterrupts(g, '/ext')).toEqual([33]);
    expect(translatedRegs(g, '/a@100')).toEqual([{ address: 0x100, size: 4 }]);
    expect(translatedRegs(g, '/bus/b@0')).toEqual([]);
  });
});

describe('parseDtb rejects malformed blobs with the offset and reason', () => {
  const good = assemble([tok.begin(''), tok.prop(0, ascii('a\0')), tok.begin('n@1'), tok.end(), tok.end(), tok.fin()]);

  function reject(blob: Uint8Array, offset: number, reason: RegExp): void {
    let err: unknown;
    try {
      parseDtb(blob);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FdtError);
    const f = err as FdtError;
    expect({ offset: f.offset, reason: f.reason }).toEqual({ offset, reason: expect.stringMatching(reason) });
  }

  it('accepts the unmodified base blob', () => {
    expect(parseDtb(good.blob).root.children[0]!.name).toBe('n@1');
  });

  it('header: bad magic, truncation, version, totalsize', () => {
    reject(patch32(good.blob, 0, 0xfeedd00d), 0, /bad magic 0xfeedd00d/);
    reject(good.blob.subarray(0, 3), 3, /truncated header/);
    reject(good.blob.subarray(0, 20), 20, /truncated header/);
    reject(good.blob.subarray(0, 36), 36, /truncated header.*needs 40/);
    reject(patch32(good.blob, 20, 15), 20, /unsupported version 15/);
    reject(patch32(good.blob, 24, 18), 24, /last_comp_version 18/);
    reject(patch32(good.blob, 4, good.blob.length + 1), 4, /totalsize .* larger than the blob/);
    reject(patch32(good.blob, 4, 39), 4, /smaller than the header/);
    reject(good.blob.subarray(0, good.blob.length - 1), 4, /larger than the blob/);
  });

  it('blocks out of range, overlapping the header, or misaligned', () => {
    reject(patch32(good.blob, 8, 36), 8, /structure block .* overlaps the header/);
    reject(patch32(good.blob, 8, good.offStruct + 2), 8, /not 4-byte aligned/);
    reject(patch32(good.blob, 8, good.blob.length + 4), 8, /past totalsize/);
    reject(patch32(good.blob, 36, good.structSize + 64), 36, /structure block .* runs past totalsize/);
    reject(patch32(good.blob, 12, 8), 12, /strings block .* overlaps the header/);
    reject(patch32(good.blob, 32, 1000), 32, /strings block .* runs past totalsize/);
    reject(patch32(good.blob, 16, 0), 16, /reservation block .* overlaps the header/);
    reject(patch32(good.blob, 16, 44), 16, /not 8-byte aligned/);
    reject(patch32(good.blob, 16, 0x10000), 16, /reservation block .* past totalsize/);
  });

  it('reservation block running past the blob, or with values above 2^53', () => {
    const r = assemble([tok.begin(''), tok.end(), tok.fin()], { rsv: [[0, 0x1000, 0, 0x1000]] });
    expect(parseDtb(r.blob).reservations).toEqual([{ address: 0x1000, size: 0x1000 }]);
    // point the reservation map at the last 8-aligned 16 bytes that hold no terminator
    const lastEntry = Math.floor((r.blob.length - 8) / 8) * 8;
    reject(patch32(r.blob, 16, lastEntry), lastEntry, /reservation block runs past the blob/);
    const big = assemble([tok.begin(''), tok.end(), tok.fin()], { rsv: [[0x20_0000, 0, 0, 1]] });
    reject(big.blob, big.offRsv, /reservation address .* above 2\^53/);
    const bigSize = assemble([tok.begin(''), tok.end(), tok.fin()], { rsv: [[0, 0, 0xffff_ffff, 0]] });
    reject(bigSize.blob, bigSize.offRsv + 8, /reservation size .* above 2\^53/);
    expect(
      parseDtb(assemble([tok.begin(''), tok.end(), tok.fin()], { rsv: [[0x1f_ffff, 0xffff_ffff, 0, 1]] }).blob).reservations[0]!.address,
    ).toBe(2 ** 53 - 1);
  });

  it('structure tokens', () => {
    let b = assemble([tok.begin(''), tok.word(0x7), tok.end(), tok.fin()]);
    reject(b.blob, b.offStruct + 8, /unknown token 0x7/);
    b = assemble([tok.end(), tok.fin()]);
    reject(b.blob, b.offStruct, /FDT_END_NODE without a matching FDT_BEGIN_NODE/);
    b = assemble([tok.begin(''), tok.end()]);
    reject(b.blob, b.offStruct + 12, /without FDT_END/);
    b = assemble([tok.begin(''), tok.begin('a'), tok.end(), tok.fin()]);
    reject(b.blob, b.offStruct + 20, /FDT_END with 1 node\(s\) still open/);
    b = assemble([tok.begin('notroot'), tok.end(), tok.fin()]);
    reject(b.blob, b.offStruct, /first node is 'notroot'/);
    b = assemble([tok.begin(''), tok.end(), tok.begin(''), tok.end(), tok.fin()]);
    reject(b.blob, b.offStruct + 12, /second top-level node/);
    b = assemble([tok.fin()]);
    reject(b.blob, b.offStruct, /no root node/);
    b = assemble([tok.begin(''), tok.beginRaw(ascii('abcd'))]);
    reject(b.blob, b.offStruct + 12, /unterminated node name/);
    b = assemble([tok.prop(0, ascii('a\0')), tok.fin()]);
    reject(b.blob, b.offStruct, /property outside any node/);
    b = assemble([tok.begin(''), tok.begin('a'), tok.end(), tok.prop(0, ascii('x\0')), tok.end(), tok.fin()]);
    reject(b.blob, b.offStruct + 20, /property after a subnode/);
    b = assemble([tok.begin(''), tok.begin('a'), tok.end(), tok.begin('a'), tok.end(), tok.end(), tok.fin()]);
    reject(b.blob, b.offStruct + 20, /duplicate node name 'a'/);
    b = assemble([tok.begin(''), tok.prop(0, ascii('x\0')), tok.prop(0, ascii('y\0')), tok.end(), tok.fin()]);
    reject(b.blob, b.offStruct + 24, /duplicate property 'compatible'/);
    b = assemble([tok.begin(''), tok.begin(''), tok.end(), tok.end(), tok.fin()]);
    reject(b.blob, b.offStruct + 12, /empty node name/);
  });

  it('properties: name offset, unterminated string, length past the block, padding', () => {
    let b = assemble([tok.begin(''), tok.prop(11, ascii('x\0')), tok.end(), tok.fin()]);
    reject(b.blob, b.offStruct + 16, /nameoff 0xb is outside the strings block/);
    b = assemble([tok.begin(''), tok.prop(0, ascii('x\0')), tok.end(), tok.fin()], { strings: ascii('abc') });
    reject(b.blob, b.offStrings, /unterminated string/);
    b = assemble([tok.begin(''), tok.prop(0, ascii('x\0'), 0x1000), tok.end(), tok.fin()]);
    reject(b.blob, b.offStruct + 12, /length 4096 runs past the structure block/);
    b = assemble([tok.begin(''), tok.prop(0, ascii('x\0'), 0xffff_ffff), tok.end(), tok.fin()]);
    reject(b.blob, b.offStruct + 12, /runs past the structure block/);
    // a 1-byte value that ends exactly at the end of the structure block: its padding does not fit
    b = assemble([tok.begin(''), tok.prop(0, new Uint8Array(4))]);
    const shortened = patch32(b.blob, 36, b.structSize - 3);
    reject(shortened, b.offStruct + 12, /runs past the structure block/);
    const onebyte = patch32(patch32(b.blob, 36, b.structSize - 3), b.offStruct + 12, 1);
    reject(onebyte, b.offStruct + 8 + 12 + 1, /padding runs past/);
  });
});
