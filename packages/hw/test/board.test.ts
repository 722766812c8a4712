import { afterEach, describe, expect, it } from 'vitest';
import {
  Board,
  buildFdt,
  createDefaultBoard,
  DEFAULT_DMA_BASE,
  DEFAULT_DMA_STRIDE,
  DEFAULT_ADRENO_PATH,
  DEFAULT_ADRENO_SMMU_PATH,
  DEFAULT_GMU_PATH,
  DEFAULT_GPU_PATH,
  DEFAULT_MMU500_BASE,
  DEFAULT_MMU500_PATH,
  MaliGpu,
  SmmuV2,
  DEFAULT_RAM_BASE,
  DEFAULT_RAM_SIZE,
  DEFAULT_RESERVED_BASE,
  DEFAULT_RESERVED_SIZE,
  DEFAULT_SMMU_BASE,
  DEFAULT_SMMU_PATH,
  DEFAULT_SMMU_SIZE,
  defaultBoardDtb,
  defaultBoardSpec,
  DMA_ID_VALUE,
  DMA_REG_ID,
  DMA_REG_STREAM_ID,
  DmaMaster,
  FdtError,
  findByPhandle,
  phandleArgsList,
  propStrings,
  resolveInterrupts,
  SMMU_IDR0,
  SMMUV3_PRESET_FVP,
  SmmuV3,
  findNode,
  node,
  parseDtb,
  phandleOf,
  prop,
  propCells,
  propString,
  propU32,
  ref,
  socOf,
  writeDtb,
  type FdtRegEntry,
  type ModelContext,
  type MmioDevice,
} from '@gki/hw';

const undo: (() => void)[] = [];
afterEach(() => {
  while (undo.length) undo.pop()!();
});

