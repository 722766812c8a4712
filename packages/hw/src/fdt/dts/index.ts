/**
 * The DTS compiler: device-tree source in the syntax dtc accepts (with the C preprocessor
 * subset kernel trees use) to an FdtTree and a DTB identical to dtc's, and back to DTS.
 *
 *   const dtb = compileDts(readFileSync('board.dts', 'utf8'), { filename: 'board.dts', includeDirs: ['include'] });
 *   const { tree, warnings, labels } = compileDtsFile('arch/arm64/boot/dts/qcom/sdm845-mtp.dts', { includeDirs });
 *   const text = printDts(parseDtb(dtb));
 *
 * Errors are DtsError (file, line, column, reason); a tree the DTB format cannot hold is an
 * FdtError from the writer.
 */
import { writeDtb } from '../write.js';
import type { FdtTree } from '../types.js';
import { DtsError, type DtsSourcePos, type DtsWarning } from './error.js';
import { bytesToBinary, dirnameOf, joinPath, nodeFileSystem, normalizePath, textToBinary, type DtsFileSystem } from './files.js';
import { deleteNode, getNodeByLabel, resolveTree, toFdt, type LNode } from './livetree.js';
import { judgeMacroUses } from './interpreted.js';
import { DtsParser, scan } from './parser.js';
import { preprocess, type MissingHeader, type PreprocessResult } from './preprocess.js';

export { DtsError, type DtsSourcePos, type DtsWarning, formatPos } from './error.js';
export { memoryFileSystem, nodeFileSystem, type DtsFileSystem } from './files.js';
export { BUILTIN_DT_BINDINGS, PARTIAL_DT_BINDINGS } from './bindings.js';
export { INTERPRETED_PROPERTIES, isInterpretedProperty } from './interpreted.js';
export { printDts, type PrintDtsOptions } from './print.js';
export type { MissingHeader } from './preprocess.js';

export interface DtsCompileOptions {
  /** Name of the source, for messages and for resolving its `#include "..."` (default '<input>'). */
  readonly filename?: string;
  /** Include directories (cpp -I / dtc -i), searched in order. */
  readonly includeDirs?: readonly string[];
  /** Where files come from (default: the real file system). */
  readonly fs?: DtsFileSystem;
  /** Predefined macros (cpp -D). */
  readonly defines?: Readonly<Record<string, string>>;
  /** Run the C preprocessor (default true). With false, only dtc's own /include/ is honoured. */
  readonly cpp?: boolean;
  /** Offer the shipped dt-bindings headers for interrupts and GPIOs (default true). */
  readonly builtinBindings?: boolean;
  /**
   * Overlay sources (`/dts-v1/; /plugin/;`, the kernel's `.dtso` files) applied in order to the
   * compiled source, as `dtc -@` and `fdtoverlay` do: the kernel's composite boards
   * (`board-dtbs := base.dtb extra.dtbo` in its Makefiles). Each is a file path, preprocessed
   * like the source with its own directory first in the include path.
   */
  readonly overlays?: readonly string[];
}

export interface DtsCompileResult {
  readonly tree: FdtTree;
  /** `writeDtb(tree)`: the blob dtc writes for the same source. */
  readonly dtb: Uint8Array;
  readonly warnings: readonly DtsWarning[];
  /** Every file read (the source first). */
  readonly files: readonly string[];
  /** Each label of the final tree and the path of its node. */
  readonly labels: Readonly<Record<string, string>>;
  /**
   * Macros nobody defined that compiled to 0 (or "") where the project does not interpret the
   * value, one entry per use, in tree order; each also has a warning. `call`: used with an
   * argument list. (Defining each as 0 in a stand-in header gives cpp + dtc the same blob.)
   */
  readonly undefinedMacros: readonly (DtsSourcePos & { readonly name: string; readonly property: string; readonly call: boolean; readonly string: boolean })[];
  /**
   * `<dt-bindings/...>` headers that were included but not found. Their macros compile to 0
   * (with a warning) in properties the project does not read, and are errors elsewhere.
   */
  readonly missingHeaders: readonly MissingHeader[];
}

const MAX_OUTPUT = 64 * 1024 * 1024;

function sourceText(src: string | Uint8Array): string {
  return typeof src === 'string' ? textToBinary(src) : bytesToBinary(src);
}

function runPreprocessor(src: string, opts: DtsCompileOptions): PreprocessResult {
  return preprocess(src, {
    filename: opts.filename ?? '<input>',
    fs: opts.fs ?? nodeFileSystem,
    includeDirs: (opts.includeDirs ?? []).map(normalizePath),
    defines: opts.defines ?? {},
    cpp: opts.cpp !== false,
    builtinBindings: opts.builtinBindings !== false,
    maxOutput: MAX_OUTPUT,
  });
}

function missingList(pp: PreprocessResult): string {
  const one = (m: MissingHeader): string => `<${m.header}> (included at ${m.pos.file}:${m.pos.line}${m.partial ? ', shipped in part' : ''})`;
  const all = pp.missingHeaders;
  if (all.length <= 3) return all.map(one).join(', ');
  return `one of ${all.length} headers (${all.slice(0, 2).map(one).join(', ')}, ...)`;
}

function explainIdentifier(name: string, pp: PreprocessResult, prop: string | null | undefined): string {
  const base = `'${name}' is not a number, a &reference or an expression in parentheses`;
  if (pp.missingHeaders.length > 0) {
    const why = prop ? `; '${prop}' is a property this project reads, so it cannot stand in 0 for it` : '';
    return `${base}: no macro '${name}' is defined; it probably comes from ${missingList(pp)}, which was not found${why}: give the kernel's include/ directory in includeDirs`;
  }
  return `${base} (no macro '${name}' is defined)`;
}

