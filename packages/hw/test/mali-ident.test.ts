/**
 * Mali GPU identity, presets by compatible, `gki,*` overrides, interrupt wiring from real
 * device-tree shapes, reset and power-up as panfrost performs them.
 */
import { describe, expect, it } from 'vitest';
import { Board, FdtError, MALI_MODEL, MaliGpu, prop } from '@gki/hw';
import {
  GPU_IRQ_CLEAN_CACHES_COMPLETED,
  GPU_IRQ_POWER_CHANGED,
  GPU_IRQ_POWER_CHANGED_ALL,
  GPU_IRQ_RESET_COMPLETED,
  maliDtb,
  maliRig,
  poll,
  REG,
  resetAndPowerUp,
  rk3399,
  type MaliBoardOptions,
} from './mali-helpers.js';

/** Identity registers as panfrost prints them at probe on the named SoCs. */
const PROBE_LOGS: { soc: string; opts: MaliBoardOptions; id: number; l2: number; tiler: number; mmu: number; as: number; shader: number; core: number }[] = [
  {
    soc: 'RK3399 (Mali-T860 r2p0)',
    opts: { compatible: ['rockchip,rk3399-mali', 'arm,mali-t860'], gicCells: 4 },
    id: 0x0860_2000, l2: 0x0712_0206, tiler: 0x809, mmu: 0x2830, as: 0xff, shader: 0xf, core: 0,
  },
  {
    soc: 'RK3288 (Mali-T760)',
    opts: { compatible: ['rockchip,rk3288-mali', 'arm,mali-t760'] },
    id: 0x0750_0001, l2: 0x0712_0206, tiler: 0x809, mmu: 0x2830, as: 0xff, shader: 0xf, core: 0,
  },
  {
    soc: 'Allwinner H6 (Mali-T720 r1p1)',
    opts: { compatible: ['allwinner,sun50i-h6-mali', 'arm,mali-t720'] },
    id: 0x0720_1010, l2: 0x0711_0206, tiler: 0x809, mmu: 0x2821, as: 0xf, shader: 0x3, core: 0,
  },
  {
    soc: 'MT8183 (Mali-G72 r0p3)',
    opts: { compatible: ['mediatek,mt8183-mali', 'arm,mali-bifrost'], gicCells: 4 },
    id: 0x6221_0030, l2: 0x0712_0206, tiler: 0x809, mmu: 0x2830, as: 0xff, shader: 0x7, core: 0,
  },
  {
    soc: 'RK3568 (Mali-G52 r1p0)',
    opts: { compatible: ['rockchip,rk3568-mali', 'arm,mali-bifrost'] },
    id: 0x7402_1000, l2: 0x0711_0206, tiler: 0x209, mmu: 0x2823, as: 0xff, shader: 0x1, core: 0x2,
  },
  {
    // a tree newer than v6.12: panfrost prints "mali-g52 id 0x7402 major 0x1 minor 0x0" and
    // shader_present=0x7 l2_present=0x1 there (the feature words below are the RK3568's)
    soc: 'RK3576 (Mali-G52 r1p0 MC3)',
    opts: { compatible: ['rockchip,rk3576-mali', 'arm,mali-bifrost'] },
    id: 0x7402_1000, l2: 0x0711_0206, tiler: 0x209, mmu: 0x2823, as: 0xff, shader: 0x7, core: 0x2,
  },
  {
    soc: 'Amlogic SM1 (Mali-G31)',
    opts: { compatible: ['amlogic,meson-g12a-mali', 'arm,mali-bifrost'], rootCompatible: ['khadas,vim3l', 'amlogic,sm1'] },
    id: 0x7093_0000, l2: 0x0710_0206, tiler: 0x209, mmu: 0x2821, as: 0xff, shader: 0x1, core: 0,
  },
  {
    soc: 'Amlogic G12B (Mali-G52)',
    opts: { compatible: ['amlogic,meson-g12a-mali', 'arm,mali-bifrost'], rootCompatible: ['khadas,vim3', 'amlogic,a311d', 'amlogic,g12b'] },
    id: 0x7212_0000, l2: 0x0711_0206, tiler: 0x809, mmu: 0x2830, as: 0xff, shader: 0x7, core: 0,
  },
  {
    soc: 'MT8188 (Mali-G57, Valhall JM)',
    opts: { compatible: ['mediatek,mt8188-mali', 'arm,mali-valhall-jm'], gicCells: 4 },
    id: 0x9093_0000, l2: 0x0813_0206, tiler: 0x809, mmu: 0x2830, as: 0xff, shader: 0x10005, core: 0,
  },
  {
    // mt8370.dtsi (after v6.12) overrides the MT8188 GPU's compatible: one core fused out
    soc: 'MT8370 (Mali-G57 MC2)',
    opts: { compatible: ['mediatek,mt8370-mali', 'arm,mali-valhall-jm'], gicCells: 4 },
    id: 0x9093_0000, l2: 0x0813_0206, tiler: 0x809, mmu: 0x2830, as: 0xff, shader: 0x5, core: 0,
  },
  {
    // sun55i-a523.dtsi (after v6.12): "mali-g57 id 0x9091 major 0x0 minor 0x1", one core
    soc: 'Allwinner A523 (Mali-G57 MC1 r0p1)',
    opts: { compatible: ['allwinner,sun55i-a523-mali', 'arm,mali-valhall-jm'] },
    id: 0x9091_0010, l2: 0x0711_0206, tiler: 0x809, mmu: 0x2830, as: 0xff, shader: 0x1, core: 0,
  },
];

