import { describe, expect, it } from 'vitest';
import { main, type Io } from '../src/main.js';

function capture(): Io & { lines: string[]; errs: string[] } {
  const lines: string[] = [];
  const errs: string[] = [];
  return { lines, errs, out: (s) => lines.push(...s.split('\n')), err: (s) => errs.push(...s.split('\n')) };
}

describe('gki boot (in process)', () => {
  it('boots the default image on the default board: progress, dmesg with moving timestamps, modules, the device table', async () => {
    const io = capture();
    const status = await main(['boot'], io);
    expect(io.errs).toEqual([]);
    expect(status).toBe(0);
    const text = io.lines.join('\n');
    // progress: one line per boot step, on the board clock
    expect(text).toMatch(/^\[ +0\.\d{6}\] \[1\/8\] modprobe gki_dma_test: ok/m);
    expect(text).toMatch(/^\[ +0\.\d{6}\] \[8\/8\] modprobe panfrost: ok/m);
    expect(text).toMatch(/deferred probe done.*: 11 bound, 0 deferred, 0 failed, 1 without a driver/);
    // dmesg timestamps advance (not all zero)
    const stamps = [...text.matchAll(/^\[ *(\d+\.\d+)\] /gm)].map((m) => Number(m[1]));
    expect(new Set(stamps).size).toBeGreaterThan(5);
    for (let i = 1; i < stamps.length; i++) if (stamps[i]! < stamps[i - 1]! && i > 12) expect.fail('dmesg timestamps go back');
    expect(text).toMatch(/io-pgtable-arm\s+loadable\s+live/);
    expect(text).toMatch(/arm_smmu_v3\s+loadable\s+live\s+refcnt 4/);
    // the device table: drivers, IOMMU groups and domains, the GMU (no driver of its own) unbound
    expect(text).toMatch(/^a000000\.dma +gki,dma-master +bound +dma-test +iommu 2b400000\.iommu id 0x10 group \d+ domain \d+ \(dma\)$/m);
    expect(text).toMatch(/^a003000\.dma +gki,dma-master +bound +dma-test +iommu d000000\.iommu id 0x13 group \d+ domain \d+ \(dma\)$/m);
    expect(text).toMatch(/^5000000\.gpu +qcom,adreno-630\.2 +bound +adreno +iommu 5040000\.iommu id 0x0 group \d+ domain \d+ \(unmanaged\); GPU a630/m);
    expect(text).toMatch(/^e000000\.gpu +arm,mali-t860 +bound +panfrost +GPU t860 with its own MMU/m);
    expect(text).toMatch(/^506a000\.gmu +qcom,adreno-gmu-630\.2 +unbound +- +no driver$/m);
    expect(text).toMatch(/^12 device\(s\): 11 bound, 0 deferred, 0 failed, 1 unbound \(no driver\)$/m);
    expect(text).toMatch(/ARM_64_LPAE_S1: ok\n.*io-pgtable-arm refcount \d+ -> \d+ while the table lives/);
    expect(text).toContain('pages in use: 0 (the allocator ends where it began)');
    expect(io.lines.at(-1)).toBe('boot: OK');
  });

  it('rejects an unknown option with usage and status 2', async () => {
    const io = capture();
    expect(await main(['boot', '--bogus'], io)).toBe(2);
    expect(io.errs.join('\n')).toContain("unknown option '--bogus'");
  });

  it('prints usage for no command (status 2) and for help (status 0)', async () => {
    const a = capture();
    expect(await main([], a)).toBe(2);
    expect(a.errs.join('\n')).toContain('usage: gki');
    const b = capture();
    expect(await main(['help'], b)).toBe(0);
    const c = capture();
    expect(await main(['frobnicate'], c)).toBe(2);
    expect(c.errs.join('\n')).toContain("unknown command 'frobnicate'");
  });
});
