// Corrupt and odd job blobs in a REAL redis-server next to good jobs on the real MediaWiki farm: a
// jobchron pass, `jobqueue status --json`, `jobqueue inspect` and a short jobrunner all cope, good
// jobs all run, and our code never deletes an undecodable blob's h-data entry. (MediaWiki's own
// runJobs may pop one: it then sits in z-claimed with its data until the chron recycles it.)
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisBackend } from '../../src/backend/redis-backend.js';
import { Chron } from '../../src/chron/chron.js';
import { runJobqueue } from '../../src/cli/jobqueue/run.js';
import { loadConfigFile } from '../../src/config/load.js';
import { buildFarm, type MediaWikiFarm } from '../../src/farm/mediawiki-farm.js';
import { startRedisServer, type RedisServerHandle } from '../../src/farm/redis-server.js';
import { decodeJobBlob, encodeJobBlob } from '../../src/mediawiki/job-blob.js';
import { PhpArray } from '../../src/mediawiki/php-serialize.js';
import { QUEUES_WITH_JOBS_KEY, makeQueueId, queueKeys } from '../../src/mediawiki/queue-keys.js';
import { createLogger } from '../../src/observability/logger.js';
import { noMetrics } from '../../src/observability/statsd.js';
import { createDispatcher } from '../../src/runner/dispatch/index.js';
import { JobRunner } from '../../src/runner/runner.js';
import { int, mutateBytes, pick, randomBytes, randomText, seeded, type Random } from '../fuzz/generators.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261128);
const BLOBS = 1200;
const GOOD_PER_WIKI = 15;
const BAD_TYPES = ['badBlobA', 'badBlobB'];
const STATES = ['unclaimed', 'claimed', 'abandoned', 'delayed'] as const;
type State = (typeof STATES)[number];

let redis: RedisServerHandle;
let farm: MediaWikiFarm;
let client: Redis;
let dir: string;
let conf: string;

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

beforeAll(async () => {
  redis = await startRedisServer();
  farm = await buildFarm({ redis });
  await farm.setExtraJobTypes(Object.fromEntries(BAD_TYPES.map((t) => [t, 'null' as const])));
  client = new Redis({ host: redis.host, port: redis.port });
  dir = mkdtempSync(join(tmpdir(), 'bad-blobs-'));
  conf = join(dir, 'jobrunner.conf');
  const body = {
    groups: { basic: { runners: 2, include: ['*'] } },
    redis: { aggregators: [redis.address], queues: [redis.address] },
    dispatcher: farm.runJobsCommand(),
    runner: { highPriorityMaxTime: 4, lowPriorityMaxTime: 4, drainTimeoutSeconds: 10 },
    status: { enabled: false },
  };
  writeFileSync(conf, `// bad-blobs test config\n${JSON.stringify(body, null, 2)}\n`);
});

