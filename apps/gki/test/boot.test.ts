import { describe, expect, it } from 'vitest';
import { main, type Io } from '../src/main.js';

function capture(): Io & { lines: string[]; errs: string[] } {
  const lines: string[] = [];
  const errs: string[] = [];
  return { lines, errs, out: (s) => lines.push(...s.split('\n')), err: (s) => errs.push(...s.split('\n')) };
}

describe('gki boot', () => {
  it('boots the default image on the default board and reports modules, devices and memory', async () => {
    const io = capture();
    const status = await main(['boot'], io);
    expect(io.errs).toEqual([]);
    expect(status).toBe(0);
    const text = io.lines.join('\n');
    expect(text).toMatch(/io-pgtable-arm\s+loadable\s+live/);
    expect(text).toMatch(/io-pgtable-arm-v7s\s+loadable\s+live/);
    expect(text).toMatch(/io-pgtable\s+built-in\s+live/);
    expect(text).toMatch(/a000000\.dma/);
    // the boot-time page-table check: allocated through the core, agreed with the walker, no leak
    expect(text).toMatch(/ARM_64_LPAE_S1: ok\n.*io-pgtable-arm refcount 1 while the table lives/);
    expect(text).toMatch(/ARM_V7S: ok\n.*io-pgtable-arm-v7s refcount 1 while the table lives/);
    expect(text).toMatch(/1040 pages agree with the walker/);
    expect(text).toContain('pages in use back to 0; io-pgtable-arm refcount 0');
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
    expect(a.lines.join('\n')).toContain('usage: gki');
    const b = capture();
    expect(await main(['help'], b)).toBe(0);
    const c = capture();
    expect(await main(['frobnicate'], c)).toBe(2);
    expect(c.errs.join('\n')).toContain("unknown command 'frobnicate'");
  });
});
