// The runner's picture of which (wiki, type) queues have ready jobs, rebuilt from every discovery
// poll. Partitions are tracked separately so one failing partition does not blank the others: its
// last good listing is kept for a short while (marked stale), then dropped.
import type { PartitionError, QueueListing, ReadyQueue } from '../backend/types.js';
import { queueKey } from './queue-id.js';

export interface ViewQueue {
  readonly key: string;
  readonly wiki: string;
  readonly domain: string;
  readonly type: string;
  /** Ready jobs summed over the partitions that report this queue. */
  readonly ready: number;
  /** The partitions that report it. */
  readonly partitions: readonly string[];
  /** Start time (ms) of the newest successful poll that reported this queue. */
  readonly seenAt: number;
  /** True when every partition reporting it is a kept-over listing from before an error. */
  readonly stale: boolean;
}

export interface PartitionState {
  readonly partition: string;
  /** Start time of the last poll that read this partition successfully (ms). */
  readonly goodAt: number;
  /** The latest error, if the last poll of this partition failed. */
  readonly error: string | null;
  readonly errorSince: number | null;
}

interface PartitionEntry {
  goodAt: number;
  queues: readonly ReadyQueue[];
  error: string | null;
  errorSince: number | null;
}

/** Partition name used when the whole listing call failed and no partition is known by name. */
export const ALL_PARTITIONS = '*';

export class ReadyView {
  private readonly partitions = new Map<string, PartitionEntry>();
  private merged = new Map<string, ViewQueue>();

  constructor(private staleTtlMs: number) {}

  setStaleTtl(ms: number): void {
    this.staleTtlMs = ms;
  }

  /**
   * Applies one poll's listing. Partitions absent from `errors` are taken as read successfully
   * (absent from `queues` too means "no ready queues there").
   */
  update(listing: QueueListing<ReadyQueue>, pollStartedAt: number): void {
    const failed = new Map<string, PartitionError>();
    for (const error of listing.errors) failed.set(error.partition, error);
    const wholeCallFailed = failed.has(ALL_PARTITIONS);

    const fresh = new Map<string, ReadyQueue[]>();
    for (const queue of listing.queues) {
      if (!(queue.ready > 0)) continue;
      const list = fresh.get(queue.partition) ?? [];
      list.push(queue);
      fresh.set(queue.partition, list);
    }

    for (const [partition, entry] of this.partitions) {
      if (failed.has(partition) || wholeCallFailed) continue;
      if (!fresh.has(partition)) {
        // Read fine and holds nothing ready.
        entry.queues = [];
        entry.goodAt = pollStartedAt;
        entry.error = null;
        entry.errorSince = null;
      }
    }
    for (const [partition, queues] of fresh) {
      this.partitions.set(partition, { goodAt: pollStartedAt, queues, error: null, errorSince: null });
    }
    for (const [partition, error] of failed) {
      const entry = this.partitions.get(partition);
      if (entry) {
        entry.error = error.error;
        entry.errorSince ??= pollStartedAt;
      } else if (partition !== ALL_PARTITIONS || this.partitions.size === 0) {
        this.partitions.set(partition, {
          goodAt: -Infinity,
          queues: [],
          error: error.error,
          errorSince: pollStartedAt,
        });
      }
      if (partition === ALL_PARTITIONS) {
        for (const other of this.partitions.values()) {
          other.error = error.error;
          other.errorSince ??= pollStartedAt;
        }
      }
    }
    // A partition with neither queues nor an error has nothing to remember.
    for (const [partition, entry] of this.partitions) {
      if (entry.error === null && entry.queues.length === 0) this.partitions.delete(partition);
    }
    this.rebuild(pollStartedAt);
  }

  private rebuild(now: number): void {
    const next = new Map<
      string,
      { wiki: string; domain: string; type: string; ready: number; seenAt: number; partitions: string[] }
    >();
    const staleness = new Map<string, boolean>();
    for (const [partition, entry] of this.partitions) {
      const stale = entry.error !== null;
      if (stale && now - entry.goodAt > this.staleTtlMs) continue;
      for (const q of entry.queues) {
        const key = queueKey(q.wiki, q.type);
        const acc = next.get(key);
        if (acc) {
          acc.ready += q.ready;
          if (!acc.partitions.includes(partition)) acc.partitions.push(partition);
          if (!stale) acc.seenAt = Math.max(acc.seenAt, entry.goodAt);
        } else {
          next.set(key, {
            wiki: q.wiki,
            domain: q.domain,
            type: q.type,
            ready: q.ready,
            seenAt: stale ? -Infinity : entry.goodAt,
            partitions: [partition],
          });
        }
        staleness.set(key, (staleness.get(key) ?? true) && stale);
      }
    }
    const merged = new Map<string, ViewQueue>();
    for (const [key, acc] of next) {
      merged.set(key, {
        key,
        ...acc,
        stale: staleness.get(key) ?? false,
      });
    }
    this.merged = merged;
  }

  get(key: string): ViewQueue | undefined {
    return this.merged.get(key);
  }

  queues(): IterableIterator<ViewQueue> {
    return this.merged.values();
  }

  get size(): number {
    return this.merged.size;
  }

  partitionStates(): PartitionState[] {
    return [...this.partitions.entries()].map(([partition, e]) => ({
      partition,
      goodAt: e.goodAt,
      error: e.error,
      errorSince: e.errorSince,
    }));
  }
}
