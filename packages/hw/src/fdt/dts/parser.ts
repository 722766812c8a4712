/**
 * DTS scanner and parser: the syntax dtc accepts, after preprocessing.
 *
 * The scanner has dtc's lexer states, because the same characters mean different things in
 * different places: after `{`, `;`, /delete-node/ and /delete-property/ it reads a node or
 * property name (`#address-cells`, `cpu@0`, `arm,smmu-v3`); inside `[ ]` it reads hex
 * bytes; elsewhere numbers, strings, references and operators. At each position the longest
 * match wins and ties go to the earlier rule, as in dtc's flex scanner.
 *
 * The parser follows dtc's grammar (header, /memreserve/ entries, the root node, then
 * overrides `/ {}`, `&label {}`, `&{/path} {}` and /delete-node/ / /omit-if-no-ref/ of
 * references, applied in source order). Cell expressions are evaluated in 64-bit unsigned
 * arithmetic, as dtc does.
 */
import { DtsError, type DtsSourcePos, type DtsWarning } from './error.js';
import { addLabel, LData, LNode, LProp, getNodeByRef, deleteNode, mergeNodes, type LMacroUse, type LTreeInfo, guessBootCpuid } from './livetree.js';
import type { FdtReservation } from '../types.js';

/** dtc's lexer states. */
const St = { Initial: 0, V1: 1, PropNodeName: 2, ByteString: 3 } as const;
type St = (typeof St)[keyof typeof St];

type TokKind = 'label' | 'name' | 'lit' | 'char' | 'str' | 'ref' | 'byte' | 'kw' | 'op' | 'ident' | 'bad' | 'eof';

interface Tok {
  readonly k: TokKind;
  /** Text for names, labels, refs, keywords and operators. */
  readonly v: string;
  /** Numeric value of literals, characters and bytes. */
  readonly n: bigint;
  /** Decoded bytes of strings. */
  readonly bytes: number[] | null;
  /** Offset in the preprocessed text. */
  readonly at: number;
}

const KEYWORDS = ['/dts-v1/', '/plugin/', '/memreserve/', '/bits/', '/delete-property/', '/delete-node/', '/omit-if-no-ref/'];
const OPS2 = ['<<', '>>', '<=', '>=', '==', '!=', '&&', '||'];
const M64 = (1n << 64n) - 1n;

function isPropNodeChar(c: number): boolean {
  return (
    (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) ||
    c === 44 || c === 46 || c === 95 || c === 43 || c === 42 || c === 35 || c === 63 || c === 64 || c === 45
  );
}
function isLabelStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95;
}
function isLabelChar(c: number): boolean {
  return isLabelStart(c) || (c >= 48 && c <= 57);
}
function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
}

export interface ParseContext {
  /** Maps a text offset to where it came from. */
  pos(at: number): DtsSourcePos;
  /** Reads /incbin/ data (relative to `from`'s file), or undefined when missing. */
  readBinary(name: string, from: DtsSourcePos): Uint8Array | undefined;
  /** Explains an identifier found where a number was expected (unknown macro), in property `prop` (null: outside a property). */
  explainIdentifier(name: string, prop?: string | null): string;
  /**
   * May an identifier (a macro nobody defined) where a value is expected, in property `prop`
   * (null outside a property, e.g. /memreserve/), stand as 0? The parser records each such use
   * on its property (LProp.macros) for the caller to judge once the tree is final.
   */
  tolerateIdentifier?(name: string, prop: string | null): boolean;
  readonly warnings: DtsWarning[];
}

/** End of the digits of an integer literal starting at `i` (hex after 0x, else decimal digits). */
function litDigitsEnd(text: string, i: number): number {
  let j: number;
  if (text.charCodeAt(i) === 48 && (text[i + 1] === 'x' || text[i + 1] === 'X') && isHex(text.charCodeAt(i + 2))) {
    j = i + 2;
    while (j < text.length && isHex(text.charCodeAt(j))) j++;
  } else {
    j = i;
    while (j < text.length && text.charCodeAt(j) >= 48 && text.charCodeAt(j) <= 57) j++;
  }
  return j;
}

