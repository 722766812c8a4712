/**
 * Two GPU drivers on one board share the kernel's DRM minor numbering: the default board
 * (gki-virt) has a Mali (panfrost) and an Adreno (msm), and each gets its own card and render
 * node, numbered in probe order as drm_minor_alloc numbers them, whichever driver probes first.
 */
import { describe, expect, it } from 'vitest';
import { createDefaultBoard } from '@gki/hw';
import { DRM_MINOR_RENDER, Kernel } from '@gki/kernel';
import { msmDevices } from '@gki/drm-msm';
import { panfrostDevices } from '@gki/drm-panfrost';
import { defaultImage } from '../src/image.js';
import { gpuTargets } from '../src/runtime/gpu.js';

function boot(): Kernel {
  return Kernel.boot(createDefaultBoard(), defaultImage());
}

/** The devices named in the core's "Initialized" lines, in log order. */
function initializedOrder(k: Kernel): string[] {
  return k.log.grep('[drm] Initialized').map((r) => /for (\S+) on minor/.exec(r.msg)![1]!);
}

describe('DRM nodes of a board with a Mali and an Adreno', () => {
  it('gives each GPU its own card and render node, in probe order', () => {
    const k = boot();
    const mali = panfrostDevices(k)[0]!;
    const adreno = msmDevices(k)[0]!;
    expect(mali).toBeDefined();
    expect(adreno).toBeDefined();
    const order = initializedOrder(k);
    expect(order.sort()).toEqual([mali.dev.name, adreno.dev.name].sort());
    const [first, second] = initializedOrder(k)[0] === mali.dev.name ? [mali, adreno] : [adreno, mali];
    expect([first.ddev.primary?.name, first.renderNode, first.minor]).toEqual(['card0', 'renderD128', 0]);
    expect([second.ddev.primary?.name, second.renderNode, second.minor]).toEqual(['card1', 'renderD129', 1]);
    expect(k.log.grep(`for ${first.dev.name} on minor 0`)).toHaveLength(1);
    expect(k.log.grep(`for ${second.dev.name} on minor 1`)).toHaveLength(1);
    expect(k.drm.nodes().map((m) => m.name)).toEqual(['card0', 'card1', 'renderD128', 'renderD129']);
    // the render nodes lead to the two drivers' devices
    expect(k.drm.minor(128)?.dev.priv).toBe(first);
    expect(k.drm.minor(129)?.dev.priv).toBe(second);
    expect(k.drm.minor(129)?.type).toBe(DRM_MINOR_RENDER);
    // and what the workloads show names the two nodes
    const labels = gpuTargets(k).map((t) => t.name);
    expect(labels).toContain(`Mali t860 (${mali.renderNode})`);
    expect(labels).toContain(`Adreno a630 (${adreno.renderNode})`);
    expect(new Set([mali.renderNode, adreno.renderNode]).size).toBe(2);
  });

  it('both render nodes open at once, each file on its own GPU', () => {
    const k = boot();
    const mali = panfrostDevices(k)[0]!;
    const adreno = msmDevices(k)[0]!;
    const pf = mali.open();
    const mf = adreno.open();
    if (typeof pf === 'number' || typeof mf === 'number') throw new Error(`open: ${String(pf)} ${String(mf)}`);
    expect(mali.files.has(pf) && adreno.files.has(mf)).toBe(true);
    const bo = pf.createBo({ size: 0x1000, flags: 0 });
    const obj = mf.gemNew({ size: 0x1000, flags: 0x0001_0000 });
    // each file's handle table starts at 1, independently
    expect(typeof bo === 'number' ? bo : bo.handle).toBe(1);
    expect(typeof obj === 'number' ? obj : obj.handle).toBe(1);
    expect(pf.close()).toBe(0);
    expect(mf.close()).toBe(0);
    expect(mali.files.size + adreno.files.size).toBe(0);
  });

  it('numbers follow the probe order: reloading the drivers the other way round swaps them', () => {
    const k = boot();
    const gpuModules = ['panfrost', 'msm'];
    for (const m of gpuModules) expect(k.modules.unload(m), m).toBe(0);
    expect(k.drm.devices()).toEqual([]);
    expect(k.drm.minors.all()).toEqual([]);
    // msm first this time
    expect(k.modules.modprobe('msm')).toBe(0);
    expect(k.modules.modprobe('panfrost')).toBe(0);
    expect(msmDevices(k)[0]!.renderNode).toBe('renderD128');
    expect(panfrostDevices(k)[0]!.renderNode).toBe('renderD129');
    // a freed number is the next one handed out: panfrost goes and comes back to renderD129,
    // msm goes while panfrost stays and comes back to the lowest free, renderD128
    expect(k.modules.unload('msm')).toBe(0);
    expect(k.drm.nodes().map((m) => m.name)).toEqual(['card1', 'renderD129']);
    expect(k.modules.modprobe('msm')).toBe(0);
    expect(msmDevices(k)[0]!.renderNode).toBe('renderD128');
    expect(msmDevices(k)[0]!.ddev.primary?.name).toBe('card0');
  });
});
