// RedisQueueStore / RedisBackend against a real redis-server started here (and, further down,
// against real MediaWiki 1.39 pushing and running jobs through the same Redis).
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RedisBackend } from '../../src/backend/redis-backend.js';
import type { JobrunnerConfig, RedisServerAddress } from '../../src/config/types.js';
import { dedupSha1 } from '../../src/mediawiki/dedup-sha1.js';
import { decodeJobBlob, encodeJobFields, type JobFields } from '../../src/mediawiki/job-blob.js';
import { newJobFields, rootJobParams } from '../../src/mediawiki/new-job.js';
import { PhpArray } from '../../src/mediawiki/php-serialize.js';
import {
  QUEUES_WITH_JOBS_KEY,
  makeQueueId,
  queueKeys,
  rootJobKey,
  wikiIdFromDomain,
} from '../../src/mediawiki/queue-keys.js';
import { createLogger } from '../../src/observability/logger.js';
import { connectRedis } from '../../src/redis/connection.js';
import { RedisQueueStore } from '../../src/redis/queue-store.js';
import { startRedisServer, type RedisServerHandle } from '../../src/farm/redis-server.js';
import { freePort } from '../../src/farm/free-port.js';
import { buildFarm, type MediaWikiFarm } from '../../src/farm/mediawiki-farm.js';

const logLines: string[] = [];
const logger = createLogger({
  service: 'test',
  level: 'debug',
  stream: new Writable({
    write(chunk: Buffer, _enc, done) {
      logLines.push(chunk.toString());
      done();
    },
  }),
});

function nullJob(
  seq: number,
  extra: Partial<{ removeDuplicates: boolean; params: PhpArray; now: number }> = {},
): JobFields {
  return newJobFields({
    type: 'null',
    params:
      extra.params ??
      PhpArray.from([
        ['lives', 1],
        ['usleep', 0],
        ['seq', seq],
      ]),
    removeDuplicates: extra.removeDuplicates ?? false,
    now: extra.now ?? 1795829823,
  });
}

let server: RedisServerHandle;
let client: Redis;
let store: RedisQueueStore;

beforeAll(async () => {
  server = await startRedisServer();
  client = new Redis({ host: server.host, port: server.port, lazyConnect: false });
  store = new RedisQueueStore(client, { countsBatchSize: 100 });
});

afterAll(async () => {
  await client?.quit();
  await server?.stop();
});

beforeEach(async () => {
  await client.flushall();
});

