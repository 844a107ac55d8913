// The whole Kafka chain with real parts on both ends: MediaWiki 1.39 with the unmodified EventBus
// REL1_39 (JobQueueEventBus for every job type) POSTs its job events to jobrunner-intake, which
// produces them to a real Kafka 4 broker; the Kafka runner executes them through BOTH executors —
// EventBus's own REST RunSingleJobHandler (signature always checked) and the project's
// rpc/RunSingleJob.php (signature check on) — and MediaWiki's runJobs log shows what ran. The farm
// starts on JobQueueRedis with a Redis jobrunner, and the first test is the live cutover runbook.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKafkaBroker, type KafkaBrokerHandle } from '../../src/farm/kafka-broker.js';
import { buildFarm, type FarmWebServer, type MediaWikiFarm } from '../../src/farm/mediawiki-farm.js';
import { startRedisServer, type RedisServerHandle } from '../../src/farm/redis-server.js';
import { startIntake, type RunningIntake } from '../../src/intake/daemon.js';
import { startKafkaRunner, type KafkaRunner } from '../../src/kafka/runner.js';
import type { MigrationReport } from '../../src/migrate/report.js';
import { until } from '../support/until.js';
import { kafkaConfig, quietLogger, readTopic, waitFor } from './kafka-support.js';
import { JOBRUNNER, requireBuiltClis, runJobqueue } from './migrate-support.js';

let broker: KafkaBrokerHandle;
let redis: RedisServerHandle;
let intake: RunningIntake;
let farm: MediaWikiFarm;
let web: FarmWebServer | undefined;
let runner: KafkaRunner | undefined;
let redisClient: Redis;

const DC = 'chain';

beforeAll(async () => {
  requireBuiltClis();
  [broker, redis] = await Promise.all([startKafkaBroker(), startRedisServer()]);
  redisClient = new Redis({ host: redis.host, port: redis.port });
  const base = kafkaConfig(
    { brokers: [broker.address], datacenter: DC, endpoint: 'http://127.0.0.1:1/unused' },
    redis.address,
    { intake: { port: 0 } },
  );
  intake = await startIntake(base, { logger: quietLogger() });
  // JobQueueRedis first (the cutover test switches it); EventBus is loaded for the switch.
  farm = await buildFarm({ redis, wikis: 2, eventBus: true, eventServiceUrl: intake.url, debugLog: true });
  await farm.setExtraJobTypes({
    chainRest: 'null',
    chainRpc: 'null',
    chainDelayed: 'null',
    chainDedup: 'null',
    chainLive: 'null',
  });
}, 300_000);

/** MediaWiki on JobQueueEventBus, and php -S for the executors (started after the switch). */
async function eventBusMode(): Promise<FarmWebServer> {
  farm.setQueue('eventbus');
  if (web !== undefined) return web;
  // rpc/RunSingleJob.php checks signatures by default (EventBus's REST handler always does).
  web = await farm.startWebServer({ workers: 4 });
  return web;
}

afterAll(async () => {
  await runner?.stop(false);
  redisClient?.disconnect();
  await farm?.destroy();
  await intake?.stop();
  await Promise.allSettled([broker?.stop(), redis?.stop()]);
}, 60_000);

async function startRunner(): Promise<KafkaRunner> {
  const web = await eventBusMode();
  const rest = `${web.baseUrl}/rest.php/eventbus/v0/internal/job/execute?wiki={database}`;
  const config = kafkaConfig(
    {
      brokers: [broker.address],
      datacenter: DC,
      endpoint: `${web.baseUrl}/rpc/RunSingleJob.php`,
      rules: {
        // EventBus's own executor: the test type and the jobs a template edit makes.
        viaRest: { types: ['chainRest', 'refreshLinks', 'htmlCacheUpdate'], endpoint: rest, concurrency: 4 },
      },
      lowTraffic: { concurrency: 4 },
      ruleDefaults: { retryLimit: 1, retryDelayMs: 200 },
    },
    redis.address,
  );
  return startKafkaRunner(config, { logger: quietLogger() });
}

interface Run {
  readonly type: string;
  readonly marker: string | undefined;
  readonly seq: string | undefined;
  readonly at: number;
  readonly good: boolean;
}

/**
 * Job runs in MediaWiki's runJobs log: JobRunner::executeJob writes "<date> <time> <host> <wiki>:
 * <type> <title> <params> t=<ms> good" (or "error=...") for every job either executor ran.
 */
function runs(): Run[] {
  const file = join(farm.dir, 'logs', 'runJobs.log');
  if (!existsSync(file)) return [];
  const out: Run[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^(\S+) (\S+) \S+ \S+: (\S+) [^\n]* t=\S+ (good|error)/.exec(line);
    if (m === null) continue;
    out.push({
      type: m[3] ?? '',
      marker: / marker=(\S+)/.exec(line)?.[1],
      seq: / seq=(\d+)/.exec(line)?.[1],
      at: Date.parse(`${m[1]}T${m[2]}Z`),
      good: m[4] === 'good',
    });
  }
  return out;
}

