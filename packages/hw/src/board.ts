import { MmioBus } from './bus.js';
import { SimClock } from './clock.js';
import { InterruptController } from './irq.js';
import { PhysMem, type MemRegion } from './mem.js';

/**
 * A machine: RAM, the MMIO bus, the interrupt controller, the clock, the device models
 * (by name, for tests and the CLI to reach) and the flattened device tree describing it.
 */
export class Board {
  readonly mem: PhysMem;
  readonly bus: MmioBus;
  readonly irq: InterruptController;
  readonly clock = new SimClock();
  /** Device models by node path or name; only tests, the CLI and the board itself look here. */
  readonly models = new Map<string, unknown>();
  dtb: Uint8Array = new Uint8Array(0);

  constructor(
    readonly name: string,
    ram: readonly MemRegion[],
  ) {
    this.mem = new PhysMem(ram);
    this.bus = new MmioBus(this.mem);
    this.irq = new InterruptController();
  }
}
