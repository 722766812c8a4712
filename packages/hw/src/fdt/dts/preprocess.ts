/**
 * The C-preprocessor subset kernel device trees need (the kernel runs `cpp -x
 * assembler-with-cpp` over them before dtc): `#include "..."` / `<...>`, object-like and
 * function-like `#define` (with `#`, `##` and `__VA_ARGS__`), `#undef`,
 * `#if/#ifdef/#ifndef/#elif/#else/#endif` with C integer expressions and `defined`,
 * `#error`, `#warning`, `#line` and line markers. As in assembler mode, a line starting with
 * `#` that is not a directive (`#address-cells = <2>;`) is ordinary text. dtc's own
 * `/include/ "file"` is handled here too, so included files may use macros.
 *
 * Files are handled as byte strings (one char per byte). The output text comes with a map
 * from every output offset back to a file, line and column, so the DTS parser can report
 * errors where the text was written (for macro output: where the macro was used).
 */
import { BUILTIN_DT_BINDINGS, PARTIAL_DT_BINDINGS } from './bindings.js';
import { DtsError, type DtsSourcePos, type DtsWarning } from './error.js';
import { bytesToBinary, dirnameOf, joinPath, normalizePath, textToBinary, type DtsFileSystem } from './files.js';

/** Token kinds of the preprocessor. */
const ID = 0;
const NUM = 1;
const STR = 2;
const CHR = 3;
const PUNCT = 4;
const OTHER = 5;

interface PPTok {
  k: number;
  t: string;
  /** Whitespace or a comment before it on the same logical line. */
  ws: boolean;
  /** First token of a logical line. */
  bol: boolean;
  /** Source file index and offset (in the file's spliced text) this token stands for. */
  f: number;
  s: number;
  /** Macro names not to expand again in this token (Prosser's hide set). */
  hs: readonly string[] | null;
  /** Produced by a macro body (not copied from the source or from an argument). */
  m: boolean;
}

interface Macro {
  readonly name: string;
  /** null for an object-like macro. */
  readonly params: readonly string[] | null;
  readonly variadic: boolean;
  readonly body: readonly PPTok[];
}

/** One source file: its spliced text and what is needed to map offsets back to lines. */
export class DtsSourceFile {
  /** Text with backslash-newlines removed (a byte string). */
  readonly text: string;
  private readonly lineStarts: number[] = [0];
  /** Spliced offsets at which a backslash-newline was removed, and the total removed up to each. */
  private readonly spliceAt: number[] = [];
  private readonly spliceTotal: number[] = [];
  /** `#line` / line markers: from original offset `at`, line numbers restart at `line` in `name`. */
  private readonly marks: { at: number; line: number; name: string }[] = [];

  constructor(
    readonly name: string,
    original: string,
  ) {
    for (let i = 0; i < original.length; i++) if (original.charCodeAt(i) === 10) this.lineStarts.push(i + 1);
    let out = '';
    let last = 0;
    let removed = 0;
    for (let i = 0; i < original.length; i++) {
      if (original.charCodeAt(i) !== 92) continue; // '\'
      let j = i + 1;
      if (original.charCodeAt(j) === 13) j++;
      if (original.charCodeAt(j) !== 10) continue;
      out += original.slice(last, i);
      removed += j + 1 - i;
      this.spliceAt.push(out.length);
      this.spliceTotal.push(removed);
      last = j + 1;
      i = j;
    }
    this.text = last === 0 ? original : out + original.slice(last);
  }

  private original(off: number): number {
    let lo = 0;
    let hi = this.spliceAt.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.spliceAt[mid]! <= off) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? off : off + this.spliceTotal[lo - 1]!;
  }

  private lineIndex(orig: number): number {
    let lo = 0;
    let hi = this.lineStarts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.lineStarts[mid]! <= orig) lo = mid + 1;
      else hi = mid;
    }
    return lo - 1;
  }

  /** Records a `#line N "name"` directive found on the line that contains spliced offset `off`. */
  addLineMark(off: number, line: number, name: string | undefined): void {
    const li = this.lineIndex(this.original(off));
    const at = this.lineStarts[li + 1] ?? Number.MAX_SAFE_INTEGER;
    const prev = this.marks[this.marks.length - 1];
    this.marks.push({ at, line, name: name ?? prev?.name ?? this.name });
  }

  /** File, 1-based line and column of a spliced offset. */
  pos(off: number): DtsSourcePos {
    const orig = this.original(Math.max(0, Math.min(off, this.text.length)));
    const li = this.lineIndex(orig);
    const column = orig - this.lineStarts[li]! + 1;
    for (let i = this.marks.length - 1; i >= 0; i--) {
      const m = this.marks[i]!;
      if (m.at <= orig) return { file: m.name, line: m.line + (li - this.lineIndex(m.at)), column };
    }
    return { file: this.name, line: li + 1, column };
  }
}

