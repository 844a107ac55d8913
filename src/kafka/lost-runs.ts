// Runs of this process whose partition a rebalance took from their lane while they ran. Another
// lane of the same rule (a partitioned rule has several in one process) or the same lane once the
// partition came back reads such an event again from the committed offset and finds this process's
// own claim, which kafka-dedup.lua answers as a duplicate: skipping it would commit past an event
// that may still fail to run (the process dying mid-run). So the copy waits here until the original
// completed (it ran, or its retry or error event was produced) and is then done. An original whose
// handling failed never completes, so neither does its copy: that offset stays uncommitted.
import type { LaneMessage } from './lane.js';

interface Original {
  readonly completed: Promise<void>;
  readonly resolve: () => void;
}

function keyOf(message: LaneMessage): string {
  return `${message.topic}\n${message.partition}\n${message.offset}`;
}

export class LostRuns {
  /** Messages whose run started (slot taken) and whose handling has not ended. */
  private readonly running = new Set<LaneMessage>();
  /** Those of them whose partition was lost, by topic, partition and offset. */
  private readonly lost = new Map<string, Original>();

  get size(): number {
    return this.lost.size;
  }

  /** The event's run starts (it holds a slot). */
  started(message: LaneMessage): void {
    this.running.add(message);
  }

  /**
   * The event's run ended and its outcome is settled. Not called when its handling failed: it
   * stays "running" (its offset is never committed either), and a copy waits for it for good.
   */
  ended(message: LaneMessage): void {
    if (!this.running.delete(message) || this.lost.size === 0) return;
    const key = keyOf(message);
    const original = this.lost.get(key);
    if (original === undefined) return;
    this.lost.delete(key);
    original.resolve();
  }

  /** After a rebalance: the running events whose partition was lost can be waited for. */
  partitionsLost(): void {
    for (const message of this.running) {
      if (!message.lease.lost) continue;
      const key = keyOf(message);
      if (this.lost.has(key)) continue;
      let resolve!: () => void;
      const completed = new Promise<void>((r) => (resolve = r));
      this.lost.set(key, { completed, resolve });
    }
  }

  /** The completion of this event's original run here, when it runs on with a lost partition. */
  original(message: LaneMessage): Promise<void> | undefined {
    return this.lost.size === 0 ? undefined : this.lost.get(keyOf(message))?.completed;
  }
}
