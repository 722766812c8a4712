/**
 * The static half of the KMI check: which exported kernel symbols a module package's source
 * references, found from its value imports of the core packages (@gki/kernel,
 * @gki/io-pgtable-core) and its `ctx.symbol(...)` lookups, using each core package's KMI table
 * (kernelKmi / ioPgtableKmi) to turn an imported function into the symbols its use references.
 *
 * Rules:
 * - `import type` and type-only specifiers are ignored (they compile to nothing);
 * - a named value import of a function or class is looked up in the table: 'symbols' adds its
 *   symbols, 'none' adds nothing, 'internal' and unclassified names are errors;
 * - a named value import of anything else (a number, string, table) is a constant: nothing;
 * - default and namespace imports of a core package, dynamic import() of one, and value imports
 *   from a core package's subpath are errors (they would hide what the module calls);
 * - `X.symbol(arg)` with a string literal, a constant imported from a core package, or a
 *   top-level `const` string of the same file records a lookup of that symbol; any other
 *   argument is an error;
 * - re-exports (`export { x } from '@gki/kernel'`) are the package's library surface, not calls
 *   of its module, and are not counted;
 * - an allowance names one (package, import) pair the module never reaches (a library entry point
 *   beside the module); it is skipped, and an allowance that matches nothing is an error.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import type { KmiTable } from '@gki/kernel';

export interface CorePackage {
  /** The npm name modules import it by. */
  readonly name: string;
  /** Its root entry point's runtime exports. */
  readonly exports: Readonly<Record<string, unknown>>;
  readonly table: KmiTable;
}

export interface Allowance {
  readonly package: string;
  readonly name: string;
  readonly why: string;
}

export interface KmiScan {
  /** Symbol -> where an import references it (`file:line name`). */
  readonly uses: Map<string, string[]>;
  /** Symbol -> where `ctx.symbol` looks it up. */
  readonly lookups: Map<string, string[]>;
  readonly errors: string[];
}

/** Every .ts file under `path` (or `path` itself), sorted. */
export function tsFiles(path: string): string[] {
  if (statSync(path).isFile()) return [path];
  return readdirSync(path)
    .sort()
    .flatMap((f) => tsFiles(join(path, f)))
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'));
}

function add(m: Map<string, string[]>, k: string, where: string): void {
  const l = m.get(k);
  if (l) l.push(where);
  else m.set(k, [where]);
}

/** Scans `files` (paths shown relative to `root`). */
export function scanModuleSources(files: readonly string[], root: string, core: readonly CorePackage[], allow: readonly Allowance[] = []): KmiScan {
  const uses = new Map<string, string[]>();
  const lookups = new Map<string, string[]>();
  const errors: string[] = [];
  const allowUsed = new Set<Allowance>();
  const corePkg = (spec: string) => core.find((c) => c.name === spec);
  const coreSubpath = (spec: string) => core.find((c) => spec.startsWith(`${c.name}/`));

  for (const file of files) {
    const rel = relative(root, file);
    const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
    const at = (n: ts.Node) => `${rel}:${sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1}`;
    /** Local name -> the core constant it imports (for ctx.symbol arguments). */
    const importedValues = new Map<string, unknown>();
    const localStrings = new Map<string, string>();

    for (const st of sf.statements) {
      if (ts.isVariableStatement(st) && (st.declarationList.flags & ts.NodeFlags.Const) !== 0) {
        for (const d of st.declarationList.declarations) {
          if (ts.isIdentifier(d.name) && d.initializer && ts.isStringLiteralLike(d.initializer)) localStrings.set(d.name.text, d.initializer.text);
        }
      }
      if (!ts.isImportDeclaration(st) || !ts.isStringLiteral(st.moduleSpecifier)) continue;
      const spec = st.moduleSpecifier.text;
      const clause = st.importClause;
      if (!clause || clause.isTypeOnly) continue;
      const sub = coreSubpath(spec);
      const pkg = corePkg(spec);
      if (sub) {
        const valueNames = clause.namedBindings && ts.isNamedImports(clause.namedBindings) ? clause.namedBindings.elements.filter((e) => !e.isTypeOnly) : [];
        if (clause.name || (clause.namedBindings && !ts.isNamedImports(clause.namedBindings)) || valueNames.length > 0)
          errors.push(`${at(st)}: value import from ${spec}: a module reaches ${sub.name} only through its root entry point, whose KMI is classified`);
        continue;
      }
      if (!pkg) continue;
      if (clause.name) errors.push(`${at(st)}: default import of ${spec}: import the functions by name so their symbols are known`);
      const nb = clause.namedBindings;
      if (!nb) continue;
      if (ts.isNamespaceImport(nb)) {
        errors.push(`${at(st)}: namespace import of ${spec}: import the functions by name so their symbols are known`);
        continue;
      }
      for (const el of nb.elements) {
        if (el.isTypeOnly) continue;
        const name = (el.propertyName ?? el.name).text;
        const where = `${at(el)} ${name}`;
        if (!(name in pkg.exports)) {
          errors.push(`${where}: ${spec} publishes no value '${name}'`);
          continue;
        }
        const value = pkg.exports[name];
        importedValues.set(el.name.text, value);
        if (typeof value !== 'function') continue; // a constant: a #define or enum in C
        const a = allow.find((x) => x.package === spec && x.name === name);
        if (a) {
          allowUsed.add(a);
          continue;
        }
        const u = pkg.table.uses[name];
        if (!u) errors.push(`${where}: ${spec}'s KMI table does not classify '${name}' (add it to the table: the symbols it references, or why none)`);
        else if (u.kind === 'internal') errors.push(`${where}: '${name}' is kernel-internal, not for modules: ${u.why}`);
        else if (u.kind === 'symbols') for (const s of u.symbols) add(uses, s, where);
      }
    }

    const visit = (n: ts.Node): void => {
      if (ts.isCallExpression(n)) {
        if (n.expression.kind === ts.SyntaxKind.ImportKeyword) {
          const a = n.arguments[0];
          const target = a && ts.isStringLiteralLike(a) ? a.text : '?';
          if (corePkg(target) || coreSubpath(target) || target === '?') errors.push(`${at(n)}: dynamic import(${target}): import the core's functions statically, by name`);
        } else if (ts.isPropertyAccessExpression(n.expression) && n.expression.name.text === 'symbol' && n.arguments.length === 1) {
          const a = n.arguments[0]!;
          let name: string | undefined;
          if (ts.isStringLiteralLike(a)) name = a.text;
          else if (ts.isIdentifier(a)) {
            const v = importedValues.get(a.text);
            name = typeof v === 'string' ? v : localStrings.get(a.text);
          }
          if (name === undefined) errors.push(`${at(n)}: ${n.getText(sf)}: the symbol name is not a string literal or a string constant, so its need cannot be checked`);
          else add(lookups, name, `${at(n)} ${n.expression.getText(sf)}(${a.getText(sf)})`);
        }
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  for (const a of allow) if (!allowUsed.has(a)) errors.push(`allowance for ${a.package} '${a.name}' matches no import any more (${a.why}): remove it`);
  return { uses, lookups, errors };
}

/** Symbols the source references but `needs` lacks, and `needs` entries nothing references. */
export function compareNeeds(scan: KmiScan, needs: readonly string[]): { missing: string[]; unused: string[] } {
  const used = new Set([...scan.uses.keys(), ...scan.lookups.keys()]);
  const declared = new Set(needs);
  return {
    missing: [...used].filter((s) => !declared.has(s)).sort(),
    unused: [...declared].filter((s) => !used.has(s)).sort(),
  };
}
