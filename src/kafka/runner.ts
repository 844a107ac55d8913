// backend kafka: starts a RuleRunner per rule, keeps their job topics current as topics appear,
// measures lag, and stops them (draining or not).
import { hostname } from 'node:os';
import { Producer, ProduceAcks } from '@platformatic/kafka';
import type { Redis } from 'ioredis';
import type { JobrunnerConfig, KafkaConfig } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import { noMetrics, type Metrics } from '../observability/statsd.js';
import { connectRedis } from '../redis/connection.js';
import { systemClock, type Clock } from './clock.js';
import { DeadLetterFile } from './dead-letter.js';
import { Deduplicator } from './dedup.js';
import { KafkaSetupError } from './errors.js';
import { EventExecutor } from './executor.js';
import { Outbox } from './outbox.js';
import { kafkaPausedQueues } from './paused.js';
import { assignJobTopics } from './rule-topics.js';
import { RuleRunner } from './rule-runner.js';
import type { KafkaRunnerStats } from './stats.js';
import { TopicAdmin, consumerLag } from './topic-admin.js';
import { errorTopic } from './topics.js';

export type { KafkaRunnerStats, RuleStats } from './stats.js';

export interface KafkaRunnerDeps {
  readonly logger: Logger;
  readonly metrics?: Metrics;
  /** Time source for delays and retries; tests pass an OffsetClock. */
  readonly clock?: Clock;
  /** How long start-up waits for the brokers (ms, default 30000). */
  readonly startupTimeoutMs?: number;
}

export interface KafkaRunner {
  /** drain: let running executions finish (up to runner.drainTimeoutSeconds) before leaving. */
  stop(drain: boolean): Promise<void>;
  stats(): KafkaRunnerStats;
  /** Events run successfully so far, all rules: what stats() counts as ok, without building it. */
  okCount(): number;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function defaultInstanceId(): string {
  return hostname().replace(/[^A-Za-z0-9_.-]/g, '_') || 'jobrunner';
}

async function withStartupRetry<T>(
  what: string,
  timeoutMs: number,
  kafka: KafkaConfig,
  fn: () => Promise<T>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (error instanceof KafkaSetupError || Date.now() > deadline) {
        if (error instanceof KafkaSetupError) throw error;
        throw new KafkaSetupError(
          `${what} failed: Kafka brokers ${kafka.brokers.join(', ')} not usable after ${Math.round(timeoutMs / 1000)} s: ${errorText(error)}`,
          { cause: error },
        );
      }
      await new Promise((r) => setTimeout(r, Math.min(250 * attempt, 2000)));
    }
  }
}

