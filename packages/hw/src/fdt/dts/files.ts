/**
 * How the DTS compiler reads files: an interface, so that sources can come from the disk, from
 * memory (tests, a browser) or from anything else. Paths are POSIX-style strings; the compiler
 * only joins and normalises them.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';

export interface DtsFileSystem {
  /** The file's bytes, or undefined when there is no such (regular) file. */
  readFile(path: string): Uint8Array | undefined;
}

/** The real file system (Node). */
export const nodeFileSystem: DtsFileSystem = {
  readFile(path: string): Uint8Array | undefined {
    try {
      if (!existsSync(path) || !statSync(path).isFile()) return undefined;
      return new Uint8Array(readFileSync(path));
    } catch {
      return undefined;
    }
  },
};

/** Files held in memory: `{ 'board.dts': '/dts-v1/; ...', 'inc/soc.dtsi': ... }` (strings are UTF-8 encoded). */
export function memoryFileSystem(files: Readonly<Record<string, string | Uint8Array>>): DtsFileSystem {
  const map = new Map<string, Uint8Array>();
  for (const [k, v] of Object.entries(files)) map.set(normalizePath(k), typeof v === 'string' ? new TextEncoder().encode(v) : v);
  return { readFile: (p) => map.get(normalizePath(p)) };
}

/** Collapses '.', '..' and repeated slashes ('a/./b/../c' -> 'a/c'); keeps a leading '/'. */
export function normalizePath(p: string): string {
  const abs = p.startsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!abs) out.push('..');
      continue;
    }
    out.push(part);
  }
  const s = out.join('/');
  return abs ? '/' + s : s === '' ? '.' : s;
}

export function dirnameOf(p: string): string {
  const i = p.lastIndexOf('/');
  if (i < 0) return '.';
  if (i === 0) return '/';
  return p.slice(0, i);
}

export function joinPath(dir: string, rel: string): string {
  if (rel.startsWith('/')) return normalizePath(rel);
  return normalizePath(dir === '.' ? rel : `${dir}/${rel}`);
}

/** Bytes as a "byte string": one UTF-16 code unit (0..255) per byte. */
export function bytesToBinary(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
}

/** A JS string given as source text, as the UTF-8 byte string the compiler works on. */
export function textToBinary(s: string): string {
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(s)) return s;
  return bytesToBinary(new TextEncoder().encode(s));
}
