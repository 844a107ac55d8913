// RedisBackend right after start: a partition whose first connection is still being made is
// reported as `connecting` (no command sent, nothing logged) instead of failing with ioredis'
// "Stream isn't writeable and enableOfflineQueue options is false"; a partition that never
// answers is reported (and logged once) as an outage after the connect timeout, not waited for
// forever. Real redis-server; a silent TCP listener stands in for a hung server.
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONNECTING_ERROR, RedisBackend } from '../../src/backend/redis-backend.js';
import type { PartitionError } from '../../src/backend/types.js';
import { parseConfigText } from '../../src/config/load.js';
import type { JobrunnerConfig } from '../../src/config/types.js';
import { startRedisServer, type RedisServerHandle } from '../../src/farm/redis-server.js';
import { captureLogger } from '../support/log-capture.js';

let redis: RedisServerHandle;
let silent: Server;
let silentPort: number;
const sockets: Socket[] = [];

beforeAll(async () => {
  redis = await startRedisServer();
  // Accepts connections and never answers: ioredis connects but its ready check hangs.
  silent = createServer((socket) => sockets.push(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  silentPort = (silent.address() as { port: number }).port;
});

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((resolve) => silent?.close(() => resolve()));
  await redis?.stop();
});

function config(queues: string[], connectTimeoutMs = 1000, commandTimeoutMs = 2000): JobrunnerConfig {
  return parseConfigText(
    JSON.stringify({
      groups: { basic: { runners: 1, include: ['*'] } },
      redis: { aggregators: [queues[0]], queues, connectTimeoutMs, commandTimeoutMs },
      dispatcher: 'true',
    }),
    'startup-test.conf',
  );
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('RedisBackend start-up', () => {
  it('reports a partition still connecting as `connecting`, logs nothing, then reads it', async () => {
    const { lines: logs, logger } = captureLogger('jobrunner');
    const backend = new RedisBackend(config([redis.address]), logger);
    try {
      // Asked at once, as the runner's first discovery poll does: the connection is not up yet.
      const first = await backend.listReadyQueues();
      expect(first.errors).toEqual([{ partition: redis.address, error: CONNECTING_ERROR, connecting: true }]);
      const counts = await backend.queueCounts();
      expect(counts.errors.map((e) => e.connecting)).toEqual([true]);
      await until('the partition to be readable', async () => {
        const listing = await backend.listReadyQueues();
        return listing.errors.length === 0;
      });
      expect(logs.filter((l) => l.level === 'warn' || l.level === 'error')).toEqual([]);
      expect(JSON.stringify(logs)).not.toContain('enableOfflineQueue');
    } finally {
      await backend.close();
    }
  });

  it('after an outage begins, errors are real errors again, logged once per outage', async () => {
    const { lines: logs, logger } = captureLogger('jobrunner');
    const flaky = await startRedisServer();
    const backend = new RedisBackend(config([flaky.address]), logger);
    try {
      await until('readable', async () => (await backend.listReadyQueues()).errors.length === 0);
      await flaky.kill9();
      let failed: PartitionError[] = [];
      await until('a failed listing', async () => {
        failed = (await backend.listReadyQueues()).errors;
        return failed.length > 0;
      });
      // A reconnect after an outage is not a first connection: no `connecting` flag.
      expect(failed).toEqual([{ partition: flaky.address, error: expect.any(String) }]);
      for (let i = 0; i < 5; i++) await backend.listReadyQueues();
      await flaky.restart();
      await until('readable again', async () => (await backend.listReadyQueues()).errors.length === 0);
      const lines = logs.filter((l) => l.msg === 'queue partition could not be read; reporting the others');
      expect(lines).toHaveLength(1);
      expect(logs.filter((l) => l.msg === 'queue partition readable again')).toHaveLength(1);
    } finally {
      await backend.close();
      await flaky.stop();
    }
  });

  it('does not wait forever: a server that never answers becomes an outage after the connect timeout', async () => {
    const { lines: logs, logger } = captureLogger('jobrunner');
    const hung = `127.0.0.1:${silentPort}`;
    const backend = new RedisBackend(config([redis.address, hung], 300, 500), logger);
    try {
      const first = await backend.listReadyQueues();
      expect(first.errors.find((e) => e.partition === hung)).toMatchObject({ connecting: true });
      await until('the hung partition to be reported as an outage', async () => {
        const listing = await backend.listReadyQueues();
        const error = listing.errors.find((e) => e.partition === hung);
        return error !== undefined && error.connecting !== true;
      });
      // The live partition is read all along once connected; the hung one is logged once.
      const listing = await backend.listReadyQueues();
      expect(listing.errors.map((e) => e.partition)).toEqual([hung]);
      await backend.listReadyQueues();
      const warned = logs.filter((l) => l.msg === 'queue partition could not be read; reporting the others');
      expect(warned.map((l) => l.partition)).toEqual([hung]);
    } finally {
      await backend.close();
    }
  });
});
