/**
 * gki boot, run, shell and board as a user runs them: spawned processes on real files.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Ajv } from 'ajv';
import { compileDts } from '@gki/hw';
import { describe, expect, it } from 'vitest';
import { gki, STACK_LINE, workdir, write } from './cli-helpers.js';

const wd = workdir('gki-runtime-');
const here = dirname(fileURLToPath(import.meta.url));
const BOARDS = join(here, '..', '..', '..', 'boards');
const SCHEMA = JSON.parse(readFileSync(join(here, '..', 'schema', 'run-report.schema.json'), 'utf8'));
const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** `gki shell ARGS` with `script` on its standard input (not a terminal). */
function shell(args: readonly string[], script: string) {
  const r = spawnSync(process.execPath, ['--import', TSX, '--conditions=@gki/source', CLI, 'shell', ...args], {
    cwd: wd,
    input: script,
    encoding: 'utf8',
    env: { ...process.env, GKI_DEBUG: '', FORCE_COLOR: '0' },
    timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The output of the shell command `cmd` (the lines after its echoed prompt, up to the next prompt). */
function answer(stdout: string, cmd: string): string {
  const at = stdout.indexOf(`gki> ${cmd}\n`);
  if (at < 0) throw new Error(`no '${cmd}' in the transcript`);
  const rest = stdout.slice(at + `gki> ${cmd}\n`.length);
  const next = rest.indexOf('gki> ');
  return next < 0 ? rest : rest.slice(0, next);
}

function noStack(r: { stdout: string; stderr: string }): void {
  expect(r.stdout + r.stderr).not.toMatch(STACK_LINE);
}

describe('gki boot --board (spawned)', () => {
  for (const file of ['qcom/sdm845-mtp.dts', 'rockchip/rk3399-evb.dts', 'amlogic/meson-g12a-sei510.dts', 'arm/fvp-base-revc.dts', 'arm/juno.dts'])
    it(`boots the real tree ${file} with the default image, without an error: nodes without a driver listed as unbound`, () => {
      const r = gki(['boot', '--board', join(BOARDS, file)], wd);
      noStack(r);
      expect(r.stdout).not.toMatch(/\] .*(crashed|error -E|failed with error)/);
      expect(r.status).toBe(0);
      expect(r.out.at(-1)).toBe('boot: OK');
      expect(r.stdout).toMatch(/^\d+ device\(s\): \d+ bound, 0 deferred, 0 failed, \d+ unbound \(no driver\)$/m);
      expect(r.stdout).toMatch(/ +unbound +- +no driver$/m);
    });

  it('SDM845: both SMMUs bound, the Adreno GPU bound to msm behind its SMMU', () => {
    const r = gki(['boot', '--board', join(BOARDS, 'qcom/sdm845-mtp.dts')], wd);
    expect(r.stdout).toMatch(/^15000000\.iommu +qcom,sdm845-smmu-500 +bound +arm-smmu +IOMMU/m);
    expect(r.stdout).toMatch(/^5000000\.gpu +qcom,adreno-630\.2 +bound +adreno +iommu 5040000\.iommu id 0x0 .*GPU a630/m);
  });

  it('takes a DTB, a built-in board name, and include directories', () => {
    const dts = gki(['board', 'export', 'gki-virt'], wd);
    expect(dts.status).toBe(0);
    write(wd, 'mine.dts', dts.stdout);
    const viaDts = gki(['boot', '--board', 'mine.dts'], wd);
    expect(viaDts.status).toBe(0);
    // the same board as a blob (compiled by the project's compiler, through the API)
    writeFileSync(join(wd, 'mine.dtb'), compileDts(readFileSync(join(wd, 'mine.dts'))));
    const viaDtb = gki(['boot', '--board', 'mine.dtb'], wd);
    expect(viaDtb.status).toBe(0);
    const table = (s: string) => s.slice(s.indexOf('== devices =='), s.indexOf('== io-pgtable'));
    expect(table(viaDtb.stdout)).toBe(table(viaDts.stdout));
    expect(gki(['boot', '--board', 'gki-virt'], wd).status).toBe(0);
    // a board that includes a file from a -I directory
    write(wd, 'inc.dtsi', '/ { model = "included"; };\n');
    writeFileSync(join(wd, 'sub.dts'), dts.stdout + '#include "inc.dtsi"\n');
    const sub = gki(['boot', '--board', join(wd, 'sub.dts')], '/');
    expect(sub.status).toBe(0);
    expect(sub.out[0]).toBe(`gki boot: board included (${join(wd, 'sub.dts')}), image the default image`);
  });

  it('refuses malformed inputs with one line and no stack trace: DTS syntax error (file:line:col), bad DTB, missing board, bad image directory', () => {
    write(wd, 'bad.dts', '/dts-v1/;\n/ {\n\tmodel = "x"\n};\n');
    const a = gki(['boot', '--board', 'bad.dts'], wd);
    expect([a.status, a.err.length, a.stdout]).toEqual([1, 1, '']);
    expect(a.err[0]).toMatch(/^gki boot: bad\.dts:4:1: /);
    writeFileSync(join(wd, 'bad.dtb'), Buffer.from([0xd0, 0x0d, 0xfe, 0xed, 0, 0, 0, 8, 1, 2, 3]));
    const b = gki(['boot', '--board', 'bad.dtb'], wd);
    expect([b.status, b.err.length, b.stdout]).toEqual([1, 1, '']);
    expect(b.err[0]).toMatch(/^gki boot: bad\.dtb: malformed DTB/);
    const c = gki(['boot', '--board', 'nowhere.dts'], wd);
    expect([c.status, c.err.length]).toEqual([1, 1]);
    expect(c.err[0]).toMatch(/^gki boot: cannot read board nowhere\.dts: no such file \(ENOENT\), and no built-in board of that name \(built in: gki-virt\)$/);
    const d = gki(['boot', 'no-such-image'], wd);
    expect([d.status, d.err.length]).toEqual([1, 1]);
    expect(d.err[0]).toMatch(/^gki boot: no-such-image: /);
    const e = gki(['boot', '--board'], wd);
    expect(e.status).toBe(2);
    for (const r of [a, b, c, d, e]) noStack(r);
  });
});

describe('gki boot with composed configurations (spawned)', () => {
  it('without io-pgtable-arm-v7s; SMMU drivers built in with the formats as modules; without io-pgtable-arm (-ENODEV, and the log says why)', () => {
    write(wd, 'no-v7s.config', 'CONFIG_GKI_DMA_TEST=m\nCONFIG_ARM_SMMU=m\nCONFIG_ARM_SMMU_V3=m\n# CONFIG_IOMMU_IO_PGTABLE_ARMV7S is not set\n');
    expect(gki(['compose', '--config', 'no-v7s.config', '-o', 'no-v7s'], wd).status).toBe(0);
    const a = gki(['boot', 'no-v7s'], wd);
    expect(a.status).toBe(0);
    expect(a.stdout).toContain('ARM_V7S: skipped');
    expect(a.stdout).not.toMatch(/io-pgtable-arm-v7s +loadable/);

    write(wd, 'smmu-y.config', 'CONFIG_GKI_DMA_TEST=m\nCONFIG_ARM_SMMU=y\nCONFIG_ARM_SMMU_V3=y\nCONFIG_IOMMU_IO_PGTABLE_LPAE=m\nCONFIG_IOMMU_IO_PGTABLE_ARMV7S=m\n');
    expect(gki(['compose', '--config', 'smmu-y.config', '-o', 'smmu-y'], wd).status).toBe(0);
    const b = gki(['boot', 'smmu-y'], wd);
    expect(b.status).toBe(0);
    expect(b.stdout).toMatch(/^arm_smmu_v3 +built-in +live/m);
    expect(b.stdout).toMatch(/^arm_smmu +built-in +live/m);
    expect(b.stdout).toMatch(/^a000000\.dma +gki,dma-master +bound +dma-test +iommu 2b400000\.iommu/m);

    write(wd, 'no-lpae.config', 'CONFIG_GKI_DMA_TEST=m\nCONFIG_ARM_SMMU_V3=m\n# CONFIG_IOMMU_IO_PGTABLE_LPAE is not set\n');
    expect(gki(['compose', '--config', 'no-lpae.config', '--omit', 'io-pgtable-arm', '-o', 'no-lpae'], wd).status).toBe(0);
    const c = gki(['boot', 'no-lpae'], wd);
    expect(c.status).toBe(1);
    expect(c.stdout).toContain('io-pgtable: format ARM_64_LPAE_S1: no module in the image provides io-pgtable-fmt-ARM_64_LPAE_S1 (ENODEV)');
    expect(c.stdout).toMatch(/failed to allocate default IOMMU domain of type dma: ENODEV/);
    expect(c.out.at(-1)).toMatch(/^boot: \d+ error\(s\) logged/);
    noStack(c);
  });
});

describe('gki run (spawned)', () => {
  it('--json: one document that validates against the documented schema, with every workload, faults, TLB counters and memory', () => {
    const r = gki(['run', '--workload', 'all', '--json', '--ops', '300', '--seed', '7'], wd);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout);
    const validate = new Ajv({ allErrors: true, strict: false }).compile(SCHEMA);
    const valid = validate(report);
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
    expect(report.ok).toBe(true);
    expect(report.workloads.map((w: { name: string }) => w.name)).toEqual(['dma', 'gpu', 'stress']);
    expect(report.workloads[2].ops).toBe(300);
    expect(report.faults.filter((f: { deliberate: boolean }) => f.deliberate).length).toBeGreaterThanOrEqual(7);
    expect(report.faults.map((f: { source: string }) => f.source)).toEqual(expect.arrayContaining(['iommu', 'bus', 'gpu-mmu']));
    for (const t of report.tlb) expect(t.total, t.path).toBeGreaterThan(0);
    expect(report.tlb.map((t: { model: string }) => t.model).sort()).toEqual(['mali-mmu', 'smmu-v2', 'smmu-v2', 'smmu-v3']);
    expect(report.memory.pagesAfterShutdown).toBe(0);
    expect(report.boot.counts).toEqual({ bound: 11, deferred: 0, failed: 0, unbound: 1 });
    const stamps = new Set(report.log.map((l: { t: number }) => l.t));
    expect(stamps.size).toBeGreaterThan(5);
    // a malformed report is caught by the schema (the check can fail)
    expect(validate({ ...report, memory: { ...report.memory, pagesInUse: -1 } })).toBe(false);
    // the same seed gives the same stress mix
    const again = JSON.parse(gki(['run', '-w', 'stress', '--json', '--ops', '300', '--seed', '7'], wd).stdout);
    expect(again.workloads[0].counts).toEqual(report.workloads[2].counts);
  });

  it('--json on a board behind qcom_iommu (msm8916) validates too: its TLB counters are the qcom-iommu model\'s', () => {
    const r = gki(['run', '--workload', 'dma', '--json', '--board', join(BOARDS, 'qcom/apq8016-sbc.dts')], wd);
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout);
    const validate = new Ajv({ allErrors: true, strict: false }).compile(SCHEMA);
    validate(report);
    expect(validate.errors ?? []).toEqual([]);
    expect(report.tlb.map((t: { model: string }) => t.model)).toEqual(['qcom-iommu', 'qcom-iommu']);
  });

  it('text report: the boot story, each workload, throughput, decoded faults, TLB invalidations, the allocator', () => {
    const r = gki(['run', '-w', 'dma'], wd);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('== devices ==');
    expect(r.stdout).toMatch(/^a003000\.dma: 16\/16 translated copies of 65827 bytes ok/m);
    expect(r.stdout).toMatch(/^a002000\.dma: 16\/16 direct copies/m);
    expect(r.stdout).toMatch(/^dma +ok +80 /m);
    expect(r.stdout).toMatch(/IOMMU fault handler got a write fault at IOVA 0xdead0000/);
    expect(r.stdout).toMatch(/^  \/soc\/iommu@d000000 \(smmu-v2\): \d+ \(TLBIVAL \d+\)/m);
    expect(r.stdout).toMatch(/0 in use after shutdown \(nothing leaked\)/);
    expect(r.out.at(-1)).toBe('run: OK');
  });

  it('usage errors exit 2 with one line: an unknown workload, no workload, --ops with dma, both bounds', () => {
    for (const args of [['-w', 'frobnicate'], [], ['-w', 'dma', '--ops', '5'], ['-w', 'stress', '--ops', '5', '--seconds', '1'], ['-w', 'stress', '--ops', 'x']]) {
      const r = gki(['run', ...args], wd);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.err.length, args.join(' ')).toBe(1);
      noStack(r);
    }
    expect(gki(['run', '-w', 'frobnicate'], wd).err[0]).toBe("gki run: option '--workload': 'frobnicate' is not one of dma, gpu, stress, all (see 'gki run --help')");
    // a negative number is a bad value, not a missing one
    expect(gki(['run', '-w', 'stress', '--seconds', '-1'], wd).err).toEqual(["gki run: option '--seconds': '-1' is not an integer >= 1 (see 'gki run --help')"]);
  });
});

