// The legacy → Redis cutover runbook on MariaDB job tables, as a test: a backlog in the JobQueueDB
// tables of two MariaDB sections; MediaWiki switched to Redis keeps pushing (and one app server still
// on the old configuration keeps writing rows); jobrunner (Redis) runs while the backlog moves; one
// MariaDB server crashes mid-migration and the wrapper, run again, resumes. Every job runs exactly
// once (MediaWiki's own runJobs log says so), no row is left, and the database password is nowhere
// in what the tools printed or saved. Then the rollback direction on the same tables.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFarm, type MediaWikiFarm } from '../../src/farm/mediawiki-farm.js';
import { startMemcached, type MemcachedHandle } from '../../src/farm/memcached-server.js';
import { startRedisServer, type RedisServerHandle } from '../../src/farm/redis-server.js';
import { JobTableClient } from '../../src/legacy/job-table-client.js';
import { queueKeys } from '../../src/mediawiki/queue-keys.js';
import type { MigrationReport } from '../../src/migrate/report.js';
import { isRunning, killDaemons, startDaemon, type Daemon } from '../support/daemon.js';
import { runProcess, type ProcessRun } from '../support/run-process.js';
import { until } from '../support/until.js';
import {
  JOBCHRON,
  JOBQUEUE,
  JOBRUNNER,
  jobTableRows,
  requireBuiltClis,
  runJobqueue,
  total,
  writeFarmConfig,
} from './migrate-support.js';

let memcached: MemcachedHandle;
let redis: RedisServerHandle;
let dbFarm: MediaWikiFarm;
let redisFarm: MediaWikiFarm;
let tables: JobTableClient;
let client: Redis;
let configFile: string;
const daemons: Daemon[] = [];

/** Jobs pushed per (wiki, phase, round): the runJobs log must show each exactly once. */
const pushed = new Map<string, number>();

async function push(farm: MediaWikiFarm, wiki: string, phase: string, round: number, count: number) {
  await farm.pushJobs(wiki, { type: 'null', count, params: { phase, round } });
  pushed.set(`${wiki} ${phase} ${round}`, count);
}

/** (wiki phase round seq) of every job MediaWiki started, from its runJobs debug log. */
function startedJobs(): string[] {
  return readFileSync(join(dbFarm.dir, 'logs', 'runJobs.log'), 'utf8')
    .split('\n')
    .filter((l) => l.endsWith(' STARTING') && / phase=/.test(l))
    .map((l) => {
      const wiki = / (wiki\d+): null /.exec(l)?.[1];
      const field = (name: string) => new RegExp(` ${name}=(\\S+)`).exec(l)?.[1];
      return `${wiki} ${field('phase')} ${field('round')} ${field('seq')}`;
    });
}

function expectedJobs(): string[] {
  return [...pushed].flatMap(([queue, count]) =>
    Array.from({ length: count }, (_, seq) => `${queue} ${seq}`),
  );
}

function wrapper(state: string): Promise<ProcessRun> {
  return runProcess(
    'bash',
    ['scripts/migrate/legacy-to-redis.sh', '--yes', '--config', configFile, '--rate', '400', '--batch', '50'],
    {
      env: { ...process.env, JOBQUEUE_MIGRATE_STATE: state, JOBQUEUE: `${process.execPath} ${JOBQUEUE}` },
    },
  );
}

beforeAll(async () => {
  requireBuiltClis();
  [memcached, redis] = await Promise.all([startMemcached(), startRedisServer()]);
  dbFarm = await buildFarm({
    redis,
    queue: 'db',
    wikis: 6,
    memcached: memcached.address,
    mariadb: { sections: 2 },
    debugLog: true,
  });
  redisFarm = dbFarm.withQueue('redis');
  tables = new JobTableClient();
  client = new Redis({ host: redis.host, port: redis.port, lazyConnect: true });
  await client.connect();
  configFile = writeFarmConfig(join(dbFarm.dir, 'cutover.conf'), {
    farm: redisFarm,
    redis: redis.address,
    memcached: memcached.address,
  });
}, 180_000);

afterAll(async () => {
  await killDaemons(daemons);
  client?.disconnect();
  tables?.close();
  try {
    await dbFarm?.destroy();
  } finally {
    await Promise.allSettled([memcached?.stop(), redis?.stop()]);
  }
});

