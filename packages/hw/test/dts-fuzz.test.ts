/**
 * Fuzzing the DTS compiler as the DTB reader is fuzzed: seeded mutations of real DTS sources
 * (the kernel boards of boards/, the DTS test files, the default board's printed source),
 * each compiled through the preprocessor and the parser. Every case must either compile to a
 * tree that survives a DTB round trip, or throw a DtsError that names a file, a line and a
 * column (or an FdtError from the blob writer); nothing else may escape, and nothing may hang.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  BUILTIN_BOARDS,
  boardDtsSource,
  DtsError,
  FdtError,
  memoryFileSystem,
  parseDtb,
  parseDts,
  writeDtb,
  type DtsFileSystem,
  type FdtTree,
} from '@gki/hw';
import { rng } from './fdt-helpers.js';

const here = dirname(new URL(import.meta.url).pathname);
const repo = join(here, '..', '..', '..');

function filesIn(dir: string, exts: string[]): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesIn(p, exts));
    else if (exts.some((x) => e.name.endsWith(x))) out.push(p);
  }
  return out.sort();
}

/** Every source file the seeds may include, in memory (relative names), so no case touches the disk. */
function sourceFiles(): Record<string, string> {
  const files: Record<string, string> = {};
  for (const f of filesIn(join(repo, 'boards'), ['.dts', '.dtsi'])) files[relative(repo, f)] = readFileSync(f, 'latin1');
  for (const f of filesIn(join(here, 'dts'), ['.dts', '.dtsi', '.h'])) files[relative(repo, f)] = readFileSync(f, 'latin1');
  return files;
}

/** DTS-significant fragments the mutator splices in. */
const FRAGMENTS = [
  '{', '}', ';', '<', '>', '[', ']', '(', ')', '&', ':', '=', '"', "'", '/', '#', ',', '@', '\\', '\n', ' ', '*', '-', '~', '!', '?',
  '/delete-node/', '/delete-property/', '/bits/ 8', '/bits/ 64', '/memreserve/', '/dts-v1/;', '/plugin/;', '/include/ "x.dtsi"',
  '/omit-if-no-ref/', '/incbin/("nope")', '&{/', '&{/soc}', '&nolabel', 'lbl:', '0x', '0xffffffffffffffffff', '08', "'\\x'",
  '#include "missing.dtsi"\n', '#include <dt-bindings/none/x.h>\n', '#define X(a) a##a\n', '#define Y Y Y\n', '#if 1\n', '#else\n',
  '#endif\n', '#ifdef X\n', '#undef X\n', '#error boom\n', 'X(1)', 'GIC_SPI', 'IRQ_TYPE_LEVEL_HIGH', '/*', '*/', '//', '"\\',
  '\u00e9', '\u0000', '\u00ff', '((((((((1))))))))', '(1 / 0)', '(1 ? 2 : 3)', 'phandle = <0>;', 'name = "x";', 'reg = <1 2 3>;',
];

function mutate(src: string, r: () => number): string {
  const int = (n: number): number => Math.floor(r() * n);
  const at = int(src.length + 1);
  switch (int(8)) {
    case 0: // delete a range
      return src.slice(0, at) + src.slice(Math.min(src.length, at + 1 + int(40)));
    case 1: // insert a fragment
      return src.slice(0, at) + FRAGMENTS[int(FRAGMENTS.length)]! + src.slice(at);
    case 2: {
      // duplicate a range somewhere else
      const from = int(src.length);
      const piece = src.slice(from, from + 1 + int(200));
      return src.slice(0, at) + piece + src.slice(at);
    }
    case 3: {
      // swap two lines
      const lines = src.split('\n');
      const a = int(lines.length);
      const b = int(lines.length);
      [lines[a], lines[b]] = [lines[b]!, lines[a]!];
      return lines.join('\n');
    }
    case 4: // truncate
      return src.slice(0, at);
    case 5: // replace one character with a random byte
      return src.slice(0, at) + String.fromCharCode(int(256)) + src.slice(at + 1);
    case 6: {
      // change a number
      const m = /0x[0-9a-f]+|\d+/gi;
      const nums = [...src.matchAll(m)];
      if (nums.length === 0) return src;
      const pick = nums[int(nums.length)]!;
      const repl = ['0', '1', '4294967295', '4294967296', '0x7fffffff', '99999999999999999999', '3'][int(7)]!;
      return src.slice(0, pick.index!) + repl + src.slice(pick.index! + pick[0].length);
    }
    default: {
      // delete a whole line (a property, a brace, a directive)
      const lines = src.split('\n');
      lines.splice(int(lines.length), 1);
      return lines.join('\n');
    }
  }
}