/** Decodes dtc's string escapes; `s` is a byte string. Returns the bytes (without a NUL). */
function unescape(s: string, fail: (msg: string) => never, terminator = 92): number[] {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c !== 92) {
      out.push(c & 0xff);
      continue;
    }
    i++;
    const e = s[i];
    switch (e) {
      case 'a': out.push(7); break;
      case 'b': out.push(8); break;
      case 't': out.push(9); break;
      case 'n': out.push(10); break;
      case 'v': out.push(11); break;
      case 'f': out.push(12); break;
      case 'r': out.push(13); break;
      case 'x': {
        const m = /^[0-9a-fA-F]{1,2}/.exec(s.slice(i + 1, i + 3));
        if (!m) fail('\\x used with no following hex digits');
        out.push(parseInt(m[0], 16));
        i += m[0].length;
        break;
      }
      case undefined:
        // a backslash right before the closing quote escapes that quote, as dtc reads it
        out.push(terminator);
        break;
      default:
        if (e >= '0' && e <= '7') {
          const m = /^[0-7]{1,3}/.exec(s.slice(i, i + 3))!;
          out.push(parseInt(m[0], 8) & 0xff);
          i += m[0].length - 1;
        } else out.push(e.charCodeAt(0) & 0xff);
    }
  }
  return out;
}

/** Splits preprocessed DTS text into tokens, with dtc's lexer states. */
export function scan(text: string, ctx: ParseContext): Tok[] {
  const toks: Tok[] = [];
  const n = text.length;
  // dtc starts outside V1 until /dts-v1/; starting in V1 only changes what sources without the
  // header lex to, and those are accepted with a warning (see DtsParser.parse)
  let st = St.V1 as St;
  let i = 0;
  const fail = (at: number, msg: string): never => {
    throw new DtsError(ctx.pos(at), msg);
  };
  const push = (k: TokKind, v: string, at: number, num = 0n, bytes: number[] | null = null): void => {
    toks.push({ k, v, n: num, bytes, at });
  };
  while (i < n) {
    const c = text.charCodeAt(i);
    // whitespace and comments, in every state
    if (c === 32 || c === 9 || c === 10 || c === 13 || c === 11 || c === 12) {
      i++;
      continue;
    }
    if (c === 47 && text.charCodeAt(i + 1) === 42) {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) fail(i, 'unterminated comment');
      i = end + 2;
      continue;
    }
    if (c === 47 && text.charCodeAt(i + 1) === 47) {
      const end = text.indexOf('\n', i);
      i = end < 0 ? n : end + 1;
      continue;
    }
    const start = i;
    // Every rule that matches here offers its length; the longest wins, ties go to the rule
    // written first in dtc's scanner. `aux` carries the one position the action needs.
    let bestLen = 0;
    let bestRule = 99;
    let bestAux = 0;
    const offer = (len: number, rule: number, aux: number): void => {
      if (len > bestLen || (len === bestLen && len > 0 && rule < bestRule)) {
        bestLen = len;
        bestRule = rule;
        bestAux = aux;
      }
    };
    // STRING (rule 3)
    if (c === 34) {
      let j = i + 1;
      let ok = false;
      while (j < n) {
        const d = text.charCodeAt(j);
        if (d === 34) {
          ok = true;
          break;
        }
        if (d === 92) {
          if (j + 1 >= n || text.charCodeAt(j + 1) === 10) break;
          j += 2;
          continue;
        }
        j++;
      }
      if (!ok) fail(i, 'unterminated string');
      offer(j + 1 - i, 3, j);
    }
    // keywords (rules 4..9, /incbin/ 18)
    if (c === 47) {
      for (let k = 0; k < KEYWORDS.length; k++) if (text.startsWith(KEYWORDS[k]!, i)) offer(KEYWORDS[k]!.length, 40 + k, k);
      if ((st === St.Initial || st === St.V1) && text.startsWith('/incbin/', i)) offer(8, 18, 0);
    }
    // LABEL: (rule 10); an identifier where dtc expects none is kept whole for a clear message
    if (isLabelStart(c)) {
      let j = i + 1;
      while (j < n && isLabelChar(text.charCodeAt(j))) j++;
      if (text.charCodeAt(j) === 58) offer(j + 1 - i, 10, j);
      else if (st === St.V1 || st === St.Initial) offer(j - i, 31, j);
    }
    // literal (rule 11), V1 only
    if (st === St.V1 && c >= 48 && c <= 57) {
      let j = litDigitsEnd(text, i);
      const suf = /^(ULL|UL|LL|U|L)/.exec(text.slice(j, j + 3));
      j += suf ? suf[0].length : 0;
      offer(j - i, 11, j);
    }
    // CHAR_LITERAL (rule 12)
    if (c === 39) {
      // dtc's pattern is '([^']|\\')*': a quote preceded by a backslash may be content, any
      // other quote ends the literal; the longest match ends at the first unescaped quote, or
      // at the last escaped one when no unescaped quote follows
      let j = i + 1;
      let ok = false;
      let lastEscaped = -1;
      while (j < n) {
        const d = text.charCodeAt(j);
        if (d === 39) {
          if (text.charCodeAt(j - 1) === 92 && j - 1 > i) {
            lastEscaped = j;
            j++;
            continue;
          }
          ok = true;
          break;
        }
        j++;
      }
      if (!ok && lastEscaped > 0) {
        j = lastEscaped;
        ok = true;
      }
      if (ok) offer(j + 1 - i, 12, j);
    }
    // references (rules 13, 14)
    if (c === 38) {
      const d = text.charCodeAt(i + 1);
      if (isLabelStart(d)) {
        let j = i + 2;
        while (j < n && isLabelChar(text.charCodeAt(j))) j++;
        offer(j - i, 13, j);
      } else if (d === 123) {
        let j = i + 2;
        while (j < n && (isPropNodeChar(text.charCodeAt(j)) || text.charCodeAt(j) === 47)) j++;
        if (text.charCodeAt(j) === 125 && j > i + 2) offer(j + 1 - i, 14, j);
      }
    }
    if (st === St.ByteString) {
      if (isHex(c) && isHex(text.charCodeAt(i + 1))) offer(2, 15, 0);
      if (c === 93) offer(1, 16, 0);
    }
    if (st === St.PropNodeName) {
      let j = c === 92 ? i + 1 : i;
      const s0 = j;
      while (j < n && isPropNodeChar(text.charCodeAt(j))) j++;
      if (j > s0) offer(j - i, 17, j);
    }
    // operators (rule 22) and any other character (rule 30)
    if (OPS2.includes(text.slice(i, i + 2))) offer(2, 22, 0);
    offer(1, 30, 0);

    const j = bestAux;
    switch (bestRule) {
      case 3:
        push('str', '', start, 0n, unescape(text.slice(start + 1, j), (m) => fail(start, m)));
        break;
      case 10:
        push('label', text.slice(start, j), start);
        break;
      case 31:
        push('ident', text.slice(start, j), start);
        break;
      case 11: {
        const digitsEnd = litDigitsEnd(text, start);
        const digits = text.slice(start, digitsEnd);
        let v: bigint;
        if (digits.length > 2 && (digits[1] === 'x' || digits[1] === 'X')) v = BigInt(digits);
        else if (digits.length > 1 && digits[0] === '0') {
          if (/[89]/.test(digits)) fail(start, `bad integer literal '${text.slice(start, j)}'`);
          v = BigInt('0o' + digits.slice(1));
        } else v = BigInt(digits);
        if (v > M64) fail(start, `integer literal '${text.slice(start, j)}' out of range`);
        push('lit', text.slice(start, j), start, v);
        break;
      }
      case 12: {
        const body = text.slice(start + 1, j);
        const b = unescape(body, (m) => fail(start, m), 39);
        if (b.length === 0) fail(start, 'empty character literal');
        if (b.length > 1) fail(start, `character literal has ${b.length} characters instead of 1`);
        push('char', body, start, BigInt(b[0]!));
        break;
      }
      case 13:
        push('ref', text.slice(start + 1, j), start);
        break;
      case 14:
        push('ref', text.slice(start + 2, j), start);
        break;
      case 15:
        push('byte', '', start, BigInt(parseInt(text.slice(start, start + 2), 16)));
        break;
      case 16:
        push('op', ']', start);
        st = St.V1;
        break;
      case 17:
        push('name', text.slice(c === 92 ? start + 1 : start, j), start);
        st = St.V1;
        break;
      case 18:
        push('kw', '/incbin/', start);
        break;
      case 22:
        push('op', text.slice(start, start + 2), start);
        break;
      case 30: {
        const ch = text[start]!;
        if (ch === '[') st = St.ByteString;
        if (ch === '{' || ch === ';') st = St.PropNodeName;
        push(c < 128 && c > 32 ? 'op' : 'bad', ch, start);
        break;
      }
      default: {
        // keywords (rules 40..46)
        const kw = KEYWORDS[j]!;
        push('kw', kw, start);
        if (kw === '/dts-v1/' || kw === '/memreserve/' || kw === '/bits/') st = St.V1;
        else if (kw === '/delete-property/' || kw === '/delete-node/' || kw === '/omit-if-no-ref/') st = St.PropNodeName;
      }
    }
    i = start + bestLen;
  }
  toks.push({ k: 'eof', v: '', n: 0n, bytes: null, at: n });
  return toks;
}

