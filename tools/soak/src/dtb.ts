/**
 * Device-tree fuzzing through the whole stack. A DTB mutated at random (bytes, bits, header
 * fields, tokens, truncation, insertion, deletion) must either be refused by parseDtb with an
 * FdtError whose offset lies inside the blob, or parse; a blob that parses must either build a
 * board (Board.fromDtb, which may refuse with FdtError) or, some of the time, boot the kernel
 * with every driver module: the kernel must survive any tree (errors are logged, never thrown).
 * DTS sources mutated as text must compile to a DTB that parses, or be refused with a DtsError
 * (or an FdtError from the writer). Anything else is a crash, recorded with its seed and case.
 */
import { Board, DtsError, FdtError, compileDts, defaultBoardDtb, memoryFileSystem, parseDtb, printDts } from '@gki/hw';
import { Kernel, type KernelImage } from '@gki/kernel';
import { ioPgtableCoreModule } from '@gki/io-pgtable-core';
import ioPgtableArm from '@gki/format-arm-lpae';
import ioPgtableArmV7s from '@gki/format-arm-v7s';
import armSmmuV3 from '@gki/smmu-v3';
import armSmmu from '@gki/smmu';
import { Rng } from '@gki/testkit';
import type { SoakFailure } from './pgtable.js';

export interface DtbFuzzResult {
  readonly seed: number;
  readonly cases: number;
  readonly rejected: number;
  readonly parsed: number;
  readonly boards: number;
  readonly boots: number;
  readonly dtsCases: number;
  readonly dtsCompiled: number;
  readonly failures: SoakFailure[];
}

function image(): KernelImage {
  return {
    builtin: [ioPgtableCoreModule],
    modules: [ioPgtableArm, ioPgtableArmV7s, armSmmuV3, armSmmu],
    load: ['io-pgtable-arm', 'io-pgtable-arm-v7s', 'arm_smmu_v3', 'arm_smmu'],
  };
}

/** Seeds: the default board with and without its SMMU. */
function seedBlobs(): Uint8Array[] {
  return [defaultBoardDtb(), defaultBoardDtb({ smmu: false })];
}

const TOKENS = [1, 2, 3, 4, 9];

function mutate(b: Uint8Array, rng: Rng): Uint8Array {
  const out = b.slice();
  const dv = new DataView(out.buffer);
  switch (rng.below(8)) {
    case 0: {
      if (out.length === 0) return out;
      const n = 1 + rng.below(4);
      for (let i = 0; i < n; i++) out[rng.below(out.length)] = rng.below(256);
      return out;
    }
    case 1: {
      if (out.length === 0) return out;
      const n = 1 + rng.below(3);
      for (let i = 0; i < n; i++) out[rng.below(out.length)]! ^= 1 << rng.below(8);
      return out;
    }
    case 2:
      return out.slice(0, rng.below(out.length));
    case 3: {
      const f = rng.below(10) * 4;
      if (f + 4 > out.length) return out;
      const old = dv.getUint32(f, false);
      const v = [rng.u32(), old + rng.below(17) - 8, rng.below(out.length + 8), 0xffff_ffff][rng.below(4)]!;
      dv.setUint32(f, v >>> 0, false);
      return out;
    }
    case 4: {
      const at = rng.below(out.length + 1);
      const ins = Uint8Array.from({ length: 1 + rng.below(8) }, () => rng.below(256));
      const res = new Uint8Array(out.length + ins.length);
      res.set(out.subarray(0, at));
      res.set(ins, at);
      res.set(out.subarray(at), at + ins.length);
      return res;
    }
    case 5: {
      if (out.length === 0) return out;
      const at = rng.below(out.length);
      const end = Math.min(out.length, at + 1 + rng.below(12));
      const res = new Uint8Array(out.length - (end - at));
      res.set(out.subarray(0, at));
      res.set(out.subarray(end), at);
      return res;
    }
    case 6: {
      // a property value word (after the header) set to a small or extreme number: reg, cells,
      // interrupts, phandles and sizes are where drivers and models read numbers from the tree
      if (out.length < 48) return out;
      const w = 40 + rng.below((out.length - 40) >> 2) * 4;
      if (w + 4 > out.length) return out;
      dv.setUint32(w, [0, 1, 2, 3, 4, 0x10, 0xffff_ffff, rng.u32(), 0x8000_0000][rng.below(9)]! >>> 0, false);
      return out;
    }
    default: {
      if (out.length < 44) return out;
      const w = 40 + rng.below((out.length - 40) >> 2) * 4;
      if (w + 4 > out.length) return out;
      dv.setUint32(w, rng.chance(0.6) ? TOKENS[rng.below(TOKENS.length)]! : rng.below(64), false);
      return out;
    }
  }
}