describe('RedisQueueStore.pushJobs', () => {
  it('stores jobs in MediaWiki layout, FIFO, in chunks of 25', async () => {
    const jobs = Array.from({ length: 60 }, (_, i) => nullJob(i));
    const result = await store.pushJobs('null', 'wiki1', jobs);
    expect(result).toEqual({ requested: 60, unique: 60, pushed: 60, duplicates: 0, rootJobsRegistered: 0 });
    const keys = queueKeys('null', 'wiki1');
    expect(keys['l-unclaimed']).toBe('wiki1:jobqueue:null:l-unclaimed');
    expect(await client.llen(keys['l-unclaimed'])).toBe(60);
    // RPOP is MediaWiki's pop: the first pushed job is next.
    expect(await client.lindex(keys['l-unclaimed'], -1)).toBe(jobs[0]?.uuid);
    expect(await client.smembers(QUEUES_WITH_JOBS_KEY)).toEqual(['["null","wiki1"]']);
    const read = await store.readJobs('null', 'wiki1', 'unclaimed', 3);
    expect(read.map((r) => r.id)).toEqual(jobs.slice(0, 3).map((j) => j.uuid));
    const first = read[0];
    expect(first?.ok).toBe(true);
    if (first?.ok) expect(first.job.paramsJson).toEqual({ lives: 1, usleep: 0, seq: 0 });
    const page2 = await store.readJobs('null', 'wiki1', 'unclaimed', 2, 58);
    expect(page2.map((r) => r.id)).toEqual(jobs.slice(58).map((j) => j.uuid));
    // Stored blob is exactly what encodeJobBlob produced.
    const raw = await client.hgetBuffer(keys['h-data'], jobs[5]?.uuid ?? '');
    expect(raw && decodeJobBlob(raw).uuid).toBe(jobs[5]?.uuid);
  });

  it('dedups by sha1 within a batch (last wins, first position) and against queued jobs', async () => {
    const params = PhpArray.from([['x', 1]]);
    const a = nullJob(0, { removeDuplicates: true, params });
    const b = nullJob(0, { removeDuplicates: true, params });
    const c = nullJob(1);
    expect(a.sha1).toBe(b.sha1);
    const first = await store.pushJobs('null', 'wiki1', [a, c, b]);
    expect(first).toMatchObject({ requested: 3, unique: 2, pushed: 2, duplicates: 0 });
    const ids = (await store.readJobs('null', 'wiki1', 'unclaimed', 10)).map((r) => r.id);
    expect(ids).toEqual([b.uuid, c.uuid]);
    const keys = queueKeys('null', 'wiki1');
    expect(await client.hget(keys['h-idBySha1'], a.sha1)).toBe(b.uuid);
    expect(await client.hget(keys['h-sha1ById'], b.uuid)).toBe(a.sha1);
    const again = await store.pushJobs('null', 'wiki1', [nullJob(0, { removeDuplicates: true, params })]);
    expect(again).toMatchObject({ unique: 1, pushed: 0, duplicates: 1 });
  });

  it('puts delayed jobs in z-delayed scored by release time', async () => {
    const params = PhpArray.from([
      ['lives', 1],
      ['jobReleaseTimestamp', 1795833437],
    ]);
    const job = nullJob(0, { params });
    expect(job.rtimestamp).toBe('1795833437');
    await store.pushJobs('null', 'wiki1', [job]);
    const delayed = await store.readJobs('null', 'wiki1', 'delayed', 10);
    expect(delayed).toHaveLength(1);
    expect(delayed[0]).toMatchObject({ id: job.uuid, score: 1795833437, ok: true });
    expect(await client.llen(queueKeys('null', 'wiki1')['l-unclaimed'])).toBe(0);
  });

  it('registers root jobs like doDeduplicateRootJob (newer-or-equal wins, 28-day TTL)', async () => {
    const root = rootJobParams('refreshLinks:Template:Box', new Date(Date.UTC(2026, 10, 28, 1, 37, 36)));
    const params = root.clone().set('table', 'templatelinks');
    const job = newJobFields({ type: 'refreshLinks', params, removeDuplicates: true });
    const result = await store.pushJobs('refreshLinks', 'wiki1', [job]);
    expect(result.rootJobsRegistered).toBe(1);
    const key = rootJobKey('wiki1', 'refreshLinks', String(root.get('rootJobSignature')));
    expect(await client.get(key)).toBe('20261128013736');
    expect(await client.ttl(key)).toBeGreaterThan(2419000);
    const older = params.clone().set('rootJobTimestamp', '20261127000000');
    const again = await store.pushJobs('refreshLinks', 'wiki1', [
      newJobFields({ type: 'refreshLinks', params: older }),
    ]);
    expect(again.rootJobsRegistered).toBe(0);
    expect(await client.get(key)).toBe('20261128013736');
    const notSelf = params.clone().set('rootJobIsSelf', false).set('rootJobTimestamp', '20261129000000');
    expect(
      (
        await store.pushJobs('refreshLinks', 'wiki1', [
          newJobFields({ type: 'refreshLinks', params: notSelf }),
        ])
      ).rootJobsRegistered,
    ).toBe(0);
  });

  it('rejects jobs of another type or with malformed IDs before touching Redis', async () => {
    await expect(store.pushJobs('other', 'wiki1', [nullJob(0)])).rejects.toThrow(/type "null"/);
    await expect(store.pushJobs('null', 'wiki1', [{ ...nullJob(0), uuid: 'x' }])).rejects.toThrow(/32 hex/);
    expect(await client.dbsize()).toBe(0);
  });

  it('writes gzip envelopes when asked and reads them back', async () => {
    const pages = new PhpArray();
    for (let id = 1; id <= 100; id++) pages.set(id, PhpArray.list([0, `Page_${id}`]));
    const job = newJobFields({ type: 'refreshLinks', params: PhpArray.from([['pages', pages]]) });
    await store.pushJobs('refreshLinks', 'wiki1', [job], { compression: 'gzip' });
    const raw = await client.hgetBuffer(queueKeys('refreshLinks', 'wiki1')['h-data'], job.uuid);
    expect(raw?.subarray(0, 17).toString()).toBe('O:8:"stdClass":2:');
    const [read] = await store.readJobs('refreshLinks', 'wiki1', 'unclaimed', 1);
    expect(read?.ok && read.job.compression).toBe('gzip');
    const counts = await store.counts(
      [{ type: 'refreshLinks', domain: 'wiki1', queueId: makeQueueId('refreshLinks', 'wiki1') }],
      job.timestamp + 5,
    );
    expect(counts[0]?.oldestAgeSeconds).toBe(5); // read by decoding the envelope in TypeScript
  });
});

