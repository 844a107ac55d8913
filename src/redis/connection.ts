// ioredis connections to queue partitions and aggregators. One place decides timeouts, auth and
// reconnect back-off so every daemon behaves the same during a Redis outage: bounded retries with
// exponential back-off, one log line when a server goes down and one when it comes back.
import { Redis } from 'ioredis';
import type { RedisConfig, RedisServerAddress } from '../config/types.js';
import type { Logger } from '../observability/logger.js';

export interface ConnectOptions {
  readonly logger: Logger;
  /** Name shown in logs and metrics, e.g. "queue" or "aggregator". */
  readonly role: string;
  /** Max reconnect delay (ms). */
  readonly maxBackoffMs?: number;
}

/** Replies meaning the password is wrong or missing (Redis 6+ and older wordings). */
const AUTH_REPLY = /^(WRONGPASS|NOAUTH)\b|^ERR invalid password|^ERR AUTH .* without any password configured/;

export function isAuthError(error: unknown): boolean {
  return error instanceof Error && AUTH_REPLY.test(error.message);
}

/** The auth reply of a client's last failed connection attempt, while it is not connected. */
const authFailures = new WeakMap<Redis, string>();

/**
 * Why commands on this client fail, in operator words, when the reason is authentication (the
 * command error itself is ioredis' "Stream isn't writeable ..."); null otherwise.
 */
export function authFailureOf(client: Redis): string | null {
  const reply = authFailures.get(client);
  return reply === undefined ? null : `Redis authentication failed (check redis.password): ${reply}`;
}

/**
 * A command error in operator words: the authentication failure behind it, or "not connected"
 * instead of ioredis' "Stream isn't writeable and enableOfflineQueue options is false".
 */
export function describeClientError(client: Redis | null, error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const auth = client ? authFailureOf(client) : null;
  if (auth !== null) return auth;
  if (client && client.status !== 'ready' && /enableOfflineQueue|Connection is closed/i.test(message)) {
    return `not connected to Redis (connection ${client.status})`;
  }
  return message;
}

export function connectRedis(
  address: RedisServerAddress,
  redisConfig: Pick<RedisConfig, 'password' | 'connectTimeoutMs' | 'commandTimeoutMs'>,
  options: ConnectOptions,
): Redis {
  const maxBackoff = options.maxBackoffMs ?? 5000;
  const log = options.logger.child({ redis: address.raw, role: options.role });
  const client = new Redis({
    host: address.host,
    port: address.port,
    ...(redisConfig.password ? { password: redisConfig.password } : {}),
    connectTimeout: redisConfig.connectTimeoutMs,
    commandTimeout: redisConfig.commandTimeoutMs,
    // Fail commands fast while disconnected instead of queueing them without bound; callers retry
    // on their own schedule (next discovery tick, next chron pass).
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    lazyConnect: false,
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 10), maxBackoff),
  });
  // One line per outage, naming the cause: a wrong password is not an unreachable server.
  let down: 'unreachable' | 'auth' | null = null;
  client.on('error', (error: Error) => {
    const cause = isAuthError(error) ? 'auth' : 'unreachable';
    if (cause === 'auth') authFailures.set(client, error.message);
    if (down === cause || (down === 'auth' && cause === 'unreachable')) return;
    down = cause;
    if (cause === 'auth') {
      log.error('Redis authentication failed; check redis.password (retrying with back-off)', {
        error: error.message,
      });
    } else {
      log.error('Redis server unreachable; retrying with back-off', { error: error.message });
    }
  });
  client.on('ready', () => {
    if (down)
      log.info(down === 'auth' ? 'Redis authentication succeeded again' : 'Redis server reachable again');
    down = null;
    authFailures.delete(client);
  });
  return client;
}

/** Waits until the client is ready or the timeout passes; resolves false on timeout. */
export function waitReady(client: Redis, timeoutMs: number): Promise<boolean> {
  if (client.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      client.off('ready', onReady);
      resolve(false);
    }, timeoutMs);
    const onReady = () => {
      clearTimeout(timer);
      resolve(true);
    };
    client.once('ready', onReady);
  });
}
