/**
 * The DTS compiler against the reference: for every built-in board, every DTS test file and
 * every real board of the repository's boards/ folder, the blob `compileDts` writes must be
 * byte-identical to the one dtc (Debian's device-tree-compiler) writes for the same source,
 * which pins node and property order, phandle numbers, `phandle` properties and the strings
 * table. Kernel trees go through the C preprocessor first: both through this package's
 * preprocessor and, where the system has one, through gcc's `cpp -x assembler-with-cpp` as the
 * kernel's build runs it.
 *
 * dtc is looked for on PATH (or in $DTC); when it is missing and the tests run as root, the
 * setup tries `apt-get install -y device-tree-compiler` once. When it still cannot be had,
 * only the comparisons are skipped, each with the reason, and a warning is printed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { BUILTIN_BOARDS, BUILTIN_DT_BINDINGS, boardDtsSource, compileDts, compileDtsFile, preprocessDts, writeDtb, type DtsCompileResult, type FdtNode } from '@gki/hw';

const here = dirname(new URL(import.meta.url).pathname);
const repo = join(here, '..', '..', '..');
const testDts = join(here, 'dts');
const boardsDir = join(repo, 'boards');

function which(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  const p = r.stdout.trim();
  return r.status === 0 && p ? p : undefined;
}

interface Tool {
  path?: string;
  why?: string;
}

function findDtc(): Tool {
  const env = process.env.DTC;
  if (env) return existsSync(env) ? { path: env } : { why: `$DTC=${env} does not exist` };
  const found = which('dtc');
  if (found) return { path: found };
  if (typeof process.getuid !== 'function' || process.getuid() !== 0)
    return { why: 'dtc is not installed and the tests do not run as root to install device-tree-compiler' };
  if (!which('apt-get')) return { why: 'dtc is not installed and there is no apt-get to install device-tree-compiler' };
  const r = spawnSync('apt-get', ['install', '-y', '-q', 'device-tree-compiler'], { encoding: 'utf8', timeout: 180_000 });
  const after = which('dtc');
  if (after) return { path: after };
  return { why: `apt-get install device-tree-compiler failed (${(r.stderr || r.stdout || String(r.error ?? '')).trim().split('\n').pop()})` };
}

let dtc: Tool = {};
let cpp: string | undefined;
let work = '';

beforeAll(() => {
  dtc = findDtc();
  cpp = which('cpp');
  work = mkdtempSync(join(tmpdir(), 'gki-dtc-'));
  if (!dtc.path) console.warn(`\n*** dtc comparison skipped: ${dtc.why} ***\n`);
}, 200_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

function needDtc(ctx: TestContext): string {
  if (!dtc.path) ctx.skip(`dtc comparison skipped: ${dtc.why}`);
  return dtc.path!;
}

let seq = 0;
/** dtc's blob for a DTS file (`includeDir` for its /include/ look-ups). */
function runDtc(dtcPath: string, dtsFile: string, includeDir: string): Uint8Array {
  const out = join(work, `out-${seq++}.dtb`);
  const r = spawnSync(dtcPath, ['-q', '-i', includeDir, '-I', 'dts', '-O', 'dtb', '-o', out, dtsFile], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`dtc failed on ${dtsFile}: ${r.stderr}`);
  return new Uint8Array(readFileSync(out));
}

function writeTemp(name: string, data: string | Uint8Array): string {
  const p = join(work, `${seq++}-${name}`);
  writeFileSync(p, data);
  return p;
}

/** Byte equality with a readable failure: the first differing offset. */
function expectSameBlob(mine: Uint8Array, theirs: Uint8Array, what: string): void {
  let first = -1;
  for (let i = 0; i < Math.max(mine.length, theirs.length); i++)
    if (mine[i] !== theirs[i]) {
      first = i;
      break;
    }
  expect({ what, firstDifference: first, sizes: [mine.length, theirs.length] }).toEqual({ what, firstDifference: -1, sizes: [theirs.length, theirs.length] });
}

function filesIn(dir: string, ext: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesIn(p, ext));
    else if (e.name.endsWith(ext)) out.push(p);
  }
  return out.sort();
}

