/**
 * panfrost on the real kernel trees of the repository's boards/ folder: the RK3399's
 * Mali-T860 (GICv3 with four interrupt cells) and the Amlogic G12A's Mali-G31 (Bifrost), each
 * instantiated as a model by Board.fromDtb and bound by the driver.
 */
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import ioPgtableArm from '@gki/format-arm-lpae';
import { Board, compileDtsFile, MaliGpu } from '@gki/hw';
import { ioPgtableCoreModule } from '@gki/io-pgtable-core';
import { Kernel } from '@gki/kernel';
import panfrost from '../src/index.js';

const boards = join(dirname(new URL(import.meta.url).pathname), '..', '..', '..', 'boards');

function boot(file: string): { board: Board; k: Kernel } {
  const board = Board.fromDtb(compileDtsFile(join(boards, file)).dtb);
  const k = Kernel.boot(board, { builtin: [ioPgtableCoreModule], modules: [ioPgtableArm, panfrost], load: ['panfrost'] });
  return { board, k };
}

describe('panfrost on real kernel trees', () => {
  for (const [file, dev, gpu] of [
    ['rockchip/rk3399-evb.dts', 'ff9a0000.gpu', 'mali-t860'],
    ['amlogic/meson-g12a-sei510.dts', 'ffe40000.gpu', 'mali-g31'],
  ] as const)
    it(`${file}: ${gpu} binds`, () => {
      const { board, k } = boot(file);
      expect(board.modelsOfType(MaliGpu)).toHaveLength(1);
      expect(k.drivers.findDevice(dev)).toMatchObject({ state: 'bound' });
      expect(k.drivers.findDevice(dev)!.driver!.name).toBe('panfrost');
      expect(k.log.grep(new RegExp(`panfrost ${dev}: ${gpu} id`))).toHaveLength(1);
      expect(k.log.all().filter((l) => l.level === 'crit')).toEqual([]);
    });
});
