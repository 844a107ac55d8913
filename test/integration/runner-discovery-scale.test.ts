// The runner's discovery at farm scale, on real redis-servers: readiness comes from pushes, dispatch
// outcomes and a paced reconciliation; queues of types no group runs are never read; and pushes
// lost on purpose (notifications turned off, a restart, a partition coming back) are found by
// reconciliation within two of its fast walks.
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { RedisBackend, type PartitionClient } from '../../src/backend/redis-backend.js';
import type { PushWatch, ReadyPollAsk } from '../../src/backend/types.js';
import { startRedisServer, type RedisServerHandle } from '../../src/farm/redis-server.js';
import { newJobFields } from '../../src/mediawiki/new-job.js';
import { PhpArray } from '../../src/mediawiki/php-serialize.js';
import { RedisQueueStore } from '../../src/redis/queue-store.js';
import { captureLogger } from '../support/log-capture.js';
import { until } from '../support/until.js';

let a: RedisServerHandle;
let ca: Redis;
const open: { backend: RedisBackend; watch: PushWatch | null; clients: Redis[] }[] = [];

beforeAll(async () => {
  a = await startRedisServer();
  ca = new Redis({ host: a.host, port: a.port });
});

afterAll(async () => {
  ca?.disconnect();
  await a?.stop();
});

afterEach(async () => {
  for (const o of open.splice(0)) {
    await o.watch?.close();
    for (const c of o.clients) c.disconnect();
  }
  await ca.flushall();
  await ca.config('SET', 'notify-keyspace-events', '');
});

const FAST_MS = 300;

/** A backend over `servers`, optionally watching pushes; `pushes` counts the wake-ups. */
function backendFor(servers: RedisServerHandle[], watch: boolean) {
  const clients = servers.map((s) => {
    const client = new Redis({ host: s.host, port: s.port, maxRetriesPerRequest: 1 });
    client.on('error', () => undefined); // a partition taken down on purpose refuses connections
    return client;
  });
  const partitions: PartitionClient[] = servers.map((s, i) => ({
    address: s.address,
    client: clients[i] as Redis,
  }));
  const backend = new RedisBackend(partitions, captureLogger('jobrunner', 'info').logger, {
    fastReconcileMs: () => FAST_MS,
  });
  const pushes: string[] = [];
  const pushWatch = watch
    ? backend.watchPushes({ onPush: (_p, q) => pushes.push(q?.wiki ?? '?'), onResync: () => undefined })
    : null;
  pushWatch?.resume();
  open.push({ backend, watch: pushWatch, clients });
  return { backend, pushes, pushWatch };
}

function ask(runs: (type: string) => boolean, reconcileMs = 3_600_000): ReadyPollAsk {
  return { runs, held: () => false, reconcileMs, now: Date.now() };
}

async function push(client: Redis, type: string, wiki: string): Promise<void> {
  await new RedisQueueStore(client).pushJobs(type, wiki, [newJobFields({ type, params: new PhpArray() })]);
}

async function manyQueues(client: Redis, type: string, count: number): Promise<void> {
  for (let start = 0; start < count; start += 250) {
    await Promise.all(
      Array.from({ length: Math.min(250, count - start) }, (_, i) => push(client, type, `wiki${start + i}`)),
    );
  }
}

async function calls(client: Redis, command: string): Promise<number> {
  const m = new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(await client.info('commandstats'));
  return m ? Number(m[1]) : 0;
}

/** Polls until `wiki` is listed ready; returns how many polls that took. */
async function pollUntilListed(backend: RedisBackend, wiki: string, runs: (t: string) => boolean) {
  let polls = 0;
  await until(async () => {
    polls += 1;
    const listing = await backend.pollReady(ask(runs));
    return listing.queues.some((q) => q.wiki === wiki);
  }, `${wiki} listed ready`);
  return polls;
}

