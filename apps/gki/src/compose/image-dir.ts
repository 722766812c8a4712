import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { KernelImage, KernelModule } from '@gki/kernel';
import { parseConfigText } from '../kconfig/parse.js';
import { writeDotConfig } from '../kconfig/write.js';
import { defaultCatalogue, packageVersion, type BuildOptions, type Catalogue } from './catalogue.js';
import type { ImagePlan, PlannedModule } from './compose.js';
import { abiSymbolList, vmlinuxSymvers } from './kmi.js';
import {
  ALIAS_HEADER,
  kmodName,
  modulesAlias,
  modulesBuiltin,
  modulesBuiltinModinfo,
  modulesDep,
  modulesLoad,
  modulesOrder,
  modulesSoftdep,
  modulesSymbols,
  SOFTDEP_HEADER,
  softdepValue,
  SYMBOLS_HEADER,
} from './kmod-files.js';

export const IMAGE_FORMAT = 'gki-image/1';

/** One package of the image, as the manifest lists it. */
export interface ManifestModule {
  module: string;
  package: string;
  version: string;
  /** The Kconfig line that builds it. */
  config: string;
  /** `kernel/<object>.ko` (for built-ins: where it would be as a module). */
  path: string;
  /** Compiled-in sub-options. */
  options: Record<string, string>;
}

/** manifest.json: which package versions make up the image, and how it was configured. */
export interface ImageManifest {
  format: typeof IMAGE_FORMAT;
  generator: { package: string; version: string };
  rules: string;
  inputs: { base: string; config: string | null; omit: string[] };
  kernel: { package: string; version: string };
  builtin: ManifestModule[];
  modules: ManifestModule[];
  omitted: ManifestModule[];
  /** Module names, modules.load order. */
  load: string[];
}

/** The files of the image directory (path relative to it -> content). */
export type ImageFiles = Map<string, string>;

function manifestModule(p: PlannedModule, plan: ImagePlan): ManifestModule {
  return {
    module: p.module.name,
    package: p.entry.provider.package,
    version: p.entry.provider.version,
    config: `CONFIG_${p.entry.symbol}=${plan.config.get(p.entry.symbol).value}`,
    path: p.path,
    options: { ...p.options },
  };
}

/** The stand-in `.ko`: modinfo-style lines naming the package and version behind the module. */
export function koStandIn(p: PlannedModule): string {
  const m = p.module;
  const out = [
    '# gki module stand-in, not an ELF object: the module is the package named below.',
    `name=${m.name}`,
    `package=${p.entry.provider.package}`,
    `version=${p.entry.provider.version}`,
    `license=${m.license}`,
  ];
  if (m.description) out.push(`description=${m.description}`);
  const sd = softdepValue(p);
  if (sd) out.push(`softdep=${sd}`);
  for (const a of m.aliases ?? []) out.push(`alias=${a}`);
  for (const [k, v] of Object.entries(p.options)) out.push(`option=CONFIG_${k}=${v}`);
  return out.join('\n') + '\n';
}

/** Every file of the composed image. */
export function imageFiles(plan: ImagePlan, inputs: ImageManifest['inputs'], catalogue: Catalogue = defaultCatalogue()): ImageFiles {
  const manifest: ImageManifest = {
    format: IMAGE_FORMAT,
    generator: { package: 'gki', version: packageVersion('gki') },
    rules: plan.config.rules.name,
    inputs,
    kernel: { ...catalogue.kernel },
    builtin: plan.builtin.map((p) => manifestModule(p, plan)),
    modules: plan.modules.map((p) => manifestModule(p, plan)),
    omitted: plan.omitted.map((p) => manifestModule(p, plan)),
    load: plan.load.map((p) => p.module.name),
  };
  const files: ImageFiles = new Map([
    ['.config', writeDotConfig(plan.config)],
    ['manifest.json', JSON.stringify(manifest, null, 2) + '\n'],
    ['modules.order', modulesOrder(plan)],
    ['modules.builtin', modulesBuiltin(plan)],
    ['modules.builtin.modinfo', modulesBuiltinModinfo(plan)],
    ['modules.dep', modulesDep(plan)],
    ['modules.softdep', modulesSoftdep(plan)],
    ['modules.alias', modulesAlias(plan)],
    ['modules.symbols', modulesSymbols(plan)],
    ['modules.load', modulesLoad(plan)],
    ['vmlinux.symvers', vmlinuxSymvers(plan)],
    ['abi_symbol_list', abiSymbolList(plan)],
  ]);
  for (const p of plan.modules) files.set(p.path, koStandIn(p));
  return files;
}

