import { readxPollTimeout } from '@gki/kernel';
import { panfrostExceptionName } from './exception.js';
import { readFeatures, type PanfrostFeatures } from './features.js';
import * as R from './regs.js';
import type { PanfrostDevice } from './device.js';

function hex(v: number | bigint, pad = 0): string {
  return v.toString(16).padStart(pad, '0');
}

/**
 * panfrost_gpu_soft_reset: mask GPU interrupts, SOFT_RESET and wait (10 µs polls, 10 ms) for
 * RESET_COMPLETED in the raw status; on a timeout try HARD_RESET the same way. Then clear every
 * GPU interrupt and unmask only the ones panfrost handles. 0 or -ETIMEDOUT.
 */
export function gpuSoftReset(pfdev: PanfrostDevice): number {
  const regs = pfdev.regs;
  const k = pfdev.kernel;
  regs.write32(R.GPU_INT_MASK, 0);
  regs.write32(R.GPU_INT_CLEAR, R.GPU_IRQ_RESET_COMPLETED);
  regs.write32(R.GPU_CMD, R.GPU_CMD_SOFT_RESET);
  const done = (v: number): boolean => (v & R.GPU_IRQ_RESET_COMPLETED) !== 0;
  let r = readxPollTimeout(k, () => regs.read32(R.GPU_INT_RAWSTAT), done, 10, 10_000);
  if (r < 0) {
    pfdev.dev.err('gpu soft reset timed out, attempting hard reset');
    regs.write32(R.GPU_CMD, R.GPU_CMD_HARD_RESET);
    r = readxPollTimeout(k, () => regs.read32(R.GPU_INT_RAWSTAT), done, 100, 10_000);
    if (r < 0) {
      pfdev.dev.err('gpu hard reset timed out');
      return r;
    }
  }
  regs.write32(R.GPU_INT_CLEAR, R.GPU_IRQ_MASK_ALL);
  regs.write32(R.GPU_INT_MASK, R.GPU_IRQ_MASK_ERROR | R.GPU_IRQ_PERFCNT_SAMPLE_COMPLETED | R.GPU_IRQ_CLEAN_CACHES_COMPLETED);
  return 0;
}

function popcount64(v: bigint): number {
  let n = 0;
  for (let x = v; x; x &= x - 1n) n++;
  return n;
}

/**
 * panfrost_get_core_mask: every core when there is one L2; otherwise only the first core
 * group (the cores below the second L2 bit), as the kernel supports for now.
 */
export function coreMask(pfdev: PanfrostDevice): bigint {
  const f = pfdev.features;
  const all = (1n << 64n) - 1n;
  if (f.l2Present === 1n) return all;
  const mask = (~(f.l2Present - 1n) & (f.l2Present - 2n)) & all;
  if (!pfdev.coreGroupNoticeShown) {
    pfdev.coreGroupNoticeShown = true;
    pfdev.dev.info(`using only 1st core group (${popcount64(mask)} cores from ${popcount64(f.shaderPresent)})`);
  }
  return mask;
}

/**
 * panfrost_gpu_power_on: power up the L2, then the shader cores, then the tiler, each time
 * waiting (10 µs polls) for the READY bitmap to match what was asked for.
 */
export function gpuPowerOn(pfdev: PanfrostDevice): void {
  const regs = pfdev.regs;
  const f = pfdev.features;
  const k = pfdev.kernel;
  const mask = coreMask(pfdev);
  const lo = (v: bigint): number => Number(v & 0xffff_ffffn);
  const l2 = lo(f.l2Present & mask);
  regs.write32(R.L2_PWRON_LO, l2);
  if (readxPollTimeout(k, () => regs.read32(R.L2_READY_LO) >>> 0, (v) => v === l2, 10, 20_000) < 0) pfdev.dev.err('error powering up gpu L2');
  const shader = lo(f.shaderPresent & mask);
  regs.write32(R.SHADER_PWRON_LO, shader);
  if (readxPollTimeout(k, () => regs.read32(R.SHADER_READY_LO) >>> 0, (v) => v === shader, 10, 20_000) < 0)
    pfdev.dev.err('error powering up gpu shader');
  const tiler = lo(f.tilerPresent);
  regs.write32(R.TILER_PWRON_LO, tiler);
  if (readxPollTimeout(k, () => regs.read32(R.TILER_READY_LO) >>> 0, (v) => v === tiler, 10, 1_000) < 0) pfdev.dev.err('error powering up gpu tiler');
}