describe('runner discovery at scale', () => {
  it('never reads queues of types no group runs, however many', async () => {
    await manyQueues(ca, 'excluded', 2000);
    const { backend } = backendFor([a], false);
    const runsNone = (type: string) => type !== 'excluded';
    await ca.config('RESETSTAT');
    // Reconciliation at its fast pace walks the whole set several times meanwhile.
    const started = Date.now();
    await until(async () => {
      await backend.pollReady(ask(runsNone));
      return Date.now() - started > 3 * FAST_MS;
    }, 'three fast walks');
    expect(backend.trackerStats()[0]?.stats.reconcileCycles).toBeGreaterThanOrEqual(2);
    expect(await calls(ca, 'llen')).toBe(0);
    expect((await backend.pollReady(ask(runsNone))).queues).toEqual([]);
  });

  it('has Redis filter the set by type when the groups name a few types', async () => {
    const types = ['a*b', 'x[1]?', 'with/slash', 'ünïcode'];
    await manyQueues(ca, 'excluded', 1000);
    for (const type of types) await push(ca, type, `w-${type}`);
    await push(ca, 'later', 'w-later');
    const { backend } = backendFor([a], false);
    const client = open.at(-1)?.clients[0] as Redis;
    let sent = 0;
    const sscan = client.sscan.bind(client);
    vi.spyOn(client, 'sscan').mockImplementation(async (...args: Parameters<typeof client.sscan>) => {
      const reply = await sscan(...args);
      sent += reply[1].length;
      return reply;
    });
    const runs = (type: string) => types.includes(type);
    const filtered = (t: string[]): ReadyPollAsk => ({ ...ask(runs), types: t });
    await until(async () => {
      await backend.pollReady(filtered(types));
      return (backend.trackerStats()[0]?.stats.reconcileCycles ?? 0) >= 2;
    }, 'two filtered walks');
    const listing = await backend.pollReady(filtered(types));
    expect(listing.queues.map((q) => q.type).sort()).toEqual([...types].sort());
    // Redis sent only members of those types: none of the 1,000 others.
    expect(sent).toBeLessThanOrEqual(2 * types.length);
    // A reload that runs one more type starts a new walk and finds its queue.
    const more = [...types, 'later'];
    const runsMore = (type: string) => more.includes(type);
    await until(async () => {
      const l = await backend.pollReady({ ...ask(runsMore), types: more });
      return l.queues.some((q) => q.wiki === 'w-later');
    }, 'the newly run type found');
  });

  it('learns a push at once, and a drained queue from the dispatch outcome', async () => {
    await manyQueues(ca, 'null', 500);
    const { backend, pushes } = backendFor([a], true);
    const all = () => true;
    // Two fast walks after subscribing (pushes may have been missed before it): then the slow pace.
    await until(async () => {
      await backend.pollReady(ask(all));
      return (backend.trackerStats()[0]?.stats.reconcileCycles ?? 0) >= 2;
    }, 'the start-up walks');
    expect((await backend.pollReady(ask(all))).queues).toHaveLength(500);
    await push(ca, 'null', 'fresh');
    await until(() => pushes.includes('fresh'), 'the push notification');
    const listing = await backend.pollReady(ask(all));
    expect(listing.queues.find((q) => q.wiki === 'fresh')).toMatchObject({ type: 'null', ready: 1 });
    expect(backend.readinessStats()).toEqual([
      expect.objectContaining({ partition: a.address, known: 501, malformed: 0 }),
    ]);
    backend.noteDispatchEnd({ type: 'null', domain: 'fresh', wiki: 'fresh' }, [a.address], true);
    expect((await backend.pollReady(ask(all))).queues.some((q) => q.wiki === 'fresh')).toBe(false);
  });

  it('finds pushes lost to notifications turned off within one reconciliation walk', async () => {
    await manyQueues(ca, 'null', 300);
    const { backend, pushWatch, pushes } = backendFor([a], true);
    const SLOW_MS = 1500;
    await until(async () => {
      await backend.pollReady(ask(() => true, SLOW_MS));
      return pushWatch?.watchingAll === true && (backend.trackerStats()[0]?.stats.reconcileCycles ?? 0) >= 3;
    }, 'watching pushes, start-up walks done');
    // Someone turns the flags off: the watch still believes it is subscribed, so nothing speeds
    // reconciliation up; its normal pace still finds the job within one walk.
    await ca.config('SET', 'notify-keyspace-events', '');
    const cyclesBefore = backend.trackerStats()[0]?.stats.reconcileCycles ?? 0;
    await push(ca, 'null', 'unnoticed');
    await until(async () => {
      const listing = await backend.pollReady(ask(() => true, SLOW_MS));
      return listing.queues.some((q) => q.wiki === 'unnoticed');
    }, 'the lost push found by reconciliation');
    expect(pushes).not.toContain('unnoticed');
    // Found in the walk under way or the next one.
    expect((backend.trackerStats()[0]?.stats.reconcileCycles ?? 0) - cyclesBefore).toBeLessThanOrEqual(2);
  });

  it('finds work pushed before it started (restart) within its first walks', async () => {
    await manyQueues(ca, 'null', 300);
    await push(ca, 'refreshLinks', 'before');
    const { backend } = backendFor([a], false);
    const polls = await pollUntilListed(backend, 'before', () => true);
    expect(polls).toBeGreaterThan(0);
    expect(backend.trackerStats()[0]?.stats.reconcileCycles ?? 0).toBeLessThanOrEqual(2);
  });

  it('finds pushes made while a partition was coming back, and keeps listing the other', async () => {
    const b = await startRedisServer({ appendOnly: true });
    try {
      const { backend, pushWatch } = backendFor([a, b], true);
      await push(ca, 'null', 'onA');
      await until(() => pushWatch?.watchingAll === true, 'watching both partitions');
      await pollUntilListed(backend, 'onA', () => true);
      await b.kill9();
      await b.restart();
      // Pushed at once, before the watch has subscribed again: that push is lost.
      const fresh = new Redis({ host: b.host, port: b.port });
      await push(fresh, 'null', 'onB');
      fresh.disconnect();
      await pollUntilListed(backend, 'onB', () => true);
      const listing = await backend.pollReady(ask(() => true));
      expect(listing.queues.map((q) => q.wiki).sort()).toEqual(['onA', 'onB']);
    } finally {
      await b.stop();
    }
  });
});
