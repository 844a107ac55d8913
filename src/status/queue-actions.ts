// Operator actions on queues, shared by `jobqueue retry-abandoned` / `jobqueue delete` and the status
// server's admin routes. Each queue is acted on with RedisQueueStore's atomic scripts; a queue that
// fails is reported and the others still go ahead.
import { QUEUES_WITH_ABANDONED_KEY } from '../chron/keys.js';
import type { FarmQueues, PartitionQueue } from './farm-queues.js';
import { describeRedisError } from './farm-queues.js';

/** Jobs moved per retry-abandoned script call. */
const RETRY_BATCH = 1000;

export interface QueueActionError {
  readonly partition: string;
  readonly wiki: string;
  readonly type: string;
  readonly error: string;
}

export interface RetryReport {
  /** Queues acted on. */
  readonly queues: number;
  /** Jobs moved back to l-unclaimed. */
  readonly moved: number;
  /** Abandoned jobs left in place because their h-data is gone. */
  readonly noData: number;
  readonly errors: QueueActionError[];
}

export interface DeleteReport {
  readonly queues: number;
  /** Jobs the deleted queues held when they were listed just before. */
  readonly jobs: number;
  readonly errors: QueueActionError[];
}

function actionError(queue: PartitionQueue, farm: FarmQueues, error: unknown): QueueActionError {
  let client = null;
  try {
    client = farm.store(queue.partition).client;
  } catch {
    // the partition is not connected at all; the error says why
  }
  return {
    partition: queue.partition,
    wiki: queue.wiki,
    type: queue.type,
    error: describeRedisError(client, error),
  };
}

/**
 * Moves the abandoned jobs of the given queues back to l-unclaimed (in place, attempts reset), up
 * to `limit` jobs per queue (all when omitted).
 */
export async function retryAbandoned(
  farm: FarmQueues,
  queues: readonly PartitionQueue[],
  options: { limit?: number } = {},
): Promise<RetryReport> {
  let moved = 0;
  let noData = 0;
  let acted = 0;
  const errors: QueueActionError[] = [];
  for (const queue of queues) {
    if (queue.abandoned === 0) continue;
    let remaining = options.limit ?? Infinity;
    let queueNoData = 0;
    try {
      const store = farm.store(queue.partition);
      while (remaining > 0) {
        const result = await store.retryAbandoned(queue, { limit: Math.min(RETRY_BATCH, remaining) });
        moved += result.moved;
        remaining -= result.moved;
        // Jobs without data stay at the front of z-abandoned and are seen again by every call.
        queueNoData = Math.max(queueNoData, result.noData);
        if (result.moved === 0) break;
      }
      acted++;
    } catch (error) {
      errors.push(actionError(queue, farm, error));
    }
    noData += queueNoData;
  }
  return { queues: acted, moved, noData, errors };
}

/** Deletes whole queues like MediaWiki's JobQueue::delete() (all eight keys and the set member). */
export async function deleteQueues(
  farm: FarmQueues,
  queues: readonly PartitionQueue[],
): Promise<DeleteReport> {
  let deleted = 0;
  let jobs = 0;
  const errors: QueueActionError[] = [];
  for (const queue of queues) {
    try {
      const store = farm.store(queue.partition);
      await store.deleteQueue(queue);
      // The chron's own list of abandoned-only queues would drop it on its next visit anyway.
      await store.client.srem(QUEUES_WITH_ABANDONED_KEY, queue.queueId);
      deleted++;
      jobs += queue.unclaimed + queue.claimed + queue.abandoned + queue.delayed;
    } catch (error) {
      errors.push(actionError(queue, farm, error));
    }
  }
  return { queues: deleted, jobs, errors };
}
