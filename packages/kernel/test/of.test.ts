import { describe, expect, it } from 'vitest';
import { Board, buildFdt, node, prop, ref, writeDtb, type DraftNode } from '@gki/hw';
import {
  EILSEQ,
  EINVAL,
  ENODATA,
  ENOENT,
  EOVERFLOW,
  EPROBE_DEFER,
  Kernel,
  OfTree,
  ofAddressToResource,
  ofCountPhandleWithArgs,
  ofDeviceIsAvailable,
  ofDeviceIsCompatible,
  ofDeviceMakeBusId,
  ofFindNodeByPhandle,
  ofGetAddress,
  ofIrqFindParent,
  ofIrqParse,
  gicXlate,
  type OfPhandleArgs,
  ofMatchNode,
  ofParsePhandle,
  ofParsePhandleWithArgs,
  ofParsePhandleWithFixedArgs,
  ofPropertyCountU32Elems,
  ofPropertyMatchString,
  ofPropertyReadString,
  ofPropertyReadStringArray,
  ofPropertyReadU32,
  ofPropertyReadU32Array,
  ofPropertyReadU32Index,
  ofPropertyReadU64,
  ofSupplierRefs,
  ofTranslateAddress,
  type OfNode,
} from '@gki/kernel';

function treeOf(root: DraftNode): OfTree {
  return new OfTree(buildFdt({ root }));
}

function must(t: OfTree, path: string): OfNode {
  const n = t.findByPath(path);
  if (!n) throw new Error(`no node ${path}`);
  return n;
}

describe('OfNode / OfTree', () => {
  it('builds full paths, parents, phandles and indexes', () => {
    const t = treeOf(
      node('', [], [
        node('soc', [], [node('a: uart@1000', [prop.string('compatible', 'x,uart')]), node('b: uart@2000')]),
        node('chosen'),
      ]),
    );
    const u = must(t, '/soc/uart@1000');
    expect(u.fullName).toBe('/soc/uart@1000');
    expect(u.baseName).toBe('uart');
    expect(u.unitAddress).toBe('1000');
    expect(u.parent?.fullName).toBe('/soc');
    expect(t.root.fullName).toBe('/');
    expect(u.phandle).toBeGreaterThan(0);
    expect(t.findByPhandle(u.phandle)).toBe(u);
    expect(ofFindNodeByPhandle(u, must(t, '/soc/uart@2000').phandle)?.name).toBe('uart@2000');
    expect(t.findByPhandle(0)).toBeUndefined();
    expect(t.findByPhandle(0x7777)).toBeUndefined();
    expect(t.nodes().map((n) => n.fullName)).toEqual(['/', '/soc', '/soc/uart@1000', '/soc/uart@2000', '/chosen']);
    expect(t.findByPath('/soc/')).toBe(t.findByPath('/soc'));
    expect(t.findByPath('/nope')).toBeUndefined();
  });
});

describe('property readers', () => {
  const t = treeOf(
    node('', [
      prop.cells('cells', 1, 2, 0xffffffff),
      prop.empty('flag'),
      prop.bytes('short', [1, 2]),
      prop.bytes('odd', [0, 0, 0, 1, 9]),
      prop.u64('big', 0x1_2345_6789),
      prop.u64('huge', 1n << 60n),
      prop.strings('names', ['alpha', 'beta', 'gamma']),
      prop.bytes('unterminated', [0x61, 0x62]),
      prop.string('status', 'disabled'),
    ]),
  );
  const r = t.root;

  it('reads u32 cells with the kernel errnos', () => {
    expect(ofPropertyReadU32(r, 'cells')).toBe(1);
    expect(ofPropertyReadU32Index(r, 'cells', 2)).toBe(0xffffffff);
    expect(ofPropertyReadU32Index(r, 'cells', 3)).toBe(-EOVERFLOW);
    expect(ofPropertyReadU32(r, 'missing')).toBe(-EINVAL);
    expect(ofPropertyReadU32(r, 'flag')).toBe(-ENODATA);
    expect(ofPropertyReadU32(r, 'short')).toBe(-EOVERFLOW);
    expect(ofPropertyReadU32Array(r, 'cells')).toEqual([1, 2, 0xffffffff]);
    expect(ofPropertyReadU32Array(r, 'cells', 2)).toEqual([1, 2]);
    expect(ofPropertyReadU32Array(r, 'cells', 4)).toBe(-EOVERFLOW);
    expect(ofPropertyReadU32Array(r, 'odd')).toBe(-EINVAL);
    expect(ofPropertyCountU32Elems(r, 'cells')).toBe(3);
    expect(ofPropertyCountU32Elems(r, 'odd')).toBe(-EINVAL);
  });

  it('reads u64 values exactly and refuses ones above 2^53', () => {
    expect(ofPropertyReadU64(r, 'big')).toBe(0x1_2345_6789);
    expect(ofPropertyReadU64(r, 'huge')).toBe(-EOVERFLOW);
    expect(ofPropertyReadU64(r, 'short')).toBe(-EOVERFLOW);
  });

  it('reads strings and string lists', () => {
    expect(ofPropertyReadString(r, 'names')).toBe('alpha');
    expect(ofPropertyReadStringArray(r, 'names')).toEqual(['alpha', 'beta', 'gamma']);
    expect(ofPropertyMatchString(r, 'names', 'gamma')).toBe(2);
    expect(ofPropertyMatchString(r, 'names', 'delta')).toBe(-ENODATA);
    expect(ofPropertyReadString(r, 'unterminated')).toBe(-EILSEQ);
    expect(ofPropertyReadStringArray(r, 'unterminated')).toBe(-EILSEQ);
    expect(ofPropertyReadString(r, 'flag')).toBe(-ENODATA);
    expect(ofPropertyReadString(r, 'missing')).toBe(-EINVAL);
  });

  it('status decides availability', () => {
    const t2 = treeOf(
      node('', [], [node('a', [prop.string('status', 'okay')]), node('b', [prop.string('status', 'ok')]), node('c'), node('d', [prop.string('status', 'fail')])]),
    );
    expect(['/a', '/b', '/c', '/d'].map((p) => ofDeviceIsAvailable(must(t2, p)))).toEqual([true, true, true, false]);
    expect(ofDeviceIsAvailable(r)).toBe(false);
  });
});

