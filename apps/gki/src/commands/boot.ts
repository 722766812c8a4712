import { createDefaultBoard } from '@gki/hw';
import { EINVAL, ENODEV, errnoName, formatRecord, Kernel, type KernelImage, type LogRecord } from '@gki/kernel';
import { EXIT_FAIL, optFlag, optionsHelp, parseArgs, type Command, type Io, type OptionSpec } from '../cli/args.js';
import { ImageDirError, readImageDir } from '../compose/image-dir.js';
import { defaultImage } from '../image.js';
import { pgtableSelftest } from '../selftest.js';
import { dmaTestChannel, dmaTestRun, type DmaTestResult } from '../drivers/dma-test.js';

const OPTIONS: OptionSpec[] = [{ name: 'debug', help: 'include debug-level records in the kernel log' }];

const USAGE = 'usage: gki boot [DIR] [--debug]';

const HELP = `${USAGE}

Boots an image on the built-in default board (gki-virt) and tells what happened: the kernel
log, the modules (built in or loaded, state, refcount, users), the devices with their drivers
and IOMMU domains, an io-pgtable self-test of each format in the image (checked by the board's
own table walker), a DMA self-test on every DMA master bound to gki_dma_test (one deliberate
fault each), and a shutdown that unloads every module and must return every page.

DIR is an image directory written by gki compose (checked first: a malformed one is refused
with the file and line at fault). Without DIR, the default configuration is composed in
memory and booted. Exit status: 0 when nothing was logged at error level and every self-test
passed (last line 'boot: OK'), 1 otherwise, 2 for a usage error.

${optionsHelp(OPTIONS)}`;

function hex(n: number): string {
  return '0x' + n.toString(16);
}

function isError(r: LogRecord): boolean {
  return r.level === 'err' || r.level === 'crit' || r.level === 'alert' || r.level === 'emerg';
}

/** Pages a fresh kernel has allocated: Kernel.boot itself allocates none before its modules. */
const PAGES_AT_BOOT = 0;

/** Unregisters every device populated below /soc: 0, or -ENODEV without a soc device. */
function depopulateSoc(kernel: Kernel): number {
  const soc = kernel.drivers.findDevice('soc');
  if (!soc) return -ENODEV;
  kernel.of.platformDepopulate(soc);
  return kernel.drivers.allDevices().some((d) => d.parent === soc) ? -EINVAL : 0;
}

/** One line of the DMA self-test summary for `r`. */
function dmaSummary(r: DmaTestResult): string {
  if (r.err === -ENODEV && r.srcDma < 0) return `${r.dev}: not bound to dma-test`;
  const kind = r.translated ? 'translated' : 'direct';
  const copy = r.copyOk ? `${kind} copy of ${r.len} bytes ok (${hex(r.srcDma)} -> ${hex(r.dstDma)})` : `${kind} copy FAILED`;
  let fault = 'no deliberate fault';
  if (r.fault) {
    const by = r.translated ? (r.fault.iommu ? 'reported by the engine and the IOMMU core' : 'NOT reported by the IOMMU core') : 'reported by the engine (bus error)';
    fault = `deliberate fault at ${hex(r.fault.addr)} ${r.faultOk ? by : 'NOT seen as expected'}`;
  }
  return `${r.dev}: ${copy}; ${fault}`;
}

/**
 * `gki boot [DIR]`: boots an image (DIR, or the default image) on the built-in default board
 * and tells the story: the kernel log, the modules, the devices with their drivers and IOMMU
 * groups, the io-pgtable self-test, and the DMA self-test on every DMA master (a copy through
 * the DMA API, translated where the master sits behind an IOMMU, plus one deliberate fault),
 * with the page allocator's count before and after; then every module is unloaded.
 */
async function run(args: string[], io: Io): Promise<number> {
  const p = parseArgs(args, OPTIONS, 1);
  const debug = optFlag(p, 'debug');
  const dir = p.positionals[0];
  let image: KernelImage;
  if (dir !== undefined) {
    try {
      image = readImageDir(dir).image;
    } catch (e) {
      if (!(e instanceof ImageDirError)) throw e;
      io.err(`gki boot: ${dir}: ${e.message}`);
      return EXIT_FAIL;
    }
  } else image = defaultImage();
  return bootImage(image, dir ?? 'the default image', debug, io);
}

