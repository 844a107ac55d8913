// jobchron against a real MediaWiki 1.39 farm on a real redis-server: MediaWiki pushes and runs the
// jobs, the chron (in-process, one pass at a time, with a fake clock for job time) keeps the queues
// right. Nothing is mocked; claim ages and release times are reached by moving the chron's clock.
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Chron } from '../../src/chron/chron.js';
import { QUARANTINE_KEY, QUEUES_WITH_ABANDONED_KEY } from '../../src/chron/keys.js';
import type { JobrunnerConfig } from '../../src/config/types.js';
import type { MediaWikiFarm } from '../../src/farm/mediawiki-farm.js';
import type { RedisServerHandle } from '../../src/farm/redis-server.js';
import {
  QUEUES_WITH_JOBS_KEY,
  READY_QUEUES_HASH_KEY,
  makeQueueId,
  queueKeys,
  readyHashField,
} from '../../src/mediawiki/queue-keys.js';
import { createStatsd, type Metrics } from '../../src/observability/statsd.js';
import { captureLogger, type LogLine } from '../support/log-capture.js';
import { startFarmStack, stopFarmStack } from '../support/farm-stack.js';
import { StatsdSink } from '../support/statsd-sink.js';
import { ConfigDir, FakeClock, countLines, waitFor } from './chron-support.js';

interface RunJobsJson {
  jobs: { type: string; status: string }[];
}

const HOST = 'chron.test.example';
const METRIC_HOST = 'chron_test_example';
const CLAIM_TTL = 3600;
const PRUNE_AFTER = 604800;
// Needs rawurlencode in every key part: ':' is the key separator, '/' the ready-hash separator.
const ODD_TYPE = 'odd:Fail/é+x';
const ODD_WIKI = 'wiki+é';

let redis: RedisServerHandle;
let farm: MediaWikiFarm;
let client: Redis;
let configs: ConfigDir;
let config: JobrunnerConfig;
const sink = new StatsdSink();
let clock: FakeClock;
let lines: LogLine[];
let chron: Chron;
let metrics: Metrics;

beforeAll(async () => {
  ({ redis, farm, client } = await startFarmStack({ extraWikis: [ODD_WIKI] }, { [ODD_TYPE]: 'fail' }));
  await sink.start();
  configs = new ConfigDir();
  config = configs.load({
    queues: [redis.address],
    statsd: `127.0.0.1:${sink.port}`,
    chron: { intervalMs: 1000, batchSize: 50 },
  });
});

afterAll(async () => {
  await stopFarmStack({ redis, farm, client });
  sink.stop();
  configs?.cleanup();
});

beforeEach(async () => {
  await chron?.stop();
  await client.flushall();
  clock = new FakeClock();
  const captured = captureLogger('jobchron', 'debug');
  lines = captured.lines;
  metrics = createStatsd(config.statsd, captured.logger);
  chron = new Chron(config, {
    logger: captured.logger,
    metrics,
    now: clock.now,
    hostname: HOST,
  });
  return async () => {
    await chron.stop();
  };
});

async function runJobs(wiki: string, type: string): Promise<RunJobsJson> {
  return (await farm.runJobs(wiki, { type })) as RunJobsJson;
}