describe('compatible matching', () => {
  const t = treeOf(node('', [], [node('gpu', [prop.strings('compatible', ['Vendor,GPU-v2', 'vendor,gpu', 'generic-gpu'])])]));
  const gpu = must(t, '/gpu');

  it('scores earlier compatible entries higher, case-insensitively', () => {
    const a = ofDeviceIsCompatible(gpu, 'vendor,gpu-v2');
    const b = ofDeviceIsCompatible(gpu, 'vendor,gpu');
    const c = ofDeviceIsCompatible(gpu, 'generic-gpu');
    expect(a).toBeGreaterThan(b);
    expect(b).toBeGreaterThan(c);
    expect(c).toBeGreaterThan(0);
    expect(ofDeviceIsCompatible(gpu, 'other')).toBe(0);
  });

  it('ofMatchNode picks the table entry for the most specific compatible, not the first entry', () => {
    const table = [
      { compatible: 'generic-gpu', data: 'generic' },
      { compatible: 'vendor,gpu', data: 'vendor' },
      { compatible: 'unrelated', data: 'x' },
    ];
    expect(ofMatchNode(table, gpu)?.data).toBe('vendor');
    expect(ofMatchNode([{ compatible: 'generic-gpu', data: 1 }], gpu)?.data).toBe(1);
    expect(ofMatchNode([{ compatible: 'nothing' }], gpu)).toBeUndefined();
    expect(ofMatchNode(undefined, gpu)).toBeUndefined();
  });
});

