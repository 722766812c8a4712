/**
 * The boards built into the package, by name: what `gki board list` shows and
 * `gki board export NAME` prints as DTS (with `printDts(parseDtb(board.dtb()))`).
 */
import { printDts } from '../fdt/dts/print.js';
import { parseDtb } from '../fdt/parse.js';
import { DEFAULT_BOARD_NAME, defaultBoardDtb } from './default.js';

export interface BuiltinBoard {
  readonly name: string;
  readonly description: string;
  /** A fresh copy of the board's DTB. */
  dtb(): Uint8Array;
}

export const BUILTIN_BOARDS: readonly BuiltinBoard[] = [
  {
    name: DEFAULT_BOARD_NAME,
    description: 'the default virtual SoC: GICv3, RAM at 1 GiB, DMA test masters behind an SMMUv3 and an Arm MMU-500 (and one doing direct DMA), an Arm Mali-T860 GPU with its own MMU, a Qualcomm Adreno 630 GPU and GMU behind an Adreno SMMU',
    dtb: () => defaultBoardDtb(),
  },
];

/** The built-in board called `name`, or undefined. */
export function builtinBoard(name: string): BuiltinBoard | undefined {
  return BUILTIN_BOARDS.find((b) => b.name === name);
}

/**
 * The DTS source of a built-in board (what boards/<name>.dts holds): compiled by dtc or by
 * `compileDts`, it gives the board's DTB byte for byte.
 */
export function boardDtsSource(b: BuiltinBoard): string {
  return printDts(parseDtb(b.dtb()), {
    header: `${b.name}: ${b.description}.\nPrinted from @gki/hw's description of the board (printDts); edit a copy to make your own.`,
  });
}