describe('default board', () => {
  it('is gki-virt with 1 GiB of RAM at 0x4000_0000 and one firmware reservation', () => {
    const b = createDefaultBoard();
    expect(b.name).toBe('gki-virt');
    expect(b.mem.regions).toEqual([{ base: DEFAULT_RAM_BASE, size: DEFAULT_RAM_SIZE }]);
    expect(DEFAULT_RAM_BASE).toBe(0x4000_0000);
    expect(DEFAULT_RAM_SIZE).toBe(2 ** 30);
    expect(b.reserved).toEqual([{ address: DEFAULT_RESERVED_BASE, size: DEFAULT_RESERVED_SIZE }]);
    expect(b.mem.contains(DEFAULT_RESERVED_BASE, DEFAULT_RESERVED_SIZE)).toBe(true);
  });

  it('keeps its DTB, which parses back to the tree it was built from', () => {
    const b = createDefaultBoard();
    expect(b.dtb).toEqual(defaultBoardDtb());
    const tree = parseDtb(b.dtb);
    expect(tree).toEqual(buildFdt(defaultBoardSpec({ smmu: true })));
    expect(writeDtb(tree)).toEqual(b.dtb);
    expect(propString(tree.root, 'compatible')).toBe('gki,virt');
    expect(propU32(tree.root, '#address-cells')).toBe(2);
    expect(propU32(tree.root, '#size-cells')).toBe(2);
    expect(propString(findNode(tree, '/chosen')!, 'bootargs')).toMatch(/console=/);
    const gic = findNode(tree, '/interrupt-controller@8000000')!;
    expect(propString(gic, 'compatible')).toBe('arm,gic-v3');
    expect(propU32(gic, '#interrupt-cells')).toBe(3);
    expect(gic.props.some((p) => p.name === 'interrupt-controller' && p.value.length === 0)).toBe(true);
    const ph = phandleOf(gic)!;
    expect(findByPhandle(tree, ph)).toBe(gic);
    const soc = findNode(tree, '/soc')!;
    expect(propString(soc, 'compatible')).toBe('simple-bus');
    expect(soc.props.some((p) => p.name === 'ranges')).toBe(true);
    const dmas = soc.children.filter((c) => propString(c, 'compatible') === 'gki,dma-master');
    expect(dmas).toHaveLength(5);
    for (const d of dmas) {
      expect(propU32(d, 'interrupt-parent')).toBe(ph);
      expect(propCells(d, 'interrupts')).toHaveLength(3);
      expect(propCells(d, 'reg')).toHaveLength(2);
    }
    // the SMMUv3: 128 KiB window, three named SPIs, one StreamID cell, the FVP preset
    const smmu = findNode(tree, DEFAULT_SMMU_PATH)!;
    expect(propString(smmu, 'compatible')).toBe('arm,smmu-v3');
    expect(propCells(smmu, 'reg')).toEqual([DEFAULT_SMMU_BASE, DEFAULT_SMMU_SIZE]);
    expect(propStrings(smmu, 'interrupt-names')).toEqual(['eventq', 'gerror', 'cmdq-sync']);
    expect(resolveInterrupts(tree, DEFAULT_SMMU_PATH)).toEqual([32 + 74, 32 + 75, 32 + 77]);
    expect(propU32(smmu, '#iommu-cells')).toBe(1);
    expect(propString(smmu, 'gki,smmu-preset')).toBe('fvp');
    // the MMU-500: one global interrupt then eight context interrupts, one StreamID cell
    const mmu500 = findNode(tree, DEFAULT_MMU500_PATH)!;
    expect(propString(mmu500, 'compatible')).toBe('arm,mmu-500');
    expect(propU32(mmu500, '#global-interrupts')).toBe(1);
    expect(resolveInterrupts(tree, DEFAULT_MMU500_PATH)).toEqual([80, 81, 82, 83, 84, 85, 86, 87, 88].map((s) => 32 + s));
    expect(propU32(mmu500, '#iommu-cells')).toBe(1);
    // the Mali GPU: job, mmu and gpu interrupts by name, no iommus (its MMU is its own)
    const gpu = findNode(tree, DEFAULT_GPU_PATH)!;
    expect(propString(gpu, 'compatible')).toBe('arm,mali-t860');
    expect(propStrings(gpu, 'interrupt-names')).toEqual(['job', 'mmu', 'gpu']);
    expect(gpu.props.some((p) => p.name === 'iommus')).toBe(false);
    // masters 0 and 1 name the SMMUv3, 3 and 4 the MMU-500, with their stream IDs; master 2 has no iommus
    const iommus = [0, 1, 2, 3, 4].map((n) => `/soc/dma@a00${n}000`).map((p) =>
      phandleArgsList(tree, findNode(tree, p)!, p, 'iommus', '#iommu-cells').map((r) => [r.path, ...r.args]),
    );
    expect(iommus).toEqual([[[DEFAULT_SMMU_PATH, 0x10]], [[DEFAULT_SMMU_PATH, 0x11]], [], [[DEFAULT_MMU500_PATH, 0x13]], [[DEFAULT_MMU500_PATH, 0x14]]]);
  });

  it('has an SMMUv3 model with masters 0 and 1, an MMU-500 model with masters 3 and 4, master 2 doing direct DMA, and a Mali GPU', () => {
    const b = createDefaultBoard();
    const [smmu, ...more] = b.modelsOfType(SmmuV3);
    expect(more).toHaveLength(0);
    expect(b.models.get(DEFAULT_SMMU_PATH)).toBe(smmu);
    expect(b.bus.find(DEFAULT_SMMU_BASE)?.device).toBe(smmu);
    expect(b.bus.read32(DEFAULT_SMMU_BASE + SMMU_IDR0)).toBe(SMMUV3_PRESET_FVP.idr[0]);
    const dmas = b.modelsOfType(DmaMaster);
    expect(smmu!.attachedMasters).toEqual([dmas[0], dmas[1]]);
    expect(dmas.map((d) => d.translated)).toEqual([true, true, false, true, true]);
    // two SMMUv2 models: the Adreno SMMU (the Adreno GPU and its GMU behind it) and the MMU-500
    const [adrenoSmmu, mmu500, ...more2] = b.modelsOfType(SmmuV2);
    expect(more2).toHaveLength(0);
    expect(b.models.get(DEFAULT_ADRENO_SMMU_PATH)).toBe(adrenoSmmu);
    expect(adrenoSmmu!.attachedMasters.map((m) => [...b.models.entries()].find(([, x]) => x === m)?.[0])).toEqual([DEFAULT_ADRENO_PATH, DEFAULT_GMU_PATH]);
    expect(b.models.get(DEFAULT_MMU500_PATH)).toBe(mmu500);
    expect(b.bus.find(DEFAULT_MMU500_BASE)?.device).toBe(mmu500);
    expect(mmu500!.attachedMasters).toEqual([dmas[3], dmas[4]]);
    expect(b.modelsOfType(MaliGpu).map((g) => b.models.get(DEFAULT_GPU_PATH) === g)).toEqual([true]);
    // { smmu: false }: the same board without the IOMMU, every master untranslated
    const bare = createDefaultBoard({ smmu: false });
    expect(bare.modelsOfType(SmmuV3)).toHaveLength(0);
    expect(bare.modelsOfType(DmaMaster).map((d) => d.translated)).toEqual([false, false, false]);
    expect(parseDtb(bare.dtb)).toEqual(buildFdt(defaultBoardSpec()));
    expect(defaultBoardDtb({ smmu: false })).toEqual(bare.dtb);
  });

  it('instantiates the five DMA masters on the bus with distinct stream IDs and IRQ lines', () => {
    const b = createDefaultBoard();
    const dmas = b.modelsOfType(DmaMaster);
    expect(dmas).toHaveLength(5);
    expect([...b.models.keys()]).toEqual(
      [DEFAULT_ADRENO_PATH, DEFAULT_ADRENO_SMMU_PATH, DEFAULT_GMU_PATH, ...[0, 1, 2, 3, 4].map((n) => `/soc/dma@a00${n}000`), DEFAULT_MMU500_PATH, DEFAULT_GPU_PATH, DEFAULT_SMMU_PATH],
    );
    for (let n = 0; n < 5; n++) {
      const base = DEFAULT_DMA_BASE + n * DEFAULT_DMA_STRIDE;
      expect(b.bus.find(base)?.device).toBe(dmas[n]);
      expect(b.bus.read32(base + DMA_REG_ID)).toBe(DMA_ID_VALUE);
      expect(b.bus.read32(base + DMA_REG_STREAM_ID)).toBe(0x10 + n);
    }
    // IRQ wiring: SPI 16+n -> GIC line 48+n; completion of master 1 reaches line 49 only.
    const seen: number[] = [];
    for (const l of [48, 49, 50]) b.irq.onIrq(l, (irq) => seen.push(irq));
    dmas[1]!.fill(DEFAULT_RAM_BASE, 64, 0x1234_5678);
    expect(seen).toEqual([49]);
  });

  it('can be extended under /soc before it is built', () => {
    const spec = defaultBoardSpec();
    socOf(spec).children.push(
      node('dma@b000000', [prop.string('compatible', 'gki,dma-master'), prop.reg(1, 1, [0x0b00_0000, 0x1000])]),
    );
    const b = Board.fromDtb(writeDtb(buildFdt(spec)));
    expect(b.modelsOfType(DmaMaster)).toHaveLength(4);
    // no gki,stream-id and no iommus: the stream ID is the master's index
    expect((b.models.get('/soc/dma@b000000') as DmaMaster).streamId).toBe(3);
    // every call returns a fresh description
    expect(socOf(defaultBoardSpec()).children).toHaveLength(3);
  });
});

