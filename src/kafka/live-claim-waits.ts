// Events whose ID another live runner process holds claimed and has not run (kafka-dedup.lua's
// "w"; typically their partition moved here while that runner runs them) wait here: their offsets
// stay uncommitted, they hold no slot, and they are asked about again together, once per interval
// (a third of the alive key's TTL: the owner's death shows within one TTL, its finish with its next
// script call), so many waiting events cost one Redis call per interval, not one per turn. An event
// whose partition is lost meanwhile is let go at once (the new owner reads it again).
import { takeLost, type PartitionLease } from './lease.js';

/** 'again': ask Redis again now; 'lost': the event's partition moved away. */
export type WaitEnd = 'again' | 'lost';

interface Waiter {
  readonly due: number;
  readonly lease: PartitionLease;
  readonly resolve: (end: WaitEnd) => void;
}

export class LiveClaimWaits {
  /** Oldest first; all wait the same interval, so also by due time. */
  private waiters: Waiter[] = [];
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly intervalMs: () => number) {}

  get size(): number {
    return this.waiters.length;
  }

  /**
   * Resolves 'again' one interval from now, or 'lost' as soon as giveUpLost() finds `lease` lost.
   * After stop() it never resolves: the event's offset stays uncommitted and it is read again.
   */
  next(lease: PartitionLease): Promise<WaitEnd> {
    return new Promise((resolve) => {
      if (this.stopped) return;
      this.waiters.push({ due: performance.now() + this.intervalMs(), lease, resolve });
      this.schedule();
    });
  }

  /** A rebalance took partitions away: their waiting events end now. */
  giveUpLost(): void {
    const split = takeLost(this.waiters);
    if (split === undefined) return;
    this.waiters = split.kept;
    for (const waiter of split.lost) waiter.resolve('lost');
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.waiters = [];
  }

  private schedule(): void {
    const head = this.waiters[0];
    if (this.timer !== undefined || this.stopped || head === undefined) return;
    this.timer = setTimeout(() => this.tick(), Math.max(0, head.due - performance.now()));
    this.timer.unref();
  }

  private tick(): void {
    this.timer = undefined;
    // Those due within a quarter interval go along: one script call asks about all of them.
    const until = performance.now() + this.intervalMs() / 4;
    let count = 0;
    while (count < this.waiters.length && (this.waiters[count] as Waiter).due <= until) count++;
    const due = this.waiters.splice(0, count);
    for (const waiter of due) waiter.resolve(waiter.lease.lost ? 'lost' : 'again');
    this.schedule();
  }
}
