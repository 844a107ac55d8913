// jobchron against real redis-servers without MediaWiki: NOSCRIPT recovery after a real SCRIPT FLUSH
// mid-pass, fencing of a lost lease, the ready hash across partitions, per-call limits, and a
// partition going away and coming back while the other keeps being maintained.
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Chron } from '../../src/chron/chron.js';
import { LEASE_KEY, readyContributionKey } from '../../src/chron/keys.js';
import { startRedisServer, type RedisServerHandle } from '../../src/farm/redis-server.js';
import { newJobFields } from '../../src/mediawiki/new-job.js';
import { PhpArray } from '../../src/mediawiki/php-serialize.js';
import {
  QUEUES_WITH_JOBS_KEY,
  READY_QUEUES_HASH_KEY,
  makeQueueId,
  queueKeys,
  readyHashField,
} from '../../src/mediawiki/queue-keys.js';
import { RedisQueueStore } from '../../src/redis/queue-store.js';
import { captureLogger, type LogLine } from '../support/log-capture.js';
import { ConfigDir, FakeClock, countLines, waitFor } from './chron-support.js';

let a: RedisServerHandle;
let b: RedisServerHandle;
let ca: Redis;
let cb: Redis;
let configs: ConfigDir;
const running: Chron[] = [];

beforeAll(async () => {
  [a, b] = await Promise.all([startRedisServer(), startRedisServer()]);
  ca = new Redis({ host: a.host, port: a.port });
  cb = new Redis({ host: b.host, port: b.port });
  configs = new ConfigDir();
});

afterAll(async () => {
  ca?.disconnect();
  cb?.disconnect();
  await Promise.all([a?.stop(), b?.stop()]);
  configs?.cleanup();
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((c) => c.stop()));
  await Promise.all([ca.flushall(), cb.flushall()]);
});

function chronFor(
  config: ReturnType<ConfigDir['load']>,
  clock = new FakeClock(),
  level: 'info' | 'debug' = 'info',
) {
  const { logger, lines } = captureLogger('jobchron', level);
  const chron = new Chron(config, { logger, now: clock.now, random: () => 0 });
  running.push(chron);
  return { chron, lines, clock };
}

/** `perQueue` delayed null jobs released at `releaseAt` in each of `queues` queues (MediaWiki layout). */
async function pushDelayed(
  client: Redis,
  queues: number,
  perQueue: number,
  releaseAt: number,
): Promise<void> {
  const store = new RedisQueueStore(client);
  const params = PhpArray.fromRecord({ jobReleaseTimestamp: releaseAt });
  for (let start = 0; start < queues; start += 200) {
    const pushes: Promise<unknown>[] = [];
    for (let i = start; i < Math.min(queues, start + 200); i++) {
      const jobs = Array.from({ length: perQueue }, () => newJobFields({ type: 'null', params }));
      pushes.push(store.pushJobs('null', `wiki${i}`, jobs));
    }
    await Promise.all(pushes);
  }
}

