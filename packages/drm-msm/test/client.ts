/**
 * A tiny user-space driver for the tests, in the manner of Mesa's freedreno: buffers created
 * with GEM_NEW, placed with GEM_INFO, filled through mmap, and command streams of PM4 type-7
 * packets (its own encoder, written from the PM4 header layout: count in bits 0..14 with an
 * odd-parity bit 15, opcode in bits 16..22 with an odd-parity bit 23, type 7 in bits 28..31).
 */
import { expect } from 'vitest';
import {
  MSM_BO_WC,
  MSM_INFO_GET_IOVA,
  MSM_INFO_SET_IOVA,
  MSM_PIPE_3D0,
  MSM_SUBMIT_BO_READ,
  MSM_SUBMIT_BO_WRITE,
  MSM_SUBMIT_CMD_BUF,
  msmTimeoutAfter,
  type MsmCpuMapping,
  type MsmFile,
} from '../src/index.js';

function parity(v: number): number {
  let x = v >>> 0;
  let ones = 0;
  while (x) {
    ones += x & 1;
    x >>>= 1;
  }
  return ones % 2 === 0 ? 1 : 0;
}

export function pkt7(op: number, cnt: number): number {
  return (0x7000_0000 | cnt | (parity(cnt) << 15) | (op << 16) | (parity(op) << 23)) >>> 0;
}

const lo = (a: number): number => a % 2 ** 32;
const hi = (a: number): number => Math.floor(a / 2 ** 32);

/** CP_MEM_WRITE of `words` at GPU address `addr`. */
export function memWrite(addr: number, words: readonly number[]): number[] {
  return [pkt7(0x3d, 2 + words.length), lo(addr), hi(addr), ...words];
}

/** CP_MEM_TO_MEM: one dword from `src` to `dst`. */
export function memCopy(dst: number, src: number): number[] {
  return [pkt7(0x73, 5), 0, lo(dst), hi(dst), lo(src), hi(src)];
}

export interface Buf {
  handle: number;
  iova: number;
  map: MsmCpuMapping;
  size: number;
}

/** GEM_NEW + (SET_IOVA at `at` | GET_IOVA) + mmap. */
export function newBuf(f: MsmFile, size: number, at?: number, flags = MSM_BO_WC): Buf {
  const n = f.gemNew({ size, flags });
  if (typeof n === 'number') throw new Error(`GEM_NEW: ${n}`);
  if (at !== undefined) expect(f.gemInfo({ handle: n.handle, info: MSM_INFO_SET_IOVA, value: at })).toEqual({ value: at, len: 0 });
  const info = f.gemInfo({ handle: n.handle, info: MSM_INFO_GET_IOVA });
  if (typeof info === 'number') throw new Error(`GET_IOVA: ${info}`);
  const map = f.cpuMap(n.handle);
  if (typeof map === 'number') throw new Error(`mmap: ${map}`);
  return { handle: n.handle, iova: info.value as number, map, size };
}

/**
 * Writes `stream` into `cmd` and submits it with the buffers listed (read or written), on
 * queue `queueid`. Returns the fence id.
 */
export function submitStream(f: MsmFile, cmd: Buf, stream: readonly number[], uses: { buf: Buf; write?: boolean }[] = [], queueid = 0): number {
  cmd.map.writeWords(0, stream);
  const bos = [{ flags: MSM_SUBMIT_BO_READ, handle: cmd.handle }, ...uses.map((u) => ({ flags: u.write ? MSM_SUBMIT_BO_WRITE : MSM_SUBMIT_BO_READ, handle: u.buf.handle }))];
  const r = f.gemSubmit({ flags: MSM_PIPE_3D0, queueid, bos, cmds: [{ type: MSM_SUBMIT_CMD_BUF, submitIdx: 0, submitOffset: 0, size: stream.length * 4 }] });
  if (typeof r === 'number') throw new Error(`SUBMIT: ${r}`);
  return r.fence;
}

/** WAIT_FENCE with a timeout of `ms` from now. */
export function wait(f: MsmFile, fence: number, ms = 1000, queueid = 0): number {
  return f.waitFence({ fence, queueid, timeout: msmTimeoutAfter(f.drm.kernel.board.clock.now(), ms * 1e6) });
}
