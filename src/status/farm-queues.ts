// Farm-wide queue counts for operators (jobqueue CLI, status server): every partition in parallel,
// and on each both the queues MediaWiki lists (s-queuesWithJobs) and the abandoned-only queues the
// jobchron keeps aside, so dead-lettered jobs are never invisible. A partition that fails is
// reported by name and the others still answer.
import type { Redis } from 'ioredis';
import type { PartitionError } from '../backend/types.js';
import { QUEUES_WITH_ABANDONED_KEY } from '../chron/keys.js';
import {
  QUEUES_WITH_JOBS_KEY,
  parseQueueId,
  wikiIdFromDomain,
  type QueueRef,
} from '../mediawiki/queue-keys.js';
import { describeClientError, waitReady } from '../redis/connection.js';
import type { RedisQueueStore } from '../redis/queue-store.js';

/** How long a request waits for a connection that is still being set up (daemon start-up). */
const FIRST_CONNECT_WAIT_MS = 2000;

/** Waits for a first connection in progress; a connection that is down fails at once instead. */
async function connected(client: Redis): Promise<void> {
  if (client.status === 'wait' || client.status === 'connecting' || client.status === 'connect') {
    await waitReady(client, FIRST_CONNECT_WAIT_MS);
  }
}

/** Above this many members a set is read with SSCAN instead of one SMEMBERS. */
const SSCAN_THRESHOLD = 10_000;

export interface QueueFilter {
  /** Wiki ID (or the DB domain as stored in the queue ID). */
  readonly wiki?: string;
  readonly type?: string;
  /** Partition as written in the config. */
  readonly partition?: string;
}

/** One queue on one partition. */
export interface PartitionQueue {
  readonly partition: string;
  readonly wiki: string;
  readonly domain: string;
  readonly type: string;
  /** The set member exactly as stored; passed back to Redis unchanged. */
  readonly queueId: string;
  readonly unclaimed: number;
  readonly claimed: number;
  readonly abandoned: number;
  readonly delayed: number;
  readonly oldestAgeSeconds: number | null;
}

export interface PartitionReport {
  readonly name: string;
  readonly ok: boolean;
  readonly error: string | null;
  /** Queues listed on the partition (before filtering). */
  readonly listed: number;
  /** Set members that are not a JSON [type, domain] pair (left in place). */
  readonly badMembers: number;
  readonly ms: number;
}

export interface FarmListing {
  /** Wall-clock ms when the listing was taken. */
  readonly at: number;
  readonly queues: PartitionQueue[];
  /** Every configured partition, in config order. */
  readonly partitions: PartitionReport[];
  readonly errors: PartitionError[];
}

/** What FarmQueues needs of a backend: RedisBackend provides exactly this. */
export interface PartitionStores {
  readonly partitions: readonly string[];
  store(partition: string): RedisQueueStore;
}

export function matchesFilter(
  queue: { wiki: string; domain: string; type: string },
  filter: QueueFilter,
): boolean {
  if (filter.type !== undefined && queue.type !== filter.type) return false;
  if (filter.wiki !== undefined && queue.wiki !== filter.wiki && queue.domain !== filter.wiki) return false;
  return true;
}

/** A plain-words message for a failed partition call; ioredis' offline-queue text says little. */
export function describeRedisError(client: Redis | null, error: unknown): string {
  return describeClientError(client, error);
}

async function setMembers(client: Redis, key: string): Promise<string[]> {
  const size = await client.scard(key);
  if (size === 0) return [];
  if (size <= SSCAN_THRESHOLD) return client.smembers(key);
  const seen = new Set<string>();
  let cursor = '0';
  do {
    const [next, batch] = await client.sscan(key, cursor, 'COUNT', 1000);
    for (const member of batch) seen.add(member);
    cursor = next;
  } while (cursor !== '0');
  return [...seen];
}

export class FarmQueues {
  /**
   * @param source the partitions that can be asked (a RedisBackend)
   * @param order every configured partition in config order; those missing from `source` are
   *   reported with their entry in `unavailable` (e.g. the CLI could not connect to them)
   */
  constructor(
    private readonly source: PartitionStores,
    private readonly order: readonly string[] = source.partitions,
    private readonly unavailable: ReadonlyMap<string, string> = new Map(),
  ) {}

  get partitions(): readonly string[] {
    return this.order;
  }

