// One (wiki, type) queue for the dashboard's queue panel: its counts per state and the jobs of one
// state (what `jobqueue inspect` shows), plus the per-job admin actions: retry one abandoned job,
// delete one job. A job ID lives on one partition; each action is tried on every partition that
// holds the queue and reports where it found the job.
import type { JobState } from '../redis/queue-store.js';
import { describeRedisError, type FarmQueues, type PartitionQueue } from './farm-queues.js';

export const JOB_STATES: readonly JobState[] = ['unclaimed', 'claimed', 'abandoned', 'delayed'];
/** Jobs listed per request at most. */
export const MAX_DETAIL_JOBS = 200;

export interface QueueTarget {
  readonly wiki: string;
  readonly type: string;
}

export interface DetailJob {
  readonly partition: string;
  readonly id: string;
  readonly state: JobState;
  readonly attempts: number;
  /** Claim / abandon / release time (UNIX s) for the sorted states. */
  readonly score: number | null;
  readonly ok: boolean;
  readonly error?: string;
  readonly title?: string;
  readonly namespace?: number;
  readonly params?: unknown;
  /** Enqueue time (UNIX s). */
  readonly timestamp?: number;
}

export interface QueueDetail {
  readonly wiki: string;
  readonly type: string;
  readonly state: JobState;
  readonly counts: Record<JobState, number>;
  readonly partitions: string[];
  readonly jobs: DetailJob[];
  readonly errors: { readonly partition: string; readonly error: string }[];
}

async function queuesOf(farm: FarmQueues, target: QueueTarget): Promise<PartitionQueue[]> {
  return (await farm.list({ wiki: target.wiki, type: target.type })).queues.filter(
    (q) => q.wiki === target.wiki && q.type === target.type,
  );
}

export async function queueDetail(
  farm: FarmQueues,
  target: QueueTarget,
  state: JobState,
  limit: number,
): Promise<QueueDetail> {
  const queues = await queuesOf(farm, target);
  const counts: Record<JobState, number> = { unclaimed: 0, claimed: 0, abandoned: 0, delayed: 0 };
  for (const q of queues) for (const s of JOB_STATES) counts[s] += q[s];
  const jobs: DetailJob[] = [];
  const errors: { partition: string; error: string }[] = [];
  await Promise.all(
    queues.map(async (q) => {
      try {
        for (const job of await farm.store(q.partition).readJobs(q.type, q.domain, state, limit)) {
          const base = {
            partition: q.partition,
            id: job.id,
            state,
            attempts: job.attempts,
            score: job.score,
          };
          jobs.push(
            job.ok
              ? {
                  ...base,
                  ok: true,
                  title: job.job.title,
                  namespace: job.job.namespace,
                  params: job.job.paramsJson,
                  timestamp: job.job.timestamp,
                }
              : { ...base, ok: false, error: job.error },
          );
        }
      } catch (error) {
        errors.push({ partition: q.partition, error: describeRedisError(null, error) });
      }
    }),
  );
  jobs.sort((a, b) => (a.score ?? a.timestamp ?? 0) - (b.score ?? b.timestamp ?? 0));
  return {
    ...target,
    state,
    counts,
    partitions: queues.map((q) => q.partition),
    jobs: jobs.slice(0, limit),
    errors,
  };
}

export interface JobActionReport {
  readonly id: string;
  /** Partition where the job was found (null: on none). */
  readonly partition: string | null;
  readonly done: boolean;
  readonly errors: { readonly partition: string; readonly error: string }[];
}

async function onEachPartition(
  farm: FarmQueues,
  target: QueueTarget,
  id: string,
  act: (q: PartitionQueue) => Promise<boolean>,
): Promise<JobActionReport> {
  const errors: { partition: string; error: string }[] = [];
  let partition: string | null = null;
  for (const q of await queuesOf(farm, target)) {
    try {
      if (await act(q)) partition = q.partition;
    } catch (error) {
      errors.push({ partition: q.partition, error: describeRedisError(null, error) });
    }
  }
  return { id, partition, done: partition !== null, errors };
}

/** Moves one abandoned job back to l-unclaimed (attempts reset), as `jobqueue retry-abandoned`. */
export function retryJob(farm: FarmQueues, target: QueueTarget, id: string): Promise<JobActionReport> {
  return onEachPartition(farm, target, id, async (q) => {
    const result = await farm.store(q.partition).retryAbandoned(q, { ids: [id] });
    return result.moved > 0;
  });
}

/** Deletes one job, whatever its state (see delete-job.lua). */
export function deleteJob(farm: FarmQueues, target: QueueTarget, id: string): Promise<JobActionReport> {
  return onEachPartition(
    farm,
    target,
    id,
    async (q) => (await farm.store(q.partition).deleteJob(q, id)).found,
  );
}
