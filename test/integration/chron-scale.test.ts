// jobchron at farm scale, on a real redis-server: the maintenance step never unpacks an unbounded
// list (the duplicate-run bug of 8,000 stale claims), perCategoryLimit has a maximum, and the
// daemon's rounds visit what changed or fell due plus a paced slice of the walk — with the walk
// covering, within one walk, whatever change notifications missed.
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Chron } from '../../src/chron/chron.js';
import { LEASE_KEY, QUARANTINE_KEY, QUEUES_WITH_ABANDONED_KEY } from '../../src/chron/keys.js';
import { registerChronScripts, runScript } from '../../src/chron/lua.js';
import type { PartitionPassReport } from '../../src/chron/partition-worker.js';
import { MIN_WALK_PER_ROUND } from '../../src/chron/walk.js';
import { startRedisServer, type RedisServerHandle } from '../../src/farm/redis-server.js';
import { newJobFields } from '../../src/mediawiki/new-job.js';
import { PhpArray } from '../../src/mediawiki/php-serialize.js';
import {
  QUEUES_WITH_JOBS_KEY,
  makeQueueId,
  queueKeyPrefix,
  queueKeys,
} from '../../src/mediawiki/queue-keys.js';
import { RedisQueueStore } from '../../src/redis/queue-store.js';
import { captureLogger } from '../support/log-capture.js';
import { ConfigDir, FakeClock, waitFor } from './chron-support.js';

let server: RedisServerHandle;
let client: Redis;
let configs: ConfigDir;

beforeAll(async () => {
  server = await startRedisServer();
  client = new Redis({ host: server.host, port: server.port });
  registerChronScripts(client);
  configs = new ConfigDir();
});

afterAll(async () => {
  client?.disconnect();
  await server?.stop();
  configs?.cleanup();
});

const running: Chron[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((c) => c.stop()));
  await client.flushall();
  await client.config('SET', 'notify-keyspace-events', '');
});

/** `count` queues null@wikiN holding one ready job each (nothing for the chron to do). */
async function idleQueues(count: number): Promise<void> {
  const store = new RedisQueueStore(client);
  for (let start = 0; start < count; start += 250) {
    await Promise.all(
      Array.from({ length: Math.min(250, count - start) }, (_, i) =>
        store.pushJobs('null', `wiki${start + i}`, [newJobFields({ type: 'null', params: new PhpArray() })]),
      ),
    );
  }
}

async function pushDelayed(wiki: string, releaseAt: number): Promise<void> {
  const params = PhpArray.fromRecord({ jobReleaseTimestamp: releaseAt });
  await new RedisQueueStore(client).pushJobs('null', wiki, [newJobFields({ type: 'null', params })]);
}

/** A daemon-mode chron (paced rounds) on the test server; its rounds are collected. */
async function pacedChron(chron: Record<string, unknown>, clock = new FakeClock()) {
  const config = configs.load({ queues: [server.address], chron: { intervalMs: 50, ...chron } });
  const rounds: PartitionPassReport[] = [];
  const instance = new Chron(config, {
    logger: captureLogger('jobchron', 'info').logger,
    now: clock.now,
    random: () => 0,
    onPartitionPass: (r) => rounds.push(r),
  });
  running.push(instance);
  await instance.start();
  await waitFor('the lease and the change watch', () => {
    const p = instance.getStats().partitions[0];
    return p?.leaseHeld === true && (chron.watchChanges === false || p.watchingChanges);
  });
  return { chron: instance, rounds, clock };
}

const LEASE = '1 test-instance';

/** One maintenance call for one queue exactly as the chron sends it, with an explicit limit. */
function maintain(type: string, domain: string, nowSeconds: number, limit: number): Promise<unknown> {
  return runScript(
    client,
    'chron-maintain-queue',
    [QUEUES_WITH_JOBS_KEY, QUEUES_WITH_ABANDONED_KEY, LEASE_KEY],
    [
      LEASE,
      nowSeconds,
      nowSeconds - 604_800,
      limit,
      queueKeyPrefix(type, domain),
      nowSeconds - 3600,
      3,
      makeQueueId(type, domain),
      'full',
    ],
  );
}

