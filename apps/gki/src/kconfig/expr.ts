/**
 * Kconfig expressions (`depends on`, `if`, `default ... if`, `select ... if`) with the
 * language's tristate logic: n = 0, m = 1, y = 2; `A && B` is the minimum, `A || B` the
 * maximum, `!A` is 2 - A, and `A=B` / `A!=B` compare the two sides' values (y or n).
 */

export type Tristate = 0 | 1 | 2;
export const N: Tristate = 0;
export const M: Tristate = 1;
export const Y: Tristate = 2;

export type Expr =
  | { readonly k: 'sym'; readonly name: string }
  | { readonly k: 'const'; readonly v: Tristate }
  | { readonly k: 'not'; readonly e: Expr }
  | { readonly k: 'and' | 'or'; readonly l: Expr; readonly r: Expr }
  | { readonly k: 'eq' | 'ne'; readonly l: Expr; readonly r: Expr };

export function triName(t: Tristate): 'n' | 'm' | 'y' {
  return t === 2 ? 'y' : t === 1 ? 'm' : 'n';
}

const CONSTS: Record<string, Tristate> = { n: 0, m: 1, y: 2 };

/** Parses Kconfig expression text; throws Error naming the offending token. */
export function parseExpr(text: string): Expr {
  const toks = text.match(/\|\||&&|!=|[!=()]|[A-Za-z0-9_]+|\S/g) ?? [];
  let i = 0;
  const peek = () => toks[i];
  const fail = (what: string): never => {
    throw new Error(`bad Kconfig expression '${text}': ${what}`);
  };
  const atom = (): Expr => {
    const t = toks[i++];
    if (t === undefined) return fail('unexpected end');
    if (t === '(') {
      const e = or();
      if (toks[i++] !== ')') fail("missing ')'");
      return e;
    }
    if (!/^[A-Za-z0-9_]+$/.test(t)) return fail(`unexpected '${t}'`);
    const c = CONSTS[t];
    return c !== undefined ? { k: 'const', v: c } : { k: 'sym', name: t };
  };
  const cmp = (): Expr => {
    const l = atom();
    const op = peek();
    if (op === '=' || op === '!=') {
      i++;
      return { k: op === '=' ? 'eq' : 'ne', l, r: atom() };
    }
    return l;
  };
  const not = (): Expr => {
    if (peek() === '!') {
      i++;
      return { k: 'not', e: not() };
    }
    return cmp();
  };
  const and = (): Expr => {
    let l = not();
    while (peek() === '&&') {
      i++;
      l = { k: 'and', l, r: not() };
    }
    return l;
  };
  const or = (): Expr => {
    let l = and();
    while (peek() === '||') {
      i++;
      l = { k: 'or', l, r: and() };
    }
    return l;
  };
  const e = or();
  if (i !== toks.length) fail(`unexpected '${toks[i]}'`);
  return e;
}

/** `a && b`, dropping a missing side. */
export function andExpr(a: Expr | undefined, b: Expr | undefined): Expr | undefined {
  if (!a) return b;
  if (!b) return a;
  return { k: 'and', l: a, r: b };
}

/** Every symbol name an expression mentions. */
export function exprSymbols(e: Expr | undefined, out: string[] = []): string[] {
  if (!e) return out;
  switch (e.k) {
    case 'sym':
      if (!out.includes(e.name)) out.push(e.name);
      break;
    case 'const':
      break;
    case 'not':
      exprSymbols(e.e, out);
      break;
    default:
      exprSymbols(e.l, out);
      exprSymbols(e.r, out);
  }
  return out;
}

/** Evaluates `e`, reading a symbol's tristate value through `value`. */
export function evalExpr(e: Expr | undefined, value: (name: string) => Tristate): Tristate {
  if (!e) return Y;
  switch (e.k) {
    case 'const':
      return e.v;
    case 'sym':
      return value(e.name);
    case 'not':
      return (2 - evalExpr(e.e, value)) as Tristate;
    case 'and':
      return Math.min(evalExpr(e.l, value), evalExpr(e.r, value)) as Tristate;
    case 'or':
      return Math.max(evalExpr(e.l, value), evalExpr(e.r, value)) as Tristate;
    case 'eq':
    case 'ne': {
      const same = evalExpr(e.l, value) === evalExpr(e.r, value);
      return (e.k === 'eq') === same ? Y : N;
    }
  }
}

function prec(e: Expr): number {
  return e.k === 'or' ? 1 : e.k === 'and' ? 2 : 3;
}

/**
 * Prints `e` the way Kconfig's diagnostics do: each symbol it knows followed by its current
 * value, `ARM_SMMU [=m] && (ARM64 [=y] || COMPILE_TEST [=n])`. `value` returns undefined for a
 * symbol this architecture does not define, which prints as its bare name.
 */
export function printExpr(e: Expr, value?: (name: string) => string | undefined): string {
  const sub = (x: Expr, parent: number): string => {
    const s = printExpr(x, value);
    return prec(x) < parent ? `(${s})` : s;
  };
  switch (e.k) {
    case 'const':
      return triName(e.v);
    case 'sym': {
      const v = value?.(e.name);
      return v === undefined ? e.name : `${e.name} [=${v}]`;
    }
    case 'not':
      return `!${sub(e.e, 3)}`;
    case 'and':
      return `${sub(e.l, 2)} && ${sub(e.r, 2)}`;
    case 'or':
      return `${sub(e.l, 1)} || ${sub(e.r, 1)}`;
    case 'eq':
    case 'ne':
      return `${printExpr(e.l, value)}${e.k === 'eq' ? '=' : '!='}${printExpr(e.r, value)}`;
  }
}