describe('Mali identity', () => {
  it.each(PROBE_LOGS)('reports what panfrost reads on $soc', (c) => {
    const r = maliRig(c.opts);
    expect(r.r32(REG.GPU_ID)).toBe(c.id);
    expect(r.r32(REG.L2_FEATURES)).toBe(c.l2);
    expect(r.r32(REG.CORE_FEATURES)).toBe(c.core);
    expect(r.r32(REG.TILER_FEATURES)).toBe(c.tiler);
    expect(r.r32(REG.MEM_FEATURES)).toBe(1);
    expect(r.r32(REG.MMU_FEATURES)).toBe(c.mmu);
    expect(r.r32(REG.AS_PRESENT)).toBe(c.as);
    expect(r.r32(REG.JS_PRESENT)).toBe(0x7);
    expect(r.r32(REG.SHADER_PRESENT_LO)).toBe(c.shader);
    expect(r.r32(REG.L2_PRESENT_LO)).toBe(1);
    expect(r.r32(REG.TILER_PRESENT_LO)).toBe(1);
    // the other read-only feature words exist (non-zero) for every present slot
    for (let s = 0; s < 3; s++) expect(r.r32(REG.JS_FEATURES0 + 4 * s)).not.toBe(0);
    expect(r.r32(REG.JS_FEATURES0 + 4 * 3)).toBe(0);
    expect(r.r32(REG.THREAD_MAX_THREADS)).toBeGreaterThan(0);
    expect(r.r32(REG.TEXTURE_FEATURES0)).not.toBe(0);
  });

  it("reports what panfrost reads on the MT8192 (Google Spherion): the G57 MC5's id, L2 and memory features and five cores", () => {
    // panfrost 13000000.gpu: mali-g57 id 0x9093 major 0x0 minor 0x0 status 0x0; L2:0x07130206
    // Shader:0x00000000 Tiler:0x00000809 Mem:0x101 MMU:0x00002830 AS:0xff JS:0x7;
    // shader_present=0x50045 l2_present=0x1
    const r = maliRig({ compatible: ['mediatek,mt8192-mali', 'arm,mali-valhall-jm'], gicCells: 4 });
    expect([REG.GPU_ID, REG.L2_FEATURES, REG.CORE_FEATURES, REG.TILER_FEATURES, REG.MEM_FEATURES, REG.MMU_FEATURES, REG.AS_PRESENT, REG.JS_PRESENT].map((o) => r.r32(o))).toEqual([
      0x9093_0000, 0x0713_0206, 0, 0x809, 0x101, 0x2830, 0xff, 0x7,
    ]);
    expect([r.r32(REG.SHADER_PRESENT_LO), r.r32(REG.L2_PRESENT_LO), r.r32(REG.TILER_PRESENT_LO)]).toEqual([0x50045, 1, 1]);
  });

  it("reports what panfrost reads on the MT8195 family (MT8395 Genio 1200 EVK): G57 r0p1, before the MT8192 string its node also lists", () => {
    // panfrost 13000000.gpu: mali-g57 id 0x9093 major 0x0 minor 0x1 status 0x0; L2:0x07120206
    // Shader:0x00000000 Tiler:0x00000809 Mem:0x301 MMU:0x00002830 AS:0xff JS:0x7;
    // shader_present=0x50045 l2_present=0x1
    const r = maliRig({ compatible: ['mediatek,mt8195-mali', 'mediatek,mt8192-mali', 'arm,mali-valhall-jm'], gicCells: 4 });
    expect([REG.GPU_ID, REG.L2_FEATURES, REG.CORE_FEATURES, REG.TILER_FEATURES, REG.MEM_FEATURES, REG.MMU_FEATURES, REG.AS_PRESENT, REG.JS_PRESENT].map((o) => r.r32(o))).toEqual([
      0x9093_0010, 0x0712_0206, 0, 0x809, 0x301, 0x2830, 0xff, 0x7,
    ]);
    expect([r.r32(REG.SHADER_PRESENT_LO), r.r32(REG.L2_PRESENT_LO), r.r32(REG.TILER_PRESENT_LO)]).toEqual([0x50045, 1, 1]);
  });

  it('chooses by the first compatible it knows, so the SoC string wins over the generic one', () => {
    // A T860 SoC string with a (wrong) generic Bifrost fallback: the SoC's preset is used.
    expect(maliRig({ compatible: ['rockchip,rk3399-mali', 'arm,mali-bifrost'] }).r32(REG.GPU_ID)).toBe(0x0860_2000);
    // Unknown SoC string, known generic fallback.
    expect(maliRig({ compatible: ['vendor,unknown-mali', 'arm,mali-t860'] }).r32(REG.GPU_ID) >>> 16).toBe(0x0860);
    expect(maliRig({ compatible: ['vendor,unknown-mali', 'arm,mali-bifrost'] }).r32(REG.GPU_ID) >>> 16).toBe(0x7212);
    expect(maliRig({ compatible: ['arm,mali-valhall-jm'] }).r32(REG.GPU_ID) >>> 16).toBe(0x9093);
    expect(MALI_MODEL.compatibles).toEqual(expect.arrayContaining(['arm,mali-t860', 'arm,mali-bifrost', 'rockchip,rk3399-mali', 'amlogic,meson-g12a-mali']));
  });

  it('gki,* properties override the preset', () => {
    const r = rk3399([
      prop.u32('gki,gpu-id', 0x0860_1234),
      prop.u32('gki,as-present', 0x3),
      prop.u32('gki,va-bits', 39),
      prop.u32('gki,pa-bits', 36),
      prop.u32('gki,shader-present', 0x3),
    ]);
    expect(r.r32(REG.GPU_ID)).toBe(0x0860_1234);
    expect(r.r32(REG.AS_PRESENT)).toBe(0x3);
    expect(r.r32(REG.MMU_FEATURES)).toBe((36 << 8) | 39);
    expect(r.r32(REG.SHADER_PRESENT_LO)).toBe(0x3);
    const g = maliRig({ compatible: ['arm,mali-t860'], extra: [prop.string('gki,mali-preset', 'mali-g31')] });
    expect(g.r32(REG.GPU_ID)).toBe(0x7093_0000);
  });

  it('rejects bad nodes with an error naming the node and the property', () => {
    const bad = (extra: ReturnType<typeof prop.u32>[], re: RegExp) => {
      let err: unknown;
      try {
        Board.fromDtb(maliDtb({ compatible: ['arm,mali-t860'], extra }));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(FdtError);
      expect((err as FdtError).path).toBe('/gpu@ff9a0000');
      expect((err as Error).message).toMatch(re);
    };
    bad([prop.u32('gki,as-present', 0)], /gki,as-present/);
    bad([prop.u32('gki,as-present', 0x1_0000)], /gki,as-present/);
    bad([prop.u32('gki,va-bits', 49)], /gki,va-bits/);
    bad([prop.u32('gki,pa-bits', 12)], /gki,pa-bits/);
    bad([prop.string('gki,mali-preset', 'mali-g1000')], /unknown gki,mali-preset "mali-g1000"/);
    bad([prop.string('gki,job-execution', 'later')], /gki,job-execution/);
    expect(() => Board.fromDtb(maliDtb({ compatible: ['arm,mali-t860'], size: 0x1000 }))).toThrow(/reg size 0x1000/);
  });
});

describe('Mali interrupt wiring', () => {
  it.each([
    { tree: 'RK3399, 4-cell GIC (as rk3399.dtsi)', opts: { compatible: ['rockchip,rk3399-mali', 'arm,mali-t860'], gicCells: 4 as const } },
    { tree: 'RK3399-like, 3-cell GIC', opts: { compatible: ['rockchip,rk3399-mali', 'arm,mali-t860'], gicCells: 3 as const } },
    { tree: 'MT8183 Bifrost, 4-cell GIC', opts: { compatible: ['mediatek,mt8183b-mali', 'arm,mali-bifrost'], gicCells: 4 as const } },
  ])('takes job/mmu/gpu by interrupt-names: $tree', ({ opts }) => {
    const r = maliRig(opts);
    const hits: number[] = [];
    for (const line of [32 + 19, 32 + 20, 32 + 21]) r.board.irq.onIrq(line, (n) => hits.push(n));
    // gpu line: SPI 19. A soft reset completes and raises RESET_COMPLETED when unmasked.
    r.w32(REG.GPU_INT_MASK, GPU_IRQ_RESET_COMPLETED);
    r.w32(REG.GPU_CMD, 1);
    r.gpu.settle();
    expect(hits).toEqual([32 + 19]);
    expect(r.r32(REG.GPU_INT_STAT)).toBe(GPU_IRQ_RESET_COMPLETED);
    r.w32(REG.GPU_INT_CLEAR, GPU_IRQ_RESET_COMPLETED);
    expect(r.board.irq.line(32 + 19).level).toBe(false);
    // job line SPI 20, mmu line SPI 21: a job in the never-enabled AS0 fails with an MMU fault
    r.gpu.powerOnAll();
    r.w32(REG.JOB_INT_MASK, 0xffff_ffff);
    r.w32(REG.MMU_INT_MASK, 0xffff_ffff);
    r.w32(0x1800 + 0x50, 1);
    r.w32(0x1800 + 0x60, 1);
    expect(hits.slice(1).sort()).toEqual([32 + 20, 32 + 21]);
  });

  it('honours any order of interrupt-names and a 3-cell GIC (Amlogic G12)', () => {
    const r = maliRig({
      compatible: ['amlogic,meson-g12a-mali', 'arm,mali-bifrost'],
      irqs: [
        ['gpu', 160],
        ['mmu', 161],
        ['job', 162],
      ],
      base: 0xffe4_0000,
      size: 0x4_0000,
    });
    const seen: number[] = [];
    r.board.irq.onIrq(32 + 160, () => seen.push(160));
    r.board.irq.onIrq(32 + 161, () => seen.push(161));
    r.board.irq.onIrq(32 + 162, () => seen.push(162));
    r.gpu.powerOnAll();
    // an MMU fault (AS0 is unmapped after reset) on a job: mmu line, then the job line
    r.w32(REG.MMU_INT_MASK, 0xffff_ffff);
    r.w32(REG.JOB_INT_MASK, 0xffff_ffff);
    r.w32(0x1800 + 0x40, 0x1000);
    r.w32(0x1800 + 0x50, 1);
    r.w32(0x1800 + 0x58, 0);
    r.w32(0x1800 + 0x60, 1);
    expect(seen.sort()).toEqual([161, 162]);
  });

  it('shares one line between sources when the tree names the same interrupt twice', () => {
    const r = maliRig({
      compatible: ['arm,mali-t860'],
      irqs: [
        ['job', 40],
        ['mmu', 40],
        ['gpu', 41],
      ],
    });
    r.gpu.powerOnAll();
    r.w32(REG.JOB_INT_MASK, 0xffff_ffff);
    r.w32(REG.MMU_INT_MASK, 0xffff_ffff);
    r.w32(0x1800 + 0x50, 1);
    r.w32(0x1800 + 0x60, 1); // job at VA 0 in unmapped AS0: fails, MMU fault recorded
    expect(r.board.irq.line(32 + 40).level).toBe(true);
    r.w32(REG.JOB_INT_CLEAR, 0xffff_ffff);
    expect(r.board.irq.line(32 + 40).level).toBe(true); // the MMU source still holds it
    r.w32(REG.MMU_INT_CLEAR, 0xffff_ffff);
    expect(r.board.irq.line(32 + 40).level).toBe(false);
  });
});

describe('Mali reset and power', () => {
  it('soft reset completes after a few polls of GPU_INT_RAWSTAT, then clears every block', () => {
    const r = rk3399();
    r.gpu.powerOnAll();
    r.w32(REG.MMU_INT_MASK, 0xff);
    r.w32(REG.GPU_INT_MASK, 0);
    r.w32(REG.GPU_CMD, 1);
    const polls = poll(r, REG.GPU_INT_RAWSTAT, (v) => (v & GPU_IRQ_RESET_COMPLETED) !== 0);
    expect(polls).toBeGreaterThan(1); // not instantaneous
    expect(r.r32(REG.MMU_INT_MASK)).toBe(0);
    expect(r.r32(REG.SHADER_READY_LO)).toBe(0);
    expect(r.r32(REG.L2_READY_LO)).toBe(0);
    expect(r.gpu.stats.resets).toBe(1);
  });

  it('powers L2, shaders and tiler as panfrost_gpu_power_on polls them', () => {
    const r = rk3399();
    const polls = resetAndPowerUp(r);
    expect(polls).toBeGreaterThan(4);
    expect(r.r32(REG.L2_READY_LO)).toBe(1);
    expect(r.r32(REG.SHADER_READY_LO)).toBe(0xf);
    expect(r.r32(REG.TILER_READY_LO)).toBe(1);
    expect(r.r32(REG.GPU_INT_RAWSTAT) & (GPU_IRQ_POWER_CHANGED | GPU_IRQ_POWER_CHANGED_ALL)).toBe(GPU_IRQ_POWER_CHANGED | GPU_IRQ_POWER_CHANGED_ALL);
  });

  it('shows cores in transition while they power up and down, and never powers absent cores', () => {
    const r = rk3399();
    r.w32(REG.SHADER_PWRON_LO, 0xff); // only 0xf exist
    expect(r.r32(REG.SHADER_PWRTRANS_LO)).toBe(0xf);
    r.gpu.settle();
    expect(r.r32(REG.SHADER_READY_LO)).toBe(0xf);
    expect(r.r32(REG.SHADER_PWRTRANS_LO)).toBe(0);
    r.w32(REG.SHADER_PWROFF_LO, 0x3);
    expect(r.r32(REG.SHADER_PWRTRANS_LO)).toBe(0x3);
    poll(r, REG.SHADER_PWRTRANS_LO, (v) => v === 0);
    expect(r.r32(REG.SHADER_READY_LO)).toBe(0xc);
  });

  it('cleans caches on GPU_CMD CLEAN_INV_CACHES and counts flushes in LATEST_FLUSH_ID', () => {
    const r = rk3399();
    const before = r.r32(REG.LATEST_FLUSH);
    r.w32(REG.GPU_CMD, 8);
    poll(r, REG.GPU_INT_RAWSTAT, (v) => (v & GPU_IRQ_CLEAN_CACHES_COMPLETED) !== 0);
    expect(r.r32(REG.LATEST_FLUSH)).toBe(before + 1);
    r.w32(REG.GPU_CMD, 0x77); // not a command: ignored, recorded
    expect(r.gpu.events.at(-1)).toMatch(/GPU_COMMAND 119/);
  });

  it('builds a model directly, with the defaults of a T860', () => {
    const b = new Board('x', [{ base: 0, size: 1 << 24 }]);
    const gpu = new MaliGpu(b.mem);
    expect(gpu.gpuId).toBe(0x0860_2000);
    expect(() => new MaliGpu(b.mem, { asPresent: 0 })).toThrow(/AS_PRESENT/);
    expect(() => new MaliGpu(b.mem, { vaBits: 60 })).toThrow(/VA bits/);
  });
});
