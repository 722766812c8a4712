/**
 * `--overlay`: device-tree overlays applied to a .dts board before it boots, as the kernel's
 * composite boards are built (`board-dtbs := base.dtb extra.dtbo`, dtc -@ and fdtoverlay). The
 * RK3399 EVB leaves its Mali-T860 disabled; with an overlay enabling it, panfrost binds it and
 * the GPU workload runs on it.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../src/main.js';
import { SPAWN_TIMEOUT, workdir, write } from './cli-helpers.js';

const here = new URL('.', import.meta.url).pathname;
const board = join(here, 'fixtures/lightly-trimmed/rockchip/rk3399-evb.dts');
const overlay = join(here, 'fixtures/overlay/rk3399-evb-gpu.dtso');
const wd = workdir('gki-overlay-');

async function run(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const status = await main(args, { out: (s) => out.push(s), err: (s) => err.push(s) });
  return { status, out: out.join('\n'), err };
}

interface Report {
  ok: boolean;
  boot: { devices: { name: string; driver?: string; state: string }[] };
  workloads: { name: string; ok: boolean; ops: number; problems: string[]; lines: string[] }[];
}

describe('gki run --overlay', { timeout: SPAWN_TIMEOUT }, () => {
  it('boots the base board without its GPU, and with the overlay binds it and runs a job', async () => {
    const plain = await run(['run', '--board', board, '--workload', 'gpu', '--json']);
    expect(plain.status).toBe(0);
    const p = JSON.parse(plain.out) as Report;
    expect(p.boot.devices.some((d) => d.name === 'ff9a0000.gpu')).toBe(false);
    expect(p.workloads[0]!.ops).toBe(0);

    const withOv = await run(['run', '--board', board, '--overlay', overlay, '--workload', 'gpu', '--json']);
    expect(withOv.status).toBe(0);
    const r = JSON.parse(withOv.out) as Report;
    expect(r.ok).toBe(true);
    expect(r.boot.devices.find((d) => d.name === 'ff9a0000.gpu')).toMatchObject({ driver: 'panfrost', state: 'bound' });
    const gpu = r.workloads.find((w) => w.name === 'gpu')!;
    expect(gpu).toMatchObject({ ok: true, problems: [] });
    expect(gpu.ops).toBeGreaterThan(0);
    expect(gpu.lines[0]).toMatch(/^ff9a0000\.gpu \(Mali t860 .*copy jobs ok/);
  });

  it('refuses an overlay without a base .dts, a missing overlay and a bad one, naming the file', async () => {
    const a = await run(['boot', '--overlay', overlay]);
    expect(a.status).toBe(1);
    expect(a.err.join('\n')).toMatch(/--overlay needs a \.dts board to apply to, not the built-in board gki-virt/);
    const b = await run(['boot', '--board', board, '--overlay', join(wd, 'nope.dtso')]);
    expect(b.status).toBe(1);
    expect(b.err.join('\n')).toMatch(/cannot read overlay .*nope\.dtso: ENOENT/);
    const bad = join(wd, write(wd, 'bad.dtso', '/dts-v1/;\n/plugin/;\n&no_such_label { status = "okay"; };\n'));
    const c = await run(['boot', '--board', board, '--overlay', bad]);
    expect(c.status).toBe(1);
    expect(c.err.join('\n')).toMatch(/bad\.dtso:3:\d+: label or path 'no_such_label' not found in the base tree/);
  });
});