describe('legacy → Redis cutover on MariaDB job tables', () => {
  it('moves the backlog while MediaWiki pushes, survives a MariaDB crash by resuming, runs every job once', async () => {
    // The legacy era's backlog: 150 jobs on each of the six wikis, in both sections.
    for (const wiki of dbFarm.wikis) await push(dbFarm, wiki, 'backlog', 0, 150);
    expect(total(await jobTableRows(tables, dbFarm))).toBe(900);

    // Runbook 1–4: MediaWiki now pushes to Redis; jobchron and jobrunner run the Redis configuration.
    daemons.push(startDaemon(JOBCHRON, configFile), startDaemon(JOBRUNNER, configFile));
    let pushing = true;
    const pushers = (async () => {
      for (let round = 1; pushing; round++) {
        await push(redisFarm, 'wiki1', 'live-redis', round, 20);
        // An app server the deploy has not reached yet still writes rows to wiki2's job table.
        await push(dbFarm, 'wiki2', 'live-db', round, 5);
      }
    })();

    // Runbook 5, interrupted: s1's server crashes after a few batches of the copy.
    const state = join(dbFarm.dir, 'migrate-state');
    const checkpoint = join(state, 'legacy-to-redis.checkpoint');
    const first = wrapper(state);
    const copiedBatches = () => {
      try {
        return readFileSync(checkpoint, 'utf8')
          .split('\n')
          .filter((l) => l.includes('"copied"')).length;
      } catch {
        return 0;
      }
    };
    await until(() => copiedBatches() >= 3, 'a few batches copied', 120_000);
    const s1 = dbFarm.mariadb!.sectionOf('wiki1').server;
    await s1.kill9();
    const interrupted = await first;
    expect(interrupted.code).not.toBe(0);
    await s1.restart(); // InnoDB crash recovery on the same data dir and port

    // Runbook "if a migration is interrupted": the same wrapper again resumes.
    const resumed = await wrapper(state);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain('continuing the interrupted migration');
    pushing = false;
    await pushers;

    // Runbook 6 (verify), with stragglers written by the late app server: one more run moves them.
    const last = await wrapper(state);
    expect(last.code, last.stderr).toBe(0);
    expect(total(await jobTableRows(tables, dbFarm))).toBe(0);
    const reports = readdirSync(state)
      .filter((f) => f.endsWith('.json'))
      .map((f) => readFileSync(join(state, f), 'utf8'))
      .filter((text) => text !== '') // the crashed run's report: it printed none
      .map((text) => JSON.parse(text) as MigrationReport);
    expect(reports).toHaveLength(2);
    for (const r of reports) {
      expect(r.totals.corrupt).toBe(0);
      expect(r.totals.mismatched).toBe(0);
      expect(r.totals.verified).toBe(r.totals.copied + r.totals.alreadyCopied);
    }

    // Every job ran exactly once, whichever way it reached Redis.
    const want = expectedJobs();
    await until(() => startedJobs().length >= want.length, `all ${want.length} jobs started`, 180_000, {
      detail: () => `started ${startedJobs().length}`,
    });
    await until(
      async () => {
        for (const key of await client.keys('*:jobqueue:null:l-unclaimed')) {
          if ((await client.llen(key)) > 0) return false;
        }
        return true;
      },
      'Redis queues drained',
      60_000,
    );
    const started = startedJobs();
    expect(started.length).toBe(want.length);
    expect(new Set(started)).toEqual(new Set(want));
    for (const d of daemons) d.child.kill('SIGTERM');
    for (const d of daemons) expect((await d.exited).code).toBe(0);

    // The password is in no output, report, checkpoint or log of the migration and the daemons.
    const password = dbFarm.mariadb!.password;
    const written = [interrupted, resumed, last].flatMap((r) => [r.stdout, r.stderr]);
    written.push(...readdirSync(state).map((f) => readFileSync(join(state, f), 'utf8')));
    written.push(...daemons.map((d) => JSON.stringify(d.logs)));
    for (const text of written) expect(text).not.toContain(password);
    // The crash is one clear error naming the wiki and its DSN.
    expect(interrupted.stderr).toMatch(
      /jobqueue migrate: error: job table of wiki wiki[135] \(mysql:host=127\.0\.0\.1;port=\d+;dbname=wiki[135], user jobrunner\): /,
    );
  }, 420_000);
});

describe('rollback: Redis → MariaDB job tables', () => {
  it("moves Redis jobs into the wikis' MariaDB tables, where runJobs (JobQueueDB) runs them", async () => {
    // The Redis runner is stopped before a rollback (SIGTERM: it drains and removes its heartbeat,
    // which migrate's preflight would otherwise take for a live runner on the source).
    for (const d of daemons) if (isRunning(d)) d.child.kill('SIGTERM');
    await Promise.all(daemons.map((d) => d.exited));
    await push(redisFarm, 'wiki4', 'rollback', 0, 30);
    const ids = await client.lrange(queueKeys('null', 'wiki4')['l-unclaimed'], 0, -1);
    expect(ids).toHaveLength(30);
    const run = await runJobqueue([
      'migrate',
      '-c',
      configFile,
      '--from',
      'redis',
      '--to',
      'memcached',
      '--delete-source',
      '--json',
      '--no-progress',
      '--checkpoint',
      join(dbFarm.dir, 'back.cp'),
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect((JSON.parse(run.stdout) as MigrationReport).totals).toMatchObject({
      copied: 30,
      verified: 30,
      deleted: 30,
    });
    expect((await jobTableRows(tables, dbFarm)).get('wiki4')).toBe(30);
    const ran = (await dbFarm.runJobs('wiki4', { type: 'null' })) as { jobs: { status: string }[] };
    expect(ran.jobs).toHaveLength(30);
    expect(ran.jobs.every((j) => j.status === 'ok')).toBe(true);
    expect(run.stdout + run.stderr).not.toContain(dbFarm.mariadb!.password);
  }, 120_000);
});
