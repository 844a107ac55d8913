// The jobqueue operator CLI against a real redis-server (with a password) and a real MediaWiki 1.39
// farm: what `push` writes is what MediaWiki writes and runs, `status` agrees with MediaWiki's
// showJobs, actions ask before they change anything, and an unreachable partition is named while
// the others are still reported.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Chron } from '../../src/chron/chron.js';
import { runJobqueue } from '../../src/cli/jobqueue/run.js';
import { loadConfigFile } from '../../src/config/load.js';
import { buildFarm, type MediaWikiFarm } from '../../src/farm/mediawiki-farm.js';
import { freePort } from '../../src/farm/free-port.js';
import { startRedisServer, type RedisServerHandle } from '../../src/farm/redis-server.js';
import { decodeJobBlob } from '../../src/mediawiki/job-blob.js';
import { QUEUES_WITH_JOBS_KEY, queueKeys } from '../../src/mediawiki/queue-keys.js';
import { createLogger } from '../../src/observability/logger.js';

const PASSWORD = 'cli-test-redis-secret-3f9a';

let redis: RedisServerHandle;
let farm: MediaWikiFarm;
let client: Redis;
let dir: string;
let deadPartition: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

/** Runs `jobqueue ARGS` in-process; `input` is what the operator types on stdin. */
async function jobqueue(args: string[], input = ''): Promise<Run> {
  const stdin = new PassThrough();
  stdin.end(input);
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await runJobqueue(args, { stdin, stdout, stderr });
  for (const text of [stdout.text, stderr.text]) expect(text).not.toContain(PASSWORD);
  return { code, stdout: stdout.text, stderr: stderr.text };
}

function writeConfig(
  name: string,
  queues: string[],
  password = PASSWORD,
  extra: Record<string, unknown> = {},
): string {
  const path = join(dir, name);
  const body = {
    groups: { basic: { runners: 1, include: ['*'] } },
    redis: { aggregators: [queues[0]], queues, password, connectTimeoutMs: 1000, commandTimeoutMs: 3000 },
    dispatcher: farm.runJobsCommand(),
    ...extra,
  };
  writeFileSync(path, `// jobqueue test config\n${JSON.stringify(body, null, 2)}\n`);
  return path;
}

let conf: string;
let twoPartitions: string;

beforeAll(async () => {
  redis = await startRedisServer({ password: PASSWORD });
  farm = await buildFarm({ redis });
  client = new Redis({ host: redis.host, port: redis.port, password: PASSWORD });
  dir = mkdtempSync(join(tmpdir(), 'jobqueue-cli-'));
  deadPartition = `127.0.0.1:${await freePort()}`;
  conf = writeConfig('one.conf', [redis.address]);
  twoPartitions = writeConfig('two.conf', [redis.address, deadPartition]);
});

afterAll(async () => {
  client?.disconnect();
  await farm?.destroy();
  await redis?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  await client.flushall();
});

/** The stored blobs of one queue (unclaimed, in pop order), decoded. */
async function blobs(type: string, wiki: string) {
  const k = queueKeys(type, wiki);
  const ids = (await client.lrange(k['l-unclaimed'], 0, -1)).reverse();
  return Promise.all(
    ids.map(async (id) => {
      const raw = await client.hgetBuffer(k['h-data'], id);
      if (!raw) throw new Error(`no h-data for ${id}`);
      return { raw, job: decodeJobBlob(raw) };
    }),
  );
}

/** A blob with its per-job parts (uuid, enqueue time, release time) replaced by placeholders. */
function shape(raw: Buffer, uuid: string, timestamp: number, rtimestamp?: number): string {
  let text = raw.toString('latin1').replace(uuid, 'UUID').replace(`i:${timestamp};}`, 'i:TS;}');
  if (rtimestamp) text = text.replace(`"${rtimestamp}"`, '"RTS"').replace(`:${rtimestamp};`, ':RTS;');
  return text;
}

