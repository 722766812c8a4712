/**
 * DTS compiler throughput on the repository's real boards: compiling a kernel tree (the C
 * preprocessor, dtc's scanner and grammar, reference resolution and the DTB writer) from its
 * files, printing a blob back as DTS, and building a Board from the compiled blob (memory map,
 * reservations, interrupt wiring, device models). Each case is checked before it is measured.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Board, compileDts, compileDtsFile, parseDtb, printDts } from '../src/index.js';
import { figures, newBench, type BenchRow } from './harness.js';

const boards = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'boards');

export function dtsBench(runs: number): BenchRow[] {
  const sdm845 = join(boards, 'qcom/sdm845-mtp.dts');
  const rk3399 = join(boards, 'rockchip/rk3399-evb.dts');
  const sdmDtb = compileDtsFile(sdm845).dtb;
  const sdmText = printDts(parseDtb(sdmDtb));
  // checks: the printed text compiles back to the blob; the board builds
  if (Buffer.compare(Buffer.from(compileDts(sdmText)), Buffer.from(sdmDtb)) !== 0) throw new Error('printDts round trip differs');
  if (Board.fromDtb(sdmDtb).mem.regions.length !== 1) throw new Error('unexpected SDM845 memory map');
  readFileSync(sdm845);

  const bench = newBench(runs, 5);
  bench.add('compile qcom/sdm845-mtp.dts (flat, 14 KiB DTB)', () => void compileDtsFile(sdm845));
  bench.add('compile rockchip/rk3399-evb.dts (+ rk3399.dtsi, 11 KiB DTB)', () => void compileDtsFile(rk3399));
  bench.add('printDts of the SDM845 blob', () => void printDts(parseDtb(sdmDtb)));
  bench.add('compileDts of the printed SDM845 source (no cpp)', () => void compileDts(sdmText, { cpp: false }));
  bench.add('Board.fromDtb of the SDM845 blob (4 GiB RAM, 20 reservations, 2 SMMU models)', () => void Board.fromDtb(sdmDtb));
  bench.runSync();
  return bench.tasks.map((t, i) => ({ id: `dts-${i}`, group: 'DTS compiler (ms per operation)', case: t.name, ...figures(t, (ms) => ms), unit: 'ms' }));
}
