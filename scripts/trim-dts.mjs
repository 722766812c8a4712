#!/usr/bin/env node
/**
 * Trims kernel device-tree sources the way the trees under boards/ are trimmed: the node
 * structure, labels, compatibles, reg, ranges, interrupts, iommus, memory, reserved memory and
 * status stay as written; clocks, power domains, resets, pinctrl states, regulators, OPP and
 * thermal tables go. The text is edited in place (comments, preprocessor lines and layout
 * are kept), so the result still reads like the kernel's file and keeps its
 * `#include <dt-bindings/...>` lines.
 *
 *   node scripts/trim-dts.mjs [--keep PROP]... [--drop PROP]... [--drop-node RE]... [--keep-node RE]... \
 *        --out DIR  FILE.dts FILE.dtsi...
 *
 * Every file given is trimmed together (a board file and the .dtsi files it includes), so a
 * label whose node was removed in one file also removes the overrides and properties that
 * reference it in the others. Files are written under DIR with their base names, each with a
 * note of what was removed. Options:
 *   --keep PROP       keep this property although it is on the default drop list (e.g. interconnects)
 *   --drop PROP       drop this property too
 *   --drop-node RE    drop nodes whose name (before '@') matches RE too
 *   --keep-node RE    keep nodes whose name matches RE although a rule would drop them
 *   --exclude FILE    leave an included file out (a PMIC or firmware .dtsi): its #include line
 *                     goes, and so does what references the labels it defines
 *   --origin TEXT     where the files come from ("Linux v6.12"), for the note each output starts with
 *   --only-clocks-and-power
 *                     trim lightly instead: remove only clocks, clock-names, assigned-clock*,
 *                     power-domains and power-domain-names, and nothing else (no nodes, no other
 *                     properties, no includes), so pinctrl, regulators, OPP tables, interconnects,
 *                     thermal zones and PMIC includes stay as the kernel writes them
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

const DROP_PROPS = [
  'clocks', 'clock-names', 'assigned-clocks', 'assigned-clock-rates', 'assigned-clock-parents', 'assigned-clock-rates-u64',
  'clock-output-names', 'clock-indices', 'clock-ranges', 'protected-clocks',
  'power-domains', 'power-domain-names',
  'resets', 'reset-names',
  'pinctrl-names', /^pinctrl-[0-9]+$/,
  /-supply$/,
  'operating-points-v2', 'required-opps', 'opp-table',
  'interconnects', 'interconnect-names', 'interconnect-tags',
  'nvmem-cells', 'nvmem-cell-names',
  'thermal-sensors', '#thermal-sensor-cells', 'cooling-maps', 'polling-delay', 'polling-delay-passive',
];

/** What --only-clocks-and-power removes: the clock and power-domain wiring, nothing else. */
const LIGHT_DROP_PROPS = ['clocks', 'clock-names', /^assigned-clock/, 'power-domains', 'power-domain-names'];

const DROP_NODES = [
  /^opp-table/, /-opp-table$/, /^opp_table/, /^thermal-zones$/, /^regulators?(-[0-9]+)?$/, /-regulators?$/, /^regulator-/,
  // power-domain providers' domain lists (Rockchip PMU, MediaTek SCPSYS, i.MX GPC)
  /^power-controller$/, /^power-domains?$/, /^pgc$/,
];

const USAGE = 'usage: trim-dts.mjs [--only-clocks-and-power] [--keep PROP]... [--drop PROP]... [--drop-node RE]... [--keep-node RE]... --out DIR FILE...';

/** One line on stderr and exit status 2 (a usage error), never a stack trace. */
function usage(msg) {
  console.error(msg ? `trim-dts.mjs: ${msg}\n${USAGE}` : USAGE);
  process.exit(2);
}

function parseArgs(argv) {
  const o = { keep: [], drop: [], dropNode: [], keepNode: [], exclude: [], out: null, origin: 'the Linux kernel', light: false, files: [] };
  // an option's value: the next word, which must be there and must not be another option
  const value = (i) => {
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) usage(`${argv[i]} needs a value`);
    return v;
  };
  const regex = (i) => {
    const v = value(i);
    try {
      return new RegExp(v);
    } catch (e) {
      return usage(`${argv[i]} ${v}: not a regular expression (${e.message})`);
    }
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--keep') o.keep.push(value(i++));
    else if (a === '--drop') o.drop.push(value(i++));
    else if (a === '--drop-node') o.dropNode.push(regex(i++));
    else if (a === '--keep-node') o.keepNode.push(regex(i++));
    else if (a === '--out') o.out = value(i++);
    else if (a === '--exclude') o.exclude.push(value(i++));
    else if (a === '--origin') o.origin = value(i++);
    else if (a === '--only-clocks-and-power') o.light = true;
    else if (a.startsWith('--')) usage(`unknown option '${a}'`);
    else o.files.push(a);
  }
  if (!o.out || o.files.length === 0) usage();
  if (o.light && (o.dropNode.length || o.keepNode.length || o.exclude.length)) {
    console.error('trim-dts.mjs: --only-clocks-and-power removes properties only (no --drop-node, --keep-node or --exclude)');
    process.exit(2);
  }
  return o;
}