describe('jobqueue push', () => {
  it('writes jobs exactly as MediaWiki does; MediaWiki lists and runs them', async () => {
    expect(await farm.pushJobs('wiki1', { type: 'null', params: { canary: 'mw' } })).toBe(1);
    const pushed = await jobqueue([
      '-c',
      conf,
      'push',
      '--wiki',
      'wiki1',
      '--type',
      'null',
      '--params',
      '{"canary":"mw","seq":0}',
    ]);
    expect(pushed).toMatchObject({ code: 0, stderr: '' });
    expect(pushed.stdout).toMatch(/^Pushed 1 job of type null for wiki1 to 127\.0\.0\.1:\d+\.\n$/);

    const [mine, ours] = await blobs('null', 'wiki1');
    if (!mine || !ours) throw new Error('expected two jobs');
    expect(shape(ours.raw, ours.job.uuid, ours.job.timestamp)).toBe(
      shape(mine.raw, mine.job.uuid, mine.job.timestamp),
    );
    expect(ours.job.uuid).toMatch(/^[0-9a-f]{32}$/);
    expect(await client.smembers(QUEUES_WITH_JOBS_KEY)).toEqual(['["null","wiki1"]']);

    // MediaWiki's own tools see two identical jobs and run both.
    const listed = (await farm.showJobs('wiki1', { list: true }))
      .trim()
      .split('\n')
      .map((line) => line.replace(/[0-9a-f]{32}/g, 'ID').replace(/timestamp=\d+/g, 'timestamp=T'));
    expect(listed).toHaveLength(2);
    expect(listed[0]).toBe(listed[1]);
    expect(await farm.showJobs('wiki1', { group: true })).toContain('null: 2 queued');
    const run = (await farm.runJobs('wiki1', { type: 'null' })) as {
      jobs: { type: string; status: string }[];
    };
    expect(run.jobs.map((j) => [j.type, j.status])).toEqual([
      ['null', 'ok'],
      ['null', 'ok'],
    ]);
    expect(await farm.showJobs('wiki1', { group: true })).not.toContain('null:');
  });

  it('delays and de-duplicates like MediaWiki (the same dedup hash, across both pushers)', async () => {
    await farm.pushJobs('wiki2', { type: 'null', delaySeconds: 3600, params: { d: 1 } });
    const delayed = await jobqueue([
      '-c',
      conf,
      'push',
      '--wiki',
      'wiki2',
      '--type',
      'null',
      '--delay',
      '3600',
      '--params',
      '{"d":1,"seq":0}',
    ]);
    expect(delayed.code).toBe(0);
    expect(delayed.stdout).toMatch(/released at \d{4}-\d\d-\d\dT/);
    const k = queueKeys('null', 'wiki2');
    const ids = await client.zrange(k['z-delayed'], 0, -1, 'WITHSCORES');
    expect(ids).toHaveLength(4);
    const [a, b] = await Promise.all(
      [ids[0], ids[2]].map(async (id) =>
        decodeJobBlob((await client.hgetBuffer(k['h-data'], id ?? '')) as Buffer),
      ),
    );
    if (!a || !b) throw new Error('expected two delayed jobs');
    const { jobReleaseTimestamp: releaseA, ...paramsA } = a.paramsJson as Record<string, unknown>;
    const { jobReleaseTimestamp: releaseB, ...paramsB } = b.paramsJson as Record<string, unknown>;
    expect(paramsA).toEqual(paramsB);
    expect(Math.abs(Number(releaseA) - Number(releaseB))).toBeLessThanOrEqual(1);
    expect([a.rtimestamp, b.rtimestamp]).toEqual([Number(releaseA), Number(releaseB)]);
    expect(await farm.showJobs('wiki2', { group: true })).toContain('2 delayed');

    await farm.pushJobs('wiki2', { type: 'refreshLinks', dedupe: true, params: { same: 'x' } });
    const dupe = await jobqueue([
      '-c',
      conf,
      'push',
      '--wiki',
      'wiki2',
      '--type',
      'refreshLinks',
      '--dedupe',
      '--params',
      '{"same":"x"}',
      '--count',
      '3',
    ]);
    expect(dupe.code).toBe(0);
    expect(dupe.stdout).toContain('Pushed 0 jobs');
    expect(dupe.stdout).toContain('(3 skipped as duplicates)');
    const [only] = await blobs('refreshLinks', 'wiki2');
    expect(await client.llen(queueKeys('refreshLinks', 'wiki2')['l-unclaimed'])).toBe(1);
    expect(only?.job.sha1).toMatch(/^[0-9a-z]{31}$/);
  });

  it('rejects bad input before touching Redis', async () => {
    const bad = await jobqueue([
      '-c',
      conf,
      'push',
      '--wiki',
      'wiki1',
      '--type',
      'null',
      '--params',
      '[1,2]',
    ]);
    expect(bad).toMatchObject({ code: 2 });
    expect(bad.stderr).toContain('--params must be a JSON object');
    const count = await jobqueue(['-c', conf, 'push', '--wiki', 'wiki1', '--type', 'null', '--count', '0']);
    expect(count.code).toBe(2);
    expect(count.stderr).toContain('--count must be a whole number from 1 to 100000');
    expect(await client.dbsize()).toBe(0);
  });
});

