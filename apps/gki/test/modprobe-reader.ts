import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A reader of an image directory's module indexes written from kmod's and Android's
 * documented behaviour, sharing no code with the composer: it parses modules.dep,
 * modules.softdep, modules.alias and modules.builtin the way modprobe does and computes the
 * order in which modprobe would insert modules for each line of modules.load.
 */

/** kmod's module name for a path or name: basename, no .ko, '-' -> '_'. */
export function modname(pathOrName: string): string {
  return pathOrName.replace(/^.*\//, '').replace(/\.ko$/, '').replace(/-/g, '_');
}

/** fnmatch(3) with `*`, `?` and `[...]`, as modprobe matches modules.alias patterns. */
export function fnmatch(pattern: string, s: string): boolean {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        re += `[${pattern.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\/]/g, '\\$&');
  }
  return new RegExp(re + '$').test(s);
}

export interface ModprobeView {
  /** modname -> its path and its dependency paths as modules.dep lists them. */
  dep: Map<string, { path: string; deps: string[] }>;
  softdep: Map<string, { pre: string[]; post: string[] }>;
  alias: { pattern: string; module: string }[];
  builtin: Set<string>;
  load: string[];
}

function contentLines(text: string): string[] {
  return text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
}

export function readModprobeView(dir: string): ModprobeView {
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  const dep = new Map<string, { path: string; deps: string[] }>();
  for (const l of contentLines(read('modules.dep'))) {
    const m = /^([^:\s]+):((?: [^:\s]+)*)$/.exec(l);
    if (!m) throw new Error(`modules.dep: bad line '${l}'`);
    dep.set(modname(m[1]!), { path: m[1]!, deps: m[2]!.split(' ').filter(Boolean) });
  }
  const softdep = new Map<string, { pre: string[]; post: string[] }>();
  for (const l of contentLines(read('modules.softdep'))) {
    const t = l.split(/\s+/);
    if (t[0] !== 'softdep' || t.length < 3) throw new Error(`modules.softdep: bad line '${l}'`);
    const sd = { pre: [] as string[], post: [] as string[] };
    let mode: 'pre' | 'post' | null = null;
    for (const tok of t.slice(2)) {
      if (tok === 'pre:') mode = 'pre';
      else if (tok === 'post:') mode = 'post';
      else if (mode) sd[mode].push(tok);
      else throw new Error(`modules.softdep: '${tok}' before pre:/post: in '${l}'`);
    }
    softdep.set(modname(t[1]!), sd);
  }
  const alias = contentLines(read('modules.alias')).map((l) => {
    const t = l.split(' ');
    if (t.length !== 3 || t[0] !== 'alias') throw new Error(`modules.alias: bad line '${l}'`);
    return { pattern: t[1]!, module: t[2]! };
  });
  const builtin = new Set(contentLines(read('modules.builtin')).map(modname));
  const load = contentLines(read('modules.load'));
  return { dep, softdep, alias, builtin, load };
}

/** What `modprobe NAME` resolves NAME to: modules by name, else by alias; [] for built-ins. */
function lookup(v: ModprobeView, name: string): string[] | 'builtin' | 'none' {
  const n = modname(name);
  if (v.dep.has(n)) return [n];
  const byAlias = v.alias.filter((a) => fnmatch(a.pattern, name)).map((a) => a.module);
  if (byAlias.length) return [...new Set(byAlias)];
  if (v.builtin.has(n)) return 'builtin';
  return 'none';
}

/**
 * The modules modprobe inserts, in order, for each line of modules.load: for a module, its
 * hard dependencies from modules.dep (the list read from its end), each with its softdeps,
 * then its own pre-softdeps, itself, its post-softdeps; softdeps that are missing are skipped
 * (they are optional); a module already inserted is not inserted again.
 */
export function modprobeLoadSequence(v: ModprobeView): string[] {
  const inserted: string[] = [];
  const visiting = new Set<string>();
  const withSoftdeps = (m: string): void => {
    if (inserted.includes(m) || visiting.has(m)) return;
    visiting.add(m);
    for (const p of v.softdep.get(m)?.pre ?? []) probe(p);
    if (!inserted.includes(m)) inserted.push(m);
    for (const p of v.softdep.get(m)?.post ?? []) probe(p);
  };
  const probe = (name: string): void => {
    const t = lookup(v, name);
    if (t === 'builtin' || t === 'none') return;
    for (const m of t) {
      if (inserted.includes(m)) continue;
      const deps = v.dep.get(m)!.deps.map(modname).reverse();
      for (const d of deps) withSoftdeps(d);
      withSoftdeps(m);
    }
  };
  for (const line of v.load) probe(line);
  return inserted;
}