/** How a token reads in a message. */
function describe(t: Tok): string {
  switch (t.k) {
    case 'eof':
      return 'end of input';
    case 'str':
      return 'a string';
    case 'lit':
      return `'${t.v}'`;
    case 'char':
      return `character literal '${t.v}'`;
    case 'byte':
      return 'a byte';
    case 'ref':
      return `'&${t.v}'`;
    case 'label':
      return `label '${t.v}:'`;
    case 'bad':
      return `character 0x${t.v.charCodeAt(0).toString(16)}`;
    default:
      return `'${t.v}'`;
  }
}

const MAX_DEPTH = 200;

/**
 * What a /delete-property/ or /delete-node/ inside an overlay's fragment leaves: the fragment
 * without them (dtc applies them to the overlay tree; the base never sees them).
 */
function dropDeletions(n: LNode): void {
  n.props = n.props.filter((p) => !p.deleted);
  n.children = n.children.filter((c) => !c.deleted);
  for (const c of n.children) dropDeletions(c);
}

/** Parses the tokens of a whole DTS source into a live tree. Throws DtsError. */
export class DtsParser {
  private i = 0;
  private depth = 0;
  private readonly reservations: FdtReservation[] = [];
  /** The property whose value is being parsed (null outside one). */
  private prop: string | null = null;
  /** Undefined macros standing as 0 in that value so far, and the offset of the cell being read. */
  private macroUses: LMacroUse[] = [];
  private cellOffset = 0;

