#!/usr/bin/env node
/**
 * Runs the workloads on the arm64 boards of a Linux kernel source directory, the way a user
 * would boot them: each tree trimmed of clocks and power domains only (scripts/trim-dts.mjs
 * --only-clocks-and-power), the default image composed once, then `gki run IMAGE --board FILE
 * --workload all --json` for each board. Failures are grouped by cause (the first problem,
 * unexpected error or exception of each board, with addresses, numbers and device names
 * blanked out).
 *
 *   node scripts/sweep-kernel-trees.mjs KSRC [--all] [--kernel-headers] [--compare-dtc] [--arch arm64|arm] [--jobs N] [--batch N] [--only RE] [--ops N]
 *        [--timeout S] [--work DIR] [--json FILE] [--list]
 *
 * KSRC is a kernel source directory (arch/arm64/boot/dts, and arch/arm/boot/dts for the
 * `<arm/...>` and `"arm/..."` includes some arm64 boards use; flat in v6.1, with vendor
 * directories from v6.5). The boards are every `.dts` that is not an overlay (trees before v6.2
 * name overlays `.dts` too, with /plugin/), plus the composite boards of the Makefiles
 * (`NAME-dtbs := base.dtb extra.dtbo`: the base with its overlays applied, `gki run
 * --overlay`), named `dir/NAME.dtb`. By default a board is run when its compiled tree has an
 * SMMU (arm,smmu-v3, arm,mmu-500, arm,smmu-v2, arm,mmu-40x, qcom,*-smmu-*, nvidia,*smmu*) or a
 * Qualcomm secure IOMMU (qcom,msm-iommu-v1/v2), an
 * Adreno (qcom,adreno*) or a Mali compatible panfrost matches. Options:
 *   --all         run every board, also those with no modelled IOMMU or GPU (their workloads
 *                 that need one report that there is nothing to do)
 *   --kernel-headers
 *                 also give KSRC/include as an include directory, so <dt-bindings/...> headers
 *                 come from the kernel (by default only the ones @gki/hw ships are there, as
 *                 for a user with the board's files alone; the rest read as 0 where harmless)
 *   --compare-dtc also compile each board with the kernel's tools (cpp, dtc; dtc -@ and
 *                 fdtoverlay for a composite) and count a board whose blob differs from the
 *                 project's as failed (byte for byte; a composite by its nodes and their
 *                 properties, a cell differing only where both hold a phandle of the same
 *                 node); implies --kernel-headers
 *   --arch arm    sweep the 32-bit boards of arch/arm/boot/dts instead (default arm64)
 *   --jobs N      worker processes (default 1; the machine is shared)
 *   --batch N     boards per worker process before it is replaced (default 40)
 *   --only RE     only boards whose name (relative to arch/arm64/boot/dts) matches RE
 *   --ops N       stress operations per board (default: gki run's default, 1000)
 *   --timeout S   a board that runs longer is killed and counted as "timeout" (default 300)
 *   --work DIR    where the trimmed trees and the image go (default: a fresh temporary directory)
 *   --json FILE   write every board's result (status, cause, times) as JSON
 *   --list        only list the boards that would be swept
 *
 * This is run on demand, never from `pnpm test`: a v6.12 tree has ~1100 arm64 boards, of which
 * several hundred have a modelled IOMMU or GPU, and each boots and runs in a second or more.
 * The workers load the TypeScript sources directly (tsx with the `@gki/source` condition), so
 * no build is needed.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline';

const root = resolve(new URL('..', import.meta.url).pathname);
const argv = process.argv.slice(2);

function usage(msg) {
  if (msg) console.error(`sweep-kernel-trees: ${msg}`);
  console.error('usage: sweep-kernel-trees.mjs KSRC [--all] [--kernel-headers] [--compare-dtc] [--arch arm64|arm] [--jobs N] [--batch N] [--only RE] [--ops N] [--timeout S] [--work DIR] [--json FILE] [--list]');
  process.exit(2);
}

function parseMainArgs(a) {
  const o = { ksrc: null, jobs: 1, batch: 40, only: null, ops: null, timeout: 300, work: null, json: null, list: false, all: false, kernelHeaders: false, compareDtc: false, arch: 'arm64' };
  const int = (v, name) => {
    if (!/^\d+$/.test(v ?? '') || Number(v) < 1) usage(`--${name} needs a positive integer, got '${v}'`);
    return Number(v);
  };
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    if (x === '--jobs') o.jobs = int(a[++i], 'jobs');
    else if (x === '--batch') o.batch = int(a[++i], 'batch');
    else if (x === '--only') {
      const re = a[++i];
      if (re === undefined) usage('--only needs a regular expression');
      try {
        o.only = new RegExp(re);
      } catch (e) {
        usage(`--only ${re}: not a regular expression (${e.message})`);
      }
    }
    else if (x === '--ops') o.ops = int(a[++i], 'ops');
    else if (x === '--timeout') o.timeout = int(a[++i], 'timeout');
    else if (x === '--work') o.work = a[++i] ?? usage('--work needs a directory');
    else if (x === '--json') o.json = a[++i] ?? usage('--json needs a file');
    else if (x === '--list') o.list = true;
    else if (x === '--all') o.all = true;
    else if (x === '--kernel-headers') o.kernelHeaders = true;
    else if (x === '--compare-dtc') o.compareDtc = o.kernelHeaders = true;
    else if (x === '--arch') {
      o.arch = a[++i];
      if (o.arch !== 'arm64' && o.arch !== 'arm') usage(`--arch takes arm64 or arm, got '${o.arch}'`);
    }
    else if (x.startsWith('-')) usage(`unknown option '${x}'`);
    else if (o.ksrc === null) o.ksrc = x;
    else usage(`one kernel source directory, got '${o.ksrc}' and '${x}'`);
  }
  if (!o.ksrc) usage('no kernel source directory');
  // the summary file is checked before a sweep of hours, not after it
  if (o.json !== null) {
    const dir = dirname(resolve(o.json));
    if (!existsSync(dir) || !statSync(dir).isDirectory()) usage(`--json ${o.json}: its folder ${dir} does not exist (ENOENT)`);
  }
  return o;
}

function walk(dir, out = []) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}

const INCLUDE_RE = /^[ \t]*(?:#[ \t]*include|\/include\/)[ \t]*([<"])([^>"]+)[>"]/gm;

/**
 * The kernel's dtc include prefixes (scripts/dtc/include-prefixes): `arm64/...` and `arm/...`
 * name the two architectures' dts directories. `dt-bindings/...` is left to the compiler's own
 * headers, as a user without the kernel's include/ would have it.
 */
