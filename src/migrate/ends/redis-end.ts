// The Redis end: MediaWiki JobQueueRedis queues on every redis.queues partition.
//
// As a source, each (wiki, type) queue is read per partition from a snapshot of its IDs (pop order
// for l-unclaimed, score order for the zsets), blobs fetched in batches. As a target, jobs are
// placed like JobQueueFederated places them (de-duplicatable jobs by the HashRing on their dedup
// hash) except that other jobs go by their ID instead of at random, so a resumed run puts a job
// where the first run did; migrate-push.lua stores each exactly once.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import type { JobrunnerConfig, RedisServerAddress } from '../../config/types.js';
import { limitFor } from '../../config/types.js';
import { sha1Base36ToHex } from '../../mediawiki/dedup-sha1.js';
import { HashRing } from '../../mediawiki/hash-ring.js';
import { encodeJobBlob } from '../../mediawiki/job-blob.js';
import {
  makeQueueId,
  parseQueueId,
  queueKeys,
  QUEUES_WITH_JOBS_KEY,
  wikiIdFromDomain,
  type QueueRef,
} from '../../mediawiki/queue-keys.js';
import { QUEUES_WITH_ABANDONED_KEY } from '../../chron/keys.js';
import { RedisQueueStore, isRootJob } from '../../redis/queue-store.js';
import { liveRunners, type RunnerHeartbeatValue } from '../../runner/heartbeat.js';
import {
  blobToJob,
  jobToBlobFields,
  type RedisJobState,
  type StoredRedisJob,
} from '../convert/redis-blob.js';
import { CorruptJobError, type MigratedJob } from '../job.js';
import type {
  DeleteResult,
  MigrationFilter,
  MigrationSource,
  MigrationTarget,
  PreflightProblem,
  ReadBack,
  SourceQueue,
  SourceRecord,
  WriteResult,
} from './types.js';

export const REDIS_BATCH = 1000;
/** How long a run's marker set outlives its last write. */
const MARKER_TTL_SECONDS = 7 * 86400;

const luaDir = new URL('../lua/', import.meta.url);
const PUSH = 'jr_migrate_push';
const REMOVE = 'jr_migrate_remove';

interface Partition {
  readonly address: string;
  readonly client: Redis;
  readonly store: RedisQueueStore;
}

type ScriptClient = Redis & {
  [PUSH]: (...args: (string | number | Buffer)[]) => Promise<string>;
  [REMOVE]: (...args: (string | number | Buffer)[]) => Promise<(number | string)[]>;
};

export interface RedisEndOptions {
  /** Identifies this migration run (marker set of already-written IDs). */
  readonly runId: string;
  readonly now?: () => number;
  readonly batchSize?: number;
  /** The target queues use 'compression' => 'gzip'. */
  readonly gzip?: boolean;
}