  constructor(
    private readonly toks: readonly Tok[],
    private readonly ctx: ParseContext,
  ) {}

  private peek(k = 0): Tok {
    return this.toks[Math.min(this.i + k, this.toks.length - 1)]!;
  }
  private next(): Tok {
    const t = this.peek();
    if (this.i < this.toks.length - 1) this.i++;
    return t;
  }
  private isOp(t: Tok, v: string): boolean {
    return t.k === 'op' && t.v === v;
  }
  private isKw(t: Tok, v: string): boolean {
    return t.k === 'kw' && t.v === v;
  }
  private fail(t: Tok, msg: string): never {
    throw new DtsError(this.ctx.pos(t.at), msg);
  }
  private unexpected(t: Tok, wanted: string): never {
    if (t.k === 'ident') this.fail(t, this.ctx.explainIdentifier(t.v, this.prop));
    return this.fail(t, `syntax error: expected ${wanted}, found ${describe(t)}`);
  }
  private expectOp(v: string, what = `'${v}'`): Tok {
    const t = this.next();
    // punctuation was expected, not a value: an identifier here is a syntax error (a missing
    // ';' before the next property, say), not an undefined macro
    if (!this.isOp(t, v)) this.fail(t, `syntax error: expected ${what}, found ${describe(t)}`);
    return t;
  }

  parse(): LTreeInfo {
    // headers: dtc insists on /dts-v1/; a .dtsi compiled on its own has none, so its absence
    // is a warning here (version 0 syntax, where cells were hexadecimal, is not supported)
    if (!this.isKw(this.peek(), '/dts-v1/')) {
      const p = this.ctx.pos(this.peek().at);
      this.ctx.warnings.push({ ...p, message: "no '/dts-v1/;' header: read as version 1 (dtc requires the header)" });
    }
    while (this.isKw(this.peek(), '/dts-v1/')) {
      this.next();
      this.expectOp(';', "';' after /dts-v1/");
      if (this.isKw(this.peek(), '/plugin/'))
        this.fail(this.peek(), '/plugin/: this is a device-tree overlay, not a whole tree: apply it to the tree it is for (the compile option `overlays`, gki --overlay)');
    }
    if (this.isKw(this.peek(), '/plugin/')) this.fail(this.peek(), "/plugin/ must follow '/dts-v1/;' (and an overlay is applied to the tree it is for, not compiled alone)");
    // memory reservations, optionally labelled
    for (;;) {
      let k = 0;
      while (this.peek(k).k === 'label') k++;
      if (!this.isKw(this.peek(k), '/memreserve/')) break;
      this.i += k + 1;
      const addr = this.prim();
      const size = this.prim();
      const at = this.expectOp(';', "';' after /memreserve/ address and size");
      if (addr > BigInt(Number.MAX_SAFE_INTEGER) || size > BigInt(Number.MAX_SAFE_INTEGER))
        this.fail(at, '/memreserve/ address or size above 2^53 cannot be represented');
      this.reservations.push({ address: Number(addr), size: Number(size) });
    }
    // the root
    const first = this.peek();
    let root: LNode;
    if (this.isOp(first, '/')) {
      this.next();
      root = this.nodedef(this.ctx.pos(first.at));
      root.name = '';
    } else if (first.k === 'ref') {
      return this.fail(first, `label or path '${first.v}' not found (an override needs a root node '/ { ... };' before it)`);
    } else return this.unexpected(first, "the root node '/ {'");
    // overrides and top-level deletions, in order
    for (;;) {
      const t = this.peek();
      if (t.k === 'eof') break;
      if (this.isOp(t, '/')) {
        this.next();
        const nw = this.nodedef(this.ctx.pos(t.at));
        mergeNodes(root, nw);
        continue;
      }
      if (t.k === 'label' && this.peek(1).k === 'ref') {
        this.next();
        const r = this.next();
        const target = getNodeByRef(root, r.v);
        if (!target) this.fail(r, `label or path '${r.v}' not found`);
        addLabel(target.labels, t.v);
        mergeNodes(target, this.nodedef(this.ctx.pos(r.at)));
        continue;
      }
      if (t.k === 'ref') {
        this.next();
        const target = getNodeByRef(root, t.v);
        if (!target) this.fail(t, `label or path '${t.v}' not found`);
        mergeNodes(target, this.nodedef(this.ctx.pos(t.at)));
        continue;
      }
      if (this.isKw(t, '/delete-node/') || this.isKw(t, '/omit-if-no-ref/')) {
        this.next();
        const r = this.next();
        if (r.k !== 'ref') this.unexpected(r, `a reference ('&label' or '&{/path}') after ${t.v}`);
        this.expectOp(';', `';' after ${t.v} ${describe(r)}`);
        const target = getNodeByRef(root, r.v);
        if (!target) this.fail(r, `label or path '${r.v}' not found`);
        if (t.v === '/delete-node/') deleteNode(target);
        else target.omitIfUnused = true;
        continue;
      }
      if (this.isKw(t, '/memreserve/')) this.fail(t, '/memreserve/ must come before the root node');
      if (this.isKw(t, '/dts-v1/')) this.fail(t, "'/dts-v1/;' must come before the root node");
      this.unexpected(t, "a node ('/ {' or '&label {'), '/delete-node/ &label;' or the end of input");
    }
    return { root, reservations: this.reservations, bootCpuid: guessBootCpuid(root) };
  }