export async function startKafkaRunner(config: JobrunnerConfig, deps: KafkaRunnerDeps): Promise<KafkaRunner> {
  const kafka = config.kafka;
  if (kafka === undefined) {
    throw new KafkaSetupError("backend 'kafka' needs a kafka section in the configuration file");
  }
  const logger = deps.logger.child({ backend: 'kafka' });
  const metrics = deps.metrics ?? noMetrics;
  const clock = deps.clock ?? systemClock;
  const startupTimeoutMs = deps.startupTimeoutMs ?? 30_000;
  const instanceId = kafka.instanceId ?? defaultInstanceId();
  const naming = { datacenter: kafka.datacenter, serviceName: kafka.serviceName };

  const admin = new TopicAdmin(kafka.brokers, `${kafka.clientId}-admin`);
  const producer = new Producer({
    clientId: `${kafka.clientId}-producer`,
    bootstrapBrokers: [...kafka.brokers],
    acks: ProduceAcks.ALL,
    retries: 2,
    retryDelay: 500,
  });
  let redis: Redis | undefined;
  const closeAll = async (): Promise<void> => {
    await Promise.allSettled([admin.close(), producer.close(), redis?.quit(), paused.close()]);
  };

  const outbox = new Outbox(
    producer,
    metrics,
    logger,
    `${kafka.datacenter}.`,
    new DeadLetterFile(kafka.deadLetterFile),
  );
  const first = config.redis.aggregators[0];
  if (kafka.dedup.enabled && first !== undefined) {
    // No auto-pipelining: the Deduplicator already sends the claims (and finishes) of one turn of
    // the event loop as one script call, and ioredis's per-tick pipelines would only add work.
    redis = connectRedis(first, config.redis, { logger, role: 'dedup' });
  }
  const dedup = new Deduplicator(redis, kafka.dedup, logger);
  const connections = kafka.rules.reduce(
    (sum, rule) => sum + rule.concurrency * (1 + (rule.partitioned?.partitions ?? 1)),
    0,
  );
  const executor = new EventExecutor(connections);
  const paused = kafkaPausedQueues(config, logger);
  const rules = kafka.rules.map(
    (rule) =>
      new RuleRunner(rule, {
        kafka,
        clock,
        executor,
        dedup,
        outbox,
        metrics,
        logger,
        instanceId,
        paused: paused.paused,
      }),
  );

  try {
    const own = [
      { topic: errorTopic(naming), partitions: kafka.topicPartitions },
      ...rules.flatMap((rule) => rule.ownTopics()),
    ];
    const created = await withStartupRetry('Creating jobrunner topics', startupTimeoutMs, kafka, () =>
      admin.ensureTopics(own, kafka.createTopics),
    );
    if (created.length > 0) logger.info('Created Kafka topics', { topics: created });
    const topics = await withStartupRetry('Listing topics', startupTimeoutMs, kafka, () =>
      admin.listTopics(),
    );
    applyTopics(topics);
  } catch (error) {
    await Promise.allSettled([executor.close(), closeAll()]);
    throw error;
  }

  function applyTopics(topics: readonly string[]): void {
    const assigned = assignJobTopics(kafka?.rules ?? [], topics, naming);
    for (const rule of rules) rule.setJobTopics(assigned.get(rule.rule.name) ?? []);
  }

  const startedAt = new Date();
  await dedup.start(
    instanceId,
    Math.min(30_000, (kafka.sessionTimeoutMs * 2) / 3),
    config.redis.connectTimeoutMs,
  );
  // Read before the first event, so a restarted runner never runs a paused queue's event.
  await paused.start();
  for (const rule of rules) rule.start();
  logger.info('Kafka runner started', {
    brokers: kafka.brokers,
    instanceId,
    rules: rules.map((r) => ({
      name: r.rule.name,
      topics: r.stats().topics,
      concurrency: r.rule.concurrency,
    })),
  });

  let refreshing = false;
  const refreshTimer = setInterval(() => {
    if (refreshing) return;
    refreshing = true;
    admin
      .listTopics()
      .then(applyTopics, (error: unknown) =>
        logger.warn('Cannot list Kafka topics', { error: errorText(error) }),
      )
      .finally(() => {
        refreshing = false;
      });
  }, kafka.topicRefreshMs);
  refreshTimer.unref();

  let measuring = false;
  const lagTimer = setInterval(() => {
    if (measuring) return;
    measuring = true;
    void Promise.all(
      rules.map(async (rule) => {
        const lag: Record<string, number> = {};
        for (const lane of rule.connectedLanes()) {
          const consumer = lane.connectedConsumer;
          if (consumer === undefined) continue;
          try {
            for (const [topic, value] of Object.entries(await consumerLag(consumer))) {
              lag[topic] = (lag[topic] ?? 0) + value;
            }
          } catch (error) {
            logger.debug('Lag measurement failed', { lane: lane.name, error: errorText(error) });
          }
        }
        rule.setLag(lag, new Date());
      }),
    ).finally(() => {
      measuring = false;
    });
  }, kafka.lagIntervalMs);
  lagTimer.unref();

  let stopped: Promise<void> | undefined;
  return {
    stop(drain: boolean): Promise<void> {
      stopped ??= (async () => {
        clearInterval(refreshTimer);
        clearInterval(lagTimer);
        const drainMs = drain ? config.runner.drainTimeoutSeconds * 1000 : 0;
        logger.info('Kafka runner stopping', { drain, drainMs });
        await Promise.all(rules.map((rule) => rule.stop(drainMs)));
        await outbox.close(5000);
        await dedup.stop();
        // Not draining: requests still running are cut off; their offsets were not committed.
        await (drain ? executor.close() : executor.destroy()).catch(() => undefined);
        await closeAll();
        logger.info('Kafka runner stopped');
      })();
      return stopped;
    },
    okCount(): number {
      let ok = 0;
      for (const rule of rules) ok += rule.okCount;
      return ok;
    },
    stats(): KafkaRunnerStats {
      return {
        backend: 'kafka',
        startedAt: startedAt.toISOString(),
        brokers: kafka.brokers,
        datacenter: kafka.datacenter,
        serviceName: kafka.serviceName,
        rules: rules.map((rule) => rule.stats()),
        producePending: outbox.pending,
        deadLetters: outbox.deadLetters,
      };
    },
  };
}