describe('RedisQueueStore.headJobTimestamp (pickup latency)', () => {
  it('reads the enqueue time of the job the next pop takes, plain or gzip, and null when unknown', async () => {
    expect(await store.headJobTimestamp('null', 'wiki1')).toBeNull();
    await store.pushJobs('null', 'wiki1', [nullJob(1, { now: 1795829000 })]);
    await store.pushJobs('null', 'wiki1', [nullJob(2, { now: 1795829999 })]);
    // FIFO: LPUSH in, RPOP out, so the first pushed is next.
    expect(await store.headJobTimestamp('null', 'wiki1')).toBe(1795829000);

    const pages = new PhpArray();
    for (let id = 1; id <= 100; id++) pages.set(id, PhpArray.list([0, `Page_${id}`]));
    const big = newJobFields({
      type: 'refreshLinks',
      params: PhpArray.from([['pages', pages]]),
      now: 1795820000,
    });
    await store.pushJobs('refreshLinks', 'wiki1', [big], { compression: 'gzip' });
    expect(await store.headJobTimestamp('refreshLinks', 'wiki1')).toBe(1795820000);

    // A delayed job counts from its release time once the chron has made it ready (LPUSH + ZREM).
    const delayedJob = nullJob(3, { params: PhpArray.from([['jobReleaseTimestamp', 1795833437]]) });
    await store.pushJobs('null', 'wiki3', [delayedJob]);
    const k3 = queueKeys('null', 'wiki3');
    await client
      .multi()
      .lpush(k3['l-unclaimed'], delayedJob.uuid)
      .zrem(k3['z-delayed'], delayedJob.uuid)
      .exec();
    expect(await store.headJobTimestamp('null', 'wiki3')).toBe(1795833437);

    // A corrupt blob or a listed id without data gives no sample, and nothing is touched.
    const k = queueKeys('null', 'wiki2');
    await client.rpush(k['l-unclaimed'], 'gone');
    expect(await store.headJobTimestamp('null', 'wiki2')).toBeNull();
    await client.hset(k['h-data'], 'gone', 'a:1:{s:3:"bad');
    expect(await store.headJobTimestamp('null', 'wiki2')).toBeNull();
    expect(await client.hget(k['h-data'], 'gone')).toBe('a:1:{s:3:"bad');
  });
});

