/**
 * Writes the DTS source of every built-in board to the repository's boards/ folder
 * (boards/<name>.dts), printed from the board's own description. Run after changing a
 * built-in board:  pnpm --filter @gki/hw exec tsx --conditions=@gki/source scripts/write-board-dts.ts
 */
import { writeFileSync } from 'node:fs';
import { BUILTIN_BOARDS, boardDtsSource } from '../src/index.js';

const root = new URL('../../../boards/', import.meta.url);
for (const b of BUILTIN_BOARDS) {
  const file = new URL(`${b.name}.dts`, root);
  writeFileSync(file, boardDtsSource(b));
  console.log(`wrote ${file.pathname}`);
}
