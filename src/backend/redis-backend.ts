// QueueBackend over MediaWiki's JobQueueRedis layout on every `redis.queues` partition. Each
// partition is asked in parallel; one that fails is reported in `errors` and the others still
// answer. Discovery is one discover-ready.lua call per partition (see that script), which is what
// lets the runner poll every ~50 ms without loading Redis.
import type { Redis } from 'ioredis';
import type { JobrunnerConfig, RedisServerAddress } from '../config/types.js';
import { wikiIdFromDomain } from '../mediawiki/queue-keys.js';
import type { Logger } from '../observability/logger.js';
import { connectRedis, describeClientError } from '../redis/connection.js';
import { takeDispatchLease } from '../redis/dispatch-lease.js';
import { listPausedQueues, mergePaused, type PausedQueue } from '../redis/paused-queues.js';
import { PartitionPushWatch } from '../redis/push-watch.js';
import { RedisQueueStore, type DiscoveryResult } from '../redis/queue-store.js';
import { PartitionReadyTracker, type TrackerStats } from '../redis/ready-tracker.js';
import type {
  PartitionError,
  PushListener,
  PushWatch,
  QueueBackend,
  QueueCounts,
  QueueListing,
  ReadinessStats,
  ReadyPollAsk,
  ReadyQueue,
} from './types.js';

export interface PartitionClient {
  /** The partition as written in the config, e.g. "rdb1001:6380". */
  readonly address: string;
  readonly client: Redis;
}

/** Makes the connection for one configured partition (injectable for tests). */
export type ConnectPartition = (
  address: RedisServerAddress,
  config: JobrunnerConfig,
  logger: Logger,
) => Redis;

export interface RedisBackendOptions {
  readonly connect?: ConnectPartition;
  /** Whether close() quits the clients; default true when the backend created them. */
  readonly ownsClients?: boolean;
  /** Reconciliation's walk time after pushes may have been missed (ms; default 5 s). */
  readonly fastReconcileMs?: () => number;
}

const DEFAULT_FAST_RECONCILE_MS = 5000;

export interface PartitionDiscovery {
  readonly partition: string;
  readonly result: DiscoveryResult;
}

/** Reported for a partition whose first connection attempt is still under way. */
export const CONNECTING_ERROR = 'still connecting to Redis';

/**
 * Tells whether a client is still on its first connection attempt. Until it is ready, fails
 * (an 'error' event: that is an outage, reported and logged as one) or `limitMs` passes, commands
 * are not sent: with enableOfflineQueue off they would only fail with "Stream isn't writeable".
 */
class FirstConnect {
  private settled: boolean;

  constructor(client: Redis, limitMs: number) {
    this.settled = client.status === 'ready' || client.status === 'end';
    if (this.settled) return;
    const settle = (): void => {
      this.settled = true;
      clearTimeout(timer);
      client.off('ready', settle);
      client.off('error', settle);
      client.off('end', settle);
    };
    const timer = setTimeout(settle, limitMs);
    timer.unref();
    client.once('ready', settle);
    client.once('error', settle);
    client.once('end', settle);
  }

  pending(client: Redis): boolean {
    return !this.settled && client.status !== 'ready';
  }
}

const defaultConnect: ConnectPartition = (address, config, logger) =>
  connectRedis(address, config.redis, { logger, role: 'queue' });

export class RedisBackend implements QueueBackend {
  readonly kind = 'redis' as const;
  private readonly partitionList: {
    readonly address: string;
    readonly store: RedisQueueStore;
    readonly firstConnect: FirstConnect;
    readonly tracker: PartitionReadyTracker;
  }[];
  private watches = new Map<string, PartitionPushWatch>();
  /** The runner's type filter as of its last poll (pushes of other types are not followed). */
  private runs: (type: string) => boolean = () => true;
  private readonly ownsClients: boolean;
  private readonly failing = new Set<string>();
  private readonly log: Logger;