  /**
   * Parses an overlay source (`/dts-v1/; /plugin/;`) and applies it to `base`, the live tree of
   * the board it is for, as `dtc -@` then `fdtoverlay` would: each `&label { ... }` or
   * `&{/path} { ... }` is merged into that node of the base (labels of the base and of
   * overlays applied before it), each explicit fragment (`fragment@N { target = <&label>; or
   * target-path = "/path"; __overlay__ { ... }; }`) into its target; the overlay's own labels
   * join the base's (fdtoverlay adds them to __symbols__), and references in its values
   * resolve against the merged tree when the caller resolves it. fdtoverlay does not apply what
   * is not a fragment (a plain node in the overlay's root), and neither does this (with a
   * warning): such nodes are returned, hung under the base's root for the caller to delete once
   * references are resolved, so that a reference to one of their labels names a phandle no
   * node of the result has, as in the blob fdtoverlay writes. An overlay cannot delete base nodes or
   * properties: a /delete-property/ or /delete-node/ inside a fragment only edits the
   * fragment, as it does for dtc, and a top-level /delete-node/ is an error.
   */
  applyOverlay(base: LNode): LNode[] {
    const unapplied: LNode[] = [];
    if (!this.isKw(this.peek(), '/dts-v1/')) this.unexpected(this.peek(), "'/dts-v1/;' (an overlay starts with '/dts-v1/;' and '/plugin/;')");
    this.next();
    this.expectOp(';', "';' after /dts-v1/");
    if (!this.isKw(this.peek(), '/plugin/')) this.unexpected(this.peek(), "'/plugin/;' (this is not an overlay: it has no '/plugin/;' after '/dts-v1/;')");
    this.next();
    this.expectOp(';', "';' after /plugin/");
    for (;;) {
      let k = 0;
      while (this.peek(k).k === 'label') k++;
      if (!this.isKw(this.peek(k), '/memreserve/')) break;
      const t = this.peek(k);
      this.i += k + 1;
      this.prim();
      this.prim();
      this.expectOp(';', "';' after /memreserve/ address and size");
      this.ctx.warnings.push({ ...this.ctx.pos(t.at), message: '/memreserve/ in an overlay: ignored (fdtoverlay does not apply reservations)' });
    }
    const into = (target: LNode, body: LNode): void => {
      dropDeletions(body);
      mergeNodes(target, body);
    };
    for (;;) {
      const t = this.peek();
      if (t.k === 'eof') break;
      if (this.isOp(t, '/')) {
        this.next();
        const root = this.nodedef(this.ctx.pos(t.at));
        for (const frag of root.children) {
          if (frag.deleted) continue;
          const body = frag.children.find((c) => !c.deleted && c.name === '__overlay__');
          if (!body) {
            this.ctx.warnings.push({ ...frag.pos, message: `${frag.name}: not a fragment (no __overlay__ node): not applied, as fdtoverlay does not apply it` });
            // its labels stay referable, as they are in the overlay dtc writes: a reference to
            // one ends up naming a phandle no node of the result has (see parseDts)
            const holder = new LNode(frag.pos);
            holder.name = `__gki_unapplied_${unapplied.length}__`;
            holder.parent = base;
            frag.parent = holder;
            holder.children.push(frag);
            base.children.push(holder);
            unapplied.push(holder);
            continue;
          }
          const tp = frag.getProp('target');
          const tpath = frag.getProp('target-path');
          let target: LNode | undefined;
          let what: string;
          if (tp) {
            const m = tp.data.markers.find((x) => x.kind === 'phandle' && x.offset === 0);
            if (!m || tp.data.bytes.length !== 4) throw new DtsError(tp.pos, `${frag.name}: 'target' must be one reference (<&label>)`);
            what = `&${m.ref}`;
            target = getNodeByRef(base, m.ref);
          } else if (tpath) {
            const b = tpath.data.bytes;
            if (b.length === 0 || b[b.length - 1] !== 0 || b.indexOf(0) !== b.length - 1) throw new DtsError(tpath.pos, `${frag.name}: 'target-path' must be one string`);
            what = String.fromCharCode(...b.slice(0, -1));
            target = getNodeByRef(base, what);
          } else throw new DtsError(frag.pos, `${frag.name}: a fragment needs 'target' or 'target-path'`);
          if (!target) throw new DtsError((tp ?? tpath)!.pos, `${frag.name}: target ${what} not found in the base tree`);
          body.labels = [];
          into(target, body);
        }
        continue;
      }
      if ((t.k === 'label' && this.peek(1).k === 'ref') || t.k === 'ref') {
        const label = t.k === 'label' ? this.next().v : null;
        const r = this.next();
        const target = getNodeByRef(base, r.v);
        if (!target) this.fail(r, `label or path '${r.v}' not found in the base tree (or an overlay applied before this one)`);
        if (label !== null) addLabel(target.labels, label);
        into(target, this.nodedef(this.ctx.pos(r.at)));
        continue;
      }
      if (this.isKw(t, '/delete-node/') || this.isKw(t, '/omit-if-no-ref/')) this.fail(t, `${t.v} at the top level of an overlay: an overlay can add and change nodes, not delete them`);
      if (this.isKw(t, '/dts-v1/') || this.isKw(t, '/plugin/')) this.fail(t, `'${t.v}' must come first`);
      this.unexpected(t, "a fragment ('&label {', '&{/path} {' or '/ {') or the end of input");
    }
    return unapplied;
  }

