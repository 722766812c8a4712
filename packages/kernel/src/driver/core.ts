import type { Kernel } from '../kernel.js';

/**
 * The driver core: buses, devices, drivers, probe, deferred probe, device links.
 * (Skeleton: filled in by the driver-core work.)
 */
export class DriverCore {
  constructor(readonly kernel: Kernel) {}

  /** late_initcall: retry deferred probes; then the deferred-probe timeout fails the rest. */
  deferredProbeInitcall(): void {
    throw new Error('DriverCore.deferredProbeInitcall: not implemented yet');
  }
}
