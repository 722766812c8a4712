import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll } from 'vitest';

const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
  out: string[];
  err: string[];
}

/**
 * Runs `gki ARGS...` as a user would: a separate node process on the CLI's source (through
 * tsx, with the workspace's source condition, so no build is needed), in `cwd`.
 */
export function gki(args: readonly string[], cwd: string): CliRun {
  const r = spawnSync(process.execPath, ['--import', TSX, '--conditions=@gki/source', CLI, ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, GKI_DEBUG: '', FORCE_COLOR: '0' },
    timeout: 240_000,
  });
  const split = (s: string) => (s === '' ? [] : s.replace(/\n$/, '').split('\n'));
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, out: split(r.stdout), err: split(r.stderr) };
}

/** A temporary working directory, removed after the file's tests. */
export function workdir(prefix = 'gki-cli-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  afterAll(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

export function write(dir: string, name: string, text: string): string {
  writeFileSync(join(dir, name), text);
  return name;
}

export function read(dir: string, ...path: string[]): string {
  return readFileSync(join(dir, ...path), 'utf8');
}

/** Lines of a text file, without the final newline's empty line. */
export function fileLines(dir: string, ...path: string[]): string[] {
  const t = read(dir, ...path);
  return t === '' ? [] : t.replace(/\n$/, '').split('\n');
}

/**
 * Per-test time limit for tests that spawn the CLI several times: a spawn costs a node start-up
 * and a transpile (about 1 s, several on a loaded 2-core machine). A limit against hangs only.
 */
export const SPAWN_TIMEOUT = 300_000;

/** A JavaScript stack trace line, which the CLI must never print. */
export const STACK_LINE = /^\s+at .*\(?.*:\d+:\d+\)?$/m;

/**
 * Runs `gki ARGS...` with a reader that goes away at once (`gki ... | head -0`): the read end
 * of its stdout pipe is closed before the CLI writes anything. Resolves with its exit status
 * and what it wrote on stderr.
 */
export function gkiClosedStdout(args: readonly string[], cwd: string): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', TSX, '--conditions=@gki/source', CLI, ...args], {
      cwd,
      env: { ...process.env, GKI_DEBUG: '', FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stderr }));
  });
}