function customDtb(extraSoc: ReturnType<typeof node>[] = [], rootExtra: ReturnType<typeof node>[] = []): Uint8Array {
  return writeDtb(
    buildFdt({
      reservations: [{ address: 0x8000_0000, size: 0x1000 }],
      root: node('', [prop.u32('#address-cells', 2), prop.u32('#size-cells', 2), prop.strings('compatible', ['t,custom', 't,base'])], [
        node('memory@80000000', [prop.string('device_type', 'memory'), prop.reg(2, 2, [0x8000_0000, 0x100_0000])]),
        node('memory@100000000', [prop.string('device_type', 'memory'), prop.reg(2, 2, [2 ** 32, 0x20_0000], [2 ** 33, 0x10_0000])]),
        node('memory@200000000', [prop.reg(2, 2, [2 ** 34, 0x1000]), prop.string('status', 'disabled')]),
        node('reserved-memory', [prop.u32('#address-cells', 2), prop.u32('#size-cells', 2), prop.empty('ranges')], [
          node('fw@80100000', [prop.reg(2, 2, [0x8010_0000, 0x2000]), prop.empty('no-map')]),
        ]),
        node('pic: pic', [prop.empty('interrupt-controller'), prop.u32('#interrupt-cells', 1)]),
        node('io: iommu@1000', [prop.u32('#iommu-cells', 1), prop.reg(2, 2, [0x1000, 0x1000])]),
        node('bus@10000000', [
          prop.string('compatible', 'simple-bus'),
          prop.u32('#address-cells', 1),
          prop.u32('#size-cells', 1),
          prop.cells('ranges', 0, 0, 0x1000_0000, 0x100_0000), // child 0.. -> parent 0x1000_0000..
          prop.u32('interrupt-parent', ref('pic')),
        ], extraSoc),
        ...rootExtra,
      ]),
    }),
  );
}