describe('ofParsePhandleWithArgs', () => {
  const t = treeOf(
    node('', [], [
      node('c0: ctl0', [prop.u32('#foo-cells', 0)]),
      node('c1: ctl1', [prop.u32('#foo-cells', 1)]),
      node('c2: ctl2', [prop.u32('#foo-cells', 2)]),
      node('nocells: ctl3'),
      node('user', [
        prop.cells('foos', ref('c1'), 7, ref('c0'), 0, ref('c2'), 8, 9),
        prop.cells('bad-ref', ref('c0'), 0x4444, ref('c0')),
        prop.cells('bad-cells', ref('c0'), ref('nocells'), 1),
        prop.cells('too-short', ref('c0'), ref('c2'), 5),
        prop.cells('plain', ref('c0'), ref('c1')),
      ]),
    ]),
  );
  const user = must(t, '/user');

  it('walks entries whose sizes come from each target', () => {
    const e0 = ofParsePhandleWithArgs(user, 'foos', '#foo-cells', 0);
    const e1 = ofParsePhandleWithArgs(user, 'foos', '#foo-cells', 1);
    const e2 = ofParsePhandleWithArgs(user, 'foos', '#foo-cells', 2);
    const e3 = ofParsePhandleWithArgs(user, 'foos', '#foo-cells', 3);
    const e4 = ofParsePhandleWithArgs(user, 'foos', '#foo-cells', 4);
    expect(typeof e0 !== 'number' && [e0.np.fullName, e0.args]).toEqual(['/ctl1', [7]]);
    expect(typeof e1 !== 'number' && [e1.np.fullName, e1.args]).toEqual(['/ctl0', []]);
    // the zero after &c0 is an empty entry: -ENOENT, but the list continues after it
    expect(e2).toBe(-ENOENT);
    expect(typeof e3 !== 'number' && [e3.np.fullName, e3.args]).toEqual(['/ctl2', [8, 9]]);
    expect(e4).toBe(-ENOENT);
    expect(ofCountPhandleWithArgs(user, 'foos', '#foo-cells')).toBe(4);
  });

  it('returns -ENOENT for a missing property and -EINVAL for malformed entries', () => {
    expect(ofParsePhandleWithArgs(user, 'nothing', '#foo-cells', 0)).toBe(-ENOENT);
    expect(ofParsePhandleWithArgs(user, 'foos', '#foo-cells', -1)).toBe(-EINVAL);
    // entry 0 is fine; the error shows once the walk reaches the unknown phandle
    expect(typeof ofParsePhandleWithArgs(user, 'bad-ref', '#foo-cells', 0)).toBe('object');
    expect(ofParsePhandleWithArgs(user, 'bad-ref', '#foo-cells', 1)).toBe(-EINVAL);
    expect(ofParsePhandleWithArgs(user, 'bad-ref', '#foo-cells', 2)).toBe(-EINVAL);
    // target without #foo-cells
    expect(ofParsePhandleWithArgs(user, 'bad-cells', '#foo-cells', 1)).toBe(-EINVAL);
    // ... unless a default cell count is given
    const withDefault = ofParsePhandleWithArgs(user, 'bad-cells', '#foo-cells', 1, 1);
    expect(typeof withDefault !== 'number' && withDefault.args).toEqual([1]);
    // arguments running past the end of the property
    expect(ofParsePhandleWithArgs(user, 'too-short', '#foo-cells', 1)).toBe(-EINVAL);
    expect(ofCountPhandleWithArgs(user, 'too-short', '#foo-cells')).toBe(-EINVAL);
    expect(ofCountPhandleWithArgs(user, 'nothing', '#foo-cells')).toBe(-ENOENT);
  });

  it('handles plain and fixed-size lists', () => {
    expect(ofParsePhandle(user, 'plain', 1)?.fullName).toBe('/ctl1');
    expect(ofParsePhandle(user, 'plain', 2)).toBeUndefined();
    const f = ofParsePhandleWithFixedArgs(user, 'foos', 1, 0);
    expect(typeof f !== 'number' && f.args).toEqual([7]);
    expect(ofParsePhandleWithFixedArgs(user, 'foos', -1, 0)).toBe(-EINVAL);
  });
});