const DIRECTIVES = new Set([
  'define', 'undef', 'include', 'include_next', 'if', 'ifdef', 'ifndef', 'elif', 'else', 'endif',
  'line', 'error', 'warning', 'pragma', 'ident', 'elifdef', 'elifndef',
]);
const CONDITIONALS = new Set(['if', 'ifdef', 'ifndef', 'elif', 'else', 'endif', 'elifdef', 'elifndef']);
const MULTI_PUNCT = ['##', '<<', '>>', '<=', '>=', '==', '!=', '&&', '||'];

function isIdStart(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}
function isIdChar(c: number): boolean {
  return isIdStart(c) || (c >= 48 && c <= 57);
}
function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** Splits a file's spliced text into preprocessing tokens. Never throws. */
function lexFile(text: string, f: number): PPTok[] {
  const out: PPTok[] = [];
  const n = text.length;
  let i = 0;
  let ws = false;
  let bol = true;
  const push = (k: number, start: number, end: number): void => {
    out.push({ k, t: text.slice(start, end), ws, bol, f, s: start, hs: null, m: false });
    ws = false;
    bol = false;
  };
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 10) {
      bol = true;
      ws = false;
      i++;
      continue;
    }
    if (c === 32 || c === 9 || c === 13 || c === 11 || c === 12) {
      ws = true;
      i++;
      continue;
    }
    if (c === 47 && text.charCodeAt(i + 1) === 42) {
      // block comment: one space, even across lines
      const end = text.indexOf('*/', i + 2);
      if (end < 0) {
        // left for the DTS scanner to report where it starts
        push(OTHER, i, i + 2);
        i = n;
        continue;
      }
      i = end + 2;
      ws = true;
      continue;
    }
    if (c === 47 && text.charCodeAt(i + 1) === 47) {
      const end = text.indexOf('\n', i);
      i = end < 0 ? n : end;
      ws = true;
      continue;
    }
    const start = i;
    if (isIdStart(c)) {
      i++;
      while (i < n && isIdChar(text.charCodeAt(i))) i++;
      push(ID, start, i);
      continue;
    }
    if (isDigit(c) || (c === 46 && isDigit(text.charCodeAt(i + 1)))) {
      i++;
      for (;;) {
        const d = text.charCodeAt(i);
        if ((d === 43 || d === 45) && /[eEpP]/.test(text[i - 1]!)) i++;
        else if (isIdChar(d) || d === 46) i++;
        else break;
      }
      push(NUM, start, i);
      continue;
    }
    if (c === 34 || c === 39) {
      // a string or character literal, ending on the same line; otherwise a lone quote
      let j = i + 1;
      let ok = false;
      while (j < n) {
        const d = text.charCodeAt(j);
        if (d === 10) break;
        if (d === 92) {
          j += 2;
          continue;
        }
        if (d === c) {
          ok = true;
          break;
        }
        j++;
      }
      if (ok) {
        i = j + 1;
        push(c === 34 ? STR : CHR, start, i);
      } else {
        i++;
        push(OTHER, start, i);
      }
      continue;
    }
    const two = text.slice(i, i + 2);
    if (MULTI_PUNCT.includes(two)) {
      i += 2;
      push(PUNCT, start, i);
      continue;
    }
    i++;
    push(c < 128 ? PUNCT : OTHER, start, i);
  }
  return out;
}

function isP(t: PPTok | undefined, p: string): boolean {
  return t !== undefined && t.k === PUNCT && t.t === p;
}

function copyTok(t: PPTok): PPTok {
  return { k: t.k, t: t.t, ws: t.ws, bol: t.bol, f: t.f, s: t.s, hs: t.hs, m: t.m };
}

