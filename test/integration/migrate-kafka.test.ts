// `jobqueue migrate` between Redis and Kafka on the real farm and a real Kafka 4 broker: Redis jobs
// (from real edits and pushes) become signed mediawiki/job events that jobrunner's Kafka runner runs
// on MediaWiki through rpc/RunSingleJob.php (signature checked); pending events go back to Redis
// (the rollback), moving the runner's consumer offsets past them, and runJobs runs them there; a
// Redis → Kafka migration killed mid-way and resumed produces every event once.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/config/load.js';
import { startKafkaBroker, type KafkaBrokerHandle } from '../../src/farm/kafka-broker.js';
import { buildFarm, type FarmWebServer, type MediaWikiFarm } from '../../src/farm/mediawiki-farm.js';
import { startRedisServer, type RedisServerHandle } from '../../src/farm/redis-server.js';
import { startKafkaRunner, type KafkaRunner } from '../../src/kafka/runner.js';
import { jobTopic, ruleGroup } from '../../src/kafka/topics.js';
import { QUEUES_WITH_ABANDONED_KEY } from '../../src/chron/keys.js';
import { QUEUES_WITH_JOBS_KEY, makeQueueId, queueKeys } from '../../src/mediawiki/queue-keys.js';
import { KafkaIo } from '../../src/migrate/ends/kafka-io.js';
import { idFromEventId } from '../../src/migrate/job.js';
import type { MigrationReport } from '../../src/migrate/report.js';
import { quietLogger } from './kafka-support.js';
import { until } from '../support/until.js';
import { JOBQUEUE, JOBRUNNER, requireBuiltClis, runJobqueue } from './migrate-support.js';

const DC = 'mw';
let broker: KafkaBrokerHandle;
let redis: RedisServerHandle;
let farm: MediaWikiFarm;
let web: FarmWebServer;
let client: Redis;
let io: KafkaIo;
let configFile: string;
let runner: KafkaRunner | undefined;

interface RunJobsResult {
  jobs: { type: string; status: string }[];
}

beforeAll(async () => {
  requireBuiltClis();
  [broker, redis] = await Promise.all([startKafkaBroker({ defaultPartitions: 2 }), startRedisServer()]);
  farm = await buildFarm({ redis, debugLog: true });
  web = await farm.startWebServer({ workers: 3 }); // RunSingleJob.php checks mediawiki_signature by default
  client = new Redis({ host: redis.host, port: redis.port, lazyConnect: true });
  await client.connect();
  io = new KafkaIo([broker.address], 'migrate-test');
  configFile = join(farm.dir, 'kafka-migrate.conf');
  writeFileSync(
    configFile,
    JSON.stringify({
      backend: 'kafka',
      redis: { aggregators: [redis.address], queues: [redis.address] },
      dispatch: { secretKeyFile: farm.secretKeyFile },
      status: { enabled: false },
      kafka: {
        brokers: [broker.address],
        datacenter: DC,
        endpoint: `${web.baseUrl}/rpc/RunSingleJob.php`,
        startFrom: 'earliest',
        commitIntervalMs: 100,
        topicRefreshMs: 300,
        lowTraffic: { concurrency: 4 },
      },
    }),
  );
}, 240_000);

afterAll(async () => {
  await runner?.stop(false);
  client?.disconnect();
  await io?.close();
  try {
    await farm?.destroy();
  } finally {
    await Promise.allSettled([broker?.stop(), redis?.stop()]);
  }
}, 60_000);

function report(stdout: string): MigrationReport {
  return JSON.parse(stdout) as MigrationReport;
}

/** Every job ID stored in Redis (h-data of every queue). */
async function redisJobIds(): Promise<string[]> {
  const ids: string[] = [];
  for (const key of await client.keys('*:jobqueue:*:h-data')) ids.push(...(await client.hkeys(key)));
  return ids;
}