describe('reg and ranges translation', () => {
  const t = treeOf(
    node('', [prop.u32('#address-cells', 2), prop.u32('#size-cells', 2)], [
      node('mem@40000000', [prop.reg(2, 2, [0x4000_0000, 0x1000_0000])]),
      node('soc', [prop.u32('#address-cells', 1), prop.u32('#size-cells', 1), prop.cells('ranges', 0, 0, 0x1000_0000, 0x0100_0000, 0x8000_0000, 0x8, 0x0, 0x1000)], [
        node('uart@2000', [prop.cells('reg', 0x2000, 0x100, 0x3000, 0x10), prop.strings('reg-names', ['regs', 'fifo'])]),
        node('hi@80000000', [prop.cells('reg', 0x8000_0010, 0x10)]),
        node('outside@5000000', [prop.cells('reg', 0x0500_0000, 0x10)]),
        node('sub', [prop.u32('#address-cells', 1), prop.u32('#size-cells', 1), prop.empty('ranges')], [node('leaf@400', [prop.cells('reg', 0x400, 0x40)])]),
        node('closed', [prop.u32('#address-cells', 1), prop.u32('#size-cells', 1)], [node('hidden@10', [prop.cells('reg', 0x10, 4)])]),
        // register-bit LEDs sharing one register (the Juno and Versatile motherboards' led@8,N)
        node('led@8,0', [prop.cells('reg', 0x8, 4), prop.u32('mask', 0x01)]),
        node('led@8,7', [prop.cells('reg', 0x8, 4), prop.u32('mask', 0x80)]),
        node('led@8,z', [prop.cells('reg', 0x8, 4), prop.u32('mask', 0)]),
      ]),
    ]),
  );

  it('reads reg with the parent cell counts', () => {
    expect(ofGetAddress(must(t, '/mem@40000000'), 0)).toEqual({ addr: 0x4000_0000, size: 0x1000_0000 });
    expect(ofGetAddress(must(t, '/soc/uart@2000'), 1)).toEqual({ addr: 0x3000, size: 0x10 });
    expect(ofGetAddress(must(t, '/soc/uart@2000'), 2)).toBe(-EINVAL);
    expect(ofGetAddress(must(t, '/soc'), 0)).toBe(-EINVAL);
  });

  it('translates through ranges (offset, 64-bit parent, identity) to CPU addresses', () => {
    const uart = must(t, '/soc/uart@2000');
    expect(ofTranslateAddress(uart, 0x2000)).toBe(0x1000_2000);
    expect(ofAddressToResource(uart, 0)).toEqual({ start: 0x1000_2000, end: 0x1000_20ff, name: 'regs' });
    expect(ofAddressToResource(uart, 1)).toEqual({ start: 0x1000_3000, end: 0x1000_300f, name: 'fifo' });
    expect(ofAddressToResource(must(t, '/soc/hi@80000000'), 0)).toEqual({ start: 0x8_0000_0010, end: 0x8_0000_001f, name: '/soc/hi@80000000' });
    expect(ofAddressToResource(must(t, '/soc/sub/leaf@400'), 0)).toMatchObject({ start: 0x1000_0400, end: 0x1000_043f });
    expect(ofAddressToResource(must(t, '/mem@40000000'), 0)).toMatchObject({ start: 0x4000_0000 });
  });

  it('refuses addresses outside every range or behind a bus without ranges', () => {
    expect(ofTranslateAddress(must(t, '/soc/outside@5000000'), 0x0500_0000)).toBe(-EINVAL);
    expect(ofAddressToResource(must(t, '/soc/outside@5000000'), 0)).toBe(-EINVAL);
    expect(ofAddressToResource(must(t, '/soc/closed/hidden@10'), 0)).toBe(-EINVAL);
    expect(ofAddressToResource(must(t, '/soc/uart@2000'), 5)).toBe(-EINVAL);
  });

  it('names devices the way the kernel does', () => {
    expect(ofDeviceMakeBusId(must(t, '/soc/uart@2000'))).toBe('10002000.uart');
    expect(ofDeviceMakeBusId(must(t, '/soc/hi@80000000'))).toBe('800000010.hi');
    expect(ofDeviceMakeBusId(must(t, '/soc'))).toBe('soc');
    expect(ofDeviceMakeBusId(must(t, '/soc/closed/hidden@10'))).toBe('soc:closed:hidden@10');
    // a mask adds its lowest set bit (ffs(mask) - 1, in hex; a zero mask prints -1 as %x)
    expect(ofDeviceMakeBusId(must(t, '/soc/led@8,0'))).toBe('10000008.0.led');
    expect(ofDeviceMakeBusId(must(t, '/soc/led@8,7'))).toBe('10000008.7.led');
    expect(ofDeviceMakeBusId(must(t, '/soc/led@8,z'))).toBe('10000008.ffffffff.led');
  });
});