  constructor(
    source: JobrunnerConfig | readonly PartitionClient[],
    logger: Logger,
    options: RedisBackendOptions = {},
  ) {
    this.log = logger.child({ component: 'redis-backend' });
    let partitions: readonly PartitionClient[];
    let connectTimeoutMs = 10_000;
    if (Array.isArray(source)) {
      partitions = source as readonly PartitionClient[];
      this.ownsClients = options.ownsClients ?? false;
    } else {
      const config = source as JobrunnerConfig;
      connectTimeoutMs = config.redis.connectTimeoutMs;
      const connect = options.connect ?? defaultConnect;
      partitions = config.redis.queues.map((address) => ({
        address: address.raw,
        client: connect(address, config, logger),
      }));
      this.ownsClients = options.ownsClients ?? true;
    }
    const fastReconcileMs = options.fastReconcileMs ?? (() => DEFAULT_FAST_RECONCILE_MS);
    this.partitionList = partitions.map((p) => ({
      address: p.address,
      tracker: new PartitionReadyTracker(p.address, p.client, fastReconcileMs),
      store: new RedisQueueStore(p.client),
      // ioredis gives up on a connection attempt after connectTimeout (an 'error'); the margin
      // only matters if that event never comes.
      firstConnect: new FirstConnect(p.client, connectTimeoutMs + 1000),
    }));
  }

  /** Partition names in config order. */
  get partitions(): string[] {
    return this.partitionList.map((p) => p.address);
  }

  /** The Redis client of every partition (the runner's heartbeat writes to each). */
  get clients(): Redis[] {
    return this.partitionList.map((p) => p.store.client);
  }

  /** The store of one partition (for the jobqueue CLI). */
  store(partition: string): RedisQueueStore {
    const found = this.partitionList.find((p) => p.address === partition);
    if (!found) throw new Error(`unknown queue partition "${partition}"`);
    return found.store;
  }

  /**
   * Runs fn on every partition at once; failures become PartitionErrors, logged once per outage.
   * A partition still making its first connection is skipped and reported as `connecting`.
   */
  private async eachPartition<T>(
    what: string,
    fn: (store: RedisQueueStore, partition: string) => Promise<T>,
  ): Promise<{ results: { partition: string; value: T }[]; errors: PartitionError[] }> {
    const live = this.partitionList.filter((p) => !p.firstConnect.pending(p.store.client));
    const errors: PartitionError[] = this.partitionList
      .filter((p) => !live.includes(p))
      .map((p) => ({ partition: p.address, error: CONNECTING_ERROR, connecting: true }));
    const settled = await Promise.allSettled(live.map((p) => fn(p.store, p.address)));
    const results: { partition: string; value: T }[] = [];
    settled.forEach((outcome, i) => {
      const partition = live[i]?.address ?? '?';
      const client = live[i]?.store.client;
      if (outcome.status === 'fulfilled') {
        results.push({ partition, value: outcome.value });
        if (this.failing.delete(partition))
          this.log.info('queue partition readable again', { partition, what });
      } else {
        // Not ioredis' "Stream isn't writeable": the auth failure behind it, or "not connected".
        const error = describeClientError(client ?? null, outcome.reason);
        errors.push({ partition, error });
        if (!this.failing.has(partition)) {
          this.failing.add(partition);
          this.log.warn('queue partition could not be read; reporting the others', {
            partition,
            what,
            error,
          });
        }
      }
    });
    return { results, errors };
  }

  /** Raw per-partition discovery, optionally with the earliest delayed release per queue. */
  async discover(options: { withDelayed?: boolean } = {}): Promise<{
    partitions: PartitionDiscovery[];
    errors: PartitionError[];
  }> {
    const { results, errors } = await this.eachPartition('discover', (store) => store.discoverReady(options));
    return { partitions: results.map((r) => ({ partition: r.partition, result: r.value })), errors };
  }

  async listReadyQueues(): Promise<QueueListing<ReadyQueue>> {
    const { partitions, errors } = await this.discover();
    const queues: ReadyQueue[] = [];
    for (const { partition, result } of partitions) {
      for (const { queue, ready } of result.ready) {
        queues.push({
          type: queue.type,
          domain: queue.domain,
          wiki: wikiIdFromDomain(queue.domain),
          partition,
          ready,
        });
      }
    }
    return { queues, errors };
  }

  async pollReady(ask: ReadyPollAsk): Promise<QueueListing<ReadyQueue>> {
    this.runs = ask.runs;
    const { results, errors } = await this.eachPartition('discover', (_store, partition) => {
      const tracker = this.partitionList.find((p) => p.address === partition)?.tracker;
      if (!tracker) return Promise.resolve([]);
      return tracker.poll({ ...ask, watching: this.watches.get(partition)?.watching ?? false });
    });
    // One partition (the common case): its list as it is, not a copy of thousands of entries per poll.
    const queues = results.length === 1 ? (results[0]?.value ?? []) : results.flatMap((r) => r.value);
    return { queues, errors };
  }

  noteDispatchEnd(
    queue: { readonly type: string; readonly domain: string; readonly wiki: string },
    partitions: readonly string[],
    drained: boolean,
  ): void {
    for (const p of this.partitionList) {
      if (partitions.includes(p.address)) p.tracker.noteFinished(queue, drained);
    }
  }

