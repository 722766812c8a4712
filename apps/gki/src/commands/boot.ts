import { errnoName, formatRecord } from '@gki/kernel';
import { EXIT_FAIL, EXIT_OK, optionsHelp, parseArgs, type Command, type Io } from '../cli/args.js';
import { pgtableSelftest } from '../selftest.js';
import { errorRecords, isErrorRecord, shutdown } from '../runtime/system.js';
import { BOARD_HELP, BOARD_OPTIONS, bootWithStory } from './boot-common.js';

const OPTIONS = BOARD_OPTIONS;

const USAGE = 'usage: gki boot [DIR] [--board FILE [--overlay FILE]...] [-I DIR]... [--debug]';

const HELP = `${USAGE}

Boots an image on a board and tells what happened: progress while the modules load and the
devices probe, the kernel log (timestamps from the board's simulated clock), the modules
(built in or loaded, state, refcount, users), and the device table: each device bound (with
its driver and, behind an IOMMU, its IOMMU, IDs, group and domain), deferred (with what it
waits for), failed (with the driver, errno and reason) or unbound (no driver in the image
drives it). Then an io-pgtable self-test of each format in the image (checked by the board's
own table walker) and a shutdown that unregisters every device, unloads every module and must
give every page back.

${BOARD_HELP}

Exit status: 0 when nothing was logged at error level, the self-test passed and shutdown gave
everything back (last line 'boot: OK'); 1 otherwise or for an input that cannot be read (one
line naming the file, and line and column for a .dts); 2 for a usage error.

${optionsHelp(OPTIONS)}`;

async function run(args: string[], io: Io): Promise<number> {
  const p = parseArgs(args, OPTIONS, 1);
  const { system } = bootWithStory(p, io, 'boot');
  const k = system.kernel;
  const names = new Set([...system.image.builtin, ...system.image.modules].map((m) => m.name));

  io.out('');
  io.out('== io-pgtable self-test (through the core, checked by the hardware walker) ==');
  let selftestOk = true;
  for (const r of pgtableSelftest(k, (m) => names.has(m))) {
    selftestOk &&= r.ok;
    io.out(`${r.fmt}: ${r.skipped ? 'skipped' : r.ok ? 'ok' : 'FAILED'}`);
    for (const l of r.lines) io.out(`  ${l}`);
  }

  io.out('');
  io.out('== shutdown (devices unregistered, modules unloaded) ==');
  const from = k.log.all().length;
  const sd = shutdown(k);
  for (const s of sd.steps) if (s.err !== 0 || !s.what.startsWith('unregister')) io.out(`${s.what}: ${s.err === 0 ? 'ok' : `${s.err} (${errnoName(s.err)})`}`);
  const unregistered = sd.steps.filter((s) => s.what.startsWith('unregister')).length;
  io.out(`${unregistered} top-level device(s) unregistered`);
  for (const r of k.log.all().slice(from)) if (isErrorRecord(r)) io.out(formatRecord(r));
  io.out(`pages in use: ${sd.pagesInUse}${sd.pagesInUse === 0 ? ' (the allocator ends where it began)' : ': page(s) leaked'}`);
  if (sd.securePages > 0) io.out(`pages lent to the secure firmware (qcom_scm, kept by design): ${sd.securePages}`);

  const st = k.pages.stats();
  io.out('');
  io.out(`== memory == ${st.totalPages} pages, ${st.pagesInUse} in use, high-water ${st.highWater}`);
  const errors = errorRecords(k);
  const ok = errors.length === 0 && selftestOk && sd.ok;
  const why = [
    errors.length ? `${errors.length} error(s) logged` : '',
    selftestOk ? '' : 'io-pgtable self-test failed',
    sd.ok ? '' : 'shutdown did not give everything back',
  ].filter(Boolean);
  io.out(ok ? 'boot: OK' : `boot: ${why.join(', ')}`);
  return ok ? EXIT_OK : EXIT_FAIL;
}

export const bootCommand: Command = {
  name: 'boot',
  summary: 'boot an image (a composed DIR, or the default) on a board (a .dts/.dtb, or gki-virt) and show the log and devices',
  usage: USAGE,
  help: HELP,
  run,
};
