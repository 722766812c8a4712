import { describe, expect, it } from 'vitest';
import { EINVAL } from '@gki/kernel';
import panfrost, {
  DRM_PANFROST_PARAM_AFBC_FEATURES,
  DRM_PANFROST_PARAM_AS_PRESENT,
  DRM_PANFROST_PARAM_GPU_PROD_ID,
  DRM_PANFROST_PARAM_GPU_REVISION,
  DRM_PANFROST_PARAM_JS_FEATURES15,
  DRM_PANFROST_PARAM_JS_PRESENT,
  DRM_PANFROST_PARAM_L2_PRESENT,
  DRM_PANFROST_PARAM_MMU_FEATURES,
  DRM_PANFROST_PARAM_NR_CORE_GROUPS,
  DRM_PANFROST_PARAM_SHADER_PRESENT,
  DRM_PANFROST_PARAM_TILER_PRESENT,
  PANFROST_ALIASES,
  panfrostDevices,
} from '../src/index.js';
import { GPU_NAME, fakeRig, openFile } from './helpers.js';

describe('panfrost probe', () => {
  it('resets, identifies and powers the GPU, then registers a render node', () => {
    const { k, fake, pfdev } = fakeRig();
    const offs = fake.writes.map((w) => w.off);
    // soft reset (GPU_CMD = 1) before the feature reads' consumer powers the cores
    const reset = fake.writes.findIndex((w) => w.off === 0x030 && w.value === 1);
    const l2on = offs.indexOf(0x1a0);
    const shaderOn = offs.indexOf(0x180);
    const tilerOn = offs.indexOf(0x190);
    expect(reset).toBeGreaterThanOrEqual(0);
    expect(l2on).toBeGreaterThan(reset);
    expect(shaderOn).toBeGreaterThan(l2on);
    expect(tilerOn).toBeGreaterThan(shaderOn);
    expect(fake.writes[l2on]!.value).toBe(1);
    expect(fake.writes[shaderOn]!.value).toBe(0xf);
    // GPU interrupts: everything cleared, then only errors + perfcnt + clean-caches unmasked
    expect(fake.gpuMask).toBe((1 << 0) | (1 << 7) | (1 << 16) | (1 << 17));
    // job interrupts: DONE and error of JS0..2
    expect(fake.jobMask).toBe(0x0007_0007);
    expect(pfdev.features.name).toBe('t860');
    expect(pfdev.minor).toBe(0);
    expect(pfdev.renderNode).toBe('renderD128');
    const log = k.log.dmesg();
    expect(log).toContain(`panfrost ${GPU_NAME}: mali-t860 id 0x860 major 0x2 minor 0x0 status 0x0`);
    expect(log).toContain('MMU:0x00002830 AS:0xff JS:0x7');
    expect(log).toContain(`[drm] Initialized panfrost 1.2.0 20180908 for ${GPU_NAME} on minor 0`);
    expect(k.drivers.findDevice(GPU_NAME)?.state).toBe('bound');
  });

  it('answers GET_PARAM from the registers read at probe', () => {
    const { pfdev } = fakeRig({ gpuId: 0x7212_0000, shaderPresent: 0x3, l2Present: 0x1, asPresent: 0xff });
    const f = openFile(pfdev);
    const get = (param: number): bigint => {
      const r = f.getParam({ param });
      if (typeof r === 'number') throw new Error(`param ${param}: ${r}`);
      return r.value;
    };
    expect(get(DRM_PANFROST_PARAM_GPU_PROD_ID)).toBe(0x7212n);
    expect(get(DRM_PANFROST_PARAM_GPU_REVISION)).toBe(0n);
    expect(get(DRM_PANFROST_PARAM_SHADER_PRESENT)).toBe(3n);
    expect(get(DRM_PANFROST_PARAM_TILER_PRESENT)).toBe(1n);
    expect(get(DRM_PANFROST_PARAM_L2_PRESENT)).toBe(1n);
    expect(get(DRM_PANFROST_PARAM_AS_PRESENT)).toBe(0xffn);
    expect(get(DRM_PANFROST_PARAM_JS_PRESENT)).toBe(7n);
    expect(get(DRM_PANFROST_PARAM_MMU_FEATURES)).toBe(0x2830n);
    expect(get(DRM_PANFROST_PARAM_NR_CORE_GROUPS)).toBe(1n);
    expect(get(DRM_PANFROST_PARAM_JS_FEATURES15)).toBe(0n);
    expect(get(DRM_PANFROST_PARAM_AFBC_FEATURES)).toBe(0n);
    // G52 (0x7212 -> 0x7002) is a known model
    expect(pfdev.features.name).toBe('g52');
    expect(f.getParam({ param: 41 })).toBe(-EINVAL);
    expect(f.getParam({ param: 0, pad: 1 })).toBe(-EINVAL);
    expect(f.getParam({ param: -1 })).toBe(-EINVAL);
    f.close();
  });

  it('rewrites the T60x odd product id 0x6956 to 0x0600', () => {
    const { pfdev } = fakeRig({ gpuId: 0x6956_0011 });
    expect(pfdev.features.id).toBe(0x600);
    expect(pfdev.features.name).toBe('t600');
  });

  it("names MediaTek's Mali-G57 (product id 0x9093, as the MT8192 and MT8188 report) a g57 with the G57 features", () => {
    const { pfdev, k } = fakeRig({ gpuId: 0x9093_0000 });
    expect(pfdev.features.id).toBe(0x9093);
    expect(pfdev.features.name).toBe('g57');
    const arm = fakeRig({ gpuId: 0x9001_0000 }).pfdev;
    expect(arm.features.name).toBe('g57');
    expect(pfdev.features.hwFeatures).toBe(arm.features.hwFeatures);
    expect(pfdev.features.hwFeatures).not.toBe(0);
    expect(k.log.grep(/mali-g57 id 0x9093 major 0x0 minor 0x0 status 0x0/)).toHaveLength(1);
  });

  it('fails the probe without the named interrupts, with the interrupt error', () => {
    const { k, pfdev } = fakeRig({ interruptNames: ['job', 'mmu', 'irq'], allowUnbound: true });
    expect(pfdev).toBeUndefined();
    expect(panfrostDevices(k)).toHaveLength(0);
    // platform_get_irq_byname's -ENXIO is a "not mine" answer: the device stays unbound
    const dev = k.drivers.findDevice(GPU_NAME)!;
    expect(dev.state).toBe('unbound');
    expect(dev.driver).toBeNull();
    expect(k.log.dmesg()).toContain(`panfrost ${GPU_NAME}: error -ENXIO: IRQ gpu not found`);
    expect(k.log.dmesg()).toContain(`panfrost ${GPU_NAME}: Fatal error during GPU init`);
    // what probe requested before failing was released (devres)
    expect(k.drivers.snapshot().irqs).toEqual([]);
  });

  it('rejects a register window smaller than the register map', () => {
    const { k, pfdev } = fakeRig({ regSize: 0x1000, allowUnbound: true });
    expect(pfdev).toBeUndefined();
    expect(k.log.dmesg()).toContain('register window too small (0x1000 bytes, need 0x4000)');
  });

  it('soft reset that never completes falls back to a hard reset, then fails with the kernel message', () => {
    const { k, pfdev, fake } = fakeRig({ resetReads: Number.POSITIVE_INFINITY, allowUnbound: true });
    expect(pfdev).toBeUndefined();
    expect(k.log.dmesg()).toContain('gpu soft reset timed out, attempting hard reset');
    expect(k.log.dmesg()).toContain('gpu hard reset timed out');
    expect(fake.writes.filter((w) => w.off === 0x030).map((w) => w.value)).toEqual([1, 2]);
    // 10 ms of 10 us polls then 10 ms of 100 us polls passed on the board clock
    expect(k.board.clock.now()).toBeGreaterThanOrEqual(20_000_000);
  });

  it('uses the dma-coherent property for the coherent walk (TRANSTAB SHARE_OUTER)', () => {
    const { pfdev } = fakeRig({ extraProps: [] });
    expect(pfdev.coherent).toBe(false);
    const f = openFile(pfdev);
    expect(Number(f.mmu.transtab & 0x1fn)).toBe(0x7); // ADRMODE_TABLE | READ_INNER
    f.close();
    const c = fakeRig({ extraProps: [{ name: 'dma-coherent', value: new Uint8Array(0) }] });
    expect(c.pfdev.coherent).toBe(true);
    const g = openFile(c.pfdev);
    expect(Number(g.mmu.transtab & 0x1fn)).toBe(0x17); // plus SHARE_OUTER
    expect(g.mmu.cfg.coherentWalk).toBe(true);
    g.close();
  });

  it('takes its page-table configuration from MMU_FEATURES', () => {
    const { pfdev } = fakeRig({ mmuFeatures: 0x2821 });
    const f = openFile(pfdev);
    expect(f.mmu.cfg.ias).toBe(0x21);
    expect(f.mmu.cfg.oas).toBe(0x28);
    expect(f.mmu.cfg.quirks).toBe(0);
    // the format keeps 4K and 2M from the requested bitmap
    expect(f.mmu.cfg.pgsizeBitmap).toBe(0x1000 + 0x20_0000);
    f.close();
  });

  it('carries the module facts: softdep on io-pgtable-arm and the OF aliases', () => {
    expect(panfrost.name).toBe('panfrost');
    expect(panfrost.license).toBe('GPL v2');
    expect(panfrost.softdep).toEqual({ pre: ['io-pgtable-arm'] });
    expect(PANFROST_ALIASES).toContain('of:N*T*Carm,mali-t860');
    expect(PANFROST_ALIASES).toContain('of:N*T*Carm,mali-t860C*');
    expect(PANFROST_ALIASES).toContain('of:N*T*Carm,mali-bifrost');
    expect(PANFROST_ALIASES).toContain('of:N*T*Cmediatek,mt8183-mali');
    expect(PANFROST_ALIASES).toContain('of:N*T*Camlogic,meson-g12a-mali');
    expect(panfrost.aliases).toEqual(PANFROST_ALIASES);
  });
});
