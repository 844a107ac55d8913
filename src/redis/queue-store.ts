// Read side and MediaWiki-format push for one queue partition (one Redis server holding
// MediaWiki JobQueueRedis queues; reference: mediawiki-redis-queue.md §3–§5, §9, §11).
// Nothing here deletes a job because its data is unreadable: corrupt blobs are reported as such.
import type { Redis } from 'ioredis';
import {
  decodeJobBlob,
  encodeJobBlob,
  JobBlobError,
  type JobBlob,
  type JobFields,
} from '../mediawiki/job-blob.js';
import { PhpArray, PhpFloat, type PhpValue } from '../mediawiki/php-serialize.js';
import {
  QUEUES_WITH_JOBS_KEY,
  makeQueueId,
  parseQueueId,
  queueKeys,
  rootJobKey,
  type QueueRef,
} from '../mediawiki/queue-keys.js';
import { queueQueueScript, registerQueueScripts, runQueueScript } from './queue-scripts.js';

/** MediaWiki's JobQueueRedis::MAX_PUSH_SIZE (1.33+). */
export const PUSH_CHUNK_SIZE = 25;
/** JobQueue::ROOTJOB_TTL: 28 days. */
export const ROOT_JOB_TTL_SECONDS = 2419200;
/** Above this many members, listQueues() reads the set with SSCAN instead of one SMEMBERS. */
const SSCAN_THRESHOLD = 10_000;

export type JobState = 'unclaimed' | 'claimed' | 'abandoned' | 'delayed';

export class QueueStoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QueueStoreError';
  }
}

export interface QueueList {
  readonly queues: QueueRef[];
  /** s-queuesWithJobs members that are not a JSON [type, domain] pair (left in place). */
  readonly bad: string[];
}

export interface QueueStateCounts {
  readonly queue: QueueRef;
  readonly unclaimed: number;
  /** z-claimed only (MediaWiki's showJobs "claimed" also includes abandoned). */
  readonly claimed: number;
  readonly abandoned: number;
  readonly delayed: number;
  /** Enqueue UNIX time of the next job to pop, when known. */
  readonly oldestTimestamp: number | null;
  readonly oldestAgeSeconds: number | null;
}

interface StoredJobBase {
  readonly id: string;
  readonly state: JobState;
  /** z-claimed: claim time; z-abandoned: last claim / abandonment time; z-delayed: release time. */
  readonly score: number | null;
  /** h-attempts (pops so far), 0 when absent. */
  readonly attempts: number;
}

export type StoredJob =
  | (StoredJobBase & { readonly ok: true; readonly job: JobBlob })
  | (StoredJobBase & { readonly ok: false; readonly error: string });

export interface PushOptions {
  /** The queue's `compression => 'gzip'`: envelope for blobs of 1 KiB or more when shorter. */
  readonly compression?: 'gzip' | null;
  /** QOS_ATOMIC: one script call for all jobs instead of chunks of 25. */
  readonly atomic?: boolean;
}

export interface PushResult {
  /** Jobs given. */
  readonly requested: number;
  /** After in-batch dedup (by sha1, else uuid), as MediaWiki's `inserts` stat. */
  readonly unique: number;
  /** Actually stored (`inserts_actual`). */
  readonly pushed: number;
  /** Skipped because an identical job is unclaimed or delayed (`dupe_inserts`). */
  readonly duplicates: number;
  /** Root-job keys written (a newer-or-equal registration is left alone). */
  readonly rootJobsRegistered: number;
}

export interface DiscoveredQueue {
  readonly queue: QueueRef;
  readonly ready: number;
}

export interface DelayedQueue {
  readonly queue: QueueRef;
  /** Release UNIX time of the earliest delayed job. */
  readonly earliestRelease: number;
}

export interface DiscoveryResult {
  /** Members of s-queuesWithJobs (including empty and bad ones). */
  readonly memberCount: number;
  readonly ready: DiscoveredQueue[];
  /** Only when asked for with { withDelayed: true }. */
  readonly delayed: DelayedQueue[];
  readonly bad: string[];
}

