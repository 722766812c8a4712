/**
 * Interrupt lines. A device model raises and lowers a line (level semantics); the kernel
 * side registers handlers on the controller. A handler runs synchronously when its line
 * goes high, and again on `retrigger` if the line is still high after the handler ran
 * (a level interrupt that was not cleared at the source).
 */
export type IrqHandler = (irq: number) => void;

export class IrqLine {
  private high = false;
  constructor(
    readonly num: number,
    private readonly ctrl: InterruptController,
  ) {}

  get level(): boolean {
    return this.high;
  }

  raise(): void {
    if (this.high) return;
    this.high = true;
    this.ctrl.deliver(this.num);
  }

  lower(): void {
    this.high = false;
  }
}

export class InterruptController {
  private readonly lines = new Map<number, IrqLine>();
  private readonly handlers = new Map<number, IrqHandler[]>();
  private readonly counts = new Map<number, number>();

  constructor(
    readonly name = 'gic',
    readonly numLines = 1024,
  ) {}

  line(num: number): IrqLine {
    if (!Number.isInteger(num) || num < 0 || num >= this.numLines)
      throw new RangeError(`${this.name}: no interrupt line ${num} (0..${this.numLines - 1})`);
    let l = this.lines.get(num);
    if (!l) {
      l = new IrqLine(num, this);
      this.lines.set(num, l);
    }
    return l;
  }

  /** Registers a handler; returns a function that removes it. */
  onIrq(num: number, handler: IrqHandler): () => void {
    const line = this.line(num);
    const list = this.handlers.get(num) ?? [];
    list.push(handler);
    this.handlers.set(num, list);
    if (line.level) this.deliver(num);
    return () => {
      const l = this.handlers.get(num);
      if (!l) return;
      const i = l.indexOf(handler);
      if (i >= 0) l.splice(i, 1);
      if (l.length === 0) this.handlers.delete(num);
    };
  }

  hasHandler(num: number): boolean {
    return (this.handlers.get(num)?.length ?? 0) > 0;
  }

  /** Times each line was delivered to handlers (for /proc/interrupts-like reports). */
  count(num: number): number {
    return this.counts.get(num) ?? 0;
  }

  /** @internal called by IrqLine.raise */
  deliver(num: number): void {
    const list = this.handlers.get(num);
    if (!list || list.length === 0) return;
    this.counts.set(num, (this.counts.get(num) ?? 0) + 1);
    for (const h of [...list]) h(num);
  }

  /** Re-delivers a line that is still high (level-triggered semantics after EOI). */
  retrigger(num: number): void {
    if (this.lines.get(num)?.level) this.deliver(num);
  }
}