function classify(text: string): number {
  if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(text)) return ID;
  if (/^\.?[0-9][A-Za-z0-9_.]*$/.test(text)) return NUM;
  if (/^"([^"\\\n]|\\.)*"$/.test(text)) return STR;
  if (text.length <= 2 && /^[!-/:-@[-`{-~]+$/.test(text)) return PUNCT;
  return OTHER;
}

/** Pairs of characters that would lex as one token if printed side by side. */
const GLUE = new Set(['<<', '>>', '<=', '>=', '==', '!=', '&&', '||', '++', '--', '+=', '-=', '/*', '//', '*/', '##', '->', '|=', '&=', '^=']);
function wouldGlue(a: string, b: string): boolean {
  const x = a.charCodeAt(a.length - 1);
  const y = b.charCodeAt(0);
  if ((isIdChar(x) || x === 46) && (isIdChar(y) || y === 46)) return true;
  return GLUE.has(a[a.length - 1]! + b[0]!);
}

/** A `<dt-bindings/...>` header that was included but found nowhere (or only in part, see PARTIAL_DT_BINDINGS). */
export interface MissingHeader {
  readonly header: string;
  readonly pos: DtsSourcePos;
  /** The compiler ships part of it (some of its macros are defined). */
  readonly partial?: boolean;
}

export interface PreprocessOptions {
  /** Name of the top-level source (for messages and for resolving its `#include "..."`). */
  readonly filename: string;
  readonly fs: DtsFileSystem;
  /** Directories searched for `#include <...>` and, after the including file's own directory, `#include "..."`. */
  readonly includeDirs: readonly string[];
  /** Predefined macros (`-D NAME=VALUE`); `__DTS__` is always defined, as the kernel's build does. */
  readonly defines: Readonly<Record<string, string>>;
  /** Run the C preprocessor; false handles only dtc's `/include/` and line markers. */
  readonly cpp: boolean;
  /** Offer the shipped dt-bindings headers (after includeDirs). */
  readonly builtinBindings: boolean;
  /** Refuse to produce more output than this (bytes): a guard against runaway macros. */
  readonly maxOutput: number;
}

/** Where output offsets come from: runs of output text starting at `out`. */
export class DtsSourceMap {
  readonly out: number[] = [];
  readonly file: number[] = [];
  readonly src: number[] = [];
  readonly len: number[] = [];
  /** 1 when the run is a source token copied verbatim (so offsets inside it map exactly). */
  readonly exact: number[] = [];

  constructor(readonly files: readonly DtsSourceFile[]) {}

  add(out: number, file: number, src: number, len: number, exact: boolean): void {
    this.out.push(out);
    this.file.push(file);
    this.src.push(src);
    this.len.push(len);
    this.exact.push(exact ? 1 : 0);
  }

  /** The source position of output offset `off`. */
  pos(off: number): DtsSourcePos {
    if (this.out.length === 0) return { file: this.files[0]?.name ?? '<input>', line: 1, column: 1 };
    let lo = 0;
    let hi = this.out.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.out[mid]! <= off) lo = mid + 1;
      else hi = mid;
    }
    const i = Math.max(0, lo - 1);
    const f = this.files[this.file[i]!]!;
    const delta = off - this.out[i]!;
    if (this.exact[i] && delta >= 0) return f.pos(this.src[i]! + Math.min(delta, this.len[i]!));
    return f.pos(this.src[i]!);
  }
}

export interface PreprocessResult {
  /** The preprocessed text (a byte string). */
  readonly text: string;
  readonly map: DtsSourceMap;
  /** Every file read, in the order first read (the top-level source first). */
  readonly files: readonly string[];
  readonly missingHeaders: readonly MissingHeader[];
  readonly warnings: readonly DtsWarning[];
  /** Macros defined at the end (name -> replacement text), for messages. */
  readonly macros: ReadonlyMap<string, string>;
}

const MAX_INCLUDE_DEPTH = 64;

/** The preprocessor's state for one compilation. */
class Preprocessor {
  private readonly files: DtsSourceFile[] = [];
  private readonly macros = new Map<string, Macro>();
  private readonly missing: MissingHeader[] = [];
  private readonly warnings: DtsWarning[] = [];
  private readonly map: DtsSourceMap;
  private out = '';
  private lastOut: PPTok | null = null;
  private depth = 0;
  /** Nesting of argument pre-expansion (a macro call inside a macro argument inside ...). */
  private argDepth = 0;

  constructor(private readonly opts: PreprocessOptions) {
    this.map = new DtsSourceMap(this.files);
    if (opts.cpp) {
      this.defineText('__DTS__', '1');
      for (const [k, v] of Object.entries(opts.defines)) this.defineText(k, v);
    }
  }

  run(source: string): PreprocessResult {
    this.processFile(normalizeName(this.opts.filename), source, null);
    const macros = new Map<string, string>();
    for (const [k, m] of this.macros) macros.set(k, m.body.map((t) => t.t).join(' '));
    return {
      text: this.out,
      map: this.map,
      files: this.files.map((f) => f.name),
      missingHeaders: this.missing,
      warnings: this.warnings,
      macros,
    };
  }

  private error(t: PPTok | undefined, msg: string, fallbackFile = 0): never {
    const f = this.files[t?.f ?? fallbackFile];
    throw new DtsError(f ? f.pos(t?.s ?? 0) : { file: this.opts.filename, line: 1, column: 1 }, msg);
  }

  private warn(t: PPTok, msg: string): void {
    this.warnings.push({ ...this.files[t.f]!.pos(t.s), message: msg });
  }

  private defineText(name: string, value: string): void {
    const toks = lexFile(textToBinary(value), -1).map((t) => ({ ...t, bol: false, m: true, f: 0, s: 0 }));
    if (toks[0]) toks[0].ws = false;
    this.macros.set(name, { name, params: null, variadic: false, body: toks });
  }

