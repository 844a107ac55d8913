// The daemons' status server, wired from a real config exactly as jobrunner/jobchron wire it
// (startDaemonStatus), on a real redis-server with a password: health, JSON, server-side queue
// aggregation, Prometheus exposition (valid, bounded cardinality, counters equal to the jobs a real
// JobRunner and a real jobchron pass handled on the MediaWiki farm), admin auth and secrecy.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RedisBackend } from '../../src/backend/redis-backend.js';
import { Chron } from '../../src/chron/chron.js';
import { loadConfigFile } from '../../src/config/load.js';
import type { JobrunnerConfig } from '../../src/config/types.js';
import { buildFarm, type MediaWikiFarm } from '../../src/farm/mediawiki-farm.js';
import { freePort } from '../../src/farm/free-port.js';
import { startRedisServer, type RedisServerHandle } from '../../src/farm/redis-server.js';
import { newJobFields } from '../../src/mediawiki/new-job.js';
import { PhpArray } from '../../src/mediawiki/php-serialize.js';
import { queueKeys } from '../../src/mediawiki/queue-keys.js';
import { createLogger } from '../../src/observability/logger.js';
import { noMetrics } from '../../src/observability/statsd.js';
import { RedisQueueStore } from '../../src/redis/queue-store.js';
import { createDispatcher } from '../../src/runner/dispatch/index.js';
import { JobRunner } from '../../src/runner/runner.js';
import { daemonMetrics, startDaemonStatus, type DaemonStatusHandle } from '../../src/status/daemon-status.js';

const PASSWORD = 'status-test-redis-pw-71c2';
const TOKEN = 'status-test-admin-token-9d4e0b';

let redis: RedisServerHandle;
let client: Redis;
let store: RedisQueueStore;
let dir: string;
let farm: MediaWikiFarm | null = null;
const logText: string[] = [];

function logger(service: string) {
  return createLogger({
    service,
    level: 'debug',
    stream: new Writable({
      write(chunk: Buffer, _enc, done) {
        logText.push(chunk.toString());
        done();
      },
    }),
  });
}

function writeConfig(
  name: string,
  extra: Record<string, unknown>,
  queues: string[] = [redis.address],
): string {
  const path = join(dir, name);
  const body = {
    groups: { basic: { runners: 2, include: ['*'] } },
    redis: {
      aggregators: [redis.address],
      queues,
      password: PASSWORD,
      connectTimeoutMs: 500,
      commandTimeoutMs: 3000,
    },
    dispatcher: farm ? farm.runJobsCommand() : 'true',
    status: { address: '127.0.0.1', runnerPort: 0, chronPort: 0 },
    ...extra,
  };
  writeFileSync(path, JSON.stringify(body, null, 2));
  return path;
}

const servers: DaemonStatusHandle[] = [];
async function serve(
  config: JobrunnerConfig,
  options: { status?: () => object; ready?: () => boolean; role?: 'jobrunner' | 'jobchron' } = {},
) {
  const { registry, metrics } = daemonMetrics(noMetrics, options.role ?? 'jobrunner');
  const server = await startDaemonStatus({
    role: options.role ?? 'jobrunner',
    config,
    logger: logger(options.role ?? 'jobrunner'),
    registry,
    status: options.status ?? (() => ({ note: 'test' })),
    ready: options.ready ?? (() => true),
  });
  if (!server) throw new Error('status server did not start');
  servers.push(server);
  return { server, metrics, registry };
}

async function get(url: string): Promise<{ status: number; type: string; text: string; headers: Headers }> {
  const response = await fetch(url);
  return {
    status: response.status,
    type: response.headers.get('content-type') ?? '',
    text: await response.text(),
    headers: response.headers,
  };
}

async function getJson<T>(url: string): Promise<T> {
  const response = await get(url);
  expect(response.status, `${url}: ${response.text}`).toBe(200);
  return JSON.parse(response.text) as T;
}

async function post(url: string, body: unknown, token?: string) {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      ...(token !== undefined ? { Authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(body),
  });
  return { status: response.status, text: await response.text(), headers: response.headers };
}