describe('chron-maintain-queue at scale', () => {
  it('recycles 8,000 stale claims exactly once each (no failure halfway, no duplicates)', async () => {
    const k = queueKeys('null', 'wiki1');
    const ids = Array.from({ length: 8000 }, (_, i) => i.toString(16).padStart(32, '0'));
    await client.set(LEASE_KEY, LEASE);
    for (let i = 0; i < ids.length; i += 1000) {
      const chunk = ids.slice(i, i + 1000);
      await client.zadd(k['z-claimed'], ...chunk.flatMap((id) => [1, id]));
      await client.hset(k['h-data'], Object.fromEntries(chunk.map((id) => [id, 'a:0:{}'])));
      await client.hset(k['h-attempts'], Object.fromEntries(chunk.map((id) => [id, '1'])));
    }
    await client.sadd(QUEUES_WITH_JOBS_KEY, makeQueueId('null', 'wiki1'));
    const now = Math.floor(Date.now() / 1000);

    // The issue's repro: three calls with limit 8,000. Before the fix each failed with "too many
    // results to unpack" after the RPUSHes, so l-unclaimed grew 8,000 → 16,000 → 24,000.
    const first = (await maintain('null', 'wiki1', now, 8000)) as number[];
    expect(first.slice(0, 6)).toEqual([8000, 0, 0, 0, 8000, 0]);
    for (let i = 0; i < 2; i++) {
      expect(((await maintain('null', 'wiki1', now, 8000)) as number[]).slice(0, 6)).toEqual([
        0, 0, 0, 0, 8000, 0,
      ]);
    }
    expect(await client.llen(k['l-unclaimed'])).toBe(8000);
    expect(await client.zcard(k['z-claimed'])).toBe(0);
    expect(new Set(await client.lrange(k['l-unclaimed'], 0, -1)).size).toBe(8000);
  });

  it('undelays and prunes more than 8,000 jobs in one call without unpack', async () => {
    const k = queueKeys('null', 'wiki2');
    const now = Math.floor(Date.now() / 1000);
    await client.set(LEASE_KEY, LEASE);
    const delayed = Array.from({ length: 9000 }, (_, i) => `d${i.toString(16).padStart(31, '0')}`);
    const old = Array.from({ length: 9000 }, (_, i) => `a${i.toString(16).padStart(31, '0')}`);
    for (let i = 0; i < 9000; i += 1000) {
      await client.zadd(k['z-delayed'], ...delayed.slice(i, i + 1000).flatMap((id) => [now - 10, id]));
      await client.zadd(k['z-abandoned'], ...old.slice(i, i + 1000).flatMap((id) => [1, id]));
      const blobs = [...delayed.slice(i, i + 1000), ...old.slice(i, i + 1000)].map((id) => [id, 'a:0:{}']);
      await client.hset(k['h-data'], Object.fromEntries(blobs));
    }
    const reply = (await maintain('null', 'wiki2', now, 9000)) as number[];
    expect(reply.slice(0, 6)).toEqual([0, 0, 9000, 9000, 9000, 0]);
    expect(reply[6]).toBe(-1);
    expect(await client.zcard(k['z-delayed'])).toBe(0);
    expect(await client.zcard(k['z-abandoned'])).toBe(0);
    expect(await client.hlen(k['h-data'])).toBe(9000);
  });

  it('reports when the queue next falls due', async () => {
    const k = queueKeys('null', 'wiki3');
    const now = Math.floor(Date.now() / 1000);
    await client.set(LEASE_KEY, LEASE);
    await client.hset(k['h-data'], 'c1', 'a:0:{}', 'd1', 'a:0:{}');
    await client.zadd(k['z-claimed'], now - 100, 'c1'); // stale at now - 100 + 3600
    await client.zadd(k['z-delayed'], now + 50, 'd1');
    const reply = (await maintain('null', 'wiki3', now, 500)) as number[];
    expect(reply).toEqual([0, 0, 0, 0, 0, 0, now + 50]);
    await client.zrem(k['z-delayed'], 'd1');
    expect(((await maintain('null', 'wiki3', now, 500)) as number[])[6]).toBe(now - 100 + 3600);
  });

  it('refuses a perCategoryLimit above the schema maximum, naming the key', () => {
    expect(() => configs.load({ queues: [server.address], chron: { perCategoryLimit: 8000 } })).toThrow(
      /perCategoryLimit/,
    );
  });
});