/** panfrost_gpu_power_off: shader cores, tiler, then L2, waiting for each transition to end. */
export function gpuPowerOff(pfdev: PanfrostDevice): void {
  const regs = pfdev.regs;
  const f = pfdev.features;
  const k = pfdev.kernel;
  const lo = (v: bigint): number => Number(v & 0xffff_ffffn);
  regs.write32(R.SHADER_PWROFF_LO, lo(f.shaderPresent));
  if (readxPollTimeout(k, () => regs.read32(R.SHADER_PWRTRANS_LO), (v) => v === 0, 1, 2_000) < 0) pfdev.dev.err('shader power transition timeout');
  regs.write32(R.TILER_PWROFF_LO, lo(f.tilerPresent));
  if (readxPollTimeout(k, () => regs.read32(R.TILER_PWRTRANS_LO), (v) => v === 0, 1, 2_000) < 0) pfdev.dev.err('tiler power transition timeout');
  regs.write32(R.L2_PWROFF_LO, lo(f.l2Present));
  if (readxPollTimeout(k, () => regs.read32(R.L2_PWRTRANS_LO), (v) => v === 0, 1, 2_000) < 0) pfdev.dev.err('l2 power transition timeout');
}

/** Logs what panfrost_gpu_init_features prints. */
export function logFeatures(pfdev: PanfrostDevice, f: PanfrostFeatures): void {
  const major = (f.revision >>> 12) & 0xf;
  const minor = (f.revision >>> 4) & 0xff;
  const status = f.revision & 0xf;
  pfdev.dev.info(`mali-${f.name} id 0x${hex(f.id)} major 0x${hex(major)} minor 0x${hex(minor)} status 0x${hex(status)}`);
  pfdev.dev.info(
    `Features: L2:0x${hex(f.l2Features, 8)} Shader:0x${hex(f.coreFeatures, 8)} Tiler:0x${hex(f.tilerFeatures, 8)} ` +
      `Mem:0x${hex(f.memFeatures)} MMU:0x${hex(f.mmuFeatures, 8)} AS:0x${hex(f.asPresent)} JS:0x${hex(f.jsPresent)}`,
  );
  pfdev.dev.info(`shader_present=0x${hex(f.shaderPresent)} l2_present=0x${hex(f.l2Present)}`);
}

/**
 * panfrost_gpu_init: soft reset, read the features, request the "gpu" interrupt, power up.
 * 0 or -errno (the interrupt lookup's error without a "gpu" interrupt).
 */
export function gpuInit(pfdev: PanfrostDevice): number {
  let r = gpuSoftReset(pfdev);
  if (r < 0) return r;
  pfdev.features = readFeatures(pfdev.regs);
  logFeatures(pfdev, pfdev.features);
  const irq = pfdev.dev.irqByName('gpu');
  if (irq < 0) return irq;
  r = pfdev.requestIrq(irq, () => gpuIrq(pfdev));
  if (r < 0) {
    pfdev.dev.err('failed to request gpu irq');
    return r;
  }
  gpuPowerOn(pfdev);
  return 0;
}

/** The GPU interrupt: reports a GPU fault (and masks further ones), then clears what it saw. */
export function gpuIrq(pfdev: PanfrostDevice): void {
  if (!pfdev.hwAccessible) return;
  const regs = pfdev.regs;
  const state = regs.read32(R.GPU_INT_STAT) >>> 0;
  const faultStatus = regs.read32(R.GPU_FAULT_STATUS) >>> 0;
  if (!state) return;
  if (state & R.GPU_IRQ_MASK_ERROR) {
    const hi = regs.read32(R.GPU_FAULT_ADDRESS_HI) >>> 0;
    const lo = regs.read32(R.GPU_FAULT_ADDRESS_LO) >>> 0;
    pfdev.dev.warn(`GPU Fault 0x${hex(faultStatus, 8)} (${panfrostExceptionName(faultStatus & 0xff)}) at 0x${hex(hi, 8)}${hex(lo, 8)}`);
    if (state & R.GPU_IRQ_MULTIPLE_FAULT) pfdev.dev.warn('There were multiple GPU faults - some have not been reported');
    regs.write32(R.GPU_INT_MASK, 0);
  }
  regs.write32(R.GPU_INT_CLEAR, state);
}