/**
 * runJobs.php until `expected` jobs of `type` ran. After a failed job MediaWiki backs the type off
 * at random (1 in 50, for 1 s, kept in $wgTmpDirectory/mw-runJobs-backoffs.json) and then pops no
 * more of it; the file is cleared before each run so that chance cannot leave jobs unpopped.
 */
async function runAllJobs(wiki: string, type: string, expected: number): Promise<void> {
  let ran = 0;
  for (let round = 0; round < 5 && ran < expected; round++) {
    rmSync(join(farm.dir, 'tmp', 'mw-runJobs-backoffs.json'), { force: true });
    ran += ((await farm.runJobs(wiki, { type })) as { jobs: unknown[] }).jobs.length;
  }
  expect(ran).toBe(expected);
}

/** Farm state with every job state: abandoned (through a real jobchron pass), claimed, delayed, unclaimed. */
async function mixedFarm(): Promise<void> {
  await farm.pushJobs('wiki1', { type: 'mwlabFail', count: 2 });
  await runAllJobs('wiki1', 'mwlabFail', 2); // both fail and stay claimed
  const chronConf = writeConfig('chron.conf', [redis.address], PASSWORD, {
    limits: { attempts: { '*': 1 }, claimTTL: { '*': 1 } },
  });
  const chron = new Chron(loadConfigFile(chronConf), {
    logger: createLogger({ service: 'jobchron', level: 'error', stream: new Capture() }),
    now: () => Date.now() + 5000,
    random: () => 0,
  });
  try {
    const pass = await chron.runPass();
    expect(pass.counts.abandoned).toBe(2);
  } finally {
    await chron.stop();
  }
  await farm.pushJobs('wiki2', { type: 'mwlabFail', count: 1 });
  await runAllJobs('wiki2', 'mwlabFail', 1); // claimed
  await farm.pushJobs('wiki2', { type: 'null', count: 3 });
  await farm.pushJobs('wiki2', { type: 'null', count: 1, delaySeconds: 3600 });
  await farm.pushJobs('wiki1', { type: 'htmlCacheUpdate', count: 5 });
}

