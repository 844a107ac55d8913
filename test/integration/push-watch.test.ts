// The runner's push wake-up on a real redis-server: keyspace notification flags are added without
// dropping others, pushes to ready lists (and only those) are reported, pausing unsubscribes,
// lost flags and restarts are recovered, and a server that refuses CONFIG falls back to polling.
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  startRedisServer,
  type RedisServerHandle,
  type RedisServerOptions,
} from '../../src/farm/redis-server.js';
import { PartitionPushWatch } from '../../src/redis/push-watch.js';
import { captureLogger, type LogLine } from '../support/log-capture.js';
import { until } from '../support/until.js';

const LPUSH_CHANNEL = '__keyevent@0__:lpush';

interface Recorder {
  pushes: string[];
  resyncs: number;
}

let server: RedisServerHandle;
let client: Redis;
let watch: PartitionPushWatch | null = null;
let events: Recorder;
let logs: LogLine[];

function newClient(target: RedisServerHandle): Redis {
  const client = new Redis({
    host: target.host,
    port: target.port,
    ...(target.password !== undefined ? { password: target.password } : {}),
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
  });
  // The restart test takes the server away under this client: without a listener ioredis prints
  // "[ioredis] Unhandled error event: ECONNREFUSED" for each reconnection attempt.
  client.on('error', () => undefined);
  return client;
}

/** A private redis-server and a connected queue client for one test; both gone afterwards. */
async function withOwnServer(
  options: RedisServerOptions,
  run: (client: Redis, server: RedisServerHandle) => Promise<void>,
): Promise<void> {
  const own = await startRedisServer(options);
  const c = newClient(own);
  try {
    await until(() => c.status === 'ready', 'client connected');
    await run(c, own);
  } finally {
    await watch?.close();
    watch = null;
    c.disconnect();
    await own.stop();
  }
}

function startWatch(target: Redis, flagCheckMs = 60_000): PartitionPushWatch {
  const captured = captureLogger('jobrunner');
  logs = captured.lines;
  events = { pushes: [], resyncs: 0 };
  watch = new PartitionPushWatch(
    'p1',
    target,
    {
      onPush: (partition, queue) =>
        events.pushes.push(`${partition} ${queue ? `${queue.wiki}/${queue.type}` : '?'}`),
      onResync: () => events.resyncs++,
    },
    captured.logger,
    { flagCheckMs, retryMs: 100 },
  );
  return watch;
}

async function notifyFlags(c: Redis): Promise<string> {
  const reply = (await c.config('GET', 'notify-keyspace-events')) as string[];
  return reply[1] ?? '';
}

async function subscribers(c: Redis): Promise<number> {
  const reply = (await c.call('PUBSUB', 'NUMSUB', LPUSH_CHANNEL)) as [string, number];
  return Number(reply[1]);
}

beforeAll(async () => {
  server = await startRedisServer();
  client = newClient(server);
  await until(() => client.status === 'ready', 'test client connected');
});

afterAll(async () => {
  client.disconnect();
  await server.stop();
});

beforeEach(async () => {
  await client.config('SET', 'notify-keyspace-events', '');
  await client.flushall();
});

afterEach(async () => {
  await watch?.close();
  watch = null;
});