describe('jobchron rounds at scale (daemon mode)', () => {
  it("visits only what changed or fell due, plus the walk's slice", async () => {
    await idleQueues(2000);
    const { chron, rounds, clock } = await pacedChron({ fullWalkSeconds: 3600 });
    // A queue that no set lists: only a change notification can lead the chron to it.
    await pushDelayed('hidden', clock.seconds + 100);
    await client.srem(QUEUES_WITH_JOBS_KEY, makeQueueId('null', 'hidden'));
    const k = queueKeys('null', 'hidden');
    await waitFor('the change noticed and its due time indexed', () => {
      const p = chron.getStats().partitions[0];
      return p !== undefined && p.dueQueues >= 1;
    });
    expect(await client.llen(k['l-unclaimed'])).toBe(0);
    clock.advanceSeconds(100);
    await waitFor(
      'the delayed job released at its time',
      async () => (await client.llen(k['l-unclaimed'])) === 1,
    );
    // 2,000 idle queues, a walk of an hour: each round visits its slice (SSCAN's COUNT is a hint,
    // so up to about twice the quota) and the due queue, never the whole partition.
    expect(rounds.length).toBeGreaterThan(0);
    expect(Math.max(...rounds.map((r) => r.queues))).toBeLessThanOrEqual(2 * MIN_WALK_PER_ROUND + 1);
  });

  it("recycles a stale claim at its due time, learnt from the claim's notification", async () => {
    await idleQueues(500);
    const { chron, clock } = await pacedChron({ fullWalkSeconds: 3600 });
    const k = queueKeys('null', 'claimed');
    const id = 'c'.repeat(32);
    await client.hset(k['h-data'], id, 'a:0:{}');
    await client.hset(k['h-attempts'], id, '1');
    await client.zadd(k['z-claimed'], clock.seconds, id);
    await waitFor('the claim indexed', () => (chron.getStats().partitions[0]?.dueQueues ?? 0) >= 1);
    clock.advanceSeconds(3600);
    await waitFor('the stale claim recycled', async () => (await client.llen(k['l-unclaimed'])) === 1);
    expect(await client.zcard(k['z-claimed'])).toBe(0);
  });

  it('covers notifications lost to flags turned off within one walk', async () => {
    await idleQueues(400);
    const { chron, clock } = await pacedChron({ fullWalkSeconds: 1 });
    await client.config('SET', 'notify-keyspace-events', '');
    const walkAtPush = chron.getStats().partitions[0]?.walk.cycle ?? 0;
    await pushDelayed('wiki7', clock.seconds - 1);
    const k = queueKeys('null', 'wiki7');
    await waitFor('the walk releasing the job', async () => (await client.llen(k['l-unclaimed'])) === 2);
    // Seen by the walk in progress or the next one, never later.
    expect(chron.getStats().partitions[0]?.walk.cycle ?? 0).toBeLessThanOrEqual(walkAtPush + 2);
  });

  it('covers changes made while no chron ran (restart) within one walk', async () => {
    await idleQueues(400);
    const first = await pacedChron({ fullWalkSeconds: 1 });
    await first.chron.stop();
    await pushDelayed('wiki9', first.clock.seconds - 1);
    const k = queueKeys('null', 'wiki9');
    const second = await pacedChron({ fullWalkSeconds: 1 }, first.clock);
    await waitFor(
      "the new chron's walk releasing the job",
      async () => (await client.llen(k['l-unclaimed'])) === 2,
    );
    expect(second.chron.getStats().partitions[0]?.walk.cycle ?? 0).toBeLessThanOrEqual(3);
  });
});

describe('malformed members of s-queuesWithJobs', () => {
  it("moves the issue's examples to the quarantine set in daemon rounds, never deleting them", async () => {
    const bad = ['garbage', '[]', '["","wiki1"]'];
    await client.sadd(QUEUES_WITH_JOBS_KEY, ...bad);
    await pushDelayed('wikiq', Math.floor(Date.now() / 1000) - 1);
    const { chron } = await pacedChron({ fullWalkSeconds: 1 });
    await waitFor('quarantined', () => chron.getStats().partitions[0]?.quarantined === 3);
    expect((await client.smembers(QUARANTINE_KEY)).sort()).toEqual([...bad].sort());
    expect(await client.smembers(QUEUES_WITH_JOBS_KEY)).toEqual([makeQueueId('null', 'wikiq')]);
    // The good queue was maintained as usual.
    await waitFor(
      'the good queue maintained',
      async () => (await client.llen(queueKeys('null', 'wikiq')['l-unclaimed'])) === 1,
    );
  });
});
