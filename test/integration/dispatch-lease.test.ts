// The quiet-queue dispatch lease (src/redis/dispatch-lease.ts) on a real redis-server: one runner
// holds it, others are refused until it expires, the holder may take it again.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer, type RedisServerHandle } from '../../src/farm/redis-server.js';
import { dispatchLeaseKey, takeDispatchLease } from '../../src/redis/dispatch-lease.js';
import { until } from '../support/until.js';

let server: RedisServerHandle;
let client: Redis;

beforeAll(async () => {
  server = await startRedisServer();
  client = new Redis({ host: server.host, port: server.port });
});

afterAll(async () => {
  client?.disconnect();
  await server?.stop();
});

describe('dispatch lease', () => {
  it('goes to one runner at a time; the holder renews it; others get it once it expired', async () => {
    expect(await takeDispatchLease(client, 'enwiki', 'echo', 'host-a:1', 60_000)).toBe(true);
    expect(await takeDispatchLease(client, 'enwiki', 'echo', 'host-b:2', 60_000)).toBe(false);
    expect(await takeDispatchLease(client, 'enwiki', 'echo', 'host-a:1', 60_000)).toBe(true);
    // Another queue of the same wiki is another lease.
    expect(await takeDispatchLease(client, 'enwiki', 'refreshLinks', 'host-b:2', 60_000)).toBe(true);
    expect(await client.get(dispatchLeaseKey('enwiki', 'echo'))).toBe('host-a:1');
    const ttl = await client.pttl(dispatchLeaseKey('enwiki', 'echo'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);

    expect(await takeDispatchLease(client, 'dewiki', 'echo', 'host-a:1', 30)).toBe(true);
    await until(
      async () => (await client.exists(dispatchLeaseKey('dewiki', 'echo'))) === 0,
      'the 30 ms lease to expire',
      10_000,
    );
    expect(await takeDispatchLease(client, 'dewiki', 'echo', 'host-b:2', 60_000)).toBe(true);
  });

  it('keeps pushed wiki IDs and types apart: separators in names cannot make two queues share a lease', async () => {
    expect(await takeDispatchLease(client, 'a:b', 'c', 'host-a:1', 60_000)).toBe(true);
    expect(await takeDispatchLease(client, 'a', 'b:c', 'host-b:2', 60_000)).toBe(true);
    expect(await takeDispatchLease(client, 'x","y', 'z', 'host-b:2', 60_000)).toBe(true);
    expect(await takeDispatchLease(client, 'x', 'y","z', 'host-a:1', 60_000)).toBe(true);
    expect(dispatchLeaseKey('a:b', 'c')).not.toBe(dispatchLeaseKey('a', 'b:c'));
  });
});