export interface RetryResult {
  readonly moved: number;
  /** IDs given that were not in z-abandoned. */
  readonly notAbandoned: number;
  /** Abandoned jobs without h-data, left in place. */
  readonly noData: number;
}

/** PHP empty() is false for these (used for rootJobIsSelf). */
function phpTruthy(value: PhpValue | undefined): boolean {
  if (value === undefined || value === null || value === false) return false;
  if (value === 0 || value === 0n || value === '' || value === '0') return false;
  if (value instanceof PhpFloat) return value.value !== 0;
  if (Buffer.isBuffer(value)) return !(value.length === 0 || (value.length === 1 && value[0] === 0x30));
  if (value instanceof PhpArray) return value.size > 0;
  return true;
}

/** Job::isRootJob(): rootJobSignature and rootJobTimestamp set (not null) and rootJobIsSelf non-empty. */
export function isRootJob(params: PhpArray): boolean {
  const signature = params.get('rootJobSignature');
  const timestamp = params.get('rootJobTimestamp');
  return (
    signature !== undefined &&
    signature !== null &&
    timestamp !== undefined &&
    timestamp !== null &&
    phpTruthy(params.get('rootJobIsSelf'))
  );
}

function phpScalarString(value: PhpValue | undefined, what: string): string {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint')
    return String(value);
  throw new QueueStoreError(`${what} must be a string or an integer`);
}

function toInt(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' || Buffer.isBuffer(value)) return Number(value.toString());
  return NaN;
}

function asArray(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new QueueStoreError(`unexpected ${what} reply from Redis`);
  return value as unknown[];
}

function pipelineResults(results: [Error | null, unknown][] | null, what: string): unknown[] {
  if (!results) throw new QueueStoreError(`${what}: pipeline was not executed`);
  return results.map(([error, value]) => {
    if (error) throw error;
    return value;
  });
}

/** One partition's queues, over its ioredis connection (shared; this class never closes it). */
export class RedisQueueStore {
  /** Queues per queue-counts script call. */
  readonly countsBatchSize: number;

  constructor(
    readonly client: Redis,
    options: { countsBatchSize?: number } = {},
  ) {
    this.countsBatchSize = options.countsBatchSize ?? 200;
    registerQueueScripts(client);
  }

  /** Every member of s-queuesWithJobs, decoded; undecodable members are reported, not thrown. */
  async listQueues(): Promise<QueueList> {
    const size = await this.client.scard(QUEUES_WITH_JOBS_KEY);
    let members: string[];
    if (size <= SSCAN_THRESHOLD) {
      members = await this.client.smembers(QUEUES_WITH_JOBS_KEY);
    } else {
      const seen = new Set<string>();
      let cursor = '0';
      do {
        const [next, batch] = await this.client.sscan(QUEUES_WITH_JOBS_KEY, cursor, 'COUNT', 1000);
        for (const member of batch) seen.add(member);
        cursor = next;
      } while (cursor !== '0');
      members = [...seen];
    }
    const queues: QueueRef[] = [];
    const bad: string[] = [];
    for (const member of members) {
      const ref = parseQueueId(member);
      if (ref) queues.push(ref);
      else bad.push(member);
    }
    return { queues, bad };
  }