  private processFile(name: string, text: string, from: PPTok | null): void {
    if (this.depth >= MAX_INCLUDE_DEPTH) this.error(from ?? undefined, `#include nested too deeply (more than ${MAX_INCLUDE_DEPTH} levels)`);
    this.depth++;
    const fi = this.files.length;
    const file = new DtsSourceFile(name, text);
    this.files.push(file);
    const toks = lexFile(file.text, fi);
    const n = toks.length;
    const lineEnd = (i: number): number => {
      let j = i + 1;
      while (j < n && !toks[j]!.bol) j++;
      return j;
    };
    /** Open conditionals: is this branch live, was a branch taken, was #else seen, was the enclosing region live. */
    const conds: { live: boolean; taken: boolean; sawElse: boolean; outer: boolean; at: PPTok }[] = [];
    const live = (): boolean => conds.length === 0 || conds[conds.length - 1]!.live;
    let pending: PPTok[] = [];
    const flush = (): void => {
      if (pending.length === 0) return;
      const toEmit = this.opts.cpp ? this.expand(pending) : pending;
      pending = [];
      for (const t of toEmit) this.emit(t);
    };

    let i = 0;
    while (i < n) {
      const t = toks[i]!;
      if (t.bol && isP(t, '#')) {
        const end = lineEnd(i);
        const nameTok = i + 1 < end ? toks[i + 1]! : undefined;
        const dname = nameTok?.k === ID ? nameTok.t : nameTok?.k === NUM ? '#line' : '';
        const args = toks.slice(i + 2, end);
        if (nameTok === undefined) {
          i = end; // the null directive
          continue;
        }
        if (this.opts.cpp && CONDITIONALS.has(dname)) {
          this.conditional(dname, nameTok, args, conds, live);
          i = end;
          continue;
        }
        if (!live()) {
          i = end;
          continue;
        }
        if (dname === '#line' || dname === 'line' || (this.opts.cpp && DIRECTIVES.has(dname))) {
          flush();
          this.directive(dname, nameTok, dname === '#line' && nameTok.k === NUM ? toks.slice(i + 1, end) : args, file, fi);
          i = end;
          continue;
        }
        // not a directive (e.g. '#address-cells = <2>;'): ordinary text
      }
      if (!live()) {
        i = lineEnd(i);
        continue;
      }
      // dtc's /include/ "file"
      if (isP(t, '/') && toks[i + 1]?.t === 'include' && !toks[i + 1]!.ws && isP(toks[i + 2], '/') && !toks[i + 2]!.ws && toks[i + 3]?.k === STR) {
        flush();
        const strTok = toks[i + 3]!;
        this.include(unquote(strTok.t), true, strTok, fi, false);
        i += 4;
        continue;
      }
      pending.push(t);
      i++;
    }
    if (conds.length > 0) this.error(conds[conds.length - 1]!.at, `unterminated #${conds[conds.length - 1]!.at.t}`);
    flush();
    this.depth--;
  }

  private conditional(
    dname: string,
    nameTok: PPTok,
    args: PPTok[],
    conds: { live: boolean; taken: boolean; sawElse: boolean; outer: boolean; at: PPTok }[],
    live: () => boolean,
  ): void {
    const top = conds[conds.length - 1];
    switch (dname) {
      case 'if':
      case 'ifdef':
      case 'ifndef': {
        const outer = live();
        let v = false;
        if (outer) {
          if (dname === 'if') v = this.evalIf(nameTok, args);
          else {
            const id = args[0];
            if (id?.k !== ID) this.error(nameTok, `#${dname} expects a macro name`);
            v = this.macros.has(id.t) === (dname === 'ifdef');
          }
        }
        conds.push({ live: outer && v, taken: v, sawElse: false, outer, at: nameTok });
        return;
      }
      case 'elif':
      case 'elifdef':
      case 'elifndef': {
        if (!top) this.error(nameTok, `#${dname} without #if`);
        if (top.sawElse) this.error(nameTok, `#${dname} after #else`);
        if (!top.outer || top.taken) {
          top.live = false;
          return;
        }
        let v: boolean;
        if (dname === 'elif') v = this.evalIf(nameTok, args);
        else {
          const id = args[0];
          if (id?.k !== ID) this.error(nameTok, `#${dname} expects a macro name`);
          v = this.macros.has(id.t) === (dname === 'elifdef');
        }
        top.live = v;
        top.taken = v;
        return;
      }
      case 'else':
        if (!top) this.error(nameTok, '#else without #if');
        if (top.sawElse) this.error(nameTok, '#else after #else');
        top.sawElse = true;
        top.live = top.outer && !top.taken;
        top.taken = true;
        return;
      case 'endif':
        if (!top) this.error(nameTok, '#endif without #if');
        conds.pop();
        return;
    }
  }

