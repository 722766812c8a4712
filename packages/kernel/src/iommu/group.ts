import type { Device } from '../driver/device.js';
import type { IommuDomain } from './types.js';

/**
 * struct iommu_group: devices the IOMMU cannot tell apart (they share stream IDs), so they
 * always share one domain. `domain` is what the group is attached to right now,
 * `defaultDomain` what the core gave it at probe and returns it to on detach.
 * Only the IOMMU core changes these fields; drivers read them.
 */
export class IommuGroup {
  readonly devices: Device[] = [];
  defaultDomain: IommuDomain | null = null;
  domain: IommuDomain | null = null;
  /** iommu_group_get/set_iommudata: the driver's per-group data. */
  iommuData: unknown = undefined;

  constructor(
    /** Group number, unique per kernel (/sys/kernel/iommu_groups/N). */
    readonly id: number,
  ) {}

  toString(): string {
    return `iommu_group ${this.id}`;
  }
}