/** meta.id (as job IDs) of every event of the given types, from the start of their topics. */
async function eventIds(types: readonly string[]): Promise<string[]> {
  const topics = types.map((t) => jobTopic({ datacenter: DC, serviceName: '' }, t));
  const existing = new Set(await io.listTopics());
  const wanted = topics.filter((t) => existing.has(t));
  const ends = await io.endOffsets(wanted);
  const ranges = wanted.flatMap((topic) =>
    (ends.get(topic) ?? []).map((to, partition) => ({ topic, partition, from: 0n, to })),
  );
  return (await io.read(ranges)).map((r) =>
    idFromEventId((JSON.parse(r.value.toString('utf8')) as { meta: { id: string } }).meta.id),
  );
}

/** Jobs MediaWiki logged as run and good, by their `marker` param. */
function goodRuns(): Map<string, number> {
  const file = join(farm.dir, 'logs', 'runJobs.log');
  const counts = new Map<string, number>();
  if (!existsSync(file)) return counts;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const marker = / marker=(m[0-9a-z-]+)\b[^\n]* good$/.exec(line)?.[1];
    if (marker !== undefined) counts.set(marker, (counts.get(marker) ?? 0) + 1);
  }
  return counts;
}

describe('jobqueue migrate --from redis --to kafka', () => {
  it('turns Redis jobs into signed events that the Kafka runner runs on MediaWiki through RunSingleJob', async () => {
    await farm.edit('wiki1', 'Template:Box', 'box v1');
    await farm.importPages('wiki1', { Alpha: 'a {{Box}}', Beta: 'b {{Box}}' });
    await farm.edit('wiki2', 'Foo', 'see [[Bar]]');
    await farm.pushJobs('wiki1', { type: 'null', count: 20, params: { marker: 'm-a' } });
    await farm.pushJobs('wiki2', { type: 'null', count: 20, params: { marker: 'm-b' } });
    const ids = await redisJobIds();
    expect(ids.length).toBeGreaterThanOrEqual(45);

    const run = await runJobqueue([
      'migrate',
      '-c',
      configFile,
      '--from',
      'redis',
      '--to',
      'kafka',
      '--delete-source',
      '--json',
      '--no-progress',
      '--checkpoint',
      join(farm.dir, 'r2k.cp'),
    ]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(report(run.stdout).totals).toMatchObject({
      found: ids.length,
      copied: ids.length,
      verified: ids.length,
      deleted: ids.length,
    });
    expect(await redisJobIds()).toEqual([]);
    const types = ['null', 'htmlCacheUpdate', 'refreshLinks', 'recentChangesUpdate'];
    const events = await eventIds(types);
    expect(events.sort()).toEqual([...ids].sort());

    runner = await startKafkaRunner(loadConfigFile(configFile), { logger: quietLogger() });
    const okCount = () => runner?.stats().rules.reduce((sum, rule) => sum + rule.counters.ok, 0) ?? 0;
    await until(() => okCount() >= ids.length, `the Kafka runner ran ${ids.length} events`, 120_000);
    await until(
      () => (goodRuns().get('m-a') ?? 0) + (goodRuns().get('m-b') ?? 0) >= 40,
      'MediaWiki logged the null jobs',
    );
    expect(goodRuns().get('m-a')).toBe(20);
    expect(goodRuns().get('m-b')).toBe(20);
    const stats = runner.stats();
    expect(stats.rules.reduce((sum, rule) => sum + rule.counters.ok, 0)).toBe(ids.length);
    await runner.stop(true);
    runner = undefined;
  }, 180_000);

  it('killed mid-way and resumed: every event is produced once', async () => {
    await farm.pushJobs('wiki1', { type: 'null', count: 300, params: { marker: 'm-kill' } });
    const ids = await client.lrange(queueKeys('null', 'wiki1')['l-unclaimed'], 0, -1);
    expect(ids).toHaveLength(300);
    const before = new Set(await eventIds(['null']));
    const checkpoint = join(farm.dir, 'kill.cp');
    // Jobs the runner's MediaWiki runs may push follow-up jobs of other types to Redis: only null moves.
    const args = [
      'migrate',
      '-c',
      configFile,
      '--from',
      'redis',
      '--to',
      'kafka',
      '--type',
      'null',
      '--no-progress',
      '--json',
      '--checkpoint',
      checkpoint,
    ];
    const child = spawn(process.execPath, [JOBQUEUE, ...args, '--rate', '150'], { stdio: 'ignore' });
    const copied = () =>
      existsSync(checkpoint)
        ? readFileSync(checkpoint, 'utf8')
            .split('\n')
            .filter((l) => l.includes('"copied"')).length
        : 0;
    await until(() => copied() >= 3, 'some batches produced');
    child.kill('SIGKILL');
    await new Promise((done) => child.on('close', done));
    const resumed = await runJobqueue([...args, '--resume', '--delete-source']);
    expect(resumed.code).toBe(0);
    const result = report(resumed.stdout);
    expect(result.totals.alreadyCopied).toBeGreaterThan(0);
    expect(result.totals.copied + result.totals.alreadyCopied).toBe(300);
    expect(result.totals.deleted).toBe(300);
    const produced = (await eventIds(['null'])).filter((id) => !before.has(id));
    expect(produced).toHaveLength(300);
    expect(new Set(produced).size).toBe(300);
    expect([...produced].sort()).toEqual([...ids].sort());
  }, 120_000);
});

describe('jobqueue migrate --from kafka --to redis (rollback)', () => {
  it('moves pending events back to Redis and the runner offsets past them; runJobs runs them there', async () => {
    // The 300 events of the previous test are pending: the runner is stopped.
    const config = loadConfigFile(configFile);
    const lowTraffic = config.kafka?.rules.find((r) => r.lowTraffic);
    expect(lowTraffic).toBeDefined();
    const group = ruleGroup(
      { datacenter: DC, serviceName: config.kafka?.serviceName ?? '' },
      lowTraffic?.name ?? '',
    );
    const topic = jobTopic({ datacenter: DC, serviceName: '' }, 'null');
    const pending = await eventIds(['null']);
    const run = await runJobqueue([
      'migrate',
      '-c',
      configFile,
      '--from',
      'kafka',
      '--to',
      'redis',
      '--type',
      'null',
      '--delete-source',
      '--json',
      '--no-progress',
      '--checkpoint',
      join(farm.dir, 'k2r.cp'),
    ]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const result = report(run.stdout);
    expect(result.totals).toMatchObject({ copied: 300, verified: 300, deleted: 300, corrupt: 0 });
    // Back on Redis under the same IDs (meta.id without dashes).
    const onRedis = await client.lrange(queueKeys('null', 'wiki1')['l-unclaimed'], 0, -1);
    expect(new Set(onRedis).size).toBe(300);
    expect(pending).toEqual(expect.arrayContaining(onRedis));
    // The runner's group now starts after them.
    const ends = (await io.endOffsets([topic])).get(topic) ?? [];
    const committed = (await io.committed(group, [topic])).get(topic);
    ends.forEach((end, partition) => expect(committed?.get(partition)).toBe(end));
    const ran = ((await farm.runJobs('wiki1', { type: 'null' })) as RunJobsResult).jobs;
    expect(ran).toHaveLength(300);
    expect(ran.every((j) => j.status === 'ok')).toBe(true);
    expect(goodRuns().get('m-kill')).toBe(300);
  }, 120_000);
});

describe('jobqueue migrate from Redis while a Redis jobrunner still runs', () => {
  it('refuses (a dry run warns) until the runner stops, unless --allow-live-runners', async () => {
    await farm.pushJobs('wiki1', { type: 'null', count: 3, params: { marker: 'm-live' } });
    // A real jobrunner on the same Redis; its only group runs a type nobody pushes, so it takes
    // nothing here, but it announces itself like any runner.
    const runnerConfig = join(farm.dir, 'live-runner.conf');
    writeFileSync(
      runnerConfig,
      JSON.stringify({
        groups: { idle: { runners: 1, include: ['jr16Nothing'] } },
        redis: { aggregators: [redis.address], queues: [redis.address] },
        dispatcher: farm.runJobsCommand(),
        status: { enabled: false },
      }),
    );
    const live = spawn(process.execPath, [JOBRUNNER, `--config-file=${runnerConfig}`], { stdio: 'ignore' });
    const exited = new Promise((resolve) => live.once('exit', resolve));
    try {
      await until(
        async () => (await client.keys('jobrunner:runner-heartbeat:*')).length === 1,
        'runner heartbeat',
        30_000,
      );
      const before = (await redisJobIds()).length;
      const refused = await runJobqueue([
        'migrate',
        '--from',
        'redis',
        '--to',
        'kafka',
        '-c',
        configFile,
        '--delete-source',
        '--no-progress',
        '--type',
        'null',
      ]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(
        /1 jobrunner process\(es\) still take jobs from the source Redis: \S+ pid \d+/,
      );
      expect(refused.stderr).toContain('nothing was touched');
      expect((await redisJobIds()).length).toBe(before);
      const dry = await runJobqueue([
        'migrate',
        '--from',
        'redis',
        '--to',
        'kafka',
        '-c',
        configFile,
        '--dry-run',
        '--no-progress',
        '--type',
        'null',
      ]);
      expect(dry.code).toBe(0);
      expect(dry.stderr).toContain('warning: 1 jobrunner process(es) still take jobs');
      const allowed = await runJobqueue([
        'migrate',
        '--from',
        'redis',
        '--to',
        'kafka',
        '-c',
        configFile,
        '--dry-run',
        '--allow-live-runners',
        '--no-progress',
        '--type',
        'null',
      ]);
      expect([allowed.code, allowed.stderr.includes('still take jobs')]).toEqual([0, false]);
    } finally {
      live.kill('SIGTERM');
      await exited;
    }
    // A clean stop removes the heartbeat: the dry run no longer warns.
    expect(await client.keys('jobrunner:runner-heartbeat:*')).toEqual([]);
    const after = await runJobqueue([
      'migrate',
      '--from',
      'redis',
      '--to',
      'kafka',
      '-c',
      configFile,
      '--dry-run',
      '--no-progress',
      '--type',
      'null',
    ]);
    expect(after.code).toBe(0);
    expect(after.stderr).not.toContain('still take jobs');
  }, 120_000);
});

describe('jobqueue migrate --dry-run of abandoned jobs', () => {
  it('finds a queue that holds only abandoned jobs (kept in jobchron set, not s-queuesWithJobs)', async () => {
    const type = 'jr16Abandoned';
    await farm.pushJobs('wiki2', { type, count: 5 });
    // What 5 failed attempts and a jobchron pass leave behind: the IDs in z-abandoned, the queue
    // moved from s-queuesWithJobs to jobchron's s-queuesWithAbandoned.
    const k = queueKeys(type, 'wiki2');
    const ids = await client.lrange(k['l-unclaimed'], 0, -1);
    expect(ids).toHaveLength(5);
    const now = Math.floor(Date.now() / 1000);
    await client
      .multi()
      .del(k['l-unclaimed'])
      .zadd(k['z-abandoned'], ...ids.flatMap((id) => [now, id]))
      .srem(QUEUES_WITH_JOBS_KEY, makeQueueId(type, 'wiki2'))
      .sadd(QUEUES_WITH_ABANDONED_KEY, makeQueueId(type, 'wiki2'))
      .exec();
    const dry = await runJobqueue([
      'migrate',
      '--from',
      'redis',
      '--to',
      'kafka',
      '-c',
      configFile,
      '--dry-run',
      '--json',
      '--no-progress',
      '--type',
      type,
    ]);
    expect(dry.code).toBe(0);
    expect(report(dry.stdout).totals.found).toBe(5);
  }, 60_000);
});
