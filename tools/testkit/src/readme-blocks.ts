import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * Every ```ts block of a README, checked as a reader would use it: run as written, as a program
 * of its own, in a separate node process (through tsx, with the workspace's source condition), in
 * a fresh working directory where the repository's `boards/` and `vectors/` are reachable under
 * their usual names. A block that is not a program (an import list, an interface sketch, a
 * fragment continuing the text) says so with an HTML comment on the line before its fence:
 * `<!-- readme-check: not a program (why) -->`.
 */
export interface ReadmeBlock {
  /** 1-based line of the opening fence in the README. */
  readonly line: number;
  readonly code: string;
  /** The reason given by a `readme-check: not a program` marker, or null for a program. */
  readonly notAProgram: string | null;
  /** The `## ` heading the block is under ('' before the first). */
  readonly section: string;
}

export interface ReadmeBlockRun {
  readonly status: number | null;
  readonly stderr: string;
  /** What each console.log call printed, with the block's line (1-based) it was called on. */
  readonly logs: readonly { line: number; text: string }[];
  /** Trailing-comment promises that the output did not keep (empty when all held). */
  readonly mismatches: readonly string[];
}

const MARK = /<!--\s*readme-check:\s*not a program\b\s*(.*?)\s*-->\s*$/;

/** The ```ts blocks of `readme`, in order. */
export function readmeBlocks(readme: string): ReadmeBlock[] {
  const lines = readme.split('\n');
  const out: ReadmeBlock[] = [];
  let section = '';
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.startsWith('## ')) section = lines[i]!.slice(3).trim();
    if (lines[i]!.trim() !== '```ts') continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && lines[i]!.trim() !== '```'; i++) body.push(lines[i]!);
    const mark = start > 0 ? MARK.exec(lines[start - 1]!) : null;
    out.push({ line: start + 1, code: body.join('\n') + '\n', notAProgram: mark ? mark[1]!.replace(/^\(|\)$/g, '') || 'marked' : null, section });
  }
  return out;
}

const RECORD = '\u001eREADME-LOG\u001e';

/**
 * The block with each `console.log(` call tagged with its line, so its output can be held to the
 * line's trailing `// ...` comment. Line numbers stay those of the block (the helper is appended).
 */
function instrument(code: string): string {
  const tagged = code
    .split('\n')
    .map((l, i) => l.replaceAll('console.log(', `__readmeLog(${i + 1}, `))
    .join('\n');
  return (
    tagged +
    `\nimport { format as __readmeFormat } from 'node:util';\n` +
    `function __readmeLog(line: number, ...a: unknown[]): void {\n` +
    `  process.stdout.write(${JSON.stringify(RECORD)} + JSON.stringify({ line, text: __readmeFormat(...a) }) + '\\n');\n}\n`
  );
}

/**
 * What a console.log line promises in its trailing comment: its output, word for word, or its
 * output followed by an explanation (`// -19 (ENODEV: not in the image)`, `// [ 0, 8192 ]: clipped`).
 * Lines without a trailing comment promise nothing.
 */
function promise(src: string): string | null {
  if (!src.includes('console.log(')) return null;
  const at = src.lastIndexOf('// ');
  if (at < 0 || at < src.indexOf('console.log(')) return null;
  return src.slice(at + 3).trim();
}

function keeps(promised: string, printed: string): boolean {
  // the first line, or all of it on one line (util.inspect breaks long arrays over several)
  for (const out of [printed.split('\n')[0]!, printed.replace(/\s+/g, ' ').trim()]) {
    if (promised === out) return true;
    if ([' (', ': '].some((sep) => promised.startsWith(out + sep))) return true;
  }
  return false;
}

/**
 * Runs `block` of the README in `pkgDir` (the file goes beside the README so the package's own
 * name and its dependencies resolve as they do for its tests) and checks its trailing comments.
 */
export function runReadmeBlock(pkgDir: string, block: ReadmeBlock, opts: { repoRoot: string; timeoutMs?: number }): ReadmeBlockRun {
  const file = join(pkgDir, `.readme-block-${block.line}.tmp.ts`);
  const cwd = mkdtempSync(join(tmpdir(), 'gki-readme-'));
  for (const d of ['boards', 'vectors']) symlinkSync(resolve(opts.repoRoot, d), join(cwd, d));
  writeFileSync(file, instrument(block.code));
  try {
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
    const r = spawnSync(process.execPath, ['--import', tsx, '--conditions=@gki/source', file], {
      cwd,
      encoding: 'utf8',
      env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' },
      timeout: opts.timeoutMs ?? 240_000,
    });
    const logs: { line: number; text: string }[] = [];
    for (const l of r.stdout.split('\n')) if (l.startsWith(RECORD)) logs.push(JSON.parse(l.slice(RECORD.length)) as { line: number; text: string });
    const src = block.code.split('\n');
    const mismatches: string[] = [];
    for (const { line, text } of logs) {
      const p = promise(src[line - 1] ?? '');
      if (p !== null && !keeps(p, text)) mismatches.push(`README line ${block.line + line}: printed ${JSON.stringify(text)}, its comment says ${JSON.stringify(p)}`);
    }
    return { status: r.status, stderr: r.stderr, logs, mismatches };
  } finally {
    rmSync(file, { force: true });
    rmSync(cwd, { recursive: true, force: true });
  }
}

/** The README of the package whose test file is `testUrl` (`import.meta.url` of a file in test/). */
export function packageReadme(testUrl: string): { dir: string; text: string } {
  const dir = dirname(dirname(new URL(testUrl).pathname));
  return { dir, text: readFileSync(join(dir, 'README.md'), 'utf8') };
}