afterAll(async () => {
  client?.disconnect();
  await farm?.destroy();
  await redis?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function validBlob(r: Random, gzip: boolean): Buffer {
  const params = new PhpArray();
  for (let n = int(r, 1, 4); n > 0; n--)
    params.set(pick(r, ['seq', 'title', 'pages', 'x']), randomText(r, 20));
  // gzip only kicks in from 1 KiB, so pad the params when asked for an envelope.
  if (gzip) params.set('pad', 'p'.repeat(1500));
  return encodeJobBlob(
    {
      type: 'unregisteredJobType',
      namespace: int(r, -1, 10),
      title: randomText(r, int(r, 0, 10)),
      params,
      uuid: 'b'.repeat(32),
      sha1: '',
      timestamp: Math.floor(Date.now() / 1000),
      rtimestamp: 0,
    },
    { compression: gzip ? 'gzip' : null },
  );
}

const KINDS = [
  'truncated',
  'wrong-length',
  'bad-gzip',
  'non-array',
  'huge-length',
  'random-bytes',
  'mutated',
] as const;

/** One corrupt blob of the given kind. */
function corruptBlob(r: Random, kind: (typeof KINDS)[number]): Buffer {
  switch (kind) {
    case 'truncated': {
      const good = validBlob(r, r() < 0.3);
      return good.subarray(0, int(r, 0, good.length - 1));
    }
    case 'wrong-length': {
      const text = validBlob(r, false).toString('latin1');
      return Buffer.from(
        text.replace(/s:(\d+):/, (_m, n: string) => `s:${Number(n) + int(r, 1, 9)}:`),
        'latin1',
      );
    }
    case 'bad-gzip': {
      const inner = r() < 0.5 ? randomBytes(r, int(r, 0, 40)) : validBlob(r, false);
      const enc = pick(r, ['gzip', 'gzip', 'bzip2', '']);
      return Buffer.concat([
        Buffer.from(`O:8:"stdClass":2:{s:4:"blob";s:${inner.length}:"`, 'latin1'),
        inner,
        Buffer.from(`";s:3:"enc";s:${enc.length}:"${enc}";}`, 'latin1'),
      ]);
    }
    case 'non-array':
      return Buffer.from(pick(r, ['i:5;', 's:3:"abc";', 'b:1;', 'N;', 'd:0.5;', 'a:0:{}', 'a:1:{i:0;i:1;}']));
    case 'huge-length':
      return Buffer.from(
        pick(r, ['s:999999999:"x";', 'a:2147483647:{', 'a:99999999999999999999:{}', 's:-1:"";']),
      );
    case 'random-bytes':
      return randomBytes(r, int(r, 0, 300));
    default:
      return mutateBytes(r, validBlob(r, r() < 0.3));
  }
}

function jobId(r: Random): string {
  let id = '';
  for (let i = 0; i < 32; i++) id += '0123456789abcdef'[Math.floor(r() * 16)] ?? '0';
  return id;
}

interface BadJob {
  readonly id: string;
  readonly wiki: string;
  readonly type: string;
  readonly state: State;
  readonly kind: string;
}

/** Writes BLOBS undecodable blobs into the BAD_TYPES queues of every wiki, spread over all states. */
async function writeBadBlobs(r: Random): Promise<BadJob[]> {
  const jobs: BadJob[] = [];
  const nowSec = Math.floor(Date.now() / 1000);
  while (jobs.length < BLOBS) {
    const kind = KINDS[jobs.length % KINDS.length] ?? 'mutated';
    const blob = corruptBlob(r, kind);
    try {
      decodeJobBlob(blob);
      continue; // decodable after all: not a corrupt case
    } catch {
      // undecodable: keep it
    }
    const wiki = farm.wikis[jobs.length % farm.wikis.length] ?? 'wiki1';
    const type = pick(r, BAD_TYPES);
    const state = STATES[Math.floor(jobs.length / farm.wikis.length) % STATES.length] ?? 'unclaimed';
    const id = jobId(r);
    const k = queueKeys(type, wiki);
    const multi = client.multi().hset(k['h-data'], id, blob);
    // Recent claim/abandon times: nothing is stale or old enough to prune in this test.
    if (state === 'unclaimed') multi.lpush(k['l-unclaimed'], id);
    if (state === 'claimed') multi.zadd(k['z-claimed'], nowSec, id).hset(k['h-attempts'], id, 1);
    if (state === 'abandoned') multi.zadd(k['z-abandoned'], nowSec, id).hset(k['h-attempts'], id, 3);
    if (state === 'delayed') multi.zadd(k['z-delayed'], nowSec + (r() < 0.5 ? -5 : 3600), id);
    multi.sadd(QUEUES_WITH_JOBS_KEY, makeQueueId(type, wiki));
    await multi.exec();
    jobs.push({ id, wiki, type, state, kind });
  }
  return jobs;
}

async function jobqueue(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdin = new PassThrough();
  stdin.end('');
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await runJobqueue(['-c', conf, ...args], { stdin, stdout, stderr });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

async function missingData(jobs: readonly BadJob[]): Promise<string[]> {
  const missing: string[] = [];
  for (const job of jobs) {
    if (!(await client.hexists(queueKeys(job.type, job.wiki)['h-data'], job.id))) {
      missing.push(`${job.wiki} ${job.type} ${job.id} (${job.kind}, was ${job.state})`);
    }
  }
  return missing;
}

async function goodLeft(): Promise<number> {
  let n = 0;
  for (const wiki of farm.wikis) n += await client.hlen(queueKeys('null', wiki)['h-data']);
  return n;
}

describe(`${BLOBS} corrupt job blobs in a real Redis`, () => {
  it('chron, status, inspect and jobrunner cope; no blob is deleted; good jobs all run', async () => {
    const r = seeded(SEED);
    let good = 0;
    for (const wiki of farm.wikis) good += await farm.pushJobs(wiki, { type: 'null', count: GOOD_PER_WIKI });
    const bad = await writeBadBlobs(r);
    expect(bad).toHaveLength(BLOBS);

    const logs = new Capture();
    const logger = createLogger({ service: 'bad-blobs', level: 'info', stream: logs });
    const chron = new Chron(loadConfigFile(conf), { logger, random: () => 0 });
    try {
      const pass = await chron.runPass();
      expect(pass.failed).toEqual([]);
      expect(pass.ok).toBe(true);
    } finally {
      await chron.stop();
    }
    expect(await missingData(bad)).toEqual([]);

    const status = await jobqueue(['status', '--json']);
    expect(status.code, status.stderr).toBe(0);
    const doc = JSON.parse(status.stdout) as { queues: { wiki: string; type: string }[]; errors: unknown[] };
    for (const wiki of farm.wikis) {
      for (const type of BAD_TYPES)
        expect(doc.queues).toContainEqual(expect.objectContaining({ wiki, type }));
    }

    // inspect: every corrupt job is listed as unreadable, with its id and a reason, and stays.
    const reported = new Map<string, string>();
    for (const wiki of farm.wikis) {
      for (const type of BAD_TYPES) {
        for (const state of STATES) {
          const args = ['inspect', '--wiki', wiki, '--type', type, '--state', state, '--limit', '1000'];
          const json = await jobqueue([...args, '--json']);
          expect(json.code, json.stderr).toBe(0);
          const jobs = (JSON.parse(json.stdout) as { jobs: { id: string; ok: boolean; error?: string }[] })
            .jobs;
          for (const job of jobs) {
            expect(job.ok, `${wiki} ${type} ${job.id}`).toBe(false);
            reported.set(job.id, job.error ?? '');
          }
          const text = await jobqueue(args);
          expect(text.code, text.stderr).toBe(0);
          for (const job of jobs) {
            expect(text.stdout).toMatch(
              new RegExp(`^${job.id} {2}${state} [^\\n]*\\n(?: {2}[^\\n]*\\n)*? {2}unreadable: \\S`, 'm'),
            );
          }
        }
      }
    }
    expect(bad.filter((j) => !reported.has(j.id)).map((j) => j.id)).toEqual([]);
    for (const job of bad) expect(reported.get(job.id), job.id).toMatch(/\S/);

    // A short real jobrunner: good queues drain, the corrupt queues neither crash it nor lose data.
    const config = loadConfigFile(conf);
    const backend = new RedisBackend(config, logger);
    const dispatcher = createDispatcher(config, { logger });
    const runner = new JobRunner(config, {
      backend,
      dispatcher,
      logger,
      metrics: noMetrics,
      random: () => 0,
    });
    runner.start();
    try {
      const deadline = Date.now() + 20_000;
      while ((await goodLeft()) > 0 && Date.now() < deadline) await new Promise((d) => setTimeout(d, 100));
    } finally {
      await runner.stop(false);
      await runner.currentDispatcher.close();
      await backend.close();
    }
    expect(await goodLeft()).toBe(0);
    // What MediaWiki's runJobs popped from the corrupt queues (moved to z-claimed, data kept).
    let claimedAfter = 0;
    for (const wiki of farm.wikis) {
      for (const type of BAD_TYPES) claimedAfter += await client.zcard(queueKeys(type, wiki)['z-claimed']);
    }
    const popped = claimedAfter - bad.filter((j) => j.state === 'claimed').length;

    const again = new Chron(loadConfigFile(conf), { logger, random: () => 0 });
    try {
      expect((await again.runPass()).failed).toEqual([]);
    } finally {
      await again.stop();
    }
    expect(await missingData(bad)).toEqual([]);
    expect(logs.text).not.toMatch(/"level":"(fatal|crit)/);
    const kinds = Object.fromEntries(KINDS.map((k) => [k, bad.filter((j) => j.kind === k).length]));
    console.log(
      `bad blobs: ${bad.length} written ${JSON.stringify(kinds)}, ${good} good jobs ran, ${popped} popped by runJobs, 0 deleted`,
    );
  }, 60_000);
});