/** Text mutations of a DTS source: delete, duplicate or swap lines, insert or delete characters. */
function mutateText(src: string, rng: Rng): string {
  const lines = src.split('\n');
  switch (rng.below(6)) {
    case 0:
      lines.splice(rng.below(lines.length), 1);
      return lines.join('\n');
    case 1: {
      const i = rng.below(lines.length);
      lines.splice(i, 0, lines[rng.below(lines.length)]!);
      return lines.join('\n');
    }
    case 2: {
      const i = rng.below(lines.length);
      const j = rng.below(lines.length);
      [lines[i], lines[j]] = [lines[j]!, lines[i]!];
      return lines.join('\n');
    }
    case 3: {
      const at = rng.below(src.length);
      const pieces = ['{', '}', ';', '<', '>', '"', '&', '/', '#', '0x', '=', ',', '[', ']', '(', ')', '\\', '/delete-node/', '/include/', 'label:', '\n'];
      return src.slice(0, at) + pieces[rng.below(pieces.length)]! + src.slice(at);
    }
    case 4: {
      const at = rng.below(src.length);
      return src.slice(0, at) + src.slice(at + 1 + rng.below(6));
    }
    default: {
      // a number somewhere replaced by another
      const nums = [...src.matchAll(/0x[0-9a-f]+|\b\d+\b/g)];
      if (nums.length === 0) return src;
      const m = nums[rng.below(nums.length)]!;
      const v = ['0', '1', '0xffffffff', '4096', '0x80000000', String(rng.u32())][rng.below(6)]!;
      return src.slice(0, m.index) + v + src.slice(m.index! + m[0].length);
    }
  }
}

export interface DtbFuzzOptions {
  readonly seed: number;
  readonly cases: number;
  readonly dtsCases: number;
  /** Boot the kernel on one board built in this many (default 5). */
  readonly bootEvery?: number;
  readonly deadline?: number;
}

export function runDtbFuzz(o: DtbFuzzOptions): DtbFuzzResult {
  const rng = new Rng(o.seed);
  const seeds = seedBlobs();
  const bootEvery = o.bootEvery ?? 5;
  const failures: SoakFailure[] = [];
  let cases = 0;
  let rejected = 0;
  let parsed = 0;
  let boards = 0;
  let boots = 0;
  for (; cases < o.cases && failures.length < 5; cases++) {
    if (o.deadline !== undefined && (cases & 255) === 0 && Date.now() >= o.deadline) break;
    let blob = seeds[cases % seeds.length]!;
    const rounds = 1 + rng.below(3);
    for (let k = 0; k < rounds; k++) blob = mutate(blob, rng);
    try {
      parseDtb(blob);
    } catch (e) {
      if (e instanceof FdtError && e.offset >= 0 && e.offset <= blob.length) {
        rejected++;
        continue;
      }
      failures.push({ what: 'parseDtb', seed: o.seed, op: cases, detail: String(e) });
      continue;
    }
    parsed++;
    let board: Board;
    try {
      board = Board.fromDtb(blob);
    } catch (e) {
      if (e instanceof FdtError) continue;
      failures.push({ what: 'Board.fromDtb', seed: o.seed, op: cases, detail: e instanceof Error ? (e.stack ?? e.message) : String(e) });
      continue;
    }
    boards++;
    if (boards % bootEvery !== 0) continue;
    try {
      Kernel.boot(board, image());
      boots++;
    } catch (e) {
      failures.push({ what: 'Kernel.boot', seed: o.seed, op: cases, detail: e instanceof Error ? (e.stack ?? e.message) : String(e) });
    }
  }
  // DTS sources
  const src = printDts(parseDtb(defaultBoardDtb()));
  let dtsCases = 0;
  let dtsCompiled = 0;
  for (; dtsCases < o.dtsCases && failures.length < 5; dtsCases++) {
    if (o.deadline !== undefined && (dtsCases & 63) === 0 && Date.now() >= o.deadline) break;
    let text = src;
    const rounds = 1 + rng.below(3);
    for (let k = 0; k < rounds; k++) text = mutateText(text, rng);
    let dtb: Uint8Array;
    try {
      dtb = compileDts(text, { filename: 'fuzz.dts', fs: memoryFileSystem({}) });
    } catch (e) {
      if (e instanceof DtsError || e instanceof FdtError) continue;
      failures.push({ what: 'compileDts', seed: o.seed, op: dtsCases, detail: e instanceof Error ? (e.stack ?? e.message) : String(e) });
      continue;
    }
    dtsCompiled++;
    try {
      parseDtb(dtb);
    } catch (e) {
      failures.push({ what: 'compileDts output', seed: o.seed, op: dtsCases, detail: `does not parse: ${String(e)}` });
    }
  }
  return { seed: o.seed, cases, rejected, parsed, boards, boots, dtsCases, dtsCompiled, failures };
}