function countBy(list: Run[], key: (r: Run) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of list) counts.set(key(r), (counts.get(key(r)) ?? 0) + 1);
  return counts;
}

describe('live cutover Redis → Kafka while MediaWiki keeps pushing', () => {
  it('follows the runbook: no job lost, none run twice, the Redis backlog moved by jobqueue migrate', async () => {
    // A real Redis jobrunner (runJobs.php) runs the jobs while MediaWiki pushes on JobQueueRedis.
    const conf = join(farm.dir, 'redis-runner.conf');
    writeFileSync(
      conf,
      JSON.stringify({
        groups: { all: { runners: 2, include: ['*'] } },
        redis: { aggregators: [redis.address], queues: [redis.address] },
        dispatcher: farm.runJobsCommand(),
        status: { enabled: false },
      }),
    );
    const redisRunner = spawn(process.execPath, [JOBRUNNER, `--config-file=${conf}`], { stdio: 'ignore' });
    const redisRunnerExit = new Promise((resolve) => redisRunner.once('exit', resolve));
    // The pushes go on through every step: 10 jobs per request, each with its own seq.
    let pushing = true;
    let pushed = 0;
    const pusher = (async () => {
      for (let round = 0; pushing; round++) {
        await farm.pushJobs(round % 2 === 0 ? 'wiki1' : 'wiki2', {
          type: 'chainLive',
          count: 10,
          params: { marker: `live${round}` },
        });
        pushed += 10;
      }
    })();
    await waitFor(
      'the Redis runner to run pushed jobs',
      () => runs().some((r) => r.type === 'chainLive'),
      60_000,
    );

    // Runbook step 2: stop the Redis runner (its heartbeat goes with it).
    redisRunner.kill('SIGTERM');
    await redisRunnerExit;
    await until(
      async () => (await redisClient.keys('jobrunner:runner-heartbeat:*')).length === 0,
      'heartbeat gone',
    );
    // Step 3: MediaWiki switches to JobQueueEventBus; step 4: the Kafka runner starts.
    runner = await startRunner();
    // Step 5: move the Redis backlog, rerunning until the dry run finds nothing.
    const migrateConf = join(farm.dir, 'migrate.conf');
    writeFileSync(
      migrateConf,
      JSON.stringify({
        backend: 'kafka',
        redis: { aggregators: [redis.address], queues: [redis.address] },
        dispatch: { secretKeyFile: farm.secretKeyFile },
        status: { enabled: false },
        kafka: { brokers: [broker.address], datacenter: DC, endpoint: 'http://127.0.0.1:1/unused' },
      }),
    );
    const args = [
      'migrate',
      '--from',
      'redis',
      '--to',
      'kafka',
      '-c',
      migrateConf,
      '--no-progress',
      '--json',
    ];
    let moved = 0;
    for (let pass = 0; ; pass++) {
      const checkpoint = join(farm.dir, `cutover-${pass}.checkpoint`);
      const real = await runJobqueue([...args, '--delete-source', '--checkpoint', checkpoint]);
      expect(real.code, real.stderr).toBe(0);
      moved += (JSON.parse(real.stdout) as MigrationReport).totals.deleted;
      const dry = await runJobqueue([...args, '--dry-run']);
      if ((JSON.parse(dry.stdout) as MigrationReport).totals.found === 0) break;
      expect(pass).toBeLessThan(5);
    }
    pushing = false;
    await pusher;
    // Every job pushed ran exactly once: in Redis before the cutover, or in Kafka after it.
    const expected = pushed;
    await waitFor(
      'every pushed job to run',
      () => runs().filter((r) => r.type === 'chainLive' && r.good).length >= expected,
      120_000,
    );
    await waitFor(
      'the Kafka runner to be idle',
      () => runner?.stats().rules.every((r) => r.executing === 0) ?? false,
    );
    const live = runs().filter((r) => r.type === 'chainLive');
    expect(live.filter((r) => !r.good)).toEqual([]);
    const perJob = countBy(live, (r) => `${r.marker}:${r.seq}`);
    expect(perJob.size).toBe(expected);
    expect([...perJob.entries()].filter(([, n]) => n !== 1)).toEqual([]);
    // Facts of this run, for the reader: how much of the backlog the migration moved.
    process.stdout.write(`cutover: ${expected} jobs pushed, ${moved} moved from Redis by jobqueue migrate\n`);
  }, 240_000);
});

