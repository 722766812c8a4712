import type { Kernel } from '../kernel.js';

/** The OF layer: the board's DTB as device nodes, and platform devices made from them. */
export class OfLayer {
  constructor(readonly kernel: Kernel) {}

  /** of_platform_populate: one platform device per enabled node with a `compatible`. */
  populate(): void {
    throw new Error('OfLayer.populate: not implemented yet');
  }
}