// ---- Prometheus text format (0.0.4) validation ----------------------------------------------------

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the exposition strictly; throws on anything Prometheus would reject. */
function parseExposition(text: string): { samples: Sample[]; types: Map<string, string> } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  const seen = new Set<string>();
  const name = '[a-zA-Z_:][a-zA-Z0-9_:]*';
  const labelPair = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"/;
  expect(text.endsWith('\n')).toBe(true);
  for (const line of text.split('\n').slice(0, -1)) {
    if (line.startsWith('# HELP ')) {
      expect(line).toMatch(new RegExp(`^# HELP ${name} .*$`));
      continue;
    }
    if (line.startsWith('# TYPE ')) {
      const m = new RegExp(`^# TYPE (${name}) (counter|gauge|histogram|summary|untyped)$`).exec(line);
      if (!m?.[1] || !m[2]) throw new Error(`bad TYPE line: ${line}`);
      expect(types.has(m[1]), `TYPE given twice for ${m[1]}`).toBe(false);
      types.set(m[1], m[2]);
      continue;
    }
    if (line === '') continue; // allowed between families
    if (line.startsWith('#')) throw new Error(`unexpected comment: ${JSON.stringify(line)}`);
    const m = new RegExp(`^(${name})(\\{(.*)\\})? (\\S+)( -?\\d+)?$`).exec(line);
    if (!m?.[1] || m[4] === undefined) throw new Error(`bad sample line: ${line}`);
    const labels: Record<string, string> = {};
    let rest = m[3] ?? '';
    while (rest !== '') {
      const pair = labelPair.exec(rest);
      if (!pair?.[1]) throw new Error(`bad labels in: ${line}`);
      labels[pair[1]] = (pair[2] ?? '').replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
      rest = rest.slice(pair[0].length);
      if (rest.startsWith(',')) rest = rest.slice(1);
      else if (rest !== '') throw new Error(`bad label separator in: ${line}`);
    }
    // Prometheus reads values with Go's ParseFloat: NaN and [+-]Inf in any letter case.
    const special = /^([+-]?)(inf|infinity|nan)$/i.exec(m[4]);
    const value = special
      ? special[2]?.toLowerCase() === 'nan'
        ? NaN
        : special[1] === '-'
          ? -Infinity
          : Infinity
      : Number(m[4]);
    if (Number.isNaN(value) && !special) throw new Error(`bad value in: ${line}`);
    const family = m[1].replace(/_(bucket|sum|count)$/, '');
    const type = types.get(m[1]) ?? types.get(family);
    if (!type) throw new Error(`sample before its TYPE: ${line}`);
    if (type === 'histogram' && m[1].endsWith('_bucket')) expect(labels.le, line).toBeDefined();
    const key = `${m[1]}${JSON.stringify(Object.entries(labels).sort())}`;
    expect(seen.has(key), `duplicate series ${key}`).toBe(false);
    seen.add(key);
    samples.push({ name: m[1], labels, value });
  }
  // Histogram buckets are cumulative and end in +Inf = _count.
  for (const [family, type] of types) {
    if (type !== 'histogram') continue;
    const groups = new Map<string, Sample[]>();
    for (const s of samples.filter((x) => x.name === `${family}_bucket`)) {
      const { le: _le, ...rest } = s.labels;
      const key = JSON.stringify(rest);
      groups.set(key, [...(groups.get(key) ?? []), s]);
    }
    for (const [key, buckets] of groups) {
      const values = buckets.map((b) => b.value);
      expect([...values].sort((a, b) => a - b)).toEqual(values);
      expect(buckets.at(-1)?.labels.le).toBe('+Inf');
      const count = samples.find((s) => s.name === `${family}_count` && JSON.stringify(s.labels) === key);
      expect(count?.value).toBe(values.at(-1));
    }
  }
  return { samples, types };
}

function sum(samples: Sample[], name: string, match: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v))
    .reduce((n, s) => n + s.value, 0);
}

async function metricsOf(url: string) {
  const response = await get(`${url}/metrics`);
  expect(response.status).toBe(200);
  expect(response.type).toBe('text/plain; version=0.0.4; charset=utf-8');
  return parseExposition(response.text);
}

