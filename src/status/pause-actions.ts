// Pause / resume of one (wiki, type) queue from the status server and `jobqueue`: written to every
// partition (src/redis/paused-queues.ts); a partition that cannot be written is reported by name.
// Also annotates a farm summary with the paused queues, so every view shows them.
import { describeRedisError, type FarmQueues } from './farm-queues.js';
import type { FarmSummary } from './farm-summary.js';
import {
  listPausedQueues,
  mergePaused,
  pauseQueue,
  resumeQueue,
  type PausedQueue,
} from '../redis/paused-queues.js';

export interface PauseReport {
  readonly paused: boolean;
  /** Partitions written. */
  readonly partitions: number;
  readonly errors: { readonly partition: string; readonly error: string }[];
}

export async function setPaused(
  farm: FarmQueues,
  target: { readonly wiki: string; readonly type: string },
  paused: boolean,
  now: number = Date.now(),
): Promise<PauseReport> {
  const errors: { partition: string; error: string }[] = [];
  let partitions = 0;
  await Promise.all(
    farm.partitions.map(async (partition) => {
      let client = null;
      try {
        client = farm.store(partition).client;
        if (paused) await pauseQueue(client, target.wiki, target.type, now);
        else await resumeQueue(client, target.wiki, target.type);
        partitions++;
      } catch (error) {
        errors.push({ partition, error: describeRedisError(client, error) });
      }
    }),
  );
  return { paused, partitions, errors };
}

/** Paused queues over the readable partitions (unreadable ones are already reported by listing). */
export async function pausedOf(farm: Pick<FarmQueues, 'partitions' | 'store'>): Promise<PausedQueue[]> {
  const settled = await Promise.allSettled(
    farm.partitions.map(async (partition) => listPausedQueues(farm.store(partition).client)),
  );
  return mergePaused(settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : [])));
}

/** The summary with `paused` on each row of a paused queue and the full list beside the rows. */
export function withPaused(summary: FarmSummary, paused: readonly PausedQueue[]): FarmSummary {
  if (paused.length === 0) return { ...summary, paused: [] };
  const keys = new Set(paused.map((p) => JSON.stringify([p.wiki, p.type])));
  return {
    ...summary,
    rows: summary.rows.map((row) =>
      keys.has(JSON.stringify([row.wiki, row.type])) ? { ...row, paused: true } : row,
    ),
    paused: [...paused],
  };
}
