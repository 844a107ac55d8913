// Start-up check of the Redis password: one connection to each configured server. A wrong or
// missing password is a configuration error (the daemon refuses to start: retrying cannot fix it),
// while a server that does not answer is an outage the daemons ride out, so it is not reported here.
import { Redis } from 'ioredis';
import type { RedisConfig, RedisServerAddress } from '../config/types.js';
import { isAuthError } from './connection.js';

export interface AuthFailure {
  readonly address: string;
  readonly reply: string;
}

async function probe(
  address: RedisServerAddress,
  redisConfig: Pick<RedisConfig, 'password' | 'connectTimeoutMs'>,
): Promise<AuthFailure | null> {
  const client = new Redis({
    host: address.host,
    port: address.port,
    ...(redisConfig.password ? { password: redisConfig.password } : {}),
    connectTimeout: redisConfig.connectTimeoutMs,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  // connect() rejects with "Connection is closed."; the server's reply comes as an 'error' event.
  let reply: string | null = null;
  client.on('error', (error: Error) => {
    if (isAuthError(error)) reply ??= error.message;
  });
  try {
    await client.connect();
  } catch {
    // unreachable or refused; `reply` tells which
  } finally {
    client.disconnect();
  }
  return reply === null ? null : { address: address.raw, reply };
}

/** Servers that refused the configured password (deduplicated by address). */
export async function findAuthFailures(
  addresses: readonly RedisServerAddress[],
  redisConfig: Pick<RedisConfig, 'password' | 'connectTimeoutMs'>,
): Promise<AuthFailure[]> {
  const unique = [...new Map(addresses.map((a) => [a.raw, a])).values()];
  const results = await Promise.all(unique.map((a) => probe(a, redisConfig)));
  return results.filter((r): r is AuthFailure => r !== null);
}

/** The start-up message: what failed, where, and which setting to check. */
export function formatAuthFailures(daemon: string, failures: readonly AuthFailure[]): string {
  const lines = failures.map((f) => `  ${f.address}: ${f.reply}`);
  return `${daemon}: Redis authentication failed (check redis.password):\n${lines.join('\n')}\n`;
}