describe('RedisQueueStore reads', () => {
  it('reports corrupt and missing blobs without deleting anything', async () => {
    const jobs = [nullJob(1), nullJob(2), nullJob(3)];
    await store.pushJobs('null', 'wiki1', jobs);
    const keys = queueKeys('null', 'wiki1');
    await client.hset(keys['h-data'], jobs[1]?.uuid ?? '', 'a:8:{garbage');
    await client.hdel(keys['h-data'], jobs[2]?.uuid ?? '');
    const read = await store.readJobs('null', 'wiki1', 'unclaimed', 10);
    expect(read.map((r) => r.ok)).toEqual([true, false, false]);
    expect(read[1]).toMatchObject({ ok: false, error: expect.stringMatching(/byte \d+/) });
    expect(read[2]).toMatchObject({ ok: false, error: expect.stringMatching(/no h-data/) });
    expect(await client.hget(keys['h-data'], jobs[1]?.uuid ?? '')).toBe('a:8:{garbage');
    expect(await client.llen(keys['l-unclaimed'])).toBe(3);
  });

  it('lists queues, reporting bad members, via SMEMBERS and via SSCAN for big sets', async () => {
    await store.pushJobs('null', 'wiki1', [nullJob(1)]);
    await client.sadd(QUEUES_WITH_JOBS_KEY, 'not json', '["only-one"]', '["a",""]');
    const small = await store.listQueues();
    expect(small.queues.map((q) => q.queueId)).toEqual(['["null","wiki1"]']);
    expect(small.bad.sort()).toEqual(['["a",""]', '["only-one"]', 'not json']);
    const members = Array.from({ length: 10_050 }, (_, i) => makeQueueId(`t${i}`, 'wiki1'));
    for (let i = 0; i < members.length; i += 1000)
      await client.sadd(QUEUES_WITH_JOBS_KEY, ...members.slice(i, i + 1000));
    const big = await store.listQueues();
    expect(big.queues).toHaveLength(10_051);
    expect(big.bad).toHaveLength(3);
  });

  it('counts states and oldest age for 10,000 queues in batches', async () => {
    const pipeline = client.pipeline();
    const refs = [];
    for (let i = 0; i < 10_000; i++) {
      const type = `type${i}`;
      const k = queueKeys(type, 'wiki2');
      const id = `${i}`.padStart(32, '0');
      pipeline.lpush(k['l-unclaimed'], id);
      pipeline.hset(k['h-data'], id, `a:1:{s:9:"timestamp";i:${1000 + i};}`);
      if (i % 10 === 0) pipeline.zadd(k['z-claimed'], 5, 'c' + id);
      if (i % 100 === 0) pipeline.zadd(k['z-abandoned'], 5, 'a' + id);
      if (i % 1000 === 0) pipeline.zadd(k['z-delayed'], 5, 'd' + id);
      refs.push({ type, domain: 'wiki2', queueId: makeQueueId(type, 'wiki2') });
    }
    await pipeline.exec();
    const counts = await store.counts(refs, 20_000);
    expect(counts).toHaveLength(10_000);
    expect(counts.reduce((n, c) => n + c.unclaimed, 0)).toBe(10_000);
    expect(counts.reduce((n, c) => n + c.claimed, 0)).toBe(1000);
    expect(counts.reduce((n, c) => n + c.abandoned, 0)).toBe(100);
    expect(counts.reduce((n, c) => n + c.delayed, 0)).toBe(10);
    expect(counts[1234]).toMatchObject({ oldestTimestamp: 2234, oldestAgeSeconds: 20_000 - 2234 });
    const empty = await store.counts([{ type: 'none', domain: 'wiki2', queueId: '' }]);
    expect(empty[0]).toMatchObject({ unclaimed: 0, oldestTimestamp: null, oldestAgeSeconds: null });
  });
});

describe('RedisQueueStore.discoverReady', () => {
  // Domains exercising every key-derivation rule: prefix, schema (dropped when "mediawiki"),
  // '?h'/'??' escapes, characters rawurlencode escapes, and non-ASCII (json \u escapes).
  const domains = [
    'wiki1',
    'my_wiki-pre_',
    'wikidb-mediawiki-',
    'db-schema-pfx',
    'a?hb-c',
    'x??y',
    'wiki with space',
    'ünï/cødé',
    "it's(*)!~",
  ];
  const types = ['null', 'refreshLinks', 'type/with:colon', 'ünï'];

  it('derives the same keys in Lua as queue-keys.ts for every domain and type', async () => {
    const expected = new Map<string, number>();
    let n = 1;
    for (const domain of domains) {
      for (const type of types) {
        const count = n++ % 4;
        if (count > 0) {
          const jobs = Array.from({ length: count }, () => ({ ...nullJob(1), type }));
          await store.pushJobs(type, domain, jobs);
          expected.set(makeQueueId(type, domain), count);
        } else {
          await client.sadd(QUEUES_WITH_JOBS_KEY, makeQueueId(type, domain)); // listed but empty
        }
      }
    }
    await client.sadd(QUEUES_WITH_JOBS_KEY, 'garbage', '[1,2]');
    const result = await store.discoverReady();
    expect(result.memberCount).toBe(domains.length * types.length + 2);
    expect(new Map(result.ready.map((r) => [r.queue.queueId, r.ready]))).toEqual(expected);
    expect(result.bad.sort()).toEqual(['[1,2]', 'garbage']);
    expect(result.delayed).toEqual([]);
    expect(wikiIdFromDomain('wikidb-mediawiki-')).toBe('wikidb');
  });

  it('reports the earliest delayed release when asked', async () => {
    await store.pushJobs('null', 'wiki1', [
      nullJob(1, { params: PhpArray.from([['jobReleaseTimestamp', 2000000500]]) }),
      nullJob(2, { params: PhpArray.from([['jobReleaseTimestamp', 2000000100]]) }),
    ]);
    const result = await store.discoverReady({ withDelayed: true });
    expect(result.ready).toEqual([]);
    expect(result.delayed).toEqual([
      { queue: expect.objectContaining({ type: 'null' }), earliestRelease: 2000000100 },
    ]);
  });

  it('recovers after SCRIPT FLUSH', async () => {
    await store.pushJobs('null', 'wiki1', [nullJob(1)]);
    expect((await store.discoverReady()).ready).toHaveLength(1);
    await client.script('FLUSH');
    expect((await store.discoverReady()).ready).toHaveLength(1);
  });
});