  /** `{ props subnodes };` */
  private nodedef(pos: DtsSourcePos): LNode {
    if (++this.depth > MAX_DEPTH) this.fail(this.peek(), `nodes nested more than ${MAX_DEPTH} deep`);
    const node = new LNode(pos);
    this.expectOp('{', "'{'");
    let sawNode = false;
    for (;;) {
      const t = this.peek();
      if (this.isOp(t, '}')) {
        this.next();
        break;
      }
      // labels and /omit-if-no-ref/ before a property or subnode
      const labels: string[] = [];
      let omit = false;
      let firstTok = t;
      for (;;) {
        const x = this.peek();
        if (x.k === 'label') labels.push(x.v);
        else if (this.isKw(x, '/omit-if-no-ref/')) omit = true;
        else break;
        this.next();
      }
      const h = this.peek();
      if (h.k === 'name') {
        const after = this.peek(1);
        if (this.isOp(after, '{')) {
          this.next();
          const child = this.nodedef(this.ctx.pos(h.at));
          child.name = h.v;
          child.omitIfUnused = omit;
          for (const l of labels) addLabel(child.labels, l);
          child.parent = node;
          node.children.push(child);
          sawNode = true;
          continue;
        }
        if (omit) this.fail(firstTok, '/omit-if-no-ref/ applies to nodes, not properties');
        if (sawNode) this.fail(h, `properties must precede subnodes (property '${h.v}')`);
        this.next();
        let data = new LData();
        if (this.isOp(this.peek(), '=')) {
          this.next();
          this.prop = h.v;
          this.macroUses = [];
          data = this.propdata();
          this.prop = null;
        }
        this.expectOp(';', `';' after property '${h.v}'`);
        const p = new LProp(h.v, data, this.ctx.pos(h.at));
        if (this.macroUses.length > 0) {
          p.macros = this.macroUses;
          this.macroUses = [];
        }
        for (const l of labels) addLabel(p.labels, l);
        node.props.push(p);
        continue;
      }
      if (this.isKw(h, '/delete-property/') || this.isKw(h, '/delete-node/')) {
        this.next();
        const nm = this.next();
        if (nm.k !== 'name') this.unexpected(nm, `a name after ${h.v}`);
        this.expectOp(';', `';' after ${h.v} ${nm.v}`);
        if (h.v === '/delete-property/') {
          if (sawNode) this.fail(h, 'properties must precede subnodes (/delete-property/)');
          const p = new LProp(nm.v, new LData(), this.ctx.pos(nm.at));
          p.deleted = true;
          for (const l of labels) addLabel(p.labels, l);
          node.props.push(p);
        } else {
          const child = new LNode(this.ctx.pos(nm.at));
          child.name = nm.v;
          child.deleted = true;
          child.parent = node;
          for (const l of labels) addLabel(child.labels, l);
          node.children.push(child);
          sawNode = true;
        }
        continue;
      }
      firstTok = h;
      this.unexpected(h, "a property or node name, or '}'");
    }
    this.expectOp(';', "';' after '}'");
    this.depth--;
    return node;
  }