describe('interrupts', () => {
  const t = treeOf(
    node('', [prop.u32('#address-cells', 1), prop.u32('#size-cells', 1), prop.u32('interrupt-parent', ref('gic'))], [
      node('gic: intc@1000', [prop.string('compatible', 'arm,gic-v3'), prop.empty('interrupt-controller'), prop.u32('#interrupt-cells', 3)]),
      node('pic: pic@2000', [prop.string('compatible', 'x,pic'), prop.empty('interrupt-controller'), prop.u32('#interrupt-cells', 1)]),
      node('notctl: thing@3000', [prop.u32('#interrupt-cells', 1)]),
      node('bus', [], [
        node('dev@10', [prop.cells('interrupts', 0, 20, 4, 1, 9, 8)]),
        node('ext@20', [prop.cells('interrupts-extended', ref('pic'), 7, ref('gic'), 0, 1, 4)]),
        node('bad@30', [prop.u32('interrupt-parent', ref('notctl')), prop.cells('interrupts', 3)]),
        node('noirq@40'),
      ]),
    ]),
  );

  it('inherits interrupt-parent and parses specifiers', () => {
    const dev = must(t, '/bus/dev@10');
    expect(ofIrqFindParent(dev)?.fullName).toBe('/intc@1000');
    const s0 = ofIrqParse(dev, 0);
    const s1 = ofIrqParse(dev, 1);
    expect(typeof s0 !== 'number' && [s0.np.fullName, s0.args]).toEqual(['/intc@1000', [0, 20, 4]]);
    expect(typeof s1 !== 'number' && s1.args).toEqual([1, 9, 8]);
    expect(ofIrqParse(dev, 2)).toBe(-EINVAL);
    expect(ofIrqParse(must(t, '/bus/noirq@40'), 0)).toBe(-EINVAL);
    // thing@3000 has #interrupt-cells but is neither a controller nor a nexus: as in the
    // kernel the walk goes on to its own interrupt parent (the GIC), which cannot decode a
    // one-cell specifier, so the translation (not the parse) is what fails
    const bad = ofIrqParse(must(t, '/bus/bad@30'), 0);
    expect(typeof bad !== 'number' && [bad.np.fullName, bad.args]).toEqual(['/intc@1000', [3]]);
    expect(gicXlate(bad as OfPhandleArgs)).toBe(-EINVAL);
  });

  it('prefers interrupts-extended', () => {
    const ext = must(t, '/bus/ext@20');
    const a = ofIrqParse(ext, 0);
    const b = ofIrqParse(ext, 1);
    expect(typeof a !== 'number' && [a.np.fullName, a.args]).toEqual(['/pic@2000', [7]]);
    expect(typeof b !== 'number' && [b.np.fullName, b.args]).toEqual(['/intc@1000', [0, 1, 4]]);
  });

  it('maps GIC SPIs and PPIs to line numbers; an unknown controller defers', () => {
    const k = new Kernel(new Board('t', [{ base: 0x4000_0000, size: 1 << 20 }]));
    const tree = k.of.loadTree(t.fdt);
    const dev = tree.findByPath('/bus/dev@10')!;
    expect(k.of.irqGet(dev, 0)).toBe(52); // SPI 20
    expect(k.of.irqGet(dev, 1)).toBe(25); // PPI 9
    expect(k.of.irqGet(dev, 2)).toBe(-EINVAL);
    const ext = tree.findByPath('/bus/ext@20')!;
    expect(k.of.irqGet(ext, 0)).toBe(-EPROBE_DEFER); // x,pic has no domain yet
    expect(k.of.irqGet(ext, 1)).toBe(33);
    k.of.registerIrqDomain(tree.findByPath('/pic@2000')!, (s) => 900 + s.args[0]!);
    expect(k.of.irqGet(ext, 0)).toBe(907);
  });
});

describe('interrupt controllers stacked on the GIC', () => {
  // mt8183's SYSIRQ as the root interrupt parent, sc7180's PDC with its pin ranges
  const t = treeOf(
    node('', [prop.u32('#address-cells', 1), prop.u32('#size-cells', 1), prop.u32('interrupt-parent', ref('sysirq'))], [
      node('gic: interrupt-controller@1000', [prop.string('compatible', 'arm,gic-v3'), prop.empty('interrupt-controller'), prop.u32('#interrupt-cells', 4)]),
      node('sysirq: interrupt-controller@2000', [
        prop.strings('compatible', ['mediatek,mt8183-sysirq', 'mediatek,mt6577-sysirq']),
        prop.empty('interrupt-controller'),
        prop.u32('#interrupt-cells', 3),
        prop.u32('interrupt-parent', ref('gic')),
        prop.cells('reg', 0x2000, 0x50),
      ]),
      node('pdc: interrupt-controller@3000', [
        prop.strings('compatible', ['qcom,sc7180-pdc', 'qcom,pdc']),
        prop.cells('qcom,pdc-ranges', 0, 480, 94, 94, 609, 31),
        prop.empty('interrupt-controller'),
        prop.u32('#interrupt-cells', 2),
        prop.u32('interrupt-parent', ref('gic')),
        prop.cells('reg', 0x3000, 0x100),
      ]),
      node('orphan: interrupt-controller@4000', [prop.string('compatible', 'fsl,imx8mq-gpc'), prop.empty('interrupt-controller'), prop.u32('#interrupt-cells', 3), prop.u32('interrupt-parent', ref('pdc'))]),
      node('gpu@5000', [prop.string('compatible', 'x,gpu'), prop.cells('interrupts', 0, 280, 8, 1, 9, 8)]),
      node('usb@6000', [prop.string('compatible', 'x,usb'), prop.cells('interrupts-extended', ref('pdc'), 6, 4, ref('pdc'), 100, 3, ref('pdc'), 200, 3)]),
      node('vpu@7000', [prop.string('compatible', 'x,vpu'), prop.u32('interrupt-parent', ref('orphan')), prop.cells('interrupts', 0, 7, 4)]),
    ]),
  );

  it('gets a domain right after the GIC that hands specifiers on to it', () => {
    const k = new Kernel(new Board('t', [{ base: 0x4000_0000, size: 1 << 20 }]));
    const tree = k.of.loadTree(t.fdt);
    const at = (p: string) => tree.findByPath(p)!;
    expect(k.of.irqGet(at('/gpu@5000'), 0)).toBe(32 + 280);
    expect(k.of.irqGet(at('/gpu@5000'), 1)).toBe(-EINVAL); // SYSIRQ takes SPIs only
    expect(k.of.irqGet(at('/usb@6000'), 0)).toBe(32 + 486);
    expect(k.of.irqGet(at('/usb@6000'), 1)).toBe(32 + 615);
    expect(k.of.irqGet(at('/usb@6000'), 2)).toBe(-EINVAL); // a pin in no range
    // a stacked controller whose parent is not a GIC gets no domain: its users wait
    expect(k.of.irqGet(at('/vpu@7000'), 0)).toBe(-EPROBE_DEFER);
    expect(k.log.grep(/interrupt controller/).map((r) => r.msg)).toEqual([
      'interrupt controller /interrupt-controller@1000 -> gic (1024 lines)',
      'interrupt controller /interrupt-controller@2000 -> /interrupt-controller@1000 (stacked)',
      'interrupt controller /interrupt-controller@3000 -> /interrupt-controller@1000 (stacked)',
      'interrupt controller /interrupt-controller@4000: its parent /interrupt-controller@3000 is not a GIC; left without a domain',
    ]);
    // SYSIRQ is OF_POPULATED (IRQCHIP_DECLARE); the PDC, a platform driver in Linux, still gets its device
    expect(k.of.isEarlyNode(at('/interrupt-controller@2000'))).toBe(true);
    expect(k.of.isEarlyNode(at('/interrupt-controller@3000'))).toBe(false);
    expect(k.of.isEarlyNode(at('/interrupt-controller@4000'))).toBe(false);
  });
});

