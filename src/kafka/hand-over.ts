// Events a rebalance took from this runner before they ran are given up here (claims released), so
// the partition's new owner runs them at once. Between two runner hosts the release can reach Redis
// after the new owner read such an event and skipped it as a duplicate of the claim, and then no
// one would run it. So each one is watched until the group's committed offset of its partition
// passes it (the new owner has decided about it) and is then checked once more: the recheck claims
// it again, which finds it run or held by the new owner (the usual case: a duplicate, skipped), or
// else runs it here.
import type { Logger } from '../observability/logger.js';

/** The group's committed offset per partition of `topic` (index = partition; -1n: none). */
export type CommittedOffsets = (
  topic: string,
  partitions: readonly number[],
) => Promise<readonly bigint[] | undefined>;

interface Watched {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly recheck: () => void;
}

export class HandOverWatch {
  private items: Watched[] = [];
  private timer: NodeJS.Timeout | undefined;
  private checking = false;
  private stopped = false;

  constructor(
    private readonly committed: CommittedOffsets,
    private readonly intervalMs: number,
    private readonly log: Logger,
  ) {}

  get size(): number {
    return this.items.length;
  }

  /** Calls `recheck` once the group's committed offset of the partition is past `offset`. */
  add(topic: string, partition: number, offset: bigint, recheck: () => void): void {
    if (this.stopped) return;
    this.items.push({ topic, partition, offset, recheck });
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.items.length > 0) {
      this.log.warn('Stopping with events handed over in a rebalance not yet confirmed by their new owner', {
        events: this.items.length,
      });
    }
    this.items = [];
  }

  private schedule(): void {
    if (this.timer !== undefined || this.checking || this.stopped || this.items.length === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.check().finally(() => {
        this.checking = false;
        this.schedule();
      });
    }, this.intervalMs);
    this.timer.unref();
  }

  private async check(): Promise<void> {
    this.checking = true;
    const byTopic = new Map<string, Set<number>>();
    for (const { topic, partition } of this.items) {
      const partitions = byTopic.get(topic) ?? new Set<number>();
      partitions.add(partition);
      byTopic.set(topic, partitions);
    }
    for (const [topic, partitions] of byTopic) {
      let offsets: readonly bigint[] | undefined;
      try {
        offsets = await this.committed(topic, [...partitions]);
      } catch (error) {
        this.log.warn('Cannot read committed offsets for events handed over in a rebalance; will retry', {
          topic,
          error: error instanceof Error ? error.message : String(error),
        });
        continue;
      }
      if (offsets === undefined || this.stopped) continue;
      const due = this.items.filter((w) => w.topic === topic && (offsets[w.partition] ?? -1n) > w.offset);
      if (due.length === 0) continue;
      this.items = this.items.filter((w) => !due.includes(w));
      for (const watched of due) watched.recheck();
    }
  }
}