  /** The value after `=`: comma-separated strings, cell arrays, byte strings and references. */
  private propdata(): LData {
    const d = new LData();
    for (;;) {
      this.labelsInto(d);
      const t = this.peek();
      if (t.k === 'str') {
        this.next();
        for (const b of t.bytes!) d.bytes.push(b);
        d.bytes.push(0);
      } else if (this.isOp(t, '<') || this.isKw(t, '/bits/')) {
        this.cells(d);
      } else if (this.isOp(t, '[')) {
        this.next();
        for (;;) {
          const b = this.next();
          if (b.k === 'byte') d.bytes.push(Number(b.n));
          else if (b.k === 'label') d.markers.push({ offset: d.bytes.length, kind: 'label', ref: b.v, pos: this.ctx.pos(b.at) });
          else if (this.isOp(b, ']')) break;
          else this.unexpected(b, "two hex digits or ']' in a byte string");
        }
      } else if (t.k === 'ref') {
        this.next();
        d.markers.push({ offset: d.bytes.length, kind: 'path', ref: t.v, pos: this.ctx.pos(t.at) });
      } else if (this.isKw(t, '/incbin/')) {
        this.incbin(d);
      } else if (t.k === 'ident' && this.ctx.tolerateIdentifier?.(t.v, this.prop)) {
        // a string macro from a missing header (function = LED_FUNCTION_STATUS): an empty string
        this.next();
        const use: LMacroUse = { name: t.v, at: t.at, offset: d.bytes.length, string: true, call: false };
        this.macroUses.push(use);
        const open = this.peek();
        if (this.isOp(open, '(') && open.at === t.at + t.v.length) {
          this.skipParens();
          use.call = true;
        }
        d.bytes.push(0);
      } else this.unexpected(t, 'a value (a "string", <cells>, [bytes] or a &reference)');
      this.labelsInto(d);
      if (!this.isOp(this.peek(), ',')) return d;
      this.next();
    }
  }

  private labelsInto(d: LData): void {
    while (this.peek().k === 'label') {
      const l = this.next();
      d.markers.push({ offset: d.bytes.length, kind: 'label', ref: l.v, pos: this.ctx.pos(l.at) });
    }
  }

  private cells(d: LData): void {
    let bits = 32;
    if (this.isKw(this.peek(), '/bits/')) {
      this.next();
      const b = this.next();
      if (b.k !== 'lit') this.unexpected(b, 'the element size (8, 16, 32 or 64) after /bits/');
      if (b.n !== 8n && b.n !== 16n && b.n !== 32n && b.n !== 64n) this.fail(b, 'array elements must be 8, 16, 32 or 64 bits');
      bits = Number(b.n);
    }
    this.expectOp('<', "'<'");
    const mask = bits === 64 ? M64 : (1n << BigInt(bits)) - 1n;
    const append = (v: bigint): void => {
      for (let s = bits - 8; s >= 0; s -= 8) d.bytes.push(Number((v >> BigInt(s)) & 0xffn));
    };
    for (;;) {
      const t = this.peek();
      if (this.isOp(t, '>')) {
        this.next();
        return;
      }
      if (t.k === 'ref') {
        this.next();
        if (bits !== 32) this.fail(t, 'references are only allowed in arrays with 32-bit elements');
        d.markers.push({ offset: d.bytes.length, kind: 'phandle', ref: t.v, pos: this.ctx.pos(t.at) });
        append(0xffffffffn);
        continue;
      }
      if (t.k === 'label') {
        this.next();
        d.markers.push({ offset: d.bytes.length, kind: 'label', ref: t.v, pos: this.ctx.pos(t.at) });
        continue;
      }
      if (t.k === 'lit' || t.k === 'char' || t.k === 'ident' || this.isOp(t, '(')) {
        this.cellOffset = d.bytes.length;
        const v = this.prim();
        if (v > mask && (v | mask) !== M64) {
          const p = this.ctx.pos(t.at);
          this.ctx.warnings.push({ ...p, message: `value 0x${v.toString(16)} truncated to 0x${(v & mask).toString(16)} (${bits}-bit element)` });
        }
        append(v & mask);
        continue;
      }
      if (this.isOp(t, '-') || this.isOp(t, '~') || this.isOp(t, '!'))
        this.fail(t, `syntax error: an expression in cells needs parentheses: <(${t.v}...)>`);
      this.unexpected(t, "a number, a '(' expression, a &reference or '>'");
    }
  }