describe('jobqueue status', () => {
  it('shows the whole farm in one table, most urgent first, agreeing with showJobs', async () => {
    await mixedFarm();
    const json = await jobqueue(['-c', conf, 'status', '--json']);
    expect(json).toMatchObject({ code: 0, stderr: '' });
    const doc = JSON.parse(json.stdout) as {
      totals: Record<string, number>;
      queues: {
        wiki: string;
        type: string;
        unclaimed: number;
        claimed: number;
        abandoned: number;
        delayed: number;
      }[];
    };
    const rows = doc.queues.map((q) => [q.wiki, q.type, q.unclaimed, q.claimed, q.abandoned, q.delayed]);
    expect(rows[0]).toEqual(['wiki1', 'mwlabFail', 0, 0, 2, 0]); // abandoned first
    expect(rows).toHaveLength(4);
    expect(rows).toContainEqual(['wiki2', 'null', 3, 0, 0, 1]);
    expect(rows).toContainEqual(['wiki2', 'mwlabFail', 0, 1, 0, 0]);
    expect(rows).toContainEqual(['wiki1', 'htmlCacheUpdate', 5, 0, 0, 0]);
    expect(doc.totals).toMatchObject({
      queues: 4,
      unclaimed: 8,
      claimed: 1,
      abandoned: 2,
      delayed: 1,
      total: 12,
    });

    // MediaWiki's view of the same queues ("claimed" there includes abandoned).
    expect(await farm.showJobs('wiki1', { group: true })).toContain(
      'mwlabFail: 0 queued; 2 claimed (0 active, 2 abandoned); 0 delayed',
    );
    expect(await farm.showJobs('wiki2', { group: true })).toContain(
      'null: 3 queued; 0 claimed (0 active, 0 abandoned); 1 delayed',
    );

    const table = await jobqueue(['-c', conf, 'status']);
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(
      /^WIKI\s+TYPE\s+UNCLAIMED\s+CLAIMED\s+ABANDONED\s+DELAYED\s+OLDEST\s+PARTITIONS$/,
    );
    expect(lines[1]).toMatch(/^wiki1\s+mwlabFail\s+0\s+0\s+2\s+0\s+-\s+127\.0\.0\.1:\d+$/);
    // Columns line up: each count ends in the same column as its header.
    const header = lines[0] ?? '';
    for (const name of ['UNCLAIMED', 'CLAIMED', 'ABANDONED', 'DELAYED']) {
      const end = header.indexOf(` ${name}`) + name.length + 1;
      for (const line of lines.slice(1, 5)) expect(line.slice(end - 1, end + 1)).toMatch(/^\d( |$)/);
    }
    expect(lines.at(-1)).toMatch(/^TOTAL\s+4 queues\s+8\s+1\s+2\s+1\s+\S+\s+1\/1 partitions read$/);

    const filtered = JSON.parse(
      (await jobqueue(['-c', conf, 'status', '--json', '--wiki', 'wiki2', '--type', 'null'])).stdout,
    ) as {
      queues: unknown[];
    };
    expect(filtered.queues).toHaveLength(1);
  });

  it('names an unreachable partition, still reports the others, and exits non-zero', async () => {
    await farm.pushJobs('wiki1', { type: 'null', count: 2 });
    const table = await jobqueue(['-c', twoPartitions, 'status']);
    expect(table.code).toBe(1);
    expect(table.stdout).toMatch(/^wiki1\s+null\s+2\s+0\s+0\s+0/m);
    expect(table.stdout).toContain('1/2 partitions read');
    expect(table.stderr).toContain(
      `partition ${deadPartition} could not be read: cannot connect to Redis at ${deadPartition}`,
    );
    const json = await jobqueue(['-c', twoPartitions, 'status', '--json']);
    expect(json.code).toBe(1);
    const doc = JSON.parse(json.stdout) as { errors: { partition: string }[]; totals: { unclaimed: number } };
    expect(doc.errors.map((e) => e.partition)).toEqual([deadPartition]);
    expect(doc.totals.unclaimed).toBe(2);
  });

  it('reports a wrong password without echoing any password', async () => {
    const wrong = writeConfig('wrong.conf', [redis.address], 'not-the-password');
    const run = await jobqueue(['-c', wrong, 'status']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /cannot connect to Redis at 127\.0\.0\.1:\d+: .*(WRONGPASS|invalid password)/i,
    );
    expect(run.stderr).not.toContain('not-the-password');
  });
});

