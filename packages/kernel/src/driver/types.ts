import type { OfDeviceId } from '../of/property.js';
import type { Device } from './device.js';

/**
 * A device's place in its life cycle:
 * - `unbound`: no driver (none matched, or one rejected it with -ENODEV/-ENXIO, or it was unbound);
 * - `probing`: a driver's probe is running;
 * - `bound`: a driver owns it;
 * - `deferred`: on the deferred-probe list, waiting for a retry;
 * - `failed`: the last probe failed with an error (a later driver may still try);
 * - `removing`: its driver's remove is running.
 */
export type DeviceState = 'unbound' | 'probing' | 'bound' | 'deferred' | 'failed' | 'removing';

/** A platform driver (struct platform_driver, flattened). */
export interface Driver {
  /** Driver name ("arm-smmu"): the prefix of its devices' log lines, unique on its bus. */
  readonly name: string;
  /** OF match table: compatibles it drives, with per-compatible data. */
  readonly ofMatchTable?: readonly OfDeviceId[];
  /** 0 to bind, or a negative errno (-EPROBE_DEFER to be retried later). */
  probe(dev: Device): number;
  /** Called when the device is unbound; devres-managed resources are released after it. */
  remove?(dev: Device): void;
  /** Refuse manual (sysfs-style) bind/unbind, as the SMMU drivers do. */
  readonly suppressBindAttrs?: boolean;
}

/** A bus type: how it decides that a driver can drive a device. */
export interface BusType {
  readonly name: string;
  /** > 0: match (higher is better), 0: no match, -EPROBE_DEFER: cannot tell yet. */
  match(dev: Device, drv: Driver): number;
}

/** A platform device resource (struct resource): `end` is inclusive. */
export interface Resource {
  readonly kind: 'mem' | 'irq';
  readonly start: number;
  readonly end: number;
  readonly name: string;
}

/** Interrupt handler as drivers register it: the line number and the device it was requested for. */
export type IrqHandlerFn = (irq: number, dev: Device) => void;

/** What `listDevices()` reports per device. */
export interface DeviceInfo {
  readonly name: string;
  readonly node: string | null;
  readonly driver: string | null;
  readonly state: DeviceState;
  readonly deferReason: string | null;
  /** The driver and -errno of the last probe that failed or rejected it (null once bound). */
  readonly probeError: { readonly driver: string; readonly err: number } | null;
}

/** A device link's state, derived from its two ends (enum device_link_state). */
export type DeviceLinkStatus = 'dormant' | 'available' | 'consumer-probe' | 'active' | 'supplier-unbind';

export interface DeviceLinkFlags {
  /** Not managed by the driver core: records the relation, never blocks a probe. */
  readonly stateless?: boolean;
}