describe('RedisQueueStore operator helpers', () => {
  async function abandon(type: string, domain: string, ids: string[]): Promise<void> {
    // What MediaWiki's pop and the chron's abandon step leave behind.
    const k = queueKeys(type, domain);
    for (const id of ids) {
      await client.lrem(k['l-unclaimed'], 0, id);
      await client.zadd(k['z-abandoned'], 1000, id);
      await client.hset(k['h-attempts'], id, 3);
    }
    await client.srem(QUEUES_WITH_JOBS_KEY, makeQueueId(type, domain));
  }

  it('retries abandoned jobs in place with attempts reset', async () => {
    const jobs = [nullJob(1), nullJob(2), nullJob(3)];
    await store.pushJobs('null', 'wiki1', jobs);
    await abandon(
      'null',
      'wiki1',
      jobs.map((j) => j.uuid),
    );
    const k = queueKeys('null', 'wiki1');
    const one = await store.retryAbandoned(
      { type: 'null', domain: 'wiki1' },
      { ids: [jobs[1]?.uuid ?? '', 'f'.repeat(32)] },
    );
    expect(one).toEqual({ moved: 1, notAbandoned: 1, noData: 0 });
    expect(await client.lrange(k['l-unclaimed'], 0, -1)).toEqual([jobs[1]?.uuid]);
    expect(await client.hexists(k['h-attempts'], jobs[1]?.uuid ?? '')).toBe(0);
    expect(await client.sismember(QUEUES_WITH_JOBS_KEY, '["null","wiki1"]')).toBe(1);
    await client.hdel(k['h-data'], jobs[2]?.uuid ?? '');
    const rest = await store.retryAbandoned({ type: 'null', domain: 'wiki1' });
    expect(rest).toEqual({ moved: 1, notAbandoned: 0, noData: 1 });
    expect(await client.zrange(k['z-abandoned'], 0, -1)).toEqual([jobs[2]?.uuid]);
  });

  it('deletes a queue like MediaWiki doDelete', async () => {
    await store.pushJobs('null', 'wiki1', [nullJob(1, { removeDuplicates: true }), nullJob(2)]);
    await store.pushJobs('null', 'wiki2', [nullJob(1)]);
    await store.deleteQueue({ type: 'null', domain: 'wiki1' });
    expect((await client.keys('wiki1:*')).length).toBe(0);
    expect(await client.smembers(QUEUES_WITH_JOBS_KEY)).toEqual(['["null","wiki2"]']);
  });
});

