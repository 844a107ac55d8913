// Keeps jobqueue:aggregator:h-ready-queues:v2 current on every aggregator for runners that still read
// it (the original runner; MediaWiki ≤1.32 tooling). Instead of the original's racy rebuild through a
// shared ":temp" key and RENAME (W19), each partition's lease holder updates its own contribution
// incrementally after every batch and sweeps what its pass did not confirm; see chron-ready-hash.lua.
// Every aggregator is written, not just the first reachable one, so a runner that fails over to the
// next aggregator still finds current data.
import type { Redis } from 'ioredis';
import { READY_QUEUES_HASH_KEY } from '../mediawiki/queue-keys.js';
import type { Logger } from '../observability/logger.js';
import { waitReady } from '../redis/connection.js';
import { errorMessage, LeaseLostError } from './errors.js';
import { readyContributionKey } from './keys.js';
import { runScript } from './lua.js';

export interface Aggregator {
  /** Address as written in the config. */
  readonly name: string;
  readonly redis: Redis;
}

/** A contribution hash outlives a partition removed from the config by this long (ms). */
export const CONTRIBUTION_TTL_MS = 3_600_000;

export interface ReadyHashUpdate {
  readonly partition: string;
  /** Every configured partition (the others' contributions are consulted before deleting a field). */
  readonly partitions: readonly string[];
  readonly fence: string;
  /** Unique per pass over the partition; marks the contribution fields this pass confirmed. */
  readonly passId: string;
}

export class ReadyHashWriter {
  private readonly failing = new Set<string>();
  private readonly everReady = new WeakSet<Redis>();

  constructor(
    private readonly aggregators: readonly Aggregator[],
    private readonly logger: Logger,
    private readonly connectTimeoutMs: number,
  ) {
    for (const agg of aggregators) {
      if (agg.redis.status === 'ready') this.everReady.add(agg.redis);
      agg.redis.once('ready', () => this.everReady.add(agg.redis));
    }
  }

  /** Records which queues a batch found ready and which not. Resolves with the failed aggregators. */
  update(target: ReadyHashUpdate, nowSeconds: number, ready: readonly string[], notReady: readonly string[]) {
    return this.onEach(target, (agg, keys) =>
      runScript(agg.redis, 'chron-ready-hash', keys, [
        target.fence,
        target.passId,
        nowSeconds,
        CONTRIBUTION_TTL_MS,
        ready.length,
        ...ready,
        ...notReady,
      ]),
    );
  }

  /** After a complete pass: drops own fields this pass did not confirm and shared fields gone stale. */
  sweep(target: ReadyHashUpdate, nowSeconds: number, staleBeforeSeconds: number) {
    return this.onEach(target, (agg, keys) =>
      runScript(agg.redis, 'chron-ready-sweep', keys, [
        target.fence,
        target.passId,
        staleBeforeSeconds,
        nowSeconds,
      ]),
    );
  }

  /** Aggregators currently failing (for status). */
  failingAggregators(): string[] {
    return [...this.failing];
  }

  private async onEach(
    target: ReadyHashUpdate,
    write: (agg: Aggregator, keys: string[]) => Promise<unknown>,
  ): Promise<{ aggregator: string; error: string }[]> {
    const keys = [
      READY_QUEUES_HASH_KEY,
      readyContributionKey(target.partition),
      ...target.partitions.filter((p) => p !== target.partition).map(readyContributionKey),
    ];
    const failures: { aggregator: string; error: string }[] = [];
    await Promise.all(
      this.aggregators.map(async (agg) => {
        try {
          // Give a fresh connection its connect timeout; during an outage fail fast instead.
          if (agg.redis.status !== 'ready' && !this.everReady.has(agg.redis)) {
            await waitReady(agg.redis, this.connectTimeoutMs);
          }
          if (agg.redis.status !== 'ready') throw new Error(`connection ${agg.redis.status}`);
          await write(agg, keys);
          if (this.failing.delete(agg.name)) {
            this.logger.info('Aggregator writable again', { aggregator: agg.name });
          }
        } catch (error) {
          if (errorMessage(error).startsWith('FENCED')) throw new LeaseLostError(target.partition);
          failures.push({ aggregator: agg.name, error: errorMessage(error) });
          if (!this.failing.has(agg.name)) {
            this.failing.add(agg.name);
            this.logger.error('Cannot update the ready-queue hash on an aggregator; will retry every pass', {
              aggregator: agg.name,
              error: errorMessage(error),
            });
          }
        }
      }),
    );
    return failures;
  }
}