describe("the MPM (qcom,mpm), QCM2290's wake-up controller stacked on the GIC", () => {
  // the shape of qcm2290.dtsi: the MPM sits under the RPM processor node, takes <pin flags>
  // and maps the pins of its qcom,mpm-pin-map to GIC SPIs; the USB controller, SPMI and TSENS
  // reach it through interrupts-extended
  const t = treeOf(
    node('', [prop.u32('#address-cells', 1), prop.u32('#size-cells', 1), prop.u32('interrupt-parent', ref('gic'))], [
      node('gic: interrupt-controller@1000', [prop.string('compatible', 'arm,gic-v3'), prop.empty('interrupt-controller'), prop.u32('#interrupt-cells', 3)]),
      node('remoteproc', [prop.strings('compatible', ['qcom,qcm2290-rpm-proc', 'qcom,rpm-proc'])], [
        node('mpm: interrupt-controller', [
          prop.string('compatible', 'qcom,mpm'),
          prop.cells('interrupts', 0, 197, 1),
          prop.empty('interrupt-controller'),
          prop.u32('#interrupt-cells', 2),
          prop.u32('interrupt-parent', ref('gic')),
          prop.u32('qcom,mpm-pin-count', 96),
          prop.cells('qcom,mpm-pin-map', 2, 275, 5, 296, 12, 422, 86, 183),
        ]),
      ]),
      node('usb@4ef8800', [prop.string('compatible', 'x,usb'), prop.cells('interrupts-extended', ref('gic'), 0, 260, 4, ref('mpm'), 12, 4, ref('mpm'), 40, 4)]),
    ]),
  );

  it("hands a mapped pin on as its SPI; an unmapped pin reaches no line", () => {
    const k = new Kernel(new Board('t', [{ base: 0x4000_0000, size: 1 << 20 }]));
    const tree = k.of.loadTree(t.fdt);
    const usb = tree.findByPath('/usb@4ef8800')!;
    expect(k.of.irqGet(usb, 0)).toBe(32 + 260);
    expect(k.of.irqGet(usb, 1)).toBe(32 + 422); // pin 12 -> SPI 422
    expect(k.of.irqGet(usb, 2)).toBe(-EINVAL); // pin 40 only wakes the SoC
    expect(k.log.grep(/interrupt controller \/remoteproc/).map((r) => r.msg)).toEqual(['interrupt controller /remoteproc/interrupt-controller -> /interrupt-controller@1000 (stacked)']);
    // a platform driver in Linux: not taken early
    expect(k.of.isEarlyNode(tree.findByPath('/remoteproc/interrupt-controller')!)).toBe(false);
  });
});