  private directive(dname: string, nameTok: PPTok, args: PPTok[], file: DtsSourceFile, fi: number): void {
    switch (dname) {
      case 'define':
        this.define(nameTok, args);
        return;
      case 'undef': {
        const id = args[0];
        if (id?.k !== ID) this.error(nameTok, '#undef expects a macro name');
        this.macros.delete(id.t);
        return;
      }
      case 'include':
      case 'include_next': {
        let a = args;
        if (a.length > 0 && a[0]!.k !== STR && !isP(a[0], '<')) a = this.expand(a.map(copyTok));
        if (a[0]?.k === STR) {
          this.include(unquote(a[0].t), true, a[0], fi, dname === 'include_next');
          return;
        }
        if (isP(a[0], '<')) {
          let j = 1;
          let name = '';
          for (; j < a.length && !isP(a[j], '>'); j++) name += (a[j]!.ws && name !== '' ? ' ' : '') + a[j]!.t;
          if (j >= a.length) this.error(a[0], `missing terminating '>' in #include`);
          this.include(name, false, a[0], fi, dname === 'include_next');
          return;
        }
        this.error(nameTok, '#include expects "FILENAME" or <FILENAME>');
        return;
      }
      case '#line':
      case 'line': {
        const numTok = dname === '#line' && nameTok.k === NUM ? nameTok : args[0];
        const rest = dname === '#line' && nameTok.k === NUM ? args.slice(1) : args.slice(1);
        if (numTok?.k !== NUM || !/^[0-9]+$/.test(numTok.t)) this.error(nameTok, `#line expects a line number`);
        const nameArg = rest[0]?.k === STR ? unquote(rest[0].t) : undefined;
        file.addLineMark(nameTok.s, Number(numTok.t), nameArg);
        return;
      }
      case 'error':
        this.error(nameTok, `#error ${args.map((t) => t.t).join(' ')}`.trim());
        return;
      case 'warning':
        this.warn(nameTok, `#warning ${args.map((t) => t.t).join(' ')}`.trim());
        return;
      default:
        return; // #pragma, #ident: nothing to do
    }
  }

  private define(nameTok: PPTok, args: PPTok[]): void {
    const id = args[0];
    if (id?.k !== ID) this.error(nameTok, 'macro names must be identifiers');
    if (id.t === 'defined') this.error(id, '"defined" cannot be used as a macro name');
    let params: string[] | null = null;
    let variadic = false;
    let b = 1;
    if (isP(args[1], '(') && !args[1]!.ws) {
      params = [];
      b = 2;
      for (;;) {
        const p = args[b];
        if (p === undefined) this.error(id, `missing ')' in the parameter list of macro "${id.t}"`);
        if (isP(p, ')')) {
          b++;
          break;
        }
        if (isP(p, '.') && isP(args[b + 1], '.') && isP(args[b + 2], '.')) {
          variadic = true;
          params.push('__VA_ARGS__');
          b += 3;
          if (!isP(args[b], ')')) this.error(p, `'...' must end the parameter list of macro "${id.t}"`);
          continue;
        }
        if (p.k !== ID) this.error(p, `bad parameter '${p.t}' in macro "${id.t}"`);
        if (params.includes(p.t)) this.error(p, `duplicate parameter '${p.t}' in macro "${id.t}"`);
        params.push(p.t);
        b++;
        // GNU named variadic parameter (`x...`): the last one, standing for __VA_ARGS__
        if (isP(args[b], '.') && isP(args[b + 1], '.') && isP(args[b + 2], '.')) {
          variadic = true;
          b += 3;
          if (!isP(args[b], ')')) this.error(p, `'${p.t}...' must end the parameter list of macro "${id.t}"`);
          continue;
        }
        if (isP(args[b], ',')) b++;
        else if (!isP(args[b], ')')) this.error(args[b] ?? p, `expected ',' or ')' in the parameter list of macro "${id.t}"`);
      }
    }
    const body = args.slice(b).map((t, k) => ({ ...t, bol: false, ws: k === 0 ? false : t.ws, hs: null, m: true }));
    if (body.length > 0 && (isP(body[0], '##') || isP(body[body.length - 1], '##')))
      this.error(body[0], `'##' cannot appear at either end of macro "${id.t}"`);
    if (params)
      for (let k = 0; k < body.length; k++)
        if (isP(body[k], '#') && !(body[k + 1]?.k === ID && params.includes(body[k + 1]!.t)))
          this.error(body[k], `'#' is not followed by a macro parameter in macro "${id.t}"`);
    this.macros.set(id.t, { name: id.t, params, variadic, body });
  }