describe('gki shell (spawned, scripted on stdin)', () => {
  it('answers as the kernel does: lsmod, rmmod -EBUSY with rmmod\'s message, a driver unbinding when its module goes, help, unknown commands', () => {
    const r = shell([], ['lsmod', 'rmmod arm_smmu_v3', 'modprobe -r io-pgtable-arm', 'rmmod panfrost', 'devices', 'modprobe panfrost', 'domains', 'pgtable dump 0', 'dma a003000.dma', 'dmesg -n 3', 'frobnicate', 'help', 'exit', 'lsmod'].join('\n') + '\n');
    noStack(r);
    expect(r.status).toBe(1); // frobnicate failed
    expect(answer(r.stdout, 'lsmod')).toMatch(/^arm_smmu_v3 +live +4 *$/m);
    expect(answer(r.stdout, 'rmmod arm_smmu_v3')).toBe('rmmod: ERROR: Module arm_smmu_v3 is in use\nrmmod arm_smmu_v3: -16 (EBUSY)\n');
    expect(answer(r.stdout, 'modprobe -r io-pgtable-arm')).toBe('modprobe: ERROR: Module io-pgtable-arm is in use\nmodprobe -r io-pgtable-arm: -16 (EBUSY)\n');
    expect(answer(r.stdout, 'rmmod panfrost')).toMatch(/panfrost: module unloaded\ndevice e000000\.gpu: bound \(panfrost\) -> unbound\n/);
    expect(answer(r.stdout, 'devices')).toMatch(/^e000000\.gpu +arm,mali-t860 +unbound +- +no driver$/m);
    expect(answer(r.stdout, 'modprobe panfrost')).toMatch(/device e000000\.gpu: unbound -> bound \(panfrost\)/);
    expect(answer(r.stdout, 'domains')).toMatch(/^  domain \d+: dma \(default\) on d000000\.iommu, group\(s\) \d+ \[a003000\.dma\], page table \d+ \(ARM_64_LPAE_S1\)$/m);
    expect(answer(r.stdout, 'pgtable dump 0')).toMatch(/^ARM_64_LPAE_S1: ias \d+ oas \d+/);
    expect(answer(r.stdout, 'dma a003000.dma')).toMatch(/a003000\.dma: translated copy of 8483 bytes ok .*deliberate fault seen; buffers freed/);
    expect(answer(r.stdout, 'dmesg -n 3').trim().split('\n')).toHaveLength(3);
    expect(answer(r.stdout, 'frobnicate')).toBe('frobnicate: command not found (try help)\n');
    expect(answer(r.stdout, 'help')).toMatch(/^pgtable dump N +print live page table N/m);
    // exit ends the session: nothing after it runs
    expect(r.stdout.split('gki> lsmod').length).toBe(2);
  });

  it('sleep: time passes; 10 s after a --no-load boot the deferred-probe timeout fires and masters whose IOMMU driver never came probe without it', () => {
    const script = ['sysctl kernel.modprobe=', 'modprobe gki_dma_test', 'sleep 5', 'sleep 5', 'run dma', 'sleep x', 'sleep 0', 'sleep 4000'].join('\n') + '\n';
    const r = shell(['--no-load'], script);
    noStack(r);
    expect(r.status).toBe(1); // the three bad sleeps
    expect(answer(r.stdout, 'modprobe gki_dma_test')).toMatch(/device a000000\.dma: unbound -> deferred: waits: supplier 2b400000\.iommu not ready/);
    // 5 s: nothing due yet
    expect(r.stdout).toContain('gki> sleep 5\ngki> sleep 5\n');
    const second = r.stdout.slice(r.stdout.indexOf('gki> sleep 5\ngki> sleep 5\n') + 'gki> sleep 5\n'.length);
    const fired = answer(second, 'sleep 5');
    expect(fired).toMatch(/^\[ +10\.\d+\] dma-test a000000\.dma: IOMMU driver never registered \(deferred probe timeout\): DMA is untranslated$/m);
    expect(fired).toMatch(/^device a000000\.dma: deferred: waits: supplier 2b400000\.iommu not ready -> bound \(dma-test\)$/m);
    expect(fired).toMatch(/^device a003000\.dma: deferred: waits: supplier d000000\.iommu not ready -> bound \(dma-test\)$/m);
    // their DMA goes through the SMMU models untranslated (the SMMUs were never enabled)
    expect(answer(r.stdout, 'run dma')).toMatch(/^  a000000\.dma: 16\/16 direct copies of 65827 bytes ok \(physical addresses\)/m);
    for (const bad of ['sleep x', 'sleep 0', 'sleep 4000']) expect(answer(r.stdout, bad)).toBe('usage: sleep SECONDS   (a number above 0, at most 3600)\n');
  });

  it('insmod of a module the image does not have, or has built in: the tool\'s message and the errno, as the other module commands', () => {
    const r = shell([], 'insmod nosuch\ninsmod io-pgtable\n');
    noStack(r);
    expect(r.status).toBe(1);
    expect(answer(r.stdout, 'insmod nosuch')).toBe('insmod: ERROR: could not load module nosuch: No such file or directory (not in the image)\ninsmod nosuch: -2 (ENOENT)\n');
    expect(answer(r.stdout, 'insmod io-pgtable')).toBe('insmod: ERROR: could not load module io-pgtable: it is built into the kernel\ninsmod io-pgtable: -2 (ENOENT)\n');
  });

  it('a format module loaded after its driver: the masters defer (the format cannot load yet), then bind when it comes', () => {
    const script = ['sysctl kernel.modprobe=', 'modprobe gki_dma_test', 'insmod arm_smmu_v3', 'devices', 'modprobe io-pgtable-arm', 'devices', 'run dma'].join('\n') + '\n';
    const r = shell(['--no-load'], script);
    noStack(r);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/booted: 1 bound, 0 deferred, 0 failed, 11 unbound/);
    expect(answer(r.stdout, 'sysctl kernel.modprobe=')).toContain('kernel.modprobe =    (module autoloading disabled)');
    expect(answer(r.stdout, 'modprobe gki_dma_test')).toMatch(/device a000000\.dma: unbound -> deferred: waits: supplier 2b400000\.iommu not ready/);
    const insmod = answer(r.stdout, 'insmod arm_smmu_v3');
    expect(insmod).toContain('io-pgtable: format ARM_64_LPAE_S1: loading io-pgtable-fmt-ARM_64_LPAE_S1 failed with -2 (ENOENT), deferring (EPROBE_DEFER)');
    expect(insmod).toMatch(/device a000000\.dma: deferred: .* -> deferred: waits: dma-test: waiting for its IOMMU driver/);
    const first = r.stdout.indexOf('gki> devices');
    expect(r.stdout.slice(first)).toMatch(/^a000000\.dma +gki,dma-master +deferred +- +waits: dma-test: waiting for its IOMMU driver$/m);
    const lpae = answer(r.stdout, 'modprobe io-pgtable-arm');
    expect(lpae).toContain('io-pgtable: registered format ARM_64_LPAE_S1 (io-pgtable-arm)');
    expect(lpae).toMatch(/device a000000\.dma: deferred: .* -> bound \(dma-test\)/);
    expect(lpae).toMatch(/device a001000\.dma: deferred: .* -> bound \(dma-test\)/);
    const second = r.stdout.indexOf('gki> devices', first + 1);
    expect(r.stdout.slice(second)).toMatch(/^a000000\.dma +gki,dma-master +bound +dma-test +iommu 2b400000\.iommu id 0x10 group \d+ domain \d+ \(dma\)$/m);
    expect(answer(r.stdout, 'run dma')).toMatch(/^== dma: ok/m);
  });

  it('domains: a page table of a default domain the group has left (msm8916\'s GPU on its own domain) is that domain\'s, not "a GPU address space"', () => {
    const r = shell(['--board', join(BOARDS, 'qcom/apq8016-sbc.dts')], 'domains\n');
    noStack(r);
    expect(r.status).toBe(0);
    const out = answer(r.stdout, 'domains');
    // group 2 (the GPU) is on msm's unmanaged domain; its default DMA domain keeps the table
    // qcom_iommu gave it when the GPU was first attached
    const def = /^  group 2: 1c00000\.gpu; domain (\d+) \(default (\d+)\)$/m.exec(out)!;
    expect(def).not.toBeNull();
    const [own, dflt] = [def[1], def[2]];
    expect(own).not.toBe(dflt);
    const tDef = new RegExp(`^  domain ${dflt}: dma \\(default\\) on soc@0:iommu@1f08000, group\\(s\\) - \\[no device\\], page table (\\d+) \\(ARM_32_LPAE_S1\\)`, 'm').exec(out);
    expect(tDef, out).not.toBeNull();
    expect(out).toMatch(new RegExp(`^  ${tDef![1]}: ARM_32_LPAE_S1 from io-pgtable-arm, domain ${dflt}$`, 'm'));
    expect(out).toMatch(new RegExp(`^  domain ${own}: unmanaged on soc@0:iommu@1f08000, group\\(s\\) 2 \\[1c00000\\.gpu\\], page table \\d+ \\(ARM_32_LPAE_S1\\), fault handler set$`, 'm'));
    expect(out).not.toContain('not an IOMMU domain');
  });
});

describe('gki board (spawned)', () => {
  it('lists the built-in boards and exports one as DTS that compiles back to the same board', () => {
    const l = gki(['board', 'list'], wd);
    expect(l.status).toBe(0);
    expect(l.out).toEqual([expect.stringMatching(/^gki-virt {2}the default virtual SoC: .*MMU-500.*Mali-T860.*Adreno 630.* \(default\)$/)]);
    const e = gki(['board', 'export', 'gki-virt'], wd);
    expect(e.status).toBe(0);
    expect(e.stdout).toContain('compatible = "arm,mmu-500";');
    expect(e.stdout).toContain('compatible = "qcom,adreno-630.2", "qcom,adreno";');
    expect(e.stdout + '').toBe(readFileSync(join(BOARDS, 'gki-virt.dts'), 'utf8'));
    const bad = gki(['board', 'export', 'sdm845'], wd);
    expect([bad.status, bad.err.length]).toEqual([1, 1]);
    expect(gki(['board', 'frob'], wd).status).toBe(2);
    expect(gki(['board'], wd).status).toBe(2);
  });
});