describe('fw_devlink supplier properties', () => {
  it('finds iommus, clocks, power-domains, -supply and -gpios suppliers but not interrupt parents', () => {
    const t = treeOf(
      node('', [], [
        node('iommu: iommu', [prop.u32('#iommu-cells', 1)]),
        node('clk: clk', [prop.u32('#clock-cells', 1)]),
        node('pd: pd', [prop.u32('#power-domain-cells', 0)]),
        node('reg: regulator'),
        node('gpio: gpio', [prop.u32('#gpio-cells', 2)]),
        node('gic: gic', [prop.empty('interrupt-controller'), prop.u32('#interrupt-cells', 1)]),
        node('user', [
          prop.cells('iommus', ref('iommu'), 1, ref('iommu'), 2),
          prop.cells('clocks', ref('clk'), 3),
          prop.cells('power-domains', ref('pd')),
          prop.u32('vdd-supply', ref('reg')),
          prop.cells('reset-gpios', ref('gpio'), 1, 0),
          prop.u32('interrupt-parent', ref('gic')),
          prop.cells('interrupts', 5),
        ]),
      ]),
    );
    const refs = ofSupplierRefs(must(t, '/user')).map((r) => `${r.prop}->${r.np.fullName}`);
    expect(refs).toEqual(['iommus->/iommu', 'iommus->/iommu', 'clocks->/clk', 'power-domains->/pd', 'vdd-supply->/regulator', 'reset-gpios->/gpio']);
  });
});