function resolveInclude(from, kind, name, prefixes) {
  const cands = [];
  if (kind === '"') cands.push(join(dirname(from), name));
  for (const [p, dir] of Object.entries(prefixes)) if (name.startsWith(`${p}/`)) cands.push(join(dir, name.slice(p.length + 1)));
  return cands.find((c) => existsSync(c) && statSync(c).isFile()) ?? null;
}

/** The board file and every file it includes (dt-bindings headers aside). */
function closure(file, prefixes) {
  const seen = new Set();
  const todo = [file];
  while (todo.length) {
    const f = todo.pop();
    if (seen.has(f)) continue;
    seen.add(f);
    const text = readFileSync(f, 'latin1');
    for (const m of text.matchAll(INCLUDE_RE)) {
      if (m[2].startsWith('dt-bindings/')) continue;
      const r = resolveInclude(f, m[1], m[2], prefixes);
      if (r) todo.push(r);
    }
  }
  return [...seen];
}

const PLUGIN_RE = /^[ \t]*\/plugin\/[ \t]*;/m;

/**
 * The kernel's composite boards: `NAME-dtbs := base.dtb extra.dtbo ...` (or `+=`) in a dts
 * Makefile makes NAME.dtb from the base with the overlays applied in order (dtc -@ and
 * fdtoverlay). A base may itself be a composite. Overlays are `.dtso` sources (v6.2 on) or
 * `.dts` ones with /plugin/ (older trees).
 */