/**
 * Compiles DTS source (a string, or the bytes of a file) to a tree and its DTB. Throws
 * DtsError with the file, line and column of the problem.
 */
export function parseDts(source: string | Uint8Array, opts: DtsCompileOptions = {}): DtsCompileResult {
  const fs = opts.fs ?? nodeFileSystem;
  const warnings: DtsWarning[] = [];
  const includeDirs = (opts.includeDirs ?? []).map(normalizePath);
  // the source and each overlay are preprocessed apart; their token offsets are kept apart by
  // a per-unit base, so a position (and the headers an undefined macro may come from) is found
  // from the offset alone, also after the overlays were merged into the base tree
  const units: { start: number; pp: PreprocessResult }[] = [];
  const unitAt = (at: number) => {
    let u = units[0]!;
    for (const x of units) if (x.start <= at) u = x;
    return u;
  };
  const pos = (at: number): DtsSourcePos => {
    const u = unitAt(at);
    return u.pp.map.pos(at - u.start);
  };
  const context = (pp: PreprocessResult, start: number) => ({
    pos: (at: number) => pp.map.pos(at - start),
    warnings,
    explainIdentifier: (name: string, prop?: string | null) => explainIdentifier(name, pp, prop),
    // only a macro a missing header may have defined, inside a property; judged once the tree is final
    tolerateIdentifier: (_name: string, prop: string | null) => pp.missingHeaders.length > 0 && prop !== null,
    readBinary(name: string, from: DtsSourcePos): Uint8Array | undefined {
      const dirs = name.startsWith('/') ? ['/'] : [dirnameOf(from.file), ...includeDirs];
      for (const d of dirs) {
        const b = fs.readFile(joinPath(d, name));
        if (b !== undefined) return b;
      }
      return undefined;
    },
  });
  const tokensOf = (pp: PreprocessResult) => {
    const start = units.length === 0 ? 0 : units[units.length - 1]!.start + units[units.length - 1]!.pp.text.length + 1;
    units.push({ start, pp });
    warnings.push(...pp.warnings);
    const ctx = context(pp, 0);
    const toks = scan(pp.text, ctx).map((t) => (start === 0 ? t : { ...t, at: t.at + start }));
    return { toks, ctx: context(pp, start) };
  };
  const pp = runPreprocessor(sourceText(source), opts);
  const main = tokensOf(pp);
  const info = new DtsParser(main.toks, main.ctx).parse();
  const files = [...pp.files];
  const missingHeaders = [...pp.missingHeaders];
  const unapplied: LNode[] = [];
  for (const ov of opts.overlays ?? []) {
    const bytes = fs.readFile(ov);
    if (bytes === undefined) throw new DtsError({ file: ov, line: 1, column: 1 }, `${ov}: no such file (an overlay)`);
    const opp = runPreprocessor(bytesToBinary(bytes), { ...opts, filename: ov, includeDirs: [dirnameOf(ov), ...(opts.includeDirs ?? [])] });
    const o = tokensOf(opp);
    unapplied.push(...new DtsParser(o.toks, o.ctx).applyOverlay(info.root));
    files.push(...opp.files);
    missingHeaders.push(...opp.missingHeaders);
  }
  resolveTree(info.root);
  for (const n of unapplied) deleteNode(n);
  const undefinedMacros: { file: string; line: number; column: number; name: string; property: string; call: boolean; string: boolean }[] = [];
  judgeMacroUses(info.root, (use, prop, reason) => {
    const upp = unitAt(use.at).pp;
    if (reason === null) throw new DtsError(pos(use.at), explainIdentifier(use.name, upp, prop));
    undefinedMacros.push({ ...pos(use.at), name: use.name, property: prop, call: use.call, string: use.string });
    warnings.push({
      ...pos(use.at),
      message: `'${use.name}' is not defined (it probably comes from ${missingList(upp)}, which was not found); ${reason}, so ${use.name} compiles to ${use.string ? '""' : '0'} there`,
    });
  });
  const tree = toFdt(info);
  const dtb = writeDtb(tree);
  return { tree, dtb, warnings, files, labels: labelsOf(info.root), missingHeaders, undefinedMacros };
}

function labelsOf(root: LNode): Record<string, string> {
  const out: Record<string, string> = {};
  const stack = [root];
  while (stack.length > 0) {
    const n = stack.pop()!;
    for (const l of n.labels) if (!l.deleted && getNodeByLabel(root, l.name) === n) out[l.name] = n.fullPath;
    for (const c of n.children) if (!c.deleted) stack.push(c);
  }
  return out;
}

/** Compiles DTS source to a DTB (see parseDts). */
export function compileDts(source: string | Uint8Array, opts: DtsCompileOptions = {}): Uint8Array {
  return parseDts(source, opts).dtb;
}

/** Reads and compiles a DTS file; its includes resolve relative to it. */
export function compileDtsFile(path: string, opts: Omit<DtsCompileOptions, 'filename'> = {}): DtsCompileResult {
  const fs = opts.fs ?? nodeFileSystem;
  const bytes = fs.readFile(path);
  if (bytes === undefined) throw new DtsError({ file: path, line: 1, column: 1 }, `${path}: no such file`);
  return parseDts(bytes, { ...opts, filename: path });
}

/** The preprocessed text (what `cpp -x assembler-with-cpp` would hand to dtc), as bytes. */
export function preprocessDts(source: string | Uint8Array, opts: DtsCompileOptions = {}): Uint8Array {
  const text = runPreprocessor(sourceText(source), opts).text;
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}
