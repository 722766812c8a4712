import { Board } from '@gki/hw';
import { Kernel, type KernelModule } from '@gki/kernel';

/** A fresh kernel on a small board (no image yet, nothing booted). */
export function mkKernel(): Kernel {
  return new Kernel(new Board('t', [{ base: 0x4000_0000, size: 64 << 20 }]));
}

/** A GPL module that inits to 0 and has an exit, overridable field by field. */
export function mod(name: string, extra: Partial<KernelModule> = {}): KernelModule {
  return { name, version: '1.0.0', license: 'GPL v2', init: () => 0, exit: () => {}, ...extra };
}

/** The formatted kernel log, one record per line. */
export function dmesg(k: Kernel): string {
  return k.log.dmesg({ debug: true });
}