async function until(
  what: string,
  cond: () => Promise<boolean> | boolean,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

// ---- set-up ----------------------------------------------------------------------------------------

beforeAll(async () => {
  redis = await startRedisServer({ password: PASSWORD });
  client = new Redis({ host: redis.host, port: redis.port, password: PASSWORD });
  store = new RedisQueueStore(client);
  dir = mkdtempSync(join(tmpdir(), 'status-server-'));
  writeFileSync(join(dir, 'admin.token'), `${TOKEN}\n`, { mode: 0o600 });
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  client?.disconnect();
  await farm?.destroy();
  await redis?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  await client.flushall();
});

/** 3 wikis × 20 types, depth i+1 each; wiki3/type0 also has 2 abandoned jobs. */
async function seedQueues(): Promise<void> {
  const now = Math.floor(Date.now() / 1000);
  for (const wiki of ['wiki1', 'wiki2', 'wiki3']) {
    for (let i = 0; i < 20; i++) {
      const type = `type${i}`;
      const jobs = Array.from({ length: i + 1 }, (_, n) =>
        newJobFields({ type, params: PhpArray.from([['n', n]]), now: now - 60 * (i + 1) }),
      );
      await store.pushJobs(type, wiki, jobs);
    }
  }
  // Two jobs the chron abandoned (claimed three times): the layout MediaWiki's showJobs reads.
  const k = queueKeys('type0', 'wiki3');
  const dead = [
    newJobFields({ type: 'type0', params: PhpArray.from([['dead', 1]]) }),
    newJobFields({ type: 'type0', params: PhpArray.from([['dead', 2]]) }),
  ];
  await store.pushJobs('type0', 'wiki3', dead);
  for (const job of dead) {
    await client.lrem(k['l-unclaimed'], 0, job.uuid);
    await client.zadd(k['z-abandoned'], now - 100, job.uuid);
    await client.hset(k['h-attempts'], job.uuid, 3);
  }
}

interface QueuesResponse {
  totals: Record<string, number>;
  matched: number;
  matchedTotals: Record<string, number>;
  rows: { wiki: string; type: string; unclaimed: number; abandoned: number; total: number }[];
  sort: string;
  dir: string;
  errors: { partition: string; error: string }[];
}

describe('status server', () => {
  it('answers health, readiness and status, and aggregates queues on the server', async () => {
    await seedQueues();
    let ready = false;
    const { server } = await serve(loadConfigFile(writeConfig('plain.conf', {})), { ready: () => ready });
    expect(server.address).toBe('127.0.0.1');
    expect(await getJson(`${server.url}/healthz`)).toMatchObject({
      status: 'ok',
      redis: [{ partition: redis.address, ok: true }],
    });
    expect((await get(`${server.url}/readyz`)).status).toBe(503);
    ready = true;
    expect(await getJson(`${server.url}/readyz`)).toEqual({ ready: true, role: 'jobrunner' });

    const status = await getJson<{
      role: string;
      daemon: unknown;
      admin: { enabled: boolean };
      queues: { totals: Record<string, number> };
    }>(`${server.url}/status`);
    expect(status).toMatchObject({ role: 'jobrunner', daemon: { note: 'test' }, admin: { enabled: false } });
    expect(status.queues.totals).toEqual({
      queues: 60,
      unclaimed: 630,
      claimed: 0,
      abandoned: 2,
      delayed: 0,
      total: 632,
      oldestAgeSeconds: expect.any(Number),
    });

    const top = await getJson<QueuesResponse>(`${server.url}/api/queues?limit=5`);
    expect(top.rows).toHaveLength(5);
    expect(top.matched).toBe(60);
    expect(top.rows[0]).toMatchObject({ wiki: 'wiki3', type: 'type0', abandoned: 2 }); // attention order
    expect(top.rows[1]?.type).toBe('type19'); // then the oldest waiting job
    const small = await getJson<QueuesResponse>(
      `${server.url}/api/queues?sort=total&dir=asc&limit=3&q=wiki2`,
    );
    expect(small.rows.map((r) => [r.wiki, r.type, r.total])).toEqual([
      ['wiki2', 'type0', 1],
      ['wiki2', 'type1', 2],
      ['wiki2', 'type2', 3],
    ]);
    expect(small.matched).toBe(20);
    expect(small.matchedTotals.unclaimed).toBe(210);
    const dead = await getJson<QueuesResponse>(`${server.url}/api/queues?abandoned=1`);
    expect(dead.rows.map((r) => r.wiki + '/' + r.type)).toEqual(['wiki3/type0']);
    expect(await get(`${server.url}/api/queues?sort=bogus`)).toMatchObject({ status: 400 });
    expect(await get(`${server.url}/nope`)).toMatchObject({ status: 404 });
    const page = await get(`${server.url}/`);
    expect(page.status).toBe(200);
    expect(page.type).toContain('text/html');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
  });

  it('exports valid Prometheus text with bounded queue label cardinality', async () => {
    await seedQueues();
    const { server } = await serve(loadConfigFile(writeConfig('metrics.conf', {})));
    const { samples, types } = await metricsOf(server.url);
    expect(types.get('jobqueue_jobs')).toBe('gauge');
    expect(types.get('jobrunner_jobs_total')).toBe('counter');
    expect(types.get('jobrunner_dispatch_duration_seconds')).toBe('histogram');
    expect(types.get('process_cpu_user_seconds_total')).toBe('counter');
    const queueSeries = samples.filter((s) => s.name === 'jobqueue_jobs' && s.labels.state === 'unclaimed');
    expect(queueSeries).toHaveLength(51); // 50 deepest queues + wiki/type "_other"
    expect(queueSeries.some((s) => s.labels.wiki === '_other' && s.labels.type === '_other')).toBe(true);
    expect(sum(samples, 'jobqueue_jobs', { state: 'unclaimed' })).toBe(630);
    expect(sum(samples, 'jobqueue_jobs', { state: 'abandoned' })).toBe(2);
    expect(sum(samples, 'jobqueue_farm_jobs', { state: 'unclaimed' })).toBe(630);
    expect(sum(samples, 'jobqueue_queues')).toBe(60);
    expect(sum(samples, 'jobqueue_partition_up', { partition: redis.address })).toBe(1);
  });

  it('names an unreachable partition in health, JSON and metrics, still reporting the others', async () => {
    await seedQueues();
    const dead = `127.0.0.1:${await freePort()}`;
    const { server } = await serve(loadConfigFile(writeConfig('dead.conf', {}, [redis.address, dead])));
    const health = await get(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    expect(JSON.parse(health.text)).toMatchObject({
      status: 'degraded',
      redis: [{ ok: true }, { partition: dead, ok: false }],
    });
    const queues = await getJson<QueuesResponse>(`${server.url}/api/queues`);
    expect(queues.totals.unclaimed).toBe(630);
    expect(queues.errors.map((e) => e.partition)).toEqual([dead]);
    const { samples } = await metricsOf(server.url);
    expect(sum(samples, 'jobqueue_partition_up', { partition: dead })).toBe(0);

    const { server: allDead } = await serve(loadConfigFile(writeConfig('alldead.conf', {}, [dead])));
    expect((await get(`${allDead.url}/healthz`)).status).toBe(503);
  });

  it('refuses admin actions without a configured token (403) and with a missing or wrong one (401)', async () => {
    await seedQueues();
    const readOnly = (await serve(loadConfigFile(writeConfig('ro.conf', {})))).server;
    for (const action of ['retry-abandoned', 'delete-queue', 'anything']) {
      expect(
        (await post(`${readOnly.url}/api/admin/${action}`, { wiki: 'wiki3', type: 'type0' })).status,
      ).toBe(403);
      expect(
        (await post(`${readOnly.url}/api/admin/${action}`, { wiki: 'wiki3', type: 'type0' }, TOKEN)).status,
      ).toBe(403);
    }
    const conf = writeConfig('admin.conf', {
      status: { address: '127.0.0.1', runnerPort: 0, chronPort: 0, adminTokenFile: join(dir, 'admin.token') },
    });
    const { server } = await serve(loadConfigFile(conf));
    expect((await getJson<{ admin: { enabled: boolean } }>(`${server.url}/status`)).admin.enabled).toBe(true);
    const url = `${server.url}/api/admin/retry-abandoned`;
    const missing = await post(url, { wiki: 'wiki3', type: 'type0' });
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toContain('Bearer');
    expect((await post(url, { wiki: 'wiki3', type: 'type0' }, `${TOKEN}x`)).status).toBe(401);
    expect((await post(url, { wiki: 'wiki3', type: 'type0' }, 'short')).status).toBe(401);
    expect(await client.zcard(queueKeys('type0', 'wiki3')['z-abandoned'])).toBe(2);
    expect((await fetch(url, { headers: { Authorization: `Bearer ${TOKEN}` } })).status).toBe(405);
    expect((await post(`${server.url}/api/admin/nope`, {}, TOKEN)).status).toBe(404);
    expect((await post(url, { wiki: 'wiki3' }, TOKEN)).status).toBe(400);

    const retried = await post(url, { wiki: 'wiki3', type: 'type0' }, TOKEN);
    expect(retried.status).toBe(200);
    expect(JSON.parse(retried.text)).toMatchObject({
      result: { queues: 1, moved: 2, noData: 0, errors: [] },
    });
    expect(await client.zcard(queueKeys('type0', 'wiki3')['z-abandoned'])).toBe(0);
    expect(await client.llen(queueKeys('type0', 'wiki3')['l-unclaimed'])).toBe(3);
    // The cache is dropped after an action, so the next view shows it.
    expect((await getJson<QueuesResponse>(`${server.url}/api/queues?abandoned=1`)).rows).toEqual([]);

    const deleted = await post(
      `${server.url}/api/admin/delete-queue`,
      { wiki: 'wiki1', type: 'type5' },
      TOKEN,
    );
    expect(JSON.parse(deleted.text)).toMatchObject({ result: { queues: 1, jobs: 6 } });
    expect(await client.exists(queueKeys('type5', 'wiki1')['h-data'])).toBe(0);
  });

  it('never serves or logs a secret, even when the daemon state contains one', async () => {
    await seedQueues();
    const secretKeyFile = join(dir, 'secret.key');
    const secretKey = 'mw-secret-key-0123456789abcdef';
    writeFileSync(secretKeyFile, `${secretKey}\n`);
    const conf = writeConfig('secret.conf', {
      dispatch: { secretKeyFile },
      status: { address: '127.0.0.1', runnerPort: 0, chronPort: 0, adminTokenFile: join(dir, 'admin.token') },
    });
    const leaky = () => ({
      recentFailures: [
        { error: `exit 1`, target: `env PW=${PASSWORD} KEY=${secretKey} runJobs.php`, excerpt: TOKEN },
      ],
    });
    const { server } = await serve(loadConfigFile(conf), { status: leaky });
    const bodies: string[] = [];
    for (const path of [
      '/',
      '/dashboard.js',
      '/dashboard.css',
      '/status',
      '/api/overview',
      '/api/queues?limit=1000',
      '/metrics',
      '/healthz',
      '/readyz',
    ]) {
      const response = await get(`${server.url}${path}`);
      expect(response.status, path).toBe(200);
      bodies.push(response.text);
    }
    bodies.push(
      (await post(`${server.url}/api/admin/retry-abandoned`, { wiki: 'wiki3', type: 'type0' }, TOKEN)).text,
    );
    bodies.push(
      (await post(`${server.url}/api/admin/retry-abandoned`, { wiki: 'wiki3', type: 'type0' }, 'wrong')).text,
    );
    expect(bodies.join('\n')).toContain('env PW=*** KEY=*** runJobs.php');
    for (const text of [...bodies, logText.join('')]) {
      for (const secret of [PASSWORD, TOKEN, secretKey]) expect(text).not.toContain(secret);
    }
  });
});

describe('metrics from the daemons', () => {
  beforeAll(async () => {
    farm = await buildFarm({ redis });
  });

  it("counts a real JobRunner's jobs, dispatches and pickups on the MediaWiki farm", async () => {
    if (!farm) throw new Error('farm not built');
    await farm.pushJobs('wiki1', { type: 'null', count: 5 });
    await farm.pushJobs('wiki2', { type: 'null', count: 2 });
    await farm.pushJobs('wiki2', { type: 'mwlabFail', count: 1 });
    const config = loadConfigFile(writeConfig('runner.conf', {}));
    const log = logger('jobrunner');
    const { registry, metrics } = daemonMetrics(noMetrics, 'jobrunner');
    const backend = new RedisBackend(config, log);
    const dispatcher = createDispatcher(config, { logger: log });
    const runner = new JobRunner(config, {
      backend,
      dispatcher,
      logger: log,
      metrics,
      hostname: 'testhost',
      random: () => 0,
    });
    const server = await startDaemonStatus({
      role: 'jobrunner',
      config,
      logger: log,
      registry,
      status: () => runner.stats(),
      ready: () => runner.stats().state === 'running',
    });
    if (!server) throw new Error('status server did not start');
    servers.push(server);
    runner.start();
    try {
      await until('the runner to run 8 jobs', () => {
        const t = runner.stats().totals;
        return t.jobsOk + t.jobsFailed >= 8;
      });
      await until('all dispatches to finish', () => runner.stats().groups.every((g) => g.busy === 0));
      const stats = runner.stats();
      const { samples } = await metricsOf(server.url);
      expect(sum(samples, 'jobrunner_jobs_total', { type: 'null', outcome: 'ok' })).toBe(7);
      expect(sum(samples, 'jobrunner_jobs_total', { type: 'mwlabFail', outcome: 'failed' })).toBe(1);
      expect(sum(samples, 'jobrunner_jobs_total')).toBe(stats.totals.jobsOk + stats.totals.jobsFailed);
      expect(sum(samples, 'jobrunner_dispatches_started_total')).toBe(stats.totals.dispatches);
      expect(sum(samples, 'jobrunner_dispatch_duration_seconds_count')).toBe(stats.totals.dispatches);
      expect(stats.pickupLatency.count).toBeGreaterThan(0);
      expect(sum(samples, 'jobrunner_pickup_latency_seconds_count')).toBe(stats.pickupLatency.count);
      expect(sum(samples, 'jobrunner_notice_latency_seconds_count')).toBe(stats.noticeLatency.count);
      expect(sum(samples, 'jobrunner_starts_total')).toBe(1);
      expect(sum(samples, 'jobrunner_slots_total', { group: 'basic' })).toBe(2);
      // Queue gauges come from the shared farm listing, which may be up to its cache TTL old.
      await until('the claimed job in jobqueue_jobs', async () =>
        (await metricsOf(server.url)).samples.some(
          (s) =>
            s.labels.wiki === 'wiki2' &&
            s.labels.type === 'mwlabFail' &&
            s.labels.state === 'claimed' &&
            s.value === 1,
        ),
      );
      const status = await getJson<{
        ready: boolean;
        daemon: { totals: { jobsOk: number }; groups: { name: string }[] };
      }>(`${server.url}/status`);
      expect(status).toMatchObject({
        ready: true,
        daemon: { totals: { jobsOk: 7 }, groups: [{ name: 'basic' }] },
      });
    } finally {
      await runner.stop(true);
      await dispatcher.close();
      await backend.close();
    }
  });

  it("counts a real jobchron pass's undelayed jobs, passes and duration", async () => {
    if (!farm) throw new Error('farm not built');
    await farm.pushJobs('wiki1', { type: 'null', count: 3, delaySeconds: 600 });
    const config = loadConfigFile(writeConfig('chron.conf', {}));
    const { registry, metrics } = daemonMetrics(noMetrics, 'jobchron');
    const chron = new Chron(config, {
      logger: logger('jobchron'),
      metrics,
      now: () => Date.now() + 3_600_000,
      random: () => 0,
    });
    try {
      const pass = await chron.runPass();
      expect(pass.counts.undelayed).toBe(3);
    } finally {
      await chron.stop();
    }
    const chronServer = await startDaemonStatus({
      role: 'jobchron',
      config,
      logger: logger('jobchron'),
      registry,
      status: () => chron.getStats(),
      ready: () => false,
    });
    if (!chronServer) throw new Error('status server did not start');
    servers.push(chronServer);
    const { samples, types } = await metricsOf(chronServer.url);
    expect(types.get('jobrunner_jobs_total')).toBeUndefined(); // a jobchron exports only its own families
    expect(sum(samples, 'jobchron_jobs_total', { action: 'undelayed', type: 'null' })).toBe(3);
    expect(sum(samples, 'jobchron_passes_total', { result: 'done' })).toBe(1);
    expect(sum(samples, 'jobchron_pass_duration_seconds_count')).toBe(1);
    const status = await getJson<{ role: string; daemon: { passes: number; undelayed: number } }>(
      `${chronServer.url}/status`,
    );
    expect(status).toMatchObject({ role: 'jobchron', daemon: { passes: 1, undelayed: 3 } });
  });
});