describe('jobchron on real Redis', () => {
  it('recovers from a SCRIPT FLUSH in the middle of a pass (NOSCRIPT inside pipelines)', async () => {
    const config = configs.load({ queues: [a.address], chron: { batchSize: 25 } });
    const { chron, clock } = chronFor(config);
    const queues = 800;
    await chron.runPass(); // scripts loaded, lease taken
    const admin = new Redis({ host: a.host, port: a.port });
    const noscriptErrors = async () =>
      Number(/errorstat_NOSCRIPT:count=(\d+)/.exec(await admin.info('errorstats'))?.[1] ?? 0);
    try {
      // One flush between passes: ioredis's own fallback recovers the pipelined EVALSHAs.
      await admin.script('FLUSH');
      await pushDelayed(ca, 3, 1, clock.seconds - 1);
      const afterFlush = await chron.runPass();
      expect(afterFlush.ok).toBe(true);
      expect(afterFlush.counts.undelayed).toBe(3);
      expect(await noscriptErrors()).toBeGreaterThan(0);
      // Clear the queues but not the chron's lease: a lease that vanishes is only noticed when it is
      // next renewed or written under, and this test is about NOSCRIPT, not about that.
      const queueKeysLeft = (await ca.keys('*')).filter((key) => !key.startsWith('jobrunner:chron:'));
      if (queueKeysLeft.length > 0) await ca.del(...queueKeysLeft);
      await chron.runPass();

      let noscript = 0;
      for (let round = 1; noscript === 0; round++) {
        expect(round).toBeLessThanOrEqual(5);
        const before = await noscriptErrors();
        await pushDelayed(ca, queues, 1, clock.seconds + 10);
        clock.advanceSeconds(11);
        // Flush the script cache every few milliseconds from another connection while the pass runs.
        let flushing = true;
        const flusher = (async () => {
          while (flushing) {
            await admin.script('FLUSH');
            await new Promise((resolve) => setTimeout(resolve, 3));
          }
        })();
        const pass = await chron.runPass().finally(() => {
          flushing = false;
        });
        await flusher;
        expect(pass.ok).toBe(true);
        expect(pass.counts.undelayed).toBe(queues);
        for (let i = 0; i < queues; i += 97) {
          const k = queueKeys('null', `wiki${i}`);
          expect(await ca.zcard(k['z-delayed'])).toBe(0);
          expect(await ca.llen(k['l-unclaimed'])).toBe(round);
        }
        noscript = (await noscriptErrors()) - before;
      }
      expect(noscript).toBeGreaterThan(0);
    } finally {
      admin.disconnect();
    }
  });

  it('writes nothing once its lease has been taken over (fencing)', async () => {
    const config = configs.load({ queues: [a.address], chron: { leaseTtlMs: 1000 } });
    const clock = new FakeClock();
    const first = chronFor(config, clock);
    const second = chronFor(config, clock);
    const mine = await first.chron.runPass();
    const fenceA = Number(mine.processed[0]?.fence);
    expect(fenceA).toBeGreaterThan(0);

    // The first instance "pauses" (no renewals); its lease expires and the second one takes over.
    await pushDelayed(ca, 1, 1, clock.seconds - 1);
    const takeover = await waitFor('the second instance to take over', async () => {
      const pass = await second.chron.runPass();
      return pass.processed.length > 0 ? pass : null;
    });
    const fenceB = Number(takeover.processed[0]?.fence);
    expect(fenceB).toBeGreaterThan(fenceA);
    expect(takeover.counts.undelayed).toBe(1);

    // The paused instance wakes up: its pass is refused and changes nothing.
    await pushDelayed(ca, 1, 1, clock.seconds - 1);
    const stale = await first.chron.runPass();
    expect(stale.leaseLost).toEqual([a.address]);
    expect(stale.counts.undelayed).toBe(0);
    expect(await ca.zcard(queueKeys('null', 'wiki0')['z-delayed'])).toBe(1);
    expect(countLines(first.lines, 'Partition lease lost (expired, or taken over by another jobchron)')).toBe(
      1,
    );
    expect(first.chron.getStats().partitions[0]?.leaseHeld).toBe(false);
    expect(first.chron.getStats().partitions[0]?.heldBy).toBeNull();

    // The second one stops (releasing its lease); the first takes the partition back with a higher fence.
    await second.chron.stop();
    expect(await ca.get(LEASE_KEY)).toBeNull();
    const back = await first.chron.runPass();
    expect(back.counts.undelayed).toBe(1);
    expect(Number(back.processed[0]?.fence)).toBeGreaterThan(fenceB);

    // The ready hash is fenced as well: a contribution written by a newer holder is never overwritten.
    await ca.hset(readyContributionKey(a.address), '_fence', String(Number(back.processed[0]?.fence) + 5));
    const fenced = await first.chron.runPass();
    expect(fenced.leaseLost).toEqual([a.address]);
  });

  it('keeps a ready-hash field while any partition still has the queue ready', async () => {
    const config = configs.load({ queues: [a.address, b.address], aggregators: [a.address] });
    const { chron, clock } = chronFor(config);
    const field = readyHashField('null', 'wiki0');
    await pushDelayed(ca, 1, 1, clock.seconds - 1);
    await pushDelayed(cb, 1, 1, clock.seconds - 1);
    await chron.runPass();
    expect(await ca.hget(READY_QUEUES_HASH_KEY, field)).toBe(String(clock.seconds));

    // Partition A drains (as if MediaWiki ran its job); B still has one: the field stays.
    const ka = queueKeys('null', 'wiki0');
    const [id] = await ca.lrange(ka['l-unclaimed'], 0, -1);
    await ca
      .multi()
      .del(ka['l-unclaimed'])
      .hdel(ka['h-data'], id ?? '')
      .exec();
    await chron.runPass();
    expect(await ca.hexists(READY_QUEUES_HASH_KEY, field)).toBe(1);
    expect(await ca.hexists(readyContributionKey(a.address), field)).toBe(0);
    expect(await ca.hexists(readyContributionKey(b.address), field)).toBe(1);

    // B's queue is deleted the way MediaWiki's doDelete does it: gone from the set, then swept.
    await cb.del(...Object.values(queueKeys('null', 'wiki0')));
    await cb.srem(QUEUES_WITH_JOBS_KEY, makeQueueId('null', 'wiki0'));
    await chron.runPass();
    expect(await ca.hexists(READY_QUEUES_HASH_KEY, field)).toBe(0);
    expect(await ca.hexists(READY_QUEUES_HASH_KEY, '_epoch')).toBe(1);

    // Entries nobody refreshes (e.g. left by the original chron) go after a few passes' worth of time.
    await ca.hset(READY_QUEUES_HASH_KEY, 'refreshLinks/oldwiki', String(clock.seconds));
    await chron.runPass();
    expect(await ca.hexists(READY_QUEUES_HASH_KEY, 'refreshLinks/oldwiki')).toBe(1);
    clock.advanceSeconds(61);
    await chron.runPass();
    expect(await ca.hexists(READY_QUEUES_HASH_KEY, 'refreshLinks/oldwiki')).toBe(0);
  });

  it('reports a damaged queue once and still maintains the others', async () => {
    const config = configs.load({ queues: [a.address] });
    const { chron, clock, lines } = chronFor(config);
    await pushDelayed(ca, 3, 1, clock.seconds - 1);
    const damaged = queueKeys('null', 'wiki1');
    await ca.del(damaged['z-delayed']);
    await ca.set(damaged['z-delayed'], 'not a sorted set'); // WRONGTYPE for the upkeep step
    for (let pass = 1; pass <= 2; pass++) {
      const summary = await chron.runPass();
      expect(summary.ok).toBe(false);
      expect(summary.processed[0]?.failedQueues).toBe(1);
      expect(summary.counts.undelayed).toBe(pass === 1 ? 2 : 0);
    }
    const logged = lines.filter((l) => l.msg === 'Upkeep step failed for a queue; left as it is');
    expect(logged).toHaveLength(1);
    expect(logged[0]?.member).toBe(makeQueueId('null', 'wiki1'));
    expect(String(logged[0]?.error)).toContain('WRONGTYPE');
    expect(await ca.hlen(damaged['h-data'])).toBe(1);
    expect(chron.getStats()).toMatchObject({ failedPasses: 2 });
  });

  it('bounds each call by perCategoryLimit and gives a backlog extra calls in the same pass', async () => {
    const config = configs.load({ queues: [a.address], chron: { perCategoryLimit: 40 } });
    const { chron, clock } = chronFor(config);
    await pushDelayed(ca, 1, 500, clock.seconds - 1);
    // 1 call + 9 extra rounds of 40 each.
    expect((await chron.runPass()).counts.undelayed).toBe(400);
    expect((await chron.runPass()).counts.undelayed).toBe(100);
    expect(await ca.llen(queueKeys('null', 'wiki0')['l-unclaimed'])).toBe(500);
  });

  it('backs off from an unreachable partition, logs once per outage, keeps the other going, recovers', async () => {
    const flaky = await startRedisServer();
    const cf = new Redis({ host: flaky.host, port: flaky.port });
    cf.on('error', () => undefined); // this test client sees the outages too
    try {
      const config = configs.load({
        queues: [a.address, flaky.address],
        aggregators: [a.address],
        chron: { intervalMs: 50 },
      });
      const { chron, lines } = chronFor(config, new FakeClock(), 'info');
      await chron.start();
      const partition = (name: string) => chron.getStats().partitions.find((p) => p.name === name);
      await waitFor(
        'both partitions maintained',
        () => partition(flaky.address)?.passes && partition(a.address)?.passes,
      );

      for (let outage = 1; outage <= 2; outage++) {
        await flaky.kill9();
        await waitFor('the outage to be noticed', () => partition(flaky.address)?.lastError);
        const before = chron.getStats();
        const healthyBefore = partition(a.address)?.passes ?? 0;
        await waitFor(
          '30 more passes during the outage',
          () => chron.getStats().passes >= before.passes + 30,
        );
        const during = chron.getStats();
        // Back-off: far fewer attempts on the dead partition than passes.
        expect(during.failedPasses - before.failedPasses).toBeLessThan(15);
        expect(partition(a.address)?.passes ?? 0).toBeGreaterThan(healthyBefore + 20);
        // One error line per outage (from the partition's connection), not one per pass.
        const aboutFlaky = (l: LogLine) => l.partition === flaky.address || l.redis === flaky.address;
        expect(lines.filter((l) => l.level === 'error' && aboutFlaky(l))).toHaveLength(outage);
        expect(
          countLines(lines, 'Redis server unreachable; retrying with back-off', { redis: flaky.address }),
        ).toBe(outage);

        await flaky.restart();
        await waitFor(
          'recovery',
          () => partition(flaky.address)?.lastError === null && partition(flaky.address)?.leaseHeld,
        );
        const passes = partition(flaky.address)?.passes ?? 0;
        await waitFor(
          'passes on the recovered partition',
          () => (partition(flaky.address)?.passes ?? 0) > passes,
        );
        expect(countLines(lines, 'Redis server reachable again', { redis: flaky.address })).toBe(outage);
        expect(lines.filter((l) => l.level === 'error' && aboutFlaky(l))).toHaveLength(outage);
      }
      expect(await cf.get(LEASE_KEY)).toContain(chron.instanceId);
    } finally {
      cf.disconnect();
      await flaky.stop();
    }
  });
});
