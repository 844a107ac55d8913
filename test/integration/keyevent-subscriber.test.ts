// The keyevent subscription shared by the runner's push watch and jobchron's change watch, on a
// real redis-server: keys reach the owner, a killed subscriber connection and flags turned off are
// each reported as a gap (with its reason) and recovered, and want(false) unsubscribes.
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { changedQueuePrefix } from '../../src/chron/change-watch.js';
import { startRedisServer, type RedisServerHandle } from '../../src/farm/redis-server.js';
import { KeyeventSubscriber, isConfigRefusal } from '../../src/redis/keyevent-subscriber.js';
import { ensureNotifications, ZSET_EVENTS } from '../../src/redis/notify-flags.js';
import { captureLogger } from '../support/log-capture.js';
import { until } from '../support/until.js';

const CHANNEL = '__keyevent@0__:zadd';
const NAME = 'jr13-keyevent-test';

let server: RedisServerHandle;
let client: Redis;
let subscriber: KeyeventSubscriber | null = null;
let seen: { keys: string[]; subscribed: number; gaps: string[] };

function start(): KeyeventSubscriber {
  seen = { keys: [], subscribed: 0, gaps: [] };
  subscriber = new KeyeventSubscriber(
    client,
    {
      channels: [CHANNEL],
      ensureFlags: (c) => ensureNotifications(c, ZSET_EVENTS),
      flagsFor: 'sorted-set',
      connectionName: NAME,
      onKey: (key) => seen.keys.push(key),
      onSubscribed: () => seen.subscribed++,
      onGap: (reason) => seen.gaps.push(reason),
      flagCheckMs: 100,
      retryMs: 50,
    },
    captureLogger('jobchron').logger,
  );
  subscriber.want(true);
  return subscriber;
}

async function subscribers(): Promise<number> {
  const reply = (await client.call('PUBSUB', 'NUMSUB', CHANNEL)) as [string, number];
  return Number(reply[1]);
}

beforeAll(async () => {
  server = await startRedisServer();
  client = new Redis({ host: server.host, port: server.port });
  await until(() => client.status === 'ready', 'test client connected');
});

afterAll(async () => {
  client.disconnect();
  await server.stop();
});

beforeEach(async () => {
  await client.config('SET', 'notify-keyspace-events', '');
});

afterEach(async () => {
  await subscriber?.close();
  subscriber = null;
});

describe('KeyeventSubscriber', () => {
  it('passes on the keys of its channels once subscribed, and unsubscribes on want(false)', async () => {
    const s = start();
    await until(() => s.watching && seen.subscribed === 1, 'subscribed');
    await client.zadd('w:jobqueue:t:z-claimed', 1, 'a');
    await client.lpush('w:jobqueue:t:l-unclaimed', 'not a zadd');
    await client.zadd('w:jobqueue:t:z-delayed', 1, 'b');
    await until(() => seen.keys.length === 2, 'two zadd keys');
    expect(seen.keys).toEqual(['w:jobqueue:t:z-claimed', 'w:jobqueue:t:z-delayed']);
    s.want(false);
    await until(async () => (await subscribers()) === 0, 'unsubscribed');
    expect(s.watching).toBe(false);
    expect(seen.gaps).toEqual([]);
  });

  it('reports a killed connection as a gap and subscribes again', async () => {
    const s = start();
    await until(() => s.watching, 'subscribed');
    await client.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    await until(() => seen.gaps.includes('connection'), 'the gap reported');
    await until(() => s.watching && seen.subscribed === 2, 'subscribed again');
    await client.zadd('w:jobqueue:t:z-claimed', 2, 'c');
    await until(() => seen.keys.length === 1, 'keys reported again');
    expect(seen.gaps).toEqual(['connection']);
  });

  it('puts flags back that someone removed, reporting one gap for one loss', async () => {
    const s = start();
    await until(() => s.watching, 'subscribed');
    await client.config('SET', 'notify-keyspace-events', '');
    await until(() => seen.gaps.length > 0, 'the lost flags noticed');
    const reply = (await client.config('GET', 'notify-keyspace-events')) as string[];
    for (const flag of ['E', 'z']) expect(reply[1]).toContain(flag);
    expect(seen.gaps).toEqual(['flags']);
  });
});

describe('helpers', () => {
  it('changedQueuePrefix keeps the queue of a claimed or delayed set, nothing else', () => {
    expect(changedQueuePrefix('enwiki:jobqueue:refreshLinks:z-claimed')).toBe('enwiki:jobqueue:refreshLinks');
    expect(changedQueuePrefix('enwiki:jobqueue:null:z-delayed')).toBe('enwiki:jobqueue:null');
    expect(changedQueuePrefix('enwiki:jobqueue:null:z-abandoned')).toBeNull();
    expect(changedQueuePrefix('z-claimed')).toBeNull();
  });

  it('isConfigRefusal tells a refused CONFIG from an outage', () => {
    expect(isConfigRefusal("ERR unknown command 'CONFIG'")).toBe(true);
    expect(isConfigRefusal('NOPERM this user has no permissions to run the config command')).toBe(true);
    expect(isConfigRefusal('connect ECONNREFUSED 127.0.0.1:6379')).toBe(false);
  });
});
