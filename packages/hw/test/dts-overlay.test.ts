/**
 * Overlays (`/dts-v1/; /plugin/;`, the kernel's .dtso files) applied to a compiled base, as the
 * kernel builds its composite boards (`board-dtbs := base.dtb extra.dtbo`: `dtc -@` then
 * `fdtoverlay`). Checked against dtc + fdtoverlay (Debian's device-tree-compiler) where they
 * are installed: the same nodes, properties and references, with phandle numbers, the
 * __symbols__/__fixups__ bookkeeping and the order fdtoverlay inserts new nodes and properties
 * in (it puts them first) left out of the comparison.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compileDtsFile, DtsError, memoryFileSystem, parseDtb, type FdtNode, type FdtTree } from '@gki/hw';

const dir = join(dirname(new URL(import.meta.url).pathname), 'fixtures', 'overlay');
const base = join(dir, 'ov-base.dts');
const ovA = join(dir, 'ov-a.dtso');
const ovB = join(dir, 'ov-b.dtso');
const work = mkdtempSync(join(tmpdir(), 'gki-overlay-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function find(n: FdtNode, path: string): FdtNode | undefined {
  let cur: FdtNode | undefined = n;
  for (const part of path.split('/').filter(Boolean)) cur = cur?.children.find((c) => c.name === part);
  return cur;
}
const str = (n: FdtNode | undefined, p: string) => {
  const v = n?.props.find((x) => x.name === p)?.value;
  return v === undefined ? undefined : new TextDecoder().decode(v.subarray(0, v.length - 1));
};
const u32 = (n: FdtNode | undefined, p: string, i = 0) => {
  const v = n?.props.find((x) => x.name === p)?.value;
  return v === undefined ? undefined : new DataView(v.buffer, v.byteOffset, v.byteLength).getUint32(i * 4);
};

/** The path of each phandle's node. */
function phandles(root: FdtNode): Map<number, string> {
  const m = new Map<number, string>();
  const walk = (n: FdtNode, path: string) => {
    const ph = u32(n, 'phandle');
    if (ph !== undefined) m.set(ph, path || '/');
    for (const c of n.children) walk(c, `${path}/${c.name}`);
  };
  walk(root, '');
  return m;
}

/** Properties of the fixtures that hold one phandle. */
const REFS = new Set(['interrupt-parent', 'remote-endpoint', 'wakeup-source']);

/** A comparable form: references as paths, no phandle numbers or overlay bookkeeping, sorted. */
function normalize(t: FdtTree): unknown {
  const ph = phandles(t.root);
  const node = (n: FdtNode): unknown => ({
    props: n.props
      .filter((p) => p.name !== 'phandle' && p.name !== 'linux,phandle')
      .map((p) => [p.name, REFS.has(p.name) ? `-> ${ph.get(u32(n, p.name)!)}` : [...p.value].join(',')])
      .sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    children: n.children
      .filter((c) => !['__symbols__', '__fixups__', '__local_fixups__'].includes(c.name))
      .map((c) => [c.name, node(c)])
      .sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
  });
  return node(t.root);
}

function tool(name: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : undefined;
}

