import { fileURLToPath } from 'node:url';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { IoPgtableOps } from '@gki/io-pgtable-core';
import { readVectorFile, replayCase } from '@gki/io-pgtable-core/vectors';
import { main, type Io } from '../src/main.js';
import { dumpTable } from '../src/pgtable/dump.js';
import { bootReplayKernel, kernelReplayEnv } from '../src/pgtable/session.js';
import { walkerCheck } from '../src/pgtable/walker-check.js';

const VECTORS = process.env.GKI_VECTORS_DIR ?? fileURLToPath(new URL('../../../vectors/', import.meta.url));
const v = (f: string) => join(VECTORS, f);

function capture(): Io & { lines: string[]; errs: string[] } {
  const lines: string[] = [];
  const errs: string[] = [];
  return { lines, errs, out: (s) => lines.push(...s.split('\n')), err: (s) => errs.push(...s.split('\n')) };
}

async function run(...argv: string[]) {
  const io = capture();
  const status = await main(argv, io);
  return { status, out: io.lines, err: io.errs };
}

/** Writes `text` to a fresh temporary .jsonl file. */
function tmpVectors(text: string): string {
  const f = join(mkdtempSync(join(tmpdir(), 'gki-pgtable-')), 'cases.jsonl');
  writeFileSync(f, text);
  return f;
}

describe('gki pgtable replay', () => {
  it('replays LPAE and v7s vector files through the on-demand loaded format modules', async () => {
    const r = await run('pgtable', 'replay', v('config.jsonl'), v('random_arm_v7s.jsonl'), v('unmap.jsonl'));
    expect(r.err).toEqual([]);
    expect(r.out.filter((l) => / op \d+: | regs: | leaves: | tlb: /.test(l))).toEqual([]);
    expect(r.out.at(-1)).toBe('202 passed, 0 failed');
    expect(r.out).toContain('config.jsonl: 176/176 cases passed');
    expect(r.status).toBe(0);
  });

  it('runs a single case with --case and prints only the summary with --quiet', async () => {
    const r = await run('pgtable', 'replay', v('prot.jsonl'), '--case', 'prot_s1_4k_quirk_ttbr1', '--quiet');
    expect(r.out).toEqual(['1 passed, 0 failed']);
    expect(r.status).toBe(0);
  });

  it('prints every mismatch with case, op index, expected and got, and exits 1', async () => {
    const line = readFileSync(v('config.jsonl'), 'utf8').split('\n')[0]!;
    const c = JSON.parse(line);
    expect(c.name).toBe('config_s1_4k_ias32_oas32');
    c.ops[1].ret = '0xc000002b'; // iova_to_phys answer changed
    c.leaves[0].pte = '0xe47';
    const good = JSON.parse(line);
    good.name = 'unchanged';
    const f = tmpVectors(JSON.stringify(c) + '\n' + JSON.stringify(good) + '\n');
    const r = await run('pgtable', 'replay', f, '--quiet');
    expect(r.out).toEqual([
      'config_s1_4k_ias32_oas32 op 1: expected iova_to_phys 0xc000002b, got iova_to_phys 0xc000002a',
      'config_s1_4k_ias32_oas32 leaves: expected [0] level 3 iova 0x0 size 0x1000 pte 0xe47, got level 3 iova 0x0 size 0x1000 pte 0xe43',
      '1 passed, 1 failed',
    ]);
    expect(r.status).toBe(1);
  });

  it('rejects bad usage with status 2 and unreadable vector files with status 1', async () => {
    expect((await run('pgtable', 'replay')).status).toBe(2);
    expect((await run('pgtable', 'replay', v('config.jsonl'), '--bogus')).err[0]).toContain("unknown option '--bogus'");
    const missingCase = await run('pgtable', 'replay', v('config.jsonl'), '--case', 'no_such_case');
    expect(missingCase.status).toBe(2);
    expect(missingCase.err[0]).toContain("no case named 'no_such_case'");
    const missingFile = await run('pgtable', 'replay', join(VECTORS, 'absent.jsonl'));
    expect(missingFile.status).toBe(1); // a failure, not a usage error
    expect(missingFile.err).toEqual([`gki pgtable: ${join(VECTORS, 'absent.jsonl')}: no such file (ENOENT)`]);
    const dir = await run('pgtable', 'replay', VECTORS);
    expect(dir.status).toBe(1);
    expect(dir.err).toEqual([`gki pgtable: ${VECTORS}: is a directory, not a vector file`]);
    const file = tmpVectors('{"name": "x"}\n');
    const broken = await run('pgtable', 'replay', file);
    expect(broken.status).toBe(1);
    // one line, naming the file once, with the line of the bad case
    expect(broken.err).toEqual([expect.stringMatching(/cases\.jsonl:1 \(x\): unknown format/)]);
    expect(broken.err[0]!.split(file).length).toBe(2);
    expect((await run('pgtable', 'frobnicate')).status).toBe(2);
  });
});