describe('Board.fromDtb', () => {
  it('takes RAM from every enabled /memory node and reservations from both sources', () => {
    const b = Board.fromDtb(customDtb(), { models: false });
    expect(b.mem.regions).toEqual([
      { base: 0x8000_0000, size: 0x100_0000 },
      { base: 2 ** 32, size: 0x20_0000 },
      { base: 2 ** 33, size: 0x10_0000 },
    ]);
    expect(b.reserved).toEqual([
      { address: 0x8000_0000, size: 0x1000 },
      { address: 0x8010_0000, size: 0x2000 },
    ]);
    expect(b.name).toBe('t,custom'); // no model property: first compatible
    expect(Board.fromDtb(customDtb(), { name: 'x' }).name).toBe('x');
  });

  it('instantiates registered models with translated regs, IRQ lines and a context', () => {
    const calls: { path: string; regs: readonly FdtRegEntry[]; irqs: readonly number[]; ctx: ModelContext }[] = [];
    undo.push(
      Board.registerModel('t,widget', (board, n, regs, irqs, ctx) => {
        calls.push({ path: ctx.path, regs, irqs, ctx });
        const dev: MmioDevice = { name: n.name, read32: () => 0x5a5a, write32: () => {} };
        board.bus.map(regs[0]!.address, regs[0]!.size, dev);
        return dev;
      }),
    );
    const dtb = customDtb([
      node('w@2000', [prop.strings('compatible', ['t,widget-v2', 't,widget']), prop.reg(1, 1, [0x2000, 0x100]), prop.cells('interrupts', 5, 6)]),
      node('w@3000', [prop.string('compatible', 't,widget'), prop.reg(1, 1, [0x3000, 0x100]), prop.string('status', 'disabled')]),
      node('w@4000', [prop.string('compatible', 't,widget'), prop.reg(1, 1, [0x4000, 0x100]), prop.string('status', 'okay')]),
      node('u@5000', [prop.string('compatible', 't,unknown'), prop.reg(1, 1, [0x5000, 0x100])]),
    ]);
    const b = Board.fromDtb(dtb);
    expect(calls.map((c) => c.path)).toEqual(['/bus@10000000/w@2000', '/bus@10000000/w@4000']);
    expect(calls[0]!.regs).toEqual([{ address: 0x1000_2000, size: 0x100 }]);
    expect(calls[0]!.irqs).toEqual([5, 6]);
    expect(calls[0]!.ctx.compatible).toBe('t,widget');
    expect(calls.map((c) => c.ctx.index)).toEqual([0, 1]);
    expect(b.bus.read32(0x1000_2000)).toBe(0x5a5a);
    expect(b.bus.read32(0x1000_4000)).toBe(0x5a5a);
    expect(b.bus.find(0x1000_3000)).toBeUndefined(); // disabled
    expect(b.bus.find(0x1000_5000)).toBeUndefined(); // unknown compatible: left to the kernel
    expect([...b.models.keys()]).toEqual(['/bus@10000000/w@2000', '/bus@10000000/w@4000']);
  });

  it('prefers the most specific compatible and restores registrations on undo', () => {
    const hits: string[] = [];
    const restoreGeneric = Board.registerModel('t,widget', () => hits.push('generic'));
    const restoreV2 = Board.registerModel('t,widget-v2', () => hits.push('v2'));
    const dtb = customDtb([node('w@2000', [prop.strings('compatible', ['t,widget-v2', 't,widget'])])]);
    Board.fromDtb(dtb);
    expect(hits).toEqual(['v2']);
    restoreV2();
    expect(Board.modelFactory('t,widget-v2')).toBeUndefined();
    Board.fromDtb(dtb);
    expect(hits).toEqual(['v2', 'generic']);
    restoreGeneric();
    expect(Board.modelFactory('t,widget')).toBeUndefined();
    expect(Board.modelFactory('gki,dma-master')).toBeDefined();
  });

  it('takes a DMA master stream ID from iommus when gki,stream-id is absent', () => {
    const b = Board.fromDtb(
      customDtb([
        node('dma@0', [prop.string('compatible', 'gki,dma-master'), prop.reg(1, 1, [0, 0x1000]), prop.cells('iommus', ref('io'), 0x77), prop.u32('interrupts', 9)]),
      ]),
    );
    const dma = b.models.get('/bus@10000000/dma@0') as DmaMaster;
    expect(dma).toBeInstanceOf(DmaMaster);
    expect(dma.streamId).toBe(0x77);
    expect(b.bus.read32(0x1000_0000 + DMA_REG_STREAM_ID)).toBe(0x77);
    let fired = 0;
    b.irq.onIrq(9, () => fired++);
    dma.fill(0x8000_0000, 4, 1);
    expect(fired).toBe(1);
  });

  it('rejects blobs and trees that describe no usable machine', () => {
    const expectFdt = (f: () => unknown, re: RegExp): void => {
      let err: unknown;
      try {
        f();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(FdtError);
      expect((err as FdtError).message).toMatch(re);
    };
    expectFdt(() => Board.fromDtb(new Uint8Array(8)), /bad magic/);
    expectFdt(() => Board.fromDtb(writeDtb(buildFdt({ root: node('') }))), /no RAM/);
    expectFdt(
      () => Board.fromDtb(writeDtb(buildFdt({ root: node('', [prop.u32('#address-cells', 1), prop.u32('#size-cells', 1)], [node('memory@0', [prop.cells('reg', 0x800, 0x1000)])]) }))),
      // a bank without a whole page in it gives no RAM
      /no RAM/,
    );
    expectFdt(() => Board.fromDtb(customDtb([node('dma@0', [prop.string('compatible', 'gki,dma-master')])])), /dma@0.*needs a CPU-addressable reg/);
    expectFdt(() => Board.fromDtb(customDtb([node('dma@0', [prop.string('compatible', 'gki,dma-master'), prop.reg(1, 1, [0, 0x10])])])), /below 0x40/);
    expectFdt(
      () =>
        Board.fromDtb(
          customDtb([
            node('dma@0', [prop.string('compatible', 'gki,dma-master'), prop.reg(1, 1, [0, 0x1000])]),
            node('dma@800', [prop.string('compatible', 'gki,dma-master'), prop.reg(1, 1, [0x800, 0x1000])]),
          ]),
        ),
      /dma@800: gki,dma-master model: .*overlaps dma@0/,
    );
  });
});
