// Job counts over every queue of a partition, by state, from MediaWiki's own keys.
import { makeQueueId, type QueueRef } from '../../mediawiki/queue-keys.js';
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

/** A queue by wiki and type, for a farm whose DB domains equal the wiki IDs. */
export function farmQueue(wiki: string, type: string): QueueRef {
  return { type, domain: wiki, queueId: makeQueueId(type, wiki) };
}

/**
 * Totals over the queues in s-queuesWithJobs plus `known` ones: a queue holding only abandoned jobs
 * leaves that set, but its jobs still count.
 */
export async function queueTotals(
  store: RedisQueueStore,
  known: readonly QueueRef[] = [],
): Promise<QueueTotals> {
  const listed = (await store.listQueues()).queues;
  const seen = new Set(listed.map((q) => q.queueId));
  const queues = [...listed, ...known.filter((q) => !seen.has(q.queueId))];
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