describe('MediaWiki EventBus → intake → Kafka → jobrunner → MediaWiki', () => {
  it('runs every job MediaWiki pushed exactly once, through both executors, signatures on', async () => {
    // Pushed while no runner runs (a backlog), so the dedup case below is about queued copies.
    await runner?.stop(true);
    runner = undefined;
    await eventBusMode();
    // Pushed through MediaWiki's own JobQueueGroup, i.e. JobQueueEventBus → the intake.
    await farm.pushJobs('wiki1', { type: 'chainRest', count: 25, params: { marker: 'rest' }, batch: 10 });
    await farm.pushJobs('wiki2', { type: 'chainRpc', count: 25, params: { marker: 'rpc' }, batch: 10 });
    // Identical de-duplicatable jobs pushed in three requests, 1.2 s apart, before the runner runs:
    // one run covers them all (each was queued before that run started).
    for (let i = 0; i < 3; i++) {
      await farm.pushJobs('wiki1', {
        type: 'chainDedup',
        count: 2,
        dedupe: true,
        params: { marker: 'dedup' },
      });
      await new Promise((r) => setTimeout(r, 1200));
    }
    // Delayed jobs: released 4 s from now.
    const releaseAt = Math.floor(Date.now() / 1000) + 4;
    await farm.pushJobs('wiki2', {
      type: 'chainDelayed',
      count: 5,
      delaySeconds: 4,
      params: { marker: 'late' },
    });
    expect(intake.stats().events.invalid).toBe(0);

    runner = await startRunner();
    await waitFor(
      'the pushed jobs in the runJobs log',
      () => {
        const byMarker = countBy(
          runs().filter((r) => r.good),
          (r) => r.marker ?? '',
        );
        return byMarker.get('rest') === 25 && byMarker.get('rpc') === 25 && byMarker.get('late') === 5;
      },
      120_000,
    );
    // Settle: nothing else may run (no duplicates), and nothing failed.
    await waitFor(
      'the runner to be idle',
      () => runner?.stats().rules.every((r) => r.executing === 0) ?? false,
    );
    const all = runs();
    expect(all.filter((r) => !r.good)).toEqual([]);
    const perJob = countBy(
      all.filter((r) => r.marker === 'rest' || r.marker === 'rpc'),
      (r) => `${r.marker}:${r.seq}`,
    );
    expect(perJob.size).toBe(50);
    expect([...perJob.values()].every((n) => n === 1)).toBe(true);
    // JobQueueEventBus merged each request's two identical jobs into one event (3 events); the
    // runner's dedup merged the three into one run.
    const dedupEvents = await readTopic(
      [broker.address],
      `${DC}.mediawiki.job.chainDedup`,
      (m) => m.length >= 3,
    );
    expect(dedupEvents).toHaveLength(3);
    expect(all.filter((r) => r.marker === 'dedup')).toHaveLength(1);
    // Delayed jobs waited for their release time.
    for (const late of all.filter((r) => r.marker === 'late'))
      expect(late.at).toBeGreaterThanOrEqual(releaseAt * 1000);
    const stats = runner.stats();
    const viaRest = stats.rules.find((r) => r.name === 'viaRest');
    const viaRpc = stats.rules.find((r) => r.lowTraffic);
    expect(viaRest?.counters.ok).toBeGreaterThanOrEqual(25);
    expect(viaRpc?.counters.ok).toBeGreaterThanOrEqual(25 + 5 + 1);
    expect(viaRpc?.counters.duplicates).toBe(2);
    expect(stats.rules.reduce((n, r) => n + r.counters.failed, 0)).toBe(0);
  }, 240_000);

  it('a template edit makes MediaWiki push refreshLinks jobs that run through EventBus REST', async () => {
    // Pages that use a template; the template then gains a category, which reaches the pages only
    // when their refreshLinks jobs run.
    const pages: Record<string, string> = {};
    for (let i = 0; i < 5; i++) pages[`Chain_page_${i}`] = `Text {{Chained}} ${i}`;
    await farm.importPages('wiki1', { 'Template:Chained': 'plain', ...pages });
    const before = runs().filter((r) => r.type === 'refreshLinks' && r.good).length;
    await farm.edit('wiki1', 'Template:Chained', 'now with [[Category:Chained pages]]');
    const members = async (): Promise<number> => {
      const url = `${(await eventBusMode()).baseUrl}/api.php?wiki=wiki1&action=query&list=categorymembers&cmtitle=Category:Chained_pages&cmlimit=50&format=json`;
      const body = (await (await fetch(url)).json()) as {
        query?: { categorymembers?: { title: string }[] };
      };
      // The template itself joins the category too (its own links update): count the pages only.
      return (body.query?.categorymembers ?? []).filter((m) => m.title.startsWith('Chain page')).length;
    };
    try {
      await waitFor(
        'the 5 pages in the category (their refreshLinks jobs ran)',
        async () => (await members()) === 5,
        120_000,
      );
    } catch (error) {
      const diag = {
        intake: intake.stats(),
        rules: runner
          ?.stats()
          .rules.map((r) => ({ name: r.name, topics: r.topics, counters: r.counters, lag: r.lag })),
        runs: runs()
          .filter((r) => !r.type.startsWith('chain'))
          .map((r) => `${r.type} ${r.good}`),
        members: await members(),
      };
      process.stdout.write(`DIAG ${JSON.stringify(diag)}\n`);
      throw error;
    }
    expect(runs().filter((r) => r.type === 'refreshLinks' && r.good).length).toBeGreaterThan(before);
    const viaRest = runner?.stats().rules.find((r) => r.name === 'viaRest');
    expect(viaRest?.counters.failed).toBe(0);
  }, 180_000);
});
