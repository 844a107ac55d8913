// A concurrency limit with a FIFO queue: at most `size` holders at once, waiters served in order. A
// waiter may hold a lease (its Kafka partition); once the lease is lost, giveUpLost() takes it out
// of the queue instead of letting it wait for a slot.
import { takeLost, type PartitionLease } from './lease.js';

/** Frees the slot; call it exactly once. */
export type ReleaseSlot = () => void;

interface Waiter {
  readonly lease: PartitionLease | undefined;
  readonly resolve: (release: ReleaseSlot | undefined) => void;
}

export class Slots {
  private busy = 0;
  private waiters: Waiter[] = [];

  constructor(readonly size: number) {}

  get inUse(): number {
    return this.busy;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  /**
   * A free slot's release at once, or undefined when all are taken (then wait with acquire()). The
   * common case, a free slot, costs no promise and no turn of the microtask queue this way.
   */
  tryAcquire(): ReleaseSlot | undefined {
    return this.busy < this.size && this.waiters.length === 0 ? this.grant() : undefined;
  }

  /**
   * Resolves with the slot's release once a slot is free, or with undefined when `lease` was lost
   * while waiting (giveUpLost).
   */
  acquire(lease?: PartitionLease): Promise<ReleaseSlot | undefined> {
    return new Promise((resolve) => {
      if (this.busy < this.size) resolve(this.grant());
      else this.waiters.push({ lease, resolve });
    });
  }

  private grant(): ReleaseSlot {
    this.busy++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.busy--;
      const next = this.waiters.shift();
      if (next !== undefined) next.resolve(this.grant());
    };
  }

  /** Takes the waiters whose lease is lost out of the queue; they resolve with undefined. */
  giveUpLost(): void {
    const split = takeLost(this.waiters);
    if (split === undefined) return;
    this.waiters = split.kept;
    for (const waiter of split.lost) waiter.resolve(undefined);
  }
}
