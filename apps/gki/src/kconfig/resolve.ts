import type { Diagnostic } from './diagnostics.js';
import { andExpr, evalExpr, M, N, parseExpr, printExpr, triName, Y, type Expr, type Tristate } from './expr.js';
import { assignmentText, type ConfigAssignment } from './parse.js';
import { FOREIGN_SYMBOLS, type KconfigRules, type KconfigSymbol } from './symbols.js';

/** Where a symbol's value came from. */
export type ValueOrigin = 'config' | 'default' | 'select' | 'none';

/** One symbol after resolution. */
export interface ResolvedSymbol {
  readonly sym: KconfigSymbol;
  /** bool/tristate: y, m or n. string: the unquoted text. int/hex: as written. '' when absent. */
  readonly value: string;
  /** bool/tristate value as a number (string/int/hex: y when present, n when absent). */
  readonly tri: Tristate;
  /** Value of the symbol's dependencies (enclosing ifs and depends on). */
  readonly dep: Tristate;
  /** How far its prompt lets a user set it (n: not settable). */
  readonly visible: Tristate;
  /** The strongest select acting on it. */
  readonly revDep: Tristate;
  readonly origin: ValueOrigin;
  /** The config line that asked for a value, if any (applied or not). */
  readonly assignment?: ConfigAssignment;
  /** Symbols whose select acts on it now (value above n). */
  readonly selectedBy: readonly string[];
}

export interface ResolvedConfig {
  readonly rules: KconfigRules;
  /** Every symbol, in menu order. */
  readonly symbols: ReadonlyMap<string, ResolvedSymbol>;
  get(name: string): ResolvedSymbol;
  /** The tristate value of `name` (n for a symbol the model does not define). */
  tri(name: string): Tristate;
}

interface Compiled {
  sym: KconfigSymbol;
  dep: Expr | undefined;
  promptIf: Expr | undefined;
  defaults: { value: string; expr: Expr | undefined; cond: Expr | undefined }[];
  /** Selects acting on this symbol: the selector and the select's `if`. */
  selectors: { by: string; cond: Expr | undefined }[];
}

const compiledCache = new WeakMap<KconfigRules, Map<string, Compiled>>();

function compile(rules: KconfigRules): Map<string, Compiled> {
  const hit = compiledCache.get(rules);
  if (hit) return hit;
  const out = new Map<string, Compiled>();
  for (const s of rules.symbols) {
    let dep: Expr | undefined;
    for (const p of s.parents ?? []) dep = andExpr(dep, { k: 'sym', name: p });
    if (s.depends) dep = andExpr(dep, parseExpr(s.depends));
    const triType = s.type === 'bool' || s.type === 'tristate';
    out.set(s.name, {
      sym: s,
      dep,
      promptIf: s.promptIf ? parseExpr(s.promptIf) : undefined,
      defaults: (s.defaults ?? []).map((d) => ({ value: d.value, expr: triType ? parseExpr(d.value) : undefined, cond: d.if ? parseExpr(d.if) : undefined })),
      selectors: [],
    });
  }
  for (const s of rules.symbols) {
    for (const sel of s.selects ?? []) {
      const target = out.get(sel.symbol);
      if (!target) throw new Error(`Kconfig model: ${s.name} selects unknown symbol ${sel.symbol}`);
      target.selectors.push({ by: s.name, cond: sel.if ? parseExpr(sel.if) : undefined });
    }
  }
  compiledCache.set(rules, out);
  return out;
}

function similar(a: string, b: string): number {
  // Levenshtein distance, small strings only
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++)
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
  return d[a.length]![b.length]!;
}

/** The model's symbol closest to an unknown name, when close enough to be a typo. */
export function suggestSymbol(rules: KconfigRules, name: string): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const s of rules.symbols) {
    const d = similar(name, s.name);
    if (d < bestD) {
      bestD = d;
      best = s.name;
    }
  }
  return bestD <= Math.max(2, Math.floor(name.length / 5)) ? best : undefined;
}

/** Unquotes a Kconfig string value (`"a \"b\""` -> `a "b"`), or null if it is not one. */
export function unquote(raw: string): string | null {
  if (raw.length < 2 || !raw.startsWith('"') || !raw.endsWith('"')) return null;
  let out = '';
  for (let i = 1; i < raw.length - 1; i++) {
    const c = raw[i]!;
    if (c === '\\') {
      if (i + 1 >= raw.length - 1) return null;
      out += raw[++i];
    } else if (c === '"') return null;
    else out += c;
  }
  return out;
}

