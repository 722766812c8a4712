/**
 * What `gki boot`, `gki run` and `gki shell` share: the board and image options, loading both
 * (every input error before anything is printed), and the boot story (progress while it boots,
 * the kernel log, the modules, the device table).
 */
import { formatRecord, type LogRecord } from '@gki/kernel';
import { optFlag, optList, optString, type Io, type OptionSpec, type ParsedArgs } from '../cli/args.js';
import { loadBoard, loadImage } from '../runtime/inputs.js';
import { bootSystem, deviceTable, errorRecords, formatDeviceTable, moduleLines, type System } from '../runtime/system.js';

export const BOARD_OPTIONS: OptionSpec[] = [
  { name: 'board', value: 'FILE', help: 'the board: a .dts or .dtb file, or a built-in board name (default gki-virt)' },
  { name: 'include', short: 'I', value: 'DIR', repeat: true, help: 'an include directory for the .dts (after the file\'s own; repeatable)' },
  { name: 'overlay', value: 'FILE', repeat: true, help: 'an overlay source (/plugin/, a .dtso) applied to the .dts board, in order (repeatable)' },
  { name: 'debug', help: 'include debug-level records in the kernel log' },
];

export const BOARD_HELP = `DIR is an image directory written by gki compose (checked first: a malformed one is refused
with the file and line at fault); without DIR the default configuration is composed in memory.
--board takes device-tree source (compiled by the project's DTS compiler: #include and
/include/ relative to the file, then the -I directories; the dt-bindings headers for
interrupts and GPIO flags are built in), a DTB, or the name of a built-in board (gki board
list). Without --board: gki-virt. --overlay applies device-tree overlays (/plugin/ sources, the
kernel's .dtso files) to a .dts board in order, as fdtoverlay would: the kernel's composite
boards (board-dtbs := base.dtb extra.dtbo).`;

/** Loads the image and the board the arguments name (InputError, exit 1, on any problem). */
export function loadSystemInputs(p: ParsedArgs) {
  const image = loadImage(p.positionals[0]);
  const board = loadBoard(optString(p, 'board'), { includeDirs: optList(p, 'include'), overlays: optList(p, 'overlay') });
  return { image, board };
}

function describeImage(s: Pick<System, 'image' | 'imageInfo'>): string {
  const img = s.image;
  return `${s.imageInfo.label} (${img.builtin.length} built in, ${img.modules.length} module(s); load order: ${(img.load ?? []).join(' ') || 'none'})`;
}

/**
 * Boots with progress on `io` and prints the boot story. Returns the system and the number of
 * error-level records the boot logged.
 */
export function bootWithStory(p: ParsedArgs, io: Io, cmd: string, brief = false): { system: System; errors: LogRecord[] } {
  const { image, board } = loadSystemInputs(p);
  const debug = optFlag(p, 'debug');
  io.out(`gki ${cmd}: board ${board.name} (${board.source === 'built-in' ? 'built in' : board.source}), image ${image.label === 'the default image' ? 'the default image' : image.label}`);
  for (const w of debug ? board.allWarnings : board.warnings) io.err(w);
  io.out(`== image: ${describeImage({ image: image.image, imageInfo: image })} ==`);
  io.out('== boot ==');
  const system = bootSystem(board, image, { progress: (l) => io.out(l) });
  const k = system.kernel;
  io.out(
    `booted in ${system.bootCpuMs.toFixed(0)} ms of process time (${system.bootWallMs.toFixed(0)} ms wall); ` +
      `simulated clock ${(k.board.clock.now() / 1e9).toFixed(6)} s`,
  );
  const errors = errorRecords(k);
  if (brief) {
    // the summary line of the device table, and any error the boot logged
    io.out(formatDeviceTable(deviceTable(k)).at(-1)!);
    for (const r of errors) io.out(formatRecord(r));
    return { system, errors };
  }
  io.out('');
  io.out(`== dmesg (board ${board.name}) ==`);
  io.out(k.log.dmesg({ debug }));
  io.out('');
  io.out('== modules ==');
  for (const l of moduleLines(k)) io.out(l);
  io.out('');
  io.out('== devices ==');
  for (const l of formatDeviceTable(deviceTable(k))) io.out(l);
  return { system, errors };
}

/** The log records from index `from` on, as dmesg lines (debug ones only with `debug`). */
export function logSince(system: System, from: number, debug = false): string[] {
  return system.kernel.log
    .all()
    .slice(from)
    .filter((r) => debug || r.level !== 'debug')
    .map(formatRecord);
}