function bootImage(image: KernelImage, what: string, debug: boolean, io: Io): number {
  const board = createDefaultBoard();
  const kernel = Kernel.boot(board, image);
  const names = new Set([...image.builtin, ...image.modules].map((m) => m.name));

  io.out(`== image: ${what} (${image.builtin.length} built in, ${image.modules.length} module(s); load order: ${(image.load ?? []).join(' ') || 'none'}) ==`);
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
  const iommu = kernel.iommu.snapshot();
  for (const d of kernel.drivers.listDevices()) {
    let extra = '';
    const master = iommu.masters.find((m) => m.dev === d.name);
    if (master) {
      const group = iommu.groups.find((g) => g.id === master.group);
      const domain = iommu.domains.find((x) => x.id === group?.domain);
      const ids = master.ids.map(hex).join(',');
      extra = `  iommu ${master.iommu ?? '-'} sid ${ids} group ${master.group ?? '-'}` + (domain ? ` domain ${domain.id} (${domain.type})` : '');
    } else if (d.driver === 'dma-test') {
      extra = '  no IOMMU (direct DMA)';
    }
    if (d.deferReason) extra += `  deferred: ${d.deferReason}`;
    io.out(`${d.name.padEnd(26)} ${(d.driver ?? '-').padEnd(16)} ${d.state.padEnd(8)}${extra}`);
  }
  io.out('');
  io.out('== io-pgtable self-test (through the core, checked by the hardware walker) ==');
  let selftestOk = true;
  for (const r of pgtableSelftest(kernel, (m) => names.has(m))) {
    selftestOk &&= r.ok;
    io.out(`${r.fmt}: ${r.skipped ? 'skipped' : r.ok ? 'ok' : 'FAILED'}`);
    for (const l of r.lines) io.out(`  ${l}`);
  }

  io.out('');
  io.out('== DMA self-test (gki_dma_test, through the DMA API) ==');
  const pagesBefore = kernel.pages.stats().pagesInUse;
  const logStart = kernel.log.all().length;
  const masters = kernel.drivers.allDevices().filter((d) => dmaTestChannel(d) !== undefined);
  const results = masters.map((d) => dmaTestRun(d));
  const pagesAfter = kernel.pages.stats().pagesInUse;
  for (const r of kernel.log.all().slice(logStart)) if (debug || r.level !== 'debug') io.out(formatRecord(r));
  const dmaInImage = names.has('gki_dma_test');
  let dmaOk = masters.length > 0 || !dmaInImage;
  for (const r of results) {
    dmaOk &&= r.ok;
    io.out(dmaSummary(r));
  }
  if (!dmaInImage) io.out('skipped: gki_dma_test is not in the image');
  else if (masters.length === 0) io.out('no DMA master is bound to dma-test');
  const held = pagesAfter - pagesBefore;
  const translated = results.filter((r) => r.translated).length;
  const allFreed = results.every((r) => r.freed);
  let pagesNote: string;
  if (!allFreed) pagesNote = 'a buffer was NOT freed';
  else if (held === 0) pagesNote = 'every buffer page returned';
  else if (held > 0 && translated > 0)
    pagesNote = `every buffer page returned; ${held} page(s) are page-table levels the ${translated} DMA domain(s) keep until they are freed (see shutdown)`;
  else pagesNote = `${held} page(s) unaccounted for`;
  io.out(`pages in use: ${pagesBefore} before the DMA test, ${pagesAfter} after its buffers were freed: ${pagesNote}`);
  dmaOk &&= allFreed && (held === 0 || (held > 0 && translated > 0));

  // Shutdown: every module out and every device gone, so the allocator must be back at the
  // count it had before the first module loaded (the kernel itself allocates nothing).
  io.out('');
  io.out('== shutdown (drivers unbound, devices depopulated, modules unloaded) ==');
  const shutdownStart = kernel.log.all().length;
  // The DMA test driver goes first (its devices unbind), then the devices below /soc (the
  // IOMMU drivers release their masters and domains), then every other module, newest first.
  const loaded = () => kernel.modules.list().filter((m) => !m.builtin && m.state === 'live').map((m) => m.name);
  const steps: [string, () => number][] = [];
  if (loaded().includes('gki_dma_test')) steps.push(['rmmod gki_dma_test', () => kernel.modules.unload('gki_dma_test')]);
  steps.push(['of_platform_depopulate /soc', () => depopulateSoc(kernel)]);
  for (const name of loaded().filter((n) => n !== 'gki_dma_test').reverse()) steps.push([`rmmod ${name}`, () => kernel.modules.unload(name)]);
  let shutdownOk = true;
  for (const [what, fn] of steps) {
    const r = fn();
    shutdownOk &&= r === 0;
    io.out(`${what}: ${r === 0 ? 'ok' : `${r} (${errnoName(r)})`}`);
  }
  for (const r of kernel.log.all().slice(shutdownStart)) if (isError(r)) io.out(formatRecord(r));
  const pagesEnd = kernel.pages.stats().pagesInUse;
  const ends = pagesEnd === PAGES_AT_BOOT;
  shutdownOk &&= ends;
  io.out(`pages in use: ${pagesEnd}${ends ? ' (the allocator ends where it began)' : `, ${PAGES_AT_BOOT} at boot: ${pagesEnd - PAGES_AT_BOOT} page(s) leaked`}`);

  const st = kernel.pages.stats();
  io.out('');
  io.out(`== memory == ${st.totalPages} pages, ${st.pagesInUse} in use, high-water ${st.highWater}`);
  const errors = kernel.log.all().filter(isError);
  const ok = errors.length === 0 && selftestOk && dmaOk && shutdownOk;
  const why = [
    errors.length ? `${errors.length} error(s) logged` : '',
    selftestOk ? '' : 'io-pgtable self-test failed',
    dmaOk ? '' : 'DMA self-test failed',
    shutdownOk ? '' : 'shutdown did not return everything',
  ].filter(Boolean);
  io.out(ok ? 'boot: OK' : `boot: ${why.join(', ')}`);
  return ok ? 0 : 1;
}

export const bootCommand: Command = { name: 'boot', summary: 'boot an image (a composed DIR, or the default) on the default board', usage: USAGE, help: HELP, run };