/**
 * Splits DTS text into top-level items at brace depth: a statement is the text from its start
 * to its ';' (a property, or a whole node definition `name { ... };`). Comments, strings and
 * preprocessor lines are skipped over, never split.
 */
function scanStatements(text, start, end) {
  const out = [];
  let i = start;
  let stmtStart = -1;
  let depth = 0;
  let bodyOpen = -1;
  while (i < end) {
    const c = text[i];
    if (c === '/' && text[i + 1] === '*') {
      const e = text.indexOf('*/', i + 2);
      i = e < 0 ? end : e + 2;
      continue;
    }
    if (c === '/' && text[i + 1] === '/') {
      const e = text.indexOf('\n', i);
      i = e < 0 ? end : e;
      continue;
    }
    if (c === '"') {
      i++;
      while (i < end && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      i++;
      continue;
    }
    if (c === '#' && depth === 0 && stmtStart < 0) {
      // a preprocessor line (#include, #define...) or a '#address-cells' property
      const lineStart = text.lastIndexOf('\n', i - 1) + 1;
      if (/^\s*$/.test(text.slice(lineStart, i)) && /^#\s*(include|define|undef|if|ifdef|ifndef|elif|else|endif|error|warning|line|pragma)\b/.test(text.slice(i))) {
        let e = i;
        for (;;) {
          e = text.indexOf('\n', e);
          if (e < 0) { e = end; break; }
          if (text[e - 1] === '\\') { e++; continue; }
          break;
        }
        i = e;
        continue;
      }
    }
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (stmtStart < 0 && depth === 0) stmtStart = i;
    if (c === '{') {
      if (depth === 0) bodyOpen = i;
      depth++;
    } else if (c === '}') depth--;
    else if (c === ';' && depth === 0) {
      out.push({ start: stmtStart, end: i + 1, bodyOpen });
      stmtStart = -1;
      bodyOpen = -1;
    }
    i++;
  }
  return out;
}

const LABEL_RE = /^((?:[A-Za-z_][A-Za-z0-9_]*:\s*)*)/;

/** What a statement is: a property, a node, an override of a reference, or something else. */
function classify(text, s) {
  const head = text.slice(s.start, s.bodyOpen >= 0 ? s.bodyOpen : s.end).trim();
  const m = LABEL_RE.exec(head);
  const labels = (m[1].match(/[A-Za-z_][A-Za-z0-9_]*(?=:)/g) ?? []);
  const rest = head.slice(m[1].length).trim();
  if (s.bodyOpen >= 0) {
    if (rest.startsWith('&')) return { kind: 'override', ref: rest.slice(1).replace(/^\{|\}$/g, '').trim(), labels };
    if (rest === '/') return { kind: 'root', labels };
    return { kind: 'node', name: rest.replace(/\s+$/, ''), labels };
  }
  if (rest.startsWith('/delete-')) return { kind: 'directive', labels };
  const pm = /^([^\s=;]+)\s*(=|;)/.exec(rest);
  return { kind: 'prop', name: pm ? pm[1] : rest, labels };
}

function matches(list, name) {
  return list.some((p) => (typeof p === 'string' ? p === name : p.test(name)));
}

/** Nodes that only hold pin multiplexing or configuration (pinctrl states), to drop. */
function isPinState(body) {
  return (
    /\b(pins|groups|pinmux|rockchip,pins|fsl,pins|allwinner,pins|nvidia,pins|samsung,pins|pinctrl-single,pins|pinctrl-single,bits)\s*=/.test(body) &&
    !/\bcompatible\s*=/.test(body)
  );
}

function referencedLabels(body) {
  return new Set([...body.matchAll(/&([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]));
}

/** Collects the edits for one text: ranges to delete; labels of dropped nodes go to `removed`. */
function trimText(text, opts, removed, pass) {
  const cuts = [];
  const walk = (start, end, depth) => {
    for (const s of scanStatements(text, start, end)) {
      const c = classify(text, s);
      const body = s.bodyOpen >= 0 ? text.slice(s.bodyOpen + 1, text.lastIndexOf('}', s.end)) : '';
      let drop = false;
      if (c.kind === 'prop') {
        const keep = opts.keep.includes(c.name);
        drop = !keep && (matches(opts.light ? LIGHT_DROP_PROPS : DROP_PROPS, c.name) || opts.drop.includes(c.name));
        if (!drop && pass === 2) for (const l of referencedLabels(text.slice(s.start, s.end))) if (removed.has(l)) drop = true;
      } else if (c.kind === 'node') {
        const base = c.name.split('@')[0];
        const kept = opts.keepNode.some((r) => r.test(base));
        drop = !opts.light && !kept && (matches(DROP_NODES, base) || opts.dropNode.some((r) => r.test(base)) || isPinState(body));
        if (drop) {
          for (const l of c.labels) removed.add(l);
          // and the labels of every node inside it
          for (const m of body.matchAll(/([A-Za-z_][A-Za-z0-9_]*):\s*[A-Za-z0-9_,.+@-]+\s*\{/g)) removed.add(m[1]);
        }
      } else if (c.kind === 'override') {
        drop = removed.has(c.ref);
        // the labels an override of a dropped node defines inside it go with it
        if (drop) for (const m of body.matchAll(/([A-Za-z_][A-Za-z0-9_]*):\s*[A-Za-z0-9_,.+@-]+\s*\{/g)) removed.add(m[1]);
      }
      if (drop) {
        // the whole line(s), with the indentation before and the newline after
        let a = s.start;
        while (a > 0 && (text[a - 1] === '\t' || text[a - 1] === ' ')) a--;
        let b = s.end;
        if (text[b] === '\n') b++;
        cuts.push([a, b]);
        continue;
      }
      if (s.bodyOpen >= 0) walk(s.bodyOpen + 1, text.lastIndexOf('}', s.end), depth + 1);
    }
  };
  walk(0, text.length, 0);
  return cuts;
}

function applyCuts(text, cuts) {
  cuts.sort((x, y) => x[0] - y[0]);
  let out = '';
  let at = 0;
  for (const [a, b] of cuts) {
    if (a < at) continue;
    out += text.slice(at, a);
    at = b;
  }
  out += text.slice(at);
  // overrides the cuts emptied go too
  for (let prev = ''; prev !== out; ) {
    prev = out;
    out = out.replace(/\n[ \t]*&[A-Za-z_][A-Za-z0-9_]*[ \t]*\{\s*\};[ \t]*\n/g, '\n');
  }
  // collapse the blank lines the cuts left behind
  return out.replace(/\n[ \t]*\n([ \t]*\n)+/g, '\n\n').replace(/\{\n\n+/g, '{\n').replace(/\n\n+(\t*\};)/g, '\n$1');
}

const opts = parseArgs(process.argv.slice(2));
/** A file's text, or one line naming the file and the errno and exit status 1. */
function readSource(f) {
  try {
    return readFileSync(f, 'latin1');
  } catch (e) {
    console.error(`trim-dts.mjs: cannot read ${f}: ${e.code === 'ENOENT' ? 'no such file (ENOENT)' : (e.code ?? e.message)}`);
    process.exit(1);
  }
}
const texts = opts.files.map(readSource);
const removed = new Set();
for (const f of opts.exclude) for (const m of readSource(f).matchAll(/([A-Za-z_][A-Za-z0-9_]*):\s*[A-Za-z0-9_,.+@-]+\s*\{/g)) removed.add(m[1]);
// "file.dtsi", or <dir/file.dtsi> through the kernel's include prefixes (<arm/cros-ec-keyboard.dtsi>)
const excludedIncludes = new RegExp(`^[ \\t]*#include\\s+(?:"|<(?:[^>\\n]*/)?)(${opts.exclude.map((f) => basename(f).replace(/[.+]/g, '\\$&')).join('|') || '$^'})[">][^\\n]*\\n`, 'gm');
// pass 1 finds the dropped nodes' labels everywhere; pass 2 also drops what references them
// (repeated until no new label is found: an override in one file may drop labels another file uses)
for (let n = -1; n !== removed.size; ) {
  n = removed.size;
  for (const t of texts) trimText(t, opts, removed, 1);
}
try {
  mkdirSync(opts.out, { recursive: true });
} catch (e) {
  console.error(`trim-dts.mjs: cannot make ${opts.out}: ${e.code ?? e.message}`);
  process.exit(1);
}
for (let i = 0; i < texts.length; i++) {
  let trimmed = applyCuts(texts[i], trimText(texts[i], opts, removed, 2));
  const gone = [...trimmed.matchAll(excludedIncludes)].map((m) => m[1]);
  trimmed = trimmed.replace(excludedIncludes, '');
  const kernelPath = opts.files[i].replace(/^.*?\/(arch\/)/, '$1');
  const left = gone.length ? `\n * Includes left out: ${gone.join(', ')}.` : '';
  const note = opts.light
    ? `/*\n * Trimmed for the GKI model (scripts/trim-dts.mjs --only-clocks-and-power) from ${opts.origin}'s\n * ${kernelPath}: only clocks, clock-names, assigned-clock*, power-domains and\n * power-domain-names removed; everything else as the kernel writes it.\n */\n`
    : `/*\n * Trimmed for the GKI model (scripts/trim-dts.mjs) from ${opts.origin}'s\n * ${kernelPath}: node structure, labels, compatible, reg, ranges,\n` +
    ` * interrupts, iommus, memory, reserved memory and status as the kernel writes them; clocks,\n` +
    ` * power domains, resets, pinctrl, regulators, interconnects, OPP and thermal tables removed.${left}\n */\n`;
  const spdx = /^\/\/ SPDX[^\n]*\n|^\/\* SPDX[^\n]*\*\/\n/.exec(trimmed);
  trimmed = spdx ? spdx[0] + note + trimmed.slice(spdx[0].length) : note + trimmed;
  writeFileSync(join(opts.out, basename(opts.files[i])), trimmed, 'latin1');
  console.log(`${opts.files[i]}: ${texts[i].split('\n').length} -> ${trimmed.split('\n').length} lines`);
}
