// JobQueueRedis job (h-data blob + where its ID sits) ⇄ MigratedJob (MediaWiki 1.39 JobQueueRedis;
// reference mediawiki-redis-queue.md §3–§5). A claimed job whose claim is older than claimTTL is a
// dead claim (runners are stopped for a cutover) and moves as ready with its attempts; a fresher
// claim may be running and is skipped.
import { decodeJobBlob, JobBlobError, type JobFields } from '../../mediawiki/job-blob.js';
import { CorruptJobError, type MigratedJob } from '../job.js';

export type RedisJobState = 'unclaimed' | 'delayed' | 'claimed' | 'abandoned';

export interface StoredRedisJob {
  /** The ID under which the blob is stored (h-data field, list/zset member). */
  readonly id: string;
  readonly state: RedisJobState;
  /** zset score (claim time, abandonment time, release time); null for unclaimed. */
  readonly score: number | null;
  readonly attempts: number;
  /** null: the ID is listed but h-data has no entry. */
  readonly blob: Buffer | null;
}

export interface BlobContext {
  readonly wiki: string;
  readonly type: string;
  readonly now: number;
  readonly claimTTL: (type: string) => number;
}

export type BlobOutcome = { readonly job: MigratedJob } | { readonly skip: string };

/** @throws CorruptJobError for a missing or unreadable blob (left in place by callers) */
export function blobToJob(stored: StoredRedisJob, ctx: BlobContext): BlobOutcome {
  if (stored.blob === null) throw new CorruptJobError('listed, but h-data has no entry for this ID');
  let blob;
  try {
    blob = decodeJobBlob(stored.blob);
  } catch (error) {
    throw new CorruptJobError(error instanceof JobBlobError ? error.message : String(error));
  }
  if (blob.type !== ctx.type)
    throw new CorruptJobError(`blob has type "${blob.type}" in the ${ctx.type} queue`);
  if (!/^[0-9a-f]{32}$/.test(stored.id)) throw new CorruptJobError(`job ID "${stored.id}" is not 32 hex`);
  let state: MigratedJob['state'];
  let claimedAt: number | null = null;
  switch (stored.state) {
    case 'unclaimed':
      state = 'ready';
      break;
    case 'delayed':
      state = 'delayed';
      break;
    case 'abandoned':
      state = 'abandoned';
      claimedAt = stored.score;
      break;
    case 'claimed': {
      const ttl = ctx.claimTTL(ctx.type);
      const age = ctx.now - (stored.score ?? 0);
      if (age < ttl) {
        return {
          skip: `claimed ${Math.round(age)} s ago and may be running (claimTTL ${ttl} s); stop the runners, or wait for the claim to expire`,
        };
      }
      state = 'ready';
      break;
    }
  }
  return {
    job: {
      id: stored.id,
      type: blob.type,
      wiki: ctx.wiki,
      namespace: blob.namespace,
      title: blob.title,
      params: blob.params,
      releaseTimestamp: blob.rtimestamp,
      enqueueTimestamp: blob.timestamp,
      sha1: /^[0-9a-z]{31}$/.test(blob.sha1) ? blob.sha1 : '',
      attempts: stored.attempts,
      state,
      claimedAt,
    },
  };
}

/** The blob fields MediaWiki would have stored for this job. */
export function jobToBlobFields(job: MigratedJob): JobFields {
  return {
    type: job.type,
    namespace: job.namespace,
    title: typeof job.title === 'string' ? job.title : job.title.toString('utf8'),
    params: job.params,
    rtimestamp: job.releaseTimestamp,
    uuid: job.id,
    sha1: job.sha1,
    timestamp: job.enqueueTimestamp,
  };
}