  /** Per-queue state sizes and oldest unclaimed age: one script call per batch, all in one pipeline. */
  async counts(queues: readonly QueueRef[], now: number = Date.now() / 1000): Promise<QueueStateCounts[]> {
    if (queues.length === 0) return [];
    const pipeline = this.client.pipeline();
    for (let i = 0; i < queues.length; i += this.countsBatchSize) {
      const keys: string[] = [];
      for (const queue of queues.slice(i, i + this.countsBatchSize)) {
        const k = queueKeys(queue.type, queue.domain);
        keys.push(k['l-unclaimed'], k['z-claimed'], k['z-abandoned'], k['z-delayed'], k['h-data']);
      }
      queueQueueScript(pipeline, 'queue-counts', keys, [], { buffers: true });
    }
    const replies = pipelineResults(await pipeline.exec(), 'queue counts');
    const flat = replies.flatMap((reply) => asArray(reply, 'queue-counts'));
    return queues.map((queue, index) => {
      const at = index * 6;
      let oldest = toInt(flat[at + 4]);
      const blob = flat[at + 5];
      if (oldest < 0 && Buffer.isBuffer(blob) && blob.length > 0) {
        try {
          oldest = decodeJobBlob(blob).timestamp;
        } catch {
          oldest = -1; // unreadable; readJobs() reports it
        }
      }
      const oldestTimestamp = oldest >= 0 ? oldest : null;
      return {
        queue,
        unclaimed: toInt(flat[at]),
        claimed: toInt(flat[at + 1]),
        abandoned: toInt(flat[at + 2]),
        delayed: toInt(flat[at + 3]),
        oldestTimestamp,
        oldestAgeSeconds: oldestTimestamp === null ? null : Math.max(0, Math.floor(now - oldestTimestamp)),
      };
    });
  }

  /**
   * Up to `limit` jobs of one state, skipping `offset`: unclaimed in pop order (next first), the
   * others by score (oldest first). Unreadable or missing blobs come back as { ok: false, error }.
   */
  async readJobs(
    type: string,
    domain: string,
    state: JobState,
    limit: number,
    offset = 0,
  ): Promise<StoredJob[]> {
    if (limit <= 0) return [];
    const keys = queueKeys(type, domain);
    let ids: string[];
    const scores = new Map<string, number>();
    if (state === 'unclaimed') {
      ids = (await this.client.lrange(keys['l-unclaimed'], -(offset + limit), -(offset + 1))).reverse();
    } else {
      const key =
        keys[state === 'claimed' ? 'z-claimed' : state === 'abandoned' ? 'z-abandoned' : 'z-delayed'];
      const flat = await this.client.zrange(key, offset, offset + limit - 1, 'WITHSCORES');
      ids = [];
      for (let i = 0; i + 1 < flat.length; i += 2) {
        const id = flat[i] as string;
        ids.push(id);
        scores.set(id, Number(flat[i + 1]));
      }
    }
    if (ids.length === 0) return [];
    const [blobs, attempts] = pipelineResults(
      await this.client
        .pipeline()
        .hmgetBuffer(keys['h-data'], ...ids)
        .hmget(keys['h-attempts'], ...ids)
        .exec(),
      'read jobs',
    ) as [(Buffer | null)[], (string | null)[]];
    return ids.map((id, i): StoredJob => {
      const base = { id, state, score: scores.get(id) ?? null, attempts: Number(attempts[i] ?? 0) || 0 };
      const blob = blobs[i];
      if (!blob) return { ...base, ok: false, error: 'no h-data entry for this job ID' };
      try {
        return { ...base, ok: true, job: decodeJobBlob(blob) };
      } catch (error) {
        const message = error instanceof JobBlobError ? error.message : String(error);
        return { ...base, ok: false, error: message };
      }
    });
  }

