import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { COMMANDS, main, type Io } from '../src/main.js';
import { gki, gkiClosedStdout, SPAWN_TIMEOUT, STACK_LINE, workdir, write } from './cli-helpers.js';

const wd = workdir('gki-help-');
const VECTORS = fileURLToPath(new URL('../../../vectors/', import.meta.url));
const VIRT_DTS = fileURLToPath(new URL('../../../boards/gki-virt.dts', import.meta.url));

function capture(): Io & { lines: string[]; errs: string[] } {
  const lines: string[] = [];
  const errs: string[] = [];
  return { lines, errs, out: (s) => lines.push(...s.split('\n')), err: (s) => errs.push(...s.split('\n')) };
}

/** The options a help text documents (`--name` at the start of an options line, or in usage). */
function documentedOptions(help: string): Set<string> {
  const out = new Set<string>();
  for (const m of help.matchAll(/(?:^|[\s[])(--[a-z][a-z0-9-]*)/gm)) out.add(m[1]!);
  for (const m of help.matchAll(/^\s+(-[a-zA-Z]), --/gm)) out.add(m[1]!);
  out.delete('--help');
  return out;
}

describe('help', { timeout: SPAWN_TIMEOUT }, () => {
  it('gki --help lists every command; each command has --help and gki help COMMAND', async () => {
    const top = gki(['--help'], wd);
    expect(top.status).toBe(0);
    for (const c of COMMANDS) {
      expect(top.stdout).toMatch(new RegExp(`^  ${c.name} +${c.summary.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
      const a = capture();
      expect(await main([c.name, '--help'], a)).toBe(0);
      expect(a.lines[0]).toBe(c.usage.split('\n')[0]);
      expect(a.lines.join('\n')).toBe(c.help);
      const b = capture();
      expect(await main(['help', c.name], b)).toBe(0);
      expect(b.lines).toEqual(a.lines);
    }
    const none = capture();
    expect(await main([], none)).toBe(2);
    expect(none.errs[0]).toBe('usage: gki <command> [options]');
  });

  it('every option a help text names is one the command accepts, and nothing else (help and behaviour agree)', async () => {
    const frag = write(wd, 'frag.config', 'CONFIG_ARM_SMMU_V3=m\nCONFIG_GKI_DMA_TEST=m\n');
    const base = write(wd, 'base.config', 'CONFIG_MODULES=y\nCONFIG_IOMMU_SUPPORT=y\n');
    const ov = write(wd, 'note.dtso', '/dts-v1/;\n/plugin/;\n&{/} { gki-note { compatible = "gki,note"; }; };\n');
    const cwd = process.cwd();
    const runs: Record<string, string[][]> = {
      compose: [
        ['--config', join(wd, frag), '--base', join(wd, base), '--rules', 'mainline', '--werror', '-o', join(wd, 'img1')],
        ['--config', join(wd, frag), '--omit', 'gki_dma_test', '--output', join(wd, 'img2')],
      ],
      config: [['default', '--rules', 'mainline'], ['base'], ['symbols', '--rules', 'seed'], ['resolve', '--config', join(wd, frag), '--base', join(wd, base), '--rules', 'seed', '--werror']],
      boot: [[join(wd, 'img2'), '--debug', '--board', 'gki-virt', '-I', wd], [join(wd, 'img2'), '--include', wd, '--board', VIRT_DTS, '--overlay', join(wd, ov)]],
      run: [
        [join(wd, 'img2'), '--workload', 'stress', '--ops', '20', '--seed', '3', '--json', '--board', 'gki-virt', '-I', wd, '--debug'],
        ['-w', 'stress', '--seconds', '1', '--include', wd, '--brief', '--board', VIRT_DTS, '--overlay', join(wd, ov)],
      ],
      shell: [[join(wd, 'img2'), '--no-load', '--board', VIRT_DTS, '--overlay', join(wd, ov), '-I', wd, '--include', wd]],
      board: [['list'], ['export', 'gki-virt']],
      pgtable: [
        ['replay', join(VECTORS, 'config.jsonl'), '--quiet', '--case', 'config_s1_4k_ias32_oas32'],
        ['dump', join(VECTORS, 'config.jsonl'), '--case', 'config_s1_4k_ias32_oas32', '--after-op', '0'],
      ],
    };
    expect(Object.keys(runs).sort()).toEqual(COMMANDS.map((c) => c.name).sort());
    for (const c of COMMANDS) {
      const used = new Set(runs[c.name]!.flat().filter((a) => a.startsWith('-')));
      expect([...used].sort(), c.name).toEqual([...documentedOptions(c.help)].sort());
      for (const args of runs[c.name]!) {
        const io = { ...capture(), input: Readable.from(['lsmod\n', 'exit\n']) };
        const status = await main([c.name, ...args], io);
        expect({ cmd: c.name, args, status, errs: io.errs.filter((e) => /unknown option|usage/.test(e)) }).toEqual({ cmd: c.name, args, status: 0, errs: [] });
      }
    }
    expect(process.cwd()).toBe(cwd);
  });

  it('a reader that goes away early (gki config symbols | head) ends the command quietly: status 141 as after SIGPIPE, no stack trace', async () => {
    const r = await gkiClosedStdout(['config', 'symbols'], wd);
    expect(r.stderr).not.toMatch(STACK_LINE);
    expect(r.stderr).not.toMatch(/EPIPE|Unhandled/);
    expect(r.status).toBe(141);
  });
});