describe('jobchron on a MediaWiki farm', () => {
  it('retries a failing job after claimTTL, abandons it after `attempts`, prunes it from abandonment', async () => {
    const k = queueKeys('mwlabFail', 'wiki1');
    const queueId = makeQueueId('mwlabFail', 'wiki1');
    expect(await farm.pushJobs('wiki1', { type: 'mwlabFail', count: 1 })).toBe(1);
    const [id] = await client.lrange(k['l-unclaimed'], 0, -1);
    expect(id).toMatch(/^[0-9a-f]{32}$/);

    for (let attempt = 1; attempt <= 3; attempt++) {
      clock.ms = Date.now(); // MediaWiki stamps claims with the real time
      const result = await runJobs('wiki1', 'mwlabFail');
      expect(result.jobs.map((j) => j.status)).toEqual(['failed']);
      expect(await client.hget(k['h-attempts'], id ?? '')).toBe(String(attempt));
      expect(await client.zscore(k['z-claimed'], id ?? '')).not.toBeNull();

      // A fresh claim is left alone.
      const early = await chron.runPass();
      expect(early.counts).toEqual({ recycled: 0, abandoned: 0, undelayed: 0, pruned: 0 });

      clock.advanceSeconds(CLAIM_TTL + 1);
      const pass = await chron.runPass();
      expect(pass.ok).toBe(true);
      if (attempt < 3) {
        expect(pass.counts.recycled).toBe(1);
        // Back at the head of the queue, attempts kept.
        expect(await client.lrange(k['l-unclaimed'], -1, -1)).toEqual([id]);
        expect(await client.sismember(QUEUES_WITH_JOBS_KEY, queueId)).toBe(1);
      } else {
        expect(pass.counts.abandoned).toBe(1);
      }
    }

    // Abandoned: scored with the abandonment time (W21), listed in our set only (W12).
    const abandonedAt = clock.seconds;
    expect(Number(await client.zscore(k['z-abandoned'], id ?? ''))).toBe(abandonedAt);
    expect(await client.exists(k['l-unclaimed'], k['z-claimed'])).toBe(0);
    expect(await client.sismember(QUEUES_WITH_JOBS_KEY, queueId)).toBe(0);
    expect(await client.sismember(QUEUES_WITH_ABANDONED_KEY, queueId)).toBe(1);
    expect(await farm.showJobs('wiki1', { group: true })).toContain(
      'mwlabFail: 0 queued; 1 claimed (0 active, 1 abandoned); 0 delayed',
    );

    // Seven days after the last claim, but not after abandonment: kept (the original pruned here).
    clock.advanceSeconds(PRUNE_AFTER - 10);
    expect((await chron.runPass()).counts.pruned).toBe(0);
    expect(await client.hexists(k['h-data'], id ?? '')).toBe(1);

    // A queue holding only abandoned jobs is still visited and pruned (the original never did, W12).
    clock.advanceSeconds(11);
    const prune = await chron.runPass();
    expect(prune.counts.pruned).toBe(1);
    expect(await client.keys('wiki1:jobqueue:mwlabFail:*')).toEqual([]);
    expect(await client.sismember(QUEUES_WITH_ABANDONED_KEY, queueId)).toBe(0);
    expect(await farm.showJobs('wiki1', { group: true })).not.toContain('mwlabFail');

    // statsd: the original names, hosts made safe, plus a pass timing.
    await chron.stop();
    await metrics.close(); // flushes the statsd buffer
    await waitFor('statsd datagrams', () => sink.counter('jobrunner.job-prune.mwlabFail') === 1);
    expect(sink.counter(`jobrunner.job-recycle.mwlabFail`)).toBe(2);
    expect(sink.counter(`jobrunner.job-abandon.mwlabFail`)).toBe(1);
    expect(sink.counter(`jobrunner.job-prune.mwlabFail`)).toBe(1);
    expect(sink.counter(`jobrunner.periodictasks.claimed.${METRIC_HOST}`)).toBeGreaterThanOrEqual(8);
    expect(sink.counter(`jobrunner.periodictasks.done.${METRIC_HOST}`)).toBeGreaterThanOrEqual(8);
    expect(sink.names()).toContain(`jobrunner.periodictasks.duration.${METRIC_HOST}`);
    for (const name of sink.names()) expect(name.replace(/^jobrunner\./, '')).not.toContain(':');
    expect(chron.getStats()).toMatchObject({ recycled: 2, abandoned: 1, pruned: 1, failedPasses: 0 });
  });

  it('makes delayed jobs ready at their release time and keeps the ready hash current', async () => {
    const k = queueKeys('null', 'wiki2');
    const field = readyHashField('null', 'wiki2');
    expect(await farm.pushJobs('wiki2', { type: 'null', count: 2, delaySeconds: 3600 })).toBe(2);
    expect(await client.zcard(k['z-delayed'])).toBe(2);
    expect((await runJobs('wiki2', 'null')).jobs).toEqual([]); // runJobs never runs delayed jobs

    expect((await chron.runPass()).counts.undelayed).toBe(0);
    expect(await client.hexists(READY_QUEUES_HASH_KEY, field)).toBe(0);
    expect(Number(await client.hget(READY_QUEUES_HASH_KEY, '_epoch'))).toBe(clock.seconds);

    clock.advanceSeconds(3601);
    const pass = await chron.runPass();
    expect(pass.counts.undelayed).toBe(2);
    expect(pass.processed[0]?.readyQueues).toBe(1);
    expect(await client.llen(k['l-unclaimed'])).toBe(2);
    expect(Number(await client.hget(READY_QUEUES_HASH_KEY, field))).toBe(clock.seconds);

    expect((await runJobs('wiki2', 'null')).jobs.map((j) => j.status)).toEqual(['ok', 'ok']);
    await chron.runPass();
    expect(await client.sismember(QUEUES_WITH_JOBS_KEY, makeQueueId('null', 'wiki2'))).toBe(0);
    expect(await client.hexists(READY_QUEUES_HASH_KEY, field)).toBe(0);
    expect(await client.hexists(READY_QUEUES_HASH_KEY, '_epoch')).toBe(1);
  });

  it('keeps dedup working after a recycle', async () => {
    const k = queueKeys('mwlabFail', 'wiki1');
    expect(await farm.pushJobs('wiki1', { type: 'mwlabFail', dedupe: true, params: { page: 7 } })).toBe(1);
    const [id] = await client.lrange(k['l-unclaimed'], 0, -1);
    const sha1 = await client.hget(k['h-sha1ById'], id ?? '');
    expect(sha1).toMatch(/^[0-9a-z]{31}$/);

    await runJobs('wiki1', 'mwlabFail'); // popped (dedup entries removed by MediaWiki), failed
    expect(await client.hlen(k['h-idBySha1'])).toBe(0);
    clock.advanceSeconds(CLAIM_TTL + 1);
    expect((await chron.runPass()).counts.recycled).toBe(1);

    // Unclaimed again, so MediaWiki must treat an identical push as a duplicate (the original
    // chron left the dedup maps empty here and let a second copy in, W24).
    expect(await client.hget(k['h-idBySha1'], sha1 ?? '')).toBe(id);
    await farm.pushJobs('wiki1', { type: 'mwlabFail', dedupe: true, params: { page: 7 } });
    expect(await client.hlen(k['h-data'])).toBe(1);
    expect(await client.lrange(k['l-unclaimed'], 0, -1)).toEqual([id]);

    // The next pop clears the restored entries exactly as MediaWiki's own pop does.
    await runJobs('wiki1', 'mwlabFail');
    expect(await client.hlen(k['h-idBySha1'])).toBe(0);
    expect(await client.hlen(k['h-sha1ById'])).toBe(0);

    // A duplicate pushed while the first copy was claimed keeps its own entries after the recycle.
    await farm.pushJobs('wiki1', { type: 'mwlabFail', dedupe: true, params: { page: 7 } });
    const [newer] = await client.lrange(k['l-unclaimed'], 0, -1);
    expect(newer).not.toBe(id);
    clock.advanceSeconds(CLAIM_TTL + 1);
    expect((await chron.runPass()).counts.recycled).toBe(1);
    expect(await client.hget(k['h-idBySha1'], sha1 ?? '')).toBe(newer);
    expect(await client.hget(k['h-sha1ById'], id ?? '')).toBeNull();
  });

  it('works end to end for a wiki ID and a job type that need rawurlencode', async () => {
    const k = queueKeys(ODD_TYPE, ODD_WIKI);
    expect(k['z-delayed']).toBe('wiki%2B%C3%A9:jobqueue:odd%3AFail%2F%C3%A9%2Bx:z-delayed');
    expect(await farm.pushJobs(ODD_WIKI, { type: ODD_TYPE, count: 1, delaySeconds: 60 })).toBe(1);
    expect(await client.zcard(k['z-delayed'])).toBe(1);

    clock.advanceSeconds(61);
    const undelay = await chron.runPass();
    expect(undelay.counts.undelayed).toBe(1);
    expect(await client.hget(READY_QUEUES_HASH_KEY, 'odd%3AFail%2F%C3%A9%2Bx/wiki%2B%C3%A9')).toBe(
      String(clock.seconds),
    );

    expect((await runJobs(ODD_WIKI, ODD_TYPE)).jobs.map((j) => j.status)).toEqual(['failed']);
    clock.advanceSeconds(CLAIM_TTL + 1);
    expect((await chron.runPass()).counts.recycled).toBe(1);
    expect(await client.llen(k['l-unclaimed'])).toBe(1);
    expect(await client.sismember(QUEUES_WITH_JOBS_KEY, makeQueueId(ODD_TYPE, ODD_WIKI))).toBe(1);
  });

  it('leaves a corrupt job in place and moves malformed set members to the quarantine set, counted and logged once', async () => {
    const k = queueKeys('mwlabFail', 'wiki1');
    const badId = 'ffffffffffffffffffffffffffffffff';
    const corrupt = Buffer.from([0xff, 0xfe, 0x00, 0x61, 0x3a, 0x38, 0x3a, 0x7b]);
    await client.hset(k['h-data'], badId, corrupt);
    await client.zadd(k['z-claimed'], clock.seconds - CLAIM_TTL - 10, badId); // no h-attempts (W22)
    const malformed = ['not json', '["only-one"]', '{"type":"null"}'];
    await client.sadd(QUEUES_WITH_JOBS_KEY, makeQueueId('mwlabFail', 'wiki1'), ...malformed);

    const first = await chron.runPass();
    expect(first.processed[0]?.malformed).toBe(3);
    expect(first.processed[0]?.quarantined).toBe(3);
    const second = await chron.runPass();
    expect(second.processed[0]?.malformed).toBe(0);
    expect(chron.getStats().partitions[0]?.quarantined).toBe(3);
    for (const member of malformed) {
      expect(await client.sismember(QUEUES_WITH_JOBS_KEY, member)).toBe(0);
      expect(await client.sismember(QUARANTINE_KEY, member)).toBe(1);
      const logged = lines.filter((l) => String(l.msg).startsWith('Malformed member') && l.member === member);
      expect(logged).toHaveLength(1);
      expect(logged[0]?.partition).toBe(redis.address);
    }
    // The corrupt job was recycled like any other (a missing h-attempts counts as 0), data untouched.
    expect(await client.lrange(k['l-unclaimed'], 0, -1)).toEqual([badId]);
    expect(await client.hgetBuffer(k['h-data'], badId)).toEqual(corrupt);

    // MediaWiki cannot read it; it stays claimed and the chron still does not delete it.
    await runJobs('wiki1', 'mwlabFail');
    clock.advanceSeconds(CLAIM_TTL + 1);
    await chron.runPass();
    expect(await client.hgetBuffer(k['h-data'], badId)).toEqual(corrupt);
    expect(countLines(lines, 'Upkeep step failed for a queue; left as it is')).toBe(0);
  });
});
