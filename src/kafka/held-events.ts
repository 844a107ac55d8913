// Retry and delayed events wait here, in memory, until they are due. Waiting never takes a
// concurrency slot. An event is released either when it is due or, if it is due much later, after
// `holdMs` so that it can be produced again to the end of its topic and its offset committed.
import type { Clock } from './clock.js';

export type ReleaseReason = 'due' | 'hold-expired' | 'stopping';

interface Held {
  readonly dueAt: number;
  readonly releaseAt: number;
  readonly release: (reason: ReleaseReason) => void;
}

export class HeldEvents {
  private heap: Held[] = [];
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    private readonly holdMs: number,
    /** Clock jumps (tests) are noticed within this many ms. */
    private readonly tickMs = 100,
  ) {}

  get size(): number {
    return this.heap.length;
  }

  /** Calls `release` once, when due (or when the hold expires, or on stop). */
  hold(dueAt: number, release: (reason: ReleaseReason) => void): void {
    if (this.stopped) {
      release('stopping');
      return;
    }
    const now = this.clock.now();
    if (dueAt <= now) {
      release('due');
      return;
    }
    this.push({ dueAt, releaseAt: Math.min(dueAt, now + this.holdMs), release });
    this.schedule();
  }

  /** Releases everything with reason 'stopping'; later hold() calls release at once. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    const all = this.heap;
    this.heap = [];
    for (const held of all) held.release('stopping');
  }

  private schedule(): void {
    if (this.timer || this.heap.length === 0 || this.stopped) return;
    const next = this.heap[0] as Held;
    const wait = Math.max(0, Math.min(next.releaseAt - this.clock.now(), this.tickMs));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.releaseDue();
      this.schedule();
    }, wait);
    this.timer.unref();
  }

  private releaseDue(): void {
    const now = this.clock.now();
    // The clock may have jumped: anything now due goes, whatever its hold deadline.
    const due: Held[] = [];
    const keep: Held[] = [];
    if ((this.heap[0]?.releaseAt ?? Infinity) > now && !this.heap.some((h) => h.dueAt <= now)) return;
    for (const held of this.heap) (held.dueAt <= now || held.releaseAt <= now ? due : keep).push(held);
    this.heap = keep;
    this.heapify();
    for (const held of due) held.release(held.dueAt <= now ? 'due' : 'hold-expired');
  }

  private push(item: Held): void {
    this.heap.push(item);
    let i = this.heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((this.heap[parent] as Held).releaseAt <= item.releaseAt) break;
      this.heap[i] = this.heap[parent] as Held;
      i = parent;
    }
    this.heap[i] = item;
  }

  private heapify(): void {
    const items = this.heap;
    this.heap = [];
    for (const item of items) this.push(item);
  }
}
