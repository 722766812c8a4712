/**
 * The inputs of `gki boot`, `gki run` and `gki shell`: a board (a built-in board's name, a
 * device-tree source file or a DTB) and an image (a directory written by `gki compose`, or the
 * default image). Every problem is an InputError with one line naming the file (and, for DTS,
 * the line and column), so the CLI exits 1 without a stack trace.
 */
import { readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { Board, BUILTIN_BOARDS, builtinBoard, compileDtsFile, DtsError, FdtError, DEFAULT_BOARD_NAME, type DtsCompileResult } from '@gki/hw';
import type { KernelImage } from '@gki/kernel';
import { ImageDirError, readImageDir } from '../compose/image-dir.js';
import { InputError } from '../compose/inputs.js';
import { defaultImage } from '../image.js';

/** A board ready to boot, and where it came from. */
export interface LoadedBoard {
  readonly board: Board;
  /** The board's name (its root `model`, else its first root compatible, or the built-in name). */
  readonly name: string;
  /** 'built-in', or the file it was read from. */
  readonly source: string;
  /** 'builtin' | 'dts' | 'dtb'. */
  readonly kind: 'builtin' | 'dts' | 'dtb';
  /**
   * Non-fatal findings of the DTS compiler (file:line:col: message), with the uses of macros
   * from headers that were not found folded into one summary line.
   */
  readonly warnings: readonly string[];
  /** Every finding, one line each (what `--debug` prints). */
  readonly allWarnings: readonly string[];
}

/**
 * The compiler's findings for a person to read: each use of a macro from a header that was not
 * found (a trimmed kernel tree has dozens) is folded into one line naming the macros and the
 * number of uses, and the headers into another; everything else stays one line per finding.
 */
export function summarizeDtsWarnings(r: Pick<DtsCompileResult, 'warnings' | 'missingHeaders' | 'undefinedMacros'>): string[] {
  const at = (w: { file: string; line: number; column: number }) => `${w.file}:${w.line}:${w.column}`;
  const macroAt = new Set(r.undefinedMacros.map((u) => at(u)));
  const headerAt = new Set(r.missingHeaders.map((h) => at(h.pos)));
  const out: string[] = [];
  for (const w of r.warnings) if (!macroAt.has(at(w)) && !headerAt.has(at(w))) out.push(`${at(w)}: warning: ${w.message}`);
  if (r.missingHeaders.length > 0) {
    const names = [...new Set(r.missingHeaders.map((h) => h.header))];
    out.push(
      `warning: ${names.length} included header(s) not found (${names.slice(0, 4).map((n) => `<${n}>`).join(', ')}${names.length > 4 ? ', ...' : ''}); ` +
        'their macros read 0 where the project does not interpret the property, and are errors where it does',
    );
  }
  if (r.undefinedMacros.length > 0) {
    const names = [...new Set(r.undefinedMacros.map((u) => u.name))];
    out.push(
      `warning: ${r.undefinedMacros.length} use(s) of ${names.length} macro(s) from those headers read as 0 ` +
        `(${names.slice(0, 6).join(', ')}${names.length > 6 ? ', ...' : ''}); --debug lists each use`,
    );
  }
  return out;
}

/** The magic number a flattened device tree starts with. */
const FDT_MAGIC = [0xd0, 0x0d, 0xfe, 0xed];

function isDtb(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && FDT_MAGIC.every((b, i) => bytes[i] === b);
}

function fromDtb(dtb: Uint8Array, source: string): Board {
  try {
    return Board.fromDtb(dtb);
  } catch (e) {
    if (e instanceof FdtError) throw new InputError(`${source}: ${e.message}`);
    if (e instanceof RangeError) throw new InputError(`${source}: not a usable board: ${e.message}`);
    throw e;
  }
}

export interface LoadBoardOptions {
  /** Extra include directories for `#include` / `/include/` in a DTS (after the file's own directory). */
  readonly includeDirs?: readonly string[];
  /**
   * Overlay sources (`/dts-v1/; /plugin/;`, the kernel's `.dtso`) applied in order to a `.dts`
   * board, as the kernel's composite boards (`board-dtbs := base.dtb x.dtbo`) are built.
   */
  readonly overlays?: readonly string[];
}

/**
 * The board `arg` names: nothing for the default board (gki-virt); a built-in board's name; a
 * `.dts` file (compiled with the project's DTS compiler: includes resolve relative to the file,
 * then `includeDirs`, and the dt-bindings headers for interrupts and GPIO flags come with it);
 * or a `.dtb` (any other file is recognised by the DTB magic number, else read as DTS).
 */
export function loadBoard(arg: string | undefined, opts: LoadBoardOptions = {}): LoadedBoard {
  if (arg === undefined) arg = DEFAULT_BOARD_NAME;
  let isFile = false;
  try {
    const st = statSync(arg);
    if (st.isDirectory()) throw new InputError(`${arg}: is a directory, not a device tree (.dts or .dtb)`);
    isFile = true;
  } catch (e) {
    if (e instanceof InputError) throw e;
  }
  const overlays = opts.overlays ?? [];
  for (const ov of overlays) {
    try {
      if (!statSync(ov).isFile()) throw new InputError(`overlay ${ov}: not a file`);
    } catch (e) {
      if (e instanceof InputError) throw e;
      throw new InputError(`cannot read overlay ${ov}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  if (overlays.length > 0 && !isFile) throw new InputError(`--overlay needs a .dts board to apply to, not the built-in board ${arg}`);
  if (!isFile) {
    const b = builtinBoard(arg);
    if (b) {
      const board = fromDtb(b.dtb(), `built-in board ${b.name}`);
      return { board, name: b.name, source: 'built-in', kind: 'builtin', warnings: [], allWarnings: [] };
    }
    throw new InputError(`cannot read board ${arg}: no such file (ENOENT), and no built-in board of that name (built in: ${BUILTIN_BOARDS.map((x) => x.name).join(', ')})`);
  }
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(arg);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(`cannot read board ${arg}: ${code ?? (e as Error).message}`);
  }
  if (arg.endsWith('.dtb') || isDtb(bytes)) {
    if (overlays.length > 0) throw new InputError(`${arg}: --overlay applies overlay sources to a .dts board; for a .dtb, apply compiled overlays with fdtoverlay first`);
    const board = fromDtb(bytes, arg);
    return { board, name: board.name, source: arg, kind: 'dtb', warnings: [], allWarnings: [] };
  }
  let dtb: Uint8Array;
  let warnings: string[];
  let allWarnings: string[];
  try {
    const r = compileDtsFile(arg, { includeDirs: [dirname(arg), ...(opts.includeDirs ?? [])], overlays });
    dtb = r.dtb;
    allWarnings = r.warnings.map((w) => `${w.file}:${w.line}:${w.column}: warning: ${w.message}`);
    warnings = summarizeDtsWarnings(r);
  } catch (e) {
    if (e instanceof DtsError) throw new InputError(`${e.file}:${e.line}:${e.column}: ${e.reason}`);
    if (e instanceof FdtError) throw new InputError(`${arg}: ${e.message}`);
    throw e;
  }
  const board = fromDtb(dtb, arg);
  return { board, name: board.name, source: arg, kind: 'dts', warnings, allWarnings };
}

/** An image ready to boot, and what to call it. */
export interface LoadedImage {
  readonly image: KernelImage;
  /** The directory, or 'the default image'. */
  readonly label: string;
  readonly dir?: string;
}

/** The image in `dir` (checked: a malformed one is refused with the file and line), or the default image. */
export function loadImage(dir: string | undefined): LoadedImage {
  if (dir === undefined) return { image: defaultImage(), label: 'the default image' };
  try {
    return { image: readImageDir(dir).image, label: dir, dir };
  } catch (e) {
    if (e instanceof ImageDirError) throw new InputError(`${dir}: ${e.message}`);
    throw e;
  }
}