function compositeBoards(arm64) {
  const boards = [];
  const warnings = [];
  for (const mk of walk(arm64).filter((f) => f.endsWith('/Makefile'))) {
    const dir = dirname(mk);
    const text = readFileSync(mk, 'latin1').replace(/\\\n/g, ' ');
    const parts = new Map();
    for (const m of text.matchAll(/^([\w.,+-]+)-dtbs[ \t]*(:?\+?=)[ \t]*(.*)$/gm)) {
      const list = m[3].replace(/#.*/, '').trim().split(/\s+/).filter(Boolean);
      parts.set(m[1], m[2] === '+=' ? [...(parts.get(m[1]) ?? []), ...list] : list);
    }
    const expand = (name, depth = 0) => {
      const list = parts.get(name);
      if (!list || depth > 8) return null;
      const out = { board: null, overlays: [] };
      for (const item of list) {
        const stem = item.replace(/\.dtbo?$/, '');
        if (item.endsWith('.dtb') && out.board === null) {
          if (existsSync(join(dir, `${stem}.dts`)) && !parts.has(stem)) out.board = join(dir, `${stem}.dts`);
          else {
            const inner = expand(stem, depth + 1);
            if (!inner) return null;
            out.board = inner.board;
            out.overlays.push(...inner.overlays);
          }
        } else if (item.endsWith('.dtbo')) {
          const src = [`${stem}.dtso`, `${stem}.dts`].map((f) => join(dir, f)).find((f) => existsSync(f));
          if (!src) return null;
          out.overlays.push(src);
        } else return null;
      }
      return out.board ? out : null;
    };
    for (const name of parts.keys()) {
      const b = expand(name);
      if (b && b.overlays.length > 0) boards.push({ rel: `${relative(arm64, join(dir, name))}.dtb`, ...b });
      else warnings.push(`${relative(arm64, mk)}: ${name}-dtbs = ${parts.get(name).join(' ')}: not a base .dts and overlays found here, left out`);
    }
  }
  return { boards, warnings };
}

const CANDIDATE_RE = /arm,smmu-v3|arm,mmu-500|arm,smmu-v2|arm,mmu-40[01]|qcom,[a-z0-9]+-smmu-|nvidia,[a-z0-9-]*smmu|qcom,msm-iommu-v[12]|qcom,adreno|mali/;

async function main(a) {
  const o = parseMainArgs(a);
  const ksrc = resolve(o.ksrc);
  const arm64Dir = join(ksrc, 'arch/arm64/boot/dts');
  const armDir = join(ksrc, 'arch/arm/boot/dts');
  // the directory whose boards are swept (named arm64 below, whichever it is)
  const arm64 = o.arch === 'arm' ? armDir : arm64Dir;
  if (!existsSync(arm64)) usage(`${o.ksrc}: no arch/${o.arch}/boot/dts here`);
  // the kernel's include prefixes name each architecture's dts directory (`<arm/...>`,
  // `<arm64/...>`, and `<riscv/...>` in the arm boards of SoCs shared with RISC-V)
  const archRoot = join(ksrc, 'arch');
  const prefixes = Object.fromEntries(
    readdirSync(archRoot, { withFileTypes: true })
      .filter((e) => e.isDirectory() && existsSync(join(archRoot, e.name, 'boot/dts')))
      .map((e) => [e.name, join(archRoot, e.name, 'boot/dts')]),
  );
  const sources = walk(arm64).filter((f) => f.endsWith('.dts'));
  // an overlay is no board: v6.1 and older name overlays .dts (with /plugin/), later ones .dtso
  const isOverlay = (f) => PLUGIN_RE.test(readFileSync(f, 'latin1'));
  const overlaySources = sources.filter(isOverlay);
  const plain = sources.filter((f) => !overlaySources.includes(f)).map((f) => ({ rel: relative(arm64, f), board: f, overlays: [] }));
  const composite = compositeBoards(arm64);
  for (const w of composite.warnings) console.error(`sweep: ${w}`);
  const boards = [...plain, ...composite.boards].filter((b) => !o.only || o.only.test(b.rel)).sort((x, y) => (x.rel < y.rel ? -1 : x.rel > y.rel ? 1 : 0));
  // cheap text pre-filter on the include closure; the worker decides on the compiled tree
  const plan = [];
  for (const b of boards) {
    const files = [...new Set([b.board, ...b.overlays].flatMap((f) => closure(f, prefixes)))];
    if (o.all || files.some((f) => CANDIDATE_RE.test(readFileSync(f, 'latin1')))) plan.push({ ...b, files });
  }
  const what = `${plain.length} ${o.arch} board files and ${composite.boards.length} composite boards (a base and overlays, from the Makefiles; ${overlaySources.length} overlays named .dts are no boards)`;
  console.error(o.all ? `sweep: ${what}, all ${plan.length} run (--all)` : `sweep: ${what}, ${plan.length} mention an SMMU, an Adreno or a Mali`);
  if (o.list) {
    for (const p of plan) console.log(p.overlays.length ? `${p.rel} = ${[p.board, ...p.overlays].map((f) => relative(arm64, f)).join(' + ')}` : p.rel);
    return;
  }
  const work = resolve(o.work ?? mkdtempSync(join(tmpdir(), 'gki-sweep-')));
  mkdirSync(work, { recursive: true });
  // mirror the needed files, trimmed of clocks and power domains, directory by directory
  // (the light trim removes properties only, so each file trims on its own)
  const mirror = Object.fromEntries(Object.keys(prefixes).map((p) => [p, join(work, 'dts', p)]));
  const byDir = new Map();
  for (const p of plan) {
    for (const f of p.files) {
      const d = dirname(f);
      if (!byDir.has(d)) byDir.set(d, new Set());
      byDir.get(d).add(f);
    }
  }
  const mirrored = (f) => {
    for (const [p, dir] of Object.entries(prefixes)) if (f.startsWith(`${dir}/`)) return join(mirror[p], relative(dir, f));
    throw new Error(`${f} is outside the dts directories`);
  };
  for (const [d, files] of byDir) {
    const out = dirname(mirrored(join(d, 'x')));
    mkdirSync(out, { recursive: true });
    const r = spawnSync(process.execPath, [join(root, 'scripts/trim-dts.mjs'), '--only-clocks-and-power', '--origin', `${relative(ksrc, d)} of ${ksrc}`, '--out', out, ...files], { encoding: 'utf8' });
    if (r.status !== 0) {
      console.error(`sweep: trim-dts failed in ${d}: ${r.stderr}`);
      process.exit(1);
    }
  }
  console.error(`sweep: trimmed ${[...byDir.values()].reduce((n, s) => n + s.size, 0)} files into ${work}/dts`);
  // the default image, composed once
  const image = join(work, 'image');
  const workerCmd = [process.execPath, '--conditions=@gki/source', '--import', 'tsx', new URL(import.meta.url).pathname, '--worker'];
  {
    const r = spawnSync(workerCmd[0], [...workerCmd.slice(1), 'compose', image], { encoding: 'utf8', cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
    if (r.status !== 0) process.exit(1);
  }
  const queue = plan.map((p) => ({ board: mirrored(p.board), overlays: p.overlays.map(mirrored), rel: p.rel }));
  const results = [];
  const started = Date.now();
  let next = 0;
  const runOne = () =>
    new Promise((done) => {
      const batch = [];
      while (batch.length < o.batch && next < queue.length) batch.push(queue[next++]);
      if (batch.length === 0) return done(false);
      const args = [...workerCmd.slice(1), 'run', image, String(o.ops ?? 0), `${o.all ? 'all' : 'modelled'}${o.compareDtc ? ',dtc' : ''}`, JSON.stringify([join(work, 'dts/prefixes'), ...(o.kernelHeaders ? [join(ksrc, 'include')] : [])]), JSON.stringify(batch.map((b) => ({ board: b.board, overlays: b.overlays })))];
      const child = spawn(workerCmd[0], args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
      let current = 0;
      let timer;
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(() => child.kill('SIGKILL'), o.timeout * 1000);
      };
      arm();
      let stderr = '';
      child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
      createInterface({ input: child.stdout }).on('line', (line) => {
        if (!line.startsWith('{')) return;
        const r = JSON.parse(line);
        r.rel = batch[current].rel;
        results.push(r);
        current++;
        arm();
        const n = results.length;
        const mark = r.status === 'ok' ? 'ok' : r.status === 'skip' ? 'skip' : `FAIL ${r.cause}`;
        console.error(`[${n}/${queue.length} ${((Date.now() - started) / 1000).toFixed(0)}s] ${r.rel}: ${mark} (${r.ms} ms)`);
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (current < batch.length) {
          // the board being run died or hung: record it, put the rest back
          const b = batch[current];
          const why = signal === 'SIGKILL' ? `timeout (> ${o.timeout} s)` : `worker exited (${code ?? signal}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`;
          results.push({ rel: b.rel, status: 'fail', cause: signal === 'SIGKILL' ? 'timeout' : 'worker crashed', detail: [why], ms: 0 });
          console.error(`[${results.length}/${queue.length}] ${b.rel}: FAIL ${why}`);
          queue.push(...batch.slice(current + 1));
        }
        done(true);
      });
    });
  mkdirSync(join(work, 'dts/prefixes'), { recursive: true });
  for (const [p, dir] of Object.entries(mirror)) {
    const link = join(work, 'dts/prefixes', p);
    if (!existsSync(link)) spawnSync('ln', ['-s', dir, link]);
  }
  await Promise.all(
    Array.from({ length: o.jobs }, async () => {
      while (await runOne());
    }),
  );
  summarize(results, (Date.now() - started) / 1000, o.json);
}

function summarize(results, seconds, jsonFile) {
  const swept = results.filter((r) => r.status !== 'skip');
  const ok = swept.filter((r) => r.status === 'ok');
  const byCause = new Map();
  for (const r of swept.filter((x) => x.status !== 'ok')) {
    if (!byCause.has(r.cause)) byCause.set(r.cause, []);
    byCause.get(r.cause).push(r);
  }
  const causes = [...byCause].sort((x, y) => y[1].length - x[1].length);
  console.log(`sweep: ${results.length} boards looked at, ${results.length - swept.length} skipped (nothing modelled in the compiled tree), ${swept.length} run, ${ok.length} OK, ${swept.length - ok.length} failed; ${seconds.toFixed(0)} s`);
  const without = swept.filter((r) => r.modelled === false);
  if (without.length > 0) console.log(`(${without.length} of those run have no modelled SMMU, Adreno or Mali: ${without.filter((r) => r.status === 'ok').length} OK)`);
  for (const [cause, rs] of causes) {
    console.log(`\n${rs.length} x ${cause}`);
    for (const r of rs.slice(0, 8)) console.log(`    ${r.rel}${r.detail?.[0] ? `: ${r.detail[0]}` : ''}`);
    if (rs.length > 8) console.log(`    ... and ${rs.length - 8} more`);
  }
  // boards that ran clean but whose GPU a driver refused (a part the catalog does not list, say)
  const refused = swept.filter((r) => (r.gpus ?? []).some((g) => !g.endsWith(':bound')));
  const gpusBound = swept.filter((r) => (r.gpus ?? []).some((g) => g.endsWith(':bound'))).length;
  console.log(`\nGPU bound and run on ${gpusBound} board(s); a GPU left unbound or refused on ${refused.length}:`);
  for (const r of refused.slice(0, 20)) console.log(`    ${r.rel}: ${r.gpus.filter((g) => !g.endsWith(':bound')).join(', ')} (${r.compat.filter((c) => /adreno-[0-9]|mali/.test(c)).join(', ')})`);
  if (refused.length > 20) console.log(`    ... and ${refused.length - 20} more`);
  const smmuLeft = swept.filter((r) => (r.smmus ?? []).length > 0);
  console.log(`\nan SMMU left unbound on ${smmuLeft.length} board(s):`);
  for (const r of smmuLeft.slice(0, 20)) console.log(`    ${r.rel}: ${r.smmus.join(', ')}`);
  if (smmuLeft.length > 20) console.log(`    ... and ${smmuLeft.length - 20} more`);
  if (jsonFile) writeFileSync(jsonFile, JSON.stringify({ seconds, boards: results.length, run: swept.length, ok: ok.length, causes: causes.map(([c, rs]) => ({ cause: c, boards: rs.map((r) => r.rel) })), results }, null, 2));
}

// ---------------------------------------------------------------------------------------------
// the worker: runs in a tsx process, boots and runs boards in-process one after the other

/** A message with what varies between boards blanked out, so the same cause groups together. */
function normalize(msg) {
  return String(msg)
    .replace(/\b[0-9a-f]+\.[a-z][\w-]*(?::[\w@,.-]+)?/gi, '<dev>')
    .replace(/\/[\w@,.\-/]+/g, '<path>')
    .replace(/0x[0-9a-f]+/gi, '0x#')
    .replace(/\b\d+(\.\d+)?\b/g, '#')
    .slice(0, 200);
}

const SMMU_RE = /^(arm,smmu-v3|arm,mmu-500|arm,smmu-v2|arm,mmu-40[01]|qcom,[a-z0-9]+-smmu-(v2|500)|nvidia,[a-z0-9-]*smmu[a-z0-9-]*|qcom,msm-iommu-v[12])$/;
const ADRENO_RE = /^qcom,adreno/;

/**
 * The blob the kernel's tools make of a board (cpp with the kernel's flags, then dtc; dtc -@ and
 * fdtoverlay with overlays) against `compiled`, the project's: null when they agree, else what
 * differs. Without overlays the blobs must be byte-identical; with overlays (phandle numbers,
 * the order fdtoverlay inserts in and -@'s __symbols__ differ by design) every node path and
 * property must be in both with the same value, but for cells that hold phandles of the same
 * node in each tree.
 */
function compareWithDtc(hw, file, overlays, includes, compiled) {
  const tmp = mkdtempSync(join(tmpdir(), 'gki-sweep-dtc-'));
  try {
    const blob = (src, at, plugin) => {
      const cpp = spawnSync('cpp', ['-nostdinc', '-undef', '-D__DTS__', '-x', 'assembler-with-cpp', '-I', dirname(src), ...includes.flatMap((d) => ['-I', d]), src], { encoding: 'latin1', maxBuffer: 1 << 28 });
      if (cpp.status !== 0) throw new Error(`cpp ${src}: ${cpp.stderr.trim().split('\n').slice(-2).join(' | ')}`);
      writeFileSync(join(tmp, `${at}.dts`), cpp.stdout, 'latin1');
      const r = spawnSync('dtc', ['-q', ...(plugin ? ['-@'] : []), '-i', dirname(src), '-I', 'dts', '-O', 'dtb', '-o', join(tmp, `${at}.dtb`), join(tmp, `${at}.dts`)], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`dtc ${src}: ${r.stderr.trim().split('\n').slice(-2).join(' | ')}`);
      return join(tmp, `${at}.dtb`);
    };
    if (overlays.length === 0) {
      const theirs = readFileSync(blob(file, 'base', false));
      const mine = compiled.dtb;
      if (theirs.length === mine.length && theirs.every((b, i) => b === mine[i])) return null;
      let i = 0;
      while (i < Math.min(theirs.length, mine.length) && theirs[i] === mine[i]) i++;
      return `blob differs at byte ${i} (sizes ${mine.length} and dtc's ${theirs.length})`;
    }
    const base = blob(file, 'base', true);
    const ovs = overlays.map((f, i) => blob(f, `ov${i}`, true));
    const r = spawnSync('fdtoverlay', ['-i', base, '-o', join(tmp, 'out.dtb'), ...ovs], { encoding: 'utf8' });
    if (r.status !== 0) return `fdtoverlay failed: ${r.stderr.trim().split('\n').pop()}`;
    // every node path and property, with each tree's phandle -> path map to compare cells that
    // hold phandles: a cell may differ only where both hold a phandle of the same node
    const flat = (tree) => {
      const props = new Map();
      const ph = new Map();
      const byPath = new Map();
      const walk = (n, path) => {
        if (['__symbols__', '__fixups__', '__local_fixups__'].includes(n.name)) return;
        props.set(path, null);
        for (const p of n.props) {
          if (p.name === 'phandle' || p.name === 'linux,phandle') {
            if (p.value.length === 4) {
              ph.set(Buffer.from(p.value).readUInt32BE(0), path || '/');
              byPath.set(path || '/', Buffer.from(p.value).readUInt32BE(0));
            }
          } else props.set(`${path}:${p.name}`, Buffer.from(p.value));
        }
        for (const c of n.children) walk(c, `${path}/${c.name}`);
      };
      walk(tree.root, '');
      return { props, ph, byPath };
    };
    const theirs = flat(hw.parseDtb(new Uint8Array(readFileSync(join(tmp, 'out.dtb')))));
    const mine = flat(compiled.tree);
    const sameValue = (a, b) => {
      if (a.equals(b)) return true;
      if (a.length !== b.length || a.length % 4 !== 0) return false;
      for (let i = 0; i < a.length; i += 4) {
        const x = a.readUInt32BE(i);
        const y = b.readUInt32BE(i);
        if (x === y) continue;
        const px = mine.ph.get(x);
        const py = theirs.ph.get(y);
        // fdtoverlay before libfdt 1.7.1 lets an overlay's `phandle` replace the one of the
        // node it merges into (both label it), leaving the base's references to that node
        // dangling; the project keeps one number per node, as later libfdt does
        if (px !== py && !(py === undefined && px !== undefined && theirs.byPath.has(px) && theirs.byPath.get(px) !== y)) return false;
        // both dangling (a reference to an overlay node fdtoverlay does not apply): fine only
        // when neither number is a phandle of the tree
        if (px === undefined && (x === 0 || y === 0)) return false;
      }
      return true;
    };
    for (const [k, v] of theirs.props) {
      if (!mine.props.has(k)) return `${v === null ? 'node' : 'property'} ${k || '/'} only in dtc+fdtoverlay's tree`;
      const w = mine.props.get(k);
      if ((v === null) !== (w === null) || (v !== null && !sameValue(w, v))) return `${k} differs`;
    }
    for (const [k, w] of mine.props) if (!theirs.props.has(k)) return `${w === null ? 'node' : 'property'} ${k || '/'} only in the project's tree`;
    return null;
  } catch (e) {
    return e.message;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function worker(a) {
  const [cmd, ...rest] = a;
  const gki = await import(join(root, 'apps/gki/src/index.ts'));
  if (cmd === 'compose') {
    const code = await gki.main(['compose', '-o', rest[0]], { out: () => {}, err: (s) => console.error(s) });
    process.exit(code);
  }
  const hw = await import(join(root, 'packages/hw/src/index.ts'));
  const { PANFROST_OF_MATCH } = await import(join(root, 'packages/drm-panfrost/src/device.ts'));
  const mali = new Set(PANFROST_OF_MATCH.map((m) => m.compatible));
  const [image, opsArg, which, includesJson, batchJson] = rest;
  const includes = JSON.parse(includesJson);
  const ops = Number(opsArg);
  const wanted = (c) => SMMU_RE.test(c) || ADRENO_RE.test(c) || mali.has(c);
  for (const { board: file, overlays } of JSON.parse(batchJson)) {
    const t0 = Date.now();
    let res;
    try {
      const compiled = hw.compileDtsFile(file, { includeDirs: [dirname(file), ...includes], overlays });
      const tree = hw.parseDtb(compiled.dtb);
      const found = new Set();
      const visit = (n) => {
        const p = n.props.find((x) => x.name === 'compatible');
        if (p) for (const c of new TextDecoder('latin1').decode(p.value).split('\0')) if (c && wanted(c)) found.add(c);
        for (const ch of n.children) visit(ch);
      };
      visit(tree.root);
      const dtcDiff = which.endsWith(',dtc') ? compareWithDtc(hw, file, overlays, includes, compiled) : null;
      if (dtcDiff !== null) {
        res = { status: 'fail', cause: `differs from dtc: ${normalize(dtcDiff)}`, detail: [dtcDiff] };
      } else if (found.size === 0 && !which.startsWith('all')) {
        res = { status: 'skip' };
      } else {
        let out = '';
        const errs = [];
        const args = ['run', image, '--board', file, ...overlays.flatMap((f) => ['--overlay', f]), ...includes.flatMap((d) => ['-I', d]), '--workload', 'all', '--json', ...(ops > 0 ? ['--ops', String(ops)] : [])];
        const code = await gki.main(args, { out: (s) => (out += s), err: (s) => errs.push(s) });
        const compat = [...found].sort();
        if (!out.startsWith('{')) {
          const first = errs.find((e) => !/^warning:|: warning:/.test(e)) ?? errs[0] ?? `exit ${code}`;
          res = { status: 'fail', cause: `no report: ${normalize(first)}`, detail: [first], compat };
        } else {
          const r = JSON.parse(out);
          const problems = [
            ...r.workloads.flatMap((w) => w.problems.map((p) => `${w.name}: ${p}`)),
            ...r.workloads.filter((w) => !w.ok && w.problems.length === 0).map((w) => `${w.name}: failed`),
            ...r.unexpectedErrors.map((e) => `error: ${e.who}: ${e.msg}`),
            ...(r.memory.shutdownOk ? [] : [`shutdown: ${r.memory.pagesAfterShutdown} pages left`]),
          ];
          const times = Object.fromEntries(r.workloads.map((w) => [w.name, Math.round(w.wallMs)]));
          const gpus = r.boot.devices.filter((d) => d.driver === 'adreno' || d.driver === 'panfrost').map((d) => `${d.name}:${d.state}`);
          // SMMUs of the tree that no driver bound (a compatible the image does not match, a refused instance)
          const smmus = r.boot.devices.filter((d) => d.compatible && /(^|[,-])smmu|mmu-40[01]|mmu-500|msm-iommu-v[12]$/.test(d.compatible) && d.state !== 'bound').map((d) => `${d.name}:${d.compatible}:${d.state}`);
          if (r.ok) res = { status: 'ok', compat, times, bootMs: Math.round(r.boot.wallMs), gpus, smmus, counts: r.boot.counts };
          else res = { status: 'fail', cause: normalize(problems[0] ?? 'not ok'), detail: problems.slice(0, 6), compat, times, gpus, smmus };
        }
      }
    } catch (e) {
      const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      const at = e instanceof Error ? (e.stack ?? '').split('\n').slice(1, 3).map((s) => s.trim()).join(' ') : '';
      res = { status: 'fail', cause: `exception: ${normalize(msg)}`, detail: [msg, at] };
    }
    if (res.status !== 'skip' && res.compat) res.modelled = res.compat.length > 0;
    res.ms = Date.now() - t0;
    process.stdout.write(`${JSON.stringify(res)}\n`);
  }
  process.exit(0);
}

if (argv[0] === '--worker') await worker(argv.slice(1));
else await main(argv);