  /**
   * Pushes jobs exactly as MediaWiki's JobQueueRedis::doBatchPush() + JobQueue::batchPush() do:
   * in-batch dedup by sha1 (else uuid; the last one wins, in the first one's place), chunks of 25
   * through push-jobs.lua (skips sha1 duplicates, LPUSH or ZADD z-delayed, SADD the queue ID),
   * then root-job registration for every root job given. Build jobs with newJobFields().
   */
  async pushJobs(
    type: string,
    domain: string,
    jobs: readonly JobFields[],
    options: PushOptions = {},
  ): Promise<PushResult> {
    const items = new Map<string, JobFields>();
    for (const [index, job] of jobs.entries()) {
      if (job.type !== type) throw new QueueStoreError(`job #${index} has type "${job.type}", not "${type}"`);
      if (!/^[0-9a-f]{32}$/.test(job.uuid))
        throw new QueueStoreError(`job #${index} uuid "${job.uuid}" is not 32 hex`);
      if (job.sha1 !== '' && !/^[0-9a-z]{31}$/.test(job.sha1)) {
        throw new QueueStoreError(`job #${index} sha1 "${job.sha1}" is not 31 base-36 digits`);
      }
      items.set(job.sha1 !== '' ? 's' + job.sha1 : 'u' + job.uuid, job);
    }
    if (items.size === 0) return { requested: 0, unique: 0, pushed: 0, duplicates: 0, rootJobsRegistered: 0 };

    const keys = queueKeys(type, domain);
    const scriptKeys = [
      keys['l-unclaimed'],
      keys['h-sha1ById'],
      keys['h-idBySha1'],
      keys['z-delayed'],
      keys['h-data'],
      QUEUES_WITH_JOBS_KEY,
    ];
    const queueId = makeQueueId(type, domain);
    const unique = [...items.values()];
    const chunkSize = options.atomic ? unique.length : PUSH_CHUNK_SIZE;
    const pipeline = this.client.pipeline();
    const chunkSizes: number[] = [];
    for (let i = 0; i < unique.length; i += chunkSize) {
      const chunk = unique.slice(i, i + chunkSize);
      const args: (string | Buffer)[] = [queueId];
      for (const job of chunk) {
        args.push(
          job.uuid,
          job.sha1,
          String(job.rtimestamp),
          encodeJobBlob(job, { compression: options.compression ?? null }),
        );
      }
      queueQueueScript(pipeline, 'push-jobs', scriptKeys, args);
      chunkSizes.push(chunk.length);
    }
    const results = await pipeline.exec();
    if (!results) throw new QueueStoreError('push: pipeline was not executed');
    let pushed = 0;
    let failed = 0;
    let firstError: Error | null = null;
    results.forEach(([error, value], i) => {
      if (error) {
        failed += chunkSizes[i] ?? 0;
        firstError ??= error;
      } else {
        pushed += toInt(value);
      }
    });
    if (failed > 0) {
      throw new QueueStoreError(
        `could not insert ${failed} ${type} job(s) (${pushed} pushed): ${(firstError as Error | null)?.message ?? ''}`,
      );
    }
    const rootJobsRegistered = await this.registerRootJobs(type, domain, jobs);
    return {
      requested: jobs.length,
      unique: items.size,
      pushed,
      duplicates: items.size - pushed,
      rootJobsRegistered,
    };
  }

  /** JobQueueRedis::doDeduplicateRootJob() for each root job, in one atomic script call. */
  async registerRootJobs(type: string, domain: string, jobs: readonly JobFields[]): Promise<number> {
    const keys: string[] = [];
    const timestamps: string[] = [];
    for (const job of jobs) {
      if (!isRootJob(job.params)) continue;
      keys.push(
        rootJobKey(domain, type, phpScalarString(job.params.get('rootJobSignature'), 'rootJobSignature')),
      );
      timestamps.push(phpScalarString(job.params.get('rootJobTimestamp'), 'rootJobTimestamp'));
    }
    if (keys.length === 0) return 0;
    return toInt(
      await runQueueScript(this.client, 'register-root-jobs', keys, [ROOT_JOB_TTL_SECONDS, ...timestamps]),
    );
  }

  /**
   * When the job the next pop takes became ready (UNIX s): its release time if it was delayed, else
   * its enqueue time, as MediaWiki's pickup delay counts. Null when the queue is empty or that job's
   * data is unreadable (never an error: this only feeds a metric).
   */
  async headJobTimestamp(type: string, domain: string): Promise<number | null> {
    const keys = queueKeys(type, domain);
    const reply = await runQueueScript(
      this.client,
      'head-job-timestamp',
      [keys['l-unclaimed'], keys['h-data']],
      [],
      { buffers: true },
    );
    if (typeof reply === 'number') return reply;
    if (!Buffer.isBuffer(reply)) return null;
    try {
      const job = decodeJobBlob(reply);
      return Math.max(job.timestamp, Number(job.rtimestamp) || 0);
    } catch {
      return null;
    }
  }