export function quote(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** Checks `raw` against `sym`'s type: the normalised value, or why it is invalid. */
function checkValue(sym: KconfigSymbol, raw: string, rulesName: string): { value: string } | { why: string } {
  switch (sym.type) {
    case 'tristate':
      return raw === 'y' || raw === 'm' || raw === 'n' ? { value: raw } : { why: `${sym.name} is a tristate: y, m or n` };
    case 'bool':
      if (raw === 'y' || raw === 'n') return { value: raw };
      return { why: raw === 'm' ? `${sym.name} is a bool under the ${rulesName} rules: y or n (it cannot be a module)` : `${sym.name} is a bool: y or n` };
    case 'string': {
      const s = unquote(raw);
      return s === null ? { why: `${sym.name} is a string, written in double quotes` } : { value: s };
    }
    case 'int':
      // syntax only: a value outside the symbol's range is clamped when it resolves, as Kconfig does
      return /^-?\d+$/.test(raw) ? { value: String(Number(raw)) } : { why: `${sym.name} is an int` };
    case 'hex':
      return /^(0[xX])?[0-9a-fA-F]+$/.test(raw) ? { value: raw.toLowerCase().startsWith('0x') ? raw : `0x${raw}` } : { why: `${sym.name} is a hex number` };
  }
}

/**
 * Resolves a merged list of config assignments under `rules`, the way Kconfig's
 * olddefconfig does, and reports what a kernel engineer would be told:
 * - a line for a symbol the model does not know (`unknown symbol`), or with a value its type
 *   rejects (`symbol value 'm' invalid for ...`): warned and ignored;
 * - `WARNING: unmet direct dependencies detected for X` when a select forces a symbol above
 *   what its own dependencies allow (select ignores depends on);
 * - merge_config.sh's "Value requested for CONFIG_X not in final .config" for every line whose
 *   value did not survive, with the reason (its dependencies, a select, no prompt).
 *
 * Tristate rules: a user value is capped by the prompt's visibility (its dependencies: m under
 * an m dependency); without one the first default whose condition holds applies, also capped;
 * then selects raise it to at least the selector's value; a bool that ends at m becomes y, and
 * with CONFIG_MODULES off every m becomes y.
 */
export function resolveConfig(rules: KconfigRules, assignments: readonly ConfigAssignment[]): { config: ResolvedConfig; diagnostics: Diagnostic[] } {
  const compiled = compile(rules);
  const diagnostics: Diagnostic[] = [];
  const user = new Map<string, { value: string; a: ConfigAssignment }>();
  const asked = new Map<string, ConfigAssignment>();
  // in file order, then line order, so the warnings read top to bottom
  const fileRank = new Map<string, number>();
  for (const a of assignments) if (!fileRank.has(a.file)) fileRank.set(a.file, fileRank.size);
  const inOrder = [...assignments].sort((x, y) => fileRank.get(x.file)! - fileRank.get(y.file)! || x.line - y.line);
  for (const a of inOrder) {
    const sym = rules.byName.get(a.symbol);
    if (!sym) {
      const foreign = FOREIGN_SYMBOLS.includes(a.symbol);
      const hint = foreign ? undefined : suggestSymbol(rules, a.symbol);
      diagnostics.push({ severity: 'warning', file: a.file, line: a.line, message: `unknown symbol: ${a.symbol}${foreign ? ' (not an arm64 symbol)' : ''}${hint ? ` (did you mean ${hint}?)` : ''}` });
      continue;
    }
    const v = checkValue(sym, a.raw, rules.name);
    if ('why' in v) {
      diagnostics.push({ severity: 'warning', file: a.file, line: a.line, message: `symbol value '${a.raw}' invalid for ${a.symbol}`, detail: [v.why] });
      continue;
    }
    user.set(a.symbol, { value: v.value, a });
    asked.set(a.symbol, a);
  }

  const done = new Map<string, ResolvedSymbol>();
  const busy = new Set<string>();

  const triOf = (name: string): Tristate => {
    if (!compiled.has(name)) return N; // foreign or undefined: n
    return calc(name).tri;
  };
  const modulesOn = (): boolean => !compiled.has('MODULES') || triOf('MODULES') === Y;

  function calc(name: string): ResolvedSymbol {
    const hit = done.get(name);
    if (hit) return hit;
    if (busy.has(name)) throw new Error(`Kconfig model: recursive dependency through ${name}`);
    busy.add(name);
    const c = compiled.get(name)!;
    const s = c.sym;
    const triType = s.type === 'bool' || s.type === 'tristate';
    const dep = evalExpr(c.dep, triOf);
    let visible: Tristate = N;
    if (s.prompt) {
      visible = Math.min(dep, evalExpr(c.promptIf, triOf)) as Tristate;
      if (visible === M && (s.type !== 'tristate' || !modulesOn())) visible = Y;
    }
    const selectedBy: string[] = [];
    let revDep: Tristate = N;
    for (const sel of c.selectors) {
      const v = Math.min(triOf(sel.by), evalExpr(sel.cond, triOf)) as Tristate;
      if (v > N) selectedBy.push(sel.by);
      if (v > revDep) revDep = v;
    }
    const u = user.get(name);
    let origin: ValueOrigin = 'none';
    let out: ResolvedSymbol;
    if (triType) {
      let v: Tristate = N;
      if (visible > N && u) {
        v = Math.min(u.value === 'y' ? Y : u.value === 'm' ? M : N, visible) as Tristate;
        origin = 'config';
      } else {
        for (const d of c.defaults) {
          const cond = Math.min(evalExpr(d.cond, triOf), dep) as Tristate;
          if (cond === N) continue;
          v = Math.min(evalExpr(d.expr, triOf), cond) as Tristate;
          origin = 'default';
          break;
        }
      }
      if (revDep > dep) {
        const selector = user.get(selectedBy[0] ?? '')?.a;
        diagnostics.push({
          severity: 'warning',
          ...(selector ? { file: selector.file, line: selector.line } : {}),
          message: `WARNING: unmet direct dependencies detected for ${name}`,
          detail: unmetDetail(c, dep, revDep),
        });
      }
      if (revDep > v) {
        v = revDep;
        origin = 'select';
      }
      if (v === M && (s.type === 'bool' || !modulesOn())) v = Y;
      out = { sym: s, value: triName(v), tri: v, dep, visible, revDep, origin, selectedBy, ...(asked.has(name) ? { assignment: asked.get(name)! } : {}) };
    } else {
      let value = '';
      if (visible > N && u) {
        value = u.value;
        origin = 'config';
        if (s.type === 'int' && s.range) value = String(Math.min(Math.max(Number(value), s.range[0]), s.range[1]));
      } else if (dep > N) {
        for (const d of c.defaults) {
          if (evalExpr(d.cond, triOf) === N) continue;
          value = s.type === 'string' ? (unquote(d.value) ?? d.value) : d.value;
          origin = 'default';
          break;
        }
      }
      out = { sym: s, value, tri: origin === 'none' ? N : Y, dep, visible, revDep, origin, selectedBy, ...(asked.has(name) ? { assignment: asked.get(name)! } : {}) };
    }
    busy.delete(name);
    done.set(name, out);
    return out;
  }

  /** Kconfig's "Depends on [x]: ..." / "Selected by [x]: - SYM [=v] && ..." lines. */
  function unmetDetail(c: Compiled, dep: Tristate, revDep: Tristate): string[] {
    const lines = [`Depends on [${triName(dep)}]: ${c.dep ? printExpr(c.dep, shown) : 'y'}`, `Selected by [${triName(revDep)}]:`];
    for (const sel of c.selectors) {
      const v = Math.min(triOf(sel.by), evalExpr(sel.cond, triOf)) as Tristate;
      if (v === N) continue;
      const selDep = compiled.get(sel.by)!.dep;
      const e = andExpr(andExpr({ k: 'sym', name: sel.by }, selDep), sel.cond)!;
      lines.push(`- ${printExpr(e, shown)}`);
    }
    return lines;
  }

  function shown(name: string): string | undefined {
    if (!compiled.has(name)) return undefined;
    const r = calc(name);
    return r.sym.type === 'bool' || r.sym.type === 'tristate' ? r.value : r.value === '' ? '' : r.value;
  }

  for (const s of rules.symbols) calc(s.name);

  // merge_config.sh's final check: every requested value must be in the final .config.
  for (const [name, a] of [...asked].sort(([, x], [, y]) => fileRank.get(x.file)! - fileRank.get(y.file)! || x.line - y.line)) {
    const r = done.get(name)!;
    const requested = user.get(name)!.value;
    if (requested === r.value) continue;
    const s = r.sym;
    const c = compiled.get(name)!;
    const finalText = r.sym.type === 'string' && r.value !== '' ? quote(r.value) : r.value;
    const detail = [
      `Requested value:  ${assignmentText({ symbol: name, raw: a.raw })}`,
      `Actual value:     ${r.origin === 'none' && !(s.type === 'bool' || s.type === 'tristate') ? `CONFIG_${name} is absent` : assignmentText({ symbol: name, raw: finalText })}`,
    ];
    if (!s.prompt) detail.push(`CONFIG_${name} has no prompt: only its defaults and selects set it`);
    else if (c.promptIf && evalExpr(c.promptIf, triOf) === N) detail.push(`Its prompt needs: ${printExpr(c.promptIf, shown)}`);
    else if (r.visible < (requested === 'y' ? Y : requested === 'm' ? M : N) || r.visible === N)
      detail.push(`Depends on [${triName(r.dep)}]: ${c.dep ? printExpr(c.dep, shown) : 'y'}`);
    if (r.origin === 'select') {
      detail.push(`Selected by [${triName(r.revDep)}]:`);
      for (const by of r.selectedBy) detail.push(`- ${by} [=${done.get(by)!.value}]`);
    }
    if (requested === 'm' && r.value === 'y' && !modulesOn() && s.type === 'tristate') detail.push("CONFIG_MODULES is not set: 'm' counts as 'y'");
    if (s.type === 'int' && s.range && r.origin === 'config') detail.push(`${name} is limited to the range ${s.range[0]}..${s.range[1]}`);
    diagnostics.push({ severity: 'warning', file: a.file, line: a.line, message: `Value requested for CONFIG_${name} not in final .config`, detail });
  }

  const symbols = new Map<string, ResolvedSymbol>();
  for (const s of rules.symbols) symbols.set(s.name, done.get(s.name)!);
  const config: ResolvedConfig = {
    rules,
    symbols,
    get(name: string) {
      const r = symbols.get(name);
      if (!r) throw new Error(`no Kconfig symbol ${name}`);
      return r;
    },
    tri(name: string) {
      return symbols.get(name)?.tri ?? N;
    },
  };
  return { config, diagnostics };
}
