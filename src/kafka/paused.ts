// backend kafka honours `jobqueue pause` (and the dashboard's Pause button) as the Redis backend
// does: the paused (wiki, type) list lives in Redis on every queue partition
// (src/redis/paused-queues.ts) and is read every 2 s (src/runner/paused.ts). Kafka cannot hold back
// one wiki's events inside a topic, so a paused event is parked on the rule's delayed topic and
// looked at again PAUSED_RECHECK_MS later (rule-runner.ts); it is never dropped and never run
// while paused.
import type { JobrunnerConfig } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import { connectRedis, waitReady } from '../redis/connection.js';
import { listPausedQueues, mergePaused } from '../redis/paused-queues.js';
import { PausedQueues } from '../runner/paused.js';

/**
 * How long a paused event waits on the delayed topic before it is checked again: a resume takes
 * effect within this (plus the 2 s refresh). Each check re-produces the event once, so a paused
 * backlog of N events costs N produces per interval.
 */
export const PAUSED_RECHECK_MS = 30_000;

export interface PausedCheck {
  has(wiki: string, type: string): boolean;
}

export interface KafkaPaused {
  readonly paused: PausedCheck;
  start(): Promise<void>;
  close(): Promise<void>;
}

export function kafkaPausedQueues(config: JobrunnerConfig, logger: Logger): KafkaPaused {
  const clients = config.redis.queues.map((address) =>
    connectRedis(address, config.redis, { logger, role: 'paused-queues' }),
  );
  const paused = new PausedQueues(async () => {
    const settled = await Promise.allSettled(clients.map((client) => listPausedQueues(client)));
    const lists = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    if (lists.length === 0) throw new Error('no queue partition could be read for the paused queues');
    return mergePaused(lists);
  }, logger);
  return {
    paused,
    async start(): Promise<void> {
      // The connections do not queue commands while they connect: wait (bounded) so the first read,
      // the one before any event is taken, does not fail for nothing.
      await Promise.all(clients.map((client) => waitReady(client, config.redis.connectTimeoutMs)));
      await paused.start();
    },
    async close(): Promise<void> {
      paused.stop();
      await Promise.allSettled(clients.map((client) => client.quit()));
    },
  };
}