describe('built-in boards', () => {
  for (const b of BUILTIN_BOARDS) {
    it(`${b.name}: its DTS source compiles to its DTB, here and with dtc`, (ctx) => {
      const text = boardDtsSource(b);
      expectSameBlob(compileDts(text), b.dtb(), `${b.name} via compileDts`);
      const tool = needDtc(ctx);
      expectSameBlob(runDtc(tool, writeTemp(`${b.name}.dts`, text), work), b.dtb(), `${b.name} via dtc`);
    });

    it(`${b.name}: boards/${b.name}.dts is up to date`, () => {
      const file = join(boardsDir, `${b.name}.dts`);
      const hint = 'regenerate it: pnpm --filter @gki/hw exec tsx --conditions=@gki/source scripts/write-board-dts.ts';
      expect(existsSync(file), hint).toBe(true);
      expect(readFileSync(file, 'utf8'), hint).toBe(boardDtsSource(b));
    });
  }
});

describe('DTS test files', () => {
  for (const file of filesIn(testDts, '.dts').filter((f) => !f.endsWith('cpp.dts')))
    it(`${relative(here, file)} gives dtc's blob`, (ctx) => {
      const mine = compileDtsFile(file, { cpp: false }).dtb;
      expectSameBlob(mine, runDtc(needDtc(ctx), file, dirname(file)), file);
    });

  it('cpp.dts (through the preprocessor) gives the blob of cpp + dtc', (ctx) => {
    const file = join(testDts, 'cpp.dts');
    const opts = { includeDirs: [join(testDts, 'incdir')] };
    const mine = compileDtsFile(file, opts).dtb;
    const tool = needDtc(ctx);
    const viaOurs = writeTemp('cpp-ours.dts', preprocessDts(readFileSync(file), { ...opts, filename: file }));
    expectSameBlob(mine, runDtc(tool, viaOurs, testDts), 'our preprocessor + dtc');
    if (cpp) expectSameBlob(mine, runDtc(tool, gccPreprocess(file, [join(testDts, 'incdir')], []), testDts), 'gcc cpp + dtc');
  });
});

/**
 * Definitions standing in for the macros a compile read as 0 (or ""), for cpp: what the
 * compiler did must be what defining them so does.
 */
function standIns(r: DtsCompileResult): string {
  const seen = new Map<string, string>();
  for (const m of r.undefinedMacros) seen.set(m.name, `#define ${m.name}${m.call ? '(...)' : ''} ${m.string ? '""' : '0'}`);
  return [...seen.values()].join('\n') + '\n';
}

/**
 * The kernel build's preprocessing step, with the shipped headers, empty stand-ins for missing
 * ones and `prelude` (macro definitions) read first.
 */
