import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Board } from '@gki/hw';
import { INITCALL_LEVELS, Kernel } from '@gki/kernel';
import { ioPgtableCoreModule, type IoPgtableCfg, type IommuIotlbGather } from '@gki/io-pgtable-core';
import { readVectorFile, type VectorCase } from '@gki/io-pgtable-core/vectors';
import armV7sModule, { createArmV7sOps, type ArmV7sIoPgtable } from '../src/index.js';

/** A fresh kernel on a board with `size` bytes of RAM at `base` (default: 1 GiB at 1 GiB). */
export function makeKernel(base = 0x4000_0000, size = 0x4000_0000): Kernel {
  return new Kernel(new Board('v7s-test', [{ base, size }]));
}

export interface TlbEvent {
  fn: 'tlb_add_page' | 'tlb_flush_walk' | 'tlb_flush_all';
  iova?: number;
  size?: number;
  granule?: number;
  gather?: IommuIotlbGather | null;
  cookie?: unknown;
}

/** A flush-ops recorder: every callback appended to `events` in call order. */
export function recordingTlb() {
  const events: TlbEvent[] = [];
  return {
    events,
    tlb: {
      tlbFlushAll(cookie: unknown) {
        events.push({ fn: 'tlb_flush_all', cookie });
      },
      tlbFlushWalk(iova: number, size: number, granule: number, cookie: unknown) {
        events.push({ fn: 'tlb_flush_walk', iova, size, granule, cookie });
      },
      tlbAddPage(gather: IommuIotlbGather | null, iova: number, granule: number, cookie: unknown) {
        events.push({ fn: 'tlb_add_page', iova, size: granule, granule, gather, cookie });
      },
    },
  };
}

export function v7sCfg(over: Partial<IoPgtableCfg> = {}): IoPgtableCfg {
  return { quirks: 0, pgsizeBitmap: 0x1111000, ias: 32, oas: 32, coherentWalk: true, ...over };
}

/** Creates a table that must succeed. */
export function mustCreate(kernel: Kernel, cfg: IoPgtableCfg, cookie: unknown = null): ArmV7sIoPgtable {
  const ops = createArmV7sOps(kernel, cfg, cookie);
  if (ops === null) throw new Error('createArmV7sOps rejected a valid config');
  return ops;
}

/**
 * A kernel running the io-pgtable core built in and io-pgtable-arm-v7s loaded as a module,
 * booted the way Kernel.boot does minus the OF and driver-core steps (no devices needed).
 */
export function bootWithV7s(base = 0x4000_0000, size = 0x8000_0000): Kernel {
  const k = makeKernel(base, size);
  k.modules.setImage({ builtin: [ioPgtableCoreModule], modules: [armV7sModule], load: [armV7sModule.name] });
  for (const level of INITCALL_LEVELS) k.modules.runBuiltinInitcalls(level);
  const err = k.modules.modprobe(armV7sModule.name);
  if (err < 0) throw new Error(`modprobe ${armV7sModule.name} failed: ${err}`);
  return k;
}

export const VECTORS_DIR = process.env.GKI_VECTORS_DIR ?? fileURLToPath(new URL('../../../vectors/', import.meta.url));

/** Every ARM_V7S case of every vector file, tagged with its file name. */
export function loadV7sCases(): { file: string; c: VectorCase }[] {
  const out: { file: string; c: VectorCase }[] = [];
  for (const file of readdirSync(VECTORS_DIR).filter((f) => f.endsWith('.jsonl')).sort())
    for (const c of readVectorFile(join(VECTORS_DIR, file))) if (c.format === 'ARM_V7S') out.push({ file, c });
  return out;
}
