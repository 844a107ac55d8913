// `jobqueue migrate` between the legacy backend (JobQueueDB tables + memcached) and Redis, on the
// real farm: jobs from real edits move to Redis and MediaWiki's runJobs (Redis configuration) runs
// them all; a migration killed mid-way and resumed leaves every job on Redis exactly once; corrupt
// rows and fresh claims stay in the tables, reported; the rollback (Redis → legacy) works the same.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFarm, type MediaWikiFarm } from '../../src/farm/mediawiki-farm.js';
import { startMemcached, type MemcachedHandle } from '../../src/farm/memcached-server.js';
import { startRedisServer, type RedisServerHandle } from '../../src/farm/redis-server.js';
import { JobTableClient, type JobTableDb } from '../../src/legacy/job-table-client.js';
import { unixToTsMw } from '../../src/legacy/mw-timestamp.js';
import { rowId } from '../../src/migrate/convert/db-row.js';
import type { MigrationReport } from '../../src/migrate/report.js';
import { queueKeys } from '../../src/mediawiki/queue-keys.js';
import { until } from '../support/until.js';
import {
  JOBQUEUE,
  jobTableRows,
  requireBuiltClis,
  runJobqueue,
  runScript,
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

function db(wiki: string): JobTableDb {
  return { dsn: `sqlite:${dbFarm.dir}/data/${wiki}_jobqueue.sqlite`, prefix: '' };
}

/** Stable IDs of every row in a wiki's job table (what migrate names them on the target). */
async function rowIds(wiki: string): Promise<string[]> {
  const rows = await tables.read(db(wiki), { after: 0, limit: 10_000 });
  return rows.map((row) => rowId(wiki, row));
}

async function redisIds(wiki: string, type: string): Promise<string[]> {
  return client.lrange(queueKeys(type, wiki)['l-unclaimed'], 0, -1);
}

function migrateArgs(...extra: string[]): string[] {
  return ['migrate', '-c', configFile, '--no-progress', '--json', ...extra];
}

function report(stdout: string): MigrationReport {
  return JSON.parse(stdout) as MigrationReport;
}

interface RunJobsResult {
  jobs: { type: string; status: string }[];
}

beforeAll(async () => {
  requireBuiltClis();
  memcached = await startMemcached();
  redis = await startRedisServer();
  dbFarm = await buildFarm({ redis, queue: 'db', memcached: memcached.address });
  // The same wikis, configured for the Redis job queue (the state after the cutover).
  redisFarm = await buildFarm({ dir: dbFarm.dir, redis, memcached: memcached.address });
  tables = new JobTableClient();
  client = new Redis({ host: redis.host, port: redis.port, lazyConnect: true });
  await client.connect();
  configFile = writeFarmConfig(join(dbFarm.dir, 'migrate.conf'), {
    farm: dbFarm,
    redis: redis.address,
    memcached: memcached.address,
  });
}, 120_000);

afterAll(async () => {
  client?.disconnect();
  tables?.close();
  try {
    await dbFarm?.destroy();
  } finally {
    await Promise.allSettled([memcached?.stop(), redis?.stop()]);
  }
});

describe('jobqueue migrate --from memcached --to redis', () => {
  it('moves the jobs of real edits to Redis, where runJobs (Redis configuration) runs them all ok', async () => {
    await dbFarm.edit('wiki1', 'Template:Box', 'box v1');
    await dbFarm.importPages('wiki1', { Alpha: 'a {{Box}}', Beta: 'b {{Box}}' });
    await dbFarm.edit('wiki1', 'Template:Box', 'box v2');
    await dbFarm.edit('wiki2', 'Foo', 'see [[Bar]]');
    const before = await jobTableRows(tables, dbFarm);
    const ids = { wiki1: await rowIds('wiki1'), wiki2: await rowIds('wiki2') };
    expect(total(before)).toBeGreaterThanOrEqual(6);

    // Through the cutover wrapper: dry run, then copy + verify + delete, report saved as JSON.
    const state = join(dbFarm.dir, 'state');
    const env = { JOBQUEUE_MIGRATE_STATE: state, JOBQUEUE: `${process.execPath} ${JOBQUEUE}` };
    // Without a terminal to ask on and without --yes, the wrapper stops after the dry run.
    const unasked = await runScript('scripts/migrate/legacy-to-redis.sh', ['--config', configFile], env);
    expect(unasked.code).toBe(2);
    expect(unasked.stderr).toContain('pass --yes');
    expect(total(await jobTableRows(tables, dbFarm))).toBe(total(before));
    const wrapper = await runScript(
      'scripts/migrate/legacy-to-redis.sh',
      ['--yes', '--config', configFile],
      env,
    );
    expect(wrapper.code).toBe(0);
    expect(wrapper.stdout).toMatch(/^WIKI +TYPE +FOUND +COPIED/); // the dry run's table
    const saved = readdirSync(state).filter((f) => f.endsWith('.json'));
    expect(saved).toHaveLength(1);
    const result = report(readFileSync(join(state, saved[0] ?? ''), 'utf8'));
    expect(result.totals).toMatchObject({
      found: total(before),
      copied: total(before),
      verified: total(before),
      deleted: total(before),
      corrupt: 0,
      mismatched: 0,
      skipped: 0,
    });
    expect(total(await jobTableRows(tables, dbFarm))).toBe(0);

    // Every job is on Redis under its stable ID, once.
    const stored: string[] = [];
    for (const wiki of ['wiki1', 'wiki2'] as const) {
      for (const key of await client.keys(`${wiki}:jobqueue:*:h-data`))
        stored.push(...(await client.hkeys(key)));
    }
    expect(stored.sort()).toEqual([...ids.wiki1, ...ids.wiki2].sort());

    // MediaWiki itself runs them from Redis.
    const ran: { type: string; status: string }[] = [];
    for (const wiki of redisFarm.wikis) ran.push(...((await redisFarm.runJobs(wiki)) as RunJobsResult).jobs);
    expect(ran.length).toBeGreaterThanOrEqual(total(before));
    expect(ran.filter((j) => j.status !== 'ok')).toEqual([]);
    for (const key of await client.keys('*:jobqueue:*:l-unclaimed')) expect(await client.llen(key)).toBe(0);
  });

  it('killed mid-way and resumed: every job ends on Redis exactly once', async () => {
    await dbFarm.pushJobs('wiki2', { type: 'null', count: 400 });
    const expected = await rowIds('wiki2');
    expect(expected).toHaveLength(400);
    const checkpoint = join(dbFarm.dir, 'kill.checkpoint');
    const args = migrateArgs(
      '--from',
      'memcached',
      '--to',
      'redis',
      '--type',
      'null',
      '--rate',
      '200',
      '--checkpoint',
      checkpoint,
    );
    const child = spawn(process.execPath, [JOBQUEUE, ...args], { stdio: 'ignore' });
    const copiedLines = () =>
      existsSync(checkpoint)
        ? readFileSync(checkpoint, 'utf8')
            .split('\n')
            .filter((l) => l.includes('"copied"')).length
        : 0;
    await until(() => copiedLines() >= 3, 'some batches copied');
    child.kill('SIGKILL');
    await new Promise((done) => child.on('close', done));
    const partial = (await redisIds('wiki2', 'null')).length;
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(400);

    // Without --resume an unfinished checkpoint is refused.
    const refused = await runJobqueue(
      migrateArgs('--from', 'memcached', '--to', 'redis', '--type', 'null', '--checkpoint', checkpoint),
    );
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/unfinished migration: continue it with --resume/);

    const resumed = await runJobqueue([
      ...args.filter((a, i) => a !== '--rate' && args[i - 1] !== '--rate'),
      '--resume',
      '--delete-source',
    ]);
    expect(resumed.code).toBe(0);
    const result = report(resumed.stdout);
    expect(result.totals.copied + result.totals.alreadyCopied).toBe(400);
    expect(result.totals.alreadyCopied).toBeGreaterThanOrEqual(partial);
    expect(result.totals.verified).toBe(400);
    const onRedis = await redisIds('wiki2', 'null');
    expect(onRedis).toHaveLength(400);
    expect(new Set(onRedis).size).toBe(400);
    expect([...onRedis].sort()).toEqual([...expected].sort());
    expect(await client.hlen(queueKeys('null', 'wiki2')['h-data'])).toBe(400);
    expect(total(await jobTableRows(tables, dbFarm))).toBe(0);
    const ran = ((await redisFarm.runJobs('wiki2', { type: 'null' })) as RunJobsResult).jobs;
    expect(ran).toHaveLength(400);
    expect(ran.every((j) => j.status === 'ok')).toBe(true);
  });

  it('reports corrupt rows and fresh claims and leaves them in place; refuses --delete-source with --dry-run', async () => {
    await dbFarm.pushJobs('wiki1', { type: 'null', count: 3 });
    const now = Math.floor(Date.now() / 1000);
    const base = {
      namespace: -1,
      title: '',
      timestamp: unixToTsMw(now),
      random: 1,
      attempts: 0,
      tokenTimestamp: null,
      sha1: '',
    };
    await tables.insert(db('wiki1'), [
      { ...base, key: 'corrupt-1', cmd: 'null', params: Buffer.from('a:2:{s:3:"seq";i:1;'), token: '' },
      {
        ...base,
        key: 'claimed-1',
        cmd: 'null',
        params: Buffer.from('a:0:{}'),
        token: 'f'.repeat(32),
        attempts: 1,
        tokenTimestamp: unixToTsMw(now - 5),
      },
    ]);
    const dry = await runJobqueue(
      migrateArgs('--from', 'memcached', '--to', 'redis', '--dry-run', '--delete-source'),
    );
    expect(dry.code).toBe(2);
    expect(dry.stderr).toMatch(/--delete-source refused with --dry-run/);

    const run = await runJobqueue(
      migrateArgs('--from', 'memcached', '--to', 'redis', '--wiki', 'wiki1', '--delete-source'),
      dbFarm.dir,
    );
    expect(run.code).toBe(1);
    const result = report(run.stdout);
    const queue = result.queues.find((q) => q.wiki === 'wiki1' && q.type === 'null');
    expect(queue).toMatchObject({ found: 5, copied: 3, verified: 3, deleted: 3, corrupt: 1 });
    expect(queue?.corruptRecords[0]?.reason).toMatch(/job_params does not unserialize/);
    expect(Object.keys(queue?.skipped ?? {})[0]).toMatch(
      /^claimed \d+ s ago and may be running \(claimTTL 3600 s\)/,
    );
    // Both stay in the table.
    expect((await jobTableRows(tables, dbFarm)).get('wiki1')).toBe(2);
    const text = await runJobqueue(
      migrateArgs(
        '--from',
        'memcached',
        '--to',
        'redis',
        '--wiki',
        'wiki1',
        '--checkpoint',
        join(dbFarm.dir, 'text.cp'),
      ).filter((a) => a !== '--json'),
    );
    expect(text.stdout).toMatch(
      /corrupt in wiki1 null: wiki1 job_id \d+: job_params does not unserialize .* \(left in the source\)/,
    );
    await redisFarm.runJobs('wiki1', { type: 'null' });
    // Remove the two rows by hand (MediaWiki's runJobs would die on the corrupt one).
    const left = await tables.fetch(db('wiki1'), [
      ...(await tables.lookup(db('wiki1'), ['corrupt-1', 'claimed-1'])).values(),
    ]);
    expect(await tables.deleteUnchanged(db('wiki1'), left)).toHaveLength(2);
  });

  it('refuses to start when an end is unreachable, touching nothing', async () => {
    const bad = writeFarmConfig(join(dbFarm.dir, 'unreachable.conf'), {
      farm: dbFarm,
      redis: '127.0.0.1:9',
      memcached: memcached.address,
    });
    await dbFarm.pushJobs('wiki2', { type: 'null', count: 2 });
    const checkpoint = join(dbFarm.dir, 'unreachable.cp');
    const run = await runJobqueue([
      'migrate',
      '-c',
      bad,
      '--from',
      'memcached',
      '--to',
      'redis',
      '--checkpoint',
      checkpoint,
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /preflight failed; nothing was touched:\n {2}target redis \(127\.0\.0\.1:9\): redis 127\.0\.0\.1:9: .*ECONNREFUSED/,
    );
    expect(existsSync(checkpoint)).toBe(false);
    expect((await jobTableRows(tables, dbFarm)).get('wiki2')).toBe(2);
    const noSection = join(dbFarm.dir, 'no-memcached.conf');
    writeFileSync(
      noSection,
      JSON.stringify({
        groups: { g: { runners: 1, include: ['*'] } },
        redis: { aggregators: [redis.address], queues: [redis.address] },
        dispatcher: 'true',
      }),
    );
    const refused = await runJobqueue(['migrate', '-c', noSection, '--from', 'memcached', '--to', 'redis']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/source \(memcached\): .* has no memcached section/);
  });
});

describe('jobqueue migrate --from redis --to memcached (rollback)', () => {
  it('moves Redis jobs back into the job tables, where runJobs (JobQueueDB) runs them; delayed jobs stay', async () => {
    await redisFarm.pushJobs('wiki1', { type: 'null', count: 20, root: true });
    await redisFarm.pushJobs('wiki1', { type: 'null', count: 2, delaySeconds: 3600 });
    await dbFarm.runJobs('wiki2', { type: 'null' }); // empties the table rows left by the previous test
    const ids = await client.lrange(queueKeys('null', 'wiki1')['l-unclaimed'], 0, -1);
    expect(ids).toHaveLength(20);
    const run = await runJobqueue(
      migrateArgs(
        '--from',
        'redis',
        '--to',
        'memcached',
        '--delete-source',
        '--checkpoint',
        join(dbFarm.dir, 'back.cp'),
      ),
    );
    expect(run.code).toBe(0);
    const result = report(run.stdout);
    expect(result.totals).toMatchObject({ copied: 20, verified: 20, deleted: 20, skipped: 2 });
    expect(result.queues[0]?.skipped).toEqual({ 'JobQueueDB cannot hold delayed jobs': 2 });
    expect(await client.zcard(queueKeys('null', 'wiki1')['z-delayed'])).toBe(2);
    expect(await client.llen(queueKeys('null', 'wiki1')['l-unclaimed'])).toBe(0);
    // Same IDs: recorded under them in the map table, so a migration back to Redis keeps them.
    const keys = await tables.lookup(db('wiki1'), ids);
    expect(keys.size).toBe(20);
    const ran = ((await dbFarm.runJobs('wiki1', { type: 'null' })) as RunJobsResult).jobs;
    expect(ran).toHaveLength(20);
    expect(ran.every((j) => j.status === 'ok')).toBe(true);
  });
});