describe('RedisBackend', () => {
  it('lists ready queues and counts over several partitions, reporting a dead one', async () => {
    const second = await startRedisServer();
    const deadPort = await freePort();
    const config = {
      redis: {
        queues: [
          { raw: server.address, host: server.host, port: server.port },
          { raw: second.address, host: second.host, port: second.port },
          { raw: `127.0.0.1:${deadPort}`, host: '127.0.0.1', port: deadPort },
        ],
        aggregators: [],
        password: undefined,
        connectTimeoutMs: 500,
        commandTimeoutMs: 1000,
      },
    } as unknown as JobrunnerConfig;
    const connected: string[] = [];
    const backend = new RedisBackend(config, logger, {
      connect: (address: RedisServerAddress) => {
        connected.push(address.raw);
        return connectRedis(address, config.redis, { logger, role: 'queue', maxBackoffMs: 200 });
      },
    });
    try {
      expect(connected).toHaveLength(3);
      const otherClient = new Redis({ host: second.host, port: second.port });
      await store.pushJobs('null', 'wiki1', [nullJob(1), nullJob(2)]);
      await new RedisQueueStore(otherClient).pushJobs('refreshLinks', 'my_wiki-pre_', [
        { ...nullJob(3), type: 'refreshLinks' },
      ]);
      await otherClient.quit();
      // Wait until the two live partitions are connected (the dead one never will be).
      for (const name of [server.address, second.address]) {
        const c = backend.store(name).client;
        if (c.status !== 'ready') await new Promise((resolve) => c.once('ready', resolve));
      }
      const ready = await backend.listReadyQueues();
      expect(ready.queues.sort((a, b) => a.type.localeCompare(b.type))).toEqual([
        { type: 'null', domain: 'wiki1', wiki: 'wiki1', partition: server.address, ready: 2 },
        {
          type: 'refreshLinks',
          domain: 'my_wiki-pre_',
          wiki: 'my_wiki-pre_',
          partition: second.address,
          ready: 1,
        },
      ]);
      expect(ready.errors.map((e) => e.partition)).toEqual([`127.0.0.1:${deadPort}`]);
      const counts = await backend.queueCounts({ wiki: 'wiki1' });
      expect(counts.queues).toEqual([
        expect.objectContaining({
          type: 'null',
          wiki: 'wiki1',
          unclaimed: 2,
          claimed: 0,
          partition: server.address,
        }),
      ]);
      expect(counts.errors).toHaveLength(1);
      expect(logLines.filter((l) => l.includes('could not be read')).length).toBe(1); // logged once per outage
    } finally {
      await backend.close();
      await second.stop();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Against real MediaWiki 1.39 (Debian package) sharing the Redis: what MediaWiki pushes we read
// byte-exactly; what we push MediaWiki runs and dedups against.

interface RunJobsResult {
  jobs: { type: string; status: string; error: string | null }[];
  reached: string;
}

describe('with real MediaWiki', () => {
  let farm: MediaWikiFarm;
  let gzipServer: RedisServerHandle;
  let gzipFarm: MediaWikiFarm;
  let gzipClient: Redis;

  beforeAll(async () => {
    farm = await buildFarm({ redis: server });
    gzipServer = await startRedisServer();
    gzipFarm = await buildFarm({ redis: gzipServer, gzip: true });
    gzipClient = new Redis({ host: gzipServer.host, port: gzipServer.port });
  });

  afterAll(async () => {
    await gzipClient?.quit();
    await farm?.destroy();
    await gzipFarm?.destroy();
    await gzipServer?.stop();
  });

  async function rawBlobs(redis: Redis, type: string, domain: string): Promise<Map<string, Buffer>> {
    const all = await redis.hgetallBuffer(queueKeys(type, domain)['h-data']);
    return new Map(Object.entries(all));
  }

  it('decodes jobs MediaWiki pushed, byte-exactly, and finds them ready', async () => {
    expect(
      await farm.pushJobs('wiki1', { count: 3, params: { note: 'ünïcödé €', f: 1.5, list: [1, 2] } }),
    ).toBe(3);
    expect(await farm.pushJobs('wiki1', { count: 1, delaySeconds: 3600 })).toBe(1);
    const blobs = await rawBlobs(client, 'null', 'wiki1');
    expect(blobs.size).toBe(4);
    for (const raw of blobs.values()) {
      const job = decodeJobBlob(raw);
      expect(job.type).toBe('null');
      expect(encodeJobFields(job.fields).equals(raw)).toBe(true);
    }
    const read = await store.readJobs('null', 'wiki1', 'unclaimed', 10);
    expect(read).toHaveLength(3);
    const first = read[0];
    if (!first?.ok) throw new Error(`first job unreadable: ${JSON.stringify(first)}`);
    expect(first.job.paramsJson).toMatchObject({ note: 'ünïcödé €', f: 1.5, list: [1, 2], seq: 0 });
    expect(first.job.namespace).toBe(-1);
    expect(first.job.uuid).toBe(first.id);
    const delayed = await store.readJobs('null', 'wiki1', 'delayed', 10);
    expect(delayed).toHaveLength(1);
    if (!delayed[0]?.ok) throw new Error('delayed job unreadable');
    expect(delayed[0].job.rtimestamp).toBe(delayed[0].score);
    // JobSpecification::getReleaseTimestamp() returns wfTimestamp()'s string: stored as s:10:"…".
    expect(delayed[0].job.fields.get('rtimestamp')).toBe(String(delayed[0].score));
    const discovered = await store.discoverReady({ withDelayed: true });
    expect(discovered.ready).toEqual([
      { queue: expect.objectContaining({ queueId: '["null","wiki1"]' }), ready: 3 },
    ]);
    expect(discovered.delayed).toHaveLength(1);
  });

  it('pushes jobs that MediaWiki runJobs.php runs OK', async () => {
    const jobs = [nullJob(100), nullJob(101), { ...nullJob(102), timestamp: Math.floor(Date.now() / 1000) }];
    await store.pushJobs('null', 'wiki2', jobs);
    const result = (await farm.runJobs('wiki2', { type: 'null' })) as RunJobsResult;
    expect(result.jobs.map((j) => `${j.type}:${j.status}`)).toEqual(['null:ok', 'null:ok', 'null:ok']);
    expect(await client.exists(queueKeys('null', 'wiki2')['h-data'])).toBe(0);
  });

  it('computes the same dedup sha1 as MediaWiki and dedups against its pushes', async () => {
    const params = { lives: 1, usleep: 0, b: 'x', a: 'y' };
    expect(await farm.pushJobs('wiki1', { type: 'null', dedupe: true, params, count: 2 })).toBe(2);
    const keys = queueKeys('null', 'wiki1');
    const stored = await client.hgetall(keys['h-idBySha1']);
    expect(Object.keys(stored)).toHaveLength(1);
    const [sha1, id] = Object.entries(stored)[0] ?? ['', ''];
    // pushJobs.php builds JobSpecification objects: the unsorted variant.
    const phpParams = PhpArray.from([
      ['lives', 1],
      ['usleep', 0],
      ['b', 'x'],
      ['a', 'y'],
    ]);
    expect(dedupSha1('null', phpParams, { variant: 'jobSpecification' }).base36).toBe(sha1);
    const [mwJob] = (await store.readJobs('null', 'wiki1', 'unclaimed', 100)).filter((r) => r.id === id);
    expect(mwJob?.ok && mwJob.job.sha1).toBe(sha1);
    const ours = newJobFields({
      type: 'null',
      params: phpParams,
      removeDuplicates: true,
      dedup: { variant: 'jobSpecification' },
    });
    expect(ours.sha1).toBe(sha1);
    const result = await store.pushJobs('null', 'wiki1', [ours]);
    expect(result).toMatchObject({ pushed: 0, duplicates: 1 });
  });

  it('registers root jobs under the same key MediaWiki uses', async () => {
    await farm.pushJobs('wiki2', { type: 'null', root: 'jobrunner-test-root', count: 1 });
    const [job] = await store.readJobs('null', 'wiki2', 'unclaimed', 1);
    if (!job?.ok) throw new Error('root job unreadable');
    const signature = String(job.job.params.get('rootJobSignature'));
    const key = rootJobKey('wiki2', 'null', signature);
    expect(await client.get(key)).toBe(job.job.params.get('rootJobTimestamp'));
    // Ours, newer, overwrites that registration the way MediaWiki's would.
    const newer = job.job.params.clone().set('rootJobTimestamp', '29991231235959');
    const result = await store.pushJobs('null', 'wiki2', [newJobFields({ type: 'null', params: newer })]);
    expect(result.rootJobsRegistered).toBe(1);
    expect(await client.get(key)).toBe('29991231235959');
    // MediaWiki now treats its own older root job as superseded (a DuplicateJob that still acks).
    const run = (await farm.runJobs('wiki2', { type: 'null' })) as RunJobsResult;
    expect(run.jobs.every((j) => j.status === 'ok')).toBe(true);
    expect(await client.exists(queueKeys('null', 'wiki2')['h-data'])).toBe(0);
  });

  it('reads real refreshLinks jobs from edits, including the int-keyed pages map', async () => {
    await farm.edit('wiki1', 'Template:Box', 'box v1');
    await farm.importPages('wiki1', { BoxPage1: '{{Box}} one', BoxPage2: '{{Box}} two' });
    await client.del(...Object.values(queueKeys('refreshLinks', 'wiki1')));
    await farm.edit('wiki1', 'Template:Box', 'box v2');
    const roots = await store.readJobs('refreshLinks', 'wiki1', 'unclaimed', 10);
    const root = roots.find((r) => r.ok && r.job.params.get('recursive') === true);
    if (!root?.ok)
      throw new Error(`no recursive refreshLinks after a template edit: ${JSON.stringify(roots)}`);
    expect(root.job.title).toBe('Box');
    // Edits build Job objects: the ksorted, requestId-free variant.
    expect(root.job.sha1).not.toBe('');
    expect(dedupSha1('refreshLinks', root.job.params).base36).toBe(root.job.sha1);
    // Running the root job fans it out into per-page jobs with `pages` => [page_id => [ns, dbkey]].
    await farm.runJobs('wiki1', { type: 'refreshLinks', maxJobs: 1 });
    const blobs = await rawBlobs(client, 'refreshLinks', 'wiki1');
    const children = [...blobs.values()]
      .map((raw) => ({ raw, job: decodeJobBlob(raw) }))
      .filter((c) => c.job.params.has('pages'));
    expect(children.length).toBeGreaterThan(0);
    for (const { raw, job } of children) {
      expect(encodeJobFields(job.fields).equals(raw)).toBe(true);
      const pages = job.params.get('pages') as PhpArray;
      for (const key of pages.keys()) expect(typeof key).toBe('number');
      if (job.sha1 !== '') expect(dedupSha1('refreshLinks', job.params).base36).toBe(job.sha1);
    }
    const titles = children.flatMap((c) =>
      [...(c.job.params.get('pages') as PhpArray).values()].map((v) => (v as PhpArray).get(1)),
    );
    expect(titles.sort()).toEqual(['BoxPage1', 'BoxPage2']);
    // Other jobs from the edit that MediaWiki de-duplicates (Job objects) hash the same way here.
    let verified = 0;
    for (const type of ['htmlCacheUpdate', 'recentChangesUpdate']) {
      for (const raw of (await rawBlobs(client, type, 'wiki1')).values()) {
        const job = decodeJobBlob(raw);
        expect(encodeJobFields(job.fields).equals(raw)).toBe(true);
        if (job.sha1 !== '') expect(dedupSha1(type, job.params).base36).toBe(job.sha1);
        if (job.sha1 !== '') verified++;
      }
    }
    expect(verified).toBeGreaterThan(2);
  });

  it('reads gzip envelopes MediaWiki wrote, and MediaWiki runs our gzip blobs', async () => {
    const gzipStore = new RedisQueueStore(gzipClient);
    const big = 'lorem ipsum '.repeat(200);
    expect(await gzipFarm.pushJobs('wiki1', { count: 1, params: { big } })).toBe(1);
    const [raw] = (await rawBlobs(gzipClient, 'null', 'wiki1')).values();
    expect(raw?.subarray(0, 17).toString()).toBe('O:8:"stdClass":2:');
    const job = decodeJobBlob(raw ?? Buffer.alloc(0));
    expect(job.compression).toBe('gzip');
    expect(job.paramsJson).toMatchObject({ big });
    const ours = newJobFields({
      type: 'null',
      params: PhpArray.from([
        ['big', big],
        ['lives', 1],
      ]),
    });
    await gzipStore.pushJobs('null', 'wiki2', [ours], { compression: 'gzip' });
    const stored = await gzipClient.hgetBuffer(queueKeys('null', 'wiki2')['h-data'], ours.uuid);
    expect(stored?.subarray(0, 17).toString()).toBe('O:8:"stdClass":2:');
    const run = (await gzipFarm.runJobs('wiki2', { type: 'null' })) as RunJobsResult;
    expect(run.jobs.map((j) => j.status)).toEqual(['ok']);
  });
});
