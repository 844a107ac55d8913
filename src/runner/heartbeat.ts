// A running jobrunner (Redis backend) announces itself on every queue partition it takes jobs from:
// key jobrunner:runner-heartbeat:<host>:<pid>, renewed every 10 s with a 30 s TTL, deleted on a
// clean stop. `jobqueue migrate` reads these before it copies jobs away from Redis: a live runner
// would pop jobs that are also being copied, and they would run in both backends.
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import type { Logger } from '../observability/logger.js';

export const HEARTBEAT_PREFIX = 'jobrunner:runner-heartbeat:';
const TTL_MS = 30_000;

export interface RunnerHeartbeatValue {
  readonly host: string;
  readonly pid: number;
  readonly startedAt: string;
}

export class RunnerHeartbeat {
  private timer: NodeJS.Timeout | undefined;
  private readonly key = `${HEARTBEAT_PREFIX}${hostname()}:${process.pid}`;
  private readonly value: string;

  constructor(
    private readonly clients: readonly Redis[],
    private readonly logger: Logger,
  ) {
    const value: RunnerHeartbeatValue = {
      host: hostname(),
      pid: process.pid,
      startedAt: new Date().toISOString(),
    };
    this.value = JSON.stringify(value);
  }

  start(): void {
    const beat = (): void => {
      for (const client of this.clients) {
        client.set(this.key, this.value, 'PX', TTL_MS).catch((error: unknown) =>
          this.logger.debug('Runner heartbeat not written', {
            error: error instanceof Error ? error.message : String(error),
          }),
        );
      }
    };
    beat();
    this.timer = setInterval(beat, TTL_MS / 3);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await Promise.allSettled(this.clients.map((client) => client.del(this.key)));
  }
}

/** Live runner heartbeats on one partition (SCAN, so a big keyspace is not blocked). */
export async function liveRunners(client: Redis): Promise<RunnerHeartbeatValue[]> {
  const found: RunnerHeartbeatValue[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${HEARTBEAT_PREFIX}*`, 'COUNT', 1000);
    cursor = next;
    const values = keys.length > 0 ? await client.mget(...keys) : [];
    for (const [i, value] of values.entries()) {
      try {
        found.push(JSON.parse(value ?? '') as RunnerHeartbeatValue);
      } catch {
        found.push({ host: keys[i]?.slice(HEARTBEAT_PREFIX.length) ?? '?', pid: 0, startedAt: '' });
      }
    }
  } while (cursor !== '0');
  return found;
}