  private include(name: string, quoted: boolean, at: PPTok, fi: number, next: boolean): void {
    const here = this.files[fi]!.name;
    const dirs: string[] = [];
    if (quoted && !next) dirs.push(dirnameOf(here));
    for (const d of this.opts.includeDirs) if (!dirs.includes(d)) dirs.push(d);
    for (const d of dirs) {
      const path = name.startsWith('/') ? normalizePath(name) : joinPath(d, name);
      if (next && path === here) continue;
      const bytes = this.opts.fs.readFile(path);
      if (bytes !== undefined) {
        this.processFile(path, bytesToBinary(bytes), at);
        return;
      }
      if (name.startsWith('/')) break;
    }
    const builtin = this.opts.builtinBindings ? BUILTIN_DT_BINDINGS[normalizePath(name)] : undefined;
    if (builtin !== undefined) {
      if (PARTIAL_DT_BINDINGS.has(normalizePath(name))) this.missing.push({ header: normalizePath(name), pos: this.files[fi]!.pos(at.s), partial: true });
      this.processFile(`<builtin>/${normalizePath(name)}`, builtin, at);
      return;
    }
    // `#include "dt-bindings/..."` (a few i.MX and Rockchip boards write it so) counts too
    if (normalizePath(name).startsWith('dt-bindings/')) {
      const pos = this.files[fi]!.pos(at.s);
      this.missing.push({ header: name, pos });
      this.warnings.push({ ...pos, message: `<${name}> not found; its macros read 0 where the project does not interpret them, and are errors elsewhere` });
      return;
    }
    const searched = dirs.length > 0 ? ` (searched: ${dirs.join(', ')})` : '';
    this.error(at, `${name}: no such file${searched}`);
  }

  // ------------------------------------------------------------------ output

  private emit(t: PPTok): void {
    let sep = '';
    const prev = this.lastOut;
    if (prev !== null) {
      if (t.bol && !t.m) sep = '\n';
      else if (t.ws) sep = ' ';
      else if ((prev.m || t.m) && wouldGlue(prev.t, t.t)) sep = ' ';
    }
    if (this.out.length + sep.length + t.t.length > this.opts.maxOutput)
      this.error(t, `preprocessed output exceeds ${this.opts.maxOutput} bytes (runaway macro expansion?)`);
    this.out += sep;
    this.map.add(this.out.length, t.f, t.s, t.t.length, !t.m);
    this.out += t.t;
    this.lastOut = t;
  }

  // ------------------------------------------------------------------ macro expansion

  /** Expands every macro in `input` (Prosser's algorithm, with hide sets). */
  private expand(input: PPTok[]): PPTok[] {
    const out: PPTok[] = [];
    const st: PPTok[] = [];
    for (let i = input.length - 1; i >= 0; i--) st.push(input[i]!);
    let budget = this.opts.maxOutput;
    while (st.length > 0) {
      const t = st.pop()!;
      if (t.k !== ID) {
        out.push(t);
        continue;
      }
      const m = this.macros.get(t.t);
      if (m === undefined || (t.hs !== null && t.hs.includes(t.t))) {
        out.push(t);
        continue;
      }
      let res: PPTok[];
      if (m.params === null) {
        res = this.subst(m, null, addHide(t.hs, t.t), t);
      } else {
        if (!isP(st[st.length - 1], '(')) {
          out.push(t);
          continue;
        }
        st.pop();
        const args: PPTok[][] = [[]];
        let depth = 0;
        let rparen: PPTok | undefined;
        while (st.length > 0) {
          const a = st.pop()!;
          if (isP(a, '(')) depth++;
          else if (isP(a, ')')) {
            if (depth === 0) {
              rparen = a;
              break;
            }
            depth--;
          } else if (isP(a, ',') && depth === 0 && !(m.variadic && args.length === m.params.length)) {
            args.push([]);
            continue;
          }
          args[args.length - 1]!.push(a);
        }
        if (rparen === undefined) this.error(t, `unterminated argument list invoking macro "${t.t}"`);
        if (m.params.length === 0 && args.length === 1 && args[0]!.length === 0) args.pop();
        if (m.variadic && args.length === m.params.length - 1) args.push([]);
        if (args.length !== m.params.length)
          this.error(t, `macro "${t.t}" takes ${m.params.length} argument(s), but ${args.length} given`);
        res = this.subst(m, args, addHide(intersectHide(t.hs, rparen.hs), t.t), t);
      }
      budget -= res.length;
      if (budget < 0) this.error(t, `macro expansion too large (runaway recursion in "${t.t}"?)`);
      for (let i = res.length - 1; i >= 0; i--) st.push(res[i]!);
    }
    return out;
  }

