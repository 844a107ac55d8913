// Job counts over every queue of a partition, by state, from MediaWiki's own keys.
import type { RedisQueueStore } from '../../redis/queue-store.js';

export interface StateTotals {
  unclaimed: number;
  claimed: number;
  abandoned: number;
  delayed: number;
}

export interface QueueTotals extends StateTotals {
  /** Queues listed in s-queuesWithJobs. */
  readonly queues: number;
  readonly byType: Map<string, StateTotals>;
}

export function emptyTotals(): StateTotals {
  return { unclaimed: 0, claimed: 0, abandoned: 0, delayed: 0 };
}

export async function queueTotals(store: RedisQueueStore): Promise<QueueTotals> {
  const { queues } = await store.listQueues();
  const counts = await store.counts(queues);
  const sum = emptyTotals();
  const byType = new Map<string, StateTotals>();
  for (const c of counts) {
    const t = byType.get(c.queue.type) ?? emptyTotals();
    for (const key of ['unclaimed', 'claimed', 'abandoned', 'delayed'] as const) {
      t[key] += c[key];
      sum[key] += c[key];
    }
    byType.set(c.queue.type, t);
  }
  return { ...sum, queues: queues.length, byType };
}

/** Jobs still to run or running: unclaimed + claimed + delayed (abandoned ones are finished). */
export function pending(t: StateTotals): number {
  return t.unclaimed + t.claimed + t.delayed;
}