export class ImageDirError extends Error {}

/**
 * Writes `files` as directory `dir`, all or nothing: into a temporary sibling first, then
 * renamed into place. An existing gki image at `dir` is replaced; anything else there (a
 * file, or a non-empty directory without a gki manifest) is refused with ImageDirError.
 */
export function writeImageDir(dir: string, files: ImageFiles): void {
  const target = resolve(dir);
  checkImageDirTarget(dir);
  const tmp = `${target}.gki-tmp-${process.pid}`;
  const old = `${target}.gki-old-${process.pid}`;
  try {
    makeDirs(dirname(target));
  } catch (e) {
    throw new ImageDirError(`cannot write ${dir}: ${(e as Error).message}`);
  }
  rmSync(tmp, { recursive: true, force: true });
  try {
    for (const [rel, content] of files) {
      const f = join(tmp, rel);
      makeDirs(dirname(f));
      writeFileSync(f, content);
    }
    if (existsSync(target)) renameSync(target, old);
    renameSync(tmp, target);
    rmSync(old, { recursive: true, force: true });
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    if (!existsSync(target) && existsSync(old)) renameSync(old, target);
    throw new ImageDirError(`cannot write ${dir}: ${(e as Error).message}`);
  }
}

/**
 * Throws ImageDirError unless `dir` can take an image: absent, an empty directory, or a
 * directory holding a gki image (which is replaced). Callers check before composing, so a
 * bad output directory is reported before any work.
 */
export function checkImageDirTarget(dir: string): void {
  const target = resolve(dir);
  if (!existsSync(target)) {
    // the directories to create under the nearest existing ancestor, which must be one
    let up = dirname(target);
    while (!existsSync(up) && dirname(up) !== up) up = dirname(up);
    if (!statSync(up).isDirectory()) throw new ImageDirError(`cannot write ${dir}: ${up} is not a directory`);
    return;
  }
  if (!statSync(target).isDirectory()) throw new ImageDirError(`${dir} exists and is not a directory`);
  if (readdirSync(target).length > 0 && !isImageManifest(join(target, 'manifest.json')))
    throw new ImageDirError(`refusing to replace ${dir}: it is not empty and holds no gki image (manifest.json)`);
}

/**
 * mkdir -p one component at a time. Node's `mkdirSync(p, { recursive: true })` never returns
 * where mkdir(2) keeps answering ENOENT under an existing parent (procfs, sysfs): here that
 * is the ENOENT error it is.
 */
function makeDirs(path: string): void {
  if (existsSync(path)) return;
  const parent = dirname(path);
  if (parent !== path) makeDirs(parent);
  mkdirSync(path);
}

function isImageManifest(file: string): boolean {
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { format?: unknown }).format === IMAGE_FORMAT;
  } catch {
    return false;
  }
}

/** A composed image read back: what the kernel boots, and the manifest it came with. */
export interface ImageDir {
  image: KernelImage;
  manifest: ImageManifest;
}

function str(v: unknown, what: string): string {
  if (typeof v !== 'string' || v === '') throw new ImageDirError(`manifest.json: ${what} is not a non-empty string`);
  return v;
}

function manifestList(v: unknown, what: string): ManifestModule[] {
  if (!Array.isArray(v)) throw new ImageDirError(`manifest.json: '${what}' is not a list`);
  return v.map((x, i) => {
    if (!x || typeof x !== 'object') throw new ImageDirError(`manifest.json: ${what}[${i}] is not an object`);
    const o = x as Record<string, unknown>;
    const options = o.options ?? {};
    if (!options || typeof options !== 'object' || Array.isArray(options) || Object.values(options).some((s) => typeof s !== 'string'))
      throw new ImageDirError(`manifest.json: ${what}[${i}].options is not a map of strings`);
    return {
      module: str(o.module, `${what}[${i}].module`),
      package: str(o.package, `${what}[${i}].package`),
      version: str(o.version, `${what}[${i}].version`),
      config: str(o.config, `${what}[${i}].config`),
      path: str(o.path, `${what}[${i}].path`),
      options: options as Record<string, string>,
    };
  });
}