  /** Substitutes the arguments into the body of `m` as invoked at `inv`; every token gets hide set `hs`. */
  private subst(m: Macro, args: PPTok[][] | null, hs: readonly string[], inv: PPTok): PPTok[] {
    const os: PPTok[] = [];
    const body = m.body;
    const param = (t: PPTok | undefined): number => (args && t && t.k === ID ? m.params!.indexOf(t.t) : -1);
    const fromBody = (t: PPTok): PPTok => ({ ...t, f: inv.f, s: inv.s, m: true });
    const paste = (rhs: PPTok): void => {
      const lhs = os.pop();
      if (lhs === undefined) {
        os.push(rhs);
        return;
      }
      const text = lhs.t + rhs.t;
      os.push({ ...lhs, t: text, k: classify(text) });
    };
    for (let i = 0; i < body.length; i++) {
      const b = body[i]!;
      if (args && isP(b, '#') && param(body[i + 1]) >= 0) {
        os.push({ ...fromBody(b), k: STR, t: stringize(args[param(body[i + 1])]!) });
        i++;
        continue;
      }
      if (isP(b, '##') && i + 1 < body.length) {
        const nb = body[++i]!;
        const pi = param(nb);
        if (pi >= 0) {
          const a = args![pi]!;
          if (a.length > 0) {
            paste(copyTok(a[0]!));
            for (let k = 1; k < a.length; k++) os.push(copyTok(a[k]!));
          }
        } else paste(fromBody(nb));
        continue;
      }
      const pi = param(b);
      if (pi >= 0) {
        const a = args![pi]!.map(copyTok);
        if (a.length > 0) a[0]!.ws = b.ws;
        if (isP(body[i + 1], '##')) os.push(...a);
        else {
          if (++this.argDepth > 200) this.error(inv, `macro arguments nested too deeply in "${m.name}"`);
          os.push(...this.expand(a));
          this.argDepth--;
        }
        continue;
      }
      os.push(fromBody(b));
    }
    for (const t of os) t.hs = unionHide(t.hs, hs);
    if (os.length > 0) {
      os[0] = { ...os[0]!, ws: inv.ws, bol: inv.bol && !inv.m };
    }
    return os;
  }

  // ------------------------------------------------------------------ #if

  private evalIf(at: PPTok, args: PPTok[]): boolean {
    // 'defined X' and 'defined(X)' first, then macros, then leftover identifiers are 0
    const pre: PPTok[] = [];
    for (let i = 0; i < args.length; i++) {
      const t = args[i]!;
      if (t.k === ID && t.t === 'defined') {
        let id = args[i + 1];
        let skip = 1;
        if (isP(id, '(')) {
          id = args[i + 2];
          if (!isP(args[i + 3], ')')) this.error(t, "missing ')' after \"defined\"");
          skip = 3;
        }
        if (id?.k !== ID) this.error(t, '"defined" expects a macro name');
        pre.push({ ...t, k: NUM, t: this.macros.has(id.t) ? '1' : '0' });
        i += skip;
        continue;
      }
      pre.push(copyTok(t));
    }
    const toks = this.expand(pre).map((t) => (t.k === ID ? { ...t, k: NUM, t: '0' } : t));
    if (toks.length === 0) this.error(at, '#if with no expression');
    const ev = new IfExpr(toks, (t, msg) => this.error(t ?? at, msg));
    const v = ev.parse();
    return v !== 0n;
  }
}

function normalizeName(n: string): string {
  return n.startsWith('<') ? n : normalizePath(n);
}

function unquote(s: string): string {
  return s.slice(1, -1);
}

