/**
 * A workqueue as the model runs one: work items queued from interrupt handlers and ioctls run
 * in order when the outermost driver entry point finishes (the model has one CPU and no
 * threads, so "later, in process context" means "before returning to the caller"). A flush
 * from inside a work item returns at once; the running flush picks up what that item queued.
 */
export class WorkQueue {
  private readonly items: (() => void)[] = [];
  private running = false;

  /** queue_work. */
  queue(fn: () => void): void {
    this.items.push(fn);
  }

  /** flush_workqueue: runs queued items, and those they queue, until none is left. */
  flush(): void {
    if (this.running) return;
    this.running = true;
    try {
      for (let fn = this.items.shift(); fn; fn = this.items.shift()) fn();
    } finally {
      this.running = false;
    }
  }

  /** Items queued and not yet run. */
  get pending(): number {
    return this.items.length;
  }

  /** Drops every queued item unrun (the queue's owner is going away). */
  cancelAll(): void {
    this.items.length = 0;
  }
}