function connect(address: RedisServerAddress, config: JobrunnerConfig): Redis {
  const client = new Redis({
    host: address.host,
    port: address.port,
    ...(config.redis.password ? { password: config.redis.password } : {}),
    connectTimeout: config.redis.connectTimeoutMs,
    commandTimeout: Math.max(config.redis.commandTimeoutMs, 30_000),
    lazyConnect: true,
    // One attempt: an unreachable partition fails the preflight (or the run, which --resume continues)
    // at once with the real reason instead of retrying in the background.
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on('error', (error: Error) => {
    lastErrors.set(client, error.message);
  });
  client.defineCommand(PUSH, {
    numberOfKeys: 9,
    lua: readFileSync(new URL('migrate-push.lua', luaDir), 'utf8'),
  });
  client.defineCommand(REMOVE, {
    numberOfKeys: 9,
    lua: readFileSync(new URL('migrate-remove.lua', luaDir), 'utf8'),
  });
  return client;
}

/** The last connection error per client: ioredis rejects commands with "Connection is closed." only. */
const lastErrors = new WeakMap<Redis, string>();

function sha1Hex(bytes: Buffer): string {
  return createHash('sha1').update(bytes).digest('hex');
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Where a queue lives: the partitions holding it and the domain string it is stored under. */
interface QueueLocation {
  readonly partition: Partition;
  readonly queue: QueueRef;
}

export class RedisEnd implements MigrationSource, MigrationTarget {
  readonly kind = 'redis' as const;
  readonly name: string;
  private readonly partitions: Partition[];
  private readonly ring: HashRing;
  private readonly locations = new Map<string, QueueLocation[]>();
  private readonly now: () => number;
  private readonly batchSize: number;
  private readonly markerKey: string;
  /** Blobs encoded by fingerprint(), reused by write(). */
  private readonly blobs = new WeakMap<MigratedJob, Buffer>();

  constructor(
    private readonly config: JobrunnerConfig,
    private readonly options: RedisEndOptions,
  ) {
    this.partitions = config.redis.queues.map((address) => {
      const client = connect(address, config);
      return { address: address.raw, client, store: new RedisQueueStore(client) };
    });
    this.ring = new HashRing(Object.fromEntries(this.partitions.map((p) => [p.address, 1])));
    this.name = `redis (${this.partitions.map((p) => p.address).join(', ')})`;
    this.now = options.now ?? (() => Date.now() / 1000);
    this.batchSize = options.batchSize ?? REDIS_BATCH;
    this.markerKey = `jobrunner:migrate:${options.runId}:ids`;
  }

  /** Runners (Redis backend) announcing that they take jobs from these partitions right now. */
  async liveRunners(): Promise<(RunnerHeartbeatValue & { partition: string })[]> {
    const found = await Promise.all(
      this.partitions.map(async (p) =>
        (await liveRunners(p.client)).map((runner) => ({ ...runner, partition: p.address })),
      ),
    );
    return found.flat();
  }

  async preflight(): Promise<PreflightProblem[]> {
    const problems: PreflightProblem[] = [];
    await Promise.all(
      this.partitions.map(async (p) => {
        try {
          await p.client.connect().catch((error: unknown) => {
            if (!/already connect/i.test(message(error))) throw error;
          });
          await p.client.ping();
        } catch (error) {
          const reason = lastErrors.get(p.client) ?? message(error);
          problems.push({ kind: 'unreachable', message: `redis ${p.address}: ${reason}` });
        }
      }),
    );
    return problems;
  }

  async listQueues(filter: MigrationFilter): Promise<SourceQueue[]> {
    const sizes = new Map<string, SourceQueue>();
    this.locations.clear();
    for (const partition of this.partitions) {
      const { queues: listed } = await partition.store.listQueues();
      // A queue holding only abandoned jobs is no longer in s-queuesWithJobs: jobchron keeps it in
      // its own set, and its jobs must be migrated (and reported) too.
      const abandonedOnly = (await partition.client.smembers(QUEUES_WITH_ABANDONED_KEY))
        .map((member) => parseQueueId(member))
        .filter((ref): ref is QueueRef => ref !== null);
      const seen = new Set(listed.map((q) => `${q.type}\t${q.domain}`));
      const queues = [...listed, ...abandonedOnly.filter((q) => !seen.has(`${q.type}\t${q.domain}`))];
      const wanted = queues.filter(
        (q) =>
          (filter.types.length === 0 || filter.types.includes(q.type)) &&
          (filter.wikis.length === 0 || filter.wikis.includes(wikiIdFromDomain(q.domain))),
      );
      for (const c of await partition.store.counts(wanted)) {
        const wiki = wikiIdFromDomain(c.queue.domain);
        const key = `${wiki}\t${c.queue.type}`;
        const size = c.unclaimed + c.claimed + c.abandoned + c.delayed;
        const before = sizes.get(key);
        sizes.set(key, { wiki, type: c.queue.type, size: (before?.size ?? 0) + size });
        this.locations.set(key, [...(this.locations.get(key) ?? []), { partition, queue: c.queue }]);
      }
    }
    return [...sizes.values()].filter((q) => q.size > 0);
  }

  /** Snapshot of a queue's IDs on one partition: pop order first, then the zsets by score. */
  private async snapshot(
    loc: QueueLocation,
  ): Promise<{ id: string; state: RedisJobState; score: number | null }[]> {
    const k = queueKeys(loc.queue.type, loc.queue.domain);
    const c = loc.partition.client;
    const [unclaimed, delayed, claimed, abandoned] = await Promise.all([
      c.lrange(k['l-unclaimed'], 0, -1),
      c.zrange(k['z-delayed'], 0, -1, 'WITHSCORES'),
      c.zrange(k['z-claimed'], 0, -1, 'WITHSCORES'),
      c.zrange(k['z-abandoned'], 0, -1, 'WITHSCORES'),
    ]);
    const out: { id: string; state: RedisJobState; score: number | null }[] = unclaimed
      .reverse()
      .map((id) => ({ id, state: 'unclaimed' as const, score: null }));
    const zset = (flat: string[], state: RedisJobState) => {
      for (let i = 0; i + 1 < flat.length; i += 2)
        out.push({ id: flat[i] as string, state, score: Number(flat[i + 1]) });
    };
    zset(claimed, 'claimed');
    zset(abandoned, 'abandoned');
    zset(delayed, 'delayed');
    return out;
  }

  /** Stored jobs of one location in batches (blob and attempts fetched per batch). */
  private async *stored(loc: QueueLocation): AsyncIterable<StoredRedisJob[]> {
    const ids = await this.snapshot(loc);
    const k = queueKeys(loc.queue.type, loc.queue.domain);
    for (let i = 0; i < ids.length; i += this.batchSize) {
      const chunk = ids.slice(i, i + this.batchSize);
      const names = chunk.map((e) => e.id);
      const results = await loc.partition.client
        .pipeline()
        .hmgetBuffer(k['h-data'], ...names)
        .hmget(k['h-attempts'], ...names)
        .exec();
      if (!results) throw new Error('redis pipeline was not executed');
      for (const [error] of results) if (error) throw error;
      const blobs = results[0]?.[1] as (Buffer | null)[];
      const attempts = results[1]?.[1] as (string | null)[];
      yield chunk.map((e, j) => ({
        id: e.id,
        state: e.state,
        score: e.score,
        attempts: Number(attempts[j] ?? 0) || 0,
        blob: blobs[j] ?? null,
      }));
    }
  }

  async *read(queue: SourceQueue): AsyncIterable<SourceRecord[]> {
    for (const loc of this.locations.get(`${queue.wiki}\t${queue.type}`) ?? []) {
      const ctx = {
        wiki: queue.wiki,
        type: queue.type,
        now: this.now(),
        claimTTL: (type: string) => limitFor(this.config.limits.claimTTL, type),
      };
      for await (const batch of this.stored(loc)) {
        yield batch.map((stored): SourceRecord => {
          const ref = () => `${loc.partition.address} ${queue.wiki} ${stored.state} ${stored.id}`;
          try {
            const outcome = blobToJob(stored, ctx);
            if (!('job' in outcome)) return { kind: 'skip', ref: ref(), reason: outcome.skip };
            return { kind: 'job', job: outcome.job, digest: sha1Hex(stored.blob as Buffer) };
          } catch (error) {
            if (error instanceof CorruptJobError)
              return { kind: 'corrupt', ref: ref(), reason: error.message };
            throw error;
          }
        });
      }
    }
  }

  async deleteVerified(queue: SourceQueue, verified: ReadonlyMap<string, string>): Promise<DeleteResult> {
    let deleted = 0;
    const kept: DeleteResult['kept'] = [];
    for (const loc of this.locations.get(`${queue.wiki}\t${queue.type}`) ?? []) {
      const k = queueKeys(loc.queue.type, loc.queue.domain);
      const keys = [
        k['l-unclaimed'],
        k['z-delayed'],
        k['z-claimed'],
        k['z-abandoned'],
        k['h-data'],
        k['h-attempts'],
        k['h-sha1ById'],
        k['h-idBySha1'],
        QUEUES_WITH_JOBS_KEY,
      ];
      // Pop order matters (LREM searches from the tail); the script itself checks each blob's digest.
      const ids = (await this.snapshot(loc)).map((e) => e.id).filter((id) => verified.has(id));
      for (let i = 0; i < ids.length; i += this.batchSize) {
        const args: string[] = [];
        for (const id of ids.slice(i, i + this.batchSize)) args.push(id, verified.get(id) as string);
        const reply = await (loc.partition.client as ScriptClient)[REMOVE](
          ...keys,
          loc.queue.queueId,
          ...args,
        );
        deleted += Number(reply[0]);
        for (const id of reply.slice(1)) {
          kept.push({
            ref: `${loc.partition.address} ${String(id)}`,
            reason: 'changed or gone since it was copied',
          });
        }
      }
    }
    return { deleted, kept };
  }

  cannotHold(): string | null {
    return null;
  }

  /** SHA-1 of the blob this job is stored as (kept for write()). */
  fingerprint(job: MigratedJob): string {
    return sha1Hex(this.blobOf(job));
  }

  private blobOf(job: MigratedJob): Buffer {
    let blob = this.blobs.get(job);
    if (!blob) {
      blob = encodeJobBlob(jobToBlobFields(job), { compression: this.options.gzip ? 'gzip' : null });
      this.blobs.set(job, blob);
    }
    return blob;
  }

  /** The partition a job goes to (deterministic, see the file comment). */
  private placement(job: Pick<MigratedJob, 'sha1' | 'id'>): Partition {
    const location = this.ring.getLocation(job.sha1 !== '' ? sha1Base36ToHex(job.sha1) : job.id);
    const partition = this.partitions.find((p) => p.address === location);
    if (!partition) throw new Error(`hash ring gave unknown partition ${location}`);
    return partition;
  }

  async write(jobs: readonly MigratedJob[]): Promise<WriteResult> {
    const groups = new Map<
      string,
      { partition: Partition; wiki: string; type: string; jobs: MigratedJob[] }
    >();
    for (const job of jobs) {
      const partition = this.placement(job);
      const key = `${partition.address}\t${job.wiki}\t${job.type}`;
      const group = groups.get(key) ?? { partition, wiki: job.wiki, type: job.type, jobs: [] };
      group.jobs.push(job);
      groups.set(key, group);
    }
    const written: string[] = [];
    const present: string[] = [];
    for (const { partition, wiki, type, jobs: list } of groups.values()) {
      const k = queueKeys(type, wiki);
      const keys = [
        k['l-unclaimed'],
        k['z-delayed'],
        k['z-abandoned'],
        k['h-data'],
        k['h-attempts'],
        k['h-sha1ById'],
        k['h-idBySha1'],
        QUEUES_WITH_JOBS_KEY,
        this.markerKey,
      ];
      const args: (string | number | Buffer)[] = [makeQueueId(type, wiki), MARKER_TTL_SECONDS];
      for (const job of list) {
        const score =
          job.state === 'abandoned' ? (job.claimedAt ?? job.enqueueTimestamp) : job.releaseTimestamp;
        args.push(
          job.id,
          job.state === 'claimed' ? 'ready' : job.state,
          score,
          job.attempts,
          job.sha1,
          this.blobOf(job),
        );
      }
      const flags = await (partition.client as ScriptClient)[PUSH](...keys, ...args);
      const roots = list.filter(
        (job, i) => flags[i] === '1' && job.state !== 'abandoned' && isRootJob(job.params),
      );
      if (roots.length > 0) await partition.store.registerRootJobs(type, wiki, roots.map(jobToBlobFields));
      list.forEach((job, i) => (flags[i] === '1' ? written : present).push(job.id));
    }
    return { written, present };
  }

  async readBack(wiki: string, type: string, ids: readonly string[]): Promise<Map<string, ReadBack>> {
    const out = new Map<string, ReadBack>();
    const k = queueKeys(type, wiki);
    // Every partition is asked: the placement of a job depends on its dedup hash, unknown here.
    for (const partition of this.partitions) {
      for (let i = 0; i < ids.length; i += this.batchSize) {
        const chunk = ids.slice(i, i + this.batchSize);
        const blobs = await partition.client.hmgetBuffer(k['h-data'], ...chunk);
        chunk.forEach((id, j) => {
          const blob = blobs[j];
          if (blob) out.set(id, sha1Hex(blob));
        });
      }
    }
    // Gone from h-data but recorded in this run's marker set: written, then run by a target runner.
    const missing = ids.filter((id) => !out.has(id));
    for (const partition of this.partitions) {
      for (let i = 0; i < missing.length; i += this.batchSize) {
        const chunk = missing.slice(i, i + this.batchSize);
        const flags = await partition.client.smismember(this.markerKey, ...chunk);
        chunk.forEach((id, j) => {
          if (flags[j] === 1) out.set(id, { ran: true });
        });
      }
    }
    return out;
  }

  async close(): Promise<void> {
    await Promise.allSettled(
      this.partitions.map(async (p) => {
        // A connection that already ended needs nothing (disconnect() would arm a 2 s timer).
        if (p.client.status === 'end') return;
        try {
          await p.client.quit();
        } catch {
          p.client.disconnect();
        }
      }),
    );
  }
}