function stringize(arg: readonly PPTok[]): string {
  let s = '';
  for (let i = 0; i < arg.length; i++) {
    const t = arg[i]!;
    if (i > 0 && (t.ws || t.bol)) s += ' ';
    s += t.k === STR || t.k === CHR ? t.t.replace(/[\\"]/g, (c) => '\\' + c) : t.t;
  }
  return `"${s}"`;
}

// Hide sets are tiny (the macros being expanded around a token), so plain arrays serve.
function addHide(hs: readonly string[] | null, name: string): readonly string[] {
  if (hs === null) return [name];
  return hs.includes(name) ? hs : [...hs, name];
}
function unionHide(a: readonly string[] | null, b: readonly string[]): readonly string[] {
  if (a === null || a.length === 0 || a === b) return b;
  let out: string[] | null = null;
  for (const x of b)
    if (!a.includes(x)) {
      out ??= [...a];
      out.push(x);
    }
  return out ?? a;
}
function intersectHide(a: readonly string[] | null, b: readonly string[] | null): readonly string[] | null {
  if (a === null || b === null) return null;
  return a.filter((x) => b.includes(x));
}

const I64 = (v: bigint): bigint => BigInt.asIntN(64, v);

/** C integer constant expressions of #if, in 64-bit signed arithmetic. */
class IfExpr {
  private i = 0;
  private depth = 0;
  constructor(
    private readonly toks: readonly PPTok[],
    private readonly fail: (t: PPTok | undefined, msg: string) => never,
  ) {}

  parse(): bigint {
    const v = this.cond();
    if (this.i < this.toks.length) this.fail(this.toks[this.i], `unexpected '${this.toks[this.i]!.t}' in #if expression`);
    return v;
  }

  private peek(p: string): boolean {
    return isP(this.toks[this.i], p);
  }

  private cond(): bigint {
    if (++this.depth > 200) this.fail(this.toks[this.i], '#if expression nested too deeply');
    const c = this.binary(0);
    let v = c;
    if (this.peek('?')) {
      this.i++;
      const a = this.cond();
      if (!this.peek(':')) this.fail(this.toks[this.i], "expected ':' in #if expression");
      this.i++;
      const b = this.cond();
      v = c !== 0n ? a : b;
    }
    this.depth--;
    return v;
  }

  private static readonly LEVELS: readonly (readonly string[])[] = [
    ['||'], ['&&'], ['|'], ['^'], ['&'], ['==', '!='], ['<', '>', '<=', '>='], ['<<', '>>'], ['+', '-'], ['*', '/', '%'],
  ];

  private binary(level: number): bigint {
    if (level >= IfExpr.LEVELS.length) return this.unary();
    let v = this.binary(level + 1);
    for (;;) {
      const t = this.toks[this.i];
      const op = t && t.k === PUNCT && IfExpr.LEVELS[level]!.includes(t.t) ? t.t : undefined;
      if (op === undefined) return v;
      this.i++;
      const r = this.binary(level + 1);
      switch (op) {
        case '||': v = v !== 0n || r !== 0n ? 1n : 0n; break;
        case '&&': v = v !== 0n && r !== 0n ? 1n : 0n; break;
        case '|': v = v | r; break;
        case '^': v = v ^ r; break;
        case '&': v = v & r; break;
        case '==': v = v === r ? 1n : 0n; break;
        case '!=': v = v !== r ? 1n : 0n; break;
        case '<': v = v < r ? 1n : 0n; break;
        case '>': v = v > r ? 1n : 0n; break;
        case '<=': v = v <= r ? 1n : 0n; break;
        case '>=': v = v >= r ? 1n : 0n; break;
        case '<<': v = r < 0n || r >= 64n ? 0n : I64(v << r); break;
        case '>>': v = r < 0n || r >= 64n ? (v < 0n ? -1n : 0n) : v >> r; break;
        case '+': v = I64(v + r); break;
        case '-': v = I64(v - r); break;
        case '*': v = I64(v * r); break;
        case '/':
        case '%':
          if (r === 0n) this.fail(t, 'division by zero in #if');
          v = I64(op === '/' ? v / r : v % r);
          break;
      }
    }
  }

  private unary(): bigint {
    const t = this.toks[this.i];
    if (t === undefined) this.fail(this.toks[this.i - 1], '#if expression ends too early');
    if (t.k === PUNCT && ['-', '+', '~', '!'].includes(t.t)) {
      this.i++;
      if (++this.depth > 200) this.fail(t, '#if expression nested too deeply');
      const v = this.unary();
      this.depth--;
      if (t.t === '-') return I64(-v);
      if (t.t === '+') return v;
      if (t.t === '~') return I64(~v);
      return v === 0n ? 1n : 0n;
    }
    if (isP(t, '(')) {
      this.i++;
      const v = this.cond();
      if (!this.peek(')')) this.fail(this.toks[this.i] ?? t, "missing ')' in #if expression");
      this.i++;
      return v;
    }
    this.i++;
    if (t.k === NUM) {
      const m = /^(0[xX][0-9a-fA-F]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)[uUlL]*$/.exec(t.t);
      if (!m) this.fail(t, `invalid integer '${t.t}' in #if`);
      const s = m[1]!;
      const v = /^0[0-7]+$/.test(s) ? BigInt('0o' + s.slice(1)) : BigInt(s);
      return I64(v);
    }
    if (t.k === CHR) {
      const body = t.t.slice(1, -1);
      return BigInt(body.startsWith('\\') ? escapeValue(body) : body.charCodeAt(0) || 0);
    }
    return this.fail(t, `unexpected '${t.t}' in #if expression`);
  }
}

function escapeValue(body: string): number {
  const c = body[1];
  const simple: Record<string, number> = { n: 10, t: 9, r: 13, a: 7, b: 8, f: 12, v: 11, '\\': 92, "'": 39, '"': 34, '0': 0 };
  if (c !== undefined && c in simple && body.length === 2) return simple[c]!;
  if (c === 'x') return parseInt(body.slice(2), 16) & 0xff;
  if (c !== undefined && /[0-7]/.test(c)) return parseInt(body.slice(1), 8) & 0xff;
  return c?.charCodeAt(0) ?? 0;
}

/** Runs the preprocessor over `source` (a byte string). Throws DtsError. */
export function preprocess(source: string, opts: PreprocessOptions): PreprocessResult {
  return new Preprocessor(opts).run(source);
}
