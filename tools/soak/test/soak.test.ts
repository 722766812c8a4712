/**
 * The short campaign CI runs (the full one is `pnpm soak`, figures in RELIABILITY.md): every
 * part must run, find nothing wrong with the packages, and catch every injected fault.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { PGTABLE_FORMATS, INVALIDATIONS, runCampaign } from '../src/index.js';

describe('the reliability campaign, short', () => {
  it('page tables, fail-nth, device trees and SMMUv3 drops: no failure, every drop detected', async () => {
    const s = await runCampaign({
      seed: 0x5eed,
      pgtableOps: 2000,
      failNthSeqs: 1,
      failNthOps: 50,
      dtbCases: 500,
      dtsCases: 60,
      smmuSeeds: 1,
      smmuOps: 1000,
      workers: 0,
    });
    expect(s.failures).toEqual([]);
    expect(s.tasksRun).toBe(s.tasks);
    for (const fmt of PGTABLE_FORMATS) {
      expect(s.pgtable[fmt]!.ops).toBe(2000);
      expect(s.pgtable[fmt]!.walks).toBeGreaterThanOrEqual(2000);
      const f = s.failNth[fmt]!;
      expect(f.allocations).toBeGreaterThan(0);
      expect(f.runs).toBe(f.allocations);
      expect(f.enomem).toBe(f.runs);
    }
    expect(s.dtb.cases).toBe(500);
    expect(s.dtb.rejected).toBeGreaterThan(0);
    expect(s.dtb.boards).toBeGreaterThan(0);
    expect(s.dtb.boots).toBeGreaterThan(0);
    expect(s.dtb.dtsCompiled).toBeGreaterThan(0);
    expect(s.smmu.none).toMatchObject({ runs: 1, drops: 0, detected: 0 });
    for (const kind of Object.keys(INVALIDATIONS)) {
      expect(s.smmu[kind]!.drops, kind).toBeGreaterThan(0);
      expect(s.smmu[kind]!.detected, kind).toBe(1);
    }
  });

  it('pnpm soak spreads tasks over worker threads and exits 0', () => {
    const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', '--conditions=@gki/source', cli, '--ops', '300', '--dtbs', '50', '--dts', '10', '--failnth', '0', '--smmu', '1', '--workers', '2', '--seed', '7'],
      { cwd: fileURLToPath(new URL('..', import.meta.url)), encoding: 'utf8', timeout: 120_000 },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('soak: seed 7');
    expect(r.stdout).toMatch(/ARM_V7S\s+300 ops/);
    expect(r.stdout).toMatch(/tasks in [\d.]+ s; 0 failure\(s\)/);
  });

  it('pnpm soak refuses a --json file it could not write, and a zero-second campaign, before running anything', () => {
    const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
    const run = (...args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', '--conditions=@gki/source', cli, ...args], {
        cwd: fileURLToPath(new URL('..', import.meta.url)),
        encoding: 'utf8',
        timeout: 120_000,
      });
    const bad = run('--json', '/nonexistent-gki-dir/summary.json', '--ops', '300', '--dtbs', '10', '--dts', '0', '--failnth', '0', '--smmu', '0', '--workers', '0');
    expect(bad.status).toBe(2);
    expect(bad.stdout).toBe(''); // no campaign ran
    expect(bad.stderr).toMatch(/^pnpm soak: --json \/nonexistent-gki-dir\/summary\.json: its folder \/nonexistent-gki-dir does not exist \(ENOENT\)$/m);
    expect(bad.stderr).not.toMatch(/^\s+at /m);
    const zero = run('--seconds', '0');
    expect(zero.status).toBe(2);
    expect(zero.stdout).toBe('');
    expect(zero.stderr).toMatch(/--seconds needs a number above 0/);
    const help = run('--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^usage: pnpm soak /m);
  });
});