describe('overlays applied to a base tree', () => {
  const withBoth = compileDtsFile(base, { overlays: [ovA, ovB] });
  const root = withBoth.tree.root;

  it('merges label, path and explicit-fragment overlays into the base, in order', () => {
    const plain = compileDtsFile(base);
    expect(str(find(plain.tree.root, '/soc@0/i2c@2000000'), 'status')).toBe('disabled');
    expect(find(plain.tree.root, '/soc@0/i2c@2000000/sensor@48')).toBeUndefined();

    expect(str(find(root, '/soc@0/i2c@2000000'), 'status')).toBe('okay');
    const sensor = find(root, '/soc@0/i2c@2000000/sensor@48');
    expect(str(sensor, 'compatible')).toBe('gki,test-sensor');
    // ov-b's explicit fragment reached the label ov-a defined
    expect(u32(sensor, 'gki,threshold')).toBe(42);
    expect(str(find(root, '/soc@0/display-controller@3000000'), 'status')).toBe('okay');
    // &{/connector} (ov-a) and target-path (ov-b)
    expect(str(find(root, '/connector'), 'vendor')).toBe('gki');
    expect(str(find(root, '/connector'), 'status')).toBe('okay');
    expect(str(find(root, '/connector/eeprom'), 'compatible')).toBe('gki,test-eeprom');
    expect(str(find(root, '/panel'), 'compatible')).toBe('gki,test-panel');
    // what is not a fragment is not applied, with a warning
    expect(find(root, '/extra')).toBeUndefined();
    expect(withBoth.warnings.some((w) => w.file === ovB && /extra: not a fragment/.test(w.message))).toBe(true);
    expect(withBoth.files).toEqual([base, ovA, ovB]);
    expect(withBoth.labels.sensor).toBe('/soc@0/i2c@2000000/sensor@48');
  });

  it('resolves the overlays\' references against the merged tree', () => {
    const ph = phandles(root);
    const sensor = find(root, '/soc@0/i2c@2000000/sensor@48');
    expect(ph.get(u32(sensor, 'interrupt-parent')!)).toBe('/soc@0/interrupt-controller@1000000');
    expect(ph.get(u32(find(root, '/soc@0/display-controller@3000000/port/endpoint'), 'remote-endpoint')!)).toBe('/panel/port/endpoint');
    expect(ph.get(u32(find(root, '/panel/port/endpoint'), 'remote-endpoint')!)).toBe('/soc@0/display-controller@3000000/port/endpoint');
    expect(ph.get(u32(find(root, '/connector/eeprom'), 'wakeup-source')!)).toBe('/soc@0/i2c@2000000/sensor@48');
    // a label of a node that is not applied (ov-b's 'extra'): a phandle, but of no node
    const dangling = u32(find(root, '/connector/eeprom'), 'remote-endpoint')!;
    expect(dangling).not.toBe(0);
    expect(ph.has(dangling)).toBe(false);
    expect(withBoth.labels.extra_ep).toBeUndefined();
  });

  it('a /delete-property/ inside a fragment edits only the fragment (the base keeps the property)', () => {
    expect(str(find(root, '/soc@0/display-controller@3000000'), 'label')).toBe('internal');
  });

  it('gives the same tree as dtc -@ and fdtoverlay', (ctx) => {
    const dtc = tool('dtc');
    const fdtoverlay = tool('fdtoverlay');
    if (!dtc || !fdtoverlay) ctx.skip('dtc or fdtoverlay is not installed (Debian: device-tree-compiler)');
    const run = (args: string[]) => {
      const r = spawnSync(args[0]!, args.slice(1), { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`${args.join(' ')}: ${r.stderr}`);
    };
    run([dtc!, '-q', '-@', '-I', 'dts', '-O', 'dtb', '-o', join(work, 'base.dtb'), base]);
    run([dtc!, '-q', '-@', '-I', 'dts', '-O', 'dtb', '-o', join(work, 'a.dtbo'), ovA]);
    run([dtc!, '-q', '-@', '-I', 'dts', '-O', 'dtb', '-o', join(work, 'b.dtbo'), ovB]);
    run([fdtoverlay!, '-i', join(work, 'base.dtb'), '-o', join(work, 'out.dtb'), join(work, 'a.dtbo'), join(work, 'b.dtbo')]);
    const theirs = parseDtb(new Uint8Array(readFileSync(join(work, 'out.dtb'))));
    expect(normalize(withBoth.tree)).toEqual(normalize(theirs));
  });
});

describe('overlay errors', () => {
  const files = (ov: string) =>
    memoryFileSystem({ '/b/base.dts': readFileSync(base, 'latin1'), '/b/ov.dtso': `/dts-v1/;\n/plugin/;\n${ov}` });
  const compile = (ov: string) => compileDtsFile('/b/base.dts', { fs: files(ov), overlays: ['/b/ov.dtso'] });
  const reason = (ov: string): string => {
    try {
      compile(ov);
    } catch (e) {
      if (e instanceof DtsError) return `${e.file}:${e.line}: ${e.reason}`;
      throw e;
    }
    return 'no error';
  };

  it('names a label the base does not have', () => {
    expect(reason('&nosuch { status = "okay"; };')).toBe("/b/ov.dtso:3: label or path 'nosuch' not found in the base tree (or an overlay applied before this one)");
  });
  it('refuses a file that is not an overlay, a deletion and a fragment without a target', () => {
    const fs = memoryFileSystem({ '/b/base.dts': readFileSync(base, 'latin1'), '/b/ov.dts': '/dts-v1/;\n/ { };\n' });
    expect(() => compileDtsFile('/b/base.dts', { fs, overlays: ['/b/ov.dts'] })).toThrow(/not an overlay: it has no '\/plugin\/;'/);
    expect(reason('/delete-node/ &i2c1;')).toMatch(/^\/b\/ov.dtso:3: \/delete-node\/ at the top level of an overlay/);
    expect(reason('/ { fragment@0 { __overlay__ { x = <1>; }; }; };')).toMatch(/fragment@0: a fragment needs 'target' or 'target-path'/);
    expect(reason('/ { fragment@0 { target-path = "/nope"; __overlay__ { x = <1>; }; }; };')).toMatch(/fragment@0: target \/nope not found in the base tree/);
    expect(() => compileDtsFile('/b/base.dts', { fs: files(''), overlays: ['/b/missing.dtso'] })).toThrow(/missing.dtso: no such file \(an overlay\)/);
  });
  it('a base compiled on its own still refuses /plugin/ with the way to apply it', () => {
    expect(() => compileDtsFile('/b/ov.dtso', { fs: files('&i2c1 { };') })).toThrow(/\/plugin\/: this is a device-tree overlay, not a whole tree: apply it to the tree it is for/);
  });
});
