/**
 * The device table of gki boot/run/shell on a board with a driver that fails, a consumer that
 * waits for it, and nodes no driver matches.
 */
import { describe, expect, it } from 'vitest';
import { Board, buildFdt, defaultBoardSpec, node, prop, ref, socOf, writeDtb } from '@gki/hw';
import { EINVAL, Kernel, type KernelModule } from '@gki/kernel';
import { ioPgtableCoreModule } from '@gki/io-pgtable-core';
import { deviceTable, formatDeviceTable, shutdown } from '../src/runtime/system.js';

function board(): Board {
  const spec = defaultBoardSpec();
  socOf(spec).children.push(
    node('widget: widget@b000000', [prop.string('compatible', 'gki,test-widget'), prop.reg(1, 1, [0x0b00_0000, 0x1000]), prop.u32('#clock-cells', 0)]),
    node('waiter@b001000', [prop.string('compatible', 'gki,test-waiter'), prop.reg(1, 1, [0x0b00_1000, 0x1000]), prop.cells('clocks', ref('widget'))]),
  );
  return Board.fromDtb(writeDtb(buildFdt(spec)));
}

const toy: KernelModule = {
  name: 'toy',
  version: '1.0.0',
  license: 'GPL',
  init(ctx) {
    const k = ctx.kernel.drivers;
    k.registerDriver({
      name: 'widget',
      ofMatchTable: [{ compatible: 'gki,test-widget' }],
      probe: (dev) => {
        dev.err('cannot find the frobnicator');
        return -EINVAL;
      },
    });
    k.registerDriver({ name: 'waiter', ofMatchTable: [{ compatible: 'gki,test-waiter' }], probe: () => 0 });
    return 0;
  },
};

describe('device table', () => {
  it('failed with driver, errno and reason; deferred with its supplier; unbound when no driver matches', () => {
    const k = Kernel.boot(board(), { builtin: [ioPgtableCoreModule], modules: [toy], load: ['toy'] });
    const rows = deviceTable(k);
    const by = (n: string) => rows.find((r) => r.name === n)!;
    expect(by('b000000.widget')).toMatchObject({ state: 'failed', driver: 'widget', errno: -EINVAL, detail: 'widget: -22 (EINVAL): cannot find the frobnicator' });
    expect(by('b001000.waiter')).toMatchObject({ state: 'deferred', driver: null, detail: 'waits: supplier b000000.widget not ready' });
    expect(by('a000000.dma')).toMatchObject({ state: 'unbound', driver: null, detail: 'no driver', compatible: 'gki,dma-master' });
    expect(by('soc')).toMatchObject({ state: 'bound', driver: 'simple-pm-bus' });
    const text = formatDeviceTable(rows);
    expect(text[0]).toMatch(/^DEVICE +COMPATIBLE +STATE +DRIVER +DETAIL$/);
    expect(text).toContainEqual(expect.stringMatching(/^b000000\.widget +gki,test-widget +failed +widget +widget: -22 \(EINVAL\): cannot find the frobnicator$/));
    expect(text.at(-1)).toBe('6 device(s): 1 bound, 1 deferred, 1 failed, 3 unbound (no driver)');
    // the toy module has no exit, so it stays (rmmod -EBUSY, as Linux); everything else goes
    const sd = shutdown(k);
    expect(sd.steps.find((s) => s.what === 'rmmod toy')?.err).toBe(-16);
    expect(sd.ok).toBe(false);
  });
});