  private incbin(d: LData): void {
    const kw = this.next();
    this.expectOp('(', "'(' after /incbin/");
    const f = this.next();
    if (f.k !== 'str') this.unexpected(f, 'a file name string');
    let off = 0n;
    let len = -1n;
    if (this.isOp(this.peek(), ',')) {
      this.next();
      off = this.prim();
      this.expectOp(',', "',' before the /incbin/ length");
      len = this.prim();
    }
    this.expectOp(')', "')' after /incbin/ arguments");
    let name = '';
    for (const b of f.bytes!) name += String.fromCharCode(b);
    const data = this.ctx.readBinary(name, this.ctx.pos(kw.at));
    if (data === undefined) this.fail(f, `/incbin/: cannot read "${name}"`);
    if (off > BigInt(data.length)) this.fail(f, `/incbin/: offset ${off} is past the end of "${name}" (${data.length} bytes)`);
    const start = Number(off);
    const end = len < 0n ? data.length : Math.min(data.length, start + Number(len > BigInt(data.length) ? BigInt(data.length) : len));
    for (let k = start; k < end; k++) d.bytes.push(data[k]!);
  }

  // ------------------------------------------------------------------ expressions

  private prim(): bigint {
    const t = this.next();
    if (t.k === 'lit' || t.k === 'char') return t.n;
    if (this.isOp(t, '(')) {
      if (++this.depth > MAX_DEPTH) this.fail(t, `expression nested more than ${MAX_DEPTH} deep`);
      const v = this.expr();
      this.expectOp(')', "')'");
      this.depth--;
      return v;
    }
    if (t.k === 'ident') {
      if (!this.ctx.tolerateIdentifier?.(t.v, this.prop)) return this.unexpected(t, "a number or '('");
      const use: LMacroUse = { name: t.v, at: t.at, offset: this.cellOffset, string: false, call: false };
      this.macroUses.push(use);
      // an undefined function-like macro: its argument list goes with it
      const open = this.peek();
      if (this.isOp(open, '(') && open.at === t.at + t.v.length) {
        this.skipParens();
        use.call = true;
      }
      return 0n;
    }
    return this.unexpected(t, "a number or '('");
  }

  /** Skips a balanced parenthesised token run (the arguments of an unknown macro). */
  private skipParens(): void {
    let depth = 0;
    for (;;) {
      const t = this.next();
      if (t.k === 'eof') this.fail(t, "missing ')' after a macro's arguments");
      if (this.isOp(t, '(')) depth++;
      else if (this.isOp(t, ')') && --depth === 0) return;
    }
  }

  private expr(): bigint {
    const c = this.binary(0);
    if (!this.isOp(this.peek(), '?')) return c;
    this.next();
    if (++this.depth > MAX_DEPTH) this.fail(this.peek(), `expression nested more than ${MAX_DEPTH} deep`);
    const a = this.expr();
    this.expectOp(':', "':' in a ?: expression");
    const b = this.expr();
    this.depth--;
    return c !== 0n ? a : b;
  }

  private static readonly LEVELS: readonly (readonly string[])[] = [
    ['||'], ['&&'], ['|'], ['^'], ['&'], ['==', '!='], ['<', '>', '<=', '>='], ['<<', '>>'], ['+', '-'], ['*', '/', '%'],
  ];

  private binary(level: number): bigint {
    if (level >= DtsParser.LEVELS.length) return this.unary();
    let v = this.binary(level + 1);
    for (;;) {
      const t = this.peek();
      if (t.k !== 'op' || !DtsParser.LEVELS[level]!.includes(t.v)) return v;
      this.next();
      const r = this.binary(level + 1);
      switch (t.v) {
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
        case '<<': v = r < 64n ? (v << r) & M64 : 0n; break;
        case '>>': v = r < 64n ? v >> r : 0n; break;
        case '+': v = (v + r) & M64; break;
        case '-': v = (v - r) & M64; break;
        case '*': v = (v * r) & M64; break;
        case '/':
        case '%':
          if (r === 0n) this.fail(t, 'division by zero');
          v = t.v === '/' ? v / r : v % r;
          break;
      }
    }
  }

  private unary(): bigint {
    const t = this.peek();
    if (this.isOp(t, '-') || this.isOp(t, '~') || this.isOp(t, '!')) {
      this.next();
      if (++this.depth > MAX_DEPTH) this.fail(t, `expression nested more than ${MAX_DEPTH} deep`);
      const v = this.unary();
      this.depth--;
      if (t.v === '-') return (-v) & M64;
      if (t.v === '~') return v ^ M64;
      return v === 0n ? 1n : 0n;
    }
    return this.prim();
  }
}
