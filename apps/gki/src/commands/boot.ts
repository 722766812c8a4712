import { createDefaultBoard } from '@gki/hw';
import { Kernel } from '@gki/kernel';
import type { Io } from '../main.js';
import { defaultImage } from '../image.js';
import { pgtableSelftest } from '../selftest.js';

const USAGE = 'usage: gki boot [--debug]';

/** `gki boot`: boots the default image on the built-in default board and reports what happened. */
export async function bootCommand(args: string[], io: Io): Promise<number> {
  let debug = false;
  for (const a of args) {
    if (a === '--debug') debug = true;
    else {
      io.err(`gki boot: unknown option '${a}'\n${USAGE}`);
      return 2;
    }
  }
  const board = createDefaultBoard();
  const image = defaultImage();
  const kernel = Kernel.boot(board, image);

  io.out(`== dmesg (board ${board.name}) ==`);
  io.out(kernel.log.dmesg({ debug }));
  io.out('');
  io.out('== modules ==');
  for (const m of kernel.modules.list()) {
    const kind = m.builtin ? 'built-in' : 'loadable';
    io.out(`${m.name.padEnd(22)} ${kind.padEnd(9)} ${m.state.padEnd(7)} refcnt ${m.refcount}  used by: ${m.usedBy.join(',') || '-'}`);
  }
  io.out('');
  io.out('== devices ==');
  for (const d of kernel.drivers.listDevices()) {
    io.out(`${d.name.padEnd(26)} ${(d.driver ?? '-').padEnd(16)} ${d.state}`);
  }
  io.out('');
  io.out('== io-pgtable self-test (through the core, checked by the hardware walker) ==');
  let selftestOk = true;
  for (const r of pgtableSelftest(kernel)) {
    selftestOk &&= r.ok;
    io.out(`${r.fmt}: ${r.ok ? 'ok' : 'FAILED'}`);
    for (const l of r.lines) io.out(`  ${l}`);
  }
  const st = kernel.pages.stats();
  io.out('');
  io.out(`== memory == ${st.totalPages} pages, ${st.pagesInUse} in use, high-water ${st.highWater}`);
  const errors = kernel.log.all().filter((r) => r.level === 'err' || r.level === 'crit' || r.level === 'emerg');
  const ok = errors.length === 0 && selftestOk;
  io.out(ok ? 'boot: OK' : `boot: ${errors.length} error(s) logged${selftestOk ? '' : ', self-test failed'}`);
  return ok ? 0 : 1;
}