function readText(dir: string, rel: string): string {
  const f = join(dir, rel);
  if (!existsSync(f)) throw new ImageDirError(`${rel} is missing`);
  try {
    return readFileSync(f, 'utf8');
  } catch (e) {
    throw new ImageDirError(`${rel}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** Non-comment lines of a text index, with their line numbers. */
function indexLines(text: string): [number, string][] {
  return text
    .split('\n')
    .map((l, i): [number, string] => [i + 1, l])
    .filter(([, l]) => l.trim() !== '' && !l.startsWith('#'));
}

/**
 * Reads a composed image directory back and checks it is whole: the manifest, every package
 * it names present in this build of gki at the same version, each module's stand-in `.ko`
 * naming that package and version, modules.dep / modules.load / modules.softdep /
 * modules.alias / modules.symbols / modules.order well formed and about the image's modules,
 * and the other files of the image present. Returns the
 * image as the kernel boots it. Throws ImageDirError (its message names the file and line).
 */
export function readImageDir(dir: string, catalogue: Catalogue = defaultCatalogue()): ImageDir {
  if (!existsSync(dir)) throw new ImageDirError('no such directory');
  if (!statSync(dir).isDirectory()) throw new ImageDirError('not a directory');
  let raw: unknown;
  try {
    raw = JSON.parse(readText(dir, 'manifest.json'));
  } catch (e) {
    if (e instanceof ImageDirError) throw e;
    throw new ImageDirError(`manifest.json: not JSON (${(e as Error).message})`);
  }
  if (!raw || typeof raw !== 'object') throw new ImageDirError('manifest.json: not an object');
  const m = raw as Record<string, unknown>;
  if (m.format !== IMAGE_FORMAT) throw new ImageDirError(`manifest.json: format '${String(m.format)}' is not ${IMAGE_FORMAT}`);
  const kernel = m.kernel as Record<string, unknown> | undefined;
  const builtin = manifestList(m.builtin, 'builtin');
  const modules = manifestList(m.modules, 'modules');
  const omitted = m.omitted === undefined ? [] : manifestList(m.omitted, 'omitted');
  if (!Array.isArray(m.load) || m.load.some((x) => typeof x !== 'string')) throw new ImageDirError("manifest.json: 'load' is not a list of module names");
  if (!kernel || typeof kernel !== 'object') throw new ImageDirError("manifest.json: 'kernel' is missing");
  const kVersion = str(kernel.version, 'kernel.version');
  if (kVersion !== catalogue.kernel.version)
    throw new ImageDirError(`the image was composed for ${catalogue.kernel.package} ${kVersion}; this gki has ${catalogue.kernel.version}`);

  const build = (mm: ManifestModule, what: string): KernelModule => {
    const e = catalogue.byModule(mm.module);
    if (!e || !e.provider) throw new ImageDirError(`manifest.json: ${what} module '${mm.module}' is not provided by any package of this gki`);
    if (e.provider.package !== mm.package) throw new ImageDirError(`manifest.json: ${what} module '${mm.module}' comes from ${mm.package}; this gki has it from ${e.provider.package}`);
    if (e.provider.version !== mm.version) throw new ImageDirError(`manifest.json: the image has ${mm.package} ${mm.version}; this gki has ${e.provider.version}`);
    return e.provider.build(mm.options as BuildOptions);
  };
  const builtinMods = builtin.map((b) => build(b, 'built-in'));
  const mods = modules.map((b) => build(b, 'loadable'));

  // each stand-in .ko names its package and version
  for (const mm of modules) {
    const text = readText(dir, mm.path);
    const fields = new Map<string, string>();
    for (const [n, l] of indexLines(text)) {
      const eq = l.indexOf('=');
      if (eq <= 0) throw new ImageDirError(`${mm.path}:${n}: not a key=value line`);
      if (!fields.has(l.slice(0, eq))) fields.set(l.slice(0, eq), l.slice(eq + 1));
    }
    for (const [k, want] of [['name', mm.module], ['package', mm.package], ['version', mm.version]] as const) {
      if (fields.get(k) !== want) throw new ImageDirError(`${mm.path}: ${k} is '${fields.get(k) ?? ''}', the manifest says '${want}'`);
    }
  }

  // modules.dep: one line per shipped module; every path one of them
  const paths = new Map(modules.map((mm) => [mm.path, mm]));
  const depLines = new Map<string, string[]>();
  for (const [n, l] of indexLines(readText(dir, 'modules.dep'))) {
    const colon = l.indexOf(':');
    if (colon <= 0) throw new ImageDirError(`modules.dep:${n}: expected 'PATH: DEP...'`);
    const p = l.slice(0, colon);
    const deps = l.slice(colon + 1).split(' ').filter(Boolean);
    for (const x of [p, ...deps]) if (!paths.has(x)) throw new ImageDirError(`modules.dep:${n}: ${x} is not a module of the image`);
    if (depLines.has(p)) throw new ImageDirError(`modules.dep:${n}: ${p} listed twice`);
    depLines.set(p, deps);
  }
  for (const mm of modules) if (!depLines.has(mm.path)) throw new ImageDirError(`modules.dep: no line for ${mm.path}`);

  // modules.load: paths of the image's modules, in boot order
  const load: string[] = [];
  for (const [n, l] of indexLines(readText(dir, 'modules.load'))) {
    const mm = paths.get(l.trim());
    if (!mm) throw new ImageDirError(`modules.load:${n}: ${l.trim()} is not in modules.dep`);
    load.push(mm.module);
  }

  const names = new Set(modules.map((mm) => kmodName(mm.module)));
  const checkIndex = (file: string, header: string, re: RegExp, nameAt: number) => {
    const text = readText(dir, file);
    if (!text.startsWith(header)) throw new ImageDirError(`${file}: missing depmod's header line`);
    for (const [n, l] of indexLines(text)) {
      const mt = re.exec(l);
      if (!mt) throw new ImageDirError(`${file}:${n}: malformed line: ${l}`);
      if (!names.has(mt[nameAt]!)) throw new ImageDirError(`${file}:${n}: ${mt[nameAt]} is not a module of the image`);
    }
  };
  checkIndex('modules.softdep', SOFTDEP_HEADER, /^softdep (\S+)( (pre|post): \S+( \S+)*)+$/, 1);
  checkIndex('modules.alias', ALIAS_HEADER, /^alias (\S+) (\S+)$/, 2);
  checkIndex('modules.symbols', SYMBOLS_HEADER, /^alias symbol:(\S+) (\S+)$/, 2);

  // the kbuild lists and KMI files: present, and naming only the image's modules where they name any
  for (const f of ['modules.order', 'modules.builtin', 'modules.builtin.modinfo', 'vmlinux.symvers', 'abi_symbol_list']) readText(dir, f);
  for (const [n, l] of indexLines(readText(dir, 'modules.order'))) if (!paths.has(l)) throw new ImageDirError(`modules.order:${n}: ${l} is not in modules.dep`);
  if (!readText(dir, 'abi_symbol_list').startsWith('[abi_symbol_list]\n')) throw new ImageDirError("abi_symbol_list: missing the '[abi_symbol_list]' section header");

  const dotConfig = parseConfigText(readText(dir, '.config'), '.config');
  const bad = dotConfig.diagnostics.find((d) => d.severity === 'error');
  if (bad) throw new ImageDirError(`.config:${bad.line ?? 0}: ${bad.message}`);

  const manifest: ImageManifest = {
    format: IMAGE_FORMAT,
    generator: (m.generator as ImageManifest['generator']) ?? { package: 'gki', version: '?' },
    rules: typeof m.rules === 'string' ? m.rules : '?',
    inputs: (m.inputs as ImageManifest['inputs']) ?? { base: '?', config: null, omit: [] },
    kernel: { package: str(kernel.package, 'kernel.package'), version: kVersion },
    builtin,
    modules,
    omitted,
    load: m.load as string[],
  };
  return { image: { builtin: builtinMods, modules: mods, load }, manifest };
}