describe('jobqueue inspect', () => {
  it('decodes jobs of a state, with attempts and timestamps', async () => {
    await mixedFarm();
    const text = await jobqueue([
      '-c',
      conf,
      'inspect',
      '--wiki',
      'wiki1',
      '--type',
      'mwlabFail',
      '--state',
      'abandoned',
    ]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^[0-9a-f]{32} {2}abandoned {2}attempts=1 {2}partition=127\.0\.0\.1:\d+$/m);
    expect(text.stdout).toContain('abandoned at: ');
    expect(text.stdout).toContain('title:    (none)');
    expect(text.stdout).toMatch(/params: {3}\{"seq":[01]\}/);
    const json = JSON.parse(
      (await jobqueue(['-c', conf, 'inspect', '--wiki', 'wiki2', '--type', 'null', '--limit', '2', '--json']))
        .stdout,
    ) as {
      jobs: {
        ok: boolean;
        state: string;
        attempts: number;
        job: { type: string; params: unknown; namespace: number };
      }[];
    };
    expect(json.jobs).toHaveLength(2);
    expect(json.jobs[0]).toMatchObject({
      ok: true,
      state: 'unclaimed',
      attempts: 0,
      job: { type: 'null', namespace: -1, params: { seq: 0 } },
    });
    const none = await jobqueue([
      '-c',
      conf,
      'inspect',
      '--wiki',
      'wiki2',
      '--type',
      'null',
      '--state',
      'claimed',
    ]);
    expect(none.stdout).toBe('No claimed null jobs for wiki2.\n');
  });
});