  /** Ready queues in one script call (see discover-ready.lua). */
  async discoverReady(options: { withDelayed?: boolean } = {}): Promise<DiscoveryResult> {
    const reply = asArray(
      await runQueueScript(
        this.client,
        'discover-ready',
        [QUEUES_WITH_JOBS_KEY],
        [options.withDelayed ? '1' : '0'],
      ),
      'discover-ready',
    );
    const [count, readyFlat, delayedFlat, badList] = reply;
    const bad = asArray(badList, 'discover-ready bad').map(String);
    const ready: DiscoveredQueue[] = [];
    const flatReady = asArray(readyFlat, 'discover-ready ready');
    for (let i = 0; i + 1 < flatReady.length; i += 2) {
      const member = String(flatReady[i]);
      const queue = parseQueueId(member);
      if (queue) ready.push({ queue, ready: toInt(flatReady[i + 1]) });
      else bad.push(member);
    }
    const delayed: DelayedQueue[] = [];
    const flatDelayed = asArray(delayedFlat, 'discover-ready delayed');
    for (let i = 0; i + 1 < flatDelayed.length; i += 2) {
      const queue = parseQueueId(String(flatDelayed[i]));
      if (queue) delayed.push({ queue, earliestRelease: Number(flatDelayed[i + 1]) });
    }
    return { memberCount: toInt(count), ready, delayed, bad };
  }

  /**
   * Moves abandoned jobs back to l-unclaimed in place (see retry-abandoned.lua): the given IDs, or
   * up to `limit` (default 1000) oldest ones.
   */
  async retryAbandoned(
    queue: Pick<QueueRef, 'type' | 'domain'> & { queueId?: string },
    options: { ids?: readonly string[]; limit?: number } = {},
  ): Promise<RetryResult> {
    const k = queueKeys(queue.type, queue.domain);
    const reply = asArray(
      await runQueueScript(
        this.client,
        'retry-abandoned',
        [k['z-abandoned'], k['l-unclaimed'], k['h-attempts'], k['h-data'], QUEUES_WITH_JOBS_KEY],
        [
          queue.queueId ?? makeQueueId(queue.type, queue.domain),
          options.limit ?? 1000,
          ...(options.ids ?? []),
        ],
      ),
      'retry-abandoned',
    );
    return { moved: toInt(reply[0]), notAbandoned: toInt(reply[1]), noData: toInt(reply[2]) };
  }

  /**
   * Deletes one job in whatever state it is (see delete-job.lua); false when the ID was not there.
   */
  async deleteJob(
    queue: Pick<QueueRef, 'type' | 'domain'>,
    id: string,
  ): Promise<{ found: boolean; state: string }> {
    const k = queueKeys(queue.type, queue.domain);
    const reply = asArray(
      await runQueueScript(
        this.client,
        'delete-job',
        [
          k['l-unclaimed'],
          k['z-claimed'],
          k['z-abandoned'],
          k['z-delayed'],
          k['h-data'],
          k['h-attempts'],
          k['h-idBySha1'],
          k['h-sha1ById'],
        ],
        [id],
      ),
      'delete-job',
    );
    return { found: toInt(reply[0]) === 1, state: String(reply[1] ?? '') };
  }

  /**
   * MediaWiki's doDelete(): DEL the 8 queue keys and SREM the queue ID, atomically. Pass the stored
   * member as queueId when it came from listQueues(), so an unusual encoding is removed as stored.
   */
  async deleteQueue(queue: Pick<QueueRef, 'type' | 'domain'> & { queueId?: string }): Promise<void> {
    const k = queueKeys(queue.type, queue.domain);
    const results = await this.client
      .multi()
      .del(
        k['l-unclaimed'],
        k['z-claimed'],
        k['z-abandoned'],
        k['z-delayed'],
        k['h-idBySha1'],
        k['h-sha1ById'],
        k['h-attempts'],
        k['h-data'],
      )
      .srem(QUEUES_WITH_JOBS_KEY, queue.queueId ?? makeQueueId(queue.type, queue.domain))
      .exec();
    pipelineResults(results, 'delete queue');
  }
}