  /** The store of one reachable partition (for actions); throws for an unknown one. */
  store(partition: string): RedisQueueStore {
    return this.source.store(partition);
  }

  /** Every queue (empty ones included) with its counts, optionally filtered. */
  async list(filter: QueueFilter = {}, now: number = Date.now()): Promise<FarmListing> {
    const names = this.order.filter((p) => filter.partition === undefined || p === filter.partition);
    const settled = await Promise.allSettled(names.map((name) => this.listPartition(name, filter, now)));
    const queues: PartitionQueue[] = [];
    const partitions: PartitionReport[] = [];
    const errors: PartitionError[] = [];
    settled.forEach((outcome, i) => {
      const name = names[i] ?? '?';
      if (outcome.status === 'fulfilled') {
        queues.push(...outcome.value.queues);
        partitions.push(outcome.value.report);
      } else {
        const error =
          outcome.reason instanceof PartitionFailure ? outcome.reason.message : String(outcome.reason);
        errors.push({ partition: name, error });
        partitions.push({ name, ok: false, error, listed: 0, badMembers: 0, ms: 0 });
      }
    });
    return { at: now, queues, partitions, errors };
  }

  /** PING every partition (cheap liveness for /healthz). */
  async ping(): Promise<PartitionReport[]> {
    return Promise.all(
      this.order.map(async (name): Promise<PartitionReport> => {
        const started = Date.now();
        const down = this.unavailable.get(name);
        if (down !== undefined) return { name, ok: false, error: down, listed: 0, badMembers: 0, ms: 0 };
        let client: Redis | null = null;
        try {
          client = this.source.store(name).client;
          await connected(client);
          await client.ping();
          return { name, ok: true, error: null, listed: 0, badMembers: 0, ms: Date.now() - started };
        } catch (error) {
          const text = describeRedisError(client, error);
          return { name, ok: false, error: text, listed: 0, badMembers: 0, ms: Date.now() - started };
        }
      }),
    );
  }

  private async listPartition(
    name: string,
    filter: QueueFilter,
    now: number,
  ): Promise<{ queues: PartitionQueue[]; report: PartitionReport }> {
    const down = this.unavailable.get(name);
    if (down !== undefined) throw new PartitionFailure(down);
    const started = Date.now();
    let client: Redis | null = null;
    try {
      const store = this.source.store(name);
      client = store.client;
      await connected(client);
      const [withJobs, abandonedOnly] = await Promise.all([
        setMembers(client, QUEUES_WITH_JOBS_KEY),
        setMembers(client, QUEUES_WITH_ABANDONED_KEY),
      ]);
      const refs = new Map<string, QueueRef>();
      let badMembers = 0;
      for (const member of [...withJobs, ...abandonedOnly]) {
        if (refs.has(member)) continue;
        const ref = parseQueueId(member);
        if (ref) refs.set(member, ref);
        else badMembers++;
      }
      // Farms have far fewer wikis than queues: derive each wiki ID once.
      const wikiIds = new Map<string, string>();
      const wikiOf = (domain: string): string => {
        let wiki = wikiIds.get(domain);
        if (wiki === undefined) wikiIds.set(domain, (wiki = wikiIdFromDomain(domain)));
        return wiki;
      };
      const wanted = [...refs.values()].filter((ref) =>
        matchesFilter({ wiki: wikiOf(ref.domain), domain: ref.domain, type: ref.type }, filter),
      );
      const counts = await store.counts(wanted, now / 1000);
      const queues = counts.map((c): PartitionQueue => ({
        partition: name,
        wiki: wikiIdFromDomain(c.queue.domain),
        domain: c.queue.domain,
        type: c.queue.type,
        queueId: c.queue.queueId,
        unclaimed: c.unclaimed,
        claimed: c.claimed,
        abandoned: c.abandoned,
        delayed: c.delayed,
        oldestAgeSeconds: c.oldestAgeSeconds,
      }));
      const report = { name, ok: true, error: null, listed: refs.size, badMembers, ms: Date.now() - started };
      return { queues, report };
    } catch (error) {
      throw new PartitionFailure(describeRedisError(client, error));
    }
  }
}

/** A partition that could not be read; the message names no secret (ioredis never echoes AUTH). */
export class PartitionFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PartitionFailure';
  }
}