describe('gki pgtable dump', () => {
  it('prints the table the format built as the hardware walker decodes it', async () => {
    const r = await run('pgtable', 'dump', v('config.jsonl'), '--case', 'config_s1_4k_ias32_oas32');
    expect(r.status).toBe(0);
    expect(r.out[0]).toBe('case config_s1_4k_ias32_oas32 (ARM_64_LPAE_S1), after op 4 of 5');
    expect(r.out[1]).toBe('ARM_64_LPAE_S1: ias 32 oas 32 pgsize_bitmap 0x40201000, 2 leaf slot(s) (decoded by the hardware walker)');
    const tree = r.out.slice(3).map((l) => l.trim().split(' ').slice(0, 5).join(' '));
    expect(tree).toEqual([
      expect.stringMatching(/^L1\[0\] 0x00000000-0x3fffffff 0x[0-9a-f]{16} table ->$/),
      expect.stringMatching(/^L2\[0\] 0x00000000-0x001fffff 0x[0-9a-f]{16} table ->$/),
      'L3[0] 0x00000000-0x00000fff 0x0000000000000e43 page oa=0x0',
      'L1[3] 0xc0000000-0xffffffff 0x00600000c0000f45 block oa=0xc0000000',
    ]);
  });

  it('stops after --after-op', async () => {
    const early = await run('pgtable', 'dump', v('config.jsonl'), '--case', 'config_s1_4k_ias32_oas32', '--after-op', '0');
    expect(early.status).toBe(0);
    expect(early.out[0]).toBe('case config_s1_4k_ias32_oas32 (ARM_64_LPAE_S1), after op 0 of 5');
    expect(early.out.slice(3).map((l) => l.trim().split(' ')[0])).toEqual(['L1[3]']);
  });

  it('says so for a configuration the kernel rejects', async () => {
    const line = readFileSync(v('config.jsonl'), 'utf8').split('\n').find((l) => l.includes('"regs":null'))!;
    const r = await run('pgtable', 'dump', v('config.jsonl'), '--case', JSON.parse(line).name);
    expect(r.status).toBe(0);
    expect(r.out[1]).toBe('alloc_io_pgtable_ops fails for this configuration: no table');
  });

  it('needs one file and --case', async () => {
    expect((await run('pgtable', 'dump', v('config.jsonl'))).status).toBe(2);
    const bad = await run('pgtable', 'dump', v('config.jsonl'), '--case', 'config_s1_4k_ias32_oas32', '--after-op', '9');
    expect(bad.status).toBe(2);
    expect(bad.err[0]).toContain('has 5 ops');
  });
});

describe('pgtable internals', () => {
  const cases = (f: string) => readVectorFile(v(f));

  it('the leaf view decodes LPAE and v7s descriptors along the table path', () => {
    const k = bootReplayKernel();
    let lpae: string[] = [];
    replayCase(cases('config.jsonl').find((c) => c.name === 'config_s1_4k_ias32_oas32')!, kernelReplayEnv(k), {
      inspect: (ops, cfg) => (lpae = dumpTable(k.mem, 'ARM_64_LPAE_S1', cfg, ops)),
    });
    expect(lpae[0]).toMatch(/^ARM_64_LPAE_S1: ias 32 oas 32 .* granule 0x1000, start level 1, .* 2 leaf slot\(s\)$/);
    expect(lpae.slice(1)).toEqual([
      expect.stringMatching(/^L1\[0\] 0x000000000000-0x00003fffffff 0x[0-9a-f]{16} table -> 0x[0-9a-f]+$/),
      expect.stringMatching(/^ {2}L2\[0\] 0x000000000000-0x0000001fffff 0x[0-9a-f]{16} table -> 0x[0-9a-f]+$/),
      '    L3[0] 0x000000000000-0x000000000fff 0x0000000000000e43 page oa 0x0 AttrIndx 0 AP rw/any nG SH 2 AF',
      'L1[3] 0x0000c0000000-0x0000ffffffff 0x00600000c0000f45 block oa 0xc0000000 AttrIndx 1 AP rw/any nG SH 3 AF PXN XN',
    ]);
    const c = cases('blocks.jsonl').find((x) => x.name === 'blocks_v7s')!;
    let v7s: string[] = [];
    const r = replayCase(c, kernelReplayEnv(k), { inspect: (ops, cfg) => (v7s = dumpTable(k.mem, 'ARM_V7S', cfg, ops)) });
    expect(r.mismatches).toEqual([]);
    const leafLines = v7s.filter((l) => / (section|supersection|large page|small page) /.test(l));
    expect(leafLines).toHaveLength(c.leaves.length);
    expect(v7s).toContain('  L2[0] 0x00000000-0x00000fff 0x80000c72 small page oa 0x80000000 TEX 1 C 0 B 0 AP[2:0] 011 S nG');
    expect(k.pages.stats().pagesInUse).toBe(0);
  });

  it('the walker check catches a format whose leaves or translations disagree with its tables', () => {
    const k = bootReplayKernel();
    const base = kernelReplayEnv(k);
    const c = cases('config.jsonl').find((x) => x.name === 'config_s1_4k_ias32_oas32')!;
    // honest format: the walker agrees
    expect(replayCase(c, kernelReplayEnv(k, walkerCheck(k.mem))).mismatches).toEqual([]);
    // a format that hides a leaf and lies about a translation
    const lying = kernelReplayEnv(k, walkerCheck(k.mem));
    lying.alloc = (fmt, cfg, cookie) => {
      const ops = base.alloc(fmt, cfg, cookie) as IoPgtableOps;
      const walkLeaves = ops.walkLeaves!.bind(ops);
      const iovaToPhys = ops.iovaToPhys.bind(ops);
      ops.walkLeaves = (visit) => walkLeaves((l) => (l.level === 3 ? undefined : visit(l)));
      ops.iovaToPhys = (iova) => (Number(iova) === 0xc0000000 ? 0x1234000 : iovaToPhys(iova));
      return ops;
    };
    const checks = replayCase(c, lying).mismatches.filter((m) => m.op === 'check').map((m) => m.got);
    expect(checks).toEqual([
      'walker leaf [0] level 3 iova 0x0 pte 0xe43 vs format level 1 iova 0xc0000000 pte 0x600000c0000f45',
      'walker leaf [1] level 1 iova 0xc0000000 pte 0x600000c0000f45 vs format (none)',
      "iova 0xc0000000: walker translates to 0xc0000000, format's iova_to_phys says 0x1234000",
    ]);
    expect(k.pages.stats().pagesInUse).toBe(0);
  });
});
