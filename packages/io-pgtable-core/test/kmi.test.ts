import { describe, expect, it } from 'vitest';
import * as pkg from '../src/index.js';
import { allocIoPgtableOps, ioPgtableCoreModule, ioPgtableKmi } from '../src/index.js';
import { bootImage, imageWith } from './helpers.js';

const table = ioPgtableKmi();

describe("the io-pgtable core's KMI table", () => {
  it('classifies every function the package publishes, and nothing else', () => {
    const fns = Object.entries(pkg as Record<string, unknown>).filter(([, v]) => typeof v === 'function').map(([n]) => n);
    expect(fns.filter((n) => !(n in table.uses))).toEqual([]);
    expect(Object.keys(table.uses).filter((n) => typeof (pkg as Record<string, unknown>)[n] !== 'function')).toEqual([]);
  });

  it('exports through the built-in module exactly the symbols of the table, all GPL-only as in io-pgtable.c', () => {
    const names = table.symbols().map((s) => s.name);
    expect(names.sort()).toEqual(Object.keys(ioPgtableCoreModule.exports ?? {}).sort());
    for (const s of table.symbols()) {
      expect(ioPgtableCoreModule.exports?.[s.name]?.gplOnly, s.name).toBe(true);
      expect(s.gplOnly).toBe(true);
    }
    const named = new Set(Object.values(table.uses).flatMap((u) => (u.kind === 'symbols' ? u.symbols : [])));
    expect([...named].sort()).toEqual(names.sort());
  });

  it("a booted kernel's alloc_io_pgtable_ops is the core's allocIoPgtableOps, owned by the built-in", () => {
    const k = bootImage(imageWith([]));
    let got: unknown;
    const user = {
      name: 'user',
      version: '1',
      license: 'GPL',
      needs: ['alloc_io_pgtable_ops'],
      init: (ctx: { symbol<T>(n: string): T }) => {
        got = ctx.symbol('alloc_io_pgtable_ops');
        return 0;
      },
    };
    expect(k.modules.load(user)).toBe(0);
    expect(got).toBe(allocIoPgtableOps);
    expect(k.modules.symbolTable().find((s) => s.name === 'alloc_io_pgtable_ops')).toMatchObject({ owner: 'io-pgtable', modular: false, gplOnly: true });
    // a GPL-incompatible module does not see it
    expect(k.modules.load({ ...user, name: 'blob', license: 'Proprietary' })).toBeLessThan(0);
    expect(k.log.grep('blob: Unknown symbol alloc_io_pgtable_ops (err -2)')).toHaveLength(1);
  });
});