/** FDT_FUZZ style knobs: DTS_FUZZ_CASES / DTS_FUZZ_SEED allow longer runs by hand. */
const CASES = Number(process.env.DTS_FUZZ_CASES ?? 2_000);
const SEED = Number(process.env.DTS_FUZZ_SEED ?? 0xd75f022);

describe('DTS compiler fuzzing', () => {
  // the cases run in chunks of their own test (each with the whole timeout), continuing one
  // random sequence, so a loaded machine slows the run down without failing it
  const CHUNK = 250;
  const r = rng(SEED);
  let compiled = 0;
  let rejected = 0;
  const reasons = new Set<string>();
  let seeds: { name: string; text: string }[] = [];
  let opts: (name: string) => { filename: string; fs: DtsFileSystem; includeDirs: string[] } = () => {
    throw new Error('seeds not compiled');
  };

  it('compiles the unmutated seeds', () => {
    const files = sourceFiles();
    const fs: DtsFileSystem = memoryFileSystem(files);
    seeds = [
      ...Object.entries(files)
        .filter(([name]) => name.endsWith('.dts'))
        .map(([name, text]) => ({ name, text })),
      ...BUILTIN_BOARDS.map((b) => ({ name: `boards/${b.name}.dts`, text: boardDtsSource(b) })),
    ];
    opts = (name: string) => ({ filename: name, fs, includeDirs: ['packages/hw/test/dts/incdir'] });
    // the unmutated seeds compile
    for (const s of seeds) expect(() => parseDts(Buffer.from(s.text, 'latin1'), opts(s.name)), s.name).not.toThrow();
  });

  for (let from = 0; from < CASES; from += CHUNK) {
    const to = Math.min(CASES, from + CHUNK);
    const name = `compiles or throws DtsError with file:line:col: mutated sources ${from}..${to - 1} of ${CASES} (seed 0x${SEED.toString(16)})`;
    it(name, () => {
      expect(seeds.length).toBeGreaterThan(0);
      for (let i = from; i < to; i++) {
        const seed = seeds[i % seeds.length]!;
        let text = seed.text;
        const rounds = 1 + Math.floor(r() * 3);
        for (let k = 0; k < rounds; k++) text = mutate(text, r);
        let tree: FdtTree | undefined;
        let dtb: Uint8Array | undefined;
        try {
          ({ tree, dtb } = parseDts(Buffer.from(text, 'latin1'), opts(seed.name)));
        } catch (e) {
          if (e instanceof DtsError) {
            if (!(typeof e.file === 'string' && e.file.length > 0 && Number.isInteger(e.line) && e.line >= 1 && Number.isInteger(e.column) && e.column >= 1))
              throw new Error(`case ${i}: DtsError without a proper place: ${e.message}`);
            rejected++;
            reasons.add(e.reason.replace(/0x[0-9a-f]+|\d+|'[^']*'|"[^"]*"|<[^>]*>/g, '#').slice(0, 40));
            continue;
          }
          if (e instanceof FdtError) {
            rejected++;
            reasons.add(`fdt: ${e.reason.slice(0, 30)}`);
            continue;
          }
          throw new Error(`case ${i} (from ${seed.name}): ${e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e)}`);
        }
        compiled++;
        // what compiled is a blob the reader takes back to the same tree
        const back = parseDtb(dtb);
        if (back.root.children.length !== tree.root.children.length || Buffer.compare(writeDtb(back), dtb) !== 0)
          throw new Error(`case ${i}: DTB round trip differs`);
      }
    });
  }

  it('the mutator reached both outcomes and many different checks', () => {
    expect(compiled + rejected).toBe(CASES);
    expect(compiled).toBeGreaterThan(CASES / 10);
    expect(rejected).toBeGreaterThan(CASES / 4);
    expect(reasons.size).toBeGreaterThan(25);
  });
});