describe('jobqueue retry-abandoned and delete', () => {
  it('retry-abandoned: dry run, a declined prompt, then --yes moves the jobs back', async () => {
    await mixedFarm();
    const abandoned = () => client.zcard(queueKeys('mwlabFail', 'wiki1')['z-abandoned']);
    const dry = await jobqueue(['-c', conf, 'retry-abandoned', '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/^wiki1\s+mwlabFail\s+127\.0\.0\.1:\d+\s+2$/m);
    expect(dry.stdout).toContain('Dry run: would retry 2 abandoned jobs in 1 queue.');
    expect(await abandoned()).toBe(2);

    const declined = await jobqueue(['-c', conf, 'retry-abandoned', '--wiki', 'wiki1'], 'n\n');
    expect(declined.code).toBe(1);
    expect(declined.stderr).toContain('Retry 2 abandoned jobs in 1 queue? [y/N]');
    expect(declined.stderr).toContain('Aborted; nothing was changed.');
    expect(await abandoned()).toBe(2);

    const done = await jobqueue(['-c', conf, 'retry-abandoned', '--wiki', 'wiki1', '--yes']);
    expect(done).toMatchObject({ code: 0 });
    expect(done.stdout).toContain('Retried 2 abandoned jobs in 1 queue.');
    expect(await abandoned()).toBe(0);
    expect(await farm.showJobs('wiki1', { group: true })).toContain(
      'mwlabFail: 2 queued; 0 claimed (0 active, 0 abandoned)',
    );
    await runAllJobs('wiki1', 'mwlabFail', 2); // MediaWiki pops and runs them again
  });

  it('delete: needs a filter, asks, and deletes whole queues as MediaWiki would', async () => {
    await mixedFarm();
    const unfiltered = await jobqueue(['-c', conf, 'delete', '--yes']);
    expect(unfiltered.code).toBe(2);
    expect(unfiltered.stderr).toContain('delete needs --wiki and/or --type');

    const dry = await jobqueue(['-c', conf, 'delete', '--wiki', 'wiki2', '--dry-run']);
    expect(dry.stdout).toContain('Dry run: would delete 2 queues holding 5 jobs.');
    const declined = await jobqueue(['-c', conf, 'delete', '--wiki', 'wiki2'], '');
    expect(declined.code).toBe(1);
    expect(declined.stderr).toContain('Aborted; nothing was deleted.');
    expect(await farm.showJobs('wiki2', { group: true })).toContain('null: 3 queued');

    const yes = await jobqueue(['-c', conf, 'delete', '--wiki', 'wiki2'], 'yes\n');
    expect(yes.code).toBe(0);
    expect(yes.stdout).toContain('Deleted 2 queues holding 5 jobs.');
    expect(await farm.showJobs('wiki2', { group: true })).not.toMatch(/null:|mwlabFail:/);
    expect(await client.keys('wiki2:*')).toEqual([]);
    const left = JSON.parse((await jobqueue(['-c', conf, 'status', '--json'])).stdout) as {
      queues: { wiki: string }[];
    };
    expect(left.queues.map((q) => q.wiki).sort()).toEqual(['wiki1', 'wiki1']);
  });
});

describe('jobqueue usage', () => {
  it('answers bad command lines and configs with exit code 2 and a clear message', async () => {
    const unknown = await jobqueue(['-c', conf, 'frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/Unknown argument: frobnicate/);
    const missing = await jobqueue(['-c', join(dir, 'nope.conf'), 'status']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(
      `${join(dir, 'nope.conf')}: cannot read the configuration file: it does not exist`,
    );
    const noType = await jobqueue(['-c', conf, 'inspect', '--wiki', 'wiki1']);
    expect(noType.code).toBe(2);
    expect(noType.stderr).toContain('Missing required argument: type');
    const help = await jobqueue(['status', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--by-partition');
  });
});

describe('jobqueue pause / resume', () => {
  it('pauses a queue on every partition, shows it in status (also with no job), and resumes it', async () => {
    await jobqueue(['-c', conf, 'push', '--wiki', 'wiki1', '--type', 'null', '--count', '2']);
    const paused = await jobqueue(['-c', conf, 'pause', '--wiki', 'wiki1', '--type', 'null']);
    expect(paused).toEqual({
      code: 0,
      stdout: 'Paused null on wiki1 (1 partition(s) written)\n',
      stderr: '',
    });
    const table = await jobqueue(['-c', conf, 'status']);
    expect(table.stdout).toMatch(/wiki1\s+null \(paused\)\s+2/);
    const doc = JSON.parse((await jobqueue(['-c', conf, 'status', '--json'])).stdout) as {
      queues: { wiki: string; type: string; paused?: boolean }[];
      paused: { wiki: string; type: string }[];
    };
    expect(doc.queues.find((q) => q.type === 'null')?.paused).toBe(true);
    expect(doc.paused).toEqual([expect.objectContaining({ wiki: 'wiki1', type: 'null' })]);
    // The jobs are untouched.
    expect(await client.llen(queueKeys('null', 'wiki1')['l-unclaimed'])).toBe(2);

    // A partition that cannot be written is named and the exit code says so.
    const partly = await jobqueue(['-c', twoPartitions, 'pause', '--wiki', 'wiki1', '--type', 'other']);
    expect(partly.code).toBe(1);
    expect(partly.stderr).toContain(deadPartition);

    const resumed = await jobqueue(['-c', conf, 'resume', '--wiki', 'wiki1', '--type', 'null']);
    expect(resumed).toMatchObject({ code: 0, stdout: 'Resumed null on wiki1 (1 partition(s) written)\n' });
    const after = JSON.parse((await jobqueue(['-c', conf, 'status', '--json'])).stdout) as {
      paused: unknown[];
    };
    expect(after.paused).toEqual([
      expect.objectContaining({ wiki: 'wiki1', type: 'other' }), // paused above on the live partition
    ]);
  });
});