  /** What the incremental readiness tracking knows, per partition (status). */
  trackerStats(): { partition: string; stats: TrackerStats }[] {
    return this.partitionList.map((p) => ({ partition: p.address, stats: p.tracker.stats() }));
  }

  readinessStats(): ReadinessStats[] {
    return this.partitionList.map((p) => ({ partition: p.address, ...p.tracker.stats() }));
  }

  async queueCounts(filter: { wiki?: string; type?: string } = {}): Promise<QueueListing<QueueCounts>> {
    const { results, errors } = await this.eachPartition('counts', async (store) => {
      const { queues } = await store.listQueues();
      const wanted = queues.filter(
        (q) =>
          (filter.type === undefined || q.type === filter.type) &&
          (filter.wiki === undefined ||
            wikiIdFromDomain(q.domain) === filter.wiki ||
            q.domain === filter.wiki),
      );
      return store.counts(wanted);
    });
    const queues: QueueCounts[] = [];
    for (const { partition, value } of results) {
      for (const c of value) {
        queues.push({
          type: c.queue.type,
          domain: c.queue.domain,
          wiki: wikiIdFromDomain(c.queue.domain),
          partition,
          unclaimed: c.unclaimed,
          claimed: c.claimed,
          abandoned: c.abandoned,
          delayed: c.delayed,
          oldestAgeSeconds: c.oldestAgeSeconds,
        });
      }
    }
    return { queues, errors };
  }

  async headJobTimestamp(
    queue: { readonly type: string; readonly domain: string },
    partitions: readonly string[],
  ): Promise<number | null> {
    const wanted = this.partitionList.filter(
      (p) => partitions.includes(p.address) && p.store.client.status === 'ready',
    );
    const found = await Promise.all(
      wanted.map((p) => p.store.headJobTimestamp(queue.type, queue.domain).catch(() => null)),
    );
    const known = found.filter((t): t is number => t !== null);
    return known.length === 0 ? null : Math.min(...known);
  }

  /** The lease lives on the queue's first partition (by address), so every runner asks the same one. */
  async leaseDispatch(
    queue: { readonly wiki: string; readonly type: string },
    partitions: readonly string[],
    holder: string,
    ttlMs: number,
  ): Promise<boolean> {
    const first = [...partitions].sort()[0];
    const partition = this.partitionList.find(
      (p) => p.address === first && p.store.client.status === 'ready',
    );
    if (!partition) return true;
    try {
      return await takeDispatchLease(partition.store.client, queue.wiki, queue.type, holder, ttlMs);
    } catch {
      return true;
    }
  }

  /** Paused queues over every readable partition (see src/redis/paused-queues.ts). */
  async pausedQueues(): Promise<PausedQueue[]> {
    const settled = await Promise.allSettled(
      this.partitionList
        .filter((p) => p.store.client.status === 'ready')
        .map((p) => listPausedQueues(p.store.client)),
    );
    const lists = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    if (lists.length === 0) throw new Error('no queue partition could be read for the paused queues');
    return mergePaused(lists);
  }

  /** One keyspace-event subscriber per partition (see src/redis/push-watch.ts). */
  watchPushes(listener: PushListener, logger: Logger = this.log): PushWatch {
    const watches = this.partitionList.map((p) => {
      // Pushes feed the readiness tracking before they wake the runner's next poll.
      const tracked: PushListener = {
        onPush: (partition, queue, key) => {
          if (key !== undefined) p.tracker.notePush(key, this.runs);
          listener.onPush(partition, queue, key);
        },
        onResync: (partition) => {
          p.tracker.noteGap();
          listener.onResync(partition);
        },
      };
      const watch = new PartitionPushWatch(p.address, p.store.client, tracked, logger);
      this.watches.set(p.address, watch);
      return watch;
    });
    return {
      get watchingAll() {
        return watches.every((w) => w.watching);
      },
      resume: () => watches.forEach((w) => w.resume()),
      pause: () => watches.forEach((w) => w.pause()),
      close: async () => {
        for (const p of this.partitionList) this.watches.delete(p.address);
        await Promise.all(watches.map((w) => w.close()));
      },
    };
  }

  async close(): Promise<void> {
    if (!this.ownsClients) return;
    await Promise.allSettled(
      this.partitionList.map(async (p) => {
        try {
          await p.store.client.quit();
        } catch {
          p.store.client.disconnect();
        }
      }),
    );
  }
}