describe('OfLayer.populate', () => {
  function board(root: DraftNode): Board {
    const b = new Board('t', [{ base: 0x4000_0000, size: 1 << 20 }]);
    b.dtb = writeDtb(buildFdt({ root }));
    return b;
  }
  const dt = node('', [prop.u32('#address-cells', 1), prop.u32('#size-cells', 1), prop.string('compatible', 'test,board')], [
    node('gic: intc@8000000', [prop.string('compatible', 'arm,gic-v3'), prop.empty('interrupt-controller'), prop.u32('#interrupt-cells', 3), prop.cells('reg', 0x0800_0000, 0x10000)]),
    node('memory@40000000', [prop.string('device_type', 'memory'), prop.cells('reg', 0x4000_0000, 0x10_0000)]),
    node('chosen', [prop.string('bootargs', 'console=ttyAMA0')]),
    node('timer', [prop.string('compatible', 'arm,armv8-timer')]),
    node('soc', [prop.string('compatible', 'simple-bus'), prop.u32('#address-cells', 1), prop.u32('#size-cells', 1), prop.empty('ranges'), prop.u32('interrupt-parent', ref('gic'))], [
      node('dma@a000000', [prop.string('compatible', 'gki,dma-master'), prop.cells('reg', 0x0a00_0000, 0x1000), prop.cells('interrupts', 0, 16, 4)]),
      node('dma@a001000', [prop.string('compatible', 'gki,dma-master'), prop.cells('reg', 0x0a00_1000, 0x1000), prop.string('status', 'disabled')]),
      node('nocompat@a002000', [prop.cells('reg', 0x0a00_2000, 0x1000)]),
      node('mfd@a003000', [prop.string('compatible', 'x,not-a-bus'), prop.cells('reg', 0x0a00_3000, 0x1000)], [
        node('child@0', [prop.string('compatible', 'x,child')]),
      ]),
    ]),
  ]);

  it('creates devices for enabled compatible nodes under the root and simple-bus', () => {
    const k = new Kernel(board(dt));
    k.of.populate();
    const names = k.drivers.listDevices().map((d) => d.name);
    expect(names).toEqual(['timer', 'soc', 'a000000.dma', 'a003000.mfd']);
    const dma = k.drivers.findDevice('a000000.dma')!;
    expect(dma.parent?.name).toBe('soc');
    expect(dma.ofNode?.fullName).toBe('/soc/dma@a000000');
    expect(dma.resources).toEqual([
      { kind: 'mem', start: 0x0a00_0000, end: 0x0a00_0fff, name: '/soc/dma@a000000' },
      { kind: 'irq', start: 48, end: 48, name: '/soc/dma@a000000' },
    ]);
    // the simple-bus node is claimed by the built-in bus driver
    expect(k.drivers.findDevice('soc')?.driver?.name).toBe('simple-pm-bus');
    // populating again adds nothing
    k.of.populate();
    expect(k.drivers.listDevices()).toHaveLength(4);
  });

  it('makes no device of an OPP table (compatible "operating-points-v2"), at the root or on a bus', () => {
    // of_platform_bus_create skips of_skipped_node_table's nodes: the OPP tables real trees
    // carry (gpu_opp_table, cpu0_opp_table) describe operating points for their consumers
    const opp = (label: string, name: string) =>
      node(`${label}: ${name}`, [prop.string('compatible', 'operating-points-v2'), prop.empty('opp-shared')], [
        node('opp-200000000', [prop.cells('opp-hz', 0, 200_000_000), prop.u32('required-opps', ref('rpmpd_opp'))]),
      ]);
    const withOpp = node('', [prop.u32('#address-cells', 1), prop.u32('#size-cells', 1), prop.string('compatible', 'test,board')], [
      opp('cpu_opp', 'opp-table-cpu0'),
      node('rpmpd: power-controller', [prop.string('compatible', 'qcom,rpmhpd'), prop.u32('#power-domain-cells', 1), prop.u32('operating-points-v2', ref('rpmpd_opp_table'))], [
        node('rpmpd_opp_table: opp-table', [prop.string('compatible', 'operating-points-v2')], [node('rpmpd_opp: opp1', [prop.u32('opp-level', 16)])]),
      ]),
      node('soc', [prop.string('compatible', 'simple-bus'), prop.u32('#address-cells', 1), prop.u32('#size-cells', 1), prop.empty('ranges')], [
        node('gpu@a000000', [prop.string('compatible', 'x,gpu'), prop.cells('reg', 0x0a00_0000, 0x1000), prop.u32('operating-points-v2', ref('gpu_opp'))], [opp('gpu_opp', 'opp-table')]),
        opp('bus_opp', 'opp-table-bus'),
      ]),
    ]);
    const k = new Kernel(board(withOpp));
    k.of.populate();
    expect(k.drivers.listDevices().map((d) => d.name)).toEqual(['power-controller', 'soc', 'a000000.gpu']);
    expect(k.of.isPopulated(must(k.of.tree!, '/opp-table-cpu0'))).toBe(false);
    // populating the bus again (as simple-pm-bus does) still skips its OPP table
    const soc = k.drivers.findDevice('soc')!;
    expect(k.of.platformPopulate(must(k.of.tree!, '/soc'), soc)).toBe(0);
    expect(k.drivers.listDevices().map((d) => d.name)).not.toContain('opp-table-bus');
  });

  it('makes no device of a fixed clock (of_clk_init marks it populated), and its consumers do not wait for it', () => {
    const clocks = node('', [prop.u32('#address-cells', 1), prop.u32('#size-cells', 1), prop.string('compatible', 'test,board')], [
      node('xin24m: xin24m', [prop.string('compatible', 'fixed-clock'), prop.u32('#clock-cells', 0), prop.u32('clock-frequency', 24_000_000)]),
      node('div: clock-12m', [prop.string('compatible', 'fixed-factor-clock'), prop.u32('#clock-cells', 0), prop.u32('clocks', ref('xin24m')), prop.u32('clock-div', 2), prop.u32('clock-mult', 1)]),
      node('off: clock-off', [prop.string('compatible', 'fixed-clock'), prop.u32('#clock-cells', 0), prop.string('status', 'disabled')]),
      node('cru: clock-controller@1000', [prop.string('compatible', 'x,cru'), prop.cells('reg', 0x1000, 0x1000), prop.u32('#clock-cells', 1)]),
      node('uart@2000', [prop.string('compatible', 'x,uart'), prop.cells('reg', 0x2000, 0x100), prop.cells('clocks', ref('xin24m'), ref('div'))]),
    ]);
    const k = new Kernel(board(clocks));
    k.of.populate();
    expect(k.drivers.listDevices().map((d) => d.name)).toEqual(['1000.clock-controller', '2000.uart']);
    const t = k.of.tree!;
    expect([must(t, '/xin24m'), must(t, '/clock-12m'), must(t, '/clock-off')].map((n) => k.of.isEarlyNode(n))).toEqual([true, true, false]);
    let probed = 0;
    k.drivers.registerDriver({ name: 'uart', ofMatchTable: [{ compatible: 'x,uart' }], probe: () => (probed++, 0) });
    expect(probed).toBe(1);
    expect(k.drivers.findDevice('2000.uart')!.state).toBe('bound');
  });

  it('logs and ignores a malformed DTB, and copes with none', () => {
    const b = new Board('bad', [{ base: 0x4000_0000, size: 1 << 20 }]);
    b.dtb = new Uint8Array([0xd0, 0x0d, 0xfe, 0xed, 0, 0, 0, 8]);
    const k = new Kernel(b);
    k.of.populate();
    expect(k.log.grep('invalid device tree blob')).toHaveLength(1);
    expect(k.drivers.listDevices()).toEqual([]);
    const k2 = new Kernel(new Board('none', [{ base: 0x4000_0000, size: 1 << 20 }]));
    k2.of.populate();
    expect(k2.drivers.listDevices()).toEqual([]);
    expect(k2.of.tree).toBeNull();
  });
});