describe('PartitionPushWatch', () => {
  it('adds the keyevent and list classes, keeps flags others set, and reports ready-list pushes', async () => {
    await client.config('SET', 'notify-keyspace-events', 'Kx');
    const w = startWatch(client);
    w.resume();
    await until(() => events.resyncs === 1 && w.watching, 'subscribed');
    const flags = await notifyFlags(client);
    for (const flag of ['K', 'x', 'E', 'l']) expect(flags).toContain(flag);
    expect(logs.some((l) => l.msg?.startsWith('enabled keyspace notifications'))).toBe(true);

    await client.lpush('some:other:list', 'x');
    await client.lpush('enwiki:jobqueue:refreshLinks:l-unclaimed', 'id1');
    await client.rpush('enwiki:jobqueue:refreshLinks:l-unclaimed', 'id2');
    await client.lpush('enwiki:jobqueue:refreshLinks:l-claimed-not-a-ready-list', 'x');
    await client.lpush('dewiki:jobqueue:null:l-unclaimed', 'id3');
    await until(() => events.pushes.length === 3, 'three ready-list pushes reported');
    // Events arrive in order, so the last one being reported means the others were seen too.
    expect(events.pushes).toEqual(['p1 enwiki/refreshLinks', 'p1 enwiki/refreshLinks', 'p1 dewiki/null']);
  });

  it('leaves flags alone when they already cover list events', async () => {
    await client.config('SET', 'notify-keyspace-events', 'AE');
    const w = startWatch(client);
    w.resume();
    await until(() => w.watching, 'subscribed');
    expect(await notifyFlags(client)).toBe('AE');
    expect(logs.some((l) => l.msg?.startsWith('enabled keyspace notifications'))).toBe(false);
  });

  it('unsubscribes on pause and resyncs on every resume', async () => {
    const w = startWatch(client);
    w.resume();
    await until(() => w.watching, 'subscribed');
    expect(await subscribers(client)).toBe(1);
    w.pause();
    await until(async () => (await subscribers(client)) === 0, 'unsubscribed');
    expect(w.watching).toBe(false);
    await client.lpush('enwiki:jobqueue:null:l-unclaimed', 'missed');
    w.resume();
    await until(() => w.watching && events.resyncs === 2, 'subscribed again with a resync');
    expect(events.pushes).toEqual([]);
  });

  it('puts the flags back when someone removes them, and says so', async () => {
    const w = startWatch(client, 150);
    w.resume();
    await until(() => w.watching, 'subscribed');
    await client.config('SET', 'notify-keyspace-events', '');
    await until(async () => (await notifyFlags(client)).includes('l'), 'flags restored');
    await until(() => events.resyncs >= 2, 'a resync after the restore');
    // One loss, one warning and one resync, however slow the server answers the checks.
    expect(logs.filter((l) => l.level === 'warn' && l.msg?.includes('had lost the list flags'))).toHaveLength(
      1,
    );
    expect(events.resyncs).toBe(2);
    await client.lpush('enwiki:jobqueue:null:l-unclaimed', 'id');
    await until(() => events.pushes.length === 1, 'pushes reported again');
  });

  it('comes back after a server restart: flags set again, resync, pushes reported', async () => {
    await withOwnServer({}, async (c, own) => {
      const w = startWatch(c);
      w.resume();
      await until(() => w.watching, 'subscribed');
      await own.restart();
      await until(() => c.status === 'ready', 'queue connection back', 30_000);
      await until(() => w.watching && events.resyncs >= 2, 'subscribed again after the restart', 30_000);
      const check = newClient(own);
      await until(() => check.status === 'ready', 'check client connected');
      expect(await notifyFlags(check)).toContain('l');
      await check.lpush('enwiki:jobqueue:null:l-unclaimed', 'id');
      await until(() => events.pushes.length === 1, 'push after restart reported');
      check.disconnect();
    });
  });

  it("uses the queue connection's password for its subscriber connection", async () => {
    await withOwnServer({ password: 's3cret pass' }, async (c) => {
      const w = startWatch(c);
      w.resume();
      await until(() => w.watching, 'subscribed with AUTH');
      await c.lpush('enwiki:jobqueue:null:l-unclaimed', 'id');
      await until(() => events.pushes.length === 1, 'push reported');
    });
  });

  it('falls back to polling, with one warning, when the server refuses CONFIG', async () => {
    await withOwnServer({ extraArgs: ['--rename-command', 'CONFIG', ''] }, async (c) => {
      const w = startWatch(c, 100);
      w.resume();
      await until(
        () => logs.some((l) => l.msg?.startsWith('cannot use keyspace notifications')),
        'the refusal logged',
      );
      // Several flag checks retry meanwhile; the warning is not repeated and nothing subscribes.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(w.watching).toBe(false);
      expect(events.resyncs).toBe(0);
      expect(await subscribers(c)).toBe(0);
      expect(logs.filter((l) => l.msg?.startsWith('cannot use keyspace notifications'))).toHaveLength(1);
    });
  });
});