function gccPreprocess(file: string, includeDirs: string[], missing: readonly string[], prelude = ''): string {
  const inc = join(work, `inc-${seq++}`);
  for (const [name, text] of Object.entries(BUILTIN_DT_BINDINGS)) {
    mkdirSync(dirname(join(inc, name)), { recursive: true });
    writeFileSync(join(inc, name), text);
  }
  for (const name of missing) {
    mkdirSync(dirname(join(inc, name)), { recursive: true });
    writeFileSync(join(inc, name), '/* stand-in: its macros are defined in the prelude, if used */\n');
  }
  const pre = writeTemp('prelude.h', prelude);
  const args = ['-nostdinc', ...includeDirs.flatMap((d) => ['-I', d]), '-I', inc, '-undef', '-D__DTS__', '-include', pre, '-x', 'assembler-with-cpp', file];
  const r = spawnSync(cpp!, args, { maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`cpp failed on ${file}: ${r.stderr}`);
  return writeTemp('gcc-pp.dts', r.stdout);
}

/**
 * A kernel-style tree (with #include and macros of missing headers) gives the blob of cpp +
 * dtc, with the macros the compiler read as 0 defined as 0 for cpp.
 */
function expectCppDtcBlob(file: string, ctx: TestContext): void {
  const r = compileDtsFile(file);
  const prelude = standIns(r);
  // the same source with the stand-in definitions read first
  const wrapper = writeTemp('wrapper.dts', `#include "${writeTemp('prelude.h', prelude)}"\n#include "${file}"\n`);
  const withDefs = compileDtsFile(wrapper);
  expect(withDefs.undefinedMacros).toEqual([]);
  // reading an undefined macro as 0 is defining it as 0, except in node names, where an
  // unexpanded macro stays text (endpoint@ROCKCHIP_VOP2_EP_HDMI0) as cpp leaves it
  const names = new Set(r.undefinedMacros.map((m) => m.name));
  const rename = (n: FdtNode): FdtNode => ({
    name: n.name.replace(/[A-Za-z_][A-Za-z0-9_]*/g, (w) => (names.has(w) ? '0' : w)),
    props: n.props,
    children: n.children.map(rename),
  });
  expectSameBlob(writeDtb({ ...r.tree, root: rename(r.tree.root) }), withDefs.dtb, 'undefined macros read as 0');
  const tool = needDtc(ctx);
  const viaOurs = writeTemp('board-ours.dts', preprocessDts(readFileSync(wrapper), { filename: wrapper }));
  expectSameBlob(withDefs.dtb, runDtc(tool, viaOurs, dirname(file)), 'our preprocessor + dtc');
  if (cpp)
    expectSameBlob(
      withDefs.dtb,
      runDtc(tool, gccPreprocess(file, [], r.missingHeaders.filter((m) => !m.partial).map((m) => m.header), prelude), dirname(file)),
      'gcc cpp + dtc',
    );
}

describe('real boards (kernel trees, trimmed)', () => {
  const boards = filesIn(boardsDir, '.dts').filter((f) => !f.endsWith('gki-virt.dts'));

  it('are all there', () => {
    expect(boards.map((f) => relative(boardsDir, f))).toEqual([
      'allwinner/sun50i-h6-pine-h64.dts',
      'amlogic/meson-g12a-sei510.dts',
      'amlogic/meson-gxm-khadas-vim2.dts',
      'arm/foundation-v8.dts',
      'arm/fvp-base-revc.dts',
      'arm/juno.dts',
      'arm/morello-sdp.dts',
      'freescale/fsl-ls1028a-rdb.dts',
      'freescale/imx8mp-evk.dts',
      'hisilicon/hi3660-hikey960.dts',
      'mediatek/mt8183-evb.dts',
      'mediatek/mt8192-asurada-spherion-r0.dts',
      'mediatek/mt8192-evb.dts',
      'nvidia/tegra194-p2972-0000.dts',
      'qcom/apq8016-sbc.dts',
      'qcom/apq8096-db820c.dts',
      'qcom/msm8998-mtp.dts',
      'qcom/qrb2210-rb1.dts',
      'qcom/qrb4210-rb2.dts',
      'qcom/sc7180-idp.dts',
      'qcom/sc7280-idp.dts',
      'qcom/sc8280xp-crd.dts',
      'qcom/sdm630-sony-xperia-nile-pioneer.dts',
      'qcom/sdm845-mtp.dts',
      'qcom/sm8150-mtp.dts',
      'qcom/sm8250-mtp.dts',
      'qcom/sm8450-hdk.dts',
      'qcom/sm8550-mtp.dts',
      'qcom/sm8650-hdk.dts',
      'qcom/x1e80100-crd.dts',
      'rockchip/rk3288-evb-rk808.dts',
      'rockchip/rk3328-evb.dts',
      'rockchip/rk3399-evb.dts',
      'rockchip/rk3568-evb1-v10.dts',
      'rockchip/rk3588-evb1-v10.dts',
    ]);
  });

  for (const file of boards)
    it(`${relative(boardsDir, file)} gives the blob of cpp + dtc (macros of missing headers defined as what the compiler read)`, (ctx) => {
      expectCppDtcBlob(file, ctx);
    });
});

describe('trees trimmed only of clocks and power domains (test fixtures)', () => {
  // pinctrl, regulators, OPP tables (/bits/ 64), interconnects, thermal zones, an SPMI PMIC
  // include, /omit-if-no-ref/, /delete-property/, &{/path}: see fixtures/light-trim
  it('fixtures/light-trim/light-board.dts gives the blob of cpp + dtc', (ctx) => {
    expectCppDtcBlob(join(here, 'fixtures', 'light-trim', 'light-board.dts'), ctx);
  });
});
