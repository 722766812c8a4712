/**
 * Simulated time the kernel's own work takes, in nanoseconds of the board clock. The model's
 * CPU is the only thing that lets time pass (a device model never advances the clock), so
 * each of these operations moves it forward by a fixed cost; drivers add their own delays
 * (register polls, udelay). The figures are of the order a small arm64 SoC shows in its boot
 * log: tens of microseconds per initcall and probe, a few hundred per module load.
 */
export const KERNEL_COSTS = {
  /** One built-in initcall (the call and its bookkeeping, before what init itself does). */
  initcallNs: 20_000,
  /** Loading one module: reading the .ko, relocating and resolving its symbols. */
  moduleLoadNs: 300_000,
  /** Each symbol a loading module needs (symbol table look-up and relocation). */
  moduleSymbolNs: 2_000,
  /** Unloading one module (before its exit's own work). */
  moduleUnloadNs: 50_000,
  /** device_add: creating and registering one device (sysfs, uevent, fw_devlink parsing). */
  deviceAddNs: 8_000,
  /** really_probe around a driver's probe (pinctrl, DMA configuration, devres bookkeeping). */
  probeNs: 25_000,
} as const;
