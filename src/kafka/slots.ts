// A concurrency limit with a FIFO queue: at most `size` holders at once, waiters served in order.

export class Slots {
  private busy = 0;
  private readonly waiters: (() => void)[] = [];

  constructor(readonly size: number) {}

  get inUse(): number {
    return this.busy;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  /** Resolves once a slot is free; call the returned function exactly once to free it. */
  acquire(): Promise<() => void> {
    return new Promise((resolve) => {
      const grant = (): void => {
        this.busy++;
        let released = false;
        resolve(() => {
          if (released) return;
          released = true;
          this.busy--;
          this.waiters.shift()?.();
        });
      };
      if (this.busy < this.size) grant();
      else this.waiters.push(grant);
    });
  }
}
